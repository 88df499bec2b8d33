//! The Host and Origin allow-lists, checked on every path of a listener: a site that rebinds
//! its DNS name to this server's address sends its own name as Host, and a page of another
//! site sends its origin as Origin; both are refused before any route runs.
//!
//! Entries are written as rmcp's (which checks `/mcp` the same way): a host name or address,
//! optionally with `:port` (`*`: any host); an origin `scheme://host[:port]`, where `:*` or
//! no port matches any port.

use axum::http::{HeaderMap, Method, StatusCode, Uri, header};

/// Loopback names every server accepts as Host.
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// Loopback origins every server accepts.
pub const LOOPBACK_ORIGINS: [&str; 3] =
    ["http://localhost:*", "http://127.0.0.1:*", "http://[::1]:*"];

/// What a listener accepts.
#[derive(Debug, Clone)]
pub struct Allowed {
    /// Host and port (`None`: any port); empty: any host.
    hosts: Vec<(String, Option<u16>)>,
    origins: Vec<OriginRule>,
    /// POSTs to paths under this prefix may carry `Origin: null`.
    null_origin_posts: Option<String>,
}

#[derive(Debug, Clone)]
struct OriginRule {
    scheme: String,
    host: String,
    /// `None`: any port.
    port: Option<u16>,
}

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No Host header and no host in the request target: 400.
    NoHost,
    /// 403.
    Host,
    /// 403 (also two Origin headers, or one that is not an origin).
    Origin,
}

impl Refused {
    pub fn status(self) -> StatusCode {
        match self {
            Refused::NoHost => StatusCode::BAD_REQUEST,
            Refused::Host | Refused::Origin => StatusCode::FORBIDDEN,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refused::NoHost => "Bad Request: missing Host header",
            Refused::Host => "Forbidden: Host header is not allowed",
            Refused::Origin => "Forbidden: Origin header is not allowed",
        }
    }
}

impl Allowed {
    /// From the configured lists; an entry that cannot be read matches nothing.
    pub fn new(hosts: &[impl AsRef<str>], origins: &[impl AsRef<str>]) -> Self {
        let any_host = hosts.iter().any(|h| h.as_ref().trim() == "*");
        Allowed {
            hosts: match any_host {
                true => Vec::new(),
                false => hosts.iter().map(|h| host_entry(h.as_ref())).collect(),
            },
            origins: origins
                .iter()
                .filter_map(|o| origin_rule(o.as_ref()))
                .collect(),
            null_origin_posts: None,
        }
    }

    /// POSTs to paths under `prefix` may carry `Origin: null`: what a browser sends for a page's
    /// own form under `Referrer-Policy: no-referrer` (the intake page, which checks its own
    /// origin and form token besides).
    pub fn with_null_origin_posts(mut self, prefix: &str) -> Self {
        self.null_origin_posts = Some(prefix.to_string());
        self
    }

