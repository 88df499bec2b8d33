//! The OS keychain: the macOS Keychain, the Windows Credential Manager, the Secret Service on
//! Linux and the BSDs (GNOME Keyring, KWallet, KeePassXC), through `keyring-core` and each
//! platform's store crate.
//!
//! Every entry is under the service `datasource-mcp`:
//!
//! - `credential:<VARIABLE>`: a provider's credential variable (`BIGID_USER_TOKEN`, …), stored
//!   by `datasource-mcp login`; read at start-up when the variable is not set.
//! - `secret:<NAME>`: a value the user typed on the intake page and asked to remember, with
//!   the provider and hosts it was entered for (JSON: `{"provider", "hosts", "value"}`); used
//!   only for calls to that provider and those hosts.
//! - `index`: the names of the two kinds above (never a value), since keychains have no
//!   portable way to list entries.
//!
//! The API is blocking: async callers use the `*_async` forms, which run it on the blocking
//! pool within [`CALL_TIMEOUT`]. A machine with no keychain service at all (no session bus, a
//! container) is "not there": found out once, quickly, and remembered, and every lookup then
//! finds nothing. A keychain that is there but locked or unreadable is an error, which callers
//! report naming the entry. Every value read or written is registered for masking.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use keyring_core::{CredentialStore, Entry, Error};
use serde::{Deserialize, Serialize};

use crate::redact;
use crate::secret::SecretString;

/// The service every entry is stored under.
pub const SERVICE: &str = "datasource-mcp";

/// The entry naming every other one.
const INDEX: &str = "index";

/// How long one keychain call may take (a keychain may show an unlock prompt to a person).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Where entries are kept, for people ("the Secret Service (GNOME Keyring, KWallet)").
pub fn place() -> &'static str {
    if cfg!(target_os = "macos") {
        "the macOS Keychain"
    } else if cfg!(windows) {
        "the Windows Credential Manager"
    } else {
        "the Secret Service (GNOME Keyring, KWallet)"
    }
}

/// The account of a credential variable's entry.
pub fn credential_account(variable: &str) -> String {
    format!("credential:{variable}")
}

/// The account of a remembered secret's entry.
pub fn secret_account(name: &str) -> String {
    format!("secret:{name}")
}

/// Why the keychain could not be used. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeychainError {
    /// The keychain is there but refused access (locked, a prompt declined or impossible).
    #[error("{place} is locked or refused access ({0}); unlock it, or set the value another way", place = place())]
    Locked(String),
    /// The keychain answered with an error, or the entry is not what it should be.
    #[error("{place} could not be read: {0}", place = place())]
    Unreadable(String),
    /// The keychain did not answer within [`CALL_TIMEOUT`].
    #[error("{place} did not answer within {secs} s", place = place(), secs = CALL_TIMEOUT.as_secs())]
    NoAnswer,
    /// This machine has no keychain service (or keychain lookups are turned off).
    #[error("no keychain is available here ({0})")]
    NotThere(String),
}

impl KeychainError {
    fn of(e: Error) -> KeychainError {
        // Never the error's Debug form: some variants carry the entry's bytes.
        match e {
            Error::NoStorageAccess(inner) => KeychainError::Locked(inner.to_string()),
            Error::PlatformFailure(inner) => KeychainError::Unreadable(inner.to_string()),
            Error::BadEncoding(_) => KeychainError::Unreadable("the value is not UTF-8".into()),
            Error::BadDataFormat(..) => {
                KeychainError::Unreadable("the entry's data is malformed".into())
            }
            Error::Ambiguous(items) => {
                KeychainError::Unreadable(format!("{} entries match one name", items.len()))
            }
            other => KeychainError::Unreadable(other.to_string()),
        }
    }
}

/// Who a remembered value is for: the provider and the hosts it was entered for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    pub provider: String,
    /// The hosts it may be sent to, sorted.
    pub hosts: Vec<String>,
}

/// A remembered value and who it is for.
#[derive(Debug, Clone)]
pub struct Remembered {
    pub scope: Scope,
    pub value: SecretString,
}

#[derive(Serialize, Deserialize)]
struct StoredSecret {
    provider: String,
    hosts: Vec<String>,
    value: String,
}

/// The names held (never a value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// Credential variables stored by `login`.
    #[serde(default)]
    pub credentials: BTreeSet<String>,
    /// Remembered secrets, with who each is for.
    #[serde(default)]
    pub secrets: BTreeMap<String, Scope>,
}

