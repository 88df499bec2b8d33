//! BigID Data Sources API (`ds-connections`). Public sources: BigID's developer portal
//! (developer.bigid.com: "Token Authentication", "Add Data Source Tutorial", "Data Source
//! Connections API Tutorial"), BigID's own MCP server (github.com/bigexchange/bigid-mcp-server)
//! and AWS's BigID CloudFormation resource providers
//! (github.com/aws-ia/cloudformation-bigid-resource-providers).
//!
//! - Auth: a user token is exchanged at `GET /refresh-access-token` (raw `Authorization`) for
//!   `systemToken`; username/password at `POST /sessions` for `auth_token`; an access token is
//!   used as is. Tokens go in a raw `Authorization` header unless `BIGID_AUTH_SCHEME=bearer`.
//! - Paths mix `ds-connections` (list, export, test) and `ds_connections` (one source by name)
//!   on purpose: that is BigID's API.
//! - Bodies wrap the source as `{"ds_connection": {...}}`.
//! - Templates moved from `/ds-templates` to `/ds-connections-types`; both are tried.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::args::{InvalidArgument, ToolArgs, check};
use crate::operation::{
    ArgsSpec, Ask, Aspect, DEFAULT_PAGE, Fact, FactProbe, Fallback, Flow, Hints, ListPage, Listing,
    Method, OperationSpec, Output, Paging, Poll, PollState, Provider, ReadFirst, Reconcile,
    RequestParts, Seen, Source, Step, Verdict, WriteScript, answered, shown_word,
};
use crate::redact;
use crate::secret::SecretString;
use crate::spec::{
    AuthHeader, Checks, ConfigError, Connection, Credential, Env, EnvVar, ExchangePath,
    ExchangeSend, Field, Guide, InventorySource, Needs, Probe, ProviderSpec, Refusal, Scheme,
    StateSpec, TokenExchange, pair, supports_every_tool,
};

pub static SPEC: ProviderSpec = ProviderSpec {
    provider: Provider::BigId,
    id: "bigid",
    title: "BigID",
    base_url_var: "BIGID_BASE_URL",
    default_base_url: None,
    env: &[
        EnvVar {
            name: "BIGID_BASE_URL",
            help: "API base, e.g. https://acme.bigid.cloud/api/v1 (required)",
            secret: false,
        },
        EnvVar {
            name: "BIGID_USER_TOKEN",
            help: "user (refresh) token from Administration → Access Management; exchanged for a session token",
            secret: true,
        },
        EnvVar {
            name: "BIGID_USERNAME",
            help: "with BIGID_PASSWORD: logs in at POST /sessions",
            secret: false,
        },
        EnvVar {
            name: "BIGID_PASSWORD",
            help: "with BIGID_USERNAME",
            secret: true,
        },
        EnvVar {
            name: "BIGID_ACCESS_TOKEN",
            help: "a session/system token used as is (no exchange)",
            secret: true,
        },
        EnvVar {
            name: "BIGID_AUTH_SCHEME",
            help: "`raw` (default: Authorization: <token>) or `bearer`",
            secret: false,
        },
    ],
    credential,
    setup: "BIGID_BASE_URL + BIGID_USER_TOKEN (or BIGID_USERNAME + BIGID_PASSWORD, or BIGID_ACCESS_TOKEN)",
    credential_hint: "check BIGID_USER_TOKEN (or BIGID_USERNAME/BIGID_PASSWORD, or BIGID_ACCESS_TOKEN)",
    hint: |status, _, message| {
        unable_to_locate(status, message)
            .then_some("no data source of that name exists: list data sources to see the names")
    },
    not_found: Some(unable_to_locate),
    refusal: Some(Refusal {
        flag: "/success",
        message: "/message",
        token_messages: &["Failed to authenticate token"],
    }),
    unsupported: supports_every_tool,
    probe: Probe {
        tool: "bigid_list_data_sources",
        args: r#"{"limit": 1}"#,
    },
    credential_keys: &[],
    guide: Guide {
        instructions: "BigID names a data source by `name`; its `type` is a connector template whose fields (by apiName) it carries. Creating or enabling a source starts no scan: bigid_start_scan does.",
        onboard_tools: &["bigid_list_connector_templates", "bigid_get_connector_template", "bigid_test_data_source_connection", "bigid_create_data_source", "bigid_get_data_source", "bigid_start_scan", "bigid_get_scan_status"],
        onboard_steps: "\
1. If the connector type is not settled, call bigid_list_connector_templates and agree on one with me.
2. Call bigid_get_connector_template for the type. Note every field with mandatory or mandatoryForTest and its validation.
3. Ask me for the values you do not have.
4. Call bigid_test_data_source_connection with the candidate configuration. If it fails, show me BigID's message and fix the configuration before going on.
5. Call bigid_create_data_source with dry_run: true, show me the request, and create it only after I confirm.
6. Verify with bigid_get_data_source and summarize what now exists.
7. Creating it scanned nothing: call bigid_start_scan with its name and dry_run: true, show me the request, and start the scan after I confirm, with wait: true.
8. If the wait ends before the scan does, call bigid_get_scan_status with wait: true until it ends. If it ends Failed, show me BigID's reason.
9. When it is Completed, show me the scan's counts (objects, findings).",
        audit_tool: "bigid_list_data_sources",
        audit_step: "BigID: call bigid_list_data_sources (page with skip/limit if there are many). Flag sources whose status is \"disabled\" (enabled \"no\") or \"fails\"; bigid_test_stored_data_source re-tests one by name.",
    },
    facts: &[
        Fact::new(Aspect::Path, "Base URL https://<host>/api/v1; JSON requests and answers", Source::VendorDocs("https://developer.bigid.com/wiki/BigID_API/Add_Data_Source_Tutorial")),
        Fact::new(Aspect::Auth, "A user (refresh) token is exchanged at GET /refresh-access-token, the token raw in Authorization; the answer's systemToken is the session token", Source::VendorCode("github.com/bigexchange/bigid-mcp-server: src/auth/BigIDAuth.ts")),
        Fact::new(Aspect::Auth, "A token whose JWT type claim is access-token is used as is, without an exchange", Source::VendorCode("github.com/bigexchange/bigid-mcp-server: src/auth/BigIDAuth.ts")),
        Fact::new(Aspect::Auth, "A user token whose type says neither is exchanged (BigID's own server would use it as is)", Source::Assumed("every other BigID client exchanges the user token; no token of another type was seen")).cannot_verify("only a user token of a third type would show it, and none has been seen; verify authenticates as every call does"),
        Fact::new(Aspect::Auth, "Username and password log in at POST /sessions {username, password}; the answer's auth_token is the session token", Source::VendorDocs("https://developer.bigid.com/wiki/BigID_API/Add_Data_Source_Tutorial")),
        Fact::new(Aspect::Auth, "A refused exchange or login is answered HTTP 200 (served as text/html) with the JSON {success: false, message} ('Failed to authenticate token.', 'Refresh token not valid', 'Authentication failed. Username / Password incorrect or insufficient roles in AD.'): an authentication error with BigID's message", Source::Community("github.com/JupiterOne/graph-bigid: src/__recordings__/client-id-auth-error_233254982/recording.har and validate-invocation_3585932400/recording.har, recorded against BigID's sandbox")),
        Fact::new(Aspect::Auth, "An exchange's answer is a token only with success not false (BigID's own server accepts it only when success and systemToken are there)", Source::VendorCode("github.com/bigexchange/bigid-mcp-server: src/auth/BigIDAuth.ts")),
        Fact::new(Aspect::Auth, "A request whose token BigID refuses is answered HTTP 200 {success: false, message: 'Failed to authenticate token.'}: taken as a 401 (the token is obtained again once and the request repeated once); only that message counts, as a connection test answers {success: false, message} for a database it cannot reach", Source::Community("github.com/JupiterOne/graph-bigid: src/__recordings__/client-id-auth-error_233254982/recording.har (GET /ds-connections with an invalid token, recorded against BigID's sandbox)")),
        Fact::new(Aspect::Auth, "Tokens go raw in Authorization, without Bearer (one newer tutorial writes Bearer: BIGID_AUTH_SCHEME=bearer)", Source::VendorCode("github.com/bigexchange/bigid-mcp-server: src/auth/BigIDAuth.ts")),
        Fact::new(Aspect::Errors, "Errors carry a message (and status, statusCode)", Source::Community("github.com/JupiterOne/graph-bigid: src/client.ts and its recordings against BigID's sandbox")),
        Fact::new(Aspect::Errors, "A name BigID does not know is answered 400 with a message containing 'Unable to locate', not 404", Source::Community("github.com/aws-ia/cloudformation-bigid-resource-providers: BigID-Common/src/abstract-bigid-datasource-resource.ts")),
    ],
    inventory: Some(InventorySource {
        tool: "bigid_list_data_sources",
        args: r#"{}"#,
        // BigID documents no largest page; its own and community clients ask for 100.
        page: 100,
    }),
    operations: OPERATIONS,
};

fn credential(env: &dyn Env) -> Result<Option<Credential>, ConfigError> {
    let scheme = match env.var("BIGID_AUTH_SCHEME").as_deref() {
        None | Some("raw") => Scheme::Raw,
        Some("bearer") => Scheme::Bearer,
        Some(_) => {
            return Err(ConfigError(
                "BIGID_AUTH_SCHEME must be `raw` or `bearer`".into(),
            ));
        }
    };
    let header = AuthHeader::authorization(scheme);
    let login = pair(env, "BIGID_USERNAME", "BIGID_PASSWORD")?;
    if let Some(token) = env.var("BIGID_USER_TOKEN") {
        // BigID's own MCP server reads the token's JWT `type` claim: an access token is used
        // as is; a refresh token (what Administration → Access Management generates) is
        // exchanged. A token that says neither is exchanged, as every other client does.
        if jwt_type(&token).as_deref() == Some("access-token") {
            return Ok(Some(Credential::Static {
                header,
                value: SecretString::new(token),
            }));
        }
        return Ok(Some(Credential::Exchange {
            exchange: TokenExchange {
                method: Method::Get,
                path: ExchangePath::Base("/refresh-access-token"),
                send: ExchangeSend::Header(
                    AuthHeader::authorization(Scheme::Raw),
                    SecretString::new(token),
                ),
                token_pointer: "/systemToken",
                otherwise: None,
            },
            header,
        }));
    }
    if let Some((username, password)) = login {
        return Ok(Some(Credential::Exchange {
            exchange: TokenExchange {
                method: Method::Post,
                path: ExchangePath::Base("/sessions"),
                send: ExchangeSend::Json(vec![
                    ("username", Field::Plain(username)),
                    ("password", Field::Secret(SecretString::new(password))),
                ]),
                token_pointer: "/auth_token",
                otherwise: None,
            },
            header,
        }));
    }
    Ok(env
        .var("BIGID_ACCESS_TOKEN")
        .map(|token| Credential::Static {
            header,
            value: SecretString::new(token),
        }))
}

