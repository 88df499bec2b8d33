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

/// The flow an agent walks: templates → template → test (fail, then succeed) → create → list
/// → update one field (others kept) → export → delete → gone.
#[tokio::test]
async fn agent_flow_on_the_sandbox() {
    let sb = sandbox().await;
    let client = sandbox_client(&sb).await;

    let (templates, err) = call(&client, "bigid_list_connector_templates", json!({})).await;
    assert!(!err, "{templates}");
    let types: Vec<&str> = templates["data"]
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
    assert_eq!(rdb_url["validation"][0]["regex"], r"^[^\s/:]+:\d{1,5}$");

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
        json!({"success": false, "message": "Test connection failed: getaddrinfo ENOTFOUND orders-db.invalid"})
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
        json!({"success": true, "message": "Connection to MySQL data source succeeded"})
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
    assert_eq!(created["statusCode"], 201);
    assert_eq!(created["data"]["ds_connection"]["password"], "***");

    let (listing, _) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(names(&listing).contains(&"Orders (EU): primary".to_string()));

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
    assert_eq!(gone["error"]["status"], 404);
    let (listing, _) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(!names(&listing).contains(&"Orders (EU): primary".to_string()));
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
        json!({"ds_connection": {"name": "New one", "type": "rdb-mysql", "rdb_url": "no-port", "username": "u", "password": "p"}}),
    )
    .await;
    assert_eq!(
        invalid["error"]["message"],
        "Server host:port: Use host:port, e.g. mysql.example.com:3306"
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

#[tokio::test]
async fn wrong_or_missing_tokens_get_401() {
    let sb = sandbox().await;
    let base = &sb.vendors[0].base_url;
    let http = http();
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(
            http.get(format!("{base}/ds-connections"))
                .send()
                .await
                .unwrap()
        ),
        401
    );
    assert_eq!(
        status(
            http.get(format!("{base}/ds-connections"))
                .header("authorization", "nope")
                .send()
                .await
                .unwrap()
        ),
        401
    );
    assert_eq!(
        status(
            http.get(format!("{base}/refresh-access-token"))
                .header("authorization", "nope")
                .send()
                .await
                .unwrap()
        ),
        401
    );
    // The user token itself is not a session token.
    let user = sb.env()["BIGID_USER_TOKEN"].clone();
    assert_eq!(
        status(
            http.get(format!("{base}/ds-connections"))
                .header("authorization", &user)
                .send()
                .await
                .unwrap()
        ),
        401
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
    assert_eq!(
        status(
            http.get(format!("{base}/ds-connections"))
                .header("authorization", token)
                .send()
                .await
                .unwrap()
        ),
        200
    );
    // Raw header only, as BigID's own clients send it.
    assert_eq!(
        status(
            http.get(format!("{base}/ds-connections"))
                .header("authorization", format!("Bearer {token}"))
                .send()
                .await
                .unwrap()
        ),
        401
    );
    let bad = http
        .post(format!("{base}/sessions"))
        .json(&json!({"username": "sandbox-admin", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 401);
}

#[tokio::test]
async fn every_sandbox_starts_from_the_same_seed_and_pages() {
    let (a, b) = (sandbox().await, sandbox().await);
    let (ca, cb) = (sandbox_client(&a).await, sandbox_client(&b).await);
    let (la, _) = call(&ca, "bigid_list_data_sources", json!({})).await;
    let (lb, _) = call(&cb, "bigid_list_data_sources", json!({})).await;
    assert_eq!(la, lb);
    assert_eq!(
        names(&la),
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
    assert_eq!(names(&page), ["Customer Data Lake", "Finance Snowflake"]);
    assert_eq!(page["data"]["totalCount"], 5);
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
    let all = names(&listing);
    assert_eq!(all.len(), 5 + 11);
    assert_eq!(all.iter().filter(|n| *n == "same name").count(), 1);
}

#[tokio::test]
async fn binary_serves_the_sandbox_over_stdio() {
    // Every simulated vendor is served, and only those.
    let simulated = datasource_mcp::sandbox::VENDORS;
    let tools: usize = simulated
        .iter()
        .map(|v| v.provider.spec().operations.len())
        .sum();
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
        by_id(2)["result"]["structuredContent"]["data"]["totalCount"],
        5
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
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(binary())
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .env_clear()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut vars = HashMap::new();
    while vars.len() < 2 {
        let line = lines.next_line().await.unwrap().expect("a line");
        if let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
            vars.insert(k.to_string(), v.to_string());
        }
    }
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
