//! What the data plane needs from durable state, as traits the binary wires to the
//! store: conversation memory ([`Memory`]: the window of a thread read on the hot path,
//! appends, and the threads API) and usage sums ([`UsageReader`], for the usage API).
//! The gateway itself never depends on the store.

use async_trait::async_trait;
use behest_core::memory::{NewMessage, StoredMessage, ThreadKey, ThreadRow};
use behest_core::usage::{Granularity, UsageBucket, UsageQuery};
use std::collections::HashMap;
use std::sync::Mutex;
use uuid::Uuid;

/// A durable-state backend failed (the store, the cache).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

pub type BackendResult<T> = Result<T, BackendError>;

/// Threads and their messages.
#[async_trait]
pub trait Memory: Send + Sync + 'static {
    /// The last `limit` messages of a thread, oldest first. Waits for this process's
    /// pending appends to the thread first, so a turn always sees the turn before it.
    async fn recent(&self, thread: &ThreadKey, limit: u32) -> BackendResult<Vec<StoredMessage>>;
    /// Appends, in order, durably (the caller does not wait: [`Memory::recent`] does).
    fn append(&self, thread: ThreadKey, messages: Vec<NewMessage>);
    async fn threads(
        &self,
        project_id: Uuid,
        uid: &str,
        limit: u32,
    ) -> BackendResult<Vec<ThreadRow>>;
    async fn thread(&self, thread: &ThreadKey) -> BackendResult<Option<ThreadRow>>;
    async fn delete(&self, thread: &ThreadKey) -> BackendResult<bool>;
    /// `limit` messages before the message `before` (or the latest), oldest first.
    async fn messages(
        &self,
        thread: &ThreadKey,
        limit: u32,
        before: Option<Uuid>,
    ) -> BackendResult<Vec<StoredMessage>>;
}

/// Sums of usage records.
#[async_trait]
pub trait UsageReader: Send + Sync + 'static {
    async fn buckets(
        &self,
        query: &UsageQuery,
        granularity: Granularity,
    ) -> BackendResult<Vec<UsageBucket>>;
}

/// Memory in this process only (tests, and a gateway wired without a store).
#[derive(Default)]
pub struct InProcessMemory {
    threads: Mutex<HashMap<ThreadKey, (ThreadRow, Vec<StoredMessage>)>>,
}

#[async_trait]
impl Memory for InProcessMemory {
    async fn recent(&self, thread: &ThreadKey, limit: u32) -> BackendResult<Vec<StoredMessage>> {
        self.messages(thread, limit, None).await
    }

    fn append(&self, thread: ThreadKey, messages: Vec<NewMessage>) {
        let now = chrono::Utc::now();
        let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        let (row, stored) = threads.entry(thread.clone()).or_insert_with(|| {
            (
                ThreadRow {
                    id: thread.thread_id.clone(),
                    created_at: now,
                    updated_at: now,
                    message_count: 0,
                },
                Vec::new(),
            )
        });
        for message in messages {
            stored.push(StoredMessage {
                id: Uuid::new_v4(),
                seq: i64::try_from(stored.len()).unwrap_or(i64::MAX),
                role: message.role,
                content: message.content,
                tool_calls: message.tool_calls,
                tool_call_id: message.tool_call_id,
                created_at: now,
            });
        }
        row.updated_at = now;
        row.message_count = i64::try_from(stored.len()).unwrap_or(i64::MAX);
    }

    async fn threads(
        &self,
        project_id: Uuid,
        uid: &str,
        limit: u32,
    ) -> BackendResult<Vec<ThreadRow>> {
        let threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        let mut rows: Vec<ThreadRow> = threads
            .iter()
            .filter(|(k, _)| k.project_id == project_id && k.uid == uid)
            .map(|(_, (row, _))| row.clone())
            .collect();
        rows.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
        rows.truncate(limit as usize);
        Ok(rows)
    }

    async fn thread(&self, thread: &ThreadKey) -> BackendResult<Option<ThreadRow>> {
        let threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        Ok(threads.get(thread).map(|(row, _)| row.clone()))
    }

    async fn delete(&self, thread: &ThreadKey) -> BackendResult<bool> {
        let mut threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        Ok(threads.remove(thread).is_some())
    }

    async fn messages(
        &self,
        thread: &ThreadKey,
        limit: u32,
        before: Option<Uuid>,
    ) -> BackendResult<Vec<StoredMessage>> {
        let threads = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        let Some((_, stored)) = threads.get(thread) else {
            return Ok(Vec::new());
        };
        let end = match before {
            None => stored.len(),
            Some(id) => match stored.iter().position(|m| m.id == id) {
                Some(i) => i,
                None => return Ok(Vec::new()),
            },
        };
        let start = end.saturating_sub(limit as usize);
        Ok(stored[start..end].to_vec())
    }
}

/// No usage to read (a gateway wired without a store).
pub struct NoUsage;

#[async_trait]
impl UsageReader for NoUsage {
    async fn buckets(&self, _: &UsageQuery, _: Granularity) -> BackendResult<Vec<UsageBucket>> {
        Ok(Vec::new())
    }
}
