//! Use cases: each joins the store and the domain, reads the clock once, and runs in one
//! transaction so that it happens whole or not at all.

pub mod access;
pub mod accounts;
mod businesses;
pub mod clock;
pub mod demo;
mod grids;
pub mod plan;
pub mod posts;
pub mod public;
pub mod report;
pub mod schedule;
pub mod service;
pub mod views;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use serde::Serialize;

pub use businesses::{EntityDetail, Event, ReclassifyReport, policy_fingerprint};
pub use clock::Clock;
pub use grids::{
    GridSummary, RegionGraph, grid_summaries, grids_geojson, read_plan, region_graph,
    write_grids_geojson,
};

use crate::domain::policy::Policy;
use crate::import::{ImportError, read_region};
use crate::spatial::crs::Crs;
use crate::spatial::locate::UnitLocator;
use crate::store::{BusinessFilter, Database, PooledStore, StoreError};

/// Errors of use cases; the HTTP layer maps them to status codes.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The request itself is wrong (names the field).
    #[error("{0}")]
    Invalid(String),
    /// No valid sign-in.
    #[error("{0}")]
    Unauthorized(String),
    /// Signed in, but not allowed.
    #[error("{0}")]
    Forbidden(String),
    /// The request clashes with what is stored.
    #[error("{0}")]
    Conflict(String),
    /// A file could not be written or read (logged, never shown).
    #[error("{0}")]
    Io(String),
}

/// What the application needs to run: where the database is, the policy and the clock.
#[derive(Debug, Clone)]
pub struct App {
    pub db_path: PathBuf,
    pub policy: Policy,
    pub clock: Clock,
    /// Where photos are kept (default: `<db>.data` beside the database).
    pub data_dir: Option<PathBuf>,
    /// How long a login lasts.
    pub token_hours: u32,
    /// The database the app's data is in (any store behind [`Database`]'s contract),
    /// shared by the app's clones.
    pub connections: Database,
    /// Sessions and due lists kept in memory, shared by the app's clones.
    pub views: views::Views,
}

/// The app's settings that a deployment may change. The defaults are the service's: the
/// service configuration (`config`) starts from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where photos are kept (`None`: `<db>.data` beside the database).
    pub data_dir: Option<PathBuf>,
    /// A login token is valid this many hours.
    pub token_hours: u32,
    /// Memory for officers' due lists kept between requests (MiB); 0 keeps none.
    pub due_cache_mb: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: None,
            token_hours: 12,
            due_cache_mb: 64,
        }
    }
}

impl App {
    /// An app on a database with the default settings of the service.
    pub fn new(db_path: PathBuf, policy: Policy, clock: Clock) -> Self {
        App::with_settings(db_path, policy, clock, Settings::default())
    }

    /// An app on a database with the given settings.
    pub fn with_settings(
        db_path: PathBuf,
        policy: Policy,
        clock: Clock,
        settings: Settings,
    ) -> Self {
        App {
            db_path,
            policy,
            clock,
            data_dir: settings.data_dir,
            token_hours: settings.token_hours,
            connections: Database::default(),
            views: views::Views::new(settings.due_cache_mb.saturating_mul(1 << 20)),
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub region: String,
    pub name: String,
    pub rows_per_file: Vec<(String, usize)>,
    pub units: usize,
    pub businesses: usize,
    pub located: usize,
    /// Businesses no unit holds: (id, name, why).
    pub unlocated: Vec<(String, String, String)>,
    pub classes: BTreeMap<String, usize>,
    pub class_changes: usize,
    pub as_of: NaiveDate,
    pub seconds: f64,
}

impl App {
    /// A connection to the app's database.
    pub fn open_store(&self) -> Result<PooledStore<'_>, AppError> {
        Ok(self.connections.open(&self.db_path)?)
    }

    /// Imports a region directory: reads and checks every file, locates every business, and
    /// writes the region and the businesses' classes as of today in one transaction. Any
    /// problem leaves the database exactly as it was.
    pub fn import_region(
        &self,
        dir: &Path,
        crs: Crs,
        actor: &str,
    ) -> Result<ImportReport, AppError> {
        let started = Instant::now();
        let region = read_region(dir, crs, &self.policy)?;
        // The locator ranks units by code, which decides points on shared edges.
        let mut order: Vec<usize> = (0..region.units.len()).collect();
        order.sort_by(|&a, &b| region.units[a].code.cmp(&region.units[b].code));
        let locator = UnitLocator::new(
            order
                .iter()
                .map(|&i| region.units[i].shape.clone())
                .collect(),
        );
        let points: Vec<Option<(f64, f64)>> =
            region.businesses.iter().map(|b| b.location).collect();
        let unit_of: Vec<Option<usize>> = locator
            .locate_all(&points)
            .into_iter()
            .map(|u| u.map(|k| order[k]))
            .collect();
        let unlocated: Vec<(String, String, String)> = region
            .businesses
            .iter()
            .zip(&unit_of)
            .filter(|(_, u)| u.is_none())
            .map(|(b, _)| {
                let why = match b.location {
                    None => "no coordinates".to_owned(),
                    Some((lon, lat)) => format!("({lon}, {lat}) is outside every unit"),
                };
                (b.id.to_string(), b.name.clone(), why)
            })
            .collect();

        let as_of = self.clock.today();
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        let code = region.jurisdiction.code.clone();
        let (classes, class_changes) = store.write(|db| -> Result<_, AppError> {
            db.write_region(&region, &unit_of, crs, &at)?;
            let report = businesses::reclassify_in(&db, &self.policy, &BusinessFilter::Region(code.clone()), as_of, "import", &at)?;
            db.audit(
                &at,
                actor,
                "import",
                &code,
                &serde_json::json!({ "dir": dir.display().to_string(), "crs": crs, "rows": region.rows_per_file }),
            )?;
            Ok((report.classes, report.changed))
        })?;
        Ok(ImportReport {
            region: code,
            name: region.jurisdiction.name.clone(),
            rows_per_file: region.rows_per_file.clone(),
            units: region.units.len(),
            businesses: region.businesses.len(),
            located: unit_of.iter().filter(|u| u.is_some()).count(),
            unlocated,
            classes,
            class_changes,
            as_of,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
