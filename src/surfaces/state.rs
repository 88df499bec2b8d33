//! The desired-state commands: `state` writes what the vendors hold as a file, `plan FILE`
//! prints (and keeps) the plan of a file, `apply PLAN` makes a kept plan's changes. The same
//! engine as the MCP tools (inventory_plan_changes, inventory_apply_plan, inventory_export_state).

use std::path::Path;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::engine::state::apply::{self, OnFailure};
use crate::engine::state::document;
use crate::engine::state::plan::{self, Action, Plan};
use std::sync::Arc;

use super::server::Selection;
use crate::engine::audit::{Caller, Entry};
use crate::engine::{CallContext, Engine, EngineSettings, ProgressSink};
use crate::intake::Intake;
use crate::operation::Provider;

/// `plan` exits 0 when nothing would change, 3 when something would.
pub const EXIT_CHANGES: u8 = 3;
const EXIT_USAGE: u8 = 2;

fn usage(message: &str) -> ExitCode {
    eprintln!("datasource-mcp: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// Writes the current state as a desired-state file (`.json` for JSON, else YAML), or to
/// stdout.
pub async fn export(
    engine: &Engine,
    out: Option<&Path>,
    only: Option<&[Provider]>,
    cx: &CallContext,
) -> ExitCode {
    let (document, errors) = engine.export_state(only, cx).await;
    for e in &errors {
        eprintln!(
            "datasource-mcp: {} not exported: {}",
            e["provider"].as_str().unwrap_or("?"),
            e["message"].as_str().unwrap_or("")
        );
    }
    let json = out.is_some_and(|p| p.extension().is_some_and(|e| e == "json"));
    let text = if json {
        serde_json::to_string_pretty(&document).unwrap_or_default() + "\n"
    } else {
        document::to_yaml(&document)
    };
    match out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                return usage(&format!("cannot write {}: {e}", path.display()));
            }
            eprintln!("datasource-mcp: wrote {}", path.display());
        }
        None => print!("{text}"),
    }
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Plans a file: prints the plan, and on stderr where each secret it references will come from
/// (`asks`: one found nowhere is asked for on the intake page by `apply`); with `out`, keeps it
/// for `apply`.
pub async fn plan(
    engine: &Engine,
    file: &Path,
    out: Option<&Path>,
    asks: bool,
    cx: &CallContext,
) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => return usage(&format!("cannot read {}: {e}", file.display())),
    };
    let desired = match plan::read(&text, &file.display().to_string()) {
        Ok(d) => d,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            return usage(&format!(
                "{} problem(s) in {}; nothing was sent",
                errors.len(),
                file.display()
            ));
        }
    };
    let plan = engine.plan_state(&desired, cx).await;
    print!("{}", render_plan(&plan));
    // Where each secret will come from, asking for none (no secret before the yes).
    for secret in engine.planned_secrets(&plan, cx, asks).await {
        eprintln!(
            "datasource-mcp: the secret {} (for {}) will come from {}",
            secret.name,
            secret.keys.join(", "),
            secret.from
        );
    }
    for e in &plan.errors {
        eprintln!(
            "datasource-mcp: {} not planned: {}",
            e["provider"].as_str().unwrap_or("?"),
            e["message"].as_str().unwrap_or("")
        );
    }
    if let Some(out) = out {
        let text = serde_json::to_string_pretty(&plan).unwrap_or_default();
        if let Err(e) = write_private(out, &text) {
            return usage(&format!("cannot write {}: {e}", out.display()));
        }
        eprintln!(
            "datasource-mcp: plan written to {} (apply it within the hour: datasource-mcp apply {})",
            out.display(),
            out.display()
        );
    }
    if !plan.errors.is_empty() {
        return ExitCode::from(1);
    }
    if plan.changes_anything() {
        ExitCode::from(EXIT_CHANGES)
    } else {
        ExitCode::SUCCESS
    }
}

