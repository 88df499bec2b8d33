//! Bigdata.com Content API, connectors. Public sources: Bigdata.com's API reference
//! (docs.bigdata.com/api-reference/connectors).
//!
//! - Auth: `X-API-KEY: <key>` on every request.
//! - Connector ids are UUIDs. `config` depends on `type`: email `allowed_emails`;
//!   investment_research `user_id` + `user_password` (never returned); sharepoint `session_id`.
//! - Update is a PUT that replaces `label`, `description` and `share_with_org`: what is not sent
//!   is reset, so the tool reads the connector first and sends back what the caller left out.
//! - Delete archives; `force_delete=true` deletes permanently (files too), asynchronously.
//! - Sync: `date_limit` for investment_research, `{}` for sharepoint, none for email.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::args::{InvalidArgument, ToolArgs, check};
use crate::operation::{
    Answer, ArgsSpec, Ask, Aspect, Fact, FactProbe, Flow, Hints, ListPage, Listing, Method,
    OperationSpec, Output, Paging, Provider, ReadFirst, Reconcile, RequestParts, Seen, Source,
    Step, Verdict, WriteScript, answered,
};
use crate::secret::SecretString;
use crate::spec::{
    AuthHeader, Checks, ConfigError, Connection, Credential, Env, EnvVar, Guide, InventorySource,
    Probe, ProviderSpec, Scheme, StateSpec, supports_every_tool,
};

pub static SPEC: ProviderSpec = ProviderSpec {
    provider: Provider::Bigdata,
    id: "bigdata",
    title: "Bigdata.com",
    base_url_var: "BIGDATA_BASE_URL",
    default_base_url: Some("https://api.bigdata.com"),
    env: &[
        EnvVar {
            name: "BIGDATA_BASE_URL",
            help: "API base (default https://api.bigdata.com)",
            secret: false,
        },
        EnvVar {
            name: "BIGDATA_API_KEY",
            help: "API key from the Developer Platform, sent as X-API-KEY",
            secret: true,
        },
    ],
    credential,
    setup: "BIGDATA_API_KEY (BIGDATA_BASE_URL defaults to https://api.bigdata.com)",
    credential_hint: "check BIGDATA_API_KEY",
    hint: |_, _, _| None,
    not_found: None,
    refusal: None,
    unsupported: supports_every_tool,
    probe: Probe {
        tool: "bigdata_list_connectors",
        args: r#"{}"#,
    },
    credential_keys: &[],
    guide: Guide {
        instructions: "Bigdata.com names a connector by `connector_id` (bigdata_list_connectors, by label).",
        onboard_tools: &["bigdata_list_connectors", "bigdata_create_connector", "bigdata_get_connector"],
        onboard_steps: "\
1. Agree on the connector type: email (an inbox that ingests mail forwarded from allowed senders), investment_research (a broker feed, needs the broker login) or sharepoint (needs a session_id from support@bigdata.com).
2. Call bigdata_list_connectors to check the label is free.
3. Call bigdata_create_connector with dry_run: true, show me the request, and create only after I confirm.
4. Verify with bigdata_get_connector. For email, tell me the inbox address (config.email) to forward mail to; for investment_research or sharepoint, offer to start bigdata_sync_connector (investment_research needs a date_limit).",
        audit_tool: "bigdata_list_connectors",
        audit_step: "Bigdata.com: call bigdata_list_connectors. Flag archived connectors and those whose status is \"fails\", with their error and remedy.",
    },
    facts: &[
        Fact::new(Aspect::Path, "Base URL https://api.bigdata.com; connectors under /contents/v1/connectors", Source::VendorDocs("https://docs.bigdata.com/api-reference/connectors/create-connector")),
        Fact::new(Aspect::Auth, "The API key goes in X-API-KEY on every request", Source::VendorDocs("https://docs.bigdata.com/api-reference/connectors/create-connector")),
        Fact::new(Aspect::Errors, "The Content API answers errors as {statusCode, message, errorCode, requestId}", Source::VendorCode("github.com/Bigdata-com/claude-plugin-build-with-bigdata-com: skills/build-with-bigdata/references/api/content/delete.md")),
        Fact::new(Aspect::Errors, "Other Bigdata.com APIs answer {errors: [{message}], metadata: {request_id}}", Source::VendorCode("PyPI bigdata-cli: bigdata_cli/client.py")),
        Fact::new(Aspect::Values, "Connector labels are not unique (nothing documents them so): a lost create is told apart by the connector ids that existed before it", Source::Assumed("the docs call the label a display name and say nothing of uniqueness")).probe(&SHARED_LABELS).written(second_label),
    ],
    inventory: Some(InventorySource {
        tool: "bigdata_list_connectors",
        args: r#"{}"#,
        page: 1000,
    }),
    operations: OPERATIONS,
};

