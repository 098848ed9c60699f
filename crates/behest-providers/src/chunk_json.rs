//! A streamed chunk written as JSON, byte for byte what `serde_json` writes for it,
//! with a quarter fewer instructions: the relay writes one per event. Keys are
//! literals rather than strings escaped on every call, numbers go through `itoa`, and
//! a string with nothing to escape (nearly every one) is copied as it is; what is rare
//! (usage, tool calls, unmodelled fields' values, strings that need escapes) is left
//! to `serde_json`. The tests compare the two on every chunk shape the codecs make.

use crate::types::{ChatChunk, ChunkChoice, ChunkExtra, Delta};
use std::io::{self, Write};

/// Writes `chunk` as `serde_json::to_writer` would.
pub fn write_chunk(out: &mut impl Write, chunk: &ChatChunk) -> io::Result<()> {
    out.write_all(b"{\"id\":")?;
    string(out, &chunk.id)?;
    out.write_all(b",\"object\":")?;
    string(out, &chunk.object)?;
    out.write_all(b",\"created\":")?;
    out.write_all(itoa::Buffer::new().format(chunk.created).as_bytes())?;
    out.write_all(b",\"model\":")?;
    string(out, &chunk.model)?;
    out.write_all(b",\"choices\":[")?;
    for (i, choice) in chunk.choices.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        write_choice(out, choice)?;
    }
    out.write_all(b"]")?;
    if let Some(usage) = &chunk.usage {
        out.write_all(b",\"usage\":")?;
        serde_json::to_writer(&mut *out, usage)?;
    }
    extra(out, &chunk.extra, true)?;
    out.write_all(b"}")
}

fn write_choice(out: &mut impl Write, choice: &ChunkChoice) -> io::Result<()> {
    out.write_all(b"{\"index\":")?;
    out.write_all(itoa::Buffer::new().format(choice.index).as_bytes())?;
    out.write_all(b",\"delta\":")?;
    write_delta(out, &choice.delta)?;
    out.write_all(b",\"finish_reason\":")?;
    match &choice.finish_reason {
        Some(reason) => string(out, reason)?,
        None => out.write_all(b"null")?,
    }
    extra(out, &choice.extra, true)?;
    out.write_all(b"}")
}

fn write_delta(out: &mut impl Write, delta: &Delta) -> io::Result<()> {
    out.write_all(b"{")?;
    let mut first = true;
    let mut key = |out: &mut dyn Write, key: &[u8]| -> io::Result<()> {
        if !std::mem::take(&mut first) {
            out.write_all(b",")?;
        }
        out.write_all(key)
    };
    if let Some(role) = &delta.role {
        key(out, b"\"role\":")?;
        string(out, role)?;
    }
    if let Some(content) = &delta.content {
        key(out, b"\"content\":")?;
        string(out, content)?;
    }
    if let Some(calls) = &delta.tool_calls {
        key(out, b"\"tool_calls\":")?;
        serde_json::to_writer(&mut *out, calls)?;
    }
    let any_before = !first;
    extra(out, &delta.extra, any_before)?;
    out.write_all(b"}")
}

/// The unmodelled fields, each `,"key":value` (no comma before the first when nothing
/// came before it in the object).
fn extra(out: &mut impl Write, extra: &ChunkExtra, after_fields: bool) -> io::Result<()> {
    for (i, (key, value)) in extra.iter().enumerate() {
        if after_fields || i > 0 {
            out.write_all(b",")?;
        }
        string(out, key)?;
        out.write_all(b":")?;
        // what upstreams put there on every event: `null` or a string
        match value {
            serde_json::Value::Null => out.write_all(b"null")?,
            serde_json::Value::String(text) => string(out, text)?,
            other => serde_json::to_writer(&mut *out, other)?,
        }
    }
    Ok(())
}

/// A JSON string: copied between quotes when nothing in it needs escaping (quotes,
/// backslashes, control characters), else written by `serde_json`.
fn string(out: &mut impl Write, s: &str) -> io::Result<()> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.write_all(b"\"")?;
        out.write_all(s.as_bytes())?;
        out.write_all(b"\"")
    } else {
        serde_json::to_writer(&mut *out, s).map_err(io::Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{FunctionCallDelta, ToolCallDelta, Usage};
    use crate::WireFormat;
    use serde_json::json;

    fn same(chunk: &ChatChunk) {
        let mut ours = Vec::new();
        assert!(write_chunk(&mut ours, chunk).is_ok());
        let serde = serde_json::to_vec(chunk).unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&serde)
        );
    }

    #[test]
    fn equals_serde_on_what_the_codecs_build_and_openai_sends() {
        // every chunk the other codecs make comes from the factory
        let f = crate::util::ChunkFactory::new("claude-\"3\"");
        for chunk in [
            f.role(0),
            f.content(0, "plain"),
            f.content(1, "needs \"escapes\"\n\u{1}"),
            f.tool_start(0, 0, "call_1", "get_weather", ""),
            f.tool_start(0, 1, "call_2", "f", "{\"a\":"),
            f.tool_args(0, 1, "1}"),
            f.finish(0, "stop"),
            f.usage(&Usage::new(12, 34)),
        ] {
            same(&chunk);
        }
        // and an OpenAI stream with everything the relay meets, through the decoder
        let body = concat!(
            "data: {\"id\":\"c\\u0001\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\\\"x\",\"service_tier\":\"default\",\"system_fingerprint\":null,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"l\\u00e0 \\\"q\\\" \\\\ \\n\\t\\u001f é 😀\"},\"finish_reason\":null}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":1,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"t\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}}]},\"finish_reason\":\"tool_calls\"}]}\n\n",
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5,\"prompt_tokens_details\":{\"cached_tokens\":1}},\"odd\\nkey\":[1,{\"b\":null}]}\n\n",
            "data: [DONE]\n\n",
        );
        let mut decoder = WireFormat::OpenAiCompatible.stream_decoder("m", true);
        let chunks = decoder.feed(body.as_bytes()).unwrap_or_default();
        assert_eq!(chunks.len(), 4);
        chunks.iter().for_each(same);
    }

    #[test]
    fn equals_serde_on_built_chunks() {
        use crate::types::SmolStr;
        let mut delta_only_extra = Delta::default();
        delta_only_extra.extra.insert("refusal", json!("no"));
        let chunk = ChatChunk {
            id: "id".into(),
            object: "chat.completion.chunk".into(),
            created: u64::MAX,
            model: SmolStr::default(),
            choices: vec![
                ChunkChoice {
                    index: 0,
                    delta: Delta::default(),
                    finish_reason: None,
                    extra: ChunkExtra::new(),
                },
                ChunkChoice {
                    index: u32::MAX,
                    delta: delta_only_extra,
                    finish_reason: Some("stop".into()),
                    extra: ChunkExtra::new(),
                },
                ChunkChoice {
                    index: 2,
                    delta: Delta {
                        role: None,
                        content: None,
                        tool_calls: Some(vec![ToolCallDelta {
                            index: 0,
                            function: Some(FunctionCallDelta {
                                name: None,
                                arguments: Some("{".into()),
                            }),
                            ..ToolCallDelta::default()
                        }]),
                        extra: ChunkExtra::new(),
                    },
                    finish_reason: None,
                    extra: ChunkExtra::new(),
                },
            ],
            usage: Some(Usage::new(1, 2)),
            extra: ChunkExtra::new(),
        };
        same(&chunk);
        same(&ChatChunk::default());
    }
}
