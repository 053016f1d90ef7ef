//! Partitioning: hard rules checked by an independent breadth-first checker on real graphs,
//! determinism by seed, and infeasible cases reported rather than looping or panicking.

use std::collections::{HashSet, VecDeque};

use gridpatrol::domain::partition::{PartitionOptions, UnitGraph, partition};
use gridpatrol::import::graph::read_graph;

use crate::support::shared_data;

/// Every unit in exactly one grid of 0..k, every grid non-empty and connected.
fn check_hard_rules(graph: &UnitGraph, assignment: &[usize], k: usize) {
    assert_eq!(assignment.len(), graph.len());
    assert!(assignment.iter().all(|&g| g < k), "a unit outside 0..{k}");
    for g in 0..k {
        let members: HashSet<usize> = (0..graph.len()).filter(|&u| assignment[u] == g).collect();
        let start = *members
            .iter()
            .min()
            .unwrap_or_else(|| panic!("grid {g} is empty"));
        let mut seen = HashSet::from([start]);
        let mut queue = VecDeque::from([start]);
        while let Some(u) = queue.pop_front() {
            for &(v, _) in &graph.adjacency[u] {
                if members.contains(&v) && seen.insert(v) {
                    queue.push_back(v);
                }
            }
        }
        assert_eq!(seen.len(), members.len(), "grid {g} is in pieces");
    }
}

fn deviation(graph: &UnitGraph, assignment: &[usize], k: usize) -> f64 {
    let mut w = vec![0.0; k];
    for (u, &g) in assignment.iter().enumerate() {
        w[g] += graph.weights[u];
    }
    let mean = w.iter().sum::<f64>() / k as f64;
    w.iter().map(|x| (x / mean - 1.0).abs()).fold(0.0, f64::max)
}

