//! Secret references: an argument where a secret belongs may hold `${secret:NAME}`, resolved
//! just before sending. A password then never enters the conversation; a dry run shows the
//! reference, never the value, and resolves nothing: it says where each value will come from
//! ([`SecretRefs::origins`]) and asks for nothing.
//!
//! The value comes from, in this order ([`SecretRefs`]): the variable
//! `DATASOURCE_MCP_SECRET_NAME` (that prefix only, so a reference cannot read the server's own
//! vendor credentials), a file NAME of the secrets directory ([`crate::mounted`]), a value
//! remembered in the OS keychain for this provider and these hosts ([`crate::keychain`]), or
//! a value the user entered on the intake page ([`crate::intake`]).
//!
//! A secret belongs under a secret-like key (`password`, `secretKey`, …), in a vendor's
//! credential field, or in the password part of a URL or connection string. Anywhere else (a
//! description, a name, wherever it sits) the vendor would store the value readable and hand
//! it back later: such a reference is refused, and nothing is sent.
//!
//! A value goes only where it was meant to ([`destination`]): a value typed on the intake page
//! is used for the caller who typed it and the provider and hosts the page showed, one
//! remembered in the keychain for that provider and those hosts (anything else asks again); a
//! configured value (environment, secrets directory) the operator bound to hosts
//! (`DATASOURCE_MCP_HOSTS_<NAME>`) goes to those hosts only, and a caller without the write
//! scope may use no other. And it is written for its place ([`encode`]): percent-encoded in a
//! URL, quoted in a connection string.

pub mod destination;
pub mod encode;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use crate::error::ToolError;
use crate::intake::{Binding, Intake};
use crate::keychain::{Keychain, KeychainError, Scope};
use crate::mounted::SecretsDir;
use crate::redact::{self, CallSecrets};
use crate::secret::{REFERENCE_OPEN as OPEN, valid_reference_name as valid_name};
use crate::spec::Env;
use encode::Placement;

/// Environment variables a reference may read start with this.
pub const PREFIX: &str = crate::secret::SECRET_VAR_PREFIX;

/// The hosts an operator binds a configured secret to: `DATASOURCE_MCP_HOSTS_<NAME>`, a
/// comma-separated list of names and `*.domain` patterns. (Not under [`PREFIX`]: every value
/// there is a secret, masked everywhere, and a host list is not.)
pub const HOSTS_PREFIX: &str = crate::secret::HOSTS_VAR_PREFIX;

/// Whether a value under `key` is a credential, where a secret reference may go (and what the
/// tool definitions tell the model to write one in). `credential_keys` are the provider's
/// credential keys whose names do not look secret.
pub fn secret_belongs(key: &str, credential_keys: &[&str]) -> bool {
    redact::is_secret_key(key) || redact::is_secret_text_key(key) || credential_keys.contains(&key)
}

/// Who uses a call's secrets, and where they would go.
#[derive(Debug, Clone)]
pub struct Destination {
    /// Who calls ([`crate::engine::audit::Caller::binding`]).
    pub caller: String,
    /// The provider the request goes to (its id).
    pub provider: &'static str,
    /// The host of the provider's base URL: where a value goes when the arguments name no
    /// host of their own.
    pub vendor_host: String,
    /// Every host the arguments name ([`destination::hosts_in`]).
    pub hosts: BTreeSet<String>,
    /// Whether the caller may send a secret to hosts of its choosing: every caller but one
    /// without the write scope.
    pub chooses_hosts: bool,
}

impl Destination {
    /// Where a value would be sent.
    pub fn targets(&self) -> BTreeSet<String> {
        if self.hosts.is_empty() {
            BTreeSet::from([self.vendor_host.clone()])
        } else {
            self.hosts.clone()
        }
    }

    /// The binding a value entered for this call is kept under.
    pub fn binding(&self) -> Binding {
        Binding {
            caller: self.caller.clone(),
            provider: self.provider.to_string(),
            hosts: self.hosts.iter().cloned().collect(),
        }
    }
}

