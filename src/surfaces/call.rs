//! `datasource-mcp call <tool>`: one call of any tool from a terminal, a script or an agent
//! skill, through the engine every MCP call goes through (selection, validation, secret
//! references, dry run, redaction). The structured result goes to stdout as JSON; an error
//! result exits 1 with its envelope on stdout and a one-line summary on stderr.
//!
//! A secret reference without a value opens the intake page on a loopback listener of this
//! process: the link is printed on stderr, and the call runs once the value is entered there
//! (`--no-wait`: exit 2 at once, naming the variable to set, since the link dies with the
//! process).

use std::process::ExitCode;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};

use super::definition;
use super::server::Selection;
use crate::engine::audit::{Caller, Entry};
use crate::engine::{CallContext, Engine, ProgressSink};
use crate::intake::Intake;
use crate::operation::OperationSpec;
use crate::providers;
use crate::redact;

/// Exit code of an error result (the tool ran and failed).
pub const EXIT_TOOL_ERROR: u8 = 1;
/// Exit code of a command that could not run the tool (usage, configuration).
pub const EXIT_USAGE: u8 = 2;

#[derive(clap::Args, Debug)]
pub struct CallArgs {
    /// The tool, e.g. bigid_list_data_sources (`datasource-mcp tools` lists them).
    pub tool: String,
    /// The arguments as one JSON object.
    #[arg(long, value_name = "JSON")]
    pub args: Option<String>,
    /// Arguments as key=value; a dotted key nests (ds_connection.name=Orders). A value is
    /// JSON where the argument is not a string (limit=5, enabled=true, ids='["a"]').
    /// Given after --args, they override it.
    #[arg(value_name = "KEY=VALUE")]
    pub pairs: Vec<String>,
    /// When a secret reference has no value, exit 2 at once instead of waiting for it to be
    /// entered on the intake page.
    #[arg(long)]
    pub no_wait: bool,
}

/// The tool named on the command line, if the configuration offers it; otherwise why not.
pub fn resolve_tool(
    name: &str,
    engine: &Engine,
    selection: &Selection,
) -> Result<&'static OperationSpec, String> {
    let op = providers::operation(name)
        .ok_or_else(|| format!("unknown tool `{name}` (`datasource-mcp tools` lists them)"))?;
    if !engine.serves(op.provider) {
        let spec = op.provider.spec();
        return Err(format!(
            "{name}: {} is not configured; set {} (or add --sandbox to try it on simulated vendors)",
            spec.title, spec.setup
        ));
    }
    if !selection.allows(op) {
        let why = if selection.read_only && !op.hints.read_only {
            "read-only mode (--read-only / DATASOURCE_MCP_READ_ONLY) offers only tools that change nothing"
        } else {
            "it is left out by --toolsets / --tools"
        };
        return Err(format!("{name} is not offered: {why}"));
    }
    Ok(op)
}

/// The call's arguments: `--args` JSON, then each `key=value` set over it. Values are typed by
/// the tool's input schema, so `name=123` stays a string where a string is expected.
pub fn arguments(
    op: &OperationSpec,
    json: Option<&str>,
    pairs: &[String],
) -> Result<Map<String, Value>, String> {
    let mut args = match json {
        None => Map::new(),
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err("--args: must be a JSON object, e.g. '{\"limit\": 5}'".into()),
            Err(e) => return Err(format!("--args: not valid JSON: {e}")),
        },
    };
    if pairs.is_empty() {
        return Ok(args);
    }
    let tool = definition::tool(op);
    for pair in pairs {
        let Some((key, raw)) = pair.split_once('=') else {
            return Err(format!("`{pair}`: write arguments as key=value"));
        };
        // An error repeats the pair, but never a value given under a secret-like key.
        let shown = match key.rsplit('.').next() {
            Some(last) if redact::is_secret_key(last) => format!("{key}=***"),
            _ => pair.clone(),
        };
        let path: Vec<&str> = key.split('.').collect();
        if path.iter().any(|segment| segment.is_empty()) {
            return Err(format!("`{shown}`: empty name in `{key}`"));
        }
        let value = if wants_string(property_schema(&tool.input_schema, &path)) {
            Value::String(raw.to_string())
        } else {
            serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()))
        };
        set_path(&mut args, &path, value).map_err(|at| {
            format!("`{shown}`: `{at}` is already given a value that is not an object")
        })?;
    }
    Ok(args)
}

/// The schema of the argument at `path`, looking into nested objects and their variants.
fn property_schema<'a>(schema: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let variants = schema.get("anyOf").and_then(Value::as_array).into_iter();
    let candidates = std::iter::once(schema).chain(variants.flatten().filter_map(Value::as_object));
    for candidate in candidates {
        if let Some(prop) = candidate.get("properties").and_then(|p| p.get(*first)) {
            return match (rest.is_empty(), prop.as_object()) {
                (true, _) => Some(prop),
                (false, Some(nested)) => property_schema(nested, rest),
                (false, None) => None,
            };
        }
    }
    None
}

