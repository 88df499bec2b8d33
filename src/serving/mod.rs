//! Serving HTTP with bounds, for every listener of the process: the streamable HTTP transport
//! and the secret intake page's own loopback listener (stdio, `call`). Below both, so each uses
//! the same accept loop and checks.
//!
//! - [`connections`]: the accept loop (header-read timeout, a connection cap that closes the
//!   oldest unprotected connection first, graceful stop) and which requests are protected.
//! - [`body`]: reading a request body whole, bounded in size and time.
//! - [`origins`]: the Host and Origin allow-lists, for every path (DNS rebinding, requests
//!   from other sites' pages).
//! - [`in_flight`]: a request's place among those served at once, which a handler waiting
//!   for a person gives back meanwhile.

pub mod body;
pub mod connections;
pub mod in_flight;
pub mod origins;
