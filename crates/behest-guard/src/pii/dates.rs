//! Dates and times: numeric dates (Y-M-D, D/M/Y, M/D/Y, D.M.Y, two-digit years), dates
//! with month names in English, German, French, Italian, Spanish and Dutch, clock times
//! (`19:15`, `8:00 AM`, `9h20`, `14 Uhr`). Machine timestamps — ISO 8601 with a time,
//! log-line `YYYY-MM-DD HH:MM:SS,mmm`, Apache CLF `27/Dec/2025:16:04:22 +0000` — are
//! not a person's date: they become exclusion zones, so neither they nor their parts are
//! reported.

use super::names::{Words, MONTH, WEEKDAY};
use super::structured::Runs;
use super::Scan;
use behest_core::settings::PiiEntity;

fn num(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'))
}

#[inline]
fn digit_at(b: &[u8], i: usize) -> bool {
    b.get(i).is_some_and(u8::is_ascii_digit)
}

/// The end of a `HH:MM:SS` (with optional fraction and zone) starting at `i`, if any.
fn clock_with_seconds(b: &[u8], i: usize) -> Option<usize> {
    let two = |j: usize| digit_at(b, j) && digit_at(b, j + 1);
    let mut j = i;
    if two(j) {
        j += 2;
    } else if digit_at(b, j) {
        j += 1;
    } else {
        return None;
    }
    if b.get(j) != Some(&b':') || !two(j + 1) || b.get(j + 3) != Some(&b':') || !two(j + 4) {
        return None;
    }
    j += 6;
    if matches!(b.get(j), Some(b'.' | b',')) && digit_at(b, j + 1) {
        j += 1;
        while digit_at(b, j) {
            j += 1;
        }
    }
    Some(zone(b, j))
}

/// Skips a time-zone suffix: `Z`, `+01:00`, ` +0000`, ` UTC`.
fn zone(b: &[u8], mut j: usize) -> usize {
    if b.get(j) == Some(&b'Z') {
        return j + 1;
    }
    let k = if b.get(j) == Some(&b' ') { j + 1 } else { j };
    if matches!(b.get(k), Some(b'+' | b'-')) && digit_at(b, k + 1) && digit_at(b, k + 2) {
        let mut e = k + 3;
        if b.get(e) == Some(&b':') {
            e += 1;
        }
        if digit_at(b, e) && digit_at(b, e + 1) {
            e += 2;
        }
        return e;
    }
    if b.get(k..k + 3) == Some(b"UTC") || b.get(k..k + 3) == Some(b"GMT") {
        j = k + 3;
    }
    j
}

fn valid_dm(d: u32, m: u32) -> bool {
    (1..=31).contains(&d) && (1..=12).contains(&m)
}

