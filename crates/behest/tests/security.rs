//! The hardening issue, attacked as an attacker would, against the real binary on
//! loopback: login floods and brute force, oversized and rule-breaking tokens, tokens
//! of revoked keys, object quotas, and a suspended project on every data-plane route.
//! (Slow and idle connections: `connections.rs`; revocation across replicas:
//! `replicas.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_testkit::Tests;

use common::{Account, Backend, Server};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn hello() -> Value {
    json!({"messages": [{"role": "user", "content": "Hello gateway"}]})
}

fn login(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

/// One sign-in attempt.
async fn sign_in(server: &Server, email: &str, password: &str) -> common::Response {
    server
        .call("POST", "/auth/v1/login", None, Some(login(email, password)))
        .await
}

/// A token signed with a tenant key, with the SDK's claims and `change` applied.
fn tenant_token(
    private: &str,
    kid: &str,
    account: &Account,
    project_id: &str,
    change: Value,
) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "tid": account.tenant_id, "pid": project_id, "uid": "local-user", "role": "user",
        "scp": [], "iss": "https://api.behest.ai", "aud": "behest", "iat": now, "nbf": now,
        "exp": now + 600, "jti": uuid::Uuid::new_v4().to_string(), "sid": "s-1"
    });
    for (field, value) in change.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(field);
        } else {
            claims[field] = value.clone();
        }
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    let pem = private.strip_prefix("behest_pk_").unwrap();
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

async fn brute_force_meets_growing_delays_and_a_success_forgives() {
    let server = Server::start(Backend::Sqlite).await;
    server.signup("victim@example.com").await;
    let email = "victim@example.com";
    // Five wrong passwords are plain 401s; the sixth attempt must wait.
    for i in 0..5 {
        let r = sign_in(&server, email, "wrong password").await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (401, "invalid_token"),
            "attempt {i}"
        );
    }
    let r = sign_in(&server, email, "correct horse battery").await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (429, "rate_limited"),
        "{r:?}"
    );
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "Retry-After {retry}");
    // After the delay the owner gets in, and the account starts afresh.
    tokio::time::sleep(Duration::from_secs(retry) + Duration::from_millis(100)).await;
    let r = sign_in(&server, email, "correct horse battery").await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = sign_in(&server, email, "wrong again").await;
    assert_eq!(r.status, 401, "forgiven: a fresh failure is a plain 401");
    // The delays grow but stay short for the account's owner (the cap is 30 s): each
    // failure after a wait doubles the next one.
    for _ in 0..4 {
        sign_in(&server, email, "wrong").await;
    }
    let mut last = 0;
    for _ in 0..3 {
        let r = sign_in(&server, email, "wrong").await;
        assert_eq!(r.status, 429, "{r:?}");
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(
            retry > last && retry <= 30,
            "delays grow: {last} then {retry}"
        );
        last = retry;
        tokio::time::sleep(Duration::from_secs(retry) + Duration::from_millis(100)).await;
        let r = sign_in(&server, email, "wrong").await;
        assert_eq!(r.status, 401, "after the wait, a plain failure: {r:?}");
    }
    // Unknown accounts are limited the same way (no enumeration by the limit).
    for _ in 0..5 {
        sign_in(&server, "nobody@example.com", "x").await;
    }
    let r = sign_in(&server, "nobody@example.com", "x").await;
    assert_eq!(r.status, 429);
    server.stop().await;
}

