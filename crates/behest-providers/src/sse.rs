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

/// Feed bytes in with [`SseParser::feed`], get whole events out; or hand each event
/// to a callback as it completes with [`SseParser::feed_each`], which reuses one
/// event's buffers for the whole stream (the relay's path: no allocation per event).
#[derive(Debug, Default)]
pub struct SseParser {
    buf: Vec<u8>,
    started: bool,
    /// The event being read; its `id` is the stream's last id, which persists.
    current: SseEvent,
    has_data: bool,
}

/// A line of the stream as text: borrowed when it is valid UTF-8, as it nearly always
/// is; bad bytes are replaced, which is what the spec's "UTF-8 decode" does.
fn utf8(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Consumes a piece of the stream and returns the events it completes.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let _ = self.feed_each(bytes, |event| {
            events.push(event.clone());
            Ok::<(), std::convert::Infallible>(())
        });
        events
    }

    /// Consumes a piece of the stream, calling `on_event` with each event it completes;
    /// the first error stops the reading and is returned (the rest of the bytes are
    /// dropped: nothing after a failed event is meaningful).
    pub fn feed_each<E>(
        &mut self,
        bytes: &[u8],
        mut on_event: impl FnMut(&SseEvent) -> Result<(), E>,
    ) -> Result<(), E> {
        self.buf.extend_from_slice(bytes);
        if !self.started {
            // A UTF-8 BOM may open the stream; wait until we can tell.
            if self.buf.len() < 3 && b"\xEF\xBB\xBF".starts_with(&self.buf) {
                return Ok(());
            }
            if self.buf.starts_with(b"\xEF\xBB\xBF") {
                self.buf.drain(..3);
            }
            self.started = true;
        }
        // The buffer is taken out while lines are read from it, so each line is decoded
        // in place (no copy unless it holds invalid UTF-8) and handed to `line`.
        let buf = std::mem::take(&mut self.buf);
        let mut start = 0;
        let mut result = Ok(());
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
            result = self.line(&utf8(&buf[start..end]), &mut on_event);
            start = next;
            if result.is_err() {
                start = buf.len();
                break;
            }
        }
        self.buf = buf;
        self.buf.drain(..start);
        result
    }

    /// Ends the stream. A trailing event that was not closed by a blank line
    /// is still dispatched: upstreams commonly omit the final blank line and
    /// dropping their last event (often the terminal one) would be worse.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        let _ = self.finish_each(|event| {
            events.push(event.clone());
            Ok::<(), std::convert::Infallible>(())
        });
        events
    }

    /// [`finish`](Self::finish) with each event handed to `on_event`.
    pub fn finish_each<E>(
        &mut self,
        mut on_event: impl FnMut(&SseEvent) -> Result<(), E>,
    ) -> Result<(), E> {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf);
            let rest = rest.strip_suffix(b"\r").unwrap_or(&rest);
            self.line(&utf8(rest), &mut on_event)?;
        }
        self.dispatch(&mut on_event)
    }

    fn line<E>(
        &mut self,
        line: &str,
        on_event: &mut impl FnMut(&SseEvent) -> Result<(), E>,
    ) -> Result<(), E> {
        if line.is_empty() {
            return self.dispatch(on_event);
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        let event = &mut self.current;
        match field {
            "event" => event.event = Some(value.to_string()),
            "data" => {
                if self.has_data {
                    event.data.push('\n');
                }
                event.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => event.id = Some(value.to_string()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                event.retry = value.parse().ok();
            }
            _ => {}
        }
        Ok(())
    }

    /// Hands the event read so far to `on_event` (if it had data), then clears it for
    /// the next one; the id stays.
    fn dispatch<E>(
        &mut self,
        on_event: &mut impl FnMut(&SseEvent) -> Result<(), E>,
    ) -> Result<(), E> {
        let result = if self.has_data {
            on_event(&self.current)
        } else {
            Ok(())
        };
        self.has_data = false;
        self.current.event = None;
        self.current.retry = None;
        self.current.data.clear();
        result
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
    fn feed_each_stops_at_the_first_error_and_events_do_not_carry_over() {
        let mut p = SseParser::new();
        let mut seen = Vec::new();
        let result = p.feed_each(b"event: a\ndata: 1\n\ndata: 2\n\ndata: 3\n\n", |e| {
            seen.push((e.event.clone(), e.data.clone()));
            if e.data == "2" {
                Err("stop")
            } else {
                Ok(())
            }
        });
        assert_eq!(result, Err("stop"));
        // The second event does not inherit the first one's `event` field or data.
        assert_eq!(
            seen,
            vec![(Some("a".into()), "1".into()), (None, "2".into())]
        );
        assert!(
            p.finish().is_empty(),
            "what followed the failed event is dropped"
        );
    }

    #[test]
    fn unterminated_final_event_is_dispatched_on_finish() {
        let mut p = SseParser::new();
        assert!(p.feed(b"data: [DONE]").is_empty());
        assert_eq!(p.finish(), vec![ev(None, "[DONE]", None)]);
    }
}
