//! MCP over streamable HTTP at `/mcp`, safe by default and stateless.
//!
//! - **Stateless**: rmcp serves every request on its own (no session state), so any number of
//!   replicas behind an ordinary load balancer answer any request. 2025-era clients still get
//!   an `Mcp-Session-Id` on `initialize`: an opaque correlation id that no replica needs state
//!   for (it tags log lines, is never required, never terminated; DELETE answers 405, which the
//!   spec allows). Both eras work: `initialize` (2025-11-25) and `server/discover` (2026-07-28).
//! - **Authenticated**: `Authorization: Bearer <token>` on every request, compared in constant
//!   time; 401 with `WWW-Authenticate` otherwise. Or OAuth access tokens, scoped ([`super::oauth`]).
//!   The caller's token is removed before the request reaches the MCP handler: vendor calls use
//!   the server's own credentials only.
//! - **DNS rebinding and cross-origin**: Host and Origin allow-lists (loopback by default) on
//!   every path; a present but unlisted Origin gets 403 (`null` only for the intake page's own
//!   form); no CORS headers are ever sent. Two Host headers, or an absolute-form target naming
//!   another host than Host, get 400.
//! - **Bounded**: request body (413), JSON-RPC batches refused (400 with a JSON-RPC error),
//!   a body that is not JSON (400, -32700) or not a JSON-RPC message (400, -32600),
//!   requests in flight (503 with `Retry-After` past the limit; counted after authentication,
//!   so neither a refused request nor one waiting for the issuer's keys holds a place), time
//!   to send headers and open connections (slowloris connections are closed first; see
//!   [`crate::serving::connections`]), time to send the body (408).
//! - **Observable**: `/metrics` in the Prometheus text format, behind the same authentication
//!   unless `--metrics-public`; the authenticated [`Caller`] and a correlation id (the session
//!   id when short and plain, else one per request; also in the request's log span, quoted) go
//!   to the handler in the request's extensions, for the audit log.
//! - **Graceful shutdown** on SIGINT/SIGTERM: stop accepting, let calls in flight finish within a
//!   grace period, exit 0.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::model::ClientJsonRpcMessage;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::oauth::{OAuth, OAuthConfig, Scoped};
use crate::engine::audit::{Caller, CorrelationId};
use crate::metrics::{self, Metrics};
use crate::secret::SecretString;
use crate::serving::body::{self, BodyError};
use crate::serving::connections::{Connections, Limits, Protection};
use crate::serving::in_flight::InFlight;
use crate::serving::origins::Allowed;
use crate::surfaces::server::DataSourceServer;

/// How HTTP clients authenticate.
#[derive(Debug, Clone)]
pub enum Auth {
    Bearer(SecretString),
    /// OAuth 2.1 access tokens from an external authorization server.
    OAuth(Box<OAuthConfig>),
    /// `--no-auth`: loopback only.
    None,
}

/// Everything the HTTP transport is configured with.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub listen: SocketAddr,
    pub auth: Auth,
    /// Host header values accepted (name or address, optionally with `:port`); `*` accepts any.
    pub allowed_hosts: Vec<String>,
    /// Origin values accepted (`scheme://host[:port|:*]`).
    pub allowed_origins: Vec<String>,
    pub max_body_bytes: usize,
    /// Requests handled at once; more wait up to `queue_timeout`, then get 503.
    pub max_in_flight: usize,
    pub queue_timeout: Duration,
    /// How long calls in flight may take to finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// A connection that has not sent a request's complete headers within this is closed.
    pub header_timeout: Duration,
    /// A request whose body has not fully arrived within this gets 408.
    pub body_timeout: Duration,
    /// Connections open at once; past it the oldest still sending headers is closed.
    pub max_connections: usize,
    /// `/metrics` without authentication (`--metrics-public`); by default it takes the same
    /// bearer token as `/mcp`.
    pub metrics_public: bool,
}

pub use crate::serving::origins::{LOOPBACK_HOSTS, LOOPBACK_ORIGINS};

