//! The built-in `behest/echo` model: no upstream, it answers with the text
//! of the last user message, whole or as a few chunks, with usage estimated
//! at about four characters per token. For demos and tests.

use serde_json::Map;

use crate::error::ProviderError;
use crate::types::{
    ChatChunk, ChatRequest, ChatResponse, Choice, MessageContent, ResponseMessage, Usage,
};
use crate::util::{new_id, now_secs, ChunkFactory};

/// The echo model's id.
pub const ECHO_MODEL: &str = "behest/echo";

/// How many content chunks a streamed echo is split into (at most).
const PIECES: usize = 4;

/// The echo model's own token count: one per four characters, rounded up (it has no
/// tokenizer; its usage only has to be plausible and stable).
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

fn text_of(content: Option<&MessageContent>) -> String {
    crate::tokens::content_text(content)
}

/// The echoed text and the usage it costs.
fn answer(req: &ChatRequest) -> Result<(String, Usage), ProviderError> {
    let text = req
        .messages
        .iter()
        .rev()
        .find(|m| m.role == "user")
        .map(|m| text_of(m.content.as_ref()))
        .ok_or_else(|| {
            ProviderError::invalid("messages", "echo needs at least one user message")
        })?;
    let prompt: u64 = req
        .messages
        .iter()
        .map(|m| estimate_tokens(&text_of(m.content.as_ref())))
        .sum();
    let usage = Usage::new(prompt, estimate_tokens(&text));
    Ok((text, usage))
}

/// A non-streamed `chat.completion` echoing the last user message.
pub fn respond(req: &ChatRequest, model: &str) -> Result<ChatResponse, ProviderError> {
    let (text, usage) = answer(req)?;
    Ok(ChatResponse {
        id: new_id("chatcmpl-echo-"),
        object: "chat.completion".into(),
        created: now_secs(),
        model: model.to_string(),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".into(),
                content: Some(text),
                tool_calls: None,
                extra: Map::new(),
            },
            finish_reason: Some("stop".into()),
            extra: Map::new(),
        }],
        usage: Some(usage),
        extra: Map::new(),
    })
}

/// The same answer as a complete chunk sequence: role, up to four content
/// pieces, finish, and the usage chunk if the request asked for it.
pub fn stream(req: &ChatRequest, model: &str) -> Result<Vec<ChatChunk>, ProviderError> {
    let (text, usage) = answer(req)?;
    let f = ChunkFactory::new(model);
    let mut out = vec![f.role(0)];
    out.extend(split(&text, PIECES).iter().map(|p| f.content(0, p)));
    out.push(f.finish(0, "stop"));
    if req.wants_stream_usage() {
        out.push(f.usage(&usage));
    }
    Ok(out)
}

/// Splits into at most `n` non-empty pieces of near-equal character count.
fn split(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    let size = chars.len().div_ceil(n);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: serde_json::Value) -> ChatRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn responds_with_last_user_message() {
        let r = req(json!({"model": "behest/echo", "messages": [
            {"role": "system", "content": "sys!"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ignored"},
            {"role": "user", "content": [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "echo!"}]}
        ]}));
        let resp = respond(&r, ECHO_MODEL).unwrap();
        assert_eq!(resp.model, ECHO_MODEL);
        assert_eq!(
            resp.choices[0].message.content.as_deref(),
            Some("Hello, echo!")
        );
        assert_eq!(resp.choices[0].finish_reason.as_deref(), Some("stop"));
        // 4 + 5 + 7 + 12 chars → 1 + 2 + 2 + 3 tokens; answer 12 chars → 3.
        assert_eq!(resp.usage, Some(Usage::new(8, 3)));
        assert!(respond(
            &req(json!({"messages": [{"role": "system", "content": "x"}]})),
            ECHO_MODEL
        )
        .is_err());
    }

    #[test]
    fn streams_in_pieces_with_optional_usage() {
        let r = req(
            json!({"messages": [{"role": "user", "content": "héllo wörld, how are you?"}], "stream": true, "stream_options": {"include_usage": true}}),
        );
        let chunks = stream(&r, ECHO_MODEL).unwrap();
        assert_eq!(
            chunks[0].choices[0].delta.role.as_deref(),
            Some("assistant")
        );
        let pieces: Vec<&str> = chunks
            .iter()
            .filter_map(|c| c.choices.first())
            .filter_map(|c| c.delta.content.as_deref())
            .filter(|s| !s.is_empty())
            .collect();
        assert_eq!(pieces.len(), 4);
        assert_eq!(pieces.concat(), "héllo wörld, how are you?");
        let last = chunks.last().unwrap();
        assert!(last.choices.is_empty());
        assert_eq!(last.usage, Some(Usage::new(7, 7)));
        assert_eq!(
            chunks[chunks.len() - 2].choices[0].finish_reason.as_deref(),
            Some("stop")
        );
        assert!(chunks.iter().all(|c| c.id == chunks[0].id));

        let r = req(json!({"messages": [{"role": "user", "content": "hi"}], "stream": true}));
        let chunks = stream(&r, ECHO_MODEL).unwrap();
        // role, "h", "i", finish.
        assert_eq!(chunks.len(), 4);
        assert!(chunks.iter().all(|c| c.usage.is_none()));
    }
}
