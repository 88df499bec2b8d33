//! Long vendor jobs as MCP tasks (the `io.modelcontextprotocol/tasks` extension, protocol
//! 2026-07-28): a client that declares the extension gets a task at once and polls
//! `tasks/get`; the task's result is exactly the tool's; `tasks/cancel` stops the following;
//! a task is its caller's only. A client without the extension, or of the 2025 era, gets
//! today's answer.

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use datasource_mcp::engine::Engine;
use datasource_mcp::sandbox::Sandbox;
use datasource_mcp::store::{MemoryStore, Store};
use datasource_mcp::surfaces::server::{DataSourceServer, Selection};
use datasource_mcp::surfaces::tasks::TaskSettings;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, ClientCapabilities, ClientConfig,
    GetTaskParams, Implementation, ProtocolVersion, TaskStatus,
};
use rmcp::service::RunningService;
use rmcp::{ClientLifecycleMode, ClientServiceExt, RoleClient, ServiceExt};
use serde_json::{Value, json};

/// A client that declares the tasks extension (or not).
#[derive(Clone)]
struct TasksClient {
    tasks: bool,
}

impl rmcp::ClientHandler for TasksClient {
    fn get_info(&self) -> ClientConfig {
        let capabilities = if self.tasks {
            ClientCapabilities::builder().enable_tasks().build()
        } else {
            ClientCapabilities::default()
        };
        ClientConfig::new(capabilities, Implementation::new("tasks-test-client", "1"))
    }
}

fn server(
    vars: &std::collections::HashMap<String, String>,
    store: Arc<dyn Store>,
) -> DataSourceServer {
    let engine = Engine::new(
        datasource_mcp::providers::configure_all(vars).unwrap(),
        fast_settings(),
        Arc::new(vars.clone()),
    );
    DataSourceServer::new(Arc::new(engine), &Selection::default()).with_tasks(
        store,
        TaskSettings {
            ttl: Duration::from_secs(600),
            lease: Duration::from_millis(600),
        },
    )
}

async fn connect(
    server: DataSourceServer,
    client: TasksClient,
    version: ProtocolVersion,
) -> RunningService<RoleClient, TasksClient> {
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let mode = if version >= ProtocolVersion::V_2026_07_28 {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![version],
        }
    } else {
        ClientLifecycleMode::Initialize
    };
    client
        .serve_with_lifecycle(client_io, mode)
        .await
        .expect("client connects")
}

fn params(tool: &str, args: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(tool.to_string()).with_arguments(args.as_object().unwrap().clone())
}

