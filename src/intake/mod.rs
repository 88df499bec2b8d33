//! The secret intake: a one-time page where the user types a secret the model must never see.
//!
//! When a call that sends credentials holds `${secret:NAME}` and NAME has no value, the engine
//! asks the intake for a link ([`Intake::offer`]). The user opens it in a browser, reads what
//! the value is for (secret name, tool, provider, target), types it into one masked input, and
//! submits. The value is then held here, in memory, as a [`SecretString`], registered for
//! masking like every other secret, and read by later resolutions of `${secret:NAME}` for the
//! life of the process (or the configured time). Where the page has its own loopback listener
//! and a keychain is there, it also offers a box, unticked, to remember the value in the OS
//! keychain for the provider and hosts it shows ([`Intake::remembering`]); never over HTTP.
//!
//! A link is an unguessable 256-bit token from the OS generator, works once, and expires
//! (10 minutes by default). Its form carries a per-link form token that the POST must return;
//! a POST from a foreign `Origin` is refused. The page sends `Cache-Control: no-store`,
//! `Referrer-Policy: no-referrer` and a CSP that allows nothing but its own inline style and a
//! form posting to itself; it works without JavaScript ([`page`]). Nothing about a value is
//! logged.
//!
//! Replicas behind a load balancer share the intake ([`Intake::share`]): a link, the value
//! entered on it and a pending `requestState` live in the store every replica reads, values
//! sealed with the operator's key, so a link offered by one replica opens on another and its
//! value serves a call on a third. The store is then the one authority: a link is used once
//! across replicas (taken from the store), a value lives as the store keeps it.
//!
//! Where the page is served ([`Serving`]): on a loopback listener of its own, started on first
//! need (stdio and the CLI), or on the HTTP transport's router under `/secrets/` (HTTP mode,
//! whose address the transport tells once bound, or `--public-url`). Either way the page is
//! bounded: a form's body has a deadline, a few requests are served at once (the rest get 503),
//! and its own listener uses the same accept loop as the HTTP transport (header timeout, a
//! small connection cap).

mod page;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::{OnceCell, Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::keychain::{Keychain, Scope};
use crate::redact;
use crate::secret::SecretString;
use crate::serving::connections::{Connections, Limits};
use crate::store::Store;
use crate::store::sealed::Sealer;

/// How long a value entered on a shared intake lives in the store when no `--entered-secret-ttl`
/// is set (a process's memory keeps it until the process stops; a store needs an end).
pub const SHARED_VALUE_TTL: Duration = Duration::from_secs(12 * 3600);

/// How often a call waiting for a person looks in the shared store (a value may be entered on
/// another replica, whose entry no local signal announces).
const SHARED_POLL: Duration = Duration::from_millis(500);

/// How long a link works by default.
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(600);

/// The path links live under.
pub const PATH_PREFIX: &str = "/secrets/";

/// Bad form submissions a link survives; past them it is burnt.
const MAX_FAILURES: u8 = 5;

/// Request-state handles of pending elicitations kept at most (oldest dropped first).
const MAX_HANDLES: usize = 1024;

/// How long a form's body may take to arrive by default (it is at most 16 KiB).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long one 2026-era call waits for a person by default before it answers `input_required`
/// again (a fresh `requestState`, no new request to the user) and the client calls again.
pub const DEFAULT_WAIT_SLICE: Duration = Duration::from_secs(20);

/// The page's own loopback listener (stdio, `call`): a browser opens a few connections, so a
/// few dozen are plenty; past them the oldest idle or unfinished one is closed, and one that
/// sends no complete headers in time is closed too, so idle connections cannot use up the
/// process's file descriptors (which its vendor calls need).
const LOOPBACK_LIMITS: Limits = Limits {
    header_timeout: Duration::from_secs(10),
    max_connections: 32,
};

/// How long entered values and links live.
#[derive(Debug, Clone, Copy)]
pub struct IntakeSettings {
    /// A link expires this long after it was made.
    pub link_ttl: Duration,
    /// An entered value is forgotten this long after it was entered (`None`: kept for the life
    /// of the process).
    pub value_ttl: Option<Duration>,
    /// A form whose body has not fully arrived within this gets 408.
    pub body_timeout: Duration,
    /// How long one 2026-era call waits for a person ([`DEFAULT_WAIT_SLICE`]).
    pub wait_slice: Duration,
}

impl Default for IntakeSettings {
    fn default() -> Self {
        Self {
            link_ttl: DEFAULT_LINK_TTL,
            value_ttl: None,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            wait_slice: DEFAULT_WAIT_SLICE,
        }
    }
}

/// Where the page is served.
#[derive(Debug, Clone)]
pub enum Serving {
    /// A loopback listener of its own (127.0.0.1, a random port), started on first need.
    Loopback,
    /// On another server's router ([`Intake::routes`]) at this base URL (`--public-url`), or,
    /// when `None`, at the address that server reports once bound ([`Intake::bound`]).
    Mounted(Option<url::Url>),
}

/// Who a value is for and where it may go: it is used only for this caller, this provider and
/// these hosts (those the page showed); a call for anyone or anywhere else asks again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Binding {
    /// Who called (the OAuth subject, `stdio`, `cli`, …).
    pub caller: String,
    /// The provider's id.
    pub provider: String,
    /// The hosts the call named, sorted (none: the value goes to the vendor itself).
    pub hosts: Vec<String>,
}

