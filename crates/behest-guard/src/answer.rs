//! The answer's guard: the sentinel's blocklist and credential rules and the PII
//! detector over a model's answer that arrives in pieces (a stream's deltas), and the
//! placeholders that MASK leaves in a request put back into the answer.
//!
//! [`HeldText`] always holds back the last [`AnswerRules::hold`] bytes of the text it
//! has been given — the longest pattern's length: 64 bytes for the built-in rules, more
//! when a blocklist term is longer — and lets out everything before them, decided, once
//! [`STEP`] more bytes have come: so between `hold` and `hold + STEP - 1 + the last
//! piece` bytes are held at any time. A value still growing across the cut (an email
//! address being written) holds the cut at its start; one that grows past [`MAX_VALUE`]
//! more (a very long URL) is let out as far as seen, masked. Each release scans the held
//! bytes plus [`CONTEXT`] bytes of what went before, so the result does not depend on
//! where the pieces were split: the tests feed answers split at every byte and compare
//! with one scan of the whole.

use crate::pii::{apply, Detection, PiiDetector};
use crate::sentinel::Sentinel;
use behest_core::settings::{PiiAction, PiiEntity};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Bytes held back for the built-in rules: more than any of them needs to see a value
/// whole and decide (an IBAN with spaces is 42, an IPv6 address 45, a bech32 address
/// 62, a credential's recognisable prefix at most 50).
pub const BUILTIN_HOLD: usize = 64;
/// Bytes of let-out text kept for the next scan's left context (word boundaries, "my
/// name is"); never let out again.
pub const CONTEXT: usize = 32;
/// Text is let out in steps of at least this many bytes: each release rescans the
/// context and the hold, so releasing on every 4-byte delta would scan the answer ~30
/// times over; in 32-byte steps it is ~4 times.
pub const STEP: usize = 32;
/// How far a single value may outgrow the hold before it is let out as far as seen.
pub const MAX_VALUE: usize = 512;

/// What the answer is checked for: the sentinel (blocklist and credentials) and the
/// PII entity types with their actions. Either may be absent.
#[derive(Clone, Copy, Debug)]
pub struct AnswerRules<'a> {
    pub sentinel: Option<&'a Sentinel>,
    pub entities: &'a [PiiEntity],
    pub actions: &'a BTreeMap<PiiEntity, PiiAction>,
}

impl AnswerRules<'_> {
    pub fn is_empty(&self) -> bool {
        self.sentinel.is_none() && self.entities.is_empty()
    }

    /// The hold-back bound, in bytes: `max(64, the longest blocklist term)`.
    pub fn hold(&self) -> usize {
        if self.is_empty() {
            return 0;
        }
        BUILTIN_HOLD.max(self.sentinel.map_or(0, Sentinel::longest_term))
    }

    /// Findings over a whole text, changing nothing (shadow mode).
    pub fn observe(&self, text: &str, found: &mut AnswerFindings) {
        if let Some(sentinel) = self.sentinel {
            for hit in sentinel.scan_answer(text) {
                found.rule(hit.rule);
            }
        }
        if !self.entities.is_empty() {
            for d in PiiDetector::shared().detect_only(text, self.entities) {
                found.entity(d.entity);
            }
        }
    }
}

/// What the answer's guard found: rule names and entity counts, never text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnswerFindings {
    /// Sentinel rules hit, each once.
    pub rules: Vec<String>,
    pub pii: BTreeMap<PiiEntity, u32>,
}

impl AnswerFindings {
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.pii.is_empty()
    }

    fn rule(&mut self, rule: String) {
        if !self.rules.contains(&rule) {
            self.rules.push(rule);
        }
    }

    fn entity(&mut self, entity: PiiEntity) {
        *self.pii.entry(entity).or_default() += 1;
    }
}

/// Why an answer cannot go on.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// A sentinel rule (`blocklist:2`, `credential:openai_api_key`).
    Rule(String),
    /// PII whose action is BLOCK, by entity type (sorted, each once).
    Pii(Vec<PiiEntity>),
}

