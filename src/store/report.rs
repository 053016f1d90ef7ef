//! The facts reports add up: where each business stands, the tasks due in a period and the
//! visits made in it, and the "three clears" (三清) checks.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use rusqlite::params;
use serde::Serialize;

use super::{Db, Result, StoreError};
use crate::domain::report::{Placement, VisitFact};

/// A task due in a period, before the policy gives it minutes.
#[derive(Debug, Clone)]
pub struct TaskLine {
    pub business: usize,
    pub kind: String,
    pub due_by: NaiveDate,
    pub done_on: Option<NaiveDate>,
    pub class: Option<String>,
}

/// Everything a coverage report of one region and period reads.
#[derive(Debug, Clone, Default)]
pub struct ReportFacts {
    pub places: Vec<Placement>,
    pub inspected: Vec<bool>,
    pub tasks: Vec<TaskLine>,
    pub visits: Vec<VisitFact>,
}

/// The three clears: what is missing, by kind.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Clears {
    pub plan_version: Option<i64>,
    /// Units in no grid of the plan in force.
    pub units_without_grid: Vec<String>,
    /// Units in more than one grid.
    pub units_in_two_grids: Vec<String>,
    /// Grids with no A-post officer, no B-post officer, or an area without a deputy.
    pub grids_without_a_post: Vec<String>,
    pub grids_without_b_post: Vec<String>,
    pub grids_without_deputy: Vec<String>,
    pub has_chief: bool,
    pub unlocated_businesses: Vec<String>,
    pub unclassified_businesses: Vec<String>,
}

fn date(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| StoreError::Corrupt(format!("bad date '{text}'")))
}

