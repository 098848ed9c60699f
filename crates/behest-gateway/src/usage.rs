//! `GET /v1/usage` on the project host (JWT), as the `behest-ai` SDK's `usage.get` reads
//! it: sums per hour, day or month over `[from, to)`. An end user's token sees only its
//! own usage; `admin` and `dashboard-service` tokens see the project's, optionally for
//! one `user_id`.

use crate::pipeline::gate;
use crate::{Caller, GatewayState};
use axum::extract::{Query, State};
use axum::Json;
use behest_core::usage::{Granularity, UsageBucket, UsageQuery, UsageTotals};
use behest_http::{ApiError, ApiResult};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The default period: the last 30 days.
const DEFAULT_DAYS: i64 = 30;

#[derive(Debug, Deserialize)]
pub struct UsageParams {
    from: Option<String>,
    to: Option<String>,
    user_id: Option<String>,
    granularity: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BucketView {
    pub start: String,
    #[serde(flatten)]
    pub totals: UsageTotals,
}

#[derive(Debug, Serialize)]
pub struct UsageView {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub buckets: Vec<BucketView>,
    pub totals: UsageTotals,
}

pub async fn get(
    State(gateway): State<GatewayState>,
    caller: Caller,
    Query(params): Query<UsageParams>,
) -> ApiResult<Json<UsageView>> {
    gate(&gateway, &caller.0)?;
    let principal = &caller.0;
    let granularity = match params.granularity.as_deref() {
        None | Some("") => Granularity::Day,
        Some(raw) => Granularity::parse(raw).ok_or_else(|| {
            ApiError::validation("granularity", "granularity must be hour, day or month")
        })?,
    };
    let to = match params.to.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => behest_http::parse_time(raw, "to")?,
        None => Utc::now(),
    };
    let from = match params.from.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => behest_http::parse_time(raw, "from")?,
        None => to - chrono::Duration::days(DEFAULT_DAYS),
    };
    if from >= to {
        return Err(ApiError::validation("from", "from must be before to"));
    }
    let sees_project = matches!(principal.role.as_str(), "admin" | "dashboard-service");
    let uid = match (sees_project, params.user_id.filter(|u| !u.is_empty())) {
        (true, wanted) => wanted,
        (false, Some(wanted)) if wanted != principal.uid => {
            return Err(ApiError::forbidden(
                "an end user's token reads only its own usage",
            ))
        }
        (false, _) => Some(principal.uid.clone()),
    };
    let query = UsageQuery {
        project_id: principal.project.id,
        uid: uid.clone(),
        from,
        to,
    };
    let usage = gateway.usage();
    let buckets = usage
        .buckets(&query, granularity)
        .await
        .map_err(ApiError::internal)?;
    let totals = UsageTotals::of(buckets.iter().map(|b| &b.totals));
    Ok(Json(UsageView {
        from,
        to,
        granularity: granularity.column(),
        user_id: uid,
        buckets: buckets
            .into_iter()
            .map(|UsageBucket { start, totals }| BucketView {
                start: behest_core::usage::bucket_start(&start),
                totals,
            })
            .collect(),
        totals,
    }))
}
