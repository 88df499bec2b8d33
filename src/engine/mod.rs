//! The one dispatcher: runs any row of the operation table for any surface.
//!
//! ```text
//! arguments → `${secret:NAME}` references resolved → the row's type (validated, field named)
//!   → dry run stops here and returns the plan (references shown, never values)
//!   → URL from the row's path template (percent-encoded) + query + body
//!   → provider credential attached (token cached; obtained again once on 401)
//!   → upstream client (timeouts, size cap, bounded concurrency, retries only for reads)
//!   → a write whose answer was lost is looked up, never re-sent
//!   → result object (arrays as {"items": [...]}) or error envelope, secrets masked,
//!     hidden characters stripped
//! ```

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

pub mod audit;
pub mod budget;
pub mod listing;
pub mod secret_refs;

use crate::error::ToolError;
use crate::intake::{About, Intake, Offered};
use crate::metrics::Metrics;
use crate::operation::{ListArgs, OperationSpec, Poll, Provider, Reconcile};
use crate::providers::ProviderConfig;
use crate::redact::{self, CallSecrets};
use crate::request::{Method, RequestParts};
use crate::schema;
use crate::spec::{Env, ProviderSpec};
use crate::upstream::{
    HttpResponse, ProviderClient, ResponseBody, TransportError, Upstream, UpstreamSettings,
};
use audit::{AuditLog, Caller};
use secret_refs::SecretRefs;

/// One call on its way: the provider it goes to, and its own secrets, which the vendor trace
/// masks too.
struct Call<'a> {
    provider: &'a ProviderClient,
    mask: Option<redact::Matcher>,
    /// The status of the vendor's last answer (0: none yet), for the audit log.
    status: &'a AtomicU16,
}

/// The engine's limits: the vendor requests' and the result budget.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub upstream: UpstreamSettings,
    /// Largest result, in bytes of compact JSON, sent to a client (`--max-result-bytes`).
    pub max_result_bytes: usize,
    /// Where changes and refusals are recorded (`--audit-log`), if anywhere.
    pub audit: Option<Arc<AuditLog>>,
}

impl From<UpstreamSettings> for EngineSettings {
    fn from(upstream: UpstreamSettings) -> Self {
        Self {
            upstream,
            max_result_bytes: budget::DEFAULT_MAX_RESULT_BYTES,
            audit: None,
        }
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        UpstreamSettings::default().into()
    }
}

/// Most data sources the inventory lists from one platform, the most pages it asks for, and
/// the most bytes of rows it keeps: past any of them the platform is reported INCOMPLETE.
const MAX_INVENTORY_ROWS: usize = 10_000;
const MAX_INVENTORY_PAGES: usize = 100;
const MAX_INVENTORY_BYTES: usize = 16 * 1024 * 1024;

/// A result before the budget: a list page carries its list arguments and the call as made,
/// so a page the budget cuts short can point to what it left out.
struct Shaped {
    value: Value,
    page: Option<(ListArgs, Value)>,
}

impl Shaped {
    fn whole(value: Value) -> Shaped {
        Shaped { value, page: None }
    }
}

fn internal() -> Value {
    json!({"code": "INTERNAL_ERROR", "message": "the inventory has no listing for this platform"})
}

/// How to get what a truncated result left out.
const REST_HINT: &str = "ask for less: a smaller page (limit/skip or page) or a narrower filter, or raise DATASOURCE_MCP_MAX_RESULT_BYTES";

/// Where progress of a long call goes (MCP progress notifications, the CLI's stderr).
pub trait ProgressSink: Send + Sync {
    /// `progress` increases with every report.
    fn report(&self, progress: f64, total: Option<f64>, message: String) -> BoxFuture<'_, ()>;
}

/// What a surface passes along with a call.
#[derive(Clone, Default)]
pub struct CallContext {
    /// Fires when the client cancels; the upstream request is dropped.
    pub cancel: CancellationToken,
    /// Set when the client asked for progress.
    pub progress: Option<Arc<dyn ProgressSink>>,
    /// Who calls, as the transport authenticated them (the audit log's `caller`).
    pub caller: Option<Caller>,
    /// The request's correlation id (the HTTP transport's, also in its log lines).
    pub correlation_id: Option<String>,
}

/// The result of a call: a JSON object either way; `is_error` tells which envelope it is.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    pub value: Value,
    pub is_error: bool,
    /// Set when the call stopped for a secret the user can enter on the intake page (the
    /// envelope is then `SECRET_NEEDED`): a surface may ask for it its own way and call again.
    pub secret_needed: Option<Offered>,
}

