//! OAuth 2.1 resource server for the HTTP transport, as the MCP authorization specification
//! prescribes for HTTP servers (2025-11-25, 2026-07-28):
//!
//! - **Protected Resource Metadata** (RFC 9728) at `/.well-known/oauth-protected-resource` and
//!   its path-suffixed form (`…/mcp`), unauthenticated: the resource (the public URL of `/mcp`),
//!   the authorization server, the scopes, `header` as the only bearer method.
//! - **Challenges**: 401 with `WWW-Authenticate: Bearer resource_metadata="…"` without a token,
//!   plus `error="invalid_token"` for a token refused; 403 `error="insufficient_scope"` naming
//!   the scope needed.
//! - **Access tokens are JWTs** checked against the issuer's JWKS (configured, or found through
//!   the issuer's RFC 8414 / OpenID metadata), cached, fetched again (at most once per
//!   `min_refetch`, one fetch at a time) when a token names a key not in the cache (key
//!   rotation) or the cache is older than `max_key_age` (then by one request, while the others
//!   go on with the cached keys). Keys fetched longer ago than `key_lifetime` are not used even
//!   when fetching them again fails; a fetch that succeeds with no usable key empties the
//!   cache. A request for a key not in the cache waits for a fetch only when one may happen,
//!   and only [`MAX_KEY_WAITERS`] wait at once: the others are refused at once, so tokens
//!   naming made-up keys cost neither the issuer nor valid callers anything. Asymmetric
//!   algorithms only (RS*, PS*, ES256, ES384, EdDSA): `none` and HMAC are refused. `iss` must equal the issuer, `aud` contain the audience (RFC 8707:
//!   the resource by default), `exp` (required) and `nbf` hold within `leeway`; the claims are
//!   typed, so a string where a time belongs refuses the token.
//! - **Scopes**: the write scope reaches every tool; the read scope only those that change
//!   nothing (the server's read-only selection, per request: [`Scoped`]); neither is 403.
//!
//! The token goes no further than this check (the HTTP layer removes the header): vendors are
//! called with the server's own credentials.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::future::BoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Mutex, RwLock, Semaphore};
use url::Url;

use crate::providers;
use crate::spec::Env;
use crate::surfaces::server::DataSourceServer;

pub const DEFAULT_READ_SCOPE: &str = "datasource:read";
pub const DEFAULT_WRITE_SCOPE: &str = "datasource:write";
/// RFC 9728 §3: the well-known path; the resource's path follows it in the suffixed form.
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";
/// Largest metadata or JWKS document read from the issuer.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Requests that wait at once for the issuer's keys (a fetch in progress, or one to make);
/// past them a token whose key is not cached is refused at once with 503.
pub const MAX_KEY_WAITERS: usize = 8;

/// Algorithms a token may be signed with: asymmetric only (a JWKS holds public keys; an HMAC
/// "key" in it would be a shared secret anyone who can read the JWKS knows).
const ACCEPTED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What OAuth is configured with.
#[derive(Debug, Clone)]
pub struct OAuthConfig {
    /// The authorization server's issuer identifier, exactly as tokens carry it in `iss`.
    pub issuer: String,
    /// Where its keys are; `None`: from the issuer's metadata (`jwks_uri`).
    pub jwks_url: Option<Url>,
    /// The `aud` a token must carry; `None`: the resource (the public URL of `/mcp`).
    pub audience: Option<String>,
    /// Where clients reach the server (`--public-url`); `None`: `http://<bound address>`
    /// (loopback only: off loopback the configuration requires it).
    pub public_url: Option<Url>,
    pub read_scope: String,
    pub write_scope: String,
    /// Clock skew allowed for `exp` and `nbf`.
    pub leeway: Duration,
    /// The JWKS is fetched again for an unknown key at most this often.
    pub min_refetch: Duration,
    /// Keys older than this are fetched again (so a key the issuer withdrew stops working).
    pub max_key_age: Duration,
    /// Keys fetched longer ago than this are not used at all, even when fetching them again
    /// fails (an issuer unreachable for long does not keep a withdrawn key working).
    pub key_lifetime: Duration,
    /// Time for one request to the issuer.
    pub fetch_timeout: Duration,
}

