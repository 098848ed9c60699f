//! A count-only byte-pair encoder: how many tokens OpenAI's `o200k_base` and
//! `cl100k_base` make of a text, exactly as tiktoken counts them, from rank tables the
//! build script writes into the binary (`build.rs`, layout in [`table`]).
//!
//! Why not `bpe-openai` itself (which the build script takes the token lists from, and
//! the tests count against): it builds three Aho-Corasick automata per tokenizer so it
//! can encode any interval of a text; loaded, the two tokenizers held ~58 MB of heap
//! and ~40 MB of the binary's pages. Counting needs only the ranks: ~9 MB for both,
//! read in place, nothing to load.
//!
//! The text is first split as tiktoken splits it (the tokenizer's regex; its negative
//! look-ahead `\s+(?!\S)` written as a pattern that matches one character more, which
//! the split drops, as `bpe-openai` does), then each piece is merged: a piece that is a
//! token is one; otherwise the adjacent pair whose merge has the lowest rank is merged
//! first, the leftmost on ties, until no pair merges (tiktoken's algorithm, with a heap
//! for long pieces so a megabyte without a space costs n log n, not n²).

mod table;

use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::LazyLock;

/// Pieces up to this long are merged by scanning for the lowest rank (quadratic, but
/// with no allocation); longer ones with a heap.
const SCAN_MAX: usize = 128;

static O200K_BASE: LazyLock<Tokenizer> = LazyLock::new(|| {
    let words = [
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"\s*[\r\n]+",
        r"\s+$",
    ]
    .join("|");
    Tokenizer::new(
        include_bytes!(concat!(env!("OUT_DIR"), "/o200k_base.ranks")),
        &words,
    )
});

static CL100K_BASE: LazyLock<Tokenizer> = LazyLock::new(|| {
    Tokenizer::new(
        include_bytes!(concat!(env!("OUT_DIR"), "/cl100k_base.ranks")),
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+$",
    )
});

/// GPT-4o, GPT-4.1, GPT-5 and the o-series' tokenizer.
pub fn o200k_base() -> &'static Tokenizer {
    &O200K_BASE
}

/// GPT-4 and GPT-3.5's tokenizer.
pub fn cl100k_base() -> &'static Tokenizer {
    &CL100K_BASE
}

/// A tokenizer that counts: its split regex and its ranks.
pub struct Tokenizer {
    ranks: Ranks,
    /// The words pattern, then `\s+\s` (the look-ahead, one character too many), then
    /// `\s+`: the pattern that matched says whether to drop the last character.
    split: Option<Regex>,
}

/// Pattern index of the look-ahead pattern in [`Tokenizer::split`].
const LOOKAHEAD_PATTERN: usize = 1;

impl Tokenizer {
    fn new(table: &'static [u8], words: &str) -> Tokenizer {
        let split = Regex::new_many(&[words, r"\s+\s", r"\s+"]);
        debug_assert!(split.is_ok(), "the split patterns are valid");
        Tokenizer {
            ranks: Ranks::new(table),
            split: split.ok(),
        }
    }

    /// The tokens `text` encodes to.
    pub fn count(&self, text: &str) -> usize {
        self.pieces(text).map(|piece| self.ranks.count(piece)).sum()
    }

    /// `text` as tiktoken splits it before merging.
    fn pieces<'a>(&'a self, text: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        let mut at = 0;
        std::iter::from_fn(move || {
            let rest = &text[at..];
            if rest.is_empty() {
                return None;
            }
            let matched = self
                .split
                .as_ref()
                .and_then(|split| split.find(Input::new(rest).anchored(Anchored::Yes)));
            // (No pattern matches nothing; were it to, the next character is a piece.)
            let first = rest.chars().next().map_or(1, char::len_utf8);
            let mut end = matched.map_or(rest.len(), |m| m.end()).max(first);
            if matched.is_some_and(|m| m.pattern().as_usize() == LOOKAHEAD_PATTERN) {
                // `\s+\s` stands for `\s+(?!\S)`: give the last whitespace back.
                let last = rest[..end].chars().next_back().map_or(0, char::len_utf8);
                if end > last {
                    end -= last;
                }
            }
            let piece = &rest.as_bytes()[..end];
            at += end;
            Some(piece)
        })
    }
}

/// A rank table read in place (see [`table`]).
struct Ranks {
    data: &'static [u8],
    bits: u32,
    bytes_at: usize,
}

impl Ranks {
    fn new(data: &'static [u8]) -> Ranks {
        debug_assert_eq!(&data[..4], table::MAGIC);
        let tokens = u32_at(data, 4) as usize;
        let bits = u32_at(data, 8);
        Ranks {
            data,
            bits,
            bytes_at: table::ends_at(bits) + 4 * tokens,
        }
    }

