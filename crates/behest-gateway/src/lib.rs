//! The data plane: OpenAI-compatible `/v1/chat/completions`, `/v1/models` and
//! `/v1/embeddings` on a
//! project's host, for browsers holding a minted or tenant-signed JWT. The hot path
//! reads only memory — the [`directory::Directory`] snapshot and the platform keyring —
//! never the store. The stages of a request are listed in [`chat`].

pub mod chat;
pub mod cors;
pub mod directory;
pub mod embeddings;
pub mod models;
pub mod sse;
pub mod upstream;
pub mod verify;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use behest_auth::keyring::Keyring;
use behest_http::{bearer_token, ApiError, ApiResult, ProjectHint};
use directory::{Directory, ProjectSnapshot};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use upstream::{resolve_model, ModelRoute, UpstreamConfig, Upstreams};
use verify::{Principal, Verifier};

/// What the data plane is configured with.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub upstream: UpstreamConfig,
    /// The model of projects (and tiers) that chose none (`BEHEST_DEFAULT_MODEL`).
    pub default_model: String,
    /// `iss` values accepted on tokens.
    pub accepted_issuers: Vec<String>,
    /// How long open streams may run on after shutdown begins.
    pub drain: Duration,
}

#[derive(Clone)]
pub struct GatewayState(Arc<Inner>);

struct Inner {
    directory: Arc<Directory>,
    verifier: Verifier,
    upstreams: Upstreams,
    default_model: String,
    shutdown: CancellationToken,
    drain: Duration,
}

impl GatewayState {
    pub fn new(
        config: GatewayConfig,
        directory: Arc<Directory>,
        keyring: Arc<Keyring>,
        shutdown: CancellationToken,
    ) -> Result<GatewayState, reqwest::Error> {
        Ok(GatewayState(Arc::new(Inner {
            directory,
            verifier: Verifier::new(keyring, &config.accepted_issuers),
            upstreams: Upstreams::new(config.upstream)?,
            default_model: config.default_model,
            shutdown,
            drain: config.drain,
        })))
    }

    pub fn directory(&self) -> &Directory {
        &self.0.directory
    }

    pub fn upstreams(&self) -> &Upstreams {
        &self.0.upstreams
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.0.shutdown.clone()
    }

    pub fn drain(&self) -> Duration {
        self.0.drain
    }

    /// The settings this principal's requests run with: tier overrides first, then the
    /// project's, then the platform default.
    pub fn effective_settings(&self, principal: &Principal) -> Effective {
        let project = &principal.project;
        let tier = principal.tier.as_ref().and_then(|t| project.tier(t));
        Effective {
            model: tier
                .and_then(|t| t.provider_model.clone())
                .or_else(|| project.settings.provider_model.clone())
                .unwrap_or_else(|| self.0.default_model.clone()),
            system_prompt: tier
                .and_then(|t| t.system_prompt.clone())
                .or_else(|| project.settings.system_prompt.clone()),
        }
    }

    /// Where `model` is served, if this gateway can serve it.
    pub fn route_model(&self, model: &str) -> ApiResult<ModelRoute> {
        let route = resolve_model(model).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                format!("model {model:?} is not known to this gateway"),
            )
        })?;
        if !self.0.upstreams.is_configured(route.provider) {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                format!(
                    "provider {} is not configured on this gateway",
                    route.provider
                ),
            ));
        }
        Ok(route)
    }
}

/// The settings a request runs with.
pub struct Effective {
    pub model: String,
    pub system_prompt: Option<String>,
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

/// The data-plane routes. Wrap the merged router in [`cors::cors`] (it needs the edge's
/// [`ProjectHint`]).
pub fn routes(state: GatewayState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat::chat_completions))
        .route("/v1/models", get(models::list))
        .route("/v1/embeddings", post(embeddings::create))
        .with_state(state)
}
