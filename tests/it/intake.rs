//! The secret intake page: a reference without a value stops the call with SECRET_NEEDED and a
//! one-time link (nothing sent upstream); the value entered there makes the same call succeed.
//! The page's headers, single use, expiry, Origin and form-token checks; URL-mode elicitation
//! in both protocol eras; the value in no output of the binary at RUST_LOG=trace; the CLI's
//! wait and --no-wait; HTTP on a non-loopback address without --public-url; a real browser.

use std::time::Duration;

use rmcp::model::{CallToolRequestParams, ElicitRequestParams, ProtocolVersion};
use rmcp::{ClientLifecycleMode, ClientServiceExt};
use serde_json::{Value, json};

use datasource_mcp::intake::IntakeSettings;

use crate::support::*;

/// Each test's own value: all tests share one process, and an entered value is masked
/// process-wide from then on.
fn value_for(test: &str) -> String {
    format!("pw-{test}-S3NT1NEL-intake")
}

const TOKEN: &str = "bigid-session-token-for-intake";

/// A fake BigID that answers a create by echoing the source (password included), and its
/// server environment.
async fn fake_bigid() -> (FakeUpstream, std::collections::HashMap<String, String>) {
    let fake = FakeUpstream::start().await;
    fake.on(
        "POST",
        "/api/v1/ds_connections",
        Reply::json(200, json!({"_id": "65f0", "echo": "created"})),
    );
    let vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/api/v1")),
        ("BIGID_ACCESS_TOKEN", TOKEN),
    ]);
    (fake, vars)
}

fn create_args(secret: &str) -> Value {
    json!({"ds_connection": {"name": "Orders", "type": "rdb-mysql",
        "rdb_url": "mysql://scan@db.example.com:3306/orders", "username": "scan",
        "password": format!("${{secret:{secret}}}")}})
}

fn settings(link_ttl: Duration) -> IntakeSettings {
    IntakeSettings {
        link_ttl,
        ..IntakeSettings::default()
    }
}

/// SECRET_NEEDED, exactly; returns the link.
fn assert_secret_needed(result: &Value, secret: &str) -> String {
    let hint = result["error"]["hint"].as_str().expect("a hint");
    let link = link_in(hint).expect("a link in the hint");
    assert_eq!(
        result,
        &json!({"error": {"provider": "bigid", "code": "SECRET_NEEDED",
            "field": "ds_connection.password",
            "message": format!("`ds_connection.password`: the secret {secret} has no value yet"),
            "hint": format!("ask the user to open {link} and enter the value, then call again with the same arguments; never ask for the value in the chat; nothing was sent")}})
    );
    assert!(link.starts_with("http://127.0.0.1:"), "{link}");
    let token = link.rsplit('/').next().unwrap();
    assert_eq!(token.len(), 64, "256 bits of hex: {token}");
    link
}

#[tokio::test]
async fn nothing_is_sent_until_the_value_is_entered_then_the_same_call_succeeds() {
    let value = value_for("same-call");
    let (fake, vars) = fake_bigid().await;
    let (client, _intake) = intake_client(&vars, IntakeSettings::default()).await;
    let args = create_args("INTAKE_SAME_CALL");

    let (result, is_error) = call(&client, "bigid_create_data_source", args.clone()).await;
    assert!(is_error);
    let link = assert_secret_needed(&result, "INTAKE_SAME_CALL");
    assert!(
        fake.requests().is_empty(),
        "nothing upstream before the value"
    );

    // Calling again before the value is entered offers the same link.
    let (again, _) = call(&client, "bigid_create_data_source", args.clone()).await;
    assert_eq!(assert_secret_needed(&again, "INTAKE_SAME_CALL"), link);
    assert!(fake.requests().is_empty());

    // The page says what the value is for.
    let page = open(&link).await;
    assert_eq!(page.status, 200);
    for shown in [
        "INTAKE_SAME_CALL",
        "bigid_create_data_source",
        "BigID",
        "Orders",
        "db.example.com",
        r#"type="password""#,
    ] {
        assert!(page.html.contains(shown), "{shown} not on the page");
    }
    assert!(!page.html.contains("<script"), "no script");
    let done = post(&link, Some(&origin_of(&link)), &page.form_token(), &value).await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert!(done.html.contains("Received"));
    assert!(!done.html.contains(&value));

    let (result, is_error) = call(&client, "bigid_create_data_source", args).await;
    assert!(!is_error, "{result}");
    assert_eq!(result, json!({"_id": "65f0", "echo": "created"}));
    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_request(
        &requests[0],
        "POST",
        "/api/v1/ds_connections",
        None,
        AuthHeader::raw("authorization", TOKEN),
        Some(
            json!({"ds_connection": {"name": "Orders", "type": "rdb-mysql",
            "rdb_url": "mysql://scan@db.example.com:3306/orders", "username": "scan",
            "password": value}}),
        ),
    );

    // Later calls read it too; the vendor echoing it back gets it masked.
    fake.on(
        "GET",
        "/api/v1/ds_connections/Orders",
        Reply::json(
            200,
            json!({"ds_connection": {"name": "Orders", "note": format!("pw {value}")}}),
        ),
    );
    let (got, _) = call(&client, "bigid_get_data_source", json!({"name": "Orders"})).await;
    assert!(!got.to_string().contains(&value), "{got}");
}

