//! Bigdata.com against the recording fake: every tool's exact request and result, the
//! read-then-write update, type-dependent sync, validation rules.

use crate::support::*;
use serde_json::{Value, json};

const KEY: &str = "bigdata-key-S3NT1NEL";
const ID: &str = "019a9612-bfad-758c-884e-37dd8c6ad2cb";
const BASE: &str = "/contents/v1/connectors";

/// Bigdata.com: the API key in `x-api-key`, and no `Authorization` header.
const BIGDATA: Vendor = Vendor {
    base_url: ("BIGDATA_BASE_URL", ""),
    credentials: &[("BIGDATA_API_KEY", KEY)],
    exchange: None,
    auth: AuthHeader::raw("x-api-key", KEY).alone(),
};

fn connector(kind: &str) -> Value {
    json!({"connector_id": ID, "user_id": "user_id_001", "org_id": "org_id_001", "share_with_org": true,
        "label": "Broker Research - Daily Reports", "type": kind, "created_at": "2026-02-11T11:01:09.574095Z",
        "updated_at": "2026-02-11T11:01:09.574102Z", "archived": false,
        "description": "Collects daily reports", "config": {}, "files_count": 10,
        "last_sync_at": null, "last_sync_status": "SUCCESS", "last_sync_error_msg": null, "last_sync_count": 3200})
}

#[tokio::test]
async fn list_and_get() {
    let (fake, client) = setup(&BIGDATA).await;
    let list = json!({"results": [connector("sharepoint")]});
    fake.on("GET", BASE, Reply::json(200, list));
    fake.on(
        "GET",
        &format!("{BASE}/{ID}"),
        Reply::json(200, connector("email")),
    );
    let (result, is_error) = call(&client, "bigdata_list_connectors", json!({})).await;
    assert!(!is_error);
    assert_eq!(
        result,
        json!({"items": [{"id": ID, "name": "Broker Research - Daily Reports",
            "type": "sharepoint", "status": "works"}], "total": 1})
    );
    let (result, _) = call(
        &client,
        "bigdata_get_connector",
        json!({"connector_id": ID}),
    )
    .await;
    let mut shown = connector("email");
    shown["connection"] = json!("works");
    assert_eq!(result, shown);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_request(&reqs[0], "GET", BASE, None, BIGDATA.auth, None);
    assert_request(
        &reqs[1],
        "GET",
        &format!("{BASE}/{ID}"),
        None,
        BIGDATA.auth,
        None,
    );
}

#[tokio::test]
async fn create_each_type() {
    let (fake, client) = setup(&BIGDATA).await;
    fake.on("POST", BASE, Reply::json(201, connector("email")));
    let cases = [
        (
            json!({"type": "email", "label": "Inbox", "config": {"allowed_emails": ["a@broker.example", "b@broker.example"]}}),
            json!({"type": "email", "label": "Inbox", "config": {"allowed_emails": ["a@broker.example", "b@broker.example"]}, "share_with_org": false}),
        ),
        (
            json!({"type": "investment_research", "label": "Broker", "description": "Daily", "share_with_org": true,
                "config": {"user_id": "u17", "user_password": SENTINEL}}),
            json!({"type": "investment_research", "label": "Broker", "description": "Daily", "share_with_org": true,
                "config": {"user_id": "u17", "user_password": SENTINEL}}),
        ),
        (
            json!({"type": "sharepoint", "label": "SP", "config": {"session_id": "sess-1"}}),
            json!({"type": "sharepoint", "label": "SP", "config": {"session_id": "sess-1"}, "share_with_org": false}),
        ),
    ];
    fake.on("GET", BASE, Reply::json(200, json!({"results": []})));
    for (args, body) in cases.iter() {
        fake.clear();
        let (result, is_error) = call(&client, "bigdata_create_connector", args.clone()).await;
        assert!(!is_error, "{result}");
        assert_eq!(result, connector("email"));
        // Labels are not unique: the connectors are listed first, so a lost answer can be told
        // apart from a connector that already existed.
        let sent = fake.requests();
        assert_eq!(sent.len(), 2);
        assert_request(&sent[0], "GET", BASE, None, BIGDATA.auth, None);
        assert_request(
            &sent[1],
            "POST",
            BASE,
            None,
            BIGDATA.auth,
            Some(body.clone()),
        );
    }
}

