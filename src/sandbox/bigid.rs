//! A simulated BigID Data Sources API. Public sources, by behaviour:
//!
//! - Paths, bodies and the `rdb_url` without a port (`sql.mybigid.com`): BigID's Add Data
//!   Source tutorial, <https://developer.bigid.com/wiki/BigID_API/Add_Data_Source_Tutorial>,
//!   and <https://developer.bigid.com/wiki/BigID_API/Token_Authentication>.
//! - Tokens are JWTs whose payload `type` says what they are, as BigID's own MCP server reads
//!   them (bigexchange/bigid-mcp-server:src/auth/BigIDAuth.ts); the payload's other claims are
//!   those of a `/sessions` token recorded against BigID's sandbox
//!   (JupiterOne/graph-bigid:src/steps/dataSource/__recordings__/fetch-datasource_1080215431/recording.har).
//! - An unknown name is a 400 "Unable to locate …", not a 404
//!   (aws-ia/cloudformation-bigid-resource-providers:BigID-Common/src/abstract-bigid-datasource-resource.ts).
//! - The list's `{status, statusCode, message, data: {ds_connections, totalCount}}`, with
//!   `skip`, `limit` and `requireTotalCount=true` (JupiterOne/graph-bigid:src/client.ts and the
//!   recording above); list items' `connectionStatusTest` / `connectionStatusScan`
//!   (`{is_success, last_connection, num_of_object}`), `last_scan_at` (epoch ms), `owners`,
//!   `created_at`, `updated_at` (bigexchange/quickstart-utility-dspm-ts:services/quickstart-utility-dspm-ts/static/example_responses.ts
//!   and the recording above).
//!
//! - A refused credential is answered HTTP 200, labelled `text/html; charset=utf-8`, with the
//!   JSON `{"success": false, "message"}`: "Failed to authenticate token." for a token (at
//!   `/refresh-access-token` and at any other endpoint), "Authentication failed. Username /
//!   Password incorrect or insufficient roles in AD." for a login (JupiterOne/graph-bigid:
//!   src/__recordings__/client-id-auth-error_233254982/recording.har, recorded against BigID's
//!   sandbox).
//!
//! What the sandbox does:
//! - `GET /refresh-access-token` exchanges the user token (a JWT of type `refresh-token`, raw
//!   in `Authorization`) for a `systemToken`; `POST /sessions` exchanges username/password for
//!   an `auth_token`. Both issue JWTs of type `access-token`; every other endpoint wants one of
//!   those, raw, in `Authorization`, or refuses as BigID does (above).
//! - Sources are `{"ds_connection": {...}}`; list/export/test use `ds-connections`, one source
//!   by name uses `ds_connections` — the vendor's own mix. A create answers 200.
//! - rdb-postgresql takes `rdb_url` and `rdb_name` as rdb-mysql does (assumed, as the ledger
//!   assumes it: BigID's tutorial shows rdb-mysql only).
//! - Templates describe each type's fields (`apiName`, `mandatory`, `mandatoryForTest`,
//!   `validation`); create enforces them; PUT replaces the whole source but keeps a stored
//!   credential that is not sent (and stores a mask if a mask is sent, as the vendor would),
//!   and the fields the server keeps (`_id`, `created_at`, the connection statuses).
//! - A test connection fails for hosts under `.invalid`, for missing test fields and for a
//!   masked credential. A test naming a stored source records its outcome in that source's
//!   `connectionStatusTest`. `isNewPassword: false` tests a stored source (found by the
//!   body's `name`) with its stored credential wherever the body leaves a credential out, empty
//!   or masked (assumed: BigID documents only `isNewPassword: true`); `isNewPassword: true`
//!   tests what is sent, so a mask fails authentication.
//! - Scans, in the shapes BigID's own integrations use and never stricter than they are:
//!   `POST /ds-connections/{name}/scan?isSampleScan=…&scanType=…&autoAssumeScanType=…`, no body
//!   (bigexchange/content:Packs/BigId/Integrations/BigId/BigId.py, splunk-soar-connectors/
//!   bigiddatadiscovery:bigiddatadiscovery_connector.py), answers `{status, statusCode, message,
//!   data: {dsConnectionName, isSampleScan, isScheduled, scanProfileName, scanType, state}}` with
//!   no scan id (the XSOAR integration's BigId.yml); an unknown name is the 400 "Unable to locate
//!   …". `GET /ds-connections/{name}/scan` answers the source's last scan under `data` (the SOAR
//!   connector reads `data`); its fields are not published, so the sandbox uses the start's
//!   (`dsConnectionName`, `scanType`, `state`…) and BigID's names from elsewhere: `_id`,
//!   `created_at`, `updated_at` (a scan started from a profile, BigId.yml), `num_of_object` (a
//!   source's `connectionStatusScan`), `total_pii_count` (catalog objects), and `errorMessage`
//!   (assumed) for a failure; a source never scanned answers `data: {}` (assumed).
//! - A started scan is `Queued` (assumed: no queued state is published), then `InProgress`, then
//!   `Completed` (codescan-bigid-action's end) or `Failed` (the catalog's word) when the source
//!   names a host under `.invalid`, as its connection tests fail. It advances one step per read
//!   of the last scan, so tests are fast; the first read after a start still answers the
//!   previous scan (BigID registering the new one). A completed dsScan counts the source's
//!   objects and three findings per object (a metadataScan none); the end is recorded in the
//!   source's `connectionStatusScan` and `last_scan_at`. Seeded sources come with the scan their
//!   `connectionStatusScan` describes. Nothing stops a scan (no route is published).
//! - Timestamps of writes come from a clock that starts at 2025-06-01T12:00:00.000Z and moves
//!   one second per write (a scan's steps included), so runs are repeatable.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Seed;
use super::Simulation;
use super::shell::{
    Answer, Api, Authorize, Fault, Ids, Store, fault, fixture, header, is_blank, iso_millis,
    json_body, position_of, random_token, reply, unreachable_host,
};
use super::users::Users;

