//! Six everyday requests, each finished on the sandbox through MCP with only what the protocol
//! shows an agent (instructions, tools, results): ids come from list rows or from what the
//! user pastes, credentials as secret references, every change shown as a dry run first.

use crate::support::*;
use datasource_mcp::sandbox::Sandbox;
use datasource_mcp::upstream::UpstreamSettings;
use serde_json::{Value, json};

/// The value the user set as `DATASOURCE_MCP_SECRET_ORDERS_DB_PASSWORD` where the server runs.
const ORDERS_PASSWORD: &str = "orders-pw-f3a9c1d7";

async fn agent() -> (Sandbox, Client) {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let mut vars = sb.env();
    vars.insert(
        "DATASOURCE_MCP_SECRET_ORDERS_DB_PASSWORD".into(),
        ORDERS_PASSWORD.into(),
    );
    let client = client_with(&vars, UpstreamSettings::default()).await;
    (sb, client)
}

/// A change as the instructions ask for it: the dry run first (what the user is shown), then,
/// after the user's yes, the call itself.
async fn confirmed(client: &Client, tool: &str, args: Value) -> Value {
    let mut dry = args.clone();
    dry["dry_run"] = json!(true);
    let (plan, err) = call(client, tool, dry).await;
    assert!(!err, "{tool} dry run: {plan}");
    assert_eq!(plan["dry_run"], true, "{plan}");
    let (done, err) = call(client, tool, args).await;
    assert!(!err, "{tool}: {done}");
    done
}

/// The row of a list page whose `field` is `value`.
fn row<'a>(page: &'a Value, field: &str, value: &str) -> &'a Value {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[field] == value)
        .unwrap_or_else(|| panic!("no row with {field} = {value}: {page}"))
}

/// "Add our orders MySQL to BigID."
#[tokio::test]
async fn add_our_orders_mysql_to_bigid() {
    let (_sb, client) = agent().await;
    let (template, err) = call(
        &client,
        "bigid_get_connector_template",
        json!({"type": "rdb-mysql"}),
    )
    .await;
    assert!(!err, "{template}");
    let ds = json!({"name": "orders-mysql", "type": "rdb-mysql",
        "rdb_url": "orders-db.prod.example:3306", "rdb_name": "orders",
        "username": "bigid_scan", "password": "${secret:ORDERS_DB_PASSWORD}"});
    let (test, _) = call(
        &client,
        "bigid_test_data_source_connection",
        json!({"ds_connection": ds}),
    )
    .await;
    assert_eq!(test["success"], true, "{test}");
    let mut dry = json!({"ds_connection": ds, "dry_run": true});
    let (plan, _) = call(&client, "bigid_create_data_source", dry.take()).await;
    // The user is shown the reference, never the value.
    assert!(
        plan.to_string().contains("${secret:ORDERS_DB_PASSWORD}"),
        "{plan}"
    );
    assert!(!plan.to_string().contains(ORDERS_PASSWORD));
    let created = confirmed(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": ds}),
    )
    .await;
    assert!(!created.to_string().contains(ORDERS_PASSWORD), "{created}");
    let (listed, _) = call(
        &client,
        "bigid_list_data_sources",
        json!({"fields": ["name", "rdb_url"]}),
    )
    .await;
    assert!(!listed.to_string().contains(ORDERS_PASSWORD));
    let (got, err) = call(
        &client,
        "bigid_get_data_source",
        json!({"name": "orders-mysql"}),
    )
    .await;
    assert!(!err, "{got}");
    assert!(
        got.to_string().contains("orders-db.prod.example:3306"),
        "{got}"
    );
    // The stored source, tested as it is saved (get's values are masked).
    let (stored, err) = call(
        &client,
        "bigid_test_stored_data_source",
        json!({"name": "orders-mysql"}),
    )
    .await;
    assert!(!err, "{stored}");
    assert_eq!(stored["success"], true, "{stored}");
}

/// "Which sources failed their last connection test, on every platform?"
#[tokio::test]
async fn which_sources_failed_their_last_connection_test_everywhere() {
    let (_sb, client) = agent().await;
    let (failing, err) = call(
        &client,
        "inventory_list_data_sources",
        json!({"status": "failing"}),
    )
    .await;
    assert!(!err, "{failing}");
    let found: Vec<(String, String)> = failing["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["provider"].as_str().unwrap().to_string(),
                r["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("bigid".to_string(), "Finance Snowflake".to_string()),
            // PDC keeps the outcome in the last test's job: the row reads it.
            ("pdc".to_string(), "finance-oracle".to_string()),
            ("bigdata".to_string(), "Research SharePoint".to_string())
        ]
    );
    assert_eq!(failing["errors"], json!([]));
}

