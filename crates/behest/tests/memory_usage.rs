//! Memory, threads and usage through the real binary: the published `behest-ai` and
//! `openai` SDKs over several turns of a thread against a fake OpenAI provider
//! (`tests/sdk_memory`), and usage that survives `kill -9` in the middle of a load.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_fakes::FakeProviders;
use behest_testkit::{Need, Tests};
use common::{Backend, Database, Server};
use serde_json::json;
use std::time::Duration;

fn fake_config(fakes: &FakeProviders) -> String {
    format!(
        "[providers.openai]\napi_key = \"sk-openai-test\"\nbase_url = \"{}\"\n",
        fakes.openai_base_url()
    )
}

async fn memory_threads_and_usage_through_the_sdks(backend: Backend) {
    let python = behest_testkit::python().expect("the Python SDKs are a prerequisite");
    let fakes = FakeProviders::start().await.unwrap();
    let server = Server::start_with(backend, &[], &fake_config(&fakes)).await;
    let account = server.signup("memory@example.com").await;
    let project = server.project_with_token(&account, "Memory").await;
    server
        .choose_model(&account, &project.id, "gpt-4o-mini")
        .await;
    server
        .deploy_settings(
            &account,
            &project.id,
            json!({"memory_enabled": true, "memory_window": 20}),
        )
        .await;
    let admin_key = server
        .create_key(&account, &project.id, Some("admin"))
        .await;
    let output = tokio::process::Command::new(python)
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/sdk_memory",
        ])
        .current_dir(behest_testkit::repo_root())
        .env("BEHEST_TEST_BASE", &server.base)
        .env("BEHEST_TEST_SLUG", &project.slug)
        .env("BEHEST_TEST_KEY", &project.key)
        .env("BEHEST_TEST_ADMIN_KEY", &admin_key)
        .env("BEHEST_TEST_FAKE", fakes.origin())
        .env("BEHEST_TEST_PROJECT_ID", &project.id)
        .env("BEHEST_TEST_SESSION", &account.session)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "pytest failed:\n{stdout}\n{}",
        server.log()
    );
    assert!(stdout.contains(" passed"), "pytest ran nothing:\n{stdout}");
    server.stop().await;
}

/// `kill -9` in the middle of a load: after a restart, every request that completed
/// is in usage.
async fn no_completed_request_is_lost_to_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::create(Backend::Sqlite, dir.path()).await;
    let mut server = Server::start_in(dir, db, &[], "").await;
    let account = server.signup("kill9@example.com").await;
    let project = server.project_with_token(&account, "Kill9").await;
    server
        .deploy_settings(&account, &project.id, json!({"rpm_limit": 10000}))
        .await;
    let http = server.http.clone();
    let url = server.url(&format!("/p/{}/v1/chat/completions", project.slug));
    let token = project.token.clone();
    let load = tokio::spawn(async move {
        let mut completed = 0u64;
        loop {
            let sent = http
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({"messages": [{"role": "user", "content": "count me"}]}))
                .send()
                .await;
            let Ok(r) = sent else { return completed };
            if r.status() != 200 || r.bytes().await.is_err() {
                return completed;
            }
            completed += 1;
        }
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let pid = server.child().id().unwrap();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let completed = load.await.unwrap();
    assert!(completed > 20, "the load ran: {completed}");
    let _ = server.terminate_wait().await;

    let Server { dir, db, .. } = server;
    let server = Server::start_in(dir, db, &[], "").await;
    let admin_key = server
        .create_key(&account, &project.id, Some("admin"))
        .await;
    let admin = server
        .mint(&admin_key, json!({"user_id": "ops", "role": "admin"}))
        .await
        .str("access_token");
    let mut requests = 0;
    for _ in 0..50 {
        let r = server
            .call(
                "GET",
                &format!("/p/{}/v1/usage?user_id=end-user-1", project.slug),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{r:?}");
        requests = r.body["totals"]["requests"].as_u64().unwrap();
        if requests >= completed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Each completed request is there; one more may have been answered by the server
    // but cut off on its way to the client.
    assert!(
        requests == completed || requests == completed + 1,
        "{completed} completed, {requests} in usage"
    );
    server.stop().await;
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .on_both_backends(
            "memory_threads_and_usage_through_the_sdks",
            &[Need::PythonSdks],
            memory_threads_and_usage_through_the_sdks,
        )
        .add(
            "no_completed_request_is_lost_to_kill_9",
            &[],
            no_completed_request_is_lost_to_kill_9,
        )
        .run()
}
