//! Posts and the roster: assigning posts for the grid plan in force (areas, groups, A-posts
//! kept where the rules and the balance allow, rotated where they must, written as post
//! history), and adding or changing an officer on a region's roster.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use serde::Serialize;

use super::access::Caller;
use super::grids::region_graph;
use super::{App, AppError};
use crate::domain::access::Action;
use crate::domain::assign::{GridInfo, assign, keep_existing};
use crate::domain::entity::Officer;
use crate::spatial::crs::Crs;

/// What an assignment run did.
#[derive(Debug, Clone, Serialize)]
pub struct AssignReport {
    pub region: String,
    pub plan_version: i64,
    /// (grid, previous A-post officer, new A-post officer, why).
    pub changes: Vec<(String, Option<String>, Option<String>, String)>,
    pub max_load: f64,
    pub mean_load: f64,
    pub gaps: Vec<String>,
}

impl App {
    /// Gives the grids of the region's plan in force their posts as of `on`, keeping what
    /// can be kept, and stores the changes (closing old posts, opening new ones). Audited.
    pub fn assign_posts(&self, dir: &Path, on: NaiveDate, actor: &str) -> Result<AssignReport> {
        let rg = region_graph(dir, Crs::Wgs84, &self.policy, on)?;
        self.assign_posts_for(&rg, on, actor)
    }

    /// [`App::assign_posts`] for an imported region, from what the store holds.
    pub fn assign_posts_in_store(
        &self,
        region_code: &str,
        on: NaiveDate,
        actor: &str,
    ) -> Result<AssignReport> {
        let rg = self.stored_region_graph(region_code)?;
        self.assign_posts_for(&rg, on, actor)
    }

    fn assign_posts_for(
        &self,
        rg: &super::RegionGraph,
        on: NaiveDate,
        actor: &str,
    ) -> Result<AssignReport> {
        let region_code = rg.region.jurisdiction.code.clone();
        let mut store = self.open_store()?;
        let db = store.read();
        let version = db.plan_in_force(&region_code)?.with_context(|| {
            format!(
                "region '{region_code}' has no grid plan: run `partition --region … --save` first"
            )
        })?;
        let grid_units = db.plan_grid_units(&region_code, version)?;
        let grid_of_unit = super::grids::grid_of_units(&rg.graph, &grid_units).map_err(|u| {
            anyhow::anyhow!("unit {u} of the stored plan is not in the region files")
        })?;
        let k = grid_units.len();
        let mut grids: Vec<GridInfo> = grid_units
            .iter()
            .map(|(code, _)| GridInfo {
                code: code.clone(),
                workload: 0.0,
                neighbours: Vec::new(),
            })
            .collect();
        for u in 0..rg.graph.len() {
            let g = grid_of_unit[u];
            if g == usize::MAX {
                continue;
            }
            grids[g].workload += rg.graph.weights[u];
            for &(v, _) in &rg.graph.adjacency[u] {
                let h = grid_of_unit[v];
                if h != usize::MAX && h != g && !grids[g].neighbours.contains(&h) {
                    grids[g].neighbours.push(h);
                }
            }
        }
        let officers = &rg.region.officers;
        let officer_index: HashMap<&str, usize> = officers
            .iter()
            .enumerate()
            .map(|(i, o)| (o.id.as_str(), i))
            .collect();
        let grid_index: HashMap<&str, usize> = grid_units
            .iter()
            .enumerate()
            .map(|(i, (c, _))| (c.as_str(), i))
            .collect();
        let mut current = vec![None; k];
        for (grid, officer, since) in db.open_a_posts(&region_code, version)? {
            if let (Some(&g), Some(&o)) = (
                grid_index.get(grid.as_str()),
                officer_index.get(officer.as_str()),
            ) {
                current[g] = Some((o, since));
            } else if let Some(&g) = grid_index.get(grid.as_str()) {
                // The holder left the roster: an index past the roster marks the post as vacated.
                current[g] = Some((officers.len(), since));
            }
        }
        let mut structure = assign(&grids, officers, &self.policy, 1, 12.0);
        let changes = keep_existing(
            &mut structure,
            &grids,
            officers,
            &current,
            on,
            &self.policy,
            12.0,
        );
        let name = |o: Option<usize>| o.and_then(|o| officers.get(o)).map(|o| o.id.clone());
        let report_changes: Vec<(String, Option<String>, Option<String>, String)> = changes
            .iter()
            .map(|c| {
                (
                    grids[c.grid].code.clone(),
                    name(c.from),
                    name(c.to),
                    c.reason.clone(),
                )
            })
            .collect();
        let loads: Vec<f64> = structure
            .load
            .iter()
            .copied()
            .filter(|&l| l > 0.0)
            .collect();
        let at = self.clock.stamp();
        store.write(|db| -> Result<(), super::AppError> {
            for (g, grid) in grids.iter().enumerate() {
                db.set_post(
                    &region_code,
                    version,
                    &grid.code,
                    "A",
                    name(structure.a_post[g]).as_deref(),
                    on,
                )?;
                db.set_post(
                    &region_code,
                    version,
                    &grid.code,
                    "B",
                    name(structure.b_post[g]).as_deref(),
                    on,
                )?;
            }
            let areas: Vec<crate::store::AreaRow> = structure
                .areas
                .iter()
                .map(|a| crate::store::AreaRow {
                    code: a.code.clone(),
                    name: format!("片区 {}", a.code),
                    deputy: name(a.deputy),
                    grids: a.grids.iter().map(|&g| grids[g].code.clone()).collect(),
                })
                .collect();
            db.replace_areas(&region_code, version, &areas)?;
            db.audit(
                &at,
                actor,
                "posts assigned",
                &region_code,
                &serde_json::json!({ "version": version, "on": on, "changes": report_changes }),
            )?;
            Ok(())
        })?;
        Ok(AssignReport {
            region: region_code,
            plan_version: version,
            changes: report_changes,
            max_load: loads.iter().copied().fold(0.0, f64::max),
            mean_load: if loads.is_empty() {
                0.0
            } else {
                loads.iter().sum::<f64>() / loads.len() as f64
            },
            gaps: structure.gaps,
        })
    }
}

