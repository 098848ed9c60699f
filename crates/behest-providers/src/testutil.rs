//! Test helpers: run a transcript through a stream decoder whole, byte by
//! byte and split at every position, and compare the results.

use serde_json::Value;

use crate::error::ProviderError;
use crate::provider::WireFormat;
use crate::types::ChatChunk;

fn to_values(chunks: Vec<ChatChunk>) -> Vec<Value> {
    chunks
        .into_iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect()
}

/// Feeds the whole transcript at once, then finishes.
pub(crate) fn run_stream(
    wire: WireFormat,
    include_usage: bool,
    bytes: &[u8],
) -> Result<Vec<Value>, ProviderError> {
    let mut dec = wire.stream_decoder("test-model", include_usage);
    let mut out = dec.feed(bytes)?;
    out.extend(dec.finish()?);
    Ok(to_values(out))
}

/// Feeds the transcript in the given pieces, then finishes.
pub(crate) fn run_pieces(
    wire: WireFormat,
    include_usage: bool,
    pieces: &[&[u8]],
) -> Result<Vec<Value>, ProviderError> {
    let mut dec = wire.stream_decoder("test-model", include_usage);
    let mut out = Vec::new();
    for p in pieces {
        out.extend(dec.feed(p)?);
    }
    out.extend(dec.finish()?);
    Ok(to_values(out))
}

/// Drops `created` (a wall-clock timestamp) so runs compare equal.
pub(crate) fn strip_created(chunks: Vec<Value>) -> Vec<Value> {
    chunks
        .into_iter()
        .map(|mut c| {
            if let Some(o) = c.as_object_mut() {
                o.remove("created");
            }
            c
        })
        .collect()
}

/// Asserts that every two-piece split and the byte-by-byte feed give `expected`.
pub(crate) fn run_stream_split_everywhere(
    wire: WireFormat,
    include_usage: bool,
    bytes: &[u8],
    expected: &[Value],
) {
    for cut in 0..=bytes.len() {
        let got = run_pieces(wire, include_usage, &[&bytes[..cut], &bytes[cut..]]).unwrap();
        assert_eq!(strip_created(got), expected, "split at byte {cut}");
    }
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    let got = run_pieces(wire, include_usage, &singles).unwrap();
    assert_eq!(strip_created(got), expected, "byte by byte");
}

/// Concatenates the streamed text of choice 0.
pub(crate) fn streamed_text(chunks: &[Value]) -> String {
    chunks
        .iter()
        .filter_map(|c| {
            c.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
        })
        .collect()
}
