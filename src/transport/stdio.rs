//! MCP over stdin/stdout. stdout carries JSON-RPC only; everything else goes to stderr.

use rmcp::ServiceExt;

use crate::server::DataSourceServer;

/// Serves until the client closes stdin (or SIGINT/SIGTERM).
pub async fn serve(server: DataSourceServer) -> anyhow::Result<()> {
    let transport = rmcp::transport::stdio_pipes();
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
        crate::cli::shutdown_signal().await;
        ct.cancel();
    });
    let reason = running.waiting().await?;
    tracing::debug!(?reason, "stdio session ended");
    Ok(())
}
