//! A simulated Pentaho Data Catalog public API v1: data sources, jobs and the two token
//! endpoints. Public sources, by behaviour:
//!
//! - `/auth`, the data-source fields and their types (`port` a string, `databaseType` a string
//!   with no enum), the bare job status object, the test-connection job: PDC's API reference,
//!   <https://docs.pentaho.com/pdc-api-docs/v1/get-started-with-pdc-api-v1/authentication>,
//!   <https://docs.pentaho.com/pdc-api-docs/v1/pdc-api-ref-v1/data-sources>,
//!   <https://docs.pentaho.com/pdc-api-docs/v2/pdc-api-ref-v2/data-sources>,
//!   <https://docs.pentaho.com/pdc-api-docs/v2/pdc-api-ref-v2/jobs>,
//!   <https://docs.pentaho.com/pdc-api-docs/pdc-api-reference/jobs>.
//! - The Keycloak token endpoint beside the API:
//!   <https://academy.pentaho.com/pentaho-data-catalog/use-case/adventure-works/aw-organization/pdc-jwt-token>.
//! - The filter's wrapped body `{"filters": {resourceNames, databaseTypes, ids}}` and its
//!   `pageInfo.totalCount`; the 500 "Cast to ObjectId failed" for an id that is not one; the
//!   create's `data` array; the duplicate-name 400 that echoes the submitted record; the
//!   ingest body (the source's configuration + `resourceId` + `fqdnId`); `databaseType` values
//!   (`POSTGRES`, `MYSQL`, `AWS` — not `AWS_S3` —, `AZURE_BLOB_STORAGE`, `ORACLE`); schema
//!   ingests of object stores failing; job statuses `RUNNING` / `COMPLETED` / `FAILED`: a
//!   community client tested against PDC 10 and 11, jporeilly/PDC-Glossary-Generator
//!   (pdc_client/bulkload.py, pdc_client/jobs.py, pdc_client/core.py,
//!   glossary_generator/tests/test_v3_shapes.py, docs/CHANGELOG.md). The name of the job id in
//!   an execute answer, `data.jobId`, is assumed (that client reads `jobId`, then `id`, `_id`).
//!
//! What the sandbox does (mounted at `/pdc`; the API base is `/pdc/api/public/v1`):
//! - `POST /api/public/v1/auth` takes a form (`username`, `password`, `client_id=pdc-client`,
//!   `grant_type=password`, `scope`) and answers `{"message":"OK","data":{"accessToken"}}`; a
//!   missing field or a wrong client or grant is 400, wrong credentials 401.
//!   `POST /keycloak/realms/pdc/protocol/openid-connect/token` takes the same form (`scope`
//!   optional) and answers Keycloak's `{"access_token", "token_type", "expires_in"}`, or
//!   Keycloak's `{"error", "error_description"}`. Every other endpoint wants
//!   `Authorization: Bearer <token either issued>` (or the pre-issued `PDC_ACCESS_TOKEN`), else
//!   401 `{"status":401,"message":"Unauthorized"}`.
//! - Answers are `{"status": <code>, "data": ...}` (job status excepted: the bare job);
//!   errors `{"status", "message"}` where validation messages are arrays of strings in
//!   class-validator's words (`property X should not exist`, `X must be a string`,
//!   `X should not be empty`; nested ones prefixed `filters.`).
//! - Create takes one object or an array (items of an array are named `[i] ...` in messages),
//!   accepts only known DataSource fields with their types, needs `resourceName` and
//!   `databaseType`, and creates all or nothing. A `resourceName` that exists is a 400 whose
//!   message echoes the submitted record, secrets included, then "Duplicate key violation on
//!   the requested collection: Index '_id_'". Answers 201 with an array even for one object.
//! - PATCH accepts only the seed's attribute list, type-checked; scalars overwrite, arrays
//!   replace, omitted fields stay. `updatedAt` moves on every non-empty write, on a
//!   deterministic clock.
//! - Secrets (`password`, `secretKey`, ...) are stored and never shown (except in that echo).
//! - Filter matches `resourceNames` / `databaseTypes` patterns with `*` wildcards,
//!   case-insensitively, and `ids` exactly; patterns of one filter are OR'ed, filters AND'ed;
//!   results in creation order, then `skip` / `limit`; `pageInfo.totalCount` counts the matches
//!   before those.
//! - `POST /jobs/execute/test-connection` and `POST /jobs/execute/metadata/ingest` take a
//!   data-source configuration whose `resourceId` names a stored source (ingest needs
//!   `databaseType` too); credentials in the body are ignored: the job uses the stored ones.
//!   They answer `{"status":200,"data":{"jobId"}}`. A test-connection job is RUNNING on its
//!   first poll and done on the second; an ingest is RUNNING on two polls and done on the
//!   third. A test of a host under `.invalid` and an ingest of an object store (`AWS`,
//!   `AZURE_BLOB_STORAGE`) end FAILED with an `error`. A finished job becomes the source's
//!   `lastTestConnectionId` / `lastIngestId`.
//! - Unknown data source or job ids are 404.
//!
//! Seeded data sources (`fixtures/pdc/data-sources.json`; ids `9dc0da7a00000000000000NN`,
//! `pId` NN, in this order):
//! 01 `prod-postgres-primary`, 02 `prod-postgres-replica`, 03 `prod-mysql-orders`,
//! 04 `staging-postgres`, 05 `analytics-snowflake`, 06 `AWS S3 Data Lake`, 07 `finance-oracle`,
//! 08 `hr-sqlserver`, 09 `dev-mongodb`, 0a `marketing-bigquery`, 0b `archive-s3-eu`,
//! 0c `prod-redshift`.
//!
//! Seeded jobs (`fixtures/pdc/jobs.json`; `GET /jobs/{id}/status`); jobs started later take the
//! next ids, `9dc010b50000000000000005` on:
//! - [`JOB_INGEST_COMPLETED`] `9dc010b50000000000000001`: INGEST of `prod-postgres-primary`,
//!   COMPLETED (its `lastIngestId`).
//! - [`JOB_TEST_CONNECTION_COMPLETED`] `9dc010b50000000000000002`: TEST_CONNECTION of
//!   `prod-postgres-primary`, COMPLETED (its `lastTestConnectionId`).
//! - [`JOB_TEST_CONNECTION_FAILED`] `9dc010b50000000000000003`: TEST_CONNECTION of
//!   `finance-oracle`, FAILED with an `error` (its `lastTestConnectionId`).
//! - [`JOB_INGEST_RUNNING`] `9dc010b50000000000000004`: INGEST of `analytics-snowflake` (its
//!   `lastIngestId`): RUNNING on the first two polls (`duration` 42000, then 84000), COMPLETED
//!   (`duration` 121500) from the third poll on. Each sandbox counts its own polls.

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Seed;
use super::Simulation;
use super::shell::{
    Answer, Api, Authorize, Fault, Ids, Store, bearer, fault, fixture, is_blank, json_body,
    position_of, random_token, reply, seeded_uuid, unreachable_host,
};
use super::users::{KeyCheck, Keys, Users};

