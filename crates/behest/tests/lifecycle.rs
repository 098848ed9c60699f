//! The process around the API: graceful shutdown, `migrate`, key rotation reaching a
//! running server, restarts keeping keys, bad configuration failing fast.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_testkit::Tests;

use common::{binary, Backend, Database, Server};
use jsonwebtoken::decode_header;
use serde_json::json;
use std::time::{Duration, Instant};

async fn rotation_reaches_a_running_server(backend: Backend) {
    let server = Server::start_with(backend, &[], "key_reload_secs = 1\n").await;
    let account = server.signup("rotate@example.com").await;
    let project = server.create_project(&account, "Keys").await;
    let key = server
        .create_key(&account, project["id"].as_str().unwrap(), None)
        .await;
    let old_token = server
        .mint(&key, json!({"user_id": "u"}))
        .await
        .str("access_token");
    let old_kid = decode_header(&old_token).unwrap().kid.unwrap();

    let out = std::process::Command::new(binary())
        .args(["keys", "rotate", "--database-url", &server.db.url])
        .arg("--data-dir")
        .arg(server.dir.path().join("data"))
        .envs(
            (!server.db.url.starts_with("sqlite:"))
                .then_some(("BEHEST_MASTER_KEY", common::TEST_MASTER_KEY)),
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let new_kid = stdout
        .trim()
        .strip_prefix("new signing key: ")
        .unwrap()
        .to_owned();
    assert_ne!(new_kid, old_kid);

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let token = server
            .mint(&key, json!({"user_id": "u"}))
            .await
            .str("access_token");
        if decode_header(&token).unwrap().kid.as_deref() == Some(new_kid.as_str()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the running server never picked up the new key"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let jwks = server
        .call("GET", "/.well-known/jwks.json", None, None)
        .await;
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        kids,
        vec![new_kid.as_str(), old_kid.as_str()],
        "the old key stays published"
    );
    server.stop().await;
}
async fn sigterm_drains_and_exits_cleanly_and_keys_survive_a_restart() {
    let mut server = Server::start(Backend::Sqlite).await;
    let jwks_before = server
        .call("GET", "/.well-known/jwks.json", None, None)
        .await
        .body;
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status:?}");
    let log = server.log();
    assert!(log.contains("shutdown requested"), "{log}");
    assert!(log.contains("stopped"), "{log}");

    // Same data directory, same store: the signing key is reused, not regenerated.
    let dir = std::mem::replace(&mut server.dir, tempfile::tempdir().unwrap());
    let db = Database::create(Backend::Sqlite, dir.path()).await;
    let restarted = Server::start_in(dir, db, &[], "").await;
    let jwks_after = restarted
        .call("GET", "/.well-known/jwks.json", None, None)
        .await
        .body;
    assert_eq!(jwks_before, jwks_after);
    restarted.stop().await;
}

async fn migrate_creates_the_schema_and_bad_config_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    for _ in 0..2 {
        let out = std::process::Command::new(binary())
            .args(["migrate", "--database-url", &url])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let store = behest_store::open(&url).await.unwrap();
    assert!(
        store.platform_keys().await.unwrap().is_empty(),
        "schema exists, queries run"
    );

    let out = std::process::Command::new(binary())
        .args(["serve", "--listen", "nowhere", "--domain", "bad domain"])
        .env("ADMIN_SECRET", "short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    for field in ["listen", "domain", "admin_secret"] {
        assert!(stderr.contains(field), "{stderr}");
    }
    assert!(
        !stderr.contains("short"),
        "secret values are not echoed: {stderr}"
    );

    let out = std::process::Command::new(binary())
        .args([
            "migrate",
            "--database-url",
            "postgres://nobody:hunter2@127.0.0.1:1/none",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("cannot open the postgres store"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("hunter2"),
        "the database password is not echoed: {stderr}"
    );
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .on_both_backends(
            "rotation_reaches_a_running_server",
            &[],
            rotation_reaches_a_running_server,
        )
        .add(
            "sigterm_drains_and_exits_cleanly_and_keys_survive_a_restart",
            &[],
            sigterm_drains_and_exits_cleanly_and_keys_survive_a_restart,
        )
        .add(
            "migrate_creates_the_schema_and_bad_config_fails_fast",
            &[],
            migrate_creates_the_schema_and_bad_config_fails_fast,
        )
        .run()
}
