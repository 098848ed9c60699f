//! `behest serve --demo`, the README's first command: works with no provider key and no
//! external service, prints instructions that work as printed, and keeps its key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_testkit::Tests;

use common::binary;
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Starts a demo server on `port` in `dir`; returns it and the (slug, key) it printed.
async fn demo(dir: &std::path::Path, port: u16) -> (tokio::process::Child, String, String) {
    let (child, slug, key, _) = demo_printing(dir, port).await;
    (child, slug, key)
}

/// Like [`demo`], with everything it printed.
async fn demo_printing(
    dir: &std::path::Path,
    port: u16,
) -> (tokio::process::Child, String, String, String) {
    let mut child = tokio::process::Command::new(binary())
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(dir)
        .env_remove("BEHEST_DEFAULT_MODEL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut slug, mut key, mut printed) = (String::new(), String::new(), String::new());
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            printed.push_str(&line);
            printed.push('\n');
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["project", s, ..] => slug = (*s).to_owned(),
                ["API", "key", k] => key = (*k).to_owned(),
                ["The", "dashboard:", ..] => break,
                _ => {}
            }
        }
    })
    .await
    .expect("the demo prints its instructions");
    // Whatever it prints later still has a reader: a closed pipe would fail the server.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, slug, key, printed)
}

/// The claims of a JWT, unverified (the JWKS check is the walkthrough's).
fn claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn the_demo_works_offline_and_keeps_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (mut child, slug, key, printed) = demo_printing(dir.path(), port).await;
    assert!(key.starts_with("behest_sk_live_"), "{key}");
    // The dashboard's address and the demo login, and they work: the sign-in form
    // (with its CSRF cookie) lands on the project list, which shows the demo project.
    let dashboard = format!("http://localhost:{port}/");
    let login = "(sign in as demo@behest.local / behest-demo-password)";
    assert!(
        printed.contains(&format!("The dashboard: {dashboard}  {login}")),
        "{printed}"
    );
    let http = reqwest::Client::new();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser
        .get(format!("{dashboard}sign-in"))
        .send()
        .await
        .unwrap();
    let pre = page.headers()["set-cookie"].to_str().unwrap().to_owned();
    let pre = pre.split(';').next().unwrap().to_owned();
    let html = page.text().await.unwrap();
    let marker = "name=\"_csrf\" value=\"";
    let at = html.find(marker).unwrap() + marker.len();
    let csrf = &html[at..at + 32];
    let signed_in = browser
        .post(format!("{dashboard}sign-in"))
        .header("cookie", &pre)
        .form(&[
            ("_csrf", csrf),
            ("email", "demo@behest.local"),
            ("password", "behest-demo-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.headers()["location"], "/projects");
    let session = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("behest_session="))
        .unwrap();
    let projects = browser
        .get(format!("{dashboard}projects"))
        .header("cookie", session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        projects.contains(&format!("<code>{slug}</code>")),
        "{projects}"
    );
    let base = format!("http://127.0.0.1:{port}/p/{slug}/v1");
    let minted: Value = http
        .post(format!("{base}/auth/mint"))
        .bearer_auth(&key)
        .json(&json!({"user_id": "user-123", "ttl": 900}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = minted["access_token"].as_str().unwrap();
    // The demo key is a `user` key: what it mints for an end user is a `user` token,
    // and it cannot mint a higher role.
    assert_eq!(claims(token)["role"], "user");
    assert_eq!(claims(token)["uid"], "user-123");
    let admin = http
        .post(format!("{base}/auth/mint"))
        .bearer_auth(&key)
        .json(&json!({"user_id": "user-123", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 403);
    let answer: Value = http
        .post(format!("{base}/chat/completions"))
        .bearer_auth(token)
        .json(&json!({"messages": [{"role": "user", "content": "Hello!"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "Hello!");
    assert_eq!(answer["model"], "behest/echo");
    let preflight = http
        .request(reqwest::Method::OPTIONS, format!("{base}/chat/completions"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    child.kill().await.unwrap();

    // A second start reuses the account, the project and the key.
    let (mut again, slug_again, key_again) = demo(dir.path(), port).await;
    assert_eq!((slug_again, key_again), (slug, key));
    again.kill().await.unwrap();
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .add(
            "the_demo_works_offline_and_keeps_its_key",
            &[],
            the_demo_works_offline_and_keeps_its_key,
        )
        .run()
}