/// Numeric dates, clock times and machine timestamps, from the digit runs.
pub fn numeric(s: &mut Scan<'_>, runs: &Runs, want_dates: bool) {
    let text = s.text;
    let b = text.as_bytes();
    let d = &runs.digits;
    let mut k = 0;
    while k < d.len() {
        let (s0, e0) = d[k];
        let l0 = e0 - s0;
        k += 1;
        let prev = if s0 > 0 { b[s0 - 1] } else { b' ' };
        let prev2 = if s0 > 1 { b[s0 - 2] } else { b' ' };
        if prev.is_ascii_alphanumeric()
            || (matches!(prev, b'.' | b':' | b'/' | b'-' | b',') && prev2.is_ascii_digit())
            || prev == b'_'
        {
            continue;
        }
        let sep = b.get(e0).copied().unwrap_or(b' ');
        // CLF: 27/Dec/2025:16:04:22 +0000
        if l0 <= 2
            && sep == b'/'
            && b.get(e0 + 4) == Some(&b'/')
            && b[e0 + 1..].len() > 8
            && b[e0 + 1..e0 + 4].iter().all(u8::is_ascii_alphabetic)
        {
            let y = e0 + 5;
            if (0..4).all(|j| digit_at(b, y + j)) {
                let mut end = y + 4;
                if b.get(end) == Some(&b':') {
                    if let Some(e) = clock_with_seconds(b, end + 1) {
                        end = e;
                    }
                }
                s.exclude(s0, end);
                while k < d.len() && d[k].0 < end {
                    k += 1;
                }
                continue;
            }
        }
        // numeric date: three runs joined by one separator
        if matches!(sep, b'-' | b'/' | b'.') && k + 1 < d.len() + 1 {
            if let (Some(&(s1, e1)), Some(&(s2, e2))) = (d.get(k), d.get(k + 1)) {
                let joined = s1 == e0 + 1 && b.get(e1) == Some(&sep) && s2 == e1 + 1;
                let (l1, l2) = (e1 - s1, e2 - s2);
                let ymd = l0 == 4
                    && (1..=2).contains(&l1)
                    && (1..=2).contains(&l2)
                    && valid_dm(num(&b[s2..e2]), num(&b[s1..e1]));
                // dotted dates are day.month (never US order); with a two-digit year they
                // need two-digit day and month, or "2.6.20" (a version) would be a date
                let dmy = (1..=2).contains(&l0)
                    && (1..=2).contains(&l1)
                    && (l2 == 4 || l2 == 2)
                    && (sep != b'.' || l2 == 4 || (l0 == 2 && l1 == 2))
                    && !(sep == b'.' && matches!(prev, b'/' | b'-' | b'v' | b'V'))
                    && {
                        let (a, m) = (num(&b[s0..e0]), num(&b[s1..e1]));
                        valid_dm(a, m) || (sep != b'.' && valid_dm(m, a))
                    };
                let after = b.get(e2).copied().unwrap_or(b' ');
                let after2 = b.get(e2 + 1).copied().unwrap_or(b' ');
                let continued = after.is_ascii_alphanumeric() && after != b'T'
                    || (matches!(after, b'.' | b'-' | b'/' | b':') && after2.is_ascii_digit());
                if joined && (ymd || dmy) && !continued {
                    let year_ok = if ymd {
                        (1800..=2199).contains(&num(&b[s0..e0]))
                    } else {
                        l2 == 2 || (1800..=2199).contains(&num(&b[s2..e2]))
                    };
                    // ISO date + time, or a log line's date + time with seconds
                    let ts_end = if after == b'T' && digit_at(b, e2 + 1) {
                        clock_with_seconds(b, e2 + 1).or_else(|| {
                            let mut j = e2 + 1;
                            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b':') {
                                j += 1;
                            }
                            Some(zone(b, j))
                        })
                    } else if after == b' ' {
                        clock_with_seconds(b, e2 + 1)
                    } else {
                        None
                    };
                    if let Some(te) = ts_end {
                        s.exclude(s0, te);
                        while k < d.len() && d[k].0 < te {
                            k += 1;
                        }
                        continue;
                    }
                    if year_ok && !(sep == b'.' && super::structured::version_context(text, s0)) {
                        if want_dates && !s.excluded(s0, e2) {
                            s.push(PiiEntity::DateTime, s0, e2, 0.85);
                        }
                        k += 2;
                        continue;
                    }
                }
            }
        }
        if !want_dates || l0 > 2 {
            continue;
        }
        let h = num(&b[s0..e0]);
        // clock times
        if (sep == b':' || sep == b'h' || sep == b'H') && h <= 23 {
            if let Some(&(s1, e1)) = d.get(k) {
                if s1 == e0 + 1 && e1 - s1 == 2 && num(&b[s1..e1]) <= 59 {
                    let mut end = e1;
                    let mut kk = k + 1;
                    if sep == b':' && b.get(end) == Some(&b':') {
                        if let Some(&(s2, e2)) = d.get(kk) {
                            if s2 == end + 1 && e2 - s2 == 2 {
                                end = e2;
                                kk += 1;
                            }
                        }
                    }
                    if sep != b':' && b.get(end).is_some_and(|c| c.is_ascii_alphanumeric()) {
                        continue;
                    }
                    let end = meridiem(b, end).unwrap_or(end);
                    let bad_next = b.get(end).is_some_and(|c| c.is_ascii_alphanumeric())
                        || (matches!(b.get(end), Some(b':' | b'.' | b'/')) && digit_at(b, end + 1));
                    if !bad_next && !s.excluded(s0, end) {
                        s.push(PiiEntity::DateTime, s0, end, 0.8);
                        k = kk;
                    }
                    continue;
                }
            }
        }
        // "8 AM", "3pm", "14 Uhr"
        if (1..=23).contains(&h) {
            if let Some(end) = meridiem(b, e0) {
                if h <= 12 && !s.excluded(s0, end) {
                    s.push(PiiEntity::DateTime, s0, end, 0.75);
                }
                continue;
            }
            if b.get(e0..e0 + 4) == Some(b" Uhr")
                && !b.get(e0 + 4).is_some_and(u8::is_ascii_alphanumeric)
            {
                s.push(PiiEntity::DateTime, s0, e0 + 4, 0.75);
            }
        }
    }
}

/// The end of an AM/PM marker right after a time ending at `i`.
fn meridiem(b: &[u8], i: usize) -> Option<usize> {
    let j = if b.get(i) == Some(&b' ') { i + 1 } else { i };
    let rest = b.get(j..)?;
    for pat in [
        &b"a.m."[..],
        b"p.m.",
        b"AM",
        b"PM",
        b"am",
        b"pm",
        b"A.M.",
        b"P.M.",
    ] {
        if rest.starts_with(pat) {
            let e = j + pat.len();
            if !b.get(e).is_some_and(u8::is_ascii_alphanumeric) {
                return Some(e);
            }
        }
    }
    None
}

