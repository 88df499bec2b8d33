//! The second outside attack, each finding as a test: where a secret's value may go (name
//! fields, other hosts, other callers, the place in a connection string), masking that cut
//! texts before masking them or missed a token the exchange repeated, and limits on the new
//! paths (errors, progress, waits, job ids from the vendor, the inventory's fetches, the audit
//! target).

use crate::support::*;
use datasource_mcp::upstream::UpstreamSettings;
use serde_json::{Value, json};

/// A credential the server holds (so it is masked by value), of characters unlike the filler
/// around it: any prefix of it that survives a cut shows.
const PDC_PASSWORD: &str = "Zq8-S3NT1NEL-cut-9vW";

fn pdc_vars(fake: &FakeUpstream) -> std::collections::HashMap<String, String> {
    env(&[
        ("PDC_BASE_URL", &fake.url("/pdc")),
        ("PDC_USERNAME", "catalog-admin"),
        ("PDC_PASSWORD", PDC_PASSWORD),
    ])
}

/// No five characters of the password in a row survive.
fn assert_no_prefix(what: &str, text: &str) {
    for start in 0..PDC_PASSWORD.len() - 5 {
        let piece = &PDC_PASSWORD[start..start + 5];
        assert!(!text.contains(piece), "{what} keeps {piece:?}:\n{text}");
    }
}

fn login(fake: &FakeUpstream) {
    fake.on(
        "POST",
        "/pdc/auth",
        Reply::json(
            200,
            json!({"data": {"accessToken": "tok-0123456789abcdef-pdc"}}),
        ),
    );
}

/// Item 7: an error message is cut at 500 characters after masking, so a secret straddling
/// the cut leaves nothing behind (before, its first 15 characters did).
#[tokio::test]
async fn an_error_message_is_masked_before_it_is_cut() {
    let fake = FakeUpstream::start().await;
    login(&fake);
    let filler = "x".repeat(485);
    fake.on(
        "GET",
        "/pdc/data-sources/x1",
        Reply::text(400, &format!("{filler}{PDC_PASSWORD} was refused")),
    );
    let client = client_with(&pdc_vars(&fake), UpstreamSettings::default()).await;
    let (result, is_error) = call(&client, "pdc_get_data_source", json!({"id": "x1"})).await;
    assert!(is_error);
    let message = result["error"]["message"].as_str().unwrap();
    assert_no_prefix("the error", &result.to_string());
    assert!(
        message == format!("{filler}*** was refused"),
        "{} chars",
        message.len()
    );
}

/// Item 7: the trace cuts an answer's text at 64 K after masking it.
#[tokio::test]
async fn a_trace_line_is_masked_before_it_is_cut() {
    let fake = FakeUpstream::start().await;
    login(&fake);
    let filler = "y".repeat(64 * 1024 - 15);
    fake.on(
        "GET",
        "/pdc/data-sources/x1",
        Reply::text(200, &format!("{filler}{PDC_PASSWORD} and more")),
    );
    let file = std::env::temp_dir().join(format!("dsmcp-cut-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let out = tokio::process::Command::new(binary())
        .args(["call", "pdc_get_data_source", "id=x1", "--trace-vendor"])
        .arg(&file)
        .env_clear()
        .envs(pdc_vars(&fake))
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&file).unwrap();
    assert_no_prefix("the trace", &text);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines[1]["response"]["body"] == json!(format!("{filler}*** and more")),
        "the trace keeps the masked text whole"
    );
}

