//! `sizes`: what a list tool's result costs a model. Four fake vendors (`vendors.rs`) hold 500
//! data sources each; the server is started over stdio against them, and each list tool and
//! the inventory are called twice, as a model would first call them (no arguments, or the
//! fewest a call needs) and with `detail: "full"`. For every result: its rows, the bytes of
//! the text content block (the JSON text a model reads), of `structuredContent` and of the whole
//! `tools/call` result as sent, and the o200k tokens of the text and of the whole result.
//!
//! `--before <binary>` (or `DATASOURCE_MCP_BENCH_BEFORE`) measures an earlier server the same
//! way, beside the current one (`DATASOURCE_MCP_BENCH_SERVER` or the release build). A tool the
//! binary does not list, or a `detail` it refuses, is reported "n/a".

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

use crate::vendors;

/// The targets: a default call fits a model's context, and no result passes the budget.
const TOKEN_TARGET: usize = 5_000;
const BYTE_TARGET: usize = 65_536;

/// The tools measured and the arguments of their default call (held to the token target); each
/// is called again with `detail: "full"` added.
const CALLS: &[(&str, &str)] = &[
    ("bigid_list_data_sources", "{}"),
    ("pdc_filter_data_sources", r#"{"resourceNames": ["*"]}"#),
    ("bigdata_list_connectors", "{}"),
    ("databrain_list_datasources", "{}"),
    ("inventory_list_data_sources", "{}"),
];

pub fn run(args: &[String]) {
    let before = crate::before_binary("sizes", args);
    let now = crate::build_server();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let fakes = runtime.block_on(vendors::start());
    let bpe = tiktoken_rs::o200k_base().unwrap();

    let now_results = measure(&now, &fakes, &bpe);
    let before_results = before.as_deref().map(|b| measure(b, &fakes, &bpe));

    let mut out = String::from("# Results sized for a model\n\n");
    out.push_str(&format!("{}\n\n", crate::machine()));
    out.push_str(&format!(
        "Four fake vendors on loopback, {} data sources each in the vendor's shape (BigID's with some 50 fields). Bytes are compact JSON; tokens are o200k_base. `text` is the result's text content block (the JSON a model reads), `whole` the entire `tools/call` result as sent (text block and `structuredContent`). Targets: a default call ≤ {} tokens, no result > {} bytes of JSON text.\n\n",
        vendors::OBJECTS,
        thousands(TOKEN_TARGET),
        thousands(BYTE_TARGET)
    ));
    out.push_str(&format!("Now: `{now}`"));
    if let Some(b) = &before {
        out.push_str(&format!("; before: `{b}`"));
    }
    out.push_str("\n\n");
    out.push_str(&summary_table(&now_results, before_results.as_deref()));
    let undeclared = |results: &[Measured]| {
        results
            .iter()
            .any(|m| m.undeclared && matches!(m.outcome, Outcome::Result(_)))
    };
    if undeclared(&now_results) || before_results.as_deref().is_some_and(undeclared) {
        out.push_str("\n† answered, though the tool's inputSchema does not declare `detail` (it allows no property the schema does not list), so a client that checks arguments against the schema would not send it.\n");
    }
    out.push('\n');
    out.push_str("### Every figure, now\n\n");
    out.push_str(&detail_table(&now_results));
    if let Some(b) = &before_results {
        out.push_str("\n### Every figure, before\n\n");
        out.push_str(&detail_table(b));
    }
    println!("{out}");
    let _ = std::fs::create_dir_all("target/bench");
    let _ = std::fs::write("target/bench/sizes.md", &out);
}

/// One measured call.
struct Measured {
    tool: &'static str,
    call: String,
    default: bool,
    /// Answered, though the tool's inputSchema does not declare the argument (a client that
    /// checks arguments against the schema would not send it).
    undeclared: bool,
    outcome: Outcome,
}

enum Outcome {
    /// The binary does not list the tool, or the tool takes no such argument.
    NotAvailable,
    Result(Figures),
}

struct Figures {
    /// The text content block.
    text: String,
    is_error: bool,
    /// Rows in the result and the total the result reports (if any), and whether the budget
    /// cut it.
    rows: Option<usize>,
    total: Option<u64>,
    truncated: bool,
    text_bytes: usize,
    structured_bytes: Option<usize>,
    whole_bytes: usize,
    text_tokens: usize,
    whole_tokens: usize,
}

fn measure(server: &str, fakes: &vendors::Fakes, bpe: &tiktoken_rs::CoreBPE) -> Vec<Measured> {
    let mut client = Client::spawn(server, fakes);
    let tools = client.request("tools/list", json!({}));
    let tools = tools["result"]["tools"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::new();
    for &(tool, args) in CALLS {
        let listed = tools.iter().find(|t| t["name"] == tool);
        let declares_detail =
            listed.is_some_and(|t| !t["inputSchema"]["properties"]["detail"].is_null());
        let default: Value = serde_json::from_str(args).unwrap();
        let mut full = default.clone();
        full["detail"] = json!("full");
        for (is_default, arguments) in [(true, default), (false, full)] {
            let outcome = match listed {
                None => Outcome::NotAvailable,
                Some(_) => {
                    let answer =
                        client.request("tools/call", json!({"name": tool, "arguments": arguments}));
                    let f = figures(&answer["result"], bpe);
                    // An older server refuses an argument it does not know.
                    let refused = answer["error"].is_object()
                        || (f.is_error && !is_default && f.text.contains("detail"));
                    match refused {
                        true => Outcome::NotAvailable,
                        false => Outcome::Result(f),
                    }
                }
            };
            out.push(Measured {
                tool,
                call: arguments.to_string(),
                default: is_default,
                undeclared: !is_default && !declares_detail,
                outcome,
            });
        }
    }
    out
}

fn figures(result: &Value, bpe: &tiktoken_rs::CoreBPE) -> Figures {
    let text = result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("");
    let whole = result.to_string();
    let structured = result.get("structuredContent");
    // The rows, from the structured result or else the text (older servers sent the vendor's
    // answer as is: count the largest list in it).
    let parsed: Value = structured
        .cloned()
        .or_else(|| serde_json::from_str(&text).ok())
        .unwrap_or(Value::Null);
    Figures {
        is_error: result["isError"] == true,
        rows: largest_list(&parsed),
        total: parsed["total"].as_u64(),
        truncated: parsed.get("truncated").is_some_and(|t| !t.is_null()),
        text_bytes: text.len(),
        structured_bytes: structured.map(|s| s.to_string().len()),
        whole_bytes: whole.len(),
        text_tokens: bpe.encode_with_special_tokens(&text).len(),
        whole_tokens: bpe.encode_with_special_tokens(&whole).len(),
        text,
    }
}

/// The length of the longest list anywhere in a value.
fn largest_list(v: &Value) -> Option<usize> {
    match v {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(largest_list)
                .max()
                .unwrap_or(0)
                .max(items.len()),
        ),
        Value::Object(map) => map.values().filter_map(largest_list).max(),
        _ => None,
    }
}

fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `38 of 500, cut`: rows shown, the total the result reports, whether the budget cut it.
fn rows_text(f: &Figures, word: &str) -> String {
    let mut s = f.rows.map_or("—".into(), |r| r.to_string());
    if let Some(total) = f.total {
        s.push_str(&format!(" of {total}"));
    }
    s.push_str(word);
    if f.truncated {
        s.push_str(", cut");
    }
    if f.is_error {
        s.push_str(" (error)");
    }
    s
}

/// Pass or fail of one result against the targets it is held to.
fn verdict(m: &Measured) -> String {
    let Outcome::Result(f) = &m.outcome else {
        return "n/a".into();
    };
    let mark = |ok: bool, what: &str| match ok {
        true => format!("{what} ✓"),
        false => format!("**{what} ✗**"),
    };
    let mut parts = Vec::new();
    if m.default {
        parts.push(mark(f.text_tokens <= TOKEN_TARGET, "tokens"));
    }
    parts.push(mark(f.text_bytes <= BYTE_TARGET, "64 KiB"));
    parts.join(", ")
}

fn brief(m: &Measured) -> String {
    match &m.outcome {
        Outcome::NotAvailable => "n/a".into(),
        Outcome::Result(f) => format!(
            "{} · {} B · {} tok",
            rows_text(f, " rows"),
            thousands(f.text_bytes),
            thousands(f.text_tokens)
        ),
    }
}

fn call_text(m: &Measured) -> String {
    match m.undeclared && matches!(m.outcome, Outcome::Result(_)) {
        true => format!("`{}` †", m.call),
        false => format!("`{}`", m.call),
    }
}

fn summary_table(now: &[Measured], before: Option<&[Measured]>) -> String {
    let mut out = String::new();
    match before {
        Some(_) => out.push_str(
            "| tool | call | before (text) | before: targets | now (text) | now: targets |\n|---|---|---|---|---|---|\n",
        ),
        None => out.push_str("| tool | call | now (text) | targets |\n|---|---|---|---|\n"),
    }
    for (i, m) in now.iter().enumerate() {
        out.push_str(&format!("| `{}` | {} |", m.tool, call_text(m)));
        if let Some(b) = before {
            out.push_str(&format!(" {} | {} |", brief(&b[i]), verdict(&b[i])));
        }
        out.push_str(&format!(" {} | {} |\n", brief(m), verdict(m)));
    }
    out
}

fn detail_table(results: &[Measured]) -> String {
    let mut out = String::from(
        "| tool | call | rows | text bytes | structuredContent bytes | whole result bytes | text tokens | whole result tokens |\n|---|---|---|---|---|---|---|---|\n",
    );
    for m in results {
        let cells = match &m.outcome {
            Outcome::NotAvailable => "n/a | n/a | n/a | n/a | n/a | n/a".to_string(),
            Outcome::Result(f) => format!(
                "{} | {} | {} | {} | {} | {}",
                rows_text(f, ""),
                thousands(f.text_bytes),
                f.structured_bytes.map_or("—".into(), thousands),
                thousands(f.whole_bytes),
                thousands(f.text_tokens),
                thousands(f.whole_tokens)
            ),
        };
        out.push_str(&format!("| `{}` | {} | {cells} |\n", m.tool, call_text(m)));
    }
    out
}

// ---- the server over stdio ----------------------------------------------------------------------

/// A JSON-RPC client of the server's stdio that waits for the answer to each request by id
/// (a large answer is one line; notifications in between are skipped).
struct Client {
    child: Child,
    out: BufReader<ChildStdout>,
    next_id: u64,
}

impl Client {
    fn spawn(server: &str, fakes: &vendors::Fakes) -> Self {
        let mut cmd = Command::new(server);
        cmd.env_clear().env("RUST_LOG", "warn");
        for (k, v) in fakes.env() {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{server} does not start: {e}"));
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut client = Self {
            child,
            out,
            next_id: 1,
        };
        client.send(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}));
        client.answer(0);
        client.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        client
    }

    fn send(&mut self, message: &Value) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin
            .write_all((message.to_string() + "\n").as_bytes())
            .unwrap();
        stdin.flush().unwrap();
    }

    fn answer(&mut self, id: u64) -> Value {
        loop {
            let mut line = String::new();
            assert!(
                self.out.read_line(&mut line).unwrap() > 0,
                "the server closed stdout"
            );
            let message: Value = serde_json::from_str(&line).unwrap();
            if message["id"] == id {
                return message;
            }
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.answer(id)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_lists_and_thousands() {
        assert_eq!(
            largest_list(&json!({"items": [1, 2, 3], "x": {"y": [1]}})),
            Some(3)
        );
        assert_eq!(largest_list(&json!({"a": 1})), None);
        assert_eq!(thousands(65536), "65,536");
        assert_eq!(thousands(999), "999");
    }
}
