//! Connections kept open between requests, the one writing connection with group commit,
//! and the generations that tell the views kept in memory when the data under them changed.
//!
//! Every write of the process runs on one connection, one at a time, in its own savepoint.
//! A writer that finds others queued behind it leaves the transaction open for them; the
//! last of the group (or the one that fills it) commits for all, and only once the WAL
//! holding the commit is synced does any of them answer. A group pays one commit (one
//! sync, each page written once) instead of one each, and the writer's page cache stays
//! warm because no other connection of the process writes. Readers never wait for it (WAL).
//!
//! The hottest write, a recorded visit, does not even take a thread of its own: it is queued
//! to the writing thread ([`Connections::queue`]), which runs the queued writes back to back
//! on the writing connection, one group and one commit per turn. No thread waits for a
//! visit, and the writing connection passes from one write to the next without a lock
//! changing hands. The syncer thread then syncs the WAL and answers the turn's callers,
//! while the writing thread runs the next turn: the writing connection commits with
//! `synchronous=NORMAL` ([`Store::defer_commit_sync`]), and the sync `synchronous=FULL`
//! would make inside each commit is made by the syncer, once for every turn committed
//! since its last, before anyone hears. An acknowledged write is on the disk either way.
//!
//! The writing connection also notices writes from outside the process (another command
//! line, a SQLite shell): `PRAGMA data_version` on it changes only when another connection
//! commits. Those bump the global generation, as every write does unless it names what it
//! touched (a recorded visit names the officers whose lists it changed).

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::store::{Db, Store, StoreError, WalFile};

/// The most idle connections kept.
const MAX_IDLE: usize = 64;

/// The most writes one commit carries: a group closes at this size even with writers queued,
/// which bounds how long the first of them waits for its answer.
const MAX_GROUP: usize = 64;

/// The writing connection's page cache (KiB): it is never invalidated by the process's own
/// writes, so it holds the upper levels of every index the writes walk.
const WRITER_CACHE_KIB: i64 = 256 * 1024;

/// The most queued writes one turn of the writing thread runs and commits together.
const MAX_TURN: usize = 256;

/// Writes waiting for the writing thread; a caller beyond this waits for room.
const QUEUE: usize = 1024;

/// How often a reader asks the writing connection whether another process wrote.
const OUTSIDE_CHECK: Duration = Duration::from_millis(200);

/// The checkpointer's pause after each checkpoint: short, so that it keeps up with a stream
/// of writes and the writing connection's own checkpoint finds little left to copy.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(10);

/// The WAL pages (256 MiB) at which the writing connection checkpoints after a commit.
/// The checkpointer copies commits as they come, but under an unbroken stream of writes
/// the WAL never runs out of new ones and cannot start over; only a checkpoint that leaves
/// nothing behind between two transactions lets it, and that one the writing thread waits
/// for (the rest to copy and two syncs). So the WAL may grow this far under load, and
/// starts over whenever the writes pause after the checkpointer caught up. A reader
/// looks up only the pages not yet copied, so a long WAL costs disk, not reads.
const WRITER_CHECKPOINT_PAGES: u32 = 65_536;

/// A pool of open connections to one database, shared by every clone of the app.
#[derive(Clone, Default)]
pub struct Connections {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    idle: Mutex<Vec<(PathBuf, Store)>>,
    writer: Mutex<Writer>,
    /// Writers that have announced themselves and not yet taken the writing connection.
    queued: AtomicUsize,
    /// Writes committed, and the commits that carried them.
    written: AtomicU64,
    commits: AtomicU64,
    generations: Generations,
    checkpoints: Arc<Checkpoints>,
    /// The writing thread's queue, made with the thread on the first queued write.
    queue: OnceLock<tokio::sync::mpsc::Sender<(PathBuf, Job)>>,
}

