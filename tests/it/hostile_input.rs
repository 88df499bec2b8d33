//! Hostile input. The stdio server is fed the malformed-input catalogue (security.md RPC-01 and
//! TEST-06) and must answer each with the right error (-32700 with the line's id when it can be
//! read, for bytes serde cannot parse; nothing for notifications) and still answer `ping`.
//! Random JSON drives every tool's argument validation, which must never panic.

use crate::support::*;
use proptest::prelude::*;
use serde_json::{Value, json};

/// What the server must answer to one malformed line.
enum Expect {
    /// Nothing (not JSON at all, or a notification).
    Silence,
    /// A JSON-RPC error with this code and (if given) this id.
    RpcError(i64, Option<u64>),
    /// A tool result with isError and this error code and field.
    ToolError(&'static str, &'static str),
}

fn catalogue() -> Vec<(&'static str, Vec<u8>, Expect)> {
    use Expect::*;
    let call = |id: u64, args: &str| {
        format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"bigid_list_data_sources","arguments":{args}}}}}"#).into_bytes()
    };
    vec![
        ("broken JSON", b"{".to_vec(), RpcError(-32700, None)),
        ("truncated request", br#"{"jsonrpc":"2.0","id":3,"method":"pi"#.to_vec(), RpcError(-32700, Some(3))),
        ("a number", b"42".to_vec(), RpcError(-32600, None)),
        ("a string", br#""x""#.to_vec(), RpcError(-32600, None)),
        ("null", b"null".to_vec(), RpcError(-32600, None)),
        ("empty batch", b"[]".to_vec(), RpcError(-32600, None)),
        ("batch", br#"[{"jsonrpc":"2.0","id":11,"method":"ping"},{"jsonrpc":"2.0","id":12,"method":"ping"}]"#.to_vec(), RpcError(-32600, None)),
        ("jsonrpc 1.0", br#"{"jsonrpc":"1.0","id":13,"method":"ping"}"#.to_vec(), RpcError(-32600, None)),
        ("no jsonrpc member", br#"{"id":14,"method":"ping"}"#.to_vec(), RpcError(-32600, None)),
        ("id null", br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#.to_vec(), RpcError(-32600, None)),
        ("id object", br#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#.to_vec(), RpcError(-32600, None)),
        ("id float", br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#.to_vec(), RpcError(-32600, None)),
        ("20,000-deep nesting", {
            let mut v = br#"{"jsonrpc":"2.0","id":15,"method":"ping","params":{"x":"#.to_vec();
            v.extend(std::iter::repeat_n(b'[', 20_000));
            v.extend(std::iter::repeat_n(b']', 20_000));
            v.extend(b"}}");
            v
        }, RpcError(-32700, Some(15))),
        ("invalid UTF-8", b"{\"jsonrpc\":\"2.0\",\"id\":16,\"method\":\"ping\",\"params\":{\"x\":\"\xff\xfe\"}}".to_vec(), RpcError(-32700, Some(16))),
        ("overlong UTF-8", b"{\"jsonrpc\":\"2.0\",\"id\":16,\"method\":\"ping\",\"params\":{\"x\":\"\xc0\xaf\"}}".to_vec(), RpcError(-32700, Some(16))),
        ("lone surrogate", br#"{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"bigid_get_data_source","arguments":{"name":"\ud800"}}}"#.to_vec(), RpcError(-32700, Some(17))),
        ("number out of range", call(20, r#"{"limit":1e400}"#), RpcError(-32700, Some(20))),
        ("unknown method", br#"{"jsonrpc":"2.0","id":18,"method":"foo/bar"}"#.to_vec(), RpcError(-32601, Some(18))),
        ("unknown tool", br#"{"jsonrpc":"2.0","id":19,"method":"tools/call","params":{"name":"nope","arguments":{}}}"#.to_vec(), RpcError(-32602, Some(19))),
        ("arguments an array", call(22, "[1]"), RpcError(-32602, Some(22))),
        ("arguments a string", call(23, r#""x""#), RpcError(-32602, Some(23))),
        ("tools/call without params", br#"{"jsonrpc":"2.0","id":24,"method":"tools/call"}"#.to_vec(), RpcError(-32602, Some(24))),
        ("integer past u64", call(21, r#"{"limit":18446744073709551616}"#), ToolError("INVALID_ARGUMENT", "limit")),
        ("negative zero", call(26, r#"{"limit":-0}"#), ToolError("INVALID_ARGUMENT", "limit")),
        ("float for an integer", call(27, r#"{"limit":1.5}"#), ToolError("INVALID_ARGUMENT", "limit")),
        ("wrong type", call(25, r#"{"limit":"ten"}"#), ToolError("INVALID_ARGUMENT", "limit")),
        ("unknown argument", call(28, r#"{"limt":10}"#), ToolError("INVALID_ARGUMENT", "limt")),
        ("null argument", br#"{"jsonrpc":"2.0","id":29,"method":"tools/call","params":{"name":"bigid_get_data_source","arguments":{"name":null}}}"#.to_vec(), ToolError("INVALID_ARGUMENT", "name")),
        ("duplicate keys (last wins)", br#"{"jsonrpc":"2.0","id":30,"method":"tools/call","params":{"name":"bigid_get_data_source","arguments":{"name":"a","name":""}}}"#.to_vec(), ToolError("INVALID_ARGUMENT", "name")),
        ("bidi control in a name", br#"{"jsonrpc":"2.0","id":31,"method":"tools/call","params":{"name":"bigid_delete_data_source","arguments":{"name":"prod\u202edb"}}}"#.to_vec(), ToolError("INVALID_ARGUMENT", "name")),
        ("tag characters in a name", "{\"jsonrpc\":\"2.0\",\"id\":32,\"method\":\"tools/call\",\"params\":{\"name\":\"bigid_delete_data_source\",\"arguments\":{\"name\":\"db\u{E0041}\"}}}".as_bytes().to_vec(), ToolError("INVALID_ARGUMENT", "name")),
        ("unknown secret reference", br#"{"jsonrpc":"2.0","id":33,"method":"tools/call","params":{"name":"bigid_test_data_source_connection","arguments":{"ds_connection":{"type":"rdb-mysql","password":"${secret:NOPE}"}}}}"#.to_vec(), ToolError("SECRET_NEEDED", "ds_connection.password")),
        ("secret reference in a plain field", br#"{"jsonrpc":"2.0","id":35,"method":"tools/call","params":{"name":"bigid_get_data_source","arguments":{"name":"${secret:NOPE}"}}}"#.to_vec(), ToolError("INVALID_ARGUMENT", "name")),
        ("cancel of an unknown id", br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":999}}"#.to_vec(), Silence),
        ("unknown notification", br#"{"jsonrpc":"2.0","method":"notifications/nope"}"#.to_vec(), Silence),
        ("a response sent by the client", br#"{"jsonrpc":"2.0","id":34,"result":{}}"#.to_vec(), Silence),
        ("an empty line", b"".to_vec(), Silence),
    ]
}

#[tokio::test]
async fn the_malformed_input_catalogue() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let mut child = tokio::process::Command::new(binary())
        .args(["--max-retries", "0"])
        .env_clear()
        .env("BIGID_BASE_URL", "http://127.0.0.1:9/api")
        .env("BIGID_ACCESS_TOKEN", "tok")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    for line in handshake() {
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
    }
    out.next_line().await.unwrap().unwrap();
    let cases = catalogue();
    let count = cases.len();
    for (i, (name, bytes, expect)) in cases.into_iter().enumerate() {
        let ping_id = 10_000 + i as u64;
        stdin.write_all(&bytes).await.unwrap();
        stdin.write_all(b"\n").await.unwrap();
        stdin
            .write_all(format!("{}\n", rpc(ping_id, "ping", json!({}))).as_bytes())
            .await
            .unwrap();
        let mut before_ping = Vec::new();
        loop {
            let line = tokio::time::timeout(std::time::Duration::from_secs(20), out.next_line())
                .await
                .unwrap_or_else(|_| panic!("{name}: no answer to the ping"))
                .unwrap()
                .unwrap_or_else(|| panic!("{name}: the server exited"));
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|_| panic!("{name}: stdout not JSON: {line}"));
            if v["id"] == ping_id {
                assert_eq!(v["result"], json!({}), "{name}: ping answered");
                break;
            }
            before_ping.push(v);
        }
        match expect {
            Expect::Silence => assert!(
                before_ping.is_empty(),
                "{name}: expected no answer, got {before_ping:?}"
            ),
            Expect::RpcError(code, id) => {
                assert_eq!(before_ping.len(), 1, "{name}: {before_ping:?}");
                assert_eq!(
                    before_ping[0]["error"]["code"], code,
                    "{name}: {before_ping:?}"
                );
                if let Some(id) = id {
                    assert_eq!(before_ping[0]["id"], id, "{name}");
                }
            }
            Expect::ToolError(code, field) => {
                assert_eq!(before_ping.len(), 1, "{name}: {before_ping:?}");
                let result = &before_ping[0]["result"];
                assert_eq!(result["isError"], true, "{name}");
                assert_eq!(
                    result["structuredContent"]["error"]["code"], code,
                    "{name}: {result}"
                );
                if !field.is_empty() {
                    assert_eq!(
                        result["structuredContent"]["error"]["field"], field,
                        "{name}"
                    );
                }
            }
        }
    }
    assert_eq!(
        count, 37,
        "the catalogue's size is reported in the closing note"
    );
    drop(stdin);
    assert!(child.wait().await.unwrap().success());
}

/// Every property name of every tool's input schema: random objects use them, so they get
/// past "unknown argument" into the deeper rules.
fn known_keys() -> Vec<String> {
    fn walk(schema: &Value, out: &mut Vec<String>) {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                out.push(k.clone());
                walk(v, out);
            }
        }
        for key in ["items", "anyOf"] {
            match schema.get(key) {
                Some(Value::Array(list)) => list.iter().for_each(|s| walk(s, out)),
                Some(s) => walk(s, out),
                None => {}
            }
        }
    }
    let mut keys = Vec::new();
    for op in datasource_mcp::providers::operations() {
        walk(&Value::Object((op.args.schema)()), &mut keys);
    }
    keys.sort();
    keys.dedup();
    keys
}

fn arb_json(keys: Vec<String>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,24}".prop_map(Value::String),
        Just(json!("2026-01-01")),
        Just(json!("019a9612-bfad-758c-884e-37dd8c6ad2cb")),
        Just(json!("${secret:X}")),
    ];
    let key = prop_oneof![prop::sample::select(keys), "[a-z_]{1,8}"];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..7)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any JSON, into every tool's validation: an answer, never a panic.
    #[test]
    fn validation_never_panics(args in arb_json(known_keys())) {
        for op in datasource_mcp::providers::operations() {
            let _ = (op.args.prepare)(args.clone());
        }
    }

    /// Each tool's valid example with one field replaced by any JSON: still no panic, and an
    /// error (when there is one) names a field.
    #[test]
    fn mutated_examples_never_panic(replacement in arb_json(known_keys()), which in 0usize..32) {
        for op in datasource_mcp::providers::operations() {
            let mut args: Value = serde_json::from_str(op.example).unwrap();
            if let Some(map) = args.as_object_mut() && !map.is_empty() {
                let key = map.keys().nth(which % map.len()).unwrap().clone();
                map.insert(key, replacement.clone());
            }
            if let Err(e) = (op.args.prepare)(args) {
                prop_assert!(!e.field.is_empty());
            }
        }
    }
}