#[tokio::test]
async fn a_connection_test_gets_a_link_too() {
    let (fake, vars) = fake_bigid().await;
    let (client, _intake) = intake_client(&vars, IntakeSettings::default()).await;
    // A connection test sends credentials: it gets a link.
    let (result, _) = call(
        &client,
        "bigid_test_data_source_connection",
        json!({"ds_connection": {"type": "rdb-mysql", "password": "${secret:INTAKE_PROBE}"}}),
    )
    .await;
    assert_eq!(result["error"]["code"], "SECRET_NEEDED");
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn the_page_sends_strict_headers_and_works_once() {
    let (_fake, vars) = fake_bigid().await;
    let (client, intake) = intake_client(&vars, IntakeSettings::default()).await;
    let (result, _) = call(
        &client,
        "bigid_create_data_source",
        create_args("INTAKE_ONCE"),
    )
    .await;
    let link = assert_secret_needed(&result, "INTAKE_ONCE");
    let page = open(&link).await;
    let header = |name: &str| {
        page.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"));
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(header("x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(
        header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        header("content-security-policy").as_deref(),
        Some(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
    );
    assert!(header("set-cookie").is_none());

    let value = value_for("once");
    let token = page.form_token();
    let first = post(&link, Some(&origin_of(&link)), &token, &value).await;
    assert_eq!(first.status, 200);
    assert_eq!(
        entered(&intake, "INTAKE_ONCE").await.unwrap().expose(),
        value
    );
    for header in [
        "cache-control",
        "content-security-policy",
        "referrer-policy",
    ] {
        assert!(
            first.headers.contains_key(header),
            "{header} on the answer too"
        );
    }
    // Used up: both a second look and a second value are 410 Gone.
    assert_eq!(open(&link).await.status, 410);
    let second = post(&link, Some(&origin_of(&link)), &token, "another-value-x").await;
    assert_eq!(second.status, 410);
    assert_eq!(
        entered(&intake, "INTAKE_ONCE").await.unwrap().expose(),
        value
    );
    // An unknown token is not found.
    let unknown = format!("{}/{}", link.rsplit_once('/').unwrap().0, "0".repeat(64));
    assert_eq!(open(&unknown).await.status, 404);
}

#[tokio::test]
async fn a_link_expires() {
    let (fake, vars) = fake_bigid().await;
    let (client, intake) = intake_client(&vars, settings(Duration::from_millis(400))).await;
    let (result, _) = call(
        &client,
        "bigid_create_data_source",
        create_args("INTAKE_EXPIRES"),
    )
    .await;
    let link = assert_secret_needed(&result, "INTAKE_EXPIRES");
    let page = open(&link).await;
    assert_eq!(page.status, 200);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(open(&link).await.status, 410);
    let late = post(
        &link,
        Some(&origin_of(&link)),
        &page.form_token(),
        "late-value-x",
    )
    .await;
    assert_eq!(late.status, 410);
    assert!(entered(&intake, "INTAKE_EXPIRES").await.is_none());
    // The next call offers a new link.
    let (again, _) = call(
        &client,
        "bigid_create_data_source",
        create_args("INTAKE_EXPIRES"),
    )
    .await;
    assert_ne!(assert_secret_needed(&again, "INTAKE_EXPIRES"), link);
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn a_foreign_origin_or_a_wrong_form_token_is_refused() {
    let (_fake, vars) = fake_bigid().await;
    let (client, intake) = intake_client(&vars, IntakeSettings::default()).await;
    let (result, _) = call(
        &client,
        "bigid_create_data_source",
        create_args("INTAKE_CSRF"),
    )
    .await;
    let link = assert_secret_needed(&result, "INTAKE_CSRF");
    let token = open(&link).await.form_token();
    let own = origin_of(&link);
    let other_port = {
        let port: u16 = own.rsplit(':').next().unwrap().parse().unwrap();
        format!("http://127.0.0.1:{}", port.wrapping_add(1))
    };
    for origin in [
        "http://evil.example",
        other_port.as_str(),
        "https://127.0.0.1",
    ] {
        let r = post(&link, Some(origin), &token, "attacker-value-1").await;
        assert_eq!(r.status, 403, "Origin {origin}");
    }
    // No Origin and no Referer: not from the page.
    assert_eq!(
        post(&link, None, &token, "attacker-value-2").await.status,
        403
    );
    // From the page's origin but without its form token.
    assert_eq!(
        post(&link, Some(&own), "", "attacker-value-3").await.status,
        403
    );
    assert_eq!(
        post(&link, Some(&own), &"0".repeat(64), "attacker-value-4")
            .await
            .status,
        403
    );
    // Its own loopback listener answers only requests addressed to this computer (DNS
    // rebinding): another Host is refused before the link is looked at.
    let rebound = http()
        .get(&link)
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    assert!(
        rebound
            .text()
            .await
            .unwrap()
            .contains("<p>This page answers only requests from this computer&#39;s own pages.</p>")
    );
    assert!(entered(&intake, "INTAKE_CSRF").await.is_none());
    // The link still works for the user.
    let value = value_for("csrf");
    assert_eq!(post(&link, Some(&own), &token, &value).await.status, 200);
    assert_eq!(
        entered(&intake, "INTAKE_CSRF").await.unwrap().expose(),
        value
    );
}

#[tokio::test]
async fn guessing_the_form_token_burns_the_link() {
    let (_fake, vars) = fake_bigid().await;
    let (client, intake) = intake_client(&vars, IntakeSettings::default()).await;
    let (result, _) = call(
        &client,
        "bigid_create_data_source",
        create_args("INTAKE_BURN"),
    )
    .await;
    let link = assert_secret_needed(&result, "INTAKE_BURN");
    let token = open(&link).await.form_token();
    let own = origin_of(&link);
    for i in 0..5 {
        let r = post(&link, Some(&own), &format!("guess-{i}"), "attacker-value-5").await;
        assert_eq!(r.status, 403);
    }
    assert_eq!(
        post(&link, Some(&own), &token, "too-late-value")
            .await
            .status,
        410
    );
    assert!(entered(&intake, "INTAKE_BURN").await.is_none());
}

/// A 2025-11-25 client that declares URL-mode elicitation: the server sends
/// `elicitation/create` with mode url and the link, waits for the value, and finishes the call.
#[tokio::test]
async fn a_2025_client_with_url_elicitation_is_sent_to_the_page_and_the_call_goes_on() {
    let value = value_for("elicit-2025");
    let (fake, vars) = fake_bigid().await;
    let (server, _intake) = intake_server(&vars, IntakeSettings::default());
    let handler = ElicitingClient::new(&value);
    let client = connect(server, handler.clone()).await;
    let params = CallToolRequestParams::new("bigid_create_data_source").with_arguments(
        create_args("INTAKE_ELICIT_2025")
            .as_object()
            .unwrap()
            .clone(),
    );
    let result = client.call_tool(params).await.expect("answered");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    assert_eq!(
        result.structured_content,
        Some(json!({"_id": "65f0", "echo": "created"}))
    );
    let seen = handler.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let ElicitRequestParams::UrlElicitationParams {
        message,
        url,
        elicitation_id,
        ..
    } = &seen[0]
    else {
        panic!("not URL mode: {seen:?}")
    };
    assert!(url.contains("/secrets/"), "{url}");
    assert!(!elicitation_id.is_empty());
    assert!(message.contains("INTAKE_ELICIT_2025") && !message.contains(&value));
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].json()["ds_connection"]["password"], value);
}

/// A client that declines: the call ends with SECRET_NEEDED and nothing is sent.
#[tokio::test]
async fn a_declined_elicitation_leaves_secret_needed() {
    let (fake, vars) = fake_bigid().await;
    let (server, _intake) = intake_server(&vars, IntakeSettings::default());
    let mut handler = ElicitingClient::new("unused-value");
    handler.action = rmcp::model::ElicitationAction::Decline;
    let client = connect(server, handler.clone()).await;
    let params = CallToolRequestParams::new("bigid_create_data_source")
        .with_arguments(create_args("INTAKE_DECLINED").as_object().unwrap().clone());
    let result = client.call_tool(params).await.expect("answered");
    assert_eq!(result.is_error, Some(true));
    assert_eq!(
        result.structured_content.unwrap()["error"]["code"],
        "SECRET_NEEDED"
    );
    assert_eq!(handler.seen.lock().unwrap().len(), 1);
    assert!(fake.requests().is_empty());
}

/// What a dry run says of a reference whose value the intake page will ask for.
const ASKED_ON_CHANGE: &str = "the intake page: the user is asked for it when the change is made (this call without dry_run); nothing was asked now";

fn dry(args: Value) -> serde_json::Map<String, Value> {
    let mut args = args;
    args["dry_run"] = json!(true);
    args.as_object().unwrap().clone()
}

fn asked_references(secret: &str) -> Value {
    json!([{"field": "ds_connection.password", "reference": format!("${{secret:{secret}}}"),
        "written": "sent as it is", "from": ASKED_ON_CHANGE}])
}

/// No secret before the yes (2025-11-25): the dry run of a create whose password has no value
/// asks for nothing (no elicitation, no link, nothing entered or sent) and says the value will
/// be asked for when the change is made; the create then asks, once. (Before, the dry run
/// itself sent the user to the page.)
#[tokio::test]
async fn a_dry_run_never_asks_for_a_secret_2025() {
    let value = value_for("dry-2025");
    let (fake, vars) = fake_bigid().await;
    let (server, intake) = intake_server(&vars, IntakeSettings::default());
    let handler = ElicitingClient::new(&value);
    let client = connect(server, handler.clone()).await;
    let secret = "INTAKE_DRY_2025";
    let plan = client
        .call_tool(
            CallToolRequestParams::new("bigid_create_data_source")
                .with_arguments(dry(create_args(secret))),
        )
        .await
        .expect("answered");
    assert_ne!(plan.is_error, Some(true), "{plan:?}");
    let plan = plan.structured_content.unwrap();
    assert_eq!(plan["references"], asked_references(secret), "{plan}");
    assert_eq!(
        plan["requests"].as_array().unwrap().last().unwrap()["body"]["ds_connection"]["password"],
        format!("${{secret:{secret}}}")
    );
    assert!(!plan.to_string().contains("/secrets/"), "no link: {plan}");
    assert!(handler.seen.lock().unwrap().is_empty(), "the dry run asked");
    assert!(intake.held().is_empty());
    assert!(
        changes(&fake.requests()).is_empty(),
        "a dry run changes nothing"
    );
    // The change asks, once.
    let created = client
        .call_tool(
            CallToolRequestParams::new("bigid_create_data_source")
                .with_arguments(create_args(secret).as_object().unwrap().clone()),
        )
        .await
        .expect("answered");
    assert_eq!(
        created.structured_content,
        Some(json!({"_id": "65f0", "echo": "created"}))
    );
    assert_eq!(handler.seen.lock().unwrap().len(), 1);
    assert_eq!(changes(&fake.requests()).len(), 1);
}

/// The same in the 2026-07-28 era: the dry run completes at once, with no `input_required`.
#[tokio::test]
async fn a_dry_run_never_asks_for_a_secret_2026() {
    let (fake, vars) = fake_bigid().await;
    let (server, _intake) = intake_server(&vars, IntakeSettings::default());
    let handler = ElicitingClient::new("unused-value");
    let client = connect_2026(server, handler.clone()).await;
    let secret = "INTAKE_DRY_2026";
    let once = client
        .call_tool_once(
            CallToolRequestParams::new("bigid_create_data_source")
                .with_arguments(dry(create_args(secret))),
        )
        .await
        .expect("answered");
    let rmcp::model::CallToolResponse::Complete(plan) = once else {
        panic!("the dry run asked: {once:?}")
    };
    let plan = plan.structured_content.unwrap();
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["references"], asked_references(secret), "{plan}");
    assert!(handler.seen.lock().unwrap().is_empty());
    assert!(
        changes(&fake.requests()).is_empty(),
        "a dry run changes nothing"
    );
    // The change: input_required with the page.
    let change = input_required(
        client
            .call_tool_once(
                CallToolRequestParams::new("bigid_create_data_source")
                    .with_arguments(create_args(secret).as_object().unwrap().clone()),
            )
            .await
            .unwrap(),
    );
    assert_eq!(
        change["inputRequests"][format!("secret:{secret}")]["params"]["mode"],
        "url"
    );
}

/// A 2026-07-28 client: the call answers `input_required` with a URL elicitation and an opaque
/// requestState; rmcp's client fulfils it (the user enters the value) and calls again, and the
/// call goes on.
#[tokio::test]
async fn a_2026_client_gets_input_required_and_the_retry_goes_on() {
    let value = value_for("elicit-2026");
    let (fake, vars) = fake_bigid().await;
    let (server, _intake) = intake_server(&vars, IntakeSettings::default());
    let handler = ElicitingClient::new(&value);
    let client = connect_2026(server, handler.clone()).await;
    let args = create_args("INTAKE_ELICIT_2026")
        .as_object()
        .unwrap()
        .clone();

    // One round by hand: the intermediate result as the wire carries it.
    let once = client
        .call_tool_once(
            CallToolRequestParams::new("bigid_create_data_source").with_arguments(args.clone()),
        )
        .await
        .expect("answered");
    let rmcp::model::CallToolResponse::InputRequired(once) = once else {
        panic!("not input_required: {once:?}")
    };
    let wire = serde_json::to_value(&once).unwrap();
    assert_eq!(wire["resultType"], "input_required", "{wire}");
    let state = wire["requestState"].as_str().expect("a requestState");
    assert_eq!(state.len(), 32, "an opaque handle: {state}");
    let elicitation = &wire["inputRequests"]["secret:INTAKE_ELICIT_2026"];
    assert_eq!(elicitation["method"], "elicitation/create", "{wire}");
    assert_eq!(elicitation["params"]["mode"], "url");
    assert!(
        elicitation["params"]["url"]
            .as_str()
            .unwrap()
            .contains("/secrets/")
    );
    assert!(fake.requests().is_empty());

    // The whole exchange, as rmcp's client drives it.
    let result = client
        .call_tool(CallToolRequestParams::new("bigid_create_data_source").with_arguments(args))
        .await
        .expect("answered");
    assert_ne!(result.is_error, Some(true), "{result:?}");
    assert_eq!(
        result.structured_content,
        Some(json!({"_id": "65f0", "echo": "created"}))
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].json()["ds_connection"]["password"], value);
}

/// The retry of a 2026-era call after the user accepted: the same arguments, the
/// requestState, and the elicitation accepted.
fn retry(
    args: &serde_json::Map<String, Value>,
    state: &str,
    secret: &str,
) -> CallToolRequestParams {
    let accepted = [(format!("secret:{secret}"), json!({"action": "accept"}))];
    CallToolRequestParams::new("bigid_create_data_source")
        .with_arguments(args.clone())
        .with_request_state(state)
        .with_input_responses(accepted.into_iter().collect())
}

/// An `input_required` answer as the wire carries it.
fn input_required(response: rmcp::model::CallToolResponse) -> Value {
    let rmcp::model::CallToolResponse::InputRequired(result) = response else {
        panic!("not input_required: {response:?}")
    };
    serde_json::to_value(&result).unwrap()
}

/// A 2026-era requestState is used once, by the call it was given for: with other arguments
/// it is refused; sent back a second time it is unknown (the call is asked afresh, with a new
/// handle, and nobody waits on the old one). A call waits for the person a slice at a time,
/// then answers `input_required` with only a fresh requestState (the user is not asked again);
/// coming back with it waits again, until the value arrives and the call goes on.
#[tokio::test]
async fn a_2026_request_state_is_used_once_by_its_own_call_and_waits_in_slices() {
    let value = value_for("state-2026");
    let (fake, vars) = fake_bigid().await;
    let settings = IntakeSettings {
        // Long enough that "at once" and "after a slice" stay apart on a loaded machine.
        wait_slice: Duration::from_secs(4),
        ..IntakeSettings::default()
    };
    let (server, _intake) = intake_server(&vars, settings);
    let client = connect_2026(server, ElicitingClient::new(&value)).await;
    let secret = "INTAKE_STATE_2026";
    let args = create_args(secret).as_object().unwrap().clone();
    let first = input_required(
        client
            .call_tool_once(
                CallToolRequestParams::new("bigid_create_data_source").with_arguments(args.clone()),
            )
            .await
            .unwrap(),
    );
    let state = first["requestState"].as_str().unwrap().to_string();
    let url = first["inputRequests"][format!("secret:{secret}")]["params"]["url"]
        .as_str()
        .unwrap()
        .to_string();

    // Other arguments (another host for the same secret): refused, and the handle used up.
    let mut other = args.clone();
    other["ds_connection"]["rdb_url"] = json!("mysql://scan@elsewhere.example:3306/orders");
    let refused = client
        .call_tool_once(retry(&other, &state, secret))
        .await
        .unwrap_err();
    let rmcp::ServiceError::McpError(error) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(error.code, rmcp::model::ErrorCode::INVALID_PARAMS);
    assert_eq!(
        error.message,
        "the requestState was given for another call (another tool or other arguments): call again without it"
    );
    // Used up: its own call with it is asked afresh at once, with a new handle.
    let started = std::time::Instant::now();
    let again = input_required(
        client
            .call_tool_once(retry(&args, &state, secret))
            .await
            .unwrap(),
    );
    assert!(started.elapsed() < Duration::from_secs(3), "no wait");
    let state = again["requestState"].as_str().unwrap().to_string();
    assert_ne!(state, first["requestState"]);
    assert_eq!(
        again["inputRequests"], first["inputRequests"],
        "the same link"
    );

    // Nobody enters the value: after the slice, only a fresh requestState.
    let started = std::time::Instant::now();
    let polled = input_required(
        client
            .call_tool_once(retry(&args, &state, secret))
            .await
            .unwrap(),
    );
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(4), "{waited:?}");
    assert_eq!(
        polled.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["requestState", "resultType"],
        "{polled}"
    );
    assert_eq!(polled["resultType"], "input_required");
    let polled_state = polled["requestState"].as_str().unwrap().to_string();
    assert_ne!(polled_state, state);
    assert!(fake.requests().is_empty());

    // The person enters it while the call, back with that state alone, waits again.
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(enter(&url, &value).await.status, 200);
    });
    let done = client
        .call_tool_once(
            CallToolRequestParams::new("bigid_create_data_source")
                .with_arguments(args.clone())
                .with_request_state(polled_state),
        )
        .await
        .unwrap();
    let rmcp::model::CallToolResponse::Complete(done) = done else {
        panic!("{done:?}")
    };
    assert_eq!(
        done.structured_content,
        Some(json!({"_id": "65f0", "echo": "created"}))
    );
    assert_eq!(fake.requests().len(), 1);
}

