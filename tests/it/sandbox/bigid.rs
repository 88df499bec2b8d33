//! The sandbox's BigID simulation, through the MCP server (the same client, auth and upstream
//! code a real vendor gets) and directly over HTTP.

use std::collections::HashMap;

use crate::support::*;
use datasource_mcp::operation::Provider;
use datasource_mcp::sandbox::Sandbox;
use datasource_mcp::upstream::UpstreamSettings;
use reqwest::Method;
use serde_json::{Value, json};

async fn sandbox() -> Sandbox {
    Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap()
}

async fn sandbox_client(sb: &Sandbox) -> Client {
    client_with(&sb.env(), UpstreamSettings::default()).await
}

fn names(listing: &Value) -> Vec<String> {
    listing["data"]["ds_connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

/// The names on a page a list tool answers.
fn item_names(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

/// The flow an agent walks: templates → template → test (fail, then succeed) → create → list
/// → update one field (others kept) → export → delete → gone.
#[tokio::test]
async fn agent_flow_on_the_sandbox() {
    let sb = sandbox().await;
    let client = sandbox_client(&sb).await;

    let (templates, err) = call(&client, "bigid_list_connector_templates", json!({})).await;
    assert!(!err, "{templates}");
    let types: Vec<&str> = templates["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    for t in ["rdb-mysql", "s3-v2", "snowflake", "sharepoint-online"] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }

    let (template, err) = call(
        &client,
        "bigid_get_connector_template",
        json!({"type": "rdb-mysql"}),
    )
    .await;
    assert!(!err);
    let fields = template["fields"].as_array().unwrap();
    let mandatory: Vec<&str> = fields
        .iter()
        .filter(|f| f["mandatory"] == true)
        .map(|f| f["apiName"].as_str().unwrap())
        .collect();
    assert_eq!(mandatory, ["name", "rdb_url", "username", "password"]);
    let rdb_url = fields.iter().find(|f| f["apiName"] == "rdb_url").unwrap();
    assert_eq!(rdb_url["mandatoryForTest"], true);
    assert_eq!(rdb_url["validation"][0]["regex"], r"^[^\s/:]+(:\d{1,5})?$");

    let mut ds = json!({"type": "rdb-mysql", "rdb_url": "orders-db.invalid:3306", "username": "scan", "password": SENTINEL});
    let (test, err) = call(
        &client,
        "bigid_test_data_source_connection",
        json!({"ds_connection": ds}),
    )
    .await;
    assert!(!err);
    assert_eq!(
        test,
        json!({"success": false, "message": "Test connection failed: getaddrinfo ENOTFOUND orders-db.invalid",
            "connection": "fails: Test connection failed: getaddrinfo ENOTFOUND orders-db.invalid"})
    );
    ds["rdb_url"] = json!("orders-db.prod.example:3306");
    let (test, _) = call(
        &client,
        "bigid_test_data_source_connection",
        json!({"ds_connection": ds}),
    )
    .await;
    assert_eq!(
        test,
        json!({"success": true, "message": "Connection to MySQL data source succeeded", "connection": "works"})
    );

    ds["name"] = json!("Orders (EU): primary");
    ds["rdb_name"] = json!("orders");
    ds["scanner_group"] = json!("eu");
    let (created, err) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": ds}),
    )
    .await;
    assert!(!err, "{created}");
    assert_eq!(created["statusCode"], 200);
    assert_eq!(created["data"]["ds_connection"]["password"], "***");

    let (listing, _) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(item_names(&listing).contains(&"Orders (EU): primary".to_string()));

    let (updated, err) = call(
        &client,
        "bigid_update_data_source",
        json!({"name": "Orders (EU): primary", "changes": {"enabled": "no"}}),
    )
    .await;
    assert!(!err, "{updated}");
    let (after, _) = call(
        &client,
        "bigid_get_data_source",
        json!({"name": "Orders (EU): primary"}),
    )
    .await;
    let after = &after["ds_connection"];
    assert_eq!(after["enabled"], "no");
    assert_eq!(
        after["rdb_url"], "orders-db.prod.example:3306",
        "other fields kept"
    );
    assert_eq!(after["scanner_group"], "eu");
    assert_eq!(after["rdb_name"], "orders");

    let (export, _) = call(
        &client,
        "bigid_export_data_sources",
        json!({"ids": ["Orders (EU): primary"]}),
    )
    .await;
    assert_eq!(export["count"], 1);
    assert_eq!(export["ds_connections"][0]["name"], "Orders (EU): primary");
    assert_eq!(export["ds_connections"][0]["enabled"], "no");

    let (_, err) = call(
        &client,
        "bigid_delete_data_source",
        json!({"name": "Orders (EU): primary"}),
    )
    .await;
    assert!(!err);
    let (gone, err) = call(
        &client,
        "bigid_get_data_source",
        json!({"name": "Orders (EU): primary"}),
    )
    .await;
    assert!(err);
    assert_eq!(gone["error"]["status"], 400, "BigID's not found: {gone}");
    let (listing, _) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(!item_names(&listing).contains(&"Orders (EU): primary".to_string()));
}

/// The update keeps the stored password: writing the GET's mask back would have replaced it.
/// The simulation tests with the stored credential when asked (`isNewPassword: false`), which
/// fails once a mask was stored.
#[tokio::test]
async fn update_does_not_write_a_masked_password_back() {
    let sb = sandbox().await;
    let client = sandbox_client(&sb).await;
    let (_, err) = call(
        &client,
        "bigid_update_data_source",
        json!({"name": "Orders MySQL", "changes": {"scanner_group": "eu"}}),
    )
    .await;
    assert!(!err);

    let bigid = SandboxApi::new(&sb, Provider::BigId).await;
    let stored_test = || {
        bigid.send(
            Method::POST,
            "/ds-connection-test",
            Some(json!({"ds_connection": {"name": "Orders MySQL", "type": "rdb-mysql",
                "rdb_url": "mysql.orders.acme.example:3306", "username": "bigid_scan"}, "isNewPassword": false})),
        )
    };
    let (_, ok) = stored_test().await;
    assert_eq!(
        ok["success"], true,
        "the stored password survived the update: {ok}"
    );

    // The bug this guards against: a naive read-modify-write stores the mask.
    let (naive, _) = bigid
        .send(
            Method::PUT,
            "/ds_connections/Orders%20MySQL",
            Some(json!({"ds_connection": {"name": "Orders MySQL", "type": "rdb-mysql",
                "rdb_url": "mysql.orders.acme.example:3306", "username": "bigid_scan", "password": "********"}})),
        )
        .await;
    assert_eq!(naive, 200);
    let (_, broken) = stored_test().await;
    assert_eq!(broken["success"], false, "{broken}");
}

/// Re-testing a stored source: what bigid_get_data_source shows has its credentials masked, so
/// sending it to bigid_test_data_source_connection tests the mask and fails authentication;
/// bigid_test_stored_data_source tests the source by name with its stored credential, and
/// BigID records the outcome where the list shows it.
#[tokio::test]
async fn a_stored_source_is_tested_by_name_with_its_stored_credential() {
    let sb = sandbox().await;
    let client = sandbox_client(&sb).await;
    let (got, err) = call(
        &client,
        "bigid_get_data_source",
        json!({"name": "Finance Snowflake"}),
    )
    .await;
    assert!(!err, "{got}");
    assert_eq!(got["ds_connection"]["password"], "***");

    let (resent, err) = call(
        &client,
        "bigid_test_data_source_connection",
        json!({"ds_connection": got["ds_connection"]}),
    )
    .await;
    assert!(!err, "{resent}");
    assert_eq!(
        resent,
        json!({"success": false,
            "message": "Test connection failed: authentication failed (the stored credential is invalid)",
            "connection": "fails: Test connection failed: authentication failed (the stored credential is invalid)"})
    );

    let (stored, err) = call(
        &client,
        "bigid_test_stored_data_source",
        json!({"name": "Finance Snowflake"}),
    )
    .await;
    assert!(!err, "{stored}");
    assert_eq!(
        stored,
        json!({"success": true, "message": "Connection to Snowflake data source succeeded", "connection": "works"})
    );
    let (listing, _) = call(&client, "bigid_list_data_sources", json!({})).await;
    let row = listing["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Finance Snowflake")
        .unwrap()
        .clone();
    assert_eq!(
        row["status"], "works",
        "the last test is the stored one: {row}"
    );
    assert_eq!(row["tested_at"], "2025-06-01T12:00:02.000Z");

    // A source stored with an unreachable host fails as the candidate would, and a name
    // BigID does not have is BigID's "Unable to locate", with nothing tested.
    let (_, err) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": {"name": "Gone DB", "type": "rdb-mysql",
            "rdb_url": "gone.invalid", "username": "u", "password": SENTINEL}}),
    )
    .await;
    assert!(!err);
    let (gone, err) = call(
        &client,
        "bigid_test_stored_data_source",
        json!({"name": "Gone DB"}),
    )
    .await;
    assert!(!err, "{gone}");
    assert_eq!(
        gone,
        json!({"success": false, "message": "Test connection failed: getaddrinfo ENOTFOUND gone.invalid",
            "connection": "fails: Test connection failed: getaddrinfo ENOTFOUND gone.invalid"})
    );
    let (missing, err) = call(
        &client,
        "bigid_test_stored_data_source",
        json!({"name": "No Such Source"}),
    )
    .await;
    assert!(err);
    assert_eq!(missing["error"]["status"], 400, "{missing}");
    assert_eq!(missing["error"]["code"], "NOT_FOUND", "{missing}");
}

