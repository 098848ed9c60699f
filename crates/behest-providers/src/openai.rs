//! OpenAI-compatible adapter (OpenAI, OpenRouter, Mistral, vLLM, llama.cpp):
//! the request passes through with the model replaced; streams pass through
//! chunk by chunk, parsed only to observe usage and errors.
//!
//! Follows the OpenAI Chat Completions reference: `POST {base}/chat/completions`,
//! SSE `data:` lines ending with `data: [DONE]`, and `stream_options.include_usage`
//! adding a final chunk with `choices: []` and `usage`.

use serde_json::{Map, Value};

use crate::chunk_head::ChunkHeads;
use crate::error::{self, str_at, ProviderError};
use crate::sse::SseEvent;
use crate::types::{ChatChunk, ChatRequest, ChatResponse, EncodedRequest, Usage};
use crate::util::parse_json;

const PROVIDER: &str = "openai-compatible";

/// `Authorization: Bearer <key>`.
pub fn auth_headers(api_key: &str) -> Vec<(String, String)> {
    vec![("authorization".to_string(), format!("Bearer {api_key}"))]
}

/// The client's request with `model` replaced, unknown fields kept, and
/// `stream_options.include_usage` forced on for streams so usage is always
/// known (the decoder strips the usage chunk again if the client did not ask).
pub fn encode_request(req: &ChatRequest, model: &str) -> Result<EncodedRequest, ProviderError> {
    let mut body = serde_json::to_value(req)
        .map_err(|e| ProviderError::invalid("messages", format!("cannot encode request: {e}")))?;
    let stream = req.is_stream();
    if let Value::Object(obj) = &mut body {
        obj.insert("model".to_string(), Value::String(model.to_string()));
        if stream {
            let options = obj
                .entry("stream_options")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(o) = options {
                o.insert("include_usage".to_string(), Value::Bool(true));
            }
        }
    }
    Ok(EncodedRequest {
        path: "/chat/completions".to_string(),
        body,
        stream,
    })
}

/// A `chat.completion` body, passed through (unknown fields kept).
pub fn decode_response(status: u16, body: &[u8]) -> Result<ChatResponse, ProviderError> {
    if !(200..300).contains(&status) {
        return Err(decode_error(status, body));
    }
    // Nearly every answer is a `chat.completion`: read it straight into the type. An
    // error object or JSON of another shape takes the general path, so its refusal is
    // the one it always was.
    if let Ok(answer) = serde_json::from_slice::<ChatResponse>(body) {
        if answer.extra.get("error").is_none_or(Value::is_null) {
            return Ok(answer);
        }
    }
    let v = parse_json(PROVIDER, body)?;
    if v.get("error").is_some_and(|e| !e.is_null()) {
        return Err(decode_error(status, body));
    }
    serde_json::from_value(v)
        .map_err(|e| ProviderError::protocol(PROVIDER, format!("not a chat.completion: {e}")))
}

/// OpenAI's `{"error":{"message","type","param","code"}}`, also accepting the
/// flat `{"message": ...}` / `{"detail": ...}` bodies some compatible servers send.
pub fn decode_error(status: u16, body: &[u8]) -> ProviderError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let (message, kind) = error_fields(&v);
    error::upstream(PROVIDER, status, message, kind, body)
}

fn error_fields(v: &Value) -> (Option<String>, Option<String>) {
    let message = str_at(v, "/error/message")
        .or_else(|| str_at(v, "/error"))
        .or_else(|| str_at(v, "/message"))
        .or_else(|| str_at(v, "/detail"));
    let kind = str_at(v, "/error/type")
        .or_else(|| str_at(v, "/error/code"))
        .or_else(|| str_at(v, "/type"));
    (message, kind)
}

/// Stream state of the passthrough decoder.
#[derive(Debug)]
pub(crate) struct StreamState {
    heads: ChunkHeads,
    include_usage: bool,
    pub(crate) usage: Option<Usage>,
    pub(crate) done: bool,
    saw_finish: bool,
}

impl StreamState {
    pub(crate) fn new(_model: &str, include_usage: bool) -> Self {
        StreamState {
            heads: ChunkHeads::default(),
            include_usage,
            usage: None,
            done: false,
            saw_finish: false,
        }
    }

