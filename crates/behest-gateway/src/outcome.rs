//! The one request outcome. Every data-plane request ends in exactly one [`Outcome`]
//! (status, error code, model, provider, tokens, timings, how it ended), handed to the
//! [`OutcomeSink`] the binary wires: a log line today; usage records, settling of
//! budget reservations and memory appends are further consumers.
//!
//! An [`OutcomeRecorder`] is opened when a request enters the pipeline and travels
//! with it — into the stream body for a streamed answer. It is finished exactly once:
//! explicitly on every ending the code knows of, or by its `Drop` when the request's
//! future or stream is dropped first (the client went away), which records what had
//! happened by then.

use crate::guard::GuardFindings;
use crate::memory::Memory;
use crate::pipeline::ChargeUnit;
use behest_core::memory::{NewMessage, ThreadKey};
use behest_core::ErrorCode;
use behest_live::{Counters, Reservation};
use behest_providers::{Provider, Usage};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use uuid::Uuid;

/// What the request asked the data plane for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Chat,
    Embeddings,
    Models,
}

impl Operation {
    /// Every operation, in declaration order (`ALL[op as usize] == op`).
    pub const ALL: [Operation; 3] = [Operation::Chat, Operation::Embeddings, Operation::Models];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::Embeddings => "embeddings",
            Operation::Models => "models",
        }
    }
}

/// Where the request came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An app's browser or server, with a JWT.
    Live,
    /// The dashboard's playground, trying the draft settings.
    Playground,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The answer was delivered whole.
    Complete,
    /// Refused before any provider was called (authentication, validation, policy).
    Refused,
    /// The provider failed, timed out or broke off.
    UpstreamFailed,
    /// The client left before the answer was complete.
    ClientGone,
    /// The server's drain ran out while streaming.
    Shutdown,
    /// A kill switch stopped the stream.
    KillSwitch,
    /// The answer's guard refused what the provider answered.
    AnswerBlocked,
}

impl Ending {
    pub fn as_str(self) -> &'static str {
        match self {
            Ending::Complete => "complete",
            Ending::Refused => "refused",
            Ending::UpstreamFailed => "upstream_failed",
            Ending::ClientGone => "client_gone",
            Ending::Shutdown => "shutdown",
            Ending::KillSwitch => "kill_switch",
            Ending::AnswerBlocked => "answer_blocked",
        }
    }
}

/// Where token counts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// The provider reported them.
    Reported,
    /// Counted by us from what was streamed (the provider reported none).
    Counted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tokens {
    pub prompt: u64,
    pub completion: u64,
    pub total: u64,
    pub source: TokenSource,
}

/// A stage of the hot path, as traces and metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the request and verifying its token.
    Authenticate,
    /// Suspension, kill switches, validation, the route.
    Gate,
    /// Reading the thread's history.
    Memory,
    /// Counting the prompt; the rate limit and the budgets.
    Admit,
    /// The sentinel and PII.
    Guard,
    /// The system prompt and the history put in place.
    Compose,
    /// The provider call, from the request sent to the last byte received.
    Upstream,
}

impl Stage {
    /// Every stage, in declaration order (`ALL[stage as usize] == stage`).
    pub const ALL: [Stage; 7] = [
        Stage::Authenticate,
        Stage::Gate,
        Stage::Memory,
        Stage::Admit,
        Stage::Guard,
        Stage::Compose,
        Stage::Upstream,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Authenticate => "authenticate",
            Stage::Gate => "gate",
            Stage::Memory => "memory",
            Stage::Admit => "admit",
            Stage::Guard => "guard",
            Stage::Compose => "compose",
            Stage::Upstream => "upstream",
        }
    }
}

/// When a stage ran, relative to the request's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageSpan {
    pub stage: Stage,
    pub start: Duration,
    pub duration: Duration,
}

/// Who made the request, as far as it is known (an unauthenticated request has no uid).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    pub project_id: Option<Uuid>,
    pub tenant_id: Option<Uuid>,
    pub uid: Option<String>,
    pub session_id: Option<String>,
    pub thread_id: Option<String>,
    pub end_user_id: Option<String>,
    pub tier: Option<String>,
}

