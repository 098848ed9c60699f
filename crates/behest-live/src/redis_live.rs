//! The distributed live state: the image in one Redis hash, notifications on a pub/sub
//! channel. A background task keeps a subscription open (reconnecting with backoff) and
//! forwards each message, plus one after every reconnect (messages may have been
//! missed meanwhile), to local receivers.

use crate::{LiveError, LiveState};
use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use redis::AsyncCommands;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::broadcast;

pub struct RedisLive {
    /// Reconnects by itself after Redis comes back.
    connection: ConnectionManager,
    image_key: String,
    channel: String,
    changes: broadcast::Sender<()>,
}

impl RedisLive {
    /// Connects to `url` and returns once change notifications are subscribed to.
    /// `namespace` prefixes every key (tests use their own).
    pub async fn connect(url: &str, namespace: &str) -> Result<RedisLive, LiveError> {
        let client = redis::Client::open(url)?;
        let connection = ConnectionManager::new(client.clone()).await?;
        let channel = format!("{namespace}:changes");
        let (changes, _) = broadcast::channel(64);
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&channel).await?;
        tokio::spawn(listen(client, pubsub, channel.clone(), changes.clone()));
        Ok(RedisLive {
            connection,
            image_key: format!("{namespace}:image"),
            channel,
            changes,
        })
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
        let mut connection = self.connection.clone();
        let () = pipe.query_async(&mut connection).await?;
        Ok(())
    }

    async fn read_all(&self) -> Result<HashMap<String, String>, LiveError> {
        let mut connection = self.connection.clone();
        Ok(connection.hgetall(&self.image_key).await?)
    }

    async fn notify(&self) -> Result<(), LiveError> {
        let mut connection = self.connection.clone();
        let _receivers: i64 = connection.publish(&self.channel, "changed").await?;
        Ok(())
    }

    fn changes(&self) -> broadcast::Receiver<()> {
        self.changes.subscribe()
    }

    fn name(&self) -> &'static str {
        "redis"
    }
}