/// A completed ingest of `prod-postgres-primary`.
pub const JOB_INGEST_COMPLETED: &str = "9dc010b50000000000000001";
/// A completed connection test of `prod-postgres-primary`.
pub const JOB_TEST_CONNECTION_COMPLETED: &str = "9dc010b50000000000000002";
/// A failed connection test of `finance-oracle`.
pub const JOB_TEST_CONNECTION_FAILED: &str = "9dc010b50000000000000003";
/// An ingest of `analytics-snowflake`: RUNNING for two polls, then COMPLETED.
pub const JOB_INGEST_RUNNING: &str = "9dc010b50000000000000004";

const DATA_SOURCES: u32 = 0x9dc0_da7a;
const JOBS: u32 = 0x9dc0_10b5;

/// The lifetime Keycloak gives an access token, in seconds (its default).
const KEYCLOAK_TOKEN_SECONDS: u64 = 300;

/// Database types that are object stores: a schema ingest of one fails.
const OBJECT_STORES: &[&str] = &["AWS", "AZURE_BLOB_STORAGE"];

/// Who the sandbox's API user is, as a job shows it.
const JOB_USER: &str = "sandbox.admin";

/// The OAuth client and grant PDC's token endpoint accepts.
const CLIENT_ID: &str = "pdc-client";
const GRANT_TYPE: &str = "password";

/// Fields stored but never shown.
const SECRET_FIELDS: &[&str] = &[
    "password",
    "secretKey",
    "azureSharedKey",
    "oauthClientSecret",
    "encryptedPassword",
    "secretManagerKey",
];

/// The JSON type an attribute must have.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Flag,
    Number,
    Texts,
    Object,
    Objects,
}

impl Kind {
    fn accepts(self, value: &Value) -> bool {
        match self {
            Kind::Text => value.is_string(),
            Kind::Flag => value.is_boolean(),
            Kind::Number => value.is_number(),
            Kind::Texts => value
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_string)),
            Kind::Object => value.is_object(),
            Kind::Objects => value
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_object)),
        }
    }

    fn requirement(self) -> &'static str {
        match self {
            Kind::Text => "must be a string",
            Kind::Flag => "must be a boolean",
            Kind::Number => "must be a number",
            Kind::Texts => "must be an array of strings",
            Kind::Object => "must be an object",
            Kind::Objects => "must be an array of objects",
        }
    }
}

