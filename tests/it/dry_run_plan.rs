//! A dry run's plan is the request that goes out: for every row that changes something, the
//! plan of its example equals, field by field, what the vendor receives when the same call
//! runs (method, URL, every header but the transport's own, body; credentials masked in both).

use crate::support::*;
use datasource_mcp::providers;
use datasource_mcp::redact;
use datasource_mcp::upstream::UpstreamSettings;
use serde_json::{Value, json};

/// Static credentials (no token exchange in the recordings); a reference's value is set.
fn vars(fake: &FakeUpstream) -> std::collections::HashMap<String, String> {
    let mut vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/bigid")),
        ("BIGID_ACCESS_TOKEN", "bigid-session-token"),
        ("PDC_BASE_URL", &fake.url("/pdc")),
        ("PDC_ACCESS_TOKEN", "pdc-access-token"),
        ("BIGDATA_BASE_URL", &fake.url("/bigdata")),
        ("BIGDATA_API_KEY", "bigdata-api-key"),
        ("DATABRAIN_BASE_URL", &fake.url("/databrain")),
        ("DATABRAIN_SERVICE_TOKEN", "databrain-token"),
    ]);
    for op in providers::operations() {
        let mut rest = op.example;
        while let Some(at) = rest.find("${secret:") {
            let name = &rest[at + 9..];
            let name = &name[..name.find('}').unwrap()];
            vars.insert(
                format!("DATASOURCE_MCP_SECRET_{name}"),
                "resolved-value".into(),
            );
            rest = &rest[at + 9..];
        }
    }
    vars
}

/// What a plan shows of a request the fake recorded: method, URL and body (no headers).
fn as_planned(r: &Recorded, _credential_header: &str) -> Value {
    let query = r
        .query
        .as_ref()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let mut planned = json!({
        "method": r.method,
        "url": format!("http://{}{}{query}", r.headers["host"], r.path),
    });
    if !r.body.is_empty() {
        let mut body = r.json();
        redact::clean_json(&mut body, None);
        planned["body"] = body;
    }
    planned
}

/// A plan shows `${secret:NAME}` where the request carries the value, which every output
/// masks: they compare as the mask.
fn mask_references(v: &mut Value) {
    match v {
        Value::String(s) if s.starts_with("${secret:") => *s = "***".into(),
        Value::Array(items) => items.iter_mut().for_each(mask_references),
        Value::Object(map) => map.values_mut().for_each(mask_references),
        _ => {}
    }
}

#[tokio::test]
async fn every_dry_run_plan_is_the_request_sent() {
    let fake = FakeUpstream::start().await;
    let connector = "0b16da7a-5eed-4000-8000-000000000002";
    // The reads that flows do first, answered so every example can go on.
    fake.otherwise_under(
        "/bigdata",
        Reply::json(
            200,
            json!({"connector_id": connector, "type": "investment_research", "label": "L",
                "description": "d", "share_with_org": false}),
        ),
    );
    fake.otherwise_under(
        "/pdc",
        Reply::json(
            200,
            json!({"status": 200, "data": {"_id": "9dc0da7a0000000000000001", "resourceName": "orders",
                "databaseType": "POSTGRES", "jobId": "9dc010b50000000000000009"}}),
        ),
    );
    fake.otherwise(Reply::json(
        200,
        json!({"ds_connection": {"name": "Orders MySQL", "type": "rdb-mysql"}}),
    ));
    let vars = vars(&fake);
    let client = client_with(&vars, UpstreamSettings::default()).await;
    let mut checked = 0;
    // A vendor's writes: each dry run is one request (the apply of a plan shows its calls,
    // tested with the plans).
    for op in providers::operations().filter(|op| op.mutates() && !op.flow.fan_out) {
        let credential = op.provider.spec().credential;
        let credential_header = credential(&vars).unwrap().unwrap().header().name;
        let mut args: Value = serde_json::from_str(op.example).unwrap();
        // The plan names the requests of the call; a job's status reads follow after, as its
        // note says.
        args.as_object_mut().unwrap().remove("wait");
        args["dry_run"] = json!(true);
        let (plan, is_error) = call(&client, op.name, args.clone()).await;
        assert!(!is_error, "{}: {plan}", op.name);
        fake.clear();
        args["dry_run"] = json!(false);
        let (result, is_error) = call(&client, op.name, args).await;
        assert!(!is_error, "{}: {result}", op.name);
        let sent = fake.requests();
        let planned = plan["requests"].as_array().unwrap();
        assert_eq!(sent.len(), planned.len(), "{}: {sent:#?}", op.name);
        for (plan, sent) in planned.iter().zip(&sent) {
            let mut plan = plan.clone();
            mask_references(&mut plan);
            let explained = plan.as_object_mut().unwrap().remove("body_is").is_some();
            let mut sent = as_planned(sent, credential_header);
            if explained {
                // The body of a write that follows a read is built from what the read
                // returns: the plan shows the caller's part and explains the rest in words.
                sent.as_object_mut().unwrap().remove("body");
                plan.as_object_mut().unwrap().remove("body");
            }
            assert_eq!(plan, sent, "{}", op.name);
        }
        checked += 1;
    }
    assert_eq!(
        checked,
        providers::operations()
            .filter(|op| op.mutates() && !op.flow.fan_out)
            .count()
    );
}
