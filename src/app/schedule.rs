//! The work of the scheduled jobs, each one transaction: re-planning routine visits from the
//! store, escalating overdue tasks to the area deputy, and freezing 旬 and monthly figures.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::access::Caller;
use super::{App, AppError};
use crate::domain::access::Action;
use crate::domain::policy::RiskClass;
use crate::domain::schedule::{Window, obligations, spread_due_dates_onto};
use crate::store::{BusinessFilter, Escalation, NewTask, OpenTask, OpenTaskCursor, PeriodStats};

/// What a re-plan did for a region.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplanReport {
    pub region: String,
    pub plan_version: Option<i64>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub businesses: usize,
    /// Open tasks that still cover a visit owed, kept.
    pub kept: usize,
    /// Open routine tasks moved to their grid's current A-post officer.
    pub moved: usize,
    /// Open routine tasks no longer owed (a class went down, a visit was made).
    pub cancelled: usize,
    /// New tasks for visits owed and not yet planned.
    pub created: usize,
    /// Kept routine tasks that counted a visit only from a later day than their window's
    /// first (saved by builds that stored the due date as the window's start): a visit
    /// made in the window before the due date now closes them.
    pub window_starts_set: usize,
    /// Visits owed in grids with no A-post officer: reported, not planned.
    pub unassigned: usize,
    pub unlocated: usize,
}

/// A visit owed and not covered by an open task: (entity, grid index, window, class).
type Uncovered = (String, usize, Window, RiskClass);