/// One data-plane request, as it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub trace_id: Option<Arc<str>>,
    pub operation: Operation,
    pub origin: Origin,
    pub identity: Identity,
    /// The HTTP status the client got (for a stream: 200, whatever came after).
    pub status: u16,
    pub error_code: Option<ErrorCode>,
    pub ending: Ending,
    pub model: Option<String>,
    pub provider: Option<Provider>,
    pub tokens: Option<Tokens>,
    /// From the request's arrival to the first byte of the answer sent to the client.
    pub time_to_first_byte: Option<Duration>,
    /// Time spent waiting for the provider.
    pub upstream_time: Duration,
    /// Time spent inside Behest: the request's whole duration minus `upstream_time`.
    pub behest_time: Duration,
    pub total_time: Duration,
    /// What admission reserved, settled from this outcome.
    pub reservation: Option<Reservation>,
    /// What each charge of the reservation counts.
    pub reservation_units: Vec<ChargeUnit>,
    /// The tokens at the model's list prices (0 for an unpriced model).
    pub cost_usd: f64,
    /// What the guard found (rules and entity types, never text).
    pub guard: GuardFindings,
    /// The wall-clock time the request arrived (for traces).
    pub started_at: SystemTime,
    /// The stages it went through, in order.
    pub stages: Vec<StageSpan>,
}

impl Outcome {
    /// A request that began at `started` and has not got anywhere yet (it ends as a
    /// client gone unless something records otherwise).
    pub fn new(
        operation: Operation,
        origin: Origin,
        started: Instant,
        trace_id: Option<Arc<str>>,
    ) -> Outcome {
        Outcome {
            trace_id,
            operation,
            origin,
            identity: Identity::default(),
            status: 0,
            error_code: None,
            ending: Ending::ClientGone,
            model: None,
            provider: None,
            tokens: None,
            time_to_first_byte: None,
            upstream_time: Duration::ZERO,
            behest_time: Duration::ZERO,
            total_time: Duration::ZERO,
            reservation: None,
            reservation_units: Vec::new(),
            cost_usd: 0.0,
            guard: GuardFindings::default(),
            started_at: SystemTime::now()
                .checked_sub(started.elapsed())
                .unwrap_or_else(SystemTime::now),
            stages: Vec::with_capacity(8),
        }
    }

    /// The tokens a budget is charged: what was used, or nothing.
    pub fn charged_tokens(&self) -> u64 {
        self.tokens.map_or(0, |t| t.total)
    }

    /// What each charge of the reservation is settled to.
    pub fn used(&self) -> Vec<u64> {
        self.reservation_units
            .iter()
            .map(|unit| match unit {
                ChargeUnit::Tokens => self.charged_tokens(),
                ChargeUnit::MicroUsd => (self.cost_usd * 1e6).ceil().max(0.0) as u64,
            })
            .collect()
    }
}

/// Receives every outcome, once. Called on the request's own task (and from `Drop`),
/// so it must not block: buffer and hand off.
pub trait OutcomeSink: Send + Sync + 'static {
    fn record(&self, outcome: &Outcome);
}

/// Settles each outcome's reservation with the counters (off the request's task),
/// then hands the outcome on.
pub struct Accounting {
    pub counters: Arc<dyn Counters>,
    pub next: Arc<dyn OutcomeSink>,
}

impl OutcomeSink for Accounting {
    fn record(&self, outcome: &Outcome) {
        if let Some(reservation) = outcome.reservation.clone() {
            let used = outcome.used();
            if self.counters.settle_now(&reservation, &used) {
                self.next.record(outcome);
                return;
            }
            let counters = self.counters.clone();
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move {
                        if let Err(err) = counters.settle(&reservation, &used).await {
                            tracing::warn!(error = %err, "a reservation could not be settled");
                        }
                    });
                }
                Err(_) => tracing::warn!("no runtime to settle a reservation on"),
            }
        }
        self.next.record(outcome);
    }
}

