//! Where request outcomes go in this binary: one structured log line each (target
//! `behest::outcome`). Usage records, budget settling and memory appends join here as
//! further sinks.

use behest_core::LogLevel;
use behest_gateway::outcome::{Outcome, OutcomeSink};

pub struct LogOutcomes;

impl OutcomeSink for LogOutcomes {
    fn record(&self, o: &Outcome) {
        let ms = |d: std::time::Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
        let tokens = o.tokens.map(|t| (t.prompt, t.completion));
        let level = o.error_code.map_or(LogLevel::Info, |c| c.log_level());
        // Rules and entity types only: the guard never records text.
        let guard = if o.guard.is_empty() {
            String::new()
        } else {
            o.guard.to_json().to_string()
        };
        macro_rules! line {
            ($event:ident) => {
                tracing::$event!(
                    target: "behest::outcome",
                    trace_id = o.trace_id.as_deref().unwrap_or(""),
                    operation = o.operation.as_str(),
                    project = ?o.identity.project_id,
                    status = o.status,
                    code = o.error_code.map_or("", |c| c.as_str()),
                    ending = o.ending.as_str(),
                    model = o.model.as_deref().unwrap_or(""),
                    provider = o.provider.map_or("", |p| p.as_str()),
                    prompt_tokens = tokens.map_or(0, |t| t.0),
                    completion_tokens = tokens.map_or(0, |t| t.1),
                    ttfb_ms = o.time_to_first_byte.map_or(0.0, ms),
                    behest_ms = ms(o.behest_time),
                    upstream_ms = ms(o.upstream_time),
                    guard = guard.as_str(),
                    "request outcome"
                )
            };
        }
        match level {
            LogLevel::Error => line!(error),
            LogLevel::Warn => line!(warn),
            LogLevel::Info | LogLevel::Debug => line!(info),
        }
    }
}