impl Db<'_> {
    /// The facts of a region's coverage report over `[from, to]`.
    pub fn report_facts(
        &self,
        region: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<ReportFacts> {
        let (f, t) = (from.to_string(), to.to_string());
        let officer_of: HashMap<String, String> = match self.plan_in_force(region)? {
            Some(v) => self.open_posts(region, v, "A")?,
            None => HashMap::new(),
        };
        // Each key once, shared by the businesses that have it.
        let mut keys: HashSet<Arc<str>> = HashSet::new();
        let mut key = |text: &str| -> Arc<str> {
            if let Some(k) = keys.get(text) {
                return Arc::clone(k);
            }
            let k: Arc<str> = text.into();
            keys.insert(Arc::clone(&k));
            k
        };
        let mut facts = ReportFacts::default();
        self.each_placed_business(region, true, |b| {
            let grid = b.grid.unwrap_or_default();
            facts.places.push(Placement {
                officer: key(officer_of.get(&grid).map_or("", String::as_str)),
                grid: key(&grid),
                area: key(b.area.as_deref().unwrap_or_default()),
                class: key(b.class.as_deref().unwrap_or_default()),
                industry: key(&b.industry),
                entity_id: b.id,
            });
            facts.inspected.push(b.inspected.unwrap_or(false));
            Ok(())
        })?;
        facts.places.shrink_to_fit();
        facts.inspected.shrink_to_fit();
        // The places are in id order (as SQLite orders text, byte by byte, as `str` does):
        // a task or visit finds its business by a binary search.
        let (mut tasks, mut visits) = (Vec::new(), Vec::new());
        let places = &facts.places;
        let index = |id: &str| {
            places
                .binary_search_by(|p| p.entity_id.as_str().cmp(id))
                .ok()
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.entity_id, t.kind, t.due_by, i.date, b.class
             FROM tasks t JOIN businesses b ON b.id = t.entity_id
             LEFT JOIN inspections i ON i.id = t.inspection_id
             WHERE b.region_code = ?1 AND t.due_by BETWEEN ?2 AND ?3 AND t.status != 'cancelled'",
        )?;
        let mut rows = stmt.query(params![region, f, t])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let Some(business) = index(&id) else {
                continue;
            };
            let done: Option<String> = r.get(3)?;
            tasks.push(TaskLine {
                business,
                kind: r.get(1)?,
                due_by: date(&r.get::<_, String>(2)?)?,
                done_on: done.as_deref().map(date).transpose()?,
                class: r.get(4)?,
            });
        }
        drop(rows);
        let mut stmt = self.conn.prepare_cached(
            "SELECT i.entity_id, i.same_day, i.outcome, i.date FROM inspections i JOIN businesses b ON b.id = i.entity_id
             WHERE b.region_code = ?1 AND i.date BETWEEN ?2 AND ?3",
        )?;
        let mut rows = stmt.query(params![region, f, t])?;
        while let Some(r) = rows.next()? {
            let id: String = r.get(0)?;
            let Some(business) = index(&id) else {
                continue;
            };
            let outcome: String = r.get(2)?;
            visits.push(VisitFact {
                business,
                date: date(&r.get::<_, String>(3)?)?,
                same_day: r.get(1)?,
                finding: matches!(outcome.as_str(), "findings" | "rectification" | "case"),
                notice: outcome == "rectification",
            });
        }
        drop(rows);
        facts.tasks = tasks;
        facts.visits = visits;
        Ok(facts)
    }

    /// The three clears of a region against its plan in force.
    pub fn clears(&self, region: &str) -> Result<Clears> {
        let mut c = Clears {
            plan_version: self.plan_in_force(region)?,
            ..Clears::default()
        };
        let strings = |sql: &str, p: &[&dyn rusqlite::ToSql]| -> Result<Vec<String>> {
            Ok(self
                .conn
                .prepare_cached(sql)?
                .query_map(p, |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?)
        };
        if let Some(v) = c.plan_version {
            let in_plan = "SELECT gu.unit_code, count(*) n FROM grid_units gu JOIN grids g ON g.id = gu.grid_id
                           WHERE g.region_code = ?1 AND g.plan_version = ?2 GROUP BY gu.unit_code";
            c.units_without_grid = strings(
                &format!(
                    "SELECT code FROM units u WHERE region_code = ?1
                     AND code NOT IN (SELECT unit_code FROM ({in_plan})) ORDER BY code"
                ),
                &[&region, &v],
            )?;
            c.units_in_two_grids = strings(
                &format!("SELECT unit_code FROM ({in_plan}) WHERE n > 1 ORDER BY unit_code"),
                &[&region, &v],
            )?;
            let missing = |post: &str| {
                strings(
                    "SELECT g.code FROM grids g WHERE g.region_code = ?1 AND g.plan_version = ?2
                     AND NOT EXISTS (SELECT 1 FROM posts p WHERE p.grid_id = g.id AND p.post = ?3 AND p.until IS NULL)
                     ORDER BY g.code",
                    &[&region, &v, &post],
                )
            };
            c.grids_without_a_post = missing("A")?;
            c.grids_without_b_post = missing("B")?;
            c.grids_without_deputy = strings(
                "SELECT g.code FROM grids g WHERE g.region_code = ?1 AND g.plan_version = ?2
                 AND NOT EXISTS (SELECT 1 FROM area_grids ag JOIN areas a ON a.id = ag.area_id
                                 WHERE ag.grid_id = g.id AND a.deputy_officer_id IS NOT NULL)
                 ORDER BY g.code",
                &[&region, &v],
            )?;
        } else {
            c.units_without_grid = strings(
                "SELECT code FROM units WHERE region_code = ?1 ORDER BY code",
                &[&region],
            )?;
        }
        c.has_chief = self.row(
            "SELECT EXISTS (SELECT 1 FROM officers WHERE region_code = ?1 AND role = 'chief')",
            [region],
            |r| r.get(0),
        )?;
        c.unlocated_businesses = strings(
            "SELECT id FROM businesses WHERE region_code = ?1 AND unit_code IS NULL ORDER BY id",
            &[&region],
        )?;
        c.unclassified_businesses = strings(
            "SELECT id FROM businesses WHERE region_code = ?1 AND class IS NULL ORDER BY id",
            &[&region],
        )?;
        Ok(c)
    }
}

impl Db<'_> {
    pub fn insert_veto(
        &self,
        region: &str,
        subject: &str,
        year: i32,
        reason: &str,
        by: &str,
        at: &str,
    ) -> Result<i64> {
        self.exec(
            "INSERT INTO vetoes (region_code, subject, year, reason, set_by, set_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![region, subject, year, reason, by, at],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Vetoes of a region's year: subject → reasons.
    pub fn vetoes(&self, region: &str, year: i32) -> Result<HashMap<String, Vec<String>>> {
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT subject, reason FROM vetoes WHERE region_code = ?1 AND year = ?2 ORDER BY id",
        )?;
        let mut rows = stmt.query(params![region, year])?;
        while let Some(r) = rows.next()? {
            out.entry(r.get(0)?).or_default().push(r.get(1)?);
        }
        Ok(out)
    }
}
