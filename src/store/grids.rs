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
            .row(
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
        let version: i64 = self.row(
            "SELECT coalesce(max(version), 0) + 1 FROM grid_plans WHERE region_code = ?1",
            [region_code],
            |r| r.get(0),
        )?;
        self.exec(
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
            .row(
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
        self.exec(
            "UPDATE grid_plans SET status = 'retired' WHERE region_code = ?1 AND status = 'approved'",
            [region_code],
        )?;
        self.exec(
            "UPDATE grid_plans SET status = 'approved', approved_at = ?3, approved_by = ?4 WHERE region_code = ?1 AND version = ?2",
            params![region_code, version, at, by],
        )?;
        Ok(())
    }

    pub fn plans(&self, region_code: &str) -> Result<Vec<PlanRow>> {
        let rows = self.conn.prepare_cached(
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
                    metrics: serde_json::from_str(&metrics).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            6,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })?,
                    grids: r.get(7)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }
}

impl Db<'_> {
    /// A region's outline as a GeoJSON Feature (`code`, `name` and stored properties).
    pub fn region_feature(&self, region_code: &str) -> Result<serde_json::Value> {
        let row: Option<(String, String, String, f64)> = self
            .row(
                "SELECT name, geometry, properties, area_m2 FROM regions WHERE code = ?1",
                [region_code],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let (name, geometry, properties, area) =
            row.ok_or_else(|| StoreError::NotFound(format!("region '{region_code}'")))?;
        let mut props: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&properties).map_err(|e| {
                StoreError::Corrupt(format!("region '{region_code}' properties: {e}"))
            })?;
        props.insert("code".into(), region_code.into());
        props.insert("name".into(), name.into());
        props.insert("area_m2".into(), area.into());
        Ok(serde_json::json!({
            "type": "Feature",
            "properties": props,
            "geometry": serde_json::from_str::<serde_json::Value>(&geometry)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        }))
    }

    /// A region's markets (units of kind `market`, or flagged dedicated): code → name.
    pub fn markets(&self, region_code: &str) -> Result<std::collections::HashMap<String, String>> {
        Ok(self.conn.prepare_cached(
                "SELECT code, name FROM units WHERE region_code = ?1 AND (kind = 'market' OR dedicated) ORDER BY code",
            )?
            .query_map([region_code], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// A region's units as a GeoJSON FeatureCollection in the import format.
    pub fn units_geojson(&self, region_code: &str) -> Result<serde_json::Value> {
        let mut features = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT code, name, kind, parent, dedicated, geometry, area_m2 FROM units WHERE region_code = ?1 ORDER BY code",
        )?;
        let mut rows = stmt.query([region_code])?;
        while let Some(r) = rows.next()? {
            let geometry: String = r.get(5)?;
            features.push(serde_json::json!({
                "type": "Feature",
                "properties": {
                    "code": r.get::<_, String>(0)?,
                    "name": r.get::<_, String>(1)?,
                    "kind": r.get::<_, String>(2)?,
                    "parent": r.get::<_, Option<String>>(3)?,
                    "dedicated": r.get::<_, bool>(4)?,
                    "area_m2": r.get::<_, f64>(6)?,
                },
                "geometry": serde_json::from_str::<serde_json::Value>(&geometry)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            }));
        }
        Ok(serde_json::json!({ "type": "FeatureCollection", "features": features }))
    }

    /// Businesses per unit and stored class: unit code → [A, B, C, D] (unclassified count as A).
    pub fn class_counts(
        &self,
        region_code: &str,
    ) -> Result<std::collections::HashMap<String, [usize; 4]>> {
        let mut out: std::collections::HashMap<String, [usize; 4]> = Default::default();
        let mut stmt = self.conn.prepare_cached(
            "SELECT unit_code, class, count(*) FROM businesses WHERE region_code = ?1 AND unit_code IS NOT NULL GROUP BY 1, 2",
        )?;
        let mut rows = stmt.query([region_code])?;
        while let Some(r) = rows.next()? {
            let unit: String = r.get(0)?;
            let class: Option<String> = r.get(1)?;
            let n: i64 = r.get(2)?;
            let slot = match class.as_deref() {
                Some("B") => 1,
                Some("C") => 2,
                Some("D") => 3,
                _ => 0,
            };
            out.entry(unit).or_default()[slot] += usize::try_from(n).unwrap_or(0);
        }
        Ok(out)
    }

    /// A plan's grids as a GeoJSON FeatureCollection (code, name, workload, units, posts).
    pub fn plan_geojson(&self, region_code: &str, version: i64) -> Result<serde_json::Value> {
        let units: std::collections::HashMap<String, Vec<String>> = self
            .plan_grid_units(region_code, version)?
            .into_iter()
            .collect();
        let mut stmt = self.conn.prepare_cached(
            "SELECT g.code, g.name, g.workload, g.geometry,
                    (SELECT officer_id FROM posts WHERE grid_id = g.id AND post = 'A' AND until IS NULL),
                    (SELECT group_concat(officer_id) FROM posts WHERE grid_id = g.id AND post = 'B' AND until IS NULL)
             FROM grids g WHERE g.region_code = ?1 AND g.plan_version = ?2 ORDER BY g.code",
        )?;
        let mut rows = stmt.query(params![region_code, version])?;
        let mut features = Vec::new();
        while let Some(r) = rows.next()? {
            let code: String = r.get(0)?;
            let geometry: Option<String> = r.get(3)?;
            let b: Option<String> = r.get(5)?;
            features.push(serde_json::json!({
                "type": "Feature",
                "properties": {
                    "code": &code,
                    "name": r.get::<_, String>(1)?,
                    "workload": r.get::<_, f64>(2)?,
                    "units": units.get(&code).cloned().unwrap_or_default(),
                    "a_post": r.get::<_, Option<String>>(4)?,
                    "b_posts": b.map(|b| b.split(',').map(str::to_owned).collect::<Vec<_>>()).unwrap_or_default(),
                },
                "geometry": geometry.and_then(|g| serde_json::from_str::<serde_json::Value>(&g).ok()),
            }));
        }
        if features.is_empty()
            && !self
                .plans(region_code)?
                .iter()
                .any(|p| p.version == version)
        {
            return Err(StoreError::NotFound(format!(
                "plan {version} of region '{region_code}'"
            )));
        }
        Ok(serde_json::json!({ "type": "FeatureCollection", "features": features }))
    }

    /// The status of a plan.
    pub fn plan_status(&self, region_code: &str, version: i64) -> Result<String> {
        self.row(
            "SELECT status FROM grid_plans WHERE region_code = ?1 AND version = ?2",
            params![region_code, version],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("plan {version} of region '{region_code}'")))
    }

    /// Moves a unit to another grid of a draft plan, with the two grids' new workloads and
    /// geometry.
    #[allow(clippy::too_many_arguments)]
    pub fn move_unit(
        &self,
        region_code: &str,
        version: i64,
        unit: &str,
        to_grid: &str,
        grids: [(&str, f64, &str); 2],
    ) -> Result<()> {
        let target: i64 = self
            .row(
                "SELECT id FROM grids WHERE region_code = ?1 AND plan_version = ?2 AND code = ?3",
                params![region_code, version, to_grid],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("grid '{to_grid}'")))?;
        let n = self.exec(
            "UPDATE grid_units SET grid_id = ?4 WHERE unit_code = ?3 AND region_code = ?1
               AND grid_id IN (SELECT id FROM grids WHERE region_code = ?1 AND plan_version = ?2)",
            params![region_code, version, unit, target],
        )?;
        if n != 1 {
            return Err(StoreError::NotFound(format!(
                "unit '{unit}' in plan {version}"
            )));
        }
        for (code, workload, geometry) in grids {
            self.exec(
                "UPDATE grids SET workload = ?4, geometry = ?5 WHERE region_code = ?1 AND plan_version = ?2 AND code = ?3",
                params![region_code, version, code, workload, geometry],
            )?;
        }
        Ok(())
    }

    /// Marks an approved plan published (shown to officers); returns whether it changed.
    pub fn publish_plan(&self, region_code: &str, version: i64, at: &str) -> Result<bool> {
        match self.plan_status(region_code, version)?.as_str() {
            "approved" => Ok(self.exec(
                "UPDATE grid_plans SET published_at = ?3 WHERE region_code = ?1 AND version = ?2 AND published_at IS NULL",
                params![region_code, version, at],
            )? == 1),
            other => Err(StoreError::Conflict(format!(
                "plan {version} is {other}; only an approved plan is published"
            ))),
        }
    }
}
