//! A configured provider at run time: where it lives, its credential, and the authenticated
//! send. The request a dry run prints and the one sent come from [`ProviderClient::request`].

use super::acting::ACTING;
use super::auth::{AuthError, Authenticator};
use super::client::Upstream;
use super::request::OutgoingRequest;
use super::response::{HttpResponse, TransportError};
use crate::providers::ProviderConfig;
use crate::redact;
use crate::request::{Method, RequestParts};
use crate::spec::ProviderSpec;

/// Why a request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Transport(#[from] TransportError),
}

pub struct ProviderClient {
    pub spec: &'static ProviderSpec,
    pub base_url: String,
    pub auth: Authenticator,
    /// Per-user mode: each call says which credential acts ([`ACTING`]); a call that says
    /// nothing sends nothing.
    pub per_user: bool,
}

impl ProviderClient {
    /// Every secret of the credential is masked by value from now on.
    pub fn new(config: ProviderConfig) -> Self {
        for secret in config.credential.secrets() {
            redact::register_secret(secret.expose());
        }
        Self {
            spec: config.provider.spec(),
            base_url: config.base_url,
            auth: Authenticator::new(config.credential),
            per_user: false,
        }
    }

    /// The request `method path` with `parts` sends to this provider.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        parts: &RequestParts,
        retry_safe: bool,
    ) -> Result<OutgoingRequest, TransportError> {
        let credential = Some(self.auth.credential().header().name);
        let mut request =
            OutgoingRequest::new(method, &self.base_url, path, parts, credential, retry_safe)?;
        request.provider = self.spec.id;
        Ok(request)
    }

    /// Sends `request` with the provider's credential; on a 401 obtains a new token once and
    /// repeats the request once (a 401 means the vendor did nothing). An answer whose status
    /// says success but whose body refuses the token (the provider's [`Refusal`]) counts as a
    /// 401; refused again, it is an authentication error.
    ///
    /// [`Refusal`]: crate::spec::Refusal
    pub async fn send(
        &self,
        upstream: &Upstream,
        request: &OutgoingRequest,
    ) -> Result<HttpResponse, UpstreamError> {
        let own = match self.per_user {
            false => None,
            true => ACTING
                .try_with(|a| a.for_provider(self.spec.provider))
                .ok()
                .flatten()
                .ok_or(AuthError::NoneActing)?,
        };
        let auth: &Authenticator = own.as_deref().unwrap_or(&self.auth);
        let mut refreshed = false;
        loop {
            let (value, token) = auth.header(self.spec, &self.base_url, upstream).await?;
            let response = upstream.send(request, Some(&value)).await?;
            let refused = match (response.is_success(), self.spec.refusal, response.json()) {
                (true, Some(refusal), Some(body)) => refusal.of_call(body),
                _ => None,
            };
            if refused.is_some() {
                upstream.settings().metrics.vendor_refusal(self.spec.id);
            }
            let unauthorized = response.status == 401 || refused.is_some();
            if unauthorized && auth.can_refresh() && !refreshed {
                tracing::info!(
                    provider = self.spec.id,
                    status = response.status,
                    "the token was refused: obtaining a new one"
                );
                auth.invalidate(&token).await;
                refreshed = true;
                continue;
            }
            if let Some(message) = refused {
                return Err(AuthError::Refused {
                    status: response.status,
                    message,
                }
                .into());
            }
            return Ok(response);
        }
    }
}
