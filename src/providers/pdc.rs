//! Pentaho Data Catalog public API v1, data sources and jobs. Public sources: Pentaho's API
//! reference (docs.pentaho.com/pdc-api-docs: authentication, data sources, jobs).
//!
//! - Auth: `POST /auth`, form-encoded `username`, `password`, `client_id=pdc-client`,
//!   `grant_type=password`, `scope=openid profile email` → `data.accessToken`, sent as Bearer;
//!   or `PDC_ACCESS_TOKEN` as is.
//! - Responses are `{"status", "data"}`; errors `{"status", "message"}` (message may be a list).
//! - Create takes one object or an array; PATCH changes only the attributes sent (arrays
//!   replace); filter is a POST that reads, with `*` wildcards in names and types.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::args::{InvalidArgument, ToolArgs, check};
use crate::operation::{
    ArgsSpec, Ask, Aspect, DEFAULT_PAGE, Fact, FactProbe, Fallback, Flow, Hints, ListPage, Listing,
    Method, OperationSpec, Output, Paging, Poll, PollState, Provider, ReadFirst, Reconcile,
    RequestParts, RowCompletion, Source, Verdict, answered,
};
use crate::secret::SecretString;
use crate::spec::{
    AuthHeader, Checks, ConfigError, Connection, Credential, Env, EnvVar, ExchangePath,
    ExchangeSend, Field, Guide, InventorySource, Probe, ProviderSpec, Scheme, StateSpec,
    TokenExchange, Unsupported, pair,
};

pub static SPEC: ProviderSpec = ProviderSpec {
    provider: Provider::Pdc,
    id: "pdc",
    title: "Pentaho Data Catalog",
    base_url_var: "PDC_BASE_URL",
    default_base_url: None,
    env: &[
        EnvVar {
            name: "PDC_BASE_URL",
            help: "public API base, e.g. https://pdc.acme.com/api/public/v1 (required; v1 or v2 for the job tools: v3 has no per-job routes)",
            secret: false,
        },
        EnvVar {
            name: "PDC_USERNAME",
            help: "with PDC_PASSWORD: password grant at POST /auth",
            secret: false,
        },
        EnvVar {
            name: "PDC_PASSWORD",
            help: "with PDC_USERNAME",
            secret: true,
        },
        EnvVar {
            name: "PDC_ACCESS_TOKEN",
            help: "or: an access token used as is",
            secret: true,
        },
    ],
    credential,
    setup: "PDC_BASE_URL + PDC_USERNAME + PDC_PASSWORD (or PDC_ACCESS_TOKEN)",
    credential_hint: "check PDC_USERNAME/PDC_PASSWORD (or PDC_ACCESS_TOKEN)",
    hint: |_, _, _| None,
    not_found: None,
    refusal: None,
    unsupported: v3_has_no_job_routes,
    probe: Probe {
        tool: "pdc_filter_data_sources",
        args: r#"{"resourceNames": ["*"], "limit": 1}"#,
    },
    credential_keys: &["accessId"],
    guide: Guide {
        instructions: "PDC (Pentaho Data Catalog) names a data source by `_id` (pdc_filter_data_sources).",
        onboard_tools: &[
            "pdc_filter_data_sources",
            "pdc_create_data_sources",
            "pdc_test_data_source_connection",
            "pdc_ingest_metadata",
            "pdc_get_data_source",
        ],
        onboard_steps: "\
1. Call pdc_filter_data_sources with resourceNames set to the intended name to check it is free.
2. Gather resourceName, databaseType (POSTGRES, MYSQL, ORACLE, AWS for S3, AZURE_BLOB_STORAGE) and the connection fields (host, port as a string, databaseName, userName, password or keys, schemaNames); ask me for what you do not have.
3. Call pdc_create_data_sources with dry_run: true, show me the request, and create only after I confirm. Note the new _id.
4. Call pdc_test_data_source_connection with that id and wait: true. If the job ends FAILED, show me its error and fix the settings (pdc_update_data_source) before going on.
5. Call pdc_ingest_metadata with the id and wait: true to ingest its schemas.
6. Verify with pdc_get_data_source and summarize what now exists.",
        audit_tool: "pdc_filter_data_sources",
        audit_step: "Pentaho Data Catalog: call pdc_filter_data_sources (page with skip/limit). Each row's status comes from its last test job: flag \"fails\" with its error, and \"unknown\" or \"untested\".",
    },
    facts: &[
        Fact::new(Aspect::Path, "Base URL https://<host>/api/public/v1; answers {status, data}", Source::VendorDocs("https://docs.pentaho.com/pdc-api-docs/pdc-api-reference")),
        Fact::new(Aspect::Auth, "POST /auth, form username, password, client_id=pdc-client, grant_type=password, scope=openid profile email; the token is data.accessToken, sent as Bearer; PDC issues no refresh token", Source::VendorDocs("https://docs.pentaho.com/pdc-api-docs/get-started-with-pdc-api/authentication")),
        Fact::new(Aspect::Auth, "Keycloak login at {root}/keycloak/realms/pdc/protocol/openid-connect/token, form client_id=pdc-client, grant_type=password, username, password; the token is access_token", Source::VendorDocs("https://academy.pentaho.com/pentaho-data-catalog/use-case/adventure-works/aw-organization/pdc-jwt-token")),
        Fact::new(Aspect::Auth, "Some instances do not expose /auth, or answer it 200 without a token: then the Keycloak login is used (the community client tries Keycloak first; /auth goes first here, as Pentaho's reference documents it)", Source::Community("github.com/jporeilly/PDC-Insights: app/pdc_client.py (token(): Keycloak, else the /auth wrapper, on an HTTP error or a missing token; run against PDC 10.2 and 11 instances)")),
        Fact::new(Aspect::Errors, "Errors are {status, message}, message a string or a list", Source::VendorDocs("https://docs.pentaho.com/pdc-api-docs/v1/pdc-api-ref-v1/data-sources")),
        Fact::new(Aspect::Errors, "A duplicate create is answered 400 'Duplicate key violation…' after echoing the submitted record, password included", Source::Community("github.com/jporeilly/PDC-Glossary-Generator: pdc_client/core.py")),
    ],
    inventory: Some(InventorySource {
        tool: "pdc_filter_data_sources",
        args: r#"{"resourceNames": ["*"]}"#,
        // community clients page PDC by 500.
        page: 500,
    }),
    operations: OPERATIONS,
};

