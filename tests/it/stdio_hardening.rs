//! The stdio transport against a hostile or careless client: every line that is not a usable
//! message is answered (with its id when one can be read) and the session goes on, and a client
//! that stops reading stdout stops the server reading stdin instead of growing its memory.

use std::time::{Duration, Instant};

use crate::support::*;
use datasource_mcp::operation::Provider;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// The built binary over stdio, initialized, with its stdout read line by line.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Lines<BufReader<ChildStdout>>,
}

impl Session {
    async fn start(vars: &[(&str, &str)]) -> Session {
        let mut child = tokio::process::Command::new(binary())
            .args(["--max-retries", "0"])
            .env_clear()
            .envs(vars.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let out = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut session = Session { child, stdin, out };
        for line in handshake() {
            session.send(line.to_string().as_bytes()).await;
        }
        assert_eq!(session.next().await.0["id"], 0, "initialize answered");
        session
    }

    async fn send(&mut self, line: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
    }

    /// The next stdout line, parsed (it must be JSON), and as written.
    async fn next(&mut self) -> (Value, String) {
        let line = tokio::time::timeout(Duration::from_secs(20), self.out.next_line())
            .await
            .expect("an answer within 20 s")
            .unwrap()
            .expect("the server is still running");
        let value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        (value, line)
    }

    /// Sends `line`, then a ping; returns every line written before the ping's answer.
    async fn answers_to(&mut self, line: &[u8], ping_id: u64) -> Vec<(Value, String)> {
        self.send(line).await;
        self.send(rpc(ping_id, "ping", json!({})).to_string().as_bytes())
            .await;
        let mut before = Vec::new();
        loop {
            let (value, raw) = self.next().await;
            if value["id"] == ping_id && value.get("result").is_some() {
                return before;
            }
            before.push((value, raw));
        }
    }
}

fn bigid_offline() -> [(&'static str, &'static str); 2] {
    [
        ("BIGID_BASE_URL", "http://127.0.0.1:9/api"),
        ("BIGID_ACCESS_TOKEN", "tok"),
    ]
}

/// A marker in every bad line: no reply may contain it (the server never echoes a line).
const ECHO: &str = "ECHO-ME";

fn nested(open: &str, close: &str, depth: usize) -> String {
    format!("{}1{}", open.repeat(depth), close.repeat(depth))
}

/// (name, line, expected error code or None for no answer, expected id or Null for none).
fn cases() -> Vec<(&'static str, Vec<u8>, Option<i64>, Value)> {
    let call = |id: &str, args: &str| {
        format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"bigid_list_data_sources","arguments":{args}}}}}"#)
            .into_bytes()
    };
    let mut invalid_utf8 = call("12", &format!(r#"{{"name":"{ECHO} "#));
    invalid_utf8.truncate(invalid_utf8.len() - 2);
    invalid_utf8.extend(b"\xff\xfe\"}}}");
    let mut overlong_utf8 = call("13", &format!(r#"{{"name":"{ECHO} "#));
    overlong_utf8.truncate(overlong_utf8.len() - 2);
    overlong_utf8.extend(b"\xc0\xaf\"}}}");
    vec![
        (
            "number out of range",
            call("7", &format!(r#"{{"limit":1e400,"echo":"{ECHO}"}}"#)),
            Some(-32700),
            json!(7),
        ),
        (
            "lone surrogate",
            call("8", &format!(r#"{{"name":"\ud800 {ECHO}"}}"#)),
            Some(-32700),
            json!(8),
        ),
        (
            "arrays nested 200 deep, string id",
            call(
                r#""deep-array""#,
                &format!(r#"{{"name":"{ECHO}","x":{}}}"#, nested("[", "]", 200)),
            ),
            Some(-32700),
            json!("deep-array"),
        ),
        (
            "objects nested 200 deep",
            call(
                "10",
                &format!(
                    r#"{{"name":"{ECHO}","x":{}}}"#,
                    nested(r#"{"a":"#, "}", 200)
                ),
            ),
            Some(-32700),
            json!(10),
        ),
        (
            "id after 20,000-deep nesting",
            format!(
                r#"{{"jsonrpc":"2.0","method":"ping","params":{{"{ECHO}":{}}},"id":11}}"#,
                nested("[", "]", 20_000)
            )
            .into_bytes(),
            Some(-32700),
            json!(11),
        ),
        ("invalid UTF-8", invalid_utf8, Some(-32700), json!(12)),
        ("overlong UTF-8", overlong_utf8, Some(-32700), json!(13)),
        (
            "truncated request",
            format!(r#"{{"jsonrpc":"2.0","id":14,"method":"pi{ECHO}"#).into_bytes(),
            Some(-32700),
            json!(14),
        ),
        ("broken JSON", b"{".to_vec(), Some(-32700), Value::Null),
        (
            "the id itself out of range",
            format!(r#"{{"jsonrpc":"2.0","id":1e400,"method":"ping","params":{{"x":"{ECHO}"}}}}"#)
                .into_bytes(),
            Some(-32700),
            Value::Null,
        ),
        (
            "string id with a lone surrogate",
            format!(
                r#"{{"jsonrpc":"2.0","id":"\udc00","method":"ping","params":{{"x":"{ECHO}"}}}}"#
            )
            .into_bytes(),
            Some(-32700),
            Value::Null,
        ),
        (
            "JSON that is not a JSON-RPC request",
            format!(r#"{{"jsonrpc":"1.0","id":"v1","method":"ping","params":{{"x":"{ECHO}"}}}}"#)
                .into_bytes(),
            Some(-32600),
            json!("v1"),
        ),
        (
            "a malformed notification (never answered)",
            format!(r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":"{ECHO}"}}"#)
                .into_bytes(),
            None,
            Value::Null,
        ),
        ("whitespace only", b" \t ".to_vec(), None, Value::Null),
    ]
}

#[tokio::test]
async fn every_unusable_line_is_answered_with_its_id_and_the_session_goes_on() {
    let mut session = Session::start(&bigid_offline()).await;
    for (i, (name, line, code, id)) in cases().into_iter().enumerate() {
        let answers = session.answers_to(&line, 10_000 + i as u64).await;
        let Some(code) = code else {
            assert!(
                answers.is_empty(),
                "{name}: expected no answer, got {answers:?}"
            );
            continue;
        };
        assert_eq!(answers.len(), 1, "{name}: one answer, got {answers:?}");
        let (answer, raw) = &answers[0];
        assert_eq!(answer["jsonrpc"], "2.0", "{name}: {raw}");
        assert_eq!(answer["error"]["code"], code, "{name}: {raw}");
        assert!(answer["error"]["message"].is_string(), "{name}: {raw}");
        match &id {
            Value::Null => assert!(answer.get("id").is_none(), "{name}: no id: {raw}"),
            id => assert_eq!(&answer["id"], id, "{name}: {raw}"),
        }
        assert!(!raw.contains(ECHO), "{name}: the line is echoed: {raw}");
        assert!(raw.len() < 300, "{name}: a short reply: {raw}");
    }
    // Still a working session: a real call is answered.
    session
        .send(rpc(1, "tools/list", json!({})).to_string().as_bytes())
        .await;
    let (list, _) = session.next().await;
    assert_eq!(list["id"], 1);
    assert_eq!(
        list["result"]["tools"].as_array().unwrap().len(),
        tool_count(offered_with_only(Provider::BigId))
    );
    drop(session.stdin.take());
    assert!(session.child.wait().await.unwrap().success());
}

/// Resident memory of a process, in KiB.
#[cfg(target_os = "linux")]
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A client writes requests as fast as it can and does not read stdout for 3 s. The server must
/// stop reading stdin rather than queue the answers: its memory stays flat. Then the client reads,
/// and every request it managed to write is answered.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_client_that_stops_reading_does_not_grow_the_server() {
    let mut session = Session::start(&bigid_offline()).await;
    let pid = session.child.id().unwrap();
    let mut stdin = session.stdin.take().unwrap();
    let start = rss_kib(pid);
    let writer = tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        let mut written = 0u64;
        loop {
            let line = format!(
                "{}\n",
                json!({"jsonrpc": "2.0", "id": written + 1, "method": "tools/list"})
            );
            // One short line per write: a pipe takes a write of at most 4096 bytes whole or not
            // at all, so giving up at the deadline never leaves half a line.
            match tokio::time::timeout_at(deadline, stdin.write_all(line.as_bytes())).await {
                Ok(Ok(())) => written += 1,
                Ok(Err(e)) => panic!("stdin: {e}"),
                Err(_) => return (stdin, written),
            }
        }
    });
    let mut peak = start;
    let until = Instant::now() + Duration::from_millis(3200);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
        peak = peak.max(rss_kib(pid));
    }
    let (stdin, written) = writer.await.unwrap();
    eprintln!(
        "RSS {start} KiB at the start, {peak} KiB at most while the client did not read; {written} requests written"
    );
    assert!(
        peak < start + 32 * 1024,
        "the server's memory grew from {start} KiB to {peak} KiB while stdout was not read \
         ({written} requests written)"
    );
    assert!(written > 0);
    drop(stdin);
    let mut answered = 0u64;
    while let Some(line) = tokio::time::timeout(Duration::from_secs(60), session.out.next_line())
        .await
        .expect("answers keep coming")
        .unwrap()
    {
        let v: Value = serde_json::from_str(&line).expect("stdout is JSON");
        assert!(v["result"]["tools"].is_array(), "{line}");
        answered += 1;
    }
    assert_eq!(answered, written, "every request written is answered");
    assert!(session.child.wait().await.unwrap().success());
}

/// More calls than the server takes at once, all slow: the ones beyond the limit wait their turn
/// and every one is answered.
#[tokio::test]
async fn more_calls_than_the_server_takes_at_once_are_all_answered() {
    let fake = FakeUpstream::start().await;
    fake.otherwise(
        Reply::json(200, json!({"data": {"ds_connections": []}}))
            .delayed(Duration::from_millis(50)),
    );
    let base = fake.url("/api/v1");
    let mut session =
        Session::start(&[("BIGID_BASE_URL", &base), ("BIGID_ACCESS_TOKEN", "tok")]).await;
    let calls = 200u64;
    for id in 1..=calls {
        let call = rpc(
            id,
            "tools/call",
            json!({"name": "bigid_list_data_sources", "arguments": {}}),
        );
        session.send(call.to_string().as_bytes()).await;
    }
    let mut ids = Vec::new();
    for _ in 0..calls {
        let (answer, raw) = session.next().await;
        assert_eq!(answer["result"]["isError"], false, "{raw}");
        ids.push(answer["id"].as_u64().unwrap());
    }
    ids.sort();
    assert_eq!(ids, (1..=calls).collect::<Vec<_>>());
}

/// Calls cancelled before they finish are never answered (MCP), so they must not keep their place
/// among the requests awaiting an answer: after many of them the session still answers.
#[tokio::test]
async fn cancelled_calls_give_their_place_back() {
    let fake = FakeUpstream::start().await;
    fake.otherwise(
        Reply::json(200, json!({"data": {"ds_connections": []}})).delayed(Duration::from_secs(60)),
    );
    let base = fake.url("/api/v1");
    let mut session =
        Session::start(&[("BIGID_BASE_URL", &base), ("BIGID_ACCESS_TOKEN", "tok")]).await;
    for id in 1..=200u64 {
        let call = rpc(
            id,
            "tools/call",
            json!({"name": "bigid_list_data_sources", "arguments": {}}),
        );
        session.send(call.to_string().as_bytes()).await;
        let cancel = json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": id, "reason": "test"}});
        session.send(cancel.to_string().as_bytes()).await;
    }
    let answers = session.answers_to(b"", 9_999).await;
    assert!(
        answers.is_empty(),
        "cancelled calls are not answered: {answers:?}"
    );
}
