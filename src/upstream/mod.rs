//! Everything between a described request and a vendor's answer: the HTTP client
//! ([`client`]) and what it answers ([`response`]), the one description of a request that dry runs print and the client sends
//! ([`request`]), retries ([`retry`]), credentials and tokens ([`auth`]), and the
//! authenticated send per provider with its 401 re-authentication ([`provider`]), and the
//! wire trace for bug reports ([`trace`]).

pub mod acting;
pub mod auth;
pub mod client;
pub mod provider;
pub mod request;
pub mod response;
pub mod retry;
pub mod trace;

pub use auth::{AuthError, Authenticator};
pub use client::{Upstream, UpstreamSettings};
pub use provider::{ProviderClient, UpstreamError};
pub use request::{OutgoingRequest, USER_AGENT};
pub use response::{HttpResponse, ResponseBody, TransportError};
pub use retry::RetryPolicy;
pub use trace::Trace;
