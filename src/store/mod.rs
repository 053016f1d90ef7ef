//! The SQLite store: the only module that speaks SQL. Opens connections with the right
//! PRAGMAs, migrates the schema, and offers typed reads and writes in transactions; owns its
//! plumbing (the pool, the writing connection with group commit, the syncer and the
//! checkpointer) behind [`Database`], the interface the application layer uses.

mod accounts;
mod businesses;
mod checkpointer;
mod database;
mod grids;
pub mod migrations;
mod posts;
mod region;
mod report;
mod schedule;
mod syncer;
mod tasks;
mod visits;
mod writer;

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

pub use accounts::{StoredResponse, UserRow};
pub use businesses::{
    BusinessFilter, BusinessForVisit, BusinessLine, BusinessRow, BusinessSearch, EntityView,
    HistoryRow, InspectionRows, OverrideRow, StoredClass, Summary,
};
pub use database::{Database, Generation, PooledStore, Touched};
pub use grids::{GridRow, PlanRow};
pub use migrations::{MIGRATIONS, Migration};
pub use report::{Clears, ReportFacts, TaskLine};
pub use schedule::{AreaRow, Escalation, GridStats, OpenTask, OpenTaskCursor, PeriodStats};
pub use tasks::{NewTask, TaskRow};
pub use visits::{AuditRow, CampaignRow, ExtraLink, NewVisit, PlacedBusiness, Satisfied};

