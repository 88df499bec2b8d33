//! Streamable HTTP: the rmcp HTTP client (both protocol eras), authentication, Host and Origin
//! allow-lists, limits, statelessness across replicas, the caller's token never going upstream,
//! start-up rules and graceful shutdown of the binary.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::*;
use datasource_mcp::engine::Engine;
use datasource_mcp::secret::SecretString;
use datasource_mcp::surfaces::server::{DataSourceServer, Selection};
use datasource_mcp::transport::http::{Auth, HttpOptions};
use datasource_mcp::upstream::UpstreamSettings;
use datasource_mcp::{operation::Provider, providers};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

const TOKEN: &str = "http-bearer-S3NT1NEL-0123456789";

async fn start(
    vars: &HashMap<String, String>,
    tweak: impl FnOnce(&mut HttpOptions),
) -> RunningHttp {
    let configs = providers::configure_all(vars).unwrap();
    let engine = Arc::new(Engine::new(
        configs,
        UpstreamSettings::default(),
        Arc::new(vars.clone()),
    ));
    let server = DataSourceServer::new(engine, &Selection::default());
    let mut opts = HttpOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        Auth::Bearer(SecretString::new(TOKEN)),
    );
    tweak(&mut opts);
    serve_http(server, opts).await
}

fn bigid_vars(fake: &FakeUpstream) -> HashMap<String, String> {
    env(&[
        ("BIGID_BASE_URL", &fake.url("/api")),
        ("BIGID_ACCESS_TOKEN", "vendor-token"),
    ])
}

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}})
}

/// A raw MCP POST with the token and the headers a 2025-era client sends.
fn post(url: &str, body: &Value) -> reqwest::RequestBuilder {
    post_with(url, body, &[])
}

/// The same, with some headers replaced (or, with an empty value, left out).
fn post_with(url: &str, body: &Value, replace: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let defaults = [
        ("content-type", "application/json".to_string()),
        ("accept", "application/json, text/event-stream".to_string()),
        ("authorization", format!("Bearer {TOKEN}")),
        ("mcp-protocol-version", "2025-11-25".to_string()),
    ];
    let mut req = http().post(url).body(body.to_string());
    for (name, value) in &defaults {
        if !replace.iter().any(|(n, _)| n == name) {
            req = req.header(*name, value);
        }
    }
    for (name, value) in replace {
        if !value.is_empty() {
            req = req.header(*name, *value);
        }
    }
    req
}

#[tokio::test]
async fn the_rmcp_http_client_lists_and_calls_tools() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/ds-connections",
        Reply::json(200, json!({"data": {"ds_connections": []}})),
    );
    let server = start(&bigid_vars(&fake), |_| {}).await;
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.url.clone()).auth_header(TOKEN),
    );
    let client = ().serve(transport).await.unwrap();
    assert_eq!(
        client.list_all_tools().await.unwrap().len(),
        tool_count(offered_with_only(Provider::BigId))
    );
    let result = client
        .call_tool(CallToolRequestParams::new("bigid_list_data_sources"))
        .await
        .unwrap();
    assert_eq!(result.structured_content, Some(json!({"items": []})));
    assert_eq!(client.list_all_prompts().await.unwrap().len(), 2);
    client.cancel().await.unwrap();

    // The caller's bearer token never goes upstream: the vendor sees the server's credential.
    let seen = fake.requests();
    assert!(!seen.is_empty());
    for r in &seen {
        assert_eq!(r.header("authorization"), Some("vendor-token"));
        assert!(!format!("{r:?}").contains(TOKEN), "{r:?}");
    }
}

#[tokio::test]
async fn both_protocol_eras_work() {
    use rmcp::model::{ClientConfig, ProtocolVersion};
    use rmcp::{ClientLifecycleMode, ClientServiceExt};
    let fake = FakeUpstream::start().await;
    let server = start(&bigid_vars(&fake), |_| {}).await;
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.url.clone()).auth_header(TOKEN),
    );
    let client = ClientConfig::default()
        .serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    assert_eq!(
        client.list_all_tools().await.unwrap().len(),
        tool_count(offered_with_only(Provider::BigId))
    );
    client.cancel().await.unwrap();

    // server/discover over raw HTTP.
    let discover = json!({"jsonrpc": "2.0", "id": 7, "method": "server/discover", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}}}});
    let r = post_with(
        &server.url,
        &discover,
        &[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "server/discover"),
        ],
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["result"]["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!("2026-07-28")),
        "{body}"
    );
}