/// How BigID shows a credential it will not reveal.
const HIDDEN: &str = "********";

/// The sandbox clock's start, 2025-06-01T12:00:00.000Z, in milliseconds since the epoch.
const CLOCK_START_MS: i64 = 1_748_779_200_000;

/// The `type` claim of the user token, and of the tokens the exchanges issue.
const REFRESH_TOKEN: &str = "refresh-token";
const ACCESS_TOKEN: &str = "access-token";

/// Fields the server keeps whatever a PUT sends.
const SERVER_FIELDS: &[&str] = &[
    "_id",
    "created_at",
    "connectionStatusTest",
    "connectionStatusScan",
    "last_scan_at",
];

struct Credentials {
    user_token: String,
    username: String,
    password: String,
}

/// Where a simulated scan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Queued,
    InProgress,
    Completed,
    Failed,
}

impl Step {
    fn state(self) -> &'static str {
        match self {
            Step::Queued => "Queued",
            Step::InProgress => "InProgress",
            Step::Completed => "Completed",
            Step::Failed => "Failed",
        }
    }
}

/// One scan of a source.
struct Scan {
    id: String,
    /// The scanned source's `_id` (its name may change).
    source: String,
    scan_type: String,
    sample: bool,
    step: Step,
    /// Where it ends: `None` completes, `Some(reason)` fails.
    failure: Option<String>,
    objects: u64,
    findings: u64,
    created_at: String,
    updated_at: String,
    /// Whether BigID shows it as the source's last scan yet.
    registered: bool,
}

struct BigId {
    credentials: Credentials,
    /// Tokens handed out by the two exchanges.
    sessions: HashSet<String>,
    /// Sources in creation order, each a `ds_connection` object with `_id`.
    sources: Vec<Map<String, Value>>,
    ids: Ids,
    /// Seconds on the sandbox clock; each write takes the next one.
    clock: i64,
    /// Every scan, oldest first.
    scans: Vec<Scan>,
    scan_ids: Ids,
}

type Shared = Store<BigId>;

