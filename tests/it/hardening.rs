//! What an attacker, a hostile vendor and a broken client found, each as a test: secrets that
//! leaked in other encodings or under ordinary keys, references laundered through plain
//! fields, requests that climbed out of their path, retries past their budget, answers that
//! were too big, not JSON, or not what the tool declares, and vendor tokens that stuck.

use std::sync::Arc;

use crate::support::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use datasource_mcp::engine::Engine;
use datasource_mcp::providers;
use datasource_mcp::surfaces::doctor;
use datasource_mcp::upstream::UpstreamSettings;
use serde_json::json;

const PDC_PASSWORD: &str = "p@ss word/~é+S3NT1NEL";

fn pdc_vars(fake: &FakeUpstream) -> std::collections::HashMap<String, String> {
    env(&[
        ("PDC_BASE_URL", &fake.url("/pdc")),
        ("PDC_USERNAME", "catalog-admin"),
        ("PDC_PASSWORD", PDC_PASSWORD),
    ])
}

/// Every way a form or a header can carry the password back.
fn echoed_forms() -> Vec<String> {
    vec![
        PDC_PASSWORD.to_string(),
        url::form_urlencoded::byte_serialize(PDC_PASSWORD.as_bytes()).collect(),
        "p%40ss+word%2f~%c3%a9%2bS3NT1NEL".into(),
        "p%40ss%20word%2F%7E%C3%A9%2BS3NT1NEL".into(),
        STANDARD.encode(PDC_PASSWORD),
        STANDARD.encode(format!("catalog-admin:{PDC_PASSWORD}")),
    ]
}

fn assert_no_password(what: &str, text: &str) {
    assert!(
        !text.contains("S3NT1NEL"),
        "{what} leaks the password:\n{text}"
    );
    for form in echoed_forms() {
        assert!(!text.contains(&form), "{what} leaks {form}:\n{text}");
    }
}

/// A vendor that refuses the login and echoes, in every encoding, the form it received.
#[tokio::test]
async fn the_servers_own_credential_is_masked_in_every_encoding() {
    for form in echoed_forms() {
        let fake = FakeUpstream::start().await;
        fake.on(
            "POST",
            "/pdc/auth",
            Reply::json(
                401,
                json!({"status": 401, "message": format!("Unauthorized: username=catalog-admin&password={form}&grant_type=password")}),
            ),
        );
        let vars = pdc_vars(&fake);
        let client = client_with(&vars, UpstreamSettings::default()).await;
        let (result, is_error) = call(&client, "pdc_get_data_source", json!({"id": "x1"})).await;
        assert!(is_error);
        assert_eq!(result["error"]["code"], "AUTHENTICATION_FAILED");
        assert_no_password(&form, &result.to_string());
        assert!(
            result["error"]["message"]
                .as_str()
                .unwrap()
                .contains("username=catalog-admin&password=***"),
            "{result}"
        );

        let engine = Engine::new(
            providers::configure_all(&vars).unwrap(),
            UpstreamSettings::default(),
            Arc::new(vars.clone()),
        );
        let table = doctor::render(&doctor::check_all(&engine).await);
        assert_no_password(&format!("doctor ({form})"), &table);
    }
}

