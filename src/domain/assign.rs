//! People and posts (SPEC §6): areas (片区) of adjacent grids under a deputy, patrol groups
//! that pair new with experienced officers, one certified A-post officer per grid with load
//! as even as the grids allow, a certified B-post partner from the same group, and the
//! three-level chain (chief → area deputy → grid officer) checked for every grid.

use serde::Serialize;

use super::entity::{Officer, Role};
use super::partition::{PartitionOptions, UnitGraph, partition};
use super::policy::Policy;

/// A grid as assignment sees it.
#[derive(Debug, Clone)]
pub struct GridInfo {
    pub code: String,
    /// Officer minutes a year.
    pub workload: f64,
    pub neighbours: Vec<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Area {
    pub code: String,
    pub grids: Vec<usize>,
    /// Index into the officers.
    pub deputy: Option<usize>,
    /// The patrol group: officers (indices) who hold the area's posts.
    pub group: Vec<usize>,
    pub leader: Option<usize>,
}

/// Who holds what, and what is missing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Structure {
    pub areas: Vec<Area>,
    pub area_of_grid: Vec<usize>,
    pub chief: Option<usize>,
    pub a_post: Vec<Option<usize>>,
    pub b_post: Vec<Option<usize>>,
    /// Per officer: A-post workload (minutes a year) ÷ patrol hours a year.
    pub load: Vec<f64>,
    /// Broken chains and rules, in words.
    pub gaps: Vec<String>,
}

/// Groups with at most this many ways of giving out their grids are searched exhaustively.
const EXHAUSTIVE_LIMIT: f64 = 20_000.0;

fn can_patrol(o: &Officer) -> bool {
    o.certified && matches!(o.role, Role::Officer | Role::Deputy)
}

/// A-posts within one group: exhaustive when small, else heaviest grid first to the officer
/// whose load stays lowest. Returns the officer (index into `group`) per grid of `grids`.
fn a_posts(grids: &[usize], workload: &[f64], group: &[usize], hours: &[f64]) -> Vec<usize> {
    let (g, o) = (grids.len(), group.len());
    if o == 0 {
        return vec![usize::MAX; g];
    }
    let cost = |choice: &[usize]| -> f64 {
        let mut load = vec![0.0; o];
        for (i, &c) in choice.iter().enumerate() {
            load[c] += workload[grids[i]];
        }
        (0..o)
            .map(|j| load[j] / hours[group[j]].max(1.0))
            .fold(0.0, f64::max)
    };
    if (o as f64).powi(g as i32) <= EXHAUSTIVE_LIMIT {
        let mut best = (f64::INFINITY, vec![0; g]);
        let mut choice = vec![0usize; g];
        loop {
            let c = cost(&choice);
            if c < best.0 - 1e-12 {
                best = (c, choice.clone());
            }
            // Next choice in odometer order.
            let mut i = 0;
            while i < g {
                choice[i] += 1;
                if choice[i] < o {
                    break;
                }
                choice[i] = 0;
                i += 1;
            }
            if i == g {
                break;
            }
        }
        return best.1;
    }
    let mut order: Vec<usize> = (0..g).collect();
    order.sort_by(|&a, &b| workload[grids[b]].total_cmp(&workload[grids[a]]));
    let mut load = vec![0.0; o];
    let mut choice = vec![0usize; g];
    for i in order {
        let j = (0..o)
            .min_by(|&x, &y| {
                ((load[x] + workload[grids[i]]) / hours[group[x]].max(1.0))
                    .total_cmp(&((load[y] + workload[grids[i]]) / hours[group[y]].max(1.0)))
                    .then(x.cmp(&y))
            })
            .unwrap_or(0);
        load[j] += workload[grids[i]];
        choice[i] = j;
    }
    choice
}

