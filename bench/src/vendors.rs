//! Fake vendor APIs for the result-size benchmark: BigID, Pentaho Data Catalog, Bigdata.com and
//! DataBrain, each on its own loopback listener, each holding [`OBJECTS`] data sources in the
//! vendor's documented shape, and each paging as the vendor does (so a default call returns
//! one page, not everything).
//!
//! Shapes, by vendor (the same evidence as the server's ledger, VENDORS.md, and its sandbox):
//! - BigID `GET /ds-connections?skip&limit&requireTotalCount=true` answers
//!   `{status, statusCode, message, data: {ds_connections, totalCount}}`; an item is a
//!   `ds_connection` as BigID's own sandbox lists it (JupiterOne/graph-bigid's recording):
//!   some 50 fields, `connectionStatusTest` / `connectionStatusScan`, the older
//!   `test_is_success` / `scan_*` next to them, owners, scanner settings, and credentials
//!   shown as `******`. No `limit`: every source (as the server's sandbox does).
//! - PDC `POST /data-sources/filter?skip&limit` with `{filters: {resourceNames, …}}` (or the
//!   filters at the top level, as older instances and older servers send them) answers
//!   `{status, data, pageInfo: {totalCount}}`; `limit` defaults to 100; secrets are left out.
//! - Bigdata.com `GET /contents/v1/connectors` answers `{results}`: every connector, no paging.
//! - DataBrain `GET /api/v2/datasource` answers `{data: [{name}]}`: names only; with
//!   `isPagination=true`, 10 a page by `pageNumber`.
//!
//! Each checks the credential the bench configures and answers 401 without it, so a run that
//! misconfigures a vendor fails loudly instead of measuring an error.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// Data sources each fake vendor holds.
pub const OBJECTS: usize = 500;

/// The credentials the fakes accept (and the bench configures).
pub const BIGID_TOKEN: &str = "bench-bigid-session-token";
pub const PDC_TOKEN: &str = "bench-pdc-access-token";
pub const BIGDATA_KEY: &str = "bench-bigdata-api-key";
pub const DATABRAIN_TOKEN: &str = "bench-databrain-service-token";

/// Where each fake vendor listens: the base URLs to configure the server with.
pub struct Fakes {
    pub bigid: String,
    pub pdc: String,
    pub bigdata: String,
    pub databrain: String,
}

impl Fakes {
    /// The server's environment for these fakes: base URL and credential of every vendor.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("BIGID_BASE_URL", self.bigid.clone()),
            ("BIGID_ACCESS_TOKEN", BIGID_TOKEN.into()),
            ("PDC_BASE_URL", self.pdc.clone()),
            ("PDC_ACCESS_TOKEN", PDC_TOKEN.into()),
            ("BIGDATA_BASE_URL", self.bigdata.clone()),
            ("BIGDATA_API_KEY", BIGDATA_KEY.into()),
            ("DATABRAIN_BASE_URL", self.databrain.clone()),
            ("DATABRAIN_SERVICE_TOKEN", DATABRAIN_TOKEN.into()),
        ]
    }
}

