//! Running it for a team: the audit log (what is recorded, never a secret, no line lost under
//! concurrency, stderr in stdio mode) and the Prometheus figures at `/metrics` (exact lines
//! after known calls, authentication).

use std::collections::HashMap;
use std::sync::Arc;

use crate::support::*;
use datasource_mcp::engine::audit::AuditLog;
use datasource_mcp::engine::{Engine, EngineSettings};
use datasource_mcp::providers;
use datasource_mcp::secret::SecretString;
use datasource_mcp::surfaces::server::{DataSourceServer, Selection};
use datasource_mcp::transport::http::{Auth, HttpOptions};
use serde_json::{Value, json};

const TOKEN: &str = "ops-bearer-token-0123456789";
/// The vendor credentials and a referenced secret: masked wherever they appear.
const VENDOR_CREDENTIAL: &str = "S3NT1NEL-ops-vendor-credential";
const REFERENCED: &str = "S3NT1NEL-ops-referenced";

/// A fresh file for one test's audit log.
fn audit_file(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "datasource-mcp-audit-{name}-{}.jsonl",
        datasource_mcp::secret::random_token("")
    ));
    let _ = std::fs::remove_file(&path);
    path
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Every vendor against one fake answering `{}` to everything, with sentinel credentials;
/// the examples' secret references set to a sentinel.
fn all_vendors(fake: &FakeUpstream) -> HashMap<String, String> {
    fake.otherwise(Reply::json(200, json!({})));
    let mut vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/bigid")),
        ("BIGID_ACCESS_TOKEN", VENDOR_CREDENTIAL),
        ("PDC_BASE_URL", &fake.url("/pdc")),
        ("PDC_ACCESS_TOKEN", VENDOR_CREDENTIAL),
        ("BIGDATA_BASE_URL", &fake.url("/bigdata")),
        ("BIGDATA_API_KEY", VENDOR_CREDENTIAL),
        ("DATABRAIN_BASE_URL", &fake.url("/databrain")),
        ("DATABRAIN_SERVICE_TOKEN", VENDOR_CREDENTIAL),
    ]);
    for name in [
        "ORDERS_DB_PASSWORD",
        "PDC_PG_PASSWORD",
        "ANALYTICS_PG_PASSWORD",
    ] {
        vars.insert(format!("DATASOURCE_MCP_SECRET_{name}"), REFERENCED.into());
    }
    vars
}

fn settings_with_audit(path: &std::path::Path) -> EngineSettings {
    EngineSettings {
        audit: Some(Arc::new(AuditLog::open(path.to_str().unwrap()).unwrap())),
        ..EngineSettings::from(fast_settings())
    }
}

