//! The request pipeline, callable without HTTP: a [`Call`] (who, under which policy,
//! in which context) goes in, an [`Answer`] (JSON, a stream, or an error — each with its
//! `Server-Timing`) comes out, and exactly one outcome is recorded on the way. The HTTP
//! handlers only parse and render; the playground calls [`complete`] in process with
//! the draft's policy.
//!
//! The stages of a chat completion, in order (each a plain function below):
//! 1. **gate** — a suspended project serves nothing ([`gate`]).
//! 2. **admit** — the rate limit and the daily token budget, one call to the counters,
//!    which reserves the call's estimate ([`admit`]); the outcome settles it.
//! 3. **guard** — the sentinel, then PII, over what the end user sent
//!    ([`crate::guard`]).
//! 4. **compose** — the policy's system prompt first, then the thread's history when
//!    memory is on ([`compose`]); the new turn is appended to the thread when the
//!    request ends with an answer (the outcome does it).
//! 5. **dispatch** — the model's provider and credentials ([`GatewayState::route`]),
//!    the upstream call, JSON or the streaming relay ([`dispatch`]).
//! 6. **account** — the outcome, to the sink ([`crate::outcome`]).
//!
//! Embeddings and the model list run the same gate, route and outcome.

use crate::answer::AnswerGuard;
use crate::guard::{guard_messages, guard_texts, ActivePolicy, GuardFindings};
use crate::outcome::{Ending, Identity, MemoryAppend, Operation, Origin, OutcomeRecorder, Stage};
use crate::sse::{self, KillWatch, Relay};
use crate::upstream::{upstream_error, Credentials};
use crate::verify::Principal;
use crate::GatewayState;
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use behest_core::killswitch::KillScope;
use behest_core::memory::{NewMessage, ThreadKey};
use behest_core::policy::EffectivePolicy;
use behest_core::ErrorCode;
use behest_guard::answer::Placeholders;
use behest_http::ApiError;
use behest_live::{Admission, BudgetCharge, RateLimit, RateState, Reservation, Verdict};
use behest_providers::tokens::Family;
use behest_providers::{
    echo, tokens, ChatRequest, ChatResponse, EncodedRequest, Message, MessageContent, ModelRoute,
    Provider, WireFormat,
};
use futures_util::stream::BoxStream;
use serde_json::{json, Map, Value};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

/// What the request says about itself beyond its body, kept for usage and memory.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub session_id: Option<String>,
    pub thread_id: Option<String>,
    pub end_user_id: Option<String>,
    pub trace_id: Option<Arc<str>>,
    /// When the request arrived (the edge's clock): the start of Behest's own time.
    pub started: Instant,
    pub origin: Origin,
}

impl RequestContext {
    /// A context for a call made in process (the playground).
    pub fn in_process(origin: Origin) -> RequestContext {
        RequestContext {
            session_id: None,
            thread_id: None,
            end_user_id: None,
            trace_id: None,
            started: Instant::now(),
            origin,
        }
    }
}

/// One authenticated request, ready to run.
pub struct Call {
    pub principal: Principal,
    pub policy: Arc<ActivePolicy>,
    pub context: RequestContext,
    outcome: OutcomeRecorder,
}

impl Call {
    /// Refuses the call before the pipeline runs it (a body that does not parse).
    pub fn refuse(self, error: ApiError) -> Answer {
        refused(self.outcome, error)
    }
}

/// The body of an answer.
pub enum AnswerBody {
    Json(Bytes),
    Stream(BoxStream<'static, Result<Bytes, Infallible>>),
    Error(ApiError),
}

/// What the pipeline answers, with the `Server-Timing` of the moment its head left and
/// the rate limit's state (`X-RateLimit-*`) when the call went through admission.
pub struct Answer {
    pub body: AnswerBody,
    pub server_timing: String,
    pub rate: Option<RateState>,
    /// What the request guard found (rules and entity types, never text), kept only
    /// for the dashboard's playground, which shows it; `None` for live traffic.
    pub guard: Option<GuardFindings>,
}

impl Answer {
    pub fn error(&self) -> Option<&ApiError> {
        match &self.body {
            AnswerBody::Error(err) => Some(err),
            _ => None,
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            AnswerBody::Json(bytes) => {
                let mut response = Response::new(Body::from(bytes));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            AnswerBody::Stream(stream) => sse::sse_response(stream),
            AnswerBody::Error(err) => err.into_response(),
        };
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::from_str(&self.server_timing) {
            headers.insert("server-timing", value);
        }
        if let Some(rate) = self.rate {
            headers.insert("x-ratelimit-limit", HeaderValue::from(rate.limit));
            headers.insert("x-ratelimit-remaining", HeaderValue::from(rate.remaining));
            headers.insert(
                "x-ratelimit-reset",
                HeaderValue::from(rate.reset_ms.div_ceil(1000)),
            );
        }
        response
    }
}

/// A refusal, recorded as the request's outcome.
pub fn refused(outcome: OutcomeRecorder, error: ApiError) -> Answer {
    refused_with(outcome, error, None)
}

/// A refusal with the rate limit's state (a 429, or a refusal after admission).
pub fn refused_with(outcome: OutcomeRecorder, error: ApiError, rate: Option<RateState>) -> Answer {
    let server_timing = outcome.server_timing();
    let ending = if outcome.upstream_called() {
        Ending::UpstreamFailed
    } else {
        Ending::Refused
    };
    outcome.fail(error.code.status(), error.code, ending);
    Answer {
        body: AnswerBody::Error(error),
        server_timing,
        rate,
        guard: None,
    }
}

impl GatewayState {
    /// Opens the outcome of a request (before it is even authenticated).
    pub fn begin(&self, operation: Operation, context: &RequestContext) -> OutcomeRecorder {
        OutcomeRecorder::begin(
            self.outcomes(),
            operation,
            context.origin,
            context.started,
            context.trace_id.clone(),
        )
    }

