//! Accepting and serving HTTP/1 connections with the bounds `axum::serve` does not offer.
//!
//! - **Header-read timeout**: a connection that has not sent a request's complete headers within
//!   it is closed (also an idle kept-alive one: hyper restarts the timer for each request).
//! - **Connection cap**: at most `max_connections` are open. A new connection past the cap makes
//!   room by closing the oldest connection that is waiting for a request's headers (what a
//!   slowloris connection does for ever); if every open connection is busy with a request, the
//!   new one is closed at once. File descriptors stay bounded, and a probe or a real client is
//!   still served while an attacker holds partial requests open.
//! - **Graceful stop**: stop accepting, close connections that are between requests, let the
//!   requests in progress finish.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

/// How long a connection may take to send headers, and how many may be open.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

/// One open connection as the registry sees it.
struct Slot {
    /// Requests whose headers arrived and whose response is not yet fully written.
    busy: Arc<AtomicUsize>,
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
    /// Tells the oldest connection waiting for headers to close, if there is one.
    fn evict_oldest_idle(&mut self) -> bool {
        let idle = self
            .slots
            .iter()
            .find(|(_, s)| s.busy.load(Ordering::SeqCst) == 0)
            .map(|(&id, _)| id);
        match idle.and_then(|id| self.slots.remove(&id)) {
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
    /// Admitted after closing the oldest connection still waiting for headers.
    Evicted(Ticket),
    /// Every open connection is busy: refused.
    Refused,
}

/// A connection's place in the registry, given up when its task ends.
struct Ticket {
    id: u64,
    busy: Arc<AtomicUsize>,
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
                if !o.evict_oldest_idle() {
                    return;
                }
                evicted = true;
            }
            let id = o.next_id;
            o.next_id += 1;
            let slot = Slot {
                busy: Arc::new(AtomicUsize::new(0)),
                close: CancellationToken::new(),
            };
            ticket = Some(Ticket {
                id,
                busy: slot.busy.clone(),
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

    /// Closes the oldest connection waiting for headers, if any (to free a descriptor).
    fn evict_one(&self) -> bool {
        self.open.send_if_modified(Open::evict_oldest_idle)
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
            .header_read_timeout(self.limits.header_timeout);
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
                    // Most likely out of descriptors (EMFILE): free one if a connection is only
                    // holding a partial request, else wait for some to close.
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
                        "{} connections open: closing the oldest ones still sending headers",
                        self.limits.max_connections
                    ));
                    t
                }
                Admission::Refused => {
                    warn(format!(
                        "{} connections open, all busy: refusing new ones",
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

    /// After `stop`: closes the connections waiting for headers (hyper's graceful shutdown
    /// would leave a silent new one open until its header timeout), then waits for the rest to
    /// finish their requests and close.
    pub async fn drain(&self) {
        self.open.send_modify(|o| while o.evict_oldest_idle() {});
        let mut open = self.open.subscribe();
        let _ = open
            .wait_for(|o| o.slots.is_empty() && o.closing == 0)
            .await;
    }
}

/// Serves one connection: the app behind a service that marks the connection busy from the
/// moment a request's headers are complete until its response is fully written.
async fn serve_one(
    http: hyper::server::conn::http1::Builder,
    tcp: TcpStream,
    app: Router,
    ticket: Ticket,
    stop: CancellationToken,
) {
    // Answers go out whole at once: no 40 ms Nagle stalls on kept-alive connections.
    let _ = tcp.set_nodelay(true);
    let busy = ticket.busy.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let guard = Busy::enter(busy.clone());
        let mut app = app.clone();
        async move {
            let response = app.call(request).await?;
            Ok::<_, Infallible>(response.map(|body| Tracked { body, _busy: guard }))
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

/// Counts one request in progress on its connection while alive.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Busy(count)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that keeps its connection marked busy until hyper has written (and
/// dropped) it.
struct Tracked {
    body: Body,
    _busy: Busy,
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
