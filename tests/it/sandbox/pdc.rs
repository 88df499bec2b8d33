//! The sandbox's Pentaho Data Catalog simulation, directly over HTTP: auth, every data source
//! endpoint, job status, secrets, determinism.

use std::collections::HashMap;

use crate::support::*;
use datasource_mcp::operation::Provider;
use datasource_mcp::sandbox::Sandbox;
use datasource_mcp::sandbox::pdc::{
    JOB_INGEST_COMPLETED, JOB_INGEST_RUNNING, JOB_TEST_CONNECTION_COMPLETED,
    JOB_TEST_CONNECTION_FAILED,
};
use serde_json::{Value, json};

const SEEDED: [&str; 12] = [
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
    "prod-redshift",
];

/// Secret values stored in the seed: none may ever appear in an answer.
const SEEDED_SECRETS: [&str; 12] = [
    "sandbox-pg-primary-pw",
    "sandbox-pg-replica-pw",
    "sandbox-mysql-pw",
    "sandbox-pg-staging-pw",
    "sandbox-snowflake-pw",
    "sandbox-s3-secret-key",
    "sandbox-oracle-pw",
    "sandbox-mssql-pw",
    "sandbox-mongo-pw",
    "sandbox-bigquery-oauth-secret",
    "sandbox-s3-eu-secret-key",
    "sandbox-redshift-pw",
];

fn unauthorized() -> Value {
    json!({"status": 401, "message": "Unauthorized"})
}

fn bad_auth() -> Value {
    json!({"status": 400, "message": "Invalid Request Parameters"})
}

fn id(n: u64) -> String {
    format!("9dc0da7a{n:016x}")
}

async fn sandbox() -> Sandbox {
    Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap()
}

/// PDC's calls, by path under its API base.
trait PdcApi {
    async fn get(&self, path: &str) -> (u16, Value);
    async fn post(&self, path: &str, body: Value) -> (u16, Value);
    async fn patch(&self, path: &str, body: Value) -> (u16, Value);
    /// `POST /data-sources/filter{query}` with `{"filters": filters}`.
    async fn post_to_filter(&self, query: &str, filters: Value) -> (u16, Value);
    /// The `resourceName`s a filter returns.
    async fn filter_names(&self, query: &str, filters: Value) -> Vec<String>;
}

impl PdcApi for SandboxApi {
    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    async fn post_to_filter(&self, query: &str, filters: Value) -> (u16, Value) {
        self.post(
            &format!("/data-sources/filter{query}"),
            json!({"filters": filters}),
        )
        .await
    }

    async fn filter_names(&self, query: &str, filters: Value) -> Vec<String> {
        let (status, answer) = self.post_to_filter(query, filters).await;
        assert_eq!(status, 200, "{answer}");
        names(&answer)
    }
}

