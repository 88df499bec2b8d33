//! datasource-mcp benchmark: `cargo run --release -p datasource-mcp-bench`.
//!
//! Builds the release server, starts a loopback upstream that answers instantly, and reports:
//! cold start over stdio; tools/list latency; tools/call latency over stdio (p50/p95/p99) next
//! to the same request made directly to the upstream, so the server's overhead is their
//! difference; streamable-HTTP throughput with 1, 8 and 64 clients on kept-alive connections;
//! RSS after 1,000 and 10,000 calls; the release binary's size; the tools/list size in bytes
//! and tokens. The report (markdown) goes to stdout and to target/bench/report.md.
//!
//! The work is the same for every figure: BigID's get-template call
//! (`bigid_get_connector_template {"type":"rdb-mysql"}`), as in the peers' measurements.
//!
//! `cargo run --release -p datasource-mcp-bench -- sizes [--before <binary>]` measures instead
//! what the list tools' results cost a model, against fake vendors holding 500 data sources
//! each (`sizes.rs`); its report goes to stdout and to target/bench/sizes.md.

mod budget;
mod sizes;
mod vendors;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const CALLS: usize = 1_000;
const RSS_CALLS: usize = 10_000;
const SPAWNS: usize = 30;
const HTTP_SECONDS: u64 = 5;
const HTTP_MAX_REQUESTS: usize = 200_000;
const TOKEN: &str = "bench-token-0123456789abcdef";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {}
        Some("sizes") => return sizes::run(&args[1..]),
        Some("budget") => return budget::run(&args[1..]),
        Some(other) => {
            eprintln!(
                "unknown mode {other}: run with no arguments, `sizes [--before <binary>]` or `budget [--before <binary>]`"
            );
            std::process::exit(2);
        }
    }
    let server = build_server();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let upstream = runtime.block_on(start_upstream());
    let base = format!("http://{upstream}/api/v1");
    let mut report = Report::default();
    report.line(&format!("# datasource-mcp benchmark\n\n{}\n", machine()));

    let cold = cold_start(&server, &base);
    report.line("## Cold start over stdio (spawn → initialize response)\n");
    report.line(&format!(
        "{} spawns: median **{:.2} ms**, min {:.2} ms, max {:.2} ms\n",
        SPAWNS,
        ms(percentile(&cold, 50.0)),
        ms(cold[0]),
        ms(*cold.last().unwrap())
    ));

    let mut stdio = StdioClient::spawn(&server, &base);
    stdio.handshake();
    let list_latency = stdio.tools_list_latency(200);
    let list_json = stdio.tools_list();
    // The physical limit is the same request straight to the upstream on a kept-alive
    // connection. Direct and served calls alternate, so both see the same machine load.
    let direct_client = DirectClient::new(&base);
    for _ in 0..100 {
        stdio.call(); // warm up: token, connection pool, allocator
        runtime.block_on(direct_client.call());
    }
    let mut calls = Vec::with_capacity(CALLS);
    let mut direct = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        calls.push(stdio.call());
        direct.push(runtime.block_on(direct_client.call()));
    }
    direct.sort();
    let rss_1k = stdio.rss();
    for _ in CALLS..RSS_CALLS {
        stdio.call();
    }
    let rss_10k = stdio.rss();
    drop(stdio);

    report.line("## tools/list, warm\n");
    report.line(&format!(
        "200 requests: median **{:.3} ms**, p99 {:.3} ms\n",
        ms(percentile(&list_latency, 50.0)),
        ms(percentile(&list_latency, 99.0))
    ));

    let mut sorted = calls.clone();
    sorted.sort();
    report.line("## tools/call over stdio, and the same request made directly\n");
    report.line(&format!(
        "{CALLS} calls of `bigid_get_connector_template` after 100 warm-up calls, each followed by the same request made directly (so both see the same machine load).\n"
    ));
    report.line("| | p50 | p95 | p99 |\n|---|---|---|---|");
    report.line(&format!(
        "| through datasource-mcp (stdio) | {:.3} ms | {:.3} ms | {:.3} ms |",
        ms(percentile(&sorted, 50.0)),
        ms(percentile(&sorted, 95.0)),
        ms(percentile(&sorted, 99.0))
    ));
    report.line(&format!(
        "| straight to the upstream (kept-alive HTTP) | {:.3} ms | {:.3} ms | {:.3} ms |",
        ms(percentile(&direct, 50.0)),
        ms(percentile(&direct, 95.0)),
        ms(percentile(&direct, 99.0))
    ));
    report.line(&format!(
        "| **overhead** (difference) | **{:.3} ms** | {:.3} ms | {:.3} ms |\n",
        ms(percentile(&sorted, 50.0)) - ms(percentile(&direct, 50.0)),
        ms(percentile(&sorted, 95.0)) - ms(percentile(&direct, 95.0)),
        ms(percentile(&sorted, 99.0)) - ms(percentile(&direct, 99.0))
    ));

    report.line("## Memory (stdio server)\n");
    report.line(&format!(
        "| after | RSS | peak RSS (VmHWM) |\n|---|---|---|\n| {CALLS} calls | {:.1} MB | {:.1} MB |\n| {RSS_CALLS} calls | {:.1} MB | **{:.1} MB** |\n",
        mb(rss_1k.0), mb(rss_1k.1), mb(rss_10k.0), mb(rss_10k.1)
    ));
    report.line(&format!(
        "Growth from call {CALLS} to call {RSS_CALLS}: {:+.1} MB RSS.\n",
        mb(rss_10k.0) - mb(rss_1k.0)
    ));

    report.line("## Streamable HTTP throughput (kept-alive connections, loopback)\n");
    report.line(&format!(
        "Each client has one connection and sends calls back to back for {HTTP_SECONDS} s (at most {HTTP_MAX_REQUESTS} calls in all).\n"
    ));
    report.line("| clients | calls/s | p50 | p99 | errors |\n|---|---|---|---|---|");
    let mut http = HttpServer::spawn(&server, &base);
    for clients in [1, 8, 64] {
        let r = runtime.block_on(http_load(&http.url, clients));
        report.line(&format!(
            "| {clients} | **{:.0}** | {:.3} ms | {:.3} ms | {} |",
            r.per_second,
            ms(r.p50),
            ms(r.p99),
            r.errors
        ));
    }
    report.line("");
    let (rss, peak) = rss_of(http.child.id());
    report.line(&format!(
        "HTTP server after this load: RSS {:.1} MB, peak {:.1} MB.\n",
        mb(rss),
        mb(peak)
    ));
    http.stop();

    let size = std::fs::metadata(&server).map(|m| m.len()).unwrap_or(0);
    report.line("## Release binary\n");
    report.line(&format!(
        "{} bytes ({:.1} MB), stripped, LTO\n",
        size,
        mb(size)
    ));

    report.line(&tool_list_report(&list_json));
    let text = report.0;
    println!("{text}");
    let _ = std::fs::create_dir_all("target/bench");
    let _ = std::fs::write("target/bench/report.md", &text);
}

