//! Usage of a project over a period: requests, tokens and cost per day as server-drawn
//! SVG bar charts, top users and sessions (cost per session), refusals by reason and
//! guard hits, and the same days as CSV.

use crate::extract::ProjectPage;
use crate::page::{self, PageError, ProjectTab, Section, Shell};
use crate::session::SignedIn;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use behest_control::service::usage::{self, ProjectUsageView, UsageInput};
use behest_control::ControlState;
use behest_core::usage::{Granularity, GuardDirection, GuardKind, UsageTotals};
use chrono::{Duration, NaiveTime, Timelike, Utc};
use maud::{html, Markup};
use serde::Deserialize;
use std::fmt::Write;

const PERIODS: [(i64, &str); 4] = [
    (1, "Last 24 hours"),
    (7, "Last 7 days"),
    (30, "Last 30 days"),
    (90, "Last 90 days"),
];

#[derive(Debug, Default, Deserialize)]
pub struct Period {
    days: Option<i64>,
}

impl Period {
    fn days(&self) -> i64 {
        self.days
            .filter(|d| PERIODS.iter().any(|(p, _)| p == d))
            .unwrap_or(7)
    }
}

async fn report(
    ctl: &ControlState,
    who: &SignedIn,
    project_id: uuid::Uuid,
    days: i64,
) -> Result<ProjectUsageView, PageError> {
    let now = Utc::now();
    // Whole buckets: "the last 7 days" is today and the six days before it, "the last
    // 24 hours" this hour and the 23 before it.
    let (from, granularity) = if days == 1 {
        let hour = now
            .with_minute(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(now);
        (hour - Duration::hours(23), Granularity::Hour)
    } else {
        let today = now.date_naive().and_time(NaiveTime::MIN).and_utc();
        (today - Duration::days(days - 1), Granularity::Day)
    };
    let input = UsageInput {
        from,
        to: now + Duration::minutes(1),
        granularity,
        user_id: None,
    };
    Ok(usage::project_usage(ctl, &who.actor(), project_id, input).await?)
}

/// Every bucket of the period in order, the empty ones as zeros (the store only
/// returns buckets that have requests), so a chart's bars are evenly spaced days.
fn filled(view: &ProjectUsageView) -> Vec<(String, UsageTotals)> {
    let hourly = view.granularity == "hour";
    let (step, format) = if hourly {
        (Duration::hours(1), "%Y-%m-%dT%H:00:00Z")
    } else {
        (Duration::days(1), "%Y-%m-%dT00:00:00Z")
    };
    let truncate = |t: chrono::DateTime<Utc>| {
        let text = t.format(format).to_string();
        chrono::DateTime::parse_from_rfc3339(&text).map_or(t, |d| d.with_timezone(&Utc))
    };
    let mut out = Vec::new();
    let mut at = truncate(view.from);
    while at < view.to && out.len() <= 24 * 90 {
        let key = at.format(format).to_string();
        let totals = view
            .buckets
            .iter()
            .find(|b| b.start == key)
            .map(|b| b.totals.clone())
            .unwrap_or_default();
        out.push((key, totals));
        at += step;
    }
    out
}

/// A bar chart of one series, drawn on the server (no script, no inline style).
pub fn bars(title: &str, points: &[(String, f64)], unit: fn(f64) -> String) -> Markup {
    const W: f64 = 640.0;
    const H: f64 = 160.0;
    const PAD: f64 = 24.0;
    let max = points.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let slot = (W - PAD) / points.len().max(1) as f64;
    let mut svg = String::new();
    for (i, (label, value)) in points.iter().enumerate() {
        let height = if max > 0.0 {
            (value / max) * (H - 2.0 * PAD)
        } else {
            0.0
        };
        let x = PAD + i as f64 * slot + slot * 0.1;
        let y = H - PAD - height;
        let _ = write!(
            svg,
            r#"<rect class="bar" x="{x:.1}" y="{y:.1}" width="{:.1}" height="{height:.1}"><title>{}: {}</title></rect>"#,
            slot * 0.8,
            maud::html! { (label) }.into_string(),
            unit(*value),
        );
    }
    let first = points.first().map(|(l, _)| l.as_str()).unwrap_or_default();
    let last = points.last().map(|(l, _)| l.as_str()).unwrap_or_default();
    let summary = format!(
        "{title}: {} points from {first} to {last}, highest {}",
        points.len(),
        unit(max)
    );
    html! {
        figure {
            figcaption { (title) " " span.hint { "(highest " (unit(max)) ")" } }
            svg.chart viewBox={ "0 0 " (W) " " (H) } role="img" aria-label=(summary) {
                line.axis x1=(PAD) y1=(H - PAD) x2=(W) y2=(H - PAD) {}
                (page::raw(svg))
                text x=(PAD) y=(H - 6.0) { (first) }
                text x=(W - 4.0) y=(H - 6.0) text-anchor="end" { (last) }
            }
        }
    }
}

fn count(v: f64) -> String {
    format!("{v:.0}")
}

fn dollars(v: f64) -> String {
    format!("${v:.4}")
}

pub async fn page(
    State(ctl): State<ControlState>,
    Query(period): Query<Period>,
    ProjectPage { who, project }: ProjectPage,
) -> Result<Response, PageError> {
    let days = period.days();
    let view = report(&ctl, &who, project.id, days).await?;
    let label = |start: &str| {
        if days == 1 {
            start.get(11..16).unwrap_or(start).to_owned()
        } else {
            start.get(..10).unwrap_or(start).to_owned()
        }
    };
    let days_of_period = filled(&view);
    let series = |f: fn(&UsageTotals) -> f64| -> Vec<(String, f64)> {
        days_of_period
            .iter()
            .map(|(start, totals)| (label(start), f(totals)))
            .collect()
    };
    let shell = Shell {
        who: &who,
        title: "Usage",
        section: Section::Projects,
        project: Some((project.id, &project.name, ProjectTab::Usage)),
        refresh: None,
    };
    let t = &view.totals;
    Ok(page::ok(shell.render(html! {
        h1 { "Usage" }
        form.actions method="get" action={ "/projects/" (project.id) "/usage" } {
            label for="days" { "Period" }
            select id="days" name="days" {
                @for (d, name) in PERIODS { option value=(d) selected[d == days] { (name) } }
            }
            button type="submit" { "Show" }
            a.button.secondary href={ "/projects/" (project.id) "/usage.csv?days=" (days) } download { "Download CSV" }
        }
        div.grid {
            div.stat { "Requests" b { (t.requests) } }
            div.stat { "Tokens" b { (t.total_tokens) } span.hint { (t.prompt_tokens) " prompt, " (t.completion_tokens) " completion" } }
            div.stat { "Cost" b { (dollars(t.cost_usd)) } }
        }
        @if view.buckets.is_empty() {
            p { "No requests in this period." }
        }
        @if !days_of_period.is_empty() {
            (bars("Requests", &series(|t| t.requests as f64), count))
            (bars("Tokens", &series(|t| t.total_tokens as f64), count))
            (bars("Cost (USD)", &series(|t| t.cost_usd), dollars))
        }
        h2 { "Top users" }
        (top_table("top-users", "User", view.top_users.iter().map(|u| (u.user_id.as_str(), &u.totals))))
        h2 { "Top sessions" }
        (top_table("top-sessions", "Session", view.top_sessions.iter().map(|s| (s.session_id.as_str(), &s.totals))))
        (outcomes(&view))
    })))
}

fn top_table<'a>(
    id: &str,
    what: &str,
    rows: impl Iterator<Item = (&'a str, &'a behest_core::usage::UsageTotals)>,
) -> Markup {
    let rows: Vec<_> = rows.collect();
    html! {
        @if rows.is_empty() {
            p id=(id) { "None in this period." }
        } @else {
            div.table {
                table id=(id) {
                    thead { tr { th scope="col" { (what) } th.num scope="col" { "Requests" } th.num scope="col" { "Tokens" } th.num scope="col" { "Cost" } } }
                    tbody {
                        @for (key, totals) in rows {
                            tr { td { code { (key) } } td.num { (totals.requests) } td.num { (totals.total_tokens) } td.num { (dollars(totals.cost_usd)) } }
                        }
                    }
                }
            }
        }
    }
}

