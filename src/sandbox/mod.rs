//! The sandbox: simulated vendor APIs over real HTTP on loopback, so every tool can be tried
//! (and tested) without a vendor account.
//!
//! Each simulated vendor lives in its own file and is mounted under a path prefix of one
//! listener. The MCP server reaches it only through the environment map [`Sandbox::env`]
//! returns: the same configuration, auth and upstream code a real vendor gets. State lives in
//! memory, starts from the same seed every time, and is behind a mutex (concurrent requests
//! are safe).

pub mod bigdata;
pub mod bigid;
pub mod databrain;
pub mod pdc;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::operation::Provider;

/// A simulated vendor: where it is mounted and how it starts.
pub struct SimulatedVendor {
    pub provider: Provider,
    /// Path prefix on the sandbox listener; the provider's base URL ends with it.
    pub prefix: &'static str,
    /// Fresh routes (seed state, generated credentials).
    pub start: fn() -> Simulation,
}

/// A started simulation.
pub struct Simulation {
    pub router: Router,
    /// The credential variables the server uses, besides the base URL.
    pub env: Vec<(&'static str, String)>,
    /// Other credentials the simulation accepts (e.g. a username and password), for people
    /// who script against it.
    pub alternatives: Vec<(&'static str, String)>,
}

/// Every simulated vendor.
pub static VENDORS: &[SimulatedVendor] = &[
    SimulatedVendor {
        provider: Provider::BigId,
        prefix: "/bigid/api/v1",
        start: bigid::start,
    },
    SimulatedVendor {
        provider: Provider::Pdc,
        prefix: "/pdc/api/public/v1",
        start: pdc::start,
    },
    SimulatedVendor {
        provider: Provider::Bigdata,
        prefix: "/bigdata",
        start: bigdata::start,
    },
    SimulatedVendor {
        provider: Provider::DataBrain,
        prefix: "/databrain",
        start: databrain::start,
    },
];

/// How to reach one simulated vendor.
#[derive(Debug, Clone)]
pub struct VendorAccess {
    pub provider: Provider,
    pub base_url: String,
    /// Every variable to set, the base URL first.
    pub env: Vec<(&'static str, String)>,
    /// Other credentials it accepts.
    pub alternatives: Vec<(&'static str, String)>,
}

/// A running sandbox. Dropping it stops the listener.
pub struct Sandbox {
    pub addr: SocketAddr,
    pub vendors: Vec<VendorAccess>,
    shutdown: CancellationToken,
}

impl Sandbox {
    /// Binds `addr` (port 0 for an ephemeral port) and serves every simulated vendor.
    pub async fn start(addr: SocketAddr) -> std::io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let mut app = Router::new();
        let mut vendors = Vec::new();
        for vendor in VENDORS {
            let simulation = (vendor.start)();
            app = app.nest(vendor.prefix, simulation.router);
            let base_url = format!("http://{addr}{}", vendor.prefix);
            let mut env = vec![(vendor.provider.spec().base_url_var, base_url.clone())];
            env.extend(simulation.env);
            vendors.push(VendorAccess {
                provider: vendor.provider,
                base_url,
                env,
                alternatives: simulation.alternatives,
            });
        }
        let app = app.fallback(|| async {
            fault(
                StatusCode::NOT_FOUND,
                json!({"message": "no such endpoint in the sandbox"}),
            )
        });
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        Ok(Sandbox {
            addr,
            vendors,
            shutdown,
        })
    }

    /// The environment that configures every simulated provider against this sandbox.
    pub fn env(&self) -> HashMap<String, String> {
        self.vendors
            .iter()
            .flat_map(|v| v.env.iter().map(|(k, v)| (k.to_string(), v.clone())))
            .collect()
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

// ---- small machinery shared by the simulations ---------------------------------------------

/// A credential the sandbox generates at start: `prefix` + 32 random hex digits.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    // A failure of the OS generator leaves zeros: still a usable (if guessable) local token.
    let _ = getrandom::fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

/// A deterministic UUID-shaped id: the same seed state gives the same ids every start.
pub fn seeded_uuid(namespace: u32, n: u64) -> String {
    format!("{namespace:08x}-5eed-4000-8000-{n:012x}")
}

/// A deterministic 24-hex-digit id (MongoDB style).
pub fn seeded_object_id(namespace: u32, n: u64) -> String {
    format!("{namespace:08x}{n:016x}")
}

/// A vendor's error answer: a status and a JSON body. Handlers return [`Answer`] and use `?`.
#[derive(Debug)]
pub struct Fault {
    pub status: StatusCode,
    pub body: Value,
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// What a simulated endpoint answers.
pub type Answer = Result<Response, Fault>;

pub fn fault(status: StatusCode, body: Value) -> Fault {
    Fault { status, body }
}

/// A JSON response with a status.
pub fn reply(status: StatusCode, body: Value) -> Answer {
    Ok((status, axum::Json(body)).into_response())
}

/// A header's value as text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    header(headers, "authorization").and_then(|v| v.strip_prefix("Bearer "))
}

/// Parses a JSON request body; a vendor-style 400 when it is not JSON.
pub fn json_body(body: &[u8]) -> Result<Value, Fault> {
    serde_json::from_slice(body).map_err(|_| {
        fault(
            StatusCode::BAD_REQUEST,
            json!({"status": 400, "message": "request body is not valid JSON"}),
        )
    })
}

/// The host named in a connection string: `scheme://user:pw@host:port/path` or `host:port`.
pub fn host_of(value: &str) -> &str {
    let rest = value.split_once("://").map_or(value, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split([':', '/', '?', ';']).next().unwrap_or("")
}

/// Whether a value names a host that cannot be reached (RFC 2606 `.invalid`).
pub fn unreachable_host(value: &Value) -> Option<String> {
    let s = value.as_str()?;
    let host = host_of(s).trim_end_matches('.');
    (host.ends_with(".invalid") || host == "invalid").then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_of("mysql.prod.example:3306"), "mysql.prod.example");
        assert_eq!(host_of("jdbc:mysql://u:p@db.invalid:3306/x"), "db.invalid");
        assert_eq!(
            host_of("https://acme.sharepoint.com/sites/x"),
            "acme.sharepoint.com"
        );
        assert_eq!(
            unreachable_host(&json!("db.invalid:3306")),
            Some("db.invalid".to_string())
        );
        assert_eq!(unreachable_host(&json!("db.example:3306")), None);
        assert_eq!(seeded_uuid(1, 2), "00000001-5eed-4000-8000-000000000002");
        assert_ne!(random_token("t-"), random_token("t-"));
    }
}
