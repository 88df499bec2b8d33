//! The one dispatcher: runs any row of the operation table for any surface.
//!
//! ```text
//! arguments → dry run: validated with the references as written, and the plan returned (where
//!     each reference's value will come from; nothing resolved, asked for or sent)
//!   → `${secret:NAME}` references resolved → the row's type (validated, field named)
//!   → URL from the row's path template (percent-encoded) + query + body
//!   → provider credential attached (token cached; obtained again once on 401)
//!   → upstream client (timeouts, size cap, bounded concurrency, retries only for reads)
//!   → a write whose answer was lost is looked up, never re-sent
//!   → result object (arrays as {"items": [...]}) or error envelope, secrets masked,
//!     hidden characters stripped
//! ```

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

pub mod audit;
pub mod budget;
pub mod credentials;
mod flows;
mod inventory;
pub mod listing;
mod outcome;
mod plan;
pub mod secret_refs;
pub mod state;

use crate::error::ToolError;
use crate::intake::{About, Intake, Offered};
use crate::metrics::Metrics;
use crate::operation::{ListArgs, OperationSpec, Provider};
use crate::providers::ProviderConfig;
use crate::redact::{self, CallSecrets};
use crate::spec::Env;
use crate::store::Store;
use crate::upstream::{ProviderClient, Upstream, UpstreamSettings};
use audit::{AuditLog, Caller, Trail};
use secret_refs::{Destination, SecretRefs};

/// The engine's limits: the vendor requests' and the result budget.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub upstream: UpstreamSettings,
    /// Largest result, in bytes of compact JSON, sent to a client (`--max-result-bytes`).
    pub max_result_bytes: usize,
    /// Where changes and refusals are recorded (`--audit-log`), if anywhere.
    pub audit: Option<Arc<AuditLog>>,
}

impl From<UpstreamSettings> for EngineSettings {
    fn from(upstream: UpstreamSettings) -> Self {
        Self {
            upstream,
            max_result_bytes: budget::DEFAULT_MAX_RESULT_BYTES,
            audit: None,
        }
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        UpstreamSettings::default().into()
    }
}

/// A result before the budget: a list page carries its list arguments and the call as made,
/// so a page the budget cuts short can point to what it left out.
struct Shaped {
    value: Value,
    page: Option<(ListArgs, Value)>,
}

impl Shaped {
    fn whole(value: Value) -> Shaped {
        Shaped { value, page: None }
    }
}

/// How to get what a truncated result left out.
const REST_HINT: &str = "ask for less: a smaller page (limit/skip or page) or a narrower filter, or raise DATASOURCE_MCP_MAX_RESULT_BYTES";

/// Where progress of a long call goes (MCP progress notifications, the CLI's stderr).
pub trait ProgressSink: Send + Sync {
    /// `progress` increases with every report.
    fn report(&self, progress: f64, total: Option<f64>, message: String) -> BoxFuture<'_, ()>;
}

/// How a call's long work is watched: progress reports, and who is told the id of a job it
/// starts (a task keeps it, to follow the job from any process).
#[derive(Clone, Copy, Default)]
pub(crate) struct Watch<'a> {
    pub(crate) progress: Option<&'a dyn ProgressSink>,
    pub(crate) started: Option<&'a (dyn Fn(&str) + Send + Sync)>,
}

/// A call run as an MCP task: it waits for the end of the work it starts (up to the task's
/// life, whatever its arguments say), and tells who keeps the task the id of the job it
/// started, so any process can follow that job to its end.
#[derive(Clone)]
pub struct TaskMode {
    pub wait: Duration,
    pub started: Arc<dyn Fn(&str) + Send + Sync>,
}

