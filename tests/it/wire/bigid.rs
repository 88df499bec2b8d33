//! BigID against the recording fake: for every tool, the exact request sent upstream (method,
//! path, query, auth header, body) and the exact result; auth flows; errors.

use crate::support::*;
use datasource_mcp::operation::Provider;
use serde_json::json;

const USER_TOKEN: &str = "user-token-S3NT1NEL-7f3a9c";
const SYSTEM_TOKEN: &str = "system-token-abc123";

/// BigID: the user token is exchanged for a session token, which goes in a raw
/// `Authorization` header.
const BIGID: Vendor = Vendor {
    base_url: ("BIGID_BASE_URL", "/api/v1"),
    credentials: &[("BIGID_USER_TOKEN", USER_TOKEN)],
    exchange: Some(Exchange {
        method: "GET",
        path: "/api/v1/refresh-access-token",
        answer: || json!({"success": true, "systemToken": SYSTEM_TOKEN}),
    }),
    auth: AuthHeader::raw("authorization", SYSTEM_TOKEN),
};

fn assert_token_exchange(r: &Recorded) {
    assert_request(
        r,
        "GET",
        "/api/v1/refresh-access-token",
        None,
        AuthHeader::raw("authorization", USER_TOKEN),
        None,
    );
}

#[tokio::test]
async fn lists_tools_with_all_annotations() {
    let (_fake, client) = setup(&BIGID).await;
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
    assert_eq!(names, tool_names(|op| op.provider == Provider::BigId));
    for t in &tools {
        let a = t.annotations.as_ref().expect("annotations");
        assert!(
            a.read_only_hint.is_some()
                && a.destructive_hint.is_some()
                && a.idempotent_hint.is_some()
                && a.open_world_hint.is_some(),
            "{} sets all four hints",
            t.name
        );
        let dry_run = t
            .input_schema
            .get("properties")
            .and_then(|p| p.get("dry_run"))
            .is_some();
        assert_eq!(
            dry_run,
            a.read_only_hint == Some(false),
            "{} dry_run",
            t.name
        );
    }
    let delete = tools
        .iter()
        .find(|t| t.name == "bigid_delete_data_source")
        .unwrap();
    assert_eq!(
        delete.annotations.as_ref().unwrap().destructive_hint,
        Some(true)
    );
}

#[tokio::test]
async fn list_data_sources_with_paging_and_token_reuse() {
    let (fake, client) = setup(&BIGID).await;
    let listing = json!({"status": "success", "statusCode": 200,
        "data": {"ds_connections": [{"name": "orders", "type": "rdb-mysql", "enabled": "yes"}]}});
    fake.on(
        "GET",
        "/api/v1/ds-connections",
        Reply::json(200, listing.clone()),
    );

    let (result, is_error) = call(
        &client,
        "bigid_list_data_sources",
        json!({"skip": 10, "limit": 5}),
    )
    .await;
    assert!(!is_error);
    // One compact row; the vendor said no total and the page is short: no next page.
    let page = json!({"items": [{"id": "orders", "name": "orders", "type": "rdb-mysql",
        "status": "untested"}]});
    assert_eq!(result, page);
    let (again, _) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert_eq!(again, page);

    let reqs = fake.requests();
    assert_eq!(
        reqs.len(),
        3,
        "one token exchange, then two calls: {reqs:#?}"
    );
    assert_token_exchange(&reqs[0]);
    assert_request(
        &reqs[1],
        "GET",
        "/api/v1/ds-connections",
        Some("skip=10&limit=5&requireTotalCount=true"),
        BIGID.auth,
        None,
    );
    assert_request(
        &reqs[2],
        "GET",
        "/api/v1/ds-connections",
        Some("limit=50&requireTotalCount=true"),
        BIGID.auth,
        None,
    );
}

