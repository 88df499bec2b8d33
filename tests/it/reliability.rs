//! Reliability against a fault-injecting fake: retries only where safe (counted), lost answers
//! reconciled without re-sending, limits, cancellation, progress.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::*;
use datasource_mcp::sandbox::Sandbox;
use datasource_mcp::upstream::UpstreamSettings;
use rmcp::model::{CallToolRequestParams, ClientRequest, Request};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};

async fn bigid(fake: &FakeUpstream, settings: UpstreamSettings) -> Client {
    client_with(
        &env(&[
            ("BIGID_BASE_URL", &fake.url("/api")),
            ("BIGID_ACCESS_TOKEN", "tok"),
        ]),
        settings,
    )
    .await
}

fn create_args() -> Value {
    json!({"ds_connection": {"name": "orders", "type": "rdb-mysql", "rdb_url": "h:3306"}})
}

// ---- retries -------------------------------------------------------------------------------------

#[tokio::test]
async fn reads_are_retried_on_transient_statuses() {
    let fake = FakeUpstream::start().await;
    let client = bigid(&fake, fast_settings()).await;
    fake.once("GET", "/api/ds-connections", Reply::text(503, "busy"));
    fake.once("GET", "/api/ds-connections", Reply::text(502, "gateway"));
    fake.on(
        "GET",
        "/api/ds-connections",
        Reply::json(200, json!({"data": {"ds_connections": []}})),
    );
    let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(!is_error);
    assert_eq!(result, json!({"items": []}));
    assert_eq!(fake.count("GET"), 3);

    // A read-only POST is retried too.
    fake.once(
        "POST",
        "/api/ds-connection-test",
        Reply::text(504, "timeout"),
    );
    fake.on(
        "POST",
        "/api/ds-connection-test",
        Reply::json(200, json!({"success": true, "message": "ok"})),
    );
    let (_, is_error) = call(
        &client,
        "bigid_test_data_source_connection",
        json!({"ds_connection": {"type": "rdb-mysql"}}),
    )
    .await;
    assert!(!is_error);
    assert_eq!(fake.count("POST"), 2);
}

#[tokio::test]
async fn retries_are_bounded_and_other_statuses_are_not_retried() {
    let fake = FakeUpstream::start().await;
    let client = bigid(&fake, fast_settings()).await;
    fake.on("GET", "/api/ds-connections", Reply::text(503, "down"));
    let (result, _) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert_eq!(result["error"]["status"], 503);
    assert_eq!(fake.count("GET"), 4, "one attempt and three retries");
    for status in [400, 401, 403, 404, 409, 422, 500] {
        fake.clear();
        fake.on("GET", "/api/ds-connections", Reply::text(status, "no"));
        let (result, _) = call(&client, "bigid_list_data_sources", json!({})).await;
        assert_eq!(result["error"]["status"], status);
        assert_eq!(fake.count("GET"), 1, "HTTP {status} is not retried");
    }
}

#[tokio::test]
async fn writes_are_never_sent_twice() {
    let fake = FakeUpstream::start().await;
    let client = bigid(&fake, fast_settings()).await;
    for status in [429, 502, 503, 504] {
        fake.clear();
        fake.on("POST", "/api/ds_connections", Reply::text(status, "busy"));
        fake.on(
            "PUT",
            "/api/ds_connections/orders",
            Reply::text(status, "busy"),
        );
        fake.on(
            "DELETE",
            "/api/ds_connections/orders",
            Reply::text(status, "busy"),
        );
        fake.on(
            "GET",
            "/api/ds_connections/orders",
            Reply::json(200, json!({"ds_connection": {"name": "orders"}})),
        );
        let (r, _) = call(&client, "bigid_create_data_source", create_args()).await;
        assert_eq!(r["error"]["status"], status);
        call(
            &client,
            "bigid_update_data_source",
            json!({"name": "orders", "changes": {"enabled": "no"}}),
        )
        .await;
        call(
            &client,
            "bigid_delete_data_source",
            json!({"name": "orders"}),
        )
        .await;
        assert_eq!(
            (fake.count("POST"), fake.count("PUT"), fake.count("DELETE")),
            (1, 1, 1),
            "HTTP {status}: each write sent exactly once"
        );
    }
}