/// The `type` claim of a JWT's payload, if the token is a JWT that has one.
fn jwt_type(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("type")?.as_str().map(str::to_string)
}

static OPERATIONS: &[OperationSpec] = &[
    OperationSpec {
        name: "bigid_list_data_sources",
        provider: Provider::BigId,
        title: "List BigID data sources",
        description: "List BigID data sources.",
        method: Method::Get,
        path: "/ds-connections",
        hints: Hints::READ,
        args: ArgsSpec::of::<ListDataSources>(),
        output: Output::typed::<ListPage>(),
        flow: Flow::SINGLE,
        example: r#"{"limit": 20}"#,
        reconcile: None,
        progress: false,
        facts: &[
            Fact::new(
                Aspect::Path,
                "GET /ds-connections with skip and limit (requireTotalCount=true and a JSON filter exist too)",
                Source::Community(
                    "github.com/JupiterOne/graph-bigid: src/client.ts and its recordings against BigID's sandbox",
                ),
            ),
            Fact::new(
                Aspect::Response,
                "{status, statusCode, data: {ds_connections: [...], totalCount}}; an item carries connectionStatusTest and connectionStatusScan {is_success, last_connection} and last_scan_at",
                Source::Community(
                    "github.com/JupiterOne/graph-bigid: src/client.ts and its recordings against BigID's sandbox",
                ),
            ),
            Fact::new(
                Aspect::Response,
                "connectionStatusTest / connectionStatusScan as BigID's own sample app models them",
                Source::VendorCode(
                    "github.com/bigexchange/quickstart-utility-dspm-ts: static/example_responses.ts",
                ),
            ),
            Fact::new(
                Aspect::Values,
                "The largest limit is not documented (clients use 100)",
                Source::Assumed("searched BigID's tutorials and four clients"),
            )
            .probe(&PAGE_LIMIT),
        ],
        listing: Some(Listing {
            items: &["/data/ds_connections", "/ds_connections", ""],
            total: Some("/data/totalCount"),
            row: source_row,
            paging: Paging::Vendor,
            fields: "rdb_url, rdb_name, owners, scanner_group, connectionStatusTest…",
            completion: None,
        }),
    },
    OperationSpec {
        name: "bigid_get_data_source",
        provider: Provider::BigId,
        title: "Get a BigID data source",
        description: "Get a BigID data source by name (credentials masked).",
        method: Method::Get,
        path: "/ds_connections/{name}",
        hints: Hints::READ,
        args: ArgsSpec::of::<GetDataSource>(),
        output: Output::PASSTHROUGH.holding(&["/ds_connection"]),
        flow: Flow::SINGLE,
        example: r#"{"name": "Orders MySQL"}"#,
        reconcile: None,
        progress: false,
        facts: &[
            Fact::new(
                Aspect::Path,
                "GET /ds_connections/{name} (underscore), the name percent-encoded",
                Source::VendorCode("github.com/bigexchange/codescan-bigid-action: script.sh"),
            ),
            Fact::new(
                Aspect::Request,
                "withoutCredentialValue=true leaves the stored credentials out of the answer",
                Source::VendorCode(
                    "github.com/Azure/Azure-Sentinel: Solutions/BigID/Data Connectors/BigIDDSPMLogs_ccp/BigIDDSPMLogs_PollerConfig.json (BigID's Sentinel connector, supported by BigID)",
                ),
            ),
            Fact::new(
                Aspect::Response,
                "{ds_connection: {...}}",
                Source::Community(
                    "github.com/aws-ia/cloudformation-bigid-resource-providers: BigID-DataSource-S3/src/handlers.ts",
                ),
            ),
        ],
        listing: None,
    },
    OperationSpec {
        name: "bigid_create_data_source",
        provider: Provider::BigId,
        title: "Create a BigID data source",
        description: "Create a BigID data source from its type's template (rdb: rdb_url host[:port], rdb_name the database); then bigid_start_scan.",
        method: Method::Post,
        path: "/ds_connections",
        hints: Hints::CREATE,
        args: ArgsSpec::of::<CreateDataSource>(),
        output: Output::PASSTHROUGH,
        flow: Flow::SINGLE,
        example: r#"{"ds_connection": {"name": "Orders (EU)", "type": "rdb-mysql", "rdb_url": "mysql.example.com:3306", "rdb_name": "orders", "username": "bigid_scan", "password": "${secret:ORDERS_DB_PASSWORD}"}}"#,
        reconcile: Some(RECONCILE),
        progress: false,
        facts: &[
            Fact::new(
                Aspect::Path,
                "POST /ds_connections with {ds_connection: {name, type, the template's fields by apiName}}",
                Source::VendorDocs(
                    "https://developer.bigid.com/wiki/BigID_API/Add_Data_Source_Tutorial",
                ),
            ),
            Fact::new(
                Aspect::Request,
                "rdb_url is a host, with or without :port; rdb_name the database (the tutorial's rdb-mysql: rdb_url sql.mybigid.com, rdb_name rockstream)",
                Source::VendorDocs(
                    "https://developer.bigid.com/wiki/BigID_API/Add_Data_Source_Tutorial",
                ),
            ),
            Fact::new(
                Aspect::Values,
                "The other rdb types (rdb-postgresql, rdb-mssql, rdb-oracle…) take rdb_url and rdb_name as rdb-mysql does",
                Source::Assumed(
                    "BigID's tutorial shows rdb-mysql only; a ServiceNow-to-BigID import script in public code (its repository not identified) sends host[:port] as rdb_url for rdb-mysql, rdb-postgresql, rdb-oracle and rdb-db2",
                ),
            )
            .probe(&RDB_FIELDS),
            Fact::new(
                Aspect::Response,
                "Success is 200 in BigID's tutorial (201 in a third-party OpenAPI): any 2xx is success",
                Source::VendorDocs(
                    "https://developer.bigid.com/wiki/BigID_API/Add_Data_Source_Tutorial",
                ),
            ),
            Fact::new(
                Aspect::Errors,
                "What a duplicate name is answered is not documented: the vendor's message is passed on",
                Source::Assumed("no public example of the error"),
            )
            .written(duplicate_name),
        ],
        listing: None,
    },
    OperationSpec {
        name: "bigid_update_data_source",
        provider: Provider::BigId,
        title: "Update a BigID data source",
        description: "Change fields of a BigID data source; the rest is kept.",
        method: Method::Put,
        path: "/ds_connections/{name}",
        hints: Hints::UPDATE,
        args: ArgsSpec::of::<UpdateDataSource>(),
        output: Output::PASSTHROUGH,
        flow: Flow::read_first(ReadFirst {
            path: "/ds_connections/{name}",
            query: &[("withoutCredentialValue", "true")],
            then: merge_changes,
            explain: "the current source (from the first request) with `changes` applied; masked credentials are left out so BigID keeps the stored ones",
        }),
        example: r#"{"name": "Orders MySQL", "changes": {"enabled": "no"}}"#,
        reconcile: None,
        progress: false,
        facts: &[
            Fact::new(
                Aspect::Path,
                "PUT /ds_connections/{name} with {ds_connection: {...}}",
                Source::VendorCode("github.com/bigexchange/codescan-bigid-action: script.sh"),
            ),
            Fact::new(
                Aspect::Request,
                "Whether PUT replaces the whole source or merges is not documented: the source is read first and sent back whole with the changes, masked credentials left out so the stored ones stay",
                Source::Assumed(
                    "BigID documents no PUT semantics; its own action sends a whole source",
                ),
            )
            .written(put_keeps),
            Fact::new(
                Aspect::Values,
                "enabled starts no scan: BigID's own action creates an enabled source, then a scan profile (POST /scanProfiles/), and starts the scan from it (POST /scans {scanType: dsScan, scanProfileName})",
                Source::VendorCode("github.com/bigexchange/codescan-bigid-action: script.sh"),
            ),
        ],
        listing: None,
    },
    OperationSpec {
        name: "bigid_delete_data_source",
        provider: Provider::BigId,
        title: "Delete a BigID data source",
        description: "Delete a BigID data source (bigid_export_data_sources keeps a copy).",
        method: Method::Delete,
        path: "/ds_connections/{name}",
        hints: Hints::DELETE,
        args: ArgsSpec::of::<DeleteDataSource>(),
        output: Output::PASSTHROUGH,
        flow: Flow::SINGLE,
        example: r#"{"name": "Orders MySQL"}"#,
        reconcile: None,
        progress: false,
        facts: &[Fact::new(
            Aspect::Path,
            "DELETE /ds_connections/{name}",
            Source::Community(
                "github.com/aws-ia/cloudformation-bigid-resource-providers: BigID-DataSource-S3/src/handlers.ts",
            ),
        )],
        listing: None,
    },
    OperationSpec {
        name: "bigid_test_data_source_connection",
        provider: Provider::BigId,
        title: "Test a BigID connection",
        description: "Test an unsaved BigID configuration.",
        method: Method::Post,
        path: "/ds-connection-test",
        hints: Hints::PROBE,
        args: ArgsSpec::of::<TestConnection>(),
        output: Output::typed::<TestResult>(),
        flow: Flow::SINGLE,
        example: r#"{"ds_connection": {"type": "rdb-mysql", "rdb_url": "mysql.example.com:3306", "username": "bigid_scan", "password": "${secret:ORDERS_DB_PASSWORD}"}}"#,
        reconcile: None,
        progress: false,
        facts: &[Fact::new(
            Aspect::Path,
            "POST /ds-connection-test with {ds_connection: {...}, isNewPassword: true}; the answer is {success, message}",
            Source::VendorDocs(
                "https://developer.bigid.com/wiki/BigID_API/Add_Data_Source_Tutorial",
            ),
        )],
        listing: None,
    },
    OperationSpec {
        name: "bigid_test_stored_data_source",
        provider: Provider::BigId,
        title: "Test a stored BigID data source",
        description: "Test a stored BigID data source with its stored credential.",
        method: Method::Post,
        path: "/ds-connection-test",
        hints: Hints::PROBE,
        args: ArgsSpec::of::<TestStoredDataSource>(),
        output: Output::typed::<TestResult>(),
        flow: Flow::read_first(ReadFirst {
            path: "/ds_connections/{name}",
            query: &[("withoutCredentialValue", "true")],
            then: stored_test,
            explain: "{\"ds_connection\": the stored source (from the first request) without its masked credentials, \"isNewPassword\": false} so BigID tests with the stored credential",
        }),
        example: r#"{"name": "Orders MySQL"}"#,
        reconcile: None,
        progress: false,
        facts: &[
            Fact::new(
                Aspect::Path,
                "GET /ds_connections/{name} answers the stored source as {ds_connection: {...}}",
                Source::VendorCode("github.com/bigexchange/codescan-bigid-action: script.sh"),
            ),
            Fact::new(
                Aspect::Request,
                "isNewPassword: false makes BigID test with the stored credential, the masked (or absent) credential fields left out of the sent source",
                Source::Assumed(
                    "BigID's tutorial shows only isNewPassword: true; searched the docs, code and issues corpora and BigID's own repositories (bigid-mcp-server, codescan-bigid-action, bigid-plugin-official) for isNewPassword and /ds-connection-test: no client or page sends false",
                ),
            )
            .written(stored_test_answer),
            Fact::new(
                Aspect::Response,
                "The answer is {success, message}, as for a candidate configuration",
                Source::VendorDocs(
                    "https://developer.bigid.com/wiki/BigID_API/Add_Data_Source_Tutorial",
                ),
            ),
        ],
        listing: None,
    },
    OperationSpec {
        name: "bigid_export_data_sources",
        provider: Provider::BigId,
        title: "Export BigID data sources",
        description: "Export BigID data sources' full configuration.",
        method: Method::Get,
        path: "/ds-connections/file-download/export",
        hints: Hints::READ,
        args: ArgsSpec::of::<ExportDataSources>(),
        output: Output::PASSTHROUGH,
        flow: Flow::SINGLE,
        example: r#"{"ids": ["Orders MySQL"]}"#,
        reconcile: None,
        progress: true,
        facts: &[Fact::new(
            Aspect::Path,
            "GET /ds-connections/file-download/export, ids= to export only some",
            Source::VendorDocs(
                "https://developer.bigid.com/index.php?title=Data_Source_Connections_API_Tutorial",
            ),
        )],
        listing: None,
    },
    OperationSpec {
        name: "bigid_list_connector_templates",
        provider: Provider::BigId,
        title: "List BigID connector templates",
        description: "List BigID connector types (a data source's type).",
        method: Method::Get,
        path: "/ds-connections-types",
        hints: Hints::READ,
        args: ArgsSpec::of::<NoArgs>(),
        output: Output::typed::<ListPage>(),
        flow: Flow::fallback(Fallback {
            rejected: |status, _| status == 404,
            path: Some("/ds-templates"),
            rewrite: None,
            note: "On a 404 the request is repeated at /ds-templates.",
        }),
        example: r#"{}"#,
        reconcile: None,
        progress: false,
        facts: &[
            Fact::new(
                Aspect::Path,
                "GET /ds-connections-types lists the connector types",
                Source::VendorDocs(
                    "https://developer.bigid.com/wiki/BigID_API/Add_Data_Source_Tutorial",
                ),
            ),
            Fact::new(
                Aspect::Path,
                "GET /ds-templates, tried on a 404, appears only in a third-party OpenAPI reconstruction",
                Source::Assumed("github.com/api-evangelist/bigid: openapi (not BigID's)"),
            )
            .probe(&TEMPLATE_ROUTES),
        ],
        listing: Some(Listing {
            items: &["/data", "/templates", ""],
            total: None,
            row: template_row,
            paging: Paging::Local,
            fields: "name, displayName, category, fields",
            completion: None,
        }),
    },
    OperationSpec {
        name: "bigid_get_connector_template",
        provider: Provider::BigId,
        title: "Get a BigID connector template",
        description: "Get a BigID connector type's fields.",
        method: Method::Get,
        path: "/ds-connections-types/template/{type}",
        hints: Hints::READ,
        args: ArgsSpec::of::<GetTemplate>(),
        output: Output::PASSTHROUGH,
        flow: Flow::fallback(Fallback {
            rejected: |status, _| status == 404,
            path: Some("/ds-templates/{type}"),
            rewrite: None,
            note: "On a 404 the request is repeated at /ds-templates/{type}.",
        }),
        example: r#"{"type": "rdb-mysql"}"#,
        reconcile: None,
        progress: false,
        facts: &[
            Fact::new(
                Aspect::Path,
                "GET /ds-connections-types/template/{type}: fields with apiName, mandatory, mandatoryForTest, validation",
                Source::VendorDocs(
                    "https://developer.bigid.com/wiki/BigID_API/Add_Data_Source_Tutorial",
                ),
            ),
            Fact::new(
                Aspect::Path,
                "GET /ds-templates/{type}, tried on a 404, appears only in a third-party OpenAPI reconstruction",
                Source::Assumed("github.com/api-evangelist/bigid: openapi (not BigID's)"),
            )
            .probe(&TEMPLATE_ROUTE),
        ],
        listing: None,
    },
    OperationSpec {
        name: "bigid_start_scan",
        provider: Provider::BigId,
        title: "Start a BigID scan",
        description: "Start a scan of a BigID data source; follow it with wait or bigid_get_scan_status (no API stops it).",
        method: Method::Post,
        path: "/ds-connections/{name}/scan",
        hints: Hints::TRIGGER,
        args: ArgsSpec::of::<StartScan>(),
        output: Output::typed::<ScanStarted>(),
        flow: Flow::poll(LAST_SCAN),
        example: r#"{"name": "Orders MySQL", "scanType": "dsScan"}"#,
        reconcile: None,
        progress: true,
        facts: &[
            Fact::new(
                Aspect::Path,
                "POST /ds-connections/{name}/scan?isSampleScan=false&scanType=<type>&autoAssumeScanType=false, no body, starts a scan of the data source named in the path",
                Source::VendorCode(
                    "github.com/bigexchange/content: Packs/BigId/Integrations/BigId/BigId.py (run_ds_scan, BigID's XSOAR integration); github.com/splunk-soar-connectors/bigiddatadiscovery: bigiddatadiscovery_connector.py (_handle_execute_scan, © BigID)",
                ),
            ),
            Fact::new(
                Aspect::Request,
                "scanType is one of dsScan, metadataScan, lineageScan, dataInMotion; dsScan (a full scan, the default here) is what BigID's own playbook starts to scan a data source, its SOAR connector starts metadataScan",
                Source::VendorCode(
                    "github.com/bigexchange/content: Packs/BigId/Integrations/BigId/BigId.yml (run-ds-scan) and Packs/BigId/Playbooks/Update_Scan_Playbook.yml",
                ),
            ),
            Fact::new(
                Aspect::Request,
                "autoAssumeScanType=false scans with the type sent (true lets BigID choose: HyperScan for s3, Data In Motion for kinesis)",
                Source::VendorCode(
                    "github.com/bigexchange/content: Packs/BigId/Integrations/BigId/BigId.py (run_ds_scan's docstring)",
                ),
            ),
            Fact::new(
                Aspect::Response,
                "{status, statusCode, message, data: {dsConnectionName, isSampleScan, isScheduled, scanProfileName, scanType, state}}, with no scan id: the scan is followed by the data source's name (data.dsConnectionName, else the name sent)",
                Source::VendorCode(
                    "github.com/bigexchange/content: Packs/BigId/Integrations/BigId/BigId.yml (run-ds-scan outputs)",
                ),
            ),
            Fact::new(
                Aspect::Values,
                "The values of the start's data.state are not published",
                Source::Assumed("BigID's integrations declare the field, no value"),
            )
            .cannot_verify(START_NEEDED),
            NO_STOP,
            LAST_SCAN_READ,
            LAST_SCAN_FIELDS,
            PREVIOUS_SCAN,
            COMPLETED,
            CATALOG_STATES,
            SCAN_ENDS,
            SCAN_DETAILS,
        ],
        listing: None,
    },
    OperationSpec {
        name: "bigid_get_scan_status",
        provider: Provider::BigId,
        title: "Get a BigID data source's last scan",
        description: "Get a BigID data source's last scan: state, counts, failure.",
        method: Method::Get,
        path: "/ds-connections/{name}/scan",
        hints: Hints::READ,
        args: ArgsSpec::of::<GetScanStatus>(),
        output: Output::typed::<ScanStatus>(),
        flow: Flow::poll(Poll {
            status_path: None,
            job_id: |_, _| None,
            state: scan_state,
            stale: None,
            summary: Some(scan_summary),
        }),
        example: r#"{"name": "Orders MySQL"}"#,
        reconcile: None,
        progress: true,
        facts: &[
            LAST_SCAN_READ,
            LAST_SCAN_FIELDS,
            COMPLETED,
            CATALOG_STATES,
            SCAN_ENDS,
            SCAN_DETAILS,
            NO_STOP,
        ],
        listing: None,
    },
];