    /// The call of an authenticated principal under the project's live policy for its
    /// tier.
    pub fn call(
        &self,
        principal: Principal,
        context: RequestContext,
        outcome: OutcomeRecorder,
    ) -> Call {
        let policy = principal.policy().clone();
        self.call_with_policy(principal, policy, context, outcome)
    }

    /// A call under an explicit policy: the playground runs the draft's.
    pub fn call_with_policy(
        &self,
        principal: Principal,
        policy: Arc<ActivePolicy>,
        mut context: RequestContext,
        mut outcome: OutcomeRecorder,
    ) -> Call {
        if context.session_id.is_none() {
            context.session_id.clone_from(&principal.session_id);
        }
        outcome.set_identity(Identity {
            project_id: Some(principal.project.id),
            tenant_id: Some(principal.project.tenant_id),
            uid: Some(principal.uid.clone()),
            session_id: context.session_id.clone(),
            thread_id: context.thread_id.clone(),
            end_user_id: context.end_user_id.clone(),
            tier: policy.tier.clone(),
        });
        let started = outcome.started();
        outcome.stage(Stage::Authenticate, started);
        Call {
            principal,
            policy,
            context,
            outcome,
        }
    }

    /// Where `model` is served and with which credentials (`None` for echo): the
    /// tenant's own key for the provider when it brought one, else the platform's.
    pub fn route(
        &self,
        model: &str,
        tenant_id: Uuid,
    ) -> Result<(ModelRoute, Option<Credentials>), ApiError> {
        let route = self.models().resolve(model).ok_or_else(|| {
            ApiError::new(
                ErrorCode::UpstreamError,
                format!("model {model:?} is not known to this gateway"),
            )
        })?;
        if route.provider == Provider::Echo {
            return Ok((route, None));
        }
        let credentials = self.credentials(tenant_id, route.provider)?;
        Ok((route, Some(credentials)))
    }

    /// The tenant's own key for `provider`, else the platform's: the one place that
    /// chooses (chat and embeddings both ask here).
    pub fn credentials(
        &self,
        tenant_id: Uuid,
        provider: Provider,
    ) -> Result<Credentials, ApiError> {
        if let Some(own) = self
            .directory()
            .snapshot()
            .tenant_credentials(tenant_id, provider)
        {
            return Ok(own.clone());
        }
        let credentials = self.upstreams().platform(provider).ok_or_else(|| {
            ApiError::new(
                ErrorCode::UpstreamError,
                format!("provider {provider} is not configured on this gateway"),
            )
        })?;
        Ok(credentials.clone())
    }
}

/// **gate**: a suspended project serves nothing, nor one a kill switch stops.
pub fn gate(gateway: &GatewayState, principal: &Principal) -> Result<(), ApiError> {
    if principal.project.suspended {
        return Err(ApiError::forbidden("project is suspended"));
    }
    if let Some(scope) = gateway.directory().snapshot().stopping(&principal.project) {
        return Err(kill_switch_error(scope));
    }
    Ok(())
}

pub(crate) fn kill_switch_error(scope: KillScope) -> ApiError {
    ApiError::new(
        ErrorCode::KillSwitch,
        format!("service stopped by the {} kill switch", scope.name()),
    )
}

/// How many output tokens a call may produce, as admission reserves them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The request set `max_tokens`: reserved whole, or refused.
    Fixed(u32),
    /// The request set none: up to this (the model's maximum), shrunk to the budget's
    /// room if need be, and the shrunk cap sent upstream.
    UpTo(u32),
    /// Nothing comes out but usage (embeddings).
    None,
}

/// The fewest output tokens a call without `max_tokens` is admitted with.
const MIN_OUTPUT_TOKENS: u32 = 16;
/// How long a day's budget key lives: past its day, whatever the time zone of a clock.
pub const BUDGET_TTL_SECS: u64 = 2 * 86_400;

/// What admission let through.
pub struct Admitted {
    pub rate: Option<RateState>,
    pub reservation: Option<Reservation>,
    /// What each of the reservation's charges counts, in its order.
    pub units: Vec<ChargeUnit>,
    /// The output cap to send upstream, when a budget shrank it.
    pub output_cap: Option<u32>,
}

/// What one budget charge counts: tokens, or millionths of a USD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeUnit {
    Tokens,
    MicroUsd,
}

/// What a call is expected to use, for admission.
#[derive(Debug, Clone)]
pub struct Estimate<'a> {
    /// Input tokens, estimated.
    pub prompt: u64,
    pub output: Output,
    /// The model's list prices, USD per million input and output tokens.
    pub prices: Option<(f64, f64)>,
    /// The session spending is attributed to.
    pub session: Option<&'a str>,
}

/// One budget of a policy, as admission charges it.
#[derive(Debug, Clone, Copy)]
enum Budget {
    TokensPerDay,
    UserDailyUsd,
    SessionUsd,
    ProjectMonthlyUsd,
}

impl Budget {
    fn param(self) -> &'static str {
        match self {
            Budget::TokensPerDay => "tokens_per_day",
            Budget::UserDailyUsd => "budgets.user_daily_usd",
            Budget::SessionUsd => "budgets.session_usd",
            Budget::ProjectMonthlyUsd => "budgets.project_monthly_usd",
        }
    }

    fn unit(self) -> ChargeUnit {
        match self {
            Budget::TokensPerDay => ChargeUnit::Tokens,
            _ => ChargeUnit::MicroUsd,
        }
    }
}

/// How long a session's spending key lives after its last request.
pub const SESSION_TTL_SECS: u64 = 30 * 86_400;
/// How long a month's key lives: past its month.
pub const MONTH_TTL_SECS: u64 = 40 * 86_400;

