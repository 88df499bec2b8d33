//! A simulated BigID Data Sources API, after BigID's developer wiki
//! (<https://developer.bigid.com/wiki/BigID_API/Token_Authentication> and its Data Source
//! Connections API tutorial).
//!
//! - `GET /refresh-access-token` exchanges the user token (raw `Authorization`) for a
//!   `systemToken`; `POST /sessions` exchanges username/password for an `auth_token`. Every
//!   other endpoint wants one of those tokens, raw, in `Authorization`, or answers 401.
//! - Sources are `{"ds_connection": {...}}`; list/export/test use `ds-connections`, one source
//!   by name uses `ds_connections` — the vendor's own mix.
//! - Templates describe each type's fields (`apiName`, `mandatory`, `mandatoryForTest`,
//!   `validation`); create enforces them; PUT replaces the whole source but keeps a stored
//!   credential that is not sent (and stores a mask if a mask is sent, as the vendor would).
//! - A test connection fails for hosts under `.invalid` and for missing test fields.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Simulation;
use super::shell::{
    Answer, Api, Authorize, Fault, Ids, Store, fault, fixture, header, is_blank, json_body,
    position_of, random_token, reply, unreachable_host,
};

/// How BigID shows a credential it will not reveal.
const HIDDEN: &str = "********";

struct Credentials {
    user_token: String,
    username: String,
    password: String,
}

struct BigId {
    credentials: Credentials,
    /// Tokens handed out by the two exchanges.
    sessions: HashSet<String>,
    /// Sources in creation order, each a `ds_connection` object with `_id`.
    sources: Vec<Map<String, Value>>,
    ids: Ids,
}

type Shared = Store<BigId>;

/// Fresh routes and the variables that reach them.
pub fn start() -> Simulation {
    let credentials = Credentials {
        user_token: random_token("bigid-user-"),
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
    };
    for source in seed() {
        state.insert(source);
    }
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
            ("/ds-connections-types", get(list_templates)),
            ("/ds-connections-types/template/{type}", get(get_template)),
        ],
        env,
        alternatives,
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
        let token = random_token("eyJhbGciOiJIUzI1NiJ9.sandbox.");
        self.sessions.insert(token.clone());
        token
    }
}

impl Authorize for BigId {
    /// One of the tokens the two exchanges handed out, raw in `Authorization`.
    fn authorize(&self, headers: &HeaderMap) -> Result<(), Fault> {
        match header(headers, "authorization") {
            Some(token) if self.sessions.contains(token) => Ok(()),
            _ => Err(fault(
                StatusCode::UNAUTHORIZED,
                json!({"status": "error", "statusCode": 401, "message": "Unauthorized: invalid or expired token"}),
            )),
        }
    }
}

fn status_error(status: StatusCode, message: String) -> Fault {
    fault(
        status,
        json!({"status": "error", "statusCode": status.as_u16(), "message": message}),
    )
}

fn not_found(name: &str) -> Fault {
    status_error(
        StatusCode::NOT_FOUND,
        format!("Data source '{name}' not found"),
    )
}

// ---- auth ----------------------------------------------------------------------------------

async fn refresh_access_token(State(state): State<Shared>, headers: HeaderMap) -> Answer {
    let mut s = state.lock();
    if header(&headers, "authorization") != Some(s.credentials.user_token.as_str()) {
        return Err(fault(
            StatusCode::UNAUTHORIZED,
            json!({"success": false, "message": "Invalid user token"}),
        ));
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
        return Err(fault(
            StatusCode::UNAUTHORIZED,
            json!({"success": false, "message": "Invalid credentials"}),
        ));
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
    reply(
        StatusCode::OK,
        json!({"status": "success", "statusCode": 200, "message": null,
            "data": {"ds_connections": page, "totalCount": s.sources.len()}}),
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
    let source = ds_connection(&json_body(&body)?)?;
    check_against_template(&source, None)?;
    let name = source["name"].as_str().unwrap_or_default().to_string();
    if s.position(&name).is_some() {
        return Err(status_error(
            StatusCode::CONFLICT,
            format!("Data source '{name}' already exists"),
        ));
    }
    let mut source = source;
    source.entry("enabled").or_insert(json!("yes"));
    s.insert(source);
    let created = s.sources.last().map(present).unwrap_or(Value::Null);
    reply(
        StatusCode::CREATED,
        json!({"status": "success", "statusCode": 201, "message": format!("Data source '{name}' created"),
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
    source.insert("_id".into(), stored["_id"].clone());
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

async fn test_connection(State(state): State<Shared>, body: Bytes) -> Answer {
    let (body, stored) = {
        let s = state.lock();
        let body = json_body(&body)?;
        // `isNewPassword: false` tests with the credential stored for that name.
        let stored = match (
            &body["isNewPassword"],
            body["ds_connection"]["name"].as_str(),
        ) {
            (Value::Bool(false), Some(name)) => s.position(name).map(|i| s.sources[i].clone()),
            _ => None,
        };
        (body, stored)
    };
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
    if let Some(stored) = stored {
        for field in secret_fields(Some(&kind)) {
            if let Some(v) = stored.get(field) {
                source.entry(field.to_string()).or_insert(v.clone());
            }
        }
    }
    let missing: Vec<&str> = template
        .fields
        .iter()
        .filter(|f| f.mandatory_for_test && is_blank(source.get(&f.api_name)))
        .map(|f| f.api_name.as_str())
        .collect();
    let masked_secret = secret_fields(Some(&kind)).into_iter().any(|f| {
        source
            .get(f)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c == '*'))
    });
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
    (r"^[^\s/:]+:\d{1,5}$", is_host_port),
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

fn is_host_port(s: &str) -> bool {
    match s.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.contains(['/', ' ', ':'])
                && !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
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
            ["rdb-mysql", "s3-v2", "snowflake", "sharepoint-online"]
        );
    }

    #[test]
    fn host_port_rule() {
        assert!(is_host_port("db.example:3306"));
        assert!(!is_host_port("db.example"));
        assert!(!is_host_port("http://db:3306"));
        assert!(!is_source_name("a/b"));
    }
}
