//! What every simulated vendor is built from: its state behind one lock, its credential check
//! as a layer in front of its endpoints, and the start-up that turns both into a
//! [`Simulation`]; plus the small helpers their handlers share.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::users::KeyCheck;

/// A started simulation.
pub struct Simulation {
    pub router: Router,
    /// The credential variables the server uses, besides the base URL.
    pub env: Vec<(&'static str, String)>,
    /// Other credentials the simulation accepts (e.g. a username and password), for people
    /// who script against it.
    pub alternatives: Vec<(&'static str, String)>,
    /// For a vendor whose credential is one static key: its keys (the service's and each
    /// user's) and where a request carries one.
    pub keys: Option<KeyCheck>,
}

/// A simulation's state, shared by its handlers behind one lock.
pub struct Store<T>(Arc<Mutex<T>>);

impl<T> Clone for Store<T> {
    fn clone(&self) -> Self {
        Store(Arc::clone(&self.0))
    }
}

impl<T> Store<T> {
    pub fn new(state: T) -> Self {
        Store(Arc::new(Mutex::new(state)))
    }

    /// The state, also after a handler panicked while holding it: one failed request must
    /// not take the whole simulation down.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A vendor's check of a request's credentials, in the vendor's words when it fails.
pub trait Authorize {
    fn authorize(&self, headers: &HeaderMap) -> Result<(), Fault>;
}

/// A path and the handlers it serves, by method.
pub type Endpoint<T> = (&'static str, MethodRouter<Store<T>>);

/// A simulated vendor API as its module hands it to the shell.
pub struct Api<T> {
    pub state: T,
    /// Endpoints that hand out tokens, so they take none.
    pub token_exchanges: Vec<Endpoint<T>>,
    /// Every other endpoint: [`Authorize`] runs before its handler.
    pub endpoints: Vec<Endpoint<T>>,
    /// The credential variables the server uses, besides the base URL.
    pub env: Vec<(&'static str, String)>,
    /// Other credentials the simulation accepts.
    pub alternatives: Vec<(&'static str, String)>,
    /// A vendor whose credential is one static key: its keys, which [`Authorize`] accepts.
    pub keys: Option<KeyCheck>,
}

impl<T: Authorize + Send + 'static> Api<T> {
    pub fn start(self) -> Simulation {
        let store = Store::new(self.state);
        let check = middleware::from_fn_with_state(store.clone(), authorize::<T>);
        let mut router = Router::new();
        for (path, methods) in self.token_exchanges {
            router = router.route(path, methods);
        }
        for (path, methods) in self.endpoints {
            // `route_layer` wraps only the methods the path serves, so any other method is a
            // 405 whether or not credentials came with it.
            router = router.route(path, methods.route_layer(check.clone()));
        }
        Simulation {
            router: router.with_state(store),
            env: self.env,
            alternatives: self.alternatives,
            keys: self.keys,
        }
    }
}

async fn authorize<T: Authorize>(
    State(store): State<Store<T>>,
    request: Request,
    next: Next,
) -> Response {
    // The lock is released before the handler runs: it takes the lock again.
    let verdict = store.lock().authorize(request.headers());
    match verdict {
        Ok(()) => next.run(request).await,
        Err(fault) => fault.into_response(),
    }
}

/// Deterministic ids: the n-th id of a namespace, counting from 1, so the same seed gives the
/// same ids in the same order every start.
pub struct Ids {
    namespace: u32,
    shape: fn(u32, u64) -> String,
    issued: u64,
}

impl Ids {
    /// UUID-shaped ids ([`seeded_uuid`]).
    pub fn uuids(namespace: u32) -> Ids {
        Ids {
            namespace,
            shape: seeded_uuid,
            issued: 0,
        }
    }

    /// 24-hex-digit ids ([`seeded_object_id`]).
    pub fn object_ids(namespace: u32) -> Ids {
        Ids {
            namespace,
            shape: seeded_object_id,
            issued: 0,
        }
    }

    pub fn next(&mut self) -> String {
        self.next_numbered().1
    }

    /// The next id with its number (PDC shows the number too, as `pId`).
    pub fn next_numbered(&mut self) -> (u64, String) {
        self.issued += 1;
        (self.issued, (self.shape)(self.namespace, self.issued))
    }
}

/// A JSON file under `src/sandbox/fixtures/` (seed data, templates), parsed into the type the
/// call site expects. It is compiled in: the binary needs no files at run time.
macro_rules! fixture {
    ($path:literal) => {
        $crate::sandbox::shell::parse_fixture($path, include_str!(concat!("fixtures/", $path)))
    };
}
pub(crate) use fixture;

/// A fixture ships inside the binary, so one that does not parse is a bug in this source tree
/// (each vendor's unit tests load theirs), never something a user can cause.
pub fn parse_fixture<T: DeserializeOwned>(path: &str, text: &str) -> T {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("sandbox fixture {path}: {e}"))
}

// ---- small helpers the handlers share ------------------------------------------------------

pub use crate::secret::random_token;

/// A deterministic UUID-shaped id: the same seed state gives the same ids every start.
pub fn seeded_uuid(namespace: u32, n: u64) -> String {
    format!("{namespace:08x}-5eed-4000-8000-{n:012x}")
}

/// A deterministic 24-hex-digit id (MongoDB style).
pub fn seeded_object_id(namespace: u32, n: u64) -> String {
    format!("{namespace:08x}{n:016x}")
}

/// Days since 1970-01-01 as a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Milliseconds since the Unix epoch as ISO 8601 with milliseconds (`2025-06-01T12:00:00.000Z`),
/// as JavaScript's `Date.toISOString` writes it.
pub fn iso_millis(epoch_ms: i64) -> String {
    let (days, ms_of_day) = (
        epoch_ms.div_euclid(86_400_000),
        epoch_ms.rem_euclid(86_400_000),
    );
    let (year, month, day) = civil_from_days(days);
    let seconds = ms_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        ms_of_day % 1000
    )
}

/// A vendor's error answer: a status and a JSON body. Handlers return [`Answer`] and use `?`.
#[derive(Debug)]
pub struct Fault {
    pub status: StatusCode,
    pub body: Value,
    /// The body's content type when the vendor labels its JSON as something else (BigID
    /// serves its refusals as `text/html`); JSON's otherwise.
    pub content_type: Option<&'static str>,
}

impl Fault {
    /// This fault, its JSON body labelled `content_type`.
    pub fn labelled(self, content_type: &'static str) -> Fault {
        Fault {
            content_type: Some(content_type),
            ..self
        }
    }
}

impl IntoResponse for Fault {
    fn into_response(self) -> Response {
        match self.content_type {
            Some(content_type) => (
                self.status,
                [(axum::http::header::CONTENT_TYPE, content_type)],
                self.body.to_string(),
            )
                .into_response(),
            None => (self.status, axum::Json(self.body)).into_response(),
        }
    }
}

/// What a simulated endpoint answers.
pub type Answer = Result<Response, Fault>;

pub fn fault(status: StatusCode, body: Value) -> Fault {
    Fault {
        status,
        body,
        content_type: None,
    }
}

/// A JSON response with a status.
pub fn reply(status: StatusCode, body: Value) -> Answer {
    Ok((status, axum::Json(body)).into_response())
}

/// A header's value as text.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    header(headers, "authorization").and_then(|v| v.strip_prefix("Bearer "))
}

/// Parses a JSON request body; a vendor-style 400 when it is not JSON.
pub fn json_body(body: &[u8]) -> Result<Value, Fault> {
    serde_json::from_slice(body).map_err(|_| {
        fault(
            StatusCode::BAD_REQUEST,
            json!({"status": 400, "message": "request body is not valid JSON"}),
        )
    })
}

/// Whether a field a vendor requires is left out: absent, null or the empty string.
pub fn is_blank(value: Option<&Value>) -> bool {
    value.is_none_or(|v| v.is_null() || v.as_str() == Some(""))
}

/// Where the record whose `key` holds the text `value` stands.
pub fn position_of(records: &[Map<String, Value>], key: &str, value: &str) -> Option<usize> {
    records
        .iter()
        .position(|r| r.get(key).and_then(Value::as_str) == Some(value))
}

/// The host named in a connection string: `scheme://user:pw@host:port/path` or `host:port`.
pub fn host_of(value: &str) -> &str {
    let rest = value.split_once("://").map_or(value, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    rest.split([':', '/', '?', ';']).next().unwrap_or("")
}

/// Whether a value names a host that cannot be reached (RFC 2606 `.invalid`).
pub fn unreachable_host(value: &Value) -> Option<String> {
    let s = value.as_str()?;
    let host = host_of(s).trim_end_matches('.');
    (host.ends_with(".invalid") || host == "invalid").then(|| host.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert_eq!(host_of("mysql.prod.example:3306"), "mysql.prod.example");
        assert_eq!(host_of("jdbc:mysql://u:p@db.invalid:3306/x"), "db.invalid");
        assert_eq!(
            host_of("https://acme.sharepoint.com/sites/x"),
            "acme.sharepoint.com"
        );
        assert_eq!(
            unreachable_host(&json!("db.invalid:3306")),
            Some("db.invalid".to_string())
        );
        assert_eq!(unreachable_host(&json!("db.example:3306")), None);
        assert_eq!(seeded_uuid(1, 2), "00000001-5eed-4000-8000-000000000002");
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(19_416), (2023, 2, 28));
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(1_748_398_495_301), "2025-05-28T02:14:55.301Z");
    }

    #[test]
    fn ids_count_from_one_per_namespace() {
        let mut ids = Ids::object_ids(0x9dc0_da7a);
        assert_eq!(ids.next_numbered(), (1, "9dc0da7a0000000000000001".into()));
        assert_eq!(ids.next(), "9dc0da7a0000000000000002");
        let mut ids = Ids::uuids(0xdb);
        assert_eq!(ids.next(), "000000db-5eed-4000-8000-000000000001");
    }
}
