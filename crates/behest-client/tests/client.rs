//! Sign mode: tokens verify against the public key with the gateway's own rules
//! (crates/behest-gateway/src/verify.rs), claims in the server's order; the cache
//! re-signs near expiry (clock injected); mint mode against a local HTTP server: the
//! request it sends, the answer it reads, every error status typed, no secret in any
//! message. (Mint mode against the real `behest` is crates/behest/tests/client.rs.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use behest_client::{Behest, Config, Error, MintOptions, Mode, Tier};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

const TENANT: &str = "6f9619ff-8b86-4d11-b42d-00c04fc964ff";
const PROJECT: &str = "0b5fd6a1-6c34-4a40-8a3e-3b8d3f1f2e10";

/// (private PKCS#8 PEM, PKCS#1 PEM, public SPKI PEM), one per test binary.
fn key() -> &'static (String, String, String) {
    static KEY: OnceLock<(String, String, String)> = OnceLock::new();
    KEY.get_or_init(|| {
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let pkcs1 = rsa::pkcs1::EncodeRsaPrivateKey::to_pkcs1_pem(&private, LineEnding::LF)
            .unwrap()
            .to_string();
        (
            private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string(),
            pkcs1,
            private
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap(),
        )
    })
}

/// The gateway's validation: RS256 only, aud behest, its accepted issuers, exp/nbf/iat
/// /aud/iss required, 30 s leeway.
fn verify(token: &str) -> Value {
    let mut v = Validation::new(Algorithm::RS256);
    v.algorithms = vec![Algorithm::RS256];
    v.set_audience(&["behest"]);
    v.set_issuer(&["behest", "https://api.behest.ai"]);
    v.set_required_spec_claims(&["exp", "nbf", "iat", "aud", "iss"]);
    v.validate_nbf = true;
    v.leeway = 30;
    let decoding = DecodingKey::from_rsa_pem(key().2.as_bytes()).unwrap();
    jsonwebtoken::decode::<Value>(token, &decoding, &v)
        .unwrap()
        .claims
}

