//! How a provider's credential becomes an `Authorization` (or `X-API-KEY`) header.
//!
//! Two kinds: a static credential sent as is, or a credential exchanged for a token
//! (BigID user token or session, PDC password grant). Tokens are obtained once, shared by
//! concurrent calls (one exchange at a time), and obtained again after a 401.

use reqwest::header::HeaderValue;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::operation::Method;
use crate::redact;
use crate::secret::SecretString;
use crate::upstream::{HttpRequest, HttpResponse, RequestBody, TransportError, Upstream};

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

    fn value(&self, token: &SecretString) -> Result<HeaderValue, AuthError> {
        let text = match self.scheme {
            Scheme::Raw => token.expose().to_string(),
            Scheme::Bearer => format!("Bearer {}", token.expose()),
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| AuthError::Unusable)?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// How a long-lived credential is exchanged for a token.
#[derive(Debug, Clone)]
pub struct TokenExchange {
    pub method: Method,
    /// Relative to the provider's base URL.
    pub path: &'static str,
    pub send: ExchangeSend,
    /// JSON pointer of the token in the response (`/systemToken`, `/data/accessToken`).
    pub token_pointer: &'static str,
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
    fn value(&self) -> &str {
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
            Credential::Exchange { exchange, .. } => match &exchange.send {
                ExchangeSend::Header(_, s) => vec![s],
                ExchangeSend::Json(fields) | ExchangeSend::Form(fields) => fields
                    .iter()
                    .filter_map(|(_, f)| match f {
                        Field::Secret(s) => Some(s),
                        Field::Plain(_) => None,
                    })
                    .collect(),
            },
        }
    }

    /// The header name requests carry, for dry-run plans.
    pub fn header_name(&self) -> &'static str {
        match self {
            Credential::Static { header, .. } | Credential::Exchange { header, .. } => header.name,
        }
    }
}

/// Why a token could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the token exchange was refused (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the token exchange answered without a token at {pointer}")]
    NoToken { pointer: &'static str },
    #[error("the credential holds characters that cannot go in an HTTP header")]
    Unusable,
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// Attaches a provider's credential to requests, caching exchanged tokens.
pub struct Authenticator {
    credential: Credential,
    token: Mutex<Option<SecretString>>,
}

impl Authenticator {
    pub fn new(credential: Credential) -> Self {
        Self {
            credential,
            token: Mutex::new(None),
        }
    }

    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// Whether a 401 can be cured by obtaining a new token.
    pub fn can_refresh(&self) -> bool {
        matches!(self.credential, Credential::Exchange { .. })
    }

    /// The header to send, obtaining a token first if none is cached. Returns the token used,
    /// so a 401 can invalidate exactly that one.
    pub async fn header(
        &self,
        base_url: &str,
        upstream: &Upstream,
    ) -> Result<(&'static str, HeaderValue, SecretString), AuthError> {
        match &self.credential {
            Credential::Static { header, value } => {
                Ok((header.name, header.value(value)?, value.clone()))
            }
            Credential::Exchange { exchange, header } => {
                let mut cached = self.token.lock().await;
                let token = match &*cached {
                    Some(t) => t.clone(),
                    None => {
                        let t = exchange_token(exchange, base_url, upstream).await?;
                        *cached = Some(t.clone());
                        t
                    }
                };
                Ok((header.name, header.value(&token)?, token))
            }
        }
    }

    /// Forgets `used` after the vendor rejected it (unless another call already replaced it).
    pub async fn invalidate(&self, used: &SecretString) {
        let mut cached = self.token.lock().await;
        if cached.as_ref() == Some(used) {
            *cached = None;
        }
    }
}

async fn exchange_token(
    exchange: &TokenExchange,
    base_url: &str,
    upstream: &Upstream,
) -> Result<SecretString, AuthError> {
    let mut headers = Vec::new();
    let body = match &exchange.send {
        ExchangeSend::Header(h, secret) => {
            headers.push((h.name, h.value(secret)?));
            RequestBody::None
        }
        ExchangeSend::Json(fields) => RequestBody::Json(Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.value().to_string())))
                .collect(),
        )),
        ExchangeSend::Form(fields) => RequestBody::Form(
            fields
                .iter()
                .map(|(k, v)| (*k, v.value().to_string()))
                .collect(),
        ),
    };
    let request = HttpRequest {
        method: exchange.method,
        url: format!("{base_url}{}", exchange.path),
        headers,
        body,
        retry_safe: exchange.method == Method::Get,
    };
    let response: HttpResponse = upstream.send(&request).await?;
    if !(200..300).contains(&response.status) {
        return Err(AuthError::Refused {
            status: response.status,
            message: response.message().unwrap_or_else(|| "no message".into()),
        });
    }
    let token = response
        .json()
        .and_then(|v| v.pointer(exchange.token_pointer))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::NoToken {
            pointer: exchange.token_pointer,
        })?;
    redact::register_secret(token);
    Ok(SecretString::new(token))
}
