//! Usage: one record per data-plane request (refused ones included), and the sums the
//! usage API answers with.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// One data-plane request, as usage keeps it. `id` makes a replayed record (from the
/// spool, after a crash) a no-op.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UsageRecord {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub project_id: Uuid,
    pub tenant_id: Uuid,
    pub uid: Option<String>,
    pub session_id: Option<String>,
    pub thread_id: Option<String>,
    pub tier: Option<String>,
    /// `chat`, `embeddings`, `models`.
    pub operation: String,
    /// `live` or `playground`.
    pub origin: String,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    /// Counted by Behest (the provider reported none).
    pub tokens_counted: bool,
    pub cost_usd: f64,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub status: i32,
    pub error_code: Option<String>,
    pub ending: String,
    /// The guard's findings as JSON (rules and entity types, never text).
    pub guard: serde_json::Value,
}

/// How usage is summed over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Hour,
    Day,
    Month,
}

impl Granularity {
    /// Parses `hour`, `day` or `month`.
    pub fn parse(s: &str) -> Option<Granularity> {
        match s {
            "hour" => Some(Granularity::Hour),
            "day" => Some(Granularity::Day),
            "month" => Some(Granularity::Month),
            _ => None,
        }
    }

    pub fn column(self) -> &'static str {
        match self {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
            Granularity::Month => "month",
        }
    }

    /// The bucket `at` falls in, as usage records keep it (`2026-12-07T09:00:00Z`,
    /// `2026-12-07`, `2026-12`) and as daily budget keys spell the day. Written digit by
    /// digit: this runs for every request (its budget day) and three times for every
    /// usage row, and `format!` with padded integers cost about 1.8k instructions a call.
    pub fn bucket(self, at: DateTime<Utc>) -> String {
        use chrono::{Datelike, Timelike};
        let (y, m, d) = (at.year(), at.month(), at.day());
        let Ok(y @ 0..=9999) = u32::try_from(y) else {
            // Years chrono can hold but four digits cannot (no clock reads them).
            return match self {
                Granularity::Hour => format!("{y:04}-{m:02}-{d:02}T{:02}:00:00Z", at.hour()),
                Granularity::Day => format!("{y:04}-{m:02}-{d:02}"),
                Granularity::Month => format!("{y:04}-{m:02}"),
            };
        };
        let mut out = String::with_capacity(20);
        let two = |out: &mut String, n: u32| {
            for digit in [n / 10 % 10, n % 10] {
                out.push(char::from(b'0' + digit as u8));
            }
        };
        two(&mut out, y / 100);
        two(&mut out, y % 100);
        out.push('-');
        two(&mut out, m);
        if self != Granularity::Month {
            out.push('-');
            two(&mut out, d);
        }
        if self == Granularity::Hour {
            out.push('T');
            two(&mut out, at.hour());
            out.push_str(":00:00Z");
        }
        out
    }
}

/// Which usage to sum: a project's, optionally one end user's, in `[from, to)`.
#[derive(Debug, Clone)]
pub struct UsageQuery {
    pub project_id: Uuid,
    pub uid: Option<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// Sums over a set of usage records.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct UsageTotals {
    pub requests: i64,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub cost_usd: f64,
}

impl UsageTotals {
    /// The sum of parts (a report's totals are its buckets' sum: one read of the
    /// records, so the two cannot disagree while records are being written).
    pub fn of<'a>(parts: impl IntoIterator<Item = &'a UsageTotals>) -> UsageTotals {
        parts
            .into_iter()
            .fold(UsageTotals::default(), |sum, part| UsageTotals {
                requests: sum.requests + part.requests,
                prompt_tokens: sum.prompt_tokens + part.prompt_tokens,
                completion_tokens: sum.completion_tokens + part.completion_tokens,
                total_tokens: sum.total_tokens + part.total_tokens,
                cost_usd: sum.cost_usd + part.cost_usd,
            })
    }
}

/// The sums of one bucket (`start` as the bucket column spells it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UsageBucket {
    pub start: String,
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// One end user's or one session's sums.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UsageTop {
    pub key: String,
    #[serde(flatten)]
    pub totals: UsageTotals,
}

/// Requests that ended with one error code (refused by Behest or failed upstream).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RefusalCount {
    pub error_code: String,
    pub requests: i64,
}

/// Which guard found something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardKind {
    Sentinel,
    Pii,
}

/// Which way the guarded text went: the request to the provider, or its answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardDirection {
    #[default]
    Request,
    Answer,
}

/// Requests in which one guard found one sentinel rule or one PII entity type, in one
/// direction, in one mode and with one outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GuardHit {
    pub guard: GuardKind,
    pub direction: GuardDirection,
    /// The sentinel rule (`blocklist:3`, `injection:…`, `credential:…`) or the PII
    /// entity type (`EMAIL_ADDRESS`, …).
    pub name: String,
    /// The guard's mode at the time (`enforce`, `shadow`), as the record says.
    pub mode: Option<String>,
    /// What enforcement did to the request (`blocked`, `rewritten`); `None` when it
    /// went through untouched (shadow mode, or nothing to act on). Records keep one
    /// action per request, so every PII entity type of a rewritten request shares it.
    pub action: Option<String>,
    pub requests: i64,
}