fn credential(env: &dyn Env) -> Result<Option<Credential>, ConfigError> {
    let header = AuthHeader::authorization(Scheme::Bearer);
    if let Some((username, password)) = pair(env, "PDC_USERNAME", "PDC_PASSWORD")? {
        let secret = SecretString::new(password);
        // Some instances do not expose `POST /auth` (or answer it without a token); Pentaho's
        // own lab guide logs in at Keycloak under the same root instead.
        let keycloak = TokenExchange {
            method: Method::Post,
            path: ExchangePath::Root {
                api: "/api/public/",
                path: "/keycloak/realms/pdc/protocol/openid-connect/token",
            },
            send: ExchangeSend::Form(vec![
                ("client_id", Field::Plain("pdc-client".into())),
                ("grant_type", Field::Plain("password".into())),
                ("username", Field::Plain(username.clone())),
                ("password", Field::Secret(secret.clone())),
            ]),
            token_pointer: "/access_token",
            otherwise: None,
        };
        return Ok(Some(Credential::Exchange {
            exchange: TokenExchange {
                method: Method::Post,
                path: ExchangePath::Base("/auth"),
                send: ExchangeSend::Form(vec![
                    ("username", Field::Plain(username)),
                    ("password", Field::Secret(secret)),
                    ("client_id", Field::Plain("pdc-client".into())),
                    ("grant_type", Field::Plain("password".into())),
                    ("scope", Field::Plain("openid profile email".into())),
                ]),
                token_pointer: "/data/accessToken",
                otherwise: Some(Box::new(keycloak)),
            },
            header,
        }));
    }
    Ok(env.var("PDC_ACCESS_TOKEN").map(|token| Credential::Static {
        header,
        value: SecretString::new(token),
    }))
}

/// The tools that start a job on one data source, at routes PDC's public API v3 does not have.
const JOB_TOOLS: &[&str] = &["pdc_test_data_source_connection", "pdc_ingest_metadata"];

/// At `…/api/public/v3` the per-job routes do not exist: v3 starts jobs in bulk and answers no
/// job id. The job tools are refused there before anything is sent.
fn v3_has_no_job_routes(base_url: &str, tool: &str) -> Option<Unsupported> {
    let v3 = base_url.trim_end_matches('/').ends_with("/api/public/v3");
    (v3 && JOB_TOOLS.contains(&tool)).then_some(Unsupported {
        why: "PDC's public API v3 has no per-job routes (jobs/execute/test-connection, jobs/execute/metadata/ingest): it starts jobs in bulk and answers no job id to follow",
        fix: "set PDC_BASE_URL to the same server's /api/public/v2 (or /api/public/v1) for the job tools",
    })
}

