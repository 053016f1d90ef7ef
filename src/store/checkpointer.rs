//! The checkpointer thread: copies the WAL back into the database file on its own
//! connection after commits, so that the writing connection's commits never pay for it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use super::Store;
use super::database::lock;

/// The checkpointer's pause after each checkpoint: short, so that it keeps up with a stream
/// of writes and the writing connection's own checkpoint finds little left to copy.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(10);

/// Commits signal the checkpointer thread, which copies the WAL back into the database on
/// its own connection: the writing connection's commits never pay for it.
#[derive(Default)]
pub(super) struct Checkpoints {
    /// The database written since the last checkpoint.
    due: Mutex<Option<PathBuf>>,
    wake: Condvar,
    started: OnceLock<()>,
}

impl Checkpoints {
    pub(super) fn signal(self: &Arc<Self>, path: &Path) {
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
