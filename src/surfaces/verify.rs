//! `datasource-mcp verify`: every vendor fact the ledger marks assumed, checked against the
//! user's own tenant. Each fact carries its check next to it in its provider's file (a
//! read-only probe, what the provider's write script saw, or why it cannot be checked safely);
//! this runs them and writes the report: per provider, the fact, what the ledger says, what was
//! observed (statuses and shapes, never a value) and the verdict.
//!
//! Reads go through the provider's authenticated send (its token, limits and retries of
//! reads). With `--write`, each vendor that has a write script gets a throwaway source named
//! `datasource-mcp-verify-<random>`, made, tested, changed and deleted; whatever the script
//! made is deleted after a failure and after an interruption too, and what could not be
//! deleted is named in the report.
//!
//! It is a command, not a tool or prompt: every tool costs every session's tools list, and a
//! check of the vendor's API is run by a person setting the server up, not by an agent.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

use crate::engine::{CallContext, Engine};
use crate::error::ToolError;
use crate::operation::{
    Answer, Fact, Method, Outcome, RequestParts, Seen, THROWAWAY_PREFIX, Verdict, Via, WriteScript,
};
use crate::providers;
use crate::redact;
use crate::spec::ProviderSpec;
use crate::upstream::ProviderClient;

/// One assumed fact's line of the report.
#[derive(Debug, Clone)]
pub struct FactReport {
    /// The rows that rely on it (none: the provider's own fact).
    pub tools: Vec<&'static str>,
    pub about: &'static str,
    pub claim: &'static str,
    /// Why the ledger assumes it.
    pub ledger: &'static str,
    /// How it is checked: `read`, `write`, `read+write` or `cannot`.
    pub how: &'static str,
    pub verdict: Verdict,
}

/// What `--write` did at one provider.
#[derive(Debug, Clone, Default)]
pub struct WriteReport {
    /// Why nothing was written there.
    pub skipped: Option<String>,
    pub throwaway: Option<String>,
    /// Each step: its label and what it was answered (`POST /ds_connections: HTTP 200`).
    pub steps: Vec<(String, String)>,
    /// Each source the steps made: how to delete it, and whether it is gone.
    pub cleanup: Vec<Cleaned>,
}

#[derive(Debug, Clone)]
pub struct Cleaned {
    /// The delete, as a tool call (`bigid_delete_data_source {"name": …}`).
    pub what: String,
    pub deleted: bool,
    pub said: String,
}

/// One provider's part of the report.
#[derive(Clone)]
pub struct ProviderReport {
    pub provider: &'static ProviderSpec,
    /// Its base URL (no user info), when configured.
    pub endpoint: Option<String>,
    /// Whether any probe got an answer (a provider that answered nothing was not reached).
    pub reached: bool,
    pub facts: Vec<FactReport>,
    pub write: Option<WriteReport>,
}

/// The whole run.
#[derive(Clone)]
pub struct Report {
    pub write: bool,
    pub interrupted: bool,
    pub providers: Vec<ProviderReport>,
    pub took: Duration,
}

impl Report {
    /// How many facts had this outcome.
    pub fn count_of(&self, outcome: Outcome) -> usize {
        self.providers
            .iter()
            .flat_map(|p| &p.facts)
            .filter(|f| f.verdict.outcome == outcome)
            .count()
    }

    /// Something made was left behind.
    pub fn left_behind(&self) -> bool {
        self.providers
            .iter()
            .filter_map(|p| p.write.as_ref())
            .any(|w| w.cleanup.iter().any(|c| !c.deleted))
    }

    /// 2 when the run could not be made whole (interrupted, a throwaway left behind, nothing
    /// configured), else 1 when a fact differs, else 2 when a configured provider answered
    /// nothing, else 0.
    pub fn exit_code(&self) -> u8 {
        let configured: Vec<&ProviderReport> = self
            .providers
            .iter()
            .filter(|p| p.endpoint.is_some())
            .collect();
        if self.interrupted || self.left_behind() || configured.is_empty() {
            return 2;
        }
        if self.count_of(Outcome::Differs) > 0 {
            return 1;
        }
        if configured.iter().any(|p| !p.reached) {
            return 2;
        }
        0
    }

