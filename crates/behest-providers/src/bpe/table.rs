//! The layout of a rank table, shared by the build script that writes it and the
//! counter that reads it: a header (magic, number of tokens, log2 of the slots), the
//! rank + 1 (0: none) of every two-byte sequence as 65,536 `u32`s (a merge's first
//! lookups, each one read of a table that stays in cache), an open-addressing hash
//! table of `u64` slots, every token's end offset (`u32`, for
//! reading a token by its rank), and the tokens' bytes in rank order; all
//! little-endian, so the table is read in place from the binary.
//!
//! A slot holds all a lookup needs — the rank, where the token's bytes start, their
//! length, and 15 more bits of the hash — so a lookup reads one slot, and the token's
//! bytes only when length and hash bits agree: one or two cache misses, not three.

/// Marks a table in this layout.
pub const MAGIC: &[u8; 4] = b"BPE2";
/// The header: magic, number of tokens, log2 of the hash table's slots.
pub const HEADER_BYTES: usize = 12;
/// Where the hash table's slots start, after the two-byte table.
pub const SLOTS_AT: usize = HEADER_BYTES + 4 * 65_536;

/// Where the token end offsets start in a table of `1 << bits` slots.
pub fn ends_at(bits: u32) -> usize {
    SLOTS_AT + 8 * (1 << bits)
}

/// The two-byte table's index of `pair`.
pub fn pair_index(pair: [u8; 2]) -> usize {
    usize::from(u16::from_le_bytes(pair))
}

/// A slot's fields, low bits first: rank + 1 (0: empty), start, length, hash bits.
const RANK_BITS: u32 = 18;
const START_BITS: u32 = 23;
const LEN_BITS: u32 = 8;
const START_SHIFT: u32 = RANK_BITS;
const LEN_SHIFT: u32 = START_SHIFT + START_BITS;
const TAG_SHIFT: u32 = LEN_SHIFT + LEN_BITS;

/// The slot of the token of `rank` whose bytes start at `start`, `len` long, hashed to
/// `hash`; `None` when the table's fields cannot hold it. (The build script's.)
#[allow(dead_code)]
pub fn pack(rank: u32, start: usize, len: usize, hash: u64) -> Option<u64> {
    let fits = |n: u64, bits: u32| n < (1 << bits);
    let (rank, start, len) = (u64::from(rank) + 1, start as u64, len as u64);
    (fits(rank, RANK_BITS) && fits(start, START_BITS) && fits(len, LEN_BITS))
        .then(|| rank | start << START_SHIFT | len << LEN_SHIFT | tag(hash) << TAG_SHIFT)
}

/// The hash bits a slot keeps (the low ones: the slot index takes the top ones).
pub fn tag(hash: u64) -> u64 {
    hash & ((1 << (64 - TAG_SHIFT)) - 1)
}

/// Whether `slot` may hold a token of `len` bytes hashed to `hash`.
pub fn may_be(slot: u64, len: usize, hash: u64) -> bool {
    slot >> LEN_SHIFT == (len as u64 & ((1 << LEN_BITS) - 1)) | tag(hash) << LEN_BITS
}

/// A full slot's rank and the range of its token's bytes.
pub fn unpack(slot: u64) -> (u32, std::ops::Range<usize>) {
    let field = |shift: u32, bits: u32| ((slot >> shift) & ((1 << bits) - 1)) as usize;
    let start = field(START_SHIFT, START_BITS);
    let rank = field(0, RANK_BITS) as u32 - 1;
    (rank, start..start + field(LEN_SHIFT, LEN_BITS))
}

/// The hash of a token's bytes (FxHash's multiply-rotate over 8-byte words, the length
/// mixed in last). The table's slot is its top bits.
pub fn token_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut hash = 0u64;
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut buf = [0u8; 8];
        buf.copy_from_slice(word);
        hash = (hash.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut buf = [0u8; 8];
        buf[..tail.len()].copy_from_slice(tail);
        hash = (hash.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
    }
    (hash.rotate_left(5) ^ bytes.len() as u64).wrapping_mul(K)
}

/// The slot of `hash` in a table of `1 << bits` slots.
pub fn slot(hash: u64, bits: u32) -> usize {
    (hash >> (64 - bits)) as usize
}
