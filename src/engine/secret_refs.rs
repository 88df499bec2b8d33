//! Secret references: an argument where a secret belongs may hold `${secret:NAME}`, resolved
//! just before sending from the variable `DATASOURCE_MCP_SECRET_NAME` of the server's
//! environment (that prefix only, so a reference cannot read the server's own vendor
//! credentials). A password then never enters the conversation; a dry run shows the
//! reference, never the value.
//!
//! A value the user entered on the intake page ([`crate::intake`]) stands in for a variable
//! that is not set: the environment wins.
//!
//! A secret belongs under a secret-like key (`password`, `secretKey`, …), in a vendor's
//! credential field, or in the password part of a URL or connection string. Anywhere else (a
//! description, a name) the vendor would store the value readable and hand it back later:
//! such a reference is refused, and nothing is sent.

use std::sync::Arc;

use serde_json::Value;

use crate::error::ToolError;
use crate::intake::Intake;
use crate::redact::{self, CallSecrets};
use crate::secret::{REFERENCE_OPEN as OPEN, valid_reference_name as valid_name};
use crate::spec::Env;

/// Environment variables a reference may read start with this.
pub const PREFIX: &str = "DATASOURCE_MCP_SECRET_";

/// Where a string argument sits, as far as secrets go.
/// Whether a value under `key` is a credential, where a secret reference may go (and what the
/// tool definitions tell the model to write one in). `credential_keys` are the provider's
/// credential keys whose names do not look secret.
pub fn secret_belongs(key: &str, credential_keys: &[&str]) -> bool {
    redact::is_secret_key(key) || redact::is_secret_text_key(key) || credential_keys.contains(&key)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A secret belongs here: every reference resolves.
    Secret,
    /// A URL or connection string: a reference resolves only where a password goes.
    Connection,
    /// Anything else: a reference is refused.
    Plain,
}

impl Place {
    fn under(self, key: &str, credential_keys: &[&str]) -> Place {
        if self == Place::Secret || secret_belongs(key, credential_keys) {
            Place::Secret
        } else if redact::is_connection_key(key) {
            Place::Connection
        } else {
            Place::Plain
        }
    }

    fn check(self, s: &str, field: &str) -> Result<(), ToolError> {
        let ok = match self {
            Place::Secret => true,
            // Every reference must sit where masking by shape hides a password: the vendor
            // echoes such strings back, and only that part is masked.
            Place::Connection => {
                let mut probe = String::new();
                let mut rest = s;
                while let Some(at) = rest.find(OPEN) {
                    probe.push_str(&rest[..at]);
                    probe.push_str("REFERENCEPROBE");
                    rest = rest[at..].find('}').map_or("", |end| &rest[at + end + 1..]);
                }
                probe.push_str(rest);
                !redact::mask_patterns(&probe).contains("REFERENCEPROBE")
            }
            Place::Plain => false,
        };
        if ok {
            return Ok(());
        }
        Err(ToolError::Invalid(crate::args::InvalidArgument::new(
            field,
            "a secret reference belongs only where a secret goes (a password, key or token \
field, or the password part of a URL); the vendor would store this field readable",
        )))
    }
}

/// Resolves references against an environment.
#[derive(Clone)]
pub struct SecretRefs {
    env: Arc<dyn Env + Send + Sync>,
    /// Values entered on the intake page, when it is on.
    intake: Option<Arc<Intake>>,
}

impl SecretRefs {
    /// Every value a reference can read is a secret from the start: masked wherever it
    /// appears (a vendor may echo the same password stored elsewhere before any call uses it).
    pub fn new(env: Arc<dyn Env + Send + Sync>) -> Self {
        for (_, value) in env.vars_with_prefix(PREFIX) {
            redact::register_secret(&value);
        }
        Self { env, intake: None }
    }

    /// Also reads values entered on `intake`'s page.
    pub fn with_intake(mut self, intake: Arc<Intake>) -> Self {
        self.intake = Some(intake);
        self
    }

    /// `args` with every reference replaced by its value; each value is remembered in `call`
    /// (and process-wide) so it is masked in every output. `credential_keys` are the
    /// provider's credential fields whose names do not look secret (e.g. an access key id).
    pub fn resolve(
        &self,
        args: &Value,
        credential_keys: &[&str],
        call: &mut CallSecrets,
    ) -> Result<Value, ToolError> {
        let mut out = args.clone();
        self.walk(&mut out, String::new(), Place::Plain, credential_keys, call)?;
        Ok(out)
    }