/// Secrets in ordinary keys and inside values: in what the vendor returns, in errors, in dry
/// runs and in the `call` command's output.
#[tokio::test]
async fn secrets_under_ordinary_keys_and_inside_values_are_masked() {
    let key_file = r#"{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\nS3NT1NEL\n-----END PRIVATE KEY-----\n","client_email":"scan@p.iam"}"#;
    let source = json!({
        "name": "Orders", "type": "rdb-mysql",
        "connectionString": "Server=db.example;Database=orders;User Id=scan;Password=S3NT1NEL-1;",
        "rdb_url": "mysql://scan:S3NT1NEL-2@db.example:3306/orders",
        "jdbcUrl": "jdbc:sqlserver://db.example:1433;user=scan;password=S3NT1NEL-3",
        "dsn": "host=db.example user=scan pwd=S3NT1NEL-4 dbname=orders",
        "Proxy-Authorization": "Basic S3NT1NEL-5",
        "credentials": STANDARD.encode(key_file),
        "keyJson": key_file,
        "accountKey": "S3NT1NEL-6",
        "sslKey": "S3NT1NEL-7",
        "notes": "see -----BEGIN OPENSSH PRIVATE KEY-----\nS3NT1NEL-8\n-----END OPENSSH PRIVATE KEY-----",
    });
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/ds_connections/Orders",
        Reply::json(200, json!({"ds_connection": source})),
    );
    fake.on(
        "POST",
        "/api/ds_connections",
        Reply::json(400, json!({"message": format!("invalid source {source}")})),
    );
    let vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/api")),
        ("BIGID_ACCESS_TOKEN", "vendor-token-0123456789abcdef"),
    ]);
    let client = client_with(&vars, UpstreamSettings::default()).await;
    let (got, is_error) = call(&client, "bigid_get_data_source", json!({"name": "Orders"})).await;
    assert!(!is_error);
    let shown = &got["ds_connection"];
    assert!(!got.to_string().contains("S3NT1NEL"), "{got:#}");
    assert_eq!(
        shown["connectionString"],
        "Server=db.example;Database=orders;User Id=scan;Password=***;"
    );
    assert_eq!(shown["rdb_url"], "mysql://scan:***@db.example:3306/orders");
    assert_eq!(
        shown["jdbcUrl"],
        "jdbc:sqlserver://db.example:1433;user=scan;password=***"
    );
    assert_eq!(
        shown["dsn"],
        "host=db.example user=scan pwd=*** dbname=orders"
    );
    for key in [
        "Proxy-Authorization",
        "credentials",
        "keyJson",
        "accountKey",
        "sslKey",
    ] {
        assert_eq!(shown[key], "***", "{key}");
    }
    assert_eq!(shown["notes"], "see ***");

    // A dry run and a vendor error quoting the body.
    let mut create = json!({"ds_connection": source.clone()});
    create["dry_run"] = json!(true);
    let (plan, _) = call(&client, "bigid_create_data_source", create.clone()).await;
    assert!(!plan.to_string().contains("S3NT1NEL"), "{plan:#}");
    create["dry_run"] = json!(false);
    let (error, is_error) = call(&client, "bigid_create_data_source", create.clone()).await;
    assert!(is_error);
    assert!(!error.to_string().contains("S3NT1NEL"), "{error:#}");

    // The `call` command prints the same masked JSON.
    let out = tokio::process::Command::new(binary())
        .args(["call", "bigid_get_data_source", "name=Orders"])
        .env_clear()
        .envs(vars.iter())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(!stdout.contains("S3NT1NEL"), "{stdout}");
    assert!(stdout.contains("mysql://scan:***@db.example:3306/orders"));
}

/// A vendor session token equal to an ordinary word does not blank that word, and a token
/// replaced after a 401 is forgotten (masking does not grow with every refresh).
#[tokio::test]
async fn vendor_tokens_are_masked_only_while_used_and_only_if_they_look_like_tokens() {
    let fake = FakeUpstream::start().await;
    fake.once(
        "GET",
        "/api/refresh-access-token",
        Reply::json(200, json!({"systemToken": "rdb-mysql"})),
    );
    let listed = json!({"data": {"ds_connections": [{"name": "Orders", "type": "rdb-mysql"}]}});
    fake.on("GET", "/api/ds-connections", Reply::json(200, listed));
    let vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/api")),
        ("BIGID_USER_TOKEN", "bigid-user-token-S3NT1NEL-0123456789"),
    ]);
    let client = client_with(&vars, UpstreamSettings::default()).await;
    let (got, _) = call(
        &client,
        "bigid_list_data_sources",
        json!({"detail": "full"}),
    )
    .await;
    assert_eq!(
        got,
        json!({"items": [{"name": "Orders", "type": "rdb-mysql"}]}),
        "the word is not a secret"
    );

    // A real-looking token, replaced after a 401: the old one is no longer masked.
    let fake = FakeUpstream::start().await;
    let old = "eyJhbGciOiJIUzI1NiJ9.b2xkLXRva2Vu.Q1x9zT5uVw3rK8pL";
    let new = "eyJhbGciOiJIUzI1NiJ9.bmV3LXRva2Vu.H7fZ2mQ9vX4cT1sB";
    fake.once(
        "GET",
        "/api/refresh-access-token",
        Reply::json(200, json!({"systemToken": old})),
    );
    fake.once(
        "GET",
        "/api/refresh-access-token",
        Reply::json(200, json!({"systemToken": new})),
    );
    fake.once(
        "GET",
        "/api/ds-connections",
        Reply::json(401, json!({"message": "expired"})),
    );
    let echo = json!({"data": {"ds_connections": [{"name": format!("was {old}"), "note": format!("now {new}")}]}});
    fake.on("GET", "/api/ds-connections", Reply::json(200, echo));
    let vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/api")),
        ("BIGID_USER_TOKEN", "bigid-user-token-S3NT1NEL-0123456789"),
    ]);
    let client = client_with(&vars, UpstreamSettings::default()).await;
    let (got, _) = call(
        &client,
        "bigid_list_data_sources",
        json!({"detail": "full"}),
    )
    .await;
    let item = &got["items"][0];
    assert_eq!(item["name"], format!("was {old}"), "replaced: forgotten");
    assert_eq!(item["note"], "now ***", "in use: masked");
}

