//! The head an OpenAI-compatible stream repeats before every event's choices (`id`,
//! `object`, `created`, `model`, `service_tier`, `system_fingerprint`), read once per
//! stream instead of once per event.
//!
//! OpenAI's events all begin with the same bytes up to `"choices":`, and those fields
//! were about half of what decoding an event cost (`benches/stream.rs`). So after an
//! event has been read whole, [`ChunkHeads`] keeps its head: the next event that begins
//! with the same bytes has only the rest parsed (`{"choices":[...],"usage":null,...}`)
//! and the head's fields put back, which gives the chunk a whole parse gives (the tests
//! compare the two on every event of a range of streams). An event whose head differs
//! is read whole and teaches the next head, a few times per stream at most, so a server
//! whose heads never repeat pays for one extra head parse on its first few events only.

use crate::types::{ChatChunk, SharedExtra};

const CHOICES: &str = "\"choices\":";
/// What makes a head's bytes a chunk without choices again.
const NO_CHOICES: &str = "\"choices\":[]}";
/// How many heads one stream may teach before the decoder stops learning.
const MOST_HEADS: u8 = 4;

/// One stream's repeated head.
#[derive(Debug, Default)]
pub(crate) struct ChunkHeads {
    head: Option<Head>,
    learned: u8,
    /// Where the rest of an event is put together as an object (kept between events).
    scratch: String,
    /// How many events were read from their rest only (for the tests).
    pub(crate) shortcuts: u32,
}

#[derive(Debug)]
struct Head {
    /// An event's bytes before its top-level `"choices":`.
    bytes: String,
    /// What they hold: a chunk without choices and without its unmodelled fields…
    fields: ChatChunk,
    /// …which every chunk of the head shares.
    extra: SharedExtra,
}

impl ChunkHeads {
    /// One event's JSON read as a chunk, or the error a whole parse gives.
    pub(crate) fn parse(&mut self, data: &str) -> serde_json::Result<ChatChunk> {
        if let Some(head) = &self.head {
            if let Some(rest) = data.strip_prefix(head.bytes.as_str()) {
                if rest.starts_with(CHOICES) {
                    self.scratch.clear();
                    self.scratch.push('{');
                    self.scratch.push_str(rest);
                    // A rest that does not read (an error event, a broken one) is read
                    // whole below, so its error is a whole parse's.
                    if let Ok(tail) = serde_json::from_str::<ChatChunk>(&self.scratch) {
                        self.shortcuts += 1;
                        return Ok(head.complete(tail));
                    }
                }
            }
        }
        let chunk = serde_json::from_str::<ChatChunk>(data)?;
        self.learn(data);
        Ok(chunk)
    }

    /// Keeps `data`'s head for the events after it, when it has one at the top level.
    fn learn(&mut self, data: &str) {
        if self.learned >= MOST_HEADS {
            return;
        }
        self.learned += 1;
        self.head = None;
        let Some(at) = data.find(CHOICES) else {
            return;
        };
        let bytes = &data[..at];
        // A key starts after `{`, `,` or white space; anything else (an escaped quote:
        // `"x\"choices":`) is inside another key.
        if !bytes.ends_with(['{', ',', ' ', '\t', '\n', '\r']) {
            return;
        }
        // Parsing as an object with empty choices proves the bytes are the top level's
        // first members (not the inside of a nested object or of a string).
        self.scratch.clear();
        self.scratch.push_str(bytes);
        self.scratch.push_str(NO_CHOICES);
        if let Ok(mut fields) = serde_json::from_str::<ChatChunk>(&self.scratch) {
            let extra = std::mem::take(&mut fields.extra).into_shared();
            self.head = Some(Head {
                bytes: bytes.to_owned(),
                fields,
                extra,
            });
        }
    }
}

