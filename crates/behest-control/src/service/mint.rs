//! Minting: an API key buys a short-lived RS256 JWT for one end user. The key is
//! checked before the body ([`authenticate`] first, then [`mint`]), so a caller without
//! a valid key learns nothing about what a valid body looks like.

use crate::error::{ControlError, ControlResult};
use crate::state::ControlState;
use behest_auth::api_key::{self, FormatError};
use behest_auth::claims::{Claims, AUDIENCE};
use behest_core::mint::{check_user_id, TierRef, DEFAULT_TTL, TTL_RANGE};
use behest_core::policy::ProjectPolicy;
use behest_core::{ProjectStatus, Role};
use behest_store::{ApiKey, Project};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Unknown fields are tolerated here (unlike dashboard routes): SDKs of several
/// versions call this, and a newer one may send a field we do not know yet.
#[derive(Debug, Default, Deserialize)]
pub struct MintInput {
    pub user_id: Option<String>,
    pub role: Option<String>,
    pub ttl: Option<i64>,
    pub tier: Option<TierRef>,
    pub session_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MintView {
    pub access_token: String,
    pub token_type: &'static str,
    pub project_id: Uuid,
    pub expires_in: i64,
    /// Same as `expires_in`; the SDKs read either.
    pub ttl: i64,
    pub session_id: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A valid API key and the project it belongs to.
pub struct KeyHolder {
    key: ApiKey,
    project: Project,
}

impl KeyHolder {
    pub fn role(&self) -> Role {
        self.key.role
    }

    pub fn project_id(&self) -> Uuid {
        self.project.id
    }
}

/// The API key a mint presents, or the seed's 401s: missing, invalid format, not found,
/// revoked, project suspended — and a key used on another project's host (`host_slug`).
pub async fn authenticate(
    ctl: &ControlState,
    presented: Option<&str>,
    host_slug: Option<&str>,
) -> ControlResult<KeyHolder> {
    let presented = presented.ok_or_else(|| {
        ControlError::unauthorized("missing API key: send Authorization: Bearer behest_sk_live_...")
    })?;
    let hash = api_key::lookup_hash(presented).map_err(|err| match err {
        FormatError::NotAnApiKey => {
            ControlError::unauthorized("invalid API key format: expected behest_sk_live_...")
        }
        FormatError::Malformed => {
            ControlError::unauthorized("invalid API key format: the key is damaged or truncated")
        }
    })?;
    let key = ctl
        .store
        .api_key_by_hash(&hash)
        .await?
        .filter(|k| behest_auth::constant_time_eq(&k.key_hash, &hash))
        .ok_or_else(|| ControlError::unauthorized("API key not found"))?;
    if key.revoked_at.is_some() {
        return Err(ControlError::unauthorized("API key has been revoked"));
    }
    let project = ctl
        .store
        .project(key.project_id)
        .await?
        .ok_or_else(|| ControlError::unauthorized("API key not found"))?;
    if project.status == ProjectStatus::Suspended {
        return Err(ControlError::unauthorized("project is suspended"));
    }
    if host_slug.is_some_and(|slug| slug != project.slug) {
        return Err(ControlError::unauthorized(
            "this API key belongs to another project",
        ));
    }
    Ok(KeyHolder { key, project })
}

/// Signs a token for `input.user_id` with the platform's current key.
pub async fn mint(
    ctl: &ControlState,
    holder: &KeyHolder,
    input: MintInput,
) -> ControlResult<MintView> {
    let KeyHolder { key, project } = holder;
    let user_id = input
        .user_id
        .ok_or_else(|| ControlError::invalid("user_id", "user_id is required"))?;
    check_user_id(&user_id)
        .map_err(|problem| ControlError::invalid("user_id", problem.message()))?;
    let role = match input.role.as_deref() {
        None => key.role,
        Some(raw) => raw.parse::<Role>().map_err(|_| {
            ControlError::invalid("role", "role must be one of user, dashboard-service, admin")
        })?,
    };
    if !key.role.may_grant(role) {
        return Err(ControlError::forbidden(format!(
            "an API key with role {} cannot mint {} tokens",
            key.role, role
        )));
    }
    let ttl = input.ttl.unwrap_or(DEFAULT_TTL);
    if !TTL_RANGE.contains(&ttl) {
        return Err(ControlError::invalid(
            "ttl",
            format!(
                "ttl must be between {} and {} seconds",
                TTL_RANGE.start(),
                TTL_RANGE.end()
            ),
        ));
    }
    let session_id = match input.session_id {
        None => Uuid::new_v4().to_string(),
        Some(sid)
            if (1..=255).contains(&sid.chars().count()) && !sid.chars().any(char::is_control) =>
        {
            sid
        }
        Some(_) => {
            return Err(ControlError::invalid(
                "session_id",
                "session_id must be 1-255 characters",
            ))
        }
    };
    let tier = match input.tier {
        Some(wanted) => deployed_tier(ctl, project, &wanted).await?,
        None => None,
    };

    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        tid: project.tenant_id,
        pid: project.id,
        uid: user_id,
        role: role.as_str().to_owned(),
        scp: Vec::new(),
        iss: ctl.config.issuer.clone(),
        aud: AUDIENCE.to_owned(),
        iat: now,
        nbf: now,
        exp: now + ttl,
        // The minting key travels in the jti (the claim set is the SDK's, unchanged):
        // revoking the key ends the token.
        jti: behest_core::mint::minted_jti(key.id).to_string(),
        sid: Some(session_id.clone()),
        tier,
    };
    let access_token = ctl.keyring.sign(&claims).map_err(ControlError::internal)?;
    touch(ctl, key).await;
    Ok(MintView {
        access_token,
        token_type: "Bearer",
        project_id: project.id,
        expires_in: ttl,
        ttl,
        session_id,
        expires_at: claims.exp,
    })
}

/// Records that `key` minted, for the dashboard's "last used". Best effort: the token
/// is already signed, and a store hiccup must not cost the caller it. A key whose time
/// (as read to authenticate it) is recent enough is not even asked about; the store
/// repeats the check in its UPDATE for replicas racing on one key.
async fn touch(ctl: &ControlState, key: &ApiKey) {
    let now = behest_store::now();
    if key
        .last_used_at
        .is_some_and(|at| at >= now - behest_store::LAST_USED_RESOLUTION)
    {
        return;
    }
    if let Err(err) = ctl.store.touch_api_key(key.id, now).await {
        // The key's id, never its hash or plaintext.
        tracing::warn!(key_id = %key.id, %err, "could not record the API key's last use");
    }
}

/// The tier a mint asked for, as the name of one of the project's deployed tiers (the
/// ones live traffic applies, found the way live traffic finds them); a tier the
/// project does not have is ignored (the quickstart sends `tier: 2` whether or not
/// tiers exist).
async fn deployed_tier(
    ctl: &ControlState,
    project: &Project,
    wanted: &TierRef,
) -> ControlResult<Option<TierRef>> {
    let deployed = ctl
        .store
        .settings(project.id)
        .await?
        .and_then(|row| row.deployed);
    let policy = ProjectPolicy::new(deployed, None);
    Ok(policy
        .tier_index(wanted)
        .and_then(|i| policy.tiers.get(i))
        .map(|tier| TierRef::Name(tier.name.clone())))
}