/// Over HTTP, calls waiting for a person give their request slot back while they wait: with
/// two slots, two such calls leave room for every other caller (before, everyone else got
/// 503 for the link's whole life), and once the value arrives both go on. A requestState has
/// one waiter and belongs to its call's arguments here too.
#[tokio::test]
async fn over_http_calls_waiting_for_a_person_hold_no_request_slot() {
    use datasource_mcp::engine::Engine;
    use datasource_mcp::intake::{Intake, Serving};
    use datasource_mcp::secret::SecretString;
    use datasource_mcp::surfaces::server::{DataSourceServer, Selection};
    use datasource_mcp::transport::http::{Auth, HttpOptions};
    use datasource_mcp::upstream::UpstreamSettings;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
    const BEARER: &str = "slots-bearer-0123456789";
    let value = value_for("http-slots");
    let (fake, vars) = fake_bigid().await;
    let settings = IntakeSettings {
        wait_slice: Duration::from_secs(5),
        ..IntakeSettings::default()
    };
    let intake = Intake::new(settings, Serving::Mounted(None));
    let configs = datasource_mcp::providers::configure_all(&vars).unwrap();
    let engine = Engine::new(
        configs,
        UpstreamSettings::default(),
        std::sync::Arc::new(vars),
    )
    .with_intake(intake);
    let server = DataSourceServer::new(std::sync::Arc::new(engine), &Selection::default());
    let mut opts = HttpOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        Auth::Bearer(SecretString::new(BEARER)),
    );
    opts.max_in_flight = 2;
    opts.queue_timeout = Duration::from_millis(300);
    let running = serve_http(server, opts).await;
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(running.url.clone()).auth_header(BEARER),
    );
    let client = ElicitingClient::new(&value)
        .serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    let client = std::sync::Arc::new(client);
    let secret = "INTAKE_SLOTS";
    let args = create_args(secret).as_object().unwrap().clone();
    let mut states = Vec::new();
    let mut url = String::new();
    for _ in 0..2 {
        let first = input_required(
            client
                .call_tool_once(
                    CallToolRequestParams::new("bigid_create_data_source")
                        .with_arguments(args.clone()),
                )
                .await
                .unwrap(),
        );
        states.push(first["requestState"].as_str().unwrap().to_string());
        url = first["inputRequests"][format!("secret:{secret}")]["params"]["url"]
            .as_str()
            .unwrap()
            .to_string();
    }
    let waiting: Vec<_> = states
        .iter()
        .map(|state| {
            let client = client.clone();
            let params = retry(&args, state, secret);
            tokio::spawn(async move { client.call_tool_once(params).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Both wait; every other caller is still served: with both slots held, a request would
    // wait the 300 ms queue timeout and be shed with 503. (No wall-clock bound: this machine's
    // load would make one flaky.)
    for id in 0..3 {
        let list = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list"});
        let r = http()
            .post(&running.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", format!("Bearer {BEARER}"))
            .header("mcp-protocol-version", "2025-11-25")
            .body(list.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "served, not shed");
        let body: Value = r.json().await.unwrap();
        assert!(!body["result"]["tools"].as_array().unwrap().is_empty());
    }
    // One waiter per requestState: sent again it is asked afresh at once; a fresh one sent
    // with other arguments is refused.
    let again = input_required(
        client
            .call_tool_once(retry(&args, &states[0], secret))
            .await
            .unwrap(),
    );
    assert!(again["inputRequests"].is_object(), "{again}");
    let fresh = again["requestState"].as_str().unwrap();
    assert!(!states.iter().any(|s| s == fresh));
    let mut other = args.clone();
    other["ds_connection"]["name"] = json!("Elsewhere");
    let refused = client
        .call_tool_once(retry(&other, fresh, secret))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, rmcp::ServiceError::McpError(e) if e.code == rmcp::model::ErrorCode::INVALID_PARAMS),
        "{refused:?}"
    );
    assert!(fake.requests().is_empty());
    // The value arrives: both calls take a slot again and go on.
    assert_eq!(enter(&url, &value).await.status, 200);
    for call in waiting {
        let done = call.await.unwrap().unwrap();
        let rmcp::model::CallToolResponse::Complete(done) = done else {
            panic!("{done:?}")
        };
        assert_eq!(
            done.structured_content,
            Some(json!({"_id": "65f0", "echo": "created"}))
        );
    }
    assert_eq!(fake.requests().len(), 2);
}

/// Serves `server` in-process and connects `handler` as a client of the 2026-07-28 era.
async fn connect_2026(
    server: datasource_mcp::surfaces::server::DataSourceServer,
    handler: ElicitingClient,
) -> rmcp::service::RunningService<rmcp::RoleClient, ElicitingClient> {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        use rmcp::ServiceExt;
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    handler
        .serve_with_lifecycle(
            client_io,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .expect("client connects")
}

// ---- the built binary ---------------------------------------------------------------------------

/// The binary serving stdio, driven one request at a time.
struct StdioSession {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    seen: String,
}

impl StdioSession {
    async fn start(vars: &[(&str, &str)]) -> StdioSession {
        Self::start_limited(vars, None).await
    }

    /// Optionally under a limit of `fd_limit` file descriptors.
    async fn start_limited(vars: &[(&str, &str)], fd_limit: Option<libc::rlim_t>) -> StdioSession {
        use tokio::io::AsyncBufReadExt;
        let mut cmd = tokio::process::Command::new(binary());
        cmd.env_clear()
            .envs(vars.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(limit) = fd_limit {
            limit_descriptors(&mut cmd, limit);
        }
        let mut child = cmd.spawn().expect("binary starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut session = StdioSession {
            child,
            stdin,
            stdout,
            seen: String::new(),
        };
        for line in handshake() {
            session.send(&line).await;
        }
        session.answer(0).await;
        session
    }

    async fn send(&mut self, line: &Value) {
        use tokio::io::AsyncWriteExt;
        self.stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
    }

    async fn answer(&mut self, id: u64) -> Value {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(20), self.stdout.next_line())
                .await
                .expect("an answer within 20 s")
                .unwrap()
                .expect("stdout open");
            self.seen.push_str(&line);
            self.seen.push('\n');
            let v: Value = serde_json::from_str(&line).expect("JSON-RPC on stdout");
            if v["id"] == id {
                return v;
            }
        }
    }

    async fn call(&mut self, id: u64, tool: &str, args: &Value) -> Value {
        self.send(&rpc(
            id,
            "tools/call",
            json!({"name": tool, "arguments": args}),
        ))
        .await;
        let answer = self.answer(id).await;
        answer["result"]["structuredContent"].clone()
    }

    /// Closes stdin; everything written on stdout and stderr.
    async fn finish(mut self) -> (String, String) {
        drop(self.stdin);
        let mut rest = String::new();
        while let Ok(Some(line)) = self.stdout.next_line().await {
            rest.push_str(&line);
            rest.push('\n');
        }
        let output = tokio::time::timeout(Duration::from_secs(10), self.child.wait_with_output())
            .await
            .expect("exits after stdin closes")
            .unwrap();
        self.seen.push_str(&rest);
        (
            self.seen,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

/// Over stdio the page has a loopback listener of its own. Idle connections to it are closed
/// past a few dozen (oldest first) and after the header timeout, so under a limit of 128 file
/// descriptors 200 of them leave the process the descriptors the person's page and the vendor
/// call need. (Before, it accepted them all: the page then hung and vendor calls failed.)
#[tokio::test]
async fn over_stdio_idle_connections_to_the_page_cannot_use_up_descriptors() {
    let value = value_for("stdio-idle");
    let (fake, _) = fake_bigid().await;
    let base = fake.url("/api/v1");
    let vars = [
        ("BIGID_BASE_URL", base.as_str()),
        ("BIGID_ACCESS_TOKEN", TOKEN),
    ];
    let mut session = StdioSession::start_limited(&vars, Some(128)).await;
    let args = create_args("INTAKE_IDLE");
    let first = session.call(1, "bigid_create_data_source", &args).await;
    let link = assert_secret_needed(&first, "INTAKE_IDLE");
    let page: std::net::SocketAddr = origin_of(&link)
        .trim_start_matches("http://")
        .parse()
        .unwrap();
    let idle = open_partial(page, 200, true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = count_open(&idle);
    let pid = session.child.id().unwrap();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count());
    eprintln!("200 idle connections to the page: {held} held, descriptors {fds:?}");
    assert_eq!(idle.len(), 200);
    assert!(held <= 32, "at most 32 held: {held}");
    let done = tokio::time::timeout(Duration::from_secs(10), enter(&link, &value))
        .await
        .expect("the page answers");
    assert_eq!(done.status, 200, "{}", done.html);
    let created = session.call(2, "bigid_create_data_source", &args).await;
    assert_eq!(created, json!({"_id": "65f0", "echo": "created"}));
    assert_eq!(
        fake.requests()[0].json()["ds_connection"]["password"],
        value
    );
    drop(idle);
}

/// The page's own bounds: a form whose body has not fully arrived within the deadline gets 408
/// and its connection is closed; past 16 requests at once the page answers 503 (anyone can send
/// them: a browser has no token). Then it serves again.
#[tokio::test]
async fn a_slow_form_gets_408_and_the_page_serves_a_few_requests_at_once() {
    use std::io::Write;
    let (_fake, vars) = fake_bigid().await;
    let settings = IntakeSettings {
        body_timeout: Duration::from_secs(1),
        ..IntakeSettings::default()
    };
    let (client, _intake) = intake_client(&vars, settings).await;
    let (result, _) = call(
        &client,
        "bigid_create_data_source",
        create_args("INTAKE_SLOW_FORM"),
    )
    .await;
    let link = assert_secret_needed(&result, "INTAKE_SLOW_FORM");
    let url = reqwest::Url::parse(&link).unwrap();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{}", url.port().unwrap())
        .parse()
        .unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: 100\r\n\r\nform_token=",
        url.path()
    );
    let slow: Vec<std::net::TcpStream> = (0..16)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(head.as_bytes()).unwrap();
            s
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let busy = open(&link).await;
    assert_eq!(busy.status, 503);
    assert_eq!(busy.headers["retry-after"], "1");
    assert_eq!(busy.headers["cache-control"], "no-store");
    assert!(
        busy.html
            .contains("<p>The server is busy. Reload this page in a moment.</p>"),
        "{}",
        busy.html
    );
    let answers = tokio::task::spawn_blocking(move || {
        slow.into_iter()
            .map(|mut s| read_response(&mut s, Duration::from_secs(5)))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    for r in answers {
        assert_eq!(r.status, 408, "{r:?}");
        assert_eq!(r.header("connection"), Some("close"));
        assert!(
            r.body
                .contains("<p>The form did not arrive in time. Open the link again.</p>"),
            "{r:?}"
        );
    }
    assert_eq!(open(&link).await.status, 200, "served again");
}

#[tokio::test]
async fn over_stdio_at_trace_the_value_is_in_no_output() {
    let value = value_for("stdio-trace");
    let (fake, _) = fake_bigid().await;
    let base = fake.url("/api/v1");
    // The vendor echoes the password back, in the answer and in an error.
    fake.on(
        "GET",
        "/api/v1/ds_connections/Orders",
        Reply::json(200, json!({"ds_connection": {"name": "Orders", "password": value, "note": format!("pw={value}")}})),
    );
    let mut session = StdioSession::start(&[
        ("BIGID_BASE_URL", &base),
        ("BIGID_ACCESS_TOKEN", TOKEN),
        ("RUST_LOG", "trace"),
    ])
    .await;
    let args = create_args("INTAKE_STDIO");
    let first = session.call(1, "bigid_create_data_source", &args).await;
    assert_eq!(first["error"]["code"], "SECRET_NEEDED", "{first}");
    let link = link_in(first["error"]["hint"].as_str().unwrap()).unwrap();
    assert!(fake.requests().is_empty());
    assert_eq!(enter(&link, &value).await.status, 200);
    let created = session.call(2, "bigid_create_data_source", &args).await;
    assert_eq!(created, json!({"_id": "65f0", "echo": "created"}));
    let got = session
        .call(3, "bigid_get_data_source", &json!({"name": "Orders"}))
        .await;
    assert_eq!(got["ds_connection"]["password"], "***");
    let (stdout, stderr) = session.finish().await;
    assert!(
        stderr.contains("TRACE") || stderr.contains("DEBUG"),
        "trace is on"
    );
    assert!(stderr.contains("secret intake"), "{stderr}");
    assert!(
        !stdout.contains(&value),
        "stdout leaks the value:\n{stdout}"
    );
    assert!(
        !stderr.contains(&value),
        "stderr leaks the value:\n{stderr}"
    );
    let posts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].json()["ds_connection"]["password"], value);
}

/// `datasource-mcp call` as a child: (stdout, stderr, exit code), with `during` run on each
/// stderr line as it comes.
async fn run_call(
    args: &[&str],
    vars: &[(&str, &str)],
    mut during: impl FnMut(&str) -> Option<tokio::task::JoinHandle<()>>,
) -> (String, String, i32) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut child = tokio::process::Command::new(binary())
        .arg("call")
        .args(args)
        .env_clear()
        .envs(vars.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let mut stdout = child.stdout.take().unwrap();
    let out = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s).await;
        s
    });
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut stderr = String::new();
    let mut tasks = Vec::new();
    while let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("stderr within 20 s")
    {
        stderr.push_str(&line);
        stderr.push('\n');
        tasks.extend(during(&line));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exits")
        .unwrap();
    (out.await.unwrap(), stderr, status.code().unwrap_or(-1))
}

#[tokio::test]
async fn the_cli_prints_the_link_waits_for_the_value_then_calls() {
    let value = value_for("cli-wait");
    let (fake, _) = fake_bigid().await;
    let base = fake.url("/api/v1");
    let args = create_args("INTAKE_CLI").to_string();
    let entered_value = value.clone();
    let (stdout, stderr, code) = run_call(
        &["bigid_create_data_source", "--args", &args],
        &[("BIGID_BASE_URL", &base), ("BIGID_ACCESS_TOKEN", TOKEN)],
        |line| {
            let link = link_in(line)?;
            let value = entered_value.clone();
            Some(tokio::spawn(async move {
                assert_eq!(enter(&link, &value).await.status, 200);
            }))
        },
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.starts_with("datasource-mcp: bigid_create_data_source needs the secret INTAKE_CLI: open http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("datasource-mcp: received INTAKE_CLI; calling bigid_create_data_source")
    );
    let result: Value = serde_json::from_str(&stdout).expect("the result on stdout");
    assert_eq!(result, json!({"_id": "65f0", "echo": "created"}));
    assert!(!stdout.contains(&value) && !stderr.contains(&value));
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].json()["ds_connection"]["password"], value);
}

/// Through the CLI: a dry run prints the plan at once, with no link and no wait (before, it
/// printed a link and waited for a value nobody had agreed to give).
#[tokio::test]
async fn a_dry_run_through_the_cli_never_asks() {
    let (fake, _) = fake_bigid().await;
    let base = fake.url("/api/v1");
    let args = Value::Object(dry(create_args("INTAKE_CLI_DRY"))).to_string();
    let (stdout, stderr, code) = run_call(
        &["bigid_create_data_source", "--args", &args],
        &[("BIGID_BASE_URL", &base), ("BIGID_ACCESS_TOKEN", TOKEN)],
        |_| None,
    )
    .await;
    assert_eq!((code, stderr.as_str()), (0, ""));
    let plan: Value = serde_json::from_str(&stdout).expect("the plan on stdout");
    assert_eq!(plan["references"], asked_references("INTAKE_CLI_DRY"));
    assert!(
        changes(&fake.requests()).is_empty(),
        "a dry run changes nothing"
    );
}

/// "Remember" ticked on the page (the keychain here keyring-core's in-memory store): a
/// restarted server (a new engine and page, the same keychain) uses the value for the same
/// provider and hosts without asking, and its dry run says so; for another host it asks.
/// Unticked, nothing is kept.
#[tokio::test]
async fn a_value_remembered_on_the_page_is_used_after_a_restart_where_it_was_entered_for() {
    use datasource_mcp::keychain::Keychain;
    let value = value_for("remembered");
    let (fake, vars) = fake_bigid().await;
    let store: std::sync::Arc<keyring_core::CredentialStore> =
        keyring_core::mock::Store::new().unwrap();
    let keychain = Keychain::in_store(store);
    let secret = "INTAKE_REMEMBERED";
    let args = || create_args(secret).as_object().unwrap().clone();

    let (server, _) = remembering_server(&vars, keychain.clone());
    let handler = ElicitingClient::remembering(&value);
    let client = connect(server, handler.clone()).await;
    let created = client
        .call_tool(CallToolRequestParams::new("bigid_create_data_source").with_arguments(args()))
        .await
        .unwrap();
    assert_eq!(
        created.structured_content,
        Some(json!({"_id": "65f0", "echo": "created"}))
    );
    assert_eq!(handler.seen.lock().unwrap().len(), 1);
    let index = keychain.index().unwrap();
    assert_eq!(
        index.secrets[secret],
        datasource_mcp::keychain::Scope {
            provider: "bigid".into(),
            hosts: vec!["db.example.com".into()]
        }
    );

    // Restarted: nothing typed, nothing asked.
    let (server, intake) = remembering_server(&vars, keychain.clone());
    let handler = ElicitingClient::new("never-typed");
    let client = connect(server, handler.clone()).await;
    let plan = client
        .call_tool(
            CallToolRequestParams::new("bigid_create_data_source")
                .with_arguments(dry(create_args(secret))),
        )
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(
        plan["references"][0]["from"],
        format!(
            "{}, remembered from the intake page for this provider and these hosts",
            datasource_mcp::keychain::place()
        )
    );
    let created = client
        .call_tool(CallToolRequestParams::new("bigid_create_data_source").with_arguments(args()))
        .await
        .unwrap();
    assert_eq!(
        created.structured_content,
        Some(json!({"_id": "65f0", "echo": "created"}))
    );
    assert!(handler.seen.lock().unwrap().is_empty(), "asked again");
    assert!(intake.held().is_empty());
    let requests = fake.requests();
    let sent = changes(&requests);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].json()["ds_connection"]["password"], value);
    // Another host: asked on the page.
    let mut elsewhere = create_args(secret);
    elsewhere["ds_connection"]["rdb_url"] = json!("mysql://scan@elsewhere.example:3306/orders");
    let plan = client
        .call_tool(
            CallToolRequestParams::new("bigid_create_data_source").with_arguments(dry(elsewhere)),
        )
        .await
        .unwrap()
        .structured_content
        .unwrap();
    assert_eq!(plan["references"][0]["from"], ASKED_ON_CHANGE);

    // Unticked: only in memory.
    let (server, _) = remembering_server(&vars, keychain.clone());
    let handler = ElicitingClient::new(&value);
    let client = connect(server, handler.clone()).await;
    let other = create_args("INTAKE_NOT_REMEMBERED");
    client
        .call_tool(
            CallToolRequestParams::new("bigid_create_data_source")
                .with_arguments(other.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_eq!(handler.seen.lock().unwrap().len(), 1);
    assert!(
        !keychain
            .index()
            .unwrap()
            .secrets
            .contains_key("INTAKE_NOT_REMEMBERED")
    );
}

#[tokio::test]
async fn the_cli_with_no_wait_exits_2_and_sends_nothing() {
    let (fake, _) = fake_bigid().await;
    let base = fake.url("/api/v1");
    let args = create_args("INTAKE_NO_WAIT").to_string();
    let (stdout, stderr, code) = run_call(
        &["bigid_create_data_source", "--args", &args, "--no-wait"],
        &[("BIGID_BASE_URL", &base), ("BIGID_ACCESS_TOKEN", TOKEN)],
        |_| None,
    )
    .await;
    assert_eq!(code, 2);
    assert_eq!(stdout, "");
    assert_eq!(
        stderr,
        "datasource-mcp: bigid_create_data_source: the secret INTAKE_NO_WAIT has no value: set DATASOURCE_MCP_SECRET_INTAKE_NO_WAIT, or call without --no-wait to enter it on a one-time page\n"
    );
    assert!(fake.requests().is_empty());
    // Turned off: the unknown reference, naming the variable.
    let (stdout, _, code) = run_call(
        &["bigid_create_data_source", "--args", &args],
        &[
            ("BIGID_BASE_URL", &base),
            ("BIGID_ACCESS_TOKEN", TOKEN),
            ("DATASOURCE_MCP_NO_SECRET_INTAKE", "1"),
        ],
        |_| None,
    )
    .await;
    assert_eq!(code, 1);
    let result: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["error"]["code"], "UNKNOWN_SECRET_REFERENCE");
    assert!(fake.requests().is_empty());
}

