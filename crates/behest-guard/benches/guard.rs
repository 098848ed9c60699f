//! Throughput (MB/s) of the sentinel with a 200-term blocklist and of the PII detector,
//! on ~2 KB chat-like prompts with and without PII; and of the answer's guard over a
//! 2 KB answer streamed in 4-byte deltas (what a provider's tokens look like), both
//! guards enforcing every rule and entity.

use behest_core::settings::{PiiAction, PiiEntity};
use behest_guard::answer::{AnswerFindings, AnswerRules, HeldText};
use behest_guard::{PiiDetector, Sentinel};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

/// ~2 KB of ordinary chat with no PII and no rule hits.
fn clean_text() -> String {
    let para = "Can you help me restructure this essay so the argument flows better? The first \
        section talks about the history of public libraries, the second one about how funding \
        changed over the last decades, and the third one is my own opinion. I think the middle \
        part is too long and the conclusion repeats the introduction. Also, please check the \
        grammar and suggest a stronger title. Keep the tone friendly but not too casual, and \
        avoid jargon where a simpler word works just as well. ";
    para.repeat(4)
}

/// ~2 KB of support chat full of PII in several locales.
fn pii_text() -> String {
    "Hi, my name is Peter Schmidt and I live at Hauptstraße 12, 10115 Berlin. Please update \
     my phone to +49 30 1234567 and my e-mail to peter.schmidt@example.de. My IBAN is \
     DE89 3704 0044 0532 0130 00 and I paid with card 4111 1111 1111 1111 on 12/05/2024.\n\
     Bonjour, je m'appelle Camille Dubois, j'habite au 12 rue de la Paix, 75002 Paris, mon \
     portable est le 06 12 34 56 78. Ciao, mi chiamo Giulia Bianchi, sono nata a Napoli il \
     3 aprile 1990. Hola, soy Carlos Ruiz y vivo en Calle Mayor 5, 28013 Madrid.\n\
     The server 192.168.10.24 logged a failed login from 2001:db8::7334 at 14:32; see \
     https://status.example.com/incidents/123 for details. My SSN is 123-45-6789, passport \
     number 289817281, BTC wallet 1PBCYCEpsnn4HS6DsTovWQLnXbtdU2pVQB and ETH \
     0x52908400098527886E0F7030069857D2E4169EE7. Order ORD-2025-265969, build \
     10.0.22000.3813, request c987308e-774a-4ad7-b946-53ce7957dfc8.\n\
     Best regards,\nNicole Davis\nSales Director | Martin-Edwards\nM: 650.255.3590\n\
     Address: 0703 Kristen Meadow, Cookmouth, OK 99519. Met Pierpaolo Conti in Flaibano on \
     23/03/2023; he moved to Flat 5, Marsden Lakes, New Margaretbury, NG3P 7HT. Hoi, ik ben \
     Daan de Vries uit Utrecht, mijn nummer is 06-12345678. Sehr geehrte Frau Müller, ich \
     bin ab 05.01.2023 in Nordhausen. Thanks, Danny"
        .to_owned()
}

fn blocklist() -> Vec<String> {
    (0..200)
        .map(|i| format!("forbidden topic {i}"))
        .chain(["crème brûlée".to_owned()])
        .take(200)
        .collect()
}

fn bench(c: &mut Criterion) {
    let clean = clean_text();
    let pii = pii_text();
    let sentinel = Sentinel::new(&blocklist());
    let detector = PiiDetector::shared();

    let mut g = c.benchmark_group("sentinel_scan_200_terms");
    g.throughput(Throughput::Bytes(clean.len() as u64));
    g.bench_function("clean_2kb", |b| b.iter(|| sentinel.scan(black_box(&clean))));
    g.throughput(Throughput::Bytes(pii.len() as u64));
    g.bench_function("pii_2kb", |b| b.iter(|| sentinel.scan(black_box(&pii))));
    g.finish();

    let mut g = c.benchmark_group("pii_detect");
    g.throughput(Throughput::Bytes(clean.len() as u64));
    g.bench_function("clean_2kb", |b| {
        b.iter(|| detector.detect(black_box(&clean)))
    });
    g.throughput(Throughput::Bytes(pii.len() as u64));
    g.bench_function("pii_2kb", |b| b.iter(|| detector.detect(black_box(&pii))));
    // The PII benchmark's public split (outside the repository), when it is there: the
    // kind of text the detector is scored on, hits and hard negatives mixed.
    if let Some(split) = public_split() {
        g.throughput(Throughput::Bytes(
            split.iter().map(|t| t.len() as u64).sum(),
        ));
        g.bench_function("public_split", |b| {
            b.iter(|| {
                for text in &split {
                    black_box(detector.detect(black_box(text)));
                }
            })
        });
    }
    g.finish();

    // The answer's guard: every entity (MASK) and the 200-term sentinel, over deltas.
    let actions = PiiEntity::ALL
        .iter()
        .map(|e| (*e, PiiAction::Mask))
        .collect();
    let rules = AnswerRules {
        sentinel: Some(&sentinel),
        entities: PiiEntity::ALL,
        actions: &actions,
    };
    let mut g = c.benchmark_group("answer_stream_4b_deltas");
    for (name, text) in [("clean_2kb", &clean), ("pii_2kb", &pii)] {
        let deltas = pieces(text, 4);
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut held = HeldText::default();
                let mut found = AnswerFindings::default();
                let mut out = 0;
                for delta in &deltas {
                    out += held.push(&rules, delta, &mut found).map_or(0, |t| t.len());
                }
                out += held.finish(&rules, &mut found).map_or(0, |t| t.len());
                black_box(out)
            })
        });
    }
    g.finish();
}

/// `text` in pieces of about `n` bytes (never cutting a character).
fn pieces(text: &str, n: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + n).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        out.push(&text[start..end]);
        start = end;
    }
    out
}

/// The texts of `../shared/pii-bench/public.jsonl`, if it exists.
fn public_split() -> Option<Vec<String>> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/pii-bench/public.jsonl");
    let raw = std::fs::read_to_string(path).ok()?;
    Some(
        raw.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|v| v["text"].as_str().map(str::to_owned))
            .collect(),
    )
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1)).sample_size(30);
    targets = bench
}
criterion_main!(benches);