/// Every string in `args` replaced: under a secret-like key by `secret`, under any other key
/// by what `other` makes of the key.
fn replace_strings(args: &mut Value, secret: &str, other: &mut impl FnMut(&str) -> String) {
    fn walk(v: &mut Value, key: &str, secret: &str, other: &mut impl FnMut(&str) -> String) {
        match v {
            Value::String(s) => {
                *s = if datasource_mcp::redact::is_secret_key(key) {
                    secret.to_string()
                } else {
                    other(key)
                }
            }
            Value::Object(map) => {
                for (k, v) in map.iter_mut() {
                    let k = k.clone();
                    walk(v, &k, secret, other);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| walk(v, key, secret, other)),
            _ => {}
        }
    }
    walk(args, "", secret, other);
}

/// The README's list of target keys (a Bigdata.com connector's `label` among them: issue 29
/// found its creates named nothing).
const TARGET_KEYS: [&str; 6] = [
    "name",
    "id",
    "connector_id",
    "datasource_id",
    "resourceName",
    "label",
];

/// Sentinel secrets in every argument position of every tool: no audit line holds one, while
/// every change and every refusal is recorded, and plain names are.
#[tokio::test]
async fn the_audit_log_records_changes_and_refusals_and_never_a_secret() {
    let fake = FakeUpstream::start().await;
    let vars = all_vendors(&fake);
    let path = audit_file("sentinels");
    let client = client_selected(&vars, settings_with_audit(&path), &Selection::default()).await;
    let mut expected = 0;
    let mut plain_targets = Vec::new();
    for op in providers::operations() {
        let example: Value = serde_json::from_str(op.example).unwrap();
        if op.mutates() {
            // 1. The example as is (its references resolve to a sentinel), as a dry run and sent.
            let mut dry = example.clone();
            dry["dry_run"] = json!(true);
            call_raw(&client, op.name, dry).await.unwrap();
            call_raw(&client, op.name, example.clone()).await.unwrap();
            // 2. A sentinel password under every secret-like key, a sentinel in every other
            //    position but the target's.
            let mut n = 0;
            let mut args = example.clone();
            replace_strings(&mut args, "S3NT1NEL-ops-argument-password", &mut |key| {
                if TARGET_KEYS.contains(&key) {
                    format!("plain-{key}")
                } else {
                    n += 1;
                    format!("S3NT1NEL-ops-other-{n}")
                }
            });
            call_raw(&client, op.name, args).await.unwrap();
            // 3. The vendor's credential as every string, targets included: masked by value.
            let mut args = example.clone();
            replace_strings(&mut args, VENDOR_CREDENTIAL, &mut |_| {
                VENDOR_CREDENTIAL.to_string()
            });
            call_raw(&client, op.name, args).await.unwrap();
            expected += 4;
            if example.to_string().contains("\"name\"") {
                plain_targets.push(op.name);
            }
        } else {
            // A read refused (an unknown argument), with secrets in it: recorded, no secret.
            let args = json!({"password": "S3NT1NEL-ops-refused-password",
                "name": VENDOR_CREDENTIAL, "nonsense": "S3NT1NEL-ops-refused-other"});
            let result = call_raw(&client, op.name, args).await.unwrap();
            assert_eq!(result.is_error, Some(true), "{}", op.name);
            expected += 1;
        }
    }
    // A tool that does not exist is refused too.
    assert!(
        call_raw(&client, "no_such_tool", json!({"password": "S3NT1NEL-x"}))
            .await
            .is_err()
    );
    expected += 1;
    client.cancel().await.unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("S3NT1NEL"),
        "the audit log holds a sentinel:\n{text}"
    );
    let lines = lines(&path);
    assert_eq!(lines.len(), expected, "{text}");
    for line in &lines {
        // `references`: the secrets a call sent (names, never values), only where it sent one.
        let keys: Vec<&String> = line
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k != "references")
            .collect();
        assert_eq!(
            keys,
            [
                "acting",
                "caller",
                "correlation_id",
                "dry_run",
                "duration_ms",
                "outcome",
                "target",
                "time",
                "tool",
                "vendor_status"
            ],
            "{line}"
        );
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
    }
    // Refused reads, by code.
    let refused = lines
        .iter()
        .filter(|l| l["outcome"] == "INVALID_ARGUMENT")
        .count();
    assert!(refused >= tool_count(|op| !op.mutates()), "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l["tool"] == "no_such_tool" && l["outcome"] == "UNKNOWN_TOOL")
    );
    // Dry runs are said to be; plain names are shown as the target.
    assert_eq!(
        lines.iter().filter(|l| l["dry_run"] == true).count(),
        tool_count(|op| op.mutates())
    );
    let creates: Vec<&Value> = lines
        .iter()
        .filter(|l| l["tool"] == "bigid_create_data_source")
        .map(|l| &l["target"]["ds_connection.name"])
        .collect();
    assert_eq!(
        creates,
        [
            &json!("Orders (EU)"),
            &json!("Orders (EU)"),
            &json!("plain-name"),
            &json!("***")
        ],
        "the example (dry run, sent), plain names, the credential as the name"
    );
    assert!(!plain_targets.is_empty());
    // A Bigdata.com connector is named by its label (it has no name).
    let labels: Vec<&Value> = lines
        .iter()
        .filter(|l| l["tool"] == "bigdata_create_connector")
        .map(|l| &l["target"]["label"])
        .collect();
    assert!(labels.contains(&&json!("plain-label")), "{labels:?}");
    assert!(labels.iter().all(|l| l.is_string()), "{labels:?}");
    // A change the vendor answered has its status.
    assert!(
        lines
            .iter()
            .any(|l| l["outcome"] == "ok" && l["dry_run"] == false && l["vendor_status"] == 200),
        "{text}"
    );
    let _ = std::fs::remove_file(&path);
}

