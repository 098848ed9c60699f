//! The token ledger: what each end user spent per UTC day, written to the store off
//! the hot path (outcomes are summed in memory and flushed every half second, and at
//! shutdown), and read back at start-up to rebuild the counters budgets are checked
//! against. The store is the record; the counters are derived from it.

use behest_core::usage::CostGroup;
use behest_gateway::outcome::{Outcome, OutcomeSink};
use behest_gateway::pipeline::{
    project_monthly_usd_key, session_usd_key, token_budget_key, user_daily_usd_key, utc_day,
    BUDGET_TTL_SECS, MONTH_TTL_SECS, SESSION_TTL_SECS,
};
use behest_live::Counters;
use behest_store::{Store, TokenUsage};
use chrono::Datelike;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const FLUSH_EVERY: Duration = Duration::from_millis(500);

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

/// Raises the budget counters to what the store records: today's tokens per end user
/// from the ledger; spending per end user today, per session (over a session key's
/// lifetime) and per project this month from the usage records. Run after the usage
/// spool is replayed, so that what the last run spent before it stopped counts.
pub async fn restore(store: &dyn Store, counters: &dyn Counters) -> anyhow::Result<usize> {
    let now = chrono::Utc::now();
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
    let mut restored = rows.len();
    let day_start = now.date_naive().and_time(chrono::NaiveTime::MIN).and_utc();
    let month_start = day_start.with_day(1).unwrap_or(day_start);
    let sessions_since = now - chrono::Duration::seconds(SESSION_TTL_SECS as i64);
    let month = &today[..7];
    for (group, since) in [
        (CostGroup::User, day_start),
        (CostGroup::Session, sessions_since),
        (CostGroup::Project, month_start),
    ] {
        for sum in store.usage_costs(since, group).await? {
            let key = match (group, &sum.uid, &sum.session_id) {
                (CostGroup::User, Some(uid), _) => (
                    user_daily_usd_key(sum.project_id, uid, &today),
                    BUDGET_TTL_SECS,
                ),
                (CostGroup::Session, Some(uid), Some(session)) => (
                    session_usd_key(sum.project_id, uid, session),
                    SESSION_TTL_SECS,
                ),
                (CostGroup::Project, ..) => (
                    project_monthly_usd_key(sum.project_id, month),
                    MONTH_TTL_SECS,
                ),
                _ => continue,
            };
            // Admission counts millionths of a USD, each call rounded up; the sum of the
            // exact costs, rounded up, is at most one millionth a call below that.
            let used = (sum.cost_usd * 1e6).ceil().max(0.0) as u64;
            counters.restore(&key.0, used, key.1).await?;
            restored += 1;
        }
    }
    Ok(restored)
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
