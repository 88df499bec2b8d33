//! Serving HTTP with bounds, for every listener of the process: the streamable HTTP transport
//! and the secret intake page's own loopback listener (stdio, `call`). Below both, so each uses
//! the same accept loop.
//!
//! - [`connections`]: the accept loop (header-read timeout, a connection cap that closes slow
//!   connections first, graceful stop).

pub mod connections;
