//! Answers that save the next call, on the sandbox through MCP: a name pattern on every
//! platform's list, the closest names when a name finds nothing, a create's dry run that warns
//! of a look-alike already there and proposes a missing name.

use crate::support::*;
use datasource_mcp::sandbox::Sandbox;
use datasource_mcp::upstream::UpstreamSettings;
use serde_json::{Value, json};

async fn agent() -> (Sandbox, Client) {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let mut vars = sb.env();
    vars.insert(
        "DATASOURCE_MCP_SECRET_SALES_PW".into(),
        "sales-pw-7d1e".into(),
    );
    let client = client_with(&vars, UpstreamSettings::default()).await;
    (sb, client)
}

fn names(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect()
}

/// Every platform's list takes the inventory's `name` pattern (`*` wildcards, any case), its
/// total counting the matches, its `next` keeping the pattern.
#[tokio::test]
async fn every_platform_list_takes_a_name_pattern() {
    let (_sb, client) = agent().await;
    for (tool, pattern, want) in [
        ("bigid_list_data_sources", "*SQL*", vec!["Orders MySQL"]),
        (
            "pdc_filter_data_sources",
            "prod-postgres-*",
            vec!["prod-postgres-primary", "prod-postgres-replica"],
        ),
        (
            "bigdata_list_connectors",
            "broker research*",
            vec!["Broker Research Inbox", "Broker Research - Daily Reports"],
        ),
        (
            "databrain_list_datasources",
            "*-mysql",
            vec!["orders-mysql"],
        ),
    ] {
        let (page, err) = call(&client, tool, json!({"name": pattern})).await;
        assert!(!err, "{tool}: {page}");
        assert_eq!(names(&page), want, "{tool}");
        assert_eq!(page["total"], want.len(), "{tool}: {page}");
    }
    // Paged: the next page keeps the pattern.
    let (first, _) = call(
        &client,
        "pdc_filter_data_sources",
        json!({"name": "prod-*", "limit": 2}),
    )
    .await;
    assert_eq!(first["total"], 4, "{first}");
    assert_eq!(
        first["next"],
        json!({"name": "prod-*", "limit": 2, "skip": 2})
    );
    let (second, _) = call(&client, "pdc_filter_data_sources", first["next"].clone()).await;
    assert_eq!(
        names(&second),
        ["prod-mysql-orders", "prod-redshift"],
        "{second}"
    );
    // A blank pattern is refused, naming the field, before anything is sent.
    let (refused, err) = call(&client, "bigid_list_data_sources", json!({"name": " "})).await;
    assert!(err);
    assert_eq!(refused["error"]["field"], "name", "{refused}");
}

/// A name that finds nothing: the answer names the closest existing names (case, spaces and
/// punctuation aside, then a few edits); a name like none gets no guess.
#[tokio::test]
async fn a_name_that_finds_nothing_names_the_closest() {
    let (_sb, client) = agent().await;
    for (tool, asked, want) in [
        (
            "bigid_get_data_source",
            "orders mysql",
            json!(["Orders MySQL"]),
        ),
        (
            "bigid_get_scan_status",
            "Finance-Snowflake",
            json!(["Finance Snowflake"]),
        ),
        (
            "bigid_test_stored_data_source",
            "Orders MySLQ",
            json!(["Orders MySQL"]),
        ),
    ] {
        let (answer, err) = call(&client, tool, json!({"name": asked})).await;
        assert!(err, "{tool}: {answer}");
        assert_eq!(answer["error"]["code"], "NOT_FOUND", "{tool}: {answer}");
        assert_eq!(answer["error"]["closest"], want, "{tool}: {answer}");
        assert!(
            answer["error"]["hint"]
                .as_str()
                .unwrap()
                .contains(want[0].as_str().unwrap()),
            "{answer}"
        );
    }
    let (answer, err) = call(
        &client,
        "bigid_get_data_source",
        json!({"name": "Payroll Oracle"}),
    )
    .await;
    assert!(err);
    assert_eq!(answer["error"]["code"], "NOT_FOUND");
    assert!(answer["error"].get("closest").is_none(), "{answer}");
}

