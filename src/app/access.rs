//! Who may do what, checked in one place: the caller of a use case (a signed-in user, or
//! the command line), and the checks every use case runs first: the role against
//! [`crate::domain::access`], and for officers the grid scope (only businesses in grids
//! where they hold a post, only their own tasks).

use std::sync::Arc;

use serde::Serialize;

use super::views::OfficerFacts;
use super::{App, AppError};
use crate::domain::access::{Action, UserRole, allowed, grid_scoped};
use crate::domain::entity::EntityId;
use crate::store::Db;

/// Who is calling: a signed-in user, or the command line ([`Caller::command_line`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub user_id: i64,
    pub username: String,
    pub role: UserRole,
    pub officer_id: Option<String>,
}

impl Caller {
    /// The command line's caller. Whoever can run gridpatrol against the database file may
    /// do everything; the audit log names them `cli:<name>` (the `--by`/`--actor` flag, or
    /// `cli` alone).
    pub fn command_line(name: &str) -> Caller {
        let username = if name.is_empty() || name == "cli" {
            "cli".to_owned()
        } else if name.starts_with("cli:") {
            name.to_owned()
        } else {
            format!("cli:{name}")
        };
        Caller {
            user_id: 0,
            username,
            role: UserRole::Admin,
            officer_id: None,
        }
    }

    /// The scheduled jobs' caller (nightly re-plan, escalation, snapshots): may do
    /// everything a job does; the audit log names it `scheduler`.
    pub fn scheduler() -> Caller {
        Caller {
            user_id: 0,
            username: "scheduler".to_owned(),
            role: UserRole::Admin,
            officer_id: None,
        }
    }
}

impl App {
    /// Refuses an action the caller's role does not allow.
    pub fn require(&self, caller: &Caller, action: Action) -> Result<(), AppError> {
        if allowed(caller.role, action) {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "a {} may not do this",
                caller.role
            )))
        }
    }

    /// Refuses an action on a business outside the caller's grids (for officers).
    pub fn require_entity(
        &self,
        caller: &Caller,
        entity_id: &str,
        action: Action,
    ) -> Result<(), AppError> {
        self.require(caller, action)?;
        if !grid_scoped(caller.role) {
            return Ok(());
        }
        let id = EntityId::parse(entity_id).map_err(|e| AppError::Invalid(format!("id: {e}")))?;
        self.require_covered(&self.open_store()?.read(), caller, &id)
    }

    /// Refuses a business that does not exist, or (for an officer) one outside the grids
    /// where the caller holds a post.
    fn require_covered(&self, db: &Db<'_>, caller: &Caller, id: &EntityId) -> Result<(), AppError> {
        let (region, unit) = db
            .entity_unit(id)?
            .ok_or_else(|| crate::store::StoreError::NotFound(format!("business '{id}'")))?;
        self.require_unit_covered(db, caller, id, region, unit)
    }

    /// [`App::require_covered`] for a business whose unit was read.
    pub(super) fn require_unit_covered(
        &self,
        db: &Db<'_>,
        caller: &Caller,
        id: &EntityId,
        region: String,
        unit: Option<String>,
    ) -> Result<(), AppError> {
        if !grid_scoped(caller.role) {
            return Ok(());
        }
        let covered = match (caller.officer_id.as_deref(), unit) {
            (Some(officer), Some(unit)) => self
                .officer_facts(db, officer)?
                .units
                .contains(&(region, unit)),
            _ => false,
        };
        if covered {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "business {id} is not in a grid where you hold a post"
            )))
        }
    }

    /// What the checks read about an officer (roster entry, the units of their grids), as
    /// kept in memory while nothing has been written that could change it.
    pub(super) fn officer_facts(
        &self,
        db: &Db<'_>,
        officer_id: &str,
    ) -> Result<Arc<OfficerFacts>, AppError> {
        // Read before the facts: a write after this makes what is kept stale.
        let global = self.connections.generation(&self.db_path, "").global;
        if let Some(facts) = self.views.officer(officer_id, global) {
            return Ok(facts);
        }
        let facts = Arc::new(OfficerFacts {
            certified: db
                .officers_by_ids(&[officer_id.to_owned()])?
                .first()
                .map(|o| o.certified),
            units: db.officer_units(officer_id)?,
            global,
        });
        self.views.keep_officer(officer_id, Arc::clone(&facts));
        Ok(facts)
    }

    /// Refuses an officer another officer's data.
    pub fn require_officer(&self, caller: &Caller, officer_id: &str) -> Result<(), AppError> {
        self.require(caller, Action::Read)?;
        if grid_scoped(caller.role) && caller.officer_id.as_deref() != Some(officer_id) {
            return Err(AppError::Forbidden(
                "an officer sees only their own tasks".into(),
            ));
        }
        Ok(())
    }
}
