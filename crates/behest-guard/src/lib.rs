//! Sentinel and PII: pure functions over text (no I/O), built once per policy and
//! shared by every request.
