//! A simulated Bigdata.com Content API, connectors. Public sources, by behaviour:
//!
//! - Paths, bodies, PUT's replace semantics (`label` required, `description` defaulting to
//!   `""`, `share_with_org` to `false`, `type` immutable), soft and forced delete, no list
//!   parameters, the 404 "No connector found with this ID, or the user does not have access":
//!   the API reference, <https://docs.bigdata.com/api-reference/connectors/create-connector>,
//!   `list-connectors`, `get-connector-by-id`, `update-connector-by-id`,
//!   `delete-connector-by-id` next to it.
//! - The error shape `{statusCode, message, errorCode, requestId}`: the vendor's own skill docs
//!   for the Content API (`/contents/v1`),
//!   Bigdata-com/claude-plugin-build-with-bigdata-com:skills/build-with-bigdata/references/api/content/delete.md.
//!   The `errorCode` values here are the sandbox's own: the vendor publishes only the shape
//!   (and `PRIVATE_CONTENT_NOT_FOUND` for documents).
//! - Labels are a "Display name" and nothing documents them as unique: duplicates are allowed.
//!
//! What the sandbox does:
//! - `X-API-KEY: <key>` on every request (the service key or a user's own, `sandbox --users`),
//!   or 401 (`errorCode` `UNAUTHORIZED`). Every error is
//!   `{"statusCode", "message", "errorCode", "requestId": "<random uuid>"}`. A body or query
//!   that fails validation is a 422 `VALIDATION_ERROR` whose message names every field at
//!   fault (`body.config.allowed_emails[1]: value is not a valid email address: …`; several
//!   joined by `; `). Schema checks come before the handler's (malformed id 400, unknown id
//!   404).
//! - Connector ids are UUIDs; one that does not parse as a UUID gets 400, one that is not
//!   there 404. Ids parse as Python's `uuid.UUID` does (any case, hyphens optional).
//! - Create: `type` (`email` | `investment_research` | `sharepoint`), `label`, and `config`
//!   per type (email `allowed_emails`; investment_research `user_id` + `user_password`;
//!   sharepoint `session_id`); `description` defaults to null, `share_with_org` to false.
//!   201 with the connector, a new `connector_id` even when the label is already used.
//! - Secrets are stored but never shown: investment_research shows `config.user_id` only and
//!   sharepoint shows `config: {}`. Email shows the generated inbox (`email_hash`, `email`).
//! - Update is a PUT that replaces: `description` omitted becomes `""`, `share_with_org`
//!   omitted becomes `false`. `config` only for email connectors (`allowed_emails`); `type`
//!   cannot change; an archived connector cannot be updated.
//! - Delete archives (200, the connector; again is a no-op); `force_delete=true` removes it
//!   (202 `deletion_scheduled`).
//! - Sync: investment_research needs `date_limit` (YYYY-MM-DD), sharepoint takes `{}` (a body
//!   is required), email cannot sync. 202 `accepted`, and the connector's `last_sync_status`
//!   becomes `PENDING`.
//! - Timestamps come from a clock that starts at a fixed instant and advances one minute per
//!   change, so every sandbox starts identical.
//!
//! Seeded connectors (`fixtures/bigdata/connectors.json`), in order: [`BROKER_RESEARCH_INBOX`]
//! (email), [`DAILY_REPORTS`] (investment_research, synced), [`RESEARCH_SHAREPOINT`]
//! (sharepoint, last sync failed) and [`OLD_INBOX`] (email, archived).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::args::check;

use super::Seed;
use super::Simulation;
use super::shell::{
    Answer, Api, Authorize, Fault, Ids, Store, civil_from_days, fault, fixture, header,
    random_token, reply,
};
use super::users::{KeyCheck, Keys, Users};

