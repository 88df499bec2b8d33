//! OAuth over streamable HTTP against a test issuer on loopback: the Protected Resource
//! Metadata, the exact challenges, every way a token is refused, scopes mapped to the
//! read-only or the full tool set, key rotation and the refetch rate limit, and the caller's
//! token never reaching a vendor.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use datasource_mcp::engine::Engine;
use datasource_mcp::surfaces::server::{DataSourceServer, Selection};
use datasource_mcp::transport::http::{Auth, HttpOptions};
use datasource_mcp::transport::oauth::OAuthConfig;
use datasource_mcp::upstream::UpstreamSettings;
use datasource_mcp::{operation::Provider, providers};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

async fn start(
    vars: &HashMap<String, String>,
    issuer: &TestIssuer,
    tweak: impl FnOnce(&mut OAuthConfig),
) -> RunningHttp {
    start_with(vars, issuer, tweak, |_| {}).await
}

/// [`start`], with the HTTP options tweaked too.
async fn start_with(
    vars: &HashMap<String, String>,
    issuer: &TestIssuer,
    tweak: impl FnOnce(&mut OAuthConfig),
    tweak_http: impl FnOnce(&mut HttpOptions),
) -> RunningHttp {
    let configs = providers::configure_all(vars).unwrap();
    let engine = Arc::new(Engine::new(
        configs,
        UpstreamSettings::default(),
        Arc::new(vars.clone()),
    ));
    let server = DataSourceServer::new(engine, &Selection::default());
    let mut cfg = OAuthConfig::new(issuer.url.clone());
    tweak(&mut cfg);
    let mut opts = HttpOptions::new("127.0.0.1:0".parse().unwrap(), Auth::OAuth(Box::new(cfg)));
    tweak_http(&mut opts);
    serve_http(server, opts).await
}

fn bigid_vars(fake: &FakeUpstream) -> HashMap<String, String> {
    env(&[
        ("BIGID_BASE_URL", &fake.url("/api")),
        ("BIGID_ACCESS_TOKEN", "vendor-token"),
    ])
}

/// Claims a good token carries, for `server`, from `issuer`, with `scope`.
fn claims(issuer: &TestIssuer, server: &RunningHttp, scope: &str) -> Value {
    json!({"iss": issuer.url, "aud": server.url, "sub": "alice", "iat": now(),
        "exp": now() + 300, "scope": scope})
}

fn list_tools() -> Value {
    json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
}

fn call(name: &str, args: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": name, "arguments": args}})
}

/// A raw MCP POST (2025-era headers), with `token` as the bearer token if given.
async fn post(server: &RunningHttp, token: Option<&str>, body: &Value) -> reqwest::Response {
    let mut req = http()
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string());
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    req.send().await.unwrap()
}

fn www_authenticate(r: &reqwest::Response) -> String {
    r.headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The challenge for a refused token.
fn invalid(server: &RunningHttp, why: &str) -> String {
    format!(
        "Bearer error=\"invalid_token\", error_description=\"{why}\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
        server.base
    )
}

/// The tool names in a `tools/list` answer.
fn names(body: &Value) -> Vec<String> {
    let mut names: Vec<String> = body["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

fn sorted(names: Vec<&str>) -> Vec<String> {
    let mut names: Vec<String> = names.into_iter().map(str::to_string).collect();
    names.sort();
    names
}

#[tokio::test]
async fn the_protected_resource_metadata_names_the_resource_and_the_issuer() {
    let key = SigningKey::rsa("rsa-1");
    let issuer = TestIssuer::start(&[&key]).await;
    let server = start(&HashMap::new(), &issuer, |_| {}).await;
    let expected = json!({
        "resource": server.url,
        "authorization_servers": [issuer.url],
        "scopes_supported": ["datasource:read", "datasource:write"],
        "bearer_methods_supported": ["header"],
    });
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        // Unauthenticated.
        let r = http()
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(
            r.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        assert_eq!(r.json::<Value>().await.unwrap(), expected, "{path}");
        // Addressed to another host, or asked by another site's page: refused, as everywhere.
        for (header, value, message) in [
            (
                "host",
                "evil.example",
                "Forbidden: Host header is not allowed",
            ),
            (
                "origin",
                "http://evil.example",
                "Forbidden: Origin header is not allowed",
            ),
            ("origin", "null", "Forbidden: Origin header is not allowed"),
        ] {
            let r = http()
                .get(format!("{}{path}", server.base))
                .header(header, value)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{path} with {header}: {value}");
            assert_eq!(
                r.json::<Value>().await.unwrap(),
                json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600, "message": message}})
            );
        }
    }
}

