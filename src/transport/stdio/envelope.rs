//! A lenient look at the top level of a line that did not parse: its `id`, so the error can be
//! answered with it, and whether it is a notification (never answered). Byte by byte and without
//! recursion, so neither serde's nesting limit nor its number range stops it; nothing of the line
//! is kept but the id.

use rmcp::model::RequestId;

/// What the top-level object of a line says about itself.
#[derive(Debug, Default, PartialEq)]
pub struct Envelope {
    /// The last top-level `id` member that reads as a JSON-RPC id (an integer or a string).
    pub id: Option<RequestId>,
    /// An `id` member is present, whatever its value.
    pub has_id: bool,
    /// A `method` member whose value is a string.
    pub has_method: bool,
}

impl Envelope {
    /// A notification: a method and no id. JSON-RPC never answers one, even a malformed one.
    pub fn is_notification(&self) -> bool {
        self.has_method && !self.has_id
    }
}

/// Scans `line` up to the end of its top-level object or the first byte that cannot continue it.
/// Members before that point count: a truncated request still yields its id.
pub fn scan(line: &[u8]) -> Envelope {
    let mut found = Envelope::default();
    let mut s = Scanner { bytes: line, at: 0 };
    s.skip_ws();
    if !s.eat(b'{') {
        return found;
    }
    loop {
        s.skip_ws();
        let Some(key) = s.string() else {
            return found;
        };
        s.skip_ws();
        if !s.eat(b':') {
            return found;
        }
        s.skip_ws();
        let start = s.at;
        let Some(end) = s.value() else {
            return found;
        };
        s.skip_ws();
        // A value must be followed by `,` or `}`: `{"id":12` cut short may be 123.
        let complete = matches!(s.peek(), Some(b',' | b'}'));
        let value = &line[start..end];
        match &line[key.0..key.1] {
            b"id" => {
                found.has_id = true;
                found.id = if complete { read_id(value) } else { None };
            }
            b"method" => found.has_method = value.first() == Some(&b'"'),
            _ => {}
        }
        if !complete || s.eat(b'}') {
            return found;
        }
        s.at += 1;
    }
}

/// A JSON-RPC id as rmcp reads one (integers, also written `1.0` or `1e2`; strings). Only a
/// number or a string is handed to serde, so a deep value is not parsed here.
fn read_id(value: &[u8]) -> Option<RequestId> {
    match value.first()? {
        b'"' | b'-' | b'0'..=b'9' => serde_json::from_slice(value).ok(),
        _ => None,
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let matched = self.peek() == Some(byte);
        self.at += usize::from(matched);
        matched
    }

    fn skip_ws(&mut self) {
        while self
            .peek()
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            self.at += 1;
        }
    }

    /// A string starting here: the span of its contents (escapes left as written).
    fn string(&mut self) -> Option<(usize, usize)> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some((start, self.at - 1));
                }
                b'\\' => self.at += 2,
                _ => self.at += 1,
            }
        }
    }

    /// Skips the value starting here and returns where it ends. Arrays and objects are skipped by
    /// counting brackets outside strings (no recursion, no validation); None if it never ends.
    fn value(&mut self) -> Option<usize> {
        match self.peek()? {
            b'"' => self.string().map(|_| self.at),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Some(self.at);
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                while self.peek().is_some_and(|b| {
                    !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n')
                }) {
                    self.at += 1;
                }
                Some(self.at)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(line: &str) -> Option<RequestId> {
        scan(line.as_bytes()).id
    }

    #[test]
    fn finds_the_top_level_id_whatever_else_the_line_holds() {
        let n = |n: i64| Some(RequestId::Number(n));
        assert_eq!(id(r#"{"jsonrpc":"2.0","id":7,"params":{"x":1e400}}"#), n(7));
        assert_eq!(
            id(r#" { "id" : "a\"b" , "x":"\ud800"}"#),
            Some(RequestId::String("a\"b".into()))
        );
        let deep = format!(r#"{{"params":{}, "id":-3}}"#, "[".repeat(100_000));
        assert_eq!(
            id(&deep),
            None,
            "an array that never closes hides what follows"
        );
        let deep = format!(
            r#"{{"params":{}{},"id":-3}}"#,
            "[{\"a\":".repeat(50_000),
            "1}]".repeat(50_000)
        );
        assert_eq!(id(&deep), n(-3));
        assert_eq!(
            id(r#"{"jsonrpc":"2.0","id":3,"method":"pi"#),
            n(3),
            "truncated later"
        );
        assert_eq!(
            id(r#"{"id":1,"id":2}"#),
            n(2),
            "the last one, as serde reads it"
        );
        assert_eq!(id(r#"{"id":2.0}"#), n(2));
        assert_eq!(id(r#"{"a":{"id":5}}"#), None, "not top level");
        assert_eq!(id(r#"["id",5]"#), None);
    }

    #[test]
    fn ids_that_are_not_ids_are_not_read() {
        for line in [
            r#"{"id":12"#,
            r#"{"id":1.5}"#,
            r#"{"id":1e400}"#,
            r#"{"id":null}"#,
            r#"{"id":{"a":1}}"#,
            r#"{"id":"\udc00"}"#,
            r#"{"id":9223372036854775808}"#,
            r#"{"id":tru}"#,
            "",
            "{",
        ] {
            assert_eq!(id(line), None, "{line}");
        }
        assert_eq!(scan(b"{\"id\":\"\xff\"}").id, None, "invalid UTF-8");
    }

    #[test]
    fn tells_notifications_from_requests() {
        assert!(
            scan(br#"{"jsonrpc":"2.0","method":"notifications/x","params":1}"#).is_notification()
        );
        assert!(!scan(br#"{"method":"ping","id":null}"#).is_notification());
        assert!(!scan(br#"{"method":1}"#).is_notification());
        assert!(!scan(b"42").is_notification());
    }
}