fn credential(env: &dyn Env) -> Result<Option<Credential>, ConfigError> {
    Ok(env.var("BIGDATA_API_KEY").map(|key| Credential::Static {
        header: AuthHeader {
            name: "x-api-key",
            scheme: Scheme::Raw,
        },
        value: SecretString::new(key),
    }))
}

static OPERATIONS: &[OperationSpec] = &[
    OperationSpec {
        name: "bigdata_list_connectors",
        provider: Provider::Bigdata,
        title: "List Bigdata.com connectors",
        description: "List Bigdata.com connectors (archived too).",
        method: Method::Get,
        path: "/contents/v1/connectors",
        hints: Hints::READ,
        args: ArgsSpec::of::<NoArgs>(),
        output: Output::typed::<ListPage>(),
        flow: Flow::SINGLE,
        example: r#"{}"#,
        reconcile: None,
        progress: false,
        facts: &[Fact::new(
            Aspect::Path,
            "GET /contents/v1/connectors answers {results: [...]}, with no paging and no total",
            Source::VendorDocs("https://docs.bigdata.com/api-reference/connectors/list-connectors"),
        )],
        listing: Some(Listing {
            items: &["/results"],
            total: None,
            row: connector_row,
            paging: Paging::Local,
            fields: "config.allowed_emails, last_sync_status, last_sync_at…",
            completion: None,
        }),
    },
    OperationSpec {
        name: "bigdata_get_connector",
        provider: Provider::Bigdata,
        title: "Get a Bigdata.com connector",
        description: "Get a Bigdata.com connector, with its sync status.",
        method: Method::Get,
        path: "/contents/v1/connectors/{connector_id}",
        hints: Hints::READ,
        args: ArgsSpec::of::<ConnectorId>(),
        output: Output::PASSTHROUGH.holding(&["/connector_id"]),
        flow: Flow::SINGLE,
        example: r#"{"connector_id": "0b16da7a-5eed-4000-8000-000000000002"}"#,
        reconcile: None,
        progress: false,
        facts: &[Fact::new(
            Aspect::Path,
            "GET /contents/v1/connectors/{connector_id} (a UUID): 400 for a malformed id, 404 for an unknown one",
            Source::VendorDocs(
                "https://docs.bigdata.com/api-reference/connectors/get-connector-by-id",
            ),
        )],
        listing: None,
    },
    OperationSpec {
        name: "bigdata_create_connector",
        provider: Provider::Bigdata,
        title: "Create a Bigdata.com connector",
        description: "Create a Bigdata.com connector; an email one's inbox address is config.email in the answer.",
        method: Method::Post,
        path: "/contents/v1/connectors",
        hints: Hints::CREATE,
        args: ArgsSpec::of::<CreateConnector>(),
        output: Output::PASSTHROUGH,
        flow: Flow::SINGLE,
        example: r#"{"type": "email", "label": "Broker inbox", "config": {"allowed_emails": ["research@broker.example"]}}"#,
        reconcile: Some(RECONCILE),
        progress: false,
        facts: &[
            Fact::new(
                Aspect::Path,
                "POST /contents/v1/connectors with {type, label, config, description, share_with_org}",
                Source::VendorDocs(
                    "https://docs.bigdata.com/api-reference/connectors/create-connector",
                ),
            ),
            Fact::new(
                Aspect::Values,
                "type is email, investment_research or sharepoint; config: allowed_emails; the broker login; session_id",
                Source::VendorDocs(
                    "https://docs.bigdata.com/api-reference/connectors/create-connector",
                ),
            ),
            Fact::new(
                Aspect::Request,
                "The broker login's keys are user_id and user_password",
                Source::Assumed(
                    "implied by the docs: a connector 'returns only user_id (never user_password)'",
                ),
            )
            .probe(&BROKER_KEYS),
            Fact::new(
                Aspect::Response,
                "The success status (200 or 201) is not documented: any 2xx",
                Source::Assumed("not shown in the reference"),
            )
            .written(create_status),
        ],
        listing: None,
    },
    OperationSpec {
        name: "bigdata_update_connector",
        provider: Provider::Bigdata,
        title: "Update a Bigdata.com connector",
        description: "Change a Bigdata.com connector's label, description, sharing or allowed senders; the rest is kept.",
        method: Method::Put,
        path: "/contents/v1/connectors/{connector_id}",
        hints: Hints::UPDATE,
        args: ArgsSpec::of::<UpdateConnector>(),
        output: Output::PASSTHROUGH,
        flow: Flow::read_first(ReadFirst {
            path: "/contents/v1/connectors/{connector_id}",
            query: &[],
            then: fill_unchanged,
            explain: "the given fields, plus label, description (a null one as null) and share_with_org copied from the current connector (first request) where not given",
        }),
        example: r#"{"connector_id": "0b16da7a-5eed-4000-8000-000000000002", "label": "Daily broker reports"}"#,
        reconcile: None,
        progress: false,
        facts: &[
            Fact::new(
                Aspect::Path,
                "PUT /contents/v1/connectors/{connector_id} replaces: label required, an omitted description becomes \"\", an omitted share_with_org false; type cannot change; only an email connector's config can",
                Source::VendorDocs(
                    "https://docs.bigdata.com/api-reference/connectors/update-connector-by-id",
                ),
            ),
            Fact::new(
                Aspect::Request,
                "A description sent as null stays null (a connector created without one reads null): the stored value is sent back as read",
                Source::Assumed(
                    "the reference shows the PUT's description as a string defaulting to \"\" and says nothing of null; leaving it out would surely turn null into \"\"",
                ),
            )
            .written(null_description),
        ],
        listing: None,
    },
    OperationSpec {
        name: "bigdata_delete_connector",
        provider: Provider::Bigdata,
        title: "Delete a Bigdata.com connector",
        description: "Archive a Bigdata.com connector, or with force_delete delete it and its files for good.",
        method: Method::Delete,
        path: "/contents/v1/connectors/{connector_id}",
        hints: Hints::DELETE,
        args: ArgsSpec::of::<DeleteConnector>(),
        output: Output::PASSTHROUGH,
        flow: Flow::SINGLE,
        example: r#"{"connector_id": "0b16da7a-5eed-4000-8000-000000000004"}"#,
        reconcile: None,
        progress: true,
        facts: &[Fact::new(
            Aspect::Path,
            "DELETE /contents/v1/connectors/{connector_id} archives; force_delete=true deletes the connector and its files in the background",
            Source::VendorDocs(
                "https://docs.bigdata.com/api-reference/connectors/delete-connector-by-id",
            ),
        )],
        listing: None,
    },
    OperationSpec {
        name: "bigdata_sync_connector",
        provider: Provider::Bigdata,
        title: "Sync a Bigdata.com connector",
        description: "Sync an investment_research or sharepoint connector; follow it with bigdata_get_connector.",
        method: Method::Post,
        path: "/contents/v1/connectors/{connector_id}/sync",
        hints: Hints::TRIGGER,
        args: ArgsSpec::of::<SyncConnector>(),
        output: Output::typed::<SyncAccepted>(),
        flow: Flow::read_first(ReadFirst {
            path: "/contents/v1/connectors/{connector_id}",
            query: &[],
            then: check_sync,
            explain: "{\"date_limit\"} for an investment_research connector, {} for sharepoint (the type comes from the first request)",
        }),
        example: r#"{"connector_id": "0b16da7a-5eed-4000-8000-000000000002", "date_limit": "2026-01-01"}"#,
        reconcile: None,
        progress: true,
        facts: &[Fact::new(
            Aspect::Path,
            "POST /contents/v1/connectors/{connector_id}/sync: {date_limit} for investment_research, {} for sharepoint, none for email; the answer is {connector_id, status: accepted}",
            Source::VendorDocs(
                "https://docs.bigdata.com/api-reference/connectors/trigger-connector-sync",
            ),
        )],
        listing: None,
    },
];

