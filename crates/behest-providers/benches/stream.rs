//! What relaying one streamed answer costs in the codec: an OpenAI-compatible
//! upstream's 24 events (role, 20 content pieces, finish, usage, `[DONE]`) decoded,
//! and each chunk written back out as an SSE frame, as the gateway's relay does.
//!
//! `cargo bench -p behest-providers --bench stream`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use behest_providers::WireFormat;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// The events the bench's mock upstream sends (bench/mock-upstream), as OpenAI does.
fn upstream_body() -> Vec<u8> {
    let head = r#"data: {"id":"chatcmpl-mock7","object":"chat.completion.chunk","created":1733200000,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_mock0001","choices":"#;
    let mut body = format!(
        r#"{head}[{{"index":0,"delta":{{"role":"assistant","content":"","refusal":null}},"logprobs":null,"finish_reason":null}}],"usage":null}}"#
    );
    body.push_str("\n\n");
    for i in 0..20 {
        body.push_str(&format!(
            r#"{head}[{{"index":0,"delta":{{"content":" word{i}"}},"logprobs":null,"finish_reason":null}}],"usage":null}}"#
        ));
        body.push_str("\n\n");
    }
    body.push_str(&format!(
        r#"{head}[{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"stop"}}],"usage":null}}"#
    ));
    body.push_str("\n\n");
    body.push_str(&format!(
        r#"{head}[],"usage":{{"prompt_tokens":500,"completion_tokens":20,"total_tokens":520}}}}"#
    ));
    body.push_str("\n\ndata: [DONE]\n\n");
    body.into_bytes()
}

fn relay(c: &mut Criterion) {
    let body = upstream_body();
    let mut group = c.benchmark_group("stream");
    group.throughput(Throughput::Elements(24));
    group.bench_function("openai_decode", |b| {
        b.iter(|| {
            let mut decoder = WireFormat::OpenAiCompatible.stream_decoder("gpt-4o-mini", true);
            let mut chunks = decoder.feed(&body).unwrap();
            chunks.extend(decoder.finish().unwrap());
            chunks
        })
    });
    group.bench_function("sse_parse", |b| {
        b.iter(|| {
            let mut parser = behest_providers::sse::SseParser::new();
            let mut events = parser.feed(&body);
            events.extend(parser.finish());
            events
        })
    });
    let mut parser = behest_providers::sse::SseParser::new();
    let events = parser.feed(&body);
    group.bench_function("chunk_parse", |b| {
        b.iter(|| {
            events[..23]
                .iter()
                .map(|e| serde_json::from_str::<behest_providers::ChatChunk>(&e.data).unwrap())
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("openai_decode_encode", |b| {
        let mut out = Vec::with_capacity(8 << 10);
        b.iter(|| {
            out.clear();
            let mut decoder = WireFormat::OpenAiCompatible.stream_decoder("gpt-4o-mini", true);
            let mut chunks = decoder.feed(&body).unwrap();
            chunks.extend(decoder.finish().unwrap());
            for chunk in &chunks {
                out.extend_from_slice(b"data: ");
                serde_json::to_writer(&mut out, chunk).unwrap();
                out.extend_from_slice(b"\n\n");
            }
            out.len()
        })
    });
    group.finish();
}

criterion_group!(benches, relay);
criterion_main!(benches);