/// One text of an answer (a choice's content, a tool call's arguments) as it arrives.
#[derive(Debug, Default)]
pub struct HeldText {
    /// Context (already let out) followed by the held bytes.
    buf: String,
    /// Where the held bytes start in `buf`.
    released: usize,
    /// A value let out in part because it outgrew [`MAX_VALUE`]: the rest, up to the
    /// next whitespace, is the same value.
    continues: Option<PiiEntity>,
}

impl HeldText {
    /// Bytes held back now.
    pub fn held(&self) -> usize {
        self.buf.len() - self.released
    }

    /// Takes the next piece; answers what can be let out now (often nothing).
    pub fn push(
        &mut self,
        rules: &AnswerRules<'_>,
        piece: &str,
        found: &mut AnswerFindings,
    ) -> Result<String, Refusal> {
        self.buf.push_str(piece);
        if self.held() < rules.hold() + STEP {
            return Ok(String::new());
        }
        self.release(rules, found, false)
    }

    /// A whole text at once (an answer that did not stream): one scan of it, as the
    /// pieces of a stream would give, without a hold to wait for.
    pub fn whole(
        &mut self,
        rules: &AnswerRules<'_>,
        text: &str,
        found: &mut AnswerFindings,
    ) -> Result<String, Refusal> {
        self.buf.push_str(text);
        self.finish(rules, found)
    }

    /// The text is complete: lets out everything held.
    pub fn finish(
        &mut self,
        rules: &AnswerRules<'_>,
        found: &mut AnswerFindings,
    ) -> Result<String, Refusal> {
        if self.held() == 0 {
            return Ok(String::new());
        }
        self.release(rules, found, true)
    }

    fn release(
        &mut self,
        rules: &AnswerRules<'_>,
        found: &mut AnswerFindings,
        last: bool,
    ) -> Result<String, Refusal> {
        let text = self.buf.as_str();
        let ctx = self.released;
        let len = text.len();
        let hold = rules.hold();
        let mut cut = if last {
            len
        } else {
            floor_boundary(text, len - hold)
        };
        if let Some(sentinel) = rules.sentinel {
            for hit in sentinel.scan_answer(text) {
                if hit.end <= ctx {
                    continue;
                }
                if last || hit.end <= cut {
                    found.rule(hit.rule.clone());
                    return Err(Refusal::Rule(hit.rule));
                }
                // Not decided yet (the next bytes may end the word): hold it whole.
                cut = cut.min(hit.start.max(ctx));
            }
        }
        let mut detections = if rules.entities.is_empty() {
            Vec::new()
        } else {
            PiiDetector::shared().detect_only(text, rules.entities)
        };
        let mut carried = self.continues.take();
        if let Some(entity) = carried {
            // What a long value left: it ends at the next whitespace (or is still going).
            let rest = &text[ctx..];
            let end = rest.find(char::is_whitespace).map_or(len, |at| ctx + at);
            if end > ctx {
                detections.retain(|d| d.start >= end);
                detections.insert(
                    0,
                    Detection {
                        entity,
                        start: ctx,
                        end,
                        score: 1.0,
                    },
                );
            } else {
                carried = None;
            }
        }
        if !last {
            // Sorted and disjoint: the first value across the cut moves it to its start,
            // and every later one lies past the new cut.
            for d in &detections {
                if d.start < cut && d.end > cut {
                    cut = d.start.max(ctx);
                }
            }
            let floor = floor_boundary(text, len.saturating_sub(hold + MAX_VALUE));
            if cut < floor {
                cut = floor;
                self.continues = detections
                    .iter()
                    .find(|d| d.start < cut && d.end >= cut)
                    .map(|d| d.entity);
            } else if carried.is_some() && detections.first().is_some_and(|d| d.end > cut) {
                // The value is still going: the next release carries it on.
                self.continues = carried;
            }
        }
        let mut acting = Vec::new();
        let mut blocked = Vec::new();
        for d in &detections {
            if d.end <= ctx || d.start >= cut {
                continue;
            }
            // A value let out in part by an earlier release is finished, not counted again.
            if d.start >= ctx {
                found.entity(d.entity);
            }
            if rules.actions.get(&d.entity) == Some(&PiiAction::Block) {
                blocked.push(d.entity);
            }
            let (start, end) = (d.start.max(ctx), d.end.min(cut));
            if text.is_char_boundary(start) && text.is_char_boundary(end) {
                acting.push(Detection {
                    start: start - ctx,
                    end: end - ctx,
                    ..*d
                });
            }
        }
        if !blocked.is_empty() {
            blocked.sort();
            blocked.dedup();
            return Err(Refusal::Pii(blocked));
        }
        let out = if acting.is_empty() {
            text[ctx..cut].to_owned()
        } else {
            apply(&text[ctx..cut], &acting, rules.actions).text
        };
        let keep = floor_boundary(text, cut.saturating_sub(CONTEXT));
        self.buf.drain(..keep);
        self.released = cut - keep;
        Ok(out)
    }
}

