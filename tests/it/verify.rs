//! `datasource-mcp verify`: on the sandbox every checked fact holds (read-only and with
//! `--write`, leaving nothing behind); behind a proxy that answers each assumed fact the other
//! way, each is reported `differs` with what was observed; a `--write` run that fails midway
//! or is interrupted deletes what it made, and says what it could not.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use datasource_mcp::engine::{Engine, EngineSettings};
use datasource_mcp::operation::Outcome;
use datasource_mcp::providers;
use datasource_mcp::sandbox::Sandbox;
use datasource_mcp::surfaces::verify::{self, Report};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::support::*;

async fn sandbox() -> Sandbox {
    Sandbox::start(([127, 0, 0, 1], 0).into()).await.unwrap()
}

/// The sandbox's variables, every base URL through `proxy` when there is one.
fn vars(sb: &Sandbox, proxy: Option<&FaultyProxy>) -> HashMap<String, String> {
    let mut vars = sb.env();
    if let Some(proxy) = proxy {
        for (k, v) in vars.iter_mut() {
            if k.ends_with("_BASE_URL") {
                *v = proxy.rebase(v);
            }
        }
    }
    vars
}

fn engine(vars: HashMap<String, String>) -> Engine {
    let configs = providers::configure_all(&vars).unwrap();
    Engine::new(configs, EngineSettings::default(), Arc::new(vars))
}

async fn run(vars: HashMap<String, String>, write: bool) -> Report {
    verify::run(&engine(vars), write, &CancellationToken::new()).await
}

/// Each fact's verdict and observation, by the fact's first words.
fn verdicts(report: &Report) -> Vec<(String, Outcome, String)> {
    report
        .providers
        .iter()
        .flat_map(|p| &p.facts)
        .map(|f| {
            let head: String = f.claim.chars().take(40).collect();
            (head, f.verdict.outcome, f.verdict.observed.clone())
        })
        .collect()
}

fn verdict_of<'a>(
    all: &'a [(String, Outcome, String)],
    head: &str,
) -> &'a (String, Outcome, String) {
    all.iter()
        .find(|(h, _, _)| h.starts_with(head))
        .unwrap_or_else(|| panic!("no fact starting {head:?} in {all:#?}"))
}

/// The facts `--write` checks, and those read-only probes check, on the sandbox.
const READ_HELD: &[&str] = &[
    "The largest limit is not documented",
    "The other rdb types",
    "GET /ds-templates, tried on a 404",
    "GET /ds-templates/{type}, tried on a 404",
    "The last scan's fields are not published",
    "A scan has ended when its state is",
    "Counts are read from num_of_object",
    "What an unknown id is answered",
    "Older instances may take the filters",
    "The broker login's keys are user_id",
];
const WRITE_HELD: &[&str] = &[
    "What a duplicate name is answered",
    "Whether PUT replaces the whole source",
    "isNewPassword: false makes BigID test",
    "Connector labels are not unique",
    "The success status (200 or 201)",
    "A description sent as null stays null",
];

#[tokio::test]
async fn on_the_sandbox_every_checked_fact_holds_read_only() {
    let sb = sandbox().await;
    let report = run(sb.env(), false).await;
    let all = verdicts(&report);
    for head in READ_HELD {
        assert_eq!(verdict_of(&all, head).1, Outcome::Held, "{head}: {all:#?}");
    }
    for head in WRITE_HELD
        .iter()
        .filter(|h| !h.starts_with("Connector labels"))
    {
        let (_, outcome, observed) = verdict_of(&all, head);
        assert_eq!(*outcome, Outcome::NotChecked, "{head}");
        assert_eq!(
            observed,
            "checked only with --write (a throwaway source is made, tested, changed and deleted)"
        );
    }
    assert_eq!(report.count_of(Outcome::Differs), 0);
    assert_eq!(report.count_of(Outcome::Held), 10);
    assert_eq!(report.exit_code(), 0);
    // Every assumed fact of the ledger is in the report, and each is either checked or says
    // why it cannot be.
    assert_eq!(all.len(), verify::every_assumed_fact().len());
    for (_, _, fact) in verify::every_assumed_fact() {
        assert!(
            fact.verify.is_checked() || fact.verify.cannot.is_some(),
            "{}",
            fact.claim
        );
    }
    let (_, _, observed) = verdict_of(&all, "Older instances may take the filters");
    assert_eq!(
        observed,
        "POST /data-sources/filter?skip=0&limit=1: HTTP 200: the wrapped filter is taken"
    );
}

