//! The audit trail: one JSON line per call that changes something, and per call refused
//! (an invalid argument, an unset secret reference, a tool the selection leaves out or that
//! does not exist). Written by [`super::Engine::call`] and the MCP handler, whatever the
//! transport.
//!
//! A line holds who (the [`Caller`] the transport names), what (tool and target: the names and
//! ids the call is about), how (dry run or not), the outcome (`ok` or our error code, the
//! vendor's HTTP status when it answered), how long, and the correlation id of the request. No
//! other argument value is ever written: a target comes only from name and id keys, never from
//! under a secret-like key, and is masked by value and shape like every other output.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::operation::OperationSpec;
use crate::redact::{self, CallSecrets};

/// The subject of an OAuth token that carries no `sub`: such callers cannot be told apart, so
/// none of them has a credential of their own.
pub const NO_SUBJECT: &str = "OAuth token without sub";

/// Who made a call, as the transport knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The local client of a stdio session.
    Stdio,
    /// An HTTP client that presented the server's static bearer token.
    StaticToken,
    /// An HTTP client of a server without authentication (`--no-auth`).
    Anonymous,
    /// `datasource-mcp call` on a terminal.
    CommandLine,
    /// An authenticated subject, e.g. the `sub` of a validated OAuth access token.
    Subject(String),
}

impl Caller {
    /// Who a value typed on the intake page is kept for: one OAuth subject, the stdio client,
    /// the static token's holder…
    pub fn binding(&self) -> String {
        match self {
            Caller::Subject(s) => format!("subject:{s}"),
            other => other.label(),
        }
    }

    /// As written in the audit log.
    pub fn label(&self) -> String {
        match self {
            Caller::Stdio => "stdio".into(),
            Caller::StaticToken => "static token".into(),
            Caller::Anonymous => "none".into(),
            Caller::CommandLine => "cli".into(),
            Caller::Subject(s) => {
                let shown: String = s.chars().take(200).collect();
                redact::sanitize_text(&shown).into_owned()
            }
        }
    }
}

/// The correlation id of one request (the HTTP transport's, also in its log lines), carried
/// from the transport to the handler in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrelationId(pub String);

/// Keys whose values name what a call is about, wherever they appear (top level or one object
/// down, e.g. `ds_connection.name`), besides the row's own path parameters.
pub const TARGET_KEYS: [&str; 6] = [
    "name",
    "id",
    "connector_id",
    "datasource_id",
    "resourceName",
    "label",
];

/// Longest target value written, in characters.
const MAX_TARGET_CHARS: usize = 200;

/// The names and ids a call's raw arguments (as the client sent them) are about, by key path.
/// Only strings and numbers under [`TARGET_KEYS`] or the row's path parameters; never a value
/// under a secret-like key. Masked later with the call's secrets ([`finish_target`]).
pub fn target(op: &OperationSpec, args: Option<&Map<String, Value>>) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(args) = args else {
        return out;
    };
    let params = path_params(op.path);
    let wanted = |key: &str| {
        !redact::is_secret_key(key) && (TARGET_KEYS.contains(&key) || params.contains(&key))
    };
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(Value::String(s.chars().take(MAX_TARGET_CHARS).collect())),
        Value::Number(_) => Some(v.clone()),
        _ => None,
    };
    for (key, value) in args {
        if wanted(key) {
            if let Some(v) = scalar(value) {
                out.insert(key.clone(), v);
            }
        } else if let Value::Object(inner) = value
            && !redact::is_secret_key(key)
        {
            for (k, v) in inner {
                if let (true, Some(v)) = (wanted(k), scalar(v)) {
                    out.insert(format!("{key}.{k}"), v);
                }
            }
        }
    }
    out
}

/// Masks a target with everything known secret (the server's credentials, the call's
/// argument secrets and resolved references, secrets by shape) and strips hidden characters.
pub fn finish_target(mut target: Map<String, Value>, secrets: &CallSecrets) -> Value {
    let mut value = Value::Object(std::mem::take(&mut target));
    redact::clean_json(&mut value, Some(secrets));
    value
}

/// The `{param}` names of a path template.
fn path_params(template: &str) -> Vec<&str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

/// What the audit log needs of a call, gathered as it runs: the names and ids as sent, whether
/// it is a dry run, the vendor's last status, and the secrets it sent where.
#[derive(Debug, Default)]
pub struct Trail {
    pub target: Option<Map<String, Value>>,
    pub dry_run: bool,
    /// The status of the vendor's last answer (0: none yet).
    pub status: std::sync::atomic::AtomicU16,
    /// `{name, source, field, hosts}` of every secret sent.
    pub secrets: Vec<Value>,
    /// Which credential acted (`own`, `service`, `own+service`), when per-user mode is on.
    pub credential: Option<&'static str>,
}

