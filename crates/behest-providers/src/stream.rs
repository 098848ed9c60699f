//! The streaming decoder: raw upstream bytes in, OpenAI `chat.completion.chunk`
//! objects out, whatever the upstream's wire format.

use crate::error::ProviderError;
use crate::sse::{SseEvent, SseParser};
use crate::types::{ChatChunk, Usage};
use crate::{anthropic, cohere, gemini, openai};

/// Per-format stream state; a closed set, dispatched by `match`.
#[derive(Debug)]
pub(crate) enum Codec {
    OpenAi(openai::StreamState),
    Anthropic(anthropic::StreamState),
    Gemini(gemini::StreamState),
    Cohere(cohere::StreamState),
}

impl Codec {
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<ChatChunk>) -> Result<(), ProviderError> {
        match self {
            Codec::OpenAi(s) => s.event(ev, out),
            Codec::Anthropic(s) => s.event(ev, out),
            Codec::Gemini(s) => s.event(ev, out),
            Codec::Cohere(s) => s.event(ev, out),
        }
    }

    fn end(&mut self, out: &mut Vec<ChatChunk>) -> Result<(), ProviderError> {
        match self {
            Codec::OpenAi(s) => s.end(out),
            Codec::Anthropic(s) => s.end(out),
            Codec::Gemini(s) => s.end(out),
            Codec::Cohere(s) => s.end(out),
        }
    }

    fn usage(&self) -> Option<&Usage> {
        match self {
            Codec::OpenAi(s) => s.usage.as_ref(),
            Codec::Anthropic(s) => s.usage(),
            Codec::Gemini(s) => s.usage.as_ref(),
            Codec::Cohere(s) => s.usage.as_ref(),
        }
    }

    fn done(&self) -> bool {
        match self {
            Codec::OpenAi(s) => s.done,
            Codec::Anthropic(s) => s.done,
            Codec::Gemini(s) => s.done,
            Codec::Cohere(s) => s.done,
        }
    }
}

/// Decodes one upstream stream. Create it with
/// [`crate::WireFormat::stream_decoder`], call [`feed`](Self::feed) with
/// each piece of the body as it arrives and [`finish`](Self::finish) once
/// the body ends. Every error, including an error event inside an HTTP-200
/// stream and a stream cut before its terminal event, comes out as `Err`.
#[derive(Debug)]
pub struct StreamDecoder {
    sse: SseParser,
    codec: Codec,
    failed: bool,
}

impl StreamDecoder {
    pub(crate) fn new(codec: Codec) -> Self {
        StreamDecoder {
            sse: SseParser::new(),
            codec,
            failed: false,
        }
    }

    /// Consumes bytes (split anywhere) and returns the chunks they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Vec<ChatChunk>, ProviderError> {
        self.run(false, |sse, codec, out| {
            sse.feed_each(bytes, |event| codec.event(event, out))
        })
    }

    /// Ends the stream: returns the last chunks (the usage-only chunk, if
    /// the client asked for it) or the error of a stream that ended early.
    pub fn finish(&mut self) -> Result<Vec<ChatChunk>, ProviderError> {
        self.run(true, |sse, codec, out| {
            sse.finish_each(|event| codec.event(event, out))
        })
    }

    /// The usage reported so far (complete once the terminal event arrived),
    /// whether or not the client asked for it.
    pub fn usage(&self) -> Option<&Usage> {
        self.codec.usage()
    }

    /// Whether the upstream's terminal event has arrived.
    pub fn is_done(&self) -> bool {
        self.codec.done()
    }

    /// Runs `events` (which hands each event the bytes complete to the codec) and, at
    /// the `end`, the codec's end; the first error fails the stream for good.
    fn run(
        &mut self,
        end: bool,
        events: impl FnOnce(
            &mut SseParser,
            &mut Codec,
            &mut Vec<ChatChunk>,
        ) -> Result<(), ProviderError>,
    ) -> Result<Vec<ChatChunk>, ProviderError> {
        if self.failed {
            // The caller already got the error; nothing after it is meaningful.
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut result = events(&mut self.sse, &mut self.codec, &mut out);
        if result.is_ok() && end {
            result = self.codec.end(&mut out);
        }
        match result {
            Ok(()) => Ok(out),
            Err(e) => {
                self.failed = true;
                Err(e)
            }
        }
    }
}
