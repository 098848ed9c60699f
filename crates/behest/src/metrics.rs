//! Prometheus metrics, `GET /metrics` in the text exposition format: every outcome
//! counted and timed (requests by project, operation, model and status; latency, time
//! to first byte, Behest's own overhead and each stage as histograms; tokens and cost;
//! guard hits; policy refusals; upstream errors) and the usage spool's lag, read at
//! scrape time. Label values are project ids, model and provider names, codes and rule
//! names: never an end user's id, a session, a key or any text.

use crate::usage::UsageSpool;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use behest_core::ErrorCode;
use behest_gateway::outcome::{Ending, Operation, Outcome, OutcomeSink, Stage, StageSpan};
use behest_http::{ApiError, ProjectHint};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    project: String,
    operation: &'static str,
    model: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    project: String,
    model: String,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CostLabels {
    project: String,
    model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GuardLabels {
    project: String,
    /// `sentinel` or `pii`.
    part: &'static str,
    /// The sentinel rule (`injection:…`, `credential:…`, `blocklist` for any term) or
    /// the PII entity type.
    rule: String,
    mode: &'static str,
    /// `request` or `answer`: which text the guard read.
    direction: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    project: String,
    code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    provider: &'static str,
    code: &'static str,
}

/// The codes that are a policy saying no (rather than a bad request or a failure).
fn is_policy_refusal(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::RateLimited
            | ErrorCode::QuotaExceeded
            | ErrorCode::BudgetUnavailable
            | ErrorCode::ContentBlocked
            | ErrorCode::PiiBlocked
            | ErrorCode::KillSwitch
    )
}

/// The histograms whose labels come from a fixed set (operation, stage), looked up in
/// their families once, at start: an outcome observes them by index instead of hashing
/// a label set under the family's lock for each (seven lookups a request).
struct FixedSeries {
    duration: [Histogram; Operation::ALL.len()],
    first_byte: [Histogram; Operation::ALL.len()],
    overhead: [Histogram; Operation::ALL.len()],
    stages: [Histogram; Stage::ALL.len()],
}

impl FixedSeries {
    fn resolve(
        duration: &Family<OperationLabels, Histogram>,
        first_byte: &Family<OperationLabels, Histogram>,
        overhead: &Family<OperationLabels, Histogram>,
        stages: &Family<StageLabels, Histogram>,
    ) -> FixedSeries {
        let of = |family: &Family<OperationLabels, Histogram>| {
            Operation::ALL.map(|op| {
                family
                    .get_or_create(&OperationLabels {
                        operation: op.as_str(),
                    })
                    .clone()
            })
        };
        FixedSeries {
            duration: of(duration),
            first_byte: of(first_byte),
            overhead: of(overhead),
            stages: Stage::ALL.map(|stage| {
                stages
                    .get_or_create(&StageLabels {
                        stage: stage.as_str(),
                    })
                    .clone()
            }),
        }
    }
}

/// Every metric, registered once.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    /// The duration, time-to-first-byte, overhead and stage histograms (their families
    /// are only registered: every series is in here).
    fixed: FixedSeries,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<CostLabels, Counter<f64, AtomicU64>>,
    guard: Family<GuardLabels, Counter>,
    refusals: Family<RefusalLabels, Counter>,
    upstream_errors: Family<UpstreamLabels, Counter>,
    usage_lag: Gauge,
    spool: Option<Arc<UsageSpool>>,
}

impl Metrics {
    pub fn new(spool: Option<Arc<UsageSpool>>) -> Metrics {
        // Latencies from 1 ms to ~65 s; Behest's own time from 10 µs to ~0.3 s.
        let latency = || Histogram::new(exponential_buckets(0.001, 2.0, 17));
        let fine = || Histogram::new(exponential_buckets(0.000_01, 2.0, 16));
        let mut registry = Registry::with_prefix("behest");
        let duration: Family<_, Histogram> = Family::new_with_constructor(latency);
        let first_byte: Family<_, Histogram> = Family::new_with_constructor(latency);
        let overhead: Family<_, Histogram> = Family::new_with_constructor(fine);
        let stages: Family<_, Histogram> = Family::new_with_constructor(fine);
        let metrics = Metrics {
            fixed: FixedSeries::resolve(&duration, &first_byte, &overhead, &stages),
            requests: Family::default(),
            tokens: Family::default(),
            cost: Family::default(),
            guard: Family::default(),
            refusals: Family::default(),
            upstream_errors: Family::default(),
            usage_lag: Gauge::default(),
            spool,
            registry: Registry::default(),
        };
        registry.register(
            "requests",
            "Data-plane requests, by project, operation, model and the status answered",
            metrics.requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "From a request's arrival to its last byte (a stream's end)",
            duration,
        );
        registry.register(
            "time_to_first_byte_seconds",
            "From a request's arrival to the first byte of its answer (a stream's first token)",
            first_byte,
        );
        registry.register(
            "overhead_seconds",
            "Time spent in Behest: a request's duration minus the time waiting for the provider",
            overhead,
        );
        registry.register(
            "stage_duration_seconds",
            "Each stage of the hot path (the upstream stage is the provider call)",
            stages,
        );
        registry.register(
            "tokens",
            "Tokens, prompt and completion, as the provider reported or as counted",
            metrics.tokens.clone(),
        );
        registry.register(
            "cost_usd",
            "Cost at the catalog's list prices, USD",
            metrics.cost.clone(),
        );
        registry.register(
            "guard_hits",
            "Sentinel rules and PII entity types found, enforced or in shadow",
            metrics.guard.clone(),
        );
        registry.register(
            "policy_refusals",
            "Requests the policy refused: rate limits, budgets, the guard, kill switches",
            metrics.refusals.clone(),
        );
        registry.register(
            "upstream_errors",
            "Provider calls that failed, by provider and the code answered",
            metrics.upstream_errors.clone(),
        );
        registry.register(
            "usage_sink_lag_records",
            "Usage records in the spool and not yet in the store",
            metrics.usage_lag.clone(),
        );
        Metrics {
            registry,
            ..metrics
        }
    }