#[tokio::test]
async fn retry_after_is_honoured_and_a_long_one_fails_fast() {
    let fake = FakeUpstream::start().await;
    let client = bigid(&fake, fast_settings()).await;
    fake.once(
        "GET",
        "/api/ds-connections",
        Reply::text(429, "slow down").with_header("retry-after", "1"),
    );
    fake.on(
        "GET",
        "/api/ds-connections",
        Reply::json(200, json!({"ds_connections": []})),
    );
    let started = Instant::now();
    let (_, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(!is_error);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited as asked"
    );
    assert_eq!(fake.count("GET"), 2);

    fake.clear();
    fake.on(
        "GET",
        "/api/ds-connections",
        Reply::text(429, "quota").with_header("retry-after", "3600"),
    );
    let (result, _) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert_eq!(fake.count("GET"), 1, "no waiting an hour");
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "status": 429, "message": "quota",
            "hint": "the vendor asks to wait 3600 s: call again after that"}})
    );
    // A write gets the same hint and is not retried.
    fake.on(
        "POST",
        "/api/ds_connections",
        Reply::text(429, "quota").with_header("retry-after", "20"),
    );
    let (result, _) = call(&client, "bigid_create_data_source", create_args()).await;
    assert_eq!(
        result["error"]["hint"],
        "the vendor asks to wait 20 s: call again after that"
    );
    assert_eq!(fake.count("POST"), 1);
}

// ---- answers lost after sending --------------------------------------------------------------------

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_looked_up_not_resent() {
    let fake = FakeUpstream::start().await;
    let client = bigid(&fake, fast_settings()).await;

    // Dropped after sending; the lookup finds it.
    fake.on("POST", "/api/ds_connections", Reply::dropped());
    fake.once(
        "GET",
        "/api/ds_connections/orders",
        Reply::json(200, json!({"ds_connection": {"name": "orders"}})),
    );
    let (result, is_error) = call(&client, "bigid_create_data_source", create_args()).await;
    assert!(!is_error, "{result}");
    assert_eq!(result["outcome"], "created");
    assert_eq!(
        result["lookup"],
        json!({"ds_connection": {"name": "orders"}})
    );
    assert!(
        result["message"]
            .as_str()
            .unwrap()
            .contains("Do not create it again")
    );
    let reqs = fake.requests();
    assert_eq!(
        reqs.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
        ["POST", "GET"]
    );
    assert_eq!(reqs[1].path, "/api/ds_connections/orders");
    assert_eq!(
        reqs[1].query.as_deref(),
        Some("withoutCredentialValue=true")
    );

    // Dropped; the lookup does not find it.
    fake.clear();
    let (result, is_error) = call(&client, "bigid_create_data_source", create_args()).await;
    assert!(is_error);
    let error = &result["error"];
    assert_eq!(error["code"], "NOT_CREATED");
    assert_eq!(error["hint"], "nothing changed: it is safe to call again");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("the request was sent but its answer was lost")
    );
    assert_eq!(fake.count("POST"), 1);

    // Timed out; the lookup fails too: unknown, with what to check.
    fake.clear();
    fake.on(
        "POST",
        "/api/ds_connections",
        Reply::json(201, json!({})).delayed(Duration::from_secs(3)),
    );
    fake.once(
        "GET",
        "/api/ds_connections/orders",
        Reply::text(500, "lookup failed"),
    );
    let settings = UpstreamSettings {
        request_timeout: Duration::from_millis(300),
        ..fast_settings()
    };
    let slow = bigid(&fake, settings).await;
    let (result, is_error) = call(&slow, "bigid_create_data_source", create_args()).await;
    assert!(is_error);
    assert_eq!(result["error"]["code"], "OUTCOME_UNKNOWN");
    assert_eq!(
        result["error"]["hint"],
        "check with bigid_get_data_source before calling again: calling again blindly could create a duplicate"
    );
    assert_eq!(fake.count("POST"), 1);
}