enum Backend {
    /// The platform's store, made on first use (`Err`: not there, and why).
    System(OnceLock<Result<Arc<CredentialStore>, String>>),
    /// A given store (tests: `keyring_core::mock`).
    Store(Arc<CredentialStore>),
    /// Keychain lookups turned off.
    Off,
}

/// The keychain of this process.
pub struct Keychain {
    backend: Backend,
}

impl std::fmt::Debug for Keychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keychain")
    }
}

impl Keychain {
    /// The platform's keychain, connected on first use.
    pub fn system() -> Arc<Keychain> {
        Arc::new(Keychain {
            backend: Backend::System(OnceLock::new()),
        })
    }

    /// A keychain over `store` (tests).
    pub fn in_store(store: Arc<CredentialStore>) -> Arc<Keychain> {
        Arc::new(Keychain {
            backend: Backend::Store(store),
        })
    }

    /// No keychain: every lookup finds nothing (`--no-keychain`).
    pub fn off() -> Arc<Keychain> {
        Arc::new(Keychain {
            backend: Backend::Off,
        })
    }

    /// The store, or why there is none. Blocking the first time (it connects).
    fn store(&self) -> Result<&Arc<CredentialStore>, KeychainError> {
        match &self.backend {
            Backend::Store(store) => Ok(store),
            Backend::Off => Err(KeychainError::NotThere("keychain lookups are off".into())),
            Backend::System(cell) => cell
                .get_or_init(|| {
                    let started = std::time::Instant::now();
                    let made = system_store().map_err(|e| e.to_string());
                    tracing::debug!(
                        available = made.is_ok(),
                        took_ms = started.elapsed().as_millis() as u64,
                        "keychain"
                    );
                    made
                })
                .as_ref()
                .map_err(|why| KeychainError::NotThere(why.clone())),
        }
    }

    /// Whether this process already knows there is no keychain (no call needed to tell).
    fn known_absent(&self) -> bool {
        match &self.backend {
            Backend::Off => true,
            Backend::System(cell) => cell.get().is_some_and(Result::is_err),
            Backend::Store(_) => false,
        }
    }

    /// Whether there is a keychain to use (blocking the first time).
    pub fn available(&self) -> bool {
        self.store().is_ok()
    }

    /// That there is a keychain to use, or why not (blocking the first time).
    pub fn present(&self) -> Result<(), KeychainError> {
        self.store().map(|_| ())
    }

    fn entry(&self, account: &str) -> Result<Entry, KeychainError> {
        let store = self.store()?;
        Entry::new_in_store(store, SERVICE, account).map_err(KeychainError::of)
    }

