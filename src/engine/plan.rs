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
