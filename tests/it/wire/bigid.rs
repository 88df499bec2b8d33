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
    assert_eq!(names, tool_names(offered_with_only(Provider::BigId)));
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
        // A write dry-runs; so does a test of many stored sources (one yes for all of them).
        let batch_probe = t.name == "inventory_test_data_sources";
        assert_eq!(
            dry_run,
            a.read_only_hint == Some(false) || batch_probe,
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
        json!({"error": {"provider": "bigid", "status": 404, "code": "NOT_FOUND",
            "message": "Data source ghost not found",
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
            json!({"success": false, "message": "Connection refused", "connection": "fails: Connection refused"}),
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
        json!({"success": false, "message": "Connection refused", "connection": "fails: Connection refused"})
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

/// A stored source is tested as BigID stores it: read by name, then sent back without the
/// credentials BigID hid and with `isNewPassword: false`, so BigID uses the stored credential.
#[tokio::test]
async fn test_stored_data_source_reads_then_tests_with_the_stored_credential() {
    let (fake, client) = setup(&BIGID).await;
    let path = "/api/v1/ds_connections/Orders%20%28EU%29";
    let stored = json!({"_id": "65f0", "name": "Orders (EU)", "type": "rdb-mysql",
        "rdb_url": "mysql.internal:3306", "rdb_name": "orders", "username": "scan",
        "scanner_group": "default", "enabled": "yes", "custom_fields": [{"k": "v"}],
        "connectionStatusTest": {"is_success": false, "last_connection": "2025-05-30T16:45:01.962Z"}});
    let mut answer = stored.clone();
    answer["password"] = json!("********");
    fake.on(
        "GET",
        path,
        Reply::json(200, json!({"ds_connection": answer})),
    );
    fake.on(
        "POST",
        "/api/v1/ds-connection-test",
        Reply::json(
            200,
            json!({"success": true, "message": "Connection to MySQL data source succeeded", "connection": "works"}),
        ),
    );

    let (result, is_error) = call(
        &client,
        "bigid_test_stored_data_source",
        json!({"name": "Orders (EU)"}),
    )
    .await;
    assert!(!is_error, "{result}");
    assert_eq!(
        result,
        json!({"success": true, "message": "Connection to MySQL data source succeeded", "connection": "works"})
    );
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3, "{reqs:#?}");
    assert_token_exchange(&reqs[0]);
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
        "POST",
        "/api/v1/ds-connection-test",
        None,
        BIGID.auth,
        Some(json!({"ds_connection": stored, "isNewPassword": false})),
    );
}

/// The stored source is found under `data` too, and credentials BigID leaves empty are left
/// out like masked ones; BigID's failed test is the result, not an error.
#[tokio::test]
async fn test_stored_data_source_reads_the_source_under_data() {
    let (fake, client) = setup(&BIGID).await;
    let path = "/api/v1/ds_connections/HR";
    fake.on(
        "GET",
        path,
        Reply::json(
            200,
            json!({"status": "success", "statusCode": 200, "data": {"ds_connection": {
                "name": "HR", "type": "sharepoint-online", "client_id": "6a7b",
                "client_secret": "", "sharepoint_url": "https://acme.sharepoint.com/sites/hr"}}}),
        ),
    );
    fake.on(
        "POST",
        "/api/v1/ds-connection-test",
        Reply::json(
            200,
            json!({"success": false, "message": "Test connection failed: 401 Unauthorized",
            "connection": "fails: Test connection failed: 401 Unauthorized"}),
        ),
    );
    let (result, is_error) = call(
        &client,
        "bigid_test_stored_data_source",
        json!({"name": "HR"}),
    )
    .await;
    assert!(!is_error, "{result}");
    assert_eq!(
        result,
        json!({"success": false, "message": "Test connection failed: 401 Unauthorized",
            "connection": "fails: Test connection failed: 401 Unauthorized"})
    );
    assert_request(
        &fake.requests()[2],
        "POST",
        "/api/v1/ds-connection-test",
        None,
        BIGID.auth,
        Some(
            json!({"ds_connection": {"name": "HR", "type": "sharepoint-online",
            "client_id": "6a7b", "sharepoint_url": "https://acme.sharepoint.com/sites/hr"},
            "isNewPassword": false}),
        ),
    );
}

/// A name BigID does not know, or an answer that holds no source: nothing is tested.
#[tokio::test]
async fn test_stored_data_source_of_a_missing_source_tests_nothing() {
    let (fake, client) = setup(&BIGID).await;
    fake.on(
        "GET",
        "/api/v1/ds_connections/ghost",
        Reply::json(
            400,
            json!({"status": "error", "statusCode": 400, "message": "Unable to locate data source ghost"}),
        ),
    );
    let (result, is_error) = call(
        &client,
        "bigid_test_stored_data_source",
        json!({"name": "ghost"}),
    )
    .await;
    assert!(is_error);
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "status": 400, "code": "NOT_FOUND",
            "message": "Unable to locate data source ghost",
            "hint": "no data source of that name exists: list data sources to see the names"}})
    );
    fake.on(
        "GET",
        "/api/v1/ds_connections/odd",
        Reply::json(200, json!({"status": "success", "statusCode": 200})),
    );
    let (result, is_error) = call(
        &client,
        "bigid_test_stored_data_source",
        json!({"name": "odd"}),
    )
    .await;
    assert!(is_error);
    assert_eq!(result["error"]["code"], "INVALID_ARGUMENT", "{result}");
    assert_eq!(result["error"]["field"], "name", "{result}");
    assert!(fake.requests().iter().all(|r| r.method != "POST"));
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
    fake.on(
        "GET",
        "/api/v1/ds-connections",
        Reply::json(200, json!({"ds_connections": []})),
    );
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
        Reply::json(200, json!({"data": {"ds_connections": []}})),
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

/// BigID's refusal as recorded against its sandbox: HTTP 200, served as text/html, the JSON
/// `{"success": false, "message"}` (JupiterOne/graph-bigid's recordings).
fn html_refusal(message: &str) -> Reply {
    Reply::text(
        200,
        &json!({"success": false, "message": message}).to_string(),
    )
    .with_header("content-type", "text/html; charset=utf-8")
}

const TOKEN_REFUSED: &str = "Failed to authenticate token.";
const CREDENTIAL_HINT: &str =
    "check BIGID_USER_TOKEN (or BIGID_USERNAME/BIGID_PASSWORD, or BIGID_ACCESS_TOKEN)";