#[tokio::test]
async fn create_schema_shows_the_three_config_shapes() {
    let (_fake, client) = setup(&BIGDATA).await;
    // The full schema, as the tool's reference shows it (the tools list points there).
    let create = datasource_mcp::surfaces::definition::input_schema(
        datasource_mcp::providers::operation("bigdata_create_connector").unwrap(),
        false,
    );
    let config = &create["properties"]["config"];
    let shapes: Vec<&str> = config["anyOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(shapes, ["email", "investment_research", "sharepoint"]);
    assert_eq!(
        config["anyOf"][1]["required"],
        json!(["user_id", "user_password"])
    );
    assert_eq!(
        create["properties"]["type"]["enum"],
        json!(["email", "investment_research", "sharepoint"])
    );
    let tools = client.list_all_tools().await.unwrap();
    let delete = tools
        .iter()
        .find(|t| t.name == "bigdata_delete_connector")
        .unwrap();
    // What force_delete does is said once, in the tool's description.
    let said = delete.description.as_deref().unwrap_or("");
    assert!(
        said.contains("force_delete") && said.contains("for good"),
        "{said}"
    );
    assert_eq!(
        delete.annotations.as_ref().unwrap().destructive_hint,
        Some(true)
    );
}

/// What an agent chains its calls by: a connector_id comes from the list, matched on the
/// label (the row's name); a sync returns at once and is followed on the connector.
#[tokio::test]
async fn descriptions_say_where_ids_come_from_and_how_to_follow_a_sync() {
    let (_fake, client) = setup(&BIGDATA).await;
    let tools = client.list_all_tools().await.unwrap();
    let mut ids = 0;
    for tool in tools.iter().filter(|t| t.name.starts_with("bigdata_")) {
        if let Some(id) = tool.input_schema["properties"].get("connector_id") {
            assert_eq!(
                id["description"], "From bigdata_list_connectors.",
                "{}",
                tool.name
            );
            ids += 1;
        }
    }
    assert!(ids > 0);
    let description = |name: &str| {
        tools
            .iter()
            .find(|t| t.name == name)
            .and_then(|t| t.description.clone())
            .unwrap()
    };
    // A sync returns at once; the description says where to follow it.
    assert_eq!(
        description("bigdata_sync_connector"),
        "Sync an investment_research or sharepoint connector; follow it with bigdata_get_connector."
    );
    assert_eq!(
        description("bigdata_list_connectors"),
        "List Bigdata.com connectors (archived too)."
    );
}

#[tokio::test]
async fn update_reads_first_and_resends_what_was_left_out() {
    let (fake, client) = setup(&BIGDATA).await;
    fake.on(
        "GET",
        &format!("{BASE}/{ID}"),
        Reply::json(200, connector("email")),
    );
    fake.on(
        "PUT",
        &format!("{BASE}/{ID}"),
        Reply::json(200, connector("email")),
    );
    let (result, is_error) = call(
        &client,
        "bigdata_update_connector",
        json!({"connector_id": ID, "label": "Renamed"}),
    )
    .await;
    assert!(!is_error, "{result}");
    assert_eq!(result, connector("email"));
    let (_, is_error) = call(
        &client,
        "bigdata_update_connector",
        json!({"connector_id": ID, "share_with_org": false, "config": {"allowed_emails": ["c@broker.example"]}}),
    )
    .await;
    assert!(!is_error);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 4);
    assert_request(
        &reqs[0],
        "GET",
        &format!("{BASE}/{ID}"),
        None,
        BIGDATA.auth,
        None,
    );
    assert_request(
        &reqs[1],
        "PUT",
        &format!("{BASE}/{ID}"),
        None,
        BIGDATA.auth,
        Some(
            json!({"label": "Renamed", "description": "Collects daily reports", "share_with_org": true}),
        ),
    );
    assert_request(
        &reqs[3],
        "PUT",
        &format!("{BASE}/{ID}"),
        None,
        BIGDATA.auth,
        Some(
            json!({"label": "Broker Research - Daily Reports", "description": "Collects daily reports",
            "share_with_org": false, "config": {"allowed_emails": ["c@broker.example"]}}),
        ),
    );
}