static OPERATIONS: &[OperationSpec] = &[
    OperationSpec {
        name: "pdc_create_data_sources",
        provider: Provider::Pdc,
        title: "Create PDC data sources",
        description: "Create PDC data sources (one or more).",
        method: Method::Post,
        path: "/data-sources",
        hints: Hints::CREATE,
        args: ArgsSpec::of::<CreateDataSources>(),
        output: Output::PASSTHROUGH,
        flow: Flow::SINGLE,
        example: r#"{"data_sources": [{"resourceName": "orders-replica", "databaseType": "POSTGRES", "host": "pg.example.com", "port": "5432", "databaseName": "orders", "userName": "pdc", "password": "${secret:PDC_PG_PASSWORD}"}]}"#,
        reconcile: Some(RECONCILE),
        progress: false,
        facts: &[
            Fact::new(
                Aspect::Path,
                "POST /data-sources with one data source, or an array of them",
                Source::VendorDocs(
                    "https://docs.pentaho.com/pdc-api-docs/v1/pdc-api-ref-v1/data-sources",
                ),
            ),
            Fact::new(
                Aspect::Request,
                "port is a string (sent as one whichever the caller gave); schemaNames a list of strings",
                Source::VendorDocs(
                    "https://docs.pentaho.com/pdc-api-docs/v2/pdc-api-ref-v2/data-sources",
                ),
            ),
            Fact::new(
                Aspect::Values,
                "databaseType is free text (PDC publishes no list); seen in creates: POSTGRES, MYSQL, AWS (S3 and S3-compatible), AZURE_BLOB_STORAGE; ORACLE unverified. S3 is not a type and AWS_S3 leaves the type blank in PDC's UI: both are refused before sending",
                Source::Community(
                    "github.com/jporeilly/PDC-Glossary-Generator: pdc_client/bulkload.py",
                ),
            ),
            Fact::new(
                Aspect::Response,
                "201 or 207, data a list of the created records with their _id",
                Source::Community(
                    "github.com/jporeilly/PDC-Glossary-Generator: pdc_client/bulkload.py",
                ),
            ),
        ],
        listing: None,
    },
    OperationSpec {
        name: "pdc_get_data_source",
        provider: Provider::Pdc,
        title: "Get a PDC data source",
        description: "Get a PDC data source by id.",
        method: Method::Get,
        path: "/data-sources/{id}",
        hints: Hints::READ,
        args: ArgsSpec::of::<DataSourceId>(),
        output: Output::PASSTHROUGH.holding(&["/data", "/_id"]),
        flow: Flow::SINGLE,
        example: r#"{"id": "9dc0da7a0000000000000001"}"#,
        reconcile: None,
        progress: false,
        facts: &[
            Fact::new(
                Aspect::Path,
                "GET /data-sources/{id} answers {status, data}",
                Source::VendorDocs(
                    "https://docs.pentaho.com/pdc-api-docs/v1/pdc-api-ref-v1/data-sources",
                ),
            ),
            Fact::new(
                Aspect::Errors,
                "What an unknown id is answered (404 or 400) is not documented",
                Source::Assumed("the reference lists 400, 401, 500, 503"),
            )
            .probe(&UNKNOWN_ID),
        ],
        listing: None,
    },
    OperationSpec {
        name: "pdc_update_data_source",
        provider: Provider::Pdc,
        title: "Update a PDC data source",
        description: "Change attributes of a PDC data source; others are kept.",
        method: Method::Patch,
        path: "/data-sources/{id}",
        hints: Hints::UPDATE,
        args: ArgsSpec {
            prepare: prepare_update,
            ..ArgsSpec::of::<UpdateDataSource>()
        },
        output: Output::PASSTHROUGH,
        flow: Flow::SINGLE,
        example: r#"{"id": "9dc0da7a0000000000000001", "changes": {"description": "Primary orders database", "includePatterns": ["public.*"]}}"#,
        reconcile: None,
        progress: false,
        facts: &[
            Fact::new(
                Aspect::Path,
                "PATCH /data-sources/{id}: the attributes sent overwrite, lists replace, the others stay",
                Source::VendorDocs(
                    "https://docs.pentaho.com/pdc-api-docs/v1/pdc-api-ref-v1/data-sources",
                ),
            ),
            Fact::new(
                Aspect::Request,
                "port is a string (a number is refused with a 400): sent as one whichever the caller gave",
                Source::VendorDocs(
                    "https://docs.pentaho.com/pdc-api-docs/v1/pdc-api-ref-v1/data-sources",
                ),
            ),
        ],
        listing: None,
    },
    OperationSpec {
        name: "pdc_get_data_sources_by_ids",
        provider: Provider::Pdc,
        title: "Get PDC data sources by ids",
        description: "Get PDC data sources by ids.",
        method: Method::Post,
        path: "/data-sources/by-ids",
        hints: Hints::READ,
        args: ArgsSpec::of::<ByIds>(),
        output: Output::PASSTHROUGH,
        flow: Flow::SINGLE,
        example: r#"{"ids": ["9dc0da7a0000000000000001", "9dc0da7a0000000000000002"]}"#,
        reconcile: None,
        progress: false,
        facts: &[Fact::new(
            Aspect::Path,
            "POST /data-sources/by-ids with {ids: [...]}",
            Source::VendorDocs(
                "https://docs.pentaho.com/pdc-api-docs/v1/pdc-api-ref-v1/data-sources",
            ),
        )],
        listing: None,
    },
    OperationSpec {
        name: "pdc_filter_data_sources",
        provider: Provider::Pdc,
        title: "Find PDC data sources",
        description: "List PDC data sources, by name or type patterns.",
        method: Method::Post,
        path: "/data-sources/filter",
        hints: Hints::READ,
        args: ArgsSpec::of::<Filter>(),
        output: Output::typed::<ListPage>(),
        flow: Flow::fallback(Fallback {
            rejected: rejects_wrapper,
            path: None,
            rewrite: Some(unwrap_filters),
            note: "If PDC refuses the `filters` wrapper, the filter is sent again at the top level of the body (older instances).",
        }),
        example: r#"{"resourceNames": ["prod-*"], "limit": 20}"#,
        reconcile: None,
        progress: false,
        facts: &[
            Fact::new(
                Aspect::Path,
                "POST /data-sources/filter with skip and limit in the query (limit 1 to 10,000)",
                Source::VendorDocs(
                    "https://docs.pentaho.com/pdc-api-docs/v1/pdc-api-ref-v1/data-sources",
                ),
            ),
            Fact::new(
                Aspect::Request,
                "The body wraps the filters: {filters: {resourceNames, databaseTypes, ids}}, with * wildcards; ids are data source _ids",
                Source::Community(
                    "github.com/jporeilly/PDC-Glossary-Generator: pdc_client/bulkload.py, glossary_generator/tests/test_v3_shapes.py",
                ),
            ),
            Fact::new(
                Aspect::Request,
                "Every data source is {filters: {resourceNames: [\"*\"]}}: what is sent when no filter is given",
                Source::Community(
                    "github.com/jporeilly/PDC-Glossary-Generator: pdc_client/bulkload.py",
                ),
            ),
            Fact::new(
                Aspect::Request,
                "Older instances may take the filters at the top level, as the v1 reference renders them: sent so once if the wrapper is refused, then kept",
                Source::Assumed("the v1 page's rendering; no instance seen answering so"),
            )
            .probe(&FILTER_FORM),
            Fact::new(
                Aspect::Response,
                "{data: [...], pageInfo: {totalCount}}",
                Source::Community(
                    "github.com/jporeilly/PDC-Glossary-Generator: pdc_client/bulkload.py",
                ),
            ),
        ],
        listing: Some(Listing {
            items: &["/data"],
            total: Some("/pageInfo/totalCount"),
            row: source_row,
            paging: Paging::Vendor,
            fields: "host, port, databaseName, userName, schemaNames, lastTestConnectionId…",
            completion: Some(LAST_TEST),
        }),
    },
    OperationSpec {
        name: "pdc_get_job_status",
        provider: Provider::Pdc,
        title: "Get a PDC job's status",
        description: "Get a PDC job's status.",
        method: Method::Get,
        path: "/jobs/{id}/status",
        hints: Hints::READ,
        args: ArgsSpec::of::<JobId>(),
        output: Output::PASSTHROUGH.holding(&["/status", "/data/status", "/state", "/data/state"]),
        flow: Flow::poll(Poll {
            status_path: None,
            job_id: |_, _| None,
            state: job_state,
            stale: None,
            summary: None,
        }),
        example: r#"{"id": "9dc010b50000000000000004", "wait": true}"#,
        reconcile: None,
        progress: true,
        facts: &[
            Fact::new(
                Aspect::Path,
                "GET /jobs/{id}/status answers the job bare: {workerId, workerName, activity, status, user, createdAt, duration, scope}, no progress field",
                Source::VendorDocs("https://docs.pentaho.com/pdc-api-docs/v2/pdc-api-ref-v2/jobs"),
            ),
            Fact::new(
                Aspect::Values,
                "status has no published list; ends community clients recognise: COMPLETED, SUCCESS, DONE…, FAILED, ERROR, CANCELLED…",
                Source::Community(
                    "github.com/jporeilly/PDC-Glossary-Generator: pdc_client/jobs.py",
                ),
            ),
        ],
        listing: None,
    },
    OperationSpec {
        name: "pdc_test_data_source_connection",
        provider: Provider::Pdc,
        title: "Test a PDC data source's connection",
        description: "Test a stored PDC data source's connection (a job: job_id, or with wait its end).",
        method: Method::Post,
        path: "/jobs/execute/test-connection",
        hints: Hints::TRIGGER,
        args: ArgsSpec::of::<JobOnDataSource>(),
        output: Output::typed::<JobStarted>(),
        flow: Flow {
            read_first: Some(ReadFirst {
                path: "/data-sources/{id}",
                query: &[],
                then: test_connection_body,
                explain: "the data source's settings from the first request with resourceId, without credentials (PDC is assumed to use the stored ones)",
            }),
            fallback: None,
            then_poll: Some(JOB),
            fan_out: false,
        },
        example: r#"{"id": "9dc0da7a0000000000000001", "wait": true}"#,
        reconcile: None,
        progress: true,
        facts: &[
            Fact::new(
                Aspect::Path,
                "POST /jobs/execute/test-connection with a data source's configuration starts a test-connection job",
                Source::VendorDocs("https://docs.pentaho.com/pdc-api-docs/pdc-api-reference/jobs"),
            ),
            Fact::new(
                Aspect::Path,
                "v3 (a base URL ending in /api/public/v3) has no per-job routes: jobs start in bulk (POST /jobs/execute/bulk) and answer successes and failures without a job id, so the tool is refused there before anything is sent, naming /api/public/v2 or v1",
                Source::Community(
                    "github.com/jporeilly/PDC-Glossary-Generator: docs/REVIEW.md §1 (a review of PDC's v3 OpenAPI) and pdc_client/jobs.py",
                ),
            ),
            Fact::new(
                Aspect::Response,
                "The v3 bulk route is not used: its answer's shape and the payload its TEST_CONNECTION and METADATA_INGEST items need are not published, and it gives no id to follow",
                Source::Assumed(
                    "no v3 jobs page in Pentaho's reference; the community review states required payloads only for CALCULATE_TRUST_SCORE, DATA_DISCOVERY and DATA_IDENTIFICATION",
                ),
            )
            .cannot_verify("it is about a route this server does not send to; trying it would start a job"),
            JOB_WITHOUT_CREDENTIALS,
            Fact::new(
                Aspect::Response,
                "Where the started job's id is (jobId, id or _id, under data or not) is not documented",
                Source::Assumed(
                    "the jobs page shows no response schema for execute; community clients read all three",
                ),
            )
            .cannot_verify(NO_THROWAWAY),
        ],
        listing: None,
    },
    OperationSpec {
        name: "pdc_ingest_metadata",
        provider: Provider::Pdc,
        title: "Ingest a PDC data source's metadata",
        description: "Ingest a stored PDC data source's metadata (a job: job_id, or with wait its end).",
        method: Method::Post,
        path: "/jobs/execute/metadata/ingest",
        hints: Hints::TRIGGER,
        args: ArgsSpec::of::<JobOnDataSource>(),
        output: Output::typed::<JobStarted>(),
        flow: Flow {
            read_first: Some(ReadFirst {
                path: "/data-sources/{id}",
                query: &[],
                then: ingest_body,
                explain: "the data source's settings from the first request with resourceId and fqdnId, without credentials (PDC is assumed to use the stored ones)",
            }),
            fallback: None,
            then_poll: Some(JOB),
            fan_out: false,
        },
        example: r#"{"id": "9dc0da7a0000000000000001", "wait": true}"#,
        reconcile: None,
        progress: true,
        facts: &[
            Fact::new(
                Aspect::Path,
                "POST /jobs/execute/metadata/ingest ('Ingest Schemas or Scan') with the configuration, resourceId and fqdnId; databaseType is required",
                Source::Community(
                    "github.com/jporeilly/PDC-Glossary-Generator: pdc_client/bulkload.py",
                ),
            ),
            Fact::new(
                Aspect::Path,
                "v3 (a base URL ending in /api/public/v3) has no per-job routes: jobs start in bulk (POST /jobs/execute/bulk) and answer successes and failures without a job id, so the tool is refused there before anything is sent, naming /api/public/v2 or v1",
                Source::Community(
                    "github.com/jporeilly/PDC-Glossary-Generator: docs/REVIEW.md §1 (a review of PDC's v3 OpenAPI) and pdc_client/jobs.py",
                ),
            ),
            Fact::new(
                Aspect::Response,
                "The v3 bulk route is not used: its answer's shape and the payload its TEST_CONNECTION and METADATA_INGEST items need are not published, and it gives no id to follow",
                Source::Assumed(
                    "no v3 jobs page in Pentaho's reference; the community review states required payloads only for CALCULATE_TRUST_SCORE, DATA_DISCOVERY and DATA_IDENTIFICATION",
                ),
            )
            .cannot_verify("it is about a route this server does not send to; trying it would start a job"),
            JOB_WITHOUT_CREDENTIALS,
            Fact::new(
                Aspect::Values,
                "Object stores (AWS, AZURE_BLOB_STORAGE) fail this schema ingest",
                Source::Community(
                    "github.com/jporeilly/PDC-Glossary-Generator: pdc_client/bulkload.py",
                ),
            ),
            Fact::new(
                Aspect::Response,
                "Where the started job's id is (jobId, id or _id, under data or not) is not documented",
                Source::Assumed(
                    "the jobs page shows no response schema for execute; community clients read all three",
                ),
            )
            .cannot_verify(NO_THROWAWAY),
        ],
        listing: None,
    },
];

