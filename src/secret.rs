//! A credential held in memory that cannot be printed by accident.
//!
//! `SecretString` has no `Display`, no `Serialize`, and a `Debug` that prints `***`, so a
//! credential cannot reach a log line, an error message or a tool result through formatting.
//! The only way to the value is [`SecretString::expose`], which call sites use at the single
//! point where a header or a token-exchange body is built.

use std::fmt;
use std::sync::Arc;

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
}
