//! The MCP handler: lists the enabled rows of the operation table and calls them through the
//! engine. It knows no vendor by name.

use std::sync::{Arc, OnceLock};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};

use crate::engine::{CallContext, CallOutcome, Engine};
use crate::operation::{self, OperationSpec};
use crate::schema;

const INSTRUCTIONS: &str = "Manage data-source and connector connections on BigID, Pentaho Data Catalog, \
Bigdata.com and DataBrain. Read before you write: list or get, fetch the connector template, test the \
connection, then create. Tools that change something accept dry_run: true to show the request first.";

/// Which operations this server offers: those of configured providers.
pub struct Catalog {
    operations: Vec<&'static OperationSpec>,
    tools: OnceLock<Vec<Tool>>,
}

impl Catalog {
    pub fn new(engine: &Engine) -> Self {
        let operations = operation::all()
            .filter(|op| engine.provider(op.provider).is_some())
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
    pub fn new(engine: Arc<Engine>) -> Self {
        let catalog = Catalog::new(&engine);
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
        let cx = CallContext {
            cancel: context.ct.clone(),
        };
        let outcome = self.engine().call(op, request.arguments, &cx).await;
        Ok(to_result(outcome).into())
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
