//! The accept loop: per-connection timers, a connection cap, and the contract's JSON
//! body on the answers hyper writes by itself.
//!
//! `axum::serve` holds a slow client forever. Here every connection gets a watcher (in
//! the connection's task, polled beside hyper's connection future) that drops the
//! connection when nothing is in flight and a deadline passes:
//!
//! - a fresh connection must complete its first request head `header_read_timeout`
//!   after it opened; a keep-alive connection, `header_read_timeout` after the first
//!   byte of its next head arrived;
//! - a keep-alive connection with no request at all is closed `idle_timeout` after its
//!   last response left.
//!
//! hyper's own `header_read_timeout` cannot do this: its clock starts as soon as the
//! connection waits for the next head, so it would cut idle keep-alive connections at
//! the header timeout. A request counts as in flight from the moment the service is
//! called until its response body is dropped, so a long SSE stream is never cut; a
//! request body that stalls is ended by `request_body_timeout` instead (408).

use crate::{ApiError, ErrorCode, TRACE_ID_HEADER};
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response, StatusCode, Version};
use axum::response::IntoResponse;
use axum::Router;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// The largest request head (request line and headers) hyper buffers; a bigger one is
/// answered 431. 32 KiB holds any real token or cookie, and is what nginx allows
/// (`large_client_header_buffers 4 8k`).
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// The most headers a request may carry (hyper's default, made explicit); more is a 431.
pub const MAX_HEADERS: usize = 100;
/// The highest connection cap accepted (the drain at shutdown counts permits in a u32).
pub const MAX_CONNECTIONS_LIMIT: usize = 1 << 20;
/// How long the accept loop waits after an error such as EMFILE, instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Warnings that could repeat per connection are logged at most this often.
const WARN_EVERY: Duration = Duration::from_secs(10);
/// How far into a write the end of hyper's automatic error head is looked for.
const MAX_AUTO_HEAD: usize = 1024;

/// How connections are served.
#[derive(Debug, Clone)]
pub struct ConnConfig {
    /// How long a request head may take: from the connection's opening for its first
    /// request, from the head's first byte on a keep-alive connection.
    pub header_read_timeout: Duration,
    /// How long a keep-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// The longest pause between two pieces of a request body.
    pub request_body_timeout: Duration,
    /// Connections served at once; beyond it a connection is answered 503 and closed.
    pub max_connections: usize,
}

