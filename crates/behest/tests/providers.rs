//! The real binary against fake providers that speak each documented wire format
//! (`behest-fakes`): answers, streams, tool calls, errors, the system prompt and the
//! credentials each provider receives; retries, timeouts; a client that goes away
//! cancels its upstream; shutdown drains open streams.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use behest_testkit::Tests;

use behest_fakes::FakeProviders;
use common::{Account, Backend, ProjectFixture, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn config(fakes: &FakeProviders, extra: &str) -> String {
    let openai = fakes.openai_base_url();
    let origin = fakes.origin();
    format!(
        "drain_secs = 1\n{extra}\n\
         [upstream]\nfirst_byte_timeout_ms = 1500\nidle_timeout_ms = 1000\nmax_retries = 1\n\
         [providers.openai]\napi_key = \"sk-openai-test\"\nbase_url = \"{openai}\"\n\
         [providers.openrouter]\napi_key = \"sk-or-test\"\nbase_url = \"{openai}\"\n\
         [providers.mistral]\napi_key = \"mistral-test\"\nbase_url = \"{openai}\"\n\
         [providers.anthropic]\napi_key = \"sk-ant-test\"\nbase_url = \"{origin}\"\n\
         [providers.google]\napi_key = \"goog-test\"\nbase_url = \"{origin}\"\n\
         [providers.cohere]\napi_key = \"co-test\"\nbase_url = \"{origin}\"\n"
    )
}

/// (model, the fake's provider name, the header carrying the key, its expected value)
const MODELS: &[(&str, &str, &str, &str)] = &[
    (
        "gpt-4o-mini",
        "openai",
        "authorization",
        "Bearer sk-openai-test",
    ),
    (
        "openai/gpt-4o",
        "openai",
        "authorization",
        "Bearer sk-or-test",
    ),
    (
        "mistral-small-latest",
        "openai",
        "authorization",
        "Bearer mistral-test",
    ),
    (
        "claude-sonnet-4-20250514",
        "anthropic",
        "x-api-key",
        "sk-ant-test",
    ),
    ("gemini-2.5-flash", "google", "x-goog-api-key", "goog-test"),
    ("command-r", "cohere", "authorization", "Bearer co-test"),
];

fn user(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": text}]})
}

fn streamed(mut body: Value) -> Value {
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    body
}

fn chunks(text: &str) -> (Vec<Value>, bool) {
    let events: Vec<&str> = text
        .split("\n\n")
        .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .collect();
    let done = events.last() == Some(&"[DONE]");
    (
        events
            .iter()
            .filter(|e| **e != "[DONE]")
            .map(|e| serde_json::from_str(e).unwrap())
            .collect(),
        done,
    )
}

fn content(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect()
}

async fn use_model(server: &Server, account: &Account, project: &ProjectFixture, model: &str) {
    let r = server
        .settings(
            account,
            &project.id,
            "PUT",
            "/model",
            Some(json!({"provider_model": model})),
        )
        .await;
    assert_eq!(r.status, 200, "{model}: {r:?}");
}

fn weather_tool() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])
}