/// Millionths of a USD for `input` and `output` tokens at `prices` (USD per million).
fn micro_usd((input_price, output_price): (f64, f64), input: u64, output: u64) -> u64 {
    (input as f64 * input_price + output as f64 * output_price)
        .ceil()
        .max(0.0) as u64
}

/// The tag of one end user of one project in every counter key, so that a user's keys
/// stay together (one Redis Cluster slot) whatever their id holds:
/// `{project}:<FNV-1a of the uid, 16 hex digits>:<its length>`. Built by pushing its
/// parts: admission builds it for every request, and `format!` spent about 2k
/// instructions a key on the padding machinery.
fn user_tag(project: Uuid, uid: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in uid.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut tag = String::with_capacity(38 + 1 + 16 + 1 + 4);
    push_project_tag(&mut tag, project);
    tag.push(':');
    for nibble in (0..16).rev().map(|i| (hash >> (i * 4)) & 0xf) {
        tag.push(char::from(b"0123456789abcdef"[nibble as usize]));
    }
    tag.push(':');
    tag.push_str(itoa::Buffer::new().format(uid.len()));
    tag
}

/// Every key of a project carries `{project}`: one Redis Cluster slot for all a
/// request's keys (the project's own budget included).
fn push_project_tag(out: &mut String, project: Uuid) {
    out.push('{');
    out.push_str(
        project
            .hyphenated()
            .encode_lower(&mut Uuid::encode_buffer()),
    );
    out.push('}');
}

/// `{kind}:{tag}` and, when there is one, `:{suffix}`: a counter key in one allocation.
fn counter_key(kind: &str, tag: &str, suffix: Option<&str>) -> String {
    let suffix_len = suffix.map_or(0, |s| s.len() + 1);
    let mut key = String::with_capacity(kind.len() + 1 + tag.len() + suffix_len);
    key.push_str(kind);
    key.push(':');
    key.push_str(tag);
    if let Some(suffix) = suffix {
        key.push(':');
        key.push_str(suffix);
    }
    key
}

/// The counter keys of one end user of one project: the tag is built once for all of a
/// request's keys.
pub struct UserKeys {
    tag: String,
}

impl UserKeys {
    pub fn new(project: Uuid, uid: &str) -> UserKeys {
        UserKeys {
            tag: user_tag(project, uid),
        }
    }

    /// The rate limit's key.
    pub fn rate(&self) -> String {
        counter_key("rl", &self.tag, None)
    }

    /// The token budget's key for one UTC day (`YYYY-MM-DD`).
    pub fn tokens_on(&self, day: &str) -> String {
        counter_key("tok", &self.tag, Some(day))
    }

    /// The spending key for one UTC day.
    pub fn usd_on(&self, day: &str) -> String {
        counter_key("usd", &self.tag, Some(day))
    }

    /// One session's spending key (sessions are an end user's).
    pub fn session_usd(&self, session: &str) -> String {
        counter_key("usd-session", &self.tag, Some(session))
    }
}

/// The key of an end user's token budget for one UTC day (`YYYY-MM-DD`): what
/// admission charges and what the ledger restores at start-up.
pub fn token_budget_key(project: Uuid, uid: &str, day: &str) -> String {
    UserKeys::new(project, uid).tokens_on(day)
}

/// The UTC day of a time in milliseconds since the epoch, as budget keys spell it: the
/// usage records' day bucket, which the ledger rebuilds the day's counters from.
pub fn utc_day(now_ms: u64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(i64::try_from(now_ms).unwrap_or(0))
        .unwrap_or_default();
    behest_core::usage::Granularity::Day.bucket(at)
}

/// The key of an end user's spending for one UTC day.
pub fn user_daily_usd_key(project: Uuid, uid: &str, day: &str) -> String {
    UserKeys::new(project, uid).usd_on(day)
}

/// The key of one session's spending (sessions are an end user's).
pub fn session_usd_key(project: Uuid, uid: &str, session: &str) -> String {
    UserKeys::new(project, uid).session_usd(session)
}

/// The key of a project's spending for one UTC month (`YYYY-MM`).
pub fn project_monthly_usd_key(project: Uuid, month: &str) -> String {
    let mut tag = String::with_capacity(38);
    push_project_tag(&mut tag, project);
    counter_key("usd-project", &tag, Some(month))
}

