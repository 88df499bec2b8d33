//! MCP Tasks (the `io.modelcontextprotocol/tasks` extension of protocol 2026-07-28): a long
//! vendor job answered at once with a task the client polls, instead of a call held open
//! until the client's own timeout loses the job.
//!
//! A task is a record in the [`Store`] (memory for one process; Redis for replicas), so any
//! process answers `tasks/get` for it. The process that created it runs it (the *runner*): the
//! tool's call, as a client without tasks would make it with `wait`, following the job it
//! starts to its end, its progress written to the record as the status message, the job's id as
//! soon as it is known, and finally the call's result, exactly the tool's. The runner holds a
//! lease it renews; when a runner stops (its process killed), the next `tasks/get` elsewhere
//! takes the task over: a started job is followed again from its id (`Engine::resume`), a read
//! is made again, and a change whose answer was lost ends with `OUTCOME_UNKNOWN` and the tool
//! to check with, never sent twice.
//!
//! `tasks/cancel` stops the server's following. None of the vendors offers a way to stop a
//! started job through its API that public evidence shows, so the status message says the
//! vendor's job goes on. Every task has a time to live; past it a task still working fails.
//! A task is visible only to the caller who created it (another caller is told it does not
//! exist).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rmcp::model::{CallToolResult, DetailedTask, JsonObject, Task, TaskPayload, TaskStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::engine::audit::{Caller, rfc3339};
use crate::engine::{CallContext, CallOutcome, Engine, ProgressSink, TaskMode};
use crate::operation::OperationSpec;
use crate::providers;
use crate::redact;
use crate::store::{Store, StoreError};

/// How long a task lives by default: long enough for a catalog scan or an ingest job.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);

/// How often a client is asked to poll.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// How long a runner's lease lasts without renewal (it is renewed three times as often): a
/// killed runner's task is taken over by the first `tasks/get` after this.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

/// How long tasks live and how long a runner's lease lasts.
#[derive(Debug, Clone, Copy)]
pub struct TaskSettings {
    pub ttl: Duration,
    pub lease: Duration,
}

impl Default for TaskSettings {
    fn default() -> Self {
        TaskSettings {
            ttl: DEFAULT_TTL,
            lease: DEFAULT_LEASE,
        }
    }
}

/// Progress written to the record at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// The record a task keeps in the store, as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    owner: String,
    tool: String,
    /// The call's arguments with secrets masked: enough to make a read again, never a value.
    args: Value,
    created_ms: u64,
    updated_ms: u64,
    ttl_ms: u64,
    status: Status,
    message: Option<String>,
    /// The id of the job the call started, once known.
    job: Option<String>,
    /// The tool's result (completed), or the JSON-RPC error (failed).
    result: Option<Value>,
    error: Option<Value>,
    /// The process running it, and until when its lease holds.
    runner: String,
    lease_until_ms: u64,
    cancel: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Working,
    Completed,
    Failed,
    Cancelled,
}

impl Status {
    fn ended(self) -> bool {
        self != Status::Working
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

fn iso(ms: u64) -> String {
    rfc3339(UNIX_EPOCH + Duration::from_millis(ms))
}

/// Why a task request failed, as the JSON-RPC error it becomes.
#[derive(Debug)]
pub enum TaskError {
    /// Not known to this caller (or expired): -32602.
    Unknown,
    /// The store could not be used: -32603, with its message.
    Store(StoreError),
}

impl From<StoreError> for TaskError {
    fn from(e: StoreError) -> Self {
        TaskError::Store(e)
    }
}

/// The tasks of one server (shared by every request it serves).
pub struct Tasks {
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    /// This process, as a runner.
    process: String,
    ttl: Duration,
    lease: Duration,
    /// Runners in this process: cancelled at once by a `tasks/cancel` served here.
    local: Mutex<HashMap<String, CancellationToken>>,
}

impl std::fmt::Debug for Tasks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tasks({:?})", self.store)
    }
}

/// Whether a tool runs as a task for a client that takes tasks: the tools whose vendor work
/// outlasts a call (those that report progress).
pub fn eligible(op: &OperationSpec) -> bool {
    op.progress
}

fn key(id: &str) -> String {
    format!("dsmcp:task:{id}")
}

impl Tasks {
    pub fn new(store: Arc<dyn Store>, engine: Arc<Engine>, settings: TaskSettings) -> Arc<Tasks> {
        Arc::new(Tasks {
            store,
            engine,
            process: crate::secret::random_token("process-"),
            ttl: settings.ttl,
            lease: settings.lease,
            local: Mutex::new(HashMap::new()),
        })
    }

