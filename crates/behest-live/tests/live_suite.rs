//! One suite, both implementations: the in-process one, and Redis from
//! `BEHEST_TEST_REDIS_URL` or the machine's own (the Redis half is reported as skipped
//! where there is none, except in CI), each test in its own namespace.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use behest_live::counters::now_ms;
use behest_live::{
    Admission, BudgetCharge, Counters, InProcess, InProcessCounters, LiveState, RateLimit,
    RedisCounters, RedisLive, Reservation, Resilient, Strikes, Verdict,
};
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

// --- counters ----------------------------------------------------------------------

/// Counters of `backend`, each test in its own Redis namespace.
async fn counters(backend: &str) -> Arc<dyn Counters> {
    match backend {
        "memory" => Arc::new(InProcessCounters::default()),
        _ => {
            let url = behest_testkit::redis_url().expect("Redis is a prerequisite");
            let namespace = format!("behest-test-{}", uuid::Uuid::new_v4().simple());
            Arc::new(
                RedisCounters::connect(&url, &namespace, Duration::from_secs(2))
                    .await
                    .unwrap(),
            )
        }
    }
}

const MINUTE: u64 = 60_000;

fn rate(limit: u32, now_ms: u64) -> Admission {
    Admission {
        rate: Some(RateLimit {
            key: "rl:{p1:u1}".into(),
            limit,
            window_ms: MINUTE,
        }),
        budgets: Vec::new(),
        budget_ttl_secs: 172_800,
        fail_open: false,
        now_ms,
    }
}

fn budget(limit: u64, reserve: u64, min: u64) -> Admission {
    Admission {
        rate: None,
        budgets: vec![BudgetCharge {
            key: "tok:{p1:u1}:2026-12-01".into(),
            limit,
            reserve,
            min_reserve: min,
        }],
        budget_ttl_secs: 172_800,
        fail_open: false,
        now_ms: now_ms(),
    }
}

fn reservation(verdict: Verdict) -> Reservation {
    match verdict {
        Verdict::Admitted { reservation, .. } => reservation,
        other => panic!("not admitted: {other:?}"),
    }
}

async fn the_rate_limit_is_a_sliding_window(backend: &str) {
    let c = counters(backend).await;
    let t0 = now_ms();
    // Three at t0, two 40 s later: the limit of five is reached.
    for (i, at) in [t0, t0, t0, t0 + 40_000, t0 + 40_000]
        .into_iter()
        .enumerate()
    {
        match c.admit(&rate(5, at)).await.unwrap() {
            Verdict::Admitted {
                rate: Some(state), ..
            } => {
                assert_eq!((state.limit, state.remaining), (5, 4 - i as u32), "{i}");
                assert!(state.reset_ms <= MINUTE);
            }
            other => panic!("{i}: {other:?}"),
        }
    }
    match c.admit(&rate(5, t0 + 45_000)).await.unwrap() {
        Verdict::RateLimited {
            rate,
            retry_after_ms,
        } => {
            assert_eq!((rate.limit, rate.remaining), (5, 0));
            assert_eq!(retry_after_ms, 15_000, "the oldest leaves at t0 + 60 s");
        }
        other => panic!("{other:?}"),
    }
    // At t0 + 60 s the three of t0 have left; the two of t0 + 40 s have not.
    for _ in 0..3 {
        assert!(matches!(
            c.admit(&rate(5, t0 + 60_001)).await.unwrap(),
            Verdict::Admitted { .. }
        ));
    }
    match c.admit(&rate(5, t0 + 60_002)).await.unwrap() {
        Verdict::RateLimited { retry_after_ms, .. } => assert_eq!(retry_after_ms, 39_998),
        other => panic!("{other:?}"),
    }
    // Never more than five in any minute: a fixed window would let ten through here.
    let mut admitted_in_window = 0;
    for step in 0..120 {
        if matches!(
            c.admit(&rate(5, t0 + 60_003 + step * 500)).await.unwrap(),
            Verdict::Admitted { .. }
        ) {
            admitted_in_window += 1;
        }
    }
    assert_eq!(
        admitted_in_window, 2,
        "up to t0 + 119.5 s only the two slots of t0 + 40 s free up (at t0 + 100 s)"
    );
}