    /// The bytes of the token of `rank`.
    #[cfg(test)]
    fn token(&self, rank: usize) -> &'static [u8] {
        let data = self.data;
        let ends_at = table::ends_at(self.bits);
        let end = u32_at(data, ends_at + 4 * rank) as usize;
        let start = match rank {
            0 => 0,
            _ => u32_at(data, ends_at + 4 * (rank - 1)) as usize,
        };
        &data[self.bytes_at + start..self.bytes_at + end]
    }

    /// The rank of the token `bytes` are, if they are one.
    fn rank(&self, bytes: &[u8]) -> Option<u32> {
        let mask = (1usize << self.bits) - 1;
        let hash = table::token_hash(bytes);
        let mut slot = table::slot(hash, self.bits);
        loop {
            let entry = u64_at(self.data, table::SLOTS_AT + 8 * slot);
            if entry == 0 {
                return None;
            }
            if table::may_be(entry, bytes.len(), hash) {
                let (rank, range) = table::unpack(entry);
                let token = &self.data[self.bytes_at + range.start..self.bytes_at + range.end];
                if token == bytes {
                    return Some(rank);
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The rank of `bytes`, `u32::MAX` (never merged) when they are no token.
    fn merge_rank(&self, bytes: &[u8]) -> u32 {
        if let &[a, b] = bytes {
            let at = table::HEADER_BYTES + 4 * table::pair_index([a, b]);
            return u32_at(self.data, at).wrapping_sub(1);
        }
        self.rank(bytes).unwrap_or(u32::MAX)
    }

    /// The tokens one split piece encodes to.
    fn count(&self, piece: &[u8]) -> usize {
        match piece.len() {
            0 => 0,
            // Every byte is a token.
            1 => 1,
            _ if self.merge_rank(piece) != u32::MAX => 1,
            n if n <= SCAN_MAX => self.count_by_scan(piece),
            _ => self.count_by_heap(piece),
        }
    }

    /// tiktoken's merge loop: each part knows where the next starts and the rank of
    /// merging with it; the lowest (leftmost on ties) merges until none does. The parts
    /// are a list linked through `next` in fixed arrays, so a merge moves nothing.
    fn count_by_scan(&self, piece: &[u8]) -> usize {
        let n = piece.len();
        let mut next = [0u8; SCAN_MAX + 1];
        let mut ranks = [u32::MAX; SCAN_MAX + 1];
        for i in 0..n {
            next[i] = (i + 1) as u8;
            if i + 1 < n {
                ranks[i] = self.merge_rank(&piece[i..i + 2]);
            }
        }
        let mut parts = n;
        loop {
            // The lowest rank, the part it starts at and the part before that.
            let (mut lowest, mut at, mut before) = (u32::MAX, 0, None);
            let (mut part, mut previous) = (0, None);
            while part < n {
                if ranks[part] < lowest {
                    (lowest, at, before) = (ranks[part], part, previous);
                }
                previous = Some(part);
                part = next[part] as usize;
            }
            if lowest == u32::MAX {
                return parts;
            }
            // Part `at` absorbs the next: the pairs it and the part before it make change.
            next[at] = next[next[at] as usize];
            parts -= 1;
            let following = next[at] as usize;
            ranks[at] = match following {
                _ if following < n => self.merge_rank(&piece[at..next[following] as usize]),
                _ => u32::MAX,
            };
            if let Some(before) = before {
                ranks[before] = self.merge_rank(&piece[before..following]);
            }
        }
    }

    /// The same merges in the same order for a long piece: the candidate pairs in a
    /// min-heap keyed by (rank, start), parts in a linked list; a candidate whose pair
    /// has since grown is stale (a pair's end only ever moves right).
    fn count_by_heap(&self, piece: &[u8]) -> usize {
        let n = piece.len();
        // next[i]: where the part starting at i ends; prev[i]: where the part before it
        // starts. Only entries of parts still standing are meaningful.
        let mut next: Vec<usize> = (1..=n).collect();
        let mut prev: Vec<usize> = (0..n).map(|i| i.saturating_sub(1)).collect();
        let mut standing = vec![true; n];
        let mut heap = BinaryHeap::with_capacity(n);
        for i in 0..n - 1 {
            let rank = self.merge_rank(&piece[i..i + 2]);
            if rank != u32::MAX {
                heap.push(Reverse((rank, i, i + 2)));
            }
        }
        let mut parts = n;
        while let Some(Reverse((_, i, end))) = heap.pop() {
            if !standing[i] || next[i] >= n || next[next[i]] != end {
                continue;
            }
            let absorbed = next[i];
            standing[absorbed] = false;
            next[i] = end;
            if end < n {
                prev[end] = i;
                let rank = self.merge_rank(&piece[i..next[end]]);
                if rank != u32::MAX {
                    heap.push(Reverse((rank, i, next[end])));
                }
            }
            if i > 0 {
                let before = prev[i];
                let rank = self.merge_rank(&piece[before..end]);
                if rank != u32::MAX {
                    heap.push(Reverse((rank, before, end)));
                }
            }
            parts -= 1;
        }
        parts
    }

    #[cfg(test)]
    fn tokens(&self) -> usize {
        u32_at(self.data, 4) as usize
    }
}

/// The little-endian `u32` at byte `at`.
fn u32_at(data: &[u8], at: usize) -> u32 {
    let b = &data[at..at + 4];
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// The little-endian `u64` at byte `at`.
fn u64_at(data: &[u8], at: usize) -> u64 {
    let b = &data[at..at + 8];
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts of every kind the split and the merges meet: prose, code, numbers,
    /// whitespace runs, scripts other than Latin, emoji, and long runs without a split.
    fn corpus() -> Vec<String> {
        let mut texts: Vec<String> = vec![
            String::new(),
            "hello world".into(),
            "tiktoken is great!".into(),
            "  leading and trailing spaces   ".into(),
            "line one\nline two\r\n\r\n\n   \n\tindented\t\ttabs".into(),
            "I'm sure they'll say it's John's DOG'S ball, we've done it, I'd".into(),
            "1234567890 3.14159 +49 (0)30 1234-5678 0x7fffffff 1e-9".into(),
            "Größe, Straße, naïve café, Ærøskøbing, İstanbul, ΑΘΗΝΑ, Москва".into(),
            "日本語のテキスト、中文文本，한국어 텍스트 ٱلْعَرَبِيَّة हिन्दी".into(),
            "emoji 👩‍👩‍👧‍👦 🇩🇪 ✔️ 🤖🤖🤖 and symbols ∑∫√ ≠ ≤".into(),
            "fn main() { let x: Vec<u8> = vec![1, 2, 3]; println!(\"{x:?}\"); }".into(),
            "https://example.com/path/to/page?query=1&other=two#frag //comments/".into(),
            "a".repeat(300),
            "ab".repeat(200),
            "Z".repeat(129),
            "ż".repeat(150),
            " ".repeat(200),
            "\n".repeat(150),
            "xyzzy".repeat(60),
            "9".repeat(400),
            "supercalifragilisticexpialidocious antidisestablishmentarianism".into(),
            "aGVsbG8gd29ybGQgdGhpcyBpcyBhIGJhc2U2NCBibG9iIG9mIHRleHQgdGhhdCBnb2VzIG9u".repeat(4),
        ];
        // Repository prose, if the test runs from the workspace.
        for path in ["../../README.md", "../../../shared/spec/contract.md"] {
            if let Ok(text) = std::fs::read_to_string(path) {
                texts.extend(text.split("\n\n").map(str::to_owned));
                texts.push(text);
            }
        }
        // Pseudo-random byte soup from a small alphabet of multi-byte characters.
        let alphabet: Vec<char> = "aé ü\n\tZ9'ßあ😀-_.,!".chars().collect();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for len in [5, 17, 64, 127, 128, 129, 255, 1000] {
            let text: String = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            texts.push(text);
        }
        texts
    }

    #[test]
    fn counts_equal_bpe_openai_on_every_text() {
        let pairs = [
            (o200k_base(), bpe_openai::o200k_base()),
            (cl100k_base(), bpe_openai::cl100k_base()),
        ];
        for text in corpus() {
            for (ours, theirs) in pairs {
                assert_eq!(ours.count(&text), theirs.count(text.as_str()), "{text:?}");
            }
        }
    }

    #[test]
    fn pieces_are_split_as_bpe_openai_splits_them() {
        for text in corpus() {
            let ours: Vec<&[u8]> = o200k_base().pieces(&text).collect();
            let theirs: Vec<&[u8]> = bpe_openai::o200k_base()
                .split(&text)
                .map(str::as_bytes)
                .collect();
            assert_eq!(ours, theirs, "{text:?}");
        }
    }

    #[test]
    fn the_tables_hold_every_token_at_its_rank() {
        for (ours, theirs) in [
            (o200k_base(), bpe_openai::o200k_base()),
            (cl100k_base(), bpe_openai::cl100k_base()),
        ] {
            assert_eq!(ours.ranks.tokens(), theirs.bpe.num_tokens());
            for rank in 0..ours.ranks.tokens() as u32 {
                let bytes = theirs.bpe.token_bytes(rank);
                assert_eq!(ours.ranks.token(rank as usize), bytes);
                assert_eq!(ours.ranks.rank(bytes), Some(rank));
            }
            assert_eq!(ours.ranks.rank(b"\xff\xfe not a token at all"), None);
            // The two-byte table agrees with the hash table on every pair.
            for pair in 0..=u16::MAX {
                let pair = pair.to_le_bytes();
                assert_eq!(
                    ours.ranks.merge_rank(&pair),
                    ours.ranks.rank(&pair).unwrap_or(u32::MAX)
                );
            }
        }
    }

    #[test]
    fn the_scan_and_the_heap_merge_alike() {
        let ranks = &o200k_base().ranks;
        for text in corpus() {
            for piece in o200k_base().pieces(&text) {
                if piece.len() >= 2 && piece.len() <= SCAN_MAX {
                    assert_eq!(
                        ranks.count_by_scan(piece),
                        ranks.count_by_heap(piece),
                        "{:?}",
                        String::from_utf8_lossy(piece)
                    );
                }
            }
        }
    }
}
