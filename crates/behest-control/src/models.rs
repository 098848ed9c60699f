//! Whether a model can be used by a tenant: the one place that decides it (known to the
//! catalog, and its provider has a platform key — or, with BYOK, the tenant's own key).

use crate::state::ControlState;
use axum::http::StatusCode;
use behest_http::ApiError;
use behest_providers::{resolve_model, ModelRoute, Provider};
use uuid::Uuid;

impl ControlState {
    /// The route of `model` if the tenant may use it: 400 `UNKNOWN_MODEL`, 422
    /// `PROVIDER_NOT_CONFIGURED` otherwise.
    pub(crate) fn usable_model(
        &self,
        model: &str,
        _tenant_id: Uuid,
    ) -> Result<ModelRoute, ApiError> {
        let route = resolve_model(model).ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "UNKNOWN_MODEL",
                format!("{model:?} is not a known model"),
            )
            .with_param("provider_model")
        })?;
        // The tenant's BYOK keys join this check with the BYOK issue.
        let configured = route.provider == Provider::Echo
            || self.config.platform_providers.contains(&route.provider);
        if !configured {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "PROVIDER_NOT_CONFIGURED",
                format!("no key is configured for provider {}", route.provider),
            )
            .with_param("provider_model"));
        }
        Ok(route)
    }
}

/// Whether a model id names any model at all (for draft validation).
pub(crate) fn is_known(model: &str) -> bool {
    resolve_model(model).is_some()
}
