//! Cross-provider behaviour: #flaky, #cut, #slow, #hang, recording, lifecycle, the binary.

use std::time::{Duration, Instant};

use crate::common::*;

#[tokio::test]
async fn base_urls() {
    let f = FakeProviders::start().await.unwrap();
    assert!(f.addr().ip().is_loopback());
    assert_ne!(f.addr().port(), 0);
    assert_eq!(f.origin(), format!("http://{}", f.addr()));
    assert_eq!(f.openai_base_url(), format!("http://{}/v1", f.addr()));
    let resp = client()
        .post(format!("{}/chat/completions", f.openai_base_url()))
        .header("authorization", "Bearer k")
        .json(&openai_body("x", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn flaky_fails_first_n_then_succeeds_per_text() {
    let f = FakeProviders::start().await.unwrap();
    for attempt in 1..=2 {
        let resp = post(
            &f,
            "/v1/chat/completions",
            OPENAI_AUTH,
            openai_body("hey #flaky:2", false),
        )
        .await;
        assert_eq!(resp.status(), 503, "attempt {attempt}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["message"], "fake openai error 503");
        assert_eq!(v["error"]["type"], "server_error");
    }
    // A different text has its own counter.
    let resp = post(
        &f,
        "/v2/chat",
        COHERE_AUTH,
        cohere_body("other #flaky:1", false),
    )
    .await;
    assert_eq!(resp.status(), 503);
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"message": "fake cohere error 503"})
    );
    // The third request with the first text succeeds, on any provider.
    let resp = post(
        &f,
        "/v1/messages",
        ANTHROPIC_AUTH,
        anthropic_body("hey #flaky:2", false),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = post(
        &f,
        "/v2/chat",
        COHERE_AUTH,
        cohere_body("other #flaky:1", false),
    )
    .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn requests_are_recorded_and_cleared() {
    let f = FakeProviders::start().await.unwrap();
    post(
        &f,
        "/v1/chat/completions",
        &[("Authorization", "Bearer sk-1"), ("X-Custom", "Yes")],
        openai_body("one", false),
    )
    .await;
    post(&f, GEMINI_STREAM, GOOGLE_AUTH, gemini_body("two")).await;
    post(&f, "/v1/messages", &[], anthropic_body("three", false)).await; // rejected, still recorded
    post(&f, "/nowhere", &[], json!({})).await;

    let recs = f.requests().await;
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[0].provider, "openai");
    assert_eq!(recs[0].method, "POST");
    assert_eq!(recs[0].path, "/v1/chat/completions");
    assert_eq!(recs[0].query, "");
    assert_eq!(recs[0].headers["authorization"], "Bearer sk-1");
    assert_eq!(recs[0].headers["x-custom"], "Yes");
    assert_eq!(recs[0].body["messages"][1]["content"], "one");
    assert_eq!(recs[1].provider, "google");
    assert_eq!(
        recs[1].path,
        "/v1beta/models/gemini-test:streamGenerateContent"
    );
    assert_eq!(recs[1].query, "alt=sse");
    assert_eq!(recs[1].headers["x-goog-api-key"], "g-test");
    assert_eq!(recs[2].provider, "anthropic");
    assert_eq!(recs[3].provider, "unknown");

    // The HTTP view matches the library view.
    let url = format!("{}/_fake/requests", f.origin());
    let http: Vec<behest_fakes::RecordedRequest> = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(http, recs);
    let raw: Value = client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut keys: Vec<&String> = raw[0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["body", "headers", "method", "path", "provider", "query"]
    );

    let resp = client().delete(&url).send().await.unwrap();
    assert!(resp.status().is_success());
    assert!(f.requests().await.is_empty());
    post(&f, "/v2/chat", COHERE_AUTH, cohere_body("again", false)).await;
    assert_eq!(f.requests().await.len(), 1);
    f.clear().await;
    assert!(f.requests().await.is_empty());
}

#[tokio::test]
async fn cut_drops_the_connection_without_a_terminal_event() {
    let f = FakeProviders::start().await.unwrap();
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        Value,
        &'static str,
    );
    let cases: [Case; 4] = [
        (
            "/v1/chat/completions",
            OPENAI_AUTH,
            openai_body("#cut", true),
            "[DONE]",
        ),
        (
            "/v1/messages",
            ANTHROPIC_AUTH,
            anthropic_body("#cut", true),
            "message_stop",
        ),
        (
            GEMINI_STREAM,
            GOOGLE_AUTH,
            gemini_body("#cut"),
            "finishReason",
        ),
        (
            "/v2/chat",
            COHERE_AUTH,
            cohere_body("#cut", true),
            "message-end",
        ),
    ];
    for (path, auth, body, terminal) in cases {
        let resp = post(&f, path, auth, body).await;
        assert_eq!(resp.status(), 200);
        let (raw, clean) = read_body(resp).await;
        assert!(!clean, "{path}: body should end with a transport error");
        assert!(!raw.contains(terminal), "{path}: {raw:?}");
        let events = parse_sse(&raw);
        assert!(events.len() >= 2, "{path}: {raw:?}");
    }
}

#[tokio::test]
async fn slow_spaces_events_by_150ms() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(
        &f,
        "/v1/messages",
        ANTHROPIC_AUTH,
        anthropic_body("#slow", true),
    )
    .await;
    let started = Instant::now();
    let (raw, clean) = read_body(resp).await;
    let elapsed = started.elapsed();
    assert!(clean);
    let n = parse_sse(&raw).len();
    // Headers arrive with the first event; each later event waits 150 ms.
    let min = Duration::from_millis(150 * (n as u64 - 1));
    assert!(
        elapsed >= min - Duration::from_millis(20),
        "{elapsed:?} < {min:?}"
    );

    let resp = post(
        &f,
        "/v1/messages",
        ANTHROPIC_AUTH,
        anthropic_body("fast", true),
    )
    .await;
    let started = Instant::now();
    read_body(resp).await;
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn hang_delays_the_response_headers() {
    let f = FakeProviders::start().await.unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(700))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client
        .post(format!("{}/v2/chat", f.origin()))
        .header("authorization", "Bearer k")
        .json(&cohere_body("#hang", false))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(650));
    // It was recorded before it hung.
    assert_eq!(f.requests().await.len(), 1);
}

