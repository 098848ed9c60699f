//! Two gateway processes sharing PostgreSQL and Redis: a change made through one is
//! live on the other within a second (pub/sub; the periodic re-read is set to a
//! minute so it cannot be what makes the test pass), and a fresh replica starts from
//! the shared state. Needs `BEHEST_TEST_DATABASE_URL` and `BEHEST_TEST_REDIS_URL`
//! (the machine's own when they are not set; see behest-testkit).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_testkit::{Need, PrivateRedis, Tests};

use common::{Backend, Database, Server};
use serde_json::json;
use std::time::{Duration, Instant};

/// Polls `check` until it holds; returns how long that took (at most `limit`).
async fn within<F, Fut>(limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "not live within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn changes_reach_every_replica_within_a_second() {
    let redis = behest_testkit::redis_url().expect("Redis is a prerequisite");
    let dir_a = tempfile::tempdir().unwrap();
    let db = Database::create(Backend::Postgres, dir_a.path()).await;
    let shared_db = db.shared();
    let fresh_db = db.shared();
    let config = format!(
        "directory_reload_secs = 60\nredis_namespace = \"replicas-{}\"\n",
        uuid::Uuid::new_v4().simple()
    );
    let args = ["--redis-url", redis.as_str()];
    let a = Server::start_in(dir_a, db, &args, &config).await;
    let b = Server::start_in(tempfile::tempdir().unwrap(), shared_db, &args, &config).await;

    // A project created on A serves on B.
    let account = a.signup("replicas@example.com").await;
    let project = a.project_with_token(&account, "Replicated").await;
    let hello = json!({"messages": [{"role": "user", "content": "hi from b"}]});
    let took = within(Duration::from_secs(1), || async {
        b.chat(&project.slug, &project.token, hello.clone())
            .await
            .status
            == 200
    })
    .await;
    eprintln!("project visible on B after {took:?}");

    // A deploy on A changes B's CORS within a second; a draft does not.
    let origin = "http://localhost:3000";
    let preflight = |server: &Server| {
        server
            .http
            .request(
                reqwest::Method::OPTIONS,
                server.url(&format!("/p/{}/v1/chat/completions", project.slug)),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let r = a
        .settings(
            &account,
            &project.id,
            "PUT",
            "",
            Some(json!({"cors_origins": [origin]})),
        )
        .await;
    assert_eq!(r.status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        preflight(&b).await.unwrap().status(),
        403,
        "a draft is live nowhere"
    );
    let r = a
        .settings(&account, &project.id, "POST", "/deploy", None)
        .await;
    assert_eq!(r.status, 200);
    let took = within(Duration::from_secs(1), || async {
        preflight(&b).await.unwrap().status() == 204
    })
    .await;
    eprintln!("deploy live on B after {took:?}");

    // A live model change, a signing key revocation and a suspension, likewise.
    let r = a
        .call(
            "POST",
            &format!("/auth/v1/tenants/{}/signing-keys", account.tenant_id),
            Some(&account.session),
            None,
        )
        .await;
    let kid = r.str("kid");
    let private = r
        .str("private_key")
        .strip_prefix("behest_pk_")
        .unwrap()
        .to_owned();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"tid": account.tenant_id, "pid": project.id, "uid": "u", "iss": "https://api.behest.ai",
        "aud": "behest", "iat": now, "nbf": now, "exp": now + 600});
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.clone());
    let local = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
    )
    .unwrap();
    within(Duration::from_secs(1), || async {
        b.chat(&project.slug, &local, hello.clone()).await.status == 200
    })
    .await;
    let r = a
        .call(
            "DELETE",
            &format!("/auth/v1/tenants/{}/signing-keys/{kid}", account.tenant_id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    within(Duration::from_secs(1), || async {
        b.chat(&project.slug, &local, hello.clone()).await.status == 401
    })
    .await;

    let r = a
        .call(
            "POST",
            &format!("/auth/v1/projects/{}/suspend", project.id),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    // Suspending revokes the project's keys: their tokens are refused as revoked.
    within(Duration::from_secs(1), || async {
        b.chat(&project.slug, &project.token, hello.clone())
            .await
            .status
            == 401
    })
    .await;

    // A replica started now begins from the shared state.
    let c = Server::start_in(tempfile::tempdir().unwrap(), fresh_db, &args, &config).await;
    assert_eq!(
        c.chat(&project.slug, &project.token, hello.clone())
            .await
            .status,
        401
    );
    c.stop().await;
    b.stop().await;
    a.stop().await;
}

/// A private Redis this test may stop and start.
async fn redis_down_means_502_on_deploy_not_an_outage() {
    let redis = PrivateRedis::start();
    let url = redis.url();
    let server = Server::start_with(
        Backend::Sqlite,
        &["--redis-url", &url],
        "directory_reload_secs = 1\n",
    )
    .await;
    let account = server.signup("outage@example.com").await;
    let project = server.project_with_token(&account, "Outage").await;
    let hello = json!({"messages": [{"role": "user", "content": "still here"}]});
    // Budgets fail closed while the shared counters are away; this project opts in to
    // fail open, so that what is tested here is the live state.
    server
        .deploy_settings(&account, &project.id, json!({"budgets_fail_open": true}))
        .await;
    let port = redis.stop();

    // The draft is saved; the deploy cannot reach live traffic: 502, retry later.
    let origin = "http://localhost:3000";
    let r = server
        .settings(
            &account,
            &project.id,
            "PUT",
            "",
            Some(json!({"cors_origins": [origin]})),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = server
        .settings(&account, &project.id, "POST", "/deploy", None)
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (502, "LIVE_SYNC_FAILED"),
        "{r:?}"
    );
    // Traffic goes on from memory.
    assert_eq!(
        server
            .chat(&project.slug, &project.token, hello.clone())
            .await
            .status,
        200
    );

    let redis = PrivateRedis::start_on(port);
    // Redis came back empty (no persistence): its empty image must not be loaded, or
    // every project would vanish from live traffic until the next change. The next
    // reload (every second, once the client has reconnected) finds it empty and
    // republishes; traffic is served all along.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        assert_eq!(
            server
                .chat(&project.slug, &project.token, hello.clone())
                .await
                .status,
            200,
            "{}",
            server.log()
        );
        if server
            .log()
            .contains("the live image is missing from Redis")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the empty image was never noticed: {}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // And once it has been noticed, the project is still served (the empty image was
    // not loaded).
    assert_eq!(
        server
            .chat(&project.slug, &project.token, hello.clone())
            .await
            .status,
        200,
        "{}",
        server.log()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = server
            .settings(&account, &project.id, "POST", "/deploy", None)
            .await;
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "deploy never recovered: {r:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let preflight = server
        .http
        .request(
            reqwest::Method::OPTIONS,
            server.url(&format!("/p/{}/v1/chat/completions", project.slug)),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    server.stop().await;
    redis.stop();
}

/// A revoked API key's tokens stop on the other replica within a second, and failed
/// sign-ins on one replica count on the other (the shared counters).
async fn revocations_and_sign_in_strikes_cross_replicas() {
    let redis = behest_testkit::redis_url().expect("Redis is a prerequisite");
    let dir_a = tempfile::tempdir().unwrap();
    let db = Database::create(Backend::Postgres, dir_a.path()).await;
    let shared_db = db.shared();
    let config = format!(
        "directory_reload_secs = 60\nredis_namespace = \"revoke-{}\"\n",
        uuid::Uuid::new_v4().simple()
    );
    let args = ["--redis-url", redis.as_str()];
    let a = Server::start_in(dir_a, db, &args, &config).await;
    let b = Server::start_in(tempfile::tempdir().unwrap(), shared_db, &args, &config).await;
    let account = a.signup("revoke-replicas@example.com").await;
    let project = a.project_with_token(&account, "Revoked").await;
    let hello = json!({"messages": [{"role": "user", "content": "hi"}]});
    within(Duration::from_secs(1), || async {
        b.chat(&project.slug, &project.token, hello.clone())
            .await
            .status
            == 200
    })
    .await;
    let keys = a
        .call(
            "GET",
            &format!("/auth/v1/projects/{}/api-keys", project.id),
            Some(&account.session),
            None,
        )
        .await;
    let key_id = keys.body[0]["id"].as_str().unwrap().to_owned();
    let r = a
        .call(
            "DELETE",
            &format!("/auth/v1/api-keys/{key_id}"),
            Some(&account.session),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let took = within(Duration::from_secs(1), || async {
        b.chat(&project.slug, &project.token, hello.clone())
            .await
            .status
            == 401
    })
    .await;
    eprintln!("revoked key's token refused on B after {took:?}");

    // Five failures on A, the sixth attempt on B waits.
    let wrong = json!({"email": "revoke-replicas@example.com", "password": "wrong password"});
    for _ in 0..5 {
        let r = a
            .call("POST", "/auth/v1/login", None, Some(wrong.clone()))
            .await;
        assert_eq!(r.status, 401);
    }
    let r = b.call("POST", "/auth/v1/login", None, Some(wrong)).await;
    assert_eq!(r.status, 429, "{r:?}");
    assert!(r.headers.get("retry-after").is_some());
    a.stop().await;
    b.stop().await;
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .add(
            "changes_reach_every_replica_within_a_second",
            &[Need::Postgres, Need::Redis],
            changes_reach_every_replica_within_a_second,
        )
        .add(
            "revocations_and_sign_in_strikes_cross_replicas",
            &[Need::Postgres, Need::Redis],
            revocations_and_sign_in_strikes_cross_replicas,
        )
        .add(
            "redis_down_means_502_on_deploy_not_an_outage",
            &[Need::RedisServer],
            redis_down_means_502_on_deploy_not_an_outage,
        )
        .run()
}
