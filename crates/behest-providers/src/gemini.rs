//! Google Gemini API codec: `POST /v1beta/models/{model}:generateContent`
//! (or `:streamGenerateContent?alt=sse`), key in `x-goog-api-key`.
//!
//! Follows the Gemini API reference: `contents` of `user`/`model` turns made
//! of `text`, `inlineData`, `functionCall` and `functionResponse` parts,
//! `systemInstruction`, `tools[].functionDeclarations`,
//! `toolConfig.functionCallingConfig`, `generationConfig`; answers are
//! `GenerateContentResponse` objects (`candidates`, `finishReason`,
//! `usageMetadata`, `promptFeedback`), one per SSE `data:` line when streamed,
//! with no terminal sentinel: the chunk carrying `finishReason` is the last.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Map, Value};

use crate::error::{self, str_at, ProviderError};
use crate::sse::SseEvent;
use crate::types::{
    ChatChunk, ChatRequest, ChatResponse, Choice, ContentPart, EncodedRequest, FunctionCall,
    Message, ResponseMessage, ToolCall, ToolChoice, Usage,
};
use crate::util::{
    arguments_object, is_system_role, new_id, now_secs, parse_data_url, parse_json, put, text_only,
    ChunkFactory,
};

const PROVIDER: &str = "google";

/// `x-goog-api-key: <key>`.
pub fn auth_headers(api_key: &str) -> Vec<(String, String)> {
    vec![("x-goog-api-key".to_string(), api_key.to_string())]
}

/// Translates an OpenAI request into a `generateContent` request.
///
/// `n` becomes `candidateCount`. Rejects image URLs that are not `data:`
/// URLs (Gemini only fetches files it hosts), non-function tools, and
/// content parts other than text and images.
pub fn encode_request(req: &ChatRequest, model: &str) -> Result<EncodedRequest, ProviderError> {
    let mut system = Vec::new();
    let mut contents: Vec<(&'static str, Vec<Value>)> = Vec::new();
    // Gemini's functionResponse needs the function name, OpenAI's tool
    // message only has the call id: remember names as calls go by.
    let mut names: HashMap<&str, &str> = HashMap::new();
    for m in &req.messages {
        let (role, parts) = match m.role.as_str() {
            r if is_system_role(r) => {
                system.push(text_only(m.content.as_ref(), PROVIDER, r)?);
                continue;
            }
            "user" => ("user", user_parts(m)?),
            "assistant" => {
                for c in m.tool_calls.iter().flatten() {
                    names.insert(c.id.as_str(), c.function.name.as_str());
                }
                ("model", model_parts(m)?)
            }
            "tool" => ("user", vec![function_response(m, &names)?]),
            other => {
                return Err(ProviderError::invalid(
                    "messages",
                    format!("message role `{other}` is not supported by google"),
                ))
            }
        };
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some((last, acc)) if *last == role => acc.extend(parts),
            _ => contents.push((role, parts)),
        }
    }

    let mut body = Map::new();
    body.insert(
        "contents".into(),
        contents
            .into_iter()
            .map(|(role, parts)| json!({"role": role, "parts": parts}))
            .collect(),
    );
    if !system.is_empty() {
        body.insert(
            "systemInstruction".into(),
            json!({"parts": [{"text": system.join("\n\n")}]}),
        );
    }
    if let Some(tools) = &req.tools {
        let mut decls = Vec::new();
        for t in tools {
            if t.kind != "function" {
                return Err(ProviderError::invalid(
                    "tools",
                    format!("tool type `{}` is not supported by google", t.kind),
                ));
            }
            let mut d = Map::new();
            d.insert("name".into(), t.function.name.clone().into());
            put(&mut d, "description", t.function.description.clone());
            // The JSON Schema field, not the OpenAPI-subset `parameters`,
            // so OpenAI schemas (additionalProperties, etc.) are accepted.
            put(
                &mut d,
                "parametersJsonSchema",
                t.function.parameters.clone(),
            );
            decls.push(Value::Object(d));
        }
        body.insert("tools".into(), json!([{"functionDeclarations": decls}]));
    }
    if let Some(choice) = &req.tool_choice {
        let config = match choice {
            ToolChoice::Mode(m) => match m.as_str() {
                "auto" => json!({"mode": "AUTO"}),
                "required" => json!({"mode": "ANY"}),
                "none" => json!({"mode": "NONE"}),
                other => {
                    return Err(ProviderError::invalid(
                        "tool_choice",
                        format!("tool_choice `{other}` is not supported"),
                    ))
                }
            },
            ToolChoice::Function(f) => {
                json!({"mode": "ANY", "allowedFunctionNames": [f.function.name]})
            }
            ToolChoice::Other(v) => {
                return Err(ProviderError::invalid(
                    "tool_choice",
                    format!("tool_choice {v} is not supported by google"),
                ))
            }
        };
        body.insert(
            "toolConfig".into(),
            json!({"functionCallingConfig": config}),
        );
    }

    let mut gen = Map::new();
    put(&mut gen, "temperature", req.temperature);
    put(&mut gen, "topP", req.top_p);
    put(&mut gen, "maxOutputTokens", req.max_output_tokens());
    put(
        &mut gen,
        "stopSequences",
        req.stop.as_ref().map(|s| s.to_vec()),
    );
    put(&mut gen, "candidateCount", req.n);
    if let Some(rf) = &req.response_format {
        match rf.kind.as_str() {
            "text" => {}
            "json_object" => {
                gen.insert("responseMimeType".into(), "application/json".into());
            }
            "json_schema" => {
                gen.insert("responseMimeType".into(), "application/json".into());
                if let Some(schema) = rf.json_schema.as_ref().and_then(|s| s.schema.clone()) {
                    gen.insert("responseJsonSchema".into(), schema);
                }
            }
            other => {
                return Err(ProviderError::invalid(
                    "response_format",
                    format!("response_format `{other}` is not supported by google"),
                ))
            }
        }
    }
    if !gen.is_empty() {
        body.insert("generationConfig".into(), Value::Object(gen));
    }

    let model = model.strip_prefix("models/").unwrap_or(model);
    let stream = req.is_stream();
    let path = if stream {
        format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("/v1beta/models/{model}:generateContent")
    };
    Ok(EncodedRequest {
        path,
        body: Value::Object(body),
        stream,
    })
}

