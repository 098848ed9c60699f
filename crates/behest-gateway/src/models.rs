//! `GET /v1/models`: the model this token's project (and tier) uses, in OpenAI's list
//! shape, so an OpenAI SDK's `models.list()` works.

use crate::{Caller, GatewayState};
use axum::extract::State;
use axum::Json;
use behest_http::ApiResult;
use serde_json::{json, Value};

pub async fn list(
    State(gateway): State<GatewayState>,
    Caller(principal): Caller,
) -> ApiResult<Json<Value>> {
    let effective = gateway.effective_settings(&principal);
    let route = gateway.route_model(&effective.model)?;
    Ok(Json(json!({
        "object": "list",
        "data": [{
            "id": route.model,
            "object": "model",
            "created": 0,
            "owned_by": route.provider.as_str(),
        }],
    })))
}
