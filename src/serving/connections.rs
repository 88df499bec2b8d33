//! Accepting and serving HTTP/1 connections with the bounds `axum::serve` does not offer.
//!
//! - **Header-read timeout**: a connection that has not sent a request's complete headers within
//!   it is closed (also an idle kept-alive one: hyper restarts the timer for each request).
//! - **Header size**: a connection buffers at most [`MAX_HEADER_BYTES`] of a request's head
//!   (past it, 431): with hyper's default (~400 KiB), the cap's worth of partial requests held
//!   ~210 MiB.
//! - **Connection cap**: at most `max_connections` are open. A new connection past the cap makes
//!   room by closing the oldest connection that is not protected: one waiting for a request's
//!   headers, or serving a request that is neither authenticated nor complete (a body still
//!   arriving from someone unknown): what a slowloris does for ever. A request is protected
//!   once its body has fully arrived or the app marks it authenticated ([`Protection`]); if
//!   every open connection serves a protected request, the new one is closed at once. File
//!   descriptors stay bounded, and a probe or a real client is still served while an attacker
//!   holds partial requests open.
//! - **Graceful stop**: stop accepting, close the connections that are not protected, let the
//!   protected requests finish.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

/// Largest request head (request line and headers) read; larger ones get 431.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// How long a connection may take to send headers, and how many may be open.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// One open connection as the registry sees it.
struct Slot {
    /// Its requests in progress that are protected; none: the connection may be closed to
    /// make room.
    protected: Arc<AtomicUsize>,
    /// Cancelled to close the connection at once.
    close: CancellationToken,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    /// By id, so the first is the oldest.
    slots: BTreeMap<u64, Slot>,
    /// Connections told to close whose task has not yet dropped the socket.
    closing: usize,
}

impl Open {
    /// Tells the oldest connection without a protected request to close, if there is one.
    fn evict_oldest_unprotected(&mut self) -> bool {
        let unprotected = self
            .slots
            .iter()
            .find(|(_, s)| s.protected.load(Ordering::SeqCst) == 0)
            .map(|(&id, _)| id);
        match unprotected.and_then(|id| self.slots.remove(&id)) {
            Some(slot) => {
                slot.close.cancel();
                self.closing += 1;
                true
            }
            None => false,
        }
    }
}

/// The open connections; cheap to clone.
#[derive(Clone)]
pub struct Connections {
    limits: Limits,
    open: Arc<watch::Sender<Open>>,
}

/// What admitting a connection did.
enum Admission {
    Admitted(Ticket),
    /// Admitted after closing the oldest unprotected connection.
    Evicted(Ticket),
    /// Every open connection serves a protected request: refused.
    Refused,
}

/// A connection's place in the registry, given up when its task ends.
struct Ticket {
    id: u64,
    protected: Arc<AtomicUsize>,
    close: CancellationToken,
    open: Arc<watch::Sender<Open>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let id = self.id;
        self.open.send_modify(|o| {
            if o.slots.remove(&id).is_none() {
                // It was told to close; its socket is gone now.
                o.closing -= 1;
            }
        });
    }
}

impl Connections {
    pub fn new(limits: Limits) -> Self {
        Connections {
            limits: Limits {
                max_connections: limits.max_connections.max(1),
                ..limits
            },
            open: Arc::new(watch::Sender::new(Open::default())),
        }
    }

    /// How many connections are open.
    pub(crate) fn len(&self) -> usize {
        self.open.borrow().slots.len()
    }

    fn admit(&self) -> Admission {
        let max = self.limits.max_connections;
        let mut evicted = false;
        let mut ticket = None;
        self.open.send_modify(|o| {
            if o.slots.len() >= max {
                if !o.evict_oldest_unprotected() {
                    return;
                }
                evicted = true;
            }
            let id = o.next_id;
            o.next_id += 1;
            let slot = Slot {
                protected: Arc::new(AtomicUsize::new(0)),
                close: CancellationToken::new(),
            };
            ticket = Some(Ticket {
                id,
                protected: slot.protected.clone(),
                close: slot.close.clone(),
                open: self.open.clone(),
            });
            o.slots.insert(id, slot);
        });
        match (ticket, evicted) {
            (Some(t), false) => Admission::Admitted(t),
            (Some(t), true) => Admission::Evicted(t),
            (None, _) => Admission::Refused,
        }
    }

    /// Closes the oldest unprotected connection, if any (to free a descriptor).
    fn evict_one(&self) -> bool {
        self.open.send_if_modified(Open::evict_oldest_unprotected)
    }

    /// Waits until every connection told to close has dropped its socket, so that open
    /// descriptors never exceed the cap by more than the one just accepted.
    async fn closed(&self) {
        let mut open = self.open.subscribe();
        let _ = open.wait_for(|o| o.closing == 0).await;
    }

