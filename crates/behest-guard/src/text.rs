//! Text helpers shared by the detectors: accent and case folding (the one lookup key
//! for every word list), character classes, and byte-to-code-point offset conversion.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Appends `s` folded: lowercase, accents stripped (compatibility decomposition minus
/// combining marks), typographic apostrophes as `'`. `data/build.py` folds the word lists
/// the same way, so a folded token can be looked up directly.
pub fn fold_into(s: &str, out: &mut String) {
    for c in s.chars() {
        fold_char(c, out);
    }
}

/// One character, folded (see [`fold_into`]).
#[inline]
pub fn fold_char(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    match c {
        '\u{2019}' | '\u{2018}' | '\u{02BC}' => out.push('\''),
        // ß has no decomposition; keep it (build.py does the same).
        'ß' => out.push('ß'),
        _ => decompose_compatible(c, |d| {
            if !is_combining_mark(d) {
                for l in d.to_lowercase() {
                    out.push(l);
                }
            }
        }),
    }
}

/// A folded copy of `s`.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

/// The character that starts at byte `i` (`i` must be a char boundary).
#[inline]
pub fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|s| s.chars().next())
}

/// The character that ends at byte `i`.
#[inline]
pub fn char_before(text: &str, i: usize) -> Option<char> {
    text.get(..i).and_then(|s| s.chars().next_back())
}

/// Letters and digits of any script.
#[inline]
pub fn is_alnum(c: char) -> bool {
    c.is_alphanumeric()
}

/// Maps sorted byte offsets to code-point offsets in one pass over `text`.
pub struct CharOffsets<'a> {
    text: &'a str,
    byte: usize,
    chars: usize,
}

impl<'a> CharOffsets<'a> {
    pub fn new(text: &'a str) -> CharOffsets<'a> {
        CharOffsets {
            text,
            byte: 0,
            chars: 0,
        }
    }

    /// The code-point offset of byte offset `at`. Cheap when called with increasing
    /// offsets; restarts from the beginning otherwise.
    pub fn get(&mut self, at: usize) -> usize {
        if at < self.byte {
            self.byte = 0;
            self.chars = 0;
        }
        let bytes = self.text.as_bytes();
        let end = at.min(bytes.len());
        // Counting the bytes that do not continue a character counts code points.
        self.chars += bytes[self.byte..end]
            .iter()
            .filter(|&&b| (b & 0xC0) != 0x80)
            .count();
        self.byte = end;
        self.chars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        assert_eq!(fold("Gütersloh"), "gutersloh");
        assert_eq!(fold("Éléonore"), "eleonore");
        assert_eq!(fold("O’Brien"), "o'brien");
        assert_eq!(fold("Weißenfels"), "weißenfels");
        assert_eq!(fold("ＡＢＣ"), "abc");
    }

    #[test]
    fn offsets() {
        let t = "né à Zoé ok";
        let mut m = CharOffsets::new(t);
        assert_eq!(m.get(0), 0);
        assert_eq!(m.get(3), 2);
        assert_eq!(m.get(t.len()), 11);
        assert_eq!(m.get(1), 1);
    }
}
