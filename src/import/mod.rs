//! Region files (SPEC §8) → domain values. Reads everything, checks everything, and either
//! returns the whole region or every problem found, each named by file, line and column or
//! by GeoJSON feature. Writes nothing: the store writes a region only once it is whole.

pub mod geojson;
pub mod graph;
pub mod problem;
pub mod table;

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};

pub use geojson::{Jurisdiction, Unit};
pub use problem::{ImportError, Location, Problem, ProblemKind, Problems};
use table::Table;

use crate::domain::entity::{
    AnnualReport, Business, Complaint, EntityId, EntityIdError, Inspection, Officer, Records,
    Violation,
};
use crate::domain::policy::Policy;
use crate::spatial::crs::Crs;

/// A whole region read from its directory.
#[derive(Debug, Clone)]
pub struct RegionData {
    pub dir: PathBuf,
    pub jurisdiction: Jurisdiction,
    pub units: Vec<Unit>,
    pub businesses: Vec<Business>,
    /// Parallel to `businesses`.
    pub records: Vec<Records>,
    pub officers: Vec<Officer>,
    /// Rows read per file, in reading order.
    pub rows_per_file: Vec<(String, usize)>,
}

pub const JURISDICTION: &str = "jurisdiction.geojson";
pub const UNITS: &str = "units.geojson";
pub const ENTITIES: &str = "entities.csv";
pub const VIOLATIONS: &str = "violations.csv";
pub const COMPLAINTS: &str = "complaints.csv";
pub const ANNUAL_REPORTS: &str = "annual_reports.csv";
pub const INSPECTIONS: &str = "inspections.csv";
pub const OFFICERS: &str = "officers.csv";

/// The columns SPEC §8 names for each CSV file: required in this order by the generator
/// and by name (any order, extra columns allowed) by the import.
pub const ENTITY_COLUMNS: [&str; 8] = [
    "id",
    "name",
    "industry",
    "licence",
    "lon",
    "lat",
    "address",
    "registered_on",
];
pub const VIOLATION_COLUMNS: [&str; 6] = [
    "entity_id",
    "date",
    "severity",
    "suspended",
    "revoked",
    "note",
];
pub const COMPLAINT_COLUMNS: [&str; 4] = ["entity_id", "date", "channel", "substantiated"];
pub const ANNUAL_REPORT_COLUMNS: [&str; 3] = ["entity_id", "year", "result"];
pub const INSPECTION_COLUMNS: [&str; 5] = ["entity_id", "date", "officer_id", "kind", "outcome"];
pub const OFFICER_COLUMNS: [&str; 7] = [
    "id",
    "name",
    "role",
    "years_of_service",
    "hours_per_month",
    "certified",
    "skills",
];

fn read_text(dir: &Path, name: &str) -> Result<String, ImportError> {
    std::fs::read_to_string(dir.join(name)).map_err(|e| {
        ImportError::single(
            name,
            Location::File,
            ProblemKind::Unreadable,
            format!("cannot read {}: {e}", dir.join(name).display()),
        )
    })
}

/// Opens an optional CSV file: `None` when the region does not have it.
fn open_optional(dir: &Path, name: &str, problems: &mut Problems) -> Option<(File, u64)> {
    let path = dir.join(name);
    if !path.exists() {
        return None;
    }
    match File::open(&path) {
        Ok(f) => {
            let size = f.metadata().map(|m| m.len()).unwrap_or(0);
            Some((f, size))
        }
        Err(e) => {
            problems.push(
                name,
                Location::File,
                ProblemKind::Unreadable,
                format!("cannot open {}: {e}", path.display()),
            );
            None
        }
    }
}

