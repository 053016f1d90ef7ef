//! The syncer thread: makes the WAL holding the writing thread's commits durable, once for
//! every turn committed since its last sync, and only then answers those turns' writes.

use std::sync::{Arc, Mutex};

use super::WalFile;
use super::database::{Database, Inner, Touched, lock};
use super::writer::Answered;

/// The writing connection's WAL, shared with the syncer.
pub(super) type SharedWal = Arc<Mutex<WalFile>>;

/// Syncs a writing connection's WAL: every commit made on it before the call is durable
/// when this returns `Ok`.
pub(super) fn sync_wal(wal: Option<&Mutex<WalFile>>) -> Result<(), String> {
    let Some(wal) = wal else { return Ok(()) };
    lock(wal)
        .sync()
        .map_err(|e| format!("the write may not have reached the disk: {e}"))
}

/// The commits of a turn of the writing thread and the answers they owe.
pub(super) struct Committed {
    pub(super) wal: Option<SharedWal>,
    pub(super) answered: Vec<Answered>,
}

/// Syncs the WAL after the writing thread's turns and then answers their writes, on a thread
/// of its own: the writing thread runs the next turn meanwhile instead of waiting for the
/// disk, and one sync serves every turn committed since the last. Nobody hears of a write
/// before the WAL holding it is on the disk.
pub(super) struct Syncer {
    send: Option<std::sync::mpsc::Sender<Committed>>,
}

impl Syncer {
    pub(super) fn start(pool: std::sync::Weak<Inner>) -> Syncer {
        let (send, receive) = std::sync::mpsc::channel::<Committed>();
        let spawned = std::thread::Builder::new()
            .name("syncer".into())
            .spawn(move || {
                while let Ok(first) = receive.recv() {
                    let mut batch = vec![first];
                    batch.extend(receive.try_iter());
                    let pool = pool.upgrade().map(|inner| Database { inner });
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
    pub(super) fn deliver(&self, pool: &Database, committed: Committed) {
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
fn answer_synced(pool: Option<&Database>, batch: Vec<Committed>) {
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
