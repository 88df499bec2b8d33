//! The OS keychain for real: a Secret Service of the test's own (`support/keyring.rs`: a D-Bus
//! session bus and GNOME Keyring, reached only by the server's child processes), driven
//! through the built binary. A password typed on the intake page with "remember" ticked is used
//! by a restarted server without asking; `secrets` lists it and `secrets forget` removes it; a
//! credential stored by `login` configures a provider whose client configuration holds no
//! token; a locked keychain is an error naming the entry; over HTTP, and without a keychain,
//! the page offers no box. Skipped, saying so, where the daemons are not installed.

use std::process::Stdio;
use std::time::{Duration, Instant};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};

use crate::support::*;

const PLACE: &str = "the Secret Service (GNOME Keyring, KWallet)";

const ASKED: &str = "the intake page: the user is asked for it when the change is made (this call without dry_run); nothing was asked now";

fn remembered_from() -> String {
    format!("{PLACE}, remembered from the intake page for this provider and these hosts")
}

/// A DataBrain Snowflake datasource whose password is `${secret:SF_PASSWORD}`.
fn snowflake(name: &str, dry_run: bool) -> Value {
    let mut args = json!({"datasourceType": "snowflake", "credentials": {"name": name,
        "host": "acme.snowflakecomputing.com", "username": "DATABRAIN", "role": "ANALYST",
        "warehouse": "COMPUTE_WH", "database": "SALES", "schema": "PUBLIC",
        "password": "${secret:SF_PASSWORD}"}});
    if dry_run {
        args["dry_run"] = json!(true);
    }
    args
}

fn references(from: &str) -> Value {
    json!([{"field": "credentials.password", "reference": "${secret:SF_PASSWORD}",
        "written": "sent as it is", "from": from}])
}

type Session<H = ElicitingClient> = RunningService<rmcp::RoleClient, H>;

/// The binary over stdio with `args` and only `vars` in its environment, `handler` its client;
/// its stderr is collected until it exits.
async fn serve<H: rmcp::ClientHandler>(
    args: &[&str],
    vars: &[(&'static str, String)],
    handler: H,
) -> (Session<H>, tokio::task::JoinHandle<String>) {
    let cmd = tokio::process::Command::new(binary()).configure(|c| {
        c.args(args)
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())));
    });
    let (transport, stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = stderr.unwrap();
    let collected = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let client = handler.serve(transport).await.expect("client connects");
    (client, collected)
}

async fn tool<H: rmcp::ClientHandler>(client: &Session<H>, name: &str, args: Value) -> Value {
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        client.call_tool(
            CallToolRequestParams::new(name.to_string())
                .with_arguments(args.as_object().unwrap().clone()),
        ),
    )
    .await
    .expect("answered within 30 s")
    .expect("answered");
    let value = result.structured_content.clone().unwrap_or_default();
    assert_ne!(result.is_error, Some(true), "{name}: {value}");
    value
}

/// Ends a session; its stderr.
async fn stop<H: rmcp::ClientHandler>(
    client: Session<H>,
    stderr: tokio::task::JoinHandle<String>,
) -> String {
    let _ = client.cancel().await;
    tokio::time::timeout(Duration::from_secs(10), stderr)
        .await
        .expect("the server exits")
        .unwrap()
}