/// A data source's last scan, read by the source's name: BigID's start answers no scan id.
const LAST_SCAN: Poll = Poll {
    status_path: Some("/ds-connections/{id}/scan"),
    job_id: scanned_source,
    state: scan_state,
    stale: Some(same_scan),
    summary: Some(scan_summary),
};

const LAST_SCAN_READ: Fact = Fact::new(
    Aspect::Path,
    "GET /ds-connections/{name}/scan answers the data source's last scan, under data",
    Source::VendorCode(
        "github.com/splunk-soar-connectors/bigiddatadiscovery: bigiddatadiscovery_connector.py (_handle_get_last_scan_result, © BigID, reads the answer's data)",
    ),
);

const LAST_SCAN_FIELDS: Fact = Fact::new(
    Aspect::Response,
    "The last scan's fields are not published: its state is read at data.state, where the start's answer has it, else at state or [0].state (GET /scans/{id} answers an array whose [0].state is the state)",
    Source::Assumed(
        "BigID's SOAR connector passes the answer's data on without naming a field; codescan-bigid-action reads [0].state of GET /scans/{id}",
    ),
)
.probe(&SCAN_FIELDS_PROBE);

const PREVIOUS_SCAN: Fact = Fact::new(
    Aspect::Response,
    "Right after a start the last scan may still be the previous one: a read that shows the same _id (else id, else created_at) as the read made just before the start, or no scan when that read showed none, is not taken for the new scan; a scan without any of them is taken as the new one",
    Source::Assumed("when BigID registers a started scan as the last one is not published"),
)
.cannot_verify(START_NEEDED);

