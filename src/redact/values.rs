//! Masking by value: every secret the process knows, in every encoding it may come back in.
//!
//! - Credentials the operator configured and values of resolved secret references are
//!   remembered for the life of the process.
//! - Tokens a vendor hands out are remembered only while they are in use (the registration is
//!   dropped when the token is replaced), and only when they look like tokens: a vendor whose
//!   "token" is an ordinary word must not blank that word in every later result.
//! - A call's own secrets (password arguments, resolved references) are masked in that call's
//!   output only.
//!
//! A secret comes back raw, JSON-escaped, percent-encoded (either hex case, either reserved
//! set), form-encoded (space as `+`) or base64-encoded (also inside a longer base64 text, such
//! as a Basic `Authorization` value). All forms of all secrets are matched in one pass.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::secret::MASK;

/// Values shorter than this are not masked by value: masking every `"a"` or `"no"` in a result
/// would destroy it, and such values are not credentials anyway.
const MIN_SECRET_LEN: usize = 4;

/// base64 forms are only worth matching for secrets at least this long (shorter ones give
/// fragments that occur by chance).
const MIN_BASE64_LEN: usize = 8;

/// RFC 3986 unreserved characters are kept by many encoders (`quote`, `encodeURIComponent`).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Every form `value` can take in a vendor's echo.
pub fn encoded_forms(value: &str) -> Vec<String> {
    let mut forms = vec![value.to_string()];
    if let Ok(json) = serde_json::to_string(value) {
        forms.push(json[1..json.len() - 1].to_string());
    }
    for set in [NON_ALPHANUMERIC, UNRESERVED] {
        let upper = utf8_percent_encode(value, set).to_string();
        forms.push(lower_hex(&upper));
        // Form encoding: a space is `+`.
        forms.push(upper.replace("%20", "+"));
        forms.push(lower_hex(&upper.replace("%20", "+")));
        forms.push(upper);
    }
    let form: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
    forms.push(lower_hex(&form));
    forms.push(form);
    if value.len() >= MIN_BASE64_LEN {
        forms.extend(base64_forms(value.as_bytes()));
    }
    forms.retain(|f| f.len() >= MIN_SECRET_LEN);
    forms.sort();
    forms.dedup();
    forms
}

/// `%2F` → `%2f`, leaving everything else as it is.
fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut chars = encoded.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
        }
    }
    out
}

/// The base64 text of `bytes` as it appears at any of the three alignments inside a longer
/// encoded text: only the characters that depend on `bytes` alone.
fn base64_forms(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for engine in [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        for offset in 0..3usize {
            let mut padded = vec![0u8; offset];
            padded.extend_from_slice(bytes);
            let text = engine.encode(&padded);
            // Characters before `start` mix in the unknown bytes before; after `end`, after.
            let start = (8 * offset).div_ceil(6);
            let end = 8 * (offset + bytes.len()) / 6;
            if end > start + MIN_BASE64_LEN {
                out.push(text[start..end].to_string());
            }
        }
    }
    out
}

/// Whether a vendor-issued token is worth masking wherever it appears: long and varied enough
/// that it cannot be an ordinary word.
pub fn looks_like_token(value: &str) -> bool {
    if value.chars().count() < 16 {
        return false;
    }
    let mut counts = std::collections::HashMap::new();
    for c in value.chars() {
        *counts.entry(c).or_insert(0usize) += 1;
    }
    let n = value.chars().count() as f64;
    let entropy: f64 = counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum();
    entropy >= 3.0
}

/// Masks a set of strings in one pass. Cheap to clone (the automaton is shared).
#[derive(Default, Clone)]
pub struct Matcher {
    automaton: Option<AhoCorasick>,
}

impl Matcher {
    fn new(forms: &[String]) -> Self {
        let automaton = (!forms.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(forms)
                    .ok()
            })
            .flatten();
        Self { automaton }
    }

    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.automaton {
            Some(ac) if ac.is_match(text) => {
                let masks = vec![MASK; ac.patterns_len()];
                Cow::Owned(ac.replace_all(text, &masks))
            }
            _ => Cow::Borrowed(text),
        }
    }
}

#[derive(Default)]
struct Registry {
    /// Forms of every permanent secret.
    permanent: Vec<String>,
    /// Forms of each token in use, by registration id.
    tokens: Vec<(u64, Vec<String>)>,
    next_id: u64,
    /// Built on first use after a change.
    matcher: Option<Arc<Matcher>>,
}

impl Registry {
    fn changed(&mut self) {
        self.matcher = None;
    }
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry {
    permanent: Vec::new(),
    tokens: Vec::new(),
    next_id: 0,
    matcher: None,
});

fn registry() -> std::sync::RwLockWriteGuard<'static, Registry> {
    REGISTRY.write().unwrap_or_else(|e| e.into_inner())
}

/// Remembers a credential the process holds, so it is masked by value everywhere from now on
/// (results, errors, log lines, panic messages).
pub fn register_secret(value: &str) {
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    let mut reg = registry();
    let mut added = false;
    for form in encoded_forms(value) {
        if !reg.permanent.contains(&form) {
            reg.permanent.push(form);
            added = true;
        }
    }
    if added {
        reg.changed();
    }
}