#[tokio::test]
async fn a_request_without_a_token_gets_the_exact_challenge() {
    let key = SigningKey::rsa("rsa-1");
    let issuer = TestIssuer::start(&[&key]).await;
    let server = start(&HashMap::new(), &issuer, |_| {}).await;
    for token in [None, Some("")] {
        let r = post(&server, token, &list_tools()).await;
        assert_eq!(r.status(), 401);
        assert_eq!(
            www_authenticate(&r),
            format!(
                "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
                server.base
            )
        );
    }
    // Another scheme is no bearer token either.
    let r = http()
        .post(&server.url)
        .header("authorization", "Basic YWxpY2U6c2VjcmV0")
        .body(list_tools().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(!www_authenticate(&r).contains("error="));
}

#[tokio::test]
async fn every_refused_token_gets_invalid_token_and_why() {
    let key = SigningKey::rsa("rsa-1");
    let issuer = TestIssuer::start(&[&key]).await;
    let server = start(&HashMap::new(), &issuer, |_| {}).await;
    let good = claims(&issuer, &server, "datasource:write");
    let with = |patch: Value| {
        let mut c = good.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    };
    let public_key_as_secret = key.jwk["n"].as_str().unwrap().as_bytes().to_vec();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            key.sign(&with(json!({"exp": now() - 3600}))),
            "the token has expired",
        ),
        (
            "not yet valid",
            key.sign(&with(json!({"nbf": now() + 3600}))),
            "the token is not valid yet (nbf)",
        ),
        (
            "wrong audience",
            key.sign(&with(json!({"aud": "https://other.example/mcp"}))),
            "the token is not for this resource (aud)",
        ),
        (
            "no audience",
            key.sign(&with(json!({"aud": null}))),
            "the token lacks a required claim (exp, iss, aud)",
        ),
        (
            "wrong issuer",
            key.sign(&with(json!({"iss": "https://evil.example"}))),
            "the token is from another issuer (iss)",
        ),
        (
            "no expiry",
            key.sign(&with(json!({"exp": null}))),
            "the token lacks a required claim (exp, iss, aud)",
        ),
        (
            "a time as a string",
            key.sign(&with(json!({"nbf": "later"}))),
            "the token's claims are malformed",
        ),
        (
            "an expiry as a string",
            key.sign(&with(json!({"exp": (now() + 300).to_string()}))),
            "the token's claims are malformed",
        ),
        (
            "unknown key",
            key.with_kid("not-published").sign(&good),
            "the token's signing key is not the issuer's",
        ),
        (
            "forged: the issuer's kid, another key",
            SigningKey::es256("rsa-1").sign(&good),
            "the token's signing key is not the issuer's",
        ),
        (
            "alg none",
            unsigned_token(&good),
            "the token is not a signed JWT",
        ),
        (
            "HS256 keyed with the public key",
            hmac_token(&good, &public_key_as_secret),
            "the token's signing algorithm is refused",
        ),
        (
            "not a JWT",
            "opaque-token-123".to_string(),
            "the token is not a signed JWT",
        ),
        (
            "claims changed after signing",
            {
                // Another subject's claims under the original signature.
                let signed = key.sign(&good);
                let other = key.sign(&with(json!({"sub": "mallory"})));
                let parts: Vec<&str> = signed.split('.').collect();
                let claims = other.split('.').nth(1).unwrap();
                format!("{}.{claims}.{}", parts[0], parts[2])
            },
            "the token's signature does not verify",
        ),
    ];
    for (what, token, why) in cases {
        let r = post(&server, Some(&token), &list_tools()).await;
        assert_eq!(r.status(), 401, "{what}");
        assert_eq!(www_authenticate(&r), invalid(&server, why), "{what}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body["error"]["message"],
            format!("invalid bearer token: {why}")
        );
    }
    // The good token passes.
    let r = post(&server, Some(&key.sign(&good)), &list_tools()).await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_token_with_neither_scope_is_forbidden() {
    let key = SigningKey::rsa("rsa-1");
    let issuer = TestIssuer::start(&[&key]).await;
    let server = start(&HashMap::new(), &issuer, |_| {}).await;
    let token = key.sign(&claims(&issuer, &server, "openid profile"));
    let r = post(&server, Some(&token), &list_tools()).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        www_authenticate(&r),
        format!(
            "Bearer error=\"insufficient_scope\", scope=\"datasource:read\", error_description=\"the token grants neither the read nor the write scope\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            server.base
        )
    );
}

