//! Secrets as types, at the bottom of the crate.
//!
//! - [`SecretString`]: a credential held in memory that cannot be printed by accident. It has no
//!   `Display`, no `Serialize`, and a `Debug` that prints `***`, so a credential cannot reach a
//!   log line, an error message or a tool result through formatting. The only way to the value
//!   is [`SecretString::expose`], used where a header or a token-exchange body is built.
//! - [`random_token`]: credentials the process makes up (sandbox credentials, HTTP tokens).
//! - The syntax of secret references, `${secret:NAME}`: an argument names a secret instead of
//!   holding it. Resolving a reference is the engine's business; recognising one is needed as
//!   low as redaction (a reference is shown, never masked).

use std::fmt;
use std::sync::Arc;

/// What a masked secret looks like in any output.
pub const MASK: &str = "***";

#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Arc<str>);

impl SecretString {
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Self(value.into())
    }

    /// The plain value. Use only where it is sent upstream.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(***)")
    }
}

/// `prefix` + 32 random hex digits from the OS generator.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    // A failure of the OS generator leaves zeros: still a usable (if guessable) local token.
    let _ = getrandom::fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

/// The environment variables `${secret:NAME}` references read start with this (only these:
/// a reference cannot read the server's own vendor credentials).
pub const SECRET_VAR_PREFIX: &str = "DATASOURCE_MCP_SECRET_";

/// The hosts an operator binds a configured secret to: `DATASOURCE_MCP_HOSTS_<NAME>`.
pub const HOSTS_VAR_PREFIX: &str = "DATASOURCE_MCP_HOSTS_";

/// Where a secret reference starts: `${secret:NAME}`.
pub const REFERENCE_OPEN: &str = "${secret:";

/// Whether `name` is a valid reference name: letters, digits and `_`.
pub fn valid_reference_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether `s` is exactly one reference (shown as is wherever it appears).
pub fn is_reference(s: &str) -> bool {
    s.strip_prefix(REFERENCE_OPEN)
        .and_then(|rest| rest.strip_suffix('}'))
        .is_some_and(valid_reference_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = SecretString::new("S3NT1NEL-value");
        assert_eq!(format!("{s:?}"), "SecretString(***)");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(SecretString(***))");
        assert_eq!(s.expose(), "S3NT1NEL-value");
    }

    #[test]
    fn references_and_tokens() {
        assert!(is_reference("${secret:DB_PASS}"));
        assert!(!is_reference("x${secret:DB_PASS}"));
        assert!(!is_reference("${secret:bad-name}"));
        assert_ne!(random_token("t-"), random_token("t-"));
        assert_eq!(random_token("t-").len(), 2 + 32);
    }
}
