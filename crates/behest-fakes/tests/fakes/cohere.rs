//! Cohere v2 chat.

use crate::common::*;

fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_deref().unwrap()).collect()
}

#[tokio::test]
async fn non_streamed_chat() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(&f, "/v2/chat", COHERE_AUTH, cohere_body("hi", false)).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert!(v["id"].is_string());
    assert_eq!(v["finish_reason"], "COMPLETE");
    assert_eq!(v["message"]["role"], "assistant");
    assert_eq!(
        v["message"]["content"],
        json!([{"type": "text", "text": "Hello from cohere: hi"}])
    );
    let counts = json!({"input_tokens": 11, "output_tokens": 7});
    assert_eq!(
        v["usage"],
        json!({"billed_units": counts, "tokens": counts})
    );
}

#[tokio::test]
async fn streamed_chat_transcript() {
    let f = FakeProviders::start().await.unwrap();
    let body = json!({"model": "command-r", "stream": true, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "stream"}]}]});
    let resp = post(&f, "/v2/chat", COHERE_AUTH, body).await;
    assert_eq!(resp.status(), 200);
    let (raw, clean) = read_body(resp).await;
    assert!(clean);
    assert!(raw.starts_with("event: message-start\ndata: {"));
    let events = parse_sse(&raw);
    let n = names(&events);
    let deltas = n.iter().filter(|x| **x == "content-delta").count();
    assert!(deltas >= 3);
    let mut expected = vec!["message-start", "content-start"];
    expected.extend(std::iter::repeat_n("content-delta", deltas));
    expected.extend(["content-end", "message-end"]);
    assert_eq!(n, expected);
    for e in &events {
        assert_eq!(e.json()["type"], e.name.as_deref().unwrap());
    }
    assert_eq!(events[0].json()["delta"]["message"]["role"], "assistant");
    assert!(events[0].json()["id"].is_string());
    let text: String = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("content-delta"))
        .map(|e| {
            e.json()["delta"]["message"]["content"]["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(text, "Hello from cohere: stream");
    let end = events.last().unwrap().json();
    assert_eq!(end["delta"]["finish_reason"], "COMPLETE");
    assert_eq!(end["delta"]["usage"]["billed_units"]["output_tokens"], 7);
    assert_eq!(end["delta"]["usage"]["tokens"]["input_tokens"], 11);
}

#[tokio::test]
async fn tool_call_non_streamed_and_streamed() {
    let f = FakeProviders::start().await.unwrap();
    let v: Value = post(&f, "/v2/chat", COHERE_AUTH, cohere_body("#tool", false))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["finish_reason"], "TOOL_CALL");
    let call = &v["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "Paris"}));

    let (raw, _) =
        read_body(post(&f, "/v2/chat", COHERE_AUTH, cohere_body("#tool", true)).await).await;
    let events = parse_sse(&raw);
    let n = names(&events);
    assert_eq!(n[0], "message-start");
    assert_eq!(n[n.len() - 2..], ["tool-call-end", "message-end"]);
    let start = events
        .iter()
        .find(|e| e.name.as_deref() == Some("tool-call-start"))
        .unwrap()
        .json();
    assert_eq!(
        start["delta"]["message"]["tool_calls"]["function"]["name"],
        "get_weather"
    );
    let fragments: Vec<String> = events
        .iter()
        .filter(|e| e.name.as_deref() == Some("tool-call-delta"))
        .map(|e| {
            e.json()["delta"]["message"]["tool_calls"]["function"]["arguments"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(fragments.len() >= 2);
    let args: Value = serde_json::from_str(&fragments.concat()).unwrap();
    assert_eq!(args, json!({"city": "Paris"}));
    assert_eq!(
        events.last().unwrap().json()["delta"]["finish_reason"],
        "TOOL_CALL"
    );
}

#[tokio::test]
async fn error_modes() {
    let f = FakeProviders::start().await.unwrap();
    for code in [429u16, 500, 400] {
        let resp = post(
            &f,
            "/v2/chat",
            COHERE_AUTH,
            cohere_body(&format!("#error:{code}"), true),
        )
        .await;
        assert_eq!(resp.status().as_u16(), code);
        assert_eq!(resp.headers().contains_key("retry-after"), code == 429);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v, json!({"message": format!("fake cohere error {code}")}));
    }
}

#[tokio::test]
async fn mid_stream_error_closes_without_message_end() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(
        &f,
        "/v2/chat",
        COHERE_AUTH,
        cohere_body("#stream-error", true),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let (raw, _) = read_body(resp).await;
    let events = parse_sse(&raw);
    assert_eq!(
        names(&events),
        ["message-start", "content-start", "content-delta"]
    );
}

#[tokio::test]
async fn bearer_is_required() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(&f, "/v2/chat", &[], cohere_body("hi", false)).await;
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert!(v["message"].is_string());
    assert_eq!(v.as_object().unwrap().len(), 1);
}