#[tokio::test]
async fn get_data_source_percent_encodes_the_name() {
    let (fake, client) = setup(&BIGID).await;
    let path = "/api/v1/ds_connections/Prod%20MySQL%20%28EU%29%3A%20orders";
    let source = json!({"ds_connection": {"name": "Prod MySQL (EU): orders", "type": "rdb-mysql", "password": "********"}});
    fake.on("GET", path, Reply::json(200, source));

    let (result, is_error) = call(
        &client,
        "bigid_get_data_source",
        json!({"name": "Prod MySQL (EU): orders"}),
    )
    .await;
    assert!(!is_error);
    assert_eq!(
        result,
        json!({"ds_connection": {"name": "Prod MySQL (EU): orders", "type": "rdb-mysql", "password": "***"}})
    );
    let reqs = fake.requests();
    assert_request(
        &reqs[1],
        "GET",
        path,
        Some("withoutCredentialValue=true"),
        BIGID.auth,
        None,
    );
}

#[tokio::test]
async fn create_data_source_wraps_ds_connection_and_masks_the_echo() {
    let (fake, client) = setup(&BIGID).await;
    let ds = json!({"name": "orders", "type": "rdb-mysql", "enabled": "yes",
        "rdb_url": "mysql.internal:3306", "rdb_name": "orders", "username": "scan",
        "password": SENTINEL, "scanner_group": "default"});
    // A vendor that echoes the password back: the result must not carry it.
    fake.on(
        "POST",
        "/api/v1/ds_connections",
        Reply::json(201, json!({"ds_connection": ds.clone(), "_id": "65f0"})),
    );

    let (result, is_error) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": ds}),
    )
    .await;
    assert!(!is_error);
    let mut masked = ds.clone();
    masked["password"] = json!("***");
    assert_eq!(result, json!({"ds_connection": masked, "_id": "65f0"}));
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_request(
        &reqs[1],
        "POST",
        "/api/v1/ds_connections",
        None,
        BIGID.auth,
        Some(json!({"ds_connection": ds})),
    );
}

#[tokio::test]
async fn update_reads_then_writes_the_merge() {
    let (fake, client) = setup(&BIGID).await;
    let path = "/api/v1/ds_connections/orders%20db";
    fake.on(
        "GET",
        path,
        Reply::json(
            200,
            json!({"ds_connection": {"name": "orders db", "type": "rdb-mysql",
            "rdb_url": "mysql.internal:3306", "username": "scan", "password": "********",
            "scanner_group": "default", "enabled": "yes", "custom_fields": [{"k": "v"}]}}),
        ),
    );
    fake.on(
        "PUT",
        path,
        Reply::json(200, json!({"status": "success", "statusCode": 200})),
    );

    let (result, is_error) = call(
        &client,
        "bigid_update_data_source",
        json!({"name": "orders db", "changes": {"enabled": "no", "scanner_group": "eu"}}),
    )
    .await;
    assert!(!is_error, "{result}");
    assert_eq!(result, json!({"status": "success", "statusCode": 200}));
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    assert_request(
        &reqs[1],
        "GET",
        path,
        Some("withoutCredentialValue=true"),
        BIGID.auth,
        None,
    );
    assert_request(
        &reqs[2],
        "PUT",
        path,
        None,
        BIGID.auth,
        Some(
            json!({"ds_connection": {"name": "orders db", "type": "rdb-mysql",
            "rdb_url": "mysql.internal:3306", "username": "scan",
            "scanner_group": "eu", "enabled": "no", "custom_fields": [{"k": "v"}]}}),
        ),
    );
}

#[tokio::test]
async fn update_of_a_missing_source_writes_nothing() {
    let (fake, client) = setup(&BIGID).await;
    fake.on(
        "GET",
        "/api/v1/ds_connections/ghost",
        Reply::json(404, json!({"message": "Data source ghost not found"})),
    );
    let (result, is_error) = call(
        &client,
        "bigid_update_data_source",
        json!({"name": "ghost", "changes": {"enabled": "no"}}),
    )
    .await;
    assert!(is_error);
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "status": 404, "message": "Data source ghost not found",
            "hint": "nothing with that name or id exists: list first to see what does"}})
    );
    assert!(fake.requests().iter().all(|r| r.method != "PUT"));
}

