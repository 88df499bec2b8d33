//! Test harness: a recording fake upstream (a loopback HTTP server that records every request
//! exactly as it arrived and answers from scripted rules) and MCP clients for the server
//! in-process (over `tokio::io::duplex`) and as the built binary.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

use datasource_mcp::engine::Engine;
use datasource_mcp::providers;
use datasource_mcp::server::{DataSourceServer, Selection};
use datasource_mcp::upstream::UpstreamSettings;

/// A sentinel credential: must never appear in any output.
pub const SENTINEL: &str = "S3NT1NEL-7f3a9c";

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

pub const UA: &str = concat!("datasource-mcp/", env!("CARGO_PKG_VERSION"));

/// Asserts one recorded request exactly: method, raw path, raw query, the credential header,
/// the JSON body (or none), and the headers every request carries.
pub fn assert_request(
    r: &Recorded,
    method: &str,
    path: &str,
    query: Option<&str>,
    auth: (&str, &str),
    body: Option<Value>,
) {
    assert_eq!(r.method, method, "method of {r:?}");
    assert_eq!(r.path, path, "path of {r:?}");
    assert_eq!(r.query.as_deref(), query, "query of {r:?}");
    assert_eq!(r.header(auth.0), Some(auth.1), "{} of {r:?}", auth.0);
    assert_eq!(r.header("user-agent"), Some(UA));
    assert_eq!(r.header("accept"), Some("application/json"));
    match body {
        Some(b) => {
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert_eq!(r.json(), b, "body of {r:?}");
        }
        None => assert_eq!(r.body, "", "no body expected in {r:?}"),
    }
}

/// Calls `tool` with `args` and asserts an INVALID_ARGUMENT error naming `field`, whose message
/// starts with `` `field`: reason``.
pub async fn assert_invalid(
    client: &Client,
    provider: &str,
    tool: &str,
    args: Value,
    field: &str,
    reason: &str,
) {
    let (result, is_error) = call(client, tool, args.clone()).await;
    assert!(is_error, "{tool} {args} should fail");
    let error = &result["error"];
    assert_eq!(error["code"], "INVALID_ARGUMENT", "{tool} {args}: {result}");
    assert_eq!(error["field"], field, "{tool} {args}: {result}");
    assert_eq!(error["provider"], provider);
    assert!(error.get("status").is_none());
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("`{field}`: {reason}")),
        "{tool} {args}: {message}"
    );
}

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

/// A connected in-process MCP client for a server configured from `vars`.
pub type Client = RunningService<RoleClient, ()>;

pub async fn client_with(vars: &HashMap<String, String>, settings: UpstreamSettings) -> Client {
    client_selected(vars, settings, &Selection::default()).await
}

/// A client for a server whose tools are narrowed by `selection`.
pub async fn client_selected(
    vars: &HashMap<String, String>,
    settings: UpstreamSettings,
    selection: &Selection,
) -> Client {
    let configs = providers::configure_all(vars).expect("valid configuration");
    let engine = Arc::new(Engine::new(configs, settings, Arc::new(vars.clone())));
    let server = DataSourceServer::new(engine, selection);
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.expect("client connects")
}

pub async fn client(vars: &[(&str, &str)]) -> Client {
    client_with(&env(vars), UpstreamSettings::default()).await
}

/// Calls a tool and returns (structuredContent, isError). Also checks the text block carries
/// the same JSON, as the contract says.
pub async fn call(client: &Client, name: &str, args: Value) -> (Value, bool) {
    let result = call_raw(client, name, args)
        .await
        .expect("tools/call answered");
    let structured = result
        .structured_content
        .clone()
        .expect("structuredContent");
    let text = result.content[0]
        .as_text()
        .expect("a text block")
        .text
        .clone();
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap(),
        structured,
        "text block mirrors structuredContent"
    );
    (structured, result.is_error == Some(true))
}