/// Serves calls for the configured providers.
pub struct Engine {
    upstream: Upstream,
    providers: Vec<ProviderClient>,
    refs: SecretRefs,
    /// Each row's declared output schema, generated once: results are checked against it.
    output_schemas: HashMap<&'static str, Map<String, Value>>,
    /// Largest result, in bytes of compact JSON, sent to a client.
    max_result_bytes: usize,
    /// Rows whose second request form the vendor accepted: it is sent from then on.
    learned: std::sync::Mutex<std::collections::HashSet<&'static str>>,
    /// Where the user enters a secret that has no value, when the intake is on.
    intake: Option<Arc<Intake>>,
    audit: Option<Arc<AuditLog>>,
    metrics: Arc<Metrics>,
}

impl Engine {
    /// `env` is where `${secret:NAME}` references are read from.
    pub fn new(
        configs: Vec<ProviderConfig>,
        settings: impl Into<EngineSettings>,
        env: Arc<dyn Env + Send + Sync>,
    ) -> Self {
        let settings = settings.into();
        let providers: Vec<ProviderClient> = configs.into_iter().map(ProviderClient::new).collect();
        let output_schemas = providers
            .iter()
            .flat_map(|p| p.spec.operations)
            .filter_map(|op| op.output.schema.map(|schema| (op.name, schema())))
            .collect();
        let metrics = settings.upstream.metrics.clone();
        Self {
            upstream: Upstream::new(settings.upstream),
            audit: settings.audit,
            metrics,
            providers,
            refs: SecretRefs::new(env),
            output_schemas,
            max_result_bytes: settings.max_result_bytes,
            learned: Default::default(),
            intake: None,
        }
    }

    /// Offers the intake page for references that have no value, in calls that send
    /// credentials; its entered values resolve references.
    pub fn with_intake(mut self, intake: Arc<Intake>) -> Self {
        self.refs = self.refs.with_intake(intake.clone());
        self.intake = Some(intake);
        self
    }

    pub fn intake(&self) -> Option<&Arc<Intake>> {
        self.intake.as_ref()
    }

    pub fn providers(&self) -> &[ProviderClient] {
        &self.providers
    }

    pub fn provider(&self, provider: Provider) -> Option<&ProviderClient> {
        self.providers.iter().find(|p| p.spec.provider == provider)
    }

    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// The registry this engine's calls and vendor requests are counted in.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// A call refused before it reached a tool (`code`: e.g. the tool is not offered): counted,
    /// and recorded in the audit log. `tool` is a row's name or `(unknown)` in the metrics.
    pub fn refused(&self, tool: &str, known: bool, code: &str, cx: &CallContext) {
        self.metrics
            .call(if known { tool } else { "(unknown)" }, code);
        if let Some(log) = &self.audit {
            let shown: String = tool.chars().take(64).collect();
            log.record(&audit::Entry {
                caller: cx.caller.as_ref(),
                tool: &shown,
                target: Value::Object(Map::new()),
                dry_run: false,
                outcome: code,
                vendor_status: None,
                took: Duration::ZERO,
                correlation_id: cx.correlation_id.as_deref(),
            });
        }
    }

    /// Whether this engine serves `provider`'s tools: a vendor when it is configured, the
    /// inventory when any vendor is.
    pub fn serves(&self, provider: Provider) -> bool {
        provider.served_by(self.providers.iter().map(|p| p.spec.provider))
    }

