//! Anthropic Messages wire format.
//!
//! Follows Anthropic's Messages API and "Streaming Messages" docs: `message` objects,
//! SSE as `event: {type}\ndata: {json}\n\n` in the order `message_start`,
//! `content_block_start`, `ping`, `content_block_delta` (`text_delta` / `input_json_delta`),
//! `content_block_stop`, `message_delta` (`stop_reason`, `usage.output_tokens`),
//! `message_stop`; in-band `event: error`; error bodies `{"type":"error","error":{type,message}}`.

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::server::{
    content_text, has_header, Ctx, UserTurn, COMPLETION_TOKENS, PROMPT_TOKENS, TOOL_ARG_FRAGMENTS,
    TOOL_NAME,
};
use crate::sse::{self, StreamPlan};

pub(crate) fn check_auth(headers: &HeaderMap) -> Result<(), (StatusCode, String)> {
    if !has_header(headers, "x-api-key") {
        return Err((
            StatusCode::UNAUTHORIZED,
            "x-api-key header is required".to_string(),
        ));
    }
    if !has_header(headers, "anthropic-version") {
        return Err((
            StatusCode::BAD_REQUEST,
            "anthropic-version: header is required".to_string(),
        ));
    }
    Ok(())
}

/// Error `type` for an HTTP status, per Anthropic's "Errors" page.
fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        504 => "timeout_error",
        529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

pub(crate) fn error_body(status: StatusCode, message: &str) -> Value {
    json!({"type": "error", "error": {"type": error_type(status), "message": message}})
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
    let after_tool_result = messages.last().is_some_and(|m| {
        m.get("role").and_then(Value::as_str) == Some("user")
            && m.get("content")
                .and_then(Value::as_array)
                .is_some_and(|blocks| {
                    blocks
                        .iter()
                        .any(|b| b.get("type").and_then(Value::as_str) == Some("tool_result"))
                })
    });
    UserTurn {
        text,
        after_tool_result,
    }
}

fn message_id(ctx: &Ctx) -> String {
    format!("msg_fake{:08}", ctx.seq)
}

fn tool_use_id(ctx: &Ctx) -> String {
    format!("toolu_fake{:08}", ctx.seq)
}

pub(crate) fn complete(ctx: &Ctx) -> Value {
    let (content, stop) = if ctx.tool {
        (
            json!([{
                "type": "tool_use",
                "id": tool_use_id(ctx),
                "name": TOOL_NAME,
                "input": {"city": "Paris"},
            }]),
            "tool_use",
        )
    } else {
        (
            json!([{"type": "text", "text": ctx.reply_text()}]),
            "end_turn",
        )
    };
    json!({
        "id": message_id(ctx),
        "type": "message",
        "role": "assistant",
        "model": ctx.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS},
    })
}

pub(crate) fn stream(ctx: &Ctx) -> StreamPlan {
    let mut ev: Vec<(&str, Value)> = vec![(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": message_id(ctx),
            "type": "message",
            "role": "assistant",
            "model": ctx.model,
            "content": [],
            "stop_reason": null,
            "stop_sequence": null,
            "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": 1},
        }}),
    )];
    let stop = if ctx.tool {
        ev.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": {
                "type": "tool_use", "id": tool_use_id(ctx), "name": TOOL_NAME, "input": {},
            }}),
        ));
        ev.push(("ping", json!({"type": "ping"})));
        for fragment in TOOL_ARG_FRAGMENTS {
            ev.push((
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0,
                       "delta": {"type": "input_json_delta", "partial_json": fragment}}),
            ));
        }
        "tool_use"
    } else {
        ev.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
                   "content_block": {"type": "text", "text": ""}}),
        ));
        ev.push(("ping", json!({"type": "ping"})));
        for piece in ctx.reply_pieces() {
            ev.push((
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0,
                       "delta": {"type": "text_delta", "text": piece}}),
            ));
        }
        "end_turn"
    };
    ev.push((
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    ev.push((
        "message_delta",
        json!({"type": "message_delta",
               "delta": {"stop_reason": stop, "stop_sequence": null},
               "usage": {"output_tokens": COMPLETION_TOKENS}}),
    ));
    ev.push(("message_stop", json!({"type": "message_stop"})));
    let error = json!({"type": "error", "error": {
        "type": "overloaded_error",
        "message": "fake anthropic stream error",
    }});
    StreamPlan {
        content_type: "text/event-stream; charset=utf-8",
        events: ev.iter().map(|(name, v)| sse::event(name, v)).collect(),
        prefix: 4,
        error_event: Some(sse::event("error", &error)),
    }
}