/// Invisible characters that still reached the model.
#[tokio::test]
async fn every_invisible_character_is_stripped_from_vendor_text() {
    let fake = FakeUpstream::start().await;
    let hidden = [
        '\u{FE00}',
        '\u{FE0F}',
        '\u{E0100}',
        '\u{E01EF}',
        '\u{034F}',
        '\u{115F}',
        '\u{1160}',
        '\u{3164}',
        '\u{180B}',
        '\u{2028}',
        '\u{2029}',
    ];
    let label: String = hidden.iter().map(|c| format!("a{c}")).collect();
    fake.on(
        "GET",
        "/bigdata/contents/v1/connectors",
        Reply::json(200, json!({"results": [{"label": label}]})),
    );
    let vars = env(&[
        ("BIGDATA_BASE_URL", &fake.url("/bigdata")),
        ("BIGDATA_API_KEY", "bigdata-key-0123456789"),
    ]);
    let client = client_with(&vars, UpstreamSettings::default()).await;
    let (got, _) = call(
        &client,
        "bigdata_list_connectors",
        json!({"detail": "full"}),
    )
    .await;
    assert_eq!(
        got,
        json!({"items": [{"label": "a".repeat(hidden.len())}], "total": 1})
    );
}

/// A reference in a field the vendor stores readable (a description, a name) would launder the
/// secret: refused, naming the field, and nothing is sent.
#[tokio::test]
async fn references_are_refused_where_no_secret_belongs() {
    let fake = FakeUpstream::start().await;
    let mut vars = env(&[
        ("BIGDATA_BASE_URL", &fake.url("/bigdata")),
        ("BIGDATA_API_KEY", "bigdata-key-0123456789"),
        ("PDC_BASE_URL", &fake.url("/pdc")),
        ("PDC_ACCESS_TOKEN", "pdc-token-0123456789"),
    ]);
    vars.insert(
        "DATASOURCE_MCP_SECRET_BROKER".into(),
        "S3NT1NEL-broker".into(),
    );
    let client = client_with(&vars, UpstreamSettings::default()).await;
    for (tool, args, field) in [
        (
            "bigdata_create_connector",
            json!({"type": "investment_research", "label": "Broker", "description": "pw ${secret:BROKER}",
                "config": {"user_id": "u", "user_password": "${secret:BROKER}"}}),
            "description",
        ),
        (
            "bigdata_create_connector",
            json!({"type": "email", "label": "${secret:BROKER}", "config": {"allowed_emails": ["a@b.example"]}}),
            "label",
        ),
        (
            "pdc_update_data_source",
            json!({"id": "x1", "note": "${secret:BROKER}"}),
            "note",
        ),
    ] {
        for dry_run in [true, false] {
            let mut args = args.clone();
            args["dry_run"] = json!(dry_run);
            let (result, is_error) = call(&client, tool, args).await;
            assert!(is_error, "{tool}: {result}");
            assert_eq!(result["error"]["code"], "INVALID_ARGUMENT", "{result}");
            assert_eq!(result["error"]["field"], field, "{result}");
        }
    }
    assert!(fake.requests().is_empty(), "{:#?}", fake.requests());
    // Where a secret belongs, it resolves (and is masked on the way back).
    fake.on(
        "POST",
        "/bigdata/contents/v1/connectors",
        Reply::json(201, json!({"connector_id": "c1", "label": "Broker"})),
    );
    let (result, is_error) = call(
        &client,
        "bigdata_create_connector",
        json!({"type": "investment_research", "label": "Broker",
            "config": {"user_id": "u", "user_password": "${secret:BROKER}"}}),
    )
    .await;
    assert!(!is_error, "{result}");
    let create = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(create.json()["config"]["user_password"], "S3NT1NEL-broker");
}