    /// Creates the task of a call of `op` and starts running it here. Returns once a
    /// `tasks/get` for it would find it, anywhere.
    pub async fn create(
        self: &Arc<Self>,
        op: &'static OperationSpec,
        args: Option<Map<String, Value>>,
        cx: CallContext,
    ) -> Result<Task, TaskError> {
        let id = crate::secret::random_token("task-");
        let now = now_ms();
        let mut shown = Value::Object(args.clone().unwrap_or_default());
        redact::clean_json(&mut shown, None);
        let record = Record {
            owner: owner(&cx),
            tool: op.name.to_string(),
            args: shown,
            created_ms: now,
            updated_ms: now,
            ttl_ms: self.ttl.as_millis() as u64,
            status: Status::Working,
            message: Some("started".into()),
            job: None,
            result: None,
            error: None,
            runner: self.process.clone(),
            lease_until_ms: now + self.lease.as_millis() as u64,
            cancel: false,
        };
        let bytes = serde_json::to_vec(&record).unwrap_or_default();
        self.store.put_new(&key(&id), &bytes, self.keep()).await?;
        let this = self.clone();
        let task_id = id.clone();
        tokio::spawn(async move { this.run(task_id, op, Run::Call(args), cx).await });
        Ok(task(&id, &record))
    }

    /// How long a record is kept: its life, and as long again for its result to be read.
    fn keep(&self) -> Duration {
        self.ttl * 2
    }

    /// The task `id` as `caller` may see it; takes it over when its runner stopped.
    pub async fn get(
        self: &Arc<Self>,
        id: &str,
        cx: &CallContext,
    ) -> Result<DetailedTask, TaskError> {
        let (record, _) = self.load(id, cx).await?;
        let record = self.check(id, record, cx).await?;
        Ok(detailed(id, &record))
    }

    /// Stops following task `id` (cooperative: it ends `cancelled` once its runner sees it).
    pub async fn cancel(self: &Arc<Self>, id: &str, cx: &CallContext) -> Result<(), TaskError> {
        self.load(id, cx).await?;
        let token = self
            .local
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned();
        self.update(id, |r| {
            if !r.status.ended() {
                r.cancel = true;
            }
        })
        .await?;
        if let Some(token) = token {
            token.cancel();
        }
        // A task whose runner is gone is ended here.
        let (record, _) = self.load(id, cx).await?;
        self.check(id, record, cx).await?;
        Ok(())
    }

    async fn load(&self, id: &str, cx: &CallContext) -> Result<(Record, Vec<u8>), TaskError> {
        let bytes = self.store.get(&key(id)).await?.ok_or(TaskError::Unknown)?;
        let record: Record = serde_json::from_slice(&bytes).map_err(|_| TaskError::Unknown)?;
        if record.owner != owner(cx) {
            return Err(TaskError::Unknown);
        }
        Ok((record, bytes))
    }

    /// A working task past its life fails; one whose runner's lease ran out is taken over
    /// (or ended, when it was cancelled).
    async fn check(
        self: &Arc<Self>,
        id: &str,
        record: Record,
        cx: &CallContext,
    ) -> Result<Record, TaskError> {
        if record.status.ended() {
            return Ok(record);
        }
        let now = now_ms();
        if now >= record.created_ms + record.ttl_ms {
            return self
                .end(
                    id,
                    Status::Failed,
                    None,
                    Some(expired()),
                    "the task's time to live ran out",
                )
                .await;
        }
        if now < record.lease_until_ms {
            return Ok(record);
        }
        if record.cancel {
            return self
                .end(
                    id,
                    Status::Cancelled,
                    None,
                    None,
                    &cancelled_message(&record.tool),
                )
                .await;
        }
        // The runner stopped: this process takes the task over, once.
        let me = self.process.clone();
        let taken = self
            .update(id, |r| {
                if !r.status.ended() && now_ms() >= r.lease_until_ms {
                    r.runner = me.clone();
                    r.lease_until_ms = now_ms() + self.lease.as_millis() as u64;
                    r.message = Some("resumed by another server process".into());
                }
            })
            .await?;
        if taken.runner == self.process && !taken.status.ended() {
            let op = providers::operation(&taken.tool).ok_or(TaskError::Unknown)?;
            let how = match (&taken.job, op.hints.read_only) {
                (Some(job), _) => Run::Resume(job.clone()),
                (None, true) => Run::Call(taken.args.as_object().cloned()),
                (None, false) => Run::Lost,
            };
            let this = self.clone();
            let task_id = id.to_string();
            let cx = CallContext {
                caller: cx.caller.clone(),
                correlation_id: cx.correlation_id.clone(),
                read_scope_only: cx.read_scope_only,
                ..CallContext::default()
            };
            tokio::spawn(async move { this.run(task_id, op, how, cx).await });
        }
        Ok(taken)
    }

