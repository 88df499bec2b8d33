//! DataBrain datasource API v2. Public sources: DataBrain's API reference
//! (docs.usedatabrain.com/developer-docs/helpers/api-reference).
//!
//! - Auth: `Authorization: Bearer <service token>` (Settings → Service Tokens).
//! - Create, list, update and delete share `/api/v2/datasource`, told apart by method; a
//!   datasource is named by `credentials.name`, except for sync, which takes its UUID (shown in
//!   DataBrain's UI, not returned by the list).
//! - List pagination values are strings (`isPagination=true&pageNumber=2`), 10 per page.
//! - Errors carry string codes (`DATASOURCE_NAME_ERROR`, `CREDENTIAL_TEST_FAILED`, …).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::args::{InvalidArgument, ToolArgs, check};
use crate::operation::{
    ArgsSpec, Aspect, Fact, Flow, Hints, ListPage, Listing, Method, OperationSpec, Output, Paging,
    Poll, PollState, Provider, Reconcile, RequestParts, Source,
};
use crate::secret::SecretString;
use crate::spec::{
    AuthHeader, Checks, ConfigError, Connection, Credential, Env, EnvVar, Guide, InventorySource,
    Probe, ProviderSpec, Scheme, StateSpec, supports_every_tool,
};

pub static SPEC: ProviderSpec = ProviderSpec {
    provider: Provider::DataBrain,
    id: "databrain",
    title: "DataBrain",
    base_url_var: "DATABRAIN_BASE_URL",
    default_base_url: Some("https://api.usedatabrain.com"),
    env: &[
        EnvVar {
            name: "DATABRAIN_BASE_URL",
            help: "API base (default https://api.usedatabrain.com; self-hosted: your URL)",
            secret: false,
        },
        EnvVar {
            name: "DATABRAIN_SERVICE_TOKEN",
            help: "service token from Settings → Service Tokens (not a data-app API key)",
            secret: true,
        },
    ],
    credential,
    setup: "DATABRAIN_SERVICE_TOKEN (DATABRAIN_BASE_URL defaults to https://api.usedatabrain.com)",
    credential_hint: "check DATABRAIN_SERVICE_TOKEN (a service token, not a data-app API key)",
    hint: |_, code, _| code.and_then(code_hint),
    not_found: None,
    refusal: None,
    unsupported: supports_every_tool,
    probe: Probe {
        tool: "databrain_list_datasources",
        args: r#"{"limit": 1}"#,
    },
    credential_keys: &["accessKeyId", "access_key_id"],
    guide: Guide {
        instructions: "DataBrain names a datasource by `credentials.name`; its sync takes the datasource's UUID or page URL, which only the user can copy from DataBrain.",
        onboard_tools: &["databrain_create_datasource", "databrain_list_datasources"],
        onboard_steps: "\
1. Agree on the datasourceType and gather the credentials: name plus the type's fields; ask me for what you do not have.
2. Call databrain_create_datasource with dry_run: true, show me the request, and create only after I confirm. DataBrain tests the credentials itself: on CREDENTIAL_TEST_FAILED, fix host, port, user or password with me.
3. Verify with databrain_list_datasources that the name is listed.
4. If the schema needs a refresh later, databrain_sync_datasource takes the datasource's page URL (or UUID), which I can copy from DataBrain.",
        audit_tool: "databrain_list_datasources",
        audit_step: "DataBrain: call databrain_list_datasources (all pages). Its API returns names only, so report them with status unknown.",
    },
    facts: &[
        Fact::new(Aspect::Path, "Base URL https://api.usedatabrain.com (or a self-hosted URL); datasources under /api/v2/datasource", Source::VendorDocs("https://docs.usedatabrain.com/developer-docs/helpers/api-reference/create-datasource")),
        Fact::new(Aspect::Auth, "A service token (Settings → Service Tokens, not a data-app API key) in Authorization: Bearer", Source::VendorDocs("https://docs.usedatabrain.com/developer-docs/helpers/api-reference/create-datasource")),
        Fact::new(Aspect::Errors, "Errors are {error: {message, code}}; the credential error's code is AUTHENTICATION_ERROR in the code list, AUTHENTICATION_ERR in one example", Source::VendorDocs("https://docs.usedatabrain.com/developer-docs/helpers/api-reference/token")),
    ],
    inventory: Some(InventorySource {
        tool: "databrain_list_datasources",
        args: r#"{}"#,
        page: 1000,
    }),
    operations: OPERATIONS,
};

