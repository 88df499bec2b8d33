//! Secrets mounted as files, in a temporary directory: the container path from files alone
//! (`*_FILE` credentials and HTTP token, `${secret:NAME}` from `--secrets-dir`, re-read when
//! the file changes); the shipped Kubernetes manifest run from its Secrets' files; start-up
//! refusing ambiguous or unreadable files; an unreadable secret file as an error naming it; the
//! order of every source of `${secret:NAME}`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use datasource_mcp::engine::Engine;
use datasource_mcp::intake::{IntakeSettings, Serving};
use datasource_mcp::keychain::{Keychain, Scope};
use datasource_mcp::mounted::SecretsDir;
use datasource_mcp::surfaces::server::{DataSourceServer, Selection};
use datasource_mcp::upstream::UpstreamSettings;

use crate::support::*;

const TOKEN: &str = "bigid-session-token-from-a-file";

/// A fresh directory of the test's own.
fn tmp(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "datasource-mcp-it-mounted-{test}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    path.display().to_string()
}

async fn fake_bigid() -> FakeUpstream {
    let fake = FakeUpstream::start().await;
    fake.on(
        "POST",
        "/api/v1/ds-connection-test",
        Reply::json(200, json!({"success": true})),
    );
    fake
}

fn test_args(secret: &str, host: &str) -> Value {
    json!({"ds_connection": {"name": "Orders", "type": "rdb-mysql",
        "rdb_url": format!("{host}:3306"), "username": "scan",
        "password": format!("${{secret:{secret}}}")}})
}

/// The binary over HTTP with only `vars`: its MCP URL, and the child.
async fn spawn_http(vars: &[(&str, String)]) -> (String, tokio::process::Child) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(binary())
        .args(["--transport", "http", "--listen", "127.0.0.1:0"])
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("the server starts")
            .unwrap()
            .unwrap_or_else(|| panic!("the server exited: {seen}"));
        seen.push_str(&line);
        if let Some(rest) = line.split(" at http://").nth(1) {
            break format!("http://{}", rest.split(' ').next().unwrap());
        }
    };
    (url, child)
}

async fn http_call(url: &str, bearer: &str, tool: &str, args: &Value) -> (u16, Value) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": tool, "arguments": args}});
    let r = http()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {bearer}"))
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap_or_default();
    (status, v["result"]["structuredContent"].clone())
}

