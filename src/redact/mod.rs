//! The one place secrets are masked and vendor text is made safe for a model to read.
//!
//! Four rules, applied to every result, error, dry-run plan, trace and log line:
//! 1. **By key** ([`keys`]): a string or number under a secret-like key (`password`,
//!    `secretKey`, `user_password`, `azureSharedKey`, tokens, API keys, private keys,
//!    service-account JSON…) becomes [`MASK`].
//! 2. **By value** ([`values`]): every credential the server holds, every vendor token in use
//!    and every secret of the current call, in every encoding it may come back in.
//! 3. **By shape** ([`patterns`]): passwords inside URLs, DSNs and JDBC strings, secret pairs
//!    quoted in free text, PEM private keys, JSON and base64 blobs holding a private key.
//! 4. **Untrusted text** ([`hidden`]): invisible and reordering characters are stripped from
//!    vendor strings before they reach the model.

mod hidden;
mod keys;
mod patterns;
mod values;

use std::borrow::Cow;

use base64::Engine as _;
use serde_json::Value;

pub use hidden::sanitize_text;
pub use keys::{is_connection_key, is_name_key, is_secret_key, is_secret_text_key};
pub use patterns::mask_patterns;
pub use values::{
    CallSecrets, MAX_SECRET_BYTES, Matcher, TokenRegistration, ready, register_secret,
    register_token,
};

pub use crate::secret::MASK;
use crate::secret::is_reference;

impl CallSecrets {
    /// Collects every value under a secret-like key in `args` (argument passwords).
    pub fn collect_from(&mut self, args: &Value) {
        walk_secret_values(args, false, &mut |v| self.add(v));
    }
}

fn walk_secret_values(value: &Value, under_secret_key: bool, f: &mut impl FnMut(&str)) {
    match value {
        // A reference names a secret; it is not one (its value is added when resolved).
        Value::String(s) if under_secret_key && is_reference(s) => {}
        Value::String(s) if under_secret_key => f(s),
        Value::Object(map) => {
            for (k, v) in map {
                let secret = under_secret_key
                    || is_secret_key(k)
                    || (is_secret_text_key(k) && v.is_string());
                walk_secret_values(v, secret, f);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| walk_secret_values(v, under_secret_key, f)),
        _ => {}
    }
}

/// Masks every known secret (process-wide and, if given, the call's own) and every secret
/// found by shape in free text (log lines, progress messages, doctor details).
pub fn scrub_text<'a>(text: &'a str, call: Option<&CallSecrets>) -> Cow<'a, str> {
    let known = values::known();
    let mut out = known.mask(text);
    if let Some(call) = call.filter(|c| !c.is_empty())
        && let Cow::Owned(s) = call.matcher().mask(&out)
    {
        out = Cow::Owned(s);
    }
    match patterns::mask_patterns(&out) {
        Cow::Owned(s) => Cow::Owned(s),
        Cow::Borrowed(_) => out,
    }
}

/// At most `max_chars` characters of `text`, masked first (every known secret, the given
/// matcher's, and by shape): a text cut before masking can keep the first characters of a
/// secret that straddles the cut, which no mask then matches.
pub fn excerpt(text: &str, max_chars: usize, call: Option<&Matcher>) -> String {
    let known = values::known();
    let mut out = known.mask(text);
    if let Some(call) = call
        && let Cow::Owned(s) = call.mask(&out)
    {
        out = Cow::Owned(s);
    }
    if let Cow::Owned(s) = patterns::mask_patterns(&out) {
        out = Cow::Owned(s);
    }
    match out.char_indices().nth(max_chars) {
        Some((at, _)) => out[..at].to_string(),
        None => out.into_owned(),
    }
}

/// Makes a vendor's (or our own) JSON safe to return: secrets masked by key, value and shape,
/// and hidden characters stripped from every string and key. One walk: this runs on every
/// result.
pub fn clean_json(value: &mut Value, call: Option<&CallSecrets>) {
    let known = values::known();
    let call = call.filter(|c| !c.is_empty()).map(CallSecrets::matcher);
    clean(value, &known, call);
}

/// Like [`clean_json`], with a call's secrets given as their matcher (what a request carries
/// down to the upstream client, for its trace).
pub fn clean_json_with(value: &mut Value, call: Option<&Matcher>) {
    let known = values::known();
    clean(value, &known, call);
}

fn clean(value: &mut Value, known: &values::Matcher, call: Option<&values::Matcher>) {
    match value {
        Value::Object(map) => {
            if map.keys().any(|k| hidden::has_hidden(k)) {
                let old = std::mem::take(map);
                for (k, v) in old {
                    map.insert(sanitize_text(&k).into_owned(), v);
                }
            }
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) || (is_secret_text_key(k) && v.is_string()) {
                    mask_scalars(v);
                } else {
                    clean(v, known, call);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| clean(v, known, call)),
        Value::String(s) => {
            if let Some(clean) = clean_string(s, known, call) {
                *s = clean;
            }
        }
        _ => {}
    }
}

/// A string's safe form, if it differs. Values first, so a secret holding an invisible
/// character still matches.
fn clean_string(
    s: &str,
    known: &values::Matcher,
    call: Option<&values::Matcher>,
) -> Option<String> {
    let mut out = known.mask(s);
    if let Some(call) = call
        && let Cow::Owned(m) = call.mask(&out)
    {
        out = Cow::Owned(m);
    }
    if let Cow::Owned(m) = patterns::mask_patterns(&out) {
        out = Cow::Owned(m);
    }
    if let Some(m) = embedded_json(&out, known, call) {
        out = Cow::Owned(m);
    }
    if holds_encoded_private_key(&out) {
        out = Cow::Owned(MASK.into());
    }
    if hidden::has_hidden(&out) {
        out = Cow::Owned(sanitize_text(&out).into_owned());
    }
    match out {
        Cow::Owned(m) => Some(m),
        Cow::Borrowed(_) => None,
    }
}

