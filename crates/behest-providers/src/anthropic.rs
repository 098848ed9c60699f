//! Anthropic Messages API codec: `POST /v1/messages`, `x-api-key` and
//! `anthropic-version: 2023-06-01`.
//!
//! Follows Anthropic's Messages reference (top-level `system`, `tool_use` /
//! `tool_result` content blocks, `stop_reason`) and its streaming reference
//! (`message_start`, `content_block_start|delta|stop` with `text_delta` and
//! `input_json_delta`, `message_delta`, `message_stop`, `ping`, `error`).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::error::{self, str_at, ProviderError};
use crate::sse::SseEvent;
use crate::types::{
    ChatChunk, ChatRequest, ChatResponse, Choice, ContentPart, EncodedRequest, FunctionCall,
    Message, ResponseMessage, ToolCall, ToolChoice, Usage,
};
use crate::util::{
    arguments_object, is_system_role, now_secs, parse_data_url, parse_json, put, reject_n,
    text_only, ChunkFactory,
};

const PROVIDER: &str = "anthropic";
/// The API version this codec speaks.
pub const API_VERSION: &str = "2023-06-01";
/// Anthropic requires `max_tokens`; used when the client gives no limit.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// `x-api-key` and `anthropic-version`.
pub fn auth_headers(api_key: &str) -> Vec<(String, String)> {
    vec![
        ("x-api-key".to_string(), api_key.to_string()),
        ("anthropic-version".to_string(), API_VERSION.to_string()),
    ]
}

