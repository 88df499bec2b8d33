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
//! A secret comes back raw, JSON-escaped (serde's escapes, `\/` for `/`, `\uXXXX` in either hex
//! case for non-ASCII and HTML characters, surrogate pairs beyond the BMP), percent-encoded
//! (either hex case, either reserved set), form-encoded (space as `+`) or base64-encoded (also
//! inside a longer base64 text, such as a Basic `Authorization` value). All forms of all
//! secrets are matched in one pass.
//!
//! Cost stays linear: the automaton is an NFA (a DFA's construction grows with the patterns'
//! length times the alphabet: a 4,000-character secret once took a quarter of a second, and
//! far more in a debug build), values longer than [`MAX_SECRET_BYTES`] are masked piece by
//! piece, and the process-wide automaton is built outside the registry's lock (and, through
//! [`ready`], off the async workers).

use std::borrow::Cow;
use std::sync::{Arc, Mutex, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::secret::MASK;

/// Values shorter than this are not masked by value: masking every `"a"` or `"no"` in a result
/// would destroy it, and such values are not credentials anyway.
const MIN_SECRET_LEN: usize = 4;

/// base64 forms are only worth matching for secrets at least this long (shorter ones give
/// fragments that occur by chance).
const MIN_BASE64_LEN: usize = 8;

/// The longest value masked as one piece (a service-account key file or a 4,096-bit PEM key
/// fits). A longer value is masked in pieces of this size, so every byte of it is covered and
/// the automaton stays small; where a secret enters from a caller (an argument, the intake
/// page), a longer one is refused.
pub const MAX_SECRET_BYTES: usize = 16 * 1024;

/// RFC 3986 unreserved characters are kept by many encoders (`quote`, `encodeURIComponent`).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The pieces a value is masked as: itself, or pieces of at most [`MAX_SECRET_BYTES`] cut at
/// character boundaries.
fn pieces(value: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = value;
    while rest.len() > MAX_SECRET_BYTES {
        let mut at = MAX_SECRET_BYTES;
        while !rest.is_char_boundary(at) {
            at -= 1;
        }
        out.push(&rest[..at]);
        rest = &rest[at..];
    }
    out.push(rest);
    out
}

/// Every form every piece of `value` can take in a vendor's echo.
pub fn forms_of(value: &str) -> Vec<String> {
    let mut forms: Vec<String> = pieces(value).into_iter().flat_map(encoded_forms).collect();
    forms.sort();
    forms.dedup();
    forms
}

/// How a JSON encoder may write a string's characters besides serde's own escapes.
#[derive(Clone, Copy)]
struct JsonStyle {
    /// `/` as `\/` (PHP, some Java encoders).
    slash: bool,
    /// Non-ASCII as `\uXXXX` (Python's `ensure_ascii`, Jackson's `ESCAPE_NON_ASCII`), surrogate
    /// pairs beyond the BMP; `Some(true)` in uppercase hex.
    non_ascii: Option<bool>,
    /// `<`, `>`, `&`, `'` as `\u003c`… (Go's `encoding/json`, .NET's default encoder).
    html: Option<bool>,
}

/// `value`'s JSON string content as an encoder of `style` writes it.
fn json_escaped(value: &str, style: JsonStyle) -> String {
    let serde = serde_json::to_string(value).unwrap_or_else(|_| "\"\"".into());
    let serde = &serde[1..serde.len() - 1];
    let mut out = String::with_capacity(serde.len());
    let hex = |out: &mut String, unit: u16, upper: bool| {
        if upper {
            out.push_str(&format!("\\u{unit:04X}"));
        } else {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    };
    for c in serde.chars() {
        match c {
            '/' if style.slash => out.push_str("\\/"),
            '<' | '>' | '&' | '\'' if style.html.is_some() => {
                hex(&mut out, c as u16, style.html == Some(true))
            }
            c if !c.is_ascii() && style.non_ascii.is_some() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    hex(&mut out, *unit, style.non_ascii == Some(true));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Every form `value` can take in a vendor's echo.
fn encoded_forms(value: &str) -> Vec<String> {
    let mut forms = vec![value.to_string()];
    for slash in [false, true] {
        for non_ascii in [None, Some(false), Some(true)] {
            for html in [None, Some(false), Some(true)] {
                let style = JsonStyle {
                    slash,
                    non_ascii,
                    html,
                };
                forms.push(json_escaped(value, style));
            }
        }
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
                    // Linear in the patterns' length: see the module's note on cost.
                    .kind(Some(AhoCorasickKind::ContiguousNFA))
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
    permanent: std::collections::BTreeSet<String>,
    /// Forms of each token in use, by registration id.
    tokens: Vec<(u64, Vec<String>)>,
    next_id: u64,
    /// Bumped by every change.
    version: u64,
    /// The newest matcher built, and the version it was built from.
    built: Option<(u64, Arc<Matcher>)>,
}

impl Registry {
    fn changed(&mut self) {
        self.version += 1;
    }

    fn fresh(&self) -> Option<Arc<Matcher>> {
        match &self.built {
            Some((v, m)) if *v == self.version => Some(m.clone()),
            _ => None,
        }
    }
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    permanent: std::collections::BTreeSet::new(),
    tokens: Vec::new(),
    next_id: 0,
    version: 0,
    built: None,
});

/// Held by whoever builds the process-wide matcher, so concurrent callers wait for one build
/// instead of each making their own. The registry's lock is never held while building.
static BUILDING: Mutex<()> = Mutex::new(());

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Remembers a credential the process holds, so it is masked by value everywhere from now on
/// (results, errors, log lines, panic messages). In async code, await [`ready`] after it, so
/// the matcher is built off the async workers.
pub fn register_secret(value: &str) {
    if value.len() < MIN_SECRET_LEN {
        return;
    }
    let forms = forms_of(value);
    let mut reg = registry();
    let mut added = false;
    for form in forms {
        added |= reg.permanent.insert(form);
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
    let forms = forms_of(value);
    let mut reg = registry();
    let id = reg.next_id;
    reg.next_id += 1;
    reg.tokens.push((id, forms));
    reg.changed();
    TokenRegistration(Some(id))
}

/// The matcher of every secret known process-wide now. When a registration changed the set,
/// the first caller builds the new matcher outside the registry's lock (others wait for that
/// build, not for the lock).
pub fn known() -> Arc<Matcher> {
    if let Some(m) = registry().fresh() {
        return m;
    }
    let _building = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let (version, forms) = {
        let reg = registry();
        if let Some(m) = reg.fresh() {
            return m;
        }
        let mut forms: Vec<String> = reg.permanent.iter().cloned().collect();
        for (_, token_forms) in &reg.tokens {
            forms.extend(token_forms.iter().cloned());
        }
        (reg.version, forms)
    };
    let matcher = Arc::new(Matcher::new(&forms));
    let mut reg = registry();
    if reg.built.as_ref().is_none_or(|(v, _)| *v < version) {
        reg.built = Some((version, matcher.clone()));
    }
    matcher
}

/// Builds the process-wide matcher after a registration on a blocking thread, so no async
/// worker spends the time (outside a runtime, here and now).
pub async fn ready() {
    if registry().fresh().is_some() {
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            let _ = handle.spawn_blocking(known).await;
        }
        Err(_) => {
            known();
        }
    }
}

/// Secrets that belong to one call: the values of secret-like arguments and resolved
/// references. Masked in that call's result and error, then dropped with the call.
#[derive(Default)]
pub struct CallSecrets {
    forms: std::collections::BTreeSet<String>,
    matcher: OnceLock<Arc<Matcher>>,
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
        let mut added = false;
        for form in forms_of(value) {
            added |= self.forms.insert(form);
        }
        if added {
            self.matcher = OnceLock::new();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    pub fn matcher(&self) -> &Matcher {
        self.matcher.get_or_init(|| Arc::new(self.build()))
    }

    fn build(&self) -> Matcher {
        let forms: Vec<String> = self.forms.iter().cloned().collect();
        Matcher::new(&forms)
    }

    /// Builds the call's matcher on a blocking thread (a call's secrets are known once its
    /// arguments are resolved; its output is masked with them after).
    pub async fn ready(&self) {
        if self.forms.is_empty() || self.matcher.get().is_some() {
            return;
        }
        let forms: Vec<String> = self.forms.iter().cloned().collect();
        let built = match tokio::runtime::Handle::try_current() {
            Ok(handle) => handle
                .spawn_blocking(move || Matcher::new(&forms))
                .await
                .ok(),
            Err(_) => None,
        };
        let _ = self
            .matcher
            .set(Arc::new(built.unwrap_or_else(|| self.build())));
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
    fn every_json_escaping_of_a_secret_is_masked() {
        // `/` as `\/` (PHP), non-ASCII as `\u00e9` or `\u00E9` (Python's ensure_ascii, Jackson),
        // astral characters as surrogate pairs, HTML characters as `\u003c` (Go).
        let s = "pa/ss<é😀>";
        for echoed in [
            r"pa\/ss<é😀>",
            r"pa/ss<\u00e9\ud83d\ude00>",
            r"pa/ss<\u00E9\uD83D\uDE00>",
            r"pa\/ss<\u00e9\ud83d\ude00>",
            r"pa\/ss\u003c\u00e9\ud83d\ude00\u003e",
            r"pa/ss\u003C\u00E9\uD83D\uDE00\u003E",
            r"pa/ss\u003cé😀\u003e",
        ] {
            let text = format!(r#"{{"message": "bad password {echoed} given"}}"#);
            assert_eq!(
                masked(s, &text),
                r#"{"message": "bad password *** given"}"#,
                "{echoed}"
            );
        }
    }

    #[test]
    fn a_long_value_is_masked_in_pieces_and_built_in_linear_time() {
        // Longer than one piece: every piece is masked wherever it appears.
        let long: String = (0..MAX_SECRET_BYTES * 2 + 100)
            .map(|i| (b'a' + (i * 7 % 26) as u8) as char)
            .collect();
        let out = masked(&long, &format!("x {long} y"));
        assert!(!out.contains(&long[..64]), "{}", &out[..80]);
        assert!(out.starts_with("x ***"));
        assert!(out.ends_with("*** y"));
        // The automaton is an NFA, whose size (and build time) grows with the patterns'
        // length; a DFA's grows with it times the alphabet (49 MB for one 16 KiB secret).
        let piece: String = long[..MAX_SECRET_BYTES].to_string();
        let mut call = CallSecrets::default();
        call.add(&piece);
        let patterns: usize = call.forms.iter().map(String::len).sum();
        let automaton = call.matcher().automaton.as_ref().unwrap();
        assert_eq!(automaton.kind(), AhoCorasickKind::ContiguousNFA);
        assert!(
            automaton.memory_usage() < 32 * patterns,
            "{} bytes for {patterns} bytes of patterns",
            automaton.memory_usage()
        );
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