/// Reads a whole file, naming it by its file name in problems.
pub fn read_named(path: &Path) -> Result<(String, String), ImportError> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let text = std::fs::read_to_string(path).map_err(|e| {
        ImportError::single(
            &name,
            Location::File,
            ProblemKind::Unreadable,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    Ok((name, text))
}

/// Reads just the base units of a file (used by import and by the generators).
pub fn read_units_file(path: &Path, crs: Crs) -> Result<Vec<Unit>, ImportError> {
    let (name, text) = read_named(path)?;
    let mut problems = Problems::default();
    let units = geojson::read_units(&name, &text, crs, &mut problems);
    problems.into_result(units)
}

/// Reads and checks a region directory. `crs` is the system of every coordinate in it.
pub fn read_region(dir: &Path, crs: Crs, policy: &Policy) -> Result<RegionData, ImportError> {
    let jurisdiction =
        geojson::read_jurisdiction(JURISDICTION, &read_text(dir, JURISDICTION)?, crs)?;
    let mut problems = Problems::default();
    let units = geojson::read_units(UNITS, &read_text(dir, UNITS)?, crs, &mut problems);
    let mut rows_per_file = vec![
        (JURISDICTION.to_owned(), 1),
        (UNITS.to_owned(), units.len()),
    ];

    // The record files do not depend on each other: each is read on its own thread while
    // this one reads the register, and they are matched to it afterwards.
    let progress = indicatif::MultiProgress::new();
    let (entities, violations, complaints, annual_reports, inspections) =
        std::thread::scope(|scope| {
            let violations = scope.spawn(|| {
                read_records(dir, VIOLATIONS, &VIOLATION_COLUMNS, &progress, |row| {
                    let date = row.date("date");
                    let severity = row.parse("severity");
                    let suspended = row.boolean("suspended");
                    let revoked = row.boolean("revoked");
                    let note = row.text("note").to_owned();
                    Some(Violation {
                        date: date?,
                        severity: severity?,
                        suspended: suspended?,
                        revoked: revoked?,
                        note,
                    })
                })
            });
            let complaints = scope.spawn(|| {
                read_records(dir, COMPLAINTS, &COMPLAINT_COLUMNS, &progress, |row| {
                    let date = row.date("date");
                    let channel = row.text("channel").trim().to_owned();
                    let substantiated = row.boolean("substantiated");
                    Some(Complaint {
                        date: date?,
                        channel,
                        substantiated: substantiated?,
                    })
                })
            });
            let annual_reports = scope.spawn(|| {
                read_records(
                    dir,
                    ANNUAL_REPORTS,
                    &ANNUAL_REPORT_COLUMNS,
                    &progress,
                    |row| {
                        let year = row
                            .number::<i32>("year", "a year")
                            .filter(|y| (1949..=9999).contains(y));
                        let result = row.parse("result");
                        Some(AnnualReport {
                            year: year?,
                            result: result?,
                        })
                    },
                )
            });
            let inspections = scope.spawn(|| {
                read_records(dir, INSPECTIONS, &INSPECTION_COLUMNS, &progress, |row| {
                    let date = row.date("date");
                    let officer_id = row.text("officer_id").trim().to_owned();
                    let kind = row.parse("kind");
                    let outcome = row.parse("outcome");
                    Some(Inspection {
                        date: date?,
                        officer_id,
                        kind: kind?,
                        outcome: outcome?,
                    })
                })
            });
            let entities = read_entities(dir, crs, policy, &progress);
            (
                entities,
                joined(violations),
                joined(complaints),
                joined(annual_reports),
                joined(inspections),
            )
        });
    let Entities {
        businesses,
        index_of,
        rejected_ids,
        rows,
        problems: entity_problems,
    } = entities;
    problems.append(entity_problems);
    if let Some(rows) = rows {
        rows_per_file.push((ENTITIES.to_owned(), rows));
    }
    let mut records = vec![Records::default(); businesses.len()];
    let mut matcher = Matcher {
        index_of: &index_of,
        rejected_ids: &rejected_ids,
        problems: &mut problems,
        rows_per_file: &mut rows_per_file,
    };
    matcher.attach(VIOLATIONS, violations, |e, v| {
        records[e].violations.push(v);
        Ok(())
    });
    matcher.attach(COMPLAINTS, complaints, |e, c| {
        records[e].complaints.push(c);
        Ok(())
    });
    let mut seen: HashSet<(usize, i32)> = HashSet::new();
    matcher.attach(ANNUAL_REPORTS, annual_reports, |e, r: AnnualReport| {
        if !seen.insert((e, r.year)) {
            return Err((
                "year",
                ProblemKind::DuplicateId,
                format!("a second report for year {}", r.year),
            ));
        }
        records[e].annual_reports.push(r);
        Ok(())
    });
    matcher.attach(INSPECTIONS, inspections, |e, i| {
        records[e].inspections.push(i);
        Ok(())
    });
    let mut officers = Vec::new();
    if let Some((file, size)) = open_optional(dir, OFFICERS, &mut problems) {
        let required = OFFICER_COLUMNS;
        let mut seen = HashSet::new();
        let rows = Table::read(
            OFFICERS,
            file,
            size,
            &required,
            &mut problems,
            &progress,
            |row| {
                let id = row.required("id");
                let name = row.required("name");
                let role = row.parse("role");
                let years = row.number::<u32>("years_of_service", "a whole number of years");
                let hours = row
                    .number::<f64>("hours_per_month", "a number of hours")
                    .filter(|h| h.is_finite() && *h >= 0.0);
                let certified = row.boolean("certified");
                let skills = row
                    .text("skills")
                    .split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if let (
                    Some(id),
                    Some(name),
                    Some(role),
                    Some(years_of_service),
                    Some(hours_per_month),
                    Some(certified),
                ) = (id, name, role, years, hours, certified)
                {
                    if !seen.insert(id.clone()) {
                        row.problem(
                            Some("id"),
                            ProblemKind::DuplicateId,
                            format!("officer '{id}' appears twice"),
                        );
                        return;
                    }
                    officers.push(Officer {
                        id,
                        name,
                        role,
                        years_of_service,
                        hours_per_month,
                        certified,
                        skills,
                    });
                }
            },
        );
        rows_per_file.push((OFFICERS.to_owned(), rows));
    }
    problems.into_result(RegionData {
        dir: dir.to_owned(),
        jurisdiction,
        units,
        businesses,
        records,
        officers,
        rows_per_file,
    })
}

/// A reader thread's result; its panic goes on in this thread.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    match handle.join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// The register as read from `entities.csv`, before the records are matched to it.
struct Entities {
    businesses: Vec<Business>,
    index_of: rustc_hash::FxHashMap<EntityId, usize>,
    /// Ids of rows that had a problem: their records are not reported again as unknown.
    rejected_ids: HashSet<String>,
    /// Rows read (`None` when the file could not be opened).
    rows: Option<usize>,
    problems: Problems,
}

fn read_entities(
    dir: &Path,
    crs: Crs,
    policy: &Policy,
    progress: &indicatif::MultiProgress,
) -> Entities {
    let mut problems = Problems::default();
    let mut businesses = Vec::new();
    let mut index_of = rustc_hash::FxHashMap::<EntityId, usize>::default();
    let mut rejected_ids: HashSet<String> = HashSet::new();
    let entities = dir.join(ENTITIES);
    let rows = match File::open(&entities) {
        Err(e) => {
            problems.push(
                ENTITIES,
                Location::File,
                ProblemKind::Unreadable,
                format!("cannot open {}: {e}", entities.display()),
            );
            None
        }
        Ok(file) => {
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            let required = ENTITY_COLUMNS;
            Some(Table::read(
                ENTITIES,
                file,
                size,
                &required,
                &mut problems,
                progress,
                |row| {
                    let id = match EntityId::parse(row.text("id")) {
                        Ok(id) => Some(id),
                        Err(e) => {
                            let kind = match e {
                                EntityIdError::Code { .. } => ProblemKind::BadCreditCode,
                                _ => ProblemKind::BadValue,
                            };
                            row.problem(Some("id"), kind, e.to_string());
                            None
                        }
                    };
                    let name = row.required("name");
                    let industry = row.text("industry").trim().to_owned();
                    let industry_ok = policy.classification.is_known_industry(&industry);
                    if !industry_ok {
                        row.problem(
                            Some("industry"),
                            ProblemKind::UnknownIndustry,
                            format!(
                                "unknown industry '{industry}' (the policy lists: {})",
                                policy.classification.industries.join(", ")
                            ),
                        );
                    }
                    let licence = row.parse("licence");
                    let location = read_location(row, crs);
                    let registered_on = row.optional_date("registered_on");
                    let address = row.text("address").trim().to_owned();
                    let raw_id = row.text("id").trim();
                    if let (
                        Some(id),
                        Some(name),
                        true,
                        Some(licence),
                        Some(location),
                        Some(registered_on),
                    ) = (id, name, industry_ok, licence, location, registered_on)
                    {
                        if index_of.contains_key(&id) {
                            row.problem(
                                Some("id"),
                                ProblemKind::DuplicateId,
                                format!("entity '{id}' appears twice"),
                            );
                            return;
                        }
                        index_of.insert(id.clone(), businesses.len());
                        businesses.push(Business {
                            id,
                            name,
                            industry,
                            licence,
                            location,
                            address,
                            registered_on,
                        });
                    } else {
                        rejected_ids.insert(raw_id.to_owned());
                    }
                },
            ))
        }
    };
    Entities {
        businesses,
        index_of,
        rejected_ids,
        rows,
        problems,
    }
}

/// The rows of one record file, read but not yet matched to the register: line, entity
/// id (or its text when it is not a valid code), and the record when its fields are good.
struct ReadRecords<R> {
    /// Rows read (`None` when the optional file is absent or unreadable).
    rows: Option<usize>,
    problems: Problems,
    pending: Vec<(u64, Result<EntityId, String>, Option<R>)>,
}

fn read_records<R>(
    dir: &Path,
    name: &str,
    required: &[&str],
    progress: &indicatif::MultiProgress,
    mut parse: impl FnMut(&mut table::Row<'_, '_>) -> Option<R>,
) -> ReadRecords<R> {
    let mut problems = Problems::default();
    let mut pending = Vec::new();
    let rows = open_optional(dir, name, &mut problems).map(|(file, size)| {
        Table::read(name, file, size, required, &mut problems, progress, |row| {
            let text = row.text("entity_id").trim();
            let id = EntityId::parse(text).map_err(|_| text.to_owned());
            let record = parse(row);
            pending.push((row.line, id, record));
        })
    });
    ReadRecords {
        rows,
        problems,
        pending,
    }
}

/// Matches read records to the register: every record must name a known business.
struct Matcher<'a> {
    index_of: &'a rustc_hash::FxHashMap<EntityId, usize>,
    rejected_ids: &'a HashSet<String>,
    problems: &'a mut Problems,
    rows_per_file: &'a mut Vec<(String, usize)>,
}

/// A problem found while keeping a record: column, kind, message.
type KeepProblem = (&'static str, ProblemKind, String);

impl Matcher<'_> {
    /// Hands each good record of a known business to `keep`; reports records of unknown
    /// businesses (unless the business's own row was rejected) and what `keep` refuses.
    fn attach<R>(
        &mut self,
        name: &str,
        read: ReadRecords<R>,
        mut keep: impl FnMut(usize, R) -> Result<(), KeepProblem>,
    ) {
        let ReadRecords {
            rows,
            mut problems,
            pending,
        } = read;
        let mut found = Problems::default();
        for (line, id, record) in pending {
            let entity = id
                .as_ref()
                .ok()
                .and_then(|id| self.index_of.get(id).copied());
            match (entity, record) {
                (Some(e), Some(record)) => {
                    if let Err((column, kind, message)) = keep(e, record) {
                        let column = Some(column.to_owned());
                        found.push(name, Location::Line { line, column }, kind, message);
                    }
                }
                (Some(_), None) => {}
                (None, _) => {
                    let text = id.map_or_else(|text| text, |id| id.to_string());
                    if !self.rejected_ids.contains(&text) {
                        found.push(
                            name,
                            Location::Line {
                                line,
                                column: Some("entity_id".to_owned()),
                            },
                            ProblemKind::UnknownEntity,
                            format!("entity '{text}' is not in {ENTITIES}"),
                        );
                    }
                }
            }
        }
        problems.append(found);
        problems.sort_by_line();
        self.problems.append(problems);
        if let Some(rows) = rows {
            self.rows_per_file.push((name.to_owned(), rows));
        }
    }
}

/// `lon`/`lat`: both empty is no position (reported later as unlocated); otherwise both must
/// be numbers in range. Converted from `crs` to WGS84.
fn read_location(row: &mut table::Row<'_, '_>, crs: Crs) -> Option<Option<(f64, f64)>> {
    let (lon_text, lat_text) = (
        row.text("lon").trim().to_owned(),
        row.text("lat").trim().to_owned(),
    );
    if lon_text.is_empty() && lat_text.is_empty() {
        return Some(None);
    }
    let lon = row.number::<f64>("lon", "a longitude");
    let lat = row.number::<f64>("lat", "a latitude");
    let (lon, lat) = (lon?, lat?);
    if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
        row.problem(
            Some("lon"),
            ProblemKind::CoordinatesOutOfRange,
            format!("longitude {lon} is outside −180..180"),
        );
        return None;
    }
    if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
        row.problem(
            Some("lat"),
            ProblemKind::CoordinatesOutOfRange,
            format!("latitude {lat} is outside −90..90"),
        );
        return None;
    }
    Some(Some(crs.to_wgs84(lon, lat)))
}
