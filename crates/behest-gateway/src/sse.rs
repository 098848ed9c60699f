//! Server-sent events out: OpenAI's framing (`data: {chunk}\n\n` … `data: [DONE]\n\n`),
//! an upstream stream translated chunk by chunk, and how a stream ends when things go
//! wrong — an error event, never a hang: upstream silence past the idle timeout, a
//! provider error mid-stream, or the server draining for shutdown (the stream gets
//! `drain` to finish, then is cut with an error event).
//!
//! The body pulls from the upstream only when the client is ready for more; when the
//! client goes away hyper drops the body, which drops the upstream response and closes
//! its connection, so the provider stops generating (and billing) promptly.

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use behest_http::ApiError;
use behest_providers::{ChatChunk, Provider, StreamDecoder};
use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Serialize;
use std::convert::Infallible;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub const DONE: &[u8] = b"data: [DONE]\n\n";

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
        &serde_json::json!({"error": {"message": error.message, "type": "api_error", "code": error.code, "param": error.param}}),
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

/// A finished list of chunks (the echo provider) as a stream.
pub fn from_chunks(chunks: Vec<ChatChunk>) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let mut out = BytesMut::new();
    for chunk in &chunks {
        push_frame(&mut out, chunk);
    }
    out.extend_from_slice(DONE);
    stream::once(async move { Ok(out.freeze()) })
}

/// How an upstream stream is relayed.
pub struct Relay {
    pub provider: Provider,
    pub idle_timeout: Duration,
    pub shutdown: CancellationToken,
    pub drain: Duration,
}

struct RelayState {
    upstream: futures_util::stream::BoxStream<'static, reqwest::Result<Bytes>>,
    decoder: StreamDecoder,
    relay: Relay,
    deadline: Option<Instant>,
    finished: bool,
}

enum Next {
    Bytes(Option<reqwest::Result<Bytes>>),
    Silent,
    Drained,
}

/// Relays `response` (an upstream SSE body) through `decoder` as OpenAI chunks.
pub fn relay(
    response: reqwest::Response,
    decoder: StreamDecoder,
    relay: Relay,
) -> impl Stream<Item = Result<Bytes, Infallible>> {
    let state = RelayState {
        upstream: response.bytes_stream().boxed(),
        decoder,
        relay,
        deadline: None,
        finished: false,
    };
    stream::unfold(state, |mut state| async move {
        loop {
            if state.finished {
                return None;
            }
            let deadline = state.deadline;
            let next = tokio::select! {
                biased;
                // Shutdown starts the drain clock; the stream goes on until it runs out.
                _ = state.relay.shutdown.cancelled(), if deadline.is_none() => {
                    state.deadline = Some(Instant::now() + state.relay.drain);
                    continue;
                }
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => Next::Drained,
                read = tokio::time::timeout(state.relay.idle_timeout, state.upstream.next()) => match read {
                    Ok(item) => Next::Bytes(item),
                    Err(_) => Next::Silent,
                },
            };
            let frames = match next {
                Next::Bytes(Some(Ok(bytes))) => match state.decoder.feed(&bytes) {
                    Ok(chunks) if chunks.is_empty() => continue,
                    Ok(chunks) => frames(&chunks, false),
                    Err(err) => state.fail(crate::upstream::upstream_error(
                        state.relay.provider,
                        &err,
                        None,
                    )),
                },
                Next::Bytes(Some(Err(err))) => {
                    tracing::warn!(provider = %state.relay.provider, error = %err, "upstream stream broke");
                    state.fail(ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "upstream_error",
                        format!("{} stream broke off", state.relay.provider),
                    ))
                }
                Next::Bytes(None) => match state.decoder.finish() {
                    Ok(chunks) => {
                        state.finished = true;
                        frames(&chunks, true)
                    }
                    Err(err) => state.fail(crate::upstream::upstream_error(
                        state.relay.provider,
                        &err,
                        None,
                    )),
                },
                Next::Silent => state.fail(ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "upstream_timeout",
                    format!(
                        "{} sent nothing for {} s",
                        state.relay.provider,
                        state.relay.idle_timeout.as_secs()
                    ),
                )),
                Next::Drained => state.fail(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "server_shutting_down",
                    "the server is shutting down; retry the request",
                )),
            };
            return Some((Ok(frames), state));
        }
    })
}

impl RelayState {
    fn fail(&mut self, error: ApiError) -> Bytes {
        self.finished = true;
        error_frame(&error)
    }
}

fn frames(chunks: &[ChatChunk], done: bool) -> Bytes {
    let mut out = BytesMut::with_capacity(256 * chunks.len() + DONE.len());
    for chunk in chunks {
        push_frame(&mut out, chunk);
    }
    if done {
        out.extend_from_slice(DONE);
    }
    out.freeze()
}