    /// Runs one call of `op`. Every failure, a panic included, is an error envelope.
    pub async fn call(
        &self,
        op: &'static OperationSpec,
        args: Option<Map<String, Value>>,
        cx: &CallContext,
    ) -> CallOutcome {
        let started = Instant::now();
        let spec = op.provider.spec();
        let mut secrets = CallSecrets::default();
        // For the audit log: the names and ids as sent, and whether this is a dry run.
        let target = self
            .audit
            .as_ref()
            .map(|_| audit::target(op, args.as_ref()));
        let dry_run = op.mutates()
            && args
                .as_ref()
                .is_some_and(|a| a.get("dry_run") == Some(&Value::Bool(true)));
        let args = Value::Object(args.unwrap_or_default());
        let status = AtomicU16::new(0);
        let result = if self.serves(op.provider) {
            // Boxed: the call's state machine is several kB, and the runtime and rmcp move
            // the future that holds it; a box is allocated once and never copied.
            let run = AssertUnwindSafe(Box::pin(async {
                let mut shaped = match self.provider(op.provider) {
                    Some(provider) => {
                        self.shape(op, provider, args, &mut secrets, &status, cx)
                            .await?
                    }
                    None => self.inventory(op, args, cx).await?,
                };
                // Masked before the budget is applied: a mask can be longer than what it
                // hides, and the budget is of what the client receives.
                redact::clean_json(&mut shaped.value, Some(&secrets));
                self.fit(shaped)
            }))
            .catch_unwind();
            tokio::select! {
                biased;
                _ = cx.cancel.cancelled() => Err(ToolError::Cancelled),
                r = run => r.unwrap_or(Err(ToolError::Internal)),
            }
        } else {
            Err(ToolError::Invalid(crate::args::InvalidArgument::new(
                "name",
                format!("{} is not configured", spec.title),
            )))
        };
        // What the metrics and the audit log say of it: our code, the vendor's status, and
        // whether it was refused before anything was sent.
        let (outcome, failure) = match result {
            Ok(value) => {
                // A result that breaks its own declared schema makes official clients raise on
                // a call that may have succeeded: it becomes an error that says what differs.
                let declared = self.output_schemas.get(op.name);
                let problem = declared.and_then(|schema| schema::violation(&value, schema));
                match problem {
                    None => (
                        CallOutcome {
                            value,
                            is_error: false,
                            secret_needed: None,
                        },
                        None,
                    ),
                    Some(problem) => {
                        let err = ToolError::UnexpectedAnswer {
                            status: None,
                            what: format!("an answer this tool does not declare: {problem}"),
                        };
                        let failure = (err.kind(), None, false);
                        (
                            CallOutcome {
                                value: err.envelope(op, &secrets),
                                is_error: true,
                                secret_needed: None,
                            },
                            Some(failure),
                        )
                    }
                }
            }
            Err(err) => {
                let value = err.envelope(op, &secrets);
                tracing::info!(tool = op.name, error = %value["error"]["code"], "call failed");
                let failure = (err.kind(), err.vendor_status(), err.is_refusal());
                let secret_needed = match err {
                    ToolError::SecretNeeded { offered, .. } => Some(offered),
                    _ => None,
                };
                (
                    CallOutcome {
                        value,
                        is_error: true,
                        secret_needed,
                    },
                    Some(failure),
                )
            }
        };
        let code = failure.map_or("ok", |(code, _, _)| code);
        self.metrics.call(op.name, code);
        if let (Some(log), Some(target)) = (&self.audit, target)
            && (op.mutates() || failure.is_some_and(|(_, _, refused)| refused))
        {
            log.record(&audit::Entry {
                caller: cx.caller.as_ref(),
                tool: op.name,
                target: audit::finish_target(target, &secrets),
                dry_run,
                outcome: code,
                vendor_status: failure
                    .and_then(|(_, status, _)| status)
                    .or_else(|| Some(status.load(Ordering::Relaxed)).filter(|s| *s != 0)),
                took: started.elapsed(),
                correlation_id: cx.correlation_id.as_deref(),
            });
        }
        outcome
    }

    /// Runs a row for one vendor and shapes its answer (a list: one page of rows); the result
    /// budget is applied after.
    async fn shape(
        &self,
        op: &'static OperationSpec,
        provider: &ProviderClient,
        mut args: Value,
        secrets: &mut CallSecrets,
        status: &AtomicU16,
        cx: &CallContext,
    ) -> Result<Shaped, ToolError> {
        secrets.collect_from(&args);
        let dry_run = if op.mutates() {
            take_dry_run(&mut args)?
        } else {
            false
        };
        // A list call: its shared arguments, and the call as made (for the next page's).
        let called_with = args.clone();
        let listing = match op.listing {
            Some(listing) => Some((listing, ListArgs::take(&mut args, listing.paging)?)),
            None => None,
        };
        let resolved = match self
            .refs
            .resolve(&args, provider.spec.credential_keys, secrets)
        {
            Err(ToolError::UnknownSecret { field, name }) => {
                return Err(self.ask_for_secret(op, &args, field, name).await);
            }
            resolved => resolved?,
        };
        // Every secret of this call is known now: the matchers that mask its output are built
        // off the async workers before anything is sent or shown.
        redact::ready().await;
        secrets.ready().await;
        let parts = op.prepare(resolved)?;
        if dry_run {
            // The plan shows the references as written; the resolved values stay here.
            let shown = op.prepare(args).unwrap_or_else(|_| parts.clone());
            return Ok(Shaped::whole(self.plan(op, provider, &shown)?));
        }
        tracing::debug!(tool = op.name, "dispatching");
        let progress = if op.progress {
            cx.progress.as_deref()
        } else {
            None
        };
        let call = Call {
            provider,
            mask: (!secrets.is_empty()).then(|| secrets.matcher().clone()),
            status,
        };
        let value = self.execute(op, &call, parts, progress).await?;
        Ok(match listing {
            Some((listing, list_args)) => Shaped {
                value: listing::page(&listing, &list_args, value, &called_with),
                page: Some((list_args, called_with)),
            },
            None => Shaped::whole(value),
        })
    }

