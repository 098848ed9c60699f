//! Kill switches: the operator's stop for everything, one tenant, or one project. A
//! switched-off scope answers 503 `kill_switch` on every gateway process, streams already
//! running included.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

/// What one switch covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "scope", content = "id", rename_all = "lowercase")]
pub enum KillScope {
    Global,
    Tenant(Uuid),
    Project(Uuid),
}

impl KillScope {
    /// The scope's name, as the admin API and the store spell it.
    pub fn name(self) -> &'static str {
        match self {
            KillScope::Global => "global",
            KillScope::Tenant(_) => "tenant",
            KillScope::Project(_) => "project",
        }
    }

    /// The id the switch is about (`None` for the global one).
    pub fn target(self) -> Option<Uuid> {
        match self {
            KillScope::Global => None,
            KillScope::Tenant(id) | KillScope::Project(id) => Some(id),
        }
    }

    /// Back from the store's (scope, target) columns.
    pub fn from_parts(scope: &str, target: Option<Uuid>) -> Option<KillScope> {
        match (scope, target) {
            ("global", None) => Some(KillScope::Global),
            ("tenant", Some(id)) => Some(KillScope::Tenant(id)),
            ("project", Some(id)) => Some(KillScope::Project(id)),
            _ => None,
        }
    }
}

/// Every switch that is on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitches {
    pub global: bool,
    pub tenants: BTreeSet<Uuid>,
    pub projects: BTreeSet<Uuid>,
}

impl KillSwitches {
    pub fn from_scopes(scopes: impl IntoIterator<Item = KillScope>) -> KillSwitches {
        let mut out = KillSwitches::default();
        for scope in scopes {
            match scope {
                KillScope::Global => out.global = true,
                KillScope::Tenant(id) => {
                    out.tenants.insert(id);
                }
                KillScope::Project(id) => {
                    out.projects.insert(id);
                }
            }
        }
        out
    }

    /// The switch that stops a project of a tenant, if any is on.
    pub fn stopping(&self, tenant: Uuid, project: Uuid) -> Option<KillScope> {
        if self.global {
            Some(KillScope::Global)
        } else if self.tenants.contains(&tenant) {
            Some(KillScope::Tenant(tenant))
        } else if self.projects.contains(&project) {
            Some(KillScope::Project(project))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_widest_switch_wins_and_others_stay_untouched() {
        let (t1, t2, p1, p2) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let switches = KillSwitches::from_scopes([KillScope::Project(p1)]);
        assert_eq!(switches.stopping(t1, p1), Some(KillScope::Project(p1)));
        assert_eq!(switches.stopping(t1, p2), None);
        let switches = KillSwitches::from_scopes([KillScope::Tenant(t2), KillScope::Project(p1)]);
        assert_eq!(switches.stopping(t2, p1), Some(KillScope::Tenant(t2)));
        let all = KillSwitches::from_scopes([KillScope::Global]);
        assert_eq!(all.stopping(t1, p2), Some(KillScope::Global));
        for scope in [
            KillScope::Global,
            KillScope::Tenant(t1),
            KillScope::Project(p1),
        ] {
            assert_eq!(
                KillScope::from_parts(scope.name(), scope.target()),
                Some(scope)
            );
        }
        assert_eq!(KillScope::from_parts("tenant", None), None);
    }
}
