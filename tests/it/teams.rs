//! Per-user vendor credentials: each OAuth subject acts at the vendor with their own credential,
//! never another's; a caller without one gets what the operator chose; the audit names which
//! credential acted; the store holds them sealed.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use datasource_mcp::engine::audit::{AuditLog, Caller};
use datasource_mcp::engine::credentials::{PerUser, WithoutOwn};
use datasource_mcp::engine::{CallContext, Engine, EngineSettings};
use datasource_mcp::intake::{Binding, Intake, IntakeSettings, Serving};
use datasource_mcp::operation::Provider;
use datasource_mcp::providers;
use datasource_mcp::secret::SecretString;
use datasource_mcp::store::sealed::Sealer;
use datasource_mcp::store::{MemoryStore, Store};
use datasource_mcp::upstream::UpstreamSettings;

use crate::support::{FakeUpstream, Reply, env, link_in, open, origin_of, post};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const SERVICE_KEY: &str = "service-key-S3NT1NEL-000";
const ALICE_KEY: &str = "alice-key-S3NT1NEL-111";
const BOB_KEY: &str = "bob-key-S3NT1NEL-222";

struct Team {
    fake: FakeUpstream,
    engine: Engine,
    per_user: Arc<PerUser>,
    store: Arc<dyn Store>,
    audit: std::path::PathBuf,
    intake: Arc<Intake>,
}

/// Per-user credentials in `store`, sealed with the test key, kept an hour.
fn per_user(without: WithoutOwn, store: Arc<dyn Store>) -> PerUser {
    PerUser::new(without, store, sealer(), Duration::from_secs(3600))
}

fn sealer() -> Arc<Sealer> {
    Arc::new(Sealer::new(Some(KEY), None).unwrap())
}

/// An engine over `vars` in per-user mode.
fn engine(vars: &std::collections::HashMap<String, String>, per_user: Arc<PerUser>) -> Engine {
    Engine::new(
        providers::configure_all(vars).unwrap(),
        UpstreamSettings::default(),
        Arc::new(vars.clone()),
    )
    .with_per_user(per_user)
}

/// Bigdata.com at `fake`, with the service's key.
fn bigdata_vars(fake: &FakeUpstream) -> std::collections::HashMap<String, String> {
    env(&[
        ("BIGDATA_BASE_URL", &fake.url("/bigdata")),
        ("BIGDATA_API_KEY", SERVICE_KEY),
    ])
}

async fn team(without: WithoutOwn) -> Team {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/bigdata/contents/v1/connectors",
        Reply::json(200, json!({"results": [{"id": "c1", "label": "One"}]})),
    );
    fake.on(
        "POST",
        "/bigdata/contents/v1/connectors",
        Reply::json(200, json!({"id": "c2", "label": "Two"})),
    );
    let vars = bigdata_vars(&fake);
    let audit = std::env::temp_dir().join(format!(
        "datasource-mcp-audit-teams-{}.jsonl",
        datasource_mcp::secret::random_token("")
    ));
    let log = Arc::new(AuditLog::open(audit.to_str().unwrap()).unwrap());
    let settings = EngineSettings {
        audit: Some(log.clone()),
        ..EngineSettings::from(UpstreamSettings::default())
    };
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let per_user = Arc::new(per_user(without, store.clone()).with_audit(Some(log)));
    let intake = Intake::new(IntakeSettings::default(), Serving::Loopback);
    intake.keep_personal(per_user.clone());
    let engine = Engine::new(
        providers::configure_all(&vars).unwrap(),
        settings,
        Arc::new(vars.clone()),
    )
    .with_intake(intake.clone())
    .with_per_user(per_user.clone());
    Team {
        fake,
        engine,
        per_user,
        store,
        audit,
        intake,
    }
}

fn as_subject(name: &str) -> CallContext {
    CallContext {
        caller: Some(Caller::Subject(name.into())),
        ..Default::default()
    }
}

impl Team {
    async fn call(&self, tool: &str, args: Value, cx: &CallContext) -> (Value, bool) {
        let op = providers::operation(tool).unwrap();
        let args: Map<String, Value> = args.as_object().cloned().unwrap_or_default();
        let out = self.engine.call(op, Some(args), cx).await;
        (out.value, out.is_error)
    }

