//! The sandbox's Bigdata.com connectors simulation, directly over HTTP: what the MCP tools
//! depend on (statuses, bodies, the Content API's errors, replace semantics, labels that need
//! not be unique, secrets never shown).

use crate::support::*;
use datasource_mcp::operation::Provider;
use datasource_mcp::sandbox::bigdata::{
    BROKER_RESEARCH_INBOX, DAILY_REPORTS, OLD_INBOX, RESEARCH_SHAREPOINT,
};
use reqwest::Method;
use serde_json::{Value, json};

const UNKNOWN_ID: &str = "0b16da7a-5eed-4000-8000-0000000000ff";

/// A client of a fresh sandbox's Bigdata simulation.
async fn api() -> SandboxApi {
    SandboxApi::start(Provider::Bigdata).await
}

/// Bigdata's calls, by connector id under the connectors root.
trait BigdataApi {
    async fn list(&self) -> Vec<Value>;
    async fn get(&self, id: &str) -> (u16, Value);
    async fn create(&self, body: Value) -> (u16, Value);
    async fn put(&self, id: &str, body: Value) -> (u16, Value);
    async fn delete(&self, id: &str, query: &str) -> (u16, Value);
    async fn sync(&self, id: &str, body: Value) -> (u16, Value);
}

impl BigdataApi for SandboxApi {
    async fn list(&self) -> Vec<Value> {
        let (status, body) = self.send(Method::GET, "", None).await;
        assert_eq!(status, 200, "{body}");
        body["results"].as_array().unwrap().clone()
    }

    async fn get(&self, id: &str) -> (u16, Value) {
        norm(self.send(Method::GET, &format!("/{id}"), None).await)
    }

    async fn create(&self, body: Value) -> (u16, Value) {
        norm(self.send(Method::POST, "", Some(body)).await)
    }

    async fn put(&self, id: &str, body: Value) -> (u16, Value) {
        norm(self.send(Method::PUT, &format!("/{id}"), Some(body)).await)
    }

    async fn delete(&self, id: &str, query: &str) -> (u16, Value) {
        norm(
            self.send(Method::DELETE, &format!("/{id}{query}"), None)
                .await,
        )
    }

    async fn sync(&self, id: &str, body: Value) -> (u16, Value) {
        norm(
            self.send(Method::POST, &format!("/{id}/sync"), Some(body))
                .await,
        )
    }
}

/// Where an error's `requestId` was: each is a fresh random UUID, checked here and then
/// replaced so that whole answers can be compared.
const REQUEST_ID: &str = "<request id>";

/// `answer` with its `requestId` (if it is an error) checked to be a version-4 UUID and
/// replaced by [`REQUEST_ID`].
fn norm((status, mut body): (u16, Value)) -> (u16, Value) {
    if let Some(id) = body.get("requestId").and_then(Value::as_str) {
        let groups: Vec<&str> = id.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "{id}"
        );
        assert!(
            id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
            "{id}"
        );
        assert!(groups[2].starts_with('4'), "version 4: {id}");
        assert!(groups[3].starts_with(['8', '9', 'a', 'b']), "variant: {id}");
        body["requestId"] = json!(REQUEST_ID);
    }
    (status, body)
}

/// The Content API's error for a handler's refusal; the status and code follow from the
/// message.
fn detail(message: &str) -> Value {
    let (status, code) = match message {
        "Invalid or missing API key" => (401, "UNAUTHORIZED"),
        "Invalid connector_id: must be a UUID" => (400, "INVALID_CONNECTOR_ID"),
        "No connector found with this ID, or the user does not have access" => {
            (404, "CONNECTOR_NOT_FOUND")
        }
        "Connector is archived" => (400, "CONNECTOR_ARCHIVED"),
        "type cannot be changed" => (400, "CONNECTOR_TYPE_IMMUTABLE"),
        "config can only be updated for email connectors" => (400, "CONFIG_NOT_UPDATABLE"),
        "Sync is not supported for email connectors" => (400, "SYNC_NOT_SUPPORTED"),
        other => panic!("no such error in the simulation: {other}"),
    };
    json!({"statusCode": status, "message": message, "errorCode": code, "requestId": REQUEST_ID})
}

