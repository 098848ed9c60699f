//! `POST /v1/embeddings` for providers with an OpenAI-compatible embeddings API
//! (OpenAI, Mistral, OpenRouter, self-hosted servers), through [`pipeline::embed`]. The
//! echo provider answers with a deterministic vector, so the demo works offline.

use crate::outcome::Operation;
use crate::pipeline::{self, refused, RequestContext};
use crate::{Caller, GatewayState};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use behest_http::{parse_json, ApiError};
use serde_json::{Map, Value};

pub async fn create(
    State(gateway): State<GatewayState>,
    context: RequestContext,
    caller: Result<Caller, ApiError>,
    body: Bytes,
) -> Response {
    let outcome = gateway.begin(Operation::Embeddings, &context);
    let call = match caller {
        Ok(Caller(principal)) => gateway.call(principal, context, outcome),
        Err(err) => return refused(outcome, err).into_response(),
    };
    let request: Map<String, Value> = match parse_json(&body) {
        Ok(request) => request,
        Err(err) => return call.refuse(err).into_response(),
    };
    pipeline::embed(&gateway, call, request)
        .await
        .into_response()
}