    async fn list(&self, cx: &CallContext) -> (Value, bool) {
        self.call("bigdata_list_connectors", json!({}), cx).await
    }

    /// The API key each request that reached the vendor carried, in order.
    fn keys_sent(&self) -> Vec<String> {
        self.fake
            .requests()
            .iter()
            .map(|r| r.header("x-api-key").unwrap_or("(none)").to_string())
            .collect()
    }

    /// (caller, tool, outcome, credential) of every audit line.
    fn audited(&self) -> Vec<(String, String, String, String)> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                let s = |k: &str| v[k].as_str().unwrap().to_string();
                (s("caller"), s("tool"), s("outcome"), s("acting"))
            })
            .collect()
    }
}

fn line(
    caller: &str,
    tool: &str,
    outcome: &str,
    credential: &str,
) -> (String, String, String, String) {
    (
        caller.into(),
        tool.into(),
        outcome.into(),
        credential.into(),
    )
}

/// Two subjects in one run: each call carries its caller's own key, never the other's nor the
/// service's; a third without one is refused before anything is sent; a stdio caller acts
/// with the service credential. No key appears in any result.
#[tokio::test]
async fn two_subjects_act_with_their_own_credentials_and_never_each_others() {
    let t = team(WithoutOwn::Refuse).await;
    t.per_user
        .put("alice", Provider::Bigdata, &SecretString::new(ALICE_KEY))
        .await
        .unwrap();
    t.per_user
        .put("bob", Provider::Bigdata, &SecretString::new(BOB_KEY))
        .await
        .unwrap();
    let (alice, bob, carol) = (as_subject("alice"), as_subject("bob"), as_subject("carol"));
    let mut shown = Vec::new();
    for cx in [&alice, &bob, &alice, &bob] {
        let (value, is_error) = t.list(cx).await;
        assert!(!is_error, "{value}");
        shown.push(value.to_string());
    }
    let (created, is_error) = t
        .call(
            "bigdata_create_connector",
            json!({"type": "investment_research", "label": "Two", "config": {"user_id": "u", "user_password": "p"}}),
            &bob,
        )
        .await;
    assert!(!is_error, "{created}");
    // The create looks the label up first, then creates: both as Bob.
    assert_eq!(
        t.keys_sent(),
        [ALICE_KEY, BOB_KEY, ALICE_KEY, BOB_KEY, BOB_KEY, BOB_KEY]
    );
    // Carol has none: refused, nothing sent, a link to the page where she gives hers.
    let (refused, is_error) = t.list(&carol).await;
    assert!(is_error);
    assert_eq!(refused["error"]["code"], "CREDENTIAL_NEEDED");
    assert_eq!(
        refused["error"]["message"],
        "you have no Bigdata.com credential of your own here"
    );
    let hint = refused["error"]["hint"].as_str().unwrap();
    assert!(link_in(hint).is_some(), "{hint}");
    assert_eq!(t.fake.requests().len(), 6);
    // A local caller (stdio) is not a signed-in user: the service credential acts.
    let stdio = CallContext {
        caller: Some(Caller::Stdio),
        ..Default::default()
    };
    assert!(!t.list(&stdio).await.1);
    assert_eq!(t.keys_sent().last().unwrap(), SERVICE_KEY);
    for text in shown
        .iter()
        .chain([&created.to_string(), &refused.to_string()])
    {
        for key in [ALICE_KEY, BOB_KEY, SERVICE_KEY] {
            assert!(!text.contains(key), "{text}");
        }
    }
    // The audit names who called and which credential acted; the refusal is a line.
    assert_eq!(
        t.audited(),
        [
            line("bob", "bigdata_create_connector", "ok", "own"),
            line(
                "carol",
                "bigdata_list_connectors",
                "CREDENTIAL_NEEDED",
                "none"
            ),
        ]
    );
    let audit = std::fs::read_to_string(&t.audit).unwrap();
    for key in [ALICE_KEY, BOB_KEY, SERVICE_KEY] {
        assert!(!audit.contains(key));
    }
}

