//! Detectors for entities with a shape: e-mail, URL, IP, crypto wallets, IBAN, cards,
//! SSN, passports and phone numbers. Each works on byte positions found by one pass
//! (runs of ASCII digits and of ASCII letters/digits) plus `memchr` for `@` and `:`, and
//! validates before it reports (checksums, ranges, context words), so look-alikes stay
//! out. Look-alikes it recognises (hashes, UUIDs, Luhn-failing card numbers, bad IBANs)
//! become *exclusion zones* that no other detector may report inside.

use super::checks;
use super::{Scan, Want};
use behest_core::settings::PiiEntity;
use memchr::memmem::Finder;
use std::net::Ipv6Addr;
use std::str::FromStr;
use std::sync::LazyLock;

#[inline]
fn is_word_char_before(text: &str, i: usize) -> bool {
    crate::text::char_before(text, i).is_some_and(crate::text::is_alnum)
}

#[inline]
fn is_word_char_at(text: &str, i: usize) -> bool {
    crate::text::char_at(text, i).is_some_and(crate::text::is_alnum)
}

/// Runs of ASCII digits and of ASCII alphanumerics, found in one pass.
pub struct Runs {
    pub digits: Vec<(usize, usize)>,
    pub alnum: Vec<(usize, usize)>,
}

/// Byte classes for the run pass: 0 other, 1 letter, 2 digit, 3 hex letter, 5 uppercase
/// letter, 7 uppercase hex letter (bit 0: letter, bit 1: hex digit or letter, bit 2: upper).
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        t[i] = if c.is_ascii_digit() {
            2
        } else if c.is_ascii_uppercase() {
            if c <= b'F' {
                7
            } else {
                5
            }
        } else if c.is_ascii_lowercase() {
            if c <= b'f' {
                3
            } else {
                1
            }
        } else {
            0
        };
        i += 1;
    }
    t
};

pub fn runs(b: &[u8]) -> Runs {
    let mut digits = Vec::with_capacity(b.len() / 16 + 4);
    let mut alnum = Vec::with_capacity(b.len() / 16 + 4);
    let mut i = 0;
    let n = b.len();
    while i < n {
        if CLASS[b[i] as usize] == 0 {
            i += 1;
            continue;
        }
        // The run's classes ANDed: bit 0 clear means a digit is in it; for a run of
        // letters only, bit 1 says all hex, bit 2 all uppercase.
        let s = i;
        let mut all = 0xFF;
        while i < n {
            let k = CLASS[b[i] as usize];
            if k == 0 {
                break;
            }
            all &= k;
            i += 1;
        }
        let has_digit = all & 1 == 0;
        if has_digit {
            let mut j = s;
            while j < i {
                if CLASS[b[j] as usize] != 2 {
                    j += 1;
                    continue;
                }
                let ds = j;
                while j < i && CLASS[b[j] as usize] == 2 {
                    j += 1;
                }
                digits.push((ds, j));
            }
        }
        let all_hex = all & 2 != 0;
        let all_upper = all & 4 != 0;
        // Words without a digit can only matter as UUID segments ("beef") or as an IBAN's
        // bank-code group ("YMKU"): keep those.
        if has_digit || all_hex || (all_upper && i - s == 4) {
            alnum.push((s, i));
        }
    }
    Runs { digits, alnum }
}

// ------------------------------------------------------------------------------------
// e-mail and URL
// ------------------------------------------------------------------------------------

#[inline]
fn local_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

#[inline]
fn domain_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'.' || c == b'-'
}

