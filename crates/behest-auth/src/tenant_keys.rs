//! Tenants' own signing keys (dashboard → Keys → Signing): the tenant's server signs
//! tokens locally with the private half, shown once as `behest_pk_` + PEM; we keep the
//! public half to verify them, for that tenant's projects only.

use crate::rsa_keys::{self, KeyError};

pub const PRIVATE_KEY_PREFIX: &str = "behest_pk_";
pub const KID_PREFIX: &str = "sk_";

pub struct NewTenantKey {
    pub kid: String,
    /// `behest_pk_` + PKCS#8 PEM: what the SDKs take as `BEHEST_KEY`.
    pub private_key: String,
    pub public_pem: String,
}

pub fn generate() -> Result<NewTenantKey, KeyError> {
    let pair = rsa_keys::generate()?;
    Ok(NewTenantKey {
        kid: format!("{KID_PREFIX}{}", crate::random_base62(24)),
        private_key: format!("{PRIVATE_KEY_PREFIX}{}", pair.private_pem),
        public_pem: pair.public_pem,
    })
}

/// Whether a kid has the shape we issue (checked before any lookup, so that a kid
/// carrying `../` or SQL never reaches a query or a log).
pub fn is_well_formed_kid(kid: &str) -> bool {
    kid.strip_prefix(KID_PREFIX)
        .is_some_and(|rest| rest.len() == 24 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kids_are_checked_for_shape() {
        assert!(is_well_formed_kid(&format!("sk_{}", "a".repeat(24))));
        assert!(!is_well_formed_kid("sk_../../etc/passwd"));
        assert!(!is_well_formed_kid("sk_' OR 1=1 --"));
        assert!(!is_well_formed_kid("pk_aaaaaaaaaaaaaaaaaaaaaaaa"));
    }
}