/// Carol gives her own key on the page (never through the model): it is kept for her in the
/// store, sealed, and her next call uses it; Alice's calls do not.
#[tokio::test]
async fn a_credential_given_on_the_page_is_kept_sealed_and_used_for_that_caller_only() {
    let t = team(WithoutOwn::Refuse).await;
    let carol = as_subject("carol");
    let (refused, _) = t.list(&carol).await;
    let url = link_in(refused["error"]["hint"].as_str().unwrap()).unwrap();
    let page = open(&url).await;
    assert_eq!(page.status, 200);
    assert!(
        page.html.contains("Your own Bigdata.com credential"),
        "{}",
        page.html
    );
    assert!(page.html.contains("BIGDATA_API_KEY"));
    let done = post(
        &url,
        Some(&origin_of(&url)),
        &page.form_token(),
        "carol-key-S3NT1NEL-333",
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert!(
        done.html
            .contains("keeps <code>BIGDATA_API_KEY</code> as your own Bigdata.com credential"),
        "{}",
        done.html
    );
    // Kept in the store, sealed: neither the value nor the subject is there in clear.
    let keys = t.store.keys("credential:").await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(!keys[0].contains("carol"), "{}", keys[0]);
    let record = t.store.get(&keys[0]).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&record);
    assert!(text.starts_with("s1."), "{text}");
    assert!(!text.contains("carol-key"));
    // Not held in the intake's memory once kept.
    let binding = Binding {
        caller: "subject:carol".into(),
        provider: "bigdata".into(),
        hosts: Vec::new(),
    };
    assert!(!t.intake.holds("BIGDATA_API_KEY", &binding).await);
    assert!(!t.list(&carol).await.1);
    assert_eq!(t.keys_sent(), ["carol-key-S3NT1NEL-333"]);
    // Alice has given none: still refused, and Carol's key never acts for her.
    let (alice, is_error) = t.list(&as_subject("alice")).await;
    assert!(is_error);
    assert_eq!(alice["error"]["code"], "CREDENTIAL_NEEDED");
    assert_eq!(t.keys_sent(), ["carol-key-S3NT1NEL-333"]);
}

/// `fallback`: a caller without their own acts with the service credential, reads and writes;
/// `read-only`: reads only, a write is refused and audited.
#[tokio::test]
async fn without_their_own_a_caller_falls_back_or_only_reads_as_the_operator_chose() {
    let create = json!({"type": "investment_research", "label": "Two", "config": {"user_id": "u", "user_password": "p"}});
    let t = team(WithoutOwn::Fallback).await;
    let dave = as_subject("dave");
    assert!(!t.list(&dave).await.1);
    assert!(
        !t.call("bigdata_create_connector", create.clone(), &dave)
            .await
            .1
    );
    assert_eq!(t.keys_sent(), [SERVICE_KEY, SERVICE_KEY, SERVICE_KEY]);
    assert_eq!(
        t.audited(),
        [line("dave", "bigdata_create_connector", "ok", "service")]
    );

    let t = team(WithoutOwn::ReadOnly).await;
    assert!(!t.list(&dave).await.1);
    let (refused, is_error) = t.call("bigdata_create_connector", create, &dave).await;
    assert!(is_error);
    assert_eq!(refused["error"]["code"], "CREDENTIAL_NEEDED");
    assert_eq!(
        refused["error"]["message"],
        "you have no Bigdata.com credential of your own here for a change (reads use the service credential)"
    );
    assert_eq!(t.keys_sent(), [SERVICE_KEY]);
    assert_eq!(
        t.audited(),
        [line(
            "dave",
            "bigdata_create_connector",
            "CREDENTIAL_NEEDED",
            "none"
        )]
    );
}

/// A caller lists the providers they have a credential for and removes theirs; after that,
/// their calls are refused again.
#[tokio::test]
async fn a_caller_lists_and_removes_their_own_credential() {
    let t = team(WithoutOwn::Refuse).await;
    t.per_user
        .put(
            "erin",
            Provider::Bigdata,
            &SecretString::new("erin-key-S3NT1NEL-4"),
        )
        .await
        .unwrap();
    t.per_user
        .put(
            "frank",
            Provider::Bigdata,
            &SecretString::new("frank-key-S3NT1NEL-5"),
        )
        .await
        .unwrap();
    assert_eq!(t.per_user.list("erin").await.unwrap(), ["bigdata"]);
    assert_eq!(t.per_user.list("gina").await.unwrap(), Vec::<&str>::new());
    assert!(!t.list(&as_subject("erin")).await.1);
    assert!(t.per_user.remove("erin", Provider::Bigdata).await.unwrap());
    assert!(!t.per_user.remove("erin", Provider::Bigdata).await.unwrap());
    assert_eq!(t.per_user.list("erin").await.unwrap(), Vec::<&str>::new());
    assert_eq!(t.per_user.list("frank").await.unwrap(), ["bigdata"]);
    let (refused, _) = t.list(&as_subject("erin")).await;
    assert_eq!(refused["error"]["code"], "CREDENTIAL_NEEDED");
    assert_eq!(t.keys_sent(), ["erin-key-S3NT1NEL-4"]);
}

