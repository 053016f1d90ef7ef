//! The patrol plan for a region over a date range: grids, A-post and B-post officers, and
//! dated routine tasks with due dates spread so each officer's days are even.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

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
    /// Entity, grid and officer ids are shared by the many tasks that name them.
    pub entity_id: Arc<str>,
    pub grid: Arc<str>,
    pub officer_id: Arc<str>,
    pub partner_id: Arc<str>,
    pub kind: &'static str,
    pub due_by: NaiveDate,
    /// The first day of the window the visit is for (a visit made from then on counts).
    pub period_start: NaiveDate,
    pub class: RiskClass,
    #[serde(skip)]
    pub grid_index: usize,
    /// The business's position in the register (orders tasks of a day and officer).
    #[serde(skip)]
    pub business_index: usize,
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
    /// The code of each grid: G01… when partitioned, or the labels of the plan kept.
    pub grid_codes: Vec<String>,
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

/// What to plan: the range, how to make the grids (or which grid plan to keep), the seed,
/// and any special campaigns.
#[derive(Debug, Clone)]
pub struct PlanRequest {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Number of grids to partition into (default: one per certified officer).
    pub grids: Option<usize>,
    /// An existing grid plan to keep instead of partitioning: a grids GeoJSON (as
    /// `partition --out` writes) or a CSV `unit,grid`.
    pub grid_plan: Option<std::path::PathBuf>,
    pub seed: u64,
    pub starts: Option<usize>,
    pub campaigns: Vec<Campaign>,
}

impl PlanRequest {
    /// A plan of routine patrols over `[from, to]` with the default grids and seed 1.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        PlanRequest {
            from,
            to,
            grids: None,
            grid_plan: None,
            seed: 1,
            starts: None,
            campaigns: Vec::new(),
        }
    }
}

/// Plans routine patrols for a region between two dates.
pub fn plan_region(dir: &Path, request: &PlanRequest, policy: &Policy) -> Result<PatrolPlan> {
    Ok(plan_region_with_graph(dir, request, policy)?.0)
}

/// [`plan_region`], also returning the region's graph (to save the grids with the tasks).
pub fn plan_region_with_graph(
    dir: &Path,
    request: &PlanRequest,
    policy: &Policy,
) -> Result<(PatrolPlan, super::grids::RegionGraph)> {
    let PlanRequest {
        from,
        to,
        seed,
        ref campaigns,
        ..
    } = *request;
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    let started = std::time::Instant::now();
    let rg = region_graph(dir, Crs::Wgs84, policy, from)?;
    tracing::info!(elapsed = ?started.elapsed(), businesses = rg.region.businesses.len(), "plan: region read and classified");
    let region = &rg.region;
    let (assignment, labels) = plan_grids(&rg, request, policy)?;
    let k = labels.len();
    tracing::info!(elapsed = ?started.elapsed(), grids = k, "plan: grids made");

    // Areas, groups and posts (workload per year against a year of hours).
    let grid_infos = grid_infos(&rg, &assignment, &labels);
    let structure = assign(&grid_infos, &region.officers, policy, seed, 12.0);
    tracing::info!(elapsed = ?started.elapsed(), "plan: posts assigned");
    let officers = &region.officers;

    let range = Window {
        start: from,
        end: to,
    };
    let owing = Owing {
        rg: &rg,
        assignment: &assignment,
        labels: &labels,
        structure: &structure,
        campaigns,
        range,
        policy,
    };
    let Owed {
        per_officer,
        unlocated,
        already_satisfied,
        unassigned,
        merged,
    } = owing.owe_all();
    tracing::info!(elapsed = ?started.elapsed(), "plan: obligations owed");
    let (tasks, daily_load) = date_tasks(&rg, &labels, &structure, &per_officer, range);
    tracing::info!(elapsed = ?started.elapsed(), tasks = tasks.len(), "plan: due dates spread");

    let months = (to - from).num_days() as f64 / 30.44;
    let (need, hours) = grid_hours(&tasks, &structure, officers, &labels, policy, months);
    let staffing = staffing(&structure, &need, officers, months);
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
            grid_codes: labels,
            structure,
            staffing,
        },
        rg,
    ))
}