/// **admit**: the rate limit (`rpm_limit` per end user), the daily token budget
/// (`tokens_per_day` per end user, UTC days) and the spending budgets (USD per end user
/// per day, per session, per project per month) in one call to the counters, each
/// budget reserving what the call may use, shrunk to its room when the call names no
/// `max_tokens`.
pub async fn admit(
    gateway: &GatewayState,
    principal: &Principal,
    policy: &EffectivePolicy,
    estimate: Estimate<'_>,
) -> Result<Admitted, (ApiError, Option<RateState>)> {
    let project = principal.project.id;
    let uid = principal.uid.as_str();
    let user = UserKeys::new(project, uid);
    let now = behest_live::counters::now_ms();
    let day = utc_day(now);
    let prompt = estimate.prompt;
    let (most, least) = match estimate.output {
        Output::Fixed(n) => (u64::from(n), u64::from(n)),
        Output::UpTo(n) => (u64::from(n), u64::from(MIN_OUTPUT_TOKENS.min(n))),
        Output::None => (0, 0),
    };
    let mut budgets = vec![(
        Budget::TokensPerDay,
        BudgetCharge {
            key: user.tokens_on(&day),
            limit: policy.tokens_per_day,
            reserve: (prompt + most).max(1),
            min_reserve: (prompt + least).max(1),
        },
        BUDGET_TTL_SECS,
    )];
    let prices = estimate.prices.filter(|(i, o)| *i > 0.0 || *o > 0.0);
    if let Some(prices) = prices {
        let usd = |limit: f64| (limit * 1e6).floor() as u64;
        let charge = |key: String, limit: f64| BudgetCharge {
            key,
            limit: usd(limit),
            reserve: micro_usd(prices, prompt, most).max(1),
            min_reserve: micro_usd(prices, prompt, least).max(1),
        };
        let limits = &policy.budgets;
        if let Some(limit) = limits.user_daily_usd {
            budgets.push((
                Budget::UserDailyUsd,
                charge(user.usd_on(&day), limit),
                BUDGET_TTL_SECS,
            ));
        }
        if let (Some(limit), Some(session)) = (limits.session_usd, estimate.session) {
            budgets.push((
                Budget::SessionUsd,
                charge(user.session_usd(session), limit),
                SESSION_TTL_SECS,
            ));
        }
        if let Some(limit) = limits.project_monthly_usd {
            budgets.push((
                Budget::ProjectMonthlyUsd,
                charge(project_monthly_usd_key(project, &day[..7]), limit),
                MONTH_TTL_SECS,
            ));
        }
    }
    let budget_ttl_secs = budgets.iter().map(|b| b.2).max().unwrap_or(BUDGET_TTL_SECS);
    let (budgets, charges): (Vec<Budget>, Vec<BudgetCharge>) = budgets
        .into_iter()
        .map(|(budget, charge, _)| (budget, charge))
        .unzip();
    let admission = Admission {
        rate: Some(RateLimit {
            key: user.rate(),
            limit: policy.rpm_limit,
            window_ms: 60_000,
        }),
        budget_ttl_secs,
        budgets: charges,
        fail_open: policy.budgets_fail_open,
        now_ms: now,
    };
    let verdict = gateway
        .counters()
        .admit(&admission)
        .await
        .unwrap_or_else(|err| {
            tracing::warn!(error = %err, "counters failed");
            Verdict::Unavailable
        });
    match verdict {
        Verdict::Admitted { rate, reservation } => {
            let output_cap = match estimate.output {
                Output::UpTo(n) if !reservation.charges.is_empty() => {
                    // The most output every budget's grant allows.
                    let allowed = budgets
                        .iter()
                        .enumerate()
                        .map(|(i, budget)| {
                            let granted = reservation.granted(i);
                            match (budget.unit(), prices) {
                                (ChargeUnit::Tokens, _) => granted.saturating_sub(prompt),
                                (ChargeUnit::MicroUsd, Some((input, output))) if output > 0.0 => {
                                    let left = granted as f64 - prompt as f64 * input;
                                    (left / output).floor().max(0.0) as u64
                                }
                                (ChargeUnit::MicroUsd, _) => u64::MAX,
                            }
                        })
                        .min()
                        .unwrap_or(u64::MAX);
                    (allowed < u64::from(n)).then(|| u32::try_from(allowed).unwrap_or(n).max(1))
                }
                _ => None,
            };
            Ok(Admitted {
                rate,
                units: if reservation.charges.is_empty() {
                    Vec::new()
                } else {
                    budgets.iter().map(|b| b.unit()).collect()
                },
                reservation: Some(reservation).filter(|r| !r.charges.is_empty()),
                output_cap,
            })
        }
        Verdict::RateLimited {
            rate,
            retry_after_ms,
        } => {
            let mut error = ApiError::new(
                ErrorCode::RateLimited,
                format!(
                    "rate limit of {} requests per minute reached; retry in {} s",
                    rate.limit,
                    retry_after_ms.div_ceil(1000).max(1)
                ),
            );
            error.retry_after = Some(retry_after_ms.div_ceil(1000).max(1));
            Err((error, Some(rate)))
        }
        Verdict::OverBudget {
            rate,
            remaining,
            budget,
        } => {
            let which = budgets.get(budget).copied().unwrap_or(Budget::TokensPerDay);
            let message = match which {
                Budget::TokensPerDay => format!(
                    "the daily token budget (tokens_per_day: {}) cannot cover this request ({remaining} tokens left today); it renews at 00:00 UTC",
                    policy.tokens_per_day
                ),
                other => format!(
                    "the {} budget cannot cover this request (${:.6} left)",
                    other.param(),
                    remaining as f64 / 1e6
                ),
            };
            Err((
                ApiError::new(ErrorCode::QuotaExceeded, message).with_param(which.param()),
                rate,
            ))
        }
        Verdict::Unavailable => Err((
            ApiError::new(
                ErrorCode::BudgetUnavailable,
                "the budgets cannot be checked right now; retry shortly",
            ),
            None,
        )),
    }
}

/// **compose**: the policy's system prompt goes first, before the request's own, then
/// the thread's history (memory), then the request's messages.
pub fn compose(policy: &EffectivePolicy, history: Vec<Message>, request: &mut ChatRequest) {
    let mut front = Vec::with_capacity(history.len() + 1);
    if let Some(prompt) = &policy.system_prompt {
        front.push(Message {
            role: "system".to_owned(),
            content: Some(MessageContent::Text(prompt.clone())),
            ..Message::default()
        });
    }
    if history.is_empty() && front.is_empty() {
        return;
    }
    // After the request's own leading system messages: history comes before the turn.
    let leading = request
        .messages
        .iter()
        .take_while(|m| m.role == "system" || m.role == "developer")
        .count();
    let rest = request.messages.split_off(leading);
    let own_system = std::mem::take(&mut request.messages);
    request.messages = front;
    request.messages.extend(own_system);
    request.messages.extend(history);
    request.messages.extend(rest);
}

fn validate(request: &ChatRequest) -> Result<(), ApiError> {
    if request.messages.is_empty() {
        return Err(ApiError::validation(
            "messages",
            "messages must not be empty",
        ));
    }
    if request.n == Some(0) {
        return Err(ApiError::validation("n", "n must be at least 1"));
    }
    if request.stream_options.is_some() && !request.is_stream() {
        return Err(ApiError::validation(
            "stream_options",
            "stream_options is only allowed with stream: true",
        ));
    }
    Ok(())
}