    /// The value of `account`, if it exists (`None` too when there is no keychain).
    fn get(&self, account: &str) -> Result<Option<String>, KeychainError> {
        let entry = match self.entry(account) {
            Ok(entry) => entry,
            Err(KeychainError::NotThere(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        match entry.get_password() {
            Ok(value) => {
                redact::register_secret(&value);
                Ok(Some(value))
            }
            Err(Error::NoEntry) => Ok(None),
            Err(e) => Err(KeychainError::of(e)),
        }
    }

    fn set(&self, account: &str, value: &str) -> Result<(), KeychainError> {
        redact::register_secret(value);
        self.entry(account)?
            .set_password(value)
            .map_err(KeychainError::of)
    }

    /// Deletes `account`; whether it existed.
    fn delete(&self, account: &str) -> Result<bool, KeychainError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(Error::NoEntry) => Ok(false),
            Err(e) => Err(KeychainError::of(e)),
        }
    }

    /// The names held (empty without a keychain).
    pub fn index(&self) -> Result<Index, KeychainError> {
        match self.get(INDEX)? {
            None => Ok(Index::default()),
            Some(text) => serde_json::from_str(&text).map_err(|_| {
                KeychainError::Unreadable(format!(
                    "its entry {SERVICE}/{INDEX} is not the list of names this program writes"
                ))
            }),
        }
    }

    fn update_index(&self, change: impl FnOnce(&mut Index)) -> Result<(), KeychainError> {
        let mut index = self.index()?;
        change(&mut index);
        let text = serde_json::to_string(&index).unwrap_or_default();
        self.set(INDEX, &text)
    }

    /// A credential variable stored by `login`, when the index lists it.
    pub fn credential(
        &self,
        variable: &str,
        index: &Index,
    ) -> Result<Option<SecretString>, KeychainError> {
        if !index.credentials.contains(variable) {
            return Ok(None);
        }
        Ok(self
            .get(&credential_account(variable))?
            .map(SecretString::new))
    }

    /// Stores a credential variable (`login`).
    pub fn store_credential(&self, variable: &str, value: &str) -> Result<(), KeychainError> {
        self.set(&credential_account(variable), value)?;
        self.update_index(|i| {
            i.credentials.insert(variable.to_string());
        })
    }

    /// The value remembered for `name`, with who it is for.
    pub fn remembered(&self, name: &str) -> Result<Option<Remembered>, KeychainError> {
        let Some(text) = self.get(&secret_account(name))? else {
            return Ok(None);
        };
        let stored: StoredSecret = serde_json::from_str(&text).map_err(|_| {
            KeychainError::Unreadable(format!(
                "its entry {SERVICE}/{} is not a value this program remembered",
                secret_account(name)
            ))
        })?;
        redact::register_secret(&stored.value);
        Ok(Some(Remembered {
            scope: Scope {
                provider: stored.provider,
                hosts: stored.hosts,
            },
            value: SecretString::new(stored.value),
        }))
    }

    /// Remembers `value` for `name`, for `scope` only.
    pub fn remember(&self, name: &str, scope: &Scope, value: &str) -> Result<(), KeychainError> {
        redact::register_secret(value);
        let stored = StoredSecret {
            provider: scope.provider.clone(),
            hosts: scope.hosts.clone(),
            value: value.to_string(),
        };
        let text = serde_json::to_string(&stored).unwrap_or_default();
        self.set(&secret_account(name), &text)?;
        self.update_index(|i| {
            i.secrets.insert(name.to_string(), scope.clone());
        })
    }

    /// Forgets `name`: its credential and its remembered value, whichever exist. What was
    /// removed (`credential`, `secret`).
    pub fn forget(&self, name: &str) -> Result<Vec<&'static str>, KeychainError> {
        self.store()?;
        let mut gone = Vec::new();
        if self.delete(&credential_account(name))? {
            gone.push("credential");
        }
        if self.delete(&secret_account(name))? {
            gone.push("secret");
        }
        let index = self.index()?;
        if index.credentials.contains(name) || index.secrets.contains_key(name) {
            self.update_index(|i| {
                i.credentials.remove(name);
                i.secrets.remove(name);
            })?;
        }
        Ok(gone)
    }

    /// Reads every remembered value once, so each is masked from start-up like the
    /// environment's (a vendor may echo one before any call uses it). What cannot be read is
    /// left for its use to report, naming it. How many were read.
    pub fn register_remembered(&self) -> usize {
        let Ok(index) = self.index() else { return 0 };
        index
            .secrets
            .keys()
            .filter(|name| matches!(self.remembered(name), Ok(Some(_))))
            .count()
    }

    /// [`Keychain::remembered`] off the async workers, within [`CALL_TIMEOUT`].
    pub async fn remembered_async(
        self: &Arc<Self>,
        name: &str,
    ) -> Result<Option<Remembered>, KeychainError> {
        if self.known_absent() {
            return Ok(None);
        }
        let (this, name) = (self.clone(), name.to_string());
        blocking(move || this.remembered(&name)).await
    }

    /// [`Keychain::remember`] off the async workers.
    pub async fn remember_async(
        self: &Arc<Self>,
        name: &str,
        scope: &Scope,
        value: SecretString,
    ) -> Result<(), KeychainError> {
        let (this, name, scope) = (self.clone(), name.to_string(), scope.clone());
        blocking(move || this.remember(&name, &scope, value.expose())).await
    }

    /// [`Keychain::index`] off the async workers.
    pub async fn index_async(self: &Arc<Self>) -> Result<Index, KeychainError> {
        if self.known_absent() {
            return Ok(Index::default());
        }
        let this = self.clone();
        blocking(move || this.index()).await
    }

    /// [`Keychain::available`] off the async workers.
    pub async fn available_async(self: &Arc<Self>) -> bool {
        if self.known_absent() {
            return false;
        }
        let this = self.clone();
        blocking(move || Ok(this.available()))
            .await
            .unwrap_or(false)
    }
}

/// Runs a keychain call on the blocking pool, within [`CALL_TIMEOUT`].
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, KeychainError> + Send + 'static,
) -> Result<T, KeychainError> {
    match tokio::time::timeout(CALL_TIMEOUT, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(KeychainError::Unreadable("the keychain call failed".into())),
        Err(_) => Err(KeychainError::NoAnswer),
    }
}