fn credential(env: &dyn Env) -> Result<Option<Credential>, ConfigError> {
    Ok(env
        .var("DATABRAIN_SERVICE_TOKEN")
        .map(|token| Credential::Static {
            header: AuthHeader::authorization(Scheme::Bearer),
            value: SecretString::new(token),
        }))
}

/// What to do about each documented error code.
fn code_hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "DATASOURCE_NAME_ERROR" => {
            "the name is taken (create) or unknown (update, delete): list datasources to check, then pick another name or the right one"
        }
        "CREDENTIAL_TEST_FAILED" => {
            "DataBrain could not connect with these credentials: check host, port, user, password and network access from DataBrain"
        }
        "DATASOURCE_IN_USE" => {
            "datamarts use this datasource: remove it from them in DataBrain first"
        }
        "DATASOURCE_ID_ERROR" => {
            "no datasource has that id: copy it from the datasource's page in DataBrain (the id= in its URL)"
        }
        // The token page's example says AUTHENTICATION_ERR, its code list AUTHENTICATION_ERROR.
        "AUTHENTICATION_ERROR" | "AUTHENTICATION_ERR" => {
            "check DATABRAIN_SERVICE_TOKEN (a service token, not a data-app API key)"
        }
        "SCHEMA_CACHE_FAILED" => {
            "the datasource exists but its schema was not cached: run databrain_sync_datasource"
        }
        "CREATE_DATASOURCE_FAILED" | "INTERNAL_SERVER_ERROR" => {
            "DataBrain failed on its side: list datasources to see whether it was created, then retry"
        }
        _ => return None,
    })
}

