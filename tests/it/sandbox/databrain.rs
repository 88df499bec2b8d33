//! The sandbox's DataBrain simulation, directly over HTTP: every endpoint, its validation and
//! error codes, the seed, and that credentials never come back.

use crate::support::*;
use datasource_mcp::operation::Provider;
use datasource_mcp::sandbox::databrain::{DATASOURCE_TYPES, SEEDED_IDS};
use datasource_mcp::sandbox::{Sandbox, seeded_uuid};
use serde_json::{Value, json};

const SEEDED_NAMES: [&str; 12] = [
    "analytics-postgres",
    "warehouse-snowflake",
    "events-clickhouse",
    "orders-mysql",
    "finance-redshift",
    "marketing-bigquery",
    "logs-elasticsearch",
    "crm-mssql",
    "lake-awss3",
    "reports-csv",
    "search-opensearch",
    "adhoc-trino",
];

/// A client of a fresh sandbox's DataBrain simulation.
async fn databrain() -> SandboxApi {
    SandboxApi::start(Provider::DataBrain).await
}

/// DataBrain's calls on its datasource endpoint.
trait DataBrainApi {
    async fn list(&self, query: &[(&str, &str)]) -> (u16, Value);
    async fn names(&self, query: &[(&str, &str)]) -> Vec<String>;
    async fn create(&self, body: &Value) -> (u16, Value);
    async fn update(&self, body: &Value) -> (u16, Value);
    async fn delete(&self, name: &str) -> (u16, Value);
    async fn sync(&self, body: &Value) -> (u16, Value);
}

impl DataBrainApi for SandboxApi {
    async fn list(&self, query: &[(&str, &str)]) -> (u16, Value) {
        send(self.authed(self.http.get(self.url("")).query(query))).await
    }

    async fn names(&self, query: &[(&str, &str)]) -> Vec<String> {
        let (status, body) = self.list(query).await;
        assert_eq!(status, 200, "{body}");
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                assert_eq!(d.as_object().unwrap().len(), 1, "names only: {d}");
                d["name"].as_str().unwrap().to_string()
            })
            .collect()
    }

    async fn create(&self, body: &Value) -> (u16, Value) {
        send(self.authed(self.http.post(self.url("")).json(body))).await
    }

    async fn update(&self, body: &Value) -> (u16, Value) {
        send(self.authed(self.http.put(self.url("")).json(body))).await
    }

    async fn delete(&self, name: &str) -> (u16, Value) {
        let request = self
            .http
            .delete(self.url(""))
            .query(&[("datasourceName", name)]);
        send(self.authed(request)).await
    }

    async fn sync(&self, body: &Value) -> (u16, Value) {
        send(self.authed(self.http.post(self.url("/sync")).json(body))).await
    }
}

fn error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

fn invalid(message: &str) -> (u16, Value) {
    (400, error("INVALID_REQUEST_BODY", message))
}

fn postgres(name: &str) -> Value {
    json!({"datasourceType": "postgres", "credentials": {"name": name, "host": "pg.acme.example",
        "port": 5432, "username": "u", "password": "p", "database": "db"}})
}

/// The smallest credential set each type accepts: the documented keys for postgres and
/// MSSQL, only `name` for the types whose keys are not documented.
fn minimal_credentials(datasource_type: &str, name: &str) -> Value {
    let mut credentials = match datasource_type {
        "postgres" => {
            json!({"host": "db.acme.example", "port": "5432", "username": "u", "password": "p", "database": "d"})
        }
        "mssql" => {
            json!({"server": "sql.acme.example", "port": 1433, "user": "sa", "password": "p"})
        }
        _ => json!({}),
    };
    credentials["name"] = json!(name);
    credentials
}

