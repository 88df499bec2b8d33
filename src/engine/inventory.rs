//! The inventory: every configured vendor's data sources in one list, each vendor within its
//! own deadline, a vendor that fails reported beside the others' rows.

use serde_json::{Map, Value, json};

use super::audit::Trail;
use super::{CallContext, Engine, Shaped, listing};
use crate::error::ToolError;
use crate::operation::{ListArgs, OperationSpec, Paging};
use crate::redact::{self, CallSecrets};
use crate::spec::ProviderSpec;
use crate::upstream::ProviderClient;

/// Most data sources the inventory lists from one platform, the most pages it asks for, and
/// the most bytes of rows it keeps: past any of them the platform is reported INCOMPLETE.
const MAX_INVENTORY_ROWS: usize = 10_000;
const MAX_INVENTORY_PAGES: usize = 100;
const MAX_INVENTORY_BYTES: usize = 16 * 1024 * 1024;

/// Most values a count_by answer names.
const MAX_COUNTS: usize = 200;

fn internal() -> Value {
    json!({"code": "INTERNAL_ERROR", "message": "the inventory has no listing for this platform"})
}

impl Engine {
    /// The inventory: every wanted vendor's inventory listing at once, each within its own
    /// deadline; rows tagged with their vendor, filtered, merged and paged. A vendor that fails
    /// is reported in `errors` and never fails the call.
    pub(super) async fn inventory(
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
        // Counted instead of listed: a figure per value, whatever the number of sources.
        if let Some(by) = filter.count_by {
            let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
            for row in &items {
                let value = match &row[by.key()] {
                    Value::Null => "(none)".to_string(),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                *counts.entry(value).or_default() += 1;
            }
            // A count per host of ten thousand sources still fits: the largest, the rest summed.
            if counts.len() > MAX_COUNTS {
                let mut by_size: Vec<(String, u64)> = counts.into_iter().collect();
                by_size.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                let rest: u64 = by_size[MAX_COUNTS..].iter().map(|(_, n)| n).sum();
                by_size.truncate(MAX_COUNTS);
                counts = by_size.into_iter().collect();
                counts.insert("(others)".into(), rest);
            }
            return Ok(Shaped::whole(json!({"items": [], "total": items.len(),
                "counts": counts, "errors": errors})));
        }
        let mut value = listing::page(
            &listing,
            &list_args,
            json!({ "items": items }),
            &called_with,
        )?;
        value["errors"] = Value::Array(errors);
        Ok(Shaped {
            value,
            page: Some((list_args, called_with)),
        })
    }

    /// Every data source of one vendor through its inventory listing, as merged rows (the
    /// vendor's compact row, its id first, the vendor's object under `detail`), masked; and
    /// whether that is all of them. Where the vendor pages, page by page; where it answers
    /// everything at once, one request. An error is its envelope's `error` object.
    pub(super) async fn list_everything(
        &self,
        provider: &ProviderClient,
        keep_detail: bool,
        cx: &CallContext,
    ) -> Result<(Vec<Value>, bool), Value> {
        let (mut rows, complete) = self.list_pages(provider, keep_detail, cx).await?;
        // Rows whose last test the vendor keeps elsewhere are completed (the first
        // MAX_COMPLETED_ROWS), so a filter on status finds the failing ones.
        let completion =
            crate::providers::operation(provider.spec.inventory.as_ref().map_or("", |i| i.tool))
                .and_then(|op| op.listing)
                .and_then(|listing| listing.completion);
        if let Some(completion) = completion {
            self.complete_rows(provider, &completion, &mut rows).await;
        }
        Ok((rows, complete))
    }

    /// list_everything's pages, as merged rows.
    pub(super) async fn list_pages(
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
        let mut add = |items: Vec<Value>, rows: &mut Vec<Value>| {
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
                let mut row = Value::Object(row);
                // Masked before it is filtered: a filter on what the caller would not see
                // tells it that value, a character at a time.
                redact::clean_json(&mut row, None);
                kept_bytes += serde_json::to_vec(&row).map_or(0, |b| b.len());
                rows.push(row);
                if rows.len() >= MAX_INVENTORY_ROWS || kept_bytes >= MAX_INVENTORY_BYTES {
                    return false;
                }
            }
            true
        };
        let args = || serde_json::from_str::<Value>(source.args).map_err(|_| internal());
        if listing.paging == Paging::Local {
            // The vendor answers everything at once: one request, however many rows.
            let items = self.fetch_items(op, provider, args()?).await?;
            let total = items.len();
            let complete = add(items, &mut rows) && rows.len() == total;
            return Ok((rows, complete));
        }
        // Bounded however the vendor pages: so many requests, rows and bytes, then INCOMPLETE.
        for _ in 0..MAX_INVENTORY_PAGES {
            let mut args = args()?;
            args["detail"] = json!("full");
            args["skip"] = json!(skip);
            args["limit"] = json!(source.page);
            let mut secrets = CallSecrets::default();
            let mut trail = Trail::default();
            let shaped = self.shape(op, provider, args, &mut secrets, &mut trail, cx);
            let mut page = match shaped.await {
                Ok(shaped) => shaped.value,
                Err(e) => return Err(e.envelope(op, &secrets)["error"].take()),
            };
            let items = match page["items"].take() {
                Value::Array(items) => items,
                _ => Vec::new(),
            };
            let shown = items.len();
            if !add(items, &mut rows) {
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

    /// Every item a list row's vendor answers with `args`, in one request.
    async fn fetch_items(
        &self,
        op: &'static OperationSpec,
        provider: &ProviderClient,
        mut args: Value,
    ) -> Result<Vec<Value>, Value> {
        let secrets = CallSecrets::default();
        let trail = Trail::default();
        let fail = |e: ToolError| e.envelope(op, &secrets)["error"].clone();
        let listing = op.listing.ok_or_else(internal)?;
        ListArgs::take(&mut args, listing.paging).map_err(|e| fail(e.into()))?;
        let parts = op.prepare(args).map_err(|e| fail(e.into()))?;
        let mut answer = self
            .run(
                op,
                provider,
                parts,
                &secrets,
                &trail.status,
                Default::default(),
            )
            .await
            .map_err(fail)?;
        listing::take_items(&listing, &mut answer).map_err(fail)
    }
}
