//! Tool arguments: typed, validated before anything is sent, errors that name the field.
//!
//! Every operation's argument type implements [`ToolArgs`]. Arguments arrive as JSON, are
//! deserialized into the type (serde enforces required fields, types and enums), then
//! [`ToolArgs::validate`] checks what serde cannot (ranges, formats, non-empty lists). An error
//! names the field and the rule, never the value: the value may be a password.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::request::RequestParts;

/// A rule an argument broke, before any request was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {reason}")]
pub struct InvalidArgument {
    /// Dotted path of the field, e.g. `ds_connection.name` or `data_sources[1].resourceName`.
    pub field: String,
    pub reason: String,
}

impl InvalidArgument {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// The argument type of one operation.
pub trait ToolArgs: DeserializeOwned + JsonSchema + 'static {
    /// Checks serde cannot express. The error names the field.
    fn validate(&self) -> Result<(), InvalidArgument> {
        Ok(())
    }

    /// Path parameters, query and body of the request this call sends.
    fn into_request(self) -> RequestParts;
}

/// Longest string argument: a whole key file or certificate fits; a 70,000-character name
/// does not reach the vendor.
pub const MAX_STRING_CHARS: usize = 64 * 1024;

/// Longest value that goes into a URL path (a name or an id).
pub const MAX_PATH_PARAM_CHARS: usize = 512;

/// Deserializes, validates and turns arguments into the request parts of one call.
pub fn prepare<A: ToolArgs>(args: Value) -> Result<RequestParts, InvalidArgument> {
    check::lengths(&args, &mut String::new())?;
    let parsed: A = parse(args)?;
    parsed.validate()?;
    let parts = parsed.into_request();
    for (name, value) in &parts.path_params {
        check::path_segment(name, value)?;
    }
    Ok(parts)
}

/// Deserializes arguments, mapping serde's error to the field it concerns.
pub fn parse<A: DeserializeOwned>(args: Value) -> Result<A, InvalidArgument> {
    serde_path_to_error::deserialize(args).map_err(|err| {
        let path = err.path().to_string();
        let (field_suffix, reason) = describe_serde_error(&err.inner().to_string());
        let field = match (path.as_str(), field_suffix) {
            (".", Some(f)) => f,
            (".", None) => "arguments".to_string(),
            (p, Some(f)) if p == f || p.ends_with(&format!(".{f}")) => p.to_string(),
            (p, Some(f)) => format!("{p}.{f}"),
            (p, None) => p.to_string(),
        };
        InvalidArgument::new(field, reason)
    })
}

/// Rewrites a serde message so it names the rule but not the rejected value
/// (`invalid type: string "hunter2", expected u32` would quote a password).
fn describe_serde_error(msg: &str) -> (Option<String>, String) {
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    let between = |s: &str| s.split('`').nth(1).map(str::to_string);
    let expected = |s: &str| s.rsplit_once(", expected ").map(|(_, e)| e.to_string());
    if let Some(rest) = msg.strip_prefix("missing field ") {
        return (between(rest), "is required".into());
    }
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        let known = expected(rest)
            .map(|e| format!(" (expected {})", e.replace('`', "")))
            .unwrap_or_default();
        let field = between(rest).map(|f| f.chars().take(64).collect());
        return (field, format!("is not a known argument{known}"));
    }
    if let Some(rest) = msg.strip_prefix("unknown variant ") {
        let allowed = expected(rest).unwrap_or_default().replace('`', "");
        return (None, format!("must be {allowed}"));
    }
    if let Some(rest) = msg.strip_prefix("invalid type: ") {
        let got = rest.split([' ', ',']).next().unwrap_or("value");
        let want = expected(rest).unwrap_or_else(|| "another type".into());
        return (None, format!("wrong type: expected {want}, got {got}"));
    }
    if let Some(rest) = msg.strip_prefix("invalid value: ") {
        let want = expected(rest).unwrap_or_else(|| "another value".into());
        return (None, format!("invalid value: expected {want}"));
    }
    if msg.starts_with("invalid length") {
        return (None, msg.to_string());
    }
    (None, msg.to_string())
}