    /// The error for a reference without a value: a link to the intake page where the user
    /// enters it, when the intake is on and the call sends credentials; otherwise the unknown
    /// reference (whose hint says which variable to set).
    async fn ask_for_secret(
        &self,
        op: &'static OperationSpec,
        args: &Value,
        field: String,
        name: String,
    ) -> ToolError {
        let Some(intake) = self.intake.as_ref().filter(|_| op.sends_credentials()) else {
            return ToolError::UnknownSecret { field, name };
        };
        let (target, host) = crate::intake::target_of(args);
        let about = About {
            name: name.clone(),
            tool: op.name.to_string(),
            provider: op.provider.spec().title.to_string(),
            target,
            host,
        };
        match intake.offer(about).await {
            Ok(offered) => ToolError::SecretNeeded { field, offered },
            Err(e) => {
                tracing::warn!("no secret intake link: {e}");
                ToolError::UnknownSecret { field, name }
            }
        }
    }

    /// Keeps a result within the budget; a list page cut short points to what it left out.
    fn fit(&self, shaped: Shaped) -> Result<Value, ToolError> {
        let Shaped { mut value, page } = shaped;
        let rest = match page {
            Some(_) => "call again with the arguments in `next`",
            None => REST_HINT,
        };
        // A page cut short gains a `next` after the cut: room is kept for it.
        let reserve = match &page {
            Some((list_args, called_with)) => {
                let next = listing::next_args(called_with, u64::MAX, list_args.limit);
                budget::size_of(&next) + r#","next":"#.len()
            }
            None => 0,
        };
        let cut =
            budget::fit(&mut value, self.max_result_bytes, reserve, rest).map_err(|over| {
                ToolError::ResultTooLarge {
                    size: over.size,
                    budget: over.budget,
                }
            })?;
        // The budget cut the page short: the next page starts after what it kept.
        if let (Some(cut), Some((list_args, called_with))) = (cut, &page)
            && cut.at == "items"
        {
            value["next"] = listing::next_args(
                called_with,
                list_args.skip + cut.kept as u64,
                list_args.limit,
            );
        }
        Ok(value)
    }

    /// The inventory: every wanted vendor's inventory listing at once, each within its own
    /// deadline; rows tagged with their vendor, filtered, merged and paged. A vendor that fails
    /// is reported in `errors` and never fails the call.
    async fn inventory(
        &self,
        op: &'static OperationSpec,
        mut args: Value,
        cx: &CallContext,
    ) -> Result<Shaped, ToolError> {
        use crate::providers::inventory::InventoryFilter;
        let listing = op.listing.ok_or(ToolError::Internal)?;
        let called_with = args.clone();
        let list_args = ListArgs::take(&mut args, listing.paging)?;
        let filter = InventoryFilter::of(&op.prepare(args)?);
        let keep_detail = list_args.full || list_args.fields.is_some();
        let deadline = self.upstream.settings().request_timeout;
        let wanted = self
            .providers
            .iter()
            .filter(|p| p.spec.inventory.is_some() && filter.wants(p.spec.provider));
        let listed = futures_util::future::join_all(wanted.map(|p| async move {
            let listed =
                tokio::time::timeout(deadline, self.list_everything(p, keep_detail, cx)).await;
            (p.spec, listed)
        }))
        .await;
        let mut items = Vec::new();
        let mut errors = Vec::new();
        let error = |spec: &ProviderSpec, code: &str, message: String| json!({"provider": spec.id, "code": code, "message": message});
        for (spec, listed) in listed {
            match listed {
                Ok(Ok((rows, complete))) => {
                    let listed = rows.len();
                    items.extend(rows.into_iter().filter(|row| filter.keeps(row)));
                    if !complete {
                        errors.push(error(spec, "INCOMPLETE", format!(
                            "only its first {} data sources are listed here; page through the rest with {}",
                            listed,
                            spec.inventory.as_ref().map_or("its list tool", |i| i.tool)
                        )));
                    }
                }
                // The vendor's own error, as its list tool would have reported it.
                Ok(Err(envelope)) => errors.push(envelope),
                Err(_) => errors.push(error(
                    spec,
                    "TIMEOUT",
                    format!(
                        "{} did not list its data sources within {} s; the other platforms' rows are here",
                        spec.title,
                        deadline.as_secs_f64()
                    ),
                )),
            }
        }
        // A platform asked for by name that is not configured is said so, not silently empty.
        for spec in crate::providers::VENDORS {
            if filter.wants(spec.provider)
                && filter.providers.is_some()
                && self.provider(spec.provider).is_none()
            {
                errors.push(error(
                    spec,
                    "NOT_CONFIGURED",
                    format!("{} is not configured here (set {})", spec.title, spec.setup),
                ));
            }
        }
        let mut value = listing::page(
            &listing,
            &list_args,
            json!({ "items": items }),
            &called_with,
        );
        value["errors"] = Value::Array(errors);
        Ok(Shaped {
            value,
            page: Some((list_args, called_with)),
        })
    }