/// A sink that drops everything (tests that do not look).
pub struct DiscardOutcomes;

impl OutcomeSink for DiscardOutcomes {
    fn record(&self, _outcome: &Outcome) {}
}

/// The outcome of one request while it is under way.
pub struct OutcomeRecorder {
    sink: Arc<dyn OutcomeSink>,
    started: Instant,
    outcome: Outcome,
    upstream_since: Option<Instant>,
    /// The provider call's first start and last end, for its stage span.
    upstream_span: Option<(Instant, Instant)>,
    /// Whether a provider was called at all (a failure after that is the provider's).
    upstream_called: bool,
    /// The answer's text so far (streamed, or whole), for counting tokens when the
    /// provider reports none and for memory.
    streamed_text: String,
    /// The answer's tool calls so far, by index: id, name, arguments.
    tool_calls: std::collections::BTreeMap<u32, (String, String, String)>,
    prompt_estimate: u64,
    /// USD per million input and output tokens.
    prices: Option<(f64, f64)>,
    memory: Option<MemoryAppend>,
    finished: bool,
}

/// The turn a finished request appends to its thread.
pub struct MemoryAppend {
    pub memory: Arc<dyn Memory>,
    pub thread: ThreadKey,
    /// The request's new messages, as they left the PII stage.
    pub turn: Vec<NewMessage>,
    pub store_tool_calls: bool,
}

