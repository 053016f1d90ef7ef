//! Grid plans for a region: the unit graph with workloads from the register, and grid
//! geometry dissolved from units.

use std::path::Path;

use anyhow::Result;
use chrono::NaiveDate;
use serde_json::json;

use crate::domain::partition::{UnitGraph, unit_workload};
use crate::domain::policy::{Policy, RiskClass};
use crate::domain::risk::class_only;
use crate::import::{RegionData, read_region};
use crate::spatial::adjacency::adjacency;
use crate::spatial::crs::Crs;
use crate::spatial::locate::UnitLocator;

/// Reads a region and builds its unit graph: adjacency from the polygons, and each unit's
/// workload from the classes of the businesses it holds as of `as_of`.
/// A region's unit graph with, per unit, how many businesses of each class it holds.
#[derive(Debug)]
pub struct RegionGraph {
    pub graph: UnitGraph,
    pub region: RegionData,
    /// Per unit: businesses of class A, B, C, D.
    pub classes: Vec<[usize; 4]>,
    /// Per business (in register order): its unit, `None` when unlocated.
    pub unit_of: Vec<Option<usize>>,
}

pub fn region_graph(
    dir: &Path,
    crs: Crs,
    policy: &Policy,
    as_of: NaiveDate,
) -> Result<RegionGraph> {
    let started = std::time::Instant::now();
    let region = read_region(dir, crs, policy)?;
    tracing::debug!(elapsed = ?started.elapsed(), "region read");
    let shapes: Vec<_> = region.units.iter().map(|u| u.shape.clone()).collect();
    let mut order: Vec<usize> = (0..region.units.len()).collect();
    order.sort_by(|&a, &b| region.units[a].code.cmp(&region.units[b].code));
    let locator = UnitLocator::new(order.iter().map(|&i| shapes[i].clone()).collect());
    let points: Vec<Option<(f64, f64)>> = region.businesses.iter().map(|b| b.location).collect();
    let unit_of: Vec<Option<usize>> = locator
        .locate_all(&points)
        .into_iter()
        .map(|k| k.map(|k| order[k]))
        .collect();
    let pairs: Vec<(
        &crate::domain::entity::Business,
        &crate::domain::entity::Records,
    )> = region.businesses.iter().zip(&region.records).collect();
    let mut classes: Vec<Vec<RiskClass>> = vec![Vec::new(); region.units.len()];
    let classified = crate::par::map_chunks(&pairs, 10_000, |_, part| {
        part.iter()
            .map(|(b, r)| class_only(b, r, as_of, policy))
            .collect::<Vec<_>>()
    });
    for (unit, class) in unit_of.iter().zip(classified.into_iter().flatten()) {
        if let Some(u) = unit {
            classes[*u].push(class);
        }
    }
    tracing::debug!(elapsed = ?started.elapsed(), "businesses located and classified");
    let adj = adjacency(&shapes);
    tracing::debug!(elapsed = ?started.elapsed(), "units' adjacency");
    let graph = UnitGraph {
        codes: region.units.iter().map(|u| u.code.clone()).collect(),
        names: region.units.iter().map(|u| u.name.clone()).collect(),
        weights: region
            .units
            .iter()
            .zip(&classes)
            .map(|(u, c)| unit_workload(c, u.area_m2 / 1e6, policy))
            .collect(),
        adjacency: adj.neighbours,
        areas: Some(adj.areas),
        perimeters: Some(adj.perimeters),
        dedicated: region.units.iter().map(|u| u.dedicated).collect(),
    };
    let counts = classes
        .iter()
        .map(|c| {
            let mut n = [0usize; 4];
            for class in c {
                n[class.index()] += 1;
            }
            n
        })
        .collect();
    Ok(RegionGraph {
        graph,
        region,
        classes: counts,
        unit_of,
    })
}

/// Reads a current plan: a grids GeoJSON (each feature's `units` lists unit codes) or a CSV
/// `unit,grid`. Returns the grid index per unit of `graph` and the grid labels.
pub fn read_plan(path: &Path, graph: &UnitGraph) -> Result<(Vec<usize>, Vec<String>)> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    if path.extension().is_some_and(|e| e == "csv") {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        for (i, row) in reader.records().enumerate() {
            let row = row?;
            let (Some(unit), Some(grid)) = (row.get(0), row.get(1)) else {
                anyhow::bail!("{}:{}: a row needs unit,grid", path.display(), i + 2);
            };
            pairs.push((unit.to_owned(), grid.to_owned()));
        }
    } else {
        let json: serde_json::Value = serde_json::from_str(&text)?;
        let features = json["features"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("{}: not a FeatureCollection", path.display()))?;
        for (i, f) in features.iter().enumerate() {
            let grid = f["properties"]["code"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("G{:02}", i + 1));
            let units = f["properties"]["units"].as_array().ok_or_else(|| {
                anyhow::anyhow!("{}: feature {i} has no `units` list", path.display())
            })?;
            for u in units {
                let code = u.as_str().map_or_else(|| u.to_string(), str::to_owned);
                pairs.push((code, grid.clone()));
            }
        }
    }
    let mut labels: Vec<String> = pairs.iter().map(|(_, g)| g.clone()).collect();
    labels.sort();
    labels.dedup();
    let index: std::collections::HashMap<&str, usize> = graph
        .codes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let mut assignment = vec![usize::MAX; graph.len()];
    for (unit, grid) in &pairs {
        let &u = index.get(unit.as_str()).ok_or_else(|| {
            anyhow::anyhow!("{}: unit {unit} is not in the region", path.display())
        })?;
        anyhow::ensure!(
            assignment[u] == usize::MAX,
            "{}: unit {unit} is in two grids",
            path.display()
        );
        assignment[u] = labels.binary_search(grid).unwrap_or(0);
    }
    if let Some(u) = assignment.iter().position(|&g| g == usize::MAX) {
        anyhow::bail!("{}: unit {} is in no grid", path.display(), graph.codes[u]);
    }
    Ok((assignment, labels))
}