impl HttpOptions {
    /// Defaults for `listen`: loopback allow-lists plus the bound address itself (so a server
    /// bound to a specific interface answers requests addressed to it).
    pub fn new(listen: SocketAddr, auth: Auth) -> Self {
        let mut allowed_hosts: Vec<String> = LOOPBACK_HOSTS.iter().map(|s| s.to_string()).collect();
        let ip = listen.ip();
        if !ip.is_unspecified() && !ip.is_loopback() {
            allowed_hosts.push(ip.to_string());
        }
        Self {
            listen,
            auth,
            allowed_hosts,
            allowed_origins: LOOPBACK_ORIGINS.iter().map(|s| s.to_string()).collect(),
            max_body_bytes: 1024 * 1024,
            max_in_flight: 64,
            queue_timeout: Duration::from_secs(5),
            shutdown_grace: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            // Half of a common 1,024 descriptor limit: room for upstream connections and logs.
            max_connections: 512,
            metrics_public: false,
        }
    }
}

/// How clients authenticate, from the environment's token, OAuth and `--no-auth`: a
/// non-loopback bind needs a configured token or OAuth; `--no-auth` is refused off loopback;
/// on loopback with neither, a token is generated (returned so it can be printed once).
///
/// OAuth excludes the other two: with a static token beside it, anyone holding that one shared
/// secret would pass as every user with every scope, unscoped and untraceable, which is what
/// OAuth is configured to prevent; with `--no-auth`, which of the two is meant is unclear.
/// Either combination refuses to start rather than guess.
pub fn resolve_auth(
    listen: &SocketAddr,
    configured: Option<String>,
    no_auth: bool,
    oauth: Option<OAuthConfig>,
) -> Result<(Auth, Option<String>), String> {
    let loopback = listen.ip().is_loopback();
    if let Some(oauth) = oauth {
        if configured.is_some() {
            return Err(
                "DATASOURCE_MCP_HTTP_TOKEN and DATASOURCE_MCP_OAUTH_ISSUER are both set: \
                        choose one (a static token beside OAuth would bypass its scopes)"
                    .into(),
            );
        }
        if no_auth {
            return Err("--no-auth and DATASOURCE_MCP_OAUTH_ISSUER contradict each other".into());
        }
        return Ok((Auth::OAuth(Box::new(oauth)), None));
    }
    if no_auth {
        if !loopback {
            return Err(format!(
                "--no-auth is accepted only on a loopback address, not {listen}"
            ));
        }
        return Ok((Auth::None, None));
    }
    match configured {
        Some(token) if token.trim().len() < 16 => {
            Err("DATASOURCE_MCP_HTTP_TOKEN must be at least 16 characters".into())
        }
        Some(token) => Ok((Auth::Bearer(SecretString::new(token.trim())), None)),
        None if loopback => {
            let token = crate::secret::random_token("dsmcp-");
            Ok((Auth::Bearer(SecretString::new(token.clone())), Some(token)))
        }
        None => Err(format!(
            "binding {listen} (not loopback) needs DATASOURCE_MCP_HTTP_TOKEN set: refusing to serve without authentication"
        )),
    }
}

struct Shared {
    auth: Auth,
    metrics: Arc<Metrics>,
    /// The token checker, with `Auth::OAuth`.
    oauth: Option<Arc<OAuth>>,
    max_body_bytes: usize,
    body_timeout: Duration,
    in_flight: Arc<Semaphore>,
    queue_timeout: Duration,
}

