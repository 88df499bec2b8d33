//! Asserting the exact requests a vendor received.

use serde_json::Value;

use super::Recorded;

pub const UA: &str = concat!("datasource-mcp/", env!("CARGO_PKG_VERSION"));

/// Asserts one recorded request exactly: method, raw path, raw query, the credential header,
/// the JSON body (or none), and the headers every request carries.
pub fn assert_request(
    r: &Recorded,
    method: &str,
    path: &str,
    query: Option<&str>,
    auth: (&str, &str),
    body: Option<Value>,
) {
    assert_eq!(r.method, method, "method of {r:?}");
    assert_eq!(r.path, path, "path of {r:?}");
    assert_eq!(r.query.as_deref(), query, "query of {r:?}");
    assert_eq!(r.header(auth.0), Some(auth.1), "{} of {r:?}", auth.0);
    assert_eq!(r.header("user-agent"), Some(UA));
    assert_eq!(r.header("accept"), Some("application/json"));
    match body {
        Some(b) => {
            assert_eq!(r.header("content-type"), Some("application/json"));
            assert_eq!(r.json(), b, "body of {r:?}");
        }
        None => assert_eq!(r.body, "", "no body expected in {r:?}"),
    }
}
