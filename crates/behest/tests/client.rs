//! The Rust client (`crates/behest-client`) against the real binary: mint mode on the
//! project host (`{slug}.localhost`, which the client resolves to loopback) gives tokens
//! that verify against the JWKS and are accepted by the data plane, the cache reuses
//! them, every refusal is a typed error with the server's code and trace id; sign mode
//! with a tenant signing key is accepted for that tenant's project only.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_client::{Behest, Config, Error, MintOptions, Mode};
use behest_testkit::Tests;
use common::{Backend, Server};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

fn user(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": text}]})
}

async fn verify_with_jwks(server: &Server, token: &str) -> Value {
    let jwks = server
        .call("GET", "/.well-known/jwks.json", None, None)
        .await;
    let kid = decode_header(token).unwrap().kid.unwrap();
    let jwk = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the signing kid is published")
        .clone();
    let key =
        DecodingKey::from_rsa_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&["behest"]);
    validation.set_issuer(&["behest"]);
    validation.set_required_spec_claims(&["exp", "nbf", "iat", "aud", "iss"]);
    validation.validate_nbf = true;
    decode::<Value>(token, &key, &validation).unwrap().claims
}

async fn mint_mode_against_the_server(backend: Backend) {
    let server = Server::start(backend).await;
    let account = server.signup("rust-client@example.com").await;
    let project = server.project_with_token(&account, "Rust client").await;

    let minted = server
        .mint_via_client(
            &project.key,
            &project.slug,
            MintOptions::user("rust-user").ttl(900).session("sess-rust"),
        )
        .await;
    assert_eq!((minted.ttl, minted.session_id.as_str()), (900, "sess-rust"));
    let claims = verify_with_jwks(&server, &minted.token).await;
    assert_eq!(claims["uid"], "rust-user");
    assert_eq!(claims["pid"], project.id.as_str());
    assert_eq!(claims["tid"], account.tenant_id.as_str());
    assert_eq!(claims["sid"], "sess-rust");
    assert_eq!(claims["exp"].as_i64().unwrap(), minted.expires_at);
    let chat = server
        .chat(&project.slug, &minted.token, user("from rust"))
        .await;
    assert_eq!(chat.status, 200, "{chat:?}");

    // The cache: the same token until shortly before it expires.
    let client = server.client(&project.key, &project.slug);
    let a = client.token(MintOptions::user("cached")).await.unwrap();
    let b = client.token(MintOptions::user("cached")).await.unwrap();
    assert_eq!(a.token, b.token);

    // Refusals, typed, with the server's code and trace id; never the key.
    let check = |err: Error, status: u16, code: &str| {
        assert_eq!(err.status(), Some(status), "{err:?}");
        assert_eq!(err.code(), code, "{err:?}");
        assert!(err.trace_id().is_some_and(|t| !t.is_empty()), "{err:?}");
        assert!(!format!("{err} {err:?}").contains(&project.key[15..]));
        err
    };
    let err = check(
        client
            .mint(MintOptions::user("u").ttl(30))
            .await
            .unwrap_err(),
        400,
        "validation_error",
    );
    assert!(matches!(err, Error::BadRequest(_)));
    let err = check(
        client
            .mint(MintOptions::user("u").role("admin"))
            .await
            .unwrap_err(),
        403,
        "forbidden",
    );
    assert!(matches!(err, Error::Auth(_)));
    let err = check(
        client.mint(MintOptions::user("admin")).await.unwrap_err(),
        400,
        "validation_error",
    );
    assert!(matches!(err, Error::BadRequest(_)));
    // A key that was revoked.
    let keys = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{}/api-keys", project.id),
            Some(&account.session),
            None,
        )
        .await;
    let key_id = keys.body[0]["id"].as_str().unwrap();
    let revoked = server
        .call(
            "POST",
            &format!("/auth/v1/projects/{}/api-keys/{key_id}/revoke", project.id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let err = check(
        client.mint(MintOptions::user("u")).await.unwrap_err(),
        401,
        "invalid_token",
    );
    assert!(matches!(err, Error::Auth(_)));
    server.stop().await;
}

async fn sign_mode_against_the_server(backend: Backend) {
    let server = Server::start(backend).await;
    let account = server.signup("rust-signer@example.com").await;
    let project = server.project_with_token(&account, "Rust signer").await;
    let (kid, private_key) = server.create_signing_key(&account).await;
    assert!(kid.starts_with("sk_") && private_key.starts_with("behest_pk_"));

    let config = Config::new(&private_key)
        .unwrap()
        .base_url(server.project_host(&project.slug))
        .signing(&kid, &account.tenant_id, &project.id);
    let signer = Behest::new(config).unwrap();
    assert_eq!(signer.mode(), Mode::Sign);
    let minted = signer
        .mint(MintOptions::user("signed-user").tier(1))
        .await
        .unwrap();
    let chat = server
        .chat(&project.slug, &minted.token, user("signed here"))
        .await;
    assert_eq!(chat.status, 200, "{chat:?}");

    // The same key, for a project of another tenant: refused.
    let stranger = server.signup("rust-stranger@example.com").await;
    let theirs = server.project_with_token(&stranger, "Theirs").await;
    let config = Config::new(&private_key)
        .unwrap()
        .signing(&kid, &account.tenant_id, &theirs.id);
    let forged = Behest::new(config)
        .unwrap()
        .mint(MintOptions::user("u"))
        .await
        .unwrap();
    let chat = server
        .chat(&theirs.slug, &forged.token, user("not yours"))
        .await;
    assert!(matches!(chat.status, 401 | 403), "{chat:?}");
    server.stop().await;
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .on_both_backends("rust_client_mint_mode", &[], mint_mode_against_the_server)
        .on_both_backends("rust_client_sign_mode", &[], sign_mode_against_the_server)
        .run()
}
