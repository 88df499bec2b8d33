//! The HTTP client every vendor request goes through.
//!
//! One shared reqwest client, built on first use (start-up stays fast), with connect and total
//! timeouts, a cap on response size, no redirects (a redirect could carry a credential to
//! another host), `User-Agent: datasource-mcp/<version>` and `Accept: application/json`.

pub mod auth;
pub mod retry;

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::Semaphore;

pub use retry::RetryPolicy;

use reqwest::header::{self, HeaderMap, HeaderValue};
use serde_json::Value;

use crate::operation::Method;

pub const USER_AGENT: &str = concat!("datasource-mcp/", env!("CARGO_PKG_VERSION"));

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
        }
    }
}

/// One request, fully built. Not `Debug`: it carries the credential header.
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, HeaderValue)>,
    pub body: RequestBody,
    /// Whether it may be sent again after a transient failure (it changes nothing).
    pub retry_safe: bool,
}

pub enum RequestBody {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

/// A vendor's answer, whatever its status.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub body: ResponseBody,
    /// `Location` of a redirect (never followed).
    pub location: Option<String>,
    /// How long the vendor asks to wait (429, 503).
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResponseBody {
    Empty,
    Json(Value),
    Text(String),
}

impl HttpResponse {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json(&self) -> Option<&Value> {
        match &self.body {
            ResponseBody::Json(v) => Some(v),
            _ => None,
        }
    }

    /// The vendor's human message, from the shapes vendors use: `{"message"}`,
    /// `{"error": "..."}`, `{"error": {"message"}}`, `{"errors": [{"message"}]}`, `{"detail"}`.
    pub fn message(&self) -> Option<String> {
        match &self.body {
            ResponseBody::Json(v) => {
                let text = |v: &Value| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Array(items) => Some(
                        items
                            .iter()
                            .map(|i| i.as_str().map(str::to_string).unwrap_or(i.to_string()))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                    _ => None,
                };
                v.get("message")
                    .and_then(text)
                    .or_else(|| v.pointer("/error/message").and_then(text))
                    .or_else(|| v.pointer("/errors/0/message").and_then(text))
                    .or_else(|| v.get("detail").and_then(text))
                    .or_else(|| v.get("error").and_then(text))
                    .or_else(|| v.get("msg").and_then(text))
            }
            ResponseBody::Text(t) => Some(t.chars().take(500).collect()),
            ResponseBody::Empty => None,
        }
    }

    /// The vendor's machine-readable error code, when it gives one
    /// (`{"error": {"code": "DATASOURCE_NAME_ERROR"}}`, `{"code": "..."}`, `{"errorCode": "..."}`,
    /// or an `error` string in SCREAMING_CASE).
    pub fn code(&self) -> Option<String> {
        let v = self.json()?;
        let as_code = |v: &Value| v.as_str().map(str::to_string);
        v.pointer("/error/code")
            .and_then(as_code)
            .or_else(|| v.get("code").and_then(as_code))
            .or_else(|| v.get("errorCode").and_then(as_code))
            .or_else(|| {
                v.get("error").and_then(Value::as_str).and_then(|s| {
                    let looks_like_code = !s.is_empty()
                        && s.bytes()
                            .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit());
                    looks_like_code.then(|| s.to_string())
                })
            })
    }
}

/// Why no usable answer came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No connection was made: nothing reached the vendor.
    #[error("could not connect to {host}: {cause}")]
    Connect { host: String, cause: String },
    /// The request may have reached the vendor; its answer did not come in time.
    #[error("no answer from {host} within {seconds} s")]
    Timeout { host: String, seconds: u64 },
    #[error("the response is larger than the {limit}-byte limit")]
    TooLarge { limit: usize },
    /// The connection broke after it was made (e.g. reset after the request was sent).
    #[error("the request to {host} failed: {cause}")]
    Other { host: String, cause: String },
}

impl TransportError {
    /// Whether the vendor may have received (and acted on) the request.
    pub fn maybe_sent(&self) -> bool {
        !matches!(self, TransportError::Connect { .. })
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
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
            reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .default_headers(headers)
                .connect_timeout(self.settings.connect_timeout)
                .timeout(self.settings.request_timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_else(|_| reqwest::Client::new())
        })
    }

    /// Sends a request and reads the answer (any status) within the limits; a request that
    /// changes nothing is retried per the retry policy, any other is sent exactly once.
    pub async fn send(&self, req: &HttpRequest) -> Result<HttpResponse, TransportError> {
        // Parsed once per call, not per attempt or per error message.
        let url = reqwest::Url::parse(&req.url).map_err(|e| TransportError::Other {
            host: "the vendor".into(),
            cause: format!("invalid URL: {e}"),
        })?;
        let host = host_of(&url);
        if !req.retry_safe {
            return self.send_once(req, &url, &host).await;
        }
        let what = format!("{} {host}", req.method.as_str());
        retry::with_retries(&self.settings.retry, &what, || {
            self.send_once(req, &url, &host)
        })
        .await
    }

    async fn send_once(
        &self,
        req: &HttpRequest,
        url: &reqwest::Url,
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
        let mut builder = self.client().request(method, url.clone());
        for (name, value) in &req.headers {
            builder = builder.header(*name, value.clone());
        }
        builder = match &req.body {
            RequestBody::None => builder,
            RequestBody::Json(v) => builder.json(v),
            RequestBody::Form(fields) => builder.form(fields),
        };
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
            body: parse_body(&bytes),
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

/// The innermost cause (e.g. "Connection refused (os error 111)"), without the URL reqwest
/// puts in its own message.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => "the vendor".into(),
    }
}

fn parse_body(bytes: &[u8]) -> ResponseBody {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return ResponseBody::Empty;
    }
    match serde_json::from_slice(bytes) {
        Ok(v) => ResponseBody::Json(v),
        Err(_) => ResponseBody::Text(String::from_utf8_lossy(bytes).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resp(v: Value) -> HttpResponse {
        HttpResponse {
            status: 400,
            body: ResponseBody::Json(v),
            location: None,
            retry_after: None,
        }
    }

    #[test]
    fn vendor_messages_and_codes() {
        let r = resp(json!({"error": {"code": "DATASOURCE_NAME_ERROR", "message": "exists"}}));
        assert_eq!(r.code().as_deref(), Some("DATASOURCE_NAME_ERROR"));
        assert_eq!(r.message().as_deref(), Some("exists"));
        let r = resp(json!({"status": 400, "message": ["a", "b"]}));
        assert_eq!(r.message().as_deref(), Some("a; b"));
        assert_eq!(r.code(), None);
        let r = resp(json!({"error": "DATASOURCE_IN_USE", "message": "in use"}));
        assert_eq!(r.code().as_deref(), Some("DATASOURCE_IN_USE"));
        let r = resp(json!({"error": "Invalid user token"}));
        assert_eq!(r.code(), None);
        assert_eq!(r.message().as_deref(), Some("Invalid user token"));
        assert_eq!(parse_body(b"  "), ResponseBody::Empty);
        assert_eq!(parse_body(b"oops"), ResponseBody::Text("oops".into()));
    }
}
