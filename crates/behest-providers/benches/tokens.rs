//! What counting a prompt's tokens costs: 2 KB of chat, of code and of text in other
//! scripts, counted with Behest's count-only encoder (`src/bpe.rs`) and, side by side,
//! with `bpe-openai` (the crate it replaced, and the tests' reference).
//!
//! `cargo bench -p behest-providers --bench tokens`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use behest_providers::tokens::{count_with, Family};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// `text` repeated to about 2 KB.
fn two_kb(text: &str) -> String {
    let mut out = String::new();
    while out.len() < 2048 {
        out.push_str(text);
    }
    out
}

fn texts() -> [(&'static str, String); 3] {
    [
        ("chat", two_kb("Hi! Could you help me plan a three-day trip to Lisbon in May? \
            We're two adults who like food, museums and long walks; our budget is about \
            1,200 euros, flights excluded. I'd also like to know whether the 28 tram is \
            worth it, and which neighbourhoods are quiet at night.\n\n")),
        ("code", two_kb("fn main() {\n    let items: Vec<u32> = (0..10).map(|i| i * 2).collect();\n    \
            for (i, item) in items.iter().enumerate() {\n        println!(\"{i}: {item:>4}\");\n    }\n}\n")),
        ("other scripts", two_kb("Größe und Straße, naïve café. 日本語のテキストを数える。\
            中文文本也一样。한국어 텍스트. Москва и Санкт-Петербург. ٱلْعَرَبِيَّة. ")),
    ]
}

fn count(c: &mut Criterion) {
    let mut group = c.benchmark_group("count 2 KB");
    for (name, text) in texts() {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(format!("{name}, o200k"), |b| {
            b.iter(|| count_with(Family::O200k, &text))
        });
        group.bench_function(format!("{name}, o200k, bpe-openai"), |b| {
            b.iter(|| bpe_openai::o200k_base().count(text.as_str()))
        });
    }
    group.finish();
}

criterion_group!(benches, count);
criterion_main!(benches);