#[tokio::test]
async fn the_read_scope_lists_and_calls_only_tools_that_change_nothing() {
    let fake = FakeUpstream::start().await;
    fake.on(
        "GET",
        "/api/ds-connections",
        Reply::json(200, json!({"data": {"ds_connections": []}})),
    );
    let key = SigningKey::rsa("rsa-1");
    let issuer = TestIssuer::start(&[&key]).await;
    let server = start(&bigid_vars(&fake), &issuer, |_| {}).await;
    let token = key.sign(&claims(&issuer, &server, "openid datasource:read"));

    // Through the rmcp HTTP client.
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(server.url.clone())
            .auth_header(token.clone()),
    );
    let client = ().serve(transport).await.unwrap();
    let mut listed: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .iter()
        .map(|t| t.name.to_string())
        .collect();
    listed.sort();
    let read_only = tool_names(|op| offered_with_only(Provider::BigId)(op) && op.hints.read_only);
    assert_eq!(listed, sorted(read_only));
    let result = client
        .call_tool(CallToolRequestParams::new("bigid_list_data_sources"))
        .await
        .unwrap();
    assert_eq!(result.structured_content, Some(json!({"items": []})));
    client.cancel().await.unwrap();

    // A tool that changes something: 403, naming the write scope, so the client can step up.
    for args in [
        json!({"name": "Orders"}),
        json!({"name": "Orders", "dry_run": true}),
    ] {
        let r = post(
            &server,
            Some(&token),
            &call("bigid_delete_data_source", args),
        )
        .await;
        assert_eq!(r.status(), 403);
        assert_eq!(
            www_authenticate(&r),
            format!(
                "Bearer error=\"insufficient_scope\", scope=\"datasource:write\", error_description=\"this tool changes data and needs the write scope\", resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
                server.base
            )
        );
    }
    // Nothing reached the vendor but the list, with the server's own credential.
    let seen = fake.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    for r in &seen {
        assert_eq!(r.header("authorization"), Some("vendor-token"));
        assert!(!format!("{r:?}").contains(&token), "{r:?}");
    }
}