    /// Accepts and serves connections until `stop`; the listener is closed when this returns
    /// (or is dropped). Connections already open start a graceful shutdown on `stop`.
    pub async fn accept(&self, listener: TcpListener, app: Router, stop: CancellationToken) {
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout)
            .max_buf_size(MAX_HEADER_BYTES);
        let mut last_warning: Option<Instant> = None;
        let mut warn = |message: String| {
            // Under attack this would print for every connection: once every 10 s is enough.
            if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                tracing::warn!("{message}");
                last_warning = Some(Instant::now());
            }
        };
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                _ = stop.cancelled() => return,
            };
            let tcp = match accepted {
                Ok((tcp, _peer)) => tcp,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    warn(format!("accepting a connection failed: {e}"));
                    // Most likely out of descriptors (EMFILE): free one if a connection is not
                    // protected, else wait for some to close.
                    let freed = async {
                        match self.evict_one() {
                            true => self.closed().await,
                            false => tokio::time::sleep(Duration::from_millis(50)).await,
                        }
                    };
                    tokio::select! {
                        _ = freed => continue,
                        _ = stop.cancelled() => return,
                    }
                }
            };
            let ticket = match self.admit() {
                Admission::Admitted(t) => t,
                Admission::Evicted(t) => {
                    warn(format!(
                        "{} connections open: closing the oldest unprotected ones (waiting for headers, or an unauthenticated body still arriving)",
                        self.limits.max_connections
                    ));
                    t
                }
                Admission::Refused => {
                    warn(format!(
                        "{} connections open, all serving authenticated or complete requests: refusing new ones",
                        self.limits.max_connections
                    ));
                    drop(tcp);
                    continue;
                }
            };
            tokio::spawn(serve_one(
                http.clone(),
                tcp,
                app.clone(),
                ticket,
                stop.clone(),
            ));
            tokio::select! {
                _ = self.closed() => {}
                _ = stop.cancelled() => return,
            }
        }
    }

    /// After `stop`: closes the unprotected connections (hyper's graceful shutdown would leave
    /// a silent new one open until its header timeout), then waits for the rest to finish their
    /// requests and close.
    pub async fn drain(&self) {
        self.open
            .send_modify(|o| while o.evict_oldest_unprotected() {});
        let mut open = self.open.subscribe();
        let _ = open
            .wait_for(|o| o.slots.is_empty() && o.closing == 0)
            .await;
    }
}

/// Serves one connection: the app behind a service that gives each request a [`Protection`]
/// (in its extensions, and set when its body has fully arrived), kept until its response is
/// fully written.
async fn serve_one(
    http: hyper::server::conn::http1::Builder,
    tcp: TcpStream,
    app: Router,
    ticket: Ticket,
    stop: CancellationToken,
) {
    // Answers go out whole at once: no 40 ms Nagle stalls on kept-alive connections.
    let _ = tcp.set_nodelay(true);
    let protected = ticket.protected.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let protection = Protection::new(protected.clone());
        let mut request = request.map(|body| {
            if body.is_end_stream() {
                protection.protect();
            }
            Body::new(Watched {
                body,
                protection: protection.clone(),
            })
        });
        request.extensions_mut().insert(protection.clone());
        let mut app = app.clone();
        async move {
            let response = app.call(request).await?;
            let done = Finished(protection);
            Ok::<_, Infallible>(response.map(|body| Tracked { body, _done: done }))
        }
    });
    let conn = http.serve_connection(TokioIo::new(tcp), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => return log_end(result),
        _ = ticket.close.cancelled() => return,
        _ = stop.cancelled() => conn.as_mut().graceful_shutdown(),
    }
    tokio::select! {
        result = conn => log_end(result),
        _ = ticket.close.cancelled() => {}
    }
}

fn log_end(result: Result<(), hyper::Error>) {
    match result {
        Err(e) if e.is_timeout() => {
            tracing::debug!("closed a connection that sent no complete headers in time")
        }
        Err(e) => tracing::debug!("connection ended: {e}"),
        Ok(()) => {}
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Marks one request protected: its connection is then never closed to make room. The
/// accept loop sets it when the request's body has fully arrived; an app sets it once the
/// caller is authenticated (it finds this in the request's extensions). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Protection(Arc<Mark>);

#[derive(Debug)]
struct Mark {
    /// UNPROTECTED, PROTECTED, or FINISHED (the response is written: marking is too late).
    state: AtomicU8,
    /// The connection's count of protected requests.
    protected: Arc<AtomicUsize>,
}

const UNPROTECTED: u8 = 0;
const PROTECTED: u8 = 1;
const FINISHED: u8 = 2;

impl Protection {
    fn new(protected: Arc<AtomicUsize>) -> Self {
        Protection(Arc::new(Mark {
            state: AtomicU8::new(UNPROTECTED),
            protected,
        }))
    }

    /// Protects the request until its response is written (once; later calls do nothing).
    pub fn protect(&self) {
        let mark = &self.0;
        if mark
            .state
            .compare_exchange(UNPROTECTED, PROTECTED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            mark.protected.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Ends a request's protection when dropped (with its response body).
struct Finished(Protection);

impl Drop for Finished {
    fn drop(&mut self) {
        let mark = &self.0.0;
        if mark.state.swap(FINISHED, Ordering::SeqCst) == PROTECTED {
            mark.protected.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A request body that protects its request once it has fully arrived.
struct Watched {
    body: Incoming,
    protection: Protection,
}

impl hyper::body::Body for Watched {
    type Data = axum::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let frame = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(frame, Poll::Ready(None)) || self.body.is_end_stream() {
            self.protection.protect();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A response body that keeps its request's protection until hyper has written (and dropped)
/// it.
struct Tracked {
    body: Body,
    _done: Finished,
}

impl hyper::body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