/// What a value is for, shown on the page (every field is HTML-escaped there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct About {
    /// The reference's NAME.
    pub name: String,
    pub tool: String,
    /// The provider's title.
    pub provider: String,
    /// The target's name, from the call's arguments, when it has one.
    pub target: Option<String>,
    /// Who may use the value, and where it may go (its hosts are shown).
    pub binding: Binding,
    /// Who a value remembered in the keychain would be for: the provider, and every host it
    /// would be sent to.
    pub scope: Scope,
    /// What the value is asked for.
    pub purpose: Purpose,
}

/// What a value is asked for: a call's `${secret:NAME}`, or a provider credential that
/// `datasource-mcp login` stores in the keychain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Purpose {
    #[default]
    Reference,
    Login,
    /// A caller's own vendor credential (per-user mode), kept for them in the store.
    Personal,
    /// The removal of a caller's own vendor credential (per-user mode): the page asks for a
    /// yes, no value.
    Forget,
}

/// Where a caller's own credential entered on the page is kept (per-user mode): the caller's
/// subject, the provider's id, the value; why not, never with the value.
pub trait PersonalSink: Send + Sync {
    fn keep<'a>(
        &'a self,
        subject: &'a str,
        provider: &'a str,
        value: SecretString,
    ) -> futures_util::future::BoxFuture<'a, Result<(), String>>;

    /// Removes the caller's own credential for `provider`; whether there was one.
    fn remove<'a>(
        &'a self,
        subject: &'a str,
        provider: &'a str,
    ) -> futures_util::future::BoxFuture<'a, Result<bool, String>>;
}

/// The intake's share of the store replicas read: links, values (sealed), pending handles.
struct Shared {
    store: Arc<dyn Store>,
    sealer: Arc<Sealer>,
}

impl Shared {
    /// A record as the store keeps it: sealed like the values, so neither a form token nor a
    /// subject lies in the store in clear.
    fn seal(&self, record: &impl Serialize) -> Vec<u8> {
        self.sealer
            .seal(&serde_json::to_vec(record).unwrap_or_default())
    }

    fn open<T: serde::de::DeserializeOwned>(&self, bytes: &[u8]) -> Option<T> {
        let plain = self.sealer.open(bytes).ok()?;
        serde_json::from_slice(&plain).ok()
    }
}

/// A link as the store keeps it (its token only as the key's digest).
#[derive(Serialize, Deserialize)]
struct LinkRecord {
    about: About,
    form_token: String,
    elicitation_id: String,
    /// Unix milliseconds.
    expires_ms: u64,
}

/// A pending `requestState` as the store keeps it.
#[derive(Serialize, Deserialize)]
struct PendingRecord {
    tool: String,
    args: String,
    name: String,
    binding: Binding,
    until_ms: u64,
    accepted: bool,
}

fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn link_key(token: &str) -> String {
    format!("intake:link:{}", sha256_hex(token))
}

fn value_key(name: &str, binding: &Binding) -> String {
    let binding = serde_json::to_string(binding).unwrap_or_default();
    format!("intake:value:{}", sha256_hex(&format!("{name}\n{binding}")))
}

fn handle_key(handle: &str) -> String {
    format!("intake:handle:{}", sha256_hex(handle))
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The instant `ms` (Unix milliseconds) falls at, in this process's clock.
fn instant_of(ms: u64) -> Instant {
    let now = unix_ms();
    match ms.checked_sub(now) {
        Some(ahead) => Instant::now() + Duration::from_millis(ahead),
        None => Instant::now()
            .checked_sub(Duration::from_millis(now - ms))
            .unwrap_or_else(Instant::now),
    }
}

/// `at` as Unix milliseconds.
fn unix_ms_of(at: Instant) -> u64 {
    let now = Instant::now();
    match at.checked_duration_since(now) {
        Some(ahead) => unix_ms() + ahead.as_millis() as u64,
        None => unix_ms().saturating_sub(now.duration_since(at).as_millis() as u64),
    }
}

/// A link offered for one secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offered {
    pub name: String,
    /// The page's full address.
    pub url: String,
    /// An id for this link in a URL-mode elicitation (not the link's token).
    pub elicitation_id: String,
    /// When the link stops working.
    pub expires: Instant,
    /// Who the value will be for, and where it may go.
    pub binding: Binding,
}

