//! A realistic agent flow per vendor on the sandbox, through an MCP client: the tools, the
//! upstream client, auth and the simulations together.

use crate::support::*;
use datasource_mcp::sandbox::{self, Sandbox};
use datasource_mcp::upstream::UpstreamSettings;
use serde_json::{Value, json};

async fn sandbox_client() -> (Sandbox, Client) {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let client = client_with(&sb.env(), UpstreamSettings::default()).await;
    (sb, client)
}

fn names(data: &Value, key: &str) -> Vec<String> {
    data.as_array()
        .unwrap()
        .iter()
        .map(|d| d[key].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn the_sandbox_serves_every_tool() {
    let (_sb, client) = sandbox_client().await;
    assert_eq!(
        client.list_all_tools().await.unwrap().len(),
        tool_count(|_| true)
    );
}

#[tokio::test]
async fn pdc_flow() {
    let (_sb, client) = sandbox_client().await;
    let (found, err) = call(
        &client,
        "pdc_filter_data_sources",
        json!({"resourceNames": ["prod-*"], "databaseTypes": ["*postgres*"]}),
    )
    .await;
    assert!(!err, "{found}");
    assert_eq!(
        names(&found["items"], "name"),
        ["prod-postgres-primary", "prod-postgres-replica"]
    );
    let (page, _) = call(
        &client,
        "pdc_filter_data_sources",
        json!({"resourceNames": ["*"], "skip": 10, "limit": 5}),
    )
    .await;
    assert_eq!(
        names(&page["items"], "name"),
        ["archive-s3-eu", "prod-redshift"]
    );
    assert_eq!(page["total"], 12);
    assert!(page.get("next").is_none(), "the last page: {page}");
    // No filter is every data source (the sandbox, like PDC, refuses a body without one).
    let (every, err) = call(&client, "pdc_filter_data_sources", json!({})).await;
    assert!(!err, "{every}");
    assert_eq!(
        names(&every["items"], "name"),
        [
            "prod-postgres-primary",
            "prod-postgres-replica",
            "prod-mysql-orders",
            "staging-postgres",
            "analytics-snowflake",
            "AWS S3 Data Lake",
            "finance-oracle",
            "hr-sqlserver",
            "dev-mongodb",
            "marketing-bigquery",
            "archive-s3-eu",
            "prod-redshift"
        ]
    );
    assert_eq!(every["total"], 12);

    let (created, err) = call(
        &client,
        "pdc_create_data_sources",
        json!({"data_sources": [
            {"resourceName": "orders-replica-eu", "databaseType": "POSTGRES", "host": "pg-eu.internal", "schemaNames": ["public"], "port": "5432", "userName": "pdc", "password": SENTINEL},
            {"resourceName": "clickstream-lake", "databaseType": "AWS", "region": "eu-west-1", "container": "clicks", "secretKey": SENTINEL}
        ]}),
    )
    .await;
    assert!(!err, "{created}");
    assert_eq!(created["status"], 201);
    let ids: Vec<String> = names(&created["data"], "_id");
    assert_eq!(ids.len(), 2);
    assert!(!created.to_string().contains(SENTINEL));

    let (dup, err) = call(&client, "pdc_create_data_sources", json!({"data_sources": [{"resourceName": "orders-replica-eu", "databaseType": "POSTGRES", "password": SENTINEL}]})).await;
    assert!(err);
    assert_eq!(dup["error"]["status"], 400);
    // PDC echoes the record it refuses, password included: masked on the way out.
    let message = dup["error"]["message"].as_str().unwrap();
    assert!(
        message.ends_with("Duplicate key violation on the requested collection: Index '_id_'"),
        "{message}"
    );
    assert!(message.contains("\"password\":\"***\""), "{message}");
    assert!(!dup.to_string().contains(SENTINEL));
    assert_eq!(
        dup["error"]["hint"],
        "the name already exists: pick another or update it"
    );

    let (both, _) = call(&client, "pdc_get_data_sources_by_ids", json!({"ids": ids})).await;
    assert_eq!(
        names(&both["data"], "resourceName"),
        ["orders-replica-eu", "clickstream-lake"]
    );

    let (_, err) = call(
        &client,
        "pdc_update_data_source",
        json!({"id": ids[0], "description": "EU read replica", "includePatterns": ["public.orders*"]}),
    )
    .await;
    assert!(!err);
    let (one, _) = call(&client, "pdc_get_data_source", json!({"id": ids[0]})).await;
    let ds = &one["data"];
    assert_eq!(ds["description"], "EU read replica");
    assert_eq!(ds["includePatterns"], json!(["public.orders*"]));
    assert_eq!(ds["host"], "pg-eu.internal", "attributes not sent are kept");
    assert_eq!(ds["port"], "5432");

    // A running job, polled until it completes.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let (job, _) = call(
            &client,
            "pdc_get_job_status",
            json!({"id": sandbox::pdc::JOB_INGEST_RUNNING}),
        )
        .await;
        statuses.push(job["status"].as_str().unwrap().to_string());
    }
    assert_eq!(statuses, ["RUNNING", "RUNNING", "COMPLETED"]);
    let (missing, err) = call(
        &client,
        "pdc_get_data_source",
        json!({"id": "9dc0da7a00000000000000ff"}),
    )
    .await;
    assert!(err);
    assert_eq!(missing["error"]["status"], 404);
    assert_eq!(missing["error"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn bigdata_flow() {
    let (_sb, client) = sandbox_client().await;
    let (list, err) = call(&client, "bigdata_list_connectors", json!({})).await;
    assert!(!err);
    assert_eq!(list["items"].as_array().unwrap().len(), 4);
    assert_eq!(list["total"], 4);

    let (created, err) = call(
        &client,
        "bigdata_create_connector",
        json!({"type": "investment_research", "label": "Broker B research", "description": "Morning notes",
            "share_with_org": true, "config": {"user_id": "broker-b-42", "user_password": SENTINEL}}),
    )
    .await;
    assert!(!err, "{created}");
    assert_eq!(created["config"], json!({"user_id": "broker-b-42"}));
    assert!(!created.to_string().contains(SENTINEL));
    let id = created["connector_id"].as_str().unwrap().to_string();

    // A label change alone keeps the description and sharing the PUT would otherwise reset.
    let (_, err) = call(
        &client,
        "bigdata_update_connector",
        json!({"connector_id": id, "label": "Broker B"}),
    )
    .await;
    assert!(!err);
    let (got, _) = call(
        &client,
        "bigdata_get_connector",
        json!({"connector_id": id}),
    )
    .await;
    assert_eq!(got["label"], "Broker B");
    assert_eq!(got["description"], "Morning notes");
    assert_eq!(got["share_with_org"], true);

    let (sync, err) = call(
        &client,
        "bigdata_sync_connector",
        json!({"connector_id": id, "date_limit": "2026-10-01"}),
    )
    .await;
    assert!(!err, "{sync}");
    assert_eq!(
        sync,
        json!({"connector_id": id, "status": "accepted", "date_limit": "2026-10-01"})
    );
    // The sync returned at once; its progress is the connector's last_sync_status, which the
    // list shows as the row's status.
    let (syncing, _) = call(
        &client,
        "bigdata_get_connector",
        json!({"connector_id": id}),
    )
    .await;
    assert_eq!(syncing["last_sync_status"], "PENDING");
    let (list, _) = call(&client, "bigdata_list_connectors", json!({})).await;
    let row = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .unwrap();
    assert_eq!(
        row,
        &json!({"id": id, "name": "Broker B", "type": "investment_research", "status": "syncing"})
    );
    let (no_date, err) = call(
        &client,
        "bigdata_sync_connector",
        json!({"connector_id": id}),
    )
    .await;
    assert!(err);
    assert_eq!(no_date["error"]["field"], "date_limit");

    let (sp, err) = call(
        &client,
        "bigdata_sync_connector",
        json!({"connector_id": sandbox::bigdata::RESEARCH_SHAREPOINT}),
    )
    .await;
    assert!(!err, "{sp}");
    assert_eq!(sp["status"], "accepted");
    let (email, err) = call(
        &client,
        "bigdata_sync_connector",
        json!({"connector_id": sandbox::bigdata::BROKER_RESEARCH_INBOX}),
    )
    .await;
    assert!(err);
    assert_eq!(email["error"]["field"], "connector_id");

    let (archived, err) = call(
        &client,
        "bigdata_delete_connector",
        json!({"connector_id": id}),
    )
    .await;
    assert!(!err);
    assert_eq!(archived["archived"], true);
    let (still, err) = call(
        &client,
        "bigdata_get_connector",
        json!({"connector_id": id}),
    )
    .await;
    assert!(!err, "archived, not gone");
    assert_eq!(still["archived"], true);
    let (gone, err) = call(
        &client,
        "bigdata_delete_connector",
        json!({"connector_id": id, "force_delete": true}),
    )
    .await;
    assert!(!err, "{gone}");
    assert_eq!(
        gone,
        json!({"connector_id": id, "status": "deletion_scheduled"})
    );
    let (after, err) = call(
        &client,
        "bigdata_get_connector",
        json!({"connector_id": id}),
    )
    .await;
    assert!(err);
    assert_eq!(after["error"]["status"], 404);
    assert_eq!(after["error"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn databrain_flow() {
    let (_sb, client) = sandbox_client().await;
    let (page1, _) = call(&client, "databrain_list_datasources", json!({"limit": 10})).await;
    assert_eq!(page1["items"].as_array().unwrap().len(), 10);
    assert_eq!(page1["total"], 12);
    assert_eq!(page1["next"], json!({"skip": 10, "limit": 10}));
    let (page2, _) = call(&client, "databrain_list_datasources", page1["next"].clone()).await;
    assert_eq!(
        names(&page2["items"], "name"),
        ["search-opensearch", "adhoc-trino"]
    );
    assert!(page2.get("next").is_none(), "the last page: {page2}");

    let mut pg = json!({"datasourceType": "postgres", "credentials": {"name": "orders-pg", "host": "orders.invalid",
        "port": 5432, "username": "dbn", "password": SENTINEL, "database": "orders", "schema": "public"}});
    let (failed, err) = call(&client, "databrain_create_datasource", pg.clone()).await;
    assert!(err);
    assert_eq!(failed["error"]["code"], "CREDENTIAL_TEST_FAILED");
    assert_eq!(
        failed["error"]["message"],
        "Connection test failed: getaddrinfo ENOTFOUND orders.invalid"
    );
    pg["credentials"]["host"] = json!("orders.db.example");
    let (created, err) = call(&client, "databrain_create_datasource", pg.clone()).await;
    assert!(!err, "{created}");
    assert_eq!(created, json!({"name": "orders-pg"}));
    let (dup, _) = call(&client, "databrain_create_datasource", pg.clone()).await;
    assert_eq!(dup["error"]["code"], "DATASOURCE_NAME_ERROR");
    let (all, _) = call(&client, "databrain_list_datasources", json!({})).await;
    assert!(names(&all["items"], "name").contains(&"orders-pg".to_string()));

    pg["credentials"]["port"] = json!(6432);
    let (_, err) = call(&client, "databrain_update_datasource", pg.clone()).await;
    assert!(!err);
    let (partial, _) = call(&client, "databrain_update_datasource", json!({"datasourceType": "postgres", "credentials": {"name": "orders-pg", "host": "h.example"}})).await;
    assert_eq!(partial["error"]["code"], "INVALID_REQUEST_BODY");

    let (synced, err) = call(
        &client,
        "databrain_sync_datasource",
        json!({"datasource_id": sandbox::databrain::SEEDED_IDS[0].1}),
    )
    .await;
    assert!(!err, "{synced}");
    assert_eq!(
        synced,
        json!({"data": {"message": "Sync completed"}, "connection": "works"})
    );
    let (unknown, _) = call(
        &client,
        "databrain_sync_datasource",
        json!({"datasource_id": "000000db-5eed-4000-8000-0000000000ff"}),
    )
    .await;
    assert_eq!(unknown["error"]["code"], "DATASOURCE_ID_ERROR");

    let (in_use, _) = call(
        &client,
        "databrain_delete_datasource",
        json!({"name": sandbox::databrain::IN_USE.0}),
    )
    .await;
    assert_eq!(in_use["error"]["code"], "DATASOURCE_IN_USE");
    let (deleted, err) = call(
        &client,
        "databrain_delete_datasource",
        json!({"name": "orders-pg"}),
    )
    .await;
    assert!(!err);
    assert_eq!(deleted["message"], "Datasource deleted successfully");
    let (again, _) = call(
        &client,
        "databrain_delete_datasource",
        json!({"name": "orders-pg"}),
    )
    .await;
    assert_eq!(again["error"]["code"], "DATASOURCE_NAME_ERROR");
}

/// The simulation and the tool agree on DataBrain's 18 types (each is written independently).
#[test]
fn databrain_types_match_the_simulation() {
    let tool = datasource_mcp::surfaces::definition::tool(
        datasource_mcp::providers::operation("databrain_create_datasource").unwrap(),
    );
    let enumerated: Vec<&str> = tool.input_schema["properties"]["datasourceType"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(enumerated, sandbox::databrain::DATASOURCE_TYPES);
}

/// PDC onboarding as an agent runs it: create → test the connection and wait → ingest the
/// metadata and wait; the jobs end up on the data source. A host that cannot be reached ends
/// the test FAILED.
#[tokio::test]
async fn pdc_onboarding_create_test_wait_ingest_wait() {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let mut vars = sb.env();
    vars.insert("DATASOURCE_MCP_SECRET_ORDERS_PG".into(), SENTINEL.into());
    let client = client_with(&vars, fast_settings()).await;
    let (created, err) = call(
        &client,
        "pdc_create_data_sources",
        json!({"data_sources": [{"resourceName": "orders-pg", "databaseType": "POSTGRES",
            "host": "pg.example.com", "port": 5432, "databaseName": "orders", "userName": "pdc",
            "password": "${secret:ORDERS_PG}", "schemaNames": ["public"]}]}),
    )
    .await;
    assert!(!err, "{created}");
    let id = created["data"][0]["_id"].as_str().unwrap().to_string();

    let (tested, err) = call(
        &client,
        "pdc_test_data_source_connection",
        json!({"id": id, "wait": true}),
    )
    .await;
    assert!(!err, "{tested}");
    assert_eq!(tested["status"], "COMPLETED", "{tested}");
    let (ingested, err) = call(
        &client,
        "pdc_ingest_metadata",
        json!({"id": id, "wait": true}),
    )
    .await;
    assert!(!err, "{ingested}");
    assert_eq!(ingested["status"], "COMPLETED", "{ingested}");

    let (source, _) = call(&client, "pdc_get_data_source", json!({"id": id})).await;
    // Given as a number, sent and stored as PDC takes it: a string.
    assert_eq!(source["data"]["port"], "5432");
    assert_eq!(source["data"]["lastTestConnectionId"], tested["job_id"]);
    assert_eq!(source["data"]["lastIngestId"], ingested["job_id"]);
    assert!(!source.to_string().contains(SENTINEL));

    let (bad, _) = call(
        &client,
        "pdc_create_data_sources",
        json!({"data_sources": [{"resourceName": "ghost-pg", "databaseType": "POSTGRES",
            "host": "db.invalid", "port": "5432", "userName": "pdc", "password": "x"}]}),
    )
    .await;
    let ghost = bad["data"][0]["_id"].as_str().unwrap();
    let (tested, err) = call(
        &client,
        "pdc_test_data_source_connection",
        json!({"id": ghost, "wait": true}),
    )
    .await;
    assert!(!err, "{tested}");
    assert_eq!(tested["status"], "FAILED", "{tested}");
}

/// BigID onboarding as an agent runs it, ending with a scan: the template → a test of the
/// candidate → the create's dry run, then the create → the scan's dry run, then the scan,
/// followed past the previous (none) to Completed → its counts, which the last-scan read and
/// the list repeat. A source whose host cannot be reached scans Failed, with the reason.
#[tokio::test]
async fn bigid_onboarding_template_test_create_scan_to_completed() {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let mut vars = sb.env();
    vars.insert(
        "DATASOURCE_MCP_SECRET_ORDERS_DB_PASSWORD".into(),
        SENTINEL.into(),
    );
    let client = client_with(&vars, fast_settings()).await;

    let (template, err) = call(
        &client,
        "bigid_get_connector_template",
        json!({"type": "rdb-mysql"}),
    )
    .await;
    assert!(!err, "{template}");
    let for_test: Vec<&str> = template["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["mandatoryForTest"] == true)
        .map(|f| f["apiName"].as_str().unwrap())
        .collect();
    assert_eq!(for_test, ["rdb_url", "username", "password"]);

    let ds = json!({"type": "rdb-mysql", "rdb_url": "orders-db.prod.example:3306",
        "username": "bigid_scan", "password": "${secret:ORDERS_DB_PASSWORD}"});
    let (test, err) = call(
        &client,
        "bigid_test_data_source_connection",
        json!({"ds_connection": ds}),
    )
    .await;
    assert!(!err, "{test}");
    assert_eq!(
        test,
        json!({"success": true, "message": "Connection to MySQL data source succeeded", "connection": "works"})
    );

    let mut ds = ds;
    ds["name"] = json!("Orders MySQL (EU)");
    ds["rdb_name"] = json!("orders");
    let (plan, err) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": ds, "dry_run": true}),
    )
    .await;
    assert!(!err, "{plan}");
    assert_eq!(plan["requests"][0]["method"], "POST");
    assert_eq!(
        plan["requests"][0]["body"]["ds_connection"]["password"],
        "${secret:ORDERS_DB_PASSWORD}"
    );
    let name = json!({"name": "Orders MySQL (EU)"});
    let (absent, _) = call(&client, "bigid_get_data_source", name.clone()).await;
    assert_eq!(
        absent["error"]["code"], "NOT_FOUND",
        "a dry run creates nothing"
    );
    let (created, err) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": ds}),
    )
    .await;
    assert!(!err, "{created}");
    assert!(!created.to_string().contains(SENTINEL));

    let (plan, err) = call(
        &client,
        "bigid_start_scan",
        json!({"name": "Orders MySQL (EU)", "wait": true, "dry_run": true}),
    )
    .await;
    assert!(!err, "{plan}");
    let planned: Vec<(&str, &str)> = plan["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["method"].as_str().unwrap(), r["url"].as_str().unwrap()))
        .collect();
    let base = &sb.vendors[0].base_url;
    let scan_url = format!("{base}/ds-connections/Orders%20MySQL%20%28EU%29/scan");
    assert_eq!(
        planned,
        [
            ("GET", scan_url.as_str()),
            (
                "POST",
                format!("{scan_url}?isSampleScan=false&scanType=dsScan&autoAssumeScanType=false")
                    .as_str()
            )
        ]
    );
    let (none, _) = call(&client, "bigid_get_scan_status", name.clone()).await;
    assert_eq!(none["status"], "no scan found", "a dry run starts nothing");

    let (scanned, err) = call(
        &client,
        "bigid_start_scan",
        json!({"name": "Orders MySQL (EU)", "wait": true}),
    )
    .await;
    assert!(!err, "{scanned}");
    assert_eq!(scanned["job_id"], "Orders MySQL (EU)");
    assert_eq!(scanned["status"], "Completed", "{scanned}");
    assert_eq!(scanned["scan_type"], "dsScan");
    assert_eq!(scanned["counts"], json!({"objects": 28, "findings": 84}));
    assert!(scanned.get("failure").is_none());

    let (last, err) = call(&client, "bigid_get_scan_status", name).await;
    assert!(!err);
    assert_eq!(last["status"], "Completed");
    assert_eq!(last["finished"], true);
    assert_eq!(last["scan_id"], scanned["scan_id"]);
    assert_eq!(last["counts"], scanned["counts"]);
    let (listing, _) = call(
        &client,
        "bigid_list_data_sources",
        json!({"fields": ["name", "connectionStatusScan.num_of_object"]}),
    )
    .await;
    let row = listing["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Orders MySQL (EU)")
        .unwrap()
        .clone();
    assert_eq!(row["connectionStatusScan.num_of_object"], 28, "{row}");

    // A host that cannot be reached: the scan ends Failed, with BigID's reason.
    let (_, err) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": {"name": "Ghost DB", "type": "rdb-mysql",
            "rdb_url": "ghost.invalid:3306", "username": "u", "password": "${secret:ORDERS_DB_PASSWORD}"}}),
    )
    .await;
    assert!(!err);
    let (failed, err) = call(
        &client,
        "bigid_start_scan",
        json!({"name": "Ghost DB", "wait": true}),
    )
    .await;
    assert!(!err, "{failed}");
    assert_eq!(failed["status"], "Failed");
    assert_eq!(
        failed["failure"],
        "Scan failed: getaddrinfo ENOTFOUND ghost.invalid"
    );
    assert_eq!(failed["counts"], json!({"objects": 0}));
}
