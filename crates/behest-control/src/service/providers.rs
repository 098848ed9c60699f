//! A tenant's own provider keys (BYOK; dashboard → Providers): list, add or replace
//! (checked against the provider before it is stored), remove, and validate without
//! storing. Keys are sealed with the master key (the tenant and provider bound to the
//! ciphertext) and only their last four characters ever leave the server. Saving
//! takes at least [`PUT_FLOOR`] whatever the outcome, so response times say nothing
//! about which check failed.

use crate::error::{ControlError, ControlResult};
use crate::service::Actor;
use crate::state::{ControlState, ProviderAccess};
use behest_core::{ErrorCode, Plan};
use behest_http::egress;
use behest_providers::{KeyVerdict, Provider};
use behest_store::{ProviderKey, Tenant};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

/// The shortest time a PUT answers in.
pub const PUT_FLOOR: Duration = Duration::from_millis(500);
/// Key checks per tenant per minute: validate (the seed's figure) and saves.
const VALIDATIONS_PER_MINUTE: usize = 5;
const SAVES_PER_MINUTE: usize = 10;

#[derive(Debug, Serialize)]
pub struct ProviderKeyView {
    pub provider_type: &'static str,
    pub key_last4: String,
    pub key_set_at: DateTime<Utc>,
    pub projects_using_count: u64,
}

#[derive(Debug, Serialize)]
pub struct ProvidersView {
    pub providers: Vec<ProviderKeyView>,
}

#[derive(Debug, Serialize)]
pub struct ProviderTypesView {
    pub provider_types: Vec<&'static str>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PutProviderKeyInput {
    pub api_key: Option<String>,
    pub base_url_override: Option<String>,
}

impl std::fmt::Debug for PutProviderKeyInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutProviderKeyInput")
            .field("base_url_override", &self.base_url_override)
            .finish_non_exhaustive()
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateProviderKeyInput {
    pub api_key: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ConfiguredView {
    pub configured: bool,
    pub provider_type: &'static str,
    pub key_last4: String,
    pub key_set_at: DateTime<Utc>,
}

/// Why a key did not check out, as the seed names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidReason {
    InvalidKey,
    NetworkError,
    Timeout,
    RateLimited,
}

#[derive(Debug, Serialize)]
pub struct ValidationView {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<InvalidReason>,
}

/// A model the tenant can choose, in the seed's shape.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantModelView {
    pub model_id: String,
    pub display_name: String,
    pub provider_slug: &'static str,
    pub provider_display_name: &'static str,
    pub capabilities: serde_json::Value,
    pub context_window: Option<u32>,
    pub max_output_tokens: Option<u32>,
    pub supports_streaming: Option<bool>,
    pub supports_tool_use: Option<bool>,
    pub supports_vision: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct TenantModelsView {
    pub models: Vec<TenantModelView>,
}

/// The associated data a tenant's key is sealed with.
pub fn seal_context(tenant_id: Uuid, provider: Provider) -> String {
    behest_core::image::provider_key_context(tenant_id, provider.as_str())
}

/// The configured providers of a tenant, full or (`?fields=types`) names only.
pub async fn list(
    ctl: &ControlState,
    actor: &Actor,
    tenant_id: Uuid,
) -> ControlResult<ProvidersView> {
    let tenant = tenant(ctl, actor, tenant_id).await?;
    let keys = ctl.store.provider_keys(tenant.id).await?;
    let using = projects_using(ctl, tenant.id).await?;
    let providers = keys
        .iter()
        .filter_map(|key| {
            let provider = byok_provider(&key.provider_type).ok()?;
            Some(ProviderKeyView {
                provider_type: provider.as_str(),
                key_last4: key.key_last4.clone(),
                key_set_at: key.key_set_at,
                projects_using_count: using.iter().filter(|p| **p == provider).count() as u64,
            })
        })
        .collect();
    Ok(ProvidersView { providers })
}

