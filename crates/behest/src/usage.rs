//! Usage records: one per data-plane request, refused ones included, written off the
//! hot path but never lost. Each outcome is appended to a spool file in the data
//! directory before its request is answered (one `write`: the record is in the
//! kernel's hands, so a crash or `kill -9` of this process cannot lose it); a flusher
//! moves the spool aside every quarter second, inserts its records into the store in
//! batches (a replayed record is a no-op: records carry their id) and deletes it. A
//! restart replays whatever spool files are left. Memory stays bounded: the spool also
//! keeps the records of the file being written in memory, up to [`KEEP_IN_MEMORY`], so
//! the flusher need not read back and parse what it just wrote (that was a seventh of
//! a plain request's instructions); past that, and for every older file, records wait
//! on disk and are read back a batch at a time.
//!
//! Also the usage API's reader over the store.

use async_trait::async_trait;
use behest_core::usage::{Granularity, UsageBucket, UsageQuery, UsageRecord};
use behest_gateway::memory::{BackendError, BackendResult, UsageReader};
use behest_gateway::outcome::{Outcome, OutcomeSink, TokenSource};
use behest_store::Store;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const FLUSH_EVERY: Duration = Duration::from_millis(250);
const BATCH: usize = 500;
const CURRENT: &str = "current.jsonl";
/// How many records of the current file the spool also keeps in memory (a quarter
/// second of 40k requests a second); a file with more is read back from disk.
const KEEP_IN_MEMORY: usize = 10_000;

/// The spool: the outcome sink writes to it, the flusher empties it into the store.
pub struct UsageSpool {
    dir: PathBuf,
    current: Mutex<Current>,
    /// Records written to the spool and not yet in the store.
    lag: AtomicU64,
    next_batch: AtomicU64,
    /// [`KEEP_IN_MEMORY`], but for tests.
    keep_in_memory: usize,
}

/// The file being written, and its records while they fit in memory.
struct Current {
    file: std::fs::File,
    /// Exactly the file's records, in order; `None` once it held more than
    /// [`KEEP_IN_MEMORY`], after a failed write, or when the file already held records
    /// at start: then the file is the one source.
    records: Option<Vec<UsageRecord>>,
}

impl Current {
    fn open(dir: &Path) -> std::io::Result<Current> {
        let file = open_current(dir)?;
        // A file left by a process that was killed holds records no memory has.
        let records = (file.metadata()?.len() == 0).then(Vec::new);
        Ok(Current { file, records })
    }
}

/// A spool file moved aside for the flusher, with its records when they were kept.
struct Rotated {
    path: PathBuf,
    records: Option<Vec<UsageRecord>>,
}

fn open_current(dir: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(dir.join(CURRENT))
}

impl UsageSpool {
    /// Opens (creating) the spool in `dir`.
    pub fn open(dir: &Path) -> std::io::Result<Arc<UsageSpool>> {
        Self::keeping(dir, KEEP_IN_MEMORY)
    }

    fn keeping(dir: &Path, keep_in_memory: usize) -> std::io::Result<Arc<UsageSpool>> {
        std::fs::create_dir_all(dir)?;
        Ok(Arc::new(UsageSpool {
            dir: dir.to_owned(),
            current: Mutex::new(Current::open(dir)?),
            lag: AtomicU64::new(0),
            next_batch: AtomicU64::new(0),
            keep_in_memory,
        }))
    }

    /// Records not yet in the store (the usage sink's lag).
    pub fn lag(&self) -> u64 {
        self.lag.load(Ordering::Relaxed)
    }

    fn write(&self, record: UsageRecord) {
        let mut line = match serde_json::to_vec(&record) {
            Ok(line) => line,
            Err(err) => {
                tracing::error!(error = %err, "a usage record could not be encoded");
                return;
            }
        };
        line.push(b'\n');
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        match current.file.write_all(&line) {
            Ok(()) => {
                self.lag.fetch_add(1, Ordering::Relaxed);
                match &mut current.records {
                    Some(records) if records.len() < self.keep_in_memory => records.push(record),
                    _ => current.records = None,
                }
            }
            Err(err) => {
                // Part of the line may be in the file: only the file can tell.
                current.records = None;
                tracing::error!(error = %err, "a usage record could not be spooled");
            }
        }
    }