const HTTP_TOKEN: &str = "http-token-for-intake-tests";

/// The binary serving HTTP with `args`: the MCP URL, the child, and its stderr so far.
async fn spawn_http(
    args: &[&str],
    vars: &[(&str, &str)],
) -> (String, tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(binary())
        .args(["--transport", "http"])
        .args(args)
        .env_clear()
        .env("DATASOURCE_MCP_HTTP_TOKEN", HTTP_TOKEN)
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
            break format!("http://{}", rest.split(' ').next().unwrap())
                .replace("0.0.0.0", "127.0.0.1");
        }
    };
    (url, child, seen)
}

async fn http_call(url: &str, tool: &str, args: &Value) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": args}});
    let r = http()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {HTTP_TOKEN}"))
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    v["result"]["structuredContent"].clone()
}

#[tokio::test]
async fn over_http_the_page_is_under_the_servers_own_address() {
    let value = value_for("http-loopback");
    let (fake, _) = fake_bigid().await;
    let base = fake.url("/api/v1");
    let (url, mut child, _) = spawn_http(
        &["--listen", "127.0.0.1:0"],
        &[("BIGID_BASE_URL", &base), ("BIGID_ACCESS_TOKEN", TOKEN)],
    )
    .await;
    let args = create_args("INTAKE_HTTP");
    let first = http_call(&url, "bigid_create_data_source", &args).await;
    assert_eq!(first["error"]["code"], "SECRET_NEEDED", "{first}");
    let link = link_in(first["error"]["hint"].as_str().unwrap()).unwrap();
    let server = url.trim_end_matches("/mcp");
    assert!(
        link.starts_with(&format!("{server}/secrets/")),
        "{link} under {server}"
    );
    // No bearer token: a browser has none.
    assert_eq!(enter(&link, &value).await.status, 200);
    let created = http_call(&url, "bigid_create_data_source", &args).await;
    assert_eq!(created, json!({"_id": "65f0", "echo": "created"}));
    assert_eq!(
        fake.requests()[0].json()["ds_connection"]["password"],
        value
    );
    child.start_kill().unwrap();
}

