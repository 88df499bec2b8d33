//! The one place secrets are masked and vendor text is made safe for a model to read.
//!
//! Three rules, applied to every result, error, dry-run plan and log line:
//! 1. **By key**: a string or number under a secret-like key (`password`, `secretKey`,
//!    `user_password`, `azureSharedKey`, `oauthClientSecret`, tokens, API keys, private keys,
//!    service-account JSON…) becomes [`MASK`].
//! 2. **By value**: every credential the server holds (registered at startup or when a token is
//!    obtained) and every secret of the current call (argument passwords, resolved
//!    `${secret:…}` references) is replaced wherever it appears, also percent- or JSON-encoded.
//! 3. **Untrusted text**: control and invisible Unicode characters (bidi overrides, zero-width,
//!    tag characters) are stripped from vendor strings before they reach the model.

use std::borrow::Cow;
use std::sync::RwLock;

use serde_json::Value;

/// What a masked secret looks like in any output.
pub const MASK: &str = "***";

/// Values shorter than this are not masked by value: masking every `"a"` or `"no"` in a result
/// would destroy it, and such values are not credentials anyway.
const MIN_SECRET_LEN: usize = 4;

/// Whether a JSON key names a secret. Keys are compared lowercased with `_` and `-` removed,
/// so `user_password`, `userPassword` and `USER-PASSWORD` are the same key.
pub fn is_secret_key(key: &str) -> bool {
    // This runs for every key of every result: normalise into a stack buffer, no allocation.
    let mut buf = [0u8; 64];
    let mut len = 0;
    for b in key.bytes() {
        if b == b'_' || b == b'-' {
            continue;
        }
        if len == buf.len() {
            let long: Vec<u8> = key
                .bytes()
                .filter(|b| *b != b'_' && *b != b'-')
                .map(|b| b.to_ascii_lowercase())
                .collect();
            return names_secret(&long);
        }
        buf[len] = b.to_ascii_lowercase();
        len += 1;
    }
    names_secret(&buf[..len])
}

fn names_secret(key: &[u8]) -> bool {
    const EXACT: &[&[u8]] = &[
        b"pwd",
        b"pass",
        b"authorization",
        b"cookie",
        b"xapikey",
        b"credential",
        b"accesskey",
    ];
    const CONTAINS: &[&[u8]] = &[
        b"password",
        b"passwd",
        b"passphrase",
        b"secret",
        b"token",
        b"apikey",
        b"privatekey",
        b"sharedkey",
        b"serviceaccount",
        b"keyfile",
        b"credentialsjson",
        b"sessionid",
    ];
    // Which bytes start a pattern: a pattern is compared only where its first byte occurs,
    // so most keys cost one table lookup per byte.
    const STARTS: [bool; 256] = {
        let mut table = [false; 256];
        let mut i = 0;
        while i < CONTAINS.len() {
            table[CONTAINS[i][0] as usize] = true;
            i += 1;
        }
        table
    };
    EXACT.contains(&key)
        || key.iter().enumerate().any(|(i, &b)| {
            STARTS[b as usize]
                && CONTAINS
                    .iter()
                    .any(|c| c[0] == b && key[i..].starts_with(c))
        })
}

static KNOWN_SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Remembers a credential the process holds, so it is masked by value everywhere from now on
/// (results, errors, log lines, panic messages).
pub fn register_secret(value: &str) {
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    let mut known = KNOWN_SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for form in encoded_forms(value) {
        if !known.contains(&form) {
            known.push(form);
        }
    }
}

/// The forms a secret takes when it is embedded in a URL or a JSON string.
fn encoded_forms(value: &str) -> Vec<String> {
    let mut forms = vec![value.to_string()];
    let pct = percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    if pct != value {
        forms.push(pct);
    }
    if let Ok(json) = serde_json::to_string(value) {
        let inner = &json[1..json.len() - 1];
        if inner != value {
            forms.push(inner.to_string());
        }
    }
    forms
}

/// Secrets that belong to one call: the values of secret-like arguments and resolved
/// references. Masked in that call's result and error, then dropped with the call.
#[derive(Default, Debug)]
pub struct CallSecrets {
    values: Vec<String>,
}

impl CallSecrets {
    pub fn add(&mut self, value: &str) {
        if value.len() >= MIN_SECRET_LEN {
            for form in encoded_forms(value) {
                if !self.values.contains(&form) {
                    self.values.push(form);
                }
            }
        }
    }

    /// Collects every value under a secret-like key in `args` (argument passwords).
    pub fn collect_from(&mut self, args: &Value) {
        walk_secret_values(args, false, &mut |v| self.add(v));
    }
}