    /// Moves the current spool aside (when it has anything), to be flushed.
    fn rotate(&self) -> std::io::Result<Option<Rotated>> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.file.metadata()?.len() == 0 {
            return Ok(None);
        }
        current.file.sync_data()?;
        let n = self.next_batch.fetch_add(1, Ordering::Relaxed);
        let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f");
        let path = self.dir.join(format!("batch-{stamp}-{n:06}.jsonl"));
        std::fs::rename(self.dir.join(CURRENT), &path)?;
        let records = std::mem::replace(&mut *current, Current::open(&self.dir)?).records;
        Ok(Some(Rotated { path, records }))
    }

    /// The spool files waiting for the store, oldest first.
    fn batches(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("batch-") && n.ends_with(".jsonl"))
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// Writes every waiting spool file to the store, deleting each once it is in. The
    /// file just rotated goes in from the records kept in memory when there are any;
    /// every other file is read [`BATCH`] records at a time, so however much waited (a
    /// store that was away, a restart after a crash) the flusher holds at most one
    /// batch besides what the spool kept.
    pub async fn flush(&self, store: &dyn Store) -> anyhow::Result<usize> {
        let mut rotated = self.rotate()?;
        let mut written = 0;
        let mut batch = Vec::with_capacity(BATCH);
        for path in self.batches()? {
            let kept = match &mut rotated {
                Some(r) if r.path == path => r.records.take(),
                _ => None,
            };
            let mut in_file = 0;
            match kept {
                Some(records) => {
                    for part in records.chunks(BATCH) {
                        store.insert_usage(part).await?;
                        in_file += part.len();
                    }
                }
                None => {
                    let mut spooled = SpoolReader::open(&path)?;
                    while spooled.read(&mut batch, BATCH)? > 0 {
                        store.insert_usage(&batch).await?;
                        in_file += batch.len();
                        batch.clear();
                    }
                }
            }
            std::fs::remove_file(&path)?;
            written += in_file;
            // Settled once the whole file is in: a file that failed halfway is replayed
            // whole from disk (the records already in are no-ops) and counted then.
            let count = u64::try_from(in_file).unwrap_or(u64::MAX);
            let _ = self
                .lag
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |lag| {
                    Some(lag.saturating_sub(count))
                });
        }
        Ok(written)
    }

    /// Flushes until `shutdown`, then once more.
    pub async fn run(self: Arc<Self>, store: Arc<dyn Store>, shutdown: CancellationToken) {
        let mut ticker = tokio::time::interval(FLUSH_EVERY);
        loop {
            let stop = tokio::select! {
                _ = shutdown.cancelled() => true,
                _ = ticker.tick() => false,
            };
            if let Err(err) = self.flush(store.as_ref()).await {
                tracing::warn!(error = %err, lag = self.lag(), "usage not written to the store yet; it stays spooled");
            }
            if stop {
                return;
            }
        }
    }
}

/// Reads a spool file's records a batch at a time; a line cut short by a crash (or
/// otherwise unreadable) is skipped.
struct SpoolReader {
    lines: std::io::Lines<std::io::BufReader<std::fs::File>>,
    path: PathBuf,
}

impl SpoolReader {
    fn open(path: &Path) -> std::io::Result<SpoolReader> {
        Ok(SpoolReader {
            lines: std::io::BufReader::new(std::fs::File::open(path)?).lines(),
            path: path.to_owned(),
        })
    }

    /// Appends up to `most` records to `batch`; answers how many (0: the file is done).
    fn read(&mut self, batch: &mut Vec<UsageRecord>, most: usize) -> std::io::Result<usize> {
        let before = batch.len();
        while batch.len() - before < most {
            let Some(line) = self.lines.next() else { break };
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<UsageRecord>(&line) {
                Ok(record) => batch.push(record),
                Err(err) => {
                    tracing::warn!(error = %err, file = %self.path.display(), "an unreadable usage line was skipped")
                }
            }
        }
        Ok(batch.len() - before)
    }
}

