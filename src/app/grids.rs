//! Grid plans for a region: the unit graph with workloads from the register, and grid
//! geometry dissolved from units.

use std::path::Path;

use anyhow::Result;
use chrono::NaiveDate;
use serde_json::json;

use crate::domain::partition::{UnitGraph, unit_workload};
use crate::domain::policy::Policy;
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
    // Businesses of class A, B, C, D per unit.
    let mut counts: Vec<[usize; 4]> = vec![[0; 4]; region.units.len()];
    let classified = crate::par::map_chunks(&pairs, 10_000, |_, part| {
        part.iter()
            .map(|(b, r)| class_only(b, r, as_of, policy))
            .collect::<Vec<_>>()
    });
    for (unit, class) in unit_of.iter().zip(classified.into_iter().flatten()) {
        if let Some(u) = unit {
            counts[*u][class.index()] += 1;
        }
    }
    tracing::debug!(elapsed = ?started.elapsed(), "businesses located and classified");
    let adj = adjacency(&shapes);
    tracing::debug!(elapsed = ?started.elapsed(), "units' adjacency");
    let graph = unit_graph(&region.units, &counts, adj, policy);
    Ok(RegionGraph {
        graph,
        region,
        classes: counts,
        unit_of,
    })
}

/// The unit graph of a region's units: codes, names, workloads from the businesses of each
/// class per unit, and the adjacency with shared lengths, areas and perimeters.
fn unit_graph(
    units: &[crate::import::geojson::Unit],
    counts: &[[usize; 4]],
    adj: crate::spatial::adjacency::Adjacency,
    policy: &Policy,
) -> UnitGraph {
    UnitGraph {
        codes: units.iter().map(|u| u.code.clone()).collect(),
        names: units.iter().map(|u| u.name.clone()).collect(),
        weights: units
            .iter()
            .zip(counts)
            .map(|(u, &n)| unit_workload(n, u.area_m2 / 1e6, policy))
            .collect(),
        adjacency: adj.neighbours,
        areas: Some(adj.areas),
        perimeters: Some(adj.perimeters),
        dedicated: units.iter().map(|u| u.dedicated).collect(),
    }
}

/// The grid (index into `grid_units`) of each unit of `graph`, `usize::MAX` where none; the
/// code of a plan's unit the graph does not have is the error.
pub fn grid_of_units(
    graph: &UnitGraph,
    grid_units: &[(String, Vec<String>)],
) -> Result<Vec<usize>, String> {
    let index: std::collections::HashMap<&str, usize> = graph
        .codes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let mut assignment = vec![usize::MAX; graph.len()];
    for (g, (_, units)) in grid_units.iter().enumerate() {
        for u in units {
            let &i = index.get(u.as_str()).ok_or_else(|| u.clone())?;
            assignment[i] = g;
        }
    }
    Ok(assignment)
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

    /// A region's grid plans (draft, approved, retired).
    pub fn plans(
        &self,
        caller: &super::access::Caller,
        region_code: &str,
    ) -> Result<Vec<crate::store::PlanRow>, super::AppError> {
        self.require(caller, crate::domain::access::Action::Read)?;
        Ok(self.open_store()?.read().plans(region_code)?)
    }

    /// A region's outline (a GeoJSON Feature).
    pub fn region_outline(
        &self,
        caller: &super::access::Caller,
        region_code: &str,
    ) -> Result<serde_json::Value, super::AppError> {
        self.require(caller, crate::domain::access::Action::Read)?;
        Ok(self.open_store()?.read().region_feature(region_code)?)
    }

    /// A region's base units (a GeoJSON FeatureCollection); an unknown region is not found.
    pub fn region_units(
        &self,
        caller: &super::access::Caller,
        region_code: &str,
    ) -> Result<serde_json::Value, super::AppError> {
        self.require(caller, crate::domain::access::Action::Read)?;
        let store = self.open_store()?;
        store.read().region_feature(region_code)?;
        Ok(store.read().units_geojson(region_code)?)
    }

    /// A plan's grids with their units and post holders (a GeoJSON FeatureCollection).
    pub fn plan_map(
        &self,
        caller: &super::access::Caller,
        region_code: &str,
        version: i64,
    ) -> Result<serde_json::Value, super::AppError> {
        self.require(caller, crate::domain::access::Action::Read)?;
        Ok(self
            .open_store()?
            .read()
            .plan_geojson(region_code, version)?)
    }
}

