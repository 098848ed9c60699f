//! A project's usage for its dashboard: sums per hour, day or month, the top end users
//! and sessions by cost (so the cost of each session is there too), refusals by error
//! code and what the guards found.

use crate::error::{ControlError, ControlResult};
use crate::service::Actor;
use crate::state::ControlState;
use behest_core::usage::{
    Granularity, GuardHit, RefusalCount, UsageOutcomes, UsageQuery, UsageTop, UsageTotals,
};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

const TOP: i64 = 10;

/// What to sum; times are already parsed by the caller.
#[derive(Debug, Clone)]
pub struct UsageInput {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
    pub user_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BucketView {
    pub start: String,
    #[serde(flatten)]
    pub totals: UsageTotals,
}

#[derive(Debug, Serialize)]
pub struct TopUserView {
    pub user_id: String,
    #[serde(flatten)]
    pub totals: UsageTotals,
}

#[derive(Debug, Serialize)]
pub struct TopSessionView {
    pub session_id: String,
    #[serde(flatten)]
    pub totals: UsageTotals,
}

#[derive(Debug, Serialize)]
pub struct ProjectUsageView {
    pub project_id: Uuid,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: &'static str,
    pub buckets: Vec<BucketView>,
    pub totals: UsageTotals,
    pub top_users: Vec<TopUserView>,
    pub top_sessions: Vec<TopSessionView>,
    /// Requests per error code, most first.
    pub refusals: Vec<RefusalCount>,
    /// Requests per guard, rule or entity type, mode and action, most first.
    pub guard_hits: Vec<GuardHit>,
}

pub async fn project_usage(
    ctl: &ControlState,
    actor: &Actor,
    project_id: Uuid,
    input: UsageInput,
) -> ControlResult<ProjectUsageView> {
    let project = ctl.project_for(actor, project_id).await?;
    if input.from >= input.to {
        return Err(ControlError::invalid("from", "from must be before to"));
    }
    let query = UsageQuery {
        project_id: project.id,
        uid: input.user_id,
        from: input.from,
        to: input.to,
    };
    let (buckets, users, sessions, outcomes) = tokio::try_join!(
        ctl.store.usage_buckets(&query, input.granularity),
        ctl.store.usage_top(&query, false, TOP),
        ctl.store.usage_top(&query, true, TOP),
        ctl.store.usage_outcomes(&query),
    )?;
    let UsageOutcomes {
        refusals,
        guard_hits,
    } = outcomes;
    // The totals are the buckets' sum: one read, so they cannot disagree.
    let totals = UsageTotals::of(buckets.iter().map(|b| &b.totals));
    Ok(ProjectUsageView {
        project_id: project.id,
        from: input.from,
        to: input.to,
        granularity: input.granularity.column(),
        buckets: buckets
            .into_iter()
            .map(|b| BucketView {
                start: behest_core::usage::bucket_start(&b.start),
                totals: b.totals,
            })
            .collect(),
        totals,
        top_users: users
            .into_iter()
            .map(|UsageTop { key, totals }| TopUserView {
                user_id: key,
                totals,
            })
            .collect(),
        top_sessions: sessions
            .into_iter()
            .map(|UsageTop { key, totals }| TopSessionView {
                session_id: key,
                totals,
            })
            .collect(),
        refusals,
        guard_hits,
    })
}