fn names(answer: &Value) -> Vec<String> {
    answer["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["resourceName"].as_str().unwrap().to_string())
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---- auth ----------------------------------------------------------------------------------

#[tokio::test]
async fn auth_issues_tokens_for_the_password_grant_only() {
    let sb = sandbox().await;
    let vendor = access(&sb, Provider::Pdc);
    let base = &vendor.base_url;
    assert!(base.ends_with("/pdc/api/public/v1"), "{base}");
    let env: HashMap<_, _> = vendor.env.iter().cloned().collect();
    assert_eq!(env["PDC_BASE_URL"], *base);
    let http = http();
    let form = [
        ("username", env["PDC_USERNAME"].as_str()),
        ("password", env["PDC_PASSWORD"].as_str()),
        ("client_id", "pdc-client"),
        ("grant_type", "password"),
        ("scope", "openid profile email"),
    ];

    let (status, ok) = pdc_login(&http, base, &form).await;
    assert_eq!(status, 200);
    assert_eq!(ok["message"], "OK");
    let token = ok["data"]["accessToken"].as_str().unwrap();
    assert_eq!(ok, json!({"message": "OK", "data": {"accessToken": token}}));
    let (again, _) = pdc_login(&http, base, &form).await;
    assert_eq!(again, 200, "logging in twice is fine");

    for missing in 0..form.len() {
        let partial: Vec<_> = form
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != missing)
            .map(|(_, f)| *f)
            .collect();
        assert_eq!(
            pdc_login(&http, base, &partial).await,
            (400, bad_auth()),
            "without {}",
            form[missing].0
        );
    }
    for (field, wrong) in [
        ("client_id", "other-client"),
        ("grant_type", "client_credentials"),
    ] {
        let changed: Vec<_> = form
            .iter()
            .map(|&(k, v)| if k == field { (k, wrong) } else { (k, v) })
            .collect();
        assert_eq!(pdc_login(&http, base, &changed).await, (400, bad_auth()));
    }
    for (field, wrong) in [("username", "someone-else"), ("password", "wrong")] {
        let changed: Vec<_> = form
            .iter()
            .map(|&(k, v)| if k == field { (k, wrong) } else { (k, v) })
            .collect();
        assert_eq!(
            pdc_login(&http, base, &changed).await,
            (401, unauthorized())
        );
    }
    // A JSON body is not the form the endpoint reads.
    let json_login = http
        .post(format!("{base}/auth"))
        .json(
            &json!({"username": env["PDC_USERNAME"], "password": env["PDC_PASSWORD"],
            "client_id": "pdc-client", "grant_type": "password", "scope": "openid profile email"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(json_login.status().as_u16(), 400);
}

#[tokio::test]
async fn every_endpoint_wants_an_issued_bearer_token() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let get = reqwest::Method::GET;
    let post = reqwest::Method::POST;
    let patch = reqwest::Method::PATCH;
    let calls = [
        (get.clone(), format!("/data-sources/{}", id(1)), None),
        (patch, format!("/data-sources/{}", id(1)), Some(json!({}))),
        (
            post.clone(),
            "/data-sources".into(),
            Some(json!({"resourceName": "x", "databaseType": "MYSQL"})),
        ),
        (
            post.clone(),
            "/data-sources/by-ids".into(),
            Some(json!({"ids": [id(1)]})),
        ),
        (
            post.clone(),
            "/data-sources/filter".into(),
            Some(json!({"filters": {"resourceNames": ["*"]}})),
        ),
        (get, format!("/jobs/{JOB_INGEST_COMPLETED}/status"), None),
        (
            post.clone(),
            "/jobs/execute/test-connection".into(),
            Some(json!({"resourceId": id(1)})),
        ),
        (
            post,
            "/jobs/execute/metadata/ingest".into(),
            Some(json!({"resourceId": id(1), "databaseType": "POSTGRES"})),
        ),
    ];
    let raw = pdc.credential.clone();
    let stranger = "Bearer eyJhbGciOiJSUzI1NiJ9.not-issued".to_string();
    for (method, path, body) in &calls {
        for token in [None, Some(raw.as_str()), Some(stranger.as_str())] {
            assert_eq!(
                pdc.send_raw(
                    method.clone(),
                    path,
                    token,
                    body.as_ref().map(Value::to_string).as_deref()
                )
                .await,
                (401, unauthorized()),
                "{method} {path} with {token:?}"
            );
        }
    }
    // The pre-issued token works as is.
    let alt: HashMap<_, _> = access(&sb, Provider::Pdc)
        .alternatives
        .iter()
        .cloned()
        .collect();
    let pre_issued = format!("Bearer {}", alt["PDC_ACCESS_TOKEN"]);
    let (status, _) = pdc
        .send_raw(
            reqwest::Method::GET,
            &format!("/data-sources/{}", id(1)),
            Some(&pre_issued),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // Nothing was created by the refused calls.
    assert!(
        pdc.filter_names("", json!({"resourceNames": ["x"]}))
            .await
            .is_empty()
    );
}

// ---- get -----------------------------------------------------------------------------------

#[tokio::test]
async fn get_shows_one_source_without_secrets_and_404s_unknown_ids() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let (status, primary) = pdc.get(&format!("/data-sources/{}", id(1))).await;
    assert_eq!(status, 200);
    assert_eq!(
        primary,
        json!({"status": 200, "data": {
            "_id": "9dc0da7a0000000000000001", "pId": 1,
            "resourceName": "prod-postgres-primary", "fqdnId": "prod-postgres-primary",
            "databaseType": "POSTGRES", "databaseName": "orders",
            "host": "pg-primary.prod.acme.example", "port": "5432", "userName": "pdc_scan",
            "schemaNames": ["public", "sales"],
            "description": "Primary OLTP database of the order service",
            "note": "Owned by the platform team", "status": "ACTIVE", "affinityId": "DEFAULT",
            "includePatterns": ["public.*", "sales.*"], "excludePatterns": ["public.tmp_*"],
            "availableForMigration": false, "availableForWriting": false,
            "availableForDataMastering": true, "incremental": true, "totalCapacity": 512,
            "lastTestConnectionId": JOB_TEST_CONNECTION_COMPLETED,
            "lastIngestId": JOB_INGEST_COMPLETED,
            "createdAt": "2025-01-01T09:00:00.000Z", "updatedAt": "2025-02-01T09:00:00.000Z"}})
    );

    let (_, lake) = pdc.get(&format!("/data-sources/{}", id(6))).await;
    let lake = &lake["data"];
    assert_eq!(lake["resourceName"], "AWS S3 Data Lake");
    assert_eq!(lake["databaseType"], "AWS");
    assert_eq!(lake["region"], "us-east-1");
    assert_eq!(lake["container"], "company-datalake-bucket");
    assert_eq!(lake["path"], "/data/warehouse");
    assert_eq!(lake["accessId"], "AKIASANDBOXPDC000001");
    assert!(lake.get("secretKey").is_none(), "{lake}");

    for unknown in ["9dc0da7a00000000000000ff", "not-an-id"] {
        assert_eq!(
            pdc.get(&format!("/data-sources/{unknown}")).await,
            (
                404,
                json!({"status": 404, "message": "Data source not found"})
            )
        );
    }
}

// ---- create --------------------------------------------------------------------------------

#[tokio::test]
async fn create_takes_one_object_or_an_array_and_answers_an_array() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let (status, one) = pdc
        .post(
            "/data-sources",
            json!({"resourceName": "ops-postgres", "databaseType": "POSTGRES",
                "host": "pg.ops.acme.example", "port": "5432", "userName": "ops",
                "password": SENTINEL}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        one,
        json!({"status": 201, "data": [{
            "_id": id(13), "pId": 13, "resourceName": "ops-postgres", "fqdnId": "ops-postgres",
            "databaseType": "POSTGRES", "host": "pg.ops.acme.example", "port": "5432",
            "userName": "ops", "status": "ACTIVE", "affinityId": "DEFAULT",
            "includePatterns": [], "excludePatterns": [],
            "availableForMigration": false, "availableForWriting": false,
            "availableForDataMastering": false, "incremental": false,
            "createdAt": "2025-06-01T12:00:01.000Z", "updatedAt": "2025-06-01T12:00:01.000Z"}]})
    );
    let (status, got) = pdc.get(&format!("/data-sources/{}", id(13))).await;
    assert_eq!(status, 200);
    assert_eq!(got["data"], one["data"][0]);

    // The vendor's own example: an S3 source with nested objects and explicit fqdnId.
    let (status, many) = pdc
        .post(
            "/data-sources",
            json!([
                {"resourceName": "AWS S3 Landing", "fqdnId": "aws-s3-landing",
                    "databaseType": "AWS", "affinityId": "EU", "status": "INACTIVE",
                    "region": "us-east-1", "container": "landing-bucket",
                    "accessId": "AKIAEXAMPLE", "secretKey": SENTINEL, "path": "/in",
                    "location": {"country": "US"}, "costPerTb": {"price": null, "frequency": "month"}},
                {"resourceName": "ops-mysql", "databaseType": "MYSQL", "includePatterns": ["ops.*"],
                    "totalCapacity": 12.5, "owners": [{"name": "ops"}], "users": ["ops"]}
            ]),
        )
        .await;
    assert_eq!(status, 201, "{many}");
    assert_eq!(many["status"], 201);
    assert_eq!(names(&many), ["AWS S3 Landing", "ops-mysql"]);
    let landing = &many["data"][0];
    assert_eq!(landing["_id"], id(14));
    assert_eq!(landing["pId"], 14);
    assert_eq!(
        landing["fqdnId"], "aws-s3-landing",
        "a given fqdnId is kept"
    );
    assert_eq!(landing["affinityId"], "EU");
    assert_eq!(landing["status"], "INACTIVE");
    assert_eq!(
        landing["costPerTb"],
        json!({"price": null, "frequency": "month"})
    );
    assert!(landing.get("secretKey").is_none());
    let mysql = &many["data"][1];
    assert_eq!(mysql["_id"], id(15));
    assert_eq!(mysql["includePatterns"], json!(["ops.*"]));
    assert_eq!(mysql["totalCapacity"], 12.5);
    assert_eq!(mysql["createdAt"], "2025-06-01T12:00:03.000Z");
    assert!(!many.to_string().contains(SENTINEL));

    // New sources come after the seed, in creation order.
    let all = pdc.filter_names("", json!({"resourceNames": ["*"]})).await;
    let mut expected = strings(&SEEDED);
    expected.extend(strings(&["ops-postgres", "AWS S3 Landing", "ops-mysql"]));
    assert_eq!(all, expected);
}

#[tokio::test]
async fn create_refuses_bad_items_and_creates_nothing_then() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let refused = |message: Value| (400, json!({"status": 400, "message": message}));

    assert_eq!(
        pdc.post(
            "/data-sources",
            json!({"resourceName": "prod-redshift", "databaseType": "REDSHIFT"})
        )
        .await,
        refused(json!(
            "{\"databaseType\":\"REDSHIFT\",\"resourceName\":\"prod-redshift\"} Duplicate key violation on the requested collection: Index '_id_'"
        ))
    );
    // Repeated inside one array, and with a good item before it: nothing is created.
    assert_eq!(
        pdc.post(
            "/data-sources",
            json!([{"resourceName": "twin", "databaseType": "MYSQL"},
                {"resourceName": "twin", "databaseType": "MYSQL"}])
        )
        .await,
        refused(json!(
            "{\"databaseType\":\"MYSQL\",\"resourceName\":\"twin\"} Duplicate key violation on the requested collection: Index '_id_'"
        ))
    );
    assert_eq!(
        pdc.post(
            "/data-sources",
            json!({"resourceName": "x", "databaseType": "MYSQL", "hostname": "h"})
        )
        .await,
        refused(json!(["property hostname should not exist"]))
    );
    assert_eq!(
        pdc.post(
            "/data-sources",
            json!({"_id": "9dc0da7a0000000000000099", "resourceName": "x", "databaseType": "MYSQL"})
        )
        .await,
        refused(json!(["property _id should not exist"])),
        "ids are the server's"
    );
    assert_eq!(
        pdc.post("/data-sources", json!({"databaseType": "MYSQL"}))
            .await,
        refused(json!(["resourceName should not be empty"]))
    );
    assert_eq!(
        pdc.post(
            "/data-sources",
            json!({"resourceName": "", "databaseType": ""})
        )
        .await,
        refused(json!([
            "resourceName should not be empty",
            "databaseType should not be empty"
        ]))
    );
    assert_eq!(
        pdc.post(
            "/data-sources",
            json!({"resourceName": "x", "databaseType": "MYSQL", "port": 3306, "incremental": "yes"})
        )
        .await,
        refused(json!([
            "incremental must be a boolean",
            "port must be a string"
        ]))
    );
    // Array items are named by index; one bad item stops the whole batch.
    assert_eq!(
        pdc.post(
            "/data-sources",
            json!([
                {"resourceName": "batch-ok", "databaseType": "MYSQL"},
                {"databaseType": "MYSQL", "bogus": 1},
                {"resourceName": "batch-ok-2", "databaseType": "MYSQL", "includePatterns": "a*"},
                "not an object"
            ])
        )
        .await,
        refused(json!([
            "[1] property bogus should not exist",
            "[1] resourceName should not be empty",
            "[2] includePatterns must be an array of strings",
            "[3] data source must be an object"
        ]))
    );
    assert_eq!(
        pdc.post("/data-sources", json!([])).await,
        refused(json!(["data sources must contain at least 1 elements"]))
    );
    assert_eq!(
        pdc.post("/data-sources", json!("prod")).await,
        refused(json!([
            "request body must be an object or an array of objects"
        ]))
    );
    assert!(
        pdc.filter_names("", json!({"resourceNames": ["twin", "batch-*", "x"]}))
            .await
            .is_empty()
    );
    assert_eq!(
        pdc.filter_names("", json!({"resourceNames": ["*"]})).await,
        SEEDED
    );
    // The next created source takes the next id: refused batches used none.
    let (status, created) = pdc
        .post(
            "/data-sources",
            json!({"resourceName": "twin", "databaseType": "MYSQL"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["data"][0]["_id"], id(13));
}

// ---- patch ---------------------------------------------------------------------------------

#[tokio::test]
async fn patch_changes_only_what_it_is_given() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let path = format!("/data-sources/{}", id(1));
    let (_, before) = pdc.get(&path).await;

    let (status, after) = pdc
        .patch(
            &path,
            json!({"description": "Primary (moved)", "port": "6432", "incremental": false,
                "totalCapacity": 1024.5, "excludePatterns": ["audit.*"], "password": SENTINEL,
                "warehouse": "WH"}),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["status"], 200);
    let mut expected = before["data"].clone();
    expected["description"] = json!("Primary (moved)");
    expected["port"] = json!("6432");
    expected["incremental"] = json!(false);
    expected["totalCapacity"] = json!(1024.5);
    expected["excludePatterns"] = json!(["audit.*"]);
    expected["warehouse"] = json!("WH");
    expected["updatedAt"] = json!("2025-06-01T12:00:01.000Z");
    assert_eq!(after["data"], expected);
    assert!(!after.to_string().contains(SENTINEL));
    assert_eq!(pdc.get(&path).await.1, after, "the change is stored");

    // Arrays replace wholesale, including with an empty array.
    let (_, replaced) = pdc
        .patch(&path, json!({"includePatterns": ["reporting.*"]}))
        .await;
    assert_eq!(replaced["data"]["includePatterns"], json!(["reporting.*"]));
    assert_eq!(replaced["data"]["excludePatterns"], json!(["audit.*"]));
    let (_, emptied) = pdc.patch(&path, json!({"includePatterns": []})).await;
    assert_eq!(emptied["data"]["includePatterns"], json!([]));
    assert_eq!(emptied["data"]["updatedAt"], "2025-06-01T12:00:03.000Z");

    // An empty body changes nothing, not even updatedAt.
    assert_eq!(pdc.patch(&path, json!({})).await, (200, emptied.clone()));
    let (status, no_body) = pdc.send(reqwest::Method::PATCH, &path, None).await;
    assert_eq!((status, no_body), (200, emptied));
}

#[tokio::test]
async fn patch_refuses_unknown_attributes_and_wrong_types() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let path = format!("/data-sources/{}", id(2));
    let (_, before) = pdc.get(&path).await;
    let refused = |messages: &[&str]| (400, json!({"status": 400, "message": messages}));

    for field in [
        "resourceName",
        "databaseType",
        "fqdnId",
        "status",
        "_id",
        "colour",
    ] {
        let message = format!("property {field} should not exist");
        assert_eq!(
            pdc.patch(&path, json!({field: "x"})).await,
            refused(&[&message])
        );
    }
    assert_eq!(
        pdc.patch(&path, json!({"port": 5433})).await,
        refused(&["port must be a string"])
    );
    assert_eq!(
        pdc.patch(&path, json!({"note": null})).await,
        refused(&["note must be a string"])
    );
    assert_eq!(
        pdc.patch(&path, json!({"availableForWriting": "true"}))
            .await,
        refused(&["availableForWriting must be a boolean"])
    );
    assert_eq!(
        pdc.patch(&path, json!({"totalCapacity": "1TB"})).await,
        refused(&["totalCapacity must be a number"])
    );
    assert_eq!(
        pdc.patch(&path, json!({"includePatterns": "public.*"}))
            .await,
        refused(&["includePatterns must be an array of strings"])
    );
    assert_eq!(
        pdc.patch(&path, json!({"excludePatterns": ["a", 1]})).await,
        refused(&["excludePatterns must be an array of strings"])
    );
    // Several problems are all named (by property name order); a refused PATCH changes nothing, good fields included.
    assert_eq!(
        pdc.patch(
            &path,
            json!({"description": "changed", "host": 1, "colour": "red"})
        )
        .await,
        refused(&["property colour should not exist", "host must be a string"])
    );
    assert_eq!(
        pdc.patch(&path, json!(["description"])).await,
        refused(&["request body must be an object"])
    );
    assert_eq!(pdc.get(&path).await.1, before);

    assert_eq!(
        pdc.patch(
            "/data-sources/9dc0da7a00000000000000ff",
            json!({"note": "x"})
        )
        .await,
        (
            404,
            json!({"status": 404, "message": "Data source not found"})
        )
    );
}

// ---- by-ids --------------------------------------------------------------------------------

#[tokio::test]
async fn by_ids_answers_in_the_order_asked_and_skips_unknown_ids() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let (status, found) = pdc
        .post(
            "/data-sources/by-ids",
            json!({"ids": [id(12), "9dc0da7a00000000000000ff", id(3), id(1), id(3)]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(found["status"], 200);
    assert_eq!(
        names(&found),
        [
            "prod-redshift",
            "prod-mysql-orders",
            "prod-postgres-primary"
        ]
    );
    assert_eq!(
        found["data"][2],
        pdc.get(&format!("/data-sources/{}", id(1))).await.1["data"]
    );
    assert_eq!(
        pdc.post("/data-sources/by-ids", json!({"ids": ["nope"]}))
            .await,
        (200, json!({"status": 200, "data": []}))
    );

    let at_least_one = (
        400,
        json!({"status": 400, "message": ["ids must contain at least 1 elements"]}),
    );
    assert_eq!(
        pdc.post("/data-sources/by-ids", json!({"ids": []})).await,
        at_least_one
    );
    assert_eq!(
        pdc.post("/data-sources/by-ids", json!({})).await,
        at_least_one
    );
    assert_eq!(
        pdc.post("/data-sources/by-ids", json!({"ids": [1]})).await,
        (
            400,
            json!({"status": 400, "message": ["each value in ids must be a string"]})
        )
    );
}

// ---- filter --------------------------------------------------------------------------------

#[tokio::test]
async fn filter_matches_wildcards_case_insensitively() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let by_name = |patterns: &[&str]| json!({"resourceNames": patterns});

    assert_eq!(
        pdc.filter_names("", by_name(&["finance-oracle"])).await,
        ["finance-oracle"]
    );
    assert!(
        pdc.filter_names("", by_name(&["finance"])).await.is_empty(),
        "no wildcard: exact match only"
    );
    assert_eq!(
        pdc.filter_names("", by_name(&["prod-*"])).await,
        [
            "prod-postgres-primary",
            "prod-postgres-replica",
            "prod-mysql-orders",
            "prod-redshift"
        ]
    );
    assert_eq!(
        pdc.filter_names("", by_name(&["*-primary"])).await,
        ["prod-postgres-primary"]
    );
    assert_eq!(
        pdc.filter_names("", by_name(&["*postgres*"])).await,
        [
            "prod-postgres-primary",
            "prod-postgres-replica",
            "staging-postgres"
        ]
    );
    assert_eq!(pdc.filter_names("", by_name(&["*"])).await, SEEDED);
    // Case is ignored, in patterns and in values.
    assert_eq!(
        pdc.filter_names("", by_name(&["*S3*"])).await,
        ["AWS S3 Data Lake", "archive-s3-eu"]
    );
    assert_eq!(
        pdc.filter_names("", by_name(&["PROD-REDSHIFT"])).await,
        ["prod-redshift"]
    );
    assert_eq!(
        pdc.filter_names("", json!({"databaseTypes": ["aws"]}))
            .await,
        ["AWS S3 Data Lake", "archive-s3-eu"]
    );
    assert_eq!(
        pdc.filter_names("", json!({"databaseTypes": ["*SQL*"]}))
            .await,
        ["prod-mysql-orders", "hr-sqlserver"]
    );
    // Patterns of one filter are OR'ed ...
    assert_eq!(
        pdc.filter_names("", by_name(&["*oracle*", "dev-*", "no-such"]))
            .await,
        ["finance-oracle", "dev-mongodb"]
    );
    assert_eq!(
        pdc.filter_names("", json!({"databaseTypes": ["MONGODB", "BIGQUERY"]}))
            .await,
        ["dev-mongodb", "marketing-bigquery"]
    );
    // ... the two filters AND'ed; an empty array is no filter.
    assert_eq!(
        pdc.filter_names(
            "",
            json!({"resourceNames": ["prod-*"], "databaseTypes": ["POSTGRES"]})
        )
        .await,
        ["prod-postgres-primary", "prod-postgres-replica"]
    );
    assert_eq!(
        pdc.filter_names(
            "",
            json!({"resourceNames": ["prod-*", "*-eu"], "databaseTypes": ["AWS", "REDSHIFT"]})
        )
        .await,
        ["archive-s3-eu", "prod-redshift"]
    );
    assert_eq!(
        pdc.filter_names(
            "",
            json!({"resourceNames": [], "databaseTypes": ["ORACLE"]})
        )
        .await,
        ["finance-oracle"]
    );
    // Whole records come back, without secrets.
    let (_, answer) = pdc
        .post_to_filter("", by_name(&["prod-postgres-primary"]))
        .await;
    assert_eq!(
        answer,
        json!({"status": 200, "data": [pdc.get(&format!("/data-sources/{}", id(1))).await.1["data"]],
            "pageInfo": {"totalCount": 1}})
    );
}

#[tokio::test]
async fn filter_pages_with_skip_and_limit() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let all = json!({"resourceNames": ["*"]});
    assert_eq!(
        pdc.filter_names("?skip=2&limit=3", all.clone()).await,
        [
            "prod-mysql-orders",
            "staging-postgres",
            "analytics-snowflake"
        ]
    );
    assert_eq!(
        pdc.filter_names("?limit=2", json!({"resourceNames": ["prod-*"]}))
            .await,
        ["prod-postgres-primary", "prod-postgres-replica"]
    );
    assert_eq!(
        pdc.filter_names("?skip=2", json!({"resourceNames": ["prod-*"]}))
            .await,
        ["prod-mysql-orders", "prod-redshift"]
    );
    assert_eq!(
        pdc.filter_names("?skip=11&limit=10000", all.clone()).await,
        ["prod-redshift"]
    );
    assert!(
        pdc.filter_names("?skip=12&limit=1", all.clone())
            .await
            .is_empty()
    );
    assert_eq!(
        pdc.filter_names("?skip=0&limit=1", all.clone()).await,
        ["prod-postgres-primary"]
    );

    let refused = |messages: &[&str]| (400, json!({"status": 400, "message": messages}));
    let page = |query: &'static str| pdc.post_to_filter(query, all.clone());
    assert_eq!(
        page("?limit=0").await,
        refused(&["limit must not be less than 1"])
    );
    assert_eq!(
        page("?limit=10001").await,
        refused(&["limit must not be greater than 10000"])
    );
    assert_eq!(
        page("?limit=ten").await,
        refused(&["limit must be an integer number"])
    );
    assert_eq!(
        page("?limit=2.5").await,
        refused(&["limit must be an integer number"])
    );
    assert_eq!(
        page("?skip=-1").await,
        refused(&["skip must not be less than 0"])
    );
    assert_eq!(
        page("?skip=x&limit=0").await,
        refused(&[
            "skip must be an integer number",
            "limit must not be less than 1"
        ])
    );
}

#[tokio::test]
async fn filter_needs_at_least_one_filter_inside_filters() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let none = (
        400,
        json!({"status": 400, "message": "At least one filter must be provided"}),
    );
    for body in [
        json!({}),
        json!({"filters": {}}),
        json!({"filters": {"resourceNames": []}}),
        json!({"filters": {"resourceNames": [], "databaseTypes": [], "ids": []}}),
    ] {
        assert_eq!(pdc.post("/data-sources/filter", body).await, none);
    }
    assert_eq!(
        pdc.send(reqwest::Method::POST, "/data-sources/filter", None)
            .await,
        none
    );
    let refused = |messages: &[&str]| (400, json!({"status": 400, "message": messages}));
    // The filters go inside `filters`: at the top level they are unknown properties.
    assert_eq!(
        pdc.post("/data-sources/filter", json!({"resourceNames": ["prod-*"]}))
            .await,
        refused(&["property resourceNames should not exist"])
    );
    assert_eq!(
        pdc.post(
            "/data-sources/filter",
            json!({"filters": {"resourceNames": ["*"]}, "skip": 0})
        )
        .await,
        refused(&["property skip should not exist"])
    );
    assert_eq!(
        pdc.post("/data-sources/filter", json!({"filters": ["prod-*"]}))
            .await,
        refused(&["filters must be an object"])
    );
    assert_eq!(
        pdc.post_to_filter("", json!({"resourceNames": "prod-*"}))
            .await,
        refused(&["filters.resourceNames must be an array of strings"])
    );
    assert_eq!(
        pdc.post_to_filter("", json!({"names": ["prod-*"]})).await,
        refused(&["filters.property names should not exist"])
    );
}

/// `ids` are data-source `_id`s (ObjectIds); one that is not an ObjectId fails the cast, a
/// 500. `pageInfo.totalCount` counts every match, before skip and limit.
#[tokio::test]
async fn filter_by_ids_and_the_total_before_paging() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    assert_eq!(
        pdc.filter_names(
            "",
            json!({"ids": [id(12), id(3), "9dc0da7a00000000000000ff"]})
        )
        .await,
        ["prod-mysql-orders", "prod-redshift"],
        "in creation order; an unknown ObjectId matches nothing"
    );
    assert_eq!(
        pdc.filter_names("", json!({"ids": [id(1).to_uppercase()]}))
            .await,
        ["prod-postgres-primary"]
    );
    // Filters AND'ed, ids included.
    assert_eq!(
        pdc.filter_names(
            "",
            json!({"ids": [id(1), id(3), id(6)], "databaseTypes": ["POSTGRES", "AWS"]})
        )
        .await,
        ["prod-postgres-primary", "AWS S3 Data Lake"]
    );
    for not_object_id in [
        "prod-postgres-primary",
        "9dc0da7a-5eed-4000-8000-000000000001",
    ] {
        assert_eq!(
            pdc.post_to_filter("", json!({"ids": [id(1), not_object_id]}))
                .await,
            (
                500,
                json!({"status": 500, "message": format!(
                    "Cast to ObjectId failed for value \"{not_object_id}\" (type string) at path \"_id\" for model \"DataSource\""
                )})
            )
        );
    }

    let (status, page) = pdc
        .post_to_filter("?skip=1&limit=2", json!({"resourceNames": ["prod-*"]}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(names(&page), ["prod-postgres-replica", "prod-mysql-orders"]);
    assert_eq!(page["pageInfo"], json!({"totalCount": 4}));
    let (_, past_end) = pdc
        .post_to_filter("?skip=20", json!({"resourceNames": ["*"]}))
        .await;
    assert_eq!(
        past_end,
        json!({"status": 200, "data": [], "pageInfo": {"totalCount": 12}})
    );
}

// ---- jobs ----------------------------------------------------------------------------------

#[tokio::test]
async fn finished_jobs_report_their_outcome() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let user = json!({"name": "data.steward", "email": "data.steward@acme.example",
        "firstName": "Dana", "lastName": "Steward"});
    let scope = |n: u64, title: &str| {
        json!({"dataSources": [{"_id": id(n), "title": title}],
            "scope": [{"type": "DATA_SOURCE", "_id": id(n), "title": title}]})
    };
    let status = |job: &str| format!("/jobs/{job}/status");

    let (code, ingest) = pdc.get(&status(JOB_INGEST_COMPLETED)).await;
    assert_eq!(code, 200);
    // The bare job, as the v2 reference shows it: no `{status, data}`, no progress.
    assert_eq!(
        ingest,
        json!({
            "_id": JOB_INGEST_COMPLETED, "workerId": "9dc00b0b-5eed-4000-8000-000000000001",
            "workerName": "pdc-worker-01", "activity": "INGEST", "status": "COMPLETED",
            "user": user, "createdAt": "2025-03-01T02:00:00.000Z", "duration": 184250,
            "scope": scope(1, "prod-postgres-primary")})
    );
    assert_eq!(
        pdc.get(&status(JOB_INGEST_COMPLETED)).await.1,
        ingest,
        "a finished job stays as it is"
    );

    let (_, tested) = pdc.get(&status(JOB_TEST_CONNECTION_COMPLETED)).await;
    assert_eq!(
        tested,
        json!({
            "_id": JOB_TEST_CONNECTION_COMPLETED, "workerId": "9dc00b0b-5eed-4000-8000-000000000002",
            "workerName": "pdc-worker-02", "activity": "TEST_CONNECTION", "status": "COMPLETED",
            "user": user, "createdAt": "2025-03-01T01:55:00.000Z", "duration": 1840,
            "scope": scope(1, "prod-postgres-primary")})
    );

    let (_, failed) = pdc.get(&status(JOB_TEST_CONNECTION_FAILED)).await;
    assert_eq!(
        failed,
        json!({
            "_id": JOB_TEST_CONNECTION_FAILED, "workerId": "9dc00b0b-5eed-4000-8000-000000000002",
            "workerName": "pdc-worker-02", "activity": "TEST_CONNECTION", "status": "FAILED",
            "user": user, "createdAt": "2025-03-02T10:15:00.000Z", "duration": 30012,
            "error": "ORA-12541: TNS:no listener (oracle-fin.corp.acme.example:1521)",
            "scope": scope(7, "finance-oracle")})
    );

    // The seeded sources point at these jobs.
    let (_, primary) = pdc.get(&format!("/data-sources/{}", id(1))).await;
    assert_eq!(primary["data"]["lastIngestId"], JOB_INGEST_COMPLETED);
    assert_eq!(
        primary["data"]["lastTestConnectionId"],
        JOB_TEST_CONNECTION_COMPLETED
    );
    let (_, oracle) = pdc.get(&format!("/data-sources/{}", id(7))).await;
    assert_eq!(
        oracle["data"]["lastTestConnectionId"],
        JOB_TEST_CONNECTION_FAILED
    );
    let (_, snowflake) = pdc.get(&format!("/data-sources/{}", id(5))).await;
    assert_eq!(snowflake["data"]["lastIngestId"], JOB_INGEST_RUNNING);

    assert_eq!(
        pdc.get("/jobs/9dc010b500000000000000ff/status").await,
        (404, json!({"status": 404, "message": "Job not found"}))
    );
}

#[tokio::test]
async fn the_running_job_completes_on_the_third_poll() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let path = format!("/jobs/{JOB_INGEST_RUNNING}/status");
    let mut polls = Vec::new();
    for _ in 0..4 {
        let (code, job) = pdc.get(&path).await;
        assert_eq!(code, 200);
        polls.push(job);
    }
    let seen: Vec<(Value, Value)> = polls
        .iter()
        .map(|j| (j["status"].clone(), j["duration"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (json!("RUNNING"), json!(42000)),
            (json!("RUNNING"), json!(84000)),
            (json!("COMPLETED"), json!(121500)),
            (json!("COMPLETED"), json!(121500)),
        ]
    );
    assert!(polls.iter().all(|j| j.get("progress").is_none()));
    assert_eq!(polls[0]["activity"], "INGEST");
    assert_eq!(polls[0]["_id"], JOB_INGEST_RUNNING);
    assert_eq!(
        polls[0]["scope"]["dataSources"],
        json!([{"_id": id(5), "title": "analytics-snowflake"}])
    );
    assert!(polls.iter().all(|j| j.get("error").is_none()));

    // Refused polls do not count, and another sandbox starts its own job from the beginning.
    let other = sandbox().await;
    let fresh = SandboxApi::new(&other, Provider::Pdc).await;
    let (code, _) = fresh
        .send_raw(reqwest::Method::GET, &path, Some("Bearer nope"), None)
        .await;
    assert_eq!(code, 401);
    assert_eq!(fresh.get(&path).await.1["status"], "RUNNING");
    assert_eq!(fresh.get(&path).await.1["duration"], 84000);
    assert_eq!(fresh.get(&path).await.1["status"], "COMPLETED");
}

// ---- secrets and determinism ---------------------------------------------------------------

#[tokio::test]
async fn secrets_are_stored_but_never_shown() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let secrets = json!({"password": SENTINEL, "secretKey": SENTINEL, "azureSharedKey": SENTINEL,
        "oauthClientSecret": SENTINEL, "encryptedPassword": SENTINEL, "secretManagerKey": SENTINEL});
    let mut source = json!({"resourceName": "secretive", "databaseType": "AZURE"});
    source
        .as_object_mut()
        .unwrap()
        .extend(secrets.as_object().unwrap().clone());
    let mut answers = Vec::new();
    let (code, created) = pdc.post("/data-sources", source).await;
    assert_eq!(code, 201, "{created}");
    answers.push(created.clone());
    let new_id = created["data"][0]["_id"].as_str().unwrap().to_string();
    for field in [
        "password",
        "secretKey",
        "azureSharedKey",
        "oauthClientSecret",
        "encryptedPassword",
        "secretManagerKey",
    ] {
        assert!(created["data"][0].get(field).is_none(), "{field} shown");
    }
    let patch_secrets = json!({"password": SENTINEL, "secretKey": SENTINEL,
        "azureSharedKey": SENTINEL, "secretManagerKey": SENTINEL});
    for n in [1, 6, 10, 11] {
        let (code, patched) = pdc
            .patch(&format!("/data-sources/{}", id(n)), patch_secrets.clone())
            .await;
        assert_eq!(code, 200);
        answers.push(patched);
    }
    answers.push(pdc.get(&format!("/data-sources/{new_id}")).await.1);
    for n in 1..=12 {
        answers.push(pdc.get(&format!("/data-sources/{}", id(n))).await.1);
    }
    let all_ids: Vec<String> = (1..=12).map(id).chain([new_id]).collect();
    answers.push(
        pdc.post("/data-sources/by-ids", json!({"ids": all_ids}))
            .await
            .1,
    );
    answers.push(
        pdc.post_to_filter("", json!({"resourceNames": ["*"]}))
            .await
            .1,
    );
    let text = serde_json::to_string(&answers).unwrap();
    assert!(!text.contains(SENTINEL));
    for secret in SEEDED_SECRETS {
        assert!(!text.contains(secret), "{secret} shown");
    }
    for field in [
        "\"password\"",
        "\"secretKey\"",
        "\"azureSharedKey\"",
        "\"oauthClientSecret\"",
        "\"encryptedPassword\"",
        "\"secretManagerKey\"",
    ] {
        assert!(!text.contains(field), "{field} shown");
    }
}