/// Fresh routes and the variables that reach them. Its credential is not one static key, so
/// `users` get none of their own here.
pub fn start(sample: Seed, _users: &Users) -> Simulation {
    let credentials = Credentials {
        user_token: jwt(REFRESH_TOKEN, "sandbox-admin", 365 * 86_400),
        username: "sandbox-admin".into(),
        password: random_token("pw-"),
    };
    let env = vec![("BIGID_USER_TOKEN", credentials.user_token.clone())];
    let alternatives = vec![
        ("BIGID_USERNAME", credentials.username.clone()),
        ("BIGID_PASSWORD", credentials.password.clone()),
    ];
    let mut state = BigId {
        credentials,
        sessions: HashSet::new(),
        sources: Vec::new(),
        ids: Ids::object_ids(0xb161d),
        clock: 0,
        scans: Vec::new(),
        scan_ids: Ids::object_ids(0x5ca115),
    };
    for source in seed().into_iter().filter(|_| sample == Seed::Sample) {
        state.insert(source);
    }
    state.seed_scans();
    Api {
        state,
        token_exchanges: vec![
            ("/refresh-access-token", get(refresh_access_token)),
            ("/sessions", post(sessions)),
        ],
        endpoints: vec![
            ("/ds-connections", get(list)),
            ("/ds-connections/file-download/export", get(export)),
            ("/ds-connection-test", post(test_connection)),
            ("/ds_connections", post(create)),
            (
                "/ds_connections/{name}",
                get(get_one).put(update).delete(delete),
            ),
            (
                "/ds-connections/{name}/scan",
                get(last_scan).post(start_scan),
            ),
            ("/ds-connections-types", get(list_templates)),
            ("/ds-connections-types/template/{type}", get(get_template)),
        ],
        env,
        alternatives,
        keys: None,
    }
    .start()
}

impl BigId {
    fn insert(&mut self, mut source: Map<String, Value>) {
        source.insert("_id".into(), json!(self.ids.next()));
        self.sources.push(source);
    }

    fn position(&self, name: &str) -> Option<usize> {
        position_of(&self.sources, "name", name)
    }

    fn issue_token(&mut self) -> String {
        let token = jwt(ACCESS_TOKEN, &self.credentials.username, 86_400);
        self.sessions.insert(token.clone());
        token
    }

    /// The next instant on the sandbox clock, ISO 8601 with milliseconds.
    fn now(&mut self) -> String {
        self.tick();
        iso_millis(self.now_ms())
    }

    fn tick(&mut self) {
        self.clock += 1;
    }

    /// The sandbox clock's instant, in milliseconds since the epoch.
    fn now_ms(&self) -> i64 {
        CLOCK_START_MS + self.clock * 1000
    }

    /// The scan each seeded source's `connectionStatusScan` describes, as its last.
    fn seed_scans(&mut self) {
        let seeded: Vec<(String, bool, String, u64)> = self
            .sources
            .iter()
            .filter_map(|source| {
                let status = source.get("connectionStatusScan")?;
                Some((
                    source.get("_id")?.as_str()?.to_string(),
                    status.get("is_success")?.as_bool()?,
                    status.get("last_connection")?.as_str()?.to_string(),
                    status.get("num_of_object")?.as_u64()?,
                ))
            })
            .collect();
        for (source, success, at, objects) in seeded {
            let failure = (!success).then(|| "Scan failed: connection timed out".to_string());
            self.scans.push(Scan {
                id: self.scan_ids.next(),
                source,
                scan_type: "dsScan".into(),
                sample: false,
                step: if success {
                    Step::Completed
                } else {
                    Step::Failed
                },
                failure,
                objects,
                findings: objects * FINDINGS_PER_OBJECT,
                created_at: at.clone(),
                updated_at: at,
                registered: true,
            });
        }
    }
}

/// Findings a completed dsScan counts per object.
const FINDINGS_PER_OBJECT: u64 = 3;

/// A JWT as BigID issues them: HS256 header; payload with `user_name`, `type`, `isAdmin`,
/// `iat` and `exp` (`lifetime` seconds later). The signature is random: only the sandbox that
/// issued a token accepts it, by its whole text.
fn jwt(kind: &str, user: &str, lifetime: u64) -> String {
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let payload = json!({"user_name": user, "type": kind, "isAdmin": true,
        "iat": iat, "exp": iat + lifetime});
    let part = |value: &Value| URL_SAFE_NO_PAD.encode(value.to_string());
    let signature = URL_SAFE_NO_PAD.encode(random_token("").as_bytes());
    format!("{}.{}.{signature}", part(&header), part(&payload))
}

impl Authorize for BigId {
    /// One of the tokens the two exchanges handed out, raw in `Authorization`.
    fn authorize(&self, headers: &HeaderMap) -> Result<(), Fault> {
        match header(headers, "authorization") {
            Some(token) if self.sessions.contains(token) => Ok(()),
            _ => Err(refused(TOKEN_REFUSED)),
        }
    }
}

const TOKEN_REFUSED: &str = "Failed to authenticate token.";
const LOGIN_REFUSED: &str =
    "Authentication failed. Username / Password incorrect or insufficient roles in AD.";