impl super::App {
    /// A region's unit graph from the store (after import): units and outline as stored,
    /// workloads from the stored classes, and the roster.
    pub fn stored_region_graph(&self, region_code: &str) -> Result<RegionGraph, super::AppError> {
        let store = self.open_store()?;
        let db = store.read();
        let outline =
            json!({ "type": "FeatureCollection", "features": [db.region_feature(region_code)?] });
        let jurisdiction =
            crate::import::geojson::read_jurisdiction("region", &outline.to_string(), Crs::Wgs84)?;
        let mut problems = crate::import::Problems::default();
        let units = crate::import::geojson::read_units(
            "units",
            &db.units_geojson(region_code)?.to_string(),
            Crs::Wgs84,
            &mut problems,
        );
        problems.into_result(())?;
        let counts = db.class_counts(region_code)?;
        let officers = db.officers(Some(region_code))?;
        let shapes: Vec<_> = units.iter().map(|u| u.shape.clone()).collect();
        let adj = adjacency(&shapes);
        let classes: Vec<[usize; 4]> = units
            .iter()
            .map(|u| counts.get(&u.code).copied().unwrap_or_default())
            .collect();
        let graph = unit_graph(&units, &classes, adj, &self.policy);
        Ok(RegionGraph {
            graph,
            region: RegionData {
                dir: Default::default(),
                jurisdiction,
                units,
                businesses: Vec::new(),
                records: Vec::new(),
                officers,
                rows_per_file: Vec::new(),
            },
            classes,
            unit_of: Vec::new(),
        })
    }

    /// Partitions a stored region into `grids` grids and saves the result as a draft plan.
    pub fn draft_plan(
        &self,
        region_code: &str,
        grids: usize,
        seed: u64,
        actor: &str,
    ) -> Result<(i64, serde_json::Value), super::AppError> {
        let rg = self.stored_region_graph(region_code)?;
        if grids == 0 || grids > rg.graph.len() {
            return Err(super::AppError::Invalid(format!(
                "grids: between 1 and {} (the region's units)",
                rg.graph.len()
            )));
        }
        let plan = crate::domain::partition::partition(
            &rg.graph,
            &crate::domain::partition::PartitionOptions {
                grids,
                tolerance: 0.05,
                seed,
                starts: None,
            },
        )
        .map_err(|e| super::AppError::Invalid(format!("grids: {e}")))?;
        let metrics = serde_json::to_value(crate::domain::partition::metrics(
            &rg.graph,
            &plan.assignment,
            grids,
        ))
        .unwrap_or_default();
        let summaries = grid_summaries(&rg, &plan.assignment, grids);
        let version = self.save_plan(region_code, &summaries, &metrics, actor)?;
        Ok((version, metrics))
    }