/// Translates an OpenAI request into a Messages API request.
///
/// Rejects `n > 1`, `response_format` other than `text` (the Messages API
/// has no JSON mode), non-function tools and content parts other than text
/// and images.
pub fn encode_request(req: &ChatRequest, model: &str) -> Result<EncodedRequest, ProviderError> {
    reject_n(req, PROVIDER)?;
    if let Some(rf) = &req.response_format {
        if rf.kind != "text" {
            return Err(ProviderError::invalid(
                "response_format",
                format!("response_format `{}` is not supported by anthropic; describe the JSON you want in the prompt or use a tool", rf.kind),
            ));
        }
    }

    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in &req.messages {
        let (role, blocks) = match m.role.as_str() {
            r if is_system_role(r) => {
                system.push(text_only(m.content.as_ref(), PROVIDER, r)?);
                continue;
            }
            "user" => ("user", user_blocks(m)?),
            "assistant" => ("assistant", assistant_blocks(m)?),
            // Tool results travel in a user turn, merged with neighbouring ones.
            "tool" => ("user", vec![tool_result_block(m)?]),
            other => {
                return Err(ProviderError::invalid(
                    "messages",
                    format!("message role `{other}` is not supported by anthropic"),
                ))
            }
        };
        if blocks.is_empty() {
            continue;
        }
        // The API wants alternating turns; consecutive same-role messages merge.
        match turns.last_mut() {
            Some((last, acc)) if *last == role => acc.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    let messages: Vec<Value> = turns
        .into_iter()
        .map(|(role, blocks)| {
            let content = match blocks.as_slice() {
                [only] if only["type"] == "text" => only["text"].clone(),
                _ => Value::Array(blocks),
            };
            json!({"role": role, "content": content})
        })
        .collect();

    let mut body = Map::new();
    body.insert("model".into(), model.into());
    body.insert(
        "max_tokens".into(),
        req.max_output_tokens().unwrap_or(DEFAULT_MAX_TOKENS).into(),
    );
    body.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        body.insert("system".into(), system.join("\n\n").into());
    }
    put(&mut body, "temperature", req.temperature);
    put(&mut body, "top_p", req.top_p);
    put(
        &mut body,
        "stop_sequences",
        req.stop.as_ref().map(|s| s.to_vec()),
    );
    if req.is_stream() {
        body.insert("stream".into(), true.into());
    }
    if let Some(user) = &req.user {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    if let Some(tools) = &req.tools {
        let mut out = Vec::new();
        for t in tools {
            if t.kind != "function" {
                return Err(ProviderError::invalid(
                    "tools",
                    format!("tool type `{}` is not supported by anthropic", t.kind),
                ));
            }
            let mut tool = Map::new();
            tool.insert("name".into(), t.function.name.clone().into());
            put(&mut tool, "description", t.function.description.clone());
            tool.insert(
                "input_schema".into(),
                t.function
                    .parameters
                    .clone()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            );
            out.push(Value::Object(tool));
        }
        body.insert("tools".into(), Value::Array(out));
    }
    if let Some(choice) = tool_choice(req)? {
        body.insert("tool_choice".into(), choice);
    }
    Ok(EncodedRequest {
        path: "/v1/messages".to_string(),
        body: Value::Object(body),
        stream: req.is_stream(),
    })
}

fn tool_choice(req: &ChatRequest) -> Result<Option<Value>, ProviderError> {
    let mut choice = match &req.tool_choice {
        None => {
            if req.parallel_tool_calls == Some(false) && req.tools.is_some() {
                json!({"type": "auto"})
            } else {
                return Ok(None);
            }
        }
        Some(ToolChoice::Mode(m)) => match m.as_str() {
            "auto" => json!({"type": "auto"}),
            "required" => json!({"type": "any"}),
            "none" => json!({"type": "none"}),
            other => {
                return Err(ProviderError::invalid(
                    "tool_choice",
                    format!("tool_choice `{other}` is not supported"),
                ))
            }
        },
        Some(ToolChoice::Function(f)) => json!({"type": "tool", "name": f.function.name}),
        Some(ToolChoice::Other(v)) => {
            return Err(ProviderError::invalid(
                "tool_choice",
                format!("tool_choice {v} is not supported by anthropic"),
            ))
        }
    };
    if req.parallel_tool_calls == Some(false) && choice["type"] != "none" {
        choice["disable_parallel_tool_use"] = true.into();
    }
    Ok(Some(choice))
}

fn user_blocks(m: &Message) -> Result<Vec<Value>, ProviderError> {
    crate::util::content_items(m, text_block, part_block)
}

fn text_block(text: &str) -> Option<Value> {
    // The API rejects empty text blocks.
    (!text.is_empty()).then(|| json!({"type": "text", "text": text}))
}

fn part_block(p: &ContentPart) -> Result<Option<Value>, ProviderError> {
    match (p.kind.as_str(), &p.text, &p.image_url) {
        ("text", Some(t), _) => Ok(text_block(t)),
        ("image_url", _, Some(img)) => {
            let source = match parse_data_url(&img.url) {
                Some((mime, data)) => {
                    json!({"type": "base64", "media_type": mime, "data": data})
                }
                None if img.url.starts_with("https://") || img.url.starts_with("http://") => {
                    json!({"type": "url", "url": img.url})
                }
                None => {
                    return Err(ProviderError::invalid(
                        "messages",
                        "image_url must be an http(s) URL or a base64 data URL",
                    ))
                }
            };
            Ok(Some(json!({"type": "image", "source": source})))
        }
        (kind, _, _) => Err(ProviderError::invalid(
            "messages",
            format!("content part of type `{kind}` is not supported by anthropic"),
        )),
    }
}

fn assistant_blocks(m: &Message) -> Result<Vec<Value>, ProviderError> {
    let mut out: Vec<Value> = text_block(&text_only(m.content.as_ref(), PROVIDER, "assistant")?)
        .into_iter()
        .collect();
    for call in m.tool_calls.iter().flatten() {
        out.push(json!({
            "type": "tool_use",
            "id": call.id,
            "name": call.function.name,
            "input": arguments_object(&call.function.arguments, PROVIDER)?,
        }));
    }
    Ok(out)
}

fn tool_result_block(m: &Message) -> Result<Value, ProviderError> {
    let id = m
        .tool_call_id
        .as_deref()
        .ok_or_else(|| ProviderError::invalid("messages", "a tool message needs a tool_call_id"))?;
    Ok(json!({
        "type": "tool_result",
        "tool_use_id": id,
        "content": text_only(m.content.as_ref(), PROVIDER, "tool")?,
    }))
}

/// Maps a Messages API `stop_reason` to OpenAI's `finish_reason`.
pub fn map_stop_reason(reason: &str) -> &'static str {
    match reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn and anything newer.
        _ => "stop",
    }
}