impl Default for ConnConfig {
    fn default() -> Self {
        ConnConfig {
            header_read_timeout: Duration::from_secs(10),
            // Shorter than nginx's 75 s: an idle connection costs a task, buffers and a
            // file descriptor, and at the cap it locks out a new client. 30 s still
            // spans the gaps between an SDK's calls, and every client reconnects cheaply.
            idle_timeout: Duration::from_secs(30),
            request_body_timeout: Duration::from_secs(30),
            max_connections: 10_000,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then stops accepting, lets
/// every connection finish its requests (idle ones close at once) and returns when the
/// last one has ended. Every accepted socket gets TCP_NODELAY; every request gets the
/// peer address as [`ConnectInfo<SocketAddr>`].
pub async fn serve<F>(listener: TcpListener, app: Router, config: ConnConfig, shutdown: F)
where
    F: Future<Output = ()> + Send,
{
    let max = config.max_connections.clamp(1, MAX_CONNECTIONS_LIMIT);
    // One permit per live connection: refusing is a try_acquire, and the drain waits
    // for every permit to come back.
    let permits = Arc::new(Semaphore::new(max));
    let server = Arc::new(Server {
        app,
        builder: builder(),
        timeouts: Timeouts {
            header: config.header_read_timeout,
            idle: config.idle_timeout,
        },
        body_timeout: config.request_body_timeout,
    });
    let refusal = over_capacity_answer();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut accept_warned = Throttle::default();
    let mut refuse_warned = Throttle::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            // The client gave up before we took the connection: nothing to do.
            Err(err) if is_per_connection(&err) => continue,
            Err(err) => {
                // EMFILE and friends persist until a connection closes; retrying at
                // once would spin a core and flood the log.
                if accept_warned.ready() {
                    tracing::warn!(error = %err, "cannot accept connections; retrying");
                }
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refuse(&tcp, &refusal);
            if refuse_warned.ready() {
                tracing::warn!(
                    max,
                    "connection limit reached; refusing connections with 503"
                );
            }
            continue;
        };
        // Small SSE frames must leave at once: without TCP_NODELAY, Nagle's algorithm
        // and the client's delayed ACK hold them for up to 40 ms.
        if let Err(err) = tcp.set_nodelay(true) {
            tracing::debug!(error = %err, "could not set TCP_NODELAY");
        }
        tokio::spawn(connection(
            tcp,
            peer,
            server.clone(),
            stop_rx.clone(),
            permit,
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
}

/// What every connection task shares.
struct Server {
    app: Router,
    builder: auto::Builder<TokioExecutor>,
    timeouts: Timeouts,
    body_timeout: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Timeouts {
    header: Duration,
    idle: Duration,
}

fn builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Our watcher keeps the header clock (see the module docs); hyper's would also
    // cut idle keep-alive connections. The buffer cap is what bounds a request head.
    builder
        .http1()
        .header_read_timeout(None)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .max_header_list_size(u32::try_from(MAX_HEAD_BYTES).unwrap_or(u32::MAX));
    builder
}

fn is_per_connection(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Lets a warning through at most once per [`WARN_EVERY`].
#[derive(Default)]
struct Throttle(Option<Instant>);

impl Throttle {
    fn ready(&mut self) -> bool {
        let now = Instant::now();
        if self
            .0
            .is_some_and(|last| now.duration_since(last) < WARN_EVERY)
        {
            return false;
        }
        self.0 = Some(now);
        true
    }
}

/// The complete answer to a connection over the cap, rendered once.
fn over_capacity_answer() -> Vec<u8> {
    let body = ApiError::new(
        ErrorCode::Overloaded,
        "the server has too many open connections; retry shortly",
    )
    .body();
    let mut out = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(&body);
    out
}

/// Answers a connection over the cap without a task: what the client already sent is
/// read and dropped (closing on unread data would send a reset, which can destroy the
/// answer in the client's buffer), the answer goes out with one non-blocking write into
/// the empty socket buffer, and the socket closes when the caller drops it.
fn refuse(tcp: &TcpStream, answer: &[u8]) {
    let mut scratch = [0u8; 4096];
    for _ in 0..4 {
        match tcp.try_read(&mut scratch) {
            Ok(n) if n == scratch.len() => continue,
            _ => break,
        }
    }
    let _ = tcp.try_write(answer);
}

/// Serves one connection, closing it when a deadline passes with nothing in flight.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    server: Arc<Server>,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let shared = Arc::new(Shared::new());
    let io = TokioIo::new(Tracked::new(tcp, shared.clone()));
    let service = ConnService {
        app: server.app.clone(),
        shared: shared.clone(),
        peer,
        body_timeout: server.body_timeout,
    };
    let conn = server.builder.serve_connection(io, service);
    tokio::pin!(conn);
    let timer = tokio::time::sleep_until(shared.origin + server.timeouts.header);
    tokio::pin!(timer);
    let mut armed = true;
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                return;
            }
            _ = stop.changed(), if !stopping => {
                // Idle connections close now, busy ones after their current request.
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            () = shared.wake.notified() => {}
            () = &mut timer, if armed => {}
        }
        match shared.deadline(&server.timeouts) {
            None => armed = false,
            Some(at) if at <= Instant::now() => {
                // The header or the idle timeout: no complete request in time.
                tracing::debug!("closing a connection that sent no request in time");
                return;
            }
            Some(at) => {
                timer.as_mut().reset(at);
                armed = true;
            }
        }
    }
}

/// Marks "no head byte seen since the last request started".
const NO_HEAD: u64 = u64::MAX;

/// One connection's state, shared by its IO, its service and its watcher. Times are
/// milliseconds since `origin`, so they fit in atomics.
struct Shared {
    origin: Instant,
    /// Requests handed to the service whose response body is not dropped yet.
    in_flight: AtomicUsize,
    /// Requests handed to the service so far.
    requests: AtomicU64,
    /// When the connection last had nothing in flight, or later, when the last bytes of
    /// its last response were written.
    idle_since: AtomicU64,
    /// When the first byte after the last request arrived while nothing was in flight:
    /// the start of the next head.
    head_started: AtomicU64,
    /// The connection speaks HTTP/2: reads while idle are control frames, not a head,
    /// and nothing hyper writes is an HTTP/1 error head.
    h2: AtomicBool,
    /// Wakes the watcher when a deadline may have moved earlier or become due.
    wake: Notify,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            origin: Instant::now(),
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(NO_HEAD),
            h2: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(NO_HEAD - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.origin + Duration::from_millis(ms)
    }

    /// When the connection is to be closed, or `None` while a request is in flight.
    fn deadline(&self, timeouts: &Timeouts) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        if self.requests.load(Ordering::Acquire) == 0 {
            return Some(self.origin + timeouts.header);
        }
        let head = self.head_started.load(Ordering::Acquire);
        if head != NO_HEAD {
            return Some(self.at(head) + timeouts.header);
        }
        Some(self.at(self.idle_since.load(Ordering::Acquire)) + timeouts.idle)
    }

    /// Bytes arrived. While nothing is in flight on an HTTP/1 keep-alive connection,
    /// they begin the next head and start its clock. (A fresh connection's clock runs
    /// from its opening already.)
    fn saw_bytes(&self) {
        if self.in_flight.load(Ordering::Acquire) > 0
            || self.requests.load(Ordering::Acquire) == 0
            || self.h2.load(Ordering::Acquire)
        {
            return;
        }
        let now = self.now_ms();
        if self
            .head_started
            .compare_exchange(NO_HEAD, now, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.wake.notify_one();
        }
    }
}

/// A request in flight, from the service call until its response body is dropped.
struct InFlight(Arc<Shared>);

impl InFlight {
    fn start(shared: &Arc<Shared>) -> InFlight {
        shared.in_flight.fetch_add(1, Ordering::AcqRel);
        shared.requests.fetch_add(1, Ordering::AcqRel);
        shared.head_started.store(NO_HEAD, Ordering::Release);
        InFlight(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        // The idle time is written before the count drops, so the watcher never pairs
        // "nothing in flight" with a stale idle time.
        let now = self.0.now_ms();
        self.0.idle_since.fetch_max(now, Ordering::AcqRel);
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.wake.notify_one();
        }
    }
}

/// The service hyper calls: adds the peer address, tracks the request in flight and
/// its body, and settles what the response must say about the connection.
#[derive(Clone)]
struct ConnService {
    app: Router,
    shared: Arc<Shared>,
    peer: SocketAddr,
    body_timeout: Duration,
}

type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, req: Request<Incoming>) -> ServiceFuture {
        let in_flight = InFlight::start(&self.shared);
        let http1 = req.version() <= Version::HTTP_11;
        if !http1 {
            self.shared.h2.store(true, Ordering::Release);
        }
        let (mut parts, incoming) = req.into_parts();
        parts.extensions.insert(ConnectInfo(self.peer));
        // Only a request that announced a body (content-length > 0, chunked, an h2
        // stream left open) needs watching; the others skip the allocation.
        let progress = (!incoming.is_end_stream()).then(|| Arc::new(BodyProgress::default()));
        let body = match &progress {
            Some(progress) => Body::new(RequestBody::new(
                incoming,
                progress.clone(),
                self.body_timeout,
            )),
            None => Body::new(incoming),
        };
        let request = Request::from_parts(parts, body);
        let app = self.app.clone();
        Box::pin(async move {
            let response = match tower::ServiceExt::oneshot(app, request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let response = settle(response, progress.as_deref(), http1);
            Ok(response.map(|inner| ResponseBody {
                inner,
                _in_flight: in_flight,
            }))
        })
    }
}

/// How far a request body got.
#[derive(Default)]
struct BodyProgress {
    /// The body reached its end.
    finished: AtomicBool,
    /// The body stopped arriving for longer than the body timeout.
    timed_out: AtomicBool,
}

/// A body that stalled is answered 408, whatever the handler made of the read error.
/// An HTTP/1 response sent before the request's body was read to its end says
/// `Connection: close`: the rest of the body would be read as the next request, so
/// hyper closes the connection after the response, and the client must know not to
/// reuse it (nor to keep sending a body nobody reads).
fn settle(
    response: Response<Body>,
    progress: Option<&BodyProgress>,
    http1: bool,
) -> Response<Body> {
    let Some(progress) = progress else {
        return response;
    };
    let mut response = if progress.timed_out.load(Ordering::Acquire) {
        body_timeout_answer(&response)
    } else {
        response
    };
    if http1 && !progress.finished.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn body_timeout_answer(original: &Response<Body>) -> Response<Body> {
    // A 408 has no code of its own (as at the edge): the status says it.
    let code = ErrorCode::InvalidRequest;
    let error = ApiError::new(code, "the request body stopped arriving before its end");
    let mut answer = (StatusCode::REQUEST_TIMEOUT, error.body()).into_response();
    let headers = answer.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(trace_id) = original.headers().get(TRACE_ID_HEADER) {
        headers.insert(TRACE_ID_HEADER, trace_id.clone());
    }
    answer.extensions_mut().insert(code);
    answer
}

/// The request body, with the body timeout and a note of whether it reached its end.
struct RequestBody {
    inner: Incoming,
    progress: Arc<BodyProgress>,
    timeout: Duration,
    /// Created the first time the body has to wait, then reused.
    timer: Option<Pin<Box<Sleep>>>,
    /// A frame arrived since the timer was last set.
    rearm: bool,
    done: bool,
}

impl RequestBody {
    fn new(inner: Incoming, progress: Arc<BodyProgress>, timeout: Duration) -> RequestBody {
        RequestBody {
            inner,
            progress,
            timeout,
            timer: None,
            rearm: false,
            done: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the request body stopped arriving")]
struct BodyTimedOut;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl HttpBody for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.rearm = true;
                if this.inner.is_end_stream() {
                    this.progress.finished.store(true, Ordering::Release);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(err))) => {
                this.done = true;
                Poll::Ready(Some(Err(err.into())))
            }
            Poll::Ready(None) => {
                this.done = true;
                this.progress.finished.store(true, Ordering::Release);
                Poll::Ready(None)
            }
            Poll::Pending => {
                // The clock runs from the last frame (or the first wait), not from
                // each poll: a spurious wake-up must not extend it.
                let timeout = this.timeout;
                let fresh = this.timer.is_none();
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if std::mem::take(&mut this.rearm) && !fresh {
                    timer.as_mut().reset(Instant::now() + timeout);
                }
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.done = true;
                this.progress.timed_out.store(true, Ordering::Release);
                Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body, holding its request in flight until hyper drops it.
struct ResponseBody {
    inner: Body,
    _in_flight: InFlight,
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket as hyper sees it. Reads while nothing is in flight start the next head's
/// clock. Writes are passed through, vectored as hyper wants them, except one:
///
/// hyper answers a request head it cannot parse by itself (400, 414, 431) with an empty
/// body, never reaching our service, so the contract's JSON body has to be put in here.
/// Such a head is the only thing hyper writes between the end of a response and the
/// next service call, so the first write after a flush that left nothing in flight,
/// with no request started since, is examined: if it is one of those heads (it sits
/// whole in the first buffer: hyper writes a head in one piece), it is reported as
/// written and our complete answer goes out instead (status line kept, JSON body,
/// `Connection: close`). If anything was still unflushed when hyper wrote the head
/// (a pipelined bad request right behind a response), the write is not at a flush
/// boundary and hyper's own answer goes out unchanged.
struct Tracked<T> {
    inner: T,
    shared: Arc<Shared>,
    /// The output is at a message boundary and this many requests had started then.
    boundary: Option<u64>,
    /// Our replacement answer, still to be written from `written` on.
    pending: Vec<u8>,
    written: usize,
    /// The answer was replaced: hyper's further writes (there should be none, the
    /// connection closes) are dropped rather than sent after it.
    replaced: bool,
    /// Bytes went out since the last flush. hyper flushes on every poll of the
    /// connection, written or not, so only such a flush says a response just left.
    wrote: bool,
}

impl<T> Tracked<T> {
    fn new(inner: T, shared: Arc<Shared>) -> Tracked<T> {
        Tracked {
            inner,
            shared,
            boundary: Some(0),
            pending: Vec::new(),
            written: 0,
            replaced: false,
            wrote: false,
        }
    }

    /// Takes `data` (the start of a write) in place of hyper's automatic error head if
    /// it is one, returning how many bytes of it count as written.
    fn intercept(&mut self, data: &[u8]) -> Option<usize> {
        if data.is_empty() {
            return None;
        }
        let started = self.boundary.take()?;
        if self.shared.h2.load(Ordering::Acquire)
            || self.shared.in_flight.load(Ordering::Acquire) != 0
            || self.shared.requests.load(Ordering::Acquire) != started
        {
            return None;
        }
        let head = AutoErrorHead::parse(data)?;
        tracing::debug!(
            status = head.status,
            "request head refused by the HTTP parser"
        );
        self.pending = head.replacement();
        self.written = 0;
        self.replaced = true;
        Some(head.len)
    }

    /// After a flush: a boundary if nothing is in flight (every response written).
    fn flushed(&mut self) {
        let wrote = std::mem::take(&mut self.wrote);
        if self.shared.h2.load(Ordering::Acquire) {
            self.boundary = None;
            return;
        }
        if self.shared.in_flight.load(Ordering::Acquire) == 0 {
            let requests = self.shared.requests.load(Ordering::Acquire);
            self.boundary = Some(requests);
            if requests > 0 && wrote {
                // The idle clock starts when the last response has left, not when it
                // was handed to hyper: a slow reader gets the full idle time.
                let now = self.shared.now_ms();
                self.shared.idle_since.fetch_max(now, Ordering::AcqRel);
            }
        } else {
            self.boundary = None;
        }
    }
}

impl<T: AsyncWrite + Unpin> Tracked<T> {
    /// Writes what is left of our replacement answer.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        if !self.pending.is_empty() {
            self.pending = Vec::new();
            self.written = 0;
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.shared.saw_bytes();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if this.replaced {
            return Poll::Ready(Ok(data.len()));
        }
        if let Some(n) = this.intercept(data) {
            return Poll::Ready(Ok(n));
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, data))?;
        this.wrote |= n > 0;
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        if this.replaced {
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        if this.boundary.is_some() {
            // Empty slices before it count zero bytes, so `n` stays exact.
            if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
                if let Some(n) = this.intercept(first) {
                    return Poll::Ready(Ok(n));
                }
            }
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?;
        this.wrote |= n > 0;
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        // hyper queues body chunks as separate buffers only on a vectored transport,
        // which streaming relies on to avoid copying every chunk.
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        // hyper flushes the transport only once its own buffer is empty.
        this.flushed();
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// hyper's automatic answer to a head it could not parse (`role.rs`, `on_error`).
#[derive(Debug)]
struct AutoErrorHead<'a> {
    status_line: &'a [u8],
    status: u16,
    date: Option<&'a [u8]>,
    /// The head's length, blank line included.
    len: usize,
}

impl<'a> AutoErrorHead<'a> {
    fn parse(data: &'a [u8]) -> Option<AutoErrorHead<'a>> {
        if !data.starts_with(b"HTTP/1.") {
            return None;
        }
        let window = &data[..data.len().min(MAX_AUTO_HEAD)];
        let end = window.windows(4).position(|w| w == b"\r\n\r\n")?;
        let mut lines = window[..end]
            .split(|b| *b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
        let status_line = lines.next()?;
        if status_line.get(8) != Some(&b' ') {
            return None;
        }
        let digits = status_line.get(9..12)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let status = digits
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        if !matches!(status, 400 | 414 | 431) {
            return None;
        }
        let date = lines.find(|line| {
            line.get(..5)
                .is_some_and(|name| name.eq_ignore_ascii_case(b"date:"))
        });
        Some(AutoErrorHead {
            status_line,
            status,
            date,
            len: end + 4,
        })
    }

    /// The complete answer: hyper's status line and date, our JSON body.
    fn replacement(&self) -> Vec<u8> {
        // These statuses have no code of their own (as at the edge): the status says it.
        let message = match self.status {
            414 => "the request URI is too long",
            431 => "the request headers are too large",
            _ => "the request is not valid HTTP",
        };
        let body = ApiError::new(ErrorCode::InvalidRequest, message).body();
        let mut out = Vec::with_capacity(256 + body.len());
        out.extend_from_slice(self.status_line);
        out.extend_from_slice(
            format!(
                "\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n{TRACE_ID_HEADER}: {:032x}\r\n",
                body.len(),
                rand::random::<u128>()
            )
            .as_bytes(),
        );
        if let Some(date) = self.date {
            out.extend_from_slice(date);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body);
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use axum::routing::{get, post};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const HYPER_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Tue, 01 Jul 2025 10:00:00 GMT\r\n\r\n";

    #[test]
    fn recognises_only_hypers_error_heads() {
        let head = AutoErrorHead::parse(HYPER_431).unwrap();
        assert_eq!(head.status, 431);
        assert_eq!(head.len, HYPER_431.len());
        assert_eq!(head.date.unwrap(), b"date: Tue, 01 Jul 2025 10:00:00 GMT");
        for not_one in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"[..],
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n",
            b"HTTP/1.1 4x0 Bad Request\r\n\r\n",
            b"data: HTTP/1.1 400\r\n\r\n",
            b"HTTP/1.",
            b"",
        ] {
            assert!(AutoErrorHead::parse(not_one).is_none(), "{not_one:?}");
        }
    }

    #[test]
    fn the_replacement_is_a_complete_json_answer() {
        let out = AutoErrorHead::parse(HYPER_431).unwrap().replacement();
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("\r\nconnection: close"));
        assert!(head.contains("\r\ncontent-type: application/json"));
        assert!(head.contains("\r\ndate: Tue, 01 Jul 2025"));
        assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(value["error"]["code"], "invalid_request");
        assert!(value["error"]["message"].is_string());
    }

    /// A transport taking at most `max` bytes per write, vectored or not.
    struct Trickle {
        out: Vec<u8>,
        max: usize,
        flushes: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = data.len().min(self.max);
            self.out.extend_from_slice(&data[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut n = 0;
            for buf in bufs {
                let take = buf.len().min(self.max - n);
                self.out.extend_from_slice(&buf[..take]);
                n += take;
                if n == self.max {
                    break;
                }
            }
            Poll::Ready(Ok(n))
        }
        fn is_write_vectored(&self) -> bool {
            true
        }
        fn poll_flush(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.flushes += 1;
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn trickle(max: usize) -> (Tracked<Trickle>, Arc<Shared>) {
        let shared = Arc::new(Shared::new());
        let io = Trickle {
            out: Vec::new(),
            max,
            flushes: 0,
        };
        (Tracked::new(io, shared.clone()), shared)
    }

    #[tokio::test]
    async fn an_error_head_is_replaced_whole_through_partial_writes() {
        let (mut io, _shared) = trickle(7);
        let n = io
            .write_vectored(&[IoSlice::new(b""), IoSlice::new(HYPER_431)])
            .await
            .unwrap();
        assert_eq!(n, HYPER_431.len());
        // Anything hyper writes after its head is not sent after our answer.
        assert_eq!(io.write(b"stray").await.unwrap(), 5);
        io.flush().await.unwrap();
        let sent = String::from_utf8(io.inner.out.clone()).unwrap();
        assert!(sent.starts_with("HTTP/1.1 431 "), "{sent}");
        assert!(sent.ends_with("}"), "{sent}");
        assert!(!sent.contains("stray"));
        assert!(sent.contains("\"code\":\"invalid_request\""));
    }

    #[tokio::test]
    async fn responses_pass_through_untouched() {
        let (mut io, shared) = trickle(1 << 20);
        // A request reached the service: its answer is not hyper's error head.
        let in_flight = InFlight::start(&shared);
        let response = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        io.write_all(response).await.unwrap();
        drop(in_flight);
        io.flush().await.unwrap();
        // At a boundary only hyper's error statuses are taken, and only in the first
        // write: what follows is the same message.
        io.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        let body_looking_like_a_head = b"HTTP/1.1 400 Bad Request\r\n\r\n";
        io.write_all(body_looking_like_a_head).await.unwrap();
        let mut expected = response.to_vec();
        expected.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
        expected.extend_from_slice(body_looking_like_a_head);
        assert_eq!(io.inner.out, expected);
        assert!(io.inner.flushes >= 1);
    }

    #[tokio::test]
    async fn deadlines_follow_the_connection_state() {
        let timeouts = Timeouts {
            header: Duration::from_secs(10),
            idle: Duration::from_secs(30),
        };
        let shared = Arc::new(Shared::new());
        // Fresh: from the opening, whatever arrives.
        shared.saw_bytes();
        assert_eq!(
            shared.deadline(&timeouts),
            Some(shared.origin + timeouts.header)
        );
        let first = InFlight::start(&shared);
        let second = InFlight::start(&shared);
        assert_eq!(shared.deadline(&timeouts), None);
        drop(first);
        assert_eq!(shared.deadline(&timeouts), None);
        drop(second);
        let idle = shared.deadline(&timeouts).unwrap();
        assert!(idle >= shared.origin + timeouts.idle);
        shared.saw_bytes();
        let head = shared.deadline(&timeouts).unwrap();
        assert!(head < idle, "the next head has the shorter clock");
        // An HTTP/2 connection's idle reads are frames, not a head.
        let h2 = Arc::new(Shared::new());
        h2.h2.store(true, Ordering::Release);
        drop(InFlight::start(&h2));
        h2.saw_bytes();
        assert_eq!(h2.head_started.load(Ordering::Acquire), NO_HEAD);
    }

    #[tokio::test]
    async fn only_a_flush_after_a_write_restarts_the_idle_clock() {
        let timeouts = Timeouts {
            header: Duration::from_secs(10),
            idle: Duration::from_secs(30),
        };
        let (mut io, shared) = trickle(1 << 20);
        drop(InFlight::start(&shared));
        let idle = shared.deadline(&timeouts).unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        // hyper flushes on every poll of the connection, with nothing to write.
        io.flush().await.unwrap();
        assert_eq!(shared.deadline(&timeouts), Some(idle));
        io.write_all(b"end of the last response").await.unwrap();
        io.flush().await.unwrap();
        assert!(shared.deadline(&timeouts).unwrap() > idle);
    }

    async fn start(config: ConnConfig) -> (SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route(
                "/peer",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
            )
            .route("/echo", post(|body: Bytes| async move { body }));
        let task = tokio::spawn(serve(listener, app, config, std::future::pending()));
        (addr, task)
    }

    fn quick() -> ConnConfig {
        ConnConfig {
            header_read_timeout: Duration::from_millis(300),
            idle_timeout: Duration::from_millis(300),
            request_body_timeout: Duration::from_millis(300),
            max_connections: 4,
        }
    }

    /// Reads until the peer closes (or 5 s pass), returning what arrived.
    async fn read_to_close(tcp: &mut TcpStream) -> String {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match tokio::time::timeout_at(deadline, tcp.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
                Err(_) => panic!("not closed: {}", String::from_utf8_lossy(&out)),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn requests_carry_the_peer_address_and_idle_connections_close() {
        let (addr, _task) = start(quick()).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let local = tcp.local_addr().unwrap();
        tcp.write_all(b"GET /peer HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let answer = read_to_close(&mut tcp).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with(&local.to_string()), "{answer}");
        let after = started.elapsed();
        assert!(after >= Duration::from_millis(250), "{after:?}");
        assert!(after < Duration::from_millis(550), "{after:?}");
    }

    #[tokio::test]
    async fn garbage_gets_a_json_400_and_an_unread_body_closes() {
        let (addr, _task) = start(quick()).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"\x01\x02 nonsense\r\n\r\n").await.unwrap();
        let answer = read_to_close(&mut tcp).await;
        assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
        assert!(answer.contains("connection: close"), "{answer}");
        assert!(answer.contains("\"code\":\"invalid_request\""), "{answer}");

        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"POST /nowhere HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\n\r\n")
            .await
            .unwrap();
        let answer = read_to_close(&mut tcp).await;
        assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
        assert!(answer.contains("connection: close"), "{answer}");
    }

    #[tokio::test]
    async fn a_stalled_body_is_answered_408() {
        let (addr, _task) = start(quick()).await;
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc")
            .await
            .unwrap();
        let answer = read_to_close(&mut tcp).await;
        assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
        assert!(answer.contains("connection: close"), "{answer}");
        assert!(answer.contains("application/json"), "{answer}");
    }

    #[tokio::test]
    async fn over_the_cap_a_connection_gets_503() {
        let config = ConnConfig {
            max_connections: 1,
            header_read_timeout: Duration::from_secs(5),
            ..quick()
        };
        let (addr, _task) = start(config).await;
        let _held = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut refused = TcpStream::connect(addr).await.unwrap();
        let answer = read_to_close(&mut refused).await;
        assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
        assert!(answer.contains("retry-after: 1"), "{answer}");
        assert!(answer.contains("\"code\":\"overloaded\""), "{answer}");
    }
}
