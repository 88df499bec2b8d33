//! Pentaho Data Catalog against the recording fake: every tool's exact request and result, the
//! password grant, validation rules.

use crate::support::*;
use serde_json::json;

const TOKEN: &str = "pdc-access-jwt";

/// PDC: a password grant at /auth, then the access token as a bearer token.
const PDC: Vendor = Vendor {
    base_url: ("PDC_BASE_URL", "/api/public/v1"),
    credentials: &[
        ("PDC_USERNAME", "catalog admin"),
        ("PDC_PASSWORD", SENTINEL),
    ],
    exchange: Some(Exchange {
        method: "POST",
        path: "/api/public/v1/auth",
        answer: || json!({"message": "OK", "data": {"accessToken": TOKEN}}),
    }),
    auth: AuthHeader::bearer(TOKEN),
};

#[tokio::test]
async fn password_grant_is_form_encoded_and_the_token_is_reused() {
    let (fake, client) = setup(&PDC).await;
    let record = json!({"status": 200, "data": {"_id": "65f1c0ffee0000000000000a", "resourceName": "prod-postgres-primary"}});
    fake.on(
        "GET",
        "/api/public/v1/data-sources/65f1c0ffee0000000000000a",
        Reply::json(200, record.clone()),
    );
    for _ in 0..2 {
        let (result, is_error) = call(
            &client,
            "pdc_get_data_source",
            json!({"id": "65f1c0ffee0000000000000a"}),
        )
        .await;
        assert!(!is_error);
        assert_eq!(result, record);
    }
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    let auth = &reqs[0];
    assert_eq!(auth.method, "POST");
    assert_eq!(auth.path, "/api/public/v1/auth");
    assert_eq!(
        auth.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(auth.header("authorization"), None);
    assert_eq!(
        auth.body,
        format!(
            "username=catalog+admin&password={SENTINEL}&client_id=pdc-client&grant_type=password&scope=openid+profile+email"
        )
    );
    assert_request(
        &reqs[1],
        "GET",
        "/api/public/v1/data-sources/65f1c0ffee0000000000000a",
        None,
        PDC.auth,
        None,
    );
    assert_request(
        &reqs[2],
        "GET",
        "/api/public/v1/data-sources/65f1c0ffee0000000000000a",
        None,
        PDC.auth,
        None,
    );
}

#[tokio::test]
async fn a_401_re_authenticates_once() {
    let (fake, client) = setup(&PDC).await;
    fake.once(
        "GET",
        "/api/public/v1/jobs/j1/status",
        Reply::json(401, json!({"status": 401, "message": "Unauthorized"})),
    );
    fake.on(
        "GET",
        "/api/public/v1/jobs/j1/status",
        Reply::json(200, json!({"status": 200, "data": {"status": "COMPLETED"}})),
    );
    let (result, is_error) = call(&client, "pdc_get_job_status", json!({"id": "j1"})).await;
    assert!(!is_error);
    assert_eq!(
        result,
        json!({"status": 200, "data": {"status": "COMPLETED"}, "connection": "works"})
    );
    let paths: Vec<_> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/public/v1/auth",
            "/api/public/v1/jobs/j1/status",
            "/api/public/v1/auth",
            "/api/public/v1/jobs/j1/status"
        ]
    );
}

#[tokio::test]
async fn an_access_token_is_sent_as_bearer_without_exchange() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/public/v1/jobs/j1/status",
        Reply::json(200, json!({"status": 200, "data": {}})),
    );
    let client = client(&[
        ("PDC_BASE_URL", &fake.url("/api/public/v1")),
        ("PDC_ACCESS_TOKEN", "static-pdc"),
    ])
    .await;
    call(&client, "pdc_get_job_status", json!({"id": "j1"})).await;
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].header("authorization"), Some("Bearer static-pdc"));
}

/// PDC publishes no list of types: the schema names those seen working, and no enum.
#[test]
fn create_schema_names_the_verified_database_types() {
    let tool = datasource_mcp::surfaces::definition::tool(
        datasource_mcp::providers::operation("pdc_create_data_sources").unwrap(),
    );
    assert_eq!(
        tool.input_schema["properties"]["data_sources"]["items"]["properties"]["databaseType"],
        json!({"type": "string", "description": "POSTGRES, MYSQL, AWS (S3), AZURE_BLOB_STORAGE; ORACLE unverified."})
    );
}

#[tokio::test]
async fn create_sends_one_as_an_object_and_several_as_an_array() {
    let (fake, client) = setup(&PDC).await;
    let created =
        json!({"status": 201, "data": [{"_id": "a1", "resourceName": "AWS S3 Data Lake"}]});
    fake.on(
        "POST",
        "/api/public/v1/data-sources",
        Reply::json(201, created.clone()),
    );
    let lake = json!({"resourceName": "AWS S3 Data Lake", "fqdnId": "AWS S3 Data Lake", "databaseType": "AWS",
        "affinityId": "DEFAULT", "region": "us-east-1", "container": "company-datalake-bucket",
        "accessId": "AKIAEXAMPLE", "secretKey": SENTINEL, "path": "/data/warehouse",
        "location": {"country": "US"}, "costPerTb": {"price": null, "frequency": "month"}});
    let (result, is_error) = call(
        &client,
        "pdc_create_data_sources",
        json!({"data_sources": [lake]}),
    )
    .await;
    assert!(!is_error);
    assert_eq!(result, created);
    let pg = json!({"resourceName": "prod-postgres", "databaseType": "POSTGRESQL", "host": "pg.internal", "port": "5432"});
    call(
        &client,
        "pdc_create_data_sources",
        json!({"data_sources": [lake, pg]}),
    )
    .await;
    let reqs = fake.requests();
    assert_request(
        &reqs[1],
        "POST",
        "/api/public/v1/data-sources",
        None,
        PDC.auth,
        Some(lake.clone()),
    );
    assert_request(
        &reqs[2],
        "POST",
        "/api/public/v1/data-sources",
        None,
        PDC.auth,
        Some(json!([lake, pg])),
    );
}

