//! [`Database`]: the one interface through which the application layer reaches its data,
//! and the pool of connections behind it. The application knows locations, reads, writes
//! and generations; how they are made durable and kept fast (the writing connection and
//! its group commit in [`super::writer`], the syncer in [`super::syncer`], the
//! checkpointer in [`super::checkpointer`]) stays in the store.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use super::checkpointer::Checkpoints;
use super::writer::{Job, Writer};
use super::{Db, Store, StoreError};

/// The most idle connections kept.
const MAX_IDLE: usize = 64;

/// How often a reader asks whether another process wrote.
pub(super) const OUTSIDE_CHECK: Duration = Duration::from_millis(200);

/// The application's database: what the application layer uses, and all it knows, of the
/// store that keeps its data. This is the interface the PostgreSQL store will implement,
/// with the same methods and the same contract; this one is SQLite's, a pool of connections
/// to database files shared by every clone of the app.
///
/// The contract:
///
/// * **A location names a database** (here a file path); every method takes one, so one
///   `Database` serves any number of them. [`Database::open`] lends a connection to it
///   (made, configured and migrated on first use); reads on it ([`Store::read`],
///   [`Store::read_consistent`]) see every write answered before they began.
/// * **A write is one transaction's worth of work**, whole or not at all:
///   [`PooledStore::write`] and [`PooledStore::write_touching`] on the caller's thread,
///   [`Database::queue`] without a thread of the caller's waiting (an owned closure, for
///   the hottest writes). The work gets a [`super::Db`] to query and write through.
/// * **A write is answered `Ok` only once it is committed and durable**: a crash of the
///   machine after the answer cannot lose it. Writes at the same moment may share one
///   commit, never one another's failure: a write whose work fails or panics leaves nothing
///   behind and does not disturb the others. An `Err` is either the work's own error
///   (nothing written) or a commit that could not be made durable (it may be visible; every
///   generation moves, see below).
/// * **A generation says whether what a view shows may have changed.** [`Generation`]
///   holds two counters: the global one, which moves after every write that does not say
///   what it touched, after every write another process made, and after every commit that
///   failed; and one per officer, which moves after a write that names the officer's due
///   list as all it touched ([`Touched`]). Read the generation *before* the data a view
///   shows; the view is current while [`Database::generation`] reads the same.
#[derive(Clone, Default)]
pub struct Database {
    pub(super) inner: Arc<Inner>,
}

#[derive(Default)]
pub(super) struct Inner {
    idle: Mutex<Vec<(PathBuf, Store)>>,
    pub(super) writer: Mutex<Writer>,
    /// Writers that have announced themselves and not yet taken the writing connection.
    pub(super) queued: AtomicUsize,
    /// Writes committed, and the commits that carried them.
    pub(super) written: AtomicU64,
    pub(super) commits: AtomicU64,
    generations: Generations,
    pub(super) checkpoints: Arc<Checkpoints>,
    /// The writing thread's queue, made with the thread on the first queued write.
    pub(super) queue: OnceLock<tokio::sync::mpsc::Sender<(PathBuf, Job)>>,
}

/// What a committed write may have changed among the views kept in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Touched {
    /// Anything (the default: every write that does not say otherwise).
    Everything,
    /// Only the due lists of these officers.
    Officers(Vec<String>),
    /// Nothing a view shows (a new session, a job's run record).
    Nothing,
}

/// Counters bumped after commits: a view computed under a generation is current while the
/// generation is unchanged.
#[derive(Default)]
struct Generations {
    global: AtomicU64,
    officers: Mutex<HashMap<String, u64>>,
}

/// The generations a view was computed under; read before the data it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Generation {
    pub global: u64,
    pub officer: u64,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Database")
    }
}

