//! What a provider is, as data: its configuration variables, how its credential is read and
//! exchanged, what an agent should know about it, and its rows. Each provider file fills one
//! [`ProviderSpec`]; the registry (`providers`) lists them; every surface reads them. Nothing
//! here does I/O: the upstream client carries out the credential flows described here.

use serde_json::Value;

use crate::operation::{Fact, OperationSpec, Provider};
use crate::request::Method;
use crate::secret::SecretString;

/// Everything the server knows about one vendor.
pub struct ProviderSpec {
    pub provider: Provider,
    /// `bigid`: tool-name prefix and toolset name.
    pub id: &'static str,
    /// `BigID`: for people.
    pub title: &'static str,
    pub base_url_var: &'static str,
    /// Used when the base URL variable is unset (cloud vendors with one public host).
    pub default_base_url: Option<&'static str>,
    /// Every variable it reads, for the README, the startup message and `doctor`.
    pub env: &'static [EnvVar],
    /// Reads the credential from the environment: `Ok(None)` when none of its variables is
    /// set, an error naming the missing variable when it is half set.
    pub credential: fn(&dyn Env) -> Result<Option<Credential>, ConfigError>,
    /// What to set to configure it, for the start-up message.
    pub setup: &'static str,
    /// Which variables to check when the vendor rejects the credential.
    pub credential_hint: &'static str,
    /// A hint for a vendor's error answer (status, code when it gives one, message), where the
    /// vendor's documentation or behaviour says what it means; `None` falls back to a hint
    /// from the status.
    pub hint: fn(status: u16, code: Option<&str>, message: &str) -> Option<&'static str>,
    /// An answer besides a 404 that says nothing has that name or id (status and message):
    /// reported as `NOT_FOUND`, as a 404 is. `None`: only a 404 is.
    pub not_found: Option<fn(status: u16, message: &str) -> bool>,
    /// How the vendor refuses a credential in an answer whose status says success, if it does.
    pub refusal: Option<Refusal>,
    /// Whether a tool cannot work at the configured base URL (an API version without the
    /// tool's routes): the call is refused before anything is sent, saying what to set.
    pub unsupported: fn(base_url: &str, tool: &str) -> Option<Unsupported>,
    /// The cheap read `doctor` sends to check reachability and authentication.
    pub probe: Probe,
    /// Argument keys that hold a credential although their names do not look secret (an
    /// access key id): a secret reference may go there.
    pub credential_keys: &'static [&'static str],
    /// How an agent works with this provider: server instructions, prompts, the skill.
    pub guide: Guide,
    /// What every row of this provider relies on (base URL, auth, error shape), with sources.
    pub facts: &'static [Fact],
    /// The list row (and its arguments) that gives every data source of this vendor, for the
    /// inventory across vendors.
    pub inventory: Option<InventorySource>,
    pub operations: &'static [OperationSpec],
}

/// What an agent is told about one provider (github-mcp-server gives each toolset its own
/// instructions in the same way). Every surface assembles these; none knows a vendor by name.
pub struct Guide {
    /// One or two sentences for the server's instructions, shown when the provider is enabled.
    pub instructions: &'static str,
    /// The tools the onboarding workflow needs; without all of them (read-only mode) the
    /// provider is not offered for onboarding.
    pub onboard_tools: &'static [&'static str],
    /// The onboarding workflow, as numbered steps naming those tools.
    pub onboard_steps: &'static str,
    /// The read-only tool the audit starts from, and the audit's step for this provider.
    pub audit_tool: &'static str,
    pub audit_step: &'static str,
}

/// How the inventory lists all of a vendor's data sources: a list row, its arguments (JSON),
/// and the page size it asks for where the vendor pages.
pub struct InventorySource {
    pub tool: &'static str,
    pub args: &'static str,
    pub page: u64,
}

/// Why a tool cannot work at the configured base URL, and what to set instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported {
    pub why: &'static str,
    pub fix: &'static str,
}

/// Every tool works at any base URL.
pub fn supports_every_tool(_base_url: &str, _tool: &str) -> Option<Unsupported> {
    None
}

