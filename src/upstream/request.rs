//! The one description of a vendor request. It is built once from a base URL, a path
//! template and the arguments' parts; a dry run prints it and the client sends it, so what a
//! dry run shows is what goes out (the URL as parsed, every header, the body).

use reqwest::Url;
use reqwest::header::HeaderValue;
use serde_json::{Map, Value, json};

use super::response::TransportError;
use crate::redact;
use crate::request::{Method, RequestParts};

/// Every request says who sends it.
pub const USER_AGENT: &str = concat!("datasource-mcp/", env!("CARGO_PKG_VERSION"));

/// A request, fully described. Not `Debug`: a header may hold a credential.
pub struct OutgoingRequest {
    pub method: Method,
    /// Exactly what goes out: parsed (and so normalised) once.
    pub url: Url,
    /// Every header but the credential, in the order sent. Values marked sensitive are shown
    /// masked.
    pub headers: Vec<(&'static str, HeaderValue)>,
    /// The header the provider's credential goes in, filled when sent (masked in a plan).
    pub credential: Option<&'static str>,
    pub body: OutgoingBody,
    /// Whether it may be sent again after a transient failure (it changes nothing).
    pub retry_safe: bool,
    /// The secrets of the call it belongs to, masked in its trace.
    pub mask: Option<redact::Matcher>,
    /// Where its answer holds a secret of its own (a token exchange's token, at this JSON
    /// pointer): masked in the trace wherever the answer repeats it.
    pub secret_in_answer: Option<&'static str>,
    /// The provider it goes to (the label of its metrics); empty when unknown.
    pub provider: &'static str,
}

pub enum OutgoingBody {
    None,
    Json(Value),
    Form(Vec<(&'static str, String)>),
}

impl OutgoingBody {
    /// The bytes on the wire.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        match self {
            OutgoingBody::None => None,
            OutgoingBody::Json(v) => Some(serde_json::to_vec(v).unwrap_or_default()),
            OutgoingBody::Form(fields) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in fields {
                    form.append_pair(k, v);
                }
                Some(form.finish().into_bytes())
            }
        }
    }

    fn content_type(&self) -> Option<&'static str> {
        match self {
            OutgoingBody::None => None,
            OutgoingBody::Json(_) => Some("application/json"),
            OutgoingBody::Form(_) => Some("application/x-www-form-urlencoded"),
        }
    }
}

impl OutgoingRequest {
    /// `method {base}{template}` with the parts' path parameters (percent-encoded), query and
    /// JSON body, the headers every request carries, and a credential slot.
    pub fn new(
        method: Method,
        base: &str,
        template: &str,
        parts: &RequestParts,
        credential: Option<&'static str>,
        retry_safe: bool,
    ) -> Result<Self, TransportError> {
        let body = match &parts.body {
            Some(v) => OutgoingBody::Json(v.clone()),
            None => OutgoingBody::None,
        };
        Self::with_body(
            method,
            build_url(base, template, parts)?,
            body,
            credential,
            retry_safe,
        )
    }

    /// A request to `url` with `body` (token exchanges send forms).
    pub fn with_body(
        method: Method,
        url: Url,
        body: OutgoingBody,
        credential: Option<&'static str>,
        retry_safe: bool,
    ) -> Result<Self, TransportError> {
        let mut headers = vec![("accept", HeaderValue::from_static("application/json"))];
        if let Some(kind) = body.content_type() {
            headers.push(("content-type", HeaderValue::from_static(kind)));
        }
        headers.push(("user-agent", HeaderValue::from_static(USER_AGENT)));
        Ok(Self {
            method,
            url,
            headers,
            credential,
            body,
            retry_safe,
            mask: None,
            secret_in_answer: None,
            provider: "",
        })
    }