/// What can be done about a connector whose sync fails, where the ledger tells: an update
/// changes only an email connector's config (allowed_emails), so a SharePoint session or a
/// broker login is replaced by a new connector, and the old one archived.
fn remedy(connector: &Value) -> Option<&'static str> {
    match connector["type"].as_str()? {
        "sharepoint" => Some(
            "ask support@bigdata.com for a new session_id, create a sharepoint connector with it, then archive this one (bigdata_delete_connector)",
        ),
        "investment_research" => Some(
            "create an investment_research connector with the right broker login, then archive this one (bigdata_delete_connector)",
        ),
        _ => None,
    }
}

/// A connector in a list, compact: its state is its archive flag and its last sync.
fn connector_row(item: &Value) -> Value {
    let status = if item["archived"] == true {
        "archived"
    } else {
        match item["last_sync_status"].as_str() {
            Some(s) if s.eq_ignore_ascii_case("success") => "works",
            Some(s) if s.eq_ignore_ascii_case("failed") || s.eq_ignore_ascii_case("error") => {
                "fails"
            }
            Some(_) => "syncing",
            None => "untested",
        }
    };
    let mut row = json!({"id": item["connector_id"], "name": item["label"], "type": item["type"],
        "status": status});
    if status == "fails"
        && let Some(remedy) = remedy(item)
    {
        row["remedy"] = json!(remedy);
    }
    // The reason in the same key as every vendor's row.
    for (key, shown) in [
        ("last_sync_at", "last_sync_at"),
        ("last_sync_error_msg", "error"),
    ] {
        if let Some(v) = item.get(key).filter(|v| !v.is_null()) {
            row[shown] = v.clone();
        }
    }
    row
}

