//! Conversation memory for the gateway, backed by the store: appends are written off
//! the request's task but a thread's next read waits for them (so a turn always sees
//! the one before it), and in a single process the tails of recent threads are cached,
//! so a warm thread costs no read at all and a cold one one indexed read. With several
//! replicas (Redis mode) nothing is cached: another replica may have appended.
//!
//! Also the retention job: messages older than a project's `retention_days` go, and
//! threads left empty with them.

use async_trait::async_trait;
use behest_core::memory::{NewMessage, StoredMessage, ThreadKey, ThreadRow};
use behest_gateway::memory::{BackendError, BackendResult, Memory};
use behest_store::Store;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The most messages a window reads (the settings' `memory_window` maximum).
const TAIL: usize = 500;
/// Threads whose tails are cached at most; the cache is emptied when full.
const CACHED_THREADS: usize = 10_000;
const WRITE_ATTEMPTS: u32 = 5;

/// A thread's writes in flight.
#[derive(Default)]
struct Pending {
    count: AtomicUsize,
    done: Notify,
    /// Keeps one thread's appends in order.
    order: tokio::sync::Mutex<()>,
}

pub struct StoreMemory {
    store: Arc<dyn Store>,
    pending: Mutex<HashMap<ThreadKey, Arc<Pending>>>,
    cache: Option<Arc<TailCache>>,
}

/// The last messages of recent threads (single process only).
type TailCache = Mutex<HashMap<ThreadKey, Vec<StoredMessage>>>;

impl StoreMemory {
    /// `cache`: whether this process is the only writer (no replicas).
    pub fn new(store: Arc<dyn Store>, cache: bool) -> StoreMemory {
        StoreMemory {
            store,
            pending: Mutex::new(HashMap::new()),
            cache: cache.then(|| Arc::new(Mutex::new(HashMap::new()))),
        }
    }

    fn pending(&self, thread: &ThreadKey) -> Option<Arc<Pending>> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(thread)
            .cloned()
    }

    async fn settled(&self, thread: &ThreadKey) {
        let Some(pending) = self.pending(thread) else {
            return;
        };
        loop {
            let notified = pending.done.notified();
            if pending.count.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }

    fn cached(&self, thread: &ThreadKey, limit: usize) -> Option<Vec<StoredMessage>> {
        let cache = self
            .cache
            .as_ref()?
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let tail = cache.get(thread)?;
        Some(tail[tail.len().saturating_sub(limit)..].to_vec())
    }

    fn forget(&self, thread: &ThreadKey) {
        if let Some(cache) = &self.cache {
            cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(thread);
        }
    }
}

fn backend(err: behest_store::StoreError) -> BackendError {
    BackendError(err.to_string())
}

#[async_trait]
impl Memory for StoreMemory {
    async fn recent(&self, thread: &ThreadKey, limit: u32) -> BackendResult<Vec<StoredMessage>> {
        self.settled(thread).await;
        let limit = (limit as usize).min(TAIL);
        if let Some(tail) = self.cached(thread, limit) {
            return Ok(tail);
        }
        let stored = self
            .store
            .recent_messages(thread, TAIL as i64)
            .await
            .map_err(backend)?;
        let window = stored[stored.len().saturating_sub(limit)..].to_vec();
        if let Some(cache) = &self.cache {
            let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
            if cache.len() >= CACHED_THREADS {
                cache.clear();
            }
            cache.insert(thread.clone(), stored);
        }
        Ok(window)
    }

    fn append(&self, thread: ThreadKey, messages: Vec<NewMessage>) {
        if messages.is_empty() {
            return;
        }
        let pending = {
            let mut map = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            if map.len() > CACHED_THREADS {
                map.retain(|_, p| p.count.load(Ordering::Acquire) > 0);
            }
            map.entry(thread.clone()).or_default().clone()
        };
        // Counted before this returns: the thread's next read waits for the write.
        pending.count.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(
            Append {
                store: self.store.clone(),
                cache: self.cache.clone(),
                thread,
                messages,
                pending,
            }
            .run(),
        );
    }

    async fn threads(
        &self,
        project_id: Uuid,
        uid: &str,
        limit: u32,
    ) -> BackendResult<Vec<ThreadRow>> {
        self.store
            .threads(project_id, uid, i64::from(limit))
            .await
            .map_err(backend)
    }

    async fn thread(&self, thread: &ThreadKey) -> BackendResult<Option<ThreadRow>> {
        self.settled(thread).await;
        self.store.thread(thread).await.map_err(backend)
    }

    async fn delete(&self, thread: &ThreadKey) -> BackendResult<bool> {
        self.settled(thread).await;
        self.forget(thread);
        self.store.delete_thread(thread).await.map_err(backend)
    }

    async fn messages(
        &self,
        thread: &ThreadKey,
        limit: u32,
        before: Option<Uuid>,
    ) -> BackendResult<Vec<StoredMessage>> {
        self.settled(thread).await;
        self.store
            .thread_messages(thread, i64::from(limit), before)
            .await
            .map_err(backend)
    }
}

/// One append, written with retries, then announced.
struct Append {
    store: Arc<dyn Store>,
    cache: Option<Arc<TailCache>>,
    thread: ThreadKey,
    messages: Vec<NewMessage>,
    pending: Arc<Pending>,
}

impl Append {
    async fn run(self) {
        let _order = self.pending.order.lock().await;
        let mut delay = Duration::from_millis(50);
        for attempt in 1..=WRITE_ATTEMPTS {
            match self
                .store
                .append_messages(&self.thread, &self.messages)
                .await
            {
                Ok(stored) => {
                    self.extend_cache(stored);
                    break;
                }
                Err(err) if attempt < WRITE_ATTEMPTS => {
                    tracing::warn!(error = %err, attempt, "a thread append failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
                Err(err) => {
                    tracing::error!(error = %err, "a thread append was lost");
                    if let Some(cache) = &self.cache {
                        cache
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&self.thread);
                    }
                }
            }
        }
        self.pending.count.fetch_sub(1, Ordering::AcqRel);
        self.pending.done.notify_waiters();
    }

    /// A cached tail gets the new messages (an uncached thread is read when needed).
    fn extend_cache(&self, stored: Vec<StoredMessage>) {
        let Some(cache) = &self.cache else { return };
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tail) = cache.get_mut(&self.thread) {
            tail.extend(stored);
            let excess = tail.len().saturating_sub(TAIL);
            tail.drain(..excess);
        }
    }
}

/// Deletes, every `every`, each project's messages older than its `retention_days`.
pub async fn retention(store: Arc<dyn Store>, every: Duration, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if let Err(err) = retain_once(store.as_ref()).await {
            tracing::warn!(error = %err, "the retention job failed; retrying later");
        }
    }
}

/// One pass of the retention job; returns how many messages went.
pub async fn retain_once(store: &dyn Store) -> anyhow::Result<u64> {
    let mut removed = 0;
    for row in store.all_settings().await? {
        let Some(days) = row
            .deployed
            .as_ref()
            .and_then(|d| d.settings.retention_days)
        else {
            continue;
        };
        let cutoff = chrono::Utc::now() - chrono::Duration::days(days);
        removed += store.delete_messages_before(row.project_id, cutoff).await?;
    }
    if removed > 0 {
        tracing::info!(removed, "retention: old messages deleted");
    }
    Ok(removed)
}