/// How BigID refuses a credential: HTTP 200, its JSON labelled as HTML.
fn refused(message: &str) -> Fault {
    fault(
        StatusCode::OK,
        json!({"success": false, "message": message}),
    )
    .labelled("text/html; charset=utf-8")
}

fn status_error(status: StatusCode, message: String) -> Fault {
    fault(
        status,
        json!({"status": "error", "statusCode": status.as_u16(), "message": message}),
    )
}

/// What BigID answers for a name it does not have: a 400, not a 404.
fn not_found(name: &str) -> Fault {
    status_error(
        StatusCode::BAD_REQUEST,
        format!("Unable to locate data source {name}"),
    )
}

// ---- auth ----------------------------------------------------------------------------------

async fn refresh_access_token(State(state): State<Shared>, headers: HeaderMap) -> Answer {
    let mut s = state.lock();
    if header(&headers, "authorization") != Some(s.credentials.user_token.as_str()) {
        return Err(refused(TOKEN_REFUSED));
    }
    let token = s.issue_token();
    reply(
        StatusCode::OK,
        json!({"success": true, "systemToken": token}),
    )
}

async fn sessions(State(state): State<Shared>, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let mut s = state.lock();
    let ok = body["username"].as_str() == Some(s.credentials.username.as_str())
        && body["password"].as_str() == Some(s.credentials.password.as_str());
    if !ok {
        return Err(refused(LOGIN_REFUSED));
    }
    let token = s.issue_token();
    reply(
        StatusCode::OK,
        json!({"success": true, "message": "Enjoy your token!", "auth_token": token,
            "username": s.credentials.username, "firstName": "Sandbox", "permissions": ["admin"]}),
    )
}

// ---- data sources --------------------------------------------------------------------------

/// A source as the API shows it: credential fields hidden.
fn present(source: &Map<String, Value>) -> Value {
    let secret = secret_fields(source.get("type").and_then(Value::as_str));
    let shown: Map<String, Value> = source
        .iter()
        .map(|(k, v)| {
            if secret.contains(&k.as_str()) && v.as_str().is_some_and(|s| !s.is_empty()) {
                (k.clone(), json!(HIDDEN))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    Value::Object(shown)
}

async fn list(State(state): State<Shared>, Query(query): Query<HashMap<String, String>>) -> Answer {
    let s = state.lock();
    let number = |key: &str| -> Result<Option<usize>, Fault> {
        match query.get(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                status_error(
                    StatusCode::BAD_REQUEST,
                    format!("{key} must be a non-negative integer"),
                )
            }),
        }
    };
    let skip = number("skip")?.unwrap_or(0);
    let limit = number("limit")?.unwrap_or(usize::MAX);
    let page: Vec<Value> = s
        .sources
        .iter()
        .skip(skip)
        .take(limit)
        .map(present)
        .collect();
    let mut data = json!({"ds_connections": page});
    // The total (before skip and limit) only when asked for, as clients that page ask.
    if query.get("requireTotalCount").map(String::as_str) == Some("true") {
        data["totalCount"] = json!(s.sources.len());
    }
    reply(
        StatusCode::OK,
        json!({"status": "success", "statusCode": 200, "message": null, "data": data}),
    )
}

async fn get_one(State(state): State<Shared>, Path(name): Path<String>) -> Answer {
    let s = state.lock();
    match s.position(&name) {
        Some(i) => reply(
            StatusCode::OK,
            json!({"ds_connection": present(&s.sources[i])}),
        ),
        None => Err(not_found(&name)),
    }
}

/// The `ds_connection` object of a request body.
fn ds_connection(body: &Value) -> Result<Map<String, Value>, Fault> {
    body.get("ds_connection")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| {
            status_error(
                StatusCode::BAD_REQUEST,
                "Request body must contain a ds_connection object".into(),
            )
        })
}

/// Checks a source against its template: known type, mandatory fields, validations.
/// `stored` credentials count as present (PUT may omit them).
fn check_against_template(
    source: &Map<String, Value>,
    stored: Option<&Map<String, Value>>,
) -> Result<(), Fault> {
    let kind = source.get("type").and_then(Value::as_str).unwrap_or("");
    let Some(template) = template(kind) else {
        return Err(status_error(
            StatusCode::BAD_REQUEST,
            format!("Unknown data source type '{kind}'"),
        ));
    };
    let present = |api_name: &str| {
        let filled = |m: &Map<String, Value>| !is_blank(m.get(api_name));
        filled(source) || stored.is_some_and(filled)
    };
    let missing: Vec<&str> = template
        .fields
        .iter()
        .filter(|f| f.mandatory && !present(&f.api_name))
        .map(|f| f.api_name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(status_error(
            StatusCode::BAD_REQUEST,
            format!("Missing mandatory field(s): {}", missing.join(", ")),
        ));
    }
    for field in &template.fields {
        let Some(text) = source.get(&field.api_name).and_then(Value::as_str) else {
            continue;
        };
        if let Some(rule) = field.validation.iter().find(|rule| !(rule.check)(text)) {
            return Err(status_error(
                StatusCode::BAD_REQUEST,
                format!("{}: {}", field.display_name, rule.error_text),
            ));
        }
    }
    Ok(())
}

