//! Google Gemini (Generative Language API, `v1beta`) wire format.
//!
//! Follows the Gemini API reference for `models.generateContent` /
//! `models.streamGenerateContent`: `GenerateContentResponse` with
//! `candidates[].content.parts[]` (`text` / `functionCall`), `finishReason`, `usageMetadata`;
//! `?alt=sse` streams each response chunk as `data: {json}` (CRLF-separated, as the live API
//! does) and simply ends, without a sentinel; errors are `{"error":{"code","message","status"}}`.

use axum::http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use crate::server::{has_header, Ctx, UserTurn, COMPLETION_TOKENS, PROMPT_TOKENS, TOOL_NAME};
use crate::sse::{self, StreamPlan};

pub(crate) fn check_auth(headers: &HeaderMap, query: &str) -> Result<(), (StatusCode, String)> {
    let key_in_query = query
        .split('&')
        .any(|kv| kv.strip_prefix("key=").is_some_and(|v| !v.is_empty()));
    if has_header(headers, "x-goog-api-key") || key_in_query {
        Ok(())
    } else {
        Err((
            StatusCode::UNAUTHORIZED,
            "Method doesn't allow unregistered callers (callers without established identity). \
             Please use API Key or other form of API consumer identity to call this API."
                .to_string(),
        ))
    }
}

/// Canonical `google.rpc.Code` name for an HTTP status.
fn status_name(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        405 => "UNIMPLEMENTED",
        409 => "ABORTED",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        s if s >= 500 => "INTERNAL",
        _ => "FAILED_PRECONDITION",
    }
}

pub(crate) fn error_body(status: StatusCode, message: &str) -> Value {
    json!({"error": {"code": status.as_u16(), "message": message, "status": status_name(status)}})
}

fn is_user(content: &Value) -> bool {
    // The role may be omitted for single-turn requests.
    matches!(
        content.get("role").and_then(Value::as_str),
        None | Some("user")
    )
}

fn parts_text(content: &Value) -> Option<String> {
    let texts: Vec<&str> = content
        .get("parts")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

pub(crate) fn last_user(body: &Value) -> UserTurn {
    let contents = body
        .get("contents")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let text = contents
        .iter()
        .rev()
        .filter(|c| is_user(c))
        .find_map(parts_text)
        .unwrap_or_default();
    let after_tool_result = contents
        .last()
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .is_some_and(|parts| parts.iter().any(|p| p.get("functionResponse").is_some()));
    UserTurn {
        text,
        after_tool_result,
    }
}

fn usage(candidates: u64) -> Value {
    json!({
        "promptTokenCount": PROMPT_TOKENS,
        "candidatesTokenCount": candidates,
        "totalTokenCount": PROMPT_TOKENS + candidates,
    })
}

fn response(ctx: &Ctx, parts: Value, finish: Option<&str>, candidates_tokens: u64) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if let Some(reason) = finish {
        candidate["finishReason"] = json!(reason);
    }
    json!({
        "candidates": [candidate],
        "usageMetadata": usage(candidates_tokens),
        "modelVersion": ctx.model,
        "responseId": format!("fakeresp{:08}", ctx.seq),
    })
}

fn tool_parts() -> Value {
    json!([{"functionCall": {"name": TOOL_NAME, "args": {"city": "Paris"}}}])
}

pub(crate) fn complete(ctx: &Ctx) -> Value {
    let parts = if ctx.tool {
        tool_parts()
    } else {
        json!([{"text": ctx.reply_text()}])
    };
    // Gemini has no tool-specific finish reason: a function call ends with STOP.
    response(ctx, parts, Some("STOP"), COMPLETION_TOKENS)
}

/// The streamed `GenerateContentResponse` chunks; usage is cumulative, the last carries
/// `finishReason`.
pub(crate) fn chunks(ctx: &Ctx) -> Vec<Value> {
    if ctx.tool {
        return vec![response(ctx, tool_parts(), Some("STOP"), COMPLETION_TOKENS)];
    }
    let pieces = ctx.reply_pieces();
    let last = pieces.len().saturating_sub(1);
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let (finish, tokens) = if i == last {
                (Some("STOP"), COMPLETION_TOKENS)
            } else {
                (None, (i as u64 + 1).min(COMPLETION_TOKENS - 1))
            };
            response(ctx, json!([{"text": piece}]), finish, tokens)
        })
        .collect()
}

pub(crate) fn stream(ctx: &Ctx) -> StreamPlan {
    let error = error_body(StatusCode::SERVICE_UNAVAILABLE, "fake google stream error");
    StreamPlan {
        content_type: "text/event-stream",
        events: chunks(ctx).iter().map(sse::data_crlf).collect(),
        prefix: 1,
        error_event: Some(sse::data_crlf(&error)),
    }
}
