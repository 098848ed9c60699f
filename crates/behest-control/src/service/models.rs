//! Whether a model can be used by a tenant: the one place that decides it (known to the
//! registry, and its provider configured on the platform or by the tenant's own key).

use crate::error::{ControlError, ControlResult};
use crate::state::ControlState;
use behest_core::ErrorCode;
use behest_providers::{ModelRoute, Provider};
use uuid::Uuid;

impl ControlState {
    /// The route of `model` if the tenant may use it: 400 `UNKNOWN_MODEL`, 422
    /// `PROVIDER_NOT_CONFIGURED` otherwise (neither a platform key nor the tenant's own).
    pub async fn usable_model(&self, model: &str, tenant_id: Uuid) -> ControlResult<ModelRoute> {
        let route = self.known_model(model)?;
        let configured = route.provider == Provider::Echo
            || self.config.platform_providers.contains(&route.provider)
            || self
                .store
                .provider_keys(tenant_id)
                .await?
                .iter()
                .any(|key| key.provider_type == route.provider.as_str());
        if !configured {
            return Err(ControlError::refused(
                ErrorCode::ProviderNotConfigured,
                format!("no key is configured for provider {}", route.provider),
            )
            .with_param("provider_model"));
        }
        Ok(route)
    }

    /// The route of `model` if the registry knows it: 400 `UNKNOWN_MODEL` otherwise.
    pub fn known_model(&self, model: &str) -> ControlResult<ModelRoute> {
        self.config.models.resolve(model).ok_or_else(|| {
            ControlError::refused(
                ErrorCode::UnknownModel,
                format!("{model:?} is not a known model"),
            )
            .with_param("provider_model")
        })
    }

    /// Whether a model id names any model at all (for draft validation).
    pub(crate) fn is_known_model(&self, model: &str) -> bool {
        self.config.models.is_known(model)
    }
}