async fn create(State(state): State<Shared>, body: Bytes) -> Answer {
    let mut s = state.lock();
    let mut source = ds_connection(&json_body(&body)?)?;
    check_against_template(&source, None)?;
    let name = source["name"].as_str().unwrap_or_default().to_string();
    if s.position(&name).is_some() {
        return Err(status_error(
            StatusCode::CONFLICT,
            format!("Data source '{name}' already exists"),
        ));
    }
    // A new source has not been tested or scanned: no connection statuses yet.
    for field in SERVER_FIELDS {
        source.remove(*field);
    }
    source.entry("enabled").or_insert(json!("yes"));
    source.entry("owners").or_insert(json!([]));
    let now = s.now();
    source.insert("created_at".into(), json!(now));
    source.insert("updated_at".into(), json!(now));
    s.insert(source);
    let created = s.sources.last().map(present).unwrap_or(Value::Null);
    reply(
        StatusCode::OK,
        json!({"status": "success", "statusCode": 200, "message": format!("Data source '{name}' created"),
            "data": {"ds_connection": created}}),
    )
}

async fn update(State(state): State<Shared>, Path(name): Path<String>, body: Bytes) -> Answer {
    let mut s = state.lock();
    let Some(index) = s.position(&name) else {
        return Err(not_found(&name));
    };
    let mut source = ds_connection(&json_body(&body)?)?;
    let stored = s.sources[index].clone();
    source.entry("name").or_insert(json!(name));
    check_against_template(&source, Some(&stored))?;
    let new_name = source["name"].as_str().unwrap_or_default().to_string();
    if new_name != name && s.position(&new_name).is_some() {
        return Err(status_error(
            StatusCode::CONFLICT,
            format!("Data source '{new_name}' already exists"),
        ));
    }
    // PUT replaces the source; credentials not sent are kept (a sent mask is stored as is).
    for field in secret_fields(source.get("type").and_then(Value::as_str)) {
        if !source.contains_key(field)
            && let Some(v) = stored.get(field)
        {
            source.insert(field.to_string(), v.clone());
        }
    }
    // What the server keeps is not the client's to change.
    for field in SERVER_FIELDS {
        match stored.get(*field) {
            Some(v) => source.insert(field.to_string(), v.clone()),
            None => source.remove(*field),
        };
    }
    source.insert("updated_at".into(), json!(s.now()));
    s.sources[index] = source;
    reply(
        StatusCode::OK,
        json!({"status": "success", "statusCode": 200, "message": format!("Data source '{new_name}' updated")}),
    )
}

async fn delete(State(state): State<Shared>, Path(name): Path<String>) -> Answer {
    let mut s = state.lock();
    match s.position(&name) {
        Some(i) => {
            s.sources.remove(i);
            reply(
                StatusCode::OK,
                json!({"status": "success", "statusCode": 200, "message": format!("Data source '{name}' deleted")}),
            )
        }
        None => Err(not_found(&name)),
    }
}

/// Whether a credential value is a mask (`********`) rather than the credential.
fn is_mask(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c == '*'))
}

