//! The platform keyring loaded from, rotated in and reloaded from a real SQLite store,
//! with real RSA keys.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use behest_auth::claims::{Claims, AUDIENCE};
use behest_auth::envelope::{Envelope, MasterKey};
use behest_auth::keyring::Keyring;
use behest_control::platform_keys::{load_or_init, reload, rotate, seal_plain_keys};
use behest_store::{PlatformKey, SqliteStore, Store};
use chrono::Duration;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use uuid::Uuid;

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("k.db")).await.unwrap();
    store.migrate().await.unwrap();
    (dir, store)
}

fn envelope() -> Envelope {
    Envelope::new(MasterKey::generate(), Vec::new())
}

fn claims() -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        tid: Uuid::new_v4(),
        pid: Uuid::new_v4(),
        uid: "user-1".into(),
        role: "user".into(),
        scp: vec![],
        iss: "behest".into(),
        aud: AUDIENCE.into(),
        iat: now,
        nbf: now,
        exp: now + 600,
        jti: Uuid::new_v4().to_string(),
        sid: Some("s1".into()),
        tier: None,
    }
}

fn verify_with_jwks(keyring: &Keyring, token: &str) -> Claims {
    let kid = decode_header(token).unwrap().kid.unwrap();
    let jwk = keyring
        .jwks()
        .into_iter()
        .find(|k| k.kid == kid)
        .expect("kid published");
    let key = DecodingKey::from_rsa_components(&jwk.n, &jwk.e).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[AUDIENCE]);
    decode::<Claims>(token, &key, &validation).unwrap().claims
}

#[tokio::test]
async fn first_start_creates_one_key_and_later_starts_reuse_it() {
    let (_dir, store) = store().await;
    let envelope = envelope();
    let first = load_or_init(&store, &envelope).await.unwrap();
    let second = load_or_init(&store, &envelope).await.unwrap();
    assert_eq!(first.signing_kid(), second.signing_kid());
    assert_eq!(store.platform_keys().await.unwrap().len(), 1);
    let jwks = first.jwks();
    assert_eq!(jwks.len(), 1);
    assert_eq!(
        (jwks[0].kty, jwks[0].alg, jwks[0].use_, jwks[0].e.as_str()),
        ("RSA", "RS256", "sig", "AQAB")
    );

    let token = first.sign(&claims()).unwrap();
    let header = decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(verify_with_jwks(&first, &token).uid, "user-1");
}

#[tokio::test]
async fn rotation_keeps_the_old_key_published_until_its_tokens_expire() {
    let (_dir, store) = store().await;
    let envelope = envelope();
    let keyring = load_or_init(&store, &envelope).await.unwrap();
    let old_kid = keyring.signing_kid().unwrap();
    let old_token = keyring.sign(&claims()).unwrap();

    let new_kid = rotate(&store, &envelope).await.unwrap();
    reload(&store, &keyring, &envelope).await.unwrap();
    assert_eq!(keyring.signing_kid(), Some(new_kid.clone()));
    let kids: Vec<String> = keyring.jwks().into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, vec![new_kid.clone(), old_kid.clone()]);
    // A token the old key signed still verifies; new tokens carry the new kid.
    verify_with_jwks(&keyring, &old_token);
    let new_token = keyring.sign(&claims()).unwrap();
    assert_eq!(decode_header(&new_token).unwrap().kid, Some(new_kid));

    // A key retired longer ago than the longest token lifetime is dropped: adding a key
    // dated ten days back retires the active one (`new_kid`) at that date.
    let backdated = PlatformKey {
        kid: "backdated".into(),
        private_key_pem: store.platform_keys().await.unwrap()[1]
            .private_key_pem
            .clone(),
        created_at: behest_store::now() - Duration::days(10),
        retired_at: None,
    };
    store.add_platform_key(&backdated, false).await.unwrap();
    reload(&store, &keyring, &envelope).await.unwrap();
    let kids: Vec<String> = keyring.jwks().into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, vec![old_kid, "backdated".to_owned()]);
    assert!(keyring.decoding_key(&new_token_kid(&new_token)).is_none());
}

#[tokio::test]
async fn private_keys_are_sealed_at_rest_and_plain_ones_are_sealed_at_the_next_start() {
    let (_dir, store) = store().await;
    let envelope = envelope();
    let keyring = load_or_init(&store, &envelope).await.unwrap();
    let stored = store.platform_keys().await.unwrap().remove(0);
    assert!(stored.private_key_pem.starts_with("v1."));
    assert!(!stored.private_key_pem.contains("PRIVATE KEY"));
    // Another master key cannot open it: the store alone does not give the key away.
    assert!(reload(&store, &Keyring::default(), &self::envelope())
        .await
        .is_err());

    // A key an earlier version stored in the clear keeps working and is sealed.
    let plain = behest_auth::keyring::generate_platform_key().await.unwrap();
    assert!(plain.private_key_pem.contains("PRIVATE KEY"));
    store.add_platform_key(&plain, false).await.unwrap();
    let reloaded = load_or_init(&store, &envelope).await.unwrap();
    assert_eq!(reloaded.signing_kid(), Some(plain.kid.clone()));
    for key in store.platform_keys().await.unwrap() {
        assert!(
            key.private_key_pem.starts_with("v1."),
            "{} is in the clear",
            key.kid
        );
    }
    assert_eq!(seal_plain_keys(&store, &envelope).await.unwrap(), 0);
    // Tokens of the first key still verify.
    let token = keyring.sign(&claims()).unwrap();
    verify_with_jwks(&reloaded, &token);
}

fn new_token_kid(token: &str) -> String {
    decode_header(token).unwrap().kid.unwrap()
}