#[tokio::test]
async fn create_rejects_duplicates_and_missing_fields_like_the_vendor() {
    let sb = sandbox().await;
    let client = sandbox_client(&sb).await;
    let (dup, err) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": {"name": "Orders MySQL", "type": "rdb-mysql", "rdb_url": "h:3306", "username": "u", "password": "p"}}),
    )
    .await;
    assert!(err);
    assert_eq!(
        dup,
        json!({"error": {"provider": "bigid", "status": 409,
            "message": "Data source 'Orders MySQL' already exists",
            "hint": "the name already exists: pick another or update it"}})
    );
    let (missing, err) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": {"name": "New one", "type": "rdb-mysql", "username": "u"}}),
    )
    .await;
    assert!(err);
    assert_eq!(missing["error"]["status"], 400);
    assert_eq!(
        missing["error"]["message"],
        "Missing mandatory field(s): rdb_url, password"
    );
    let (invalid, _) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": {"name": "New one", "type": "rdb-mysql", "rdb_url": "mysql://db:3306", "username": "u", "password": "p"}}),
    )
    .await;
    assert_eq!(
        invalid["error"]["message"],
        "Server address: Use host or host:port, e.g. sql.mybigid.com or mysql.example.com:3306"
    );
    let (unknown, _) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": {"name": "New one", "type": "oracle-9i"}}),
    )
    .await;
    assert_eq!(
        unknown["error"]["message"],
        "Unknown data source type 'oracle-9i'"
    );
}