#[tokio::test]
async fn delete_data_source() {
    let (fake, client) = setup(&BIGID).await;
    fake.on(
        "DELETE",
        "/api/v1/ds_connections/orders",
        Reply::json(200, json!({"status": "success"})),
    );
    let (result, is_error) = call(
        &client,
        "bigid_delete_data_source",
        json!({"name": "orders"}),
    )
    .await;
    assert!(!is_error);
    assert_eq!(result, json!({"status": "success"}));
    assert_request(
        &fake.requests()[1],
        "DELETE",
        "/api/v1/ds_connections/orders",
        None,
        BIGID.auth,
        None,
    );
}

#[tokio::test]
async fn empty_vendor_body_becomes_the_status() {
    let (fake, client) = setup(&BIGID).await;
    fake.on(
        "DELETE",
        "/api/v1/ds_connections/orders",
        Reply::text(204, ""),
    );
    let (result, is_error) = call(
        &client,
        "bigid_delete_data_source",
        json!({"name": "orders"}),
    )
    .await;
    assert!(!is_error);
    assert_eq!(result, json!({"status": 204}));
}

#[tokio::test]
async fn test_connection_sends_is_new_password() {
    let (fake, client) = setup(&BIGID).await;
    fake.on(
        "POST",
        "/api/v1/ds-connection-test",
        Reply::json(
            200,
            json!({"success": false, "message": "Connection refused"}),
        ),
    );
    let ds = json!({"type": "rdb-mysql", "rdb_url": "db.invalid:3306", "username": "u", "password": "pw-1234"});
    let (result, is_error) = call(
        &client,
        "bigid_test_data_source_connection",
        json!({"ds_connection": ds}),
    )
    .await;
    assert!(!is_error);
    assert_eq!(
        result,
        json!({"success": false, "message": "Connection refused"})
    );
    assert_request(
        &fake.requests()[1],
        "POST",
        "/api/v1/ds-connection-test",
        None,
        BIGID.auth,
        Some(json!({"ds_connection": ds, "isNewPassword": true})),
    );
}

#[tokio::test]
async fn export_joins_ids_and_wraps_arrays() {
    let (fake, client) = setup(&BIGID).await;
    let exported = json!([{"name": "a", "type": "s3-v2"}, {"name": "b", "type": "snowflake"}]);
    fake.on(
        "GET",
        "/api/v1/ds-connections/file-download/export",
        Reply::json(200, exported.clone()),
    );
    let (result, _) = call(
        &client,
        "bigid_export_data_sources",
        json!({"ids": ["a", "b"]}),
    )
    .await;
    assert_eq!(result, json!({"items": exported}));
    let (_, _) = call(&client, "bigid_export_data_sources", json!({})).await;
    let reqs = fake.requests();
    assert_request(
        &reqs[1],
        "GET",
        "/api/v1/ds-connections/file-download/export",
        Some("ids=a%2Cb"),
        BIGID.auth,
        None,
    );
    assert_request(
        &reqs[2],
        "GET",
        "/api/v1/ds-connections/file-download/export",
        None,
        BIGID.auth,
        None,
    );
}

#[tokio::test]
async fn templates_fall_back_to_the_older_path_on_404() {
    let (fake, client) = setup(&BIGID).await;
    // No rule for /ds-connections-types: the fake answers 404.
    fake.on(
        "GET",
        "/api/v1/ds-templates",
        Reply::json(200, json!({"data": [{"type": "rdb-mysql"}]})),
    );
    let (result, is_error) = call(&client, "bigid_list_connector_templates", json!({})).await;
    assert!(!is_error);
    assert_eq!(
        result,
        json!({"items": [{"id": "rdb-mysql", "type": "rdb-mysql"}], "total": 1})
    );
    let reqs = fake.requests();
    assert_request(
        &reqs[1],
        "GET",
        "/api/v1/ds-connections-types",
        None,
        BIGID.auth,
        None,
    );
    assert_request(
        &reqs[2],
        "GET",
        "/api/v1/ds-templates",
        None,
        BIGID.auth,
        None,
    );

    let template =
        json!({"name": "rdb-mysql", "fields": [{"apiName": "rdb_url", "mandatory": true}]});
    fake.on(
        "GET",
        "/api/v1/ds-connections-types/template/rdb-mysql",
        Reply::json(200, template.clone()),
    );
    let (result, _) = call(
        &client,
        "bigid_get_connector_template",
        json!({"type": "rdb-mysql"}),
    )
    .await;
    assert_eq!(result, template);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 4, "no fallback when the official path answers");
    assert_request(
        &reqs[3],
        "GET",
        "/api/v1/ds-connections-types/template/rdb-mysql",
        None,
        BIGID.auth,
        None,
    );

    let (result, is_error) = call(
        &client,
        "bigid_get_connector_template",
        json!({"type": "no-such"}),
    )
    .await;
    assert!(is_error);
    assert_eq!(result["error"]["status"], 404);
    let reqs = fake.requests();
    assert_eq!(
        reqs[4].path,
        "/api/v1/ds-connections-types/template/no-such"
    );
    assert_eq!(reqs[5].path, "/api/v1/ds-templates/no-such");
}

