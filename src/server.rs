//! The MCP handler: lists the enabled rows of the operation table and calls them through the
//! engine. It knows no vendor by name.

use std::sync::{Arc, OnceLock};

use futures_util::future::BoxFuture;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CustomRequest, CustomResult,
    ErrorCode, Implementation, ListToolsResult, PaginatedRequestParams, ProgressNotificationParam,
    ProgressToken, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, Peer, RoleServer, ServerHandler};

use crate::engine::{CallContext, CallOutcome, Engine, ProgressSink};
use crate::operation::{self, OperationSpec};
use crate::providers::Provider;
use crate::schema;

const INSTRUCTIONS: &str = "Manage data-source and connector connections on BigID, Pentaho Data Catalog, \
Bigdata.com and DataBrain. Read before you write: list or get, fetch the connector template, test the \
connection, then create. Tools that change something accept dry_run: true to show the request first.";

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
                            let known: Vec<&str> =
                                crate::providers::ALL.iter().map(|p| p.id).collect();
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
                        operation::find(name).map(|op| op.name).ok_or_else(|| {
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
}

/// Which operations this server offers: those of configured providers the selection allows.
pub struct Catalog {
    operations: Vec<&'static OperationSpec>,
    tools: OnceLock<Vec<Tool>>,
}

impl Catalog {
    pub fn new(engine: &Engine, selection: &Selection) -> Self {
        let operations = operation::all()
            .filter(|op| engine.provider(op.provider).is_some() && selection.allows(op))
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
        self.tools
            .get_or_init(|| self.operations.iter().map(|op| schema::tool(op)).collect())
    }
}

/// The MCP server. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct DataSourceServer {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    catalog: Catalog,
}

impl DataSourceServer {
    pub fn new(engine: Arc<Engine>, selection: &Selection) -> Self {
        let catalog = Catalog::new(&engine, selection);
        Self {
            inner: Arc::new(Inner { engine, catalog }),
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

fn to_result(outcome: CallOutcome) -> CallToolResult {
    if outcome.is_error {
        CallToolResult::structured_error(outcome.value)
    } else {
        CallToolResult::structured(outcome.value)
    }
}

impl ServerHandler for DataSourceServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "datasource-mcp",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(INSTRUCTIONS)
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
        let Some(op) = self.catalog().find(&request.name) else {
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
        let cx = CallContext {
            cancel: context.ct.clone(),
            progress,
        };
        let outcome = self.engine().call(op, request.arguments, &cx).await;
        Ok(to_result(outcome).into())
    }

    /// rmcp hands over a request whose params do not fit its method as a custom request; a
    /// known method with malformed params is invalid params (-32602), not an unknown method.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, McpError> {
        const KNOWN: &[&str] = &[
            "tools/call",
            "tools/list",
            "initialize",
            "ping",
            "prompts/get",
            "prompts/list",
        ];
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