pub fn emails(s: &mut Scan<'_>) {
    let text = s.text;
    let b = text.as_bytes();
    for at in memchr::memchr_iter(b'@', b) {
        let mut ls = at;
        while ls > 0 && local_byte(b[ls - 1]) {
            ls -= 1;
        }
        while ls < at && matches!(b[ls], b'.' | b'-' | b'+') {
            ls += 1;
        }
        if ls == at || b[at - 1] == b'.' || is_word_char_before(text, ls) {
            continue;
        }
        let mut de = at + 1;
        while de < b.len() && domain_byte(b[de]) {
            de += 1;
        }
        while de > at + 1 && matches!(b[de - 1], b'.' | b'-') {
            de -= 1;
        }
        let domain = &b[at + 1..de];
        let Some(dot) = domain.iter().rposition(|&c| c == b'.') else {
            continue;
        };
        let tld = &domain[dot + 1..];
        if tld.len() < 2
            || !tld.iter().all(u8::is_ascii_alphabetic)
            || domain.windows(2).any(|w| w == b"..")
            || domain.first() == Some(&b'-')
            || is_word_char_at(text, de)
        {
            continue;
        }
        // "xxx@xxx.xx", "aaa@aaa.com": a placeholder, not a mailbox
        let local = &b[ls..at];
        let first_label = &domain[..domain
            .iter()
            .position(|&c| c == b'.')
            .unwrap_or(domain.len())];
        let same = |x: &[u8]| x.len() >= 2 && x.iter().all(|&c| c == x[0]);
        if same(local) && same(first_label) {
            s.exclude(ls, de);
            continue;
        }
        // `git@host:org/repo.git` is an SSH remote, not a mailbox.
        if b.get(de) == Some(&b':') && &b[ls..at] == b"git" {
            s.exclude(ls, de);
            continue;
        }
        s.push(PiiEntity::EmailAddress, ls, de, 0.95);
    }
}

#[inline]
fn url_byte(c: u8) -> bool {
    c > b' '
        && c < 0x7f
        && !matches!(
            c,
            b'<' | b'>' | b'"' | b'`' | b'|' | b'\\' | b'^' | b'{' | b'}'
        )
}

fn count(hay: &[u8], c: u8) -> usize {
    memchr::memchr_iter(c, hay).count()
}

/// Where URLs may start: `http://`, `https://`, `ftp://` (found by their `://`, which
/// SIMD search finds fast; letters are too common to scan for) and `www.`. Returns
/// (start, end of the prefix, is www), sorted.
fn url_starts(b: &[u8]) -> Vec<(usize, usize, bool)> {
    // built once: a finder's set-up costs more than searching a short message
    static FINDERS: LazyLock<[Finder<'static>; 3]> = LazyLock::new(|| {
        [
            Finder::new(b"://"),
            Finder::new(b"www."),
            Finder::new(b"WWW."),
        ]
    });
    let [scheme_end, www, upper_www] = &*FINDERS;
    let mut out = Vec::new();
    for p in scheme_end.find_iter(b) {
        for scheme in [&b"https"[..], b"http", b"ftp"] {
            if p >= scheme.len() && b[p - scheme.len()..p].eq_ignore_ascii_case(scheme) {
                out.push((p - scheme.len(), p + 3, false));
                break;
            }
        }
    }
    for finder in [www, upper_www] {
        out.extend(finder.find_iter(b).map(|p| (p, p + 4, true)));
    }
    out.sort_unstable();
    out
}

pub fn urls(s: &mut Scan<'_>) {
    let text = s.text;
    let b = text.as_bytes();
    let mut last_end = 0;
    for (st, prefix_end, www) in url_starts(b) {
        if st < last_end {
            continue;
        }
        if st > 0 {
            let p = b[st - 1];
            if p.is_ascii_alphanumeric() || (www && matches!(p, b'.' | b'/' | b'@' | b'-')) {
                continue;
            }
            if is_word_char_before(text, st) {
                continue;
            }
        }
        let mut e = prefix_end;
        while e < b.len() && url_byte(b[e]) {
            e += 1;
        }
        // Trailing punctuation belongs to the sentence, a closing bracket only if unopened.
        while e > prefix_end {
            match b.get(e - 1) {
                Some(b'.' | b',' | b';' | b':' | b'!' | b'?' | b'\'' | b'*') => e -= 1,
                Some(b')') if count(&b[st..e], b')') > count(&b[st..e], b'(') => e -= 1,
                Some(b']') if count(&b[st..e], b']') > count(&b[st..e], b'[') => e -= 1,
                _ => break,
            }
        }
        let host = &b[prefix_end..e];
        let host_end = host
            .iter()
            .position(|&c| matches!(c, b'/' | b'?' | b'#'))
            .unwrap_or(host.len());
        let hostname = &host[..host_end];
        if hostname.len() < 3 || (www && !hostname.contains(&b'.')) {
            continue;
        }
        last_end = e;
        s.push(PiiEntity::Url, st, e, 0.9);
    }
}

// ------------------------------------------------------------------------------------
// IP addresses
// ------------------------------------------------------------------------------------