/// What the job rows send, and how sure we are of it: the stored settings without credentials.
const JOB_WITHOUT_CREDENTIALS: Fact = Fact::new(
    Aspect::Request,
    "The job is sent the data source's stored settings and resourceId without its credentials, PDC finding the stored ones from resourceId. That is how PDC's UI starts jobs on its internal route (POST /api/start-job), not seen on this public route, whose reference lists the credentials among the body's optional fields",
    Source::Assumed(
        "a community client saw PDC's UI send no credentials to the internal, unversioned /api/start-job (github.com/jporeilly/PDC-Glossary-Generator: pdc_client/bulkload.py); its public jobs send the full configuration, credentials included",
    ),
)
.if_refused(
    "if PDC says credentials are missing, start this job from PDC's UI (the data source's Test Connection or Ingest Schemas), which uses the stored credentials",
)
.cannot_verify(NO_THROWAWAY);

/// A job a request started: its id from the answer, its status at `GET /jobs/{id}/status`.
const JOB: Poll = Poll {
    status_path: Some("/jobs/{id}/status"),
    job_id,
    state: job_state,
    stale: None,
    summary: None,
};

/// The id of a job a `jobs/execute/…` request started. Where PDC puts it is not documented:
/// `jobId`, `id` or `_id`, wrapped in `data` or not, as community clients read it.
fn job_id(answer: &Value, _sent: &RequestParts) -> Option<String> {
    [
        "/data/jobId",
        "/data/id",
        "/data/_id",
        "/jobId",
        "/id",
        "/_id",
    ]
    .iter()
    .find_map(|p| answer.pointer(p).and_then(Value::as_str))
    .map(str::to_string)
}