/// Why a fact about a started scan is not checked.
const START_NEEDED: &str = "only a scan started now shows it, and verify starts no scan: a scan, even of a throwaway source, queues work on the tenant's scanners";

const COMPLETED: Fact = Fact::new(
    Aspect::Values,
    "A scan that is done has the state Completed",
    Source::VendorCode("github.com/bigexchange/codescan-bigid-action: script.sh"),
);

const CATALOG_STATES: Fact = Fact::new(
    Aspect::Values,
    "BigID's catalog gives objects the scan status Completed, Failed or InProgress",
    Source::VendorCode(
        "github.com/bigexchange/bigid-mcp-server: src/config/structuredFilterConfig.ts, src/schemas/catalogObjectsSchema.ts",
    ),
);

const SCAN_ENDS: Fact = Fact::new(
    Aspect::Values,
    "A scan has ended when its state is Completed or Failed, or Stopped, Aborted, Cancelled or Error; any other state (InProgress…) is still running and is shown as BigID says it. An answer with no scan, or a scan without a state, ends a wait with BigID's answer as it came",
    Source::Assumed(
        "only Completed is seen as a scan state (codescan-bigid-action); Failed and InProgress are the catalog's words; no other state is published",
    ),
)
.probe(&SCAN_WORDS);

const SCAN_DETAILS: Fact = Fact::new(
    Aspect::Response,
    "Counts are read from num_of_object (objects, as in a data source's connectionStatusScan), total_pii_count (findings, as on catalog objects), identities_scanned and scanner_identities_count (as on a scan started from a profile); a percent from progress or scan_progress_status when it is a number; the failure reason from errorMessage, failureReason, error or reason; the start from created_at",
    Source::Assumed(
        "no field of this read is published; the names are BigID's own elsewhere (quickstart-utility-dspm-ts, bigid-mcp-server, the XSOAR integration's initiate-scan outputs)",
    ),
)
.probe(&SCAN_COUNTS_PROBE);

const NO_STOP: Fact = Fact::new(
    // Not a path this server sends to: a refused scan request must not be blamed on it.
    Aspect::Response,
    "A started scan cannot be stopped, paused or cancelled through the API: no such route was found, so no tool offers it",
    Source::Assumed(
        "searched BigID's SOAR and XSOAR integrations, codescan-bigid-action, bigid-mcp-server and BigID's developer portal",
    ),
)
.cannot_verify("no route is known to ask, and trying routes that would stop a scan is not a read");

/// The data source whose last scan follows a start: the one BigID's answer names, else the one
/// the request named.
fn scanned_source(answer: &Value, sent: &RequestParts) -> Option<String> {
    answer
        .pointer("/data/dsConnectionName")
        .and_then(Value::as_str)
        .filter(|name| !name.trim().is_empty())
        .or_else(|| sent.path_param("name"))
        .map(str::to_string)
}

/// The scan in an answer of `GET /ds-connections/{name}/scan`: the first object with a state
/// at `data` (where the start's answer has it), `data[0]`, the answer's first item (an array
/// answer) or the answer itself; else the object at `data`.
fn last_scan(answer: &Value) -> Option<&Map<String, Value>> {
    ["/data", "/data/0", "/items/0", ""]
        .iter()
        .filter_map(|at| answer.pointer(at).and_then(Value::as_object))
        .find(|scan| scan.get("state").is_some_and(Value::is_string))
        .or_else(|| answer.pointer("/data").and_then(Value::as_object))
}

/// BigID's words for a scan that has ended: `Completed` (vendor code), `Failed` (the catalog's
/// word), and assumed ends.
const SCAN_END_STATES: &[&str] = &[
    "Completed",
    "Failed",
    "Stopped",
    "Aborted",
    "Cancelled",
    "Canceled",
    "Error",
];

/// The scan an answer shows, if it shows one (an empty object is none).
fn shown_scan(answer: &Value) -> Option<&Map<String, Value>> {
    last_scan(answer).filter(|scan| !scan.is_empty())
}

/// Where a scan stands. An answer that shows no scan, or a scan without a state, has nothing
/// to wait for: it is shown as it came.
fn scan_state(answer: &Value) -> PollState {
    let done = |status: &str| PollState {
        finished: true,
        percent: None,
        status: status.into(),
    };
    let Some(scan) = shown_scan(answer) else {
        return done("no scan found");
    };
    let state = scan
        .get("state")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty());
    let Some(state) = state else {
        return done("no state in BigID's answer");
    };
    let percent = ["progress", "scan_progress_status"]
        .iter()
        .find_map(|k| scan.get(*k).and_then(Value::as_f64))
        .filter(|p| (0.0..=100.0).contains(p));
    PollState {
        finished: SCAN_END_STATES
            .iter()
            .any(|end| state.trim().eq_ignore_ascii_case(end)),
        percent,
        status: state.to_string(),
    }
}

/// What identifies a scan, in order: one that both reads carry decides.
const SCAN_IDENTITY: &[&str] = &["_id", "id", "created_at", "createdAt"];

/// Whether the scan read now is still the one read before the start (or still none, as
/// before the start).
fn same_scan(before: &Value, now: &Value) -> bool {
    let (before, now) = match (shown_scan(before), shown_scan(now)) {
        (None, None) => return true,
        (Some(before), Some(now)) => (before, now),
        _ => return false,
    };
    SCAN_IDENTITY
        .iter()
        .find_map(|key| match (before.get(*key), now.get(*key)) {
            (Some(b), Some(n)) if !b.is_null() && !n.is_null() => Some(b == n),
            _ => None,
        })
        .unwrap_or(false)
}

/// Counts a scan may carry: our name, BigID's.
const SCAN_COUNTS: &[(&str, &str)] = &[
    ("objects", "num_of_object"),
    ("findings", "total_pii_count"),
    ("identities_scanned", "identities_scanned"),
    ("scanner_identities_count", "scanner_identities_count"),
];

/// Where a scan says why it failed.
const SCAN_FAILURE: &[&str] = &["errorMessage", "failureReason", "error", "reason"];

/// What an agent reads of a scan besides its state: which source and scan, its type, when it
/// started, its counts and why it failed, where BigID gives them.
fn scan_summary(answer: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(scan) = last_scan(answer) else {
        return out;
    };
    let text = |key: &str| {
        scan.get(key)
            .filter(|v| v.is_string() && v.as_str() != Some(""))
            .cloned()
    };
    for (ours, theirs) in [
        ("data_source", "dsConnectionName"),
        ("scan_type", "scanType"),
    ] {
        if let Some(v) = text(theirs) {
            out.insert(ours.into(), v);
        }
    }
    if let Some(id) = ["_id", "id"].iter().find_map(|k| text(k)) {
        out.insert("scan_id".into(), id);
    }
    if let Some(at) = ["created_at", "createdAt"]
        .iter()
        .find_map(|k| scan.get(*k).filter(|v| !v.is_null()))
    {
        out.insert("started_at".into(), at.clone());
    }
    let counts: Map<String, Value> = SCAN_COUNTS
        .iter()
        .filter_map(|(ours, theirs)| {
            scan.get(*theirs)
                .filter(|v| v.is_number())
                .map(|v| (ours.to_string(), v.clone()))
        })
        .collect();
    if !counts.is_empty() {
        out.insert("counts".into(), Value::Object(counts));
    }
    if let Some(why) = SCAN_FAILURE.iter().find_map(|k| text(k)) {
        out.insert("failure".into(), why);
    }
    out
}

/// A source in a list, compact: what an agent picks its next call by. BigID names a source by
/// its name; its last connection test is `connectionStatusTest` (older versions:
/// `test_is_success`).
fn source_row(item: &Value) -> Value {
    let test = item
        .pointer("/connectionStatusTest/is_success")
        .or_else(|| item.get("test_is_success"))
        .and_then(Value::as_bool);
    let status = match (item["enabled"].as_str(), test) {
        (Some("no"), _) => "disabled",
        (_, Some(false)) => "fails",
        (_, Some(true)) => "works",
        (_, None) => "untested",
    };
    // rdb_url is `host[:port]` (the tutorial), or `host:port/db`, or a URL
    // (`mysql://user@host:port/db`, `jdbc:…://…`): the host and the port apart, never a user
    // or a query; the database is rdb_name (else the URL's path).
    let url = item["rdb_url"]
        .as_str()
        .map(|url| url.rsplit_once("://").map_or(url, |(_, rest)| rest));
    let authority = url
        .map(|url| url.split(['/', '?', ';']).next().unwrap_or(url))
        .map(|url| url.rsplit_once('@').map_or(url, |(_, h)| h))
        .filter(|h| !h.is_empty());
    let (host, port) = match authority {
        Some(authority) => split_port(authority),
        None => (item["location"].as_str(), None),
    };
    let database = item["rdb_name"]
        .as_str()
        .filter(|d| !d.is_empty())
        .or_else(|| {
            url.and_then(|u| u.split_once('/'))
                .map(|(_, path)| path.split(['?', ';', '/']).next().unwrap_or(path))
                .filter(|d| !d.is_empty())
        });
    let mut row =
        json!({"id": item["name"], "name": item["name"], "type": item["type"], "status": status});
    if let Some(host) = host {
        row["host"] = json!(host);
    }
    if let Some(port) = port {
        row["port"] = json!(port);
    }
    if let Some(database) = database {
        row["database"] = json!(database);
    }
    if let Some(at) = item
        .pointer("/connectionStatusTest/last_connection")
        .or_else(|| item.get("test_timestamp"))
        .filter(|v| !v.is_null())
    {
        row["tested_at"] = at.clone();
    }
    row
}

