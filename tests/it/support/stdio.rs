//! The built binary as a child process: JSON-RPC over its stdin and stdout.

use std::time::Duration;

use serde_json::{Value, json};

/// Path of the built binary.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_datasource-mcp")
}

/// Runs the binary with `vars` (and nothing else from the environment), feeds it `lines` of
/// JSON-RPC on stdin, closes stdin, and returns (stdout, stderr, exit status).
pub async fn run_stdio(
    args: &[&str],
    vars: &[(&str, &str)],
    lines: &[Value],
) -> (String, String, std::process::ExitStatus) {
    let answers = lines.iter().filter(|l| l.get("id").is_some()).count();
    run_stdio_answers(args, vars, lines, answers).await
}

/// Like [`run_stdio`], waiting for `answers` responses before closing stdin.
pub async fn run_stdio_answers(
    args: &[&str],
    vars: &[(&str, &str)],
    lines: &[Value],
    answers: usize,
) -> (String, String, std::process::ExitStatus) {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(binary());
    cmd.args(args)
        .env_clear()
        .envs(vars.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("binary starts");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    let collect_out = tokio::spawn(read_lines_until(stdout, answers));
    for line in lines {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
    }
    // Wait until every request was answered before closing stdin.
    let out = tokio::time::timeout(Duration::from_secs(30), collect_out)
        .await
        .expect("answers within 30 s")
        .unwrap();
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("exits after stdin closes")
        .unwrap();
    let mut stdout = out;
    stdout.push_str(&String::from_utf8_lossy(&output.stdout));
    (
        stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status,
    )
}

async fn read_lines_until(stdout: tokio::process::ChildStdout, answers: usize) -> String {
    use tokio::io::AsyncBufReadExt;
    let mut reader = tokio::io::BufReader::new(stdout);
    let mut all = String::new();
    let mut seen = 0;
    while seen < answers {
        let mut line = String::new();
        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
            break;
        }
        if serde_json::from_str::<Value>(&line).ok().is_some_and(|v| {
            v.get("id").is_some() && (v.get("result").is_some() || v.get("error").is_some())
        }) {
            seen += 1;
        }
        all.push_str(&line);
    }
    all
}

/// The JSON-RPC lines a client sends to start a session.
pub fn handshake() -> Vec<Value> {
    vec![
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "test", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    ]
}

pub fn rpc(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// Every stdout line must be exactly one JSON-RPC message.
pub fn assert_jsonrpc_only(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|_| panic!("stdout line is not JSON: {line:?}"));
            assert_eq!(v["jsonrpc"], "2.0", "not JSON-RPC: {line}");
            v
        })
        .collect()
}

/// `datasource-mcp sandbox --listen 127.0.0.1:0 ARGS…` as a child process (killed on drop) and
/// the variables it prints as `export` lines, read until `enough` holds.
pub async fn sandbox_process(
    args: &[&str],
    enough: impl Fn(&std::collections::HashMap<String, String>) -> bool,
) -> (
    tokio::process::Child,
    std::collections::HashMap<String, String>,
) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(binary())
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_clear()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut vars = std::collections::HashMap::new();
    while !enough(&vars) {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("the sandbox prints its variables");
        if let Some((k, v)) = line.strip_prefix("export ").and_then(|l| l.split_once('=')) {
            vars.insert(k.to_string(), v.to_string());
        }
    }
    (child, vars)
}