/// The plan's grids: the grid plan kept (`grid_plan`), or a partition into the grids asked
/// for (default one per certified officer). Returns the grid of each unit and the grids'
/// codes. A region with fewer certified officers than a visit needs cannot be planned.
fn plan_grids(
    rg: &super::grids::RegionGraph,
    request: &PlanRequest,
    policy: &Policy,
) -> Result<(Vec<usize>, Vec<String>)> {
    let PlanRequest {
        grids,
        ref grid_plan,
        seed,
        starts,
        ..
    } = *request;
    let certified: Vec<&crate::domain::entity::Officer> = rg
        .region
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
    Ok(match grid_plan {
        Some(path) => {
            let (assignment, labels) = super::grids::read_plan(path, &rg.graph)?;
            (assignment, labels)
        }
        None => {
            let k = grids.unwrap_or(certified.len()).clamp(1, rg.graph.len());
            let made = partition(
                &rg.graph,
                &PartitionOptions {
                    grids: k,
                    tolerance: 0.05,
                    seed,
                    starts,
                },
            )
            .context("partitioning the region into grids")?;
            (
                made.assignment,
                (1..=k).map(|g| format!("G{g:02}")).collect(),
            )
        }
    })
}

/// Each grid's code, workload (the sum of its units' weights) and neighbouring grids: what
/// the posts are assigned from.
fn grid_infos(
    rg: &super::grids::RegionGraph,
    assignment: &[usize],
    labels: &[String],
) -> Vec<GridInfo> {
    let k = labels.len();
    let mut grid_load = vec![0.0; k];
    let mut grid_neighbours: Vec<std::collections::BTreeSet<usize>> = vec![Default::default(); k];
    for (u, &g) in assignment.iter().enumerate() {
        grid_load[g] += rg.graph.weights[u];
        for &(v, _) in &rg.graph.adjacency[u] {
            let h = assignment[v];
            if h != g {
                grid_neighbours[g].insert(h);
            }
        }
    }
    (0..k)
        .map(|g| GridInfo {
            code: labels[g].clone(),
            workload: grid_load[g],
            neighbours: grid_neighbours[g].iter().copied().collect(),
        })
        .collect()
}

/// Per officer: (tasks, busiest day's tasks, mean tasks per active day).
type DailyLoad = (usize, usize, f64);

/// Due dates, officer by officer (each officer's days are independent), in parallel; then
/// the tasks by day, then officer id, then register order.
fn date_tasks(
    rg: &super::grids::RegionGraph,
    labels: &[String],
    structure: &crate::domain::assign::Structure,
    per_officer: &BTreeMap<usize, Vec<Pending>>,
    range: Window,
) -> (Vec<PlannedTask>, BTreeMap<String, DailyLoad>) {
    let region = &rg.region;
    let officers = &region.officers;
    let no_partner: Arc<str> = Arc::from("");
    let mut entity_ids: Vec<Arc<str>> = vec![no_partner.clone(); region.businesses.len()];
    for list in per_officer.values() {
        for t in list {
            if entity_ids[t.0].is_empty() {
                entity_ids[t.0] = Arc::from(region.businesses[t.0].id.as_str());
            }
        }
    }
    let dating = Dating {
        grid_codes: labels.iter().map(|l| Arc::from(l.as_str())).collect(),
        officer_ids: officers.iter().map(|o| Arc::from(o.id.as_str())).collect(),
        entity_ids,
        no_partner,
        b_post: &structure.b_post,
        officers,
        range,
    };
    let lists: Vec<(&usize, &Vec<Pending>)> = per_officer.iter().collect();
    let dated = crate::par::map_chunks(&lists, 2, |_, part| {
        part.iter()
            .map(|&(&officer, list)| dating.date(officer, list))
            .collect::<Vec<_>>()
    });
    order_by_day(dated.into_iter().flatten().collect(), range)
}