#[tokio::test]
async fn username_and_password_log_in_at_sessions() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "POST",
        "/api/v1/sessions",
        Reply::json(
            200,
            json!({"success": true, "message": "Enjoy your token!", "auth_token": "session-jwt-1"}),
        ),
    );
    fake.on(
        "GET",
        "/api/v1/ds-connections",
        Reply::json(200, json!({"data": {"ds_connections": []}})),
    );
    let client = client(&[
        ("BIGID_BASE_URL", &fake.url("/api/v1")),
        ("BIGID_USERNAME", "admin"),
        ("BIGID_PASSWORD", SENTINEL),
    ])
    .await;
    let (_, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(!is_error);
    let reqs = fake.requests();
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/api/v1/sessions");
    assert_eq!(
        reqs[0].json(),
        json!({"username": "admin", "password": SENTINEL})
    );
    assert_eq!(reqs[0].header("authorization"), None);
    assert_request(
        &reqs[1],
        "GET",
        "/api/v1/ds-connections",
        Some("limit=50&requireTotalCount=true"),
        AuthHeader::raw("authorization", "session-jwt-1"),
        None,
    );
}

#[tokio::test]
async fn access_token_is_used_as_is_and_bearer_is_optional() {
    let fake = FakeUpstream::start().await;
    fake.on("GET", "/api/v1/ds-connections", Reply::json(200, json!({})));
    let base = fake.url("/api/v1");
    let raw = client(&[("BIGID_BASE_URL", &base), ("BIGID_ACCESS_TOKEN", "tok-raw")]).await;
    call(&raw, "bigid_list_data_sources", json!({})).await;
    let bearer = client(&[
        ("BIGID_BASE_URL", &base),
        ("BIGID_ACCESS_TOKEN", "tok-b"),
        ("BIGID_AUTH_SCHEME", "bearer"),
    ])
    .await;
    call(&bearer, "bigid_list_data_sources", json!({})).await;
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2, "no token exchange for an access token");
    assert_eq!(reqs[0].header("authorization"), Some("tok-raw"));
    assert_eq!(reqs[1].header("authorization"), Some("Bearer tok-b"));
}

#[tokio::test]
async fn a_401_obtains_a_new_token_once_and_repeats_once() {
    let (fake, client) = setup(&BIGID).await;
    fake.once(
        "GET",
        "/api/v1/ds-connections",
        Reply::json(401, json!({"message": "token expired"})),
    );
    fake.on(
        "GET",
        "/api/v1/ds-connections",
        Reply::json(200, json!({"data": {}})),
    );
    let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(!is_error);
    assert_eq!(result, json!({"items": []}));
    let paths: Vec<_> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/v1/refresh-access-token",
            "/api/v1/ds-connections",
            "/api/v1/refresh-access-token",
            "/api/v1/ds-connections"
        ]
    );
}