    pub fn to_json(&self) -> Value {
        let providers: Vec<Value> = self
            .providers
            .iter()
            .map(|p| {
                let facts: Vec<Value> = p
                    .facts
                    .iter()
                    .map(|f| {
                        let mut v = json!({
                            "tools": f.tools, "about": f.about, "fact": f.claim,
                            "ledger": format!("assumed: {}", f.ledger), "check": f.how,
                            "verdict": f.verdict.outcome, "observed": f.verdict.observed,
                        });
                        if let Some(form) = &f.verdict.speaks {
                            v["speaks"] = json!(form);
                        }
                        v
                    })
                    .collect();
                let mut v = json!({
                    "provider": p.provider.id,
                    "configured": p.endpoint.is_some(),
                    "endpoint": p.endpoint,
                    "reached": p.reached,
                    "facts": facts,
                });
                if let Some(w) = &p.write {
                    v["write"] = json!({
                        "skipped": w.skipped,
                        "throwaway": w.throwaway,
                        "steps": w.steps.iter().map(|(l, s)| json!({"step": l, "answer": s})).collect::<Vec<_>>(),
                        "cleanup": w.cleanup.iter().map(|c| json!({"delete": c.what, "deleted": c.deleted, "answer": c.said})).collect::<Vec<_>>(),
                    });
                }
                v
            })
            .collect();
        let mut report = json!({
            "version": env!("CARGO_PKG_VERSION"),
            "write": self.write,
            "interrupted": self.interrupted,
            "took_ms": self.took.as_millis() as u64,
            "summary": {
                "held": self.count_of(Outcome::Held),
                "differs": self.count_of(Outcome::Differs),
                "not_checked": self.count_of(Outcome::NotChecked),
            },
            "providers": providers,
            "exit": self.exit_code(),
        });
        redact::clean_json(&mut report, None);
        report
    }

    /// The human report: per provider a table of verdict, where, fact and what was observed.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for p in &self.providers {
            let Some(endpoint) = &p.endpoint else {
                out.push_str(&format!(
                    "{}: not configured (set {})\n\n",
                    p.provider.title, p.provider.setup
                ));
                continue;
            };
            out.push_str(&format!("{} at {endpoint}\n", p.provider.title));
            let rows: Vec<[String; 4]> = p
                .facts
                .iter()
                .map(|f| {
                    let mut observed = f.verdict.observed.clone();
                    if let Some(form) = &f.verdict.speaks {
                        observed.push_str(&format!(" [this tenant speaks: {form}]"));
                    }
                    [
                        f.verdict.outcome.as_str().to_string(),
                        if f.tools.is_empty() {
                            p.provider.id.to_string()
                        } else {
                            f.tools.join(", ")
                        },
                        short(f.claim, 70),
                        observed,
                    ]
                })
                .collect();
            let header = ["VERDICT", "WHERE", "THE LEDGER SAYS", "OBSERVED"].map(String::from);
            let mut widths = [0usize; 3];
            for row in std::iter::once(&header).chain(&rows) {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            for row in std::iter::once(&header).chain(&rows) {
                out.push_str(&format!(
                    "  {:<w0$}  {:<w1$}  {:<w2$}  {}\n",
                    row[0],
                    row[1],
                    row[2],
                    row[3],
                    w0 = widths[0],
                    w1 = widths[1],
                    w2 = widths[2]
                ));
            }
            if let Some(w) = &p.write {
                match &w.skipped {
                    Some(why) => out.push_str(&format!("  --write: nothing written ({why})\n")),
                    None => {
                        out.push_str(&format!(
                            "  --write: throwaway {}\n",
                            w.throwaway.as_deref().unwrap_or("-")
                        ));
                        for (label, said) in &w.steps {
                            out.push_str(&format!("    {label}: {said}\n"));
                        }
                        for c in &w.cleanup {
                            match c.deleted {
                                true => {
                                    out.push_str(&format!("    cleanup: {} ({})\n", c.what, c.said))
                                }
                                false => out.push_str(&format!(
                                    "    COULD NOT CLEAN UP: {} ({}): delete it yourself\n",
                                    c.what, c.said
                                )),
                            }
                        }
                    }
                }
            }
            out.push('\n');
        }
        out.push_str(&format!(
            "{} held, {} differ, {} not checked ({} ms){}{}\n",
            self.count_of(Outcome::Held),
            self.count_of(Outcome::Differs),
            self.count_of(Outcome::NotChecked),
            self.took.as_millis(),
            if self.interrupted {
                "; INTERRUPTED: the facts after the interruption were not checked"
            } else {
                ""
            },
            if self.write {
                ""
            } else {
                "; facts that need a throwaway source are checked with --write"
            },
        ));
        if self.count_of(Outcome::Differs) > 0 {
            out.push_str("A fact differs: attach this report (--json --out FILE) to an issue; it holds no secret and no value of your sources.\n");
        }
        redact::scrub_text(&out, None).into_owned()
    }
}