/// A JSON document inside a string (a service-account key file under `keyJson`, a vendor's
/// error quoting a body), cleaned as JSON and written back.
fn embedded_json(
    s: &str,
    known: &values::Matcher,
    call: Option<&values::Matcher>,
) -> Option<String> {
    let trimmed = s.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) || !s.contains('"') {
        return None;
    }
    let mut inner: Value = serde_json::from_str(s).ok()?;
    let before = inner.clone();
    clean(&mut inner, known, call);
    (inner != before).then(|| inner.to_string())
}

/// A base64 blob that decodes to a private key or a service-account file.
fn holds_encoded_private_key(s: &str) -> bool {
    if s.len() < 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
    {
        return false;
    }
    let trimmed = s.trim_end_matches('=');
    [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ]
    .iter()
    .filter_map(|e| e.decode(trimmed).ok())
    .any(|bytes| {
        let text = String::from_utf8_lossy(&bytes);
        text.contains("PRIVATE KEY") || text.contains("\"private_key\"")
    })
}

/// Under a secret key every non-empty string and every number is masked; booleans
/// (`isNewPassword: true`), nulls and secret references (`${secret:NAME}`, which a dry run
/// shows) say nothing secret and stay.
fn mask_scalars(value: &mut Value) {
    match value {
        Value::String(s) if is_reference(s) => {}
        Value::String(s) if !s.is_empty() => *value = Value::String(MASK.into()),
        Value::Number(_) => *value = Value::String(MASK.into()),
        Value::Object(map) => map.values_mut().for_each(mask_scalars),
        Value::Array(items) => items.iter_mut().for_each(mask_scalars),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_by_key_keeps_booleans() {
        let mut v = json!({"ds_connection": {"name": "db", "password": "hunter22", "port": 3306,
            "nested": {"secretKey": 12345}}, "isNewPassword": true, "owners": [{"token": "abcd"}]});
        clean_json(&mut v, None);
        assert_eq!(
            v,
            json!({"ds_connection": {"name": "db", "password": "***", "port": 3306,
            "nested": {"secretKey": "***"}}, "isNewPassword": true, "owners": [{"token": "***"}]})
        );
    }

    #[test]
    fn masks_call_values_in_free_text_and_encoded() {
        let mut call = CallSecrets::default();
        call.collect_from(&json!({"password": "p@ss word!"}));
        let mut v =
            json!({"message": "login failed for p@ss word! at postgres://u:p%40ss%20word%21@h/db"});
        clean_json(&mut v, Some(&call));
        assert_eq!(
            v,
            json!({"message": "login failed for *** at postgres://u:***@h/db"})
        );
    }

    #[test]
    fn masks_before_stripping_and_sees_through_hidden_key_characters() {
        let mut call = CallSecrets::default();
        call.add("ab\u{200B}cdef");
        let mut v = json!({"note": "x ab\u{200B}cdef y", "pass\u{200B}word": "hunter22"});
        clean_json(&mut v, Some(&call));
        assert_eq!(v, json!({"note": "x *** y", "password": "***"}));
    }

    #[test]
    fn strips_invisible_characters() {
        let mut v =
            json!({"name": "prod\u{202E}db\u{E0041}\u{200B}", "d": "line1\nline2\tx\u{0007}"});
        clean_json(&mut v, None);
        assert_eq!(v, json!({"name": "proddb", "d": "line1\nline2\tx"}));
    }

    #[test]
    fn secrets_under_ordinary_keys_and_inside_values() {
        use base64::engine::general_purpose::STANDARD;
        let service_account = r#"{"type":"service_account","project_id":"p","private_key":"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n","client_email":"a@p.iam"}"#;
        let mut v = json!({
            "connectionString": "Server=tcp:h,1433;User ID=u;Password=S3cr3t;",
            "rdb_url": "mysql://scan:S3cr3t@db.example:3306/orders",
            "jdbcUrl": "jdbc:postgresql://h/db?user=u&password=S3cr3t",
            "Proxy-Authorization": "Basic dTpw",
            "credentials": STANDARD.encode(service_account),
            "keyJson": service_account,
            "accountKey": "abc+def==",
            "sslKey": "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----",
            "note": "key -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY----- end",
            "blob": STANDARD.encode(service_account),
            "inline": service_account,
            "credentials_object": {"name": "kept"},
        });
        clean_json(&mut v, None);
        assert_eq!(
            v["connectionString"],
            "Server=tcp:h,1433;User ID=u;Password=***;"
        );
        assert_eq!(v["rdb_url"], "mysql://scan:***@db.example:3306/orders");
        assert_eq!(v["jdbcUrl"], "jdbc:postgresql://h/db?user=u&password=***");
        for key in [
            "Proxy-Authorization",
            "credentials",
            "keyJson",
            "accountKey",
            "sslKey",
            "blob",
        ] {
            assert_eq!(v[key], MASK, "{key}");
        }
        assert_eq!(v["note"], "key *** end");
        let inline: Value = serde_json::from_str(v["inline"].as_str().unwrap()).unwrap();
        assert_eq!(inline["private_key"], MASK);
        assert_eq!(inline["client_email"], "a@p.iam");
        assert_eq!(v["credentials_object"]["name"], "kept");
    }
}
