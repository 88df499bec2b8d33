//! The vendors. Each file holds one vendor's facts: its rows of the operation table, their
//! argument types, how it authenticates, and what its error codes mean. Nothing here knows
//! about MCP or transports.

use std::collections::HashMap;

use crate::operation::OperationSpec;
use crate::upstream::auth::Credential;

pub mod bigdata;
pub mod bigid;
pub mod databrain;
pub mod pdc;

/// A vendor the server can talk to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    BigId,
    Pdc,
    Bigdata,
    DataBrain,
}

impl Provider {
    /// The tool-name prefix and toolset name (`bigid`, `pdc`, …).
    pub fn id(self) -> &'static str {
        self.spec().id
    }

    pub fn spec(self) -> &'static ProviderSpec {
        match self {
            Provider::BigId => &bigid::SPEC,
            Provider::Pdc => &pdc::SPEC,
            Provider::Bigdata => &bigdata::SPEC,
            Provider::DataBrain => &databrain::SPEC,
        }
    }

    pub fn from_id(id: &str) -> Option<Provider> {
        ALL.iter().find(|p| p.id == id).map(|p| p.provider)
    }
}

/// Every provider, in the order tools are listed.
pub static ALL: &[&ProviderSpec] = &[&bigid::SPEC, &pdc::SPEC, &bigdata::SPEC, &databrain::SPEC];

/// An environment variable a provider reads.
pub struct EnvVar {
    pub name: &'static str,
    pub help: &'static str,
    pub secret: bool,
}

/// Everything the server knows about one vendor.
pub struct ProviderSpec {
    pub provider: Provider,
    /// `bigid`: tool-name prefix and toolset name.
    pub id: &'static str,
    /// `BigID`: for people.
    pub title: &'static str,
    pub base_url_var: &'static str,
    /// Used when the base URL variable is unset (cloud vendors with one public host).
    pub default_base_url: Option<&'static str>,
    /// Every variable it reads, for the README, the startup message and `doctor`.
    pub env: &'static [EnvVar],
    /// Reads the credential from the environment: `Ok(None)` when none of its variables is
    /// set, an error naming the missing variable when it is half set.
    pub credential: fn(&dyn Env) -> Result<Option<Credential>, ConfigError>,
    /// What to set to configure it, for the start-up message.
    pub setup: &'static str,
    /// Which variables to check when the vendor rejects the credential.
    pub credential_hint: &'static str,
    /// A hint for a vendor error code, when the vendor documents one.
    pub code_hint: fn(code: &str) -> Option<&'static str>,
    /// The cheap read `doctor` sends to check reachability and authentication.
    pub probe: Probe,
    pub operations: &'static [OperationSpec],
}

/// A read-only call that proves a provider answers and accepts the credential.
pub struct Probe {
    pub tool: &'static str,
    /// Its arguments, as JSON.
    pub args: &'static str,
}

/// Where configuration comes from: the process environment, or a map (tests, the sandbox).
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment. An empty value is unset, and so is an MCP Bundle placeholder:
/// a desktop host passes `${user_config.KEY}` literally when the user left that setting empty.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| is_set(v))
    }
}

/// Whether a variable's value counts as given (see [`ProcessEnv`]).
pub fn is_set(value: &str) -> bool {
    !value.is_empty() && !value.starts_with("${user_config.")
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| is_set(v)).cloned()
    }
}

/// A configuration the server refuses to start with. The message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// A provider that is configured: where it lives and how to authenticate.
#[derive(Debug)]
pub struct ProviderConfig {
    pub provider: Provider,
    pub base_url: String,
    pub credential: Credential,
}

/// Reads one provider's configuration. `Ok(None)`: not configured at all.
pub fn configure(
    spec: &'static ProviderSpec,
    env: &dyn Env,
) -> Result<Option<ProviderConfig>, ConfigError> {
    let explicit_base = env.var(spec.base_url_var);
    let credential = (spec.credential)(env)?;
    let credential = match (credential, &explicit_base) {
        (Some(c), _) => c,
        (None, Some(_)) => {
            return Err(ConfigError(format!(
                "{} is set but no {} credential is: {}",
                spec.base_url_var, spec.title, spec.credential_hint
            )));
        }
        (None, None) => return Ok(None),
    };
    let base = explicit_base
        .or_else(|| spec.default_base_url.map(str::to_string))
        .ok_or_else(|| {
            ConfigError(format!(
                "{} credentials are set but {} is not",
                spec.title, spec.base_url_var
            ))
        })?;
    let base_url = check_base_url(spec.base_url_var, &base, env)?;
    Ok(Some(ProviderConfig {
        provider: spec.provider,
        base_url,
        credential,
    }))
}