fn raw_part(token: &str, i: usize) -> String {
    use base64::Engine as _;
    let part = token.split('.').nth(i).unwrap();
    String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

fn signer(clock: Arc<AtomicI64>) -> Behest {
    let config = Config::new(&format!("behest_pk_{}", key().0))
        .unwrap()
        .signing("sk_testkey000000000000000001", TENANT, PROJECT);
    let clock: behest_client::Clock = Arc::new(move || clock.load(Ordering::SeqCst));
    Behest::with_parts(config, reqwest::Client::new(), clock).unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn signed_tokens_verify_with_the_server_rules_claims_in_order() {
    let behest = signer(Arc::new(AtomicI64::new(now())));
    assert_eq!(behest.mode(), Mode::Sign);
    let minted = behest
        .mint(
            MintOptions::user("user-123")
                .tier(2)
                .ttl(900)
                .session("sess-1"),
        )
        .await
        .unwrap();
    let claims = verify(&minted.token);
    let header: Value = serde_json::from_str(&raw_part(&minted.token, 0)).unwrap();
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    assert_eq!(header["kid"], "sk_testkey000000000000000001");
    let raw = raw_part(&minted.token, 1);
    let order = [
        "tid", "pid", "uid", "role", "scp", "iss", "aud", "iat", "nbf", "exp", "jti", "sid", "tier",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|k| raw.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{raw}");
    assert_eq!(claims["tid"], TENANT);
    assert_eq!(claims["pid"], PROJECT);
    assert_eq!(claims["uid"], "user-123");
    assert_eq!(claims["role"], "user");
    assert_eq!(claims["scp"], json!([]));
    assert_eq!(claims["iss"], "https://api.behest.ai");
    assert_eq!(claims["aud"], "behest");
    assert_eq!(claims["nbf"], claims["iat"]);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(claims["sid"], "sess-1");
    assert_eq!(claims["tier"], 2);
    assert_eq!(minted.expires_at, claims["exp"].as_i64().unwrap());
    assert_eq!(minted.session_id, "sess-1");
    assert!(!format!("{minted:?} {behest:?}").contains(&minted.token));
    assert!(!format!("{behest:?}").contains("PRIVATE KEY"));

    // A name tier, no tier, a new session each time.
    let a = behest
        .mint(MintOptions::user("u").tier("gold"))
        .await
        .unwrap();
    assert_eq!(verify(&a.token)["tier"], "gold");
    let b = behest.mint(MintOptions::user("u")).await.unwrap();
    assert!(verify(&b.token).get("tier").is_none());
    assert_ne!(a.session_id, b.session_id);

    // PKCS#1 signs too; an expired token does not pass the rules.
    let pkcs1 = Config::new(&format!("behest_pk_{}", key().1))
        .unwrap()
        .signing("sk_x", TENANT, PROJECT);
    verify(
        &Behest::new(pkcs1)
            .unwrap()
            .mint(MintOptions::user("u"))
            .await
            .unwrap()
            .token,
    );
    let old = signer(Arc::new(AtomicI64::new(now() - 7200)));
    let expired = old.mint(MintOptions::user("u").ttl(3600)).await.unwrap();
    let decoding = DecodingKey::from_rsa_pem(key().2.as_bytes()).unwrap();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&["behest"]);
    assert!(jsonwebtoken::decode::<Value>(&expired.token, &decoding, &v).is_err());
    assert!(matches!(
        behest.mint(MintOptions::user("u").ttl(30)).await,
        Err(Error::BadRequest(_))
    ));
}

#[tokio::test]
async fn bad_sign_configuration_is_a_config_error_without_the_key() {
    let missing = Config::new(&format!("behest_pk_{}", key().0)).unwrap();
    let err = Behest::new(missing).unwrap_err();
    assert_eq!(err.code(), "missing_env");
    let broken = format!("behest_pk_{}", &key().0[..300]);
    let err = Behest::new(Config::new(&broken).unwrap().signing("sk_x", "t", "p")).unwrap_err();
    assert_eq!(err.code(), "invalid_signing_key");
    assert!(!err.to_string().contains(&key().0[40..80]));
}

#[tokio::test]
async fn the_cache_reuses_a_token_until_shortly_before_expiry() {
    let clock = Arc::new(AtomicI64::new(1_800_000_000));
    let behest = signer(clock.clone());
    let first = behest.token(MintOptions::user("u").ttl(900)).await.unwrap();
    clock.fetch_add(900 - 61, Ordering::SeqCst);
    assert_eq!(
        behest
            .token(MintOptions::user("u").ttl(900))
            .await
            .unwrap()
            .token,
        first.token
    );
    clock.fetch_add(2, Ordering::SeqCst); // 59 s left
    let second = behest.token(MintOptions::user("u").ttl(900)).await.unwrap();
    assert_ne!(second.token, first.token);
    // Another user is another token; mint() always makes a new one.
    assert_ne!(
        behest
            .token(MintOptions::user("v").ttl(900))
            .await
            .unwrap()
            .token,
        second.token
    );
    assert_ne!(
        behest
            .mint(MintOptions::user("u").ttl(900))
            .await
            .unwrap()
            .token,
        second.token
    );
}

/// A local mint endpoint: answers `answer(request number, body)`; records requests.
async fn mint_server(
    answer: impl Fn(usize, &Value) -> (u16, Vec<(&'static str, String)>, Value) + Send + Sync + 'static,
) -> (String, Arc<Mutex<Vec<(String, Value)>>>) {
    use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let answer = Arc::new(answer);
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/v1/auth/mint",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let answer = answer.clone();
            let record = record.clone();
            let n = count.fetch_add(1, Ordering::SeqCst);
            async move {
                let body: Value = serde_json::from_str(&body).unwrap();
                let auth = headers["authorization"].to_str().unwrap().to_owned();
                record.lock().unwrap().push((auth, body.clone()));
                let (status, extra, json) = answer(n, &body);
                let mut out = HeaderMap::new();
                for (name, value) in extra {
                    out.insert(
                        HeaderName::from_static(name),
                        HeaderValue::from_str(&value).unwrap(),
                    );
                }
                (StatusCode::from_u16(status).unwrap(), out, json.to_string())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://127.0.0.1:{}", addr.port()), seen)
}

const API_KEY: &str = "behest_sk_live_RustClientTestKey000000000000abc123";

#[tokio::test]
async fn mint_mode_sends_what_the_sdks_send_and_reads_the_answer() {
    let (base, seen) = mint_server(|n, body| {
        (
            200,
            vec![],
            json!({"access_token": format!("eyJa.eyJ{n}.sig"), "token_type": "Bearer", "project_id": PROJECT,
                   "expires_in": body["ttl"], "ttl": body["ttl"], "session_id": body["session_id"], "expires_at": 1_900_000_000}),
        )
    })
    .await;
    // The project host of a local server: *.localhost resolves to loopback.
    let port = base.rsplit(':').next().unwrap();
    let config = Config::new(API_KEY)
        .unwrap()
        .base_url(format!("http://amber-fox-042.localhost:{port}"));
    let behest = Behest::new(config).unwrap();
    let minted = behest
        .mint(MintOptions::user("user-1").ttl(900).tier(Tier::Index(2)))
        .await
        .unwrap();
    assert_eq!(minted.token, "eyJa.eyJ0.sig");
    assert_eq!((minted.ttl, minted.expires_at), (900, 1_900_000_000));
    let (auth, body) = seen.lock().unwrap()[0].clone();
    assert_eq!(auth, format!("Bearer {API_KEY}"));
    assert_eq!(body["user_id"], "user-1");
    assert_eq!(body["role"], "user");
    assert_eq!(body["ttl"], 900);
    assert_eq!(body["tier"], 2);
    assert_eq!(body["session_id"], minted.session_id.as_str());
    // The cache: one mint for two calls.
    behest.token(MintOptions::user("c")).await.unwrap();
    behest.token(MintOptions::user("c")).await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn every_error_status_is_typed_and_names_no_secret() {
    let rows: &[(u16, &str)] = &[
        (400, "validation_error"),
        (401, "invalid_token"),
        (403, "forbidden"),
        (402, "quota_exceeded"),
        (429, "rate_limited"),
        (451, "content_blocked"),
        (503, "kill_switch"),
        (502, "upstream_error"),
    ];
    let table = rows.to_vec();
    let (base, _) = mint_server(move |n, _| {
        let (status, code) = table[n];
        (
            status,
            vec![
                ("x-trace-id", format!("trace-{n}")),
                ("retry-after", "5".into()),
            ],
            // A server that echoes the credential back must not get it into our message.
            json!({"error": {"message": format!("no: {code} for {API_KEY} eyJhbGc.eyJzZWNyZXQ.SIG"), "type": "x", "code": code, "param": null}}),
        )
    })
    .await;
    let behest = Behest::new(Config::new(API_KEY).unwrap().base_url(base)).unwrap();
    for (n, (status, code)) in rows.iter().enumerate() {
        let err = behest.mint(MintOptions::user("u")).await.unwrap_err();
        let kind_ok = match status {
            400 => matches!(err, Error::BadRequest(_)),
            401 | 403 => matches!(err, Error::Auth(_)),
            402 => matches!(err, Error::Quota(_)),
            429 => matches!(err, Error::RateLimit(_)) && err.retry_after() == Some(5),
            451 => matches!(err, Error::Content(_)),
            503 => matches!(err, Error::KillSwitch(_)),
            _ => matches!(err, Error::Server(_)),
        };
        assert!(kind_ok, "{status}: {err:?}");
        assert_eq!(err.status(), Some(*status));
        assert_eq!(err.code(), *code);
        assert_eq!(err.trace_id(), Some(format!("trace-{n}").as_str()));
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(&API_KEY[15..]), "{shown}");
        assert!(!shown.contains("SIG"), "{shown}");
    }
    // No server at all: a network error, no key in it.
    let gone = Behest::new(Config::new(API_KEY).unwrap().base_url("http://127.0.0.1:9")).unwrap();
    let err = gone.mint(MintOptions::user("u")).await.unwrap_err();
    assert_eq!(err.code(), "network_error");
    assert!(!format!("{err} {err:?}").contains(&API_KEY[15..]));
}