static OPERATIONS: &[OperationSpec] = &[
    OperationSpec {
        name: "databrain_list_datasources",
        provider: Provider::DataBrain,
        title: "List DataBrain datasources",
        description: "List DataBrain datasources (names only).",
        method: Method::Get,
        path: "/api/v2/datasource",
        hints: Hints::READ,
        args: ArgsSpec::of::<ListDatasources>(),
        output: Output::typed::<ListPage>(),
        flow: Flow::SINGLE,
        example: r#"{"limit": 20}"#,
        reconcile: None,
        progress: false,
        facts: &[Fact::new(
            Aspect::Path,
            "GET /api/v2/datasource, isPagination and pageNumber as strings, 10 per page; names only, no ids, no total",
            Source::VendorDocs(
                "https://docs.usedatabrain.com/developer-docs/helpers/api-reference/list-datasources",
            ),
        )],
        listing: Some(Listing {
            items: &["/data"],
            total: None,
            row: datasource_row,
            paging: Paging::Local,
            fields: "name",
            completion: None,
        }),
    },
    OperationSpec {
        name: "databrain_create_datasource",
        provider: Provider::DataBrain,
        title: "Create a DataBrain datasource",
        description: "Create a DataBrain datasource (DataBrain tests the credentials first).",
        method: Method::Post,
        path: "/api/v2/datasource",
        hints: Hints::CREATE,
        args: ArgsSpec::of::<DatasourceBody>(),
        output: Output::typed::<Named>(),
        flow: Flow::SINGLE,
        example: r#"{"datasourceType": "postgres", "credentials": {"name": "analytics-pg", "host": "pg.example.com", "port": 5432, "username": "databrain", "password": "${secret:ANALYTICS_PG_PASSWORD}", "database": "analytics", "schema": "public"}}"#,
        reconcile: Some(RECONCILE),
        progress: false,
        facts: &[
            Fact::new(
                Aspect::Path,
                "POST /api/v2/datasource with {datasourceType, credentials, tenancySettings}; the answer is {name}; DataBrain tests the credentials first",
                Source::VendorDocs(
                    "https://docs.usedatabrain.com/developer-docs/helpers/api-reference/create-datasource",
                ),
            ),
            Fact::new(
                Aspect::Values,
                "datasourceType is one of 18 types",
                Source::VendorDocs(
                    "https://docs.usedatabrain.com/developer-docs/helpers/api-reference/create-datasource",
                ),
            ),
            Fact::new(
                Aspect::Request,
                "Credential keys: postgres host, port, username, password, database, schema; mssql server and user instead of host and username",
                Source::VendorDocs(
                    "https://docs.usedatabrain.com/developer-docs/helpers/api-reference/create-datasource",
                ),
            ),
            Fact::new(
                Aspect::Request,
                "The other types' credential keys are not shown in the reference: only name is checked",
                Source::Assumed("the reference's per-type fields are prose"),
            )
            .cannot_verify("the keys a type takes show only in a create, and DataBrain tests a datasource's credentials before it creates it: a throwaway would need a database DataBrain can reach"),
            Fact::new(
                Aspect::Request,
                "tenancySettings keys: tenancyLevel (TABLE or DATABASE), clientColumnType, schemaName, tableName, tableClientNameColumn, tablePrimaryKeyColumn",
                Source::VendorDocs(
                    "https://docs.usedatabrain.com/developer-docs/helpers/api-reference/create-datamart",
                ),
            ),
        ],
        listing: None,
    },
    OperationSpec {
        name: "databrain_update_datasource",
        provider: Provider::DataBrain,
        title: "Update a DataBrain datasource",
        description: "Replace a DataBrain datasource's credentials (found by credentials.name): send them all.",
        method: Method::Put,
        path: "/api/v2/datasource",
        hints: Hints::REPLACE,
        args: ArgsSpec::of::<UpdateDatasource>(),
        output: Output::typed::<Named>(),
        flow: Flow::SINGLE,
        example: r#"{"datasourceType": "postgres", "credentials": {"name": "analytics-postgres", "host": "pg.example.com", "port": 5432, "username": "databrain", "password": "${secret:ANALYTICS_PG_PASSWORD}", "database": "analytics", "schema": "public"}}"#,
        reconcile: None,
        progress: false,
        facts: &[Fact::new(
            Aspect::Path,
            "PUT /api/v2/datasource, found by credentials.name; the full credential set (no partial update); tenancySettings left out stays",
            Source::VendorDocs(
                "https://docs.usedatabrain.com/developer-docs/helpers/api-reference/update-datasource",
            ),
        )],
        listing: None,
    },
    OperationSpec {
        name: "databrain_delete_datasource",
        provider: Provider::DataBrain,
        title: "Delete a DataBrain datasource",
        description: "Delete a DataBrain datasource by name, for good; refused while datamarts use it.",
        method: Method::Delete,
        path: "/api/v2/datasource",
        hints: Hints::DELETE,
        args: ArgsSpec::of::<DeleteDatasource>(),
        output: Output::typed::<Deleted>(),
        flow: Flow::SINGLE,
        example: r#"{"name": "reports-csv"}"#,
        reconcile: None,
        progress: false,
        facts: &[Fact::new(
            Aspect::Path,
            "DELETE /api/v2/datasource?datasourceName= answers {id, message}; irreversible; DATASOURCE_IN_USE while datamarts use it",
            Source::VendorDocs(
                "https://docs.usedatabrain.com/developer-docs/helpers/api-reference/delete-datasource",
            ),
        )],
        listing: None,
    },
    OperationSpec {
        name: "databrain_sync_datasource",
        provider: Provider::DataBrain,
        title: "Sync a DataBrain datasource",
        description: "Refresh a DataBrain datasource's schema; follow an AWS S3 one with databrain_get_datasource_sync_progress.",
        method: Method::Post,
        path: "/api/v2/datasource/sync",
        hints: Hints::TRIGGER,
        args: ArgsSpec::of::<SyncDatasource>(),
        output: Output::typed::<SyncResult>(),
        flow: Flow::SINGLE,
        example: r#"{"datasource_id": "000000db-5eed-4000-8000-000000000001"}"#,
        reconcile: None,
        progress: true,
        facts: &[
            Fact::new(
                Aspect::Path,
                "POST /api/v2/datasource/sync with {input: {datasourceId}} answers {data: {message: 'Sync completed'}}; the id is in the datasource page's URL (id=) or a delete's answer, never in a list",
                Source::VendorDocs(
                    "https://docs.usedatabrain.com/developer-docs/helpers/api-reference/sync-datasource",
                ),
            ),
            Fact::new(
                Aspect::Response,
                "Whether the sync has finished when it answers (for types other than AWS S3) is not stated",
                Source::Assumed("the reference says only 'Sync completed'"),
            )
            .cannot_verify("a sync is a write and needs a datasource's id, which no list gives; DataBrain takes no throwaway without a database it can reach"),
        ],
        listing: None,
    },
    OperationSpec {
        name: "databrain_get_datasource_sync_progress",
        provider: Provider::DataBrain,
        title: "Get a DataBrain sync's progress",
        description: "Get how far a DataBrain datasource's sync is (\"16/16\": done), with any error.",
        method: Method::Post,
        path: "/api/v2/datasource/getDatasourceProgress",
        hints: Hints::READ,
        args: ArgsSpec::of::<SyncProgress>(),
        output: Output::PASSTHROUGH.holding(&["/status"]),
        flow: Flow::poll(Poll {
            status_path: None,
            job_id: |_, _| None,
            state: sync_state,
            stale: None,
            summary: None,
        }),
        example: r#"{"datasource_id": "000000db-5eed-4000-8000-000000000001", "wait": true}"#,
        reconcile: None,
        progress: true,
        facts: &[
            Fact::new(
                Aspect::Path,
                "POST /api/v2/datasource/getDatasourceProgress with {input: {datasourceId}} answers {status: {progress: 'done/total', error}}",
                Source::VendorDocs(
                    "https://docs.usedatabrain.com/developer-docs/helpers/embedding-apis/sync-datasource",
                ),
            ),
            Fact::new(
                Aspect::Values,
                "Documented for AWS S3 datasources only",
                Source::Assumed("no other type's progress is shown"),
            )
            .cannot_verify("the progress read needs a datasource's id, which no list gives, and a sync of it to show"),
        ],
        listing: None,
    },
];

