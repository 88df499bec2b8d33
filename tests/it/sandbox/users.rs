//! `datasource-mcp sandbox --users alice,bob --record FILE`, as a process: each user's own key,
//! accepted like the service's, and the record of whose key every request carried.

use crate::support::*;
use serde_json::{Value, json};

#[tokio::test]
async fn users_have_keys_of_their_own_and_every_request_is_recorded_by_whose_key() {
    let dir = std::env::temp_dir().join(format!("dsmcp-sandbox-users-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let record = dir.join("vendor.jsonl");
    let _ = std::fs::remove_file(&record);
    // The sandbox prints everything in one write: read until every user's keys are there.
    let (mut child, vars) = sandbox_process(
        &["--users", "alice,bob", "--record", record.to_str().unwrap()],
        |vars| {
            vars.keys()
                .filter(|k| k.starts_with("SANDBOX_USER_"))
                .count()
                >= 6
        },
    )
    .await;
    let users: Vec<&str> = vars
        .keys()
        .filter(|k| k.starts_with("SANDBOX_USER_"))
        .map(String::as_str)
        .collect();
    let mut users = users;
    users.sort();
    assert_eq!(
        users,
        [
            "SANDBOX_USER_ALICE_BIGDATA_API_KEY",
            "SANDBOX_USER_ALICE_DATABRAIN_SERVICE_TOKEN",
            "SANDBOX_USER_ALICE_PDC_ACCESS_TOKEN",
            "SANDBOX_USER_BOB_BIGDATA_API_KEY",
            "SANDBOX_USER_BOB_DATABRAIN_SERVICE_TOKEN",
            "SANDBOX_USER_BOB_PDC_ACCESS_TOKEN",
        ]
    );
    let alice = &vars["SANDBOX_USER_ALICE_BIGDATA_API_KEY"];
    let bob = &vars["SANDBOX_USER_BOB_BIGDATA_API_KEY"];
    assert_ne!(alice, bob);
    assert_ne!(alice, &vars["BIGDATA_API_KEY"]);
    let connectors = format!("{}/contents/v1/connectors", vars["BIGDATA_BASE_URL"]);
    let http = http();

    // Alice creates with her own key: the vendor's usual answer.
    let created = http
        .post(&connectors)
        .header("x-api-key", alice)
        .json(&json!({"type": "email", "label": "alice's inbox",
            "config": {"allowed_emails": ["alice@example.com"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["label"], "alice's inbox");
    // Bob lists with his, and sees what alice made (one tenant, many keys).
    let listed = http
        .get(&connectors)
        .header("x-api-key", bob)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status().as_u16(), 200);
    let listed = listed.text().await.unwrap();
    assert!(listed.contains("alice's inbox"), "{listed}");
    // A key nobody holds, none at all, and the service's own.
    for (key, status) in [(Some("bigdata-not-a-key"), 401), (None, 401)] {
        let mut request = http.get(&connectors);
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        assert_eq!(request.send().await.unwrap().status().as_u16(), status);
    }
    let service = http
        .get(format!(
            "{connectors}/{}",
            created["connector_id"].as_str().unwrap()
        ))
        .header("x-api-key", &vars["BIGDATA_API_KEY"])
        .send()
        .await
        .unwrap();
    assert_eq!(service.status().as_u16(), 200);
    // DataBrain: alice's own bearer token.
    let datasources = http
        .get(format!("{}/api/v2/datasource", vars["DATABRAIN_BASE_URL"]))
        .bearer_auth(&vars["SANDBOX_USER_ALICE_DATABRAIN_SERVICE_TOKEN"])
        .send()
        .await
        .unwrap();
    assert_eq!(datasources.status().as_u16(), 200);
    // Another vendor's key is no key here.
    let crossed = http
        .get(&connectors)
        .header(
            "x-api-key",
            &vars["SANDBOX_USER_BOB_DATABRAIN_SERVICE_TOKEN"],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(crossed.status().as_u16(), 401);
    // PDC: bob's own access token, as a bearer token, passes (the body is what PDC refuses).
    let pdc = http
        .post(format!("{}/data-sources/filter", vars["PDC_BASE_URL"]))
        .bearer_auth(&vars["SANDBOX_USER_BOB_PDC_ACCESS_TOKEN"])
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(pdc.status().as_u16(), 400, "{}", pdc.text().await.unwrap());

    // Each line is written before its answer leaves: all there now, in order, no key in them.
    let text = std::fs::read_to_string(&record).unwrap();
    let id = created["connector_id"].as_str().unwrap();
    let expected = [
        r#"{"vendor":"bigdata","method":"POST","path":"/contents/v1/connectors","status":201,"credential":"alice"}"#.to_string(),
        r#"{"vendor":"bigdata","method":"GET","path":"/contents/v1/connectors","status":200,"credential":"bob"}"#.to_string(),
        r#"{"vendor":"bigdata","method":"GET","path":"/contents/v1/connectors","status":401,"credential":null}"#.to_string(),
        r#"{"vendor":"bigdata","method":"GET","path":"/contents/v1/connectors","status":401,"credential":null}"#.to_string(),
        format!(r#"{{"vendor":"bigdata","method":"GET","path":"/contents/v1/connectors/{id}","status":200,"credential":"service"}}"#),
        r#"{"vendor":"databrain","method":"GET","path":"/api/v2/datasource","status":200,"credential":"alice"}"#.to_string(),
        r#"{"vendor":"bigdata","method":"GET","path":"/contents/v1/connectors","status":401,"credential":null}"#.to_string(),
        r#"{"vendor":"pdc","method":"POST","path":"/api/public/v1/data-sources/filter","status":400,"credential":"bob"}"#.to_string(),
    ];
    assert_eq!(text.lines().collect::<Vec<_>>(), expected, "{text}");
    for (name, value) in &vars {
        if name.contains("KEY") || name.contains("TOKEN") {
            assert!(!text.contains(value.as_str()), "{name} in the record");
        }
    }
    child.kill().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_bad_user_name_is_refused() {
    for bad in ["Alice", "alice,alice", "service", "a b"] {
        let out = tokio::process::Command::new(binary())
            .args(["sandbox", "--listen", "127.0.0.1:0", "--users", bad])
            .env_clear()
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--users"), "{bad}: {stderr}");
    }
}