#[tokio::test]
async fn lost_creates_are_reconciled_for_every_vendor() {
    let fake = FakeUpstream::start().await;
    let client = client_with(
        &env(&[
            ("PDC_BASE_URL", &fake.url("/pdc")),
            ("PDC_ACCESS_TOKEN", "t"),
            ("BIGDATA_BASE_URL", &fake.url("/bigdata")),
            ("BIGDATA_API_KEY", "k"),
            ("DATABRAIN_BASE_URL", &fake.url("/databrain")),
            ("DATABRAIN_SERVICE_TOKEN", "t"),
        ]),
        fast_settings(),
    )
    .await;
    fake.on("POST", "/pdc/data-sources", Reply::dropped());
    fake.on(
        "POST",
        "/pdc/data-sources/filter",
        Reply::json(
            200,
            json!({"status": 200, "data": [{"resourceName": "a"}, {"resourceName": "b"}]}),
        ),
    );
    let (r, _) = call(&client, "pdc_create_data_sources", json!({"data_sources": [
        {"resourceName": "a", "databaseType": "AWS"}, {"resourceName": "b", "databaseType": "AWS"}]})).await;
    assert_eq!(r["outcome"], "created", "{r}");
    let lookup = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/pdc/data-sources/filter")
        .unwrap();
    assert_eq!(
        lookup.json(),
        json!({"filters": {"resourceNames": ["a", "b"]}})
    );
    let (r, _) = call(&client, "pdc_create_data_sources", json!({"data_sources": [
        {"resourceName": "a", "databaseType": "AWS"}, {"resourceName": "c", "databaseType": "AWS"}]})).await;
    assert_eq!(
        r["error"]["code"], "OUTCOME_UNKNOWN",
        "one of two exists: cannot tell"
    );
    assert_eq!(
        r["error"]["hint"],
        "check with pdc_filter_data_sources before calling again: calling again blindly could create a duplicate"
    );

    // Labels are not unique: the connectors are listed before the create, and only one that
    // was not there before counts as created.
    fake.on("POST", "/bigdata/contents/v1/connectors", Reply::dropped());
    let list = |items: Value| Reply::json(200, json!({ "results": items }));
    let inbox = json!({"connector_id": "0b16da7a-0000-4000-8000-000000000001", "label": "Inbox", "archived": false});
    let new_inbox = json!({"connector_id": "0b16da7a-0000-4000-8000-000000000009", "label": "Inbox", "archived": false});
    let old = json!({"connector_id": "0b16da7a-0000-4000-8000-000000000002", "label": "Old", "archived": true});
    let connectors = "/bigdata/contents/v1/connectors";
    let email = |label: &str| json!({"type": "email", "label": label, "config": {"allowed_emails": ["a@b.example"]}});
    fake.once("GET", connectors, list(json!([inbox.clone(), old.clone()])));
    fake.once(
        "GET",
        connectors,
        list(json!([inbox.clone(), old.clone(), new_inbox.clone()])),
    );
    let (r, _) = call(&client, "bigdata_create_connector", email("Inbox")).await;
    assert_eq!(r["outcome"], "created", "a new id with the label: {r}");
    assert_eq!(r["lookup"]["results"][2], new_inbox);
    fake.once("GET", connectors, list(json!([inbox.clone(), old.clone()])));
    fake.once("GET", connectors, list(json!([inbox.clone(), old.clone()])));
    let (r, _) = call(&client, "bigdata_create_connector", email("Inbox")).await;
    assert_eq!(
        r["error"]["code"], "NOT_CREATED",
        "a namesake that was there before is not this call's: {r}"
    );
    fake.once("GET", connectors, list(json!([old.clone()])));
    fake.once("GET", connectors, list(json!([old.clone()])));
    let (r, _) = call(&client, "bigdata_create_connector", email("Old")).await;
    assert_eq!(r["error"]["code"], "NOT_CREATED", "{r}");
    fake.once(
        "GET",
        connectors,
        Reply::json(400, json!({"message": "refused"})),
    );
    fake.once("GET", connectors, list(json!([new_inbox.clone()])));
    let (r, _) = call(&client, "bigdata_create_connector", email("Inbox")).await;
    assert_eq!(
        r["error"]["code"], "OUTCOME_UNKNOWN",
        "nothing known from before: cannot tell: {r}"
    );

    fake.on("POST", "/databrain/api/v2/datasource", Reply::dropped());
    fake.on(
        "GET",
        "/databrain/api/v2/datasource",
        Reply::json(200, json!({"data": [{"name": "other"}]})),
    );
    let (r, _) = call(
        &client,
        "databrain_create_datasource",
        json!({"datasourceType": "csv", "credentials": {"name": "new"}}),
    )
    .await;
    assert_eq!(r["error"]["code"], "NOT_CREATED");

    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path == "/pdc/data-sources")
            .count(),
        2
    );
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.starts_with("/bigdata"))
            .count(),
        4
    );
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.starts_with("/databrain"))
            .count(),
        1
    );
}

