//! Applying a plan: only if what the vendors hold is still what the plan was computed from
//! and the plan has not expired; creates and updates first, deletes last, a few at a time per
//! vendor; each change made by its tool's own call (validation, secret references, the
//! reconcile that never sends a lost create twice, the audit line); a report per source.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::now_ms;
use super::plan::{self, Action, Change, Plan};
use crate::engine::secret_refs::{self, Origin};
use crate::engine::{CallContext, Engine};
use crate::error::ToolError;
use crate::intake::Offered;
use crate::operation::Provider;
use crate::providers;

/// Changes made at once per vendor.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// What to do after a change fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Make no further change (those not yet started are reported skipped).
    #[default]
    Stop,
    /// Make every other change.
    Continue,
}

/// Why a plan is not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    Expired,
    /// What the vendors hold changed since the plan: which sources, and how.
    Changed(Vec<String>),
    /// A platform could not be read to check.
    Unreadable(Vec<Value>),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Expired => write!(f, "the plan has expired: plan again"),
            Refused::Changed(what) => write!(
                f,
                "what the vendors hold changed since the plan ({}): plan again",
                what.join("; ")
            ),
            Refused::Unreadable(_) => {
                write!(
                    f,
                    "a platform could not be read to check the plan still holds"
                )
            }
        }
    }
}

/// What became of one change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub provider: String,
    pub key: String,
    pub action: Action,
    /// `done`, `failed`, `skipped` (after a failure, with on_failure stop) or `not_made` (the
    /// plan says why).
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
}

impl Engine {
    /// Whether the vendors still hold what `plan` was computed from.
    pub async fn check_plan(&self, plan: &Plan, cx: &CallContext) -> Result<(), Refused> {
        if now_ms() >= plan.expires_ms {
            return Err(Refused::Expired);
        }
        let providers: BTreeSet<Provider> = plan
            .fingerprints
            .keys()
            .filter_map(|k| k.split(':').next())
            .filter_map(Provider::from_id)
            .collect();
        let current = self.current_state(providers.iter().copied(), cx).await;
        let mut now = BTreeMap::new();
        let mut unreadable = Vec::new();
        for (provider, objects) in &current {
            let spec = plan::spec_of(*provider).expect("a planned provider has a spec");
            match objects {
                Ok(objects) => {
                    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
                    for object in objects {
                        let key = plan::current_key(spec, object)
                            .unwrap_or_default()
                            .to_ascii_lowercase();
                        let exported = plan::exported(spec, *provider, object);
                        let n = counts.entry(key.clone()).or_default();
                        let id = match *n {
                            0 => format!("{}:{key}", provider.id()),
                            _ => format!("{}:{key}#{n}", provider.id()),
                        };
                        *n += 1;
                        now.insert(id, plan::fingerprint(&exported));
                    }
                }
                Err(e) => unreadable.push(e.clone()),
            }
        }
        if !unreadable.is_empty() {
            return Err(Refused::Unreadable(unreadable));
        }
        let mut changed = Vec::new();
        for (id, then) in &plan.fingerprints {
            // Several sources of one name: the first is recorded without `#`.
            let lookup = id.split('#').next().unwrap_or(id);
            let found = if id.contains('#') {
                now.get(id)
            } else {
                now.get(lookup)
            };
            match (then.as_str(), found) {
                ("absent", None) => {}
                ("absent", Some(_)) => changed.push(format!("{id} now exists")),
                (_, None) => changed.push(format!("{id} no longer exists")),
                (then, Some(now)) if then != now => changed.push(format!("{id} was changed")),
                _ => {}
            }
        }
        if changed.is_empty() {
            Ok(())
        } else {
            Err(Refused::Changed(changed))
        }
    }

    /// The secrets the plan's changes reference that have no value, each with the changes that
    /// need it: asked for (with the intake on, a link per secret and destination) before the
    /// first change is made, so an apply never stops halfway for a password.
    pub async fn secrets_needed(&self, plan: &Plan, cx: &CallContext) -> Vec<Needed> {
        let mut needed: Vec<Needed> = Vec::new();
        for change in &plan.changes {
            let (Some(tool), Some(args)) = (&change.tool, &change.args) else {
                continue;
            };
            let Some(op) = providers::operation(tool).filter(|op| cx.may_use(op)) else {
                continue;
            };
            let Some(error) = self.missing_secret(op, args, cx).await else {
                continue;
            };
            let (name, offered, unreadable) = match error {
                ToolError::SecretNeeded { offered, .. } => {
                    (offered.name.clone(), Some(*offered), None)
                }
                ToolError::UnknownSecret { name, .. } => (name, None, None),
                ToolError::SecretUnreadable {
                    name,
                    place,
                    reason,
                    ..
                } => (
                    name,
                    None,
                    Some(format!("could not be read from {place}: {reason}")),
                ),
                _ => continue,
            };
            let same = needed.iter_mut().find(|n| {
                n.name == name
                    && n.unreadable == unreadable
                    && match (&n.offered, &offered) {
                        (Some(a), Some(b)) => a.binding == b.binding,
                        (None, None) => true,
                        _ => false,
                    }
            });
            match same {
                Some(n) => n.keys.push(format!("{}:{}", change.provider, change.key)),
                None => needed.push(Needed {
                    name,
                    offered,
                    unreadable,
                    keys: vec![format!("{}:{}", change.provider, change.key)],
                }),
            }
        }
        needed
    }