async fn test_connection(State(state): State<Shared>, body: Bytes) -> Answer {
    let body = json_body(&body)?;
    let mut source = ds_connection(&body)?;
    let kind = source
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(template) = template(&kind) else {
        return Err(status_error(
            StatusCode::BAD_REQUEST,
            format!("Unknown data source type '{kind}'"),
        ));
    };
    let mut s = state.lock();
    // The stored source the test names, if any: its outcome is recorded there.
    let stored = source
        .get("name")
        .and_then(Value::as_str)
        .and_then(|name| s.position(name));
    // `isNewPassword: false` tests with the credential stored for that name where the body
    // leaves it out, empty, or sends the mask. Assumed: BigID documents only
    // `isNewPassword: true`.
    if body["isNewPassword"] == Value::Bool(false)
        && let Some(i) = stored
    {
        for field in secret_fields(Some(&kind)) {
            let sent = source.get(field);
            if (is_blank(sent) || sent.is_some_and(is_mask))
                && let Some(v) = s.sources[i].get(field)
            {
                source.insert(field.to_string(), v.clone());
            }
        }
    }
    let missing: Vec<&str> = template
        .fields
        .iter()
        .filter(|f| f.mandatory_for_test && is_blank(source.get(&f.api_name)))
        .map(|f| f.api_name.as_str())
        .collect();
    let masked_secret = secret_fields(Some(&kind))
        .into_iter()
        .any(|f| source.get(f).is_some_and(is_mask));
    let (success, message) = if !missing.is_empty() {
        (
            false,
            format!(
                "Missing required field(s) for connection test: {}",
                missing.join(", ")
            ),
        )
    } else if let Some(host) = source.values().find_map(unreachable_host) {
        (
            false,
            format!("Test connection failed: getaddrinfo ENOTFOUND {host}"),
        )
    } else if masked_secret {
        (
            false,
            "Test connection failed: authentication failed (the stored credential is invalid)"
                .to_string(),
        )
    } else {
        (
            true,
            format!(
                "Connection to {} data source succeeded",
                template.display_name
            ),
        )
    };
    if let Some(i) = stored {
        let now = s.now();
        let stored = &mut s.sources[i];
        let objects = stored
            .get("connectionStatusTest")
            .and_then(|t| t.get("num_of_object"))
            .cloned()
            .unwrap_or(json!(0));
        stored.insert(
            "connectionStatusTest".into(),
            json!({"is_success": success, "last_connection": now, "num_of_object": objects}),
        );
    }
    reply(
        StatusCode::OK,
        json!({"success": success, "message": message}),
    )
}

async fn export(
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let s = state.lock();
    let wanted: Option<Vec<&str>> = query.get("ids").map(|ids| ids.split(',').collect());
    let sources: Vec<Value> = s
        .sources
        .iter()
        .filter(|src| {
            wanted.as_ref().is_none_or(|w| {
                src.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| w.contains(&n))
            })
        })
        .map(present)
        .collect();
    reply(
        StatusCode::OK,
        json!({"version": "1", "count": sources.len(), "ds_connections": sources}),
    )
}

// ---- scans ---------------------------------------------------------------------------------

/// The objects a scan of `source` finds: what its last scan counted, else a number of its own.
fn objects_in(source: &Map<String, Value>) -> u64 {
    let counted = source
        .get("connectionStatusScan")
        .and_then(|status| status.get("num_of_object"))
        .and_then(Value::as_u64)
        .filter(|n| *n > 0);
    counted.unwrap_or_else(|| {
        let name = source.get("name").and_then(Value::as_str).unwrap_or("");
        12 + name.bytes().map(u64::from).sum::<u64>() % 48
    })
}

