//! Where configuration comes from, read once at start-up into one map every part of the server
//! reads through [`Env`]:
//!
//! 1. the process environment;
//! 2. each variable the server reads may instead be given as `NAME_FILE=/path` (Docker and
//!    Kubernetes secrets, the convention of official images): the file's text, trailing
//!    newlines trimmed. Both set is an error, and so is a file that cannot be read, naming the
//!    variable and the path. `DATASOURCE_MCP_SECRET_X_FILE` is the file form of
//!    `DATASOURCE_MCP_SECRET_X`, never a secret named `X_FILE`;
//! 3. a provider credential variable set neither way is read from the OS keychain, where
//!    `datasource-mcp login` stored it (a locked or unreadable entry is an error naming it; a
//!    machine without a keychain simply has none).

use std::collections::HashMap;

use super::VENDORS;
use crate::keychain::{self, Keychain};
use crate::mounted;
use crate::secret::{HOSTS_VAR_PREFIX, SECRET_VAR_PREFIX};
use crate::spec::{ConfigError, Env, is_set};

/// The suffix of a variable's file form.
pub const FILE_SUFFIX: &str = "_FILE";

/// The server's own variables read through [`Env`] (besides the providers' variables and the
/// secret references' `DATASOURCE_MCP_SECRET_*` and `DATASOURCE_MCP_HOSTS_*`): each has a
/// `_FILE` form. The others are flags' fallbacks, read by the command line.
pub const SERVER_VARS: &[&str] = &[
    "DATASOURCE_MCP_HTTP_TOKEN",
    "DATASOURCE_MCP_ALLOW_HTTP",
    "DATASOURCE_MCP_OAUTH_ISSUER",
    "DATASOURCE_MCP_OAUTH_JWKS_URL",
    "DATASOURCE_MCP_OAUTH_AUDIENCE",
    "DATASOURCE_MCP_OAUTH_READ_SCOPE",
    "DATASOURCE_MCP_OAUTH_WRITE_SCOPE",
    "DATASOURCE_MCP_STORE_KEY",
    "DATASOURCE_MCP_STORE_KEY_PREVIOUS",
];

/// Whether the server reads `name` through [`Env`] (so `name_FILE` is its file form).
pub fn has_file_form(name: &str) -> bool {
    SERVER_VARS.contains(&name)
        || name.starts_with(SECRET_VAR_PREFIX)
        || name.starts_with(HOSTS_VAR_PREFIX)
        || VENDORS
            .iter()
            .any(|s| s.base_url_var == name || s.env.iter().any(|v| v.name == name))
}

/// Where a variable's value came from, when not the environment itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `NAME_FILE`: the file at this path.
    File(String),
    /// The OS keychain (`datasource-mcp login`).
    Keychain,
}

/// The configuration the server runs with.
#[derive(Debug, Default)]
pub struct Loaded {
    pub vars: HashMap<String, String>,
    /// The variables that came from a file or the keychain (names only).
    pub origins: Vec<(String, Origin)>,
    /// The paths of every `_FILE` read (the secrets directory must not hold them).
    pub files: Vec<std::path::PathBuf>,
}

/// Reads the configuration from `process` (the environment's variables), with `_FILE` forms,
/// and provider credentials from `keychain` when it is given.
pub fn load(
    process: impl IntoIterator<Item = (String, String)>,
    keychain: Option<&Keychain>,
) -> Result<Loaded, ConfigError> {
    let mut vars: HashMap<String, String> = process.into_iter().collect();
    let mut loaded = Loaded::default();
    let mut file_vars: Vec<String> = vars
        .keys()
        .filter(|k| k.ends_with(FILE_SUFFIX))
        .cloned()
        .collect();
    file_vars.sort();
    for file_var in file_vars {
        let name = &file_var[..file_var.len() - FILE_SUFFIX.len()];
        if !has_file_form(name) {
            if name.starts_with("DATASOURCE_MCP_") {
                return Err(ConfigError(format!(
                    "{file_var}: {name} has no file form (only credentials, secrets and the variables read with them do); give it as a variable or a flag"
                )));
            }
            // Not ours (SSL_CERT_FILE, …).
            continue;
        }
        let path = vars.remove(&file_var).unwrap_or_default();
        if !is_set(&path) {
            continue;
        }
        if vars.get(name).is_some_and(|v| is_set(v)) {
            return Err(ConfigError(format!(
                "both {name} and {file_var} are set: give one of them"
            )));
        }
        let value = mounted::read_value(std::path::Path::new(&path))
            .and_then(|v| {
                v.ok_or_else(|| mounted::FileError {
                    path: path.clone().into(),
                    reason: "no such file".into(),
                })
            })
            .map_err(|e| ConfigError(format!("{file_var}={path}: cannot read it: {}", e.reason)))?;
        vars.insert(name.to_string(), value);
        loaded
            .origins
            .push((name.to_string(), Origin::File(path.clone())));
        loaded.files.push(path.into());
    }
    if let Some(keychain) = keychain {
        from_keychain(&mut vars, &mut loaded.origins, keychain)?;
    }
    loaded.vars = vars;
    Ok(loaded)
}

