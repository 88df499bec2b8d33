//! Prompts (guided workflows), resources (the generated tool reference), completion of prompt
//! arguments, and MCP log messages, through an MCP client.

#![allow(deprecated)] // MCP logging: deprecated in 2026-07-28, current in 2025-11-25.

use std::sync::{Arc, Mutex};

use crate::support::*;
use datasource_mcp::engine::Engine;
use datasource_mcp::surfaces::server::{DataSourceServer, Selection};
use datasource_mcp::upstream::UpstreamSettings;
use datasource_mcp::{operation::Provider, providers};
use rmcp::model::{
    GetPromptRequestParams, LoggingLevel, LoggingMessageNotificationParam,
    ReadResourceRequestParams, ResourceContents, SetLevelRequestParams,
};
use rmcp::service::NotificationContext;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::json;

const ALL: &[(&str, &str)] = &[
    ("BIGID_BASE_URL", "https://bigid.example/api/v1"),
    ("BIGID_ACCESS_TOKEN", "t"),
    ("PDC_BASE_URL", "https://pdc.example/api/public/v1"),
    ("PDC_ACCESS_TOKEN", "t"),
    ("BIGDATA_API_KEY", "k"),
    ("DATABRAIN_SERVICE_TOKEN", "t"),
];

fn text_of(result: &rmcp::model::GetPromptResult) -> String {
    serde_json::to_value(&result.messages).unwrap()[0]["content"]["text"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn prompts_are_listed_rendered_and_completed() {
    let client = client(ALL).await;
    let prompts = client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["onboard_data_source", "audit_data_sources"]);
    let onboard = &prompts[0];
    let args = onboard.arguments.as_ref().unwrap();
    assert_eq!(args[0].name, "provider");
    assert_eq!(args[0].required, Some(true));

    let mut arguments = serde_json::Map::new();
    arguments.insert("provider".into(), json!("bigid"));
    arguments.insert("type".into(), json!("rdb-mysql"));
    let result = client
        .get_prompt(GetPromptRequestParams::new("onboard_data_source").with_arguments(arguments))
        .await
        .unwrap();
    let text = text_of(&result);
    let order = [
        "bigid_get_connector_template",
        "bigid_test_data_source_connection",
        "bigid_create_data_source with dry_run: true",
        "bigid_get_data_source",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|t| text.find(t).unwrap_or_else(|| panic!("{t} in {text}")))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "template → test → create → verify: {text}"
    );
    assert!(text.contains("${secret:"), "secret references suggested");

    let audit = client
        .get_prompt(GetPromptRequestParams::new("audit_data_sources"))
        .await
        .unwrap();
    let text = text_of(&audit);
    for tool in [
        "bigid_list_data_sources",
        "pdc_filter_data_sources",
        "bigdata_list_connectors",
        "databrain_list_datasources",
    ] {
        assert!(text.contains(tool), "{tool} in {text}");
    }
    assert!(text.contains("change nothing"));

    let err = client
        .get_prompt(GetPromptRequestParams::new("onboard_data_source"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`provider` is required"), "{err}");
    let completion = client
        .complete_prompt_argument("onboard_data_source", "provider", "big", None)
        .await
        .unwrap();
    assert_eq!(completion.values, ["bigid", "bigdata"]);
}

#[tokio::test]
async fn read_only_servers_offer_no_onboarding() {
    let client = client_selected(
        &env(ALL),
        UpstreamSettings::default(),
        &Selection::parse(true, None, None).unwrap(),
    )
    .await;
    let names: Vec<String> = client
        .list_all_prompts()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["audit_data_sources"]);
    let mut arguments = serde_json::Map::new();
    arguments.insert("provider".into(), json!("bigid"));
    let err = client
        .get_prompt(GetPromptRequestParams::new("onboard_data_source").with_arguments(arguments))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("read-only"), "{err}");
}

