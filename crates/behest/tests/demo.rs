//! `behest serve --demo`, the README's first command: works with no provider key and no
//! external service, prints instructions that work as printed, and keeps its key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::binary;
use serde_json::{json, Value};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Starts a demo server on `port` in `dir`; returns it and the (slug, key) it printed.
async fn demo(dir: &std::path::Path, port: u16) -> (tokio::process::Child, String, String) {
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
    let (mut slug, mut key) = (String::new(), String::new());
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["project", s, ..] => slug = (*s).to_owned(),
                ["API", "key", k] => key = (*k).to_owned(),
                ["use", url, ..] if url.contains("/p/") => break,
                _ => {}
            }
        }
    })
    .await
    .expect("the demo prints its instructions");
    (child, slug, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_works_offline_and_keeps_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (mut child, slug, key) = demo(dir.path(), port).await;
    assert!(key.starts_with("behest_sk_live_"), "{key}");
    let http = reqwest::Client::new();
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
