//! Where a secret's value would go: the hosts a call's arguments name (the database, the
//! endpoint, the account the vendor will connect to with it). A value is fit for the
//! destinations it was meant for: a value typed on the intake page for the hosts the page
//! showed, a configured value for the hosts the operator bound it to.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::redact;

/// Keys whose value names a host, as a whole or inside a URL or connection string.
fn names_a_host(key: &str) -> bool {
    let k: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    [
        "host",
        "server",
        "endpoint",
        "url",
        "uri",
        "address",
        "account",
        "domain",
        "dsn",
        "connection",
    ]
    .iter()
    .any(|h| k.contains(h))
}

/// Every host named in `args` under a host-like key (as a name, `host:port`, a URL or a
/// connection string), at any depth: what a vendor connects to. Lowercase, without port or
/// trailing dot. A reference (`${secret:…}`) is no host; a URL in a description is not a
/// destination.
pub fn hosts_in(args: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    walk(args, None, &mut out);
    out
}

fn walk(value: &Value, key: Option<&str>, out: &mut BTreeSet<String>) {
    match value {
        Value::String(s) if key.is_some_and(names_a_host) => out.extend(hosts_of_text(s)),
        Value::Array(items) => items.iter().for_each(|v| walk(v, key, out)),
        Value::Object(map) => {
            for (k, v) in map {
                // What sits under a secret key is a secret, not a destination.
                if !redact::is_secret_key(k) {
                    walk(v, Some(k), out);
                }
            }
        }
        _ => {}
    }
}

/// The hosts of one text: a URL's, a connection string's `Server=`/`Host=`/`Data Source=`
/// values, or the text itself as `host[:port]`.
fn hosts_of_text(text: &str) -> Vec<String> {
    let text = text.trim();
    let mut hosts = Vec::new();
    if text.contains('=') && text.contains(';') || text.to_ascii_lowercase().starts_with("server=")
    {
        for pair in text.split(';') {
            if let Some((k, v)) = pair.split_once('=') {
                let k = k.trim().to_ascii_lowercase().replace(' ', "");
                if matches!(
                    k.as_str(),
                    "server"
                        | "host"
                        | "hostname"
                        | "datasource"
                        | "address"
                        | "addr"
                        | "networkaddress"
                        | "account"
                        | "endpoint"
                ) {
                    // SQL Server writes `tcp:host,port`.
                    let v = v.trim().trim_start_matches("tcp:");
                    hosts.extend(host_of(v.split(',').next().unwrap_or(v)));
                }
            }
        }
    }
    // A URL (also a JDBC one), possibly followed by `;key=value` pairs.
    let stripped = text.trim_start_matches("jdbc:");
    if let Some(i) = stripped.find("://") {
        let rest = &stripped[i + 3..];
        let end = rest.find(['/', '?', '#', ';']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        // Several hosts (`h1:5432,h2:5432`).
        for part in authority.split(',') {
            hosts.extend(host_of(part));
        }
    } else if hosts.is_empty() && !text.contains('=') {
        hosts.extend(host_of(text));
    }
    hosts
}

/// `host`, `host:port`, `[v6]:port` → the host, lowercase, if it looks like one.
fn host_of(text: &str) -> Option<String> {
    let text = text.trim();
    if text.contains(crate::secret::REFERENCE_OPEN) {
        return None;
    }
    let host = match text.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => match text.matches(':').count() {
            // A bare IPv6 address has several colons; `host:port` one.
            0 | 1 => text.split(':').next().unwrap_or(""),
            _ => text,
        },
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    ok.then_some(host)
}

/// Whether `host` matches an operator's pattern: the same name (any case), or `*.domain`
/// for any name under it.
pub fn matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim().trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(domain) => host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}")),
        None => pattern == host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(hosts: &[&str]) -> BTreeSet<String> {
        hosts.iter().map(|h| h.to_string()).collect()
    }

    #[test]
    fn every_host_the_arguments_name() {
        let args = json!({"ds_connection": {"name": "Orders", "rdb_url": "DB.Example.com:3306",
            "password": "${secret:PW}", "notes": "see https://wiki.example.org/x"},
            "config": {"connectionString": "Server=tcp:sql.example.net,1433;Password=${secret:PW};"},
            "jdbcUrl": "jdbc:postgresql://pg1.example.com:5432,pg2.example.com/db?user=u",
            "host": "10.0.0.5", "account": "xy123.eu-west-1",
            "connection": "Server=other.example.org;Database=x"});
        assert_eq!(
            hosts_in(&args),
            set(&[
                "10.0.0.5",
                "db.example.com",
                "pg1.example.com",
                "other.example.org",
                "pg2.example.com",
                "sql.example.net",
                "xy123.eu-west-1"
            ])
        );
        // The attack of the issue: the password's text names another host, but only the host
        // after the last `@` counts (and the value is percent-encoded before it is sent).
        assert_eq!(
            hosts_in(&json!({"rdb_url": "mysql://scan:${secret:PW}@db.example.com/x"})),
            set(&["db.example.com"])
        );
        assert!(hosts_in(&json!({"name": "x", "port": 3306})).is_empty());
    }

    #[test]
    fn patterns() {
        assert!(matches("db.example.com", "db.example.com"));
        assert!(matches("DB.example.com.", "db.example.com"));
        assert!(matches("*.example.com", "db.example.com"));
        assert!(!matches("*.example.com", "example.com"));
        assert!(!matches("*.example.com", "db.example.com.evil.net"));
        assert!(!matches("db.example.com", "db.example.com.evil.net"));
    }
}
