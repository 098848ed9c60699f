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
//! Content events' rests are then filled into a [`DeltaTemplate`] without a parse.
//!
//! Both shortcuts give a whole parse's chunk for every object whose keys are unique. An
//! event that names a key twice (the head's `"id"` again after its choices, say) may
//! not: the head's value is put back where serde keeps the later one. RFC 8259 leaves
//! such objects' meaning unpredictable and parsers differ on them; checking every event
//! for it cost about a tenth of the decoder.

use crate::delta_template::{content_of, DeltaTemplate};
use crate::types::{ChatChunk, SharedExtra};

const CHOICES: &str = "\"choices\":";
/// What makes a head's bytes a chunk without choices again.
const NO_CHOICES: &str = "\"choices\":[]}";
/// How many heads one stream may teach before the decoder stops learning.
const MOST_HEADS: u8 = 4;
/// How many content-event templates one stream may teach.
const MOST_TEMPLATES: u8 = 4;

/// One stream's repeated head.
#[derive(Debug, Default)]
pub(crate) struct ChunkHeads {
    head: Option<Head>,
    learned: u8,
    /// The content events' rest, once one has been read ([`DeltaTemplate`]; boxed, as
    /// it holds a chunk and most codecs' states are smaller).
    template: Option<Box<DeltaTemplate>>,
    templates: u8,
    /// Where the rest of an event is put together as an object (kept between events).
    scratch: String,
    /// How many events were read from their rest only (for the tests)…
    pub(crate) shortcuts: u32,
    /// …and how many of those were filled into the template without a parse.
    pub(crate) filled: u32,
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
                    if let Some(tail) = self.template.as_ref().and_then(|t| t.fill(rest)) {
                        self.shortcuts += 1;
                        self.filled += 1;
                        return Ok(head.complete(tail));
                    }
                    self.scratch.clear();
                    self.scratch.push('{');
                    self.scratch.push_str(rest);
                    // A rest that does not read (an error event, a broken one) is read
                    // whole below, so its error is a whole parse's.
                    if let Ok(tail) = serde_json::from_str::<ChatChunk>(&self.scratch) {
                        self.shortcuts += 1;
                        // A content event the template did not fit teaches a new one
                        // (each try costs a parse, so a stream gets a few).
                        if self.templates < MOST_TEMPLATES && content_of(&tail).is_some() {
                            self.templates += 1;
                            if let Some(t) = DeltaTemplate::learn(rest, &tail, parse_rest) {
                                self.template = Some(Box::new(t));
                            }
                        }
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

/// A rest (`"choices":...}`) read as an object.
fn parse_rest(rest: &str) -> Option<ChatChunk> {
    let mut object = String::with_capacity(rest.len() + 1);
    object.push('{');
    object.push_str(rest);
    serde_json::from_str(&object).ok()
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
        read(events).shortcuts
    }

    /// [`shortcuts`]'s reading, answering the heads it leaves.
    fn read(events: &[&str]) -> ChunkHeads {
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
        heads
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

    /// A content event's rest as OpenAI writes it, `text` and `obfuscation` given as
    /// the JSON that goes between the quotes.
    fn content_event(text: &str, obfuscation: Option<&str>) -> String {
        let tail = obfuscation.map_or(String::new(), |o| format!(r#","obfuscation":"{o}""#));
        openai(&format!(
            r#""choices":[{{"index":0,"delta":{{"content":"{text}"}},"logprobs":null,"finish_reason":null}}],"usage":null{tail}}}"#
        ))
    }

    /// Texts that are hard to put in a JSON string, as they go between its quotes.
    fn tricky_texts() -> Vec<String> {
        let mut texts: Vec<String> = [
            "Hel",
            " world",
            "a\"b",
            "back\\slash\\",
            "tab\tnew\nline",
            "\u{1}\u{1f}",
            "é ü ß",
            "日本語",
            "😀 emoji",
            "</script>",
            "\"",
            "\\",
            " ",
            "{\"json\":1}",
            "\"content\":\"",
            "\u{2028}\u{2029}",
        ]
        .iter()
        .map(|t| {
            let quoted = serde_json::to_string(t).unwrap();
            quoted[1..quoted.len() - 1].to_owned()
        })
        .collect();
        // Escapes serde does not write but other servers do.
        texts.extend(
            [r"\u00e9t\u00E9", r"\ud83d\ude00", r"\/path\/", r"\b\f\r"]
                .iter()
                .map(|t| t.to_string()),
        );
        texts
    }

    #[test]
    fn content_events_are_filled_into_the_template_and_give_the_whole_parse() {
        for obfuscation in [None, Some("x")] {
            let mut events = vec![openai(
                r#""choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}"#,
            )];
            let texts = tricky_texts();
            for (i, text) in texts.iter().enumerate() {
                // OpenAI's obfuscation differs on every event, in length too.
                let o = obfuscation.map(|o| o.repeat(i + 1));
                events.push(content_event(text, o.as_deref()));
            }
            events.push(openai(
                r#""choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}"#,
            ));
            let events: Vec<&str> = events.iter().map(String::as_str).collect();
            let heads = read(&events);
            // The first content event teaches the template; every other one is filled.
            assert_eq!(heads.filled as usize, texts.len() - 1, "{obfuscation:?}");
            assert_eq!(heads.templates, 1);
        }
    }

    #[test]
    fn holes_that_are_not_the_delta_text_give_the_whole_parse() {
        let cases: [&[&str]; 5] = [
            // Another "content" before the delta's.
            &[
                r#"{"id":"a","choices":[{"index":0,"meta":{"content":"m"},"delta":{"content":"x"}}]}"#,
                r#"{"id":"a","choices":[{"index":0,"meta":{"content":"m"},"delta":{"content":"y"}}]}"#,
                r#"{"id":"a","choices":[{"index":0,"meta":{"content":"z"},"delta":{"content":"y"}}]}"#,
                r#"{"id":"a","choices":[{"index":0,"meta":{"content":"z"},"delta":{"content":"x"}}]}"#,
            ],
            // A repeated key: the later one is the value.
            &[
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"x","content":"w"}}]}"#,
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"q","content":"w"}}]}"#,
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"q","content":"v"}}]}"#,
            ],
            // The same text in both places.
            &[
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"s"}}],"note":{"content":"s"}}"#,
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"t"}}],"note":{"content":"s"}}"#,
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"t"}}],"note":{"content":"u"}}"#,
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"s"}}],"note":{"content":"u"}}"#,
            ],
            // A trailing string that is not a plain string afterwards.
            &[
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"x"}}],"obfuscation":"o"}"#,
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"y"}}],"obfuscation":7}"#,
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"y"}}]}"#,
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"y"}}],"obfuscation":"p","more":1}"#,
            ],
            // Broken strings: a raw control character, an escape that does not read, an
            // unterminated value, bytes after the end.
            &[
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"x"}}]}"#,
                "{\"id\":\"a\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\u{1}b\"}}]}",
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"\q"}}]}"#,
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"\ud800"}}]}"#,
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"x\"}}]}"#,
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"x"}}]}}"#,
                r#"{"id":"a","choices":[{"index":0,"delta":{"content":"y"}}]}"#,
            ],
        ];
        for events in cases {
            // Every event equals its whole parse (or fails as it does).
            read(events);
        }
    }

    #[test]
    fn a_stream_whose_content_events_never_fit_stops_learning_templates() {
        let events: Vec<String> = (0..10)
            .map(|n| {
                // A different shape every time: the index moves.
                format!(r#"{{"id":"s","choices":[{{"index":{n},"delta":{{"content":"t{n}"}}}}]}}"#)
            })
            .collect();
        let events: Vec<&str> = events.iter().map(String::as_str).collect();
        let heads = read(&events);
        assert_eq!(heads.templates, MOST_TEMPLATES);
        assert_eq!(heads.filled, 0);
    }

    #[test]
    fn two_holes_learnt_the_wrong_way_round_are_rejected() {
        // A top-level "content" before the choices and the delta's after it: the last own
        // string is the top-level one, whose key rfind finds in the delta.
        let e1 = r#"{"id":"a","choices":[],"content":"E","choices":[{"index":0,"delta":{"content":"C"}}]}"#;
        let e3 = r#"{"id":"a","choices":[],"content":"X","choices":[{"index":0,"delta":{"content":"Y"}}]}"#;
        read(&[e1, e1, e3]);
        // The same value in both holes proves nothing about which is which.
        let same = r#"{"id":"a","choices":[],"content":"S","choices":[{"index":0,"delta":{"content":"S"}}]}"#;
        read(&[same, same, e3]);
    }

    #[test]
    fn learning_tries_a_few_places_of_content_at_most() {
        let nested = r#"{"content":"a"},"#.repeat(50);
        let rest =
            format!(r#""choices":[{{"index":0,"m":[{nested}{{}}],"delta":{{"content":"x"}}}}]}}"#);
        let parsed = parse_rest(&rest).unwrap();
        let tries = std::cell::Cell::new(0);
        let learnt = DeltaTemplate::learn(&rest, &parsed, |r| {
            tries.set(tries.get() + 1);
            parse_rest(r)
        });
        assert!(learnt.is_none(), "the delta's place is past the ones tried");
        assert!(tries.get() <= 3, "{} parses", tries.get());
    }
}