/// Polls a task until it ends, as the client is asked to (its poll interval, shortened).
async fn until_ended(
    client: &RunningService<RoleClient, TasksClient>,
    id: &str,
) -> (TaskStatus, Value, Vec<String>) {
    let mut messages = Vec::new();
    for _ in 0..200 {
        let got = client
            .peer()
            .get_task(GetTaskParams::new(id))
            .await
            .expect("tasks/get");
        let wire = serde_json::to_value(&got).unwrap();
        if let Some(m) = wire["statusMessage"].as_str()
            && messages.last().map(String::as_str) != Some(m)
        {
            messages.push(m.to_string());
        }
        if got.task.status() != TaskStatus::Working {
            return (got.task.status(), wire, messages);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("task {id} never ended: {messages:?}");
}

/// "Ingest this PDC source" and "test its connection" as tasks: a task at once, polled to its
/// end, whose result is exactly what the tool answers a client without tasks (with `wait`).
#[tokio::test]
async fn a_pdc_job_is_a_task_whose_result_is_the_tools() {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let vars = sb.env();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let client = connect(
        server(&vars, store.clone()),
        TasksClient { tasks: true },
        ProtocolVersion::V_2026_07_28,
    )
    .await;
    let plain = connect(
        server(&vars, store),
        TasksClient { tasks: false },
        ProtocolVersion::V_2026_07_28,
    )
    .await;
    for tool in ["pdc_test_data_source_connection", "pdc_ingest_metadata"] {
        let args = json!({"id": "9dc0da7a0000000000000003"});
        let answer = client
            .call_tool_once(params(tool, args.clone()))
            .await
            .unwrap();
        let CallToolResponse::Task(created) = answer else {
            panic!("{tool}: not a task: {answer:?}")
        };
        let wire = serde_json::to_value(&created).unwrap();
        assert_eq!(wire["resultType"], "task", "{wire}");
        assert_eq!(wire["status"], "working");
        assert_eq!(wire["ttlMs"], 600_000);
        assert_eq!(wire["pollIntervalMs"], 2_000);
        let id = wire["taskId"].as_str().unwrap().to_string();
        let (status, done, messages) = until_ended(&client, &id).await;
        assert_eq!(status, TaskStatus::Completed, "{done}");
        assert_eq!(done["resultType"], "complete");
        let result = &done["result"]["structuredContent"];
        assert_eq!(result["status"], "COMPLETED", "{done}");
        assert!(result["job_id"].as_str().unwrap().starts_with("9dc010b5"));
        assert_eq!(
            messages.last().map(String::as_str),
            Some("completed"),
            "{messages:?}"
        );
        // The same call without tasks, with wait: the same shape (another job, its own id).
        let mut waited = args.clone();
        waited["wait"] = json!(true);
        let today = plain.call_tool(params(tool, waited)).await.unwrap();
        let today = today.structured_content.unwrap();
        assert_eq!(today["status"], result["status"]);
        let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
        assert_eq!(keys(&today), keys(result));
        assert_eq!(today["job"]["activity"], result["job"]["activity"]);
    }
}

/// A client without the extension, and a 2025-era client even if it declares it at
/// initialize, get today's answer: the job id at once (or the wait), no task.
#[tokio::test]
async fn without_the_extension_a_call_is_answered_as_today() {
    let sb = Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap();
    let vars = sb.env();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    for (tasks, version) in [
        (false, ProtocolVersion::V_2026_07_28),
        (true, ProtocolVersion::V_2025_11_25),
        (false, ProtocolVersion::V_2025_11_25),
    ] {
        let client = connect(
            server(&vars, store.clone()),
            TasksClient { tasks },
            version.clone(),
        )
        .await;
        let answer = client
            .call_tool_once(params(
                "pdc_test_data_source_connection",
                json!({"id": "9dc0da7a0000000000000003"}),
            ))
            .await
            .unwrap();
        let CallToolResponse::Complete(result) = answer else {
            panic!("{tasks} {version:?}: {answer:?}")
        };
        let result = result.structured_content.unwrap();
        assert!(result["job_id"].as_str().is_some(), "{result}");
        assert!(result.get("answer").is_some(), "{result}");
        // And tasks/get is not theirs to call.
        let refused = client.peer().get_task(GetTaskParams::new("task-x")).await;
        assert!(refused.is_err(), "{tasks} {version:?}");
    }
}

/// `tasks/cancel` stops the server's following; the status message says the vendor's job goes
/// on; a task id unknown to the caller is -32602.
#[tokio::test]
async fn a_task_can_be_cancelled_and_says_the_vendor_job_goes_on() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "POST",
        "/pdc/auth",
        Reply::json(
            200,
            json!({"data": {"accessToken": "tok-0123456789abcdef-tasks"}}),
        ),
    );
    fake.on(
        "GET",
        "/pdc/data-sources/65f1c0ffee0000000000000a",
        Reply::json(
            200,
            json!({"data": {"_id": "65f1c0ffee0000000000000a", "resourceName": "orders",
            "databaseType": "POSTGRES", "host": "pg.example.com"}}),
        ),
    );
    fake.on(
        "POST",
        "/pdc/jobs/execute/test-connection",
        Reply::json(200, json!({"data": {"jobId": "job-forever"}})),
    );
    fake.on(
        "GET",
        "/pdc/jobs/job-forever/status",
        Reply::json(200, json!({"status": "RUNNING"})),
    );
    let vars = env(&[
        ("PDC_BASE_URL", &fake.url("/pdc")),
        ("PDC_USERNAME", "catalog-admin"),
        ("PDC_PASSWORD", "pw-0123456789-tasks"),
    ]);
    let client = connect(
        server(&vars, Arc::new(MemoryStore::default())),
        TasksClient { tasks: true },
        ProtocolVersion::V_2026_07_28,
    )
    .await;
    let answer = client
        .call_tool_once(params(
            "pdc_test_data_source_connection",
            json!({"id": "65f1c0ffee0000000000000a"}),
        ))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = answer else {
        panic!("{answer:?}")
    };
    let id = created.task.task_id.clone();
    // Its progress is the task's status message.
    let mut seen = String::new();
    for _ in 0..50 {
        let got = client
            .peer()
            .get_task(GetTaskParams::new(id.clone()))
            .await
            .unwrap();
        seen = got.task.task.status_message.clone().unwrap_or_default();
        if seen.starts_with("job RUNNING") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, "job RUNNING");
    client
        .peer()
        .cancel_task(CancelTaskParams::new(id.clone()))
        .await
        .expect("tasks/cancel");
    let (status, done, _) = until_ended(&client, &id).await;
    assert_eq!(status, TaskStatus::Cancelled, "{done}");
    assert_eq!(
        done["statusMessage"],
        "cancelled: the server stopped following it; work already started at Pentaho Data Catalog goes on (its API offers no way to stop it)"
    );
    let polls = fake.count("GET");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(fake.count("GET"), polls, "no polling after the cancel");
    let unknown = client
        .peer()
        .get_task(GetTaskParams::new("task-0000"))
        .await
        .unwrap_err();
    assert!(
        unknown.to_string().contains("-32602") || unknown.to_string().contains("Task not found"),
        "{unknown}"
    );
}

