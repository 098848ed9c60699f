//! Anthropic Messages.

use crate::common::*;

fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_deref().unwrap()).collect()
}

#[tokio::test]
async fn non_streamed_message() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(
        &f,
        "/v1/messages",
        ANTHROPIC_AUTH,
        anthropic_body("hi", false),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(v["model"], "claude-test");
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": "Hello from anthropic: hi"}])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert!(v["stop_sequence"].is_null());
    assert_eq!(v["usage"], json!({"input_tokens": 11, "output_tokens": 7}));
}

#[tokio::test]
async fn content_block_array_is_read() {
    let f = FakeProviders::start().await.unwrap();
    let body = json!({"model": "c", "max_tokens": 8, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "blocks"}]}]});
    let v: Value = post(&f, "/v1/messages", ANTHROPIC_AUTH, body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["content"][0]["text"], "Hello from anthropic: blocks");
}

#[tokio::test]
async fn streamed_text_transcript() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(
        &f,
        "/v1/messages",
        ANTHROPIC_AUTH,
        anthropic_body("stream", true),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (raw, clean) = read_body(resp).await;
    assert!(clean);
    assert!(raw.starts_with("event: message_start\ndata: {"), "{raw:?}");
    assert!(raw.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"));
    let events = parse_sse(&raw);
    let n = names(&events);
    assert_eq!(&n[..3], &["message_start", "content_block_start", "ping"]);
    let deltas = n.iter().filter(|x| **x == "content_block_delta").count();
    assert!(deltas >= 3);
    assert_eq!(
        &n[3..3 + deltas],
        vec!["content_block_delta"; deltas].as_slice()
    );
    assert_eq!(
        &n[3 + deltas..],
        &["content_block_stop", "message_delta", "message_stop"]
    );
    for e in &events {
        assert_eq!(
            e.json()["type"],
            e.name.as_deref().unwrap(),
            "type mirrors event name"
        );
    }
    let start = events[0].json();
    assert_eq!(start["message"]["role"], "assistant");
    assert_eq!(start["message"]["content"], json!([]));
    assert_eq!(start["message"]["usage"]["input_tokens"], 11);
    assert_eq!(
        events[1].json()["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = events[3..3 + deltas]
        .iter()
        .map(|e| {
            let d = e.json()["delta"].clone();
            assert_eq!(d["type"], "text_delta");
            d["text"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(text, "Hello from anthropic: stream");
    let md = events[events.len() - 2].json();
    assert_eq!(md["delta"]["stop_reason"], "end_turn");
    assert_eq!(md["usage"]["output_tokens"], 7);
}

#[tokio::test]
async fn tool_use_non_streamed_and_streamed() {
    let f = FakeProviders::start().await.unwrap();
    let v: Value = post(
        &f,
        "/v1/messages",
        ANTHROPIC_AUTH,
        anthropic_body("#tool", false),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["stop_reason"], "tool_use");
    let block = &v["content"][0];
    assert_eq!(block["type"], "tool_use");
    assert!(block["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(block["name"], "get_weather");
    assert_eq!(block["input"], json!({"city": "Paris"}));

    let resp = post(
        &f,
        "/v1/messages",
        ANTHROPIC_AUTH,
        anthropic_body("#tool", true),
    )
    .await;
    let (raw, _) = read_body(resp).await;
    let events = parse_sse(&raw);
    let start = events[1].json();
    assert_eq!(start["content_block"]["type"], "tool_use");
    assert_eq!(start["content_block"]["name"], "get_weather");
    assert_eq!(start["content_block"]["input"], json!({}));
    let fragments: Vec<String> = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content_block_delta"))
        .map(|e| {
            let d = e.json()["delta"].clone();
            assert_eq!(d["type"], "input_json_delta");
            d["partial_json"].as_str().unwrap().to_string()
        })
        .collect();
    assert!(fragments.len() >= 2);
    let args: Value = serde_json::from_str(&fragments.concat()).unwrap();
    assert_eq!(args, json!({"city": "Paris"}));
    let md = events[events.len() - 2].json();
    assert_eq!(md["delta"]["stop_reason"], "tool_use");
    assert_eq!(names(&events).last(), Some(&"message_stop"));
}

#[tokio::test]
async fn tool_is_not_repeated_after_tool_result() {
    let f = FakeProviders::start().await.unwrap();
    let body = json!({"model": "c", "max_tokens": 8, "messages": [
        {"role": "user", "content": "weather #tool"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
            "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
            "content": "sunny"}]}]});
    let v: Value = post(&f, "/v1/messages", ANTHROPIC_AUTH, body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["content"][0]["type"], "text");
}

#[tokio::test]
async fn error_modes() {
    let f = FakeProviders::start().await.unwrap();
    for (code, kind) in [
        (429u16, "rate_limit_error"),
        (500, "api_error"),
        (400, "invalid_request_error"),
        (529, "overloaded_error"),
    ] {
        let resp = post(
            &f,
            "/v1/messages",
            ANTHROPIC_AUTH,
            anthropic_body(&format!("#error:{code}"), false),
        )
        .await;
        assert_eq!(resp.status().as_u16(), code);
        assert_eq!(resp.headers().contains_key("retry-after"), code == 429);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(
            v,
            json!({"type": "error", "error": {"type": kind,
                   "message": format!("fake anthropic error {code}")}})
        );
    }
}

#[tokio::test]
async fn mid_stream_error_event() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(
        &f,
        "/v1/messages",
        ANTHROPIC_AUTH,
        anthropic_body("#stream-error", true),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (raw, _) = read_body(resp).await;
    let events = parse_sse(&raw);
    assert_eq!(
        names(&events),
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "error"
        ]
    );
    let err = events[4].json();
    assert_eq!(err["type"], "error");
    assert_eq!(err["error"]["type"], "overloaded_error");
    assert!(err["error"]["message"].is_string());
}

#[tokio::test]
async fn auth_and_version_headers_are_required() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(
        &f,
        "/v1/messages",
        &[("anthropic-version", "2023-06-01")],
        anthropic_body("hi", false),
    )
    .await;
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "authentication_error");
    // A bearer header is not Anthropic auth.
    let resp = post(
        &f,
        "/v1/messages",
        &[
            ("authorization", "Bearer x"),
            ("anthropic-version", "2023-06-01"),
        ],
        anthropic_body("hi", false),
    )
    .await;
    assert_eq!(resp.status(), 401);
    let resp = post(
        &f,
        "/v1/messages",
        &[("x-api-key", "k")],
        anthropic_body("hi", false),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("anthropic-version"));
}