/// "Broker Research Inbox": email, two allowed senders, shared with the organisation.
pub const BROKER_RESEARCH_INBOX: &str = "0b16da7a-5eed-4000-8000-000000000001";
/// "Broker Research - Daily Reports": investment_research, 10 files, last sync SUCCESS (3200).
pub const DAILY_REPORTS: &str = "0b16da7a-5eed-4000-8000-000000000002";
/// "Research SharePoint": sharepoint, last sync FAILED.
pub const RESEARCH_SHAREPOINT: &str = "0b16da7a-5eed-4000-8000-000000000003";
/// "Old Inbox": email, archived.
pub const OLD_INBOX: &str = "0b16da7a-5eed-4000-8000-000000000004";

const ID_NAMESPACE: u32 = 0x0b16_da7a;
const USER_ID: &str = "user_sandbox_001";
const ORG_ID: &str = "org_sandbox_001";

/// The clock's start, 2026-02-11T11:01:09Z, as days since 1970 and seconds into the day.
const EPOCH_DAY: i64 = 20_495;
const EPOCH_SECOND_OF_DAY: i64 = 11 * 3600 + 60 + 9;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Email,
    InvestmentResearch,
    Sharepoint,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Email, Kind::InvestmentResearch, Kind::Sharepoint];

    fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::InvestmentResearch => "investment_research",
            Kind::Sharepoint => "sharepoint",
        }
    }

    fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// What a connector stores per type, secrets included.
#[derive(Clone)]
enum Config {
    Email {
        allowed_emails: Vec<String>,
    },
    InvestmentResearch {
        user_id: String,
        #[expect(dead_code, reason = "stored as the vendor stores it, never shown")]
        user_password: String,
    },
    Sharepoint {
        #[expect(dead_code, reason = "stored as the vendor stores it, never shown")]
        session_id: String,
    },
}

impl Config {
    fn kind(&self) -> Kind {
        match self {
            Config::Email { .. } => Kind::Email,
            Config::InvestmentResearch { .. } => Kind::InvestmentResearch,
            Config::Sharepoint { .. } => Kind::Sharepoint,
        }
    }
}

struct Connector {
    id: String,
    label: String,
    description: Option<String>,
    share_with_org: bool,
    config: Config,
    created_at: String,
    updated_at: String,
    archived: bool,
    files_count: Option<u64>,
    last_sync_at: Option<String>,
    last_sync_status: Option<String>,
    last_sync_error_msg: Option<String>,
    last_sync_count: Option<u64>,
}

struct Bigdata {
    /// The service's API key and each user's: any of them opens every endpoint.
    keys: Keys,
    /// Connectors in creation order, archived ones included.
    connectors: Vec<Connector>,
    ids: Ids,
    /// Minutes since the clock's start; each change moves it on.
    ticks: i64,
}

type Shared = Store<Bigdata>;

/// Fresh routes and the variables that reach them; each of `users` gets an API key of their own.
pub fn start(sample: Seed, users: &Users) -> Simulation {
    let keys = Keys::generate("bigdata-", users);
    let env = vec![("BIGDATA_API_KEY", keys.service().to_string())];
    let check = KeyCheck {
        keys: keys.clone(),
        presented: api_key,
        var: "BIGDATA_API_KEY",
    };
    Api {
        state: match sample {
            Seed::Sample => Bigdata::seeded(keys),
            Seed::Empty => Bigdata::empty(keys),
        },
        token_exchanges: Vec::new(),
        endpoints: vec![
            ("/contents/v1/connectors", get(list).post(create)),
            (
                "/contents/v1/connectors/{connector_id}",
                get(get_one).put(update).delete(delete),
            ),
            ("/contents/v1/connectors/{connector_id}/sync", post(sync)),
        ],
        env,
        alternatives: Vec::new(),
        keys: Some(check),
    }
    .start()
}

impl Bigdata {
    /// The state every start begins from.
    fn seeded(keys: Keys) -> Bigdata {
        let mut state = Self::empty(keys);
        state.seed();
        state
    }