/// A record sealed with another key (a rotation that dropped the old key) is a clear store
/// error, never another caller's or the service's credential acting.
#[tokio::test]
async fn a_credential_sealed_with_an_unknown_key_sends_nothing() {
    let t = team(WithoutOwn::Fallback).await;
    let other = PerUser::new(
        WithoutOwn::Fallback,
        t.store.clone(),
        Arc::new(
            Sealer::new(
                Some("1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"),
                None,
            )
            .unwrap(),
        ),
        Duration::from_secs(60),
    );
    other
        .put(
            "hal",
            Provider::Bigdata,
            &SecretString::new("hal-key-S3NT1NEL-6"),
        )
        .await
        .unwrap();
    let (refused, is_error) = t.list(&as_subject("hal")).await;
    assert!(is_error);
    assert_eq!(refused["error"]["code"], "STORE_UNAVAILABLE");
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the shared store (per-user credentials) failed: a stored credential cannot be read: it is sealed with key "),
        "{message}"
    );
    assert!(t.fake.requests().is_empty());
}

/// Tokens without a subject cannot be told apart: none has a credential of its own and none is
/// offered the page (what one gave would act for all); under `refuse`, nothing is sent.
#[tokio::test]
async fn tokens_without_a_subject_never_share_a_credential() {
    let t = team(WithoutOwn::Refuse).await;
    let nobody = as_subject(datasource_mcp::engine::audit::NO_SUBJECT);
    t.per_user
        .put(
            datasource_mcp::engine::audit::NO_SUBJECT,
            Provider::Bigdata,
            &SecretString::new("planted-S3NT1NEL-7"),
        )
        .await
        .unwrap();
    let (refused, is_error) = t.list(&nobody).await;
    assert!(is_error);
    assert_eq!(refused["error"]["code"], "CREDENTIAL_NEEDED");
    assert_eq!(
        refused["error"]["hint"],
        "the user's own BIGDATA_API_KEY is given on the server's intake page, which cannot be offered for this call (a token without a subject, or no --public-url); nothing was sent"
    );
    assert!(t.fake.requests().is_empty());
}

/// Two replicas on one Redis: a credential given on one replica's page acts for that caller on
/// the other; with Redis stopped, a call is a clear store error and nothing is sent.
#[tokio::test]
async fn a_credential_given_on_one_replica_acts_on_another_and_a_lost_store_sends_nothing() {
    let Some(mut redis) = crate::support::TestRedis::start().await else {
        return;
    };
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/bigdata/contents/v1/connectors",
        Reply::json(200, json!({"results": []})),
    );
    let shared: Arc<dyn Store> = Arc::new(
        datasource_mcp::store::RedisStore::connect(&redis.url)
            .await
            .unwrap(),
    );
    let ((a, _), (b, _)) = (
        replica(&fake, shared.clone(), None),
        replica(&fake, shared, None),
    );
    let op = providers::operation("bigdata_list_connectors").unwrap();
    let carol = as_subject("carol");
    let refused = a.call(op, None, &carol).await;
    let url = link_in(refused.value["error"]["hint"].as_str().unwrap()).unwrap();
    let page = open(&url).await;
    let done = post(
        &url,
        Some(&origin_of(&url)),
        &page.form_token(),
        "carol-redis-S3NT1NEL-8",
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.html);
    let on_b = b.call(op, None, &carol).await;
    assert!(!on_b.is_error, "{}", on_b.value);
    let sent: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| r.header("x-api-key").unwrap_or("(none)").to_string())
        .collect();
    assert_eq!(sent, ["carol-redis-S3NT1NEL-8"]);
    redis.stop();
    let lost = b.call(op, None, &carol).await;
    assert!(lost.is_error);
    assert_eq!(lost.value["error"]["code"], "STORE_UNAVAILABLE");
    assert!(!lost.value.to_string().contains("S3NT1NEL"));
    assert_eq!(fake.requests().len(), 1);
}