/// Starts the four fakes on the current tokio runtime.
pub async fn start() -> Fakes {
    let bigid = serve(
        Router::new()
            .route("/api/v1/ds-connections", get(bigid_list))
            .with_state(Arc::new((0..OBJECTS).map(bigid_source).collect())),
    )
    .await;
    let pdc = serve(
        Router::new()
            .route("/api/public/v1/data-sources/filter", post(pdc_filter))
            .with_state(Arc::new((0..OBJECTS).map(pdc_source).collect())),
    )
    .await;
    let bigdata = serve(
        Router::new()
            .route("/contents/v1/connectors", get(bigdata_list))
            .with_state(Arc::new((0..OBJECTS).map(bigdata_connector).collect())),
    )
    .await;
    let databrain = serve(
        Router::new()
            .route("/api/v2/datasource", get(databrain_list))
            .with_state(Arc::new((0..OBJECTS).map(databrain_name).collect())),
    )
    .await;
    Fakes {
        bigid: format!("http://{bigid}/api/v1"),
        pdc: format!("http://{pdc}/api/public/v1"),
        bigdata: format!("http://{bigdata}"),
        databrain: format!("http://{databrain}"),
    }
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

type Objects = State<Arc<Vec<Value>>>;

fn answer(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn authorized(headers: &HeaderMap, name: &str, want: &str) -> bool {
    headers.get(name).and_then(|v| v.to_str().ok()) == Some(want)
}

/// One query parameter, undecoded (the values the server sends here are plain).
fn param<'a>(query: &'a Option<String>, key: &str) -> Option<&'a str> {
    query
        .as_deref()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn number(query: &Option<String>, key: &str) -> Option<usize> {
    param(query, key).and_then(|v| v.parse().ok())
}

// ---- BigID ------------------------------------------------------------------------------------

async fn bigid_list(State(all): Objects, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    if !authorized(&headers, "authorization", BIGID_TOKEN) {
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"status": "error", "statusCode": 401, "message": "Unauthorized"}),
        );
    }
    let skip = number(&q, "skip").unwrap_or(0);
    let limit = number(&q, "limit").unwrap_or(usize::MAX);
    let page: Vec<&Value> = all.iter().skip(skip).take(limit).collect();
    let mut data = json!({ "ds_connections": page });
    if param(&q, "requireTotalCount") == Some("true") {
        data["totalCount"] = json!(all.len());
    }
    answer(
        StatusCode::OK,
        json!({"status": "success", "statusCode": 200, "message": null, "data": data}),
    )
}

const LOCATIONS: &[&str] = &[
    "United States",
    "United Kingdom",
    "Germany",
    "Netherlands",
    "Japan",
    "Australia",
    "Switzerland",
    "Canada",
];
const TEAMS: &[&str] = &[
    "orders",
    "billing",
    "crm",
    "hr",
    "payments",
    "analytics",
    "support",
    "logistics",
];
const PEOPLE: &[&str] = &[
    "eva.singh",
    "daniel.clayton",
    "brandy.walsh",
    "jim.mallone",
    "kerry.conner",
    "jane.smith",
];

/// An ISO timestamp in milliseconds that varies with `i` and grows with `salt` (0 created,
/// then tested, scanned, updated), within 2024–2026.
fn timestamp(i: usize, salt: usize) -> String {
    let month = i % 7 + salt;
    format!(
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        2024 + (i / 7) % 2,
        1 + month,
        1 + i % 28,
        (i * 5 + salt) % 24,
        (i * 11 + salt) % 60,
        (i * 17 + salt) % 60,
        (i * 37 + salt) % 1000
    )
}

fn object_id(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:08x}")
}

