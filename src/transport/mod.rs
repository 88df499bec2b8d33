//! How MCP reaches the server: stdio (desktop assistants launch the binary) and streamable
//! HTTP (shared services, IDE agents), and when they stop ([`shutdown`]). Transports know
//! nothing about tools.

pub mod connections;
pub mod http;
pub mod shutdown;
pub mod stdio;
