//! The rules of `POST .../auth/mint` that need no I/O: which user ids are acceptable,
//! which token lifetimes, and how a requested tier is spelled.

use serde::{Deserialize, Serialize};

/// Shortest and longest token lifetime a mint may ask for, in seconds.
pub const TTL_RANGE: std::ops::RangeInclusive<i64> = 60..=86_400;
/// Lifetime of a minted token when the request names none.
pub const DEFAULT_TTL: i64 = 3600;
/// Longest accepted `user_id`, in characters.
pub const MAX_USER_ID_CHARS: usize = 255;

/// User ids that name the platform or a placeholder rather than an end user. Compared
/// case-insensitively. `default` and `anonymous` are deliberately absent: the SDKs use
/// them as their fallback user id.
pub const RESERVED_USER_IDS: &[&str] = &[
    "admin",
    "administrator",
    "behest",
    "dashboard",
    "internal",
    "null",
    "root",
    "service",
    "system",
    "undefined",
    "*",
];

/// Why a `user_id` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserIdProblem {
    Empty,
    TooLong,
    ControlCharacter,
    Reserved,
}

impl UserIdProblem {
    pub fn message(self) -> &'static str {
        match self {
            UserIdProblem::Empty => "user_id must be 1-255 characters",
            UserIdProblem::TooLong => "user_id must be at most 255 characters",
            UserIdProblem::ControlCharacter => "user_id must not contain control characters",
            UserIdProblem::Reserved => "user_id is a reserved identifier",
        }
    }
}

/// Checks a `user_id` against the seed's rule: 1-255 chars, not reserved.
pub fn check_user_id(user_id: &str) -> Result<(), UserIdProblem> {
    let chars = user_id.chars().count();
    if chars == 0 || user_id.trim().is_empty() {
        return Err(UserIdProblem::Empty);
    }
    if chars > MAX_USER_ID_CHARS {
        return Err(UserIdProblem::TooLong);
    }
    if user_id.chars().any(char::is_control) {
        return Err(UserIdProblem::ControlCharacter);
    }
    if RESERVED_USER_IDS
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(user_id.trim()))
    {
        return Err(UserIdProblem::Reserved);
    }
    Ok(())
}

/// A tier as a mint request names it: by name, or (as the SDKs send it) by its index in
/// the project's tiers ordered by `sort_order`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TierRef {
    Index(i64),
    Name(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_id_rules() {
        assert_eq!(check_user_id("user-123"), Ok(()));
        assert_eq!(check_user_id("default"), Ok(()));
        assert_eq!(check_user_id(&"é".repeat(255)), Ok(()));
        assert_eq!(check_user_id(""), Err(UserIdProblem::Empty));
        assert_eq!(check_user_id("   "), Err(UserIdProblem::Empty));
        assert_eq!(check_user_id(&"a".repeat(256)), Err(UserIdProblem::TooLong));
        assert_eq!(check_user_id("a\nb"), Err(UserIdProblem::ControlCharacter));
        assert_eq!(check_user_id("Admin"), Err(UserIdProblem::Reserved));
        assert_eq!(check_user_id("system"), Err(UserIdProblem::Reserved));
    }

    #[test]
    fn tier_ref_accepts_names_and_indexes() {
        assert_eq!(
            serde_json::from_str::<TierRef>("2").unwrap(),
            TierRef::Index(2)
        );
        assert_eq!(
            serde_json::from_str::<TierRef>("\"gold\"").unwrap(),
            TierRef::Name("gold".into())
        );
    }
}

/// A minted token's `jti`: a UUID (version 8, RFC 9562's custom layout) whose first 64
/// bits carry the minting API key's tag ([`key_tag`]) and the rest random bits. So the
/// key's id travels in the token without a claim the SDKs do not know, and a revoked
/// key's tokens can be refused.
pub fn minted_jti(api_key: uuid::Uuid) -> uuid::Uuid {
    let mut bytes = *uuid::Uuid::new_v4().as_bytes();
    bytes[..8].copy_from_slice(&key_tag(api_key).to_be_bytes());
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The 60 bits of an API key id that [`minted_jti`] keeps (the version nibble is the
/// jti's own).
pub fn key_tag(api_key: uuid::Uuid) -> u64 {
    let mut head = [0u8; 8];
    head.copy_from_slice(&api_key.as_bytes()[..8]);
    u64::from_be_bytes(head) & !0x0000_0000_0000_F000
}

/// The key tag of a `jti` that [`minted_jti`] made; `None` for any other (a tenant's
/// SDK writes version-4 UUIDs).
pub fn jti_key_tag(jti: &str) -> Option<u64> {
    let id = uuid::Uuid::parse_str(jti).ok()?;
    (id.get_version_num() == 8).then(|| key_tag(id))
}

#[cfg(test)]
mod jti_tests {
    use super::*;

    #[test]
    fn a_minted_jti_is_a_unique_uuid_that_names_its_key() {
        let key = uuid::Uuid::new_v4();
        let (a, b) = (minted_jti(key), minted_jti(key));
        assert_ne!(a, b);
        assert_eq!(a.get_version_num(), 8);
        assert_eq!(jti_key_tag(&a.to_string()), Some(key_tag(key)));
        assert_ne!(
            jti_key_tag(&a.to_string()),
            Some(key_tag(uuid::Uuid::new_v4()))
        );
        assert_eq!(jti_key_tag(&uuid::Uuid::new_v4().to_string()), None);
        assert_eq!(jti_key_tag("not a uuid"), None);
    }
}