/// `at`, or the nearest character boundary before it.
fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The values MASK took out of one request, each behind a numbered placeholder
/// (`<EMAIL_ADDRESS_1>`; the same value gets the same one). Holds personal data: its
/// `Debug` shows only how many, and it lives as long as the request.
#[derive(Default)]
pub struct Placeholders {
    values: Vec<(PiiEntity, String)>,
    /// Numbers start after this, so a thread's earlier placeholders are not reused.
    after: u32,
}

impl std::fmt::Debug for Placeholders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Placeholders({} values)", self.values.len())
    }
}

/// The longest placeholder: `<` + the longest entity name + `_` + six digits + `>`.
const MAX_PLACEHOLDER: usize = 1 + 13 + 1 + 6 + 1;

impl Placeholders {
    /// Placeholders numbered after `after` (the highest one a thread's history holds).
    pub fn numbered_after(after: u32) -> Placeholders {
        Placeholders {
            values: Vec::new(),
            after,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Writes the placeholder for `value` to `out`.
    pub(crate) fn write(&mut self, out: &mut String, entity: PiiEntity, value: &str) {
        let index = match self
            .values
            .iter()
            .position(|(e, v)| *e == entity && v == value)
        {
            Some(i) => i,
            None => {
                self.values.push((entity, value.to_owned()));
                self.values.len() - 1
            }
        };
        let n = u64::from(self.after) + index as u64 + 1;
        let _ = write!(out, "<{}_{n}>", entity.as_str());
    }

    fn value(&self, name: &str, n: u64) -> Option<&str> {
        let index = usize::try_from(n.checked_sub(u64::from(self.after) + 1)?).ok()?;
        let (entity, value) = self.values.get(index)?;
        (entity.as_str() == name).then_some(value.as_str())
    }

    /// The highest placeholder number in `text` (0 for none).
    pub fn highest_in(text: &str) -> u32 {
        let mut highest = 0;
        let mut rest = text;
        while let Some(at) = rest.find('<') {
            rest = &rest[at..];
            let step = match parse_placeholder(rest) {
                Parsed::Complete { len, n, .. } => {
                    highest = highest.max(u32::try_from(n).unwrap_or(u32::MAX));
                    len
                }
                _ => 1,
            };
            rest = &rest[step..];
        }
        highest
    }
}

enum Parsed<'a> {
    Complete {
        len: usize,
        name: &'a str,
        n: u64,
    },
    /// Could still become a placeholder with more text.
    Partial,
    Not,
}

/// `<NAME_n>` at the start of `s` (which starts with `<`).
fn parse_placeholder(s: &str) -> Parsed<'_> {
    let body = &s.as_bytes()[1..];
    let run = body
        .iter()
        .take(MAX_PLACEHOLDER)
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_')
        .count();
    match body.get(run) {
        None if run + 2 <= MAX_PLACEHOLDER => Parsed::Partial,
        Some(b'>') => {
            let inner = &s[1..1 + run];
            match inner.rsplit_once('_') {
                Some((name, digits))
                    if !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
                        && !digits.is_empty()
                        && digits.len() <= 6 =>
                {
                    match digits.parse() {
                        Ok(n) => Parsed::Complete {
                            len: run + 2,
                            name,
                            n,
                        },
                        Err(_) => Parsed::Not,
                    }
                }
                _ => Parsed::Not,
            }
        }
        _ => Parsed::Not,
    }
}