    fn empty(keys: Keys) -> Bigdata {
        Bigdata {
            keys,
            connectors: Vec::new(),
            ids: Ids::uuids(ID_NAMESPACE),
            ticks: 0,
        }
    }

    fn now(&mut self) -> String {
        self.ticks += 1;
        timestamp(self.ticks)
    }

    /// A new connector with the next id, not yet synced.
    fn insert(&mut self, new: NewConnector) -> &mut Connector {
        let id = self.ids.next();
        let now = self.now();
        self.connectors.push(Connector {
            id,
            label: new.label,
            description: new.description,
            share_with_org: new.share_with_org,
            config: new.config,
            created_at: now.clone(),
            updated_at: now,
            archived: false,
            files_count: Some(0),
            last_sync_at: None,
            last_sync_status: None,
            last_sync_error_msg: None,
            last_sync_count: None,
        });
        let last = self.connectors.len() - 1;
        &mut self.connectors[last]
    }

    /// The connector a path names: 400 when it is not a UUID, 404 when it is not there.
    fn position(&self, connector_id: &str) -> Result<usize, Fault> {
        let Some(id) = canonical_uuid(connector_id) else {
            return Err(content_error(
                StatusCode::BAD_REQUEST,
                "INVALID_CONNECTOR_ID",
                "Invalid connector_id: must be a UUID",
            ));
        };
        self.connectors
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| {
                content_error(
                    StatusCode::NOT_FOUND,
                    "CONNECTOR_NOT_FOUND",
                    "No connector found with this ID, or the user does not have access",
                )
            })
    }

    fn archive(&mut self, i: usize) {
        let now = self.now();
        let connector = &mut self.connectors[i];
        connector.archived = true;
        connector.updated_at = now;
    }

    /// Replays the seed: each connector is created, then synced or archived, every step on
    /// the clock as it would be through the API.
    fn seed(&mut self) {
        for seed in seed_connectors() {
            let Ok(new) = new_connector(&seed.request) else {
                continue;
            };
            self.insert(new).files_count = Some(seed.files_count);
            if let Some(sync) = seed.last_sync {
                let at = self.now();
                let connector = self.connectors.last_mut().expect("just inserted");
                connector.last_sync_at = Some(at);
                connector.last_sync_status = Some(sync.status);
                connector.last_sync_error_msg = sync.error_msg;
                connector.last_sync_count = Some(sync.count);
            }
            if seed.archived {
                self.archive(self.connectors.len() - 1);
            }
        }
    }
}

/// A seeded connector: the create request, then what happened to it since.
#[derive(Deserialize)]
struct SeedConnector {
    request: Map<String, Value>,
    files_count: u64,
    #[serde(default)]
    last_sync: Option<LastSync>,
    #[serde(default)]
    archived: bool,
}

#[derive(Deserialize)]
struct LastSync {
    status: String,
    #[serde(default)]
    error_msg: Option<String>,
    count: u64,
}

fn seed_connectors() -> Vec<SeedConnector> {
    fixture!("bigdata/connectors.json")
}

/// Where a request carries its API key.
fn api_key(headers: &HeaderMap) -> Option<&str> {
    header(headers, "x-api-key")
}

impl Authorize for Bigdata {
    /// An API key in `X-API-KEY`: the service's or a user's.
    fn authorize(&self, headers: &HeaderMap) -> Result<(), Fault> {
        if self.keys.accepts(api_key(headers)) {
            Ok(())
        } else {
            Err(content_error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "Invalid or missing API key",
            ))
        }
    }
}

/// The Content API's error: status, message, a code and the request's id.
fn content_error(status: StatusCode, error_code: &str, message: impl Into<String>) -> Fault {
    fault(
        status,
        json!({"statusCode": status.as_u16(), "message": message.into(),
            "errorCode": error_code, "requestId": request_id()}),
    )
}