fn short(text: &str, max: usize) -> String {
    match text.chars().count() > max {
        true => format!("{}…", text.chars().take(max - 1).collect::<String>()),
        false => text.to_string(),
    }
}

/// The assumed facts of a provider, each once (a fact shared by rows lists every row).
fn assumed_facts(spec: &'static ProviderSpec) -> Vec<(Vec<&'static str>, &'static Fact)> {
    let mut out: Vec<(Vec<&'static str>, &'static Fact)> = Vec::new();
    let own = spec.facts.iter().map(|f| (None, f));
    let rows = spec
        .operations
        .iter()
        .flat_map(|op| op.facts.iter().map(move |f| (Some(op.name), f)));
    for (tool, fact) in own.chain(rows) {
        if !fact.source.is_assumed() {
            continue;
        }
        match out.iter_mut().find(|(_, f)| f.claim == fact.claim) {
            Some((tools, _)) => tools.extend(tool),
            None => out.push((tool.into_iter().collect(), fact)),
        }
    }
    out
}

/// Every vendor's assumed facts, as the ledger lists them (for tests and the docs).
pub fn every_assumed_fact() -> Vec<(&'static str, Vec<&'static str>, &'static Fact)> {
    providers::VENDORS
        .iter()
        .flat_map(|spec| {
            assumed_facts(spec)
                .into_iter()
                .map(move |(tools, f)| (spec.id, tools, f))
        })
        .collect()
}

/// Runs every check at every configured vendor; `write` also runs the write scripts. When
/// `cancel` fires, what is running stops, what was made is deleted, and the report says the
/// run was interrupted.
pub async fn run(engine: &Engine, write: bool, cancel: &CancellationToken) -> Report {
    let started = Instant::now();
    let mut providers_out = Vec::new();
    for spec in providers::VENDORS {
        let Some(client) = engine.provider(spec.provider) else {
            providers_out.push(ProviderReport {
                provider: spec,
                endpoint: None,
                reached: false,
                facts: Vec::new(),
                write: None,
            });
            continue;
        };
        providers_out.push(check_provider(engine, client, spec, write, cancel).await);
    }
    Report {
        write,
        interrupted: cancel.is_cancelled(),
        providers: providers_out,
        took: started.elapsed(),
    }
}

