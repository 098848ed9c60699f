//! `POST /v1/chat/completions`. The stages, in order (each a plain step below):
//!
//! 1. **route** — the project from the Host slug or `/p/{slug}` (edge + [`crate::Caller`]),
//!    else the token's `pid`; CORS was checked before this handler ([`crate::cors`]).
//! 2. **authenticate** — bearer JWT → [`crate::verify::Principal`] ([`crate::Caller`]).
//! 3. **snapshot** — the project's live settings, tier-resolved, from memory.
//! 4. **gate** — a suspended project serves nothing.
//! 5. **admit** / 6. **guard** — rate limits, budgets, sentinel and PII: later issues.
//! 7. **compose** — the project's (or tier's) system prompt first.
//! 8. **dispatch** — the provider adapter, the upstream call, streaming translation.
//! 9. **account** — usage per user and session: a later issue; the request context
//!    (`X-Session-Id`, `X-Thread-Id`, `X-End-User-Id`) is kept for it.

use crate::sse::{self, Relay};
use crate::upstream::{upstream_error, ModelRoute};
use crate::verify::Principal;
use crate::{Caller, GatewayState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use behest_http::{parse_json, ApiError, ApiResult};
use behest_providers::{echo, ChatRequest, Message, MessageContent, Provider, WireFormat};

/// What the request says about its conversation, kept for usage and memory.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub session_id: Option<String>,
    pub thread_id: Option<String>,
    pub end_user_id: Option<String>,
}

impl RequestContext {
    fn from(headers: &HeaderMap, principal: &Principal) -> RequestContext {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty() && v.len() <= 255)
                .map(str::to_owned)
        };
        RequestContext {
            session_id: header("x-session-id").or_else(|| principal.session_id.clone()),
            thread_id: header("x-thread-id"),
            end_user_id: header("x-end-user-id"),
        }
    }
}

pub async fn chat_completions(
    State(gateway): State<GatewayState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let context = RequestContext::from(&headers, &principal);
    tracing::debug!(project = %principal.project.id, uid = %principal.uid, session = ?context.session_id, thread = ?context.thread_id, "chat completion");

    // gate
    if principal.project.suspended {
        return Err(ApiError::forbidden("project is suspended"));
    }
    let mut request: ChatRequest = parse_json(&body)?;
    validate(&request)?;

    // snapshot: the model and system prompt for this token's tier
    let effective = gateway.effective_settings(&principal);
    let route = gateway.route_model(&effective.model)?;

    // compose
    if let Some(prompt) = effective.system_prompt.filter(|p| !p.is_empty()) {
        request.messages.insert(
            0,
            Message {
                role: "system".to_owned(),
                content: Some(MessageContent::Text(prompt)),
                ..Message::default()
            },
        );
    }
    request.model = Some(route.model.clone());

    // dispatch
    if route.provider == Provider::Echo {
        return dispatch_echo(&request, &route);
    }
    dispatch_upstream(&gateway, &request, &route).await
}

fn validate(request: &ChatRequest) -> ApiResult<()> {
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

fn dispatch_echo(request: &ChatRequest, route: &ModelRoute) -> ApiResult<Response> {
    let provider_error = |err| upstream_error(Provider::Echo, &err, None);
    if request.is_stream() {
        let chunks = echo::stream(request, &route.model).map_err(provider_error)?;
        Ok(sse::sse_response(sse::from_chunks(chunks)))
    } else {
        Ok(Json(echo::respond(request, &route.model).map_err(provider_error)?).into_response())
    }
}

async fn dispatch_upstream(
    gateway: &GatewayState,
    request: &ChatRequest,
    route: &ModelRoute,
) -> ApiResult<Response> {
    let provider = route.provider;
    let wire = provider
        .wire_format()
        .ok_or_else(|| ApiError::internal("provider without wire format"))?;
    let encoded = wire
        .encode_request(request, &route.upstream_model)
        .map_err(|err| upstream_error(provider, &err, None))?;
    let upstream = gateway.upstreams().send(provider, &encoded).await?;
    let config = gateway.upstreams().config();
    if request.is_stream() {
        let decoder = wire.stream_decoder(&route.model, request.wants_stream_usage());
        let relay = Relay {
            provider,
            idle_timeout: config.idle_timeout,
            shutdown: gateway.shutdown_token(),
            drain: gateway.drain(),
        };
        return Ok(sse::sse_response(sse::relay(
            upstream.response,
            decoder,
            relay,
        )));
    }
    let status = upstream.response.status().as_u16();
    let body = tokio::time::timeout(config.idle_timeout, upstream.response.bytes())
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                format!("{provider} stopped sending its answer"),
            )
        })?
        .map_err(|err| {
            tracing::warn!(%provider, error = %err, "reading the upstream answer failed");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                format!("{provider} answer broke off"),
            )
        })?;
    if wire == WireFormat::OpenAiCompatible {
        // Already in the client's format: relay the bytes, once they prove to be a
        // completion (checked, and its usage read, without building a JSON tree).
        if serde_json::from_slice::<UsageOnly>(&body).is_ok() {
            let mut response = Response::new(axum::body::Body::from(body));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            return Ok(response);
        }
    }
    let mut completion = wire
        .decode_response(status, &body)
        .map_err(|err| upstream_error(provider, &err, None))?;
    if completion.model.is_empty() {
        completion.model = route.model.clone();
    }
    Ok(Json(completion).into_response())
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