/// A refused user token (HTTP 200, `success: false`) is an authentication error carrying
/// BigID's message, not an answer without a token; nothing else is sent.
#[tokio::test]
async fn a_user_token_refused_with_200_is_an_authentication_error() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/v1/refresh-access-token",
        html_refusal(TOKEN_REFUSED),
    );
    let client = BIGID.client(&fake).await;
    let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(is_error);
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "status": 200, "code": "AUTHENTICATION_FAILED",
            "message": "BigID refused the credential: Failed to authenticate token.",
            "hint": CREDENTIAL_HINT}})
    );
    let sent = fake.requests();
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_token_exchange(&sent[0]);
}

/// A refused login at `POST /sessions`, as BigID's sandbox answers it.
#[tokio::test]
async fn a_login_refused_with_200_is_an_authentication_error() {
    let fake = FakeUpstream::start().await;
    let refused =
        "Authentication failed. Username / Password incorrect or insufficient roles in AD.";
    fake.on("POST", "/api/v1/sessions", html_refusal(refused));
    let client = client(&[
        ("BIGID_BASE_URL", &fake.url("/api/v1")),
        ("BIGID_USERNAME", "INVALID"),
        ("BIGID_PASSWORD", SENTINEL),
    ])
    .await;
    let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(is_error);
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "status": 200, "code": "AUTHENTICATION_FAILED",
            "message": format!("BigID refused the credential: {refused}"),
            "hint": CREDENTIAL_HINT}})
    );
    assert_eq!(fake.requests().len(), 1);
}

/// An API request answered 200 "Failed to authenticate token." counts as a 401: the token is
/// obtained again once and the request repeated once.
#[tokio::test]
async fn a_request_refused_with_200_obtains_a_new_token_once() {
    let (fake, client) = setup(&BIGID).await;
    fake.once("GET", "/api/v1/ds-connections", html_refusal(TOKEN_REFUSED));
    let listing = json!({"status": "success", "statusCode": 200,
        "data": {"ds_connections": [{"name": "orders", "type": "rdb-mysql"}], "totalCount": 1}});
    fake.on("GET", "/api/v1/ds-connections", Reply::json(200, listing));
    let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(!is_error, "{result}");
    assert_eq!(
        result,
        json!({"items": [{"id": "orders", "name": "orders", "type": "rdb-mysql", "status": "untested"}],
            "total": 1})
    );
    let sent = fake.requests();
    assert_eq!(sent.len(), 4, "{sent:#?}");
    let list = |r: &Recorded| {
        assert_request(
            r,
            "GET",
            "/api/v1/ds-connections",
            Some("limit=50&requireTotalCount=true"),
            BIGID.auth,
            None,
        )
    };
    assert_token_exchange(&sent[0]);
    list(&sent[1]);
    assert_token_exchange(&sent[2]);
    list(&sent[3]);

    // Refused again after a new token: an authentication error, and no third try.
    fake.clear();
    fake.on("GET", "/api/v1/ds-connections", html_refusal(TOKEN_REFUSED));
    let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(is_error);
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "status": 200, "code": "AUTHENTICATION_FAILED",
            "message": "BigID refused the credential: Failed to authenticate token.",
            "hint": CREDENTIAL_HINT}})
    );
    let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/v1/ds-connections",
            "/api/v1/refresh-access-token",
            "/api/v1/ds-connections"
        ]
    );
}

/// An access token (used as is) that BigID refuses: nothing to obtain again, one request.
#[tokio::test]
async fn a_refused_access_token_is_an_authentication_error_at_once() {
    let fake = FakeUpstream::start().await;
    fake.on("GET", "/api/v1/ds-connections", html_refusal(TOKEN_REFUSED));
    let client = client(&[
        ("BIGID_BASE_URL", &fake.url("/api/v1")),
        ("BIGID_ACCESS_TOKEN", "tok-raw"),
    ])
    .await;
    let (result, _) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert_eq!(result["error"]["code"], "AUTHENTICATION_FAILED", "{result}");
    assert_eq!(fake.requests().len(), 1);
}

/// A connection test that fails answers `{"success": false, "message"}` too: that is the
/// test's result, not a refused token.
#[tokio::test]
async fn a_failed_connection_test_is_not_a_refused_token() {
    let (fake, client) = setup(&BIGID).await;
    let failed = json!({"success": false, "message": "Test connection failed: Access denied for user 'scan'"});
    fake.on(
        "POST",
        "/api/v1/ds-connection-test",
        Reply::json(200, failed.clone()),
    );
    let (result, is_error) = call(
        &client,
        "bigid_test_data_source_connection",
        json!({"ds_connection": {"type": "rdb-mysql", "rdb_url": "db.example:3306"}}),
    )
    .await;
    assert!(!is_error, "{result}");
    let mut shown = failed.clone();
    shown["connection"] = json!("fails: Test connection failed: Access denied for user 'scan'");
    assert_eq!(result, shown);
    assert_eq!(fake.requests().len(), 2, "the exchange and the test, once");
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
            "bigid_test_stored_data_source",
            json!({"name": " "}),
            "name",
            "must not be empty",
        ),
        (
            "bigid_test_stored_data_source",
            json!({"name": "x", "ds_connection": {}}),
            "ds_connection",
            "",
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
        (
            "bigid_list_data_sources",
            json!({"detail": "all"}),
            "detail",
            "must be compact or full",
        ),
        (
            "bigid_list_data_sources",
            json!({"fields": []}),
            "fields",
            "must be a non-empty list of field names",
        ),
        (
            "bigid_list_data_sources",
            json!({"fields": ["name", 3]}),
            "fields[1]",
            "must be a field name (a dotted path such as connectionStatusTest.is_success)",
        ),
        (
            "bigid_list_connector_templates",
            json!({"limit": 0}),
            "limit",
            "must be between 1 and 1000",
        ),
        (
            "bigid_list_connector_templates",
            json!({"limit": 1001}),
            "limit",
            "must be between 1 and 1000",
        ),
        (
            "bigid_list_connector_templates",
            json!({"skip": -1}),
            "skip",
            "wrong type: expected a whole number ≥ 0",
        ),
        (
            "bigid_list_connector_templates",
            json!({"detail": "full", "fields": " "}),
            "fields",
            "must be a non-empty list of field names",
        ),
    ];
    for (tool, args, field, reason) in cases {
        assert_invalid(&client, "bigid", tool, args.clone(), field, reason).await;
        let (result, _) = call(&client, tool, args).await;
        let hint = result["error"]["hint"].as_str().unwrap();
        if field == "ds_connection.name" && result["error"].get("proposed").is_some() {
            // A create without its name gets one proposed.
            assert!(
                hint.starts_with("`ds_connection.name` is required: propose a name"),
                "{hint}"
            );
            assert!(hint.ends_with("nothing was sent"), "{hint}");
        } else {
            assert_eq!(
                hint,
                format!("fix `{field}` and call again; nothing was sent")
            );
        }
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
        json!({"dry_run": true,
            "note": "Nothing was changed. Read from the vendor to check: its data sources (look-alikes) and the type's template (fields it needs).",
            "requests": [{
            "method": "POST", "url": format!("{base}/ds_connections"),
            "body": {"ds_connection": {"name": "orders", "type": "rdb-mysql", "password": "***"}}}]})
    );
    // Reads only: the login, the list and the template.
    let methods: Vec<String> = fake.requests().iter().map(|r| r.method.clone()).collect();
    assert!(methods.iter().all(|m| m == "GET"), "{methods:?}");
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
    // The code every vendor's not-found gets, BigID's message and hint kept.
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "status": 400, "code": "NOT_FOUND",
            "message": "Unable to locate data source Orders",
            "hint": "no data source of that name exists: list data sources to see the names"}})
    );
    // Another 400 is not a missing name.
    fake.once(
        "GET",
        "/api/v1/ds_connections/Orders",
        Reply::json(
            400,
            json!({"status": "error", "statusCode": 400, "message": "Invalid name"}),
        ),
    );
    let (result, _) = call(&client, "bigid_get_data_source", json!({"name": "Orders"})).await;
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "status": 400, "message": "Invalid name",
            "hint": "the vendor rejected the request: fix what the message names and call again"}})
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