async fn start_scan(
    State(state): State<Shared>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let mut s = state.lock();
    let Some(index) = s.position(&name) else {
        return Err(not_found(&name));
    };
    let source = &s.sources[index];
    let source_id = source
        .get("_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let scan_type = query
        .get("scanType")
        .cloned()
        .unwrap_or_else(|| "dsScan".into());
    let sample = query.get("isSampleScan").map(String::as_str) == Some("true");
    let failure = source
        .values()
        .find_map(unreachable_host)
        .map(|host| format!("Scan failed: getaddrinfo ENOTFOUND {host}"));
    let objects = objects_in(source);
    let findings = match scan_type.as_str() {
        "dsScan" => objects * FINDINGS_PER_OBJECT,
        _ => 0,
    };
    let at = s.now();
    let scan = Scan {
        id: s.scan_ids.next(),
        source: source_id,
        scan_type: scan_type.clone(),
        sample,
        step: Step::Queued,
        failure,
        objects,
        findings,
        created_at: at.clone(),
        updated_at: at,
        registered: false,
    };
    s.scans.push(scan);
    reply(
        StatusCode::OK,
        json!({"status": "success", "statusCode": 200, "message": format!("Scan of data source '{name}' started"),
            "data": {"dsConnectionName": name, "isSampleScan": sample, "isScheduled": false,
                "scanProfileName": name, "scanType": scan_type, "state": Step::Queued.state()}}),
    )
}

/// A scan as the last-scan read shows it.
fn scan_json(scan: &Scan, source_name: &str) -> Value {
    let mut shown = json!({"_id": scan.id, "dsConnectionName": source_name, "scanType": scan.scan_type,
        "isSampleScan": scan.sample, "isScheduled": false, "scanProfileName": source_name,
        "state": scan.step.state(), "created_at": scan.created_at, "updated_at": scan.updated_at});
    match scan.step {
        Step::Completed => {
            shown["num_of_object"] = json!(scan.objects);
            shown["total_pii_count"] = json!(scan.findings);
        }
        Step::Failed => {
            shown["num_of_object"] = json!(0);
            shown["errorMessage"] = json!(scan.failure);
        }
        Step::Queued | Step::InProgress => {}
    }
    shown
}

async fn last_scan(State(state): State<Shared>, Path(name): Path<String>) -> Answer {
    let mut s = state.lock();
    let Some(index) = s.position(&name) else {
        return Err(not_found(&name));
    };
    let source_id = s.sources[index]
        .get("_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let mine: Vec<usize> = (0..s.scans.len())
        .filter(|i| s.scans[*i].source == source_id)
        .collect();
    // A scan just started is not the last one yet: this read registers it and still shows the
    // one before.
    let shown = match mine.last() {
        Some(&last) if !s.scans[last].registered => {
            s.scans[last].registered = true;
            mine.len().checked_sub(2).map(|i| mine[i])
        }
        last => last.copied(),
    };
    let Some(shown) = shown else {
        return reply(
            StatusCode::OK,
            json!({"status": "success", "statusCode": 200, "message": null, "data": {}}),
        );
    };
    let data = scan_json(&s.scans[shown], &name);
    // The last scan moves one step per read.
    if s.scans[shown].registered && mine.last() == Some(&shown) {
        s.advance(shown, index);
    }
    reply(
        StatusCode::OK,
        json!({"status": "success", "statusCode": 200, "message": null, "data": data}),
    )
}

impl BigId {
    /// Moves scan `at` (of source `source`) one step on; its end is recorded on the source.
    fn advance(&mut self, at: usize, source: usize) {
        let next = match (self.scans[at].step, &self.scans[at].failure) {
            (Step::Queued, _) => Step::InProgress,
            (Step::InProgress, None) => Step::Completed,
            (Step::InProgress, Some(_)) => Step::Failed,
            (done, _) => done,
        };
        if next == self.scans[at].step {
            return;
        }
        let now = self.now();
        let scan = &mut self.scans[at];
        scan.step = next;
        scan.updated_at = now.clone();
        if matches!(next, Step::Completed | Step::Failed) {
            let success = next == Step::Completed;
            let objects = if success { scan.objects } else { 0 };
            let ended_ms = self.now_ms();
            let stored = &mut self.sources[source];
            stored.insert(
                "connectionStatusScan".into(),
                json!({"is_success": success, "last_connection": now, "num_of_object": objects}),
            );
            stored.insert("last_scan_at".into(), json!(ended_ms));
        }
    }
}

// ---- templates -----------------------------------------------------------------------------

/// A validation rule: the regex BigID shows, and the check the sandbox runs for it (the
/// sandbox has no regex engine, so each regex a template uses has its check written out).
#[derive(Deserialize)]
#[serde(try_from = "ShownRule")]
struct Rule {
    regex: String,
    error_text: String,
    check: Check,
}

/// Whether a value passes a rule.
type Check = fn(&str) -> bool;

/// A rule as `templates.json` (and BigID) shows it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShownRule {
    regex: String,
    error_text: String,
}

/// The regexes the templates use, each with its check.
const CHECKS: [(&str, Check); 2] = [
    (r"^[\w\-\s\(\):]+$", is_source_name),
    (r"^[^\s/:]+(:\d{1,5})?$", is_host_with_optional_port),
];

impl TryFrom<ShownRule> for Rule {
    type Error = String;

    fn try_from(shown: ShownRule) -> Result<Rule, String> {
        let (_, check) = CHECKS
            .into_iter()
            .find(|(regex, _)| *regex == shown.regex)
            .ok_or_else(|| format!("no check is written for the regex {}", shown.regex))?;
        Ok(Rule {
            regex: shown.regex,
            error_text: shown.error_text,
            check,
        })
    }
}

fn is_source_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| {
            c.is_alphanumeric() || matches!(c, '_' | '-' | '(' | ')' | ':') || c.is_whitespace()
        })
}