    fn walk(
        &self,
        v: &mut Value,
        path: String,
        place: Place,
        credential_keys: &[&str],
        call: &mut CallSecrets,
    ) -> Result<(), ToolError> {
        match v {
            Value::String(s) if s.contains(OPEN) => {
                place.check(s, &path)?;
                *s = self.substitute(s, &path, call)?;
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.walk(item, format!("{path}[{i}]"), place, credential_keys, call)?;
                }
            }
            Value::Object(map) => {
                for (k, item) in map.iter_mut() {
                    let here = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    let place = place.under(k, credential_keys);
                    self.walk(item, here, place, credential_keys, call)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn substitute(
        &self,
        s: &str,
        field: &str,
        call: &mut CallSecrets,
    ) -> Result<String, ToolError> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(start) = rest.find(OPEN) {
            out.push_str(&rest[..start]);
            let after = &rest[start + OPEN.len()..];
            let name = after
                .find('}')
                .map(|end| &after[..end])
                .filter(|n| valid_name(n))
                .ok_or_else(|| {
                    ToolError::Invalid(crate::args::InvalidArgument::new(
                        field,
                        "holds a malformed secret reference (write ${secret:NAME}; NAME of letters, digits and _)",
                    ))
                })?;
            let entered = || {
                self.intake
                    .as_ref()
                    .and_then(|i| i.value(name))
                    .map(|v| v.expose().to_string())
            };
            let value = self
                .env
                .var(&format!("{PREFIX}{name}"))
                .or_else(entered)
                .ok_or_else(|| ToolError::UnknownSecret {
                    field: field.to_string(),
                    name: name.to_string(),
                })?;
            redact::register_secret(&value);
            call.add(&value);
            out.push_str(&value);
            rest = &after[name.len() + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn refs() -> SecretRefs {
        let env: HashMap<String, String> = [
            ("DATASOURCE_MCP_SECRET_DB_PASS", "hunter2-pw"),
            ("BIGID_PASSWORD", "vendor-credential"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        SecretRefs::new(Arc::new(env))
    }

    #[test]
    fn resolves_whole_and_embedded_references() {
        let mut call = CallSecrets::default();
        let out = refs()
            .resolve(
                &json!({"ds": {"password": "${secret:DB_PASS}", "url": "pg://u:${secret:DB_PASS}@h/db"}, "n": 1}),
                &[],
                &mut call,
            )
            .unwrap();
        assert_eq!(
            out,
            json!({"ds": {"password": "hunter2-pw", "url": "pg://u:hunter2-pw@h/db"}, "n": 1})
        );
        assert_eq!(redact::scrub_text("x hunter2-pw", Some(&call)), "x ***");
    }

    #[test]
    fn unknown_and_malformed_references_name_the_field() {
        let mut call = CallSecrets::default();
        let err = refs()
            .resolve(
                &json!({"a": [{"password": "${secret:NOPE}"}]}),
                &[],
                &mut call,
            )
            .unwrap_err();
        assert!(
            matches!(&err, ToolError::UnknownSecret { field, name } if field == "a[0].password" && name == "NOPE"),
            "{err:?}"
        );
        // Only the prefix: a reference cannot reach the server's own credentials.
        let err = refs()
            .resolve(&json!({"pwd": "${secret:BIGID_PASSWORD}"}), &[], &mut call)
            .unwrap_err();
        assert!(matches!(err, ToolError::UnknownSecret { .. }));
        let err = refs()
            .resolve(&json!({"token": "${secret:bad-name}"}), &[], &mut call)
            .unwrap_err();
        assert!(matches!(err, ToolError::Invalid(e) if e.field == "token"));
    }

    #[test]
    fn references_resolve_only_where_a_secret_goes() {
        let mut call = CallSecrets::default();
        let resolve = |v: Value, call: &mut CallSecrets| refs().resolve(&v, &["accessId"], call);
        for ok in [
            json!({"ds_connection": {"password": "${secret:DB_PASS}"}}),
            json!({"config": {"user_password": "${secret:DB_PASS}"}}),
            json!({"accessId": "${secret:DB_PASS}"}),
            json!({"rdb_url": "mysql://scan:${secret:DB_PASS}@h:3306/x"}),
            json!({"connectionString": "Server=h;User Id=u;Password=${secret:DB_PASS};"}),
        ] {
            assert!(resolve(ok.clone(), &mut call).is_ok(), "{ok}");
        }
        for (bad, field) in [
            (json!({"description": "${secret:DB_PASS}"}), "description"),
            (
                json!({"ds_connection": {"name": "x ${secret:DB_PASS}"}}),
                "ds_connection.name",
            ),
            (
                json!({"rdb_url": "mysql://${secret:DB_PASS}.example:3306/x"}),
                "rdb_url",
            ),
            (json!({"labels": ["${secret:DB_PASS}"]}), "labels[0]"),
        ] {
            let err = resolve(bad.clone(), &mut call).unwrap_err();
            assert!(
                matches!(&err, ToolError::Invalid(e) if e.field == field),
                "{bad}: {err:?}"
            );
        }
    }
}