impl OutcomeRecorder {
    pub fn begin(
        sink: Arc<dyn OutcomeSink>,
        operation: Operation,
        origin: Origin,
        started: Instant,
        trace_id: Option<Arc<str>>,
    ) -> OutcomeRecorder {
        OutcomeRecorder {
            sink,
            started,
            outcome: Outcome::new(operation, origin, started, trace_id),
            upstream_since: None,
            upstream_span: None,
            upstream_called: false,
            streamed_text: String::new(),
            tool_calls: std::collections::BTreeMap::new(),
            prompt_estimate: 0,
            prices: None,
            memory: None,
            finished: false,
        }
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn set_identity(&mut self, identity: Identity) {
        self.outcome.identity = identity;
    }

    pub fn set_route(&mut self, model: &str, provider: Provider) {
        self.outcome.model = Some(model.to_owned());
        self.outcome.provider = Some(provider);
    }

    /// Our own estimate of the prompt's tokens, used when the provider reports none.
    pub fn set_prompt_estimate(&mut self, tokens: u64) {
        self.prompt_estimate = tokens;
    }

    /// A stage that began at `since` has ended.
    pub fn stage(&mut self, stage: Stage, since: Instant) {
        self.outcome.stages.push(StageSpan {
            stage,
            start: since.saturating_duration_since(self.started),
            duration: since.elapsed(),
        });
    }

    /// The provider call begins (or, streaming, we wait on it again).
    pub fn upstream_started(&mut self) {
        let now = Instant::now();
        self.upstream_since = Some(now);
        self.upstream_called = true;
        self.upstream_span.get_or_insert((now, now));
    }

    /// Whether a provider was called for this request.
    pub fn upstream_called(&self) -> bool {
        self.upstream_called
    }

    /// The provider call (or the part of it we wait for before answering) is over.
    pub fn upstream_finished(&mut self) {
        if let Some(since) = self.upstream_since.take() {
            self.outcome.upstream_time += since.elapsed();
            if let Some(span) = &mut self.upstream_span {
                span.1 = Instant::now();
            }
        }
    }

    pub fn upstream_time(&self) -> Duration {
        self.outcome.upstream_time
    }

    /// The first byte of the answer leaves for the client (only the first call counts).
    pub fn first_byte(&mut self) {
        if self.outcome.time_to_first_byte.is_none() {
            self.outcome.time_to_first_byte = Some(self.started.elapsed());
        }
    }

    /// Streamed answer text, counted if the provider reports no usage.
    pub fn streamed(&mut self, text: &str) {
        self.streamed_text.push_str(text);
    }

    /// A streamed piece of a tool call (the first carries its id and name).
    pub fn streamed_tool_call(
        &mut self,
        index: u32,
        id: Option<&str>,
        name: Option<&str>,
        arguments: &str,
    ) {
        let call = self.tool_calls.entry(index).or_default();
        if let Some(id) = id {
            call.0.push_str(id);
        }
        if let Some(name) = name {
            call.1.push_str(name);
        }
        call.2.push_str(arguments);
    }

    pub fn set_guard(&mut self, findings: GuardFindings) {
        self.outcome.guard = findings;
    }

    /// What the answer's guard found, next to the request's findings.
    pub fn set_answer_guard(&mut self, findings: GuardFindings) {
        self.outcome.guard.answer = Some(Box::new(findings));
    }

    /// The list prices the cost is computed with.
    pub fn set_prices(&mut self, input_per_mtok: f64, output_per_mtok: f64) {
        self.prices = Some((input_per_mtok, output_per_mtok));
    }

    /// The turn to append to a thread when the request ends with an answer.
    pub fn remember(&mut self, append: MemoryAppend) {
        self.memory = Some(append);
    }

    /// Whether the answer's text is wanted (memory is on).
    pub fn wants_answer(&self) -> bool {
        self.memory.is_some()
    }

    pub fn set_usage(&mut self, usage: &Usage) {
        self.outcome.tokens = Some(Tokens {
            prompt: usage.prompt_tokens,
            completion: usage.completion_tokens,
            total: usage
                .total_tokens
                .max(usage.prompt_tokens + usage.completion_tokens),
            source: TokenSource::Reported,
        });
    }

    /// What admission reserved: settled when the request ends, however it ends.
    pub fn set_reservation(&mut self, reservation: Reservation, units: Vec<ChargeUnit>) {
        self.outcome.reservation = Some(reservation);
        self.outcome.reservation_units = units;
    }

    pub fn set_status(&mut self, status: u16) {
        self.outcome.status = status;
    }

    /// The `Server-Timing` value for a response whose head is about to leave:
    /// `behest;dur=…, upstream;dur=…` in milliseconds.
    pub fn server_timing(&self) -> String {
        let total = self.started.elapsed();
        let upstream = self.outcome.upstream_time;
        let mut out = String::with_capacity(48);
        out.push_str("behest;dur=");
        push_ms(&mut out, total.saturating_sub(upstream));
        out.push_str(", upstream;dur=");
        push_ms(&mut out, upstream);
        out
    }

    /// Ends the request successfully with `status`.
    pub fn complete(mut self, status: u16) {
        self.outcome.status = status;
        self.finish(Ending::Complete, None);
    }

    /// Ends the request with an error answered (before or after the provider).
    pub fn fail(mut self, status: u16, code: ErrorCode, ending: Ending) {
        if self.outcome.status == 0 {
            self.outcome.status = status;
        }
        self.finish(ending, Some(code));
    }

    fn finish(&mut self, ending: Ending, code: Option<ErrorCode>) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.upstream_finished();
        if let Some((first, last)) = self.upstream_span.take() {
            self.outcome.stages.push(StageSpan {
                stage: Stage::Upstream,
                start: first.saturating_duration_since(self.started),
                duration: last.saturating_duration_since(first),
            });
        }
        let total = self.started.elapsed();
        let outcome = &mut self.outcome;
        outcome.ending = ending;
        outcome.error_code = code;
        outcome.total_time = total;
        outcome.behest_time = total.saturating_sub(outcome.upstream_time);
        // Counted only for what a provider worked on: not for a refusal, nor for a
        // provider failure that produced nothing.
        let produced = !self.streamed_text.is_empty() || !self.tool_calls.is_empty();
        let worked = match ending {
            Ending::Complete | Ending::AnswerBlocked => true,
            Ending::Refused => false,
            Ending::UpstreamFailed => produced,
            Ending::ClientGone | Ending::Shutdown | Ending::KillSwitch => {
                produced || self.upstream_called
            }
        };
        if outcome.tokens.is_none() && outcome.operation == Operation::Chat && worked {
            let arguments: String = self.tool_calls.values().map(|c| c.2.as_str()).collect();
            let completion = behest_providers::tokens::count(&self.streamed_text)
                + behest_providers::tokens::count(&arguments);
            if completion > 0 || self.prompt_estimate > 0 {
                outcome.tokens = Some(Tokens {
                    prompt: self.prompt_estimate,
                    completion,
                    total: self.prompt_estimate + completion,
                    source: TokenSource::Counted,
                });
            }
        }
        if let (Some((input, output)), Some(tokens)) = (self.prices, outcome.tokens) {
            outcome.cost_usd =
                (tokens.prompt as f64 * input + tokens.completion as f64 * output) / 1e6;
        }
        let answered = matches!(ending, Ending::Complete | Ending::ClientGone)
            && (!self.streamed_text.is_empty() || !self.tool_calls.is_empty());
        if let Some(append) = self.memory.take().filter(|_| answered) {
            self.append_turn(append);
        }
        self.sink.record(&self.outcome);
    }