impl App {
    /// Re-plans a region's routine visits from `today` for the policy's horizon against the
    /// grid plan and posts in force: open tasks that still cover an owed visit are kept
    /// (moved if the grid's A-post changed hands), open routine tasks no longer owed are
    /// cancelled, and owed visits no open task covers get new tasks, dated onto each
    /// officer's least loaded days. Running it twice the same day changes nothing the
    /// second time.
    pub fn replan(
        &self,
        caller: &Caller,
        region_code: &str,
        today: NaiveDate,
    ) -> Result<ReplanReport, AppError> {
        self.require(caller, Action::ManageGrids)?;
        let horizon = u64::from(self.policy.plan_horizon_days.max(1));
        let to = today
            .checked_add_days(chrono::Days::new(horizon - 1))
            .unwrap_or(today);
        let policy = &self.policy;
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| {
            let mut report = ReplanReport {
                region: region_code.to_owned(),
                ..ReplanReport::default()
            };
            let Some(version) = db.plan_in_force(region_code)? else {
                return Ok(report);
            };
            report.plan_version = Some(version);
            report.from = Some(today);
            report.to = Some(to);
            let grid_units = db.plan_grid_units(region_code, version)?;
            let labels: Vec<String> = grid_units.iter().map(|(g, _)| g.clone()).collect();
            let grid_of_unit: HashMap<String, usize> = grid_units
                .iter()
                .enumerate()
                .flat_map(|(g, (_, units))| units.iter().map(move |u| (u.clone(), g)))
                .collect();
            let a_post = db.open_posts(region_code, version, "A")?;
            let b_post = db.open_posts(region_code, version, "B")?;
            let lead: Vec<Option<&String>> = labels.iter().map(|g| a_post.get(g)).collect();
            let partner: Vec<Option<&String>> = labels.iter().map(|g| b_post.get(g)).collect();
            let overrides = db.active_overrides(region_code, today)?;
            // Businesses and open tasks both come in entity id order: walk them together,
            // reading a business's open tasks as it comes.
            let mut open_statement = db.live_open_tasks_statement()?;
            let mut open = OpenTaskCursor::new(&mut open_statement, region_code, today)?;
            let mut tasks: Vec<OpenTask> = Vec::new();
            let mut uncovered: Vec<Uncovered> = Vec::new();
            let mut cancel: Vec<i64> = Vec::new();
            let mut moves: Vec<(i64, usize)> = Vec::new();
            let mut window_starts: Vec<(i64, NaiveDate)> = Vec::new();
            db.for_each_business(&BusinessFilter::Region(region_code.to_owned()), |row| {
                report.businesses += 1;
                let id = row.business.id.as_str();
                open.take(id, &mut tasks)?;
                let tasks: &[OpenTask] = &tasks;
                let Some(g) = row
                    .unit_code
                    .as_ref()
                    .and_then(|u| grid_of_unit.get(u))
                    .copied()
                else {
                    report.unlocated += 1;
                    return Ok(());
                };
                let timeline = timeline_in_force(&row, overrides.get(id), today, to, policy);
                let visits: Vec<NaiveDate> =
                    row.records.inspections.iter().map(|v| v.date).collect();
                let mut used = vec![false; tasks.len()];
                for o in obligations(&timeline, &visits, today, to, policy) {
                    if o.satisfied_by.is_some() {
                        continue;
                    }
                    // The whole period, even where it reaches past the horizon: a task
                    // already dated late in a long period still covers it.
                    let window = Window {
                        start: o.window.start.max(today),
                        end: o.window.end,
                    };
                    // An open task of the business whose visit falls inside the window
                    // covers it: one visit, whether planned as routine, special or
                    // targeted. A task planned for a past day is visited from today on.
                    let cover = tasks.iter().enumerate().position(|(k, t)| {
                        !used[k] && window.contains(t.due_on.max(today).min(t.due_by))
                    });
                    match cover {
                        Some(k) => {
                            used[k] = true;
                            report.kept += 1;
                            let t = &tasks[k];
                            if t.kind == "routine"
                                && t.period_start.is_none_or(|p| p > window.start)
                            {
                                window_starts.push((t.id, window.start));
                            }
                        }
                        None if lead[g].is_none() => report.unassigned += 1,
                        None => uncovered.push((id.to_owned(), g, window, o.class)),
                    }
                }
                let holder = lead[g].map(String::as_str);
                for (k, t) in tasks.iter().enumerate() {
                    // Only routine tasks are the plan's to cancel (past the horizon is the
                    // next nights' business); special, targeted and follow-up tasks move
                    // with the grid like the rest.
                    if t.kind == "routine" && !used[k] && t.due_on <= to {
                        cancel.push(t.id);
                    } else if holder.is_some()
                        && (t.officer_id.as_deref() != holder
                            || t.grid_code.as_deref() != Some(labels[g].as_str()))
                    {
                        // The grid's A-post changed hands (or the business's grid changed).
                        moves.push((t.id, g));
                    }
                }
                Ok(())
            })?;
            // The walk is over: the cursor's statement is done before the writes below.
            drop(open);
            drop(open_statement);

            let new_tasks = date_uncovered(
                &db,
                region_code,
                &uncovered,
                &lead,
                &partner,
                &labels,
                today,
                to,
            )?;
            for (id, g) in &moves {
                let officer = lead[*g].map_or("", String::as_str);
                db.move_task(
                    *id,
                    region_code,
                    version,
                    &labels[*g],
                    officer,
                    partner[*g].map(String::as_str),
                )?;
            }
            report.moved = moves.len();
            report.cancelled = db.cancel_tasks(&cancel)?;
            report.created = db.insert_tasks(region_code, version, &new_tasks, &at)?;
            report.window_starts_set = db.set_period_starts(&window_starts)?;
            if report.moved + report.cancelled + report.created + report.window_starts_set > 0 {
                db.audit(
                    &at,
                    &caller.username,
                    "re-planned",
                    region_code,
                    &super::service::json_value("re-plan report", &report)?,
                )?;
            }
            Ok(report)
        })
    }

    /// Escalates every open task more than the policy's grace past its deadline to the
    /// deputy of its grid's area (or the chief), once; audited task by task.
    pub fn escalate_overdue(
        &self,
        caller: &Caller,
        today: NaiveDate,
    ) -> Result<Vec<Escalation>, AppError> {
        self.require(caller, Action::ManageInspections)?;
        let grace = chrono::Days::new(u64::from(self.policy.escalate_after_days));
        let cutoff = today.checked_sub_days(grace).unwrap_or(today);
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| {
            let escalated = db.escalate_overdue(cutoff, &at)?;
            for e in &escalated {
                db.audit(
                    &at,
                    &caller.username,
                    "task escalated",
                    &e.entity_id,
                    &super::service::json_value("escalation", e)?,
                )?;
            }
            Ok(escalated)
        })
    }

    /// Freezes the figures of every region for a period (`kind` "dekad" or "month"), once:
    /// a period already frozen is left as it was. Returns the regions newly frozen.
    pub fn take_snapshots(
        &self,
        caller: &Caller,
        kind: &str,
        period: (NaiveDate, NaiveDate),
    ) -> Result<Vec<String>, AppError> {
        self.require(caller, Action::ManageInspections)?;
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        let mut taken = Vec::new();
        for region in store.read().region_codes()? {
            if store.read().snapshot(kind, &region, period.0)?.is_some() {
                continue;
            }
            // Figures and rankings from one read transaction (the writer goes on meanwhile);
            // only storing them takes the write lock.
            let body = store.read_consistent(|db| -> Result<_, AppError> {
                let stats = db.period_stats(&region, period.0, period.1)?;
                let mut body = super::service::json_value("period figures", &stats)?;
                // The bulletin's rankings of grids and officers, frozen with the figures.
                body["rankings"] = self.rankings_in(
                    &db,
                    &region,
                    crate::domain::report::Period {
                        from: period.0,
                        to: period.1,
                    },
                )?;
                Ok(body)
            })?;
            if store.write(|db| db.save_snapshot(kind, &region, period, &at, &body))? {
                taken.push(region);
            }
        }
        Ok(taken)
    }

    /// Every task of a business, any status.
    pub fn tasks_for_entity(
        &self,
        caller: &Caller,
        entity_id: &str,
    ) -> Result<Vec<crate::store::TaskRow>, AppError> {
        self.require_entity(caller, entity_id, Action::Read)?;
        Ok(self.open_store()?.read().tasks_for_entity(entity_id)?)
    }

    /// Open tasks escalated to an officer (a deputy's late list).
    pub fn escalated_to(
        &self,
        caller: &Caller,
        officer_id: &str,
    ) -> Result<Vec<Escalation>, AppError> {
        self.require_officer(caller, officer_id)?;
        Ok(self.open_store()?.read().escalated_to(officer_id)?)
    }

    /// A region's areas, their deputies and grids.
    pub fn areas(
        &self,
        caller: &Caller,
        region_code: &str,
    ) -> Result<Vec<crate::store::AreaRow>, AppError> {
        self.require(caller, Action::Read)?;
        Ok(self.open_store()?.read().areas(region_code)?)
    }

    /// A frozen snapshot as stored: the figures and the bulletin's rankings.
    pub fn bulletin(
        &self,
        caller: &Caller,
        kind: &str,
        region_code: &str,
        period_start: NaiveDate,
    ) -> Result<serde_json::Value, AppError> {
        self.require(caller, Action::ReadReports)?;
        self.open_store()?
            .read()
            .snapshot(kind, region_code, period_start)?
            .ok_or_else(|| {
                crate::store::StoreError::NotFound(format!(
                    "{kind} bulletin of {region_code} from {period_start}"
                ))
                .into()
            })
    }

    /// A frozen snapshot's figures.
    pub fn snapshot(
        &self,
        caller: &Caller,
        kind: &str,
        region_code: &str,
        period_start: NaiveDate,
    ) -> Result<Option<PeriodStats>, AppError> {
        self.require(caller, Action::ReadReports)?;
        let body = self
            .open_store()?
            .read()
            .snapshot(kind, region_code, period_start)?;
        Ok(body.and_then(|b| serde_json::from_value(b).ok()))
    }
}