// ---- list pages: compact rows, total, next, fields, detail, the result budget ---------------

const LIST: &str = "/api/v1/ds-connections";

/// Sources as BigID lists them: a test result (`connectionStatusTest`, or the older
/// `test_is_success`/`test_timestamp`), a host in `rdb_url` or a `location`, or neither.
fn sources() -> Vec<serde_json::Value> {
    vec![
        json!({"name": "Orders MySQL", "type": "rdb-mysql", "enabled": "yes",
            "rdb_url": "mysql.orders.acme.example:3306", "rdb_name": "orders",
            "username": "bigid_scan", "password": "********", "scanner_group": "default",
            "connectionStatusTest": {"is_success": true,
                "last_connection": "2025-05-20T08:03:10.874Z", "num_of_object": 42}}),
        json!({"name": "Customer Data Lake", "type": "s3-v2", "enabled": "yes",
            "bucket_name": "acme-customer-lake", "location": "us-east-1",
            "connectionStatusTest": {"is_success": false,
                "last_connection": "2025-05-12T10:21:44.630Z", "num_of_object": 0}}),
        json!({"name": "HR SharePoint", "type": "sharepoint-online", "enabled": "no",
            "connectionStatusTest": {"is_success": true,
                "last_connection": "2025-04-01T07:00:00.000Z"}}),
        json!({"name": "Legacy CRM (EU): archive", "type": "rdb-postgresql", "enabled": "yes",
            "rdb_url": "crm_reader@crm.eu.acme.example:5432/crm?sslmode=require",
            "test_is_success": false, "test_timestamp": "2024-09-01T06:10:27.345Z"}),
        json!({"name": "New Snowflake", "type": "snowflake", "enabled": "yes",
            "connectionStatusTest": {"is_success": null, "last_connection": null}}),
    ]
}

/// The compact rows of `sources()`.
fn source_rows() -> Vec<serde_json::Value> {
    vec![
        json!({"id": "Orders MySQL", "name": "Orders MySQL", "type": "rdb-mysql", "status": "works",
            "host": "mysql.orders.acme.example", "port": 3306, "database": "orders",
            "tested_at": "2025-05-20T08:03:10.874Z"}),
        json!({"id": "Customer Data Lake", "name": "Customer Data Lake", "type": "s3-v2",
            "status": "fails", "host": "us-east-1", "tested_at": "2025-05-12T10:21:44.630Z"}),
        json!({"id": "HR SharePoint", "name": "HR SharePoint", "type": "sharepoint-online",
            "status": "disabled", "tested_at": "2025-04-01T07:00:00.000Z"}),
        json!({"id": "Legacy CRM (EU): archive", "name": "Legacy CRM (EU): archive",
            "type": "rdb-postgresql", "status": "fails", "host": "crm.eu.acme.example",
            "port": 5432, "database": "crm",
            "tested_at": "2024-09-01T06:10:27.345Z"}),
        json!({"id": "New Snowflake", "name": "New Snowflake", "type": "snowflake",
            "status": "untested"}),
    ]
}

/// BigID's answer to a page: `items`, and the total when asked for it.
fn source_page(items: &[serde_json::Value], total: Option<u64>) -> serde_json::Value {
    let mut data = json!({"ds_connections": items});
    if let Some(total) = total {
        data["totalCount"] = json!(total);
    }
    json!({"status": "success", "statusCode": 200, "data": data})
}

/// Each page asks BigID for that page and its total; `next` is the next page's exact
/// arguments, and following it walks the list to its end.
#[tokio::test]
async fn list_data_sources_pages_compact_rows_and_next_walks_the_list() {
    let (fake, client) = setup(&BIGID).await;
    let (all, rows) = (sources(), source_rows());
    for range in [0..2, 2..4, 4..5] {
        fake.once(
            "GET",
            LIST,
            Reply::json(200, source_page(&all[range], Some(5))),
        );
    }
    let (first, is_error) = call(&client, "bigid_list_data_sources", json!({"limit": 2})).await;
    assert!(!is_error, "{first}");
    assert_eq!(
        first,
        json!({"items": rows[0..2], "total": 5, "next": {"limit": 2, "skip": 2}})
    );
    let (second, _) = call(&client, "bigid_list_data_sources", first["next"].clone()).await;
    assert_eq!(
        second,
        json!({"items": rows[2..4], "total": 5, "next": {"limit": 2, "skip": 4}})
    );
    let (last, _) = call(&client, "bigid_list_data_sources", second["next"].clone()).await;
    assert_eq!(last, json!({"items": rows[4..5], "total": 5}));

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 4, "{reqs:#?}");
    assert_token_exchange(&reqs[0]);
    for (r, query) in reqs[1..].iter().zip([
        "limit=2&requireTotalCount=true",
        "skip=2&limit=2&requireTotalCount=true",
        "skip=4&limit=2&requireTotalCount=true",
    ]) {
        assert_request(r, "GET", LIST, Some(query), BIGID.auth, None);
    }
}