/// The stored settings a job is started with: a data source's configuration without its
/// credentials, and `resourceId`. PDC is assumed to look its stored credentials up from
/// `resourceId`, as its UI's internal route does (see [`JOB_WITHOUT_CREDENTIALS`]).
const JOB_SETTINGS: &[&str] = &[
    "resourceName",
    "fqdnId",
    "databaseType",
    "databaseName",
    "schemaNames",
    "host",
    "port",
    "uri",
    "endpoint",
    "region",
    "container",
    "path",
    "accessId",
    "accountName",
    "azureTenantId",
    "userName",
    "configMethod",
    "affinityId",
    "driverClassName",
    "jobClasspath",
    "serviceType",
    "spiVersion",
    "warehouse",
    "role",
    "hdfsCredType",
    "oAuthType",
    "oauthClientId",
    "project",
];

fn job_settings(current: &Value) -> Result<Map<String, Value>, InvalidArgument> {
    let record = current
        .get("data")
        .filter(|d| d.is_object())
        .unwrap_or(current);
    let id = ["/_id", "/resourceId", "/id"]
        .iter()
        .find_map(|p| record.pointer(p).and_then(Value::as_str))
        .ok_or_else(|| InvalidArgument::new("id", "PDC answered without the data source's _id"))?;
    let mut body: Map<String, Value> = JOB_SETTINGS
        .iter()
        .filter_map(|k| {
            record
                .get(*k)
                .filter(|v| !v.is_null())
                .map(|v| (k.to_string(), v.clone()))
        })
        .collect();
    body.insert("resourceId".into(), json!(id));
    Ok(body)
}

fn test_connection_body(
    current: Value,
    parts: RequestParts,
) -> Result<RequestParts, InvalidArgument> {
    let body = job_settings(&current)?;
    Ok(parts.body(Value::Object(body)))
}

fn ingest_body(current: Value, parts: RequestParts) -> Result<RequestParts, InvalidArgument> {
    let body = job_settings(&current)?;
    if !body.contains_key("databaseType") {
        return Err(InvalidArgument::new(
            "id",
            "the data source has no databaseType, which an ingest needs: set it first",
        ));
    }
    Ok(parts.body(Value::Object(body)))
}

/// The names a create sent (one object or an array).
fn sent_names(sent: &RequestParts) -> Vec<String> {
    let name = |v: &Value| v["resourceName"].as_str().map(str::to_string);
    match &sent.body {
        Some(Value::Array(items)) => items.iter().filter_map(name).collect(),
        Some(v) => name(v).into_iter().collect(),
        None => Vec::new(),
    }
}

/// A data source in a list, compact. PDC's list carries no test result, only the job that ran
/// the last test: `last_test_job` (follow it with pdc_get_job_status).
fn source_row(item: &Value) -> Value {
    // Tested: the job's outcome completes the row (LAST_TEST); unread, it is unknown.
    let status = match item["lastTestConnectionId"].as_str() {
        Some(_) => "unknown",
        None => "untested",
    };
    let mut row = json!({"id": item["_id"], "name": item["resourceName"], "type": item["databaseType"],
        "status": status});
    let host = ["host", "endpoint", "container", "uri"]
        .iter()
        .find_map(|k| item[*k].as_str().filter(|h| !h.is_empty()));
    if let Some(host) = host {
        row["host"] = json!(host);
    }
    // PDC writes the port as text ("5432"): a number in the row, as every vendor's.
    if let Some(port) = item["port"]
        .as_u64()
        .or_else(|| item["port"].as_str().and_then(|p| p.trim().parse().ok()))
    {
        row["port"] = json!(port);
    }
    if let Some(database) = item["databaseName"].as_str().filter(|d| !d.is_empty()) {
        row["database"] = json!(database);
    }
    for (key, job) in [
        ("lastTestConnectionId", "last_test_job"),
        ("lastIngestId", "last_ingest_job"),
    ] {
        if let Some(id) = item[key].as_str() {
            row[job] = json!(id);
        }
    }
    row
}

/// A row's last test: PDC keeps its outcome in the test's job, read with pdc_get_job_status.
const LAST_TEST: RowCompletion = RowCompletion {
    tool: "pdc_get_job_status",
    args: |row| Some(json!({"id": row["last_test_job"].as_str()?})),
    apply: |row, job, is_error| {
        if is_error {
            return;
        }
        let state = job_state(job);
        let verdict = (CHECKS.connection)(job, false);
        row["status"] = json!(match verdict.works {
            "works" | "fails" => verdict.works,
            _ if !state.finished => "testing",
            _ => "unknown",
        });
        if verdict.works == "fails"
            && let Some(why) = verdict.why
        {
            row["error"] = json!(why);
        }
        if let Some(at) = job["createdAt"].as_str() {
            row["tested_at"] = json!(at);
        }
    },
};

/// A create whose answer was lost: do sources of those names exist now? (All: yes; none: no;
/// some: cannot tell.)
const RECONCILE: Reconcile = Reconcile {
    lookup: "pdc_filter_data_sources",
    args: |sent| json!({ "resourceNames": sent_names(sent), "limit": 10_000 }),
    found: |status, body, sent, _| {
        if !(200..300).contains(&status) {
            return None;
        }
        let existing: Vec<&str> = body["data"]
            .as_array()?
            .iter()
            .filter_map(|d| d["resourceName"].as_str())
            .collect();
        let wanted = sent_names(sent);
        let present = wanted
            .iter()
            .filter(|n| existing.contains(&n.as_str()))
            .count();
        match present {
            0 => Some(false),
            n if n == wanted.len() => Some(true),
            _ => None,
        }
    },
    before: false,
};

/// Where a job stands, from `GET /jobs/{id}/status`.
fn job_state(answer: &Value) -> PollState {
    // The v2 reference answers the job bare; v1-style answers wrap it in `data`.
    let job = answer
        .get("data")
        .filter(|d| d.is_object())
        .unwrap_or(answer);
    let status = job["status"]
        .as_str()
        .or_else(|| job["state"].as_str())
        .unwrap_or("UNKNOWN")
        .to_string();
    // PDC publishes no list of states; these are the ends community clients recognise.
    let finished = matches!(
        status.to_ascii_uppercase().as_str(),
        "COMPLETED"
            | "COMPLETE"
            | "SUCCEEDED"
            | "SUCCESS"
            | "DONE"
            | "FINISHED"
            | "FAILED"
            | "FAIL"
            | "ERROR"
            | "CANCELLED"
            | "CANCELED"
            | "ABORTED"
    );
    PollState {
        finished,
        percent: job["progress"].as_f64(),
        status,
    }
}