fn octet(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 3 || (b.len() > 1 && b[0] == b'0') {
        return None;
    }
    let v = b.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
    (v <= 255).then_some(v)
}

pub fn ipv4(s: &mut Scan<'_>, runs: &Runs) {
    let text = s.text;
    let b = text.as_bytes();
    let d = &runs.digits;
    let mut k = 0;
    while k + 3 < d.len() {
        let (s0, _) = d[k];
        let ok_chain = (0..3).all(|j| {
            let (_, e) = d[k + j];
            let (ns, _) = d[k + j + 1];
            ns == e + 1 && b[e] == b'.'
        });
        if !ok_chain {
            k += 1;
            continue;
        }
        let e3 = d[k + 3].1;
        let before_ok = s0 == 0 || {
            let p = b[s0 - 1];
            !(p.is_ascii_alphanumeric()
                || matches!(p, b'.' | b'/' | b'_' | b'-')
                || is_word_char_before(text, s0))
        };
        let after_ok = !(b.get(e3).is_some_and(|c| c.is_ascii_alphanumeric())
            || (b.get(e3) == Some(&b'.') && b.get(e3 + 1).is_some_and(u8::is_ascii_digit)));
        let octets: Option<Vec<u32>> = (0..4).map(|j| octet(&b[d[k + j].0..d[k + j].1])).collect();
        match (before_ok && after_ok, octets) {
            (true, Some(o)) => {
                let reserved = o[0] == 127 || o == [0, 0, 0, 0] || o == [255, 255, 255, 255];
                if reserved || version_context(text, s0) {
                    s.exclude(s0, e3);
                } else {
                    s.push(PiiEntity::IpAddress, s0, e3, 0.9);
                }
                k += 4;
            }
            _ => {
                // A dotted run that is no address (version, bad octet): keep it whole
                // out of the phone and date detectors.
                if before_ok {
                    s.exclude(s0, e3);
                }
                k += 1;
            }
        }
    }
}

pub fn version_context(text: &str, at: usize) -> bool {
    let lo = at.saturating_sub(12);
    let before = text.get(lo..at).unwrap_or("").to_ascii_lowercase();
    before.ends_with('v')
        || before.contains("version")
        || before.contains("build")
        || before.contains("release")
}

#[inline]
fn hexish(c: u8) -> bool {
    c.is_ascii_hexdigit() || c == b':' || c == b'.'
}

pub fn ipv6(s: &mut Scan<'_>) {
    let text = s.text;
    let b = text.as_bytes();
    let mut last_end = 0;
    for p in memchr::memchr_iter(b':', b) {
        if p < last_end {
            continue;
        }
        let mut st = p;
        while st > 0 && hexish(b[st - 1]) {
            st -= 1;
        }
        while st < p && b[st] == b'.' {
            st += 1;
        }
        let mut e = p;
        while e < b.len() && hexish(b[e]) {
            e += 1;
        }
        last_end = e;
        while e > p + 1 && matches!(b[e - 1], b'.') {
            e -= 1;
        }
        if e > p + 1 && b[e - 1] == b':' && b[e - 2] != b':' {
            e -= 1;
        }
        let cand = &text[st..e];
        if cand.bytes().filter(|&c| c == b':').count() < 2
            || is_word_char_before(text, st)
            || is_word_char_at(text, e)
            || cand.split(':').filter(|g| !g.is_empty()).count() < 3
        {
            continue;
        }
        if let Ok(addr) = Ipv6Addr::from_str(cand) {
            if addr.is_loopback() || addr.is_unspecified() {
                s.exclude(st, e);
            } else {
                s.push(PiiEntity::IpAddress, st, e, 0.9);
            }
        }
    }
}

// ------------------------------------------------------------------------------------
// tokens: crypto wallets, IBAN, passport numbers with a letter, hashes and UUIDs
// ------------------------------------------------------------------------------------