/// A replica: an engine with its own intake page and per-user state on `store`. With `page`
/// (the load balancer's address, where its links point), the intake is shared through `store`
/// too (links, values, pending calls); without, the page is its own loopback listener.
fn replica(
    fake: &FakeUpstream,
    store: Arc<dyn Store>,
    page: Option<&str>,
) -> (Engine, Arc<Intake>) {
    let per_user = Arc::new(per_user(WithoutOwn::Refuse, store.clone()));
    let intake = match page {
        Some(page) => {
            let url = url::Url::parse(page).unwrap();
            let intake = Intake::new(IntakeSettings::default(), Serving::Mounted(Some(url)));
            intake.share(store, sealer());
            intake
        }
        None => Intake::new(IntakeSettings::default(), Serving::Loopback),
    };
    intake.keep_personal(per_user.clone());
    let engine = engine(&bigdata_vars(fake), per_user).with_intake(intake.clone());
    (engine, intake)
}

/// Item 2 with replicas: a link offered by replica A is opened and answered on replica B (the
/// page the load balancer sent the browser to), and what was typed serves A's next call: the
/// caller's own credential and a `${secret:NAME}` value alike. The value lies in the shared
/// store sealed; the link works once across replicas; a 2026 `requestState` given by A is taken
/// on B, once.
#[tokio::test]
async fn what_is_typed_on_one_replicas_page_serves_a_call_on_another() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/bigdata/contents/v1/connectors",
        Reply::json(200, json!({"results": []})),
    );
    fake.on(
        "POST",
        "/bigdata/contents/v1/connectors",
        Reply::json(200, json!({"id": "c9", "label": "Nine"})),
    );
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page = format!("http://{}/", listener.local_addr().unwrap());
    let (a, intake_a) = replica(&fake, store.clone(), Some(&page));
    let (b, intake_b) = replica(&fake, store.clone(), Some(&page));
    // Only B serves the page: every link A offers is answered there.
    tokio::spawn(async move { axum::serve(listener, intake_b.clone().routes()).await });
    let carol = as_subject("carol");
    let list = providers::operation("bigdata_list_connectors").unwrap();

    let refused = a.call(list, None, &carol).await;
    assert_eq!(refused.value["error"]["code"], "CREDENTIAL_NEEDED");
    let url = link_in(refused.value["error"]["hint"].as_str().unwrap()).unwrap();
    let opened = open(&url).await;
    assert_eq!(opened.status, 200, "{}", opened.html);
    let done = post(
        &url,
        Some(&origin_of(&url)),
        &opened.form_token(),
        "carol-own-S3NT1NEL-10",
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert!(!a.call(list, None, &carol).await.is_error);

    let create = providers::operation("bigdata_create_connector").unwrap();
    let args = json!({"type": "investment_research", "label": "Nine",
        "config": {"user_id": "carol", "user_password": "${secret:CAROL_PW}"}});
    let args = args.as_object().cloned();
    let asked = a.call(create, args.clone(), &carol).await;
    assert_eq!(
        asked.value["error"]["code"], "SECRET_NEEDED",
        "{}",
        asked.value
    );
    let url = link_in(asked.value["error"]["hint"].as_str().unwrap()).unwrap();
    let opened = open(&url).await;
    assert_eq!(opened.status, 200, "{}", opened.html);
    let typed = "carol-pw-S3NT1NEL-11";
    let form = opened.form_token();
    let done = post(&url, Some(&origin_of(&url)), &form, typed).await;
    assert_eq!(done.status, 200, "{}", done.html);
    // Once across replicas: the same form again is refused.
    assert_eq!(
        post(&url, Some(&origin_of(&url)), &form, "again-S3NT1NEL")
            .await
            .status,
        410
    );
    // Sealed in the store, under a digest: neither the value nor its name in clear.
    let keys = store.keys("intake:value:").await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(!keys[0].contains("CAROL_PW"));
    let record = store.get(&keys[0]).await.unwrap().unwrap();
    let text = String::from_utf8_lossy(&record);
    assert!(
        text.starts_with("s1.") && !text.contains("S3NT1NEL"),
        "{text}"
    );

    let made = a.call(create, args.clone(), &carol).await;
    assert!(!made.is_error, "{}", made.value);
    assert!(!made.value.to_string().contains(typed));
    let sent = fake.requests();
    let post_sent = sent.iter().rfind(|r| r.method == "POST").unwrap();
    assert_eq!(post_sent.json()["config"]["user_password"], typed);
    assert_eq!(post_sent.header("x-api-key"), Some("carol-own-S3NT1NEL-10"));
    // Carol's value is hers: another caller finds none, on any replica.
    let dora = Binding {
        caller: "subject:dora".into(),
        provider: "bigdata".into(),
        hosts: Vec::new(),
    };
    assert!(!intake_a.holds("CAROL_PW", &dora).await);
    assert!(b.per_user().unwrap().list("dora").await.unwrap().is_empty());

    // A pending 2026 call: given by A, taken on B once.
    let binding = Binding {
        caller: "subject:carol".into(),
        provider: "bigdata".into(),
        hosts: Vec::new(),
    };
    let until = std::time::Instant::now() + Duration::from_secs(60);
    let handle = intake_a
        .handle(
            create.name,
            args.as_ref(),
            "CAROL_PW",
            &binding,
            until,
            true,
        )
        .await
        .unwrap();
    // Sealed too: no subject in the store in clear.
    for key in store.keys("intake:handle:").await.unwrap() {
        let record = store.get(&key).await.unwrap().unwrap();
        let text = String::from_utf8_lossy(&record);
        assert!(text.starts_with("s1.") && !text.contains("carol"), "{text}");
    }
    let (_, intake_c) = replica(&fake, store.clone(), Some(&page));
    match intake_c.take(&handle, create.name, args.as_ref()).await {
        datasource_mcp::intake::Resumed::Waiting { name, accepted, .. } => {
            assert_eq!((name.as_str(), accepted), ("CAROL_PW", true));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        intake_a.take(&handle, create.name, args.as_ref()).await,
        datasource_mcp::intake::Resumed::Unknown
    );
}

/// Item 1's "see and remove": the resource gives a person a link to give their own credential
/// (even under `fallback`, where no call refuses them) and, once given, one to remove it; the
/// removal page asks for a yes and no value, works once, and the caller's calls fall back to
/// the service credential again.
#[tokio::test]
async fn a_person_gives_and_removes_their_own_credential_through_the_resources_links() {
    let t = team(WithoutOwn::Fallback).await;
    let erin = as_subject("erin");
    let mine = t.engine.my_credentials(&erin).await.unwrap();
    assert_eq!(mine["credentials"][0]["own"], false);
    assert_eq!(mine["without_own"], "service credential");
    let give = mine["credentials"][0]["give"].as_str().unwrap().to_string();
    let opened = open(&give).await;
    assert!(opened.html.contains("Your own Bigdata.com credential"));
    let done = post(
        &give,
        Some(&origin_of(&give)),
        &opened.form_token(),
        "erin-own-S3NT1NEL-12",
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert!(!t.list(&erin).await.1);

    let mine = t.engine.my_credentials(&erin).await.unwrap();
    assert_eq!(mine["credentials"][0]["own"], true);
    assert!(mine["credentials"][0].get("give").is_none());
    let remove = mine["credentials"][0]["remove"]
        .as_str()
        .unwrap()
        .to_string();
    // Another subject sees their own state only, with their own link.
    let other = t.engine.my_credentials(&as_subject("fred")).await.unwrap();
    assert_eq!(other["credentials"][0]["own"], false);
    assert!(!other.to_string().contains(&remove));

    let opened = open(&remove).await;
    assert_eq!(opened.status, 200);
    assert!(
        opened
            .html
            .contains("Remove your own Bigdata.com credential")
            && !opened.html.contains("type=\"password\""),
        "{}",
        opened.html
    );
    let form = opened.form_token();
    let removed = post(&remove, Some(&origin_of(&remove)), &form, "").await;
    assert_eq!(removed.status, 200, "{}", removed.html);
    assert!(
        removed
            .html
            .contains("no longer keeps your own Bigdata.com credential")
    );
    assert_eq!(
        post(&remove, Some(&origin_of(&remove)), &form, "")
            .await
            .status,
        410
    );
    assert_eq!(t.per_user.list("erin").await.unwrap(), Vec::<&str>::new());
    assert!(!t.list(&erin).await.1);
    assert_eq!(t.keys_sent(), ["erin-own-S3NT1NEL-12", SERVICE_KEY]);
    // Given and removed: audit lines naming the person and the provider, never the value.
    let log = std::fs::read_to_string(&t.audit).unwrap();
    assert!(!log.contains("S3NT1NEL"));
    let changes: Vec<(String, String, String)> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["tool"] == "me/credentials")
        .map(|v| {
            let s = |x: &Value| x.as_str().unwrap().to_string();
            (s(&v["caller"]), s(&v["target"]["change"]), s(&v["outcome"]))
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("erin".into(), "given".into(), "ok".into()),
            ("erin".into(), "removed".into(), "ok".into())
        ]
    );
}

/// A job followed again (a task taken over by another replica) goes on with the credential of
/// the caller who started it: their own, never the service's, and nothing when none is there.
#[tokio::test]
async fn a_job_followed_again_acts_with_the_callers_own_credential() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/pdc/jobs/job-7/status",
        Reply::json(200, json!({"id": "job-7", "status": "COMPLETED"})),
    );
    let vars = env(&[
        ("PDC_BASE_URL", &fake.url("/pdc")),
        ("PDC_ACCESS_TOKEN", "pdc-service-S3NT1NEL-0"),
    ]);
    let per_user = Arc::new(per_user(
        WithoutOwn::Refuse,
        Arc::new(MemoryStore::default()),
    ));
    per_user
        .put(
            "ivy",
            Provider::Pdc,
            &SecretString::new("pdc-ivy-S3NT1NEL-13"),
        )
        .await
        .unwrap();
    let engine = engine(&vars, per_user);
    let op = providers::operation("pdc_ingest_metadata").unwrap();
    let followed = engine
        .resume(op, "job-7", Duration::from_secs(5), &as_subject("ivy"))
        .await;
    assert!(!followed.is_error, "{}", followed.value);
    let refused = engine
        .resume(op, "job-7", Duration::from_secs(5), &as_subject("jon"))
        .await;
    assert_eq!(refused.value["error"]["code"], "CREDENTIAL_NEEDED");
    let sent: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.path,
                r.header("authorization").unwrap_or("(none)")
            )
        })
        .collect();
    assert_eq!(sent, ["/pdc/jobs/job-7/status Bearer pdc-ivy-S3NT1NEL-13"]);
}

