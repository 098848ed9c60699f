//! The control plane: dashboard accounts, tenants, projects, API keys, token minting,
//! signing keys, settings and tiers, health and the JWKS — everything under `/auth/v1`,
//! plus the mint route the SDKs call on a project host (`/v1/auth/mint`).
//!
//! [`service`] holds every business rule as plain functions over an [`Actor`]; [`http`]
//! is a thin layer of handlers over them. The control plane reads and writes the store
//! and builds the live image ([`image`]) the data plane serves from; it is never on the
//! data plane's hot path.

pub mod error;
pub mod http;
pub mod image;
mod input;
pub mod passwords;
pub mod platform_keys;
pub mod provisioning;
pub mod recent;
pub mod service;
pub mod sign_in_limits;
mod state;
pub mod views;

pub use error::{ControlError, ControlResult};
pub use http::routes;
pub use service::Actor;
pub use state::{
    ChangeFeed, ControlConfig, ControlState, NoChangeFeed, ObjectLimits, ProviderAccess,
};