    /// Every data source of one vendor, page by page through its inventory listing, as merged
    /// rows (the vendor's compact row, its id first, the vendor's object under `detail`); and
    /// whether that is all of them. An error is its envelope's `error` object.
    async fn list_everything(
        &self,
        provider: &ProviderClient,
        keep_detail: bool,
        cx: &CallContext,
    ) -> Result<(Vec<Value>, bool), Value> {
        let source = provider.spec.inventory.as_ref().ok_or_else(internal)?;
        let op = crate::providers::operation(source.tool).ok_or_else(internal)?;
        let listing = op.listing.ok_or_else(internal)?;
        let mut rows = Vec::new();
        let mut kept_bytes = 0;
        let mut skip = 0;
        // Bounded however the vendor pages: so many requests, rows and bytes, then INCOMPLETE.
        for _ in 0..MAX_INVENTORY_PAGES {
            let mut args: Value = serde_json::from_str(source.args).map_err(|_| internal())?;
            args["detail"] = json!("full");
            args["skip"] = json!(skip);
            args["limit"] = json!(source.page);
            let mut secrets = CallSecrets::default();
            let status = AtomicU16::new(0);
            let shaped = self.shape(op, provider, args, &mut secrets, &status, cx);
            let mut page = match shaped.await {
                Ok(shaped) => shaped.value,
                Err(e) => return Err(e.envelope(op, &secrets)["error"].take()),
            };
            let items = match page["items"].take() {
                Value::Array(items) => items,
                _ => Vec::new(),
            };
            let shown = items.len();
            for item in items {
                let mut row = Map::new();
                row.insert("provider".into(), json!(provider.spec.id));
                if let Value::Object(compact) = (listing.row)(&item) {
                    row.extend(compact);
                }
                // The vendor's object only where the call shows it (detail: full, fields).
                if keep_detail {
                    row.insert("detail".into(), item);
                }
                let row = Value::Object(row);
                kept_bytes += serde_json::to_vec(&row).map_or(0, |b| b.len());
                rows.push(row);
            }
            if rows.len() >= MAX_INVENTORY_ROWS || kept_bytes >= MAX_INVENTORY_BYTES {
                let more = page["next"].is_object();
                return Ok((rows, !more));
            }
            match page["next"]["skip"].as_u64() {
                Some(next) if shown > 0 && next > skip => skip = next,
                _ => return Ok((rows, true)),
            }
        }
        Ok((rows, false))
    }