/// A connector created without a description reads `description: null`. The PUT replaces,
/// and an omitted description becomes "": the null is sent back as it was read, so an update
/// that does not name the description leaves it null.
#[tokio::test]
async fn update_keeps_a_null_description_null() {
    let (fake, client) = setup(&BIGDATA).await;
    let mut current = connector("sharepoint");
    current["description"] = json!(null);
    current["share_with_org"] = json!(false);
    fake.on(
        "GET",
        &format!("{BASE}/{ID}"),
        Reply::json(200, current.clone()),
    );
    let mut renamed = current.clone();
    renamed["label"] = json!("Research SharePoint (EU)");
    fake.on(
        "PUT",
        &format!("{BASE}/{ID}"),
        Reply::json(200, renamed.clone()),
    );
    let (result, is_error) = call(
        &client,
        "bigdata_update_connector",
        json!({"connector_id": ID, "label": "Research SharePoint (EU)"}),
    )
    .await;
    assert!(!is_error, "{result}");
    assert_eq!(result, renamed);
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2, "{reqs:#?}");
    assert_request(
        &reqs[0],
        "GET",
        &format!("{BASE}/{ID}"),
        None,
        BIGDATA.auth,
        None,
    );
    assert_request(
        &reqs[1],
        "PUT",
        &format!("{BASE}/{ID}"),
        None,
        BIGDATA.auth,
        Some(
            json!({"label": "Research SharePoint (EU)", "description": null, "share_with_org": false}),
        ),
    );
}

#[tokio::test]
async fn update_refuses_a_config_for_non_email_after_the_read() {
    let (fake, client) = setup(&BIGDATA).await;
    fake.on(
        "GET",
        &format!("{BASE}/{ID}"),
        Reply::json(200, connector("investment_research")),
    );
    let (result, is_error) = call(
        &client,
        "bigdata_update_connector",
        json!({"connector_id": ID, "config": {"allowed_emails": ["c@broker.example"]}}),
    )
    .await;
    assert!(is_error);
    assert_eq!(
        result,
        json!({"error": {"provider": "bigdata", "code": "INVALID_ARGUMENT", "field": "config",
            "message": "`config`: only email connectors take a config update (create a new connector instead)",
            "hint": "fix `config` and call again; nothing was changed"}})
    );
    assert!(fake.requests().iter().all(|r| r.method == "GET"));
}

#[tokio::test]
async fn delete_archives_by_default_and_forces_on_request() {
    let (fake, client) = setup(&BIGDATA).await;
    let mut archived = connector("email");
    archived["archived"] = json!(true);
    fake.on(
        "DELETE",
        &format!("{BASE}/{ID}"),
        Reply::json(200, archived.clone()),
    );
    let (result, _) = call(
        &client,
        "bigdata_delete_connector",
        json!({"connector_id": ID}),
    )
    .await;
    assert_eq!(result, archived);
    fake.on(
        "DELETE",
        &format!("{BASE}/{ID}"),
        Reply::json(
            202,
            json!({"connector_id": ID, "status": "deletion_scheduled"}),
        ),
    );
    let (result, _) = call(
        &client,
        "bigdata_delete_connector",
        json!({"connector_id": ID, "force_delete": true}),
    )
    .await;
    assert_eq!(
        result,
        json!({"connector_id": ID, "status": "deletion_scheduled"})
    );
    let reqs = fake.requests();
    assert_request(
        &reqs[0],
        "DELETE",
        &format!("{BASE}/{ID}"),
        Some("force_delete=false"),
        BIGDATA.auth,
        None,
    );
    assert_request(
        &reqs[1],
        "DELETE",
        &format!("{BASE}/{ID}"),
        Some("force_delete=true"),
        BIGDATA.auth,
        None,
    );
}