fn user_parts(m: &Message) -> Result<Vec<Value>, ProviderError> {
    crate::util::content_items(m, text_part, part)
}

fn text_part(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!({"text": text}))
}

fn part(p: &ContentPart) -> Result<Option<Value>, ProviderError> {
    match (p.kind.as_str(), &p.text, &p.image_url) {
        ("text", Some(t), _) => Ok(text_part(t)),
        ("image_url", _, Some(img)) => match parse_data_url(&img.url) {
            Some((mime, data)) => Ok(Some(json!({"inlineData": {"mimeType": mime, "data": data}}))),
            None => Err(ProviderError::invalid(
                "messages",
                "google accepts images only as base64 data URLs (data:<mime>;base64,...), not remote URLs",
            )),
        },
        (kind, _, _) => Err(ProviderError::invalid(
            "messages",
            format!("content part of type `{kind}` is not supported by google"),
        )),
    }
}

fn model_parts(m: &Message) -> Result<Vec<Value>, ProviderError> {
    let mut out: Vec<Value> = text_part(&text_only(m.content.as_ref(), PROVIDER, "assistant")?)
        .into_iter()
        .collect();
    for c in m.tool_calls.iter().flatten() {
        out.push(json!({"functionCall": {
            "name": c.function.name,
            "args": arguments_object(&c.function.arguments, PROVIDER)?,
        }}));
    }
    Ok(out)
}

fn function_response(m: &Message, names: &HashMap<&str, &str>) -> Result<Value, ProviderError> {
    let name = m
        .tool_call_id
        .as_deref()
        .and_then(|id| names.get(id).copied())
        .or(m.name.as_deref())
        .ok_or_else(|| {
            ProviderError::invalid(
                "messages",
                "a tool message's tool_call_id must match a tool call of an earlier assistant message (google needs the function name)",
            )
        })?;
    let text = text_only(m.content.as_ref(), PROVIDER, "tool")?;
    // `response` must be an object: keep JSON objects, wrap anything else.
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => v,
        Ok(v) => json!({"result": v}),
        Err(_) => json!({"result": text}),
    };
    Ok(json!({"functionResponse": {"name": name, "response": response}}))
}