#[tokio::test]
async fn on_the_sandbox_every_checked_fact_holds_with_write_and_nothing_is_left() {
    let sb = sandbox().await;
    let before = bigid_names(&sb).await;
    let report = run(sb.env(), true).await;
    let all = verdicts(&report);
    for head in READ_HELD.iter().chain(WRITE_HELD) {
        assert_eq!(verdict_of(&all, head).1, Outcome::Held, "{head}: {all:#?}");
    }
    assert_eq!(report.count_of(Outcome::Held), 16);
    assert_eq!(report.count_of(Outcome::Differs), 0);
    assert_eq!(report.exit_code(), 0);
    let put = report.providers[0]
        .facts
        .iter()
        .find(|f| f.claim.starts_with("Whether PUT replaces"))
        .unwrap();
    assert_eq!(
        put.verdict.speaks.as_deref(),
        Some("PUT replaces: a field not sent is dropped")
    );
    // Every throwaway is gone, and nothing else changed.
    assert_eq!(bigid_names(&sb).await, before);
    let labels = bigdata_labels(&sb).await;
    assert!(
        labels
            .iter()
            .all(|l| !l.starts_with("datasource-mcp-verify-")),
        "{labels:?}"
    );
    let bigid = report.providers[0].write.as_ref().unwrap();
    assert_eq!(bigid.cleanup.len(), 1);
    assert!(bigid.cleanup[0].deleted);
    let bigdata = report.providers[2].write.as_ref().unwrap();
    assert_eq!(bigdata.cleanup.len(), 2);
    // The report holds no credential: neither the sandbox's nor the throwaway's.
    let json = report.to_json().to_string();
    let text = report.render();
    for (k, v) in sb.env() {
        if !k.ends_with("_BASE_URL") && v.len() > 8 {
            assert!(
                !json.contains(&v) && !text.contains(&v),
                "{k} in the report"
            );
        }
    }
    assert!(!json.contains("password\":\""), "{json}");
}

