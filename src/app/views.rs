//! Views kept in memory between requests: signed-in callers by token, what the checks of a
//! request need to know of an officer (roster entry, the units of their grids), and
//! officers' due lists as the JSON they are sent as. Each is kept with the generations it was computed
//! under (see [`crate::store::Database`]) and used only while they are unchanged, so a view is never
//! older than the last write that could change it: a recorded visit makes the lists of the
//! officers it concerns stale, any other write every view.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use chrono::NaiveDate;
use sha2::Digest;

use super::service::Caller;
use crate::store::Generation;

/// Which due list: officer, first day, days, route start (as bits, so it can be hashed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DueKey {
    pub officer_id: String,
    pub on: NaiveDate,
    pub days: u32,
    pub start: Option<(u64, u64)>,
}

impl DueKey {
    pub fn new(officer_id: &str, on: NaiveDate, days: u32, start: Option<(f64, f64)>) -> Self {
        DueKey {
            officer_id: officer_id.to_owned(),
            on,
            days,
            start: start.map(|(lon, lat)| (lon.to_bits(), lat.to_bits())),
        }
    }
}

/// A due list as sent: its JSON, gzipped once when first asked for, and an entity tag
/// naming that content.
#[derive(Debug)]
pub struct DueJson {
    pub json: bytes::Bytes,
    pub etag: String,
    gzip: OnceLock<bytes::Bytes>,
    generation: Generation,
}

impl DueJson {
    pub fn new(json: Vec<u8>, generation: Generation) -> Self {
        let digest = sha2::Sha256::digest(&json);
        let etag = format!("\"{}\"", super::service::hex(&digest[..12]));
        DueJson {
            json: json.into(),
            etag,
            gzip: OnceLock::new(),
            generation,
        }
    }

    /// The JSON gzipped, if it has been.
    pub fn gzipped(&self) -> Option<bytes::Bytes> {
        self.gzip.get().cloned()
    }

    /// The JSON gzipped (done once per list).
    pub fn gzip(&self) -> bytes::Bytes {
        self.gzip
            .get_or_init(|| {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                // Writing to memory cannot fail.
                let _ = encoder.write_all(&self.json);
                encoder.finish().unwrap_or_default().into()
            })
            .clone()
    }
}

struct Session {
    caller: Caller,
    expires_at: String,
    global: u64,
}

/// What the checks of a request read about an officer: whether they are on the roster and
/// certified, and the units of the grids where they hold an open post.
#[derive(Debug, Default)]
pub struct OfficerFacts {
    /// `None`: not on the roster.
    pub certified: Option<bool>,
    /// (region code, unit code) of every unit of a grid (of a plan not retired) where the
    /// officer holds an open post.
    pub units: HashSet<(String, String)>,
    pub global: u64,
}

/// The views, shared by every clone of the app.
#[derive(Clone)]
pub struct Views {
    inner: Arc<Inner>,
}

struct Inner {
    budget: usize,
    due: Mutex<DueLists>,
    sessions: Mutex<HashMap<String, Session>>,
    officers: Mutex<HashMap<String, Arc<OfficerFacts>>>,
    /// Whether the stored classes were computed under the app's policy, and the global
    /// generation that was read under.
    classes_under_policy: Mutex<Option<(u64, bool)>>,
    /// One lock per due list being computed (see [`Views::due_turn`]).
    computing: Mutex<HashMap<DueKey, Arc<tokio::sync::Mutex<()>>>>,
    /// Due lists computed from the store since start.
    due_computed: std::sync::atomic::AtomicU64,
}

#[derive(Default)]
struct DueLists {
    lists: HashMap<DueKey, Arc<DueJson>>,
    bytes: usize,
}

impl std::fmt::Debug for Views {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Views")
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A place in line to compute one due list ([`Views::due_turn`]).
pub struct DueTurn {
    views: Views,
    key: DueKey,
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl DueTurn {
    /// Waits for the turn without holding a thread (or a turn at the store) meanwhile.
    pub async fn hold(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.turn.lock().await
    }
}

impl Drop for DueTurn {
    fn drop(&mut self) {
        let mut computing = lock(&self.views.inner.computing);
        // The map's and this one: nobody else is in line.
        if Arc::strong_count(&self.turn) == 2 {
            computing.remove(&self.key);
        }
    }
}

/// The most sessions kept; past it the kept ones are dropped (and read again on next use).
const MAX_SESSIONS: usize = 100_000;

/// The most officers' facts kept; past it the kept ones are dropped.
const MAX_OFFICERS: usize = 100_000;

impl Views {
    /// Views keeping at most `budget` bytes of due lists.
    pub fn new(budget: usize) -> Self {
        Views {
            inner: Arc::new(Inner {
                budget,
                due: Mutex::default(),
                sessions: Mutex::default(),
                officers: Mutex::default(),
                classes_under_policy: Mutex::default(),
                computing: Mutex::default(),
                due_computed: Default::default(),
            }),
        }
    }