/// Peak resident memory of the server process, in KiB.
fn peak_rss_kib(server: &mut Server) -> u64 {
    let pid = server.child().id().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// `n` concurrent signups; answers `(created, refused with 503 + Retry-After)`.
async fn signup_flood(server: &Server, tag: &str, n: usize) -> (usize, usize) {
    let flood: Vec<_> = (0..n)
        .map(|i| {
            let http = server.http.clone();
            let url = server.url("/auth/v1/signup");
            let body = login(&format!("{tag}{i}@example.com"), "correct horse battery");
            tokio::spawn(async move {
                let r = http.post(url).json(&body).send().await.unwrap();
                (
                    r.status().as_u16(),
                    r.headers().get("retry-after").is_some(),
                )
            })
        })
        .collect();
    let (mut created, mut refused) = (0, 0);
    for call in flood {
        match call.await.unwrap() {
            (201, _) => created += 1,
            (503, true) => refused += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    (created, refused)
}

async fn a_signup_flood_is_bounded_and_health_stays_responsive() {
    let mut server = Server::start(Backend::Sqlite).await;
    let before = peak_rss_kib(&mut server);
    let (created, refused) = signup_flood(&server, "first", 300).await;
    let first = peak_rss_kib(&mut server);
    // A flood twice as large, with /healthz probed meanwhile.
    let second = {
        let flood = signup_flood(&server, "second", 600);
        let probe = async {
            let mut slowest = Duration::ZERO;
            for _ in 0..10 {
                let started = Instant::now();
                let r = server.call("GET", "/healthz", None, None).await;
                assert_eq!(r.status, 200);
                slowest = slowest.max(started.elapsed());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            slowest
        };
        let (answers, slowest) = tokio::join!(flood, probe);
        assert!(
            slowest < Duration::from_secs(1),
            "/healthz took {slowest:?}"
        );
        eprintln!("600 concurrent signups: {answers:?}; /healthz slowest {slowest:?}");
        answers
    };
    let after = peak_rss_kib(&mut server);
    eprintln!(
        "300 concurrent signups: {created} created, {refused} refused; peak RSS {before} KiB \
         at start, {first} KiB after 300, {after} KiB after 600 more"
    );
    assert!(refused > 0 && second.1 > 0, "the queue is bounded");
    assert!(created > 0 && second.0 > 0, "the pool still works");
    // Bounded: twice the concurrency does not raise the peak (only the hashing threads
    // hold Argon2's memory).
    assert!(
        after.saturating_sub(first) < 48 * 1024,
        "peak RSS grew from {first} to {after} KiB with a larger flood"
    );
    server.stop().await;
}

async fn tokens_that_break_the_rules_are_refused() {
    let server = Server::start(Backend::Sqlite).await;
    let account = server.signup("rules@example.com").await;
    let fixture = server.project_with_token(&account, "Rules").await;
    let (kid, private) = server.create_signing_key(&account).await;
    let now = chrono::Utc::now().timestamp();
    let good = tenant_token(&private, &kid, &account, &fixture.id, json!({}));
    assert_eq!(server.chat(&fixture.slug, &good, hello()).await.status, 200);

    let cases = [
        ("no iat", json!({"iat": null}), "iat"),
        ("iat an hour ahead", json!({"iat": now + 3600}), "future"),
        (
            "lifetime of two days",
            json!({"exp": now + 172_800}),
            "lifetime",
        ),
        ("reserved uid", json!({"uid": "admin"}), "reserved"),
        ("empty uid", json!({"uid": ""}), "uid"),
        ("256-character uid", json!({"uid": "u".repeat(256)}), "uid"),
    ];
    for (what, change, says) in cases {
        let token = tenant_token(&private, &kid, &account, &fixture.id, change);
        let r = server.chat(&fixture.slug, &token, hello()).await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (401, "invalid_token"),
            "{what}: {r:?}"
        );
        assert!(r.text.contains(says), "{what}: {}", r.text);
    }
    // An oversized bearer token is refused before it is parsed, whatever it holds.
    let huge = format!("{good}.{}", "A".repeat(9 * 1024));
    let r = server.chat(&fixture.slug, &huge, hello()).await;
    assert_eq!(r.status, 401);
    assert!(r.text.contains("8192 bytes"), "{}", r.text);
    // Many distinct large (but allowed) garbage tokens do not grow the process.
    for i in 0..200 {
        let junk = format!("eyJhbGciOiJSUzI1NiJ9.{i}{}.sig", "x".repeat(7000));
        assert_eq!(server.chat(&fixture.slug, &junk, hello()).await.status, 401);
    }
    assert_eq!(server.chat(&fixture.slug, &good, hello()).await.status, 200);
    server.stop().await;
}

async fn revoked_keys_tokens_stop_and_rotated_keys_tokens_live_on() {
    let server = Server::start(Backend::Sqlite).await;
    let account = server.signup("revoke@example.com").await;
    let fixture = server.project_with_token(&account, "Revoke").await;
    // The project's one active key (the list never shows plaintext).
    let only_key = || async {
        let r = server
            .call(
                "GET",
                &format!("/auth/v1/projects/{}/api-keys", fixture.id),
                Some(&account.session),
                None,
            )
            .await;
        let keys = r.body.as_array().unwrap();
        assert_eq!(keys.len(), 1, "{keys:?}");
        keys[0]["id"].as_str().unwrap().to_owned()
    };
    // Rotation: the old key's token keeps working until it expires.
    let old_id = only_key().await;
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/projects/{}/api-keys/{old_id}/rotate", fixture.id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let new_key = r.str("api_key");
    assert_eq!(
        server
            .chat(&fixture.slug, &fixture.token, hello())
            .await
            .status,
        200
    );
    let r = server.mint(&fixture.key, json!({"user_id": "u"})).await;
    assert_eq!(r.status, 401, "the rotated key mints no more");

    // Revocation: the key's tokens stop at once.
    let minted = server
        .mint(&new_key, json!({"user_id": "end-user-2"}))
        .await;
    let token = minted.str("access_token");
    assert_eq!(
        server.chat(&fixture.slug, &token, hello()).await.status,
        200
    );
    let new_id = only_key().await;
    let r = server
        .call(
            "DELETE",
            &format!("/auth/v1/api-keys/{new_id}"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = server.chat(&fixture.slug, &token, hello()).await;
    assert_eq!(r.status, 401, "{r:?}");
    assert!(r.text.contains("revoked"), "{}", r.text);
    // The rotated key's token is untouched by the other key's revocation.
    assert_eq!(
        server
            .chat(&fixture.slug, &fixture.token, hello())
            .await
            .status,
        200
    );
    server.stop().await;
}

async fn free_objects_have_quotas() {
    let config =
        "[limits]\ntenants_per_user = 2\napi_keys_per_project = 2\nsigning_keys_per_tenant = 1\n";
    let server = Server::start_with(Backend::Sqlite, &[], config).await;
    let account = server.signup("quota@example.com").await;
    let tenant = |name: &str| {
        server.call(
            "POST",
            "/auth/v1/tenants",
            Some(&account.session),
            Some(json!({"name": name})),
        )
    };
    assert_eq!(tenant("Second").await.status, 201);
    let r = tenant("Third").await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "OBJECT_LIMIT_REACHED"),
        "{r:?}"
    );
    assert!(r.text.contains("tenants_per_user"), "{}", r.text);

    let project = server.create_project(&account, "Quota").await;
    let id = project["id"].as_str().unwrap();
    server.create_key(&account, id, None).await;
    server.create_key(&account, id, None).await;
    let path = format!("/auth/v1/projects/{id}/api-keys");
    let r = server
        .call(
            "POST",
            &path,
            Some(&account.session),
            Some(json!({"name": "third"})),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "OBJECT_LIMIT_REACHED"),
        "{r:?}"
    );
    assert!(r.text.contains("api_keys_per_project"), "{}", r.text);
    // A revoked key frees its place.
    let keys = server
        .call("GET", &path, Some(&account.session), None)
        .await;
    let first = keys.body[0]["id"].as_str().unwrap().to_owned();
    let r = server
        .call(
            "DELETE",
            &format!("/auth/v1/api-keys/{first}"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    server.create_key(&account, id, None).await;

    server.create_signing_key(&account).await;
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/tenants/{}/signing-keys", account.tenant_id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (403, "OBJECT_LIMIT_REACHED"),
        "{r:?}"
    );
    assert!(r.text.contains("signing_keys_per_tenant"), "{}", r.text);
    server.stop().await;
}

async fn a_suspended_project_refuses_every_route_as_chat_does() {
    let server = Server::start(Backend::Sqlite).await;
    let account = server.signup("suspended@example.com").await;
    let fixture = server.project_with_token(&account, "Suspended").await;
    let (kid, private) = server.create_signing_key(&account).await;
    let local = tenant_token(&private, &kid, &account, &fixture.id, json!({}));
    let r = server
        .call(
            "POST",
            &format!("/auth/v1/projects/{}/suspend", fixture.id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let p = |path: &str| format!("/p/{}{path}", fixture.slug);
    let routes = [
        ("POST", p("/v1/chat/completions"), Some(hello())),
        ("GET", p("/v1/models"), None),
        ("POST", p("/v1/embeddings"), Some(json!({"input": "hi"}))),
        ("GET", p("/v1/threads"), None),
        ("GET", p("/v1/threads/t-1"), None),
        ("GET", p("/v1/threads/t-1/messages"), None),
        ("DELETE", p("/v1/threads/t-1"), None),
        ("GET", p("/v1/usage"), None),
    ];
    // A minted token: its key was revoked with the suspension. A tenant-signed one: the
    // project itself refuses. Either way every route answers exactly as chat does.
    for token in [&fixture.token, &local] {
        let mut answers = Vec::new();
        for (method, path, body) in &routes {
            let r = server.call(method, path, Some(token), body.clone()).await;
            answers.push((
                path.clone(),
                r.status,
                r.error_code(),
                r.body["error"]["message"].clone(),
            ));
        }
        let chat = answers[0].clone();
        assert!(chat.1 == 401 || chat.1 == 403, "{chat:?}");
        for answer in &answers {
            assert_eq!(
                (answer.1, &answer.2, &answer.3),
                (chat.1, &chat.2, &chat.3),
                "{answer:?}"
            );
        }
    }
    server.stop().await;
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .add(
            "brute_force_meets_growing_delays_and_a_success_forgives",
            &[],
            brute_force_meets_growing_delays_and_a_success_forgives,
        )
        .add(
            "a_signup_flood_is_bounded_and_health_stays_responsive",
            &[],
            a_signup_flood_is_bounded_and_health_stays_responsive,
        )
        .add(
            "tokens_that_break_the_rules_are_refused",
            &[],
            tokens_that_break_the_rules_are_refused,
        )
        .add(
            "revoked_keys_tokens_stop_and_rotated_keys_tokens_live_on",
            &[],
            revoked_keys_tokens_stop_and_rotated_keys_tokens_live_on,
        )
        .add("free_objects_have_quotas", &[], free_objects_have_quotas)
        .add(
            "a_suspended_project_refuses_every_route_as_chat_does",
            &[],
            a_suspended_project_refuses_every_route_as_chat_does,
        )
        .run()
}
