//! The dry run: the exact request(s) a call would send, as the provider client describes them
//! to a send, credentials masked. Nothing is sent.

use serde_json::{Map, Value, json};

use super::Engine;
use super::flows::read_parts;
use super::secret_refs::{Origin, PlacedReference};
use crate::error::ToolError;
use crate::operation::OperationSpec;
use crate::request::{Method, RequestParts};
use crate::upstream::ProviderClient;

impl Engine {
    /// The dry-run answer: the exact request(s) the call would send, credentials masked. Each
    /// is the provider client's description of that request, the same one a send uses.
    pub(super) fn plan(
        &self,
        op: &OperationSpec,
        provider: &ProviderClient,
        parts: &RequestParts,
        references: &[PlacedReference],
        origins: &[Origin],
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
        // Where a status read may still show earlier work, the status is read before the start.
        if let Some(poll) = op.flow.then_poll.filter(|_| parts.wait.is_some())
            && let (Some(_), Some(path)) = (poll.stale, poll.status_path)
            && let Some(id) = (poll.job_id)(&Value::Null, parts)
        {
            let status = RequestParts::new().path("id", id);
            requests.push(request(Method::Get, path, &status, true)?);
            note.push_str(&format!(
                " GET {path} is read first, to tell the work this call starts from earlier work."
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
        let mut plan = json!({ "dry_run": true, "requests": requests, "note": note });
        // Where each secret goes, how its value will be written there, and where it will come
        // from (never the value).
        if !references.is_empty() {
            plan["references"] = references
                .iter()
                .zip(origins)
                .map(|(r, from)| {
                    json!({"field": r.field, "reference": format!("${{secret:{}}}", r.name),
                        "written": r.placement.describe(), "from": from.describe(&r.name)})
                })
                .collect();
        }
        Ok(plan)
    }
}

impl Engine {
    /// A create's dry run names the connection fields its entries lack, where the vendor says
    /// which a type needs (BigID's template: read, never a change). A vendor that cannot say
    /// gives nothing.
    pub(super) async fn missing_fields(
        &self,
        provider: &ProviderClient,
        args: &Value,
    ) -> Vec<Value> {
        let Some(state) = crate::providers::state(provider.spec.provider) else {
            return Vec::new();
        };
        let Some(needs) = &state.needs else {
            return Vec::new();
        };
        let Some(op) = crate::providers::operation(needs.tool) else {
            return Vec::new();
        };
        let mut missing = Vec::new();
        for (at, entry) in create_entries(state, args) {
            let Some(parts) = (needs.args)(entry).and_then(|a| op.prepare(a).ok()) else {
                continue;
            };
            let secrets = crate::redact::CallSecrets::default();
            let status = std::sync::atomic::AtomicU16::new(0);
            let Ok(answer) = self
                .run(op, provider, parts, &secrets, &status, Default::default())
                .await
            else {
                continue;
            };
            for (field, why) in (needs.missing)(entry, &answer) {
                missing.push(json!({"field": under(&at, &field), "why": why}));
            }
        }
        missing
    }
}

/// The entries a create's arguments hold (`create_at`: `ds_connection`, `data_sources[0]` for
/// a list of them, or `""` for the arguments themselves), each with the path its fields are
/// named under in an argument error (`ds_connection`, `data_sources[1]`, `""`).
fn create_entries<'a>(state: &crate::spec::StateSpec, args: &'a Value) -> Vec<(String, &'a Value)> {
    match state.create_at.split_once('[') {
        Some((list, _)) => args[list]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, entry)| (format!("{list}[{i}]"), entry))
            .collect(),
        None if state.create_at.is_empty() => vec![(String::new(), args)],
        None => vec![(state.create_at.to_string(), &args[state.create_at])],
    }
}

/// `field` under an entry's path.
fn under(at: &str, field: &str) -> String {
    match at.is_empty() {
        true => field.to_string(),
        false => format!("{at}.{field}"),
    }
}