    /// A turn at computing the due list for `key`: held by one request at a time, so that
    /// requests for a list that is not kept compute it once between them, not once each
    /// (after a visit, every phone of the grid asks at once). Whoever holds it looks for
    /// the list again first: the holder before may have kept it.
    pub fn due_turn(&self, key: &DueKey) -> DueTurn {
        let turn = Arc::clone(lock(&self.inner.computing).entry(key.clone()).or_default());
        DueTurn {
            views: self.clone(),
            key: key.clone(),
            turn,
        }
    }

    /// The kept due list for `key`, if computed under `generation`.
    pub fn due(&self, key: &DueKey, generation: Generation) -> Option<Arc<DueJson>> {
        lock(&self.inner.due)
            .lists
            .get(key)
            .filter(|d| d.generation == generation)
            .cloned()
    }

    /// Due lists computed from the store since start (and kept, when they fit).
    pub fn due_lists_computed(&self) -> u64 {
        self.inner
            .due_computed
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Keeps a due list; when the budget is spent, stale lists go first, then any.
    pub fn keep_due(&self, key: DueKey, list: Arc<DueJson>) {
        self.inner
            .due_computed
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let size = list.json.len();
        if size > self.inner.budget / 4 {
            return;
        }
        let mut due = lock(&self.inner.due);
        if let Some(old) = due.lists.insert(key, list) {
            due.bytes -= old.json.len();
        }
        due.bytes += size;
        if due.bytes > self.inner.budget {
            let newest = due.lists.values().map(|d| d.generation.global).max();
            due.lists.retain(|_, d| Some(d.generation.global) == newest);
            let target = self.inner.budget / 2;
            let mut bytes: usize = due.lists.values().map(|d| d.json.len()).sum();
            due.lists.retain(|_, d| {
                if bytes <= target {
                    return true;
                }
                bytes -= d.json.len();
                false
            });
            due.bytes = bytes;
        }
    }

    /// The caller of a token (by its hash) kept under global generation `global`, while the
    /// session lasts at `now`.
    pub fn session(&self, token_hash: &str, global: u64, now: &str) -> Option<Caller> {
        lock(&self.inner.sessions)
            .get(token_hash)
            .filter(|s| s.global == global && now < s.expires_at.as_str())
            .map(|s| s.caller.clone())
    }

    pub fn keep_session(
        &self,
        token_hash: String,
        caller: Caller,
        expires_at: String,
        global: u64,
    ) {
        let mut sessions = lock(&self.inner.sessions);
        if sessions.len() >= MAX_SESSIONS {
            sessions.clear();
        }
        sessions.insert(
            token_hash,
            Session {
                caller,
                expires_at,
                global,
            },
        );
    }

    /// An officer's facts kept under global generation `global`.
    pub fn officer(&self, officer_id: &str, global: u64) -> Option<Arc<OfficerFacts>> {
        lock(&self.inner.officers)
            .get(officer_id)
            .filter(|f| f.global == global)
            .cloned()
    }

    pub fn keep_officer(&self, officer_id: &str, facts: Arc<OfficerFacts>) {
        let mut officers = lock(&self.inner.officers);
        if officers.len() >= MAX_OFFICERS {
            officers.clear();
        }
        officers.insert(officer_id.to_owned(), facts);
    }

    /// Whether the stored classes are under the app's policy, as known under `global`.
    pub fn classes_under_policy(&self, global: u64) -> Option<bool> {
        lock(&self.inner.classes_under_policy)
            .filter(|(g, _)| *g == global)
            .map(|(_, known)| known)
    }

    pub fn keep_classes_under_policy(&self, global: u64, known: bool) {
        *lock(&self.inner.classes_under_policy) = Some((global, known));
    }
}
