//! Pure translation between the OpenAI Chat Completions wire format (what
//! Behest's clients speak) and each upstream provider's own format.
//!
//! No I/O happens here: for each wire format there is an encoder (request →
//! upstream body, path and auth headers), a decoder for non-streamed answers
//! and errors, and a streaming decoder fed raw bytes. The caller owns the
//! HTTP client. Dispatch is by [`WireFormat`]; [`Provider`] names the
//! providers and maps each to its format; [`echo`] answers without an
//! upstream; [`catalog`] lists the known models.
//!
//! ```
//! use behest_providers::{ChatRequest, Provider};
//!
//! let req: ChatRequest = serde_json::from_str(
//!     r#"{"model":"claude-sonnet-4-20250514","messages":[{"role":"user","content":"Hi"}]}"#,
//! )?;
//! let wire = Provider::Anthropic.wire_format().ok_or("no upstream")?;
//! let encoded = wire.encode_request(&req, "claude-sonnet-4-20250514")?;
//! assert_eq!(encoded.path, "/v1/messages");
//! let headers = wire.auth_headers("sk-ant-...");
//! assert_eq!(headers[0].0, "x-api-key");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod anthropic;
mod bpe;
pub mod catalog;
mod chunk_head;
pub mod chunk_json;
pub mod cohere;
mod delta_template;
pub mod discovery;
pub mod echo;
mod error;
pub mod gemini;
pub mod keycheck;
mod lean_de;
pub mod openai;
mod provider;
pub mod sse;
mod stream;
pub mod tokens;
mod types;
mod util;

#[cfg(test)]
mod testutil;

pub use catalog::{CatalogError, ModelInfo, ModelRegistry, ModelRoute};
pub use discovery::DiscoveredModel;
pub use error::ProviderError;
pub use keycheck::{KeyCheckRequest, KeyVerdict};
pub use provider::{Provider, UnknownProvider, WireFormat};
pub use stream::StreamDecoder;
pub use types::*;