impl OAuthConfig {
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            jwks_url: None,
            audience: None,
            public_url: None,
            read_scope: DEFAULT_READ_SCOPE.into(),
            write_scope: DEFAULT_WRITE_SCOPE.into(),
            leeway: Duration::from_secs(60),
            min_refetch: Duration::from_secs(10),
            max_key_age: Duration::from_secs(15 * 60),
            key_lifetime: Duration::from_secs(60 * 60),
            fetch_timeout: Duration::from_secs(10),
        }
    }

    /// From `DATASOURCE_MCP_OAUTH_*`; `None` when `DATASOURCE_MCP_OAUTH_ISSUER` is unset (no
    /// OAuth). `public_url` is `--public-url`, required off loopback.
    pub fn from_env(
        env: &dyn Env,
        listen: &SocketAddr,
        public_url: Option<&str>,
    ) -> Result<Option<Self>, String> {
        let public_url = public_url.map(parse_public_url).transpose()?;
        let Some(issuer) = env.var("DATASOURCE_MCP_OAUTH_ISSUER") else {
            return Ok(None);
        };
        let issuer = issuer.trim().to_string();
        check_url("DATASOURCE_MCP_OAUTH_ISSUER", &issuer)?;
        let mut cfg = OAuthConfig::new(issuer);
        if let Some(jwks) = env.var("DATASOURCE_MCP_OAUTH_JWKS_URL") {
            cfg.jwks_url = Some(check_url("DATASOURCE_MCP_OAUTH_JWKS_URL", jwks.trim())?);
        }
        cfg.audience = env
            .var("DATASOURCE_MCP_OAUTH_AUDIENCE")
            .map(|a| a.trim().to_string());
        let scope = |var: &str, default: &str| -> Result<String, String> {
            let value = env.var(var).unwrap_or_else(|| default.into());
            let value = value.trim();
            // RFC 6749 §3.3 scope-token: printable ASCII without space, `"` or `\`.
            if value.is_empty()
                || !value
                    .bytes()
                    .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\')
            {
                return Err(format!(
                    "{var} must be one scope (printable ASCII, no spaces or quotes)"
                ));
            }
            Ok(value.to_string())
        };
        cfg.read_scope = scope("DATASOURCE_MCP_OAUTH_READ_SCOPE", DEFAULT_READ_SCOPE)?;
        cfg.write_scope = scope("DATASOURCE_MCP_OAUTH_WRITE_SCOPE", DEFAULT_WRITE_SCOPE)?;
        if cfg.read_scope == cfg.write_scope {
            return Err(
                "DATASOURCE_MCP_OAUTH_READ_SCOPE and DATASOURCE_MCP_OAUTH_WRITE_SCOPE must differ"
                    .into(),
            );
        }
        if public_url.is_none() && !listen.ip().is_loopback() {
            return Err(format!(
                "DATASOURCE_MCP_OAUTH_ISSUER with {listen} (not loopback) needs --public-url \
                 (DATASOURCE_MCP_PUBLIC_URL): the URL clients reach the server at, which tokens \
                 must name as their audience"
            ));
        }
        cfg.public_url = public_url;
        Ok(Some(cfg))
    }
}

/// `--public-url`: https, or http on a loopback host; no query, fragment or user info.
pub fn parse_public_url(raw: &str) -> Result<Url, String> {
    check_url("--public-url", raw.trim())
}

/// An issuer, JWKS or public URL: https, or http on a loopback host only. The rule the
/// providers apply to vendor URLs, without their `DATASOURCE_MCP_ALLOW_HTTP` escape: keys
/// fetched in clear text would let anyone on the path sign tokens.
fn check_url(var: &str, raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|_| format!("{var} is not a URL (expected https://…)"))?;
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "{var} must not carry a query, fragment or user info"
        ));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if providers::is_loopback_host(&url) => Ok(url),
        "http" => Err(format!(
            "{var} uses http:// on a non-loopback host; use https://"
        )),
        _ => Err(format!("{var} must be an https:// URL")),
    }
}

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The read scope: tools that change nothing.
    Read,
    /// The write scope: every tool.
    Write,
}