    /// Where each secret the plan's changes reference will come from when it is applied, read
    /// as a dry run reads it: no value is read and nothing is asked now (no secret before the
    /// yes). `asks`: a secret found nowhere will be asked for on the intake page when applied.
    pub async fn planned_secrets(
        &self,
        plan: &Plan,
        cx: &CallContext,
        asks: bool,
    ) -> Vec<PlannedSecret> {
        let mut out: Vec<PlannedSecret> = Vec::new();
        for change in &plan.changes {
            let (Some(tool), Some(args)) = (&change.tool, &change.args) else {
                continue;
            };
            let Some(op) = providers::operation(tool).filter(|op| cx.may_use(op)) else {
                continue;
            };
            let Some(provider) = self.provider(op.provider) else {
                continue;
            };
            // A reference where none belongs is refused when the change is made.
            let Ok(placed) = secret_refs::references(args, provider.spec.credential_keys) else {
                continue;
            };
            let to = self.destination(provider, args, cx);
            let key = format!("{}:{}", change.provider, change.key);
            for reference in placed {
                let from = match self
                    .refs
                    .origins(std::slice::from_ref(&reference), &to, asks)
                    .await
                {
                    Ok(origins) => match &origins[0] {
                        Origin::AskedOnPage => "the intake page: the user is asked for it when the plan is applied, before its first change; nothing was asked now".to_string(),
                        origin => origin.describe(&reference.name),
                    },
                    Err(e) => format!("{}: {e}", e.kind()),
                };
                match out
                    .iter_mut()
                    .find(|s| s.name == reference.name && s.from == from)
                {
                    Some(s) if s.keys.contains(&key) => {}
                    Some(s) => s.keys.push(key.clone()),
                    None => out.push(PlannedSecret {
                        name: reference.name,
                        keys: vec![key.clone()],
                        from,
                    }),
                }
            }
        }
        out
    }