#[tokio::test]
async fn start_generates_a_service_token_and_no_alternatives() {
    let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let vendor = access(&sandbox, Provider::DataBrain);
    assert_eq!(vendor.base_url, format!("{}/databrain", sandbox.url()));
    let names: Vec<&str> = vendor.env.iter().map(|(k, _)| *k).collect();
    assert_eq!(names, ["DATABRAIN_BASE_URL", "DATABRAIN_SERVICE_TOKEN"]);
    assert_eq!(vendor.env[0].1, vendor.base_url);
    let token = &vendor.env[1].1;
    assert!(
        token.starts_with("dbn_live_") && token.len() == 9 + 32,
        "{token}"
    );
    assert!(vendor.alternatives.is_empty());
}

#[tokio::test]
async fn every_endpoint_wants_the_service_token() {
    let db = databrain().await;
    let unauthorized = error("AUTHENTICATION_ERROR", "Invalid or missing service token");
    let requests = || {
        [
            db.http.get(db.url("")),
            db.http.post(db.url("")).json(&postgres("new")),
            db.http.put(db.url("")).json(&postgres("orders-mysql")),
            db.http
                .delete(db.url(""))
                .query(&[("datasourceName", "reports-csv")]),
            db.http
                .post(db.url("/sync"))
                .json(&json!({"input": {"datasourceId": SEEDED_IDS[0].1}})),
            db.http
                .post(db.url("/getDatasourceProgress"))
                .json(&json!({"input": {"datasourceId": SEEDED_IDS[8].1}})),
        ]
    };
    for request in requests() {
        assert_eq!(send(request).await, (401, unauthorized.clone()));
    }
    for request in requests() {
        assert_eq!(
            send(request.bearer_auth("dbn_live_wrong")).await,
            (401, unauthorized.clone())
        );
    }
    // The token without the Bearer scheme is not accepted either.
    for request in requests() {
        assert_eq!(
            send(request.header("authorization", &db.credential)).await,
            (401, unauthorized.clone())
        );
    }
    // Nothing above changed anything.
    assert_eq!(db.names(&[]).await, SEEDED_NAMES);
}