#[tokio::test]
async fn the_write_scope_reaches_every_tool() {
    let fake = FakeUpstream::start().await;
    let key = SigningKey::es256("ec-1");
    let issuer = TestIssuer::start(&[&key]).await;
    // The JWKS URL configured rather than discovered.
    let jwks = format!("{}/jwks", issuer.url);
    let server = start(&bigid_vars(&fake), &issuer, |c| {
        c.jwks_url = Some(jwks.parse().unwrap())
    })
    .await;
    // `scp` as a list, as some issuers write it.
    let mut c = claims(&issuer, &server, "");
    c.as_object_mut().unwrap().remove("scope");
    c["scp"] = json!(["datasource:write"]);
    let token = key.sign(&c);
    let r = post(&server, Some(&token), &list_tools()).await;
    assert_eq!(r.status(), 200);
    let all = tool_names(offered_with_only(Provider::BigId));
    assert_eq!(names(&r.json().await.unwrap()), sorted(all));
    let r = post(
        &server,
        Some(&token),
        &call(
            "bigid_delete_data_source",
            json!({"name": "Orders", "dry_run": true}),
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    let result = &body["result"];
    assert_ne!(result["isError"], true, "{body}");
    assert_eq!(result["structuredContent"]["dry_run"], true, "{body}");
    for r in fake.requests() {
        assert!(!format!("{r:?}").contains(&token), "{r:?}");
    }
}

#[tokio::test]
async fn rotated_keys_are_fetched_again_and_withdrawn_ones_refused() {
    let old = SigningKey::rsa("rsa-1");
    let new = SigningKey::es256("ec-2");
    let issuer = TestIssuer::start(&[&old]).await;
    let server = start(&HashMap::new(), &issuer, |c| c.min_refetch = Duration::ZERO).await;
    let good = claims(&issuer, &server, "datasource:read");
    let r = post(&server, Some(&old.sign(&good)), &list_tools()).await;
    assert_eq!(r.status(), 200);
    let fetched = issuer.jwks_fetches();
    assert_eq!(fetched, 1, "fetched once, then cached");
    let r = post(&server, Some(&old.sign(&good)), &list_tools()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(issuer.jwks_fetches(), 1, "cached");

    issuer.publish(&[&new]);
    let r = post(&server, Some(&new.sign(&good)), &list_tools()).await;
    assert_eq!(r.status(), 200, "the new kid is accepted after a refetch");
    assert_eq!(issuer.jwks_fetches(), 2);
    let r = post(&server, Some(&old.sign(&good)), &list_tools()).await;
    assert_eq!(r.status(), 401, "the withdrawn key is gone");
    assert_eq!(
        www_authenticate(&r),
        invalid(&server, "the token's signing key is not the issuer's")
    );
    assert_eq!(
        issuer.jwks_fetches(),
        3,
        "refetched for the unknown kid, still unknown"
    );
}

#[tokio::test]
async fn an_unknown_key_refetches_at_most_once_per_interval() {
    let key = SigningKey::rsa("rsa-1");
    let rotated = SigningKey::es256("ec-2");
    let issuer = TestIssuer::start(&[&key]).await;
    let server = start(&HashMap::new(), &issuer, |c| {
        c.min_refetch = Duration::from_secs(3600)
    })
    .await;
    let good = claims(&issuer, &server, "datasource:read");
    let r = post(&server, Some(&key.sign(&good)), &list_tools()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(issuer.jwks_fetches(), 1);
    // A flood of unknown kids costs the issuer nothing more within the interval.
    issuer.publish(&[&key, &rotated]);
    for i in 0..5 {
        let token = key.with_kid(&format!("made-up-{i}")).sign(&good);
        let r = post(&server, Some(&token), &list_tools()).await;
        assert_eq!(r.status(), 401);
    }
    let r = post(&server, Some(&rotated.sign(&good)), &list_tools()).await;
    assert_eq!(r.status(), 401, "not fetched again within the interval");
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn an_unreachable_issuer_is_503_not_a_refused_token() {
    let key = SigningKey::rsa("rsa-1");
    let issuer = TestIssuer::start(&[&key]).await;
    let url = issuer.url.clone();
    drop(issuer);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let server = start(&HashMap::new(), &TestIssuer::start(&[]).await, |c| {
        c.issuer = url.clone();
        c.min_refetch = Duration::ZERO;
    })
    .await;
    let token = key.sign(&json!({"iss": url, "aud": server.url, "exp": now() + 300,
        "scope": "datasource:read"}));
    let r = post(&server, Some(&token), &list_tools()).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
}

/// Tokens naming made-up keys while the issuer's JWKS is slow: they wait for the one fetch
/// without holding a request slot, at most 8 of them (the rest get 503 at once), so a valid
/// caller is served at once. (Before, they took every slot and valid callers got 503.)
#[tokio::test]
async fn made_up_keys_while_the_issuer_is_slow_do_not_take_the_request_slots() {
    let key = SigningKey::rsa("rsa-1");
    let issuer = TestIssuer::start(&[&key]).await;
    let server = start_with(
        &HashMap::new(),
        &issuer,
        |c| c.min_refetch = Duration::from_secs(1),
        |o| {
            o.max_in_flight = 4;
            o.queue_timeout = Duration::from_millis(500);
        },
    )
    .await;
    let good = claims(&issuer, &server, "datasource:read");
    let valid = key.sign(&good);
    assert_eq!(
        post(&server, Some(&valid), &list_tools()).await.status(),
        200
    );
    assert_eq!(issuer.jwks_fetches(), 1);
    // Past the refetch interval, with a JWKS that takes 3 s.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    issuer.slow(Duration::from_secs(3));
    let client = http();
    let made_up: Vec<_> = (0..30)
        .map(|i| {
            let token = key.with_kid(&format!("made-up-{i}")).sign(&good);
            let request = client
                .post(&server.url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-11-25")
                .header("authorization", format!("Bearer {token}"))
                .body(list_tools().to_string());
            tokio::spawn(async move {
                let r = request.send().await.unwrap();
                let status = r.status().as_u16();
                let www = www_authenticate(&r);
                let retry = r.headers().get("retry-after").cloned();
                (status, www, retry, r.json::<Value>().await.unwrap())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    let r = post(&server, Some(&valid), &list_tools()).await;
    let took = started.elapsed();
    assert_eq!(r.status(), 200, "a valid caller is served");
    assert!(took < Duration::from_millis(1000), "at once: {took:?}");
    let (mut refused, mut busy) = (0, 0);
    for answer in made_up {
        let (status, www, retry, body) = answer.await.unwrap();
        match status {
            401 => {
                refused += 1;
                assert_eq!(
                    www,
                    invalid(&server, "the token's signing key is not the issuer's")
                );
            }
            503 => {
                busy += 1;
                assert_eq!(retry.unwrap(), "1");
                assert_eq!(
                    body,
                    json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600,
                        "message": "too many requests wait for the authorization server's keys: try again shortly"}})
                );
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!((refused, busy), (8, 22), "8 waited for the one fetch");
    assert_eq!(issuer.jwks_fetches(), 2, "one fetch for all of them");
}

/// A fetch that succeeds with no usable key empties the cache: every key is revoked. (Before,
/// an empty set was taken for a failed fetch and the old keys stayed.)
#[tokio::test]
async fn a_key_set_emptied_by_the_issuer_revokes_every_key() {
    let key = SigningKey::rsa("rsa-1");
    let issuer = TestIssuer::start(&[&key]).await;
    // Every request finds the keys due for a refresh, and may fetch.
    let server = start(&HashMap::new(), &issuer, |c| {
        c.min_refetch = Duration::ZERO;
        c.max_key_age = Duration::ZERO;
    })
    .await;
    let token = key.sign(&claims(&issuer, &server, "datasource:read"));
    assert_eq!(
        post(&server, Some(&token), &list_tools()).await.status(),
        200
    );
    issuer.publish(&[]);
    let r = post(&server, Some(&token), &list_tools()).await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        www_authenticate(&r),
        invalid(&server, "the token's signing key is not the issuer's")
    );
    issuer.publish(&[&key]);
    assert_eq!(
        post(&server, Some(&token), &list_tools()).await.status(),
        200
    );
}

/// Keys older than their lifetime are not used when fetching them again fails: 503, as with
/// no keys at all. (Before, a failing issuer kept the last keys working for ever.)
#[tokio::test]
async fn keys_past_their_lifetime_are_not_used_when_the_issuer_fails() {
    let key = SigningKey::rsa("rsa-1");
    let issuer = TestIssuer::start(&[&key]).await;
    let server = start(&HashMap::new(), &issuer, |c| {
        c.min_refetch = Duration::ZERO;
        c.key_lifetime = Duration::from_secs(1);
    })
    .await;
    let token = key.sign(&claims(&issuer, &server, "datasource:read"));
    assert_eq!(
        post(&server, Some(&token), &list_tools()).await.status(),
        200
    );
    issuer.failing(true);
    assert_eq!(
        post(&server, Some(&token), &list_tools()).await.status(),
        200,
        "within their lifetime the cached keys serve"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = post(&server, Some(&token), &list_tools()).await;
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "5");
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32600,
            "message": "the authorization server's keys are unavailable: try again shortly"}})
    );
    issuer.failing(false);
    assert_eq!(
        post(&server, Some(&token), &list_tools()).await.status(),
        200
    );
}

#[test]
fn the_binary_refuses_a_static_token_beside_oauth() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_datasource-mcp"))
        .args(["--transport", "http", "--listen", "127.0.0.1:0"])
        .env("DATASOURCE_MCP_HTTP_TOKEN", "a-static-token-0123456789")
        .env("DATASOURCE_MCP_OAUTH_ISSUER", "https://auth.example.com")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "DATASOURCE_MCP_HTTP_TOKEN and DATASOURCE_MCP_OAUTH_ISSUER are both set: choose one"
        ),
        "{stderr}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_datasource-mcp"))
        .args(["--transport", "http", "--listen", "0.0.0.0:0"])
        .env_remove("DATASOURCE_MCP_HTTP_TOKEN")
        .env("DATASOURCE_MCP_OAUTH_ISSUER", "http://auth.example.com")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("http:// on a non-loopback host"),
        "{stderr}"
    );
}