#[tokio::test]
async fn authentication_on_every_request() {
    let fake = FakeUpstream::start().await;
    let server = start(&bigid_vars(&fake), |_| {}).await;
    let no_token = http()
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(initialize().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 401);
    assert_eq!(
        no_token.headers()["www-authenticate"],
        "Bearer realm=\"datasource-mcp\""
    );
    let body: Value = no_token.json().await.unwrap();
    assert_eq!(body["error"]["message"], "missing or invalid bearer token");
    for wrong in [
        "Bearer nope",
        "Bearer http-bearer-S3NT1NEL-012345678",
        TOKEN,
        "bearer http-bearer-S3NT1NEL-0123456789",
    ] {
        let r = post(&server.url, &initialize())
            .header("authorization", wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{wrong}");
    }
    let ok = post(&server.url, &initialize()).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    // Probes need no token.
    let health = http()
        .get(format!("http://{}/healthz", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (health.status().as_u16(), health.text().await.unwrap()),
        (200, "ok".into())
    );
}

#[tokio::test]
async fn host_and_origin_allow_lists_and_no_cors() {
    let fake = FakeUpstream::start().await;
    let server = start(&bigid_vars(&fake), |o| {
        o.allowed_origins.push("https://ide.example.com".into());
    })
    .await;
    let port = server.addr.port();
    let cases = [
        ("host", "evil.example.com".to_string(), 403),
        ("host", format!("localhost:{port}"), 200),
        ("origin", "http://evil.example".to_string(), 403),
        ("origin", "null".to_string(), 403),
        ("origin", format!("http://127.0.0.1:{port}"), 200),
        ("origin", "https://ide.example.com".to_string(), 200),
    ];
    for (header, value, expected) in cases {
        let response = post(&server.url, &initialize())
            .header(header, &value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), expected, "{header}: {value}");
    }
    // No permissive CORS: a preflight from another origin gets no allow header.
    let preflight = http()
        .request(reqwest::Method::OPTIONS, &server.url)
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let normal = post(&server.url, &initialize())
        .header("origin", "https://ide.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        normal
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

/// The Host and Origin allow-lists hold on every path, not only /mcp: the probe, the figures,
/// the intake page and paths that do not exist. `Origin: null` passes only for the intake
/// page's own form POST (which then checks its link and form token).
#[tokio::test]
async fn host_and_origin_are_checked_on_every_path() {
    use datasource_mcp::intake::{Intake, IntakeSettings, Serving};
    let fake = FakeUpstream::start().await;
    let vars = bigid_vars(&fake);
    let configs = providers::configure_all(&vars).unwrap();
    let intake = Intake::new(IntakeSettings::default(), Serving::Mounted(None));
    let engine = Engine::new(configs, UpstreamSettings::default(), Arc::new(vars.clone()))
        .with_intake(intake);
    let server = DataSourceServer::new(Arc::new(engine), &Selection::default());
    let mut opts = HttpOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        Auth::Bearer(SecretString::new(TOKEN)),
    );
    opts.allowed_origins.push("https://ide.example.com".into());
    let server = serve_http(server, opts).await;
    let page = format!("/secrets/{}", "0".repeat(64));
    // Method, path, the status with allowed headers.
    let paths = [
        ("GET", "/healthz", 200),
        ("GET", "/metrics", 200),
        ("GET", page.as_str(), 404),
        ("POST", page.as_str(), 404),
        ("POST", "/mcp", 200),
        ("GET", "/nowhere", 404),
    ];
    let forbidden = |message: &str| json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": message}});
    for (method, path, ok) in paths {
        let send = |header: &'static str, value: &str| {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let mut req = http()
                .request(method.clone(), format!("{}{path}", server.base))
                .header("authorization", format!("Bearer {TOKEN}"))
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-11-25");
            req = if path == "/mcp" {
                req.header("content-type", "application/json")
                    .body(initialize().to_string())
            } else if method == reqwest::Method::POST {
                req.header("content-type", "application/x-www-form-urlencoded")
                    .body("form_token=x&value=y")
            } else {
                req
            };
            if !header.is_empty() {
                req = req.header(header, value.to_string());
            }
            req.send()
        };
        let r = send("host", "evil.example").await.unwrap();
        assert_eq!(r.status(), 403, "{method} {path} with a foreign Host");
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            forbidden("Forbidden: Host header is not allowed")
        );
        for origin in ["http://evil.example", "http://127.0.0.1.evil.example:80"] {
            let r = send("origin", origin).await.unwrap();
            assert_eq!(r.status(), 403, "{method} {path} from {origin}");
            assert_eq!(
                r.json::<Value>().await.unwrap(),
                forbidden("Forbidden: Origin header is not allowed")
            );
        }
        let null = send("origin", "null").await.unwrap().status();
        let own_form = method == "POST" && path.starts_with("/secrets/");
        assert_eq!(
            null,
            if own_form { ok } else { 403 },
            "{method} {path} with Origin: null"
        );
        for (header, value) in [
            ("", ""),
            ("origin", "https://ide.example.com"),
            (
                "origin",
                &format!("http://localhost:{}", server.addr.port()),
            ),
            ("origin", &server.base),
            ("host", &format!("localhost:{}", server.addr.port())),
        ] {
            let r = send(header, value).await.unwrap();
            // Past the allow-lists, the page's form still takes only its own origin: it
            // refuses the others itself (its HTML, not the allow-lists' JSON).
            let page_refuses = own_form && value != server.base;
            let expected = if page_refuses { 403 } else { ok };
            assert_eq!(
                r.status(),
                expected,
                "{method} {path} with {header}: {value}"
            );
            if page_refuses {
                assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
            }
        }
    }
}

