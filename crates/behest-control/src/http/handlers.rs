//! The handlers: extract, call one service, render. No rule lives here.

use super::{Admin, Dashboard};
use crate::service::accounts::{self, LoginInput, SignupInput};
use crate::service::api_keys::{self, CreateKeyInput};
use crate::service::catalog::{self, CreateCatalogProviderInput};
use crate::service::killswitch::{self, SwitchInput};
use crate::service::mint::{self as minting, MintInput};
use crate::service::projects::{self, CreateProjectInput};
use crate::service::providers::{self, PutProviderKeyInput, ValidateProviderKeyInput};
use crate::service::settings::{self, ModelInput};
use crate::service::signing_keys::{self, CreateSigningKeyInput};
use crate::service::tenants::{self, CreateTenantInput, SetPlanInput};
use crate::service::tiers::{self, TierInput};
use crate::service::Actor;
use crate::state::ControlState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use behest_core::killswitch::KillScope;
use behest_core::ErrorCode;
use behest_http::{
    bearer_token, parse_json, parse_uuid, ApiError, ApiJson, ApiResult, OptionalJson, ProjectHint,
};
use serde_json::{json, Map, Value};
use uuid::Uuid;

type Created<T> = ApiResult<(StatusCode, Json<T>)>;

fn created<T>(view: T) -> (StatusCode, Json<T>) {
    (StatusCode::CREATED, Json(view))
}

fn project_id(raw: &str) -> ApiResult<Uuid> {
    parse_uuid(raw, "projectId")
}

fn tenant_id(raw: &str) -> ApiResult<Uuid> {
    parse_uuid(raw, "tenantId")
}

// --- health and keys ------------------------------------------------------------------

pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// 200 once the store is migrated and the workers run; 503 before, and while draining.
pub async fn readyz(State(ctl): State<ControlState>) -> Response {
    if ctl.is_ready() {
        Json(json!({ "status": "ready" })).into_response()
    } else {
        ApiError::new(ErrorCode::NotReady, "not ready").into_response()
    }
}

/// Every platform key still valid for verification. Cached only briefly, since a
/// rotation brings in a new key; verifiers should also refetch on an unknown `kid`.
pub async fn jwks(State(ctl): State<ControlState>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=60")],
        Json(json!({ "keys": ctl.keyring.jwks() })),
    )
}

/// The API key is checked before the body is even parsed.
pub async fn mint(
    State(ctl): State<ControlState>,
    Extension(hint): Extension<ProjectHint>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<minting::MintView>> {
    let holder = minting::authenticate(&ctl, bearer_token(&headers), hint.slug()).await?;
    let input: MintInput = parse_json(&body)?;
    Ok(Json(minting::mint(&ctl, &holder, input).await?))
}

// --- accounts and tenants ---------------------------------------------------------------

pub async fn signup(
    State(ctl): State<ControlState>,
    ApiJson(input): ApiJson<SignupInput>,
) -> Created<accounts::SignupView> {
    Ok(created(accounts::signup(&ctl, input).await?))
}

pub async fn login(
    State(ctl): State<ControlState>,
    ClientAddr(client): ClientAddr,
    ApiJson(input): ApiJson<LoginInput>,
) -> ApiResult<Json<accounts::SessionView>> {
    Ok(Json(accounts::login(&ctl, input, client).await?))
}

/// The caller's address as the connection saw it (the listener puts it in every
/// request). `X-Forwarded-For` is not believed: anyone can send it.
pub struct ClientAddr(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip()),
        ))
    }
}

pub async fn logout(State(ctl): State<ControlState>, caller: Dashboard) -> ApiResult<StatusCode> {
    accounts::logout(&ctl, &caller.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(
    State(ctl): State<ControlState>,
    caller: Dashboard,
) -> ApiResult<Json<accounts::MeView>> {
    Ok(Json(accounts::me(&ctl, &caller.actor()).await?))
}

pub async fn create_tenant(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    ApiJson(input): ApiJson<CreateTenantInput>,
) -> Created<tenants::TenantView> {
    Ok(created(
        tenants::create(&ctl, &caller.actor(), input).await?,
    ))
}

pub async fn set_plan(
    State(ctl): State<ControlState>,
    _admin: Admin,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<SetPlanInput>,
) -> ApiResult<Json<tenants::TenantView>> {
    Ok(Json(
        tenants::set_plan(&ctl, &Actor::Admin, tenant_id(&id)?, input).await?,
    ))
}

// --- projects ---------------------------------------------------------------------------

pub async fn list_projects(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        projects::list(&ctl, &caller.actor(), tenant_id(&id)?).await?,
    ))
}

pub async fn create_project(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CreateProjectInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(
        projects::create(&ctl, &caller.actor(), tenant_id(&id)?, input).await?,
    ))
}

pub async fn show_project(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        projects::show(&ctl, &caller.actor(), project_id(&id)?).await?,
    ))
}

