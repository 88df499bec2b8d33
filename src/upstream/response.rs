//! What came back from a vendor: an answer of any status ([`HttpResponse`]), or why none
//! usable came ([`TransportError`]).

use std::time::Duration;

use serde_json::Value;

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
            ResponseBody::Text(t) => Some(crate::redact::excerpt(t, 500, None)),
            ResponseBody::Empty => None,
        }
    }

    /// The vendor's id of this request, for its support (`requestId`, `request_id`,
    /// `metadata.request_id`).
    pub fn request_id(&self) -> Option<String> {
        let v = self.json()?;
        ["/requestId", "/request_id", "/metadata/request_id"]
            .iter()
            .find_map(|p| v.pointer(p).and_then(Value::as_str))
            .map(str::to_string)
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
    /// Too many values to parse within bounded memory.
    #[error(
        "the response holds about {values} JSON values, more than the {limit} a call may parse"
    )]
    TooComplex { values: usize, limit: usize },
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

/// Most JSON values an answer may hold. A parsed value costs 32 bytes or more, and an answer
/// of 16 MiB made of small numbers is 8 million of them: half a gigabyte for one call. Real
/// answers hold far fewer (a page of 10,000 data sources of 40 fields is 400,000).
pub const MAX_VALUES: usize = 500_000;

pub(super) fn parse_body(bytes: &[u8]) -> Result<ResponseBody, TransportError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(ResponseBody::Empty);
    }
    let values = count_values(bytes);
    if values > MAX_VALUES {
        return Err(TransportError::TooComplex {
            values,
            limit: MAX_VALUES,
        });
    }
    Ok(match serde_json::from_slice(bytes) {
        Ok(v) => ResponseBody::Json(v),
        Err(_) => ResponseBody::Text(String::from_utf8_lossy(bytes).into_owned()),
    })
}

/// An upper bound of the number of values in JSON text, counted without parsing it: every
/// value but the first follows a `,`, `:`, `[` or `{` outside a string.
fn count_values(bytes: &[u8]) -> usize {
    let mut count = 1;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b',' | b':' | b'[' | b'{' => count += 1,
                _ => {}
            }
        }
    }
    count
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
        assert_eq!(parse_body(b"  ").unwrap(), ResponseBody::Empty);
        assert_eq!(
            parse_body(b"oops").unwrap(),
            ResponseBody::Text("oops".into())
        );
        assert_eq!(
            count_values(br#"{"a": [1, 2, {"b": "x,y:[{"}], "c\"d": 3}"#),
            10
        );
        let many = format!("[{}1]", "1,".repeat(MAX_VALUES));
        assert!(matches!(
            parse_body(many.as_bytes()),
            Err(TransportError::TooComplex { .. })
        ));
    }
}