/// A one-shot command of the binary: (stdout, stderr, exit code).
async fn run(args: &[&str], vars: &[(&'static str, String)]) -> (String, String, i32) {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(binary())
            .args(args)
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("exits within 30 s")
    .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// `datasource-mcp call` whose secret is typed on the page with "remember" ticked: (stdout,
/// stderr, exit code).
async fn call_entering(
    args: &[&str],
    vars: &[(&'static str, String)],
    value: &str,
) -> (String, String, i32) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut child = tokio::process::Command::new(binary())
        .args(args)
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let out = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s).await;
        s
    });
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut stderr = String::new();
    while let Some(line) = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("stderr within 20 s")
        .unwrap()
    {
        if let Some(link) = link_in(&line) {
            let done = enter_remembering(&link, value).await;
            assert_eq!(done.status, 200, "{}", done.html);
        }
        stderr.push_str(&line);
        stderr.push('\n');
    }
    let status = child.wait().await.unwrap();
    (out.await.unwrap(), stderr, status.code().unwrap_or(-1))
}

/// The done-when flow on the sandbox, through the binary over stdio: the dry run of a
/// DataBrain create with an unset `${secret:SF_PASSWORD}` asks nothing; the create asks once,
/// and the user ticks "remember"; a restarted server shows the same dry run as coming from the
/// keychain and creates without asking; `secrets` lists the name (never the value); `secrets
/// forget` removes it, and the next server asks again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_sandbox_a_remembered_password_survives_a_restart_then_is_forgotten() {
    let Some(keyring) = TestKeyring::start(
        "keychain::on_the_sandbox_a_remembered_password_survives_a_restart_then_is_forgotten",
    ) else {
        return;
    };
    let value = "sf-remembered-S3NT1NEL-pw";
    let cli = keyring.vars();
    let mut vars = keyring.vars();
    // Every log line too: the value must be in none.
    vars.push(("RUST_LOG", "trace".into()));

    // 1. The first session: the dry run asks nothing, the create asks once.
    let handler = ElicitingClient::remembering(value);
    let (client, stderr) = serve(&["--sandbox"], &vars, handler.clone()).await;
    let plan = tool(
        &client,
        "databrain_create_datasource",
        snowflake("sales-snowflake", true),
    )
    .await;
    assert_eq!(plan["references"], references(ASKED), "{plan}");
    assert!(!plan.to_string().contains("/secrets/"), "no link: {plan}");
    assert!(handler.seen.lock().unwrap().is_empty(), "the dry run asked");
    let created = tool(
        &client,
        "databrain_create_datasource",
        snowflake("sales-snowflake", false),
    )
    .await;
    assert_eq!(created, json!({"name": "sales-snowflake"}));
    assert_eq!(handler.seen.lock().unwrap().len(), 1, "asked once");
    let first = stop(client, stderr).await;

    // 2. A restarted server: the same onboarding, not asked.
    let handler = ElicitingClient::new("never-typed-S3NT1NEL");
    let (client, stderr) = serve(&["--sandbox"], &vars, handler.clone()).await;
    let plan = tool(
        &client,
        "databrain_create_datasource",
        snowflake("sales-snowflake", true),
    )
    .await;
    assert_eq!(plan["references"], references(&remembered_from()), "{plan}");
    let started = Instant::now();
    let created = tool(
        &client,
        "databrain_create_datasource",
        snowflake("sales-snowflake", false),
    )
    .await;
    eprintln!(
        "create with the password read from the keychain: {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(created, json!({"name": "sales-snowflake"}));
    assert!(handler.seen.lock().unwrap().is_empty(), "asked again");
    // For another host it is not used: asked on the page.
    let mut elsewhere = snowflake("other-snowflake", true);
    elsewhere["credentials"]["host"] = json!("other.snowflakecomputing.com");
    let plan = tool(&client, "databrain_create_datasource", elsewhere).await;
    assert_eq!(plan["references"], references(ASKED), "{plan}");
    let second = stop(client, stderr).await;

    // 3. Listed by name, never by value; then forgotten.
    let (stdout, err, code) = run(&["secrets"], &cli).await;
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(
        stdout,
        "NAME         KIND        FOR\nSF_PASSWORD  remembered  databrain → acme.snowflakecomputing.com\n"
    );
    let (stdout, err, code) = run(&["secrets", "forget", "SF_PASSWORD"], &cli).await;
    assert_eq!((code, stdout.as_str()), (0, ""));
    assert_eq!(
        err,
        format!("datasource-mcp: forgot SF_PASSWORD (its remembered value) in {PLACE}\n")
    );
    let (stdout, err, code) = run(&["secrets"], &cli).await;
    assert_eq!((code, stdout.as_str()), (0, ""));
    assert_eq!(
        err,
        format!("datasource-mcp: {PLACE} holds nothing of datasource-mcp\n")
    );
    let (_, err, code) = run(&["secrets", "forget", "SF_PASSWORD"], &cli).await;
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("datasource-mcp: {PLACE} holds no SF_PASSWORD of datasource-mcp\n")
    );

    // 4. Forgotten: the next server asks again.
    let handler = ElicitingClient::new(value);
    let (client, stderr) = serve(&["--sandbox"], &vars, handler.clone()).await;
    let plan = tool(
        &client,
        "databrain_create_datasource",
        snowflake("sales-snowflake", true),
    )
    .await;
    assert_eq!(plan["references"], references(ASKED));
    tool(
        &client,
        "databrain_create_datasource",
        snowflake("sales-snowflake", false),
    )
    .await;
    assert_eq!(handler.seen.lock().unwrap().len(), 1, "asked again");
    let third = stop(client, stderr).await;
    assert!(second.contains("TRACE"), "trace is on");
    for text in [first, second, third] {
        assert!(!text.contains(value), "{text}");
    }
}

