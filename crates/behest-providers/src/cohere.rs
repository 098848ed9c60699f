//! Cohere Chat API v2 codec: `POST /v2/chat`, `Authorization: Bearer`.
//!
//! Follows Cohere's v2 chat reference (`system`/`user`/`assistant`/`tool`
//! messages, assistant `tool_plan` + `tool_calls`, `p`, `stop_sequences`,
//! `response_format` with `json_schema`, `finish_reason`, `usage.billed_units`)
//! and its streaming guide: SSE events `message-start`, `content-start`,
//! `content-delta`, `content-end`, `tool-plan-delta`, `tool-call-start`,
//! `tool-call-delta`, `tool-call-end`, `citation-*`, terminal `message-end`.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::error::{self, str_at, ProviderError};
use crate::sse::SseEvent;
use crate::types::{
    ChatChunk, ChatRequest, ChatResponse, Choice, EncodedRequest, FunctionCall, Message,
    MessageContent, ResponseMessage, ToolCall, ToolChoice, Usage,
};
use crate::util::{is_system_role, now_secs, parse_json, put, reject_n, text_only, ChunkFactory};

const PROVIDER: &str = "cohere";

/// `Authorization: Bearer <key>`.
pub fn auth_headers(api_key: &str) -> Vec<(String, String)> {
    vec![("authorization".to_string(), format!("Bearer {api_key}"))]
}

/// Translates an OpenAI request into a Cohere v2 chat request.
///
/// Rejects `n > 1` and content parts other than text and `image_url`. A
/// named `tool_choice` is expressed as "only that tool, and `REQUIRED`",
/// since Cohere cannot name a tool to call.
pub fn encode_request(req: &ChatRequest, model: &str) -> Result<EncodedRequest, ProviderError> {
    reject_n(req, PROVIDER)?;
    let messages = req
        .messages
        .iter()
        .map(encode_message)
        .collect::<Result<Vec<_>, _>>()?;

    let mut body = Map::new();
    body.insert("model".into(), model.into());
    body.insert("messages".into(), Value::Array(messages));
    if req.is_stream() {
        body.insert("stream".into(), true.into());
    }

    let mut only_tool: Option<&str> = None;
    match &req.tool_choice {
        None => {}
        Some(ToolChoice::Mode(m)) => match m.as_str() {
            "auto" => {}
            "required" => {
                body.insert("tool_choice".into(), "REQUIRED".into());
            }
            "none" => {
                body.insert("tool_choice".into(), "NONE".into());
            }
            other => {
                return Err(ProviderError::invalid(
                    "tool_choice",
                    format!("tool_choice `{other}` is not supported"),
                ))
            }
        },
        Some(ToolChoice::Function(f)) => {
            only_tool = Some(f.function.name.as_str());
            body.insert("tool_choice".into(), "REQUIRED".into());
        }
        Some(ToolChoice::Other(v)) => {
            return Err(ProviderError::invalid(
                "tool_choice",
                format!("tool_choice {v} is not supported by cohere"),
            ))
        }
    }
    if let Some(tools) = &req.tools {
        let mut out = Vec::new();
        for t in tools {
            if t.kind != "function" {
                return Err(ProviderError::invalid(
                    "tools",
                    format!("tool type `{}` is not supported by cohere", t.kind),
                ));
            }
            if only_tool.is_some_and(|name| name != t.function.name) {
                continue;
            }
            let mut f = Map::new();
            f.insert("name".into(), t.function.name.clone().into());
            put(&mut f, "description", t.function.description.clone());
            put(&mut f, "parameters", t.function.parameters.clone());
            out.push(json!({"type": "function", "function": f}));
        }
        if only_tool.is_some() && out.is_empty() {
            return Err(ProviderError::invalid(
                "tool_choice",
                "tool_choice names a function that is not in `tools`",
            ));
        }
        body.insert("tools".into(), Value::Array(out));
    }

    put(&mut body, "temperature", req.temperature);
    put(&mut body, "p", req.top_p);
    put(&mut body, "max_tokens", req.max_output_tokens());
    put(
        &mut body,
        "stop_sequences",
        req.stop.as_ref().map(|s| s.to_vec()),
    );
    if let Some(rf) = &req.response_format {
        match rf.kind.as_str() {
            "text" => {}
            "json_object" => {
                body.insert("response_format".into(), json!({"type": "json_object"}));
            }
            "json_schema" => {
                let mut f = json!({"type": "json_object"});
                if let Some(schema) = rf.json_schema.as_ref().and_then(|s| s.schema.clone()) {
                    f["json_schema"] = schema;
                }
                body.insert("response_format".into(), f);
            }
            other => {
                return Err(ProviderError::invalid(
                    "response_format",
                    format!("response_format `{other}` is not supported by cohere"),
                ))
            }
        }
    }
    Ok(EncodedRequest {
        path: "/v2/chat".to_string(),
        body: Value::Object(body),
        stream: req.is_stream(),
    })
}