/// A server taking OAuth tokens signed by `kid` (ES256), BigID on a fake vendor, its audit log
/// in a fresh file.
async fn audited_server(
    kid: &str,
) -> (
    FakeUpstream,
    SigningKey,
    TestIssuer,
    RunningHttp,
    std::path::PathBuf,
) {
    use datasource_mcp::engine::{EngineSettings, audit::AuditLog};
    let fake = FakeUpstream::start().await;
    let key = SigningKey::es256(kid);
    let issuer = TestIssuer::start(&[&key]).await;
    let path = std::env::temp_dir().join(format!(
        "datasource-mcp-audit-{kid}-{}.jsonl",
        datasource_mcp::secret::random_token("")
    ));
    let vars = bigid_vars(&fake);
    let settings = EngineSettings {
        audit: Some(Arc::new(AuditLog::open(path.to_str().unwrap()).unwrap())),
        ..EngineSettings::from(UpstreamSettings::default())
    };
    let engine = Arc::new(Engine::new(
        providers::configure_all(&vars).unwrap(),
        settings,
        Arc::new(vars.clone()),
    ));
    let server = DataSourceServer::new(engine, &Selection::default());
    let opts = HttpOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        Auth::OAuth(Box::new(OAuthConfig::new(issuer.url.clone()))),
    );
    (fake, key, issuer, serve_http(server, opts).await, path)
}