/// Builds areas, groups and posts for the grids of a plan. `months` converts the officers'
/// monthly hours to the period the workloads cover (12 for a year's workload).
pub fn assign(
    grids: &[GridInfo],
    officers: &[Officer],
    policy: &Policy,
    seed: u64,
    months: f64,
) -> Structure {
    let k = grids.len();
    let mut gaps = Vec::new();
    let chief = officers.iter().position(|o| o.role == Role::Chief);
    if chief.is_none() {
        gaps.push(
            "no station chief (所长) on the roster: every grid lacks the top of its chain"
                .to_owned(),
        );
    }
    let deputies: Vec<usize> = (0..officers.len())
        .filter(|&i| officers[i].role == Role::Deputy)
        .collect();
    let patrol: Vec<usize> = (0..officers.len())
        .filter(|&i| can_patrol(&officers[i]) && officers[i].role == Role::Officer)
        .collect();
    let hours: Vec<f64> = officers
        .iter()
        .map(|o| o.hours_per_month * months)
        .collect();

    let area_of_grid = areas_of_grids(grids, deputies.len(), policy, seed);
    let m = area_of_grid.iter().copied().max().map_or(1, |x| x + 1);
    let area_load: Vec<f64> = (0..m)
        .map(|a| {
            (0..k)
                .filter(|&g| area_of_grid[g] == a)
                .map(|g| grids[g].workload)
                .sum()
        })
        .collect();
    let mut by_load: Vec<usize> = (0..m).collect();
    by_load.sort_by(|&a, &b| area_load[b].total_cmp(&area_load[a]));

    // Deputies: the most experienced to the heaviest area.
    let mut deps = deputies.clone();
    deps.sort_by_key(|&i| std::cmp::Reverse(officers[i].years_of_service));
    let mut areas: Vec<Area> = (0..m)
        .map(|a| Area {
            code: format!("A{:02}", a + 1),
            grids: (0..k).filter(|&g| area_of_grid[g] == a).collect(),
            deputy: None,
            group: Vec::new(),
            leader: None,
        })
        .collect();
    for (&a, &d) in by_load.iter().zip(&deps) {
        areas[a].deputy = Some(d);
    }
    deal_groups(
        &mut areas, &by_load, &area_load, &patrol, officers, &hours, policy,
    );

    let mut posts = Posts {
        a_post: vec![None; k],
        b_post: vec![None; k],
        load: vec![0.0; officers.len()],
    };
    let workload: Vec<f64> = grids.iter().map(|g| g.workload).collect();
    for area in &mut areas {
        area.leader = area
            .group
            .iter()
            .copied()
            .max_by_key(|&i| (officers[i].years_of_service, std::cmp::Reverse(i)));
        if !area.group.is_empty()
            && !area
                .group
                .iter()
                .any(|&i| officers[i].years_of_service >= policy.experienced_years)
        {
            gaps.push(format!(
                "area {}: no officer with {} or more years in its group",
                area.code, policy.experienced_years
            ));
        }
        posts.fill_area(area, &workload, officers, &hours, policy);
    }
    chain_gaps(&mut gaps, grids, &areas, &area_of_grid, chief, &posts);
    let Posts {
        a_post,
        b_post,
        load,
    } = posts;
    Structure {
        areas,
        area_of_grid,
        chief,
        a_post,
        b_post,
        load,
        gaps,
    }
}

/// Areas: the grid graph partitioned into one area per deputy (at least one area). Returns
/// the area of each grid.
fn areas_of_grids(grids: &[GridInfo], deputies: usize, policy: &Policy, seed: u64) -> Vec<usize> {
    let k = grids.len();
    let m = deputies.clamp(1, k.max(1));
    if m <= 1 || k <= 1 {
        vec![0; k]
    } else if m >= k {
        // As many deputies as grids: each grid is its own area.
        (0..k).collect()
    } else {
        let graph = UnitGraph {
            codes: grids.iter().map(|g| g.code.clone()).collect(),
            names: vec![String::new(); k],
            weights: grids.iter().map(|g| g.workload.max(1e-9)).collect(),
            adjacency: grids
                .iter()
                .map(|g| g.neighbours.iter().map(|&n| (n, 1.0)).collect())
                .collect(),
            areas: None,
            perimeters: None,
            dedicated: vec![false; k],
        };
        match partition(
            &graph,
            &PartitionOptions {
                grids: m,
                tolerance: policy.area_tolerance,
                seed,
                starts: Some(8),
            },
        ) {
            Ok(r) => r.assignment,
            Err(_) => vec![0; k],
        }
    }
}