fn encode_message(m: &Message) -> Result<Value, ProviderError> {
    match m.role.as_str() {
        r if is_system_role(r) => Ok(json!({
            "role": "system",
            "content": text_only(m.content.as_ref(), PROVIDER, r)?,
        })),
        "user" => Ok(json!({"role": "user", "content": user_content(m)?})),
        "assistant" => {
            let text = text_only(m.content.as_ref(), PROVIDER, "assistant")?;
            let calls = m.tool_calls.as_deref().unwrap_or_default();
            if calls.is_empty() {
                return Ok(json!({"role": "assistant", "content": text}));
            }
            // Cohere pairs tool calls with a `tool_plan`, not with `content`.
            let mut msg = json!({
                "role": "assistant",
                "tool_calls": calls.iter().map(|c| json!({
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.function.name, "arguments": c.function.arguments},
                })).collect::<Vec<_>>(),
            });
            if !text.is_empty() {
                msg["tool_plan"] = text.into();
            }
            Ok(msg)
        }
        "tool" => {
            let id = m.tool_call_id.as_deref().ok_or_else(|| {
                ProviderError::invalid("messages", "a tool message needs a tool_call_id")
            })?;
            Ok(json!({
                "role": "tool",
                "tool_call_id": id,
                "content": text_only(m.content.as_ref(), PROVIDER, "tool")?,
            }))
        }
        other => Err(ProviderError::invalid(
            "messages",
            format!("message role `{other}` is not supported by cohere"),
        )),
    }
}

fn user_content(m: &Message) -> Result<Value, ProviderError> {
    match &m.content {
        None => Ok(Value::String(String::new())),
        Some(MessageContent::Text(t)) => Ok(t.clone().into()),
        Some(MessageContent::Parts(parts)) => {
            let mut out = Vec::new();
            for p in parts {
                match (p.kind.as_str(), &p.text, &p.image_url) {
                    ("text", Some(t), _) => out.push(json!({"type": "text", "text": t})),
                    // Same shape as OpenAI's; vision-capable Command models accept it.
                    ("image_url", _, Some(img)) => {
                        out.push(json!({"type": "image_url", "image_url": {"url": img.url}}))
                    }
                    (kind, _, _) => {
                        return Err(ProviderError::invalid(
                            "messages",
                            format!("content part of type `{kind}` is not supported by cohere"),
                        ))
                    }
                }
            }
            Ok(Value::Array(out))
        }
    }
}

/// Maps a Cohere `finish_reason` to OpenAI's; `None` for `ERROR`, which
/// means the generation failed and must surface as an error.
pub fn map_finish_reason(reason: &str) -> Option<&'static str> {
    match reason {
        "MAX_TOKENS" | "ERROR_LIMIT" => Some("length"),
        "TOOL_CALL" => Some("tool_calls"),
        "ERROR_TOXIC" => Some("content_filter"),
        "ERROR" => None,
        // COMPLETE, STOP_SEQUENCE, USER_CANCEL and newer values.
        _ => Some("stop"),
    }
}

fn generation_failed(status: u16) -> ProviderError {
    ProviderError::Upstream {
        provider: PROVIDER,
        status,
        message: "cohere ended the generation with finish_reason ERROR".into(),
        kind: Some("ERROR".into()),
        retryable: true,
    }
}