/// The axum app: `/mcp` (guarded) and `/healthz`; with OAuth also the Protected Resource
/// Metadata (unauthenticated).
pub fn router(
    server: DataSourceServer,
    opts: &HttpOptions,
    oauth: Option<Arc<OAuth>>,
    ct: CancellationToken,
) -> Router {
    // The secret intake page, outside /mcp: no bearer token (a browser has none); its link
    // token, form token and Origin check guard it.
    let intake = server.engine().intake().cloned();
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_max_request_body_bytes(opts.max_body_bytes)
        .with_allowed_origins(opts.allowed_origins.clone())
        .with_cancellation_token(ct);
    config = if opts.allowed_hosts.iter().any(|h| h == "*") {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(opts.allowed_hosts.clone())
    };
    let metrics = server.engine().metrics().clone();
    // Stateless: a fresh handler per request, which is one Arc clone.
    let service = |server: DataSourceServer, config| {
        StreamableHttpService::<DataSourceServer, NeverSessionManager>::new(
            move || Ok(server.clone()),
            Arc::new(NeverSessionManager::default()),
            config,
        )
    };
    let mcp = match &oauth {
        // Per request, the token's scope picks the full server or its read-only twin.
        Some(oauth) => Router::new().nest_service(
            "/mcp",
            Scoped::new(
                service(server.clone(), config.clone()),
                service(server.read_scope(), config),
                server,
                oauth.clone(),
            ),
        ),
        None => Router::new().nest_service("/mcp", service(server, config)),
    };
    let shared = Arc::new(Shared {
        auth: opts.auth.clone(),
        metrics: metrics.clone(),
        oauth: oauth.clone(),
        max_body_bytes: opts.max_body_bytes,
        body_timeout: opts.body_timeout,
        in_flight: Arc::new(Semaphore::new(opts.max_in_flight.max(1))),
        queue_timeout: opts.queue_timeout,
    });
    // Outermost first: authenticate, then take a place among the requests in flight, then
    // read the body. A request refused, or waiting for the OAuth issuer's keys, holds no place.
    let mcp = mcp
        .layer(middleware::from_fn_with_state(shared.clone(), inspect))
        .layer(middleware::from_fn_with_state(shared.clone(), limit))
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate));
    // Prometheus figures: behind the same authentication as /mcp unless made public.
    let mut figures = Router::new().route(
        "/metrics",
        get(move || async move {
            let body = metrics.render();
            ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body)
        }),
    );
    if !opts.metrics_public {
        figures = figures.layer(middleware::from_fn_with_state(shared, authenticate));
    }
    let mut app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(mcp)
        .merge(figures);
    if let Some(oauth) = &oauth {
        let document = axum::Json(oauth.metadata());
        for path in oauth.metadata_paths() {
            let document = document.clone();
            app = app.route(path, get(move || async move { document }));
        }
    }
    if let Some(intake) = intake {
        app = app.merge(intake.routes());
    }
    // On every path, not only /mcp: the probe, the figures, the metadata and the intake page
    // answer only requests addressed to this server from allowed origins.
    let allowed = Allowed::new(&opts.allowed_hosts, &opts.allowed_origins)
        .with_null_origin_posts(crate::intake::PATH_PREFIX);
    app.layer(middleware::from_fn_with_state(
        Arc::new(allowed),
        allow_listed,
    ))
    .layer(middleware::from_fn(one_target_host))
}

/// Host and Origin allow-lists ([`Allowed`]): 403 otherwise (400 without any host).
async fn allow_listed(
    State(allowed): State<Arc<Allowed>>,
    request: Request,
    next: Next,
) -> Response {
    match allowed.check(request.method(), request.uri(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refused) => {
            tracing::debug!(?refused, "request refused by the Host or Origin allow-list");
            rpc_error(refused.status(), refused.message())
        }
    }
}

/// Every request names one host, unambiguously; otherwise 400 (on every path: a malformed
/// request, not an unlisted host). Two Host headers: RFC 9112 §3.2 requires 400, and which one
/// the allow-list would check is arbitrary. An absolute-form target (`POST http://x/mcp`) names
/// its host itself, and RFC 9112 §3.2.2 has it override Host, while the allow-list checks Host:
/// the two must agree (then the allow-list decides, 403 for an unlisted host, as for any
/// request).
async fn one_target_host(request: Request, next: Next) -> Response {
    let mut hosts = request.headers().get_all(header::HOST).iter();
    let (host, second) = (hosts.next(), hosts.next());
    if second.is_some() {
        return rpc_error(StatusCode::BAD_REQUEST, "more than one Host header");
    }
    if let Some(target) = request.uri().authority() {
        let default_port = match request.uri().scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => 443,
            _ => 80,
        };
        let agrees = host
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.parse::<axum::http::uri::Authority>().ok())
            .is_some_and(|host| same_authority(target, &host, default_port));
        if !agrees {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                "the request target names a different host than the Host header",
            );
        }
    }
    next.run(request).await
}

/// Host and port equal (names in any case; a missing port is the scheme's default). User
/// information in either never agrees: it has no place in an http(s) target.
fn same_authority(
    a: &axum::http::uri::Authority,
    b: &axum::http::uri::Authority,
    default_port: u16,
) -> bool {
    !a.as_str().contains('@')
        && !b.as_str().contains('@')
        && a.host().eq_ignore_ascii_case(b.host())
        && a.port_u16().unwrap_or(default_port) == b.port_u16().unwrap_or(default_port)
}