fn usage_from(input: u64, cache_write: u64, cache_read: u64, output: u64) -> Usage {
    // OpenAI's prompt_tokens include cached tokens; Anthropic counts them apart.
    let mut usage = Usage::new(input + cache_write + cache_read, output);
    if cache_read > 0 {
        usage.extra.insert(
            "prompt_tokens_details".into(),
            json!({"cached_tokens": cache_read}),
        );
    }
    usage
}

fn u64_at(v: &Value, pointer: &str) -> Option<u64> {
    v.pointer(pointer).and_then(Value::as_u64)
}

/// Translates a Messages API answer (any status) into a `chat.completion`.
pub fn decode_response(status: u16, body: &[u8]) -> Result<ChatResponse, ProviderError> {
    if !(200..300).contains(&status) {
        return Err(decode_error(status, body));
    }
    let v = parse_json(PROVIDER, body)?;
    if v["type"] == "error" {
        return Err(decode_error(status, body));
    }
    let blocks = v["content"]
        .as_array()
        .ok_or_else(|| ProviderError::protocol(PROVIDER, "message has no `content` array"))?;
    let mut text = String::new();
    let mut calls = Vec::new();
    for b in blocks {
        match b["type"].as_str() {
            Some("text") => text.push_str(b["text"].as_str().unwrap_or_default()),
            Some("tool_use") => calls.push(ToolCall {
                id: str_at(b, "/id").unwrap_or_default(),
                kind: "function".into(),
                function: FunctionCall {
                    name: str_at(b, "/name").unwrap_or_default(),
                    arguments: b
                        .get("input")
                        .map(Value::to_string)
                        .unwrap_or_else(|| "{}".into()),
                },
                extra: Map::new(),
            }),
            // thinking, redacted_thinking, server tool blocks: not part of OpenAI's message.
            _ => {}
        }
    }
    let finish = v["stop_reason"]
        .as_str()
        .map(map_stop_reason)
        .unwrap_or("stop");
    let usage = usage_from(
        u64_at(&v, "/usage/input_tokens").unwrap_or(0),
        u64_at(&v, "/usage/cache_creation_input_tokens").unwrap_or(0),
        u64_at(&v, "/usage/cache_read_input_tokens").unwrap_or(0),
        u64_at(&v, "/usage/output_tokens").unwrap_or(0),
    );
    Ok(ChatResponse {
        id: str_at(&v, "/id").unwrap_or_default(),
        object: "chat.completion".into(),
        created: now_secs(),
        model: str_at(&v, "/model").unwrap_or_default(),
        choices: vec![Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".into(),
                content: (!text.is_empty() || calls.is_empty()).then_some(text),
                tool_calls: (!calls.is_empty()).then_some(calls),
                extra: Map::new(),
            },
            finish_reason: Some(finish.to_string()),
            extra: Map::new(),
        }],
        usage: Some(usage),
        extra: Map::new(),
    })
}

/// Anthropic's `{"type":"error","error":{"type","message"}}`.
pub fn decode_error(status: u16, body: &[u8]) -> ProviderError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    error::upstream(
        PROVIDER,
        status,
        str_at(&v, "/error/message"),
        str_at(&v, "/error/type"),
        body,
    )
}

/// An `event: error` inside a 200 stream; retryable when Anthropic says it is
/// overloaded, rate limited or had an internal error.
fn stream_error(v: &Value) -> ProviderError {
    let kind = str_at(v, "/error/type");
    let retryable = matches!(
        kind.as_deref(),
        Some("overloaded_error" | "api_error" | "rate_limit_error" | "timeout_error")
    );
    ProviderError::Upstream {
        provider: PROVIDER,
        status: 200,
        message: str_at(v, "/error/message").unwrap_or_else(|| v.to_string()),
        kind,
        retryable,
    }
}