    /// Adds a header (a token exchange's own credential, marked sensitive).
    pub fn header(mut self, name: &'static str, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// What a wire trace shows: the plan and the headers (credentials masked).
    pub fn traced(&self) -> Map<String, Value> {
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            let shown = if value.is_sensitive() {
                redact::MASK
            } else {
                value.to_str().unwrap_or(redact::MASK)
            };
            headers.insert((*name).into(), json!(shown));
        }
        if let Some(name) = self.credential {
            headers.insert(name.into(), json!(redact::MASK));
        }
        let mut traced = self.plan();
        traced.insert("headers".into(), Value::Object(headers));
        traced
    }

    /// What a dry run shows: method, URL and body. Headers (accept, user agent, a masked
    /// credential) would only cost the model's context; the trace shows them.
    pub fn plan(&self) -> Map<String, Value> {
        let mut plan = Map::new();
        plan.insert("method".into(), json!(self.method.as_str()));
        plan.insert("url".into(), json!(self.url.as_str()));
        match &self.body {
            OutgoingBody::None => {}
            OutgoingBody::Json(v) => {
                plan.insert("body".into(), v.clone());
            }
            OutgoingBody::Form(fields) => {
                let form: Map<String, Value> = fields
                    .iter()
                    .map(|(k, v)| ((*k).to_string(), json!(v)))
                    .collect();
                plan.insert("body".into(), Value::Object(form));
            }
        }
        plan
    }
}

/// Characters left as they are in a path segment (RFC 3986 unreserved); everything else,
/// spaces, parentheses, colons and slashes included, is percent-encoded.
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `{base}{template}` with placeholders filled (percent-encoded) and the query appended,
/// parsed once: the URL that goes out.
pub fn build_url(base: &str, template: &str, parts: &RequestParts) -> Result<Url, TransportError> {
    let mut url = String::with_capacity(base.len() + template.len() + 32);
    url.push_str(base);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        url.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let name = &rest[open + 1..open + close];
        let value = parts.path_param(name).unwrap_or_default();
        url.extend(percent_encoding::utf8_percent_encode(value, PATH_SEGMENT));
        rest = &rest[open + close + 1..];
    }
    url.push_str(rest);
    if !parts.query.is_empty() {
        url.push('?');
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &parts.query {
            query.append_pair(k, v);
        }
        url.push_str(&query.finish());
    }
    Url::parse(&url).map_err(|e| TransportError::Other {
        host: "the vendor".into(),
        cause: format!("invalid URL: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_path_parameters() {
        let parts = RequestParts::new()
            .path("name", "Prod MySQL (EU): a/b")
            .query("withoutCredentialValue", "true")
            .query("ids", "a,b c");
        assert_eq!(
            build_url("https://h/api/v1", "/ds_connections/{name}", &parts)
                .unwrap()
                .as_str(),
            "https://h/api/v1/ds_connections/Prod%20MySQL%20%28EU%29%3A%20a%2Fb?withoutCredentialValue=true&ids=a%2Cb+c"
        );
        assert_eq!(
            build_url("https://h", "/x", &RequestParts::new())
                .unwrap()
                .as_str(),
            "https://h/x"
        );
    }

    #[test]
    fn a_plan_shows_every_header_and_masks_credentials() {
        let mut secret = HeaderValue::from_static("user-token");
        secret.set_sensitive(true);
        let req = OutgoingRequest::new(
            Method::Post,
            "https://h/api",
            "/x",
            &RequestParts::new().body(json!({"a": 1})),
            Some("authorization"),
            false,
        )
        .unwrap()
        .header("x-extra", secret);
        assert_eq!(
            Value::Object(req.plan()),
            json!({"method": "POST", "url": "https://h/api/x", "body": {"a": 1}})
        );
        assert_eq!(
            Value::Object(req.traced()),
            json!({"method": "POST", "url": "https://h/api/x", "headers": {
                "accept": "application/json", "authorization": "***", "content-type": "application/json",
                "user-agent": USER_AGENT, "x-extra": "***"}, "body": {"a": 1}})
        );
    }
}
