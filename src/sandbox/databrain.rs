//! A simulated DataBrain datasource API v2. Public sources: DataBrain's API reference,
//! <https://docs.usedatabrain.com/developer-docs/helpers/api-reference/create-datasource> and the
//! pages next to it (`update-datasource`, `list-datasources`, `delete-datasource`,
//! `sync-datasource`, `token` for the error shape and codes, `create-datamart` for the
//! `tenancySettings` keys), and
//! <https://docs.usedatabrain.com/developer-docs/embedding-apis/sync-datasource> for
//! `getDatasourceProgress` (documented for AWS S3). Mounted at `/databrain`; every path below
//! is under it.
//!
//! - Every request wants `Authorization: Bearer <DATABRAIN_SERVICE_TOKEN>` (or a user's own
//!   token, `sandbox --users`), else 401 `AUTHENTICATION_ERROR`. Errors are
//!   `{"error": {"code", "message"}}` with the documented codes, all 400 but auth.
//! - `GET /api/v2/datasource?isPagination=&pageNumber=` lists names only, in creation order;
//!   `isPagination` is the string `"true"`/`"false"` (default `"false"`), `pageNumber` a
//!   positive integer string (default `"1"`), 10 names a page.
//! - `POST` creates and `PUT` replaces a datasource, both from `{datasourceType, credentials:
//!   {name, ..}, tenancySettings?}`, named by `credentials.name`. Only what is documented is
//!   required ([`required_credentials`]): postgres's example keys, MSSQL's `server` / `user`;
//!   every other type needs only `credentials.name` (its keys are not documented). PUT wants
//!   the full set too (no partial updates) and keeps the stored `tenancySettings` when none is
//!   sent. `tenancySettings.tenancyLevel` is `TABLE` or `DATABASE`; `TABLE` needs
//!   `clientColumnType` (`NUMBER` | `STRING`), `schemaName`, `tableName`,
//!   `tableClientNameColumn` and `tablePrimaryKeyColumn`. Both run a connection test: a
//!   credential naming a host under `.invalid` fails it. Credentials are stored and never
//!   returned.
//! - `DELETE /api/v2/datasource?datasourceName=` refuses a datasource datamarts use
//!   (`DATASOURCE_IN_USE`) and answers the deleted id.
//! - `POST /api/v2/datasource/sync` takes `{"input": {"datasourceId": "<uuid>"}}`. The list does
//!   not return ids (users copy them from the UI URL), so the seeded ids are fixed:
//!   [`SEEDED_IDS`]; datasources created later get the next ids in the same sequence
//!   (`000000db-5eed-4000-8000-00000000000d`, …).
//! - `POST /api/v2/datasource/getDatasourceProgress` takes the same body and answers
//!   `{"status": {"progress": "<done>/<total>", "error": ""}}`. An `awss3` sync runs in the
//!   background: after `sync`, progress reads `0/16`, `5/16`, `10/16`, then `16/16` on
//!   successive calls; any other type is complete (`16/16`) at once (assumed: the endpoint is
//!   documented for AWS S3 only).
//!
//! Seed (`fixtures/databrain/datasources.json`, in creation order; ids are
//! `seeded_uuid(0xdb, 1..=12)`):
//!
//! | name | type | id |
//! |---|---|---|
//! | analytics-postgres (used by 2 datamarts) | postgres | `000000db-5eed-4000-8000-000000000001` |
//! | warehouse-snowflake | snowflake | `000000db-5eed-4000-8000-000000000002` |
//! | events-clickhouse | clickhouse | `000000db-5eed-4000-8000-000000000003` |
//! | orders-mysql | mysql | `000000db-5eed-4000-8000-000000000004` |
//! | finance-redshift | redshift | `000000db-5eed-4000-8000-000000000005` |
//! | marketing-bigquery | bigquery | `000000db-5eed-4000-8000-000000000006` |
//! | logs-elasticsearch | elasticsearch | `000000db-5eed-4000-8000-000000000007` |
//! | crm-mssql | mssql | `000000db-5eed-4000-8000-000000000008` |
//! | lake-awss3 | awss3 | `000000db-5eed-4000-8000-000000000009` |
//! | reports-csv | csv | `000000db-5eed-4000-8000-00000000000a` |
//! | search-opensearch | opensearch | `000000db-5eed-4000-8000-00000000000b` |
//! | adhoc-trino | trino | `000000db-5eed-4000-8000-00000000000c` |

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use crate::args::check;