/// The names scheduled runs are recorded under in `job_runs`: the scheduler (`jobs`)
/// records them, and the app reads the last nightly re-classification's summary.
pub mod job_names {
    pub const NIGHTLY_RECLASSIFY: &str = "nightly-reclassify";
    pub const NIGHTLY_REPLAN: &str = "nightly-replan";
    pub const OVERDUE_ESCALATION: &str = "overdue-escalation";
    pub const DEKAD_SNAPSHOT: &str = "dekad-snapshot";
    pub const MONTHLY_SNAPSHOT: &str = "monthly-snapshot";
}

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
    /// A value could not be written as JSON (a bug, never the caller's input).
    #[error("{0}")]
    Json(String),
    #[error("the write was not committed: {0}")]
    NotCommitted(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A database's write-ahead log, opened on its own to be synced (see
/// [`Store::defer_commit_sync`]).
#[derive(Debug)]
struct WalFile {
    path: std::path::PathBuf,
    file: Option<std::fs::File>,
}

impl WalFile {
    /// Makes everything written to the WAL before the call durable (`fdatasync`). SQLite
    /// keeps one WAL file while a connection is open; should the file at the path not be
    /// the one held (the last connection closed and another made it anew), it is opened
    /// again first.
    fn sync(&mut self) -> std::io::Result<()> {
        let current = std::fs::metadata(&self.path)?;
        let held = match self.file.take() {
            Some(file) if same_file(&file.metadata()?, &current) => file,
            _ => std::fs::File::open(&self.path)?,
        };
        let synced = held.sync_data();
        self.file = Some(held);
        synced
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    false // open it again each time
}

/// Removes the database at `path` and the files SQLite keeps beside it (its WAL and
/// shared-memory index); a file that is not there is no error. Only while no connection
/// to it is open.
pub fn remove_database(path: &Path) -> std::io::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

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
    // Connections live in a pool: keep the statements a request runs prepared. Without the
    // query planner stability guarantee SQLite marks a join's statement to be planned again
    // whenever its parameters are bound anew (to look at their values), so every statement
    // with a join would be parsed again on each use, cached or not.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
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

    /// The database file alone, read-only and without its WAL: what checkpoints have
    /// copied into it (to check the checkpointer). Not migrated or configured.
    #[cfg(test)]
    fn open_file_only(path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            format!("file:{}?immutable=1", path.display()),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
        )?;
        Ok(Store { conn })
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
            // Another connection may be migrating the same file: take the write lock, then
            // look again.
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let now: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if now >= migration.version {
                continue;
            }
            tx.execute_batch(migration.sql)?;
            if let Some(then) = migration.then {
                then(&tx)?;
            }
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

    /// Reads in one read transaction: every query of `work` sees the same state of the
    /// database (writers go on meanwhile, unblocked).
    pub fn read_consistent<T, E: From<StoreError>>(
        &mut self,
        work: impl FnOnce(Db<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.transaction(rusqlite::TransactionBehavior::Deferred, work)
    }

    /// Runs `work` in one transaction: committed when it returns `Ok`, rolled back (nothing
    /// written) when it returns `Err` or panics.
    pub fn write<T, E: From<StoreError>>(
        &mut self,
        work: impl FnOnce(Db<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.transaction(rusqlite::TransactionBehavior::Immediate, work)
    }

    fn transaction<T, E: From<StoreError>>(
        &mut self,
        behavior: rusqlite::TransactionBehavior,
        work: impl FnOnce(Db<'_>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        let tx = self
            .conn
            .transaction_with_behavior(behavior)
            .map_err(StoreError::from)?;
        let value = work(Db { conn: &tx })?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Opens a write transaction on this connection, taking SQLite's write lock now.
    fn begin_immediate(&self) -> Result<()> {
        self.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        Ok(())
    }

    /// Commits the open transaction.
    fn commit(&self) -> Result<()> {
        self.conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(())
    }

    /// Rolls the open transaction back.
    fn rollback(&self) -> Result<()> {
        Ok(self.conn.execute_batch("ROLLBACK")?)
    }

    /// No transaction is open (SQLite rolls one back by itself after some errors).
    fn autocommit(&self) -> bool {
        self.conn.is_autocommit()
    }

    /// Runs `work` in a savepoint of the open transaction: released when it returns `Ok`,
    /// rolled back to when it returns `Err` or panics (the panic is handed back, not
    /// resumed, so the caller can settle the transaction first).
    fn in_savepoint<T, E: From<StoreError>>(
        &mut self,
        work: impl FnOnce(Db<'_>) -> std::result::Result<T, E>,
    ) -> std::thread::Result<std::result::Result<T, E>> {
        let step = |sql: &str| -> Result<()> {
            self.conn.prepare_cached(sql)?.execute([])?;
            Ok(())
        };
        if let Err(e) = step("SAVEPOINT member") {
            return Ok(Err(e.into()));
        }
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            work(Db { conn: &self.conn })
        }));
        if self.conn.is_autocommit() {
            // The transaction is gone with the savepoint; the caller sees it.
            return out;
        }
        if matches!(out, Ok(Ok(_))) {
            if let Err(e) = step("RELEASE member") {
                return Ok(Err(e.into()));
            }
        } else if step("ROLLBACK TO member")
            .and_then(|()| step("RELEASE member"))
            .is_err()
        {
            // Cannot return to the savepoint: give the whole transaction up.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        out
    }

    /// `PRAGMA data_version`: changes when another connection commits.
    fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?)
    }

    /// Lets this connection's commits copy the WAL back into the database (SQLite's
    /// automatic checkpoint) only once it holds `pages` pages.
    fn set_autocheckpoint(&self, pages: u32) -> Result<()> {
        Ok(self
            .conn
            .execute_batch(&format!("PRAGMA wal_autocheckpoint = {pages}"))?)
    }

    /// Copies what the WAL holds back into the database, as far as no reader still needs
    /// it, without waiting for or blocking anyone (a passive checkpoint). Returns the pages
    /// in the WAL and those copied so far.
    fn checkpoint(&self) -> Result<(i64, i64)> {
        Ok(self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })?)
    }

    /// Lets this connection's commits return once their pages are in the WAL, before the
    /// WAL reaches the disk (`synchronous = NORMAL`: a crash of the machine may lose the
    /// last commits, never consistency; checkpoints still sync). Whoever acknowledges a
    /// write committed here must first [`WalFile::sync`] the file this returns, which makes
    /// every commit before the call durable: together, `synchronous = FULL` with the sync
    /// taken off the writing connection's path.
    fn defer_commit_sync(&self) -> Result<WalFile> {
        let db = match self.conn.path() {
            Some(db) if !db.is_empty() => db.to_owned(),
            _ => {
                return Err(StoreError::NotCommitted(
                    "an in-memory database has no WAL to sync".into(),
                ));
            }
        };
        self.conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        Ok(WalFile {
            path: std::path::PathBuf::from(format!("{db}-wal")),
            file: None,
        })
    }

    /// Sets this connection's page cache to `kib` KiB.
    fn set_cache_kib(&self, kib: i64) -> Result<()> {
        Ok(self
            .conn
            .execute_batch(&format!("PRAGMA cache_size = -{kib}"))?)
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
    /// Any SQL, for tests that need to put the connection in a state no use case does.
    #[cfg(test)]
    pub(crate) fn execute_batch_for_tests(&self, sql: &str) -> Result<()> {
        Ok(self.conn.execute_batch(sql)?)
    }

    /// Runs one statement, prepared once per connection (the statement cache).
    fn exec(&self, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
        self.conn.prepare_cached(sql)?.execute(params)
    }

    /// Reads one row, the statement prepared once per connection.
    fn row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.conn.prepare_cached(sql)?.query_row(params, f)
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

    /// Appends to the audit log.
    pub fn audit(
        &self,
        at: &str,
        actor: &str,
        action: &str,
        subject: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        self.audit_text(at, actor, action, subject, &detail.to_string())
    }

    /// [`Db::audit`] with the detail already written as JSON text.
    pub fn audit_text(
        &self,
        at: &str,
        actor: &str,
        action: &str,
        subject: &str,
        detail: &str,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![at, actor, action, subject, detail],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection whose commits leave the sync to its caller runs at `synchronous =
    /// NORMAL` and hands back its WAL, which syncs the file at the path even after it was
    /// made anew, and says so when there is none; an in-memory database has none to sync.
    #[test]
    fn a_deferred_sync_syncs_the_wal_at_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let store = Store::open(&path).unwrap();
        let mut wal = store.defer_commit_sync().unwrap();
        let synchronous: i64 = store
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(synchronous, 1, "NORMAL");
        store
            .conn
            .execute_batch("CREATE TABLE t (x INTEGER)")
            .unwrap();
        wal.sync().unwrap();
        let wal_path = dir.path().join("w.db-wal");
        drop(store);
        assert!(!wal_path.exists(), "the last connection removes the WAL");
        assert_eq!(wal.sync().unwrap_err().kind(), std::io::ErrorKind::NotFound);
        let store = Store::open(&path).unwrap();
        store
            .conn
            .execute_batch("INSERT INTO t VALUES (1)")
            .unwrap();
        wal.sync().unwrap();
        // The file made anew is the one held now.
        let held = wal.file.as_ref().unwrap().metadata().unwrap();
        assert!(same_file(&held, &std::fs::metadata(&wal_path).unwrap()));
        assert!(
            Store::open_in_memory()
                .unwrap()
                .defer_commit_sync()
                .is_err()
        );
    }

    #[test]
    fn a_cached_join_is_not_planned_again_on_each_use() {
        let store = Store::open_in_memory().unwrap();
        let sql = "SELECT count(*) FROM tasks t JOIN businesses b ON b.id = t.entity_id
                   WHERE t.officer_id = ?1 AND b.class = ?2";
        for officer in ["O1", "O2", "O3"] {
            let mut stmt = store.conn.prepare_cached(sql).unwrap();
            let n: i64 = stmt.query_row([officer, "A"], |r| r.get(0)).unwrap();
            assert_eq!(n, 0);
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "the statement was parsed again"
            );
        }
    }

    /// The writes of a recorded visit build no temporary b-tree per row (SQLite builds one
    /// for a `CHECK (x IN (…))` of more than two constants), and the rewritten checks still
    /// refuse what they refused.
    #[test]
    fn the_writes_of_a_visit_build_no_temporary_table_and_checks_still_hold() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let store = Store::open(&path).unwrap();
        let ephemeral = |sql: &str, n: usize| -> usize {
            let mut stmt = store.conn.prepare(&format!("EXPLAIN {sql}")).unwrap();
            let params: Vec<rusqlite::types::Null> = vec![rusqlite::types::Null; n];
            stmt.query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(1)
            })
            .unwrap()
            .filter(|op| matches!(op.as_deref(), Ok("OpenEphemeral" | "SorterOpen")))
            .count()
        };
        // No table keeps such a check (a later migration adding one would fail here).
        let tables: Vec<(String, String)> = store
            .conn
            .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql IS NOT NULL")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for (name, sql) in &tables {
            assert_eq!(&migrations::expand_in_checks(sql), sql, "{name}");
        }
        for (sql, n) in [
            (
                "INSERT INTO inspections (entity_id, date, officer_id, kind, outcome, source) VALUES (?1, ?2, ?3, ?4, ?5, 'app')",
                5,
            ),
            (
                "UPDATE tasks SET status = 'done', inspection_id = ?2 WHERE id = ?1 AND status = 'open'",
                2,
            ),
            (
                "INSERT INTO class_history (entity_id, at, as_of, from_class, to_class, reasons, cause) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                7,
            ),
            // The read of every visit: no sorting either.
            (visits::OPEN_TASKS_OF_BUSINESS, 1),
        ] {
            assert_eq!(ephemeral(sql, n), 0, "{sql}");
        }
        // Another connection sees the same schema (the schema version moved with it).
        drop(store);
        let store = Store::open(&path).unwrap();
        store
            .conn
            .execute_batch(
                "PRAGMA foreign_keys = OFF;
                 INSERT INTO inspections (entity_id, date, kind, outcome, source) VALUES ('x', '2026-01-01', 'routine', 'ok', 'app');",
            )
            .unwrap();
        for (column, value) in [("kind", "visit"), ("outcome", "fine"), ("source", "web")] {
            let mut row = ["'routine'", "'ok'", "'app'"];
            let at = ["kind", "outcome", "source"]
                .iter()
                .position(|c| *c == column)
                .unwrap();
            let bad = format!("'{value}'");
            row[at] = &bad;
            let err = store
                .conn
                .execute_batch(&format!(
                    "INSERT INTO inspections (entity_id, date, kind, outcome, source) VALUES ('x', '2026-01-02', {}, {}, {})",
                    row[0], row[1], row[2]
                ))
                .unwrap_err();
            assert!(
                err.to_string().contains("CHECK constraint failed"),
                "{column}: {err}"
            );
        }
        let check: String = store
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
}