/// Refusals by reason and guard hits.
fn outcomes(view: &ProjectUsageView) -> Markup {
    html! {
        h2 { "Refusals by reason" }
        @if view.refusals.is_empty() {
            p id="refusals" { "No refused requests in this period." }
        } @else {
            div.table { table id="refusals" {
                thead { tr { th scope="col" { "Reason" } th.num scope="col" { "Requests" } } }
                tbody { @for r in &view.refusals { tr { td { code { (r.error_code) } } td.num { (r.requests) } } } }
            } }
        }
        h2 { "Guard hits" }
        @if view.guard_hits.is_empty() {
            p id="guard-hits" { "No guard findings in this period." }
        } @else {
            div.table { table id="guard-hits" {
                thead { tr { th scope="col" { "Guard" } th scope="col" { "In" } th scope="col" { "Rule or entity" } th scope="col" { "Mode" } th scope="col" { "Action" } th.num scope="col" { "Requests" } } }
                tbody { @for h in &view.guard_hits { tr {
                    td { (match h.guard { GuardKind::Sentinel => "sentinel", GuardKind::Pii => "PII" }) }
                    td { (match h.direction { GuardDirection::Request => "request", GuardDirection::Answer => "answer" }) }
                    td { code { (h.name) } }
                    td { (h.mode.as_deref().unwrap_or("—")) } td { (h.action.as_deref().unwrap_or("let through")) } td.num { (h.requests) }
                } } }
            } }
        }
    }
}