use super::Seed;
use super::Simulation;
use super::shell::{
    Answer, Api, Authorize, Fault, Ids, Store, bearer, fault, fixture, reply, unreachable_host,
};
use super::users::{KeyCheck, Keys, Users};

/// Namespace of the datasource ids.
const ID_NAMESPACE: u32 = 0xdb;

/// The seeded datasources, name → id, in creation order.
pub const SEEDED_IDS: [(&str, &str); 12] = [
    ("analytics-postgres", "000000db-5eed-4000-8000-000000000001"),
    (
        "warehouse-snowflake",
        "000000db-5eed-4000-8000-000000000002",
    ),
    ("events-clickhouse", "000000db-5eed-4000-8000-000000000003"),
    ("orders-mysql", "000000db-5eed-4000-8000-000000000004"),
    ("finance-redshift", "000000db-5eed-4000-8000-000000000005"),
    ("marketing-bigquery", "000000db-5eed-4000-8000-000000000006"),
    ("logs-elasticsearch", "000000db-5eed-4000-8000-000000000007"),
    ("crm-mssql", "000000db-5eed-4000-8000-000000000008"),
    ("lake-awss3", "000000db-5eed-4000-8000-000000000009"),
    ("reports-csv", "000000db-5eed-4000-8000-00000000000a"),
    ("search-opensearch", "000000db-5eed-4000-8000-00000000000b"),
    ("adhoc-trino", "000000db-5eed-4000-8000-00000000000c"),
];

/// The seeded datasource that datamarts use, and how many.
pub const IN_USE: (&str, usize) = ("analytics-postgres", 2);

/// Every `datasourceType` DataBrain accepts.
pub const DATASOURCE_TYPES: [&str; 18] = [
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
    "trino",
];

const PAGE_SIZE: usize = 10;

/// What an `awss3` sync's progress reads on successive calls, out of [`SYNC_TOTAL`].
const SYNC_STEPS: [u32; 4] = [0, 5, 10, 16];
/// The total a progress reads against (the documented example's `16/16`).
const SYNC_TOTAL: u32 = 16;

struct Datasource {
    id: String,
    name: String,
    /// `datasourceType`, `credentials` and `tenancySettings` as last sent: kept, never shown.
    stored: Map<String, Value>,
    /// Datamarts built on it; deleting it is refused while any exist.
    datamarts: usize,
    /// For an `awss3` sync under way: how many progress calls it has answered.
    sync_polls: Option<usize>,
}

struct DataBrain {
    /// The service token and each user's: any of them opens every endpoint.
    keys: Keys,
    /// In creation order.
    datasources: Vec<Datasource>,
    ids: Ids,
}

type Shared = Store<DataBrain>;

/// Fresh routes and the variables that reach them; each of `users` gets a token of their own.
pub fn start(sample: Seed, users: &Users) -> Simulation {
    let keys = Keys::generate("dbn_live_", users);
    let env = vec![("DATABRAIN_SERVICE_TOKEN", keys.service().to_string())];
    let check = KeyCheck {
        keys: keys.clone(),
        presented: bearer,
        var: "DATABRAIN_SERVICE_TOKEN",
    };
    let mut state = DataBrain {
        keys,
        datasources: Vec::new(),
        ids: Ids::uuids(ID_NAMESPACE),
    };
    for (request, datamarts) in seed().into_iter().filter(|_| sample == Seed::Sample) {
        let name = request.credentials["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        state.insert(name, request.into_stored(None), datamarts);
    }
    Api {
        state,
        token_exchanges: Vec::new(),
        endpoints: vec![
            (
                "/api/v2/datasource",
                get(list).post(create).put(update).delete(delete),
            ),
            ("/api/v2/datasource/sync", post(sync)),
            ("/api/v2/datasource/getDatasourceProgress", post(progress)),
        ],
        env,
        alternatives: Vec::new(),
        keys: Some(check),
    }
    .start()
}

impl DataBrain {
    fn insert(&mut self, name: String, stored: Map<String, Value>, datamarts: usize) {
        let id = self.ids.next();
        self.datasources.push(Datasource {
            id,
            name,
            stored,
            datamarts,
            sync_polls: None,
        });
    }

    fn position(&self, name: &str) -> Option<usize> {
        self.datasources.iter().position(|d| d.name == name)
    }

    /// The datasource a `{"input": {"datasourceId"}}` body names.
    fn by_input_id(&self, body: &[u8]) -> Result<usize, Fault> {
        let body = object_body(body)?;
        let id = body
            .get("input")
            .and_then(|input| input.get("datasourceId"))
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("input.datasourceId is required"))?;
        // The tools' own UUID check; the answer stays DataBrain's.
        check::uuid("input.datasourceId", id)
            .map_err(|_| invalid("input.datasourceId must be a UUID"))?;
        // Ids compare as UUIDs, so case does not matter.
        self.datasources
            .iter()
            .position(|d| d.id.eq_ignore_ascii_case(id))
            .ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    "DATASOURCE_ID_ERROR",
                    "Datasource not found for the given id",
                )
            })
    }
}

