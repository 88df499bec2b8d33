//! Talking to the sandbox's simulated vendors directly over HTTP, with the credential each
//! vendor expects.

use std::collections::HashMap;

use datasource_mcp::operation::Provider;
use datasource_mcp::sandbox::{Sandbox, VendorAccess};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;

use super::http;

/// What the sandbox gives the server for `provider`: base URL, variables, alternatives.
pub fn access(sandbox: &Sandbox, provider: Provider) -> &VendorAccess {
    sandbox
        .vendors
        .iter()
        .find(|v| v.provider == provider)
        .unwrap_or_else(|| panic!("the sandbox simulates {provider:?}"))
}

/// A client of one simulated vendor. It authenticates as that vendor expects: BigID with the
/// session token its user token is exchanged for, raw; PDC with the access token of a password
/// grant and DataBrain with its service token, both as bearer tokens; Bigdata with its API key
/// in `x-api-key`.
pub struct SandboxApi {
    pub http: reqwest::Client,
    /// The vendor's base URL, as the sandbox gives it to the server.
    pub base: String,
    /// The variables the sandbox sets for the vendor.
    pub env: HashMap<&'static str, String>,
    /// The token or key the credential header carries.
    pub credential: String,
    /// Where, under `base`, the resources the tests work on live.
    root: &'static str,
    header: &'static str,
    scheme: Option<&'static str>,
    /// A sandbox this client started, running for as long as the client.
    _sandbox: Option<Sandbox>,
}

impl SandboxApi {
    /// A client of `provider` on a running sandbox.
    pub async fn new(sandbox: &Sandbox, provider: Provider) -> SandboxApi {
        let vendor = access(sandbox, provider);
        let env: HashMap<_, _> = vendor.env.iter().cloned().collect();
        let http = http();
        let base = vendor.base_url.clone();
        let (root, header, scheme, credential) = match provider {
            Provider::BigId => (
                "",
                "authorization",
                None,
                bigid_session(&http, &base, &env["BIGID_USER_TOKEN"]).await,
            ),
            Provider::Pdc => (
                "",
                "authorization",
                Some("Bearer"),
                pdc_access_token(&http, &base, &env).await,
            ),
            Provider::Bigdata => (
                "/contents/v1/connectors",
                "x-api-key",
                None,
                env["BIGDATA_API_KEY"].clone(),
            ),
            Provider::DataBrain => (
                "/api/v2/datasource",
                "authorization",
                Some("Bearer"),
                env["DATABRAIN_SERVICE_TOKEN"].clone(),
            ),
            Provider::Inventory => panic!("the inventory is no vendor API"),
        };
        SandboxApi {
            http,
            base,
            env,
            credential,
            root,
            header,
            scheme,
            _sandbox: None,
        }
    }

    /// A client of `provider` on a sandbox of its own.
    pub async fn start(provider: Provider) -> SandboxApi {
        let sandbox = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
        let mut api = SandboxApi::new(&sandbox, provider).await;
        api._sandbox = Some(sandbox);
        api
    }

    /// `path` under the vendor's resource root.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}{path}", self.base, self.root)
    }

    /// The credential header's value.
    pub fn auth(&self) -> String {
        match self.scheme {
            Some(scheme) => format!("{scheme} {}", self.credential),
            None => self.credential.clone(),
        }
    }

    /// `request` with the credential header.
    pub fn authed(&self, request: RequestBuilder) -> RequestBuilder {
        request.header(self.header, self.auth())
    }

    /// `method path` with the credential, and `body` as JSON if given.
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let body = body.map(|b| b.to_string());
        self.send_raw(method, path, Some(&self.auth()), body.as_deref())
            .await
    }

    /// `method path` with `auth` as the credential header's value (none: no header) and `body`
    /// as JSON text, sent as given so that it may be malformed.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, self.url(path));
        if let Some(auth) = auth {
            request = request.header(self.header, auth);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        send(request).await
    }
}

/// Sends `request`: the status and the JSON body (an answer that is not JSON fails the test).
pub async fn send(request: RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body: {text:?}"));
    (status, body)
}

/// POSTs `form` to PDC's `/auth`: the status and the JSON answer.
pub async fn pdc_login(http: &reqwest::Client, base: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = http
        .post(format!("{base}/auth"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The access token of PDC's password grant.
async fn pdc_access_token(
    http: &reqwest::Client,
    base: &str,
    env: &HashMap<&str, String>,
) -> String {
    let (status, body) = pdc_login(
        http,
        base,
        &[
            ("username", env["PDC_USERNAME"].as_str()),
            ("password", env["PDC_PASSWORD"].as_str()),
            ("client_id", "pdc-client"),
            ("grant_type", "password"),
            ("scope", "openid profile email"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["accessToken"].as_str().unwrap().to_string()
}

/// The session token BigID gives for its user token.
async fn bigid_session(http: &reqwest::Client, base: &str, user_token: &str) -> String {
    let answer: Value = http
        .get(format!("{base}/refresh-access-token"))
        .header("authorization", user_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["systemToken"].as_str().unwrap().to_string()
}