/// 50 changes at once: 50 lines, each whole JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_calls_make_fifty_whole_lines() {
    let fake = FakeUpstream::start().await;
    let vars = all_vendors(&fake);
    let path = audit_file("concurrent");
    let client =
        Arc::new(client_selected(&vars, settings_with_audit(&path), &Selection::default()).await);
    let op = providers::operation("bigid_create_data_source").unwrap();
    let example: Value = serde_json::from_str(op.example).unwrap();
    let calls = (0..50).map(|i| {
        let client = client.clone();
        let mut args = example.clone();
        args["ds_connection"]["name"] = json!(format!("concurrent-{i}"));
        async move { call_raw(&client, op.name, args).await.unwrap() }
    });
    futures_util::future::join_all(calls).await;
    let lines = lines(&path);
    assert_eq!(lines.len(), 50);
    let mut names: Vec<String> = lines
        .iter()
        .map(|l| {
            l["target"]["ds_connection.name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 50, "each call once");
    let _ = std::fs::remove_file(&path);
}

/// In stdio mode `--audit-log -` writes to stderr; stdout stays JSON-RPC only.
#[tokio::test]
async fn stdio_audits_to_stderr_and_keeps_stdout_clean() {
    let mut lines = handshake();
    lines.push(rpc(
        1,
        "tools/call",
        json!({"name": "bigid_create_data_source", "arguments": {"ds_connection": {"name": "Audited", "type": "rdb-mysql", "rdb_url": "db.example.com:3306", "username": "u", "password": "S3NT1NEL-stdio-password"}, "dry_run": true}}),
    ));
    let (stdout, stderr, _) = run_stdio(
        &["--sandbox", "--audit-log", "-"],
        &[("RUST_LOG", "warn")],
        &lines,
    )
    .await;
    let answers = assert_jsonrpc_only(&stdout);
    assert_eq!(answers.len(), 2);
    assert!(!stdout.contains("\"caller\""));
    let audit: Vec<Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("caller").is_some())
        .collect();
    assert_eq!(audit.len(), 1, "{stderr}");
    assert_eq!(audit[0]["caller"], "stdio");
    assert_eq!(audit[0]["tool"], "bigid_create_data_source");
    assert_eq!(audit[0]["target"], json!({"ds_connection.name": "Audited"}));
    assert_eq!(audit[0]["dry_run"], true);
    assert_eq!(audit[0]["outcome"], "ok");
    assert!(
        audit[0]["correlation_id"]
            .as_str()
            .unwrap()
            .starts_with("stdio-")
    );
    assert!(!stderr.contains("S3NT1NEL"));
}

// ---- HTTP: caller, correlation id, /metrics ----------------------------------------------------

async fn start(
    vars: &HashMap<String, String>,
    settings: EngineSettings,
    tweak: impl FnOnce(&mut HttpOptions),
) -> RunningHttp {
    let configs = providers::configure_all(vars).unwrap();
    let engine = Arc::new(Engine::new(configs, settings, Arc::new(vars.clone())));
    let server = DataSourceServer::new(engine, &Selection::default());
    let mut opts = HttpOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        Auth::Bearer(SecretString::new(TOKEN)),
    );
    tweak(&mut opts);
    serve_http(server, opts).await
}

/// A raw 2025-era tools/call over HTTP.
async fn http_call(
    base: &str,
    token: &str,
    session: Option<&str>,
    tool: &str,
    args: Value,
) -> (u16, Value) {
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": tool, "arguments": args}});
    let mut req = http()
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {token}"))
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string());
    if let Some(id) = session {
        req = req.header("mcp-session-id", id);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn over_http_the_caller_and_correlation_id_are_recorded() {
    let fake = FakeUpstream::start().await;
    let vars = all_vendors(&fake);
    let path = audit_file("http");
    let server = start(&vars, settings_with_audit(&path), |_| {}).await;
    let args = json!({"ds_connection": {"name": "Via HTTP", "type": "rdb-mysql",
        "rdb_url": "db.example.com:3306", "username": "u", "password": "S3NT1NEL-http"}});
    let (status, _) = http_call(
        &server.base,
        TOKEN,
        Some("mcp-session-abc"),
        "bigid_create_data_source",
        args,
    )
    .await;
    assert_eq!(status, 200);
    // Without a session (the 2026 era, or a client that sends none): an id per request.
    let (status, _) = http_call(
        &server.base,
        TOKEN,
        None,
        "bigid_delete_data_source",
        json!({"name": "Gone", "dry_run": true}),
    )
    .await;
    assert_eq!(status, 200);
    let lines = lines(&path);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["caller"], "static token");
    assert_eq!(lines[0]["correlation_id"], "mcp-session-abc");
    assert_eq!(
        lines[0]["target"],
        json!({"ds_connection.name": "Via HTTP"})
    );
    assert_eq!(lines[0]["outcome"], "ok");
    assert_eq!(lines[0]["vendor_status"], 200);
    assert_eq!(lines[1]["target"], json!({"name": "Gone"}));
    assert_eq!(lines[1]["dry_run"], true);
    assert!(
        lines[1]["correlation_id"]
            .as_str()
            .unwrap()
            .starts_with("req-")
    );
    assert!(!std::fs::read_to_string(&path).unwrap().contains("S3NT1NEL"));
    let _ = std::fs::remove_file(&path);
}

async fn scrape(base: &str, token: Option<&str>) -> (u16, String, Option<String>) {
    let mut req = http().get(format!("{base}/metrics"));
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, r.text().await.unwrap(), ct)
}