/// What an officer's visits need to become tasks: the ids the tasks share (one `Arc` per
/// business, grid and officer), the B-post of each grid, and the plan's range.
struct Dating<'a> {
    entity_ids: Vec<Arc<str>>,
    grid_codes: Vec<Arc<str>>,
    officer_ids: Vec<Arc<str>>,
    no_partner: Arc<str>,
    b_post: &'a [Option<usize>],
    officers: &'a [crate::domain::entity::Officer],
    range: Window,
}

impl Dating<'_> {
    /// One officer's visits with due dates spread over the range (targeted visits are top
    /// priority: due on their first day), and the officer's daily load.
    fn date(&self, officer: usize, list: &[Pending]) -> (Vec<PlannedTask>, (String, DailyLoad)) {
        let (range, to) = (self.range, self.range.end);
        let partner_of = |g: usize| self.b_post[g];
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
        let mut tasks = Vec::with_capacity(list.len());
        for ((i, window, class, g, kind, covers), date) in list.iter().zip(due) {
            *per_day.entry(date).or_default() += 1;
            tasks.push(PlannedTask {
                date,
                entity_id: self.entity_ids[*i].clone(),
                grid: self.grid_codes[*g].clone(),
                officer_id: self.officer_ids[officer].clone(),
                partner_id: partner_of(*g)
                    .map_or_else(|| self.no_partner.clone(), |p| self.officer_ids[p].clone()),
                kind,
                due_by: window.end.min(to).max(date),
                period_start: window.start.min(date),
                class: *class,
                grid_index: *g,
                business_index: *i,
                covers: *covers,
            });
        }
        let max = per_day.values().copied().max().unwrap_or(0);
        let mean = list.len() as f64 / per_day.len().max(1) as f64;
        (
            tasks,
            (self.officers[officer].id.clone(), (list.len(), max, mean)),
        )
    }
}

/// By day, then officer id, then register order: each officer's tasks are in register
/// order already; deal them into day buckets officer by officer, in id order.
fn order_by_day(
    mut dated: Vec<(Vec<PlannedTask>, (String, DailyLoad))>,
    range: Window,
) -> (Vec<PlannedTask>, BTreeMap<String, DailyLoad>) {
    let (from, to) = (range.start, range.end);
    dated.sort_by(|a, b| a.1.0.cmp(&b.1.0));
    let days = usize::try_from((to - from).num_days()).unwrap_or(0) + 1;
    let day_of = |t: &PlannedTask| {
        usize::try_from((t.date - from).num_days())
            .unwrap_or(0)
            .min(days - 1)
    };
    let mut per_day = vec![0usize; days];
    for t in dated.iter().flat_map(|d| &d.0) {
        per_day[day_of(t)] += 1;
    }
    let mut by_day: Vec<Vec<PlannedTask>> = per_day.into_iter().map(Vec::with_capacity).collect();
    let mut daily_load = BTreeMap::new();
    for (officer_tasks, (id, load)) in dated {
        for t in officer_tasks {
            by_day[day_of(&t)].push(t);
        }
        daily_load.insert(id, load);
    }
    let mut tasks = Vec::with_capacity(by_day.iter().map(Vec::len).sum());
    for day in by_day {
        tasks.extend(day);
    }
    (tasks, daily_load)
}

/// Hours the tasks need per grid against the A-post officer's hours in the range (`months`
/// long), an officer's hours shared over the grids they hold. Returns the need per grid and
/// (need, have) by grid code.
fn grid_hours(
    tasks: &[PlannedTask],
    structure: &crate::domain::assign::Structure,
    officers: &[crate::domain::entity::Officer],
    labels: &[String],
    policy: &Policy,
    months: f64,
) -> (Vec<f64>, BTreeMap<String, (f64, f64)>) {
    let k = labels.len();
    let lead_of = |g: usize| structure.a_post[g];
    let mut need = vec![0.0; k];
    for t in tasks {
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
            (labels[g].clone(), (need[g], have))
        })
        .collect();
    (need, hours)
}

