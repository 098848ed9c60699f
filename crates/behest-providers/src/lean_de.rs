//! Deserialization of the streamed answer's types, read straight into their fields.
//!
//! Every stream event of an OpenAI-compatible upstream is one `chat.completion.chunk`
//! read into [`ChatChunk`], so this is the relay's hottest parse. Serde's derive with
//! `#[serde(flatten)]` (how the other types keep their unknown fields in `extra`)
//! buffers each object into an intermediate tree and reads it a second time, at every
//! level of nesting; measured with `benches/stream.rs`, that was most of the decoder's
//! cost. The impls here read each key once: a field the type models goes into it, any
//! other key into `extra`. `null` reads as the field's default (upstreams send
//! `"choices": null` or `"content": null`), and a key borrowed from the input is not
//! copied unless it is kept.

use crate::types::{ChatChunk, ChunkChoice, Delta, ToolCallDelta, Usage};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Map;
use std::borrow::Cow;
use std::fmt;

/// An object key: borrowed from the input when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// `impl Deserialize` for a struct with an `extra` map: `"key" => field: Type = default`
/// for each modelled field.
macro_rules! deserialize_with_extra {
    ($ty:ident, $expecting:literal, { $($key:literal => $field:ident: $fty:ty = $default:expr),* $(,)? }) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct FieldsVisitor;
                impl<'de> Visitor<'de> for FieldsVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        $(let mut $field: Option<$fty> = None;)*
                        let mut extra = Map::new();
                        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                            match key.as_ref() {
                                $($key => $field = map.next_value::<Option<$fty>>()?,)*
                                _ => {
                                    extra.insert(key.into_owned(), map.next_value()?);
                                }
                            }
                        }
                        Ok($ty { $($field: $field.unwrap_or_else(|| $default),)* extra })
                    }
                }
                deserializer.deserialize_map(FieldsVisitor)
            }
        }
    };
}

deserialize_with_extra!(ChatChunk, "a chat.completion.chunk object", {
    "id" => id: String = String::new(),
    "object" => object: String = "chat.completion.chunk".to_owned(),
    "created" => created: u64 = 0,
    "model" => model: String = String::new(),
    "choices" => choices: Vec<ChunkChoice> = Vec::new(),
    "usage" => usage: Option<Usage> = None,
});

deserialize_with_extra!(ChunkChoice, "a chunk's choice", {
    "index" => index: u32 = 0,
    "delta" => delta: Delta = Delta::default(),
    "finish_reason" => finish_reason: Option<String> = None,
});

deserialize_with_extra!(Delta, "a choice's delta", {
    "role" => role: Option<String> = None,
    "content" => content: Option<String> = None,
    "tool_calls" => tool_calls: Option<Vec<ToolCallDelta>> = None,
});

deserialize_with_extra!(ToolCallDelta, "a tool call's delta", {
    "index" => index: u32 = 0,
    "id" => id: Option<String> = None,
    "type" => kind: Option<String> = None,
    "function" => function: Option<crate::types::FunctionCallDelta> = None,
});

deserialize_with_extra!(Usage, "a usage object", {
    "prompt_tokens" => prompt_tokens: u64 = 0,
    "completion_tokens" => completion_tokens: u64 = 0,
    "total_tokens" => total_tokens: u64 = 0,
});

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn modelled_fields_and_the_rest_in_extra() {
        let raw = r#"{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","system_fingerprint":"fp","choices":[{"index":1,"delta":{"role":"assistant","content":"hi \"there\"","refusal":null,"tool_calls":[{"index":0,"id":"t","type":"function","function":{"name":"f","arguments":"{}"},"x":1}]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"prompt_tokens_details":{"cached_tokens":1}},"esc\u0061ped":true}"#;
        let chunk: ChatChunk = serde_json::from_str(raw).unwrap();
        assert_eq!(
            (chunk.id.as_str(), chunk.created, chunk.model.as_str()),
            ("c1", 7, "m")
        );
        assert_eq!(chunk.extra["system_fingerprint"], "fp");
        assert_eq!(
            chunk.extra["escaped"], true,
            "an escaped key is kept unescaped"
        );
        let choice = &chunk.choices[0];
        assert_eq!(
            (choice.index, choice.finish_reason.as_deref()),
            (1, Some("stop"))
        );
        assert_eq!(choice.extra["logprobs"], json!(null));
        assert_eq!(choice.delta.content.as_deref(), Some("hi \"there\""));
        assert_eq!(choice.delta.extra["refusal"], json!(null));
        let call = &choice.delta.tool_calls.as_ref().unwrap()[0];
        assert_eq!(
            (call.id.as_deref(), call.kind.as_deref()),
            (Some("t"), Some("function"))
        );
        assert_eq!(call.extra["x"], 1);
        let usage = chunk.usage.as_ref().unwrap();
        assert_eq!((usage.prompt_tokens, usage.total_tokens), (3, 5));
        assert_eq!(usage.extra["prompt_tokens_details"]["cached_tokens"], 1);
        // What was read writes back as it came (key order aside).
        let back = serde_json::to_value(&chunk).unwrap();
        let want: serde_json::Value =
            serde_json::from_str(&raw.replace("esc\\u0061ped", "escaped")).unwrap();
        assert_eq!(back, want);
    }

    #[test]
    fn null_and_absent_read_as_defaults() {
        let chunk: ChatChunk =
            serde_json::from_str(r#"{"id":null,"choices":null,"usage":null}"#).unwrap();
        assert_eq!(chunk.object, "chat.completion.chunk");
        assert!(chunk.choices.is_empty() && chunk.usage.is_none() && chunk.id.is_empty());
        let choice: ChunkChoice = serde_json::from_str(r#"{"delta":{"content":null}}"#).unwrap();
        assert_eq!(choice.delta.content, None);
        assert_eq!(choice.index, 0);
    }

    #[test]
    fn wrong_types_are_errors() {
        assert!(serde_json::from_str::<ChatChunk>(r#"{"choices":{}}"#).is_err());
        assert!(serde_json::from_str::<ChatChunk>(r#"[1]"#).is_err());
        assert!(serde_json::from_str::<Usage>(r#"{"prompt_tokens":"3"}"#).is_err());
    }
}