/// Where a restored value goes: plain text, or inside a JSON string (a tool call's
/// arguments), where it is escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    Text,
    JsonString,
}

/// Puts a request's values back in place of their placeholders in one text of the
/// answer, as it arrives: a piece ending in what may be the start of a placeholder
/// keeps that part (at most 22 bytes) until the next piece says.
#[derive(Debug, Default)]
pub struct Restorer {
    held: String,
}

impl Restorer {
    pub fn push(&mut self, values: &Placeholders, piece: &str, quoting: Quoting) -> String {
        if self.held.is_empty() && !piece.contains('<') {
            return piece.to_owned();
        }
        self.held.push_str(piece);
        let (out, consumed) = restore(values, &self.held, false, quoting);
        self.held.drain(..consumed);
        out
    }

    pub fn finish(&mut self, values: &Placeholders, quoting: Quoting) -> String {
        let (out, _) = restore(values, &self.held, true, quoting);
        self.held.clear();
        out
    }
}

/// `text` with known placeholders replaced, and how much of it that covers (the rest
/// may be a placeholder's beginning; with `last`, all of it).
fn restore(values: &Placeholders, text: &str, last: bool, quoting: Quoting) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(rel) = memchr::memchr(b'<', &text.as_bytes()[i..]) {
        let at = i + rel;
        out.push_str(&text[i..at]);
        match parse_placeholder(&text[at..]) {
            Parsed::Complete { len, name, n } => {
                match values.value(name, n) {
                    Some(value) if quoting == Quoting::JsonString => {
                        let quoted = serde_json::to_string(value).unwrap_or_default();
                        out.push_str(quoted.get(1..quoted.len().saturating_sub(1)).unwrap_or(""));
                    }
                    Some(value) => out.push_str(value),
                    None => out.push_str(&text[at..at + len]),
                }
                i = at + len;
            }
            Parsed::Partial if !last => return (out, at),
            _ => {
                out.push('<');
                i = at + 1;
            }
        }
    }
    out.push_str(&text[i..]);
    (out, text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actions(list: &[(PiiEntity, PiiAction)]) -> BTreeMap<PiiEntity, PiiAction> {
        list.iter().copied().collect()
    }

    /// The text as one piece, decided at once ([`HeldText::whole`], what a JSON answer
    /// gets): the reference every split must equal.
    fn whole(rules: &AnswerRules<'_>, text: &str) -> (Result<String, Refusal>, AnswerFindings) {
        let mut found = AnswerFindings::default();
        let out = HeldText::default().whole(rules, text, &mut found);
        (out, found)
    }

    /// The text in `pieces`, concatenated as let out.
    fn pieces(
        rules: &AnswerRules<'_>,
        pieces: &[&str],
    ) -> (Result<String, Refusal>, AnswerFindings, usize) {
        let mut found = AnswerFindings::default();
        let mut held = HeldText::default();
        let mut out = String::new();
        let mut most_held = 0;
        for piece in pieces {
            match held.push(rules, piece, &mut found) {
                Ok(part) => out.push_str(&part),
                Err(refusal) => return (Err(refusal), found, most_held),
            }
            most_held = most_held.max(held.held());
        }
        match held.finish(rules, &mut found) {
            Ok(part) => out.push_str(&part),
            Err(refusal) => return (Err(refusal), found, most_held),
        }
        (Ok(out), found, most_held)
    }

    /// Splits at every byte boundary into two, and into runs of 1..=5 bytes.
    fn every_split(text: &str) -> Vec<Vec<&str>> {
        let mut out = Vec::new();
        for at in 0..=text.len() {
            if text.is_char_boundary(at) {
                out.push(vec![&text[..at], &text[at..]]);
            }
        }
        for step in 1..=5 {
            let mut v = Vec::new();
            let mut start = 0;
            while start < text.len() {
                let mut end = (start + step).min(text.len());
                while !text.is_char_boundary(end) {
                    end += 1;
                }
                v.push(&text[start..end]);
                start = end;
            }
            out.push(v);
        }
        out
    }

    const ANSWERS: &[&str] = &[
        "Sure! You can reach Dr. Maria Lopez at maria.lopez@clinic-example.org or on +44 20 7946 0958 before Monday, 12 January 2025. The office is in Manchester.",
        "Your card 4111 1111 1111 1111 was charged; the refund goes to IBAN GB82 WEST 1234 5698 7654 32 within 5 days. Visit https://example.com/refunds/status?id=42 for details.",
        "Nothing personal here, just a long explanation of how rainbows form when sunlight is refracted, reflected and dispersed in water droplets, which is a lovely topic.",
        "Bonjour, je m'appelle Camille Dubois, j'habite au 12 rue de la Paix, 75002 Paris, mon portable est le 06 12 34 56 78. Ciao, mi chiamo Giulia Bianchi, sono nata a Napoli il 3 aprile 1990.",
        "Best regards,\nNicole Davis\nSales Director | Martin-Edwards\nM: 650.255.3590\nAddress: 0703 Kristen Meadow, Cookmouth, OK 99519. BTC 1PBCYCEpsnn4HS6DsTovWQLnXbtdU2pVQB, passport 289817281, order ORD-2025-265969, request c987308e-774a-4ad7-b946-53ce7957dfc8.",
        "Server 192.168.10.24 and 2001:db8::ff00:42:8329 answered; ping ops@example.net if the SSN 123-45-6789 shows up in logs again. ünïcödé text: Zoë Ångström lives in Zürich.",
    ];

    #[test]
    fn an_answer_split_anywhere_is_guarded_as_if_whole() {
        let detector_entities = PiiEntity::ALL;
        let acts: BTreeMap<PiiEntity, PiiAction> = detector_entities
            .iter()
            .enumerate()
            .map(|(i, e)| {
                (
                    *e,
                    if i % 2 == 0 {
                        PiiAction::Mask
                    } else {
                        PiiAction::Redact
                    },
                )
            })
            .collect();
        let rules = AnswerRules {
            sentinel: None,
            entities: detector_entities,
            actions: &acts,
        };
        for answer in ANSWERS {
            let (expected, expected_found) = whole(&rules, answer);
            let expected = expected.unwrap();
            for split in every_split(answer) {
                let (got, found, most_held) = pieces(&rules, &split);
                assert_eq!(got.as_ref(), Ok(&expected), "split {split:?}");
                assert_eq!(found, expected_found, "split {split:?}");
                let longest_piece = split.iter().map(|p| p.len()).max().unwrap_or(0);
                // The hold, the piece that went past it, and a value across the cut
                // (none of these answers has one longer than 64 bytes).
                assert!(
                    most_held < rules.hold() + STEP + longest_piece + 64,
                    "held {most_held} of {answer:?}"
                );
            }
        }
        // And the rewrite did happen.
        let (out, _) = whole(&rules, ANSWERS[0]);
        assert!(!out.unwrap().contains("maria.lopez@clinic-example.org"));
    }

    #[test]
    fn a_blocklisted_term_or_credential_never_gets_out() {
        let sentinel = Sentinel::new(&["project titan".into()]);
        let none = BTreeMap::new();
        let rules = AnswerRules {
            sentinel: Some(&sentinel),
            entities: &[],
            actions: &none,
        };
        let long_prefix = "a".repeat(300);
        for (text, rule) in [
            (
                format!("{long_prefix} The codename is Project  TITAN, keep it quiet."),
                "blocklist:0",
            ),
            (
                format!("{long_prefix} use key sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123 now"),
                "credential:anthropic_api_key",
            ),
            (
                format!("{long_prefix}\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA"),
                "credential:private_key",
            ),
        ] {
            for split in every_split(&text) {
                let mut found = AnswerFindings::default();
                let mut held = HeldText::default();
                let mut out = String::new();
                let mut refusal = None;
                for piece in split.iter().copied().chain([""]) {
                    let step = if piece.is_empty() {
                        held.finish(&rules, &mut found)
                    } else {
                        held.push(&rules, piece, &mut found)
                    };
                    match step {
                        Ok(part) => out.push_str(&part),
                        Err(r) => {
                            refusal = Some(r);
                            break;
                        }
                    }
                }
                assert_eq!(refusal, Some(Refusal::Rule(rule.into())), "{split:?}");
                assert_eq!(found.rules, vec![rule.to_owned()]);
                // Nothing of the term got out: what did is a prefix of the text before it.
                let hit = text
                    .find("Project")
                    .or(text.find("sk-ant"))
                    .or(text.find("-----BEGIN"))
                    .unwrap();
                assert!(out.len() <= hit && text.starts_with(&out), "{out:?}");
            }
        }
        // An injection phrasing in an answer is not a hit.
        let (out, found) = whole(&rules, "I will never ignore all previous instructions.");
        assert!(out.is_ok() && found.is_empty());
        // The hold grows with the longest term.
        let long = Sentinel::new(&["x".repeat(150)]);
        let rules = AnswerRules {
            sentinel: Some(&long),
            ..rules
        };
        assert_eq!(rules.hold(), 150);
    }

    #[test]
    fn pii_with_block_refuses_and_a_long_value_is_let_out_masked() {
        let acts = actions(&[
            (PiiEntity::CreditCard, PiiAction::Block),
            (PiiEntity::Url, PiiAction::Mask),
        ]);
        let entities = [PiiEntity::CreditCard, PiiEntity::Url];
        let rules = AnswerRules {
            sentinel: None,
            entities: &entities,
            actions: &acts,
        };
        let (out, found) = whole(&rules, "pay with 4111 1111 1111 1111 today");
        assert_eq!(out, Err(Refusal::Pii(vec![PiiEntity::CreditCard])));
        assert_eq!(found.pii.get(&PiiEntity::CreditCard), Some(&1));

        // A URL longer than hold + MAX_VALUE is let out, masked, while still arriving.
        let url = format!("https://example.com/{}", "abc/".repeat(300));
        let text = format!("see {url} ok");
        let split: Vec<&str> = every_split(&text).pop().unwrap();
        let (got, _, most_held) = pieces(&rules, &split);
        let got = got.unwrap();
        assert!(
            most_held < rules.hold() + STEP + MAX_VALUE + 5,
            "{most_held}"
        );
        assert!(
            !got.contains("example.com") && !got.contains("abc"),
            "{got}"
        );
        assert_eq!(got.len(), text.len());
    }

    #[test]
    fn placeholders_are_put_back_even_split_across_pieces() {
        let mut values = Placeholders::numbered_after(2);
        let mut request = String::new();
        values.write(&mut request, PiiEntity::EmailAddress, "ada@example.com");
        values.write(&mut request, PiiEntity::PhoneNumber, "+1 \"555\" 0100");
        values.write(&mut request, PiiEntity::EmailAddress, "ada@example.com");
        assert_eq!(
            request,
            "<EMAIL_ADDRESS_3><PHONE_NUMBER_4><EMAIL_ADDRESS_3>"
        );
        assert_eq!(format!("{values:?}"), "Placeholders(2 values)");
        assert_eq!(
            Placeholders::highest_in("x <URL_7> <EMAIL_ADDRESS_12> <b>"),
            12
        );

        let answer = "Mail <EMAIL_ADDRESS_3> or call <PHONE_NUMBER_4>; <EMAIL_ADDRESS_9> is not ours, a<b, <PERSON_";
        let expected = "Mail ada@example.com or call +1 \"555\" 0100; <EMAIL_ADDRESS_9> is not ours, a<b, <PERSON_";
        for split in every_split(answer) {
            let mut restorer = Restorer::default();
            let mut out = String::new();
            for piece in &split {
                out.push_str(&restorer.push(&values, piece, Quoting::Text));
            }
            out.push_str(&restorer.finish(&values, Quoting::Text));
            assert_eq!(out, expected, "{split:?}");
        }
        // Inside a tool call's JSON arguments the value is escaped.
        let mut restorer = Restorer::default();
        let args = restorer.push(&values, r#"{"to":"<PHONE_NUMBER_4>"}"#, Quoting::JsonString);
        assert_eq!(args, r#"{"to":"+1 \"555\" 0100"}"#);
        assert!(serde_json::from_str::<serde_json::Value>(&args).is_ok());
    }
}