/// How a project's requests ended beyond their sums: refusals by error code (most
/// first) and what the guards found (most first).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UsageOutcomes {
    pub refusals: Vec<RefusalCount>,
    pub guard_hits: Vec<GuardHit>,
}

/// Counts guard hits over usage records' `guard` values, as the gateway writes them
/// (`behest_gateway::guard::GuardFindings::to_json`):
///
/// ```json
/// {"sentinel": ["blocklist:0"], "sentinel_mode": "enforce",
///  "pii": {"EMAIL_ADDRESS": 2}, "pii_mode": "shadow", "action": "blocked"}
/// ```
///
/// every key optional, `{}` when the guard found nothing; what the answer's guard found
/// is an object of the same shape under `"answer"`. Each request counts once per
/// rule or entity type (not per occurrence). The one `action` belongs to the sentinel
/// when it was enforcing (an enforced sentinel hit blocks before PII runs), otherwise
/// to PII when that was enforcing; a guard in shadow mode never acted. Anything else
/// in a value is ignored, so an older or newer record shape cannot fail a report.
pub fn tally_guard_hits<'a>(
    guards: impl IntoIterator<Item = &'a serde_json::Value>,
) -> Vec<GuardHit> {
    let mut counts: std::collections::BTreeMap<HitKey, i64> = std::collections::BTreeMap::new();
    for guard in guards {
        tally_one(guard, GuardDirection::Request, &mut counts);
        if let Some(answer) = guard.get("answer") {
            tally_one(answer, GuardDirection::Answer, &mut counts);
        }
    }
    let mut hits: Vec<GuardHit> = counts
        .into_iter()
        .map(
            |((guard, direction, name, mode, action), requests)| GuardHit {
                guard,
                direction,
                name,
                mode,
                action,
                requests,
            },
        )
        .collect();
    // Most first; the map's order (guard, direction, name, mode, action) breaks ties, stably.
    hits.sort_by_key(|hit| std::cmp::Reverse(hit.requests));
    hits
}

type HitKey = (
    GuardKind,
    GuardDirection,
    String,
    Option<String>,
    Option<String>,
);

/// One direction's findings of one record, counted into `counts`.
fn tally_one(
    guard: &serde_json::Value,
    direction: GuardDirection,
    counts: &mut std::collections::BTreeMap<HitKey, i64>,
) {
    {
        let text = |key: &str| guard.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let action = text("action");
        let sentinel_mode = text("sentinel_mode");
        let pii_mode = text("pii_mode");
        let sentinel_rules: Vec<&str> = guard
            .get("sentinel")
            .and_then(|v| v.as_array())
            .map(|rules| rules.iter().filter_map(|r| r.as_str()).collect())
            .unwrap_or_default();
        let sentinel_acted =
            !sentinel_rules.is_empty() && sentinel_mode.as_deref() == Some("enforce");
        let sentinel_action = if sentinel_acted { action.clone() } else { None };
        let pii_action = if !sentinel_acted && pii_mode.as_deref() == Some("enforce") {
            action
        } else {
            None
        };
        let mut seen = std::collections::BTreeSet::new();
        for rule in sentinel_rules {
            // A rule is recorded once per request; a hand-written duplicate counts once.
            if seen.insert(rule) {
                let key = (
                    GuardKind::Sentinel,
                    direction,
                    rule.to_owned(),
                    sentinel_mode.clone(),
                    sentinel_action.clone(),
                );
                *counts.entry(key).or_default() += 1;
            }
        }
        if let Some(entities) = guard.get("pii").and_then(|v| v.as_object()) {
            for entity in entities.keys() {
                let key = (
                    GuardKind::Pii,
                    direction,
                    entity.clone(),
                    pii_mode.clone(),
                    pii_action.clone(),
                );
                *counts.entry(key).or_default() += 1;
            }
        }
    }
}

/// How spending is summed to rebuild the spending counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostGroup {
    /// Per (project, end user).
    User,
    /// Per (project, end user, session).
    Session,
    /// Per project.
    Project,
}

/// What one group spent since a time.
#[derive(Debug, Clone, PartialEq)]
pub struct CostSum {
    pub project_id: Uuid,
    pub uid: Option<String>,
    pub session_id: Option<String>,
    pub cost_usd: f64,
}