/// Runs a chat completion through every stage.
pub async fn complete(gateway: &GatewayState, call: Call, mut request: ChatRequest) -> Answer {
    let Call {
        principal,
        policy,
        context,
        mut outcome,
    } = call;
    let mut since = Instant::now();
    let prepared = (|| {
        gate(gateway, &principal)?;
        validate(&request)?;
        gateway.route(&policy.model, principal.project.tenant_id)
    })();
    outcome.stage(Stage::Gate, since);
    let (route, credentials) = match prepared {
        Ok(prepared) => prepared,
        Err(err) => return refused(outcome, err),
    };
    outcome.set_route(&route.model, route.provider);
    if let Some(info) = gateway.models().info(&route) {
        outcome.set_prices(info.input_price_per_mtok, info.output_price_per_mtok);
    }
    let thread = thread_of(&principal, &policy, &context);
    let history = match &thread {
        Some(thread) => {
            since = Instant::now();
            let history = recall(gateway, thread, &policy).await;
            outcome.stage(Stage::Memory, since);
            history
        }
        None => Vec::new(),
    };

    // admit: the prompt as it will be sent (the system prompt and memory included).
    since = Instant::now();
    let family = Family::of(route.provider, &route.upstream_model);
    let counter = gateway.tokens();
    let prompt = counter.prompt(family, &request)
        + policy
            .system_prompt
            .as_deref()
            .map_or(0, |p| counter.count(family, p) + 3)
        + history
            .iter()
            .map(|m| counter.count(family, &tokens::content_text(m.content.as_ref())) + 3)
            .sum::<u64>();
    outcome.set_prompt_estimate(prompt);
    let output = match request.max_output_tokens() {
        Some(n) => Output::Fixed(n),
        None => Output::UpTo(
            gateway
                .models()
                .info(&route)
                .map_or(gateway.default_output_cap(), |m| m.max_output_tokens),
        ),
    };
    let prices = gateway
        .models()
        .info(&route)
        .map(|m| (m.input_price_per_mtok, m.output_price_per_mtok));
    let estimate = Estimate {
        prompt,
        output,
        prices,
        session: context.session_id.as_deref(),
    };
    let admitted = admit(gateway, &principal, &policy, estimate).await;
    outcome.stage(Stage::Admit, since);
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err((err, rate)) => return refused_with(outcome, err, rate),
    };
    if let Some(reservation) = admitted.reservation {
        outcome.set_reservation(reservation, admitted.units);
    }
    if let Some(cap) = admitted.output_cap {
        cap_output(&mut request, route.provider, cap);
    }

    since = Instant::now();
    let mut findings = GuardFindings::default();
    // Placeholders for what MASK takes out, numbered after any a thread's history holds
    // (those values are not known any more, and must not be mistaken for new ones).
    let mut placeholders = policy.restores_pii().then(|| {
        let highest = history
            .iter()
            .map(|m| Placeholders::highest_in(&tokens::content_text(m.content.as_ref())))
            .max()
            .unwrap_or(0);
        Placeholders::numbered_after(highest)
    });
    let guarded = guard_messages(
        &policy,
        &mut request.messages,
        &mut findings,
        placeholders.as_mut(),
    );
    outcome.stage(Stage::Guard, since);
    // Only the playground shows the findings; live traffic does not pay for the copy.
    let seen =
        (context.origin == Origin::Playground && !findings.is_empty()).then(|| findings.clone());
    outcome.set_guard(findings);
    if let Err(err) = guarded {
        let mut answer = refused_with(outcome, err, admitted.rate);
        answer.guard = seen;
        return answer;
    }

    // The turn to remember is what leaves the guard.
    if let Some(thread) = thread {
        outcome.remember(MemoryAppend {
            memory: gateway.memory().clone(),
            thread,
            turn: new_turn(&request, policy.memory.store_tool_calls),
            store_tool_calls: policy.memory.store_tool_calls,
        });
    }
    since = Instant::now();
    compose(&policy, history, &mut request);
    request.model = Some(route.model.clone());
    outcome.stage(Stage::Compose, since);
    let kill = KillWatch::new(gateway, &principal);
    let guard = AnswerGuard::new(policy.clone(), placeholders.unwrap_or_default());
    let mut answer = dispatch(
        gateway,
        outcome,
        &request,
        &route,
        credentials.as_ref(),
        kill,
        guard,
    )
    .await;
    answer.rate = admitted.rate;
    answer.guard = seen;
    answer
}

/// The thread a request continues: with memory on and an `X-Thread-Id`, that thread of
/// this end user (another user's thread of the same id is another thread).
fn thread_of(
    principal: &Principal,
    policy: &EffectivePolicy,
    context: &RequestContext,
) -> Option<ThreadKey> {
    let id = context.thread_id.as_ref()?;
    (policy.memory.enabled && policy.memory.window > 0).then(|| ThreadKey {
        project_id: principal.project.id,
        uid: principal.uid.clone(),
        thread_id: id.clone(),
    })
}

/// The thread's last `memory_window` messages, as request messages. A memory backend
/// that fails degrades the request to no memory (logged), rather than failing it.
async fn recall(
    gateway: &GatewayState,
    thread: &ThreadKey,
    policy: &EffectivePolicy,
) -> Vec<Message> {
    match gateway.memory().recent(thread, policy.memory.window).await {
        Ok(stored) => stored
            .into_iter()
            .map(|m| Message {
                role: m.role,
                content: Some(MessageContent::Text(m.content)),
                tool_calls: m.tool_calls.and_then(|t| serde_json::from_str(&t).ok()),
                tool_call_id: m.tool_call_id,
                ..Message::default()
            })
            .collect(),
        Err(err) => {
            tracing::warn!(error = %err, "memory unavailable: answering without the thread's history");
            Vec::new()
        }
    }
}

