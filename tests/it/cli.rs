//! The one-shot surfaces of the binary: `call`, `doctor` and `skill`, run as child processes
//! against the recording fake vendor (exact requests) or the sandbox.

use std::process::Output;

use crate::support::*;
use serde_json::{Value, json};

const TOKEN: &str = "bigid-session-token";

/// Runs the binary with only `vars` in its environment.
async fn run(vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = tokio::process::Command::new(binary());
    cmd.env_clear().args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.output().await.unwrap()
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", text(&out.stdout)))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn bigid_vars(base: &str) -> Vec<(&'static str, String)> {
    vec![
        ("BIGID_BASE_URL", base.to_string()),
        ("BIGID_ACCESS_TOKEN", TOKEN.to_string()),
    ]
}

fn refs<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn call_prints_the_result_and_sends_exactly_the_request() {
    let fake = FakeUpstream::start().await;
    let listing = json!({"data": {"ds_connections": [{"name": "a", "password": SENTINEL}]}});
    fake.on("GET", "/api/v1/ds-connections", Reply::json(200, listing));
    let vars = bigid_vars(&fake.url("/api/v1"));
    // --args, then a key=value that overrides it; numbers typed by the schema.
    let out = run(
        &refs(&vars),
        &[
            "call",
            "bigid_list_data_sources",
            "--args",
            r#"{"skip": 10, "limit": 50, "detail": "full"}"#,
            "limit=5",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        stdout_json(&out),
        json!({"items": [{"name": "a", "password": "***"}]})
    );
    assert_eq!(text(&out.stderr), "");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1, "{reqs:#?}");
    assert_request(
        &reqs[0],
        "GET",
        "/api/v1/ds-connections",
        Some("skip=10&limit=5&requireTotalCount=true"),
        AuthHeader::raw("authorization", TOKEN),
        None,
    );
}

#[tokio::test]
async fn call_resolves_secret_references_and_never_prints_them() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "POST",
        "/api/v1/ds-connection-test",
        Reply::json(200, json!({"success": true, "message": "connected"})),
    );
    let mut vars = bigid_vars(&fake.url("/api/v1"));
    vars.push(("DATASOURCE_MCP_SECRET_DB", SENTINEL.to_string()));
    let out = run(
        &refs(&vars),
        &[
            "call",
            "bigid_test_data_source_connection",
            "ds_connection.type=rdb-mysql",
            "ds_connection.rdb_url=db.example.com:3306",
            "ds_connection.username=scan",
            "ds_connection.password=${secret:DB}",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        stdout_json(&out),
        json!({"success": true, "message": "connected", "connection": "works"})
    );
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_request(
        &reqs[0],
        "POST",
        "/api/v1/ds-connection-test",
        None,
        AuthHeader::raw("authorization", TOKEN),
        Some(
            json!({"ds_connection": {"type": "rdb-mysql", "rdb_url": "db.example.com:3306",
            "username": "scan", "password": SENTINEL}, "isNewPassword": true}),
        ),
    );
    assert!(!text(&out.stdout).contains(SENTINEL));
    assert!(!text(&out.stderr).contains(SENTINEL));
}