impl Offered {
    /// What the user is asked to do (an elicitation's message, the CLI's line); never a value.
    pub fn message(&self, tool: &str) -> String {
        format!(
            "{tool} needs the secret {}: open the page and enter its value there (it never passes through the conversation). The link works once, for {} min.",
            self.name,
            self.expires
                .saturating_duration_since(Instant::now())
                .as_secs()
                .div_ceil(60)
                .max(1)
        )
    }
}

struct Link {
    about: About,
    form_token: String,
    elicitation_id: String,
    expires: Instant,
    used: bool,
    failures: u8,
}

impl Link {
    fn live(&self, now: Instant) -> bool {
        !self.used && now < self.expires
    }
}

struct Entered {
    value: SecretString,
    at: Instant,
}

/// Live links kept at most: an offer past it is refused until some expire or are used.
pub const MAX_LINKS: usize = 256;

/// Live links one caller may have: one caller cannot take every link from the others.
pub const MAX_LINKS_PER_CALLER: usize = 32;

/// Entered values kept at most: past it, the oldest is forgotten (the next call needing it
/// asks again).
pub const MAX_VALUES: usize = 256;

/// The longest value the page takes (a service-account key file fits): a longer one is refused
/// on the page, so what every output is masked with stays small.
pub const MAX_VALUE_BYTES: usize = 8 * 1024;

/// What a `requestState` handle stands for: one call (its tool and arguments) waiting for one
/// secret, until the link expires.
struct Pending {
    tool: String,
    /// SHA-256 of the call's arguments as canonical JSON.
    args: [u8; 32],
    name: String,
    /// Who the value is for and where it may go.
    binding: Binding,
    until: Instant,
    /// The user already accepted the elicitation (a handle given to wait again).
    accepted: bool,
}

/// What a `requestState` sent back comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resumed {
    /// Not one this process gave, used already, or expired.
    Unknown,
    /// Given for another tool or other arguments: refused (and used up).
    OtherCall,
    /// The call waits for the secret `name` (under `binding`) until `until`.
    Waiting {
        name: String,
        binding: Binding,
        until: Instant,
        accepted: bool,
    },
}

#[derive(Default)]
struct State {
    links: HashMap<String, Link>,
    /// By secret name and binding.
    values: HashMap<(String, Binding), Entered>,
    /// Opaque `requestState` handles of pending URL elicitations (2026-07-28), each used once.
    handles: HashMap<String, Pending>,
}

/// The intake of one process: links, entered values, and the page that serves them.
pub struct Intake {
    settings: IntakeSettings,
    serving: Serving,
    /// The base URL links start with, once known.
    base: OnceCell<url::Url>,
    state: Mutex<State>,
    /// Bumped whenever a value is entered.
    entered: watch::Sender<u64>,
    /// Requests to the page served at once ([`page::MAX_PAGE_REQUESTS`]).
    page_requests: Semaphore,
    /// Where a value is remembered when the user ticks the box (stdio, `call`: the page's own
    /// loopback listener, on this computer).
    keychain: Option<Arc<Keychain>>,
    /// Where callers' own credentials go once entered (per-user mode).
    personal: std::sync::OnceLock<Arc<dyn PersonalSink>>,
    /// The store replicas share, when links and values are shared ([`Intake::share`]).
    shared: std::sync::OnceLock<Shared>,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("serving", &self.serving)
            .finish_non_exhaustive()
    }
}

/// Why no link could be offered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    #[error("the secret intake page could not be started: {0}")]
    NotStarted(String),
    #[error("the OS random generator failed")]
    NoRandomness,
    #[error(
        "{MAX_LINKS} intake links are already waiting for a person: try again when some are used or expire"
    )]
    TooMany,
    /// The store replicas share could not keep the link (nothing was offered).
    #[error("{0}")]
    Store(String),
}

impl Intake {
    pub fn new(settings: IntakeSettings, serving: Serving) -> Arc<Intake> {
        Self::build(settings, serving, None)
    }

    /// An intake served on its own loopback listener whose page offers to remember a value in
    /// `keychain` (when the keychain is there).
    pub fn remembering(settings: IntakeSettings, keychain: Arc<Keychain>) -> Arc<Intake> {
        Self::build(settings, Serving::Loopback, Some(keychain))
    }