/// A fresh request id, a random (version 4) UUID.
fn request_id() -> String {
    let hex = random_token("");
    format!(
        "{}-{}-4{}-{}{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[13..16],
        // The variant: 8, 9, a or b.
        ["8", "9", "a", "b"][usize::from(hex.as_bytes()[16] % 4)],
        &hex[17..20],
        &hex[20..32]
    )
}

fn archived() -> Fault {
    content_error(
        StatusCode::BAD_REQUEST,
        "CONNECTOR_ARCHIVED",
        "Connector is archived",
    )
}

// ---- validation ------------------------------------------------------------------------------

/// Every problem found in one request, each with where it is (`loc`: `body`, then keys and
/// indexes), reported together in one message. The offending input is left out: it may be a
/// credential.
#[derive(Default)]
struct Problems(Vec<(Value, String)>);

impl Problems {
    fn add(&mut self, loc: Value, msg: &str) {
        self.0.push((loc, msg.to_string()));
    }

    fn missing(&mut self, loc: Value) {
        self.add(loc, "Field required");
    }

    fn finish(self) -> Result<(), Fault> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(unprocessable(self.0))
        }
    }
}

/// A 422 naming every field at fault: `body.config.allowed_emails[1]: <what is wrong>; ...`.
fn unprocessable(problems: Vec<(Value, String)>) -> Fault {
    let message: Vec<String> = problems
        .iter()
        .map(|(loc, msg)| format!("{}: {msg}", loc_text(loc)))
        .collect();
    content_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "VALIDATION_ERROR",
        message.join("; "),
    )
}

/// A `loc` as a path: keys joined by dots, indexes in brackets.
fn loc_text(loc: &Value) -> String {
    let mut text = String::new();
    for part in loc.as_array().into_iter().flatten() {
        match part {
            Value::String(key) if text.is_empty() => text.push_str(key),
            Value::String(key) => {
                text.push('.');
                text.push_str(key);
            }
            other => text.push_str(&format!("[{other}]")),
        }
    }
    text
}

/// One 422 problem, on its own.
fn invalid(loc: Value, msg: &str) -> Fault {
    let mut problems = Problems::default();
    problems.add(loc, msg);
    unprocessable(problems.0)
}

/// `loc` for `body.<path>`.
fn body_loc(path: &[Value]) -> Value {
    let mut loc = vec![json!("body")];
    loc.extend_from_slice(path);
    Value::Array(loc)
}

/// The request body as a JSON object, or FastAPI's 422 for a missing, malformed or non-object
/// body.
fn body_object(body: &[u8]) -> Result<Map<String, Value>, Fault> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid(json!(["body"]), "Field required"));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        // Python reports where it stopped: the end of the text when it ran out.
        let position = if e.is_eof() {
            body.len()
        } else {
            byte_offset(body, e.line(), e.column())
        };
        invalid(json!(["body", position]), "JSON decode error")
    })?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(invalid(
            json!(["body"]),
            "Input should be a valid dictionary or object to extract fields from",
        )),
    }
}

/// serde_json's 1-based line and column as the 0-based offset FastAPI reports.
fn byte_offset(text: &[u8], line: usize, column: usize) -> usize {
    let before: usize = text
        .split(|&b| b == b'\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    before + column.saturating_sub(1)
}

/// A required, non-empty string field.
fn required_text(
    object: &Map<String, Value>,
    key: &str,
    loc: &[Value],
    problems: &mut Problems,
) -> Option<String> {
    let mut at = loc.to_vec();
    at.push(json!(key));
    match object.get(key) {
        None => problems.missing(body_loc(&at)),
        Some(Value::String(s)) if s.is_empty() => {
            problems.add(body_loc(&at), "String should have at least 1 character")
        }
        Some(Value::String(s)) => return Some(s.clone()),
        Some(_) => problems.add(body_loc(&at), "Input should be a valid string"),
    }
    None
}

/// An optional string field: absent is `absent`, null is `None`.
fn optional_text(
    object: &Map<String, Value>,
    key: &str,
    absent: Option<String>,
    problems: &mut Problems,
) -> Option<String> {
    match object.get(key) {
        None => absent,
        Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            problems.add(body_loc(&[json!(key)]), "Input should be a valid string");
            None
        }
    }
}