/// An answer without a total: a full page may have more after it, a short one is the last.
#[tokio::test]
async fn list_data_sources_without_a_total_points_on_from_full_pages_only() {
    let (fake, client) = setup(&BIGID).await;
    let (all, rows) = (sources(), source_rows());
    fake.once("GET", LIST, Reply::json(200, source_page(&all[0..2], None)));
    fake.once("GET", LIST, Reply::json(200, source_page(&all[2..3], None)));
    let (full, _) = call(&client, "bigid_list_data_sources", json!({"limit": 2})).await;
    assert_eq!(
        full,
        json!({"items": rows[0..2], "next": {"limit": 2, "skip": 2}})
    );
    let (short, _) = call(&client, "bigid_list_data_sources", full["next"].clone()).await;
    assert_eq!(short, json!({"items": rows[2..3]}));
    let reqs = fake.requests();
    assert_request(
        &reqs[1],
        "GET",
        LIST,
        Some("limit=2&requireTotalCount=true"),
        BIGID.auth,
        None,
    );
    assert_request(
        &reqs[2],
        "GET",
        LIST,
        Some("skip=2&limit=2&requireTotalCount=true"),
        BIGID.auth,
        None,
    );
}

/// `fields` gives only the named fields (dotted paths into the item); `detail: full` the
/// vendor's objects as they are (secrets masked). Neither reaches BigID; both carry into
/// `next`.
#[tokio::test]
async fn list_data_sources_fields_and_full_detail() {
    let (fake, client) = setup(&BIGID).await;
    let all = sources();
    fake.once("GET", LIST, Reply::json(200, source_page(&all, Some(5))));
    let (picked, _) = call(
        &client,
        "bigid_list_data_sources",
        json!({"fields": ["name", "connectionStatusTest.is_success", "rdb_url", "no.such"]}),
    )
    .await;
    assert_eq!(
        picked,
        json!({"items": [
            {"name": "Orders MySQL", "connectionStatusTest.is_success": true,
                "rdb_url": "mysql.orders.acme.example:3306"},
            {"name": "Customer Data Lake", "connectionStatusTest.is_success": false},
            {"name": "HR SharePoint", "connectionStatusTest.is_success": true},
            {"name": "Legacy CRM (EU): archive",
                "rdb_url": "crm_reader@crm.eu.acme.example:5432/crm?sslmode=require"},
            {"name": "New Snowflake", "connectionStatusTest.is_success": null}],
            "total": 5})
    );

    fake.once(
        "GET",
        LIST,
        Reply::json(200, source_page(&all[0..2], Some(5))),
    );
    let (full, _) = call(
        &client,
        "bigid_list_data_sources",
        json!({"detail": "full", "limit": 2}),
    )
    .await;
    let mut masked = all[0].clone();
    masked["password"] = json!("***");
    assert_eq!(
        full,
        json!({"items": [masked, all[1]], "total": 5,
            "next": {"detail": "full", "limit": 2, "skip": 2}})
    );
    fake.once(
        "GET",
        LIST,
        Reply::json(200, source_page(&all[2..4], Some(5))),
    );
    let (next, _) = call(&client, "bigid_list_data_sources", full["next"].clone()).await;
    assert_eq!(
        next,
        json!({"items": all[2..4], "total": 5, "next": {"detail": "full", "limit": 2, "skip": 4}})
    );

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 4, "{reqs:#?}");
    for (r, query) in reqs[1..].iter().zip([
        "limit=50&requireTotalCount=true",
        "limit=2&requireTotalCount=true",
        "skip=2&limit=2&requireTotalCount=true",
    ]) {
        assert_request(r, "GET", LIST, Some(query), BIGID.auth, None);
    }
}

/// A page over the result budget keeps whole items, says so, and `next` starts right after
/// the last item kept: the next call asks BigID from there.
#[tokio::test]
async fn list_data_sources_cut_by_the_result_budget() {
    let (fake, client) = setup(&BIGID).await;
    let source = |i: usize| {
        json!({"name": format!("source-{i:04}"), "type": "rdb-mysql", "enabled": "yes",
            "rdb_url": format!("mysql-{i:04}.acme.example:3306"),
            "description": format!("{i:04} ").repeat(80),
            "connectionStatusTest": {"is_success": true,
                "last_connection": "2025-05-20T08:03:10.874Z", "num_of_object": i}})
    };
    let first: Vec<_> = (100..400).map(source).collect();
    fake.once(
        "GET",
        LIST,
        Reply::json(200, source_page(&first, Some(1_000))),
    );
    let called = json!({"skip": 100, "limit": 300, "detail": "full"});
    let (result, text_len) = call_page(&client, "bigid_list_data_sources", called.clone()).await;
    let kept = assert_cut(&result, text_len, &first, Some(1_000), &called, 100, 300);
    assert!(kept > 50, "{kept}");

    let second: Vec<_> = (100 + kept..400 + kept).map(source).collect();
    fake.once(
        "GET",
        LIST,
        Reply::json(200, source_page(&second, Some(1_000))),
    );
    let (result, text_len) =
        call_page(&client, "bigid_list_data_sources", result["next"].clone()).await;
    assert_eq!(result["items"][0], source(100 + kept));
    assert_cut(
        &result,
        text_len,
        &second,
        Some(1_000),
        &called,
        100 + kept as u64,
        300,
    );

    // Compact rows are cut the same way.
    let long = |i: usize| {
        let mut s = source(i);
        s["name"] = json!(format!("source-{i:04}-{}", "n".repeat(300)));
        s
    };
    let named: Vec<_> = (100..400).map(long).collect();
    let rows: Vec<_> = (100..400)
        .map(|i| {
            let name = long(i)["name"].clone();
            json!({"id": name, "name": name, "type": "rdb-mysql", "status": "works",
                "host": format!("mysql-{i:04}.acme.example"), "port": 3306,
                "tested_at": "2025-05-20T08:03:10.874Z"})
        })
        .collect();
    fake.once(
        "GET",
        LIST,
        Reply::json(200, source_page(&named, Some(1_000))),
    );
    let compact = json!({"skip": 100, "limit": 300});
    let (result, text_len) = call_page(&client, "bigid_list_data_sources", compact.clone()).await;
    let kept_rows = assert_cut(&result, text_len, &rows, Some(1_000), &compact, 100, 300);

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 4, "{reqs:#?}");
    for (r, query) in reqs[1..].iter().zip([
        "skip=100&limit=300&requireTotalCount=true".to_string(),
        format!("skip={}&limit=300&requireTotalCount=true", 100 + kept),
        "skip=100&limit=300&requireTotalCount=true".to_string(),
    ]) {
        assert_request(r, "GET", LIST, Some(&query), BIGID.auth, None);
    }
    assert!(kept_rows > 50, "{kept_rows}");
}