    fn build(
        settings: IntakeSettings,
        serving: Serving,
        keychain: Option<Arc<Keychain>>,
    ) -> Arc<Intake> {
        let keychain = keychain.filter(|_| matches!(serving, Serving::Loopback));
        let base = OnceCell::new();
        if let Serving::Mounted(Some(url)) = &serving {
            let _ = base.set(url.clone());
        }
        Arc::new(Intake {
            settings,
            serving,
            base,
            state: Mutex::new(State::default()),
            entered: watch::channel(0).0,
            page_requests: Semaphore::new(page::MAX_PAGE_REQUESTS),
            keychain,
            personal: std::sync::OnceLock::new(),
            shared: std::sync::OnceLock::new(),
        })
    }

    /// Links, entered values and pending handles live in `store` from now on (replicas behind
    /// a load balancer), values sealed with `sealer`.
    pub fn share(&self, store: Arc<dyn Store>, sealer: Arc<Sealer>) {
        let _ = self.shared.set(Shared { store, sealer });
    }

    /// The store's record of link `token`, made this process's own (a link another replica
    /// offered opens here); why the store could not be read.
    async fn adopt(&self, token: &str) -> Result<(), String> {
        let Some(shared) = self.shared.get() else {
            return Ok(());
        };
        if self.state().links.contains_key(token) {
            return Ok(());
        }
        let record = match shared.store.get(&link_key(token)).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "secret intake: a link could not be read from the shared store");
                return Err(e.to_string());
            }
        };
        let Some(record) = shared.open::<LinkRecord>(&record) else {
            return Ok(());
        };
        let mut state = self.state();
        state.links.entry(token.to_string()).or_insert(Link {
            about: record.about,
            form_token: record.form_token,
            elicitation_id: record.elicitation_id,
            expires: instant_of(record.expires_ms),
            used: false,
            failures: 0,
        });
        Ok(())
    }

    /// Uses link `token` up in the store every replica reads: true for the one request that
    /// takes it (always true when nothing is shared).
    async fn claim(&self, token: &str) -> Result<bool, String> {
        let Some(shared) = self.shared.get() else {
            return Ok(true);
        };
        match shared.store.take(&link_key(token)).await {
            Ok(taken) => Ok(taken.is_some()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The keychain the page offers to remember values in, when it is there: only on the
    /// page's own loopback listener (a person at this computer), never over HTTP.
    async fn keychain_offered(&self) -> Option<&Arc<Keychain>> {
        let keychain = self.keychain.as_ref()?;
        keychain.available_async().await.then_some(keychain)
    }

    pub fn settings(&self) -> IntakeSettings {
        self.settings
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Callers' own credentials entered on the page go to `sink` (and are not held here).
    pub fn keep_personal(&self, sink: Arc<dyn PersonalSink>) {
        let _ = self.personal.set(sink);
    }

    /// Hands the caller's own credential just entered for `about` to the sink, and forgets it
    /// here; why it could not be kept.
    async fn hand_over(&self, about: &About) -> Result<(), String> {
        let Some(sink) = self.personal.get() else {
            return Ok(());
        };
        let Some(value) = self.value(&about.name, &about.binding).await else {
            return Err("the value was not held".into());
        };
        let subject = about
            .binding
            .caller
            .strip_prefix("subject:")
            .ok_or("the caller is not a signed-in user")?;
        let kept = sink.keep(subject, &about.binding.provider, value).await;
        self.forget(&about.name, &about.binding).await;
        kept
    }

    /// Removes the caller's own credential `about` names (a removal link's yes); whether
    /// there was one, or why it could not be removed.
    async fn remove_personal(&self, about: &About) -> Result<bool, String> {
        let sink = self.personal.get().ok_or("per-user credentials are off")?;
        let subject = about
            .binding
            .caller
            .strip_prefix("subject:")
            .ok_or("the caller is not a signed-in user")?;
        sink.remove(subject, &about.binding.provider).await
    }

    /// Forgets the value entered for `name` under `binding` (here and in the shared store).
    pub async fn forget(&self, name: &str, binding: &Binding) {
        self.state()
            .values
            .remove(&(name.to_string(), binding.clone()));
        if let Some(shared) = self.shared.get()
            && let Err(e) = shared.store.delete(&value_key(name, binding)).await
        {
            tracing::warn!(error = %e, "secret intake: a value could not be removed from the shared store");
        }
    }

    /// The value entered for `name` for this caller, provider and hosts, while it lives (in
    /// the shared store when there is one: entered on any replica).
    pub async fn value(&self, name: &str, binding: &Binding) -> Option<SecretString> {
        if let Some(shared) = self.shared.get() {
            let bytes = match shared.store.get(&value_key(name, binding)).await {
                Ok(found) => found?,
                Err(e) => {
                    tracing::warn!(error = %e, "secret intake: the shared store could not be read");
                    return None;
                }
            };
            let plain = match shared.sealer.open(&bytes) {
                Ok(plain) => plain,
                Err(why) => {
                    tracing::warn!(why = %why, "secret intake: a value in the shared store cannot be read");
                    return None;
                }
            };
            let value = String::from_utf8(plain).ok()?;
            // Masked here too: this replica may not be the one it was entered on.
            redact::register_secret(&value);
            return Some(SecretString::new(value));
        }
        let mut state = self.state();
        let key = (name.to_string(), binding.clone());
        let entered = state.values.get(&key)?;
        if let Some(ttl) = self.settings.value_ttl
            && entered.at.elapsed() >= ttl
        {
            state.values.remove(&key);
            return None;
        }
        Some(entered.value.clone())
    }

    /// Whether a value for `name` under `binding` is held.
    pub async fn holds(&self, name: &str, binding: &Binding) -> bool {
        self.value(name, binding).await.is_some()
    }

    /// The names of the values held, with whom and where each is for (never a value).
    pub fn held(&self) -> Vec<(String, Binding)> {
        let mut held: Vec<(String, Binding)> = self.state().values.keys().cloned().collect();
        held.sort();
        held
    }

    /// A mounted intake learns its server's bound address (used unless `--public-url` set one).
    pub fn bound(&self, addr: std::net::SocketAddr) {
        if matches!(self.serving, Serving::Mounted(None))
            && let Ok(url) = url::Url::parse(&format!("http://{addr}/"))
        {
            let _ = self.base.set(url);
        }
    }

    /// The base URL, starting the loopback listener on first need.
    async fn base(self: &Arc<Self>) -> Result<url::Url, Unavailable> {
        match &self.serving {
            Serving::Mounted(_) => self.base.get().cloned().ok_or_else(|| {
                Unavailable::NotStarted("the server's address is not known yet".into())
            }),
            Serving::Loopback => {
                let this = self.clone();
                self.base
                    .get_or_try_init(|| async move { this.listen().await })
                    .await
                    .cloned()
            }
        }
    }

    async fn listen(self: Arc<Self>) -> Result<url::Url, Unavailable> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| Unavailable::NotStarted(e.to_string()))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Unavailable::NotStarted(e.to_string()))?;
        let app = self.clone().loopback_routes();
        // For the life of the process.
        let stop = CancellationToken::new();
        tokio::spawn(async move {
            Connections::new(LOOPBACK_LIMITS)
                .accept(listener, app, stop)
                .await;
        });
        tracing::info!(%addr, "secret intake page listening on loopback");
        url::Url::parse(&format!("http://{addr}/"))
            .map_err(|e| Unavailable::NotStarted(e.to_string()))
    }

    /// The page's own origin (`scheme://host[:port]`), once known.
    fn origin(&self) -> Option<String> {
        self.base.get().map(|u| u.origin().ascii_serialization())
    }

    /// A link where the user enters the value of `about.name`. A link still live for the same
    /// purpose is offered again rather than a new one.
    pub async fn offer(self: &Arc<Self>, about: About) -> Result<Offered, Unavailable> {
        let base = self.base().await?;
        let now = Instant::now();
        // The lock is held in this block only, never across the store's await below.
        let (offered, token, record) = {
            let mut state = self.state();
            state.links.retain(|_, l| l.live(now));
            if let Some((token, link)) = state.links.iter().find(|(_, l)| l.about == about) {
                return Ok(Offered {
                    name: about.name,
                    url: link_url(&base, token),
                    elicitation_id: link.elicitation_id.clone(),
                    expires: link.expires,
                    binding: about.binding,
                });
            }
            let callers = state
                .links
                .values()
                .filter(|l| l.about.binding.caller == about.binding.caller)
                .count();
            if state.links.len() >= MAX_LINKS || callers >= MAX_LINKS_PER_CALLER {
                return Err(Unavailable::TooMany);
            }
            let token = random_hex::<32>()?;
            let link = Link {
                form_token: random_hex::<32>()?,
                elicitation_id: random_hex::<16>()?,
                expires: now + self.settings.link_ttl,
                used: false,
                failures: 0,
                about,
            };
            let offered = Offered {
                name: link.about.name.clone(),
                url: link_url(&base, &token),
                elicitation_id: link.elicitation_id.clone(),
                expires: link.expires,
                binding: link.about.binding.clone(),
            };
            let record = self.shared.get().map(|_| LinkRecord {
                about: link.about.clone(),
                form_token: link.form_token.clone(),
                elicitation_id: link.elicitation_id.clone(),
                expires_ms: unix_ms_of(link.expires),
            });
            state.links.insert(token.clone(), link);
            (offered, token, record)
        };
        if let (Some(shared), Some(record)) = (self.shared.get(), record) {
            let bytes = shared.seal(&record);
            let kept = shared
                .store
                .put(&link_key(&token), &bytes, self.settings.link_ttl)
                .await;
            if let Err(e) = kept {
                self.state().links.remove(&token);
                return Err(Unavailable::Store(e.to_string()));
            }
        }
        tracing::info!(secret = %offered.name, "secret intake link offered");
        Ok(offered)
    }

    /// Waits until a value for `name` under `binding` is entered (true), or `until` passes or
    /// `cancel` fires (false).
    pub async fn wait(
        &self,
        name: &str,
        binding: &Binding,
        until: Instant,
        cancel: &CancellationToken,
    ) -> bool {
        let mut changes = self.entered.subscribe();
        // Shared: entered on another replica, which no local signal announces.
        let poll = match self.shared.get() {
            Some(_) => SHARED_POLL,
            None => Duration::from_secs(3600),
        };
        loop {
            if self.value(name, binding).await.is_some() {
                return true;
            }
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return false },
                _ = tokio::time::sleep(poll) => {}
                _ = tokio::time::sleep_until(until.into()) => return self.value(name, binding).await.is_some(),
                _ = cancel.cancelled() => return false,
            }
        }
    }

    /// An opaque handle for a call of `tool` with `args` waiting for the secret `name` (a
    /// pending URL elicitation, already `accepted` or not); it means something only to this
    /// process (or to every replica, when shared), once, and only until `until` (the link's
    /// expiry).
    pub async fn handle(
        &self,
        tool: &str,
        args: Option<&Map<String, Value>>,
        name: &str,
        binding: &Binding,
        until: Instant,
        accepted: bool,
    ) -> Result<String, Unavailable> {
        let handle = random_hex::<16>()?;
        if let Some(shared) = self.shared.get() {
            let record = PendingRecord {
                tool: tool.to_string(),
                args: digest(args).iter().map(|b| format!("{b:02x}")).collect(),
                name: name.to_string(),
                binding: binding.clone(),
                until_ms: unix_ms_of(until),
                accepted,
            };
            let bytes = shared.seal(&record);
            let ttl = until
                .saturating_duration_since(Instant::now())
                .max(Duration::from_secs(1));
            shared
                .store
                .put(&handle_key(&handle), &bytes, ttl)
                .await
                .map_err(|e| Unavailable::Store(e.to_string()))?;
            return Ok(handle);
        }
        let mut state = self.state();
        let now = Instant::now();
        state.handles.retain(|_, p| p.until > now);
        if state.handles.len() >= MAX_HANDLES
            && let Some(oldest) = state
                .handles
                .iter()
                .min_by_key(|(_, p)| p.until)
                .map(|(k, _)| k.clone())
        {
            state.handles.remove(&oldest);
        }
        let pending = Pending {
            tool: tool.to_string(),
            args: digest(args),
            name: name.to_string(),
            binding: binding.clone(),
            until,
            accepted,
        };
        state.handles.insert(handle.clone(), pending);
        Ok(handle)
    }

    /// Takes a handle sent back with a call of `tool` with `args`: it is used up whatever it
    /// comes to, so only one call ever waits on it.
    pub async fn take(
        &self,
        handle: &str,
        tool: &str,
        args: Option<&Map<String, Value>>,
    ) -> Resumed {
        if let Some(shared) = self.shared.get() {
            let record = match shared.store.take(&handle_key(handle)).await {
                Ok(Some(bytes)) => shared.open::<PendingRecord>(&bytes),
                Ok(None) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "secret intake: a pending call could not be read from the shared store");
                    None
                }
            };
            let Some(record) = record else {
                return Resumed::Unknown;
            };
            if record.until_ms <= unix_ms() {
                return Resumed::Unknown;
            }
            let args_hex: String = digest(args).iter().map(|b| format!("{b:02x}")).collect();
            if record.tool != tool || record.args != args_hex {
                return Resumed::OtherCall;
            }
            return Resumed::Waiting {
                name: record.name,
                binding: record.binding,
                until: instant_of(record.until_ms),
                accepted: record.accepted,
            };
        }
        let Some(pending) = self.state().handles.remove(handle) else {
            return Resumed::Unknown;
        };
        if pending.until <= Instant::now() {
            return Resumed::Unknown;
        }
        if pending.tool != tool || pending.args != digest(args) {
            return Resumed::OtherCall;
        }
        Resumed::Waiting {
            name: pending.name,
            binding: pending.binding,
            until: pending.until,
            accepted: pending.accepted,
        }
    }

    /// Stores a value entered on the page for `token`'s link (for the link's caller, provider
    /// and hosts), which is then used up; why it could not be kept (the shared store).
    async fn enter(&self, token: &str, value: String) -> Result<(), String> {
        let key = {
            let mut state = self.state();
            let Some(link) = state.links.get_mut(token) else {
                return Ok(());
            };
            link.used = true;
            (link.about.name.clone(), link.about.binding.clone())
        };
        redact::register_secret(&value);
        if let Some(shared) = self.shared.get() {
            let sealed = shared.sealer.seal(value.as_bytes());
            let ttl = self.settings.value_ttl.unwrap_or(SHARED_VALUE_TTL);
            shared
                .store
                .put(&value_key(&key.0, &key.1), &sealed, ttl)
                .await
                .map_err(|e| e.to_string())?;
            self.entered.send_modify(|n| *n += 1);
            return Ok(());
        }
        let mut state = self.state();
        if state.values.len() >= MAX_VALUES
            && !state.values.contains_key(&key)
            && let Some(oldest) = state
                .values
                .iter()
                .min_by_key(|(_, e)| e.at)
                .map(|(k, _)| k.clone())
        {
            state.values.remove(&oldest);
        }
        state.values.insert(
            key,
            Entered {
                value: SecretString::new(value),
                at: Instant::now(),
            },
        );
        drop(state);
        self.entered.send_modify(|n| *n += 1);
        Ok(())
    }
}