/// Whether a value given for this schema is text as written.
fn wants_string(schema: Option<&Value>) -> bool {
    let Some(schema) = schema else { return false };
    match schema.get("type") {
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        _ => schema
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|values| values.iter().all(Value::is_string)),
    }
}

/// Sets `path` in `args`, creating objects on the way. `Err` names the part of the path that
/// already holds something else.
fn set_path(args: &mut Map<String, Value>, path: &[&str], value: Value) -> Result<(), String> {
    let mut map = args;
    for (i, segment) in path.iter().enumerate() {
        if i + 1 == path.len() {
            map.insert(segment.to_string(), value);
            return Ok(());
        }
        let entry = map
            .entry(segment.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        map = entry.as_object_mut().ok_or_else(|| path[..=i].join("."))?;
    }
    Ok(())
}

/// Progress of a long call, on stderr (stdout carries only the result), when a person watches.
struct StderrProgress;

impl ProgressSink for StderrProgress {
    fn report(&self, progress: f64, total: Option<f64>, message: String) -> BoxFuture<'_, ()> {
        let line = match total {
            Some(total) => format!("datasource-mcp: [{progress}/{total}] {message}"),
            None => format!("datasource-mcp: {message}"),
        };
        eprintln!("{line}");
        Box::pin(async {})
    }
}

/// The one-line stderr summary of an error envelope (already redacted).
pub fn error_summary(tool: &str, envelope: &Value) -> String {
    let error = &envelope["error"];
    let text = |key: &str| error.get(key).and_then(Value::as_str);
    let mut line = format!("datasource-mcp: {tool} failed");
    if let Some(code) = text("code") {
        line.push_str(&format!(": {code}"));
    }
    if let Some(status) = error.get("status").and_then(Value::as_u64) {
        line.push_str(&format!(" (HTTP {status})"));
    }
    if let Some(message) = text("message") {
        line.push_str(&format!(": {message}"));
    }
    if let Some(hint) = text("hint") {
        line.push_str(&format!(" — {hint}"));
    }
    line.replace(['\n', '\r'], " ")
}