/// The request's new turn: its messages after the last assistant message — the user's,
/// and tool results only when tool calls are stored.
fn new_turn(request: &ChatRequest, store_tool_calls: bool) -> Vec<NewMessage> {
    let start = request
        .messages
        .iter()
        .rposition(|m| m.role == "assistant")
        .map_or(0, |i| i + 1);
    request.messages[start..]
        .iter()
        .filter(|m| m.role == "user" || (store_tool_calls && m.role == "tool"))
        .map(|m| NewMessage {
            role: m.role.clone(),
            content: tokens::content_text(m.content.as_ref()),
            tool_calls: None,
            tool_call_id: m.tool_call_id.clone(),
        })
        .collect()
}

/// Sends the budget's cap as the request's output limit, in the field the provider
/// takes (OpenAI's current models refuse `max_tokens`).
fn cap_output(request: &mut ChatRequest, provider: Provider, cap: u32) {
    if provider == Provider::OpenAi {
        request.max_completion_tokens = Some(cap);
        request.max_tokens = None;
    } else {
        request.max_tokens = Some(cap);
        request.max_completion_tokens = None;
    }
}

/// **dispatch**: the echo model in process, or the provider over HTTP.
async fn dispatch(
    gateway: &GatewayState,
    mut outcome: OutcomeRecorder,
    request: &ChatRequest,
    route: &ModelRoute,
    credentials: Option<&Credentials>,
    kill: KillWatch,
    guard: Option<AnswerGuard>,
) -> Answer {
    let Some(credentials) = credentials else {
        return dispatch_echo(outcome, request, route, guard);
    };
    let provider = route.provider;
    let Some(wire) = provider.wire_format() else {
        return refused(outcome, ApiError::internal("provider without wire format"));
    };
    let encoded = match wire.encode_request(request, &route.upstream_model) {
        Ok(encoded) => encoded,
        Err(err) => return refused(outcome, upstream_error(provider, &err, None)),
    };
    outcome.upstream_started();
    let upstream = match gateway.upstreams().send(credentials, &encoded).await {
        Ok(upstream) => upstream,
        Err(err) => return refused(outcome, err),
    };
    if request.is_stream() {
        outcome.upstream_finished();
        let server_timing = outcome.server_timing();
        let config = gateway.upstreams().config();
        let decoder = wire.stream_decoder(&route.model, request.wants_stream_usage());
        let relay = Relay {
            provider,
            idle_timeout: config.idle_timeout,
            shutdown: gateway.shutdown_token(),
            drain: gateway.drain(),
            kill,
        };
        return Answer {
            body: AnswerBody::Stream(Box::pin(sse::relay(
                upstream.response,
                decoder,
                relay,
                outcome,
                guard,
            ))),
            server_timing,
            rate: None,
            guard: None,
        };
    }
    let status = upstream.response.status().as_u16();
    let body = match gateway.upstreams().read_body(provider, upstream).await {
        Ok(body) => body,
        Err(err) => return refused(outcome, err),
    };
    outcome.upstream_finished();
    if wire == WireFormat::OpenAiCompatible && guard.is_none() {
        // Already in the client's format: relay the bytes, once they prove to be a
        // completion (checked, and its usage read, without building a JSON tree).
        if let Ok(parsed) = serde_json::from_slice::<UsageOnly>(&body) {
            if let Some(usage) = &parsed.usage {
                outcome.set_usage(usage);
            }
            if outcome.wants_answer() {
                if let Ok(completion) = serde_json::from_slice::<ChatResponse>(&body) {
                    note_answer(&mut outcome, &completion);
                }
            }
            return answered(outcome, body);
        }
    }
    let mut completion = match wire.decode_response(status, &body) {
        Ok(completion) => completion,
        Err(err) => return refused(outcome, upstream_error(provider, &err, None)),
    };
    if completion.model.is_empty() {
        completion.model = route.model.clone();
    }
    if let Some(usage) = &completion.usage {
        outcome.set_usage(usage);
    }
    // Already in the client's format: sent as it came unless the guard changes it.
    let as_sent = (wire == WireFormat::OpenAiCompatible).then_some(body);
    whole_answer(outcome, completion, guard, as_sent)
}

/// A whole answer through the answer's guard, noted in the outcome (before its values
/// are restored: memory keeps placeholders), and sent: as the provider's bytes
/// `as_sent` when those are in the client's format and nothing was changed.
fn whole_answer(
    mut outcome: OutcomeRecorder,
    mut completion: ChatResponse,
    mut guard: Option<AnswerGuard>,
    as_sent: Option<Bytes>,
) -> Answer {
    let mut changed = true;
    if let Some(guard) = guard.as_mut() {
        let guarded = guard.guard_response(&mut completion);
        outcome.set_answer_guard(guard.findings());
        changed = guard.restores() || guarded.as_ref().is_ok_and(|c| *c);
        if let Err(error) = guarded {
            let server_timing = outcome.server_timing();
            outcome.fail(error.code.status(), error.code, Ending::AnswerBlocked);
            return Answer {
                body: AnswerBody::Error(error),
                server_timing,
                rate: None,
                guard: None,
            };
        }
    }
    note_answer(&mut outcome, &completion);
    if let Some(guard) = guard.as_mut() {
        guard.restore_response(&mut completion);
    }
    if let Some(body) = as_sent.filter(|_| !changed) {
        return answered(outcome, body);
    }
    match serde_json::to_vec(&completion) {
        Ok(bytes) => answered(outcome, Bytes::from(bytes)),
        Err(err) => refused(outcome, ApiError::internal(err)),
    }
}