impl App {
    /// Adds or changes an officer on a region's roster; audited with before and after.
    pub fn save_officer(
        &self,
        caller: &Caller,
        region_code: &str,
        officer: &Officer,
    ) -> Result<(), AppError> {
        self.require(caller, Action::ManageGrids)?;
        if officer.id.trim().is_empty() || officer.name.trim().is_empty() {
            return Err(AppError::Invalid("id and name: must not be empty".into()));
        }
        if !(officer.hours_per_month.is_finite() && officer.hours_per_month >= 0.0) {
            return Err(AppError::Invalid(
                "hours_per_month: a number of hours, not negative".into(),
            ));
        }
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| -> Result<(), AppError> {
            if !db.region_codes()?.iter().any(|r| r == region_code) {
                return Err(
                    crate::store::StoreError::NotFound(format!("region '{region_code}'")).into(),
                );
            }
            let before = db.officers(None)?.into_iter().find(|o| o.id == officer.id);
            db.upsert_officer(region_code, officer)?;
            db.audit(
                &at,
                &caller.username,
                "officer saved",
                &officer.id,
                &serde_json::json!({ "before": before, "after": officer }),
            )?;
            Ok(())
        })
    }
}

/// The open posts of a region's plan in force: grid → officer.
#[derive(Debug, Clone, Serialize)]
pub struct PostsInForce {
    pub plan_version: i64,
    pub a_posts: HashMap<String, String>,
    pub b_posts: HashMap<String, String>,
}

impl App {
    /// The open posts of the region's plan in force.
    pub fn posts_in_force(
        &self,
        caller: &Caller,
        region_code: &str,
    ) -> Result<PostsInForce, AppError> {
        self.require(caller, Action::Read)?;
        let store = self.open_store()?;
        let db = store.read();
        let version = db.plan_in_force(region_code)?.ok_or_else(|| {
            crate::store::StoreError::NotFound(format!("a grid plan of region '{region_code}'"))
        })?;
        Ok(PostsInForce {
            plan_version: version,
            a_posts: db.open_posts(region_code, version, "A")?,
            b_posts: db.open_posts(region_code, version, "B")?,
        })
    }

    /// The roster of every region.
    pub fn roster(&self, caller: &Caller) -> Result<Vec<Officer>, AppError> {
        self.require(caller, Action::Read)?;
        Ok(self.open_store()?.read().officers(None)?)
    }
}
