//! Accounts in the store: users with a password hash and a role, sessions kept only as the
//! hash of their token, idempotency keys of submits, and the grids an officer may touch.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Db, Result, StoreError};

/// A user as the service sees them (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub officer_id: Option<String>,
    pub disabled: bool,
}

/// A stored answer to a submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub request_hash: String,
    pub status: u16,
    pub body: String,
}

/// A user (the first five columns) and one text beside it (the sixth).
fn user_and_text(r: &rusqlite::Row<'_>) -> rusqlite::Result<(UserRow, String)> {
    Ok((
        UserRow {
            id: r.get(0)?,
            username: r.get(1)?,
            role: r.get(2)?,
            officer_id: r.get(3)?,
            disabled: r.get(4)?,
        },
        r.get(5)?,
    ))
}

impl Db<'_> {
    pub fn insert_user(
        &self,
        username: &str,
        password_hash: &str,
        role: &str,
        officer_id: Option<&str>,
        at: &str,
    ) -> Result<i64> {
        if self.user_by_name(username)?.is_some() {
            return Err(StoreError::Conflict(format!(
                "user '{username}' already exists"
            )));
        }
        self.exec(
            "INSERT INTO users (username, password_hash, role, officer_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![username, password_hash, role, officer_id, at],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// A user and their password hash, by name.
    pub fn user_by_name(&self, username: &str) -> Result<Option<(UserRow, String)>> {
        Ok(self.row(
                "SELECT id, username, role, officer_id, disabled_at IS NOT NULL, password_hash FROM users WHERE username = ?1",
                [username],
                user_and_text,
            )
            .optional()?)
    }

    pub fn users(&self) -> Result<Vec<UserRow>> {
        Ok(self.conn.prepare_cached("SELECT id, username, role, officer_id, disabled_at IS NOT NULL FROM users ORDER BY username")?
            .query_map([], |r| {
                Ok(UserRow {
                    id: r.get(0)?,
                    username: r.get(1)?,
                    role: r.get(2)?,
                    officer_id: r.get(3)?,
                    disabled: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    pub fn insert_session(
        &self,
        token_hash: &str,
        user_id: i64,
        at: &str,
        expires_at: &str,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![token_hash, user_id, at, expires_at],
        )?;
        Ok(())
    }

    /// The user of a live session (not revoked, not expired at `now`, user not disabled) and
    /// when the session ends.
    pub fn session_user(&self, token_hash: &str, now: &str) -> Result<Option<(UserRow, String)>> {
        Ok(self
            .row(
                "SELECT u.id, u.username, u.role, u.officer_id, u.disabled_at IS NOT NULL, s.expires_at
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2
                   AND u.disabled_at IS NULL",
                params![token_hash, now],
                user_and_text,
            )
            .optional()?)
    }

    pub fn revoke_session(&self, token_hash: &str, at: &str) -> Result<bool> {
        Ok(self.exec(
            "UPDATE sessions SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
            params![token_hash, at],
        )? == 1)
    }

    pub fn stored_response(&self, user_id: i64, key: &str) -> Result<Option<StoredResponse>> {
        Ok(self.row(
                "SELECT request_hash, status, response FROM idempotency WHERE user_id = ?1 AND key = ?2",
                params![user_id, key],
                |r| {
                    Ok(StoredResponse {
                        request_hash: r.get(0)?,
                        status: r.get(1)?,
                        body: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn store_response(
        &self,
        user_id: i64,
        key: &str,
        response: &StoredResponse,
        at: &str,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO idempotency (user_id, key, request_hash, status, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![user_id, key, response.request_hash, response.status, response.body, at],
        )?;
        Ok(())
    }

    /// The units (region code, unit code) of every grid, of a plan not retired, where an
    /// officer holds an open post: the businesses they may see and record.
    pub fn officer_units(&self, officer_id: &str) -> Result<HashSet<(String, String)>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT DISTINCT gu.region_code, gu.unit_code FROM posts p
                 JOIN grids g ON g.id = p.grid_id
                 JOIN grid_plans gp ON gp.region_code = g.region_code AND gp.version = g.plan_version AND gp.status != 'retired'
                 JOIN grid_units gu ON gu.grid_id = g.id
                 WHERE p.officer_id = ?1 AND p.until IS NULL",
            )?
            .query_map([officer_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// The grid codes where an officer holds an open post, per region.
    pub fn officer_grids(&self, officer_id: &str) -> Result<Vec<(String, String)>> {
        Ok(self.conn.prepare_cached(
                "SELECT DISTINCT g.region_code, g.code FROM posts p JOIN grids g ON g.id = p.grid_id
                 JOIN grid_plans gp ON gp.region_code = g.region_code AND gp.version = g.plan_version AND gp.status != 'retired'
                 WHERE p.officer_id = ?1 AND p.until IS NULL ORDER BY 1, 2",
            )?
            .query_map([officer_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }
}