    /// Reads, changes and writes back a record until no other process wrote in between.
    async fn update(&self, id: &str, change: impl Fn(&mut Record)) -> Result<Record, TaskError> {
        for _ in 0..32 {
            let bytes = self.store.get(&key(id)).await?.ok_or(TaskError::Unknown)?;
            let mut record: Record =
                serde_json::from_slice(&bytes).map_err(|_| TaskError::Unknown)?;
            change(&mut record);
            record.updated_ms = now_ms();
            let new = serde_json::to_vec(&record).unwrap_or_default();
            if self.store.swap(&key(id), &bytes, &new, self.keep()).await? {
                return Ok(record);
            }
        }
        Err(TaskError::Store(StoreError {
            where_: "tasks".into(),
            why: "the task record keeps changing under this update".into(),
        }))
    }

    async fn end(
        &self,
        id: &str,
        status: Status,
        result: Option<Value>,
        error: Option<Value>,
        message: &str,
    ) -> Result<Record, TaskError> {
        self.update(id, |r| {
            if !r.status.ended() {
                r.status = status;
                r.result = result.clone();
                r.error = error.clone();
                r.message = Some(message.to_string());
            }
        })
        .await
    }

    /// Runs a task here: renews the lease, watches for a cancel, and writes the outcome.
    async fn run(
        self: Arc<Self>,
        id: String,
        op: &'static OperationSpec,
        how: Run,
        cx: CallContext,
    ) {
        let stop = CancellationToken::new();
        self.local
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id.clone(), stop.clone());
        let renewing = {
            let this = self.clone();
            let id = id.clone();
            let stop = stop.clone();
            tokio::spawn(async move { this.renew(&id, &stop).await })
        };
        let outcome = self.work(&id, op, how, cx, stop.clone()).await;
        renewing.abort();
        let (status, message) = match &outcome {
            _ if stop.is_cancelled() => (Status::Cancelled, cancelled_message(op.name)),
            Some(o) if o.is_error => (Status::Completed, ended_message(o)),
            Some(_) => (Status::Completed, "completed".to_string()),
            None => (Status::Cancelled, cancelled_message(op.name)),
        };
        let result = match (status, outcome) {
            (Status::Completed, Some(o)) => Some(result_value(o)),
            _ => None,
        };
        if let Err(e) = self.end(&id, status, result, None, &message).await {
            tracing::warn!(task = %id, "a task's outcome could not be written: {e:?}");
        }
        self.local
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// The call itself, or its resumption. `None` when cancelled before it could run.
    async fn work(
        self: &Arc<Self>,
        id: &str,
        op: &'static OperationSpec,
        how: Run,
        cx: CallContext,
        stop: CancellationToken,
    ) -> Option<CallOutcome> {
        let remaining = self.ttl.saturating_sub(Duration::from_millis(
            now_ms().saturating_sub(self.created_ms(id).await.unwrap_or_else(now_ms)),
        ));
        let progress = Arc::new(TaskProgress {
            tasks: self.clone(),
            id: id.to_string(),
            last: Mutex::new(None),
        });
        let started = {
            let this = self.clone();
            let id = id.to_string();
            Arc::new(move |job: &str| {
                let this = this.clone();
                let id = id.clone();
                let job = job.to_string();
                tokio::spawn(async move {
                    let _ = this.update(&id, |r| r.job = Some(job.clone())).await;
                });
            }) as Arc<dyn Fn(&str) + Send + Sync>
        };
        let cx = CallContext {
            cancel: stop.clone(),
            progress: Some(progress as Arc<dyn ProgressSink>),
            task: Some(TaskMode {
                wait: remaining,
                started,
            }),
            ..cx
        };
        let work = async {
            match how {
                Run::Call(args) => Some(self.engine.call(op, args, &cx).await),
                Run::Resume(job) => Some(self.engine.resume(op, &job, remaining, &cx).await),
                Run::Lost => Some(lost(op)),
            }
        };
        tokio::select! {
            outcome = work => outcome,
            _ = stop.cancelled() => None,
        }
    }

    async fn created_ms(&self, id: &str) -> Option<u64> {
        let bytes = self.store.get(&key(id)).await.ok()??;
        serde_json::from_slice::<Record>(&bytes)
            .ok()
            .map(|r| r.created_ms)
    }

