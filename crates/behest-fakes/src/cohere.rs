//! Cohere v2 Chat wire format.
//!
//! Follows Cohere's v2 `POST /v2/chat` reference and "Streaming" guide: non-streamed
//! `{id, finish_reason, message:{role, content|tool_plan+tool_calls}, usage:{billed_units,
//! tokens}}`; streamed SSE events `message-start`, `content-start`, `content-delta`,
//! `content-end`, `tool-plan-delta`, `tool-call-start`, `tool-call-delta`, `tool-call-end`,
//! `message-end` (with `delta.finish_reason` and `delta.usage`); errors `{"message": ...}`.

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::server::{
    bearer, content_text, Ctx, UserTurn, COMPLETION_TOKENS, PROMPT_TOKENS, TOOL_ARGS,
    TOOL_ARG_FRAGMENTS, TOOL_NAME,
};
use crate::sse::{self, StreamPlan};

const TOOL_PLAN: &str = "I will look up the weather in Paris.";

pub(crate) fn check_auth(headers: &HeaderMap) -> Result<(), (StatusCode, String)> {
    match bearer(headers) {
        Some(_) => Ok(()),
        None => Err((StatusCode::UNAUTHORIZED, "no api key supplied".to_string())),
    }
}

pub(crate) fn error_body(message: &str) -> Value {
    json!({"message": message})
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

fn message_id(ctx: &Ctx) -> String {
    format!("fake-cohere-{:08}", ctx.seq)
}

fn tool_call_id(ctx: &Ctx) -> String {
    format!("{TOOL_NAME}_fake{:08}", ctx.seq)
}

fn usage() -> Value {
    let counts = json!({"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS});
    json!({"billed_units": counts.clone(), "tokens": counts})
}

pub(crate) fn complete(ctx: &Ctx) -> Value {
    let (message, finish) = if ctx.tool {
        (
            json!({
                "role": "assistant",
                "tool_plan": TOOL_PLAN,
                "tool_calls": [{
                    "id": tool_call_id(ctx),
                    "type": "function",
                    "function": {"name": TOOL_NAME, "arguments": TOOL_ARGS},
                }],
            }),
            "TOOL_CALL",
        )
    } else {
        (
            json!({"role": "assistant", "content": [{"type": "text", "text": ctx.reply_text()}]}),
            "COMPLETE",
        )
    };
    json!({"id": message_id(ctx), "finish_reason": finish, "message": message, "usage": usage()})
}

pub(crate) fn stream(ctx: &Ctx) -> StreamPlan {
    let mut ev: Vec<Value> = vec![json!({
        "id": message_id(ctx),
        "type": "message-start",
        "delta": {"message": {
            "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": [],
        }},
    })];
    let prefix;
    let finish = if ctx.tool {
        ev.push(json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": TOOL_PLAN}}}));
        ev.push(
            json!({"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
                "id": tool_call_id(ctx),
                "type": "function",
                "function": {"name": TOOL_NAME, "arguments": ""},
            }}}}),
        );
        for fragment in TOOL_ARG_FRAGMENTS {
            ev.push(
                json!({"type": "tool-call-delta", "index": 0, "delta": {"message": {
                    "tool_calls": {"function": {"arguments": fragment}},
                }}}),
            );
        }
        ev.push(json!({"type": "tool-call-end", "index": 0}));
        prefix = 4;
        "TOOL_CALL"
    } else {
        ev.push(
            json!({"type": "content-start", "index": 0, "delta": {"message": {
                "content": {"type": "text", "text": ""},
            }}}),
        );
        for piece in ctx.reply_pieces() {
            ev.push(
                json!({"type": "content-delta", "index": 0, "delta": {"message": {
                    "content": {"text": piece},
                }}}),
            );
        }
        ev.push(json!({"type": "content-end", "index": 0}));
        prefix = 3;
        "COMPLETE"
    };
    ev.push(json!({"type": "message-end", "delta": {"finish_reason": finish, "usage": usage()}}));
    let events = ev
        .iter()
        .map(|v| {
            sse::event(
                v.get("type").and_then(Value::as_str).unwrap_or("unknown"),
                v,
            )
        })
        .collect();
    StreamPlan {
        content_type: "text/event-stream",
        events,
        prefix,
        // Cohere documents no in-band error event: the stream just ends without `message-end`.
        error_event: None,
    }
}
