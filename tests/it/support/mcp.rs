//! MCP clients of the server in-process (over `tokio::io::duplex`), and calling tools.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::Value;

use datasource_mcp::engine::{Engine, EngineSettings};
use datasource_mcp::providers;
use datasource_mcp::surfaces::server::{DataSourceServer, Selection};
use datasource_mcp::upstream::UpstreamSettings;

use super::env;

/// A connected in-process MCP client for a server configured from `vars`.
pub type Client = RunningService<RoleClient, ()>;

pub async fn client_with(vars: &HashMap<String, String>, settings: UpstreamSettings) -> Client {
    client_selected(vars, settings, &Selection::default()).await
}

/// A client for a server whose tools are narrowed by `selection`.
pub async fn client_selected(
    vars: &HashMap<String, String>,
    settings: impl Into<EngineSettings>,
    selection: &Selection,
) -> Client {
    let configs = providers::configure_all(vars).expect("valid configuration");
    let engine = Arc::new(Engine::new(configs, settings, Arc::new(vars.clone())));
    let server = DataSourceServer::new(engine, selection);
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.expect("client connects")
}

pub async fn client(vars: &[(&str, &str)]) -> Client {
    client_with(&env(vars), UpstreamSettings::default()).await
}

/// Calls a tool and returns (structuredContent, isError). Also checks the text block carries
/// the same JSON, as the contract says.
pub async fn call(client: &Client, name: &str, args: Value) -> (Value, bool) {
    let result = call_raw(client, name, args)
        .await
        .expect("tools/call answered");
    let structured = result
        .structured_content
        .clone()
        .expect("structuredContent");
    let text = result.content[0]
        .as_text()
        .expect("a text block")
        .text
        .clone();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        structured,
        "text block mirrors structuredContent"
    );
    (structured, result.is_error == Some(true))
}

pub async fn call_raw(
    client: &Client,
    name: &str,
    args: Value,
) -> Result<CallToolResult, rmcp::ServiceError> {
    let mut params = CallToolRequestParams::new(name.to_string());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    client.call_tool(params).await
}

/// An MCP client that records the progress notifications it receives.
#[derive(Clone, Default)]
pub struct ProgressClient {
    pub seen: Arc<Mutex<Vec<rmcp::model::ProgressNotificationParam>>>,
}

impl rmcp::ClientHandler for ProgressClient {
    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.seen.lock().unwrap().push(params);
    }
}

/// A progress-recording client for a server configured from `vars`.
pub async fn progress_client(
    vars: &HashMap<String, String>,
    settings: UpstreamSettings,
) -> (RunningService<RoleClient, ProgressClient>, ProgressClient) {
    let configs = providers::configure_all(vars).expect("valid configuration");
    let engine = Arc::new(Engine::new(configs, settings, Arc::new(vars.clone())));
    let server = DataSourceServer::new(engine, &Selection::default());
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let handler = ProgressClient::default();
    let client = handler
        .clone()
        .serve(client_io)
        .await
        .expect("client connects");
    (client, handler)
}

/// Upstream settings for tests: quick retries, polls and heartbeats.
pub fn fast_settings() -> UpstreamSettings {
    UpstreamSettings {
        retry: datasource_mcp::upstream::RetryPolicy {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            ..Default::default()
        },
        poll_interval: Duration::from_millis(10),
        heartbeat: Duration::from_millis(40),
        ..UpstreamSettings::default()
    }
}

/// Calls `tool` with `args` and asserts an INVALID_ARGUMENT error naming `field`, whose message
/// starts with `` `field`: reason``.
pub async fn assert_invalid(
    client: &Client,
    provider: &str,
    tool: &str,
    args: Value,
    field: &str,
    reason: &str,
) {
    let (result, is_error) = call(client, tool, args.clone()).await;
    assert!(is_error, "{tool} {args} should fail");
    let error = &result["error"];
    assert_eq!(error["code"], "INVALID_ARGUMENT", "{tool} {args}: {result}");
    assert_eq!(error["field"], field, "{tool} {args}: {result}");
    assert_eq!(error["provider"], provider);
    assert!(error.get("status").is_none());
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("`{field}`: {reason}")),
        "{tool} {args}: {message}"
    );
}

/// A server on 127.0.0.1:<ephemeral> over streamable HTTP, stopped when dropped.
pub struct RunningHttp {
    pub addr: std::net::SocketAddr,
    /// `http://127.0.0.1:<port>`
    pub base: String,
    /// The URL of `/mcp`.
    pub url: String,
    stop: tokio_util::sync::CancellationToken,
}

impl Drop for RunningHttp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Serves `server` over HTTP with `opts` in this process, once it listens.
pub async fn serve_http(
    server: datasource_mcp::surfaces::server::DataSourceServer,
    opts: datasource_mcp::transport::http::HttpOptions,
) -> RunningHttp {
    // The rmcp HTTP client builds a reqwest client, which needs the crypto provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let stop = tokio_util::sync::CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let shutdown = stop.clone().cancelled_owned();
    tokio::spawn(async move {
        let _ = datasource_mcp::transport::http::serve(
            server,
            opts,
            move |addr| {
                let _ = tx.send(addr);
            },
            shutdown,
        )
        .await;
    });
    let addr = rx.await.unwrap();
    RunningHttp {
        addr,
        base: format!("http://{addr}"),
        url: format!("http://{addr}/mcp"),
        stop,
    }
}
