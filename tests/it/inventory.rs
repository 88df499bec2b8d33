//! The inventory across platforms against the recording fake: every configured vendor's list
//! requested at once (each vendor's pages followed), rows merged and filtered, a failing or
//! slow vendor reported in `errors` next to the others' rows.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;
use datasource_mcp::engine::EngineSettings;
use datasource_mcp::surfaces::server::Selection;
use datasource_mcp::upstream::{RetryPolicy, UpstreamSettings};

const TOOL: &str = "inventory_list_data_sources";
const BIGID_TOKEN: &str = "bigid-user-token-inv";
const BIGID_SYSTEM: &str = "bigid-system-token-inv";
const PDC_TOKEN: &str = "pdc-access-token-inv";
const BIGDATA_KEY: &str = "bigdata-key-inv";
const DATABRAIN_TOKEN: &str = "dbn_live_inv";

const BIGID_LIST: &str = "/bigid/api/v1/ds-connections";
const PDC_FILTER: &str = "/pdc/api/public/v1/data-sources/filter";
const BIGDATA_LIST: &str = "/bigdata/contents/v1/connectors";
const DATABRAIN_LIST: &str = "/databrain/api/v2/datasource";

/// BigID holds this many sources: two of its pages of 100.
const BIGID_SOURCES: usize = 150;

fn bigid_source(n: usize) -> Value {
    json!({"_id": format!("64b{n:05}"), "name": format!("src-{n:03}"), "type": "rdb-mysql",
        "enabled": if n % 10 == 9 { "no" } else { "yes" },
        "rdb_url": format!("mysql://db{n}.acme.example:3306/orders"),
        "connectionStatusTest": {"is_success": n % 7 != 3, "last_connection": "2026-11-30T10:00:00Z"},
        "scanner_group": "default", "owners": ["dpo@acme.example"]})
}

fn bigid_row(n: usize) -> Value {
    let status = match (n % 10 == 9, n % 7 == 3) {
        (true, _) => "disabled",
        (_, true) => "fails",
        _ => "works",
    };
    json!({"provider": "bigid", "id": format!("src-{n:03}"), "name": format!("src-{n:03}"),
        "type": "rdb-mysql", "status": status, "tested_at": "2026-11-30T10:00:00Z",
        "host": format!("db{n}.acme.example"), "port": 3306, "database": "orders"})
}

fn bigid_page(from: usize, to: usize) -> Value {
    json!({"status": "success", "statusCode": 200, "data": {
        "ds_connections": (from..to).map(bigid_source).collect::<Vec<_>>(),
        "totalCount": BIGID_SOURCES}})
}

fn pdc_answer() -> Value {
    json!({"data": [
        {"_id": "9dc0da7a0000000000000001", "resourceName": "prod-orders", "databaseType": "POSTGRES",
         "host": "pg.acme.example", "lastTestConnectionId": "9dc010b50000000000000002", "userName": "pdc"},
        {"_id": "9dc0da7a0000000000000002", "resourceName": "dev-users", "databaseType": "MYSQL"}],
        "pageInfo": {"totalCount": 2}})
}

fn bigdata_answer() -> Value {
    json!({"results": [
        {"connector_id": "0b16da7a-5eed-4000-8000-000000000001", "label": "Orders inbox", "type": "email",
         "archived": false, "last_sync_status": "SUCCESS", "config": {"email": "x@in.bigdata.com"}},
        {"connector_id": "0b16da7a-5eed-4000-8000-000000000002", "label": "Broker feed", "type": "investment_research",
         "archived": false, "last_sync_status": "FAILED", "last_sync_error_msg": "login refused"}]})
}

fn databrain_answer() -> Value {
    json!({"data": [{"name": "analytics"}]})
}