/// `host` or `host:port`: the tutorial's `rdb_url` is `sql.mybigid.com`, with no port.
fn is_host_with_optional_port(s: &str) -> bool {
    let (host, port) = match s.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (s, None),
    };
    !host.is_empty()
        && !host.contains(['/', ':'])
        && !host.chars().any(char::is_whitespace)
        && port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Field {
    api_name: String,
    display_name: String,
    #[serde(rename = "type")]
    kind: String,
    mandatory: bool,
    mandatory_for_test: bool,
    #[serde(default)]
    validation: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Template {
    name: String,
    display_name: String,
    category: String,
    fields: Vec<Field>,
}

/// The connector templates, in the order BigID lists them.
static TEMPLATES: LazyLock<Vec<Template>> = LazyLock::new(|| fixture!("bigid/templates.json"));

fn template(kind: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.name == kind)
}

/// The `apiName`s a type stores as credentials.
fn secret_fields(kind: Option<&str>) -> Vec<&'static str> {
    kind.and_then(template)
        .map(|t| {
            t.fields
                .iter()
                .filter(|f| f.kind == "password")
                .map(|f| f.api_name.as_str())
                .collect()
        })
        .unwrap_or_default()
}

fn template_json(t: &Template) -> Value {
    let fields: Vec<Value> = t
        .fields
        .iter()
        .enumerate()
        .map(|(order, f)| {
            let validation: Vec<Value> = f
                .validation
                .iter()
                .map(|r| json!({"regex": r.regex, "errorText": r.error_text}))
                .collect();
            json!({"name": f.api_name, "apiName": f.api_name, "displayName": f.display_name,
                "type": f.kind, "mandatory": f.mandatory, "mandatoryForTest": f.mandatory_for_test,
                "validation": validation, "section": if f.kind == "password" { "credentials" } else { "connection" },
                "order": order + 1, "enabled": true, "placeholder": ""})
        })
        .collect();
    json!({"name": t.name, "displayName": t.display_name, "category": t.category, "fields": fields})
}

async fn list_templates() -> Answer {
    let data: Vec<Value> = TEMPLATES
        .iter()
        .map(|t| json!({"type": t.name, "displayName": t.display_name, "category": t.category}))
        .collect();
    reply(
        StatusCode::OK,
        json!({"status": "success", "statusCode": 200, "data": data}),
    )
}

async fn get_template(Path(kind): Path<String>) -> Answer {
    match template(&kind) {
        Some(t) => reply(StatusCode::OK, template_json(t)),
        None => Err(status_error(
            StatusCode::NOT_FOUND,
            format!("Template '{kind}' not found"),
        )),
    }
}

// ---- seed ----------------------------------------------------------------------------------

/// The seeded sources, in creation order, as a create would store them.
fn seed() -> Vec<Map<String, Value>> {
    fixture!("bigid/sources.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_sources_satisfy_their_templates() {
        for source in seed() {
            assert!(
                check_against_template(&source, None).is_ok(),
                "{:?}",
                source.get("name")
            );
        }
    }

    #[test]
    fn templates_load_with_a_check_for_every_rule() {
        // Loading fails on a rule with no check written for it.
        let names: Vec<&str> = TEMPLATES.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "rdb-mysql",
                "rdb-postgresql",
                "s3-v2",
                "snowflake",
                "sharepoint-online"
            ]
        );
    }

    #[test]
    fn host_port_rule() {
        assert!(is_host_with_optional_port("db.example:3306"));
        assert!(is_host_with_optional_port("sql.mybigid.com"));
        assert!(!is_host_with_optional_port("db.example:"));
        assert!(!is_host_with_optional_port("db.example:3306:1"));
        assert!(!is_host_with_optional_port("http://db:3306"));
        assert!(!is_host_with_optional_port("db example"));
        assert!(!is_host_with_optional_port("db.example:123456"));
        assert!(!is_source_name("a/b"));
    }

    #[test]
    fn tokens_are_jwts_with_a_type() {
        for kind in [REFRESH_TOKEN, ACCESS_TOKEN] {
            let token = jwt(kind, "sandbox-admin", 60);
            let parts: Vec<&str> = token.split('.').collect();
            assert_eq!(parts.len(), 3, "{token}");
            let payload: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
            assert_eq!(payload["type"], kind);
            assert_eq!(
                payload["exp"].as_u64().unwrap() - payload["iat"].as_u64().unwrap(),
                60
            );
        }
    }
}
