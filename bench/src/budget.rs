//! `budget`: what every session pays before its first call. The server is started with
//! `--sandbox` (every provider configured, every tool offered) over stdio; its instructions and
//! tools list are read as a client reads them. Per toolset and in total: the tools, the
//! characters of what a host passes to the model (each tool's name, description and input
//! schema, as compact JSON), their o200k tokens, and the output schemas (metadata the host
//! keeps). The budget: 16,000 characters for the tools, 2,000 for the instructions (a test in
//! `tests/it/model_view.rs` holds the server to it).
//!
//! `--before <binary>` measures an earlier server the same way, beside the current one.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

const TOOLS_BUDGET: usize = 16_000;
const INSTRUCTIONS_BUDGET: usize = 2_000;

/// One toolset's (or the whole list's) figures.
#[derive(Default, Clone, Copy)]
struct Cost {
    tools: usize,
    chars: usize,
    tokens: usize,
    output_chars: usize,
}

struct Measured {
    by_toolset: BTreeMap<String, Cost>,
    total: Cost,
    instructions_chars: usize,
    instructions_tokens: usize,
}

pub fn run(args: &[String]) {
    let before = crate::before_binary("budget", args);
    let bpe = tiktoken_rs::o200k_base().unwrap();
    let now = measure(&crate::build_server(), &bpe);
    let before = before.as_deref().map(|b| measure(b, &bpe));

    let mut out = String::from("# What a model pays before its first call\n\n");
    out.push_str(&format!("{}\n\n", crate::machine()));
    out.push_str(&format!(
        "`--sandbox`, every tool offered. chars: compact JSON of each tool's name, description and input schema (budget {TOOLS_BUDGET}); tokens: o200k_base; outputs: the output schemas' characters (not passed to the model, not budgeted).\n\n"
    ));
    out.push_str("| toolset | tools | chars | tokens (o200k) | outputs (chars) |");
    if before.is_some() {
        out.push_str(" before: tools | chars | tokens |");
    }
    out.push_str("\n|---|---|---|---|---|");
    if before.is_some() {
        out.push_str("---|---|---|");
    }
    out.push('\n');
    let mut names: Vec<&String> = now.by_toolset.keys().collect();
    if let Some(b) = &before {
        for name in b.by_toolset.keys() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let row = |label: &str, now: Option<&Cost>, before: Option<Option<&Cost>>| {
        let now = now.copied().unwrap_or_default();
        let mut line = format!(
            "| {label} | {} | {} | {} | {} |",
            now.tools, now.chars, now.tokens, now.output_chars
        );
        if let Some(before) = before {
            let b = before.copied().unwrap_or_default();
            line.push_str(&format!(" {} | {} | {} |", b.tools, b.chars, b.tokens));
        }
        line.push('\n');
        line
    };
    for name in names {
        out.push_str(&row(
            name,
            now.by_toolset.get(name),
            before.as_ref().map(|b| b.by_toolset.get(name)),
        ));
    }
    out.push_str(&row(
        "**total**",
        Some(&now.total),
        before.as_ref().map(|b| Some(&b.total)),
    ));
    out.push_str(&format!(
        "\nInstructions: {} chars, {} tokens (budget {INSTRUCTIONS_BUDGET} chars)",
        now.instructions_chars, now.instructions_tokens
    ));
    if let Some(b) = &before {
        out.push_str(&format!(
            "; before: {} chars, {} tokens",
            b.instructions_chars, b.instructions_tokens
        ));
    }
    out.push_str(".\n");
    println!("{out}");
    let _ = std::fs::create_dir_all("target/bench");
    let _ = std::fs::write("target/bench/budget.md", out);
}

fn measure(server: &str, bpe: &tiktoken_rs::CoreBPE) -> Measured {
    let mut child = Command::new(server)
        .arg("--sandbox")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("budget: cannot start {server}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut ask = |message: Value, answered: bool| -> Value {
        writeln!(stdin, "{message}").unwrap();
        if !answered {
            return Value::Null;
        }
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    };
    let init = ask(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "bench", "version": "1"}}}),
        true,
    );
    ask(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        false,
    );
    let list = ask(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}),
        true,
    );
    let _ = child.kill();
    let _ = child.wait();
    let instructions = init["result"]["instructions"].as_str().unwrap_or("");
    let tokens = |text: &str| bpe.encode_with_special_tokens(text).len();
    let mut by_toolset: BTreeMap<String, Cost> = BTreeMap::new();
    let mut total = Cost::default();
    for tool in list["result"]["tools"].as_array().unwrap() {
        let name = tool["name"].as_str().unwrap();
        let seen = json!({"name": name, "description": tool["description"],
            "inputSchema": tool["inputSchema"]})
        .to_string();
        let output = tool
            .get("outputSchema")
            .map_or(0, |o| o.to_string().chars().count());
        let cost = Cost {
            tools: 1,
            chars: seen.chars().count(),
            tokens: tokens(&seen),
            output_chars: output,
        };
        for into in [
            by_toolset
                .entry(name.split('_').next().unwrap().to_string())
                .or_default(),
            &mut total,
        ] {
            into.tools += cost.tools;
            into.chars += cost.chars;
            into.tokens += cost.tokens;
            into.output_chars += cost.output_chars;
        }
    }
    Measured {
        by_toolset,
        total,
        instructions_chars: instructions.chars().count(),
        instructions_tokens: tokens(instructions),
    }
}