pub async fn call_raw(
    client: &Client,
    name: &str,
    args: Value,
) -> Result<CallToolResult, rmcp::ServiceError> {
    let mut params = CallToolRequestParams::new(name.to_string());
    if let Value::Object(map) = args {
        params = params.with_arguments(map);
    }
    client.call_tool(params).await
}

/// An MCP client that records the progress notifications it receives.
#[derive(Clone, Default)]
pub struct ProgressClient {
    pub seen: Arc<Mutex<Vec<rmcp::model::ProgressNotificationParam>>>,
}

impl rmcp::ClientHandler for ProgressClient {
    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _context: rmcp::service::NotificationContext<RoleClient>,
    ) {
        self.seen.lock().unwrap().push(params);
    }
}

/// A progress-recording client for a server configured from `vars`.
pub async fn progress_client(
    vars: &HashMap<String, String>,
    settings: UpstreamSettings,
) -> (RunningService<RoleClient, ProgressClient>, ProgressClient) {
    let configs = providers::configure_all(vars).expect("valid configuration");
    let engine = Arc::new(Engine::new(configs, settings, Arc::new(vars.clone())));
    let server = DataSourceServer::new(engine, &Selection::default());
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let handler = ProgressClient::default();
    let client = handler
        .clone()
        .serve(client_io)
        .await
        .expect("client connects");
    (client, handler)
}

/// Upstream settings for tests: quick retries, polls and heartbeats.
pub fn fast_settings() -> UpstreamSettings {
    UpstreamSettings {
        retry: datasource_mcp::upstream::RetryPolicy {
            min_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            ..Default::default()
        },
        poll_interval: Duration::from_millis(10),
        heartbeat: Duration::from_millis(40),
        ..UpstreamSettings::default()
    }
}

/// Path of the built binary.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_datasource-mcp")
}

/// Runs the binary with `vars` (and nothing else from the environment), feeds it `lines` of
/// JSON-RPC on stdin, closes stdin, and returns (stdout, stderr, exit status).
pub async fn run_stdio(
    args: &[&str],
    vars: &[(&str, &str)],
    lines: &[Value],
) -> (String, String, std::process::ExitStatus) {
    let answers = lines.iter().filter(|l| l.get("id").is_some()).count();
    run_stdio_answers(args, vars, lines, answers).await
}

/// Like [`run_stdio`], waiting for `answers` responses before closing stdin.
pub async fn run_stdio_answers(
    args: &[&str],
    vars: &[(&str, &str)],
    lines: &[Value],
    answers: usize,
) -> (String, String, std::process::ExitStatus) {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(binary());
    cmd.args(args)
        .env_clear()
        .envs(vars.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("binary starts");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let collect_out = tokio::spawn(read_lines_until(stdout, answers));
    for line in lines {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
    }
    // Wait until every request was answered before closing stdin.
    let out = tokio::time::timeout(Duration::from_secs(30), collect_out)
        .await
        .expect("answers within 30 s")
        .unwrap();
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("exits after stdin closes")
        .unwrap();
    let mut stdout = out;
    stdout.push_str(&String::from_utf8_lossy(&output.stdout));
    (
        stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status,
    )
}

async fn read_lines_until(stdout: tokio::process::ChildStdout, answers: usize) -> String {
    use tokio::io::AsyncBufReadExt;
    let mut reader = tokio::io::BufReader::new(stdout);
    let mut all = String::new();
    let mut seen = 0;
    while seen < answers {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            break;
        }
        if serde_json::from_str::<Value>(&line).ok().is_some_and(|v| {
            v.get("id").is_some() && (v.get("result").is_some() || v.get("error").is_some())
        }) {
            seen += 1;
        }
        all.push_str(&line);
    }
    all
}

/// The JSON-RPC lines a client sends to start a session.
pub fn handshake() -> Vec<Value> {
    vec![
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ]
}

pub fn rpc(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// Every stdout line must be exactly one JSON-RPC message.
pub fn assert_jsonrpc_only(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|_| panic!("stdout line is not JSON: {line:?}"));
            assert_eq!(v["jsonrpc"], "2.0", "not JSON-RPC: {line}");
            v
        })
        .collect()
}