/// The 旬 (dekad) containing `day`: the 1st-10th, 11th-20th, or 21st to the month's end.
pub fn dekad_of(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let (y, m) = (day.year(), day.month());
    let at = |d: u32| NaiveDate::from_ymd_opt(y, m, d).unwrap_or(day);
    match day.day() {
        1..=10 => (at(1), at(10)),
        11..=20 => (at(11), at(20)),
        _ => (at(21), month_of(day).1),
    }
}

/// The calendar month containing `day`.
pub fn month_of(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = day.with_day(1).unwrap_or(day);
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    (first, next.pred_opt().unwrap_or(first))
}

/// A business's classes from `today` to `to`: the override's class while it is active (an
/// unknown class read as D), then the classes its record gives.
fn timeline_in_force(
    row: &crate::store::BusinessRow,
    override_in_force: Option<&(String, NaiveDate)>,
    today: NaiveDate,
    to: NaiveDate,
    policy: &crate::domain::policy::Policy,
) -> Vec<(NaiveDate, RiskClass)> {
    match override_in_force {
        Some((class, until)) => {
            let class = class.parse().unwrap_or(RiskClass::D);
            let mut timeline = vec![(today, class)];
            if let Some(after) = until.succ_opt().filter(|d| *d <= to) {
                timeline.extend(super::plan::class_timeline(
                    &row.business,
                    &row.records,
                    after,
                    to,
                    policy,
                ));
            }
            timeline
        }
        None => super::plan::class_timeline(&row.business, &row.records, today, to, policy),
    }
}