/// What BigID's sandbox answers a refused credential: HTTP 200, labelled text/html, the JSON
/// `{"success": false, "message"}` (JupiterOne/graph-bigid's recordings).
async fn refusal(response: reqwest::Response) -> (u16, String, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    (status, content_type, body)
}

const HTML: &str = "text/html; charset=utf-8";

fn refused(message: &str) -> (u16, String, Value) {
    (
        200,
        HTML.to_string(),
        json!({"success": false, "message": message}),
    )
}

#[tokio::test]
async fn wrong_or_missing_tokens_are_refused_as_bigid_refuses_them() {
    let sb = sandbox().await;
    let base = &sb.vendors[0].base_url;
    let http = http();
    let token_refused = refused("Failed to authenticate token.");
    let list = || http.get(format!("{base}/ds-connections"));
    assert_eq!(refusal(list().send().await.unwrap()).await, token_refused);
    assert_eq!(
        refusal(list().header("authorization", "nope").send().await.unwrap()).await,
        token_refused
    );
    assert_eq!(
        refusal(
            http.get(format!("{base}/refresh-access-token"))
                .header("authorization", "nope")
                .send()
                .await
                .unwrap()
        )
        .await,
        token_refused
    );
    // The user token itself is not a session token.
    let user = sb.env()["BIGID_USER_TOKEN"].clone();
    assert_eq!(
        refusal(list().header("authorization", &user).send().await.unwrap()).await,
        token_refused
    );
    // Username and password log in at /sessions.
    let alt: HashMap<_, _> = sb.vendors[0].alternatives.iter().cloned().collect();
    let login: Value = http
        .post(format!("{base}/sessions"))
        .json(&json!({"username": alt["BIGID_USERNAME"], "password": alt["BIGID_PASSWORD"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["auth_token"].as_str().unwrap();
    let ok = list().header("authorization", token).send().await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    // Raw header only, as BigID's own clients send it.
    assert_eq!(
        refusal(
            list()
                .header("authorization", format!("Bearer {token}"))
                .send()
                .await
                .unwrap()
        )
        .await,
        token_refused
    );
    let bad = http
        .post(format!("{base}/sessions"))
        .json(&json!({"username": "sandbox-admin", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refusal(bad).await,
        refused(
            "Authentication failed. Username / Password incorrect or insufficient roles in AD."
        )
    );
}

/// Through the server, a refused user token or login is an authentication error carrying
/// BigID's message, though BigID answered 200.
#[tokio::test]
async fn the_server_reports_bigids_refusals_as_authentication_errors() {
    let sb = sandbox().await;
    let base = sb.vendors[0].base_url.clone();
    for (vars, message) in [
        (
            vec![("BIGID_USER_TOKEN", "not-the-user-token")],
            "BigID refused the credential: Failed to authenticate token.",
        ),
        (
            vec![
                ("BIGID_USERNAME", "sandbox-admin"),
                ("BIGID_PASSWORD", "not-the-sandbox-password"),
            ],
            "BigID refused the credential: Authentication failed. Username / Password incorrect or insufficient roles in AD.",
        ),
    ] {
        let mut env: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        env.insert("BIGID_BASE_URL".into(), base.clone());
        let client = client_with(&env, UpstreamSettings::default()).await;
        let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
        assert!(is_error);
        assert_eq!(
            result,
            json!({"error": {"provider": "bigid", "status": 200, "code": "AUTHENTICATION_FAILED",
                "message": message,
                "hint": "check BIGID_USER_TOKEN (or BIGID_USERNAME/BIGID_PASSWORD, or BIGID_ACCESS_TOKEN)"}})
        );
    }
}

#[tokio::test]
async fn every_sandbox_starts_from_the_same_seed_and_pages() {
    let (a, b) = (sandbox().await, sandbox().await);
    let (ca, cb) = (sandbox_client(&a).await, sandbox_client(&b).await);
    let (la, _) = call(&ca, "bigid_list_data_sources", json!({})).await;
    let (lb, _) = call(&cb, "bigid_list_data_sources", json!({})).await;
    assert_eq!(la, lb);
    assert_eq!(
        item_names(&la),
        [
            "Orders MySQL",
            "Customer Data Lake",
            "Finance Snowflake",
            "HR SharePoint",
            "Legacy CRM (EU): archive"
        ]
    );
    // State is per sandbox: a change in one is not seen in the other.
    call(
        &ca,
        "bigid_delete_data_source",
        json!({"name": "HR SharePoint"}),
    )
    .await;
    let (lb2, _) = call(&cb, "bigid_list_data_sources", json!({})).await;
    assert_eq!(lb2, lb);
    let (page, _) = call(
        &cb,
        "bigid_list_data_sources",
        json!({"skip": 1, "limit": 2}),
    )
    .await;
    assert_eq!(
        item_names(&page),
        ["Customer Data Lake", "Finance Snowflake"]
    );
    assert_eq!(page["total"], 5);
    assert_eq!(page["next"], json!({"skip": 3, "limit": 2}));
    let (odd, err) = call(
        &cb,
        "bigid_get_data_source",
        json!({"name": "Legacy CRM (EU): archive"}),
    )
    .await;
    assert!(
        !err,
        "names with spaces, parentheses and colons round-trip: {odd}"
    );
}

#[tokio::test]
async fn concurrent_creates_are_safe_and_never_duplicate() {
    let sb = sandbox().await;
    let client = std::sync::Arc::new(sandbox_client(&sb).await);
    let ds = |name: &str| json!({"ds_connection": {"name": name, "type": "s3-v2", "bucket_name": "b", "aws_region": "eu-west-1", "aws_access_key": "AKIA", "aws_secret_key": "s"}});
    let mut tasks = Vec::new();
    for i in 0..10 {
        let c = client.clone();
        let args = ds(&format!("bucket {i}"));
        tasks.push(tokio::spawn(async move {
            call(&c, "bigid_create_data_source", args).await.1
        }));
    }
    for i in 0..10 {
        let c = client.clone();
        let args = ds("same name");
        let _ = i;
        tasks.push(tokio::spawn(async move {
            call(&c, "bigid_create_data_source", args).await.1
        }));
    }
    let mut errors = 0;
    for t in tasks {
        if t.await.unwrap() {
            errors += 1;
        }
    }
    assert_eq!(
        errors, 9,
        "ten distinct names succeed, one of ten identical names does"
    );
    let (listing, _) = call(&client, "bigid_list_data_sources", json!({})).await;
    let all = item_names(&listing);
    assert_eq!(all.len(), 5 + 11);
    assert_eq!(all.iter().filter(|n| *n == "same name").count(), 1);
}

#[tokio::test]
async fn binary_serves_the_sandbox_over_stdio() {
    // Every simulated vendor is served, and only those.
    let simulated = datasource_mcp::sandbox::VENDORS;
    let tools = tool_count(|op| op.provider.served_by(simulated.iter().map(|v| v.provider)));
    let ids: Vec<&str> = simulated.iter().map(|v| v.provider.id()).collect();
    let mut lines = handshake();
    lines.push(rpc(1, "tools/list", json!({})));
    lines.push(rpc(
        2,
        "tools/call",
        json!({"name": "bigid_list_data_sources", "arguments": {}}),
    ));
    let (stdout, stderr, status) = run_stdio(&["--sandbox"], &[], &lines).await;
    assert!(status.success(), "{stderr}");
    let messages = assert_jsonrpc_only(&stdout);
    let by_id = |id: u64| messages.iter().find(|m| m["id"] == id).unwrap().clone();
    assert_eq!(by_id(1)["result"]["tools"].as_array().unwrap().len(), tools);
    assert_eq!(
        by_id(2)["result"]["structuredContent"]["items"]
            .as_array()
            .map(Vec::len),
        Some(5)
    );
    let banner = format!(
        "sandbox mode, {tools} tools ({}) against simulated vendor APIs at http://127.0.0.1:",
        ids.join(", ")
    );
    assert!(stderr.contains(&banner), "{banner} in {stderr}");
    assert!(
        stderr.contains("npx @modelcontextprotocol/inspector"),
        "{stderr}"
    );
}

#[tokio::test]
async fn sandbox_command_prints_urls_and_credentials_that_work() {
    let (mut child, vars) = sandbox_process(&[], |vars| vars.len() >= 2).await;
    let base = &vars["BIGID_BASE_URL"];
    let r = http()
        .get(format!("{base}/refresh-access-token"))
        .header("authorization", &vars["BIGID_USER_TOKEN"])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    child.kill().await.unwrap();
}

// ---- directly over HTTP --------------------------------------------------------------------

/// The payload of a JWT.
fn jwt_payload(token: &str) -> Value {
    use base64::Engine as _;
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "header.payload.signature: {token}");
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    for part in &parts {
        assert!(engine.decode(part).is_ok(), "base64url: {part}");
    }
    serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap()
}

/// The user token is a JWT of type `refresh-token`; what `/refresh-access-token` and `/sessions`
/// issue are JWTs of type `access-token`, and only those open the other endpoints.
#[tokio::test]
async fn tokens_are_jwts_typed_as_bigid_types_them() {
    let sb = sandbox().await;
    let base = &access(&sb, Provider::BigId).base_url;
    let http = http();
    let user = sb.env()["BIGID_USER_TOKEN"].clone();
    let claims = jwt_payload(&user);
    assert_eq!(claims["type"], "refresh-token");
    assert!(claims["exp"].as_u64() > claims["iat"].as_u64(), "{claims}");

    let bigid = SandboxApi::new(&sb, Provider::BigId).await;
    let system = jwt_payload(&bigid.credential);
    assert_eq!(system["type"], "access-token");
    assert_eq!(system["user_name"], "sandbox-admin");

    let alt: HashMap<_, _> = access(&sb, Provider::BigId)
        .alternatives
        .iter()
        .cloned()
        .collect();
    let login: Value = http
        .post(format!("{base}/sessions"))
        .json(&json!({"username": alt["BIGID_USERNAME"], "password": alt["BIGID_PASSWORD"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = login["auth_token"].as_str().unwrap();
    assert_eq!(jwt_payload(session)["type"], "access-token");
    assert_ne!(
        session, bigid.credential,
        "each exchange issues its own token"
    );

    // Both issued access tokens work, raw; the refresh token does not.
    for token in [session, bigid.credential.as_str()] {
        let (status, _) = bigid
            .send_raw(Method::GET, "/ds-connections", Some(token), None)
            .await;
        assert_eq!(status, 200);
    }
    let token_refused = (
        200,
        json!({"success": false, "message": "Failed to authenticate token."}),
    );
    assert_eq!(
        bigid
            .send_raw(Method::GET, "/ds-connections", Some(&user), None)
            .await,
        token_refused
    );
    // An access token is not a refresh token.
    assert_eq!(
        bigid
            .send_raw(
                Method::GET,
                "/refresh-access-token",
                Some(&bigid.credential),
                None,
            )
            .await,
        token_refused
    );
}

/// An unknown name is BigID's 400 "Unable to locate data source …", for GET, PUT and DELETE.
#[tokio::test]
async fn unknown_names_are_a_400_unable_to_locate() {
    let bigid = SandboxApi::start(Provider::BigId).await;
    let expected = (
        400,
        json!({"status": "error", "statusCode": 400,
            "message": "Unable to locate data source No Such Source"}),
    );
    let body = json!({"ds_connection": {"name": "No Such Source", "type": "rdb-mysql",
        "rdb_url": "h", "username": "u", "password": "p"}});
    let path = "/ds_connections/No%20Such%20Source";
    assert_eq!(bigid.send(Method::GET, path, None).await, expected);
    assert_eq!(bigid.send(Method::PUT, path, Some(body)).await, expected);
    assert_eq!(bigid.send(Method::DELETE, path, None).await, expected);
    let (status, deleted) = bigid
        .send(Method::DELETE, "/ds_connections/HR%20SharePoint", None)
        .await;
    assert_eq!(status, 200, "{deleted}");
    let (status, gone) = bigid
        .send(Method::GET, "/ds_connections/HR%20SharePoint", None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        gone["message"],
        "Unable to locate data source HR SharePoint"
    );
}

/// The tutorial's create: `rdb_url` with no port, answered 200. A new source carries no test
/// or scan status until it is tested.
#[tokio::test]
async fn create_answers_200_and_takes_the_tutorials_host_without_port() {
    let bigid = SandboxApi::start(Provider::BigId).await;
    let (status, created) = bigid
        .send(
            Method::POST,
            "/ds_connections",
            Some(
                json!({"ds_connection": {"name": "RANDOMHERE", "type": "rdb-mysql",
                "rdb_url": "sql.mybigid.com", "username": "bigid", "password": SENTINEL,
                "rdb_name": "rockstream", "connectionStatusTest": {"is_success": true}}}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["status"], "success");
    assert_eq!(created["statusCode"], 200);
    assert_eq!(created["message"], "Data source 'RANDOMHERE' created");
    let source = &created["data"]["ds_connection"];
    assert_eq!(source["rdb_url"], "sql.mybigid.com");
    assert_eq!(source["password"], "********");
    assert_eq!(source["enabled"], "yes");
    assert_eq!(source["owners"], json!([]));
    assert_eq!(source["created_at"], "2025-06-01T12:00:01.000Z");
    assert_eq!(source["updated_at"], source["created_at"]);
    for field in [
        "connectionStatusTest",
        "connectionStatusScan",
        "last_scan_at",
    ] {
        assert!(source.get(field).is_none(), "{field} on a new source");
    }
    assert!(!created.to_string().contains(SENTINEL));
    let (status, got) = bigid
        .send(Method::GET, "/ds_connections/RANDOMHERE", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(&got["ds_connection"], source);

    // A port is still fine, and so is a host of one label; a scheme or a bad port is not.
    for (name, url, ok) in [
        ("With port", "sql.mybigid.com:3306", true),
        ("Single label", "mysql", true),
        ("Scheme", "mysql://db:3306", false),
        ("Empty port", "db.example:", false),
        ("Long port", "db.example:123456", false),
    ] {
        let (status, answer) = bigid
            .send(
                Method::POST,
                "/ds_connections",
                Some(json!({"ds_connection": {"name": name, "type": "rdb-mysql",
                    "rdb_url": url, "username": "u", "password": "p"}})),
            )
            .await;
        assert_eq!(status == 200, ok, "{url}: {answer}");
    }
}

/// The list pages with skip/limit and reports the total only when asked
/// (`requireTotalCount=true`); items carry their test and scan status as BigID's do.
#[tokio::test]
async fn list_pages_reports_the_total_when_asked_and_shows_statuses() {
    let bigid = SandboxApi::start(Provider::BigId).await;
    let (status, all) = bigid.send(Method::GET, "/ds-connections", None).await;
    assert_eq!(status, 200);
    assert_eq!(all["status"], "success");
    assert_eq!(all["statusCode"], 200);
    assert!(all["data"].get("totalCount").is_none(), "{}", all["data"]);
    assert_eq!(names(&all).len(), 5);

    let (_, page) = bigid
        .send(
            Method::GET,
            "/ds-connections?skip=1&limit=2&requireTotalCount=true",
            None,
        )
        .await;
    assert_eq!(names(&page), ["Customer Data Lake", "Finance Snowflake"]);
    assert_eq!(
        page["data"]["totalCount"], 5,
        "the total before skip and limit"
    );
    let (_, past_end) = bigid
        .send(
            Method::GET,
            "/ds-connections?skip=10&requireTotalCount=true",
            None,
        )
        .await;
    assert_eq!(
        past_end["data"],
        json!({"ds_connections": [], "totalCount": 5})
    );
    let (status, bad) = bigid
        .send(Method::GET, "/ds-connections?limit=-1", None)
        .await;
    assert_eq!(status, 400, "{bad}");

    let items = all["data"]["ds_connections"].as_array().unwrap();
    let test = |i: usize| items[i].get("connectionStatusTest").cloned();
    assert_eq!(
        test(0),
        Some(
            json!({"is_success": true, "last_connection": "2025-05-20T08:03:10.874Z", "num_of_object": 42})
        )
    );
    assert_eq!(
        test(2).unwrap()["is_success"],
        false,
        "Finance Snowflake's last test failed"
    );
    assert_eq!(test(3), None, "HR SharePoint was never tested");
    assert_eq!(items[3].get("connectionStatusScan"), None);
    assert_eq!(items[3].get("last_scan_at"), None);
    assert_eq!(items[4]["connectionStatusScan"]["is_success"], false);
    for item in items {
        assert!(item["owners"].is_array(), "{item}");
        assert!(item["created_at"].is_string() && item["updated_at"].is_string());
        if let Some(scan) = item.get("connectionStatusScan") {
            assert!(scan["last_connection"].is_string() && scan["num_of_object"].is_number());
            assert!(item["last_scan_at"].is_u64(), "epoch milliseconds: {item}");
        }
    }
    assert_eq!(items[0]["last_scan_at"], 1_748_398_495_301_u64);
    assert_eq!(
        items[0]["connectionStatusScan"]["last_connection"], "2025-05-28T02:14:55.301Z",
        "last_scan_at is the same instant"
    );
    assert_eq!(items[0]["password"], "********");
}

/// `isNewPassword: false` tests a stored source with its stored password when the body leaves
/// it out or sends the mask; a test of a stored source records its outcome on the source.
#[tokio::test]
async fn testing_a_stored_source_uses_its_password_and_records_the_outcome() {
    let bigid = SandboxApi::start(Provider::BigId).await;
    let test = |password: Option<&str>, is_new: bool| {
        let mut ds = json!({"name": "HR SharePoint", "type": "sharepoint-online",
            "sharepoint_url": "https://acme.sharepoint.com/sites/hr",
            "tenant_id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "client_id": "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d"});
        if let Some(p) = password {
            ds["client_secret"] = json!(p);
        }
        bigid.send(
            Method::POST,
            "/ds-connection-test",
            Some(json!({"ds_connection": ds, "isNewPassword": is_new})),
        )
    };
    let status_of = || async {
        bigid
            .send(Method::GET, "/ds_connections/HR%20SharePoint", None)
            .await
            .1["ds_connection"]
            .get("connectionStatusTest")
            .cloned()
    };
    assert_eq!(status_of().await, None, "never tested");

    let ok = json!({"success": true, "message": "Connection to SharePoint Online data source succeeded"});
    for password in [None, Some("********")] {
        assert_eq!(
            test(password, false).await,
            (200, ok.clone()),
            "{password:?}"
        );
    }
    assert_eq!(
        status_of().await,
        Some(
            json!({"is_success": true, "last_connection": "2025-06-01T12:00:02.000Z", "num_of_object": 0})
        )
    );
    // A new password is tested as sent: the mask is not a password.
    let (_, masked) = test(Some("********"), true).await;
    assert_eq!(masked["success"], false, "{masked}");
    assert_eq!(
        status_of().await,
        Some(
            json!({"is_success": false, "last_connection": "2025-06-01T12:00:03.000Z", "num_of_object": 0})
        )
    );
    let (_, missing) = test(None, true).await;
    assert_eq!(
        missing,
        json!({"success": false, "message": "Missing required field(s) for connection test: client_secret"})
    );
    // A test of a source that is not stored records nothing anywhere.
    let (_, candidate) = bigid
        .send(
            Method::POST,
            "/ds-connection-test",
            Some(json!({"ds_connection": {"name": "Not stored", "type": "rdb-mysql",
                "rdb_url": "db.invalid", "username": "u", "password": "p"}, "isNewPassword": false})),
        )
        .await;
    assert_eq!(candidate["success"], false);
    let (_, all) = bigid.send(Method::GET, "/ds-connections", None).await;
    assert_eq!(names(&all).len(), 5);

    // A seeded source tested with its stored password: the number of objects its last test
    // found is kept.
    let (_, fixed) = bigid
        .send(
            Method::POST,
            "/ds-connection-test",
            Some(
                json!({"ds_connection": {"name": "Orders MySQL", "type": "rdb-mysql",
                "rdb_url": "mysql.orders.acme.example:3306", "username": "bigid_scan",
                "password": "********"}, "isNewPassword": false}),
            ),
        )
        .await;
    assert_eq!(fixed["success"], true, "{fixed}");
    let (_, orders) = bigid
        .send(Method::GET, "/ds_connections/Orders%20MySQL", None)
        .await;
    assert_eq!(
        orders["ds_connection"]["connectionStatusTest"]["num_of_object"],
        42
    );
}

/// A PUT cannot change what the server keeps: id, creation time, statuses; `updated_at` moves.
#[tokio::test]
async fn update_keeps_server_fields() {
    let bigid = SandboxApi::start(Provider::BigId).await;
    let path = "/ds_connections/Finance%20Snowflake";
    let (_, before) = bigid.send(Method::GET, path, None).await;
    let mut changed = before["ds_connection"].clone();
    changed["warehouse"] = json!("SCAN_WH_2");
    changed["_id"] = json!("000000000000000000000000");
    changed["created_at"] = json!("2000-01-01T00:00:00.000Z");
    changed["connectionStatusTest"] = json!({"is_success": true});
    changed.as_object_mut().unwrap().remove("last_scan_at");
    let (status, _) = bigid
        .send(Method::PUT, path, Some(json!({"ds_connection": changed})))
        .await;
    assert_eq!(status, 200);
    let (_, after) = bigid.send(Method::GET, path, None).await;
    let mut expected = before["ds_connection"].clone();
    expected["warehouse"] = json!("SCAN_WH_2");
    expected["updated_at"] = json!("2025-06-01T12:00:01.000Z");
    assert_eq!(after["ds_connection"], expected);
}

// ---- scans ------------------------------------------------------------------------------------

/// The query BigID's integrations start a scan with.
fn scan_query(scan_type: &str) -> String {
    format!("?isSampleScan=false&scanType={scan_type}&autoAssumeScanType=false")
}

fn success(data: Value) -> Value {
    json!({"status": "success", "statusCode": 200, "message": null, "data": data})
}

/// A started scan's life, one step per read of the last scan: the read after the start still
/// answers the previous scan, then Queued → InProgress → Completed with its counts, recorded
/// on the source; the start answers as BigID's integrations declare it, with no scan id.
#[tokio::test]
async fn a_started_scan_is_queued_runs_and_completes_one_step_per_read() {
    let bigid = SandboxApi::start(Provider::BigId).await;
    let path = "/ds-connections/Orders%20MySQL/scan";
    let previous = success(json!({"_id": "005ca1150000000000000001",
        "dsConnectionName": "Orders MySQL", "scanType": "dsScan", "isSampleScan": false,
        "isScheduled": false, "scanProfileName": "Orders MySQL", "state": "Completed",
        "created_at": "2025-05-28T02:14:55.301Z", "updated_at": "2025-05-28T02:14:55.301Z",
        "num_of_object": 42, "total_pii_count": 126}));
    assert_eq!(
        bigid.send(Method::GET, path, None).await,
        (200, previous.clone())
    );

    let started = bigid
        .send(
            Method::POST,
            &format!("{path}{}", scan_query("dsScan")),
            None,
        )
        .await;
    assert_eq!(
        started,
        (
            200,
            json!({"status": "success", "statusCode": 200,
                "message": "Scan of data source 'Orders MySQL' started",
                "data": {"dsConnectionName": "Orders MySQL", "isSampleScan": false,
                    "isScheduled": false, "scanProfileName": "Orders MySQL",
                    "scanType": "dsScan", "state": "Queued"}})
        )
    );
    let scan = |state: &str, updated: &str| {
        json!({"_id": "005ca1150000000000000005", "dsConnectionName": "Orders MySQL",
            "scanType": "dsScan", "isSampleScan": false, "isScheduled": false,
            "scanProfileName": "Orders MySQL", "state": state,
            "created_at": "2025-06-01T12:00:01.000Z", "updated_at": updated})
    };
    let mut completed = scan("Completed", "2025-06-01T12:00:03.000Z");
    completed["num_of_object"] = json!(42);
    completed["total_pii_count"] = json!(126);
    let mut reads = Vec::new();
    for _ in 0..5 {
        reads.push(bigid.send(Method::GET, path, None).await);
    }
    assert_eq!(
        reads,
        [
            (200, previous),
            (200, success(scan("Queued", "2025-06-01T12:00:01.000Z"))),
            (200, success(scan("InProgress", "2025-06-01T12:00:02.000Z"))),
            (200, success(completed.clone())),
            (200, success(completed)),
        ]
    );
    let (_, listing) = bigid.send(Method::GET, "/ds-connections", None).await;
    let orders = listing["data"]["ds_connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Orders MySQL")
        .unwrap()
        .clone();
    assert_eq!(
        orders["connectionStatusScan"],
        json!({"is_success": true, "last_connection": "2025-06-01T12:00:03.000Z", "num_of_object": 42})
    );
    assert_eq!(orders["last_scan_at"], 1_748_779_203_000_u64);
}

/// A source whose host cannot be reached fails its scan with the reason; a source never
/// scanned has no last scan (`data: {}`); a metadata scan counts no findings; an unknown name
/// is BigID's 400 for both routes.
#[tokio::test]
async fn scans_fail_for_unreachable_hosts_and_unknown_names_are_a_400() {
    let bigid = SandboxApi::start(Provider::BigId).await;
    let (status, _) = bigid
        .send(
            Method::POST,
            "/ds_connections",
            Some(
                json!({"ds_connection": {"name": "Gone DB", "type": "rdb-mysql",
                "rdb_url": "gone.invalid:3306", "username": "u", "password": SENTINEL}}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    let path = "/ds-connections/Gone%20DB/scan";
    let never = (200, success(json!({})));
    assert_eq!(bigid.send(Method::GET, path, None).await, never);
    let (status, started) = bigid
        .send(
            Method::POST,
            &format!("{path}{}", scan_query("dsScan")),
            None,
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let mut states = Vec::new();
    let mut last = Value::Null;
    for _ in 0..4 {
        let (status, read) = bigid.send(Method::GET, path, None).await;
        assert_eq!(status, 200);
        states.push(read["data"]["state"].clone());
        last = read;
    }
    assert_eq!(
        states,
        [
            Value::Null,
            json!("Queued"),
            json!("InProgress"),
            json!("Failed")
        ]
    );
    assert_eq!(last["data"]["num_of_object"], 0);
    assert_eq!(
        last["data"]["errorMessage"],
        "Scan failed: getaddrinfo ENOTFOUND gone.invalid"
    );
    let (_, source) = bigid.send(Method::GET, "/ds-connections", None).await;
    let gone = source["data"]["ds_connections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Gone DB")
        .unwrap()
        .clone();
    assert_eq!(gone["connectionStatusScan"]["is_success"], false);

    // A metadata scan of a seeded source: objects, no findings.
    let path = "/ds-connections/Finance%20Snowflake/scan";
    bigid
        .send(
            Method::POST,
            &format!("{path}{}", scan_query("metadataScan")),
            None,
        )
        .await;
    for _ in 0..3 {
        bigid.send(Method::GET, path, None).await;
    }
    let (_, done) = bigid.send(Method::GET, path, None).await;
    assert_eq!(done["data"]["state"], "Completed");
    assert_eq!(done["data"]["scanType"], "metadataScan");
    assert_eq!(done["data"]["num_of_object"], 318);
    assert_eq!(done["data"]["total_pii_count"], 0);

    // HR SharePoint was never scanned.
    assert_eq!(
        bigid
            .send(Method::GET, "/ds-connections/HR%20SharePoint/scan", None)
            .await,
        never
    );
    let unknown = (
        400,
        json!({"status": "error", "statusCode": 400,
            "message": "Unable to locate data source No Such Source"}),
    );
    let path = "/ds-connections/No%20Such%20Source/scan";
    assert_eq!(bigid.send(Method::GET, path, None).await, unknown);
    assert_eq!(
        bigid
            .send(
                Method::POST,
                &format!("{path}{}", scan_query("dsScan")),
                None
            )
            .await,
        unknown
    );
}
