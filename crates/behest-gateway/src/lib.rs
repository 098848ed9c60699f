//! The data plane: OpenAI-compatible `/v1/chat/completions`, `/v1/models` and
//! `/v1/embeddings` on a project's host, for browsers holding a minted or tenant-signed
//! JWT. The hot path reads only memory — the [`directory::Directory`] snapshot (built
//! from the live image, with each project's policy resolved per tier) and the platform
//! keyring — never the store; this crate does not depend on it.
//!
//! A request, in order: the edge (`behest_http::edge`: trace id, project hint) →
//! [`cors`] → route + authenticate ([`Caller`]) → the handler ([`chat`],
//! [`embeddings`], [`models`]: parse and render only) → [`pipeline`] (gate, admit,
//! guard, compose, dispatch) → [`upstream`] or the echo provider → JSON, or the SSE
//! relay ([`sse`]) → exactly one [`outcome`] to the sink the binary wires.

pub mod answer;
pub mod chat;
pub mod cors;
pub mod directory;
pub mod embeddings;
pub mod guard;
pub mod memory;
pub mod models;
pub mod outcome;
pub mod pipeline;
pub mod sse;
pub mod threads;
pub mod upstream;
pub mod usage;
pub mod verify;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use behest_auth::keyring::Keyring;
use behest_http::edge::{RequestStarted, TraceId};
use behest_http::{bearer_token, ApiError, ApiResult, ProjectHint};
use behest_live::Counters;
use behest_providers::tokens::TokenCounter;
use behest_providers::ModelRegistry;
use directory::{Directory, ProjectSnapshot};
use memory::{Memory, UsageReader};
use outcome::{Origin, OutcomeSink};
use pipeline::RequestContext;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use upstream::{UpstreamConfig, Upstreams};
use verify::{Principal, Verifier};

/// What the data plane is configured with.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub upstream: UpstreamConfig,
    /// `iss` values accepted on tokens.
    pub accepted_issuers: Vec<String>,
    /// How long open streams may run on after shutdown begins.
    pub drain: Duration,
    /// The known models: the built-in catalog and the operator's additions.
    pub models: Arc<ModelRegistry>,
    /// The output cap a budget reserves (and sends) for a model the catalog does not
    /// know, when the request names none.
    pub default_output_cap: u32,
}

#[derive(Clone)]
pub struct GatewayState(Arc<Inner>);

struct Inner {
    directory: Arc<Directory>,
    verifier: Verifier,
    upstreams: Upstreams,
    models: Arc<ModelRegistry>,
    counters: Arc<dyn Counters>,
    memory: Arc<dyn Memory>,
    usage: Arc<dyn UsageReader>,
    tokens: TokenCounter,
    default_output_cap: u32,
    outcomes: Arc<dyn OutcomeSink>,
    shutdown: CancellationToken,
    drain: Duration,
}

impl GatewayState {
    pub fn new(
        config: GatewayConfig,
        directory: Arc<Directory>,
        keyring: Arc<Keyring>,
        backends: Backends,
        shutdown: CancellationToken,
    ) -> Result<GatewayState, reqwest::Error> {
        let Backends {
            counters,
            memory,
            usage,
            outcomes,
        } = backends;
        Ok(GatewayState(Arc::new(Inner {
            memory,
            usage,
            directory,
            verifier: Verifier::new(keyring, &config.accepted_issuers),
            upstreams: Upstreams::new(config.upstream)?,
            models: config.models,
            outcomes: Arc::new(outcome::Accounting {
                counters: counters.clone(),
                next: outcomes,
            }),
            counters,
            tokens: TokenCounter::default(),
            default_output_cap: config.default_output_cap.max(1),
            shutdown,
            drain: config.drain,
        })))
    }

    pub fn directory(&self) -> &Arc<Directory> {
        &self.0.directory
    }

    pub fn counters(&self) -> &dyn Counters {
        self.0.counters.as_ref()
    }