/// How a vendor says, with a success status, that it refused the credential (BigID answers
/// HTTP 200 `{"success": false, "message": "Failed to authenticate token."}`).
#[derive(Debug, Clone, Copy)]
pub struct Refusal {
    /// JSON pointer to a boolean that is `false` when the credential was refused.
    pub flag: &'static str,
    /// JSON pointer to the vendor's message.
    pub message: &'static str,
    /// How the message of an API answer (not a token exchange's) starts when the token was
    /// refused: there the flag alone says nothing (BigID's connection test answers
    /// `{"success": false, "message"}` for a database it cannot reach).
    pub token_messages: &'static [&'static str],
}

impl Refusal {
    /// The vendor's message, when a token exchange's answer refuses the credential.
    pub fn of_exchange(&self, body: &Value) -> Option<String> {
        if body.pointer(self.flag) != Some(&Value::Bool(false)) {
            return None;
        }
        Some(
            body.pointer(self.message)
                .and_then(Value::as_str)
                .filter(|m| !m.trim().is_empty())
                .unwrap_or("no message")
                .to_string(),
        )
    }

    /// The vendor's message, when an API answer refuses the token the request carried.
    pub fn of_call(&self, body: &Value) -> Option<String> {
        let message = self.of_exchange(body)?;
        self.token_messages
            .iter()
            .any(|m| message.starts_with(m))
            .then_some(message)
    }
}

/// A read-only call that proves a provider answers and accepts the credential.
pub struct Probe {
    pub tool: &'static str,
    /// Its arguments, as JSON.
    pub args: &'static str,
}

/// An environment variable a provider reads.
pub struct EnvVar {
    pub name: &'static str,
    pub help: &'static str,
    pub secret: bool,
}

/// Where configuration comes from: the process environment, or a map (tests, the sandbox).
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;

    /// Every set variable whose name starts with `prefix` (the values secret references read).
    fn vars_with_prefix(&self, prefix: &str) -> Vec<(String, String)>;
}

/// The process environment. An empty value is unset, and so is an MCP Bundle placeholder:
/// a desktop host passes `${user_config.KEY}` literally when the user left that setting empty.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| is_set(v))
    }

    fn vars_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        std::env::vars()
            .filter(|(k, v)| k.starts_with(prefix) && is_set(v))
            .collect()
    }
}

/// Whether a variable's value counts as given (see [`ProcessEnv`]).
pub fn is_set(value: &str) -> bool {
    !value.is_empty() && !value.starts_with("${user_config.")
}

impl Env for std::collections::HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| is_set(v)).cloned()
    }

    fn vars_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        self.iter()
            .filter(|(k, v)| k.starts_with(prefix) && is_set(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// A configuration the server refuses to start with. The message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Reads a pair of variables that only make sense together (username and password).
pub fn pair(
    env: &dyn Env,
    first: &str,
    second: &str,
) -> Result<Option<(String, String)>, ConfigError> {
    match (env.var(first), env.var(second)) {
        (Some(a), Some(b)) => Ok(Some((a, b))),
        (Some(_), None) => Err(ConfigError(format!(
            "{first} is set but {second} is missing"
        ))),
        (None, Some(_)) => Err(ConfigError(format!(
            "{second} is set but {first} is missing"
        ))),
        (None, None) => Ok(None),
    }
}

// ---- credentials ------------------------------------------------------------------------------

/// How a token is written into its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: <token>` (BigID's own clients).
    Raw,
    /// `Authorization: Bearer <token>`.
    Bearer,
}

/// The header a credential or token goes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthHeader {
    pub name: &'static str,
    pub scheme: Scheme,
}

impl AuthHeader {
    pub const fn authorization(scheme: Scheme) -> Self {
        AuthHeader {
            name: "authorization",
            scheme,
        }
    }
}