#[tokio::test]
async fn every_sandbox_starts_from_the_same_seed() {
    let (a, b) = (sandbox().await, sandbox().await);
    let (pa, pb) = (
        SandboxApi::new(&a, Provider::Pdc).await,
        SandboxApi::new(&b, Provider::Pdc).await,
    );
    let all = json!({"resourceNames": ["*"]});
    let (_, seed_a) = pa.post_to_filter("", all.clone()).await;
    let (_, seed_b) = pb.post_to_filter("", all.clone()).await;
    assert_eq!(seed_a, seed_b);
    assert_eq!(names(&seed_a), SEEDED);
    let ids: Vec<&str> = seed_a["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["_id"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (1..=12).map(id).collect();
    assert_eq!(ids, expected);
    for job in [
        JOB_INGEST_COMPLETED,
        JOB_TEST_CONNECTION_COMPLETED,
        JOB_TEST_CONNECTION_FAILED,
        JOB_INGEST_RUNNING,
    ] {
        let path = format!("/jobs/{job}/status");
        assert_eq!(pa.get(&path).await, pb.get(&path).await);
    }
    // The same writes give the same answers, timestamps included.
    let new = json!({"resourceName": "same", "databaseType": "MYSQL"});
    assert_eq!(
        pa.post("/data-sources", new.clone()).await,
        pb.post("/data-sources", new).await
    );
    let change = json!({"note": "same"});
    let path = format!("/data-sources/{}", id(3));
    assert_eq!(
        pa.patch(&path, change.clone()).await,
        pb.patch(&path, change).await
    );
    // Credentials differ; state is per sandbox.
    assert_ne!(pa.env["PDC_PASSWORD"], pb.env["PDC_PASSWORD"]);
    assert_ne!(pa.env["PDC_USERNAME"], pb.env["PDC_USERNAME"]);
    let (code, _) = pb
        .send_raw(
            reqwest::Method::GET,
            &path,
            Some(&format!("Bearer {}", pa.credential)),
            None,
        )
        .await;
    assert_eq!(code, 401, "a token of one sandbox is not valid in another");
    pa.post(
        "/data-sources",
        json!({"resourceName": "only-in-a", "databaseType": "MYSQL"}),
    )
    .await;
    assert!(
        pb.filter_names("", json!({"resourceNames": ["only-in-a"]}))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn concurrent_creates_never_duplicate_a_name() {
    let sb = sandbox().await;
    let pdc = std::sync::Arc::new(SandboxApi::new(&sb, Provider::Pdc).await);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let pdc = pdc.clone();
        // Ten distinct names, and ten tries of one name.
        let name = if i % 2 == 0 {
            format!("bulk-{i}")
        } else {
            "contested".to_string()
        };
        tasks.push(tokio::spawn(async move {
            pdc.post(
                "/data-sources",
                json!({"resourceName": name, "databaseType": "MYSQL"}),
            )
            .await
            .0
        }));
    }
    let mut codes = Vec::new();
    for task in tasks {
        codes.push(task.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 11);
    assert_eq!(codes.iter().filter(|c| **c == 400).count(), 9);
    let all = pdc.filter_names("", json!({"resourceNames": ["*"]})).await;
    assert_eq!(all.len(), 12 + 11);
    let (_, created) = pdc
        .post_to_filter("", json!({"resourceNames": ["bulk-*", "contested"]}))
        .await;
    let mut pids: Vec<u64> = created["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["pId"].as_u64().unwrap())
        .collect();
    pids.sort();
    assert_eq!(pids, (13..=23).collect::<Vec<_>>(), "ids are not reused");
}

// ---- create: schemas, types, duplicates ----------------------------------------------------

/// `schemaNames` is a list of strings, `port` a string, and `databaseType` any string: the
/// vendor's schema has no enum.
#[tokio::test]
async fn create_takes_schema_names_and_any_database_type() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let (status, created) = pdc
        .post(
            "/data-sources",
            json!([
                {"resourceName": "erp-postgres", "databaseType": "POSTGRES", "configMethod": "credentials",
                    "host": "pg.erp.acme.example", "port": "5432", "databaseName": "erp",
                    "userName": "pdc", "password": SENTINEL, "schemaNames": ["public", "finance"]},
                {"resourceName": "erp-oracle", "databaseType": "ORACLE", "host": "ora.acme.example",
                    "port": "1521", "schemaNames": ["GL"], "driverClassName": "oracle.jdbc.OracleDriver"},
                {"resourceName": "media-azure", "databaseType": "AZURE_BLOB_STORAGE",
                    "accountName": "acmemedia", "azureSharedKey": SENTINEL, "container": "media", "path": "/"},
                {"resourceName": "minio-landing", "databaseType": "AWS", "endpoint": "http://minio.acme.example:9000",
                    "region": "us-east-1", "accessKey": "minio", "secretKey": SENTINEL, "container": "landing"},
                {"resourceName": "some-new-engine", "databaseType": "SOMETHING_PDC_ADDS_LATER"}
            ]),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], 201);
    assert_eq!(
        names(&created),
        [
            "erp-postgres",
            "erp-oracle",
            "media-azure",
            "minio-landing",
            "some-new-engine"
        ]
    );
    assert_eq!(
        created["data"][0]["schemaNames"],
        json!(["public", "finance"])
    );
    assert!(
        created["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["_id"].is_string())
    );
    assert!(!created.to_string().contains(SENTINEL));
    let refused = |messages: &[&str]| (400, json!({"status": 400, "message": messages}));
    assert_eq!(
        pdc.post(
            "/data-sources",
            json!({"resourceName": "x", "databaseType": "POSTGRES", "schemaNames": "public"})
        )
        .await,
        refused(&["schemaNames must be an array of strings"])
    );
    assert_eq!(
        pdc.post(
            "/data-sources",
            json!({"resourceName": "x", "databaseType": "POSTGRES", "port": 5432})
        )
        .await,
        refused(&["port must be a string"])
    );
}

/// PDC answers a taken name with the submitted record, secrets included, then the reason:
/// what the server's redaction has to survive.
#[tokio::test]
async fn a_duplicate_name_echoes_the_submitted_record_password_included() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let record = json!({"resourceName": "prod-postgres-primary", "databaseType": "POSTGRES",
        "host": "pg.acme.example", "port": "5432", "userName": "pdc", "password": SENTINEL});
    let (status, answer) = pdc.post("/data-sources", record.clone()).await;
    assert_eq!(status, 400);
    assert_eq!(answer["status"], 400);
    let message = answer["message"].as_str().unwrap();
    assert_eq!(
        message,
        format!("{record} Duplicate key violation on the requested collection: Index '_id_'")
    );
    assert!(message.contains(SENTINEL));
    // In an array, the record echoed is the one whose name is taken.
    let (status, answer) = pdc
        .post(
            "/data-sources",
            json!([{"resourceName": "fresh", "databaseType": "MYSQL"}, record]),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .starts_with("{\"databaseType\":\"POSTGRES\"")
    );
    assert!(
        pdc.filter_names("", json!({"resourceNames": ["fresh"]}))
            .await
            .is_empty(),
        "all or nothing"
    );
}

// ---- Keycloak ------------------------------------------------------------------------------

/// PDC's Keycloak realm beside the API: `{root}/keycloak/realms/pdc/protocol/openid-connect/token`
/// where `{root}` is the base URL without `/api/public/v1`.
#[tokio::test]
async fn keycloak_issues_tokens_the_api_accepts() {
    let sb = sandbox().await;
    let vendor = access(&sb, Provider::Pdc);
    let root = vendor.base_url.strip_suffix("/api/public/v1").unwrap();
    let url = format!("{root}/keycloak/realms/pdc/protocol/openid-connect/token");
    let env: HashMap<_, _> = vendor.env.iter().cloned().collect();
    let http = http();
    let token = |form: Vec<(&'static str, String)>| {
        let request = http.post(&url).form(&form);
        async move { send(request).await }
    };
    let good = || {
        vec![
            ("client_id", "pdc-client".to_string()),
            ("grant_type", "password".to_string()),
            ("username", env["PDC_USERNAME"].clone()),
            ("password", env["PDC_PASSWORD"].clone()),
        ]
    };
    let (status, issued) = token(good()).await;
    assert_eq!(status, 200, "{issued}");
    let access_token = issued["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        issued,
        json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 300})
    );
    let mut with_scope = good();
    with_scope.push(("scope", "openid profile email".into()));
    assert_eq!(token(with_scope).await.0, 200, "scope is optional");

    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let (status, _) = pdc
        .send_raw(
            reqwest::Method::GET,
            &format!("/data-sources/{}", id(1)),
            Some(&format!("Bearer {access_token}")),
            None,
        )
        .await;
    assert_eq!(status, 200, "a Keycloak token opens the API like /auth's");

    let invalid_grant =
        json!({"error": "invalid_grant", "error_description": "Invalid user credentials"});
    for (field, wrong) in [("password", "wrong"), ("username", "someone-else")] {
        let form = good()
            .into_iter()
            .map(|(k, v)| {
                if k == field {
                    (k, wrong.to_string())
                } else {
                    (k, v)
                }
            })
            .collect();
        assert_eq!(token(form).await, (401, invalid_grant.clone()), "{field}");
    }
    let without = |field: &str| good().into_iter().filter(|(k, _)| *k != field).collect();
    assert_eq!(token(without("password")).await, (401, invalid_grant));
    assert_eq!(
        token(without("client_id")).await,
        (
            401,
            json!({"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"})
        )
    );
    assert_eq!(
        token(without("grant_type")).await,
        (
            400,
            json!({"error": "invalid_request", "error_description": "Missing form parameter: grant_type"})
        )
    );
    let mut client_credentials = without("grant_type");
    client_credentials.push(("grant_type", "client_credentials".into()));
    assert_eq!(
        token(client_credentials).await,
        (
            400,
            json!({"error": "unsupported_grant_type", "error_description": "Unsupported grant_type"})
        )
    );
}

