//! A test OAuth authorization server on loopback: its RFC 8414 metadata and a JWKS that a
//! test can change (key rotation), slow down or fail, with a count of JWKS fetches; signing keys (RSA from the
//! committed test key, ES256 generated per test) that mint tokens.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};

/// A signing key and its public JWK.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: EncodingKey,
    pub jwk: Value,
}

impl SigningKey {
    /// The committed 2048-bit test RSA key (PKCS#1), for RS256.
    pub fn rsa(kid: &str) -> Self {
        let pem = include_str!("../../fixtures/oauth/rsa-test-key.pem");
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = STANDARD.decode(b64).unwrap();
        let pair = RsaKeyPair::from_der(&der).unwrap();
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
        Self {
            kid: kid.into(),
            alg: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(&der),
            jwk: json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e)}),
        }
    }

    /// A fresh P-256 key, for ES256.
    pub fn es256(kid: &str) -> Self {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref(); // 0x04 || x || y
        Self {
            kid: kid.into(),
            alg: Algorithm::ES256,
            encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
            jwk: json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])}),
        }
    }

    /// A JWT with these claims, signed with this key (its `kid` in the header).
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }

    /// The same key under another `kid` (a token naming a key the issuer does not publish).
    pub fn with_kid(&self, kid: &str) -> Self {
        let mut key = self.clone();
        key.kid = kid.into();
        key.jwk["kid"] = json!(kid);
        key
    }
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An unsigned token (`alg: none`) with these claims.
pub fn unsigned_token(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{body}.")
}

/// An HS256 token whose secret is `secret`.
pub fn hmac_token(claims: &Value, secret: &[u8]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

struct State {
    issuer: String,
    jwks: Mutex<Value>,
    fetches: AtomicUsize,
    /// How long the JWKS takes to answer.
    delay: Mutex<std::time::Duration>,
    /// The JWKS answers 503.
    failing: AtomicBool,
}

/// The issuer on 127.0.0.1:<ephemeral>, stopped when dropped.
pub struct TestIssuer {
    pub url: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestIssuer {
    /// Publishes `keys` at `/jwks`, named by its metadata at
    /// `/.well-known/oauth-authorization-server` (RFC 8414).
    pub async fn start(keys: &[&SigningKey]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State {
            issuer: url.clone(),
            jwks: Mutex::new(Value::Null),
            fetches: AtomicUsize::new(0),
            delay: Mutex::new(std::time::Duration::ZERO),
            failing: AtomicBool::new(false),
        });
        let metadata = {
            let state = state.clone();
            move || async move {
                axum::Json(json!({
                    "issuer": state.issuer,
                    "jwks_uri": format!("{}/jwks", state.issuer),
                    "authorization_endpoint": format!("{}/authorize", state.issuer),
                    "token_endpoint": format!("{}/token", state.issuer),
                    "response_types_supported": ["code"],
                }))
            }
        };
        let jwks = {
            let state = state.clone();
            move || async move {
                state.fetches.fetch_add(1, Ordering::SeqCst);
                let delay = *state.delay.lock().unwrap();
                tokio::time::sleep(delay).await;
                if state.failing.load(Ordering::SeqCst) {
                    return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
                axum::Json(state.jwks.lock().unwrap().clone()).into_response()
            }
        };
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route("/jwks", get(jwks));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let issuer = Self { url, state, task };
        issuer.publish(keys);
        issuer
    }

    /// Replaces the published keys (rotation).
    pub fn publish(&self, keys: &[&SigningKey]) {
        let keys: Vec<Value> = keys.iter().map(|k| k.jwk.clone()).collect();
        *self.state.jwks.lock().unwrap() = json!({ "keys": keys });
    }

    /// The JWKS takes `delay` to answer from now on.
    pub fn slow(&self, delay: std::time::Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }

    /// The JWKS answers 503 (true) or its keys (false) from now on.
    pub fn failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }
}
