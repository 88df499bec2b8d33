//! Masking by shape, for secrets nobody registered: a password in a URL's userinfo, a
//! `password=…` pair in a DSN, JDBC URL or query string, a `"password": "…"` pair in JSON or
//! debug text, a PEM private-key block. Only the secret part is masked: hosts, database names
//! and user names stay readable. A secret reference (`${secret:NAME}`) is a name, not a
//! secret, and stays as written.

use std::borrow::Cow;

use super::keys::is_secret_key;
use crate::secret::MASK;
use crate::secret::is_reference;

/// `text` with every secret found by shape masked.
pub fn mask_patterns(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let has = |b: u8| bytes.contains(&b);
    let mut out = Cow::Borrowed(text);
    if text.contains("-----BEGIN") {
        out = Cow::Owned(mask_pem(&out));
    }
    if text.contains("://")
        && has(b'@')
        && let Cow::Owned(s) = mask_userinfo(&out)
    {
        out = Cow::Owned(s);
    }
    if has(b'=')
        && let Cow::Owned(s) = mask_pairs(&out)
    {
        out = Cow::Owned(s);
    }
    if has(b'"')
        && has(b':')
        && let Cow::Owned(s) = mask_quoted_pairs(&out)
    {
        out = Cow::Owned(s);
    }
    out
}

/// Whether a found value should be replaced (not empty, not already masked, not a name).
fn maskable(value: &str) -> bool {
    !value.is_empty() && value != MASK && !is_reference(value) && !matches!(value, "true" | "false")
}