/// Where a sync stands, from `{"status": {"progress": "done/total", "error": ""}}`.
fn sync_state(answer: &Value) -> PollState {
    let progress = answer.pointer("/status/progress").and_then(Value::as_str);
    let error = answer
        .pointer("/status/error")
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty());
    let counts = progress.and_then(|p| {
        let (done, total) = p.split_once('/')?;
        Some((
            done.trim().parse::<f64>().ok()?,
            total.trim().parse::<f64>().ok()?,
        ))
    });
    let complete = counts.is_some_and(|(done, total)| total > 0.0 && done >= total);
    PollState {
        finished: complete || error.is_some(),
        percent: counts
            .filter(|(_, total)| *total > 0.0)
            .map(|(done, total)| (done / total * 100.0).min(100.0)),
        status: match (error, progress) {
            (Some(e), _) => format!("failed: {e}"),
            (None, Some(p)) => format!("synced {p}"),
            (None, None) => "unknown".into(),
        },
    }
}

/// A datasource in a list: DataBrain lists names only (no type, id or status).
fn datasource_row(item: &Value) -> Value {
    json!({"id": item["name"], "name": item["name"], "status": "unknown"})
}

/// A create whose answer was lost: is there a datasource of that name now?
const RECONCILE: Reconcile = Reconcile {
    lookup: "databrain_list_datasources",
    args: |_| json!({}),
    found: |status, body, sent, _| {
        if !(200..300).contains(&status) {
            return None;
        }
        let name = sent.body.as_ref()?.pointer("/credentials/name")?.as_str()?;
        let exists = body["data"]
            .as_array()?
            .iter()
            .any(|d| d["name"].as_str() == Some(name));
        Some(exists)
    },
    before: false,
};

// ---- argument types -------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDatasources {}

impl ToolArgs for ListDatasources {
    /// DataBrain pages by 10 at best: the server asks for all and cuts the page itself.
    fn into_request(self) -> RequestParts {
        RequestParts::new()
    }
}