/// "Register this Postgres in PDC and ingest it."
#[tokio::test]
async fn register_this_postgres_in_pdc_and_ingest_it() {
    let (_sb, client) = agent().await;
    let created = confirmed(
        &client,
        "pdc_create_data_sources",
        json!({"data_sources": [{"resourceName": "orders-postgres", "databaseType": "POSTGRES",
            "host": "pg.orders.example", "port": 5432, "databaseName": "orders",
            "userName": "pdc_reader", "password": "${secret:ORDERS_DB_PASSWORD}"}]}),
    )
    .await;
    let id = created["data"][0]["_id"].as_str().unwrap().to_string();
    let tested = confirmed(
        &client,
        "pdc_test_data_source_connection",
        json!({"id": id, "wait": true, "wait_seconds": 30}),
    )
    .await;
    assert_eq!(tested["status"], "COMPLETED", "{tested}");
    let ingested = confirmed(
        &client,
        "pdc_ingest_metadata",
        json!({"id": id, "wait": true, "wait_seconds": 30}),
    )
    .await;
    assert_eq!(ingested["status"], "COMPLETED", "{ingested}");
    let (found, _) = call(
        &client,
        "pdc_filter_data_sources",
        json!({"resourceNames": ["orders-postgres"]}),
    )
    .await;
    assert_eq!(row(&found, "id", &id)["name"], "orders-postgres");
}

/// "Rename this Bigdata connector and share it with the org." The id comes from the list's
/// row matched on its label; what the request does not name stays as it was.
#[tokio::test]
async fn rename_this_bigdata_connector_and_share_it_with_the_org() {
    let (_sb, client) = agent().await;
    let (list, _) = call(&client, "bigdata_list_connectors", json!({})).await;
    let id = row(&list, "name", "Research SharePoint")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (before, _) = call(
        &client,
        "bigdata_get_connector",
        json!({"connector_id": id}),
    )
    .await;
    confirmed(
        &client,
        "bigdata_update_connector",
        json!({"connector_id": id, "label": "Research SharePoint (EU)", "share_with_org": true}),
    )
    .await;
    let (after, _) = call(
        &client,
        "bigdata_get_connector",
        json!({"connector_id": id}),
    )
    .await;
    assert_eq!(after["label"], "Research SharePoint (EU)");
    assert_eq!(after["share_with_org"], true);
    assert_eq!(
        after["description"], before["description"],
        "{before} → {after}"
    );
    assert_eq!(after["config"], before["config"]);
}

/// "Delete this DataBrain datasource."
#[tokio::test]
async fn delete_this_databrain_datasource() {
    let (_sb, client) = agent().await;
    let (list, _) = call(&client, "databrain_list_datasources", json!({"limit": 100})).await;
    row(&list, "name", "orders-mysql");
    let deleted = confirmed(
        &client,
        "databrain_delete_datasource",
        json!({"name": "orders-mysql"}),
    )
    .await;
    assert_eq!(deleted["message"], "Datasource deleted successfully");
    let (list, _) = call(&client, "databrain_list_datasources", json!({"limit": 100})).await;
    assert!(!list.to_string().contains("\"orders-mysql\""), "{list}");
}

/// "Sync this DataBrain datasource and tell me when it is done." DataBrain's API has no id
/// for a name, so the agent asks for the datasource's page URL and passes it as it is.
#[tokio::test]
async fn sync_this_databrain_datasource_and_say_when_it_is_done() {
    let (_sb, client) = agent().await;
    let pasted = "https://app.usedatabrain.com/datasources?id=000000db-5eed-4000-8000-000000000009";
    let synced = confirmed(
        &client,
        "databrain_sync_datasource",
        json!({ "datasource_id": pasted }),
    )
    .await;
    assert_eq!(
        synced,
        json!({"data": {"message": "Sync completed"}, "connection": "works"})
    );
    // An S3 datasource's sync goes on after that answer: its progress, waited for.
    let (progress, err) = call(
        &client,
        "databrain_get_datasource_sync_progress",
        json!({"datasource_id": pasted, "wait": true, "wait_seconds": 30}),
    )
    .await;
    assert!(!err, "{progress}");
    let done = progress["status"]["progress"].as_str().unwrap();
    let (a, b) = done.split_once('/').unwrap();
    assert_eq!(a, b, "{progress}");
    assert_eq!(progress["status"]["error"], "");
}
