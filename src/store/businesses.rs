//! The business register in the store: streaming businesses with their records, the
//! stored classification and its history, recorded events, overrides and summaries.

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{Db, Result, StoreError};
use crate::domain::entity::{
    AnnualReport, Business, Complaint, EntityId, Inspection, Licence, Outcome, Records,
    ReportResult, Violation,
};
use crate::domain::policy::RiskClass;

/// Which businesses to stream.
#[derive(Debug, Clone)]
pub enum BusinessFilter {
    All,
    Region(String),
    /// Never classified, or due for review on or before the date.
    ReviewDue(NaiveDate),
    One(EntityId),
}

impl BusinessFilter {
    /// The WHERE clause on `businesses` and its one parameter.
    fn clause(&self) -> (&'static str, Option<String>) {
        match self {
            BusinessFilter::All => ("1 = 1", None),
            BusinessFilter::Region(code) => ("region_code = ?1", Some(code.clone())),
            // Never classified, or due for review: each from its own index (SQLite would
            // read every business for the OR of the two), for the pass and for each of its
            // reads of those businesses' records.
            BusinessFilter::ReviewDue(date) => (
                "id IN (SELECT id FROM businesses INDEXED BY businesses_review_on WHERE class_review_on <= ?1
                        UNION ALL
                        SELECT id FROM businesses INDEXED BY businesses_unclassified WHERE class IS NULL)",
                Some(date.to_string()),
            ),
            BusinessFilter::One(id) => ("id = ?1", Some(id.as_str().to_owned())),
        }
    }
}

/// The classification as stored on a business row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredClass {
    pub class: RiskClass,
    /// JSON array of reasons.
    pub reasons: String,
    pub changes_on: Option<NaiveDate>,
    pub review_on: Option<NaiveDate>,
}

/// What recording a visit reads of its business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessForVisit {
    pub region_code: String,
    pub unit_code: Option<String>,
    pub class: Option<String>,
    /// ISO date (`YYYY-MM-DD`), as stored.
    pub class_review_on: Option<String>,
}

impl BusinessForVisit {
    /// The stored class while it holds on `day`: before the stored review date, when the
    /// class (and its reasons) read the same with no new record.
    pub fn class_holding_on(&self, day: NaiveDate) -> Option<String> {
        let holds = match &self.class_review_on {
            None => true,
            // ISO dates order as text.
            Some(review) => review.as_str() > day.to_string().as_str(),
        };
        self.class.clone().filter(|_| holds)
    }
}

