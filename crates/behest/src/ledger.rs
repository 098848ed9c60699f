//! The token ledger: what each end user spent per UTC day, written to the store off
//! the hot path (outcomes are summed in memory and flushed every half second, and at
//! shutdown), and read back at start-up to rebuild the counters budgets are checked
//! against. The store is the record; the counters are derived from it.

use behest_gateway::outcome::{Outcome, OutcomeSink};
use behest_gateway::pipeline::{token_budget_key, utc_day};
use behest_live::Counters;
use behest_store::{Store, TokenUsage};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// How long a restored day's key lives (as admission's).
const BUDGET_TTL_SECS: u64 = 2 * 86_400;

type Key = (Uuid, String, String);

/// The outcome sink that feeds the ledger.
pub struct LedgerSink {
    tx: mpsc::UnboundedSender<(Key, i64)>,
}

impl OutcomeSink for LedgerSink {
    fn record(&self, outcome: &Outcome) {
        let tokens = outcome.charged_tokens();
        let (Some(project), Some(uid)) = (outcome.identity.project_id, &outcome.identity.uid)
        else {
            return;
        };
        if tokens == 0 {
            return;
        }
        let day = utc_day(behest_live::counters::now_ms());
        let _ = self.tx.send((
            (project, uid.clone(), day),
            i64::try_from(tokens).unwrap_or(i64::MAX),
        ));
    }
}

/// The sink, and the task that writes what it collects until `shutdown` (then flushes).
pub fn start(
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
) -> (LedgerSink, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Key, i64)>();
    let task = tokio::spawn(async move {
        let mut pending: HashMap<Key, i64> = HashMap::new();
        let mut ticker = tokio::time::interval(FLUSH_EVERY);
        loop {
            let stop = tokio::select! {
                _ = shutdown.cancelled() => true,
                _ = ticker.tick() => false,
                received = rx.recv() => match received {
                    Some((key, tokens)) => {
                        *pending.entry(key).or_default() += tokens;
                        continue;
                    }
                    None => true,
                },
            };
            while let Ok((key, tokens)) = rx.try_recv() {
                *pending.entry(key).or_default() += tokens;
            }
            if !pending.is_empty() {
                let batch: Vec<TokenUsage> = pending
                    .iter()
                    .map(|((project_id, uid, day), tokens)| TokenUsage {
                        project_id: *project_id,
                        uid: uid.clone(),
                        day: day.clone(),
                        tokens: *tokens,
                    })
                    .collect();
                match store.add_token_usage(&batch).await {
                    Ok(()) => pending.clear(),
                    // Kept and retried with the next flush.
                    Err(err) => {
                        tracing::warn!(error = %err, rows = batch.len(), "token ledger not written; retrying")
                    }
                }
            }
            if stop {
                return;
            }
        }
    });
    (LedgerSink { tx }, task)
}

/// Raises today's budget counters to what the ledger records.
pub async fn restore(store: &dyn Store, counters: &dyn Counters) -> anyhow::Result<usize> {
    let today = utc_day(behest_live::counters::now_ms());
    let rows = store.token_usage_on(&today).await?;
    for row in &rows {
        let used = u64::try_from(row.tokens).unwrap_or(0);
        counters
            .restore(
                &token_budget_key(row.project_id, &row.uid, &today),
                used,
                BUDGET_TTL_SECS,
            )
            .await?;
    }
    Ok(rows.len())
}

/// Several sinks, in order.
pub struct Fanout(pub Vec<Arc<dyn OutcomeSink>>);

impl OutcomeSink for Fanout {
    fn record(&self, outcome: &Outcome) {
        for sink in &self.0 {
            sink.record(outcome);
        }
    }
}
