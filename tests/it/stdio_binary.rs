//! The built binary as a child process: MCP over stdio, stdout purity, secrets, CLI.

use crate::support::*;
use datasource_mcp::operation::Provider;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};

#[tokio::test]
async fn rmcp_client_lists_and_calls_over_stdio() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/v1/ds-connections",
        Reply::json(200, json!({"data": {"ds_connections": [{"name": "a"}]}})),
    );
    let base = fake.url("/api/v1");
    let cmd = tokio::process::Command::new(binary()).configure(|c| {
        c.env_clear()
            .env("BIGID_BASE_URL", &base)
            .env("BIGID_ACCESS_TOKEN", "tok");
    });
    let client = ().serve(TokioChildProcess::new(cmd).unwrap()).await.unwrap();
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), tool_count(offered_with_only(Provider::BigId)));
    let result = client
        .call_tool(CallToolRequestParams::new("bigid_list_data_sources"))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false));
    assert_eq!(
        result.structured_content,
        Some(json!({"items": [{"id": "a", "name": "a", "type": null, "status": "untested"}]}))
    );
    client.cancel().await.unwrap();
}

/// With `RUST_LOG=trace`, stdout carries only JSON-RPC and no secret reaches stdout or stderr:
/// not the user token, not the obtained token, not a password given in arguments (on a
/// success and on a failure path).
#[tokio::test]
async fn stdout_is_jsonrpc_only_and_secrets_never_leak_even_at_trace() {
    let fake = FakeUpstream::start().await;
    let system_token = "sys-token-S3NT1NEL-obtained";
    fake.on(
        "GET",
        "/api/v1/refresh-access-token",
        Reply::json(200, json!({"systemToken": system_token})),
    );
    fake.on(
        "POST",
        "/api/v1/ds-connection-test",
        Reply::json(
            200,
            json!({"success": true, "message": format!("ok for password {SENTINEL}")}),
        ),
    );
    fake.on(
        "POST",
        "/api/v1/ds_connections",
        Reply::json(
            500,
            json!({"message": format!("boom {SENTINEL}"), "password": SENTINEL}),
        ),
    );
    let base = fake.url("/api/v1");
    let user_token = format!("user-{SENTINEL}");
    let ds = json!({"name": "orders", "type": "rdb-mysql", "password": SENTINEL});
    let mut lines = handshake();
    lines.push(rpc(1, "tools/list", json!({})));
    lines.push(rpc(
        2,
        "tools/call",
        json!({"name": "bigid_test_data_source_connection", "arguments": {"ds_connection": ds}}),
    ));
    lines.push(rpc(
        3,
        "tools/call",
        json!({"name": "bigid_create_data_source", "arguments": {"ds_connection": ds}}),
    ));
    lines.push(rpc(4, "tools/call", json!({"name": "bigid_create_data_source", "arguments": {"ds_connection": {"name": "bad/name", "type": "x", "password": SENTINEL}}})));
    let (stdout, stderr, status) = run_stdio(
        &[],
        &[
            ("BIGID_BASE_URL", &base),
            ("BIGID_USER_TOKEN", &user_token),
            ("RUST_LOG", "trace"),
        ],
        &lines,
    )
    .await;
    assert!(status.success(), "exit: {status:?}\n{stderr}");
    let messages = assert_jsonrpc_only(&stdout);
    assert_eq!(messages.len(), 5, "{stdout}");
    let by_id = |id: u64| messages.iter().find(|m| m["id"] == id).unwrap().clone();
    assert_eq!(
        by_id(1)["result"]["tools"].as_array().unwrap().len(),
        tool_count(offered_with_only(Provider::BigId))
    );
    assert_eq!(
        by_id(2)["result"]["structuredContent"],
        json!({"success": true, "message": "ok for password ***", "connection": "works"})
    );
    assert_eq!(by_id(3)["result"]["isError"], true);
    assert_eq!(
        by_id(3)["result"]["structuredContent"]["error"]["message"],
        "boom ***"
    );
    assert_eq!(by_id(4)["result"]["isError"], true);
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "trace logging is on: {stderr}"
    );
    for (name, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        assert!(
            !text.contains(SENTINEL),
            "{name} leaks the sentinel:\n{text}"
        );
        assert!(!text.contains(system_token), "{name} leaks the token");
    }
    // The fake did receive them: the test would see a leak.
    assert!(fake.requests().iter().any(|r| r.body.contains(SENTINEL)));
}