/// A business, its records and its stored classification.
#[derive(Debug, Clone)]
pub struct BusinessRow {
    pub business: Business,
    pub region_code: String,
    pub unit_code: Option<String>,
    pub records: Records,
    pub stored: Option<StoredClass>,
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// A stored date. Dates are stored as `YYYY-MM-DD`, read here as an import reads them,
/// without chrono's general format parser (a business's whole record is read on every
/// event and by the nightly job); any other form goes through that parser.
fn parse_date(text: &str) -> Result<NaiveDate> {
    crate::import::table::parse_date(text)
        .ok()
        .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .ok_or_else(|| corrupt(format!("bad date '{text}'")))
}

fn parse_opt_date(text: Option<String>) -> Result<Option<NaiveDate>> {
    text.as_deref().map(parse_date).transpose()
}

fn parse_word<T: std::str::FromStr<Err = String>>(text: &str) -> Result<T> {
    text.parse().map_err(corrupt)
}

/// The statements [`Db::for_each_business_with`] reads a subset of businesses with: the
/// businesses, then their violations, complaints, annual reports and inspections, each in
/// business order.
fn record_queries(filter: &BusinessFilter, inspections: InspectionRows) -> [String; 5] {
    // Refusals come from their own (partial) index, a few entries where the business has
    // any, rather than from every visit it ever had.
    let (index, outcome) = match inspections {
        InspectionRows::All => ("", String::new()),
        InspectionRows::Refusals => (
            "INDEXED BY inspections_refused",
            format!("AND outcome = '{}'", Outcome::Refused.as_str()),
        ),
    };
    let (clause, _) = filter.clause();
    // The records of the same businesses: one by its id, all of them in one ordered scan
    // (a subquery of every business would probe the records once per business), or the
    // subset's.
    let of_subset = match filter {
        BusinessFilter::One(_) => "entity_id = ?1".to_owned(),
        BusinessFilter::All => "1 = 1".to_owned(),
        _ => format!("entity_id IN (SELECT id FROM businesses WHERE {clause})"),
    };
    [
        format!(
            "SELECT id, region_code, name, industry, licence, lon, lat, address, registered_on, unit_code,
                    class, class_reasons, class_changes_on, class_review_on
             FROM businesses WHERE {clause} ORDER BY id"
        ),
        format!(
            "SELECT entity_id, date, severity, suspended, revoked, note FROM violations
             WHERE {of_subset} ORDER BY entity_id, date, id"
        ),
        format!(
            "SELECT entity_id, date, channel, substantiated FROM complaints
             WHERE {of_subset} ORDER BY entity_id, date, id"
        ),
        format!(
            "SELECT entity_id, year, result FROM annual_reports WHERE {of_subset} ORDER BY entity_id, year"
        ),
        format!(
            "SELECT entity_id, date, officer_id, kind, outcome FROM inspections {index}
             WHERE {of_subset} {outcome} ORDER BY entity_id, date, id"
        ),
    ]
}

fn business_from_row(
    row: &Row<'_>,
) -> rusqlite::Result<(Business, String, Option<String>, Option<StoredClassText>)> {
    let lon: Option<f64> = row.get("lon")?;
    let lat: Option<f64> = row.get("lat")?;
    let id: String = row.get("id")?;
    let licence: String = row.get("licence")?;
    let registered_on: Option<String> = row.get("registered_on")?;
    let class: Option<String> = row.get("class")?;
    let stored = match class {
        Some(class) => Some(StoredClassText {
            class,
            reasons: row
                .get::<_, Option<String>>("class_reasons")?
                .unwrap_or_else(|| "[]".into()),
            changes_on: row.get("class_changes_on")?,
            review_on: row.get("class_review_on")?,
        }),
        None => None,
    };
    Ok((
        Business {
            id: EntityId::parse(&id).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    0,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
            name: row.get("name")?,
            industry: row.get("industry")?,
            licence: licence.parse().unwrap_or(Licence::Unlicensed),
            location: lon.zip(lat),
            address: row.get("address")?,
            registered_on: registered_on
                .and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
        },
        row.get("region_code")?,
        row.get("unit_code")?,
        stored,
    ))
}

struct StoredClassText {
    class: String,
    reasons: String,
    changes_on: Option<String>,
    review_on: Option<String>,
}

impl StoredClassText {
    fn parse(self) -> Result<StoredClass> {
        Ok(StoredClass {
            class: parse_word(&self.class)?,
            reasons: self.reasons,
            changes_on: parse_opt_date(self.changes_on)?,
            review_on: parse_opt_date(self.review_on)?,
        })
    }
}

/// Counts for the summary page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub regions: Vec<RegionSummary>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct RegionSummary {
    pub code: String,
    pub name: String,
    pub area_km2: f64,
    pub units: i64,
    pub businesses: i64,
    pub unlocated: i64,
    pub officers: i64,
    /// Computed classes A, B, C, D and unclassified.
    pub classes: ClassCounts,
    pub active_overrides: i64,
}

#[derive(Debug, Clone, Default, Serialize)]
#[allow(non_snake_case)]
pub struct ClassCounts {
    pub A: i64,
    pub B: i64,
    pub C: i64,
    pub D: i64,
    pub unclassified: i64,
}

/// One entry of a business's class history.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryRow {
    pub at: String,
    pub as_of: String,
    pub from_class: Option<String>,
    pub to_class: String,
    pub reasons: serde_json::Value,
    pub cause: String,
}

/// A class override set by a bureau head.
#[derive(Debug, Clone, Serialize)]
pub struct OverrideRow {
    pub id: i64,
    pub entity_id: String,
    pub class: String,
    pub reason: String,
    pub set_by: String,
    pub set_at: String,
    pub starts_on: String,
    pub expires_on: String,
    pub lifted_at: Option<String>,
    pub lifted_by: Option<String>,
}