#[tokio::test]
async fn sync_depends_on_the_connector_type() {
    let (fake, client) = setup(&BIGDATA).await;
    let sync = format!("{BASE}/{ID}/sync");
    fake.on(
        "POST",
        &sync,
        Reply::json(
            202,
            json!({"connector_id": ID, "status": "accepted", "date_limit": "2026-01-01"}),
        ),
    );

    fake.on(
        "GET",
        &format!("{BASE}/{ID}"),
        Reply::json(200, connector("investment_research")),
    );
    let (result, is_error) = call(
        &client,
        "bigdata_sync_connector",
        json!({"connector_id": ID, "date_limit": "2026-01-01"}),
    )
    .await;
    assert!(!is_error);
    assert_eq!(
        result,
        json!({"connector_id": ID, "status": "accepted", "date_limit": "2026-01-01"})
    );
    let (result, is_error) = call(
        &client,
        "bigdata_sync_connector",
        json!({"connector_id": ID}),
    )
    .await;
    assert!(is_error);
    assert_eq!(result["error"]["field"], "date_limit");
    assert_eq!(
        result["error"]["message"],
        "`date_limit`: is required for investment_research connectors"
    );

    fake.on(
        "GET",
        &format!("{BASE}/{ID}"),
        Reply::json(200, connector("sharepoint")),
    );
    let (_, is_error) = call(
        &client,
        "bigdata_sync_connector",
        json!({"connector_id": ID}),
    )
    .await;
    assert!(!is_error);
    let (result, is_error) = call(
        &client,
        "bigdata_sync_connector",
        json!({"connector_id": ID, "date_limit": "2026-01-01"}),
    )
    .await;
    assert!(is_error);
    assert_eq!(
        result["error"]["message"],
        "`date_limit`: must be omitted for sharepoint connectors"
    );

    fake.on(
        "GET",
        &format!("{BASE}/{ID}"),
        Reply::json(200, connector("email")),
    );
    let (result, is_error) = call(
        &client,
        "bigdata_sync_connector",
        json!({"connector_id": ID}),
    )
    .await;
    assert!(is_error);
    assert_eq!(result["error"]["field"], "connector_id");

    let posts: Vec<Recorded> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 2, "only the two valid syncs were sent");
    assert_request(
        &posts[0],
        "POST",
        &sync,
        None,
        BIGDATA.auth,
        Some(json!({"date_limit": "2026-01-01"})),
    );
    assert_request(
        &posts[1],
        "POST",
        &sync,
        None,
        BIGDATA.auth,
        Some(json!({})),
    );
}

