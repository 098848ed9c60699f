//! The distributed live state: the image in one Redis hash, notifications on a pub/sub
//! channel. A background task keeps a subscription open (reconnecting with backoff) and
//! forwards each message, plus one after every reconnect (messages may have been
//! missed meanwhile), to local receivers. Every command has a deadline: a Redis that
//! is gone makes a deploy fail (and be retried) within seconds, never hang.

use crate::{LiveError, LiveState};
use arc_swap::ArcSwap;
use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// How long one command (or one reconnection) may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

pub struct RedisLive {
    client: redis::Client,
    /// Replaced by a fresh one after a command fails or times out.
    connection: ArcSwap<ConnectionManager>,
    image_key: String,
    channel: String,
    changes: broadcast::Sender<()>,
}

impl RedisLive {
    /// Connects to `url` and returns once change notifications are subscribed to.
    /// `namespace` prefixes every key (tests use their own).
    pub async fn connect(url: &str, namespace: &str) -> Result<RedisLive, LiveError> {
        let client = redis::Client::open(url)?;
        let connection = open(&client).await?;
        let channel = format!("{namespace}:changes");
        let (changes, _) = broadcast::channel(64);
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&channel).await?;
        tokio::spawn(listen(
            client.clone(),
            pubsub,
            channel.clone(),
            changes.clone(),
        ));
        Ok(RedisLive {
            client,
            connection: ArcSwap::from_pointee(connection),
            image_key: format!("{namespace}:image"),
            channel,
            changes,
        })
    }
}

/// A connection whose commands and reconnections are bounded in time.
async fn open(client: &redis::Client) -> Result<ConnectionManager, LiveError> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(COMMAND_TIMEOUT)
        .set_response_timeout(COMMAND_TIMEOUT)
        .set_number_of_retries(1)
        .set_factor(10)
        .set_max_delay(100);
    tokio::time::timeout(
        COMMAND_TIMEOUT * 2,
        ConnectionManager::new_with_config(client.clone(), config),
    )
    .await
    .map_err(|_| LiveError::Timeout((COMMAND_TIMEOUT * 2).as_millis()))?
    .map_err(LiveError::from)
}

impl RedisLive {
    /// Runs one command with a deadline. When it fails, it runs once more on a fresh
    /// connection if Redis answers one (a Redis that came back is used at once).
    async fn command<T, F, Fut>(&self, command: F) -> Result<T, LiveError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let connection = ConnectionManager::clone(&self.connection.load());
        let failed = match bounded(command(connection)).await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let Ok(fresh) = open(&self.client).await else {
            return Err(failed);
        };
        self.connection.store(Arc::new(fresh.clone()));
        bounded(command(fresh)).await
    }
}

async fn bounded<T>(command: impl Future<Output = redis::RedisResult<T>>) -> Result<T, LiveError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, command).await {
        Ok(result) => result.map_err(LiveError::from),
        Err(_) => Err(LiveError::Timeout(COMMAND_TIMEOUT.as_millis())),
    }
}

async fn listen(
    client: redis::Client,
    first: redis::aio::PubSub,
    channel: String,
    changes: broadcast::Sender<()>,
) {
    let mut subscription = Some(first);
    let mut backoff = Duration::from_millis(100);
    loop {
        if let Some(mut pubsub) = subscription.take() {
            let mut messages = pubsub.on_message();
            while messages.next().await.is_some() {
                let _ = changes.send(());
            }
            tracing::warn!("live-state subscription closed; reconnecting");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    backoff = Duration::from_millis(100);
                    // Whatever happened while we were not listening: re-read.
                    let _ = changes.send(());
                    subscription = Some(pubsub);
                }
                Err(err) => tracing::warn!(error = %err, "cannot subscribe to live-state changes"),
            },
            Err(err) => tracing::warn!(error = %err, "cannot reach Redis for live-state changes"),
        }
    }
}

#[async_trait]
impl LiveState for RedisLive {
    async fn write(
        &self,
        entries: Vec<(String, String)>,
        removed: Vec<String>,
    ) -> Result<(), LiveError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        if !removed.is_empty() {
            pipe.hdel(&self.image_key, removed).ignore();
        }
        if !entries.is_empty() {
            pipe.hset_multiple(&self.image_key, &entries).ignore();
        }
        self.command(|mut connection| {
            let pipe = pipe.clone();
            async move { pipe.query_async(&mut connection).await }
        })
        .await
    }

    async fn read_all(&self) -> Result<HashMap<String, String>, LiveError> {
        self.command(|mut connection| async move { connection.hgetall(&self.image_key).await })
            .await
    }

    async fn notify(&self) -> Result<(), LiveError> {
        let _receivers: i64 = self
            .command(
                |mut connection| async move { connection.publish(&self.channel, "changed").await },
            )
            .await?;
        Ok(())
    }

    fn changes(&self) -> broadcast::Receiver<()> {
        self.changes.subscribe()
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