    /// The request's turn and the answer, to the thread.
    fn append_turn(&mut self, append: MemoryAppend) {
        let mut messages = append.turn;
        let calls: Vec<serde_json::Value> = self
            .tool_calls
            .values()
            .map(|(id, name, arguments)| {
                serde_json::json!({"id": id, "type": "function", "function": {"name": name, "arguments": arguments}})
            })
            .collect();
        let tool_calls = (append.store_tool_calls && !calls.is_empty())
            .then(|| serde_json::Value::Array(calls).to_string());
        if !self.streamed_text.is_empty() || tool_calls.is_some() {
            messages.push(NewMessage {
                role: "assistant".to_owned(),
                content: std::mem::take(&mut self.streamed_text),
                tool_calls,
                tool_call_id: None,
            });
        }
        append.memory.append(append.thread, messages);
    }
}

impl Drop for OutcomeRecorder {
    /// Dropped unfinished: the request's future or stream went away with the client.
    fn drop(&mut self) {
        if !self.finished {
            if self.outcome.status == 0 {
                // nginx's "client closed request": no response was sent.
                self.outcome.status = 499;
            }
            self.finish(Ending::ClientGone, None);
        }
    }
}

/// Writes `duration` in milliseconds with three decimals, as `{:.3}` of the float would,
/// with integers (a float's formatting was ~1.2 k instructions, twice a request).
fn push_ms(out: &mut String, duration: Duration) {
    let micros = (duration.as_nanos() + 500) / 1000;
    let mut digits = itoa::Buffer::new();
    out.push_str(digits.format(micros / 1000));
    out.push('.');
    let frac = (micros % 1000) as u16;
    for d in [frac / 100, frac / 10 % 10, frac % 10] {
        out.push(char::from(b'0' + d as u8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn the_lists_of_every_operation_and_stage_are_indexed_by_them() {
        // Metrics keep one series per operation and per stage, indexed `x as usize`.
        for (i, op) in Operation::ALL.iter().enumerate() {
            assert_eq!(*op as usize, i, "{op:?}");
        }
        for (i, stage) in Stage::ALL.iter().enumerate() {
            assert_eq!(*stage as usize, i, "{stage:?}");
        }
    }

    #[derive(Default)]
    struct Collect(Mutex<Vec<Outcome>>);

    impl OutcomeSink for Collect {
        fn record(&self, outcome: &Outcome) {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(outcome.clone());
        }
    }

    fn recorder(sink: &Arc<Collect>) -> OutcomeRecorder {
        OutcomeRecorder::begin(
            sink.clone(),
            Operation::Chat,
            Origin::Live,
            Instant::now(),
            None,
        )
    }

    #[test]
    fn finished_once_whatever_happens_after() {
        let sink = Arc::new(Collect::default());
        let mut r = recorder(&sink);
        r.set_route("gpt-4o-mini", Provider::OpenAi);
        r.complete(200);
        let outcomes = sink.0.lock().unwrap();
        assert_eq!(
            outcomes.len(),
            1,
            "drop after complete records nothing more"
        );
        assert_eq!(
            (outcomes[0].status, outcomes[0].ending),
            (200, Ending::Complete)
        );
    }

    #[test]
    fn a_refusal_and_a_provider_failure_with_no_output_count_no_tokens() {
        let sink = Arc::new(Collect::default());
        let mut refused = recorder(&sink);
        refused.set_prompt_estimate(40);
        refused.set_prices(1.0, 1.0);
        refused.fail(451, ErrorCode::ContentBlocked, Ending::Refused);
        let mut failed = recorder(&sink);
        failed.set_prompt_estimate(40);
        failed.upstream_started();
        failed.fail(502, ErrorCode::UpstreamError, Ending::UpstreamFailed);
        let mut gone = recorder(&sink);
        gone.set_prompt_estimate(40);
        gone.upstream_started();
        drop(gone);
        let outcomes = sink.0.lock().unwrap();
        assert_eq!((outcomes[0].tokens, outcomes[0].cost_usd), (None, 0.0));
        assert_eq!(outcomes[1].tokens, None);
        // The provider had the prompt when the client left: it is counted.
        assert_eq!(outcomes[2].tokens.map(|t| t.prompt), Some(40));
    }

    #[test]
    fn a_dropped_recorder_is_a_client_gone_with_the_streamed_tokens() {
        let sink = Arc::new(Collect::default());
        {
            let mut r = recorder(&sink);
            r.set_status(200);
            r.set_prompt_estimate(12);
            r.first_byte();
            r.streamed("Hello there, how are you");
        }
        let outcomes = sink.0.lock().unwrap();
        assert_eq!(outcomes.len(), 1);
        let o = &outcomes[0];
        assert_eq!((o.status, o.ending), (200, Ending::ClientGone));
        let tokens = o.tokens.unwrap();
        assert_eq!(tokens.source, TokenSource::Counted);
        assert_eq!(tokens.prompt, 12);
        assert!(tokens.completion > 0);
        assert!(o.time_to_first_byte.is_some());
    }

    #[test]
    fn dropped_before_any_answer_is_499() {
        let sink = Arc::new(Collect::default());
        drop(recorder(&sink));
        assert_eq!(sink.0.lock().unwrap()[0].status, 499);
    }

    fn ms(duration: Duration) -> f64 {
        duration.as_secs_f64() * 1e3
    }

    #[test]
    fn milliseconds_are_written_as_a_float_with_three_decimals_would_be() {
        let mut nanos: Vec<u64> = (0..5_000).map(|n| n * 997).collect();
        nanos.extend([
            0,
            999,
            1_499,
            1_501,
            999_999,
            1_000_000,
            59_999_999_999,
            u32::MAX as u64,
        ]);
        for n in nanos {
            // An exact half-microsecond is a tie the float may round either way.
            if n % 1000 == 500 {
                continue;
            }
            let d = Duration::from_nanos(n);
            let mut got = String::new();
            push_ms(&mut got, d);
            assert_eq!(got, format!("{:.3}", ms(d)), "{n} ns");
        }
    }

    #[test]
    fn upstream_time_is_kept_apart_from_ours() {
        let sink = Arc::new(Collect::default());
        let mut r = recorder(&sink);
        r.upstream_started();
        std::thread::sleep(Duration::from_millis(20));
        r.upstream_finished();
        let timing = r.server_timing();
        assert!(timing.starts_with("behest;dur="), "{timing}");
        let upstream: f64 = timing
            .rsplit("upstream;dur=")
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!(upstream >= 20.0, "{timing}");
        r.fail(502, ErrorCode::UpstreamError, Ending::UpstreamFailed);
        let o = &sink.0.lock().unwrap()[0];
        assert!(o.upstream_time >= Duration::from_millis(20));
        assert_eq!(o.behest_time + o.upstream_time, o.total_time);
        assert_eq!(o.error_code, Some(ErrorCode::UpstreamError));
    }
}
