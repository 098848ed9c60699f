//! The PII detector: every entity type of the settings' [`PiiEntity`], found by
//! validated patterns (structured identifiers), by dates and times, and by name and place
//! lists with context (people and places), then merged into non-overlapping detections.
//! [`apply`] turns detections and a project's actions into the rewritten text.

mod checks;
mod dates;
mod lexicon;
mod names;
mod structured;

use behest_core::settings::{PiiAction, PiiEntity};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// One detected value. Offsets are UTF-8 byte offsets into the scanned text, end-exclusive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub entity: PiiEntity,
    pub start: usize,
    pub end: usize,
    /// Confidence, 0..1: validated identifiers score high, list-and-context guesses lower.
    pub score: f32,
}

/// A candidate before overlaps are resolved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cand {
    pub entity: PiiEntity,
    pub start: usize,
    pub end: usize,
    pub score: f32,
}

/// The entity types a scan looks for, as a bit set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Want(u64);

impl Want {
    fn bit(e: PiiEntity) -> u64 {
        let i = PiiEntity::ALL.iter().position(|x| *x == e).unwrap_or(0);
        1u64.checked_shl(i as u32).unwrap_or(0)
    }
    fn all() -> Want {
        Want(u64::MAX)
    }
    fn of(list: &[PiiEntity]) -> Want {
        Want(list.iter().fold(0, |a, e| a | Want::bit(*e)))
    }
    pub fn has(self, e: PiiEntity) -> bool {
        self.0 & Want::bit(e) != 0
    }
}

/// One scan's working state: candidates and exclusion zones (look-alikes such as
/// timestamps, UUIDs and hashes, inside which nothing numeric is reported).
pub(crate) struct Scan<'a> {
    pub text: &'a str,
    cands: Vec<Cand>,
    excl: Vec<(usize, usize)>,
    want: Want,
}

impl<'a> Scan<'a> {
    pub fn push(&mut self, entity: PiiEntity, start: usize, end: usize, score: f32) {
        if self.want.has(entity)
            && start < end
            && end <= self.text.len()
            && self.text.is_char_boundary(start)
            && self.text.is_char_boundary(end)
        {
            self.cands.push(Cand {
                entity,
                start,
                end,
                score,
            });
        }
    }
    pub fn exclude(&mut self, start: usize, end: usize) {
        if start < end {
            self.excl.push((start, end));
        }
    }
    pub fn excluded(&self, start: usize, end: usize) -> bool {
        self.excl.iter().any(|&(s, e)| s < end && start < e)
    }
}

/// Finds PII in text. Immutable, `Send + Sync`: build once ([`PiiDetector::shared`])
/// and share. It reads the embedded word lists (a few hundred thousand entries).
pub struct PiiDetector {
    lex: lexicon::Lexicon,
}

impl Default for PiiDetector {
    fn default() -> Self {
        PiiDetector::new()
    }
}

impl std::fmt::Debug for PiiDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiiDetector").finish_non_exhaustive()
    }
}

impl PiiDetector {
    /// Builds the detector. Cheap: the word table is built at compile time.
    pub fn new() -> PiiDetector {
        PiiDetector {
            lex: lexicon::Lexicon::new(),
        }
    }

    /// A lazily built process-wide detector.
    pub fn shared() -> &'static PiiDetector {
        static SHARED: OnceLock<PiiDetector> = OnceLock::new();
        SHARED.get_or_init(PiiDetector::new)
    }

    /// Every entity type.
    pub fn detect(&self, text: &str) -> Vec<Detection> {
        self.run(text, Want::all())
    }

    /// Only the entity types in `wanted`; detectors for the others do not run.
    pub fn detect_only(&self, text: &str, wanted: &[PiiEntity]) -> Vec<Detection> {
        if wanted.is_empty() {
            return Vec::new();
        }
        self.run(text, Want::of(wanted))
    }

    fn run(&self, text: &str, want: Want) -> Vec<Detection> {
        let mut s = Scan {
            text,
            cands: Vec::new(),
            excl: Vec::new(),
            want,
        };
        let b = text.as_bytes();
        let has_digit = b.iter().any(u8::is_ascii_digit);
        let runs = structured::runs(b);
        // Timestamps first: they are exclusion zones for everything numeric.
        if has_digit {
            dates::numeric(&mut s, &runs, want.has(PiiEntity::DateTime));
        }
        structured::tokens(&mut s, &runs, want);
        if want.has(PiiEntity::EmailAddress) || want.has(PiiEntity::Url) {
            structured::emails(&mut s);
        }
        if want.has(PiiEntity::Url) {
            structured::urls(&mut s);
        }
        if has_digit {
            structured::ipv4(&mut s, &runs);
        }
        if want.has(PiiEntity::IpAddress) {
            structured::ipv6(&mut s);
        }
        if has_digit {
            structured::numbers(&mut s, &runs, want);
        }
        let people = want.has(PiiEntity::Person);
        let places = want.has(PiiEntity::Location);
        if people || places || want.has(PiiEntity::DateTime) {
            let words = names::Words::new(text);
            if want.has(PiiEntity::DateTime) {
                dates::month_dates(&mut s, &words);
            }
            if people || places {
                names::detect(&mut s, &words, &self.lex, &runs.digits, people, places);
            }
        }
        resolve(s)
    }
}