/// With Redis stopped, a link another replica offered is neither "unknown" nor silently
/// accepted: the page says the store cannot be reached (503, Retry-After), on GET and POST,
/// keeps nothing, and nothing reaches the vendor.
#[tokio::test]
async fn with_the_store_down_the_page_says_so_and_keeps_nothing() {
    let Some(mut redis) = crate::support::TestRedis::start().await else {
        return;
    };
    let fake = FakeUpstream::start().await;
    let store: Arc<dyn Store> = Arc::new(
        datasource_mcp::store::RedisStore::connect(&redis.url)
            .await
            .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let page = format!("http://{}/", listener.local_addr().unwrap());
    let (a, _) = replica(&fake, store.clone(), Some(&page));
    let (_, intake_b) = replica(&fake, store.clone(), Some(&page));
    tokio::spawn(async move { axum::serve(listener, intake_b.clone().routes()).await });
    // A third replica, which has not seen the link yet.
    let (_, intake_c) = replica(&fake, store, Some(&page));
    let listener_c = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let on_c = listener_c.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener_c, intake_c.clone().routes()).await });
    let list = providers::operation("bigdata_list_connectors").unwrap();
    let refused = a.call(list, None, &as_subject("kim")).await;
    let url = link_in(refused.value["error"]["hint"].as_str().unwrap()).unwrap();
    let form = open(&url).await.form_token();
    redis.stop();
    let host = reqwest::Url::parse(&url).unwrap();
    let url_c = url.replace(
        &format!("{}:{}", host.host_str().unwrap(), host.port().unwrap()),
        &on_c,
    );
    let shown = open(&url_c).await;
    assert_eq!(shown.status, 503, "{}", shown.html);
    assert!(shown.html.contains("cannot reach its shared store"));
    let sent = post(&url, Some(&origin_of(&url)), &form, "kim-key-S3NT1NEL-14").await;
    assert_eq!(sent.status, 503, "{}", sent.html);
    let again = a.call(list, None, &as_subject("kim")).await;
    assert_eq!(again.value["error"]["code"], "STORE_UNAVAILABLE");
    assert!(!again.value.to_string().contains("S3NT1NEL"));
    assert!(fake.requests().is_empty());
}