    /// Moves a unit to a neighbouring grid of a draft plan. Refused when the unit's grid
    /// would fall apart or be left empty, when the target does not touch the unit, or
    /// (unless `accept_imbalance`) when a grid would leave the balance tolerance. Returns
    /// the two grids' workloads against the mean.
    pub fn move_unit(
        &self,
        region_code: &str,
        version: i64,
        unit: &str,
        to_grid: &str,
        accept_imbalance: bool,
        actor: &str,
    ) -> Result<serde_json::Value, super::AppError> {
        let rg = self.stored_region_graph(region_code)?;
        let store = self.open_store()?;
        let status = store.read().plan_status(region_code, version)?;
        if status != "draft" {
            return Err(super::AppError::Conflict(format!(
                "plan {version} is {status}; only a draft is edited"
            )));
        }
        let grid_units = store.read().plan_grid_units(region_code, version)?;
        let mut assignment = grid_of_units(&rg.graph, &grid_units).map_err(|u| {
            super::AppError::Invalid(format!("unit {u} of the plan is not in the region"))
        })?;
        let u = rg.graph.codes.iter().position(|c| c == unit);
        let u = u.ok_or_else(|| {
            super::AppError::Invalid(format!("unit: '{unit}' is not in the region"))
        })?;
        let to = grid_units
            .iter()
            .position(|(g, _)| g == to_grid)
            .ok_or_else(|| {
                super::AppError::Invalid(format!("to_grid: '{to_grid}' is not in plan {version}"))
            })?;
        let from = assignment[u];
        if from == to {
            return Err(super::AppError::Invalid(format!(
                "to_grid: unit {unit} is already in {to_grid}"
            )));
        }
        if !rg.graph.adjacency[u]
            .iter()
            .any(|&(v, _)| assignment[v] == to)
        {
            return Err(super::AppError::Invalid(format!(
                "to_grid: unit {unit} does not touch grid {to_grid}"
            )));
        }
        let rest: Vec<usize> = (0..rg.graph.len())
            .filter(|&v| assignment[v] == from && v != u)
            .collect();
        if rest.is_empty() {
            return Err(super::AppError::Invalid(format!(
                "unit: moving {unit} would leave grid {} empty",
                grid_units[from].0
            )));
        }
        // Contiguity: the rest of the source grid must still be one piece.
        let mut seen = vec![false; rg.graph.len()];
        let mut stack = vec![rest[0]];
        seen[rest[0]] = true;
        let mut reached = 1;
        while let Some(v) = stack.pop() {
            for &(w, _) in &rg.graph.adjacency[v] {
                if !seen[w] && w != u && assignment[w] == from {
                    seen[w] = true;
                    reached += 1;
                    stack.push(w);
                }
            }
        }
        if reached != rest.len() {
            return Err(super::AppError::Invalid(format!(
                "unit: moving {unit} would split grid {} in two",
                grid_units[from].0
            )));
        }
        assignment[u] = to;
        let k = grid_units.len();
        let mut load = vec![0.0; k];
        for (v, &g) in assignment.iter().enumerate() {
            if g < k {
                load[g] += rg.graph.weights[v];
            }
        }
        let mean = load.iter().sum::<f64>() / k as f64;
        let deviation = |g: usize| {
            if mean > 0.0 {
                load[g] / mean - 1.0
            } else {
                0.0
            }
        };
        let tolerance = 0.05;
        let over = [from, to]
            .into_iter()
            .find(|&g| deviation(g).abs() > tolerance);
        if let (Some(g), false) = (over, accept_imbalance) {
            return Err(super::AppError::Invalid(format!(
                "to_grid: grid {} would be {:+.1}% off the mean workload (tolerance ±{:.0}%); send accept_imbalance to move anyway",
                grid_units[g].0,
                deviation(g) * 100.0,
                tolerance * 100.0
            )));
        }
        let shape = |g: usize| {
            let members: Vec<usize> = (0..assignment.len())
                .filter(|&v| assignment[v] == g)
                .collect();
            crate::generate::geometry_to_json(&geo::unary_union(
                members.iter().map(|&v| &rg.region.units[v].shape),
            ))
            .to_string()
        };
        let (from_shape, to_shape) = (shape(from), shape(to));
        let at = self.clock.stamp();
        let result = json!({
            "unit": unit,
            "from": { "grid": grid_units[from].0, "workload": load[from], "deviation": deviation(from) },
            "to": { "grid": to_grid, "workload": load[to], "deviation": deviation(to) },
            "mean_workload": mean,
        });
        let mut store = store;
        store.write(|db| -> Result<(), super::AppError> {
            db.move_unit(
                region_code,
                version,
                unit,
                to_grid,
                [
                    (grid_units[from].0.as_str(), load[from], from_shape.as_str()),
                    (to_grid, load[to], to_shape.as_str()),
                ],
            )?;
            db.audit(
                &at,
                actor,
                "unit moved",
                region_code,
                &json!({ "version": version, "before": { "unit": unit, "grid": grid_units[from].0 }, "after": &result }),
            )?;
            Ok(())
        })?;
        Ok(result)
    }

    /// Publishes an approved plan; audited.
    pub fn publish_plan(
        &self,
        region_code: &str,
        version: i64,
        actor: &str,
    ) -> Result<bool, super::AppError> {
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| -> Result<bool, super::AppError> {
            let changed = db.publish_plan(region_code, version, &at)?;
            if changed {
                db.audit(
                    &at,
                    actor,
                    "plan published",
                    region_code,
                    &json!({ "version": version }),
                )?;
            }
            Ok(changed)
        })
    }
}