/// A `tools/call` sent as a notification (no id) was logged in full by the MCP library at
/// `info`, password included.
#[tokio::test]
async fn notifications_are_not_logged_with_their_arguments() {
    let mut lines = handshake();
    lines.push(json!({"jsonrpc": "2.0", "method": "tools/call", "params": {
        "name": "bigid_create_data_source",
        "arguments": {"ds_connection": {"name": "x", "type": "t", "rdb_pwd_field": "S3NT1NEL-n1",
            "password": "S3NT1NEL-n2"}}}}));
    lines.push(rpc(9, "ping", json!({})));
    for level in ["info", "trace"] {
        let (stdout, stderr, status) =
            run_stdio(&["--sandbox"], &[("RUST_LOG", level)], &lines).await;
        assert!(status.success(), "{stderr}");
        assert!(stdout.contains("\"id\":9"), "the server goes on: {stdout}");
        assert!(!stderr.contains("S3NT1NEL"), "RUST_LOG={level}:\n{stderr}");
    }
}

/// `.` and `..` (and their encoded forms) in a name or id became dot segments that the URL
/// parser removed: `DELETE {base}/` instead of a data source. Refused before sending.
#[tokio::test]
async fn dot_segments_are_refused_before_sending() {
    let fake = FakeUpstream::start().await;
    let vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/api")),
        ("BIGID_ACCESS_TOKEN", "vendor-token-0123456789"),
        ("PDC_BASE_URL", &fake.url("/pdc")),
        ("PDC_ACCESS_TOKEN", "pdc-token-0123456789"),
    ]);
    let client = client_with(&vars, UpstreamSettings::default()).await;
    for (tool, args, field) in [
        ("bigid_delete_data_source", json!({"name": ".."}), "name"),
        ("bigid_delete_data_source", json!({"name": "."}), "name"),
        ("bigid_get_data_source", json!({"name": "%2e%2e"}), "name"),
        (
            "bigid_get_connector_template",
            json!({"type": "%2E%2e"}),
            "type",
        ),
        (
            "pdc_update_data_source",
            json!({"id": "..", "note": "n"}),
            "id",
        ),
        ("pdc_get_data_source", json!({"id": "%252e%252e"}), "id"),
    ] {
        for dry_run in [true, false] {
            let mut args = args.clone();
            if tool.contains("delete") || tool.contains("update") {
                args["dry_run"] = json!(dry_run);
            }
            let (result, is_error) = call(&client, tool, args).await;
            assert!(is_error, "{tool}: {result}");
            assert_eq!(result["error"]["code"], "INVALID_ARGUMENT", "{result}");
            assert_eq!(result["error"]["field"], field, "{result}");
        }
    }
    assert!(fake.requests().is_empty(), "{:#?}", fake.requests());
}

/// A 429 with `Retry-After: 0` (or a date in the past) made one list call send 672 requests in
/// 30 s: every retry now counts against the budget.
#[tokio::test]
async fn retry_after_never_buys_more_attempts() {
    for retry_after in ["0", "Wed, 21 Oct 2015 07:28:00 GMT"] {
        let fake = FakeUpstream::start().await;
        fake.on(
            "GET",
            "/api/ds-connections",
            Reply::json(429, json!({"message": "slow down"}))
                .with_header("retry-after", retry_after),
        );
        let vars = env(&[
            ("BIGID_BASE_URL", &fake.url("/api")),
            ("BIGID_ACCESS_TOKEN", "vendor-token-0123456789"),
        ]);
        let client = client_with(&vars, fast_settings()).await;
        let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
        assert!(is_error);
        assert_eq!(result["error"]["status"], 429);
        assert_eq!(
            fake.requests().len(),
            1 + fast_settings().retry.max_retries,
            "Retry-After: {retry_after}"
        );
    }
}