/// A lock, taken even when a thread panicked holding it: what it guards stays consistent
/// (a panicking write is rolled back before the lock is let go).
pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Database {
    /// An open connection to the database at `path`: an idle one if there is one, else a
    /// new one (opened, configured and migrated).
    pub fn open(&self, path: &Path) -> Result<PooledStore<'_>, StoreError> {
        let reused = {
            let mut idle = lock(&self.inner.idle);
            idle.iter()
                .rposition(|(p, _)| p == path)
                .map(|i| idle.swap_remove(i).1)
        };
        let store = match reused {
            Some(store) => store,
            None => Store::open(path)?,
        };
        Ok(PooledStore {
            store: Some(store),
            path: path.to_owned(),
            pool: self,
        })
    }

    /// The generations of everything and of one officer's due list, as of now. Read it
    /// before reading what a view shows. At most every [`OUTSIDE_CHECK`] (and only when no
    /// write is under way) it first asks whether another process wrote.
    pub fn generation(&self, path: &Path, officer: &str) -> Generation {
        if let Ok(mut writer) = self.inner.writer.try_lock()
            && writer.group.is_none()
            && writer.checked.is_none_or(|t| t.elapsed() >= OUTSIDE_CHECK)
        {
            // A failure here is the next write's to report; the views stay as they are.
            let _ = self.notice_outside_writes(&mut writer, path);
        }
        let g = &self.inner.generations;
        Generation {
            global: g.global.load(Ordering::Acquire),
            officer: lock(&g.officers).get(officer).copied().unwrap_or(0),
        }
    }

    /// Writes committed and the commits that carried them, since the pool was made.
    pub fn write_stats(&self) -> (u64, u64) {
        (
            self.inner.written.load(Ordering::Acquire),
            self.inner.commits.load(Ordering::Acquire),
        )
    }

    /// Moves the generations a committed write touched.
    pub(super) fn touch(&self, touched: &Touched) {
        let g = &self.inner.generations;
        match touched {
            Touched::Everything => {
                g.global.fetch_add(1, Ordering::AcqRel);
            }
            Touched::Officers(ids) => {
                let mut officers = lock(&g.officers);
                for id in ids {
                    *officers.entry(id.clone()).or_default() += 1;
                }
            }
            Touched::Nothing => {}
        }
    }
}

/// A connection lent by [`Database::open`]; back in the pool when dropped.
pub struct PooledStore<'a> {
    store: Option<Store>,
    path: PathBuf,
    pool: &'a Database,
}

impl PooledStore<'_> {
    /// Runs `work` as one write (see [`Database`]): answered `Ok` once committed and durable,
    /// nothing written when it returns `Err` or panics. Every view kept in memory is stale
    /// after it (it moves the global generation).
    pub fn write<T, E: From<StoreError>>(
        &mut self,
        work: impl FnOnce(Db<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.pool
            .write(&self.path, |db| work(db).map(|v| (v, Touched::Everything)))
    }

    /// [`PooledStore::write`] for a write that says what it touched.
    pub fn write_touching<T, E: From<StoreError>>(
        &mut self,
        work: impl FnOnce(Db<'_>) -> Result<(T, Touched), E>,
    ) -> Result<T, E> {
        self.pool.write(&self.path, work)
    }
}

impl Deref for PooledStore<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        self.store
            .as_ref()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl DerefMut for PooledStore<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        self.store
            .as_mut()
            .unwrap_or_else(|| unreachable!("taken only on drop"))
    }
}

