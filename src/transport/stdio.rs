//! MCP over stdin/stdout. stdout carries JSON-RPC only; everything else goes to stderr.

use rmcp::ServiceExt;
use rmcp::transport::async_rw::AsyncRwTransport;

use crate::surfaces::server::DataSourceServer;

/// Serves until the client closes stdin (or SIGINT/SIGTERM). A line longer than
/// `max_line_bytes` is dropped (and logged) without being buffered whole; the session goes on.
pub async fn serve(server: DataSourceServer, max_line_bytes: usize) -> anyhow::Result<()> {
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    let transport =
        AsyncRwTransport::new_server(stdin, stdout).with_max_line_length(max_line_bytes);
    let running = match server.serve(transport).await {
        Ok(running) => running,
        // The client went away before initializing: nothing to serve.
        Err(e) => {
            tracing::info!("stdio session ended before initialization: {e}");
            return Ok(());
        }
    };
    let ct = running.cancellation_token();
    tokio::spawn(async move {
        super::shutdown::signal().await;
        ct.cancel();
    });
    let reason = running.waiting().await?;
    tracing::debug!(?reason, "stdio session ended");
    Ok(())
}
