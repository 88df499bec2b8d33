//! HTTP transport hardening, against the built binary: slowloris (header-read timeout, the
//! connection cap that keeps probes and clients answering under a 1,024 descriptor limit),
//! slow bodies, invalid JSON, the bearer scheme's case, and ambiguous Host headers and request
//! targets. Raw TCP wherever the exact bytes matter.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::{Value, json};

const TOKEN: &str = "hardening-bearer-0123456789";

/// The binary serving HTTP on 127.0.0.1:<ephemeral>, killed when dropped.
struct Server {
    child: tokio::process::Child,
    addr: SocketAddr,
    /// Its stderr lines since it listened.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `--transport http` with `args`, authenticated with [`TOKEN`], optionally under a
    /// descriptor limit.
    async fn start(args: &[&str], fd_limit: Option<libc::rlim_t>) -> Server {
        use tokio::io::AsyncBufReadExt;
        let mut cmd = tokio::process::Command::new(binary());
        cmd.args(["--transport", "http", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_clear()
            .env("DATASOURCE_MCP_HTTP_TOKEN", TOKEN)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(limit) = fd_limit {
            limit_descriptors(&mut cmd, limit);
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
                .await
                .expect("the server starts")
                .unwrap()
                .expect("the server is running");
            if let Some(rest) = line.split(" at http://").nth(1) {
                break rest.split('/').next().unwrap().parse().unwrap();
            }
        };
        // Keep reading stderr so the server never blocks on a full pipe.
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                kept.lock().unwrap().push(line);
            }
        });
        Server { child, addr, log }
    }

    /// Waits (up to 5 s) for stderr lines that contain `needle`; all of them.
    async fn logged(&self, needle: &str) -> Vec<String> {
        let started = Instant::now();
        loop {
            let found: Vec<String> = self
                .log
                .lock()
                .unwrap()
                .iter()
                .filter(|l| l.contains(needle))
                .cloned()
                .collect();
            if !found.is_empty() || started.elapsed() > Duration::from_secs(5) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Descriptors the server process holds (Linux).
    fn fds(&self) -> Option<usize> {
        let pid = self.child.id()?;
        Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
    }

    /// `/healthz` with a short timeout: how long the answer took, or why there was none.
    async fn healthz(&self) -> Result<Duration, String> {
        let started = Instant::now();
        let r = http()
            .get(self.url("/healthz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .map_err(|e| format!("no answer within 2 s: {e}"))?;
        let status = r.status();
        let text = r.text().await.map_err(|e| e.to_string())?;
        if status != 200 || text != "ok" {
            return Err(format!("{status} {text}"));
        }
        Ok(started.elapsed())
    }

    /// An MCP `initialize` over `/mcp` with the token.
    async fn initialize(&self) -> Result<Value, String> {
        let r = http()
            .post(self.url("/mcp"))
            .timeout(Duration::from_secs(5))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", format!("Bearer {TOKEN}"))
            .body(initialize().to_string())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status() != 200 {
            return Err(format!("status {}", r.status()));
        }
        r.json().await.map_err(|e| e.to_string())
    }
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}})
}

/// Headers (with the token) for a POST /mcp whose body is `len` bytes long.
fn post_head(len: usize) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         MCP-Protocol-Version: 2025-11-25\r\nContent-Length: {len}\r\n\r\n"
    )
}

/// A complete POST /mcp with the token, closing the connection after the answer.
fn post_raw(body: &[u8]) -> Vec<u8> {
    let head = post_head(body.len()).replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n");
    [head.as_bytes(), body].concat()
}

