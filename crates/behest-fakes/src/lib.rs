//! Fake LLM provider HTTP servers (OpenAI, Anthropic, Google Gemini, Cohere) for Behest tests.
//!
//! [`FakeProviders::start`] binds one HTTP server on `127.0.0.1:0` that speaks every
//! provider's documented wire format at the path its clients call. The reply is steered by
//! control phrases in the last user message (`#tool`, `#error:NNN`, `#stream-error`, `#cut`,
//! `#slow`, `#hang`, `#flaky:N`); see the crate README. Every request is recorded and can be
//! read back with [`FakeProviders::requests`] or `GET /_fake/requests`.

mod anthropic;
mod cohere;
mod control;
mod gemini;
mod keys;
mod openai;
mod server;
mod sse;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

/// One HTTP request the fake server received (everything except `/_fake/*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// `openai`, `anthropic`, `google`, `cohere`, or `unknown` for unrouted paths.
    pub provider: String,
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Request path without the query, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Raw query string without `?` (empty when there is none).
    pub query: String,
    /// Headers by lowercased name; repeated headers are joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The body parsed as JSON, or a JSON string holding the raw text when it is not JSON
    /// (`null` when empty).
    pub body: serde_json::Value,
}

/// A running fake provider server; it shuts down when dropped.
#[derive(Debug)]
pub struct FakeProviders {
    addr: SocketAddr,
    state: Arc<server::AppState>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl FakeProviders {
    /// Starts the server on `127.0.0.1:0` (an ephemeral port).
    pub async fn start() -> std::io::Result<FakeProviders> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts the server on the given address.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<FakeProviders> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(server::AppState::default());
        let app = server::router(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = rx.await;
            };
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        });
        Ok(FakeProviders {
            addr,
            state,
            shutdown: Some(tx),
        })
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` — the base URL for Anthropic, Gemini and Cohere clients.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://ADDR/v1` — the base URL for OpenAI(-compatible) clients.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Every provider request received so far, oldest first.
    pub async fn requests(&self) -> Vec<RecordedRequest> {
        self.state.requests().await
    }

    /// Forgets the recorded requests (the `#flaky:N` counters are kept).
    pub async fn clear(&self) {
        self.state.clear().await;
    }
}

impl Drop for FakeProviders {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
