//! The rest of an OpenAI content event as a template with holes: after the repeated head
//! ([`crate::chunk_head`]), a stream's content events differ only in the text of their
//! delta and, on OpenAI, in the value of one trailing string (`"obfuscation"`):
//!
//! ```text
//! "choices":[{"index":0,"delta":{"content":"·····"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"···"}
//! ```
//!
//! [`DeltaTemplate`] is learnt from one event that was parsed: the bytes before the
//! content's value, between the two values and after the last, and the chunk those bytes
//! give with both values empty. A later event made of the same bytes around two JSON
//! strings is that chunk with the two strings put in, without a JSON parse (the parse of
//! a content event's rest was ~4 k instructions). Learning proves the holes are what
//! they are taken for: the chunk with both values empty, filled with the strings cut
//! out of the event's holes, must equal the parsed event, and the two strings must be
//! non-empty and different, so a hole that is any other string (a duplicate key, a
//! nested `"content"`, a skipped field) or two holes taken the wrong way round cannot
//! pass. Anything that does not fit byte for byte is parsed as before.

use crate::types::ChatChunk;

const CONTENT: &str = "\"content\":\"";
/// How many places of `"content":"` in one event learning tries.
const MOST_PLACES: usize = 3;

/// One stream's content-event template.
#[derive(Debug)]
pub(crate) struct DeltaTemplate {
    /// The rest's bytes up to the content's value (after its opening quote).
    before: String,
    /// The trailing string's key, and the bytes from the content's closing quote up to
    /// that string's value (after its opening quote).
    second: Option<(String, String)>,
    /// The bytes from the last value's closing quote to the end.
    after: String,
    /// The chunk these bytes give with both values empty.
    chunk: ChatChunk,
}

impl DeltaTemplate {
    /// A template of `rest` (an event's bytes from `"choices":` on, as [`Self::fill`]
    /// takes them), whose parse is `parsed`; `parse` reads `{` + a rest. None when the
    /// event is not a one-choice content delta or its holes do not prove out.
    pub(crate) fn learn(
        rest: &str,
        parsed: &ChatChunk,
        parse: impl Fn(&str) -> Option<ChatChunk>,
    ) -> Option<DeltaTemplate> {
        let content = content_of(parsed)?;
        // OpenAI's varying trailing field: the chunk's last own string, if any.
        let trailing = parsed
            .extra
            .iter()
            .filter_map(|(k, v)| Some((k, v.as_str()?)))
            .last()
            .filter(|(_, v)| !v.is_empty());
        // Usually one place; a nested or repeated `"content"` is tried and rejected (a
        // few at most: each try is a parse).
        for (at, _) in rest.match_indices(CONTENT).take(MOST_PLACES) {
            let open = at + CONTENT.len();
            let Some(close) = string_end(&rest[open..]).map(|e| open + e) else {
                continue;
            };
            let template = match trailing {
                None => DeltaTemplate {
                    before: rest[..open].to_owned(),
                    second: None,
                    after: rest[close..].to_owned(),
                    chunk: ChatChunk::default(),
                },
                Some((key, _)) => {
                    let tail = &rest[close..];
                    let opener = format!("\"{key}\":\"");
                    let Some(second_open) = tail.rfind(&opener).map(|i| i + opener.len()) else {
                        continue;
                    };
                    let Some(second_close) =
                        string_end(&tail[second_open..]).map(|e| second_open + e)
                    else {
                        continue;
                    };
                    DeltaTemplate {
                        before: rest[..open].to_owned(),
                        second: Some((key.to_owned(), tail[..second_open].to_owned())),
                        after: tail[second_close..].to_owned(),
                        chunk: ChatChunk::default(),
                    }
                }
            };
            let mut empty = template.before.clone();
            if let Some((_, between)) = &template.second {
                empty.push_str(between);
            }
            empty.push_str(&template.after);
            let Some(chunk) = parse(&empty) else {
                continue;
            };
            let template = DeltaTemplate { chunk, ..template };
            if !template.holes_are_empty() {
                continue;
            }
            // Refilled with what was cut out of each hole (not with the parsed values,
            // which would not tell which hole feeds which field), it must give the
            // parse; two different values make a swap of the holes show.
            let Some(first) = decode(&rest[open..close]) else {
                continue;
            };
            let second = match &template.second {
                None => None,
                Some((_, between)) => {
                    let from = close + between.len();
                    let end = rest.len() - template.after.len();
                    match decode(&rest[from..end]) {
                        Some(v) if v != first => Some(v),
                        _ => continue,
                    }
                }
            };
            if first == content && template.filled(first, second) == *parsed {
                return Some(template);
            }
        }
        None
    }

    /// The chunk of `rest` when it is this template's bytes around two JSON strings.
    pub(crate) fn fill(&self, rest: &str) -> Option<ChatChunk> {
        let from = rest.strip_prefix(self.before.as_str())?;
        let end = string_end(from)?;
        let content = decode(&from[..end])?;
        let from = &from[end..];
        let second = match &self.second {
            None => None,
            Some((_, between)) => {
                let from2 = from.strip_prefix(between.as_str())?;
                let end = string_end(from2)?;
                if from2[end..] != self.after {
                    return None;
                }
                Some(decode(&from2[..end])?)
            }
        };
        if second.is_none() && from != self.after {
            return None;
        }
        Some(self.filled(content, second))
    }

    /// Whether the parsed template has the two values empty where they are expected.
    fn holes_are_empty(&self) -> bool {
        let content_empty = self
            .chunk
            .choices
            .first()
            .is_some_and(|c| c.delta.content.as_deref() == Some(""));
        let second_empty = match &self.second {
            None => true,
            Some((key, _)) => self.chunk.extra.get(key).and_then(|v| v.as_str()) == Some(""),
        };
        content_empty && second_empty
    }

    fn filled(&self, content: String, second: Option<String>) -> ChatChunk {
        let mut chunk = self.chunk.clone();
        if let Some(choice) = chunk.choices.first_mut() {
            choice.delta.content = Some(content);
        }
        if let (Some((key, _)), Some(value)) = (&self.second, second) {
            chunk.extra.insert(key, serde_json::Value::String(value));
        }
        chunk
    }
}

/// The text of a one-choice chunk's delta, when it has some: the events a template is
/// learnt from.
pub(crate) fn content_of(chunk: &ChatChunk) -> Option<&str> {
    let [choice] = chunk.choices.as_slice() else {
        return None;
    };
    choice.delta.content.as_deref().filter(|c| !c.is_empty())
}

/// Where the JSON string whose body starts `s` ends: the index of its closing quote.
/// None when it does not end, or holds a control character (a parse's error, left to it).
fn string_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => return Some(i),
            b'\\' => i += 2,
            c if c < 0x20 => return None,
            _ => i += 1,
        }
    }
    None
}

/// A JSON string's body as text; None when its escapes do not read.
fn decode(body: &str) -> Option<String> {
    if !body.contains('\\') {
        return Some(body.to_owned());
    }
    let mut quoted = String::with_capacity(body.len() + 2);
    quoted.push('"');
    quoted.push_str(body);
    quoted.push('"');
    serde_json::from_str(&quoted).ok()
}