/// A BigID `ds_connection` as BigID lists it: relational sources (most of an estate) and a
/// few Salesforce and REST API ones, with passing, failing and never-run tests and some
/// disabled sources.
fn bigid_source(i: usize) -> Value {
    let team = TEAMS[i % TEAMS.len()];
    let owner = format!("{}@acme.example", PEOPLE[i % PEOPLE.len()]);
    let (kind, name) = match i % 10 {
        0..=4 => ("rdb-mysql", format!("{team}-mysql-{i:03}")),
        5..=7 => ("rdb-postgresql", format!("{team}-postgres-{i:03}")),
        8 => ("salesforce", format!("{team} Salesforce {i:03}")),
        _ => ("generic-rest-api", format!("{team}-rest-api-{i:03}")),
    };
    let tested = !i.is_multiple_of(23);
    let test_ok = !i.is_multiple_of(11);
    let mut s = json!({
        "_id": object_id("63a4d008a91e2500", i),
        "owners": [owner],
        "differential": false,
        "password": "******",
        "name": name,
        "classification_is_enabled": !i.is_multiple_of(3),
        "enrichment_is_enabled": false,
        "updatedPasswords": [],
        "type": kind,
        "location": LOCATIONS[i % LOCATIONS.len()],
        "security_tier": ((i % 3) + 1).to_string(),
        "scanner_strategy": "SCAN_ALL",
        "enabled": if i.is_multiple_of(17) { "no" } else { "yes" },
        "is_idsor_supported": true,
        "credential_id": "",
        "certificate_id": "",
        "custom_fields": [],
        "is_credential": false,
        "is_certificate": false,
        "username": "bigid_scan",
        "last_scan_at": 1_677_274_645_000_u64 + i as u64 * 86_400_017,
        "scan_is_success": true,
        "scan_timestamp": timestamp(i, 2),
        "scan_num_of_objects": 1 + i % 40,
    });
    // Two literals: one would pass serde_json's macro recursion limit.
    let settings = json!({
        "keyDeserializer": "String",
        "valueDeserializer": "String",
        "owners_v2": [{"id": owner, "email": owner, "origin": "legacy", "type": "it", "isNotified": true}],
        "rdb_is_sample_data": false,
        "created_at": timestamp(i, 0),
        "updated_at": timestamp(i, 5),
        "connectionStatusScan": {"is_success": true, "last_connection": timestamp(i, 4), "num_of_object": 1 + i % 40},
        "connectionStatusDeleteFindings": {},
        "archived": false,
        "structured_clustering_enabled": true,
        "id": name,
        "authStrategy": "credentials",
        "ner_classification_is_enabled": i.is_multiple_of(5),
        "numberOfParsingThreads": "5",
        "row_identifier_expression_is_disabled": false,
        "scanWindowName": [],
        "scanner_group": "default",
        "stop_on_failure": false,
        "tags": [],
    });
    if let (Value::Object(s), Value::Object(settings)) = (&mut s, settings) {
        s.extend(settings);
    }
    if tested {
        s["test_is_success"] = json!(test_ok);
        s["test_timestamp"] = json!(timestamp(i, 3));
        s["connectionStatusTest"] = json!({"is_success": test_ok, "last_connection": timestamp(i, 3),
            "num_of_object": 1 + i % 40});
    }
    let extra = match kind {
        "rdb-mysql" | "rdb-postgresql" => json!({
            "rdb_url": format!("{team}-db-{i:03}.prod.acme.example:{}", if kind == "rdb-mysql" { 3306 } else { 5432 }),
            "rdb_name": team,
            "rdb_comma_sep_table_list": "",
            "rdb_is_only_user_objects": false,
            "rdb_is_scan_views": false,
            "rdb_sample_type": "size",
        }),
        "salesforce" => json!({
            "friendly_name": format!("Salesforce ({team})"),
            "is_salesforce_custom_url": true,
            "salesforce_custom_url": format!("https://acme--{team}.my.salesforce.com"),
            "isOauthConfigured": false,
            "ocr_languages": "eng",
        }),
        _ => json!({
            "generic_server_url": format!("https://{team}-api.apps.acme.example"),
            "ocr_languages": "eng",
            "documentOrDossierName": null,
            "reportName": null,
            "folderName": null,
        }),
    };
    if let (Value::Object(s), Value::Object(extra)) = (&mut s, extra) {
        s.extend(extra);
    }
    s
}

// ---- PDC --------------------------------------------------------------------------------------