    pub fn memory(&self) -> &Arc<dyn Memory> {
        &self.0.memory
    }

    pub fn usage(&self) -> &dyn UsageReader {
        self.0.usage.as_ref()
    }

    pub fn tokens(&self) -> &TokenCounter {
        &self.0.tokens
    }

    pub fn default_output_cap(&self) -> u32 {
        self.0.default_output_cap
    }

    pub fn upstreams(&self) -> &Upstreams {
        &self.0.upstreams
    }

    pub fn models(&self) -> &ModelRegistry {
        &self.0.models
    }

    pub fn outcomes(&self) -> Arc<dyn OutcomeSink> {
        self.0.outcomes.clone()
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.0.shutdown.clone()
    }

    pub fn drain(&self) -> Duration {
        self.0.drain
    }
}

/// What the gateway reads and writes beyond its own memory, as the binary wires it.
pub struct Backends {
    /// Rate limits and budget reservations.
    pub counters: Arc<dyn Counters>,
    /// Conversation threads.
    pub memory: Arc<dyn Memory>,
    /// Usage sums, for the usage API.
    pub usage: Arc<dyn UsageReader>,
    /// Receives every request's outcome, once its reservation is settled.
    pub outcomes: Arc<dyn OutcomeSink>,
}

impl Backends {
    /// Everything in this process (tests; a gateway without a store).
    pub fn in_process(outcomes: Arc<dyn OutcomeSink>) -> Backends {
        Backends {
            counters: Arc::new(behest_live::InProcessCounters::default()),
            memory: Arc::new(memory::InProcessMemory::default()),
            usage: Arc::new(memory::NoUsage),
            outcomes,
        }
    }
}

/// The authenticated caller of a data-plane route (stages route + authenticate).
pub struct Caller(pub Principal);

impl FromRequestParts<GatewayState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &GatewayState) -> ApiResult<Self> {
        let directory = state.directory().snapshot();
        let routed: Option<Arc<ProjectSnapshot>> =
            match parts.extensions.get::<ProjectHint>().and_then(|h| h.slug()) {
                Some(slug) => Some(
                    directory
                        .project_by_slug(slug)
                        .cloned()
                        .ok_or_else(|| ApiError::not_found(format!("no project {slug:?}")))?,
                ),
                None => None,
            };
        let token = bearer_token(&parts.headers).ok_or_else(|| {
            ApiError::unauthorized("missing bearer token: send Authorization: Bearer <jwt>")
        })?;
        state
            .0
            .verifier
            .verify(token, &directory, routed.as_ref())
            .map(Caller)
    }
}

impl RequestContext {
    /// What the request's headers and the edge say: `X-Session-Id`, `X-Thread-Id`,
    /// `X-End-User-Id` (sane values only), the trace id and the arrival time.
    pub fn from_parts(headers: &HeaderMap, extensions: &axum::http::Extensions) -> Self {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= 255)
                .map(str::to_owned)
        };
        RequestContext {
            session_id: header("x-session-id"),
            thread_id: header("x-thread-id"),
            end_user_id: header("x-end-user-id"),
            trace_id: extensions.get::<TraceId>().map(|t| t.0.clone()),
            started: extensions
                .get::<RequestStarted>()
                .map_or_else(Instant::now, |s| s.0),
            origin: Origin::Live,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(RequestContext::from_parts(
            &parts.headers,
            &parts.extensions,
        ))
    }
}

/// The data-plane routes. Wrap the merged router in [`cors::cors`] (it needs the edge's
/// [`ProjectHint`]).
pub fn routes(state: GatewayState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/models", get(models::list))
        .route("/v1/embeddings", post(embeddings::create))
        .route("/v1/threads", get(threads::list))
        .route(
            "/v1/threads/{thread_id}",
            get(threads::show).delete(threads::delete),
        )
        .route("/v1/threads/{thread_id}/messages", get(threads::messages))
        .route("/v1/usage", get(usage::get))
        .with_state(state)
}