/// A 70,000-character name ended as UPSTREAM_UNREACHABLE with a hint to check the base URL.
#[tokio::test]
async fn overlong_values_get_a_clear_error_naming_the_field() {
    let fake = FakeUpstream::start().await;
    let vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/api")),
        ("BIGID_ACCESS_TOKEN", "vendor-token-0123456789"),
    ]);
    let client = client_with(&vars, UpstreamSettings::default()).await;
    let long = "n".repeat(70_000);
    for (tool, args, field, limit) in [
        (
            "bigid_get_data_source",
            json!({"name": long}),
            "name",
            65_536,
        ),
        (
            "bigid_get_data_source",
            json!({"name": "n".repeat(600)}),
            "name",
            512,
        ),
        (
            "bigid_create_data_source",
            json!({"ds_connection": {"name": "ok", "type": "rdb-mysql", "rdb_name": long}}),
            "ds_connection.rdb_name",
            65_536,
        ),
    ] {
        let (result, is_error) = call(&client, tool, args).await;
        assert!(is_error);
        assert_eq!(result["error"]["code"], "INVALID_ARGUMENT", "{result}");
        assert_eq!(result["error"]["field"], field);
        assert_eq!(
            result["error"]["message"],
            format!("`{field}`: must be at most {limit} characters")
        );
    }
    assert!(fake.requests().is_empty());
}

/// An HTML login page with 200 on a create or a delete was reported as success.
#[tokio::test]
async fn a_success_status_without_json_is_an_error() {
    let fake = FakeUpstream::start().await;
    let page = "<!DOCTYPE html><html><head><title>Sign in</title></head><body>…</body></html>";
    fake.on("POST", "/api/ds_connections", Reply::text(200, page));
    fake.on(
        "DELETE",
        "/api/ds_connections/Orders",
        Reply::text(200, page),
    );
    fake.on("GET", "/api/ds-connections", Reply::text(200, page));
    let vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/api")),
        ("BIGID_ACCESS_TOKEN", "vendor-token-0123456789"),
    ]);
    let client = client_with(&vars, UpstreamSettings::default()).await;
    for (tool, args) in [
        (
            "bigid_create_data_source",
            json!({"ds_connection": {"name": "Orders", "type": "rdb-mysql"}}),
        ),
        ("bigid_delete_data_source", json!({"name": "Orders"})),
        ("bigid_list_data_sources", json!({})),
    ] {
        let (result, is_error) = call(&client, tool, args).await;
        assert!(is_error, "{tool}: {result}");
        assert_eq!(
            result["error"],
            json!({"provider": "bigid", "status": 200, "code": "UNEXPECTED_RESPONSE",
                "message": "the vendor answered with a body that is not JSON (starts with \"<!DOCTYPE html><html><head><title>Sign in</title></head><bod…\")",
                "hint": "something other than the BigID API may have answered (a login page, a proxy): check BIGID_BASE_URL; if this call changes something, read the resource before calling again"}),
            "{tool}"
        );
    }
    // An empty success (a 204 to a delete) is still a success.
    fake.on("DELETE", "/api/ds_connections/Gone", Reply::text(204, ""));
    let (result, is_error) =
        call(&client, "bigid_delete_data_source", json!({"name": "Gone"})).await;
    assert!(!is_error, "{result}");
}

