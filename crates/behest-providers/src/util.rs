//! Small helpers shared by the codecs: ids, timestamps, chunk building and
//! request checks that several providers make the same way.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::error::ProviderError;
use crate::types::{
    ChatChunk, ChatRequest, ChunkChoice, ContentPart, Delta, FunctionCallDelta, Message,
    MessageContent, SmolStr, ToolCallDelta, Usage,
};

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A unique-enough id for objects whose upstream gives none. Not secret and
/// not random: time plus a process-wide counter is all an id needs here.
pub(crate) fn new_id(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!("{prefix}{:x}{:04x}", nanos, n & 0xffff)
}

/// Parses an upstream JSON body, naming the provider if it is not JSON.
pub(crate) fn parse_json(provider: &'static str, body: &[u8]) -> Result<Value, ProviderError> {
    serde_json::from_slice(body)
        .map_err(|e| ProviderError::protocol(provider, format!("invalid JSON from upstream: {e}")))
}

/// Builds the chunks of one stream, all sharing id, timestamp and model.
#[derive(Debug, Clone)]
pub(crate) struct ChunkFactory {
    pub id: SmolStr,
    pub created: u64,
    pub model: SmolStr,
}

impl ChunkFactory {
    pub fn new(model: &str) -> Self {
        ChunkFactory {
            id: new_id("chatcmpl-").into(),
            created: now_secs(),
            model: model.into(),
        }
    }

    fn chunk(&self, choice: u32, delta: Delta, finish_reason: Option<&str>) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: SmolStr::new_static(ChatChunk::OBJECT),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: choice,
                delta,
                finish_reason: finish_reason.map(str::to_string),
                extra: crate::types::ChunkExtra::new(),
            }],
            usage: None,
            extra: crate::types::ChunkExtra::new(),
        }
    }

    /// The opening chunk: `{"role":"assistant","content":""}`, as OpenAI sends it.
    pub fn role(&self, choice: u32) -> ChatChunk {
        self.chunk(
            choice,
            Delta {
                role: Some("assistant".to_string()),
                content: Some(String::new()),
                ..Delta::default()
            },
            None,
        )
    }

    pub fn content(&self, choice: u32, text: &str) -> ChatChunk {
        self.chunk(
            choice,
            Delta {
                content: Some(text.to_string()),
                ..Delta::default()
            },
            None,
        )
    }

    /// The first fragment of a tool call: id, type and name, plus arguments
    /// (empty when they follow in later fragments).
    pub fn tool_start(
        &self,
        choice: u32,
        index: u32,
        id: &str,
        name: &str,
        arguments: &str,
    ) -> ChatChunk {
        self.tool_delta(
            choice,
            ToolCallDelta {
                index,
                id: Some(id.to_string()),
                kind: Some("function".to_string()),
                function: Some(FunctionCallDelta {
                    name: Some(name.to_string()),
                    arguments: Some(arguments.to_string()),
                }),
                extra: Map::new(),
            },
        )
    }

    pub fn tool_args(&self, choice: u32, index: u32, fragment: &str) -> ChatChunk {
        self.tool_delta(
            choice,
            ToolCallDelta {
                index,
                id: None,
                kind: None,
                function: Some(FunctionCallDelta {
                    name: None,
                    arguments: Some(fragment.to_string()),
                }),
                extra: Map::new(),
            },
        )
    }

    fn tool_delta(&self, choice: u32, delta: ToolCallDelta) -> ChatChunk {
        self.chunk(
            choice,
            Delta {
                tool_calls: Some(vec![delta]),
                ..Delta::default()
            },
            None,
        )
    }

    pub fn finish(&self, choice: u32, reason: &str) -> ChatChunk {
        self.chunk(choice, Delta::default(), Some(reason))
    }

    /// OpenAI's trailing usage chunk: `choices: []` and `usage`.
    pub fn usage(&self, usage: &Usage) -> ChatChunk {
        ChatChunk {
            id: self.id.clone(),
            object: SmolStr::new_static(ChatChunk::OBJECT),
            created: self.created,
            model: self.model.clone(),
            choices: Vec::new(),
            usage: Some(usage.clone()),
            extra: crate::types::ChunkExtra::new(),
        }
    }
}

/// `system` and `developer` both become the provider's system prompt.
/// A user message's content as provider content items: `text` encodes a plain string,
/// `part` each typed part (either may yield nothing, e.g. for empty text).
pub(crate) fn content_items(
    m: &Message,
    text: impl Fn(&str) -> Option<Value>,
    part: impl Fn(&ContentPart) -> Result<Option<Value>, ProviderError>,
) -> Result<Vec<Value>, ProviderError> {
    match &m.content {
        None => Ok(Vec::new()),
        Some(MessageContent::Text(t)) => Ok(text(t).into_iter().collect()),
        Some(MessageContent::Parts(parts)) => {
            let mut out = Vec::new();
            for p in parts {
                out.extend(part(p)?);
            }
            Ok(out)
        }
    }
}

pub(crate) fn is_system_role(role: &str) -> bool {
    role == "system" || role == "developer"
}

/// Rejects `n > 1` for providers that return a single answer.
pub(crate) fn reject_n(req: &ChatRequest, provider: &str) -> Result<(), ProviderError> {
    match req.n {
        Some(n) if n > 1 => Err(ProviderError::invalid(
            "n",
            format!("n = {n} is not supported by {provider}: it returns a single choice; send n = 1 or omit n"),
        )),
        _ => Ok(()),
    }
}

/// The text of a message whose content must be text only (system and tool
/// messages, or a provider without image support).
pub(crate) fn text_only(
    content: Option<&MessageContent>,
    provider: &str,
    role: &str,
) -> Result<String, ProviderError> {
    match content {
        None => Ok(String::new()),
        Some(MessageContent::Text(t)) => Ok(t.clone()),
        Some(MessageContent::Parts(parts)) => {
            let mut out = String::new();
            for p in parts {
                match (p.kind.as_str(), &p.text) {
                    ("text", Some(t)) => out.push_str(t),
                    _ => {
                        return Err(ProviderError::invalid(
                            "messages",
                            format!(
                                "content part of type `{}` in a {role} message is not supported by {provider}; only text parts are",
                                p.kind
                            ),
                        ))
                    }
                }
            }
            Ok(out)
        }
    }
}

/// Splits `data:<mime>;base64,<data>` into its media type and payload.
pub(crate) fn parse_data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    if mime.is_empty() {
        return None;
    }
    Some((mime, data))
}

/// Tool-call arguments (a JSON text) as a JSON object; empty means `{}`.
pub(crate) fn arguments_object(arguments: &str, provider: &str) -> Result<Value, ProviderError> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(ProviderError::invalid(
            "messages",
            format!(
                "tool call arguments must be a JSON object to send to {provider}, got: {arguments}"
            ),
        )),
    }
}

/// Inserts `key: value` when `value` is present.
pub(crate) fn put<T: Into<Value>>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(key.to_string(), v.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls() {
        assert_eq!(
            parse_data_url("data:image/png;base64,iVBOR"),
            Some(("image/png", "iVBOR"))
        );
        assert_eq!(parse_data_url("https://x/y.png"), None);
        assert_eq!(parse_data_url("data:image/png,raw"), None);
    }

    #[test]
    fn ids_are_distinct() {
        assert_ne!(new_id("a-"), new_id("a-"));
    }
}
