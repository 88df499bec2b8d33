//! The MCP handler: lists the enabled rows of the operation table and calls them through the
//! engine; prompts, resources (the generated reference) and completion are built from the same
//! rows. It knows no vendor by name.

// MCP logging is deprecated by SEP-2577 (protocol 2026-07-28) but current in 2025-11-25,
// which most clients still speak.
#![allow(deprecated)]

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use futures_util::future::BoxFuture;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CancelTaskParams,
    CompleteRequestParams, CompleteResult, CompletionInfo, CreateTaskResult, CustomRequest,
    CustomResult, ElicitRequest, ElicitRequestParams, ElicitationAction, ErrorCode,
    GetPromptRequestParams, GetPromptResponse, GetTaskParams, GetTaskResult, Implementation,
    InputRequest, InputRequiredResult, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, LoggingLevel, LoggingMessageNotificationParam,
    PaginatedRequestParams, ProgressNotificationParam, ProgressToken, ProtocolVersion,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Reference, Resource,
    ResourceContents, ResourceTemplate, ServerCapabilities, ServerConfig, SetLevelRequestParams,
    Tool, UpdateTaskParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, Peer, RoleServer, ServerHandler};

use super::tasks::{self, TaskError, TaskSettings, Tasks};
use super::{definition, prompts, reference};
use crate::engine::audit::{Caller, CorrelationId};
use crate::engine::{CallContext, CallOutcome, Engine, ProgressSink};
use crate::intake::{Binding, Intake, Offered, Resumed};
use crate::operation::{OperationSpec, Provider};
use crate::providers;
use crate::serving::in_flight::InFlight;
use crate::store::Store;

/// Resources: the generated reference of the tools this server offers.
const CATALOG_URI: &str = "datasource-mcp://tools";
/// The caller's own vendor credentials (per-user mode): which providers, never a value.
const MY_CREDENTIALS_URI: &str = "datasource-mcp://me/credentials";
const TOOL_URI_PREFIX: &str = "datasource-mcp://tools/";
const STATE_URI: &str = "datasource-mcp://state";