#[tokio::test]
async fn update_sends_only_the_given_attributes() {
    let (fake, client) = setup(&PDC).await;
    fake.on(
        "PATCH",
        "/api/public/v1/data-sources/ds%201",
        Reply::json(200, json!({"status": 200})),
    );
    let (result, is_error) = call(
        &client,
        "pdc_update_data_source",
        json!({"id": "ds 1", "description": "Orders replica", "port": "5433", "availableForWriting": false,
            "totalCapacity": 1.5, "includePatterns": ["public.*"], "excludePatterns": []}),
    )
    .await;
    assert!(!is_error, "{result}");
    assert_eq!(result, json!({"status": 200}));
    assert_request(
        &fake.requests()[1],
        "PATCH",
        "/api/public/v1/data-sources/ds%201",
        None,
        PDC.auth,
        Some(
            json!({"description": "Orders replica", "port": "5433", "availableForWriting": false,
            "totalCapacity": 1.5, "includePatterns": ["public.*"], "excludePatterns": []}),
        ),
    );
}

/// The jobs a source last ran are PDC's bookkeeping: an update that names one is refused
/// before anything is sent, as an argument the tool does not know.
#[tokio::test]
async fn update_refuses_the_job_bookkeeping() {
    let (fake, client) = setup(&PDC).await;
    for field in ["lastTestConnectionId", "lastIngestId"] {
        let (result, is_error) = call(
            &client,
            "pdc_update_data_source",
            json!({"id": "65f1c0ffee0000000000000a", "note": "n", field: "9dc010b50000000000000009"}),
        )
        .await;
        assert!(is_error, "{result}");
        assert_eq!(
            result,
            json!({"error": {"provider": "pdc", "code": "INVALID_ARGUMENT", "field": field,
                "message": format!("`{field}`: is not a known argument (expected one of \
                    userName, password, accessId, secretKey, region, secretManagerKey, accountName, \
                    azureSharedKey, azureTenantId, note, description, affinityId, role, host, port, \
                    databaseName, warehouse, uri, path, availableForMigration, availableForWriting, \
                    availableForDataMastering, totalCapacity, driverClassName, includePatterns, \
                    excludePatterns, scanSinceTimeframe, incremental)"),
                "hint": format!("fix `{field}` and call again; nothing was sent")}})
        );
    }
    assert!(fake.requests().is_empty(), "{:#?}", fake.requests());
}

#[tokio::test]
async fn update_schema_has_every_patch_attribute_typed() {
    // The full schema, as the tool's reference shows it (the tools list points there).
    let full = datasource_mcp::surfaces::definition::input_schema(
        datasource_mcp::providers::operation("pdc_update_data_source").unwrap(),
        false,
    );
    let mut props = full["properties"]["changes"]["properties"]
        .as_object()
        .unwrap()
        .clone();
    props.insert("id".into(), full["properties"]["id"].clone());
    props.insert("dry_run".into(), full["properties"]["dry_run"].clone());
    let strings = [
        "userName",
        "password",
        "accessId",
        "secretKey",
        "region",
        "secretManagerKey",
        "accountName",
        "azureSharedKey",
        "azureTenantId",
        "note",
        "description",
        "affinityId",
        "role",
        "host",
        "databaseName",
        "warehouse",
        "uri",
        "path",
        "driverClassName",
        "scanSinceTimeframe",
        "id",
    ];
    for name in strings {
        assert_eq!(props[name]["type"], "string", "{name}");
    }
    for name in [
        "availableForMigration",
        "availableForWriting",
        "availableForDataMastering",
        "incremental",
        "dry_run",
    ] {
        assert_eq!(props[name]["type"], "boolean", "{name}");
    }
    assert_eq!(props["totalCapacity"]["type"], "number");
    assert_eq!(props["port"]["anyOf"][0]["type"], "integer");
    assert_eq!(props["port"]["anyOf"][1]["type"], "string");
    for name in ["includePatterns", "excludePatterns"] {
        assert_eq!(props[name]["type"], "array", "{name}");
        assert_eq!(props[name]["items"]["type"], "string", "{name}");
    }
    assert_eq!(props.len(), strings.len() + 5 + 1 + 2 + 1);
    for bookkeeping in ["lastTestConnectionId", "lastIngestId"] {
        assert!(!props.contains_key(bookkeeping), "{bookkeeping}");
    }
    assert_eq!(full["required"], json!(["id", "changes"]));
}

#[tokio::test]
async fn by_ids_and_filter_are_read_only_posts() {
    let (fake, client) = setup(&PDC).await;
    fake.on(
        "POST",
        "/api/public/v1/data-sources/by-ids",
        Reply::json(200, json!({"status": 200, "data": [{"_id": "a"}]})),
    );
    fake.on(
        "POST",
        "/api/public/v1/data-sources/filter",
        Reply::json(200, json!({"status": 200, "data": []})),
    );
    let (result, _) = call(
        &client,
        "pdc_get_data_sources_by_ids",
        json!({"ids": ["a", "b"]}),
    )
    .await;
    assert_eq!(result, json!({"status": 200, "data": [{"_id": "a"}]}));
    let (result, _) = call(
        &client,
        "pdc_filter_data_sources",
        json!({"resourceNames": ["prod-*", "*-primary"]}),
    )
    .await;
    assert_eq!(result, json!({"items": []}));
    call(
        &client,
        "pdc_filter_data_sources",
        json!({"databaseTypes": ["*postgres*"], "skip": 20, "limit": 10}),
    )
    .await;
    let reqs = fake.requests();
    assert_request(
        &reqs[1],
        "POST",
        "/api/public/v1/data-sources/by-ids",
        None,
        PDC.auth,
        Some(json!({"ids": ["a", "b"]})),
    );
    assert_request(
        &reqs[2],
        "POST",
        "/api/public/v1/data-sources/filter",
        Some("skip=0&limit=50"),
        PDC.auth,
        Some(json!({"filters": {"resourceNames": ["prod-*", "*-primary"]}})),
    );
    assert_request(
        &reqs[3],
        "POST",
        "/api/public/v1/data-sources/filter",
        Some("skip=20&limit=10"),
        PDC.auth,
        Some(json!({"filters": {"databaseTypes": ["*postgres*"]}})),
    );
    let tools = client.list_all_tools().await.unwrap();
    for name in ["pdc_filter_data_sources", "pdc_get_data_sources_by_ids"] {
        let t = tools.iter().find(|t| t.name == name).unwrap();
        assert_eq!(
            t.annotations.as_ref().unwrap().read_only_hint,
            Some(true),
            "{name}"
        );
    }
    let filter = tools
        .iter()
        .find(|t| t.name == "pdc_filter_data_sources")
        .unwrap();
    let names_doc = filter.input_schema["properties"]["resourceNames"]["description"]
        .as_str()
        .unwrap();
    assert!(
        names_doc.contains("prod-*") && names_doc.contains("*postgres*"),
        "{names_doc}"
    );
    assert_eq!(filter.input_schema["properties"]["limit"]["maximum"], 10000);
}

