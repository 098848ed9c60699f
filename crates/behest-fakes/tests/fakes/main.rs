//! Integration tests: start the fake server and talk to it over HTTP with reqwest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod anthropic;
mod cohere;
mod common;
mod gemini;
mod openai;
mod server;
