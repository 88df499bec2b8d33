//! A secret's value encoded for the place its reference sits in. A value is data, never
//! structure: substituted raw into a URL's user information, `Pa55@files.example.net/#` moves
//! the host to `files.example.net`; into a `key=value;` connection string, `x;Server=evil`
//! adds a second server. So a value in a URL is percent-encoded, and a value in a connection
//! string is quoted as its dialect requires, or refused (naming the field) where it cannot be.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What a value placed in a URL keeps as is: RFC 3986's unreserved characters.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where a reference sits, and so how its value is written there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The whole field is the secret: written as it is (JSON carries any string).
    Whole,
    /// The password of a URL's user information (`scheme://user:…@host`).
    Userinfo,
    /// A query parameter's value (`?password=…`, `&pwd=…`).
    Query,
    /// A `key=value;` connection string's value.
    Connection(Dialect),
}

/// How a connection string quotes a value that holds its separators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// ODBC and Microsoft's JDBC driver: `{…}`, a `}` inside written `}}`.
    Braces,
    /// ADO.NET and most `key=value;` strings: `"…"`, a `"` inside written `""`.
    DoubleQuotes,
}

impl Placement {
    /// Where the reference starting at byte `at` of `text` sits.
    pub fn of(text: &str, at: usize, len: usize) -> Placement {
        if at == 0 && len == text.len() {
            return Placement::Whole;
        }
        if in_userinfo(text, at) {
            return Placement::Userinfo;
        }
        // The `key=` this value belongs to: in the text since the last separator.
        let before = &text[..at];
        let segment_start = before.rfind([';', '&', '?']).map_or(0, |i| i + 1);
        let segment = &before[segment_start..];
        let has_key = segment.split_once('=').is_some_and(|(key, _)| {
            let key = key.trim();
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' '))
        });
        if !has_key {
            return Placement::Whole;
        }
        match before[..segment_start].chars().next_back() {
            Some('?' | '&') => Placement::Query,
            _ => Placement::Connection(dialect(text)),
        }
    }

    /// What a dry run says of it.
    pub fn describe(self) -> &'static str {
        match self {
            Placement::Whole => "sent as it is",
            Placement::Userinfo => "percent-encoded (the password of the URL's user information)",
            Placement::Query => "percent-encoded (a URL query value)",
            Placement::Connection(Dialect::Braces) => {
                "written in braces {…} if it holds ; { } or spaces at either end (ODBC); refused if it holds a control character"
            }
            Placement::Connection(Dialect::DoubleQuotes) => {
                "written in double quotes if it holds ; ' \" or spaces at either end; refused if it holds a control character"
            }
        }
    }
}

/// Whether byte `at` is inside the user information of a URL (after `scheme://`, before the
/// `@` that ends the authority).
fn in_userinfo(text: &str, at: usize) -> bool {
    let Some(scheme_end) = text[..at].rfind("://") else {
        return false;
    };
    let start = scheme_end + 3;
    let end = text[start..]
        .find(['/', '?', '#'])
        .map_or(text.len(), |i| start + i);
    at < end && text[at..end].contains('@') && !text[start..at].contains('@')
}

fn dialect(text: &str) -> Dialect {
    let lower = text.to_ascii_lowercase();
    if lower.contains("driver=") || lower.starts_with("jdbc:sqlserver:") {
        Dialect::Braces
    } else {
        Dialect::DoubleQuotes
    }
}

/// Why a value cannot be written where its reference sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unplaceable(pub &'static str);

