//! DataBrain against the recording fake: every tool's exact request and result, vendor error
//! codes in the envelope, validation rules.

use crate::support::*;
use serde_json::{Value, json};

const TOKEN: &str = "dbn_live_S3NT1NEL";
const PATH: &str = "/api/v2/datasource";
const UUID: &str = "3f2b9c1e-8a7d-4e6f-9b0a-1c2d3e4f5a6b";

/// DataBrain: the service token as a bearer token.
const DATABRAIN: Vendor = Vendor {
    base_url: ("DATABRAIN_BASE_URL", ""),
    credentials: &[("DATABRAIN_SERVICE_TOKEN", TOKEN)],
    exchange: None,
    auth: AuthHeader::bearer(TOKEN),
};

fn postgres() -> Value {
    json!({"datasourceType": "postgres", "credentials": {"name": "analytics", "host": "pg.internal",
        "port": 5432, "username": "dbn", "password": SENTINEL, "database": "analytics", "schema": "public"}})
}

/// DataBrain pages by 10 at best (`isPagination=true&pageNumber=2`): the server asks for all
/// and cuts the page itself, so no request carries paging.
#[tokio::test]
async fn list_asks_for_all_and_cuts_the_page_itself() {
    let (fake, client) = setup(&DATABRAIN).await;
    let all = json!({"data": [{"name": "a"}, {"name": "b"}]});
    fake.on("GET", PATH, Reply::json(200, all));
    let (result, is_error) = call(
        &client,
        "databrain_list_datasources",
        json!({"skip": 1, "limit": 1}),
    )
    .await;
    assert!(!is_error);
    assert_eq!(
        result,
        json!({"items": [{"id": "b", "name": "b", "status": "unknown"}], "total": 2})
    );
    let (result, _) = call(&client, "databrain_list_datasources", json!({})).await;
    assert_eq!(
        result,
        json!({"items": [{"id": "a", "name": "a", "status": "unknown"},
            {"id": "b", "name": "b", "status": "unknown"}], "total": 2})
    );
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_request(&reqs[0], "GET", PATH, None, DATABRAIN.auth, None);
    assert_request(&reqs[1], "GET", PATH, None, DATABRAIN.auth, None);
}

#[tokio::test]
async fn create_and_update_send_the_body_as_given() {
    let (fake, client) = setup(&DATABRAIN).await;
    fake.on("POST", PATH, Reply::json(200, json!({"name": "analytics"})));
    fake.on("PUT", PATH, Reply::json(200, json!({"name": "analytics"})));
    let (result, is_error) = call(&client, "databrain_create_datasource", postgres()).await;
    assert!(!is_error);
    assert_eq!(result, json!({"name": "analytics"}));
    let mut with_tenancy = postgres();
    with_tenancy["tenancySettings"] = json!({"tenancyLevel": "DATABASE"});
    let (result, _) = call(&client, "databrain_update_datasource", with_tenancy.clone()).await;
    assert_eq!(result, json!({"name": "analytics"}));
    let reqs = fake.requests();
    assert_request(
        &reqs[0],
        "POST",
        PATH,
        None,
        DATABRAIN.auth,
        Some(postgres()),
    );
    assert_request(
        &reqs[1],
        "PUT",
        PATH,
        None,
        DATABRAIN.auth,
        Some(with_tenancy),
    );
}

#[tokio::test]
async fn delete_by_name_and_sync_by_uuid() {
    let (fake, client) = setup(&DATABRAIN).await;
    fake.on(
        "DELETE",
        PATH,
        Reply::json(
            200,
            json!({"id": UUID, "message": "Datasource deleted successfully"}),
        ),
    );
    fake.on(
        "POST",
        "/api/v2/datasource/sync",
        Reply::json(200, json!({"data": {"message": "Sync completed"}})),
    );
    let (result, _) = call(
        &client,
        "databrain_delete_datasource",
        json!({"name": "orders & co"}),
    )
    .await;
    assert_eq!(
        result,
        json!({"id": UUID, "message": "Datasource deleted successfully"})
    );
    let (result, _) = call(
        &client,
        "databrain_sync_datasource",
        json!({"datasource_id": UUID}),
    )
    .await;
    assert_eq!(
        result,
        json!({"data": {"message": "Sync completed"}, "connection": "works"})
    );
    // The URL of the datasource's page in DataBrain, as a user copies it: its id= is sent.
    let page = format!("https://app.usedatabrain.com/datasources/edit?id={UUID}&tab=schema");
    let (result, _) = call(
        &client,
        "databrain_sync_datasource",
        json!({ "datasource_id": page }),
    )
    .await;
    assert_eq!(
        result,
        json!({"data": {"message": "Sync completed"}, "connection": "works"})
    );
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    assert_request(
        &reqs[2],
        "POST",
        "/api/v2/datasource/sync",
        None,
        DATABRAIN.auth,
        Some(json!({"input": {"datasourceId": UUID}})),
    );
    assert_request(
        &reqs[0],
        "DELETE",
        PATH,
        Some("datasourceName=orders+%26+co"),
        DATABRAIN.auth,
        None,
    );
    assert_request(
        &reqs[1],
        "POST",
        "/api/v2/datasource/sync",
        None,
        DATABRAIN.auth,
        Some(json!({"input": {"datasourceId": UUID}})),
    );
}