impl Trail {
    /// The trail of a call of `op` with `args`; `audited`: whether anything will be written.
    pub fn new(op: &OperationSpec, args: Option<&Map<String, Value>>, audited: bool) -> Trail {
        Trail {
            target: audited.then(|| target(op, args)),
            dry_run: op.mutates()
                && args.is_some_and(|a| a.get("dry_run") == Some(&Value::Bool(true))),
            ..Trail::default()
        }
    }

    /// The vendor's last status, if it answered.
    pub fn vendor_status(&self) -> Option<u16> {
        Some(self.status.load(std::sync::atomic::Ordering::Relaxed)).filter(|s| *s != 0)
    }
}

/// What one audited call did.
pub struct Entry<'a> {
    pub caller: Option<&'a Caller>,
    pub tool: &'a str,
    pub target: Value,
    pub dry_run: bool,
    /// `ok` or our error code.
    pub outcome: &'a str,
    pub vendor_status: Option<u16>,
    pub took: Duration,
    pub correlation_id: Option<&'a str>,
    /// The secrets the call sent (their names, where each came from, and the hosts it went
    /// to); never a value.
    pub secrets: Value,
    /// Which credential acted: the caller's `own`, the `service` credential, or both across
    /// platforms; absent when nothing was to act or per-user mode is off (the service's).
    pub credential: Option<&'a str>,
}

impl Entry<'_> {
    fn line(&self) -> String {
        let caller = self.caller.map_or_else(|| "none".into(), Caller::label);
        let mut line = json!({
            "time": rfc3339(SystemTime::now()),
            "caller": caller,
            "tool": redact::sanitize_text(self.tool),
            "target": self.target,
            "dry_run": self.dry_run,
            "outcome": self.outcome,
            "vendor_status": self.vendor_status,
            "duration_ms": (self.took.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
            "correlation_id": self.correlation_id,
        });
        line["acting"] = json!(self.credential.unwrap_or("none"));
        if self.secrets.as_array().is_some_and(|s| !s.is_empty()) {
            line["references"] = self.secrets.clone();
        }
        // Everything once more through the masks: nothing unmasked leaves, whatever the field.
        redact::clean_json(&mut line, None);
        let mut text = line.to_string();
        text.push('\n');
        text
    }
}

/// Where audit lines go: a file opened for appending, or stderr (never stdout, which stdio
/// serves MCP on). One lock per line, flushed at once: concurrent calls never interleave, and a
/// line is on disk when the call returns.
pub struct AuditLog {
    out: Mutex<Box<dyn Write + Send>>,
    /// A write failure is reported once on stderr, not per call.
    failed: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog")
    }
}

impl AuditLog {
    /// `-` is stderr; anything else a file path, created if missing and appended to.
    pub fn open(target: &str) -> std::io::Result<AuditLog> {
        if target == "-" {
            return Ok(Self::to_writer(std::io::stderr()));
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(target)?;
        Ok(Self::to_writer(std::io::BufWriter::new(file)))
    }

    pub fn to_writer(out: impl Write + Send + 'static) -> AuditLog {
        AuditLog {
            out: Mutex::new(Box::new(out)),
            failed: Default::default(),
        }
    }

    /// Appends one line. A short blocking write under a lock: the line is built before it is
    /// taken, and a write of a few hundred bytes to a local file or stderr does not stall the
    /// runtime.
    pub fn record(&self, entry: &Entry<'_>) {
        let line = entry.line();
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        let written = out.write_all(line.as_bytes()).and_then(|()| out.flush());
        if let Err(e) = written
            && !self.failed.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::error!("the audit log cannot be written: {e}");
        }
    }
}

/// `time` as RFC 3339 in UTC with milliseconds, e.g. `2026-05-01T09:30:00.123Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// Year, month, day of a count of days since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_in_utc() {
        let t = |s: u64, ms: u64| {
            rfc3339(UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms))
        };
        assert_eq!(t(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(t(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(t(1_767_225_599, 999), "2025-12-31T23:59:59.999Z");
        assert_eq!(t(4_107_542_400, 0), "2100-03-01T00:00:00.000Z");
    }

    #[test]
    fn path_parameters() {
        assert_eq!(path_params("/a/{name}/b/{id}"), ["name", "id"]);
        assert!(path_params("/a").is_empty());
    }
}
