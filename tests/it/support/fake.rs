//! The recording fake upstream: a loopback HTTP server that records every request exactly as
//! it arrived and answers from scripted rules (queued, sticky, fallbacks, faults).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    /// Raw (still percent-encoded) path.
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Lowercased header names.
    pub headers: BTreeMap<String, String>,
    /// Raw body text.
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub delay: Option<Duration>,
    /// Read the request, then break the connection instead of answering.
    pub drop_connection: bool,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            body: body.to_string(),
            headers: vec![("content-type".into(), "application/json".into())],
            delay: None,
            drop_connection: false,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Reply {
            status,
            body: body.into(),
            headers: vec![],
            delay: None,
            drop_connection: false,
        }
    }

    /// Reads the whole request, then breaks the connection: the client cannot know whether
    /// the request was acted on.
    pub fn dropped() -> Self {
        Reply {
            drop_connection: true,
            ..Reply::text(200, "")
        }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delayed(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }
}

#[derive(Default)]
struct Rule {
    queue: VecDeque<Reply>,
    sticky: Option<Reply>,
}

#[derive(Default)]
struct State {
    rules: HashMap<(String, String), Rule>,
    /// Answer to a request no rule matches (default: a 404).
    fallback: Option<Reply>,
    /// Like `fallback`, for paths under a prefix (checked first).
    fallback_under: Vec<(String, Reply)>,
    requests: Vec<Recorded>,
    in_flight: usize,
    max_in_flight: usize,
    /// Requests whose client went away before the answer was written.
    abandoned: usize,
}

/// Counts a request in flight; if dropped before `done`, the client went away.
struct InFlight {
    state: Arc<Mutex<State>>,
    done: bool,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.state.lock().unwrap();
        s.in_flight -= 1;
        if !self.done {
            s.abandoned += 1;
        }
    }
}

/// The recording fake upstream.
#[derive(Clone)]
pub struct FakeUpstream {
    pub addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FakeUpstream {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                async move { handle(state, method, uri, headers, body).await }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeUpstream { addr, state }
    }

    /// `http://127.0.0.1:<port><prefix>`.
    pub fn url(&self, prefix: &str) -> String {
        format!("http://{}{prefix}", self.addr)
    }

    /// Answers every `method path` request with `reply` (after any queued replies).
    pub fn on(&self, method: &str, path: &str, reply: Reply) {
        let mut s = self.state.lock().unwrap();
        s.rules
            .entry((method.into(), path.into()))
            .or_default()
            .sticky = Some(reply);
    }

    /// Answers the next `method path` request with `reply`, once.
    pub fn once(&self, method: &str, path: &str, reply: Reply) {
        let mut s = self.state.lock().unwrap();
        s.rules
            .entry((method.into(), path.into()))
            .or_default()
            .queue
            .push_back(reply);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Answers every request no rule matches with `reply`.
    pub fn otherwise(&self, reply: Reply) {
        self.state.lock().unwrap().fallback = Some(reply);
    }

    /// Answers requests under `prefix` that no rule matches with `reply`.
    pub fn otherwise_under(&self, prefix: &str, reply: Reply) {
        let mut s = self.state.lock().unwrap();
        s.fallback_under.retain(|(p, _)| p != prefix);
        s.fallback_under.push((prefix.into(), reply));
    }

    /// How many requests with this method were received.
    pub fn count(&self, method: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.method == method)
            .count()
    }

    /// The most requests that were being answered at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_in_flight
    }

    /// Requests whose client hung up before the answer.
    pub fn abandoned(&self) -> usize {
        self.state.lock().unwrap().abandoned
    }

    pub fn clear(&self) {
        self.state.lock().unwrap().requests.clear();
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or("<binary>").to_string(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let mut guard = {
        let mut s = state.lock().unwrap();
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        InFlight {
            state: state.clone(),
            done: false,
        }
    };
    let reply = {
        let mut s = state.lock().unwrap();
        s.requests.push(recorded.clone());
        let key = (recorded.method.clone(), recorded.path.clone());
        match s.rules.get_mut(&key) {
            Some(rule) => rule.queue.pop_front().or_else(|| rule.sticky.clone()),
            None => None,
        }
        .or_else(|| {
            s.fallback_under
                .iter()
                .find(|(prefix, _)| recorded.path.starts_with(prefix.as_str()))
                .map(|(_, r)| r.clone())
        })
        .or_else(|| s.fallback.clone())
    };
    let reply = reply.unwrap_or_else(|| {
        Reply::json(
            404,
            json!({"message": format!("no rule for {} {}", recorded.method, recorded.path)}),
        )
    });
    if let Some(d) = reply.delay {
        tokio::time::sleep(d).await;
    }
    guard.done = true;
    if reply.drop_connection {
        // A body that fails at once: the connection breaks before an answer is complete.
        let broken = futures_util::stream::once(async {
            Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped by the fake"))
        });
        return Response::builder()
            .status(200)
            .body(Body::from_stream(broken))
            .unwrap();
    }
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (k, v) in &reply.headers {
        response = response.header(k, v);
    }
    response.body(Body::from(reply.body)).unwrap()
}

/// The requests that change something: a dry run may read (a create's looks for look-alikes
/// and the type's template), never anything else.
pub fn changes(requests: &[Recorded]) -> Vec<&Recorded> {
    requests.iter().filter(|r| r.method != "GET").collect()
}