const TYPES: &str = "/api/v1/ds-connections-types";

/// Connector types as BigID lists them: named by `type` or by `name`, with or without a
/// display name.
fn templates() -> Vec<serde_json::Value> {
    vec![
        json!({"name": "rdb-mysql", "displayName": "MySQL", "category": "RDB",
            "fields": [{"apiName": "rdb_url", "mandatory": true}]}),
        json!({"type": "s3-v2", "displayName": "Amazon S3", "category": "Cloud Storage"}),
        json!({"type": "snowflake"}),
    ]
}

fn template_rows() -> Vec<serde_json::Value> {
    vec![
        json!({"id": "rdb-mysql", "type": "rdb-mysql", "name": "MySQL"}),
        json!({"id": "s3-v2", "type": "s3-v2", "name": "Amazon S3"}),
        json!({"id": "snowflake", "type": "snowflake"}),
    ]
}

/// BigID answers every type at once (`{data: [...]}` or `{templates: [...]}`): the server
/// cuts the page, knows the total, and `next` walks to the end. No request carries paging.
#[tokio::test]
async fn connector_templates_are_paged_by_the_server() {
    let (fake, client) = setup(&BIGID).await;
    let rows = template_rows();
    for answer in [
        json!({"status": "success", "statusCode": 200, "data": templates()}),
        json!({"templates": templates()}),
    ] {
        fake.on("GET", TYPES, Reply::json(200, answer.clone()));
        let (first, is_error) = call(
            &client,
            "bigid_list_connector_templates",
            json!({"limit": 2}),
        )
        .await;
        assert!(!is_error, "{first}");
        assert_eq!(
            first,
            json!({"items": rows[0..2], "total": 3, "next": {"limit": 2, "skip": 2}}),
            "{answer}"
        );
        let (last, _) = call(
            &client,
            "bigid_list_connector_templates",
            first["next"].clone(),
        )
        .await;
        assert_eq!(last, json!({"items": rows[2..3], "total": 3}), "{answer}");
        let (all, _) = call(&client, "bigid_list_connector_templates", json!({})).await;
        assert_eq!(all, json!({"items": rows, "total": 3}), "{answer}");
    }
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1 + 6, "{reqs:#?}");
    for r in &reqs[1..] {
        assert_request(r, "GET", TYPES, None, BIGID.auth, None);
    }
}

#[tokio::test]
async fn connector_templates_fields_and_full_detail() {
    let (fake, client) = setup(&BIGID).await;
    let all = templates();
    fake.on("GET", TYPES, Reply::json(200, json!({"data": all})));
    let (picked, _) = call(
        &client,
        "bigid_list_connector_templates",
        json!({"fields": ["type", "category", "fields"], "limit": 2}),
    )
    .await;
    assert_eq!(
        picked,
        json!({"items": [
            {"category": "RDB", "fields": [{"apiName": "rdb_url", "mandatory": true}]},
            {"type": "s3-v2", "category": "Cloud Storage"}],
            "total": 3, "next": {"fields": ["type", "category", "fields"], "limit": 2, "skip": 2}})
    );
    let (full, _) = call(
        &client,
        "bigid_list_connector_templates",
        json!({"detail": "full", "skip": 1, "limit": 1}),
    )
    .await;
    assert_eq!(
        full,
        json!({"items": [all[1]], "total": 3, "next": {"detail": "full", "skip": 2, "limit": 1}})
    );
    let (last, _) = call(
        &client,
        "bigid_list_connector_templates",
        full["next"].clone(),
    )
    .await;
    assert_eq!(last, json!({"items": [all[2]], "total": 3}));
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 4, "{reqs:#?}");
    for r in &reqs[1..] {
        assert_request(r, "GET", TYPES, None, BIGID.auth, None);
    }
}

/// Three hundred types with their fields: the page the budget leaves keeps whole types, and
/// `next` starts after the last one kept.
#[tokio::test]
async fn connector_templates_cut_by_the_result_budget() {
    let (fake, client) = setup(&BIGID).await;
    let template = |i: usize| {
        json!({"name": format!("type-{i:03}"), "displayName": format!("Type {i:03}"),
            "fields": (0..8).map(|f| json!({"apiName": format!("field_{f}"), "mandatory": f < 2,
                "displayName": format!("Field {f} of type {i:03}"),
                "validation": [{"regex": "^[^\\s/:]+(:\\d{1,5})?$",
                    "errorText": "Use host or host:port"}]})).collect::<Vec<_>>()})
    };
    let all: Vec<_> = (0..300).map(template).collect();
    fake.on("GET", TYPES, Reply::json(200, json!({"data": all})));
    let called = json!({"detail": "full", "skip": 100, "limit": 200});
    let (result, text_len) =
        call_page(&client, "bigid_list_connector_templates", called.clone()).await;
    let kept = assert_cut(
        &result,
        text_len,
        &all[100..300],
        Some(300),
        &called,
        100,
        200,
    );
    assert!(kept > 20, "{kept}");
    let (next, text_len) = call_page(
        &client,
        "bigid_list_connector_templates",
        result["next"].clone(),
    )
    .await;
    let more = assert_cut(
        &next,
        text_len,
        &all[100 + kept..300],
        Some(300),
        &called,
        100 + kept as u64,
        200,
    );
    assert_eq!(next["items"][0], template(100 + kept));
    assert!(more > 20, "{more}");
}

// ---- bugs found in list pages, kept as regressions ------------------------------------------

/// A bare-list answer: the Listing's `""` pointer ("the answer itself") is meant to find it,
/// but the engine has already wrapped it as `{"items": [...]}`, so nothing is listed and the
/// total says 0.
#[tokio::test]
async fn regression_a_bare_list_answer_is_listed() {
    let (fake, client) = setup(&BIGID).await;
    fake.on("GET", TYPES, Reply::json(200, json!(templates())));
    let (page, _) = call(
        &client,
        "bigid_list_connector_templates",
        json!({"limit": 2}),
    )
    .await;
    assert_eq!(
        page,
        json!({"items": template_rows()[0..2], "total": 3, "next": {"limit": 2, "skip": 2}})
    );
    fake.on("GET", LIST, Reply::json(200, json!(sources())));
    let (page, _) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert_eq!(page, json!({"items": source_rows()}));
}