#[tokio::test]
async fn list_returns_names_and_pages_ten_at_a_time() {
    let db = databrain().await;
    assert_eq!(db.names(&[]).await, SEEDED_NAMES);
    assert_eq!(db.names(&[("isPagination", "false")]).await, SEEDED_NAMES);
    // Without pagination the page number is checked but does not cut the list.
    assert_eq!(
        db.names(&[("isPagination", "false"), ("pageNumber", "2")])
            .await,
        SEEDED_NAMES
    );
    assert_eq!(
        db.names(&[("isPagination", "true")]).await,
        SEEDED_NAMES[..10]
    );
    assert_eq!(
        db.names(&[("isPagination", "true"), ("pageNumber", "1")])
            .await,
        SEEDED_NAMES[..10]
    );
    assert_eq!(
        db.names(&[("isPagination", "true"), ("pageNumber", "2")])
            .await,
        SEEDED_NAMES[10..]
    );
    assert_eq!(
        db.list(&[("isPagination", "true"), ("pageNumber", "3")])
            .await,
        (200, json!({"data": []}))
    );
    for bad in ["TRUE", "1", "yes", ""] {
        assert_eq!(
            db.list(&[("isPagination", bad)]).await,
            invalid(r#"isPagination must be "true" or "false""#),
            "{bad:?}"
        );
    }
    for bad in ["0", "-1", "abc", "1.5", "", "+2", "99999999999999999999999"] {
        assert_eq!(
            db.list(&[("isPagination", "true"), ("pageNumber", bad)])
                .await,
            invalid("pageNumber must be a positive integer"),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn create_names_the_problem_with_a_bad_body() {
    let db = databrain().await;
    let types = DATASOURCE_TYPES.join(", ");
    let cases: Vec<(Value, String)> = vec![
        (json!([1, 2]), "Request body must be a JSON object".into()),
        (json!("text"), "Request body must be a JSON object".into()),
        (
            json!({"credentials": {"name": "x"}}),
            "datasourceType is required".into(),
        ),
        (
            json!({"datasourceType": "oracle", "credentials": {"name": "x"}}),
            format!("datasourceType must be one of: {types}"),
        ),
        (
            json!({"datasourceType": 7, "credentials": {"name": "x"}}),
            format!("datasourceType must be one of: {types}"),
        ),
        (
            json!({"datasourceType": "csv"}),
            "credentials is required and must be an object".into(),
        ),
        (
            json!({"datasourceType": "csv", "credentials": "name=x"}),
            "credentials is required and must be an object".into(),
        ),
        (
            json!({"datasourceType": "csv", "credentials": {}}),
            "credentials.name is required".into(),
        ),
        (
            json!({"datasourceType": "csv", "credentials": {"name": "  "}}),
            "credentials.name is required".into(),
        ),
        (
            json!({"datasourceType": "csv", "credentials": {"name": 5}}),
            "credentials.name is required".into(),
        ),
        (
            json!({"datasourceType": "postgres", "credentials": {"name": "x", "host": "h", "port": 5432}}),
            "credentials for postgres are missing required field(s): username, password, database"
                .into(),
        ),
        (
            json!({"datasourceType": "postgres", "credentials": {"name": "x", "host": "h", "port": 5432, "username": "u", "password": "", "database": "d"}}),
            "credentials for postgres are missing required field(s): password".into(),
        ),
        // MSSQL says `server` and `user`, not `host` and `username`.
        (
            json!({"datasourceType": "mssql", "credentials": {"name": "x", "host": "h", "port": 1433, "username": "u", "password": "p"}}),
            "credentials for mssql are missing required field(s): server, user".into(),
        ),
        (
            json!({"datasourceType": "postgres", "credentials": {"name": "x", "host": "h", "port": 70000, "username": "u", "password": "p", "database": "d"}}),
            "credentials.port must be a port number between 1 and 65535".into(),
        ),
        (
            json!({"datasourceType": "csv", "credentials": {"name": "x"}, "tenancySettings": "TABLE"}),
            "tenancySettings must be an object".into(),
        ),
        (
            json!({"datasourceType": "csv", "credentials": {"name": "x"}, "tenancySettings": {}}),
            "tenancySettings.tenancyLevel must be TABLE or DATABASE".into(),
        ),
        (
            json!({"datasourceType": "csv", "credentials": {"name": "x"}, "tenancySettings": {"tenancyLevel": "table"}}),
            "tenancySettings.tenancyLevel must be TABLE or DATABASE".into(),
        ),
        (
            json!({"datasourceType": "csv", "credentials": {"name": "x"}, "tenancySettings": {"tenancyLevel": "TABLE",
                "clientColumnType": "UUID", "schemaName": "public", "tableName": "clients",
                "tableClientNameColumn": "name", "tablePrimaryKeyColumn": "id"}}),
            "tenancySettings.clientColumnType must be NUMBER or STRING when tenancyLevel is TABLE"
                .into(),
        ),
        (
            json!({"datasourceType": "csv", "credentials": {"name": "x"}, "tenancySettings": {"tenancyLevel": "TABLE", "clientColumnType": "NUMBER", "schemaName": "public", "tableClientNameColumn": "tenant"}}),
            "tenancySettings is missing required field(s) for tenancyLevel TABLE: tableName, tablePrimaryKeyColumn"
                .into(),
        ),
        // The names of an older draft are not the documented ones.
        (
            json!({"datasourceType": "csv", "credentials": {"name": "x"}, "tenancySettings": {"tenancyLevel": "TABLE",
                "clientColumnType": "STRING", "schemaName": "public", "tableName": "clients",
                "clientColumn": "name", "primaryKeyColumn": "id"}}),
            "tenancySettings is missing required field(s) for tenancyLevel TABLE: tableClientNameColumn, tablePrimaryKeyColumn"
                .into(),
        ),
    ];
    for (body, message) in cases {
        assert_eq!(db.create(&body).await, invalid(&message), "{body}");
    }
    let not_json = db
        .authed(db.http.post(db.url("")))
        .header("content-type", "application/json")
        .body("{not json");
    assert_eq!(
        send(not_json).await,
        invalid("Request body must be a JSON object")
    );
    assert_eq!(db.names(&[]).await, SEEDED_NAMES, "nothing was created");
}

#[tokio::test]
async fn create_accepts_each_type_with_its_required_credentials() {
    let db = databrain().await;
    for datasource_type in DATASOURCE_TYPES {
        let name = format!("new {datasource_type}");
        let body = json!({"datasourceType": datasource_type,
            "credentials": minimal_credentials(datasource_type, &name)});
        assert_eq!(
            db.create(&body).await,
            (200, json!({"name": name})),
            "{body}"
        );
    }
    let tenancy = [
        json!({"tenancyLevel": "DATABASE"}),
        json!({"tenancyLevel": "TABLE", "clientColumnType": "STRING", "schemaName": "public",
            "tableName": "tenants", "tableClientNameColumn": "tenant_id", "tablePrimaryKeyColumn": "id"}),
    ];
    for (i, settings) in tenancy.into_iter().enumerate() {
        let mut body = postgres(&format!("tenanted {i}"));
        body["tenancySettings"] = settings;
        assert_eq!(db.create(&body).await.0, 200, "{body}");
    }
    let names = db.names(&[]).await;
    assert_eq!(names.len(), 12 + 18 + 2);
    assert_eq!(
        names[12], "new snowflake",
        "new ones follow, in creation order"
    );
    assert_eq!(names[31], "tenanted 1");
}

#[tokio::test]
async fn create_rejects_taken_names_and_failed_connection_tests() {
    let db = databrain().await;
    assert_eq!(
        db.create(&postgres("orders-mysql")).await,
        (
            400,
            error("DATASOURCE_NAME_ERROR", "Datasource name already exists")
        )
    );
    let mut unreachable = postgres("reachable-later");
    unreachable["credentials"]["host"] = json!("pg.internal.invalid");
    assert_eq!(
        db.create(&unreachable).await,
        (
            400,
            error(
                "CREDENTIAL_TEST_FAILED",
                "Connection test failed: getaddrinfo ENOTFOUND pg.internal.invalid"
            )
        )
    );
    // Any credential naming such a host fails the test, e.g. a self-managed server URL.
    let es = json!({"datasourceType": "elasticsearch", "credentials": {"name": "es",
        "server_type": "self-managed", "server_url": "https://es.invalid:9200"}});
    assert_eq!(
        db.create(&es).await,
        (
            400,
            error(
                "CREDENTIAL_TEST_FAILED",
                "Connection test failed: getaddrinfo ENOTFOUND es.invalid"
            )
        )
    );
    assert_eq!(
        db.names(&[]).await,
        SEEDED_NAMES,
        "failed tests create nothing"
    );

    assert_eq!(
        db.create(&postgres("reachable-later")).await,
        (200, json!({"name": "reachable-later"}))
    );
    let names = db.names(&[]).await;
    assert_eq!(names.last().unwrap(), "reachable-later");
    assert_eq!(
        db.names(&[("isPagination", "true"), ("pageNumber", "2")])
            .await,
        ["search-opensearch", "adhoc-trino", "reachable-later"]
    );
    assert_eq!(
        db.create(&postgres("reachable-later")).await,
        (
            400,
            error("DATASOURCE_NAME_ERROR", "Datasource name already exists")
        )
    );
}

#[tokio::test]
async fn update_replaces_the_full_credential_set_of_an_existing_datasource() {
    let db = databrain().await;
    assert_eq!(
        db.update(&postgres("no-such-datasource")).await,
        (400, error("DATASOURCE_NAME_ERROR", "Datasource not found"))
    );
    // No partial updates: a password alone is not a postgres credential set.
    let partial = json!({"datasourceType": "postgres", "credentials": {"name": "analytics-postgres", "password": "new"}});
    assert_eq!(
        db.update(&partial).await,
        invalid(
            "credentials for postgres are missing required field(s): host, port, username, database"
        )
    );
    assert_eq!(
        db.update(&json!({"credentials": {"name": "orders-mysql"}}))
            .await,
        invalid("datasourceType is required")
    );
    let mut full = json!({"datasourceType": "mysql", "credentials": {"name": "orders-mysql",
        "host": "mysql.orders.acme.example", "port": 3306, "username": "reporting",
        "password": "rotated", "database": "orders"}});
    assert_eq!(
        db.update(&full).await,
        (200, json!({"name": "orders-mysql"}))
    );
    full["tenancySettings"] = json!({"tenancyLevel": "DATABASE"});
    assert_eq!(db.update(&full).await.0, 200);
    full["tenancySettings"] = json!({"tenancyLevel": "TABLE"});
    assert_eq!(
        db.update(&full).await,
        invalid(
            "tenancySettings is missing required field(s) for tenancyLevel TABLE: clientColumnType, schemaName, tableName, tableClientNameColumn, tablePrimaryKeyColumn"
        )
    );
    full["tenancySettings"] = Value::Null;
    full["credentials"]["host"] = json!("mysql.moved.invalid");
    assert_eq!(
        db.update(&full).await,
        (
            400,
            error(
                "CREDENTIAL_TEST_FAILED",
                "Connection test failed: getaddrinfo ENOTFOUND mysql.moved.invalid"
            )
        )
    );
    // The datasource keeps its place and its id.
    assert_eq!(db.names(&[]).await, SEEDED_NAMES);
    assert_eq!(
        db.delete("orders-mysql").await,
        (
            200,
            json!({"id": SEEDED_IDS[3].1, "message": "Datasource deleted successfully"})
        )
    );
}

#[tokio::test]
async fn delete_answers_the_id_and_refuses_datasources_in_use() {
    let db = databrain().await;
    let no_param = db.authed(db.http.delete(db.url("")));
    assert_eq!(
        send(no_param).await,
        invalid("datasourceName query parameter is required")
    );
    assert_eq!(
        db.delete("").await,
        invalid("datasourceName query parameter is required")
    );
    assert_eq!(
        db.delete("no-such-datasource").await,
        (400, error("DATASOURCE_NAME_ERROR", "Datasource not found"))
    );
    assert_eq!(
        db.delete("analytics-postgres").await,
        (
            400,
            error("DATASOURCE_IN_USE", "Datasource is used by 2 datamart(s)")
        )
    );
    assert_eq!(
        db.delete("reports-csv").await,
        (
            200,
            json!({"id": SEEDED_IDS[9].1, "message": "Datasource deleted successfully"})
        )
    );
    let names = db.names(&[]).await;
    assert!(!names.contains(&"reports-csv".to_string()));
    assert_eq!(names.len(), 11);
    assert_eq!(
        db.delete("reports-csv").await,
        (400, error("DATASOURCE_NAME_ERROR", "Datasource not found"))
    );
    assert_eq!(
        db.sync(&json!({"input": {"datasourceId": SEEDED_IDS[9].1}}))
            .await,
        (
            400,
            error(
                "DATASOURCE_ID_ERROR",
                "Datasource not found for the given id"
            )
        )
    );
    // Names with spaces and symbols survive the query string; new ids continue the sequence.
    let name = "Sales & Ops (EU): 50%";
    assert_eq!(db.create(&postgres(name)).await.0, 200);
    assert_eq!(
        db.delete(name).await,
        (
            200,
            json!({"id": seeded_uuid(0xdb, 13), "message": "Datasource deleted successfully"})
        )
    );
}

#[tokio::test]
async fn sync_takes_a_datasource_uuid() {
    let db = databrain().await;
    for (name, id) in SEEDED_IDS {
        assert_eq!(
            db.sync(&json!({"input": {"datasourceId": id}})).await,
            (200, json!({"data": {"message": "Sync completed"}})),
            "{name}"
        );
    }
    let required = invalid("input.datasourceId is required");
    for body in [
        json!({}),
        json!({"input": {}}),
        json!({"datasourceId": SEEDED_IDS[0].1}),
        json!({"input": {"datasourceId": 1}}),
    ] {
        assert_eq!(db.sync(&body).await, required, "{body}");
    }
    assert_eq!(
        db.sync(&json!([])).await,
        invalid("Request body must be a JSON object")
    );
    for not_uuid in [
        "analytics-postgres",
        "",
        "000000db-5eed-4000-8000-00000000001",
    ] {
        assert_eq!(
            db.sync(&json!({"input": {"datasourceId": not_uuid}})).await,
            invalid("input.datasourceId must be a UUID"),
            "{not_uuid:?}"
        );
    }
    assert_eq!(
        db.sync(&json!({"input": {"datasourceId": "3f2504e0-4f89-41d3-9a0c-0305e82c3301"}}))
            .await,
        (
            400,
            error(
                "DATASOURCE_ID_ERROR",
                "Datasource not found for the given id"
            )
        )
    );
    // A UUID is a UUID in either case.
    let upper = SEEDED_IDS[1].1.to_uppercase();
    assert_eq!(
        db.sync(&json!({"input": {"datasourceId": upper}})).await.0,
        200
    );
}

#[tokio::test]
async fn credentials_never_come_back() {
    let db = databrain().await;
    let mut body = postgres("sentinel-holder");
    body["credentials"]["password"] = json!(SENTINEL);
    body["credentials"]["username"] = json!(format!("user-{SENTINEL}"));
    let mut answers = vec![db.create(&body).await];
    answers.push(db.create(&body).await);
    answers.push(db.update(&body).await);
    body["credentials"]["host"] = json!("pg.invalid");
    answers.push(db.update(&body).await);
    answers.push(db.list(&[]).await);
    answers.push(
        db.list(&[("isPagination", "true"), ("pageNumber", "2")])
            .await,
    );
    for (_, answer) in &answers {
        let text = answer.to_string();
        assert!(!text.contains(SENTINEL), "{text}");
        assert!(!text.contains("sandbox-pg-pw"), "{text}");
    }
    assert_eq!(answers[0].0, 200);
    assert_eq!(answers[2].0, 200);
    assert_eq!(answers[3].0, 400);
}

#[tokio::test]
async fn two_sandboxes_start_identical_and_stay_separate() {
    let (a, b) = (databrain().await, databrain().await);
    assert_eq!(a.list(&[]).await, b.list(&[]).await);
    assert_ne!(
        a.credential, b.credential,
        "each sandbox generates its own token"
    );
    for db in [&a, &b] {
        for (_, id) in SEEDED_IDS {
            assert_eq!(
                db.sync(&json!({"input": {"datasourceId": id}})).await.0,
                200
            );
        }
    }
    // One sandbox's token does not open the other.
    let crossed = b.http.get(b.url("")).bearer_auth(&a.credential);
    assert_eq!(send(crossed).await.0, 401);
    assert_eq!(a.delete("crm-mssql").await.0, 200);
    assert_eq!(a.create(&postgres("only in a")).await.0, 200);
    assert_eq!(b.names(&[]).await, SEEDED_NAMES);
    assert_eq!(a.names(&[]).await.len(), 12);
}

#[tokio::test]
async fn concurrent_creates_of_one_name_make_one_datasource() {
    let db = std::sync::Arc::new(databrain().await);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.create(&postgres("raced")).await.0 })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1);
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 9);
    let names = db.names(&[]).await;
    assert_eq!(names.iter().filter(|n| *n == "raced").count(), 1);
}