#[tokio::test]
async fn an_error_result_exits_1_with_the_envelope_and_one_summary_line() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/v1/ds_connections/Orders%20DB",
        Reply::json(
            404,
            json!({"message": "Data source 'Orders DB' not found", "statusCode": 404}),
        ),
    );
    let vars = bigid_vars(&fake.url("/api/v1"));
    let out = run(
        &refs(&vars),
        &["call", "bigid_get_data_source", "name=Orders DB"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout_json(&out),
        json!({"error": {"provider": "bigid", "status": 404, "code": "NOT_FOUND",
            "message": "Data source 'Orders DB' not found",
            "hint": "nothing with that name or id exists: list first to see what does"}})
    );
    assert_eq!(
        text(&out.stderr),
        "datasource-mcp: bigid_get_data_source failed: NOT_FOUND (HTTP 404): Data source 'Orders DB' not found — nothing with that name or id exists: list first to see what does\n"
    );
    // The get, then the list read to name the closest names (none here: the fake lists none).
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn invalid_arguments_are_named_and_nothing_is_sent() {
    let fake = FakeUpstream::start().await;
    let vars = bigid_vars(&fake.url("/api/v1"));
    let out = run(
        &refs(&vars),
        &["call", "bigid_list_data_sources", "limit=0"],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));
    let envelope = stdout_json(&out);
    assert_eq!(envelope["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(envelope["error"]["field"], "limit");
    assert_eq!(text(&out.stderr).lines().count(), 1);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn a_dry_run_shows_the_request_and_sends_nothing() {
    let fake = FakeUpstream::start().await;
    let base = fake.url("/api/v1");
    let vars = bigid_vars(&base);
    let out = run(
        &refs(&vars),
        &[
            "call",
            "bigid_delete_data_source",
            "--args",
            r#"{"name": "Orders", "dry_run": true}"#,
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        stdout_json(&out),
        json!({"dry_run": true, "note": "Nothing was sent.", "requests": [{
            "method": "DELETE",
            "url": format!("{base}/ds_connections/Orders"),
        }]})
    );
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn usage_errors_exit_2_with_the_reason_on_stderr_and_nothing_sent() {
    let fake = FakeUpstream::start().await;
    let vars = bigid_vars(&fake.url("/api/v1"));
    let cases: &[(&[&str], &str)] = &[
        (
            &["call", "bigid_frobnicate"],
            "datasource-mcp: unknown tool `bigid_frobnicate` (`datasource-mcp tools` lists them)\n",
        ),
        (
            &["call", "pdc_get_data_source", "id=x"],
            "datasource-mcp: pdc_get_data_source: Pentaho Data Catalog is not configured; set PDC_BASE_URL + PDC_USERNAME + PDC_PASSWORD (or PDC_ACCESS_TOKEN) (or add --sandbox to try it on simulated vendors)\n",
        ),
        (
            &["--read-only", "call", "bigid_delete_data_source", "name=x"],
            "datasource-mcp: bigid_delete_data_source is not offered: read-only mode (--read-only / DATASOURCE_MCP_READ_ONLY) offers only tools that change nothing\n",
        ),
        (
            &["call", "bigid_get_data_source", "--args", "{name"],
            "datasource-mcp: bigid_get_data_source: --args: not valid JSON: key must be a string at line 1 column 2\n",
        ),
        (
            &["call", "bigid_get_data_source", "name"],
            "datasource-mcp: bigid_get_data_source: `name`: write arguments as key=value\n",
        ),
    ];
    for (args, stderr) in cases {
        let out = run(&refs(&vars), args).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(text(&out.stdout), "", "{args:?}");
        assert_eq!(text(&out.stderr), *stderr, "{args:?}");
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn call_works_on_the_sandbox() {
    let out = run(
        &[],
        &[
            "--sandbox",
            "call",
            "bigid_get_connector_template",
            "type=rdb-mysql",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let template = stdout_json(&out);
    assert_eq!(template["name"], "rdb-mysql", "{template}");
    assert_eq!(text(&out.stderr), "");
}

/// PDC onboarding from a terminal against one running sandbox: create, test and wait, ingest
/// and wait, each a `datasource-mcp call`.
#[tokio::test]
async fn pdc_onboarding_runs_through_the_command_line() {
    let sb = datasource_mcp::sandbox::Sandbox::start(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let env = sb.env();
    let vars: Vec<(&str, &str)> = env
        .iter()
        .filter(|(k, _)| k.starts_with("PDC_"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let out = run(
        &vars,
        &[
            "call",
            "pdc_create_data_sources",
            "--args",
            r#"{"data_sources": [{"resourceName": "cli-orders", "databaseType": "MYSQL", "host": "mysql.example.com", "port": "3306", "userName": "pdc", "password": "pw-for-cli"}]}"#,
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let id = stdout_json(&out)["data"][0]["_id"]
        .as_str()
        .unwrap()
        .to_string();
    for tool in ["pdc_test_data_source_connection", "pdc_ingest_metadata"] {
        let out = run(&vars, &["call", tool, &format!("id={id}"), "wait=true"]).await;
        assert_eq!(out.status.code(), Some(0), "{tool}: {}", text(&out.stderr));
        let result = stdout_json(&out);
        assert_eq!(result["status"], "COMPLETED", "{tool}: {result}");
    }
}

#[tokio::test]
async fn doctor_checks_each_configured_provider_without_printing_secrets() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/v1/refresh-access-token",
        Reply::json(200, json!({"systemToken": "sys-token-S3NT1NEL-obtained"})),
    );
    fake.on(
        "GET",
        "/api/v1/ds-connections",
        Reply::json(200, json!({"data": {"ds_connections": []}})),
    );
    fake.on(
        "GET",
        "/bigdata/contents/v1/connectors",
        Reply::json(401, json!({"detail": "Invalid API key"})),
    );
    // A port nothing listens on: DataBrain is unreachable.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let bigid_base = fake.url("/api/v1");
    let vars = [
        ("BIGID_BASE_URL", bigid_base.as_str()),
        ("BIGID_USER_TOKEN", SENTINEL),
        ("BIGDATA_BASE_URL", &fake.url("/bigdata")),
        ("BIGDATA_API_KEY", "bigdata-key-S3NT1NEL"),
        ("DATABRAIN_BASE_URL", &format!("http://{closed}")),
        ("DATABRAIN_SERVICE_TOKEN", "databrain-S3NT1NEL"),
        ("DATASOURCE_MCP_MAX_RETRIES", "0"),
    ];
    let out = run(&vars, &["doctor"]).await;
    assert_eq!(out.status.code(), Some(1));
    let table = text(&out.stdout);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().take(4).collect())
        .collect();
    let port = fake.addr.port();
    assert_eq!(
        rows,
        vec![
            vec!["PROVIDER", "ENDPOINT", "REACHABLE", "AUTH"],
            vec![
                "bigid",
                &format!("http://127.0.0.1:{port}/api/v1"),
                "yes",
                "ok"
            ],
            vec!["pdc", "not", "configured", "-"],
            vec![
                "bigdata",
                &format!("http://127.0.0.1:{port}/bigdata"),
                "yes",
                "FAILED"
            ],
            vec!["databrain", &format!("http://{closed}"), "NO", "-"],
        ],
        "{table}"
    );
    assert!(table.contains("set PDC_BASE_URL + PDC_USERNAME + PDC_PASSWORD"));
    assert!(table.contains("check BIGDATA_API_KEY"), "{table}");
    assert!(table.contains("check DATABRAIN_BASE_URL"), "{table}");
    assert_eq!(
        text(&out.stderr),
        "datasource-mcp: 2 of 3 configured providers failed\n"
    );
    for output in [&out.stdout, &out.stderr] {
        assert!(!text(output).contains("S3NT1NEL"), "{}", text(output));
    }
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3, "{reqs:#?}");
    assert_request(
        &reqs[0],
        "GET",
        "/api/v1/refresh-access-token",
        None,
        AuthHeader::raw("authorization", SENTINEL),
        None,
    );
    assert_request(
        &reqs[1],
        "GET",
        "/api/v1/ds-connections",
        Some("limit=1&requireTotalCount=true"),
        AuthHeader::raw("authorization", "sys-token-S3NT1NEL-obtained"),
        None,
    );
    assert_request(
        &reqs[2],
        "GET",
        "/bigdata/contents/v1/connectors",
        None,
        AuthHeader::raw("x-api-key", "bigdata-key-S3NT1NEL"),
        None,
    );
}

#[tokio::test]
async fn doctor_passes_on_the_sandbox_and_fails_with_nothing_configured() {
    let out = run(&[], &["--sandbox", "doctor"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert_eq!(table.lines().count(), 5, "{table}");
    for line in table.lines().skip(1) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(&cells[2..4], ["yes", "ok"], "{line}");
    }
    let out = run(&[], &["doctor"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "datasource-mcp: no provider is configured\n"
    );
}

/// The exported skill is the generated one, and every example call in its reference works on
/// the sandbox (secret references filled from the environment).
#[tokio::test]
async fn the_skill_export_matches_the_table_and_its_examples_run() {
    let dir = std::env::temp_dir().join(format!("datasource-mcp-skill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = run(&[], &["skill", "--out", dir.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ops: Vec<_> = datasource_mcp::providers::operations().collect();
    let expected = datasource_mcp::surfaces::skill::files(&ops, false);
    let mut examples = Vec::new();
    for (path, content) in &expected {
        let written = std::fs::read_to_string(dir.join(path)).unwrap();
        assert_eq!(&written, content, "{}", path.display());
        examples.extend(
            content
                .lines()
                .filter(|l| l.starts_with("datasource-mcp call ") && !l.contains("<tool>"))
                .map(str::to_string),
        );
    }
    assert_eq!(examples.len(), ops.len());
    let secrets = [
        ("DATASOURCE_MCP_SECRET_ORDERS_DB_PASSWORD", "pw1"),
        ("DATASOURCE_MCP_SECRET_ANALYTICS_PG_PASSWORD", "pw2"),
        ("DATASOURCE_MCP_SECRET_PDC_PG_PASSWORD", "pw3"),
    ];
    for line in examples {
        // `datasource-mcp call <tool> --args '<json>'`
        let rest = line.strip_prefix("datasource-mcp call ").unwrap();
        let (tool, quoted) = rest.split_once(" --args ").unwrap();
        let args = quoted.trim_matches('\'');
        let out = run(&secrets, &["--sandbox", "call", tool, "--args", args]).await;
        // A plan lives in the process that made it: this one made none (the plans' own tests
        // apply one).
        if tool == "inventory_apply_plan" {
            assert_eq!(out.status.code(), Some(1));
            assert!(
                text(&out.stderr).contains("no such plan"),
                "{}",
                text(&out.stderr)
            );
            continue;
        }
        assert_eq!(
            out.status.code(),
            Some(0),
            "{line}\n{}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