#[test]
fn gerrymandria_and_county_graphs_obey_the_hard_rules_on_every_seed() {
    let Some(data) =
        shared_data("gerrymandria_and_county_graphs_obey_the_hard_rules_on_every_seed")
    else {
        return;
    };
    for (file, weight, k, tolerance) in [
        ("partition/gerrychain/gerrymandria.json", "TOTPOP", 4, 0.10),
        (
            "partition/validi_buchanan/county/county19.json",
            "TOTPOP",
            4,
            0.005,
        ),
        (
            "partition/validi_buchanan/county/county20.json",
            "TOTPOP",
            4,
            0.005,
        ),
    ] {
        let graph = read_graph(&data.join(file), weight).unwrap();
        for seed in 1..=5 {
            let result = partition(
                &graph,
                &PartitionOptions {
                    grids: k,
                    tolerance,
                    seed,
                    starts: Some(4),
                },
            )
            .unwrap();
            check_hard_rules(&graph, &result.assignment, k);
            assert_eq!(result.metrics.connected, k);
            if result.infeasible.is_none() {
                assert!(
                    deviation(&graph, &result.assignment, k) <= tolerance + 1e-9,
                    "{file} seed {seed}"
                );
            }
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_plan() {
    let Some(data) = shared_data("the_same_seed_gives_the_same_plan") else {
        return;
    };
    let graph = read_graph(
        &data.join("partition/validi_buchanan/county/county19.json"),
        "TOTPOP",
    )
    .unwrap();
    let options = PartitionOptions {
        grids: 4,
        tolerance: 0.01,
        seed: 42,
        starts: Some(4),
    };
    assert_eq!(
        partition(&graph, &options).unwrap().assignment,
        partition(&graph, &options).unwrap().assignment
    );
}

#[test]
fn more_pieces_than_grids_is_reported_not_looped_on() {
    // Three islands, two grids.
    let graph = UnitGraph {
        codes: vec!["a".into(), "b".into(), "c".into()],
        names: vec![String::new(); 3],
        weights: vec![1.0; 3],
        adjacency: vec![Vec::new(); 3],
        areas: None,
        perimeters: None,
        dedicated: vec![false; 3],
    };
    let result = partition(
        &graph,
        &PartitionOptions {
            grids: 2,
            tolerance: 0.05,
            seed: 1,
            starts: Some(4),
        },
    )
    .unwrap();
    let why = result.infeasible.expect("reported");
    assert!(why.reason.contains("3 separate pieces"), "{}", why.reason);
    assert_eq!(why.blocking_units, vec!["c"]);
    assert_eq!(result.assignment.len(), 3);
}

#[test]
fn dedicated_units_form_grids_of_their_own() {
    let Some(data) = shared_data("dedicated_units_form_grids_of_their_own") else {
        return;
    };
    let mut graph = read_graph(
        &data.join("partition/gerrychain/gerrymandria.json"),
        "TOTPOP",
    )
    .unwrap();
    graph.dedicated[27] = true;
    let result = partition(
        &graph,
        &PartitionOptions {
            grids: 5,
            tolerance: 0.5,
            seed: 3,
            starts: Some(4),
        },
    )
    .unwrap();
    check_hard_rules(&graph, &result.assignment, 5);
    let g = result.assignment[27];
    assert_eq!(
        result.assignment.iter().filter(|&&x| x == g).count(),
        1,
        "the market is alone in its grid"
    );
}

#[test]
fn helsinki_units_become_grids_from_polygons() {
    let Some(data) = shared_data("helsinki_units_become_grids_from_polygons") else {
        return;
    };
    let policy = gridpatrol::domain::policy::Policy::default();
    let rg = gridpatrol::app::region_graph(
        &data.join("regions/helsinki"),
        gridpatrol::spatial::crs::Crs::Wgs84,
        &policy,
        crate::support::date("2026-06-15"),
    )
    .unwrap();
    let graph = &rg.graph;
    // The region README lists 9 shared boundaries.
    assert_eq!(graph.edge_count(), 9);
    let result = partition(
        graph,
        &PartitionOptions {
            grids: 3,
            tolerance: 0.5,
            seed: 1,
            starts: Some(4),
        },
    )
    .unwrap();
    check_hard_rules(graph, &result.assignment, 3);
}

#[test]
fn plans_are_stored_as_drafts_and_approval_retires_the_plan_in_force() {
    use gridpatrol::spatial::crs::Crs;
    let t = crate::support::TestApp::new("2026-06-15");
    let region = crate::support::TinyRegion::new();
    let rg = gridpatrol::app::region_graph(
        region.path(),
        Crs::Wgs84,
        &t.app.policy,
        crate::support::date("2026-06-15"),
    )
    .unwrap();
    let result = partition(
        &rg.graph,
        &PartitionOptions {
            grids: 2,
            tolerance: 0.9,
            seed: 1,
            starts: Some(1),
        },
    )
    .unwrap();
    let grids = gridpatrol::app::grid_summaries(&rg, &result.assignment, 2);
    assert_eq!(grids.iter().map(|g| g.units.len()).sum::<usize>(), 2);
    assert_eq!(
        grids
            .iter()
            .map(|g| g.classes.iter().sum::<usize>())
            .sum::<usize>(),
        4,
        "every business counted once"
    );

    // A plan for a region that is not in the database is refused.
    let err = t
        .app
        .save_plan("tiny", &grids, &serde_json::json!({}), "chief")
        .unwrap_err();
    assert_eq!(err.to_string(), "region 'tiny' (import it first) not found");

    t.app
        .import_region(region.path(), Crs::Wgs84, "test")
        .unwrap();
    assert_eq!(
        t.app
            .save_plan(
                "tiny",
                &grids,
                &serde_json::json!({"cut_edges": 1}),
                "chief"
            )
            .unwrap(),
        1
    );
    t.app.approve_plan("tiny", 1, "chief Wang").unwrap();
    assert_eq!(
        t.app
            .save_plan("tiny", &grids, &serde_json::json!({}), "chief")
            .unwrap(),
        2
    );
    t.app.approve_plan("tiny", 2, "chief Wang").unwrap();
    let statuses: Vec<(i64, String, i64)> = t
        .app
        .plans(&crate::support::test_caller(), "tiny")
        .unwrap()
        .into_iter()
        .map(|p| (p.version, p.status, p.grids))
        .collect();
    assert_eq!(
        statuses,
        vec![(1, "retired".into(), 2), (2, "approved".into(), 2)]
    );
    let err = t.app.approve_plan("tiny", 1, "chief Wang").unwrap_err();
    assert_eq!(
        err.to_string(),
        "conflict: plan 1 is retired, only a draft can be approved"
    );
}

#[test]
fn a_broken_graph_file_is_named_by_node() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.json");
    std::fs::write(
        &file,
        r#"{"nodes":[{"id":1,"pop":5},{"id":2,"pop":"many"}],"adjacency":[[{"id":2}],[{"id":1}]]}"#,
    )
    .unwrap();
    let err = read_graph(&file, "pop").unwrap_err().to_string();
    assert!(
        err.contains("g.json: feature 1: node 2 has no numeric `pop`"),
        "{err}"
    );
    std::fs::write(
        &file,
        r#"{"nodes":[{"id":1,"pop":5}],"adjacency":[[{"id":9}]]}"#,
    )
    .unwrap();
    let err = read_graph(&file, "pop").unwrap_err().to_string();
    assert!(err.contains("node 1 lists an unknown neighbour 9"), "{err}");
    std::fs::write(&file, "[1, 2").unwrap();
    assert!(
        read_graph(&file, "pop")
            .unwrap_err()
            .to_string()
            .contains("g.json:1:")
    );
}