/// Folded month names and abbreviations of the six languages, with their month and
/// whether they are ambiguous as a word: ambiguous ones ("may", "mar", "set") need a
/// day and a year next to them. The word classes mark every one ([`MONTH`]), so only
/// a marked word is looked up here.
pub(super) const MONTHS: &[(&str, u8, bool)] = &[
    ("january", 1, false),
    ("januar", 1, false),
    ("janvier", 1, false),
    ("gennaio", 1, false),
    ("enero", 1, false),
    ("januari", 1, false),
    ("janner", 1, false),
    ("jan", 1, false),
    ("janv", 1, false),
    ("ene", 1, false),
    ("gen", 1, true),
    ("february", 2, false),
    ("februar", 2, false),
    ("fevrier", 2, false),
    ("febbraio", 2, false),
    ("febrero", 2, false),
    ("februari", 2, false),
    ("feber", 2, false),
    ("feb", 2, false),
    ("fevr", 2, false),
    ("fev", 2, false),
    ("febr", 2, false),
    ("march", 3, false),
    ("marz", 3, false),
    ("mars", 3, false),
    ("marzo", 3, false),
    ("maart", 3, false),
    ("mar", 3, true),
    ("mrt", 3, true),
    ("april", 4, false),
    ("avril", 4, false),
    ("aprile", 4, false),
    ("abril", 4, false),
    ("apr", 4, false),
    ("avr", 4, false),
    ("abr", 4, false),
    ("may", 5, true),
    ("mai", 5, true),
    ("mag", 5, true),
    ("mei", 5, true),
    ("maggio", 5, false),
    ("mayo", 5, false),
    ("june", 6, false),
    ("juni", 6, false),
    ("juin", 6, false),
    ("giugno", 6, false),
    ("junio", 6, false),
    ("jun", 6, false),
    ("giu", 6, false),
    ("july", 7, false),
    ("juli", 7, false),
    ("juillet", 7, false),
    ("luglio", 7, false),
    ("julio", 7, false),
    ("jul", 7, false),
    ("juil", 7, false),
    ("lug", 7, false),
    ("august", 8, false),
    ("aout", 8, false),
    ("agosto", 8, false),
    ("augustus", 8, false),
    ("aug", 8, false),
    ("ago", 8, true),
    ("september", 9, false),
    ("septembre", 9, false),
    ("settembre", 9, false),
    ("septiembre", 9, false),
    ("setiembre", 9, false),
    ("sep", 9, false),
    ("sept", 9, false),
    ("set", 9, true),
    ("october", 10, false),
    ("oktober", 10, false),
    ("octobre", 10, false),
    ("ottobre", 10, false),
    ("octubre", 10, false),
    ("oct", 10, false),
    ("okt", 10, false),
    ("ott", 10, false),
    ("november", 11, false),
    ("novembre", 11, false),
    ("noviembre", 11, false),
    ("nov", 11, false),
    ("december", 12, false),
    ("dezember", 12, false),
    ("decembre", 12, false),
    ("dicembre", 12, false),
    ("diciembre", 12, false),
    ("dec", 12, false),
    ("dez", 12, false),
    ("dic", 12, false),
];

/// Folded weekday names and abbreviations of the six languages (word class [`WEEKDAY`]).
pub(super) const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "mon",
    "tue",
    "tues",
    "wed",
    "thu",
    "thur",
    "thurs",
    "fri",
    "sat",
    "sun",
    "montag",
    "dienstag",
    "mittwoch",
    "donnerstag",
    "freitag",
    "samstag",
    "sonntag",
    "lundi",
    "mardi",
    "mercredi",
    "jeudi",
    "vendredi",
    "samedi",
    "dimanche",
    "lunedi",
    "martedi",
    "mercoledi",
    "giovedi",
    "venerdi",
    "sabato",
    "domenica",
    "lunes",
    "martes",
    "miercoles",
    "jueves",
    "viernes",
    "domingo",
    "maandag",
    "dinsdag",
    "woensdag",
    "donderdag",
    "vrijdag",
    "zaterdag",
    "zondag",
];

fn month(w: &str) -> Option<(u8, bool)> {
    MONTHS
        .iter()
        .find(|(name, _, _)| *name == w)
        .map(|&(_, m, ambiguous)| (m, ambiguous))
}

fn weekday(w: &str) -> bool {
    WEEKDAYS.contains(&w)
}