/// Only documented keys are required: postgres's and MSSQL's; every other type needs only
/// `credentials.name`, and whatever else it sends is kept.
#[tokio::test]
async fn types_with_undocumented_keys_need_only_a_name() {
    let db = databrain().await;
    for datasource_type in DATASOURCE_TYPES {
        if matches!(datasource_type, "postgres" | "mssql") {
            let (status, refused) = db
                .create(&json!({"datasourceType": datasource_type,
                    "credentials": {"name": format!("bare {datasource_type}")}}))
                .await;
            assert_eq!(status, 400, "{refused}");
            assert_eq!(refused["error"]["code"], "INVALID_REQUEST_BODY");
            continue;
        }
        let name = format!("bare {datasource_type}");
        assert_eq!(
            db.create(&json!({"datasourceType": datasource_type, "credentials": {"name": name}}))
                .await,
            (200, json!({"name": name})),
        );
    }
    // Keys of the vendor's hints (Snowflake's account and auth, S3's region and folder mode).
    let snowflake = json!({"datasourceType": "snowflake", "credentials": {"name": "sf",
        "account": "your-account.snowflakecomputing.com", "authType": "Key-pair authentication",
        "privateKey": SENTINEL}});
    assert_eq!(db.create(&snowflake).await, (200, json!({"name": "sf"})));
    let s3 = json!({"datasourceType": "awss3", "credentials": {"name": "s3", "region": "us-east-1",
        "tableLevel": "File", "bucketUrl": "s3://lake.invalid/raw"}});
    assert_eq!(
        db.create(&s3).await,
        (
            400,
            error(
                "CREDENTIAL_TEST_FAILED",
                "Connection test failed: getaddrinfo ENOTFOUND lake.invalid"
            )
        ),
        "the connection test still runs"
    );
}

