//! One suite, both implementations: the in-process one, and Redis from
//! `BEHEST_TEST_REDIS_URL` (required when `CI` is set), each test in its own namespace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use behest_live::{InProcess, LiveState, RedisLive};
use std::sync::Arc;
use std::time::Duration;

/// Two handles on one live state, as two gateway processes would have.
async fn pair(backend: &str) -> Option<(Arc<dyn LiveState>, Arc<dyn LiveState>)> {
    match backend {
        "memory" => {
            let one: Arc<dyn LiveState> = Arc::new(InProcess::default());
            Some((one.clone(), one))
        }
        _ => {
            let Ok(url) = std::env::var("BEHEST_TEST_REDIS_URL") else {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "BEHEST_TEST_REDIS_URL must be set in CI"
                );
                eprintln!("skipping: BEHEST_TEST_REDIS_URL is not set");
                return None;
            };
            let namespace = format!("behest-test-{}", uuid::Uuid::new_v4().simple());
            let a = RedisLive::connect(&url, &namespace).await.unwrap();
            let b = RedisLive::connect(&url, &namespace).await.unwrap();
            Some((Arc::new(a), Arc::new(b)))
        }
    }
}

async fn image_round_trip(backend: &str) {
    let Some((a, b)) = pair(backend).await else {
        return;
    };
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
    let Some((a, b)) = pair(backend).await else {
        return;
    };
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

macro_rules! suite {
    ($backend:ident) => {
        mod $backend {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn image_round_trip() {
                super::image_round_trip(stringify!($backend)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn notifications_reach_every_handle() {
                super::notifications_reach_every_handle(stringify!($backend)).await;
            }
        }
    };
}

suite!(memory);
suite!(redis);