/// A base URL must be https, or http on a loopback host (a local proxy or the sandbox):
/// credentials never cross a network in clear text unless the operator says so with
/// `DATASOURCE_MCP_ALLOW_HTTP=1`.
fn check_base_url(var: &str, raw: &str, env: &dyn Env) -> Result<String, ConfigError> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|_| ConfigError(format!("{var} is not a URL (expected https://host/path)")))?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(ConfigError(format!(
            "{var} must not carry a query, fragment or user info"
        )));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback || env.var("DATASOURCE_MCP_ALLOW_HTTP").as_deref() == Some("1") => {}
        "http" => {
            return Err(ConfigError(format!(
                "{var} uses http:// on a non-loopback host; use https:// (or set DATASOURCE_MCP_ALLOW_HTTP=1)"
            )));
        }
        _ => return Err(ConfigError(format!("{var} must be an https:// URL"))),
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// Reads a pair of variables that only make sense together (username and password).
pub fn pair(
    env: &dyn Env,
    first: &str,
    second: &str,
) -> Result<Option<(String, String)>, ConfigError> {
    match (env.var(first), env.var(second)) {
        (Some(a), Some(b)) => Ok(Some((a, b))),
        (Some(_), None) => Err(ConfigError(format!(
            "{first} is set but {second} is missing"
        ))),
        (None, Some(_)) => Err(ConfigError(format!(
            "{second} is set but {first} is missing"
        ))),
        (None, None) => Ok(None),
    }
}

/// The configured providers, and the variables to set for the others.
pub fn configure_all(env: &dyn Env) -> Result<Vec<ProviderConfig>, ConfigError> {
    let mut out = Vec::new();
    for spec in ALL {
        if let Some(cfg) = configure(spec, env)? {
            out.push(cfg);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Only real secrets are masked by value: a username or `grant_type=password` is not.
    #[test]
    fn only_passwords_and_tokens_are_credential_secrets() {
        let e = env(&[
            ("PDC_BASE_URL", "https://p.example"),
            ("PDC_USERNAME", "admin"),
            ("PDC_PASSWORD", "pw-123456"),
            ("BIGID_BASE_URL", "https://b.example"),
            ("BIGID_USERNAME", "admin"),
            ("BIGID_PASSWORD", "pw-abcdef"),
        ]);
        let configs = configure_all(&e).unwrap();
        let secrets: Vec<Vec<&str>> = configs
            .iter()
            .map(|c| c.credential.secrets().iter().map(|s| s.expose()).collect())
            .collect();
        assert_eq!(secrets, [vec!["pw-abcdef"], vec!["pw-123456"]]);
    }

    #[test]
    fn base_urls() {
        let e = env(&[]);
        assert_eq!(
            check_base_url("X", "https://a.example/api/v1/", &e).unwrap(),
            "https://a.example/api/v1"
        );
        assert!(check_base_url("X", "http://127.0.0.1:9/api", &e).is_ok());
        assert!(check_base_url("X", "http://[::1]:9/api", &e).is_ok());
        assert!(check_base_url("X", "http://localhost:9/api", &e).is_ok());
        let err = check_base_url("X", "http://a.example/api", &e).unwrap_err();
        assert!(err.0.contains("X uses http://"), "{err}");
        assert!(
            check_base_url(
                "X",
                "http://a.example/api",
                &env(&[("DATASOURCE_MCP_ALLOW_HTTP", "1")])
            )
            .is_ok()
        );
        assert!(check_base_url("X", "ftp://a.example", &e).is_err());
        assert!(check_base_url("X", "https://u:p@a.example", &e).is_err());
        assert!(check_base_url("X", "not a url", &e).is_err());
    }
}
