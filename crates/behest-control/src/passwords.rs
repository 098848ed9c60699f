//! Password hashing on a bounded pool: Argon2id costs 7 MiB
//! ([`behest_auth::password::MEMORY_KIB`]) and tens of milliseconds of one core per
//! call, so at most `workers` run at once (one per core by default) and at most
//! `queue` more wait; beyond that, signup and login answer 503 `overloaded`
//! with `Retry-After` instead of piling up threads and memory. Memory for hashing is
//! therefore bounded by `workers × 7 MiB` whatever the number of concurrent logins.

use crate::error::{ControlError, ControlResult};
use behest_core::ErrorCode;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

/// What a refused caller is told to wait before retrying, in seconds.
const RETRY_AFTER_SECS: u64 = 1;
/// Callers allowed to wait per worker.
const QUEUE_PER_WORKER: usize = 16;

type Job = Box<dyn FnOnce() + Send>;

/// Dedicated threads, not the runtime's blocking pool: each thread that ever ran Argon2
/// keeps its allocator arena (Argon2's 7 MiB), so the number of threads that do is the bound.
pub struct PasswordPool {
    jobs: SyncSender<Job>,
}

impl Default for PasswordPool {
    /// One worker per core, sixteen waiting per worker.
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        PasswordPool::new(cores, cores * QUEUE_PER_WORKER)
    }
}

impl PasswordPool {
    pub fn new(workers: usize, queue: usize) -> PasswordPool {
        let (jobs, receiver) = sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..workers.max(1) {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("behest-argon2-{i}"))
                .spawn(move || work(&receiver));
            if let Err(err) = spawned {
                tracing::error!(error = %err, "could not start a password hashing thread");
            }
        }
        PasswordPool { jobs }
    }

    /// Runs `work` (a hash or a verification) on a hashing thread; refuses at once
    /// (503 `overloaded`, `Retry-After: 1`) when every worker is busy and the queue full.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> ControlResult<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(ControlError::retry_later(
                    ErrorCode::Overloaded,
                    "too many sign-ins in progress; retry shortly",
                    RETRY_AFTER_SECS,
                ))
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ControlError::internal(
                    "the password hashing threads stopped",
                ))
            }
        }
        result
            .await
            .map_err(|_| ControlError::internal("a password hashing job was lost"))
    }
}

/// One worker: takes the next job until the pool is dropped.
fn work(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let next = receiver.lock().unwrap_or_else(|p| p.into_inner()).recv();
        match next {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn beyond_workers_and_queue_callers_are_refused_and_never_run_more_than_workers() {
        let pool = Arc::new(PasswordPool::new(2, 3));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = Arc::new(Mutex::new(hold));
        let mut calls = Vec::new();
        for _ in 0..5 {
            let (pool, running, peak, hold) =
                (pool.clone(), running.clone(), peak.clone(), hold.clone());
            calls.push(tokio::spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    // Held until released (bounded, so a failure cannot hang the test).
                    let _ = hold.lock().unwrap().recv_timeout(Duration::from_secs(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Two running, three queued: the sixth is refused with Retry-After.
        let refused = pool.run(|| ()).await;
        for _ in 0..5 {
            release.send(()).unwrap();
        }
        match refused {
            Err(ControlError::RetryLater {
                code, retry_after, ..
            }) => assert_eq!((code, retry_after), (ErrorCode::Overloaded, 1)),
            other => panic!("expected a refusal, got {other:?}"),
        }
        for call in calls {
            call.await.unwrap().unwrap();
        }
        assert!(
            peak.load(Ordering::SeqCst) <= 2,
            "never more than the workers"
        );
        // Room again once they are done.
        pool.run(|| ()).await.unwrap();
    }
}
