//! Google Gemini generateContent / streamGenerateContent.

use crate::common::*;

#[tokio::test]
async fn generate_content() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(&f, GEMINI_GEN, GOOGLE_AUTH, gemini_body("hi")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    let cand = &v["candidates"][0];
    assert_eq!(cand["content"]["role"], "model");
    assert_eq!(
        cand["content"]["parts"],
        json!([{"text": "Hello from google: hi"}])
    );
    assert_eq!(cand["finishReason"], "STOP");
    assert_eq!(
        v["usageMetadata"],
        json!({"promptTokenCount": 11, "candidatesTokenCount": 7, "totalTokenCount": 18})
    );
    assert_eq!(v["modelVersion"], "gemini-test");
}

#[tokio::test]
async fn last_user_content_is_used() {
    let f = FakeProviders::start().await.unwrap();
    let body = json!({"contents": [
        {"role": "user", "parts": [{"text": "first #error:500"}]},
        {"role": "model", "parts": [{"text": "ok"}]},
        {"role": "user", "parts": [{"text": "second"}, {"text": "part"}]}]});
    let v: Value = post(&f, GEMINI_GEN, GOOGLE_AUTH, body)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from google: second\npart"
    );
}

#[tokio::test]
async fn sse_stream_uses_crlf_data_lines_and_ends_with_finish_reason() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(&f, GEMINI_STREAM, GOOGLE_AUTH, gemini_body("stream")).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let (raw, clean) = read_body(resp).await;
    assert!(clean);
    assert!(raw.starts_with("data: {"));
    assert!(raw.ends_with("}\r\n\r\n"));
    assert!(!raw.contains("[DONE]"));
    let events = parse_sse(&raw);
    assert!(events.len() >= 3);
    assert!(events.iter().all(|e| e.name.is_none()));
    let chunks: Vec<Value> = events.iter().map(Event::json).collect();
    let text: String = chunks
        .iter()
        .map(|c| {
            c["candidates"][0]["content"]["parts"][0]["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(text, "Hello from google: stream");
    let (last, rest) = chunks.split_last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert!(rest
        .iter()
        .all(|c| c["candidates"][0].get("finishReason").is_none()));
    assert_eq!(last["usageMetadata"]["candidatesTokenCount"], 7);
    assert_eq!(last["usageMetadata"]["promptTokenCount"], 11);
    assert_eq!(last["usageMetadata"]["totalTokenCount"], 18);
}

#[tokio::test]
async fn stream_without_alt_sse_is_a_json_array() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(
        &f,
        "/v1beta/models/gemini-test:streamGenerateContent",
        GOOGLE_AUTH,
        gemini_body("arr"),
    )
    .await;
    let v: Value = resp.json().await.unwrap();
    let arr = v.as_array().unwrap();
    assert!(arr.len() >= 3);
    assert_eq!(arr.last().unwrap()["candidates"][0]["finishReason"], "STOP");
}

#[tokio::test]
async fn function_call() {
    let f = FakeProviders::start().await.unwrap();
    let v: Value = post(&f, GEMINI_GEN, GOOGLE_AUTH, gemini_body("#tool"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["candidates"][0]["content"]["parts"],
        json!([{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}])
    );
    assert_eq!(v["candidates"][0]["finishReason"], "STOP");

    let (raw, _) =
        read_body(post(&f, GEMINI_STREAM, GOOGLE_AUTH, gemini_body("#tool")).await).await;
    let events = parse_sse(&raw);
    let last = events.last().unwrap().json();
    assert_eq!(
        last["candidates"][0]["content"]["parts"][0]["functionCall"]["args"],
        json!({"city": "Paris"})
    );
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");

    // After a functionResponse the model answers in text.
    let body = json!({"contents": [
        {"role": "user", "parts": [{"text": "#tool"}]},
        {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"t": 20}}}]}]});
    let v: Value = post(&f, GEMINI_GEN, GOOGLE_AUTH, body)
        .await
        .json()
        .await
        .unwrap();
    assert!(v["candidates"][0]["content"]["parts"][0]["text"].is_string());
}

#[tokio::test]
async fn error_modes() {
    let f = FakeProviders::start().await.unwrap();
    for (code, status) in [
        (429u16, "RESOURCE_EXHAUSTED"),
        (500, "INTERNAL"),
        (400, "INVALID_ARGUMENT"),
    ] {
        let resp = post(
            &f,
            GEMINI_STREAM,
            GOOGLE_AUTH,
            gemini_body(&format!("#error:{code}")),
        )
        .await;
        assert_eq!(resp.status().as_u16(), code);
        assert_eq!(resp.headers().contains_key("retry-after"), code == 429);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(
            v,
            json!({"error": {"code": code, "message": format!("fake google error {code}"),
                   "status": status}})
        );
    }
}

#[tokio::test]
async fn mid_stream_error_chunk() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(&f, GEMINI_STREAM, GOOGLE_AUTH, gemini_body("#stream-error")).await;
    assert_eq!(resp.status(), 200);
    let (raw, _) = read_body(resp).await;
    let events = parse_sse(&raw);
    assert_eq!(events.len(), 2, "{raw:?}");
    let first = events[0].json();
    assert!(first["candidates"][0]["content"]["parts"][0]["text"].is_string());
    assert!(first["candidates"][0].get("finishReason").is_none());
    let err = events[1].json();
    assert_eq!(err["error"]["code"], 503);
    assert_eq!(err["error"]["status"], "UNAVAILABLE");
    assert!(err.get("candidates").is_none());
}

#[tokio::test]
async fn api_key_header_or_query_is_required() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(&f, GEMINI_GEN, &[], gemini_body("hi")).await;
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], 401);
    assert_eq!(v["error"]["status"], "UNAUTHENTICATED");
    // Bearer auth is not the Gemini API key.
    let resp = post(
        &f,
        GEMINI_GEN,
        &[("authorization", "Bearer x")],
        gemini_body("hi"),
    )
    .await;
    assert_eq!(resp.status(), 401);
    let resp = post(&f, &format!("{GEMINI_GEN}?key=abc"), &[], gemini_body("hi")).await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn unknown_gemini_method_is_404() {
    let f = FakeProviders::start().await.unwrap();
    let resp = post(
        &f,
        "/v1beta/models/gemini-test:countTokens",
        GOOGLE_AUTH,
        gemini_body("hi"),
    )
    .await;
    assert_eq!(resp.status(), 404);
    assert_eq!(f.requests().await[0].provider, "google");
}