/// Non-overlapping detections: the best candidate wins each stretch of text (higher
/// score, then longer), numeric ones never inside an exclusion zone.
fn resolve(s: Scan<'_>) -> Vec<Detection> {
    let Scan {
        mut cands, excl, ..
    } = s;
    // Inside a look-alike (timestamp, UUID, hash, SSH remote) nothing is PII, except the
    // self-delimiting identifiers that validated on their own.
    cands.retain(|c| {
        let own = matches!(
            c.entity,
            PiiEntity::EmailAddress | PiiEntity::Url | PiiEntity::IbanCode | PiiEntity::Crypto
        );
        own || !excl.iter().any(|&(s, e)| s < c.end && c.start < e)
    });
    cands.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then((b.end - b.start).cmp(&(a.end - a.start)))
            .then(a.start.cmp(&b.start))
    });
    // accepted spans, keyed by start
    let mut taken: BTreeMap<usize, (usize, Cand)> = BTreeMap::new();
    for c in cands {
        let clash_before = taken
            .range(..c.end)
            .next_back()
            .is_some_and(|(_, (e, _))| *e > c.start);
        if !clash_before {
            taken.insert(c.start, (c.end, c));
        }
    }
    taken
        .into_values()
        .map(|(_, c)| Detection {
            entity: c.entity,
            start: c.start,
            end: c.end,
            score: c.score,
        })
        .collect()
}

/// The text after PII actions, and what was done.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewrite {
    pub text: String,
    /// Entity types with a BLOCK action that were found: sorted, deduplicated.
    pub blocked: Vec<PiiEntity>,
    /// One entry per detection acted on, in text order.
    pub applied: Vec<(PiiEntity, PiiAction)>,
}

/// Characters MASK keeps, so a masked value keeps its length and shape.
fn mask_keeps(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '.' | '@' | '/' | ':' | '+' | '(' | ')')
}

/// Applies `actions` to `detections` (sorted by start, as [`PiiDetector::detect`]
/// returns them): MASK stars every character but separators, REDACT puts
/// `<ENTITY_NAME>` in place of the value, BLOCK leaves the text and reports the entity.
/// Detections of entities without an action, overlapping an earlier one, or not on
/// character boundaries are left alone.
pub fn apply(
    text: &str,
    detections: &[Detection],
    actions: &BTreeMap<PiiEntity, PiiAction>,
) -> Rewrite {
    apply_with(text, detections, actions, None)
}

/// [`apply`], with MASK writing a numbered placeholder (`<EMAIL_ADDRESS_1>`) for each
/// value instead of stars when `placeholders` is given, so the answer can have the
/// values put back ([`crate::answer::Restorer`]).
pub fn apply_with(
    text: &str,
    detections: &[Detection],
    actions: &BTreeMap<PiiEntity, PiiAction>,
    mut placeholders: Option<&mut crate::answer::Placeholders>,
) -> Rewrite {
    let mut out = String::with_capacity(text.len());
    let mut blocked = Vec::new();
    let mut applied = Vec::new();
    let mut cursor = 0;
    for d in detections {
        let Some(&action) = actions.get(&d.entity) else {
            continue;
        };
        if d.start < cursor
            || d.end > text.len()
            || d.start >= d.end
            || !text.is_char_boundary(d.start)
            || !text.is_char_boundary(d.end)
        {
            continue;
        }
        applied.push((d.entity, action));
        match action {
            PiiAction::Block => blocked.push(d.entity),
            PiiAction::Mask if placeholders.is_some() => {
                out.push_str(&text[cursor..d.start]);
                if let Some(placeholders) = placeholders.as_deref_mut() {
                    placeholders.write(&mut out, d.entity, &text[d.start..d.end]);
                }
                cursor = d.end;
            }
            PiiAction::Mask => {
                out.push_str(&text[cursor..d.start]);
                for c in text[d.start..d.end].chars() {
                    out.push(if mask_keeps(c) { c } else { '*' });
                }
                cursor = d.end;
            }
            PiiAction::Redact => {
                out.push_str(&text[cursor..d.start]);
                out.push('<');
                out.push_str(d.entity.as_str());
                out.push('>');
                cursor = d.end;
            }
        }
    }
    out.push_str(&text[cursor..]);
    blocked.sort();
    blocked.dedup();
    Rewrite {
        text: out,
        blocked,
        applied,
    }
}