async fn every_provider(backend: Backend) {
    let fakes = FakeProviders::start().await.unwrap();
    let server = Server::start_with(backend, &[], &config(&fakes, "")).await;
    let account = server.signup("providers@example.com").await;
    let project = server.project_with_token(&account, "Providers").await;
    server
        .deploy_settings(
            &account,
            &project.id,
            json!({"system_prompt": "You are terse."}),
        )
        .await;

    for &(model, fake, key_header, key_value) in MODELS {
        use_model(&server, &account, &project, model).await;
        fakes.clear().await;

        // JSON answer.
        let r = server
            .chat(&project.slug, &project.token, user("Hi there"))
            .await;
        assert_eq!(r.status, 200, "{model}: {r:?}");
        assert_eq!(
            r.body["choices"][0]["message"]["content"],
            format!("Hello from {fake}: Hi there"),
            "{model}"
        );
        assert_eq!(r.body["choices"][0]["finish_reason"], "stop", "{model}");
        assert_eq!(
            (
                r.body["usage"]["prompt_tokens"].as_u64(),
                r.body["usage"]["completion_tokens"].as_u64()
            ),
            (Some(11), Some(7)),
            "{model}"
        );
        assert_eq!(r.body["object"], "chat.completion");

        // What the provider received: its own credentials, the system prompt first.
        let seen = fakes.requests().await;
        assert_eq!(seen.len(), 1, "{model}");
        assert_eq!(
            seen[0].headers.get(key_header).map(String::as_str),
            Some(key_value),
            "{model}"
        );
        let body = serde_json::to_string(&seen[0].body).unwrap();
        assert!(
            body.contains("You are terse."),
            "{model}: system prompt not sent: {body}"
        );
        assert!(
            !body.contains("behest_sk_live_")
                && !seen[0].headers.values().any(|v| v.contains(&project.token)),
            "{model}: our credentials leaked upstream"
        );

        // Streamed, with usage.
        let r = server
            .chat(&project.slug, &project.token, streamed(user("Stream this")))
            .await;
        assert_eq!(r.status, 200, "{model}: {r:?}");
        let (parts, done) = chunks(&r.text);
        assert!(done, "{model}: no [DONE]: {}", r.text);
        assert_eq!(
            content(&parts),
            format!("Hello from {fake}: Stream this"),
            "{model}"
        );
        let last = parts.last().unwrap();
        assert_eq!(
            (
                last["choices"].clone(),
                last["usage"]["completion_tokens"].as_u64()
            ),
            (json!([]), Some(7)),
            "{model}: usage chunk"
        );
        assert!(
            parts
                .iter()
                .any(|c| c["choices"][0]["finish_reason"] == "stop"),
            "{model}"
        );

        // Tool calls, both ways.
        let mut tool_call = user("Weather in Paris? #tool");
        tool_call["tools"] = weather_tool();
        let r = server
            .chat(&project.slug, &project.token, tool_call.clone())
            .await;
        assert_eq!(r.status, 200, "{model}: {r:?}");
        let call = &r.body["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["name"], "get_weather", "{model}");
        let args: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
        assert_eq!(args, json!({"city": "Paris"}), "{model}");
        assert_eq!(
            r.body["choices"][0]["finish_reason"], "tool_calls",
            "{model}"
        );
        let r = server
            .chat(&project.slug, &project.token, streamed(tool_call))
            .await;
        let (parts, done) = chunks(&r.text);
        assert!(done, "{model}");
        let streamed_args: String = parts
            .iter()
            .filter_map(|c| {
                c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            })
            .collect();
        assert_eq!(
            serde_json::from_str::<Value>(&streamed_args).unwrap(),
            json!({"city": "Paris"}),
            "{model}"
        );
        assert!(
            parts
                .iter()
                .any(|c| c["choices"][0]["finish_reason"] == "tool_calls"),
            "{model}"
        );

        // Provider errors keep the provider's message.
        let r = server
            .chat(&project.slug, &project.token, user("#error:400"))
            .await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (400, "upstream_error"),
            "{model}: {r:?}"
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(&format!("fake {fake} error 400")),
            "{model}: {r:?}"
        );
        let r = server
            .chat(&project.slug, &project.token, user("#error:500"))
            .await;
        assert_eq!(
            (r.status, r.error_code().as_str()),
            (502, "upstream_error"),
            "{model}"
        );
        let r = server
            .chat(&project.slug, &project.token, user("#error:429"))
            .await;
        assert_eq!(
            (
                r.status,
                r.headers
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned())
            ),
            (429, Some("1".to_owned())),
            "{model}"
        );

        // A stream that fails midway ends with an error event, not a hang or a [DONE].
        for phrase in ["#stream-error", "#cut"] {
            let started = Instant::now();
            let r = server
                .chat(&project.slug, &project.token, streamed(user(phrase)))
                .await;
            assert_eq!(r.status, 200, "{model} {phrase}");
            let (parts, done) = chunks(&r.text);
            assert!(
                !done,
                "{model} {phrase}: a failed stream must not end with [DONE]: {}",
                r.text
            );
            assert!(
                parts.last().unwrap()["error"]["message"].is_string(),
                "{model} {phrase}: {}",
                r.text
            );
            // What the provider streamed before failing reached the client first, even
            // when the relay read it in one burst with the failure.
            assert!(
                !content(&parts[..parts.len() - 1]).is_empty(),
                "{model} {phrase}: {}",
                r.text
            );
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{model} {phrase}"
            );
        }
    }
    server.stop().await;
}
async fn retries_timeouts_and_refusals() {
    let fakes = FakeProviders::start().await.unwrap();
    let server = Server::start_with(Backend::Sqlite, &[], &config(&fakes, "")).await;
    let account = server.signup("retries@example.com").await;
    let project = server.project_with_token(&account, "Retries").await;
    use_model(&server, &account, &project, "gpt-4o-mini").await;

    // One 503, then success: retried once, invisibly.
    fakes.clear().await;
    let r = server
        .chat(&project.slug, &project.token, user("#flaky:1 please"))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(fakes.requests().await.len(), 2);

    // A provider that never answers: 504 upstream_timeout after first_byte_timeout.
    let started = Instant::now();
    let r = server
        .chat(&project.slug, &project.token, user("#hang"))
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (504, "upstream_timeout")
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // Embeddings go to the provider's OpenAI-compatible endpoint with its key.
    fakes.clear().await;
    let r = server
        .call(
            "POST",
            &format!("/p/{}/v1/embeddings", project.slug),
            Some(&project.token),
            Some(json!({"model": "text-embedding-3-small", "input": ["one", "two"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["data"][0]["embedding"].as_array().unwrap().len(), 8);
    let seen = fakes.requests().await;
    assert_eq!(
        (seen[0].path.as_str(), seen[0].body["model"].as_str()),
        ("/v1/embeddings", Some("text-embedding-3-small"))
    );
    let r = server
        .call(
            "POST",
            &format!("/p/{}/v1/embeddings", project.slug),
            Some(&project.token),
            Some(json!({"model": "anthropic:claude", "input": "x"})),
        )
        .await;
    assert_eq!((r.status, r.param().as_deref()), (400, Some("model")));
    let r = server
        .call(
            "POST",
            &format!("/p/{}/v1/embeddings", project.slug),
            Some(&project.token),
            Some(json!({"model": "text-embedding-3-small", "input": []})),
        )
        .await;
    assert_eq!((r.status, r.param().as_deref()), (400, Some("input")));

    // Nothing that fails authentication or CORS reaches the provider.
    fakes.clear().await;
    for token in ["garbage", &project.key, &account.session] {
        let r = server.chat(&project.slug, token, user("hi")).await;
        assert_eq!(r.status, 401);
    }
    server
        .deploy_settings(
            &account,
            &project.id,
            json!({"cors_origins": ["http://localhost:3000"]}),
        )
        .await;
    let r = server
        .http
        .post(server.url(&format!("/p/{}/v1/chat/completions", project.slug)))
        .header("origin", "http://evil.example")
        .bearer_auth(&project.token)
        .json(&user("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        fakes.requests().await.is_empty(),
        "refused requests reached the provider"
    );
    server.stop().await;
}

/// An OpenAI-style upstream that streams one chunk every 50 ms for as long as the
/// connection lives, and reports when it finds the connection closed.
async fn endless_upstream() -> (String, tokio::sync::mpsc::UnboundedReceiver<Instant>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let (closed_tx, closed_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let closed = closed_tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = socket.read(&mut buf).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = r#"data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"tick "},"finish_reason":null}]}"#;
                let frame = format!("{chunk}\n\n");
                let framed = format!("{:x}\r\n{frame}\r\n", frame.len());
                loop {
                    if socket.write_all(framed.as_bytes()).await.is_err()
                        || socket.flush().await.is_err()
                    {
                        let _ = closed.send(Instant::now());
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
    });
    (base, closed_rx)
}

async fn endless_server() -> (
    Server,
    ProjectFixture,
    tokio::sync::mpsc::UnboundedReceiver<Instant>,
) {
    let (base, closed) = endless_upstream().await;
    let config = format!(
        "drain_secs = 1\n[upstream]\nidle_timeout_ms = 5000\n[providers.openai]\napi_key = \"sk-endless\"\nbase_url = \"{base}\"\n"
    );
    let server = Server::start_with(Backend::Sqlite, &[], &config).await;
    let account = server.signup("endless@example.com").await;
    let project = server.project_with_token(&account, "Endless").await;
    use_model(&server, &account, &project, "gpt-4o-mini").await;
    (server, project, closed)
}

async fn open_stream(server: &Server, project: &ProjectFixture) -> reqwest::Response {
    let response = server
        .http
        .post(server.url(&format!("/p/{}/v1/chat/completions", project.slug)))
        .bearer_auth(&project.token)
        .json(&streamed(user("go on forever")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response
}

async fn a_client_that_goes_away_cancels_the_upstream() {
    let (server, project, mut closed) = endless_server().await;
    let mut response = open_stream(&server, &project).await;
    let first = response.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("tick"));
    let dropped_at = Instant::now();
    drop(response);
    let upstream_closed = tokio::time::timeout(Duration::from_secs(3), closed.recv())
        .await
        .expect("the upstream connection was never closed")
        .unwrap();
    assert!(upstream_closed.duration_since(dropped_at) < Duration::from_secs(2));
    // Exactly one outcome, and it says the client left.
    let outcomes = server.outcome_lines();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert!(
        outcomes[0].contains("ending=\"client_gone\""),
        "{outcomes:?}"
    );
    assert!(outcomes[0].contains("status=200"), "{outcomes:?}");
    server.stop().await;
}

async fn shutdown_drains_open_streams_then_exits() {
    let (mut server, project, _closed) = endless_server().await;
    let mut response = open_stream(&server, &project).await;
    assert!(response.chunk().await.unwrap().is_some());
    let started = Instant::now();
    let pid = server.child().id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();

    // The stream keeps flowing until the drain deadline (1 s), then ends with an error event.
    let mut rest = Vec::new();
    while let Some(chunk) = tokio::time::timeout(Duration::from_secs(10), response.chunk())
        .await
        .unwrap()
        .unwrap()
    {
        rest.extend_from_slice(&chunk);
    }
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("tick"), "the stream went on while draining");
    assert!(rest.contains("server_shutting_down"), "{rest}");
    assert!(!rest.contains("[DONE]"));
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    let status = server.terminate_wait().await;
    assert!(status.success(), "{status:?}");
}

/// A server that counts its connections and answers every request with `response`.
async fn canned(
    response: &'static str,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (origin, hits)
}

async fn upstream_redirects_are_not_followed() {
    let (target, target_hits) = canned("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await;
    let redirect: &'static str = Box::leak(
        format!("HTTP/1.1 307 Temporary Redirect\r\nlocation: {target}/v1/chat/completions\r\ncontent-length: 0\r\n\r\n").into_boxed_str(),
    );
    let (redirector, _) = canned(redirect).await;
    let config = format!("[upstream]\nmax_retries = 0\n[providers.openai]\napi_key = \"sk-redirect\"\nbase_url = \"{redirector}/v1\"\n");
    let server = Server::start_with(Backend::Sqlite, &[], &config).await;
    let account = server.signup("redirect@example.com").await;
    let project = server.project_with_token(&account, "Redirect").await;
    use_model(&server, &account, &project, "gpt-4o-mini").await;
    let r = server
        .chat(&project.slug, &project.token, user("go elsewhere"))
        .await;
    assert_eq!(
        (r.status, r.error_code().as_str()),
        (502, "upstream_error"),
        "{r:?}"
    );
    assert_eq!(
        target_hits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the redirect was followed"
    );
    server.stop().await;
}

/// An OpenAI-format upstream that sends its stream one HTTP chunk per event, as the
/// providers do: the first `split` events at once, then after a pause the rest.
async fn bursty_upstream(events: usize, split: usize, pause: Duration) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let chunk = |event: String| format!("{:x}\r\n{event}\r\n", event.len());
    let event = |i: usize| {
        chunk(format!(
            "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"w{i} \"}},\"finish_reason\":null}}]}}\n\n"
        ))
    };
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
    let first: String = std::iter::once(head.to_owned())
        .chain((0..split).map(event))
        .collect();
    let finish = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    let rest: String = (split..events)
        .map(event)
        .chain([
            chunk(finish.to_owned()),
            chunk("data: [DONE]\n\n".to_owned()),
        ])
        .chain(["0\r\n\r\n".to_owned()])
        .collect();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let (first, rest) = (first.clone(), rest.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(first.as_bytes()).await;
                tokio::time::sleep(pause).await;
                let _ = socket.write_all(rest.as_bytes()).await;
            });
        }
    });
    origin
}

/// The body chunks of a chunked HTTP/1.1 response read raw off the socket.
async fn raw_chunks(port: u16, path: &str, token: &str, body: &Value) -> Vec<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let body = body.to_string();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    socket.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, mut rest) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("transfer-encoding: chunked"),
        "{head}"
    );
    let mut chunks = Vec::new();
    loop {
        let (size, after) = rest.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return chunks;
        }
        chunks.push(after[..size].to_owned());
        rest = &after[size + 2..];
    }
}