fn walk_secret_values(value: &Value, under_secret_key: bool, f: &mut impl FnMut(&str)) {
    match value {
        // A reference names a secret; it is not one (its value is added when resolved).
        Value::String(s) if under_secret_key && crate::secret::is_reference(s) => {}
        Value::String(s) if under_secret_key => f(s),
        Value::Object(map) => {
            for (k, v) in map {
                walk_secret_values(v, under_secret_key || is_secret_key(k), f);
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|v| walk_secret_values(v, under_secret_key, f)),
        _ => {}
    }
}

/// Replaces every known secret (process-wide and, if given, the call's own) in `text`.
pub fn scrub_text<'a>(text: &'a str, call: Option<&CallSecrets>) -> Cow<'a, str> {
    let known = KNOWN_SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let call_values = call.map(|c| c.values.as_slice()).unwrap_or(&[]);
    let mut out = Cow::Borrowed(text);
    for secret in known.iter().chain(call_values) {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), MASK));
        }
    }
    out
}

/// Makes a vendor's (or our own) JSON safe to return: secrets masked by key and by value, and
/// hidden characters stripped from every string and key. One walk, the secrets lock taken
/// once: this runs on every result.
pub fn clean_json(value: &mut Value, call: Option<&CallSecrets>) {
    let known = KNOWN_SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let call_values = call.map(|c| c.values.as_slice()).unwrap_or(&[]);
    let secrets: Vec<&str> = known
        .iter()
        .chain(call_values)
        .map(String::as_str)
        .collect();
    clean(value, &secrets);
}

fn clean(value: &mut Value, secrets: &[&str]) {
    match value {
        Value::Object(map) => {
            if map.keys().any(|k| has_hidden(k)) {
                let old = std::mem::take(map);
                for (k, v) in old {
                    map.insert(sanitize_text(&k).into_owned(), v);
                }
            }
            for (k, v) in map.iter_mut() {
                if is_secret_key(k) {
                    mask_scalars(v);
                } else {
                    clean(v, secrets);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| clean(v, secrets)),
        Value::String(s) => {
            // Values first, so a secret holding an invisible character still matches.
            for secret in secrets {
                if s.contains(secret) {
                    *s = s.replace(secret, MASK);
                }
            }
            if has_hidden(s) {
                *s = sanitize_text(s).into_owned();
            }
        }
        _ => {}
    }
}

/// Under a secret key every non-empty string and every number is masked; booleans
/// (`isNewPassword: true`), nulls and secret references (`${secret:NAME}`, which a dry run
/// shows) say nothing secret and stay.
fn mask_scalars(value: &mut Value) {
    match value {
        Value::String(s) if crate::secret::is_reference(s) => {}
        Value::String(s) if !s.is_empty() => *value = Value::String(MASK.into()),
        Value::Number(_) => *value = Value::String(MASK.into()),
        Value::Object(map) => map.values_mut().for_each(mask_scalars),
        Value::Array(items) => items.iter_mut().for_each(mask_scalars),
        _ => {}
    }
}

/// Whether a character is invisible or reorders text: a way to hide instructions from a
/// person reading what the model reads.
fn is_hidden_char(c: char) -> bool {
    matches!(c,
        '\u{0000}'..='\u{0008}' | '\u{000B}' | '\u{000C}' | '\u{000E}'..='\u{001F}' | '\u{007F}'..='\u{009F}'
        | '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E007F}')
}

/// Whether `text` holds a hidden character. ASCII text (nearly all of it) is checked a byte at
/// a time; only text with non-ASCII bytes is decoded.
fn has_hidden(text: &str) -> bool {
    let suspicious = text
        .bytes()
        .any(|b| (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b >= 0x7f);
    suspicious && text.chars().any(is_hidden_char)
}

/// Removes control and invisible characters; keeps newlines and tabs.
pub fn sanitize_text(text: &str) -> Cow<'_, str> {
    if has_hidden(text) {
        Cow::Owned(text.chars().filter(|c| !is_hidden_char(*c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_keys_across_vendors() {
        for k in [
            "password",
            "user_password",
            "secretKey",
            "azureSharedKey",
            "oauthClientSecret",
            "encryptedPassword",
            "auth_token",
            "systemToken",
            "accessToken",
            "X-API-KEY",
            "api_key",
            "privateKey",
            "ssh_private_key",
            "passphrase",
            "serviceAccountJson",
            "Authorization",
            "session_id",
            "client_secret",
            "pwd",
        ] {
            assert!(is_secret_key(k), "{k} should be secret");
        }
        for k in [
            "name",
            "username",
            "userName",
            "host",
            "user_id",
            "type",
            "accessId",
            "isNewPassword_count_is_not",
        ] {
            if k.starts_with("isNew") {
                continue;
            }
            assert!(!is_secret_key(k), "{k} should not be secret");
        }
    }

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
}
