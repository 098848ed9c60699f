//! Deserialization of the types every request reads, straight into their fields: the
//! request and its messages, the answer (`chat.completion`) and the streamed answer.
//!
//! Every stream event of an OpenAI-compatible upstream is one `chat.completion.chunk`
//! read into [`ChatChunk`], so this is the relay's hottest parse; a request's body and
//! a JSON answer are read once per call. Serde's derive with
//! `#[serde(flatten)]` (how the other types keep their unknown fields in `extra`)
//! buffers each object into an intermediate tree and reads it a second time, at every
//! level of nesting; measured with `benches/stream.rs`, that was most of the decoder's
//! cost. The impls here read each key once: a field the type models goes into it, any
//! other key into `extra`. `null` reads as the field's default (upstreams send
//! `"choices": null` or `"content": null`), and a key borrowed from the input is not
//! copied unless it is kept.

use crate::types::{
    ChatChunk, ChatRequest, ChatResponse, Choice, ChunkChoice, Delta, Message, ResponseMessage,
    SmolStr, ToolCallDelta, Usage,
};
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

/// Where a type keeps the keys it does not model.
trait Extras: Default {
    fn put(&mut self, key: Cow<'_, str>, value: serde_json::Value);
}

impl Extras for Map<String, serde_json::Value> {
    fn put(&mut self, key: Cow<'_, str>, value: serde_json::Value) {
        self.insert(key.into_owned(), value);
    }
}

impl Extras for crate::types::ChunkExtra {
    fn put(&mut self, key: Cow<'_, str>, value: serde_json::Value) {
        self.insert(&key, value);
    }
}

/// The "default" of a required field: the error serde's derive gives when it is absent.
macro_rules! required {
    ($key:literal) => {
        return Err(serde::de::Error::missing_field($key))
    };
}

/// `impl Deserialize` for a struct with an `extra` map: `"key" => field: Type = default`
/// for each modelled field (a required field's default is `required!("key")`).
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
                        let mut extra = <_ as Default>::default();
                        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                            match key.as_ref() {
                                $($key => $field = map.next_value::<Option<$fty>>()?,)*
                                _ => {
                                    Extras::put(&mut extra, key, map.next_value()?);
                                }
                            }
                        }
                        Ok($ty {
                            $($field: match $field {
                                Some(value) => value,
                                None => $default,
                            },)*
                            extra,
                        })
                    }
                }
                deserializer.deserialize_map(FieldsVisitor)
            }
        }
    };
}

deserialize_with_extra!(ChatChunk, "a chat.completion.chunk object", {
    "id" => id: SmolStr = SmolStr::default(),
    "object" => object: SmolStr = SmolStr::new_static(ChatChunk::OBJECT),
    "created" => created: u64 = 0,
    "model" => model: SmolStr = SmolStr::default(),
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

deserialize_with_extra!(ChatRequest, "a chat completion request", {
    "model" => model: Option<String> = None,
    "messages" => messages: Vec<Message> = required!("messages"),
    "stream" => stream: Option<bool> = None,
    "stream_options" => stream_options: Option<crate::types::StreamOptions> = None,
    "tools" => tools: Option<Vec<crate::types::Tool>> = None,
    "tool_choice" => tool_choice: Option<crate::types::ToolChoice> = None,
    "parallel_tool_calls" => parallel_tool_calls: Option<bool> = None,
    "n" => n: Option<u32> = None,
    "stop" => stop: Option<crate::types::Stop> = None,
    "temperature" => temperature: Option<f64> = None,
    "top_p" => top_p: Option<f64> = None,
    "max_tokens" => max_tokens: Option<u32> = None,
    "max_completion_tokens" => max_completion_tokens: Option<u32> = None,
    "response_format" => response_format: Option<crate::types::ResponseFormat> = None,
    "user" => user: Option<String> = None,
});

deserialize_with_extra!(Message, "a message", {
    "role" => role: String = required!("role"),
    "content" => content: Option<crate::types::MessageContent> = None,
    "name" => name: Option<String> = None,
    "tool_calls" => tool_calls: Option<Vec<crate::types::ToolCall>> = None,
    "tool_call_id" => tool_call_id: Option<String> = None,
});

deserialize_with_extra!(ChatResponse, "a chat.completion object", {
    "id" => id: String = String::new(),
    "object" => object: String = "chat.completion".to_owned(),
    "created" => created: u64 = 0,
    "model" => model: String = String::new(),
    "choices" => choices: Vec<Choice> = Vec::new(),
    "usage" => usage: Option<Usage> = None,
});

deserialize_with_extra!(Choice, "a choice", {
    "index" => index: u32 = 0,
    "message" => message: ResponseMessage = required!("message"),
    "finish_reason" => finish_reason: Option<String> = None,
});

deserialize_with_extra!(ResponseMessage, "an assistant message", {
    "role" => role: String = "assistant".to_owned(),
    "content" => content: Option<String> = None,
    "tool_calls" => tool_calls: Option<Vec<crate::types::ToolCall>> = None,
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
    fn a_request_reads_as_before_and_misses_required_fields_by_name() {
        let raw = json!({
            "model": "m", "stream": true, "stream_options": {"include_usage": true},
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}], "x-extra": 1},
                {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
            ],
            "stop": ["a", "b"], "max_completion_tokens": 5, "seed": 7
        });
        let req: ChatRequest = serde_json::from_value(raw.clone()).unwrap();
        assert!(req.is_stream() && req.wants_stream_usage());
        assert_eq!(req.max_output_tokens(), Some(5));
        assert_eq!(req.extra["seed"], 7);
        assert_eq!(req.messages[0].extra["x-extra"], 1);
        assert_eq!(serde_json::to_value(&req).unwrap(), raw);
        let err = serde_json::from_str::<ChatRequest>(r#"{"model":"m"}"#).unwrap_err();
        assert!(
            err.to_string().contains("missing field `messages`"),
            "{err}"
        );
        let err =
            serde_json::from_str::<ChatRequest>(r#"{"messages":[{"content":"x"}]}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `role`"), "{err}");
        let err = serde_json::from_str::<ChatRequest>(r#"{"messages":[{"role":"user"}],"n":"2"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }

    #[test]
    fn an_answer_reads_its_choices_and_requires_their_message() {
        let raw = json!({
            "id": "x", "object": "chat.completion", "created": 3, "model": "m",
            "system_fingerprint": "fp",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "refusal": null}, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        });
        let answer: ChatResponse = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(answer.choices[0].message.content.as_deref(), Some("hi"));
        assert_eq!(answer.choices[0].message.extra["refusal"], json!(null));
        assert_eq!(serde_json::to_value(&answer).unwrap(), raw);
        let err = serde_json::from_str::<ChatResponse>(r#"{"choices":[{"index":0}]}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `message`"), "{err}");
    }

    #[test]
    fn wrong_types_are_errors() {
        assert!(serde_json::from_str::<ChatChunk>(r#"{"choices":{}}"#).is_err());
        assert!(serde_json::from_str::<ChatChunk>(r#"[1]"#).is_err());
        assert!(serde_json::from_str::<Usage>(r#"{"prompt_tokens":"3"}"#).is_err());
    }
}
