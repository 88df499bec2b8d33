//! Which JSON keys name a secret. Keys are compared lowercased with `_` and `-` removed, so
//! `user_password`, `userPassword` and `USER-PASSWORD` are the same key.

/// Whether every scalar under this key is a secret.
pub fn is_secret_key(key: &str) -> bool {
    with_normalised(key, names_secret)
}

/// Whether a *string* under this key is a secret (an object under it is not: DataBrain's
/// `credentials` object holds a name and a host, but a `credentials` string is a whole
/// service-account file).
pub fn is_secret_text_key(key: &str) -> bool {
    with_normalised(key, |k| matches!(k, b"credentials" | b"credentialsjson"))
}

/// Whether the value under this key is a connection string or URL: it mixes a host (kept
/// readable) and maybe a password (masked by pattern).
pub fn is_connection_key(key: &str) -> bool {
    with_normalised(key, |k| {
        k.ends_with(b"url")
            || k.ends_with(b"uri")
            || k.ends_with(b"dsn")
            || k.ends_with(b"connectionstring")
            || k == b"endpoint"
    })
}

/// Whether the value under this key names or describes something (`name`, `label`,
/// `displayName`, `username`, `hostname`, `description`…): the vendor stores it readable,
/// lists it, and lets callers filter by it, so a secret never goes there, whatever object it
/// sits in.
pub fn is_name_key(key: &str) -> bool {
    with_normalised(key, |k| {
        k.ends_with(b"name")
            || matches!(
                k,
                b"label" | b"title" | b"description" | b"desc" | b"comment" | b"note" | b"notes"
            )
    })
}

/// Normalises into a stack buffer (this runs for every key of every result: no allocation).
/// A dotted key (a field picked by path, `conn.pwd`) is judged by its last segment, the key
/// the value has in the vendor's object.
fn with_normalised(key: &str, f: impl Fn(&[u8]) -> bool) -> bool {
    let key = key.rsplit('.').next().unwrap_or(key);
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
            return f(&long);
        }
        buf[len] = b.to_ascii_lowercase();
        len += 1;
    }
    f(&buf[..len])
}

fn names_secret(key: &[u8]) -> bool {
    const EXACT: &[&[u8]] = &[
        b"pwd",
        b"pass",
        b"authorization",
        b"proxyauthorization",
        b"cookie",
        b"setcookie",
        b"xapikey",
        b"credential",
        b"accesskey",
        b"sslkey",
        b"clientkey",
        b"keyjson",
        b"jsonkey",
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
        b"accountkey",
        b"sharedaccesskey",
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

#[cfg(test)]
mod tests {
    use super::*;

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
            "Proxy-Authorization",
            "session_id",
            "client_secret",
            "pwd",
            "accountKey",
            "sslKey",
            "keyJson",
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
            "connectionString",
            "credentials",
            "authorizationUrl",
        ] {
            assert!(!is_secret_key(k), "{k} should not be secret");
        }
        assert!(is_secret_text_key("credentials"));
        assert!(is_connection_key("connectionString"));
        assert!(is_connection_key("rdb_url"));
        assert!(is_connection_key("jdbcUrl"));
        assert!(!is_connection_key("name"));
    }
}
