//! A wire trace for bug reports (`--trace-vendor FILE`): every vendor request and its answer
//! (or why none came), one JSON line each, appended to a file. Everything in it is masked as a
//! result would be: a user whose vendor answers differently from what we believe can attach
//! the file to a report without leaking a secret.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use super::request::OutgoingRequest;
use super::response::{HttpResponse, ResponseBody, TransportError};
use crate::redact;

/// Most of an answer's text a line keeps.
const MAX_BODY_CHARS: usize = 64 * 1024;

/// An open trace file. Lines are written whole, under a lock.
#[derive(Debug)]
pub struct Trace {
    file: Mutex<std::fs::File>,
}

impl Trace {
    /// Opens `path` for appending (created readable by its owner only: it holds URLs and
    /// answers).
    pub fn open(path: &std::path::Path) -> std::io::Result<Trace> {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        Ok(Trace {
            file: Mutex::new(options.open(path)?),
        })
    }

    /// Appends one exchange.
    pub fn record(
        &self,
        request: &OutgoingRequest,
        outcome: Result<&HttpResponse, &TransportError>,
        took: Duration,
    ) {
        let mut line = Map::new();
        line.insert("time".into(), json!(rfc3339(SystemTime::now())));
        line.insert("request".into(), Value::Object(request.traced()));
        match outcome {
            Ok(response) => {
                let body = match &response.body {
                    ResponseBody::Empty => Value::Null,
                    ResponseBody::Json(v) => v.clone(),
                    ResponseBody::Text(t) => {
                        json!(redact::excerpt(t, MAX_BODY_CHARS, request.mask.as_ref()))
                    }
                };
                let mut answer = json!({"status": response.status, "body": body});
                if let Some(location) = &response.location {
                    answer["location"] = json!(location);
                }
                if let Some(wait) = response.retry_after {
                    answer["retry_after_seconds"] = json!(wait.as_secs());
                }
                line.insert("response".into(), answer);
            }
            Err(e) => {
                line.insert("error".into(), json!(e.to_string()));
            }
        }
        line.insert(
            "ms".into(),
            json!((took.as_secs_f64() * 1000.0 * 10.0).round() / 10.0),
        );
        let mut line = Value::Object(line);
        // A token exchange's own token, wherever its answer repeats it (it is registered for
        // masking only once this answer has been read).
        let issued = match (request.secret_in_answer, outcome) {
            (Some(pointer), Ok(response)) => response
                .json()
                .and_then(|v| v.pointer(pointer))
                .and_then(Value::as_str)
                .map(|token| {
                    let mut own = redact::CallSecrets::default();
                    own.add(token);
                    own
                }),
            _ => None,
        };
        if let Some(issued) = &issued {
            redact::clean_json_with(&mut line, Some(issued.matcher()));
        }
        redact::clean_json_with(&mut line, request.mask.as_ref());
        let mut text = line.to_string();
        text.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(text.as_bytes()) {
            tracing::warn!("could not write the vendor trace: {e}");
        }
    }
}

/// `2026-12-01T10:00:00.123Z`.
fn rfc3339(at: SystemTime) -> String {
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_583_200_123);
        assert_eq!(rfc3339(at), "2025-12-01T10:00:00.123Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let leap = SystemTime::UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }
}