#[tokio::test]
async fn validation_errors_send_nothing() {
    let (fake, client) = setup(&BIGDATA).await;
    let email = |emails: Value| json!({"type": "email", "label": "L", "config": {"allowed_emails": emails}});
    let cases = [
        (
            "bigdata_list_connectors",
            json!({"limit": 0}),
            "limit",
            "must be between 1 and 1000",
        ),
        (
            "bigdata_list_connectors",
            json!({"limit": 1001}),
            "limit",
            "must be between 1 and 1000",
        ),
        (
            "bigdata_list_connectors",
            json!({"skip": "2"}),
            "skip",
            "wrong type: expected a whole number ≥ 0",
        ),
        (
            "bigdata_list_connectors",
            json!({"detail": true}),
            "detail",
            "must be compact or full",
        ),
        (
            "bigdata_list_connectors",
            json!({"fields": [["label"]]}),
            "fields[0]",
            "must be a field name",
        ),
        (
            "bigdata_list_connectors",
            json!({"archived": true}),
            "archived",
            "is not a known argument",
        ),
        (
            "bigdata_get_connector",
            json!({"connector_id": "not-a-uuid"}),
            "connector_id",
            "must be a UUID",
        ),
        (
            "bigdata_get_connector",
            json!({"connector_id": "019a9612-bfad-758c-884e-37dd8c6ad2c"}),
            "connector_id",
            "must be a UUID",
        ),
        (
            "bigdata_create_connector",
            json!({"type": "fax", "label": "L", "config": {}}),
            "type",
            "must be one of",
        ),
        (
            "bigdata_create_connector",
            json!({"type": "email", "label": " ", "config": {"allowed_emails": ["a@b.example"]}}),
            "label",
            "must not be empty",
        ),
        (
            "bigdata_create_connector",
            json!({"type": "email", "label": "L", "config": {}}),
            "config.allowed_emails",
            "is required",
        ),
        (
            "bigdata_create_connector",
            email(json!([])),
            "config.allowed_emails",
            "must hold at least one item",
        ),
        (
            "bigdata_create_connector",
            email(json!(["ok@b.example", "nope"])),
            "config.allowed_emails[1]",
            "must be an e-mail address",
        ),
        (
            "bigdata_create_connector",
            email(json!("a@b.example")),
            "config.allowed_emails",
            "must be a list of e-mail addresses",
        ),
        (
            "bigdata_create_connector",
            json!({"type": "email", "label": "L", "config": {"allowed_emails": ["a@b.example"], "user_id": "x"}}),
            "config.user_id",
            "is not accepted for email connectors",
        ),
        (
            "bigdata_create_connector",
            json!({"type": "investment_research", "label": "L", "config": {"user_id": "u"}}),
            "config.user_password",
            "is required",
        ),
        (
            "bigdata_create_connector",
            json!({"type": "investment_research", "label": "L", "config": {"user_id": 5, "user_password": "p"}}),
            "config.user_id",
            "must be a string",
        ),
        (
            "bigdata_create_connector",
            json!({"type": "sharepoint", "label": "L", "config": {}}),
            "config.session_id",
            "is required",
        ),
        (
            "bigdata_create_connector",
            json!({"type": "sharepoint", "label": "L", "config": {"session_id": "s", "site": "x"}}),
            "config.site",
            "is not accepted for sharepoint connectors",
        ),
        (
            "bigdata_create_connector",
            json!({"type": "email", "label": "L"}),
            "config",
            "is required",
        ),
        (
            "bigdata_update_connector",
            json!({"connector_id": ID}),
            "arguments",
            "name at least one of",
        ),
        (
            "bigdata_update_connector",
            json!({"connector_id": ID, "label": ""}),
            "label",
            "must not be empty",
        ),
        (
            "bigdata_update_connector",
            json!({"connector_id": ID, "config": {"allowed_emails": ["x"]}}),
            "config.allowed_emails[0]",
            "must be an e-mail address",
        ),
        (
            "bigdata_update_connector",
            json!({"connector_id": ID, "config": {"session_id": "s"}}),
            "config.session_id",
            "is not a known argument",
        ),
        (
            "bigdata_delete_connector",
            json!({"connector_id": "x"}),
            "connector_id",
            "must be a UUID",
        ),
        (
            "bigdata_delete_connector",
            json!({"connector_id": ID, "force_delete": "yes"}),
            "force_delete",
            "wrong type",
        ),
        (
            "bigdata_sync_connector",
            json!({"connector_id": ID, "date_limit": "2026-02-30"}),
            "date_limit",
            "must be a date YYYY-MM-DD",
        ),
        (
            "bigdata_sync_connector",
            json!({"connector_id": ID, "date_limit": "01/02/2026"}),
            "date_limit",
            "must be a date YYYY-MM-DD",
        ),
    ];
    for (tool, args, field, reason) in cases {
        assert_invalid(&client, "bigdata", tool, args, field, reason).await;
    }
    assert!(
        fake.requests().is_empty(),
        "nothing sent: {:#?}",
        fake.requests()
    );
}