#[tokio::test]
async fn job_status() {
    let (fake, client) = setup(&PDC).await;
    let job =
        json!({"status": 200, "data": {"_id": "job-1", "activity": "INGEST", "status": "RUNNING"}});
    fake.on(
        "GET",
        "/api/public/v1/jobs/job-1/status",
        Reply::json(200, job.clone()),
    );
    let (result, _) = call(&client, "pdc_get_job_status", json!({"id": "job-1"})).await;
    let mut shown = job.clone();
    shown["connection"] = json!("unknown: the job is RUNNING");
    assert_eq!(result, shown);
    assert_request(
        &fake.requests()[1],
        "GET",
        "/api/public/v1/jobs/job-1/status",
        None,
        PDC.auth,
        None,
    );
}

/// An unknown id is `NOT_FOUND`, the code every vendor's not-found gets.
#[tokio::test]
async fn an_unknown_id_is_not_found() {
    let (fake, client) = setup(&PDC).await;
    fake.on(
        "GET",
        "/api/public/v1/data-sources/65f1c0ffee00000000000000",
        Reply::json(
            404,
            json!({"status": 404, "message": "Data source not found"}),
        ),
    );
    let (result, is_error) = call(
        &client,
        "pdc_get_data_source",
        json!({"id": "65f1c0ffee00000000000000"}),
    )
    .await;
    assert!(is_error);
    assert_eq!(
        result,
        json!({"error": {"provider": "pdc", "status": 404, "code": "NOT_FOUND",
            "message": "Data source not found",
            "hint": "nothing with that name or id exists: list first to see what does"}})
    );
}

#[tokio::test]
async fn vendor_message_lists_become_one_message() {
    let (fake, client) = setup(&PDC).await;
    fake.on(
        "PATCH",
        "/api/public/v1/data-sources/x",
        Reply::json(400, json!({"status": 400, "message": ["property foo should not exist", "port must be a string"]})),
    );
    let (result, is_error) = call(
        &client,
        "pdc_update_data_source",
        json!({"id": "x", "note": "n"}),
    )
    .await;
    assert!(is_error);
    assert_eq!(
        result,
        json!({"error": {"provider": "pdc", "status": 400,
            "message": "property foo should not exist; port must be a string",
            "hint": "the vendor rejected the request: fix what the message names and call again"}})
    );
}

#[tokio::test]
async fn validation_errors_send_nothing() {
    let (fake, client) = setup(&PDC).await;
    let cases = [
        (
            "pdc_create_data_sources",
            json!({"data_sources": []}),
            "data_sources",
            "must hold at least one item",
        ),
        (
            "pdc_create_data_sources",
            json!({"data_sources": [{"databaseType": "AWS"}]}),
            "data_sources[0].resourceName",
            "is required",
        ),
        (
            "pdc_create_data_sources",
            json!({"data_sources": [{"resourceName": "a"}]}),
            "data_sources[0].databaseType",
            "is required",
        ),
        (
            "pdc_create_data_sources",
            json!({"data_sources": [{"resourceName": " ", "databaseType": "AWS"}]}),
            "data_sources[0].resourceName",
            "must not be empty",
        ),
        (
            "pdc_create_data_sources",
            json!({"data_sources": [{"resourceName": "a", "databaseType": "AWS"}, {"resourceName": "a", "databaseType": "AWS"}]}),
            "data_sources[1].resourceName",
            "repeats an earlier item's name",
        ),
        (
            "pdc_create_data_sources",
            json!({"data_sources": [{"resourceName": "a", "databaseType": "AWS"},
                {"resourceName": "b", "databaseType": "S3"}]}),
            "data_sources[1].databaseType",
            "use AWS for S3 and S3-compatible stores (PDC does not take S3 or AWS_S3)",
        ),
        (
            "pdc_create_data_sources",
            json!({"data_sources": [{"resourceName": "a", "databaseType": "aws_s3"}]}),
            "data_sources[0].databaseType",
            "use AWS for S3 and S3-compatible stores (PDC does not take S3 or AWS_S3)",
        ),
        ("pdc_get_data_source", json!({}), "id", "is required"),
        (
            "pdc_get_data_source",
            json!({"id": ""}),
            "id",
            "must not be empty",
        ),
        (
            "pdc_update_data_source",
            json!({"id": "x"}),
            "arguments",
            "name at least one attribute to change besides id",
        ),
        (
            "pdc_update_data_source",
            json!({"id": "x", "port": true}),
            "port",
            "wrong type: expected a port (a number or a string), got boolean",
        ),
        (
            "pdc_update_data_source",
            json!({"id": "x", "port": "http"}),
            "port",
            "must be a port number 1-65535 (a number or a string of digits)",
        ),
        (
            "pdc_update_data_source",
            json!({"id": "x", "port": "70000"}),
            "port",
            "must be a port number 1-65535 (a number or a string of digits)",
        ),
        (
            "pdc_update_data_source",
            json!({"id": "x", "port": 70000}),
            "port",
            "must be a port number 1-65535 (a number or a string of digits)",
        ),
        (
            "pdc_update_data_source",
            json!({"id": "x", "port": 0}),
            "port",
            "must be a port number 1-65535 (a number or a string of digits)",
        ),
        (
            "pdc_update_data_source",
            json!({"id": "x", "port": 5432.5}),
            "port",
            "must be a port number 1-65535 (a number or a string of digits)",
        ),
        (
            "pdc_update_data_source",
            json!({"id": "x", "port": " 5432"}),
            "port",
            "must be a port number 1-65535 (a number or a string of digits)",
        ),
        (
            "pdc_create_data_sources",
            json!({"data_sources": [{"resourceName": "a", "databaseType": "MYSQL", "port": 3306},
                {"resourceName": "b", "databaseType": "MYSQL", "port": -1}]}),
            "data_sources[1].port",
            "must be a port number 1-65535 (a number or a string of digits)",
        ),
        (
            "pdc_create_data_sources",
            json!({"data_sources": [{"resourceName": "a", "databaseType": "MYSQL", "port": ["3306"]}]}),
            "data_sources[0].port",
            "wrong type: expected a port (a number or a string), got sequence",
        ),
        (
            "pdc_update_data_source",
            json!({"id": "x", "totalCapacity": -1}),
            "totalCapacity",
            "must be a number ≥ 0",
        ),
        (
            "pdc_update_data_source",
            json!({"id": "x", "incremental": "yes"}),
            "incremental",
            "wrong type: expected a boolean",
        ),
        (
            "pdc_update_data_source",
            json!({"id": "x", "includePatterns": "a"}),
            "includePatterns",
            "wrong type",
        ),
        (
            "pdc_update_data_source",
            json!({"id": "x", "hostname": "h"}),
            "hostname",
            "is not a known argument",
        ),
        (
            "pdc_get_data_sources_by_ids",
            json!({"ids": []}),
            "ids",
            "must hold at least one item",
        ),
        (
            "pdc_get_data_sources_by_ids",
            json!({"ids": ["a", ""]}),
            "ids[1]",
            "must not be empty",
        ),
        (
            "pdc_filter_data_sources",
            json!({"resourceNames": []}),
            "resourceNames",
            "must hold at least one item",
        ),
        (
            "pdc_filter_data_sources",
            json!({"databaseTypes": ["MYSQL", " "]}),
            "databaseTypes[1]",
            "must not be empty",
        ),
        (
            "pdc_filter_data_sources",
            json!({"resourceNames": ["*"], "limit": 0}),
            "limit",
            "must be between 1 and 10000",
        ),
        (
            "pdc_filter_data_sources",
            json!({"resourceNames": ["*"], "limit": 10001}),
            "limit",
            "must be between 1 and 10000",
        ),
        (
            "pdc_filter_data_sources",
            json!({"resourceNames": ["*"], "skip": -1}),
            "skip",
            "wrong type: expected a whole number ≥ 0",
        ),
        (
            "pdc_filter_data_sources",
            json!({"resourceNames": ["*"], "detail": "brief"}),
            "detail",
            "must be compact or full",
        ),
        (
            "pdc_filter_data_sources",
            json!({"resourceNames": ["*"], "fields": "resourceName"}),
            "fields",
            "must be a non-empty list of field names",
        ),
        (
            "pdc_filter_data_sources",
            json!({"resourceNames": ["*"], "fields": ["resourceName", ""]}),
            "fields[1]",
            "must be a field name",
        ),
        (
            "pdc_get_job_status",
            json!({"id": "a\u{0007}"}),
            "id",
            "must not contain control or invisible characters",
        ),
    ];
    for (tool, args, field, reason) in cases {
        assert_invalid(&client, "pdc", tool, args, field, reason).await;
    }
    assert!(
        fake.requests().is_empty(),
        "nothing sent: {:#?}",
        fake.requests()
    );
}

