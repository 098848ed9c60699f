//! Dashboard session tokens: opaque, random, stored only as their SHA-256.

use crate::{random_base62, sha256_hex};

pub const PREFIX: &str = "behest_sess_";

pub struct SessionToken {
    pub plaintext: String,
    pub hash: String,
}

pub fn generate() -> SessionToken {
    let plaintext = format!("{PREFIX}{}", random_base62(43));
    let hash = sha256_hex(&plaintext);
    SessionToken { plaintext, hash }
}

/// The lookup hash of a presented token, or `None` if it cannot be one of ours.
pub fn lookup_hash(presented: &str) -> Option<String> {
    let rest = presented.strip_prefix(PREFIX)?;
    (rest.len() == 43 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| sha256_hex(presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_distinct_and_parse_back() {
        let a = generate();
        let b = generate();
        assert_ne!(a.plaintext, b.plaintext);
        assert_eq!(lookup_hash(&a.plaintext), Some(a.hash));
        assert_eq!(lookup_hash("behest_sess_short"), None);
        assert_eq!(lookup_hash("Bearer x"), None);
    }
}