impl Authorize for DataBrain {
    /// A bearer token: the service token or a user's.
    fn authorize(&self, headers: &HeaderMap) -> Result<(), Fault> {
        if self.keys.accepts(bearer(headers)) {
            Ok(())
        } else {
            Err(error(
                StatusCode::UNAUTHORIZED,
                "AUTHENTICATION_ERROR",
                "Invalid or missing service token",
            ))
        }
    }
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Fault {
    fault(
        status,
        json!({"error": {"code": code, "message": message.into()}}),
    )
}

fn invalid(message: impl Into<String>) -> Fault {
    error(StatusCode::BAD_REQUEST, "INVALID_REQUEST_BODY", message)
}

fn name_error(message: &str) -> Fault {
    error(StatusCode::BAD_REQUEST, "DATASOURCE_NAME_ERROR", message)
}

/// A JSON object body; anything else is DataBrain's `INVALID_REQUEST_BODY`.
fn object_body(body: &[u8]) -> Result<Map<String, Value>, Fault> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(invalid("Request body must be a JSON object")),
    }
}

/// `problem`, naming the `keys` that `object` leaves out or blank (a number counts as given,
/// a string only when it is not all white space).
fn require(object: &Map<String, Value>, keys: &[&str], problem: &str) -> Result<(), Fault> {
    let missing: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|key| match object.get(*key) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(invalid(format!("{problem}: {}", missing.join(", "))))
}

// ---- list ----------------------------------------------------------------------------------

async fn list(State(state): State<Shared>, Query(query): Query<HashMap<String, String>>) -> Answer {
    let s = state.lock();
    // Both parameters are strings on the wire, and DataBrain checks them as such.
    let paginate = match query.get("isPagination").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(invalid("isPagination must be \"true\" or \"false\"")),
    };
    let page = match query.get("pageNumber") {
        None => 1,
        Some(text) => Some(text)
            .filter(|t| t.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|t| t.parse::<usize>().ok())
            .filter(|&n| n >= 1)
            .ok_or_else(|| invalid("pageNumber must be a positive integer"))?,
    };
    let names = s.datasources.iter().map(|d| json!({"name": d.name}));
    let data: Vec<Value> = if paginate {
        names
            .skip((page - 1).saturating_mul(PAGE_SIZE))
            .take(PAGE_SIZE)
            .collect()
    } else {
        names.collect()
    };
    reply(StatusCode::OK, json!({"data": data}))
}

// ---- create and update ---------------------------------------------------------------------

/// A create or update body that passed validation.
struct DatasourceRequest {
    datasource_type: &'static str,
    credentials: Map<String, Value>,
    tenancy_settings: Option<Value>,
}

impl DatasourceRequest {
    fn name(&self) -> &str {
        self.credentials["name"].as_str().unwrap_or_default()
    }

    /// What gets stored; `kept_tenancy` stands in when no `tenancySettings` was sent.
    fn into_stored(self, kept_tenancy: Option<Value>) -> Map<String, Value> {
        let mut stored = Map::new();
        stored.insert("datasourceType".into(), json!(self.datasource_type));
        stored.insert("credentials".into(), Value::Object(self.credentials));
        if let Some(tenancy) = self.tenancy_settings.or(kept_tenancy) {
            stored.insert("tenancySettings".into(), tenancy);
        }
        stored
    }
}