// ---- jobs started through the API ----------------------------------------------------------

/// The job a start answered, by its id.
async fn job_id(answer: (u16, Value)) -> String {
    let (status, body) = answer;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], 200);
    let id = body["data"]["jobId"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 24);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    id
}

/// A test-connection job on a stored source: RUNNING, then COMPLETED; once finished it is the
/// source's `lastTestConnectionId`. Credentials in the body are accepted and ignored.
#[tokio::test]
async fn a_test_connection_job_runs_then_becomes_the_sources_last_test() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let job = job_id(
        pdc.post(
            "/jobs/execute/test-connection",
            json!({"resourceId": id(3), "fqdnId": "prod-mysql-orders", "databaseType": "MYSQL",
                "password": SENTINEL}),
        )
        .await,
    )
    .await;
    assert_eq!(job, "9dc010b50000000000000005", "after the seeded jobs");
    let path = format!("/jobs/{job}/status");
    let (status, running) = pdc.get(&path).await;
    assert_eq!(status, 200);
    assert_eq!(
        running,
        json!({"_id": job, "workerId": "9dc00b0b-5eed-4000-8000-000000000002",
            "workerName": "pdc-worker-02", "activity": "TEST_CONNECTION", "status": "RUNNING",
            "user": {"name": "sandbox.admin", "email": "sandbox.admin@acme.example",
                "firstName": "Sandbox", "lastName": "Admin"},
            "createdAt": "2025-06-01T12:00:01.000Z", "duration": 800,
            "scope": {"dataSources": [{"_id": id(3), "title": "prod-mysql-orders"}],
                "scope": [{"type": "DATA_SOURCE", "_id": id(3), "title": "prod-mysql-orders"}]}})
    );
    let source_path = format!("/data-sources/{}", id(3));
    let source = || pdc.get(&source_path);
    assert!(
        source().await.1["data"]
            .get("lastTestConnectionId")
            .is_none(),
        "not before it finishes"
    );
    let (_, done) = pdc.get(&path).await;
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["duration"], 1840);
    assert!(done.get("error").is_none());
    assert_eq!(source().await.1["data"]["lastTestConnectionId"], job);
    assert_eq!(
        pdc.get(&path).await.1,
        done,
        "a finished job stays as it is"
    );

    // No credentials at all, as PDC's own UI sends: the stored ones are used.
    let second = job_id(
        pdc.post(
            "/jobs/execute/test-connection",
            json!({"resourceId": id(1)}),
        )
        .await,
    )
    .await;
    assert_eq!(second, "9dc010b50000000000000006");
    pdc.get(&format!("/jobs/{second}/status")).await;
    let (_, done) = pdc.get(&format!("/jobs/{second}/status")).await;
    assert_eq!(done["status"], "COMPLETED");
    let (_, primary) = pdc.get(&format!("/data-sources/{}", id(1))).await;
    assert_eq!(primary["data"]["lastTestConnectionId"], second);
    assert_eq!(
        primary["data"]["lastIngestId"], JOB_INGEST_COMPLETED,
        "the other job kind is untouched"
    );
}