/// `login` on the intake page (no terminal): the DataBrain service token is stored in the
/// keychain, and a server whose configuration holds only the base URL serves DataBrain;
/// `doctor` checks it. Locked, the keychain is an error naming the entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_without_a_token_works_after_login() {
    let Some(keyring) =
        TestKeyring::start("keychain::a_configuration_without_a_token_works_after_login")
    else {
        return;
    };
    let sb = datasource_mcp::sandbox::Sandbox::start(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let env = sb.env();
    let token = env["DATABRAIN_SERVICE_TOKEN"].clone();
    let mut vars = keyring.vars();
    vars.push(("DATABRAIN_BASE_URL", env["DATABRAIN_BASE_URL"].clone()));

    // No token anywhere: start-up names what is missing.
    let (_, err, code) = run(&["tools"], &vars).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.starts_with("datasource-mcp: DATABRAIN_BASE_URL is set but no DataBrain credential is"),
        "{err}"
    );

    // `login databrain` with no terminal: the link on stderr, the token typed on the page.
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary())
        .args(["login", "databrain"])
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = {
        use tokio::io::AsyncBufReadExt;
        tokio::io::BufReader::new(child.stderr.take().unwrap()).lines()
    };
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let link = link_in(&first).expect("a link");
    assert_eq!(
        first,
        format!(
            "datasource-mcp: open {link} in a browser and enter DATABRAIN_SERVICE_TOKEN there (the link works once, for 10 min; Ctrl-C to stop)"
        )
    );
    let page = open(&link).await;
    assert!(
        page.html.contains(
            "<code>datasource-mcp login</code> asks for <code>DATABRAIN_SERVICE_TOKEN</code>"
        ),
        "{}",
        page.html
    );
    assert!(!page.html.contains(REMEMBER_BOX), "login stores anyway");
    let done = post(&link, Some(&origin_of(&link)), &page.form_token(), &token).await;
    assert_eq!(done.status, 200, "{}", done.html);
    let second = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        second,
        format!(
            "datasource-mcp: stored DATABRAIN_SERVICE_TOKEN in {PLACE} as datasource-mcp/credential:DATABRAIN_SERVICE_TOKEN; the server reads it from there when DATABRAIN_SERVICE_TOKEN is not set. Check it: datasource-mcp doctor"
        )
    );
    let status = child.wait().await.unwrap();
    assert_eq!(status.code(), Some(0));
    eprintln!(
        "login through the page: {} ms",
        started.elapsed().as_millis()
    );

    // The configuration holds no token: doctor, and the server over stdio.
    let started = Instant::now();
    let (stdout, err, code) = run(&["doctor"], &vars).await;
    eprintln!(
        "doctor reading the credential from the keychain: {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(code, 0, "{stdout}{err}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("databrain"))
        .unwrap_or_default();
    assert!(row.contains(" yes ") && row.contains(" ok "), "{stdout}");
    assert!(!stdout.contains(&token) && !err.contains(&token));
    let (client, stderr) = serve(&[], &vars, ElicitingClient::new("unused")).await;
    let listed = tool(&client, "databrain_list_datasources", json!({})).await;
    assert!(listed["total"].as_u64().unwrap() > 0, "{listed}");
    let log = stop(client, stderr).await;
    assert!(
        log.contains(&format!(
            "DATABRAIN_SERVICE_TOKEN read from {PLACE} (stored by `datasource-mcp login`)"
        )),
        "{log}"
    );
    assert!(!log.contains(&token), "{log}");
    let (stdout, _, _) = run(&["secrets"], &vars).await;
    assert_eq!(
        stdout,
        "NAME                     KIND        FOR\nDATABRAIN_SERVICE_TOKEN  credential  databrain (login)\n"
    );

    // A password remembered through `call` (the page's box ticked), for the locked case.
    let args = snowflake("sales-snowflake", false).to_string();
    let (stdout, err, code) = call_entering(
        &[
            "--sandbox",
            "call",
            "databrain_create_datasource",
            "--args",
            &args,
        ],
        &keyring.vars(),
        "sf-locked-away-S3NT1NEL",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap(),
        json!({"name": "sales-snowflake"})
    );

    // Locked: an error naming the entry, not a provider silently gone.
    keyring.lock();
    let (_, err, code) = run(&["doctor"], &vars).await;
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!(
            "datasource-mcp: the keychain's list of stored credentials (datasource-mcp/index) could not be read: {PLACE} is locked or refused access (Secret Service: unlock prompt was dismissed); unlock it, or set the value another way; or set DATASOURCE_MCP_NO_KEYCHAIN=1\n"
        )
    );
    // A reference whose remembered value is locked away: SECRET_UNREADABLE, nothing sent.
    let (stdout, _, code) = run(
        &[
            "--sandbox",
            "call",
            "databrain_create_datasource",
            "--args",
            &args,
        ],
        &keyring.vars(),
    )
    .await;
    assert_eq!(code, 1);
    let result: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        result,
        json!({"error": {"provider": "databrain", "code": "SECRET_UNREADABLE",
            "field": "credentials.password",
            "message": format!("`credentials.password`: the secret SF_PASSWORD could not be read from the keychain entry datasource-mcp/secret:SF_PASSWORD: {PLACE} is locked or refused access (Secret Service: unlock prompt was dismissed); unlock it, or set the value another way"),
            "hint": "make it readable there, or remove it so the next place is looked at (the environment, the secrets directory, the keychain, the intake page); nothing was sent"}})
    );
}