async fn pdc_filter(
    State(all): Objects,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    if !authorized(&headers, "authorization", &format!("Bearer {PDC_TOKEN}")) {
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"status": 401, "message": "Unauthorized"}),
        );
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // Wrapped (`{filters: {...}}`) or at the top level, as older instances take them.
    let filters = body.get("filters").unwrap_or(&body);
    let patterns = |key: &str| -> Option<Vec<String>> {
        filters[key].as_array().map(|a| {
            a.iter()
                .filter_map(|p| p.as_str().map(str::to_lowercase))
                .collect()
        })
    };
    let (names, types) = (patterns("resourceNames"), patterns("databaseTypes"));
    if names.is_none() && types.is_none() {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"status": 400, "message": ["At least one filter must be provided"]}),
        );
    }
    let passes = |source: &Value, key: &str, patterns: &Option<Vec<String>>| {
        patterns.as_ref().is_none_or(|ps| {
            let value = source[key].as_str().unwrap_or("").to_lowercase();
            ps.iter().any(|p| glob(p, &value))
        })
    };
    let matches: Vec<&Value> = all
        .iter()
        .filter(|s| passes(s, "resourceName", &names) && passes(s, "databaseType", &types))
        .collect();
    let skip = number(&q, "skip").unwrap_or(0);
    let limit = number(&q, "limit").unwrap_or(100).clamp(1, 10_000);
    let page: Vec<&&Value> = matches.iter().skip(skip).take(limit).collect();
    answer(
        StatusCode::OK,
        json!({"status": 200, "data": page, "pageInfo": {"totalCount": matches.len()}}),
    )
}

/// `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(tail) = text.strip_prefix(head) else {
                return false;
            };
            (0..=tail.len())
                .filter(|&k| tail.is_char_boundary(k))
                .any(|k| glob(rest, &tail[k..]))
        }
    }
}

/// A PDC data source as the filter lists it (secrets left out): relational sources with
/// their schemas and scan patterns, and object stores with their container and region.
fn pdc_source(i: usize) -> Value {
    let team = TEAMS[i % TEAMS.len()];
    let env = ["prod", "staging", "dev"][i % 3];
    let (kind, port, schemas) = match i % 8 {
        0..=2 => ("POSTGRES", "5432", json!(["public", team])),
        3 | 4 => ("MYSQL", "3306", json!([team])),
        5 => ("ORACLE", "1521", json!(["GL", "AP"])),
        6 => ("MSSQL", "1433", json!(["dbo"])),
        _ => ("AWS", "", Value::Null),
    };
    let mut s = json!({
        "_id": object_id("9dc0da7a0000beef", i),
        "resourceName": format!("{env}-{team}-{}-{i:03}", kind.to_lowercase()),
        "databaseType": kind,
        "description": match kind {
            "AWS" => format!("S3 landing zone of the {team} service ({env})"),
            _ => format!("{} database of the {team} service ({env})", kind.to_lowercase()),
        },
        "note": if i.is_multiple_of(4) { "Owned by the platform team" } else { "" },
        "totalCapacity": 64 << (i % 6),
        "createdAt": timestamp(i, 0),
        "updatedAt": timestamp(i, 5),
    });
    if kind == "AWS" {
        s["fqdnId"] = s["resourceName"].clone();
        s["region"] = json!(["us-east-1", "eu-west-1", "ap-southeast-2"][i % 3]);
        s["container"] = json!(format!("acme-{team}-{env}-{i:03}"));
        s["path"] = json!("/data");
        s["accessId"] = json!(format!("AKIABENCH{i:011}"));
        s["includePatterns"] = json!(["*.parquet", "*.csv"]);
        s["location"] = json!({"country": "US"});
        s["costPerTb"] = json!({"price": null, "frequency": "month"});
    } else {
        s["databaseName"] = json!(team);
        s["host"] = json!(format!(
            "{}-{team}-{i:03}.{env}.acme.example",
            kind.to_lowercase()
        ));
        s["port"] = json!(port);
        s["userName"] = json!("pdc_scan");
        s["schemaNames"] = schemas;
        s["includePatterns"] = json!([format!("{team}.*")]);
        s["excludePatterns"] = json!([format!("{team}.tmp_*")]);
        s["availableForDataMastering"] = json!(i.is_multiple_of(2));
        s["incremental"] = json!(i.is_multiple_of(3));
    }
    if !i.is_multiple_of(5) {
        s["lastTestConnectionId"] = json!(object_id("9dc010b50000cafe", i * 2));
    }
    if i.is_multiple_of(3) {
        s["lastIngestId"] = json!(object_id("9dc010b50000cafe", i * 2 + 1));
    }
    s
}

// ---- Bigdata.com ------------------------------------------------------------------------------

