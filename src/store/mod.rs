//! The SQLite store: the only module that speaks SQL. Opens connections with the right
//! PRAGMAs, migrates the schema, and offers typed reads and writes in transactions.

mod accounts;
mod grids;
pub mod migrations;
mod posts;
mod region;
mod register;
mod report;
mod schedule;
mod tasks;
mod visits;

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

pub use accounts::{StoredResponse, UserRow};
pub use grids::{GridRow, PlanRow};
pub use migrations::{MIGRATIONS, Migration};
pub use register::{
    BusinessFilter, BusinessLine, BusinessRow, BusinessSearch, EntityView, HistoryRow, OverrideRow,
    StoredClass, Summary,
};
pub use report::{Clears, ReportFacts, TaskLine};
pub use schedule::{AreaRow, Escalation, GridStats, OpenTask, PeriodStats};
pub use tasks::{NewTask, TaskRow};
pub use visits::{AuditRow, CampaignRow, ExtraLink, NewVisit};

/// Store errors; the HTTP layer maps them to status codes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(
        "the database is at schema version {found}, newer than this gridpatrol knows ({known}); upgrade gridpatrol"
    )]
    TooNew { found: u32, known: u32 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A connection to a gridpatrol database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
}

/// Per-connection settings: write-ahead log (readers never block the writer), foreign keys
/// enforced, a busy timeout instead of instant `SQLITE_BUSY`, and full sync so that an
/// acknowledged transaction survives a crash.
fn configure(conn: &Connection) -> Result<()> {
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if mode != "wal" && mode != "memory" {
        return Err(StoreError::Corrupt(format!(
            "journal_mode WAL refused (got {mode})"
        )));
    }
    conn.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL;",
    )?;
    // Connections live in a pool: keep the statements a request runs prepared.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(())
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path)?;
        configure(&conn)?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    /// An in-memory database, for unit tests of queries.
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        configure(&conn)?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    pub fn schema_version(&self) -> Result<u32> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Applies every migration newer than the database, each in its own transaction.
    pub fn migrate(&mut self) -> Result<()> {
        let current = self.schema_version()?;
        let known = MIGRATIONS.last().map_or(0, |m| m.version);
        if current > known {
            return Err(StoreError::TooNew {
                found: current,
                known,
            });
        }
        for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(migration.sql)?;
            tx.pragma_update(None, "user_version", migration.version)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// A pragma's value as text (tests check the connection settings with it).
    pub fn pragma(&self, name: &str) -> Result<String> {
        let value: rusqlite::types::Value =
            self.conn
                .query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?;
        Ok(match value {
            rusqlite::types::Value::Integer(i) => i.to_string(),
            rusqlite::types::Value::Text(t) => t,
            other => format!("{other:?}"),
        })
    }

    /// Every row of every table, as text, in a fixed order: tests compare databases with it.
    pub fn dump(&self) -> Result<Vec<String>> {
        let mut tables: Vec<String> = self
            .conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        tables.retain(|t| !t.starts_with("sqlite_"));
        let mut out = Vec::new();
        for table in tables {
            let mut stmt = self
                .conn
                .prepare(&format!("SELECT * FROM \"{table}\" ORDER BY 1, 2"))?;
            let n = stmt.column_count();
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let mut line = format!("{table}:");
                for i in 0..n {
                    let v: rusqlite::types::Value = row.get(i)?;
                    line.push_str(&format!(" {v:?}"));
                }
                out.push(line);
            }
        }
        Ok(out)
    }

    /// The names of the tables, for tests of the schema.
    pub fn tables(&self) -> Result<Vec<String>> {
        Ok(self
            .conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Reads outside a transaction.
    pub fn read(&self) -> Db<'_> {
        Db { conn: &self.conn }
    }

    /// Runs `work` in one transaction: committed when it returns `Ok`, rolled back (nothing
    /// written) when it returns `Err` or panics.
    pub fn write<T, E: From<StoreError>>(
        &mut self,
        work: impl FnOnce(Db<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        let value = work(Db { conn: &tx })?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// The last time a job ran for a schedule slot.
    pub fn last_job_run(&self, job: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT scheduled_for FROM job_runs WHERE job = ?1 AND finished_at IS NOT NULL ORDER BY scheduled_for DESC LIMIT 1",
                [job],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The summary of the last finished run of a job.
    pub fn last_job_summary(&self, job: &str) -> Result<Option<serde_json::Value>> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT summary FROM job_runs WHERE job = ?1 AND finished_at IS NOT NULL ORDER BY scheduled_for DESC LIMIT 1",
                [job],
                |r| r.get(0),
            )
            .optional()?;
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    pub fn record_job_run(
        &self,
        job: &str,
        scheduled_for: &str,
        started_at: &str,
        finished_at: &str,
        summary: &serde_json::Value,
    ) -> Result<()> {
        self.read()
            .record_job_run(job, scheduled_for, started_at, finished_at, summary)
    }
}

/// Typed queries on a connection or inside a transaction.
#[derive(Clone, Copy)]
pub struct Db<'c> {
    conn: &'c Connection,
}

impl std::fmt::Debug for Db<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db")
    }
}

impl Db<'_> {
    /// Appends to the audit log.
    pub fn audit(
        &self,
        at: &str,
        actor: &str,
        action: &str,
        subject: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![at, actor, action, subject, detail.to_string()],
        )?;
        Ok(())
    }
}
