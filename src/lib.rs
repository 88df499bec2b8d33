//! datasource-mcp: an MCP server that manages data-source and connector connections on BigID,
//! Pentaho Data Catalog, Bigdata.com and DataBrain through typed, validated, safe tools.
//!
//! One table of operations drives every surface. Modules are layers; each uses only the ones
//! listed before it (a test checks it):
//!
//! 1. [`secret`], [`request`], [`redact`], [`logging`], [`metrics`], [`serving`]: secrets as
//!    types, what a request is made of, masking, stderr logs, the Prometheus registry, HTTP
//!    listeners with bounds (the accept loop every listener of the process shares), [`store`]
//!    (what outlives a request: memory, or Redis shared by replicas), [`keychain`] (the OS
//!    keychain: credentials stored by `login`, values remembered from the intake page) and
//!    [`mounted`] (secrets mounted as files: `NAME_FILE`, the secrets directory).
//! 2. [`args`], [`schema`]: argument parsing and validation; schemas from types.
//! 3. [`operation`], [`spec`]: the row type and the provider id; what a provider is, as data.
//! 4. [`providers`]: the registry, one file of facts per vendor.
//! 5. [`sandbox`] (simulated vendors), [`upstream`] (HTTP client, auth, the one request
//!    description dry runs print and sends use) and [`intake`] (the one-time page where a user
//!    enters a secret the model must not see).
//! 6. [`error`]: error kinds and the envelope.
//! 7. [`engine`]: the flows that run a row.
//! 8. [`surfaces`]: the MCP server, long vendor jobs as MCP tasks, `call`, `doctor`, the skill,
//!    the bundle, prompts, generated files.
//! 9. [`transport`]: stdio and streamable HTTP.
//! 10. [`cli`]: the command line that wires them together.

pub mod args;
pub mod cli;
pub mod engine;
pub mod error;
pub mod intake;
pub mod keychain;
pub mod logging;
pub mod metrics;
pub mod mounted;
pub mod operation;
pub mod providers;
pub mod redact;
pub mod request;
pub mod sandbox;
pub mod schema;
pub mod secret;
pub mod serving;
pub mod spec;
pub mod store;
pub mod surfaces;
pub mod transport;
pub mod upstream;
