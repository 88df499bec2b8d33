//! The second outside attack, each finding as a test: where a secret's value may go (name
//! fields, other hosts, other callers, the place in a connection string), masking that cut
//! texts before masking them or missed a token the exchange repeated, and limits on the new
//! paths (errors, progress, waits, job ids from the vendor, the inventory's fetches, the audit
//! target).

use crate::support::*;
use datasource_mcp::upstream::UpstreamSettings;
use serde_json::{Value, json};

/// A credential the server holds (so it is masked by value), of characters unlike the filler
/// around it: any prefix of it that survives a cut shows.
const PDC_PASSWORD: &str = "Zq8-S3NT1NEL-cut-9vW";

fn pdc_vars(fake: &FakeUpstream) -> std::collections::HashMap<String, String> {
    env(&[
        ("PDC_BASE_URL", &fake.url("/pdc")),
        ("PDC_USERNAME", "catalog-admin"),
        ("PDC_PASSWORD", PDC_PASSWORD),
    ])
}

/// No five characters of the password in a row survive.
fn assert_no_prefix(what: &str, text: &str) {
    for start in 0..PDC_PASSWORD.len() - 5 {
        let piece = &PDC_PASSWORD[start..start + 5];
        assert!(!text.contains(piece), "{what} keeps {piece:?}:\n{text}");
    }
}

fn login(fake: &FakeUpstream) {
    fake.on(
        "POST",
        "/pdc/auth",
        Reply::json(
            200,
            json!({"data": {"accessToken": "tok-0123456789abcdef-pdc"}}),
        ),
    );
}

/// Item 7: an error message is cut at 500 characters after masking, so a secret straddling
/// the cut leaves nothing behind (before, its first 15 characters did).
#[tokio::test]
async fn an_error_message_is_masked_before_it_is_cut() {
    let fake = FakeUpstream::start().await;
    login(&fake);
    let filler = "x".repeat(485);
    fake.on(
        "GET",
        "/pdc/data-sources/x1",
        Reply::text(400, &format!("{filler}{PDC_PASSWORD} was refused")),
    );
    let client = client_with(&pdc_vars(&fake), UpstreamSettings::default()).await;
    let (result, is_error) = call(&client, "pdc_get_data_source", json!({"id": "x1"})).await;
    assert!(is_error);
    let message = result["error"]["message"].as_str().unwrap();
    assert_no_prefix("the error", &result.to_string());
    assert!(
        message == format!("{filler}*** was refused"),
        "{} chars",
        message.len()
    );
}

/// Item 7: the trace cuts an answer's text at 64 K after masking it.
#[tokio::test]
async fn a_trace_line_is_masked_before_it_is_cut() {
    let fake = FakeUpstream::start().await;
    login(&fake);
    let filler = "y".repeat(64 * 1024 - 15);
    fake.on(
        "GET",
        "/pdc/data-sources/x1",
        Reply::text(200, &format!("{filler}{PDC_PASSWORD} and more")),
    );
    let file = std::env::temp_dir().join(format!("dsmcp-cut-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let out = tokio::process::Command::new(binary())
        .args(["call", "pdc_get_data_source", "id=x1", "--trace-vendor"])
        .arg(&file)
        .env_clear()
        .envs(pdc_vars(&fake))
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&file).unwrap();
    assert_no_prefix("the trace", &text);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        lines[1]["response"]["body"] == json!(format!("{filler}*** and more")),
        "the trace keeps the masked text whole"
    );
}

/// Item 8: a token exchange's answer that repeats the token it issues (in a message, under an
/// ordinary key) is masked in its own trace line, before the token is registered.
#[tokio::test]
async fn the_trace_masks_a_token_its_own_exchange_repeats() {
    let fake = FakeUpstream::start().await;
    let token = "eyJ0b2tlbiI6InMzbnQxbmVsIn0.Zq8vW-session-S3NT1NEL";
    fake.on(
        "GET",
        "/bigid/refresh-access-token",
        Reply::json(
            200,
            json!({"success": true, "systemToken": token, "note": format!("issued {token} for 1 h")}),
        ),
    );
    fake.on(
        "GET",
        "/bigid/ds_connections/Orders",
        Reply::json(200, json!({"ds_connection": {"name": "Orders"}})),
    );
    let file = std::env::temp_dir().join(format!("dsmcp-tok-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let out = tokio::process::Command::new(binary())
        .args([
            "call",
            "bigid_get_data_source",
            "name=Orders",
            "--trace-vendor",
        ])
        .arg(&file)
        .env_clear()
        .env("BIGID_BASE_URL", fake.url("/bigid"))
        .env("BIGID_USER_TOKEN", "user-token-S3NT1NEL-0123456789")
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("S3NT1NEL"), "{text}");
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["response"]["body"]["note"], "issued *** for 1 h");
}
