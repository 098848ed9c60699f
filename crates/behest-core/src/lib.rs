//! Domain types and rules shared by every Behest crate. No I/O lives here: only the
//! vocabulary (plans, roles, statuses, error codes), the rules that are pure functions
//! of their input (slug format, reserved user ids, mint validation, settings
//! validation and the one tier merge), the typed policy snapshot live traffic runs on,
//! and the shape of the live image the planes exchange.

pub mod error;
pub mod image;
pub mod keys;
pub mod killswitch;
pub mod memory;
pub mod mint;
pub mod model;
pub mod policy;
pub mod settings;
pub mod slug;
pub mod usage;

pub use error::{ErrorCode, LogLevel};
pub use model::{DnsStatus, MemberRole, Plan, ProjectStatus, Role};
