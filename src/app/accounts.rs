//! Accounts and sessions: adding a user (argon2 hash), signing in (a random bearer token
//! kept only as its SHA-256, with an expiry), the caller behind a token, signing out.

use rand::RngExt;
use serde::Serialize;

use super::access::Caller;
use super::service::{hex, sha256_hex};
use super::{App, AppError};
use crate::domain::access::UserRole;
use crate::store::Touched;
use crate::store::UserRow;

/// A fresh login.
#[derive(Debug, Clone, Serialize)]
pub struct Login {
    pub token: String,
    pub expires_at: String,
    pub user: UserRow,
}

fn hash_password(password: &str) -> Result<String, AppError> {
    use argon2::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AppError::Invalid(format!("password: {e}")))
}

fn verify_password(password: &str, stored: &str) -> bool {
    use argon2::PasswordVerifier;
    argon2::password_hash::phc::PasswordHash::new(stored).is_ok_and(|hash| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

impl App {
    /// Adds an account. Officers must be linked to an officer on the roster.
    pub fn add_user(
        &self,
        username: &str,
        password: &str,
        role: UserRole,
        officer_id: Option<&str>,
        actor: &str,
    ) -> Result<i64, AppError> {
        let username = username.trim();
        if username.is_empty() {
            return Err(AppError::Invalid("username: must not be empty".into()));
        }
        if password.chars().count() < 8 {
            return Err(AppError::Invalid("password: at least 8 characters".into()));
        }
        if role == UserRole::Officer && officer_id.is_none() {
            return Err(AppError::Invalid(
                "officer_id: an officer account must name the officer on the roster".into(),
            ));
        }
        let hash = hash_password(password)?;
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| -> Result<i64, AppError> {
            if let Some(o) = officer_id
                && !db.officers(None)?.iter().any(|x| x.id == o)
            {
                return Err(AppError::Invalid(format!(
                    "officer_id: '{o}' is not on the roster"
                )));
            }
            let id = db.insert_user(username, &hash, role.as_str(), officer_id, &at)?;
            db.audit(
                &at,
                actor,
                "user added",
                username,
                &serde_json::json!({ "after": { "role": role, "officer_id": officer_id } }),
            )?;
            Ok(id)
        })
    }

    /// Signs in: a random bearer token, kept in the store only as its hash.
    pub fn login(&self, username: &str, password: &str) -> Result<Login, AppError> {
        let mut store = self.open_store()?;
        let found = store.read().user_by_name(username.trim())?;
        let Some((user, hash)) = found.filter(|(u, _)| !u.disabled) else {
            // Spend the same time as a real check, so a name cannot be probed.
            let _ = verify_password(password, DUMMY_HASH);
            return Err(AppError::Unauthorized("wrong username or password".into()));
        };
        if !verify_password(password, &hash) {
            return Err(AppError::Unauthorized("wrong username or password".into()));
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill(&mut bytes);
        let token = hex(&bytes);
        let now = self.clock.now_utc();
        let expires = now + chrono::Duration::hours(i64::from(self.token_hours.max(1)));
        let (at, expires_at) = (stamp(now), stamp(expires));
        // A new session changes nothing a view kept in memory shows.
        store.write_touching(|db| -> Result<((), Touched), AppError> {
            db.insert_session(&sha256_hex(token.as_bytes()), user.id, &at, &expires_at)?;
            db.audit(
                &at,
                &user.username,
                "login",
                &user.username,
                &serde_json::json!({}),
            )?;
            Ok(((), Touched::Nothing))
        })?;
        Ok(Login {
            token,
            expires_at,
            user,
        })
    }

    /// The caller a bearer token stands for, if it is live.
    pub fn caller(&self, token: &str) -> Result<Caller, AppError> {
        if let Some(caller) = self.kept_caller(token) {
            return Ok(caller);
        }
        let now = stamp(self.clock.now_utc());
        let hash = sha256_hex(token.as_bytes());
        // Read before the session: a write after this makes what is kept stale.
        let global = self.connections.generation(&self.db_path, "").global;
        let (user, expires_at) = self
            .open_store()?
            .read()
            .session_user(&hash, &now)?
            .ok_or_else(|| {
                AppError::Unauthorized("the token is unknown, expired or revoked".into())
            })?;
        let role = user
            .role
            .parse()
            .map_err(|e: String| AppError::Invalid(format!("stored role: {e}")))?;
        let caller = Caller {
            user_id: user.id,
            username: user.username,
            role,
            officer_id: user.officer_id,
        };
        self.views
            .keep_session(hash, caller.clone(), expires_at, global);
        Ok(caller)
    }

    /// The caller of a token as kept in memory, if the session is still live and nothing
    /// has been written since that could have changed it (a logout, a disabled user); no
    /// store read.
    pub fn kept_caller(&self, token: &str) -> Option<Caller> {
        let global = self.connections.generation(&self.db_path, "").global;
        self.views.session(
            &sha256_hex(token.as_bytes()),
            global,
            &stamp(self.clock.now_utc()),
        )
    }

    pub fn logout(&self, token: &str, caller: &Caller) -> Result<(), AppError> {
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| -> Result<(), AppError> {
            db.revoke_session(&sha256_hex(token.as_bytes()), &at)?;
            db.audit(
                &at,
                &caller.username,
                "logout",
                &caller.username,
                &serde_json::json!({}),
            )?;
            Ok(())
        })
    }
}

fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A valid argon2 hash of nothing anyone can type, checked against when a name is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0dDQ9t6yDDN0F2cA8e2Zb6zlEk1PY3r1WtLWeQCk7Dw";

/// Who a caller is, and the grids where they hold a post (region, grid).
#[derive(Debug, Clone, Serialize)]
pub struct Me {
    pub user: Caller,
    pub grids: Vec<(String, String)>,
}

impl App {
    /// Every account (admins).
    pub fn users(&self, caller: &Caller) -> Result<Vec<UserRow>, AppError> {
        self.require(caller, crate::domain::access::Action::ManageUsers)?;
        Ok(self.open_store()?.read().users()?)
    }

    /// The caller, and the grids where they hold a post (none for a caller with no officer).
    pub fn me(&self, caller: &Caller) -> Result<Me, AppError> {
        self.require(caller, crate::domain::access::Action::Read)?;
        let grids = match caller.officer_id.as_deref() {
            Some(officer) => self.open_store()?.read().officer_grids(officer)?,
            None => Vec::new(),
        };
        Ok(Me {
            user: caller.clone(),
            grids,
        })
    }
}
