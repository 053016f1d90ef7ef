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
}

pub fn region_graph(
    dir: &Path,
    crs: Crs,
    policy: &Policy,
    as_of: NaiveDate,
) -> Result<RegionGraph> {
    let region = read_region(dir, crs, policy)?;
    let shapes: Vec<_> = region.units.iter().map(|u| u.shape.clone()).collect();
    let mut order: Vec<usize> = (0..region.units.len()).collect();
    order.sort_by(|&a, &b| region.units[a].code.cmp(&region.units[b].code));
    let locator = UnitLocator::new(order.iter().map(|&i| shapes[i].clone()).collect());
    let mut classes: Vec<Vec<RiskClass>> = vec![Vec::new(); region.units.len()];
    for (b, r) in region.businesses.iter().zip(&region.records) {
        if let Some(k) = b.location.and_then(|(x, y)| locator.locate(x, y)) {
            classes[order[k]].push(class_only(b, r, as_of, policy));
        }
    }
    let adj = adjacency(&shapes);
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

/// Writes the grids as GeoJSON: each grid's polygon is the dissolved union of its units.
pub fn write_grids_geojson(
    path: &Path,
    rg: &RegionGraph,
    assignment: &[usize],
    grids: usize,
) -> Result<()> {
    let (region, graph) = (&rg.region, &rg.graph);
    let mut features = Vec::new();
    for g in 0..grids {
        let members: Vec<usize> = (0..assignment.len())
            .filter(|&u| assignment[u] == g)
            .collect();
        let shape = geo::unary_union(members.iter().map(|&u| &region.units[u].shape));
        let workload: f64 = members.iter().map(|&u| graph.weights[u]).sum();
        let mut classes = [0usize; 4];
        for &u in &members {
            for (c, n) in classes.iter_mut().zip(rg.classes[u]) {
                *c += n;
            }
        }
        features.push(json!({
            "type": "Feature",
            "properties": {
                "code": format!("G{:02}", g + 1),
                "name": format!("网格 {}", g + 1),
                "units": members.iter().map(|&u| graph.codes[u].clone()).collect::<Vec<_>>(),
                "workload_minutes_per_year": workload.round(),
                "businesses": classes.iter().sum::<usize>(),
                "businesses_per_class": { "A": classes[0], "B": classes[1], "C": classes[2], "D": classes[3] },
            },
            "geometry": crate::generate::geometry_to_json(&shape),
        }));
    }
    let collection = json!({ "type": "FeatureCollection", "features": features });
    std::fs::write(path, serde_json::to_string(&collection)?)?;
    Ok(())
}