/// BigID's exchange per person: each person's own user token is exchanged for a session of
/// their own (GET /refresh-access-token, the token in `Authorization`), that session is used
/// for their calls only and kept for their next call; the service's user token is never sent.
#[tokio::test]
async fn each_person_exchanges_their_own_bigid_token_for_a_session_of_their_own() {
    let fake = FakeUpstream::start().await;
    for session in ["sys-alice-S3NT1NEL-s", "sys-bob-S3NT1NEL-s"] {
        fake.once(
            "GET",
            "/api/v1/refresh-access-token",
            Reply::json(200, json!({"success": true, "systemToken": session})),
        );
    }
    fake.on(
        "GET",
        "/api/v1/ds-connections",
        Reply::json(200, json!({"data": {"ds_connections": []}})),
    );
    let vars = env(&[
        ("BIGID_BASE_URL", &fake.url("/api/v1")),
        ("BIGID_USER_TOKEN", "service-user-S3NT1NEL-0"),
    ]);
    let per_user = Arc::new(per_user(
        WithoutOwn::Refuse,
        Arc::new(MemoryStore::default()),
    ));
    for (who, token) in [
        ("alice", "alice-user-S3NT1NEL-a"),
        ("bob", "bob-user-S3NT1NEL-b"),
    ] {
        per_user
            .put(who, Provider::BigId, &SecretString::new(token))
            .await
            .unwrap();
    }
    let engine = engine(&vars, per_user);
    let op = providers::operation("bigid_list_data_sources").unwrap();
    for who in ["alice", "bob", "alice"] {
        let out = engine.call(op, None, &as_subject(who)).await;
        assert!(!out.is_error, "{who}: {}", out.value);
        assert!(!out.value.to_string().contains("S3NT1NEL"));
    }
    let sent: Vec<String> = fake
        .requests()
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r.path,
                r.header("authorization").unwrap_or("(none)")
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            "/api/v1/refresh-access-token alice-user-S3NT1NEL-a",
            "/api/v1/ds-connections sys-alice-S3NT1NEL-s",
            "/api/v1/refresh-access-token bob-user-S3NT1NEL-b",
            "/api/v1/ds-connections sys-bob-S3NT1NEL-s",
            "/api/v1/ds-connections sys-alice-S3NT1NEL-s",
        ]
    );
}