/// The usage record of an outcome (`None` for a request no project can be charged for).
pub fn record_of(outcome: &Outcome) -> Option<UsageRecord> {
    let identity = &outcome.identity;
    let (project_id, tenant_id) = (identity.project_id?, identity.tenant_id?);
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let tokens = outcome.tokens;
    let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Some(UsageRecord {
        // Time-ordered (UUIDv7): each flush appends to the end of the id index instead
        // of touching one random page of it per record.
        id: Uuid::now_v7(),
        at: chrono::Utc::now(),
        project_id,
        tenant_id,
        uid: identity.uid.clone(),
        session_id: identity.session_id.clone(),
        thread_id: identity.thread_id.clone(),
        tier: identity.tier.clone(),
        operation: outcome.operation.as_str().to_owned(),
        origin: match outcome.origin {
            behest_gateway::outcome::Origin::Live => "live".to_owned(),
            behest_gateway::outcome::Origin::Playground => "playground".to_owned(),
        },
        model: outcome.model.clone(),
        provider: outcome.provider.map(|p| p.as_str().to_owned()),
        prompt_tokens: tokens.map_or(0, |t| int(t.prompt)),
        completion_tokens: tokens.map_or(0, |t| int(t.completion)),
        total_tokens: tokens.map_or(0, |t| int(t.total)),
        tokens_counted: tokens.is_some_and(|t| t.source == TokenSource::Counted),
        cost_usd: outcome.cost_usd,
        latency_ms: ms(outcome.total_time),
        ttft_ms: outcome.time_to_first_byte.map(ms),
        status: i32::from(outcome.status),
        error_code: outcome.error_code.map(|c| c.as_str().to_owned()),
        ending: outcome.ending.as_str().to_owned(),
        guard: outcome.guard.to_json(),
    })
}

/// The outcome sink that spools usage.
pub struct UsageSink(pub Arc<UsageSpool>);

impl OutcomeSink for UsageSink {
    fn record(&self, outcome: &Outcome) {
        if let Some(record) = record_of(outcome) {
            self.0.write(record);
        }
    }
}

/// The usage API's sums, from the store.
pub struct StoreUsage(pub Arc<dyn Store>);

fn backend(err: behest_store::StoreError) -> BackendError {
    BackendError(err.to_string())
}

