//! The embedded word lists (see `data/build.py` and the crate README for where each
//! comes from), merged into one table from folded word to what is known about it, so a
//! candidate token costs one lookup.
//!
//! The table is open addressing keyed by a 64-bit hash of the folded word, without the
//! word itself: a lookup touches one cache line instead of also chasing the key's bytes
//! (the lists hold ~300,000 words, far more than the cache). `build.rs` builds it at
//! compile time, so a process pays nothing to start. A slot keeps 46 bits of the hash
//! next to the 18-bit entry: a word outside the lists matches a stored one with odds
//! of about 10^-13 per lookup, and the cost of such a miss is one word mistaken for
//! another.

/// The table `build.rs` made from `data/*.txt`: little-endian u64 slots.
const TABLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/lexicon.bin"));

/// Place kinds (`Entry::place`), weakest first: 1 city, 2 region or state, 3 country.
pub const COUNTRY: u8 = 3;

/// What the lists say about one folded word or phrase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Entry {
    /// First-name frequency class, 0 (not a first name) to 13 (extremely common).
    pub first: u8,
    /// A surname (US Census list).
    pub surname: bool,
    /// A place: 0 none, 1 city, 2 region or state, [`COUNTRY`].
    pub place: u8,
    /// The most words of a multi-word place starting with this word (0: none).
    pub head: u8,
    /// Word frequency, Zipf x 10 (0: rarer than Zipf 3.2, or not a word).
    pub zipf: u8,
}

pub struct Lexicon {
    slots: &'static [u8],
    mask: usize,
}

const ENTRY_BITS: u32 = 18;
const ENTRY_MASK: u64 = (1 << ENTRY_BITS) - 1;

fn unpack(v: u64) -> Entry {
    Entry {
        first: (v & 15) as u8,
        surname: (v >> 4) & 1 == 1,
        place: ((v >> 5) & 3) as u8,
        head: ((v >> 7) & 7) as u8,
        zipf: ((v >> 10) & 127) as u8,
    }
}

/// The hash shared with `build.rs` (one source file, included by both).
mod hashfn {
    include!("hash.rs");
}

/// The 64-bit hash every word-list lookup uses (the closed word classes too).
#[inline]
pub fn hash(word: &str) -> u64 {
    hashfn::hash_bytes(word.as_bytes())
}

impl Lexicon {
    /// The table is built at compile time: this is free.
    pub fn new() -> Lexicon {
        let n = (TABLE.len() / 8).max(1);
        // a power of two by construction; if it somehow were not, the mask would only
        // make lookups miss, never read out of bounds
        let p = if n.is_power_of_two() {
            n
        } else {
            n.next_power_of_two() / 2
        };
        Lexicon {
            slots: TABLE,
            mask: p - 1,
        }
    }

    #[inline]
    fn slot(&self, i: usize) -> u64 {
        self.slots
            .get(i * 8..i * 8 + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_le_bytes)
    }

    #[inline]
    pub fn get(&self, folded: &str) -> Entry {
        self.get_hashed(hash(folded))
    }

    /// Lookup by a precomputed [`hash`].
    #[inline]
    pub fn get_hashed(&self, h: u64) -> Entry {
        let tag = h & !ENTRY_MASK;
        let mut i = (tag >> 40) as usize & self.mask;
        // bounded: the table is never full, but a corrupt one must not spin forever
        for _ in 0..=self.mask {
            let s = self.slot(i);
            if s == 0 {
                return Entry::default();
            }
            if s & !ENTRY_MASK == tag {
                return unpack(s);
            }
            i = (i + 1) & self.mask;
        }
        Entry::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_load() {
        let lex = Lexicon::new();
        assert!(lex.get("john").first >= 9);
        assert!(lex.get("smith").surname);
        assert_eq!(lex.get("germany").place, COUNTRY);
        assert!(lex.get("the").zipf >= 70);
        assert!(lex.get("schwabisch").head >= 2);
        assert_eq!(lex.get("qqqzzzxx"), Entry::default());
    }
}