/// Every provider credential variable not set is read from the keychain, where `login` put it.
fn from_keychain(
    vars: &mut HashMap<String, String>,
    origins: &mut Vec<(String, Origin)>,
    keychain: &Keychain,
) -> Result<(), ConfigError> {
    let unset: Vec<&str> = VENDORS
        .iter()
        .flat_map(|s| s.env.iter())
        .filter(|v| v.secret && !vars.get(v.name).is_some_and(|x| is_set(x)))
        .map(|v| v.name)
        .collect();
    if unset.is_empty() || !keychain.available() {
        return Ok(());
    }
    let index = keychain.index().map_err(|e| {
        ConfigError(format!(
            "the keychain's list of stored credentials ({}/index) could not be read: {e}; or set DATASOURCE_MCP_NO_KEYCHAIN=1",
            keychain::SERVICE
        ))
    })?;
    for name in unset {
        match keychain.credential(name, &index) {
            Ok(Some(value)) => {
                vars.insert(name.to_string(), value.expose().to_string());
                origins.push((name.to_string(), Origin::Keychain));
            }
            Ok(None) => {}
            Err(e) => {
                return Err(ConfigError(format!(
                    "{name}: the keychain entry {}/{} could not be read: {e}; or set {name} (or {name}{FILE_SUFFIX}), or DATASOURCE_MCP_NO_KEYCHAIN=1",
                    keychain::SERVICE,
                    keychain::credential_account(name)
                )));
            }
        }
    }
    Ok(())
}

/// The process environment's variables (those that are not UTF-8 are not the server's).
pub fn process_vars() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

impl Loaded {
    /// A map to read as an [`Env`].
    pub fn env(&self) -> &HashMap<String, String> {
        &self.vars
    }

