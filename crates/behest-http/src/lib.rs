//! The HTTP edge both planes share: the contract's error body (built in exactly one
//! place), a JSON extractor whose errors name the field, trace ids and the request log,
//! and how a request's host or `/p/{slug}` prefix names a project.

pub mod conn;
pub mod edge;
pub mod egress;
pub mod error;
pub mod extract;
pub mod host;

pub use error::{ApiError, ApiResult, ErrorCode};
pub use extract::{bearer_token, parse_json, parse_time, parse_uuid, ApiJson, OptionalJson};
pub use host::{ProjectHint, SiteDomain};

/// The header carrying the request's trace id, on every response.
pub const TRACE_ID_HEADER: &str = "x-trace-id";