/// `getDatasourceProgress`: an S3 sync runs in the background, `0/16` to `16/16` over a few
/// calls; any other type is complete at once.
#[tokio::test]
async fn progress_of_a_sync_runs_for_s3_and_is_complete_for_the_rest() {
    let db = databrain().await;
    let progress = |id: &str| {
        let request = db
            .http
            .post(db.url("/getDatasourceProgress"))
            .json(&json!({"input": {"datasourceId": id}}));
        send(db.authed(request))
    };
    let reads = |text: &str| (200, json!({"status": {"progress": text, "error": ""}}));
    let lake = SEEDED_IDS[8];
    assert_eq!(lake.0, "lake-awss3");
    assert_eq!(progress(lake.1).await, reads("16/16"), "synced before");

    assert_eq!(
        db.sync(&json!({"input": {"datasourceId": lake.1}})).await,
        (200, json!({"data": {"message": "Sync completed"}}))
    );
    let mut seen = Vec::new();
    for _ in 0..6 {
        let (status, answer) = progress(lake.1).await;
        assert_eq!(status, 200);
        assert_eq!(answer["status"]["error"], "");
        seen.push(answer["status"]["progress"].as_str().unwrap().to_string());
    }
    assert_eq!(seen, ["0/16", "5/16", "10/16", "16/16", "16/16", "16/16"]);
    // A new sync starts over.
    db.sync(&json!({"input": {"datasourceId": lake.1.to_uppercase()}}))
        .await;
    assert_eq!(progress(lake.1).await, reads("0/16"));

    // Other types: done when the sync answers.
    let postgres = SEEDED_IDS[0].1;
    assert_eq!(progress(postgres).await, reads("16/16"));
    db.sync(&json!({"input": {"datasourceId": postgres}})).await;
    assert_eq!(progress(postgres).await, reads("16/16"));

    // A new S3 datasource is complete until a sync starts.
    db.create(&json!({"datasourceType": "awss3", "credentials": {"name": "new-lake"}}))
        .await;
    let new_lake = seeded_uuid(0xdb, 13);
    assert_eq!(progress(&new_lake).await, reads("16/16"));
    db.sync(&json!({"input": {"datasourceId": new_lake}})).await;
    assert_eq!(progress(&new_lake).await, reads("0/16"));

    let unknown = (
        400,
        error(
            "DATASOURCE_ID_ERROR",
            "Datasource not found for the given id",
        ),
    );
    assert_eq!(
        progress("3f2504e0-4f89-41d3-9a0c-0305e82c3301").await,
        unknown
    );
    assert_eq!(
        progress("lake-awss3").await,
        invalid("input.datasourceId must be a UUID")
    );
    let no_input = db.authed(
        db.http
            .post(db.url("/getDatasourceProgress"))
            .json(&json!({})),
    );
    assert_eq!(
        send(no_input).await,
        invalid("input.datasourceId is required")
    );
}