async fn a_burst_of_events_goes_out_in_few_frames_and_nothing_waits_for_more() {
    let upstream = bursty_upstream(40, 20, Duration::from_millis(400)).await;
    let config =
        format!("[providers.openai]\napi_key = \"sk-burst\"\nbase_url = \"{upstream}/v1\"\n");
    let server = Server::start_with(Backend::Sqlite, &[], &config).await;
    let account = server.signup("burst@example.com").await;
    let project = server.project_with_token(&account, "Burst").await;
    use_model(&server, &account, &project, "gpt-4o-mini").await;
    let path = format!("/p/{}/v1/chat/completions", project.slug);
    let chunks = raw_chunks(server.port, &path, &project.token, &streamed(user("burst"))).await;
    let text: String = chunks.concat();
    let (parts, done) = self::chunks(&text);
    assert!(done, "{text}");
    let words: String = (0..40).map(|i| format!("w{i} ")).collect();
    assert_eq!(content(&parts), words, "every event, in order");
    // 42 upstream events in two bursts: each burst is relayed as a frame or a few (a
    // frame per event would be 42; 4-5 here, the bound leaves room for a loaded
    // machine), and the first burst went out before the second existed (the relay took
    // what was ready and did not wait for more).
    assert!(
        (2..=21).contains(&chunks.len()),
        "{} frames for 42 events in two bursts",
        chunks.len()
    );
    eprintln!("{} frames for 42 events in two bursts", chunks.len());
    let first_burst = chunks.iter().take_while(|c| !c.contains("w20 ")).count();
    assert!(first_burst >= 1 && first_burst < chunks.len(), "{chunks:?}");
    server.stop().await;
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .on_both_backends("every_provider", &[], every_provider)
        .add(
            "retries_timeouts_and_refusals",
            &[],
            retries_timeouts_and_refusals,
        )
        .add(
            "a_client_that_goes_away_cancels_the_upstream",
            &[],
            a_client_that_goes_away_cancels_the_upstream,
        )
        .add(
            "shutdown_drains_open_streams_then_exits",
            &[],
            shutdown_drains_open_streams_then_exits,
        )
        .add(
            "upstream_redirects_are_not_followed",
            &[],
            upstream_redirects_are_not_followed,
        )
        .add(
            "a_burst_of_events_goes_out_in_few_frames_and_nothing_waits_for_more",
            &[],
            a_burst_of_events_goes_out_in_few_frames_and_nothing_waits_for_more,
        )
        .run()
}
