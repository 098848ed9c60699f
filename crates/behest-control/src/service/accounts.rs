//! Dashboard accounts: signup (a user and a tenant they own), login, sessions, logout,
//! and who the signed-in user is.

use crate::error::{ControlError, ControlResult};
use crate::input::optional_name;
use crate::service::Actor;
use crate::state::ControlState;
use behest_auth::{password, session};
use behest_core::ErrorCode;
use behest_store::{NewAccount, NewSession, StoreError, User};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignupInput {
    pub email: Option<String>,
    pub password: Option<String>,
    pub tenant_name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SignupView {
    pub user_id: Uuid,
    pub tenant_id: Uuid,
    pub session_token: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginInput {
    pub email: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SessionView {
    pub session_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A valid dashboard session: its user, and the lookup hash of its token (for logout).
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub token_hash: String,
}

#[derive(Debug, Serialize)]
pub struct MeView {
    pub user: UserView,
    pub tenants: Vec<MembershipView>,
}

#[derive(Debug, Serialize)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MembershipView {
    pub id: Uuid,
    pub name: String,
    pub plan: &'static str,
    pub role: &'static str,
}

pub async fn signup(ctl: &ControlState, input: SignupInput) -> ControlResult<SignupView> {
    let email = normalise_email(input.email)?;
    let password = input.password.unwrap_or_default();
    let chars = password.chars().count();
    if !(password::MIN_LEN..=password::MAX_LEN).contains(&chars) {
        return Err(ControlError::invalid(
            "password",
            format!(
                "password must be {}-{} characters",
                password::MIN_LEN,
                password::MAX_LEN
            ),
        ));
    }
    let tenant_name = optional_name(input.tenant_name, "tenant_name", 100)?
        .unwrap_or_else(|| "Personal".to_owned());
    let password_hash = ctl
        .passwords
        .run(move || password::hash(&password))
        .await?
        .map_err(ControlError::internal)?;
    let (user, tenant) = ctl
        .store
        .create_account(NewAccount {
            email,
            password_hash,
            tenant_name,
        })
        .await
        .map_err(|err| match err {
            StoreError::Conflict(_) => ControlError::refused(
                ErrorCode::EmailTaken,
                "an account with this email already exists",
            )
            .with_param("email"),
            other => other.into(),
        })?;
    let started = start_session(ctl, &user).await?;
    Ok(SignupView {
        user_id: user.id,
        tenant_id: tenant.id,
        session_token: started.session_token,
        expires_at: started.expires_at,
    })
}

/// Signs in with email and password. `client` is the caller's address: failed attempts
/// are limited per account and per address ([`crate::sign_in_limits`]).
pub async fn login(
    ctl: &ControlState,
    input: LoginInput,
    client: Option<std::net::IpAddr>,
) -> ControlResult<SessionView> {
    let email = normalise_email(input.email)?;
    let password = input
        .password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ControlError::invalid("password", "password is required"))?;
    let attempt = ctl.sign_in.check(&email, client).await?;
    let user = ctl.store.user_by_email(&email).await?;
    // Verify against a decoy when the email is unknown: same work, same timing.
    let phc = user.as_ref().map_or_else(
        || password::decoy_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let matches = ctl
        .passwords
        .run(move || password::verify(&password, &phc))
        .await?;
    let Some(user) = user.filter(|_| matches) else {
        ctl.sign_in.failed(&attempt).await;
        return Err(ControlError::unauthorized("invalid email or password"));
    };
    ctl.sign_in.succeeded(&attempt).await;
    start_session(ctl, &user).await
}

/// The session a dashboard token opens, if it is valid and unexpired.
pub async fn session(ctl: &ControlState, token: &str) -> ControlResult<Session> {
    let invalid = || ControlError::unauthorized("invalid or expired session token");
    let token_hash = session::lookup_hash(token).ok_or_else(invalid)?;
    let user = ctl
        .store
        .session_user(&token_hash, Utc::now())
        .await?
        .ok_or_else(invalid)?;
    Ok(Session { user, token_hash })
}

pub async fn logout(ctl: &ControlState, session: &Session) -> ControlResult<()> {
    ctl.store.delete_session(&session.token_hash).await?;
    Ok(())
}

pub async fn me(ctl: &ControlState, actor: &Actor) -> ControlResult<MeView> {
    let user = actor.user()?;
    let memberships = ctl.store.memberships(user.id).await?;
    Ok(MeView {
        user: UserView {
            id: user.id,
            email: user.email.clone(),
            created_at: user.created_at,
        },
        tenants: memberships
            .iter()
            .map(|m| MembershipView {
                id: m.tenant.id,
                name: m.tenant.name.clone(),
                plan: m.tenant.plan.as_str(),
                role: m.role.as_str(),
            })
            .collect(),
    })
}

async fn start_session(ctl: &ControlState, user: &User) -> ControlResult<SessionView> {
    let token = session::generate();
    let expires_at = behest_store::now() + ctl.config.session_ttl;
    ctl.store
        .create_session(NewSession {
            token_hash: token.hash,
            user_id: user.id,
            expires_at,
        })
        .await?;
    Ok(SessionView {
        session_token: token.plaintext,
        expires_at,
    })
}

/// Emails are compared lowercased; the check is deliberately loose (something@domain.tld):
/// the only real proof of an address is a message delivered to it.
fn normalise_email(email: Option<String>) -> ControlResult<String> {
    let email = email.unwrap_or_default().trim().to_lowercase();
    if email.is_empty() {
        return Err(ControlError::invalid("email", "email is required"));
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
        Err(ControlError::invalid(
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