/// A vendor field whose type differs from the declared output schema made the official Python
/// SDK raise on a call that had succeeded: such an answer is now a clean error naming the
/// field, and a result never violates its own schema.
#[tokio::test]
async fn a_result_never_violates_its_declared_schema() {
    let fake = FakeUpstream::start().await;
    let vars = env(&[
        ("DATABRAIN_BASE_URL", &fake.url("/db")),
        ("DATABRAIN_SERVICE_TOKEN", "databrain-token-0123456789"),
    ]);
    let client = client_with(&vars, UpstreamSettings::default()).await;
    // A list declares its items as objects: the vendor's own items (detail: full) that are
    // not objects break it.
    fake.on(
        "GET",
        "/db/api/v2/datasource",
        Reply::json(200, json!({"data": [{"name": "ok"}, 5]})),
    );
    let (result, is_error) = call(
        &client,
        "databrain_list_datasources",
        json!({"detail": "full"}),
    )
    .await;
    assert!(is_error);
    assert_eq!(result["error"]["code"], "UNEXPECTED_RESPONSE");
    assert_eq!(
        result["error"]["message"],
        "the vendor answered with an answer this tool does not declare: `items[1]` is integer, expected object"
    );
    // A typed answer whose field has another type: a create's echo of its name.
    fake.on(
        "POST",
        "/db/api/v2/datasource",
        Reply::json(200, json!({"name": 5})),
    );
    let (result, is_error) = call(
        &client,
        "databrain_create_datasource",
        json!({"datasourceType": "csv", "credentials": {"name": "c"}}),
    )
    .await;
    assert!(is_error);
    assert_eq!(result["error"]["code"], "UNEXPECTED_RESPONSE");
    assert_eq!(
        result["error"]["message"],
        "the vendor answered with an answer this tool does not declare: `name` is integer, expected string"
    );
    // Compact rows are objects whatever the vendor's fields hold.
    fake.on(
        "GET",
        "/db/api/v2/datasource",
        Reply::json(200, json!({"data": [{"name": "ok"}, {"name": 5}]})),
    );
    let (result, is_error) = call(&client, "databrain_list_datasources", json!({})).await;
    assert!(!is_error, "{result}");
    assert_eq!(
        result,
        json!({"items": [{"id": "ok", "name": "ok", "status": "unknown"},
            {"id": 5, "name": 5, "status": "unknown"}], "total": 2})
    );
    // What vendors do send conforms: extra fields, missing optional ones.
    fake.on(
        "GET",
        "/db/api/v2/datasource",
        Reply::json(
            200,
            json!({"data": [{"name": "ok", "id": 7}], "extra": true}),
        ),
    );
    let (_, is_error) = call(&client, "databrain_list_datasources", json!({})).await;
    assert!(!is_error);
}

/// A vendor answer just under the 16 MiB cap, made of a huge array of small numbers, cost half
/// a gigabyte per call and produced a 32 MB result. Its values are counted before parsing
/// (refused past the limit), and no result sent to a client exceeds the result budget: a long
/// list keeps whole items and says it was cut.
#[tokio::test]
async fn answers_and_results_are_bounded() {
    let fake = FakeUpstream::start().await;
    let numbers = format!("[{}1]", "1,".repeat(2_000_000));
    fake.on("GET", "/api/ds-connections", Reply::text(200, &numbers));
    let vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/api")),
        ("BIGID_ACCESS_TOKEN", "vendor-token-0123456789"),
    ]);
    let client = client_with(&vars, UpstreamSettings::default()).await;
    let (result, is_error) = call(&client, "bigid_list_data_sources", json!({})).await;
    assert!(is_error);
    assert_eq!(result["error"]["code"], "RESPONSE_TOO_LARGE", "{result}");
    assert!(
        result["error"]["message"]
            .as_str()
            .unwrap()
            .contains("more than the 500000 a call may parse"),
        "{result}"
    );

    let sources: Vec<serde_json::Value> = (0..2_000)
        .map(|i| {
            json!({"name": format!("source-{i:04}"), "type": "rdb-mysql", "enabled": "yes",
            "scanner_group": "default", "location": "eu-west-1"})
        })
        .collect();
    fake.on(
        "GET",
        "/api/ds-connections",
        Reply::json(
            200,
            json!({"status": "success", "data": {"ds_connections": sources, "totalCount": 2000}}),
        ),
    );
    let raw = call_raw(
        &client,
        "bigid_list_data_sources",
        json!({"limit": 2_000, "detail": "full"}),
    )
    .await
    .unwrap();
    let text = &raw.content[0].as_text().unwrap().text;
    assert!(text.len() <= 64 * 1024, "{} bytes", text.len());
    let result = raw.structured_content.unwrap();
    let shown = result["items"].as_array().unwrap().len();
    assert!(shown > 100 && shown < 2_000, "{shown}");
    assert_eq!(result["truncated"]["shown"], shown);
    assert_eq!(result["truncated"]["total"], 2_000);
    assert_eq!(result["truncated"]["at"], "items");
    assert_eq!(result["items"][0]["name"], "source-0000");
    assert_eq!(
        result["items"][shown - 1]["name"],
        format!("source-{:04}", shown - 1)
    );
    assert_eq!(result["total"], 2_000);
    assert_eq!(
        result["next"],
        json!({"limit": 2_000, "detail": "full", "skip": shown})
    );
}
