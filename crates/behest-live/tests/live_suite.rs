//! One suite, both implementations: the in-process one, and Redis from
//! `BEHEST_TEST_REDIS_URL` or the machine's own (the Redis half is reported as skipped
//! where there is none, except in CI), each test in its own namespace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use behest_live::{InProcess, LiveState, RedisLive};
use behest_testkit::{Need, Tests};
use std::sync::Arc;
use std::time::Duration;

/// Two handles on one live state, as two gateway processes would have.
async fn pair(backend: &str) -> (Arc<dyn LiveState>, Arc<dyn LiveState>) {
    match backend {
        "memory" => {
            let one: Arc<dyn LiveState> = Arc::new(InProcess::default());
            (one.clone(), one)
        }
        _ => {
            let url = behest_testkit::redis_url().expect("Redis is a prerequisite");
            let namespace = format!("behest-test-{}", uuid::Uuid::new_v4().simple());
            let a = RedisLive::connect(&url, &namespace).await.unwrap();
            let b = RedisLive::connect(&url, &namespace).await.unwrap();
            (Arc::new(a), Arc::new(b))
        }
    }
}

async fn image_round_trip(backend: &str) {
    let (a, b) = pair(backend).await;
    a.write(
        vec![
            ("project:1".into(), "{\"v\":1}".into()),
            ("project:2".into(), "{}".into()),
        ],
        vec![],
    )
    .await
    .unwrap();
    let image = b.read_all().await.unwrap();
    assert_eq!(image.len(), 2);
    assert_eq!(image["project:1"], "{\"v\":1}");
    a.write(
        vec![("project:1".into(), "{\"v\":2}".into())],
        vec!["project:2".into()],
    )
    .await
    .unwrap();
    let image = b.read_all().await.unwrap();
    assert_eq!(image.len(), 1);
    assert_eq!(image["project:1"], "{\"v\":2}");
}

async fn notifications_reach_every_handle(backend: &str) {
    let (a, b) = pair(backend).await;
    let mut on_b = b.changes();
    let mut on_a = a.changes();
    let started = std::time::Instant::now();
    a.notify().await.unwrap();
    tokio::time::timeout(Duration::from_secs(1), on_b.recv())
        .await
        .expect("within a second")
        .unwrap();
    tokio::time::timeout(Duration::from_secs(1), on_a.recv())
        .await
        .expect("the sender hears it too")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}

fn main() -> std::process::ExitCode {
    let mut tests = Tests::new();
    for (backend, needs) in [("memory", &[][..]), ("redis", &[Need::Redis][..])] {
        tests = tests
            .add(&format!("{backend}::image_round_trip"), needs, move || {
                image_round_trip(backend)
            })
            .add(
                &format!("{backend}::notifications_reach_every_handle"),
                needs,
                move || notifications_reach_every_handle(backend),
            );
    }
    tests.run()
}