/// The rows of everything but BigID, in vendor order.
fn other_rows() -> Vec<Value> {
    vec![
        json!({"provider": "pdc", "id": "9dc0da7a0000000000000001", "name": "prod-orders",
            "type": "POSTGRES", "status": "unknown", "host": "pg.acme.example"}),
        json!({"provider": "pdc", "id": "9dc0da7a0000000000000002", "name": "dev-users",
            "type": "MYSQL", "status": "untested"}),
        json!({"provider": "bigdata", "id": "0b16da7a-5eed-4000-8000-000000000001",
            "name": "Orders inbox", "type": "email", "status": "works"}),
        json!({"provider": "bigdata", "id": "0b16da7a-5eed-4000-8000-000000000002",
            "name": "Broker feed", "type": "investment_research", "status": "fails",
            "error": "login refused",
            "remedy": "create an investment_research connector with the right broker login, then archive this one (bigdata_delete_connector)"}),
        json!({"provider": "databrain", "id": "analytics", "name": "analytics", "status": "unknown"}),
    ]
}

/// One fake serving all four vendors under their own prefixes, with their logins answered.
async fn four_vendors() -> (FakeUpstream, Vec<(String, String)>) {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/bigid/api/v1/refresh-access-token",
        Reply::json(200, json!({"success": true, "systemToken": BIGID_SYSTEM})),
    );
    fake.on(
        "POST",
        "/pdc/api/public/v1/auth",
        Reply::json(
            200,
            json!({"message": "OK", "data": {"accessToken": PDC_TOKEN}}),
        ),
    );
    fake.on("POST", PDC_FILTER, Reply::json(200, pdc_answer()));
    fake.on("GET", BIGDATA_LIST, Reply::json(200, bigdata_answer()));
    fake.on("GET", DATABRAIN_LIST, Reply::json(200, databrain_answer()));
    let vars = vec![
        ("BIGID_BASE_URL".into(), fake.url("/bigid/api/v1")),
        ("BIGID_USER_TOKEN".into(), BIGID_TOKEN.into()),
        ("PDC_BASE_URL".into(), fake.url("/pdc/api/public/v1")),
        ("PDC_USERNAME".into(), "catalog".into()),
        ("PDC_PASSWORD".into(), SENTINEL.into()),
        ("BIGDATA_BASE_URL".into(), fake.url("/bigdata")),
        ("BIGDATA_API_KEY".into(), BIGDATA_KEY.into()),
        ("DATABRAIN_BASE_URL".into(), fake.url("/databrain")),
        ("DATABRAIN_SERVICE_TOKEN".into(), DATABRAIN_TOKEN.into()),
    ];
    (fake, vars)
}

/// BigID's two pages, for one inventory call.
fn queue_bigid_pages(fake: &FakeUpstream) {
    fake.once("GET", BIGID_LIST, Reply::json(200, bigid_page(0, 100)));
    fake.once(
        "GET",
        BIGID_LIST,
        Reply::json(200, bigid_page(100, BIGID_SOURCES)),
    );
}

async fn connect(vars: &[(String, String)], settings: impl Into<EngineSettings>) -> Client {
    let vars = vars.iter().cloned().collect();
    client_selected(&vars, settings, &Selection::default()).await
}

fn requests_to(fake: &FakeUpstream, path: &str) -> Vec<Recorded> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect()
}