async fn bigdata_list(State(all): Objects, headers: HeaderMap) -> Response {
    if !authorized(&headers, "x-api-key", BIGDATA_KEY) {
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"statusCode": 401, "message": "Unauthorized", "errorCode": "UNAUTHORIZED",
                "requestId": "00000000-0000-4000-8000-000000000000"}),
        );
    }
    answer(StatusCode::OK, json!({ "results": *all }))
}

/// A Bigdata.com connector as the list shows it: email inboxes, broker research logins and
/// SharePoint sites, synced, failing, never synced and archived.
fn bigdata_connector(i: usize) -> Value {
    let team = TEAMS[i % TEAMS.len()];
    let id = format!("0b16da7a-5eed-4000-8000-{:012x}", 0xbe00_0000 + i);
    let (kind, label, config) = match i % 3 {
        0 => {
            let hash = format!("{:016x}{:016x}", i * 0x9e37_79b9, i * 0x85eb_ca6b + 1);
            (
                "email",
                format!("{team} research inbox {i:03}"),
                json!({"allowed_emails": [format!("research@{team}-broker.example"), format!("desk@{team}-capital.example")],
                    "email": format!("{hash}@bigdata.com"), "email_hash": hash}),
            )
        }
        1 => (
            "investment_research",
            format!("Broker research - {team} daily {i:03}"),
            json!({"user_id": format!("acme-{team}-{i:03}")}),
        ),
        _ => ("sharepoint", format!("{team} SharePoint {i:03}"), json!({})),
    };
    let synced = kind != "email";
    let failed = synced && i.is_multiple_of(7);
    json!({
        "connector_id": id,
        "user_id": "user_bench_001",
        "org_id": "org_bench_001",
        "share_with_org": i.is_multiple_of(2),
        "label": label,
        "type": kind,
        "created_at": format!("{}000Z", timestamp(i, 0).trim_end_matches('Z')),
        "updated_at": format!("{}000Z", timestamp(i, 5).trim_end_matches('Z')),
        "archived": i.is_multiple_of(19),
        "description": format!("{kind} connector of the {team} desk"),
        "config": config,
        "files_count": (i * 13) % 400,
        "last_sync_at": synced.then(|| timestamp(i, 4)),
        "last_sync_status": synced.then_some(if failed { "FAILED" } else { "SUCCESS" }),
        "last_sync_error_msg": failed.then_some("SharePoint session expired: a new session is needed (support@bigdata.com)"),
        "last_sync_count": synced.then_some((i * 31) % 5000),
    })
}

// ---- DataBrain --------------------------------------------------------------------------------

async fn databrain_list(
    State(all): Objects,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if !authorized(
        &headers,
        "authorization",
        &format!("Bearer {DATABRAIN_TOKEN}"),
    ) {
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": {"code": "AUTHENTICATION_ERROR", "message": "Invalid service token"}}),
        );
    }
    let data: Vec<&Value> = if param(&q, "isPagination") == Some("true") {
        let page = number(&q, "pageNumber").unwrap_or(1).max(1);
        all.iter().skip((page - 1) * 10).take(10).collect()
    } else {
        all.iter().collect()
    };
    answer(StatusCode::OK, json!({ "data": data }))
}

/// DataBrain lists names only.
fn databrain_name(i: usize) -> Value {
    let team = TEAMS[i % TEAMS.len()];
    let kind = [
        "postgres",
        "snowflake",
        "clickhouse",
        "mysql",
        "redshift",
        "bigquery",
    ][i % 6];
    json!({ "name": format!("{team}-{kind}-{i:03}") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", "anything"));
        assert!(glob("prod-*", "prod-orders"));
        assert!(glob("*orders*", "prod-orders-1"));
        assert!(!glob("prod-*", "dev-orders"));
        assert!(glob("exact", "exact"));
    }

    #[test]
    fn bigid_sources_are_as_big_as_bigids() {
        let fields = bigid_source(1).as_object().unwrap().len();
        assert!((45..=60).contains(&fields), "{fields}");
    }
}