/// New routine tasks for the owed visits no open task covers: dated onto each grid's A-post
/// holder's least loaded days around the tasks they already carry, each inside its period
/// (which may reach past the horizon `to`).
#[allow(clippy::too_many_arguments)]
fn date_uncovered(
    db: &crate::store::Db<'_>,
    region_code: &str,
    uncovered: &[Uncovered],
    lead: &[Option<&String>],
    partner: &[Option<&String>],
    labels: &[String],
    today: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<NewTask>, AppError> {
    let last = uncovered
        .iter()
        .map(|u| u.2.end)
        .max()
        .unwrap_or(to)
        .max(to);
    let range = Window {
        start: today,
        end: last,
    };
    let loads = db.officer_day_loads(region_code, today, last)?;
    let days = usize::try_from((last - today).num_days()).unwrap_or(0) + 1;
    let mut per_officer: HashMap<&str, Vec<&Uncovered>> = HashMap::new();
    for u in uncovered {
        if let Some(officer) = lead[u.1] {
            per_officer.entry(officer.as_str()).or_default().push(u);
        }
    }
    let mut officers: Vec<&str> = per_officer.keys().copied().collect();
    officers.sort_unstable();
    let mut new_tasks: Vec<NewTask> = Vec::new();
    for officer in officers {
        let list = &per_officer[officer];
        let initial: Vec<u32> = today
            .iter_days()
            .take(days)
            .map(|d| loads.get(&(officer.to_owned(), d)).copied().unwrap_or(0))
            .collect();
        let windows: Vec<Window> = list.iter().map(|u| u.2).collect();
        let due = spread_due_dates_onto(&windows, range, &initial);
        for (u, date) in list.iter().zip(due) {
            new_tasks.push(NewTask {
                entity_id: u.0.clone(),
                grid_code: labels[u.1].clone(),
                officer_id: officer.to_owned(),
                partner_id: partner[u.1].cloned().unwrap_or_default(),
                kind: "routine".to_owned(),
                period_start: u.2.start,
                due_on: date,
                due_by: u.2.end.max(date),
            });
        }
    }
    Ok(new_tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn dekads_and_months() {
        assert_eq!(
            dekad_of(d("2027-02-05")),
            (d("2027-02-01"), d("2027-02-10"))
        );
        assert_eq!(
            dekad_of(d("2027-02-11")),
            (d("2027-02-11"), d("2027-02-20"))
        );
        assert_eq!(
            dekad_of(d("2027-02-28")),
            (d("2027-02-21"), d("2027-02-28"))
        );
        assert_eq!(
            dekad_of(d("2028-02-29")),
            (d("2028-02-21"), d("2028-02-29"))
        );
        assert_eq!(
            month_of(d("2027-12-31")),
            (d("2027-12-01"), d("2027-12-31"))
        );
    }
}