#[tokio::test]
async fn over_http_on_a_non_loopback_address_without_public_url_no_link_is_offered() {
    let (fake, _) = fake_bigid().await;
    let base = fake.url("/api/v1");
    let (url, mut child, stderr) = spawn_http(
        &["--listen", "0.0.0.0:0"],
        &[("BIGID_BASE_URL", &base), ("BIGID_ACCESS_TOKEN", TOKEN)],
    )
    .await;
    assert!(
        stderr.contains("the secret intake page is off (the server listens on a non-loopback address without --public-url)"),
        "{stderr}"
    );
    let result = http_call(
        &url,
        "bigid_create_data_source",
        &create_args("INTAKE_PUBLIC"),
    )
    .await;
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "code": "UNKNOWN_SECRET_REFERENCE",
            "field": "ds_connection.password",
            "message": "`ds_connection.password`: the secret reference ${secret:INTAKE_PUBLIC} is not set",
            "hint": "set DATASOURCE_MCP_SECRET_INTAKE_PUBLIC in the server's environment (or put a file INTAKE_PUBLIC in its secrets directory), or use another reference; nothing was sent"}})
    );
    let page = format!(
        "{}/secrets/{}",
        url.trim_end_matches("/mcp"),
        "0".repeat(64)
    );
    // Not served: the path falls to the guarded MCP routes.
    assert_eq!(open(&page).await.status, 401);
    assert!(fake.requests().is_empty());
    child.start_kill().unwrap();

    // With --public-url the page is served, and links start with it.
    let (url, mut child, _) = spawn_http(
        &[
            "--listen",
            "0.0.0.0:0",
            "--public-url",
            "https://mcp.example.com/",
        ],
        &[("BIGID_BASE_URL", &base), ("BIGID_ACCESS_TOKEN", TOKEN)],
    )
    .await;
    let result = http_call(
        &url,
        "bigid_create_data_source",
        &create_args("INTAKE_PUBLIC"),
    )
    .await;
    assert_eq!(result["error"]["code"], "SECRET_NEEDED");
    let hint = result["error"]["hint"].as_str().unwrap();
    assert!(
        hint.contains("open https://mcp.example.com/secrets/"),
        "{hint}"
    );
    // A person behind the proxy: the page answers for the public host, and its form is sent
    // from the public origin.
    let link = link_in(&hint.replace("https://", "http://")).unwrap();
    let here = link.replace("http://mcp.example.com", url.trim_end_matches("/mcp"));
    let opened = http()
        .get(&here)
        .header("host", "mcp.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200);
    let html = opened.text().await.unwrap();
    let at = html.find("name=\"form_token\" value=\"").unwrap() + 25;
    let form_token = html[at..].split('"').next().unwrap();
    let sent = http()
        .post(&here)
        .header("host", "mcp.example.com")
        .header("origin", "https://mcp.example.com")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "form_token={form_token}&value=public-origin-S3NT1NEL"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200, "{}", sent.text().await.unwrap());
    child.start_kill().unwrap();
}

