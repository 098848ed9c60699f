//! Writes the rank tables of the tokenizers Behest counts with (`o200k_base`,
//! `cl100k_base`) into `OUT_DIR`, in the compact layout of `src/bpe/table.rs`, from
//! the token lists `bpe-openai` ships. The binary then reads them in place: a few MB
//! in its read-only data, paged in as used, instead of the ~60 MB of automata that
//! crate builds in memory to encode at any interval (Behest only counts).

// The writer's half of the layout; the reader's functions go unused here.
#[allow(dead_code)]
#[path = "src/bpe/table.rs"]
mod table;

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    write_table(&bpe_openai::o200k_base().bpe, &out.join("o200k_base.ranks"))?;
    write_table(
        &bpe_openai::cl100k_base().bpe,
        &out.join("cl100k_base.ranks"),
    )?;
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=src/bpe/table.rs");
    Ok(())
}

fn write_table(
    bpe: &bpe_openai::byte_pair_encoding::BytePairEncoding,
    path: &PathBuf,
) -> std::io::Result<()> {
    let tokens = bpe.num_tokens() as u32;
    // At most half full: a miss (the common case inside a word being merged) ends at
    // the first empty slot soon.
    let bits = (tokens as u64 * 2).next_power_of_two().trailing_zeros();
    let mut pairs = vec![0u32; 65_536];
    let mut slots = vec![0u64; 1 << bits];
    let mut ends = Vec::with_capacity(tokens as usize);
    let mut bytes = Vec::new();
    for rank in 0..tokens {
        let token = bpe.token_bytes(rank);
        let hash = table::token_hash(token);
        let packed = table::pack(rank, bytes.len(), token.len(), hash).ok_or_else(|| {
            std::io::Error::other(format!("token {rank} does not fit a rank table's slot"))
        })?;
        if let &[a, b] = token {
            pairs[table::pair_index([a, b])] = rank + 1;
        }
        bytes.extend_from_slice(token);
        ends.push(bytes.len() as u32);
        let mut slot = table::slot(hash, bits);
        while slots[slot] != 0 {
            slot = (slot + 1) & ((1 << bits) - 1);
        }
        slots[slot] = packed;
    }
    let mut blob =
        Vec::with_capacity(table::SLOTS_AT + 8 * slots.len() + 4 * ends.len() + bytes.len());
    blob.extend_from_slice(table::MAGIC);
    blob.extend_from_slice(&tokens.to_le_bytes());
    blob.extend_from_slice(&bits.to_le_bytes());
    for pair in &pairs {
        blob.extend_from_slice(&pair.to_le_bytes());
    }
    for slot in &slots {
        blob.extend_from_slice(&slot.to_le_bytes());
    }
    for end in &ends {
        blob.extend_from_slice(&end.to_le_bytes());
    }
    blob.extend_from_slice(&bytes);
    std::fs::write(path, blob)
}