    /// Renews this runner's lease until stopped; a cancel asked anywhere stops the run.
    async fn renew(&self, id: &str, stop: &CancellationToken) {
        loop {
            tokio::time::sleep(self.lease / 3).await;
            let me = self.process.clone();
            match self
                .update(id, |r| {
                    if r.runner == me {
                        r.lease_until_ms = now_ms() + self.lease.as_millis() as u64;
                    }
                })
                .await
            {
                Ok(r) if r.cancel => stop.cancel(),
                // Another process took it over (this one was thought gone): stop here.
                Ok(r) if r.runner != self.process => stop.cancel(),
                _ => {}
            }
        }
    }
}

/// How a runner runs a task.
enum Run {
    /// The tool's call, with these arguments.
    Call(Option<Map<String, Value>>),
    /// Follow the job the call started.
    Resume(String),
    /// A change whose runner stopped before its job's id was known: whether it happened is
    /// not known, and it is never sent again.
    Lost,
}

/// Who a task belongs to.
fn owner(cx: &CallContext) -> String {
    cx.caller
        .as_ref()
        .map_or_else(|| "none".into(), Caller::binding)
}

/// The result of a change whose runner stopped before the vendor answered.
fn lost(op: &OperationSpec) -> CallOutcome {
    let check = op
        .reconcile
        .as_ref()
        .map(|r| r.lookup)
        .unwrap_or("the provider's list or get tool");
    CallOutcome {
        value: json!({"error": {"provider": op.provider.id(), "code": "OUTCOME_UNKNOWN",
            "message": "the server process running this task stopped before the vendor answered; whether the change happened is unknown",
            "hint": format!("check with {check} before calling again: calling again blindly could repeat it")}}),
        is_error: true,
        secret_needed: None,
    }
}

fn expired() -> Value {
    json!({"code": -32603, "message": "the task's time to live ran out before it ended"})
}

fn cancelled_message(tool: &str) -> String {
    let vendor = providers::operation(tool).map_or("the vendor", |op| op.provider.spec().title);
    format!(
        "cancelled: the server stopped following it; work already started at {vendor} goes on (its API offers no way to stop it)"
    )
}

fn ended_message(outcome: &CallOutcome) -> String {
    let code = outcome.value["error"]["code"].as_str().unwrap_or("ERROR");
    format!("completed with an error ({code})")
}

/// The tool's result as a client without tasks gets it.
fn result_value(outcome: CallOutcome) -> Value {
    let result = if outcome.is_error {
        CallToolResult::structured_error(outcome.value)
    } else {
        CallToolResult::structured(outcome.value)
    };
    serde_json::to_value(result).unwrap_or(Value::Null)
}

fn task(id: &str, record: &Record) -> Task {
    let status = match record.status {
        Status::Working => TaskStatus::Working,
        Status::Completed => TaskStatus::Completed,
        Status::Failed => TaskStatus::Failed,
        Status::Cancelled => TaskStatus::Cancelled,
    };
    let mut task = Task::new(id, status, iso(record.created_ms), iso(record.updated_ms))
        .with_ttl_ms(record.ttl_ms)
        .with_poll_interval_ms(POLL_INTERVAL.as_millis() as u64);
    if let Some(message) = &record.message {
        task = task.with_status_message(message.clone());
    }
    task
}

fn detailed(id: &str, record: &Record) -> DetailedTask {
    let object = |v: &Option<Value>| -> JsonObject {
        v.as_ref()
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let payload = match record.status {
        Status::Working => TaskPayload::Working,
        Status::Completed => TaskPayload::Completed {
            result: object(&record.result),
        },
        Status::Failed => TaskPayload::Failed {
            error: object(&record.error),
        },
        Status::Cancelled => TaskPayload::Cancelled,
    };
    DetailedTask::new(task(id, record), payload)
}

/// A task's progress, written to its record as the status message.
struct TaskProgress {
    tasks: Arc<Tasks>,
    id: String,
    last: Mutex<Option<std::time::Instant>>,
}

impl ProgressSink for TaskProgress {
    fn report(
        &self,
        progress: f64,
        total: Option<f64>,
        message: String,
    ) -> futures_util::future::BoxFuture<'_, ()> {
        Box::pin(async move {
            {
                let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
                if last.is_some_and(|at| at.elapsed() < PROGRESS_EVERY) {
                    return;
                }
                *last = Some(std::time::Instant::now());
            }
            let message = match total {
                Some(total) if total > 0.0 => {
                    format!("{message} ({:.0}%)", 100.0 * progress / total)
                }
                _ => message,
            };
            let _ = self
                .tasks
                .update(&self.id, |r| r.message = Some(message.clone()))
                .await;
        })
    }
}