/// A field picked by a dotted path keeps the masking its key has in the vendor's object: a
/// secret under `pwd`, `pass`, `credential` or `authorization` is masked with `detail: full`
/// but comes out readable as `conn.pwd`.
#[tokio::test]
async fn regression_picked_fields_stay_masked() {
    let (fake, client) = setup(&BIGID).await;
    let item = json!({"name": "a", "type": "rdb-mysql", "conn": {"pwd": "hunter2-pwd",
        "pass": "hunter2-pass", "credential": "hunter2-cred", "authorization": "Basic YTpi"}});
    fake.on("GET", LIST, Reply::json(200, source_page(&[item], Some(1))));
    let (full, _) = call(
        &client,
        "bigid_list_data_sources",
        json!({"detail": "full"}),
    )
    .await;
    assert_eq!(
        full["items"][0]["conn"],
        json!({"pwd": "***", "pass": "***", "credential": "***", "authorization": "***"})
    );
    let (picked, _) = call(
        &client,
        "bigid_list_data_sources",
        json!({"fields": ["conn.pwd", "conn.pass", "conn.credential", "conn.authorization"]}),
    )
    .await;
    assert_eq!(
        picked,
        json!({"items": [{"conn.pwd": "***", "conn.pass": "***", "conn.credential": "***",
            "conn.authorization": "***"}], "total": 1})
    );
}

/// The page is cut to the budget before secrets are masked; masking can lengthen a value (a
/// number or a one- or two-character string under a secret key becomes "***"), so the result
/// sent can be over the budget.
#[tokio::test]

async fn regression_a_cut_page_stays_within_the_budget_after_masking() {
    let (fake, client) = setup(&BIGID).await;
    let items: Vec<_> = (0..400)
        .map(|i| {
            json!({"name": format!("source-{i:03}"), "type": "rdb-mysql", "password": 1,
                "secret_key": 2, "token": 3, "description": "x".repeat(150)})
        })
        .collect();
    fake.on(
        "GET",
        LIST,
        Reply::json(200, source_page(&items, Some(400))),
    );
    let (result, text_len) = call_page(
        &client,
        "bigid_list_data_sources",
        json!({"limit": 400, "detail": "full"}),
    )
    .await;
    assert!(result.get("truncated").is_some());
    assert!(text_len <= BUDGET, "{text_len} bytes");
}

// ---- scans ------------------------------------------------------------------------------------

const SCAN_PATH: &str = "/api/v1/ds-connections/Orders%20MySQL/scan";

/// The query BigID's own integrations start a data source's scan with.
fn scan_query(scan_type: &str) -> String {
    format!("isSampleScan=false&scanType={scan_type}&autoAssumeScanType=false")
}

/// BigID's answer to a start, as its XSOAR integration declares it: no scan id.
fn scan_started(scan_type: &str) -> serde_json::Value {
    json!({"status": "success", "statusCode": 200, "message": "Scan started",
        "data": {"dsConnectionName": "Orders MySQL", "isSampleScan": false, "isScheduled": false,
            "scanProfileName": "Orders MySQL", "scanType": scan_type, "state": "Queued"}})
}

/// When the previous scan of the tests started, and when the new one did.
const PREVIOUS_AT: &str = "2025-05-28T02:14:55.301Z";
const STARTED_AT: &str = "2025-06-01T12:00:05.000Z";

/// A last scan, under `data` as the start's answer has its fields; the previous scan (id
/// `6421…`) started at PREVIOUS_AT, every other at STARTED_AT.
fn last_scan(id: &str, state: &str, more: serde_json::Value) -> serde_json::Value {
    let at = match id.starts_with("6421") {
        true => PREVIOUS_AT,
        false => STARTED_AT,
    };
    let mut scan = json!({"_id": id, "dsConnectionName": "Orders MySQL", "scanType": "dsScan",
        "state": state, "created_at": at});
    scan.as_object_mut()
        .unwrap()
        .extend(more.as_object().unwrap().clone());
    json!({"status": "success", "statusCode": 200, "message": null, "data": scan})
}

/// A BigID client whose waits poll quickly.
async fn fast_bigid(fake: &FakeUpstream) -> Client {
    fake.on(
        "GET",
        "/api/v1/refresh-access-token",
        Reply::json(200, json!({"success": true, "systemToken": SYSTEM_TOKEN})),
    );
    let base = fake.url("/api/v1");
    client_with(
        &env(&[("BIGID_BASE_URL", &base), ("BIGID_USER_TOKEN", USER_TOKEN)]),
        fast_settings(),
    )
    .await
}

/// The requests after the token exchange.
fn after_exchange(fake: &FakeUpstream) -> Vec<Recorded> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path != "/api/v1/refresh-access-token")
        .collect()
}

/// Without wait: the start BigID's integrations send (query only, no body), and its answer
/// with the data source's name, which the scan is followed by.
#[tokio::test]
async fn start_scan_sends_bigids_query_and_no_body() {
    let (fake, client) = setup(&BIGID).await;
    for (args, scan_type) in [
        (json!({"name": "Orders MySQL"}), "dsScan"),
        (
            json!({"name": "Orders MySQL", "scanType": "metadataScan"}),
            "metadataScan",
        ),
    ] {
        fake.clear();
        fake.on("POST", SCAN_PATH, Reply::json(200, scan_started(scan_type)));
        let (result, is_error) = call(&client, "bigid_start_scan", args).await;
        assert!(!is_error, "{result}");
        assert_eq!(
            result,
            json!({"job_id": "Orders MySQL", "answer": scan_started(scan_type)})
        );
        let sent = after_exchange(&fake);
        assert_eq!(sent.len(), 1, "{sent:#?}");
        assert_request(
            &sent[0],
            "POST",
            SCAN_PATH,
            Some(&scan_query(scan_type)),
            BIGID.auth,
            None,
        );
    }
    // An answer without the name: followed by the name sent.
    fake.on(
        "POST",
        SCAN_PATH,
        Reply::json(
            200,
            json!({"status": "success", "statusCode": 200, "data": {}}),
        ),
    );
    let (result, _) = call(&client, "bigid_start_scan", json!({"name": "Orders MySQL"})).await;
    assert_eq!(result["job_id"], "Orders MySQL");
}