pub async fn list_types(
    ctl: &ControlState,
    actor: &Actor,
    tenant_id: Uuid,
) -> ControlResult<ProviderTypesView> {
    let tenant = tenant(ctl, actor, tenant_id).await?;
    let provider_types = ctl
        .store
        .provider_keys(tenant.id)
        .await?
        .iter()
        .filter_map(|key| byok_provider(&key.provider_type).ok().map(Provider::as_str))
        .collect();
    Ok(ProviderTypesView { provider_types })
}

/// Every model the tenant can use: the platform's providers', the built-in echo model,
/// and those of the providers it brought keys for (the same rule as `usable_model`).
pub async fn models(
    ctl: &ControlState,
    actor: &Actor,
    tenant_id: Uuid,
) -> ControlResult<TenantModelsView> {
    let tenant = tenant(ctl, actor, tenant_id).await?;
    let own: Vec<Provider> = ctl
        .store
        .provider_keys(tenant.id)
        .await?
        .iter()
        .filter_map(|key| byok_provider(&key.provider_type).ok())
        .collect();
    let usable = |provider: Provider| {
        provider == Provider::Echo
            || ctl.config.platform_providers.contains(&provider)
            || own.contains(&provider)
    };
    let models = ctl
        .config
        .models
        .all()
        .iter()
        .filter(|info| usable(info.provider))
        .map(|info| TenantModelView {
            model_id: info.id.clone(),
            display_name: info.display_name.clone(),
            provider_slug: info.provider.as_str(),
            provider_display_name: info.provider.display_name(),
            capabilities: serde_json::json!({
                "streaming": info.supports_streaming,
                "tools": info.supports_tools,
                "vision": info.supports_vision,
            }),
            context_window: Some(info.context_window),
            max_output_tokens: Some(info.max_output_tokens),
            supports_streaming: Some(info.supports_streaming),
            supports_tool_use: Some(info.supports_tools),
            supports_vision: Some(info.supports_vision),
        })
        .collect();
    Ok(TenantModelsView { models })
}

/// Adds or replaces the tenant's key for `provider_type`, once the provider accepted it.
/// Answers in no less than [`PUT_FLOOR`], refusals included.
pub async fn put(
    ctl: &ControlState,
    actor: &Actor,
    tenant_id: Uuid,
    provider_type: &str,
    input: PutProviderKeyInput,
) -> ControlResult<ConfiguredView> {
    let floor = tokio::time::sleep(PUT_FLOOR);
    let result = put_now(ctl, actor, tenant_id, provider_type, input).await;
    floor.await;
    result
}

async fn put_now(
    ctl: &ControlState,
    actor: &Actor,
    tenant_id: Uuid,
    provider_type: &str,
    input: PutProviderKeyInput,
) -> ControlResult<ConfiguredView> {
    let provider = byok_provider(provider_type)?;
    let tenant = tenant(ctl, actor, tenant_id).await?;
    requires_pro(&tenant)?;
    let access = access(ctl)?;
    let key = api_key(input.api_key, provider)?;
    let base_url = match input.base_url_override.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(safe_base_url(access, text).await?),
    };
    admit_check(access, tenant.id, false, SAVES_PER_MINUTE)?;
    match check_key(access, provider, &key, base_url.as_deref()).await {
        None => {}
        Some(reason) => {
            return Err(ControlError::refused(
                ErrorCode::KeyValidationFailed,
                format!("{provider} did not accept the key ({})", reason.describe()),
            )
            .with_param("api_key"))
        }
    }
    let row = ProviderKey {
        tenant_id: tenant.id,
        provider_type: provider.as_str().to_owned(),
        sealed_key: access
            .envelope
            .seal(key.as_bytes(), &seal_context(tenant.id, provider)),
        key_last4: last4(&key),
        base_url,
        key_set_at: Utc::now(),
    };
    ctl.store.put_provider_key(&row).await?;
    ctl.publish().await;
    Ok(ConfiguredView {
        configured: true,
        provider_type: provider.as_str(),
        key_last4: row.key_last4,
        key_set_at: row.key_set_at,
    })
}

