//! What the policy costs a 2 KB chat request, stage by stage and whole: the prompt's
//! token count (fresh and cached), admission with its settle (in process, and against
//! the local Redis when one answers on 127.0.0.1:6379 or at BEHEST_BENCH_REDIS_URL),
//! and the guard (sentinel, PII) on the request's text.
//!
//! `cargo bench -p behest-gateway --bench policy`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use behest_auth::keyring::Keyring;
use behest_core::image::{ImageEntry, ProjectEntry};
use behest_core::policy::{EffectivePolicy, ProjectPolicy};
use behest_core::settings::SettingsValues;
use behest_gateway::directory::Directory;
use behest_gateway::outcome::DiscardOutcomes;
use behest_gateway::pipeline::{admit, Estimate, Output};
use behest_gateway::upstream::UpstreamConfig;
use behest_gateway::verify::Principal;
use behest_gateway::{Backends, GatewayConfig, GatewayState};
use behest_live::{Counters, InProcessCounters, RedisCounters};
use behest_providers::tokens::{Family, TokenCounter};
use behest_providers::{ChatRequest, ModelRegistry};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// About 2 KB of ordinary chat: a system prompt, two turns, a question.
fn request() -> ChatRequest {
    let turn = "I'm planning the quarterly review for our team in Lisbon. Could you draft an agenda with time slots, list the open risks we discussed last week, and suggest three follow-up actions? Keep it short and practical. ";
    serde_json::from_value(serde_json::json!({
        "messages": [
            {"role": "system", "content": "You are a concise assistant for a project team."},
            {"role": "user", "content": turn.repeat(3)},
            {"role": "assistant", "content": turn.repeat(2)},
            {"role": "user", "content": turn.repeat(4)},
        ]
    }))
    .unwrap()
}

fn gateway(counters: Arc<dyn Counters>) -> (GatewayState, Principal) {
    let directory = Arc::new(Directory::new("gpt-4o-mini"));
    let entry = ProjectEntry {
        id: Uuid::new_v4(),
        tenant_id: Uuid::new_v4(),
        slug: "amber-fox-042".into(),
        suspended: false,
        policy: ProjectPolicy::default(),
        revoked_keys: Vec::new(),
    };
    directory.load_image(&HashMap::from([ImageEntry::Project(Box::new(entry))
        .encode()
        .unwrap()]));
    let gateway = GatewayState::new(
        GatewayConfig {
            upstream: UpstreamConfig::default(),
            accepted_issuers: vec!["behest".into()],
            drain: Duration::from_secs(1),
            models: Arc::new(ModelRegistry::builtin().clone()),
            default_output_cap: 4096,
        },
        directory.clone(),
        Arc::new(Keyring::default()),
        Backends {
            counters,
            ..Backends::in_process(Arc::new(DiscardOutcomes))
        },
        CancellationToken::new(),
    )
    .unwrap();
    let project = directory
        .snapshot()
        .project_by_slug("amber-fox-042")
        .cloned()
        .unwrap();
    let principal = Principal {
        project,
        uid: "bench-user".into(),
        role: "user".into(),
        session_id: None,
        tier: None,
        exp: i64::MAX,
    };
    (gateway, principal)
}

fn policy() -> EffectivePolicy {
    EffectivePolicy::from_values(
        SettingsValues {
            rpm_limit: 10_000,
            tokens_per_day: i64::MAX / 4,
            ..SettingsValues::default()
        },
        "gpt-4o-mini".into(),
        None,
    )
}

fn tokens(c: &mut Criterion) {
    let request = request();
    let bytes: usize = request
        .messages
        .iter()
        .map(|m| behest_providers::tokens::content_text(m.content.as_ref()).len())
        .sum();
    let mut group = c.benchmark_group("prompt tokens (2 KB)");
    group.throughput(Throughput::Bytes(bytes as u64));
    TokenCounter::warm_up();
    group.bench_function("o200k, fresh", |b| {
        b.iter(|| TokenCounter::uncached().prompt(Family::O200k, &request))
    });
    let cached = TokenCounter::default();
    group.bench_function("o200k, cached", |b| {
        b.iter(|| cached.prompt(Family::O200k, &request))
    });
    group.finish();
}

fn admission(
    c: &mut Criterion,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    counters: Arc<dyn Counters>,
) {
    let (gateway, mut principal) = runtime.block_on(async { gateway(counters.clone()) });
    let policy = policy();
    let mut user = 0u32;
    c.bench_function(&format!("admit + settle ({name})"), |b| {
        b.iter(|| {
            // Rotate over many end users, as production traffic does.
            user = (user + 1) % 10_000;
            principal.uid = format!("user-{user}");
            runtime.block_on(async {
                let estimate = Estimate {
                    prompt: 500,
                    output: Output::UpTo(16_384),
                    prices: Some((0.15, 0.6)),
                    session: Some("bench-session"),
                };
                let admitted = admit(&gateway, &principal, &policy, estimate)
                    .await
                    .map_err(|(e, _)| e)
                    .unwrap();
                if let Some(reservation) = admitted.reservation {
                    if !counters.settle_now(&reservation, &[540]) {
                        counters.settle(&reservation, &[540]).await.unwrap();
                    }
                }
            })
        })
    });
}

fn admit_in_process(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    admission(
        c,
        &runtime,
        "in process",
        Arc::new(InProcessCounters::default()),
    );
}

fn admit_redis(c: &mut Criterion) {
    let url =
        std::env::var("BEHEST_BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let connected = runtime.block_on(RedisCounters::connect(
        &url,
        &format!("bench-{}", Uuid::new_v4().simple()),
        Duration::from_secs(1),
    ));
    match connected {
        // The connection lives on this runtime: the bench runs on it too.
        Ok(redis) => admission(c, &runtime, "redis, one round trip", Arc::new(redis)),
        Err(err) => eprintln!("skipping the Redis admission bench: {err}"),
    }
}

criterion_group!(benches, tokens, admit_in_process, admit_redis);
criterion_main!(benches);
