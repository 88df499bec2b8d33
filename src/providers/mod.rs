//! The registry of providers: every vendor's spec and rows, in the order tools are listed.
//! Each file below holds one vendor's facts: its rows of the operation table, their argument
//! types, how it authenticates, what its error codes mean and how an agent works with it.
//! Nothing here knows about MCP, transports or HTTP clients.

use crate::operation::{OperationSpec, Provider};
use crate::spec::{ConfigError, Credential, Env, ProviderSpec};

pub mod bigdata;
pub mod bigid;
pub mod databrain;
pub mod environment;
pub mod inventory;
pub mod pdc;

/// Every vendor, in the order tools are listed.
pub static VENDORS: &[&ProviderSpec] =
    &[&bigid::SPEC, &pdc::SPEC, &bigdata::SPEC, &databrain::SPEC];

/// Every toolset: the vendors, then the tools that span them.
pub static ALL: &[&ProviderSpec] = &[
    &bigid::SPEC,
    &pdc::SPEC,
    &bigdata::SPEC,
    &databrain::SPEC,
    &inventory::SPEC,
];

impl Provider {
    pub fn spec(self) -> &'static ProviderSpec {
        match self {
            Provider::BigId => &bigid::SPEC,
            Provider::Pdc => &pdc::SPEC,
            Provider::Bigdata => &bigdata::SPEC,
            Provider::DataBrain => &databrain::SPEC,
            Provider::Inventory => &inventory::SPEC,
        }
    }

    /// Whether this toolset's tools work with these configured vendors: a vendor's when it is
    /// configured, the inventory's when any vendor is.
    pub fn served_by(self, mut configured: impl Iterator<Item = Provider>) -> bool {
        match self.is_vendor() {
            true => configured.any(|p| p == self),
            false => configured.next().is_some(),
        }
    }

    /// A vendor (configured by its own variables), not a toolset over every vendor.
    pub fn is_vendor(self) -> bool {
        VENDORS.iter().any(|v| v.provider == self)
    }

    /// The tool-name prefix and toolset name (`bigid`, `pdc`, …).
    pub fn id(self) -> &'static str {
        self.spec().id
    }

    pub fn from_id(id: &str) -> Option<Provider> {
        ALL.iter().find(|p| p.id == id).map(|p| p.provider)
    }
}

/// Every operation of every provider, in provider order.
pub fn operations() -> impl Iterator<Item = &'static OperationSpec> {
    ALL.iter().flat_map(|p| p.operations.iter())
}

/// The operation called `name`.
pub fn operation(name: &str) -> Option<&'static OperationSpec> {
    operations().find(|op| op.name == name)
}

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

/// Whether a URL names a loopback host (`localhost`, 127.0.0.0/8, `::1`): the hosts `http://`
/// is accepted for, here and for the HTTP transport's OAuth issuer.
pub fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
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
    let loopback = is_loopback_host(&url);
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

/// The configured providers, and the variables to set for the others.
pub fn configure_all(env: &dyn Env) -> Result<Vec<ProviderConfig>, ConfigError> {
    let mut out = Vec::new();
    for spec in VENDORS {
        if let Some(cfg) = configure(spec, env)? {
            out.push(cfg);
        }
    }
    Ok(out)
}

/// How a vendor's sources appear in a desired-state file, where it has a form there.
pub fn state(provider: Provider) -> Option<&'static crate::spec::StateSpec> {
    match provider {
        Provider::BigId => Some(&bigid::STATE),
        Provider::Pdc => Some(&pdc::STATE),
        Provider::Bigdata => Some(&bigdata::STATE),
        Provider::DataBrain => Some(&databrain::STATE),
        Provider::Inventory => None,
    }
}

/// How a vendor's stored sources are tested and its answers read, where it has a test.
pub fn checks(provider: Provider) -> Option<&'static crate::spec::Checks> {
    match provider {
        Provider::BigId => Some(&bigid::CHECKS),
        Provider::Pdc => Some(&pdc::CHECKS),
        Provider::Bigdata => Some(&bigdata::CHECKS),
        Provider::DataBrain => Some(&databrain::CHECKS),
        Provider::Inventory => None,
    }
}

