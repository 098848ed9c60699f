//! Dashboard accounts: signup (a user and a tenant they own), login, logout, me.

use crate::access::DashboardUser;
use crate::input::optional_name;
use crate::state::ControlState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use behest_auth::{password, session};
use behest_http::{ApiError, ApiJson, ApiResult};
use behest_store::{NewAccount, NewSession, StoreError, User};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    email: Option<String>,
    password: Option<String>,
    tenant_name: Option<String>,
}

#[derive(Serialize)]
pub struct SignupResponse {
    user_id: Uuid,
    tenant_id: Uuid,
    session_token: String,
    expires_at: DateTime<Utc>,
}

pub async fn signup(
    State(state): State<ControlState>,
    ApiJson(body): ApiJson<SignupRequest>,
) -> ApiResult<impl IntoResponse> {
    let email = normalise_email(body.email)?;
    let password = body.password.unwrap_or_default();
    let chars = password.chars().count();
    if !(password::MIN_LEN..=password::MAX_LEN).contains(&chars) {
        return Err(ApiError::validation(
            "password",
            format!(
                "password must be {}-{} characters",
                password::MIN_LEN,
                password::MAX_LEN
            ),
        ));
    }
    let tenant_name = optional_name(body.tenant_name, "tenant_name", 100)?
        .unwrap_or_else(|| "Personal".to_owned());
    let password_hash = tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let (user, tenant) = state
        .store
        .create_account(NewAccount {
            email,
            password_hash,
            tenant_name,
        })
        .await
        .map_err(|err| match err {
            StoreError::Conflict(_) => {
                ApiError::conflict("email_taken", "an account with this email already exists")
                    .with_param("email")
            }
            other => ApiError::internal(other),
        })?;
    let (session_token, expires_at) = start_session(&state, &user).await?;
    Ok((
        StatusCode::CREATED,
        Json(SignupResponse {
            user_id: user.id,
            tenant_id: tenant.id,
            session_token,
            expires_at,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    email: Option<String>,
    password: Option<String>,
}

pub async fn login(
    State(state): State<ControlState>,
    ApiJson(body): ApiJson<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    let email = normalise_email(body.email)?;
    let password = body
        .password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::validation("password", "password is required"))?;
    let user = state
        .store
        .user_by_email(&email)
        .await
        .map_err(ApiError::internal)?;
    // Verify against a decoy when the email is unknown: same work, same timing.
    let phc = user.as_ref().map_or_else(
        || password::decoy_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let matches = tokio::task::spawn_blocking(move || password::verify(&password, &phc))
        .await
        .map_err(ApiError::internal)?;
    let user = user
        .filter(|_| matches)
        .ok_or_else(|| ApiError::unauthorized("invalid email or password"))?;
    let (session_token, expires_at) = start_session(&state, &user).await?;
    Ok(Json(
        json!({ "session_token": session_token, "expires_at": expires_at }),
    ))
}

pub async fn logout(
    State(state): State<ControlState>,
    caller: DashboardUser,
) -> ApiResult<StatusCode> {
    state
        .store
        .delete_session(&caller.token_hash)
        .await
        .map_err(ApiError::internal)?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn me(
    State(state): State<ControlState>,
    caller: DashboardUser,
) -> ApiResult<impl IntoResponse> {
    let memberships = state
        .store
        .memberships(caller.user.id)
        .await
        .map_err(ApiError::internal)?;
    let tenants: Vec<_> = memberships
        .iter()
        .map(|m| {
            json!({
                "id": m.tenant.id,
                "name": m.tenant.name,
                "plan": m.tenant.plan.as_str(),
                "role": m.role.as_str(),
            })
        })
        .collect();
    Ok(Json(json!({
        "user": {
            "id": caller.user.id,
            "email": caller.user.email,
            "created_at": caller.user.created_at,
        },
        "tenants": tenants,
    })))
}

async fn start_session(state: &ControlState, user: &User) -> ApiResult<(String, DateTime<Utc>)> {
    let token = session::generate();
    let expires_at = behest_store::now() + state.config.session_ttl;
    state
        .store
        .create_session(NewSession {
            token_hash: token.hash,
            user_id: user.id,
            expires_at,
        })
        .await
        .map_err(ApiError::internal)?;
    Ok((token.plaintext, expires_at))
}

/// Emails are compared lowercased; the check is deliberately loose (something@domain.tld):
/// the only real proof of an address is a message delivered to it.
fn normalise_email(email: Option<String>) -> ApiResult<String> {
    let email = email.unwrap_or_default().trim().to_lowercase();
    if email.is_empty() {
        return Err(ApiError::validation("email", "email is required"));
    }
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.rsplit_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if valid {
        Ok(email)
    } else {
        Err(ApiError::validation(
            "email",
            "email must be an address like name@example.com",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalise_email(Some(" Ada@Example.COM ".into())).unwrap(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@example.",
        ] {
            assert!(normalise_email(Some(bad.into())).is_err(), "{bad}");
        }
    }
}