/// A bucket's key (`2026-11-30`, `2026-11-30T09:00:00Z`, `2026-11`) as the UTC time it
/// starts (`2026-11-30T00:00:00Z`).
pub fn bucket_start(key: &str) -> String {
    match key.len() {
        7 => format!("{key}-01T00:00:00Z"),
        10 => format!("{key}T00:00:00Z"),
        _ => key.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_the_chrono_patterns_the_queries_group_by() {
        use chrono::TimeZone;
        for at in [
            Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            Utc.with_ymd_and_hms(2026, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(999, 7, 9, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 10, 19, 20, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
        ] {
            let fmt = |p: &str| at.format(p).to_string();
            assert_eq!(Granularity::Hour.bucket(at), fmt("%Y-%m-%dT%H:00:00Z"));
            assert_eq!(Granularity::Day.bucket(at), fmt("%Y-%m-%d"));
            assert_eq!(Granularity::Month.bucket(at), fmt("%Y-%m"));
        }
    }

    #[test]
    fn totals_are_the_sum_of_their_parts() {
        let part = |requests, cost_usd| UsageTotals {
            requests,
            prompt_tokens: requests * 10,
            completion_tokens: requests * 2,
            total_tokens: requests * 12,
            cost_usd,
        };
        let sum = UsageTotals::of(&[part(1, 0.5), part(3, 0.25)]);
        assert_eq!(sum, part(4, 0.75));
        assert_eq!(UsageTotals::of(&[]), UsageTotals::default());
    }

    #[test]
    fn guard_hits_count_requests_per_rule_entity_mode_and_action() {
        let records = [
            serde_json::json!({"sentinel": ["blocklist:0"], "sentinel_mode": "enforce", "action": "blocked"}),
            serde_json::json!({"sentinel": ["blocklist:0", "injection:ignore"], "sentinel_mode": "enforce", "action": "blocked"}),
            // Sentinel in shadow, PII enforcing: the rewrite is PII's.
            serde_json::json!({"sentinel": ["blocklist:0"], "sentinel_mode": "shadow",
                "pii": {"EMAIL_ADDRESS": 3, "PHONE_NUMBER": 1}, "pii_mode": "enforce", "action": "rewritten"}),
            serde_json::json!({"pii": {"EMAIL_ADDRESS": 1}, "pii_mode": "shadow"}),
            serde_json::json!({}),
            serde_json::json!(null),
            serde_json::json!({"sentinel": "not a list", "pii": ["not", "a", "map"]}),
        ];
        let hits = tally_guard_hits(&records);
        let row = |guard, name: &str, mode: &str, action: Option<&str>, requests| GuardHit {
            guard,
            direction: GuardDirection::Request,
            name: name.to_owned(),
            mode: Some(mode.to_owned()),
            action: action.map(str::to_owned),
            requests,
        };
        assert_eq!(
            hits,
            vec![
                row(
                    GuardKind::Sentinel,
                    "blocklist:0",
                    "enforce",
                    Some("blocked"),
                    2
                ),
                row(GuardKind::Sentinel, "blocklist:0", "shadow", None, 1),
                row(
                    GuardKind::Sentinel,
                    "injection:ignore",
                    "enforce",
                    Some("blocked"),
                    1
                ),
                row(
                    GuardKind::Pii,
                    "EMAIL_ADDRESS",
                    "enforce",
                    Some("rewritten"),
                    1
                ),
                row(GuardKind::Pii, "EMAIL_ADDRESS", "shadow", None, 1),
                row(
                    GuardKind::Pii,
                    "PHONE_NUMBER",
                    "enforce",
                    Some("rewritten"),
                    1
                ),
            ]
        );
        let json = serde_json::to_value(&hits[0]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"guard": "sentinel", "direction": "request", "name": "blocklist:0",
                "mode": "enforce", "action": "blocked", "requests": 2})
        );
    }

    #[test]
    fn what_the_answer_guard_found_counts_as_the_answer_direction() {
        let records = [serde_json::json!({
            "pii": {"EMAIL_ADDRESS": 1}, "pii_mode": "enforce", "action": "rewritten",
            "answer": {"sentinel": ["credential:openai_api_key"], "sentinel_mode": "enforce",
                "pii": {"EMAIL_ADDRESS": 2}, "pii_mode": "enforce", "action": "blocked"}
        })];
        let hits = tally_guard_hits(&records);
        let found = |direction, guard, name: &str, action: Option<&str>| {
            hits.iter().any(|h| {
                h.direction == direction
                    && h.guard == guard
                    && h.name == name
                    && h.action.as_deref() == action
                    && h.requests == 1
            })
        };
        assert_eq!(hits.len(), 3, "{hits:?}");
        assert!(found(
            GuardDirection::Request,
            GuardKind::Pii,
            "EMAIL_ADDRESS",
            Some("rewritten")
        ));
        assert!(found(
            GuardDirection::Answer,
            GuardKind::Sentinel,
            "credential:openai_api_key",
            Some("blocked")
        ));
        // The answer's sentinel blocked it, so its PII finding did not act.
        assert!(found(
            GuardDirection::Answer,
            GuardKind::Pii,
            "EMAIL_ADDRESS",
            None
        ));
    }

    #[test]
    fn buckets_start_at_their_first_instant() {
        assert_eq!(bucket_start("2026-11"), "2026-11-01T00:00:00Z");
        assert_eq!(bucket_start("2026-11-30"), "2026-11-30T00:00:00Z");
        assert_eq!(bucket_start("2026-11-30T09:00:00Z"), "2026-11-30T09:00:00Z");
        assert_eq!(Granularity::parse("hour"), Some(Granularity::Hour));
        assert_eq!(Granularity::parse("week"), None);
    }
}