/// Checks used by argument types. Each returns an error naming `field`.
/// The `wait` / `wait_seconds` pair of a row that can wait for the work it started: how long
/// to wait, if at all (300 s unless said; `check::wait_seconds` bounds it).
pub fn wait_for(wait: bool, wait_seconds: Option<u64>) -> Option<std::time::Duration> {
    wait.then(|| std::time::Duration::from_secs(wait_seconds.unwrap_or(300)))
}

pub mod check {
    use super::InvalidArgument;

    pub fn not_blank(field: &str, value: &str) -> Result<(), InvalidArgument> {
        if value.trim().is_empty() {
            return Err(InvalidArgument::new(field, "must not be empty"));
        }
        no_control_chars(field, value)
    }

    pub fn no_control_chars(field: &str, value: &str) -> Result<(), InvalidArgument> {
        if value.chars().any(|c| c.is_control() || is_format_char(c)) {
            return Err(InvalidArgument::new(
                field,
                "must not contain control or invisible characters",
            ));
        }
        Ok(())
    }

    fn is_format_char(c: char) -> bool {
        matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{E0000}'..='\u{E007F}')
    }

    /// Every string in `value` is at most [`super::MAX_STRING_CHARS`] long.
    pub fn lengths(value: &serde_json::Value, path: &mut String) -> Result<(), InvalidArgument> {
        use serde_json::Value;
        match value {
            Value::String(s)
                if s.len() > super::MAX_STRING_CHARS
                    && s.chars().count() > super::MAX_STRING_CHARS =>
            {
                let field = if path.is_empty() { "arguments" } else { path };
                Err(InvalidArgument::new(
                    field,
                    format!("must be at most {} characters", super::MAX_STRING_CHARS),
                ))
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    lengths(item, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let len = path.len();
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    lengths(item, path)?;
                    path.truncate(len);
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A value that goes into a URL path: not a dot segment (`.`, `..`, or either once
    /// percent-decoded, however many times), which the URL parser or the vendor would resolve
    /// to another path, and not overlong.
    pub fn path_segment(field: &str, value: &str) -> Result<(), InvalidArgument> {
        if value.chars().count() > super::MAX_PATH_PARAM_CHARS {
            return Err(InvalidArgument::new(
                field,
                format!("must be at most {} characters", super::MAX_PATH_PARAM_CHARS),
            ));
        }
        let mut decoded = value.to_string();
        for _ in 0..4 {
            if decoded == "." || decoded == ".." {
                return Err(InvalidArgument::new(
                    field,
                    "must not be `.` or `..` (it would address another path)",
                ));
            }
            let next = percent_encoding::percent_decode_str(&decoded)
                .decode_utf8_lossy()
                .into_owned();
            if next == decoded {
                break;
            }
            decoded = next;
        }
        Ok(())
    }

    pub fn non_empty_list<T>(field: &str, items: &[T]) -> Result<(), InvalidArgument> {
        if items.is_empty() {
            return Err(InvalidArgument::new(field, "must hold at least one item"));
        }
        Ok(())
    }

    /// `wait_seconds`, when given: 1 to 3600 (the schemas say the same).
    pub fn wait_seconds(value: Option<u64>) -> Result<(), InvalidArgument> {
        match value {
            Some(s) => range("wait_seconds", s, 1, 3600),
            None => Ok(()),
        }
    }

    pub fn range(field: &str, value: u64, min: u64, max: u64) -> Result<(), InvalidArgument> {
        if value < min || value > max {
            return Err(InvalidArgument::new(
                field,
                format!("must be between {min} and {max}"),
            ));
        }
        Ok(())
    }

    /// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, hex digits, either case.
    pub fn uuid(field: &str, value: &str) -> Result<(), InvalidArgument> {
        let groups: Vec<&str> = value.split('-').collect();
        let ok = groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()));
        if !ok {
            return Err(InvalidArgument::new(
                field,
                "must be a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
            ));
        }
        Ok(())
    }

    /// A calendar date `YYYY-MM-DD`.
    pub fn date(field: &str, value: &str) -> Result<(), InvalidArgument> {
        let err = || InvalidArgument::new(field, "must be a date YYYY-MM-DD");
        let b = value.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(err());
        }
        let num = |s: &str| s.parse::<u32>().map_err(|_| err());
        let (y, m, d) = (num(&value[0..4])?, num(&value[5..7])?, num(&value[8..10])?);
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return Err(err()),
        };
        if d == 0 || d > days {
            return Err(err());
        }
        Ok(())
    }

    /// A plain e-mail address: one `@`, a non-empty local part, a dotted domain, no spaces.
    pub fn email(field: &str, value: &str) -> Result<(), InvalidArgument> {
        let ok = match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !value.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if !ok {
            return Err(InvalidArgument::new(field, "must be an e-mail address"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
        port: Option<u16>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        items: Vec<Inner>,
        kind: Option<Kind>,
    }
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Email,
        Sharepoint,
    }

    fn err(v: serde_json::Value) -> InvalidArgument {
        parse::<Outer>(v).unwrap_err()
    }

    #[test]
    fn names_the_field_never_the_value() {
        assert_eq!(err(json!({})), InvalidArgument::new("items", "is required"));
        assert_eq!(
            err(json!({"items": [{"name": "a"}, {}]})),
            InvalidArgument::new("items[1].name", "is required")
        );
        let e = err(json!({"items": [{"name": "a", "port": "S3NT1NEL"}]}));
        assert_eq!(e.field, "items[0].port");
        assert!(!e.reason.contains("S3NT1NEL"), "{e}");
        assert_eq!(e.reason, "wrong type: expected u16, got string");
        let e = err(json!({"items": [], "kind": "S3NT1NEL"}));
        assert_eq!(
            e,
            InvalidArgument::new("kind", "must be email or sharepoint")
        );
        let e = err(json!({"items": [], "limt": 3}));
        assert_eq!(e.field, "limt");
        assert!(e.reason.starts_with("is not a known argument"), "{e}");
        let e = err(json!({"items": [{"name": "a", "port": 70000}]}));
        assert_eq!(e.field, "items[0].port");
        assert!(!e.reason.contains("70000"), "{e}");
    }

    #[test]
    fn dot_segments_and_lengths() {
        for bad in [".", "..", "%2e%2e", "%2E.", "%252e%252e", "%2e"] {
            let e = check::path_segment("name", bad).unwrap_err();
            assert_eq!(e.field, "name", "{bad}");
        }
        for ok in ["...", "a..b", ".hidden", "v1.2", "%2e%2e%2f"] {
            assert!(check::path_segment("name", ok).is_ok(), "{ok}");
        }
        assert!(check::path_segment("id", &"x".repeat(513)).is_err());
        let long = json!({"ds_connection": {"name": "x".repeat(70_000)}});
        assert_eq!(
            check::lengths(&long, &mut String::new()).unwrap_err(),
            InvalidArgument::new("ds_connection.name", "must be at most 65536 characters")
        );
        assert!(check::lengths(&json!({"k": ["a".repeat(65_536)]}), &mut String::new()).is_ok());
    }

    #[test]
    fn checks() {
        assert!(check::uuid("id", "019a9612-bfad-758c-884e-37dd8c6ad2cb").is_ok());
        assert!(check::uuid("id", "019a9612-bfad-758c-884e-37dd8c6ad2c").is_err());
        assert!(check::uuid("id", "019a9612xbfad-758c-884e-37dd8c6ad2cb").is_err());
        assert!(check::date("d", "2024-02-29").is_ok());
        assert!(check::date("d", "2023-02-29").is_err());
        assert!(check::date("d", "2023-13-01").is_err());
        assert!(check::date("d", "2023-1-01").is_err());
        assert!(check::email("e", "a.b@example.com").is_ok());
        assert!(check::email("e", "a b@example.com").is_err());
        assert!(check::email("e", "example.com").is_err());
        assert!(check::not_blank("n", " ").is_err());
        assert!(check::not_blank("n", "db\u{202E}x").is_err());
        assert!(check::range("l", 0, 1, 10).is_err());
    }
}