/// The attributes PATCH accepts, as the v1 reference lists them.
const PATCH_FIELDS: &[(&str, Kind)] = &[
    ("userName", Kind::Text),
    ("password", Kind::Text),
    ("lastTestConnectionId", Kind::Text),
    ("lastIngestId", Kind::Text),
    ("accessId", Kind::Text),
    ("secretKey", Kind::Text),
    ("region", Kind::Text),
    ("secretManagerKey", Kind::Text),
    ("accountName", Kind::Text),
    ("azureSharedKey", Kind::Text),
    ("azureTenantId", Kind::Text),
    ("note", Kind::Text),
    ("description", Kind::Text),
    ("affinityId", Kind::Text),
    ("role", Kind::Text),
    ("host", Kind::Text),
    ("port", Kind::Text),
    ("databaseName", Kind::Text),
    ("warehouse", Kind::Text),
    ("uri", Kind::Text),
    ("path", Kind::Text),
    ("driverClassName", Kind::Text),
    ("scanSinceTimeframe", Kind::Text),
    ("availableForMigration", Kind::Flag),
    ("availableForWriting", Kind::Flag),
    ("availableForDataMastering", Kind::Flag),
    ("incremental", Kind::Flag),
    ("totalCapacity", Kind::Number),
    ("includePatterns", Kind::Texts),
    ("excludePatterns", Kind::Texts),
];

/// What create accepts besides the PATCH attributes: the rest of the DataSource schema
/// (`additionalProperties: false` in v2). Server-assigned fields (`_id`, `pId`, timestamps)
/// are not among them.
const CREATE_ONLY_FIELDS: &[(&str, Kind)] = &[
    ("resourceName", Kind::Text),
    ("databaseType", Kind::Text),
    ("fqdnId", Kind::Text),
    ("resourceId", Kind::Text),
    ("configMethod", Kind::Text),
    ("schemaNames", Kind::Texts),
    ("jobClasspath", Kind::Text),
    ("spiVersion", Kind::Text),
    ("serviceType", Kind::Text),
    ("status", Kind::Text),
    ("encryptedPassword", Kind::Text),
    ("oauthClientId", Kind::Text),
    ("oauthClientSecret", Kind::Text),
    ("hdfsCredType", Kind::Text),
    ("endpoint", Kind::Text),
    ("accessKey", Kind::Text),
    ("container", Kind::Text),
    ("users", Kind::Texts),
    ("owners", Kind::Objects),
    ("location", Kind::Object),
    ("costPerTb", Kind::Object),
];

/// Create's required fields.
const REQUIRED: &[&str] = &["resourceName", "databaseType"];

fn create_kind(name: &str) -> Option<Kind> {
    PATCH_FIELDS
        .iter()
        .chain(CREATE_ONLY_FIELDS)
        .find(|(field, _)| *field == name)
        .map(|(_, kind)| *kind)
}

fn patch_kind(name: &str) -> Option<Kind> {
    PATCH_FIELDS
        .iter()
        .find(|(field, _)| *field == name)
        .map(|(_, kind)| *kind)
}

/// class-validator's complaints about `body`: unknown properties and wrong types, ordered by
/// property name (the map's order), each prefixed with `prefix` (`"[i] "` for an array item).
fn check_fields(
    body: &Map<String, Value>,
    kind_of: fn(&str) -> Option<Kind>,
    prefix: &str,
) -> Vec<String> {
    body.iter()
        .filter_map(|(name, value)| match kind_of(name) {
            None => Some(format!("{prefix}property {name} should not exist")),
            Some(kind) if !kind.accepts(value) => {
                Some(format!("{prefix}{name} {}", kind.requirement()))
            }
            Some(_) => None,
        })
        .collect()
}

