//! Metrics and traces through the real binary: `GET /metrics` after answered, refused,
//! guarded and failed requests (counts, histograms, no end-user ids, the token, not on
//! project hosts), and the OTLP/HTTP export received by a collector of the test's own,
//! decoded with the official protobuf definitions (`opentelemetry-proto`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::body::Bytes;
use axum::routing::post;
use behest_fakes::FakeProviders;
use behest_testkit::Tests;
use common::{Backend, Server};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, Span};
use prost::Message;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn providers(fakes: &FakeProviders) -> String {
    format!(
        "drain_secs = 1\n[upstream]\nmax_retries = 0\n[providers.openai]\napi_key = \"sk-openai-test\"\nbase_url = \"{}\"\n",
        fakes.openai_base_url()
    )
}

fn hello(text: &str) -> Value {
    json!({"messages": [{"role": "user", "content": text}]})
}

/// The value of the one sample named `name` with exactly these labels.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
            if metric != name {
                return None;
            }
            let body = rest.strip_suffix('}')?;
            let mut found: Vec<(String, String)> = body
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap();
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            found.sort();
            let mut wanted: Vec<(String, String)> = labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            wanted.sort();
            (found == wanted).then(|| value.parse().unwrap())
        })
}

async fn metrics_count_every_outcome() {
    let fakes = FakeProviders::start().await.unwrap();
    let server = Server::start_with(Backend::Sqlite, &[], &providers(&fakes)).await;
    let account = server.signup("metrics@example.com").await;
    let project = server.project_with_token(&account, "Metrics").await;
    server
        .choose_model(&account, &project.id, "gpt-4o-mini")
        .await;
    server
        .deploy_settings(
            &account,
            &project.id,
            json!({"rpm_limit": 3, "sentinel_mode": "enforce", "sentinel_blocklist": ["zebra"]}),
        )
        .await;
    let chat = |text: &str| server.chat(&project.slug, &project.token, hello(text));
    assert_eq!(chat("hello").await.status, 200);
    assert_eq!(chat("a zebra").await.status, 451);
    assert_eq!(chat("fail #error:500").await.status, 502);
    assert_eq!(chat("one too many").await.status, 429);

    let text = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 200);
    assert!(text.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = text.text().await.unwrap();
    let p = project.id.as_str();
    let requests = |status: &str| {
        sample(
            &text,
            "behest_requests_total",
            &[
                ("project", p),
                ("operation", "chat"),
                ("model", "gpt-4o-mini"),
                ("status", status),
            ],
        )
    };
    assert_eq!(requests("200"), Some(1.0), "{text}");
    assert_eq!(requests("451"), Some(1.0), "{text}");
    assert_eq!(requests("502"), Some(1.0), "{text}");
    assert_eq!(requests("429"), Some(1.0), "{text}");
    assert_eq!(
        sample(
            &text,
            "behest_policy_refusals_total",
            &[("project", p), ("code", "rate_limited")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "behest_policy_refusals_total",
            &[("project", p), ("code", "content_blocked")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "behest_guard_hits_total",
            &[
                ("project", p),
                ("part", "sentinel"),
                ("rule", "blocklist"),
                ("mode", "enforce"),
                ("direction", "request")
            ]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "behest_upstream_errors_total",
            &[("provider", "openai"), ("code", "upstream_error")]
        ),
        Some(1.0),
        "{text}"
    );
    // The fake reports 11 prompt and 7 completion tokens for the one answered call.
    let tokens = |kind: &str| {
        sample(
            &text,
            "behest_tokens_total",
            &[("project", p), ("model", "gpt-4o-mini"), ("kind", kind)],
        )
    };
    assert_eq!(
        (tokens("prompt"), tokens("completion")),
        (Some(11.0), Some(7.0))
    );
    let cost = sample(
        &text,
        "behest_cost_usd_total",
        &[("project", p), ("model", "gpt-4o-mini")],
    )
    .unwrap();
    assert!(
        (cost - (11.0 * 0.15 + 7.0 * 0.6) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    assert_eq!(
        sample(
            &text,
            "behest_overhead_seconds_count",
            &[("operation", "chat")]
        ),
        Some(4.0)
    );
    assert_eq!(
        sample(
            &text,
            "behest_request_duration_seconds_count",
            &[("operation", "chat")]
        ),
        Some(4.0)
    );
    assert_eq!(
        sample(
            &text,
            "behest_stage_duration_seconds_count",
            &[("stage", "upstream")]
        ),
        Some(2.0),
        "the answered and the failed call reached the provider"
    );
    assert_eq!(
        sample(
            &text,
            "behest_stage_duration_seconds_count",
            &[("stage", "admit")]
        ),
        Some(4.0)
    );
    assert!(
        sample(&text, "behest_usage_sink_lag_records", &[]).is_some(),
        "{text}"
    );
    assert!(
        !text.contains("end-user-1") && !text.contains("zebra"),
        "{text}"
    );

    // Not on a project host.
    let r = server
        .http
        .get(server.url(&format!("/p/{}/metrics", project.slug)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    server.stop().await;

    // With a token, scrapes must carry it.
    let token = "scrape-token-0123456789";
    let server = Server::start_with(Backend::Sqlite, &["--metrics-token", token], "").await;
    let anonymous = server
        .http
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong = server
        .http
        .get(server.url("/metrics"))
        .bearer_auth("scrape-token-0123456780")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let scraped = server
        .http
        .get(server.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(!server.log().contains(token), "the token is never logged");
    server.stop().await;
}

/// A collector: every OTLP/HTTP export it receives, decoded.
async fn collector() -> (String, Arc<Mutex<Vec<ExportTraceServiceRequest>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        post(move |headers: axum::http::HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                assert_eq!(headers["content-type"], "application/x-protobuf");
                let request =
                    ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf body");
                sink.lock().unwrap().push(request);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a AnyValue> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref()?.value.as_ref())
}

fn text_attr(span: &Span, key: &str) -> Option<String> {
    match attr(span, key)? {
        AnyValue::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn int_attr(span: &Span, key: &str) -> Option<i64> {
    match attr(span, key)? {
        AnyValue::IntValue(n) => Some(*n),
        _ => None,
    }
}

async fn traces_reach_an_otlp_collector_with_genai_attributes() {
    let (url, received) = collector().await;
    let fakes = FakeProviders::start().await.unwrap();
    let server = Server::start_with(
        Backend::Sqlite,
        &["--otlp-endpoint", &url],
        &providers(&fakes),
    )
    .await;
    let account = server.signup("traces@example.com").await;
    let project = server.project_with_token(&account, "Traces").await;
    server
        .choose_model(&account, &project.id, "gpt-4o-mini")
        .await;
    let answered = server
        .chat(&project.slug, &project.token, hello("hello"))
        .await;
    assert_eq!(answered.status, 200);
    let trace_id = answered.headers["x-trace-id"].to_str().unwrap().to_owned();
    let streamed = server
        .chat(
            &project.slug,
            &project.token,
            json!({"messages": [{"role": "user", "content": "hi"}], "stream": true}),
        )
        .await;
    assert_eq!(streamed.status, 200);
    let stream_trace = streamed.headers["x-trace-id"].to_str().unwrap().to_owned();

    let mut spans: Vec<Span> = Vec::new();
    let mut service = None;
    for _ in 0..100 {
        spans.clear();
        for export in received.lock().unwrap().iter() {
            for resource in &export.resource_spans {
                for attribute in resource.resource.iter().flat_map(|r| &r.attributes) {
                    if attribute.key == "service.name" {
                        service = attribute.value.clone().and_then(|v| v.value);
                    }
                }
                for scope in &resource.scope_spans {
                    spans.extend(scope.spans.iter().cloned());
                }
            }
        }
        let of = |t: &str| spans.iter().filter(|s| hex(&s.trace_id) == t).count();
        if of(&trace_id) >= 7 && of(&stream_trace) >= 7 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(service, Some(AnyValue::StringValue("behest".into())));
    for trace in [&trace_id, &stream_trace] {
        let trace_spans: Vec<&Span> = spans
            .iter()
            .filter(|s| hex(&s.trace_id) == *trace)
            .collect();
        let root = trace_spans
            .iter()
            .find(|s| s.parent_span_id.is_empty())
            .unwrap_or_else(|| panic!("no root span for {trace}: {spans:#?}"));
        assert_eq!(root.name, "POST /v1/chat/completions");
        assert_eq!(root.kind, SpanKind::Server as i32);
        assert_eq!(int_attr(root, "http.response.status_code"), Some(200));
        assert_eq!(
            text_attr(root, "behest.project.id").as_deref(),
            Some(project.id.as_str())
        );
        let mut names: Vec<&str> = trace_spans
            .iter()
            .filter(|s| s.parent_span_id == root.span_id)
            .map(|s| s.name.as_str())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "behest.admit",
                "behest.authenticate",
                "behest.compose",
                "behest.gate",
                "behest.guard",
                "chat gpt-4o-mini"
            ]
        );
        let call = trace_spans
            .iter()
            .find(|s| s.name == "chat gpt-4o-mini")
            .unwrap();
        assert_eq!(call.kind, SpanKind::Client as i32);
        assert_eq!(
            text_attr(call, "gen_ai.operation.name").as_deref(),
            Some("chat")
        );
        assert_eq!(
            text_attr(call, "gen_ai.request.model").as_deref(),
            Some("gpt-4o-mini")
        );
        assert_eq!(
            text_attr(call, "gen_ai.provider.name").as_deref(),
            Some("openai")
        );
        assert_eq!(int_attr(call, "gen_ai.usage.input_tokens"), Some(11));
        assert!(int_attr(call, "gen_ai.usage.output_tokens").unwrap() > 0);
        // Children sit inside their parent.
        for span in &trace_spans {
            assert!(
                span.start_time_unix_nano >= root.start_time_unix_nano,
                "{span:?}"
            );
            assert!(
                span.end_time_unix_nano <= root.end_time_unix_nano + 1_000,
                "{span:?}"
            );
            assert!(
                span.end_time_unix_nano >= span.start_time_unix_nano,
                "{span:?}"
            );
        }
        // No end-user ids, no text, no secrets.
        let dump = format!("{trace_spans:?}");
        assert!(
            !dump.contains("end-user-1") && !dump.contains("hello") && !dump.contains("sk-openai"),
            "{dump}"
        );
    }
    server.stop().await;
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn main() -> std::process::ExitCode {
    Tests::new()
        .add(
            "metrics_count_every_outcome",
            &[],
            metrics_count_every_outcome,
        )
        .add(
            "traces_reach_an_otlp_collector_with_genai_attributes",
            &[],
            traces_reach_an_otlp_collector_with_genai_attributes,
        )
        .run()
}
