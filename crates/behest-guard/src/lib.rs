//! Sentinel and PII: pure functions over text (no I/O), built once per policy and
//! shared by every request.
//!
//! - [`sentinel`]: blocklist terms, prompt-injection phrasings and leaked credentials.
//! - [`pii`]: detection of the settings' PII entity types and the MASK/REDACT/BLOCK
//!   rewrite.
//! - [`answer`]: the same over a model's answer as it streams (bounded hold-back), and
//!   placeholders for masked values put back into the answer.
//! - [`scan`]: the `behest guard scan` command's logic (JSON lines in and out).

pub mod answer;
pub mod pii;
pub mod scan;
pub mod sentinel;
mod text;

pub use pii::{apply, apply_with, Detection, PiiDetector, Rewrite};
pub use sentinel::{Hit, RuleKind, Sentinel};