/// One stage a job under way reports when polled.
#[derive(Deserialize)]
struct Stage {
    status: String,
    /// Milliseconds since the job started.
    duration: u64,
    /// Why a job FAILED.
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct Job {
    /// The job as the status endpoint shows it.
    record: Map<String, Value>,
    /// For a job under way: what each status poll answers in turn; the last one repeats.
    #[serde(default)]
    stages: Vec<Stage>,
    #[serde(skip)]
    polls: usize,
    /// For a job started here: the source and the field (`lastTestConnectionId` or
    /// `lastIngestId`) that take the job's id once it has finished.
    #[serde(skip)]
    finish: Option<(String, &'static str)>,
}

impl Job {
    /// The job as one more status poll sees it.
    fn poll(&mut self) -> Value {
        if let Some(stage) = self.stages.get(self.polls).or_else(|| self.stages.last()) {
            self.record.insert("status".into(), json!(stage.status));
            self.record.insert("duration".into(), json!(stage.duration));
            if let Some(error) = &stage.error {
                self.record.insert("error".into(), json!(error));
            }
            self.polls += 1;
        }
        Value::Object(self.record.clone())
    }

    /// Whether the last poll showed the job's last stage.
    fn finished(&self) -> bool {
        self.polls >= self.stages.len()
    }

    fn id(&self) -> Option<&str> {
        self.record.get("_id").and_then(Value::as_str)
    }
}

struct Pdc {
    username: String,
    password: String,
    /// Tokens handed out by `/auth`, plus the pre-issued one.
    tokens: HashSet<String>,
    /// The pre-issued token and each user's own (`sandbox --users`).
    keys: Keys,
    /// Data sources in creation order, secrets included.
    sources: Vec<Map<String, Value>>,
    ids: Ids,
    /// Seconds on the sandbox's clock; each write takes the next one, so runs are repeatable.
    clock: u64,
    jobs: Vec<Job>,
    job_ids: Ids,
}

type Shared = Store<Pdc>;

/// Fresh routes and the variables that reach them. Its credential is not one static key, so
/// `users` get none of their own here.
pub fn start(sample: Seed, users: &Users) -> Simulation {
    let username = random_token("pdc-admin-");
    let password = random_token("pw-");
    let access_token = random_token("eyJhbGciOiJSUzI1NiJ9.pdc-sandbox.");
    let env = vec![
        ("PDC_USERNAME", username.clone()),
        ("PDC_PASSWORD", password.clone()),
    ];
    let alternatives = vec![("PDC_ACCESS_TOKEN", access_token.clone())];
    let jobs: Vec<Job> = fixture!("pdc/jobs.json");
    // Jobs started here take the ids after the seeded ones.
    let mut job_ids = Ids::object_ids(JOBS);
    for _ in &jobs {
        job_ids.next();
    }
    let keys = Keys::with_service(
        access_token.clone(),
        "eyJhbGciOiJSUzI1NiJ9.pdc-user.",
        users,
    );
    let check = KeyCheck {
        keys: keys.clone(),
        presented: bearer,
        var: "PDC_ACCESS_TOKEN",
    };
    let mut state = Pdc {
        username,
        password,
        keys,
        tokens: HashSet::from([access_token]),
        sources: Vec::new(),
        ids: Ids::object_ids(DATA_SOURCES),
        clock: 0,
        jobs,
        job_ids,
    };
    for source in seed_sources()
        .into_iter()
        .filter(|_| sample == Seed::Sample)
    {
        state.insert(source);
    }
    Api {
        state,
        token_exchanges: vec![
            ("/api/public/v1/auth", post(auth)),
            (
                "/keycloak/realms/pdc/protocol/openid-connect/token",
                post(keycloak_token),
            ),
        ],
        endpoints: vec![
            ("/api/public/v1/data-sources", post(create)),
            ("/api/public/v1/data-sources/by-ids", post(by_ids)),
            ("/api/public/v1/data-sources/filter", post(filter)),
            (
                "/api/public/v1/data-sources/{id}",
                get(get_one).patch(update),
            ),
            ("/api/public/v1/jobs/{id}/status", get(job_status)),
            (
                "/api/public/v1/jobs/execute/test-connection",
                post(execute_test_connection),
            ),
            (
                "/api/public/v1/jobs/execute/metadata/ingest",
                post(execute_ingest),
            ),
        ],
        env,
        alternatives,
        keys: Some(check),
    }
    .start()
}

impl Pdc {
    /// Stores a new source: assigns `_id` and `pId`, fills the server's defaults.
    fn insert(&mut self, mut source: Map<String, Value>) {
        let (pid, id) = self.ids.next_numbered();
        let name = source.get("resourceName").cloned().unwrap_or(Value::Null);
        source.insert("_id".into(), json!(id));
        source.insert("pId".into(), json!(pid));
        source.entry("fqdnId").or_insert(name);
        source.entry("status").or_insert(json!("ACTIVE"));
        source.entry("affinityId").or_insert(json!("DEFAULT"));
        for list in ["includePatterns", "excludePatterns"] {
            source.entry(list).or_insert(json!([]));
        }
        for flag in [
            "availableForMigration",
            "availableForWriting",
            "availableForDataMastering",
            "incremental",
        ] {
            source.entry(flag).or_insert(json!(false));
        }
        if !source.contains_key("createdAt") {
            let now = self.tick();
            source.insert("createdAt".into(), json!(now));
            source.insert("updatedAt".into(), json!(now));
        }
        self.sources.push(source);
    }

    /// The next instant on the sandbox clock, from 2025-06-01T12:00:00Z.
    fn tick(&mut self) -> String {
        self.clock += 1;
        let seconds = 12 * 3600 + self.clock;
        let (day, time) = (1 + seconds / 86_400, seconds % 86_400);
        format!(
            "2025-06-{day:02}T{:02}:{:02}:{:02}.000Z",
            time / 3600,
            time / 60 % 60,
            time % 60
        )
    }

    fn position(&self, id: &str) -> Option<usize> {
        position_of(&self.sources, "_id", id)
    }

    fn name_taken(&self, name: &str) -> bool {
        position_of(&self.sources, "resourceName", name).is_some()
    }

    fn issue_token(&mut self) -> String {
        let token = random_token("eyJhbGciOiJSUzI1NiJ9.pdc-sandbox.");
        self.tokens.insert(token.clone());
        token
    }
}

impl Authorize for Pdc {
    /// A token `/auth` issued (or the pre-issued one) as a bearer token.
    fn authorize(&self, headers: &HeaderMap) -> Result<(), Fault> {
        match bearer(headers) {
            Some(token) if self.tokens.contains(token) || self.keys.accepts(Some(token)) => Ok(()),
            _ => Err(error(StatusCode::UNAUTHORIZED, json!("Unauthorized"))),
        }
    }
}

/// PDC's error envelope; `message` is a string or an array of strings.
fn error(status: StatusCode, message: Value) -> Fault {
    fault(
        status,
        json!({"status": status.as_u16(), "message": message}),
    )
}

fn invalid(messages: Vec<String>) -> Fault {
    error(StatusCode::BAD_REQUEST, json!(messages))
}

fn success(status: StatusCode, data: Value) -> Answer {
    reply(status, json!({"status": status.as_u16(), "data": data}))
}

/// A JSON object body; no body at all counts as `{}`.
fn object_body(body: &[u8]) -> Result<Map<String, Value>, Fault> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match json_body(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(invalid(vec!["request body must be an object".into()])),
    }
}

/// A source as the API shows it: secrets left out.
fn present(source: &Map<String, Value>) -> Value {
    Value::Object(
        source
            .iter()
            .filter(|(k, _)| !SECRET_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

// ---- auth ----------------------------------------------------------------------------------

async fn auth(State(state): State<Shared>, body: Bytes) -> Answer {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let (Some(username), Some(password), Some(client_id), Some(grant_type), Some(_scope)) = (
        field("username"),
        field("password"),
        field("client_id"),
        field("grant_type"),
        field("scope"),
    ) else {
        return Err(bad_auth_request());
    };
    if client_id != CLIENT_ID || grant_type != GRANT_TYPE {
        return Err(bad_auth_request());
    }
    let mut s = state.lock();
    if username != s.username || password != s.password {
        return Err(error(StatusCode::UNAUTHORIZED, json!("Unauthorized")));
    }
    let token = s.issue_token();
    reply(
        StatusCode::OK,
        json!({"message": "OK", "data": {"accessToken": token}}),
    )
}

/// Keycloak's error answer.
fn keycloak_error(status: StatusCode, error: &str, description: &str) -> Fault {
    fault(
        status,
        json!({"error": error, "error_description": description}),
    )
}

/// PDC's Keycloak realm: the password grant of the `pdc-client` client, `scope` optional.
async fn keycloak_token(State(state): State<Shared>, body: Bytes) -> Answer {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let Some(grant_type) = field("grant_type") else {
        return Err(keycloak_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing form parameter: grant_type",
        ));
    };
    if field("client_id") != Some(CLIENT_ID) {
        return Err(keycloak_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        ));
    }
    if grant_type != GRANT_TYPE {
        return Err(keycloak_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Unsupported grant_type",
        ));
    }
    let mut s = state.lock();
    if field("username") != Some(s.username.as_str())
        || field("password") != Some(s.password.as_str())
    {
        return Err(keycloak_error(
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
            "Invalid user credentials",
        ));
    }
    let token = s.issue_token();
    reply(
        StatusCode::OK,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": KEYCLOAK_TOKEN_SECONDS}),
    )
}

fn bad_auth_request() -> Fault {
    error(StatusCode::BAD_REQUEST, json!("Invalid Request Parameters"))
}

// ---- data sources --------------------------------------------------------------------------

async fn create(State(state): State<Shared>, body: Bytes) -> Answer {
    let mut s = state.lock();
    // One object or an array of them; messages name an array item by its index.
    let (items, prefixed) = match json_body(&body)? {
        Value::Object(one) => (vec![Value::Object(one)], false),
        Value::Array(many) if !many.is_empty() => (many, true),
        Value::Array(_) => {
            return Err(invalid(vec![
                "data sources must contain at least 1 elements".into(),
            ]));
        }
        _ => {
            return Err(invalid(vec![
                "request body must be an object or an array of objects".into(),
            ]));
        }
    };
    let mut sources = Vec::new();
    let mut problems = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let prefix = if prefixed {
            format!("[{i}] ")
        } else {
            String::new()
        };
        let Value::Object(source) = item else {
            problems.push(format!("{prefix}data source must be an object"));
            continue;
        };
        problems.extend(check_fields(&source, create_kind, &prefix));
        for field in REQUIRED {
            if is_blank(source.get(*field)) {
                problems.push(format!("{prefix}{field} should not be empty"));
            }
        }
        sources.push(source);
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let mut names = HashSet::new();
    for source in &sources {
        let name = source["resourceName"].as_str().unwrap_or_default();
        if s.name_taken(name) || !names.insert(name) {
            // PDC echoes the record as it was sent, secrets and all, before the reason.
            return Err(error(
                StatusCode::BAD_REQUEST,
                json!(format!(
                    "{} Duplicate key violation on the requested collection: Index '_id_'",
                    Value::Object(source.clone())
                )),
            ));
        }
    }
    let first = s.sources.len();
    for source in sources {
        s.insert(source);
    }
    let created: Vec<Value> = s.sources[first..].iter().map(present).collect();
    success(StatusCode::CREATED, json!(created))
}

fn not_found() -> Fault {
    error(StatusCode::NOT_FOUND, json!("Data source not found"))
}

async fn get_one(State(state): State<Shared>, Path(id): Path<String>) -> Answer {
    let s = state.lock();
    let i = s.position(&id).ok_or_else(not_found)?;
    success(StatusCode::OK, present(&s.sources[i]))
}

async fn update(State(state): State<Shared>, Path(id): Path<String>, body: Bytes) -> Answer {
    let mut s = state.lock();
    let i = s.position(&id).ok_or_else(not_found)?;
    let changes = object_body(&body)?;
    let problems = check_fields(&changes, patch_kind, "");
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    if !changes.is_empty() {
        let now = s.tick();
        let source = &mut s.sources[i];
        source.extend(changes);
        source.insert("updatedAt".into(), json!(now));
    }
    success(StatusCode::OK, present(&s.sources[i]))
}

async fn by_ids(State(state): State<Shared>, body: Bytes) -> Answer {
    let s = state.lock();
    let body = object_body(&body)?;
    let mut problems: Vec<String> = body
        .keys()
        .filter(|k| *k != "ids")
        .map(|k| format!("property {k} should not exist"))
        .collect();
    let ids = match body.get("ids") {
        Some(Value::Array(ids)) if !ids.is_empty() => {
            if !ids.iter().all(Value::is_string) {
                problems.push("each value in ids must be a string".into());
            }
            ids.iter().filter_map(Value::as_str).collect()
        }
        _ => {
            problems.push("ids must contain at least 1 elements".into());
            Vec::new()
        }
    };
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    // In the order asked; an id asked twice is shown once.
    let mut seen = HashSet::new();
    let found: Vec<Value> = ids
        .into_iter()
        .filter(|id| seen.insert(*id))
        .filter_map(|id| s.position(id))
        .map(|i| present(&s.sources[i]))
        .collect();
    success(StatusCode::OK, json!(found))
}

/// A query integer within `min..=max` (`default` when absent), or class-validator's complaint.
fn bounded(
    query: &HashMap<String, String>,
    name: &str,
    default: usize,
    (min, max): (i64, i64),
    problems: &mut Vec<String>,
) -> usize {
    let Some(text) = query.get(name) else {
        return default;
    };
    match text.parse::<i64>() {
        Err(_) => problems.push(format!("{name} must be an integer number")),
        Ok(n) if n < min => problems.push(format!("{name} must not be less than {min}")),
        Ok(n) if n > max => problems.push(format!("{name} must not be greater than {max}")),
        Ok(n) => return usize::try_from(n).unwrap_or(default),
    }
    default
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters. Case is
/// ignored, as PDC's filter does.
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.to_lowercase(), text.to_lowercase());
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*` at all: an exact match.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

/// The patterns of one filter: absent is `None`, otherwise an array of strings. Problems are
/// named with the filter's path (`filters.resourceNames`), as NestJS names nested ones.
fn patterns(
    filters: &Map<String, Value>,
    name: &str,
    problems: &mut Vec<String>,
) -> Option<Vec<String>> {
    let value = filters.get(name)?;
    match value.as_array() {
        Some(items) if items.iter().all(Value::is_string) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        _ => {
            problems.push(format!("filters.{name} must be an array of strings"));
            None
        }
    }
}

/// The filter keys of PDC's OpenAPI.
const FILTER_KEYS: [&str; 3] = ["resourceNames", "databaseTypes", "ids"];

/// Whether `id` is a MongoDB ObjectId: 24 hex digits.
fn is_object_id(id: &str) -> bool {
    id.len() == 24 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn filter(
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Answer {
    let s = state.lock();
    let mut problems = Vec::new();
    let skip = bounded(&query, "skip", 0, (0, i64::MAX), &mut problems);
    let limit = bounded(&query, "limit", 100, (1, 10_000), &mut problems);
    let body = object_body(&body)?;
    problems.extend(
        body.keys()
            .filter(|k| *k != "filters")
            .map(|k| format!("property {k} should not exist")),
    );
    let filters = match body.get("filters") {
        None => Map::new(),
        Some(Value::Object(filters)) => filters.clone(),
        Some(_) => {
            problems.push("filters must be an object".into());
            Map::new()
        }
    };
    problems.extend(
        filters
            .keys()
            .filter(|k| !FILTER_KEYS.contains(&k.as_str()))
            .map(|k| format!("filters.property {k} should not exist")),
    );
    let [names, types, ids] = FILTER_KEYS.map(|key| patterns(&filters, key, &mut problems));
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    // An empty array filters nothing, so it does not count as a filter.
    let names = names.filter(|p| !p.is_empty());
    let types = types.filter(|p| !p.is_empty());
    let ids = ids.filter(|p| !p.is_empty());
    if names.is_none() && types.is_none() && ids.is_none() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            json!("At least one filter must be provided"),
        ));
    }
    // Mongoose casts each id before it queries, and a failed cast is a server error.
    if let Some(bad) = ids.iter().flatten().find(|id| !is_object_id(id)) {
        return Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!(format!(
                "Cast to ObjectId failed for value \"{bad}\" (type string) at path \"_id\" for model \"DataSource\""
            )),
        ));
    }
    let passes = |source: &Map<String, Value>, field: &str, patterns: &Option<Vec<String>>| {
        patterns.as_ref().is_none_or(|patterns| {
            source
                .get(field)
                .and_then(Value::as_str)
                .is_some_and(|value| patterns.iter().any(|p| wildcard_match(p, value)))
        })
    };
    let id_passes = |source: &Map<String, Value>| {
        ids.as_ref().is_none_or(|ids| {
            source
                .get("_id")
                .and_then(Value::as_str)
                .is_some_and(|id| ids.iter().any(|wanted| wanted.eq_ignore_ascii_case(id)))
        })
    };
    let matches: Vec<&Map<String, Value>> = s
        .sources
        .iter()
        .filter(|src| {
            passes(src, "resourceName", &names)
                && passes(src, "databaseType", &types)
                && id_passes(src)
        })
        .collect();
    let page: Vec<Value> = matches
        .iter()
        .skip(skip)
        .take(limit)
        .map(|src| present(src))
        .collect();
    reply(
        StatusCode::OK,
        json!({"status": 200, "data": page, "pageInfo": {"totalCount": matches.len()}}),
    )
}

// ---- jobs ----------------------------------------------------------------------------------

async fn job_status(State(state): State<Shared>, Path(id): Path<String>) -> Answer {
    let mut s = state.lock();
    let i = s
        .jobs
        .iter()
        .position(|j| j.id() == Some(id.as_str()))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, json!("Job not found")))?;
    let job = &mut s.jobs[i];
    // The status endpoint answers the job itself, with no `{status, data}` around it.
    let shown = job.poll();
    let finished = if job.finished() {
        job.finish.take()
    } else {
        None
    };
    if let Some((source_id, field)) = finished
        && let Some(j) = s.position(&source_id)
    {
        s.sources[j].insert(field.into(), json!(id));
    }
    reply(StatusCode::OK, shown)
}

/// What a job to start is about.
#[derive(Clone, Copy)]
enum Activity {
    TestConnection,
    Ingest,
}

impl Activity {
    fn name(self) -> &'static str {
        match self {
            Activity::TestConnection => "TEST_CONNECTION",
            Activity::Ingest => "INGEST",
        }
    }

    /// The body fields the job cannot do without.
    fn required(self) -> &'static [&'static str] {
        match self {
            Activity::TestConnection => &["resourceId"],
            Activity::Ingest => &["resourceId", "databaseType"],
        }
    }

    /// The source field that takes the job's id once it finishes.
    fn last_job_field(self) -> &'static str {
        match self {
            Activity::TestConnection => "lastTestConnectionId",
            Activity::Ingest => "lastIngestId",
        }
    }
}

/// Why a job on `config` (the stored source with the body's non-secret fields over it) fails,
/// if it does.
fn job_failure(activity: Activity, config: &Map<String, Value>) -> Option<String> {
    match activity {
        Activity::TestConnection => config
            .values()
            .find_map(unreachable_host)
            .map(|host| format!("Connection test failed: getaddrinfo ENOTFOUND {host}")),
        Activity::Ingest => config
            .get("databaseType")
            .and_then(Value::as_str)
            .filter(|kind| OBJECT_STORES.contains(kind))
            .map(|kind| {
                format!(
                    "Metadata ingest failed: {kind} is an object store, it has no schemas to ingest; its files are scanned instead"
                )
            }),
    }
}

/// Starts a job on the stored source the body's `resourceId` names. The body is a data-source
/// configuration; credentials in it are ignored (PDC's own UI sends none): the job uses the
/// stored ones.
fn start_job(state: &Shared, body: &[u8], activity: Activity) -> Answer {
    let mut s = state.lock();
    let body = object_body(body)?;
    let mut problems = check_fields(&body, create_kind, "");
    for field in activity.required() {
        if is_blank(body.get(*field)) {
            problems.push(format!("{field} should not be empty"));
        }
    }
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    let resource_id = body["resourceId"].as_str().unwrap_or_default();
    let Some(i) = s.position(resource_id) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            json!(format!("Data source {resource_id} not found")),
        ));
    };
    let mut config = s.sources[i].clone();
    config.extend(
        body.into_iter()
            .filter(|(k, _)| !SECRET_FIELDS.contains(&k.as_str())),
    );
    let failure = job_failure(activity, &config);
    let source_id = config["_id"].as_str().unwrap_or_default().to_string();
    let title = s.sources[i]["resourceName"].clone();
    let created_at = s.tick();
    let (number, job_id) = s.job_ids.next_numbered();
    let worker = 1 + number % 2;
    let running = |duration| Stage {
        status: "RUNNING".into(),
        duration,
        error: None,
    };
    let (mut stages, done) = match activity {
        Activity::TestConnection => (vec![running(800)], 1_840),
        Activity::Ingest => (vec![running(42_000), running(84_000)], 121_500),
    };
    stages.push(match failure {
        Some(error) => Stage {
            status: "FAILED".into(),
            duration: done,
            error: Some(error),
        },
        None => Stage {
            status: "COMPLETED".into(),
            duration: done,
            error: None,
        },
    });
    let record = json!({
        "_id": job_id,
        "workerId": seeded_uuid(0x9dc0_0b0b, worker),
        "workerName": format!("pdc-worker-{worker:02}"),
        "activity": activity.name(),
        "status": "RUNNING",
        "user": {"name": JOB_USER, "email": format!("{JOB_USER}@acme.example"),
            "firstName": "Sandbox", "lastName": "Admin"},
        "createdAt": created_at,
        "duration": 0,
        "scope": {
            "dataSources": [{"_id": source_id, "title": title}],
            "scope": [{"type": "DATA_SOURCE", "_id": source_id, "title": title}],
        },
    });
    let Value::Object(record) = record else {
        unreachable!("a JSON object literal")
    };
    s.jobs.push(Job {
        record,
        stages,
        polls: 0,
        finish: Some((source_id, activity.last_job_field())),
    });
    success(StatusCode::OK, json!({"jobId": job_id}))
}

async fn execute_test_connection(State(state): State<Shared>, body: Bytes) -> Answer {
    start_job(&state, &body, Activity::TestConnection)
}

async fn execute_ingest(State(state): State<Shared>, body: Bytes) -> Answer {
    start_job(&state, &body, Activity::Ingest)
}

// ---- seed ----------------------------------------------------------------------------------

/// The seeded data sources, in creation order, with their own `createdAt` and `updatedAt`.
fn seed_sources() -> Vec<Map<String, Value>> {
    fixture!("pdc/data-sources.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_job_ids_are_the_seeded_ones() {
        let jobs: Vec<Job> = fixture!("pdc/jobs.json");
        let ids: Vec<String> = jobs
            .iter()
            .map(|j| j.record["_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            ids,
            [
                JOB_INGEST_COMPLETED,
                JOB_TEST_CONNECTION_COMPLETED,
                JOB_TEST_CONNECTION_FAILED,
                JOB_INGEST_RUNNING
            ]
        );
    }

    #[test]
    fn seed_sources_pass_create_validation() {
        let sources = seed_sources();
        assert_eq!(sources.len(), 12);
        for mut source in sources {
            // Seeded with the server's timestamps, which a create does not take.
            source.remove("createdAt");
            source.remove("updatedAt");
            assert_eq!(check_fields(&source, create_kind, ""), Vec::<String>::new());
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("my-db", "my-db"));
        assert!(wildcard_match("MY-DB", "my-db"));
        assert!(!wildcard_match("my-db", "my-db2"));
        assert!(wildcard_match("prod-*", "prod-redshift"));
        assert!(!wildcard_match("prod-*", "staging-prod-x"));
        assert!(wildcard_match("*-primary", "prod-postgres-primary"));
        assert!(!wildcard_match("*-primary", "primary-x"));
        assert!(wildcard_match("*postgres*", "staging-postgres"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "a-b-c"));
        assert!(!wildcard_match("a*b*c", "a-c-b"));
        // The prefix and suffix must not overlap.
        assert!(!wildcard_match("ab*ba", "aba"));
    }

    #[test]
    fn clock_ticks_deterministically() {
        let mut p = Pdc {
            username: String::new(),
            password: String::new(),
            tokens: HashSet::new(),
            keys: Keys::generate("k-", &Users::default()),
            sources: Vec::new(),
            ids: Ids::object_ids(DATA_SOURCES),
            clock: 0,
            jobs: Vec::new(),
            job_ids: Ids::object_ids(JOBS),
        };
        assert_eq!(p.tick(), "2025-06-01T12:00:01.000Z");
        p.clock = 12 * 3600 - 1;
        assert_eq!(p.tick(), "2025-06-02T00:00:00.000Z");
    }
}