async fn budgets_reserve_shrink_and_settle_once(backend: &str) {
    let c = counters(backend).await;
    let key = "tok:{p1:u1}:2026-12-01";
    let first = reservation(c.admit(&budget(1000, 600, 100)).await.unwrap());
    assert_eq!(first.granted(0), 600);
    // The room left is smaller than asked: granted what is left, not less than its min.
    let second = reservation(c.admit(&budget(1000, 600, 100)).await.unwrap());
    assert_eq!(second.granted(0), 400);
    match c.admit(&budget(1000, 600, 100)).await.unwrap() {
        Verdict::OverBudget {
            budget, remaining, ..
        } => assert_eq!((budget, remaining), (0, 0)),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.budget_used(key).await.unwrap(), 1000);
    // The first used 200 of its 600: 400 come back, once however often it settles.
    c.settle(&first, &[200]).await.unwrap();
    c.settle(&first, &[200]).await.unwrap();
    assert_eq!(c.budget_used(key).await.unwrap(), 600);
    c.settle(&second, &[0]).await.unwrap();
    assert_eq!(c.budget_used(key).await.unwrap(), 200);
    // A request that needs its whole reservation (max_tokens set) is refused, not shrunk.
    match c.admit(&budget(1000, 900, 900)).await.unwrap() {
        Verdict::OverBudget { remaining, .. } => assert_eq!(remaining, 800),
        other => panic!("{other:?}"),
    }
    // The ledger only raises a key.
    c.restore(key, 150, 172_800).await.unwrap();
    assert_eq!(c.budget_used(key).await.unwrap(), 200);
    c.restore(key, 700, 172_800).await.unwrap();
    assert_eq!(c.budget_used(key).await.unwrap(), 700);
}

async fn a_refusal_takes_nothing(backend: &str) {
    let c = counters(backend).await;
    let t0 = now_ms();
    let both = |reserve: u64| Admission {
        budgets: budget(100, reserve, reserve).budgets,
        ..rate(2, t0)
    };
    // Over budget: the rate slot is not taken.
    assert!(matches!(
        c.admit(&both(500)).await.unwrap(),
        Verdict::OverBudget { rate: Some(_), .. }
    ));
    match c.admit(&both(10)).await.unwrap() {
        Verdict::Admitted {
            rate: Some(state), ..
        } => assert_eq!(state.remaining, 1),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.admit(&both(10)).await.unwrap(),
        Verdict::Admitted { .. }
    ));
    // Rate limited: the budget is not charged.
    let before = c.budget_used("tok:{p1:u1}:2026-12-01").await.unwrap();
    assert!(matches!(
        c.admit(&both(10)).await.unwrap(),
        Verdict::RateLimited { .. }
    ));
    assert_eq!(
        c.budget_used("tok:{p1:u1}:2026-12-01").await.unwrap(),
        before
    );
}

async fn concurrent_admissions_never_overshoot(backend: &str) {
    let c = counters(backend).await;
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.admit(&budget(1000, 100, 100)).await.unwrap() })
        })
        .collect();
    let mut granted = 0;
    let mut admitted = 0;
    for task in tasks {
        if let Verdict::Admitted { reservation, .. } = task.await.unwrap() {
            admitted += 1;
            granted += reservation.granted(0);
        }
    }
    assert_eq!((admitted, granted), (10, 1000));
    let t0 = now_ms();
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.admit(&rate(7, t0)).await.unwrap() })
        })
        .collect();
    let mut passed = 0;
    for task in tasks {
        if matches!(task.await.unwrap(), Verdict::Admitted { .. }) {
            passed += 1;
        }
    }
    assert_eq!(passed, 7);
}