// ---- evidence: wrapped filters, jobs, Keycloak ---------------------------------------------

/// Clients that run against real instances wrap the filter (`{"filters": {...}}`). An instance
/// that refuses the wrapper as an unknown property gets the top-level form once, and keeps it.
#[tokio::test]
async fn the_filter_is_wrapped_and_falls_back_once_to_the_top_level() {
    let (fake, client) = setup(&PDC).await;
    let path = "/api/public/v1/data-sources/filter";
    fake.once(
        "POST",
        path,
        Reply::json(
            400,
            json!({"status": 400, "message": ["property filters should not exist"]}),
        ),
    );
    let page = json!({"status": 200, "data": [{"_id": "a", "resourceName": "prod-db"}], "pageInfo": {"totalCount": 1}});
    fake.on("POST", path, Reply::json(200, page));
    for _ in 0..2 {
        let (result, is_error) = call(
            &client,
            "pdc_filter_data_sources",
            json!({"resourceNames": ["prod-*"]}),
        )
        .await;
        assert!(!is_error, "{result}");
        assert_eq!(
            result,
            json!({"items": [{"id": "a", "name": "prod-db", "type": null, "status": "untested"}],
                "total": 1})
        );
    }
    let filters: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == path)
        .collect();
    let wrapped = json!({"filters": {"resourceNames": ["prod-*"]}});
    let top_level = json!({"resourceNames": ["prod-*"]});
    assert_eq!(filters.len(), 3, "{filters:#?}");
    for (r, body) in filters.iter().zip([&wrapped, &top_level, &top_level]) {
        assert_request(
            r,
            "POST",
            path,
            Some("skip=0&limit=50"),
            PDC.auth,
            Some(body.clone()),
        );
    }
}

