//! `datasource-mcp doctor`: for each provider, whether it is configured, reachable and accepts
//! the credential, found by sending its probe (a cheap read from the operation table) through
//! the same engine every call uses. Nothing printed holds a secret: the base URL loses any
//! user info, and messages come from error envelopes, which are redacted.

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::engine::{CallContext, Engine};
use crate::providers;
use crate::redact;
use crate::spec::ProviderSpec;

/// One provider's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    NotConfigured,
    /// The probe succeeded.
    Ok,
    /// No connection, a timeout, or a redirect: the base URL or the network is wrong.
    Unreachable,
    /// The vendor answered but refused the credential (token exchange or 401/403).
    AuthFailed,
    /// The vendor answered and accepted the credential, but the probe failed anyway
    /// (e.g. a 404 from a base URL missing its API path).
    Failed,
}

/// One row of the table.
#[derive(Clone)]
pub struct Check {
    pub provider: &'static ProviderSpec,
    /// Scheme, host, port and path of the base URL; never user info.
    pub endpoint: String,
    pub status: Status,
    /// What the probe showed, or what to do.
    pub detail: String,
    pub elapsed: Duration,
}

impl Check {
    pub fn failed(&self) -> bool {
        !matches!(self.status, Status::Ok | Status::NotConfigured)
    }
}

/// Checks every provider, configured ones by their probe (one after the other: this is a
/// diagnosis, and the order of the table is the order of the work).
pub async fn check_all(engine: &Engine) -> Vec<Check> {
    let mut checks = Vec::new();
    for spec in providers::VENDORS {
        let Some(client) = engine.provider(spec.provider) else {
            checks.push(Check {
                provider: spec,
                endpoint: String::new(),
                status: Status::NotConfigured,
                detail: format!("set {}", spec.setup),
                elapsed: Duration::ZERO,
            });
            continue;
        };
        let endpoint = display_url(&client.base_url);
        let Some(op) = providers::operation(spec.probe.tool) else {
            continue;
        };
        let args: Option<Map<String, Value>> = serde_json::from_str(spec.probe.args).ok();
        let started = Instant::now();
        let outcome = engine.call(op, args, &CallContext::default()).await;
        let elapsed = started.elapsed();
        let request = format!("{} {}", op.method.as_str(), op.path);
        let (status, detail) = if outcome.is_error {
            verdict(&outcome.value, &request)
        } else {
            (Status::Ok, format!("{request} answered"))
        };
        checks.push(Check {
            provider: spec,
            endpoint,
            status,
            detail: redact::scrub_text(&detail, None).into_owned(),
            elapsed,
        });
    }
    checks
}

/// Reads an error envelope: which step failed, in words, with the envelope's hint.
fn verdict(envelope: &Value, request: &str) -> (Status, String) {
    let error = &envelope["error"];
    let text = |key: &str| error.get(key).and_then(Value::as_str).unwrap_or("");
    let status = error.get("status").and_then(Value::as_u64);
    let kind = match (text("code"), status) {
        ("CONNECTION_FAILED" | "TIMEOUT" | "UPSTREAM_UNREACHABLE" | "REDIRECTED", _) => {
            Status::Unreachable
        }
        ("AUTHENTICATION_FAILED", _) | (_, Some(401 | 403)) => Status::AuthFailed,
        _ => Status::Failed,
    };
    let answer = match status {
        Some(s) => format!("{request}: HTTP {s}: "),
        None => format!("{request}: "),
    };
    let detail = format!("{answer}{} — {}", text("message"), text("hint"));
    (kind, detail.replace(['\n', '\r'], " "))
}

/// The base URL as shown: no user info, no query.
pub fn display_url(base: &str) -> String {
    match reqwest::Url::parse(base) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string().trim_end_matches('/').to_string()
        }
        Err(_) => "(invalid URL)".into(),
    }
}

/// The table, aligned, one provider per line.
pub fn render(checks: &[Check]) -> String {
    let rows: Vec<[String; 5]> = checks
        .iter()
        .map(|c| {
            let (reachable, auth) = match c.status {
                Status::NotConfigured => ("-", "-"),
                Status::Ok => ("yes", "ok"),
                Status::Unreachable => ("NO", "-"),
                Status::AuthFailed => ("yes", "FAILED"),
                Status::Failed => ("yes", "?"),
            };
            let endpoint = if c.endpoint.is_empty() {
                "not configured".to_string()
            } else {
                c.endpoint.clone()
            };
            let detail = if matches!(c.status, Status::NotConfigured) {
                c.detail.clone()
            } else {
                format!("{} ({} ms)", c.detail, c.elapsed.as_millis())
            };
            [
                c.provider.id.to_string(),
                endpoint,
                reachable.to_string(),
                auth.to_string(),
                detail,
            ]
        })
        .collect();
    let header = ["PROVIDER", "ENDPOINT", "REACHABLE", "AUTH", "DETAIL"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == 4 {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in &rows {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_endpoint_never_shows_user_info_or_query() {
        assert_eq!(
            display_url("https://user:S3NT1NEL@acme.bigid.cloud/api/v1/?token=x"),
            "https://acme.bigid.cloud/api/v1"
        );
    }

    #[test]
    fn envelopes_say_which_step_failed() {
        let req = "GET /ds-connections";
        let refused = json!({"error": {"code": "CONNECTION_FAILED", "message": "refused", "hint": "check BIGID_BASE_URL"}});
        assert_eq!(verdict(&refused, req).0, Status::Unreachable);
        let auth = json!({"error": {"code": "AUTHENTICATION_FAILED", "status": 401, "message": "no", "hint": "h"}});
        assert_eq!(verdict(&auth, req).0, Status::AuthFailed);
        let forbidden = json!({"error": {"status": 403, "message": "no", "hint": "h"}});
        assert_eq!(verdict(&forbidden, req).0, Status::AuthFailed);
        let missing =
            json!({"error": {"status": 404, "message": "Not Found", "hint": "list first"}});
        assert_eq!(
            verdict(&missing, req),
            (
                Status::Failed,
                "GET /ds-connections: HTTP 404: Not Found — list first".into()
            )
        );
    }

    #[test]
    fn every_probe_is_a_read_of_its_own_provider_with_valid_arguments() {
        for spec in providers::VENDORS {
            let op = providers::operation(spec.probe.tool)
                .unwrap_or_else(|| panic!("{}: probe {} is not a tool", spec.id, spec.probe.tool));
            assert_eq!(op.provider, spec.provider, "{}", spec.id);
            assert!(
                op.hints.read_only,
                "{}: the probe must change nothing",
                spec.id
            );
            let args: Value = serde_json::from_str(spec.probe.args).unwrap();
            op.prepare(args)
                .unwrap_or_else(|e| panic!("{}: {e}", spec.id));
        }
    }
}
