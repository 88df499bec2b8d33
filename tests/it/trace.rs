//! The wire trace for bug reports (`--trace-vendor FILE`): every vendor request and answer as
//! one JSON line, masked like every other output.

use crate::support::*;
use serde_json::{Value, json};

#[tokio::test]
async fn every_vendor_exchange_is_traced_and_masked() {
    let fake = FakeUpstream::start().await;
    let password = "S3NT1NEL-pdc-login";
    fake.on(
        "POST",
        "/pdc/auth",
        Reply::json(
            200,
            json!({"message": "OK", "data": {"accessToken": "tok-S3NT1NEL-0123456789abcdef"}}),
        ),
    );
    fake.on(
        "POST",
        "/pdc/data-sources",
        Reply::json(
            400,
            json!({"status": 400, "message": "invalid record {\"password\":\"S3NT1NEL-arg-pw\"}: password S3NT1NEL-arg-pw refused"}),
        ),
    );
    let dir = std::env::temp_dir().join(format!("dsmcp-trace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("vendor.jsonl");
    let _ = std::fs::remove_file(&file);
    let out = tokio::process::Command::new(binary())
        .args(["call", "pdc_create_data_sources", "--trace-vendor"])
        .arg(&file)
        .args([
            "--args",
            r#"{"data_sources": [{"resourceName": "orders", "databaseType": "POSTGRES", "password": "S3NT1NEL-arg-pw"}]}"#,
        ])
        .env_clear()
        .env("PDC_BASE_URL", fake.url("/pdc"))
        .env("PDC_USERNAME", "catalog-admin")
        .env("PDC_PASSWORD", password)
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("S3NT1NEL"), "{text}");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    let (login, create) = (&lines[0], &lines[1]);
    assert_eq!(login["request"]["method"], "POST");
    assert_eq!(login["request"]["url"], fake.url("/pdc/auth"));
    assert_eq!(
        login["request"]["body"],
        json!({"username": "catalog-admin", "password": "***", "client_id": "pdc-client",
            "grant_type": "password", "scope": "openid profile email"})
    );
    assert_eq!(login["response"]["status"], 200);
    assert_eq!(login["response"]["body"]["data"]["accessToken"], "***");
    assert_eq!(create["request"]["headers"]["authorization"], "***");
    assert_eq!(create["request"]["body"]["password"], "***");
    assert_eq!(create["response"]["status"], 400);
    assert_eq!(
        create["response"]["body"]["message"],
        "invalid record {\"password\":\"***\"}: password *** refused"
    );
    for line in &lines {
        assert!(line["time"].as_str().unwrap().ends_with('Z'));
        assert!(line["ms"].as_f64().unwrap() >= 0.0);
    }
    // Appended, not replaced.
    let again = tokio::process::Command::new(binary())
        .args(["call", "pdc_create_data_sources", "--trace-vendor"])
        .arg(&file)
        .args([
            "--args",
            r#"{"data_sources": [{"resourceName": "b", "databaseType": "MYSQL"}]}"#,
        ])
        .env_clear()
        .env("PDC_BASE_URL", fake.url("/pdc"))
        .env("PDC_ACCESS_TOKEN", "pdc-token-0123456789abcdef")
        .output()
        .await
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 3);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