/// Stream state of the Messages API decoder.
#[derive(Debug)]
pub(crate) struct StreamState {
    f: ChunkFactory,
    include_usage: bool,
    started: bool,
    finished: bool,
    pub(crate) done: bool,
    /// Content block index → OpenAI tool call index.
    tools: HashMap<u64, u32>,
    next_tool: u32,
    input: u64,
    cache_write: u64,
    cache_read: u64,
    output: u64,
    usage: Option<Usage>,
}

impl StreamState {
    pub(crate) fn new(model: &str, include_usage: bool) -> Self {
        StreamState {
            f: ChunkFactory::new(model),
            include_usage,
            started: false,
            finished: false,
            done: false,
            tools: HashMap::new(),
            next_tool: 0,
            input: 0,
            cache_write: 0,
            cache_read: 0,
            output: 0,
            usage: None,
        }
    }

    pub(crate) fn usage(&self) -> Option<&Usage> {
        self.usage.as_ref()
    }

    fn start(&mut self, out: &mut Vec<ChatChunk>) {
        if !self.started {
            self.started = true;
            out.push(self.f.role(0));
        }
    }

    fn read_usage(&mut self, u: &Value) {
        if let Some(n) = u64_at(u, "/input_tokens") {
            self.input = n;
        }
        if let Some(n) = u64_at(u, "/cache_creation_input_tokens") {
            self.cache_write = n;
        }
        if let Some(n) = u64_at(u, "/cache_read_input_tokens") {
            self.cache_read = n;
        }
        // Cumulative, per the streaming docs: the last value is the total.
        if let Some(n) = u64_at(u, "/output_tokens") {
            self.output = n;
        }
        self.usage = Some(usage_from(
            self.input,
            self.cache_write,
            self.cache_read,
            self.output,
        ));
    }

