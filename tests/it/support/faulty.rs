//! A proxy in front of a real (sandbox) vendor that breaks chosen requests: a 503 that never
//! reaches the vendor, or a request the vendor acts on whose answer is then lost (the
//! connection breaks). Everything else is forwarded as is, and every request is recorded.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;

/// What happens to a request a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answered 503 here; the vendor never sees it.
    Unavailable,
    /// Forwarded (the vendor acts on it), then the connection breaks before the answer.
    LoseAnswer,
}

struct Rule {
    method: Method,
    /// Matches a path that ends with this.
    path_suffix: String,
    /// Matching requests let through before the fault.
    pass: usize,
    /// Faults left to inject.
    times: usize,
    fault: Fault,
}

/// What an override does to the requests it matches instead of forwarding them as they are.
#[derive(Clone)]
pub enum Act {
    /// Answered here with this status and JSON body; the vendor never sees it.
    Reply(u16, serde_json::Value),
    /// Forwarded; the vendor's JSON answer is changed before it is returned.
    Rewrite(fn(&mut serde_json::Value)),
    /// Forwarded after this long.
    Delay(std::time::Duration),
}

struct Override {
    method: Method,
    /// Matches a path (with its query) containing this; with a trailing `$`, a path ending so.
    pattern: String,
    times: usize,
    act: Act,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    overrides: Vec<Override>,
    /// (method, path, fault injected) of every request.
    seen: Vec<(String, String, Option<Fault>)>,
}

/// The proxy; `url(prefix)` is what a provider's base URL becomes.
#[derive(Clone)]
pub struct FaultyProxy {
    pub addr: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FaultyProxy {
    /// Forwards to `target` (`http://127.0.0.1:<port>`).
    pub async fn start(target: String) -> FaultyProxy {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let http = super::http();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let state = shared.clone();
                let http = http.clone();
                let target = target.clone();
                async move { forward(state, http, target, method, uri, headers, body).await }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FaultyProxy { addr, state }
    }

    /// The proxy's address for what the target serves at `base` (a sandbox base URL).
    pub fn rebase(&self, base: &str) -> String {
        let url = url::Url::parse(base).unwrap();
        format!("http://{}{}", self.addr, url.path().trim_end_matches('/'))
    }

    /// After `pass` matching requests, the next `times` get `fault`.
    pub fn fault(&self, method: &str, path_suffix: &str, pass: usize, times: usize, fault: Fault) {
        self.state.lock().unwrap().rules.push(Rule {
            method: method.parse().unwrap(),
            path_suffix: path_suffix.into(),
            pass,
            times,
            fault,
        });
    }

    /// The next `times` requests `method` whose path (with query) contains `pattern` (or, with a
    /// trailing `$`, ends with it) get `act`. Overrides are tried in the order they were made.
    pub fn answer(&self, method: &str, pattern: &str, times: usize, act: Act) {
        self.state.lock().unwrap().overrides.push(Override {
            method: method.parse().unwrap(),
            pattern: pattern.into(),
            times,
            act,
        });
    }

    /// How many `method` requests whose path ends with `suffix` reached the vendor.
    pub fn reached(&self, method: &str, suffix: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|(m, p, f)| {
                m == method && p.ends_with(suffix) && *f != Some(Fault::Unavailable)
            })
            .count()
    }

    /// Every request: method, path and the fault injected.
    pub fn seen(&self) -> Vec<(String, String, Option<Fault>)> {
        self.state.lock().unwrap().seen.clone()
    }

    /// How many faults were injected.
    pub fn injected(&self) -> usize {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|(_, _, f)| f.is_some())
            .count()
    }
}

async fn forward(
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
    target: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = {
        let mut s = state.lock().unwrap();
        let fault = s
            .rules
            .iter_mut()
            .find(|r| r.method == method && uri.path().ends_with(&r.path_suffix) && r.times > 0)
            .and_then(|r| {
                if r.pass > 0 {
                    r.pass -= 1;
                    None
                } else {
                    r.times -= 1;
                    Some(r.fault)
                }
            });
        s.seen
            .push((method.to_string(), uri.path().to_string(), fault));
        fault
    };
    let act = {
        let mut s = state.lock().unwrap();
        let target = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
        s.overrides
            .iter_mut()
            .find(|o| {
                let hit = match o.pattern.strip_suffix('$') {
                    Some(end) => uri.path().ends_with(end),
                    None => target.contains(&o.pattern),
                };
                o.method == method && o.times > 0 && hit
            })
            .map(|o| {
                o.times -= 1;
                o.act.clone()
            })
    };
    match &act {
        Some(Act::Reply(status, body)) => {
            return Response::builder()
                .status(*status)
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
        }
        Some(Act::Delay(d)) => tokio::time::sleep(*d).await,
        _ => {}
    }
    if fault == Some(Fault::Unavailable) {
        return Response::builder()
            .status(503)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"message":"Service Unavailable"}"#))
            .unwrap();
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = http.request(method, format!("{target}{path}"));
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    let answer = request.body(body).send().await;
    if fault == Some(Fault::LoseAnswer) {
        // The vendor acted on it; the caller never learns how it answered.
        let broken = futures_util::stream::once(async {
            Err::<Bytes, std::io::Error>(std::io::Error::other("connection reset by the proxy"))
        });
        return Response::builder()
            .status(200)
            .body(Body::from_stream(broken))
            .unwrap();
    }
    match answer {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status().as_u16());
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    response = response.header(name, value);
                }
            }
            let mut bytes = answer.bytes().await.unwrap_or_default();
            if let Some(Act::Rewrite(change)) = act
                && let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(&bytes)
            {
                change(&mut json);
                bytes = Bytes::from(json.to_string());
            }
            response.body(Body::from(bytes)).unwrap()
        }
        Err(e) => Response::builder()
            .status(502)
            .body(Body::from(e.to_string()))
            .unwrap(),
    }
}
