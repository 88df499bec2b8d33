//! Wire tests: one vendor configured against the recording fake, and the exact requests it
//! received.

use serde_json::Value;

use super::{Client, FakeUpstream, Recorded, Reply, client};

pub const UA: &str = concat!("datasource-mcp/", env!("CARGO_PKG_VERSION"));

/// The header a request carries its credential in, and the value it must have.
#[derive(Clone, Copy, Debug)]
pub struct AuthHeader<'a> {
    pub name: &'static str,
    scheme: Option<&'static str>,
    token: &'a str,
    /// The vendor reads only this header: a request carries no `Authorization` besides.
    alone: bool,
}

impl<'a> AuthHeader<'a> {
    /// `name: <token>`, the token as is.
    pub const fn raw(name: &'static str, token: &'a str) -> Self {
        AuthHeader {
            name,
            scheme: None,
            token,
            alone: false,
        }
    }

    /// `Authorization: Bearer <token>`.
    pub const fn bearer(token: &'a str) -> Self {
        AuthHeader {
            scheme: Some("Bearer"),
            ..AuthHeader::raw("authorization", token)
        }
    }

    /// And no `Authorization` header besides it.
    pub const fn alone(self) -> Self {
        AuthHeader {
            alone: true,
            ..self
        }
    }

    pub fn value(&self) -> String {
        match self.scheme {
            Some(scheme) => format!("{scheme} {}", self.token),
            None => self.token.to_string(),
        }
    }
}

/// A request that trades the configured credential for a token, and the fake's answer to it.
pub struct Exchange {
    pub method: &'static str,
    pub path: &'static str,
    pub answer: fn() -> Value,
}

/// One vendor as a wire test configures it against the fake, and what its requests carry.
pub struct Vendor {
    /// The base URL variable, and the path on the fake where the vendor's API is served.
    pub base_url: (&'static str, &'static str),
    /// The credential variables and their values.
    pub credentials: &'static [(&'static str, &'static str)],
    pub exchange: Option<Exchange>,
    /// The credential header of every API request (after any exchange).
    pub auth: AuthHeader<'static>,
}

impl Vendor {
    /// A client of a server configured for this vendor at `fake`.
    pub async fn client(&self, fake: &FakeUpstream) -> Client {
        let (var, path) = self.base_url;
        let base = fake.url(path);
        let mut vars = vec![(var, base.as_str())];
        vars.extend(self.credentials.iter().copied());
        client(&vars).await
    }
}

/// A fresh fake that answers the vendor's token exchange, and a client of a server configured
/// for it.
pub async fn setup(vendor: &Vendor) -> (FakeUpstream, Client) {
    let fake = FakeUpstream::start().await;
    if let Some(exchange) = &vendor.exchange {
        fake.on(
            exchange.method,
            exchange.path,
            Reply::json(200, (exchange.answer)()),
        );
    }
    let client = vendor.client(&fake).await;
    (fake, client)
}

/// Asserts one recorded request exactly: method, raw path, raw query, the credential header,
/// the JSON body (or none), and the headers every request carries.
pub fn assert_request(
    r: &Recorded,
    method: &str,
    path: &str,
    query: Option<&str>,
    auth: AuthHeader,
    body: Option<Value>,
) {
    assert_eq!(r.method, method, "method of {r:?}");
    assert_eq!(r.path, path, "path of {r:?}");
    assert_eq!(r.query.as_deref(), query, "query of {r:?}");
    assert_eq!(
        r.header(auth.name),
        Some(auth.value().as_str()),
        "{} of {r:?}",
        auth.name
    );
    assert_eq!(r.header("user-agent"), Some(UA));
    assert_eq!(r.header("accept"), Some("application/json"));
    match body {
        Some(b) => {
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert_eq!(r.json(), b, "body of {r:?}");
        }
        None => assert_eq!(r.body, "", "no body expected in {r:?}"),
    }
    if auth.alone {
        assert_eq!(r.header("authorization"), None);
    }
}
