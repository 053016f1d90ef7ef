//! Scheduled work driven by cron expressions from the configuration. Jobs call the app and
//! hold no rules; each run is recorded per schedule slot, a slot that already ran is never
//! run again, and at start-up a missed run is caught up (snapshot jobs catch up every
//! period they missed, the others only their latest slot).

use std::sync::Arc;

use chrono::{Local, NaiveDateTime, TimeZone};
use cron::Schedule;

use crate::app::schedule::{dekad_of, month_of};
use crate::app::{App, AppError, ReclassifyReport};

pub use crate::config::JobSchedules;
use crate::store::job_names;
pub use crate::store::job_names::NIGHTLY_RECLASSIFY;

/// The scheduled jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Re-classify what time alone changed, lapse overrides.
    Reclassify,
    /// Re-plan routine visits against the grids and posts in force.
    Replan,
    /// Hand overdue tasks to the area deputy.
    Escalate,
    /// Freeze the figures of the 旬 (dekad) that just ended.
    DekadSnapshot,
    /// Freeze the figures of the month that just ended, for the monthly bulletin.
    MonthlySnapshot,
}

impl Job {
    pub const ALL: [Job; 5] = [
        Job::Reclassify,
        Job::Replan,
        Job::Escalate,
        Job::DekadSnapshot,
        Job::MonthlySnapshot,
    ];

    /// The name runs are recorded under.
    pub fn name(self) -> &'static str {
        match self {
            Job::Reclassify => NIGHTLY_RECLASSIFY,
            Job::Replan => job_names::NIGHTLY_REPLAN,
            Job::Escalate => job_names::OVERDUE_ESCALATION,
            Job::DekadSnapshot => job_names::DEKAD_SNAPSHOT,
            Job::MonthlySnapshot => job_names::MONTHLY_SNAPSHOT,
        }
    }

    /// Snapshot jobs owe one run per period: every missed slot is caught up.
    fn catches_up_every_slot(self) -> bool {
        matches!(self, Job::DekadSnapshot | Job::MonthlySnapshot)
    }

    /// Does the job's work for a slot; returns its summary.
    fn run(self, app: &App, slot: NaiveDateTime) -> Result<serde_json::Value, AppError> {
        let day = slot.date();
        let yesterday = day.pred_opt().unwrap_or(day);
        Ok(match self {
            Job::Reclassify => {
                let report = reclassify(app, slot)?;
                serde_json::to_value(&report).unwrap_or_default()
            }
            Job::Replan => {
                let regions = app.open_store()?.read().region_codes()?;
                let mut reports = Vec::new();
                for region in regions {
                    let r = app.replan(&crate::app::access::Caller::scheduler(), &region, day)?;
                    tracing::info!(job = self.name(), region = %r.region, kept = r.kept, moved = r.moved, cancelled = r.cancelled, created = r.created, unassigned = r.unassigned, "re-planned");
                    reports.push(r);
                }
                serde_json::to_value(&reports).unwrap_or_default()
            }
            Job::Escalate => {
                let escalated =
                    app.escalate_overdue(&crate::app::access::Caller::scheduler(), day)?;
                tracing::info!(
                    job = self.name(),
                    escalated = escalated.len(),
                    "overdue tasks escalated"
                );
                serde_json::json!({ "escalated": escalated.len() })
            }
            Job::DekadSnapshot | Job::MonthlySnapshot => {
                let (kind, period) = if self == Job::DekadSnapshot {
                    ("dekad", dekad_of(yesterday))
                } else {
                    ("month", month_of(yesterday))
                };
                let taken =
                    app.take_snapshots(&crate::app::access::Caller::scheduler(), kind, period)?;
                tracing::info!(job = self.name(), from = %period.0, to = %period.1, regions = taken.len(), "figures frozen");
                serde_json::json!({ "kind": kind, "from": period.0, "to": period.1, "regions": taken })
            }
        })
    }
}

/// The schedules' type is the configuration's; parsing them into jobs is the scheduler's.
impl JobSchedules {
    /// Every job with its parsed schedule; a bad expression is named with its job.
    pub fn parse(&self) -> Result<Vec<(Job, Schedule)>, String> {
        Job::ALL
            .iter()
            .map(|&job| {
                let expression = match job {
                    Job::Reclassify => &self.nightly_reclassify,
                    Job::Replan => &self.nightly_replan,
                    Job::Escalate => &self.overdue_escalation,
                    Job::DekadSnapshot => &self.dekad_snapshot,
                    Job::MonthlySnapshot => &self.monthly_snapshot,
                };
                parse_schedule(expression)
                    .map(|s| (job, s))
                    .map_err(|e| format!("jobs.{}: {e}", job.name().replace('-', "_")))
            })
            .collect()
    }
}

/// Parses a six-field cron expression (seconds first), naming the problem.
pub fn parse_schedule(expression: &str) -> Result<Schedule, String> {
    expression.parse::<Schedule>().map_err(|e| {
        format!(
            "cron expression '{expression}': {e} (six fields, seconds first, e.g. '0 0 2 * * *')"
        )
    })
}

/// The latest slot of `schedule` at or before `now` (local time).
pub fn latest_slot(schedule: &Schedule, now: NaiveDateTime) -> Option<NaiveDateTime> {
    let now = Local.from_local_datetime(&now).earliest()?;
    // `after(t)` iterates forward from t; backwards it yields the slots before t.
    let probe = now + chrono::Duration::seconds(1);
    schedule.after(&probe).next_back().map(|t| t.naive_local())
}