/// A refusal for another reason is the answer: no second form is sent.
#[tokio::test]
async fn only_a_refused_wrapper_brings_the_second_form() {
    let (fake, client) = setup(&PDC).await;
    let path = "/api/public/v1/data-sources/filter";
    fake.on(
        "POST",
        path,
        Reply::json(
            400,
            json!({"status": 400, "message": "limit must not be greater than 10000"}),
        ),
    );
    let (result, is_error) = call(
        &client,
        "pdc_filter_data_sources",
        json!({"resourceNames": ["*"]}),
    )
    .await;
    assert!(is_error);
    assert_eq!(result["error"]["status"], 400);
    assert!(
        result["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("this request's shape is not confirmed by public evidence"),
        "the filter's top-level form is assumed: {result}"
    );
    assert_eq!(fake.requests().iter().filter(|r| r.path == path).count(), 1);
}

fn stored_source() -> serde_json::Value {
    json!({"status": 200, "data": {"_id": "65f1c0ffee0000000000000a", "pId": 7,
        "resourceName": "orders-pg", "fqdnId": "orders-pg", "databaseType": "POSTGRES",
        "host": "pg.example.com", "port": "5432", "databaseName": "orders", "userName": "pdc",
        "password": "enc:S3NT1NEL", "secretKey": "enc:S3NT1NEL", "schemaNames": ["public"],
        "createdAt": "2026-11-01T10:00:00Z", "lastTestConnectionId": null}})
}

/// Starting a job on a stored source: its settings without credentials and with
/// `resourceId`, then (with wait) its status until it ends.
#[tokio::test]
async fn jobs_start_on_a_stored_source_and_are_followed_to_their_end() {
    let (fake, client) = setup(&PDC).await;
    let id = "65f1c0ffee0000000000000a";
    let source_path = format!("/api/public/v1/data-sources/{id}");
    fake.on("GET", &source_path, Reply::json(200, stored_source()));
    let settings = json!({"resourceName": "orders-pg", "fqdnId": "orders-pg", "databaseType": "POSTGRES",
        "host": "pg.example.com", "port": "5432", "databaseName": "orders", "userName": "pdc",
        "schemaNames": ["public"], "resourceId": id});
    for (tool, path, job) in [
        (
            "pdc_test_data_source_connection",
            "/api/public/v1/jobs/execute/test-connection",
            "9dc010b5000000000000aa01",
        ),
        (
            "pdc_ingest_metadata",
            "/api/public/v1/jobs/execute/metadata/ingest",
            "9dc010b5000000000000aa02",
        ),
    ] {
        fake.clear();
        fake.on(
            "POST",
            path,
            Reply::json(200, json!({"status": 200, "data": {"jobId": job}})),
        );
        let status_path = format!("/api/public/v1/jobs/{job}/status");
        let running = json!({"workerId": "w1", "activity": "TEST", "status": "RUNNING"});
        let done =
            json!({"workerId": "w1", "activity": "TEST", "status": "COMPLETED", "duration": 3.2});
        fake.once("GET", &status_path, Reply::json(200, running));
        fake.on("GET", &status_path, Reply::json(200, done.clone()));
        let (result, is_error) = call(&client, tool, json!({"id": id, "wait": true})).await;
        assert!(!is_error, "{tool}: {result}");
        assert_eq!(
            result,
            json!({"job_id": job, "status": "COMPLETED", "job": done, "connection": "works"}),
            "{tool}"
        );
        let sent: Vec<Recorded> = fake
            .requests()
            .into_iter()
            .filter(|r| !r.path.ends_with("/auth"))
            .collect();
        assert_eq!(sent.len(), 4, "{tool}: {sent:#?}");
        assert_request(&sent[0], "GET", &source_path, None, PDC.auth, None);
        assert_request(
            &sent[1],
            "POST",
            path,
            None,
            PDC.auth,
            Some(settings.clone()),
        );
        assert_request(&sent[2], "GET", &status_path, None, PDC.auth, None);
        assert_request(&sent[3], "GET", &status_path, None, PDC.auth, None);
        // Without wait: the job id at once.
        fake.clear();
        let (result, _) = call(&client, tool, json!({"id": id})).await;
        assert_eq!(
            result,
            json!({"job_id": job, "answer": {"status": 200, "data": {"jobId": job}},
                "connection": "unknown: the job has not ended; follow job_id with pdc_get_job_status"})
        );
        assert_eq!(fake.requests().len(), 2, "the read and the start");
    }
    // An ingest needs the source's type; nothing is started without it.
    let mut untyped = stored_source();
    untyped["data"]
        .as_object_mut()
        .unwrap()
        .remove("databaseType");
    fake.on("GET", &source_path, Reply::json(200, untyped));
    fake.clear();
    let (result, is_error) = call(&client, "pdc_ingest_metadata", json!({"id": id})).await;
    assert!(is_error);
    assert_eq!(result["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(result["error"]["field"], "id");
    assert_eq!(fake.requests().len(), 1, "only the read");
    // No job id in the answer: said so.
    fake.on("GET", &source_path, Reply::json(200, stored_source()));
    fake.on(
        "POST",
        "/api/public/v1/jobs/execute/test-connection",
        Reply::json(200, json!({"status": 200, "data": {}})),
    );
    let (result, _) = call(
        &client,
        "pdc_test_data_source_connection",
        json!({"id": id}),
    )
    .await;
    assert_eq!(result["error"]["code"], "UNEXPECTED_RESPONSE", "{result}");
}

/// The jobs are sent without credentials, which only PDC's internal route is seen to accept:
/// a refusal says so, and what to do meanwhile.
#[tokio::test]
async fn a_job_refused_for_its_credentials_says_what_to_do() {
    let (fake, client) = setup(&PDC).await;
    let id = "65f1c0ffee0000000000000a";
    fake.on(
        "GET",
        &format!("/api/public/v1/data-sources/{id}"),
        Reply::json(200, stored_source()),
    );
    for (tool, path) in [
        (
            "pdc_test_data_source_connection",
            "/api/public/v1/jobs/execute/test-connection",
        ),
        (
            "pdc_ingest_metadata",
            "/api/public/v1/jobs/execute/metadata/ingest",
        ),
    ] {
        fake.on(
            "POST",
            path,
            Reply::json(
                400,
                json!({"status": 400, "message": ["password should not be empty"]}),
            ),
        );
        let (result, is_error) = call(&client, tool, json!({"id": id})).await;
        assert!(is_error, "{tool}");
        assert_eq!(
            result,
            json!({"error": {"provider": "pdc", "status": 400,
                "message": "password should not be empty",
                "hint": "the vendor rejected the request: fix what the message names and call again; note: this request's shape is not confirmed by public evidence (The job is sent the data source's stored settings and resourceId without its credentials, PDC finding the stored ones from resourceId. That is how PDC's UI starts jobs on its internal route (POST /api/start-job), not seen on this public route, whose reference lists the credentials among the body's optional fields); if PDC says credentials are missing, start this job from PDC's UI (the data source's Test Connection or Ingest Schemas), which uses the stored credentials: run the server with --trace-vendor FILE and report what the vendor answered"}}),
            "{tool}"
        );
    }
}

/// PDC's public API v3 has no per-job routes: the job tools are refused before anything is
/// sent (no login either), a dry run too, naming what to set; the other tools are sent.
#[tokio::test]
async fn job_tools_are_refused_at_v3_before_anything_is_sent() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "POST",
        "/api/public/v3/auth",
        Reply::json(200, json!({"data": {"accessToken": TOKEN}})),
    );
    let client = client(&[
        ("PDC_BASE_URL", &fake.url("/api/public/v3/")),
        ("PDC_USERNAME", "catalog admin"),
        ("PDC_PASSWORD", SENTINEL),
    ])
    .await;
    let id = "65f1c0ffee0000000000000a";
    for tool in ["pdc_test_data_source_connection", "pdc_ingest_metadata"] {
        for args in [
            json!({"id": id, "wait": true}),
            json!({"id": id}),
            json!({"id": id, "dry_run": true}),
        ] {
            let (result, is_error) = call(&client, tool, args.clone()).await;
            assert!(is_error, "{tool} {args}");
            assert_eq!(
                result,
                json!({"error": {"provider": "pdc", "code": "INVALID_CONFIGURATION",
                    "message": format!("{tool} cannot work with PDC_BASE_URL as set: PDC's public API v3 has no per-job routes (jobs/execute/test-connection, jobs/execute/metadata/ingest): it starts jobs in bulk and answers no job id to follow"),
                    "hint": "set PDC_BASE_URL to the same server's /api/public/v2 (or /api/public/v1) for the job tools; nothing was sent"}}),
                "{tool} {args}"
            );
        }
    }
    assert!(fake.requests().is_empty(), "{:#?}", fake.requests());
    fake.on(
        "GET",
        &format!("/api/public/v3/data-sources/{id}"),
        Reply::json(200, stored_source()),
    );
    let (_, is_error) = call(&client, "pdc_get_data_source", json!({"id": id})).await;
    assert!(!is_error);
    let paths: Vec<String> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/public/v3/auth",
            "/api/public/v3/data-sources/65f1c0ffee0000000000000a"
        ]
    );
}