#[tokio::test]
async fn the_tool_reference_is_served_as_resources() {
    let client = client(&ALL[..2]).await;
    let resources = client.list_all_resources().await.unwrap();
    // The catalogue, the desired-state format (the inventory's state tools are offered), then
    // a page per configured (BigID) tool.
    assert_eq!(
        resources.len(),
        2 + tool_count(offered_with_only(Provider::BigId))
    );
    assert_eq!(resources[0].uri, "datasource-mcp://tools");
    assert_eq!(resources[1].uri, "datasource-mcp://state");
    let read = |uri: &str| {
        let client = &client;
        let uri = uri.to_string();
        async move {
            let r = client
                .read_resource(ReadResourceRequestParams::new(uri))
                .await
                .unwrap();
            match &r.contents[0] {
                ResourceContents::TextResourceContents { text, .. } => text.clone(),
                other => panic!("{other:?}"),
            }
        }
    };
    let catalog = read("datasource-mcp://tools").await;
    assert!(catalog.contains("## BigID (`bigid`)"));
    assert!(catalog.contains("- `bigid_delete_data_source` (destructive)"));
    let page = read("datasource-mcp://tools/bigid_update_data_source").await;
    assert!(page.contains("| `changes` | object | yes |"), "{page}");
    assert!(
        page.contains("datasource-mcp call bigid_update_data_source --args"),
        "{page}"
    );
    let missing = client
        .read_resource(ReadResourceRequestParams::new(
            "datasource-mcp://tools/pdc_get_data_source",
        ))
        .await
        .unwrap_err();
    assert!(
        missing.to_string().contains("no such resource"),
        "an unconfigured tool has no page: {missing}"
    );
    let templates = client.list_all_resource_templates().await.unwrap();
    assert_eq!(templates[0].uri_template, "datasource-mcp://tools/{name}");
}

#[derive(Clone, Default)]
struct LogClient {
    seen: Arc<Mutex<Vec<LoggingMessageNotificationParam>>>,
}

impl ClientHandler for LogClient {
    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _c: NotificationContext<RoleClient>,
    ) {
        self.seen.lock().unwrap().push(params);
    }
}

/// Over a session (stdio), failed calls are logged to the client once it set a level.
#[tokio::test]
async fn failed_calls_become_log_messages_once_a_level_is_set() {
    let fake = FakeUpstream::start().await;
    fake.otherwise(Reply::json(500, json!({"message": "broken"})));
    let vars = env(&[
        ("BIGID_BASE_URL", &fake.url("")),
        ("BIGID_ACCESS_TOKEN", "t"),
    ]);
    let engine = Arc::new(Engine::new(
        providers::configure_all(&vars).unwrap(),
        fast_settings(),
        Arc::new(vars.clone()),
    ));
    let server = DataSourceServer::for_session(engine, &Selection::default());
    let (server_io, client_io) = tokio::io::duplex(1 << 16);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let handler = LogClient::default();
    let client = handler.clone().serve(client_io).await.unwrap();
    let call = || {
        client.call_tool(
            rmcp::model::CallToolRequestParams::new("bigid_get_data_source")
                .with_arguments(json!({"name": "x"}).as_object().unwrap().clone()),
        )
    };
    call().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        handler.seen.lock().unwrap().is_empty(),
        "nothing before setLevel"
    );
    client
        .set_level(SetLevelRequestParams::new(LoggingLevel::Warning))
        .await
        .unwrap();
    call().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let seen = handler.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].level, LoggingLevel::Error);
    assert_eq!(seen[0].logger.as_deref(), Some("datasource-mcp"));
    assert_eq!(seen[0].data["tool"], "bigid_get_data_source");
    assert_eq!(seen[0].data["error"]["status"], 500);
    client
        .set_level(SetLevelRequestParams::new(LoggingLevel::Critical))
        .await
        .unwrap();
    call().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(
        handler.seen.lock().unwrap().len(),
        1,
        "errors are below critical"
    );
}