// ---- a person in a real browser -----------------------------------------------------------------

/// Headless Chromium from the distribution, with JavaScript off: the page loads, shows the
/// form, takes the typed value on Enter, and says it was received; the same call then
/// succeeds. Skipped, saying so, where no Chromium is installed (`.ci/run` installs it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_types_the_value_into_the_page_in_a_real_browser() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "SKIPPED intake::a_person_types_the_value_into_the_page_in_a_real_browser: no chromium, chromium-browser or google-chrome on PATH (apt-get install chromium)"
        );
        return;
    };
    let value = value_for("browser");
    let (fake, vars) = fake_bigid().await;
    let (client, intake) = intake_client(&vars, IntakeSettings::default()).await;
    let args = create_args("INTAKE_BROWSER");
    let (result, _) = call(&client, "bigid_create_data_source", args.clone()).await;
    let link = assert_secret_needed(&result, "INTAKE_BROWSER");

    // What a GET shows a browser.
    let dom = {
        let (chromium, link) = (chromium.clone(), link.clone());
        tokio::task::spawn_blocking(move || dump_dom(&chromium, &link))
            .await
            .unwrap()
    };
    for shown in [
        "INTAKE_BROWSER",
        "bigid_create_data_source",
        "db.example.com",
        r#"type="password""#,
    ] {
        assert!(dom.contains(shown), "{shown} not in the DOM: {dom}");
    }

    // A person types the value and presses Enter, with JavaScript off.
    let typed = value.clone();
    let (form, answer) = tokio::task::spawn_blocking(move || {
        let mut browser = Browser::start(&chromium);
        browser.page(
            "Emulation.setScriptExecutionDisabled",
            json!({"value": true}),
        );
        browser.open(&link);
        let form = browser.html();
        browser.focus("input[type=password]");
        browser.type_text(&typed);
        browser.press_enter();
        browser.wait_for_load();
        let answer = browser.html();
        (form, answer)
    })
    .await
    .unwrap();
    assert!(form.contains("Send to the server"), "{form}");
    assert!(!form.contains(&value));
    assert!(
        answer.contains("Received"),
        "the browser's POST was refused: {answer}"
    );
    assert!(!answer.contains(&value));
    assert_eq!(
        entered(&intake, "INTAKE_BROWSER").await.unwrap().expose(),
        value
    );

    let (result, is_error) = call(&client, "bigid_create_data_source", args).await;
    assert!(!is_error, "{result}");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].json()["ds_connection"]["password"], value);
}