async fn check_provider(
    engine: &Engine,
    client: &ProviderClient,
    spec: &'static ProviderSpec,
    write: bool,
    cancel: &CancellationToken,
) -> ProviderReport {
    let facts = assumed_facts(spec);
    let mut seen = Seen::default();
    let mut asked: HashMap<String, Answer> = HashMap::new();
    for (_, fact) in &facts {
        let Some(probe) = fact.verify.read else {
            continue;
        };
        for ask in probe.asks {
            if cancel.is_cancelled() {
                break;
            }
            if seen.first(ask.label).is_some() || ask.when.is_some_and(|when| !when(&seen)) {
                continue;
            }
            let values: Vec<Option<String>> = match ask.fill {
                Some((_, values)) => values(&seen).into_iter().map(Some).collect(),
                None => vec![None],
            };
            for value in values {
                let mut parts = RequestParts::new();
                if let (Some((param, _)), Some(v)) = (ask.fill, &value) {
                    parts = parts.path(param, v.clone());
                }
                for (k, v) in ask.query {
                    parts = parts.query(k, v);
                }
                if let Some(body) = ask.body {
                    parts = parts.body(serde_json::from_str(body).unwrap_or(Value::Null));
                }
                let key = format!(
                    "{} {} {:?} {:?}",
                    ask.method.as_str(),
                    ask.path,
                    value,
                    ask.query
                );
                let answer = match asked.get(&key) {
                    Some(a) => a.clone(),
                    None => {
                        let mut a = tokio::select! {
                            biased;
                            _ = cancel.cancelled() => interrupted(ask.shown()),
                            a = send(engine, client, ask.method, ask.path, &parts, ask.shown()) => a,
                        };
                        a.param = value.clone();
                        asked.insert(key, a.clone());
                        a
                    }
                };
                seen.push(ask.label, answer);
            }
        }
    }
    let reached =
        seen.answers().next().is_none() || seen.answers().any(|(_, a)| a.status.is_some());
    let script = providers::write_script(spec.provider);
    let write_report = match (write, script) {
        (false, _) => None,
        (true, Err(why)) => Some(WriteReport {
            skipped: Some(why.to_string()),
            ..WriteReport::default()
        }),
        (true, Ok(_)) if !reached => Some(WriteReport {
            skipped: Some("the vendor answered none of the reads".into()),
            ..WriteReport::default()
        }),
        (true, Ok(script)) => Some(run_script(engine, client, script, &mut seen, cancel).await),
    };
    let wrote = write_report.as_ref().is_some_and(|w| w.skipped.is_none());
    let facts = facts
        .into_iter()
        .map(|(tools, fact)| {
            let v = &fact.verify;
            let how = match (v.read.is_some(), v.write.is_some()) {
                (true, true) => "read+write",
                (true, false) => "read",
                (false, true) => "write",
                (false, false) => "cannot",
            };
            let read = v.read.map(|p| (p.read)(&seen));
            let written = match (v.write, wrote) {
                (Some(f), true) => Some(f(&seen)),
                _ => None,
            };
            let verdict = match (read, written, v.cannot) {
                (None, None, Some(why)) => {
                    Verdict::not_checked(format!("cannot be checked safely: {why}"))
                }
                (Some(r), Some(w), _) => combine(r, w),
                (Some(r), None, _) => r,
                (None, Some(w), _) => w,
                (None, None, None) => match (v.write.is_some(), write, script) {
                    (true, false, _) => Verdict::not_checked(
                        "checked only with --write (a throwaway source is made, tested, changed and deleted)",
                    ),
                    (true, true, Err(why)) => Verdict::not_checked(why),
                    (true, true, Ok(_)) => Verdict::not_checked("the write steps did not run"),
                    (false, _, _) => Verdict::not_checked("no check is declared"),
                },
            };
            FactReport {
                tools,
                about: fact.about.as_str(),
                claim: fact.claim,
                ledger: fact.source.reference(),
                how,
                verdict,
            }
        })
        .collect();
    ProviderReport {
        provider: spec,
        endpoint: Some(crate::surfaces::doctor::display_url(&client.base_url)),
        reached,
        facts,
        write: write_report,
    }
}

/// A read's verdict and the write script's: a difference wins, then a check that held.
fn combine(read: Verdict, written: Verdict) -> Verdict {
    match (read.outcome, written.outcome) {
        (Outcome::Differs, _) => read,
        (_, Outcome::Differs) => written,
        (Outcome::Held, _) => read,
        (_, Outcome::Held) => written,
        _ => read,
    }
}

/// An answer that never came because the run was interrupted.
fn interrupted(request: String) -> Answer {
    Answer {
        request,
        status: None,
        body: Value::Null,
        error: Some("INTERRUPTED".into()),
        param: None,
    }
}

/// One request with the provider's credential; its status and JSON body (a text body as a
/// string), or why no answer came.
async fn send(
    engine: &Engine,
    client: &ProviderClient,
    method: Method,
    path: &'static str,
    parts: &RequestParts,
    shown: String,
) -> Answer {
    let retry_safe = method == Method::Get;
    let request = match client.request(method, path, parts, retry_safe) {
        Ok(r) => r,
        Err(e) => {
            return Answer {
                request: shown,
                status: None,
                body: Value::Null,
                error: Some(
                    ToolError::from(crate::upstream::UpstreamError::from(e))
                        .kind()
                        .into(),
                ),
                param: None,
            };
        }
    };
    match client.send(engine.upstream(), &request).await {
        Ok(response) => {
            let body = match response.json() {
                Some(v) => v.clone(),
                None => Value::Null,
            };
            Answer {
                request: shown,
                status: Some(response.status),
                body,
                error: None,
                param: None,
            }
        }
        Err(e) => {
            let status = match &e {
                crate::upstream::UpstreamError::Auth(crate::upstream::AuthError::Refused {
                    status,
                    ..
                }) => Some(*status),
                _ => None,
            };
            Answer {
                request: shown,
                status,
                body: Value::Null,
                error: Some(ToolError::from(e).kind().into()),
                param: None,
            }
        }
    }
}