/// The audit log names a token's caller by its subject (`sub`), never by its token.
#[tokio::test]
async fn the_audit_log_names_the_tokens_subject() {
    let (_fake, key, issuer, server, path) = audited_server("ec-audit").await;
    let token = key.sign(&claims(&issuer, &server, "datasource:write"));
    let r = post(
        &server,
        Some(&token),
        &call(
            "bigid_delete_data_source",
            json!({"name": "Orders", "dry_run": true}),
        ),
    )
    .await;
    assert_eq!(r.status(), 200);
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["caller"], "alice");
    assert_eq!(lines[0]["tool"], "bigid_delete_data_source");
    assert_eq!(lines[0]["acting"], "service");
    assert!(!text.contains(&token));
}

/// A write refused for want of the write scope is an audit line too, naming who tried; the
/// vendor hears nothing.
#[tokio::test]
async fn a_write_refused_for_its_scope_is_an_audit_line() {
    let (fake, key, issuer, server, path) = audited_server("ec-audit-scope").await;
    let token = key.sign(&claims(&issuer, &server, "datasource:read"));
    let r = post(
        &server,
        Some(&token),
        &call("bigid_delete_data_source", json!({"name": "Orders"})),
    )
    .await;
    assert_eq!(r.status(), 403);
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(
        (
            &lines[0]["caller"],
            &lines[0]["tool"],
            &lines[0]["outcome"],
            &lines[0]["acting"]
        ),
        (
            &json!("alice"),
            &json!("bigid_delete_data_source"),
            &json!("INSUFFICIENT_SCOPE"),
            &json!("none")
        )
    );
    assert!(fake.requests().is_empty());
    assert!(!text.contains(&token));
}

