//! Errors of a tool call, and the one function that turns them into the contract's envelope
//! `{"error": {"provider", "status", "code", "message", "hint"}}`.

use serde_json::{Map, Value, json};

use crate::args::InvalidArgument;
use crate::operation::{Fact, OperationSpec};
use crate::redact::{self, CallSecrets};
use crate::spec::{ProviderSpec, Unsupported};
use crate::upstream::{AuthError, HttpResponse, TransportError, UpstreamError};

/// Why a call failed. Each kind maps to the envelope in [`ToolError::envelope`].
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// An argument broke a rule; nothing was sent.
    #[error("{0}")]
    Invalid(#[from] InvalidArgument),
    /// An argument does not fit the resource a flow read first (e.g. a sync date for a
    /// connector type that takes none); only that read was sent, nothing was changed.
    #[error("{0}")]
    Precondition(InvalidArgument),
    /// A `${secret:NAME}` reference names no variable; nothing was sent.
    #[error("`{field}`: the secret reference ${{secret:{name}}} is not set")]
    UnknownSecret { field: String, name: String },
    /// A `${secret:NAME}` reference has no value yet, and the user can enter it on the intake
    /// page at `url`; nothing was sent.
    #[error("`{field}`: the secret {} has no value yet", .offered.name)]
    SecretNeeded {
        field: String,
        /// Boxed: an offer carries its binding, and every result of the engine carries this.
        offered: Box<crate::intake::Offered>,
    },
    /// A `${secret:NAME}` reference has a value that may not go where this call would send it
    /// (another host than the operator bound it to; a caller without the write scope and a
    /// secret bound to no host); nothing was sent.
    #[error("`{field}`: the secret {name} may not be used here: {reason}")]
    SecretNotAllowed {
        field: String,
        name: String,
        reason: String,
    },
    /// A `${secret:NAME}` reference's value is where the server looks (a file of the secrets
    /// directory, a keychain entry) but cannot be read; nothing was sent.
    #[error("`{field}`: the secret {name} could not be read from {place}: {reason}")]
    SecretUnreadable {
        field: String,
        name: String,
        place: String,
        reason: String,
    },
    /// Per-user mode: the caller has no credential of their own for the provider, and the
    /// operator lets nobody else's act for them here (for a write under `read-only`); nothing
    /// was sent. `url`: the page where they give theirs, when it can be offered.
    #[error("you have no {provider} credential of your own here{}", if *.write_only { " for a change (reads use the service credential)" } else { "" })]
    CredentialNeeded {
        provider: &'static str,
        variable: &'static str,
        write_only: bool,
        url: Option<String>,
    },
    /// The store that keeps per-user credentials could not be used; nothing was sent.
    #[error("{0}")]
    Store(crate::store::StoreError),
    /// The tool cannot work at the provider's configured base URL (an API version without its
    /// routes); nothing was sent.
    #[error("{tool} cannot work with {variable} as set: {}", .unsupported.why)]
    Unsupported {
        tool: &'static str,
        variable: &'static str,
        unsupported: Unsupported,
    },
    /// The vendor answered with an error status.
    #[error("the vendor answered HTTP {}", .0.status)]
    Vendor(HttpResponse),
    /// The vendor refused a request whose shape no public evidence confirms (`fact` is the
    /// ledger's assumption): reported as `Vendor`, with a note saying so.
    #[error("the vendor answered HTTP {}", .response.status)]
    Unconfirmed {
        response: HttpResponse,
        fact: &'static Fact,
    },
    /// The vendor answered with success but not with what the tool returns (not JSON, or not
    /// the shape the tool declares). For a change, whether it happened is not known.
    #[error("the vendor answered with {what}")]
    UnexpectedAnswer { status: Option<u16>, what: String },
    /// The vendor answered with a redirect, which is never followed.
    #[error("the vendor redirected (HTTP {status})")]
    Redirect {
        status: u16,
        location: Option<String>,
    },
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The client cancelled the call.
    #[error("cancelled")]
    Cancelled,
    /// A create was sent but its answer lost; a lookup by name shows it did not happen.
    #[error("not created: {cause}")]
    NotCreated { cause: TransportError },
    /// A change was sent but its answer lost, and whether it happened is unknown.
    #[error("outcome unknown: {cause}")]
    OutcomeUnknown {
        cause: TransportError,
        check_with: Option<&'static str>,
    },
    /// The result is over the result budget and has no list to cut.
    #[error("the result is {size} bytes, over the {budget}-byte result budget")]
    ResultTooLarge { size: usize, budget: usize },
    /// A polled job did not finish within the wait.
    #[error("still {status} after {seconds} s")]
    WaitTimeout { status: String, seconds: u64 },
    /// A bug in the server; its details stay in the server.
    #[error("internal error")]
    Internal,
}