    pub(crate) fn event(
        &mut self,
        ev: &SseEvent,
        out: &mut Vec<ChatChunk>,
    ) -> Result<(), ProviderError> {
        let data = ev.data.trim();
        if data.is_empty() || self.done {
            return Ok(());
        }
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        // Nearly every event is a chunk: read it straight into the type, without the
        // intermediate `Value` tree, and its repeated head only once per stream.
        // Anything else (an error object, JSON that is not a chunk) takes the general
        // path, so its refusal is the one it always was.
        let mut chunk = match self.heads.parse(data) {
            Ok(chunk) if chunk.extra.get("error").is_none_or(|e| e.is_null()) => chunk,
            _ => general_event(data)?,
        };
        if let Some(u) = &chunk.usage {
            self.usage = Some(u.clone());
        }
        if chunk.choices.iter().any(|c| c.finish_reason.is_some()) {
            self.saw_finish = true;
        }
        if !self.include_usage {
            if chunk.choices.is_empty() && chunk.usage.is_some() {
                return Ok(());
            }
            chunk.usage = None;
        }
        out.push(chunk);
        Ok(())
    }

    pub(crate) fn end(&mut self, _out: &mut Vec<ChatChunk>) -> Result<(), ProviderError> {
        // Some compatible servers omit `[DONE]`; a finish_reason is then the
        // best evidence the answer is complete.
        if self.done || self.saw_finish {
            Ok(())
        } else {
            Err(ProviderError::protocol(
                PROVIDER,
                "stream ended before `data: [DONE]` or any finish_reason",
            ))
        }
    }
}