/// The built binary over stdio (its own stdio transport), with a client that takes URL-mode
/// elicitation: the elicitation and its answer cross the pipe while the call waits.
#[tokio::test]
async fn over_stdio_the_binary_elicits_the_link_and_goes_on() {
    use rmcp::ServiceExt;
    use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
    let value = value_for("stdio-elicit");
    let (fake, _) = fake_bigid().await;
    let base = fake.url("/api/v1");
    let cmd = tokio::process::Command::new(binary()).configure(|c| {
        c.env_clear()
            .env("BIGID_BASE_URL", &base)
            .env("BIGID_ACCESS_TOKEN", TOKEN)
            .stderr(std::process::Stdio::null());
    });
    let handler = ElicitingClient::new(&value);
    let client = handler
        .clone()
        .serve(TokioChildProcess::new(cmd).unwrap())
        .await
        .expect("client connects");
    let params = CallToolRequestParams::new("bigid_create_data_source").with_arguments(
        create_args("INTAKE_STDIO_ELICIT")
            .as_object()
            .unwrap()
            .clone(),
    );
    let result = tokio::time::timeout(Duration::from_secs(20), client.call_tool(params))
        .await
        .expect("answered within 20 s")
        .expect("answered");
    assert_eq!(
        result.structured_content,
        Some(json!({"_id": "65f0", "echo": "created"}))
    );
    assert_eq!(handler.seen.lock().unwrap().len(), 1);
    assert_eq!(
        fake.requests()[0].json()["ds_connection"]["password"],
        value
    );
    let _ = client.cancel().await;
}

