//! The quickstart's browser half for real: headless Chromium runs the stock `openai`
//! JS SDK from a page at an allowed origin (it streams) and from another origin (CORS
//! stops it). Driven by `tests/browser/run.mjs`; needs `scripts/browser-setup.sh`
//! (reported as skipped without it, except in CI).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_testkit::{Need, Tests};

use common::{Backend, Server};
use serde_json::{json, Value};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn a_browser_streams_from_an_allowed_origin_only() {
    let root = behest_testkit::repo_root();
    let server = Server::start(Backend::Sqlite).await;
    let account = server.signup("browser@example.com").await;
    let fixture = server.project_with_token(&account, "Browser").await;
    let allowed = format!("http://localhost:{}", free_port());
    let disallowed = format!("http://127.0.0.1:{}", free_port());
    server
        .deploy_settings(&account, &fixture.id, json!({"cors_origins": [allowed]}))
        .await;
    let minted = server
        .mint(&fixture.key, json!({"user_id": "browser-user", "ttl": 900}))
        .await;

    let output = tokio::process::Command::new("node")
        .arg(root.join("tests/browser/run.mjs"))
        .env(
            "BEHEST_CHAT_BASE",
            server.url(&format!("/p/{}/v1", fixture.slug)),
        )
        .env("BEHEST_TOKEN", minted.str("access_token"))
        .env("BEHEST_SESSION_ID", minted.str("session_id"))
        .env("ALLOWED_ORIGIN", &allowed)
        .env("DISALLOWED_ORIGIN", &disallowed)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "run.mjs failed:\n{stdout}\n{stderr}"
    );
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(result["allowed"]["ok"], true, "{result}");
    assert_eq!(
        result["allowed"]["text"], "Hello from the browser",
        "{result}"
    );
    assert_eq!(result["allowed"]["finished"], true, "{result}");
    // The page reads the gateway's own timing: the header through CORS, and the
    // Resource Timing entry (Timing-Allow-Origin) DevTools shows.
    let timing = result["allowed"]["serverTiming"]
        .as_str()
        .unwrap_or_default();
    assert!(
        timing.starts_with("behest;dur=") && timing.contains(", upstream;dur="),
        "{result}"
    );
    let names = result["allowed"]["resourceServerTiming"]
        .as_array()
        .unwrap();
    assert!(
        names.contains(&json!("behest")) && names.contains(&json!("upstream")),
        "{result}"
    );
    assert_eq!(result["disallowed"]["ok"], false, "{result}");

    // The gateway saw the allowed page's session and refused the other origin.
    let log = server.log();
    assert!(
        log.contains("status=403"),
        "the disallowed preflight was refused"
    );
    server.stop().await;
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .add(
            "a_browser_streams_from_an_allowed_origin_only",
            &[Need::Browser],
            a_browser_streams_from_an_allowed_origin_only,
        )
        .run()
}