/// An event that did not read as a chunk: an error inside an HTTP-200 stream
/// (OpenRouter, vLLM, llama.cpp do this), invalid JSON, or JSON of another shape.
fn general_event(data: &str) -> Result<ChatChunk, ProviderError> {
    let v = parse_json(PROVIDER, data.as_bytes())?;
    if v.get("error").is_some_and(|e| !e.is_null()) {
        let (message, kind) = error_fields(&v);
        let code = v.pointer("/error/code").and_then(Value::as_u64);
        return Err(ProviderError::Upstream {
            provider: PROVIDER,
            status: 200,
            message: message.unwrap_or_else(|| data.to_string()),
            kind,
            retryable: code.is_some_and(|c| error::status_retryable(c as u16)),
        });
    }
    serde_json::from_value(v)
        .map_err(|e| ProviderError::protocol(PROVIDER, format!("not a chat.completion.chunk: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::WireFormat;
    use crate::testutil::{run_stream, run_stream_split_everywhere, strip_created};
    use serde_json::json;

    fn req(v: Value) -> ChatRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn encode_replaces_model_keeps_unknown_fields_and_forces_usage() {
        let r = req(json!({
            "model": "openai/gpt-4o",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}]}],
            "stream": true,
            "n": 2,
            "seed": 42,
            "logprobs": true,
            "response_format": {"type": "json_object"},
            "provider": {"order": ["openai"]}
        }));
        let enc = encode_request(&r, "gpt-4o").unwrap();
        assert_eq!(enc.path, "/chat/completions");
        assert!(enc.stream);
        assert_eq!(
            enc.body,
            json!({
                "model": "gpt-4o",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}]}],
                "stream": true,
                "stream_options": {"include_usage": true},
                "n": 2,
                "seed": 42,
                "logprobs": true,
                "response_format": {"type": "json_object"},
                "provider": {"order": ["openai"]}
            })
        );
        // Not streaming: no stream_options (OpenAI rejects them without `stream`).
        let enc = encode_request(&req(json!({"messages": []})), "m").unwrap();
        assert_eq!(enc.body, json!({"model": "m", "messages": []}));
        assert!(!enc.stream);
    }

    #[test]
    fn decode_response_passes_through_tool_calls_and_extras() {
        let body = json!({
            "id": "chatcmpl-abc",
            "object": "chat.completion",
            "created": 1741569952,
            "model": "gpt-4o-2024-08-06",
            "system_fingerprint": "fp_1",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                "logprobs": null,
                "finish_reason": "tool_calls"
            }],
            "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99, "prompt_tokens_details": {"cached_tokens": 0}}
        });
        let resp = decode_response(200, body.to_string().as_bytes()).unwrap();
        assert_eq!(resp.choices[0].finish_reason.as_deref(), Some("tool_calls"));
        assert_eq!(resp.usage.as_ref().unwrap().total_tokens, 99);
        assert_eq!(serde_json::to_value(&resp).unwrap(), body);
    }

    #[test]
    fn decode_error_bodies() {
        let body = br#"{"error": {"message": "Incorrect API key provided: sk-...", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}"#;
        let e = decode_error(401, body);
        assert_eq!(
            e,
            ProviderError::Upstream {
                provider: PROVIDER,
                status: 401,
                message: "Incorrect API key provided: sk-...".into(),
                kind: Some("invalid_request_error".into()),
                retryable: false
            }
        );
        let e = decode_response(429, br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#).unwrap_err();
        assert!(e.is_retryable());
        assert_eq!(
            e.to_openai_error()["error"]["message"],
            "Rate limit reached"
        );
        // Mistral's flat shape.
        let e = decode_error(422, br#"{"object":"error","message":"Invalid model: foo","type":"invalid_model","param":null,"code":"1500"}"#);
        assert!(
            matches!(e, ProviderError::Upstream { ref message, .. } if message == "Invalid model: foo")
        );
        // A 200 carrying an error object is still an error.
        let e = decode_response(
            200,
            br#"{"error":{"message":"upstream timeout","code":504}}"#,
        )
        .unwrap_err();
        assert!(
            matches!(e, ProviderError::Upstream { ref message, .. } if message == "upstream timeout")
        );
    }

    const TRANSCRIPT: &str = concat!(
        ": OPENROUTER PROCESSING\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]},\"finish_reason\":null}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],\"usage\":null}\n\n",
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5,\"total_tokens\":15}}\n\n",
        "data: [DONE]\n\n"
    );

    #[test]
    fn stream_events_that_are_not_chunks_keep_their_refusals() {
        let chunk = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n";
        // An error object mid-stream (it parses as a chunk with an `error` extra).
        let stream = format!("{chunk}data: {{\"error\":{{\"message\":\"overloaded\",\"type\":\"server_error\",\"code\":503}}}}\n\n");
        let e = run_stream(WireFormat::OpenAiCompatible, false, stream.as_bytes()).unwrap_err();
        assert!(
            matches!(e, ProviderError::Upstream { status: 200, ref message, retryable: true, .. } if message == "overloaded"),
            "{e:?}"
        );
        // `"error": null` is no error.
        let stream = format!(
            "{chunk}data: {{\"id\":\"c\",\"choices\":[],\"error\":null}}\n\ndata: [DONE]\n\n"
        );
        assert_eq!(
            run_stream(WireFormat::OpenAiCompatible, false, stream.as_bytes())
                .unwrap()
                .len(),
            2
        );
        // Not JSON, and JSON of another shape: protocol errors that say which.
        for (event, says) in [
            ("{not json", "invalid JSON from upstream"),
            ("[1, 2]", "not a chat.completion.chunk"),
        ] {
            let stream = format!("{chunk}data: {event}\n\n");
            let e = run_stream(WireFormat::OpenAiCompatible, false, stream.as_bytes()).unwrap_err();
            assert!(e.to_string().contains(says), "{event}: {e}");
        }
    }

    #[test]
    fn stream_passthrough_with_usage_requested() {
        let chunks = run_stream(WireFormat::OpenAiCompatible, true, TRANSCRIPT.as_bytes()).unwrap();
        assert_eq!(chunks.len(), 6);
        assert_eq!(
            chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            "{\"city\":"
        );
        assert_eq!(chunks[4]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            chunks[5],
            json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}})
        );
        // `"usage": null` on ordinary chunks is dropped, which clients treat alike.
        assert!(chunks[0].get("usage").is_none());
    }

    #[test]
    fn stream_strips_forced_usage_chunk_but_still_observes_usage() {
        let mut dec = WireFormat::OpenAiCompatible.stream_decoder("gpt-4o", false);
        let mut chunks = dec.feed(TRANSCRIPT.as_bytes()).unwrap();
        chunks.extend(dec.finish().unwrap());
        assert_eq!(chunks.len(), 5);
        assert!(chunks
            .iter()
            .all(|c| c.usage.is_none() && !c.choices.is_empty()));
        assert_eq!(dec.usage().map(|u| u.total_tokens), Some(15));
        assert!(dec.is_done());
    }

    #[test]
    fn stream_split_at_every_byte_matches_whole() {
        let whole = strip_created(
            run_stream(WireFormat::OpenAiCompatible, true, TRANSCRIPT.as_bytes()).unwrap(),
        );
        run_stream_split_everywhere(
            WireFormat::OpenAiCompatible,
            true,
            TRANSCRIPT.as_bytes(),
            &whole,
        );
    }

    #[test]
    fn stream_error_object_and_early_end() {
        let t = "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\ndata: {\"error\":{\"message\":\"Provider returned error\",\"code\":502},\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"error\"}]}\n\n";
        let e = run_stream(WireFormat::OpenAiCompatible, false, t.as_bytes()).unwrap_err();
        assert!(
            matches!(e, ProviderError::Upstream { status: 200, ref message, retryable: true, .. } if message == "Provider returned error")
        );

        let cut = &TRANSCRIPT[..TRANSCRIPT.find("{\\\"city").unwrap()];
        let e = run_stream(WireFormat::OpenAiCompatible, false, cut.as_bytes()).unwrap_err();
        assert!(matches!(e, ProviderError::Protocol { .. }), "{e:?}");
    }
}
