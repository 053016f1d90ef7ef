//! The patrol plan for a region over a date range: grids, A-post and B-post officers, and
//! dated routine tasks with due dates spread so each officer's days are even.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Serialize;

use super::grids::region_graph;
use crate::domain::assign::{GridInfo, assign};
use crate::domain::campaign::{Campaign, merge};
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
    /// Routine visits this special or targeted visit also satisfies (merged into it).
    pub covers: usize,
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
    /// Routine visits merged into special or targeted visits to the same business.
    pub merged: usize,
    /// Obligations of grids with no A-post officer (reported, not dropped silently).
    pub unassigned: usize,
    /// Areas, groups, posts and the gaps in the chain.
    pub structure: crate::domain::assign::Structure,
    /// Hours needed against hours available, per area and for the station.
    pub staffing: Staffing,
    /// The grid of each unit (in the region's unit order) and the number of grids.
    #[serde(skip)]
    pub assignment: Vec<usize>,
    pub grids: usize,
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
    Ok(plan_region_with_graph(dir, from, to, grids, policy, seed, starts, &[])?.0)
}

/// [`plan_region`] with special campaigns, also returning the region's graph (to save the
/// grids with the tasks).
#[allow(clippy::too_many_arguments)]
pub fn plan_region_with_graph(
    dir: &Path,
    from: NaiveDate,
    to: NaiveDate,
    grids: Option<usize>,
    policy: &Policy,
    seed: u64,
    starts: Option<usize>,
    campaigns: &[Campaign],
) -> Result<(PatrolPlan, super::grids::RegionGraph)> {
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

    // Areas, groups and posts (workload per year against a year of hours).
    let mut grid_load = vec![0.0; k];
    let mut grid_neighbours: Vec<std::collections::BTreeSet<usize>> = vec![Default::default(); k];
    for (u, &g) in plan.assignment.iter().enumerate() {
        grid_load[g] += rg.graph.weights[u];
        for &(v, _) in &rg.graph.adjacency[u] {
            let h = plan.assignment[v];
            if h != g {
                grid_neighbours[g].insert(h);
            }
        }
    }
    let grid_infos: Vec<GridInfo> = (0..k)
        .map(|g| GridInfo {
            code: format!("G{:02}", g + 1),
            workload: grid_load[g],
            neighbours: grid_neighbours[g].iter().copied().collect(),
        })
        .collect();
    let structure = assign(&grid_infos, &region.officers, policy, seed, 12.0);
    let officers = &region.officers;
    let lead_of = |g: usize| structure.a_post[g];
    let partner_of = |g: usize| structure.b_post[g];

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
    // Per officer: (business, window, class, grid, kind, routine windows it covers).
    let mut per_officer: BTreeMap<usize, Vec<Pending>> = BTreeMap::new();
    let (mut unlocated, mut already_satisfied, mut unassigned, mut merged) = (0, 0, 0, 0);
    let deadline = chrono::Days::new(u64::from(policy.targeted_deadline_days));
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
        let class_on = |day: NaiveDate| {
            timeline
                .iter()
                .rev()
                .find(|(d, _)| *d <= day)
                .map_or(timeline[0].1, |(_, c)| *c)
        };
        let mut routine: Vec<(Window, RiskClass)> = Vec::new();
        for o in obligations(&timeline, &visits, from, to, policy) {
            if o.satisfied_by.is_some() {
                already_satisfied += 1;
            } else {
                routine.push((o.window, o.class));
            }
        }
        // Targeted visits: complaints not followed by an inspection, due within the deadline.
        let mut others: Vec<(Window, &'static str, RiskClass)> = Vec::new();
        for c in &r.complaints {
            let due_by = c.date.checked_add_days(deadline).unwrap_or(c.date);
            if due_by < from || c.date > to || visits.iter().any(|&v| v >= c.date) {
                continue;
            }
            others.push((
                Window {
                    start: c.date.max(from),
                    end: due_by.min(to),
                },
                "targeted",
                class_on(c.date.max(from)),
            ));
        }
        let area = &structure.areas[structure.area_of_grid[g]].code;
        let grid_code = format!("G{:02}", g + 1);
        for campaign in campaigns {
            let window = Window {
                start: campaign.from.max(from),
                end: campaign.to.min(to),
            };
            let class = class_on(window.start);
            if window.start <= window.end
                && campaign
                    .filter
                    .matches(&b.industry, class, &grid_code, area)
            {
                others.push((window, "special", class));
            }
        }
        let (covered, narrowed) = merge(
            &routine.iter().map(|(w, _)| *w).collect::<Vec<_>>(),
            &others.iter().map(|(w, _, _)| *w).collect::<Vec<_>>(),
        );
        let Some(lead) = lead_of(g) else {
            unassigned += routine.len() + others.len();
            continue;
        };
        let list = per_officer.entry(lead).or_default();
        for (o, (_, kind, class)) in others.iter().enumerate() {
            let covers = covered.iter().filter(|&&c| c == Some(o)).count();
            merged += covers;
            list.push((i, narrowed[o], *class, g, kind, covers));
        }
        for ((window, class), cover) in routine.iter().zip(&covered) {
            if cover.is_none() {
                list.push((i, *window, *class, g, "routine", 0));
            }
        }
    }
    let mut tasks = Vec::new();
    let mut daily_load = BTreeMap::new();
    for (&officer, list) in &per_officer {
        // Targeted visits are top priority: due on their first day; the rest are spread.
        let windows: Vec<Window> = list
            .iter()
            .map(|t| {
                if t.4 == "targeted" {
                    Window {
                        start: t.1.start,
                        end: t.1.start,
                    }
                } else {
                    t.1
                }
            })
            .collect();
        let due = spread_due_dates(&windows, range);
        let mut per_day: BTreeMap<NaiveDate, usize> = BTreeMap::new();
        for ((i, window, class, g, kind, covers), date) in list.iter().zip(due) {
            *per_day.entry(date).or_default() += 1;
            tasks.push(PlannedTask {
                date,
                entity_id: region.businesses[*i].id.to_string(),
                grid: format!("G{:02}", g + 1),
                officer_id: officers[officer].id.clone(),
                partner_id: partner_of(*g).map_or_else(String::new, |p| officers[p].id.clone()),
                kind,
                due_by: window.end.min(to).max(date),
                class: *class,
                grid_index: *g,
                covers: *covers,
            });
        }
        let max = per_day.values().copied().max().unwrap_or(0);
        let mean = list.len() as f64 / per_day.len().max(1) as f64;
        daily_load.insert(officers[officer].id.clone(), (list.len(), max, mean));
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
    // Hours each A-post officer has in the range, shared over the grids they hold.
    let held: Vec<usize> = (0..officers.len())
        .map(|o| structure.a_post.iter().filter(|&&a| a == Some(o)).count())
        .collect();
    let hours = (0..k)
        .map(|g| {
            let have = lead_of(g).map_or(0.0, |o| {
                officers[o].hours_per_month * months / held[o].max(1) as f64
            });
            (format!("G{:02}", g + 1), (need[g], have))
        })
        .collect();
    let staffing = staffing(&structure, &need, officers, months);
    let assignment = plan.assignment.clone();
    Ok((
        PatrolPlan {
            tasks,
            daily_load,
            hours,
            unlocated,
            already_satisfied,
            unassigned,
            merged,
            assignment,
            grids: k,
            structure,
            staffing,
        },
        rg,
    ))
}

/// A visit waiting for its due date: (business, window, class, grid, kind, routine windows it covers).
type Pending = (usize, Window, RiskClass, usize, &'static str, usize);

/// Staffing (定编): the hours the plan's visits need against the hours officers have.
#[derive(Debug, Clone, Serialize)]
pub struct Staffing {
    /// Per area: (code, hours needed, hours its group has).
    pub areas: Vec<(String, f64, f64)>,
    pub station_needed_hours: f64,
    pub station_available_hours: f64,
    /// Patrol officers the station needs at the roster's mean hours, and has.
    pub officers_needed: usize,
    pub officers_on_roster: usize,
}

fn staffing(
    structure: &crate::domain::assign::Structure,
    need: &[f64],
    officers: &[crate::domain::entity::Officer],
    months: f64,
) -> Staffing {
    let areas: Vec<(String, f64, f64)> = structure
        .areas
        .iter()
        .map(|a| {
            let needed: f64 = a.grids.iter().map(|&g| need[g]).sum();
            let have: f64 = a
                .group
                .iter()
                .map(|&o| officers[o].hours_per_month * months)
                .sum();
            (a.code.clone(), needed, have)
        })
        .collect();
    let station_needed_hours: f64 = need.iter().sum();
    let patrol: Vec<&crate::domain::entity::Officer> = officers
        .iter()
        .filter(|o| o.certified && o.role == Role::Officer)
        .collect();
    let station_available_hours: f64 = patrol.iter().map(|o| o.hours_per_month * months).sum();
    let mean = if patrol.is_empty() {
        0.0
    } else {
        station_available_hours / patrol.len() as f64
    };
    let officers_needed = if mean > 0.0 {
        (station_needed_hours / mean).ceil() as usize
    } else {
        0
    };
    Staffing {
        areas,
        station_needed_hours,
        station_available_hours,
        officers_needed,
        officers_on_roster: patrol.len(),
    }
}

/// An officer's due list: ordered as SPEC §5 says, or as a route from a start point.
#[derive(Debug, Clone, Serialize)]
pub struct DueList {
    pub officer_id: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub tasks: Vec<crate::store::TaskRow>,
    /// Metres of the route through the tasks with a position, when a start was given.
    pub route_m: Option<f64>,
}

impl super::App {
    /// Plans a region and stores it: the grids as the next draft plan and the routine tasks
    /// for the range (replacing open routine tasks already planned there). The region must
    /// have been imported. Returns the plan, its version and the tasks written.
    #[allow(clippy::too_many_arguments)]
    pub fn save_patrol_plan(
        &self,
        dir: &Path,
        from: NaiveDate,
        to: NaiveDate,
        grids: Option<usize>,
        seed: u64,
        starts: Option<usize>,
        campaigns: &[Campaign],
        actor: &str,
    ) -> Result<(PatrolPlan, i64, usize)> {
        let (plan, rg) =
            plan_region_with_graph(dir, from, to, grids, &self.policy, seed, starts, campaigns)?;
        let summaries = super::grids::grid_summaries(&rg, &plan.assignment, plan.grids);
        let region_code = rg.region.jurisdiction.code.clone();
        let tasks: Vec<crate::store::NewTask> = plan
            .tasks
            .iter()
            .map(|t| crate::store::NewTask {
                entity_id: t.entity_id.clone(),
                grid_code: t.grid.clone(),
                officer_id: t.officer_id.clone(),
                partner_id: t.partner_id.clone(),
                kind: t.kind.to_owned(),
                period_start: t.date,
                due_on: t.date,
                due_by: t.due_by,
            })
            .collect();
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        // The grids and their tasks are one transaction: a plan is never saved without them.
        let rows = super::grids::grid_rows(&summaries);
        let (version, written) = store.write(|db| -> Result<(i64, usize), super::AppError> {
            let version = db.save_plan(
                &region_code,
                &rows,
                &serde_json::json!({ "from": from, "to": to, "tasks": plan.tasks.len() }),
                &at,
            )?;
            db.audit(
                &at,
                actor,
                "plan saved",
                &region_code,
                &serde_json::json!({ "version": version, "grids": rows.len() }),
            )?;
            let n = db.replace_routine_tasks(&region_code, version, from, to, &tasks, &at)?;
            db.audit(
                &at,
                actor,
                "tasks planned",
                &region_code,
                &serde_json::json!({ "version": version, "from": from, "to": to, "tasks": n }),
            )?;
            Ok((version, n))
        })?;
        Ok((plan, version, written))
    }

    /// An officer's open tasks from `day` for `days` days, plus every overdue one: overdue
    /// first, then targeted, then by due date and class D > C > B > A; or, with a start
    /// point, as the shortest route found through those with a position.
    pub fn due_list(
        &self,
        officer_id: &str,
        day: NaiveDate,
        days: u32,
        start: Option<(f64, f64)>,
    ) -> Result<DueList, super::AppError> {
        use crate::domain::schedule::{DueItem, TaskKind, order_due_list};
        let to = day
            .checked_add_days(chrono::Days::new(u64::from(days.max(1)) - 1))
            .unwrap_or(day);
        let rows = self
            .open_store()?
            .read()
            .open_tasks_for_officer(officer_id, day, to)?;
        let kind = |k: &str| match k {
            "targeted" => TaskKind::Targeted,
            "special" => TaskKind::Special,
            "follow_up" => TaskKind::FollowUp,
            _ => TaskKind::Routine,
        };
        let mut items: Vec<(DueItem, crate::store::TaskRow)> = rows
            .into_iter()
            .map(|r| {
                let item = DueItem {
                    entity_id: format!("{}#{}", r.entity_id, r.id),
                    kind: kind(&r.kind),
                    due_on: r.due_on,
                    due_by: r.due_by,
                    class: r
                        .class
                        .as_deref()
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(RiskClass::A),
                };
                (item, r)
            })
            .collect();
        let mut keys: Vec<DueItem> = items.iter().map(|(i, _)| i.clone()).collect();
        order_due_list(&mut keys, day);
        let position: std::collections::HashMap<String, usize> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.entity_id.clone(), i))
            .collect();
        items.sort_by_key(|(i, _)| position.get(&i.entity_id).copied().unwrap_or(usize::MAX));
        let mut tasks: Vec<crate::store::TaskRow> = items.into_iter().map(|(_, r)| r).collect();
        let mut route_m = None;
        if let Some(start) = start {
            let (placed, unplaced): (Vec<_>, Vec<_>) =
                tasks.into_iter().partition(|t| t.location.is_some());
            let stops: Vec<(f64, f64)> = placed.iter().filter_map(|t| t.location).collect();
            let (order, length) = crate::domain::route::route(start, &stops);
            route_m = Some(length);
            let mut placed: Vec<Option<crate::store::TaskRow>> =
                placed.into_iter().map(Some).collect();
            tasks = order
                .into_iter()
                .filter_map(|i| placed[i].take())
                .chain(unplaced)
                .collect();
        }
        Ok(DueList {
            officer_id: officer_id.to_owned(),
            from: day,
            to,
            tasks,
            route_m,
        })
    }

    /// An officer's due list as an iCalendar feed: one all-day event per task on its due day.
    pub fn due_list_ics(&self, list: &DueList) -> String {
        use icalendar::{Calendar, Component, Event, EventLike};
        let stamp = chrono::DateTime::<chrono::Utc>::from_naive_utc_and_offset(
            self.clock.now_local(),
            chrono::Utc,
        );
        let mut calendar = Calendar::new();
        calendar.name(&format!("gridpatrol {}", list.officer_id));
        for t in &list.tasks {
            let class = t.class.as_deref().unwrap_or("?");
            calendar.push(
                Event::new()
                    .uid(&format!("task-{}@gridpatrol", t.id))
                    .timestamp(stamp)
                    .summary(&format!("巡查 {} ({class})", t.name))
                    .description(&format!(
                        "{} visit to {}; due by {}",
                        t.kind, t.entity_id, t.due_by
                    ))
                    .location(&t.address)
                    // An all-day event: DTEND is the next day (exclusive, RFC 5545).
                    .starts(t.due_on)
                    .ends(t.due_on.succ_opt().unwrap_or(t.due_on))
                    .done(),
            );
        }
        calendar.done().to_string()
    }
}