#[async_trait]
impl UsageReader for StoreUsage {
    async fn buckets(
        &self,
        query: &UsageQuery,
        granularity: Granularity,
    ) -> BackendResult<Vec<UsageBucket>> {
        self.0
            .usage_buckets(query, granularity)
            .await
            .map_err(backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: usize) -> UsageRecord {
        UsageRecord {
            id: Uuid::new_v4(),
            at: chrono::Utc::now(),
            project_id: Uuid::new_v4(),
            tenant_id: Uuid::new_v4(),
            uid: Some(format!("user-{n}")),
            session_id: None,
            thread_id: None,
            tier: None,
            operation: "chat".to_owned(),
            origin: "live".to_owned(),
            model: Some("gpt-4o-mini".to_owned()),
            provider: Some("openai".to_owned()),
            prompt_tokens: n as i64,
            completion_tokens: 1,
            total_tokens: n as i64 + 1,
            tokens_counted: false,
            cost_usd: 0.0,
            latency_ms: 1.0,
            ttft_ms: None,
            status: 200,
            error_code: None,
            ending: "completed".to_owned(),
            guard: serde_json::Value::Null,
        }
    }

    async fn store_in(dir: &Path) -> Arc<dyn Store> {
        let url = format!("sqlite://{}", dir.join("behest.db").display());
        let store = behest_store::open(&url).await.unwrap();
        store.migrate().await.unwrap();
        store
    }

    async fn requests_of(store: &dyn Store, project_id: Uuid) -> i64 {
        let query = UsageQuery {
            project_id,
            uid: None,
            from: chrono::Utc::now() - chrono::TimeDelta::hours(1),
            to: chrono::Utc::now() + chrono::TimeDelta::hours(1),
        };
        store.usage_totals(&query).await.unwrap().requests
    }

    /// A spool of one project's records, as the sink writes them.
    fn spool_records(spool: &UsageSpool, project_id: Uuid, n: usize) {
        for i in 0..n {
            spool.write(UsageRecord {
                project_id,
                ..record(i)
            });
        }
    }

    #[tokio::test]
    async fn the_flusher_inserts_the_records_it_kept_without_reading_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path()).await;
        let spool = UsageSpool::keeping(&dir.path().join("spool"), 10).unwrap();
        let project = Uuid::new_v4();
        spool_records(&spool, project, 3);
        // What is on disk no longer parses: only the kept records can reach the store.
        std::fs::write(dir.path().join("spool").join(CURRENT), b"not json\n").unwrap();
        assert_eq!(spool.flush(store.as_ref()).await.unwrap(), 3);
        assert_eq!(requests_of(store.as_ref(), project).await, 3);
        assert_eq!(spool.lag(), 0);
        assert!(spool.batches().unwrap().is_empty(), "the file is gone");
    }

    #[tokio::test]
    async fn past_what_it_keeps_and_for_older_files_the_flusher_reads_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path()).await;
        let spool_dir = dir.path().join("spool");
        let spool = UsageSpool::keeping(&spool_dir, 4).unwrap();
        let project = Uuid::new_v4();
        // A file an earlier flush could not write (the store was away): still on disk.
        let older = spool_dir.join("batch-00000000T000000.000000-000000.jsonl");
        let mut file = std::fs::File::create(&older).unwrap();
        for n in 0..2 {
            let line = serde_json::to_vec(&UsageRecord {
                project_id: project,
                ..record(n)
            })
            .unwrap();
            file.write_all(&line).unwrap();
            file.write_all(b"\n").unwrap();
        }
        drop(file);
        // More than the spool keeps in memory: this file is read back too.
        spool_records(&spool, project, 9);
        assert_eq!(spool.flush(store.as_ref()).await.unwrap(), 11);
        assert_eq!(requests_of(store.as_ref(), project).await, 11);
        // The next file is kept in memory again.
        spool_records(&spool, project, 2);
        assert_eq!(spool.flush(store.as_ref()).await.unwrap(), 2);
        assert_eq!(requests_of(store.as_ref(), project).await, 13);
        assert!(spool.batches().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_current_file_left_by_a_killed_process_is_read_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_in(dir.path()).await;
        let spool_dir = dir.path().join("spool");
        let project = Uuid::new_v4();
        let before = UsageSpool::keeping(&spool_dir, 10).unwrap();
        spool_records(&before, project, 3);
        drop(before); // killed: nothing flushed
        let after = UsageSpool::keeping(&spool_dir, 10).unwrap();
        spool_records(&after, project, 2);
        assert_eq!(after.flush(store.as_ref()).await.unwrap(), 5);
        assert_eq!(requests_of(store.as_ref(), project).await, 5);
    }

    #[test]
    fn usage_records_get_time_ordered_ids() {
        let ids: Vec<Uuid> = (0..50).map(|_| Uuid::now_v7()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids ascend");
        use behest_gateway::outcome::{Operation, Origin};
        let started = std::time::Instant::now();
        let mut outcome = Outcome::new(Operation::Chat, Origin::Live, started, None);
        outcome.identity.project_id = Some(Uuid::new_v4());
        outcome.identity.tenant_id = Some(Uuid::new_v4());
        let id = record_of(&outcome).unwrap().id;
        assert_eq!(id.get_version(), Some(uuid::Version::SortRand));
    }

    #[test]
    fn a_spool_file_is_read_a_batch_at_a_time_skipping_broken_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("batch-test.jsonl");
        let mut file = std::fs::File::create(&path).unwrap();
        for n in 0..1_203 {
            serde_json::to_writer(&mut file, &record(n)).unwrap();
            file.write_all(b"\n").unwrap();
            if n == 700 {
                file.write_all(b"\n{\"id\": \"cut short by a cra\n")
                    .unwrap();
            }
        }
        drop(file);
        let mut spooled = SpoolReader::open(&path).unwrap();
        let mut batch = Vec::new();
        let mut sizes = Vec::new();
        let mut tokens = Vec::new();
        while spooled.read(&mut batch, BATCH).unwrap() > 0 {
            sizes.push(batch.len());
            tokens.extend(batch.iter().map(|r| r.prompt_tokens));
            batch.clear();
        }
        assert_eq!(
            sizes,
            [BATCH, BATCH, 203],
            "never more than a batch in memory"
        );
        assert_eq!(
            tokens,
            (0..1_203).collect::<Vec<i64>>(),
            "every record, in order"
        );
    }
}