/// One grid of a plan: its units, dissolved shape, workload and businesses per class.
#[derive(Debug, Clone)]
pub struct GridSummary {
    pub code: String,
    pub name: String,
    pub shape: geo::MultiPolygon<f64>,
    pub workload: f64,
    pub units: Vec<String>,
    pub classes: [usize; 4],
}

/// The grids of an assignment; each grid's shape is the dissolved union of its units (one
/// boolean union, so shared edges leave no slivers).
pub fn grid_summaries(rg: &RegionGraph, assignment: &[usize], grids: usize) -> Vec<GridSummary> {
    (0..grids)
        .map(|g| {
            let members: Vec<usize> = (0..assignment.len())
                .filter(|&u| assignment[u] == g)
                .collect();
            let mut classes = [0usize; 4];
            for &u in &members {
                for (c, n) in classes.iter_mut().zip(rg.classes[u]) {
                    *c += n;
                }
            }
            GridSummary {
                code: format!("G{:02}", g + 1),
                name: format!("网格 {}", g + 1),
                shape: geo::unary_union(members.iter().map(|&u| &rg.region.units[u].shape)),
                workload: members.iter().map(|&u| rg.graph.weights[u]).sum(),
                units: members.iter().map(|&u| rg.graph.codes[u].clone()).collect(),
                classes,
            }
        })
        .collect()
}

/// The grids as a GeoJSON FeatureCollection.
pub fn grids_geojson(grids: &[GridSummary]) -> serde_json::Value {
    let features: Vec<serde_json::Value> = grids
        .iter()
        .map(|g| {
            json!({
                "type": "Feature",
                "properties": {
                    "code": g.code,
                    "name": g.name,
                    "units": g.units,
                    "workload_minutes_per_year": g.workload.round(),
                    "businesses": g.classes.iter().sum::<usize>(),
                    "businesses_per_class": { "A": g.classes[0], "B": g.classes[1], "C": g.classes[2], "D": g.classes[3] },
                },
                "geometry": crate::generate::geometry_to_json(&g.shape),
            })
        })
        .collect();
    json!({ "type": "FeatureCollection", "features": features })
}

/// Writes the grids as GeoJSON.
pub fn write_grids_geojson(
    path: &Path,
    rg: &RegionGraph,
    assignment: &[usize],
    grids: usize,
) -> Result<()> {
    std::fs::write(
        path,
        serde_json::to_string(&grids_geojson(&grid_summaries(rg, assignment, grids)))?,
    )?;
    Ok(())
}

/// The store's rows for a plan's grids.
pub fn grid_rows(grids: &[GridSummary]) -> Vec<crate::store::GridRow> {
    grids
        .iter()
        .map(|g| crate::store::GridRow {
            code: g.code.clone(),
            name: g.name.clone(),
            geometry: crate::generate::geometry_to_json(&g.shape).to_string(),
            workload: g.workload,
            units: g.units.clone(),
        })
        .collect()
}

impl super::App {
    /// Stores a plan as the region's next draft version (the region must be imported).
    pub fn save_plan(
        &self,
        region_code: &str,
        grids: &[GridSummary],
        metrics: &serde_json::Value,
        actor: &str,
    ) -> Result<i64, super::AppError> {
        let at = self.clock.stamp();
        let rows = grid_rows(grids);
        let mut store = self.open_store()?;
        store.write(|db| -> Result<i64, super::AppError> {
            let version = db.save_plan(region_code, &rows, metrics, &at)?;
            db.audit(
                &at,
                actor,
                "plan saved",
                region_code,
                &json!({ "version": version, "grids": rows.len(), "metrics": metrics }),
            )?;
            Ok(version)
        })
    }

    /// Approves a draft plan; the plan in force before it is retired. Audited.
    pub fn approve_plan(
        &self,
        region_code: &str,
        version: i64,
        actor: &str,
    ) -> Result<(), super::AppError> {
        if actor.trim().is_empty() {
            return Err(super::AppError::Invalid(
                "by: who approves the plan must be named".into(),
            ));
        }
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| -> Result<(), super::AppError> {
            db.approve_plan(region_code, version, actor, &at)?;
            db.audit(
                &at,
                actor,
                "plan approved",
                region_code,
                &json!({ "version": version }),
            )?;
            Ok(())
        })
    }

    pub fn plans(&self, region_code: &str) -> Result<Vec<crate::store::PlanRow>, super::AppError> {
        Ok(self.open_store()?.read().plans(region_code)?)
    }
}
