//! Writing a whole region: jurisdiction, units, businesses with their imported records and
//! officers, as upserts, so that importing the same files again changes nothing.

use geo::MultiPolygon;
use rusqlite::params;

use super::{Db, Result, StoreError};
use crate::domain::entity::Business;
use crate::import::RegionData;
use crate::spatial::crs::Crs;

fn geometry_json(shape: &MultiPolygon<f64>) -> String {
    let polygons: Vec<Vec<Vec<[f64; 2]>>> = shape
        .0
        .iter()
        .map(|p| {
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(|ring| ring.coords().map(|c| [c.x, c.y]).collect())
                .collect()
        })
        .collect();
    serde_json::json!({ "type": "MultiPolygon", "coordinates": polygons }).to_string()
}

fn date_text(date: Option<chrono::NaiveDate>) -> Option<String> {
    date.map(|d| d.to_string())
}

impl Db<'_> {
    /// Upserts a region. `unit_of` gives, per business, the index in `region.units` of the
    /// unit that holds it, or `None` (unlocated). Records that came from an earlier import of
    /// these businesses are replaced; records entered through the app are kept.
    pub fn write_region(
        &self,
        region: &RegionData,
        unit_of: &[Option<usize>],
        crs: Crs,
        now: &str,
    ) -> Result<()> {
        let j = &region.jurisdiction;
        let crs_text = match crs {
            Crs::Wgs84 => "wgs84",
            Crs::Gcj02 => "gcj02",
        };
        self.exec(
            "INSERT INTO regions (code, name, geometry, area_m2, source_crs, properties, imported_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, geometry = excluded.geometry,
               area_m2 = excluded.area_m2, source_crs = excluded.source_crs, properties = excluded.properties",
            params![j.code, j.name, geometry_json(&j.shape), j.area_m2, crs_text, serde_json::Value::Object(j.properties.clone()).to_string(), now],
        )?;
        // Units that left the file: their businesses are re-located below or become unlocated.
        let codes: Vec<&str> = region.units.iter().map(|u| u.code.as_str()).collect();
        let codes_json =
            serde_json::to_string(&codes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.exec(
            "UPDATE businesses SET unit_code = NULL WHERE region_code = ?1
               AND unit_code NOT IN (SELECT value FROM json_each(?2))",
            params![j.code, codes_json],
        )?;
        let removed = self.exec(
            "DELETE FROM units WHERE region_code = ?1 AND code NOT IN (SELECT value FROM json_each(?2))
               AND NOT EXISTS (SELECT 1 FROM grid_units g WHERE g.region_code = units.region_code AND g.unit_code = units.code)",
            params![j.code, codes_json],
        )?;
        let _ = removed;
        {
            let mut upsert = self.conn.prepare_cached(
                "INSERT INTO units (region_code, code, name, kind, parent, dedicated, geometry, area_m2, properties)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (region_code, code) DO UPDATE SET name = excluded.name, kind = excluded.kind,
                   parent = excluded.parent, dedicated = excluded.dedicated, geometry = excluded.geometry,
                   area_m2 = excluded.area_m2, properties = excluded.properties",
            )?;
            for u in &region.units {
                upsert.execute(params![
                    j.code,
                    u.code,
                    u.name,
                    u.kind,
                    u.parent,
                    u.dedicated,
                    geometry_json(&u.shape),
                    u.area_m2,
                    serde_json::Value::Object(u.properties.clone()).to_string()
                ])?;
            }
        }
        self.write_businesses(&j.code, region, unit_of)?;
        {
            let mut upsert = self.conn.prepare_cached(
                "INSERT INTO officers (id, region_code, name, role, years_of_service, hours_per_month, certified, skills)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO UPDATE SET region_code = excluded.region_code, name = excluded.name,
                   role = excluded.role, years_of_service = excluded.years_of_service,
                   hours_per_month = excluded.hours_per_month, certified = excluded.certified, skills = excluded.skills",
            )?;
            for o in &region.officers {
                upsert.execute(params![
                    o.id,
                    j.code,
                    o.name,
                    o.role.as_str(),
                    o.years_of_service,
                    o.hours_per_month,
                    o.certified,
                    o.skills.join(";")
                ])?;
            }
        }
        Ok(())
    }

    fn write_businesses(
        &self,
        region_code: &str,
        region: &RegionData,
        unit_of: &[Option<usize>],
    ) -> Result<()> {
        let mut upsert = self.conn.prepare_cached(
            "INSERT INTO businesses (id, region_code, name, industry, licence, lon, lat, address, registered_on, unit_code)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (id) DO UPDATE SET region_code = excluded.region_code, name = excluded.name,
               industry = excluded.industry, licence = excluded.licence, lon = excluded.lon, lat = excluded.lat,
               address = excluded.address, registered_on = excluded.registered_on, unit_code = excluded.unit_code",
        )?;
        // Imported records are keyed by their position among the entity's rows, so that the
        // same file upserts the same rows (same ids) and a shorter file trims the tail.
        let mut violation = self.conn.prepare_cached(
            "INSERT INTO violations (entity_id, import_seq, date, severity, suspended, revoked, note, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'import')
             ON CONFLICT (entity_id, import_seq) DO UPDATE SET date = excluded.date, severity = excluded.severity,
               suspended = excluded.suspended, revoked = excluded.revoked, note = excluded.note",
        )?;
        let mut complaint = self.conn.prepare_cached(
            "INSERT INTO complaints (entity_id, import_seq, date, channel, substantiated, source)
             VALUES (?1, ?2, ?3, ?4, ?5, 'import')
             ON CONFLICT (entity_id, import_seq) DO UPDATE SET date = excluded.date, channel = excluded.channel,
               substantiated = excluded.substantiated",
        )?;
        let mut inspection = self.conn.prepare_cached(
            "INSERT INTO inspections (entity_id, import_seq, date, officer_id, kind, outcome, source)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'import')
             ON CONFLICT (entity_id, import_seq) WHERE import_seq IS NOT NULL
             DO UPDATE SET date = excluded.date, officer_id = excluded.officer_id,
               kind = excluded.kind, outcome = excluded.outcome",
        )?;
        let mut trim = [
            self.conn.prepare_cached(
                "DELETE FROM violations WHERE entity_id = ?1 AND import_seq >= ?2",
            )?,
            self.conn.prepare_cached(
                "DELETE FROM complaints WHERE entity_id = ?1 AND import_seq >= ?2",
            )?,
            self.conn.prepare_cached(
                "DELETE FROM inspections WHERE entity_id = ?1 AND import_seq >= ?2",
            )?,
        ];
        // A report the app recorded for the same year is newer than the file: keep it.
        let mut report = self.conn.prepare_cached(
            "INSERT INTO annual_reports (entity_id, year, result, source) VALUES (?1, ?2, ?3, 'import')
             ON CONFLICT (entity_id, year) DO UPDATE SET result = excluded.result WHERE annual_reports.source = 'import'",
        )?;
        let mut trim_reports = self.conn.prepare_cached(
            "DELETE FROM annual_reports WHERE entity_id = ?1 AND source = 'import'
               AND year NOT IN (SELECT value FROM json_each(?2))",
        )?;
        for (i, (b, r)) in region.businesses.iter().zip(&region.records).enumerate() {
            let Business {
                id,
                name,
                industry,
                licence,
                location,
                address,
                registered_on,
            } = b;
            let unit_code = unit_of
                .get(i)
                .copied()
                .flatten()
                .map(|u| region.units[u].code.as_str());
            upsert.execute(params![
                id.as_str(),
                region_code,
                name,
                industry,
                licence.as_str(),
                location.map(|l| l.0),
                location.map(|l| l.1),
                address,
                date_text(*registered_on),
                unit_code
            ])?;
            for (seq, v) in (0i64..).zip(&r.violations) {
                violation.execute(params![
                    id.as_str(),
                    seq,
                    v.date.to_string(),
                    v.severity.as_str(),
                    v.suspended,
                    v.revoked,
                    v.note
                ])?;
            }
            for (seq, c) in (0i64..).zip(&r.complaints) {
                complaint.execute(params![
                    id.as_str(),
                    seq,
                    c.date.to_string(),
                    c.channel,
                    c.substantiated
                ])?;
            }
            for (seq, n) in (0i64..).zip(&r.inspections) {
                inspection.execute(params![
                    id.as_str(),
                    seq,
                    n.date.to_string(),
                    n.officer_id,
                    n.kind.as_str(),
                    n.outcome.as_str()
                ])?;
            }
            let counts = [
                r.violations.len() as i64,
                r.complaints.len() as i64,
                r.inspections.len() as i64,
            ];
            for (stmt, count) in trim.iter_mut().zip(counts) {
                stmt.execute(params![id.as_str(), count])?;
            }
            for a in &r.annual_reports {
                report.execute(params![id.as_str(), a.year, a.result.as_str()])?;
            }
            let years: Vec<i32> = r.annual_reports.iter().map(|a| a.year).collect();
            trim_reports.execute(params![
                id.as_str(),
                serde_json::to_string(&years).unwrap_or_else(|_| "[]".into())
            ])?;
        }
        Ok(())
    }
}