/// Removes the key; 404 when none is configured for that provider.
pub async fn delete(
    ctl: &ControlState,
    actor: &Actor,
    tenant_id: Uuid,
    provider_type: &str,
) -> ControlResult<()> {
    let provider = byok_provider(provider_type)?;
    let tenant = tenant(ctl, actor, tenant_id).await?;
    if !ctl
        .store
        .delete_provider_key(tenant.id, provider.as_str())
        .await?
    {
        return Err(ControlError::not_found(format!(
            "no key is configured for {provider}"
        )));
    }
    ctl.publish().await;
    Ok(())
}

/// Checks a key against the provider without storing it (5 per minute per tenant).
pub async fn validate(
    ctl: &ControlState,
    actor: &Actor,
    tenant_id: Uuid,
    provider_type: &str,
    input: ValidateProviderKeyInput,
) -> ControlResult<ValidationView> {
    let provider = byok_provider(provider_type)?;
    let tenant = tenant(ctl, actor, tenant_id).await?;
    let access = access(ctl)?;
    admit_check(access, tenant.id, true, VALIDATIONS_PER_MINUTE)?;
    // A key of the wrong shape is not worth a call: the provider would refuse it.
    let reason = match api_key(input.api_key, provider) {
        Ok(key) => check_key(access, provider, &key, None).await,
        Err(ControlError::Refused {
            code: ErrorCode::InvalidKeyFormat,
            ..
        }) => Some(InvalidReason::InvalidKey),
        Err(other) => return Err(other),
    };
    Ok(ValidationView {
        valid: reason.is_none(),
        reason,
    })
}

impl InvalidReason {
    fn describe(self) -> &'static str {
        match self {
            InvalidReason::InvalidKey => "the key was rejected",
            InvalidReason::NetworkError => "the provider could not be reached",
            InvalidReason::Timeout => "the provider did not answer in time",
            InvalidReason::RateLimited => "the provider is rate limiting this key",
        }
    }
}

/// A provider a tenant may bring a key for: 400 `UNSUPPORTED_PROVIDER` otherwise.
pub fn byok_provider(provider_type: &str) -> ControlResult<Provider> {
    match provider_type.parse::<Provider>() {
        Ok(provider) if provider != Provider::Echo => Ok(provider),
        _ => Err(ControlError::refused(
            ErrorCode::UnsupportedProvider,
            "providerType must be one of openai, anthropic, google, openrouter, mistral, cohere",
        )
        .with_param("providerType")),
    }
}

async fn tenant(ctl: &ControlState, actor: &Actor, tenant_id: Uuid) -> ControlResult<Tenant> {
    ctl.tenant_for(actor, tenant_id)
        .await
        .map_err(|err| match err {
            ControlError::Refused {
                code: ErrorCode::NotFound,
                ..
            } => ControlError::refused(ErrorCode::TenantNotFound, "tenant not found"),
            other => other,
        })
}

fn requires_pro(tenant: &Tenant) -> ControlResult<()> {
    match tenant.plan {
        Plan::Pro => Ok(()),
        Plan::Free => Err(ControlError::refused(
            ErrorCode::ByoakRequiresPro,
            "bringing your own provider keys needs the pro plan",
        )),
    }
}

fn access(ctl: &ControlState) -> ControlResult<&ProviderAccess> {
    ctl.providers
        .as_deref()
        .ok_or_else(|| ControlError::internal("provider keys are not configured on this server"))
}

fn api_key(key: Option<String>, provider: Provider) -> ControlResult<String> {
    let key = key.map(|k| k.trim().to_owned()).unwrap_or_default();
    if key.is_empty() {
        return Err(ControlError::invalid("api_key", "api_key is required"));
    }
    if !provider.accepts_key_format(&key) {
        return Err(ControlError::refused(
            ErrorCode::InvalidKeyFormat,
            format!(
                "the key does not look like a {provider} key: {}",
                provider.key_format_hint()
            ),
        )
        .with_param("api_key"));
    }
    Ok(key)
}

