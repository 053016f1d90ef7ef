//! The patrol plan for a region over a date range: grids, A-post and B-post officers, and
//! dated routine tasks with due dates spread so each officer's days are even.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Serialize;

use super::grids::region_graph;
use crate::domain::entity::Role;
use crate::domain::partition::{PartitionOptions, partition};
use crate::domain::policy::{Policy, RiskClass};
use crate::domain::risk::classify;
use crate::domain::schedule::{Window, obligations, spread_due_dates};
use crate::spatial::crs::Crs;

/// One dated task of the plan (the CSV row).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedTask {
    pub date: NaiveDate,
    pub entity_id: String,
    pub grid: String,
    pub officer_id: String,
    pub partner_id: String,
    pub kind: &'static str,
    pub due_by: NaiveDate,
    pub class: RiskClass,
    #[serde(skip)]
    pub grid_index: usize,
}

/// The plan and what it says about the load.
#[derive(Debug, Clone, Serialize)]
pub struct PatrolPlan {
    pub tasks: Vec<PlannedTask>,
    /// Per officer: (tasks, busiest day's tasks, mean tasks per active day).
    pub daily_load: BTreeMap<String, (usize, usize, f64)>,
    /// Per grid: hours the plan needs against the A-post officer's hours in the range.
    pub hours: BTreeMap<String, (f64, f64)>,
    pub unlocated: usize,
    pub already_satisfied: usize,
}

/// The classes a business will have over `[from, to]` if no new record comes: classify at
/// `from`, then again on each `changes_on`.
pub fn class_timeline(
    business: &crate::domain::entity::Business,
    records: &crate::domain::entity::Records,
    from: NaiveDate,
    to: NaiveDate,
    policy: &Policy,
) -> Vec<(NaiveDate, RiskClass)> {
    let mut timeline = Vec::new();
    let mut day = from;
    loop {
        let c = classify(business, records, day, policy);
        timeline.push((day, c.class));
        match c.changes_on {
            Some(next) if next <= to && next > day => day = next,
            _ => break,
        }
    }
    timeline
}