/// Sheds load past the limit instead of queueing without bound. The place goes into the
/// request's extensions: a call that waits for a person gives it back meanwhile.
async fn limit(State(shared): State<Arc<Shared>>, mut request: Request, next: Next) -> Response {
    match InFlight::acquire(&shared.in_flight, shared.queue_timeout).await {
        Some(place) => {
            let _counted = shared.metrics.in_flight();
            request.extensions_mut().insert(place);
            next.run(request).await
        }
        None => {
            let mut r = rpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is busy: try again shortly",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
    }
}

/// Bearer token on every request, compared in constant time; the caller's token then goes no
/// further.
async fn authenticate(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    // Exactly one Authorization header: with several, which one counts is ambiguous.
    let mut all = request.headers().get_all(header::AUTHORIZATION).iter();
    let given = match (all.next(), all.next()) {
        (Some(one), None) => bearer_token(one).unwrap_or(""),
        _ => "",
    }
    .to_string();
    if let Some(oauth) = &shared.oauth {
        match oauth.authorize(Some(&given)).await {
            Ok(caller) => {
                // Who calls, for the audit log: the token's subject.
                let subject = caller
                    .subject
                    .clone()
                    .unwrap_or_else(|| crate::engine::audit::NO_SUBJECT.into());
                request.extensions_mut().insert(Caller::Subject(subject));
                request.extensions_mut().insert(caller);
            }
            Err(rejection) => {
                shared.metrics.client_auth_failure();
                tracing::debug!(?rejection, "OAuth: request refused");
                return oauth.challenge(&rejection);
            }
        }
    } else if let Auth::OAuth(_) = &shared.auth {
        // Configured for OAuth but built without its checker: refuse rather than let through.
        return rpc_error(StatusCode::UNAUTHORIZED, "missing or invalid bearer token");
    } else if let Auth::Bearer(expected) = &shared.auth {
        let ok: bool = given.as_bytes().ct_eq(expected.expose().as_bytes()).into();
        if !ok {
            shared.metrics.client_auth_failure();
            let mut r = rpc_error(StatusCode::UNAUTHORIZED, "missing or invalid bearer token");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"datasource-mcp\""),
            );
            return r;
        }
    }
    request.headers_mut().remove(header::AUTHORIZATION);
    // Authenticated: its connection is no longer one the cap may close to make room.
    if let Some(protection) = request.extensions().get::<Protection>() {
        protection.protect();
    }
    // Who calls, for the audit log: the handler finds it in the request's extensions.
    let caller = match &shared.auth {
        Auth::Bearer(_) => Some(Caller::StaticToken),
        Auth::None => Some(Caller::Anonymous),
        // Set above from the token.
        Auth::OAuth(_) => None,
    };
    if let Some(caller) = caller {
        request.extensions_mut().insert(caller);
    }
    next.run(request).await
}

