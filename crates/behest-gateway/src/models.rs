//! `GET /v1/models`: the model this token's project (and tier) uses, in OpenAI's list
//! shape, so an OpenAI SDK's `models.list()` works.

use crate::outcome::Operation;
use crate::pipeline::{self, refused, RequestContext};
use crate::{Caller, GatewayState};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use behest_http::ApiError;

pub async fn list(
    State(gateway): State<GatewayState>,
    context: RequestContext,
    caller: Result<Caller, ApiError>,
) -> Response {
    let outcome = gateway.begin(Operation::Models, &context);
    match caller {
        Ok(Caller(principal)) => {
            pipeline::models(&gateway, gateway.call(principal, context, outcome)).into_response()
        }
        Err(err) => refused(outcome, err).into_response(),
    }
}
