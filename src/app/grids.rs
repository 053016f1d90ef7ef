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
pub fn region_graph(
    dir: &Path,
    crs: Crs,
    policy: &Policy,
    as_of: NaiveDate,
) -> Result<(UnitGraph, RegionData)> {
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
    Ok((graph, region))
}

/// Writes the grids as GeoJSON: each grid's polygon is the dissolved union of its units.
pub fn write_grids_geojson(
    path: &Path,
    region: &RegionData,
    graph: &UnitGraph,
    assignment: &[usize],
    grids: usize,
) -> Result<()> {
    let mut features = Vec::new();
    for g in 0..grids {
        let members: Vec<usize> = (0..assignment.len())
            .filter(|&u| assignment[u] == g)
            .collect();
        let shape = geo::unary_union(members.iter().map(|&u| &region.units[u].shape));
        let workload: f64 = members.iter().map(|&u| graph.weights[u]).sum();
        features.push(json!({
            "type": "Feature",
            "properties": {
                "code": format!("G{:02}", g + 1),
                "name": format!("网格 {}", g + 1),
                "units": members.iter().map(|&u| graph.codes[u].clone()).collect::<Vec<_>>(),
                "workload_minutes_per_year": workload.round(),
            },
            "geometry": crate::generate::geometry_to_json(&shape),
        }));
    }
    let collection = json!({ "type": "FeatureCollection", "features": features });
    std::fs::write(path, serde_json::to_string(&collection)?)?;
    Ok(())
}
