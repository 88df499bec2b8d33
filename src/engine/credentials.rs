//! Per-user vendor credentials: with OAuth on, each person acts at the vendor as themselves.
//!
//! A caller (an OAuth subject) gives the server their own credential for a provider once, on
//! the intake page (never through the model); it is kept in the store (memory, or the Redis
//! replicas share) under the subject's SHA-256, sealed with the operator's key when one is
//! given ([`crate::store::sealed`]), for the configured time. From then on every call of that caller
//! to that provider carries it. A caller without one is refused with a link to the page, or
//! acts with the service credential, or with it only for tools that change nothing: the
//! operator's choice ([`WithoutOwn`]).
//!
//! Which credential acts is carried by the call's task ([`ACTING`]); a provider client in
//! per-user mode sends nothing when no call set it (fail closed), so no path can slip back to
//! the service credential unseen. Exchanged tokens (BigID sessions, PDC grants) are cached per
//! caller and credential, never shared between callers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::operation::Provider;
use crate::providers::VENDORS;
use crate::secret::SecretString;
use crate::spec::{Credential, Env, ProviderSpec};
use crate::store::{Store, StoreError, StoreResult};
use crate::upstream::Authenticator;
pub use crate::upstream::acting::{ACTING, Acting, service};

use crate::store::sealed::Sealer;

/// How long a stored credential lives by default (30 days).
pub const DEFAULT_TTL: Duration = Duration::from_secs(30 * 86_400);

/// What a caller without a credential of their own gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum WithoutOwn {
    /// Refused, with a link to the page where they give theirs.
    #[default]
    Refuse,
    /// The service credential acts for them.
    Fallback,
    /// The service credential acts for them in tools that change nothing; writes are refused.
    ReadOnly,
}

/// The variable a person gives for `spec`: the first secret credential variable that is a
/// whole credential alone (BigID's user token, PDC's access token, Bigdata.com's API key,
/// DataBrain's API token).
pub fn personal_variable(spec: &'static ProviderSpec) -> Option<&'static str> {
    spec.env
        .iter()
        .filter(|v| v.secret)
        .map(|v| v.name)
        .find(|name| {
            let only = Only {
                spec,
                base: None,
                variable: name,
                value: "x",
            };
            matches!((spec.credential)(&only), Ok(Some(_)))
        })
}

/// The environment a person's credential is built from: their one variable, the provider's
/// settings that are not credentials (e.g. BigID's auth scheme) from the server's, and none of
/// the service's credential variables.
struct Only<'a> {
    spec: &'static ProviderSpec,
    base: Option<&'a dyn Env>,
    variable: &'a str,
    value: &'a str,
}

impl Env for Only<'_> {
    fn var(&self, name: &str) -> Option<String> {
        if name == self.variable {
            return Some(self.value.to_string());
        }
        let credential_part = self
            .spec
            .env
            .iter()
            .any(|v| v.name == name && (v.secret || v.name.ends_with("_USERNAME")));
        match credential_part {
            true => None,
            false => self.base.and_then(|b| b.var(name)),
        }
    }

    fn vars_with_prefix(&self, _prefix: &str) -> Vec<(String, String)> {
        Vec::new()
    }
}

/// An authenticator made from a stored credential, with the digest of that credential.
type Made = (String, Arc<Authenticator>);

/// Per-user mode: where credentials are kept, and what a caller without one gets.
pub struct PerUser {
    pub without: WithoutOwn,
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
    ttl: Duration,
    /// Authenticators made from stored credentials, by (subject digest, provider), with the
    /// digest of the credential they were made from (a replaced credential makes a new one).
    made: Mutex<HashMap<(String, Provider), Made>>,
    /// Where a credential given or removed on the page is recorded.
    audit: Option<Arc<super::audit::AuditLog>>,
}