/// A write queued to the writing thread: run in a savepoint, it hands back what it touched
/// and how to answer its caller once the commit is known, or has answered already (it
/// failed, and the savepoint is rolled back).
type Job = Box<dyn FnOnce(Db<'_>) -> Result<(Touched, Answer), JobError> + Send>;

/// Tells a queued write's caller how its group's commit went.
type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A group's outcome and the answers its members are owed.
type Answered = (Result<(), String>, Vec<(Touched, Answer)>);

/// The writing connection's WAL, shared with the syncer.
type SharedWal = Arc<Mutex<WalFile>>;

enum JobError {
    /// The savepoint could not be opened; the job was dropped, and its caller hears so.
    Store(StoreError),
    /// The write failed and told its caller why.
    Answered,
}

impl From<StoreError> for JobError {
    fn from(e: StoreError) -> Self {
        JobError::Store(e)
    }
}

/// Commits signal the checkpointer thread, which copies the WAL back into the database on
/// its own connection: the writing connection's commits never pay for it.
#[derive(Default)]
struct Checkpoints {
    /// The database written since the last checkpoint.
    due: Mutex<Option<PathBuf>>,
    wake: Condvar,
    started: OnceLock<()>,
}

impl Checkpoints {
    fn signal(self: &Arc<Self>, path: &Path) {
        self.started.get_or_init(|| {
            let this = Arc::clone(self);
            let spawned = std::thread::Builder::new()
                .name("checkpointer".into())
                .spawn(move || this.run());
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the checkpointer");
            }
        });
        let mut due = lock(&self.due);
        if due.as_deref() != Some(path) {
            *due = Some(path.to_owned());
        }
        self.wake.notify_one();
    }

    /// Checkpoints each database signalled, pausing between; ends when the pool is gone.
    fn run(self: Arc<Self>) {
        let mut open: Option<(PathBuf, Store)> = None;
        loop {
            let path = {
                let mut due = lock(&self.due);
                loop {
                    if let Some(path) = due.take() {
                        break path;
                    }
                    if Arc::strong_count(&self) == 1 {
                        return;
                    }
                    due = self
                        .wake
                        .wait_timeout(due, Duration::from_secs(1))
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
            };
            if open.as_ref().is_none_or(|(p, _)| *p != path) {
                open = match Store::open(&path) {
                    Ok(store) => Some((path.clone(), store)),
                    Err(e) => {
                        tracing::error!(db = %path.display(), error = %e, "checkpointer cannot open the database");
                        None
                    }
                };
            }
            if let Some((_, store)) = &open
                && let Err(e) = store.checkpoint()
            {
                tracing::warn!(db = %path.display(), error = %e, "checkpoint failed");
            }
            std::thread::sleep(CHECKPOINT_PAUSE);
        }
    }
}

/// The writing connection and the group whose transaction is open on it.
#[derive(Default)]
struct Writer {
    store: Option<(PathBuf, Store)>,
    /// Its WAL: its commits return before the WAL is synced, and no write is answered
    /// before this is (see [`Store::defer_commit_sync`]).
    wal: Option<SharedWal>,
    group: Option<Arc<Group>>,
    members: usize,
    /// `PRAGMA data_version` when last read, and when that was.
    data_version: Option<i64>,
    checked: Option<Instant>,
}

impl Writer {
    fn store(&self) -> Result<&Store, StoreError> {
        self.store
            .as_ref()
            .map(|(_, store)| store)
            .ok_or_else(|| StoreError::NotCommitted("the writing connection is not open".into()))
    }

    /// Runs `work` in a savepoint of the open group's transaction (see
    /// [`Store::in_savepoint`]); called once [`Connections::open_group`] succeeded.
    fn in_savepoint<T, E: From<StoreError>>(
        &mut self,
        work: impl FnOnce(Db<'_>) -> Result<T, E>,
    ) -> std::thread::Result<Result<T, E>> {
        match self.store.as_mut() {
            Some((_, store)) => store.in_savepoint(work),
            None => Ok(Err(StoreError::NotCommitted(
                "the writing connection is not open".into(),
            )
            .into())),
        }
    }
}

/// One commit's members wait on it for the outcome.
#[derive(Default)]
struct Group {
    outcome: Mutex<Option<Result<(), String>>>,
    done: Condvar,
}

impl Group {
    fn finish(&self, outcome: Result<(), String>) {
        *lock(&self.outcome) = Some(outcome);
        self.done.notify_all();
    }

    fn wait(&self) -> Result<(), String> {
        let mut outcome = lock(&self.outcome);
        loop {
            if let Some(o) = outcome.as_ref() {
                return o.clone();
            }
            outcome = self
                .done
                .wait(outcome)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }
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

impl std::fmt::Debug for Connections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connections")
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Connections {
    /// An open connection to `path`: an idle one if there is one, else a new one (opened,
    /// configured and migrated).
    pub fn get(&self, path: &Path) -> Result<PooledStore<'_>, StoreError> {
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

    fn touch(&self, touched: &Touched) {
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

    /// Opens the writing connection for `path` if it is not open, and bumps the global
    /// generation when another connection committed since the last look.
    fn notice_outside_writes(&self, writer: &mut Writer, path: &Path) -> Result<(), StoreError> {
        if writer.store.as_ref().is_none_or(|(p, _)| p != path) {
            let store = Store::open(path)?;
            store.set_cache_kib(WRITER_CACHE_KIB)?;
            store.set_autocheckpoint(WRITER_CHECKPOINT_PAGES)?;
            writer.wal = Some(Arc::new(Mutex::new(store.defer_commit_sync()?)));
            writer.store = Some((path.to_owned(), store));
            writer.data_version = None;
        }
        let (_, store) = writer
            .store
            .as_ref()
            .unwrap_or_else(|| unreachable!("opened above"));
        let version = store.data_version()?;
        if writer.data_version.is_some_and(|v| v != version) {
            self.touch(&Touched::Everything);
        }
        writer.data_version = Some(version);
        writer.checked = Some(Instant::now());
        Ok(())
    }

    /// The open group on the writing connection to `path`, opening the connection and
    /// beginning the group's transaction if none is open.
    fn open_group(&self, writer: &mut Writer, path: &Path) -> Result<Arc<Group>, StoreError> {
        if writer.group.is_none() {
            self.notice_outside_writes(writer, path)?;
            writer.store()?.begin_immediate()?;
            writer.group = Some(Arc::new(Group::default()));
            writer.members = 0;
        }
        Ok(Arc::clone(
            writer
                .group
                .as_ref()
                .unwrap_or_else(|| unreachable!("opened above")),
        ))
    }

    /// [`finish_group`], counted, and the checkpointer told.
    fn finish_group(&self, writer: &mut Writer, sync: SyncWal) {
        let members = writer.members as u64;
        // A commit that fails loses what the group wrote: views computed inside its
        // transaction may show it, so they go before any member hears.
        if finish_group(writer, || self.touch(&Touched::Everything), sync) {
            self.inner.written.fetch_add(members, Ordering::AcqRel);
            self.inner.commits.fetch_add(1, Ordering::AcqRel);
            if let Some((path, _)) = &writer.store {
                self.inner.checkpoints.signal(path);
            }
        }
    }

    /// Runs `work` on the writing connection in a savepoint of the open group's transaction
    /// (opening one if none is open) and answers once that transaction has committed:
    /// `Ok` only when `work` succeeded and its group committed. A `work` that fails or
    /// panics leaves nothing behind and does not disturb the rest of its group.
    fn write<T, E: From<StoreError>>(
        &self,
        path: &Path,
        work: impl FnOnce(Db<'_>) -> Result<(T, Touched), E>,
    ) -> Result<T, E> {
        self.inner.queued.fetch_add(1, Ordering::AcqRel);
        let mut writer = lock(&self.inner.writer);
        self.inner.queued.fetch_sub(1, Ordering::AcqRel);
        if writer.store.as_ref().is_some_and(|(p, _)| p != path) && writer.group.is_some() {
            // A group open on another database: close it first.
            self.finish_group(&mut writer, SyncWal::Now);
        }
        let group = self.open_group(&mut writer, path)?;
        let result = writer.in_savepoint(work);
        let in_group = if writer.store.as_ref().is_some_and(|(_, s)| s.autocommit()) {
            // SQLite rolled the whole transaction back (an I/O error, a full disk): the
            // members before this one are gone with it, and this one too; their answers
            // say so.
            // Views computed inside it (the checks of a write read through the writing
            // connection) may show what was never committed: they go before anyone hears.
            self.touch(&Touched::Everything);
            group.finish(Err("the transaction was rolled back".into()));
            writer.group = None;
            false
        } else {
            matches!(result, Ok(Ok(_)))
        };
        if in_group {
            writer.members += 1;
        }
        let queued = self.inner.queued.load(Ordering::Acquire);
        if writer.group.is_some() && (queued == 0 || writer.members >= MAX_GROUP) {
            self.finish_group(&mut writer, SyncWal::Now);
        }
        drop(writer);
        match result {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(Err(e)) => Err(e),
            Ok(Ok((value, touched))) => match group.wait() {
                Ok(()) => {
                    self.touch(&touched);
                    Ok(value)
                }
                Err(why) => Err(StoreError::NotCommitted(why).into()),
            },
        }
    }
}

impl Connections {
    /// Runs `work` on the writing thread, in a savepoint of that thread's group, and
    /// resolves once the group has committed: as [`PooledStore::write_touching`], without
    /// a thread of the caller's waiting for it.
    pub async fn queue<T, E>(
        &self,
        path: &Path,
        work: impl FnOnce(Db<'_>) -> Result<(T, Touched), E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (tell, told) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |db| match work(db) {
            Ok((value, touched)) => {
                let answer: Answer = Box::new(move |outcome| {
                    let _ = tell.send(
                        outcome
                            .map(|()| value)
                            .map_err(|why| StoreError::NotCommitted(why).into()),
                    );
                });
                Ok((touched, answer))
            }
            Err(e) => {
                let _ = tell.send(Err(e));
                Err(JobError::Answered)
            }
        });
        let gone = || StoreError::NotCommitted("the writing thread is gone".into());
        self.sender()
            .send((path.to_owned(), job))
            .await
            .map_err(|_| gone())?;
        // A job dropped unrun (its savepoint could not be opened, or it panicked) drops
        // its sender: the write did not happen.
        told.await.unwrap_or_else(|_| Err(gone().into()))
    }

    /// The writing connection's WAL, once it is open.
    #[cfg(test)]
    fn wal(&self) -> Option<SharedWal> {
        lock(&self.inner.writer).wal.clone()
    }

    /// The writing thread's queue, starting the thread on first use. The thread holds the
    /// pool only while it writes: when the pool is dropped, the queue closes and it ends.
    fn sender(&self) -> &tokio::sync::mpsc::Sender<(PathBuf, Job)> {
        self.inner.queue.get_or_init(|| {
            let (send, mut receive) = tokio::sync::mpsc::channel::<(PathBuf, Job)>(QUEUE);
            let pool = Arc::downgrade(&self.inner);
            let spawned = std::thread::Builder::new()
                .name("writer".into())
                .spawn(move || {
                    let syncer = Syncer::start(pool.clone());
                    let mut turn = Vec::with_capacity(MAX_TURN);
                    while let Some(first) = receive.blocking_recv() {
                        turn.push(first);
                        while turn.len() < MAX_TURN {
                            match receive.try_recv() {
                                Ok(job) => turn.push(job),
                                Err(_) => break,
                            }
                        }
                        let Some(inner) = pool.upgrade() else { break };
                        let connections = Connections { inner };
                        let committed = connections.run_turn(&mut turn);
                        syncer.deliver(&connections, committed);
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the writing thread");
            }
            send
        })
    }

    /// Runs queued writes back to back as one group (several, when they name different
    /// databases) and commits; the answers they owe, once the WAL is synced.
    fn run_turn(&self, turn: &mut Vec<(PathBuf, Job)>) -> Committed {
        let mut writer = lock(&self.inner.writer);
        // A group left open by writers on other threads is theirs: commit it first, so that
        // a queued write's group holds queued writes only.
        self.finish_group(&mut writer, SyncWal::Now);
        let mut answers: Vec<(Touched, Answer)> = Vec::new();
        let mut answered = Vec::new();
        for (path, job) in turn.drain(..) {
            if writer.store.as_ref().is_some_and(|(p, _)| *p != path) && writer.group.is_some() {
                answered.push(self.close_turn_group(&mut writer, &mut answers));
            }
            if let Err(e) = self.open_group(&mut writer, &path) {
                tracing::error!(db = %path.display(), error = %e, "cannot begin a write");
                continue; // the job is dropped: its caller hears the write did not happen
            }
            let result = writer.in_savepoint(job);
            if writer.store.as_ref().is_some_and(|(_, s)| s.autocommit()) {
                // SQLite rolled the whole transaction back: the writes before this one in
                // the group are gone, and this one too. The views go first, before anyone
                // is answered.
                self.touch(&Touched::Everything);
                if let Some(group) = writer.group.take() {
                    group.finish(Err("the transaction was rolled back".into()));
                }
                for (_, answer) in answers.drain(..) {
                    answer(Err("the transaction was rolled back".into()));
                }
                if let Ok(Ok((_, answer))) = result {
                    answer(Err("the transaction was rolled back".into()));
                }
                continue;
            }
            match result {
                Ok(Ok(ran)) => {
                    writer.members += 1;
                    answers.push(ran);
                }
                Ok(Err(JobError::Answered)) => {}
                Ok(Err(JobError::Store(e))) => {
                    tracing::error!(error = %e, "a queued write could not run");
                }
                Err(_) => tracing::error!("a queued write panicked; it wrote nothing"),
            }
        }
        answered.push(self.close_turn_group(&mut writer, &mut answers));
        Committed {
            wal: writer.wal.clone(),
            answered,
        }
    }

    /// Commits the group of a turn; its outcome and the answers it owes, to give once the
    /// writing connection is free again.
    fn close_turn_group(
        &self,
        writer: &mut Writer,
        answers: &mut Vec<(Touched, Answer)>,
    ) -> Answered {
        let group = writer.group.clone();
        self.finish_group(writer, SyncWal::Later);
        let outcome = group.map_or(Ok(()), |g| g.wait());
        (outcome, std::mem::take(answers))
    }
}

/// Whether a group's commit is synced before its members hear (the writes of callers on
/// their own threads), or by the syncer before the writing thread's answers are given.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SyncWal {
    Now,
    Later,
}

/// Commits (or, with no member left, rolls back) the open group and tells its members;
/// true when it committed. When members' writes are lost, `lost` runs before they hear.
/// With [`SyncWal::Now`] the WAL is synced first, and a commit that cannot be made durable
/// is told as failed.
fn finish_group(writer: &mut Writer, lost: impl FnOnce(), sync: SyncWal) -> bool {
    let Some(group) = writer.group.take() else {
        return false;
    };
    let had_members = writer.members > 0;
    let Some((_, store)) = writer.store.as_ref() else {
        if had_members {
            lost();
        }
        group.finish(Err("the writing connection is gone".into()));
        return false;
    };
    let committed = had_members;
    let outcome = if writer.members == 0 {
        store.rollback().map_err(|e| e.to_string())
    } else {
        store.commit().map_err(|e| e.to_string())
    };
    if outcome.is_err() && !store.autocommit() {
        let _ = store.rollback();
    }
    writer.members = 0;
    let committed = committed && outcome.is_ok();
    let outcome = match outcome {
        Ok(()) if committed && sync == SyncWal::Now => sync_wal(writer.wal.as_deref()),
        other => other,
    };
    if had_members && (!committed || outcome.is_err()) {
        lost();
    }
    group.finish(outcome);
    committed
}

/// Syncs a writing connection's WAL: every commit made on it before the call is durable
/// when this returns `Ok`.
fn sync_wal(wal: Option<&Mutex<WalFile>>) -> Result<(), String> {
    let Some(wal) = wal else { return Ok(()) };
    lock(wal)
        .sync()
        .map_err(|e| format!("the write may not have reached the disk: {e}"))
}

/// The commits of a turn of the writing thread and the answers they owe.
struct Committed {
    wal: Option<SharedWal>,
    answered: Vec<Answered>,
}

/// Syncs the WAL after the writing thread's turns and then answers their writes, on a thread
/// of its own: the writing thread runs the next turn meanwhile instead of waiting for the
/// disk, and one sync serves every turn committed since the last. Nobody hears of a write
/// before the WAL holding it is on the disk.
struct Syncer {
    send: Option<std::sync::mpsc::Sender<Committed>>,
}

impl Syncer {
    fn start(pool: std::sync::Weak<Inner>) -> Syncer {
        let (send, receive) = std::sync::mpsc::channel::<Committed>();
        let spawned = std::thread::Builder::new()
            .name("syncer".into())
            .spawn(move || {
                while let Ok(first) = receive.recv() {
                    let mut batch = vec![first];
                    batch.extend(receive.try_iter());
                    let pool = pool.upgrade().map(|inner| Connections { inner });
                    answer_synced(pool.as_ref(), batch);
                }
            });
        match spawned {
            Ok(_) => Syncer { send: Some(send) },
            Err(e) => {
                tracing::error!(error = %e, "cannot start the syncer: the writing thread syncs");
                Syncer { send: None }
            }
        }
    }

    /// Hands a turn's answers to the syncer (or, without one, syncs and answers here).
    fn deliver(&self, pool: &Connections, committed: Committed) {
        let unsent = match &self.send {
            Some(send) => send.send(committed).err().map(|e| e.0),
            None => Some(committed),
        };
        if let Some(committed) = unsent {
            answer_synced(Some(pool), vec![committed]);
        }
    }
}

/// Syncs each WAL the batch committed to once, then answers every write in it, in order.
fn answer_synced(pool: Option<&Connections>, batch: Vec<Committed>) {
    let mut synced: Vec<(SharedWal, Result<(), String>)> = Vec::new();
    for committed in &batch {
        if let Some(wal) = &committed.wal
            && committed
                .answered
                .iter()
                .any(|(outcome, _)| outcome.is_ok())
            && !synced.iter().any(|(w, _)| Arc::ptr_eq(w, wal))
        {
            synced.push((Arc::clone(wal), sync_wal(Some(wal))));
        }
    }
    for committed in batch {
        let sync = committed
            .wal
            .as_ref()
            .and_then(|wal| synced.iter().find(|(w, _)| Arc::ptr_eq(w, wal)))
            .map_or(Ok(()), |(_, outcome)| outcome.clone());
        for (outcome, answers) in committed.answered {
            let outcome = match (outcome, &sync) {
                (Ok(()), Err(why)) => {
                    // Committed, and readable, but perhaps not on the disk: the views
                    // may show it; the callers hear it failed.
                    if let Some(pool) = pool {
                        pool.touch(&Touched::Everything);
                    }
                    Err(why.clone())
                }
                (outcome, _) => outcome,
            };
            for (touched, answer) in answers {
                if let Some(pool) = pool
                    && outcome.is_ok()
                {
                    pool.touch(&touched);
                }
                answer(outcome.clone());
            }
        }
    }
}

/// A connection borrowed from the pool; back in the pool when dropped.
pub struct PooledStore<'a> {
    store: Option<Store>,
    path: PathBuf,
    pool: &'a Connections,
}

impl PooledStore<'_> {
    /// Runs `work` as one write of the process (see the module): committed when it returns
    /// `Ok`, nothing written when it returns `Err` or panics. Every view kept in memory is
    /// stale after it.
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
    async fn queue_audit(pool: &Connections, path: &Path, subject: &str) -> Result<(), StoreError> {
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
        let pool = Connections::default();
        // The database made once, before the threads: a thread failing to open it would
        // leave the others waiting at the barrier.
        drop(pool.get(&path).unwrap());
        let n = 16;
        // Every connection is open before anyone writes.
        let ready = std::sync::Barrier::new(n);
        let ready = &ready;
        let holding = std::sync::atomic::AtomicBool::new(false);
        let holding = &holding;
        let outcomes = std::thread::scope(|s| {
            let first = s.spawn(|| {
                let mut store = pool.get(&path).unwrap();
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
                        let mut store = pool.get(path).unwrap();
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
        let pool = Connections::default();
        let before = (pool.generation(&path, "O1"), pool.generation(&path, "O2"));
        pool.get(&path)
            .unwrap()
            .write_touching(|db| {
                audit(db, "a").map(|()| ((), Touched::Officers(vec!["O1".into()])))
            })
            .unwrap();
        let after = (pool.generation(&path, "O1"), pool.generation(&path, "O2"));
        assert_eq!(after.0.global, before.0.global);
        assert_ne!(after.0.officer, before.0.officer, "O1's list changed");
        assert_eq!(after.1, before.1, "O2's did not");
        pool.get(&path).unwrap().write(|db| audit(db, "b")).unwrap();
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
    /// [`WRITER_CHECKPOINT_PAGES`], far more than these writes fill).
    #[test]
    fn the_checkpointer_copies_commits_into_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.db");
        let pool = Connections::default();
        let mut store = pool.get(&path).unwrap();
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
        let pool = Connections::default();
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
            move || pool.get(&path).unwrap().write(|db| audit(db, "threaded"))
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
        let pool = Connections::default();
        drop(pool.get(&path).unwrap());
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
            move || pool.get(&path).unwrap().write(|db| audit(db, "threaded"))
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
        let pool = Connections::default();
        drop(pool.get(&path).unwrap());
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
        let pool = Connections::default();
        drop(pool.get(&path).unwrap());
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
