//! How MCP reaches the server: stdio (desktop assistants launch the binary) and streamable
//! HTTP (shared services, IDE agents; OAuth for it in [`oauth`]), and when they stop
//! ([`shutdown`]). Transports know nothing about tools.

pub mod http;
pub mod oauth;
pub mod shutdown;
pub mod stdio;
