//! The inventory on the sandbox: all four simulated vendors in one call, and one of them
//! refusing its credential.

use std::collections::BTreeMap;

use crate::support::*;
use datasource_mcp::sandbox::Sandbox;
use datasource_mcp::upstream::UpstreamSettings;
use serde_json::{Value, json};

const TOOL: &str = "inventory_list_data_sources";

fn per_provider(items: &Value) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for item in items.as_array().unwrap() {
        *counts
            .entry(item["provider"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn every_simulated_platform_in_one_call() {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let client = client_with(&sb.env(), UpstreamSettings::default()).await;
    let (all, is_error) = call(&client, TOOL, json!({"limit": 100})).await;
    assert!(!is_error, "{all}");
    assert_eq!(all["errors"], json!([]));
    assert_eq!(all["total"], 33);
    assert_eq!(
        per_provider(&all["items"]),
        BTreeMap::from([
            ("bigdata".into(), 4),
            ("bigid".into(), 5),
            ("databrain".into(), 12),
            ("pdc".into(), 12)
        ])
    );
    // "Which are broken?": one call.
    let (broken, _) = call(&client, TOOL, json!({"status": "failing"})).await;
    assert_eq!(
        broken,
        json!({"items": [
            {"provider": "bigid", "id": "Finance Snowflake", "name": "Finance Snowflake", "type": "snowflake", "status": "fails",
                "tested_at": "2025-05-30T16:45:01.962Z"},
            {"provider": "pdc", "id": "9dc0da7a0000000000000007", "name": "finance-oracle", "type": "ORACLE", "status": "fails",
                "error": "ORA-12541: TNS:no listener (oracle-fin.corp.acme.example:1521)", "tested_at": "2025-03-02T10:15:00.000Z",
                "host": "oracle-fin.corp.acme.example", "port": 1521, "database": "FINPROD"},
            {"provider": "bigdata", "id": "0b16da7a-5eed-4000-8000-000000000003", "name": "Research SharePoint", "type": "sharepoint", "status": "fails",
                "error": "SharePoint session expired: a new session is needed (support@bigdata.com)",
                "remedy": "ask support@bigdata.com for a new session_id, create a sharepoint connector with it, then archive this one (bigdata_delete_connector)"}
        ], "total": 3, "errors": []})
    );
    // "Which of our databases are registered where?"
    let (orders, _) = call(&client, TOOL, json!({"name": "*orders*"})).await;
    let found: Vec<(&str, &str)> = orders["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["provider"].as_str().unwrap(), i["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            ("bigid", "Orders MySQL"),
            ("pdc", "prod-mysql-orders"),
            ("databrain", "orders-mysql")
        ]
    );
}

#[tokio::test]
async fn one_platform_failing_leaves_the_others_rows() {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let mut env = sb.env();
    env.insert(
        "DATABRAIN_SERVICE_TOKEN".into(),
        "dbn_not_a_valid_token".into(),
    );
    let client = client_with(&env, UpstreamSettings::default()).await;
    let (result, is_error) = call(&client, TOOL, json!({"limit": 100})).await;
    assert!(!is_error, "{result}");
    assert_eq!(result["total"], 21);
    assert_eq!(
        per_provider(&result["items"]),
        BTreeMap::from([
            ("bigdata".into(), 4),
            ("bigid".into(), 5),
            ("pdc".into(), 12)
        ])
    );
    let errors = result["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0]["provider"], "databrain");
    assert_eq!(errors[0]["status"], 401, "{errors:#?}");
    assert_eq!(
        errors[0]["code"], "AUTHENTICATION_ERROR",
        "DataBrain's own code"
    );
    assert!(!result.to_string().contains("dbn_not_a_valid_token"));
}