#[tokio::test]
async fn merges_every_platform_following_each_vendors_pages() {
    let (fake, vars) = four_vendors().await;
    queue_bigid_pages(&fake);
    let client = connect(&vars, UpstreamSettings::default()).await;
    let (result, is_error) = call(&client, TOOL, json!({})).await;
    assert!(!is_error, "{result}");
    let first: Vec<Value> = (0..50).map(bigid_row).collect();
    assert_eq!(
        result,
        json!({"items": first, "total": BIGID_SOURCES + 5, "next": {"skip": 50, "limit": 50},
            "errors": []})
    );

    // Exactly one list per vendor (BigID's two pages), in the vendor's documented form.
    let bigid = requests_to(&fake, BIGID_LIST);
    assert_eq!(bigid.len(), 2, "{bigid:#?}");
    let bigid_auth = AuthHeader::raw("authorization", BIGID_SYSTEM);
    assert_request(
        &bigid[0],
        "GET",
        BIGID_LIST,
        Some("skip=0&limit=100&requireTotalCount=true"),
        bigid_auth,
        None,
    );
    assert_request(
        &bigid[1],
        "GET",
        BIGID_LIST,
        Some("skip=100&limit=100&requireTotalCount=true"),
        bigid_auth,
        None,
    );
    let pdc = requests_to(&fake, PDC_FILTER);
    assert_eq!(pdc.len(), 1);
    assert_request(
        &pdc[0],
        "POST",
        PDC_FILTER,
        Some("skip=0&limit=500"),
        AuthHeader::bearer(PDC_TOKEN),
        Some(json!({"filters": {"resourceNames": ["*"]}})),
    );
    let bigdata = requests_to(&fake, BIGDATA_LIST);
    assert_eq!(bigdata.len(), 1);
    assert_request(
        &bigdata[0],
        "GET",
        BIGDATA_LIST,
        None,
        AuthHeader::raw("x-api-key", BIGDATA_KEY),
        None,
    );
    let databrain = requests_to(&fake, DATABRAIN_LIST);
    assert_eq!(databrain.len(), 1);
    assert_request(
        &databrain[0],
        "GET",
        DATABRAIN_LIST,
        None,
        AuthHeader::bearer(DATABRAIN_TOKEN),
        None,
    );

    // The last page: the end of BigID's rows, then every other platform's.
    queue_bigid_pages(&fake);
    let (result, _) = call(&client, TOOL, json!({"skip": 140, "limit": 50})).await;
    let mut rows: Vec<Value> = (140..BIGID_SOURCES).map(bigid_row).collect();
    rows.extend(other_rows());
    assert_eq!(
        result,
        json!({"items": rows, "total": BIGID_SOURCES + 5, "errors": []})
    );
}

#[tokio::test]
async fn filters_ask_only_the_named_platforms() {
    let (fake, vars) = four_vendors().await;
    let client = connect(&vars, UpstreamSettings::default()).await;
    let (result, is_error) = call(
        &client,
        TOOL,
        json!({"providers": ["pdc", "bigdata"], "name": "*ORDERS*"}),
    )
    .await;
    assert!(!is_error);
    let rows = other_rows();
    assert_eq!(
        result,
        json!({"items": [rows[0], rows[2]], "total": 2, "errors": []})
    );
    assert!(requests_to(&fake, BIGID_LIST).is_empty());
    assert!(requests_to(&fake, DATABRAIN_LIST).is_empty());

    for (filter, want) in [
        (
            json!({"status": "fails", "providers": ["bigdata"]}),
            vec![rows[3].clone()],
        ),
        (
            json!({"type": "mysql", "providers": ["pdc"]}),
            vec![rows[1].clone()],
        ),
        (
            json!({"name": "analytics", "providers": ["databrain"]}),
            vec![rows[4].clone()],
        ),
    ] {
        let (result, _) = call(&client, TOOL, filter.clone()).await;
        assert_eq!(result["items"], json!(want), "{filter}");
    }
}