#[tokio::test]
async fn dropping_stops_the_server() {
    let f = FakeProviders::start().await.unwrap();
    let addr = f.addr();
    drop(f);
    let mut refused = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "server still accepting after drop");
}

#[tokio::test]
async fn wrong_method_and_bad_json() {
    let f = FakeProviders::start().await.unwrap();
    let resp = client()
        .get(format!("{}/v1/chat/completions", f.origin()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    let resp = client()
        .post(format!("{}/v2/chat", f.origin()))
        .header("authorization", "Bearer k")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(resp.json::<Value>().await.unwrap()["message"].is_string());
    assert_eq!(f.requests().await[1].body, json!("not json"));
}

/// Kills the child process when dropped, so a failing assertion does not leak it.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The example program, which `cargo test` (and nextest) builds beside the tests:
/// `target/<profile>/examples/`, next to this test's `target/<profile>/deps/`.
fn example_program() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let program = profile_dir.join("examples").join(format!(
        "behest-fake-providers{}",
        std::env::consts::EXE_SUFFIX
    ));
    assert!(
        program.exists(),
        "{} is missing: build the example first (cargo test builds it)",
        program.display()
    );
    program
}

#[tokio::test]
async fn program_prints_listening_line_and_serves() {
    use std::io::BufRead;
    let mut child = KillOnDrop(
        std::process::Command::new(example_program())
            .args(["--listen", "127.0.0.1:0"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap();
        line
    })
    .await
    .unwrap();
    let origin = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    assert!(origin.starts_with("http://127.0.0.1:"), "{line:?}");
    assert_ne!(origin, "http://127.0.0.1:0");
    let resp = client()
        .post(format!("{origin}/v1/messages"))
        .header("x-api-key", "k")
        .header("anthropic-version", "2023-06-01")
        .json(&anthropic_body("bin", false))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["content"][0]["text"], "Hello from anthropic: bin");
}
