//! Unit graphs from files: NetworkX "adjacency" JSON dual graphs (GerryChain, Validi–Buchanan)
//! and the Districting-and-Routing GeoJSON (`LIST_ADJACENT`), so benchmark instances run
//! unchanged. Problems name the node or feature.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::problem::{ImportError, Location, ProblemKind};
use crate::domain::partition::UnitGraph;

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Reads a graph file, recognising its kind by its shape.
pub fn read_graph(path: &Path, weight: &str) -> Result<UnitGraph, ImportError> {
    let (name, text) = super::read_named(path)?;
    let json: Value = serde_json::from_str(&text).map_err(|e| {
        ImportError::single(
            &name,
            Location::Line {
                line: e.line() as u64,
                column: None,
            },
            ProblemKind::Syntax,
            e.to_string(),
        )
    })?;
    if json.get("adjacency").is_some() && json.get("nodes").is_some() {
        networkx(&name, &json, weight)
    } else if json.get("features").is_some() {
        list_adjacent(&name, &json, weight)
    } else {
        Err(ImportError::single(
            &name,
            Location::File,
            ProblemKind::Syntax,
            "neither a NetworkX adjacency graph (`nodes` and `adjacency`) nor a GeoJSON FeatureCollection",
        ))
    }
}

/// Makes the graph symmetric: an edge listed on one side only is an edge.
fn symmetrize(graph: &mut UnitGraph) {
    for i in 0..graph.len() {
        for (j, len) in graph.adjacency[i].clone() {
            if !graph.adjacency[j].iter().any(|&(x, _)| x == i) {
                graph.adjacency[j].push((i, len));
            }
        }
    }
}

fn bad(file: &str, index: usize, message: String) -> ImportError {
    ImportError::single(
        file,
        Location::Feature { index, name: None },
        ProblemKind::BadValue,
        message,
    )
}

fn networkx(file: &str, json: &Value, weight: &str) -> Result<UnitGraph, ImportError> {
    let nodes = json["nodes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let adjacency = json["adjacency"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if nodes.len() != adjacency.len() {
        return Err(bad(
            file,
            0,
            format!(
                "{} nodes but {} adjacency lists",
                nodes.len(),
                adjacency.len()
            ),
        ));
    }
    let index: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (id_text(&n["id"]), i))
        .collect();
    let mut graph = UnitGraph::default();
    let mut areas = Vec::new();
    let mut boundary = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let w = number(node.get(weight)).ok_or_else(|| {
            bad(
                file,
                i,
                format!("node {} has no numeric `{weight}`", id_text(&node["id"])),
            )
        })?;
        if !(w.is_finite() && w >= 0.0) {
            return Err(bad(
                file,
                i,
                format!(
                    "node {}: `{weight}` must be zero or positive, found {w}",
                    id_text(&node["id"])
                ),
            ));
        }
        graph.codes.push(id_text(&node["id"]));
        graph.names.push(
            node.get("NAME10")
                .or_else(|| node.get("name"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        );
        graph.weights.push(w);
        graph.dedicated.push(
            node.get("dedicated")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        );
        areas.push(number(node.get("area")).or_else(|| number(node.get("areas"))));
        boundary.push(number(node.get("boundary_perim")).unwrap_or(0.0));
    }
    let mut all_lengths = true;
    for (i, list) in adjacency.iter().enumerate() {
        let mut neighbours = Vec::new();
        for edge in list.as_array().map(Vec::as_slice).unwrap_or_default() {
            let other = id_text(&edge["id"]);
            let &j = index.get(&other).ok_or_else(|| {
                bad(
                    file,
                    i,
                    format!("node {} lists an unknown neighbour {other}", graph.codes[i]),
                )
            })?;
            if j == i {
                continue;
            }
            let len = number(edge.get("shared_perim"));
            all_lengths &= len.is_some();
            neighbours.push((j, len.unwrap_or(1.0)));
        }
        neighbours.sort_by_key(|&(j, _)| j);
        neighbours.dedup_by_key(|&mut (j, _)| j);
        graph.adjacency.push(neighbours);
    }
    symmetrize(&mut graph);
    if all_lengths && areas.iter().all(Option::is_some) {
        graph.perimeters = Some(
            (0..graph.len())
                .map(|i| boundary[i] + graph.adjacency[i].iter().map(|&(_, l)| l).sum::<f64>())
                .collect(),
        );
        graph.areas = Some(areas.into_iter().map(|a| a.unwrap_or(0.0)).collect());
    }
    Ok(graph)
}

fn list_adjacent(file: &str, json: &Value, weight: &str) -> Result<UnitGraph, ImportError> {
    let features = json["features"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let ids: Vec<String> = features
        .iter()
        .enumerate()
        .map(|(i, f)| f["properties"].get("ID").map_or(i.to_string(), id_text))
        .collect();
    let index: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut graph = UnitGraph::default();
    for (i, feature) in features.iter().enumerate() {
        let props = &feature["properties"];
        let w = number(props.get(weight)).ok_or_else(|| {
            bad(
                file,
                i,
                format!("feature {} has no numeric `{weight}`", ids[i]),
            )
        })?;
        graph.codes.push(ids[i].clone());
        graph.names.push(
            props
                .get("NAME")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        );
        graph.weights.push(w);
        graph.dedicated.push(false);
        let mut neighbours = Vec::new();
        for n in props["LIST_ADJACENT"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let key = id_text(n);
            let &j = index.get(key.as_str()).ok_or_else(|| {
                bad(
                    file,
                    i,
                    format!("feature {} lists an unknown neighbour {key}", ids[i]),
                )
            })?;
            if j != i {
                neighbours.push((j, 1.0));
            }
        }
        neighbours.sort_by_key(|&(j, _)| j);
        neighbours.dedup_by_key(|&mut (j, _)| j);
        graph.adjacency.push(neighbours);
    }
    symmetrize(&mut graph);
    Ok(graph)
}