/// The Content API's errors (`{statusCode, message, errorCode, requestId}`) and other Bigdata
/// APIs' (`{errors: [{message}], metadata: {request_id}}`) both come through: message, code,
/// and the request id for Bigdata's support.
#[tokio::test]
async fn both_bigdata_error_shapes_are_read() {
    let (fake, client) = setup(&BIGDATA).await;
    fake.once(
        "GET",
        &format!("{BASE}/{ID}"),
        Reply::json(
            404,
            json!({"statusCode": 404, "message": "No connector found with this ID, or the user does not have access",
                "errorCode": "CONNECTOR_NOT_FOUND", "requestId": "req-123"}),
        ),
    );
    let (result, _) = call(
        &client,
        "bigdata_get_connector",
        json!({"connector_id": ID}),
    )
    .await;
    assert_eq!(
        result["error"],
        json!({"provider": "bigdata", "status": 404, "code": "NOT_FOUND",
            "message": "No connector found with this ID, or the user does not have access",
            "hint": "nothing with that name or id exists: list first to see what does",
            "vendor_request_id": "req-123", "vendor_code": "CONNECTOR_NOT_FOUND"})
    );
    fake.once(
        "GET",
        &format!("{BASE}/{ID}"),
        Reply::json(
            400,
            json!({"errors": [{"message": "1 validation error: connector_id"}], "metadata": {"request_id": "req-456"}}),
        ),
    );
    let (result, _) = call(
        &client,
        "bigdata_get_connector",
        json!({"connector_id": ID}),
    )
    .await;
    assert_eq!(
        result["error"]["message"],
        "1 validation error: connector_id"
    );
    assert_eq!(result["error"]["vendor_request_id"], "req-456");
}

// ---- list pages: compact rows, total, next, fields, detail, the result budget ---------------

/// A connector as Bigdata lists it, with its last sync.
fn synced(n: u32, status: Option<&str>, at: Option<&str>, error: Option<&str>) -> Value {
    let mut c = connector(["email", "investment_research", "sharepoint"][n as usize % 3]);
    c["connector_id"] = json!(format!("019a9612-bfad-758c-884e-37dd8c6ad2{n:02}"));
    c["label"] = json!(format!("Connector {n}"));
    c["last_sync_status"] = json!(status);
    c["last_sync_at"] = json!(at);
    c["last_sync_error_msg"] = json!(error);
    c
}

/// Connectors in every state: synced, failed, syncing, never synced, archived.
fn connectors() -> Vec<Value> {
    let mut archived = synced(4, Some("SUCCESS"), Some("2026-01-05T08:00:00Z"), None);
    archived["archived"] = json!(true);
    vec![
        synced(0, Some("SUCCESS"), Some("2026-02-11T11:05:00Z"), None),
        synced(
            1,
            Some("FAILED"),
            Some("2026-02-10T09:00:00Z"),
            Some("Invalid credentials for user acme-research-01"),
        ),
        synced(2, Some("RUNNING"), None, None),
        synced(3, None, None, None),
        archived,
    ]
}