/// With wait: the last scan is read before the start; the first read after it still shows that
/// previous (Completed) scan, which is not taken for the new one's end; the new scan is read to
/// its end, with its counts, and progress says where it stands.
#[tokio::test]
async fn start_scan_waits_past_the_previous_scan_to_its_end() {
    let fake = FakeUpstream::start().await;
    let previous = last_scan(
        "6421aeb6318bb17b367bf46f",
        "Completed",
        json!({"num_of_object": 40, "total_pii_count": 97}),
    );
    let running = last_scan("683c4a000000000000000001", "InProgress", json!({}));
    let done = last_scan(
        "683c4a000000000000000001",
        "Completed",
        json!({"num_of_object": 42, "total_pii_count": 126}),
    );
    for reply in [&previous, &previous, &running, &done] {
        fake.once("GET", SCAN_PATH, Reply::json(200, reply.clone()));
    }
    fake.on("POST", SCAN_PATH, Reply::json(200, scan_started("dsScan")));
    fake.on(
        "GET",
        "/api/v1/refresh-access-token",
        Reply::json(200, json!({"success": true, "systemToken": SYSTEM_TOKEN})),
    );
    let vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/api/v1")),
        ("BIGID_USER_TOKEN", USER_TOKEN),
    ]);
    let (client, recorder) = progress_client(&vars, fast_settings()).await;
    let args = json!({"name": "Orders MySQL", "wait": true});
    let request = rmcp::model::ClientRequest::CallToolRequest(rmcp::model::Request::new(
        rmcp::model::CallToolRequestParams::new("bigid_start_scan")
            .with_arguments(args.as_object().unwrap().clone()),
    ));
    let response = client
        .send_cancellable_request(request, rmcp::service::PeerRequestOptions::no_options())
        .await
        .unwrap()
        .await_response()
        .await
        .unwrap();
    let rmcp::model::ServerResult::CallToolResult(result) = response else {
        panic!("{response:?}")
    };
    assert_ne!(result.is_error, Some(true));
    assert_eq!(
        result.structured_content.unwrap(),
        json!({"job_id": "Orders MySQL", "status": "Completed",
            "data_source": "Orders MySQL", "scan_type": "dsScan",
            "scan_id": "683c4a000000000000000001", "started_at": STARTED_AT,
            "counts": {"objects": 42, "findings": 126}, "job": done})
    );
    let sent = after_exchange(&fake);
    assert_eq!(sent.len(), 5, "{sent:#?}");
    assert_request(&sent[0], "GET", SCAN_PATH, None, BIGID.auth, None);
    assert_request(
        &sent[1],
        "POST",
        SCAN_PATH,
        Some(&scan_query("dsScan")),
        BIGID.auth,
        None,
    );
    for read in &sent[2..] {
        assert_request(read, "GET", SCAN_PATH, None, BIGID.auth, None);
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let seen: Vec<(f64, Option<String>)> = recorder
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|p| (p.progress, p.message.clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (1.0, Some("job starting".into())),
            (2.0, Some("job InProgress".into())),
            (3.0, Some("job Completed".into())),
        ]
    );
}

/// A scan that fails ends the wait with BigID's reason; a source never scanned before has no
/// previous scan to skip.
#[tokio::test]
async fn a_failed_scan_ends_the_wait_with_its_reason() {
    let fake = FakeUpstream::start().await;
    let client = fast_bigid(&fake).await;
    let none = json!({"status": "success", "statusCode": 200, "message": null, "data": {}});
    let failed = last_scan(
        "683c4a000000000000000002",
        "Failed",
        json!({"num_of_object": 0, "errorMessage": "Scan failed: getaddrinfo ENOTFOUND orders-db.invalid"}),
    );
    fake.once("GET", SCAN_PATH, Reply::json(200, none));
    fake.on("GET", SCAN_PATH, Reply::json(200, failed.clone()));
    fake.on("POST", SCAN_PATH, Reply::json(200, scan_started("dsScan")));
    let (result, is_error) = call(
        &client,
        "bigid_start_scan",
        json!({"name": "Orders MySQL", "wait": true}),
    )
    .await;
    assert!(!is_error, "the call worked; the scan failed: {result}");
    assert_eq!(
        result,
        json!({"job_id": "Orders MySQL", "status": "Failed", "data_source": "Orders MySQL",
            "scan_type": "dsScan", "scan_id": "683c4a000000000000000002",
            "started_at": STARTED_AT, "counts": {"objects": 0},
            "failure": "Scan failed: getaddrinfo ENOTFOUND orders-db.invalid", "job": failed})
    );
    let methods: Vec<String> = after_exchange(&fake)
        .iter()
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(methods, ["GET", "POST", "GET"]);
}

/// A wait is a deadline: a scan still running (or BigID still showing the previous one) at
/// its end is WAIT_TIMEOUT with the state it was in.
#[tokio::test]
async fn a_scan_still_running_at_the_end_of_the_wait_is_a_timeout() {
    let fake = FakeUpstream::start().await;
    let client = fast_bigid(&fake).await;
    let previous = last_scan("6421aeb6318bb17b367bf46f", "Completed", json!({}));
    let running = last_scan("683c4a000000000000000003", "InProgress", json!({}));
    fake.on("POST", SCAN_PATH, Reply::json(200, scan_started("dsScan")));
    for (reads, status) in [(&running, "InProgress"), (&previous, "starting")] {
        fake.once("GET", SCAN_PATH, Reply::json(200, previous.clone()));
        fake.on("GET", SCAN_PATH, Reply::json(200, reads.clone()));
        let started = std::time::Instant::now();
        let (result, is_error) = call(
            &client,
            "bigid_start_scan",
            json!({"name": "Orders MySQL", "wait": true, "wait_seconds": 1}),
        )
        .await;
        assert!(is_error);
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
        assert_eq!(result["error"]["code"], "WAIT_TIMEOUT", "{result}");
        assert_eq!(
            result["error"]["message"],
            format!("the job is still {status} after 1 s")
        );
        fake.clear();
    }
}