/// `value` written for `placement`. `whole_value`: the reference is a connection string
/// value's whole text (so it may be quoted); `quoted_by`: the template already quotes it with
/// this character.
pub fn encode(
    value: &str,
    placement: Placement,
    whole_value: bool,
    quoted_by: Option<char>,
) -> Result<String, Unplaceable> {
    match placement {
        Placement::Whole => Ok(value.to_string()),
        Placement::Userinfo | Placement::Query => {
            Ok(utf8_percent_encode(value, URL_COMPONENT).to_string())
        }
        Placement::Connection(dialect) => {
            if value.chars().any(char::is_control) {
                return Err(Unplaceable(
                    "its value holds a control character, which a connection string cannot carry",
                ));
            }
            match quoted_by {
                Some('{') => return Ok(value.replace('}', "}}")),
                Some(q @ ('"' | '\'')) => return Ok(value.replace(q, &format!("{q}{q}"))),
                _ => {}
            }
            let special = value.contains(';')
                || value.starts_with(char::is_whitespace)
                || value.ends_with(char::is_whitespace)
                || match dialect {
                    Dialect::Braces => value.contains(['{', '}']),
                    Dialect::DoubleQuotes => value.contains(['"', '\'']),
                };
            if !special {
                return Ok(value.to_string());
            }
            if !whole_value {
                return Err(Unplaceable(
                    "its value holds characters that would change the connection string, and the reference is only part of the value so it cannot be quoted: make the reference the whole value",
                ));
            }
            Ok(match dialect {
                Dialect::Braces => format!("{{{}}}", value.replace('}', "}}")),
                Dialect::DoubleQuotes => format!("\"{}\"", value.replace('"', "\"\"")),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placed(template: &str) -> Placement {
        let at = template.find("${").unwrap();
        let len = template[at..].find('}').unwrap() + 1;
        Placement::of(template, at, len)
    }

    #[test]
    fn placements() {
        assert_eq!(placed("${secret:P}"), Placement::Whole);
        assert_eq!(
            placed("mysql://scan:${secret:P}@db:3306/x"),
            Placement::Userinfo
        );
        assert_eq!(
            placed("postgres://h/db?user=u&password=${secret:P}"),
            Placement::Query
        );
        assert_eq!(
            placed("Server=h;User Id=u;Password=${secret:P};"),
            Placement::Connection(Dialect::DoubleQuotes)
        );
        assert_eq!(
            placed("Driver={ODBC Driver 18};Server=h;PWD=${secret:P}"),
            Placement::Connection(Dialect::Braces)
        );
        assert_eq!(
            placed("jdbc:sqlserver://h:1433;user=u;password=${secret:P}"),
            Placement::Connection(Dialect::Braces)
        );
        // Part of a value is placed like the whole.
        assert_eq!(
            placed("Server=h;Password=x${secret:P};"),
            Placement::Connection(Dialect::DoubleQuotes)
        );
        assert_eq!(
            placed("pg://h/db?password=pre-${secret:P}"),
            Placement::Query
        );
    }

    #[test]
    fn a_value_never_becomes_structure() {
        // The attacker's password of the issue: the host stays db.example.com.
        let v = "Pa55@files.example.net/#";
        assert_eq!(
            encode(v, Placement::Userinfo, false, None).unwrap(),
            "Pa55%40files.example.net%2F%23"
        );
        let v = "hunter2;Server=attacker.example";
        assert_eq!(
            encode(v, Placement::Connection(Dialect::DoubleQuotes), true, None).unwrap(),
            "\"hunter2;Server=attacker.example\""
        );
        assert_eq!(
            encode("a}b;c", Placement::Connection(Dialect::Braces), true, None).unwrap(),
            "{a}}b;c}"
        );
        assert_eq!(
            encode(
                "say \"hi\";",
                Placement::Connection(Dialect::DoubleQuotes),
                true,
                None
            )
            .unwrap(),
            "\"say \"\"hi\"\";\""
        );
        // Already quoted by the template: only the quote is doubled.
        assert_eq!(
            encode(
                "a'b;c",
                Placement::Connection(Dialect::DoubleQuotes),
                true,
                Some('\'')
            )
            .unwrap(),
            "a''b;c"
        );
        // Plain values stay plain.
        assert_eq!(
            encode(
                "S3cret-pw",
                Placement::Connection(Dialect::DoubleQuotes),
                true,
                None
            )
            .unwrap(),
            "S3cret-pw"
        );
        // Part of a value: cannot be quoted.
        assert!(
            encode(
                "x;y",
                Placement::Connection(Dialect::DoubleQuotes),
                false,
                None
            )
            .is_err()
        );
        assert!(
            encode(
                "x\ny",
                Placement::Connection(Dialect::DoubleQuotes),
                true,
                None
            )
            .is_err()
        );
    }
}
