//! The PII benchmark's public split, scored the way `shared/pii-bench/score.py` scores
//! it (entity-level overlap matching on code-point offsets), with floors a little below
//! what the detector reaches, so a regression fails here before the benchmark says so.
//! The split lives outside the repository: `/work/shared/pii-bench/public.jsonl`, or
//! `<repo>/../shared/pii-bench/public.jsonl` (how CI lays it out). Without it the test
//! says so and passes.

use behest_core::settings::PiiEntity;
use behest_guard::PiiDetector;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn split() -> Option<String> {
    let repo_relative =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/pii-bench/public.jsonl");
    [
        PathBuf::from("/work/shared/pii-bench/public.jsonl"),
        repo_relative,
    ]
    .into_iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
}

#[derive(Default, Clone, Copy)]
struct Tally {
    tp_pred: usize,
    n_pred: usize,
    tp_gold: usize,
    n_gold: usize,
}

impl Tally {
    fn f1(&self) -> f64 {
        let p = if self.n_pred == 0 {
            1.0
        } else {
            self.tp_pred as f64 / self.n_pred as f64
        };
        let r = if self.n_gold == 0 {
            1.0
        } else {
            self.tp_gold as f64 / self.n_gold as f64
        };
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

fn overlaps(a: (usize, usize), b: (usize, usize)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn span(v: &serde_json::Value) -> (usize, usize) {
    (
        v["start"].as_u64().unwrap_or(0) as usize,
        v["end"].as_u64().unwrap_or(0) as usize,
    )
}

#[test]
fn public_split_floors() {
    let Some(data) = split() else {
        // Outside the team's checkout the split may be absent; CI always has it.
        assert!(
            std::env::var_os("CI").is_none(),
            "shared/pii-bench/public.jsonl not found: CI must score the PII detector"
        );
        eprintln!("public_split_floors: shared/pii-bench/public.jsonl not found; nothing to score");
        return;
    };
    let det = PiiDetector::shared();
    let mut tally: BTreeMap<&'static str, Tally> = BTreeMap::new();
    let (mut negatives, mut negatives_hit) = (0usize, 0usize);
    let mut messages = 0;
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        let text = rec["text"].as_str().unwrap_or("");
        messages += 1;
        // byte offsets -> code points, as score.py compares
        let cp = |b: usize| text[..b].chars().count();
        let preds: Vec<(PiiEntity, (usize, usize))> = det
            .detect(text)
            .into_iter()
            .map(|d| (d.entity, (cp(d.start), cp(d.end))))
            .collect();
        let gold = rec["spans"].as_array().cloned().unwrap_or_default();
        for e in PiiEntity::ALL {
            let g: Vec<(usize, usize)> = gold
                .iter()
                .filter(|s| s["entity"] == e.as_str())
                .map(span)
                .collect();
            let p: Vec<(usize, usize)> = preds
                .iter()
                .filter(|(pe, _)| pe == e)
                .map(|(_, s)| *s)
                .collect();
            let t = tally.entry(e.as_str()).or_default();
            t.n_gold += g.len();
            t.n_pred += p.len();
            t.tp_gold += g
                .iter()
                .filter(|x| p.iter().any(|y| overlaps(**x, *y)))
                .count();
            t.tp_pred += p
                .iter()
                .filter(|y| g.iter().any(|x| overlaps(*x, **y)))
                .count();
        }
        for n in rec["negatives"].as_array().cloned().unwrap_or_default() {
            negatives += 1;
            if preds.iter().any(|(_, s)| overlaps(span(&n), *s)) {
                negatives_hit += 1;
            }
        }
    }
    assert!(
        messages >= 100,
        "the split looks truncated: {messages} messages"
    );
    let mut micro = Tally::default();
    for (name, t) in &tally {
        eprintln!(
            "{name:14} gold {:4} pred {:4} F1 {:.3}",
            t.n_gold,
            t.n_pred,
            t.f1()
        );
        micro.tp_pred += t.tp_pred;
        micro.n_pred += t.n_pred;
        micro.tp_gold += t.tp_gold;
        micro.n_gold += t.n_gold;
    }
    let rate = negatives_hit as f64 / negatives.max(1) as f64;
    eprintln!(
        "micro F1 {:.3}; hard negatives hit {negatives_hit}/{negatives}",
        micro.f1()
    );
    // reached on this split: micro 0.99, every entity >= 0.95, no hard negative hit
    assert!(
        micro.f1() >= 0.95,
        "micro F1 {:.3} below the floor",
        micro.f1()
    );
    for (name, t) in &tally {
        if t.n_gold > 0 {
            assert!(t.f1() >= 0.88, "{name} F1 {:.3} below the floor", t.f1());
        }
    }
    assert!(
        rate < 0.03,
        "{negatives_hit}/{negatives} hard negatives hit"
    );
}
