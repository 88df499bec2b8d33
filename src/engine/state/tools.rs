//! The tools over every platform that are not a list: plan a desired state, apply a plan,
//! export the current state, test many stored sources. Each row names its flow by its `path`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;

use serde_json::{Map, Value, json};

use super::apply::{self, OnFailure};
use super::document;
use super::plan::{self, Plan};
use crate::engine::audit::Caller;
use crate::engine::{CallContext, Engine, Shaped};
use crate::error::ToolError;
use crate::operation::{OperationSpec, Provider};
use crate::providers::inventory::{InventoryFilter, ROW_KEYS};
use crate::redact;

fn invalid(field: &str, reason: impl Into<String>) -> ToolError {
    ToolError::Invalid(crate::args::InvalidArgument::new(field, reason))
}

fn store_failed(e: crate::store::StoreError) -> ToolError {
    ToolError::UnexpectedAnswer {
        status: None,
        what: format!("no plan store: {e}"),
    }
}

/// Who a plan belongs to.
fn owner(cx: &CallContext) -> String {
    cx.caller
        .as_ref()
        .map_or_else(|| "none".into(), Caller::binding)
}

/// Where a caller's plan is kept: under its caller, so one caller's plans are counted (and
/// never found by another).
fn plan_key(cx: &CallContext, id: &str) -> String {
    format!("{}{id}", plans_of(cx))
}

fn plans_of(cx: &CallContext) -> String {
    let sum = ring::digest::digest(&ring::digest::SHA256, owner(cx).as_bytes());
    let short: String = sum.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("dsmcp:plan:{short}:")
}

/// Plans one caller may keep at once; a new one replaces the oldest.
const MAX_PLANS_PER_CALLER: usize = 16;

/// Stored sources one call tests (each may be a vendor job followed to its end).
const MAX_BATCH_TESTS: usize = 100;

/// Tests run at once.
const TEST_CONCURRENCY: usize = 4;

impl Engine {
    /// The tools over every platform, by the flow their row names.
    pub(in crate::engine) async fn across(
        &self,
        op: &'static OperationSpec,
        args: Value,
        cx: &CallContext,
    ) -> Result<Shaped, ToolError> {
        match op.path {
            "/plan" => self.plan_tool(op, args, cx).await,
            "/apply" => self.apply_tool(op, args, cx).await,
            "/export" => self.export_tool(op, args, cx).await,
            "/test" => self.test_tool(op, args, cx).await,
            _ => self.inventory(op, args, cx).await,
        }
    }

    async fn plan_tool(
        &self,
        op: &'static OperationSpec,
        args: Value,
        cx: &CallContext,
    ) -> Result<Shaped, ToolError> {
        let parts = op.prepare(args)?;
        let document = match parts.body.unwrap_or(Value::Null) {
            Value::String(text) => document::parse(&text)
                .map_err(|e| invalid("desired", format!("line {}: {}", e.line, e.message)))?,
            value => document::Document::of(value),
        };
        let desired = plan::check(&document, "desired").map_err(|errors| {
            let first = &errors[0];
            let field = format!("desired.{}", first.field);
            let more = match errors.len() {
                1 => String::new(),
                n => format!(
                    " (and {} more: {})",
                    n - 1,
                    errors[1..]
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            };
            invalid(&field, format!("{}{more}", first.message))
        })?;
        let plan = self.plan_state(&desired, cx).await;
        self.make_room_for_a_plan(cx).await?;
        let record = json!({"owner": owner(cx), "plan": plan});
        let ttl = Duration::from_millis(plan.expires_ms.saturating_sub(super::now_ms()));
        self.store()
            .put(&plan_key(cx, &plan.id), record.to_string().as_bytes(), ttl)
            .await
            .map_err(store_failed)?;
        Ok(Shaped::whole(shown_plan(&plan)))
    }

    /// Drops a caller's oldest plans past the limit (an agent that plans again and again
    /// never fills the store).
    async fn make_room_for_a_plan(&self, cx: &CallContext) -> Result<(), ToolError> {
        let keys = self
            .store()
            .keys(&plans_of(cx))
            .await
            .map_err(store_failed)?;
        if keys.len() < MAX_PLANS_PER_CALLER {
            return Ok(());
        }
        let mut aged = Vec::new();
        for key in keys {
            let created = match self.store().get(&key).await.map_err(store_failed)? {
                Some(bytes) => serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|r| r["plan"]["created_ms"].as_u64())
                    .unwrap_or(0),
                None => continue,
            };
            aged.push((created, key));
        }
        aged.sort();
        let excess = (aged.len() + 1).saturating_sub(MAX_PLANS_PER_CALLER);
        for (_, key) in aged.into_iter().take(excess) {
            self.store().delete(&key).await.map_err(store_failed)?;
        }
        Ok(())
    }