/// The last scan, read once: its state, whether it ended, what BigID says of it; with wait,
/// read until it ends.
#[tokio::test]
async fn get_scan_status_reads_the_last_scan() {
    let fake = FakeUpstream::start().await;
    let client = fast_bigid(&fake).await;
    let running = last_scan(
        "683c4a000000000000000004",
        "InProgress",
        json!({"scan_progress_status": 40}),
    );
    let done = last_scan(
        "683c4a000000000000000004",
        "Completed",
        json!({"num_of_object": 42, "total_pii_count": 126, "identities_scanned": 7}),
    );
    fake.once("GET", SCAN_PATH, Reply::json(200, running.clone()));
    let (result, is_error) = call(
        &client,
        "bigid_get_scan_status",
        json!({"name": "Orders MySQL"}),
    )
    .await;
    assert!(!is_error, "{result}");
    assert_eq!(
        result,
        json!({"status": "InProgress", "finished": false, "percent": 40.0,
            "data_source": "Orders MySQL", "scan_type": "dsScan",
            "scan_id": "683c4a000000000000000004", "started_at": STARTED_AT,
            "job": running})
    );
    let sent = after_exchange(&fake);
    assert_eq!(sent.len(), 1);
    assert_request(&sent[0], "GET", SCAN_PATH, None, BIGID.auth, None);

    fake.clear();
    fake.once("GET", SCAN_PATH, Reply::json(200, running));
    fake.on("GET", SCAN_PATH, Reply::json(200, done.clone()));
    let (result, _) = call(
        &client,
        "bigid_get_scan_status",
        json!({"name": "Orders MySQL", "wait": true}),
    )
    .await;
    assert_eq!(
        result,
        json!({"status": "Completed", "finished": true,
            "data_source": "Orders MySQL", "scan_type": "dsScan",
            "scan_id": "683c4a000000000000000004", "started_at": STARTED_AT,
            "counts": {"objects": 42, "findings": 126, "identities_scanned": 7}, "job": done})
    );
    assert_eq!(fake.requests().len(), 2);

    // An answer that shows no scan: nothing to wait for, shown as it came.
    fake.on(
        "GET",
        SCAN_PATH,
        Reply::json(
            200,
            json!({"status": "success", "statusCode": 200, "data": {}}),
        ),
    );
    let (result, _) = call(
        &client,
        "bigid_get_scan_status",
        json!({"name": "Orders MySQL", "wait": true}),
    )
    .await;
    assert_eq!(
        result,
        json!({"status": "no scan found", "finished": true,
            "job": {"status": "success", "statusCode": 200, "data": {}}})
    );
}

/// A name BigID does not know: its 400 "Unable to locate …", NOT_FOUND, for both tools; a
/// start is not followed.
#[tokio::test]
async fn scans_of_an_unknown_name_are_not_found() {
    let (fake, client) = setup(&BIGID).await;
    let path = "/api/v1/ds-connections/ghost/scan";
    let unknown = json!({"status": "error", "statusCode": 400,
        "message": "Unable to locate data source ghost"});
    fake.on("GET", path, Reply::json(400, unknown.clone()));
    fake.on("POST", path, Reply::json(400, unknown));
    let expected = json!({"error": {"provider": "bigid", "status": 400, "code": "NOT_FOUND",
        "message": "Unable to locate data source ghost",
        "hint": "no data source of that name exists: list data sources to see the names"}});
    for (tool, args) in [
        ("bigid_start_scan", json!({"name": "ghost"})),
        ("bigid_start_scan", json!({"name": "ghost", "wait": true})),
        (
            "bigid_get_scan_status",
            json!({"name": "ghost", "wait": true}),
        ),
    ] {
        let (result, is_error) = call(&client, tool, args.clone()).await;
        assert!(is_error, "{tool} {args}");
        assert_eq!(result, expected, "{tool} {args}");
    }
    let methods: Vec<String> = after_exchange(&fake)
        .iter()
        .map(|r| r.method.clone())
        .collect();
    // The start alone; the read before a waited start, then the start; the read. Each not
    // found is followed by the list read that names the closest names.
    assert_eq!(methods, ["POST", "GET", "GET", "POST", "GET", "GET", "GET"]);
}

/// A dry run of a waited start shows the read before it and the start, and sends nothing.
#[tokio::test]
async fn start_scan_dry_run_shows_the_read_before_and_the_start() {
    let (fake, client) = setup(&BIGID).await;
    let base = fake.url("/api/v1");
    let (plan, is_error) = call(
        &client,
        "bigid_start_scan",
        json!({"name": "Orders MySQL", "scanType": "metadataScan", "wait": true, "dry_run": true}),
    )
    .await;
    assert!(!is_error, "{plan}");
    assert_eq!(
        plan,
        json!({"dry_run": true, "requests": [
            {"method": "GET", "url": format!("{base}/ds-connections/Orders%20MySQL/scan")},
            {"method": "POST", "url": format!("{base}/ds-connections/Orders%20MySQL/scan?{}", scan_query("metadataScan"))},
        ], "note": "Nothing was sent. GET /ds-connections/{id}/scan is read first, to tell the work this call starts from earlier work. Then GET /ds-connections/{id}/scan is read until the job finishes or the wait ends."})
    );
    assert!(fake.requests().is_empty());
}

/// Arguments are checked before anything is sent.
#[tokio::test]
async fn scan_arguments_are_checked() {
    let (fake, client) = setup(&BIGID).await;
    for (tool, args, field) in [
        ("bigid_start_scan", json!({"name": " "}), "name"),
        (
            "bigid_start_scan",
            json!({"name": "Orders", "scanType": "fullScan"}),
            "scanType",
        ),
        (
            "bigid_start_scan",
            json!({"name": "Orders", "wait": true, "wait_seconds": 0}),
            "wait_seconds",
        ),
        ("bigid_get_scan_status", json!({}), "name"),
        (
            "bigid_get_scan_status",
            json!({"name": "Orders", "wait_seconds": 3601}),
            "wait_seconds",
        ),
    ] {
        let (result, is_error) = call(&client, tool, args.clone()).await;
        assert!(is_error, "{tool} {args}");
        assert_eq!(result["error"]["code"], "INVALID_ARGUMENT", "{result}");
        assert_eq!(result["error"]["field"], field, "{result}");
    }
    assert!(fake.requests().is_empty());
}

/// The start's shape is BigID's own: a refusal for another reason is BigID's message with the
/// status's hint, and no note that the shape is unconfirmed.
#[tokio::test]
async fn a_refused_start_is_bigids_answer() {
    let (fake, client) = setup(&BIGID).await;
    fake.on(
        "POST",
        SCAN_PATH,
        Reply::json(
            400,
            json!({"status": "error", "statusCode": 400, "message": "A scan of this data source is already running"}),
        ),
    );
    let (result, is_error) =
        call(&client, "bigid_start_scan", json!({"name": "Orders MySQL"})).await;
    assert!(is_error);
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "status": 400,
            "message": "A scan of this data source is already running",
            "hint": "the vendor rejected the request: fix what the message names and call again"}})
    );
}