pub fn tokens(s: &mut Scan<'_>, runs: &Runs, want: Want) {
    let text = s.text;
    let b = text.as_bytes();
    let a = &runs.alnum;
    let mut k = 0;
    while k < a.len() {
        let (st, e) = a[k];
        k += 1;
        let tok = &b[st..e];
        let len = tok.len();
        let bounded = !is_word_char_before(text, st) && !is_word_char_at(text, e);
        // UUID: 8-4-4-4-12 hex
        if len == 8 && tok.iter().all(u8::is_ascii_hexdigit) && k + 3 < a.len() {
            let lens = [
                a[k].1 - a[k].0,
                a[k + 1].1 - a[k + 1].0,
                a[k + 2].1 - a[k + 2].0,
                a[k + 3].1 - a[k + 3].0,
            ];
            let joined = (0..4).all(|j| {
                let prev_end = if j == 0 { e } else { a[k + j - 1].1 };
                a[k + j].0 == prev_end + 1 && b[prev_end] == b'-'
            });
            if lens == [4, 4, 4, 12]
                && joined
                && (0..4).all(|j| b[a[k + j].0..a[k + j].1].iter().all(u8::is_ascii_hexdigit))
            {
                s.exclude(st, a[k + 3].1);
                k += 4;
                continue;
            }
        }
        if !bounded {
            continue;
        }
        if want.has(PiiEntity::Crypto) {
            if len == 42 && tok.starts_with(b"0x") && tok[2..].iter().all(u8::is_ascii_hexdigit) {
                s.push(PiiEntity::Crypto, st, e, 0.9);
                continue;
            }
            if (26..=35).contains(&len)
                && matches!(tok[0], b'1' | b'3')
                && checks::base58check(tok).is_some_and(|v| v == 0 || v == 5)
            {
                s.push(PiiEntity::Crypto, st, e, 0.95);
                continue;
            }
            if (14..=74).contains(&len)
                && (tok.starts_with(b"bc1") || tok.starts_with(b"tb1"))
                && checks::bech32_ok(tok)
            {
                s.push(PiiEntity::Crypto, st, e, 0.95);
                continue;
            }
        }
        if want.has(PiiEntity::IbanCode)
            && len >= 4
            && tok[..2].iter().all(u8::is_ascii_uppercase)
            && tok[2..4].iter().all(u8::is_ascii_digit)
        {
            if let Some(n) = checks::iban_length(&tok[..2]) {
                if let Some(end) = iban_at(b, a, k - 1, n) {
                    let compact: Vec<u8> =
                        b[st..end].iter().copied().filter(|c| *c != b' ').collect();
                    if checks::iban_mod97(&compact) {
                        s.push(PiiEntity::IbanCode, st, end, 1.0);
                    } else {
                        s.exclude(st, end);
                    }
                    while k < a.len() && a[k].0 < end {
                        k += 1;
                    }
                    continue;
                }
            }
        }
        // long hex (hashes, tx ids, commit ids) and 0x error codes: never PII
        let hex_body = if tok.starts_with(b"0x") {
            &tok[2..]
        } else {
            tok
        };
        if (hex_body.len() >= 16 || tok.starts_with(b"0x"))
            && hex_body.iter().all(u8::is_ascii_hexdigit)
            && hex_body.iter().any(u8::is_ascii_digit)
            && (tok.starts_with(b"0x") || hex_body.iter().any(u8::is_ascii_alphabetic))
        {
            s.exclude(st, e);
            continue;
        }
        if want.has(PiiEntity::UsPassport)
            && len == 9
            && tok[0].is_ascii_uppercase()
            && tok[1..].iter().all(u8::is_ascii_digit)
            && passport_context(text, st)
        {
            s.push(PiiEntity::UsPassport, st, e, 0.85);
        }
    }
}

/// The end of an IBAN of `n` characters starting at alnum run `k`: either one compact
/// run, or runs of 4 (the last shorter) separated by single spaces.
fn iban_at(b: &[u8], a: &[(usize, usize)], k: usize, n: usize) -> Option<usize> {
    let (st, e) = a[k];
    if e - st == n {
        return Some(e);
    }
    if e - st != 4 {
        return None;
    }
    let mut got = 4;
    let mut end = e;
    let mut j = k + 1;
    while got < n && j < a.len() {
        let (gs, ge) = a[j];
        if gs != end + 1 || b[end] != b' ' {
            return None;
        }
        let gl = ge - gs;
        if gl > 4
            || got + gl > n
            || !b[gs..ge]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return None;
        }
        if gl < 4 && got + gl != n {
            return None;
        }
        got += gl;
        end = ge;
        j += 1;
    }
    (got == n).then_some(end)
}

// ------------------------------------------------------------------------------------
// numbers: cards, SSN, passports, phone numbers
// ------------------------------------------------------------------------------------