/// The slots of `schedule` after `last` and at or before `now`, oldest first, at most `cap`
/// (the newest `cap` when more were missed).
fn slots_since(
    schedule: &Schedule,
    last: NaiveDateTime,
    now: NaiveDateTime,
    cap: usize,
) -> Vec<NaiveDateTime> {
    let Some(start) = Local.from_local_datetime(&last).earliest() else {
        return Vec::new();
    };
    let mut slots: Vec<NaiveDateTime> = schedule
        .after(&start)
        .map(|t| t.naive_local())
        .take_while(|t| *t <= now)
        .collect();
    if slots.len() > cap {
        slots.drain(..slots.len() - cap);
    }
    slots
}

const SLOT_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// The job running in this process now, if any (shown by `/healthz`).
static RUNNING: std::sync::Mutex<Option<&'static str>> = std::sync::Mutex::new(None);

/// The job running in this process now, if any.
pub fn running() -> Option<&'static str> {
    *RUNNING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Marks a job running until dropped.
struct Running;

impl Running {
    fn start(job: Job) -> Self {
        *RUNNING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(job.name());
        Running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        *RUNNING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

/// The most periods a snapshot job catches up after a long outage.
const MAX_CATCH_UP: usize = 400;

/// Runs `job` for every slot it owes as of the app's clock: the latest slot if it has not
/// run, and for snapshot jobs every slot missed since the last run. Returns the summaries
/// of the runs it made (none when nothing was due).
pub fn run_if_due(
    app: &App,
    job: Job,
    schedule: &Schedule,
) -> Result<Vec<serde_json::Value>, AppError> {
    let now = app.clock.now_local();
    let Some(latest) = latest_slot(schedule, now) else {
        return Ok(Vec::new());
    };
    let last = app
        .open_store()?
        .last_job_run(job.name())?
        .and_then(|s| NaiveDateTime::parse_from_str(&s, SLOT_FORMAT).ok());
    let slots = match last {
        Some(last) if last >= latest => return Ok(Vec::new()),
        Some(last) if job.catches_up_every_slot() => slots_since(schedule, last, now, MAX_CATCH_UP),
        _ => vec![latest],
    };
    let mut summaries = Vec::new();
    let _running = Running::start(job);
    for slot in slots {
        let started = app.clock.stamp();
        let summary = job.run(app, slot)?;
        app.open_store()?.record_job_run(
            job.name(),
            &slot.format(SLOT_FORMAT).to_string(),
            &started,
            &app.clock.stamp(),
            &summary,
        )?;
        tracing::info!(job = job.name(), slot = %slot.format(SLOT_FORMAT), "job ran");
        summaries.push(summary);
    }
    Ok(summaries)
}

/// Runs every job that is due, in schedule order (re-classification before re-planning).
/// A failing job is logged and retried at its next slot; the others still run.
pub fn run_due_jobs(app: &App, jobs: &[(Job, Schedule)]) -> Vec<(Job, usize)> {
    let mut ran = Vec::new();
    for (job, schedule) in jobs {
        match run_if_due(app, *job, schedule) {
            Ok(runs) if !runs.is_empty() => ran.push((*job, runs.len())),
            Ok(_) => {}
            Err(e) => {
                tracing::error!(job = job.name(), error = %e, "job failed; retried at its next slot")
            }
        }
    }
    ran
}

/// The nightly re-classification; under a policy the last run did not use, every stored
/// class may be stale, so everything is re-classified.
fn reclassify(app: &App, slot: NaiveDateTime) -> Result<ReclassifyReport, AppError> {
    let everything = !app.classes_under_policy(&app.open_store()?.read())?;
    let report = app.nightly_pass(slot.date(), everything)?;
    tracing::info!(
        job = NIGHTLY_RECLASSIFY,
        everything,
        examined = report.examined,
        changed = report.changed,
        lapsed = report.overrides_lapsed,
        "re-classified"
    );
    Ok(report)
}

/// Runs the nightly re-classification for its latest slot if that slot has not run yet.
/// Returns its report, or `None` when there was nothing to do.
pub fn run_nightly_if_due(
    app: &App,
    schedule: &Schedule,
) -> Result<Option<ReclassifyReport>, AppError> {
    let runs = run_if_due(app, Job::Reclassify, schedule)?;
    Ok(runs
        .into_iter()
        .last()
        .and_then(|v| serde_json::from_value(v).ok()))
}

/// Runs the jobs forever: catches up at once, then sleeps until the next slot of any job.
pub async fn run_scheduler(app: Arc<App>, jobs: Vec<(Job, Schedule)>) {
    let jobs = Arc::new(jobs);
    loop {
        let (work_app, work_jobs) = (app.clone(), jobs.clone());
        if let Err(e) =
            tokio::task::spawn_blocking(move || run_due_jobs(&work_app, &work_jobs)).await
        {
            tracing::error!(error = %e, "scheduled jobs panicked");
        }
        let Some(next) = jobs
            .iter()
            .filter_map(|(_, s)| s.upcoming(Local).next())
            .min()
        else {
            return;
        };
        let wait = (next - Local::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait + std::time::Duration::from_millis(50)).await;
    }
}