/// The listing of a platform's data-source list (its compact row is what a create is compared
/// by and named from).
fn source_listing(spec: &crate::spec::ProviderSpec) -> Option<crate::operation::Listing> {
    spec.inventory
        .as_ref()
        .and_then(|i| crate::providers::operation(i.tool))
        .and_then(|op| op.listing)
}

/// What makes two sources look like the same one: a name that differs only in case, spaces or
/// punctuation, or the same host and database. (Also how a name that found nothing is compared
/// with the names there are.)
pub(super) fn squeezed(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

impl Engine {
    /// near_duplicates, boxed: it lists through `shape`, which calls it.
    pub(super) fn near_duplicates_of<'a>(
        &'a self,
        provider: &'a ProviderClient,
        args: &'a Value,
        cx: &'a super::CallContext,
    ) -> futures_util::future::BoxFuture<'a, Vec<Value>> {
        Box::pin(self.near_duplicates(provider, args, cx))
    }

    /// A create's dry run warns of sources already at the vendor that look like the ones it
    /// would make (a duplicate is what a create must never leave behind). The vendor's list is
    /// read (a read, never a change); a vendor that cannot list gives no warning.
    async fn near_duplicates(
        &self,
        provider: &ProviderClient,
        args: &Value,
        cx: &super::CallContext,
    ) -> Vec<Value> {
        let Some(state) = crate::providers::state(provider.spec.provider) else {
            return Vec::new();
        };
        let Some(listing) = source_listing(provider.spec) else {
            return Vec::new();
        };
        let key = |entry: &Value| {
            state
                .key
                .split('.')
                .try_fold(entry, |v, k| v.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let Ok((rows, _)) = self.list_pages(provider, false, cx).await else {
            return Vec::new();
        };
        let text = |v: &Value| v.as_str().map(str::to_lowercase);
        let mut warnings = Vec::new();
        for (_, entry) in create_entries(state, args) {
            let name = key(entry).unwrap_or_default();
            let made = (listing.row)(entry);
            for row in &rows {
                let existing = row["name"].as_str().unwrap_or_default();
                let why = if existing == name {
                    "the same name"
                } else if !name.is_empty() && squeezed(existing) == squeezed(&name) {
                    "the same name but for case, spaces or punctuation"
                } else if text(&made["host"]).is_some()
                    && text(&made["host"]) == text(&row["host"])
                    && text(&made["database"]).is_some()
                    && text(&made["database"]) == text(&row["database"])
                {
                    "the same host and database"
                } else {
                    continue;
                };
                warnings.push(json!({"name": name, "existing": existing, "id": row["id"],
                    "why": why}));
            }
        }
        warnings
    }
}

/// A name for a create whose name is missing (`field` is where the error says it is missing),
/// made from what the entry says it connects to: its database, host and type, in lower case
/// with dashes (`orders-rdb-mysql`). `None` when the field is not the entry's name or the entry
/// says nothing to name it by.
pub(super) fn proposed_name(op: &OperationSpec, args: &Value, field: &str) -> Option<String> {
    let state = crate::providers::state(op.provider)?;
    let (_, entry) = create_entries(state, args)
        .into_iter()
        .find(|(at, _)| under(at, state.key) == field)?;
    let listing = source_listing(op.provider.spec())?;
    let row = (listing.row)(entry);
    let kind = ["type", "databaseType", "datasourceType"]
        .iter()
        .find_map(|k| entry[*k].as_str().or_else(|| args[*k].as_str()));
    // DataBrain's connection fields sit in its credentials.
    let field = |k: &str| {
        row[k]
            .as_str()
            .or_else(|| entry[k].as_str())
            .or_else(|| entry["credentials"][k].as_str())
    };
    let parts: Vec<String> = [
        field("database"),
        field("host").map(|h| h.split('.').next().unwrap_or(h)),
        kind,
    ]
    .into_iter()
    .flatten()
    .map(|p| {
        p.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .trim_matches('-')
            .to_string()
    })
    .filter(|p| !p.is_empty())
    .collect();
    let mut parts = parts;
    if parts.len() == 1 {
        parts.push(state.noun.replace(' ', "-"));
    }
    (!parts.is_empty()).then(|| parts.join("-").chars().take(64).collect())
}