impl From<UpstreamError> for ToolError {
    fn from(e: UpstreamError) -> Self {
        match e {
            UpstreamError::Auth(a) => ToolError::Auth(a),
            UpstreamError::Transport(t) => ToolError::Transport(t),
        }
    }
}

impl ToolError {
    /// Our own code for this error, from a fixed set (the audit log's outcome, a metrics
    /// label): a vendor's error answer is `VENDOR_ERROR`, its status reported next to it.
    pub fn kind(&self) -> &'static str {
        match self {
            ToolError::Invalid(_) | ToolError::Precondition(_) => "INVALID_ARGUMENT",
            ToolError::UnknownSecret { .. } => "UNKNOWN_SECRET_REFERENCE",
            ToolError::SecretNeeded { .. } => "SECRET_NEEDED",
            ToolError::CredentialNeeded { .. } => "CREDENTIAL_NEEDED",
            ToolError::Store(_) => "STORE_UNAVAILABLE",
            ToolError::SecretNotAllowed { .. } => "SECRET_NOT_ALLOWED",
            ToolError::SecretUnreadable { .. } => "SECRET_UNREADABLE",
            ToolError::Unsupported { .. } => "INVALID_CONFIGURATION",
            ToolError::Vendor(_) | ToolError::Unconfirmed { .. } => "VENDOR_ERROR",
            ToolError::UnexpectedAnswer { .. } => "UNEXPECTED_RESPONSE",
            ToolError::Redirect { .. } => "REDIRECTED",
            ToolError::Auth(AuthError::Transport(t)) | ToolError::Transport(t) => match t {
                TransportError::Connect { .. } => "CONNECTION_FAILED",
                TransportError::Timeout { .. } => "TIMEOUT",
                TransportError::TooLarge { .. } | TransportError::TooComplex { .. } => {
                    "RESPONSE_TOO_LARGE"
                }
                TransportError::Other { .. } => "UPSTREAM_UNREACHABLE",
            },
            ToolError::Auth(_) => "AUTHENTICATION_FAILED",
            ToolError::Cancelled => "CANCELLED",
            ToolError::NotCreated { .. } => "NOT_CREATED",
            ToolError::OutcomeUnknown { .. } => "OUTCOME_UNKNOWN",
            ToolError::ResultTooLarge { .. } => "RESULT_TOO_LARGE",
            ToolError::WaitTimeout { .. } => "WAIT_TIMEOUT",
            ToolError::Internal => "INTERNAL_ERROR",
        }
    }

    /// The HTTP status the vendor answered with, when this error is the vendor's answer.
    pub fn vendor_status(&self) -> Option<u16> {
        match self {
            ToolError::Vendor(r) | ToolError::Unconfirmed { response: r, .. } => Some(r.status),
            ToolError::UnexpectedAnswer { status, .. } => *status,
            ToolError::Redirect { status, .. } => Some(*status),
            ToolError::Auth(AuthError::Refused { status, .. }) => Some(*status),
            _ => None,
        }
    }

    /// Whether the call was refused before anything was sent (an invalid argument, an unset
    /// secret reference): the audit log records such calls of every tool.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ToolError::Invalid(_)
                | ToolError::UnknownSecret { .. }
                | ToolError::SecretNotAllowed { .. }
                | ToolError::SecretUnreadable { .. }
                | ToolError::Unsupported { .. }
                | ToolError::CredentialNeeded { .. }
        )
    }

    /// This error as the answer to `op`'s own request (not a read before it): a refusal of a
    /// shape the ledger marks assumed, which the vendor's hints do not explain, says so.
    pub fn of_request(self, op: &OperationSpec) -> ToolError {
        let ToolError::Vendor(response) = self else {
            return self;
        };
        let explained = (op.provider.spec().hint)(
            response.status,
            response.code().as_deref(),
            &response.message().unwrap_or_default(),
        )
        .is_some();
        match op.assumed_request_facts().next() {
            Some(fact) if !explained && matches!(response.status, 400 | 404 | 405 | 415 | 422) => {
                ToolError::Unconfirmed { response, fact }
            }
            _ => ToolError::Vendor(response),
        }
    }

    /// The error envelope of a call of `op`, redacted (the call's secrets, every known
    /// credential) and stripped of hidden characters.
    pub fn envelope(&self, op: &OperationSpec, secrets: &CallSecrets) -> Value {
        let provider = op.provider.spec();
        let mut error = Map::new();
        error.insert("provider".into(), json!(provider.id));
        let (status, code, message, hint) = self.describe(provider);
        if let Some(status) = status {
            error.insert("status".into(), json!(status));
        }
        if let Some(code) = code {
            error.insert("code".into(), json!(code));
        }
        error.insert("message".into(), json!(message));
        error.insert("hint".into(), json!(hint));
        match self {
            ToolError::Invalid(e) | ToolError::Precondition(e) => {
                error.insert("field".into(), json!(e.field));
            }
            ToolError::UnknownSecret { field, .. }
            | ToolError::SecretNeeded { field, .. }
            | ToolError::SecretNotAllowed { field, .. }
            | ToolError::SecretUnreadable { field, .. } => {
                error.insert("field".into(), json!(field));
            }
            _ => {}
        }
        if let ToolError::Vendor(response) | ToolError::Unconfirmed { response, .. } = self {
            if let Some(id) = response.request_id() {
                error.insert("vendor_request_id".into(), json!(id));
            }
            if let (true, Some(code)) = (not_found(provider, response), response.code()) {
                error.insert("vendor_code".into(), json!(code));
            }
        }
        let mut envelope = json!({ "error": error });
        redact::clean_json(&mut envelope, Some(secrets));
        envelope
    }

    /// Status, code, message and hint for this error.
    fn describe(&self, provider: &ProviderSpec) -> (Option<u16>, Option<String>, String, String) {
        let base_var = provider.base_url_var;
        match self {
            ToolError::Invalid(e) => (
                None,
                Some("INVALID_ARGUMENT".into()),
                e.to_string(),
                format!("fix `{}` and call again; nothing was sent", e.field),
            ),
            ToolError::Precondition(e) => (
                None,
                Some("INVALID_ARGUMENT".into()),
                e.to_string(),
                format!("fix `{}` and call again; nothing was changed", e.field),
            ),
            ToolError::UnknownSecret { name, .. } => (
                None,
                Some("UNKNOWN_SECRET_REFERENCE".into()),
                self.to_string(),
                format!(
                    "set DATASOURCE_MCP_SECRET_{name} in the server's environment (or put a file {name} in its secrets directory), or use another reference; nothing was sent"
                ),
            ),
            ToolError::SecretNeeded { offered, .. } => (
                None,
                Some("SECRET_NEEDED".into()),
                self.to_string(),
                format!(
                    "ask the user to open {} and enter the value, then call again with the same arguments; never ask for the value in the chat; nothing was sent",
                    offered.url
                ),
            ),
            ToolError::CredentialNeeded { variable, url, .. } => (
                None,
                Some("CREDENTIAL_NEEDED".into()),
                self.to_string(),
                match url {
                    Some(url) => format!(
                        "ask the user to open {url} and enter their own {variable} there (kept for them only; never ask for it in the chat), then call again; nothing was sent"
                    ),
                    None => format!(
                        "the user's own {variable} is given on the server's intake page, which cannot be offered for this call (a token without a subject, or no --public-url); nothing was sent"
                    ),
                },
            ),
            ToolError::Store(_) => (
                None,
                Some("STORE_UNAVAILABLE".into()),
                self.to_string(),
                "call again shortly; if it persists, the operator should check the store (--store); nothing was sent".into(),
            ),
            ToolError::SecretUnreadable { .. } => (
                None,
                Some("SECRET_UNREADABLE".into()),
                self.to_string(),
                "make it readable there, or remove it so the next place is looked at (the environment, the secrets directory, the keychain, the intake page); nothing was sent".into(),
            ),
            ToolError::SecretNotAllowed { name, .. } => (
                None,
                Some("SECRET_NOT_ALLOWED".into()),
                self.to_string(),
                format!(
                    "send the secret only to the hosts it is meant for, or ask the operator to bind it (DATASOURCE_MCP_HOSTS_{name}); nothing was sent"
                ),
            ),
            ToolError::Unsupported { unsupported, .. } => (
                None,
                Some("INVALID_CONFIGURATION".into()),
                self.to_string(),
                format!("{}; nothing was sent", unsupported.fix),
            ),
            ToolError::Unconfirmed { response, fact } => {
                let (status, code, message, hint) =
                    ToolError::Vendor(response.clone()).describe(provider);
                let claim = fact.claim;
                // What to do meanwhile, where the ledger says, and how to show us what the
                // vendor answered.
                let meanwhile = fact
                    .if_refused
                    .map(|what| format!("; {what}"))
                    .unwrap_or_default();
                let hint = format!(
                    "{hint}; note: this request's shape is not confirmed by public evidence ({claim}){meanwhile}: run the server with --trace-vendor FILE and report what the vendor answered"
                );
                (status, code, message, hint)
            }
            ToolError::Vendor(response) => {
                let vendor_code = response.code();
                let message = response
                    .message()
                    .unwrap_or_else(|| format!("HTTP {} with no message", response.status));
                let hint = (provider.hint)(response.status, vendor_code.as_deref(), &message)
                    .map(str::to_string)
                    .unwrap_or_else(|| status_hint(provider, response, &message));
                // Nothing has that name or id: one code whatever status the vendor uses (its
                // own code, if any, is `vendor_code`).
                let code = match not_found(provider, response) {
                    true => Some(NOT_FOUND.to_string()),
                    false => vendor_code,
                };
                (Some(response.status), code, message, hint)
            }
            ToolError::UnexpectedAnswer { status, .. } => (
                *status,
                Some("UNEXPECTED_RESPONSE".into()),
                self.to_string(),
                format!(
                    "something other than the {} API may have answered (a login page, a proxy): check {base_var}; if this call changes something, read the resource before calling again",
                    provider.title
                ),
            ),
            ToolError::Redirect { status, location } => {
                let target = location
                    .as_deref()
                    .and_then(|l| reqwest::Url::parse(l).ok())
                    .and_then(|u| u.host_str().map(str::to_string))
                    .unwrap_or_else(|| "another address".into());
                (
                    Some(*status),
                    Some("REDIRECTED".into()),
                    format!(
                        "the vendor redirected the request to {target}; redirects are not followed, so credentials stay with the configured host"
                    ),
                    format!("set {base_var} to the address the vendor redirects to"),
                )
            }
            ToolError::Auth(AuthError::Refused { status, message }) => (
                Some(*status),
                Some("AUTHENTICATION_FAILED".into()),
                format!("{} refused the credential: {message}", provider.title),
                provider.credential_hint.to_string(),
            ),
            ToolError::Auth(AuthError::Transport(t)) => transport(provider, t),
            ToolError::Auth(e) => (
                None,
                Some("AUTHENTICATION_FAILED".into()),
                e.to_string(),
                provider.credential_hint.to_string(),
            ),
            ToolError::Transport(t) => transport(provider, t),
            ToolError::Cancelled => (
                None,
                Some("CANCELLED".into()),
                "the call was cancelled by the client".into(),
                "call again if it is still wanted".into(),
            ),
            ToolError::NotCreated { cause } => (
                None,
                Some("NOT_CREATED".into()),
                format!(
                    "the request was sent but its answer was lost ({cause}); a lookup by name shows nothing was created"
                ),
                "nothing changed: it is safe to call again".into(),
            ),
            ToolError::OutcomeUnknown { cause, check_with } => (
                None,
                Some("OUTCOME_UNKNOWN".into()),
                format!(
                    "the request was sent but its answer was lost ({cause}); whether it took effect is unknown"
                ),
                match check_with {
                    Some(tool) => format!(
                        "check with {tool} before calling again: calling again blindly could create a duplicate"
                    ),
                    None => "read the resource to see whether the change took effect before calling again"
                        .into(),
                },
            ),
            ToolError::ResultTooLarge { .. } => (
                None,
                Some("RESULT_TOO_LARGE".into()),
                self.to_string(),
                "ask for less (a filter, fewer ids) or raise DATASOURCE_MCP_MAX_RESULT_BYTES (--max-result-bytes)"
                    .into(),
            ),
            ToolError::WaitTimeout { status, seconds } => (
                None,
                Some("WAIT_TIMEOUT".into()),
                format!("the job is still {status} after {seconds} s"),
                "call again (with wait) to keep waiting".into(),
            ),
            ToolError::Internal => (
                None,
                Some("INTERNAL_ERROR".into()),
                "the server hit an internal error".into(),
                "call again; if it persists, report it with the server's log".into(),
            ),
        }
    }
}