const NOT_FOUND: &str = "No connector found with this ID, or the user does not have access";

/// A 422 naming the field at fault (`body.config.allowed_emails[1]`) and what is wrong.
fn problem(loc: Value, msg: &str) -> Value {
    let mut path = String::new();
    for part in loc.as_array().unwrap() {
        match part {
            Value::String(key) if path.is_empty() => path.push_str(key),
            Value::String(key) => path.push_str(&format!(".{key}")),
            index => path.push_str(&format!("[{index}]")),
        }
    }
    json!({"statusCode": 422, "message": format!("{path}: {msg}"),
        "errorCode": "VALIDATION_ERROR", "requestId": REQUEST_ID})
}

fn labels(results: &[Value]) -> Vec<&str> {
    results
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn missing_or_wrong_key_gets_401() {
    let api = api().await;
    assert!(api.base.ends_with("/bigdata"), "{}", api.base);
    let id_path = format!("/{DAILY_REPORTS}");
    let sync_path = format!("{id_path}/sync");
    let requests = [
        (Method::GET, "", None),
        (Method::POST, "", Some(r#"{"type":"sharepoint"}"#)),
        (Method::GET, id_path.as_str(), None),
        (Method::PUT, id_path.as_str(), Some(r#"{"label":"x"}"#)),
        (Method::DELETE, id_path.as_str(), None),
        (Method::POST, sync_path.as_str(), Some("{}")),
    ];
    let wrong = format!("{}x", api.credential);
    for (method, path, body) in requests {
        for key in [None, Some("nope"), Some(wrong.as_str())] {
            let answer = norm(api.send_raw(method.clone(), path, key, body).await);
            assert_eq!(
                answer,
                (401, detail("Invalid or missing API key")),
                "{method} {path} with {key:?}"
            );
        }
    }
    // Nothing was changed by the refused requests.
    let (_, reports) = api.get(DAILY_REPORTS).await;
    assert_eq!(reports["archived"], false);
    assert_eq!(api.list().await.len(), 4);
}

/// Errors are the Content API's `{statusCode, message, errorCode, requestId}`, each with its
/// own request id.
#[tokio::test]
async fn errors_have_the_content_api_shape() {
    let api = api().await;
    let (status, first) = api
        .send(Method::GET, &format!("/{}", UNKNOWN_ID), None)
        .await;
    let (_, second) = api
        .send(Method::GET, &format!("/{}", UNKNOWN_ID), None)
        .await;
    assert_eq!(status, 404);
    let keys: Vec<&String> = first.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["errorCode", "message", "requestId", "statusCode"]);
    assert_eq!(first["statusCode"], 404);
    assert_eq!(first["errorCode"], "CONNECTOR_NOT_FOUND");
    assert_eq!(first["message"], NOT_FOUND);
    assert_ne!(first["requestId"], second["requestId"]);
    assert_eq!(norm((status, first)), (404, detail(NOT_FOUND)));
    let (status, unauthorized) = norm(api.send_raw(Method::GET, "", None, None).await);
    assert_eq!(status, 401);
    assert_eq!(unauthorized["errorCode"], "UNAUTHORIZED");
}

#[tokio::test]
async fn list_shows_the_seed_in_creation_order_without_secrets() {
    let api = api().await;
    let results = api.list().await;
    let summary: Vec<(&str, &str, &str, bool)> = results
        .iter()
        .map(|c| {
            (
                c["connector_id"].as_str().unwrap(),
                c["type"].as_str().unwrap(),
                c["label"].as_str().unwrap(),
                c["archived"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                BROKER_RESEARCH_INBOX,
                "email",
                "Broker Research Inbox",
                false
            ),
            (
                DAILY_REPORTS,
                "investment_research",
                "Broker Research - Daily Reports",
                false
            ),
            (
                RESEARCH_SHAREPOINT,
                "sharepoint",
                "Research SharePoint",
                false
            ),
            (OLD_INBOX, "email", "Old Inbox", true),
        ]
    );

    assert_eq!(
        results[1],
        json!({
            "connector_id": DAILY_REPORTS,
            "user_id": "user_sandbox_001",
            "org_id": "org_sandbox_001",
            "share_with_org": false,
            "label": "Broker Research - Daily Reports",
            "type": "investment_research",
            "created_at": "2026-02-11T11:03:09.000000Z",
            "updated_at": "2026-02-11T11:03:09.000000Z",
            "archived": false,
            "description": "Collects daily reports from the broker's research team",
            "config": {"user_id": "acme-research-01"},
            "files_count": 10,
            "last_sync_at": "2026-02-11T11:04:09.000000Z",
            "last_sync_status": "SUCCESS",
            "last_sync_error_msg": null,
            "last_sync_count": 3200,
        })
    );

    let inbox = &results[0];
    assert_eq!(
        inbox["config"]["allowed_emails"],
        json!([
            "research@alpha-securities.example",
            "desk@beta-capital.example"
        ])
    );
    let hash = inbox["config"]["email_hash"].as_str().unwrap();
    assert_eq!(hash.len(), 32);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(inbox["config"]["email"], format!("{hash}@bigdata.com"));
    assert_eq!(inbox["share_with_org"], true);
    assert_eq!(inbox["last_sync_status"], Value::Null);

    let sharepoint = &results[2];
    assert_eq!(sharepoint["config"], json!({}));
    assert_eq!(sharepoint["description"], Value::Null);
    assert_eq!(sharepoint["last_sync_status"], "FAILED");
    assert!(sharepoint["last_sync_error_msg"].is_string());

    let text = serde_json::to_string(&results).unwrap();
    for secret in [
        "user_password",
        "sandbox-broker-pw",
        "session_id",
        "sandbox-sharepoint-session",
    ] {
        assert!(!text.contains(secret), "{secret} shown in the list");
    }
}

#[tokio::test]
async fn get_answers_the_connector_400_for_a_bad_id_and_404_for_an_unknown_one() {
    let api = api().await;
    let (status, inbox) = api.get(BROKER_RESEARCH_INBOX).await;
    assert_eq!(status, 200);
    assert_eq!(inbox, api.list().await[0]);
    // Ids parse as UUIDs do: case and hyphens do not matter.
    let (status, same) = api
        .get(&BROKER_RESEARCH_INBOX.to_uppercase().replace('-', ""))
        .await;
    assert_eq!((status, &same), (200, &inbox));
    let (status, archived) = api.get(OLD_INBOX).await;
    assert_eq!((status, &archived["archived"]), (200, &json!(true)));

    for bad in [
        "not-a-uuid",
        "12345",
        "0b16da7a-5eed-4000-8000-00000000000g",
    ] {
        assert_eq!(
            api.get(bad).await,
            (400, detail("Invalid connector_id: must be a UUID")),
            "{bad}"
        );
    }
    assert_eq!(api.get(UNKNOWN_ID).await, (404, detail(NOT_FOUND)));
}

#[tokio::test]
async fn create_each_type_returns_201_and_never_shows_secrets() {
    let api = api().await;
    let (status, email) = api
        .create(json!({"type": "email", "label": "Analyst Inbox",
            "config": {"allowed_emails": ["analyst@broker.example"]},
            "description": "Analyst notes", "share_with_org": true}))
        .await;
    assert_eq!(status, 201, "{email}");
    let id = email["connector_id"].as_str().unwrap();
    assert_eq!(id, "0b16da7a-5eed-4000-8000-000000000005");
    let hash = email["config"]["email_hash"].as_str().unwrap();
    assert_eq!(
        email,
        json!({
            "connector_id": id,
            "user_id": "user_sandbox_001",
            "org_id": "org_sandbox_001",
            "share_with_org": true,
            "label": "Analyst Inbox",
            "type": "email",
            "created_at": "2026-02-11T11:09:09.000000Z",
            "updated_at": "2026-02-11T11:09:09.000000Z",
            "archived": false,
            "description": "Analyst notes",
            "config": {"allowed_emails": ["analyst@broker.example"],
                "email_hash": hash, "email": format!("{hash}@bigdata.com")},
            "files_count": 0,
            "last_sync_at": null,
            "last_sync_status": null,
            "last_sync_error_msg": null,
            "last_sync_count": null,
        })
    );
    assert_eq!(api.get(id).await, (200, email.clone()));

    let (status, research) = api
        .create(
            json!({"type": "investment_research", "label": "Broker Feed",
            "config": {"user_id": "broker-user", "user_password": "S3NT1NEL-pw"}}),
        )
        .await;
    assert_eq!(status, 201, "{research}");
    assert_eq!(research["config"], json!({"user_id": "broker-user"}));
    // Defaults: no description, not shared.
    assert_eq!(research["description"], Value::Null);
    assert_eq!(research["share_with_org"], false);
    assert_eq!(research["files_count"], 0);

    let (status, sharepoint) = api
        .create(json!({"type": "sharepoint", "label": "Team Site",
            "config": {"session_id": "S3NT1NEL-session"}}))
        .await;
    assert_eq!(status, 201, "{sharepoint}");
    assert_eq!(sharepoint["config"], json!({}));
    assert_eq!(sharepoint["type"], "sharepoint");

    let results = api.list().await;
    assert_eq!(
        labels(&results)[4..],
        ["Analyst Inbox", "Broker Feed", "Team Site"]
    );
    let text = serde_json::to_string(&results).unwrap();
    assert!(!text.contains("S3NT1NEL"), "a secret was shown: {text}");
    assert!(!text.contains("user_password"));
}

#[tokio::test]
async fn create_validation_names_each_field_at_fault() {
    let api = api().await;
    let email_with = |config: Value| json!({"type": "email", "label": "L", "config": config});
    let cases = [
        (
            json!({"label": "L", "config": {}}),
            problem(json!(["body", "type"]), "Field required"),
        ),
        (
            json!({"type": "slack", "label": "L", "config": {}}),
            problem(
                json!(["body", "type"]),
                "Input should be 'email', 'investment_research' or 'sharepoint'",
            ),
        ),
        (
            json!({"type": "sharepoint", "config": {"session_id": "s"}}),
            problem(json!(["body", "label"]), "Field required"),
        ),
        (
            json!({"type": "sharepoint", "label": "", "config": {"session_id": "s"}}),
            problem(
                json!(["body", "label"]),
                "String should have at least 1 character",
            ),
        ),
        (
            json!({"type": "sharepoint", "label": 7, "config": {"session_id": "s"}}),
            problem(json!(["body", "label"]), "Input should be a valid string"),
        ),
        (
            json!({"type": "sharepoint", "label": "L"}),
            problem(json!(["body", "config"]), "Field required"),
        ),
        (
            json!({"type": "sharepoint", "label": "L", "config": "s"}),
            problem(
                json!(["body", "config"]),
                "Input should be a valid dictionary",
            ),
        ),
        (
            email_with(json!({})),
            problem(
                json!(["body", "config", "allowed_emails"]),
                "Field required",
            ),
        ),
        (
            email_with(json!({"allowed_emails": []})),
            problem(
                json!(["body", "config", "allowed_emails"]),
                "List should have at least 1 item after validation, not 0",
            ),
        ),
        (
            email_with(json!({"allowed_emails": "a@b.example"})),
            problem(
                json!(["body", "config", "allowed_emails"]),
                "Input should be a valid list",
            ),
        ),
        (
            email_with(json!({"allowed_emails": ["ok@b.example", "not-an-address"]})),
            problem(
                json!(["body", "config", "allowed_emails", 1]),
                "value is not a valid email address: The email address is not valid.",
            ),
        ),
        (
            email_with(json!({"allowed_emails": ["ok@b.example"], "email": "x@bigdata.com"})),
            problem(
                json!(["body", "config", "email"]),
                "Extra inputs are not permitted",
            ),
        ),
        (
            json!({"type": "investment_research", "label": "L", "config": {"user_password": "p"}}),
            problem(json!(["body", "config", "user_id"]), "Field required"),
        ),
        (
            json!({"type": "investment_research", "label": "L",
                "config": {"user_id": "u", "user_password": ""}}),
            problem(
                json!(["body", "config", "user_password"]),
                "String should have at least 1 character",
            ),
        ),
        (
            json!({"type": "sharepoint", "label": "L", "config": {}}),
            problem(json!(["body", "config", "session_id"]), "Field required"),
        ),
        (
            json!({"type": "sharepoint", "label": "L",
                "config": {"session_id": "s", "site": "x"}}),
            problem(
                json!(["body", "config", "site"]),
                "Extra inputs are not permitted",
            ),
        ),
        (
            json!({"type": "sharepoint", "label": "L", "config": {"session_id": "s"},
                "description": 5}),
            problem(
                json!(["body", "description"]),
                "Input should be a valid string",
            ),
        ),
        (
            json!({"type": "sharepoint", "label": "L", "config": {"session_id": "s"},
                "share_with_org": "yes"}),
            problem(
                json!(["body", "share_with_org"]),
                "Input should be a valid boolean",
            ),
        ),
        (
            json!(["not", "an", "object"]),
            problem(
                json!(["body"]),
                "Input should be a valid dictionary or object to extract fields from",
            ),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(api.create(body.clone()).await, (422, expected), "{body}");
    }

    // Every problem at once, each field named.
    let (status, all) = api
        .create(json!({"type": "investment_research", "label": "", "config": {}}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        all["message"],
        "body.label: String should have at least 1 character; \
         body.config.user_id: Field required; body.config.user_password: Field required"
    );

    assert_eq!(
        norm(
            api.send_raw(
                Method::POST,
                "",
                Some(&api.credential),
                Some(r#"{"type": "#)
            )
            .await
        ),
        (422, problem(json!(["body", 9]), "JSON decode error"))
    );
    assert_eq!(
        norm(
            api.send_raw(
                Method::POST,
                "",
                Some(&api.credential),
                Some(r#"{"type": x}"#)
            )
            .await
        ),
        (422, problem(json!(["body", 9]), "JSON decode error"))
    );
    assert_eq!(
        norm(
            api.send_raw(Method::POST, "", Some(&api.credential), None)
                .await
        ),
        (422, problem(json!(["body"]), "Field required"))
    );
    // Nothing was created along the way.
    assert_eq!(api.list().await.len(), 4);
}

/// Nothing documents labels as unique (a label is a "Display name"): a label already used
/// makes another connector, with its own id.
#[tokio::test]
async fn labels_need_not_be_unique() {
    let api = api().await;
    let sharepoint =
        |label: &str| json!({"type": "sharepoint", "label": label, "config": {"session_id": "s"}});
    let (status, first) = api.create(sharepoint("Broker Research Inbox")).await;
    assert_eq!(status, 201, "{first}");
    let (status, second) = api.create(sharepoint("Broker Research Inbox")).await;
    assert_eq!(status, 201, "{second}");
    let ids = [
        BROKER_RESEARCH_INBOX,
        first["connector_id"].as_str().unwrap(),
        second["connector_id"].as_str().unwrap(),
    ];
    assert_eq!(
        ids,
        [
            BROKER_RESEARCH_INBOX,
            "0b16da7a-5eed-4000-8000-000000000005",
            "0b16da7a-5eed-4000-8000-000000000006"
        ]
    );
    let (status, _) = api.create(sharepoint("Old Inbox")).await;
    assert_eq!(status, 201);
    assert_eq!(
        labels(&api.list().await),
        [
            "Broker Research Inbox",
            "Broker Research - Daily Reports",
            "Research SharePoint",
            "Old Inbox",
            "Broker Research Inbox",
            "Broker Research Inbox",
            "Old Inbox"
        ]
    );
    // Each is its own connector: one changes, the others do not.
    let (status, renamed) = api.put(ids[2], json!({"label": "Team Site"})).await;
    assert_eq!((status, &renamed["label"]), (200, &json!("Team Site")));
    assert_eq!(
        api.get(ids[1]).await.1["label"],
        "Broker Research Inbox",
        "same label, other connector"
    );
}

#[tokio::test]
async fn put_replaces_what_it_is_given_and_resets_what_it_is_not() {
    let api = api().await;
    let (_, before) = api.get(BROKER_RESEARCH_INBOX).await;
    assert_eq!(before["share_with_org"], true);
    assert!(before["description"].is_string());

    // Only a label: description and share_with_org go back to their defaults.
    let (status, after) = api
        .put(BROKER_RESEARCH_INBOX, json!({"label": "Broker Inbox"}))
        .await;
    assert_eq!(status, 200, "{after}");
    let mut expected = before.clone();
    expected["label"] = json!("Broker Inbox");
    expected["description"] = json!("");
    expected["share_with_org"] = json!(false);
    expected["updated_at"] = json!("2026-02-11T11:09:09.000000Z");
    assert_eq!(after, expected, "config and the rest are kept");
    assert_eq!(api.get(BROKER_RESEARCH_INBOX).await, (200, after.clone()));

    // Everything, the same type named, and a new list of senders.
    let (status, full) = api
        .put(
            BROKER_RESEARCH_INBOX,
            json!({"label": "Broker Inbox", "description": "All brokers", "share_with_org": true,
                "type": "email", "config": {"allowed_emails": ["new@broker.example"]}}),
        )
        .await;
    assert_eq!(status, 200, "{full}");
    assert_eq!(full["description"], "All brokers");
    assert_eq!(full["share_with_org"], true);
    assert_eq!(
        full["config"]["allowed_emails"],
        json!(["new@broker.example"])
    );
    assert_eq!(
        full["config"]["email"], before["config"]["email"],
        "the inbox stays"
    );
    assert_eq!(full["updated_at"], "2026-02-11T11:10:09.000000Z");
    assert_eq!(full["created_at"], before["created_at"]);

    // investment_research: label and description change, config kept, password still hidden.
    let (status, research) = api
        .put(
            DAILY_REPORTS,
            json!({"label": "Daily Reports", "description": "d", "share_with_org": true}),
        )
        .await;
    assert_eq!(status, 200, "{research}");
    assert_eq!(research["config"], json!({"user_id": "acme-research-01"}));
    assert_eq!(research["last_sync_status"], "SUCCESS");
    // Labels are not unique: another connector's label, archived or not, is fine.
    let (status, _) = api
        .put(DAILY_REPORTS, json!({"label": "Broker Inbox"}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = api
        .put(RESEARCH_SHAREPOINT, json!({"label": "Old Inbox"}))
        .await;
    assert_eq!(status, 200);
    // A description may be null.
    let (status, nulled) = api
        .put(
            RESEARCH_SHAREPOINT,
            json!({"label": "Old Inbox", "description": null}),
        )
        .await;
    assert_eq!((status, &nulled["description"]), (200, &Value::Null));
}

#[tokio::test]
async fn put_refuses_what_cannot_change() {
    let api = api().await;
    let cases = [
        (
            DAILY_REPORTS,
            json!({"description": "no label"}),
            422,
            problem(json!(["body", "label"]), "Field required"),
        ),
        (
            DAILY_REPORTS,
            json!({"label": ""}),
            422,
            problem(
                json!(["body", "label"]),
                "String should have at least 1 character",
            ),
        ),
        (
            DAILY_REPORTS,
            json!({"label": "L", "share_with_org": null}),
            422,
            problem(
                json!(["body", "share_with_org"]),
                "Input should be a valid boolean",
            ),
        ),
        (
            DAILY_REPORTS,
            json!({"label": "L", "type": "email"}),
            400,
            detail("type cannot be changed"),
        ),
        (
            DAILY_REPORTS,
            json!({"label": "L", "config": {"user_id": "x", "user_password": "y"}}),
            400,
            detail("config can only be updated for email connectors"),
        ),
        (
            RESEARCH_SHAREPOINT,
            json!({"label": "L", "config": {"session_id": "new"}}),
            400,
            detail("config can only be updated for email connectors"),
        ),
        (
            BROKER_RESEARCH_INBOX,
            json!({"label": "L", "config": {"allowed_emails": []}}),
            422,
            problem(
                json!(["body", "config", "allowed_emails"]),
                "List should have at least 1 item after validation, not 0",
            ),
        ),
        (
            BROKER_RESEARCH_INBOX,
            json!({"label": "L", "config": {"allowed_emails": ["a@b.example"], "email_hash": "x"}}),
            422,
            problem(
                json!(["body", "config", "email_hash"]),
                "Extra inputs are not permitted",
            ),
        ),
        (
            OLD_INBOX,
            json!({"label": "Old Inbox"}),
            400,
            detail("Connector is archived"),
        ),
        (
            "not-a-uuid",
            json!({"label": "L"}),
            400,
            detail("Invalid connector_id: must be a UUID"),
        ),
        (UNKNOWN_ID, json!({"label": "L"}), 404, detail(NOT_FOUND)),
    ];
    let before = api.list().await;
    for (id, body, status, expected) in cases {
        assert_eq!(
            api.put(id, body.clone()).await,
            (status, expected),
            "{body}"
        );
    }
    assert_eq!(api.list().await, before, "nothing changed");
}

#[tokio::test]
async fn delete_archives_and_force_delete_removes() {
    let api = api().await;
    let (_, before) = api.get(BROKER_RESEARCH_INBOX).await;
    let (status, archived) = api.delete(BROKER_RESEARCH_INBOX, "").await;
    assert_eq!(status, 200, "{archived}");
    let mut expected = before.clone();
    expected["archived"] = json!(true);
    expected["updated_at"] = json!("2026-02-11T11:09:09.000000Z");
    assert_eq!(archived, expected);
    // Again: the same connector, unchanged.
    assert_eq!(
        api.delete(BROKER_RESEARCH_INBOX, "?force_delete=false")
            .await,
        (200, archived.clone())
    );
    assert_eq!(api.get(BROKER_RESEARCH_INBOX).await, (200, archived));
    assert_eq!(api.list().await.len(), 4, "archived connectors are listed");

    assert_eq!(
        api.delete(DAILY_REPORTS, "?force_delete=true").await,
        (
            202,
            json!({"connector_id": DAILY_REPORTS, "status": "deletion_scheduled"})
        )
    );
    assert_eq!(api.get(DAILY_REPORTS).await, (404, detail(NOT_FOUND)));
    assert_eq!(
        api.delete(DAILY_REPORTS, "?force_delete=true").await,
        (404, detail(NOT_FOUND))
    );
    // An archived connector can be removed too; pydantic's spellings of true are accepted.
    let (status, _) = api.delete(OLD_INBOX, "?force_delete=True").await;
    assert_eq!(status, 202);
    assert_eq!(
        labels(&api.list().await),
        ["Broker Research Inbox", "Research SharePoint"]
    );

    assert_eq!(
        api.delete(RESEARCH_SHAREPOINT, "?force_delete=maybe").await,
        (
            422,
            problem(
                json!(["query", "force_delete"]),
                "Input should be a valid boolean, unable to interpret input",
            )
        )
    );
    assert_eq!(
        api.delete("not-a-uuid", "").await,
        (400, detail("Invalid connector_id: must be a UUID"))
    );
    assert_eq!(api.delete(UNKNOWN_ID, "").await, (404, detail(NOT_FOUND)));
    let (_, sharepoint) = api.get(RESEARCH_SHAREPOINT).await;
    assert_eq!(
        sharepoint["archived"], false,
        "refused deletes change nothing"
    );
}

#[tokio::test]
async fn sync_follows_the_rules_of_each_type() {
    let api = api().await;
    assert_eq!(
        api.sync(DAILY_REPORTS, json!({"date_limit": "2026-01-31"}))
            .await,
        (
            202,
            json!({"connector_id": DAILY_REPORTS, "status": "accepted", "date_limit": "2026-01-31"})
        )
    );
    let (_, reports) = api.get(DAILY_REPORTS).await;
    assert_eq!(reports["last_sync_status"], "PENDING");
    assert_eq!(reports["updated_at"], "2026-02-11T11:03:09.000000Z");

    assert_eq!(
        api.sync(RESEARCH_SHAREPOINT, json!({})).await,
        (
            202,
            json!({"connector_id": RESEARCH_SHAREPOINT, "status": "accepted"})
        )
    );
    let (_, sharepoint) = api.get(RESEARCH_SHAREPOINT).await;
    assert_eq!(sharepoint["last_sync_status"], "PENDING");

    let date_format = problem(
        json!(["body", "date_limit"]),
        "Input should be a valid date in the format YYYY-MM-DD",
    );
    let cases = [
        (
            DAILY_REPORTS,
            json!({}),
            422,
            problem(
                json!(["body", "date_limit"]),
                "Value error, date_limit is required for investment_research connectors",
            ),
        ),
        (
            DAILY_REPORTS,
            json!({"date_limit": "2026-02-30"}),
            422,
            date_format.clone(),
        ),
        (
            DAILY_REPORTS,
            json!({"date_limit": "2026/01/31"}),
            422,
            date_format.clone(),
        ),
        (
            DAILY_REPORTS,
            json!({"date_limit": 20260131}),
            422,
            problem(
                json!(["body", "date_limit"]),
                "Input should be a valid date",
            ),
        ),
        (
            DAILY_REPORTS,
            json!({"date_limit": "2026-01-31", "full": true}),
            422,
            problem(json!(["body", "full"]), "Extra inputs are not permitted"),
        ),
        (
            RESEARCH_SHAREPOINT,
            json!({"date_limit": "2026-01-31"}),
            422,
            problem(
                json!(["body", "date_limit"]),
                "Value error, date_limit must be omitted for sharepoint connectors",
            ),
        ),
        (
            BROKER_RESEARCH_INBOX,
            json!({}),
            400,
            detail("Sync is not supported for email connectors"),
        ),
        (OLD_INBOX, json!({}), 400, detail("Connector is archived")),
        (
            "not-a-uuid",
            json!({}),
            400,
            detail("Invalid connector_id: must be a UUID"),
        ),
        (UNKNOWN_ID, json!({}), 404, detail(NOT_FOUND)),
    ];
    for (id, body, status, expected) in cases {
        assert_eq!(
            api.sync(id, body.clone()).await,
            (status, expected),
            "{id} {body}"
        );
    }
    // The body is required, even for sharepoint.
    assert_eq!(
        norm(
            api.send_raw(
                Method::POST,
                &format!("/{RESEARCH_SHAREPOINT}/sync"),
                Some(&api.credential),
                None
            )
            .await
        ),
        (422, problem(json!(["body"]), "Field required"))
    );

    // Archived connectors of any type do not sync.
    api.delete(RESEARCH_SHAREPOINT, "").await;
    assert_eq!(
        api.sync(RESEARCH_SHAREPOINT, json!({})).await,
        (400, detail("Connector is archived"))
    );
}

#[tokio::test]
async fn every_sandbox_starts_identical_and_keeps_its_own_state() {
    let (a, b) = (api().await, api().await);
    assert_ne!(a.credential, b.credential, "keys are generated per start");
    assert_eq!(
        a.send_raw(Method::GET, "", Some(&b.credential), None)
            .await
            .0,
        401,
        "one sandbox's key does not open another"
    );
    let (la, lb) = (a.list().await, b.list().await);
    assert_eq!(la, lb);

    let body =
        json!({"type": "email", "label": "Same", "config": {"allowed_emails": ["x@y.example"]}});
    let (ca, cb) = (a.create(body.clone()).await, b.create(body).await);
    assert_eq!(ca, cb, "the same request gives the same connector");

    a.delete(DAILY_REPORTS, "?force_delete=true").await;
    assert_eq!(b.get(DAILY_REPORTS).await.0, 200);
    assert_eq!(b.list().await.len(), 5);
}

#[tokio::test]
async fn concurrent_creates_never_share_an_id() {
    let api = api().await;
    let same = |_| {
        api.create(
            json!({"type": "sharepoint", "label": "Contended", "config": {"session_id": "s"}}),
        )
    };
    let answers = futures_util::future::join_all((0..16).map(same)).await;
    assert!(answers.iter().all(|(status, _)| *status == 201));
    let mut ids: Vec<&str> = answers
        .iter()
        .map(|(_, c)| c["connector_id"].as_str().unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 16, "one label, sixteen connectors");
    assert_eq!(api.list().await.len(), 4 + 16);
}