/// A container given every secret as a file: the vendor credential and the HTTP token as
/// `*_FILE` variables, the database password in the secrets directory (Kubernetes' layout:
/// `..data` and a symlink). Its calls work from files alone; the values arrive without the
/// files' trailing newlines; a changed file is read on the next call; the value is masked when
/// the vendor echoes it.
#[tokio::test]
async fn the_container_path_works_from_files_alone() {
    let fake = fake_bigid().await;
    let root = tmp("container");
    let creds = root.join("credentials");
    let refs = root.join("refs");
    std::fs::create_dir_all(&creds).unwrap();
    std::fs::create_dir_all(refs.join("..2026_01_01_00_00_00.1")).unwrap();
    write(
        &refs.join("..2026_01_01_00_00_00.1").join("ORDERS_DB"),
        "orders-file-S3NT1NEL-pw\n",
    );
    std::os::unix::fs::symlink("..2026_01_01_00_00_00.1", refs.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/ORDERS_DB", refs.join("ORDERS_DB")).unwrap();
    let bearer = "http-bearer-from-a-file-0123456789";
    let vars = [
        ("BIGID_BASE_URL", fake.url("/api/v1")),
        (
            "BIGID_ACCESS_TOKEN_FILE",
            write(&creds.join("BIGID_ACCESS_TOKEN"), &format!("{TOKEN}\n")),
        ),
        (
            "DATASOURCE_MCP_HTTP_TOKEN_FILE",
            write(&creds.join("http-token"), &format!("{bearer}\r\n")),
        ),
        ("DATASOURCE_MCP_SECRETS_DIR", refs.display().to_string()),
    ];
    let (url, mut child) = spawn_http(&vars).await;
    let args = test_args("ORDERS_DB", "db.example.com");
    let mut dry = args.clone();
    dry["ds_connection"]["name"] = json!("Orders");
    let (status, plan) = http_call(
        &url,
        bearer,
        "bigid_create_data_source",
        &json!({"ds_connection": dry["ds_connection"], "dry_run": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        plan["references"],
        json!([{"field": "ds_connection.password", "reference": "${secret:ORDERS_DB}",
            "written": "sent as it is",
            "from": format!("the secrets directory ({})", refs.join("ORDERS_DB").display())}])
    );
    let (_, result) = http_call(&url, bearer, "bigid_test_data_source_connection", &args).await;
    assert_eq!(result, json!({"success": true, "connection": "works"}));
    // The create's dry run read the sources (look-alikes); the test is the one change.
    let requests = fake.requests();
    assert_request(
        changes(&requests)[0],
        "POST",
        "/api/v1/ds-connection-test",
        None,
        AuthHeader::raw("authorization", TOKEN),
        Some(
            json!({"ds_connection": {"name": "Orders", "type": "rdb-mysql",
            "rdb_url": "db.example.com:3306", "username": "scan",
            "password": "orders-file-S3NT1NEL-pw"}, "isNewPassword": true}),
        ),
    );
    // Rotated the Kubernetes way (a new timestamped directory, ..data swapped): the next call
    // sends the new value, without a restart.
    std::fs::create_dir_all(refs.join("..2026_01_02_00_00_00.1")).unwrap();
    write(
        &refs.join("..2026_01_02_00_00_00.1").join("ORDERS_DB"),
        "orders-rotated-S3NT1NEL-pw\n",
    );
    std::os::unix::fs::symlink("..2026_01_02_00_00_00.1", refs.join("..data_tmp")).unwrap();
    std::fs::rename(refs.join("..data_tmp"), refs.join("..data")).unwrap();
    fake.on(
        "POST",
        "/api/v1/ds-connection-test",
        Reply::json(
            200,
            json!({"success": false, "message": "login failed for orders-rotated-S3NT1NEL-pw"}),
        ),
    );
    let (_, result) = http_call(&url, bearer, "bigid_test_data_source_connection", &args).await;
    assert_eq!(
        result,
        json!({"success": false, "message": "login failed for ***",
            "connection": "fails: login failed for ***"}),
        "the echoed value is masked"
    );
    let requests = fake.requests();
    assert_eq!(
        changes(&requests)[1].json()["ds_connection"]["password"],
        "orders-rotated-S3NT1NEL-pw"
    );
    // The token from the file is the one the server takes.
    let (status, _) = http_call(&url, "wrong-bearer", "bigid_list_data_sources", &json!({})).await;
    assert_eq!(status, 401);
    child.start_kill().unwrap();
    let _ = std::fs::remove_dir_all(&root);
}

/// A one-shot command with only `vars`: (stdout, stderr, exit code).
fn run(args: &[&str], vars: &[(&str, String)]) -> (String, String, i32) {
    let out = std::process::Command::new(binary())
        .args(args)
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Start-up stops, naming the variable and the path, when a variable is given both ways, a
/// file cannot be read, the secrets directory is not one, or it holds a file the server reads
/// its own credentials from (a reference could read it).
#[test]
fn start_up_refuses_ambiguous_or_unreadable_files() {
    let root = tmp("start-up");
    let token = write(&root.join("token"), "pdc-token-S3NT1NEL\n");
    let base = (
        "PDC_BASE_URL",
        "https://pdc.example.com/api/public/v1".to_string(),
    );
    let cases: Vec<(Vec<(&str, String)>, String)> = vec![
        (
            vec![
                base.clone(),
                ("PDC_ACCESS_TOKEN", "x".into()),
                ("PDC_ACCESS_TOKEN_FILE", token.clone()),
            ],
            "both PDC_ACCESS_TOKEN and PDC_ACCESS_TOKEN_FILE are set: give one of them".into(),
        ),
        (
            vec![
                base.clone(),
                (
                    "PDC_ACCESS_TOKEN_FILE",
                    format!("{}/missing", root.display()),
                ),
            ],
            format!(
                "PDC_ACCESS_TOKEN_FILE={}/missing: cannot read it: no such file",
                root.display()
            ),
        ),
        (
            vec![
                base.clone(),
                ("PDC_ACCESS_TOKEN_FILE", token.clone()),
                ("DATASOURCE_MCP_SECRETS_DIR", token.clone()),
            ],
            format!("--secrets-dir {token}: not a directory"),
        ),
        (
            vec![
                base.clone(),
                ("PDC_ACCESS_TOKEN_FILE", token.clone()),
                ("DATASOURCE_MCP_SECRETS_DIR", root.display().to_string()),
            ],
            format!(
                "--secrets-dir {} holds {token}, the file of PDC_ACCESS_TOKEN: a reference could read it; keep the server's own configuration out of the secrets directory",
                root.display()
            ),
        ),
    ];
    for (vars, message) in cases {
        let (stdout, stderr, code) = run(&["tools"], &vars);
        assert_eq!(
            (code, stdout.as_str(), stderr.as_str()),
            (2, "", format!("datasource-mcp: {message}\n").as_str())
        );
    }
    // Read from the file, the credential configures PDC.
    let (stdout, stderr, code) = run(&["tools"], &[base, ("PDC_ACCESS_TOKEN_FILE", token)]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("pdc_create_data_sources"), "{stdout}");
    let _ = std::fs::remove_dir_all(&root);
}

/// An in-process server reading `${secret:NAME}` from `vars`, `dir` and `keychain`, with the
/// intake page on (as stdio serves it).
async fn server_with(
    vars: &std::collections::HashMap<String, String>,
    dir: &Path,
    keychain: Arc<Keychain>,
) -> (Client, Arc<datasource_mcp::intake::Intake>) {
    let configs = datasource_mcp::providers::configure_all(vars).unwrap();
    let intake = datasource_mcp::intake::Intake::new(IntakeSettings::default(), Serving::Loopback);
    let engine = Engine::new(configs, UpstreamSettings::default(), Arc::new(vars.clone()))
        .with_secrets_dir(SecretsDir::open(dir).unwrap())
        .with_keychain(keychain)
        .with_intake(intake.clone());
    let server = DataSourceServer::for_session(Arc::new(engine), &Selection::default());
    (connect(server, ()).await, intake)
}

/// The order of the sources, the same in every mode: the environment, then the secrets
/// directory, then the keychain (for the provider and hosts it was remembered for), then the
/// intake page. A configured value (environment, directory) keeps the operator's host
/// binding; a file that cannot be read is an error naming it, never an empty value.
#[tokio::test]
async fn sources_are_read_in_order_and_a_bad_file_is_an_error() {
    let fake = fake_bigid().await;
    let dir = tmp("order");
    write(&dir.join("BOTH"), "from-the-directory-S3NT1NEL\n");
    write(
        &dir.join("DIR_AND_KEYCHAIN"),
        "dir-over-keychain-S3NT1NEL\n",
    );
    write(&dir.join("BOUND"), "bound-dir-S3NT1NEL\n");
    std::fs::create_dir(dir.join("BROKEN")).unwrap();
    write(&dir.join("NEVER_USED"), "echoed-before-use-S3NT1NEL\n");
    let store: Arc<keyring_core::CredentialStore> = keyring_core::mock::Store::new().unwrap();
    let keychain = Keychain::in_store(store);
    let scope = Scope {
        provider: "bigid".into(),
        hosts: vec!["db.example.com".into()],
    };
    keychain
        .remember("DIR_AND_KEYCHAIN", &scope, "keychain-loses-S3NT1NEL")
        .unwrap();
    keychain
        .remember("ONLY_KEYCHAIN", &scope, "keychain-value-S3NT1NEL")
        .unwrap();
    let mut vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/api/v1")),
        ("BIGID_ACCESS_TOKEN", TOKEN),
        (
            "DATASOURCE_MCP_SECRET_BOTH",
            "from-the-environment-S3NT1NEL",
        ),
        ("DATASOURCE_MCP_HOSTS_BOUND", "db.prod.example.com"),
    ]);
    vars.insert("UNRELATED".into(), String::new());
    let (client, _intake) = server_with(&vars, &dir, keychain).await;
    let sent = |n: usize| fake.requests()[n].json()["ds_connection"]["password"].clone();
    for (n, (secret, expected)) in [
        ("BOTH", "from-the-environment-S3NT1NEL"),
        ("DIR_AND_KEYCHAIN", "dir-over-keychain-S3NT1NEL"),
        ("ONLY_KEYCHAIN", "keychain-value-S3NT1NEL"),
    ]
    .into_iter()
    .enumerate()
    {
        let (result, is_error) = call(
            &client,
            "bigid_test_data_source_connection",
            test_args(secret, "db.example.com"),
        )
        .await;
        assert!(!is_error, "{secret}: {result}");
        assert_eq!(sent(n), expected, "{secret}");
    }
    // Remembered for db.example.com only: elsewhere the page is asked.
    let (result, _) = call(
        &client,
        "bigid_test_data_source_connection",
        test_args("ONLY_KEYCHAIN", "elsewhere.example.com"),
    )
    .await;
    assert_eq!(result["error"]["code"], "SECRET_NEEDED", "{result}");
    // A directory value keeps the operator's host binding.
    let (result, _) = call(
        &client,
        "bigid_test_data_source_connection",
        test_args("BOUND", "db.example.com"),
    )
    .await;
    assert_eq!(result["error"]["code"], "SECRET_NOT_ALLOWED", "{result}");
    // A file that cannot be read: the error names the secret and where it looked.
    let (result, _) = call(
        &client,
        "bigid_test_data_source_connection",
        test_args("BROKEN", "db.example.com"),
    )
    .await;
    let broken = dir.join("BROKEN");
    assert_eq!(
        result,
        json!({"error": {"provider": "bigid", "code": "SECRET_UNREADABLE",
            "field": "ds_connection.password",
            "message": format!("`ds_connection.password`: the secret BROKEN could not be read from the secrets directory: {}: is a directory", broken.display()),
            "hint": "make it readable there, or remove it so the next place is looked at (the environment, the secrets directory, the keychain, the intake page); nothing was sent"}})
    );
    assert_eq!(fake.requests().len(), 3, "nothing more was sent");
    // Every value of the directory is masked from start-up, like the environment's: a vendor
    // echoing one no call has used yet.
    fake.on(
        "GET",
        "/api/v1/ds_connections/Orders",
        Reply::json(
            200,
            json!({"ds_connection": {"name": "Orders", "note": "pw echoed-before-use-S3NT1NEL"}}),
        ),
    );
    let (got, _) = call(&client, "bigid_get_data_source", json!({"name": "Orders"})).await;
    assert_eq!(got["ds_connection"]["note"], "pw ***", "{got}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The shipped Kubernetes manifest, run as the kubelet would run it: each Secret written as
/// the files of the volume that mounts it (under a temporary directory instead of /), the
/// container's variables and arguments as the manifest and the Dockerfile's entrypoint give
/// them, BigID's base URL pointed at a fake and the Secrets' placeholder values replaced by the
/// test's. No credential is a plain variable; the server starts, answers the probe as the
/// kubelet sends it, takes its HTTP token from its file, exchanges the BigID user token from
/// its file, and sends the reference's password from the references' directory.
#[tokio::test]
async fn the_shipped_kubernetes_manifest_serves_from_its_secret_files() {
    use std::collections::HashMap;
    use yaml_rust2::{Yaml, YamlLoader};

    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/kubernetes.yaml"
    ))
    .unwrap();
    let docs = YamlLoader::load_from_str(&text).unwrap();
    let of_kind = |kind: &str| -> Vec<&Yaml> {
        docs.iter()
            .filter(|d| d["kind"].as_str() == Some(kind))
            .collect()
    };
    let str_of = |y: &Yaml| y.as_str().unwrap().to_string();
    // Each Secret's keys, with the test's value for each.
    let value_of = |key: &str| format!("k8s-{}-S3NT1NEL-0123456789", key.to_lowercase());
    let secrets: HashMap<String, Vec<String>> = of_kind("Secret")
        .into_iter()
        .map(|s| {
            let keys = s["stringData"]
                .as_hash()
                .unwrap()
                .keys()
                .map(str_of)
                .collect();
            (str_of(&s["metadata"]["name"]), keys)
        })
        .collect();
    let pod = &of_kind("Deployment")[0]["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let volume_secret: HashMap<String, String> = pod["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|v| (str_of(&v["name"]), str_of(&v["secret"]["secretName"])))
        .collect();
    let root = tmp("kubernetes");
    let mut mounts = Vec::new();
    for m in container["volumeMounts"].as_vec().unwrap() {
        let path = str_of(&m["mountPath"]);
        let secret = &volume_secret[&str_of(&m["name"])];
        let dir = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(&dir).unwrap();
        for key in &secrets[secret] {
            write(&dir.join(key), &value_of(key));
        }
        mounts.push((path, dir));
    }
    let rebase = |value: String| -> String {
        mounts
            .iter()
            .find(|(path, _)| value.starts_with(path.as_str()))
            .map_or(value.clone(), |(path, dir)| {
                format!("{}{}", dir.display(), &value[path.len()..])
            })
    };
    let fake = fake_bigid().await;
    fake.on(
        "GET",
        "/api/v1/refresh-access-token",
        Reply::json(200, json!({"success": true, "systemToken": TOKEN})),
    );
    let mut vars: Vec<(String, String)> = Vec::new();
    for e in container["env"].as_vec().unwrap() {
        let name = str_of(&e["name"]);
        let value = if name == "BIGID_BASE_URL" {
            fake.url("/api/v1")
        } else {
            rebase(str_of(&e["value"]))
        };
        vars.push((name, value));
    }
    // No credential as a plain variable: each is a `_FILE` naming a mounted file.
    let credentials: Vec<&str> = datasource_mcp::providers::VENDORS
        .iter()
        .flat_map(|s| s.env.iter().filter(|v| v.secret).map(|v| v.name))
        .chain(["DATASOURCE_MCP_HTTP_TOKEN"])
        .collect();
    for (name, value) in &vars {
        assert!(!credentials.contains(&name.as_str()), "{name} is plain");
        if name.ends_with("_FILE") {
            assert!(
                Path::new(value).is_file(),
                "{name}={value} names a mounted file"
            );
        }
    }
    let references = vars
        .iter()
        .find(|(k, _)| k == "DATASOURCE_MCP_SECRETS_DIR")
        .map(|(_, v)| PathBuf::from(v))
        .expect("the references' directory");
    let password = value_of("ORDERS_DB_PASSWORD");
    assert_eq!(
        std::fs::read_to_string(references.join("ORDERS_DB_PASSWORD")).unwrap(),
        password
    );

    // The Dockerfile's entrypoint (on a free loopback port), then the manifest's arguments.
    let args: Vec<String> = container["args"]
        .as_vec()
        .unwrap()
        .iter()
        .map(str_of)
        .collect();
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(binary())
        .args(["--transport", "http", "--listen", "127.0.0.1:0"])
        .args(&args)
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("the server starts")
            .unwrap()
            .unwrap_or_else(|| panic!("the server exited: {log}"));
        log.push_str(&line);
        if let Some(rest) = line.split(" at http://").nth(1) {
            break format!("http://{}", rest.split(' ').next().unwrap());
        }
    };
    let probe = http()
        .get(url.replace("/mcp", "/healthz"))
        .header("host", "localhost")
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status().as_u16(), 200, "the readiness probe");
    let bearer = value_of("http-token");
    let (status, result) = http_call(
        &url,
        &bearer,
        "bigid_test_data_source_connection",
        &test_args("ORDERS_DB_PASSWORD", "db.example.com"),
    )
    .await;
    assert_eq!(
        (status, &result),
        (200, &json!({"success": true, "connection": "works"}))
    );
    let requests = fake.requests();
    assert_request(
        &requests[0],
        "GET",
        "/api/v1/refresh-access-token",
        None,
        AuthHeader::raw("authorization", &value_of("bigid-user-token")),
        None,
    );
    assert_eq!(
        requests[1].json()["ds_connection"]["password"],
        json!(password)
    );
    let (status, _) = http_call(&url, "wrong-bearer", "bigid_list_data_sources", &json!({})).await;
    assert_eq!(status, 401);
    child.start_kill().unwrap();
    let _ = std::fs::remove_dir_all(&root);
}
