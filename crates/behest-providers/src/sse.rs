//! Incremental Server-Sent Events parser shared by every streaming decoder.
//!
//! Follows the WHATWG HTML "event stream interpretation" rules: lines end in
//! CRLF, LF or CR; `:` starts a comment; `data` lines accumulate joined by
//! LF; a blank line dispatches; an event without any `data` field is
//! dropped; one leading space after the colon is removed. Bytes may arrive
//! split anywhere, including inside a UTF-8 character or a CRLF pair.

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if the event had one (the spec's default is `message`).
    pub event: Option<String>,
    /// All `data:` lines of the event joined with `\n`.
    pub data: String,
    /// The last event id seen so far on the stream (`id:` persists across events).
    pub id: Option<String>,
    /// A `retry:` reconnection time in milliseconds, if this event set one.
    pub retry: Option<u64>,
}

/// Feed bytes in with [`SseParser::feed`], get whole events out.
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    started: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    last_id: Option<String>,
    retry: Option<u64>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes a piece of the stream and returns the events it completes.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buf.extend_from_slice(bytes);
        if !self.started {
            // A UTF-8 BOM may open the stream; wait until we can tell.
            if self.buf.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.buf) {
                return Vec::new();
            }
            if self.buf.starts_with(b"\xEF\xBB\xBF") {
                self.buf.drain(..3);
            }
            self.started = true;
        }
        let mut events = Vec::new();
        // The buffer is taken out while lines are read from it, so each line is decoded
        // in place (no copy unless it holds invalid UTF-8) and handed to `line`.
        let buf = std::mem::take(&mut self.buf);
        let mut start = 0;
        while let Some(at) = memchr::memchr2(b'\n', b'\r', &buf[start..]) {
            let end = start + at;
            let next = if buf[end] == b'\n' {
                end + 1
            } else if end + 1 == buf.len() {
                // Might be the first half of a CRLF split across chunks.
                break;
            } else if buf[end + 1] == b'\n' {
                end + 2
            } else {
                end + 1
            };
            // Lossy decoding is what the spec's "UTF-8 decode" does with bad bytes.
            self.line(&String::from_utf8_lossy(&buf[start..end]), &mut events);
            start = next;
        }
        self.buf = buf;
        self.buf.drain(..start);
        events
    }

    /// Ends the stream. A trailing event that was not closed by a blank line
    /// is still dispatched: upstreams commonly omit the final blank line and
    /// dropping their last event (often the terminal one) would be worse.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            let rest = rest.strip_suffix(b"\r").unwrap_or(&rest);
            self.line(&String::from_utf8_lossy(rest), &mut events);
        }
        self.dispatch(&mut events);
        events
    }

    fn line(&mut self, line: &str, events: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_string()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                self.retry = value.parse().ok();
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let event = self.event.take();
        let retry = self.retry.take();
        if !self.has_data {
            self.data.clear();
            return;
        }
        self.has_data = false;
        events.push(SseEvent {
            event,
            data: std::mem::take(&mut self.data),
            id: self.last_id.clone(),
            retry,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(input: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = p.feed(input);
        out.extend(p.finish());
        out
    }

    fn parse_bytewise(input: &[u8]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for b in input {
            out.extend(p.feed(std::slice::from_ref(b)));
        }
        out.extend(p.finish());
        out
    }

    fn ev(event: Option<&str>, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            event: event.map(str::to_string),
            data: data.to_string(),
            id: id.map(str::to_string),
            retry: None,
        }
    }

    #[test]
    fn fields_comments_and_multiline_data() {
        let input = b": keep-alive\n\nevent: greet\ndata: hello\ndata:  world\nid: 7\n\ndata\n\nignored: x\n\n";
        let events = parse_all(input);
        assert_eq!(
            events,
            vec![
                ev(Some("greet"), "hello\n world", Some("7")),
                // A bare `data` line is a data field with an empty value; id persists.
                ev(None, "", Some("7")),
            ]
        );
    }

    #[test]
    fn crlf_cr_and_lf_line_endings_are_equivalent() {
        let lf = parse_all(b"event: a\ndata: 1\n\ndata: 2\n\n");
        let crlf = parse_all(b"event: a\r\ndata: 1\r\n\r\ndata: 2\r\n\r\n");
        let cr = parse_all(b"event: a\rdata: 1\r\rdata: 2\r\r");
        assert_eq!(lf.len(), 2);
        assert_eq!(lf, crlf);
        assert_eq!(lf, cr);
    }

    #[test]
    fn split_at_every_byte_including_utf8_and_crlf() {
        let input =
            "\u{feff}event: t\r\ndata: héllo 🌍\r\ndata: line2\r\n\r\n:c\r\ndata: x\r\n\r\n"
                .as_bytes();
        let whole = parse_all(input);
        assert_eq!(whole[0].data, "héllo 🌍\nline2");
        assert_eq!(whole[0].event.as_deref(), Some("t"));
        assert_eq!(whole.len(), 2);
        assert_eq!(parse_bytewise(input), whole);
        for cut in 0..input.len() {
            let mut p = SseParser::new();
            let mut out = p.feed(&input[..cut]);
            out.extend(p.feed(&input[cut..]));
            out.extend(p.finish());
            assert_eq!(out, whole, "cut at {cut}");
        }
    }

    #[test]
    fn event_without_data_is_dropped_and_retry_parsed() {
        let events = parse_all(b"event: lonely\n\nretry: 1500\ndata: d\n\nretry: x1\ndata: e\n\n");
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].event, None);
        assert_eq!(events[0].retry, Some(1500));
        assert_eq!(events[1].retry, None);
    }

    #[test]
    fn unterminated_final_event_is_dispatched_on_finish() {
        let mut p = SseParser::new();
        assert!(p.feed(b"data: [DONE]").is_empty());
        assert_eq!(p.finish(), vec![ev(None, "[DONE]", None)]);
    }
}