fn dispatch_echo(
    outcome: OutcomeRecorder,
    request: &ChatRequest,
    route: &ModelRoute,
    guard: Option<AnswerGuard>,
) -> Answer {
    let provider_error = |err| upstream_error(Provider::Echo, &err, None);
    if request.is_stream() {
        match echo::stream(request, &route.model) {
            Ok(chunks) => {
                let server_timing = outcome.server_timing();
                Answer {
                    body: AnswerBody::Stream(Box::pin(sse::from_chunks(chunks, outcome, guard))),
                    server_timing,
                    rate: None,
                    guard: None,
                }
            }
            Err(err) => refused(outcome, provider_error(err)),
        }
    } else {
        match echo::respond(request, &route.model) {
            Ok(response) => {
                let mut outcome = outcome;
                if let Some(usage) = &response.usage {
                    outcome.set_usage(usage);
                }
                whole_answer(outcome, response, guard, None)
            }
            Err(err) => refused(outcome, provider_error(err)),
        }
    }
}

/// What a whole answer said (its first choice), for the outcome and memory.
fn note_answer(outcome: &mut OutcomeRecorder, completion: &ChatResponse) {
    let Some(choice) = completion.choices.first() else {
        return;
    };
    if let Some(text) = &choice.message.content {
        outcome.streamed(text);
    }
    for (index, call) in choice.message.tool_calls.iter().flatten().enumerate() {
        outcome.streamed_tool_call(
            u32::try_from(index).unwrap_or(u32::MAX),
            Some(&call.id),
            Some(&call.function.name),
            &call.function.arguments,
        );
    }
}

/// A whole JSON answer, recorded as complete.
fn answered(mut outcome: OutcomeRecorder, body: Bytes) -> Answer {
    outcome.first_byte();
    let server_timing = outcome.server_timing();
    outcome.complete(StatusCode::OK.as_u16());
    Answer {
        body: AnswerBody::Json(body),
        server_timing,
        rate: None,
        guard: None,
    }
}

/// The part of a completion the gateway reads (usage, for accounting); everything
/// else is skipped without allocating.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct UsageOnly {
    /// Required: an error object in a 200 is not relayed as a completion.
    choices: serde::de::IgnoredAny,
    usage: Option<behest_providers::Usage>,
}

/// Dimensions of the echo provider's vectors.
const ECHO_DIMENSIONS: usize = 8;

/// `POST /v1/embeddings`, through the same gate, route and outcome as chat. The request
/// names its embedding model (`text-embedding-3-small`, or `provider:model`); without a
/// provider prefix it goes to the provider of the policy's chat model.
pub async fn embed(gateway: &GatewayState, call: Call, request: Map<String, Value>) -> Answer {
    let Call {
        principal,
        policy,
        context,
        mut outcome,
    } = call;
    let since = Instant::now();
    let prepared = (|| {
        gate(gateway, &principal)?;
        let inputs = embedding_inputs(&request)?;
        let requested = request
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ApiError::validation("model", "model is required for embeddings"))?;
        let explicit = requested
            .split_once(':')
            .and_then(|(p, m)| Some((p.parse::<Provider>().ok()?, m.to_owned())));
        let (provider, model) = match explicit {
            Some(pair) => pair,
            None => (
                gateway
                    .route(&policy.model, principal.project.tenant_id)?
                    .0
                    .provider,
                requested.clone(),
            ),
        };
        if provider != Provider::Echo
            && provider.wire_format() != Some(WireFormat::OpenAiCompatible)
        {
            return Err(ApiError::validation(
                "model",
                format!("embeddings are not available for provider {provider}"),
            ));
        }
        let credentials = match provider {
            Provider::Echo => None,
            _ => Some(gateway.credentials(principal.project.tenant_id, provider)?),
        };
        Ok::<_, ApiError>((inputs, requested, provider, model, credentials))
    })();
    outcome.stage(Stage::Gate, since);
    let (inputs, requested, provider, model, credentials) = match prepared {
        Ok(prepared) => prepared,
        Err(err) => return refused(outcome, err),
    };
    outcome.set_route(&requested, provider);
    let since = Instant::now();
    let family = Family::of(provider, &requested);
    let prompt: u64 = inputs
        .iter()
        .map(|t| gateway.tokens().count(family, t))
        .sum();
    outcome.set_prompt_estimate(prompt);
    let estimate = Estimate {
        prompt,
        output: Output::None,
        prices: None,
        session: context.session_id.as_deref(),
    };
    let admitted = admit(gateway, &principal, &policy, estimate).await;
    outcome.stage(Stage::Admit, since);
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err((err, rate)) => return refused_with(outcome, err, rate),
    };
    if let Some(reservation) = admitted.reservation {
        outcome.set_reservation(reservation, admitted.units);
    }
    let since = Instant::now();
    let mut inputs = inputs;
    let mut findings = GuardFindings::default();
    let guarded = guard_texts(&policy, &mut inputs, &mut findings);
    outcome.stage(Stage::Guard, since);
    let rewritten = findings.action == Some("rewritten");
    outcome.set_guard(findings);
    if let Err(err) = guarded {
        return refused_with(outcome, err, admitted.rate);
    }
    let mut request = request;
    if rewritten {
        let value = match request.get("input") {
            Some(Value::String(_)) => Value::String(inputs.first().cloned().unwrap_or_default()),
            _ => Value::Array(inputs.iter().cloned().map(Value::String).collect()),
        };
        request.insert("input".to_owned(), value);
    }
    let mut answer = embed_dispatch(
        gateway,
        outcome,
        request,
        &inputs,
        &requested,
        provider,
        model,
        credentials,
    )
    .await;
    answer.rate = admitted.rate;
    answer
}