#[tokio::test]
async fn a_second_401_is_an_error_naming_the_credential() {
    let (fake, client) = setup(&BIGID).await;
    fake.on(
        "GET",
        "/api/v1/ds-connections",
        Reply::json(401, json!({"message": "Unauthorized"})),
    );
    let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(is_error);
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "status": 401, "message": "Unauthorized",
            "hint": "check BIGID_USER_TOKEN (or BIGID_USERNAME/BIGID_PASSWORD, or BIGID_ACCESS_TOKEN)"}})
    );
    assert_eq!(
        fake.requests().len(),
        4,
        "exchange, call, exchange, call: no more"
    );
}

#[tokio::test]
async fn a_refused_user_token_is_an_authentication_error() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/v1/refresh-access-token",
        Reply::json(401, json!({"message": "Invalid user token"})),
    );
    let client = BIGID.client(&fake).await;
    let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(is_error);
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "status": 401, "code": "AUTHENTICATION_FAILED",
            "message": "BigID refused the credential: Invalid user token",
            "hint": "check BIGID_USER_TOKEN (or BIGID_USERNAME/BIGID_PASSWORD, or BIGID_ACCESS_TOKEN)"}})
    );
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn vendor_errors_become_the_envelope() {
    let (fake, client) = setup(&BIGID).await;
    fake.on(
        "POST",
        "/api/v1/ds_connections",
        Reply::json(400, json!({"status": "error", "message": format!("Data source with name orders already exists (password {SENTINEL})")})),
    );
    let (result, is_error) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": {"name": "orders", "type": "rdb-mysql", "password": SENTINEL}}),
    )
    .await;
    assert!(is_error);
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "status": 400,
            "message": "Data source with name orders already exists (password ***)",
            "hint": "the name already exists: pick another or update it"}})
    );

    fake.on(
        "GET",
        "/api/v1/ds-connections",
        Reply::text(503, "upstream overloaded"),
    );
    let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(is_error);
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "status": 503, "message": "upstream overloaded",
            "hint": "BigID failed on its side: call again later; if it persists, check the vendor's status"}})
    );
}

#[tokio::test]
async fn a_closed_port_names_the_base_url_variable() {
    // Bind then drop a listener: the port is closed.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = client(&[
        ("BIGID_BASE_URL", &format!("http://127.0.0.1:{port}/api/v1")),
        ("BIGID_ACCESS_TOKEN", "tok"),
    ])
    .await;
    let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(is_error);
    let error = &result["error"];
    assert_eq!(error["provider"], "bigid");
    assert_eq!(error["code"], "CONNECTION_FAILED");
    assert!(error.get("status").is_none());
    assert_eq!(
        error["hint"],
        "check BIGID_BASE_URL and that the host is reachable from this machine"
    );
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("could not connect to 127.0.0.1:{port}: ")),
        "{message}"
    );
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let (fake, client) = setup(&BIGID).await;
    let other = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/v1/ds-connections",
        Reply::text(302, "").with_header("location", &other.url("/steal")),
    );
    let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(is_error);
    assert_eq!(result["error"]["code"], "REDIRECTED");
    assert_eq!(result["error"]["status"], 302);
    assert_eq!(
        result["error"]["hint"],
        "set BIGID_BASE_URL to the address the vendor redirects to"
    );
    assert!(
        other.requests().is_empty(),
        "the credential never reaches another host"
    );
}