/// A boolean field that defaults to false.
fn flag(object: &Map<String, Value>, key: &str, problems: &mut Problems) -> bool {
    match object.get(key) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            problems.add(body_loc(&[json!(key)]), "Input should be a valid boolean");
            false
        }
    }
}

/// Keys of a config object that its type does not define.
fn forbid_extra(config: &Map<String, Value>, allowed: &[&str], problems: &mut Problems) {
    for key in config.keys().filter(|k| !allowed.contains(&k.as_str())) {
        problems.add(
            body_loc(&[json!("config"), json!(key)]),
            "Extra inputs are not permitted",
        );
    }
}

/// `config` as an object, or a problem at `body.config`.
fn config_object<'a>(
    config: Option<&'a Value>,
    problems: &mut Problems,
) -> Option<&'a Map<String, Value>> {
    match config {
        None => {
            problems.missing(body_loc(&[json!("config")]));
            None
        }
        Some(Value::Object(map)) => Some(map),
        Some(_) => {
            problems.add(
                body_loc(&[json!("config")]),
                "Input should be a valid dictionary",
            );
            None
        }
    }
}

/// An email connector's config: `allowed_emails`, a non-empty list of addresses, and nothing
/// else.
fn email_config(config: &Map<String, Value>, problems: &mut Problems) -> Option<Config> {
    forbid_extra(config, &["allowed_emails"], problems);
    let loc = |more: &[Value]| {
        let mut path = vec![json!("config"), json!("allowed_emails")];
        path.extend_from_slice(more);
        body_loc(&path)
    };
    let list = match config.get("allowed_emails") {
        None => {
            problems.missing(loc(&[]));
            return None;
        }
        Some(Value::Array(list)) => list,
        Some(_) => {
            problems.add(loc(&[]), "Input should be a valid list");
            return None;
        }
    };
    if list.is_empty() {
        problems.add(
            loc(&[]),
            "List should have at least 1 item after validation, not 0",
        );
        return None;
    }
    let before = problems.0.len();
    let mut allowed_emails = Vec::new();
    for (i, item) in list.iter().enumerate() {
        match item.as_str() {
            Some(address) if is_email(address) => allowed_emails.push(address.to_string()),
            Some(_) => problems.add(
                loc(&[json!(i)]),
                "value is not a valid email address: The email address is not valid.",
            ),
            None => problems.add(loc(&[json!(i)]), "Input should be a valid string"),
        }
    }
    (problems.0.len() == before).then_some(Config::Email { allowed_emails })
}

/// The config a create names for its type.
fn new_config(kind: Kind, config: Option<&Value>, problems: &mut Problems) -> Option<Config> {
    let config = config_object(config, problems)?;
    let at = [json!("config")];
    match kind {
        Kind::Email => email_config(config, problems),
        Kind::InvestmentResearch => {
            // Other broker fields are ignored, as pydantic does by default.
            let user_id = required_text(config, "user_id", &at, problems);
            let user_password = required_text(config, "user_password", &at, problems);
            Some(Config::InvestmentResearch {
                user_id: user_id?,
                user_password: user_password?,
            })
        }
        Kind::Sharepoint => {
            forbid_extra(config, &["session_id"], problems);
            let session_id = required_text(config, "session_id", &at, problems)?;
            Some(Config::Sharepoint { session_id })
        }
    }
}

/// A plausible address: one `@`, a local part, a dotted domain of letters, digits and
/// hyphens with a top-level domain of two letters or more.
fn is_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else {
        return false;
    };
    let labels: Vec<&str> = domain.split('.').collect();
    !local.is_empty()
        && !local.contains(|c: char| c.is_whitespace() || c == '@')
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

