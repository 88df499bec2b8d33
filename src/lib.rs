//! datasource-mcp: an MCP server that manages data-source and connector connections on BigID,
//! Pentaho Data Catalog, Bigdata.com and DataBrain through typed, validated, safe tools.
//!
//! One table of operations ([`operation`], rows in [`providers`]) drives every surface: the MCP
//! handler ([`server`]) over stdio ([`transport`]), the CLI ([`cli`]) and the schema export
//! ([`schema`]). One dispatcher ([`engine`]) runs any row through the upstream client
//! ([`upstream`]); [`redact`] masks secrets on every output path.

pub mod args;
pub mod bundle;
pub mod cli;
pub mod doctor;
pub mod engine;
pub mod error;
pub mod logging;
pub mod operation;
pub mod prompts;
pub mod providers;
pub mod redact;
pub mod reference;
pub mod sandbox;
pub mod schema;
pub mod secret;
pub mod secret_refs;
pub mod server;
pub mod skill;
pub mod transport;
pub mod upstream;
