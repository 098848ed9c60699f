//! OpenAI Chat Completions wire types: the request clients send and the
//! `chat.completion` / `chat.completion.chunk` objects they get back.
//!
//! Every object keeps the fields it does not model in a flattened `extra`
//! map (a short list, [`ChunkExtra`], for the streamed chunk's three levels,
//! which every event of a stream builds), so the OpenAI-compatible adapter
//! can pass requests and responses through without losing anything a newer
//! client or upstream adds. The
//! types every call reads (the request and its messages, the answer, the
//! streamed answer, usage) are read by the impls in `lean_de`, which fill
//! `extra` in the same pass.

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
pub use smol_str::SmolStr;
use std::borrow::Cow;
use std::sync::Arc;

/// A `POST /v1/chat/completions` request body.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChatRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub messages: Vec<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Fields this crate does not model, passed through to OpenAI-compatible upstreams.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// True when the client asked for a streamed answer.
    pub fn is_stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    /// True when the client asked for the trailing usage-only chunk.
    pub fn wants_stream_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }

    /// The output-token limit, preferring the newer `max_completion_tokens`.
    pub fn max_output_tokens(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }
}

/// `stream_options` of a request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One entry of `messages`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Message {
    /// `system`, `developer`, `user`, `assistant` or `tool`.
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Message content: a plain string or an array of typed parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// One content part (`text`, `image_url`, or anything newer kept in `extra`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<ImageUrl>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `image_url` object of an image part: an `https:` or `data:` URL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool definition (`{"type":"function","function":{...}}`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionDefinition,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The function part of a tool definition.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionDefinition {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `tool_choice`: `"auto"`, `"none"`, `"required"`, or a named function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolChoice {
    Mode(String),
    Function(NamedToolChoice),
    /// Any other shape, passed through to OpenAI-compatible upstreams only.
    Other(Value),
}

/// `{"type":"function","function":{"name":...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedToolChoice {
    #[serde(rename = "type")]
    pub kind: String,
    pub function: FunctionName,
}

/// `{"name": ...}` inside a named tool choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionName {
    pub name: String,
}

/// `stop`: one string or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    One(String),
    Many(Vec<String>),
}

impl Stop {
    /// The stop sequences as a list.
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Stop::One(s) => vec![s.clone()],
            Stop::Many(v) => v.clone(),
        }
    }
}

/// `response_format`: `text`, `json_object` or `json_schema`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<JsonSchemaFormat>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `json_schema` object of a `json_schema` response format.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A complete tool call, in an assistant message or a response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    #[serde(rename = "type", default = "function_kind")]
    pub kind: String,
    pub function: FunctionCall,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn function_kind() -> String {
    "function".to_string()
}

/// Name and JSON-encoded arguments of a tool call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    /// The arguments as a JSON text, exactly as OpenAI sends them.
    #[serde(default)]
    pub arguments: String,
}

/// Token usage in OpenAI's layout.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub total_tokens: u64,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Usage {
    /// Usage with `total_tokens` computed from the two parts.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Usage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            extra: Map::new(),
        }
    }
}

/// A non-streamed `chat.completion` object.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChatResponse {
    pub id: String,
    pub object: String,
    pub created: u64,
    /// The upstream's model name when the upstream reports one; empty
    /// otherwise (Cohere), for the caller to fill in.
    pub model: String,
    pub choices: Vec<Choice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One choice of a `chat.completion`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Choice {
    pub index: u32,
    pub message: ResponseMessage,
    /// `stop`, `length`, `tool_calls` or `content_filter`.
    pub finish_reason: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The assistant message of a choice; `content` is serialized as `null` when absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ResponseMessage {
    pub role: String,
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One `chat.completion.chunk` object of a stream.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChatChunk {
    /// `id`, `object` and `model` are the same on every chunk of a stream: strings that
    /// are copied inline (up to 23 bytes) or shared, never allocated per chunk.
    pub id: SmolStr,
    pub object: SmolStr,
    pub created: u64,
    pub model: SmolStr,
    /// Empty only on the trailing usage-only chunk.
    pub choices: Vec<ChunkChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    #[serde(flatten)]
    pub extra: ChunkExtra,
}

impl ChatChunk {
    /// The `object` of every chunk.
    pub const OBJECT: &'static str = "chat.completion.chunk";
}

/// One choice of a chunk; `finish_reason` is serialized as `null` until the end.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChunkChoice {
    pub index: u32,
    pub delta: Delta,
    pub finish_reason: Option<String>,
    #[serde(flatten)]
    pub extra: ChunkExtra,
}

/// The incremental message of a chunk choice.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallDelta>>,
    #[serde(flatten)]
    pub extra: ChunkExtra,
}