/// What a surface passes along with a call.
#[derive(Clone, Default)]
pub struct CallContext {
    /// Fires when the client cancels; the upstream request is dropped.
    pub cancel: CancellationToken,
    /// Set when the client asked for progress.
    pub progress: Option<Arc<dyn ProgressSink>>,
    /// Who calls, as the transport authenticated them (the audit log's `caller`).
    pub caller: Option<Caller>,
    /// The request's correlation id (the HTTP transport's, also in its log lines).
    pub correlation_id: Option<String>,
    /// The caller holds only the read scope (OAuth): it may not send a secret to a host of
    /// its choosing.
    pub read_scope_only: bool,
    /// Run as an MCP task.
    pub task: Option<TaskMode>,
    /// Which tools a tool over every platform may call on this caller's behalf (an apply's
    /// changes, a batch test's probes): the surface's selection (read-only, toolsets). None:
    /// every tool.
    pub gate: Option<ToolGate>,
}

/// Which operations a call made on a caller's behalf may use.
pub type ToolGate = Arc<dyn Fn(&OperationSpec) -> bool + Send + Sync>;

impl CallContext {
    /// The context of a call made for this one (one change of an apply, one test of a batch):
    /// same caller, cancel and gate; its own progress and no task.
    pub fn nested(&self) -> CallContext {
        CallContext {
            cancel: self.cancel.clone(),
            caller: self.caller.clone(),
            correlation_id: self.correlation_id.clone(),
            read_scope_only: self.read_scope_only,
            gate: self.gate.clone(),
            ..CallContext::default()
        }
    }

    /// Whether a call made on this caller's behalf may use `op`.
    pub fn may_use(&self, op: &OperationSpec) -> bool {
        self.gate.as_ref().is_none_or(|gate| gate(op))
    }
}

/// The result of a call: a JSON object either way; `is_error` tells which envelope it is.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    pub value: Value,
    pub is_error: bool,
    /// Set when the call stopped for a secret the user can enter on the intake page (the
    /// envelope is then `SECRET_NEEDED`): a surface may ask for it its own way and call again.
    pub secret_needed: Option<Offered>,
}

/// Serves calls for the configured providers.
pub struct Engine {
    upstream: Upstream,
    providers: Vec<ProviderClient>,
    refs: SecretRefs,
    /// Each row's declared output schema, generated once: results are checked against it.
    output_schemas: HashMap<&'static str, Map<String, Value>>,
    /// Largest result, in bytes of compact JSON, sent to a client.
    max_result_bytes: usize,
    /// Rows whose second request form the vendor accepted: it is sent from then on.
    learned: std::sync::Mutex<std::collections::HashSet<&'static str>>,
    /// Where the user enters a secret that has no value, when the intake is on.
    intake: Option<Arc<Intake>>,
    audit: Option<Arc<AuditLog>>,
    metrics: Arc<Metrics>,
    /// What outlives a call (plans): memory, or the store replicas share.
    store: Arc<dyn Store>,
    /// Per-user vendor credentials, when the operator turned them on.
    per_user: Option<Arc<credentials::PerUser>>,
    /// Where per-user credentials are built from (the provider settings that are not
    /// credentials).
    env: Arc<dyn Env + Send + Sync>,
}

impl Engine {
    /// `env` is where `${secret:NAME}` references are read from.
    pub fn new(
        configs: Vec<ProviderConfig>,
        settings: impl Into<EngineSettings>,
        env: Arc<dyn Env + Send + Sync>,
    ) -> Self {
        let settings = settings.into();
        let providers: Vec<ProviderClient> = configs.into_iter().map(ProviderClient::new).collect();
        let output_schemas = providers
            .iter()
            .flat_map(|p| p.spec.operations)
            .filter_map(|op| op.output.schema.map(|schema| (op.name, schema())))
            .collect();
        let metrics = settings.upstream.metrics.clone();
        Self {
            upstream: Upstream::new(settings.upstream),
            audit: settings.audit,
            metrics,
            providers,
            refs: SecretRefs::new(env.clone()),
            env,
            per_user: None,
            output_schemas,
            max_result_bytes: settings.max_result_bytes,
            learned: Default::default(),
            intake: None,
            store: Arc::new(crate::store::MemoryStore::default()),
        }
    }

    /// Offers the intake page for references that have no value, in calls that send
    /// credentials; its entered values resolve references.
    pub fn with_intake(mut self, intake: Arc<Intake>) -> Self {
        self.refs = self.refs.with_intake(intake.clone());
        self.intake = Some(intake);
        self
    }