/// How a long-lived credential is exchanged for a token.
#[derive(Debug, Clone)]
pub struct TokenExchange {
    pub method: Method,
    pub path: ExchangePath,
    pub send: ExchangeSend,
    /// JSON pointer of the token in the response (`/systemToken`, `/data/accessToken`).
    pub token_pointer: &'static str,
    /// Another exchange to try when this one is not there (404, 405) or answers without a
    /// token: some instances expose only one of two login endpoints.
    pub otherwise: Option<Box<TokenExchange>>,
}

/// Where a token exchange goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangePath {
    /// Relative to the provider's base URL.
    Base(&'static str),
    /// Relative to the root the API is served under: the base URL up to `api` (PDC's base is
    /// `{root}/api/public/v1`, its Keycloak is `{root}/keycloak/…`).
    Root {
        api: &'static str,
        path: &'static str,
    },
}

impl ExchangePath {
    /// The exchange's URL for a provider served at `base`.
    pub fn url(self, base: &str) -> String {
        match self {
            ExchangePath::Base(path) => format!("{base}{path}"),
            ExchangePath::Root { api, path } => {
                let root = base.find(api).map_or(base, |at| &base[..at]);
                format!("{root}{path}")
            }
        }
    }
}

/// What the exchange request carries.
#[derive(Debug, Clone)]
pub enum ExchangeSend {
    /// The credential in a header (BigID user token: raw `Authorization`).
    Header(AuthHeader, SecretString),
    /// A JSON object of fields (BigID `POST /sessions`).
    Json(Vec<(&'static str, Field)>),
    /// A form-encoded body (PDC `POST /auth`).
    Form(Vec<(&'static str, Field)>),
}

/// A field of a token exchange. Only a secret is masked by value wherever it appears: masking
/// a username or a constant like `grant_type=password` would blank every `admin` or
/// `password` in every result.
#[derive(Debug, Clone)]
pub enum Field {
    Secret(SecretString),
    Plain(String),
}

impl Field {
    pub fn value(&self) -> &str {
        match self {
            Field::Secret(s) => s.expose(),
            Field::Plain(p) => p,
        }
    }
}

/// A provider's credential, read from the environment.
#[derive(Debug, Clone)]
pub enum Credential {
    /// Sent as is on every request.
    Static {
        header: AuthHeader,
        value: SecretString,
    },
    /// Exchanged for a token that is cached and sent in `header`.
    Exchange {
        exchange: TokenExchange,
        header: AuthHeader,
    },
}

impl Credential {
    /// Every secret this credential holds, so redaction knows their values.
    pub fn secrets(&self) -> Vec<&SecretString> {
        match self {
            Credential::Static { value, .. } => vec![value],
            Credential::Exchange { exchange, .. } => {
                let mut out = Vec::new();
                let mut next = Some(exchange);
                while let Some(exchange) = next {
                    match &exchange.send {
                        ExchangeSend::Header(_, s) => out.push(s),
                        ExchangeSend::Json(fields) | ExchangeSend::Form(fields) => {
                            out.extend(fields.iter().filter_map(|(_, f)| match f {
                                Field::Secret(s) => Some(s),
                                Field::Plain(_) => None,
                            }))
                        }
                    }
                    next = exchange.otherwise.as_deref();
                }
                // Two endpoints may send the same secret.
                let mut unique: Vec<&SecretString> = Vec::new();
                for s in out {
                    if !unique.contains(&s) {
                        unique.push(s);
                    }
                }
                unique
            }
        }
    }

    /// The header every request carries the credential (or its token) in.
    pub fn header(&self) -> AuthHeader {
        match self {
            Credential::Static { header, .. } | Credential::Exchange { header, .. } => *header,
        }
    }
}

// ---- desired state ----------------------------------------------------------------------------

/// A tool, and how its arguments are made from a vendor's object (or a file's entry).
pub type ToolFrom = (&'static str, fn(&serde_json::Value) -> serde_json::Value);

/// The update tool, and its arguments from the vendor's object and the fields that differ.
pub type UpdateFrom = (
    &'static str,
    fn(&serde_json::Value, &serde_json::Map<String, serde_json::Value>) -> serde_json::Value,
);

/// The vendor's object as an entry of the file, each credential as the reference
/// `reference(field)` names.
pub type Export = fn(&serde_json::Value, &dyn Fn(&str) -> String) -> serde_json::Value;

/// How a provider's sources appear in a desired-state file and are changed to match it: what
/// identifies a source, which tools create, update and delete one, and the vendor's object in
/// the file's terms (export, and what a plan compares).
pub struct StateSpec {
    /// The key of this platform's list in the file (`data_sources`, `connectors`, …).
    pub section: &'static str,
    /// What one source is called, for people (`data source`, `connector`).
    pub noun: &'static str,
    /// What identifies a source: a dotted path into an entry of the file …
    pub key: &'static str,
    /// … and a JSON pointer into the vendor's object.
    pub current_key: &'static str,
    /// The tool that creates a source, and its arguments for an entry …
    pub create: ToolFrom,
    /// … where the entry sits in those arguments (`ds_connection`, `data_sources[0]`, or `""`
    /// for the arguments themselves), so an argument error names the entry's field.
    pub create_at: &'static str,
    /// The tool that changes fields of a source, and its arguments (the vendor's object, the
    /// entry's fields that differ).
    pub update: Option<UpdateFrom>,
    /// The tool that deletes a source, and its arguments.
    pub delete: Option<ToolFrom>,
    /// The vendor's object as an entry of the file (only what a create takes; each credential
    /// as the reference `reference(field)` names). What a plan compares an entry with.
    pub export: Export,
    /// Whether the vendor's list shows a source's settings: where it shows only names
    /// (DataBrain), a source that exists is left as it is.
    pub compares: bool,
    /// Why changes a platform cannot make (no delete tool) are left out, said in the plan.
    pub limits: &'static str,
    /// Whether a source the vendor lists still exists: a platform that keeps deleted sources
    /// in its list (Bigdata.com's archived connectors) says which are gone.
    pub exists: fn(current: &serde_json::Value) -> bool,
    /// Where the vendor says which connection fields a type needs (BigID's templates): a
    /// create's dry run names those its entry lacks.
    pub needs: Option<Needs>,
}

/// The read-only tool that says which fields a type needs, its arguments from an entry, and
/// the entry's fields it finds missing in that tool's answer (each with why).
pub struct Needs {
    pub tool: &'static str,
    pub args: fn(entry: &serde_json::Value) -> Option<serde_json::Value>,
    pub missing:
        fn(entry: &serde_json::Value, answer: &serde_json::Value) -> Vec<(String, &'static str)>,
}

// ---- connection checks -------------------------------------------------------------------------

/// How a provider's stored sources are tested, and how an answer says whether a connection
/// works, in the same words for every vendor.
pub struct Checks {
    /// The tool that tests a stored source with its stored credentials, and its arguments from
    /// the vendor's object; `None`: the vendor offers no test.
    pub stored_test: Option<ToolFrom>,
    /// Whether a test's (or sync's, or job's) answer says the connection works.
    pub connection: fn(answer: &serde_json::Value, is_error: bool) -> Connection,
    /// The tools whose answers `connection` reads: each such answer says it in its
    /// `connection` field, in the same words for every vendor.
    pub answers: &'static [&'static str],
}

/// Whether a connection works, as every vendor's answer is read: `works`, `fails` (with why),
/// or `unknown`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub works: &'static str,
    pub why: Option<String>,
}

impl Connection {
    /// The one field an answer carries: `works`, or `fails: why`, or `unknown: why`.
    pub fn said(&self) -> String {
        match &self.why {
            Some(why) => format!("{}: {why}", self.works),
            None => self.works.to_string(),
        }
    }

    pub fn works() -> Connection {
        Connection {
            works: "works",
            why: None,
        }
    }

    pub fn fails(why: impl Into<String>) -> Connection {
        Connection {
            works: "fails",
            why: Some(why.into()),
        }
    }

    pub fn unknown(why: impl Into<String>) -> Connection {
        Connection {
            works: "unknown",
            why: Some(why.into()),
        }
    }
}
