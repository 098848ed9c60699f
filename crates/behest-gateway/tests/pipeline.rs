//! The pipeline called as the playground calls it: in process, no HTTP in front of it,
//! with a draft's policy, against the fake OpenAI server (real HTTP behind it). Every
//! call ends in exactly one outcome, a stream dropped half-way included.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use behest_auth::keyring::Keyring;
use behest_core::image::{ImageEntry, ProjectEntry};
use behest_core::policy::{EffectivePolicy, ProjectPolicy};
use behest_core::settings::SettingsValues;
use behest_core::ErrorCode;
use behest_fakes::FakeProviders;
use behest_gateway::directory::Directory;
use behest_gateway::guard::ActivePolicy;
use behest_gateway::outcome::{Ending, Operation, Origin, Outcome, OutcomeSink, TokenSource};
use behest_gateway::pipeline::{self, AnswerBody, RequestContext};
use behest_gateway::upstream::{ProviderEndpoint, UpstreamConfig};
use behest_gateway::verify::Principal;
use behest_gateway::{Backends, GatewayConfig, GatewayState};
use behest_providers::{ChatRequest, ModelRegistry, Provider};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Default)]
struct Collect(Mutex<Vec<Outcome>>);

impl OutcomeSink for Collect {
    fn record(&self, outcome: &Outcome) {
        self.0.lock().unwrap().push(outcome.clone());
    }
}

impl Collect {
    fn all(&self) -> Vec<Outcome> {
        self.0.lock().unwrap().clone()
    }
}

struct Fixture {
    gateway: GatewayState,
    principal: Principal,
    outcomes: Arc<Collect>,
    fakes: FakeProviders,
}

async fn fixture() -> Fixture {
    let fakes = FakeProviders::start().await.unwrap();
    let providers = HashMap::from([(
        Provider::OpenAi,
        ProviderEndpoint {
            api_key: Some("sk-test".into()),
            base_url: Some(fakes.openai_base_url()),
            keyless: false,
        },
    )]);
    let directory = Arc::new(Directory::new("behest/echo"));
    let project = ProjectEntry {
        id: Uuid::new_v4(),
        tenant_id: Uuid::new_v4(),
        slug: "amber-fox-042".into(),
        suspended: false,
        policy: ProjectPolicy::default(),
        revoked_keys: Vec::new(),
    };
    directory.load_image(&HashMap::from([ImageEntry::Project(Box::new(project))
        .encode()
        .unwrap()]));
    let outcomes = Arc::new(Collect::default());
    let gateway = GatewayState::new(
        GatewayConfig {
            upstream: UpstreamConfig {
                providers,
                ..UpstreamConfig::default()
            },
            accepted_issuers: vec!["behest".into()],
            drain: Duration::from_secs(1),
            models: Arc::new(ModelRegistry::builtin().clone()),
            default_output_cap: 4096,
        },
        directory.clone(),
        Arc::new(Keyring::default()),
        Backends::in_process(outcomes.clone()),
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
        uid: "dashboard-user".into(),
        role: "user".into(),
        session_id: None,
        tier: None,
        exp: i64::MAX,
    };
    Fixture {
        gateway,
        principal,
        outcomes,
        fakes,
    }
}

/// The draft a tenant is trying: another model and a system prompt.
fn draft() -> Arc<ActivePolicy> {
    Arc::new(ActivePolicy::new(EffectivePolicy::from_values(
        SettingsValues {
            system_prompt: Some("Answer in French.".into()),
            ..SettingsValues::default()
        },
        "gpt-4o-mini".into(),
        None,
    )))
}

fn request(body: Value) -> ChatRequest {
    serde_json::from_value(body).unwrap()
}