fn override_from_row(r: &Row<'_>) -> rusqlite::Result<OverrideRow> {
    Ok(OverrideRow {
        id: r.get("id")?,
        entity_id: r.get("entity_id")?,
        class: r.get("class")?,
        reason: r.get("reason")?,
        set_by: r.get("set_by")?,
        set_at: r.get("set_at")?,
        starts_on: r.get("starts_on")?,
        expires_on: r.get("expires_on")?,
        lifted_at: r.get("lifted_at")?,
        lifted_by: r.get("lifted_by")?,
    })
}

/// Everything about one business that a page or the API shows.
#[derive(Debug, Clone, Serialize)]
pub struct EntityView {
    pub business: Business,
    pub region_code: String,
    pub unit_code: Option<String>,
    pub computed: Option<StoredClass>,
    pub active_override: Option<OverrideRow>,
    pub history: Vec<HistoryRow>,
    pub records: Records,
}

/// Which inspections a stream of businesses carries with each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InspectionRows {
    All,
    /// Only visits the business refused: all that classification reads (`domain::risk`
    /// looks at no other outcome; a test in `tests/it/classify.rs` holds it to that). A
    /// business's history can run to thousands of visits; re-classifying after each one
    /// should not read them all.
    Refusals,
}

impl Db<'_> {
    /// Streams businesses in id order with their records, joined by merging four ordered
    /// scans, so memory stays flat however large the register is.
    pub fn for_each_business(
        &self,
        filter: &BusinessFilter,
        each: impl FnMut(BusinessRow) -> Result<()>,
    ) -> Result<usize> {
        self.for_each_business_with(filter, InspectionRows::All, each)
    }

    /// [`Db::for_each_business`] carrying only the inspections `inspections` names.
    pub fn for_each_business_with(
        &self,
        filter: &BusinessFilter,
        inspections: InspectionRows,
        mut each: impl FnMut(BusinessRow) -> Result<()>,
    ) -> Result<usize> {
        let (_, param) = filter.clause();
        let params: Vec<&dyn rusqlite::ToSql> = match &param {
            Some(p) => vec![p as &dyn rusqlite::ToSql],
            None => vec![],
        };
        let [businesses, violations, complaints, reports, inspections] =
            record_queries(filter, inspections);
        let mut businesses = self.conn.prepare_cached(&businesses)?;
        let mut violations = self.conn.prepare_cached(&violations)?;
        let mut complaints = self.conn.prepare_cached(&complaints)?;
        let mut reports = self.conn.prepare_cached(&reports)?;
        let mut inspections = self.conn.prepare_cached(&inspections)?;
        let mut v_rows = violations.query(params.as_slice())?;
        let mut c_rows = complaints.query(params.as_slice())?;
        let mut r_rows = reports.query(params.as_slice())?;
        let mut i_rows = inspections.query(params.as_slice())?;
        let mut b_rows = businesses.query(params.as_slice())?;
        let (mut v_next, mut c_next, mut r_next, mut i_next) = (
            v_rows.next()?,
            c_rows.next()?,
            r_rows.next()?,
            i_rows.next()?,
        );
        let mut count = 0;
        while let Some(row) = b_rows.next()? {
            let (business, region_code, unit_code, stored) = business_from_row(row)?;
            let id = business.id.as_str().to_owned();
            let mut records = Records::default();
            // Each scan is ordered by entity id, like the businesses: take the rows of this id.
            while let Some(r) = v_next {
                let e: String = r.get(0)?;
                if e != id {
                    // Foreign keys rule out rows of unknown businesses; were one there, it
                    // sorts before this id and is skipped rather than stalling the merge.
                    if e.as_str() < id.as_str() {
                        v_next = v_rows.next()?;
                        continue;
                    }
                    break;
                }
                records.violations.push(Violation {
                    date: parse_date(&r.get::<_, String>(1)?)?,
                    severity: parse_word(&r.get::<_, String>(2)?)?,
                    suspended: r.get(3)?,
                    revoked: r.get(4)?,
                    note: r.get(5)?,
                });
                v_next = v_rows.next()?;
            }
            while let Some(r) = c_next {
                let e: String = r.get(0)?;
                if e != id {
                    if e.as_str() < id.as_str() {
                        c_next = c_rows.next()?;
                        continue;
                    }
                    break;
                }
                records.complaints.push(Complaint {
                    date: parse_date(&r.get::<_, String>(1)?)?,
                    channel: r.get(2)?,
                    substantiated: r.get(3)?,
                });
                c_next = c_rows.next()?;
            }
            while let Some(r) = r_next {
                let e: String = r.get(0)?;
                if e != id {
                    if e.as_str() < id.as_str() {
                        r_next = r_rows.next()?;
                        continue;
                    }
                    break;
                }
                records.annual_reports.push(AnnualReport {
                    year: r.get(1)?,
                    result: parse_word::<ReportResult>(&r.get::<_, String>(2)?)?,
                });
                r_next = r_rows.next()?;
            }
            while let Some(r) = i_next {
                let e: String = r.get(0)?;
                if e != id {
                    if e.as_str() < id.as_str() {
                        i_next = i_rows.next()?;
                        continue;
                    }
                    break;
                }
                records.inspections.push(Inspection {
                    date: parse_date(&r.get::<_, String>(1)?)?,
                    officer_id: r.get(2)?,
                    kind: parse_word(&r.get::<_, String>(3)?)?,
                    outcome: parse_word(&r.get::<_, String>(4)?)?,
                });
                i_next = i_rows.next()?;
            }
            let stored = stored.map(StoredClassText::parse).transpose()?;
            each(BusinessRow {
                business,
                region_code,
                unit_code,
                records,
                stored,
            })?;
            count += 1;
        }
        Ok(count)
    }

    /// Stores a business's classification. Writes only what differs from `previous`; a class
    /// that differs (or a first class) also appends a class-history row. Returns whether the
    /// class changed.
    #[allow(clippy::too_many_arguments)]
    pub fn store_classification(
        &self,
        entity_id: &str,
        previous: Option<&StoredClass>,
        new: &StoredClass,
        as_of: NaiveDate,
        cause: &str,
        at: &str,
    ) -> Result<bool> {
        if previous == Some(new) {
            return Ok(false);
        }
        self.conn
            .prepare_cached(
                "UPDATE businesses SET class = ?2, class_reasons = ?3, class_changes_on = ?4, class_review_on = ?5,
                   classified_as_of = ?6 WHERE id = ?1",
            )?
            .execute(params![
                entity_id,
                new.class.as_str(),
                new.reasons,
                new.changes_on.map(|d| d.to_string()),
                new.review_on.map(|d| d.to_string()),
                as_of.to_string()
            ])?;
        let changed = previous.map(|p| p.class) != Some(new.class);
        if changed {
            self.conn
                .prepare_cached(
                    "INSERT INTO class_history (entity_id, at, as_of, from_class, to_class, reasons, cause)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?
                .execute(params![
                    entity_id,
                    at,
                    as_of.to_string(),
                    previous.map(|p| p.class.as_str()),
                    new.class.as_str(),
                    new.reasons,
                    cause
                ])?;
        }
        Ok(changed)
    }

    /// What recording a visit reads of its business, in one read: its place and its stored
    /// class with the day that class is next reviewed.
    pub fn business_for_visit(&self, id: &EntityId) -> Result<Option<BusinessForVisit>> {
        Ok(self
            .row(
                "SELECT region_code, unit_code, class, class_review_on FROM businesses WHERE id = ?1",
                [id.as_str()],
                |r| {
                    Ok(BusinessForVisit {
                        region_code: r.get(0)?,
                        unit_code: r.get(1)?,
                        class: r.get(2)?,
                        class_review_on: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// The region and unit of a business (`None`: no such business; an unlocated one has
    /// no unit).
    pub fn entity_unit(&self, id: &EntityId) -> Result<Option<(String, Option<String>)>> {
        Ok(self
            .row(
                "SELECT region_code, unit_code FROM businesses WHERE id = ?1",
                [id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    pub fn entity_exists(&self, id: &EntityId) -> Result<bool> {
        Ok(self
            .row(
                "SELECT 1 FROM businesses WHERE id = ?1",
                [id.as_str()],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    fn require_entity(&self, id: &EntityId) -> Result<()> {
        if self.entity_exists(id)? {
            Ok(())
        } else {
            Err(StoreError::NotFound(format!("business '{id}'")))
        }
    }

    pub fn insert_violation(&self, id: &EntityId, v: &Violation, by: &str, at: &str) -> Result<()> {
        self.require_entity(id)?;
        self.exec(
            "INSERT INTO violations (entity_id, date, severity, suspended, revoked, note, source, recorded_by, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'app', ?7, ?8)",
            params![id.as_str(), v.date.to_string(), v.severity.as_str(), v.suspended, v.revoked, v.note, by, at],
        )?;
        Ok(())
    }

    pub fn insert_complaint(&self, id: &EntityId, c: &Complaint, by: &str, at: &str) -> Result<()> {
        self.require_entity(id)?;
        self.exec(
            "INSERT INTO complaints (entity_id, date, channel, substantiated, source, recorded_by, recorded_at)
             VALUES (?1, ?2, ?3, ?4, 'app', ?5, ?6)",
            params![id.as_str(), c.date.to_string(), c.channel, c.substantiated, by, at],
        )?;
        Ok(())
    }

    pub fn upsert_annual_report(
        &self,
        id: &EntityId,
        r: &AnnualReport,
        by: &str,
        at: &str,
    ) -> Result<()> {
        self.require_entity(id)?;
        self.exec(
            "INSERT INTO annual_reports (entity_id, year, result, source, recorded_by, recorded_at)
             VALUES (?1, ?2, ?3, 'app', ?4, ?5)
             ON CONFLICT (entity_id, year) DO UPDATE SET result = excluded.result, source = 'app',
               recorded_by = excluded.recorded_by, recorded_at = excluded.recorded_at",
            params![id.as_str(), r.year, r.result.as_str(), by, at],
        )?;
        Ok(())
    }

    pub fn insert_inspection(
        &self,
        id: &EntityId,
        i: &Inspection,
        by: &str,
        at: &str,
    ) -> Result<i64> {
        self.require_entity(id)?;
        self.exec(
            "INSERT INTO inspections (entity_id, date, officer_id, kind, outcome, source, recorded_by, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'app', ?6, ?7)",
            params![id.as_str(), i.date.to_string(), i.officer_id, i.kind.as_str(), i.outcome.as_str(), by, at],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn set_licence(&self, id: &EntityId, licence: Licence) -> Result<Licence> {
        let old: Option<String> = self
            .row(
                "SELECT licence FROM businesses WHERE id = ?1",
                [id.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        let old = old.ok_or_else(|| StoreError::NotFound(format!("business '{id}'")))?;
        self.exec(
            "UPDATE businesses SET licence = ?2 WHERE id = ?1",
            params![id.as_str(), licence.as_str()],
        )?;
        parse_word(&old)
    }

    /// Sets an override; an earlier one still active is lifted by it.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_override(
        &self,
        id: &EntityId,
        class: RiskClass,
        reason: &str,
        by: &str,
        at: &str,
        starts_on: NaiveDate,
        expires_on: NaiveDate,
    ) -> Result<i64> {
        self.require_entity(id)?;
        self.exec(
            "UPDATE class_overrides SET lifted_at = ?2, lifted_by = ?3 WHERE entity_id = ?1 AND lifted_at IS NULL",
            params![id.as_str(), at, by],
        )?;
        self.exec(
            "INSERT INTO class_overrides (entity_id, class, reason, set_by, set_at, starts_on, expires_on)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id.as_str(), class.as_str(), reason, by, at, starts_on.to_string(), expires_on.to_string()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The override in force on `today`, if any.
    pub fn active_override(&self, id: &EntityId, today: NaiveDate) -> Result<Option<OverrideRow>> {
        Ok(self
            .row(
                "SELECT * FROM class_overrides WHERE entity_id = ?1 AND lifted_at IS NULL
                   AND starts_on <= ?2 AND expires_on >= ?2 ORDER BY id DESC LIMIT 1",
                params![id.as_str(), today.to_string()],
                override_from_row,
            )
            .optional()?)
    }

    pub fn lift_override(&self, id: &EntityId, by: &str, at: &str) -> Result<Option<OverrideRow>> {
        let row = self.row(
                "SELECT * FROM class_overrides WHERE entity_id = ?1 AND lifted_at IS NULL ORDER BY id DESC LIMIT 1",
                [id.as_str()],
                override_from_row,
            )
            .optional()?;
        if let Some(r) = &row {
            self.exec(
                "UPDATE class_overrides SET lifted_at = ?2, lifted_by = ?3 WHERE id = ?1",
                params![r.id, at, by],
            )?;
        }
        Ok(row)
    }

    /// Marks overrides that expired before `today` as lapsed, and returns them (for the audit).
    pub fn lapse_overrides(&self, today: NaiveDate, at: &str) -> Result<Vec<OverrideRow>> {
        let lapsed: Vec<OverrideRow> = self.conn.prepare_cached("SELECT * FROM class_overrides WHERE lifted_at IS NULL AND expires_on < ?1 ORDER BY id")?
            .query_map([today.to_string()], override_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        for r in &lapsed {
            self.exec(
                "UPDATE class_overrides SET lifted_at = ?2, lifted_by = 'expiry' WHERE id = ?1",
                params![r.id, at],
            )?;
        }
        Ok(lapsed)
    }

    pub fn class_history(&self, id: &EntityId) -> Result<Vec<HistoryRow>> {
        let rows = self.conn.prepare_cached("SELECT at, as_of, from_class, to_class, reasons, cause FROM class_history WHERE entity_id = ?1 ORDER BY id")?
            .query_map([id.as_str()], |r| {
                let reasons: String = r.get(4)?;
                Ok(HistoryRow {
                    at: r.get(0)?,
                    as_of: r.get(1)?,
                    from_class: r.get(2)?,
                    to_class: r.get(3)?,
                    reasons: serde_json::from_str(&reasons).unwrap_or(serde_json::Value::String(reasons)),
                    cause: r.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// One business with its classification, override, history and records.
    pub fn entity_view(&self, id: &EntityId, today: NaiveDate) -> Result<EntityView> {
        let mut found = None;
        self.for_each_business(&BusinessFilter::One(id.clone()), |row| {
            found = Some(row);
            Ok(())
        })?;
        let row = found.ok_or_else(|| StoreError::NotFound(format!("business '{id}'")))?;
        Ok(EntityView {
            active_override: self.active_override(id, today)?,
            history: self.class_history(id)?,
            business: row.business,
            region_code: row.region_code,
            unit_code: row.unit_code,
            computed: row.stored,
            records: row.records,
        })
    }

    /// Counts per region, for the summary page and the import report.
    pub fn summary(&self, today: NaiveDate) -> Result<Summary> {
        let mut regions: Vec<RegionSummary> = self
            .conn
            .prepare_cached("SELECT code, name, area_m2 FROM regions ORDER BY code")?
            .query_map([], |r| {
                Ok(RegionSummary {
                    code: r.get(0)?,
                    name: r.get(1)?,
                    area_km2: r.get::<_, f64>(2)? / 1e6,
                    ..Default::default()
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        for region in &mut regions {
            let code = region.code.as_str();
            let count = |sql: &str| -> Result<i64> { Ok(self.row(sql, [code], |r| r.get(0))?) };
            region.units = count("SELECT count(*) FROM units WHERE region_code = ?1")?;
            region.businesses = count("SELECT count(*) FROM businesses WHERE region_code = ?1")?;
            region.unlocated = count(
                "SELECT count(*) FROM businesses WHERE region_code = ?1 AND unit_code IS NULL",
            )?;
            region.officers = count("SELECT count(*) FROM officers WHERE region_code = ?1")?;
            let mut stmt = self.conn.prepare_cached(
                "SELECT class, count(*) FROM businesses WHERE region_code = ?1 GROUP BY class",
            )?;
            let mut rows = stmt.query([code])?;
            while let Some(r) = rows.next()? {
                let class: Option<String> = r.get(0)?;
                let n: i64 = r.get(1)?;
                match class.as_deref() {
                    Some("A") => region.classes.A = n,
                    Some("B") => region.classes.B = n,
                    Some("C") => region.classes.C = n,
                    Some("D") => region.classes.D = n,
                    _ => region.classes.unclassified += n,
                }
            }
            region.active_overrides = self.row(
                "SELECT count(*) FROM class_overrides o JOIN businesses b ON b.id = o.entity_id
                 WHERE b.region_code = ?1 AND o.lifted_at IS NULL AND o.starts_on <= ?2 AND o.expires_on >= ?2",
                params![code, today.to_string()],
                |r| r.get(0),
            )?;
        }
        Ok(Summary { regions })
    }

    /// Ids of the businesses of a region that no unit holds.
    pub fn unlocated(&self, region_code: &str) -> Result<Vec<String>> {
        Ok(self.conn.prepare_cached("SELECT id FROM businesses WHERE region_code = ?1 AND unit_code IS NULL ORDER BY id")?
            .query_map([region_code], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }
}

/// A line of a business list.
#[derive(Debug, Clone, Serialize)]
pub struct BusinessLine {
    pub id: String,
    pub name: String,
    pub industry: String,
    pub unit_code: Option<String>,
    pub class: Option<String>,
    pub override_class: Option<String>,
    pub changes_on: Option<String>,
}

/// A [`BusinessLine`] from `id, name, industry, unit_code, class, override class, changes_on`.
fn business_line(r: &Row<'_>) -> rusqlite::Result<BusinessLine> {
    Ok(BusinessLine {
        id: r.get(0)?,
        name: r.get(1)?,
        industry: r.get(2)?,
        unit_code: r.get(3)?,
        class: r.get(4)?,
        override_class: r.get(5)?,
        changes_on: r.get(6)?,
    })
}

impl Db<'_> {
    /// Businesses by computed or overriding class, riskiest first.
    pub fn list_businesses(
        &self,
        region: Option<&str>,
        class: Option<RiskClass>,
        today: NaiveDate,
        limit: usize,
    ) -> Result<Vec<BusinessLine>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT b.id, b.name, b.industry, b.unit_code, b.class, o.class, b.class_changes_on
             FROM businesses b
             LEFT JOIN class_overrides o ON o.entity_id = b.id AND o.lifted_at IS NULL AND o.starts_on <= ?3 AND o.expires_on >= ?3
             WHERE (?1 IS NULL OR b.region_code = ?1) AND (?2 IS NULL OR coalesce(o.class, b.class) = ?2)
             ORDER BY coalesce(o.class, b.class) DESC, b.id LIMIT ?4",
        )?;
        let rows = stmt
            .query_map(
                params![
                    region,
                    class.map(RiskClass::as_str),
                    today.to_string(),
                    limit as i64
                ],
                business_line,
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

/// What a business search asks for; every part optional.
#[derive(Debug, Clone, Default)]
pub struct BusinessSearch {
    pub region: Option<String>,
    pub class: Option<RiskClass>,
    /// Part of the name or of the credit code.
    pub text: Option<String>,
    /// A grid code of the plan in force.
    pub grid: Option<String>,
    /// Only businesses in grids where this officer holds an open post.
    pub officer_scope: Option<String>,
    pub limit: usize,
    pub offset: usize,
}

impl Db<'_> {
    /// Businesses matching a search, riskiest first. Search text is bound as a parameter
    /// (never spliced into SQL) and matched literally.
    pub fn search_businesses(
        &self,
        q: &BusinessSearch,
        today: NaiveDate,
    ) -> Result<Vec<BusinessLine>> {
        let pattern = q.text.as_ref().map(|t| {
            let escaped = t
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            format!("%{escaped}%")
        });
        let mut stmt = self.conn.prepare_cached(
            "SELECT b.id, b.name, b.industry, b.unit_code, b.class, o.class, b.class_changes_on
             FROM businesses b
             LEFT JOIN class_overrides o ON o.entity_id = b.id AND o.lifted_at IS NULL AND o.starts_on <= ?3 AND o.expires_on >= ?3
             WHERE (?1 IS NULL OR b.region_code = ?1) AND (?2 IS NULL OR coalesce(o.class, b.class) = ?2)
               AND (?4 IS NULL OR b.name LIKE ?4 ESCAPE '\\' OR b.id LIKE ?4 ESCAPE '\\')
               AND (?5 IS NULL OR EXISTS (
                     SELECT 1 FROM grid_units gu JOIN grids g ON g.id = gu.grid_id
                     JOIN grid_plans gp ON gp.region_code = g.region_code AND gp.version = g.plan_version
                     WHERE gu.region_code = b.region_code AND gu.unit_code = b.unit_code AND g.code = ?5
                       AND gp.version = (SELECT version FROM grid_plans WHERE region_code = b.region_code AND status != 'retired'
                                         ORDER BY status = 'approved' DESC, version DESC LIMIT 1)))
               AND (?6 IS NULL OR EXISTS (
                     SELECT 1 FROM grid_units gu JOIN grids g ON g.id = gu.grid_id
                     JOIN grid_plans gp ON gp.region_code = g.region_code AND gp.version = g.plan_version AND gp.status != 'retired'
                     JOIN posts p ON p.grid_id = g.id AND p.until IS NULL
                     WHERE gu.region_code = b.region_code AND gu.unit_code = b.unit_code AND p.officer_id = ?6))
             ORDER BY coalesce(o.class, b.class) DESC, b.id LIMIT ?7 OFFSET ?8",
        )?;
        let rows = stmt
            .query_map(
                params![
                    q.region,
                    q.class.map(RiskClass::as_str),
                    today.to_string(),
                    pattern,
                    q.grid,
                    q.officer_scope,
                    q.limit as i64,
                    q.offset as i64
                ],
                business_line,
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::{BusinessFilter, InspectionRows, parse_date, record_queries};
    use chrono::NaiveDate;
    use proptest::prelude::*;

    /// The nightly pass and an event's re-classification read their businesses and records
    /// through indexes: no step of their statements reads every business (a partial index
    /// of the never classified is read whole, and it holds only those).
    #[test]
    fn re_classification_reads_no_business_it_does_not_need() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(&dir.path().join("r.db")).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        for filter in [
            BusinessFilter::ReviewDue(day),
            BusinessFilter::One(
                crate::domain::entity::EntityId::parse("91420115000910360R").unwrap(),
            ),
        ] {
            for rows in [InspectionRows::Refusals, InspectionRows::All] {
                for sql in record_queries(&filter, rows) {
                    let plan: Vec<String> = store
                        .conn
                        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                        .unwrap()
                        .query_map(["2026-12-01"], |r| r.get(3))
                        .unwrap()
                        .collect::<rusqlite::Result<_>>()
                        .unwrap();
                    assert!(
                        !plan.iter().any(|step| step.starts_with("SCAN businesses")
                            && step != "SCAN businesses USING INDEX businesses_unclassified"),
                        "{sql}\n{plan:#?}"
                    );
                }
            }
        }
        // Every business: each kind of record in one scan, not probed once per business.
        for sql in record_queries(&BusinessFilter::All, InspectionRows::Refusals)
            .iter()
            .skip(1)
        {
            let plan: Vec<String> = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap()
                .query_map([], |r| r.get(3))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert!(
                !plan.iter().any(|step| step.contains("SUBQUERY")),
                "{sql}\n{plan:#?}"
            );
        }
    }

    /// What chrono's parser makes of a text, which the fast path must agree with.
    fn chrono(text: &str) -> Option<NaiveDate> {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
    }

    proptest! {
        /// Every date as stored reads back as itself.
        #[test]
        fn a_stored_date_reads_back(days in 0i64..3_000_000) {
            let date = NaiveDate::from_ymd_opt(1, 1, 1).unwrap() + chrono::Duration::days(days);
            prop_assert_eq!(parse_date(&date.to_string()).ok(), Some(date));
        }

        /// Any text of a date's shape, digits or not, reads as chrono reads it.
        #[test]
        fn a_date_shaped_text_reads_as_chrono_reads_it(text in "[0-9+ -]{0,5}-[0-9a ]{1,3}-[0-9 ]{1,3}") {
            prop_assert_eq!(parse_date(&text).ok(), chrono(&text));
        }
    }

    #[test]
    fn impossible_and_odd_dates() {
        for text in [
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-01-32",
            "0000-01-01",
            "",
            "2026-1-5",
            "02026-01-05",
        ] {
            assert_eq!(parse_date(text).ok(), chrono(text), "{text}");
        }
        assert_eq!(
            parse_date("2024-02-29").ok(),
            NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert!(parse_date("2026-02-29").is_err());
    }
}