    fn observe(&self, outcome: &Outcome) {
        let project = outcome
            .identity
            .project_id
            .map_or_else(|| "unknown".to_owned(), |id| id.to_string());
        let operation = outcome.operation.as_str();
        let model = outcome.model.clone().unwrap_or_default();
        self.requests
            .get_or_create(&RequestLabels {
                project: project.clone(),
                operation,
                model: model.clone(),
                status: outcome.status,
            })
            .inc();
        let op = outcome.operation as usize;
        let fixed = &self.fixed;
        fixed.duration[op].observe(outcome.total_time.as_secs_f64());
        if let Some(ttfb) = outcome.time_to_first_byte {
            fixed.first_byte[op].observe(ttfb.as_secs_f64());
        }
        fixed.overhead[op].observe(outcome.behest_time.as_secs_f64());
        for StageSpan {
            stage, duration, ..
        } in &outcome.stages
        {
            fixed.stages[*stage as usize].observe(duration.as_secs_f64());
        }
        if let Some(tokens) = outcome.tokens {
            for (kind, n) in [("prompt", tokens.prompt), ("completion", tokens.completion)] {
                if n > 0 {
                    self.tokens
                        .get_or_create(&TokenLabels {
                            project: project.clone(),
                            model: model.clone(),
                            kind,
                        })
                        .inc_by(n);
                }
            }
        }
        if outcome.cost_usd > 0.0 {
            self.cost
                .get_or_create(&CostLabels {
                    project: project.clone(),
                    model,
                })
                .inc_by(outcome.cost_usd);
        }
        let answer = outcome.guard.answer.as_deref();
        for (guard, direction) in [(Some(&outcome.guard), "request"), (answer, "answer")] {
            let Some(guard) = guard else { continue };
            for rule in &guard.sentinel {
                let rule = if rule.starts_with("blocklist:") {
                    "blocklist".to_owned()
                } else {
                    rule.clone()
                };
                self.guard
                    .get_or_create(&GuardLabels {
                        project: project.clone(),
                        part: "sentinel",
                        rule,
                        mode: guard.sentinel_mode.map_or("", |m| m.as_str()),
                        direction,
                    })
                    .inc();
            }
            for (entity, count) in &guard.pii {
                self.guard
                    .get_or_create(&GuardLabels {
                        project: project.clone(),
                        part: "pii",
                        rule: entity.as_str().to_owned(),
                        mode: guard.pii_mode.map_or("", |m| m.as_str()),
                        direction,
                    })
                    .inc_by(u64::from(*count));
            }
        }
        match (outcome.ending, outcome.error_code) {
            (Ending::Refused, Some(code)) if is_policy_refusal(code) => {
                self.refusals
                    .get_or_create(&RefusalLabels {
                        project,
                        code: code.as_str(),
                    })
                    .inc();
            }
            (Ending::UpstreamFailed, code) => {
                self.upstream_errors
                    .get_or_create(&UpstreamLabels {
                        provider: outcome.provider.map_or("", |p| p.as_str()),
                        code: code.map_or("", |c| c.as_str()),
                    })
                    .inc();
            }
            _ => {}
        }
    }

    /// The exposition text.
    pub fn encode(&self) -> String {
        if let Some(spool) = &self.spool {
            self.usage_lag
                .set(i64::try_from(spool.lag()).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// The outcome sink that feeds the metrics.
pub struct MetricsSink(pub Arc<Metrics>);

impl OutcomeSink for MetricsSink {
    fn record(&self, outcome: &Outcome) {
        self.0.observe(outcome);
    }
}

/// What `GET /metrics` needs.
#[derive(Clone)]
pub struct MetricsRoute {
    pub metrics: Arc<Metrics>,
    /// When set, scrapes must carry `Authorization: Bearer <token>`.
    pub token: Option<Arc<str>>,
}

/// `GET /metrics`: on the API host only (a project host answers 404, like any route it
/// does not have), behind the bearer token when one is configured.
pub async fn scrape(
    State(route): State<MetricsRoute>,
    hint: Option<Extension<ProjectHint>>,
    headers: HeaderMap,
) -> Response {
    if hint.is_some_and(|Extension(hint)| hint.slug().is_some()) {
        return ApiError::not_found("no such route").into_response();
    }
    if let Some(token) = &route.token {
        let given = behest_http::bearer_token(&headers).unwrap_or("");
        if !behest_auth::constant_time_eq(given, token) {
            return ApiError::unauthorized("a valid metrics token is required").into_response();
        }
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        route.metrics.encode(),
    )
        .into_response()
}