    pub(crate) fn event(
        &mut self,
        ev: &SseEvent,
        out: &mut Vec<ChatChunk>,
    ) -> Result<(), ProviderError> {
        if self.done || ev.data.trim().is_empty() {
            return Ok(());
        }
        let v = parse_json(PROVIDER, ev.data.as_bytes())?;
        let kind = v["type"]
            .as_str()
            .or(ev.event.as_deref())
            .unwrap_or_default()
            .to_string();
        match kind.as_str() {
            "message_start" => {
                if let Some(id) = v.pointer("/message/id").and_then(Value::as_str) {
                    self.f.id = id.into();
                }
                if let Some(model) = v.pointer("/message/model").and_then(Value::as_str) {
                    self.f.model = model.into();
                }
                if let Some(u) = v.pointer("/message/usage") {
                    self.read_usage(u);
                }
                self.start(out);
            }
            "content_block_start" => {
                self.start(out);
                let block = &v["content_block"];
                match block["type"].as_str() {
                    Some("text") => {
                        if let Some(t) = block["text"].as_str().filter(|t| !t.is_empty()) {
                            out.push(self.f.content(0, t));
                        }
                    }
                    Some("tool_use") => {
                        let index = self.next_tool;
                        self.next_tool += 1;
                        self.tools.insert(v["index"].as_u64().unwrap_or(0), index);
                        out.push(self.f.tool_start(
                            0,
                            index,
                            block["id"].as_str().unwrap_or_default(),
                            block["name"].as_str().unwrap_or_default(),
                            "",
                        ));
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                self.start(out);
                let delta = &v["delta"];
                match delta["type"].as_str() {
                    Some("text_delta") => {
                        if let Some(t) = delta["text"].as_str().filter(|t| !t.is_empty()) {
                            out.push(self.f.content(0, t));
                        }
                    }
                    Some("input_json_delta") => {
                        let block = v["index"].as_u64().unwrap_or(0);
                        let fragment = delta["partial_json"].as_str().unwrap_or_default();
                        if let (Some(&index), false) = (self.tools.get(&block), fragment.is_empty())
                        {
                            out.push(self.f.tool_args(0, index, fragment));
                        }
                    }
                    // thinking_delta, signature_delta, citations_delta: no OpenAI counterpart.
                    _ => {}
                }
            }
            "message_delta" => {
                if let Some(u) = v.get("usage") {
                    self.read_usage(u);
                }
                if let Some(reason) = v.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.start(out);
                    self.finished = true;
                    out.push(self.f.finish(0, map_stop_reason(reason)));
                }
            }
            "message_stop" => {
                self.start(out);
                if !self.finished {
                    self.finished = true;
                    out.push(self.f.finish(0, "stop"));
                }
                self.done = true;
                if self.include_usage {
                    let usage = self.usage.clone().unwrap_or_default();
                    out.push(self.f.usage(&usage));
                }
            }
            "error" => return Err(stream_error(&v)),
            // ping, content_block_stop and event types added later.
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn end(&mut self, _out: &mut Vec<ChatChunk>) -> Result<(), ProviderError> {
        if self.done {
            Ok(())
        } else {
            Err(ProviderError::protocol(
                PROVIDER,
                "stream ended before `message_stop`",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::WireFormat;
    use crate::testutil::{run_stream, run_stream_split_everywhere, streamed_text, strip_created};

    fn req(v: Value) -> ChatRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn encode_full_conversation_with_tools() {
        let r = req(json!({
            "model": "claude",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "developer", "content": [{"type": "text", "text": "Use metric units."}]},
                {"role": "user", "content": [
                    {"type": "text", "text": "Weather in Paris? See "},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/sky.jpg"}}
                ]},
                {"role": "assistant", "content": "Checking.", "tool_calls": [
                    {"id": "toolu_01", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                    {"id": "toolu_02", "type": "function", "function": {"name": "get_time", "arguments": ""}}
                ]},
                {"role": "tool", "tool_call_id": "toolu_01", "content": "18C, sunny"},
                {"role": "tool", "tool_call_id": "toolu_02", "content": "14:00"},
                {"role": "user", "content": "Thanks"}
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather by city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
            "tool_choice": "required",
            "parallel_tool_calls": false,
            "max_completion_tokens": 512,
            "max_tokens": 100,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop": ["END"],
            "user": "user-123",
            "stream": true,
            "seed": 1
        }));
        let enc = encode_request(&r, "claude-sonnet-4-20250514").unwrap();
        assert_eq!(enc.path, "/v1/messages");
        assert!(enc.stream);
        assert_eq!(
            enc.body,
            json!({
                "model": "claude-sonnet-4-20250514",
                "max_tokens": 512,
                "system": "You are terse.\n\nUse metric units.",
                "messages": [
                    {"role": "user", "content": [
                        {"type": "text", "text": "Weather in Paris? See "},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0"}},
                        {"type": "image", "source": {"type": "url", "url": "https://example.com/sky.jpg"}}
                    ]},
                    {"role": "assistant", "content": [
                        {"type": "text", "text": "Checking."},
                        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
                        {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}}
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "toolu_01", "content": "18C, sunny"},
                        {"type": "tool_result", "tool_use_id": "toolu_02", "content": "14:00"},
                        {"type": "text", "text": "Thanks"}
                    ]}
                ],
                "temperature": 0.2,
                "top_p": 0.9,
                "stop_sequences": ["END"],
                "stream": true,
                "metadata": {"user_id": "user-123"},
                "tools": [{"name": "get_weather", "description": "Weather by city", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}],
                "tool_choice": {"type": "any", "disable_parallel_tool_use": true}
            })
        );
    }

    #[test]
    fn encode_defaults_and_tool_choice_forms() {
        let enc = encode_request(
            &req(json!({"messages": [{"role": "user", "content": "hi"}], "stop": "X"})),
            "m",
        )
        .unwrap();
        assert_eq!(
            enc.body,
            json!({"model": "m", "max_tokens": DEFAULT_MAX_TOKENS, "messages": [{"role": "user", "content": "hi"}], "stop_sequences": ["X"]})
        );
        assert!(!enc.stream);
        let named = req(
            json!({"messages": [], "tool_choice": {"type": "function", "function": {"name": "f"}}}),
        );
        assert_eq!(
            encode_request(&named, "m").unwrap().body["tool_choice"],
            json!({"type": "tool", "name": "f"})
        );
        let none = req(json!({"messages": [], "tool_choice": "none"}));
        assert_eq!(
            encode_request(&none, "m").unwrap().body["tool_choice"],
            json!({"type": "none"})
        );
    }

    #[test]
    fn encode_rejects_what_anthropic_cannot_do() {
        let e = encode_request(&req(json!({"messages": [], "n": 2})), "m").unwrap_err();
        assert!(matches!(e, ProviderError::InvalidRequest { param: Some(ref p), .. } if p == "n"));
        let e = encode_request(
            &req(json!({"messages": [], "response_format": {"type": "json_object"}})),
            "m",
        )
        .unwrap_err();
        assert!(
            matches!(e, ProviderError::InvalidRequest { param: Some(ref p), .. } if p == "response_format")
        );
        let e = encode_request(&req(json!({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]})), "m").unwrap_err();
        assert!(e.to_string().contains("input_audio"));
        let e = encode_request(&req(json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "not json"}}]}]})), "m").unwrap_err();
        assert!(matches!(e, ProviderError::InvalidRequest { .. }));
        // n = 1 and response_format text are fine.
        assert!(encode_request(
            &req(json!({"messages": [], "n": 1, "response_format": {"type": "text"}})),
            "m"
        )
        .is_ok());
    }

    #[test]
    fn decode_tool_use_response() {
        let body = json!({
            "id": "msg_01Aq9w938a90dw8q",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-20250514",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "I'll check the weather."},
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"location": "San Francisco, CA", "unit": "celsius"}}
            ],
            "stop_reason": "tool_use",
            "stop_sequence": null,
            "usage": {"input_tokens": 472, "output_tokens": 89, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 100}
        });
        let resp = decode_response(200, body.to_string().as_bytes()).unwrap();
        let mut v = serde_json::to_value(&resp).unwrap();
        v.as_object_mut().unwrap().remove("created");
        assert_eq!(
            v,
            json!({
                "id": "msg_01Aq9w938a90dw8q",
                "object": "chat.completion",
                "model": "claude-sonnet-4-20250514",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": "I'll check the weather.", "tool_calls": [
                        {"id": "toolu_01A09q90qw90lq917835lq9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}"}}
                    ]},
                    "finish_reason": "tool_calls"
                }],
                "usage": {"prompt_tokens": 572, "completion_tokens": 89, "total_tokens": 661, "prompt_tokens_details": {"cached_tokens": 100}}
            })
        );
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(map_stop_reason("end_turn"), "stop");
        assert_eq!(map_stop_reason("stop_sequence"), "stop");
        assert_eq!(map_stop_reason("max_tokens"), "length");
        assert_eq!(map_stop_reason("tool_use"), "tool_calls");
        assert_eq!(map_stop_reason("refusal"), "content_filter");
        let body = json!({"id": "m", "type": "message", "role": "assistant", "model": "c", "content": [{"type": "text", "text": "abc"}], "stop_reason": "max_tokens", "usage": {"input_tokens": 1, "output_tokens": 2}});
        let resp = decode_response(200, body.to_string().as_bytes()).unwrap();
        assert_eq!(resp.choices[0].finish_reason.as_deref(), Some("length"));
        assert_eq!(resp.choices[0].message.content.as_deref(), Some("abc"));
        assert_eq!(resp.choices[0].message.tool_calls, None);
    }

    #[test]
    fn decode_error_body() {
        let body = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}"#;
        let e = decode_response(529, body).unwrap_err();
        assert_eq!(
            e,
            ProviderError::Upstream {
                provider: PROVIDER,
                status: 529,
                message: "Overloaded".into(),
                kind: Some("overloaded_error".into()),
                retryable: true
            }
        );
        let e = decode_error(400, br#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}"#);
        assert!(!e.is_retryable());
        assert_eq!(
            e.to_openai_error()["error"]["message"],
            "max_tokens: Field required"
        );
    }

    /// The documented tool-use stream, with text, a ping and a tool call.
    const TRANSCRIPT: &str = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-20250514\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2},\"content\":[],\"stop_reason\":null}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: ping\n",
        "data: {\"type\": \"ping\"}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay, let’s\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" check 🌦\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\":\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"San Francisco, CA\\\"}\"}}\n\n",
        "event: content_block_stop\n",
        "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
        "event: message_delta\n",
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
        "event: message_stop\n",
        "data: {\"type\":\"message_stop\"}\n\n"
    );

    fn chunk(choices: Value) -> Value {
        json!({"id": "msg_014p7gG3wDgGV9EUtLvnow3U", "object": "chat.completion.chunk", "model": "claude-sonnet-4-20250514", "choices": choices})
    }

    #[test]
    fn stream_transcript_to_openai_chunks() {
        let got =
            strip_created(run_stream(WireFormat::Anthropic, true, TRANSCRIPT.as_bytes()).unwrap());
        let expected = vec![
            chunk(
                json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]),
            ),
            chunk(
                json!([{"index": 0, "delta": {"content": "Okay, let’s"}, "finish_reason": null}]),
            ),
            chunk(json!([{"index": 0, "delta": {"content": " check 🌦"}, "finish_reason": null}])),
            chunk(
                json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}, "finish_reason": null}]),
            ),
            chunk(
                json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"location\":"}}]}, "finish_reason": null}]),
            ),
            chunk(
                json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": " \"San Francisco, CA\"}"}}]}, "finish_reason": null}]),
            ),
            chunk(json!([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])),
            {
                let mut c = chunk(json!([]));
                c["usage"] =
                    json!({"prompt_tokens": 472, "completion_tokens": 89, "total_tokens": 561});
                c
            },
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn stream_without_usage_and_split_everywhere() {
        let whole =
            strip_created(run_stream(WireFormat::Anthropic, false, TRANSCRIPT.as_bytes()).unwrap());
        assert_eq!(whole.len(), 7);
        assert!(whole.iter().all(|c| c.get("usage").is_none()));
        assert_eq!(streamed_text(&whole), "Okay, let’s check 🌦");
        let crlf = TRANSCRIPT.replace('\n', "\r\n");
        run_stream_split_everywhere(WireFormat::Anthropic, false, TRANSCRIPT.as_bytes(), &whole);
        run_stream_split_everywhere(WireFormat::Anthropic, false, crlf.as_bytes(), &whole);
    }

    #[test]
    fn stream_error_event_and_early_end() {
        let t = concat!(
            "event: message_start\n",
            "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"c\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n",
            "event: error\n",
            "data: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n"
        );
        let e = run_stream(WireFormat::Anthropic, false, t.as_bytes()).unwrap_err();
        assert_eq!(
            e,
            ProviderError::Upstream {
                provider: PROVIDER,
                status: 200,
                message: "Overloaded".into(),
                kind: Some("overloaded_error".into()),
                retryable: true
            }
        );
        let cut = &TRANSCRIPT[..TRANSCRIPT.find("event: message_delta").unwrap()];
        let e = run_stream(WireFormat::Anthropic, true, cut.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("message_stop"), "{e}");
        // Cut before message_stop only (finish reason seen, terminal event missing).
        let cut = &TRANSCRIPT[..TRANSCRIPT.find("event: message_stop").unwrap()];
        assert!(run_stream(WireFormat::Anthropic, true, cut.as_bytes()).is_err());
    }
}