    /// `${secret:NAME}` references also read files named NAME in `dir` (after the environment).
    pub fn with_secrets_dir(mut self, dir: crate::mounted::SecretsDir) -> Self {
        self.refs = self.refs.with_dir(dir);
        self
    }

    /// `${secret:NAME}` references also read values remembered in `keychain` (after the
    /// environment and the secrets directory, before values entered on the intake page).
    pub fn with_keychain(mut self, keychain: Arc<crate::keychain::Keychain>) -> Self {
        self.refs = self.refs.with_keychain(keychain);
        self
    }

    /// Keeps plans in `store` (the one replicas share, with `--store`).
    pub fn with_store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = store;
        self
    }

    /// Each OAuth subject's calls act with their own vendor credential ([`credentials`]).
    pub fn with_per_user(mut self, per_user: Arc<credentials::PerUser>) -> Self {
        for p in &mut self.providers {
            p.per_user = true;
        }
        self.per_user = Some(per_user);
        self
    }

    pub fn per_user(&self) -> Option<&Arc<credentials::PerUser>> {
        self.per_user.as_ref()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn intake(&self) -> Option<&Arc<Intake>> {
        self.intake.as_ref()
    }

    /// Where changes and refusals are recorded, if anywhere.
    pub fn audit(&self) -> Option<&Arc<AuditLog>> {
        self.audit.as_ref()
    }

    pub fn providers(&self) -> &[ProviderClient] {
        &self.providers
    }

    pub fn provider(&self, provider: Provider) -> Option<&ProviderClient> {
        self.providers.iter().find(|p| p.spec.provider == provider)
    }

    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// The registry this engine's calls and vendor requests are counted in.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A call refused before it reached a tool (`code`: e.g. the tool is not offered): counted,
    /// and recorded in the audit log. `tool` is a row's name or `(unknown)` in the metrics.
    pub fn refused(&self, tool: &str, known: bool, code: &str, cx: &CallContext) {
        self.metrics
            .call(if known { tool } else { "(unknown)" }, code);
        if let Some(log) = &self.audit {
            let shown: String = tool.chars().take(64).collect();
            log.record(&audit::Entry {
                caller: cx.caller.as_ref(),
                tool: &shown,
                target: Value::Object(Map::new()),
                dry_run: false,
                outcome: code,
                vendor_status: None,
                took: Duration::ZERO,
                correlation_id: cx.correlation_id.as_deref(),
                secrets: Value::Null,
                credential: None,
            });
        }
    }

    /// Which credential acts in a call of `op` for this caller, when per-user mode is on; a
    /// caller without their own is refused here when the operator says so, with a link to the
    /// page where they give it. A value they entered there since is kept for them first.
    pub(super) async fn acting(
        &self,
        op: &'static OperationSpec,
        cx: &CallContext,
    ) -> Result<Option<Arc<credentials::Acting>>, ToolError> {
        let Some(per_user) = &self.per_user else {
            return Ok(None);
        };
        let providers: Vec<Provider> = match self.provider(op.provider) {
            Some(p) => vec![p.spec.provider],
            None => self.providers.iter().map(|p| p.spec.provider).collect(),
        };
        let subject = match &cx.caller {
            Some(Caller::Subject(s)) => s.as_str(),
            _ => return Ok(Some(Arc::new(credentials::service(&providers)))),
        };
        // Tokens without a subject cannot be told apart: none has a credential of its own,
        // and none is offered the page (what one gave would act for all).
        let subject = (subject != audit::NO_SUBJECT).then_some(subject);
        if let (Some(intake), Some(subject)) = (&self.intake, subject) {
            for &p in &providers {
                let spec = p.spec();
                let Some(variable) = credentials::personal_variable(spec) else {
                    continue;
                };
                let binding = personal_binding(subject, spec);
                if let Some(value) = intake.value(variable, &binding).await {
                    per_user
                        .put(subject, p, &value)
                        .await
                        .map_err(ToolError::Store)?;
                    intake.forget(variable, &binding).await;
                }
            }
        }
        let writes = op.mutates();
        let (acting, missing) = per_user
            .acting(subject, &providers, writes, self.env.as_ref())
            .await
            .map_err(ToolError::Store)?;
        let Some(&first) = missing.first() else {
            return Ok(Some(Arc::new(acting)));
        };
        // Across platforms (the inventory), a caller with a credential for some goes on with
        // those: each other platform answers that no credential of theirs acts there.
        if self.provider(op.provider).is_none() && missing.len() < providers.len() {
            return Ok(Some(Arc::new(acting)));
        }
        let spec = first.spec();
        let variable = credentials::personal_variable(spec).unwrap_or("its credential");
        let url = match (&self.intake, subject) {
            (Some(intake), Some(subject)) => {
                let about =
                    personal_about(op.name, spec, subject, crate::intake::Purpose::Personal);
                intake.offer(about).await.ok().map(|o| o.url)
            }
            _ => None,
        };
        Err(ToolError::CredentialNeeded {
            provider: spec.title,
            variable,
            write_only: per_user.without == credentials::WithoutOwn::ReadOnly,
            url,
        })
    }

    /// The caller's own credentials (per-user mode), for the resource `datasource-mcp://me/credentials`:
    /// per configured provider, whether they gave one, and a link to the page where they give
    /// one or remove theirs (never a value; a caller who is not a signed-in user gets no link).
    pub async fn my_credentials(&self, cx: &CallContext) -> Result<Value, ToolError> {
        let Some(per_user) = &self.per_user else {
            return Ok(Value::Null);
        };
        let subject = match &cx.caller {
            Some(Caller::Subject(s)) if s != audit::NO_SUBJECT => Some(s.as_str()),
            _ => None,
        };
        let own = match subject {
            Some(s) => per_user.list(s).await.map_err(ToolError::Store)?,
            None => Vec::new(),
        };
        let mut rows = Vec::new();
        for provider in &self.providers {
            let spec = provider.spec;
            let has = own.contains(&spec.id);
            let mut row = serde_json::json!({"provider": spec.id, "own": has});
            if let (Some(intake), Some(subject)) = (&self.intake, subject) {
                let purpose = match has {
                    true => crate::intake::Purpose::Forget,
                    false => crate::intake::Purpose::Personal,
                };
                let about = personal_about(MY_CREDENTIALS, spec, subject, purpose);
                let key = if has { "remove" } else { "give" };
                row[key] = match intake.offer(about).await {
                    Ok(offered) => Value::String(offered.url),
                    Err(e) => Value::String(format!("no link now: {e}")),
                };
            }
            rows.push(row);
        }
        Ok(serde_json::json!({
            "credentials": rows,
            "without_own": match per_user.without {
                credentials::WithoutOwn::Refuse => "refused",
                credentials::WithoutOwn::Fallback => "service credential",
                credentials::WithoutOwn::ReadOnly => "service credential, reads only",
            },
            "how": "a person opens a give link to enter their own credential, or a remove link to remove theirs (each works once); the assistant never sees a value",
        }))
    }

    /// Whether this engine serves `provider`'s tools: a vendor when it is configured, the
    /// inventory when any vendor is.
    pub fn serves(&self, provider: Provider) -> bool {
        provider.served_by(self.providers.iter().map(|p| p.spec.provider))
    }

    /// Runs one call of `op`. Every failure, a panic included, is an error envelope.
    pub async fn call(
        &self,
        op: &'static OperationSpec,
        args: Option<Map<String, Value>>,
        cx: &CallContext,
    ) -> CallOutcome {
        let started = Instant::now();
        let mut secrets = CallSecrets::default();
        let mut trail = Trail::new(op, args.as_ref(), self.audit.is_some());
        // A create missing its name gets one proposed (kept only for a create's arguments).
        let create_args = crate::providers::state(op.provider)
            .filter(|s| s.create.0 == op.name)
            .and(args.clone());
        // A by-name call that finds nothing names the closest existing names.
        let asked_name = args
            .as_ref()
            .and_then(|a| a.get("name"))
            .and_then(Value::as_str)
            .filter(|_| op.listing.is_none())
            .map(str::to_string);
        let args = Value::Object(args.unwrap_or_default());
        let result = if self.serves(op.provider) {
            // Boxed: the call's state machine is several kB, and the runtime and rmcp move
            // the future that holds it; a box is allocated once and never copied.
            let run = AssertUnwindSafe(Box::pin(async {
                let acting = self.acting(op, cx).await?;
                trail.credential = Some(acting.as_ref().map_or("service", |a| a.label()));
                let work = async {
                    match self.provider(op.provider) {
                        Some(provider) => {
                            self.shape(op, provider, args, &mut secrets, &mut trail, cx)
                                .await
                        }
                        None => self.across(op, args, cx).await,
                    }
                };
                let mut shaped = match acting {
                    Some(acting) => credentials::ACTING.scope(acting, work).await?,
                    None => work.await?,
                };
                // Masked before the budget is applied: a mask can be longer than what it
                // hides, and the budget is of what the client receives.
                redact::clean_json(&mut shaped.value, Some(&secrets));
                self.fit(shaped)
            }))
            .catch_unwind();
            tokio::select! {
                biased;
                _ = cx.cancel.cancelled() => Err(ToolError::Cancelled),
                r = run => r.unwrap_or(Err(ToolError::Internal)),
            }
        } else {
            Err(ToolError::Invalid(crate::args::InvalidArgument::new(
                "name",
                format!("{} is not configured", op.provider.spec().title),
            )))
        };
        let outcome = self.conclude(op, result, &secrets, &trail, cx, started);
        if !outcome.is_error || (asked_name.is_none() && create_args.is_none()) {
            return outcome;
        }
        // Boxed: what follows a failed call stays out of every call's future (see future_size).
        Box::pin(self.explained(op, outcome, asked_name, create_args, secrets, cx)).await
    }

    /// A failed call's envelope, with what saves the next call: the closest existing names
    /// when a name found nothing, a proposed name when a create lacks its own.
    async fn explained(
        &self,
        op: &'static OperationSpec,
        mut outcome: CallOutcome,
        asked_name: Option<String>,
        create_args: Option<Map<String, Value>>,
        secrets: CallSecrets,
        cx: &CallContext,
    ) -> CallOutcome {
        if let (Some(name), Some(provider), true) = (
            asked_name,
            self.provider(op.provider),
            outcome.value["error"]["code"] == crate::error::NOT_FOUND,
        ) {
            let closest = self.closest_names(provider, &name, cx).await;
            if !closest.is_empty() {
                let error = &mut outcome.value["error"];
                error["hint"] = Value::String(format!(
                    "no source is named {name:?}; the closest names: {}",
                    closest.join(", ")
                ));
                error["closest"] = serde_json::json!(closest);
                // Masked as the envelope was: the name asked is the caller's own text.
                redact::clean_json(&mut outcome.value, Some(&secrets));
            }
        }
        if let Some(args) = create_args
            && outcome.value["error"]["code"] == "INVALID_ARGUMENT"
            && let Some(field) = outcome.value["error"]["field"].as_str().map(str::to_string)
            && let Some(proposed) = plan::proposed_name(op, &Value::Object(args), &field)
        {
            let error = &mut outcome.value["error"];
            error["hint"] = Value::String(format!(
                "`{field}` is required: propose a name to the user, for example {proposed:?}, and call again; nothing was sent"
            ));
            error["proposed"] = Value::String(proposed);
            redact::clean_json(&mut outcome.value, Some(&secrets));
        }
        outcome
    }

    /// Runs a row for one vendor and shapes its answer (a list: one page of rows); the result
    /// budget is applied after.
    async fn shape(
        &self,
        op: &'static OperationSpec,
        provider: &ProviderClient,
        mut args: Value,
        secrets: &mut CallSecrets,
        trail: &mut Trail,
        cx: &CallContext,
    ) -> Result<Shaped, ToolError> {
        secrets.collect_from(&args);
        // A tool the configured API version does not have: refused, a dry run too.
        if let Some(unsupported) = (provider.spec.unsupported)(&provider.base_url, op.name) {
            return Err(ToolError::Unsupported {
                tool: op.name,
                variable: provider.spec.base_url_var,
                unsupported,
            });
        }
        let dry_run = if op.mutates() {
            take_dry_run(&mut args)?
        } else {
            false
        };
        // A list call: its shared arguments, and the call as made (for the next page's).
        let called_with = args.clone();
        let listing = match op.listing {
            Some(listing) => Some((listing, ListArgs::take(&mut args, listing.paging)?)),
            None => None,
        };
        // A platform's data-source list takes the inventory's `name` pattern.
        let is_source_list = provider
            .spec
            .inventory
            .as_ref()
            .is_some_and(|i| i.tool == op.name);
        let pattern = match is_source_list {
            true => take_name_pattern(&mut args)?,
            false => None,
        };
        if let (Some(pattern), Some((listing, list_args))) = (pattern, &listing) {
            let (listing, list_args) = (*listing, list_args.clone());
            let mut value = self
                .list_by_name(op, provider, &list_args, &pattern, args, &called_with)
                .await?;
            self.complete_page(provider, &listing, &list_args, &mut value)
                .await;
            return Ok(Shaped {
                value,
                page: Some((list_args, called_with)),
            });
        }
        let to = self.destination(provider, &args, cx);
        let credential_keys = provider.spec.credential_keys;
        if dry_run {
            // No secret before the yes: a dry run resolves no reference and asks for nothing.
            // It validates the arguments as written and says where each value will come from.
            let placed = secret_refs::references(&args, credential_keys)?;
            let asks = self.intake.is_some() && op.sends_credentials();
            let origins = self.refs.origins(&placed, &to, asks).await?;
            let mut parts = op.prepare(args.clone())?;
            if let Some(task) = &cx.task
                && op.flow.then_poll.is_some()
            {
                parts.wait = Some(task.wait);
            }
            let mut plan = self.plan(op, provider, &parts, &placed, &origins)?;
            if let Some(state) =
                crate::providers::state(op.provider).filter(|s| s.create.0 == op.name)
            {
                // A create's dry run reads (never changes) to warn of a look-alike and of
                // missing fields: the plan says what it read.
                let read = match state.needs {
                    Some(_) => {
                        "its data sources (look-alikes) and the type's template (fields it needs)"
                    }
                    None => "its data sources (look-alikes)",
                };
                let note = plan["note"]
                    .as_str()
                    .unwrap_or("Nothing was sent.")
                    .replace(
                        "Nothing was sent.",
                        &format!("Nothing was changed. Read from the vendor to check: {read}."),
                    );
                plan["note"] = Value::String(note);
                let like = self.near_duplicates_of(provider, &args, cx).await;
                if !like.is_empty() {
                    plan["warnings"] = Value::Array(like);
                }
                let missing = self.missing_fields(provider, &args).await;
                if !missing.is_empty() {
                    plan["missing"] = Value::Array(missing);
                }
            }
            redact::ready().await;
            secrets.ready().await;
            return Ok(Shaped::whole(plan));
        }
        let resolved = match self
            .refs
            .resolve(&args, credential_keys, secrets, &to)
            .await
        {
            Err(ToolError::UnknownSecret { field, name }) => {
                return Err(self.ask_for_secret(op, &args, &to, field, name).await);
            }
            resolved => resolved?,
        };
        // Every secret of this call is known now: the matchers that mask its output are built
        // off the async workers before anything is sent or shown.
        redact::ready().await;
        secrets.ready().await;
        let mut parts = op.prepare(resolved.args)?;
        // A task waits for the end of the work it starts.
        if let Some(task) = &cx.task
            && op.flow.then_poll.is_some()
        {
            parts.wait = Some(task.wait);
        }
        let hosts: Vec<String> = to.targets().into_iter().collect();
        trail.secrets = resolved
            .used
            .iter()
            .map(|u| {
                serde_json::json!({"name": u.name, "source": u.source.as_str(),
                    "field": u.field, "hosts": hosts})
            })
            .collect();
        tracing::debug!(tool = op.name, "dispatching");
        let watch = Watch {
            progress: cx.progress.as_deref().filter(|_| op.progress),
            started: cx.task.as_ref().map(|t| &*t.started),
        };
        let value = self
            .run(op, provider, parts, secrets, &trail.status, watch)
            .await?;
        // A get whose answer does not hold the resource where the ledger says is not "nothing".
        let holds = op.output.holds;
        if !holds.is_empty()
            && !holds
                .iter()
                .any(|p| value.pointer(p).is_some_and(|v| !v.is_null()))
        {
            return Err(listing::not_understood(holds, &value, "result"));
        }
        // A test's, sync's or job's answer says whether the connection works, beside the
        // vendor's own state, in the same words for every vendor.
        let mut value = value;
        if let Some(checks) = crate::providers::checks(op.provider)
            && checks.answers.contains(&op.name)
            && value.is_object()
        {
            let said = (checks.connection)(&value, false).said();
            value["connection"] = Value::String(said);
        }
        Ok(match listing {
            Some((listing, list_args)) => {
                let mut value = listing::page(&listing, &list_args, value, &called_with)?;
                self.complete_page(provider, &listing, &list_args, &mut value)
                    .await;
                Shaped {
                    value,
                    page: Some((list_args, called_with)),
                }
            }
            None => Shaped::whole(value),
        })
    }

    /// The secret a call of `op` with `args` would stop for, found without sending anything
    /// (a reference without a value: with the intake on, its link is offered now; one whose
    /// file or keychain entry cannot be read), so a batch of calls can ask for every missing
    /// secret before it makes its first change.
    pub(crate) async fn missing_secret(
        &self,
        op: &'static OperationSpec,
        args: &Value,
        cx: &CallContext,
    ) -> Option<ToolError> {
        let provider = self.provider(op.provider)?;
        let to = self.destination(provider, args, cx);
        let mut secrets = CallSecrets::default();
        match self
            .refs
            .resolve(args, provider.spec.credential_keys, &mut secrets, &to)
            .await
        {
            Err(ToolError::UnknownSecret { field, name }) => {
                Some(self.ask_for_secret(op, args, &to, field, name).await)
            }
            Err(unreadable @ ToolError::SecretUnreadable { .. }) => Some(unreadable),
            _ => None,
        }
    }

    /// Who uses this call's secrets and where they would go.
    fn destination(
        &self,
        provider: &ProviderClient,
        args: &Value,
        cx: &CallContext,
    ) -> Destination {
        let vendor_host = url::Url::parse(&provider.base_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_default();
        Destination {
            caller: cx
                .caller
                .as_ref()
                .map_or_else(|| "none".into(), Caller::binding),
            provider: provider.spec.id,
            vendor_host,
            hosts: secret_refs::destination::hosts_in(args),
            chooses_hosts: !cx.read_scope_only,
        }
    }

    /// The error for a reference without a value: a link to the intake page where the user
    /// enters it, when the intake is on and the call sends credentials; otherwise the unknown
    /// reference (whose hint says which variable to set).
    async fn ask_for_secret(
        &self,
        op: &'static OperationSpec,
        args: &Value,
        to: &Destination,
        field: String,
        name: String,
    ) -> ToolError {
        let Some(intake) = self.intake.as_ref().filter(|_| op.sends_credentials()) else {
            return ToolError::UnknownSecret { field, name };
        };
        let about = About {
            name: name.clone(),
            tool: op.name.to_string(),
            provider: op.provider.spec().title.to_string(),
            target: crate::intake::target_name(args),
            binding: to.binding(),
            scope: secret_refs::scope_of(to),
            purpose: crate::intake::Purpose::Reference,
        };
        match intake.offer(about).await {
            Ok(offered) => ToolError::SecretNeeded {
                field,
                offered: Box::new(offered),
            },
            // The store replicas share is down: said as such, not as an unknown secret.
            Err(crate::intake::Unavailable::Store(why)) => {
                ToolError::Store(crate::store::StoreError {
                    where_: "secret intake".into(),
                    why,
                })
            }
            Err(e) => {
                tracing::warn!("no secret intake link: {e}");
                ToolError::UnknownSecret { field, name }
            }
        }
    }

    /// Keeps a result within the budget; a list page cut short points to what it left out.
    fn fit(&self, shaped: Shaped) -> Result<Value, ToolError> {
        let Shaped { mut value, page } = shaped;
        let rest = match page {
            Some(_) => "call again with the arguments in `next`",
            None => REST_HINT,
        };
        // A page cut short gains a `next` after the cut: room is kept for it.
        let reserve = match &page {
            Some((list_args, called_with)) => {
                let next = listing::next_args(called_with, u64::MAX, list_args.limit);
                budget::size_of(&next) + r#","next":"#.len()
            }
            None => 0,
        };
        let cut =
            budget::fit(&mut value, self.max_result_bytes, reserve, rest).map_err(|over| {
                ToolError::ResultTooLarge {
                    size: over.size,
                    budget: over.budget,
                }
            })?;
        // The budget cut the page short: the next page starts after what it kept.
        if let (Some(cut), Some((list_args, called_with))) = (cut, &page)
            && cut.at == "items"
        {
            value["next"] = listing::next_args(
                called_with,
                list_args.skip + cut.kept as u64,
                list_args.limit,
            );
        }
        Ok(value)
    }
}

/// A list's `name` pattern, taken out of its arguments (the row's type never sees it).
/// The resource that lists a caller's own credentials, as the intake page names it.
const MY_CREDENTIALS: &str = "datasource-mcp://me/credentials";

/// What the intake page shows for a caller's own credential of `spec`: given (`Personal`) or
/// removed (`Forget`).
fn personal_about(
    tool: &str,
    spec: &'static crate::spec::ProviderSpec,
    subject: &str,
    purpose: crate::intake::Purpose,
) -> About {
    About {
        name: credentials::personal_variable(spec)
            .unwrap_or("its credential")
            .to_string(),
        tool: tool.to_string(),
        provider: spec.title.to_string(),
        target: None,
        binding: personal_binding(subject, spec),
        scope: crate::keychain::Scope {
            provider: spec.id.into(),
            hosts: Vec::new(),
        },
        purpose,
    }
}

/// Who a credential entered on the intake page is for: this subject, this provider.
fn personal_binding(subject: &str, spec: &crate::spec::ProviderSpec) -> crate::intake::Binding {
    crate::intake::Binding {
        caller: format!("subject:{subject}"),
        provider: spec.id.into(),
        hosts: Vec::new(),
    }
}

fn take_name_pattern(args: &mut Value) -> Result<Option<String>, ToolError> {
    match args.as_object_mut().and_then(|m| m.remove("name")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(p)) if !p.trim().is_empty() && p.chars().count() <= 200 => Ok(Some(p)),
        Some(_) => Err(crate::args::InvalidArgument::new(
            "name",
            "must be a name pattern of 1 to 200 characters (`*` matches any run)",
        )
        .into()),
    }
}

