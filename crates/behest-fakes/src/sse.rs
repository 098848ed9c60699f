//! SSE framing helpers and the streamed-body driver shared by all providers.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

use crate::control::Control;

/// `data: {json}\n\n` (OpenAI).
pub(crate) fn data(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

/// `data: {json}\r\n\r\n` (Gemini's `alt=sse` framing uses CRLF).
pub(crate) fn data_crlf(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\r\n\r\n"))
}

/// `event: {name}\ndata: {json}\n\n` (Anthropic, Cohere).
pub(crate) fn event(name: &str, v: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {v}\n\n"))
}

/// A provider's complete event sequence for one answer.
pub(crate) struct StreamPlan {
    pub content_type: &'static str,
    /// Every event of a successful stream, terminal event(s) included.
    pub events: Vec<Bytes>,
    /// How many leading events make up "the start plus one content piece".
    pub prefix: usize,
    /// The provider's in-band error event for `#stream-error`, if it has one.
    pub error_event: Option<Bytes>,
}

enum Step {
    Send(Bytes),
    Sleep(Duration),
    Abort,
}

/// Delay between events under `#slow`.
pub(crate) const SLOW_GAP: Duration = Duration::from_millis(150);

fn steps(plan: StreamPlan, control: &Control) -> Vec<Step> {
    let StreamPlan {
        events,
        prefix,
        error_event,
        ..
    } = plan;
    let total = events.len();
    // Never let the truncated variants include the final (terminal) event.
    let prefix = prefix.min(total.saturating_sub(1));
    let mut out: Vec<Step> = Vec::new();
    let push = |out: &mut Vec<Step>, b: Bytes| {
        if control.slow && !out.is_empty() {
            out.push(Step::Sleep(SLOW_GAP));
        }
        out.push(Step::Send(b));
    };
    if control.stream_error {
        for e in events.into_iter().take(prefix) {
            push(&mut out, e);
        }
        if let Some(e) = error_event {
            push(&mut out, e);
        }
    } else if control.cut {
        let keep = (prefix + 1).min(total.saturating_sub(1));
        for e in events.into_iter().take(keep) {
            push(&mut out, e);
        }
        // Give the peer time to read what was written, then drop the connection
        // without the chunked-encoding terminator.
        out.push(Step::Sleep(Duration::from_millis(50)));
        out.push(Step::Abort);
    } else {
        for e in events {
            push(&mut out, e);
        }
    }
    out
}

/// A 200 streamed response playing `plan` as `control` dictates.
pub(crate) fn response(plan: StreamPlan, control: &Control) -> Response {
    let content_type = plan.content_type;
    let steps = steps(plan, control);
    let stream = futures_util::stream::unfold(steps.into_iter(), |mut it| async move {
        loop {
            match it.next()? {
                Step::Send(b) => return Some((Ok::<Bytes, std::io::Error>(b), it)),
                Step::Sleep(d) => tokio::time::sleep(d).await,
                Step::Abort => {
                    return Some((Err(std::io::Error::other("fake connection cut")), it));
                }
            }
        }
    });
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = StatusCode::OK;
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}