#[tokio::test]
async fn limits_batches_body_size_protocol_version_and_load() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/ds-connections",
        Reply::json(200, json!({})).delayed(Duration::from_millis(800)),
    );
    let server = start(&bigid_vars(&fake), |o| {
        o.max_body_bytes = 64 * 1024;
        o.max_in_flight = 1;
        o.queue_timeout = Duration::from_millis(100);
    })
    .await;
    let batch = json!([{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 2, "method": "ping"}]);
    let r = post(&server.url, &batch).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600,
            "message": "JSON-RPC batches are not supported: send one message per request"}})
    );
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x".repeat(100_000)}});
    let r = post(&server.url, &big).send().await.unwrap();
    assert_eq!(r.status(), 413);
    let r = post(
        &server.url,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    )
    .header("mcp-protocol-version", "1999-01-01")
    .send()
    .await
    .unwrap();
    assert_eq!(
        r.status(),
        400,
        "an unsupported protocol version is refused"
    );

    // One request at a time: a second one waits its turn, then is shed with 503.
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "bigid_list_data_sources", "arguments": {}}});
    let slow = tokio::spawn(post(&server.url, &call).send());
    while fake.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let shed = post(&server.url, &initialize()).send().await.unwrap();
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");
    assert_eq!(slow.await.unwrap().unwrap().status(), 200);
}

#[tokio::test]
async fn stateless_any_replica_answers_any_request() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/ds-connections",
        Reply::json(200, json!({"data": {"ds_connections": []}})),
    );
    let vars = bigid_vars(&fake);
    let (a, b) = (start(&vars, |_| {}).await, start(&vars, |_| {}).await);
    let init = post(&a.url, &initialize()).send().await.unwrap();
    assert_eq!(init.status(), 200);
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        session.starts_with("mcp-") && session.len() == 36,
        "{session}"
    );
    // The next requests go to the other replica, with and without the correlation id.
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "bigid_list_data_sources", "arguments": {}}});
    for with_session in [true, false] {
        let mut req = post(&b.url, &call);
        if with_session {
            req = req.header("mcp-session-id", &session);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["result"]["structuredContent"],
            json!({"items": []}),
            "{body}"
        );
    }
    // Nothing to terminate: DELETE is not allowed (the spec permits 405).
    let del = http()
        .delete(&b.url)
        .header("authorization", format!("Bearer {TOKEN}"))
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 405);
}

// ---- the binary -----------------------------------------------------------------------------------

async fn spawn_http(
    args: &[&str],
    vars: &[(&str, &str)],
) -> (
    tokio::process::Child,
    String,
    tokio::task::JoinHandle<String>,
) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(binary())
        .args(["--transport", "http"])
        .args(args)
        .env_clear()
        .envs(vars.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("the server starts")
            .unwrap()
            .unwrap_or_else(|| panic!("the server exited: {seen}"));
        seen.push_str(&line);
        seen.push('\n');
        if let Some(rest) = line.split(" at http://").nth(1) {
            break format!("http://{}", rest.split(' ').next().unwrap());
        }
    };
    let rest = tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    (child, url, rest)
}

