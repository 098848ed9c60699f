//! Shared helpers for the integration tests: a reqwest client and an SSE transcript parser.

use std::time::Duration;

pub use behest_fakes::FakeProviders;
pub use serde_json::{json, Value};

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// One parsed SSE event: the `event:` name (if any) and the `data:` payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub name: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {:?}", self.data))
    }
}

/// Parses an SSE body per the WHATWG rules used by the providers (LF or CRLF lines,
/// blank line dispatches). Asserts the transcript ends with a complete event.
pub fn parse_sse(raw: &str) -> Vec<Event> {
    let normalized = raw.replace("\r\n", "\n");
    assert!(
        normalized.is_empty() || normalized.ends_with("\n\n"),
        "stream does not end on an event boundary: {raw:?}"
    );
    let mut out = Vec::new();
    for block in normalized.split("\n\n").filter(|b| !b.is_empty()) {
        let mut name = None;
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event: ") {
                name = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("data: ") {
                data.push(v);
            } else {
                panic!("unexpected SSE line {line:?} in {raw:?}");
            }
        }
        out.push(Event {
            name,
            data: data.join("\n"),
        });
    }
    out
}

/// Reads a whole body; returns the text received and whether the body ended cleanly.
pub async fn read_body(resp: reqwest::Response) -> (String, bool) {
    use futures_util::StreamExt;
    let mut stream = resp.bytes_stream();
    let mut buf = Vec::new();
    let mut clean = true;
    while let Some(item) = stream.next().await {
        match item {
            Ok(b) => buf.extend_from_slice(&b),
            Err(_) => {
                clean = false;
                break;
            }
        }
    }
    (String::from_utf8(buf).unwrap(), clean)
}

pub async fn post(
    fakes: &FakeProviders,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> reqwest::Response {
    let mut req = client()
        .post(format!("{}{path}", fakes.origin()))
        .json(&body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

pub const OPENAI_AUTH: &[(&str, &str)] = &[("authorization", "Bearer sk-test")];
pub const ANTHROPIC_AUTH: &[(&str, &str)] = &[
    ("x-api-key", "sk-ant-test"),
    ("anthropic-version", "2023-06-01"),
];
pub const GOOGLE_AUTH: &[(&str, &str)] = &[("x-goog-api-key", "g-test")];
pub const COHERE_AUTH: &[(&str, &str)] = &[("authorization", "Bearer co-test")];

pub fn openai_body(text: &str, stream: bool) -> Value {
    json!({"model": "gpt-4o-mini", "stream": stream,
           "messages": [{"role": "system", "content": "be brief"},
                        {"role": "user", "content": text}]})
}

pub fn anthropic_body(text: &str, stream: bool) -> Value {
    json!({"model": "claude-test", "max_tokens": 64, "stream": stream,
           "messages": [{"role": "user", "content": text}]})
}

pub fn gemini_body(text: &str) -> Value {
    json!({"contents": [{"role": "user", "parts": [{"text": text}]}]})
}

pub fn cohere_body(text: &str, stream: bool) -> Value {
    json!({"model": "command-r", "stream": stream,
           "messages": [{"role": "user", "content": text}]})
}

pub const GEMINI_GEN: &str = "/v1beta/models/gemini-test:generateContent";
pub const GEMINI_STREAM: &str = "/v1beta/models/gemini-test:streamGenerateContent?alt=sse";