/// A fragment of a streamed tool call: the first carries id and name, the
/// rest carry pieces of `arguments`, all keyed by `index`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ToolCallDelta {
    pub index: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallDelta>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Name and/or an `arguments` fragment of a streamed tool call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallDelta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// What an encoder produces: the upstream body and where to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedRequest {
    /// Path relative to the provider base URL, with any query string.
    pub path: String,
    /// The JSON body to POST.
    pub body: Value,
    /// Whether the upstream will answer with an SSE stream.
    pub stream: bool,
}

/// The fields of a streamed chunk, of its choice or of its delta that the types do not
/// model, as they came and in the order they came. Every event of a stream carries a
/// few (`service_tier`, `system_fingerprint`, `logprobs`: null), so this is a short list
/// rather than a map — no tree node built and dropped per event — and the keys upstreams
/// are known to send are static strings rather than copies. (Measured with
/// `benches/stream.rs`: these few fields in a `Map` were most of a chunk's decode.)
///
/// The fields a stream repeats on every chunk can be [shared](ChunkExtra::share) by
/// all its chunks; the chunk's own fields come after them and win over a shared field
/// of the same key.
#[derive(Debug, Clone, Default)]
pub struct ChunkExtra {
    shared: Option<SharedExtra>,
    own: Vec<ExtraField>,
}

type ExtraField = (Cow<'static, str>, Value);
/// A stream's repeated unmodelled fields, shared by its chunks.
pub(crate) type SharedExtra = Arc<Vec<ExtraField>>;

/// Keys of OpenAI's chunk, choice and delta objects that the types leave to `extra`.
const KNOWN_CHUNK_KEYS: &[&str] = &[
    "service_tier",
    "system_fingerprint",
    "logprobs",
    "refusal",
    "obfuscation",
    "annotations",
    "audio",
    "reasoning",
    "reasoning_content",
    "citations",
];

impl ChunkExtra {
    pub fn new() -> ChunkExtra {
        ChunkExtra::default()
    }

    pub fn is_empty(&self) -> bool {
        self.own.is_empty() && self.shared.as_ref().is_none_or(|s| s.is_empty())
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        fn find<'a>(fields: &'a [ExtraField], key: &str) -> Option<&'a Value> {
            fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
        }
        find(&self.own, key).or_else(|| self.shared.as_deref().and_then(|s| find(s, key)))
    }

    /// Sets `key` (a later value for the same key replaces the earlier, as in a map).
    pub fn insert(&mut self, key: &str, value: Value) {
        match self.own.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => {
                let key = KNOWN_CHUNK_KEYS
                    .iter()
                    .find(|known| **known == key)
                    .map_or_else(|| Cow::Owned(key.to_owned()), |known| Cow::Borrowed(*known));
                self.own.push((key, value));
            }
        }
    }

    /// These fields, in [`Self::iter`]'s order, to be shared by the chunks of a stream.
    pub(crate) fn into_shared(self) -> SharedExtra {
        Arc::new(self.fields().cloned().collect())
    }

    /// Puts `shared` (a stream's repeated fields) before this chunk's own fields.
    pub(crate) fn share(&mut self, shared: &SharedExtra) {
        if !shared.is_empty() {
            self.shared = Some(Arc::clone(shared));
        }
    }

    /// The fields in order: the shared ones a chunk did not set itself, then its own.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.fields().map(|(k, v)| (k.as_ref(), v))
    }

    fn fields(&self) -> impl Iterator<Item = &ExtraField> {
        let own = &self.own;
        self.shared
            .as_deref()
            .into_iter()
            .flatten()
            .filter(move |(k, _)| !own.iter().any(|(o, _)| o == k))
            .chain(own.iter())
    }
}

