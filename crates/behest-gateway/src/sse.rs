//! Server-sent events out: OpenAI's framing (`data: {chunk}\n\n` … `data: [DONE]\n\n`),
//! an upstream stream translated chunk by chunk, and how a stream ends when things go
//! wrong — an error event, never a hang: upstream silence past the idle timeout, a
//! provider error mid-stream, the server draining for shutdown (the stream gets
//! `drain` to finish, then is cut with an error event), or a kill switch turned on for
//! its project (cut at once with a `kill_switch` error event), or the answer's guard
//! refusing what the provider wrote (an error event naming the rule or the entity
//! types, after everything before it; see [`crate::answer`]).
//!
//! The body pulls from the upstream only when the client is ready for more; when the
//! client goes away hyper drops the body, which drops the upstream response and closes
//! its connection, so the provider stops generating (and billing) promptly.
//!
//! The stream carries the request's [`OutcomeRecorder`]: every ending above finishes it
//! (with the provider's usage, or the tokens counted from what was streamed), and a
//! body dropped early records a client gone.

use crate::answer::{pass_chunks, AnswerGuard};
use crate::directory::{Directory, ProjectSnapshot};
use crate::outcome::{Ending, OutcomeRecorder};
use crate::verify::Principal;
use crate::GatewayState;
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use behest_core::killswitch::KillScope;
use behest_http::{ApiError, ErrorCode};
use behest_providers::{ChatChunk, Provider, ProviderError, StreamDecoder};
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, Stream, StreamExt};
use futures_util::FutureExt;
use serde::Serialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub const DONE: &[u8] = b"data: [DONE]\n\n";