#[tokio::test]
async fn a_failing_or_slow_platform_is_reported_next_to_the_others_rows() {
    let (fake, vars) = four_vendors().await;
    queue_bigid_pages(&fake);
    fake.on(
        "POST",
        PDC_FILTER,
        Reply::json(503, json!({"status": 503, "message": "catalog restarting"})),
    );
    fake.on(
        "GET",
        DATABRAIN_LIST,
        Reply::json(200, databrain_answer()).delayed(Duration::from_secs(20)),
    );
    let settings = UpstreamSettings {
        request_timeout: Duration::from_millis(400),
        retry: RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        },
        ..UpstreamSettings::default()
    };
    let client = connect(&vars, settings).await;
    let started = Instant::now();
    let (result, is_error) = call(&client, TOOL, json!({"skip": 140})).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the slow platform is not waited for"
    );
    assert!(!is_error, "one platform failing never fails the call");
    let mut rows: Vec<Value> = (140..BIGID_SOURCES).map(bigid_row).collect();
    rows.extend(other_rows()[2..4].iter().cloned());
    assert_eq!(result["items"], json!(rows));
    assert_eq!(result["total"], json!(BIGID_SOURCES + 2));
    let errors = result["errors"].as_array().unwrap();
    let providers: Vec<&str> = errors
        .iter()
        .map(|e| e["provider"].as_str().unwrap())
        .collect();
    assert_eq!(providers, ["pdc", "databrain"], "{errors:#?}");
    // The vendor's error as its own list tool reports it: status, message, hint.
    assert_eq!(errors[0]["status"], 503, "{errors:#?}");
    assert!(errors[0]["hint"].is_string(), "{errors:#?}");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("catalog restarting"),
        "{errors:#?}"
    );
    assert_eq!(errors[1]["code"], "TIMEOUT", "{errors:#?}");
    let text = result.to_string();
    for secret in [
        SENTINEL,
        PDC_TOKEN,
        BIGID_SYSTEM,
        BIGID_TOKEN,
        DATABRAIN_TOKEN,
    ] {
        assert!(!text.contains(secret), "{secret} leaked");
    }
}

#[tokio::test]
async fn a_platform_named_but_not_configured_is_said_so() {
    let fake = FakeUpstream::start().await;
    fake.on("GET", BIGDATA_LIST, Reply::json(200, bigdata_answer()));
    let vars = vec![
        ("BIGDATA_BASE_URL".to_string(), fake.url("/bigdata")),
        ("BIGDATA_API_KEY".to_string(), BIGDATA_KEY.to_string()),
    ];
    let client = connect(&vars, UpstreamSettings::default()).await;
    let (result, is_error) = call(
        &client,
        TOOL,
        json!({"providers": ["bigdata", "bigid"], "status": "works"}),
    )
    .await;
    assert!(!is_error);
    assert_eq!(result["items"], json!([other_rows()[2]]));
    assert_eq!(result["errors"][0]["provider"], "bigid");
    assert_eq!(result["errors"][0]["code"], "NOT_CONFIGURED");
    assert_eq!(result["errors"].as_array().unwrap().len(), 1);

    let (err, is_error) = call(&client, TOOL, json!({"providers": ["snowflake"]})).await;
    assert!(is_error);
    assert_eq!(err["error"]["field"], "providers[0]");
    assert!(fake.requests().len() == 1, "nothing sent for a bad filter");
}

#[tokio::test]
async fn full_detail_named_fields_and_the_budget() {
    let (fake, vars) = four_vendors().await;
    let client = connect(&vars, UpstreamSettings::default()).await;
    let (result, _) = call(
        &client,
        TOOL,
        json!({"providers": ["pdc"], "detail": "full", "limit": 1}),
    )
    .await;
    let mut want = other_rows()[0].clone();
    want["detail"] = pdc_answer()["data"][0].clone();
    want["last_test_job"] = json!("9dc010b50000000000000002");
    assert_eq!(result["items"], json!([want]));
    assert_eq!(
        result["next"],
        json!({"providers": ["pdc"], "detail": "full", "skip": 1, "limit": 1})
    );

    let (result, _) = call(
        &client,
        TOOL,
        json!({"providers": ["bigdata"], "fields": ["provider", "detail.last_sync_error_msg"]}),
    )
    .await;
    assert_eq!(
        result["items"],
        json!([{"provider": "bigdata"},
            {"provider": "bigdata", "detail.last_sync_error_msg": "login refused"}])
    );

    // A small budget keeps whole rows and points past the last one kept.
    queue_bigid_pages(&fake);
    let settings = EngineSettings {
        upstream: UpstreamSettings::default(),
        max_result_bytes: 2_000,
        audit: None,
    };
    let small = connect(&vars, settings).await;
    let (result, is_error) = call(&small, TOOL, json!({"limit": 100})).await;
    assert!(!is_error);
    assert!(result.to_string().len() <= 2_000);
    let kept = result["items"].as_array().unwrap().len();
    assert!(kept > 0 && kept < 100, "{kept}");
    assert_eq!(
        result["items"],
        json!((0..kept).map(bigid_row).collect::<Vec<_>>())
    );
    assert_eq!(result["truncated"]["shown"], json!(kept));
    assert_eq!(result["next"], json!({"limit": 100, "skip": kept}));
    let _ = fake;
}

