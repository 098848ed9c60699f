//! Dashboard passwords, hashed with Argon2id (PHC string format). Hashing is CPU-bound:
//! callers run these on a blocking thread.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 256;

/// Argon2id's memory cost for new hashes, in KiB: 7 MiB with 5 passes, the lowest-memory
/// of OWASP's equivalent settings (19 MiB × 2, 12 MiB × 3, 9 MiB × 4, 7 MiB × 5, one
/// lane each; "an equal level of defense", the difference being RAM against CPU). The
/// gateway serves traffic in the same process, where every MiB a sign-in holds counts
/// against its peak memory and an allocator keeps a hashing thread's memory for reuse.
pub const MEMORY_KIB: u32 = 7 * 1024;
/// Argon2id's passes over that memory.
pub const PASSES: u32 = 5;

/// The hasher for new hashes.
fn hasher() -> Argon2<'static> {
    // The constants are within Argon2's ranges, so `new` cannot fail; the default is the
    // fallback the type system asks for.
    let params = Params::new(MEMORY_KIB, PASSES, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(hasher()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Whether `password` matches `phc`, at the cost `phc` itself names (hashes made with
/// earlier settings keep verifying). A malformed stored hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            hasher()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A valid hash of a password nobody has, verified against when the email is unknown
/// so that a login's timing does not reveal which emails are registered.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash("decoy password that matches nothing").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password() {
        let phc = hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify("correct horse", &phc));
        assert!(!verify("wrong horse", &phc));
        assert!(!verify("correct horse", "not a phc string"));
        assert!(!verify("anything", decoy_hash()));
    }

    #[test]
    fn new_hashes_name_the_configured_cost() {
        let phc = hash("correct horse").unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        let params = Params::try_from(&parsed).unwrap();
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (MEMORY_KIB, PASSES, 1)
        );
    }

    #[test]
    fn hashes_made_with_the_earlier_default_still_verify() {
        // Argon2::default() is what hashes were made with before (19 MiB, 2 passes).
        let salt = SaltString::generate(&mut OsRng);
        let old = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(old.contains("m=19456,t=2,p=1"), "{old}");
        assert!(verify("correct horse", &old));
        assert!(!verify("wrong horse", &old));
    }
}