/// Appends `data: <chunk>\n\n` to `out`: one per event, so the chunk is written by
/// the codec's own writer (the same bytes as `serde_json`'s, a quarter fewer instructions).
pub fn push_chunk_frame(out: &mut BytesMut, chunk: &ChatChunk) {
    out.extend_from_slice(b"data: ");
    let at = out.len();
    if behest_providers::chunk_json::write_chunk(&mut bytes::BufMut::writer(&mut *out), chunk)
        .is_err()
    {
        out.truncate(at);
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
}

/// Appends `data: <json>\n\n` to `out`.
pub fn push_frame(out: &mut BytesMut, value: &impl Serialize) {
    out.extend_from_slice(b"data: ");
    if serde_json::to_writer(bytes::BufMut::writer(&mut *out), value).is_err() {
        out.extend_from_slice(b"{}");
    }
    out.extend_from_slice(b"\n\n");
}

/// The error event a stream ends with: OpenAI's error object, as the SDKs parse it.
pub fn error_frame(error: &ApiError) -> Bytes {
    let mut out = BytesMut::new();
    push_frame(
        &mut out,
        &serde_json::json!({"error": {"message": error.message, "type": "api_error", "code": error.code.as_str(), "param": error.param}}),
    );
    out.freeze()
}

pub fn sse_response(
    body: impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
) -> Response {
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// A finished list of chunks (the echo provider) as a stream, through the answer's
/// guard when there is one.
pub fn from_chunks(
    mut chunks: Vec<ChatChunk>,
    mut outcome: OutcomeRecorder,
    mut answer: Option<AnswerGuard>,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let mut out = BytesMut::new();
    let passed = pass_chunks(answer.as_mut(), &mut chunks, true, |chunk| {
        tally(&mut outcome, chunk)
    });
    for chunk in &chunks {
        push_chunk_frame(&mut out, chunk);
    }
    if let Some(answer) = &answer {
        outcome.set_answer_guard(answer.findings());
    }
    outcome.set_status(200);
    let refused = passed.err();
    match &refused {
        Some(error) => out.extend_from_slice(&error_frame(error)),
        None => out.extend_from_slice(DONE),
    }
    stream::once(async move {
        outcome.first_byte();
        match refused {
            Some(error) => outcome.fail(200, error.code, Ending::AnswerBlocked),
            None => outcome.complete(200),
        }
        Ok(out.freeze())
    })
}

/// Notes what a chunk tells the outcome: its text (for counting) and its usage.
fn tally(outcome: &mut OutcomeRecorder, chunk: &ChatChunk) {
    for choice in &chunk.choices {
        if let Some(text) = &choice.delta.content {
            outcome.streamed(text);
        }
        for call in choice.delta.tool_calls.iter().flatten() {
            let function = call.function.as_ref();
            outcome.streamed_tool_call(
                call.index,
                call.id.as_deref(),
                function.and_then(|f| f.name.as_deref()),
                function
                    .and_then(|f| f.arguments.as_deref())
                    .unwrap_or_default(),
            );
        }
    }
    if let Some(usage) = &chunk.usage {
        outcome.set_usage(usage);
    }
}

/// How an upstream stream is relayed.
pub struct Relay {
    pub provider: Provider,
    pub idle_timeout: Duration,
    pub shutdown: CancellationToken,
    pub drain: Duration,
    pub kill: KillWatch,
}

/// Watches the directory for a kill switch that stops one project: a stream in flight
/// ends with a `kill_switch` error event as soon as its project is switched off.
pub struct KillWatch {
    changes: tokio::sync::watch::Receiver<u64>,
    directory: Arc<Directory>,
    project: Arc<ProjectSnapshot>,
}

impl KillWatch {
    pub fn new(gateway: &GatewayState, principal: &Principal) -> KillWatch {
        let directory = gateway.directory().clone();
        KillWatch {
            changes: directory.changes(),
            directory,
            project: principal.project.clone(),
        }
    }

    /// Resolves when a switch stopping the project is on.
    async fn stopped(&mut self) -> KillScope {
        loop {
            if let Some(scope) = self.directory.snapshot().stopping(&self.project) {
                return scope;
            }
            if self.changes.changed().await.is_err() {
                // The directory is gone: nothing will ever switch it off.
                std::future::pending::<()>().await;
            }
        }
    }
}

struct RelayState {
    upstream: futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    decoder: StreamDecoder,
    relay: Relay,
    deadline: Option<Instant>,
    /// Taken when the stream ends; dropped with the state if the client leaves first.
    outcome: Option<OutcomeRecorder>,
    answer: Option<AnswerGuard>,
    /// What the upstream said after a burst that was read at once: its end or an
    /// error, handled on the next turn after the burst's frames went out.
    stashed: Option<Option<reqwest::Result<Bytes>>>,
    /// Whether a frame went out: the first one never waits for a burst behind it.
    wrote: bool,
}

impl Drop for RelayState {
    /// The client left mid-stream: what the answer's guard found so far still counts.
    fn drop(&mut self) {
        if let (Some(outcome), Some(answer)) = (self.outcome.as_mut(), &self.answer) {
            outcome.set_answer_guard(answer.findings());
        }
    }
}

enum Next {
    Bytes(Option<reqwest::Result<Bytes>>),
    /// A piece that was there when the relay asked, or came within [`BEHIND_WAIT`]: the
    /// relay is behind a burst.
    Ready(Bytes),
    Silent,
    Drained,
    Killed(KillScope),
}

/// Relays `response` (an upstream SSE body) through `decoder` as OpenAI chunks.
pub fn relay(
    response: reqwest::Response,
    decoder: StreamDecoder,
    relay: Relay,
    mut outcome: OutcomeRecorder,
    answer: Option<AnswerGuard>,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    outcome.set_status(200);
    let state = RelayState {
        upstream: response.bytes_stream().boxed(),
        decoder,
        relay,
        deadline: None,
        outcome: Some(outcome),
        answer,
        stashed: None,
        wrote: false,
    };
    stream::unfold(state, |mut state| async move {
        loop {
            // The outcome is taken when the stream ends: nothing follows it.
            state.outcome.as_ref()?;
            let deadline = state.deadline;
            let next = if let Some(item) = state.stashed.take() {
                Next::Bytes(item)
            } else {
                tokio::select! {
                biased;
                // Shutdown starts the drain clock; the stream goes on until it runs out.
                _ = state.relay.shutdown.cancelled(), if deadline.is_none() => {
                    state.deadline = Some(Instant::now() + state.relay.drain);
                    continue;
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => Next::Drained,
                scope = state.relay.kill.stopped() => Next::Killed(scope),
                read = read(&mut state.upstream, &mut state.outcome, state.relay.idle_timeout) => read,
                }
            };
            let frames = match next {
                Next::Ready(bytes) => match state.relay_burst(bytes, true).await {
                    Some(frames) => frames,
                    None => continue,
                },
                Next::Bytes(Some(Ok(bytes))) => match state.relay_burst(bytes, false).await {
                    Some(frames) => frames,
                    None => continue,
                },
                Next::Bytes(Some(Err(err))) => {
                    tracing::warn!(provider = %state.relay.provider, error = %err, "upstream stream broke");
                    let error = ApiError::new(
                        ErrorCode::UpstreamError,
                        format!("{} stream broke off", state.relay.provider),
                    );
                    state.fail(error, Ending::UpstreamFailed)
                }
                Next::Bytes(None) => match state.decoder.finish() {
                    Ok(chunks) => {
                        let out = state.frames(chunks, true);
                        state.complete();
                        out
                    }
                    Err(err) => {
                        let error =
                            crate::upstream::upstream_error(state.relay.provider, &err, None);
                        state.fail(error, Ending::UpstreamFailed)
                    }
                },
                Next::Silent => {
                    let error = ApiError::new(
                        ErrorCode::UpstreamTimeout,
                        format!(
                            "{} sent nothing for {} s",
                            state.relay.provider,
                            state.relay.idle_timeout.as_secs()
                        ),
                    );
                    state.fail(error, Ending::UpstreamFailed)
                }
                Next::Killed(scope) => state.fail(
                    crate::pipeline::kill_switch_error(scope),
                    Ending::KillSwitch,
                ),
                Next::Drained => state.fail(
                    ApiError::new(
                        ErrorCode::ServerShuttingDown,
                        "the server is shutting down; retry the request",
                    ),
                    Ending::Shutdown,
                ),
            };
            return Some((Ok(frames), state));
        }
    })
}

/// The next piece of the upstream body, within the idle timeout; the wait counts as
/// upstream time.
async fn read(
    upstream: &mut futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    outcome: &mut Option<OutcomeRecorder>,
    idle_timeout: Duration,
) -> Next {
    match upstream.next().now_or_never() {
        Some(Some(Ok(bytes))) => return Next::Ready(bytes),
        Some(item) => return Next::Bytes(item),
        None => {}
    }
    if let Some(outcome) = outcome.as_mut() {
        outcome.upstream_started();
    }
    let asked = Instant::now();
    let read = tokio::time::timeout(idle_timeout, upstream.next()).await;
    if let Some(outcome) = outcome.as_mut() {
        outcome.upstream_finished();
    }
    match read {
        // Only the client's connection task had to run: the piece was as good as there.
        Ok(Some(Ok(bytes))) if asked.elapsed() < BEHIND_WAIT => Next::Ready(bytes),
        Ok(item) => Next::Bytes(item),
        Err(_) => Next::Silent,
    }
}

/// How much of a burst the relay gathers before it writes: bytes the upstream has
/// ready one after another go out as one frame (one body chunk, one write to the
/// client) instead of one per upstream event.
const BURST_BYTES: usize = 64 * 1024;
/// A piece that comes this soon after the relay asked for it was already on its way (a
/// model writes its tokens milliseconds apart, at the least).
const BEHIND_WAIT: Duration = Duration::from_micros(100);
/// How many upstream pieces the relay gathers into one frame at most.
const BURST_TURNS: usize = 32;
/// How many scheduler passes the relay gives the HTTP client's connection task to
/// produce the next piece while it is behind a burst (on a multi-threaded runtime the
/// task may be running on another worker).
const LOOK_AHEAD_YIELDS: usize = 3;

impl RelayState {
    /// Decodes `bytes` and the upstream's next pieces while they are ready at once (up
    /// to [`BURST_BYTES`] and [`BURST_TURNS`]); an end or error met while reading ahead
    /// is stashed for the next turn. Answers the chunks decoded and whether the decoder
    /// failed after them.
    ///
    /// The HTTP client hands its body over one piece at a time, read by its connection
    /// task once the body asks for it; so a relay that is `behind` (the piece was there or
    /// as good as there when it asked: a cached answer, a busy core) asks, lets that task
    /// run, and asks again, a few scheduler passes per piece, and saves a write per
    /// event: on loopback a write is the most expensive part of a frame, because the
    /// sending core also does the receiving side's TCP work. A relay that had to wait
    /// for its piece (a model writing tokens apart) only asks once, which costs nothing.
    async fn decode_ready(
        &mut self,
        bytes: Bytes,
        behind: bool,
    ) -> (Vec<ChatChunk>, Result<(), ProviderError>) {
        let mut chunks = Vec::new();
        let mut read = 0;
        let mut piece = bytes;
        // The first frame goes out with what the first piece holds: time to first byte
        // is what a user sees, so it never waits for a burst behind it.
        let turns = if self.wrote { BURST_TURNS } else { 1 };
        let yields = if behind { LOOK_AHEAD_YIELDS } else { 0 };
        for turn in 1.. {
            read += piece.len();
            match self.decoder.feed(&piece) {
                Ok(more) if chunks.is_empty() => chunks = more,
                Ok(more) => chunks.extend(more),
                Err(err) => return (chunks, Err(err)),
            }
            if read >= BURST_BYTES || turn == turns {
                break;
            }
            let mut ahead = self.upstream.next().now_or_never();
            for _ in 0..yields {
                if ahead.is_some() {
                    break;
                }
                tokio::task::yield_now().await;
                ahead = self.upstream.next().now_or_never();
            }
            match ahead {
                Some(Some(Ok(next))) => piece = next,
                Some(other) => {
                    self.stashed = Some(other);
                    break;
                }
                None => break,
            }
        }
        (chunks, Ok(()))
    }

    /// Relays `bytes` and the burst behind it ([`Self::decode_ready`]): their frames,
    /// then the error event if the decoder failed after them (unless the answer's guard
    /// already ended the stream on what came before); `None` when they completed no
    /// chunk.
    async fn relay_burst(&mut self, bytes: Bytes, behind: bool) -> Option<Bytes> {
        let (chunks, decoded) = self.decode_ready(bytes, behind).await;
        let err = match decoded {
            Ok(()) if chunks.is_empty() => return None,
            Ok(()) => return Some(self.frames(chunks, false)),
            Err(err) => err,
        };
        let mut out = BytesMut::new();
        if !chunks.is_empty() {
            out.extend_from_slice(&self.frames(chunks, false));
        }
        if self.outcome.is_some() {
            let error = crate::upstream::upstream_error(self.relay.provider, &err, None);
            out.extend_from_slice(&self.fail(error, Ending::UpstreamFailed));
        }
        Some(out.freeze())
    }

    /// Frames for `chunks`, through the answer's guard and noted in the outcome. A
    /// refusal by the guard ends the stream after the chunks before it.
    fn frames(&mut self, mut chunks: Vec<ChatChunk>, done: bool) -> Bytes {
        let passed = match self.outcome.as_mut() {
            Some(outcome) => pass_chunks(self.answer.as_mut(), &mut chunks, done, |chunk| {
                tally(outcome, chunk)
            }),
            None => Ok(()),
        };
        let mut out = BytesMut::with_capacity(256 * chunks.len() + DONE.len());
        for chunk in &chunks {
            push_chunk_frame(&mut out, chunk);
        }
        if let Err(error) = passed {
            out.extend_from_slice(&self.fail(error, Ending::AnswerBlocked));
            return out.freeze();
        }
        if done {
            out.extend_from_slice(DONE);
        }
        if let Some(outcome) = self.outcome.as_mut() {
            outcome.first_byte();
        }
        self.wrote |= !out.is_empty();
        out.freeze()
    }

    /// The stream ended well: the provider's usage (whether or not the client asked for
    /// it) goes into the outcome.
    fn complete(&mut self) {
        if let Some(mut outcome) = self.outcome.take() {
            if let Some(answer) = &self.answer {
                outcome.set_answer_guard(answer.findings());
            }
            if let Some(usage) = self.decoder.usage() {
                outcome.set_usage(usage);
            }
            outcome.complete(200);
        }
    }

    /// Ends the stream with an error event.
    fn fail(&mut self, error: ApiError, ending: Ending) -> Bytes {
        if let Some(mut outcome) = self.outcome.take() {
            if let Some(answer) = &self.answer {
                outcome.set_answer_guard(answer.findings());
            }
            outcome.first_byte();
            outcome.fail(200, error.code, ending);
        }
        error_frame(&error)
    }
}