#[tokio::test]
async fn offered_when_any_platform_is_and_never_changes_anything() {
    let (_fake, vars) = four_vendors().await;
    let map = vars.iter().cloned().collect();
    for (selection, offered) in [
        (Selection::default(), true),
        (Selection::parse(true, None, None).unwrap(), true),
        (
            Selection::parse(false, Some("inventory"), None).unwrap(),
            true,
        ),
        (
            Selection::parse(false, Some("bigid,pdc"), None).unwrap(),
            false,
        ),
    ] {
        let client = client_selected(&map, UpstreamSettings::default(), &selection).await;
        let tools = client.list_all_tools().await.unwrap();
        let tool = tools.iter().find(|t| t.name == TOOL);
        assert_eq!(tool.is_some(), offered, "{selection:?}");
        if let Some(tool) = tool {
            let a = tool.annotations.as_ref().unwrap();
            assert_eq!(a.read_only_hint, Some(true));
            assert_eq!(a.destructive_hint, Some(false));
        }
    }
    let nothing = client(&[]).await;
    let tools = nothing.list_all_tools().await.unwrap();
    assert!(tools.is_empty(), "no platform, no inventory");
}

/// A vendor that pages forever (one item a page, an endless total) costs a bounded number of
/// requests, and the platform is reported incomplete.
#[tokio::test]
async fn a_vendor_paging_forever_is_cut_off() {
    let (fake, vars) = four_vendors().await;
    fake.on(
        "GET",
        BIGID_LIST,
        Reply::json(
            200,
            json!({"data": {"ds_connections": [bigid_source(1)], "totalCount": 1_000_000}}),
        ),
    );
    let client = connect(&vars, UpstreamSettings::default()).await;
    let (result, is_error) = call(&client, TOOL, json!({"providers": ["bigid"], "limit": 1})).await;
    assert!(!is_error, "{result}");
    assert_eq!(
        requests_to(&fake, BIGID_LIST).len(),
        100,
        "at most 100 pages"
    );
    assert_eq!(result["total"], 100);
    assert_eq!(result["errors"][0]["provider"], "bigid");
    assert_eq!(result["errors"][0]["code"], "INCOMPLETE");
    assert_eq!(
        result["errors"][0]["message"],
        "only its first 100 data sources are listed here; page through the rest with bigid_list_data_sources"
    );
}

/// A vendor echoing a credential in a row (as is, or in another vendor's row) never gets it
/// to the model: the merged result is masked like any other.
#[tokio::test]
async fn credentials_echoed_in_rows_are_masked() {
    let (fake, vars) = four_vendors().await;
    fake.on(
        "GET",
        BIGDATA_LIST,
        Reply::json(
            200,
            json!({"results": [{"connector_id": "c1", "label": format!("key {BIGDATA_KEY}"),
                "type": "email", "last_sync_status": "SUCCESS"},
                {"connector_id": "c2", "label": "pdc", "type": format!("x{PDC_TOKEN}"),
                "last_sync_status": "SUCCESS"}]}),
        ),
    );
    let client = connect(&vars, UpstreamSettings::default()).await;
    let (result, _) = call(&client, TOOL, json!({"providers": ["bigdata", "pdc"]})).await;
    let text = result.to_string();
    for secret in [BIGDATA_KEY, PDC_TOKEN, SENTINEL] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(result["items"][2]["name"], "key ***", "{text}");
}
