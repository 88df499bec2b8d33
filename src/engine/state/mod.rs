//! Many sources at once: a desired-state file listing each platform's sources in the vendor's
//! own field names, a plan of the differences with what the vendors hold now (create, update
//! field by field, unchanged, delete where a platform is fully managed), and an apply that makes
//! the plan's changes through the tools' own flows (a lost create's answer is looked up, never
//! sent again) and is safe to run again.

pub mod apply;
pub mod document;
pub mod plan;
mod tools;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{CallContext, Engine};
use crate::operation::Provider;
use plan::{Desired, Plan};

impl Engine {
    /// Every source a vendor holds, as its objects (masked), or the error that kept them
    /// from being read (a vendor whose list stops short is an error too: a plan needs all).
    pub async fn current_sources(
        &self,
        provider: Provider,
        cx: &CallContext,
    ) -> Result<Vec<Value>, Value> {
        let Some(client) = self.provider(provider) else {
            return Err(json!({"provider": provider.id(), "code": "NOT_CONFIGURED",
                "message": format!("{} is not configured here (set {})", provider.spec().title, provider.spec().setup)}));
        };
        let (rows, complete) = self.list_everything(client, true, cx).await?;
        if !complete {
            return Err(json!({"provider": provider.id(), "code": "INCOMPLETE",
                "message": "too many sources to read them all at once; plan a narrower file"}));
        }
        let exists: fn(&Value) -> bool =
            plan::spec_of(provider).map_or(|_| true, |spec| spec.exists);
        Ok(rows
            .into_iter()
            .map(|mut row| row["detail"].take())
            .filter(exists)
            .collect())
    }

    /// What each platform the file names holds now.
    pub async fn current_state(
        &self,
        providers: impl IntoIterator<Item = Provider>,
        cx: &CallContext,
    ) -> BTreeMap<Provider, Result<Vec<Value>, Value>> {
        let reads = providers
            .into_iter()
            .map(|p| async move { (p, self.current_sources(p, cx).await) });
        futures_util::future::join_all(reads)
            .await
            .into_iter()
            .collect()
    }

    /// The plan of `desired` against what the vendors hold now.
    pub async fn plan_state(&self, desired: &Desired, cx: &CallContext) -> Plan {
        let current = self
            .current_state(desired.platforms.iter().map(|p| p.provider), cx)
            .await;
        let id = crate::secret::random_token("plan-");
        let mut plan = plan::plan(desired, &current, id, now_ms());
        // A change this caller may not make is shown, never made.
        for change in &mut plan.changes {
            let refused = change
                .tool
                .as_deref()
                .and_then(crate::providers::operation)
                .is_some_and(|op| !cx.may_use(op));
            if refused {
                change.note = Some(format!(
                    "not offered here: {} (read-only mode or --toolsets)",
                    change.tool.take().unwrap_or_default()
                ));
                change.args = None;
            }
        }
        plan
    }

    /// What the configured vendors hold, as a desired-state document (credentials as
    /// references): applied to another tenant it reproduces the sources, applied to this one
    /// it changes nothing.
    pub async fn export_state(
        &self,
        only: Option<&[Provider]>,
        cx: &CallContext,
    ) -> (Value, Vec<Value>) {
        let wanted: Vec<Provider> = self
            .providers()
            .iter()
            .map(|p| p.spec.provider)
            .filter(|p| plan::spec_of(*p).is_some())
            .filter(|p| only.is_none_or(|only| only.contains(p)))
            .collect();
        let mut document = Map::new();
        document.insert("version".into(), json!(1));
        let mut errors = Vec::new();
        for (provider, current) in self.current_state(wanted, cx).await {
            let spec = plan::spec_of(provider).expect("filtered");
            match current {
                Ok(objects) => {
                    let mut entries: Vec<Value> = objects
                        .iter()
                        .map(|o| plan::exported(spec, provider, o))
                        .collect();
                    entries.sort_by_key(|e| plan::pointer(e, spec.key).map(Value::to_string));
                    let mut section = Map::new();
                    section.insert(spec.section.into(), Value::Array(entries));
                    document.insert(provider.id().into(), Value::Object(section));
                }
                Err(e) => errors.push(e),
            }
        }
        (Value::Object(document), errors)
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}