/// Python's `uuid.UUID(text)`: optional `urn:`/`uuid:` and braces, hyphens anywhere, 32 hex
/// digits. The canonical lowercase, hyphenated form.
fn canonical_uuid(text: &str) -> Option<String> {
    let hex: String = text
        .replace("urn:", "")
        .replace("uuid:", "")
        .trim_matches(['{', '}'])
        .replace('-', "");
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let hex = hex.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// Pydantic's lax boolean for a query parameter.
fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "1" | "on" | "t" | "true" | "y" | "yes" => Some(true),
        "0" | "off" | "f" | "false" | "n" | "no" => Some(false),
        _ => None,
    }
}

/// Whether `text` is `YYYY-MM-DD` naming a real calendar day. The tools' own date check
/// knows the calendar; it also takes a sign in a number or year 0, which Python's `date`
/// refuses.
fn is_calendar_date(text: &str) -> bool {
    check::date("date_limit", text).is_ok()
        && text
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
        && !text.starts_with("0000")
}

// ---- presentation --------------------------------------------------------------------------

/// The clock's reading after `ticks` minutes, RFC 3339 with microseconds like the vendor's.
fn timestamp(ticks: i64) -> String {
    let seconds = EPOCH_SECOND_OF_DAY + ticks * 60;
    let (days, second_of_day) = (
        EPOCH_DAY + seconds.div_euclid(86_400),
        seconds.rem_euclid(86_400),
    );
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000000Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// The inbox hash of an email connector: 32 hex digits derived from its id (FNV-1a twice),
/// so it is stable for a connector and the same every start.
fn email_hash(connector_id: &str) -> String {
    let fnv = |offset: u64| {
        connector_id.bytes().fold(offset, |hash, b| {
            (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

/// A connector as the API shows it: stored secrets left out.
fn present(c: &Connector) -> Value {
    let config = match &c.config {
        Config::Email { allowed_emails } => {
            let hash = email_hash(&c.id);
            json!({"allowed_emails": allowed_emails, "email": format!("{hash}@bigdata.com"),
                "email_hash": hash})
        }
        Config::InvestmentResearch { user_id, .. } => json!({"user_id": user_id}),
        Config::Sharepoint { .. } => json!({}),
    };
    json!({
        "connector_id": c.id,
        "user_id": USER_ID,
        "org_id": ORG_ID,
        "share_with_org": c.share_with_org,
        "label": c.label,
        "type": c.config.kind().name(),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "archived": c.archived,
        "description": c.description,
        "config": config,
        "files_count": c.files_count,
        "last_sync_at": c.last_sync_at,
        "last_sync_status": c.last_sync_status,
        "last_sync_error_msg": c.last_sync_error_msg,
        "last_sync_count": c.last_sync_count,
    })
}

// ---- endpoints -----------------------------------------------------------------------------

async fn list(State(state): State<Shared>) -> Answer {
    let s = state.lock();
    let results: Vec<Value> = s.connectors.iter().map(present).collect();
    reply(StatusCode::OK, json!({"results": results}))
}

async fn get_one(State(state): State<Shared>, Path(connector_id): Path<String>) -> Answer {
    let s = state.lock();
    let i = s.position(&connector_id)?;
    reply(StatusCode::OK, present(&s.connectors[i]))
}

/// A create body that passed validation.
struct NewConnector {
    label: String,
    description: Option<String>,
    share_with_org: bool,
    config: Config,
}

/// Validates a create body: every problem at once, as pydantic reports them.
fn new_connector(body: &Map<String, Value>) -> Result<NewConnector, Fault> {
    let mut problems = Problems::default();
    let kind = match body.get("type") {
        None => {
            problems.missing(body_loc(&[json!("type")]));
            None
        }
        Some(value) => {
            let kind = value.as_str().and_then(Kind::parse);
            if kind.is_none() {
                problems.add(
                    body_loc(&[json!("type")]),
                    "Input should be 'email', 'investment_research' or 'sharepoint'",
                );
            }
            kind
        }
    };
    let label = required_text(body, "label", &[], &mut problems);
    let config = kind.and_then(|k| new_config(k, body.get("config"), &mut problems));
    let description = optional_text(body, "description", None, &mut problems);
    let share_with_org = flag(body, "share_with_org", &mut problems);
    problems.finish()?;
    let (Some(label), Some(config)) = (label, config) else {
        // Not reached: a missing label or config was reported above.
        return Err(invalid(json!(["body"]), "Field required"));
    };
    Ok(NewConnector {
        label,
        description,
        share_with_org,
        config,
    })
}

async fn create(State(state): State<Shared>, body: Bytes) -> Answer {
    let mut s = state.lock();
    let new = new_connector(&body_object(&body)?)?;
    let created = s.insert(new);
    reply(StatusCode::CREATED, present(created))
}

async fn update(
    State(state): State<Shared>,
    Path(connector_id): Path<String>,
    body: Bytes,
) -> Answer {
    let mut s = state.lock();
    let body = body_object(&body)?;
    let mut problems = Problems::default();
    let label = required_text(&body, "label", &[], &mut problems);
    // Replace semantics: what is left out goes back to its default.
    let description = optional_text(&body, "description", Some(String::new()), &mut problems);
    let share_with_org = flag(&body, "share_with_org", &mut problems);
    // Optional here, unlike in a create.
    let config = match body.get("config") {
        None | Some(Value::Null) => None,
        config => config_object(config, &mut problems),
    };
    problems.finish()?;
    let label = label.unwrap_or_default();

    let i = s.position(&connector_id)?;
    let current = &s.connectors[i];
    if current.archived {
        return Err(archived());
    }
    let kind = current.config.kind();
    if body
        .get("type")
        .is_some_and(|t| t.as_str() != Some(kind.name()))
    {
        return Err(content_error(
            StatusCode::BAD_REQUEST,
            "CONNECTOR_TYPE_IMMUTABLE",
            "type cannot be changed",
        ));
    }
    let config = match config {
        None => current.config.clone(),
        Some(_) if kind != Kind::Email => {
            return Err(content_error(
                StatusCode::BAD_REQUEST,
                "CONFIG_NOT_UPDATABLE",
                "config can only be updated for email connectors",
            ));
        }
        Some(map) => {
            let mut problems = Problems::default();
            let config = email_config(map, &mut problems);
            problems.finish()?;
            config.unwrap_or_else(|| current.config.clone())
        }
    };
    let now = s.now();
    let connector = &mut s.connectors[i];
    connector.label = label;
    connector.description = description;
    connector.share_with_org = share_with_org;
    connector.config = config;
    connector.updated_at = now;
    reply(StatusCode::OK, present(connector))
}

async fn delete(
    State(state): State<Shared>,
    Path(connector_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let mut s = state.lock();
    let force = match query.get("force_delete") {
        None => false,
        Some(value) => parse_bool(value).ok_or_else(|| {
            invalid(
                json!(["query", "force_delete"]),
                "Input should be a valid boolean, unable to interpret input",
            )
        })?,
    };
    let i = s.position(&connector_id)?;
    if force {
        // The vendor deletes the files, then the connector, in the background; here at once.
        let removed = s.connectors.remove(i);
        return reply(
            StatusCode::ACCEPTED,
            json!({"connector_id": removed.id, "status": "deletion_scheduled"}),
        );
    }
    if !s.connectors[i].archived {
        s.archive(i);
    }
    reply(StatusCode::OK, present(&s.connectors[i]))
}

async fn sync(
    State(state): State<Shared>,
    Path(connector_id): Path<String>,
    body: Bytes,
) -> Answer {
    let mut s = state.lock();
    let body = body_object(&body)?;
    let mut problems = Problems::default();
    for key in body.keys().filter(|k| *k != "date_limit") {
        problems.add(body_loc(&[json!(key)]), "Extra inputs are not permitted");
    }
    let date_limit = match body.get("date_limit") {
        None | Some(Value::Null) => None,
        Some(Value::String(date)) if is_calendar_date(date) => Some(date.clone()),
        Some(Value::String(_)) => {
            problems.add(
                body_loc(&[json!("date_limit")]),
                "Input should be a valid date in the format YYYY-MM-DD",
            );
            None
        }
        Some(_) => {
            problems.add(
                body_loc(&[json!("date_limit")]),
                "Input should be a valid date",
            );
            None
        }
    };
    problems.finish()?;

    let i = s.position(&connector_id)?;
    let connector = &s.connectors[i];
    if connector.archived {
        return Err(archived());
    }
    let date_loc = body_loc(&[json!("date_limit")]);
    match connector.config.kind() {
        Kind::Email => {
            return Err(content_error(
                StatusCode::BAD_REQUEST,
                "SYNC_NOT_SUPPORTED",
                "Sync is not supported for email connectors",
            ));
        }
        Kind::InvestmentResearch if date_limit.is_none() => {
            return Err(invalid(
                date_loc,
                "Value error, date_limit is required for investment_research connectors",
            ));
        }
        Kind::Sharepoint if body.contains_key("date_limit") => {
            return Err(invalid(
                date_loc,
                "Value error, date_limit must be omitted for sharepoint connectors",
            ));
        }
        _ => {}
    }
    let connector = &mut s.connectors[i];
    connector.last_sync_status = Some("PENDING".into());
    let mut answer = json!({"connector_id": connector.id, "status": "accepted"});
    if let Some(date) = date_limit {
        answer["date_limit"] = json!(date);
    }
    reply(StatusCode::ACCEPTED, answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_ids_match_their_constants() {
        // A seed request that failed validation would be left out and shift the ids.
        let state = Bigdata::seeded(Keys::generate("", &Users::default()));
        let ids: Vec<&str> = state.connectors.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                BROKER_RESEARCH_INBOX,
                DAILY_REPORTS,
                RESEARCH_SHAREPOINT,
                OLD_INBOX
            ]
        );
    }

    #[test]
    fn clock_reads_as_rfc3339() {
        assert_eq!(timestamp(0), "2026-02-11T11:01:09.000000Z");
        assert_eq!(timestamp(1), "2026-02-11T11:02:09.000000Z");
        // Across midnight, a month end and a leap day.
        assert_eq!(timestamp(13 * 60), "2026-02-12T00:01:09.000000Z");
        assert_eq!(timestamp(17 * 24 * 60), "2026-02-28T11:01:09.000000Z");
        assert_eq!(timestamp(18 * 24 * 60), "2026-03-01T11:01:09.000000Z");
    }

    #[test]
    fn dates_uuids_addresses_and_booleans() {
        assert!(is_calendar_date("2024-02-29"));
        assert!(!is_calendar_date("2026-02-29"));
        assert!(!is_calendar_date("2026-13-01"));
        assert!(!is_calendar_date("2026-1-01"));
        assert!(!is_calendar_date("2026/01/01"));
        assert!(!is_calendar_date("2026-+1-01"));
        assert!(!is_calendar_date("0000-01-01"));
        assert_eq!(
            canonical_uuid("{0B16DA7A5EED40008000000000000001}").as_deref(),
            Some(BROKER_RESEARCH_INBOX)
        );
        assert_eq!(canonical_uuid("not-a-uuid"), None);
        assert!(is_email("a.b+c@mail.example.com"));
        assert!(!is_email("a@b"));
        assert!(!is_email("no-at-sign.example"));
        assert!(!is_email("a@@b.example"));
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
        assert_eq!(email_hash(OLD_INBOX).len(), 32);
        assert_ne!(email_hash(OLD_INBOX), email_hash(BROKER_RESEARCH_INBOX));
    }
}