/// Every validation rule answers an error naming the field, and nothing is sent.
#[tokio::test]
async fn validation_errors_send_nothing() {
    let (fake, client) = setup(&BIGID).await;
    let cases = [
        (
            "bigid_list_data_sources",
            json!({"limit": 0}),
            "limit",
            "must be between 1 and 10000",
        ),
        (
            "bigid_list_data_sources",
            json!({"limit": "ten"}),
            "limit",
            "wrong type: expected a whole number ≥ 0",
        ),
        ("bigid_list_data_sources", json!({"limt": 5}), "limt", ""),
        ("bigid_get_data_source", json!({}), "name", "is required"),
        (
            "bigid_get_data_source",
            json!({"name": "  "}),
            "name",
            "must not be empty",
        ),
        (
            "bigid_get_data_source",
            json!({"name": "a\u{202E}b"}),
            "name",
            "must not contain control or invisible characters",
        ),
        (
            "bigid_create_data_source",
            json!({"ds_connection": {"type": "rdb-mysql"}}),
            "ds_connection.name",
            "is required",
        ),
        (
            "bigid_create_data_source",
            json!({"ds_connection": {"name": "x"}}),
            "ds_connection.type",
            "is required",
        ),
        (
            "bigid_create_data_source",
            json!({"ds_connection": {"name": "a/b", "type": "rdb-mysql"}}),
            "ds_connection.name",
            "may hold only letters, digits, spaces, _ - ( ) :",
        ),
        (
            "bigid_create_data_source",
            json!({"ds_connection": {"name": "x", "type": "rdb-mysql", "enabled": "maybe"}}),
            "ds_connection.enabled",
            "must be yes or no",
        ),
        (
            "bigid_create_data_source",
            json!({"ds_connection": {"name": "x", "type": "t"}, "dry_run": "yes"}),
            "dry_run",
            "wrong type: expected a boolean",
        ),
        (
            "bigid_update_data_source",
            json!({"name": "x", "changes": {}}),
            "changes",
            "must name at least one field",
        ),
        (
            "bigid_update_data_source",
            json!({"name": "x"}),
            "changes",
            "is required",
        ),
        (
            "bigid_update_data_source",
            json!({"name": "x", "changes": {"name": "a.b"}}),
            "changes.name",
            "may hold only letters, digits, spaces, _ - ( ) :",
        ),
        (
            "bigid_delete_data_source",
            json!({"name": ""}),
            "name",
            "must not be empty",
        ),
        (
            "bigid_test_data_source_connection",
            json!({"ds_connection": {}}),
            "ds_connection.type",
            "is required",
        ),
        (
            "bigid_export_data_sources",
            json!({"ids": []}),
            "ids",
            "must hold at least one id (omit it to export all)",
        ),
        (
            "bigid_export_data_sources",
            json!({"ids": ["a,b"]}),
            "ids[0]",
            "must not contain a comma",
        ),
        (
            "bigid_get_connector_template",
            json!({"type": ""}),
            "type",
            "must not be empty",
        ),
        ("bigid_list_connector_templates", json!({"x": 1}), "x", ""),
    ];
    for (tool, args, field, reason) in cases {
        assert_invalid(&client, "bigid", tool, args.clone(), field, reason).await;
        let (result, _) = call(&client, tool, args).await;
        assert_eq!(
            result["error"]["hint"],
            format!("fix `{field}` and call again; nothing was sent")
        );
    }
    assert!(
        fake.requests().is_empty(),
        "nothing sent: {:#?}",
        fake.requests()
    );
}

#[tokio::test]
async fn unknown_tool_is_a_protocol_error() {
    let (fake, client) = setup(&BIGID).await;
    let err = call_raw(&client, "bigid_drop_everything", json!({}))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown tool: bigid_drop_everything"),
        "{err}"
    );
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn dry_run_shows_the_request_and_sends_nothing() {
    let (fake, client) = setup(&BIGID).await;
    let (result, is_error) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": {"name": "orders", "type": "rdb-mysql", "password": SENTINEL}, "dry_run": true}),
    )
    .await;
    assert!(!is_error);
    let base = fake.url("/api/v1");
    assert_eq!(
        result,
        json!({"dry_run": true, "note": "Nothing was sent.", "requests": [{
            "method": "POST", "url": format!("{base}/ds_connections"),
            "headers": {"accept": "application/json", "authorization": "***",
                "content-type": "application/json", "user-agent": UA},
            "body": {"ds_connection": {"name": "orders", "type": "rdb-mysql", "password": "***"}}}]})
    );
    assert!(fake.requests().is_empty(), "not even a token exchange");
}

// ---- evidence: token types, 400 for an unknown name ----------------------------------------

/// A JWT whose payload says `{"type": "..."}` (signature irrelevant here).
fn jwt(kind: &str) -> String {
    use base64::Engine as _;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    format!(
        "{}.{}.c2lnbmF0dXJl",
        b64(json!({"alg": "HS256", "typ": "JWT"})),
        b64(json!({"type": kind, "user": "scan", "exp": 4102444800u64}))
    )
}

