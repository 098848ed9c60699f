//! The small enums of the domain, each with its one wire spelling.

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name {
            $(#[serde(rename = $wire)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The spelling used on the wire and in the store.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::model::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    _ => Err($crate::model::UnknownVariant { kind: stringify!($name), value: s.to_owned() }),
                }
            }
        }
    };
}

pub(crate) use wire_enum;

/// A string that names no variant of an enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

wire_enum!(
    /// A tenant's plan: what it may do and how many projects it may run.
    Plan { Free => "free", Pro => "pro" }
);

impl Plan {
    /// How many active projects the plan allows; `None` is unlimited.
    pub fn active_project_limit(self) -> Option<i64> {
        match self {
            Plan::Free => Some(3),
            Plan::Pro => None,
        }
    }
}

wire_enum!(
    /// The role carried by an API key and by the tokens it mints. Ordered: a key may
    /// mint tokens of its own role or a lower one.
    Role { User => "user", DashboardService => "dashboard-service", Admin => "admin" }
);

impl Role {
    fn rank(self) -> u8 {
        match self {
            Role::User => 0,
            Role::DashboardService => 1,
            Role::Admin => 2,
        }
    }

    /// Whether a credential holding `self` may hand out `other`.
    pub fn may_grant(self, other: Role) -> bool {
        other.rank() <= self.rank()
    }
}

wire_enum!(
    /// Whether a project serves traffic.
    ProjectStatus { Active => "active", Suspended => "suspended" }
);

wire_enum!(
    /// Where the project's DNS records stand.
    DnsStatus { Pending => "PENDING", Ready => "READY", Failed => "FAILED" }
);

wire_enum!(
    /// A dashboard user's standing in a tenant.
    MemberRole { Owner => "owner", Member => "member" }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_grant_only_downwards() {
        assert!(Role::Admin.may_grant(Role::User));
        assert!(Role::Admin.may_grant(Role::DashboardService));
        assert!(Role::DashboardService.may_grant(Role::User));
        assert!(Role::User.may_grant(Role::User));
        assert!(!Role::User.may_grant(Role::DashboardService));
        assert!(!Role::DashboardService.may_grant(Role::Admin));
    }

    #[test]
    fn wire_spellings_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(*role));
        }
        assert_eq!(
            serde_json::to_string(&DnsStatus::Ready).unwrap(),
            "\"READY\""
        );
        assert!("superuser".parse::<Role>().is_err());
    }

    #[test]
    fn free_plan_allows_three_projects() {
        assert_eq!(Plan::Free.active_project_limit(), Some(3));
        assert_eq!(Plan::Pro.active_project_limit(), None);
    }
}