/// Item 8: a token exchange's answer that repeats the token it issues (in a message, under an
/// ordinary key) is masked in its own trace line, before the token is registered.
#[tokio::test]
async fn the_trace_masks_a_token_its_own_exchange_repeats() {
    let fake = FakeUpstream::start().await;
    let token = "eyJ0b2tlbiI6InMzbnQxbmVsIn0.Zq8vW-session-S3NT1NEL";
    fake.on(
        "GET",
        "/bigid/refresh-access-token",
        Reply::json(
            200,
            json!({"success": true, "systemToken": token, "note": format!("issued {token} for 1 h")}),
        ),
    );
    fake.on(
        "GET",
        "/bigid/ds_connections/Orders",
        Reply::json(200, json!({"ds_connection": {"name": "Orders"}})),
    );
    let file = std::env::temp_dir().join(format!("dsmcp-tok-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let out = tokio::process::Command::new(binary())
        .args([
            "call",
            "bigid_get_data_source",
            "name=Orders",
            "--trace-vendor",
        ])
        .arg(&file)
        .env_clear()
        .env("BIGID_BASE_URL", fake.url("/bigid"))
        .env("BIGID_USER_TOKEN", "user-token-S3NT1NEL-0123456789")
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("S3NT1NEL"), "{text}");
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["response"]["body"]["note"], "issued *** for 1 h");
}

// ---- where a secret's value may go (items 1-5) -------------------------------------------

fn bigid_fake_vars(fake: &FakeUpstream) -> std::collections::HashMap<String, String> {
    env(&[
        ("BIGID_BASE_URL", &fake.url("/api/v1")),
        ("BIGID_ACCESS_TOKEN", "bigid-session-token-dest"),
    ])
}

fn test_args(host: &str, secret: &str) -> Value {
    json!({"ds_connection": {"name": "Orders", "type": "rdb-mysql", "rdb_url": format!("{host}:3306"),
        "username": "scan", "password": format!("${{secret:{secret}}}")}})
}

/// The bodies the fake received that carry `value` anywhere.
fn carrying(fake: &FakeUpstream, value: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.body.contains(value))
        .count()
}

/// Item 2: a value typed on the page is used for the caller and the hosts the page showed;
/// the read-only connection test to another host asks again instead of sending it there.
#[tokio::test]
async fn a_typed_value_goes_only_to_the_hosts_the_page_showed() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "POST",
        "/api/v1/ds-connection-test",
        Reply::json(200, json!({"success": true})),
    );
    let vars = bigid_fake_vars(&fake);
    let (client, _intake) =
        intake_client(&vars, datasource_mcp::intake::IntakeSettings::default()).await;
    let (first, _) = call(
        &client,
        "bigid_test_data_source_connection",
        test_args("db.example.com", "TYPED_DEST"),
    )
    .await;
    assert_eq!(first["error"]["code"], "SECRET_NEEDED", "{first}");
    let link = link_in(first["error"]["hint"].as_str().unwrap()).unwrap();
    let page = open(&link).await;
    assert!(
        page.html
            .contains("<dt>Sent to</dt><dd>db.example.com</dd>"),
        "{}",
        page.html
    );
    let value = "typed-S3NT1NEL-dest-value";
    assert_eq!(enter(&link, value).await.status, 200);
    // The same host: sent.
    let (ok, is_error) = call(
        &client,
        "bigid_test_data_source_connection",
        test_args("db.example.com", "TYPED_DEST"),
    )
    .await;
    assert!(!is_error, "{ok}");
    assert_eq!(carrying(&fake, value), 1);
    // Another host: asked again, with a new link naming that host; nothing sent there.
    let (again, _) = call(
        &client,
        "bigid_test_data_source_connection",
        test_args("attacker.example", "TYPED_DEST"),
    )
    .await;
    assert_eq!(again["error"]["code"], "SECRET_NEEDED", "{again}");
    let second = link_in(again["error"]["hint"].as_str().unwrap()).unwrap();
    assert_ne!(second, link);
    assert!(
        open(&second)
            .await
            .html
            .contains("<dd>attacker.example</dd>")
    );
    assert_eq!(carrying(&fake, value), 1, "nothing more was sent");
}