/// `host:port` apart (`[v6]:port` too); a port is digits only.
fn split_port(authority: &str) -> (Option<&str>, Option<u16>) {
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((host, rest)) => (host, rest.strip_prefix(':')),
            None => (authority, None),
        },
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let port = port.and_then(|p| p.parse::<u16>().ok());
    (Some(host).filter(|h| !h.is_empty()), port)
}

/// A connector type in a list: its type and display name.
fn template_row(item: &Value) -> Value {
    let kind = item
        .get("type")
        .or_else(|| item.get("name"))
        .cloned()
        .unwrap_or(Value::Null);
    let mut row = json!({"id": kind, "type": kind});
    if let Some(name) = item.get("displayName").filter(|v| v.is_string()) {
        row["name"] = name.clone();
    }
    row
}

/// A create whose answer was lost: does a source of that name exist now?
const RECONCILE: Reconcile = Reconcile {
    lookup: "bigid_get_data_source",
    args: |sent| {
        let name = sent
            .body
            .as_ref()
            .and_then(|b| b.pointer("/ds_connection/name"))
            .cloned()
            .unwrap_or_default();
        json!({ "name": name })
    },
    found: |status, body, _, _| match status {
        200..=299 => Some(true),
        404 => Some(false),
        400 if unable_to_locate(400, &body.to_string()) => Some(false),
        _ => None,
    },
    before: false,
};

/// BigID answers a name it does not know with 400 "Unable to locate …", not 404.
pub fn unable_to_locate(status: u16, message: &str) -> bool {
    status == 400 && message.contains("Unable to locate")
}

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
pub struct ListDataSources {
    pub skip: Option<u32>,
    #[schemars(range(max = 10000))]
    pub limit: Option<u32>,
}

impl ToolArgs for ListDataSources {
    fn validate(&self) -> Result<(), InvalidArgument> {
        if let Some(limit) = self.limit {
            check::range("limit", limit.into(), 1, 10_000)?;
        }
        Ok(())
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new()
            .query_opt("skip", self.skip)
            .query("limit", self.limit.map_or(DEFAULT_PAGE, u64::from))
            .query("requireTotalCount", "true")
    }
}

/// BigID's own rule for data source names (rdb-mysql template): letters, digits, `_`, `-`,
/// spaces, parentheses and colons.
fn check_name(field: &str, name: &str) -> Result<(), InvalidArgument> {
    check::not_blank(field, name)?;
    let ok = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' ' | '(' | ')' | ':'));
    if !ok {
        return Err(InvalidArgument::new(
            field,
            "may hold only letters, digits, spaces, _ - ( ) :",
        ));
    }
    Ok(())
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetDataSource {
    /// From bigid_list_data_sources.
    #[schemars(extend("x-mcp-header" = "Name"))]
    pub name: String,
}

impl ToolArgs for GetDataSource {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::not_blank("name", &self.name)
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new()
            .path("name", self.name)
            .query("withoutCredentialValue", "true")
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteDataSource {
    /// From bigid_list_data_sources.
    #[schemars(extend("x-mcp-header" = "Name"))]
    pub name: String,
}

impl ToolArgs for DeleteDataSource {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::not_blank("name", &self.name)
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new().path("name", self.name)
    }
}

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum YesNo {
    Yes,
    No,
}

/// A data source as BigID stores it: `name`, `type` and the template's fields.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub struct DsConnection {
    /// Letters, digits, spaces, _ - ( ) :
    pub name: String,
    /// From bigid_list_connector_templates.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<YesNo>,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDataSource {
    /// name, type and the template's fields by apiName.
    pub ds_connection: DsConnection,
}

impl ToolArgs for CreateDataSource {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check_name("ds_connection.name", &self.ds_connection.name)?;
        check::not_blank("ds_connection.type", &self.ds_connection.kind)
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new().body(json!({ "ds_connection": self.ds_connection }))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDataSource {
    /// From bigid_list_data_sources.
    #[schemars(extend("x-mcp-header" = "Name"))]
    pub name: String,
    /// Fields to set, by apiName.
    pub changes: Map<String, Value>,
}

impl ToolArgs for UpdateDataSource {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::not_blank("name", &self.name)?;
        if self.changes.is_empty() {
            return Err(InvalidArgument::new(
                "changes",
                "must name at least one field",
            ));
        }
        if let Some(new_name) = self.changes.get("name") {
            let new_name = new_name
                .as_str()
                .ok_or_else(|| InvalidArgument::new("changes.name", "must be a string"))?;
            check_name("changes.name", new_name)?;
        }
        Ok(())
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new()
            .path("name", self.name)
            .body(json!({ "ds_connection": self.changes }))
    }
}

/// Whether a value is how BigID shows a stored credential it will not reveal.
fn is_mask(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() >= 3 && s.chars().all(|c| c == '*'))
}

/// The stored source in BigID's answer to `GET /ds_connections/{name}`: `{ds_connection: …}`
/// (as BigID's own action reads it), `{data: {ds_connection: …}}` (the envelope of BigID's
/// list and create answers), or the source itself.
fn stored_source(mut current: Value) -> Map<String, Value> {
    for at in ["/ds_connection", "/data/ds_connection"] {
        if current.pointer(at).is_some_and(Value::is_object)
            && let Some(Value::Object(source)) = current.pointer_mut(at).map(Value::take)
        {
            return source;
        }
    }
    match current {
        Value::Object(source) => source,
        _ => Map::new(),
    }
}

/// A stored source without the credentials BigID hid: masks, and empty or null credential
/// fields. Sent back, they would be taken for the credential (replacing the stored one).
fn without_hidden_credentials(mut source: Map<String, Value>) -> Map<String, Value> {
    source.retain(|k, v| {
        let hidden_secret = redact::is_secret_key(k) && (v.is_null() || v.as_str() == Some(""));
        !is_mask(v) && !hidden_secret
    });
    source
}

/// The update's write: the current source, hidden credentials dropped (writing a mask or an
/// empty value back would replace the stored password), then the caller's changes on top.
fn merge_changes(current: Value, mut parts: RequestParts) -> Result<RequestParts, InvalidArgument> {
    let mut source = without_hidden_credentials(stored_source(current));
    let changes = parts
        .body
        .take()
        .and_then(|b| b.get("ds_connection").cloned())
        .and_then(|c| c.as_object().cloned())
        .unwrap_or_default();
    source.extend(changes);
    Ok(parts.body(json!({ "ds_connection": source })))
}

/// A candidate configuration to test: `type` and the template's fields needed for a test.
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub struct TestDsConnection {
    /// From bigid_list_connector_templates.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestConnection {
    /// type and the template's fields by apiName; not saved.
    pub ds_connection: TestDsConnection,
}

impl ToolArgs for TestConnection {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::not_blank("ds_connection.type", &self.ds_connection.kind)
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new()
            .body(json!({ "ds_connection": self.ds_connection, "isNewPassword": true }))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestStoredDataSource {
    /// From bigid_list_data_sources.
    #[schemars(extend("x-mcp-header" = "Name"))]
    pub name: String,
}

impl ToolArgs for TestStoredDataSource {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::not_blank("name", &self.name)
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new().path("name", self.name)
    }
}

/// The test of a stored source: the source as BigID stores it, its hidden credentials left
/// out, and `isNewPassword: false` so that BigID tests with the credential it stores.
fn stored_test(current: Value, parts: RequestParts) -> Result<RequestParts, InvalidArgument> {
    let source = without_hidden_credentials(stored_source(current));
    if !source.get("type").is_some_and(Value::is_string) {
        return Err(InvalidArgument::new(
            "name",
            "BigID's answer for this name holds no data source (no ds_connection with a type), so nothing was tested",
        ));
    }
    Ok(parts.body(json!({ "ds_connection": source, "isNewPassword": false })))
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TestResult {
    pub success: bool,
    pub message: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportDataSources {
    /// Names from bigid_list_data_sources; all when omitted.
    pub ids: Option<Vec<String>>,
}

impl ToolArgs for ExportDataSources {
    fn validate(&self) -> Result<(), InvalidArgument> {
        for (i, id) in self.ids.iter().flatten().enumerate() {
            let field = format!("ids[{i}]");
            check::not_blank(&field, id)?;
            if id.contains(',') {
                return Err(InvalidArgument::new(field, "must not contain a comma"));
            }
        }
        if self.ids.as_ref().is_some_and(Vec::is_empty) {
            return Err(InvalidArgument::new(
                "ids",
                "must hold at least one id (omit it to export all)",
            ));
        }
        Ok(())
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new().query_opt("ids", self.ids.map(|ids| ids.join(",")))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetTemplate {
    /// From bigid_list_connector_templates.
    #[serde(rename = "type")]
    pub kind: String,
}

impl ToolArgs for GetTemplate {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::not_blank("type", &self.kind)
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new().path("type", self.kind)
    }
}

/// BigID's scan types.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ScanType {
    DsScan,
    MetadataScan,
    LineageScan,
    DataInMotion,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartScan {
    /// From bigid_list_data_sources.
    #[schemars(extend("x-mcp-header" = "Name"))]
    pub name: String,
    /// Default dsScan; metadataScan: metadata only.
    #[serde(rename = "scanType")]
    pub scan_type: Option<ScanType>,
    #[serde(default)]
    pub wait: bool,
    #[schemars(range(max = 3600))]
    pub wait_seconds: Option<u64>,
}

impl ToolArgs for StartScan {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::not_blank("name", &self.name)?;
        check::wait_seconds(self.wait_seconds)
    }

    /// The query BigID's own integrations send: not a sample, the type given, not BigID's
    /// choice of type.
    fn into_request(self) -> RequestParts {
        let scan_type = self.scan_type.unwrap_or(ScanType::DsScan);
        let scan_type = serde_json::to_value(scan_type)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "dsScan".into());
        RequestParts::new()
            .path("name", self.name)
            .query("isSampleScan", "false")
            .query("scanType", scan_type)
            .query("autoAssumeScanType", "false")
            .wait(crate::args::wait_for(self.wait, self.wait_seconds))
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetScanStatus {
    /// From bigid_list_data_sources.
    #[schemars(extend("x-mcp-header" = "Name"))]
    pub name: String,
    #[serde(default)]
    pub wait: bool,
    #[schemars(range(max = 3600))]
    pub wait_seconds: Option<u64>,
}

impl ToolArgs for GetScanStatus {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::not_blank("name", &self.name)?;
        check::wait_seconds(self.wait_seconds)
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new()
            .path("name", self.name)
            .wait(crate::args::wait_for(self.wait, self.wait_seconds))
    }
}

/// When a scan started, as BigID writes it: epoch milliseconds or an ISO 8601 text. (Every
/// property declares a type: the 2025-11-25 wire schema refuses a bare `true`, and clients
/// warn on an untyped `{}`.)
fn instant_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"anyOf": [{"type": "integer"}, {"type": "string"}]})
}