#[tokio::test]
async fn vendor_error_codes_reach_the_envelope_with_a_hint() {
    let (fake, client) = setup(&DATABRAIN).await;
    let cases = [
        (
            "DATASOURCE_NAME_ERROR",
            "Datasource name already exists",
            "the name is taken (create) or unknown (update, delete): list datasources to check, then pick another name or the right one",
        ),
        (
            "CREDENTIAL_TEST_FAILED",
            "Connection test failed",
            "DataBrain could not connect with these credentials: check host, port, user, password and network access from DataBrain",
        ),
        (
            // A refusal of the body: our knowledge of other types' credential keys is only
            // assumed, and the hint says so.
            "INVALID_REQUEST_BODY",
            "credentials.host is required",
            "the vendor rejected the request: fix what the message names and call again; note: this request's shape is not confirmed by public evidence (The other types' credential keys are not shown in the reference: only name is checked): run the server with --trace-vendor FILE and report what the vendor answered",
        ),
    ];
    for (code, message, hint) in cases {
        fake.on(
            "POST",
            PATH,
            Reply::json(400, json!({"error": {"code": code, "message": message}})),
        );
        let (result, is_error) = call(&client, "databrain_create_datasource", postgres()).await;
        assert!(is_error);
        assert_eq!(
            result,
            json!({"error": {"provider": "databrain", "status": 400, "code": code, "message": message, "hint": hint}})
        );
    }
    fake.on("DELETE", PATH, Reply::json(400, json!({"error": {"code": "DATASOURCE_IN_USE", "message": "Datasource is used by 2 datamart(s)"}})));
    let (result, _) = call(
        &client,
        "databrain_delete_datasource",
        json!({"name": "analytics"}),
    )
    .await;
    assert_eq!(result["error"]["code"], "DATASOURCE_IN_USE");
    assert_eq!(
        result["error"]["hint"],
        "datamarts use this datasource: remove it from them in DataBrain first"
    );
    fake.on(
        "POST",
        "/api/v2/datasource/sync",
        Reply::json(
            400,
            json!({"error": {"code": "DATASOURCE_ID_ERROR", "message": "not found"}}),
        ),
    );
    let (result, _) = call(
        &client,
        "databrain_sync_datasource",
        json!({"datasource_id": UUID}),
    )
    .await;
    assert_eq!(result["error"]["code"], "DATASOURCE_ID_ERROR");
    fake.on("GET", PATH, Reply::json(401, json!({"error": {"code": "AUTHENTICATION_ERROR", "message": "Invalid or missing service token"}})));
    let (result, _) = call(&client, "databrain_list_datasources", json!({})).await;
    assert_eq!(result["error"]["status"], 401);
    assert_eq!(
        result["error"]["hint"],
        "check DATABRAIN_SERVICE_TOKEN (a service token, not a data-app API key)"
    );
}

