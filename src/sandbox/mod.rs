//! The sandbox: simulated vendor APIs over real HTTP on loopback, so every tool can be tried
//! (and tested) without a vendor account.
//!
//! Each simulated vendor lives in its own file and is mounted under a path prefix of one
//! listener. The MCP server reaches it only through the environment map [`Sandbox::env`]
//! returns: the same configuration, auth and upstream code a real vendor gets. Every vendor is
//! built from one shell (`shell.rs`): state in memory behind one lock (concurrent requests are
//! safe), the vendor's credential check as a layer in front of its endpoints, and one start-up.
//! State starts from the same seed every time.
//!
//! Optionally (`users.rs`), named users hold keys of their own at the vendors whose credential
//! is one static key, and every request those vendors answer is recorded with whose key it
//! carried.

pub mod bigdata;
pub mod bigid;
pub mod databrain;
pub mod pdc;
mod shell;
pub mod users;

// Used outside the sandbox: the seeded id shapes (tests).
pub use shell::{Simulation, seeded_object_id, seeded_uuid};

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::Router;
use axum::http::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::operation::Provider;
use shell::fault;
use users::{Record, Users};

/// A simulated vendor: where it is mounted and how it starts.
pub struct SimulatedVendor {
    pub provider: Provider,
    /// Path prefix on the sandbox listener where the simulation's routes are mounted.
    pub prefix: &'static str,
    /// Where, under `prefix`, the provider's base URL points: PDC's API lives under
    /// `/api/public/v1` while its Keycloak token endpoint is beside it, under the same root.
    pub api: &'static str,
    /// Fresh routes (generated credentials, each user's own where the vendor's credential is
    /// one static key; the sample sources, or none).
    pub start: fn(Seed, &Users) -> Simulation,
}

/// What a simulated vendor holds when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Seed {
    /// The sample sources (the same every start).
    #[default]
    Sample,
    /// No source: a new tenant (to try an import, or where an export is applied).
    Empty,
}

/// Every simulated vendor.
pub static VENDORS: &[SimulatedVendor] = &[
    SimulatedVendor {
        provider: Provider::BigId,
        prefix: "/bigid/api/v1",
        api: "",
        start: bigid::start,
    },
    SimulatedVendor {
        provider: Provider::Pdc,
        prefix: "/pdc",
        api: "/api/public/v1",
        start: pdc::start,
    },
    SimulatedVendor {
        provider: Provider::Bigdata,
        prefix: "/bigdata",
        api: "",
        start: bigdata::start,
    },
    SimulatedVendor {
        provider: Provider::DataBrain,
        prefix: "/databrain",
        api: "",
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
    /// Each user's own credential, accepted like the service's:
    /// `SANDBOX_USER_<NAME>_<the service credential's variable>` (none without users).
    pub users: Vec<(String, String)>,
}

/// How a sandbox starts.
#[derive(Clone, Default)]
pub struct Options {
    pub seed: Seed,
    /// Users with credentials of their own (where the vendor's credential is one static key).
    pub users: Users,
    /// Where every request to those vendors is recorded, with whose credential it carried.
    pub record: Option<Record>,
}

/// A running sandbox. Dropping it stops the listener.
pub struct Sandbox {
    pub addr: SocketAddr,
    pub vendors: Vec<VendorAccess>,
    shutdown: CancellationToken,
}

impl Sandbox {
    /// Binds `addr` (port 0 for an ephemeral port) and serves every simulated vendor, each
    /// holding its sample sources.
    pub async fn start(addr: SocketAddr) -> std::io::Result<Sandbox> {
        Self::start_with(addr, Seed::Sample).await
    }

    /// The same, holding what `seed` says.
    pub async fn start_with(addr: SocketAddr, seed: Seed) -> std::io::Result<Sandbox> {
        Self::start_options(
            addr,
            Options {
                seed,
                ..Options::default()
            },
        )
        .await
    }

    /// The same, as `options` say.
    pub async fn start_options(addr: SocketAddr, options: Options) -> std::io::Result<Sandbox> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let mut app = Router::new();
        let mut vendors = Vec::new();
        for vendor in VENDORS {
            let simulation = (vendor.start)(options.seed, &options.users);
            let mut router = simulation.router;
            let mut users = Vec::new();
            if let Some(check) = simulation.keys {
                users = check.keys.user_env(check.var);
                if let Some(record) = &options.record {
                    router = record.wrap(router, vendor.provider.id(), check);
                }
            }
            app = app.nest(vendor.prefix, router);
            let base_url = format!("http://{addr}{}{}", vendor.prefix, vendor.api);
            let mut env = vec![(vendor.provider.spec().base_url_var, base_url.clone())];
            env.extend(simulation.env);
            vendors.push(VendorAccess {
                provider: vendor.provider,
                base_url,
                env,
                alternatives: simulation.alternatives,
                users,
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