/// A tool call through the engine, as an agent makes it.
async fn call(engine: &Engine, tool: &'static str, args: Value, cx: &CallContext) -> Answer {
    let Some(op) = providers::operation(tool) else {
        return Answer {
            request: tool.into(),
            status: None,
            body: Value::Null,
            error: Some("INTERNAL_ERROR".into()),
            param: None,
        };
    };
    let args: Option<Map<String, Value>> = args.as_object().cloned();
    let outcome = engine.call(op, args, cx).await;
    // A vendor's refusal carries its status and no code of ours.
    let (status, error) = match outcome.is_error {
        true => {
            let status = outcome.value["error"]["status"].as_u64().map(|s| s as u16);
            let code = match (outcome.value["error"]["code"].as_str(), status) {
                (Some(code), _) => code,
                (None, Some(_)) => "VENDOR_ERROR",
                (None, None) => "ERROR",
            };
            (status, Some(code.to_string()))
        }
        false => (None, None),
    };
    Answer {
        request: tool.into(),
        status,
        body: outcome.value,
        error,
        param: None,
    }
}

/// A throwaway's name: the prefix and 12 random hex digits.
fn throwaway_name() -> String {
    let mut bytes = [0u8; 6];
    let _ = getrandom::fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{THROWAWAY_PREFIX}{hex}")
}

/// A made-up credential for the throwaway (it reaches no database), masked from now on.
fn throwaway_secret() -> String {
    let mut bytes = [0u8; 18];
    let _ = getrandom::fill(&mut bytes);
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    redact::register_secret(&secret);
    secret
}

async fn run_script(
    engine: &Engine,
    client: &ProviderClient,
    script: &'static WriteScript,
    seen: &mut Seen,
    cancel: &CancellationToken,
) -> WriteReport {
    let name = throwaway_name();
    seen.throwaway = Some(name.clone());
    seen.secret = Some(throwaway_secret());
    let mut report = WriteReport {
        throwaway: Some(name.clone()),
        ..WriteReport::default()
    };
    let cx = CallContext::default();
    for step in script.steps {
        if cancel.is_cancelled() {
            report.steps.push((
                step.label.into(),
                format!("{}: not sent (interrupted)", step.shown()),
            ));
            continue;
        }
        let answer = match step.via {
            Via::Tool(tool, args) => match args(seen) {
                None => None,
                Some(args) => Some(tokio::select! {
                    biased;
                    _ = cancel.cancelled() => interrupted(tool.into()),
                    a = call(engine, tool, args, &cx) => a,
                }),
            },
            Via::Request(method, path, parts) => match parts(seen) {
                None => None,
                Some(parts) => Some(tokio::select! {
                    biased;
                    _ = cancel.cancelled() => interrupted(step.shown()),
                    a = send(engine, client, method, path, &parts, step.shown()) => a,
                }),
            },
        };
        match answer {
            Some(a) => {
                report.steps.push((step.label.into(), a.said()));
                seen.push(step.label, a);
            }
            None => report.steps.push((
                step.label.into(),
                format!("{}: skipped (what it needs was not answered)", step.shown()),
            )),
        }
    }
    // Whatever happened, what was made is deleted: a fresh context, never cancelled.
    for args in (script.made)(seen) {
        if args.is_null() {
            report.cleanup.push(Cleaned {
                what: format!("something labelled {name}"),
                deleted: false,
                said: "a create's answer gave no id to delete it by".into(),
            });
            continue;
        }
        let what = format!("{} {}", script.cleanup, args);
        let a = call(engine, script.cleanup, args, &CallContext::default()).await;
        let gone = a.status == Some(404)
            || a.status.is_some_and(|s| {
                client
                    .spec
                    .not_found
                    .is_some_and(|nf| nf(s, a.body["error"]["message"].as_str().unwrap_or("")))
            });
        report.cleanup.push(Cleaned {
            what,
            deleted: a.ok() || gone,
            said: match (a.ok(), gone) {
                (true, _) => "deleted".into(),
                (false, true) => format!("{}: it was not there", a.said()),
                (false, false) => a.said(),
            },
        });
    }
    report
}