pub async fn provisioning(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        projects::provisioning(&ctl, &caller.actor(), project_id(&id)?).await?,
    ))
}

pub async fn retry_provisioning(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        projects::retry_provisioning(&ctl, &caller.actor(), project_id(&id)?).await?,
    ))
}

pub async fn suspend(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        projects::suspend(&ctl, &caller.actor(), project_id(&id)?).await?,
    ))
}

// --- settings ---------------------------------------------------------------------------

pub async fn get_settings(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        settings::get(&ctl, &caller.actor(), project_id(&id)?).await?,
    ))
}

pub async fn put_settings(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<Map<String, Value>>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        settings::update(&ctl, &caller.actor(), project_id(&id)?, &change).await?,
    ))
}

pub async fn deploy(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        settings::deploy(&ctl, &caller.actor(), project_id(&id)?).await?,
    ))
}

pub async fn discard_draft(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        settings::discard_draft(&ctl, &caller.actor(), project_id(&id)?).await?,
    ))
}

pub async fn set_model(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ModelInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        settings::set_model(&ctl, &caller.actor(), project_id(&id)?, input).await?,
    ))
}

pub async fn reset_model(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    settings::reset_model(&ctl, &caller.actor(), project_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn set_model_draft(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<ModelInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        settings::set_model_draft(&ctl, &caller.actor(), project_id(&id)?, input).await?,
    ))
}

pub async fn discard_model_draft(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    settings::discard_model_draft(&ctl, &caller.actor(), project_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn publish_model(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        settings::publish_model(&ctl, &caller.actor(), project_id(&id)?).await?,
    ))
}

pub async fn memory(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        settings::memory(&ctl, &caller.actor(), project_id(&id)?).await?,
    ))
}

// --- tiers ------------------------------------------------------------------------------

pub async fn list_tiers(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        tiers::list(&ctl, &caller.actor(), project_id(&id)?).await?,
    ))
}

pub async fn create_tier(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<TierInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(
        tiers::create(&ctl, &caller.actor(), project_id(&id)?, input).await?,
    ))
}

pub async fn update_tier(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path((id, tier)): Path<(String, String)>,
    ApiJson(input): ApiJson<TierInput>,
) -> ApiResult<impl IntoResponse> {
    let tier = parse_uuid(&tier, "tierId")?;
    Ok(Json(
        tiers::update(&ctl, &caller.actor(), project_id(&id)?, tier, input).await?,
    ))
}

pub async fn delete_tier(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path((id, tier)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let tier = parse_uuid(&tier, "tierId")?;
    tiers::delete(&ctl, &caller.actor(), project_id(&id)?, tier).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn resolved_tier(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path((id, tier)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let tier = parse_uuid(&tier, "tierId")?;
    Ok(Json(
        tiers::show_resolved(&ctl, &caller.actor(), project_id(&id)?, tier).await?,
    ))
}

// --- API keys ---------------------------------------------------------------------------

pub async fn list_api_keys(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        api_keys::list(&ctl, &caller.actor(), project_id(&id)?).await?,
    ))
}

pub async fn create_api_key(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
    OptionalJson(input): OptionalJson<CreateKeyInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(
        api_keys::create(&ctl, &caller.actor(), project_id(&id)?, input).await?,
    ))
}

pub async fn rotate_api_key(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let key = parse_uuid(&key, "keyId")?;
    Ok(Json(
        api_keys::rotate(&ctl, &caller.actor(), project_id(&id)?, key).await?,
    ))
}

pub async fn revoke_api_key(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let key = parse_uuid(&key, "keyId")?;
    Ok(Json(
        api_keys::revoke(&ctl, &caller.actor(), project_id(&id)?, key).await?,
    ))
}

pub async fn rotate_api_key_by_id(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(key): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let key = parse_uuid(&key, "keyId")?;
    Ok(Json(
        api_keys::rotate_by_id(&ctl, &caller.actor(), key).await?,
    ))
}

pub async fn revoke_api_key_by_id(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(key): Path<String>,
) -> ApiResult<impl IntoResponse> {
    let key = parse_uuid(&key, "keyId")?;
    Ok(Json(
        api_keys::revoke_by_id(&ctl, &caller.actor(), key).await?,
    ))
}

// --- signing keys -----------------------------------------------------------------------

pub async fn list_signing_keys(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        signing_keys::list(&ctl, &caller.actor(), tenant_id(&id)?).await?,
    ))
}

pub async fn create_signing_key(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
    OptionalJson(input): OptionalJson<CreateSigningKeyInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(created(
        signing_keys::create(&ctl, &caller.actor(), tenant_id(&id)?, input).await?,
    ))
}