/// A create whose answer was lost: is there an active connector with that label now?
const RECONCILE: Reconcile = Reconcile {
    lookup: "bigdata_list_connectors",
    args: |_| json!({}),
    found: |status, body, sent, before| {
        if !(200..300).contains(&status) {
            return None;
        }
        let label = sent.body.as_ref()?.get("label")?.as_str()?;
        let ids = |list: &Value| -> Option<Vec<String>> {
            Some(
                list["results"]
                    .as_array()?
                    .iter()
                    .filter(|c| c["label"].as_str() == Some(label))
                    .filter_map(|c| c["connector_id"].as_str().map(str::to_string))
                    .collect(),
            )
        };
        // Labels are not unique: only a connector that was not there before the call counts.
        let existed = ids(before?)?;
        Some(ids(body)?.iter().any(|id| !existed.contains(id)))
    },
    before: true,
};

// ---- argument types -------------------------------------------------------------------------

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

impl ToolArgs for NoArgs {
    fn into_request(self) -> RequestParts {
        RequestParts::new()
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectorId {
    /// From bigdata_list_connectors.
    #[schemars(extend("x-mcp-header" = "Connector-Id"))]
    pub connector_id: String,
}

impl ToolArgs for ConnectorId {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::uuid("connector_id", &self.connector_id)
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new().path("connector_id", self.connector_id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorType {
    Email,
    InvestmentResearch,
    Sharepoint,
}

/// The three `config` shapes, one per type, for the schema (validation is by `type`).
fn config_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "description": "Per type: email {allowed_emails}, investment_research {user_id, user_password}, sharepoint {session_id}.",
        "anyOf": [
            {"title": "email", "required": ["allowed_emails"], "additionalProperties": false, "properties": {
                "allowed_emails": {"type": "array", "minItems": 1, "items": {"type": "string", "format": "email"},
                    "description": "Allowed senders."}}},
            {"title": "investment_research", "required": ["user_id", "user_password"], "properties": {
                "user_id": {"type": "string", "description": "Broker login."},
                "user_password": {"type": "string", "description": "Broker password."}}},
            {"title": "sharepoint", "required": ["session_id"], "additionalProperties": false, "properties": {
                "session_id": {"type": "string", "description": "From support@bigdata.com."}}}
        ]
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnector {
    #[serde(rename = "type")]
    pub kind: ConnectorType,
    pub label: String,
    #[schemars(schema_with = "config_schema")]
    #[schemars(extend("x-in-reference" = "email: {allowed_emails: [...]}; investment_research: {user_id, user_password}; sharepoint: {session_id} (from support@bigdata.com)."))]
    pub config: Map<String, Value>,
    pub description: Option<String>,
    pub share_with_org: Option<bool>,
}

fn check_emails(field: &str, emails: &Value) -> Result<(), InvalidArgument> {
    let list = emails
        .as_array()
        .ok_or_else(|| InvalidArgument::new(field, "must be a list of e-mail addresses"))?;
    check::non_empty_list(field, list)?;
    for (i, e) in list.iter().enumerate() {
        let item = format!("{field}[{i}]");
        let text = e
            .as_str()
            .ok_or_else(|| InvalidArgument::new(&item, "must be an e-mail address"))?;
        check::email(&item, text)?;
    }
    Ok(())
}

fn required_string(config: &Map<String, Value>, key: &str) -> Result<(), InvalidArgument> {
    let field = format!("config.{key}");
    match config.get(key) {
        Some(Value::String(s)) => check::not_blank(&field, s),
        Some(_) => Err(InvalidArgument::new(field, "must be a string")),
        None => Err(InvalidArgument::new(field, "is required")),
    }
}

fn only_keys(
    config: &Map<String, Value>,
    allowed: &[&str],
    kind: &str,
) -> Result<(), InvalidArgument> {
    match config.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(InvalidArgument::new(
            format!("config.{k}"),
            format!("is not accepted for {kind} connectors"),
        )),
        None => Ok(()),
    }
}

impl ToolArgs for CreateConnector {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::not_blank("label", &self.label)?;
        let config = &self.config;
        match self.kind {
            ConnectorType::Email => {
                only_keys(config, &["allowed_emails"], "email")?;
                match config.get("allowed_emails") {
                    Some(v) => check_emails("config.allowed_emails", v)?,
                    None => {
                        return Err(InvalidArgument::new("config.allowed_emails", "is required"));
                    }
                }
            }
            ConnectorType::InvestmentResearch => {
                required_string(config, "user_id")?;
                required_string(config, "user_password")?;
            }
            ConnectorType::Sharepoint => {
                only_keys(config, &["session_id"], "sharepoint")?;
                required_string(config, "session_id")?;
            }
        }
        Ok(())
    }

    fn into_request(self) -> RequestParts {
        let mut body = json!({
            "type": self.kind,
            "label": self.label,
            "config": self.config,
            "share_with_org": self.share_with_org.unwrap_or(false),
        });
        if let Some(d) = self.description {
            body["description"] = json!(d);
        }
        RequestParts::new().body(body)
    }
}

/// An email connector's allowed senders.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailConfigUpdate {
    pub allowed_emails: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnector {
    /// From bigdata_list_connectors.
    pub connector_id: String,
    pub label: Option<String>,
    pub description: Option<String>,
    pub share_with_org: Option<bool>,
    pub config: Option<EmailConfigUpdate>,
}

impl ToolArgs for UpdateConnector {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::uuid("connector_id", &self.connector_id)?;
        if let Some(label) = &self.label {
            check::not_blank("label", label)?;
        }
        if let Some(config) = &self.config {
            check_emails("config.allowed_emails", &json!(config.allowed_emails))?;
        }
        if self.label.is_none()
            && self.description.is_none()
            && self.share_with_org.is_none()
            && self.config.is_none()
        {
            return Err(InvalidArgument::new(
                "arguments",
                "name at least one of label, description, share_with_org, config",
            ));
        }
        Ok(())
    }

    fn into_request(self) -> RequestParts {
        let mut body = Map::new();
        if let Some(v) = self.label {
            body.insert("label".into(), json!(v));
        }
        if let Some(v) = self.description {
            body.insert("description".into(), json!(v));
        }
        if let Some(v) = self.share_with_org {
            body.insert("share_with_org".into(), json!(v));
        }
        if let Some(v) = self.config {
            body.insert("config".into(), json!(v));
        }
        RequestParts::new()
            .path("connector_id", self.connector_id)
            .body(Value::Object(body))
    }
}

/// The PUT replaces label, description and share_with_org: copy the current values of those
/// the caller left out, so nothing is reset by omission. A description is copied exactly as
/// read, null included: left out, a null description would become `""`.
fn fill_unchanged(
    current: Value,
    mut parts: RequestParts,
) -> Result<RequestParts, InvalidArgument> {
    let mut body = match parts.body.take() {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if body.contains_key("config") && current["type"] != "email" {
        return Err(InvalidArgument::new(
            "config",
            "only email connectors take a config update (create a new connector instead)",
        ));
    }
    for key in ["label", "description", "share_with_org"] {
        if !body.contains_key(key)
            && let Some(v) = current
                .get(key)
                .filter(|v| !v.is_null() || key == "description")
        {
            body.insert(key.into(), v.clone());
        }
    }
    Ok(parts.body(Value::Object(body)))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteConnector {
    /// From bigdata_list_connectors.
    #[schemars(extend("x-mcp-header" = "Connector-Id"))]
    pub connector_id: String,
    #[serde(default)]
    pub force_delete: bool,
}

impl ToolArgs for DeleteConnector {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::uuid("connector_id", &self.connector_id)
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new()
            .path("connector_id", self.connector_id)
            .query("force_delete", self.force_delete)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncConnector {
    /// From bigdata_list_connectors.
    pub connector_id: String,
    /// YYYY-MM-DD; investment_research only (required).
    pub date_limit: Option<String>,
}

impl ToolArgs for SyncConnector {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::uuid("connector_id", &self.connector_id)?;
        if let Some(d) = &self.date_limit {
            check::date("date_limit", d)?;
        }
        Ok(())
    }

    fn into_request(self) -> RequestParts {
        let body = match self.date_limit {
            Some(d) => json!({ "date_limit": d }),
            None => json!({}),
        };
        RequestParts::new()
            .path("connector_id", self.connector_id)
            .body(body)
    }
}

/// What a sync needs depends on the connector's type, which the first request read.
fn check_sync(current: Value, parts: RequestParts) -> Result<RequestParts, InvalidArgument> {
    let has_date = parts
        .body
        .as_ref()
        .is_some_and(|b| b.get("date_limit").is_some());
    match current["type"].as_str() {
        Some("investment_research") if !has_date => Err(InvalidArgument::new(
            "date_limit",
            "is required for investment_research connectors",
        )),
        Some("sharepoint") if has_date => Err(InvalidArgument::new(
            "date_limit",
            "must be omitted for sharepoint connectors",
        )),
        Some("email") => Err(InvalidArgument::new(
            "connector_id",
            "is an email connector, which does not sync: forward mail to its address instead",
        )),
        _ => Ok(parts),
    }
}

// ---- results --------------------------------------------------------------------------------

/// Also echoes `date_limit` when one was given; left out of the schema, since the vendor may
/// send it as null and a `["string", "null"]` union is not portable across clients.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SyncAccepted {
    pub connector_id: String,
    pub status: String,
}

// ---- desired state ----------------------------------------------------------------------------

/// Bigdata.com connectors in a desired-state file: each entry a connector as its create takes
/// it, named by `label` (labels are not unique at Bigdata.com: two of one label are left alone).
pub static STATE: StateSpec = StateSpec {
    section: "connectors",
    noun: "connector",
    key: "label",
    current_key: "/label",
    create: ("bigdata_create_connector", |entry| entry.clone()),
    create_at: "",
    update: Some(("bigdata_update_connector", |current, changes| {
        let mut args = changes.clone();
        args.remove("type");
        args.insert("connector_id".into(), current["connector_id"].clone());
        Value::Object(args)
    })),
    delete: Some((
        "bigdata_delete_connector",
        |current| json!({"connector_id": current["connector_id"]}),
    )),
    export: export_connector,
    compares: true,
    limits: "",
    // A deleted connector stays listed, archived (the delete tool's own fact).
    exists: |current| current["archived"] != true,
    needs: None,
};

fn export_connector(current: &Value, reference: &dyn Fn(&str) -> String) -> Value {
    let mut out = Map::new();
    for key in ["type", "label", "description", "share_with_org"] {
        if let Some(v) = current.get(key).filter(|v| !v.is_null()) {
            out.insert(key.into(), v.clone());
        }
    }
    // What each type's create takes in config; what Bigdata.com never returns (the broker's
    // password, SharePoint's session) as references.
    let config = match current["type"].as_str() {
        Some("email") => json!({"allowed_emails": current["config"]["allowed_emails"]}),
        Some("investment_research") => json!({"user_id": current["config"]["user_id"],
            "user_password": reference("user_password")}),
        Some("sharepoint") => json!({"session_id": reference("session_id")}),
        _ => current["config"].clone(),
    };
    out.insert("config".into(), config);
    Value::Object(out)
}

/// Bigdata.com offers no connection test; a connector's last sync says whether it connects.
pub static CHECKS: Checks = Checks {
    stored_test: None,
    connection: |answer, is_error| {
        if is_error {
            return Connection::unknown("the call failed");
        }
        match answer["last_sync_status"].as_str() {
            Some(s) if s.eq_ignore_ascii_case("success") => Connection::works(),
            Some(s) if s.eq_ignore_ascii_case("failed") || s.eq_ignore_ascii_case("error") => {
                let why = answer["last_sync_error_msg"]
                    .as_str()
                    .unwrap_or("its last sync failed");
                match remedy(answer) {
                    Some(remedy) => Connection::fails(format!("{why}; to fix: {remedy}")),
                    None => Connection::fails(why),
                }
            }
            _ => Connection::unknown("Bigdata.com has no connection test; no finished sync yet"),
        }
    },
    answers: &["bigdata_get_connector"],
};

// ---- verify: the assumed facts against the user's tenant -------------------------------------

const LIST: Ask = Ask::get("list", "/contents/v1/connectors");

fn connectors(a: &Answer) -> &[Value] {
    a.body
        .pointer("/results")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Connectors that already share a label show it; none sharing one leaves it to `--write`.
static SHARED_LABELS: FactProbe = FactProbe {
    asks: &[LIST],
    read: |seen| {
        let a = answered!(seen, "list");
        if !a.ok() {
            return Verdict::not_checked(a.said());
        }
        let mut labels: Vec<&str> = connectors(a)
            .iter()
            .filter_map(|c| c["label"].as_str())
            .collect();
        let all = labels.len();
        labels.sort_unstable();
        labels.dedup();
        match labels.len() < all {
            true => Verdict::held(format!("{}: two connectors share a label", a.said())),
            false => Verdict::not_checked(format!(
                "{}: no two connectors share a label; --write creates two with one",
                a.said()
            )),
        }
    },
};

/// A broker feed's config shows user_id and never user_password.
static BROKER_KEYS: FactProbe = FactProbe {
    asks: &[LIST],
    read: |seen| {
        let a = answered!(seen, "list");
        if !a.ok() {
            return Verdict::not_checked(a.said());
        }
        let feeds: Vec<&Value> = connectors(a)
            .iter()
            .filter(|c| c["type"] == "investment_research")
            .collect();
        if feeds.is_empty() {
            return Verdict::not_checked(format!(
                "{}: no investment_research connector here to read",
                a.said()
            ));
        }
        for feed in feeds {
            let config = feed.get("config").and_then(Value::as_object);
            if !config.is_some_and(|c| c.contains_key("user_id")) {
                let mut keys: Vec<&str> = config
                    .map(|c| c.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                keys.sort_unstable();
                return Verdict::differs(format!(
                    "{}: an investment_research connector's config holds {{{}}}, no user_id",
                    a.said(),
                    keys.join(", ")
                ));
            }
        }
        Verdict::held(format!(
            "{}: an investment_research connector's config holds user_id",
            a.said()
        ))
    },
};

/// `verify --write` at Bigdata.com: a throwaway email connector (no description), created
/// twice with the same label, read, relabelled through the update tool and read again, then
/// deleted for good (`force_delete`).
pub static VERIFY_WRITE: WriteScript = WriteScript {
    steps: &[
        Step::request(
            "create",
            Method::Post,
            "/contents/v1/connectors",
            throwaway_create,
        ),
        Step::request(
            "duplicate",
            Method::Post,
            "/contents/v1/connectors",
            |seen| created_id(seen).and_then(|_| throwaway_create(seen)),
        ),
        Step::request(
            "read",
            Method::Get,
            "/contents/v1/connectors/{connector_id}",
            read_created,
        ),
        Step::tool("update", "bigdata_update_connector", |seen| {
            let id = created_id(seen)?;
            let name = seen.throwaway.as_deref()?;
            Some(json!({"connector_id": id, "label": format!("{name} (changed)")}))
        }),
        Step::request(
            "read_after",
            Method::Get,
            "/contents/v1/connectors/{connector_id}",
            read_created,
        ),
    ],
    made: |seen| {
        ["create", "duplicate"]
            .iter()
            .filter_map(|label| seen.first(label))
            .filter(|a| a.ok() || (a.status.is_none() && a.error.is_some()))
            .map(|a| match a.body["connector_id"].as_str() {
                Some(id) => json!({"connector_id": id, "force_delete": true}),
                None => Value::Null,
            })
            .collect()
    },
    cleanup: "bigdata_delete_connector",
};

fn throwaway_create(seen: &Seen) -> Option<RequestParts> {
    let name = seen.throwaway.clone()?;
    Some(RequestParts::new().body(json!({
        "type": "email",
        "label": name,
        "config": {"allowed_emails": ["verify@example.com"]},
    })))
}

fn created_id(seen: &Seen) -> Option<String> {
    seen.first("create")
        .filter(|a| a.ok())
        .and_then(|a| a.body["connector_id"].as_str())
        .map(str::to_string)
}

fn read_created(seen: &Seen) -> Option<RequestParts> {
    Some(RequestParts::new().path("connector_id", created_id(seen)?))
}

/// Any 2xx is a create's success, the connector in its answer.
fn create_status(seen: &Seen) -> Verdict {
    let a = answered!(seen, "create");
    let status = a.status.unwrap_or(0);
    match (status, a.body["connector_id"].is_string()) {
        (200..=299, true) => Verdict::held(format!("{}: the connector in the answer", a.said()))
            .speaking(format!("{status}")),
        (200..=299, false) => Verdict::differs(format!(
            "{}: a success without the connector: {}",
            a.said(),
            a.keys_at("")
        )),
        (300..=399, _) => {
            Verdict::differs(format!("{}: a create answered with a redirect", a.said()))
        }
        _ => Verdict::not_checked(format!("{}: the create was refused", a.said())),
    }
}

/// A second create with the same label makes a second connector.
fn second_label(seen: &Seen) -> Verdict {
    if created_id(seen).is_none() {
        return Verdict::not_checked("the throwaway connector was not created");
    }
    let a = answered!(seen, "duplicate");
    let second = a.body["connector_id"].as_str();
    match (a.ok(), second) {
        (true, Some(id)) if Some(id) != created_id(seen).as_deref() => Verdict::held(format!(
            "a second {} with the same label: {}: a second connector",
            a.request,
            a.status_text()
        )),
        (true, _) => Verdict::differs(format!(
            "a second {} with the same label: {}: no second connector",
            a.request,
            a.status_text()
        )),
        (false, _) => Verdict::differs(format!(
            "a second {} with the same label: {}: refused",
            a.request,
            a.status_text()
        )),
    }
}

/// What a description is, as a report shows it.
fn described(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::String(s) if s.is_empty() => "\"\"",
        Value::String(_) => "a string",
        _ => "another type",
    }
}

/// A connector created without a description reads null, and still does after an update.
fn null_description(seen: &Seen) -> Verdict {
    let (Some(read), Some(update)) = (seen.first("read"), seen.first("update")) else {
        return Verdict::not_checked("the throwaway connector was not created");
    };
    if !read.ok() {
        return Verdict::not_checked(read.said());
    }
    let first = &read.body["description"];
    if !first.is_null() {
        return Verdict::differs(format!(
            "{}: a connector created without a description reads {}",
            read.said(),
            described(first)
        ));
    }
    if !update.ok() {
        return Verdict::not_checked(format!(
            "bigdata_update_connector: {}",
            update.error.as_deref().unwrap_or("refused")
        ));
    }
    match seen.first("read_after") {
        Some(a) if a.ok() && a.body["description"].is_null() => Verdict::held(format!(
            "{}: null, then bigdata_update_connector, then null",
            read.said()
        )),
        Some(a) if a.ok() => Verdict::differs(format!(
            "{}: null, then bigdata_update_connector, then {}",
            read.said(),
            described(&a.body["description"])
        )),
        Some(a) => Verdict::not_checked(a.said()),
        None => Verdict::not_checked("not read after the update"),
    }
}
