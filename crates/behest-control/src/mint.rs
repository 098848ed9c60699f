//! `POST /auth/v1/auth/mint` and `POST /v1/auth/mint`: an API key buys a short-lived
//! RS256 JWT for one end user. The key is checked before the body, so a caller without
//! a valid key learns nothing about what a valid body looks like.

use crate::state::ControlState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Extension, Json};
use behest_auth::api_key::{self, FormatError};
use behest_auth::claims::{Claims, AUDIENCE};
use behest_core::mint::{check_user_id, TierRef, DEFAULT_TTL, TTL_RANGE};
use behest_core::{ProjectStatus, Role};
use behest_http::{bearer_token, parse_json, ApiError, ApiResult, ProjectHint};
use behest_store::{ApiKey, Project};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Unknown fields are tolerated here (unlike dashboard routes): SDKs of several
/// versions call this, and a newer one may send a field we do not know yet.
#[derive(Deserialize)]
pub struct MintRequest {
    user_id: Option<String>,
    role: Option<String>,
    ttl: Option<i64>,
    tier: Option<TierRef>,
    session_id: Option<String>,
}

#[derive(Serialize)]
pub struct MintResponse {
    access_token: String,
    token_type: &'static str,
    project_id: Uuid,
    expires_in: i64,
    /// Same as `expires_in`; the SDKs read either.
    ttl: i64,
    session_id: String,
    /// Unix seconds.
    expires_at: i64,
}

pub async fn mint(
    State(state): State<ControlState>,
    Extension(hint): Extension<ProjectHint>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<MintResponse>> {
    let (key, project) = authenticate(&state, &headers, &hint).await?;
    let request: MintRequest = parse_json(&body)?;

    let user_id = request
        .user_id
        .ok_or_else(|| ApiError::validation("user_id", "user_id is required"))?;
    check_user_id(&user_id)
        .map_err(|problem| ApiError::validation("user_id", problem.message()))?;
    let role = match request.role.as_deref() {
        None => key.role,
        Some(raw) => raw.parse::<Role>().map_err(|_| {
            ApiError::validation("role", "role must be one of user, dashboard-service, admin")
        })?,
    };
    if !key.role.may_grant(role) {
        return Err(ApiError::forbidden(format!(
            "an API key with role {} cannot mint {} tokens",
            key.role, role
        )));
    }
    let ttl = request.ttl.unwrap_or(DEFAULT_TTL);
    if !TTL_RANGE.contains(&ttl) {
        return Err(ApiError::validation(
            "ttl",
            format!(
                "ttl must be between {} and {} seconds",
                TTL_RANGE.start(),
                TTL_RANGE.end()
            ),
        ));
    }
    let session_id = match request.session_id {
        None => Uuid::new_v4().to_string(),
        Some(sid)
            if (1..=255).contains(&sid.chars().count()) && !sid.chars().any(char::is_control) =>
        {
            sid
        }
        Some(_) => {
            return Err(ApiError::validation(
                "session_id",
                "session_id must be 1-255 characters",
            ))
        }
    };
    let tier = match request.tier {
        Some(wanted) => resolve_tier(&state, &project, wanted).await?,
        None => None,
    };

    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        tid: project.tenant_id,
        pid: project.id,
        uid: user_id,
        role: role.as_str().to_owned(),
        scp: Vec::new(),
        iss: state.config.issuer.clone(),
        aud: AUDIENCE.to_owned(),
        iat: now,
        nbf: now,
        exp: now + ttl,
        jti: Uuid::new_v4().to_string(),
        sid: Some(session_id.clone()),
        tier,
    };
    let access_token = state.keyring.sign(&claims).map_err(ApiError::internal)?;
    Ok(Json(MintResponse {
        access_token,
        token_type: "Bearer",
        project_id: project.id,
        expires_in: ttl,
        ttl,
        session_id,
        expires_at: claims.exp,
    }))
}

/// The API key and its project, or the seed's 401 rows: missing, invalid format, not
/// found, revoked, project suspended — and a key used on another project's host.
async fn authenticate(
    state: &ControlState,
    headers: &HeaderMap,
    hint: &ProjectHint,
) -> ApiResult<(ApiKey, Project)> {
    let presented = bearer_token(headers).ok_or_else(|| {
        ApiError::unauthorized("missing API key: send Authorization: Bearer behest_sk_live_...")
    })?;
    let hash = api_key::lookup_hash(presented).map_err(|err| match err {
        FormatError::NotAnApiKey => {
            ApiError::unauthorized("invalid API key format: expected behest_sk_live_...")
        }
        FormatError::Malformed => {
            ApiError::unauthorized("invalid API key format: the key is damaged or truncated")
        }
    })?;
    let key = state
        .store
        .api_key_by_hash(&hash)
        .await
        .map_err(ApiError::internal)?
        .filter(|k| behest_auth::constant_time_eq(&k.key_hash, &hash))
        .ok_or_else(|| ApiError::unauthorized("API key not found"))?;
    if key.revoked_at.is_some() {
        return Err(ApiError::unauthorized("API key has been revoked"));
    }
    let project = state
        .store
        .project(key.project_id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::unauthorized("API key not found"))?;
    if project.status == ProjectStatus::Suspended {
        return Err(ApiError::unauthorized("project is suspended"));
    }
    if hint.slug().is_some_and(|slug| slug != project.slug) {
        return Err(ApiError::unauthorized(
            "this API key belongs to another project",
        ));
    }
    Ok((key, project))
}

/// The tier a mint asked for, as the name of one of the project's deployed tiers (the
/// ones live traffic applies); a tier the project does not have is ignored (the
/// quickstart sends `tier: 2` whether or not tiers exist).
async fn resolve_tier(
    state: &ControlState,
    project: &Project,
    wanted: TierRef,
) -> ApiResult<Option<TierRef>> {
    let deployed = state
        .store
        .settings(project.id)
        .await
        .map_err(ApiError::internal)?
        .and_then(|row| row.deployed);
    let mut tiers = deployed
        .map(|d| crate::tiers::from_snapshot(project.id, &d))
        .unwrap_or_default();
    tiers.sort_by_key(|t| (t.sort_order, t.created_at));
    let found = match &wanted {
        TierRef::Name(name) => tiers.iter().find(|t| &t.name == name),
        TierRef::Index(index) => usize::try_from(*index).ok().and_then(|i| tiers.get(i)),
    };
    Ok(found.map(|tier| TierRef::Name(tier.name.clone())))
}
