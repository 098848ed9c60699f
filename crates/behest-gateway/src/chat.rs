//! `POST /v1/chat/completions`: parses the request, runs [`pipeline::complete`] (the
//! stages are listed there), renders the answer.

use crate::outcome::Operation;
use crate::pipeline::{self, refused, RequestContext};
use crate::{Caller, GatewayState};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use behest_http::{parse_json, ApiError};
use behest_providers::ChatRequest;

pub async fn chat_completions(
    State(gateway): State<GatewayState>,
    context: RequestContext,
    caller: Result<Caller, ApiError>,
    body: Bytes,
) -> Response {
    let outcome = gateway.begin(Operation::Chat, &context);
    let call = match caller {
        Ok(Caller(principal)) => gateway.call(principal, context, outcome),
        Err(err) => return refused(outcome, err).into_response(),
    };
    let request: ChatRequest = match parse_json(&body) {
        Ok(request) => request,
        Err(err) => return call.refuse(err).into_response(),
    };
    pipeline::complete(&gateway, call, request)
        .await
        .into_response()
}