fn usage_from(u: &Value) -> Usage {
    // Billed units are what the account is charged; raw `tokens` include
    // Cohere's own prompt scaffolding. Fall back to them if billing is absent.
    let pick = |k: &str| {
        u.pointer(&format!("/billed_units/{k}"))
            .or_else(|| u.pointer(&format!("/tokens/{k}")))
            .and_then(Value::as_f64)
            .map(|n| n as u64)
            .unwrap_or(0)
    };
    Usage::new(pick("input_tokens"), pick("output_tokens"))
}

fn tool_call(c: &Value) -> ToolCall {
    ToolCall {
        id: str_at(c, "/id").unwrap_or_default(),
        kind: "function".into(),
        function: FunctionCall {
            name: str_at(c, "/function/name").unwrap_or_default(),
            arguments: str_at(c, "/function/arguments").unwrap_or_else(|| "{}".into()),
        },
        extra: Map::new(),
    }
}

/// Translates a v2 chat answer (any status) into a `chat.completion`.
/// The answer names no model, so `model` is left empty for the caller.
pub fn decode_response(status: u16, body: &[u8]) -> Result<ChatResponse, ProviderError> {
    if !(200..300).contains(&status) {
        return Err(decode_error(status, body));
    }
    let v = parse_json(PROVIDER, body)?;
    let Some(message) = v.get("message") else {
        return Err(decode_error(status, body));
    };
    let finish = match v["finish_reason"].as_str() {
        Some(r) => map_finish_reason(r).ok_or_else(|| generation_failed(status))?,
        None => "stop",
    };
    let text: String = message["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["type"] == "text")
        .filter_map(|c| c["text"].as_str())
        .collect();
    let calls: Vec<ToolCall> = message["tool_calls"]
        .as_array()
        .into_iter()
        .flatten()
        .map(tool_call)
        .collect();
    Ok(ChatResponse {
        id: str_at(&v, "/id").unwrap_or_default(),
        object: "chat.completion".into(),
        created: now_secs(),
        model: String::new(),
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
        usage: v.get("usage").map(usage_from),
        extra: Map::new(),
    })
}

/// Cohere's `{"message": "..."}` (optionally with an `id`).
pub fn decode_error(status: u16, body: &[u8]) -> ProviderError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = str_at(&v, "/message").or_else(|| str_at(&v, "/error/message"));
    error::upstream(PROVIDER, status, message, None, body)
}

/// Stream state of the Cohere v2 decoder.
#[derive(Debug)]
pub(crate) struct StreamState {
    f: ChunkFactory,
    include_usage: bool,
    started: bool,
    /// Cohere's tool-call event index → OpenAI tool call index.
    tools: HashMap<u64, u32>,
    pub(crate) done: bool,
    pub(crate) usage: Option<Usage>,
}

impl StreamState {
    pub(crate) fn new(model: &str, include_usage: bool) -> Self {
        StreamState {
            f: ChunkFactory::new(model),
            include_usage,
            started: false,
            tools: HashMap::new(),
            done: false,
            usage: None,
        }
    }