/// The server's instructions: what it manages, how to work safely, then what each enabled
/// provider's guide says.
fn instructions(operations: &[&'static OperationSpec]) -> String {
    let providers = prompts::Tools(operations).providers();
    let titles: Vec<&str> = providers.iter().map(|p| p.spec().title).collect();
    let mut text = format!(
        "Manage data sources and connectors on {}. \
Read first: the ids and names tools take come from list rows. \
Every change: call it with dry_run: true, show the user what it would send, and send it only after \
they say yes. \
Never ask for a password, key or token in the chat: write ${{secret:NAME}} in the credential field; \
the server reads it where the user keeps it, and a dry run says where and asks for nothing. \
If it has no value, the call that makes the change asks: a client that shows URL prompts asks the \
user to type it on a one-time page and the call then completes; otherwise the call answers \
SECRET_NEEDED with that link: give it to the user, then call again. \
Lists answer a page (limit, default 50) of compact rows, name, host and database take `*` wildcards, and a row's \
status says if its connection works or fails (error, remedy); detail: \"full\" or fields gives \
more, next the next page. A test, sync or job answer says the same in connection. wait follows a vendor job to its end (wait_seconds, default 300). \
Many sources at once: inventory_plan_changes, then inventory_apply_plan. \
When no tool does what is asked, or a vendor does not return what is needed, say so instead of \
guessing.",
        english_list(&titles)
    );
    for toolset in prompts::Tools(operations).toolsets() {
        text.push(' ');
        text.push_str(toolset.spec().guide.instructions);
    }
    text
}

/// `a`, `a and b`, `a, b and c`.
fn english_list(items: &[&str]) -> String {
    match items {
        [] => "no configured provider".into(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Which tools the operator allows: toolsets and tools narrow the list; read-only wins over
/// both (a tool named in `tools` that changes something is still left out). Enforced where
/// calls are served, not only in what is listed: a call to a tool left out is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub read_only: bool,
    pub toolsets: Option<Vec<Provider>>,
    pub tools: Option<Vec<&'static str>>,
}

impl Selection {
    /// From the flags' comma-separated lists; an unknown toolset or tool name is an error
    /// (a typo must not silently hide tools).
    pub fn parse(
        read_only: bool,
        toolsets: Option<&str>,
        tools: Option<&str>,
    ) -> Result<Selection, String> {
        let items = |list: &str| -> Vec<String> {
            list.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let toolsets = match toolsets {
            None => None,
            Some(list) => Some(
                items(list)
                    .iter()
                    .map(|id| {
                        Provider::from_id(id).ok_or_else(|| {
                            let known: Vec<&str> = providers::ALL.iter().map(|p| p.id).collect();
                            format!("unknown toolset `{id}` (toolsets: {})", known.join(", "))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let tools = match tools {
            None => None,
            Some(list) => Some(
                items(list)
                    .iter()
                    .map(|name| {
                        providers::operation(name).map(|op| op.name).ok_or_else(|| {
                            format!("unknown tool `{name}` (`datasource-mcp tools` lists them)")
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        Ok(Selection {
            read_only,
            toolsets,
            tools,
        })
    }

    pub fn allows(&self, op: &OperationSpec) -> bool {
        (!self.read_only || op.hints.read_only)
            && self
                .toolsets
                .as_ref()
                .is_none_or(|sets| sets.contains(&op.provider))
            && self
                .tools
                .as_ref()
                .is_none_or(|names| names.contains(&op.name))
    }

    /// What a tool over every platform may call on a caller's behalf: what read-only mode and
    /// the toolsets allow (a `--tools` list naming that tool names the calls it makes).
    pub fn gate(&self) -> crate::engine::ToolGate {
        let read_only = self.read_only;
        let toolsets = self.toolsets.clone();
        Arc::new(move |op: &OperationSpec| {
            (!read_only || op.hints.read_only)
                && toolsets
                    .as_ref()
                    .is_none_or(|sets| sets.contains(&op.provider))
        })
    }
}

/// Which operations this server offers: those of configured providers the selection allows.
pub struct Catalog {
    operations: Vec<&'static OperationSpec>,
    tools: OnceLock<Vec<Tool>>,
}

impl Catalog {
    pub fn new(engine: &Engine, selection: &Selection) -> Self {
        let operations = providers::operations()
            .filter(|op| engine.serves(op.provider) && selection.allows(op))
            .collect();
        Self {
            operations,
            tools: OnceLock::new(),
        }
    }

    pub fn operations(&self) -> &[&'static OperationSpec] {
        &self.operations
    }

    pub fn find(&self, name: &str) -> Option<&'static OperationSpec> {
        self.operations.iter().copied().find(|op| op.name == name)
    }

    /// Tool definitions, built on first use (start-up does no schema work).
    pub fn tools(&self) -> &[Tool] {
        self.tools.get_or_init(|| {
            self.operations
                .iter()
                .map(|op| definition::tool(op))
                .collect()
        })
    }
}

/// The MCP server. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct DataSourceServer {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    /// What the operator allowed (kept to derive a read-only twin).
    selection: Selection,
    catalog: Catalog,
    /// Built once from the enabled providers' guides.
    instructions: String,
    /// The log level a client set (MCP logging), where a session exists to hold it (stdio).
    /// Over stateless HTTP no request can set it for another, so nothing is sent.
    log_level: Option<std::sync::Mutex<Option<LoggingLevel>>>,
    /// Who calls when the transport does not say (stdio: the local client), and the session's
    /// correlation id there.
    session: Option<(Caller, String)>,
    /// Serves callers that hold only the read scope: besides seeing only the tools that
    /// change nothing, they may not send a secret to a host of their choosing.
    read_scope: bool,
    /// Long vendor jobs as MCP tasks, for clients that take them.
    tasks: Option<Arc<Tasks>>,
}

impl DataSourceServer {
    pub fn new(engine: Arc<Engine>, selection: &Selection) -> Self {
        Self::build(engine, selection, false)
    }

    /// A server for one client session (stdio): MCP log messages follow its `setLevel`.
    pub fn for_session(engine: Arc<Engine>, selection: &Selection) -> Self {
        Self::build(engine, selection, true)
    }

    fn build(engine: Arc<Engine>, selection: &Selection, session: bool) -> Self {
        let catalog = Catalog::new(&engine, selection);
        let instructions = instructions(catalog.operations());
        Self {
            inner: Arc::new(Inner {
                engine,
                selection: selection.clone(),
                catalog,
                instructions,
                log_level: session.then(|| std::sync::Mutex::new(None)),
                session: session.then(|| (Caller::Stdio, crate::secret::random_token("stdio-"))),
                read_scope: false,
                tasks: None,
            }),
        }
    }

    /// Serves long vendor jobs as MCP tasks (protocol 2026-07-28, for clients that declare
    /// the extension), kept in `store`.
    pub fn with_tasks(mut self, store: Arc<dyn Store>, settings: TaskSettings) -> Self {
        let tasks = Tasks::new(store, self.inner.engine.clone(), settings);
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.tasks = Some(tasks);
        }
        self
    }

    /// Who calls and the request's correlation id: what the HTTP transport put in the
    /// request's extensions, else the session's (stdio).
    fn who(&self, context: &RequestContext<RoleServer>) -> CallContext {
        let http = context.extensions.get::<axum::http::request::Parts>();
        let caller = http
            .and_then(|p| p.extensions.get::<Caller>().cloned())
            .or_else(|| self.inner.session.as_ref().map(|(c, _)| c.clone()));
        let correlation_id = http
            .and_then(|p| p.extensions.get::<CorrelationId>())
            .map(|c| c.0.clone())
            .or_else(|| self.inner.session.as_ref().map(|(_, id)| id.clone()));
        CallContext {
            caller,
            correlation_id,
            read_scope_only: self.inner.read_scope,
            gate: Some(self.inner.selection.gate()),
            ..CallContext::default()
        }
    }

    /// The tasks a request may use: this server's, when the request itself declares the
    /// extension under protocol 2026-07-28 (the extension is not defined before it, and a
    /// 2025-era client's declaration enables nothing).
    fn tasks_for(&self, context: &RequestContext<RoleServer>) -> Option<&Arc<Tasks>> {
        let modern = context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
        let declared = context
            .client_capabilities()
            .is_some_and(|c| c.supports_tasks());
        self.inner.tasks.as_ref().filter(|_| modern && declared)
    }

    /// The same server (same engine, so same vendor tokens and limits) for callers that hold
    /// only the read scope: it offers only the tools that change nothing (the operator's
    /// selection with read-only on; a changing tool is unknown to it), and its callers may
    /// send only secrets the operator bound to hosts.
    pub fn read_scope(&self) -> Self {
        let selection = Selection {
            read_only: true,
            ..self.inner.selection.clone()
        };
        let mut twin = Self::build(self.inner.engine.clone(), &selection, self.has_session());
        if let Some(inner) = Arc::get_mut(&mut twin.inner) {
            inner.read_scope = true;
            inner.tasks = self.inner.tasks.clone();
        }
        twin
    }

    /// Whether the desired-state tools are offered (then their format is a resource).
    fn offers_state(&self) -> bool {
        ["inventory_plan_changes", "inventory_export_state"]
            .iter()
            .any(|name| self.catalog().find(name).is_some())
    }

    /// Whether this server serves one client session (stdio), which can carry requests to the
    /// client (elicitation) and hold its log level; stateless HTTP cannot.
    fn has_session(&self) -> bool {
        self.inner.session.is_some()
    }

    /// Tells the client about a failed call at `error` level, if it asked for logs.
    async fn log_failure(&self, peer: &Peer<RoleServer>, tool: &str, outcome: &CallOutcome) {
        let Some(level) = &self.inner.log_level else {
            return;
        };
        let wanted = *level.lock().unwrap_or_else(|e| e.into_inner());
        if wanted.is_some_and(|w| severity(w) <= severity(LoggingLevel::Error)) {
            let data = serde_json::json!({"tool": tool, "error": outcome.value["error"]});
            let _ = peer
                .notify_logging_message(
                    LoggingMessageNotificationParam::new(LoggingLevel::Error, data)
                        .with_logger("datasource-mcp"),
                )
                .await;
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
    }
}

/// Progress of a long call, as MCP progress notifications for the client's token.
struct McpProgress {
    peer: Peer<RoleServer>,
    token: ProgressToken,
}

impl ProgressSink for McpProgress {
    fn report(&self, progress: f64, total: Option<f64>, message: String) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut param =
                ProgressNotificationParam::new(self.token.clone(), progress).with_message(message);
            if let Some(total) = total {
                param = param.with_total(total);
            }
            // A client that went away cannot be told; the call goes on.
            let _ = self.peer.notify_progress(param).await;
        })
    }
}

/// A task request's failure as its JSON-RPC error: an unknown (or another caller's, or
/// expired) task is invalid params, as the extension says; a store that failed is internal.
fn task_error(e: TaskError) -> McpError {
    match e {
        TaskError::Unknown => {
            McpError::invalid_params("Failed to retrieve task: Task not found", None)
        }
        TaskError::Store(e) => McpError::internal_error(e.to_string(), None),
    }
}

/// `LoggingLevel` has no order of its own.
fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

fn to_result(outcome: CallOutcome) -> CallToolResult {
    if outcome.is_error {
        CallToolResult::structured_error(outcome.value)
    } else {
        CallToolResult::structured(outcome.value)
    }
}

/// Secrets one call may ask for in turn (each reference without a value is one round).
const MAX_SECRET_ROUNDS: usize = 8;

/// What asking for a secret through the protocol came to.
enum Native {
    /// 2026-07-28: answer with this `input_required` result; the client comes back.
    InputRequired(InputRequiredResult),
    /// The user entered the value: call again.
    Entered,
    /// The client cannot be asked, or the user declined: the SECRET_NEEDED error stands.
    No,
    /// 2026-07-28: the `requestState` sent back was given for another call (another tool or
    /// other arguments): refused.
    OtherCall,
}

/// The key of a secret's elicitation among a result's input requests.
fn input_key(name: &str) -> String {
    format!("secret:{name}")
}

/// Asks the client to send the user to the intake page, when it declared URL-mode
/// elicitation: in the 2026-07-28 era with an `input_required` result (its `requestState` an
/// opaque handle known only to this process, used once, for this tool and these arguments
/// only), in the 2025-11-25 era with an `elicitation/create` request, where a session exists
/// to carry it (`session`: stdio).
async fn ask_natively(
    intake: &Arc<Intake>,
    op: &OperationSpec,
    request: &CallToolRequestParams,
    context: &RequestContext<RoleServer>,
    offered: &Offered,
    session: bool,
) -> Native {
    let url_mode = context
        .client_capabilities()
        .and_then(|c| c.elicitation)
        .is_some_and(|e| e.url.is_some());
    if !url_mode {
        return Native::No;
    }
    let modern = context
        .protocol_version()
        .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28);
    let message = offered.message(op.name);
    if modern {
        let args = request.arguments.as_ref();
        // The client's answer to this call's elicitation, or the call coming back to wait
        // again: its requestState is used up here, whatever it comes to.
        let resumed = match request.request_state.as_deref() {
            Some(handle) => Some(intake.take(handle, op.name, args).await),
            None => None,
        };
        match resumed {
            Some(Resumed::OtherCall) => return Native::OtherCall,
            Some(Resumed::Waiting {
                name,
                binding,
                until,
                accepted,
            }) if name == offered.name => {
                let accepted = accepted
                    || request
                        .input_responses
                        .as_ref()
                        .and_then(|r| r.get(&input_key(&name)))
                        .and_then(|answer| answer.get("action"))
                        .is_some_and(|action| action == "accept");
                if !accepted {
                    return Native::No;
                }
                return wait_for_person(intake, op, args, &name, &binding, until, context).await;
            }
            // Unknown, used, expired, or for a secret entered since: asked afresh.
            _ => {}
        }
        let Ok(handle) = intake
            .handle(
                op.name,
                args,
                &offered.name,
                &offered.binding,
                offered.expires,
                false,
            )
            .await
        else {
            return Native::No;
        };
        let elicitation = ElicitRequest::new(ElicitRequestParams::UrlElicitationParams {
            meta: None,
            message,
            url: offered.url.clone(),
            elicitation_id: offered.elicitation_id.clone(),
        });
        let requests = [(
            input_key(&offered.name),
            InputRequest::Elicitation(elicitation),
        )];
        return Native::InputRequired(InputRequiredResult::new(
            Some(requests.into_iter().collect()),
            Some(handle),
        ));
    }
    if !session {
        return Native::No;
    }
    let Ok(url) = url::Url::parse(&offered.url) else {
        return Native::No;
    };
    let remaining = offered
        .expires
        .saturating_duration_since(std::time::Instant::now());
    let asked = context.peer.elicit_url_with_timeout(
        message,
        url,
        offered.elicitation_id.clone(),
        Some(remaining),
    );
    let action = tokio::select! {
        a = asked => a,
        _ = context.ct.cancelled() => return Native::No,
    };
    match action {
        Ok(ElicitationAction::Accept) => {
            match intake
                .wait(
                    &offered.name,
                    &offered.binding,
                    offered.expires,
                    &context.ct,
                )
                .await
            {
                true => Native::Entered,
                false => Native::No,
            }
        }
        Ok(_) => Native::No,
        Err(e) => {
            tracing::info!("URL elicitation not answered: {e}");
            Native::No
        }
    }
}

/// A 2026-era call waiting for the person to enter `name`: a slice at a time (so a waiting call
/// ends, and the client comes back), without its HTTP request slot meanwhile (so calls
/// waiting for people cannot take every slot). The value entered and a slot taken again: go
/// on. Otherwise, while the link lives: `input_required` with only a fresh requestState (the
/// user is not asked again), and the client calls again.
async fn wait_for_person(
    intake: &Arc<Intake>,
    op: &OperationSpec,
    args: Option<&serde_json::Map<String, serde_json::Value>>,
    name: &str,
    binding: &Binding,
    until: Instant,
    context: &RequestContext<RoleServer>,
) -> Native {
    let place = context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|p| p.extensions.get::<InFlight>())
        .cloned();
    if let Some(place) = &place {
        place.release();
    }
    let slice = until.min(Instant::now() + intake.settings().wait_slice);
    let entered = intake.wait(name, binding, slice, &context.ct).await;
    if context.ct.is_cancelled() {
        return Native::No;
    }
    let placed = match &place {
        Some(place) => place.reacquire().await,
        None => true,
    };
    if entered && placed {
        return Native::Entered;
    }
    if !entered && Instant::now() >= until {
        return Native::No;
    }
    match intake
        .handle(op.name, args, name, binding, until, true)
        .await
    {
        Ok(handle) => Native::InputRequired(InputRequiredResult::new(None, Some(handle))),
        Err(_) => Native::No,
    }
}

impl ServerHandler for DataSourceServer {
    fn get_info(&self) -> ServerConfig {
        let builder = ServerCapabilities::builder()
            .enable_tools()
            .enable_prompts()
            .enable_resources()
            .enable_completions()
            .enable_logging();
        let capabilities = match self.inner.tasks {
            Some(_) => builder.enable_tasks().build(),
            None => builder.build(),
        };
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(
                "datasource-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(self.inner.instructions.clone())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(
            self.catalog().tools().to_vec(),
        ))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let who = self.who(&context);
        let Some(op) = self.catalog().find(&request.name) else {
            let known = providers::operation(&request.name);
            let code = match known {
                Some(op) if self.engine().serves(op.provider) => "NOT_ALLOWED",
                Some(_) => "NOT_CONFIGURED",
                None => "UNKNOWN_TOOL",
            };
            self.engine()
                .refused(&request.name, known.is_some(), code, &who);
            let shown: String = request.name.chars().take(64).collect();
            return Err(McpError::invalid_params(
                format!("unknown tool: {}", crate::redact::sanitize_text(&shown)),
                None,
            ));
        };
        let progress = context.meta.get_progress_token().map(|token| {
            Arc::new(McpProgress {
                peer: context.peer.clone(),
                token,
            }) as Arc<dyn ProgressSink>
        });
        // A long vendor job, for a client that takes tasks: a task at once, which any server
        // process answers tasks/get for.
        if let Some(tasks) = self.tasks_for(&context)
            && tasks::eligible(op)
        {
            return match tasks.create(op, request.arguments.clone(), who).await {
                Ok(task) => Ok(CallToolResponse::Task(CreateTaskResult::new(task))),
                Err(e) => Err(task_error(e)),
            };
        }
        let cx = CallContext {
            cancel: context.ct.clone(),
            progress,
            ..who
        };
        let mut outcome = self.engine().call(op, request.arguments.clone(), &cx).await;
        // A secret the user can enter on the intake page: a client that takes URL-mode
        // elicitation is sent there natively; every other gets the SECRET_NEEDED error.
        let mut rounds = 0;
        while let (Some(offered), Some(intake)) = (&outcome.secret_needed, self.engine().intake())
            && rounds < MAX_SECRET_ROUNDS
        {
            rounds += 1;
            match ask_natively(intake, op, &request, &context, offered, self.has_session()).await {
                Native::InputRequired(result) => return Ok(result.into()),
                Native::Entered => {
                    outcome = self.engine().call(op, request.arguments.clone(), &cx).await;
                }
                Native::No => break,
                Native::OtherCall => {
                    return Err(McpError::invalid_params(
                        "the requestState was given for another call (another tool or other arguments): call again without it",
                        None,
                    ));
                }
            }
        }
        if outcome.is_error {
            self.log_failure(&context.peer, op.name, &outcome).await;
        }
        Ok(to_result(outcome).into())
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        let tasks = self
            .tasks_for(&context)
            .ok_or_else(|| task_error(TaskError::Unknown))?;
        let task = tasks.get(&request.task_id, &self.who(&context)).await;
        task.map(GetTaskResult::new).map_err(task_error)
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        // No task here asks its client for input: every response is for no outstanding
        // request, which the extension says to ignore; the task must still be the caller's.
        let tasks = self
            .tasks_for(&context)
            .ok_or_else(|| task_error(TaskError::Unknown))?;
        tasks
            .get(&request.task_id, &self.who(&context))
            .await
            .map(|_| ())
            .map_err(task_error)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let tasks = self
            .tasks_for(&context)
            .ok_or_else(|| task_error(TaskError::Unknown))?;
        tasks
            .cancel(&request.task_id, &self.who(&context))
            .await
            .map_err(task_error)
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let tools = prompts::Tools(self.catalog().operations());
        Ok(ListPromptsResult::with_all_items(prompts::list(&tools)))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let tools = prompts::Tools(self.catalog().operations());
        let args = request.arguments.unwrap_or_default();
        prompts::get(&tools, &request.name, &args)
            .map(Into::into)
            .map_err(|e| McpError::invalid_params(e, None))
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let tools = prompts::Tools(self.catalog().operations());
        let values = match &request.r#ref {
            Reference::Prompt(p) => prompts::complete(
                &tools,
                &p.name,
                &request.argument.name,
                &request.argument.value,
            ),
            _ => None,
        }
        .ok_or_else(|| McpError::invalid_params("nothing to complete for that reference", None))?;
        let info = CompletionInfo::with_all_values(values)
            .map_err(|e| McpError::internal_error(e, None))?;
        Ok(CompleteResult::new(info))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let mut resources = vec![
            Resource::new(CATALOG_URI, "tools")
                .with_title("Tool catalog")
                .with_description("Every tool this server offers, by provider")
                .with_mime_type("text/markdown"),
        ];
        if self.offers_state() {
            resources.push(
                Resource::new(STATE_URI, "state")
                    .with_title("Desired-state file format")
                    .with_description(
                        "The file inventory_plan_changes reads and inventory_export_state writes",
                    )
                    .with_mime_type("text/markdown"),
            );
        }
        if self.engine().per_user().is_some() {
            resources.push(
                Resource::new(MY_CREDENTIALS_URI, "my-credentials")
                    .with_title("Your own vendor credentials")
                    .with_description(
                        "Per provider, whether you gave your own credential, with a link for a person to give or remove it (never a value)",
                    )
                    .with_mime_type("application/json"),
            );
        }
        for op in self.catalog().operations() {
            resources.push(
                Resource::new(format!("{TOOL_URI_PREFIX}{}", op.name), op.name)
                    .with_title(op.title)
                    .with_description(format!(
                        "Reference for {}: arguments and an example",
                        op.name
                    ))
                    .with_mime_type("text/markdown"),
            );
        }
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new(format!("{TOOL_URI_PREFIX}{{name}}"), "tool-reference")
                .with_title("Tool reference")
                .with_description("The reference of one tool, by name"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri;
        let ops = self.catalog().operations();
        if uri == MY_CREDENTIALS_URI && self.engine().per_user().is_some() {
            let mine = self
                .engine()
                .my_credentials(&self.who(&context))
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "per-user credentials could not be listed");
                    McpError::internal_error("the shared store could not be read", None)
                })?;
            let text = mine.to_string();
            return Ok(ReadResourceResult::new(vec![ResourceContents::text(text, uri)]).into());
        }
        let text = if uri == CATALOG_URI {
            Some(reference::catalog_markdown(ops))
        } else if uri == STATE_URI && self.offers_state() {
            Some(reference::state_markdown())
        } else {
            uri.strip_prefix(TOOL_URI_PREFIX)
                .and_then(|name| self.catalog().find(name))
                .map(reference::tool_markdown)
        };
        match text {
            Some(text) => {
                Ok(ReadResourceResult::new(vec![ResourceContents::text(text, uri)]).into())
            }
            None => Err(McpError::resource_not_found(
                "no such resource",
                Some(serde_json::json!({ "uri": uri })),
            )),
        }
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if let Some(level) = &self.inner.log_level {
            *level.lock().unwrap_or_else(|e| e.into_inner()) = Some(request.level);
        }
        Ok(())
    }

    /// rmcp hands over a request whose params do not fit its method as a custom request; a
    /// known method with malformed params is invalid params (-32602), not an unknown method.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        // Not `initialize` or `ping`: on the 2026 path those are removed methods (-32601).
        const KNOWN: &[&str] = &["tools/call", "tools/list", "prompts/get", "prompts/list"];
        let shown: String = request.method.chars().take(64).collect();
        if KNOWN.contains(&request.method.as_str()) {
            return Err(McpError::invalid_params(
                format!("malformed params for {shown}"),
                None,
            ));
        }
        Err(McpError::new(ErrorCode::METHOD_NOT_FOUND, shown, None))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        let op = self.catalog().find(name)?;
        self.catalog()
            .tools()
            .iter()
            .find(|t| t.name == op.name)
            .cloned()
    }
}