/// Applies a kept plan: refused (exit 2) if it expired or the vendors' state changed since;
/// exit 1 if a change failed. A secret without a value is asked for first (its link on stderr,
/// when `intake` is given), before any change is made.
pub async fn apply(
    engine: &Engine,
    file: &Path,
    on_failure: OnFailure,
    intake: Option<&Arc<Intake>>,
    cx: &CallContext,
) -> ExitCode {
    let plan: Plan = match std::fs::read_to_string(file)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => return usage(&format!("{} is not a plan: {e}", file.display())),
    };
    if let Err(refused) = engine.check_plan(&plan, cx).await {
        return usage(&format!("not applied: {refused}"));
    }
    // Each secret without a value, before the first change; a few rounds, since a change
    // with two missing secrets shows the second once the first is entered.
    for _ in 0..16 {
        let needed = engine.secrets_needed(&plan, cx).await;
        if needed.is_empty() {
            break;
        }
        let unanswerable: Vec<&apply::Needed> = needed
            .iter()
            .filter(|n| n.offered.is_none() || intake.is_none() || n.unreadable.is_some())
            .collect();
        if !unanswerable.is_empty() {
            for n in &unanswerable {
                match &n.unreadable {
                    Some(why) => eprintln!(
                        "datasource-mcp: the secret {} (needed for {}) {why}",
                        n.name,
                        n.keys.join(", ")
                    ),
                    None => eprintln!(
                        "datasource-mcp: the secret {} has no value (needed for {}): set DATASOURCE_MCP_SECRET_{}",
                        n.name,
                        n.keys.join(", "),
                        n.name
                    ),
                }
            }
            let how = if intake.is_none() {
                " (or, unless the intake page is off, apply without --no-wait to enter them in a browser)"
            } else {
                ""
            };
            let unreadable = unanswerable
                .iter()
                .filter(|n| n.unreadable.is_some())
                .count();
            let unset = unanswerable.len() - unreadable;
            let mut why = Vec::new();
            if unset > 0 {
                why.push(format!("{unset} secret(s) have no value{how}"));
            }
            if unreadable > 0 {
                why.push(format!("{unreadable} secret(s) cannot be read"));
            }
            return usage(&format!(
                "not applied: {}; nothing was changed",
                why.join(", ")
            ));
        }
        for n in &needed {
            let (Some(offered), Some(intake)) = (n.offered.as_ref(), intake) else {
                continue;
            };
            let minutes = offered
                .expires
                .saturating_duration_since(std::time::Instant::now())
                .as_secs()
                .div_ceil(60);
            eprintln!(
                "datasource-mcp: the plan needs the secret {} (for {}): open {} in a browser and enter it there (the link works once, for {minutes} min; Ctrl-C to stop)",
                n.name,
                n.keys.join(", "),
                offered.url
            );
            if !intake
                .wait(&n.name, &offered.binding, offered.expires, &cx.cancel)
                .await
            {
                return usage(&format!(
                    "not applied: no value for {} was entered (the link expired or the wait was stopped); nothing was changed",
                    n.name
                ));
            }
            eprintln!("datasource-mcp: received {}", n.name);
        }
    }
    let outcomes = engine
        .apply_plan(&plan, on_failure, apply::DEFAULT_CONCURRENCY, cx)
        .await;
    let mut failed = 0;
    for o in &outcomes {
        let what = match o.result {
            "failed" => {
                failed += 1;
                let e = o.error.clone().unwrap_or(Value::Null);
                let mut said = String::from("failed:");
                if let Some(code) = e["code"].as_str() {
                    said.push_str(&format!(" {code}"));
                }
                if let Some(status) = e["status"].as_u64() {
                    said.push_str(&format!(" (HTTP {status})"));
                }
                if let Some(message) = e["message"].as_str() {
                    said.push_str(&format!(" {message}"));
                }
                said.replace(['\n', '\r'], " ")
            }
            other => other.to_string(),
        };
        println!(
            "{:<10} {:<9} {:<40} {what}",
            o.provider,
            action_word(o.action),
            o.key
        );
    }
    println!("{}", apply::tally(&outcomes));
    // Used once: the state it was computed from is gone.
    let _ = std::fs::remove_file(file);
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// The context of a command-line state command: the command line as caller, the selection's
/// limits on the calls an apply makes, progress on stderr when a person watches.
pub fn context(selection: &Selection) -> CallContext {
    let watched = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let cx = CallContext {
        caller: Some(Caller::CommandLine),
        gate: Some(selection.gate()),
        progress: watched.then(|| Arc::new(StderrLines) as Arc<dyn ProgressSink>),
        ..CallContext::default()
    };
    // Ctrl-C stops what is in flight (a change already sent is reconciled by the next plan).
    let cancel = cx.cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            cancel.cancel();
        }
    });
    cx
}

/// `apply` in read-only mode: refused before anything is read, and audited as refused.
pub fn refuse_read_only(settings: &EngineSettings) -> ExitCode {
    if let Some(log) = &settings.audit {
        log.record(&Entry {
            caller: Some(&Caller::CommandLine),
            tool: "inventory_apply_plan",
            target: Value::Object(serde_json::Map::new()),
            dry_run: false,
            outcome: "NOT_ALLOWED",
            vendor_status: None,
            took: std::time::Duration::ZERO,
            correlation_id: None,
            secrets: Value::Null,
            credential: None,
        });
    }
    usage("apply is not offered in read-only mode (--read-only / DATASOURCE_MCP_READ_ONLY)")
}

fn action_word(action: Action) -> &'static str {
    match action {
        Action::Create => "create",
        Action::Update => "update",
        Action::Unchanged => "unchanged",
        Action::Delete => "delete",
        Action::Kept => "kept",
    }
}

/// A plan as a person reads it: one line per source, the fields an update changes under it.
pub fn render_plan(plan: &Plan) -> String {
    let mut out = String::new();
    for c in &plan.changes {
        let mark = match c.action {
            Action::Create | Action::Update | Action::Delete if c.tool.is_none() => "!",
            Action::Create => "+",
            Action::Update => "~",
            Action::Delete => "-",
            Action::Unchanged | Action::Kept => "=",
        };
        out.push_str(&format!(
            "{mark} {:<10} {:<9} {}",
            c.provider,
            action_word(c.action),
            c.key
        ));
        if let Some(note) = &c.note {
            out.push_str(&format!("  ({note})"));
        }
        out.push('\n');
        for f in &c.fields {
            out.push_str(&format!("      {}: {} -> {}\n", f.field, f.from, f.to));
        }
    }
    out.push_str(&format!(
        "{}\n",
        json!({"plan": plan.id, "summary": plan.summary()})
    ));
    out
}

/// A file only its owner reads (a plan names hosts and sources).
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).write(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    options.open(path)?.write_all(text.as_bytes())
}

/// Progress of a long apply, for a person watching stderr.
struct StderrLines;

impl ProgressSink for StderrLines {
    fn report(
        &self,
        _: f64,
        _: Option<f64>,
        message: String,
    ) -> futures_util::future::BoxFuture<'_, ()> {
        Box::pin(async move { eprintln!("datasource-mcp: {message}") })
    }
}