impl Drop for PooledStore<'_> {
    fn drop(&mut self) {
        if let Some(store) = self.store.take() {
            let mut idle = lock(&self.pool.inner.idle);
            if idle.len() < MAX_IDLE {
                idle.push((std::mem::take(&mut self.path), store));
            }
        }
    }
}
#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::writer::QUEUE;
    use super::*;

    fn audited(path: &Path) -> Vec<String> {
        let store = Store::open(path).unwrap();
        let mut subjects: Vec<String> = store
            .read()
            .audit_log(None, 1000)
            .unwrap()
            .into_iter()
            .map(|r| r.subject)
            .collect();
        subjects.sort();
        subjects
    }

    /// An audit entry named `subject`, written through the writing thread.
    async fn queue_audit(pool: &Database, path: &Path, subject: &str) -> Result<(), StoreError> {
        let subject = subject.to_owned();
        pool.queue(path, move |db| {
            audit(db, &subject)?;
            Ok::<_, StoreError>(((), Touched::Nothing))
        })
        .await
    }

    fn audit(db: Db<'_>, subject: &str) -> Result<(), StoreError> {
        db.audit(
            "2026-01-01T00:00:00",
            "test",
            "write",
            subject,
            &serde_json::json!({}),
        )
    }

    #[test]
    fn writers_queued_behind_one_share_its_commit_and_a_failing_one_takes_nothing_down() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let pool = Database::default();
        // The database made once, before the threads: a thread failing to open it would
        // leave the others waiting at the barrier.
        drop(pool.open(&path).unwrap());
        let n = 16;
        // Every connection is open before anyone writes.
        let ready = std::sync::Barrier::new(n);
        let ready = &ready;
        let holding = std::sync::atomic::AtomicBool::new(false);
        let holding = &holding;
        let outcomes = std::thread::scope(|s| {
            let first = s.spawn(|| {
                let mut store = pool.open(&path).unwrap();
                ready.wait();
                store.write(|db| {
                    // Hold the writing connection until every other writer is queued.
                    holding.store(true, Ordering::Release);
                    let since = Instant::now();
                    while pool.inner.queued.load(Ordering::Acquire) < n - 1 {
                        assert!(
                            since.elapsed() < Duration::from_secs(20),
                            "writers never queued"
                        );
                        std::thread::yield_now();
                    }
                    audit(db, "w00")
                })
            });
            let rest: Vec<_> = (1..n)
                .map(|i| {
                    let (pool, path) = (&pool, &path);
                    s.spawn(move || {
                        let mut store = pool.open(path).unwrap();
                        ready.wait();
                        while !holding.load(Ordering::Acquire) {
                            std::thread::yield_now();
                        }
                        store.write(|db| {
                            audit(db, &format!("w{i:02}"))?;
                            match i {
                                5 => Err(StoreError::Conflict("refused".into())),
                                7 => panic!("a bug in one writer"),
                                _ => Ok(()),
                            }
                        })
                    })
                })
                .collect();
            let mut outcomes = vec![first.join().map(|r| r.is_ok())];
            outcomes.extend(rest.into_iter().map(|h| h.join().map(|r| r.is_ok())));
            outcomes
        });
        assert_eq!(
            outcomes[5].as_ref().ok(),
            Some(&false),
            "the refused write answers Err"
        );
        assert!(outcomes[7].is_err(), "the panic reaches its own caller");
        let expected: Vec<String> = (0..n)
            .filter(|i| *i != 5 && *i != 7)
            .map(|i| format!("w{i:02}"))
            .collect();
        assert!(
            outcomes
                .iter()
                .enumerate()
                .all(|(i, o)| i == 5 || i == 7 || o.as_ref().ok() == Some(&true))
        );
        assert_eq!(
            audited(&path),
            expected,
            "every answered write once, nothing else"
        );
        let (written, commits) = pool.write_stats();
        assert_eq!(written, (n - 2) as u64);
        assert!(
            commits < written,
            "{commits} commits for {written} queued writes"
        );
    }

    #[test]
    fn a_write_names_what_it_touched_and_writes_from_outside_touch_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let pool = Database::default();
        let before = (pool.generation(&path, "O1"), pool.generation(&path, "O2"));
        pool.open(&path)
            .unwrap()
            .write_touching(|db| {
                audit(db, "a").map(|()| ((), Touched::Officers(vec!["O1".into()])))
            })
            .unwrap();
        let after = (pool.generation(&path, "O1"), pool.generation(&path, "O2"));
        assert_eq!(after.0.global, before.0.global);
        assert_ne!(after.0.officer, before.0.officer, "O1's list changed");
        assert_eq!(after.1, before.1, "O2's did not");
        pool.open(&path)
            .unwrap()
            .write(|db| audit(db, "b"))
            .unwrap();
        let everything = pool.generation(&path, "O2");
        assert_ne!(
            everything.global, after.1.global,
            "a write that names nothing touches all"
        );
        // Another connection (another process) writes: noticed within the check interval.
        let mut outside = Store::open(&path).unwrap();
        outside.write(|db| audit(db, "c")).unwrap();
        std::thread::sleep(OUTSIDE_CHECK + Duration::from_millis(50));
        assert_ne!(pool.generation(&path, "O2").global, everything.global);
    }

    /// The checkpointer copies committed writes from the WAL into the database file on its
    /// own connection; the writing connection's commits do not (they would only past
    /// [`super::super::writer::WRITER_CHECKPOINT_PAGES`], far more than these writes fill).
    #[test]
    fn the_checkpointer_copies_commits_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let pool = Database::default();
        let mut store = pool.open(&path).unwrap();
        // The database file alone, without its WAL: what has been checkpointed (before the
        // first checkpoint the file has no tables yet).
        let in_file = || -> usize {
            Store::open_file_only(&path)
                .unwrap()
                .read()
                .audit_log(None, 1000)
                .map_or(0, |entries| entries.len())
        };
        for i in 0..20 {
            store.write(|db| audit(db, &format!("s{i}"))).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while in_file() < 20 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(in_file(), 20);
    }

    /// The writing connection commits without syncing: no write is answered before the
    /// WAL holding it is synced. With the sync held up, a queued write and a write on a
    /// thread of its own are committed (another connection reads them) but unanswered;
    /// both are answered once the sync goes through.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_are_answered_only_once_the_wal_holding_them_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let pool = Database::default();
        queue_audit(&pool, &path, "first").await.unwrap();
        let wal = pool.wal().expect("the writing connection is open");
        // Another thread holds the WAL's sync until told.
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (holding, held) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let _sync = lock(&wal);
            holding.send(()).unwrap();
            released.recv().unwrap();
        });
        held.recv().unwrap();
        let committed = |subjects: &[&str]| {
            let deadline = Instant::now() + Duration::from_secs(10);
            while audited(&path) != subjects {
                assert!(Instant::now() < deadline, "not committed: {subjects:?}");
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        let queued = tokio::spawn({
            let (pool, path) = (pool.clone(), path.clone());
            async move { queue_audit(&pool, &path, "queued").await }
        });
        committed(&["first", "queued"]);
        let threaded = tokio::task::spawn_blocking({
            let (pool, path) = (pool.clone(), path.clone());
            move || pool.open(&path).unwrap().write(|db| audit(db, "threaded"))
        });
        committed(&["first", "queued", "threaded"]);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !queued.is_finished(),
            "a queued write answered before the sync"
        );
        assert!(!threaded.is_finished(), "a write answered before the sync");
        release.send(()).unwrap();
        holder.join().unwrap();
        queued.await.unwrap().unwrap();
        threaded.await.unwrap().unwrap();
        assert_eq!(pool.write_stats(), (3, 3));
    }

    /// A commit whose WAL cannot be synced is not acknowledged: here the WAL file is gone
    /// from its directory (what SQLite wrote goes to a file no one will read again), so
    /// both kinds of write are answered as failed, and the views kept in memory, which may
    /// show them, are dropped.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_whose_wal_cannot_be_synced_is_answered_as_failed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.db");
        let pool = Database::default();
        drop(pool.open(&path).unwrap());
        queue_audit(&pool, &path, "first").await.unwrap();
        std::fs::remove_file(dir.path().join("u.db-wal")).unwrap();
        let before = pool.generation(&path, "O1");
        let queued = queue_audit(&pool, &path, "queued").await;
        let why = queued.expect_err("a queued write answered Ok").to_string();
        assert!(why.contains("may not have reached the disk"), "{why}");
        let global = pool.generation(&path, "O1").global;
        assert_ne!(global, before.global, "the views are dropped");
        let threaded = tokio::task::spawn_blocking({
            let (pool, path) = (pool.clone(), path.clone());
            move || pool.open(&path).unwrap().write(|db| audit(db, "threaded"))
        })
        .await
        .unwrap();
        let why = threaded.expect_err("a write answered Ok").to_string();
        assert!(why.contains("may not have reached the disk"), "{why}");
        assert_ne!(pool.generation(&path, "O1").global, global);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_writes_share_a_turn_are_stored_when_answered_and_a_failing_one_takes_nothing_down()
     {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let pool = Database::default();
        drop(pool.open(&path).unwrap());
        // A first write holds the writing thread until the others are all queued.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (running, started) = tokio::sync::oneshot::channel::<()>();
        let first = tokio::spawn({
            let (pool, path) = (pool.clone(), path.clone());
            async move {
                pool.queue(&path, move |db| {
                    running.send(()).unwrap();
                    held.recv().unwrap();
                    audit(db, "first")?;
                    Ok::<_, StoreError>(((), Touched::Nothing))
                })
                .await
            }
        });
        started.await.unwrap();
        let n = 200;
        let mut writes = tokio::task::JoinSet::new();
        for i in 0..n {
            let (pool, path) = (pool.clone(), path.clone());
            writes.spawn(async move {
                let subject = format!("q{i:03}");
                let answer = pool
                    .queue(&path, move |db| {
                        audit(db, &subject)?;
                        if i % 10 == 7 {
                            return Err(StoreError::Conflict(format!("refused {i}")));
                        }
                        Ok((subject, Touched::Nothing))
                    })
                    .await;
                // Answered only once committed: another connection reads it at once.
                if let Ok(subject) = &answer {
                    assert!(audited(&path).contains(subject), "{subject}");
                }
                (i, answer)
            });
        }
        while pool.sender().capacity() > QUEUE - n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        let mut expected = vec!["first".to_owned()];
        while let Some(done) = writes.join_next().await {
            let (i, answer) = done.unwrap();
            match answer {
                Ok(subject) => {
                    assert_ne!(i % 10, 7);
                    expected.push(subject);
                }
                Err(e) => {
                    assert_eq!(i % 10, 7, "{e}");
                    assert!(e.to_string().contains(&format!("refused {i}")), "{e}");
                }
            }
        }
        expected.sort();
        // The refused writes left nothing, and the rest are all stored, once.
        assert_eq!(audited(&path), expected);
        // The first write's turn, then one turn for the 200 queued behind it.
        assert_eq!(pool.write_stats(), (181, 2));
    }

    /// A transaction SQLite gives up whole (an I/O error, a full disk; here a write that
    /// ends it) fails the writes in it, and drops the views kept in memory: a write's
    /// checks read through the writing connection, so a view computed in it may show what
    /// was never committed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_given_up_whole_fails_its_writes_and_drops_the_views() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.db");
        let pool = Database::default();
        drop(pool.open(&path).unwrap());
        queue_audit(&pool, &path, "kept").await.unwrap();
        let before = pool.generation(&path, "O1");
        let answer = pool
            .queue(&path, |db| {
                audit(db, "lost")?;
                db.execute_batch_for_tests("ROLLBACK")?;
                Ok::<_, StoreError>(((), Touched::Nothing))
            })
            .await;
        assert!(
            answer.is_err(),
            "a write in a transaction given up answers Err"
        );
        assert_ne!(pool.generation(&path, "O1").global, before.global);
        assert_eq!(audited(&path), vec!["kept".to_owned()]);
    }
}