#[tokio::test]
async fn starts_with_no_provider_and_says_what_to_set() {
    let mut lines = handshake();
    lines.push(rpc(1, "tools/list", json!({})));
    let (stdout, stderr, status) = run_stdio(&[], &[], &lines).await;
    assert!(status.success());
    let messages = assert_jsonrpc_only(&stdout);
    let list = messages.iter().find(|m| m["id"] == 1).unwrap();
    assert_eq!(list["result"]["tools"], json!([]));
    assert!(stderr.contains("no provider is configured"), "{stderr}");
    assert!(
        stderr.contains("BIGID_BASE_URL + BIGID_USER_TOKEN"),
        "{stderr}"
    );
}

#[tokio::test]
async fn half_configured_provider_stops_startup_naming_the_variable() {
    let out = std::process::Command::new(binary())
        .env_clear()
        .env("BIGID_BASE_URL", "https://bigid.example/api/v1")
        .env("BIGID_USERNAME", "admin")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "datasource-mcp: BIGID_USERNAME is set but BIGID_PASSWORD is missing\n"
    );
    assert!(out.stdout.is_empty());

    let out = std::process::Command::new(binary())
        .env_clear()
        .env("BIGID_BASE_URL", "https://bigid.example/api/v1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("datasource-mcp: BIGID_BASE_URL is set but no BigID credential is"),
        "{err}"
    );
}

#[test]
fn version_help_and_tools_table() {
    let run = |args: &[&str], vars: &[(&str, &str)]| {
        let out = std::process::Command::new(binary())
            .args(args)
            .env_clear()
            .envs(vars.iter().copied())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        run(&["--version"], &[]),
        format!("datasource-mcp {}\n", env!("CARGO_PKG_VERSION"))
    );
    let help = run(&["--help"], &[]);
    for word in [
        "tools",
        "schemas",
        "--request-timeout",
        "DATASOURCE_MCP_REQUEST_TIMEOUT",
    ] {
        assert!(help.contains(word), "help mentions {word}:\n{help}");
    }
    let table = run(
        &["tools"],
        &[
            ("BIGID_BASE_URL", "https://bigid.example/api/v1"),
            ("BIGID_ACCESS_TOKEN", "t"),
        ],
    );
    let lines: Vec<&str> = table.lines().collect();
    // A header, then a row per BigID tool.
    assert_eq!(
        lines.len(),
        1 + tool_count(offered_with_only(Provider::BigId)),
        "{table}"
    );
    assert!(lines[0].starts_with("TOOL"));
    let row = |name: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(name))
            .unwrap()
            .to_string()
    };
    assert!(row("bigid_list_data_sources ").contains("read-only"));
    assert!(row("bigid_delete_data_source ").contains("destructive"));
    assert!(row("bigid_create_data_source ").contains("write"));
    assert_eq!(
        run(&["tools"], &[]).lines().count(),
        1,
        "only the header when nothing is configured"
    );
}

#[tokio::test]
async fn a_stdio_call_survives_a_closed_stdin_mid_session() {
    // Closing stdin right after the handshake ends the process cleanly.
    let (stdout, _stderr, status) = run_stdio(&[], &[], &handshake()).await;
    assert!(status.success());
    let messages: Vec<Value> = assert_jsonrpc_only(&stdout);
    assert_eq!(
        messages[0]["result"]["serverInfo"]["name"],
        "datasource-mcp"
    );
}