/// With per-user credentials on, `datasource-mcp://me/credentials` lists the providers the
/// token's subject gave their own credential for; another subject sees only theirs.
#[tokio::test]
async fn a_caller_reads_which_providers_they_have_their_own_credential_for() {
    use datasource_mcp::engine::credentials::{PerUser, WithoutOwn};
    use datasource_mcp::store::sealed::Sealer;
    let fake = FakeUpstream::start().await;
    let key = SigningKey::es256("ec-mine");
    let issuer = TestIssuer::start(&[&key]).await;
    let vars = bigid_vars(&fake);
    let per_user = Arc::new(PerUser::new(
        WithoutOwn::Refuse,
        Arc::new(datasource_mcp::store::MemoryStore::default()),
        Arc::new(Sealer::default()),
        std::time::Duration::from_secs(60),
    ));
    per_user
        .put(
            "alice",
            datasource_mcp::operation::Provider::BigId,
            &datasource_mcp::secret::SecretString::new("alice-own-S3NT1NEL"),
        )
        .await
        .unwrap();
    let engine = Arc::new(
        Engine::new(
            providers::configure_all(&vars).unwrap(),
            UpstreamSettings::default(),
            Arc::new(vars.clone()),
        )
        .with_per_user(per_user),
    );
    let server = DataSourceServer::new(engine, &Selection::default());
    let opts = HttpOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        Auth::OAuth(Box::new(OAuthConfig::new(issuer.url.clone()))),
    );
    let server = serve_http(server, opts).await;
    let read = json!({"jsonrpc": "2.0", "id": 4, "method": "resources/read",
        "params": {"uri": "datasource-mcp://me/credentials"}});
    let mut seen = Vec::new();
    for sub in ["alice", "bob"] {
        let mut c = claims(&issuer, &server, "datasource:read");
        c["sub"] = json!(sub);
        let r = post(&server, Some(&key.sign(&c)), &read).await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        let text = body["result"]["contents"][0]["text"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(!text.contains("S3NT1NEL"));
        let listed: Value = serde_json::from_str(&text).unwrap();
        seen.push((listed["credentials"].clone(), listed["without_own"].clone()));
    }
    // No intake page here: no link to give or remove one.
    assert_eq!(
        seen,
        [
            (
                json!([{"provider": "bigid", "own": true}]),
                json!("refused")
            ),
            (
                json!([{"provider": "bigid", "own": false}]),
                json!("refused")
            )
        ]
    );
}

/// `--per-user-credentials` starts only with OAuth (callers are told apart by their token's
/// subject) and with a usable sealing key when one is given; the key is never shown.
#[test]
fn the_binary_refuses_per_user_credentials_without_oauth_or_with_a_bad_key() {
    let run = |extra: &[&str], key: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_datasource-mcp"));
        cmd.args([
            "--sandbox",
            "--transport",
            "http",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(extra)
        .env("DATASOURCE_MCP_HTTP_TOKEN", "a-static-token-0123456789")
        .env_remove("DATASOURCE_MCP_OAUTH_ISSUER")
        .env_remove("DATASOURCE_MCP_STORE_KEY");
        if let Some(key) = key {
            cmd.env("DATASOURCE_MCP_STORE_KEY", key);
        }
        let out = cmd.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, stderr) = run(&["--per-user-credentials"], None);
    assert!(!ok);
    assert!(
        stderr.contains("datasource-mcp: --per-user-credentials needs OAuth (DATASOURCE_MCP_OAUTH_ISSUER): users are told apart by their token's subject"),
        "{stderr}"
    );
    let (ok, stderr) = run(&["--per-user-credentials", "fallback"], Some("c2hvcnQ="));
    assert!(!ok);
    assert!(
        stderr.contains(
            "DATASOURCE_MCP_STORE_KEY is 5 bytes; it must be 32 (e.g. `openssl rand -base64 32`)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("c2hvcnQ="), "{stderr}");
    let (ok, stderr) = run(&["--per-user-credentials", "sometimes"], None);
    assert!(!ok);
    assert!(
        stderr.contains("[possible values: refuse, fallback, read-only]"),
        "{stderr}"
    );
}
