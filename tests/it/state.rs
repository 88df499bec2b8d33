//! Many sources at once: a desired-state file planned, applied and planned again to nothing
//! (over MCP and through the CLI's separate processes sharing one sandbox), an apply faulted
//! midway that resumes to the same end without a duplicate, an export applied to a new tenant,
//! a plan bound to the state it was made from, secrets asked for before the first change, and
//! one call that tests many stored sources.

use std::collections::{BTreeMap, HashMap};
use std::process::Output;
use std::sync::Arc;

use datasource_mcp::engine::EngineSettings;
use datasource_mcp::engine::audit::AuditLog;
use datasource_mcp::engine::state::document::to_yaml;
use datasource_mcp::operation::Provider;
use datasource_mcp::sandbox::{Sandbox, Seed};
use datasource_mcp::surfaces::server::Selection;
use datasource_mcp::upstream::UpstreamSettings;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

/// The secrets the forty sources reference, and their values.
const SECRETS: [(&str, &str); 3] = [
    (
        "DATASOURCE_MCP_SECRET_ORDERS_MYSQL_PASSWORD",
        "pw-orders-mysql-5b1e0c",
    ),
    (
        "DATASOURCE_MCP_SECRET_ORDERS_PG_PASSWORD",
        "pw-orders-pg-77d2aa",
    ),
    (
        "DATASOURCE_MCP_SECRET_ANALYTICS_PG_PASSWORD",
        "pw-analytics-pg-0c9e41",
    ),
];

/// `n` sources per platform, from `from` on: BigID MySQL, PDC Postgres, Bigdata.com email
/// connectors, DataBrain Postgres, each in the vendor's own fields.
fn sources(from: usize, n: usize) -> Value {
    let range = from..from + n;
    json!({
        "version": 1,
        "bigid": {"data_sources": range.clone().map(|i| json!({
            "name": format!("orders-mysql-{i:02}"), "type": "rdb-mysql",
            "rdb_url": format!("mysql{i:02}.corp.example:3306"), "rdb_name": format!("orders{i:02}"),
            "username": "bigid_scan", "password": "${secret:ORDERS_MYSQL_PASSWORD}", "enabled": "yes"}))
            .collect::<Vec<_>>()},
        "pdc": {"data_sources": range.clone().map(|i| json!({
            "resourceName": format!("orders-pg-{i:02}"), "databaseType": "POSTGRES",
            "host": format!("pg{i:02}.corp.example"), "port": "5432",
            "databaseName": format!("orders{i:02}"), "userName": "pdc",
            "password": "${secret:ORDERS_PG_PASSWORD}"}))
            .collect::<Vec<_>>()},
        "bigdata": {"connectors": range.clone().map(|i| json!({
            "type": "email", "label": format!("Research inbox {i:02}"),
            "config": {"allowed_emails": [format!("desk{i:02}@broker.example")]}}))
            .collect::<Vec<_>>()},
        "databrain": {"datasources": range.map(|i| json!({
            "datasourceType": "postgres",
            "credentials": {"name": format!("analytics-pg-{i:02}"), "host": format!("pg{i:02}.corp.example"),
                "port": 5432, "username": "databrain", "password": "${secret:ANALYTICS_PG_PASSWORD}",
                "database": format!("analytics{i:02}"), "schema": "public"}}))
            .collect::<Vec<_>>()},
    })
}

async fn sandbox(seed: Seed) -> Sandbox {
    Sandbox::start_with(([127, 0, 0, 1], 0).into(), seed)
        .await
        .unwrap()
}

/// The sandbox's variables (base URLs through `proxy` when given) and the secrets.
fn vars_for(sb: &Sandbox, proxy: Option<&FaultyProxy>) -> HashMap<String, String> {
    let mut vars = sb.env();
    if let Some(proxy) = proxy {
        for vendor in &sb.vendors {
            vars.insert(
                vendor.provider.spec().base_url_var.to_string(),
                proxy.rebase(&vendor.base_url),
            );
        }
    }
    vars.extend(SECRETS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    vars
}

/// The names each vendor holds, straight from its API (sorted; a duplicate shows twice).
async fn names_at(sb: &Sandbox) -> BTreeMap<&'static str, Vec<String>> {
    let mut out = BTreeMap::new();
    for (provider, method, path, body, list, name) in [
        (
            Provider::BigId,
            Method::GET,
            "/ds-connections",
            None,
            "/data/ds_connections",
            "name",
        ),
        (
            Provider::Pdc,
            Method::POST,
            "/data-sources/filter?limit=10000",
            Some(json!({"filters": {"resourceNames": ["*"]}})),
            "/data",
            "resourceName",
        ),
        (
            Provider::Bigdata,
            Method::GET,
            "",
            None,
            "/results",
            "label",
        ),
        (Provider::DataBrain, Method::GET, "", None, "/data", "name"),
    ] {
        let api = SandboxApi::new(sb, provider).await;
        let (status, answer) = api.send(method, path, body).await;
        assert_eq!(status, 200, "{answer}");
        let mut names: Vec<String> = answer
            .pointer(list)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{answer}"))
            .iter()
            .filter(|item| item["archived"] != true)
            .map(|item| item[name].as_str().unwrap().to_string())
            .collect();
        names.sort();
        out.insert(provider.id(), names);
    }
    out
}

fn expected_names(from: usize, n: usize) -> BTreeMap<&'static str, Vec<String>> {
    let names = |f: &dyn Fn(usize) -> String| (from..from + n).map(f).collect::<Vec<_>>();
    BTreeMap::from([
        ("bigid", names(&|i| format!("orders-mysql-{i:02}"))),
        ("pdc", names(&|i| format!("orders-pg-{i:02}"))),
        ("bigdata", names(&|i| format!("Research inbox {i:02}"))),
        ("databrain", names(&|i| format!("analytics-pg-{i:02}"))),
    ])
}