/// Redis goes away and comes back: the rate limit holds per replica, budgets fail
/// closed (or open, when asked), and Redis takes over again within a second.
async fn the_counters_survive_redis_going_away() {
    let redis = behest_testkit::PrivateRedis::start();
    let counters = RedisCounters::connect(&redis.url(), "resilient", Duration::from_millis(100))
        .await
        .unwrap();
    let resilient = Resilient::new(counters);
    let shutdown = tokio_util::sync::CancellationToken::new();
    resilient.start(shutdown.clone());
    let c: Arc<dyn Counters> = resilient.clone();
    let charge = budget(10_000, 100, 100);
    let shared = reservation(c.admit(&charge).await.unwrap());
    assert!(!shared.local);

    let port = redis.stop();
    let started = std::time::Instant::now();
    let t0 = now_ms();
    // The rate limit: this replica's share (one replica: all of it), never unlimited.
    let mut passed = 0;
    for _ in 0..8 {
        if matches!(
            c.admit(&rate(5, t0)).await.unwrap(),
            Verdict::Admitted { .. }
        ) {
            passed += 1;
        }
    }
    assert_eq!(passed, 5);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no hang: {:?}",
        started.elapsed()
    );
    assert!(!resilient.is_healthy());
    assert!(resilient.fallbacks() >= 8);
    // Budgets fail closed, unless the project opted in to fail open.
    assert_eq!(c.admit(&charge).await.unwrap(), Verdict::Unavailable);
    let open = Admission {
        fail_open: true,
        ..charge.clone()
    };
    assert!(reservation(c.admit(&open).await.unwrap()).local);

    let redis = behest_testkit::PrivateRedis::start_on(port);
    let back = std::time::Instant::now();
    while !resilient.is_healthy() {
        assert!(
            back.elapsed() < Duration::from_secs(1),
            "not back within a second"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A new Redis knows nothing; the shared path is in use again.
    let again = reservation(c.admit(&charge).await.unwrap());
    assert!(!again.local);
    assert_eq!(c.budget_used("tok:{p1:u1}:2026-12-01").await.unwrap(), 100);
    shutdown.cancel();
    drop(redis);
}

async fn strikes_count_expire_and_are_forgiven(backend: &str) {
    let c = counters(backend).await;
    let t0 = now_ms();
    let keys = vec!["login:acct:a".to_owned(), "login:ip:10.0.0.1".to_owned()];
    let none = c.strikes(&keys, t0).await.unwrap();
    assert_eq!(none, vec![Strikes::default(); 2]);
    for n in 1..=3u32 {
        let at = t0 + u64::from(n) * 10;
        let now = c.strike(&keys, MINUTE, at).await.unwrap();
        assert_eq!(now.iter().map(|s| s.count).collect::<Vec<_>>(), vec![n, n]);
        assert!(now.iter().all(|s| s.last_ms == at), "{now:?}");
    }
    // One key struck alone: the other does not move.
    c.strike(&keys[1..], MINUTE, t0 + 40).await.unwrap();
    let read = c.strikes(&keys, t0 + 50).await.unwrap();
    assert_eq!((read[0].count, read[1].count), (3, 4));
    assert_eq!((read[0].last_ms, read[1].last_ms), (t0 + 30, t0 + 40));
    // A success forgives the account, not the address.
    c.forgive(&keys[0]).await.unwrap();
    let read = c.strikes(&keys, t0 + 60).await.unwrap();
    assert_eq!((read[0].count, read[1].count), (0, 4));
    // Strikes expire `ttl` after the last one (Redis by its clock: a short real TTL).
    let short = vec!["login:acct:short".to_owned()];
    c.strike(&short, 200, now_ms()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    let later = now_ms();
    assert_eq!(c.strikes(&short, later).await.unwrap()[0].count, 0);
    assert_eq!(c.strike(&short, 200, later).await.unwrap()[0].count, 1);
}

fn main() -> std::process::ExitCode {
    let mut tests = Tests::new();
    for (backend, needs) in [("memory", &[][..]), ("redis", &[Need::Redis][..])] {
        macro_rules! case {
            ($name:ident) => {
                tests = tests.add(
                    &format!("{backend}::{}", stringify!($name)),
                    needs,
                    move || $name(backend),
                );
            };
        }
        case!(the_rate_limit_is_a_sliding_window);
        case!(budgets_reserve_shrink_and_settle_once);
        case!(a_refusal_takes_nothing);
        case!(concurrent_admissions_never_overshoot);
        case!(strikes_count_expire_and_are_forgiven);
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
    tests
        .add(
            "redis::the_counters_survive_redis_going_away",
            &[Need::RedisServer],
            the_counters_survive_redis_going_away,
        )
        .run()
}
