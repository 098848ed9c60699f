//! Domain types and rules shared by every Behest crate. No I/O lives here: only the
//! vocabulary (plans, roles, statuses), the rules that are pure functions of their input
//! (slug format, reserved user ids, mint validation) and the defaults of the seed.

pub mod mint;
pub mod model;
pub mod settings;
pub mod slug;

pub use model::{DnsStatus, MemberRole, Plan, ProjectStatus, Role};