impl PartialEq for ChunkExtra {
    /// The same fields in the same order, however they are held.
    fn eq(&self, other: &ChunkExtra) -> bool {
        self.iter().eq(other.iter())
    }
}

impl std::ops::Index<&str> for ChunkExtra {
    type Output = Value;
    /// `Value::Null` for a key that is not there, as indexing a `Value` gives.
    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

impl Serialize for ChunkExtra {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_round_trip_keeps_unknown_fields() {
        let raw = json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
            ],
            "stop": "END",
            "seed": 7,
            "logit_bias": {"50256": -100},
            "tool_choice": {"type": "function", "function": {"name": "f"}}
        });
        let req: ChatRequest = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(req.stop, Some(Stop::One("END".into())));
        assert!(matches!(req.tool_choice, Some(ToolChoice::Function(_))));
        let back = serde_json::to_value(&req).unwrap();
        let mut expected = raw;
        // `content: null` is dropped, which OpenAI treats the same as absent.
        expected["messages"][1]
            .as_object_mut()
            .unwrap()
            .remove("content");
        assert_eq!(back, expected);
    }

    #[test]
    fn chunk_serializes_null_finish_reason_and_omits_absent_usage() {
        let chunk = ChatChunk {
            id: "x".into(),
            object: "chat.completion.chunk".into(),
            created: 1,
            model: "m".into(),
            choices: vec![ChunkChoice::default()],
            ..Default::default()
        };
        let v = serde_json::to_value(&chunk).unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], Value::Null);
        assert_eq!(v["choices"][0]["delta"], json!({}));
        assert!(v.get("usage").is_none());
    }

    #[test]
    fn extra_keeps_order_replaces_duplicates_and_flattens() {
        let raw = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","zeta":1,"service_tier":"default","alpha":null,"zeta":2,"choices":[]}"#;
        let chunk: ChatChunk = serde_json::from_str(raw).unwrap_or_default();
        let keys: Vec<&str> = chunk.extra.iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            ["zeta", "service_tier", "alpha"],
            "input order, one entry per key"
        );
        assert_eq!(
            chunk.extra["zeta"],
            json!(2),
            "the later value wins, as in a map"
        );
        assert_eq!(chunk.extra["missing"], Value::Null);
        assert!(
            matches!(chunk.extra.own[1].0, Cow::Borrowed(_)),
            "a known key is not copied"
        );
        let out = serde_json::to_string(&chunk).unwrap_or_default();
        assert!(
            out.ends_with(r#""choices":[],"zeta":2,"service_tier":"default","alpha":null}"#),
            "{out}"
        );
    }

    #[test]
    fn shared_fields_come_first_and_a_chunks_own_field_wins() {
        let mut head = ChunkExtra::new();
        head.insert("service_tier", json!("default"));
        head.insert("system_fingerprint", json!("fp"));
        let shared = head.into_shared();
        let mut extra = ChunkExtra::new();
        extra.insert("obfuscation", json!("x1"));
        extra.insert("service_tier", json!("flex"));
        extra.share(&shared);
        let fields: Vec<(&str, &Value)> = extra.iter().collect();
        assert_eq!(
            fields,
            [
                ("system_fingerprint", &json!("fp")),
                ("obfuscation", &json!("x1")),
                ("service_tier", &json!("flex")),
            ]
        );
        assert_eq!(extra.get("service_tier"), Some(&json!("flex")));
        assert_eq!(extra["system_fingerprint"], json!("fp"));
        assert_eq!(extra.len(), 3);
        let mut flat = ChunkExtra::new();
        for (key, value) in &fields {
            flat.insert(key, (*value).clone());
        }
        assert_eq!(extra, flat, "equal to the same fields held in one list");
        flat.insert("obfuscation", json!("x2"));
        assert_ne!(extra, flat);
        let mut only_shared = ChunkExtra::new();
        only_shared.share(&shared);
        assert!(!only_shared.is_empty());
        let mut none = ChunkExtra::new();
        none.share(&Arc::new(Vec::new()));
        assert!(none.is_empty());
    }
}