/// The authenticated caller, put in the request's extensions (rmcp hands the request's parts
/// on to the handler, so later layers can say who called).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's `sub`.
    pub subject: Option<String>,
    pub access: Access,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No bearer token: 401 with only the metadata pointer.
    Missing,
    /// A token was given and refused: 401 `invalid_token`.
    Invalid(&'static str),
    /// A valid token without the scope needed: 403 `insufficient_scope`.
    InsufficientScope {
        scope: String,
        description: &'static str,
    },
    /// The issuer's keys could not be had: 503 (the token may be fine).
    Unavailable,
    /// Too many requests wait for the issuer's keys already: 503 at once.
    Busy,
}

/// A JWK that can verify tokens.
struct Key {
    kid: Option<String>,
    /// `alg` from the JWK, if it names one.
    alg: Option<Algorithm>,
    /// Algorithms its type and curve allow.
    family: &'static [Algorithm],
    key: DecodingKey,
}

#[derive(Default)]
struct KeyCache {
    keys: Vec<Key>,
    /// Last successful fetch.
    fetched: Option<Instant>,
    /// Last attempt, successful or not (the refetch rate limit).
    attempted: Option<Instant>,
    /// Attempts finished: a request that waited for the refresh lock learns whether a fetch
    /// happened meanwhile (then it does not fetch again).
    finished: u64,
    /// The JWKS URL found through the issuer's metadata.
    discovered: Option<Url>,
}

/// The claims read from a token; typed, so a time written as a string refuses the token
/// instead of passing as absent.
#[derive(Deserialize)]
struct Claims {
    sub: Option<String>,
    /// Required (jsonwebtoken checks it is there); typed here so a string is refused.
    #[allow(dead_code)]
    exp: Option<u64>,
    #[allow(dead_code)]
    nbf: Option<u64>,
    /// RFC 9068: space-separated.
    scope: Option<String>,
    /// Some issuers (Okta, Entra ID) list scopes as `scp`, an array or a string.
    scp: Option<StringOrList>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl Claims {
    fn has_scope(&self, wanted: &str) -> bool {
        let in_scope = self
            .scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|s| s == wanted));
        let in_scp = match &self.scp {
            Some(StringOrList::One(s)) => s.split(' ').any(|s| s == wanted),
            Some(StringOrList::Many(list)) => list.iter().any(|s| s == wanted),
            None => false,
        };
        in_scope || in_scp
    }
}

/// The resource server: validates tokens, answers the metadata, builds challenges.
pub struct OAuth {
    cfg: OAuthConfig,
    /// The public URL of `/mcp`.
    resource: String,
    audience: String,
    metadata_url: String,
    metadata_paths: Vec<String>,
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
    /// One fetch at a time.
    refresh: Mutex<()>,
    /// Requests waiting for keys ([`MAX_KEY_WAITERS`]).
    waiters: Semaphore,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("issuer", &self.cfg.issuer)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl OAuth {
    /// `bound`: the address served, for the default public URL.
    pub fn new(cfg: OAuthConfig, bound: SocketAddr) -> Result<Self, String> {
        let public = match &cfg.public_url {
            Some(u) => u.clone(),
            None => Url::parse(&format!("http://{bound}")).map_err(|e| e.to_string())?,
        };
        let resource = resource_url(&public);
        let metadata_path = format!("{METADATA_PATH}{}", resource.path());
        let metadata_url = metadata_url(&public);
        let mut metadata_paths = vec![METADATA_PATH.to_string(), metadata_path];
        let plain = format!("{METADATA_PATH}/mcp");
        if !metadata_paths.contains(&plain) {
            metadata_paths.push(plain);
        }
        let resource = resource.to_string();
        let audience = cfg.audience.clone().unwrap_or_else(|| resource.clone());
        // reqwest is built without a default crypto provider; ring is ours.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(cfg.fetch_timeout)
            .build()
            .map_err(|e| format!("cannot build the HTTP client for the issuer: {e}"))?;
        Ok(Self {
            cfg,
            resource,
            audience,
            metadata_url,
            metadata_paths,
            http,
            cache: RwLock::new(KeyCache::default()),
            refresh: Mutex::new(()),
            waiters: Semaphore::new(MAX_KEY_WAITERS),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.cfg.issuer
    }

    /// The public URL of `/mcp`, as the metadata names it.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Where the Protected Resource Metadata is, as challenges name it.
    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    /// The paths the metadata is served at (the plain and the path-suffixed forms).
    pub fn metadata_paths(&self) -> &[String] {
        &self.metadata_paths
    }

    /// The Protected Resource Metadata document (RFC 9728 §2).
    pub fn metadata(&self) -> Value {
        json!({
            "resource": self.resource,
            "authorization_servers": [self.cfg.issuer],
            "scopes_supported": [self.cfg.read_scope, self.cfg.write_scope],
            "bearer_methods_supported": ["header"],
        })
    }

    /// Fetches the keys once at start-up so a misconfigured issuer shows in the log at once
    /// (tokens are still checked if it fails: the fetch is tried again for them).
    pub async fn warm_up(&self) {
        let _guard = self.refresh.lock().await;
        // A request may have been first.
        if self.cache.read().await.attempted.is_some() {
            return;
        }
        if let Err(e) = self.refetch().await {
            tracing::warn!("OAuth: the issuer's keys could not be fetched yet: {e}");
        }
    }

    /// Checks a bearer token (`None`: none was sent).
    pub async fn authorize(&self, token: Option<&str>) -> Result<Caller, Rejection> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(Rejection::Missing);
        };
        // An `alg` outside jsonwebtoken's list (`none` among them) fails here.
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| Rejection::Invalid("the token is not a signed JWT"))?;
        if !ACCEPTED.contains(&header.alg) {
            return Err(Rejection::Invalid(
                "the token's signing algorithm is refused",
            ));
        }
        let key = self.key_for(header.kid.as_deref(), header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.cfg.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&[&self.cfg.issuer]);
        validation.set_audience(&[&self.audience]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| Rejection::Invalid(reason(e.kind())))?
            .claims;
        let access = if claims.has_scope(&self.cfg.write_scope) {
            Access::Write
        } else if claims.has_scope(&self.cfg.read_scope) {
            Access::Read
        } else {
            return Err(Rejection::InsufficientScope {
                scope: self.cfg.read_scope.clone(),
                description: "the token grants neither the read nor the write scope",
            });
        };
        Ok(Caller {
            subject: claims.sub,
            access,
        })
    }

