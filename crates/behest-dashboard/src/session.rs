//! Who is looking at a page: the dashboard session from its cookie (the same session
//! the JSON login opens), the tenant they chose, and the CSRF token their forms carry.
//! The admin's sign-in is a second, separate cookie derived from `ADMIN_SECRET`.

use crate::page::PageError;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue};
use behest_control::service::accounts::{self, MembershipView, Session};
use behest_control::{Actor, ControlState};
use chrono::Utc;
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const SESSION_COOKIE: &str = "behest_session";
pub const TENANT_COOKIE: &str = "behest_tenant";
pub const ADMIN_COOKIE: &str = "behest_admin";
/// Before sign-in there is no session to bind a CSRF token to: the sign-in and sign-up
/// forms use a random value in this cookie instead (double submit).
pub const PRE_SESSION_COOKIE: &str = "behest_csrf";
/// How long an admin sign-in lasts.
const ADMIN_TTL_SECS: i64 = 12 * 3600;

/// A signed-in user on a dashboard page.
pub struct SignedIn {
    pub session: Session,
    pub session_token: String,
    pub tenants: Vec<MembershipView>,
    /// The tenant the pages act on: the cookie's choice if the user is still a member,
    /// else their first tenant.
    pub tenant: MembershipView,
}

impl SignedIn {
    pub fn actor(&self) -> Actor {
        Actor::User(self.session.user.clone())
    }

    /// The token every state-changing form of this session carries: bound to the
    /// session (a hash of its secret token), so another site cannot know it.
    pub fn csrf(&self) -> String {
        csrf_for(&self.session_token)
    }

    /// Refuses a form whose `_csrf` is not this session's.
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), PageError> {
        let expected = self.csrf();
        match presented {
            Some(token) if behest_auth::constant_time_eq(token, &expected) => Ok(()),
            _ => Err(PageError::Csrf),
        }
    }
}

pub fn csrf_for(secret: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"behest-dashboard-csrf\0")
        .chain_update(secret.as_bytes())
        .finalize();
    hex(&digest[..16])
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl<S> FromRequestParts<S> for SignedIn
where
    S: Send + Sync,
    ControlState: FromRef<S>,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
        let ctl = &ControlState::from_ref(state);
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(PageError::SignIn)?;
        let session = match accounts::session(ctl, token).await {
            Ok(session) => session,
            Err(behest_control::ControlError::Refused { .. }) => return Err(PageError::SignIn),
            Err(other) => return Err(other.into()),
        };
        let me = accounts::me(ctl, &Actor::User(session.user.clone())).await?;
        let chosen = cookie(&parts.headers, TENANT_COOKIE).and_then(|v| v.parse::<Uuid>().ok());
        let tenant = chosen
            .and_then(|id| me.tenants.iter().find(|t| t.id == id))
            .or_else(|| me.tenants.first())
            .cloned()
            .ok_or_else(|| PageError::Message("this account belongs to no tenant".into()))?;
        Ok(SignedIn {
            session,
            session_token: token.to_owned(),
            tenants: me.tenants,
            tenant,
        })
    }
}

/// A visitor who may or may not be signed in (the sign-in pages).
pub struct Visitor {
    pub signed_in: bool,
    /// The pre-session CSRF value, if the browser already has one.
    pub pre_session: Option<String>,
    pub secure: bool,
    /// The caller's address as the connection saw it (never `X-Forwarded-For`): the
    /// sign-in limits count failures per address.
    pub client: Option<std::net::IpAddr>,
}

impl<S: Send + Sync> FromRequestParts<S> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Visitor {
            signed_in: cookie(&parts.headers, SESSION_COOKIE).is_some(),
            pre_session: cookie(&parts.headers, PRE_SESSION_COOKIE)
                .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(str::to_owned),
            secure: is_https(&parts.headers),
            client: parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|info| info.0.ip()),
        })
    }
}

/// The value of one cookie of the request.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// Whether the browser reached us over https (directly, or through the TLS proxy in
/// front, which says so). It only decides the cookies' `Secure` flag: a lie makes the
/// browser refuse to send the cookie back over http, nothing worse.
pub fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
        || headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("https://"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure over https; `max_age`
/// `None` deletes the cookie.
pub fn set_cookie(name: &str, value: &str, max_age: Option<i64>, secure: bool) -> HeaderValue {
    let age = max_age.unwrap_or(0);
    let value = if max_age.is_some() { value } else { "" };
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("behest_invalid=; Max-Age=0"))
}

/// The admin cookie's value: an expiry and a hash over it and the secret, so the
/// cookie proves the secret was presented without carrying it, and rotating the secret
/// signs every admin out.
pub fn admin_cookie_value(secret: &str, expires: i64) -> String {
    let digest = Sha256::new()
        .chain_update(b"behest-dashboard-admin\0")
        .chain_update(secret.as_bytes())
        .chain_update(expires.to_be_bytes())
        .finalize();
    format!("{expires}.{}", hex(&digest))
}

pub fn new_admin_cookie(secret: &str) -> (String, i64) {
    let expires = Utc::now().timestamp() + ADMIN_TTL_SECS;
    (admin_cookie_value(secret, expires), ADMIN_TTL_SECS)
}

/// Whether the request carries a valid, unexpired admin sign-in.
pub fn is_admin(headers: &HeaderMap, ctl: &ControlState) -> bool {
    let (Some(secret), Some(value)) = (
        ctl.config.admin_secret.as_deref(),
        cookie(headers, ADMIN_COOKIE),
    ) else {
        return false;
    };
    let Some(expires) = value
        .split_once('.')
        .and_then(|(e, _)| e.parse::<i64>().ok())
    else {
        return false;
    };
    expires > Utc::now().timestamp()
        && behest_auth::constant_time_eq(value, &admin_cookie_value(secret, expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("x_behest_session=no; behest_session=yes; behest_tenant="),
        );
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("yes"));
        assert_eq!(cookie(&headers, TENANT_COOKIE), None);
        assert_eq!(cookie(&headers, ADMIN_COOKIE), None);
    }

    #[test]
    fn csrf_tokens_are_per_session_and_admin_cookies_per_secret() {
        assert_ne!(csrf_for("session-a"), csrf_for("session-b"));
        assert_eq!(csrf_for("session-a").len(), 32);
        let (value, _) = new_admin_cookie("s3cret");
        let expires: i64 = value.split_once('.').unwrap().0.parse().unwrap();
        assert_eq!(value, admin_cookie_value("s3cret", expires));
        assert_ne!(value, admin_cookie_value("other", expires));
        assert!(!value.contains("s3cret"));
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_over_https() {
        let plain = set_cookie(SESSION_COOKIE, "tok", Some(60), false);
        assert_eq!(
            plain.to_str().unwrap(),
            "behest_session=tok; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"
        );
        let secure = set_cookie(SESSION_COOKIE, "tok", None, true);
        assert!(secure.to_str().unwrap().ends_with("Max-Age=0; Secure"));
        assert!(secure.to_str().unwrap().starts_with("behest_session=;"));
    }
}
