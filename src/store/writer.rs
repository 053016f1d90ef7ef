//! The one writing connection of the process and its group commit, and the writing thread.
//!
//! Every write of the process runs on one connection, one at a time, in its own savepoint.
//! A writer that finds others queued behind it leaves the transaction open for them; the
//! last of the group (or the one that fills it) commits for all, and only once the WAL
//! holding the commit is synced does any of them answer. A group pays one commit (one
//! sync, each page written once) instead of one each, and the writer's page cache stays
//! warm because no other connection of the process writes. Readers never wait for it (WAL).
//!
//! The hottest write, a recorded visit, does not even take a thread of its own: it is queued
//! to the writing thread ([`Database::queue`]), which runs the queued writes back to back
//! on the writing connection, one group and one commit per turn. No thread waits for a
//! visit, and the writing connection passes from one write to the next without a lock
//! changing hands. The syncer thread ([`super::syncer`]) then syncs the WAL and answers the
//! turn's callers, while the writing thread runs the next turn: the writing connection
//! commits with `synchronous=NORMAL` ([`Store::defer_commit_sync`]), and the sync
//! `synchronous=FULL` would make inside each commit is made by the syncer, once for every
//! turn committed since its last, before anyone hears. An acknowledged write is on the disk
//! either way.
//!
//! The writing connection also notices writes from outside the process (another command
//! line, a SQLite shell): `PRAGMA data_version` on it changes only when another connection
//! commits. Those bump the global generation, as every write does unless it names what it
//! touched (a recorded visit names the officers whose lists it changed).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use super::database::{Database, Touched, lock};
use super::syncer::{Committed, SharedWal, Syncer, sync_wal};
use super::{Db, Store, StoreError};

/// The most writes one commit carries: a group closes at this size even with writers queued,
/// which bounds how long the first of them waits for its answer.
const MAX_GROUP: usize = 64;

/// The writing connection's page cache (KiB): it is never invalidated by the process's own
/// writes, so it holds the upper levels of every index the writes walk.
const WRITER_CACHE_KIB: i64 = 256 * 1024;

/// The most queued writes one turn of the writing thread runs and commits together.
const MAX_TURN: usize = 256;

/// Writes waiting for the writing thread; a caller beyond this waits for room.
pub(super) const QUEUE: usize = 1024;

/// The WAL pages (256 MiB) at which the writing connection checkpoints after a commit.
/// The checkpointer copies commits as they come, but under an unbroken stream of writes
/// the WAL never runs out of new ones and cannot start over; only a checkpoint that leaves
/// nothing behind between two transactions lets it, and that one the writing thread waits
/// for (the rest to copy and two syncs). So the WAL may grow this far under load, and
/// starts over whenever the writes pause after the checkpointer caught up. A reader
/// looks up only the pages not yet copied, so a long WAL costs disk, not reads.
pub(super) const WRITER_CHECKPOINT_PAGES: u32 = 65_536;

/// A write queued to the writing thread: run in a savepoint, it hands back what it touched
/// and how to answer its caller once the commit is known, or has answered already (it
/// failed, and the savepoint is rolled back).
pub(super) type Job = Box<dyn FnOnce(Db<'_>) -> Result<(Touched, Answer), JobError> + Send>;

/// Tells a queued write's caller how its group's commit went.
pub(super) type Answer = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A group's outcome and the answers its members are owed.
pub(super) type Answered = (Result<(), String>, Vec<(Touched, Answer)>);

pub(super) enum JobError {
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

/// The writing connection and the group whose transaction is open on it.
#[derive(Default)]
pub(super) struct Writer {
    store: Option<(PathBuf, Store)>,
    /// Its WAL: its commits return before the WAL is synced, and no write is answered
    /// before this is (see [`Store::defer_commit_sync`]).
    pub(super) wal: Option<SharedWal>,
    pub(super) group: Option<Arc<Group>>,
    members: usize,
    /// `PRAGMA data_version` when last read, and when that was.
    data_version: Option<i64>,
    pub(super) checked: Option<Instant>,
}

impl Writer {
    fn store(&self) -> Result<&Store, StoreError> {
        self.store
            .as_ref()
            .map(|(_, store)| store)
            .ok_or_else(|| StoreError::NotCommitted("the writing connection is not open".into()))
    }

    /// Runs `work` in a savepoint of the open group's transaction (see
    /// [`Store::in_savepoint`]); called once [`Database::open_group`] succeeded.
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
pub(super) struct Group {
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

impl Database {
    /// Opens the writing connection for `path` if it is not open, and bumps the global
    /// generation when another connection committed since the last look.
    pub(super) fn notice_outside_writes(
        &self,
        writer: &mut Writer,
        path: &Path,
    ) -> Result<(), StoreError> {
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
    pub(super) fn write<T, E: From<StoreError>>(
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

impl Database {
    /// Runs `work` on the writing thread, in a savepoint of that thread's group, and
    /// resolves once the group has committed: as [`super::PooledStore::write_touching`], without
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
    pub(super) fn wal(&self) -> Option<SharedWal> {
        lock(&self.inner.writer).wal.clone()
    }

    /// The writing thread's queue, starting the thread on first use. The thread holds the
    /// pool only while it writes: when the pool is dropped, the queue closes and it ends.
    pub(super) fn sender(&self) -> &tokio::sync::mpsc::Sender<(PathBuf, Job)> {
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
                        let connections = Database { inner };
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
pub(super) enum SyncWal {
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
