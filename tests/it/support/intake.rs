//! The secret intake page from outside: servers with the intake on, a person's steps on the page
//! (open, read the form token, send a value from the page's own origin), and an MCP client that
//! takes URL-mode elicitation and "opens" the link it is given.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rmcp::model::{
    ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult, ElicitationAction,
    ElicitationCapability, Implementation, UrlElicitationCapability,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::{RoleClient, ServiceExt};

use datasource_mcp::engine::Engine;
use datasource_mcp::intake::{Intake, IntakeSettings, Serving};
use datasource_mcp::providers;
use datasource_mcp::surfaces::server::{DataSourceServer, Selection};
use datasource_mcp::upstream::UpstreamSettings;

use super::{Client, http};

/// A server configured from `vars` with the intake page on a loopback listener, as stdio
/// serves it.
pub fn intake_server(
    vars: &HashMap<String, String>,
    settings: IntakeSettings,
) -> (DataSourceServer, Arc<Intake>) {
    let configs = providers::configure_all(vars).expect("valid configuration");
    let intake = Intake::new(settings, Serving::Loopback);
    let engine = Engine::new(configs, UpstreamSettings::default(), Arc::new(vars.clone()))
        .with_intake(intake.clone());
    (
        DataSourceServer::for_session(Arc::new(engine), &Selection::default()),
        intake,
    )
}

/// Like [`intake_server`], with the page offering to remember values in `keychain` (as stdio
/// serves it on a computer with a keychain).
pub fn remembering_server(
    vars: &HashMap<String, String>,
    keychain: Arc<datasource_mcp::keychain::Keychain>,
) -> (DataSourceServer, Arc<Intake>) {
    let configs = providers::configure_all(vars).expect("valid configuration");
    let intake = Intake::remembering(IntakeSettings::default(), keychain.clone());
    let engine = Engine::new(configs, UpstreamSettings::default(), Arc::new(vars.clone()))
        .with_keychain(keychain)
        .with_intake(intake.clone());
    (
        DataSourceServer::for_session(Arc::new(engine), &Selection::default()),
        intake,
    )
}

/// Serves `server` in-process and connects `handler` as its client.
pub async fn connect<H: rmcp::ClientHandler>(
    server: DataSourceServer,
    handler: H,
) -> RunningService<RoleClient, H> {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    handler.serve(client_io).await.expect("client connects")
}

/// A plain client (no elicitation) of a server with the intake on.
pub async fn intake_client(
    vars: &HashMap<String, String>,
    settings: IntakeSettings,
) -> (Client, Arc<Intake>) {
    let (server, intake) = intake_server(vars, settings);
    (connect(server, ()).await, intake)
}

/// The intake link in a text (a hint, a stderr line).
pub fn link_in(text: &str) -> Option<String> {
    let start = text.find("http://")?;
    let rest = &text[start..];
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '"')
        .unwrap_or(rest.len());
    let link = &rest[..end];
    link.contains("/secrets/").then(|| link.to_string())
}

/// `scheme://host:port` of a URL.
pub fn origin_of(url: &str) -> String {
    let u = reqwest::Url::parse(url).unwrap();
    u.origin().ascii_serialization()
}

/// An opened page: status, headers, HTML.
pub struct Opened {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub html: String,
}

impl Opened {
    /// The hidden form token on the page.
    pub fn form_token(&self) -> String {
        let at = self
            .html
            .find("name=\"form_token\" value=\"")
            .expect("a form token")
            + 25;
        self.html[at..].split('"').next().unwrap().to_string()
    }
}

pub async fn open(url: &str) -> Opened {
    let r = http().get(url).send().await.expect("the page answers");
    Opened {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        html: r.text().await.unwrap(),
    }
}

/// Posts the form as the browser would, from `origin` (None: no Origin header).
pub async fn post(url: &str, origin: Option<&str>, form_token: &str, value: &str) -> Opened {
    post_form(url, origin, form_token, value, false).await
}

/// Posts the form, with the "remember" box ticked or not.
pub async fn post_form(
    url: &str,
    origin: Option<&str>,
    form_token: &str,
    value: &str,
    remember: bool,
) -> Opened {
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("form_token", form_token)
            .append_pair("value", value);
        if remember {
            form.append_pair("remember", "1");
        }
        form.finish()
    };
    let mut req = http()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    let r = req.send().await.expect("the page answers");
    Opened {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        html: r.text().await.unwrap(),
    }
}

/// What a person does: opens the link and sends `value` from the page.
pub async fn enter(url: &str, value: &str) -> Opened {
    let page = open(url).await;
    assert_eq!(page.status, 200, "{}", page.html);
    post(url, Some(&origin_of(url)), &page.form_token(), value).await
}

/// The "remember" box of a page, when it offers one.
pub const REMEMBER_BOX: &str = r#"<input type="checkbox" name="remember" value="1">"#;

/// What a person does who ticks "remember": the page must offer the box.
pub async fn enter_remembering(url: &str, value: &str) -> Opened {
    let page = open(url).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains(REMEMBER_BOX),
        "no remember box: {}",
        page.html
    );
    post_form(url, Some(&origin_of(url)), &page.form_token(), value, true).await
}

/// A client that declares URL-mode elicitation; on each one it is sent, it records the
/// request and enters `value` on the page (as a user would after the client opened it), then
/// answers `action`.
#[derive(Clone)]
pub struct ElicitingClient {
    pub value: String,
    pub action: ElicitationAction,
    pub seen: Arc<Mutex<Vec<ElicitRequestParams>>>,
    /// The user ticks "remember" on the page.
    pub remember: bool,
}

impl ElicitingClient {
    pub fn new(value: &str) -> Self {
        Self {
            value: value.into(),
            action: ElicitationAction::Accept,
            seen: Default::default(),
            remember: false,
        }
    }

    /// A client whose user ticks "remember" on the page.
    pub fn remembering(value: &str) -> Self {
        Self {
            remember: true,
            ..Self::new(value)
        }
    }
}

impl rmcp::ClientHandler for ElicitingClient {
    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        capabilities.elicitation =
            Some(ElicitationCapability::new().with_url(UrlElicitationCapability::new()));
        ClientConfig::new(
            capabilities,
            Implementation::new("eliciting-test-client", "1"),
        )
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, rmcp::ErrorData> {
        self.seen.lock().unwrap().push(request.clone());
        if let ElicitRequestParams::UrlElicitationParams { url, .. } = &request
            && self.action == ElicitationAction::Accept
        {
            let url = url.clone();
            let value = self.value.clone();
            let remember = self.remember;
            // The user types after the client answered: the server must wait for the page.
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let done = match remember {
                    true => enter_remembering(&url, &value).await,
                    false => enter(&url, &value).await,
                };
                assert_eq!(done.status, 200, "{}", done.html);
            });
        }
        Ok(ElicitResult::new(self.action.clone()))
    }
}

/// The value entered on the page for `name`, whoever and wherever it is for.
pub async fn entered(
    intake: &datasource_mcp::intake::Intake,
    name: &str,
) -> Option<datasource_mcp::secret::SecretString> {
    for (n, binding) in intake.held().into_iter().filter(|(n, _)| n == name) {
        if let Some(value) = intake.value(&n, &binding).await {
            return Some(value);
        }
    }
    None
}
