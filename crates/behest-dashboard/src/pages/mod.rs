//! One module per dashboard area; each handler reads its inputs, calls the control
//! plane's services and renders. No rule lives here.

pub mod accounts;
pub mod admin;
pub mod keys;
pub mod model;
pub mod playground;
pub mod projects;
pub mod providers;
pub mod settings;
pub mod signing_keys;
pub mod tiers;
pub mod usage;

use crate::page::PageError;
use behest_control::ControlError;
use serde::Deserialize;
use uuid::Uuid;

/// `?done=...`: what the action before the redirect did, for the status line.
#[derive(Debug, Default, Deserialize)]
pub struct Done {
    pub done: Option<String>,
}

/// The status line of each `done` code; unknown codes show nothing (the query string is
/// not echoed into the page).
pub fn done_message(done: &Done) -> Option<&'static str> {
    Some(match done.done.as_deref()? {
        "saved" => "Draft saved. It is not live until you deploy it.",
        "deployed" => "Deployed: live traffic now uses these settings.",
        "discarded" => "Draft discarded: the form shows what is deployed.",
        "revoked" => "Key revoked.",
        "suspended" => "Project suspended.",
        "retried" => "DNS provisioning restarted.",
        "tier-saved" => "Tier saved to the draft; deploy the settings to make it live.",
        "tier-deleted" => "Tier removed from the draft; deploy the settings to make it live.",
        "model-draft" => "Model draft saved; publish it to make it live.",
        "model-published" => "Model published: live traffic uses it now.",
        "model-live" => "Model set live.",
        "model-discarded" => "Model draft discarded.",
        "key-saved" => "Provider key saved.",
        "key-removed" => "Provider key removed.",
        "switched" => "Kill switch changed.",
        _ => return None,
    })
}

/// An id from the path; a malformed one is "not found", like an id of another tenant.
pub fn parse_id(raw: &str) -> Result<Uuid, PageError> {
    raw.parse::<Uuid>()
        .map_err(|_| PageError::Control(ControlError::not_found("not found")))
}