/// A vendor token masked by value while this lives.
#[derive(Debug)]
pub struct TokenRegistration(Option<u64>);

impl Drop for TokenRegistration {
    fn drop(&mut self) {
        if let Some(id) = self.0 {
            let mut reg = registry();
            reg.tokens.retain(|(i, _)| *i != id);
            reg.changed();
        }
    }
}

/// Remembers a token a vendor handed out, until the registration is dropped. A token that does
/// not look like one is not masked by value (it is still masked under its key).
pub fn register_token(value: &str) -> TokenRegistration {
    if !looks_like_token(value) {
        return TokenRegistration(None);
    }
    let mut reg = registry();
    let id = reg.next_id;
    reg.next_id += 1;
    reg.tokens.push((id, encoded_forms(value)));
    reg.changed();
    TokenRegistration(Some(id))
}

/// The matcher of every secret known process-wide now.
pub fn known() -> Arc<Matcher> {
    if let Some(m) = REGISTRY
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .matcher
        .clone()
    {
        return m;
    }
    let mut reg = registry();
    if let Some(m) = reg.matcher.clone() {
        return m;
    }
    let mut forms = reg.permanent.clone();
    for (_, token_forms) in &reg.tokens {
        forms.extend(token_forms.iter().cloned());
    }
    let matcher = Arc::new(Matcher::new(&forms));
    reg.matcher = Some(matcher.clone());
    matcher
}

/// Secrets that belong to one call: the values of secret-like arguments and resolved
/// references. Masked in that call's result and error, then dropped with the call.
#[derive(Default)]
pub struct CallSecrets {
    forms: Vec<String>,
    matcher: OnceLock<Matcher>,
}

impl std::fmt::Debug for CallSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CallSecrets({} forms)", self.forms.len())
    }
}

impl CallSecrets {
    pub fn add(&mut self, value: &str) {
        if value.len() < MIN_SECRET_LEN {
            return;
        }
        for form in encoded_forms(value) {
            if !self.forms.contains(&form) {
                self.forms.push(form);
            }
        }
        self.matcher = OnceLock::new();
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    pub fn matcher(&self) -> &Matcher {
        self.matcher.get_or_init(|| Matcher::new(&self.forms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn masked(secret: &str, text: &str) -> String {
        let mut call = CallSecrets::default();
        call.add(secret);
        call.matcher().mask(text).into_owned()
    }

    #[test]
    fn every_encoding_of_a_secret_is_masked() {
        let s = "p@ss word/~é+1";
        let cases = [
            s.to_string(),
            "p%40ss%20word%2F%7E%C3%A9%2B1".into(),
            "p%40ss%20word%2f%7e%c3%a9%2b1".into(),
            "p%40ss+word%2F~%C3%A9%2B1".into(),
            "p%40ss+word%2f~%c3%a9%2b1".into(),
            "p%40ss%20word%2F~%C3%A9%2B1".into(),
            STANDARD.encode(s),
        ];
        for echoed in cases {
            let text = format!("refused password={echoed}&user=admin");
            assert_eq!(
                masked(s, &text),
                "refused password=***&user=admin",
                "{echoed}"
            );
        }
    }

    #[test]
    fn base64_inside_a_longer_text_is_masked_at_any_alignment() {
        let secret = "S3NT1NEL-credential";
        for prefix in ["", "a", "ab", "abc", "admin:"] {
            let basic = STANDARD.encode(format!("{prefix}{secret}"));
            let out = masked(secret, &format!("Basic {basic}"));
            assert!(out.contains(MASK), "{prefix:?}: {out}");
            // What is left is the prefix's own encoding and a character or two at each edge.
            let left: String = out.replace("Basic ", "").replace(MASK, "");
            let prefix_len = STANDARD.encode(prefix).trim_end_matches('=').len();
            assert!(
                left.len() <= prefix_len + 6,
                "{prefix:?}: only the edges remain: {out}"
            );
        }
    }

    #[test]
    fn only_token_like_values_are_tokens() {
        assert!(!looks_like_token("rdb-mysql"));
        assert!(!looks_like_token("aaaaaaaaaaaaaaaaaaaaaaaa"));
        assert!(looks_like_token("eyJhbGciOiJIUzI1NiJ9.c2FuZGJveA.x7Yk2"));
        let reg = register_token("rdb-mysql");
        assert_eq!(known().mask("type rdb-mysql"), "type rdb-mysql");
        drop(reg);
    }

    #[test]
    fn a_token_is_forgotten_when_its_registration_drops() {
        let token = "tok-9f8e7d6c5b4a39281706f5e4d3c2b1a0";
        let reg = register_token(token);
        assert_eq!(known().mask(&format!("x {token} y")), "x *** y");
        drop(reg);
        assert_eq!(
            known().mask(&format!("x {token} y")),
            format!("x {token} y")
        );
    }
}