    /// Runs a row's flow: its read first, the lookup a create of non-unique names needs, its
    /// request (in the form the vendor accepts), and the wait for the work it started.
    async fn execute(
        &self,
        op: &'static OperationSpec,
        call: &Call<'_>,
        parts: RequestParts,
        progress: Option<&dyn ProgressSink>,
    ) -> Result<Value, ToolError> {
        let parts = match op.flow.read_first {
            Some(read) => {
                let read_parts = read_parts(&parts, read.query);
                let current = self
                    .send(call, Method::Get, read.path, &read_parts, true)
                    .await?;
                let current = expect_success(current)?;
                let current = current.json().cloned().unwrap_or(Value::Null);
                (read.then)(current, parts).map_err(ToolError::Precondition)?
            }
            None => parts,
        };
        let before = match &op.reconcile {
            Some(rec) if rec.before => self
                .lookup(rec, call, &parts)
                .await
                .ok()
                .filter(|(status, _)| (200..300).contains(status)),
            _ => None,
        };
        let polling = op.flow.then_poll.filter(|_| parts.wait.is_some());
        let sent = self.send_row(op, call, &parts);
        let sent = match polling {
            // The wait reports progress itself.
            Some(_) => sent.await,
            None => heartbeat(sent, progress, self.upstream.settings().heartbeat).await,
        };
        let answer = match sent {
            Ok(r) => expect_success(r).map_err(|e| e.of_request(op))?,
            Err(ToolError::Transport(cause)) if op.mutates() && cause.maybe_sent() => {
                return self.reconcile(op, call, &parts, cause, before).await;
            }
            Err(e) => return Err(e),
        };
        let Some(poll) = op.flow.then_poll else {
            return Ok(result_object(answer));
        };
        match poll.status_path {
            // The row reads a status: with a wait, read it again until the work is done.
            None => match polling {
                Some(_) => {
                    self.wait(op, call, poll, None, answer, &parts, progress)
                        .await
                }
                None => Ok(result_object(answer)),
            },
            // The row started a job: its id, and with a wait, its end.
            Some(_) => {
                let value = result_object(answer);
                let id = (poll.job_id)(&value).ok_or_else(|| ToolError::UnexpectedAnswer {
                    status: None,
                    what: "no job id in its answer".into(),
                })?;
                if polling.is_none() {
                    return Ok(json!({"job_id": id, "answer": value}));
                }
                let status = RequestParts::new().path("id", id.clone()).wait(parts.wait);
                let first = self
                    .send(
                        call,
                        Method::Get,
                        poll.status_path.unwrap_or(op.path),
                        &status,
                        true,
                    )
                    .await?;
                let first = expect_success(first)?;
                let job = self
                    .wait(op, call, poll, Some(&id), first, &status, progress)
                    .await?;
                let state = (poll.state)(&job);
                Ok(json!({"job_id": id, "status": state.status, "job": job}))
            }
        }
    }

    /// Sends a row's request; where its first form is uncertain and the vendor rejects it, the
    /// second, which is then used for the rest of the process.
    async fn send_row(
        &self,
        op: &'static OperationSpec,
        call: &Call<'_>,
        parts: &RequestParts,
    ) -> Result<HttpResponse, ToolError> {
        let retry_safe = op.retry_safe();
        let Some(fallback) = op.flow.fallback.filter(|_| retry_safe) else {
            return self.send(call, op.method, op.path, parts, retry_safe).await;
        };
        let second = || {
            let parts = match fallback.rewrite {
                Some(rewrite) => rewrite(parts.clone()),
                None => parts.clone(),
            };
            (fallback.path.unwrap_or(op.path), parts)
        };
        if self.learned_second_form(op) {
            let (path, parts) = second();
            return self.send(call, op.method, path, &parts, retry_safe).await;
        }
        let first = self
            .send(call, op.method, op.path, parts, retry_safe)
            .await?;
        if !(fallback.rejected)(first.status, first.json().unwrap_or(&Value::Null)) {
            return Ok(first);
        }
        tracing::info!(
            tool = op.name,
            status = first.status,
            "the vendor rejects the first form; sending the second"
        );
        let (path, parts) = second();
        let second = self.send(call, op.method, path, &parts, retry_safe).await?;
        if second.is_success() {
            self.learned
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(op.name);
        }
        Ok(second)
    }

    fn learned_second_form(&self, op: &OperationSpec) -> bool {
        self.learned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(op.name)
    }

    /// Runs a create's lookup row with arguments made from what the create sends.
    async fn lookup(
        &self,
        rec: &Reconcile,
        call: &Call<'_>,
        sent: &RequestParts,
    ) -> Result<(u16, Value), ToolError> {
        let row = crate::providers::operation(rec.lookup).ok_or(ToolError::Internal)?;
        let parts = row.prepare((rec.args)(sent))?;
        let r = self.send_row(row, call, &parts).await?;
        Ok((r.status, r.json().cloned().unwrap_or(Value::Null)))
    }

    /// After a write's answer was lost: a create is looked up and reported as created (a
    /// result), not created, or unknown (errors). Nothing is sent again.
    async fn reconcile(
        &self,
        op: &'static OperationSpec,
        call: &Call<'_>,
        sent: &RequestParts,
        cause: TransportError,
        before: Option<(u16, Value)>,
    ) -> Result<Value, ToolError> {
        tracing::warn!(tool = op.name, %cause, "the answer to a write was lost; not sending it again");
        let Some(rec) = &op.reconcile else {
            return Err(ToolError::OutcomeUnknown {
                cause,
                check_with: None,
            });
        };
        let found = match self.lookup(rec, call, sent).await {
            Ok((status, body)) => {
                let before = before.as_ref().map(|(_, b)| b);
                (rec.found)(status, &body, sent, before).map(|f| (f, body))
            }
            Err(_) => None,
        };
        match found {
            Some((true, body)) => Ok(json!({
                "outcome": "created",
                "message": format!("The answer was lost ({cause}), but a lookup finds what this call created: it exists now. Do not create it again."),
                "lookup": body,
            })),
            Some((false, _)) => Err(ToolError::NotCreated { cause }),
            None => Err(ToolError::OutcomeUnknown {
                cause,
                check_with: Some(rec.lookup),
            }),
        }
    }