fn link_url(base: &url::Url, token: &str) -> String {
    let mut url = base.clone();
    let path = format!(
        "{}{}{token}",
        base.path().trim_end_matches('/'),
        PATH_PREFIX
    );
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// SHA-256 of a call's arguments as canonical JSON (keys sorted at every level), so the same
/// arguments in another key order are the same call.
fn digest(args: Option<&Map<String, Value>>) -> [u8; 32] {
    fn canonical(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (key, item)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::from(key.as_str()).to_string());
                    out.push(':');
                    canonical(item, out);
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut text = String::new();
    match args {
        Some(map) => canonical(&Value::Object(map.clone()), &mut text),
        None => text.push_str("null"),
    }
    let sum = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(sum.as_ref());
    out
}

/// `N` bytes from the OS generator, as hex. An error rather than a guessable token.
fn random_hex<const N: usize>() -> Result<String, Unavailable> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| Unavailable::NoRandomness)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The target's name, from a call's arguments, for the page: the first `name`-like string,
/// searched breadth-first. A reference or anything that masking would change is left out.
pub fn target_name(args: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    const NAMES: &[&str] = &[
        "name",
        "label",
        "connector_name",
        "datasourceName",
        "resourceName",
    ];
    let mut queue = std::collections::VecDeque::from([args]);
    while let Some(v) = queue.pop_front() {
        let Value::Object(map) = v else { continue };
        for (k, item) in map {
            match item {
                Value::String(s) if NAMES.contains(&k.as_str()) => {
                    if let Some(name) = shown(s) {
                        return Some(name);
                    }
                }
                Value::Object(_) => queue.push_back(item),
                _ => {}
            }
        }
    }
    None
}