/// BigID's own MCP server uses an access token as is and exchanges a refresh token; we do the
/// same with `BIGID_USER_TOKEN`.
#[tokio::test]
async fn a_user_token_is_exchanged_unless_it_is_an_access_token() {
    for (kind, exchanged) in [("access-token", false), ("refresh-token", true)] {
        let token = jwt(kind);
        let fake = FakeUpstream::start().await;
        fake.on(
            "GET",
            "/api/v1/refresh-access-token",
            Reply::json(200, json!({"success": true, "systemToken": SYSTEM_TOKEN})),
        );
        fake.on(
            "GET",
            "/api/v1/ds-connections",
            Reply::json(200, json!({"data": {"ds_connections": []}})),
        );
        let client = client(&[
            ("BIGID_BASE_URL", &fake.url("/api/v1")),
            ("BIGID_USER_TOKEN", &token),
        ])
        .await;
        let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
        assert!(!is_error, "{kind}: {result}");
        let sent = fake.requests();
        let list = sent.last().unwrap();
        if exchanged {
            assert_eq!(sent.len(), 2, "{kind}");
            assert_request(
                &sent[0],
                "GET",
                "/api/v1/refresh-access-token",
                None,
                AuthHeader::raw("authorization", &token),
                None,
            );
            assert_eq!(list.header("authorization"), Some(SYSTEM_TOKEN));
        } else {
            assert_eq!(sent.len(), 1, "{kind}: no exchange");
            assert_eq!(list.header("authorization"), Some(token.as_str()));
        }
    }
}

/// BigID answers a name it does not know with 400 "Unable to locate …": a missing name, for
/// the hint and for telling whether a lost create happened.
#[tokio::test]
async fn unable_to_locate_is_a_missing_name() {
    let (fake, client) = setup(&BIGID).await;
    let unknown = Reply::json(
        400,
        json!({"status": "error", "statusCode": 400, "message": "Unable to locate data source Orders"}),
    );
    fake.on("GET", "/api/v1/ds_connections/Orders", unknown);
    let (result, _) = call(&client, "bigid_get_data_source", json!({"name": "Orders"})).await;
    assert_eq!(
        result["error"]["hint"],
        "no data source of that name exists: list data sources to see the names"
    );
    fake.on("POST", "/api/v1/ds_connections", Reply::dropped());
    let (result, _) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": {"name": "Orders", "type": "rdb-mysql"}}),
    )
    .await;
    assert_eq!(result["error"]["code"], "NOT_CREATED", "{result}");
}

/// The vendor refusing a request whose shape is only assumed: the hint says so, and how to
/// show what the vendor answered.
#[tokio::test]
async fn a_refused_request_of_an_assumed_shape_says_so() {
    let (fake, client) = setup(&BIGID).await;
    fake.on(
        "GET",
        "/api/v1/ds_connections/Orders",
        Reply::json(
            200,
            json!({"ds_connection": {"name": "Orders", "type": "rdb-mysql"}}),
        ),
    );
    fake.on(
        "PUT",
        "/api/v1/ds_connections/Orders",
        Reply::json(400, json!({"message": "ds_connection.owners is required"})),
    );
    let (result, _) = call(
        &client,
        "bigid_update_data_source",
        json!({"name": "Orders", "changes": {"enabled": "no"}}),
    )
    .await;
    let hint = result["error"]["hint"].as_str().unwrap();
    assert!(
        hint.starts_with("the vendor rejected the request: fix what the message names and call again; note: this request's shape is not confirmed by public evidence (Whether PUT replaces"),
        "{hint}"
    );
    assert!(
        hint.ends_with(
            "run the server with --trace-vendor FILE and report what the vendor answered"
        ),
        "{hint}"
    );
    // A refusal of a request whose shape is documented has no such note.
    fake.on(
        "DELETE",
        "/api/v1/ds_connections/Orders",
        Reply::json(400, json!({"message": "in use"})),
    );
    let (result, _) = call(
        &client,
        "bigid_delete_data_source",
        json!({"name": "Orders"}),
    )
    .await;
    assert!(
        !result["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("not confirmed")
    );
}
