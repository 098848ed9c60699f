//! The quickstart's first half as a new user does it, over HTTP against the real binary:
//! signup → project → API key → mint, then the minted JWT checked against the JWKS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_testkit::Tests;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{Backend, Server};
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};

async fn signup_project_key_mint(backend: Backend) {
    let server = Server::start(backend).await;
    let account = server.signup("ada@example.com").await;

    let me = server
        .call("GET", "/auth/v1/me", Some(&account.session), None)
        .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["user"]["email"], "ada@example.com");
    assert_eq!(me.body["tenants"][0]["id"], account.tenant_id.as_str());
    assert_eq!(me.body["tenants"][0]["plan"], "free");
    assert_eq!(me.body["tenants"][0]["role"], "owner");

    let project = server.create_project(&account, "Support Chatbot").await;
    let slug = project["slug"].as_str().unwrap().to_owned();
    let project_id = project["id"].as_str().unwrap().to_owned();
    let parts: Vec<&str> = slug.split('-').collect();
    assert_eq!(parts.len(), 3, "{slug}");
    assert!(
        parts[2].len() == 3 && parts[2].bytes().all(|b| b.is_ascii_digit()),
        "{slug}"
    );
    assert_eq!(project["dns_status"], "PENDING");
    assert_eq!(project["fqdn_prod"], format!("{slug}.localhost"));
    assert_eq!(project["fqdn_dev"], format!("{slug}.dev.localhost"));
    assert_eq!(project["tenant_id"], account.tenant_id.as_str());

    let provisioning = server.wait_dns(&account, &project_id, "READY").await;
    assert_eq!(provisioning["dns_last_error"], Value::Null);
    assert_eq!(provisioning["slug"], slug.as_str());
    assert!(provisioning["dns_updated_at"].is_string());

    let listed = server
        .call(
            "GET",
            &format!("/auth/v1/tenants/{}/projects", account.tenant_id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_eq!(listed.body[0]["status"], "active");
    assert_eq!(listed.body[0]["dns_status"], "READY");

    let created = server
        .call(
            "POST",
            &format!("/auth/v1/projects/{project_id}/api-keys"),
            Some(&account.session),
            Some(json!({"name": "production"})),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.body["message"],
        "Store this key securely. It will not be shown again."
    );
    assert_eq!(created.body["project_id"], project_id.as_str());
    let key = created.str("api_key");
    assert!(key.starts_with("behest_sk_live_"));
    let keys = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{project_id}/api-keys"),
            Some(&account.session),
            None,
        )
        .await;
    let listed_key = &keys.body[0];
    assert_eq!(listed_key["name"], "production");
    assert_eq!(listed_key["role"], "user");
    assert!(listed_key["createdAt"].is_string());
    assert_eq!(listed_key["lastUsedAt"], Value::Null, "not used yet");
    let prefix = listed_key["prefix"].as_str().unwrap();
    assert_eq!(prefix.chars().count(), 9);
    assert!(prefix.ends_with('…'));
    assert!(
        !keys.text.contains(&key),
        "the plaintext is shown once only"
    );

    // Mint on the project host, through the /p/ prefix, and on the API host.
    let body = json!({"user_id": "user-123", "ttl": 900, "tier": 2, "session_id": "sess-1"});
    let on_host = server
        .call_host(
            "POST",
            "/v1/auth/mint",
            Some(&slug),
            Some(&key),
            Some(body.clone()),
        )
        .await;
    assert_eq!(on_host.status, 200, "{on_host:?}");
    let on_prefix = server
        .call(
            "POST",
            &format!("/p/{slug}/v1/auth/mint"),
            Some(&key),
            Some(body.clone()),
        )
        .await;
    assert_eq!(on_prefix.status, 200, "{on_prefix:?}");
    let on_api = server.mint(&key, json!({"user_id": "user-123"})).await;
    assert_eq!(on_api.status, 200, "{on_api:?}");
    let keys = server
        .call(
            "GET",
            &format!("/auth/v1/projects/{project_id}/api-keys"),
            Some(&account.session),
            None,
        )
        .await;
    assert!(keys.body[0]["lastUsedAt"].is_string(), "{keys:?}");

    assert_eq!(on_host.body["token_type"], "Bearer");
    assert_eq!(on_host.body["project_id"], project_id.as_str());
    assert_eq!(on_host.body["expires_in"], 900);
    assert_eq!(on_host.body["ttl"], 900);
    assert_eq!(on_host.body["session_id"], "sess-1");
    assert_eq!(on_api.body["expires_in"], 3600, "default ttl");
    assert!(uuid::Uuid::parse_str(on_api.body["session_id"].as_str().unwrap()).is_ok());

    // Verify against the published JWKS, as any third party would.
    let token = on_host.str("access_token");
    let claims = verify(&server, &token).await;
    assert_eq!(claims["tid"], account.tenant_id.as_str());
    assert_eq!(claims["pid"], project_id.as_str());
    assert_eq!(claims["uid"], "user-123");
    assert_eq!(claims["role"], "user");
    assert_eq!(claims["scp"], json!([]));
    assert_eq!(claims["iss"], "behest");
    assert_eq!(claims["aud"], "behest");
    assert_eq!(claims["sid"], "sess-1");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert_eq!(claims["nbf"], claims["iat"]);
    assert_eq!(claims["exp"], on_host.body["expires_at"]);
    assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());
    assert!(
        claims.get("tier").is_none(),
        "a tier the project lacks is ignored"
    );

    // Claims in the SDK's order, header as the contract lists it.
    let payload = URL_SAFE_NO_PAD
        .decode(token.split('.').nth(1).unwrap())
        .unwrap();
    let payload = String::from_utf8(payload).unwrap();
    let order = [
        "tid", "pid", "uid", "role", "scp", "iss", "aud", "iat", "nbf", "exp", "jti", "sid",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|c| payload.find(&format!("\"{c}\"")).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "claim order: {payload}"
    );
    let header = decode_header(&token).unwrap();
    assert_eq!(
        (header.alg, header.typ.as_deref()),
        (Algorithm::RS256, Some("JWT"))
    );

    // The secret never reaches the log.
    let log = server.log();
    assert!(
        log.contains("route=\"/v1/auth/mint\""),
        "access log names the route template"
    );
    for secret in [
        key.as_str(),
        account.session.as_str(),
        token.as_str(),
        "correct horse battery",
    ] {
        assert!(!log.contains(secret), "a secret leaked into the log");
    }

    let logout = server
        .call("POST", "/auth/v1/logout", Some(&account.session), None)
        .await;
    assert_eq!(logout.status, 204);
    let after = server
        .call("GET", "/auth/v1/me", Some(&account.session), None)
        .await;
    assert_eq!(
        (after.status, after.error_code().as_str()),
        (401, "invalid_token")
    );
    let login = server
        .call(
            "POST",
            "/auth/v1/login",
            None,
            Some(json!({"email": "ADA@example.com", "password": "correct horse battery"})),
        )
        .await;
    assert_eq!(login.status, 200, "{login:?}");
    let again = server
        .call(
            "GET",
            "/auth/v1/me",
            Some(&login.str("session_token")),
            None,
        )
        .await;
    assert_eq!(again.status, 200);
    server.stop().await;
}
/// Verifies `token` with keys fetched from `/.well-known/jwks.json`, strictly.
pub async fn verify(server: &Server, token: &str) -> Value {
    let jwks = server
        .call("GET", "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(jwks.status, 200);
    let kid = decode_header(token).unwrap().kid.unwrap();
    let jwk = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("signing kid is published")
        .clone();
    assert_eq!(
        (
            jwk["kty"].as_str(),
            jwk["alg"].as_str(),
            jwk["use"].as_str()
        ),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
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

fn main() -> std::process::ExitCode {
    Tests::new()
        .on_both_backends("signup_project_key_mint", &[], signup_project_key_mint)
        .run()
}
