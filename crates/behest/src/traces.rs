//! OpenTelemetry traces over OTLP/HTTP (protobuf), off unless an endpoint is configured.
//! Spans are built from each request's outcome when it ends — a server span for the
//! request, one child per stage of the hot path, and a client span for the provider
//! call with the GenAI semantic conventions' attributes — so the hot path pays nothing
//! but the stage timestamps it records anyway. The trace id is the request's
//! `X-Trace-Id`. Batches leave from the SDK's own thread.

use anyhow::Context as _;
use behest_gateway::outcome::{Ending, Operation, Outcome, OutcomeSink, Stage};
use opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt, TraceId, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider,
};
use opentelemetry_sdk::Resource;
use std::time::{Duration, SystemTime};

/// How long finished spans wait before their batch is sent.
const EXPORT_EVERY: Duration = Duration::from_millis(500);

/// The exporter: an outcome sink, and the provider to flush at shutdown.
pub struct Traces {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Traces {
    /// Exports to `{endpoint}/v1/traces` (an OTLP/HTTP collector's base URL).
    pub fn start(endpoint: &str) -> anyhow::Result<Traces> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
            .build()
            .context("building the OTLP exporter")?;
        let processor = BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                BatchConfigBuilder::default()
                    .with_scheduled_delay(EXPORT_EVERY)
                    .build(),
            )
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_resource(
                Resource::builder()
                    .with_service_name("behest")
                    .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                    .build(),
            )
            .build();
        let tracer = provider.tracer("behest");
        Ok(Traces { provider, tracer })
    }

    /// Sends what is left (blocking; call off the runtime's threads).
    pub fn shutdown(&self) {
        if let Err(err) = self.provider.shutdown() {
            tracing::warn!(error = %err, "traces not flushed at shutdown");
        }
    }

    fn export(&self, outcome: &Outcome) {
        let at = |offset: Duration| outcome.started_at + offset;
        let end = at(outcome.total_time);
        let (method, route) = match outcome.operation {
            Operation::Chat => ("POST", "/v1/chat/completions"),
            Operation::Embeddings => ("POST", "/v1/embeddings"),
            Operation::Models => ("GET", "/v1/models"),
        };
        let operation = gen_ai_operation(outcome.operation);
        let mut attributes = vec![
            KeyValue::new("http.request.method", method),
            KeyValue::new("http.route", route),
            KeyValue::new("http.response.status_code", i64::from(outcome.status)),
            KeyValue::new("gen_ai.operation.name", operation),
            KeyValue::new("behest.ending", outcome.ending.as_str()),
        ];
        if let Some(model) = &outcome.model {
            attributes.push(KeyValue::new("gen_ai.request.model", model.clone()));
        }
        if let Some(project) = outcome.identity.project_id {
            attributes.push(KeyValue::new("behest.project.id", project.to_string()));
        }
        if let Some(tenant) = outcome.identity.tenant_id {
            attributes.push(KeyValue::new("behest.tenant.id", tenant.to_string()));
        }
        if let Some(tier) = &outcome.identity.tier {
            attributes.push(KeyValue::new("behest.tier", tier.clone()));
        }
        if let Some(trace) = &outcome.trace_id {
            attributes.push(KeyValue::new("behest.trace_id", trace.to_string()));
        }
        if let Some(code) = outcome.error_code {
            attributes.push(KeyValue::new("error.type", code.as_str()));
        }
        if outcome.cost_usd > 0.0 {
            attributes.push(KeyValue::new("behest.cost_usd", outcome.cost_usd));
        }
        if !outcome.guard.is_empty() {
            attributes.push(KeyValue::new(
                "behest.guard",
                outcome.guard.to_json().to_string(),
            ));
        }
        let failed = !matches!(outcome.ending, Ending::Complete | Ending::ClientGone);
        let mut builder = self
            .tracer
            .span_builder(format!("{method} {route}"))
            .with_kind(SpanKind::Server)
            .with_start_time(outcome.started_at)
            .with_attributes(attributes);
        if let Some(id) = outcome
            .trace_id
            .as_deref()
            .and_then(|t| TraceId::from_hex(t).ok())
            .filter(|id| *id != TraceId::INVALID)
        {
            builder = builder.with_trace_id(id);
        }
        if failed && outcome.status >= 500 {
            builder =
                builder.with_status(Status::error(outcome.error_code.map_or("", |c| c.as_str())));
        }
        let root = builder.start_with_context(&self.tracer, &Context::new());
        let cx = Context::new().with_span(root);
        for stage in &outcome.stages {
            let start = at(stage.start);
            let stop = start + stage.duration;
            let mut span = match stage.stage {
                Stage::Upstream => self.upstream_span(outcome, operation, start, &cx),
                other => self
                    .tracer
                    .span_builder(format!("behest.{}", other.as_str()))
                    .with_kind(SpanKind::Internal)
                    .with_start_time(start)
                    .start_with_context(&self.tracer, &cx),
            };
            span.end_with_timestamp(stop);
        }
        cx.span().end_with_timestamp(end);
    }

    /// The provider call: a client span named `{operation} {model}`, with the GenAI
    /// conventions' attributes.
    fn upstream_span(
        &self,
        outcome: &Outcome,
        operation: &'static str,
        start: SystemTime,
        cx: &Context,
    ) -> opentelemetry_sdk::trace::Span {
        let model = outcome.model.clone().unwrap_or_default();
        let mut attributes = vec![
            KeyValue::new("gen_ai.operation.name", operation),
            KeyValue::new("gen_ai.request.model", model.clone()),
        ];
        if let Some(provider) = outcome.provider {
            attributes.push(KeyValue::new("gen_ai.provider.name", provider.as_str()));
        }
        if let Some(tokens) = outcome.tokens {
            attributes.push(KeyValue::new(
                "gen_ai.usage.input_tokens",
                i64::try_from(tokens.prompt).unwrap_or(i64::MAX),
            ));
            attributes.push(KeyValue::new(
                "gen_ai.usage.output_tokens",
                i64::try_from(tokens.completion).unwrap_or(i64::MAX),
            ));
        }
        if outcome.ending == Ending::UpstreamFailed {
            if let Some(code) = outcome.error_code {
                attributes.push(KeyValue::new("error.type", code.as_str()));
            }
        }
        self.tracer
            .span_builder(format!("{operation} {model}"))
            .with_kind(SpanKind::Client)
            .with_start_time(start)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, cx)
    }
}

/// `gen_ai.operation.name`'s well-known values.
fn gen_ai_operation(operation: Operation) -> &'static str {
    match operation {
        Operation::Chat => "chat",
        Operation::Embeddings => "embeddings",
        Operation::Models => "list_models",
    }
}

/// The outcome sink that exports traces.
pub struct TraceSink(pub std::sync::Arc<Traces>);

impl OutcomeSink for TraceSink {
    fn record(&self, outcome: &Outcome) {
        self.0.export(outcome);
    }
}