/// Maps a Gemini `finishReason` to OpenAI's `finish_reason`.
pub fn map_finish_reason(reason: &str) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY"
        | "LANGUAGE" => "content_filter",
        // STOP, OTHER, MALFORMED_FUNCTION_CALL, FINISH_REASON_UNSPECIFIED, newer values.
        _ => "stop",
    }
}

fn usage_from(meta: &Value) -> Usage {
    let n = |k: &str| meta.get(k).and_then(Value::as_u64).unwrap_or(0);
    // Thinking tokens are billed as output, as OpenAI's reasoning tokens are.
    let mut usage = Usage::new(
        n("promptTokenCount"),
        n("candidatesTokenCount") + n("thoughtsTokenCount"),
    );
    if let Some(total) = meta.get("totalTokenCount").and_then(Value::as_u64) {
        usage.total_tokens = total;
    }
    usage
}

/// A function call's id: Gemini's own when it sends one, else `call_<n>`
/// (unique within the answer, which is all a client needs to pair results).
fn call_id(call: &Value, n: usize) -> String {
    str_at(call, "/id").unwrap_or_else(|| format!("call_{n}"))
}

fn call_args(call: &Value) -> String {
    call.get("args")
        .map(Value::to_string)
        .unwrap_or_else(|| "{}".to_string())
}

/// Translates a `generateContent` answer (any status) into a `chat.completion`.
pub fn decode_response(status: u16, body: &[u8]) -> Result<ChatResponse, ProviderError> {
    if !(200..300).contains(&status) {
        return Err(decode_error(status, body));
    }
    let v = parse_json(PROVIDER, body)?;
    if v.get("error").is_some() {
        return Err(decode_error(status, body));
    }
    let mut choices = Vec::new();
    let mut n_calls = 0;
    for c in v["candidates"].as_array().into_iter().flatten() {
        let mut text = String::new();
        let mut calls = Vec::new();
        for p in c
            .pointer("/content/parts")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if p["thought"] == true {
                continue;
            }
            if let Some(t) = p["text"].as_str() {
                text.push_str(t);
            }
            if let Some(call) = p.get("functionCall") {
                calls.push(ToolCall {
                    id: call_id(call, n_calls),
                    kind: "function".into(),
                    function: FunctionCall {
                        name: str_at(call, "/name").unwrap_or_default(),
                        arguments: call_args(call),
                    },
                    extra: Map::new(),
                });
                n_calls += 1;
            }
        }
        let reason = c["finishReason"]
            .as_str()
            .map(map_finish_reason)
            .unwrap_or("stop");
        let reason = if reason == "stop" && !calls.is_empty() {
            "tool_calls"
        } else {
            reason
        };
        choices.push(Choice {
            index: c["index"].as_u64().unwrap_or(choices.len() as u64) as u32,
            message: ResponseMessage {
                role: "assistant".into(),
                content: (!text.is_empty() || calls.is_empty()).then_some(text),
                tool_calls: (!calls.is_empty()).then_some(calls),
                extra: Map::new(),
            },
            finish_reason: Some(reason.to_string()),
            extra: Map::new(),
        });
    }
    if choices.is_empty() {
        if v.pointer("/promptFeedback/blockReason").is_none() {
            return Err(ProviderError::protocol(
                PROVIDER,
                "answer has no candidates",
            ));
        }
        // The prompt itself was blocked: an empty, filtered answer.
        choices.push(Choice {
            index: 0,
            message: ResponseMessage {
                role: "assistant".into(),
                content: Some(String::new()),
                ..ResponseMessage::default()
            },
            finish_reason: Some("content_filter".into()),
            extra: Map::new(),
        });
    }
    choices.sort_by_key(|c| c.index);
    Ok(ChatResponse {
        id: str_at(&v, "/responseId").unwrap_or_else(|| new_id("chatcmpl-")),
        object: "chat.completion".into(),
        created: now_secs(),
        model: str_at(&v, "/modelVersion").unwrap_or_default(),
        choices,
        usage: v.get("usageMetadata").map(usage_from),
        extra: Map::new(),
    })
}

