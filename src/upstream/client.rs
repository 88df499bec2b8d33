//! The HTTP client every vendor request goes through.
//!
//! One shared reqwest client, built on first use (start-up stays fast), with connect and total
//! timeouts, a cap on response size and no redirects (a redirect could carry a credential to
//! another host). It sends an [`OutgoingRequest`] exactly as described: the client adds no
//! header of its own, so a dry run's plan is the request.

use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::{self, HeaderValue};
use tokio::sync::Semaphore;

use super::request::OutgoingRequest;
use super::response::{HttpResponse, TransportError, parse_body};
use super::retry::{self, RetryPolicy};
use super::trace::Trace;
use crate::metrics::Metrics;
use crate::request::Method;

/// Limits of the upstream client.
#[derive(Debug, Clone)]
pub struct UpstreamSettings {
    pub connect_timeout: Duration,
    /// Whole request: connect, send, wait, read.
    pub request_timeout: Duration,
    /// Largest response body read; past it the call fails with a clear error.
    pub max_response_bytes: usize,
    /// Requests in flight at once, across all calls; more wait their turn.
    pub max_concurrent: usize,
    pub retry: RetryPolicy,
    /// Pause between two polls of a job (`wait`).
    pub poll_interval: Duration,
    /// How often a long request reports progress while it waits.
    pub heartbeat: Duration,
    /// Where every vendor request and answer is written (`--trace-vendor`), if anywhere.
    pub trace: Option<std::sync::Arc<Trace>>,
    /// Where latency, retries and vendor 401s are counted (one registry per engine).
    pub metrics: std::sync::Arc<Metrics>,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_response_bytes: 16 * 1024 * 1024,
            max_concurrent: 16,
            retry: RetryPolicy::default(),
            poll_interval: Duration::from_secs(2),
            heartbeat: Duration::from_secs(1),
            trace: None,
            metrics: Default::default(),
        }
    }
}

/// The shared upstream client.
pub struct Upstream {
    settings: UpstreamSettings,
    client: OnceLock<reqwest::Client>,
    in_flight: Semaphore,
}

impl Upstream {
    pub fn new(settings: UpstreamSettings) -> Self {
        let permits = settings.max_concurrent.max(1);
        Self {
            settings,
            client: OnceLock::new(),
            in_flight: Semaphore::new(permits),
        }
    }

    pub fn settings(&self) -> &UpstreamSettings {
        &self.settings
    }

    fn client(&self) -> &reqwest::Client {
        self.client.get_or_init(|| {
            // reqwest is built without a default crypto provider; ring is ours.
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder()
                .connect_timeout(self.settings.connect_timeout)
                .timeout(self.settings.request_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_else(|_| reqwest::Client::new())
        })
    }

    /// Sends a request (with `credential`, the value of its credential header, if it has one)
    /// and reads the answer (any status) within the limits; a request that changes nothing is
    /// retried per the retry policy, any other is sent exactly once.
    pub async fn send(
        &self,
        req: &OutgoingRequest,
        credential: Option<&HeaderValue>,
    ) -> Result<HttpResponse, TransportError> {
        let host = host_of(&req.url);
        if !req.retry_safe {
            return self.traced(req, credential, &host).await;
        }
        let what = format!("{} {host}", req.method.as_str());
        let mut attempts = 0u64;
        let outcome = retry::with_retries(&self.settings.retry, &what, || {
            attempts += 1;
            self.traced(req, credential, &host)
        })
        .await;
        self.settings
            .metrics
            .retries(label(req), attempts.saturating_sub(1));
        outcome
    }

    /// One attempt, written to the trace when there is one.
    async fn traced(
        &self,
        req: &OutgoingRequest,
        credential: Option<&HeaderValue>,
        host: &str,
    ) -> Result<HttpResponse, TransportError> {
        let started = std::time::Instant::now();
        let outcome = self.send_once(req, credential, host).await;
        let took = started.elapsed();
        let status = outcome.as_ref().ok().map(|r| r.status);
        self.settings
            .metrics
            .vendor_request(label(req), took, status);
        if let Some(trace) = &self.settings.trace {
            trace.record(req, outcome.as_ref(), took);
        }
        outcome
    }

    async fn send_once(
        &self,
        req: &OutgoingRequest,
        credential: Option<&HeaderValue>,
        host: &str,
    ) -> Result<HttpResponse, TransportError> {
        // Closed only if the semaphore is dropped, which cannot happen while `self` lives.
        let _permit = self.in_flight.acquire().await.ok();
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self.client().request(method, req.url.clone());
        for (name, value) in &req.headers {
            builder = builder.header(*name, value.clone());
        }
        if let (Some(name), Some(value)) = (req.credential, credential) {
            builder = builder.header(name, value.clone());
        }
        if let Some(bytes) = req.body.bytes() {
            builder = builder.body(bytes);
        }
        let response = builder.send().await.map_err(|e| self.map_error(host, &e))?;
        let status = response.status().as_u16();
        let text_header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let location = text_header(header::LOCATION);
        let retry_after = text_header(header::RETRY_AFTER)
            .as_deref()
            .and_then(retry::parse_retry_after);
        let bytes = self.read_capped(response, host).await?;
        Ok(HttpResponse {
            status,
            body: parse_body(&bytes)?,
            location,
            retry_after,
        })
    }

    async fn read_capped(
        &self,
        mut response: reqwest::Response,
        host: &str,
    ) -> Result<Vec<u8>, TransportError> {
        let limit = self.settings.max_response_bytes;
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(TransportError::TooLarge { limit });
        }
        // Sized once from Content-Length (already checked against the limit).
        let mut bytes = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.map_error(host, &e))?
        {
            if bytes.len() + chunk.len() > limit {
                return Err(TransportError::TooLarge { limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    fn map_error(&self, host: &str, e: &reqwest::Error) -> TransportError {
        let host = host.to_string();
        let cause = root_cause(e);
        // A connect timeout is a connection error: nothing was sent.
        if e.is_connect() {
            return TransportError::Connect { host, cause };
        }
        if e.is_timeout() {
            return TransportError::Timeout {
                host,
                seconds: self.settings.request_timeout.as_secs(),
            };
        }
        TransportError::Other { host, cause }
    }
}

/// A request's provider as a metrics label.
fn label(req: &OutgoingRequest) -> &'static str {
    if req.provider.is_empty() {
        "unknown"
    } else {
        req.provider
    }
}

/// The innermost cause (e.g. "Connection refused (os error 111)"), without the URL reqwest
/// puts in its own message.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

pub(super) fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => "the vendor".into(),
    }
}