async fn playground(f: &Fixture, body: Value) -> pipeline::Answer {
    let context = RequestContext::in_process(Origin::Playground);
    let outcome = f.gateway.begin(Operation::Chat, &context);
    let call = f
        .gateway
        .call_with_policy(f.principal.clone(), draft(), context, outcome);
    pipeline::complete(&f.gateway, call, request(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_runs_the_draft_through_the_pipeline_without_http() {
    let f = fixture().await;
    let answer = playground(
        &f,
        json!({"messages": [{"role": "user", "content": "Bonjour"}]}),
    )
    .await;
    assert!(answer.server_timing.starts_with("behest;dur="));
    let AnswerBody::Json(body) = answer.body else {
        panic!("a JSON answer")
    };
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert!(
        body["choices"][0]["message"]["content"].is_string(),
        "{body}"
    );

    // The provider got the draft's model and system prompt first.
    let sent = &f.fakes.requests().await[0];
    assert_eq!(sent.body["model"], "gpt-4o-mini");
    assert_eq!(sent.body["messages"][0]["role"], "system");
    assert_eq!(sent.body["messages"][0]["content"], "Answer in French.");
    assert_eq!(sent.body["messages"][1]["content"], "Bonjour");

    let outcomes = f.outcomes.all();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    let o = &outcomes[0];
    assert_eq!(
        (o.origin, o.operation),
        (Origin::Playground, Operation::Chat)
    );
    assert_eq!((o.status, o.ending), (200, Ending::Complete));
    assert_eq!(o.provider, Some(Provider::OpenAi));
    assert_eq!(o.model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(o.identity.uid.as_deref(), Some("dashboard-user"));
    let tokens = o.tokens.unwrap();
    assert_eq!(tokens.source, TokenSource::Reported);
    assert!(tokens.total > 0 && tokens.total == tokens.prompt + tokens.completion);
    assert!(o.upstream_time > Duration::ZERO && o.time_to_first_byte.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_read_to_the_end_records_the_providers_usage_once() {
    let f = fixture().await;
    let answer = playground(
        &f,
        json!({"messages": [{"role": "user", "content": "Tell me"}], "stream": true}),
    )
    .await;
    let AnswerBody::Stream(mut stream) = answer.body else {
        panic!("a stream")
    };
    let mut text = String::new();
    while let Some(Ok(bytes)) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    drop(stream);
    let outcomes = f.outcomes.all();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0].ending, Ending::Complete);
    // The client did not ask for usage; the gateway still knows it from the provider.
    assert!(!text.contains("\"usage\""), "{text}");
    assert_eq!(outcomes[0].tokens.unwrap().source, TokenSource::Reported);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_dropped_half_way_is_one_client_gone_outcome() {
    let f = fixture().await;
    let answer = playground(
        &f,
        json!({"messages": [{"role": "user", "content": "Take your time #slow"}], "stream": true}),
    )
    .await;
    let AnswerBody::Stream(mut stream) = answer.body else {
        panic!("a stream")
    };
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    assert!(f.outcomes.all().is_empty(), "nothing recorded mid-stream");
    drop(stream);
    let outcomes = f.outcomes.all();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    let o = &outcomes[0];
    assert_eq!((o.status, o.ending), (200, Ending::ClientGone));
    assert_eq!(o.error_code, None);
    let tokens = o.tokens.unwrap();
    assert_eq!(tokens.source, TokenSource::Counted);
    assert!(tokens.prompt > 0, "the prompt is estimated: {tokens:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_provider_failures_are_outcomes_too() {
    let f = fixture().await;
    let answer = playground(&f, json!({"messages": []})).await;
    assert_eq!(answer.error().unwrap().code, ErrorCode::ValidationError);
    let answer = playground(
        &f,
        json!({"messages": [{"role": "user", "content": "#error:500"}]}),
    )
    .await;
    assert_eq!(answer.error().unwrap().code, ErrorCode::UpstreamError);
    let outcomes = f.outcomes.all();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert_eq!(
        (outcomes[0].status, outcomes[0].ending),
        (400, Ending::Refused)
    );
    assert_eq!(
        (
            outcomes[1].status,
            outcomes[1].ending,
            outcomes[1].error_code
        ),
        (502, Ending::UpstreamFailed, Some(ErrorCode::UpstreamError))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_dropped_before_its_answer_is_a_499() {
    let f = fixture().await;
    let pending = playground(
        &f,
        json!({"messages": [{"role": "user", "content": "#hang"}]}),
    );
    // The client goes away while the provider has not answered yet.
    assert!(tokio::time::timeout(Duration::from_millis(300), pending)
        .await
        .is_err());
    let outcomes = f.outcomes.all();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(
        (outcomes[0].status, outcomes[0].ending),
        (499, Ending::ClientGone)
    );
}