#[allow(clippy::too_many_arguments)]
async fn embed_dispatch(
    gateway: &GatewayState,
    mut outcome: OutcomeRecorder,
    mut request: Map<String, Value>,
    inputs: &[String],
    requested: &str,
    provider: Provider,
    model: String,
    credentials: Option<Credentials>,
) -> Answer {
    let Some(credentials) = credentials else {
        let body = echo_embeddings(inputs, requested);
        if let Some(usage) = body
            .get("usage")
            .and_then(|u| serde_json::from_value(u.clone()).ok())
        {
            outcome.set_usage(&usage);
        }
        return match serde_json::to_vec(&body) {
            Ok(bytes) => answered(outcome, Bytes::from(bytes)),
            Err(err) => refused(outcome, ApiError::internal(err)),
        };
    };
    request.insert("model".to_owned(), Value::String(model));
    let encoded = EncodedRequest {
        path: "/embeddings".to_owned(),
        body: Value::Object(request),
        stream: false,
    };
    outcome.upstream_started();
    let upstream = match gateway.upstreams().send(&credentials, &encoded).await {
        Ok(upstream) => upstream,
        Err(err) => return refused(outcome, err),
    };
    let bytes = match gateway.upstreams().read_body(provider, upstream).await {
        Ok(bytes) => bytes,
        Err(err) => return refused(outcome, err),
    };
    outcome.upstream_finished();
    match serde_json::from_slice::<EmbeddingUsage>(&bytes) {
        Ok(parsed) => {
            if let Some(usage) = &parsed.usage {
                outcome.set_usage(usage);
            }
            answered(outcome, bytes)
        }
        Err(_) => refused(
            outcome,
            ApiError::new(
                ErrorCode::UpstreamError,
                format!("{provider}: the embeddings answer is not JSON"),
            ),
        ),
    }
}

#[derive(serde::Deserialize)]
struct EmbeddingUsage {
    usage: Option<behest_providers::Usage>,
}

fn embedding_inputs(request: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let invalid = || {
        ApiError::validation(
            "input",
            "input must be a non-empty string or array of strings",
        )
    };
    match request.get("input") {
        Some(Value::String(text)) if !text.is_empty() => Ok(vec![text.clone()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|item| {
                item.as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(invalid)
            })
            .collect(),
        _ => Err(invalid()),
    }
}

/// A deterministic unit-length vector per input (FNV-1a bytes spread over dimensions).
fn echo_embeddings(inputs: &[String], model: &str) -> Value {
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let mut acc = [0f64; ECHO_DIMENSIONS];
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
            for (i, byte) in text.bytes().enumerate() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
                acc[i % ECHO_DIMENSIONS] += (hash % 1000) as f64 / 1000.0 - 0.5;
            }
            let norm = acc.iter().map(|v| v * v).sum::<f64>().sqrt().max(f64::EPSILON);
            json!({"object": "embedding", "index": index, "embedding": acc.iter().map(|v| v / norm).collect::<Vec<_>>()})
        })
        .collect();
    let tokens: u64 = inputs.iter().map(|t| tokens::count(t)).sum();
    json!({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
}

/// `GET /v1/models`: the model this call's policy uses, in OpenAI's list shape.
pub fn models(gateway: &GatewayState, call: Call) -> Answer {
    let Call {
        principal,
        policy,
        mut outcome,
        ..
    } = call;
    let route = match gate(gateway, &principal)
        .and_then(|()| gateway.route(&policy.model, principal.project.tenant_id))
    {
        Ok((route, _)) => route,
        Err(err) => return refused(outcome, err),
    };
    outcome.set_route(&route.model, route.provider);
    let body = json!({
        "object": "list",
        "data": [{
            "id": route.model,
            "object": "model",
            "created": 0,
            "owned_by": route.provider.as_str(),
        }],
    });
    match serde_json::to_vec(&body) {
        Ok(bytes) => answered(outcome, Bytes::from(bytes)),
        Err(err) => refused(outcome, ApiError::internal(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_keys_keep_their_spelling() {
        // Redis holds these keys and the ledger rebuilds them: their spelling is a
        // format on disk, written here as the `format!` it was first defined with.
        let project = Uuid::new_v4();
        for uid in ["u", "end-user-42", "日本語のユーザー", &"x".repeat(255), ""] {
            let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
            for byte in uid.bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
            let tag = format!("{{{project}}}:{hash:016x}:{}", uid.len());
            let keys = UserKeys::new(project, uid);
            let day = "2026-12-07";
            for (key, spelled) in [
                (keys.rate(), format!("rl:{tag}")),
                (keys.tokens_on(day), format!("tok:{tag}:{day}")),
                (
                    token_budget_key(project, uid, day),
                    format!("tok:{tag}:{day}"),
                ),
                (
                    user_daily_usd_key(project, uid, day),
                    format!("usd:{tag}:{day}"),
                ),
                (
                    session_usd_key(project, uid, "s-1"),
                    format!("usd-session:{tag}:s-1"),
                ),
                (
                    session_usd_key(project, uid, ""),
                    format!("usd-session:{tag}:"),
                ),
            ] {
                assert_eq!(key, spelled);
            }
        }
        assert_eq!(
            project_monthly_usd_key(project, "2026-12"),
            format!("usd-project:{{{project}}}:2026-12")
        );
    }

    #[test]
    fn utc_day_is_the_calendar_day_in_utc() {
        for ms in [
            0,
            86_399_999,
            86_400_000,
            1_733_011_199_999,
            1_733_011_200_000,
            4_102_444_800_000,
        ] {
            let at = chrono::DateTime::from_timestamp_millis(ms as i64).unwrap_or_default();
            assert_eq!(utc_day(ms), at.format("%Y-%m-%d").to_string(), "{ms}");
        }
        assert_eq!(utc_day(1_733_011_200_000), "2024-12-01");
    }
}