/// Where a resolved value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `DATASOURCE_MCP_SECRET_<NAME>` (or its `_FILE` form).
    Environment,
    /// A file in the secrets directory.
    Directory,
    /// Remembered in the OS keychain.
    Keychain,
    /// Typed on the intake page.
    Entered,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Environment => "environment",
            Source::Directory => "directory",
            Source::Keychain => "keychain",
            Source::Entered => "entered",
        }
    }
}

/// One secret a call resolved: its name, where from, and the field it went into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedSecret {
    pub name: String,
    pub source: Source,
    pub field: String,
}

/// A call's arguments with every reference resolved, and what was used.
#[derive(Debug)]
pub struct Resolved {
    pub args: Value,
    pub used: Vec<UsedSecret>,
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
    fn under(self, key: &str, value: &Value, credential_keys: &[&str]) -> Place {
        let credential_key = credential_keys.contains(&key);
        // A name is stored readable and filtered on, wherever it sits (even in a
        // `credentials` object).
        if redact::is_name_key(key) && !credential_key {
            Place::Plain
        } else if self == Place::Secret
            || redact::is_secret_key(key)
            || credential_key
            // `credentials` as a string is a key file; as an object it holds a name and a host,
            // each judged by its own key.
            || (redact::is_secret_text_key(key) && value.is_string())
        {
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

/// One reference in a call's arguments, where it sits and how its value will be written: what
/// a dry run shows instead of the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedReference {
    pub field: String,
    pub name: String,
    pub placement: Placement,
}

/// Every reference in `args` with its placement, checked for where it sits (a reference in a
/// name or description is refused, as when resolving).
pub fn references(
    args: &Value,
    credential_keys: &[&str],
) -> Result<Vec<PlacedReference>, ToolError> {
    let mut out = Vec::new();
    visit(
        args,
        String::new(),
        Place::Plain,
        credential_keys,
        &mut |s, field, place| {
            place.check(s, field)?;
            for (at, len, name) in occurrences(s, field)? {
                out.push(PlacedReference {
                    field: field.to_string(),
                    name: name.to_string(),
                    placement: Placement::of(s, at, len),
                });
            }
            Ok(())
        },
    )?;
    Ok(out)
}

/// Calls `f` for every string holding a reference, with its field path and place.
fn visit(
    v: &Value,
    path: String,
    place: Place,
    credential_keys: &[&str],
    f: &mut dyn FnMut(&str, &str, Place) -> Result<(), ToolError>,
) -> Result<(), ToolError> {
    match v {
        Value::String(s) if s.contains(OPEN) => f(s, &path, place),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                visit(item, format!("{path}[{i}]"), place, credential_keys, f)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            for (k, item) in map {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                visit(
                    item,
                    here,
                    place.under(k, item, credential_keys),
                    credential_keys,
                    f,
                )?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Each reference of `s`: its byte offset, length and name.
fn occurrences<'a>(s: &'a str, field: &str) -> Result<Vec<(usize, usize, &'a str)>, ToolError> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = s[from..].find(OPEN) {
        let at = from + i;
        let after = &s[at + OPEN.len()..];
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
        let len = OPEN.len() + name.len() + 1;
        out.push((at, len, name));
        from = at + len;
    }
    Ok(out)
}

/// Where `${secret:NAME}` values come from, in this order, the same in every mode:
///
/// 1. the environment, `DATASOURCE_MCP_SECRET_NAME` (or its `_FILE` form, read at start-up);
/// 2. the secrets directory (`--secrets-dir`): a file named NAME, read when it is used;
/// 3. the OS keychain: a value the user asked the intake page to remember, for the provider and
///    hosts it was entered for only;
/// 4. a value entered on the intake page, for the caller, provider and hosts it was entered
///    for.
///
/// Configured values (1 and 2) go where the operator's host binding allows
/// (`DATASOURCE_MCP_HOSTS_NAME`), and to a caller without the write scope only when bound. A
/// file or keychain entry that cannot be read is an error naming the secret and where it
/// looked, never an empty value. Every value is registered for masking.
#[derive(Clone)]
pub struct SecretRefs {
    env: Arc<dyn Env + Send + Sync>,
    dir: Option<Arc<SecretsDir>>,
    keychain: Option<Arc<Keychain>>,
    /// Values entered on the intake page, when it is on.
    intake: Option<Arc<Intake>>,
}

/// Where a reference's value will come from, as a dry run tells it (never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Environment,
    Directory(std::path::PathBuf),
    Keychain,
    Entered,
    /// Nowhere yet: the user is asked on the intake page when the change is made.
    AskedOnPage,
}

impl Origin {
    /// What a dry run's `references` entry says.
    pub fn describe(&self, name: &str) -> String {
        match self {
            Origin::Environment => format!("the environment ({PREFIX}{name})"),
            Origin::Directory(path) => format!("the secrets directory ({})", path.display()),
            Origin::Keychain => format!(
                "{}, remembered from the intake page for this provider and these hosts",
                crate::keychain::place()
            ),
            Origin::Entered => "the value entered on the intake page".into(),
            Origin::AskedOnPage => "the intake page: the user is asked for it when the change is made (this call without dry_run); nothing was asked now".into(),
        }
    }
}

/// The keychain scope of a value used for a call going to `to`: its provider, and every host
/// it would be sent to (the vendor's own when the arguments name none).
pub fn scope_of(to: &Destination) -> Scope {
    Scope {
        provider: to.provider.to_string(),
        hosts: to.targets().into_iter().collect(),
    }
}

impl SecretRefs {
    /// Every value a reference can read from the environment is a secret from the start:
    /// masked wherever it appears (a vendor may echo the same password stored elsewhere
    /// before any call uses it).
    pub fn new(env: Arc<dyn Env + Send + Sync>) -> Self {
        for (_, value) in env.vars_with_prefix(PREFIX) {
            redact::register_secret(&value);
        }
        Self {
            env,
            dir: None,
            keychain: None,
            intake: None,
        }
    }

    /// Also reads the secrets directory; its values are masked from now on.
    pub fn with_dir(mut self, dir: SecretsDir) -> Self {
        dir.register_all();
        self.dir = Some(Arc::new(dir));
        self
    }

    /// Also reads values remembered in the keychain.
    pub fn with_keychain(mut self, keychain: Arc<Keychain>) -> Self {
        self.keychain = Some(keychain);
        self
    }

    /// Also reads values entered on `intake`'s page.
    pub fn with_intake(mut self, intake: Arc<Intake>) -> Self {
        self.intake = Some(intake);
        self
    }

    /// `args` with every reference replaced by its value, written for its place; each value is
    /// remembered in `call` (and process-wide) so it is masked in every output. `credential_keys`
    /// are the provider's credential fields whose names do not look secret (e.g. an access key
    /// id). A value is used only where `to` is allowed to send it.
    pub async fn resolve(
        &self,
        args: &Value,
        credential_keys: &[&str],
        call: &mut CallSecrets,
        to: &Destination,
    ) -> Result<Resolved, ToolError> {
        let placed = references(args, credential_keys)?;
        let mut values: HashMap<String, (String, Source)> = HashMap::new();
        for r in &placed {
            if !values.contains_key(&r.name) {
                let found = self.value_of(&r.name, &r.field, to).await?;
                values.insert(r.name.clone(), found);
            }
        }
        let mut out = args.clone();
        let mut used = Vec::new();
        walk(
            &mut out,
            String::new(),
            Place::Plain,
            credential_keys,
            &mut |s, field| substitute(s, field, &values, call, &mut used),
        )?;
        Ok(Resolved { args: out, used })
    }

    /// Where each reference's value will come from, without reading any value (a dry run).
    /// `asks`: a value found nowhere will be asked for on the intake page when the change is
    /// made; otherwise it is the unknown reference.
    pub async fn origins(
        &self,
        placed: &[PlacedReference],
        to: &Destination,
        asks: bool,
    ) -> Result<Vec<Origin>, ToolError> {
        let mut index = None;
        let mut out = Vec::new();
        for r in placed {
            let (name, field) = (r.name.as_str(), r.field.as_str());
            let origin = if self.env.var(&format!("{PREFIX}{name}")).is_some() {
                self.check_bound(name, field, to)?;
                Origin::Environment
            } else if let Some(dir) = self.dir.as_ref().filter(|d| d.holds(name)) {
                self.check_bound(name, field, to)?;
                Origin::Directory(dir.file_of(name))
            } else if self
                .remembered_in_index(&mut index, name, field, to)
                .await?
            {
                Origin::Keychain
            } else if let Some(intake) = &self.intake
                && intake.holds(name, &to.binding()).await
            {
                Origin::Entered
            } else if asks {
                Origin::AskedOnPage
            } else {
                return Err(ToolError::UnknownSecret {
                    field: field.to_string(),
                    name: name.to_string(),
                });
            };
            out.push(origin);
        }
        Ok(out)
    }

    /// Whether the keychain's index says `name` is remembered for `to` (the index is read once
    /// per dry run, never a value).
    async fn remembered_in_index(
        &self,
        index: &mut Option<Option<crate::keychain::Index>>,
        name: &str,
        field: &str,
        to: &Destination,
    ) -> Result<bool, ToolError> {
        let Some(keychain) = &self.keychain else {
            return Ok(false);
        };
        if index.is_none() {
            *index = Some(match keychain.index_async().await {
                Ok(i) => Some(i),
                Err(KeychainError::NotThere(_)) => None,
                Err(e) => {
                    return Err(ToolError::SecretUnreadable {
                        field: field.to_string(),
                        name: name.to_string(),
                        place: format!(
                            "the keychain's list of remembered secrets ({}/index)",
                            crate::keychain::SERVICE
                        ),
                        reason: e.to_string(),
                    });
                }
            });
        }
        Ok(index
            .as_ref()
            .and_then(Option::as_ref)
            .and_then(|i| i.secrets.get(name))
            .is_some_and(|scope| *scope == scope_of(to)))
    }

    /// A configured value (environment, directory) goes only where the operator's binding
    /// allows it; a caller without the write scope uses only bound ones.
    fn check_bound(&self, name: &str, field: &str, to: &Destination) -> Result<(), ToolError> {
        let refused = |reason: String| ToolError::SecretNotAllowed {
            field: field.to_string(),
            name: name.to_string(),
            reason,
        };
        match self.env.var(&format!("{HOSTS_PREFIX}{name}")) {
            Some(bound) => {
                let patterns: Vec<&str> = bound
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect();
                let outside: Vec<String> = to
                    .targets()
                    .into_iter()
                    .filter(|h| !patterns.iter().any(|p| destination::matches(p, h)))
                    .collect();
                if !outside.is_empty() {
                    return Err(refused(format!(
                        "the operator bound it to {} ({HOSTS_PREFIX}{name}); this call would send it to {}",
                        patterns.join(", "),
                        outside.join(", ")
                    )));
                }
                Ok(())
            }
            None if !to.chooses_hosts => Err(refused(format!(
                "a caller without the write scope may use only secrets the operator bound to hosts ({HOSTS_PREFIX}{name})"
            ))),
            None => Ok(()),
        }
    }

    /// The value of `name` for a call going to `to`, from the first source that has one.
    async fn value_of(
        &self,
        name: &str,
        field: &str,
        to: &Destination,
    ) -> Result<(String, Source), ToolError> {
        let unreadable = |place: String, reason: String| ToolError::SecretUnreadable {
            field: field.to_string(),
            name: name.to_string(),
            place,
            reason,
        };
        if let Some(value) = self.env.var(&format!("{PREFIX}{name}")) {
            self.check_bound(name, field, to)?;
            return Ok((value, Source::Environment));
        }
        if let Some(dir) = &self.dir {
            match dir.read(name) {
                Ok(Some(value)) => {
                    self.check_bound(name, field, to)?;
                    return Ok((value.expose().to_string(), Source::Directory));
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(unreadable("the secrets directory".into(), e.to_string()));
                }
            }
        }
        if let Some(keychain) = &self.keychain {
            match keychain.remembered_async(name).await {
                // Remembered for another provider or other hosts: asked again.
                Ok(Some(r)) if r.scope == scope_of(to) => {
                    return Ok((r.value.expose().to_string(), Source::Keychain));
                }
                Ok(_) | Err(KeychainError::NotThere(_)) => {}
                Err(e) => {
                    return Err(unreadable(
                        format!(
                            "the keychain entry {}/{}",
                            crate::keychain::SERVICE,
                            crate::keychain::secret_account(name)
                        ),
                        e.to_string(),
                    ));
                }
            }
        }
        let entered = match &self.intake {
            Some(intake) => intake.value(name, &to.binding()).await,
            None => None,
        };
        entered
            .map(|v| (v.expose().to_string(), Source::Entered))
            .ok_or_else(|| ToolError::UnknownSecret {
                field: field.to_string(),
                name: name.to_string(),
            })
    }
}

/// Calls `f` on every string holding a reference, after checking its place.
fn walk(
    v: &mut Value,
    path: String,
    place: Place,
    credential_keys: &[&str],
    f: &mut dyn FnMut(&str, &str) -> Result<String, ToolError>,
) -> Result<(), ToolError> {
    match v {
        Value::String(s) if s.contains(OPEN) => {
            place.check(s, &path)?;
            *s = f(s, &path)?;
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, format!("{path}[{i}]"), place, credential_keys, f)?;
            }
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                let here = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let place = place.under(k, item, credential_keys);
                walk(item, here, place, credential_keys, f)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// `s` with each reference replaced by its value from `values`, written for its place.
fn substitute(
    s: &str,
    field: &str,
    values: &HashMap<String, (String, Source)>,
    call: &mut CallSecrets,
    used: &mut Vec<UsedSecret>,
) -> Result<String, ToolError> {
    let mut out = String::with_capacity(s.len());
    let mut rest_from = 0;
    for (at, len, name) in occurrences(s, field)? {
        out.push_str(&s[rest_from..at]);
        let Some((value, source)) = values.get(name) else {
            return Err(ToolError::UnknownSecret {
                field: field.to_string(),
                name: name.to_string(),
            });
        };
        redact::register_secret(value);
        call.add(value);
        let placement = Placement::of(s, at, len);
        let (whole_value, quoted_by) = value_bounds(s, at, len);
        let written = encode::encode(value, placement, whole_value, quoted_by).map_err(|why| {
            ToolError::Invalid(crate::args::InvalidArgument::new(
                field,
                format!("the secret {name} cannot be placed here: {}", why.0),
            ))
        })?;
        // What was written is masked too (a percent-encoded or quoted form).
        call.add(&written);
        out.push_str(&written);
        used.push(UsedSecret {
            name: name.to_string(),
            source: *source,
            field: field.to_string(),
        });
        rest_from = at + len;
    }
    out.push_str(&s[rest_from..]);
    Ok(out)
}

/// For a reference at `at..at+len` in a `key=value;` string: whether it is the value's whole
/// text (so the value may be quoted), and the quote the template already puts around it.
fn value_bounds(s: &str, at: usize, len: usize) -> (bool, Option<char>) {
    let before = s[..at].chars().next_back();
    let after = s[at + len..].chars().next();
    match (before, after) {
        (Some(q @ ('"' | '\'')), Some(c)) if c == q => (true, Some(q)),
        (Some('{'), Some('}')) => (true, Some('{')),
        (Some('='), None | Some(';')) => (true, None),
        _ => (false, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn refs_with(extra: &[(&str, &str)]) -> SecretRefs {
        let mut env: HashMap<String, String> = [
            ("DATASOURCE_MCP_SECRET_DB_PASS", "hunter2-pw"),
            ("BIGID_PASSWORD", "vendor-credential"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        SecretRefs::new(Arc::new(env))
    }

    fn refs() -> SecretRefs {
        refs_with(&[])
    }

    fn to(args: &Value) -> Destination {
        Destination {
            caller: "stdio".into(),
            provider: "bigid",
            vendor_host: "acme.bigid.cloud".into(),
            hosts: destination::hosts_in(args),
            chooses_hosts: true,
        }
    }

    async fn resolve(refs: &SecretRefs, args: &Value, keys: &[&str]) -> Result<Value, ToolError> {
        let mut call = CallSecrets::default();
        refs.resolve(args, keys, &mut call, &to(args))
            .await
            .map(|r| r.args)
    }

    #[tokio::test]
    async fn resolves_whole_and_embedded_references() {
        let mut call = CallSecrets::default();
        let args = json!({"ds": {"password": "${secret:DB_PASS}", "url": "pg://u:${secret:DB_PASS}@h/db"}, "n": 1});
        let out = refs()
            .resolve(&args, &[], &mut call, &to(&args))
            .await
            .unwrap();
        assert_eq!(
            out.args,
            json!({"ds": {"password": "hunter2-pw", "url": "pg://u:hunter2-pw@h/db"}, "n": 1})
        );
        assert_eq!(
            out.used,
            ["ds.password", "ds.url"].map(|field| UsedSecret {
                name: "DB_PASS".into(),
                source: Source::Environment,
                field: field.into()
            })
        );
        assert_eq!(redact::scrub_text("x hunter2-pw", Some(&call)), "x ***");
    }

    #[tokio::test]
    async fn unknown_and_malformed_references_name_the_field() {
        let err = resolve(
            &refs(),
            &json!({"a": [{"password": "${secret:NOPE}"}]}),
            &[],
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, ToolError::UnknownSecret { field, name } if field == "a[0].password" && name == "NOPE"),
            "{err:?}"
        );
        // Only the prefix: a reference cannot reach the server's own credentials.
        let err = resolve(&refs(), &json!({"pwd": "${secret:BIGID_PASSWORD}"}), &[])
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::UnknownSecret { .. }));
        let err = resolve(&refs(), &json!({"token": "${secret:bad-name}"}), &[])
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::Invalid(e) if e.field == "token"));
    }

    #[tokio::test]
    async fn references_resolve_only_where_a_secret_goes() {
        let refs = refs();
        for ok in [
            json!({"ds_connection": {"password": "${secret:DB_PASS}"}}),
            json!({"config": {"user_password": "${secret:DB_PASS}"}}),
            json!({"accessId": "${secret:DB_PASS}"}),
            json!({"rdb_url": "mysql://scan:${secret:DB_PASS}@h:3306/x"}),
            json!({"connectionString": "Server=h;User Id=u;Password=${secret:DB_PASS};"}),
            json!({"credentials": {"password": "${secret:DB_PASS}"}}),
            json!({"credentials": "${secret:DB_PASS}"}),
        ] {
            assert!(resolve(&refs, &ok, &["accessId"]).await.is_ok(), "{ok}");
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
            // A name inside a credentials object (DataBrain's datasource name), or under any
            // secret key: stored readable, and filtered on.
            (
                json!({"credentials": {"name": "${secret:DB_PASS}"}}),
                "credentials.name",
            ),
            (
                json!({"password": {"username": "${secret:DB_PASS}"}}),
                "password.username",
            ),
        ] {
            let err = resolve(&refs, &bad, &["accessId"]).await.unwrap_err();
            assert!(
                matches!(&err, ToolError::Invalid(e) if e.field == field),
                "{bad}: {err:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_value_is_encoded_for_its_place() {
        let refs = refs_with(&[
            ("DATASOURCE_MCP_SECRET_AT", "Pa55@files.example.net/#"),
            (
                "DATASOURCE_MCP_SECRET_SEMI",
                "hunter2;Server=attacker.example",
            ),
        ]);
        assert_eq!(
            resolve(
                &refs,
                &json!({"rdb_url": "mysql://scan:${secret:AT}@db.example.com:3306/x"}),
                &[]
            )
            .await
            .unwrap(),
            json!({"rdb_url": "mysql://scan:Pa55%40files.example.net%2F%23@db.example.com:3306/x"})
        );
        assert_eq!(
            resolve(
                &refs,
                &json!({"connectionString": "Server=db.example.com;Password=${secret:SEMI};"}),
                &[]
            )
            .await
            .unwrap(),
            json!({"connectionString": "Server=db.example.com;Password=\"hunter2;Server=attacker.example\";"})
        );
        // Part of a value cannot be quoted: refused, naming the field.
        let err = resolve(
            &refs,
            &json!({"connectionString": "Server=db.example.com;Password=x${secret:SEMI};"}),
            &[],
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&err, ToolError::Invalid(e) if e.field == "connectionString"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn a_bound_secret_goes_only_to_its_hosts() {
        let refs = refs_with(&[(
            "DATASOURCE_MCP_HOSTS_DB_PASS",
            "db.prod.example.com, *.replica.example.com",
        )]);
        for ok in [
            json!({"rdb_url": "db.prod.example.com:3306", "password": "${secret:DB_PASS}"}),
            json!({"host": "r1.replica.example.com", "password": "${secret:DB_PASS}"}),
        ] {
            assert!(resolve(&refs, &ok, &[]).await.is_ok(), "{ok}");
        }
        for bad in [
            json!({"rdb_url": "attacker.example:3306", "password": "${secret:DB_PASS}"}),
            // Every host counts, not the first.
            json!({"rdb_url": "db.prod.example.com", "host": "attacker.example", "password": "${secret:DB_PASS}"}),
            // No host named: it would go to the vendor, which is not in the binding.
            json!({"password": "${secret:DB_PASS}"}),
        ] {
            let err = resolve(&refs, &bad, &[]).await.unwrap_err();
            assert!(
                matches!(&err, ToolError::SecretNotAllowed { name, .. } if name == "DB_PASS"),
                "{bad}: {err:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_caller_without_the_write_scope_uses_only_bound_secrets() {
        let args = json!({"rdb_url": "attacker.example:3306", "password": "${secret:DB_PASS}"});
        let mut call = CallSecrets::default();
        let reader = Destination {
            chooses_hosts: false,
            ..to(&args)
        };
        let err = refs()
            .resolve(&args, &[], &mut call, &reader)
            .await
            .unwrap_err();
        assert!(matches!(err, ToolError::SecretNotAllowed { .. }), "{err:?}");
        let bound = refs_with(&[("DATASOURCE_MCP_HOSTS_DB_PASS", "attacker.example")]);
        assert!(bound.resolve(&args, &[], &mut call, &reader).await.is_ok());
    }

    #[test]
    fn dry_runs_see_where_each_reference_goes() {
        let placed = references(
            &json!({"ds": {"password": "${secret:A}", "rdb_url": "mysql://u:${secret:B}@h/x"}}),
            &[],
        )
        .unwrap();
        assert_eq!(
            placed,
            [
                PlacedReference {
                    field: "ds.password".into(),
                    name: "A".into(),
                    placement: Placement::Whole
                },
                PlacedReference {
                    field: "ds.rdb_url".into(),
                    name: "B".into(),
                    placement: Placement::Userinfo
                }
            ]
        );
    }
}