/// A day number (1-31) ending right before byte `i` (after optional `.`, ordinal, "de").
/// Returns its start.
fn day_before(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    // "12 de marzo", "3. März", "1er janvier", "5th of May"
    if j >= 4 && (b[..j].ends_with(b" de ") || b[..j].ends_with(b" of ")) {
        j -= 3;
    }
    if j == 0 || b[j - 1] != b' ' {
        return None;
    }
    j -= 1;
    if j > 0 && b[j - 1] == b'.' {
        j -= 1;
    }
    for suf in [&b"st"[..], b"nd", b"rd", b"th", b"er", b"e"] {
        if b[..j].ends_with(suf) && j > suf.len() && b[j - suf.len() - 1].is_ascii_digit() {
            j -= suf.len();
            break;
        }
    }
    let e = j;
    while j > 0 && b[j - 1].is_ascii_digit() && e - j < 3 {
        j -= 1;
    }
    let n = e - j;
    if n == 0
        || n > 2
        || (j > 0 && (b[j - 1].is_ascii_alphanumeric() || b[j - 1] == b'.' || b[j - 1] == b'/'))
    {
        return None;
    }
    (1..=31).contains(&num(&b[j..e])).then_some(j)
}

/// A day number right after the month word ending at `i`: returns its end.
fn day_after(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    if b.get(j) == Some(&b'.') {
        j += 1;
    }
    if b.get(j) != Some(&b' ') {
        return None;
    }
    j += 1;
    let s = j;
    while digit_at(b, j) && j - s < 3 {
        j += 1;
    }
    if j - s == 0 || j - s > 2 || !(1..=31).contains(&num(&b[s..j])) {
        return None;
    }
    for suf in [&b"st"[..], b"nd", b"rd", b"th"] {
        if b[j..].starts_with(suf) {
            j += suf.len();
            break;
        }
    }
    if b.get(j).is_some_and(|c| c.is_ascii_alphanumeric()) || (b.get(j) == Some(&b':')) {
        return None;
    }
    Some(j)
}

/// A four-digit year after `i` (", 2024", " 2024", " de 2024"): returns its end.
fn year_after(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    if b.get(j) == Some(&b'.') {
        j += 1;
    }
    if b.get(j) == Some(&b',') {
        j += 1;
    }
    if b.get(j) != Some(&b' ') {
        return None;
    }
    j += 1;
    if b[j..].starts_with(b"de ") {
        j += 3;
    }
    if (0..4).all(|x| digit_at(b, j + x))
        && !b.get(j + 4).is_some_and(|c| c.is_ascii_alphanumeric())
    {
        let y = num(&b[j..j + 4]);
        if (1800..=2199).contains(&y) {
            return Some(j + 4);
        }
    }
    None
}

/// Dates written with a month name.
pub fn month_dates(s: &mut Scan<'_>, words: &Words) {
    let b = s.text.as_bytes();
    for i in 0..words.len() {
        // month and weekday names are marked in the word classes: most words stop here
        if words.classes(i) & (MONTH | WEEKDAY) == 0 {
            continue;
        }
        let w = words.folded(i);
        let Some((_m, ambiguous)) = month(w) else {
            // a weekday by its full name is a date on its own ("see you on Tuesday")
            if w.len() >= 5 && weekday(w) {
                let (ws, we) = words.span(i);
                let next_is_date = i + 1 < words.len()
                    && words.classes(i + 1) & MONTH != 0
                    && words.span(i + 1).0 <= we + 6;
                let day_follows = b.get(we..we + 3).is_some_and(|x| {
                    x.len() == 3
                        && (x[0] == b' ' || x[0] == b',')
                        && (x[1].is_ascii_digit() || x[2].is_ascii_digit())
                });
                if !next_is_date && !day_follows && !s.excluded(ws, we) {
                    s.push(PiiEntity::DateTime, ws, we, 0.6);
                }
            }
            continue;
        };
        let (ws, we) = words.span(i);
        let day_b = day_before(b, ws);
        let day_a = if day_b.is_none() {
            day_after(b, we)
        } else {
            None
        };
        let after_day = day_a.unwrap_or(we);
        let year = year_after(b, after_day);
        let (start, end) = match (day_b, day_a, year) {
            (Some(ds), _, Some(ye)) => (ds, ye),
            (None, Some(_), Some(ye)) => (ws, ye),
            (Some(ds), _, None) if !ambiguous => (
                ds,
                if b.get(we) == Some(&b'.') && w.len() <= 4 {
                    we + 1
                } else {
                    we
                },
            ),
            (None, Some(de), None) if !ambiguous => (ws, de),
            (None, None, Some(ye)) if !ambiguous && w.len() > 3 => (ws, ye),
            _ => continue,
        };
        // "Monday, March 3, 2024"
        let mut start = start;
        if i > 0 {
            let (ps, pe) = words.span(i - 1);
            if pe <= start
                && words.classes(i - 1) & WEEKDAY != 0
                && matches!(&b[pe..start], b", " | b" ")
            {
                start = ps;
            }
        }
        if !s.excluded(start, end) {
            s.push(PiiEntity::DateTime, start, end, 0.85);
        }
    }
}