    async fn apply_tool(
        &self,
        op: &'static OperationSpec,
        mut args: Value,
        cx: &CallContext,
    ) -> Result<Shaped, ToolError> {
        let dry_run = match args.as_object_mut().and_then(|m| m.remove("dry_run")) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) => true,
            Some(_) => return Err(invalid("dry_run", "wrong type: expected a boolean")),
        };
        let parts = op.prepare(args)?;
        let body = parts.body.unwrap_or(Value::Null);
        let id = body["plan_id"].as_str().unwrap_or_default();
        let on_failure = match body["on_failure"].as_str() {
            Some("continue") => OnFailure::Continue,
            _ => OnFailure::Stop,
        };
        let unknown = || {
            invalid(
                "plan_id",
                "no such plan (plans last an hour, and are their caller's only): plan again",
            )
        };
        let record = self
            .store()
            .get(&plan_key(cx, id))
            .await
            .map_err(store_failed)?
            .ok_or_else(unknown)?;
        let record: Value = serde_json::from_slice(&record).map_err(|_| unknown())?;
        if record["owner"] != json!(owner(cx)) {
            return Err(unknown());
        }
        let plan: Plan = serde_json::from_value(record["plan"].clone()).map_err(|_| unknown())?;
        if dry_run {
            let calls: Vec<Value> = plan
                .changes
                .iter()
                .filter_map(|c| {
                    Some(
                        json!({"provider": c.provider, "key": c.key, "action": c.action,
                        "tool": c.tool.as_ref()?, "arguments": c.args}),
                    )
                })
                .collect();
            return Ok(Shaped::whole(
                json!({"dry_run": true, "plan_id": plan.id, "calls": calls,
                "note": "Nothing was sent. Each call is made as its tool would make it; the plan is checked against the vendors' state first."}),
            ));
        }
        if let Err(refused) = self.check_plan(&plan, cx).await {
            let detail = match &refused {
                apply::Refused::Unreadable(errors) => json!(errors),
                _ => Value::Null,
            };
            return Ok(Shaped::whole(json!({"plan_id": plan.id, "applied": false,
                "refused": refused.to_string(), "errors": detail})));
        }
        // Every missing secret is asked for before the first change: the plan stays, to be
        // applied again once they are entered.
        let needed = self.secrets_needed(&plan, cx).await;
        if !needed.is_empty() {
            let shown: Vec<Value> = needed.iter().map(apply::Needed::shown).collect();
            return Ok(Shaped::whole(json!({"plan_id": plan.id, "applied": false,
                "missing": shown,
                "note": "Nothing was changed. Ask the user to open each url and enter the secret there (values never pass through the conversation), or to set the variable named by `set`; then call this tool again with the same plan_id."})));
        }
        // Used once: a second apply would act on a state the first changed.
        let _ = self.store().delete(&plan_key(cx, id)).await;
        let outcomes = self
            .apply_plan(&plan, on_failure, apply::DEFAULT_CONCURRENCY, cx)
            .await;
        Ok(Shaped::whole(json!({"plan_id": plan.id, "applied": true,
            "summary": apply::tally(&outcomes), "outcomes": outcomes})))
    }

    async fn export_tool(
        &self,
        op: &'static OperationSpec,
        args: Value,
        cx: &CallContext,
    ) -> Result<Shaped, ToolError> {
        let parts = op.prepare(args)?;
        let only: Option<Vec<Provider>> = parts
            .body
            .as_ref()
            .and_then(|b| b["providers"].as_array())
            .map(|ids| {
                ids.iter()
                    .filter_map(|i| i.as_str())
                    .filter_map(Provider::from_id)
                    .collect()
            });
        let (document, errors) = self.export_state(only.as_deref(), cx).await;
        Ok(Shaped::whole(
            json!({"desired": document, "errors": errors}),
        ))
    }

    /// Tests every stored source that matches, with its stored credentials: one call, per
    /// source its name, host and outcome.
    async fn test_tool(
        &self,
        op: &'static OperationSpec,
        args: Value,
        cx: &CallContext,
    ) -> Result<Shaped, ToolError> {
        let parts = op.prepare(args)?;
        let body = parts.body.unwrap_or(Value::Null);
        let dry_run = body["dry_run"] == json!(true);
        let filter = InventoryFilter {
            providers: body["providers"].as_array().map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            }),
            name: body["name"].as_str().map(str::to_string),
            r#type: body["type"].as_str().map(str::to_string),
            ..InventoryFilter::default()
        };
        let wanted: Vec<Provider> = self
            .providers()
            .iter()
            .map(|p| p.spec.provider)
            .filter(|p| filter.wants(*p))
            .collect();
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        for provider in wanted {
            let Some(client) = self.provider(provider) else {
                continue;
            };
            match self.list_everything(client, true, cx).await {
                Ok((listed, _)) => rows.extend(listed.into_iter().filter(|r| filter.keeps(r))),
                Err(e) => errors.push(e),
            }
        }
        let mut tests = Vec::new();
        for row in &rows {
            let provider = row["provider"].as_str().and_then(Provider::from_id);
            let test = provider
                .and_then(crate::providers::checks)
                .and_then(|c| c.stored_test);
            let shown: Map<String, Value> = ROW_KEYS
                .iter()
                // The last outcome is not shown beside the new one.
                .filter(|k| !matches!(**k, "status" | "error" | "remedy" | "tested_at"))
                .filter_map(|k| {
                    row.get(*k)
                        .filter(|v| !v.is_null())
                        .map(|v| (k.to_string(), v.clone()))
                })
                .collect();
            tests.push((shown, test.map(|(tool, args)| (tool, args(&row["detail"])))));
        }
        if dry_run {
            let planned: Vec<Value> = tests
                .into_iter()
                .map(|(mut shown, test)| {
                    match test {
                        Some((tool, args)) => {
                            shown.insert("tool".into(), json!(tool));
                            shown.insert("arguments".into(), args);
                        }
                        None => {
                            shown.insert("connection".into(), json!("not testable"));
                        }
                    }
                    Value::Object(shown)
                })
                .collect();
            return Ok(Shaped::whole(
                json!({"dry_run": true, "tests": planned, "errors": errors,
                "note": "Nothing was sent. Each test is made with the source's stored credentials."}),
            ));
        }
        let total = tests.iter().filter(|(_, t)| t.is_some()).count();
        if total > MAX_BATCH_TESTS {
            return Err(invalid(
                "name",
                format!(
                    "{total} stored sources match; one call tests at most {MAX_BATCH_TESTS}: narrow providers, name or type"
                ),
            ));
        }
        let done = AtomicUsize::new(0);
        let runs: Vec<futures_util::future::BoxFuture<'_, Value>> = tests
            .into_iter()
            .map(|(shown, test)| self.test_one(shown, test, &done, total, cx))
            .collect();
        // A few at a time (each may be a vendor job followed to its end), in the list's order.
        let results: Vec<Value> = futures_util::stream::iter(runs)
            .buffered(TEST_CONCURRENCY)
            .collect()
            .await;
        let mut value = json!({"tests": results, "errors": errors});
        redact::clean_json(&mut value, None);
        Ok(Shaped::whole(value))
    }

    /// One source's test, as its row in the answer (its future named: it calls a tool, which
    /// could be this one).
    fn test_one<'a>(
        &'a self,
        shown: Map<String, Value>,
        test: Option<(&'static str, Value)>,
        done: &'a AtomicUsize,
        total: usize,
        cx: &'a CallContext,
    ) -> futures_util::future::BoxFuture<'a, Value> {
        Box::pin(self.tested(shown, test, done, total, cx))
    }

    async fn tested(
        &self,
        mut shown: Map<String, Value>,
        test: Option<(&'static str, Value)>,
        done: &AtomicUsize,
        total: usize,
        cx: &CallContext,
    ) -> Value {
        let Some((tool, op, args)) =
            test.and_then(|(tool, args)| Some((tool, crate::providers::operation(tool)?, args)))
        else {
            shown.insert("connection".into(), json!("not testable"));
            return Value::Object(shown);
        };
        if !cx.may_use(op) {
            shown.insert("connection".into(), json!("not tested"));
            shown.insert(
                "reason".into(),
                json!(format!("{tool} is not offered here (--toolsets)")),
            );
            return Value::Object(shown);
        }
        let outcome = self.call(op, args.as_object().cloned(), &cx.nested()).await;
        let verdict = match crate::providers::checks(op.provider) {
            Some(checks) => (checks.connection)(&outcome.value, outcome.is_error),
            None => crate::spec::Connection::unknown("no test"),
        };
        shown.insert("connection".into(), json!(verdict.works));
        if let Some(why) = verdict.why {
            shown.insert("reason".into(), json!(why));
        }
        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(sink) = &cx.progress {
            sink.report(
                n as f64,
                Some(total as f64),
                format!("{n} of {total} tested"),
            )
            .await;
        }
        Value::Object(shown)
    }
}

/// A plan as a client sees it: its id, until when, the counts, and each change.
pub fn shown_plan(plan: &Plan) -> Value {
    json!({"plan_id": plan.id, "expires_at": crate::engine::audit::rfc3339(
            std::time::UNIX_EPOCH + Duration::from_millis(plan.expires_ms)),
        "summary": plan.summary(), "changes": plan.changes, "errors": plan.errors,
        "changes_anything": plan.changes_anything()})
}