#[tokio::test]
async fn schema_has_the_18_types_and_describes_credentials() {
    // The full schema, as the tool's reference shows it (the tools list points there).
    let full = datasource_mcp::surfaces::definition::input_schema(
        datasource_mcp::providers::operation("databrain_create_datasource").unwrap(),
        false,
    );
    let props = &full["properties"];
    let types: Vec<&str> = props["datasourceType"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "snowflake",
            "postgres",
            "redshift",
            "cockroachdb",
            "mysql",
            "mongodb",
            "clickhouse",
            "singlestore",
            "bigquery",
            "databricks",
            "elasticsearch",
            "opensearch",
            "mssql",
            "awss3",
            "csv",
            "firebolt",
            "athena",
            "trino"
        ]
    );
    assert_eq!(props["credentials"]["required"], json!(["name"]));
    // Free-form: no `additionalProperties: false` (true is what a schema says without it).
    assert!(props["credentials"].get("additionalProperties").is_none());
    let doc = props["credentials"]["description"].as_str().unwrap();
    for t in ["postgres", "mssql", "snowflake", "bigquery", "awss3", "csv"] {
        assert!(doc.contains(t), "credentials description covers {t}: {doc}");
    }
    assert_eq!(full["required"], json!(["datasourceType", "credentials"]));
    let sync = datasource_mcp::surfaces::definition::tool(
        datasource_mcp::providers::operation("databrain_sync_datasource").unwrap(),
    );
    assert!(
        sync.description
            .as_deref()
            .unwrap()
            .contains("databrain_get_datasource_sync_progress")
    );
    let id = &sync.input_schema["properties"]["datasource_id"]["description"];
    assert!(
        id.as_str().unwrap().contains("page URL: ask the user"),
        "{id}"
    );
}

#[tokio::test]
async fn validation_errors_send_nothing() {
    let (fake, client) = setup(&DATABRAIN).await;
    let cases = [
        (
            "databrain_list_datasources",
            json!({"page": 2}),
            "page",
            "is not a known argument",
        ),
        (
            "databrain_list_datasources",
            json!({"limit": 0}),
            "limit",
            "must be between 1 and 1000",
        ),
        (
            "databrain_list_datasources",
            json!({"limit": 1001}),
            "limit",
            "must be between 1 and 1000",
        ),
        (
            "databrain_list_datasources",
            json!({"limit": "2"}),
            "limit",
            "wrong type: expected a whole number ≥ 0",
        ),
        (
            "databrain_list_datasources",
            json!({"detail": "names"}),
            "detail",
            "must be compact or full",
        ),
        (
            "databrain_list_datasources",
            json!({"fields": []}),
            "fields",
            "must be a non-empty list of field names",
        ),
        (
            "databrain_create_datasource",
            json!({"datasourceType": "oracle", "credentials": {"name": "x"}}),
            "datasourceType",
            "must be one of",
        ),
        (
            "databrain_create_datasource",
            json!({"datasourceType": "postgres"}),
            "credentials",
            "is required",
        ),
        (
            "databrain_create_datasource",
            json!({"datasourceType": "postgres", "credentials": {"host": "h"}}),
            "credentials.name",
            "is required",
        ),
        (
            "databrain_create_datasource",
            json!({"datasourceType": "csv", "credentials": {"name": " "}}),
            "credentials.name",
            "must not be empty",
        ),
        (
            "databrain_create_datasource",
            json!({"datasourceType": "csv", "credentials": {"name": "c"}, "tenancySettings": {"tenancyLevel": "ROW"}}),
            "tenancySettings.tenancyLevel",
            "must be TABLE or DATABASE",
        ),
        (
            "databrain_update_datasource",
            json!({"datasourceType": "csv", "credentials": {"name": "c"}, "extra": 1}),
            "extra",
            "is not a known argument",
        ),
        (
            "databrain_delete_datasource",
            json!({"name": ""}),
            "name",
            "must not be empty",
        ),
        (
            "databrain_sync_datasource",
            json!({"datasource_id": "analytics"}),
            "datasource_id",
            "must be the datasource's UUID or its DataBrain page URL (with id=); DataBrain's API \
             returns no id for a name, so ask the user to open the datasource in DataBrain and \
             paste the page URL",
        ),
        (
            "databrain_sync_datasource",
            json!({"datasource_id": "https://app.usedatabrain.com/datasources?id=analytics"}),
            "datasource_id",
            "the page URL's id= is not a UUID",
        ),
        (
            "databrain_get_datasource_sync_progress",
            json!({"datasource_id": "javascript:alert(1)?id=000000db-5eed-4000-8000-000000000001"}),
            "datasource_id",
            "must be the datasource's UUID or its DataBrain page URL",
        ),
    ];
    for (tool, args, field, reason) in cases {
        assert_invalid(&client, "databrain", tool, args, field, reason).await;
    }
    assert!(
        fake.requests().is_empty(),
        "nothing sent: {:#?}",
        fake.requests()
    );
}