/// A complete POST `target` (an initialize) with exactly the given Host and Authorization
/// lines, among others, closing the connection after the answer.
fn post_lines(target: &str, lines: &[(&str, &str)]) -> Vec<u8> {
    let body = initialize().to_string();
    let mut head = format!("POST {target} HTTP/1.1\r\n");
    for (name, value) in lines {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    head.into_bytes()
}

/// 1,100 partial requests against a server limited to 1,024 descriptors: it keeps at most
/// `--max-connections` of them, and `/healthz` and `/mcp` still answer at once.
#[tokio::test]
async fn slowloris_cannot_starve_healthz_or_mcp_under_a_descriptor_limit() {
    if !raise_own_fd_limit(1400) {
        eprintln!("skipped: this process cannot open 1,100 connections (hard descriptor limit)");
        return;
    }
    // A long header timeout: the cap, not the timeout, is what keeps the server answering here.
    let server = Server::start(&["--header-timeout", "120"], Some(1024)).await;
    let started = Instant::now();
    let partial = open_partial(server.addr, 1100, false).await;
    let opened = started.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = count_open(&partial);
    let fds = server.fds();
    let health = server.healthz().await;
    let init = server.initialize().await;
    eprintln!(
        "slowloris: {} of 1100 partial connections opened in {opened:?}; the server holds {held} \
         (descriptors: {fds:?}); /healthz: {health:?}",
        partial.len()
    );
    let health = health.expect("/healthz answers while partial requests are held");
    assert!(health < Duration::from_secs(2), "{health:?}");
    let init = init.expect("initialize over /mcp works");
    assert_eq!(
        init["result"]["serverInfo"]["name"], "datasource-mcp",
        "{init}"
    );
    assert!(held <= 512, "at most --max-connections held: {held}");
    if let Some(fds) = fds {
        assert!(fds < 600, "descriptors stay bounded: {fds}");
    }
}

/// A connection that has not sent complete headers within --header-timeout is closed, whether it
/// sent part of them or nothing at all.
#[tokio::test]
async fn partial_connections_are_closed_after_the_header_timeout() {
    let server = Server::start(&["--header-timeout", "2"], None).await;
    let started = Instant::now();
    let mut streams = open_partial(server.addr, 40, false).await;
    streams.extend(open_partial(server.addr, 10, true).await);
    assert_eq!(streams.len(), 50);
    let open = count_open(&streams);
    let checked = started.elapsed();
    let closed = all_closed_within(&streams, Duration::from_secs(10)).await;
    eprintln!(
        "header timeout 2 s: {open} of 50 open after {checked:?}; all closed after {:?}",
        closed.map(|d| d + checked)
    );
    if checked < Duration::from_millis(1500) {
        assert_eq!(open, 50, "open before the timeout");
    }
    let closed = closed.expect("closed after the header timeout") + checked;
    assert!(closed < Duration::from_secs(6), "{closed:?}");
    // The server is fine afterwards.
    server.healthz().await.unwrap();
}

/// Past --max-connections, the oldest connection still sending headers makes room; when every
/// connection is busy with an authenticated request, a new one is closed at once.
#[tokio::test]
async fn the_cap_closes_the_oldest_header_sender_and_refuses_when_all_are_busy() {
    let server = Server::start(&["--max-connections", "3", "--header-timeout", "60"], None).await;
    let settle = || tokio::time::sleep(Duration::from_millis(300));
    let p1 = open_partial(server.addr, 1, false).await;
    settle().await;
    let p2 = open_partial(server.addr, 1, false).await;
    settle().await;
    // Complete headers with the token, part of the body: busy with an authenticated request.
    let busy = |addr| {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(post_head(100).as_bytes()).unwrap();
        s.write_all(b"{\"jsonrpc\":").unwrap();
        s
    };
    let b1 = busy(server.addr);
    settle().await;
    assert!(is_open(&p1[0]) && is_open(&p2[0]) && is_open(&b1));
    // A fourth connection: p1 is the oldest still sending headers, so p1 goes.
    let p3 = open_partial(server.addr, 1, false).await;
    settle().await;
    assert!(!is_open(&p1[0]), "the oldest header sender was closed");
    assert!(is_open(&p2[0]) && is_open(&p3[0]) && is_open(&b1));
    // Two more busy connections push out p2, then p3.
    let b2 = busy(server.addr);
    settle().await;
    let b3 = busy(server.addr);
    settle().await;
    assert!(!is_open(&p2[0]) && !is_open(&p3[0]));
    assert!(is_open(&b1) && is_open(&b2) && is_open(&b3));
    // All three busy: a new connection is closed at once, unanswered.
    let mut refused = TcpStream::connect(server.addr).unwrap();
    refused
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .ok();
    assert!(closed_without_answer(&mut refused, Duration::from_secs(2)));
    // A busy connection ends: there is room again.
    drop(b1);
    settle().await;
    server.healthz().await.unwrap();
    drop((b2, b3));
}

/// The start of an unauthenticated form POST to the intake page whose body never ends.
const SLOW_FORM: &[u8] = b"POST /secrets/0000000000000000000000000000000000000000000000000000000000000000 HTTP/1.1\r\n\
Host: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nform_token=";

/// Unauthenticated POSTs to /secrets/… whose bodies never finish are not protected: past
/// --max-connections the oldest of them is closed, so /healthz and /mcp keep answering.
/// (Before, their complete headers made them "busy" and the cap never closed them.)
#[tokio::test]
async fn slow_unauthenticated_bodies_cannot_take_every_connection() {
    let server = Server::start(&["--max-connections", "8", "--header-timeout", "60"], None).await;
    let mut slow = Vec::new();
    for _ in 0..4 {
        slow.extend(open_sending(server.addr, 5, SLOW_FORM).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = count_open(&slow);
    let health = server.healthz().await;
    let init = server.initialize().await;
    eprintln!("20 slow unauthenticated forms, cap 8: {held} held; /healthz: {health:?}");
    assert_eq!(slow.len(), 20);
    assert!(held <= 8, "at most --max-connections held: {held}");
    health.expect("/healthz answers while slow forms are held");
    let init = init.expect("initialize over /mcp works");
    assert_eq!(init["result"]["serverInfo"]["name"], "datasource-mcp");
}

/// SIGTERM with partial requests open: they are closed at once (they are no calls in flight),
/// so the server exits promptly instead of waiting out --shutdown-grace for them.
#[tokio::test]
async fn shutdown_does_not_wait_for_partial_requests() {
    let mut server =
        Server::start(&["--header-timeout", "60", "--shutdown-grace", "20"], None).await;
    let partial = open_partial(server.addr, 20, false).await;
    let silent = open_partial(server.addr, 5, true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count_open(&partial) + count_open(&silent), 25);
    let started = Instant::now();
    // SAFETY: a signal to the child this test started.
    unsafe { libc::kill(server.child.id().unwrap() as libc::pid_t, libc::SIGTERM) };
    let status = tokio::time::timeout(Duration::from_secs(15), server.child.wait())
        .await
        .expect("exits well before the grace period")
        .unwrap();
    assert!(status.success(), "{status:?}");
    // Well before the 20 s grace (a bound loose enough for a loaded machine).
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(count_open(&partial) + count_open(&silent), 0);
}

/// A body that has not arrived within --body-timeout gets 408 with a JSON-RPC error, the
/// connection is closed, and the request slot is free again.
#[tokio::test]
async fn a_slow_body_gets_408_and_frees_its_slot() {
    let server = Server::start(&["--body-timeout", "1", "--max-http-requests", "1"], None).await;
    let body = initialize().to_string();
    let mut slow = TcpStream::connect(server.addr).unwrap();
    slow.write_all(post_head(body.len()).as_bytes()).unwrap();
    slow.write_all(&body.as_bytes()[..10]).unwrap();
    let started = Instant::now();
    let r = tokio::task::spawn_blocking(move || read_response(&mut slow, Duration::from_secs(10)))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(r.status, 408, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600,
            "message": "the request body did not arrive within 1 s"}})
    );
    assert_eq!(r.header("connection"), Some("close"));
    assert!(took < Duration::from_secs(4), "{took:?}");
    // The only request slot is free: the next call is served, not shed with 503.
    server.initialize().await.unwrap();

    // A body that arrives in pieces, in time, is fine.
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(post_head(body.len()).as_bytes()).unwrap();
    s.write_all(&body.as_bytes()[..10]).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    s.write_all(&body.as_bytes()[10..]).unwrap();
    let r = tokio::task::spawn_blocking(move || read_response(&mut s, Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["result"]["serverInfo"]["name"], "datasource-mcp");
}

/// A client's Mcp-Session-Id becomes the correlation id (audit and log lines) only when it is
/// at most 128 letters, digits and `._:-`; any other gets a fresh id. Log lines quote the ids,
/// so none can pass for more fields. (Before, a 300 KB id made a 300 KB audit line, and
/// `x correlation=forged` forged a field on the log line; a head that long now gets 431.)
#[tokio::test]
async fn client_session_ids_tag_lines_only_when_short_and_plain() {
    let server = Server::start(&["--audit-log", "-"], None).await;
    let longest = "a".repeat(128);
    let cases: Vec<(String, bool)> = vec![
        ("client-1.a:b_c-D".into(), true),
        (longest.clone(), true),
        ("a".repeat(129), false),
        ("x correlation=forged".into(), false),
        ("x\" caller=\"root".into(), false),
        // About the longest a request head may be (64 KiB).
        ("s".repeat(60 * 1024), false),
    ];
    for (i, (id, kept)) in cases.iter().enumerate() {
        // An unknown tool: refused, audited, and rmcp logs the error inside the request's span.
        let tool = format!("nope_{i}");
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": tool, "arguments": {}}});
        let r = http()
            .post(server.url("/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("mcp-protocol-version", "2025-11-25")
            .header("mcp-session-id", id.as_str())
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "case {i}");
        let audit = server.logged(&format!("\"tool\":\"{tool}\"")).await;
        assert_eq!(audit.len(), 1, "case {i}: {audit:?}");
        let line: Value = serde_json::from_str(&audit[0]).unwrap();
        let correlation = line["correlation_id"].as_str().unwrap().to_string();
        let logged = server.logged(&format!("unknown tool: {tool}")).await;
        assert_eq!(logged.len(), 1, "case {i}: {logged:?}");
        let logged = &logged[0];
        if *kept {
            assert_eq!(&correlation, id, "case {i}");
            assert!(
                logged.contains(&format!("session=\"{id}\" correlation=\"{id}\"")),
                "case {i}: {logged}"
            );
        } else {
            assert!(
                correlation.starts_with("req-") && correlation.len() == 36,
                "case {i}: a fresh id, not {correlation:.80}"
            );
            assert!(
                logged.contains(&format!("session=\"-\" correlation=\"{correlation}\"")),
                "case {i}: {logged:.300}"
            );
        }
        for line in [&audit[0], logged] {
            assert!(
                line.len() < 1024,
                "case {i}: a line of {} bytes",
                line.len()
            );
            assert!(!line.contains("forged") && !line.contains("root"), "{line}");
        }
    }
}

/// A request head past 64 KiB gets 431 and its connection is closed: the cap's worth of
/// partial heads then holds about 32 MiB, not the ~210 MiB of hyper's default (~400 KiB each).
#[tokio::test]
async fn a_request_head_past_64_kib_gets_431() {
    let server = Server::start(&[], None).await;
    let head = |pad: usize| {
        format!(
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
            "a".repeat(pad)
        )
    };
    assert_eq!(
        exchange(server.addr, head(60 * 1024).as_bytes()).status,
        200
    );
    let r = exchange(server.addr, head(300 * 1024).as_bytes());
    assert_eq!(r.status, 431, "{r:?}");
    assert_eq!(r.header("connection"), Some("close"));
    // Partial heads that will not fit are closed at once instead of being held.
    let start = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: {}",
        "a".repeat(100 * 1024)
    );
    let start: &'static [u8] = Box::leak(start.into_bytes().into_boxed_slice());
    let partial = open_sending(server.addr, 20, start).await;
    let closed = all_closed_within(&partial, Duration::from_secs(3)).await;
    assert!(closed.is_some(), "closed at once");
    server.healthz().await.unwrap();
}

/// A body that is not JSON gets 400 with a JSON-RPC parse error (-32700), not 415 with text;
/// JSON that is not a JSON-RPC message gets 400 with -32600.
#[tokio::test]
async fn invalid_json_gets_400_with_a_json_rpc_parse_error() {
    let server = Server::start(&[], None).await;
    for body in [
        &b"{\"jsonrpc\": "[..],
        b"not json",
        b"",
        b"{\"a\": 1}}",
        b"\xff\xfe",
    ] {
        let r = exchange(server.addr, &post_raw(body));
        let shown = String::from_utf8_lossy(body);
        assert_eq!(r.status, 400, "{shown}: {r:?}");
        assert_eq!(
            r.header("content-type"),
            Some("application/json"),
            "{shown}"
        );
        let v = r.json();
        assert_eq!(
            (&v["jsonrpc"], &v["id"], &v["error"]["code"]),
            (&json!("2.0"), &Value::Null, &json!(-32700)),
            "{shown}: {v}"
        );
        let message = v["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("Parse error: the body is not JSON ("),
            "{message}"
        );
    }
    let r = exchange(server.addr, &post_raw(br#"{"hello": "world"}"#));
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(
        r.json(),
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600,
            "message": "Invalid Request: the body is not a JSON-RPC message"}})
    );
    let r = exchange(server.addr, &post_raw(initialize().to_string().as_bytes()));
    assert_eq!(r.status, 200, "{r:?}");
}

/// The bearer scheme is case-insensitive (RFC 9110, RFC 6750); the token is still compared
/// exactly, and two Authorization headers are still refused.
#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let server = Server::start(&[], None).await;
    let status = |auth: &[String]| {
        let mut lines = vec![("Host", "127.0.0.1")];
        lines.extend(auth.iter().map(|a| ("Authorization", a.as_str())));
        exchange(server.addr, &post_lines("/mcp", &lines)).status
    };
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        assert_eq!(status(&[format!("{scheme} {TOKEN}")]), 200, "{scheme}");
    }
    assert_eq!(
        status(&[format!("bearer  {TOKEN}")]),
        200,
        "several spaces (1*SP)"
    );
    let wrong = [
        vec![format!("bearer {}", &TOKEN[1..])],
        vec![format!("bearer {TOKEN}x")],
        vec![format!("BEARER {}", TOKEN.to_uppercase())],
        vec![format!("Basic {TOKEN}")],
        vec![format!("bearer{TOKEN}")],
        vec![TOKEN.to_string()],
        vec!["bearer".to_string()],
        vec![format!("bearer {TOKEN}"), format!("bearer {TOKEN}")],
        vec![format!("Bearer {TOKEN}"), "Bearer nope".to_string()],
        vec![],
    ];
    for auth in wrong {
        assert_eq!(status(&auth), 401, "{auth:?}");
    }
}