/// One line of a random draw (双随机): the business, its class and the two inspectors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrawLine {
    pub entity_id: String,
    pub class: RiskClass,
    pub officer_id: String,
    pub partner_id: String,
    pub due_by: NaiveDate,
}

/// A random draw over a region's register as of a day: businesses per class share (policy
/// `random_draw`), certified inspector pairs at random, never one with a recorded conflict
/// (optional `conflicts.csv`: `officer_id,entity_id`). The seed is the whole of the
/// randomness: the same register, day and seed give the same draw.
pub fn random_draw_region(
    dir: &Path,
    on: NaiveDate,
    days: u32,
    seed: u64,
    policy: &Policy,
) -> Result<(Vec<DrawLine>, Vec<String>)> {
    let region = crate::import::read_region(dir, Crs::Wgs84, policy)?;
    let classes: Vec<RiskClass> = region
        .businesses
        .iter()
        .zip(&region.records)
        .map(|(b, r)| classify(b, r, on, policy).class)
        .collect();
    let inspectors: Vec<usize> = (0..region.officers.len())
        .filter(|&i| {
            region.officers[i].certified
                && matches!(region.officers[i].role, Role::Officer | Role::Deputy)
        })
        .collect();
    let mut conflicts = std::collections::HashSet::new();
    let path = dir.join("conflicts.csv");
    if path.exists() {
        let officer_index: std::collections::HashMap<&str, usize> = region
            .officers
            .iter()
            .enumerate()
            .map(|(i, o)| (o.id.as_str(), i))
            .collect();
        let business_index: std::collections::HashMap<String, usize> = region
            .businesses
            .iter()
            .enumerate()
            .map(|(i, b)| (b.id.to_string(), i))
            .collect();
        let mut reader =
            csv::Reader::from_path(&path).with_context(|| format!("reading {}", path.display()))?;
        for (n, row) in reader.records().enumerate() {
            let row = row.with_context(|| format!("conflicts.csv:{}", n + 2))?;
            let (o, b) = (
                row.get(0).unwrap_or_default(),
                row.get(1).unwrap_or_default(),
            );
            let o = *officer_index.get(o).with_context(|| {
                format!(
                    "conflicts.csv:{}: column officer_id: officer '{o}' is not in officers.csv",
                    n + 2
                )
            })?;
            let b = *business_index.get(b).with_context(|| {
                format!(
                    "conflicts.csv:{}: column entity_id: entity '{b}' is not in entities.csv",
                    n + 2
                )
            })?;
            conflicts.insert((o, b));
        }
    }
    let (drawn, blocked) = crate::domain::campaign::random_draw(
        &classes,
        &inspectors,
        &conflicts,
        policy.random_draw,
        seed,
    );
    let due_by = on
        .checked_add_days(chrono::Days::new(u64::from(days.max(1)) - 1))
        .unwrap_or(on);
    let lines = drawn
        .into_iter()
        .map(|d| DrawLine {
            entity_id: region.businesses[d.business].id.to_string(),
            class: classes[d.business],
            officer_id: region.officers[d.inspectors[0]].id.clone(),
            partner_id: region.officers[d.inspectors[1]].id.clone(),
            due_by,
        })
        .collect();
    Ok((
        lines,
        blocked
            .into_iter()
            .map(|b| region.businesses[b].id.to_string())
            .collect(),
    ))
}