    fn start(&mut self, out: &mut Vec<ChatChunk>) {
        if !self.started {
            self.started = true;
            out.push(self.f.role(0));
        }
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
        if kind == "error" || v.get("error").is_some() {
            return Err(ProviderError::Upstream {
                provider: PROVIDER,
                status: 200,
                message: str_at(&v, "/error/message")
                    .or_else(|| str_at(&v, "/error"))
                    .or_else(|| str_at(&v, "/message"))
                    .unwrap_or_else(|| ev.data.clone()),
                kind: None,
                retryable: false,
            });
        }
        let msg = &v["delta"]["message"];
        match kind.as_str() {
            "message-start" => {
                if let Some(id) = str_at(&v, "/id") {
                    self.f.id = id.into();
                }
                self.start(out);
            }
            "content-start" | "content-delta" => {
                self.start(out);
                if let Some(t) = msg["content"]["text"].as_str().filter(|t| !t.is_empty()) {
                    out.push(self.f.content(0, t));
                }
            }
            "tool-call-start" => {
                self.start(out);
                let call = &msg["tool_calls"];
                let index = self.tools.len() as u32;
                self.tools.insert(v["index"].as_u64().unwrap_or(0), index);
                out.push(self.f.tool_start(
                    0,
                    index,
                    call["id"].as_str().unwrap_or_default(),
                    call["function"]["name"].as_str().unwrap_or_default(),
                    call["function"]["arguments"].as_str().unwrap_or_default(),
                ));
            }
            "tool-call-delta" => {
                let fragment = msg["tool_calls"]["function"]["arguments"]
                    .as_str()
                    .unwrap_or_default();
                let event_index = v["index"].as_u64().unwrap_or(0);
                if let (Some(&index), false) = (self.tools.get(&event_index), fragment.is_empty()) {
                    out.push(self.f.tool_args(0, index, fragment));
                }
            }
            "message-end" => {
                self.start(out);
                if let Some(u) = v["delta"].get("usage") {
                    self.usage = Some(usage_from(u));
                }
                let reason = match v["delta"]["finish_reason"].as_str() {
                    Some(r) => map_finish_reason(r).ok_or_else(|| generation_failed(200))?,
                    None => "stop",
                };
                out.push(self.f.finish(0, reason));
                self.done = true;
                if self.include_usage {
                    let usage = self.usage.clone().unwrap_or_default();
                    out.push(self.f.usage(&usage));
                }
            }
            // tool-plan-delta (reasoning before tool calls), content-end,
            // tool-call-end, citation-start/end: no OpenAI counterpart.
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
                "stream ended before `message-end`",
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
            "messages": [
                {"role": "developer", "content": "You are a weather bot."},
                {"role": "user", "content": [{"type": "text", "text": "Weather?"}, {"type": "image_url", "image_url": {"url": "https://x/sky.png"}}]},
                {"role": "assistant", "content": "I will look it up.", "tool_calls": [
                    {"id": "get_weather_1byjy32y4hvq", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Toronto\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "get_weather_1byjy32y4hvq", "content": "{\"temperature\": 20}"},
                {"role": "assistant", "content": "It is 20C."}
            ],
            "tools": [
                {"type": "function", "function": {"name": "get_weather", "description": "gets the weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}},
                {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}}
            ],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "temperature": 0.3,
            "top_p": 0.75,
            "max_completion_tokens": 300,
            "stop": ["\n\n"],
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}},
            "stream": true
        }));
        let enc = encode_request(&r, "command-a-03-2025").unwrap();
        assert_eq!(enc.path, "/v2/chat");
        assert!(enc.stream);
        assert_eq!(
            enc.body,
            json!({
                "model": "command-a-03-2025",
                "messages": [
                    {"role": "system", "content": "You are a weather bot."},
                    {"role": "user", "content": [{"type": "text", "text": "Weather?"}, {"type": "image_url", "image_url": {"url": "https://x/sky.png"}}]},
                    {"role": "assistant", "tool_plan": "I will look it up.", "tool_calls": [
                        {"id": "get_weather_1byjy32y4hvq", "type": "function", "function": {"name": "get_weather", "arguments": "{\"location\":\"Toronto\"}"}}
                    ]},
                    {"role": "tool", "tool_call_id": "get_weather_1byjy32y4hvq", "content": "{\"temperature\": 20}"},
                    {"role": "assistant", "content": "It is 20C."}
                ],
                "stream": true,
                "tool_choice": "REQUIRED",
                "tools": [{"type": "function", "function": {"name": "get_weather", "description": "gets the weather", "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]}}}],
                "temperature": 0.3,
                "p": 0.75,
                "max_tokens": 300,
                "stop_sequences": ["\n\n"],
                "response_format": {"type": "json_object", "json_schema": {"type": "object", "properties": {"a": {"type": "string"}}}}
            })
        );
    }

    #[test]
    fn encode_rejects_n_and_maps_modes() {
        let e = encode_request(&req(json!({"messages": [], "n": 3})), "m").unwrap_err();
        assert!(matches!(e, ProviderError::InvalidRequest { param: Some(ref p), .. } if p == "n"));
        let enc = encode_request(&req(json!({"messages": [{"role": "user", "content": "hi"}], "tool_choice": "none", "response_format": {"type": "json_object"}})), "command-r").unwrap();
        assert_eq!(
            enc.body,
            json!({"model": "command-r", "messages": [{"role": "user", "content": "hi"}], "tool_choice": "NONE", "response_format": {"type": "json_object"}})
        );
        assert!(!enc.stream);
    }

    #[test]
    fn decode_tool_call_response() {
        let body = json!({
            "id": "d007e969-af58-4da4-beb1-c30454c3b75f",
            "message": {
                "role": "assistant",
                "tool_plan": "I will use the subtract tool to find the difference between 2 and 5.",
                "tool_calls": [{"id": "subtract_sm6ps6fb6y9f", "type": "function", "function": {"name": "subtract", "arguments": "{\"x\":5,\"y\":2}"}}]
            },
            "finish_reason": "TOOL_CALL",
            "usage": {"billed_units": {"input_tokens": 78, "output_tokens": 27}, "tokens": {"input_tokens": 1028, "output_tokens": 63}}
        });
        let resp = decode_response(200, body.to_string().as_bytes()).unwrap();
        let mut v = serde_json::to_value(&resp).unwrap();
        v.as_object_mut().unwrap().remove("created");
        assert_eq!(
            v,
            json!({
                "id": "d007e969-af58-4da4-beb1-c30454c3b75f",
                "object": "chat.completion",
                "model": "",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "subtract_sm6ps6fb6y9f", "type": "function", "function": {"name": "subtract", "arguments": "{\"x\":5,\"y\":2}"}}
                    ]},
                    "finish_reason": "tool_calls"
                }],
                "usage": {"prompt_tokens": 78, "completion_tokens": 27, "total_tokens": 105}
            })
        );
    }

    #[test]
    fn finish_reasons_and_text_response() {
        assert_eq!(map_finish_reason("COMPLETE"), Some("stop"));
        assert_eq!(map_finish_reason("STOP_SEQUENCE"), Some("stop"));
        assert_eq!(map_finish_reason("MAX_TOKENS"), Some("length"));
        assert_eq!(map_finish_reason("TOOL_CALL"), Some("tool_calls"));
        assert_eq!(map_finish_reason("ERROR"), None);
        let body = json!({"id": "c1", "message": {"role": "assistant", "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}]}, "finish_reason": "MAX_TOKENS", "usage": {"tokens": {"input_tokens": 5, "output_tokens": 2}}});
        let resp = decode_response(200, body.to_string().as_bytes()).unwrap();
        assert_eq!(
            resp.choices[0].message.content.as_deref(),
            Some("Hello there")
        );
        assert_eq!(resp.choices[0].finish_reason.as_deref(), Some("length"));
        assert_eq!(resp.usage.unwrap().total_tokens, 7);
        let failed = json!({"id": "c2", "message": {"role": "assistant", "content": []}, "finish_reason": "ERROR"});
        assert!(decode_response(200, failed.to_string().as_bytes()).is_err());
    }

    #[test]
    fn decode_error_body() {
        let e = decode_response(429, br#"{"id":"4a4b","message":"You are past the per minute request limit, please wait and try again later."}"#).unwrap_err();
        assert_eq!(
            e,
            ProviderError::Upstream {
                provider: PROVIDER,
                status: 429,
                message:
                    "You are past the per minute request limit, please wait and try again later."
                        .into(),
                kind: None,
                retryable: true
            }
        );
        let e = decode_error(400, br#"{"message":"invalid request: message must be at least 1 token long or tool results must be specified."}"#);
        assert!(!e.is_retryable());
    }

    const TRANSCRIPT: &str = concat!(
        "event: message-start\n",
        "data: {\"id\":\"93b3f521-090e-4ebc-bac4-f7c557e63c00\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],\"citations\":[]}}}\n\n",
        "event: tool-plan-delta\n",
        "data: {\"type\":\"tool-plan-delta\",\"delta\":{\"message\":{\"tool_plan\":\"I will search\"}}}\n\n",
        "event: tool-call-start\n",
        "data: {\"type\":\"tool-call-start\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"id\":\"get_weather_nsz5zm3w56q3\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}}}}\n\n",
        "event: tool-call-delta\n",
        "data: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"{\\n    \\\"\"}}}}}\n\n",
        "event: tool-call-delta\n",
        "data: {\"type\":\"tool-call-delta\",\"index\":0,\"delta\":{\"message\":{\"tool_calls\":{\"function\":{\"arguments\":\"location\\\": \\\"Zürich\\\"}\"}}}}}\n\n",
        "event: tool-call-end\n",
        "data: {\"type\":\"tool-call-end\",\"index\":0}\n\n",
        "event: message-end\n",
        "data: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"TOOL_CALL\",\"usage\":{\"billed_units\":{\"input_tokens\":37,\"output_tokens\":28},\"tokens\":{\"input_tokens\":913,\"output_tokens\":83}}}}\n\n"
    );

    fn chunk(choices: Value) -> Value {
        json!({"id": "93b3f521-090e-4ebc-bac4-f7c557e63c00", "object": "chat.completion.chunk", "model": "test-model", "choices": choices})
    }

    #[test]
    fn stream_tool_call_transcript() {
        let got =
            strip_created(run_stream(WireFormat::Cohere, true, TRANSCRIPT.as_bytes()).unwrap());
        let mut usage = chunk(json!([]));
        usage["usage"] = json!({"prompt_tokens": 37, "completion_tokens": 28, "total_tokens": 65});
        assert_eq!(
            got,
            vec![
                chunk(
                    json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "get_weather_nsz5zm3w56q3", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\n    \""}}]}, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "location\": \"Zürich\"}"}}]}, "finish_reason": null}])
                ),
                chunk(json!([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])),
                usage,
            ]
        );
        let whole =
            strip_created(run_stream(WireFormat::Cohere, false, TRANSCRIPT.as_bytes()).unwrap());
        assert_eq!(whole.len(), 5);
        run_stream_split_everywhere(WireFormat::Cohere, false, TRANSCRIPT.as_bytes(), &whole);
    }

    #[test]
    fn stream_text_transcript() {
        let t = concat!(
            "event: message-start\ndata: {\"id\":\"m1\",\"type\":\"message-start\",\"delta\":{\"message\":{\"role\":\"assistant\",\"content\":[],\"tool_plan\":\"\",\"tool_calls\":[],\"citations\":[]}}}\n\n",
            "event: content-start\ndata: {\"type\":\"content-start\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"type\":\"text\",\"text\":\"\"}}}}\n\n",
            "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"Hello\"}}}}\n\n",
            "event: content-delta\ndata: {\"type\":\"content-delta\",\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\" world\"}}}}\n\n",
            "event: content-end\ndata: {\"type\":\"content-end\",\"index\":0}\n\n",
            "event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"COMPLETE\",\"usage\":{\"billed_units\":{\"input_tokens\":3,\"output_tokens\":2}}}}\n\n"
        );
        let got = run_stream(WireFormat::Cohere, false, t.as_bytes()).unwrap();
        assert_eq!(streamed_text(&got), "Hello world");
        assert_eq!(got.last().unwrap()["choices"][0]["finish_reason"], "stop");
    }

    #[test]
    fn stream_errors_and_early_end() {
        let cut = &TRANSCRIPT[..TRANSCRIPT.find("event: message-end").unwrap()];
        let e = run_stream(WireFormat::Cohere, true, cut.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("message-end"), "{e}");
        let failed = "event: message-start\ndata: {\"id\":\"m\",\"type\":\"message-start\"}\n\nevent: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"ERROR\"}}\n\n";
        let e = run_stream(WireFormat::Cohere, false, failed.as_bytes()).unwrap_err();
        assert!(matches!(e, ProviderError::Upstream { status: 200, .. }));
        let err = "data: {\"message\":\"internal server error\",\"error\":\"internal\"}\n\n";
        assert!(run_stream(WireFormat::Cohere, false, err.as_bytes()).is_err());
    }
}