/// Two Host headers, or an absolute-form target naming another host than Host, get 400 (written
/// byte for byte: HTTP clients would not send these). When target and Host agree, the
/// allow-list decides as usual.
#[tokio::test]
async fn ambiguous_hosts_and_foreign_absolute_targets_get_400() {
    let server = Server::start(&[], None).await;
    let here = server.addr.to_string();
    let auth = format!("Bearer {TOKEN}");
    let mcp = format!("http://{here}/mcp");
    let localhost = format!("localhost:{}", server.addr.port());
    let cases: Vec<(&str, String, Vec<&str>, u16)> = vec![
        ("POST", "/mcp".into(), vec![&here], 200),
        ("POST", "/mcp".into(), vec![&here, &here], 400),
        ("POST", "/mcp".into(), vec![&here, "evil.example"], 400),
        ("POST", "/mcp".into(), vec!["evil.example", &here], 400),
        (
            "POST",
            "http://evil.example/mcp".into(),
            vec!["127.0.0.1"],
            400,
        ),
        ("POST", "http://evil.example/mcp".into(), vec![&here], 400),
        ("POST", "http://evil.example/mcp".into(), vec![], 400),
        ("POST", format!("http://user@{here}/mcp"), vec![&here], 400),
        ("POST", mcp.clone(), vec!["127.0.0.2"], 400),
        ("POST", mcp.clone(), vec![], 400),
        // Target and Host agree: the allow-list decides.
        ("POST", mcp.clone(), vec![&here], 200),
        (
            "POST",
            format!("HTTP://LOCALHOST:{}/mcp", server.addr.port()),
            vec![&localhost],
            200,
        ),
        (
            "POST",
            "http://evil.example/mcp".into(),
            vec!["evil.example"],
            403,
        ),
        // The probe too: one host, unambiguous.
        ("GET", "/healthz".into(), vec![&here], 200),
        ("GET", "/healthz".into(), vec![&here, &here], 400),
        (
            "GET",
            "http://evil.example/healthz".into(),
            vec![&here],
            400,
        ),
    ];
    for (method, target, hosts, expected) in cases {
        let mut lines: Vec<(&str, &str)> = hosts.iter().map(|h| ("Host", *h)).collect();
        lines.push(("Authorization", &auth));
        let mut request = post_lines(&target, &lines);
        if method == "GET" {
            request = String::from_utf8(request)
                .unwrap()
                .replacen("POST", "GET", 1)
                .into_bytes();
        }
        let r = exchange(server.addr, &request);
        assert_eq!(
            r.status, expected,
            "{method} {target} with Host {hosts:?}: {r:?}"
        );
        if expected == 400 {
            assert_eq!(r.json()["error"]["code"], -32600, "{r:?}");
        }
    }
}
