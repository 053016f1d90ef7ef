//! Grid plans in the store: versioned per region, drafts until a bureau head approves one;
//! approving retires the plan that was in force.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Db, Result, StoreError};

/// One grid of a plan to save.
#[derive(Debug, Clone)]
pub struct GridRow {
    pub code: String,
    pub name: String,
    /// GeoJSON geometry of the dissolved units.
    pub geometry: String,
    pub workload: f64,
    pub units: Vec<String>,
}

/// A plan's header.
#[derive(Debug, Clone, Serialize)]
pub struct PlanRow {
    pub region_code: String,
    pub version: i64,
    pub status: String,
    pub created_at: String,
    pub approved_at: Option<String>,
    pub approved_by: Option<String>,
    pub grids: i64,
    pub metrics: serde_json::Value,
}

impl Db<'_> {
    /// Saves a plan as the region's next draft version and returns the version.
    pub fn save_plan(
        &self,
        region_code: &str,
        grids: &[GridRow],
        metrics: &serde_json::Value,
        at: &str,
    ) -> Result<i64> {
        let exists: Option<i64> = self
            .conn
            .query_row(
                "SELECT 1 FROM regions WHERE code = ?1",
                [region_code],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!(
                "region '{region_code}' (import it first)"
            )));
        }
        let version: i64 = self.conn.query_row(
            "SELECT coalesce(max(version), 0) + 1 FROM grid_plans WHERE region_code = ?1",
            [region_code],
            |r| r.get(0),
        )?;
        self.conn.execute(
            "INSERT INTO grid_plans (region_code, version, status, created_at, metrics) VALUES (?1, ?2, 'draft', ?3, ?4)",
            params![region_code, version, at, metrics.to_string()],
        )?;
        let mut grid = self.conn.prepare_cached(
            "INSERT INTO grids (region_code, plan_version, code, name, geometry, workload) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut member = self.conn.prepare_cached(
            "INSERT INTO grid_units (grid_id, region_code, unit_code) VALUES (?1, ?2, ?3)",
        )?;
        for g in grids {
            grid.execute(params![
                region_code,
                version,
                g.code,
                g.name,
                g.geometry,
                g.workload
            ])?;
            let id = self.conn.last_insert_rowid();
            for unit in &g.units {
                member.execute(params![id, region_code, unit]).map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                        StoreError::Conflict(format!("unit '{unit}' of grid {} is not a unit of region '{region_code}' (import the region first)", g.code))
                    }
                    other => other.into(),
                })?;
            }
        }
        Ok(version)
    }

    /// Approves a draft: it comes into force and the plan in force before it is retired.
    pub fn approve_plan(&self, region_code: &str, version: i64, by: &str, at: &str) -> Result<()> {
        let status: Option<String> = self
            .conn
            .query_row(
                "SELECT status FROM grid_plans WHERE region_code = ?1 AND version = ?2",
                params![region_code, version],
                |r| r.get(0),
            )
            .optional()?;
        match status.as_deref() {
            None => {
                return Err(StoreError::NotFound(format!(
                    "plan {version} of region '{region_code}'"
                )));
            }
            Some("draft") => {}
            Some(other) => {
                return Err(StoreError::Conflict(format!(
                    "plan {version} is {other}, only a draft can be approved"
                )));
            }
        }
        self.conn.execute(
            "UPDATE grid_plans SET status = 'retired' WHERE region_code = ?1 AND status = 'approved'",
            [region_code],
        )?;
        self.conn.execute(
            "UPDATE grid_plans SET status = 'approved', approved_at = ?3, approved_by = ?4 WHERE region_code = ?1 AND version = ?2",
            params![region_code, version, at, by],
        )?;
        Ok(())
    }

    pub fn plans(&self, region_code: &str) -> Result<Vec<PlanRow>> {
        let rows = self
            .conn
            .prepare(
                "SELECT p.region_code, p.version, p.status, p.created_at, p.approved_at, p.approved_by, p.metrics,
                        (SELECT count(*) FROM grids g WHERE g.region_code = p.region_code AND g.plan_version = p.version)
                 FROM grid_plans p WHERE p.region_code = ?1 ORDER BY p.version",
            )?
            .query_map([region_code], |r| {
                let metrics: String = r.get(6)?;
                Ok(PlanRow {
                    region_code: r.get(0)?,
                    version: r.get(1)?,
                    status: r.get(2)?,
                    created_at: r.get(3)?,
                    approved_at: r.get(4)?,
                    approved_by: r.get(5)?,
                    metrics: serde_json::from_str(&metrics).unwrap_or_default(),
                    grids: r.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}