/// A task outlives the process that started it: its runner killed (its runtime shut down),
/// another server process reading the same store takes it over on the next `tasks/get` and
/// follows the started job to its end — the same result, and the job started once.
#[tokio::test]
async fn a_task_is_taken_over_when_its_runner_stops() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "POST",
        "/pdc/auth",
        Reply::json(
            200,
            json!({"data": {"accessToken": "tok-0123456789abcdef-takeover"}}),
        ),
    );
    fake.on(
        "GET",
        "/pdc/data-sources/65f1c0ffee0000000000000a",
        Reply::json(
            200,
            json!({"data": {"_id": "65f1c0ffee0000000000000a", "resourceName": "orders",
            "databaseType": "POSTGRES", "host": "pg.example.com"}}),
        ),
    );
    fake.on(
        "POST",
        "/pdc/jobs/execute/test-connection",
        Reply::json(200, json!({"data": {"jobId": "job-42"}})),
    );
    fake.on(
        "GET",
        "/pdc/jobs/job-42/status",
        Reply::json(200, json!({"status": "RUNNING"})),
    );
    let vars = env(&[
        ("PDC_BASE_URL", &fake.url("/pdc")),
        ("PDC_USERNAME", "catalog-admin"),
        ("PDC_PASSWORD", "pw-0123456789-takeover"),
    ]);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    // Process A, on a runtime of its own that can be killed.
    let runtime_a = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server_a = server(&vars, store.clone());
    runtime_a.spawn(async move {
        if let Ok(running) = server_a.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let client_a = TasksClient { tasks: true }
        .serve_with_lifecycle(
            client_io,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    let answer = client_a
        .call_tool_once(params(
            "pdc_test_data_source_connection",
            json!({"id": "65f1c0ffee0000000000000a"}),
        ))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = answer else {
        panic!("{answer:?}")
    };
    let id = created.task.task_id.clone();
    // The job started and is being followed; then process A dies.
    for _ in 0..50 {
        if fake
            .requests()
            .iter()
            .any(|r| r.path == "/pdc/jobs/job-42/status")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    runtime_a.shutdown_background();
    fake.on(
        "GET",
        "/pdc/jobs/job-42/status",
        Reply::json(200, json!({"status": "COMPLETED", "duration": 7})),
    );
    // Process B answers: after A's lease ran out it takes over and follows job-42.
    let client_b = connect(
        server(&vars, store),
        TasksClient { tasks: true },
        ProtocolVersion::V_2026_07_28,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (status, done, messages) = until_ended(&client_b, &id).await;
    assert_eq!(status, TaskStatus::Completed, "{done}");
    assert_eq!(
        done["result"]["structuredContent"],
        json!({"job_id": "job-42", "status": "COMPLETED", "job": {"status": "COMPLETED", "duration": 7}})
    );
    assert!(
        messages
            .iter()
            .any(|m| m == "resumed by another server process"),
        "{messages:?}"
    );
    let starts = fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/pdc/jobs/execute/test-connection")
        .count();
    assert_eq!(starts, 1, "the job is started once");
}

/// The built binary over stdio, spoken to in raw JSON-RPC as the extension's text shows it:
/// `server/discover` names the extension, a `tools/call` that declares it in its `_meta` is
/// answered `resultType: "task"`, `tasks/get` reports it working then completed with the
/// tool's result; "sync this DataBrain datasource" on the sandbox.
#[tokio::test]
async fn raw_json_rpc_over_stdio_as_the_extension_describes() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut child = tokio::process::Command::new(binary())
        .arg("--sandbox")
        .env_clear()
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {"extensions": {"io.modelcontextprotocol/tasks": {}}}});
    let mut next = 0;
    let mut ask = async |method: &str, mut params: Value| -> Value {
        next += 1;
        params["_meta"] = meta.clone();
        let line = json!({"jsonrpc": "2.0", "id": next, "method": method, "params": params});
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        loop {
            let line = tokio::time::timeout(Duration::from_secs(20), stdout.next_line())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let message: Value = serde_json::from_str(&line).unwrap();
            if message["id"] == next {
                return message;
            }
        }
    };
    let discovered = ask("server/discover", json!({})).await;
    assert_eq!(
        discovered["result"]["capabilities"]["extensions"]["io.modelcontextprotocol/tasks"],
        json!({}),
        "{discovered}"
    );
    let created = ask(
        "tools/call",
        json!({"name": "databrain_sync_datasource",
            "arguments": {"datasource_id": "000000db-5eed-4000-8000-000000000004"}}),
    )
    .await;
    let task = &created["result"];
    assert_eq!(task["resultType"], "task", "{created}");
    assert_eq!(task["status"], "working");
    let id = task["taskId"].as_str().unwrap().to_string();
    let mut last = Value::Null;
    for _ in 0..100 {
        last = ask("tasks/get", json!({"taskId": id})).await;
        if last["result"]["status"] != "working" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let done = &last["result"];
    assert_eq!(done["resultType"], "complete", "{last}");
    assert_eq!(done["status"], "completed", "{last}");
    assert_eq!(done["taskId"], id.as_str());
    assert_eq!(
        done["result"]["structuredContent"],
        json!({"data": {"message": "Sync completed"}, "connection": "works"}),
        "{last}"
    );
    // tasks/result is not part of the extension.
    let legacy = ask("tasks/result", json!({"taskId": id})).await;
    assert_eq!(legacy["error"]["code"], -32601, "{legacy}");
}

/// The apply of a plan is a task for a client that takes tasks, with its progress in the
/// task's status; its result is the apply's report.
#[tokio::test]
async fn an_apply_is_a_task() {
    let sb = datasource_mcp::sandbox::Sandbox::start_with(
        ([127, 0, 0, 1], 0).into(),
        datasource_mcp::sandbox::Seed::Empty,
    )
    .await
    .unwrap();
    let mut vars = sb.env();
    vars.insert(
        "DATASOURCE_MCP_SECRET_PG".into(),
        "pw-task-apply-31f0".into(),
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let client = connect(
        server(&vars, store),
        TasksClient { tasks: true },
        ProtocolVersion::V_2026_07_28,
    )
    .await;
    let desired = json!({"pdc": {"data_sources": (0..6).map(|i| json!({"resourceName": format!("pg-{i}"),
        "databaseType": "POSTGRES", "host": "pg.example", "userName": "u", "password": "${secret:PG}"}))
        .collect::<Vec<_>>()}});
    let planned = client
        .call_tool(params(
            "inventory_plan_changes",
            json!({"desired": desired}),
        ))
        .await
        .unwrap()
        .structured_content
        .unwrap();
    let answer = client
        .call_tool_once(params(
            "inventory_apply_plan",
            json!({"plan_id": planned["plan_id"]}),
        ))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = answer else {
        panic!("not a task: {answer:?}")
    };
    let id = serde_json::to_value(&created).unwrap()["taskId"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, done, _) = until_ended(&client, &id).await;
    assert_eq!(status, TaskStatus::Completed, "{done}");
    let result = &done["result"]["structuredContent"];
    assert_eq!(result["applied"], true, "{done}");
    assert_eq!(result["summary"], json!({"done": 6}));
}