fn connector_rows() -> Vec<Value> {
    let id = |n: u32| format!("019a9612-bfad-758c-884e-37dd8c6ad2{n:02}");
    vec![
        json!({"id": id(0), "name": "Connector 0", "type": "email", "status": "works",
            "last_sync_at": "2026-02-11T11:05:00Z"}),
        json!({"id": id(1), "name": "Connector 1", "type": "investment_research",
            "status": "fails", "last_sync_at": "2026-02-10T09:00:00Z",
            "error": "Invalid credentials for user acme-research-01",
            "remedy": "create an investment_research connector with the right broker login, then archive this one (bigdata_delete_connector)"}),
        json!({"id": id(2), "name": "Connector 2", "type": "sharepoint", "status": "syncing"}),
        json!({"id": id(3), "name": "Connector 3", "type": "email", "status": "untested"}),
        json!({"id": id(4), "name": "Connector 4", "type": "investment_research",
            "status": "archived", "last_sync_at": "2026-01-05T08:00:00Z"}),
    ]
}

/// Bigdata lists every connector at once: the server cuts the page, knows the total, and
/// `next` walks to the end. No request carries paging.
#[tokio::test]
async fn list_is_paged_by_the_server_into_compact_rows() {
    let (fake, client) = setup(&BIGDATA).await;
    fake.on(
        "GET",
        BASE,
        Reply::json(200, json!({"results": connectors()})),
    );
    let rows = connector_rows();
    let (first, is_error) = call(&client, "bigdata_list_connectors", json!({"limit": 2})).await;
    assert!(!is_error, "{first}");
    assert_eq!(
        first,
        json!({"items": rows[0..2], "total": 5, "next": {"limit": 2, "skip": 2}})
    );
    let (second, _) = call(&client, "bigdata_list_connectors", first["next"].clone()).await;
    assert_eq!(
        second,
        json!({"items": rows[2..4], "total": 5, "next": {"limit": 2, "skip": 4}})
    );
    let (last, _) = call(&client, "bigdata_list_connectors", second["next"].clone()).await;
    assert_eq!(last, json!({"items": rows[4..5], "total": 5}));
    let (all, _) = call(&client, "bigdata_list_connectors", json!({})).await;
    assert_eq!(all, json!({"items": rows, "total": 5}));
    let (past, _) = call(&client, "bigdata_list_connectors", json!({"skip": 9})).await;
    assert_eq!(past, json!({"items": [], "total": 5}));
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 5);
    for r in &reqs {
        assert_request(r, "GET", BASE, None, BIGDATA.auth, None);
    }
}

/// `fields` gives only the named fields (dotted paths), `detail: full` Bigdata's objects
/// (secrets in their config masked); both carry into `next`.
#[tokio::test]
async fn list_fields_and_full_detail() {
    let (fake, client) = setup(&BIGDATA).await;
    let mut all = connectors();
    all[1]["config"] = json!({"user_id": "acme-research-01", "user_password": SENTINEL});
    fake.on("GET", BASE, Reply::json(200, json!({"results": all})));
    let (picked, _) = call(
        &client,
        "bigdata_list_connectors",
        json!({"fields": ["label", "config.user_id", "last_sync_count"], "skip": 1, "limit": 2}),
    )
    .await;
    assert_eq!(
        picked,
        json!({"items": [
            {"label": "Connector 1", "config.user_id": "acme-research-01", "last_sync_count": 3200},
            {"label": "Connector 2", "last_sync_count": 3200}],
            "total": 5,
            "next": {"fields": ["label", "config.user_id", "last_sync_count"], "skip": 3, "limit": 2}})
    );
    let (full, _) = call(
        &client,
        "bigdata_list_connectors",
        json!({"detail": "full", "limit": 2}),
    )
    .await;
    let mut masked = all[1].clone();
    masked["config"]["user_password"] = json!("***");
    assert_eq!(
        full,
        json!({"items": [all[0], masked], "total": 5,
            "next": {"detail": "full", "limit": 2, "skip": 2}})
    );
    assert!(!full.to_string().contains(SENTINEL));
    let (next, _) = call(&client, "bigdata_list_connectors", full["next"].clone()).await;
    assert_eq!(
        next,
        json!({"items": all[2..4], "total": 5, "next": {"detail": "full", "limit": 2, "skip": 4}})
    );
    for r in &fake.requests() {
        assert_request(r, "GET", BASE, None, BIGDATA.auth, None);
    }
}