/// A visit waiting for its due date: (business, window, class, grid, kind, routine windows it covers).
type Pending = (usize, Window, RiskClass, usize, &'static str, usize);

/// What the plan needs to work out the visits a business owes.
struct Owing<'a> {
    rg: &'a super::grids::RegionGraph,
    assignment: &'a [usize],
    labels: &'a [String],
    structure: &'a crate::domain::assign::Structure,
    campaigns: &'a [Campaign],
    range: Window,
    policy: &'a Policy,
}

/// The visits some businesses owe, per A-post officer, and what was left out.
#[derive(Default)]
struct Owed {
    per_officer: BTreeMap<usize, Vec<Pending>>,
    unlocated: usize,
    already_satisfied: usize,
    unassigned: usize,
    merged: usize,
}

impl Owing<'_> {
    /// The visits the whole register owes, in parallel over slices of it, gathered per
    /// A-post officer in register order.
    fn owe_all(&self) -> Owed {
        let indices: Vec<usize> = (0..self.rg.region.businesses.len()).collect();
        let mut counts = Owed::default();
        for part in crate::par::map_chunks(&indices, 10_000, |_, chunk| self.owe(chunk)) {
            for (officer, list) in part.per_officer {
                counts.per_officer.entry(officer).or_default().extend(list);
            }
            counts.unlocated += part.unlocated;
            counts.already_satisfied += part.already_satisfied;
            counts.unassigned += part.unassigned;
            counts.merged += part.merged;
        }
        counts
    }

    /// The visits the businesses at `indices` (register positions) owe: routine visits by
    /// class and period, targeted visits for complaints not followed by an inspection, and
    /// special visits for matching campaigns; routine visits falling in the window of a
    /// targeted or special one are merged into it.
    fn owe(&self, indices: &[usize]) -> Owed {
        let (from, to, policy) = (self.range.start, self.range.end, self.policy);
        let region = &self.rg.region;
        let deadline = chrono::Days::new(u64::from(policy.targeted_deadline_days));
        let mut owed = Owed::default();
        for &i in indices {
            let (b, r) = (&region.businesses[i], &region.records[i]);
            let Some(unit) = self.rg.unit_of[i] else {
                owed.unlocated += 1;
                continue;
            };
            let g = self.assignment[unit];
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
                    owed.already_satisfied += 1;
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
            let area = &self.structure.areas[self.structure.area_of_grid[g]].code;
            for campaign in self.campaigns {
                let window = Window {
                    start: campaign.from.max(from),
                    end: campaign.to.min(to),
                };
                let class = class_on(window.start);
                if window.start <= window.end
                    && campaign
                        .filter
                        .matches(&b.industry, class, &self.labels[g], area)
                {
                    others.push((window, "special", class));
                }
            }
            let (covered, narrowed) = merge(
                &routine.iter().map(|(w, _)| *w).collect::<Vec<_>>(),
                &others.iter().map(|(w, _, _)| *w).collect::<Vec<_>>(),
            );
            let Some(lead) = self.structure.a_post[g] else {
                owed.unassigned += routine.len() + others.len();
                continue;
            };
            let list = owed.per_officer.entry(lead).or_default();
            for (o, (_, kind, class)) in others.iter().enumerate() {
                let covers = covered.iter().filter(|&&c| c == Some(o)).count();
                owed.merged += covers;
                list.push((i, narrowed[o], *class, g, kind, covers));
            }
            for ((window, class), cover) in routine.iter().zip(&covered) {
                if cover.is_none() {
                    list.push((i, *window, *class, g, "routine", 0));
                }
            }
        }
        owed
    }
}

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
    pub fn save_patrol_plan(
        &self,
        dir: &Path,
        request: &PlanRequest,
        actor: &str,
    ) -> Result<(PatrolPlan, i64, usize)> {
        let (from, to) = (request.from, request.to);
        let (plan, rg) = plan_region_with_graph(dir, request, &self.policy)?;
        let mut summaries = super::grids::grid_summaries(&rg, &plan.assignment, plan.grids);
        for (summary, code) in summaries.iter_mut().zip(&plan.grid_codes) {
            summary.code.clone_from(code);
        }
        let region_code = rg.region.jurisdiction.code.clone();
        let tasks: Vec<crate::store::NewTask> = plan
            .tasks
            .iter()
            .map(|t| crate::store::NewTask {
                entity_id: t.entity_id.to_string(),
                grid_code: t.grid.to_string(),
                officer_id: t.officer_id.to_string(),
                partner_id: t.partner_id.to_string(),
                kind: t.kind.to_owned(),
                period_start: t.period_start,
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
        caller: &super::access::Caller,
        officer_id: &str,
        day: NaiveDate,
        days: u32,
        start: Option<(f64, f64)>,
    ) -> Result<DueList, super::AppError> {
        use crate::domain::schedule::{DueItem, TaskKind, due_list_cmp};
        self.require_officer(caller, officer_id)?;
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
        // Sort positions by the due-list order, reading the rows in place.
        let ids: Vec<String> = rows
            .iter()
            .map(|r| format!("{}#{:012}", r.entity_id, r.id))
            .collect();
        let mut keys: Vec<(DueItem<'_>, usize)> = rows
            .iter()
            .zip(&ids)
            .enumerate()
            .map(|(n, (r, id))| {
                let item = DueItem {
                    entity_id: id,
                    kind: kind(&r.kind),
                    due_on: r.due_on,
                    due_by: r.due_by,
                    class: r
                        .class
                        .as_deref()
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(RiskClass::A),
                };
                (item, n)
            })
            .collect();
        keys.sort_by(|a, b| due_list_cmp(&a.0, &b.0, day));
        let order: Vec<usize> = keys.into_iter().map(|(_, n)| n).collect();
        let mut slots: Vec<Option<crate::store::TaskRow>> = rows.into_iter().map(Some).collect();
        let items: Vec<crate::store::TaskRow> =
            order.into_iter().filter_map(|n| slots[n].take()).collect();
        let mut tasks = items;
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

    /// [`Self::due_list`] as the JSON sent, kept in memory until a write could change it.
    pub fn due_json(
        &self,
        caller: &super::access::Caller,
        officer_id: &str,
        day: NaiveDate,
        days: u32,
        start: Option<(f64, f64)>,
    ) -> Result<std::sync::Arc<super::views::DueJson>, super::AppError> {
        self.require_officer(caller, officer_id)?;
        let key = super::views::DueKey::new(officer_id, day, days, start);
        // Read before the list: a write after this makes what is kept stale.
        let generation = self.connections.generation(&self.db_path, officer_id);
        if let Some(kept) = self.views.due(&key, generation) {
            return Ok(kept);
        }
        let list = self.due_list(caller, officer_id, day, days, start)?;
        let json = serde_json::to_vec(&list)
            .map_err(|e| super::AppError::Io(format!("due list as JSON: {e}")))?;
        let made = std::sync::Arc::new(super::views::DueJson::new(json, generation));
        self.views.keep_due(key, std::sync::Arc::clone(&made));
        Ok(made)
    }

    /// The kept due list, if nothing written since could have changed it; no store read.
    pub fn kept_due_json(
        &self,
        caller: &super::access::Caller,
        officer_id: &str,
        day: NaiveDate,
        days: u32,
        start: Option<(f64, f64)>,
    ) -> Result<Option<std::sync::Arc<super::views::DueJson>>, super::AppError> {
        self.require_officer(caller, officer_id)?;
        let key = super::views::DueKey::new(officer_id, day, days, start);
        let generation = self.connections.generation(&self.db_path, officer_id);
        Ok(self.views.due(&key, generation))
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