/// The sync-progress call: its exact request, and with wait, read until "done/total" is done.
#[tokio::test]
async fn sync_progress_is_read_until_done() {
    let (fake, client) = setup(&DATABRAIN).await;
    let path = "/api/v2/datasource/getDatasourceProgress";
    fake.once(
        "POST",
        path,
        Reply::json(200, json!({"status": {"progress": "4/16", "error": ""}})),
    );
    fake.on(
        "POST",
        path,
        Reply::json(200, json!({"status": {"progress": "16/16", "error": ""}})),
    );
    let (result, is_error) = call(
        &client,
        "databrain_get_datasource_sync_progress",
        json!({"datasource_id": UUID, "wait": true}),
    )
    .await;
    assert!(!is_error, "{result}");
    assert_eq!(
        result,
        json!({"status": {"progress": "16/16", "error": ""}})
    );
    let sent = fake.requests();
    assert_eq!(sent.len(), 2);
    for r in &sent {
        assert_request(
            r,
            "POST",
            path,
            None,
            DATABRAIN.auth,
            Some(json!({"input": {"datasourceId": UUID}})),
        );
    }
    // A failed sync ends the wait too.
    fake.on(
        "POST",
        path,
        Reply::json(
            200,
            json!({"status": {"progress": "0/16", "error": "Error: Bind error data type"}}),
        ),
    );
    let (result, is_error) = call(
        &client,
        "databrain_get_datasource_sync_progress",
        json!({"datasource_id": UUID, "wait": true}),
    )
    .await;
    assert!(!is_error);
    assert_eq!(result["status"]["error"], "Error: Bind error data type");
}

/// DataBrain's token page writes AUTHENTICATION_ERR where its code list says
/// AUTHENTICATION_ERROR: both get the credential hint.
#[tokio::test]
async fn both_spellings_of_the_auth_code_get_the_credential_hint() {
    let (fake, client) = setup(&DATABRAIN).await;
    for code in ["AUTHENTICATION_ERR", "AUTHENTICATION_ERROR"] {
        fake.once(
            "GET",
            PATH,
            Reply::json(
                401,
                json!({"error": {"message": "API key is invalid or expired", "code": code}}),
            ),
        );
        let (result, _) = call(&client, "databrain_list_datasources", json!({})).await;
        assert_eq!(result["error"]["code"], code);
        assert_eq!(
            result["error"]["hint"],
            "check DATABRAIN_SERVICE_TOKEN (a service token, not a data-app API key)"
        );
    }
}

// ---- list pages: compact rows, total, next, fields, detail, the result budget ---------------

/// DataBrain lists names only: a compact row is the name as id and name, status unknown. The
/// server pages (DataBrain is asked for all, every time), knows the total, and `next` walks to
/// the end.
#[tokio::test]
async fn list_pages_compact_rows_and_next_walks_the_list() {
    let (fake, client) = setup(&DATABRAIN).await;
    let names = [
        "analytics-postgres",
        "sales-mysql",
        "events-clickhouse",
        "finance-snowflake",
        "adhoc-trino",
    ];
    let all: Vec<Value> = names.iter().map(|n| json!({"name": n})).collect();
    fake.on("GET", PATH, Reply::json(200, json!({"data": all})));
    let rows: Vec<Value> = names
        .iter()
        .map(|n| json!({"id": n, "name": n, "status": "unknown"}))
        .collect();
    let (first, is_error) = call(&client, "databrain_list_datasources", json!({"limit": 2})).await;
    assert!(!is_error, "{first}");
    assert_eq!(
        first,
        json!({"items": rows[0..2], "total": 5, "next": {"limit": 2, "skip": 2}})
    );
    let (second, _) = call(&client, "databrain_list_datasources", first["next"].clone()).await;
    assert_eq!(
        second,
        json!({"items": rows[2..4], "total": 5, "next": {"limit": 2, "skip": 4}})
    );
    let (last, _) = call(
        &client,
        "databrain_list_datasources",
        second["next"].clone(),
    )
    .await;
    assert_eq!(last, json!({"items": rows[4..5], "total": 5}));

    // fields and detail: full shape the same page; both carry into next.
    let (picked, _) = call(
        &client,
        "databrain_list_datasources",
        json!({"fields": ["name", "id"], "skip": 3}),
    )
    .await;
    assert_eq!(
        picked,
        json!({"items": [{"name": "finance-snowflake"}, {"name": "adhoc-trino"}], "total": 5})
    );
    let (full, _) = call(
        &client,
        "databrain_list_datasources",
        json!({"detail": "full", "skip": 1, "limit": 3}),
    )
    .await;
    assert_eq!(
        full,
        json!({"items": all[1..4], "total": 5, "next": {"detail": "full", "skip": 4, "limit": 3}})
    );

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 5);
    for r in &reqs {
        assert_request(r, "GET", PATH, None, DATABRAIN.auth, None);
    }
}