fn take_dry_run(args: &mut Value) -> Result<bool, ToolError> {
    match args.as_object_mut().and_then(|m| m.remove("dry_run")) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(_) => Err(ToolError::Invalid(crate::args::InvalidArgument::new(
            "dry_run",
            "wrong type: expected a boolean",
        ))),
    }
}

/// Shared handle used by the surfaces.
pub type SharedEngine = Arc<Engine>;

#[cfg(test)]
mod future_size {
    /// The runtime and rmcp move a call's future several times per request: the state
    /// machine is boxed inside it, so what moves stays small.
    #[test]
    fn a_call_future_stays_small() {
        let vars: std::collections::HashMap<String, String> = [
            ("BIGID_BASE_URL", "https://b.example"),
            ("BIGID_ACCESS_TOKEN", "t"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let engine = super::Engine::new(
            crate::providers::configure_all(&vars).unwrap(),
            super::EngineSettings::default(),
            std::sync::Arc::new(vars),
        );
        let op = crate::providers::operation("bigid_get_connector_template").unwrap();
        let cx = super::CallContext::default();
        let call = engine.call(op, None, &cx);
        assert!(
            std::mem::size_of_val(&call) <= 512,
            "{} bytes",
            std::mem::size_of_val(&call)
        );
    }
}