    /// Makes a plan's changes (after [`Engine::check_plan`]). Progress goes to `cx.progress`.
    pub async fn apply_plan(
        &self,
        plan: &Plan,
        on_failure: OnFailure,
        concurrency: usize,
        cx: &CallContext,
    ) -> Vec<Outcome> {
        let total = plan
            .changes
            .iter()
            .filter(|c| c.tool.is_some() && c.action != Action::Unchanged)
            .count();
        let done = AtomicUsize::new(0);
        let stopped = Arc::new(AtomicBool::new(false));
        let mut outcomes = Vec::new();
        // Per vendor, at the same time; within a vendor creates and updates, then deletes.
        let mut by_provider: BTreeMap<&str, Vec<&Change>> = BTreeMap::new();
        for change in &plan.changes {
            by_provider
                .entry(change.provider.as_str())
                .or_default()
                .push(change);
        }
        let runs: Vec<BoxFuture<'_, Vec<Outcome>>> = by_provider
            .into_values()
            .map(|changes| {
                Box::pin(self.make_all(
                    changes,
                    stopped.clone(),
                    on_failure,
                    concurrency,
                    &done,
                    total,
                    cx,
                )) as BoxFuture<'_, Vec<Outcome>>
            })
            .collect();
        for results in futures_util::future::join_all(runs).await {
            outcomes.extend(results);
        }
        // In the plan's order.
        let order: BTreeMap<(String, String, String), usize> = plan
            .changes
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    (c.provider.clone(), c.key.clone(), format!("{:?}", c.action)),
                    i,
                )
            })
            .collect();
        outcomes.sort_by_key(|o| {
            order
                .get(&(o.provider.clone(), o.key.clone(), format!("{:?}", o.action)))
                .copied()
                .unwrap_or(usize::MAX)
        });
        outcomes
    }

    /// One vendor's changes: creates and updates, then deletes, `concurrency` at a time.
    #[allow(clippy::too_many_arguments)]
    async fn make_all(
        &self,
        changes: Vec<&Change>,
        stopped: Arc<AtomicBool>,
        on_failure: OnFailure,
        concurrency: usize,
        done: &AtomicUsize,
        total: usize,
        cx: &CallContext,
    ) -> Vec<Outcome> {
        let mut results = Vec::new();
        for deletes in [false, true] {
            let batch: Vec<BoxFuture<'_, Outcome>> = changes
                .iter()
                .copied()
                .filter(|c| (c.action == Action::Delete) == deletes)
                .map(|change| {
                    let stopped = stopped.clone();
                    Box::pin(async move {
                        let outcome = self.make(change, &stopped, on_failure, cx).await;
                        if outcome.result == "done" || outcome.result == "failed" {
                            let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                            if let Some(sink) = &cx.progress {
                                sink.report(
                                    n as f64,
                                    Some(total as f64),
                                    format!("{n} of {total} changes made"),
                                )
                                .await;
                            }
                        }
                        outcome
                    }) as BoxFuture<'_, Outcome>
                })
                .collect();
            let made: Vec<Outcome> = futures_util::stream::iter(batch)
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
            results.extend(made);
        }
        results
    }

    fn make<'a>(
        &'a self,
        change: &'a Change,
        stopped: &'a AtomicBool,
        on_failure: OnFailure,
        cx: &'a CallContext,
    ) -> BoxFuture<'a, Outcome> {
        Box::pin(self.make_one(change, stopped, on_failure, cx))
    }

    async fn make_one(
        &self,
        change: &Change,
        stopped: &AtomicBool,
        on_failure: OnFailure,
        cx: &CallContext,
    ) -> Outcome {
        let outcome = |result: &'static str, error: Option<Value>| Outcome {
            provider: change.provider.clone(),
            key: change.key.clone(),
            action: change.action,
            result,
            error,
        };
        let (Some(tool), Some(args)) = (&change.tool, &change.args) else {
            return outcome(
                if change.action == Action::Unchanged || change.action == Action::Kept {
                    "unchanged"
                } else {
                    "not_made"
                },
                change.note.as_ref().map(|n| json!({"message": n})),
            );
        };
        if stopped.load(Ordering::SeqCst) {
            return outcome("skipped", None);
        }
        let Some(op) = providers::operation(tool) else {
            return outcome("failed", Some(json!({"code": "INTERNAL_ERROR"})));
        };
        if !cx.may_use(op) {
            if on_failure == OnFailure::Stop {
                stopped.store(true, Ordering::SeqCst);
            }
            return outcome(
                "failed",
                Some(json!({"code": "NOT_ALLOWED",
                "message": format!("{tool} is not offered here (read-only mode or --toolsets)")})),
            );
        }
        let cx = cx.nested();
        let result = self.call(op, args.as_object().cloned(), &cx).await;
        if result.is_error {
            if on_failure == OnFailure::Stop {
                stopped.store(true, Ordering::SeqCst);
            }
            let mut error = result.value["error"].clone();
            // The link for a secret to enter stays: the person enters it and applies again.
            if let Some(map) = error.as_object_mut() {
                map.retain(|k, _| {
                    matches!(k.as_str(), "code" | "message" | "hint" | "status" | "field")
                });
            }
            return outcome("failed", Some(error));
        }
        outcome("done", None)
    }
}

/// A secret a plan references: the changes (`provider:key`) that use it, and where its value
/// will come from (never the value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedSecret {
    pub name: String,
    #[serde(rename = "for")]
    pub keys: Vec<String>,
    pub from: String,
}

/// A secret an apply needs before it starts, and the changes (`provider:key`) that need it.
#[derive(Debug)]
pub struct Needed {
    pub name: String,
    /// Where the user enters it, when the intake is on.
    pub offered: Option<Offered>,
    /// Why its value, which is there (a file of the secrets directory, a keychain entry),
    /// cannot be read: entering it again would not help, making it readable does.
    pub unreadable: Option<String>,
    pub keys: Vec<String>,
}

impl Needed {
    /// As a client sees it: the link, why it cannot be read, or the variable to set.
    pub fn shown(&self) -> Value {
        if let Some(why) = &self.unreadable {
            return json!({"name": self.name, "for": self.keys, "unreadable": why});
        }
        match &self.offered {
            Some(o) => json!({"name": self.name, "url": o.url, "for": self.keys,
                "expires_in_seconds": o.expires.saturating_duration_since(std::time::Instant::now()).as_secs()}),
            None => json!({"name": self.name, "for": self.keys,
                "set": format!("DATASOURCE_MCP_SECRET_{}", self.name)}),
        }
    }
}

/// A report's counts by result.
pub fn tally(outcomes: &[Outcome]) -> Value {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in outcomes {
        *counts.entry(o.result).or_default() += 1;
    }
    json!(counts)
}