/// Extra fields DataBrain may add pass through with `detail: full`, secrets masked; `fields`
/// reaches into them by dotted path.
#[tokio::test]
async fn list_full_detail_and_fields_reach_the_vendors_objects() {
    let (fake, client) = setup(&DATABRAIN).await;
    let all = json!([
        {"name": "analytics-postgres", "datasourceType": "postgres",
            "credentials": {"host": "pg.analytics.acme.example", "password": SENTINEL}},
        {"name": "sales-mysql"}
    ]);
    fake.on("GET", PATH, Reply::json(200, json!({"data": all})));
    let (full, _) = call(
        &client,
        "databrain_list_datasources",
        json!({"detail": "full"}),
    )
    .await;
    assert_eq!(
        full,
        json!({"items": [
            {"name": "analytics-postgres", "datasourceType": "postgres",
                "credentials": {"host": "pg.analytics.acme.example", "password": "***"}},
            {"name": "sales-mysql"}], "total": 2})
    );
    let (picked, _) = call(
        &client,
        "databrain_list_datasources",
        json!({"fields": ["name", "credentials.host", "datasourceType"], "limit": 1}),
    )
    .await;
    assert_eq!(
        picked,
        json!({"items": [{"name": "analytics-postgres", "credentials.host": "pg.analytics.acme.example",
            "datasourceType": "postgres"}], "total": 2,
            "next": {"fields": ["name", "credentials.host", "datasourceType"], "limit": 1, "skip": 1}})
    );
    let (compact, _) = call(&client, "databrain_list_datasources", json!({})).await;
    assert_eq!(
        compact,
        json!({"items": [
            {"id": "analytics-postgres", "name": "analytics-postgres", "status": "unknown"},
            {"id": "sales-mysql", "name": "sales-mysql", "status": "unknown"}], "total": 2})
    );
}

/// Three hundred long names: each page the budget leaves keeps whole rows, `next` starts
/// after the last one kept, and following it yields every row once, in order.
#[tokio::test]
async fn list_cut_by_the_result_budget() {
    let (fake, client) = setup(&DATABRAIN).await;
    let name = |i: usize| format!("datasource-{i:03}-{}", "tenant-analytics-".repeat(20));
    let all: Vec<Value> = (0..300).map(|i| json!({"name": name(i)})).collect();
    fake.on("GET", PATH, Reply::json(200, json!({"data": all})));
    let rows: Vec<Value> = (0..300)
        .map(|i| json!({"id": name(i), "name": name(i), "status": "unknown"}))
        .collect();
    let called = json!({"limit": 300});
    let (result, text_len) = call_page(&client, "databrain_list_datasources", called.clone()).await;
    let kept = assert_cut(&result, text_len, &rows, Some(300), &called, 0, 300);
    assert!(kept > 50, "{kept}");

    // Walk on: every page is cut the same way until the rest fits.
    let mut seen: Vec<Value> = result["items"].as_array().unwrap().clone();
    let mut next = result["next"].clone();
    let mut calls = 1;
    loop {
        let (page, text_len) = call_page(&client, "databrain_list_datasources", next.clone()).await;
        calls += 1;
        let skip = seen.len();
        if page.get("truncated").is_some() {
            assert_cut(
                &page,
                text_len,
                &rows[skip..],
                Some(300),
                &called,
                skip as u64,
                300,
            );
            seen.extend(page["items"].as_array().unwrap().iter().cloned());
            next = page["next"].clone();
        } else {
            assert_eq!(page, json!({"items": rows[skip..], "total": 300}));
            seen.extend(page["items"].as_array().unwrap().iter().cloned());
            break;
        }
    }
    assert_eq!(seen, rows);
    assert!(calls >= 3, "{calls} pages");
    let reqs = fake.requests();
    assert_eq!(reqs.len(), calls);
    for r in &reqs {
        assert_request(r, "GET", PATH, None, DATABRAIN.auth, None);
    }
}
