//! Who may do what: the four roles of the service and the actions they are allowed. The
//! grid scope of an officer (only businesses and tasks in grids where they hold a post) is
//! checked against the store by the app; this is the role half of the rule.

use serde::{Deserialize, Serialize};

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRole {
    /// Manages accounts; may do everything.
    Admin,
    /// Manages grids, plans, posts, campaigns, draws and overrides; records leads.
    BureauHead,
    /// Reads everything, changes nothing.
    Manager,
    /// Sees and changes only businesses and tasks in the grids where they hold a post.
    Officer,
}

impl UserRole {
    pub const ALL: [UserRole; 4] = [
        UserRole::Admin,
        UserRole::BureauHead,
        UserRole::Manager,
        UserRole::Officer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::BureauHead => "bureau_head",
            UserRole::Manager => "manager",
            UserRole::Officer => "officer",
        }
    }
}

impl std::str::FromStr for UserRole {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        UserRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("'{s}' is not a role (admin, bureau_head, manager or officer)"))
    }
}

impl std::fmt::Display for UserRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read the register, plans, tasks and reports (officers: within their grids).
    Read,
    /// Read the audit log.
    ReadAudit,
    /// Read reports over whole regions (coverage, the three clears).
    ReadReports,
    /// Record a visit, a complaint or a finding (officers: within their grids).
    Record,
    /// Draft, edit, approve and publish grid plans; run assignments; edit the roster.
    ManageGrids,
    /// Campaigns, random draws and class overrides.
    ManageInspections,
    /// Create and disable accounts.
    ManageUsers,
}

/// Whether a role may take an action at all.
pub fn allowed(role: UserRole, action: Action) -> bool {
    use Action::*;
    match role {
        UserRole::Admin => true,
        UserRole::BureauHead => !matches!(action, ManageUsers),
        UserRole::Manager => matches!(action, Read | ReadReports),
        UserRole::Officer => matches!(action, Read | Record),
    }
}

/// Whether the role's reads and writes are limited to the grids where the user holds a post.
pub fn grid_scoped(role: UserRole) -> bool {
    role == UserRole::Officer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managers_change_nothing_and_only_admins_manage_users() {
        for action in [
            Action::Record,
            Action::ManageGrids,
            Action::ManageInspections,
            Action::ManageUsers,
            Action::ReadAudit,
        ] {
            assert!(!allowed(UserRole::Manager, action), "{action:?}");
        }
        assert!(allowed(UserRole::Manager, Action::Read));
        assert!(allowed(UserRole::Admin, Action::ManageUsers));
        assert!(!allowed(UserRole::BureauHead, Action::ManageUsers));
        assert!(allowed(UserRole::BureauHead, Action::ReadAudit));
        assert!(!allowed(UserRole::Officer, Action::ReadAudit));
        assert!(!allowed(UserRole::Officer, Action::ManageGrids));
        for role in UserRole::ALL {
            assert_eq!(role.as_str().parse::<UserRole>(), Ok(role));
        }
    }
}