/// An instance without `POST /auth`, or whose `/auth` answers without a token, is logged in at
/// its Keycloak token endpoint, under the same root as the API.
#[tokio::test]
async fn a_login_without_a_token_falls_back_to_keycloak() {
    for first in [
        Reply::json(200, json!({"message": "OK", "data": {}})),
        Reply::json(404, json!({"message": "Cannot POST /api/public/v1/auth"})),
    ] {
        let fake = FakeUpstream::start().await;
        fake.on("POST", "/pdc/api/public/v1/auth", first);
        fake.on(
            "POST",
            "/pdc/keycloak/realms/pdc/protocol/openid-connect/token",
            Reply::json(
                200,
                json!({"access_token": "kc-token-0123456789abcdef", "token_type": "Bearer"}),
            ),
        );
        fake.on(
            "GET",
            "/pdc/api/public/v1/data-sources/x1",
            Reply::json(200, json!({"status": 200, "data": {"_id": "x1"}})),
        );
        let client = client(&[
            ("PDC_BASE_URL", &fake.url("/pdc/api/public/v1")),
            ("PDC_USERNAME", "catalog admin"),
            ("PDC_PASSWORD", SENTINEL),
        ])
        .await;
        let (result, is_error) = call(&client, "pdc_get_data_source", json!({"id": "x1"})).await;
        assert!(!is_error, "{result}");
        let sent = fake.requests();
        assert_eq!(sent.len(), 3);
        let keycloak = &sent[1];
        assert_eq!(
            keycloak.path,
            "/pdc/keycloak/realms/pdc/protocol/openid-connect/token"
        );
        assert_eq!(
            keycloak.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            keycloak.body,
            format!(
                "client_id=pdc-client&grant_type=password&username=catalog+admin&password={SENTINEL}"
            )
        );
        assert_eq!(
            sent[2].header("authorization"),
            Some("Bearer kc-token-0123456789abcdef")
        );
    }
    // Keycloak refusing too is a refused credential.
    let fake = FakeUpstream::start().await;
    fake.on("POST", "/api/public/v1/auth", Reply::json(404, json!({})));
    fake.on(
        "POST",
        "/keycloak/realms/pdc/protocol/openid-connect/token",
        Reply::json(
            401,
            json!({"error": "invalid_grant", "error_description": "Invalid user credentials"}),
        ),
    );
    let client = PDC.client(&fake).await;
    let (result, _) = call(&client, "pdc_get_data_source", json!({"id": "x1"})).await;
    assert_eq!(result["error"]["code"], "AUTHENTICATION_FAILED", "{result}");
    assert_eq!(result["error"]["status"], 401);
}

// ---- list pages: compact rows, total, next, fields, detail, the result budget ---------------

const FILTER: &str = "/api/public/v1/data-sources/filter";

/// Data sources as PDC's filter answers them: a host under `host`, `container`, `endpoint` or
/// `uri`, and the jobs that last tested and ingested them.
fn data_sources() -> Vec<serde_json::Value> {
    vec![
        json!({"_id": "65f1c0ffee0000000000000a", "resourceName": "prod-postgres-primary",
            "databaseType": "POSTGRES", "host": "pg-primary.prod.acme.example", "port": "5432",
            "userName": "pdc_scan", "password": "enc:hunter2", "schemaNames": ["public", "sales"],
            "lastTestConnectionId": "9dc010b50000000000000002",
            "lastIngestId": "9dc010b50000000000000001"}),
        json!({"_id": "65f1c0ffee0000000000000b", "resourceName": "clickstream-lake",
            "databaseType": "AWS", "host": "", "region": "eu-west-1", "container": "clicks"}),
        json!({"_id": "65f1c0ffee0000000000000c", "resourceName": "events-api",
            "databaseType": "REST", "endpoint": "https://events.acme.example/api",
            "lastTestConnectionId": null, "lastIngestId": "9dc010b50000000000000003"}),
        json!({"_id": "65f1c0ffee0000000000000d", "resourceName": "docs-share",
            "databaseType": "SMB", "uri": "smb://files.acme.example/docs",
            "lastTestConnectionId": "9dc010b50000000000000004"}),
        json!({"_id": "65f1c0ffee0000000000000e", "resourceName": "untyped"}),
    ]
}

fn data_source_rows() -> Vec<serde_json::Value> {
    vec![
        json!({"id": "65f1c0ffee0000000000000a", "name": "prod-postgres-primary",
            "type": "POSTGRES", "status": "unknown", "host": "pg-primary.prod.acme.example",
            "port": 5432, "last_test_job": "9dc010b50000000000000002",
            "last_ingest_job": "9dc010b50000000000000001"}),
        json!({"id": "65f1c0ffee0000000000000b", "name": "clickstream-lake", "type": "AWS",
            "status": "untested", "host": "clicks"}),
        json!({"id": "65f1c0ffee0000000000000c", "name": "events-api", "type": "REST",
            "status": "untested", "host": "https://events.acme.example/api",
            "last_ingest_job": "9dc010b50000000000000003"}),
        json!({"id": "65f1c0ffee0000000000000d", "name": "docs-share", "type": "SMB",
            "status": "unknown", "host": "smb://files.acme.example/docs",
            "last_test_job": "9dc010b50000000000000004"}),
        json!({"id": "65f1c0ffee0000000000000e", "name": "untyped", "type": null,
            "status": "untested"}),
    ]
}

