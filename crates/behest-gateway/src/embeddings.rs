//! `POST /v1/embeddings` for providers with an OpenAI-compatible embeddings API
//! (OpenAI, Mistral, OpenRouter, self-hosted servers). The request names its embedding
//! model (`text-embedding-3-small`, or `provider:model`); without a provider prefix it
//! goes to the provider of the project's chat model. The echo provider answers with a
//! deterministic vector, so the demo works offline.

use crate::upstream::upstream_error;
use crate::{Caller, GatewayState};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use behest_http::{parse_json, ApiError, ApiResult};
use behest_providers::{EncodedRequest, Provider, WireFormat};
use serde_json::{json, Map, Value};

/// Dimensions of the echo provider's vectors.
const ECHO_DIMENSIONS: usize = 8;

pub async fn create(
    State(gateway): State<GatewayState>,
    Caller(principal): Caller,
    body: Bytes,
) -> ApiResult<Response> {
    if principal.project.suspended {
        return Err(ApiError::forbidden("project is suspended"));
    }
    let mut request: Map<String, Value> = parse_json(&body)?;
    let inputs = inputs(&request)?;
    let requested = request
        .get("model")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::validation("model", "model is required for embeddings"))?;
    let (provider, model) = match requested
        .split_once(':')
        .and_then(|(p, m)| Some((p.parse::<Provider>().ok()?, m)))
    {
        Some((provider, model)) => (provider, model.to_owned()),
        None => {
            let chat = gateway.route_model(&gateway.effective_settings(&principal).model)?;
            (chat.provider, requested.clone())
        }
    };
    if provider == Provider::Echo {
        return Ok(Json(echo(&inputs, &requested)).into_response());
    }
    if provider.wire_format() != Some(WireFormat::OpenAiCompatible) {
        return Err(ApiError::validation(
            "model",
            format!("embeddings are not available for provider {provider}"),
        ));
    }
    if !gateway.upstreams().is_configured(provider) {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            format!("provider {provider} is not configured on this gateway"),
        ));
    }
    request.insert("model".to_owned(), Value::String(model));
    let encoded = EncodedRequest {
        path: "/embeddings".to_owned(),
        body: Value::Object(request),
        stream: false,
    };
    let upstream = gateway.upstreams().send(provider, &encoded).await?;
    let idle = gateway.upstreams().config().idle_timeout;
    let bytes = tokio::time::timeout(idle, upstream.response.bytes())
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "upstream_timeout",
                format!("{provider} stopped sending its answer"),
            )
        })?
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                format!("{provider} answer broke off"),
            )
        })?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|_| {
        upstream_error(
            provider,
            &upstream.wire.decode_error(502, b"not JSON"),
            None,
        )
    })?;
    Ok(Json(value).into_response())
}

fn inputs(request: &Map<String, Value>) -> ApiResult<Vec<String>> {
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
fn echo(inputs: &[String], model: &str) -> Value {
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
    let tokens: usize = inputs.iter().map(|t| t.len().div_ceil(4)).sum();
    json!({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
}
