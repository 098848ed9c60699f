//! Project API keys: `behest_sk_live_` + 30 random base62 chars + a 6-char base62
//! CRC32 of everything before it (GitHub's token format), so that a scanner — or our own
//! mint endpoint — recognises a mistyped or truncated key without a lookup. Only the
//! SHA-256 of the whole key is stored.

use crate::{random_base62, sha256_hex};

pub const PREFIX: &str = "behest_sk_live_";
const RANDOM_LEN: usize = 30;
const CHECKSUM_LEN: usize = 6;
/// Total length of a well-formed key.
pub const KEY_LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;

/// A freshly generated key: the plaintext (shown once) and what the store keeps.
pub struct GeneratedKey {
    pub plaintext: String,
    pub hash: String,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("hash", &self.hash)
            .finish_non_exhaustive()
    }
}

pub fn generate() -> GeneratedKey {
    let body = format!("{PREFIX}{}", random_base62(RANDOM_LEN));
    let plaintext = format!("{body}{}", checksum(&body));
    let hash = sha256_hex(&plaintext);
    GeneratedKey { plaintext, hash }
}

/// Why a presented key was refused before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    /// Not a `behest_sk_live_` key at all.
    NotAnApiKey,
    /// The right prefix, but the wrong length, characters or checksum.
    Malformed,
}

/// Checks a presented key's shape and checksum; returns its lookup hash.
pub fn lookup_hash(presented: &str) -> Result<String, FormatError> {
    let Some(rest) = presented.strip_prefix(PREFIX) else {
        return Err(FormatError::NotAnApiKey);
    };
    if presented.len() != KEY_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FormatError::Malformed);
    }
    let (body, sum) = presented.split_at(KEY_LEN - CHECKSUM_LEN);
    if checksum(body) != sum {
        return Err(FormatError::Malformed);
    }
    Ok(sha256_hex(presented))
}

/// What the dashboard shows of a key: the first 8 hex chars of its hash and "…".
pub fn display_prefix(hash: &str) -> String {
    let head: String = hash.chars().take(8).collect();
    format!("{head}…")
}

fn checksum(body: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut value = crc32fast::hash(body.as_bytes());
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = ALPHABET[(value % 62) as usize];
        value /= 62;
    }
    digits.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_to_their_hash() {
        let key = generate();
        assert!(key.plaintext.starts_with(PREFIX));
        assert_eq!(key.plaintext.len(), KEY_LEN);
        assert_eq!(lookup_hash(&key.plaintext), Ok(key.hash.clone()));
        assert_eq!(key.hash.len(), 64);
        assert!(!format!("{key:?}").contains(&key.plaintext));
    }

    #[test]
    fn a_changed_character_breaks_the_checksum() {
        let key = generate().plaintext;
        let mut bytes = key.clone().into_bytes();
        let i = PREFIX.len() + 3;
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(bytes).unwrap();
        assert_eq!(lookup_hash(&typo), Err(FormatError::Malformed));
        assert_eq!(
            lookup_hash(&key[..key.len() - 1]),
            Err(FormatError::Malformed)
        );
        assert_eq!(
            lookup_hash("behest_sk_live_abc"),
            Err(FormatError::Malformed)
        );
        assert_eq!(lookup_hash("sk-proj-123"), Err(FormatError::NotAnApiKey));
        assert_eq!(lookup_hash(&format!("{key}é")), Err(FormatError::Malformed));
    }

    #[test]
    fn display_prefix_is_eight_hex_chars_and_an_ellipsis() {
        assert_eq!(display_prefix("0123456789abcdef"), "01234567…");
    }
}