    /// The refusal as an HTTP response: the status, the challenge and a JSON-RPC error body.
    pub fn challenge(&self, rejection: &Rejection) -> Response {
        let meta = &self.metadata_url;
        let (status, www, message) = match rejection {
            Rejection::Missing => (
                StatusCode::UNAUTHORIZED,
                Some(format!("Bearer resource_metadata=\"{meta}\"")),
                "missing bearer token".to_string(),
            ),
            Rejection::Invalid(why) => (
                StatusCode::UNAUTHORIZED,
                Some(format!(
                    "Bearer error=\"invalid_token\", error_description=\"{why}\", resource_metadata=\"{meta}\""
                )),
                format!("invalid bearer token: {why}"),
            ),
            Rejection::InsufficientScope { scope, description } => (
                StatusCode::FORBIDDEN,
                Some(format!(
                    "Bearer error=\"insufficient_scope\", scope=\"{scope}\", error_description=\"{description}\", resource_metadata=\"{meta}\""
                )),
                format!("insufficient scope: {description} (needs {scope})"),
            ),
            Rejection::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the authorization server's keys are unavailable: try again shortly".to_string(),
            ),
            Rejection::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "too many requests wait for the authorization server's keys: try again shortly"
                    .to_string(),
            ),
        };
        let body =
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": message}});
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(value) = www.and_then(|w| HeaderValue::from_str(&w).ok()) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        let retry = match rejection {
            Rejection::Unavailable => Some("5"),
            Rejection::Busy => Some("1"),
            _ => None,
        };
        if let Some(seconds) = retry {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
        }
        response
    }

    /// The key for a token's `kid` and `alg`: from the cache while usable, else after a fetch
    /// (one at a time, at most once per `min_refetch`, [`MAX_KEY_WAITERS`] requests waiting).
    async fn key_for(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, Rejection> {
        let (cached, due, may_fetch, seen) = {
            let cache = self.cache.read().await;
            let cached = self
                .usable(&cache)
                .then(|| find(&cache.keys, kid, alg))
                .flatten();
            (
                cached,
                self.stale(&cache),
                self.may_fetch(&cache),
                cache.finished,
            )
        };
        if let Some(key) = cached {
            // Due for a refresh: the first request to see it fetches (and then finds its key
            // again, or not: withdrawn); the others go on with the cached keys meanwhile.
            if due
                && may_fetch
                && let Ok(_guard) = self.refresh.try_lock()
            {
                if let Err(e) = self.refetch().await {
                    tracing::warn!("OAuth: fetching the issuer's keys failed: {e}");
                }
                return self.cached(kid, alg).await;
            }
            return Ok(key);
        }
        // Not in the cache. Nothing to wait for when no fetch is under way and none may start
        // yet (the rate limit): refused at once.
        let fetching = self.refresh.try_lock().is_err();
        if !fetching && !may_fetch {
            return self.cached(kid, alg).await;
        }
        let Ok(_waiting) = self.waiters.try_acquire() else {
            return Err(Rejection::Busy);
        };
        let _guard = self.refresh.lock().await;
        let fetch = {
            let cache = self.cache.read().await;
            // A fetch that finished while this request waited is the one it waited for.
            cache.finished == seen && self.may_fetch(&cache)
        };
        if fetch && let Err(e) = self.refetch().await {
            tracing::warn!("OAuth: fetching the issuer's keys failed: {e}");
        }
        self.cached(kid, alg).await
    }

    /// The key from the cache as it is now, or why there is none.
    async fn cached(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, Rejection> {
        let cache = self.cache.read().await;
        if !self.usable(&cache) {
            return Err(Rejection::Unavailable);
        }
        find(&cache.keys, kid, alg).ok_or(Rejection::Invalid(
            "the token's signing key is not the issuer's",
        ))
    }

    /// Due for a refresh.
    fn stale(&self, cache: &KeyCache) -> bool {
        cache
            .fetched
            .is_none_or(|t| t.elapsed() >= self.cfg.max_key_age)
    }

    /// Fetched, and not longer ago than the keys' lifetime.
    fn usable(&self, cache: &KeyCache) -> bool {
        cache
            .fetched
            .is_some_and(|t| t.elapsed() < self.cfg.key_lifetime)
    }

    /// The refetch rate limit allows a fetch now.
    fn may_fetch(&self, cache: &KeyCache) -> bool {
        cache
            .attempted
            .is_none_or(|t| t.elapsed() >= self.cfg.min_refetch)
    }

    /// Fetches the JWKS (finding its URL first if need be) into the cache. Called with the
    /// refresh lock held. On failure the keys held stay (an issuer briefly down does not
    /// refuse every caller) until their lifetime ends; a JWK Set without a usable key replaces
    /// them (the issuer withdrew them all).
    async fn refetch(&self) -> Result<(), String> {
        self.cache.write().await.attempted = Some(Instant::now());
        let result = self.fetch_keys().await;
        let mut cache = self.cache.write().await;
        cache.finished += 1;
        let keys = result?;
        cache.keys = keys;
        cache.fetched = Some(Instant::now());
        Ok(())
    }

    async fn fetch_keys(&self) -> Result<Vec<Key>, String> {
        let url = match &self.cfg.jwks_url {
            Some(u) => u.clone(),
            None => {
                let known = self.cache.read().await.discovered.clone();
                match known {
                    Some(u) => u,
                    None => {
                        let u = self.discover().await?;
                        self.cache.write().await.discovered = Some(u.clone());
                        u
                    }
                }
            }
        };
        let doc = self.get_json(&url).await?;
        let keys = parse_jwks(&doc).ok_or_else(|| format!("{url} is not a JWK Set"))?;
        if keys.is_empty() {
            tracing::warn!(
                "OAuth: {url} holds no key usable for signatures: every token is refused until it does"
            );
        } else {
            tracing::info!(
                keys = keys.len(),
                "OAuth: fetched the issuer's keys from {url}"
            );
        }
        Ok(keys)
    }

    /// The JWKS URL from the issuer's metadata: RFC 8414 first, then OpenID Connect discovery
    /// (with the path-inserted forms for an issuer with a path, as the MCP spec orders them).
    async fn discover(&self) -> Result<Url, String> {
        let issuer = Url::parse(&self.cfg.issuer).map_err(|e| e.to_string())?;
        let origin = issuer.origin().ascii_serialization();
        let path = issuer.path().trim_end_matches('/');
        let candidates = if path.is_empty() {
            vec![
                format!("{origin}/.well-known/oauth-authorization-server"),
                format!("{origin}/.well-known/openid-configuration"),
            ]
        } else {
            vec![
                format!("{origin}/.well-known/oauth-authorization-server{path}"),
                format!("{origin}/.well-known/openid-configuration{path}"),
                format!("{origin}{path}/.well-known/openid-configuration"),
            ]
        };
        let mut problems = Vec::new();
        for candidate in candidates {
            let Ok(url) = Url::parse(&candidate) else {
                continue;
            };
            let doc = match self.get_json(&url).await {
                Ok(doc) => doc,
                Err(e) => {
                    problems.push(e);
                    continue;
                }
            };
            // RFC 8414 §3.3: the metadata must name the issuer it was asked for.
            if doc["issuer"].as_str() != Some(self.cfg.issuer.as_str()) {
                return Err(format!(
                    "{url} names issuer {}, not {}",
                    doc["issuer"], self.cfg.issuer
                ));
            }
            let jwks = doc["jwks_uri"]
                .as_str()
                .ok_or_else(|| format!("{url} has no jwks_uri"))?;
            return check_url("the issuer's jwks_uri", jwks);
        }
        Err(format!(
            "no authorization server metadata for {} ({})",
            self.cfg.issuer,
            problems.join("; ")
        ))
    }

    /// A JSON document from the issuer: 200, bounded, no redirects.
    async fn get_json(&self, url: &Url) -> Result<Value, String> {
        let response = self
            .http
            .get(url.clone())
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if response.status() != StatusCode::OK {
            return Err(format!("{url} answered {}", response.status()));
        }
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("{url} is larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|_| format!("{url} is not JSON"))
    }
}

/// Where the Protected Resource Metadata of the server at `public` is (RFC 9728 §3.1: the
/// well-known path between the host and the resource's path).
pub fn metadata_url(public: &Url) -> String {
    let resource = resource_url(public);
    let origin = resource.origin().ascii_serialization();
    format!("{origin}{METADATA_PATH}{}", resource.path())
}

/// The public URL of `/mcp`: `--public-url` with `/mcp` appended (unless it ends in `/mcp`).
fn resource_url(public: &Url) -> Url {
    let mut url = public.clone();
    let path = url.path().trim_end_matches('/').to_string();
    if !path.ends_with("/mcp") {
        url.set_path(&format!("{path}/mcp"));
    } else {
        url.set_path(&path);
    }
    url
}

/// The keys of a JWK Set that can verify signatures; the others (encryption keys, symmetric
/// keys, unknown types or curves) are skipped rather than failing the set.
fn parse_jwks(doc: &Value) -> Option<Vec<Key>> {
    let keys = doc["keys"].as_array()?;
    Some(keys.iter().filter_map(parse_jwk).collect())
}

fn parse_jwk(jwk: &Value) -> Option<Key> {
    const RSA: &[Algorithm] = &[
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ];
    let text = |name: &str| jwk[name].as_str();
    if text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let (family, key): (&'static [Algorithm], DecodingKey) = match (text("kty")?, text("crv")) {
        ("RSA", _) => (
            RSA,
            DecodingKey::from_rsa_components(text("n")?, text("e")?).ok()?,
        ),
        ("EC", Some("P-256")) => (
            &[Algorithm::ES256],
            DecodingKey::from_ec_components(text("x")?, text("y")?).ok()?,
        ),
        ("EC", Some("P-384")) => (
            &[Algorithm::ES384],
            DecodingKey::from_ec_components(text("x")?, text("y")?).ok()?,
        ),
        ("OKP", Some("Ed25519")) => (
            &[Algorithm::EdDSA],
            DecodingKey::from_ed_components(text("x")?).ok()?,
        ),
        _ => return None,
    };
    let alg = match text("alg") {
        None => None,
        Some(name) => Some(
            name.parse::<Algorithm>()
                .ok()
                .filter(|a| family.contains(a))?,
        ),
    };
    Some(Key {
        kid: text("kid").map(str::to_string),
        alg,
        family,
        key,
    })
}

/// The key for a token: the one with its `kid` (or, for a token without one, the only key
/// that fits) whose type allows the token's algorithm.
fn find(keys: &[Key], kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
    let fits = |k: &&Key| k.family.contains(&alg) && k.alg.is_none_or(|a| a == alg);
    match kid {
        Some(kid) => keys
            .iter()
            .filter(fits)
            .find(|k| k.kid.as_deref() == Some(kid))
            .map(|k| k.key.clone()),
        None => {
            let mut fitting = keys.iter().filter(fits);
            match (fitting.next(), fitting.next()) {
                (Some(only), None) => Some(only.key.clone()),
                _ => None,
            }
        }
    }
}

/// Why jsonwebtoken refused a token, for `error_description` (no quotes or backslashes).
fn reason(kind: &jsonwebtoken::errors::ErrorKind) -> &'static str {
    use jsonwebtoken::errors::ErrorKind as K;
    match kind {
        K::ExpiredSignature => "the token has expired",
        K::ImmatureSignature => "the token is not valid yet (nbf)",
        K::InvalidAudience => "the token is not for this resource (aud)",
        K::InvalidIssuer => "the token is from another issuer (iss)",
        K::InvalidSignature => "the token's signature does not verify",
        K::MissingRequiredClaim(_) => "the token lacks a required claim (exp, iss, aud)",
        K::InvalidAlgorithm => "the token's algorithm does not fit its key",
        K::Json(_) => "the token's claims are malformed",
        _ => "the token is malformed",
    }
}

/// `/mcp` for OAuth callers: the write scope reaches the full server, the read scope its
/// read-only twin (the operator's selection with read-only on, so `tools/list` shows only
/// tools that change nothing); a read-scoped `tools/call` of a tool that changes something
/// gets 403 `insufficient_scope` naming the write scope, so a client can step up.
#[derive(Clone)]
pub struct Scoped<S> {
    full: S,
    read_only: S,
    server: DataSourceServer,
    oauth: Arc<OAuth>,
    write_scope: String,
}

impl<S> Scoped<S> {
    /// `server`: the full server (its catalog tells which tools change something).
    pub fn new(full: S, read_only: S, server: DataSourceServer, oauth: Arc<OAuth>) -> Self {
        let write_scope = oauth.cfg.write_scope.clone();
        Self {
            full,
            read_only,
            server,
            oauth,
            write_scope,
        }
    }
}

impl<S> tower_service::Service<Request> for Scoped<S>
where
    S: tower_service::Service<Request, Error = Infallible> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            // No caller means no check ran: the narrowest view.
            let access = request
                .extensions()
                .get::<Caller>()
                .map_or(Access::Read, |c| c.access);
            let mut service = match access {
                Access::Write => return Ok(forward(this.full, request).await),
                Access::Read => this.read_only.clone(),
            };
            // The HTTP layer has read and bounded the body already: this is a copy in memory.
            let (parts, body) = request.into_parts();
            let bytes: Bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            if let Ok(message) = serde_json::from_slice::<Value>(&bytes)
                && message["method"] == "tools/call"
                && let Some(name) = message["params"]["name"].as_str()
                && let Some(op) = this.server.catalog().find(name)
                && !op.hints.read_only
            {
                // A refused write is an audit line, naming who tried.
                let cx = crate::engine::CallContext {
                    caller: parts
                        .extensions
                        .get::<crate::engine::audit::Caller>()
                        .cloned(),
                    correlation_id: parts
                        .extensions
                        .get::<crate::engine::audit::CorrelationId>()
                        .map(|c| c.0.clone()),
                    ..Default::default()
                };
                this.server
                    .engine()
                    .refused(op.name, true, "INSUFFICIENT_SCOPE", &cx);
                return Ok(this.oauth.challenge(&Rejection::InsufficientScope {
                    scope: this.write_scope.clone(),
                    description: "this tool changes data and needs the write scope",
                }));
            }
            let request = Request::from_parts(parts, Body::from(bytes));
            let _ = std::future::poll_fn(|cx| service.poll_ready(cx)).await;
            Ok(service.call(request).await.into_response())
        })
    }
}