#[tokio::test]
async fn start_up_rules_for_tokens_and_binds() {
    let run = |args: &[&str], vars: &[(&str, &str)]| {
        std::process::Command::new(binary())
            .args(["--transport", "http"])
            .args(args)
            .env_clear()
            .envs(vars.iter().copied())
            .output()
            .unwrap()
    };
    let out = run(&["--listen", "0.0.0.0:0"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "datasource-mcp: binding 0.0.0.0:0 (not loopback) needs DATASOURCE_MCP_HTTP_TOKEN set: refusing to serve without authentication\n"
    );
    let out = run(
        &["--listen", "0.0.0.0:0", "--no-auth"],
        &[("DATASOURCE_MCP_HTTP_TOKEN", TOKEN)],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("--no-auth is accepted only on a loopback address")
    );

    // Loopback without a token: one is generated and shown once.
    let (mut child, url, rest) = spawn_http(&["--listen", "127.0.0.1:0"], &[]).await;
    // The token line follows the address line: an answered probe means both were written.
    http()
        .get(url.replace("/mcp", "/healthz"))
        .send()
        .await
        .unwrap();
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let stderr = rest.await.unwrap();
    let shown: Vec<&str> = stderr.matches("Authorization: Bearer dsmcp-").collect();
    assert_eq!(shown.len(), 1, "{stderr}");
    // --no-auth on loopback works, with a warning.
    let (mut child, url, _rest) = spawn_http(&["--listen", "127.0.0.1:0", "--no-auth"], &[]).await;
    let r = http()
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(initialize().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    child.start_kill().unwrap();
}

/// SIGTERM with a call in flight: no new connections, the call finishes, exit 0.
#[tokio::test]
async fn graceful_shutdown_lets_a_call_in_flight_finish() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/ds-connections",
        Reply::json(200, json!({"data": {"ds_connections": [{"name": "late"}]}}))
            .delayed(Duration::from_millis(1500)),
    );
    let base = fake.url("/api");
    let (mut child, url, rest) = spawn_http(
        &["--listen", "127.0.0.1:0"],
        &[
            ("DATASOURCE_MCP_HTTP_TOKEN", TOKEN),
            ("BIGID_BASE_URL", &base),
            ("BIGID_ACCESS_TOKEN", "t"),
        ],
    )
    .await;
    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "bigid_list_data_sources", "arguments": {}}});
    let in_flight = tokio::spawn(post(&url, &call).send());
    while fake.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pid = child.id().unwrap().to_string();
    let started = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["result"]["structuredContent"],
        json!({"items": [{"id": "late", "name": "late", "type": null, "status": "untested"}]})
    );
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit 0 after draining: {status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let stderr = rest.await.unwrap();
    assert!(stderr.contains("shutting down: not accepting"), "{stderr}");
    // It no longer accepts connections.
    assert!(
        http()
            .get(url.replace("/mcp", "/healthz"))
            .send()
            .await
            .is_err()
    );
}

/// Over HTTP too, no secret in any log line at trace level: not the HTTP token, not a vendor
/// credential, not a password in arguments.
#[tokio::test]
async fn no_secret_in_the_http_logs_at_trace() {
    let fake = FakeUpstream::start().await;
    // The vendor echoes the password it was sent in the same call.
    fake.otherwise(Reply::json(
        500,
        json!({"message": format!("failed for {SENTINEL}")}),
    ));
    fake.on(
        "GET",
        "/api/ds-connections",
        Reply::json(503, json!({"message": "down"})),
    );
    let base = fake.url("/api");
    let (mut child, url, rest) = spawn_http(
        &["--listen", "127.0.0.1:0"],
        &[
            ("DATASOURCE_MCP_HTTP_TOKEN", TOKEN),
            ("BIGID_BASE_URL", &base),
            ("BIGID_ACCESS_TOKEN", "vendor-S3NT1NEL-credential"),
            ("RUST_LOG", "trace"),
        ],
    )
    .await;
    let ds = json!({"name": "orders", "type": "rdb-mysql", "password": SENTINEL});
    for (i, (tool, args)) in [
        ("bigid_create_data_source", json!({"ds_connection": ds})),
        (
            "bigid_test_data_source_connection",
            json!({"ds_connection": ds}),
        ),
        ("bigid_list_data_sources", json!({})),
    ]
    .into_iter()
    .enumerate()
    {
        let call = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": tool, "arguments": args}});
        let r = post(&url, &call).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        assert!(
            !text.contains(SENTINEL) && !text.contains("vendor-S3NT1NEL"),
            "{text}"
        );
    }
    child.start_kill().unwrap();
    let _ = child.wait().await;
    let stderr = rest.await.unwrap();
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "trace logging is on"
    );
    for secret in [SENTINEL, TOKEN, "vendor-S3NT1NEL-credential"] {
        assert!(!stderr.contains(secret), "stderr leaks {secret}:\n{stderr}");
    }
}