/// Three hundred failing connectors with long sync errors: the page the budget leaves keeps
/// whole rows, and `next` starts after the last one kept.
#[tokio::test]
async fn list_cut_by_the_result_budget() {
    let (fake, client) = setup(&BIGDATA).await;
    let error = |n: u32| {
        format!(
            "Sync {n:03} failed: {}",
            "the SharePoint session expired; ".repeat(12)
        )
    };
    let failing = |n: u32| {
        let mut c = synced(
            n % 100,
            Some("FAILED"),
            Some("2026-02-10T09:00:00Z"),
            Some(&error(n)),
        );
        c["connector_id"] = json!(format!("019a9612-bfad-758c-884e-37dd8c6a{n:04}"));
        c["label"] = json!(format!("Connector {n:03}"));
        c
    };
    let row = |n: u32| {
        let kind = ["email", "investment_research", "sharepoint"][(n % 100) as usize % 3];
        let mut row = json!({"id": format!("019a9612-bfad-758c-884e-37dd8c6a{n:04}"),
            "name": format!("Connector {n:03}"),
            "type": kind,
            "status": "fails", "last_sync_at": "2026-02-10T09:00:00Z",
            "error": error(n)});
        let remedy = match kind {
            "sharepoint" => Some(
                "ask support@bigdata.com for a new session_id, create a sharepoint connector with it, then archive this one (bigdata_delete_connector)",
            ),
            "investment_research" => Some(
                "create an investment_research connector with the right broker login, then archive this one (bigdata_delete_connector)",
            ),
            _ => None,
        };
        if let Some(remedy) = remedy {
            row["remedy"] = json!(remedy);
        }
        row
    };
    let all: Vec<_> = (0..300).map(failing).collect();
    fake.on("GET", BASE, Reply::json(200, json!({"results": all})));
    let rows: Vec<_> = (0..300).map(row).collect();
    let called = json!({"skip": 20, "limit": 250});
    let (result, text_len) = call_page(&client, "bigdata_list_connectors", called.clone()).await;
    let kept = assert_cut(
        &result,
        text_len,
        &rows[20..270],
        Some(300),
        &called,
        20,
        250,
    );
    assert!(kept > 50, "{kept}");
    let (next, text_len) =
        call_page(&client, "bigdata_list_connectors", result["next"].clone()).await;
    assert_eq!(next["items"][0], row(20 + kept as u32));
    assert_cut(
        &next,
        text_len,
        &rows[20 + kept..(270 + kept).min(300)],
        Some(300),
        &called,
        20 + kept as u64,
        250,
    );
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_request(r, "GET", BASE, None, BIGDATA.auth, None);
    }
}

// ---- bugs found in list pages, kept as regressions ------------------------------------------

/// The last page, cut by the budget: `next` did not exist before the cut and is added after
/// it, unmeasured, with all the call's arguments; long arguments push the result over the
/// budget.
#[tokio::test]

async fn regression_a_next_added_by_the_cut_stays_within_the_budget() {
    let (fake, client) = setup(&BIGDATA).await;
    let all: Vec<Value> = (0..100)
        .map(|i| {
            json!({"connector_id": format!("c{i}"), "label": format!("l{i}"),
                "description": "d".repeat(2_000)})
        })
        .collect();
    fake.on("GET", BASE, Reply::json(200, json!({"results": all})));
    let mut fields: Vec<String> = (0..40)
        .map(|i| format!("config.some_rather_long_field_name_number_{i:03}.value"))
        .collect();
    fields.insert(0, "description".into());
    let (result, text_len) = call_page(
        &client,
        "bigdata_list_connectors",
        json!({"skip": 50, "limit": 50, "fields": fields}),
    )
    .await;
    assert!(result.get("truncated").is_some());
    assert!(text_len <= BUDGET, "{text_len} bytes");
}