    /// Reads a job's status until it finishes or the wait runs out, reporting progress.
    /// `first` is the status read already made; `id` names the job the row started (none when
    /// the row itself reads a status).
    #[allow(clippy::too_many_arguments)]
    async fn wait(
        &self,
        op: &'static OperationSpec,
        call: &Call<'_>,
        poll: Poll,
        id: Option<&str>,
        first: HttpResponse,
        parts: &RequestParts,
        progress: Option<&dyn ProgressSink>,
    ) -> Result<Value, ToolError> {
        let limit = parts.wait.unwrap_or_default();
        let (method, path) = match (id, poll.status_path) {
            (Some(_), Some(path)) => (Method::Get, path),
            _ => (op.method, op.path),
        };
        let started = Instant::now();
        let interval = self.upstream.settings().poll_interval;
        let mut reported = -1.0;
        let mut polls = 0u32;
        let mut answer = first;
        loop {
            let value = result_object(answer);
            let now = (poll.state)(&value);
            polls += 1;
            // Percent when the vendor gives it, else the poll count: always increasing.
            let (done, total) = match now.percent {
                Some(p) => (p, Some(100.0)),
                None => (f64::from(polls), None),
            };
            if let Some(sink) = progress
                && done > reported
            {
                // Vendor text, on its way to the client like a result: masked and stripped.
                let status = redact::scrub_text(&now.status, None);
                let status = redact::sanitize_text(&status);
                sink.report(done, total, format!("job {status}")).await;
                reported = done;
            }
            if now.finished {
                return Ok(value);
            }
            if started.elapsed() + interval > limit {
                return Err(ToolError::WaitTimeout {
                    status: now.status,
                    seconds: started.elapsed().as_secs_f64().ceil() as u64,
                });
            }
            tokio::time::sleep(interval).await;
            let r = self.send(call, method, path, parts, true).await?;
            answer = expect_success(r)?;
        }
    }

    /// Sends `method path` with `parts` through the call's authenticated send.
    async fn send(
        &self,
        call: &Call<'_>,
        method: Method,
        path: &str,
        parts: &RequestParts,
        retry_safe: bool,
    ) -> Result<HttpResponse, ToolError> {
        let mut request = call.provider.request(method, path, parts, retry_safe)?;
        request.mask = call.mask.clone();
        let response = call.provider.send(&self.upstream, &request).await?;
        call.status.store(response.status, Ordering::Relaxed);
        Ok(response)
    }

    /// The dry-run answer: the exact request(s) the call would send, credentials masked. Each
    /// is the provider client's description of that request, the same one a send uses.
    fn plan(
        &self,
        op: &OperationSpec,
        provider: &ProviderClient,
        parts: &RequestParts,
    ) -> Result<Value, ToolError> {
        let request = |method: Method, path: &str, parts: &RequestParts, retry_safe: bool| {
            provider
                .request(method, path, parts, retry_safe)
                .map(|r| r.plan())
        };
        let mut requests = Vec::new();
        let mut note = String::from("Nothing was sent.");
        if let Some(read) = op.flow.read_first {
            let read_parts = read_parts(parts, read.query);
            requests.push(request(Method::Get, read.path, &read_parts, true)?);
        }
        if let Some(rec) = op.reconcile.as_ref().filter(|r| r.before)
            && let Some(row) = crate::providers::operation(rec.lookup)
        {
            let lookup = row.prepare((rec.args)(parts))?;
            requests.push(request(row.method, row.path, &lookup, true)?);
            note.push_str(&format!(
                " {} is read first, so a create whose answer is lost can be told apart from one that already existed.",
                row.name
            ));
        }
        let main = match op.flow.read_first {
            // The body comes from the read: its headers are those of a JSON body.
            Some(read) if parts.body.is_none() => {
                let with_body = parts.clone().body(Value::Object(Map::new()));
                let mut main = request(op.method, op.path, &with_body, op.retry_safe())?;
                main.remove("body");
                main.insert("body_is".into(), json!(read.explain));
                main
            }
            Some(read) => {
                let mut main = request(op.method, op.path, parts, op.retry_safe())?;
                main.insert("body_is".into(), json!(read.explain));
                main
            }
            None => request(op.method, op.path, parts, op.retry_safe())?,
        };
        requests.push(main);
        if let Some(fallback) = op.flow.fallback {
            note.push(' ');
            note.push_str(fallback.note);
        }
        if let Some(poll) = op.flow.then_poll
            && parts.wait.is_some()
        {
            let target = poll.status_path.unwrap_or(op.path);
            note.push_str(&format!(
                " Then GET {target} is read until the job finishes or the wait ends."
            ));
        }
        Ok(json!({ "dry_run": true, "requests": requests, "note": note }))
    }
}