/// The credential keys a type cannot do without, besides `name`: only the documented ones.
/// The docs show postgres's keys in an example and say MSSQL takes `server` and `user`; the
/// key names of the other types are not published, so they need only `name`.
pub fn required_credentials(datasource_type: &str) -> &'static [&'static str] {
    match datasource_type {
        "postgres" => &["host", "port", "username", "password", "database"],
        // MSSQL is the one type that says `server` and `user`.
        "mssql" => &["server", "port", "user", "password"],
        _ => &[],
    }
}

/// A port as DataBrain documents it: 1-65535, sent as a number or a digit string.
fn valid_port(value: &Value) -> bool {
    let port = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    };
    port.is_some_and(|p| (1..=65535).contains(&p))
}

/// Checks a create or update body; the message names the first problem found.
fn validate(mut body: Map<String, Value>) -> Result<DatasourceRequest, Fault> {
    let datasource_type = match body.get("datasourceType") {
        None | Some(Value::Null) => return Err(invalid("datasourceType is required")),
        Some(value) => value
            .as_str()
            .and_then(|t| DATASOURCE_TYPES.iter().find(|known| **known == t))
            .copied()
            .ok_or_else(|| {
                invalid(format!(
                    "datasourceType must be one of: {}",
                    DATASOURCE_TYPES.join(", ")
                ))
            })?,
    };
    let Some(Value::Object(credentials)) = body.remove("credentials") else {
        return Err(invalid("credentials is required and must be an object"));
    };
    if credentials
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(|name| name.trim().is_empty())
    {
        return Err(invalid("credentials.name is required"));
    }
    require(
        &credentials,
        required_credentials(datasource_type),
        &format!("credentials for {datasource_type} are missing required field(s)"),
    )?;
    if required_credentials(datasource_type).contains(&"port")
        && !credentials.get("port").is_some_and(valid_port)
    {
        return Err(invalid(
            "credentials.port must be a port number between 1 and 65535",
        ));
    }
    let tenancy_settings = match body.remove("tenancySettings") {
        None | Some(Value::Null) => None,
        Some(tenancy) => {
            check_tenancy(&tenancy)?;
            Some(tenancy)
        }
    };
    Ok(DatasourceRequest {
        datasource_type,
        credentials,
        tenancy_settings,
    })
}

/// `tenancySettings`: `TABLE` (a mapping table names each client) or `DATABASE` (one database
/// per client). The `TABLE` keys are those of the vendor's create-datamart example.
fn check_tenancy(tenancy: &Value) -> Result<(), Fault> {
    let Some(tenancy) = tenancy.as_object() else {
        return Err(invalid("tenancySettings must be an object"));
    };
    match tenancy.get("tenancyLevel").and_then(Value::as_str) {
        Some("DATABASE") => return Ok(()),
        Some("TABLE") => {}
        _ => {
            return Err(invalid(
                "tenancySettings.tenancyLevel must be TABLE or DATABASE",
            ));
        }
    }
    require(
        tenancy,
        &[
            "clientColumnType",
            "schemaName",
            "tableName",
            "tableClientNameColumn",
            "tablePrimaryKeyColumn",
        ],
        "tenancySettings is missing required field(s) for tenancyLevel TABLE",
    )?;
    if !matches!(
        tenancy.get("clientColumnType").and_then(Value::as_str),
        Some("NUMBER" | "STRING")
    ) {
        return Err(invalid(
            "tenancySettings.clientColumnType must be NUMBER or STRING when tenancyLevel is TABLE",
        ));
    }
    Ok(())
}

/// DataBrain connects before it saves; the sandbox cannot reach hosts under `.invalid`.
fn connection_test(credentials: &Map<String, Value>) -> Result<(), Fault> {
    match credentials.values().find_map(unreachable_host) {
        Some(host) => Err(error(
            StatusCode::BAD_REQUEST,
            "CREDENTIAL_TEST_FAILED",
            format!("Connection test failed: getaddrinfo ENOTFOUND {host}"),
        )),
        None => Ok(()),
    }
}