/// The token of `Bearer <token>`. The scheme is case-insensitive (RFC 9110 §11.1, RFC 6750:
/// `bearer` and `BEARER` are the same scheme) and followed by one or more spaces.
fn bearer_token(value: &HeaderValue) -> Option<&str> {
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

/// Reads the (bounded) body once: refuses batches, notes whether this is an `initialize`, and
/// hands a correlation session id to 2025-era clients.
async fn inspect(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    // A deadline for the whole body: a slow one would otherwise hold a request slot for ever.
    let bytes = match body::read(body, shared.max_body_bytes, shared.body_timeout).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => {
            return rpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the request body exceeds {} bytes", shared.max_body_bytes),
            );
        }
        Err(BodyError::Unreadable) => {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            );
        }
        Err(BodyError::TimedOut) => {
            let mut r = rpc_error(
                StatusCode::REQUEST_TIMEOUT,
                &format!(
                    "the request body did not arrive within {} s",
                    shared.body_timeout.as_secs()
                ),
            );
            // The rest of the body may still come: the connection cannot carry another request.
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
    };
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            "JSON-RPC batches are not supported: send one message per request",
        );
    }
    let message = if parts.method == axum::http::Method::POST {
        // rmcp would answer 415 with plain text: this is a JSON-RPC error, so say so in one.
        match serde_json::from_slice::<serde_json::Value>(&bytes) {
            Err(e) => {
                let message = format!("Parse error: the body is not JSON ({e})");
                return rpc_error_code(StatusCode::BAD_REQUEST, PARSE_ERROR, &message);
            }
            // The type rmcp reads the body as, so exactly what it would refuse.
            Ok(_) if serde_json::from_slice::<ClientJsonRpcMessage>(&bytes).is_err() => {
                return rpc_error(
                    StatusCode::BAD_REQUEST,
                    "Invalid Request: the body is not a JSON-RPC message",
                );
            }
            Ok(v) => Some(v),
        }
    } else {
        serde_json::from_slice::<serde_json::Value>(&bytes).ok()
    };
    let is_initialize = parts.method == axum::http::Method::POST
        && message
            .as_ref()
            .is_some_and(|v| v["method"] == "initialize");
    // A 2026-era request carries its version in `_meta`, which rmcp checks against the header;
    // for earlier ones rmcp's stateless path does not check the header, so it is checked here.
    let modern = message.as_ref().is_some_and(|v| {
        v.pointer("/params/_meta/io.modelcontextprotocol~1protocolVersion")
            .is_some()
    });
    if !modern && let Some(problem) = unsupported_version(&parts.headers) {
        return rpc_error(StatusCode::BAD_REQUEST, &problem);
    }
    // A client's session id tags log and audit lines only when short and plain (else a fresh
    // id does): a long one would make every such line as long, other characters could pass
    // for more fields on a log line.
    let incoming = parts
        .headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| plain_id(id))
        .map(str::to_string);
    let session = incoming
        .clone()
        .or_else(|| is_initialize.then(|| crate::secret::random_token("mcp-")));
    // The correlation id of the audit log and of this request's log lines: the 2025-era
    // session id (one per client session), else one made for this request.
    let correlation = session
        .clone()
        .unwrap_or_else(|| crate::secret::random_token("req-"));
    // Quoted (Debug): whatever an id holds, it stays one field.
    let span = tracing::info_span!(
        "http",
        method = %parts.method,
        session = ?session.as_deref().unwrap_or("-"),
        correlation = ?correlation
    );
    let mut parts = parts;
    parts.extensions.insert(CorrelationId(correlation));
    let mut response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .instrument(span)
        .await;
    if let (true, None, Some(id)) = (is_initialize, incoming, session)
        && response.status().is_success()
        && !response.headers().contains_key("mcp-session-id")
        && let Ok(value) = HeaderValue::from_str(&id)
    {
        response.headers_mut().insert("mcp-session-id", value);
    }
    response
}

/// Longest client-chosen session id kept as the correlation id.
const MAX_SESSION_ID: usize = 128;

/// An id that may tag log and audit lines as it is: up to [`MAX_SESSION_ID`] letters, digits
/// and `._:-`.
fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_SESSION_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Why the `MCP-Protocol-Version` header is refused, if it is (absent is fine: 2025-03-26).
fn unsupported_version(headers: &axum::http::HeaderMap) -> Option<String> {
    let mut values = headers.get_all("mcp-protocol-version").iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return None,
        (Some(v), None) => v.to_str().unwrap_or(""),
        (Some(_), Some(_)) => return Some("more than one MCP-Protocol-Version header".into()),
    };
    let known = rmcp::model::ProtocolVersion::KNOWN_VERSIONS;
    if known.iter().any(|k| k.as_str() == value) {
        return None;
    }
    let list: Vec<&str> = known.iter().map(|k| k.as_str()).collect();
    let shown: String = value.chars().take(40).collect();
    Some(format!(
        "unsupported MCP-Protocol-Version {shown} (supported: {})",
        list.join(", ")
    ))
}

/// JSON-RPC's "Invalid Request" and "Parse error".
const INVALID_REQUEST: i32 = -32600;
const PARSE_ERROR: i32 = -32700;

/// An HTTP error whose body is a JSON-RPC "Invalid Request" error.
fn rpc_error(status: StatusCode, message: &str) -> Response {
    rpc_error_code(status, INVALID_REQUEST, message)
}

/// An HTTP error whose body is a JSON-RPC error (no id: it answers no particular request).
fn rpc_error_code(status: StatusCode, code: i32, message: &str) -> Response {
    let body = json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}});
    (status, axum::Json(body)).into_response()
}