// ---- argument types -------------------------------------------------------------------------

/// An id in a path: not blank, no control characters.
fn check_id(field: &str, id: &str) -> Result<(), InvalidArgument> {
    check::not_blank(field, id)
}

/// A port as a caller gives it, `5432` or `"5432"`. PDC takes only a string (a number is
/// refused with a 400), so it is always sent as one.
#[derive(Debug, Clone, PartialEq)]
pub struct Port(Value);

impl Port {
    /// The port number, if it is one: 1-65535, given as a whole number or as digits.
    fn number(&self) -> Option<u16> {
        let n = match &self.0 {
            Value::Number(n) => n.as_u64()?,
            Value::String(s)
                if (1..=5).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) =>
            {
                s.parse().ok()?
            }
            _ => return None,
        };
        u16::try_from(n).ok().filter(|p| *p >= 1)
    }

    fn check(&self, field: &str) -> Result<(), InvalidArgument> {
        match self.number() {
            Some(_) => Ok(()),
            None => Err(InvalidArgument::new(
                field,
                "must be a port number 1-65535 (a number or a string of digits)",
            )),
        }
    }
}

impl Serialize for Port {
    /// As a string: the number's digits (`5432` and `"05432"` are both `"5432"`).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.number(), &self.0) {
            (Some(n), _) => serializer.serialize_str(&n.to_string()),
            (None, Value::String(s)) => serializer.serialize_str(s),
            (None, other) => serializer.serialize_str(&other.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Port {
    /// Any number or string: [`Port::check`] says what is wrong with it, naming the field.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Port;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a port (a number or a string)")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Port, E> {
                Ok(Port(json!(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Port, E> {
                Ok(Port(json!(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Port, E> {
                Ok(Port(json!(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Port, E> {
                Ok(Port(json!(v)))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl JsonSchema for Port {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Port".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": 65535},
                {"type": "string", "pattern": "^[0-9]{1,5}$"}
            ],
            "description": "1-65535."
        })
    }
}

// A new data source: `resourceName`, `databaseType` and its connection fields. (No doc
// comment: it would repeat `data_sources`' description in the schema.)
#[derive(Debug, Deserialize, Serialize, JsonSchema)]
pub struct NewDataSource {
    #[serde(rename = "resourceName")]
    pub resource_name: String,
    /// POSTGRES, MYSQL, AWS (S3), AZURE_BLOB_STORAGE; ORACLE unverified.
    #[serde(rename = "databaseType")]
    pub database_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<Port>,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// What callers write for S3 that PDC does not take: its type for S3 is `AWS`.
const NOT_S3_TYPES: &[&str] = &["S3", "AWS_S3"];

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDataSources {
    /// Each with its type's fields (host, port, databaseName, userName, password…).
    #[schemars(length(min = 1))]
    pub data_sources: Vec<NewDataSource>,
}

impl ToolArgs for CreateDataSources {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::non_empty_list("data_sources", &self.data_sources)?;
        for (i, ds) in self.data_sources.iter().enumerate() {
            check::not_blank(
                &format!("data_sources[{i}].resourceName"),
                &ds.resource_name,
            )?;
            check::not_blank(
                &format!("data_sources[{i}].databaseType"),
                &ds.database_type,
            )?;
            if NOT_S3_TYPES
                .iter()
                .any(|t| ds.database_type.trim().eq_ignore_ascii_case(t))
            {
                return Err(InvalidArgument::new(
                    format!("data_sources[{i}].databaseType"),
                    "use AWS for S3 and S3-compatible stores (PDC does not take S3 or AWS_S3)",
                ));
            }
            if let Some(port) = &ds.port {
                port.check(&format!("data_sources[{i}].port"))?;
            }
            let repeated = self.data_sources[..i]
                .iter()
                .any(|other| other.resource_name == ds.resource_name);
            if repeated {
                return Err(InvalidArgument::new(
                    format!("data_sources[{i}].resourceName"),
                    "repeats an earlier item's name",
                ));
            }
        }
        Ok(())
    }

    /// One data source is sent as an object, several as an array.
    fn into_request(mut self) -> RequestParts {
        let body = if self.data_sources.len() == 1 {
            json!(self.data_sources.remove(0))
        } else {
            json!(self.data_sources)
        };
        RequestParts::new().body(body)
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataSourceId {
    /// From pdc_filter_data_sources.
    #[schemars(extend("x-mcp-header" = "Id"))]
    pub id: String,
}

impl ToolArgs for DataSourceId {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check_id("id", &self.id)
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new().path("id", self.id)
    }
}

/// The PATCH attributes of the vendor's reference (seed 001), all optional, but the job
/// bookkeeping (`lastTestConnectionId`, `lastIngestId`): PDC sets those when a job ends, and
/// an agent that wrote them would misreport which job last ran.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDataSource {
    /// From pdc_filter_data_sources.
    pub id: String,
    /// PDC attributes to set, by name; a list replaces the old one.
    #[schemars(extend("x-in-reference" = "Attributes to set (host, port, password…: datasource-mcp://tools/pdc_update_data_source)."))]
    pub changes: DataSourceChanges,
}

/// The attributes a PATCH may set.
#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DataSourceChanges {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// AWS access key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_id: Option<String>,
    /// AWS secret key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
    /// AWS region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_manager_key: Option<String>,
    /// Azure storage account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure_shared_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub azure_tenant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<Port>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warehouse: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_for_migration: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_for_writing: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub available_for_data_mastering: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_capacity: Option<f64>,
    /// JDBC driver class, e.g. oracle.jdbc.OracleDriver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver_class_name: Option<String>,
    /// Resources to include, e.g. public.* (replaces the list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_patterns: Option<Vec<String>>,
    /// Resources to exclude (replaces the list).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude_patterns: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_since_timeframe: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incremental: Option<bool>,
}

impl ToolArgs for UpdateDataSource {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check_id("id", &self.id)?;
        let changes = &self.changes;
        if let Some(port) = &changes.port {
            port.check("changes.port")?;
        }
        if changes
            .total_capacity
            .is_some_and(|c| !c.is_finite() || c < 0.0)
        {
            return Err(InvalidArgument::new(
                "changes.totalCapacity",
                "must be a number ≥ 0",
            ));
        }
        if changes.body().is_empty() {
            return Err(InvalidArgument::new(
                "changes",
                "name at least one attribute to change",
            ));
        }
        Ok(())
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new()
            .path("id", self.id)
            .body(Value::Object(self.changes.body()))
    }
}

/// pdc_update_data_source's arguments: `{id, changes}`, or (as the tool first took them) the
/// attributes beside `id`, which an agent holding an older tools list still sends.
fn prepare_update(mut args: Value) -> Result<RequestParts, InvalidArgument> {
    let flat = args.as_object().is_some_and(|m| !m.contains_key("changes"));
    if flat && let Some(map) = args.as_object_mut() {
        let changes: Map<String, Value> = map
            .keys()
            .filter(|k| *k != "id")
            .cloned()
            .collect::<Vec<_>>()
            .into_iter()
            .filter_map(|k| map.remove_entry(&k))
            .collect();
        if !changes.is_empty() {
            map.insert("changes".into(), Value::Object(changes));
        }
    }
    // An error names the field as the caller wrote it.
    crate::args::prepare::<UpdateDataSource>(args).map_err(|mut e| {
        if flat {
            match e.field.strip_prefix("changes.") {
                Some(field) => e.field = field.to_string(),
                None if e.field == "changes" => {
                    e = InvalidArgument::new(
                        "arguments",
                        "name at least one attribute to change besides id",
                    )
                }
                None => {}
            }
        }
        e
    })
}

impl DataSourceChanges {
    /// The PATCH body: every attribute given.
    fn body(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ByIds {
    /// From pdc_filter_data_sources.
    #[schemars(length(min = 1))]
    pub ids: Vec<String>,
}

impl ToolArgs for ByIds {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check::non_empty_list("ids", &self.ids)?;
        for (i, id) in self.ids.iter().enumerate() {
            check_id(&format!("ids[{i}]"), id)?;
        }
        Ok(())
    }

    fn into_request(self) -> RequestParts {
        RequestParts::new().body(json!({ "ids": self.ids }))
    }
}

/// PDC refuses a filter without any filter in it; the tool's default is every data source.
const ALL_NAMES: &str = "*";

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// Name patterns (prod-*, *postgres*).
    #[serde(rename = "resourceNames")]
    #[schemars(length(min = 1))]
    pub resource_names: Option<Vec<String>>,
    /// Type patterns (POSTGRES*; S3 is AWS).
    #[serde(rename = "databaseTypes")]
    #[schemars(length(min = 1))]
    pub database_types: Option<Vec<String>>,
    pub skip: Option<u64>,
    #[schemars(range(max = 10000))]
    pub limit: Option<u64>,
}

impl ToolArgs for Filter {
    fn validate(&self) -> Result<(), InvalidArgument> {
        if let Some(limit) = self.limit {
            check::range("limit", limit, 1, 10_000)?;
        }
        for (field, patterns) in [
            ("resourceNames", &self.resource_names),
            ("databaseTypes", &self.database_types),
        ] {
            if let Some(patterns) = patterns {
                check::non_empty_list(field, patterns)?;
                for (i, p) in patterns.iter().enumerate() {
                    check::not_blank(&format!("{field}[{i}]"), p)?;
                }
            }
        }
        Ok(())
    }

    /// No filter at all is every data source: PDC itself refuses a body without one.
    fn into_request(self) -> RequestParts {
        let mut body = Map::new();
        let names = match (self.resource_names, &self.database_types) {
            (None, None) => Some(vec![ALL_NAMES.to_string()]),
            (names, _) => names,
        };
        if let Some(names) = names {
            body.insert("resourceNames".into(), json!(names));
        }
        if let Some(types) = self.database_types {
            body.insert("databaseTypes".into(), json!(types));
        }
        RequestParts::new()
            .query("skip", self.skip.unwrap_or(0))
            .query("limit", self.limit.unwrap_or(DEFAULT_PAGE))
            .body(json!({ "filters": body }))
    }
}

/// Whether PDC refused the `filters` wrapper as an unknown property (instances that take the
/// filters at the top level, as the v1 reference shows them).
fn rejects_wrapper(status: u16, body: &Value) -> bool {
    let text = body.to_string();
    matches!(status, 400 | 422)
        && text.contains("filters")
        && ["should not exist", "not allowed", "unknown", "unrecognized"]
            .iter()
            .any(|why| text.contains(why))
}

/// The same filter at the top level of the body.
fn unwrap_filters(mut parts: RequestParts) -> RequestParts {
    if let Some(filters) = parts.body.as_mut().and_then(|b| b.get_mut("filters")) {
        parts.body = Some(filters.take());
    }
    parts
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobOnDataSource {
    /// From pdc_filter_data_sources.
    #[schemars(extend("x-mcp-header" = "Id"))]
    pub id: String,
    #[serde(default)]
    pub wait: bool,
    #[schemars(range(max = 3600))]
    pub wait_seconds: Option<u64>,
}

impl ToolArgs for JobOnDataSource {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check_id("id", &self.id)?;
        check::wait_seconds(self.wait_seconds)
    }

    fn into_request(self) -> RequestParts {
        let wait = crate::args::wait_for(self.wait, self.wait_seconds);
        RequestParts::new().path("id", self.id).wait(wait)
    }
}

/// What a job-starting tool returns: the job's id (and, after a wait, its final status).
#[derive(Debug, Serialize, JsonSchema)]
pub struct JobStarted {
    pub job_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobId {
    /// A job_id, or a pdc_filter_data_sources row's last_test_job.
    #[schemars(extend("x-mcp-header" = "Id"))]
    pub id: String,
    #[serde(default)]
    pub wait: bool,
    #[schemars(range(max = 3600))]
    pub wait_seconds: Option<u64>,
}

impl ToolArgs for JobId {
    fn validate(&self) -> Result<(), InvalidArgument> {
        check_id("id", &self.id)?;
        check::wait_seconds(self.wait_seconds)
    }

    fn into_request(self) -> RequestParts {
        let wait = crate::args::wait_for(self.wait, self.wait_seconds);
        RequestParts::new().path("id", self.id).wait(wait)
    }
}

// ---- desired state ----------------------------------------------------------------------------

/// PDC data sources in a desired-state file: each entry a data source in PDC's own fields,
/// named by `resourceName`.
pub static STATE: StateSpec = StateSpec {
    section: "data_sources",
    noun: "data source",
    key: "resourceName",
    current_key: "/resourceName",
    create: (
        "pdc_create_data_sources",
        |entry| json!({"data_sources": [entry]}),
    ),
    create_at: "data_sources[0]",
    update: Some((
        "pdc_update_data_source",
        |current, changes| json!({"id": current["_id"], "changes": changes}),
    )),
    delete: None,
    export: export_source,
    compares: true,
    limits: "the PDC public API offers no data-source delete that this server uses: delete it in PDC",
    exists: |_| true,
    needs: None,
};

/// The fields of a PDC data source a create or an update takes.
const SETTINGS: &[&str] = &[
    "resourceName",
    "databaseType",
    "host",
    "port",
    "databaseName",
    "userName",
    "password",
    "schemaNames",
    "description",
    "note",
    "accessId",
    "secretKey",
    "region",
    "secretManagerKey",
    "accountName",
    "azureSharedKey",
    "azureTenantId",
    "affinityId",
    "role",
    "warehouse",
    "uri",
    "path",
    "availableForMigration",
    "availableForWriting",
    "availableForDataMastering",
    "totalCapacity",
    "driverClassName",
    "includePatterns",
    "excludePatterns",
    "scanSinceTimeframe",
    "incremental",
];

fn export_source(current: &Value, reference: &dyn Fn(&str) -> String) -> Value {
    let mut out = Map::new();
    for key in SETTINGS {
        let Some(v) = current.get(*key).filter(|v| !v.is_null()) else {
            continue;
        };
        let secret = crate::redact::is_secret_key(key) || matches!(*key, "accessId");
        out.insert(
            key.to_string(),
            if secret {
                json!(reference(key))
            } else {
                v.clone()
            },
        );
    }
    // Whether PDC answers a stored password or secret key is not documented (assumed not: the
    // sandbox shows none); either way a source that signs in with a user name or an access id
    // needs its partner on another tenant, so the export names it as a reference and an apply
    // there asks for it (a reference is never compared, so this tenant's plan is unchanged).
    for (has, needs) in [("userName", "password"), ("accessId", "secretKey")] {
        if out.contains_key(has) && !out.contains_key(needs) {
            out.insert(needs.into(), json!(reference(needs)));
        }
    }
    Value::Object(out)
}

/// A stored source is tested by a test-connection job on its stored settings, followed to its
/// end; the job's status says whether the connection works.
pub static CHECKS: Checks = Checks {
    stored_test: Some((
        "pdc_test_data_source_connection",
        |current| json!({"id": current["_id"], "wait": true}),
    )),
    connection: |answer, is_error| {
        if is_error {
            return Connection::unknown(format!(
                "{}: {}",
                answer["error"]["code"].as_str().unwrap_or("ERROR"),
                answer["error"]["message"].as_str().unwrap_or("")
            ));
        }
        // A test's or ingest's answer holds the job under `job`; pdc_get_job_status is the job.
        let job = answer
            .get("job")
            .filter(|j| j.is_object())
            .unwrap_or(answer);
        let state = job_state(job);
        match state.status.to_ascii_uppercase().as_str() {
            "COMPLETED" | "COMPLETE" | "SUCCEEDED" | "SUCCESS" | "DONE" | "FINISHED" => {
                Connection::works()
            }
            "FAILED" | "FAIL" | "ERROR" => {
                let job = job.get("data").unwrap_or(job);
                let why = [
                    "error",
                    "errorMessage",
                    "failureReason",
                    "message",
                    "reason",
                ]
                .iter()
                .find_map(|k| job[*k].as_str())
                .unwrap_or("the job failed without a reason");
                Connection::fails(why)
            }
            // A start without wait: the answer holds the job's id, not its state.
            "UNKNOWN" if answer.get("job_id").is_some() => {
                Connection::unknown("the job has not ended; follow job_id with pdc_get_job_status")
            }
            other => Connection::unknown(format!("the job is {other}")),
        }
    },
    answers: &[
        "pdc_test_data_source_connection",
        "pdc_ingest_metadata",
        "pdc_get_job_status",
    ],
};

// ---- verify: the assumed facts against the user's tenant -------------------------------------

/// An id no data source has (ObjectIds are 24 hex digits; PDC makes none of all f's).
const UNKNOWN: Ask = Ask::get("unknown", "/data-sources/ffffffffffffffffffffffff");

static UNKNOWN_ID: FactProbe = FactProbe {
    asks: &[UNKNOWN],
    read: |seen| {
        let a = answered!(seen, "unknown");
        match a.status {
            Some(s @ (400 | 404)) => Verdict::held(format!(
                "GET /data-sources/{{id}} of an unknown id: HTTP {s}"
            ))
            .speaking(format!("{s}")),
            _ => Verdict::differs(format!(
                "GET /data-sources/{{id}} of an unknown id: {}",
                a.status_text()
            )),
        }
    },
};

/// One row of every data source, the filter wrapped; at the top level only after the wrapper
/// is refused as the filter row's fallback tells it.
const WRAPPED: Ask = Ask::post(
    "wrapped",
    "/data-sources/filter",
    r#"{"filters": {"resourceNames": ["*"]}}"#,
)
.query(&[("skip", "0"), ("limit", "1")]);
const TOP_LEVEL: Ask = Ask::post(
    "top_level",
    "/data-sources/filter",
    r#"{"resourceNames": ["*"]}"#,
)
.query(&[("skip", "0"), ("limit", "1")])
.when(|seen| {
    seen.first("wrapped")
        .is_some_and(|a| rejects_wrapper(a.status.unwrap_or(0), &a.body))
});

static FILTER_FORM: FactProbe = FactProbe {
    asks: &[WRAPPED, TOP_LEVEL],
    read: |seen| {
        let a = answered!(seen, "wrapped");
        if a.ok() {
            return Verdict::held(format!("{}: the wrapped filter is taken", a.said()))
                .speaking("{filters: {...}}");
        }
        match seen.first("top_level") {
            Some(b) if b.ok() => Verdict::held(format!(
                "{}: the wrapper is refused, then {}",
                a.said(),
                b.said()
            ))
            .speaking("the filters at the top level"),
            Some(b) => Verdict::differs(format!(
                "{}: the wrapper is refused, then {}",
                a.said(),
                b.said()
            )),
            None => Verdict::differs(format!(
                "{}: refused in a way that does not name the wrapper (the top level is not tried)",
                a.said()
            )),
        }
    },
};

/// Why the job facts are not checked: a job is a write, and a throwaway could not be removed.
const NO_THROWAWAY: &str = "starting a job is a write, and verify --write makes no PDC throwaway: PDC's public API has no data-source delete this server uses, so it could not be removed";