async fn create(State(state): State<Shared>, body: Bytes) -> Answer {
    let mut s = state.lock();
    let request = validate(object_body(&body)?)?;
    let name = request.name().to_string();
    if s.position(&name).is_some() {
        return Err(name_error("Datasource name already exists"));
    }
    connection_test(&request.credentials)?;
    s.insert(name.clone(), request.into_stored(None), 0);
    reply(StatusCode::OK, json!({"name": name}))
}

async fn update(State(state): State<Shared>, body: Bytes) -> Answer {
    let mut s = state.lock();
    let request = validate(object_body(&body)?)?;
    let name = request.name().to_string();
    let Some(index) = s.position(&name) else {
        return Err(name_error("Datasource not found"));
    };
    connection_test(&request.credentials)?;
    let datasource = &mut s.datasources[index];
    let kept_tenancy = datasource.stored.remove("tenancySettings");
    datasource.stored = request.into_stored(kept_tenancy);
    reply(StatusCode::OK, json!({"name": name}))
}

// ---- delete and sync -----------------------------------------------------------------------

async fn delete(
    State(state): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let mut s = state.lock();
    let name = query
        .get("datasourceName")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("datasourceName query parameter is required"))?;
    let Some(index) = s.position(name) else {
        return Err(name_error("Datasource not found"));
    };
    let datamarts = s.datasources[index].datamarts;
    if datamarts > 0 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "DATASOURCE_IN_USE",
            format!("Datasource is used by {datamarts} datamart(s)"),
        ));
    }
    let removed = s.datasources.remove(index);
    reply(
        StatusCode::OK,
        json!({"id": removed.id, "message": "Datasource deleted successfully"}),
    )
}

async fn sync(State(state): State<Shared>, body: Bytes) -> Answer {
    let mut s = state.lock();
    let i = s.by_input_id(&body)?;
    let datasource = &mut s.datasources[i];
    // An S3 sync goes on in the background; the others are done when they answer.
    if datasource.stored["datasourceType"] == "awss3" {
        datasource.sync_polls = Some(0);
    }
    reply(
        StatusCode::OK,
        json!({"data": {"message": "Sync completed"}}),
    )
}

async fn progress(State(state): State<Shared>, body: Bytes) -> Answer {
    let mut s = state.lock();
    let i = s.by_input_id(&body)?;
    let datasource = &mut s.datasources[i];
    let done = match datasource.sync_polls {
        Some(polls) if polls < SYNC_STEPS.len() => {
            datasource.sync_polls = Some(polls + 1);
            SYNC_STEPS[polls]
        }
        _ => {
            datasource.sync_polls = None;
            SYNC_TOTAL
        }
    };
    reply(
        StatusCode::OK,
        json!({"status": {"progress": format!("{done}/{SYNC_TOTAL}"), "error": ""}}),
    )
}

// ---- seed ----------------------------------------------------------------------------------

/// The seeded datasources as create requests, with how many datamarts use each.
fn seed() -> Vec<(DatasourceRequest, usize)> {
    let bodies: Vec<Map<String, Value>> = fixture!("databrain/datasources.json");
    bodies
        .into_iter()
        .filter_map(|body| validate(body).ok())
        .map(|request| {
            let datamarts = if request.name() == IN_USE.0 {
                IN_USE.1
            } else {
                0
            };
            (request, datamarts)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::seeded_uuid;
    use super::*;

    #[test]
    fn seed_is_valid_and_matches_the_published_ids() {
        let seed = seed();
        assert_eq!(seed.len(), SEEDED_IDS.len(), "every seed body validates");
        for (n, ((request, _), (name, id))) in seed.iter().zip(SEEDED_IDS).enumerate() {
            assert_eq!(request.name(), name);
            assert_eq!(seeded_uuid(ID_NAMESPACE, n as u64 + 1), id);
            assert!(connection_test(&request.credentials).is_ok(), "{name}");
        }
    }

    #[test]
    fn ports() {
        assert!(valid_port(&json!(5432)) && valid_port(&json!("65535")));
        assert!(!valid_port(&json!(0)) && !valid_port(&json!("70000")));
        assert!(!valid_port(&json!(-1)) && !valid_port(&json!("54a")));
    }
}
