//! How MCP reaches the server: stdio (desktop assistants launch the binary) and, later,
//! streamable HTTP. Transports know nothing about tools.

pub mod stdio;