/// A vendor that refuses a person's own key: the hint tells how a person replaces theirs (the
/// resource's links), never to check the server's variables; a refused service key keeps the
/// operator's hint.
#[tokio::test]
async fn a_refused_own_credential_is_said_to_be_the_persons_own() {
    let t = team(WithoutOwn::Fallback).await;
    t.fake.on(
        "GET",
        "/bigdata/contents/v1/connectors",
        Reply::json(401, json!({"detail": "Invalid API key"})),
    );
    t.per_user
        .put(
            "lee",
            Provider::Bigdata,
            &SecretString::new("lee-revoked-S3NT1NEL-15"),
        )
        .await
        .unwrap();
    let (own, is_error) = t.list(&as_subject("lee")).await;
    assert!(is_error);
    assert_eq!(own["error"]["status"], 401, "{own}");
    assert_eq!(
        own["error"]["hint"],
        "Bigdata.com refused the user's own BIGDATA_API_KEY: a person replaces it with the `remove` then the `give` link of the resource datasource-mcp://me/credentials (never in the chat); the server's settings are not the cause"
    );
    assert!(!own.to_string().contains("S3NT1NEL"));
    let (service, _) = t.list(&as_subject("max")).await;
    assert_eq!(service["error"]["status"], 401);
    assert_ne!(service["error"]["hint"], own["error"]["hint"]);
    assert!(
        service["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("BIGDATA_API_KEY"),
        "{service}"
    );
}