#[tokio::test]
async fn other_lost_writes_are_reported_unknown_and_a_refused_connection_is_not() {
    let fake = FakeUpstream::start().await;
    let client = bigid(&fake, fast_settings()).await;
    fake.on("DELETE", "/api/ds_connections/orders", Reply::dropped());
    let (r, _) = call(
        &client,
        "bigid_delete_data_source",
        json!({"name": "orders"}),
    )
    .await;
    assert_eq!(r["error"]["code"], "OUTCOME_UNKNOWN");
    assert_eq!(
        r["error"]["hint"],
        "read the resource to see whether the change took effect before calling again"
    );
    assert_eq!(fake.requests().len(), 1, "no lookup, no resend");

    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let closed = client_with(
        &env(&[
            ("BIGID_BASE_URL", &format!("http://127.0.0.1:{port}")),
            ("BIGID_ACCESS_TOKEN", "t"),
        ]),
        fast_settings(),
    )
    .await;
    let (r, _) = call(&closed, "bigid_create_data_source", create_args()).await;
    assert_eq!(
        r["error"]["code"], "CONNECTION_FAILED",
        "nothing was sent: nothing to reconcile"
    );
}

// ---- limits ----------------------------------------------------------------------------------------

#[tokio::test]
async fn responses_timeouts_and_concurrency_are_bounded() {
    let fake = FakeUpstream::start().await;
    let settings = UpstreamSettings {
        max_response_bytes: 4096,
        request_timeout: Duration::from_millis(500),
        max_concurrent: 2,
        ..fast_settings()
    };
    let client = Arc::new(bigid(&fake, settings).await);
    fake.on(
        "GET",
        "/api/ds-connections",
        Reply::text(200, &"x".repeat(100_000)),
    );
    let (r, _) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert_eq!(
        r,
        json!({"error": {"provider": "bigid", "code": "RESPONSE_TOO_LARGE",
            "message": "the response is larger than the 4096-byte limit",
            "hint": "ask for less (a limit, a page, fewer ids) or raise DATASOURCE_MCP_MAX_RESPONSE_BYTES"}})
    );

    fake.on(
        "GET",
        "/api/ds_connections/slow",
        Reply::json(200, json!({})).delayed(Duration::from_secs(5)),
    );
    let started = Instant::now();
    let (r, _) = call(&client, "bigid_get_data_source", json!({"name": "slow"})).await;
    assert_eq!(r["error"]["code"], "TIMEOUT");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "gave up at the request timeout"
    );

    fake.on(
        "GET",
        "/api/ds_connections/busy",
        Reply::json(200, json!({"ds_connection": {"name": "busy"}}))
            .delayed(Duration::from_millis(150)),
    );
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let c = client.clone();
            tokio::spawn(
                async move { call(&c, "bigid_get_data_source", json!({"name": "busy"})).await },
            )
        })
        .collect();
    for c in calls {
        assert!(!c.await.unwrap().1);
    }
    assert!(
        fake.max_in_flight() <= 2,
        "at most 2 requests in flight, saw {}",
        fake.max_in_flight()
    );
}