// The 18 datasource types of DataBrain's API (a plain comment: the schema's list says it).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatasourceType {
    Snowflake,
    Postgres,
    Redshift,
    Cockroachdb,
    Mysql,
    Mongodb,
    Clickhouse,
    Singlestore,
    Bigquery,
    Databricks,
    Elasticsearch,
    Opensearch,
    Mssql,
    Awss3,
    Csv,
    Firebolt,
    Athena,
    Trino,
}

/// name plus the type's fields. postgres, redshift, cockroachdb: host, port, username, password, database, schema; mssql: server, port, user, password, database; trino: host, port, catalog, schema, username, password; snowflake: host, username, role, warehouse, database, schema, password or private key; bigquery: service-account JSON, project id, location; elasticsearch, opensearch: server_type, cloud id or server URL, username, password; firebolt: client id and secret, account, database, engine; athena: database, S3 output bucket, access key id, secret key, region; awss3: bucket, path, region, access key id, secret key; csv: name only; others: see DataBrain's docs.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub struct Credentials {
    /// Unique; other tools refer to it by it.
    pub name: String,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DatasourceBody {
    pub datasource_type: DatasourceType,
    #[schemars(extend("x-in-reference" = "name, and the type's fields: datasource-mcp://tools/databrain_create_datasource."))]
    pub credentials: Credentials,
    /// Optional tenant isolation: tenancyLevel DATABASE, or TABLE with the client-id column type (NUMBER|STRING), schema, mapping table, client-id column and primary key column.
    #[schemars(extend("x-holds-no-secret" = true, "x-in-reference" = "Tenant isolation: see the tool's reference."))]
    pub tenancy_settings: Option<Map<String, Value>>,
}

impl ToolArgs for DatasourceBody {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::not_blank("credentials.name", &self.credentials.name)?;
        check_tenancy(self.tenancy_settings.as_ref())
    }

    fn into_request(self) -> RequestParts {
        let mut body = json!({
            "datasourceType": self.datasource_type,
            "credentials": self.credentials,
        });
        if let Some(t) = self.tenancy_settings {
            body["tenancySettings"] = Value::Object(t);
        }
        RequestParts::new().body(body)
    }
}

/// The full credential set of an existing datasource.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub struct FullCredentials {
    pub name: String,
    /// Every field, as for databrain_create_datasource: what is left out is lost.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// The same body as a create, documented for an update (the create's long field list is
/// not repeated in a second tool definition).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateDatasource {
    #[schemars(extend("x-in-reference" = "As for databrain_create_datasource."))]
    pub datasource_type: DatasourceType,
    /// name plus every field of the type, as for databrain_create_datasource.
    #[schemars(extend("x-in-reference" = "name plus every field, as for databrain_create_datasource."))]
    pub credentials: FullCredentials,
    /// As for databrain_create_datasource; omitted = unchanged.
    #[schemars(extend("x-holds-no-secret" = true, "x-in-reference" = "Omitted: unchanged."))]
    pub tenancy_settings: Option<Map<String, Value>>,
}

impl From<UpdateDatasource> for DatasourceBody {
    fn from(u: UpdateDatasource) -> Self {
        DatasourceBody {
            datasource_type: u.datasource_type,
            credentials: Credentials {
                name: u.credentials.name,
                fields: u.credentials.fields,
            },
            tenancy_settings: u.tenancy_settings,
        }
    }
}

impl ToolArgs for UpdateDatasource {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::not_blank("credentials.name", &self.credentials.name)?;
        check_tenancy(self.tenancy_settings.as_ref())
    }

    fn into_request(self) -> RequestParts {
        DatasourceBody::from(self).into_request()
    }
}

