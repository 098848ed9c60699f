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
    fn buckets_start_at_their_first_instant() {
        assert_eq!(bucket_start("2026-11"), "2026-11-01T00:00:00Z");
        assert_eq!(bucket_start("2026-11-30"), "2026-11-30T00:00:00Z");
        assert_eq!(bucket_start("2026-11-30T09:00:00Z"), "2026-11-30T09:00:00Z");
        assert_eq!(Granularity::parse("hour"), Some(Granularity::Hour));
        assert_eq!(Granularity::parse("week"), None);
    }
}