impl Head {
    /// The chunk of the whole event from what its rest held: the head's fields, except
    /// where the rest set them (a key given twice: the later wins, as in a whole parse).
    fn complete(&self, mut rest: ChatChunk) -> ChatChunk {
        let head = &self.fields;
        if rest.id.is_empty() {
            rest.id = head.id.clone();
        }
        if rest.object == ChatChunk::OBJECT {
            rest.object = head.object.clone();
        }
        if rest.created == 0 {
            rest.created = head.created;
        }
        if rest.model.is_empty() {
            rest.model = head.model.clone();
        }
        if rest.usage.is_none() {
            rest.usage.clone_from(&head.usage);
        }
        rest.extra.share(&self.extra);
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `events` in order with one `ChunkHeads`, checking each against a whole
    /// parse; answers how many took the shortcut.
    fn shortcuts(events: &[&str]) -> u32 {
        let mut heads = ChunkHeads::default();
        for (i, event) in events.iter().enumerate() {
            let whole = serde_json::from_str::<ChatChunk>(event);
            let got = heads.parse(event);
            match (whole, got) {
                (Ok(whole), Ok(got)) => assert_eq!(got, whole, "event {i}: {event}"),
                (Err(whole), Err(got)) => {
                    assert_eq!(got.to_string(), whole.to_string(), "event {i}")
                }
                (whole, got) => panic!("event {i}: whole {whole:?}, got {got:?}"),
            }
        }
        heads.shortcuts
    }

    const HEAD: &str = r#"{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1733200000,"model":"gpt-4o-mini","service_tier":"default","system_fingerprint":"fp_1","#;

    fn openai(rest: &str) -> String {
        format!("{HEAD}{rest}")
    }

    #[test]
    fn an_openai_stream_parses_each_head_once_and_gives_the_whole_parse() {
        let events = [
            openai(
                r#""choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            ),
            openai(
                r#""choices":[{"index":0,"delta":{"content":"Hel"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"a1"}"#,
            ),
            openai(
                r#""choices":[{"index":0,"delta":{"content":"lo \"x\""},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"b2"}"#,
            ),
            openai(
                r#""choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]},"finish_reason":null}]}"#,
            ),
            openai(
                r#""choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#,
            ),
            openai(
                r#""choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#,
            ),
        ];
        let events: Vec<&str> = events.iter().map(String::as_str).collect();
        assert_eq!(shortcuts(&events), 5, "every event after the first");
    }

    #[test]
    fn heads_that_change_choices_first_and_odd_spacing_give_the_whole_parse() {
        let spaced =
            r#"{ "id": "s", "model": "m", "choices": [{"index": 0, "delta": {"content": "a"}}] }"#;
        let events = [
            // Azure's first event: another head, then the usual one.
            r#"{"id":"","object":"","created":0,"model":"","prompt_filter_results":[{"prompt_index":0}],"choices":[]}"#,
            r#"{"id":"a","object":"chat.completion.chunk","created":7,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"x"}}]}"#,
            r#"{"id":"a","object":"chat.completion.chunk","created":7,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":"y"}}]}"#,
            // Choices first, the envelope after them.
            r#"{"choices":[{"index":0,"delta":{"content":"z"}}],"id":"b","created":8,"model":"m"}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"w"}}],"id":"b","created":8,"model":"m","system_fingerprint":"f"}"#,
            spaced,
            spaced,
            // Usage before the choices.
            r#"{"id":"u","usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2},"choices":[]}"#,
            r#"{"id":"u","usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2},"choices":[]}"#,
        ];
        assert!(shortcuts(&events) >= 3);
    }

    #[test]
    fn choices_inside_strings_nested_objects_and_broken_events_are_read_whole() {
        let events = [
            r#"{"x\"choices":1,"choices":[{"index":0,"delta":{"content":"a"}}]}"#,
            r#"{"x\"choices":1,"choices":[{"index":0,"delta":{"content":"b"}}]}"#,
            r#"{"meta":{"choices":[]},"choices":[{"index":0,"delta":{"content":"c"}}]}"#,
            r#"{"meta":{"choices":[]},"choices":[{"index":0,"delta":{"content":"d"}}]}"#,
            r#"{"id":"e","choices":[{"index":0,"delta":{"content":"e"}}]}"#,
            r#"{"id":"e","choices":[{"index":0,"delta":{"content":"#,
            r#"{"id":"e","choices":{"index":0}}"#,
            r#"{"id":"e","choices":[{"index":0,"delta":{"content":"f"}}],"usage":7}"#,
        ];
        shortcuts(&events);
    }

    #[test]
    fn a_stream_whose_heads_never_repeat_stops_learning() {
        let events: Vec<String> = (0..10)
            .map(|n| {
                format!(r#"{{"id":"{n}","choices":[{{"index":0,"delta":{{"content":"t"}}}}]}}"#)
            })
            .collect();
        let events: Vec<&str> = events.iter().map(String::as_str).collect();
        let mut heads = ChunkHeads::default();
        for event in &events {
            heads.parse(event).unwrap();
        }
        assert_eq!(heads.learned, MOST_HEADS);
        assert_eq!(shortcuts(&events), 0);
    }
}