/// `login` on a terminal asks with a masked prompt: the terminal shows the prompt and never
/// the typed token; the token stored is the one typed (`doctor` is accepted by the sandbox with
/// it), and `secrets` lists it by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_on_a_terminal_asks_with_a_masked_prompt() {
    let Some(keyring) =
        TestKeyring::start("keychain::login_on_a_terminal_asks_with_a_masked_prompt")
    else {
        return;
    };
    let sb = datasource_mcp::sandbox::Sandbox::start(([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let env = sb.env();
    let token = env["DATABRAIN_SERVICE_TOKEN"].clone();
    let mut vars = keyring.vars();
    vars.push(("DATABRAIN_BASE_URL", env["DATABRAIN_BASE_URL"].clone()));

    let mut cmd = std::process::Command::new(binary());
    cmd.args(["login", "databrain"])
        .env_clear()
        .envs(keyring.vars().iter().map(|(k, v)| (*k, v.as_str())));
    let typed = token.clone();
    let (screen, out) = tokio::task::spawn_blocking(move || {
        let (mut terminal, child) = Terminal::spawn(cmd);
        terminal.wait_for("DATABRAIN_SERVICE_TOKEN (DataBrain credential, input hidden): ");
        terminal.type_text(&format!("{typed}\n"));
        let out = child.wait_with_output().unwrap();
        (terminal.finish(), out)
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        screen.trim_end(),
        "DATABRAIN_SERVICE_TOKEN (DataBrain credential, input hidden):",
        "the prompt, and nothing typed shown"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "datasource-mcp: stored DATABRAIN_SERVICE_TOKEN in {PLACE} as datasource-mcp/credential:DATABRAIN_SERVICE_TOKEN; the server reads it from there when DATABRAIN_SERVICE_TOKEN is not set. Check it: datasource-mcp doctor\n"
        )
    );

    let (stdout, err, code) = run(&["doctor"], &vars).await;
    assert_eq!(code, 0, "{stdout}{err}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("databrain"))
        .unwrap_or_default();
    assert!(row.contains(" yes ") && row.contains(" ok "), "{stdout}");
    let (stdout, _, _) = run(&["secrets"], &vars).await;
    assert_eq!(
        stdout,
        "NAME                     KIND        FOR\nDATABRAIN_SERVICE_TOKEN  credential  databrain (login)\n"
    );
    for text in [&screen, &stdout, &err] {
        assert!(!text.contains(&token), "{text}");
    }
}

/// The page behind the link a server without URL-mode elicitation gives for `create`.
async fn page_for(args: &[&str], vars: &[(&'static str, String)], create: &Value) -> String {
    let (client, stderr) = serve(args, vars, ()).await;
    let result = client
        .call_tool(
            CallToolRequestParams::new("bigid_create_data_source")
                .with_arguments(create.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    let envelope = result.structured_content.unwrap_or_default();
    assert_eq!(envelope["error"]["code"], "SECRET_NEEDED", "{envelope}");
    let link = link_in(envelope["error"]["hint"].as_str().unwrap()).unwrap();
    let page = open(&link).await;
    assert_eq!(page.status, 200);
    stop(client, stderr).await;
    page.html
}

/// Whether that page offers the "remember" box.
async fn box_offered(args: &[&str], vars: &[(&'static str, String)], create: &Value) -> bool {
    page_for(args, vars, create).await.contains(REMEMBER_BOX)
}

/// The same over HTTP (the page under the server's own address).
async fn box_offered_over_http(vars: &[(&'static str, String)], create: &Value) -> bool {
    use tokio::io::AsyncBufReadExt;
    const BEARER: &str = "keychain-http-bearer-0123456789";
    let mut child = tokio::process::Command::new(binary())
        .args(["--transport", "http", "--listen", "127.0.0.1:0"])
        .env_clear()
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .env("DATASOURCE_MCP_HTTP_TOKEN", BEARER)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("the server starts")
            .unwrap()
            .expect("the server runs");
        if let Some(rest) = line.split(" at http://").nth(1) {
            break format!("http://{}", rest.split(' ').next().unwrap());
        }
    };
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "bigid_create_data_source", "arguments": create}});
    let answer: Value = http()
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {BEARER}"))
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let envelope = &answer["result"]["structuredContent"];
    assert_eq!(envelope["error"]["code"], "SECRET_NEEDED", "{answer}");
    let link = link_in(envelope["error"]["hint"].as_str().unwrap()).unwrap();
    let page = open(&link).await;
    assert_eq!(page.status, 200);
    child.start_kill().unwrap();
    page.html.contains(REMEMBER_BOX)
}

/// The "remember" box is offered only where the page is on this computer and a keychain is
/// there: over stdio with a keychain; not over HTTP (with a keychain), not with --no-keychain,
/// not without a keychain (where `secrets` says there is none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remember_box_only_where_a_keychain_is_and_the_page_is_local() {
    let fake = FakeUpstream::start().await;
    let bigid = [
        ("BIGID_BASE_URL", fake.url("/api/v1")),
        (
            "BIGID_ACCESS_TOKEN",
            "bigid-token-for-keychain-tests".to_string(),
        ),
    ];
    let create = json!({"ds_connection": {"name": "Orders", "type": "rdb-mysql",
        "rdb_url": "db.example.com:3306", "password": "${secret:KC_BOX}"}});
    // Without a keychain (no session bus): no box, and `secrets` says why.
    assert!(!box_offered(&[], &bigid, &create).await);
    let (_, err, code) = run(&["secrets"], &[]).await;
    assert_eq!(code, 2);
    assert!(
        err.starts_with(
            "datasource-mcp: cannot list the secrets held: no keychain is available here ("
        ),
        "{err}"
    );
    let Some(keyring) = TestKeyring::start(
        "keychain::the_remember_box_only_where_a_keychain_is_and_the_page_is_local",
    ) else {
        return;
    };
    let mut vars = keyring.vars();
    vars.extend(bigid.iter().cloned());
    // Over stdio with a keychain: the box, unticked, and where a ticked value would be kept.
    let page = page_for(&[], &vars, &create).await;
    assert!(page.contains(REMEMBER_BOX), "stdio with a keychain: {page}");
    assert!(
        page.contains(&format!(
            "<p class=\"note\">Unticked, the server keeps it in memory until it stops. Ticked, it is also kept in {PLACE} as <code>datasource-mcp/secret:KC_BOX</code>, used again after a restart, for BigID and db.example.com only; forget it with <code>datasource-mcp secrets forget KC_BOX</code>.</p>"
        )),
        "{page}"
    );
    assert!(!box_offered(&["--no-keychain"], &vars, &create).await);
    assert!(!box_offered_over_http(&vars, &create).await, "over HTTP");
    let (_, err, code) = run(&["secrets", "--no-keychain"], &vars).await;
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "datasource-mcp: cannot list the secrets held: no keychain is available here (keychain lookups are off)\n"
    );
    assert!(fake.requests().is_empty());
}