#[derive(Default)]
struct Report(String);

impl Report {
    fn line(&mut self, s: &str) {
        self.0.push_str(s);
        self.0.push('\n');
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `p`-th percentile of sorted (or not yet sorted) durations.
fn percentile(values: &[Duration], p: f64) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i]
}

/// Builds the release server and returns its path; `DATASOURCE_MCP_BENCH_SERVER` names
/// another binary instead (an earlier commit's, to compare on the same machine).
/// The binary a mode compares with: `--before BIN`, else `DATASOURCE_MCP_BENCH_BEFORE`.
fn before_binary(mode: &str, args: &[String]) -> Option<String> {
    let mut before = std::env::var("DATASOURCE_MCP_BENCH_BEFORE").ok();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--before" => before = rest.next().cloned(),
            other => panic!("{mode}: unknown argument {other} (expected --before <binary>)"),
        }
    }
    before
}

fn build_server() -> String {
    if let Ok(path) = std::env::var("DATASOURCE_MCP_BENCH_SERVER") {
        return path;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    // `cargo run` gives the bench its own package's variables (CARGO_MANIFEST_DIR, CARGO_PKG_*).
    // A nested build that inherits them sees the inputs of ring's build script change and
    // rebuilds the whole server (minutes, with LTO) on every run: it gets none of them.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
            ]
            .contains(&&*key)
        {
            build.env_remove(&*key);
        }
    }
    let status = build
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "datasource-mcp",
            "--bin",
            "datasource-mcp",
        ])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the release build failed");
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| {
        std::env::var("CARGO_MANIFEST_DIR")
            .map(|d| format!("{d}/../target"))
            .unwrap_or_else(|_| "target".into())
    });
    format!("{target}/release/datasource-mcp")
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| format!("{:.0} GiB", kb as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "Machine: {cpu}, {cores} cores, {memory}, Linux {}. Upstream, clients and server share these cores.",
        kernel.trim()
    )
}

// ---- the upstream ---------------------------------------------------------------------------