/// What `verify --write` does at a vendor, or why it writes nothing there.
pub fn write_script(
    provider: Provider,
) -> Result<&'static crate::operation::WriteScript, &'static str> {
    match provider {
        Provider::BigId => Ok(&bigid::VERIFY_WRITE),
        Provider::Bigdata => Ok(&bigdata::VERIFY_WRITE),
        Provider::Pdc => Err(
            "PDC's public API has no data-source delete this server uses: a throwaway could not be removed",
        ),
        Provider::DataBrain => Err(
            "DataBrain tests a datasource's credentials before it creates it: a throwaway would need a database DataBrain can reach",
        ),
        Provider::Inventory => Err("not a vendor"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operation::Hints;
    use serde_json::Value;
    use std::collections::HashMap;

    #[test]
    fn names_follow_the_contract() {
        let mut seen = std::collections::HashSet::new();
        for op in operations() {
            assert!(op.name.len() <= 64, "{}", op.name);
            assert!(
                op.name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                op.name
            );
            assert!(
                op.name.starts_with(&format!("{}_", op.provider.id())),
                "{}",
                op.name
            );
            assert!(seen.insert(op.name), "duplicate {}", op.name);
            assert!(op.path.starts_with('/'), "{}", op.name);
        }
    }

    /// Every row's example is valid (once secret references are filled in), so the skill
    /// reference never shows a call that fails validation.
    #[test]
    fn examples_are_valid_arguments() {
        for op in operations() {
            let mut args: Value = serde_json::from_str(op.example)
                .unwrap_or_else(|e| panic!("{}: example is not JSON: {e}", op.name));
            fill_references(&mut args);
            if let Err(e) = op.prepare(args) {
                panic!("{}: example does not validate: {e}", op.name);
            }
        }
    }

    fn fill_references(v: &mut Value) {
        match v {
            Value::String(s) if s.contains("${secret:") => *s = "filled-secret".into(),
            Value::Array(items) => items.iter_mut().for_each(fill_references),
            Value::Object(map) => map.values_mut().for_each(fill_references),
            _ => {}
        }
    }

    /// The ledger: every row says where its request goes, every provider how it logs in and
    /// what its errors look like, and every fact has a source.
    #[test]
    fn every_vendor_fact_has_a_source() {
        use crate::operation::Aspect;
        for spec in VENDORS {
            for about in [Aspect::Path, Aspect::Auth, Aspect::Errors] {
                assert!(
                    spec.facts.iter().any(|f| f.about == about),
                    "{}: no {about:?} fact",
                    spec.id
                );
            }
            for op in spec.operations {
                assert!(
                    op.facts.iter().any(|f| f.about == Aspect::Path),
                    "{}: no fact about its path",
                    op.name
                );
            }
            let all = spec
                .facts
                .iter()
                .chain(spec.operations.iter().flat_map(|op| op.facts));
            for f in all {
                assert!(!f.claim.is_empty() && !f.source.reference().is_empty());
            }
        }
    }

    /// `verify`: every assumed fact has a check or says why it cannot have one; only assumed
    /// facts are checked; a probe only reads (GET, or the POST of a search); a write script's
    /// tools exist at its own vendor, and its cleanup deletes.
    #[test]
    fn every_assumed_fact_is_checked_or_says_why_not() {
        use crate::operation::{Method, Via};
        for spec in VENDORS {
            let all = spec
                .facts
                .iter()
                .chain(spec.operations.iter().flat_map(|op| op.facts));
            for f in all {
                let v = &f.verify;
                match f.source.is_assumed() {
                    true => assert!(v.is_checked() || v.cannot.is_some(), "{}", f.claim),
                    false => assert!(!v.is_checked() && v.cannot.is_none(), "{}", f.claim),
                }
                for ask in v.read.map_or(&[][..], |p| p.asks) {
                    let search = ask.method == Method::Post && ask.path.ends_with("/filter");
                    assert!(ask.method == Method::Get || search, "{}", ask.shown());
                }
            }
            if let Ok(script) = write_script(spec.provider) {
                let cleanup = operation(script.cleanup).unwrap();
                assert_eq!(cleanup.provider, spec.provider);
                assert_eq!(cleanup.hints, Hints::DELETE);
                for step in script.steps {
                    if let Via::Tool(tool, _) = step.via {
                        assert_eq!(operation(tool).unwrap().provider, spec.provider, "{tool}");
                    }
                }
            }
        }
    }

    #[test]
    fn creates_can_be_reconciled_and_flows_are_sound() {
        for op in operations() {
            let is_create = op.hints == Hints::CREATE;
            assert_eq!(is_create, op.reconcile.is_some(), "{}", op.name);
            if let Some(rec) = &op.reconcile {
                let lookup = operation(rec.lookup).unwrap_or_else(|| panic!("{}", rec.lookup));
                assert!(
                    lookup.hints.read_only,
                    "{}: lookup changes nothing",
                    op.name
                );
                assert_eq!(lookup.provider, op.provider, "{}", op.name);
            }
            // A second form is tried only for requests that change nothing.
            assert!(
                op.flow.fallback.is_none() || op.hints.read_only,
                "{}",
                op.name
            );
            // Waiting for work reports progress.
            assert!(op.flow.then_poll.is_none() || op.progress, "{}", op.name);
        }
    }

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