/// Serves until `shutdown` completes (SIGINT/SIGTERM for the CLI), then stops accepting and
/// gives calls in flight `shutdown_grace` to finish. `ready` receives the bound address once
/// listening.
pub async fn serve(
    server: DataSourceServer,
    opts: HttpOptions,
    ready: impl FnOnce(SocketAddr),
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(opts.listen).await?;
    let bound = listener.local_addr()?;
    let rmcp_ct = CancellationToken::new();
    if let Some(intake) = server.engine().intake() {
        intake.bound(bound);
    }
    let oauth = match &opts.auth {
        Auth::OAuth(cfg) => {
            let oauth = Arc::new(OAuth::new((**cfg).clone(), bound).map_err(anyhow::Error::msg)?);
            let warm = oauth.clone();
            tokio::spawn(async move { warm.warm_up().await });
            Some(oauth)
        }
        _ => None,
    };
    let app = router(server, &opts, oauth, rmcp_ct.clone());
    ready(bound);
    let connections = Connections::new(Limits {
        header_timeout: opts.header_timeout,
        max_connections: opts.max_connections,
    });
    let stop = CancellationToken::new();
    // Accepting never ends on its own; dropping it on the signal closes the listener.
    tokio::select! {
        _ = connections.accept(listener, app, stop.clone()) => {}
        _ = shutdown => {}
    }
    tracing::info!(
        "shutting down: not accepting; giving calls in flight {} s",
        opts.shutdown_grace.as_secs()
    );
    stop.cancel();
    if tokio::time::timeout(opts.shutdown_grace, connections.drain())
        .await
        .is_err()
    {
        tracing::warn!(
            "grace period over with calls still in flight ({} connections)",
            connections.len()
        );
    }
    rmcp_ct.cancel();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn authentication_rules() {
        let (auth, printed) = resolve_auth(&addr("127.0.0.1:8080"), None, false, None).unwrap();
        let Auth::Bearer(token) = auth else { panic!() };
        assert_eq!(
            printed.as_deref(),
            Some(token.expose()),
            "generated and shown once"
        );
        let (auth, printed) = resolve_auth(
            &addr("0.0.0.0:8080"),
            Some("a-configured-token-123".into()),
            false,
            None,
        )
        .unwrap();
        assert!(matches!(auth, Auth::Bearer(_)) && printed.is_none());
        assert!(
            resolve_auth(&addr("0.0.0.0:8080"), None, false, None)
                .unwrap_err()
                .contains("needs DATASOURCE_MCP_HTTP_TOKEN")
        );
        assert!(
            resolve_auth(&addr("10.1.2.3:8080"), None, true, None)
                .unwrap_err()
                .starts_with("--no-auth is accepted only on a loopback address")
        );
        assert!(matches!(
            resolve_auth(&addr("[::1]:8080"), None, true, None)
                .unwrap()
                .0,
            Auth::None
        ));
        assert!(resolve_auth(&addr("127.0.0.1:1"), Some("short".into()), false, None).is_err());
    }

    #[test]
    fn oauth_excludes_the_static_token_and_no_auth() {
        let oauth = || Some(OAuthConfig::new("https://auth.example.com"));
        let lo = addr("127.0.0.1:8080");
        let (auth, printed) = resolve_auth(&addr("0.0.0.0:80"), None, false, oauth()).unwrap();
        assert!(matches!(auth, Auth::OAuth(_)) && printed.is_none());
        let err =
            resolve_auth(&lo, Some("a-configured-token-123".into()), false, oauth()).unwrap_err();
        assert!(err.contains("both set: choose one"), "{err}");
        assert!(resolve_auth(&lo, None, true, oauth()).is_err());
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let token =
            |v: &'static str| bearer_token(&HeaderValue::from_static(v)).map(str::to_string);
        for v in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR  abc"] {
            assert_eq!(token(v).as_deref(), Some("abc"), "{v}");
        }
        for v in ["Basic abc", "Bearerabc", "abc", "Bearer"] {
            assert_eq!(token(v), None, "{v}");
        }
    }

    #[test]
    fn only_short_plain_session_ids_are_kept() {
        for id in ["mcp-5d0c", "a", "A.b_c:d-9", &"x".repeat(128)] {
            assert!(plain_id(id), "{id}");
        }
        for id in [
            "",
            &"x".repeat(129),
            "a b",
            "a=b",
            "a\"b",
            "a\tb",
            "ä",
            "a/b",
            "{}",
        ] {
            assert!(!plain_id(id), "{id}");
        }
    }

    #[test]
    fn a_specific_bind_address_is_an_allowed_host() {
        let o = HttpOptions::new(addr("10.1.2.3:80"), Auth::None);
        assert!(o.allowed_hosts.contains(&"10.1.2.3".to_string()));
        let o = HttpOptions::new(addr("0.0.0.0:80"), Auth::None);
        assert_eq!(o.allowed_hosts, ["localhost", "127.0.0.1", "::1"]);
    }
}