#[cfg(target_os = "macos")]
fn system_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(apple_native_keyring_store::keychain::Store::new()?)
}

#[cfg(windows)]
fn system_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(windows_native_keyring_store::Store::new()?)
}

#[cfg(all(unix, not(any(target_os = "macos", target_os = "ios"))))]
fn system_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Ok(dbus_secret_service_keyring_store::Store::new()?)
}

#[cfg(not(any(unix, windows)))]
fn system_store() -> keyring_core::Result<Arc<CredentialStore>> {
    Err(Error::NotSupportedByStore(
        "no keychain on this platform".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mock() -> (Arc<Keychain>, Arc<CredentialStore>) {
        let store: Arc<CredentialStore> = keyring_core::mock::Store::new().unwrap();
        (Keychain::in_store(store.clone()), store)
    }

    fn scope() -> Scope {
        Scope {
            provider: "databrain".into(),
            hosts: vec!["acme.snowflakecomputing.com".into()],
        }
    }

    #[test]
    fn remembers_lists_and_forgets() {
        let (keychain, _) = mock();
        assert_eq!(keychain.index().unwrap(), Index::default());
        keychain
            .remember("SF_PASSWORD", &scope(), "sf-S3NT1NEL-pw")
            .unwrap();
        keychain
            .store_credential("BIGID_USER_TOKEN", "bigid-S3NT1NEL-token")
            .unwrap();
        let index = keychain.index().unwrap();
        assert_eq!(
            index,
            Index {
                credentials: BTreeSet::from(["BIGID_USER_TOKEN".to_string()]),
                secrets: BTreeMap::from([("SF_PASSWORD".to_string(), scope())]),
            }
        );
        assert_eq!(keychain.register_remembered(), 1);
        let remembered = keychain.remembered("SF_PASSWORD").unwrap().unwrap();
        assert_eq!(remembered.scope, scope());
        assert_eq!(remembered.value.expose(), "sf-S3NT1NEL-pw");
        assert_eq!(
            keychain
                .credential("BIGID_USER_TOKEN", &index)
                .unwrap()
                .unwrap()
                .expose(),
            "bigid-S3NT1NEL-token"
        );
        // Not in the index: not looked up.
        assert_eq!(keychain.credential("PDC_PASSWORD", &index).unwrap(), None);
        assert_eq!(keychain.forget("SF_PASSWORD").unwrap(), ["secret"]);
        assert_eq!(keychain.forget("SF_PASSWORD").unwrap(), Vec::<&str>::new());
        assert!(keychain.remembered("SF_PASSWORD").unwrap().is_none());
        assert_eq!(
            keychain.index().unwrap().secrets,
            BTreeMap::<String, Scope>::new()
        );
        // Values are masked from the moment they are read or written.
        assert_eq!(
            redact::scrub_text("x sf-S3NT1NEL-pw bigid-S3NT1NEL-token", None),
            "x *** ***"
        );
    }

    #[test]
    fn a_locked_entry_is_an_error_and_no_keychain_is_nothing() {
        let (keychain, store) = mock();
        keychain
            .remember("SF_PASSWORD", &scope(), "sf-locked-S3NT1NEL")
            .unwrap();
        let entry = Entry::new_in_store(&store, SERVICE, "secret:SF_PASSWORD").unwrap();
        let cred: &keyring_core::mock::Cred = entry.as_any().downcast_ref().unwrap();
        cred.set_error(Error::NoStorageAccess("collection is locked".into()));
        let err = keychain.remembered("SF_PASSWORD").unwrap_err();
        assert_eq!(err, KeychainError::Locked("collection is locked".into()));
        assert_eq!(
            err.to_string(),
            format!(
                "{} is locked or refused access (collection is locked); unlock it, or set the value another way",
                place()
            )
        );
        cred.set_error(Error::BadEncoding(b"sf-locked-S3NT1NEL".to_vec()));
        let err = keychain.remembered("SF_PASSWORD").unwrap_err();
        assert!(!format!("{err} {err:?}").contains("S3NT1NEL"), "{err:?}");

        let off = Keychain::off();
        assert!(!off.available());
        assert!(off.remembered("SF_PASSWORD").unwrap().is_none());
        assert_eq!(off.index().unwrap(), Index::default());
    }
}