fn error_fields(v: &Value) -> (Option<String>, Option<String>, Option<u64>) {
    // Streaming without alt=sse wraps the error in an array.
    let e = v.get(0).unwrap_or(v);
    (
        str_at(e, "/error/message"),
        str_at(e, "/error/status"),
        e.pointer("/error/code").and_then(Value::as_u64),
    )
}

/// Google's `{"error":{"code","message","status"}}`.
pub fn decode_error(status: u16, body: &[u8]) -> ProviderError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let (message, kind, _) = error_fields(&v);
    error::upstream(PROVIDER, status, message, kind, body)
}

/// Stream state of the Gemini decoder.
#[derive(Debug)]
pub(crate) struct StreamState {
    f: ChunkFactory,
    include_usage: bool,
    got_id: bool,
    started: HashSet<u32>,
    /// Per candidate: number of tool calls emitted so far.
    calls: HashMap<u32, u32>,
    total_calls: usize,
    pub(crate) done: bool,
    pub(crate) usage: Option<Usage>,
}

impl StreamState {
    pub(crate) fn new(model: &str, include_usage: bool) -> Self {
        StreamState {
            f: ChunkFactory::new(model),
            include_usage,
            got_id: false,
            started: HashSet::new(),
            calls: HashMap::new(),
            total_calls: 0,
            done: false,
            usage: None,
        }
    }

    fn start(&mut self, choice: u32, out: &mut Vec<ChatChunk>) {
        if self.started.insert(choice) {
            out.push(self.f.role(choice));
        }
    }