fn check_tenancy(settings: Option<&Map<String, Value>>) -> Result<(), InvalidArgument> {
    if let Some(level) = settings.and_then(|t| t.get("tenancyLevel"))
        && !matches!(level.as_str(), Some("TABLE" | "DATABASE"))
    {
        return Err(InvalidArgument::new(
            "tenancySettings.tenancyLevel",
            "must be TABLE or DATABASE",
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteDatasource {
    /// From databrain_list_datasources.
    #[schemars(extend("x-mcp-header" = "Name"))]
    pub name: String,
}

impl ToolArgs for DeleteDatasource {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::not_blank("name", &self.name)
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new().query("datasourceName", self.name)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncDatasource {
    /// UUID or the DataBrain page URL: ask the user (no tool finds it).
    #[schemars(extend("x-mcp-header" = "Datasource-Id"))]
    pub datasource_id: String,
}

impl ToolArgs for SyncDatasource {
    fn validate(&self) -> Result<(), InvalidArgument> {
        datasource_uuid(&self.datasource_id).map(drop)
    }

    fn into_request(self) -> RequestParts {
        let id = datasource_uuid(&self.datasource_id).unwrap_or(self.datasource_id);
        RequestParts::new().body(json!({ "input": { "datasourceId": id } }))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncProgress {
    /// As for databrain_sync_datasource.
    #[schemars(extend("x-mcp-header" = "Datasource-Id"))]
    pub datasource_id: String,
    #[serde(default)]
    pub wait: bool,
    #[schemars(range(max = 3600))]
    pub wait_seconds: Option<u64>,
}

impl ToolArgs for SyncProgress {
    fn validate(&self) -> Result<(), InvalidArgument> {
        datasource_uuid(&self.datasource_id)?;
        check::wait_seconds(self.wait_seconds)
    }

    fn into_request(self) -> RequestParts {
        let wait = crate::args::wait_for(self.wait, self.wait_seconds);
        let id = datasource_uuid(&self.datasource_id).unwrap_or(self.datasource_id);
        RequestParts::new()
            .body(json!({ "input": { "datasourceId": id } }))
            .wait(wait)
    }
}

/// A datasource's UUID, given as is or as its DataBrain page URL (`…?id=<uuid>`): DataBrain's
/// API lists, creates and updates by name and returns no id, and its sync reference says the
/// id is the one in the datasource page's URL.
fn datasource_uuid(given: &str) -> Result<String, InvalidArgument> {
    const FIELD: &str = "datasource_id";
    let given = given.trim();
    if check::uuid(FIELD, given).is_ok() {
        return Ok(given.to_string());
    }
    let from_url = url::Url::parse(given)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http"))
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "id")
                .map(|(_, v)| v.into_owned())
        });
    match from_url {
        Some(id) if check::uuid(FIELD, &id).is_ok() => Ok(id),
        Some(_) => Err(InvalidArgument::new(
            FIELD,
            "the page URL's id= is not a UUID: copy the URL of the datasource's own page in DataBrain",
        )),
        None => Err(InvalidArgument::new(
            FIELD,
            "must be the datasource's UUID or its DataBrain page URL (with id=); DataBrain's API \
             returns no id for a name, so ask the user to open the datasource in DataBrain and \
             paste the page URL",
        )),
    }
}

// ---- results --------------------------------------------------------------------------------

#[derive(Debug, Serialize, JsonSchema)]
pub struct Named {
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NameList {
    pub data: Vec<Named>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Deleted {
    pub id: String,
    pub message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SyncMessage {
    pub message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SyncResult {
    pub data: SyncMessage,
}

// ---- desired state ----------------------------------------------------------------------------

/// DataBrain datasources in a desired-state file: each entry a datasource as its create takes
/// it, named by `credentials.name`. DataBrain lists names only: a datasource that exists is
/// kept as it is (not compared), and an export writes its name alone.
pub static STATE: StateSpec = StateSpec {
    section: "datasources",
    noun: "datasource",
    key: "credentials.name",
    current_key: "/name",
    create: ("databrain_create_datasource", |entry| entry.clone()),
    create_at: "",
    update: None,
    delete: Some((
        "databrain_delete_datasource",
        |current| json!({"name": current["name"]}),
    )),
    export: |current, _| json!({"credentials": {"name": current["name"]}}),
    compares: false,
    limits: "DataBrain shows no settings of a datasource: change it with databrain_update_datasource",
    exists: |_| true,
    needs: None,
};

/// DataBrain offers no test of a stored datasource (its update tests new credentials); a sync
/// that answers says it connected.
pub static CHECKS: Checks = Checks {
    stored_test: None,
    connection: |answer, is_error| match is_error {
        true => Connection::unknown("the call failed"),
        false if answer.pointer("/data/message").is_some() => Connection::works(),
        false => Connection::unknown("DataBrain's answer says neither"),
    },
    answers: &["databrain_sync_datasource"],
};
