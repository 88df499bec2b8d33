//! How a provider's credential becomes the header a request carries.
//!
//! Two kinds (described in the provider's spec): a static credential sent as is, or a
//! credential exchanged for a token (BigID user token or session, PDC password grant). Tokens
//! are obtained once, shared by concurrent calls (one exchange at a time), and obtained again
//! after a 401.

use reqwest::header::HeaderValue;
use serde_json::Value;
use tokio::sync::Mutex;

use super::client::Upstream;
use super::request::{OutgoingBody, OutgoingRequest};
use super::response::{HttpResponse, TransportError};
use crate::redact;
use crate::request::Method;
use crate::secret::SecretString;
use crate::spec::{
    AuthHeader, Credential, ExchangeSend, ProviderSpec, Refusal, Scheme, TokenExchange,
};

/// Why a token could not be obtained.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The vendor refused the credential: at the token exchange, or (with a success status,
    /// as BigID does) the token an API request carried.
    #[error("the credential was refused (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the token exchange answered without a token at {pointer}")]
    NoToken { pointer: &'static str },
    #[error("the credential holds characters that cannot go in an HTTP header")]
    Unusable,
    /// Per-user mode is on and this call set no credential to act with: nothing is sent.
    #[error(
        "no credential of yours acts at this provider (per-user credentials): the resource datasource-mcp://me/credentials links to the page where you give yours"
    )]
    NoneActing,
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// The value of `header` for `token`, marked sensitive (never logged by the HTTP stack).
fn header_value(header: AuthHeader, token: &SecretString) -> Result<HeaderValue, AuthError> {
    let text = match header.scheme {
        Scheme::Raw => token.expose().to_string(),
        Scheme::Bearer => format!("Bearer {}", token.expose()),
    };
    let mut value = HeaderValue::from_str(&text).map_err(|_| AuthError::Unusable)?;
    value.set_sensitive(true);
    Ok(value)
}

/// Attaches a provider's credential to requests, caching exchanged tokens. A cached token is
/// masked by value while it is cached, and no longer once it is replaced.
pub struct Authenticator {
    credential: Credential,
    token: Mutex<Option<(SecretString, redact::TokenRegistration)>>,
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

    /// The credential header's value, obtaining a token first if none is cached. Returns the
    /// token used, so a 401 can invalidate exactly that one.
    pub async fn header(
        &self,
        provider: &'static ProviderSpec,
        base_url: &str,
        upstream: &Upstream,
    ) -> Result<(HeaderValue, SecretString), AuthError> {
        match &self.credential {
            Credential::Static { header, value } => {
                Ok((header_value(*header, value)?, value.clone()))
            }
            Credential::Exchange { exchange, header } => {
                let mut cached = self.token.lock().await;
                let token = match &*cached {
                    Some((t, _)) => t.clone(),
                    None => {
                        let t = exchange_token(
                            provider.id,
                            provider.refusal,
                            exchange,
                            base_url,
                            upstream,
                        )
                        .await?;
                        let registration = redact::register_token(t.expose());
                        redact::ready().await;
                        *cached = Some((t.clone(), registration));
                        t
                    }
                };
                Ok((header_value(*header, &token)?, token))
            }
        }
    }

    /// Forgets `used` after the vendor rejected it (unless another call already replaced it).
    pub async fn invalidate(&self, used: &SecretString) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|(t, _)| t == used) {
            *cached = None;
        }
    }
}

async fn exchange_token(
    provider: &'static str,
    refusal: Option<Refusal>,
    exchange: &TokenExchange,
    base_url: &str,
    upstream: &Upstream,
) -> Result<SecretString, AuthError> {
    let mut secret_header = None;
    let body = match &exchange.send {
        ExchangeSend::Header(h, secret) => {
            secret_header = Some((h.name, header_value(*h, secret)?));
            OutgoingBody::None
        }
        ExchangeSend::Json(fields) => OutgoingBody::Json(Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.value().to_string())))
                .collect(),
        )),
        ExchangeSend::Form(fields) => OutgoingBody::Form(
            fields
                .iter()
                .map(|(k, v)| (*k, v.value().to_string()))
                .collect(),
        ),
    };
    let url =
        reqwest::Url::parse(&exchange.path.url(base_url)).map_err(|e| TransportError::Other {
            host: "the vendor".into(),
            cause: format!("invalid URL: {e}"),
        })?;
    let mut request = OutgoingRequest::with_body(
        exchange.method,
        url,
        body,
        None,
        exchange.method == Method::Get,
    )?;
    if let Some((name, value)) = secret_header {
        request = request.header(name, value);
    }
    request.provider = provider;
    // The token the answer carries is masked in the trace wherever the answer repeats it.
    request.secret_in_answer = Some(exchange.token_pointer);
    let response: HttpResponse = upstream.send(&request, None).await?;
    // A vendor that says "refused" with a success status (BigID: 200 with `success: false`)
    // refused the credential; that is not a login endpoint without a token.
    if let (true, Some(message)) = (
        response.is_success(),
        refusal
            .zip(response.json())
            .and_then(|(r, body)| r.of_exchange(body)),
    ) {
        return Err(AuthError::Refused {
            status: response.status,
            message,
        });
    }
    let token = response
        .json()
        .and_then(|v| v.pointer(exchange.token_pointer))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    let absent = matches!(response.status, 404 | 405) || (response.is_success() && token.is_none());
    if let (true, Some(otherwise)) = (absent, &exchange.otherwise) {
        tracing::info!(
            status = response.status,
            "no token from the first login endpoint; trying the other"
        );
        return Box::pin(exchange_token(
            provider, refusal, otherwise, base_url, upstream,
        ))
        .await;
    }
    if !response.is_success() {
        return Err(AuthError::Refused {
            status: response.status,
            message: response.message().unwrap_or_else(|| "no message".into()),
        });
    }
    let token = token.ok_or(AuthError::NoToken {
        pointer: exchange.token_pointer,
    })?;
    Ok(SecretString::new(token))
}