/// What a scan's result says of it, besides its state, where BigID gives it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ScanSummary {
    /// BigID's state of the scan (Completed, Failed, InProgress, …); "starting" while BigID still shows the previous scan, "no scan found" when it shows none.
    pub status: String,
    /// Percent done.
    pub percent: f64,
    pub data_source: String,
    pub scan_type: String,
    /// BigID's id of the scan.
    pub scan_id: String,
    #[schemars(schema_with = "instant_schema")]
    pub started_at: Value,
    /// objects, findings, identities_scanned, scanner_identities_count.
    pub counts: Map<String, Value>,
    /// Why the scan failed, in BigID's words.
    pub failure: String,
    /// BigID's answer, as it came.
    #[schemars(schema_with = "crate::schema::any_value")]
    pub job: Value,
}

/// A started scan: the source's name it is followed by and BigID's answer, or after a wait,
/// how the scan ended.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ScanStarted {
    /// The data source's name: BigID gives the scan no id, so it is followed by the name.
    pub job_id: String,
    /// BigID's answer to the start (without wait).
    #[schemars(schema_with = "crate::schema::any_value")]
    pub answer: Value,
    #[serde(flatten)]
    pub scan: ScanSummary,
}

/// A data source's last scan.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ScanStatus {
    /// Whether the scan has ended.
    pub finished: bool,
    #[serde(flatten)]
    pub scan: ScanSummary,
}

// ---- desired state ----------------------------------------------------------------------------

/// BigID data sources in a desired-state file: each entry a `ds_connection` (BigID's own
/// fields), named by `name`.
pub static STATE: StateSpec = StateSpec {
    section: "data_sources",
    noun: "data source",
    key: "name",
    current_key: "/name",
    create: (
        "bigid_create_data_source",
        |entry| json!({"ds_connection": entry}),
    ),
    create_at: "ds_connection",
    update: Some((
        "bigid_update_data_source",
        |current, changes| json!({"name": current["name"], "changes": changes}),
    )),
    delete: Some((
        "bigid_delete_data_source",
        |current| json!({"name": current["name"]}),
    )),
    export: export_source,
    compares: true,
    limits: "",
    exists: |_| true,
    needs: Some(Needs {
        tool: "bigid_get_connector_template",
        args: |entry| Some(json!({"type": entry["type"].as_str()?})),
        missing: template_misses,
    }),
};

/// The fields a source's template marks `mandatory` (a create without them is refused) or
/// `mandatoryForTest` (its connection test fails without them) that the entry lacks or leaves
/// blank. The template sits in the answer or under `data`.
fn template_misses(entry: &Value, answer: &Value) -> Vec<(String, &'static str)> {
    let fields = answer["fields"]
        .as_array()
        .or_else(|| answer["data"]["fields"].as_array());
    let blank = |v: &Value| match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    };
    fields
        .into_iter()
        .flatten()
        .filter_map(|f| {
            let name = f["apiName"].as_str()?;
            let why = if f["mandatory"] == true {
                "BigID refuses a create without it (mandatory)"
            } else if f["mandatoryForTest"] == true {
                "BigID's connection test fails without it (mandatoryForTest)"
            } else {
                return None;
            };
            blank(&entry[name]).then(|| (name.to_string(), why))
        })
        .collect()
}

/// What BigID keeps about a source that a create does not take: ids, test and scan results,
/// timestamps.
fn bookkeeping(key: &str) -> bool {
    key.starts_with('_')
        || key.starts_with("connectionStatus")
        || key.ends_with("_at")
        || key.ends_with("At")
        || key.ends_with("_timestamp")
        || matches!(
            key,
            "id" | "last_sub_scan_id"
                | "defaultScanId"
                | "defaultScanProfileId"
                | "test_is_success"
                | "scan_is_success"
                | "scan_num_of_objects"
                | "isFromDiscovery"
        )
}

fn export_source(current: &Value, reference: &dyn Fn(&str) -> String) -> Value {
    let mut out = Map::new();
    if let Value::Object(fields) = current {
        for (k, v) in fields {
            if bookkeeping(k) {
                continue;
            }
            let secret = crate::redact::is_secret_key(k);
            out.insert(
                k.clone(),
                if secret {
                    json!(reference(k))
                } else {
                    v.clone()
                },
            );
        }
    }
    Value::Object(out)
}

/// A stored source is tested by name with its stored credential; BigID's test answers
/// `{success, message}`.
pub static CHECKS: Checks = Checks {
    stored_test: Some((
        "bigid_test_stored_data_source",
        |current| json!({"name": current["name"]}),
    )),
    connection: |answer, is_error| match (is_error, answer["success"].as_bool()) {
        (true, _) => Connection::unknown(error_text(answer)),
        (false, Some(true)) => Connection::works(),
        (false, Some(false)) => {
            Connection::fails(answer["message"].as_str().unwrap_or("BigID gave no reason"))
        }
        (false, None) => Connection::unknown("BigID's answer says neither"),
    },
    answers: &[
        "bigid_test_data_source_connection",
        "bigid_test_stored_data_source",
    ],
};

/// An error envelope's code and message, for a verdict.
fn error_text(answer: &Value) -> String {
    format!(
        "{}: {}",
        answer["error"]["code"].as_str().unwrap_or("ERROR"),
        answer["error"]["message"].as_str().unwrap_or("")
    )
}

// ---- verify: the assumed facts against the user's tenant -------------------------------------

/// A page of 100, the size this server asks for (with the total).
const LIST_PAGE: Ask = Ask::get("list", "/ds-connections").query(&[
    ("skip", "0"),
    ("limit", "100"),
    ("requireTotalCount", "true"),
]);

/// The rows of a list answer, wherever the listing reads them.
fn rows_of(body: &Value) -> Option<&Vec<Value>> {
    ["/data/ds_connections", "/ds_connections", ""]
        .iter()
        .find_map(|p| body.pointer(p).and_then(Value::as_array))
}

static PAGE_LIMIT: FactProbe = FactProbe {
    asks: &[LIST_PAGE],
    read: |seen| {
        let a = answered!(seen, "list");
        if !a.ok() {
            return Verdict::differs(format!("{}: a page of 100 is refused", a.said()));
        }
        let Some(rows) = rows_of(&a.body) else {
            return Verdict::not_checked(format!(
                "{}: no list of sources in {}",
                a.said(),
                a.keys_at("/data")
            ));
        };
        let total = a.body.pointer("/data/totalCount").and_then(Value::as_u64);
        match (rows.len(), total) {
            (n, _) if n > 100 => Verdict::differs(format!("{}: more than 100 rows", a.said())),
            (n, Some(t)) if (n as u64) < t.min(100) => Verdict::differs(format!(
                "{}: fewer than 100 rows while the total is larger (the page is capped lower)",
                a.said()
            )),
            _ => Verdict::held(format!("{}: a page of at most 100 rows", a.said())),
        }
    },
};

/// The connector types: the documented route, and the other one only when it is a 404.
const TYPES: Ask = Ask::get("types", "/ds-connections-types");
const OLD_TYPES: Ask =
    Ask::get("old_types", "/ds-templates").when(|seen| refused_404(seen, "types"));

fn refused_404(seen: &Seen, label: &str) -> bool {
    seen.first(label).is_some_and(|a| a.status == Some(404))
}