/// The period's buckets as CSV, one row per day (per hour for the last 24 hours).
pub async fn csv(
    State(ctl): State<ControlState>,
    Query(period): Query<Period>,
    ProjectPage { who, project }: ProjectPage,
) -> Result<Response, PageError> {
    let view = report(&ctl, &who, project.id, period.days()).await?;
    let mut body =
        String::from("start,requests,prompt_tokens,completion_tokens,total_tokens,cost_usd\n");
    for (start, t) in filled(&view) {
        let _ = writeln!(
            body,
            "{},{},{},{},{},{:.6}",
            start, t.requests, t.prompt_tokens, t.completion_tokens, t.total_tokens, t.cost_usd
        );
    }
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!(
        "attachment; filename=\"usage-{}-{}d.csv\"",
        project.slug,
        period.days()
    )) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use behest_control::service::usage::BucketView;

    #[test]
    fn a_period_has_every_day_even_without_requests() {
        let from = chrono::DateTime::parse_from_rfc3339("2026-11-28T10:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let totals = UsageTotals {
            requests: 3,
            ..UsageTotals::default()
        };
        let view = ProjectUsageView {
            project_id: uuid::Uuid::new_v4(),
            from,
            to: from + Duration::days(3),
            granularity: "day",
            buckets: vec![BucketView {
                start: "2026-11-29T00:00:00Z".into(),
                totals: totals.clone(),
            }],
            totals: totals.clone(),
            top_users: Vec::new(),
            top_sessions: Vec::new(),
            refusals: Vec::new(),
            guard_hits: Vec::new(),
        };
        let days = filled(&view);
        let keys: Vec<&str> = days.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "2026-11-28T00:00:00Z",
                "2026-11-29T00:00:00Z",
                "2026-11-30T00:00:00Z",
                "2026-12-01T00:00:00Z"
            ]
        );
        assert_eq!(days[1].1.requests, 3);
        assert_eq!(days[0].1.requests, 0);
    }

    #[test]
    fn bars_scale_to_the_highest_value_and_escape_labels() {
        let chart = bars(
            "Requests",
            &[("<a>".to_owned(), 2.0), ("b".to_owned(), 4.0)],
            count,
        )
        .into_string();
        assert!(chart.contains("height=\"112.0\""), "{chart}");
        assert!(chart.contains("height=\"56.0\""), "{chart}");
        assert!(
            chart.contains("&lt;a&gt;: 2") && !chart.contains("<a>"),
            "{chart}"
        );
        assert!(chart.contains("highest 4"));
    }
}