/// The ASCII words in the few bytes before `at` on the same line, nearest first.
fn words_before(text: &str, at: usize, window: usize) -> impl Iterator<Item = &[u8]> {
    let b = text.as_bytes();
    let mut lo = at.saturating_sub(window);
    // never start inside a word: "Passport" cut to "port" would mean a port number
    while lo > 0 && lo < at && b[lo - 1].is_ascii_alphabetic() && b[lo].is_ascii_alphabetic() {
        lo += 1;
    }
    let mut seg = &b[lo..at];
    if let Some(nl) = memchr::memrchr(b'\n', seg) {
        seg = &seg[nl + 1..];
    }
    seg.rsplit(|c| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
}

/// A list of context stems (lowercase ASCII; a trailing `*` makes a stem match as a
/// prefix, "tele*" in "telefono", others only whole words, or "Pineau" would be a PIN),
/// bucketed by first letter: a word is compared only with the stems it could be.
struct Stems {
    by_first: [Vec<(&'static [u8], bool)>; 26],
}

impl Stems {
    fn new(stems: &[&'static str]) -> Stems {
        let mut by_first: [Vec<(&'static [u8], bool)>; 26] = Default::default();
        for st in stems {
            let (sb, prefix) = match st.strip_suffix('*') {
                Some(p) => (p.as_bytes(), true),
                None => (st.as_bytes(), false),
            };
            // words are runs of ASCII letters: a stem starting otherwise matches none
            if let Some(bucket) = sb
                .first()
                .filter(|c| c.is_ascii_lowercase())
                .and_then(|c| by_first.get_mut(usize::from(c - b'a')))
            {
                bucket.push((sb, prefix));
            }
        }
        Stems { by_first }
    }

    fn matches(&self, w: &[u8]) -> bool {
        let Some(bucket) = w.first().filter(|c| c.is_ascii_alphabetic()).and_then(|c| {
            self.by_first
                .get(usize::from(c.to_ascii_lowercase() - b'a'))
        }) else {
            return false;
        };
        bucket.iter().any(|&(sb, prefix)| {
            (if prefix {
                w.len() >= sb.len()
            } else {
                w.len() == sb.len()
            }) && w[..sb.len()].eq_ignore_ascii_case(sb)
        })
    }
}

/// How many words back (1 = nearest) the first word matching one of `stems` is. Only
/// the nearest eight words count.
fn any_word<'a>(words: impl Iterator<Item = &'a [u8]>, stems: &Stems) -> Option<usize> {
    words.take(8).position(|w| stems.matches(w)).map(|k| k + 1)
}

// Context words, lowercase ASCII; a trailing '*' makes a stem match as a prefix.
const PHONE_WORDS: &[&str] = &[
    "phone*",
    "tel",
    "tele*",
    "mobil*",
    "cell*",
    "call*",
    "reach",
    "dial*",
    "fax",
    "whatsapp",
    "sms",
    "portable",
    "movil",
    "handy",
    "ring",
    "llam*",
    "chiam*",
    "appel*",
    "rufnummer",
    "bel",
    "bellen",
    "gsm",
    "landline",
    "hotline",
    "tlf",
    "mob",
    "cel",
    "phones",
];
/// Words that suggest a phone number only when nothing suggests an identifier.
const WEAK_PHONE_WORDS: &[&str] = &[
    "numer*", "number*", "nummer*", "num", "contact*", "line", "text", "m", "t",
];
const NOT_PHONE_WORDS: &[&str] = &[
    "order*",
    "invoice*",
    "sku*",
    "serial*",
    "ref",
    "refs",
    "reference*",
    "tracking",
    "parcel*",
    "package*",
    "isbn",
    "ticket*",
    "case",
    "employee*",
    "build*",
    "version*",
    "bestell*",
    "commande*",
    "ordine*",
    "pedido*",
    "factura*",
    "fattura*",
    "rechnung*",
    "sendung*",
    "item*",
    "product*",
    "part",
    "model*",
    "policy",
    "id",
    "ids",
    "txn",
    "transaction*",
    "receipt*",
    "batch",
    "lot",
    "epoch",
    "timestamp*",
    "amount*",
    "total",
    "price*",
    "port",
    "pid",
    "uid",
    "pin",
    "iban",
    "bic",
    "swift",
    "routing",
    "personnel*",
    "matricol*",
    "personalnummer",
    "staff",
    "badge",
    "internal",
    "dossier",
    "expediente",
    "kundennummer",
    "auftrag*",
    "referenz*",
    "vorgang*",
];

const PASSPORT_WORDS: &[&str] = &[
    "passport*",
    "reisepass*",
    "passeport*",
    "passaporto",
    "pasaporte",
    "paspoort",
    "pass",
];

const CARD_WORDS: &[&str] = &[
    "card*",
    "carte",
    "karte",
    "tarjeta",
    "carta",
    "kaart",
    "visa",
    "mastercard",
    "maestro",
    "amex",
    "cc",
    "credit*",
    "debit*",
    "kreditkarte",
];

const SSN_WORDS: &[&str] = &["ssn", "social", "ss", "ssns"];

pub fn passport_context(text: &str, at: usize) -> bool {
    static STEMS: LazyLock<Stems> = LazyLock::new(|| Stems::new(PASSPORT_WORDS));
    any_word(words_before(text, at, 60), &STEMS).is_some()
}

fn card_context(text: &str, at: usize) -> bool {
    static STEMS: LazyLock<Stems> = LazyLock::new(|| Stems::new(CARD_WORDS));
    any_word(words_before(text, at, 48), &STEMS).is_some()
}

fn ssn_context(text: &str, at: usize) -> bool {
    static STEMS: LazyLock<Stems> = LazyLock::new(|| Stems::new(SSN_WORDS));
    any_word(words_before(text, at, 40), &STEMS).is_some()
}

/// A number as written: digit groups and what separates them.
struct Number {
    start: usize,
    end: usize,
    plus: bool,
    groups: Vec<(usize, usize)>,
    /// Separator bytes between groups, one string per gap (for the card/SSN shapes).
    seps: Vec<(usize, usize)>,
    trunk_paren: bool,
    parens: bool,
}

impl Number {
    fn digits(&self, b: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(20);
        for &(s, e) in &self.groups {
            out.extend_from_slice(&b[s..e]);
        }
        out
    }
    fn lens(&self) -> Vec<usize> {
        self.groups.iter().map(|(s, e)| e - s).collect()
    }
}

/// Reads a number written with separators starting at byte `st` (a digit, `+` or `(`).
fn read_number(b: &[u8], st: usize) -> Option<Number> {
    let mut i = st;
    let plus = b.get(i) == Some(&b'+');
    if plus {
        i += 1;
    }
    let mut groups = Vec::new();
    let mut seps = Vec::new();
    let mut depth = 0i32;
    let mut trunk_paren = false;
    let mut parens = false;
    loop {
        // separator run
        let ss = i;
        let mut spaces = 0;
        let mut d = depth;
        let mut opened = false;
        while i < b.len() && matches!(b[i], b' ' | b'-' | b'.' | b'(' | b')') && i - ss < 4 {
            match b[i] {
                b' ' => spaces += 1,
                b'(' => {
                    d += 1;
                    opened = true;
                }
                b')' => d -= 1,
                _ => {}
            }
            i += 1;
        }
        if spaces > 2 || !(0..=1).contains(&d) || i >= b.len() || !b[i].is_ascii_digit() {
            i = ss;
            break;
        }
        depth = d;
        parens |= opened;
        if !groups.is_empty() {
            seps.push((ss, i));
        }
        let gs = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        // "(0)" after a country code is the national trunk prefix
        if gs > 0 && b[gs - 1] == b'(' && i - gs == 1 && b[gs] == b'0' && b.get(i) == Some(&b')') {
            trunk_paren = true;
        }
        groups.push((gs, i));
        if groups.len() > 8 {
            break;
        }
    }
    // a closing bracket right after the last group belongs to the number
    let mut end = i;
    if depth == 1 && b.get(end) == Some(&b')') {
        end += 1;
        depth = 0;
    }
    if groups.is_empty() || depth != 0 {
        // unbalanced "(": drop the leading bracket and retry from the digit
        if b.get(st) == Some(&b'(') {
            return read_number(b, st + 1);
        }
        return None;
    }
    Some(Number {
        start: st,
        end,
        plus,
        groups,
        seps,
        trunk_paren,
        parens,
    })
}

pub fn numbers(s: &mut Scan<'_>, runs: &Runs, want: Want) {
    let text = s.text;
    let b = text.as_bytes();
    let mut next_free = 0;
    for &(ds, de) in &runs.digits {
        if ds < next_free {
            continue;
        }
        // where the number starts: "+", "(" or the digit itself
        let mut st = ds;
        if ds >= 1 && b[ds - 1] == b'+' {
            st = ds - 1;
        } else if ds >= 1 && b[ds - 1] == b'(' {
            st = ds - 1;
            if st >= 1 && b[st - 1] == b'+' {
                st -= 1;
            }
        }
        if st > 0 {
            let p = b[st - 1];
            let pp = if st > 1 { b[st - 2] } else { b' ' };
            if p.is_ascii_alphanumeric()
                || matches!(p, b'#' | b'_' | b'/' | b'\\' | b'$')
                || (matches!(p, b'-' | b'.') && pp.is_ascii_alphanumeric())
                || (matches!(p, b':' | b',') && pp.is_ascii_digit())
                || is_word_char_before(text, st)
            {
                next_free = de;
                continue;
            }
        }
        let Some(num) = read_number(b, st) else {
            next_free = de;
            continue;
        };
        let end = num.end;
        next_free = end;
        // the number must end the token: not glued to letters or continued by -x/.x
        if is_word_char_at(text, end)
            || (matches!(b.get(end), Some(b'-' | b'/' | b'_' | b'.'))
                && b.get(end + 1).is_some_and(u8::is_ascii_alphanumeric))
            || (matches!(b.get(end), Some(b',' | b':'))
                && b.get(end + 1).is_some_and(u8::is_ascii_digit))
        {
            continue;
        }
        if s.excluded(num.start, end) {
            continue;
        }
        classify(s, &num, want);
    }
}

fn classify(s: &mut Scan<'_>, num: &Number, want: Want) {
    let text = s.text;
    let b = text.as_bytes();
    let digits = num.digits(b);
    let nd = digits.len();
    let lens = num.lens();
    let sep_bytes: Vec<&[u8]> = num.seps.iter().map(|&(a, e)| &b[a..e]).collect();
    let uniform_sep = sep_bytes.windows(2).all(|w| w[0] == w[1]);
    let sep_is = |x: &[u8]| sep_bytes.iter().all(|s| *s == x);
    let (st, end) = (num.start, num.end);

    // payment cards: 12-19 digits, grouped by spaces or dashes
    if !num.plus
        && !num.parens
        && (12..=19).contains(&nd)
        && (sep_bytes.is_empty() || (uniform_sep && (sep_is(b" ") || sep_is(b"-"))))
    {
        let shape_ok = lens.len() == 1
            || lens[..lens.len() - 1].iter().all(|&l| l == 4)
            || lens == [4, 6, 5]
            || lens == [4, 6, 4];
        if shape_ok {
            let short_ok = nd >= 14 || card_context(text, st);
            if checks::card_prefix_ok(&digits) && checks::luhn(&digits) && short_ok {
                if want.has(PiiEntity::CreditCard) {
                    s.push(PiiEntity::CreditCard, st, end, 0.95);
                }
                return;
            }
            if lens.len() >= 3 || nd >= 15 {
                // looks like a card but fails the checks: a test number, not a phone
                s.exclude(st, end);
                return;
            }
        }
    }
    // US SSN: 3-2-4
    if !num.plus
        && !num.parens
        && lens == [3, 2, 4]
        && uniform_sep
        && (sep_is(b"-") || sep_is(b" "))
    {
        let v = |r: std::ops::Range<usize>| {
            digits[r]
                .iter()
                .fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'))
        };
        if checks::ssn_ok(v(0..3), v(3..5), v(5..9)) {
            if want.has(PiiEntity::UsSsn) {
                s.push(PiiEntity::UsSsn, st, end, 0.85);
            }
        } else {
            s.exclude(st, end);
        }
        return;
    }
    if lens.len() == 1 && nd == 9 && !num.plus && !num.parens {
        if want.has(PiiEntity::UsPassport) && passport_context(text, st) {
            s.push(PiiEntity::UsPassport, st, end, 0.8);
            return;
        }
        if ssn_context(text, st) {
            let v = |r: std::ops::Range<usize>| {
                digits[r]
                    .iter()
                    .fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'))
            };
            if checks::ssn_ok(v(0..3), v(3..5), v(5..9)) && want.has(PiiEntity::UsSsn) {
                s.push(PiiEntity::UsSsn, st, end, 0.8);
                return;
            }
        }
    }
    if !want.has(PiiEntity::PhoneNumber) {
        return;
    }
    if sep_bytes.iter().any(|x| x.contains(&b'.')) && !(lens == [3, 3, 4] && sep_is(b".")) {
        // dotted numbers are versions, dates and amounts unless shaped like 555.123.4567
        return;
    }
    // too short or too long for any phone rule: no need to read the context
    if (!num.plus && nd < 7) || nd > 16 {
        return;
    }
    let mut near: [&[u8]; 6] = [&[]; 6];
    let mut nn = 0;
    for w in words_before(text, st, 48).take(6) {
        near[nn] = w;
        nn += 1;
    }
    let words = || near[..nn].iter().copied();
    static STEMS: LazyLock<[Stems; 3]> =
        LazyLock::new(|| [PHONE_WORDS, WEAK_PHONE_WORDS, NOT_PHONE_WORDS].map(Stems::new));
    let [strong, weak, not] = &*STEMS;
    let strong_ctx = any_word(words(), strong);
    let phone_ctx = strong_ctx.or_else(|| any_word(words(), weak));
    let not_ctx = any_word(words(), not);
    // an identifier word ("order", "employee") wins unless a phone word is nearer
    let negative = match (strong_ctx, not_ctx) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(p), Some(n)) => n < p,
    };
    let phone_ctx = if negative { None } else { phone_ctx };
    let mut score: f32 = 0.0;
    let first = digits.first().copied().unwrap_or(b'0');
    let nd_eff = if num.trunk_paren { nd - 1 } else { nd };
    if num.plus {
        if (8..=15).contains(&nd_eff) && first != b'0' {
            score = 0.9;
        }
    } else if digits.starts_with(b"00") {
        if (10..=15).contains(&nd) && !negative {
            score = 0.7;
        }
    } else if negative {
        score = 0.0;
    } else if is_nanp(&digits, &lens, num) {
        score = 0.85;
    } else if first == b'0' && (9..=12).contains(&nd) {
        score = if lens.len() == 1 { 0.7 } else { 0.8 };
    } else if (9..=11).contains(&nd)
        && lens.len() >= 2
        && lens.iter().all(|&l| (2..=4).contains(&l))
    {
        score = if phone_ctx.is_some() { 0.75 } else { 0.55 };
    } else if (7..=12).contains(&nd) && phone_ctx.is_some() {
        score = 0.7;
    }
    if score > 0.0 {
        s.push(PiiEntity::PhoneNumber, st, end, score);
    }
}

fn is_nanp(digits: &[u8], lens: &[usize], num: &Number) -> bool {
    let d = if digits.len() == 11 && digits[0] == b'1' {
        &digits[1..]
    } else {
        digits
    };
    if d.len() != 10 || !(b'2'..=b'9').contains(&d[0]) || !(b'2'..=b'9').contains(&d[3]) {
        return false;
    }
    matches!(lens, [3, 3, 4] | [1, 3, 3, 4]) || (lens == [3, 7] && num.parens)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stem that is not lowercase ASCII letters (plus a trailing `*`) could never match
    /// a word and would be dropped silently.
    #[test]
    fn context_stems_are_lowercase_words() {
        for st in PHONE_WORDS
            .iter()
            .chain(WEAK_PHONE_WORDS)
            .chain(NOT_PHONE_WORDS)
        {
            let word = st.strip_suffix('*').unwrap_or(st);
            assert!(
                !word.is_empty() && word.bytes().all(|c| c.is_ascii_lowercase()),
                "{st:?}"
            );
        }
    }

    #[test]
    fn stems_match_whole_words_or_prefixes_nearest_first() {
        let stems = Stems::new(&["tel", "tele*", "card*"]);
        assert!(stems.matches(b"Tel") && stems.matches(b"TELEFONO") && stems.matches(b"cards"));
        assert!(!stems.matches(b"te") && !stems.matches(b"telx") && !stems.matches(b"car"));
        let words: [&[u8]; 3] = [b"my", b"Telefono", b"card"];
        assert_eq!(any_word(words.iter().copied(), &stems), Some(2));
        assert_eq!(any_word([&b"nope"[..]].into_iter(), &stems), None);
    }
}
