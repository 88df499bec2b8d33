//! Test harness: the recording fake upstream (`fake`), a test OAuth issuer and its keys
//! (`issuer`), a real Secret Service on a bus of its own (`keyring`), in-process MCP clients (`mcp`), the built binary over stdio (`stdio`), raw TCP
//! for the slow-client tests (`raw`), vendors against the fake and their exact requests
//! (`wire`), list pages and the result budget's cut of them (`listing`), the sandbox's
//! simulated vendors over HTTP (`sandbox`), tool counts and lists from the operation table
//! (`table`), and a pseudo-terminal for a child that prompts (`terminal`).

use std::collections::HashMap;

mod browser;
mod fake;
mod faulty;
mod intake;
mod issuer;
mod keyring;
mod listing;
mod mcp;
mod raw;
mod redis;
mod sandbox;
mod stdio;
mod table;
mod terminal;
mod wire;

pub use browser::*;
pub use fake::*;
pub use faulty::*;
pub use intake::*;
pub use issuer::*;
pub use keyring::*;
pub use listing::*;
pub use mcp::*;
pub use raw::*;
pub use redis::*;
pub use sandbox::*;
pub use stdio::*;
pub use table::*;
pub use terminal::*;
pub use wire::*;

/// A sentinel credential: must never appear in any output.
pub const SENTINEL: &str = "S3NT1NEL-7f3a9c";

/// A plain HTTP client for talking to fakes and the sandbox directly.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// An environment map from pairs.
pub fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