    /// Whether a request may go on: its Host (or the host of an absolute-form target) is
    /// allowed, and its Origin, if it has one, too.
    pub fn check(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<(), Refused> {
        let host = match headers.get(header::HOST) {
            Some(value) => value.to_str().ok().and_then(authority),
            None => uri.authority().and_then(|a| authority(a.as_str())),
        };
        let Some((host, port)) = host else {
            return Err(match headers.contains_key(header::HOST) {
                true => Refused::Host,
                false => Refused::NoHost,
            });
        };
        let host_ok = self.hosts.is_empty()
            || self
                .hosts
                .iter()
                .any(|(h, p)| *h == host && p.is_none_or(|p| Some(p) == port));
        if !host_ok {
            return Err(Refused::Host);
        }
        let mut origins = headers.get_all(header::ORIGIN).iter();
        let origin = match (origins.next(), origins.next()) {
            (None, _) => return Ok(()),
            (Some(one), None) => one.to_str().map_err(|_| Refused::Origin)?.trim(),
            (Some(_), Some(_)) => return Err(Refused::Origin),
        };
        if origin == "null" {
            let own_form = method == Method::POST
                && self
                    .null_origin_posts
                    .as_deref()
                    .is_some_and(|prefix| uri.path().starts_with(prefix));
            return own_form.then_some(()).ok_or(Refused::Origin);
        }
        let (scheme, rest) = origin.split_once("://").ok_or(Refused::Origin)?;
        let scheme = scheme.to_ascii_lowercase();
        let (host, port) = authority(rest).ok_or(Refused::Origin)?;
        let port = port.or(match scheme.as_str() {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        });
        let allowed = self.origins.iter().any(|rule| {
            rule.scheme == scheme && rule.host == host && rule.port.is_none_or(|p| Some(p) == port)
        });
        allowed.then_some(()).ok_or(Refused::Origin)
    }
}

/// `host[:port]` as lower-case host (IPv6 without brackets) and port; `None` if malformed or
/// carrying anything else (user information, a path).
fn authority(text: &str) -> Option<(String, Option<u16>)> {
    let authority: axum::http::uri::Authority = text.trim().parse().ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    Some((host, authority.port_u16()))
}

/// A host entry: `host[:port]`, or a bare IPv6 address (`::1`).
fn host_entry(text: &str) -> (String, Option<u16>) {
    authority(text).unwrap_or_else(|| {
        let bare = text.trim().trim_start_matches('[').trim_end_matches(']');
        (bare.to_ascii_lowercase(), None)
    })
}

/// `scheme://host[:port|:*]`.
fn origin_rule(text: &str) -> Option<OriginRule> {
    let (scheme, rest) = text.trim().split_once("://")?;
    let (rest, any_port) = match rest.strip_suffix(":*") {
        Some(rest) => (rest, true),
        None => (rest.trim_end_matches('/'), false),
    };
    let (host, port) = authority(rest)?;
    if any_port && port.is_some() {
        return None;
    }
    Some(OriginRule {
        scheme: scheme.to_ascii_lowercase(),
        host,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn check(
        allowed: &Allowed,
        method: Method,
        path: &str,
        pairs: &[(&str, &str)],
    ) -> Result<(), Refused> {
        let mut headers = HeaderMap::new();
        for (k, v) in pairs {
            headers.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        allowed.check(&method, &path.parse().unwrap(), &headers)
    }

    #[test]
    fn hosts_and_origins() {
        let allowed = Allowed::new(
            &["localhost", "127.0.0.1", "::1", "mcp.example.com:8443"],
            &[
                "http://localhost:*",
                "http://[::1]:*",
                "https://ide.example.com",
                "https://app.example.com:9000",
            ],
        )
        .with_null_origin_posts("/secrets/");
        let get = |pairs: &[(&str, &str)]| check(&allowed, Method::GET, "/healthz", pairs);
        assert_eq!(get(&[("host", "127.0.0.1:8080")]), Ok(()));
        assert_eq!(get(&[("host", "LOCALHOST")]), Ok(()));
        assert_eq!(get(&[("host", "[::1]:1")]), Ok(()));
        assert_eq!(get(&[("host", "mcp.example.com:8443")]), Ok(()));
        assert_eq!(get(&[("host", "mcp.example.com")]), Err(Refused::Host));
        assert_eq!(get(&[("host", "evil.example")]), Err(Refused::Host));
        assert_eq!(get(&[("host", "u@127.0.0.1")]), Err(Refused::Host));
        assert_eq!(get(&[]), Err(Refused::NoHost));
        let h = ("host", "localhost:3000");
        for ok in [
            "http://localhost:5173",
            "http://[::1]:1",
            "https://ide.example.com",
            "https://ide.example.com:444",
            "https://app.example.com:9000",
        ] {
            assert_eq!(get(&[h, ("origin", ok)]), Ok(()), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "https://localhost:5173",
            "http://127.0.0.1:5173",
            "https://app.example.com",
            "null",
            "localhost",
            "",
        ] {
            assert_eq!(get(&[h, ("origin", bad)]), Err(Refused::Origin), "{bad}");
        }
        assert_eq!(
            get(&[
                h,
                ("origin", "http://localhost:1"),
                ("origin", "http://localhost:1")
            ]),
            Err(Refused::Origin),
            "two Origin headers"
        );
        // `null` only for a POST under the prefix.
        let null = [h, ("origin", "null")];
        assert_eq!(check(&allowed, Method::POST, "/secrets/abc", &null), Ok(()));
        assert_eq!(
            check(&allowed, Method::GET, "/secrets/abc", &null),
            Err(Refused::Origin)
        );
        assert_eq!(
            check(&allowed, Method::POST, "/mcp", &null),
            Err(Refused::Origin)
        );
        // `*`: any host; origins still checked.
        let any = Allowed::new(&["*"], &LOOPBACK_ORIGINS);
        assert_eq!(
            check(&any, Method::GET, "/", &[("host", "x.example")]),
            Ok(())
        );
        assert_eq!(
            check(
                &any,
                Method::GET,
                "/",
                &[("host", "x"), ("origin", "http://x")]
            ),
            Err(Refused::Origin)
        );
    }
}