/// A create's dry run warns of a look-alike already at the vendor: the same name but for case
/// or punctuation, or the same host and database. It still sends nothing.
#[tokio::test]
async fn a_create_dry_run_warns_of_a_look_alike() {
    let (_sb, client) = agent().await;
    let (plan, err) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": {"name": "orders_mysql", "type": "rdb-mysql",
            "rdb_url": "db.elsewhere.example:3306", "rdb_name": "sales"}, "dry_run": true}),
    )
    .await;
    assert!(!err, "{plan}");
    assert_eq!(
        plan["warnings"],
        json!([{"name": "orders_mysql", "existing": "Orders MySQL", "id": "Orders MySQL",
            "why": "the same name but for case, spaces or punctuation"}])
    );
    let (plan, err) = call(
        &client,
        "pdc_create_data_sources",
        json!({"data_sources": [
            {"resourceName": "orders-db", "databaseType": "POSTGRES",
             "host": "PG-PRIMARY.prod.acme.example", "databaseName": "orders"},
            {"resourceName": "brand-new", "databaseType": "MYSQL", "host": "new.example"}],
            "dry_run": true}),
    )
    .await;
    assert!(!err, "{plan}");
    assert_eq!(
        plan["warnings"],
        json!([{"name": "orders-db", "existing": "prod-postgres-primary",
            "id": "9dc0da7a0000000000000001", "why": "the same host and database"}])
    );
    // Nothing was made.
    let (listed, _) = call(
        &client,
        "pdc_filter_data_sources",
        json!({"name": "orders-db"}),
    )
    .await;
    assert_eq!(listed["total"], 0, "{listed}");
    // A create like nothing there: no warnings at all.
    let (plan, _) = call(
        &client,
        "bigdata_create_connector",
        json!({"type": "email", "label": "Compliance inbox",
            "config": {"allowed_emails": ["a@broker.example"]}, "dry_run": true}),
    )
    .await;
    assert!(plan.get("warnings").is_none(), "{plan}");
}

/// A create without its name: the error names the field and proposes a name from what the
/// entry connects to, for the user to accept or change.
#[tokio::test]
async fn a_create_without_a_name_gets_one_proposed() {
    let (_sb, client) = agent().await;
    for (tool, args, field, proposed) in [
        (
            "bigid_create_data_source",
            json!({"ds_connection": {"type": "rdb-mysql", "rdb_url": "mysql.sales.acme.example:3306",
                "rdb_name": "sales"}, "dry_run": true}),
            "ds_connection.name",
            "sales-mysql-rdb-mysql",
        ),
        (
            "pdc_create_data_sources",
            json!({"data_sources": [{"resourceName": "a", "databaseType": "MYSQL"},
                {"databaseType": "POSTGRES", "host": "pg.sales.example", "databaseName": "sales"}]}),
            "data_sources[1].resourceName",
            "sales-pg-postgres",
        ),
        (
            "bigdata_create_connector",
            json!({"type": "email", "config": {"allowed_emails": ["a@b.example"]}}),
            "label",
            "email-connector",
        ),
        (
            "databrain_create_datasource",
            json!({"datasourceType": "postgres",
                "credentials": {"host": "db.acme.example", "database": "orders"}}),
            "credentials.name",
            "orders-db-postgres",
        ),
    ] {
        let (answer, err) = call(&client, tool, args).await;
        assert!(err, "{tool}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{tool}: {answer}");
        assert_eq!(answer["error"]["proposed"], proposed, "{tool}: {answer}");
    }
}

/// A create's dry run names the connection fields the type's template needs that the entry
/// lacks (BigID's `mandatory` and `mandatoryForTest`), and none once they are there.
#[tokio::test]
async fn a_create_dry_run_names_the_fields_the_type_needs() {
    let (_sb, client) = agent().await;
    let (plan, err) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": {"name": "sales", "type": "rdb-mysql", "rdb_url": "db.sales.example:3306"},
            "dry_run": true}),
    )
    .await;
    assert!(!err, "{plan}");
    assert_eq!(
        plan["missing"],
        json!([
            {"field": "ds_connection.username", "why": "BigID refuses a create without it (mandatory)"},
            {"field": "ds_connection.password", "why": "BigID refuses a create without it (mandatory)"}
        ])
    );
    let (plan, err) = call(
        &client,
        "bigid_create_data_source",
        json!({"ds_connection": {"name": "sales", "type": "rdb-mysql", "rdb_url": "db.sales.example:3306",
            "username": "scan", "password": "${secret:SALES_PW}"}, "dry_run": true}),
    )
    .await;
    assert!(!err, "{plan}");
    assert!(plan.get("missing").is_none(), "{plan}");
}