    pub(crate) fn event(
        &mut self,
        ev: &SseEvent,
        out: &mut Vec<ChatChunk>,
    ) -> Result<(), ProviderError> {
        if ev.data.trim().is_empty() {
            return Ok(());
        }
        let v = parse_json(PROVIDER, ev.data.as_bytes())?;
        if v.get("error").is_some() {
            let (message, kind, code) = error_fields(&v);
            return Err(ProviderError::Upstream {
                provider: PROVIDER,
                status: 200,
                message: message.unwrap_or_else(|| ev.data.clone()),
                kind,
                retryable: code.is_some_and(|c| error::status_retryable(c as u16)),
            });
        }
        if !self.got_id {
            self.got_id = true;
            if let Some(id) = str_at(&v, "/responseId") {
                self.f.id = id.into();
            }
            if let Some(model) = str_at(&v, "/modelVersion") {
                self.f.model = model.into();
            }
        }
        if let Some(meta) = v.get("usageMetadata") {
            self.usage = Some(usage_from(meta));
        }
        let candidates = v["candidates"].as_array().cloned().unwrap_or_default();
        if candidates.is_empty() && v.pointer("/promptFeedback/blockReason").is_some() {
            self.start(0, out);
            out.push(self.f.finish(0, "content_filter"));
            self.done = true;
        }
        for c in &candidates {
            let choice = c["index"].as_u64().unwrap_or(0) as u32;
            self.start(choice, out);
            for p in c
                .pointer("/content/parts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if p["thought"] == true {
                    continue;
                }
                if let Some(t) = p["text"].as_str().filter(|t| !t.is_empty()) {
                    out.push(self.f.content(choice, t));
                }
                if let Some(call) = p.get("functionCall") {
                    // Gemini sends each call whole: one fragment carries everything.
                    let n = self.calls.entry(choice).or_insert(0);
                    let index = *n;
                    *n += 1;
                    out.push(self.f.tool_start(
                        choice,
                        index,
                        &call_id(call, self.total_calls),
                        call["name"].as_str().unwrap_or_default(),
                        &call_args(call),
                    ));
                    self.total_calls += 1;
                }
            }
            if let Some(reason) = c["finishReason"].as_str() {
                let mapped = map_finish_reason(reason);
                let mapped = if mapped == "stop" && self.calls.get(&choice).is_some_and(|n| *n > 0)
                {
                    "tool_calls"
                } else {
                    mapped
                };
                out.push(self.f.finish(choice, mapped));
                self.done = true;
            }
        }
        Ok(())
    }

    pub(crate) fn end(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), ProviderError> {
        if !self.done {
            return Err(ProviderError::protocol(
                PROVIDER,
                "stream ended before any candidate's finishReason",
            ));
        }
        // usageMetadata rides on the last chunk(s), so usage is final only now.
        if self.include_usage {
            let usage = self.usage.clone().unwrap_or_default();
            out.push(self.f.usage(&usage));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::WireFormat;
    use crate::testutil::{run_stream, run_stream_split_everywhere, strip_created};

    fn req(v: Value) -> ChatRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn encode_full_conversation_with_tools() {
        let r = req(json!({
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in this image, and the weather in Paris?"},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_0", "content": "{\"temp_c\":18}"},
                {"role": "assistant", "content": "A cat. 18C."},
                {"role": "user", "content": "ok"}
            ],
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": false}}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "temperature": 0.5,
            "top_p": 0.8,
            "max_tokens": 256,
            "stop": "###",
            "n": 2,
            "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": true}},
            "user": "ignored"
        }));
        let enc = encode_request(&r, "gemini-2.5-flash").unwrap();
        assert_eq!(enc.path, "/v1beta/models/gemini-2.5-flash:generateContent");
        assert!(!enc.stream);
        assert_eq!(
            enc.body,
            json!({
                "contents": [
                    {"role": "user", "parts": [
                        {"text": "What is in this image, and the weather in Paris?"},
                        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}}
                    ]},
                    {"role": "model", "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
                    {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp_c": 18}}}]},
                    {"role": "model", "parts": [{"text": "A cat. 18C."}]},
                    {"role": "user", "parts": [{"text": "ok"}]}
                ],
                "systemInstruction": {"parts": [{"text": "Be brief."}]},
                "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather", "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": false}}]}],
                "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
                "generationConfig": {
                    "temperature": 0.5,
                    "topP": 0.8,
                    "maxOutputTokens": 256,
                    "stopSequences": ["###"],
                    "candidateCount": 2,
                    "responseMimeType": "application/json",
                    "responseJsonSchema": {"type": "object"}
                }
            })
        );
    }

    #[test]
    fn encode_stream_path_and_rejections() {
        let enc = encode_request(&req(json!({"messages": [{"role": "user", "content": "hi"}], "stream": true, "tool_choice": "none", "response_format": {"type": "json_object"}})), "models/gemini-2.0-flash").unwrap();
        assert_eq!(
            enc.path,
            "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
        );
        assert!(enc.stream);
        assert_eq!(
            enc.body["toolConfig"],
            json!({"functionCallingConfig": {"mode": "NONE"}})
        );
        assert_eq!(
            enc.body["generationConfig"],
            json!({"responseMimeType": "application/json"})
        );
        let e = encode_request(&req(json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]})), "m").unwrap_err();
        assert!(e.to_string().contains("data URL"));
        // A tool result whose call is unknown cannot be named.
        let e = encode_request(
            &req(json!({"messages": [{"role": "tool", "tool_call_id": "nope", "content": "1"}]})),
            "m",
        )
        .unwrap_err();
        assert!(matches!(e, ProviderError::InvalidRequest { .. }));
        // Plain-text tool results are wrapped into an object.
        let r = req(json!({"messages": [
            {"role": "assistant", "tool_calls": [{"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "a", "content": "done"}
        ]}));
        assert_eq!(
            encode_request(&r, "m").unwrap().body["contents"][1],
            json!({"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"result": "done"}}}]})
        );
    }

    #[test]
    fn decode_function_call_response() {
        let body = json!({
            "candidates": [{
                "content": {"role": "model", "parts": [
                    {"text": "thinking...", "thought": true},
                    {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                    {"functionCall": {"name": "get_time", "args": {}}}
                ]},
                "finishReason": "STOP",
                "index": 0,
                "safetyRatings": []
            }],
            "usageMetadata": {"promptTokenCount": 30, "candidatesTokenCount": 12, "thoughtsTokenCount": 8, "totalTokenCount": 50},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "resp-1"
        });
        let resp = decode_response(200, body.to_string().as_bytes()).unwrap();
        let mut v = serde_json::to_value(&resp).unwrap();
        v.as_object_mut().unwrap().remove("created");
        assert_eq!(
            v,
            json!({
                "id": "resp-1",
                "object": "chat.completion",
                "model": "gemini-2.5-flash",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                        {"id": "call_1", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
                    ]},
                    "finish_reason": "tool_calls"
                }],
                "usage": {"prompt_tokens": 30, "completion_tokens": 20, "total_tokens": 50}
            })
        );
    }

    #[test]
    fn finish_reasons_and_blocked_prompt() {
        assert_eq!(map_finish_reason("STOP"), "stop");
        assert_eq!(map_finish_reason("MAX_TOKENS"), "length");
        assert_eq!(map_finish_reason("SAFETY"), "content_filter");
        assert_eq!(map_finish_reason("RECITATION"), "content_filter");
        assert_eq!(map_finish_reason("OTHER"), "stop");
        let two = json!({"candidates": [
            {"content": {"role": "model", "parts": [{"text": "B"}]}, "finishReason": "MAX_TOKENS", "index": 1},
            {"content": {"role": "model", "parts": [{"text": "A"}]}, "finishReason": "STOP", "index": 0}
        ]});
        let resp = decode_response(200, two.to_string().as_bytes()).unwrap();
        assert_eq!(resp.choices.len(), 2);
        assert_eq!(resp.choices[0].message.content.as_deref(), Some("A"));
        assert_eq!(resp.choices[1].finish_reason.as_deref(), Some("length"));
        let blocked = json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}});
        let resp = decode_response(200, blocked.to_string().as_bytes()).unwrap();
        assert_eq!(
            resp.choices[0].finish_reason.as_deref(),
            Some("content_filter")
        );
    }

    #[test]
    fn decode_error_body() {
        let body = br#"{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT"}}"#;
        let e = decode_response(400, body).unwrap_err();
        assert_eq!(
            e,
            ProviderError::Upstream {
                provider: PROVIDER,
                status: 400,
                message: "API key not valid. Please pass a valid API key.".into(),
                kind: Some("INVALID_ARGUMENT".into()),
                retryable: false
            }
        );
        let e = decode_error(503, br#"[{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}]"#);
        assert!(e.is_retryable());
        assert_eq!(
            e.to_openai_error()["error"]["message"],
            "The model is overloaded."
        );
    }

    const TRANSCRIPT: &str = concat!(
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Le temps à\"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"totalTokenCount\": 9},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"abc123\"}\r\n\r\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" Paris ☀\"},{\"functionCall\": {\"name\": \"get_weather\",\"args\": {\"city\": \"Paris\"}}}],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"abc123\"}\r\n\r\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"candidatesTokenCount\": 21,\"totalTokenCount\": 30},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"abc123\"}\r\n\r\n"
    );

    fn chunk(choices: Value) -> Value {
        json!({"id": "abc123", "object": "chat.completion.chunk", "model": "gemini-2.5-flash", "choices": choices})
    }

    #[test]
    fn stream_transcript_to_openai_chunks() {
        let got =
            strip_created(run_stream(WireFormat::Gemini, true, TRANSCRIPT.as_bytes()).unwrap());
        let mut usage = chunk(json!([]));
        usage["usage"] = json!({"prompt_tokens": 9, "completion_tokens": 21, "total_tokens": 30});
        assert_eq!(
            got,
            vec![
                chunk(
                    json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 0, "delta": {"content": "Le temps à"}, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 0, "delta": {"content": " Paris ☀"}, "finish_reason": null}])
                ),
                chunk(
                    json!([{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}, "finish_reason": null}])
                ),
                chunk(json!([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}])),
                usage,
            ]
        );
        let whole =
            strip_created(run_stream(WireFormat::Gemini, false, TRANSCRIPT.as_bytes()).unwrap());
        assert_eq!(whole.len(), 5);
        run_stream_split_everywhere(WireFormat::Gemini, false, TRANSCRIPT.as_bytes(), &whole);
    }

    #[test]
    fn stream_error_and_early_end() {
        let t = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Hi\"}]},\"index\": 0}]}\n\ndata: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded. Please try again later.\", \"status\": \"UNAVAILABLE\"}}\n\n";
        let e = run_stream(WireFormat::Gemini, false, t.as_bytes()).unwrap_err();
        assert!(
            matches!(e, ProviderError::Upstream { status: 200, retryable: true, ref kind, .. } if kind.as_deref() == Some("UNAVAILABLE"))
        );
        let cut = &TRANSCRIPT[..TRANSCRIPT.rfind("data:").unwrap()];
        let e = run_stream(WireFormat::Gemini, true, cut.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("finishReason"), "{e}");
    }
}
