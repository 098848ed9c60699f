//! OpenAI Chat Completions and Embeddings.

use crate::common::*;

#[tokio::test]
async fn non_streamed_completion_has_documented_fields() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(
        &f,
        "/v1/chat/completions",
        OPENAI_AUTH,
        openai_body("hi there", false),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["model"], "gpt-4o-mini");
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Hello from openai: hi there");
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(
        v["usage"],
        json!({"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18})
    );
}

#[tokio::test]
async fn array_content_parts_are_read() {
    let f = FakeProviders::start().await.unwrap();
    let body = json!({"model": "m", "messages": [
        {"role": "user", "content": [{"type": "text", "text": "from parts"}]}]});
    let v: Value = post(&f, "/v1/chat/completions", OPENAI_AUTH, body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from openai: from parts"
    );
}

#[tokio::test]
async fn stream_with_include_usage() {
    let f = FakeProviders::start().await.unwrap();
    let mut body = openai_body("stream me", true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = post(&f, "/v1/chat/completions", OPENAI_AUTH, body).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let (raw, clean) = read_body(resp).await;
    assert!(clean);
    assert!(raw.starts_with("data: {"), "{raw:?}");
    assert!(raw.ends_with("\n\ndata: [DONE]\n\n"), "{raw:?}");
    assert!(!raw.contains('\r'));
    let events = parse_sse(&raw);
    assert!(events.iter().all(|e| e.name.is_none()));
    let (done, chunks) = events.split_last().unwrap();
    assert_eq!(done.data, "[DONE]");
    let chunks: Vec<Value> = chunks.iter().map(Event::json).collect();
    let (usage_chunk, rest) = chunks.split_last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(
        usage_chunk["usage"],
        json!({"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18})
    );
    for c in rest {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert!(c.get("usage").is_some() && c["usage"].is_null(), "{c}");
        assert_eq!(c["id"], usage_chunk["id"]);
    }
    assert_eq!(rest[0]["choices"][0]["delta"]["role"], "assistant");
    let pieces: Vec<&str> = rest
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .filter(|s| !s.is_empty())
        .collect();
    assert!(pieces.len() >= 3, "{pieces:?}");
    assert_eq!(pieces.concat(), "Hello from openai: stream me");
    let last = rest.last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert!(rest[..rest.len() - 1]
        .iter()
        .all(|c| c["choices"][0]["finish_reason"].is_null()));
}

#[tokio::test]
async fn stream_without_include_usage_has_no_usage_field() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(
        &f,
        "/v1/chat/completions",
        OPENAI_AUTH,
        openai_body("x", true),
    )
    .await;
    let (raw, _) = read_body(resp).await;
    let events = parse_sse(&raw);
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Event::json).collect();
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert!(chunks
        .iter()
        .all(|c| c["choices"].as_array().unwrap().len() == 1));
}

#[tokio::test]
async fn tool_call_non_streamed_and_streamed() {
    let f = FakeProviders::start().await.unwrap();
    let v: Value = post(
        &f,
        "/v1/chat/completions",
        OPENAI_AUTH,
        openai_body("weather? #tool", false),
    )
    .await
    .json()
    .await
    .unwrap();
    let choice = &v["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Paris"}));

    let resp = post(
        &f,
        "/v1/chat/completions",
        OPENAI_AUTH,
        openai_body("weather? #tool", true),
    )
    .await;
    let (raw, _) = read_body(resp).await;
    let events = parse_sse(&raw);
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1].iter().map(Event::json).collect();
    let first = &chunks[0]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(first["index"], 0);
    assert_eq!(first["function"]["name"], "get_weather");
    assert!(first["id"].as_str().unwrap().starts_with("call_"));
    let fragments: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str())
        .filter(|s| !s.is_empty())
        .collect();
    assert!(fragments.len() >= 2, "{fragments:?}");
    let args: Value = serde_json::from_str(&fragments.concat()).unwrap();
    assert_eq!(args, json!({"city": "Paris"}));
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn tool_is_not_repeated_after_a_tool_result() {
    let f = FakeProviders::start().await.unwrap();
    let body = json!({"model": "m", "messages": [
        {"role": "user", "content": "weather? #tool"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]});
    let v: Value = post(&f, "/v1/chat/completions", OPENAI_AUTH, body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        v["choices"][0]["message"]["content"],
        "Hello from openai: weather? #tool"
    );
}

#[tokio::test]
async fn error_modes_have_status_and_body() {
    let f = FakeProviders::start().await.unwrap();
    for (code, kind) in [
        (429u16, "requests"),
        (500, "server_error"),
        (400, "invalid_request_error"),
    ] {
        let resp = post(
            &f,
            "/v1/chat/completions",
            OPENAI_AUTH,
            openai_body(&format!("boom #error:{code}"), true),
        )
        .await;
        assert_eq!(resp.status().as_u16(), code);
        let retry = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(retry.as_deref(), (code == 429).then_some("1"));
        let v: Value = resp.json().await.unwrap();
        let err = v["error"].as_object().unwrap();
        assert_eq!(err.len(), 4, "{v}");
        assert_eq!(v["error"]["message"], format!("fake openai error {code}"));
        assert_eq!(v["error"]["type"], kind);
        assert!(v["error"]["param"].is_null());
        assert!(err.contains_key("code"));
    }
}

#[tokio::test]
async fn mid_stream_error_is_a_data_error_event_without_done() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(
        &f,
        "/v1/chat/completions",
        OPENAI_AUTH,
        openai_body("#stream-error", true),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (raw, _) = read_body(resp).await;
    assert!(!raw.contains("[DONE]"));
    let events = parse_sse(&raw);
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(events[0].json()["choices"][0]["delta"]["role"], "assistant");
    assert!(events[1].json()["choices"][0]["delta"]["content"].is_string());
    let err = events[2].json();
    assert_eq!(err["error"]["type"], "server_error");
    assert!(err["error"]["message"].is_string());
    assert!(err.get("choices").is_none());
}

#[tokio::test]
async fn missing_bearer_is_401() {
    let f = FakeProviders::start().await.unwrap();
    for headers in [
        &[][..],
        &[("authorization", "Basic abc")][..],
        &[("authorization", "Bearer ")][..],
    ] {
        let resp = post(
            &f,
            "/v1/chat/completions",
            headers,
            openai_body("hi", false),
        )
        .await;
        assert_eq!(resp.status(), 401);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert!(v["error"]["message"].as_str().unwrap().contains("API key"));
    }
}

#[tokio::test]
async fn embeddings_float_and_base64() {
    let f = FakeProviders::start().await.unwrap();
    let body = json!({"model": "text-embedding-3-small", "input": ["alpha", "beta"]});
    let v: Value = post(&f, "/v1/embeddings", OPENAI_AUTH, body.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "text-embedding-3-small");
    assert_eq!(v["usage"]["prompt_tokens"], 11);
    assert_eq!(v["usage"]["total_tokens"], 11);
    let data = v["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[1]["object"], "embedding");
    assert_eq!(data[1]["index"], 1);
    let a: Vec<f64> = serde_json::from_value(data[0]["embedding"].clone()).unwrap();
    let b: Vec<f64> = serde_json::from_value(data[1]["embedding"].clone()).unwrap();
    assert_eq!(a.len(), 8);
    assert_ne!(a, b);
    assert!(a.iter().all(|x| (-1.0..=1.0).contains(x)));
    // Deterministic: the same input gives the same vector.
    let again: Value = post(
        &f,
        "/v1/embeddings",
        OPENAI_AUTH,
        json!({"model": "m", "input": "alpha"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(again["data"][0]["embedding"], data[0]["embedding"]);
    // base64 is the little-endian f32 array of the same vector.
    let b64: Value = post(
        &f,
        "/v1/embeddings",
        OPENAI_AUTH,
        json!({"model": "m", "input": "alpha", "encoding_format": "base64"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let s = b64["data"][0]["embedding"].as_str().unwrap();
    assert_eq!(s.len(), 44); // 32 bytes -> 44 base64 chars
    let first = f32::from_le_bytes(decode_b64(s)[..4].try_into().unwrap());
    assert_eq!(f64::from(first), a[0]);
}

fn decode_b64(s: &str) -> Vec<u8> {
    const A: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let vals: Vec<u32> = s
        .trim_end_matches('=')
        .chars()
        .map(|c| A.find(c).unwrap() as u32)
        .collect();
    let mut out = Vec::new();
    for chunk in vals.chunks(4) {
        let mut n = 0u32;
        for (i, v) in chunk.iter().enumerate() {
            n |= v << (18 - 6 * i);
        }
        for i in 0..chunk.len() - 1 {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}