async fn plan(client: &Client, desired: Value) -> Value {
    let (plan, is_error) = call(
        client,
        "inventory_plan_changes",
        json!({"desired": desired}),
    )
    .await;
    assert!(!is_error, "{plan}");
    plan
}

async fn apply(client: &Client, plan: &Value, on_failure: &str) -> Value {
    let (applied, is_error) = call(
        client,
        "inventory_apply_plan",
        json!({"plan_id": plan["plan_id"], "on_failure": on_failure}),
    )
    .await;
    assert!(!is_error, "{applied}");
    applied
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dsmcp-state-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn forty_sources_across_four_platforms_plan_apply_and_plan_again_to_nothing() {
    let sb = sandbox(Seed::Empty).await;
    let dir = temp("forty");
    let audit = dir.join("audit.jsonl");
    let settings = EngineSettings {
        upstream: UpstreamSettings::default(),
        max_result_bytes: 256 * 1024,
        audit: Some(Arc::new(AuditLog::open(audit.to_str().unwrap()).unwrap())),
    };
    let client = client_selected(&vars_for(&sb, None), settings, &Selection::default()).await;
    let desired = sources(0, 10);

    let first = plan(&client, desired.clone()).await;
    assert_eq!(first["summary"], json!({"create": 40}));
    assert_eq!(first["changes_anything"], true);
    let changes = first["changes"].as_array().unwrap();
    // Each change is the call its tool makes, credentials as references.
    let bigid = changes
        .iter()
        .find(|c| c["key"] == "orders-mysql-03")
        .unwrap();
    assert_eq!(
        bigid,
        &json!({"provider": "bigid", "key": "orders-mysql-03", "action": "create",
            "tool": "bigid_create_data_source", "args": {"ds_connection": desired["bigid"]["data_sources"][3]}})
    );
    let pdc = changes.iter().find(|c| c["key"] == "orders-pg-07").unwrap();
    assert_eq!(
        pdc["args"],
        json!({"data_sources": [desired["pdc"]["data_sources"][7]]})
    );
    assert!(!first.to_string().contains("pw-"), "no secret in a plan");

    // The dry run lists the calls and sends none.
    let (dry, _) = call(
        &client,
        "inventory_apply_plan",
        json!({"plan_id": first["plan_id"], "dry_run": true}),
    )
    .await;
    assert_eq!(dry["calls"].as_array().unwrap().len(), 40);
    assert_eq!(dry["calls"][0]["tool"], "bigdata_create_connector");
    assert!(names_at(&sb).await.values().all(Vec::is_empty));

    let started = std::time::Instant::now();
    let applied = apply(&client, &first, "stop").await;
    let took = started.elapsed();
    assert_eq!(applied["applied"], true, "{applied}");
    assert_eq!(applied["summary"], json!({"done": 40}));
    assert!(
        applied["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["result"] == "done")
    );
    assert_eq!(names_at(&sb).await, expected_names(0, 10));
    eprintln!("forty sources applied over MCP in {took:?}");

    // Nothing left to do: what exists is compared (DataBrain shows names only: kept).
    let again = plan(&client, desired.clone()).await;
    assert_eq!(again["summary"], json!({"unchanged": 30, "kept": 10}));
    assert_eq!(again["changes_anything"], false);

    // A plan is used once.
    let (twice, is_error) = call(
        &client,
        "inventory_apply_plan",
        json!({"plan_id": first["plan_id"]}),
    )
    .await;
    assert!(is_error);
    assert_eq!(twice["error"]["field"], "plan_id");

    // The audit log: a line per change made, and the apply itself; never a secret.
    let log = std::fs::read_to_string(&audit).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut tools: BTreeMap<String, usize> = BTreeMap::new();
    for line in &lines {
        *tools
            .entry(line["tool"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(
        tools,
        BTreeMap::from([
            ("bigdata_create_connector".to_string(), 10),
            ("bigid_create_data_source".to_string(), 10),
            ("databrain_create_datasource".to_string(), 10),
            ("inventory_apply_plan".to_string(), 3),
            ("pdc_create_data_sources".to_string(), 10),
        ]),
        "{log}"
    );
    for (_, value) in SECRETS {
        assert!(!log.contains(value));
    }
}

#[tokio::test]
async fn an_apply_faulted_midway_resumes_to_the_same_end_without_a_duplicate() {
    let sb = sandbox(Seed::Empty).await;
    let proxy = FaultyProxy::start(sb.url()).await;
    // A create the vendor makes but whose answer is lost, and a 503 that it never sees, on
    // every platform, midway.
    // (Rules on one path act in turn: the second counts from after the first.)
    proxy.fault(
        "POST",
        "/bigid/api/v1/ds_connections",
        3,
        1,
        Fault::LoseAnswer,
    );
    proxy.fault(
        "POST",
        "/bigid/api/v1/ds_connections",
        2,
        1,
        Fault::Unavailable,
    );
    proxy.fault(
        "POST",
        "/pdc/api/public/v1/data-sources",
        4,
        1,
        Fault::LoseAnswer,
    );
    proxy.fault(
        "POST",
        "/pdc/api/public/v1/data-sources",
        1,
        1,
        Fault::Unavailable,
    );
    proxy.fault(
        "POST",
        "/bigdata/contents/v1/connectors",
        2,
        1,
        Fault::LoseAnswer,
    );
    proxy.fault(
        "POST",
        "/bigdata/contents/v1/connectors",
        2,
        1,
        Fault::Unavailable,
    );
    proxy.fault(
        "POST",
        "/databrain/api/v2/datasource",
        0,
        1,
        Fault::Unavailable,
    );
    proxy.fault(
        "POST",
        "/databrain/api/v2/datasource",
        3,
        1,
        Fault::LoseAnswer,
    );
    let client = client_selected(
        &vars_for(&sb, Some(&proxy)),
        UpstreamSettings::default(),
        &Selection::default(),
    )
    .await;
    let desired = sources(0, 10);

    let first = plan(&client, desired.clone()).await;
    let applied = apply(&client, &first, "continue").await;
    assert_eq!(proxy.injected(), 8, "every fault hit: {:#?}", proxy.seen());
    // A lost answer is looked up: the source exists, so it is done. A 503 fails, with the
    // vendor's reason, and the rest go on.
    assert_eq!(
        applied["summary"],
        json!({"done": 36, "failed": 4}),
        "{applied}"
    );
    let failed: Vec<&Value> = applied["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["result"] == "failed")
        .collect();
    assert_eq!(failed.len(), 4);
    for f in &failed {
        assert_eq!(f["error"]["status"], 503, "{f}");
    }

    // Planned again: only what failed; applied: the same end as without faults.
    let second = plan(&client, desired.clone()).await;
    assert_eq!(
        second["summary"],
        json!({"create": 4, "unchanged": 27, "kept": 9}),
        "{second}"
    );
    let applied = apply(&client, &second, "stop").await;
    assert_eq!(
        applied["summary"],
        json!({"done": 4, "unchanged": 36}),
        "{applied}"
    );
    let third = plan(&client, desired).await;
    assert_eq!(third["changes_anything"], false, "{third}");
    assert_eq!(
        names_at(&sb).await,
        expected_names(0, 10),
        "no duplicate, none missing"
    );
    // Each source was created once: 40 creates reached the vendors (the 503s never did).
    let creates = proxy.reached("POST", "/ds_connections")
        + proxy.reached("POST", "/data-sources")
        + proxy.reached("POST", "/contents/v1/connectors")
        + proxy.reached("POST", "/api/v2/datasource");
    assert_eq!(creates, 40);
}

#[tokio::test]
async fn with_on_failure_stop_the_rest_is_skipped_and_a_second_apply_finishes() {
    let sb = sandbox(Seed::Empty).await;
    let proxy = FaultyProxy::start(sb.url()).await;
    proxy.fault(
        "POST",
        "/pdc/api/public/v1/data-sources",
        0,
        1,
        Fault::Unavailable,
    );
    let client = client_selected(
        &vars_for(&sb, Some(&proxy)),
        UpstreamSettings::default(),
        &Selection::default(),
    )
    .await;
    let desired = sources(0, 10);
    let first = plan(&client, desired.clone()).await;
    let applied = apply(&client, &first, "stop").await;
    let summary = &applied["summary"];
    assert_eq!(summary["failed"], 1, "{applied}");
    assert!(summary["skipped"].as_u64().unwrap() > 0, "{applied}");
    let made = summary["done"].as_u64().unwrap_or(0);
    assert_eq!(made + summary["skipped"].as_u64().unwrap() + 1, 40);
    let second = plan(&client, desired.clone()).await;
    assert_eq!(second["summary"]["create"].as_u64().unwrap(), 40 - made);
    apply(&client, &second, "stop").await;
    assert_eq!(plan(&client, desired).await["changes_anything"], false);
    assert_eq!(names_at(&sb).await, expected_names(0, 10));
}

#[tokio::test]
async fn an_export_applied_to_a_new_tenant_reproduces_it_and_changes_nothing_at_home() {
    let home = sandbox(Seed::Sample).await;
    let client = client_selected(
        &vars_for(&home, None),
        UpstreamSettings::default(),
        &Selection::default(),
    )
    .await;
    let (exported, is_error) = call(&client, "inventory_export_state", json!({})).await;
    assert!(!is_error, "{exported}");
    assert_eq!(exported["errors"], json!([]));
    let document = exported["desired"].clone();
    // Credentials are references named after source and field.
    let text = document.to_string();
    assert!(
        text.contains("${secret:BIGID_FINANCE_SNOWFLAKE_PASSWORD}"),
        "{text}"
    );
    assert!(
        text.contains("${secret:PDC_FINANCE_ORACLE_PASSWORD}"),
        "{text}"
    );
    // At home, nothing to do.
    let at_home = plan(&client, document.clone()).await;
    assert_eq!(at_home["changes_anything"], false, "{at_home}");

    // A new tenant, with a value for every reference the export names.
    let new = sandbox(Seed::Empty).await;
    let mut vars = vars_for(&new, None);
    let mut rest = text.as_str();
    while let Some(at) = rest.find("${secret:") {
        let name: String = rest[at + 9..].chars().take_while(|c| *c != '}').collect();
        vars.insert(
            format!("DATASOURCE_MCP_SECRET_{name}"),
            format!("value-of-{name}"),
        );
        rest = &rest[at + 9..];
    }
    let there = client_selected(&vars, UpstreamSettings::default(), &Selection::default()).await;
    let planned = plan(&there, document.clone()).await;
    // DataBrain's datasources come as names: they cannot be created from the export (and
    // Bigdata.com's archived connector is not exported: it is deleted).
    assert_eq!(
        planned["summary"],
        json!({"create": 20, "cannot_make": 12}),
        "{planned}"
    );
    let applied = apply(&there, &planned, "stop").await;
    assert_eq!(
        applied["summary"],
        json!({"done": 20, "not_made": 12}),
        "{applied}"
    );
    let (reexported, _) = call(
        &there,
        "inventory_export_state",
        json!({"providers": ["bigid", "pdc", "bigdata"]}),
    )
    .await;
    for platform in ["bigid", "pdc", "bigdata"] {
        assert_eq!(
            reexported["desired"][platform], document[platform],
            "{platform}"
        );
    }
    let again = plan(&there, reexported["desired"].clone()).await;
    assert_eq!(again["changes_anything"], false);
}

#[tokio::test]
async fn a_plan_is_refused_once_the_state_it_was_made_from_changed() {
    let sb = sandbox(Seed::Empty).await;
    let client = client_selected(
        &vars_for(&sb, None),
        UpstreamSettings::default(),
        &Selection::default(),
    )
    .await;
    let desired = sources(0, 2);
    apply(&client, &plan(&client, desired.clone()).await, "stop").await;
    let mut changed = desired.clone();
    changed["bigdata"]["connectors"][0]["config"]["allowed_emails"] = json!(["new@broker.example"]);
    changed["bigdata"]["connectors"][1]["label"] = json!("Research inbox 99");
    let stale = plan(&client, changed.clone()).await;
    assert_eq!(
        stale["summary"],
        json!({"create": 1, "update": 1, "unchanged": 4, "kept": 2})
    );
    let update = stale["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "update")
        .unwrap();
    assert_eq!(
        update["fields"],
        json!([{"field": "config.allowed_emails", "from": ["desk00@broker.example"], "to": ["new@broker.example"]}])
    );
    // Someone changes a source the plan compared, and creates one it would create.
    let (_, is_error) = call(
        &client,
        "bigid_update_data_source",
        json!({"name": "orders-mysql-01", "changes": {"rdb_name": "elsewhere"}}),
    )
    .await;
    assert!(!is_error);
    let (_, is_error) = call(&client, "bigdata_create_connector", json!({"type": "email", "label": "Research inbox 99", "config": {"allowed_emails": ["x@broker.example"]}})).await;
    assert!(!is_error);
    let refused = apply(&client, &stale, "stop").await;
    assert_eq!(refused["applied"], false);
    assert_eq!(
        refused["refused"],
        "what the vendors hold changed since the plan (bigdata:research inbox 99 now exists; bigid:orders-mysql-01 was changed): plan again"
    );
    // Nothing was made.
    let names = names_at(&sb).await;
    assert_eq!(names["bigdata"].len(), 3);
}

#[tokio::test]
async fn every_missing_secret_is_asked_for_before_the_first_change() {
    let sb = sandbox(Seed::Empty).await;
    let client = client_selected(
        &sb.env(),
        UpstreamSettings::default(),
        &Selection::default(),
    )
    .await;
    let first = plan(&client, sources(0, 2)).await;
    let (refused, is_error) = call(
        &client,
        "inventory_apply_plan",
        json!({"plan_id": first["plan_id"]}),
    )
    .await;
    assert!(!is_error);
    assert_eq!(refused["applied"], false);
    assert_eq!(
        refused["missing"],
        json!([
            {"name": "ORDERS_MYSQL_PASSWORD", "for": ["bigid:orders-mysql-00", "bigid:orders-mysql-01"], "set": "DATASOURCE_MCP_SECRET_ORDERS_MYSQL_PASSWORD"},
            {"name": "ANALYTICS_PG_PASSWORD", "for": ["databrain:analytics-pg-00", "databrain:analytics-pg-01"], "set": "DATASOURCE_MCP_SECRET_ANALYTICS_PG_PASSWORD"},
            {"name": "ORDERS_PG_PASSWORD", "for": ["pdc:orders-pg-00", "pdc:orders-pg-01"], "set": "DATASOURCE_MCP_SECRET_ORDERS_PG_PASSWORD"},
        ])
    );
    // Nothing was sent, and the plan stays for when the values are there.
    assert!(names_at(&sb).await.values().all(Vec::is_empty));
    let (dry, _) = call(
        &client,
        "inventory_apply_plan",
        json!({"plan_id": first["plan_id"], "dry_run": true}),
    )
    .await;
    assert_eq!(dry["calls"].as_array().unwrap().len(), 8);
}

#[tokio::test]
async fn read_only_and_toolsets_bound_what_an_apply_may_change() {
    let sb = sandbox(Seed::Empty).await;
    let vars = vars_for(&sb, None);
    let read_only = Selection::parse(true, None, None).unwrap();
    let client = client_selected(&vars, UpstreamSettings::default(), &read_only).await;
    let (plan_only, _) = call(
        &client,
        "inventory_plan_changes",
        json!({"desired": sources(0, 1)}),
    )
    .await;
    // Planned, but marked: nothing a read-only server could apply.
    assert_eq!(
        plan_only["summary"],
        json!({"cannot_make": 4}),
        "{plan_only}"
    );
    let err = call_raw(
        &client,
        "inventory_apply_plan",
        json!({"plan_id": plan_only["plan_id"]}),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("inventory_apply_plan"), "{err}");

    let bigid_only = Selection::parse(false, Some("bigid,inventory"), None).unwrap();
    let client = client_selected(&vars, UpstreamSettings::default(), &bigid_only).await;
    let planned = plan(&client, sources(0, 1)).await;
    assert_eq!(
        planned["summary"],
        json!({"create": 1, "cannot_make": 3}),
        "{planned}"
    );
    let note = planned["changes"][0]["note"].as_str().unwrap();
    assert_eq!(
        note,
        "not offered here: bigdata_create_connector (read-only mode or --toolsets)"
    );
    let applied = apply(&client, &planned, "continue").await;
    assert_eq!(
        applied["summary"],
        json!({"done": 1, "not_made": 3}),
        "{applied}"
    );
    let names = names_at(&sb).await;
    assert_eq!(names["bigid"], ["orders-mysql-00"]);
    assert!(
        names["pdc"].is_empty() && names["bigdata"].is_empty() && names["databrain"].is_empty()
    );
}

#[tokio::test]
async fn one_call_tests_many_stored_sources() {
    let sb = sandbox(Seed::Sample).await;
    let client = client_selected(
        &vars_for(&sb, None),
        UpstreamSettings::default(),
        &Selection::default(),
    )
    .await;
    let args = json!({"providers": ["pdc"], "type": "POSTGRES", "name": "*-postgres*"});
    let mut dry = args.clone();
    dry["dry_run"] = json!(true);
    let (planned, is_error) = call(&client, "inventory_test_data_sources", dry).await;
    assert!(!is_error, "{planned}");
    assert_eq!(
        planned["tests"],
        json!([
            {"provider": "pdc", "id": "9dc0da7a0000000000000001", "name": "prod-postgres-primary", "type": "POSTGRES",
             "host": "pg-primary.prod.acme.example", "port": 5432, "database": "orders",
             "tool": "pdc_test_data_source_connection", "arguments": {"id": "9dc0da7a0000000000000001", "wait": true}},
            {"provider": "pdc", "id": "9dc0da7a0000000000000002", "name": "prod-postgres-replica", "type": "POSTGRES",
             "host": "pg-replica.prod.acme.example", "port": 5432, "database": "orders",
             "tool": "pdc_test_data_source_connection", "arguments": {"id": "9dc0da7a0000000000000002", "wait": true}},
            {"provider": "pdc", "id": "9dc0da7a0000000000000004", "name": "staging-postgres", "type": "POSTGRES",
             "host": "pg.staging.acme.example", "port": 5432, "database": "orders_staging",
             "tool": "pdc_test_data_source_connection", "arguments": {"id": "9dc0da7a0000000000000004", "wait": true}},
        ])
    );
    let (tested, is_error) = call(&client, "inventory_test_data_sources", args).await;
    assert!(!is_error, "{tested}");
    let outcomes: Vec<(&str, &str)> = tested["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["connection"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("prod-postgres-primary", "works"),
            ("prod-postgres-replica", "works"),
            ("staging-postgres", "works")
        ]
    );
    // The rows carry what people know a database by.
    let (found, _) = call(
        &client,
        "inventory_list_data_sources",
        json!({"database": "orders*", "count_by": "provider"}),
    )
    .await;
    assert_eq!(found["counts"], json!({"bigid": 1, "pdc": 4}), "{found}");
    assert_eq!(found["total"], 5);
    let (by_host, _) = call(
        &client,
        "inventory_list_data_sources",
        json!({"host": "*.prod.acme.example"}),
    )
    .await;
    let names: Vec<&str> = by_host["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "prod-postgres-primary",
            "prod-postgres-replica",
            "prod-mysql-orders"
        ]
    );
}

// ---- the CLI: separate processes, one sandbox ---------------------------------------------------

/// `datasource-mcp sandbox --empty` on an ephemeral port, and the variables it prints.
struct SandboxProcess {
    _child: tokio::process::Child,
    vars: Vec<(String, String)>,
}

impl SandboxProcess {
    async fn start() -> SandboxProcess {
        // Nine variables: a base URL and the credentials of each of the four vendors.
        let (child, vars) = sandbox_process(&["--empty"], |vars| vars.len() >= 9).await;
        SandboxProcess {
            _child: child,
            vars: vars.into_iter().collect(),
        }
    }

    /// The variables, with the base URLs through `proxy` when given.
    fn vars(&self, proxy: Option<&FaultyProxy>) -> Vec<(String, String)> {
        let mut vars = self.vars.clone();
        if let Some(proxy) = proxy {
            for (k, v) in &mut vars {
                if k.ends_with("_BASE_URL") {
                    *v = proxy.rebase(v);
                }
            }
        }
        vars.extend(SECRETS.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        vars
    }

    fn url(&self) -> String {
        let base = &self
            .vars
            .iter()
            .find(|(k, _)| k == "BIGID_BASE_URL")
            .unwrap()
            .1;
        let url = url::Url::parse(base).unwrap();
        format!("http://{}:{}", url.host_str().unwrap(), url.port().unwrap())
    }
}

async fn cli(vars: &[(String, String)], args: &[&str]) -> Output {
    tokio::process::Command::new(binary())
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(args)
        .output()
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn the_cli_plans_applies_resumes_and_exports_against_one_sandbox() {
    let sandbox = SandboxProcess::start().await;
    let vars = sandbox.vars(None);
    let dir = temp("cli");
    let file = dir.join("sources.yaml");
    std::fs::write(&file, to_yaml(&sources(0, 10))).unwrap();
    let plan_file = dir.join("plan.json");
    let (file_arg, plan_arg) = (file.to_str().unwrap(), plan_file.to_str().unwrap());

    let started = std::time::Instant::now();
    let out = cli(&vars, &["plan", file_arg, "--out", plan_arg]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("+ bigid      create    orders-mysql-00\n"),
        "{printed}"
    );
    assert!(
        printed.ends_with("\"summary\":{\"create\":40}}\n"),
        "{printed}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&plan_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "a plan is its owner's");
    }
    let out = cli(&vars, &["apply", plan_arg]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).ends_with("{\"done\":40}\n"),
        "{}",
        text(&out.stdout)
    );
    assert!(!plan_file.exists(), "a plan is used once");
    let out = cli(&vars, &["plan", file_arg]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    eprintln!(
        "CLI: plan, apply of 40 sources, plan again in {:?}",
        started.elapsed()
    );

    // Ten more per platform through a proxy that breaks some creates: exit 1, then planned
    // and applied again to the same end.
    let proxy = FaultyProxy::start(sandbox.url()).await;
    proxy.fault(
        "POST",
        "/bigid/api/v1/ds_connections",
        1,
        1,
        Fault::LoseAnswer,
    );
    proxy.fault(
        "POST",
        "/pdc/api/public/v1/data-sources",
        2,
        1,
        Fault::Unavailable,
    );
    proxy.fault(
        "POST",
        "/databrain/api/v2/datasource",
        3,
        1,
        Fault::LoseAnswer,
    );
    let faulty = sandbox.vars(Some(&proxy));
    std::fs::write(&file, to_yaml(&sources(0, 20))).unwrap();
    let out = cli(&faulty, &["plan", file_arg, "--out", plan_arg]).await;
    assert_eq!(out.status.code(), Some(3));
    let out = cli(&faulty, &["apply", "--continue", plan_arg]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    let printed = text(&out.stdout);
    assert!(
        printed.contains("failed: (HTTP 503) Service Unavailable\n"),
        "the vendor's reason: {printed}"
    );
    assert!(
        printed.ends_with("{\"done\":39,\"failed\":1,\"unchanged\":40}\n"),
        "{printed}"
    );
    let out = cli(&faulty, &["plan", file_arg, "--out", plan_arg]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stdout).contains("\"summary\":{\"create\":1,"),
        "{}",
        text(&out.stdout)
    );
    let out = cli(&faulty, &["apply", plan_arg]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let out = cli(&faulty, &["plan", file_arg]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(proxy.injected(), 3);

    // The export writes what is there: 20 per platform, DataBrain by name.
    let exported = dir.join("exported.yaml");
    let out = cli(&vars, &["state", "--out", exported.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc = datasource_mcp::engine::state::document::parse(
        &std::fs::read_to_string(&exported).unwrap(),
    )
    .unwrap()
    .value;
    for (platform, section) in [
        ("bigid", "data_sources"),
        ("pdc", "data_sources"),
        ("bigdata", "connectors"),
        ("databrain", "datasources"),
    ] {
        assert_eq!(
            doc[platform][section].as_array().unwrap().len(),
            20,
            "{platform}"
        );
    }
    assert_eq!(
        doc["databrain"]["datasources"][0],
        json!({"credentials": {"name": "analytics-pg-00"}})
    );
    assert_eq!(
        doc["bigid"]["data_sources"][0]["password"],
        "${secret:BIGID_ORDERS_MYSQL_00_PASSWORD}"
    );
    let out = cli(&vars, &["plan", exported.to_str().unwrap()]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "the export plans to nothing: {}",
        text(&out.stdout)
    );
    drop(sandbox);
}

#[tokio::test]
async fn the_cli_refuses_a_literal_credential_a_read_only_apply_and_a_stale_plan() {
    let sandbox = SandboxProcess::start().await;
    let vars = sandbox.vars(None);
    let dir = temp("refusals");
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "bigid:\n  data_sources:\n    - name: Orders\n      type: rdb-mysql\n      password: hunter2-literal\n",
    )
    .unwrap();
    let out = cli(&vars, &["plan", file.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out.stderr);
    assert!(
        said.starts_with(&format!(
            "{}:5: `bigid.data_sources[0].password`: holds a literal credential",
            file.display()
        )),
        "{said}"
    );
    assert!(!said.contains("hunter2-literal"));

    let good = dir.join("good.yaml");
    std::fs::write(&good, to_yaml(&sources(0, 1))).unwrap();
    let plan_file = dir.join("plan.json");
    let out = cli(
        &vars,
        &[
            "plan",
            good.to_str().unwrap(),
            "--out",
            plan_file.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(3));
    let out = cli(
        &vars,
        &["--read-only", "apply", plan_file.to_str().unwrap()],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "datasource-mcp: apply is not offered in read-only mode (--read-only / DATASOURCE_MCP_READ_ONLY)\n"
    );
    // Someone else makes one of the sources first: the plan no longer holds.
    let out = cli(
        &vars,
        &["call", "bigdata_create_connector", "--args", r#"{"type": "email", "label": "Research inbox 00", "config": {"allowed_emails": ["a@b.example"]}}"#],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = cli(&vars, &["apply", plan_file.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "datasource-mcp: not applied: what the vendors hold changed since the plan (bigdata:research inbox 00 now exists): plan again\n"
    );
    // Without the secrets' values, and no way to enter them: named, nothing changed.
    let bare: Vec<(String, String)> = sandbox.vars.clone();
    let out = cli(
        &bare,
        &[
            "plan",
            good.to_str().unwrap(),
            "--out",
            plan_file.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(3));
    let out = cli(&bare, &["apply", "--no-wait", plan_file.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out.stderr);
    assert!(said.contains("the secret ORDERS_MYSQL_PASSWORD has no value (needed for bigid:orders-mysql-00): set DATASOURCE_MCP_SECRET_ORDERS_MYSQL_PASSWORD"), "{said}");
    assert!(said.ends_with("not applied: 3 secret(s) have no value (or, unless the intake page is off, apply without --no-wait to enter them in a browser); nothing was changed\n"), "{said}");
    drop(sandbox);
}

#[tokio::test]
async fn plans_and_batch_tests_are_bounded() {
    let sb = sandbox(Seed::Empty).await;
    let client = client_selected(
        &vars_for(&sb, None),
        UpstreamSettings::default(),
        &Selection::default(),
    )
    .await;
    // A caller keeps 16 plans: a 17th replaces the oldest.
    let first = plan(&client, sources(0, 1)).await;
    for _ in 0..16 {
        plan(&client, sources(0, 1)).await;
    }
    let (gone, is_error) = call(
        &client,
        "inventory_apply_plan",
        json!({"plan_id": first["plan_id"], "dry_run": true}),
    )
    .await;
    assert!(is_error, "{gone}");
    assert_eq!(gone["error"]["field"], "plan_id");

    // 101 stored PDC sources: one call tests at most 100, and says so before testing any.
    let many = json!({"pdc": {"data_sources": (0..101).map(|i| json!({
        "resourceName": format!("lake-{i:03}"), "databaseType": "AWS", "region": "eu-west-1",
        "path": "/x", "accessId": "${secret:ORDERS_PG_PASSWORD}", "secretKey": "${secret:ORDERS_PG_PASSWORD}"}))
        .collect::<Vec<_>>()}});
    let planned = plan(&client, many).await;
    assert_eq!(planned["summary"], json!({"create": 101}));
    assert_eq!(
        apply(&client, &planned, "stop").await["summary"],
        json!({"done": 101})
    );
    let (refused, is_error) = call(
        &client,
        "inventory_test_data_sources",
        json!({"providers": ["pdc"]}),
    )
    .await;
    assert!(is_error);
    assert_eq!(
        refused["error"]["message"],
        "`name`: 101 stored sources match; one call tests at most 100: narrow providers, name or type"
    );
    let (tested, is_error) = call(
        &client,
        "inventory_test_data_sources",
        json!({"providers": ["pdc"], "name": "lake-00*"}),
    )
    .await;
    assert!(!is_error, "{tested}");
    assert_eq!(tested["tests"].as_array().unwrap().len(), 10);
}

/// A directory of secret files, one per value in [`SECRETS`] (`DATASOURCE_MCP_SECRET_NAME` →
/// the file `NAME`, with the trailing newline an editor adds), as Kubernetes mounts a Secret.
fn secrets_dir(test: &str) -> std::path::PathBuf {
    let dir = temp(test);
    for (var, value) in SECRETS {
        let name = var.strip_prefix("DATASOURCE_MCP_SECRET_").unwrap();
        std::fs::write(dir.join(name), format!("{value}\n")).unwrap();
    }
    dir
}

/// A client of a server on `vars` that reads secrets from `dir` and has an intake page.
async fn with_secrets_dir(
    vars: &std::collections::HashMap<String, String>,
    dir: &std::path::Path,
) -> rmcp::service::RunningService<rmcp::RoleClient, ()> {
    use datasource_mcp::engine::Engine;
    use datasource_mcp::mounted::SecretsDir;
    use datasource_mcp::surfaces::server::DataSourceServer;
    let configs = datasource_mcp::providers::configure_all(vars).unwrap();
    let intake = datasource_mcp::intake::Intake::new(
        datasource_mcp::intake::IntakeSettings::default(),
        datasource_mcp::intake::Serving::Loopback,
    );
    let engine = Engine::new(configs, UpstreamSettings::default(), Arc::new(vars.clone()))
        .with_secrets_dir(SecretsDir::open(dir).unwrap())
        .with_intake(intake);
    let server = DataSourceServer::new(Arc::new(engine), &Selection::default());
    connect(server, ()).await
}

/// An apply reads its `${secret:NAME}` values from the secrets directory like any call; one
/// whose file is there but cannot be read stops the apply before its first change, named with
/// where the server looked (not offered as a link: entering it again would not help).
#[tokio::test]
async fn an_apply_reads_the_secrets_directory_and_an_unreadable_file_stops_it_before_any_change() {
    let sb = sandbox(Seed::Empty).await;
    let dir = secrets_dir("apply-dir");
    let broken = dir.join("ORDERS_PG_PASSWORD");
    std::fs::remove_file(&broken).unwrap();
    std::fs::create_dir(&broken).unwrap();
    let vars = sb.env();
    let client = with_secrets_dir(&vars, &dir).await;

    let planned = plan(&client, sources(0, 1)).await;
    let (refused, is_error) = call(
        &client,
        "inventory_apply_plan",
        json!({"plan_id": planned["plan_id"]}),
    )
    .await;
    assert!(!is_error, "{refused}");
    assert_eq!(refused["applied"], false);
    assert_eq!(
        refused["missing"],
        json!([{"name": "ORDERS_PG_PASSWORD", "for": ["pdc:orders-pg-00"],
            "unreadable": format!("could not be read from the secrets directory: {}: is a directory", broken.display())}])
    );
    assert!(
        names_at(&sb).await.values().all(Vec::is_empty),
        "nothing made"
    );

    // Readable now: the same plan applies, every value from the directory.
    std::fs::remove_dir(&broken).unwrap();
    std::fs::write(&broken, "pw-orders-pg-77d2aa\n").unwrap();
    let applied = apply(&client, &planned, "stop").await;
    assert_eq!(applied["summary"], json!({"done": 4}), "{applied}");
    assert_eq!(names_at(&sb).await, expected_names(0, 1));
    assert!(!applied.to_string().contains("pw-orders-"), "{applied}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The container path for many sources: the CLI plans and applies with its vendor credentials
/// from `NAME_FILE` files and its references' values from `DATASOURCE_MCP_SECRETS_DIR` alone;
/// a secret file that cannot be read stops the apply before its first change, even with the
/// intake page on (no link offered, no wait).
#[tokio::test]
async fn the_cli_applies_a_plan_from_mounted_files_alone() {
    let sandbox = SandboxProcess::start().await;
    let dir = secrets_dir("cli-files");
    let creds = temp("cli-files-creds");
    let mut vars: Vec<(String, String)> = Vec::new();
    for (k, v) in &sandbox.vars {
        if k.ends_with("_BASE_URL") {
            vars.push((k.clone(), v.clone()));
        } else {
            let path = creds.join(k.to_lowercase());
            std::fs::write(&path, format!("{v}\n")).unwrap();
            vars.push((format!("{k}_FILE"), path.display().to_string()));
        }
    }
    vars.push((
        "DATASOURCE_MCP_SECRETS_DIR".into(),
        dir.display().to_string(),
    ));
    let broken = dir.join("ANALYTICS_PG_PASSWORD");
    std::fs::remove_file(&broken).unwrap();
    std::fs::create_dir(&broken).unwrap();
    let file = temp("cli-files-plan").join("sources.yaml");
    std::fs::write(&file, to_yaml(&sources(0, 2))).unwrap();
    let plan_file = file.with_file_name("plan.json");
    let (file_arg, plan_arg) = (file.to_str().unwrap(), plan_file.to_str().unwrap());

    let out = cli(&vars, &["plan", file_arg, "--out", plan_arg]).await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    // The plan says where each secret will come from, reading none.
    assert_eq!(
        text(&out.stderr),
        format!(
            "datasource-mcp: the secret ORDERS_MYSQL_PASSWORD (for bigid:orders-mysql-00, bigid:orders-mysql-01) will come from the secrets directory ({d}/ORDERS_MYSQL_PASSWORD)\n\
             datasource-mcp: the secret ANALYTICS_PG_PASSWORD (for databrain:analytics-pg-00, databrain:analytics-pg-01) will come from the secrets directory ({d}/ANALYTICS_PG_PASSWORD)\n\
             datasource-mcp: the secret ORDERS_PG_PASSWORD (for pdc:orders-pg-00, pdc:orders-pg-01) will come from the secrets directory ({d}/ORDERS_PG_PASSWORD)\n\
             datasource-mcp: plan written to {plan_arg} (apply it within the hour: datasource-mcp apply {plan_arg})\n",
            d = dir.display()
        )
    );
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        cli(&vars, &["apply", plan_arg]),
    )
    .await
    .expect("no wait for a page");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        format!(
            "datasource-mcp: the secret ANALYTICS_PG_PASSWORD (needed for databrain:analytics-pg-00, databrain:analytics-pg-01) could not be read from the secrets directory: {}: is a directory\n\
             datasource-mcp: not applied: 1 secret(s) cannot be read; nothing was changed\n",
            broken.display()
        )
    );
    assert!(plan_file.exists(), "the plan stays for the next apply");

    std::fs::remove_dir(&broken).unwrap();
    std::fs::write(&broken, "pw-analytics-pg-0c9e41\n").unwrap();
    let out = cli(&vars, &["apply", plan_arg]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(printed.ends_with("{\"done\":8}\n"), "{printed}");
    for (_, value) in SECRETS {
        assert!(!printed.contains(value) && !text(&out.stderr).contains(value));
    }
    let out = cli(&vars, &["plan", file_arg]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&creds);
    drop(sandbox);
}

/// No secret before the yes, for many sources: the plan says where each secret its changes
/// reference will come from (the environment, the secrets directory, or the intake page when
/// the plan is applied) and asks for none; the apply is what asks, before its first change.
#[tokio::test]
async fn a_plan_says_where_each_secret_will_come_from_and_asks_for_none() {
    let sb = sandbox(Seed::Empty).await;
    let dir = temp("plan-secrets");
    std::fs::write(dir.join("ORDERS_PG_PASSWORD"), "pw-orders-pg-77d2aa\n").unwrap();
    let mut vars = sb.env();
    vars.insert(
        "DATASOURCE_MCP_SECRET_ORDERS_MYSQL_PASSWORD".into(),
        "pw-orders-mysql-5b1e0c".into(),
    );
    let client = with_secrets_dir(&vars, &dir).await;

    let planned = plan(&client, sources(0, 2)).await;
    assert_eq!(
        planned["references"],
        json!([
            {"name": "ORDERS_MYSQL_PASSWORD", "for": ["bigid:orders-mysql-00", "bigid:orders-mysql-01"],
                "from": "the environment (DATASOURCE_MCP_SECRET_ORDERS_MYSQL_PASSWORD)"},
            {"name": "ANALYTICS_PG_PASSWORD", "for": ["databrain:analytics-pg-00", "databrain:analytics-pg-01"],
                "from": "the intake page: the user is asked for it when the plan is applied, before its first change; nothing was asked now"},
            {"name": "ORDERS_PG_PASSWORD", "for": ["pdc:orders-pg-00", "pdc:orders-pg-01"],
                "from": format!("the secrets directory ({})", dir.join("ORDERS_PG_PASSWORD").display())},
        ]),
        "{planned}"
    );
    assert!(
        !planned.to_string().contains("/secrets/"),
        "no link: {planned}"
    );
    // The apply asks, before its first change: the one secret found nowhere, a link per
    // host it goes to.
    let (asked, _) = call(
        &client,
        "inventory_apply_plan",
        json!({"plan_id": planned["plan_id"]}),
    )
    .await;
    assert_eq!(asked["applied"], false);
    let missing: Vec<(&str, &Value)> = asked["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), &m["for"]))
        .collect();
    assert_eq!(
        missing,
        [
            (
                "ANALYTICS_PG_PASSWORD",
                &json!(["databrain:analytics-pg-00"])
            ),
            (
                "ANALYTICS_PG_PASSWORD",
                &json!(["databrain:analytics-pg-01"])
            ),
        ],
        "{asked}"
    );
    for m in asked["missing"].as_array().unwrap() {
        assert!(m["url"].as_str().unwrap().contains("/secrets/"), "{asked}");
    }
    assert!(
        names_at(&sb).await.values().all(Vec::is_empty),
        "nothing made"
    );
    // Without the intake page, the plan says so instead of promising a page.
    let client = client_selected(&vars, UpstreamSettings::default(), &Selection::default()).await;
    let planned = plan(&client, sources(0, 1)).await;
    assert_eq!(
        planned["references"][1],
        json!({"name": "ANALYTICS_PG_PASSWORD", "for": ["databrain:analytics-pg-00"],
            "from": "UNKNOWN_SECRET_REFERENCE: `credentials.password`: the secret reference ${secret:ANALYTICS_PG_PASSWORD} is not set"}),
        "{planned}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