#[tokio::test]
async fn stdio_lines_are_bounded_and_the_session_goes_on() {
    let mut lines = handshake();
    lines.push(
        json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "a".repeat(50_000)}}),
    );
    lines.push(rpc(2, "ping", json!({})));
    lines.push(rpc(3, "tools/list", json!({})));
    // Id 1 gets no answer: its line is dropped.
    let (stdout, stderr, status) =
        run_stdio_answers(&["--max-line-bytes", "4096"], &[], &lines, 3).await;
    assert!(status.success());
    let answers = assert_jsonrpc_only(&stdout);
    let ids: Vec<&Value> = answers.iter().map(|a| &a["id"]).collect();
    assert_eq!(ids, [&json!(0), &json!(2), &json!(3)], "{stdout}");
    assert!(
        stderr.contains("exceeded the maximum line length"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("aaaa"),
        "the oversized line is never echoed"
    );
}

// ---- cancellation and progress ---------------------------------------------------------------------

#[tokio::test]
async fn a_cancelled_call_aborts_its_upstream_request() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/ds-connections/file-download/export",
        Reply::json(200, json!({})).delayed(Duration::from_secs(30)),
    );
    let client = bigid(&fake, fast_settings()).await;
    let request = ClientRequest::CallToolRequest(Request::new(CallToolRequestParams::new(
        "bigid_export_data_sources",
    )));
    let handle = client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.requests().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(fake.requests().len(), 1, "the request reached the vendor");
    handle.cancel(Some("user abort".into())).await.unwrap();
    while fake.abandoned() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        fake.abandoned(),
        1,
        "the upstream request was dropped, not left running"
    );
    // The server is still there.
    let (r, _) = call(&client, "bigid_list_connector_templates", json!({})).await;
    assert_eq!(r["error"]["status"], 404);
}

#[tokio::test]
async fn long_calls_report_progress_when_asked() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/ds-connections/file-download/export",
        Reply::json(200, json!({"ds_connections": []})).delayed(Duration::from_millis(300)),
    );
    let vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/api")),
        ("BIGID_ACCESS_TOKEN", "tok"),
    ]);
    let (client, recorder) = progress_client(&vars, fast_settings()).await;

    // send_cancellable_request attaches a progress token.
    let request = ClientRequest::CallToolRequest(Request::new(CallToolRequestParams::new(
        "bigid_export_data_sources",
    )));
    let handle = client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .unwrap();
    handle.await_response().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let seen = recorder.seen.lock().unwrap().clone();
    assert!(
        seen.len() >= 3,
        "sent, at least one heartbeat, answered: {seen:?}"
    );
    assert!(
        seen.windows(2).all(|w| w[1].progress > w[0].progress),
        "increasing: {seen:?}"
    );
    assert_eq!(
        seen.first().unwrap().message.as_deref(),
        Some("request sent")
    );
    assert_eq!(
        seen.last().unwrap().message.as_deref(),
        Some("answer received")
    );
    let token = &seen[0].progress_token;
    assert!(seen.iter().all(|p| &p.progress_token == token));
}

/// Over raw stdio: a call with `_meta.progressToken` gets progress notifications for that
/// token before its result; a call without one gets none.
#[tokio::test]
async fn progress_only_for_a_client_token_over_stdio() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/ds-connections/file-download/export",
        Reply::json(200, json!({})).delayed(Duration::from_millis(1500)),
    );
    let base = fake.url("/api");
    let vars = [
        ("BIGID_BASE_URL", base.as_str()),
        ("BIGID_ACCESS_TOKEN", "tok"),
    ];
    let mut lines = handshake();
    lines.push(rpc(
        1,
        "tools/call",
        json!({"name": "bigid_export_data_sources", "arguments": {}}),
    ));
    let (stdout, _, _) = run_stdio(&[], &vars, &lines).await;
    let messages = assert_jsonrpc_only(&stdout);
    assert!(
        messages
            .iter()
            .all(|m| m["method"] != "notifications/progress"),
        "{stdout}"
    );

    let mut lines = handshake();
    lines.push(rpc(1, "tools/call", json!({"name": "bigid_export_data_sources", "arguments": {}, "_meta": {"progressToken": "p-7"}})));
    let (stdout, _, _) = run_stdio(&[], &vars, &lines).await;
    let messages = assert_jsonrpc_only(&stdout);
    let progress: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert!(progress.len() >= 2, "{stdout}");
    assert!(
        progress
            .iter()
            .all(|p| p["params"]["progressToken"] == "p-7")
    );
    let result_at = messages.iter().position(|m| m["id"] == 1).unwrap();
    let last_progress_at = messages
        .iter()
        .rposition(|m| m["method"] == "notifications/progress")
        .unwrap();
    assert!(last_progress_at < result_at, "no progress after the result");
}