/// `s` for the page, if it is plain text that masking leaves alone, one line, and short.
fn shown(s: &str) -> Option<String> {
    let s = s.trim();
    let clean = redact::sanitize_text(&redact::scrub_text(s, None)).into_owned();
    (!s.is_empty() && clean == s && !s.contains(crate::secret::REFERENCE_OPEN) && s.len() <= 200)
        .then(|| s.chars().filter(|c| !c.is_control()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn binding() -> Binding {
        Binding {
            caller: "stdio".into(),
            provider: "bigid".into(),
            hosts: vec!["db.example.com".into()],
        }
    }

    fn about(name: &str) -> About {
        About {
            name: name.into(),
            tool: "bigid_create_data_source".into(),
            provider: "BigID".into(),
            target: None,
            binding: binding(),
            scope: Scope {
                provider: "bigid".into(),
                hosts: vec!["db.example.com".into()],
            },
            purpose: Purpose::Reference,
        }
    }

    #[test]
    fn targets_come_from_the_arguments() {
        let name = target_name(
            &json!({"ds_connection": {"name": "Orders", "type": "rdb-mysql",
            "rdb_url": "mysql://scan:${secret:X}@db.example.com:3306/orders", "password": "${secret:X}"}}),
        );
        assert_eq!(name.as_deref(), Some("Orders"));
        assert_eq!(target_name(&json!({"name": "${secret:X}"})), None);
    }

    #[tokio::test]
    async fn a_live_link_is_offered_again_and_values_wait() {
        let intake = Intake::new(
            IntakeSettings::default(),
            Serving::Mounted(Some(
                url::Url::parse("https://mcp.example.com/base/").unwrap(),
            )),
        );
        let a = intake.offer(about("DB_PASS")).await.unwrap();
        let b = intake.offer(about("DB_PASS")).await.unwrap();
        assert_eq!(a, b);
        assert!(a.url.starts_with("https://mcp.example.com/base/secrets/"));
        let token = a.url.rsplit('/').next().unwrap().to_string();
        assert_eq!(token.len(), 64);
        assert!(intake.value("DB_PASS", &binding()).await.is_none());
        let waiting = {
            let intake = intake.clone();
            tokio::spawn(async move {
                intake
                    .wait(
                        "DB_PASS",
                        &binding(),
                        Instant::now() + Duration::from_secs(5),
                        &CancellationToken::new(),
                    )
                    .await
            })
        };
        intake
            .enter(&token, "the-entered-value".into())
            .await
            .unwrap();
        assert!(waiting.await.unwrap());
        assert_eq!(
            intake.value("DB_PASS", &binding()).await.unwrap().expose(),
            "the-entered-value"
        );
        // Only for the caller, provider and hosts it was entered for.
        for other in [
            Binding {
                caller: "subject:mallory".into(),
                ..binding()
            },
            Binding {
                provider: "pdc".into(),
                ..binding()
            },
            Binding {
                hosts: vec!["attacker.example".into()],
                ..binding()
            },
            Binding {
                hosts: vec!["attacker.example".into(), "db.example.com".into()],
                ..binding()
            },
        ] {
            assert!(intake.value("DB_PASS", &other).await.is_none(), "{other:?}");
        }
        // Used up: the next offer is a new link.
        let c = intake.offer(about("DB_PASS")).await.unwrap();
        assert_ne!(a.url, c.url);
    }

    #[tokio::test]
    async fn links_and_values_are_capped() {
        let intake = Intake::new(
            IntakeSettings::default(),
            Serving::Mounted(Some(url::Url::parse("https://mcp.example.com/").unwrap())),
        );
        let from = |caller: usize, name: String| About {
            binding: Binding {
                caller: format!("subject:c{caller}"),
                ..binding()
            },
            ..about(&name)
        };
        // One caller: at most its share.
        for i in 0..MAX_LINKS_PER_CALLER {
            intake.offer(from(0, format!("S{i}"))).await.unwrap();
        }
        assert_eq!(
            intake.offer(from(0, "ONE_MORE".into())).await,
            Err(Unavailable::TooMany)
        );
        // Everyone: at most MAX_LINKS.
        for i in MAX_LINKS_PER_CALLER..MAX_LINKS {
            intake
                .offer(from(i / MAX_LINKS_PER_CALLER, format!("S{i}")))
                .await
                .unwrap();
        }
        assert_eq!(
            intake.offer(from(999, "ONE_MORE".into())).await,
            Err(Unavailable::TooMany)
        );
        // Values: the oldest goes when one more is entered.
        let tokens: Vec<String> = intake.state().links.keys().cloned().collect();
        for token in &tokens {
            intake
                .enter(token, format!("value-of-{token}"))
                .await
                .unwrap();
        }
        assert_eq!(intake.state().values.len(), MAX_VALUES.min(tokens.len()));
    }

    #[tokio::test]
    async fn a_handle_is_used_once_by_the_call_it_was_given_for() {
        let intake = Intake::new(IntakeSettings::default(), Serving::Mounted(None));
        let args = |v: Value| v.as_object().cloned();
        let call = args(json!({"name": "Orders", "ds": {"type": "mysql", "port": 3306}}));
        let reordered = args(json!({"ds": {"port": 3306, "type": "mysql"}, "name": "Orders"}));
        let other = args(json!({"name": "Orders", "ds": {"type": "mysql", "port": 3307}}));
        let until = Instant::now() + Duration::from_secs(60);
        let tool = "bigid_create_data_source";
        let handle = async |accepted: bool| {
            intake
                .handle(tool, call.as_ref(), "DB_PASS", &binding(), until, accepted)
                .await
                .unwrap()
        };
        let h = handle(false).await;
        assert_eq!(
            intake.take(&h, tool, reordered.as_ref()).await,
            Resumed::Waiting {
                name: "DB_PASS".into(),
                binding: binding(),
                until,
                accepted: false
            },
            "the same arguments in another order"
        );
        assert_eq!(
            intake.take(&h, tool, call.as_ref()).await,
            Resumed::Unknown,
            "once"
        );
        let h = handle(true).await;
        assert_eq!(
            intake.take(&h, tool, other.as_ref()).await,
            Resumed::OtherCall
        );
        assert_eq!(
            intake.take(&h, tool, call.as_ref()).await,
            Resumed::Unknown,
            "used up"
        );
        let h = handle(true).await;
        assert_eq!(
            intake
                .take(&h, "bigid_update_data_source", call.as_ref())
                .await,
            Resumed::OtherCall
        );
        assert_eq!(
            intake
                .take("0".repeat(32).as_str(), tool, call.as_ref())
                .await,
            Resumed::Unknown
        );
        let expired = intake
            .handle(
                tool,
                call.as_ref(),
                "DB_PASS",
                &binding(),
                Instant::now(),
                true,
            )
            .await
            .unwrap();
        assert_eq!(
            intake.take(&expired, tool, call.as_ref()).await,
            Resumed::Unknown
        );
    }
}