/// After known calls, exactly these lines; /metrics needs the bearer token.
#[tokio::test]
async fn metrics_count_calls_latency_retries_and_auth_failures() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/ds-connections",
        Reply::json(200, json!({"data": {"ds_connections": []}})),
    );
    // One transient failure, retried once.
    fake.once("GET", "/api/ds-connections", Reply::json(503, json!({})));
    // A vendor 401 for one read.
    fake.on(
        "GET",
        "/api/ds_connections/Locked",
        Reply::json(401, json!({"message": "no"})),
    );
    // BigID's refusal of a token: HTTP 200, `success: false`; counted like a 401.
    fake.on(
        "GET",
        "/api/ds_connections/Refused",
        Reply::text(
            200,
            r#"{"success":false,"message":"Failed to authenticate token."}"#,
        )
        .with_header("content-type", "text/html; charset=utf-8"),
    );
    let vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/api")),
        ("BIGID_ACCESS_TOKEN", "ops-vendor-token"),
    ]);
    let server = start(&vars, EngineSettings::from(fast_settings()), |_| {}).await;
    let base = &server.base;

    let list = "bigid_list_data_sources";
    assert_eq!(http_call(base, TOKEN, None, list, json!({})).await.0, 200);
    assert_eq!(http_call(base, TOKEN, None, list, json!({})).await.0, 200);
    assert_eq!(
        http_call(base, TOKEN, None, list, json!({"limit": 0}))
            .await
            .0,
        200
    );
    let get = "bigid_get_data_source";
    http_call(base, TOKEN, None, get, json!({"name": "Locked"})).await;
    http_call(base, TOKEN, None, get, json!({"name": "Refused"})).await;
    http_call(base, TOKEN, None, "no_such_tool", json!({})).await;
    // A wrong token: 401, counted.
    assert_eq!(
        http_call(base, "wrong-token-wrong-token", None, list, json!({}))
            .await
            .0,
        401
    );

    // Authentication as for /mcp: none or a wrong token is refused (and counted).
    assert_eq!(scrape(base, None).await.0, 401);
    let (status, text, content_type) = scrape(base, Some(TOKEN)).await;
    assert_eq!(status, 200);
    assert_eq!(
        content_type.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let want = [
        "# TYPE datasource_mcp_calls_total counter",
        "datasource_mcp_calls_total{tool=\"(unknown)\",outcome=\"UNKNOWN_TOOL\"} 1",
        "datasource_mcp_calls_total{tool=\"bigid_get_data_source\",outcome=\"AUTHENTICATION_FAILED\"} 1",
        "datasource_mcp_calls_total{tool=\"bigid_get_data_source\",outcome=\"VENDOR_ERROR\"} 1",
        "datasource_mcp_calls_total{tool=\"bigid_list_data_sources\",outcome=\"INVALID_ARGUMENT\"} 1",
        "datasource_mcp_calls_total{tool=\"bigid_list_data_sources\",outcome=\"ok\"} 2",
        "# TYPE datasource_mcp_vendor_request_duration_seconds histogram",
        // Three attempts for the two lists (one retried) and one for each get.
        "datasource_mcp_vendor_request_duration_seconds_bucket{provider=\"bigid\",le=\"+Inf\"} 5",
        "datasource_mcp_vendor_request_duration_seconds_count{provider=\"bigid\"} 5",
        "# TYPE datasource_mcp_retries_total counter",
        "datasource_mcp_retries_total{provider=\"bigid\"} 1",
        "# TYPE datasource_mcp_auth_failures_total counter",
        "datasource_mcp_auth_failures_total{source=\"client\"} 2",
        "datasource_mcp_auth_failures_total{source=\"vendor\",provider=\"bigid\"} 2",
        "# TYPE datasource_mcp_in_flight_requests gauge",
        "datasource_mcp_in_flight_requests 0",
    ];
    for line in want {
        assert!(text.lines().any(|l| l == line), "{line}\nnot in:\n{text}");
    }
    // Exactly these samples (the histogram's buckets aside).
    let samples: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.contains("_bucket{") && !l.contains("_sum{"))
        .collect();
    let expected: Vec<&str> = want
        .iter()
        .copied()
        .filter(|l| !l.starts_with('#') && !l.contains("_bucket{"))
        .collect();
    assert_eq!(samples, expected, "{text}");
    // Every line is a comment or `name{labels} value`.
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = l.rsplit_once(' ').unwrap();
        value.parse::<f64>().unwrap();
    }
}

#[tokio::test]
async fn metrics_can_be_made_public() {
    let fake = FakeUpstream::start().await;
    let vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/api")),
        ("BIGID_ACCESS_TOKEN", "ops-vendor-token"),
    ]);
    let server = start(&vars, EngineSettings::default(), |o| {
        o.metrics_public = true
    })
    .await;
    let (status, text, _) = scrape(&server.base, None).await;
    assert_eq!(status, 200);
    assert!(text.contains("datasource_mcp_in_flight_requests 0\n"));
    // /mcp still needs the token.
    let (status, _) = http_call(&server.base, "nope-nope-nope-nope", None, "x", json!({})).await;
    assert_eq!(status, 401);
}
