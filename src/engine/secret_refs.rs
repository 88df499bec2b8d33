//! Secret references: any string argument may hold `${secret:NAME}`, resolved just before
//! sending from the variable `DATASOURCE_MCP_SECRET_NAME` of the server's environment (that
//! prefix only, so a reference cannot read the server's own vendor credentials). A password
//! then never enters the conversation; a dry run shows the reference, never the value.

use std::sync::Arc;

use serde_json::Value;

use crate::error::ToolError;
use crate::redact::{self, CallSecrets};
use crate::secret::{REFERENCE_OPEN as OPEN, valid_reference_name as valid_name};
use crate::spec::Env;

/// Environment variables a reference may read start with this.
pub const PREFIX: &str = "DATASOURCE_MCP_SECRET_";

/// Resolves references against an environment.
#[derive(Clone)]
pub struct SecretRefs {
    env: Arc<dyn Env + Send + Sync>,
}

impl SecretRefs {
    pub fn new(env: Arc<dyn Env + Send + Sync>) -> Self {
        Self { env }
    }

    /// `args` with every reference replaced by its value; each value is remembered in `call`
    /// (and process-wide) so it is masked in every output.
    pub fn resolve(&self, args: &Value, call: &mut CallSecrets) -> Result<Value, ToolError> {
        let mut out = args.clone();
        self.walk(&mut out, String::new(), call)?;
        Ok(out)
    }

    fn walk(&self, v: &mut Value, path: String, call: &mut CallSecrets) -> Result<(), ToolError> {
        match v {
            Value::String(s) if s.contains(OPEN) => *s = self.substitute(s, &path, call)?,
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.walk(item, format!("{path}[{i}]"), call)?;
                }
            }
            Value::Object(map) => {
                for (k, item) in map.iter_mut() {
                    let here = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    self.walk(item, here, call)?;
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
            let value = self.env.var(&format!("{PREFIX}{name}")).ok_or_else(|| {
                ToolError::UnknownSecret {
                    field: field.to_string(),
                    name: name.to_string(),
                }
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
            .resolve(&json!({"a": [{"p": "${secret:NOPE}"}]}), &mut call)
            .unwrap_err();
        assert!(
            matches!(&err, ToolError::UnknownSecret { field, name } if field == "a[0].p" && name == "NOPE"),
            "{err:?}"
        );
        // Only the prefix: a reference cannot reach the server's own credentials.
        let err = refs()
            .resolve(&json!({"p": "${secret:BIGID_PASSWORD}"}), &mut call)
            .unwrap_err();
        assert!(matches!(err, ToolError::UnknownSecret { .. }));
        let err = refs()
            .resolve(&json!({"p": "${secret:bad-name}"}), &mut call)
            .unwrap_err();
        assert!(matches!(err, ToolError::Invalid(e) if e.field == "p"));
    }
}