/// Groups: experienced officers dealt first in turn (heaviest area first), then the rest
/// to the area with the most workload per officer, so each group mixes new and experienced.
fn deal_groups(
    areas: &mut [Area],
    by_load: &[usize],
    area_load: &[f64],
    patrol: &[usize],
    officers: &[Officer],
    hours: &[f64],
    policy: &Policy,
) {
    let m = areas.len();
    let mut experienced: Vec<usize> = patrol
        .iter()
        .copied()
        .filter(|&i| officers[i].years_of_service >= policy.experienced_years)
        .collect();
    let mut new: Vec<usize> = patrol
        .iter()
        .copied()
        .filter(|&i| officers[i].years_of_service < policy.experienced_years)
        .collect();
    experienced.sort_by_key(|&i| (std::cmp::Reverse(officers[i].years_of_service), i));
    new.sort_by_key(|&i| (std::cmp::Reverse(officers[i].years_of_service), i));
    for (dealt, &i) in experienced.iter().take(m).enumerate() {
        areas[by_load[dealt]].group.push(i);
    }
    for &i in experienced.iter().skip(m).chain(new.iter()) {
        // Every group first gets the two officers a visit needs (and a rotation can use),
        // then officers go where the workload per patrol hour is highest.
        let short = (0..m)
            .find(|&a| areas[by_load[a]].group.len() < policy.min_officers_per_visit as usize)
            .map(|a| by_load[a]);
        if let Some(a) = short {
            areas[a].group.push(i);
            continue;
        }
        let a = (0..m)
            .max_by(|&x, &y| {
                let px =
                    area_load[x] / (areas[x].group.iter().map(|&o| hours[o]).sum::<f64>() + 1.0);
                let py =
                    area_load[y] / (areas[y].group.iter().map(|&o| hours[o]).sum::<f64>() + 1.0);
                px.total_cmp(&py).then(y.cmp(&x))
            })
            .unwrap_or(0);
        areas[a].group.push(i);
    }
}

/// Posts per grid and each officer's A-post load (workload ÷ hours).
struct Posts {
    a_post: Vec<Option<usize>>,
    b_post: Vec<Option<usize>>,
    load: Vec<f64>,
}

impl Posts {
    /// The A-post and B-post of each grid of an area, from its group.
    fn fill_area(
        &mut self,
        area: &Area,
        workload: &[f64],
        officers: &[Officer],
        hours: &[f64],
        policy: &Policy,
    ) {
        let choice = a_posts(&area.grids, workload, &area.group, hours);
        let mut partner_count = vec![0usize; area.group.len()];
        for (i, &g) in area.grids.iter().enumerate() {
            let Some(&lead) = area.group.get(choice[i]) else {
                continue;
            };
            self.a_post[g] = Some(lead);
            self.load[lead] += workload[g] / hours[lead].max(1.0);
            // The partner: another of the group, new with experienced where it can, least used.
            let lead_experienced = officers[lead].years_of_service >= policy.experienced_years;
            let partner = (0..area.group.len())
                .filter(|&j| area.group[j] != lead)
                .min_by_key(|&j| {
                    let o = area.group[j];
                    let mixes = (officers[o].years_of_service >= policy.experienced_years)
                        != lead_experienced;
                    (partner_count[j], !mixes, o)
                });
            if let Some(j) = partner {
                partner_count[j] += 1;
                self.b_post[g] = Some(area.group[j]);
            } else if let Some(d) = area.deputy.filter(|&d| d != lead && officers[d].certified) {
                // A group of one: the area's deputy goes along (reported below).
                self.b_post[g] = Some(d);
            }
        }
    }
}