/// A tenant's base URL, after the URL and address rules (resolved now; the client
/// checks the addresses again when it connects).
async fn safe_base_url(access: &ProviderAccess, text: &str) -> ControlResult<String> {
    let refuse = |why: egress::UrlRejection| {
        ControlError::refused(
            ErrorCode::InvalidBaseUrl,
            format!("base_url_override is not allowed: {why}"),
        )
        .with_param("base_url_override")
    };
    let url = egress::check_base_url(text, access.allow_http_overrides).map_err(refuse)?;
    egress::check_resolved(&url).await.map_err(refuse)?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// At most `per_minute` key checks per tenant (`validate` and saves counted apart).
fn admit_check(
    access: &ProviderAccess,
    tenant_id: Uuid,
    validate: bool,
    per_minute: usize,
) -> ControlResult<()> {
    access
        .checks
        .admit((tenant_id, validate), per_minute)
        .map_err(|wait| {
            ControlError::refused(
                ErrorCode::RateLimited,
                format!(
                    "at most {per_minute} key checks per minute; retry in {} s",
                    wait.as_secs().max(1)
                ),
            )
        })
}

/// The provider's answer to the key: `None` when it accepted it.
async fn check_key(
    access: &ProviderAccess,
    provider: Provider,
    key: &str,
    override_url: Option<&str>,
) -> Option<InvalidReason> {
    let check = provider.key_check(key)?;
    let (client, base) = match override_url {
        Some(url) => (&access.untrusted, url.to_owned()),
        None => (
            &access.trusted,
            access
                .base_urls
                .get(&provider)
                .map(String::as_str)
                .or(provider.default_base_url())
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned(),
        ),
    };
    let url = format!("{base}{}", check.path);
    let mut request = if check.post {
        client
            .post(&url)
            .header("content-type", "application/json")
            .body("{}")
    } else {
        client.get(&url)
    };
    for (name, value) in &check.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(err) if err.is_timeout() => return Some(InvalidReason::Timeout),
        Err(err) => {
            // The error text can hold the URL, never the key (it is in a header).
            tracing::info!(%provider, error = %err, "provider key check could not reach the provider");
            return Some(InvalidReason::NetworkError);
        }
    };
    let status = response.status().as_u16();
    let body = match response.bytes().await {
        Ok(body) => body,
        Err(err) if err.is_timeout() => return Some(InvalidReason::Timeout),
        Err(_) => return Some(InvalidReason::NetworkError),
    };
    match provider.key_verdict(status, &body) {
        KeyVerdict::Valid => None,
        KeyVerdict::Invalid => Some(InvalidReason::InvalidKey),
        KeyVerdict::RateLimited => Some(InvalidReason::RateLimited),
        KeyVerdict::Unavailable => Some(InvalidReason::NetworkError),
    }
}

fn last4(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// The provider of each of the tenant's projects' live models (one per project that
/// has one set).
async fn projects_using(ctl: &ControlState, tenant_id: Uuid) -> ControlResult<Vec<Provider>> {
    let mut providers = Vec::new();
    for project in ctl.store.projects(tenant_id).await? {
        let Some(settings) = ctl.store.settings(project.id).await? else {
            continue;
        };
        if let Some(route) = settings
            .provider_model
            .as_deref()
            .and_then(|model| ctl.config.models.resolve(model))
        {
            providers.push(route.provider);
        }
    }
    Ok(providers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last4_counts_characters_not_bytes() {
        assert_eq!(last4("sk-abcdef1234"), "1234");
        assert_eq!(last4("abc"), "abc");
        assert_eq!(last4("ключ-éèêë"), "éèêë");
    }

    #[test]
    fn only_the_six_upstream_providers_take_keys() {
        for name in [
            "openai",
            "anthropic",
            "google",
            "openrouter",
            "mistral",
            "cohere",
        ] {
            assert!(byok_provider(name).is_ok(), "{name}");
        }
        for name in ["echo", "azure", "", "open-ai"] {
            assert_eq!(
                byok_provider(name).map_err(|e| e.code()).err(),
                Some(ErrorCode::UnsupportedProvider),
                "{name:?}"
            );
        }
    }
}
