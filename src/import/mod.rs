//! Region files (SPEC §8) → domain values. Reads everything, checks everything, and either
//! returns the whole region or every problem found, each named by file, line and column or
//! by GeoJSON feature. Writes nothing: the store writes a region only once it is whole.

pub mod geojson;
pub mod graph;
pub mod problem;
pub mod table;

use std::collections::{HashMap, HashSet};
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

    let mut businesses = Vec::new();
    let mut index_of: HashMap<EntityId, usize> = HashMap::new();
    // Ids of rows that had a problem: their records are not reported again as unknown.
    let mut rejected_ids: HashSet<String> = HashSet::new();
    let entities = dir.join(ENTITIES);
    match File::open(&entities) {
        Err(e) => problems.push(
            ENTITIES,
            Location::File,
            ProblemKind::Unreadable,
            format!("cannot open {}: {e}", entities.display()),
        ),
        Ok(file) => {
            let size = file.metadata().map(|m| m.len()).unwrap_or(0);
            let required = ENTITY_COLUMNS;
            let rows = Table::read(ENTITIES, file, size, &required, &mut problems, |row| {
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
                let raw_id = row.text("id").to_owned();
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
                    rejected_ids.insert(raw_id);
                }
            });
            rows_per_file.push((ENTITIES.to_owned(), rows));
        }
    }
    let mut records = vec![Records::default(); businesses.len()];

    // The record files share one shape: an entity id column that must name a known business.
    let entity_of = |row: &mut table::Row<'_, '_>| -> Option<usize> {
        let text = row.text("entity_id").trim().to_owned();
        match EntityId::parse(&text)
            .ok()
            .and_then(|id| index_of.get(&id).copied())
        {
            Some(i) => Some(i),
            None if rejected_ids.contains(&text) => None,
            None => {
                row.problem(
                    Some("entity_id"),
                    ProblemKind::UnknownEntity,
                    format!("entity '{text}' is not in {ENTITIES}"),
                );
                None
            }
        }
    };

    if let Some((file, size)) = open_optional(dir, VIOLATIONS, &mut problems) {
        let required = VIOLATION_COLUMNS;
        let rows = Table::read(VIOLATIONS, file, size, &required, &mut problems, |row| {
            let entity = entity_of(row);
            let date = row.date("date");
            let severity = row.parse("severity");
            let suspended = row.boolean("suspended");
            let revoked = row.boolean("revoked");
            let note = row.text("note").to_owned();
            if let (Some(e), Some(date), Some(severity), Some(suspended), Some(revoked)) =
                (entity, date, severity, suspended, revoked)
            {
                records[e].violations.push(Violation {
                    date,
                    severity,
                    suspended,
                    revoked,
                    note,
                });
            }
        });
        rows_per_file.push((VIOLATIONS.to_owned(), rows));
    }
    if let Some((file, size)) = open_optional(dir, COMPLAINTS, &mut problems) {
        let required = COMPLAINT_COLUMNS;
        let rows = Table::read(COMPLAINTS, file, size, &required, &mut problems, |row| {
            let entity = entity_of(row);
            let date = row.date("date");
            let channel = row.text("channel").trim().to_owned();
            let substantiated = row.boolean("substantiated");
            if let (Some(e), Some(date), Some(substantiated)) = (entity, date, substantiated) {
                records[e].complaints.push(Complaint {
                    date,
                    channel,
                    substantiated,
                });
            }
        });
        rows_per_file.push((COMPLAINTS.to_owned(), rows));
    }
    if let Some((file, size)) = open_optional(dir, ANNUAL_REPORTS, &mut problems) {
        let mut seen: HashSet<(usize, i32)> = HashSet::new();
        let rows = Table::read(
            ANNUAL_REPORTS,
            file,
            size,
            &ANNUAL_REPORT_COLUMNS,
            &mut problems,
            |row| {
                let entity = entity_of(row);
                let year = row
                    .number::<i32>("year", "a year")
                    .filter(|y| (1949..=9999).contains(y));
                let result = row.parse("result");
                if let (Some(e), Some(year), Some(result)) = (entity, year, result) {
                    if !seen.insert((e, year)) {
                        row.problem(
                            Some("year"),
                            ProblemKind::DuplicateId,
                            format!("a second report for year {year}"),
                        );
                        return;
                    }
                    records[e]
                        .annual_reports
                        .push(AnnualReport { year, result });
                }
            },
        );
        rows_per_file.push((ANNUAL_REPORTS.to_owned(), rows));
    }
    if let Some((file, size)) = open_optional(dir, INSPECTIONS, &mut problems) {
        let required = INSPECTION_COLUMNS;
        let rows = Table::read(INSPECTIONS, file, size, &required, &mut problems, |row| {
            let entity = entity_of(row);
            let date = row.date("date");
            let officer_id = row.text("officer_id").trim().to_owned();
            let kind = row.parse("kind");
            let outcome = row.parse("outcome");
            if let (Some(e), Some(date), Some(kind), Some(outcome)) = (entity, date, kind, outcome)
            {
                records[e].inspections.push(Inspection {
                    date,
                    officer_id,
                    kind,
                    outcome,
                });
            }
        });
        rows_per_file.push((INSPECTIONS.to_owned(), rows));
    }
    let mut officers = Vec::new();
    if let Some((file, size)) = open_optional(dir, OFFICERS, &mut problems) {
        let required = OFFICER_COLUMNS;
        let mut seen = HashSet::new();
        let rows = Table::read(OFFICERS, file, size, &required, &mut problems, |row| {
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
        });
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