/// The parts of a flow's preliminary read: the same path parameters, the read's own query.
fn read_parts(parts: &RequestParts, query: &[(&'static str, &'static str)]) -> RequestParts {
    RequestParts {
        path_params: parts.path_params.clone(),
        query: query.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        body: None,
        wait: None,
    }
}

/// Awaits `fut`, reporting progress every `every` while it runs, when progress was asked for.
async fn heartbeat<T>(
    fut: impl Future<Output = T>,
    progress: Option<&dyn ProgressSink>,
    every: Duration,
) -> T {
    let Some(sink) = progress else {
        return fut.await;
    };
    let started = Instant::now();
    sink.report(0.0, None, "request sent".into()).await;
    tokio::pin!(fut);
    let mut ticks = 0u32;
    loop {
        tokio::select! {
            out = &mut fut => {
                sink.report(f64::from(ticks) + 1.0, None, "answer received".into()).await;
                return out;
            }
            _ = tokio::time::sleep(every) => {
                ticks += 1;
                let waited = started.elapsed().as_secs();
                sink.report(f64::from(ticks), None, format!("waiting for the vendor ({waited} s)")).await;
            }
        }
    }
}

fn take_dry_run(args: &mut Value) -> Result<bool, ToolError> {
    match args.as_object_mut().and_then(|m| m.remove("dry_run")) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(b),
        Some(_) => Err(ToolError::Invalid(crate::args::InvalidArgument::new(
            "dry_run",
            "wrong type: expected a boolean",
        ))),
    }
}

/// A 2xx answer whose body is JSON (or empty), else the error that says what came instead.
fn expect_success(response: HttpResponse) -> Result<HttpResponse, ToolError> {
    match response.status {
        200..=299 => match &response.body {
            // A login page or a proxy's HTML with 200 is not the vendor's answer.
            ResponseBody::Text(text) => Err(ToolError::UnexpectedAnswer {
                status: Some(response.status),
                what: format!("a body that is not JSON ({})", first_words(text)),
            }),
            _ => Ok(response),
        },
        300..=399 => Err(ToolError::Redirect {
            status: response.status,
            location: response.location,
        }),
        _ => Err(ToolError::Vendor(response)),
    }
}

/// The start of a text, on one line, for a message.
fn first_words(text: &str) -> String {
    // Masked before it is cut (see redact::excerpt).
    let text = redact::excerpt(text, 61, None);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .take(60)
        .collect();
    let one_line = one_line.trim();
    if text.chars().count() > 60 {
        format!("starts with \"{one_line}…\"")
    } else {
        format!("\"{one_line}\"")
    }
}

/// Where a bare-list answer's items are in its result object.
const BARE_LIST_POINTER: &str = "/items";

/// The structured result: objects as they are, anything else wrapped so the result is always
/// an object (`{"items": [...]}` for arrays).
fn result_object(response: HttpResponse) -> Value {
    match response.body {
        ResponseBody::Json(Value::Object(map)) => Value::Object(map),
        ResponseBody::Json(Value::Array(items)) => json!({ "items": items }),
        ResponseBody::Json(other) => json!({ "value": other }),
        ResponseBody::Text(text) => json!({ "status": response.status, "text": text }),
        ResponseBody::Empty => json!({ "status": response.status }),
    }
}

/// Shared handle used by the surfaces.
pub type SharedEngine = Arc<Engine>;

#[cfg(test)]
mod future_size {
    /// The runtime and rmcp move a call's future several times per request: the state
    /// machine is boxed inside it, so what moves stays small.
    #[test]
    fn a_call_future_stays_small() {
        let vars: std::collections::HashMap<String, String> = [
            ("BIGID_BASE_URL", "https://b.example"),
            ("BIGID_ACCESS_TOKEN", "t"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let engine = super::Engine::new(
            crate::providers::configure_all(&vars).unwrap(),
            super::EngineSettings::default(),
            std::sync::Arc::new(vars),
        );
        let op = crate::providers::operation("bigid_get_connector_template").unwrap();
        let cx = super::CallContext::default();
        let call = engine.call(op, None, &cx);
        assert!(
            std::mem::size_of_val(&call) <= 512,
            "{} bytes",
            std::mem::size_of_val(&call)
        );
    }
}