/// Items 2 and 3 over HTTP with OAuth: a value one subject typed is not used for another
/// (even with the read scope, through the read-only test), a configured secret bound to hosts
/// goes nowhere else, and a caller with only the read scope may not send an unbound secret to
/// a host of its choosing. Item 4: each call that sends a secret is an audit line.
#[tokio::test]
async fn over_http_a_secret_is_bound_to_its_caller_and_its_hosts() {
    use datasource_mcp::engine::{EngineSettings, audit::AuditLog};
    use datasource_mcp::intake::{Intake, IntakeSettings, Serving};
    use datasource_mcp::surfaces::server::{DataSourceServer, Selection};
    use datasource_mcp::transport::http::{Auth, HttpOptions};
    use datasource_mcp::transport::oauth::OAuthConfig;
    let fake = FakeUpstream::start().await;
    fake.on(
        "POST",
        "/api/v1/ds-connection-test",
        Reply::json(200, json!({"success": true})),
    );
    let mut vars = bigid_fake_vars(&fake);
    vars.insert(
        "DATASOURCE_MCP_SECRET_PROD_DB".into(),
        "prod-S3NT1NEL-pw".into(),
    );
    vars.insert(
        "DATASOURCE_MCP_HOSTS_PROD_DB".into(),
        "db.prod.example.com".into(),
    );
    vars.insert(
        "DATASOURCE_MCP_SECRET_FREE_DB".into(),
        "free-S3NT1NEL-pw".into(),
    );
    let audit = std::env::temp_dir().join(format!(
        "dsmcp-audit-dest-{}.jsonl",
        datasource_mcp::secret::random_token("")
    ));
    let settings = EngineSettings {
        audit: Some(std::sync::Arc::new(
            AuditLog::open(audit.to_str().unwrap()).unwrap(),
        )),
        ..EngineSettings::from(UpstreamSettings::default())
    };
    let intake = Intake::new(IntakeSettings::default(), Serving::Mounted(None));
    let engine = datasource_mcp::engine::Engine::new(
        datasource_mcp::providers::configure_all(&vars).unwrap(),
        settings,
        std::sync::Arc::new(vars.clone()),
    )
    .with_intake(intake.clone());
    let key = SigningKey::es256("ec-dest");
    let issuer = TestIssuer::start(&[&key]).await;
    let server = DataSourceServer::new(std::sync::Arc::new(engine), &Selection::default());
    let opts = HttpOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        Auth::OAuth(Box::new(OAuthConfig::new(issuer.url.clone()))),
    );
    let server = serve_http(server, opts).await;
    let token = |sub: &str, scope: &str| {
        key.sign(
            &json!({"iss": issuer.url, "aud": server.url, "sub": sub, "iat": now(),
            "exp": now() + 300, "scope": scope}),
        )
    };
    let alice = token("alice", "datasource:write");
    let mallory = token("mallory", "datasource:read");
    let tool_call = |args: Value| {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "bigid_test_data_source_connection", "arguments": args}})
    };
    let post = |token: String, body: Value| {
        let url = server.url.clone();
        async move {
            let r = http()
                .post(&url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-11-25")
                .header("authorization", format!("Bearer {token}"))
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let body: Value = r.json().await.unwrap();
            body["result"]["structuredContent"].clone()
        }
    };
    // Alice types a value for db.example.com.
    let asked = post(
        alice.clone(),
        tool_call(test_args("db.example.com", "ALICE_PW")),
    )
    .await;
    assert_eq!(asked["error"]["code"], "SECRET_NEEDED", "{asked}");
    let link = link_in(asked["error"]["hint"].as_str().unwrap()).unwrap();
    let typed = "alice-S3NT1NEL-typed";
    assert_eq!(enter(&link, typed).await.status, 200);
    let used = post(
        alice.clone(),
        tool_call(test_args("db.example.com", "ALICE_PW")),
    )
    .await;
    assert_eq!(used["success"], true, "{used}");
    // Mallory, read scope, same arguments, then her own host: never Alice's value.
    for host in ["db.example.com", "mallory.example"] {
        let r = post(mallory.clone(), tool_call(test_args(host, "ALICE_PW"))).await;
        assert_eq!(r["error"]["code"], "SECRET_NEEDED", "{r}");
    }
    assert_eq!(carrying(&fake, typed), 1);
    // A configured secret bound to db.prod.example.com: to its host, fine for both scopes;
    // to another, refused for both.
    for token in [&alice, &mallory] {
        let ok = post(
            token.clone(),
            tool_call(test_args("db.prod.example.com", "PROD_DB")),
        )
        .await;
        assert_eq!(ok["success"], true, "{ok}");
        let refused = post(
            token.clone(),
            tool_call(test_args("mallory.example", "PROD_DB")),
        )
        .await;
        assert_eq!(refused["error"]["code"], "SECRET_NOT_ALLOWED", "{refused}");
        assert_eq!(refused["error"]["field"], "ds_connection.password");
    }
    // An unbound configured secret: the write scope may choose the host, the read scope not.
    let ok = post(
        alice.clone(),
        tool_call(test_args("db.example.com", "FREE_DB")),
    )
    .await;
    assert_eq!(ok["success"], true, "{ok}");
    let refused = post(
        mallory.clone(),
        tool_call(test_args("mallory.example", "FREE_DB")),
    )
    .await;
    assert_eq!(refused["error"]["code"], "SECRET_NOT_ALLOWED", "{refused}");
    assert_eq!(carrying(&fake, "prod-S3NT1NEL-pw"), 2);
    assert_eq!(carrying(&fake, "free-S3NT1NEL-pw"), 1);
    // Item 4: every call that sent a secret, read-only tool included, is an audit line naming
    // the caller, the tool, the secret and the host; the refusals are lines too.
    let text = std::fs::read_to_string(&audit).unwrap();
    let _ = std::fs::remove_file(&audit);
    assert!(!text.contains("S3NT1NEL"), "{text}");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sent: Vec<(String, String, String)> = lines
        .iter()
        .filter(|l| l["outcome"] == "ok")
        .map(|l| {
            (
                l["caller"].as_str().unwrap().to_string(),
                l["references"][0]["name"].as_str().unwrap().to_string(),
                l["references"][0]["hosts"][0].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = |c: &str, n: &str, h: &str| (c.to_string(), n.to_string(), h.to_string());
    assert_eq!(
        sent,
        [
            expect("alice", "ALICE_PW", "db.example.com"),
            expect("alice", "PROD_DB", "db.prod.example.com"),
            expect("mallory", "PROD_DB", "db.prod.example.com"),
            expect("alice", "FREE_DB", "db.example.com"),
        ]
    );
    for line in lines.iter().filter(|l| l["outcome"] == "ok") {
        assert_eq!(line["tool"], "bigid_test_data_source_connection");
        assert_eq!(line["references"][0]["field"], "ds_connection.password");
    }
    let refused = lines
        .iter()
        .filter(|l| l["outcome"] == "SECRET_NOT_ALLOWED")
        .count();
    assert_eq!(refused, 3);
}

/// Item 5: a value is written for its place — percent-encoded in a URL's user information,
/// quoted in a connection string — and the dry run says how.
#[tokio::test]
async fn a_value_is_encoded_for_its_place_on_the_wire() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "POST",
        "/api/v1/ds-connection-test",
        Reply::json(200, json!({"success": true})),
    );
    let mut vars = bigid_fake_vars(&fake);
    vars.insert(
        "DATASOURCE_MCP_SECRET_AT_PW".into(),
        "Pa55@files.example.net/#".into(),
    );
    let client = client_with(&vars, UpstreamSettings::default()).await;
    let args = json!({"ds_connection": {"name": "Orders", "type": "rdb-mysql",
        "rdb_url": "mysql://scan:${secret:AT_PW}@db.example.com:3306/orders"}});
    let mut dry = args.clone();
    dry["dry_run"] = json!(true);
    let (plan, is_error) = call(&client, "bigid_create_data_source", dry).await;
    assert!(!is_error, "{plan}");
    assert_eq!(
        plan["references"],
        json!([{"field": "ds_connection.rdb_url", "reference": "${secret:AT_PW}",
            "written": "percent-encoded (the password of the URL's user information)",
            "from": "the environment (DATASOURCE_MCP_SECRET_AT_PW)"}])
    );
    let (result, is_error) = call(&client, "bigid_test_data_source_connection", args).await;
    assert!(!is_error, "{result}");
    let sent = fake.requests().last().unwrap().json();
    assert_eq!(
        sent["ds_connection"]["rdb_url"],
        "mysql://scan:Pa55%40files.example.net%2F%23@db.example.com:3306/orders"
    );
}

/// Item 1: a reference in a name-like field is refused wherever it sits (DataBrain's
/// datasource name inside `credentials`), and nothing is sent.
#[tokio::test]
async fn a_reference_in_a_name_is_refused_wherever_it_sits() {
    let fake = FakeUpstream::start().await;
    let mut vars = env(&[
        ("DATABRAIN_BASE_URL", &fake.url("/db")),
        ("DATABRAIN_SERVICE_TOKEN", "databrain-token-0123456789"),
    ]);
    vars.insert(
        "DATASOURCE_MCP_SECRET_ORACLE".into(),
        "oracle-S3NT1NEL".into(),
    );
    let client = client_with(&vars, UpstreamSettings::default()).await;
    for dry_run in [true, false] {
        let (result, is_error) = call(
            &client,
            "databrain_create_datasource",
            json!({"datasourceType": "postgres", "dry_run": dry_run,
                "credentials": {"name": "${secret:ORACLE}", "host": "pg.example.com", "port": 5432,
                    "username": "u", "password": "${secret:ORACLE}", "database": "d", "schema": "public"}}),
        )
        .await;
        assert!(is_error, "{result}");
        assert_eq!(result["error"]["code"], "INVALID_ARGUMENT");
        assert_eq!(result["error"]["field"], "credentials.name");
    }
    assert!(fake.requests().is_empty());
}

/// Item 1: the inventory's filters run on what the caller would see. A connector whose label
/// holds a secret's value (written there before names refused references) is masked, and a
/// name filter that would match the hidden text matches nothing: no character of the value
/// can be recovered by filtering. Item 18: a list the vendor answers whole is fetched once.
#[tokio::test]
async fn the_inventory_filters_masked_rows_and_fetches_a_whole_list_once() {
    let fake = FakeUpstream::start().await;
    let connectors: Vec<Value> = (0..1200)
        .map(|n| {
            let label = if n == 7 {
                "hunter2-S3NT1NEL-oracle inbox".to_string()
            } else {
                format!("inbox-{n:04}")
            };
            json!({"connector_id": format!("0b16da7a-5eed-4000-8000-{n:012}"), "label": label,
                "type": "email", "archived": false})
        })
        .collect();
    fake.on(
        "GET",
        "/bigdata/contents/v1/connectors",
        Reply::json(200, json!({"results": connectors})),
    );
    let mut vars = env(&[
        ("BIGDATA_BASE_URL", &fake.url("/bigdata")),
        ("BIGDATA_API_KEY", "bigdata-key-oracle-0123"),
    ]);
    vars.insert(
        "DATASOURCE_MCP_SECRET_ORACLE_PW".into(),
        "hunter2-S3NT1NEL-oracle".into(),
    );
    let client = client_with(&vars, UpstreamSettings::default()).await;
    for pattern in ["hunter2*", "h*", "*S3NT1NEL*", "*oracle*"] {
        let (page, is_error) = call(
            &client,
            "inventory_list_data_sources",
            json!({"name": pattern}),
        )
        .await;
        assert!(!is_error, "{page}");
        assert_eq!(page["items"], json!([]), "{pattern}: {page}");
    }
    let (all, _) = call(
        &client,
        "inventory_list_data_sources",
        json!({"limit": 1000}),
    )
    .await;
    assert_eq!(all["total"], 1200);
    assert!(!all.to_string().contains("S3NT1NEL"));
    assert_eq!(all["errors"], json!([]), "{}", all["errors"]);
    // Five calls, five fetches: one each, though 1,200 rows are more than one page of 1,000.
    assert_eq!(fake.count("GET"), 5);
}

/// Item 15: the result budget bounds errors too: a vendor 400 with a 300 KB message is an
/// error of a few hundred bytes, under a small budget as under the default.
#[tokio::test]
async fn an_error_stays_within_the_result_budget() {
    use datasource_mcp::engine::EngineSettings;
    let fake = FakeUpstream::start().await;
    login(&fake);
    fake.on(
        "GET",
        "/pdc/data-sources/x1",
        Reply::json(
            400,
            json!({"status": 400, "message": "m".repeat(300_000),
            "requestId": "r".repeat(50_000)}),
        ),
    );
    for budget in [64 * 1024, 2_000] {
        let settings = EngineSettings {
            max_result_bytes: budget,
            ..EngineSettings::from(UpstreamSettings::default())
        };
        let client = client_selected(
            &pdc_vars(&fake),
            settings,
            &datasource_mcp::surfaces::server::Selection::default(),
        )
        .await;
        let result = call_raw(&client, "pdc_get_data_source", json!({"id": "x1"}))
            .await
            .unwrap();
        let text = serde_json::to_string(&result).unwrap();
        // The structured error and its text block, each within the budget.
        let structured = serde_json::to_string(&result.structured_content).unwrap();
        assert!(
            structured.len() <= budget,
            "{} > {budget}",
            structured.len()
        );
        assert!(text.len() <= 2 * budget + 512, "{}", text.len());
        let error = &result.structured_content.as_ref().unwrap()["error"];
        assert_eq!(error["status"], 400);
        assert!(error["message"].as_str().unwrap().starts_with("mmm"));
    }
}

fn stored_pdc_source() -> Value {
    json!({"status": 200, "data": {"_id": "65f1c0ffee0000000000000a", "resourceName": "orders-pg",
        "fqdnId": "orders-pg", "databaseType": "POSTGRES", "host": "pg.example.com", "port": "5432",
        "databaseName": "orders", "userName": "pdc", "schemaNames": ["public"]}})
}

fn pdc_job_fake(fake: &FakeUpstream, job_id: &str) {
    login(fake);
    fake.on(
        "GET",
        "/pdc/data-sources/65f1c0ffee0000000000000a",
        Reply::json(200, stored_pdc_source()),
    );
    fake.on(
        "POST",
        "/pdc/jobs/execute/test-connection",
        Reply::json(200, json!({"status": 200, "data": {"jobId": job_id}})),
    );
}

/// Item 17: a job id from the vendor's answer goes into a path only if it would pass as a
/// caller's: a `..` id is refused, and `…/status` (the path it would climb to) is never read.
#[tokio::test]
async fn a_job_id_from_the_vendor_is_checked_before_it_goes_into_a_path() {
    for bad in ["..", "%2e%2e", ".", "a\u{0}b"] {
        let fake = FakeUpstream::start().await;
        pdc_job_fake(&fake, bad);
        fake.otherwise(Reply::json(200, json!({"status": "COMPLETED"})));
        let client = client_with(&pdc_vars(&fake), UpstreamSettings::default()).await;
        let (result, is_error) = call(
            &client,
            "pdc_test_data_source_connection",
            json!({"id": "65f1c0ffee0000000000000a", "wait": true}),
        )
        .await;
        assert!(is_error, "{bad:?}: {result}");
        assert_eq!(result["error"]["code"], "UNEXPECTED_RESPONSE", "{result}");
        let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
        assert_eq!(
            paths,
            [
                "/pdc/auth",
                "/pdc/data-sources/65f1c0ffee0000000000000a",
                "/pdc/jobs/execute/test-connection"
            ],
            "{bad:?}"
        );
    }
}

/// Item 16: `wait_seconds` is a deadline: a status read answered 503 with `Retry-After: 10`
/// does not stretch a 2 s wait (before, 3 s became 12 s).
#[tokio::test]
async fn a_wait_is_a_deadline_whatever_retry_after_says() {
    let fake = FakeUpstream::start().await;
    pdc_job_fake(&fake, "job-1");
    fake.once(
        "GET",
        "/pdc/jobs/job-1/status",
        Reply::json(200, json!({"status": "RUNNING"})),
    );
    fake.on(
        "GET",
        "/pdc/jobs/job-1/status",
        Reply::json(503, json!({"message": "busy"})).with_header("retry-after", "10"),
    );
    let settings = UpstreamSettings {
        poll_interval: std::time::Duration::from_millis(200),
        ..UpstreamSettings::default()
    };
    let client = client_with(&pdc_vars(&fake), settings).await;
    let started = std::time::Instant::now();
    let (result, is_error) = call(
        &client,
        "pdc_test_data_source_connection",
        json!({"id": "65f1c0ffee0000000000000a", "wait": true, "wait_seconds": 2}),
    )
    .await;
    let took = started.elapsed();
    assert!(is_error, "{result}");
    assert_eq!(result["error"]["code"], "WAIT_TIMEOUT", "{result}");
    assert_eq!(
        result["error"]["message"],
        "the job is still RUNNING after 2 s"
    );
    // Bounds, not a timing target: without the deadline this took 10 s or more.
    assert!(took < std::time::Duration::from_secs(8), "{took:?}");
}

/// Item 15: a job's status is shown short in progress and in the result, masked before it is
/// cut: a 1 MB status gives neither 1 MB notifications nor a 2 MB answer.
#[tokio::test]
async fn a_huge_job_status_is_shown_short() {
    use rmcp::model::{CallToolRequestParams, ClientRequest, Request};
    use rmcp::service::PeerRequestOptions;
    let fake = FakeUpstream::start().await;
    pdc_job_fake(&fake, "job-2");
    let huge = format!("RUNNING {}", "x".repeat(1_000_000));
    fake.once(
        "GET",
        "/pdc/jobs/job-2/status",
        Reply::json(200, json!({"status": huge})),
    );
    fake.on(
        "GET",
        "/pdc/jobs/job-2/status",
        Reply::json(
            200,
            json!({"status": "COMPLETED", "log": "y".repeat(1_000_000)}),
        ),
    );
    let settings = UpstreamSettings {
        poll_interval: std::time::Duration::from_millis(50),
        ..UpstreamSettings::default()
    };
    let (client, recorder) = progress_client(&pdc_vars(&fake), settings).await;
    let request = ClientRequest::CallToolRequest(Request::new(
        CallToolRequestParams::new("pdc_test_data_source_connection").with_arguments(
            json!({"id": "65f1c0ffee0000000000000a", "wait": true})
                .as_object()
                .unwrap()
                .clone(),
        ),
    ));
    let handle = client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .unwrap();
    let response = handle.await_response().await.unwrap();
    let text = serde_json::to_string(&response).unwrap();
    assert!(text.len() < 200 * 1024, "{} bytes", text.len());
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let seen = recorder.seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    for p in &seen {
        let message = p.message.as_deref().unwrap_or("");
        assert!(
            message.chars().count() <= 204 + 1,
            "{} chars",
            message.len()
        );
    }
}

/// Issue 22 item 4: an answer the server does not understand never becomes "nothing there":
/// a list whose items are not where the ledger says (a renamed field, a proxy's page, a
/// wrapper), or a get without the resource, is an error naming the shape it got (keys and
/// kinds, never a value), for list and get tools and in the inventory.
#[tokio::test]
async fn an_answer_not_understood_is_an_error_not_an_empty_result() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/v1/ds-connections",
        Reply::json(
            200,
            json!({"data": {"dataSources": [{"name": "Orders", "password": "S3NT1NEL-shape"}], "total": 1}}),
        ),
    );
    fake.on(
        "GET",
        "/api/v1/ds_connections/Orders",
        Reply::json(200, json!({"dataSource": {"name": "Orders"}})),
    );
    let client = client_with(&bigid_fake_vars(&fake), UpstreamSettings::default()).await;
    let (list, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(is_error, "{list}");
    assert_eq!(list["error"]["code"], "UNEXPECTED_RESPONSE");
    assert_eq!(
        list["error"]["message"],
        "the vendor answered with no list at `/data/ds_connections` or `/ds_connections` or the answer itself, but {data: {dataSources: [1 items], total: number}}"
    );
    let (got, is_error) = call(&client, "bigid_get_data_source", json!({"name": "Orders"})).await;
    assert!(is_error, "{got}");
    assert_eq!(
        got["error"]["message"],
        "the vendor answered with no result at `/ds_connection`, but {dataSource: {name: text}}"
    );
    let (inventory, is_error) = call(&client, "inventory_list_data_sources", json!({})).await;
    assert!(!is_error, "{inventory}");
    assert_eq!(inventory["items"], json!([]));
    assert_eq!(
        inventory["errors"][0]["code"], "UNEXPECTED_RESPONSE",
        "{inventory}"
    );
    assert!(!inventory.to_string().contains("S3NT1NEL"));
}