impl std::fmt::Debug for PerUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerUser")
            .field("without", &self.without)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn digest(text: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    d.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The store key of `subject`'s credentials (prefix), by its digest: no subject in the store.
fn prefix(subject: &str) -> String {
    format!("credential:{}:", digest(subject))
}

fn corrupt(why: &str) -> StoreError {
    StoreError {
        where_: "per-user credentials".into(),
        why: why.into(),
    }
}

impl PerUser {
    pub fn new(
        without: WithoutOwn,
        store: Arc<dyn Store>,
        sealer: Arc<Sealer>,
        ttl: Duration,
    ) -> Self {
        Self {
            without,
            store,
            sealer,
            ttl,
            made: Mutex::default(),
            audit: None,
        }
    }

    /// A credential given or removed on the page is an audit line (`tool`
    /// `me/credentials`, the provider and the change, never a value).
    pub fn with_audit(mut self, audit: Option<Arc<super::audit::AuditLog>>) -> Self {
        self.audit = audit;
        self
    }

    fn audited(&self, subject: &str, provider: Provider, change: &str, outcome: &str) {
        let Some(log) = &self.audit else {
            return;
        };
        let caller = super::audit::Caller::Subject(subject.to_string());
        log.record(&super::audit::Entry {
            caller: Some(&caller),
            tool: "me/credentials",
            target: json!({"provider": provider.spec().id, "change": change}),
            dry_run: false,
            outcome,
            vendor_status: None,
            took: Duration::ZERO,
            correlation_id: None,
            secrets: Value::Null,
            credential: Some("own"),
        });
    }

    /// Keeps `value` as `subject`'s credential for `provider` (replacing theirs).
    pub async fn put(
        &self,
        subject: &str,
        provider: Provider,
        value: &SecretString,
    ) -> StoreResult<()> {
        let spec = provider.spec();
        let variable = personal_variable(spec).ok_or_else(|| corrupt("no personal variable"))?;
        let record = json!({"variable": variable, "value": value.expose()}).to_string();
        let sealed = self.sealer.seal(record.as_bytes());
        let key = format!("{}{}", prefix(subject), spec.id);
        self.store.put(&key, &sealed, self.ttl).await
    }

    /// `subject`'s credential for `provider`: the variable and its value.
    pub async fn get(
        &self,
        subject: &str,
        provider: Provider,
    ) -> StoreResult<Option<(String, SecretString)>> {
        let key = format!("{}{}", prefix(subject), provider.spec().id);
        let Some(bytes) = self.store.get(&key).await? else {
            return Ok(None);
        };
        let plain = self
            .sealer
            .open(&bytes)
            .map_err(|why| corrupt(&format!("a stored credential cannot be read: {why}")))?;
        let record: Value = serde_json::from_slice(&plain)
            .map_err(|_| corrupt("a stored credential is not a record"))?;
        match (record["variable"].as_str(), record["value"].as_str()) {
            (Some(variable), Some(value)) => {
                Ok(Some((variable.to_string(), SecretString::new(value))))
            }
            _ => Err(corrupt("a stored credential is not a record")),
        }
    }

    /// Removes `subject`'s credential for `provider`; whether there was one.
    pub async fn remove(&self, subject: &str, provider: Provider) -> StoreResult<bool> {
        let key = format!("{}{}", prefix(subject), provider.spec().id);
        let had = self.store.take(&key).await?.is_some();
        if let Ok(mut made) = self.made.lock() {
            made.remove(&(digest(subject), provider));
        }
        Ok(had)
    }

    /// The providers `subject` has a credential for, in the order tools are listed.
    pub async fn list(&self, subject: &str) -> StoreResult<Vec<&'static str>> {
        let keys = self.store.keys(&prefix(subject)).await?;
        let ids: Vec<&str> = keys.iter().filter_map(|k| k.rsplit(':').next()).collect();
        Ok(VENDORS
            .iter()
            .map(|s| s.id)
            .filter(|id| ids.contains(id))
            .collect())
    }

    /// The authenticator of `subject`'s own credential for `provider`, if they gave one.
    pub async fn own(
        &self,
        subject: &str,
        provider: Provider,
        env: &(dyn Env + Send + Sync),
    ) -> StoreResult<Option<Arc<Authenticator>>> {
        let Some((variable, value)) = self.get(subject, provider).await? else {
            return Ok(None);
        };
        let who = (digest(subject), provider);
        let of = digest(value.expose());
        if let Ok(made) = self.made.lock()
            && let Some((d, a)) = made.get(&who)
            && *d == of
        {
            return Ok(Some(a.clone()));
        }
        let spec = provider.spec();
        let only = Only {
            spec,
            base: Some(env),
            variable: &variable,
            value: value.expose(),
        };
        let credential: Credential = match (spec.credential)(&only) {
            Ok(Some(c)) => c,
            _ => return Err(corrupt("a stored credential does not make a credential")),
        };
        for secret in credential.secrets() {
            crate::redact::register_secret(secret.expose());
        }
        let made = Arc::new(Authenticator::new(credential));
        if let Ok(mut cache) = self.made.lock() {
            cache.insert(who, (of, made.clone()));
        }
        Ok(Some(made))
    }

    /// What acts for `subject` (none: a caller who cannot be told apart) in a call to
    /// `providers`: their own credential where they gave one; elsewhere the service's when the operator allows it (for a write: only
    /// `fallback`). The providers left without a credential are returned too.
    pub async fn acting(
        &self,
        subject: Option<&str>,
        providers: &[Provider],
        writes: bool,
        env: &(dyn Env + Send + Sync),
    ) -> StoreResult<(Acting, Vec<Provider>)> {
        let mut acting = Acting::default();
        let mut missing = Vec::new();
        for &p in providers {
            let own = match subject {
                Some(subject) => self.own(subject, p, env).await?,
                None => None,
            };
            match own {
                Some(a) => acting.own(p, a),
                None => match (self.without, writes) {
                    (WithoutOwn::Fallback, _) | (WithoutOwn::ReadOnly, false) => acting.service(p),
                    _ => missing.push(p),
                },
            }
        }
        Ok((acting, missing))
    }
}

impl crate::intake::PersonalSink for PerUser {
    fn keep<'a>(
        &'a self,
        subject: &'a str,
        provider: &'a str,
        value: SecretString,
    ) -> futures_util::future::BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let provider = Provider::from_id(provider)
                .filter(|p| p.is_vendor())
                .ok_or("no such provider")?;
            let kept = self.put(subject, provider, &value).await;
            let outcome = if kept.is_ok() {
                "ok"
            } else {
                "STORE_UNAVAILABLE"
            };
            self.audited(subject, provider, "given", outcome);
            kept.map_err(|e| e.to_string())
        })
    }

    fn remove<'a>(
        &'a self,
        subject: &'a str,
        provider: &'a str,
    ) -> futures_util::future::BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            let provider = Provider::from_id(provider)
                .filter(|p| p.is_vendor())
                .ok_or("no such provider")?;
            let removed = PerUser::remove(self, subject, provider).await;
            let outcome = match &removed {
                Ok(true) => "ok",
                Ok(false) => "NOT_FOUND",
                Err(_) => "STORE_UNAVAILABLE",
            };
            self.audited(subject, provider, "removed", outcome);
            removed.map_err(|e| e.to_string())
        })
    }
}