#[tokio::test]
async fn waiting_for_a_pdc_job_reports_its_reads() {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let (client, recorder) = progress_client(&sb.env(), fast_settings()).await;
    let args = json!({"id": datasource_mcp::sandbox::pdc::JOB_INGEST_RUNNING, "wait": true});
    let request = ClientRequest::CallToolRequest(Request::new(
        CallToolRequestParams::new("pdc_get_job_status")
            .with_arguments(args.as_object().unwrap().clone()),
    ));
    let handle = client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .unwrap();
    let response = handle.await_response().await.unwrap();
    let rmcp::model::ServerResult::CallToolResult(result) = response else {
        panic!("{response:?}")
    };
    // PDC answers the job bare, with no progress field: progress counts the reads.
    assert_eq!(result.structured_content.unwrap()["status"], "COMPLETED");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let seen = recorder.seen.lock().unwrap().clone();
    let values: Vec<(f64, Option<f64>, Option<String>)> = seen
        .iter()
        .map(|p| (p.progress, p.total, p.message.clone()))
        .collect();
    assert_eq!(
        values,
        [
            (1.0, None, Some("job RUNNING".into())),
            (2.0, None, Some("job RUNNING".into())),
            (3.0, None, Some("job COMPLETED".into())),
        ]
    );
}

/// A job status is vendor text: in a progress message, known secrets are masked and hidden
/// characters stripped, as in results.
#[tokio::test]
async fn job_status_in_progress_is_masked_and_stripped() {
    let fake = FakeUpstream::start().await;
    fake.once(
        "GET",
        "/pdc/jobs/j9/status",
        Reply::json(
            200,
            json!({"data": {"status": format!("RUNNING\u{202e}-{SENTINEL}"), "progress": 50}}),
        ),
    );
    fake.on(
        "GET",
        "/pdc/jobs/j9/status",
        Reply::json(
            200,
            json!({"data": {"status": "COMPLETED", "progress": 100}}),
        ),
    );
    let vars = env(&[
        ("PDC_BASE_URL", &fake.url("/pdc")),
        ("PDC_ACCESS_TOKEN", SENTINEL),
    ]);
    let (client, recorder) = progress_client(&vars, fast_settings()).await;
    let request = ClientRequest::CallToolRequest(Request::new(
        CallToolRequestParams::new("pdc_get_job_status").with_arguments(
            json!({"id": "j9", "wait": true})
                .as_object()
                .unwrap()
                .clone(),
        ),
    ));
    let handle = client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .unwrap();
    let _ = handle.await_response().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let messages: Vec<Option<String>> = recorder
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.message.clone())
        .collect();
    assert_eq!(
        messages,
        [
            Some("job RUNNING-***".to_string()),
            Some("job COMPLETED".to_string())
        ]
    );
}

#[tokio::test]
async fn a_job_that_outlasts_the_wait_is_reported_still_running() {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let settings = UpstreamSettings {
        poll_interval: Duration::from_millis(700),
        ..fast_settings()
    };
    let client = client_with(&sb.env(), settings).await;
    let (r, is_error) = call(
        &client,
        "pdc_get_job_status",
        json!({"id": datasource_mcp::sandbox::pdc::JOB_INGEST_RUNNING, "wait": true, "wait_seconds": 1}),
    )
    .await;
    assert!(is_error, "{r}");
    assert_eq!(
        r,
        json!({"error": {"provider": "pdc", "code": "WAIT_TIMEOUT", "message": "the job is still RUNNING after 1 s",
            "hint": "call again (with wait) to keep waiting"}})
    );
}