/// Plans routine patrols for a region between two dates.
pub fn plan_region(
    dir: &Path,
    from: NaiveDate,
    to: NaiveDate,
    grids: Option<usize>,
    policy: &Policy,
    seed: u64,
    starts: Option<usize>,
) -> Result<PatrolPlan> {
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    let rg = region_graph(dir, Crs::Wgs84, policy, from)?;
    let region = &rg.region;
    let certified: Vec<&crate::domain::entity::Officer> = region
        .officers
        .iter()
        .filter(|o| o.certified && matches!(o.role, Role::Officer | Role::Deputy))
        .collect();
    anyhow::ensure!(
        certified.len() >= policy.min_officers_per_visit as usize,
        "the region has {} certified officers; a visit needs {}",
        certified.len(),
        policy.min_officers_per_visit
    );
    let k = grids.unwrap_or(certified.len()).clamp(1, rg.graph.len());
    let plan = partition(
        &rg.graph,
        &PartitionOptions {
            grids: k,
            tolerance: 0.05,
            seed,
            starts,
        },
    )
    .context("partitioning the region into grids")?;

    // A-posts: heaviest grid first to the officer whose load per hour stays lowest.
    let mut grid_load = vec![0.0; k];
    for (u, &g) in plan.assignment.iter().enumerate() {
        grid_load[g] += rg.graph.weights[u];
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| grid_load[b].total_cmp(&grid_load[a]));
    let mut officer_load = vec![0.0; certified.len()];
    let mut a_post = vec![0usize; k];
    for &g in &order {
        let o = (0..certified.len())
            .min_by(|&x, &y| {
                let lx = (officer_load[x] + grid_load[g]) / certified[x].hours_per_month.max(1.0);
                let ly = (officer_load[y] + grid_load[g]) / certified[y].hours_per_month.max(1.0);
                lx.total_cmp(&ly).then(x.cmp(&y))
            })
            .unwrap_or(0);
        officer_load[o] += grid_load[g];
        a_post[g] = o;
    }
    // B-posts: the least-partnered other certified officer, experienced with new where possible.
    let mut partner_load = vec![0usize; certified.len()];
    let mut b_post = vec![0usize; k];
    for &g in &order {
        let lead = a_post[g];
        let p = (0..certified.len())
            .filter(|&o| o != lead)
            .min_by_key(|&o| {
                (
                    partner_load[o],
                    certified[o]
                        .years_of_service
                        .abs_diff(certified[lead].years_of_service)
                        == 0,
                    o,
                )
            })
            .unwrap_or(lead);
        partner_load[p] += 1;
        b_post[g] = p;
    }

    // Obligations and tasks.
    let mut shapes_order: Vec<usize> = (0..region.units.len()).collect();
    shapes_order.sort_by(|&a, &b| region.units[a].code.cmp(&region.units[b].code));
    let locator = crate::spatial::locate::UnitLocator::new(
        shapes_order
            .iter()
            .map(|&i| region.units[i].shape.clone())
            .collect(),
    );
    let range = Window {
        start: from,
        end: to,
    };
    let mut per_officer: BTreeMap<usize, Vec<(usize, Window, RiskClass, usize)>> = BTreeMap::new();
    let (mut unlocated, mut already_satisfied) = (0, 0);
    for (i, (b, r)) in region.businesses.iter().zip(&region.records).enumerate() {
        let Some(unit) = b
            .location
            .and_then(|(x, y)| locator.locate(x, y))
            .map(|k| shapes_order[k])
        else {
            unlocated += 1;
            continue;
        };
        let g = plan.assignment[unit];
        let visits: Vec<NaiveDate> = r.inspections.iter().map(|v| v.date).collect();
        let timeline = class_timeline(b, r, from, to, policy);
        for o in obligations(&timeline, &visits, from, to, policy) {
            if o.satisfied_by.is_some() {
                already_satisfied += 1;
                continue;
            }
            per_officer
                .entry(a_post[g])
                .or_default()
                .push((i, o.window, o.class, g));
        }
    }
    let mut tasks = Vec::new();
    let mut daily_load = BTreeMap::new();
    for (&officer, list) in &per_officer {
        let windows: Vec<Window> = list.iter().map(|t| t.1).collect();
        let due = spread_due_dates(&windows, range);
        let mut per_day: BTreeMap<NaiveDate, usize> = BTreeMap::new();
        for ((i, window, class, g), date) in list.iter().zip(due) {
            *per_day.entry(date).or_default() += 1;
            tasks.push(PlannedTask {
                date,
                entity_id: region.businesses[*i].id.to_string(),
                grid: format!("G{:02}", g + 1),
                officer_id: certified[officer].id.clone(),
                partner_id: certified[b_post[*g]].id.clone(),
                kind: "routine",
                due_by: window.end.min(to).max(date),
                class: *class,
                grid_index: *g,
            });
        }
        let max = per_day.values().copied().max().unwrap_or(0);
        let mean = list.len() as f64 / per_day.len().max(1) as f64;
        daily_load.insert(certified[officer].id.clone(), (list.len(), max, mean));
    }
    tasks.sort_by(|a, b| {
        (a.date, &a.officer_id, &a.entity_id).cmp(&(b.date, &b.officer_id, &b.entity_id))
    });

    // Hours the tasks need per grid against the A-post officer's hours in the range.
    let months = (to - from).num_days() as f64 / 30.44;
    let mut need = vec![0.0; k];
    for t in &tasks {
        need[t.grid_index] += f64::from(policy.minutes_per_visit(t.class)) / 60.0;
    }
    let hours = (0..k)
        .map(|g| {
            (
                format!("G{:02}", g + 1),
                (need[g], certified[a_post[g]].hours_per_month * months),
            )
        })
        .collect();
    Ok(PatrolPlan {
        tasks,
        daily_load,
        hours,
        unlocated,
        already_satisfied,
    })
}