/// A realistic connector template, answered instantly.
fn template() -> Value {
    let field = |api: &str, kind: &str, mandatory: bool, test: bool| {
        json!({"name": api, "apiName": api, "displayName": api, "type": kind, "mandatory": mandatory,
            "mandatoryForTest": test, "validation": [], "section": "connection", "order": 1, "enabled": true,
            "placeholder": ""})
    };
    json!({"name": "rdb-mysql", "displayName": "MySQL", "category": "RDB", "fields": [
        field("name", "string", true, false), field("rdb_url", "string", true, true),
        field("rdb_name", "string", false, false), field("username", "string", true, true),
        field("password", "password", true, true), field("scanner_group", "string", false, false),
        field("security_tier", "enum", false, false), field("enabled", "enum", false, false)]})
}

async fn start_upstream() -> std::net::SocketAddr {
    let body = template().to_string();
    let app = axum::Router::new().route(
        "/api/v1/ds-connections-types/template/rdb-mysql",
        axum::routing::get(move || {
            let body = body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// The request the server sends for the benchmarked call, made straight to the upstream.
struct DirectClient {
    client: reqwest::Client,
    url: String,
}

impl DirectClient {
    fn new(base: &str) -> Self {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .build()
            .unwrap();
        let url = format!("{base}/ds-connections-types/template/rdb-mysql");
        Self { client, url }
    }

    async fn call(&self) -> Duration {
        let started = Instant::now();
        let r = self
            .client
            .get(&self.url)
            .header("authorization", "tok")
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        let _ = r.bytes().await.unwrap();
        started.elapsed()
    }
}

// ---- stdio ------------------------------------------------------------------------------------

fn server_command(server: &str, base: &str) -> Command {
    // Every provider is configured (so tools/list holds all 26 tools); only BigID is called.
    let mut cmd = Command::new(server);
    cmd.env_clear()
        .env("BIGID_BASE_URL", base)
        .env("BIGID_ACCESS_TOKEN", "tok")
        .env("PDC_BASE_URL", base)
        .env("PDC_ACCESS_TOKEN", "tok")
        .env("BIGDATA_BASE_URL", base)
        .env("BIGDATA_API_KEY", "key")
        .env("DATABRAIN_BASE_URL", base)
        .env("DATABRAIN_SERVICE_TOKEN", "tok")
        .env("RUST_LOG", "warn");
    cmd
}

fn initialize_line() -> String {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}})
    .to_string()
        + "\n"
}

fn cold_start(server: &str, base: &str) -> Vec<Duration> {
    let mut out = Vec::new();
    for _ in 0..SPAWNS {
        let started = Instant::now();
        let mut child = server_command(server, base)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .as_mut()
            .unwrap()
            .write_all(initialize_line().as_bytes())
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        out.push(started.elapsed());
        assert!(line.contains("\"result\""), "{line}");
        drop(child.stdin.take());
        let _ = child.wait();
    }
    out.sort();
    out
}

/// A raw JSON-RPC client over the server's stdin/stdout: a line out, a line in, nothing else
/// in between, so the client adds as little as possible to what is measured.
struct StdioClient {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
    next_id: u64,
}

impl StdioClient {
    fn spawn(server: &str, base: &str) -> Self {
        let mut child = server_command(server, base)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            out,
            next_id: 1,
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    fn read(&mut self) -> String {
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        line
    }

    fn handshake(&mut self) {
        self.send(&initialize_line());
        self.read();
        self.send("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
    }

    fn request(&mut self, method: &str, params: Value) -> String {
        let id = self.next_id;
        self.next_id += 1;
        self.send(
            &(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string()
                + "\n"),
        );
        self.read()
    }

    fn tools_list(&mut self) -> Value {
        serde_json::from_str(&self.request("tools/list", json!({}))).unwrap()
    }

    fn tools_list_latency(&mut self, n: usize) -> Vec<Duration> {
        (0..n)
            .map(|_| {
                let started = Instant::now();
                self.request("tools/list", json!({}));
                started.elapsed()
            })
            .collect()
    }

    fn call(&mut self) -> Duration {
        let started = Instant::now();
        let answer = self.request(
            "tools/call",
            json!({"name": "bigid_get_connector_template", "arguments": {"type": "rdb-mysql"}}),
        );
        let took = started.elapsed();
        debug_assert!(answer.contains("\"isError\":false"), "{answer}");
        took
    }

    /// (current RSS, peak RSS) in bytes, from /proc.
    fn rss(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let kb = |key: &str| {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        (kb("VmRSS:"), kb("VmHWM:"))
    }
}

/// (current RSS, peak RSS) of a process in bytes, from /proc.
fn rss_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

impl Drop for StdioClient {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

// ---- HTTP -------------------------------------------------------------------------------------

struct HttpServer {
    child: Child,
    url: String,
}

impl HttpServer {
    fn spawn(server: &str, base: &str) -> Self {
        let mut child = server_command(server, base)
            .args([
                "--transport",
                "http",
                "--listen",
                "127.0.0.1:0",
                "--max-http-requests",
                "256",
            ])
            .env("DATASOURCE_MCP_HTTP_TOKEN", TOKEN)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let url = loop {
            let mut line = String::new();
            assert!(
                err.read_line(&mut line).unwrap() > 0,
                "the HTTP server did not start"
            );
            if let Some(rest) = line.split(" at http://").nth(1) {
                break format!("http://{}", rest.split(' ').next().unwrap());
            }
        };
        std::thread::spawn(move || {
            let mut sink = String::new();
            while err.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        Self { child, url }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Load {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: usize,
}

async fn http_load(url: &str, clients: usize) -> Load {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "bigid_get_connector_template", "arguments": {"type": "rdb-mysql"}}})
    .to_string();
    let deadline = Instant::now() + Duration::from_secs(HTTP_SECONDS);
    let budget = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(HTTP_MAX_REQUESTS));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (url, body, budget) = (url.to_string(), body.clone(), budget.clone());
        tasks.push(tokio::spawn(async move {
            // One kept-alive connection per client.
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .tcp_nodelay(true)
                .build()
                .unwrap();
            let mut latencies = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline
                && budget.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0
            {
                let t = Instant::now();
                let ok = match client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .header("authorization", format!("Bearer {TOKEN}"))
                    .header("mcp-protocol-version", "2025-11-25")
                    .body(body.clone())
                    .send()
                    .await
                {
                    Ok(r) => {
                        let status = r.status();
                        let text = r.bytes().await.unwrap_or_default();
                        status == 200 && memchr(&text, b"\"isError\":false")
                    }
                    Err(_) => false,
                };
                latencies.push(t.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Load {
        per_second: all.len() as f64 / elapsed,
        p50: percentile(&all, 50.0),
        p99: percentile(&all, 99.0),
        errors,
    }
}

fn memchr(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ---- tools/list size ------------------------------------------------------------------------------

fn tool_list_report(answer: &Value) -> String {
    let result = &answer["result"];
    let tools = result["tools"].as_array().unwrap();
    let o200k = tiktoken_rs::o200k_base().unwrap();
    let cl100k = tiktoken_rs::cl100k_base().unwrap();
    let count = |bpe: &tiktoken_rs::CoreBPE, v: &Value| {
        bpe.encode_with_special_tokens(&v.to_string()).len()
    };
    // What a host hands the model: name, description and input schema.
    let visible = |t: &Value| json!({"name": t["name"], "description": t["description"], "input_schema": t["inputSchema"]});
    let n = tools.len();
    let wire_bytes = result.to_string().len();
    let wire_o = count(&o200k, result);
    let wire_c = count(&cl100k, result);
    let (mut vis_o, mut vis_c, mut vis_bytes) = (0, 0, 0);
    let mut rows = Vec::new();
    for t in tools {
        let v = visible(t);
        let (o, c) = (count(&o200k, &v), count(&cl100k, &v));
        vis_o += o;
        vis_c += c;
        vis_bytes += v.to_string().len();
        rows.push(format!(
            "| `{}` | {} | {} | {} |",
            t["name"].as_str().unwrap(),
            t.to_string().len(),
            count(&o200k, t),
            o
        ));
    }
    let mut out = String::from("## tools/list size\n\n");
    out.push_str(&format!(
        "{n} tools. Tokens counted with o200k_base (GPT-4o) and cl100k_base (GPT-4); Claude's tokenizer is not public.\n\n"
    ));
    out.push_str("| | bytes | tokens (o200k) | tokens (cl100k) | per tool (o200k) |\n|---|---|---|---|---|\n");
    out.push_str(&format!(
        "| what the model sees (name, description, input schema) | {vis_bytes} | {vis_o} | {vis_c} | **{:.0}** |\n",
        vis_o as f64 / n as f64
    ));
    out.push_str(&format!(
        "| the whole tools/list result (plus titles, annotations, output schemas) | {wire_bytes} | {wire_o} | {wire_c} | {:.0} |\n\n",
        wire_o as f64 / n as f64
    ));
    out.push_str(
        "| tool | bytes | tokens, whole definition | tokens, model-visible |\n|---|---|---|---|\n",
    );
    out.push_str(&rows.join("\n"));
    out.push('\n');
    out
}
