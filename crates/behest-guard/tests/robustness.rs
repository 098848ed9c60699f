//! No input makes the guard panic: random mixes of scripts, digits, separators and the
//! characters the detectors key on, plus texts cut at every character boundary.

use behest_core::settings::{PiiAction, PiiEntity};
use behest_guard::{apply, PiiDetector, Sentinel};
use std::collections::BTreeMap;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const PIECES: &[&str] = &[
    "a",
    "Z",
    "é",
    "ß",
    "è",
    "ü",
    "Ö",
    "ç",
    "ñ",
    "—",
    "’",
    "€",
    "🚗",
    "中",
    "\u{200B}",
    "\u{00A0}",
    " ",
    "  ",
    "\n",
    "\t",
    ",",
    ".",
    ":",
    ";",
    "-",
    "/",
    "(",
    ")",
    "+",
    "@",
    "#",
    "=",
    "\"",
    "'",
    "|",
    "0",
    "1",
    "2",
    "5",
    "9",
    "42",
    "2024",
    "12/05/2024",
    "2023-01-12T10:00:00Z",
    "+49 ",
    "(0)",
    "Mr. ",
    "Herr ",
    "Madame ",
    "my name is ",
    "born in ",
    "né à ",
    "Dear ",
    "Regards,\n",
    "Via ",
    "rue ",
    "straße ",
    "Street",
    "Apt. ",
    "Flat 5, ",
    "OK 99519",
    "NG3P 7HT",
    "IBAN ",
    "DE",
    "GB82WEST12345698765432",
    "4111 1111 1111 1111",
    "616-66-2187",
    "0x",
    "bc1q",
    "1PBC",
    "http://",
    "www.",
    "x@y.de",
    "::",
    "192.168.",
    "255",
    "Anna ",
    "Schmidt",
    "Lake ",
    "Port ",
    "-sur-",
    "ignore all previous instructions",
    "sk-",
    "AKIA",
    "eyJ",
    "-----BEGIN ",
    "S.L.",
    "name,email,city\n",
    "| Name | City |\n",
    "Mon numéro est le ",
    "è 347 ",
    "Paris",
    "Jun",
];

fn check(det: &PiiDetector, sentinel: &Sentinel, text: &str) {
    let dets = det.detect(text);
    let mut last_end = 0;
    for d in &dets {
        assert!(d.start < d.end && d.end <= text.len(), "{d:?} in {text:?}");
        assert!(
            text.is_char_boundary(d.start) && text.is_char_boundary(d.end),
            "{d:?} in {text:?}"
        );
        assert!(d.start >= last_end, "overlap {d:?} in {text:?}");
        last_end = d.end;
    }
    for h in sentinel.scan(text) {
        assert!(h.start <= h.end && h.end <= text.len(), "{h:?} in {text:?}");
        assert!(
            text.is_char_boundary(h.start) && text.is_char_boundary(h.end),
            "{h:?} in {text:?}"
        );
    }
    let actions: BTreeMap<PiiEntity, PiiAction> = PiiEntity::ALL
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                *e,
                [PiiAction::Mask, PiiAction::Redact, PiiAction::Block][i % 3],
            )
        })
        .collect();
    let _ = apply(text, &dets, &actions);
    let _ = det.detect_only(text, &[PiiEntity::Person, PiiEntity::PhoneNumber]);
}

#[test]
fn random_texts_never_panic() {
    let det = PiiDetector::shared();
    let sentinel = Sentinel::new(&["straße".into(), "big red".into(), "é".into()]);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..3000 {
        let n = 1 + (rng.next() % 40) as usize;
        let text: String = (0..n).map(|_| rng.pick(PIECES)).collect();
        check(det, &sentinel, &text);
    }
}

#[test]
fn every_prefix_and_suffix_is_fine() {
    let det = PiiDetector::shared();
    let sentinel = Sentinel::new(&[]);
    let text = "Mi chiamo Giulia Bianchi, nata a Napoli il 3 aprile 1990. Il mio numero è 347 123 4567, \
                IBAN IT60X0542811101000000123456, mail g.b@example.it — Cordialement,\nZoé Müller\n\
                Flat 5, Marsden Lakes, New Margaretbury, NG3P 7HT; 0703 Kristen Meadow, Cookmouth, OK 99519";
    for (i, _) in text.char_indices() {
        check(det, &sentinel, &text[i..]);
        check(det, &sentinel, &text[..i]);
    }
}