/// The type names a template list answered (the documented route's, else the other's).
fn type_names(seen: &Seen) -> Vec<String> {
    let answer = [seen.first("types"), seen.first("old_types")]
        .into_iter()
        .flatten()
        .find(|a| a.ok());
    let Some(a) = answer else { return Vec::new() };
    ["/data", "/templates", ""]
        .iter()
        .find_map(|p| a.body.pointer(p).and_then(Value::as_array))
        .map(|items| {
            items
                .iter()
                .filter_map(|t| {
                    ["type", "name"]
                        .iter()
                        .find_map(|k| t.get(*k).and_then(Value::as_str))
                })
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Which of two routes answered: the documented one, or the other after its 404.
fn two_routes(seen: &Seen, first: &str, second: &str, documented: &str, other: &str) -> Verdict {
    let a = answered!(seen, first);
    if a.ok() {
        return Verdict::held(format!("{}: the route after a 404 is not needed", a.said()))
            .speaking(documented);
    }
    if a.status != Some(404) {
        return Verdict::not_checked(format!("{}: only a 404 sends the other route", a.said()));
    }
    match seen.first(second) {
        Some(b) if b.ok() => {
            Verdict::held(format!("{}, then {}", a.said(), b.said())).speaking(other)
        }
        Some(b) => Verdict::differs(format!("{}, then {}", a.said(), b.said())),
        None => Verdict::not_checked(format!("{}: the other route was not asked", a.said())),
    }
}

static TEMPLATE_ROUTES: FactProbe = FactProbe {
    asks: &[TYPES, OLD_TYPES],
    read: |seen| {
        two_routes(
            seen,
            "types",
            "old_types",
            "GET /ds-connections-types",
            "GET /ds-templates",
        )
    },
};

/// One template (of the first type listed), at the documented route, else the other.
const TEMPLATE: Ask = Ask::get("template", "/ds-connections-types/template/{type}")
    .fill("type", |seen| {
        type_names(seen).into_iter().take(1).collect()
    });
const OLD_TEMPLATE: Ask = Ask::get("old_template", "/ds-templates/{type}")
    .fill("type", |seen| {
        type_names(seen).into_iter().take(1).collect()
    })
    .when(|seen| refused_404(seen, "template"));

static TEMPLATE_ROUTE: FactProbe = FactProbe {
    asks: &[TYPES, OLD_TYPES, TEMPLATE, OLD_TEMPLATE],
    read: |seen| {
        two_routes(
            seen,
            "template",
            "old_template",
            "GET /ds-connections-types/template/{type}",
            "GET /ds-templates/{type}",
        )
    },
};

/// The other rdb types' templates (up to four), at the route that lists them.
const RDB_TEMPLATES: Ask =
    Ask::get("rdb_template", "/ds-connections-types/template/{type}").fill("type", |seen| {
        type_names(seen)
            .into_iter()
            .filter(|t| t.starts_with("rdb-") && t != "rdb-mysql")
            .fold(Vec::new(), |mut types, t| {
                if !types.contains(&t) && types.len() < 4 {
                    types.push(t);
                }
                types
            })
    });

static RDB_FIELDS: FactProbe = FactProbe {
    asks: &[TYPES, OLD_TYPES, RDB_TEMPLATES],
    read: |seen| {
        let mut held = Vec::new();
        let mut differs = Vec::new();
        for a in seen.all("rdb_template") {
            let kind = shown_word(a.param.as_deref().unwrap_or(""));
            if !a.ok() {
                differs.push(format!("{kind}: {}", a.status_text()));
                continue;
            }
            let fields: Vec<&str> = ["/fields", "/data/fields", "/template/fields"]
                .iter()
                .find_map(|p| a.body.pointer(p).and_then(Value::as_array))
                .map(|fields| {
                    fields
                        .iter()
                        .filter_map(|f| f.get("apiName").and_then(Value::as_str))
                        .collect()
                })
                .unwrap_or_default();
            let missing: Vec<&str> = ["rdb_url", "rdb_name"]
                .into_iter()
                .filter(|f| !fields.contains(f))
                .collect();
            if missing.is_empty() {
                held.push(kind);
            } else {
                differs.push(format!("{kind}: no {} field", missing.join(" or ")));
            }
        }
        match (held.is_empty(), differs.is_empty()) {
            (_, false) => Verdict::differs(format!(
                "GET /ds-connections-types/template/{{type}}: {}",
                differs.join("; ")
            )),
            (false, true) => Verdict::held(format!(
                "GET /ds-connections-types/template/{{type}}: {} take rdb_url and rdb_name",
                held.join(", ")
            )),
            (true, true) => Verdict::not_checked(
                "the connector types listed hold no rdb type besides rdb-mysql",
            ),
        }
    },
};

/// The last scans of up to three sources that were scanned (by `last_scan_at`).
const LAST_SCANS: Ask = Ask::get("scan", "/ds-connections/{name}/scan").fill("name", |seen| {
    let Some(rows) = seen.first("list").and_then(|a| rows_of(&a.body)) else {
        return Vec::new();
    };
    rows.iter()
        .filter(|r| r.get("last_scan_at").is_some_and(|v| !v.is_null()))
        .filter_map(|r| r.get("name").and_then(Value::as_str))
        .take(3)
        .map(str::to_string)
        .collect()
});

/// The scans the last-scan reads showed, as the code reads them (answers that show none are
/// left out).
fn scans_seen(seen: &Seen) -> Vec<(&crate::operation::Answer, Option<&Map<String, Value>>)> {
    seen.all("scan")
        .filter(|a| a.ok() && shown_scan(&a.body).is_some())
        .map(|a| {
            (
                a,
                last_scan(&a.body).filter(|s| s.get("state").is_some_and(Value::is_string)),
            )
        })
        .collect()
}

fn no_scan(seen: &Seen) -> Verdict {
    match seen.first("list") {
        Some(a) if !a.ok() => Verdict::not_checked(a.said()),
        _ => Verdict::not_checked("no source here has a last scan to read"),
    }
}

static SCAN_FIELDS_PROBE: FactProbe = FactProbe {
    asks: &[LIST_PAGE, LAST_SCANS],
    read: |seen| {
        let scans = scans_seen(seen);
        if scans.is_empty() {
            return no_scan(seen);
        }
        match scans.iter().find(|(_, scan)| scan.is_none()) {
            Some((a, _)) => Verdict::differs(format!(
                "{}: no state at data.state, state or [0].state; data holds {}",
                a.said(),
                a.keys_at("/data")
            )),
            None => Verdict::held(format!(
                "GET /ds-connections/{{name}}/scan: HTTP 200, the state at data.state ({} scans read)",
                scans.len()
            )),
        }
    },
};

static SCAN_WORDS: FactProbe = FactProbe {
    asks: &[LIST_PAGE, LAST_SCANS],
    read: |seen| {
        let states: Vec<String> = scans_seen(seen)
            .iter()
            .filter_map(|(_, scan)| scan.and_then(|s| s["state"].as_str()))
            .map(shown_word)
            .collect();
        if states.is_empty() {
            return no_scan(seen);
        }
        let known = |s: &str| SCAN_END_STATES.contains(&s) || s == "InProgress";
        match states.iter().find(|s| !known(s)) {
            Some(other) => Verdict::differs(format!(
                "GET /ds-connections/{{name}}/scan: state {other} is none of the ledger's words (it is taken as still running)"
            )),
            None => Verdict::held(format!(
                "GET /ds-connections/{{name}}/scan: states {}",
                states.join(", ")
            )),
        }
    },
};

/// The fields the counts are read from.
const COUNT_FIELDS: &[&str] = &[
    "num_of_object",
    "total_pii_count",
    "identities_scanned",
    "scanner_identities_count",
];

static SCAN_COUNTS_PROBE: FactProbe = FactProbe {
    asks: &[LIST_PAGE, LAST_SCANS],
    read: |seen| {
        let completed: Vec<_> = scans_seen(seen)
            .into_iter()
            .filter_map(|(a, scan)| scan.filter(|s| s["state"] == "Completed").map(|s| (a, s)))
            .collect();
        if completed.is_empty() {
            return Verdict::not_checked("no source here has a Completed last scan to read");
        }
        for (a, scan) in &completed {
            if !COUNT_FIELDS.iter().any(|f| scan.contains_key(*f)) {
                let mut keys: Vec<&str> = scan.keys().map(String::as_str).collect();
                keys.sort_unstable();
                return Verdict::differs(format!(
                    "{}: a Completed scan carries none of {}; its fields are {{{}}}",
                    a.said(),
                    COUNT_FIELDS.join(", "),
                    keys.join(", ")
                ));
            }
        }
        let mut found: Vec<&str> = COUNT_FIELDS
            .iter()
            .copied()
            .filter(|f| completed.iter().any(|(_, s)| s.contains_key(*f)))
            .collect();
        found.dedup();
        Verdict::held(format!(
            "GET /ds-connections/{{name}}/scan: a Completed scan carries {}",
            found.join(", ")
        ))
    },
};

/// `verify --write` at BigID: a throwaway rdb-mysql source at a host that cannot resolve
/// (`.invalid`), created twice (the second answer is the duplicate's), tested as stored,
/// changed through the update tool and read back, changed by a PUT of one field and read back
/// (replace or merge), then deleted.
pub static VERIFY_WRITE: WriteScript = WriteScript {
    steps: &[
        Step::request("create", Method::Post, "/ds_connections", throwaway_create),
        Step::request("duplicate", Method::Post, "/ds_connections", |seen| {
            created(seen).then(|| throwaway_create(seen)).flatten()
        }),
        Step::tool("test_stored", "bigid_test_stored_data_source", |seen| {
            created(seen).then(|| json!({"name": seen.throwaway}))
        }),
        Step::tool("update", "bigid_update_data_source", |seen| {
            created(seen).then(
                || json!({"name": seen.throwaway, "changes": {"description": UPDATED_DESCRIPTION}}),
            )
        }),
        Step::request(
            "read",
            Method::Get,
            "/ds_connections/{name}",
            read_throwaway,
        ),
        Step::request("partial", Method::Put, "/ds_connections/{name}", |seen| {
            let name = seen.throwaway.clone().filter(|_| created(seen))?;
            Some(
                RequestParts::new()
                    .path("name", name)
                    .body(json!({"ds_connection": {"name": seen.throwaway, "type": "rdb-mysql", "description": PARTIAL_DESCRIPTION}})),
            )
        }),
        Step::request(
            "read_partial",
            Method::Get,
            "/ds_connections/{name}",
            read_throwaway,
        ),
    ],
    made: |seen| {
        let sent = seen.first("create");
        let made = sent.is_some_and(|a| a.ok() || (a.status.is_none() && a.error.is_some()));
        match (&seen.throwaway, made) {
            (Some(name), true) => vec![json!({"name": name})],
            _ => Vec::new(),
        }
    },
    cleanup: "bigid_delete_data_source",
};

const CREATED_DESCRIPTION: &str = "Made by datasource-mcp verify; safe to delete";
const UPDATED_DESCRIPTION: &str = "Changed by datasource-mcp verify; safe to delete";
const PARTIAL_DESCRIPTION: &str = "Changed alone by datasource-mcp verify; safe to delete";

fn created(seen: &Seen) -> bool {
    seen.first("create").is_some_and(|a| a.ok())
}

fn throwaway_create(seen: &Seen) -> Option<RequestParts> {
    let name = seen.throwaway.clone()?;
    let secret = seen.secret.clone()?;
    Some(RequestParts::new().body(json!({"ds_connection": {
        "name": name,
        "type": "rdb-mysql",
        "rdb_url": "datasource-mcp-verify.invalid:3306",
        "rdb_name": "verify",
        "username": "verify",
        "password": secret,
        "description": CREATED_DESCRIPTION,
    }})))
}

fn read_throwaway(seen: &Seen) -> Option<RequestParts> {
    let name = seen.throwaway.clone().filter(|_| created(seen))?;
    Some(
        RequestParts::new()
            .path("name", name)
            .query("withoutCredentialValue", "true"),
    )
}

/// What a duplicate name is answered: any refusal with a message is passed on.
fn duplicate_name(seen: &Seen) -> Verdict {
    if !created(seen) {
        return Verdict::not_checked("the throwaway source was not created");
    }
    let a = answered!(seen, "duplicate");
    if a.ok() {
        return Verdict::differs(format!(
            "{}: a second source of the same name is accepted",
            a.said()
        ));
    }
    let message = ["/message", "/error/message", "/data/message"]
        .iter()
        .any(|p| a.body.pointer(p).is_some_and(Value::is_string));
    match message {
        true => Verdict::held(format!("{}: refused with a message", a.said())),
        false => Verdict::differs(format!(
            "{}: refused without a message: {}",
            a.said(),
            a.keys_at("")
        )),
    }
}

/// The update tool sends the read source back whole: the change is kept, and so are the other
/// fields and the stored credential; a PUT of one field says whether BigID replaces or merges.
fn put_keeps(seen: &Seen) -> Verdict {
    let (Some(update), Some(read)) = (seen.first("update"), seen.first("read")) else {
        return Verdict::not_checked("the throwaway source was not created and read back");
    };
    if !update.ok() && !update.status.is_some_and(|s| (400..500).contains(&s)) {
        return Verdict::not_checked(update.said());
    }
    if !update.ok() {
        return Verdict::differs(format!(
            "{}: {}",
            update.said(),
            update.error.as_deref().unwrap_or("refused")
        ));
    }
    if !read.ok() {
        return Verdict::not_checked(read.said());
    }
    let source = &read.body["ds_connection"];
    let mut lost: Vec<&str> = Vec::new();
    if source["description"] != UPDATED_DESCRIPTION {
        lost.push("the change (description)");
    }
    for field in ["rdb_url", "rdb_name", "username"] {
        if source.get(field).is_none_or(Value::is_null) {
            lost.push(field);
        }
    }
    if source
        .get("password")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        lost.push("the stored credential (password)");
    }
    let speaks = match seen.first("read_partial") {
        Some(a) if a.ok() && a.body["ds_connection"]["description"] == PARTIAL_DESCRIPTION => {
            if a.body["ds_connection"]
                .get("rdb_url")
                .is_none_or(Value::is_null)
            {
                Some("PUT replaces: a field not sent is dropped")
            } else {
                Some("PUT merges: a field not sent is kept")
            }
        }
        _ => None,
    };
    let verdict = match lost.is_empty() {
        true => Verdict::held(format!(
            "bigid_update_data_source, then {}: the change, the other fields and the stored credential are there",
            read.said()
        )),
        false => Verdict::differs(format!(
            "bigid_update_data_source, then {}: lost {}",
            read.said(),
            lost.join(", ")
        )),
    };
    match speaks {
        Some(form) => verdict.speaking(form),
        None => verdict,
    }
}

/// A stored test with `isNewPassword: false` is answered `{success, message}`.
fn stored_test_answer(seen: &Seen) -> Verdict {
    let Some(a) = seen.first("test_stored") else {
        return Verdict::not_checked("the throwaway source was not created");
    };
    if !a.ok() {
        let code = a.error.as_deref().unwrap_or("an error");
        return Verdict::differs(format!(
            "bigid_test_stored_data_source: {code} ({}): the stored test is refused",
            a.status_text()
        ));
    }
    match a.body["success"].as_bool() {
        Some(_) => Verdict::held(format!(
            "bigid_test_stored_data_source: answered {} (the throwaway's host cannot resolve, so success is false)",
            a.keys_at("")
        )),
        None => Verdict::differs(format!(
            "bigid_test_stored_data_source: answered {}",
            a.keys_at("")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rows_host_port_and_database_come_apart() {
        for (url, host, port, database) in [
            (
                "db.acme.example:3306/orders",
                "db.acme.example",
                json!(3306),
                json!("orders"),
            ),
            (
                "mysql://db.acme.example:3306/orders",
                "db.acme.example",
                json!(3306),
                json!("orders"),
            ),
            (
                "jdbc:sqlserver://sql.acme.example:1433;databaseName=x",
                "sql.acme.example",
                json!(1433),
                Value::Null,
            ),
            (
                "postgres://scan:pa%40ss@pg.acme.example/db?ssl=1",
                "pg.acme.example",
                Value::Null,
                json!("db"),
            ),
            (
                "oracle.acme.example",
                "oracle.acme.example",
                Value::Null,
                Value::Null,
            ),
            (
                "[2001:db8::5]:5432",
                "2001:db8::5",
                json!(5432),
                Value::Null,
            ),
        ] {
            let row = source_row(&json!({"name": "n", "rdb_url": url}));
            assert_eq!(row["host"], host, "{url}");
            assert_eq!(row["port"], port, "{url}");
            assert_eq!(row["database"], database, "{url}");
        }
        let row = source_row(&json!({"name": "n", "rdb_url": "h:5432", "rdb_name": "orders"}));
        assert_eq!(row["database"], "orders", "rdb_name wins");
        let row = source_row(&json!({"name": "n", "rdb_url": "", "location": "eu-west-1"}));
        assert_eq!(row["host"], "eu-west-1");
    }

    #[test]
    fn merge_keeps_unnamed_fields_and_drops_masks() {
        let current = json!({"ds_connection": {"name": "db", "type": "rdb-mysql", "rdb_url": "h:3306",
            "username": "u", "password": "********", "scanner_group": "default", "enabled": "yes"}});
        let parts = RequestParts::new()
            .path("name", "db")
            .body(json!({"ds_connection": {"enabled": "no"}}));
        let out = merge_changes(current, parts).unwrap();
        assert_eq!(
            out.body.unwrap(),
            json!({"ds_connection": {"name": "db", "type": "rdb-mysql", "rdb_url": "h:3306",
                "username": "u", "scanner_group": "default", "enabled": "no"}})
        );
    }

    #[test]
    fn a_stored_source_is_found_in_each_wrapper() {
        let ds = json!({"name": "db", "type": "rdb-mysql", "data": "a field"});
        for answer in [
            json!({"ds_connection": ds}),
            json!({"status": "success", "statusCode": 200, "data": {"ds_connection": ds}}),
            ds.clone(),
        ] {
            assert_eq!(Value::Object(stored_source(answer.clone())), ds, "{answer}");
        }
        assert!(stored_source(json!(null)).is_empty());
    }

    #[test]
    fn a_stored_test_leaves_hidden_credentials_out_and_keeps_the_stored_password() {
        let current = json!({"data": {"ds_connection": {"name": "db", "type": "rdb-mysql",
            "rdb_url": "h:3306", "username": "u", "password": "********", "client_secret": "",
            "token": null, "api_key": "***", "enabled": "no", "description": ""}}});
        let parts = RequestParts::new().path("name", "db");
        let out = stored_test(current, parts).unwrap();
        assert_eq!(
            out.body.unwrap(),
            json!({"ds_connection": {"name": "db", "type": "rdb-mysql", "rdb_url": "h:3306",
                "username": "u", "enabled": "no", "description": ""}, "isNewPassword": false})
        );
        let err = stored_test(json!({"status": "success"}), RequestParts::new()).unwrap_err();
        assert_eq!(err.field, "name");
    }

    #[test]
    fn a_scans_state_is_read_where_bigid_may_put_it() {
        for (answer, status, finished) in [
            (json!({"data": {"state": "Completed"}}), "Completed", true),
            (json!({"state": "InProgress"}), "InProgress", false),
            // A bare array (GET /scans/{id}'s shape), as the result object wraps it.
            (json!({"items": [{"state": "Failed"}]}), "Failed", true),
            (json!({"data": [{"state": "Queued"}]}), "Queued", false),
            (json!({"data": {"state": "stopped"}}), "stopped", true),
            (json!({"data": {"state": "Paused"}}), "Paused", false),
            // Nothing to wait for: shown as it came.
            (json!({"data": {}}), "no scan found", true),
            (json!({"status": "success"}), "no scan found", true),
            (
                json!({"data": {"_id": "a1"}}),
                "no state in BigID's answer",
                true,
            ),
        ] {
            let state = scan_state(&answer);
            assert_eq!(
                (state.status.as_str(), state.finished),
                (status, finished),
                "{answer}"
            );
        }
        let state = scan_state(&json!({"data": {"state": "InProgress", "progress": 140}}));
        assert_eq!(state.percent, None, "not a percent");
    }

    #[test]
    fn a_read_showing_the_scan_from_before_the_start_is_stale() {
        let old = json!({"data": {"_id": "a1", "created_at": "2025-05-28", "state": "Completed"}});
        let new = json!({"data": {"_id": "b2", "created_at": "2025-06-01", "state": "Queued"}});
        assert!(same_scan(&old, &old));
        assert!(!same_scan(&old, &new));
        // Without ids, the start date decides; without anything, not stale.
        let dated = |at: &str| json!({"data": {"created_at": at, "state": "Completed"}});
        assert!(same_scan(&dated("x"), &dated("x")));
        assert!(!same_scan(&dated("x"), &dated("y")));
        let bare = json!({"data": {"state": "Completed"}});
        assert!(!same_scan(&bare, &bare));
        // No scan before the start (an error, a source never scanned): the first scan shown
        // is the new one; none shown yet is still as before.
        assert!(!same_scan(&Value::Null, &old));
        assert!(!same_scan(&json!({"data": {}}), &old));
        assert!(same_scan(&json!({"data": {}}), &json!({"data": {}})));
        assert!(same_scan(&Value::Null, &json!({"status": "success"})));
        assert!(!same_scan(&old, &json!({"data": {}})));
    }

    #[test]
    fn a_scans_summary_keeps_what_bigid_gives() {
        let answer = json!({"data": {"_id": "b2", "dsConnectionName": "Orders", "scanType": "dsScan",
            "state": "Failed", "created_at": 1748779205000_u64, "num_of_object": 0,
            "total_pii_count": "n/a", "errorMessage": "", "reason": "host not found"}});
        assert_eq!(
            Value::Object(scan_summary(&answer)),
            json!({"data_source": "Orders", "scan_type": "dsScan", "scan_id": "b2",
                "started_at": 1748779205000_u64, "counts": {"objects": 0},
                "failure": "host not found"})
        );
        assert!(scan_summary(&json!({"data": null})).is_empty());
    }

    #[test]
    fn names() {
        assert!(check_name("n", "Prod MySQL (EU): orders_v2-1").is_ok());
        assert!(check_name("n", "bad/name").is_err());
        assert!(check_name("n", "bad.name").is_err());
        assert!(check_name("n", "").is_err());
    }
}
