//! Connections kept open between requests, and one writer at a time: a write waits its turn
//! on a lock in the process rather than polling SQLite's busy handler, so writers are served
//! in order and a reader never waits for them (WAL).

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::store::{Store, StoreError};

/// The most idle connections kept.
const MAX_IDLE: usize = 64;

/// A pool of open connections to one database, shared by every clone of the app.
#[derive(Clone, Default)]
pub struct Connections {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    idle: Mutex<Vec<(PathBuf, Store)>>,
    writer: Mutex<()>,
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
    pub fn get(&self, path: &PathBuf) -> Result<PooledStore<'_>, StoreError> {
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
            path: path.clone(),
            pool: self,
        })
    }
}

/// A connection borrowed from the pool; back in the pool when dropped.
pub struct PooledStore<'a> {
    store: Option<Store>,
    path: PathBuf,
    pool: &'a Connections,
}

impl PooledStore<'_> {
    /// [`Store::write`], one writer at a time.
    pub fn write<T, E: From<StoreError>>(
        &mut self,
        work: impl FnOnce(crate::store::Db<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let _turn = lock(&self.pool.inner.writer);
        self.deref_mut().write(work)
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
