//! OpenAI Chat Completions and Embeddings wire format.
//!
//! Follows the OpenAI API reference: `chat.completion` objects, `chat.completion.chunk`
//! SSE (`data: {json}\n\n`, terminated by `data: [DONE]`), the `stream_options.include_usage`
//! usage-only final chunk (`choices: []`, other chunks `usage: null`), and error bodies
//! `{"error":{"message","type","param","code"}}`.

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::server::{
    bearer, content_text, Ctx, UserTurn, COMPLETION_TOKENS, PROMPT_TOKENS, TOOL_ARGS,
    TOOL_ARG_FRAGMENTS, TOOL_NAME,
};
use crate::sse::{self, StreamPlan};

pub(crate) fn check_auth(headers: &HeaderMap) -> Result<(), (StatusCode, String)> {
    match bearer(headers) {
        Some(_) => Ok(()),
        None => Err((
            StatusCode::UNAUTHORIZED,
            "You didn't provide an API key. You need to provide your API key in an \
             Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
                .to_string(),
        )),
    }
}

pub(crate) fn error_body(status: StatusCode, message: &str) -> Value {
    let (kind, code) = match status.as_u16() {
        401 => ("invalid_request_error", Value::Null),
        403 => ("permission_error", Value::Null),
        404 => ("invalid_request_error", json!("model_not_found")),
        429 => ("requests", json!("rate_limit_exceeded")),
        s if s >= 500 => ("server_error", Value::Null),
        _ => ("invalid_request_error", Value::Null),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

pub(crate) fn last_user(body: &Value) -> UserTurn {
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let text = messages
        .iter()
        .rev()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .find_map(|m| m.get("content").and_then(content_text))
        .unwrap_or_default();
    let after_tool_result = messages
        .last()
        .and_then(|m| m.get("role"))
        .and_then(Value::as_str)
        == Some("tool");
    UserTurn {
        text,
        after_tool_result,
    }
}

fn embedding_inputs(body: &Value) -> Vec<String> {
    match body.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if items.iter().all(Value::is_number) => {
            vec![Value::Array(items.clone()).to_string()]
        }
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(other) => vec![other.to_string()],
        None => Vec::new(),
    }
}

/// Control phrases for embeddings come from the inputs joined with `\n`.
pub(crate) fn embedding_turn(body: &Value) -> UserTurn {
    UserTurn {
        text: embedding_inputs(body).join("\n"),
        after_tool_result: false,
    }
}

/// Eight values in [-1, 1], multiples of 1/1024 (exact in f32 and JSON), from FNV-1a.
pub(crate) fn embedding_vector(input: &str) -> Vec<f32> {
    (0u8..8)
        .map(|i| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for b in input.bytes().chain(std::iter::once(i)) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            let k = i32::try_from(h % 2049).unwrap_or(0) - 1024;
            // k is within [-1024, 1024], so the conversion is exact.
            k as f32 / 1024.0
        })
        .collect()
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub(crate) fn embeddings(ctx: &Ctx, body: &Value) -> Value {
    let as_base64 = body.get("encoding_format").and_then(Value::as_str) == Some("base64");
    let data: Vec<Value> = embedding_inputs(body)
        .iter()
        .enumerate()
        .map(|(index, input)| {
            let vector = embedding_vector(input);
            let embedding = if as_base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                json!(base64(&bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "model": ctx.model,
        "usage": {"prompt_tokens": PROMPT_TOKENS, "total_tokens": PROMPT_TOKENS},
    })
}

fn completion_id(ctx: &Ctx) -> String {
    format!("chatcmpl-fake{:08}", ctx.seq)
}

fn call_id(ctx: &Ctx) -> String {
    format!("call_fake{:08}", ctx.seq)
}

fn usage() -> Value {
    json!({
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    })
}

pub(crate) fn complete(ctx: &Ctx) -> Value {
    let (message, finish) = if ctx.tool {
        (
            json!({
                "role": "assistant",
                "content": null,
                "tool_calls": [{
                    "id": call_id(ctx),
                    "type": "function",
                    "function": {"name": TOOL_NAME, "arguments": TOOL_ARGS},
                }],
                "refusal": null,
            }),
            "tool_calls",
        )
    } else {
        (
            json!({"role": "assistant", "content": ctx.reply_text(), "refusal": null}),
            "stop",
        )
    };
    json!({
        "id": completion_id(ctx),
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": usage(),
        "system_fingerprint": "fp_fake",
    })
}

fn chunk(ctx: &Ctx, choices: Value) -> Value {
    let mut v = json!({
        "id": completion_id(ctx),
        "object": "chat.completion.chunk",
        "created": ctx.created,
        "model": ctx.model,
        "system_fingerprint": "fp_fake",
        "choices": choices,
    });
    if ctx.include_usage {
        v["usage"] = Value::Null;
    }
    v
}

fn choice(delta: Value, finish: Option<&str>) -> Value {
    json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}])
}

pub(crate) fn stream(ctx: &Ctx) -> StreamPlan {
    let mut chunks: Vec<Value> = Vec::new();
    let finish = if ctx.tool {
        chunks.push(chunk(
            ctx,
            choice(
                json!({
                    "role": "assistant",
                    "content": null,
                    "tool_calls": [{
                        "index": 0,
                        "id": call_id(ctx),
                        "type": "function",
                        "function": {"name": TOOL_NAME, "arguments": ""},
                    }],
                    "refusal": null,
                }),
                None,
            ),
        ));
        for fragment in TOOL_ARG_FRAGMENTS {
            chunks.push(chunk(
                ctx,
                choice(
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]}),
                    None,
                ),
            ));
        }
        "tool_calls"
    } else {
        chunks.push(chunk(
            ctx,
            choice(
                json!({"role": "assistant", "content": "", "refusal": null}),
                None,
            ),
        ));
        for piece in ctx.reply_pieces() {
            chunks.push(chunk(ctx, choice(json!({"content": piece}), None)));
        }
        "stop"
    };
    chunks.push(chunk(ctx, choice(json!({}), Some(finish))));
    if ctx.include_usage {
        let mut last = chunk(ctx, json!([]));
        last["usage"] = usage();
        chunks.push(last);
    }
    let mut events: Vec<_> = chunks.iter().map(sse::data).collect();
    events.push(bytes::Bytes::from_static(b"data: [DONE]\n\n"));
    let error = json!({"error": {
        "message": "fake openai stream error",
        "type": "server_error",
        "param": null,
        "code": null,
    }});
    StreamPlan {
        content_type: "text/event-stream; charset=utf-8",
        events,
        prefix: 2,
        error_event: Some(sse::data(&error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn embedding_is_deterministic_and_bounded() {
        let a = embedding_vector("hello");
        assert_eq!(a.len(), 8);
        assert_eq!(a, embedding_vector("hello"));
        assert_ne!(a, embedding_vector("hellp"));
        assert!(a.iter().all(|v| (-1.0..=1.0).contains(v)));
    }
}