async fn forward<S>(mut service: S, request: Request) -> Response
where
    S: tower_service::Service<Request, Error = Infallible>,
    S::Response: IntoResponse,
{
    let _ = std::future::poll_fn(|cx| service.poll_ready(cx)).await;
    match service.call(request).await {
        Ok(r) => r.into_response(),
        Err(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn configuration_rules() {
        let lo = addr("127.0.0.1:8080");
        assert!(
            OAuthConfig::from_env(&env(&[]), &lo, None)
                .unwrap()
                .is_none()
        );
        let cfg = OAuthConfig::from_env(
            &env(&[("DATASOURCE_MCP_OAUTH_ISSUER", "https://auth.example.com")]),
            &lo,
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (cfg.read_scope.as_str(), cfg.write_scope.as_str()),
            ("datasource:read", "datasource:write")
        );
        // http:// only on loopback, for the issuer and the JWKS alike.
        let err = OAuthConfig::from_env(
            &env(&[("DATASOURCE_MCP_OAUTH_ISSUER", "http://auth.example.com")]),
            &lo,
            None,
        )
        .unwrap_err();
        assert!(err.contains("http:// on a non-loopback host"), "{err}");
        assert!(
            OAuthConfig::from_env(
                &env(&[("DATASOURCE_MCP_OAUTH_ISSUER", "http://127.0.0.1:9000")]),
                &lo,
                None
            )
            .is_ok()
        );
        let err = OAuthConfig::from_env(
            &env(&[
                ("DATASOURCE_MCP_OAUTH_ISSUER", "https://auth.example.com"),
                ("DATASOURCE_MCP_OAUTH_JWKS_URL", "http://10.0.0.1/jwks"),
            ]),
            &lo,
            None,
        )
        .unwrap_err();
        assert!(err.starts_with("DATASOURCE_MCP_OAUTH_JWKS_URL"), "{err}");
        // Off loopback the public URL (the audience) must be given.
        let err = OAuthConfig::from_env(
            &env(&[("DATASOURCE_MCP_OAUTH_ISSUER", "https://auth.example.com")]),
            &addr("0.0.0.0:8080"),
            None,
        )
        .unwrap_err();
        assert!(err.contains("needs --public-url"), "{err}");
        assert!(parse_public_url("http://mcp.example.com").is_err());
        let err = OAuthConfig::from_env(
            &env(&[
                ("DATASOURCE_MCP_OAUTH_ISSUER", "https://auth.example.com"),
                ("DATASOURCE_MCP_OAUTH_READ_SCOPE", "a b"),
            ]),
            &lo,
            None,
        )
        .unwrap_err();
        assert!(err.contains("one scope"), "{err}");
    }

    #[test]
    fn the_resource_is_the_public_url_of_mcp() {
        let resource = |s: &str| resource_url(&Url::parse(s).unwrap()).to_string();
        assert_eq!(
            resource("https://mcp.example.com"),
            "https://mcp.example.com/mcp"
        );
        assert_eq!(
            resource("https://mcp.example.com/"),
            "https://mcp.example.com/mcp"
        );
        assert_eq!(
            resource("https://mcp.example.com/mcp/"),
            "https://mcp.example.com/mcp"
        );
        assert_eq!(resource("https://x.example/ds"), "https://x.example/ds/mcp");
        let mut cfg = OAuthConfig::new("https://auth.example.com");
        cfg.public_url = Some(Url::parse("https://x.example/ds").unwrap());
        let oauth = OAuth::new(cfg, addr("127.0.0.1:1")).unwrap();
        assert_eq!(
            oauth.metadata_url(),
            "https://x.example/.well-known/oauth-protected-resource/ds/mcp"
        );
        assert_eq!(
            oauth.metadata_paths(),
            [
                "/.well-known/oauth-protected-resource",
                "/.well-known/oauth-protected-resource/ds/mcp",
                "/.well-known/oauth-protected-resource/mcp"
            ]
        );
    }

    #[test]
    fn jwks_keeps_only_signature_keys() {
        let doc = json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "RSA", "use": "enc", "kid": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"},
            {"kty": "RSA", "kid": "rs", "alg": "HS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "ok", "alg": "RS256", "n": "AQAB", "e": "AQAB"},
        ]});
        let keys = parse_jwks(&doc).unwrap();
        let kids: Vec<_> = keys.iter().map(|k| k.kid.as_deref().unwrap()).collect();
        assert_eq!(kids, ["ok"]);
        assert!(find(&keys, Some("ok"), Algorithm::RS256).is_some());
        assert!(
            find(&keys, Some("ok"), Algorithm::RS384).is_none(),
            "alg pinned by the JWK"
        );
        assert!(
            find(&keys, None, Algorithm::RS256).is_some(),
            "the only key"
        );
        assert!(find(&keys, Some("other"), Algorithm::RS256).is_none());
    }
}
