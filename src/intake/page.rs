//! The intake page: `GET /secrets/{token}` shows the form, `POST` the same address stores the
//! value. Plain HTML, no script, no outside resource. Every response is `no-store`, sends no
//! referrer, and carries a CSP that allows only its own inline style and a form posting to
//! itself.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;

use super::{About, Intake, MAX_FAILURES, Purpose};
use crate::keychain;
use crate::serving::body::{self, BodyError};
use crate::serving::origins::{Allowed, LOOPBACK_HOSTS, LOOPBACK_ORIGINS};

/// Largest form body read: the largest value, urlencoded (up to three bytes a byte), and the
/// form token.
const MAX_FORM_BYTES: usize = 3 * super::MAX_VALUE_BYTES + 1024;

/// Requests to the page served at once; past them 503. Anyone may send them (a browser has no
/// bearer token): a person needs one or two.
pub(super) const MAX_PAGE_REQUESTS: usize = 16;

/// The page's Content-Security-Policy: nothing loads, nothing runs, the form posts only to
/// this origin, and no other page may frame it.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}\
main{max-width:34rem;margin:3rem auto;padding:2rem;background:#fff;border-radius:8px;box-shadow:0 1px 4px #0002}\
h1{font-size:1.3rem;margin-top:0}dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}\
dt{color:#5a6275}dd{margin:0;word-break:break-all}code{background:#eef0f4;padding:0 .3rem;border-radius:3px}\
label{display:block;margin-top:1.2rem;font-weight:600}input[type=password]{width:100%;box-sizing:border-box;\
font-size:1rem;padding:.5rem;margin:.4rem 0 1rem;border:1px solid #b8bfcc;border-radius:4px}\
button{font-size:1rem;padding:.5rem 1.4rem;border:0;border-radius:4px;background:#2456d6;color:#fff}\
.note{color:#5a6275;font-size:.9rem}.error{color:#b3261e;font-weight:600}\
label.check{font-weight:400;margin:0 0 .3rem}label.check input{margin-right:.5rem}";

impl Intake {
    /// The page on its own loopback listener: Host and Origin checked as the HTTP transport
    /// checks them by default (loopback only; `Origin: null` for the form's own POST).
    pub(super) fn loopback_routes(self: Arc<Self>) -> Router {
        let allowed = Allowed::new(&LOOPBACK_HOSTS, &LOOPBACK_ORIGINS)
            .with_null_origin_posts(super::PATH_PREFIX);
        self.routes().layer(middleware::from_fn_with_state(
            Arc::new(allowed),
            loopback_only,
        ))
    }

    /// The page's routes, for a router of the caller's (HTTP mode) or the loopback listener.
    pub fn routes(self: Arc<Self>) -> Router {
        Router::new()
            .route("/secrets/{token}", get(show).post(submit))
            .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
            .layer(middleware::from_fn_with_state(self.clone(), bounded))
            .with_state(self)
    }
}

/// Requests addressed to this computer from its own pages only (DNS rebinding).
async fn loopback_only(
    State(allowed): State<Arc<Allowed>>,
    request: Request,
    next: Next,
) -> Response {
    match allowed.check(request.method(), request.uri(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refused) => gone(
            refused.status(),
            "This page answers only requests from this computer's own pages.",
        ),
    }
}

/// A few requests at once, each body whole within the deadline: unauthenticated senders of
/// slow bodies hold neither the page nor their connection for long.
async fn bounded(State(intake): State<Arc<Intake>>, request: Request, next: Next) -> Response {
    let Ok(_permit) = intake.page_requests.try_acquire() else {
        let mut r = gone(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server is busy. Reload this page in a moment.",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };
    let (parts, body) = request.into_parts();
    let deadline = intake.settings.body_timeout;
    let bytes = match body::read(body, MAX_FORM_BYTES, deadline).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => {
            return gone(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.");
        }
        Err(BodyError::Unreadable) => {
            return gone(StatusCode::BAD_REQUEST, "The form could not be read.");
        }
        Err(BodyError::TimedOut) => {
            let mut r = gone(
                StatusCode::REQUEST_TIMEOUT,
                "The form did not arrive in time. Open the link again.",
            );
            // The rest of the body may still come: the connection cannot carry another request.
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

async fn show(State(intake): State<Arc<Intake>>, Path(token): Path<String>) -> Response {
    // Asked before the lock: the keychain's first answer may take a moment.
    let remember = intake.keychain_offered().await.is_some();
    // A link another replica offered opens here too.
    if intake.adopt(&token).await.is_err() {
        return store_down();
    }
    let now = Instant::now();
    let state = intake.state();
    match state.links.get(&token) {
        None => gone(
            StatusCode::NOT_FOUND,
            "This link is not known to the server.",
        ),
        Some(link) if !link.live(now) => gone(
            StatusCode::GONE,
            "This link was already used or has expired. Ask the assistant to call again for a new one.",
        ),
        Some(link) => {
            let minutes = link
                .expires
                .saturating_duration_since(now)
                .as_secs()
                .div_ceil(60);
            page(
                StatusCode::OK,
                &format!("Enter {}", link.about.name),
                &form(&link.about, &link.form_token, minutes, None, remember),
            )
        }
    }
}

async fn submit(
    State(intake): State<Arc<Intake>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = Instant::now();
    // Checked before the link is looked at: a foreign page learns nothing, not even whether
    // the link exists.
    if !same_origin(&headers, intake.origin().as_deref()) {
        return gone(
            StatusCode::FORBIDDEN,
            "This form can only be sent from its own page.",
        );
    }
    let mut form_token = None;
    let mut value = None;
    let mut remember = false;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match &*k {
            "form_token" => form_token = Some(v.into_owned()),
            "value" => value = Some(v.into_owned()),
            "remember" => remember = v == "1",
            _ => {}
        }
    }
    let keychain = intake.keychain_offered().await.cloned();
    if intake.adopt(&token).await.is_err() {
        return store_down();
    }
    // The lock is held only here, never across the wait below.
    let (about, value) = {
        let mut state = intake.state();
        let Some(link) = state.links.get_mut(&token) else {
            return gone(
                StatusCode::NOT_FOUND,
                "This link is not known to the server.",
            );
        };
        if !link.live(now) {
            return gone(
                StatusCode::GONE,
                "This link was already used or has expired. Ask the assistant to call again for a new one.",
            );
        }
        let token_ok: bool = form_token
            .as_deref()
            .unwrap_or("")
            .as_bytes()
            .ct_eq(link.form_token.as_bytes())
            .into();
        if !token_ok {
            link.failures += 1;
            if link.failures >= MAX_FAILURES {
                link.used = true;
            }
            tracing::warn!("secret intake: a form was sent without its form token; refused");
            return gone(
                StatusCode::FORBIDDEN,
                "This form can only be sent from its own page. Open the link again.",
            );
        }
        let value = value.unwrap_or_default();
        let problem = if link.about.purpose == Purpose::Forget {
            None
        } else if value.is_empty() {
            Some("Enter a value.".to_string())
        } else if value.len() > super::MAX_VALUE_BYTES {
            Some(format!(
                "The value is longer than {} KiB: a secret that long is not taken here.",
                super::MAX_VALUE_BYTES / 1024
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            let minutes = link
                .expires
                .saturating_duration_since(now)
                .as_secs()
                .div_ceil(60);
            let offered = keychain.is_some();
            let html = form(
                &link.about,
                &link.form_token,
                minutes,
                Some(&problem),
                offered,
            );
            return page(StatusCode::BAD_REQUEST, "Enter a value", &html);
        }
        (link.about.clone(), value)
    };
    let name = about.name.clone();
    // Used once across every replica that shares the store: only the request that takes the
    // link from it goes on.
    match intake.claim(&token).await {
        Ok(true) => {}
        Ok(false) => {
            return gone(
                StatusCode::GONE,
                "This link was already used or has expired. Ask the assistant to call again for a new one.",
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "secret intake: the shared store could not be used");
            return gone(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server cannot reach its shared store just now; nothing was kept. Open the link again in a moment.",
            );
        }
    }
    if about.purpose == Purpose::Forget {
        if let Some(link) = intake.state().links.get_mut(&token) {
            link.used = true;
        }
        let body = match intake.remove_personal(&about).await {
            Ok(true) => format!(
                "<h1>Removed</h1><p>datasource-mcp no longer keeps your own {} credential. You can close this page.</p>",
                escape(&about.provider)
            ),
            Ok(false) => format!(
                "<h1>Nothing to remove</h1><p>datasource-mcp kept no {} credential of yours. You can close this page.</p>",
                escape(&about.provider)
            ),
            Err(why) => {
                tracing::warn!(why = %why, "secret intake: a personal credential could not be removed");
                return gone(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &format!(
                        "Your credential could not be removed ({why}). Ask the assistant for a new link."
                    ),
                );
            }
        };
        tracing::info!(provider = %about.binding.provider, "secret intake: a personal credential was removed");
        return page(StatusCode::OK, "Removed", &body);
    }
    // Remembered only where the page offered it, and only when the user ticked the box.
    let remembered = match keychain.filter(|_| remember && about.purpose == Purpose::Reference) {
        Some(keychain) => Some(
            keychain
                .remember_async(
                    &name,
                    &about.scope,
                    crate::secret::SecretString::new(value.as_str()),
                )
                .await,
        ),
        None => None,
    };
    if let Err(e) = intake.enter(&token, value).await {
        tracing::warn!(error = %e, "secret intake: a value could not be kept in the shared store");
        return gone(
            StatusCode::SERVICE_UNAVAILABLE,
            "The server cannot reach its shared store just now; nothing was kept. Ask the assistant to call again for a new link.",
        );
    }
    let kept = match about.purpose {
        Purpose::Personal => Some(intake.hand_over(&about).await),
        _ => None,
    };
    // The matcher every output is masked with, built off the async workers.
    crate::redact::ready().await;
    tracing::info!(secret = %name, "secret intake: a value was entered");
    let name_html = escape(&name);
    let held = match (&remembered, about.purpose) {
        (_, Purpose::Personal) => match kept {
            Some(Err(why)) => {
                tracing::warn!(secret = %name, why = %why, "secret intake: a personal credential could not be kept");
                format!(
                    "<p>datasource-mcp received <code>{name_html}</code> but could not keep it ({}). Ask the assistant to call again for a new link.</p>",
                    escape(&why)
                )
            }
            _ => format!(
                "<p>datasource-mcp keeps <code>{name_html}</code> as your own {} credential: your calls to {} act with it, and nobody else's do. You can close this page and go back to the assistant.</p>",
                escape(&about.provider),
                escape(&about.provider)
            ),
        },
        (_, Purpose::Login) => format!(
            "<p>datasource-mcp received <code>{name_html}</code> and stores it in {}. You can close this page.</p>",
            escape(keychain::place())
        ),
        (None, _) => format!(
            "<p>The server now holds the value of <code>{name_html}</code>, in memory only. \
You can close this page and go back to the assistant.</p>"
        ),
        (Some(Ok(())), _) => {
            tracing::info!(secret = %name, "secret intake: the value was remembered in the keychain");
            format!(
                "<p>The server now holds the value of <code>{name_html}</code> and remembered it in {}, \
for {} and {} only. Forget it with <code>datasource-mcp secrets forget {name_html}</code>. \
You can close this page and go back to the assistant.</p>",
                escape(keychain::place()),
                escape(&about.provider),
                escape(&about.scope.hosts.join(", "))
            )
        }
        (Some(Err(e)), _) => {
            tracing::warn!(secret = %name, "secret intake: the value could not be remembered: {e}");
            format!(
                "<p>The server now holds the value of <code>{name_html}</code>, in memory only: it could \
not be remembered ({}). You can close this page and go back to the assistant.</p>",
                escape(&e.to_string())
            )
        }
    };
    page(
        StatusCode::OK,
        "Received",
        &format!("<h1>Received</h1>{held}"),
    )
}

/// Whether a POST comes from the page's own origin: `Origin` equal to it, or `null` (what a
/// browser sends for the page's own form under `Referrer-Policy: no-referrer`, which hides the
/// origin); without `Origin`, a `Referer` of that origin. Anything else is refused.
fn same_origin(headers: &HeaderMap, own: Option<&str>) -> bool {
    let Some(own) = own else { return false };
    let one = |name: header::HeaderName| {
        let mut all = headers.get_all(name).iter();
        match (all.next(), all.next()) {
            (Some(v), None) => Some(v.to_str().ok()),
            (None, _) => None,
            // Two of them: ambiguous, refused.
            (Some(_), Some(_)) => Some(None),
        }
    };
    match one(header::ORIGIN) {
        Some(Some(origin)) => origin == own || origin == "null",
        Some(None) => false,
        None => match one(header::REFERER) {
            Some(Some(referer)) => {
                url::Url::parse(referer).is_ok_and(|u| u.origin().ascii_serialization() == own)
            }
            _ => false,
        },
    }
}

fn form(
    about: &About,
    form_token: &str,
    minutes: u64,
    error: Option<&str>,
    remember: bool,
) -> String {
    let name = escape(&about.name);
    let mut rows = format!(
        "<dt>Secret</dt><dd><code>{name}</code></dd><dt>Tool</dt><dd><code>{}</code></dd><dt>Provider</dt><dd>{}</dd>",
        escape(&about.tool),
        escape(&about.provider)
    );
    if let Some(target) = &about.target {
        rows.push_str(&format!("<dt>Target</dt><dd>{}</dd>", escape(target)));
    }
    if !about.binding.hosts.is_empty() {
        let hosts: Vec<String> = about.binding.hosts.iter().map(|h| escape(h)).collect();
        rows.push_str(&format!("<dt>Sent to</dt><dd>{}</dd>", hosts.join(", ")));
    }
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    let intro = match about.purpose {
        Purpose::Reference => format!(
            "<h1>A secret for datasource-mcp</h1>\
<p>An assistant is running <code>{}</code> and needs the value of the secret <code>{name}</code>. \
Type it here: it goes to the datasource-mcp server only, and the assistant never sees it. It will be used only for the calls of the one who asked, to the provider and hosts below.</p>",
            escape(&about.tool)
        ),
        Purpose::Login => format!(
            "<h1>A credential for datasource-mcp</h1>\
<p><code>datasource-mcp login</code> asks for <code>{name}</code>, the {} credential. It is stored in {} \
of this computer, and the server reads it from there when <code>{name}</code> is not set.</p>",
            escape(&about.provider),
            escape(keychain::place())
        ),
        Purpose::Personal => format!(
            "<h1>Your own {} credential</h1>\
<p>An assistant ran <code>{}</code> for you, and {} calls act as each person here. Type your own <code>{name}</code>: \
it goes to the datasource-mcp server only, is kept for you alone (sealed), and the assistant never sees it.</p>",
            escape(&about.provider),
            escape(&about.tool),
            escape(&about.provider)
        ),
        Purpose::Forget => format!(
            "<h1>Remove your own {} credential</h1>\
<p>datasource-mcp keeps a {} credential you gave, and your calls to {} act with it. Remove it, and they act as the \
server's operator chose for people without one (refused with a link to give one again, or the service credential).</p>",
            escape(&about.provider),
            escape(&about.provider),
            escape(&about.provider)
        ),
    };
    // Offered where a keychain is there and the page is on this computer (never over HTTP).
    let remember = if remember && about.purpose == Purpose::Reference {
        format!(
            "<label class=\"check\"><input type=\"checkbox\" name=\"remember\" value=\"1\">Remember it on this computer</label>\
<p class=\"note\">Unticked, the server keeps it in memory until it stops. Ticked, it is also kept in {} \
as <code>{}/{}</code>, used again after a restart, for {} and {} only; forget it with \
<code>datasource-mcp secrets forget {name}</code>.</p>",
            escape(keychain::place()),
            keychain::SERVICE,
            escape(&keychain::secret_account(&about.name)),
            escape(&about.provider),
            escape(&about.scope.hosts.join(", "))
        )
    } else {
        String::new()
    };
    let (input, button) = match about.purpose {
        Purpose::Forget => (String::new(), "Remove it"),
        _ => (
            format!(
                "<label for=\"value\">Value of {name}</label>\
<input id=\"value\" type=\"password\" name=\"value\" autocomplete=\"off\" required autofocus>"
            ),
            "Send to the server",
        ),
    };
    format!(
        "{intro}\
<dl>{rows}</dl>{error}\
<form method=\"post\">\
<input type=\"hidden\" name=\"form_token\" value=\"{token}\">\
{input}{remember}<button type=\"submit\">{button}</button>\
</form>\
<p class=\"note\">This link works once and expires in {minutes} min. If you did not {asked}, close the page.</p>",
        asked = match about.purpose {
            Purpose::Reference | Purpose::Personal | Purpose::Forget => "ask an assistant for this",
            Purpose::Login => "run datasource-mcp login",
        },
        token = escape(form_token),
    )
}

/// The shared store (replicas) cannot be read: said as such, not as an unknown link.
fn store_down() -> Response {
    let mut r = gone(
        StatusCode::SERVICE_UNAVAILABLE,
        "The server cannot reach its shared store just now. Reload this page in a moment.",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

fn gone(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Secret intake",
        &format!("<h1>Secret intake</h1><p>{}</p>", escape(message)),
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} · datasource-mcp</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    );
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Text safe in HTML content and in a double- or single-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_and_origins() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        let own = Some("http://127.0.0.1:4000");
        let with = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.append(*k, HeaderValue::from_static(v));
            }
            same_origin(&h, own)
        };
        assert!(with(&[("origin", "http://127.0.0.1:4000")]));
        assert!(with(&[("origin", "null")]));
        assert!(!with(&[("origin", "http://evil.example")]));
        assert!(!with(&[("origin", "http://127.0.0.1:4001")]));
        assert!(!with(&[
            ("origin", "http://127.0.0.1:4000"),
            ("origin", "http://evil.example")
        ]));
        assert!(with(&[("referer", "http://127.0.0.1:4000/secrets/x")]));
        assert!(!with(&[("referer", "http://evil.example/")]));
        assert!(!with(&[]));
    }
}
