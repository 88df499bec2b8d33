//! What becomes of a call once it has run: its result checked against the tool's declared
//! schema, or its error as the envelope (within the result budget), counted in the metrics,
//! and written to the audit log when it changed something, was refused, or sent a secret.

use std::time::Instant;

use serde_json::Value;

use super::audit::{self, Trail};
use super::{CallContext, CallOutcome, Engine, budget};
use crate::error::ToolError;
use crate::operation::OperationSpec;
use crate::redact::CallSecrets;
use crate::schema;

impl Engine {
    pub(super) fn conclude(
        &self,
        op: &'static OperationSpec,
        result: Result<Value, ToolError>,
        secrets: &CallSecrets,
        trail: &Trail,
        cx: &CallContext,
        started: Instant,
    ) -> CallOutcome {
        // A result that breaks its own declared schema makes official clients raise on a call
        // that may have succeeded: it becomes an error that says what differs.
        let result = result.and_then(|value| {
            let declared = self.output_schemas.get(op.name);
            match declared.and_then(|schema| schema::violation(&value, schema)) {
                None => Ok(value),
                Some(problem) => Err(ToolError::UnexpectedAnswer {
                    status: None,
                    what: format!("an answer this tool does not declare: {problem}"),
                }),
            }
        });
        let (outcome, failure) = match result {
            Ok(value) => (
                CallOutcome {
                    value,
                    is_error: false,
                    secret_needed: None,
                },
                None,
            ),
            Err(err) => {
                let mut value = err.envelope(op, secrets);
                if matches!(trail.credential, Some("own" | "own+service")) {
                    own_credential_hint(op, &mut value);
                }
                budget::fit_error(&mut value, self.max_result_bytes);
                tracing::info!(tool = op.name, error = %value["error"]["code"], "call failed");
                let failure = (err.kind(), err.vendor_status(), err.is_refusal());
                let secret_needed = match err {
                    ToolError::SecretNeeded { offered, .. } => Some(*offered),
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
        let refused = failure.is_some_and(|(_, _, refused)| refused);
        if let (Some(log), Some(target)) = (&self.audit, &trail.target)
            && (op.mutates() || refused || !trail.secrets.is_empty())
        {
            log.record(&audit::Entry {
                caller: cx.caller.as_ref(),
                tool: op.name,
                target: audit::finish_target(target.clone(), secrets),
                dry_run: trail.dry_run,
                outcome: code,
                vendor_status: failure
                    .and_then(|(_, status, _)| status)
                    .or_else(|| trail.vendor_status()),
                took: started.elapsed(),
                correlation_id: cx.correlation_id.as_deref(),
                secrets: Value::Array(trail.secrets.clone()),
                credential: trail.credential,
            });
        }
        outcome
    }
}

/// A vendor that refuses the caller's own credential (per-user mode): the hint names theirs and
/// how a person replaces it, not the server's variables, which are not the cause.
fn own_credential_hint(op: &OperationSpec, value: &mut Value) {
    // Across platforms, each platform's own answer says which failed; no one credential to name.
    if !op.provider.is_vendor() {
        return;
    }
    let error = &mut value["error"];
    let refused = error["code"] == "AUTHENTICATION_FAILED" || error["status"] == 401;
    let forbidden = error["status"] == 403;
    if !refused && !forbidden {
        return;
    }
    let spec = op.provider.spec();
    let variable = super::credentials::personal_variable(spec).unwrap_or("credential");
    error["hint"] = Value::String(if refused {
        format!(
            "{} refused the user's own {variable}: a person replaces it with the `remove` then the `give` link of the resource datasource-mcp://me/credentials (never in the chat); the server's settings are not the cause",
            spec.title
        )
    } else {
        format!(
            "the user's own {} credential lacks permission for this operation: the user's role at {} decides what they may do",
            spec.title, spec.title
        )
    });
}
