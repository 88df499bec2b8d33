//! People with credentials of their own at the simulated vendors (`sandbox --users`), and the
//! record of whose credential each request carried (`sandbox --record`).
//!
//! Vendors whose credential a person can give as one static key take part (Bigdata.com's
//! `X-API-KEY`, DataBrain's bearer service token, PDC's bearer access token): each user gets a
//! key of their own, generated like the service key and accepted exactly like it, so a test can
//! prove which key a write carried without the vendor's answers changing at all. (PDC's
//! service also signs in with a username and password; the tokens that exchange hands out are
//! none of these keys, so the record shows them as null.)

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::Response;
use serde::Serialize;

use crate::secret::random_token;

/// What the record says for the service's own key.
pub const SERVICE: &str = "service";

/// The users named by `--users` (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Users(Vec<String>);

impl Users {
    /// `alice,bob`: names of 1 to 32 of `a-z`, `0-9`, `_` and `-`, each once. `service` is what
    /// the record calls the service key, so no user may be called that.
    pub fn parse(list: &str) -> Result<Users, String> {
        let mut names: Vec<String> = Vec::new();
        for name in list.split(',') {
            let valid = (1..=32).contains(&name.len())
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                });
            if !valid {
                return Err(format!(
                    "{name:?} is not a user name: 1 to 32 of a-z, 0-9, _ and -"
                ));
            }
            if name == SERVICE {
                return Err(format!(
                    "{SERVICE:?} names the service's own key in the record"
                ));
            }
            // `a-b` and `a_b` would print the same variable name.
            if names.iter().any(|n| var_part(n) == var_part(name)) {
                return Err(format!("{name:?} is named twice"));
            }
            names.push(name.to_string());
        }
        Ok(Users(names))
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// A user's name as it appears in a variable name: upper case, `-` as `_`.
fn var_part(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

/// The static keys one vendor accepts: the service's, and one of each user's.
#[derive(Clone)]
pub struct Keys {
    service: String,
    /// (user, key), in the order the users were named.
    users: Vec<(String, String)>,
}

impl Keys {
    /// A fresh service key and one per user, each `random_token(prefix)`.
    pub fn generate(prefix: &str, users: &Users) -> Keys {
        Keys {
            service: random_token(prefix),
            users: users
                .names()
                .map(|name| (name.to_string(), random_token(prefix)))
                .collect(),
        }
    }

    /// The service's key as the vendor already made it (PDC's pre-issued access token), and one
    /// per user, each `random_token(prefix)`.
    pub fn with_service(service: String, prefix: &str, users: &Users) -> Keys {
        Keys {
            service,
            ..Keys::generate(prefix, users)
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// Whose key `presented` is: [`SERVICE`], a user's name, or `None` when it is no key here.
    pub fn holder(&self, presented: Option<&str>) -> Option<&str> {
        let presented = presented?;
        if presented == self.service {
            return Some(SERVICE);
        }
        self.users
            .iter()
            .find(|(_, key)| key == presented)
            .map(|(name, _)| name.as_str())
    }

    /// Whether a request carrying `presented` may pass: any key here, the service's or a user's.
    pub fn accepts(&self, presented: Option<&str>) -> bool {
        self.holder(presented).is_some()
    }

    /// Each user's key as the variable `SANDBOX_USER_<NAME>_<var>`, `var` being the name the
    /// server reads the service key from (e.g. `BIGDATA_API_KEY`).
    pub fn user_env(&self, var: &str) -> Vec<(String, String)> {
        self.users
            .iter()
            .map(|(name, key)| {
                (
                    format!("SANDBOX_USER_{}_{var}", var_part(name)),
                    key.clone(),
                )
            })
            .collect()
    }
}

/// Where a vendor's static key travels in a request (a header, a bearer token).
pub type Presented = fn(&HeaderMap) -> Option<&str>;

/// A vendor's static keys and where a request carries one: what the record needs to name the
/// key a request carried.
#[derive(Clone)]
pub struct KeyCheck {
    pub keys: Keys,
    pub presented: Presented,
    /// The variable the server reads the service key from (users' variables end with it).
    pub var: &'static str,
}

impl KeyCheck {
    pub fn holder<'a>(&'a self, headers: &'a HeaderMap) -> Option<&'a str> {
        self.keys.holder((self.presented)(headers))
    }
}

/// The file `--record` appends to: one JSON line per request answered, written whole and at
/// once (the file is read while the sandbox runs).
#[derive(Clone)]
pub struct Record(Arc<Mutex<File>>);

/// One request as the record shows it. The fields in this order, the key itself never.
#[derive(Serialize)]
struct Line<'a> {
    vendor: &'a str,
    method: &'a str,
    path: &'a str,
    status: u16,
    /// [`SERVICE`], a user's name, or null when the request carried no key of this vendor's.
    credential: Option<&'a str>,
}

impl Record {
    /// Opens `path` to append to (created when missing).
    pub fn open(path: &Path) -> std::io::Result<Record> {
        let file = File::options().create(true).append(true).open(path)?;
        Ok(Record(Arc::new(Mutex::new(file))))
    }

    fn write(&self, line: &Line<'_>) {
        let mut text = serde_json::to_string(line).unwrap_or_default();
        text.push('\n');
        // One write of the whole line to an unbuffered file: a reader never sees half of it.
        // A failed write loses that line only; the vendor still answers.
        let mut file = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = file.write_all(text.as_bytes()) {
            eprintln!("datasource-mcp sandbox: --record: {e}");
        }
    }

    /// `router` (one vendor's, mounted under its prefix, so paths are the vendor's own),
    /// recording every request it answers, refusals included, with whose key it carried.
    pub fn wrap(&self, router: Router, vendor: &'static str, check: KeyCheck) -> Router {
        let record = self.clone();
        router.layer(middleware::from_fn(move |request: Request, next: Next| {
            let (record, check) = (record.clone(), check.clone());
            async move {
                let method = request.method().as_str().to_string();
                let path = request.uri().path().to_string();
                let credential = check.holder(request.headers()).map(str::to_string);
                let response: Response = next.run(request).await;
                // Written before the answer leaves: whoever got the answer finds the line.
                record.write(&Line {
                    vendor,
                    method: &method,
                    path: &path,
                    status: response.status().as_u16(),
                    credential: credential.as_deref(),
                });
                response
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let users = Users::parse("alice,bob_2,c-d").unwrap();
        assert_eq!(users.names().collect::<Vec<_>>(), ["alice", "bob_2", "c-d"]);
        for bad in [
            "",
            "alice,",
            "Alice",
            "a b",
            "service",
            "a-b,a_b",
            "alice,alice",
        ] {
            assert!(Users::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Users::parse(&"x".repeat(32)).is_ok());
        assert!(Users::parse(&"x".repeat(33)).is_err());
    }

    #[test]
    fn keys_name_their_holder() {
        let keys = Keys::generate("k-", &Users::parse("alice,b-b").unwrap());
        let env = keys.user_env("BIGDATA_API_KEY");
        assert_eq!(env[0].0, "SANDBOX_USER_ALICE_BIGDATA_API_KEY");
        assert_eq!(env[1].0, "SANDBOX_USER_B_B_BIGDATA_API_KEY");
        assert_ne!(env[0].1, env[1].1);
        assert_ne!(env[0].1, keys.service());
        assert_eq!(keys.holder(Some(&env[1].1)), Some("b-b"));
        assert_eq!(keys.holder(Some(keys.service())), Some(SERVICE));
        assert_eq!(keys.holder(Some("k-nope")), None);
        assert_eq!(keys.holder(None), None);
        assert!(keys.accepts(Some(&env[0].1)));
    }
}