/// The gaps in the chain of responsibility: groups of one officer, then each grid lacking
/// its chief, area deputy, A-post officer or B-post partner.
fn chain_gaps(
    gaps: &mut Vec<String>,
    grids: &[GridInfo],
    areas: &[Area],
    area_of_grid: &[usize],
    chief: Option<usize>,
    posts: &Posts,
) {
    for area in areas {
        if area.group.len() == 1 && !area.grids.is_empty() {
            gaps.push(format!(
                "area {}: a group of one officer; its deputy is the partner on every visit",
                area.code
            ));
        }
    }
    for g in 0..grids.len() {
        let area = &areas[area_of_grid[g]];
        let mut missing = Vec::new();
        if chief.is_none() {
            missing.push("chief");
        }
        if area.deputy.is_none() {
            missing.push("area deputy");
        }
        if posts.a_post[g].is_none() {
            missing.push("A-post officer");
        }
        if posts.b_post[g].is_none() {
            missing.push("B-post partner");
        }
        if !missing.is_empty() {
            gaps.push(format!(
                "grid {} (area {}) lacks: {}",
                grids[g].code,
                area.code,
                missing.join(", ")
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn officer(id: &str, role: Role, years: u32, hours: f64, certified: bool) -> Officer {
        Officer {
            id: id.into(),
            name: id.into(),
            role,
            years_of_service: years,
            hours_per_month: hours,
            certified,
            skills: vec![],
        }
    }

    fn line_of_grids(workloads: &[f64]) -> Vec<GridInfo> {
        let n = workloads.len();
        (0..n)
            .map(|i| GridInfo {
                code: format!("G{i}"),
                workload: workloads[i],
                neighbours: [i.checked_sub(1), (i + 1 < n).then_some(i + 1)]
                    .into_iter()
                    .flatten()
                    .collect(),
            })
            .collect()
    }

    /// The least possible maximum load over every way of giving the grids to the group.
    fn exhaustive(workloads: &[f64], hours: &[f64]) -> f64 {
        let (g, o) = (workloads.len(), hours.len());
        let mut best = f64::INFINITY;
        for code in 0..o.pow(g as u32) {
            let mut load = vec![0.0; o];
            let mut c = code;
            for w in workloads {
                load[c % o] += w;
                c /= o;
            }
            best = best.min((0..o).map(|j| load[j] / hours[j]).fold(0.0, f64::max));
        }
        best
    }

    #[test]
    fn small_rosters_get_the_most_even_load_an_exhaustive_search_finds() {
        let policy = Policy::default();
        type Case<'a> = (&'a [f64], &'a [(u32, f64)]);
        let cases: [Case; 4] = [
            (
                &[300.0, 200.0, 200.0, 100.0, 100.0],
                &[(10, 100.0), (2, 100.0)],
            ),
            (
                &[500.0, 400.0, 300.0, 300.0, 200.0, 100.0],
                &[(12, 120.0), (1, 80.0), (6, 100.0)],
            ),
            (&[50.0, 60.0, 70.0], &[(20, 60.0), (3, 140.0)]),
            (
                &[10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0],
                &[(8, 100.0), (0, 100.0), (4, 100.0)],
            ),
        ];
        for (workloads, roster) in cases {
            let mut officers = vec![
                officer("C", Role::Chief, 30, 0.0, true),
                officer("D", Role::Deputy, 20, 40.0, true),
            ];
            officers.extend(
                roster
                    .iter()
                    .enumerate()
                    .map(|(i, &(y, h))| officer(&format!("O{i}"), Role::Officer, y, h, true)),
            );
            let s = assign(&line_of_grids(workloads), &officers, &policy, 1, 1.0);
            assert!(s.gaps.is_empty(), "{:?}", s.gaps);
            // Every grid has one certified A-post and a different certified partner of its group.
            for g in 0..workloads.len() {
                let (a, b) = (s.a_post[g].unwrap(), s.b_post[g].unwrap());
                assert_ne!(a, b);
                assert!(officers[a].certified && officers[b].certified);
                let group = &s.areas[s.area_of_grid[g]].group;
                assert!(group.contains(&a) && group.contains(&b));
            }
            let best = exhaustive(
                workloads,
                &roster.iter().map(|&(_, h)| h).collect::<Vec<_>>(),
            );
            let ours = s.load.iter().copied().fold(0.0, f64::max);
            assert!((ours - best).abs() < 1e-9, "ours {ours}, exhaustive {best}");
        }
    }

    #[test]
    fn missing_links_of_the_chain_are_named() {
        let policy = Policy::default();
        let officers = vec![
            officer("O1", Role::Officer, 1, 100.0, true),
            officer("H1", Role::Helper, 1, 100.0, false),
        ];
        let s = assign(&line_of_grids(&[10.0, 20.0]), &officers, &policy, 1, 1.0);
        assert!(
            s.gaps.iter().any(|g| g.starts_with("no station chief")),
            "{:?}",
            s.gaps
        );
        assert!(
            s.gaps
                .iter()
                .any(|g| g == "grid G0 (area A01) lacks: chief, area deputy, B-post partner"),
            "{:?}",
            s.gaps
        );
        assert!(
            s.gaps
                .iter()
                .any(|g| g.contains("no officer with 5 or more years")),
            "{:?}",
            s.gaps
        );
    }

    #[test]
    fn areas_are_contiguous_groups_of_grids_with_a_deputy_each() {
        let policy = Policy::default();
        let mut officers = vec![officer("C", Role::Chief, 30, 0.0, true)];
        officers
            .extend((0..3).map(|i| officer(&format!("D{i}"), Role::Deputy, 15 + i, 40.0, true)));
        officers
            .extend((0..9).map(|i| officer(&format!("O{i}"), Role::Officer, i * 2, 120.0, true)));
        let grids = line_of_grids(&[10.0; 12]);
        let s = assign(&grids, &officers, &policy, 1, 1.0);
        assert_eq!(s.areas.len(), 3);
        for area in &s.areas {
            assert!(area.deputy.is_some());
            // On a line, a contiguous area is a run of consecutive grids.
            let mut g = area.grids.clone();
            g.sort_unstable();
            assert!(g.windows(2).all(|w| w[1] == w[0] + 1), "{g:?}");
            assert!(
                area.group
                    .iter()
                    .any(|&o| officers[o].years_of_service >= 5),
                "each group has an experienced officer"
            );
        }
        assert!(s.gaps.is_empty(), "{:?}", s.gaps);
    }
}

/// A change of a grid's A-post and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostChange {
    pub grid: usize,
    pub from: Option<usize>,
    pub to: Option<usize>,
    pub reason: String,
}

/// Keeps each grid's current A-post officer (`current`: officer and since when) unless that
/// breaks a rule — the officer can no longer patrol, or has held the post for the rotation
/// limit — or the balance (the officer would carry more than `1 + area_tolerance` times the
/// heaviest load of a fresh assignment); the freed grids go to the least loaded officer of
/// the area's group. So a rotation moves as few posts as it must. Returns the changes with
/// their reasons; `structure` is updated in place.
pub fn keep_existing(
    structure: &mut Structure,
    grids: &[GridInfo],
    officers: &[Officer],
    current: &[Option<(usize, chrono::NaiveDate)>],
    on: chrono::NaiveDate,
    policy: &Policy,
    months: f64,
) -> Vec<PostChange> {
    let k = grids.len();
    let hours: Vec<f64> = officers
        .iter()
        .map(|o| (o.hours_per_month * months).max(1.0))
        .collect();
    let fresh_max = structure.load.iter().copied().fold(0.0, f64::max);
    let limit_days = i64::from(policy.rotation_years) * 365;
    let mut reason_for: Vec<Option<String>> = vec![None; k];
    let mut kept: Vec<Option<usize>> = vec![None; k];
    for g in 0..k {
        let Some((o, since)) = current.get(g).copied().flatten() else {
            reason_for[g] = Some("new post".into());
            continue;
        };
        if o >= officers.len() || !can_patrol(&officers[o]) || officers[o].role != Role::Officer {
            reason_for[g] = Some(
                "the officer can no longer hold an A-post (not a certified patrol officer)".into(),
            );
        } else if (on - since).num_days() >= limit_days {
            reason_for[g] = Some(format!(
                "held since {since}: rotation limit of {} years",
                policy.rotation_years
            ));
        } else {
            kept[g] = Some(o);
        }
    }
    // Balance: an officer over the bound gives up kept grids, lightest first.
    let bound = fresh_max * (1.0 + policy.area_tolerance);
    let mut load = vec![0.0; officers.len()];
    for g in 0..k {
        if let Some(o) = kept[g] {
            load[o] += grids[g].workload / hours[o];
        }
    }
    for o in 0..officers.len() {
        let mut theirs: Vec<usize> = (0..k).filter(|&g| kept[g] == Some(o)).collect();
        theirs.sort_by(|&a, &b| grids[a].workload.total_cmp(&grids[b].workload));
        for g in theirs {
            if load[o] <= bound + 1e-12 {
                break;
            }
            load[o] -= grids[g].workload / hours[o];
            kept[g] = None;
            reason_for[g] = Some(format!(
                "balance: keeping it would load the officer beyond {:.0} % of the most even plan",
                (1.0 + policy.area_tolerance) * 100.0
            ));
        }
    }
    // Kept officers join the group of the area they serve.
    for (g, holder) in kept.iter().enumerate() {
        if let Some(o) = *holder {
            let a = structure.area_of_grid[g];
            for (i, area) in structure.areas.iter_mut().enumerate() {
                if i != a {
                    area.group.retain(|&x| x != o);
                } else if !area.group.contains(&o) {
                    area.group.push(o);
                }
            }
        }
    }
    // Freed grids, heaviest first, to the least loaded officer of their area's group.
    let mut free: Vec<usize> = (0..k).filter(|&g| kept[g].is_none()).collect();
    free.sort_by(|&a, &b| grids[b].workload.total_cmp(&grids[a].workload));
    let mut a_post: Vec<Option<usize>> = kept.clone();
    for g in free {
        let group = &structure.areas[structure.area_of_grid[g]].group;
        let pick = group
            .iter()
            .copied()
            .filter(|&o| {
                current
                    .get(g)
                    .copied()
                    .flatten()
                    .is_none_or(|(was, _)| was != o)
                    || reason_for[g].as_deref() == Some("new post")
            })
            .min_by(|&x, &y| {
                (load[x] + grids[g].workload / hours[x])
                    .total_cmp(&(load[y] + grids[g].workload / hours[y]))
                    .then(x.cmp(&y))
            });
        match pick {
            Some(o) => {
                load[o] += grids[g].workload / hours[o];
                a_post[g] = Some(o);
            }
            // Nobody else in the group: the holder stays (if still eligible) and it is said.
            None => {
                if let Some((was, _)) = current.get(g).copied().flatten()
                    && was < officers.len()
                    && can_patrol(&officers[was])
                {
                    a_post[g] = Some(was);
                    load[was] += grids[g].workload / hours[was];
                    structure.gaps.push(format!(
                        "grid {}: due for rotation but no other officer in its group",
                        grids[g].code
                    ));
                }
            }
        }
    }
    let mut changes = Vec::new();
    for g in 0..k {
        let was = current.get(g).copied().flatten().map(|(o, _)| o);
        if a_post[g] != was {
            changes.push(PostChange {
                grid: g,
                from: was,
                to: a_post[g],
                reason: reason_for[g].clone().unwrap_or_else(|| "reassigned".into()),
            });
        }
    }
    // Partners again, from the (possibly changed) groups.
    let mut b_post = vec![None; k];
    for area in &structure.areas {
        let mut used = vec![0usize; officers.len()];
        for &g in &area.grids {
            let Some(lead) = a_post[g] else { continue };
            let lead_experienced = officers[lead].years_of_service >= policy.experienced_years;
            let partner = area
                .group
                .iter()
                .copied()
                .filter(|&o| o != lead)
                .min_by_key(|&o| {
                    let mixes = (officers[o].years_of_service >= policy.experienced_years)
                        != lead_experienced;
                    (used[o], !mixes, o)
                });
            b_post[g] = partner.or(area.deputy.filter(|&d| d != lead && officers[d].certified));
            if let Some(p) = partner {
                used[p] += 1;
            }
        }
    }
    structure.a_post = a_post;
    structure.b_post = b_post;
    structure.load = load;
    changes
}