/// Runs the call on `engine` (the providers from the environment or a sandbox) and prints its
/// result. `intake`: where a secret without a value is entered (the engine's).
pub async fn run(
    call: &CallArgs,
    engine: Engine,
    selection: &Selection,
    intake: Option<Arc<Intake>>,
) -> ExitCode {
    let usage = |message: String| {
        eprintln!("datasource-mcp: {message}");
        ExitCode::from(EXIT_USAGE)
    };
    let op = match resolve_tool(&call.tool, &engine, selection) {
        Ok(op) => op,
        Err(e) => {
            // A tool left out or unknown is a refused call: the audit log records it.
            let code = match providers::operation(&call.tool) {
                None => Some("UNKNOWN_TOOL"),
                Some(op) if !selection.allows(op) => Some("NOT_ALLOWED"),
                Some(_) => None,
            };
            if let (Some(log), Some(code)) = (engine.audit(), code) {
                let shown: String = call.tool.chars().take(64).collect();
                log.record(&Entry {
                    caller: Some(&Caller::CommandLine),
                    tool: &shown,
                    target: serde_json::Value::Object(Map::new()),
                    dry_run: false,
                    outcome: code,
                    vendor_status: None,
                    took: std::time::Duration::ZERO,
                    correlation_id: None,
                    secrets: serde_json::Value::Null,
                    credential: None,
                });
            }
            return usage(e);
        }
    };
    let args = match arguments(op, call.args.as_deref(), &call.pairs) {
        Ok(a) => a,
        Err(e) => return usage(format!("{}: {e}", op.name)),
    };
    // Progress is for a person watching; a script reading stderr gets only the summary.
    let watched = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let cx = CallContext {
        progress: watched.then(|| Arc::new(StderrProgress) as Arc<dyn ProgressSink>),
        caller: Some(Caller::CommandLine),
        ..CallContext::default()
    };
    // Ctrl-C cancels the call (its vendor request is dropped) and reports it as cancelled.
    let cancel = cx.cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    let mut outcome = engine.call(op, Some(args.clone()), &cx).await;
    // Each secret without a value: its link on stderr, then the call again once it is entered.
    let mut rounds = 0;
    while let (Some(offered), Some(intake)) = (outcome.secret_needed.clone(), &intake)
        && rounds < 8
    {
        rounds += 1;
        let name = &offered.name;
        if call.no_wait {
            return usage(format!(
                "{}: the secret {name} has no value: set DATASOURCE_MCP_SECRET_{name}, or call without --no-wait to enter it on a one-time page",
                op.name
            ));
        }
        let minutes = offered
            .expires
            .saturating_duration_since(std::time::Instant::now())
            .as_secs()
            .div_ceil(60);
        eprintln!(
            "datasource-mcp: {} needs the secret {name}: open {} in a browser and enter it there (the link works once, for {minutes} min; Ctrl-C to stop)",
            op.name, offered.url
        );
        if !intake
            .wait(name, &offered.binding, offered.expires, &cx.cancel)
            .await
        {
            return usage(format!(
                "{}: no value for {name} was entered (the link expired or the wait was stopped); nothing was sent",
                op.name
            ));
        }
        eprintln!("datasource-mcp: received {name}; calling {}", op.name);
        outcome = engine.call(op, Some(args.clone()), &cx).await;
    }
    let text = serde_json::to_string_pretty(&outcome.value).unwrap_or_default();
    println!("{text}");
    if outcome.is_error {
        eprintln!("{}", error_summary(op.name, &outcome.value));
        return ExitCode::from(EXIT_TOOL_ERROR);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn op(name: &str) -> &'static OperationSpec {
        providers::operation(name).unwrap()
    }

    fn pairs(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pairs_are_typed_by_the_schema_and_nest_by_dots() {
        let args = arguments(
            op("bigid_create_data_source"),
            None,
            &pairs(&[
                "ds_connection.name=123",
                "ds_connection.type=rdb-mysql",
                "ds_connection.enabled=yes",
                "dry_run=true",
            ]),
        )
        .unwrap();
        assert_eq!(
            Value::Object(args),
            json!({
                "ds_connection": {"name": "123", "type": "rdb-mysql", "enabled": "yes"},
                "dry_run": true
            })
        );
    }

    #[test]
    fn numbers_and_lists_are_json_where_the_schema_says_so() {
        let args = arguments(
            op("bigid_list_data_sources"),
            None,
            &pairs(&["limit=5", "skip=0"]),
        )
        .unwrap();
        assert_eq!(Value::Object(args), json!({"limit": 5, "skip": 0}));
        let args = arguments(
            op("pdc_get_data_sources_by_ids"),
            None,
            &pairs(&[r#"ids=["a","b"]"#]),
        )
        .unwrap();
        assert_eq!(Value::Object(args), json!({"ids": ["a", "b"]}));
    }

    #[test]
    fn pairs_override_the_json_object() {
        let args = arguments(
            op("bigid_list_data_sources"),
            Some(r#"{"limit": 5, "skip": 10}"#),
            &pairs(&["limit=7"]),
        )
        .unwrap();
        assert_eq!(Value::Object(args), json!({"limit": 7, "skip": 10}));
    }

    #[test]
    fn bad_input_is_named() {
        let o = op("bigid_list_data_sources");
        assert_eq!(
            arguments(o, Some("[1]"), &[]).unwrap_err(),
            "--args: must be a JSON object, e.g. '{\"limit\": 5}'"
        );
        assert!(
            arguments(o, Some("{"), &[])
                .unwrap_err()
                .starts_with("--args: not valid JSON: ")
        );
        assert_eq!(
            arguments(o, None, &pairs(&["limit"])).unwrap_err(),
            "`limit`: write arguments as key=value"
        );
        assert_eq!(
            arguments(o, None, &pairs(&["a..b=1"])).unwrap_err(),
            "`a..b=1`: empty name in `a..b`"
        );
        assert_eq!(
            arguments(o, None, &pairs(&["limit=5", "limit.x=1"])).unwrap_err(),
            "`limit.x=1`: `limit` is already given a value that is not an object"
        );
    }

    #[test]
    fn errors_never_repeat_a_value_given_under_a_secret_key() {
        let o = op("bigid_create_data_source");
        assert_eq!(
            arguments(
                o,
                None,
                &pairs(&["ds_connection..password=hunter2-S3NT1NEL"])
            )
            .unwrap_err(),
            "`ds_connection..password=***`: empty name in `ds_connection..password`"
        );
        assert_eq!(
            arguments(
                o,
                None,
                &pairs(&["ds_connection=1", "ds_connection.password=hunter2-S3NT1NEL"])
            )
            .unwrap_err(),
            "`ds_connection.password=***`: `ds_connection` is already given a value that is not an object"
        );
    }

    #[test]
    fn the_summary_is_one_line() {
        let envelope = json!({"error": {"provider": "bigid", "status": 404, "code": "NOT_FOUND",
            "message": "no data source\nnamed x", "hint": "list them first"}});
        assert_eq!(
            error_summary("bigid_get_data_source", &envelope),
            "datasource-mcp: bigid_get_data_source failed: NOT_FOUND (HTTP 404): no data source named x — list them first"
        );
    }
}