/// PDC's answer to a page.
fn filter_page(items: &[serde_json::Value], total: u64) -> serde_json::Value {
    json!({"status": 200, "data": items, "pageInfo": {"totalCount": total}})
}

/// Each page asks PDC for that page; `total` is PDC's; `next` is the next page's exact
/// arguments (the filter kept), and following it walks the list to its end.
#[tokio::test]
async fn filter_pages_compact_rows_and_next_walks_the_list() {
    let (fake, client) = setup(&PDC).await;
    let (all, rows) = (data_sources(), data_source_rows());
    for range in [0..2, 2..4, 4..5] {
        fake.once(
            "POST",
            FILTER,
            Reply::json(200, filter_page(&all[range], 5)),
        );
    }
    let (first, is_error) = call(
        &client,
        "pdc_filter_data_sources",
        json!({"resourceNames": ["*"], "limit": 2}),
    )
    .await;
    assert!(!is_error, "{first}");
    assert_eq!(
        first,
        json!({"items": rows[0..2], "total": 5,
            "next": {"resourceNames": ["*"], "limit": 2, "skip": 2}})
    );
    let (second, _) = call(&client, "pdc_filter_data_sources", first["next"].clone()).await;
    assert_eq!(
        second,
        json!({"items": rows[2..4], "total": 5,
            "next": {"resourceNames": ["*"], "limit": 2, "skip": 4}})
    );
    let (last, _) = call(&client, "pdc_filter_data_sources", second["next"].clone()).await;
    assert_eq!(last, json!({"items": rows[4..5], "total": 5}));

    // Besides the pages, a row's last test job is read (its status): counted apart.
    let (jobs, reqs): (Vec<_>, Vec<_>) = fake
        .requests()
        .into_iter()
        .partition(|r| r.path.contains("/jobs/"));
    let _ = jobs;
    assert_eq!(reqs.len(), 4, "{reqs:#?}");
    for (r, query) in reqs[1..]
        .iter()
        .zip(["skip=0&limit=2", "skip=2&limit=2", "skip=4&limit=2"])
    {
        assert_request(
            r,
            "POST",
            FILTER,
            Some(query),
            PDC.auth,
            Some(json!({"filters": {"resourceNames": ["*"]}})),
        );
    }
}

/// No filter is every data source (`resourceNames: ["*"]`, as PDC's community clients list
/// them), and the next page keeps asking for every one.
#[tokio::test]
async fn no_filter_lists_every_data_source() {
    let (fake, client) = setup(&PDC).await;
    let (all, rows) = (data_sources(), data_source_rows());
    fake.once("POST", FILTER, Reply::json(200, filter_page(&all, 5)));
    fake.once("POST", FILTER, Reply::json(200, filter_page(&all[0..2], 5)));
    fake.once("POST", FILTER, Reply::json(200, filter_page(&all[2..4], 5)));
    let (every, is_error) = call(&client, "pdc_filter_data_sources", json!({})).await;
    assert!(!is_error, "{every}");
    assert_eq!(every, json!({"items": rows, "total": 5}));
    let (first, _) = call(&client, "pdc_filter_data_sources", json!({"limit": 2})).await;
    assert_eq!(
        first,
        json!({"items": rows[0..2], "total": 5, "next": {"limit": 2, "skip": 2}})
    );
    let (second, _) = call(&client, "pdc_filter_data_sources", first["next"].clone()).await;
    assert_eq!(
        second,
        json!({"items": rows[2..4], "total": 5, "next": {"limit": 2, "skip": 4}})
    );
    // Besides the pages, a row's last test job is read (its status): counted apart.
    let (jobs, reqs): (Vec<_>, Vec<_>) = fake
        .requests()
        .into_iter()
        .partition(|r| r.path.contains("/jobs/"));
    let _ = jobs;
    assert_eq!(reqs.len(), 4, "{reqs:#?}");
    for (r, query) in reqs[1..]
        .iter()
        .zip(["skip=0&limit=50", "skip=0&limit=2", "skip=2&limit=2"])
    {
        assert_request(
            r,
            "POST",
            FILTER,
            Some(query),
            PDC.auth,
            Some(json!({"filters": {"resourceNames": ["*"]}})),
        );
    }
    let tool = datasource_mcp::surfaces::definition::tool(
        datasource_mcp::providers::operation("pdc_filter_data_sources").unwrap(),
    );
    let props = &tool.input_schema["properties"];
    assert!(tool.input_schema.get("required").is_none());
    for name in ["resourceNames", "databaseTypes"] {
        assert_eq!(props[name]["minItems"], 1, "{name}");
    }
    let names = props["resourceNames"]["description"].as_str().unwrap();
    assert!(names.contains("prod-*"), "{names}");
}