async fn bigid_names(sb: &Sandbox) -> Vec<String> {
    let api = SandboxApi::new(sb, datasource_mcp::operation::Provider::BigId).await;
    let list = api
        .send(reqwest::Method::GET, "/ds-connections", None)
        .await
        .1;
    list["data"]["ds_connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

async fn bigdata_labels(sb: &Sandbox) -> Vec<String> {
    let api = SandboxApi::new(sb, datasource_mcp::operation::Provider::Bigdata).await;
    let list = api.send(reqwest::Method::GET, "", None).await.1;
    list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn against_flipped_vendors_every_checked_fact_differs() {
    let sb = sandbox().await;
    let proxy = FaultyProxy::start(sb.url()).await;
    // BigID: a page capped below 100; rdb-postgresql without rdb_url and rdb_name; the first
    // template at neither route; three last scans, one in a state nobody named, one Completed
    // without counts, one without a state.
    proxy.answer(
        "GET",
        "/ds-connections?skip=0",
        1,
        Act::Rewrite(|v| v["data"]["totalCount"] = json!(1000)),
    );
    proxy.answer(
        "GET",
        "/ds-connections-types/template/rdb-postgresql",
        1,
        Act::Reply(
            200,
            json!({"name": "rdb-postgresql", "fields": [{"apiName": "host"}, {"apiName": "database"}]}),
        ),
    );
    proxy.answer(
        "GET",
        "/ds-connections-types/template/",
        1,
        Act::Reply(404, json!({"message": "Not Found"})),
    );
    proxy.answer(
        "GET",
        "/scan",
        1,
        Act::Rewrite(|v| v["data"]["state"] = json!("Paused")),
    );
    proxy.answer(
        "GET",
        "/scan",
        1,
        Act::Rewrite(|v| {
            let data = v["data"].as_object_mut().unwrap();
            data.insert("state".into(), json!("Completed"));
            data.remove("num_of_object");
            data.remove("total_pii_count");
        }),
    );
    proxy.answer(
        "GET",
        "/scan",
        1,
        Act::Rewrite(|v| {
            let data = v["data"].as_object_mut().unwrap();
            let state = data.remove("state").unwrap();
            data.insert("phase".into(), state);
        }),
    );
    // BigID --write: a duplicate name accepted; a stored test refused; the stored credential
    // gone after the update (the third read of the throwaway: two tools read first, then the
    // script's own read).
    proxy.answer(
        "POST",
        "/bigid/api/v1/ds_connections$",
        1,
        Act::Rewrite(|_| {}),
    );
    proxy.answer(
        "POST",
        "/bigid/api/v1/ds_connections$",
        1,
        Act::Reply(200, json!({"status": "success", "statusCode": 200})),
    );
    proxy.answer(
        "POST",
        "/ds-connection-test",
        1,
        Act::Reply(400, json!({"message": "password is required"})),
    );
    proxy.answer(
        "GET",
        "/ds_connections/datasource-mcp-verify-",
        2,
        Act::Rewrite(|_| {}),
    );
    proxy.answer(
        "GET",
        "/ds_connections/datasource-mcp-verify-",
        1,
        Act::Rewrite(|v| {
            v["ds_connection"]
                .as_object_mut()
                .unwrap()
                .remove("password");
        }),
    );
    // PDC: an unknown id answered 200; the wrapper refused, and the top level too.
    proxy.answer(
        "GET",
        "/data-sources/ffffffffffffffffffffffff",
        1,
        Act::Reply(200, json!({"status": 200, "data": null})),
    );
    proxy.answer(
        "POST",
        "/data-sources/filter",
        1,
        Act::Reply(
            400,
            json!({"message": ["property filters should not exist"]}),
        ),
    );
    proxy.answer(
        "POST",
        "/data-sources/filter",
        1,
        Act::Reply(
            400,
            json!({"message": ["property resourceNames should not exist"]}),
        ),
    );
    // Bigdata.com: a broker feed showing other keys; a second create with the same label
    // refused; the null description turned into "" by the update.
    proxy.answer(
        "GET",
        "/contents/v1/connectors$",
        1,
        Act::Rewrite(|v| {
            for c in v["results"].as_array_mut().unwrap() {
                if c["type"] == "investment_research" {
                    c["config"] = json!({"username": "x"});
                }
            }
        }),
    );
    proxy.answer("POST", "/contents/v1/connectors$", 1, Act::Rewrite(|_| {}));
    proxy.answer(
        "POST",
        "/contents/v1/connectors$",
        1,
        Act::Reply(
            409,
            json!({"statusCode": 409, "message": "label already used"}),
        ),
    );
    proxy.answer("GET", "/contents/v1/connectors/", 2, Act::Rewrite(|_| {}));
    proxy.answer(
        "GET",
        "/contents/v1/connectors/",
        1,
        Act::Rewrite(|v| v["description"] = json!("")),
    );
    let report = run(vars(&sb, Some(&proxy)), true).await;
    let all = verdicts(&report);
    let expect = [
        (
            "The largest limit is not documented",
            "GET /ds-connections?skip=0&limit=100&requireTotalCount=true: HTTP 200: fewer than 100 rows while the total is larger (the page is capped lower)",
        ),
        (
            "The other rdb types",
            "GET /ds-connections-types/template/{type}: rdb-postgresql: no rdb_url or rdb_name field",
        ),
        (
            "GET /ds-templates/{type}, tried on a 404",
            "GET /ds-connections-types/template/{type}: HTTP 404, then GET /ds-templates/{type}: HTTP 404",
        ),
        (
            "A scan has ended when its state is",
            "GET /ds-connections/{name}/scan: state Paused is none of the ledger's words (it is taken as still running)",
        ),
        (
            "Counts are read from num_of_object",
            "GET /ds-connections/{name}/scan: HTTP 200: a Completed scan carries none of num_of_object, total_pii_count, identities_scanned, scanner_identities_count; its fields are {_id, created_at, dsConnectionName, isSampleScan, isScheduled, scanProfileName, scanType, state, updated_at}",
        ),
        (
            "The last scan's fields are not published",
            "GET /ds-connections/{name}/scan: HTTP 200: no state at data.state, state or [0].state; data holds {_id, created_at, dsConnectionName, isSampleScan, isScheduled, num_of_object, phase, scanProfileName, scanType, total_pii_count, updated_at}",
        ),
        (
            "What a duplicate name is answered",
            "POST /ds_connections: HTTP 200: a second source of the same name is accepted",
        ),
        (
            "isNewPassword: false makes BigID test",
            "bigid_test_stored_data_source: VENDOR_ERROR (HTTP 400): the stored test is refused",
        ),
        (
            "Whether PUT replaces the whole source",
            "bigid_update_data_source, then GET /ds_connections/{name}: HTTP 200: lost the stored credential (password)",
        ),
        (
            "What an unknown id is answered",
            "GET /data-sources/{id} of an unknown id: HTTP 200",
        ),
        (
            "Older instances may take the filters",
            "POST /data-sources/filter?skip=0&limit=1: HTTP 400: the wrapper is refused, then POST /data-sources/filter?skip=0&limit=1: HTTP 400",
        ),
        (
            "The broker login's keys are user_id",
            "GET /contents/v1/connectors: HTTP 200: an investment_research connector's config holds {username}, no user_id",
        ),
        (
            "Connector labels are not unique",
            "a second POST /contents/v1/connectors with the same label: HTTP 409: refused",
        ),
        (
            "A description sent as null stays null",
            "GET /contents/v1/connectors/{connector_id}: HTTP 200: null, then bigdata_update_connector, then \"\"",
        ),
    ];
    for (head, observed) in expect {
        let (_, outcome, seen) = verdict_of(&all, head);
        assert_eq!(
            (*outcome, seen.as_str()),
            (Outcome::Differs, observed),
            "{head}"
        );
    }
    assert_eq!(report.exit_code(), 1);
    let text = report.render();
    assert!(text.contains("attach this report"), "{text}");
}

#[tokio::test]
async fn the_template_list_at_neither_route_and_a_create_without_its_connector_differ() {
    let sb = sandbox().await;
    let proxy = FaultyProxy::start(sb.url()).await;
    proxy.answer(
        "GET",
        "/ds-connections-types$",
        1,
        Act::Reply(404, json!({"message": "Not Found"})),
    );
    // The create is made, but its answer shows no connector: nothing to delete it by.
    proxy.answer(
        "POST",
        "/contents/v1/connectors$",
        1,
        Act::Rewrite(|v| *v = json!({"status": "accepted"})),
    );
    let report = run(vars(&sb, Some(&proxy)), true).await;
    let all = verdicts(&report);
    let (_, outcome, observed) = verdict_of(&all, "GET /ds-templates, tried on a 404");
    assert_eq!(
        (*outcome, observed.as_str()),
        (
            Outcome::Differs,
            "GET /ds-connections-types: HTTP 404, then GET /ds-templates: HTTP 404"
        )
    );
    let (_, outcome, observed) = verdict_of(&all, "The success status (200 or 201)");
    assert_eq!(
        (*outcome, observed.as_str()),
        (
            Outcome::Differs,
            "POST /contents/v1/connectors: HTTP 201: a success without the connector: {status}"
        )
    );
    // What could not be deleted is said, and the run exits 2.
    let bigdata = report.providers[2].write.as_ref().unwrap();
    let name = bigdata.throwaway.clone().unwrap();
    assert_eq!(bigdata.cleanup.len(), 1);
    assert!(!bigdata.cleanup[0].deleted);
    assert_eq!(
        bigdata.cleanup[0].what,
        format!("something labelled {name}")
    );
    assert!(report.render().contains("COULD NOT CLEAN UP"));
    assert_eq!(report.exit_code(), 2);
}

#[tokio::test]
async fn a_write_that_fails_midway_still_deletes_the_throwaway_and_names_what_it_could_not() {
    let sb = sandbox().await;
    let before = bigid_names(&sb).await;
    let proxy = FaultyProxy::start(sb.url()).await;
    // The update's PUT never reaches BigID; the later steps and the delete go on.
    proxy.fault("PUT", "", 0, 5, Fault::Unavailable);
    let report = run(vars(&sb, Some(&proxy)), true).await;
    let bigid = report.providers[0].write.as_ref().unwrap();
    let steps: Vec<&str> = bigid.steps.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(
        steps,
        [
            "create",
            "duplicate",
            "test_stored",
            "update",
            "read",
            "partial",
            "read_partial"
        ]
    );
    assert_eq!(bigid.steps[3].1, "bigid_update_data_source: HTTP 503");
    assert!(bigid.cleanup[0].deleted, "{:?}", bigid.cleanup);
    assert_eq!(bigid_names(&sb).await, before);
    let all = verdicts(&report);
    assert_eq!(
        verdict_of(&all, "Whether PUT replaces the whole source").1,
        Outcome::NotChecked
    );

    // A delete that fails is named, with how to do it by hand.
    let proxy = FaultyProxy::start(sb.url()).await;
    proxy.fault("DELETE", "", 0, 5, Fault::Unavailable);
    let report = run(vars(&sb, Some(&proxy)), true).await;
    let bigid = report.providers[0].write.as_ref().unwrap();
    let name = bigid.throwaway.clone().unwrap();
    assert!(!bigid.cleanup[0].deleted);
    assert_eq!(
        bigid.cleanup[0].what,
        format!("bigid_delete_data_source {{\"name\":\"{name}\"}}")
    );
    assert_eq!(bigid.cleanup[0].said, "bigid_delete_data_source: HTTP 503");
    assert!(report.render().contains(&format!(
        "COULD NOT CLEAN UP: bigid_delete_data_source {{\"name\":\"{name}\"}}"
    )));
    assert_eq!(report.exit_code(), 2);
    assert!(bigid_names(&sb).await.contains(&name));
}

/// A proxy before `sb` whose first stored connection test hangs for 30 s.
async fn hanging_test(sb: &Sandbox) -> FaultyProxy {
    let proxy = FaultyProxy::start(sb.url()).await;
    proxy.answer(
        "POST",
        "/ds-connection-test",
        1,
        Act::Delay(Duration::from_secs(30)),
    );
    proxy
}

#[tokio::test]
async fn an_interrupted_write_deletes_what_it_made_and_says_so() {
    let sb = sandbox().await;
    let before = bigid_names(&sb).await;
    // The stored test hangs; the run is interrupted while it waits.
    let proxy = hanging_test(&sb).await;
    let cancel = CancellationToken::new();
    let engine = engine(vars(&sb, Some(&proxy)));
    let stop = cancel.clone();
    let watcher = proxy.clone();
    tokio::spawn(async move {
        while watcher.reached("POST", "/ds-connection-test") == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.cancel();
    });
    let report = tokio::time::timeout(Duration::from_secs(20), verify::run(&engine, true, &cancel))
        .await
        .expect("the interruption stops the run");
    assert!(report.interrupted);
    let bigid = report.providers[0].write.as_ref().unwrap();
    assert_eq!(
        bigid.steps[2].1,
        "bigid_test_stored_data_source: no answer (INTERRUPTED)"
    );
    assert_eq!(
        bigid.steps[3].1,
        "bigid_update_data_source: not sent (interrupted)"
    );
    assert!(bigid.cleanup[0].deleted, "{:?}", bigid.cleanup);
    assert_eq!(bigid_names(&sb).await, before);
    // The other providers were not checked, and the run exits 2.
    assert!(
        report.providers[2]
            .write
            .as_ref()
            .unwrap()
            .steps
            .iter()
            .all(|(_, s)| s.ends_with("not sent (interrupted)"))
    );
    assert_eq!(report.exit_code(), 2);
    assert!(report.render().contains("INTERRUPTED"));
}

#[tokio::test]
async fn the_command_runs_on_the_sandbox_and_write_needs_a_yes() {
    let dir = std::env::temp_dir().join(format!("verify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("report.json");
    let run = run_binary(
        &[
            "--sandbox",
            "verify",
            "--write",
            "--yes",
            "--json",
            "--out",
            out.to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert_eq!(run.0, Some(0), "{}", run.2);
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(report["summary"]["differs"], 0);
    assert_eq!(report["summary"]["held"], 16);
    assert_eq!(report["exit"], 0);
    assert_eq!(serde_json::from_str::<Value>(&run.1).unwrap(), report);
    // Without --yes, anything but "yes" writes nothing.
    let run = run_binary(&["--sandbox", "verify", "--write"], "no\n").await;
    assert_eq!(run.0, Some(2));
    assert!(
        run.2.ends_with("datasource-mcp: nothing was written\n"),
        "{}",
        run.2
    );
    assert!(run.1.is_empty());
    // Nothing configured: nothing to check.
    let run = run_binary(&["verify"], "").await;
    assert_eq!(run.0, Some(2));
    assert!(
        run.2
            .starts_with("datasource-mcp: no provider is configured"),
        "{}",
        run.2
    );
    // Read-only, the table.
    let run = run_binary(&["--sandbox", "verify"], "").await;
    assert_eq!(run.0, Some(0), "{}", run.2);
    assert!(
        run.1.contains("10 held, 0 differ, 16 not checked"),
        "{}",
        run.1
    );
}

async fn run_binary(args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_datasource-mcp"))
        .args(args)
        .env_clear()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Ctrl-C during `verify --write`: the process deletes its throwaway, prints the report saying
/// it was interrupted, and exits 2.
#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_stops_the_command_after_deleting_its_throwaway() {
    let sb = sandbox().await;
    let before = bigid_names(&sb).await;
    let proxy = hanging_test(&sb).await;
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_datasource-mcp"))
        .args(["verify", "--write", "--yes"])
        .env_clear()
        .envs(vars(&sb, Some(&proxy)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap() as i32;
    tokio::time::timeout(Duration::from_secs(20), async {
        while proxy.reached("POST", "/ds-connection-test") == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the stored test is sent");
    // SAFETY: a signal to the child this test started.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let out = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the process stops")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("interrupted: deleting what verify made, then stopping"),
        "{stderr}"
    );
    assert!(
        stdout.contains("test_stored: bigid_test_stored_data_source: no answer (INTERRUPTED)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cleanup: bigid_delete_data_source"),
        "{stdout}"
    );
    assert!(stdout.contains("INTERRUPTED: the facts after the interruption were not checked"));
    assert_eq!(bigid_names(&sb).await, before);
}