    /// Whether `name` is set.
    pub fn has(&self, name: &str) -> bool {
        self.vars.var(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn tmp(test: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
        let d =
            std::env::temp_dir().join(format!("datasource-mcp-env-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        for (name, text) in files {
            std::fs::write(d.join(name), text).unwrap();
        }
        d
    }

    #[test]
    fn file_forms_replace_their_variables() {
        let d = tmp(
            "forms",
            &[("token", "tok-S3NT1NEL\n"), ("pw", "db-S3NT1NEL\n")],
        );
        let token = d.join("token").display().to_string();
        let pw = d.join("pw").display().to_string();
        let loaded = load(
            vars(&[
                ("BIGID_BASE_URL", "https://b.example/api/v1"),
                ("BIGID_USER_TOKEN_FILE", &token),
                ("DATASOURCE_MCP_SECRET_DB_PASS_FILE", &pw),
                ("SSL_CERT_FILE", "/not/ours"),
                ("DATASOURCE_MCP_HTTP_TOKEN_FILE", ""),
            ]),
            None,
        )
        .unwrap();
        let env = loaded.env();
        assert_eq!(env.var("BIGID_USER_TOKEN").as_deref(), Some("tok-S3NT1NEL"));
        assert_eq!(
            env.var("DATASOURCE_MCP_SECRET_DB_PASS").as_deref(),
            Some("db-S3NT1NEL")
        );
        // Never a secret named DB_PASS_FILE.
        assert_eq!(env.var("DATASOURCE_MCP_SECRET_DB_PASS_FILE"), None);
        assert_eq!(env.var("SSL_CERT_FILE").as_deref(), Some("/not/ours"));
        assert_eq!(env.var("DATASOURCE_MCP_HTTP_TOKEN"), None);
        assert_eq!(
            loaded.origins,
            [
                ("BIGID_USER_TOKEN".to_string(), Origin::File(token)),
                (
                    "DATASOURCE_MCP_SECRET_DB_PASS".to_string(),
                    Origin::File(pw)
                ),
            ]
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn both_forms_or_an_unreadable_file_stop_start_up() {
        let d = tmp("errors", &[("token", "t\n")]);
        let token = d.join("token").display().to_string();
        let err = load(
            vars(&[("PDC_PASSWORD", "x"), ("PDC_PASSWORD_FILE", &token)]),
            None,
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            "both PDC_PASSWORD and PDC_PASSWORD_FILE are set: give one of them"
        );
        let missing = d.join("missing").display().to_string();
        let err = load(vars(&[("PDC_PASSWORD_FILE", &missing)]), None).unwrap_err();
        assert_eq!(
            err.0,
            format!("PDC_PASSWORD_FILE={missing}: cannot read it: no such file")
        );
        let dir = d.display().to_string();
        let err = load(vars(&[("DATABRAIN_SERVICE_TOKEN_FILE", &dir)]), None).unwrap_err();
        assert!(
            err.0.starts_with(&format!(
                "DATABRAIN_SERVICE_TOKEN_FILE={dir}: cannot read it: "
            )),
            "{err}"
        );
        let err = load(vars(&[("DATASOURCE_MCP_LISTEN_FILE", &token)]), None).unwrap_err();
        assert_eq!(
            err.0,
            "DATASOURCE_MCP_LISTEN_FILE: DATASOURCE_MCP_LISTEN has no file form (only credentials, secrets and the variables read with them do); give it as a variable or a flag"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    /// Every `DATASOURCE_MCP_*` variable the source reads through `Env` has its file form (a
    /// new one added without joining SERVER_VARS would silently have none).
    #[test]
    fn every_variable_read_through_env_has_a_file_form() {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for piece in text.split(".var(\"").skip(1) {
                        let name = piece.split('"').next().unwrap_or_default();
                        if name.starts_with("DATASOURCE_MCP_") {
                            out.push(name.to_string());
                        }
                    }
                }
            }
        }
        let mut read = Vec::new();
        walk(std::path::Path::new("src"), &mut read);
        assert!(
            read.contains(&"DATASOURCE_MCP_HTTP_TOKEN".to_string()),
            "{read:?}"
        );
        for name in read {
            assert!(
                has_file_form(&name),
                "{name} is read through Env but has no _FILE form"
            );
        }
    }

    #[test]
    fn unset_credentials_come_from_the_keychain() {
        let store: std::sync::Arc<keyring_core::CredentialStore> =
            keyring_core::mock::Store::new().unwrap();
        let keychain = Keychain::in_store(store);
        keychain
            .store_credential("DATABRAIN_SERVICE_TOKEN", "kc-S3NT1NEL-token")
            .unwrap();
        keychain
            .store_credential("BIGDATA_API_KEY", "kc-S3NT1NEL-key")
            .unwrap();
        let loaded = load(
            vars(&[("BIGDATA_API_KEY", "from-the-environment")]),
            Some(&keychain),
        )
        .unwrap();
        assert_eq!(
            loaded.env().var("DATABRAIN_SERVICE_TOKEN").as_deref(),
            Some("kc-S3NT1NEL-token")
        );
        // A variable that is set wins.
        assert_eq!(
            loaded.env().var("BIGDATA_API_KEY").as_deref(),
            Some("from-the-environment")
        );
        assert_eq!(
            loaded.origins,
            [("DATABRAIN_SERVICE_TOKEN".to_string(), Origin::Keychain)]
        );
        // No keychain: nothing, quickly.
        let loaded = load(vars(&[]), Some(&Keychain::off())).unwrap();
        assert!(loaded.origins.is_empty());
    }
}