/// A host under `.invalid` fails the test; an ingest of an object store fails; an ingest of a
/// database completes on the third poll and becomes the source's `lastIngestId`.
#[tokio::test]
async fn jobs_fail_where_pdc_would_and_ingests_take_three_polls() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let (_, created) = pdc
        .post(
            "/data-sources",
            json!({"resourceName": "gone-db", "databaseType": "POSTGRES", "host": "pg.gone.invalid",
                "port": "5432", "userName": "u", "password": "p"}),
        )
        .await;
    let gone = created["data"][0]["_id"].as_str().unwrap().to_string();
    let unreachable = job_id(
        pdc.post("/jobs/execute/test-connection", json!({"resourceId": gone}))
            .await,
    )
    .await;
    let path = format!("/jobs/{unreachable}/status");
    assert_eq!(pdc.get(&path).await.1["status"], "RUNNING");
    let (_, failed) = pdc.get(&path).await;
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(
        failed["error"],
        "Connection test failed: getaddrinfo ENOTFOUND pg.gone.invalid"
    );
    let (_, record) = pdc.get(&format!("/data-sources/{gone}")).await;
    assert_eq!(
        record["data"]["lastTestConnectionId"], unreachable,
        "a failed job is still the last one"
    );
    // The body's configuration is what is tested: a reachable host passes.
    let fixed = job_id(
        pdc.post(
            "/jobs/execute/test-connection",
            json!({"resourceId": gone, "host": "pg.back.acme.example"}),
        )
        .await,
    )
    .await;
    pdc.get(&format!("/jobs/{fixed}/status")).await;
    assert_eq!(
        pdc.get(&format!("/jobs/{fixed}/status")).await.1["status"],
        "COMPLETED"
    );

    // The ingest body: the source's configuration, resourceId and fqdnId.
    let lake = job_id(
        pdc.post(
            "/jobs/execute/metadata/ingest",
            json!({"resourceId": id(6), "fqdnId": "AWS S3 Data Lake", "databaseType": "AWS",
                "region": "us-east-1", "container": "company-datalake-bucket"}),
        )
        .await,
    )
    .await;
    let path = format!("/jobs/{lake}/status");
    let statuses: Vec<Value> = futures_util::future::join_all((0..3).map(|_| pdc.get(&path)))
        .await
        .into_iter()
        .map(|(_, j)| j["status"].clone())
        .collect();
    let mut sorted = statuses.clone();
    sorted.sort_by_key(|s| s.to_string());
    assert_eq!(
        sorted,
        [json!("FAILED"), json!("RUNNING"), json!("RUNNING")]
    );
    let (_, failed) = pdc.get(&path).await;
    assert_eq!(failed["activity"], "INGEST");
    assert!(
        failed["error"].as_str().unwrap().contains("object store"),
        "{failed}"
    );

    let ingest = job_id(
        pdc.post(
            "/jobs/execute/metadata/ingest",
            json!({"resourceId": id(2), "fqdnId": "prod-postgres-replica", "databaseType": "POSTGRES"}),
        )
        .await,
    )
    .await;
    let path = format!("/jobs/{ingest}/status");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (_, job) = pdc.get(&path).await;
        seen.push((job["status"].clone(), job["duration"].clone()));
        if job["status"] == "RUNNING" {
            let (_, replica) = pdc.get(&format!("/data-sources/{}", id(2))).await;
            assert!(replica["data"].get("lastIngestId").is_none());
        }
    }
    assert_eq!(
        seen,
        [
            (json!("RUNNING"), json!(42000)),
            (json!("RUNNING"), json!(84000)),
            (json!("COMPLETED"), json!(121500))
        ]
    );
    let (_, replica) = pdc.get(&format!("/data-sources/{}", id(2))).await;
    assert_eq!(replica["data"]["lastIngestId"], ingest);
}