/// Replaces the byte ranges (sorted, disjoint) with the mask.
fn replace_ranges<'a>(text: &'a str, ranges: &[(usize, usize)]) -> Cow<'a, str> {
    if ranges.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for &(start, end) in ranges {
        out.push_str(&text[at..start]);
        out.push_str(MASK);
        at = end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// `-----BEGIN … PRIVATE KEY----- … -----END … PRIVATE KEY-----`, whole.
fn mask_pem(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN ") {
        let label_end = rest[begin + 11..].find("-----").map(|i| begin + 11 + i);
        let is_private = label_end.is_some_and(|e| rest[begin..e].contains("PRIVATE KEY"));
        if !is_private {
            let skip = begin + 11;
            out.push_str(&rest[..skip]);
            rest = &rest[skip..];
            continue;
        }
        out.push_str(&rest[..begin]);
        out.push_str(MASK);
        let after = label_end.unwrap_or(begin) + 5;
        rest = match rest[after..].find("-----END ") {
            Some(end) => {
                let end = after + end + 9;
                match rest[end..].find("-----") {
                    Some(close) => &rest[end + close + 5..],
                    None => "",
                }
            }
            // No end line: everything after the start of the key is key.
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// `scheme://user:password@host` → `scheme://user:***@host`.
fn mask_userinfo(text: &str) -> Cow<'_, str> {
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("://") {
        let start = from + i + 3;
        let end = text[start..]
            .find(|c: char| {
                matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>') || c.is_whitespace()
            })
            .map_or(text.len(), |n| start + n);
        let authority = &text[start..end];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = colon_outside_references(&authority[..at])
        {
            let (pw_start, pw_end) = (start + colon + 1, start + at);
            if maskable(&text[pw_start..pw_end]) {
                ranges.push((pw_start, pw_end));
            }
        }
        from = end.max(start);
    }
    replace_ranges(text, &ranges)
}

/// The first `:` that is not part of a `${secret:NAME}` reference.
fn colon_outside_references(userinfo: &str) -> Option<usize> {
    let mut depth = 0;
    let bytes = userinfo.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'$' if bytes.get(i + 1) == Some(&b'{') => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')
}

/// `password=…`, `Pwd=…`, `AccountKey=…` in DSNs, JDBC URLs and query strings: the value up to
/// the next `;`, `&`, space or quote (or the closing quote of a quoted value).
fn mask_pairs(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for (eq, _) in text.match_indices('=') {
        let key_start = bytes[..eq]
            .iter()
            .rposition(|b| !is_key_char(*b))
            .map_or(0, |p| p + 1);
        let key = &text[key_start..eq];
        if key.is_empty() || !is_secret_key(key) {
            continue;
        }
        let value_start = eq + 1;
        if ranges.last().is_some_and(|r| r.1 > value_start) {
            continue;
        }
        let (start, end) = match bytes.get(value_start) {
            // A reference, `${secret:NAME}`, is a name: kept whole.
            Some(b'$') if text[value_start..].starts_with("${") => {
                let close = text[value_start..]
                    .find('}')
                    .map_or(text.len(), |n| value_start + n + 1);
                (value_start, close)
            }
            Some(q @ (b'"' | b'\'')) => {
                let close = text[value_start + 1..]
                    .find(*q as char)
                    .map_or(text.len(), |n| value_start + 1 + n);
                (value_start + 1, close)
            }
            _ => {
                let end = text[value_start..]
                    .find(|c: char| {
                        matches!(c, ';' | '&' | '"' | '\'' | ',' | '}' | ')') || c.is_whitespace()
                    })
                    .map_or(text.len(), |n| value_start + n);
                (value_start, end)
            }
        };
        if maskable(&text[start..end]) {
            ranges.push((start, end));
        }
    }
    replace_ranges(text, &ranges)
}

/// The end (exclusive) of a JSON string whose content starts at `start`.
fn string_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// `"password": "…"` (JSON, or Rust debug text `"password": String("…")`) in free text, such
/// as a vendor's error message quoting the body it received, or a library's log line.
fn mask_quoted_pairs(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut ranges = Vec::new();
    let mut i = 0;
    while let Some(open) = text[i..].find('"').map(|n| i + n) {
        let Some(close) = string_end(bytes, open + 1) else {
            break;
        };
        let key = &text[open + 1..close];
        let mut j = close + 1;
        while bytes.get(j).is_some_and(u8::is_ascii_whitespace) {
            j += 1;
        }
        if bytes.get(j) != Some(&b':') || !is_secret_key(key) {
            i = close + 1;
            continue;
        }
        j += 1;
        while bytes.get(j).is_some_and(u8::is_ascii_whitespace) {
            j += 1;
        }
        if text[j..].starts_with("String(") {
            j += 7;
        }
        if bytes.get(j) == Some(&b'"')
            && let Some(end) = string_end(bytes, j + 1)
        {
            if maskable(&text[j + 1..end]) {
                ranges.push((j + 1, end));
            }
            i = end + 1;
        } else {
            i = j;
        }
    }
    replace_ranges(text, &ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_by_shape_hosts_kept() {
        let cases = [
            (
                "postgres://scan:S3cr3t!@db.example.com:5432/orders",
                "postgres://scan:***@db.example.com:5432/orders",
            ),
            (
                "jdbc:sqlserver://h:1433;databaseName=d;user=u;password=S3cr3t;encrypt=true",
                "jdbc:sqlserver://h:1433;databaseName=d;user=u;password=***;encrypt=true",
            ),
            (
                "host=db.example.com port=5432 dbname=x user=u pwd=S3cr3t sslmode=require",
                "host=db.example.com port=5432 dbname=x user=u pwd=*** sslmode=require",
            ),
            (
                "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=abc+/def==;EndpointSuffix=core.windows.net",
                "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=***;EndpointSuffix=core.windows.net",
            ),
            (
                "Server=h;Database=d;User Id=u;Password='two words';",
                "Server=h;Database=d;User Id=u;Password='***';",
            ),
            (
                "login failed for body {\"username\":\"u\",\"password\":\"S3cr3t\"}",
                "login failed for body {\"username\":\"u\",\"password\":\"***\"}",
            ),
            (
                "received Object {\"password\": String(\"S3cr3t\"), \"name\": String(\"db\")}",
                "received Object {\"password\": String(\"***\"), \"name\": String(\"db\")}",
            ),
            (
                "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY----- done",
                "key: *** done",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(mask_patterns(text), want, "{text}");
        }
    }

    #[test]
    fn names_and_plain_text_stay() {
        for text in [
            "https://acme.bigid.cloud/api/v1/ds-connections?limit=5",
            "mysql://${secret:DB}@h",
            "jdbc:mysql://u:${secret:DB_PASSWORD}@h:3306/x",
            "password=${secret:DB_PASSWORD}",
            "isNewPassword=true",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
            "a plain sentence about passwords: none here",
            "email support@bigdata.com",
        ] {
            assert_eq!(mask_patterns(text), text);
        }
    }
}
