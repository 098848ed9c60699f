//! The admin's provider catalog (`/auth/v1/admin/providers`, admin secret): the six
//! built-in providers (rows added at start-up, active while the platform has a key for
//! them) and any the operator adds, each with its model count; and a sync that asks a
//! provider's models endpoint what it offers and records it. Prices are not learned:
//! the model registry keeps them. A discovered model the registry does not know is
//! reachable as `<slug>:<model id>`.

use crate::error::{ControlError, ControlResult};
use crate::input::required_name;
use crate::service::Actor;
use crate::state::ControlState;
use behest_core::ErrorCode;
use behest_providers::Provider;
use behest_store::{CatalogModel, CatalogProvider, StoreError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

#[derive(Debug, Serialize)]
pub struct CatalogProviderView {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub display_name: String,
    pub is_active: bool,
    pub model_count: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct CatalogView {
    pub providers: Vec<CatalogProviderView>,
}

/// The seed's body (camelCase).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateCatalogProviderInput {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub display_name: Option<String>,
    pub models_endpoint_url: Option<String>,
    pub models_endpoint_auth_type: Option<String>,
    pub auth_config_schema: Option<serde_json::Value>,
    pub supported_features: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub struct SyncView {
    pub provider_id: String,
    /// Models the provider listed this time.
    pub discovered: u64,
    pub model_count: u64,
}

/// Adds the built-in providers' rows that are missing (every start; replicas may race).
pub async fn ensure_builtin(ctl: &ControlState) -> Result<(), StoreError> {
    let now = Utc::now();
    for provider in Provider::ALL.into_iter().filter(|p| *p != Provider::Echo) {
        let row = CatalogProvider {
            id: provider.as_str().to_owned(),
            name: provider.as_str().to_owned(),
            slug: provider.as_str().to_owned(),
            display_name: provider.display_name().to_owned(),
            is_active: true,
            models_endpoint_url: None,
            models_endpoint_auth_type: None,
            auth_config_schema: None,
            supported_features: None,
            created_at: now,
            updated_at: now,
        };
        ctl.store.add_catalog_provider(&row, true).await?;
    }
    Ok(())
}

fn admin_only(actor: &Actor) -> ControlResult<()> {
    match actor {
        Actor::Admin => Ok(()),
        Actor::User(_) => Err(ControlError::forbidden("the catalog is the admin's")),
    }
}

pub async fn list(ctl: &ControlState, actor: &Actor) -> ControlResult<CatalogView> {
    admin_only(actor)?;
    let mut providers = Vec::new();
    for row in ctl.store.catalog_providers().await? {
        providers.push(view(ctl, row).await?);
    }
    Ok(CatalogView { providers })
}

pub async fn create(
    ctl: &ControlState,
    actor: &Actor,
    input: CreateCatalogProviderInput,
) -> ControlResult<CatalogProviderView> {
    admin_only(actor)?;
    let mut errors = Vec::new();
    let mut field = |result: ControlResult<String>| match result {
        Ok(value) => value,
        Err(ControlError::Invalid(mut e)) => {
            errors.append(&mut e);
            String::new()
        }
        Err(_) => String::new(),
    };
    let name = field(required_name(input.name, "name", 100));
    let display_name = field(required_name(input.display_name, "displayName", 100));
    let slug = input.slug.unwrap_or_default();
    let slug_ok = (1..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if !slug_ok {
        errors.push(behest_core::settings::FieldError::new(
            "slug",
            "slug must be 1-63 lower-case letters, digits and dashes",
        ));
    }
    if let Some(url) = &input.models_endpoint_url {
        if reqwest::Url::parse(url)
            .map(|u| !matches!(u.scheme(), "http" | "https"))
            .unwrap_or(true)
        {
            errors.push(behest_core::settings::FieldError::new(
                "modelsEndpointUrl",
                "modelsEndpointUrl must be an http(s) URL",
            ));
        }
    }
    if let Some(auth) = &input.models_endpoint_auth_type {
        if auth != "none" {
            errors.push(behest_core::settings::FieldError::new(
                "modelsEndpointAuthType",
                "only \"none\" is supported: the catalog stores no credentials",
            ));
        }
    }
    for (value, name) in [
        (&input.auth_config_schema, "authConfigSchema"),
        (&input.supported_features, "supportedFeatures"),
    ] {
        if value.as_ref().is_some_and(|v| !v.is_object()) {
            errors.push(behest_core::settings::FieldError::new(
                name,
                format!("{name} must be an object"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(ControlError::Invalid(errors));
    }
    let now = Utc::now();
    let row = CatalogProvider {
        id: uuid::Uuid::new_v4().to_string(),
        name,
        slug,
        display_name,
        is_active: true,
        models_endpoint_url: input.models_endpoint_url,
        models_endpoint_auth_type: input.models_endpoint_auth_type,
        auth_config_schema: input.auth_config_schema,
        supported_features: input.supported_features,
        created_at: now,
        updated_at: now,
    };
    ctl.store
        .add_catalog_provider(&row, false)
        .await
        .map_err(|err| match err {
            StoreError::Conflict(_) => ControlError::refused(
                ErrorCode::Conflict,
                "a provider with that name or slug exists",
            ),
            other => other.into(),
        })?;
    view(ctl, row).await
}

/// Asks the provider's models endpoint what it offers and records it.
pub async fn sync(ctl: &ControlState, actor: &Actor, id: &str) -> ControlResult<SyncView> {
    admin_only(actor)?;
    let row = ctl
        .store
        .catalog_provider(id)
        .await?
        .ok_or_else(|| ControlError::not_found("no such provider in the catalog"))?;
    let access = ctl
        .providers
        .as_deref()
        .ok_or_else(|| ControlError::internal("provider access is not configured"))?;
    let builtin = row
        .slug
        .parse::<Provider>()
        .ok()
        .filter(|p| *p != Provider::Echo);
    let (url, headers, parse_as) = match builtin {
        Some(provider) => {
            let key = access.platform_keys.get(&provider).ok_or_else(|| {
                ControlError::refused(
                    ErrorCode::ProviderNotConfigured,
                    format!("the platform has no key for {provider}: nothing to sync with"),
                )
            })?;
            let request = provider.models_list(key).ok_or_else(|| {
                ControlError::internal(format!("{provider} has no models endpoint"))
            })?;
            let base = access
                .base_urls
                .get(&provider)
                .map(String::as_str)
                .or(provider.default_base_url())
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_owned();
            (format!("{base}{}", request.path), request.headers, provider)
        }
        None => {
            let url = row.models_endpoint_url.clone().ok_or_else(|| {
                ControlError::invalid(
                    "modelsEndpointUrl",
                    "this provider has no models endpoint to sync from",
                )
            })?;
            // An OpenAI-compatible list, without credentials.
            (url, Vec::new(), Provider::OpenAi)
        }
    };
    let mut request = access.trusted.get(&url);
    for (name, value) in &headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let unreachable = |why: String| {
        ControlError::refused(
            ErrorCode::UpstreamError,
            format!("the models endpoint of {}: {why}", row.slug),
        )
    };
    let response = request.send().await.map_err(|e| {
        unreachable(if e.is_timeout() {
            "timed out".into()
        } else {
            "unreachable".into()
        })
    })?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|_| unreachable("the answer was cut".into()))?;
    if !status.is_success() {
        return Err(unreachable(format!("answered {}", status.as_u16())));
    }
    let discovered = parse_as
        .parse_models_list(&body)
        .map_err(|why| unreachable(format!("unreadable answer ({why})")))?;
    let now = Utc::now();
    let models: Vec<CatalogModel> = discovered
        .into_iter()
        .map(|m| CatalogModel {
            provider_id: row.id.clone(),
            display_name: m.display_name.unwrap_or_else(|| m.id.clone()),
            model_id: m.id,
            context_window: m.context_window.map(i64::from),
            max_output_tokens: m.max_output_tokens.map(i64::from),
            synced_at: now,
        })
        .collect();
    let found = models.len() as u64;
    if !models.is_empty() {
        ctl.store.upsert_catalog_models(&models).await?;
    }
    let refreshed = ctl
        .store
        .catalog_provider(id)
        .await?
        .ok_or_else(|| ControlError::not_found("no such provider in the catalog"))?;
    let view = view(ctl, refreshed).await?;
    Ok(SyncView {
        provider_id: view.id,
        discovered: found,
        model_count: view.model_count,
    })
}

/// A row with its model count: the registry's models and the synced ones it lacks.
async fn view(ctl: &ControlState, row: CatalogProvider) -> ControlResult<CatalogProviderView> {
    let builtin = row
        .slug
        .parse::<Provider>()
        .ok()
        .filter(|p| *p != Provider::Echo);
    let known: HashSet<String> = match builtin {
        Some(provider) => ctl
            .config
            .models
            .models_for(provider)
            .map(|m| m.id.clone())
            .collect(),
        None => HashSet::new(),
    };
    let synced = ctl.store.catalog_models(&row.id).await?;
    let extra = synced
        .iter()
        .filter(|m| !known.contains(&m.model_id))
        .count();
    let is_active = match builtin {
        Some(provider) => ctl.config.platform_providers.contains(&provider),
        None => row.is_active,
    };
    Ok(CatalogProviderView {
        model_count: (known.len() + extra) as u64,
        is_active,
        id: row.id,
        name: row.name,
        slug: row.slug,
        display_name: row.display_name,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
