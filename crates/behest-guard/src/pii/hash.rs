// The hash of the word tables, shared with `build.rs` (which includes this file), so the
// table built at compile time and the lookups at run time agree. Word-at-a-time mixing
// and a murmur3 finaliser; the top bit is always set so a hash never reads as an empty
// slot.

/// 64-bit hash of a folded word.
#[inline]
pub fn hash_bytes(b: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut h: u64 = 0x243F_6A88_85A3_08D3 ^ (b.len() as u64).wrapping_mul(K);
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let v = c.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x));
        h = (h ^ v).wrapping_mul(K).rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let v = rest.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x));
        h = (h ^ v).wrapping_mul(K).rotate_left(29);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h | (1 << 63)
}