/// The code of an answer that says nothing has that name or id, for every vendor.
pub const NOT_FOUND: &str = "NOT_FOUND";

/// Whether a vendor's error answer says nothing has that name or id: a 404, or the answer the
/// provider uses instead (BigID's 400 "Unable to locate …").
fn not_found(provider: &ProviderSpec, response: &HttpResponse) -> bool {
    response.status == 404
        || provider
            .not_found
            .is_some_and(|says| says(response.status, &response.message().unwrap_or_default()))
}

fn transport(
    provider: &ProviderSpec,
    t: &TransportError,
) -> (Option<u16>, Option<String>, String, String) {
    let base_var = provider.base_url_var;
    let (code, hint) = match t {
        TransportError::Connect { .. } => (
            "CONNECTION_FAILED",
            format!("check {base_var} and that the host is reachable from this machine"),
        ),
        TransportError::Timeout { .. } => (
            "TIMEOUT",
            format!(
                "check {base_var}; if the vendor is just slow, raise DATASOURCE_MCP_REQUEST_TIMEOUT"
            ),
        ),
        TransportError::TooLarge { .. } | TransportError::TooComplex { .. } => (
            "RESPONSE_TOO_LARGE",
            "ask for less (a limit, a page, fewer ids) or raise DATASOURCE_MCP_MAX_RESPONSE_BYTES"
                .into(),
        ),
        TransportError::Other { .. } => (
            "UPSTREAM_UNREACHABLE",
            format!("check {base_var} and the network"),
        ),
    };
    (None, Some(code.into()), t.to_string(), hint)
}

/// A hint from the HTTP status (and, for duplicates, the message).
fn status_hint(provider: &ProviderSpec, response: &HttpResponse, message: &str) -> String {
    let status = response.status;
    let lower = message.to_ascii_lowercase();
    if let (429 | 503, Some(wait)) = (status, response.retry_after) {
        return format!(
            "the vendor asks to wait {} s: call again after that",
            wait.as_secs().max(1)
        );
    }
    if status == 409 || lower.contains("already exist") || lower.contains("duplicate") {
        return "the name already exists: pick another or update it".into();
    }
    match status {
        401 => provider.credential_hint.to_string(),
        403 => format!(
            "the {} credential lacks permission for this operation",
            provider.title
        ),
        404 => "nothing with that name or id exists: list first to see what does".into(),
        429 => "the vendor is rate limiting: wait a little and call again".into(),
        400 | 422 => {
            "the vendor rejected the request: fix what the message names and call again".into()
        }
        500..=599 => format!(
            "{} failed on its side: call again later; if it persists, check the vendor's status",
            provider.title
        ),
        _ => "read the vendor's message".into(),
    }
}