// ---- the sandbox onboarding flow: template → test → create with the password unset → page ------

/// What the onboarding flow sends, with `${secret:NAME}` for the password the user never types
/// into the chat.
fn sandbox_source(secret: &str) -> Value {
    json!({"name": format!("orders-{}", secret.to_lowercase()), "type": "rdb-mysql",
        "rdb_url": "orders-db.prod.example:3306", "rdb_name": "orders", "username": "bigid_scan",
        "password": format!("${{secret:{secret}}}")})
}

/// The flow through an MCP client that takes URL-mode elicitation: the connection test is the
/// first call that needs the password, so it is asked for once there; the create then uses the
/// value entered; the stored source tests green by name. The value is in no result.
/// (The running service's `call_tool`, not the peer's: it drives the 2026 era's rounds.)
async fn onboard_on_the_sandbox(
    client: &rmcp::service::RunningService<rmcp::RoleClient, ElicitingClient>,
    secret: &str,
    value: &str,
) {
    let call = |name: &'static str, args: Value| async move {
        let result = client
            .call_tool(
                CallToolRequestParams::new(name).with_arguments(args.as_object().unwrap().clone()),
            )
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let text = serde_json::to_string(&result).unwrap();
        assert!(
            !text.contains(value),
            "{name}: the value in a result: {text}"
        );
        assert_ne!(result.is_error, Some(true), "{name}: {text}");
        result.structured_content.unwrap_or_default()
    };
    let template = call("bigid_get_connector_template", json!({"type": "rdb-mysql"})).await;
    assert_eq!(template["name"], "rdb-mysql", "{template}");
    let source = sandbox_source(secret);
    let test = call(
        "bigid_test_data_source_connection",
        json!({ "ds_connection": source }),
    )
    .await;
    assert_eq!(test["success"], true, "{test}");
    let created = call(
        "bigid_create_data_source",
        json!({ "ds_connection": source }),
    )
    .await;
    assert_eq!(created["statusCode"], 200, "{created}");
    let stored = call(
        "bigid_test_stored_data_source",
        json!({"name": source["name"]}),
    )
    .await;
    assert_eq!(stored["success"], true, "{stored}");
}

#[tokio::test]
async fn the_sandbox_onboarding_takes_the_password_from_the_page_2025() {
    let value = value_for("sandbox-2025");
    let sb = datasource_mcp::sandbox::Sandbox::start(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let (server, _intake) = intake_server(&sb.env(), IntakeSettings::default());
    let handler = ElicitingClient::new(&value);
    let client = connect(server, handler.clone()).await;
    onboard_on_the_sandbox(&client, "SANDBOX_DB_2025", &value).await;
    assert_eq!(handler.seen.lock().unwrap().len(), 1, "asked once");
}

#[tokio::test]
async fn the_sandbox_onboarding_takes_the_password_from_the_page_2026() {
    let value = value_for("sandbox-2026");
    let sb = datasource_mcp::sandbox::Sandbox::start(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let (server, _intake) = intake_server(&sb.env(), IntakeSettings::default());
    let handler = ElicitingClient::new(&value);
    let client = connect_2026(server, handler.clone()).await;
    onboard_on_the_sandbox(&client, "SANDBOX_DB_2026", &value).await;
    assert_eq!(handler.seen.lock().unwrap().len(), 1, "asked once");
}

/// The same create through the CLI: it prints the link, waits for the value, then creates.
#[tokio::test]
async fn the_sandbox_onboarding_through_the_cli() {
    let value = value_for("sandbox-cli");
    let sb = datasource_mcp::sandbox::Sandbox::start(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let vars: Vec<(String, String)> = sb.env().into_iter().collect();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let args = json!({ "ds_connection": sandbox_source("SANDBOX_DB_CLI") }).to_string();
    let entered = value.clone();
    let (stdout, stderr, code) = run_call(
        &["bigid_create_data_source", "--args", &args],
        &vars,
        |line| {
            let link = link_in(line)?;
            let value = entered.clone();
            Some(tokio::spawn(async move {
                assert_eq!(enter(&link, &value).await.status, 200);
            }))
        },
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let result: Value = serde_json::from_str(&stdout).expect("the result on stdout");
    assert_eq!(result["statusCode"], 200, "{result}");
    assert_eq!(result["data"]["ds_connection"]["password"], "***");
    assert!(!stdout.contains(&value) && !stderr.contains(&value));
}