pub async fn revoke_signing_key(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path((id, kid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    signing_keys::revoke(&ctl, &caller.actor(), tenant_id(&id)?, &kid).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- provider keys (BYOK) ------------------------------------------------------------------

#[derive(Debug, Default, serde::Deserialize)]
pub struct ProvidersParams {
    pub fields: Option<String>,
}

pub async fn list_providers(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
    axum::extract::Query(params): axum::extract::Query<ProvidersParams>,
) -> ApiResult<Response> {
    let (actor, tenant) = (caller.actor(), tenant_id(&id)?);
    Ok(match params.fields.as_deref() {
        None => Json(providers::list(&ctl, &actor, tenant).await?).into_response(),
        Some("types") => Json(providers::list_types(&ctl, &actor, tenant).await?).into_response(),
        Some(_) => {
            return Err(ApiError::validation(
                "fields",
                "fields may only be \"types\"",
            ));
        }
    })
}

pub async fn tenant_models(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        providers::models(&ctl, &caller.actor(), tenant_id(&id)?).await?,
    ))
}

pub async fn put_provider_key(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path((id, provider_type)): Path<(String, String)>,
    ApiJson(input): ApiJson<PutProviderKeyInput>,
) -> ApiResult<impl IntoResponse> {
    let tenant = tenant_id(&id)?;
    Ok(Json(
        providers::put(&ctl, &caller.actor(), tenant, &provider_type, input).await?,
    ))
}

pub async fn delete_provider_key(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path((id, provider_type)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    providers::delete(&ctl, &caller.actor(), tenant_id(&id)?, &provider_type).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn validate_provider_key(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path((id, provider_type)): Path<(String, String)>,
    ApiJson(input): ApiJson<ValidateProviderKeyInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        providers::validate(
            &ctl,
            &caller.actor(),
            tenant_id(&id)?,
            &provider_type,
            input,
        )
        .await?,
    ))
}

// --- the provider catalog (admin) ---------------------------------------------------------

pub async fn list_catalog(
    State(ctl): State<ControlState>,
    _: Admin,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(catalog::list(&ctl, &Actor::Admin).await?))
}

pub async fn create_catalog_provider(
    State(ctl): State<ControlState>,
    _: Admin,
    ApiJson(input): ApiJson<CreateCatalogProviderInput>,
) -> Created<catalog::CatalogProviderView> {
    Ok(created(catalog::create(&ctl, &Actor::Admin, input).await?))
}

pub async fn sync_catalog_models(
    State(ctl): State<ControlState>,
    _: Admin,
    Path(id): Path<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(catalog::sync(&ctl, &Actor::Admin, &id).await?))
}

// --- kill switches (admin) ---------------------------------------------------------------

pub async fn kill_global(
    State(ctl): State<ControlState>,
    _admin: Admin,
    ApiJson(input): ApiJson<SwitchInput>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        killswitch::set(&ctl, &Actor::Admin, KillScope::Global, input).await?,
    ))
}

pub async fn kill_tenant(
    State(ctl): State<ControlState>,
    _admin: Admin,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<SwitchInput>,
) -> ApiResult<impl IntoResponse> {
    let scope = KillScope::Tenant(tenant_id(&id)?);
    Ok(Json(
        killswitch::set(&ctl, &Actor::Admin, scope, input).await?,
    ))
}

pub async fn kill_project(
    State(ctl): State<ControlState>,
    _admin: Admin,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<SwitchInput>,
) -> ApiResult<impl IntoResponse> {
    let scope = KillScope::Project(project_id(&id)?);
    Ok(Json(
        killswitch::set(&ctl, &Actor::Admin, scope, input).await?,
    ))
}

pub async fn kill_status(
    State(ctl): State<ControlState>,
    _admin: Admin,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(killswitch::status(&ctl, &Actor::Admin).await?))
}

// --- usage --------------------------------------------------------------------------------

#[derive(Debug, serde::Deserialize)]
pub struct UsageParams {
    from: Option<String>,
    to: Option<String>,
    user_id: Option<String>,
    granularity: Option<String>,
}

pub async fn project_usage(
    State(ctl): State<ControlState>,
    caller: Dashboard,
    Path(id): Path<String>,
    axum::extract::Query(params): axum::extract::Query<UsageParams>,
) -> ApiResult<impl IntoResponse> {
    use behest_core::usage::Granularity;
    let granularity = match params.granularity.as_deref() {
        None | Some("") => Granularity::Day,
        Some(raw) => Granularity::parse(raw).ok_or_else(|| {
            ApiError::validation("granularity", "granularity must be hour, day or month")
        })?,
    };
    let to = match params.to.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => behest_http::parse_time(raw, "to")?,
        None => chrono::Utc::now(),
    };
    let from = match params.from.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => behest_http::parse_time(raw, "from")?,
        None => to - chrono::Duration::days(30),
    };
    let input = crate::service::usage::UsageInput {
        from,
        to,
        granularity,
        user_id: params.user_id.filter(|u| !u.is_empty()),
    };
    Ok(Json(
        crate::service::usage::project_usage(&ctl, &caller.actor(), project_id(&id)?, input)
            .await?,
    ))
}