#[tokio::test]
async fn job_bodies_need_a_stored_resource_id() {
    let sb = sandbox().await;
    let pdc = SandboxApi::new(&sb, Provider::Pdc).await;
    let refused = |messages: &[&str]| (400, json!({"status": 400, "message": messages}));
    let test = "/jobs/execute/test-connection";
    let ingest = "/jobs/execute/metadata/ingest";
    assert_eq!(
        pdc.post(test, json!({})).await,
        refused(&["resourceId should not be empty"])
    );
    assert_eq!(
        pdc.post(ingest, json!({"resourceId": id(1)})).await,
        refused(&["databaseType should not be empty"])
    );
    assert_eq!(
        pdc.post(ingest, json!({})).await,
        refused(&[
            "resourceId should not be empty",
            "databaseType should not be empty"
        ])
    );
    assert_eq!(
        pdc.post(
            test,
            json!({"resourceId": id(1), "colour": "red", "port": 5432})
        )
        .await,
        refused(&["property colour should not exist", "port must be a string"])
    );
    assert_eq!(
        pdc.post(test, json!({"resourceId": "9dc0da7a00000000000000ff"}))
            .await,
        (
            400,
            json!({"status": 400, "message": "Data source 9dc0da7a00000000000000ff not found"})
        )
    );
    assert_eq!(
        pdc.get("/jobs/9dc010b50000000000000005/status").await.0,
        404,
        "no job was started"
    );
}