/// PDC takes `port` only as a string: a number (or digits with a leading zero) is sent as the
/// port's digits, in a create and in an update.
#[tokio::test]
async fn a_port_is_sent_as_a_string_however_it_is_given() {
    let (fake, client) = setup(&PDC).await;
    fake.on(
        "POST",
        "/api/public/v1/data-sources",
        Reply::json(201, json!({"status": 201, "data": []})),
    );
    fake.on(
        "PATCH",
        "/api/public/v1/data-sources/65f1c0ffee0000000000000a",
        Reply::json(200, json!({"status": 200})),
    );
    let (result, is_error) = call(
        &client,
        "pdc_create_data_sources",
        json!({"data_sources": [
            {"resourceName": "orders", "databaseType": "POSTGRES", "host": "pg.internal", "port": 5432},
            {"resourceName": "shop", "databaseType": "MYSQL", "host": "my.internal", "port": "03306"},
            {"resourceName": "lake", "databaseType": "AWS", "region": "eu-west-1"}]}),
    )
    .await;
    assert!(!is_error, "{result}");
    for port in [json!(6432), json!("6432")] {
        let (result, is_error) = call(
            &client,
            "pdc_update_data_source",
            json!({"id": "65f1c0ffee0000000000000a", "port": port}),
        )
        .await;
        assert!(!is_error, "{result}");
        assert_eq!(result, json!({"status": 200}));
    }
    // Besides the pages, a row's last test job is read (its status): counted apart.
    let (jobs, reqs): (Vec<_>, Vec<_>) = fake
        .requests()
        .into_iter()
        .partition(|r| r.path.contains("/jobs/"));
    let _ = jobs;
    assert_eq!(reqs.len(), 4, "{reqs:#?}");
    assert_request(
        &reqs[1],
        "POST",
        "/api/public/v1/data-sources",
        None,
        PDC.auth,
        Some(json!([
            {"resourceName": "orders", "databaseType": "POSTGRES", "host": "pg.internal", "port": "5432"},
            {"resourceName": "shop", "databaseType": "MYSQL", "host": "my.internal", "port": "3306"},
            {"resourceName": "lake", "databaseType": "AWS", "region": "eu-west-1"}])),
    );
    for r in &reqs[2..] {
        assert_request(
            r,
            "PATCH",
            "/api/public/v1/data-sources/65f1c0ffee0000000000000a",
            None,
            PDC.auth,
            Some(json!({"port": "6432"})),
        );
    }
    for name in ["pdc_create_data_sources", "pdc_update_data_source"] {
        let full = datasource_mcp::surfaces::definition::input_schema(
            datasource_mcp::providers::operation(name).unwrap(),
            false,
        );
        let props = &full["properties"];
        let port = if name == "pdc_update_data_source" {
            &props["changes"]["properties"]["port"]
        } else {
            &props["data_sources"]["items"]["properties"]["port"]
        };
        assert_eq!(
            port,
            &json!({"anyOf": [{"type": "integer", "minimum": 1, "maximum": 65535},
                {"type": "string", "pattern": "^[0-9]{1,5}$"}],
                "description": "1-65535."}),
            "{name}"
        );
    }
}

/// `fields` gives only the named fields, `detail: full` PDC's objects (secrets masked);
/// neither reaches PDC, both carry into `next`.
#[tokio::test]
async fn filter_fields_and_full_detail() {
    let (fake, client) = setup(&PDC).await;
    let all = data_sources();
    fake.once("POST", FILTER, Reply::json(200, filter_page(&all[0..2], 2)));
    let (picked, _) = call(
        &client,
        "pdc_filter_data_sources",
        json!({"databaseTypes": ["POSTGRES", "AWS"], "fields": ["resourceName", "port", "schemaNames"]}),
    )
    .await;
    assert_eq!(
        picked,
        json!({"items": [
            {"resourceName": "prod-postgres-primary", "port": "5432",
                "schemaNames": ["public", "sales"]},
            {"resourceName": "clickstream-lake"}], "total": 2})
    );
    fake.once("POST", FILTER, Reply::json(200, filter_page(&all[0..1], 3)));
    let (full, _) = call(
        &client,
        "pdc_filter_data_sources",
        json!({"resourceNames": ["*-primary", "events-*", "docs-*"], "detail": "full", "limit": 1}),
    )
    .await;
    let mut masked = all[0].clone();
    masked["password"] = json!("***");
    assert_eq!(
        full,
        json!({"items": [masked], "total": 3, "next": {"resourceNames": ["*-primary", "events-*", "docs-*"],
            "detail": "full", "limit": 1, "skip": 1}})
    );
    fake.once("POST", FILTER, Reply::json(200, filter_page(&all[2..3], 3)));
    let (next, _) = call(&client, "pdc_filter_data_sources", full["next"].clone()).await;
    assert_eq!(
        next,
        json!({"items": [all[2]], "total": 3, "next": {"resourceNames": ["*-primary", "events-*", "docs-*"],
            "detail": "full", "limit": 1, "skip": 2}})
    );

    // Besides the pages, a row's last test job is read (its status): counted apart.
    let (jobs, reqs): (Vec<_>, Vec<_>) = fake
        .requests()
        .into_iter()
        .partition(|r| r.path.contains("/jobs/"));
    let _ = jobs;
    assert_eq!(reqs.len(), 4, "{reqs:#?}");
    assert_request(
        &reqs[1],
        "POST",
        FILTER,
        Some("skip=0&limit=50"),
        PDC.auth,
        Some(json!({"filters": {"databaseTypes": ["POSTGRES", "AWS"]}})),
    );
    for (r, query) in reqs[2..].iter().zip(["skip=0&limit=1", "skip=1&limit=1"]) {
        assert_request(
            r,
            "POST",
            FILTER,
            Some(query),
            PDC.auth,
            Some(json!({"filters": {"resourceNames": ["*-primary", "events-*", "docs-*"]}})),
        );
    }
}

/// A page over the result budget keeps whole items, says so, and `next` starts right after
/// the last item kept: the next call asks PDC from there.
#[tokio::test]
async fn filter_cut_by_the_result_budget() {
    let (fake, client) = setup(&PDC).await;
    let source = |i: usize| {
        json!({"_id": format!("65f1c0ffee000000000{i:05}"), "resourceName": format!("source-{i:04}"),
            "databaseType": "POSTGRES", "host": format!("pg-{i:04}.acme.example"), "port": "5432",
            "description": format!("{i:04} ").repeat(80), "schemaNames": ["public"],
            "lastTestConnectionId": format!("9dc010b5000000000{i:07}")})
    };
    let first: Vec<_> = (0..300).map(source).collect();
    fake.once("POST", FILTER, Reply::json(200, filter_page(&first, 700)));
    let called = json!({"databaseTypes": ["POSTGRES"], "detail": "full", "limit": 300});
    let (result, text_len) = call_page(&client, "pdc_filter_data_sources", called.clone()).await;
    let kept = assert_cut(&result, text_len, &first, Some(700), &called, 0, 300);
    assert!(kept > 50, "{kept}");

    let second: Vec<_> = (kept..kept + 300).map(source).collect();
    fake.once("POST", FILTER, Reply::json(200, filter_page(&second, 700)));
    let (result, text_len) =
        call_page(&client, "pdc_filter_data_sources", result["next"].clone()).await;
    assert_eq!(result["items"][0], source(kept));
    assert_cut(
        &result,
        text_len,
        &second,
        Some(700),
        &called,
        kept as u64,
        300,
    );

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3, "{reqs:#?}");
    for (r, query) in reqs[1..].iter().zip([
        "skip=0&limit=300".to_string(),
        format!("skip={kept}&limit=300"),
    ]) {
        assert_request(
            r,
            "POST",
            FILTER,
            Some(&query),
            PDC.auth,
            Some(json!({"filters": {"databaseTypes": ["POSTGRES"]}})),
        );
    }
}
