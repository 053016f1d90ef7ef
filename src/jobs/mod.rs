//! Scheduled work driven by cron expressions from the configuration. Jobs call the app and
//! hold no rules; each run is recorded, a missed run is caught up at start-up, and a slot
//! that already ran is never run again.

use std::sync::Arc;

use chrono::{Local, NaiveDateTime, TimeZone};
use cron::Schedule;

use crate::app::{App, AppError, ReclassifyReport};

pub const NIGHTLY_RECLASSIFY: &str = "nightly-reclassify";

/// The default schedule of the nightly re-classification: 02:00 every day.
pub const DEFAULT_NIGHTLY_CRON: &str = "0 0 2 * * *";

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

/// Runs the nightly re-classification for the latest slot if that slot has not run yet
/// (so a start-up after a missed night catches up once). Returns what it did, or `None`
/// when there was nothing to do.
pub fn run_nightly_if_due(
    app: &App,
    schedule: &Schedule,
) -> Result<Option<ReclassifyReport>, AppError> {
    let now = app.clock.now_local();
    let Some(slot) = latest_slot(schedule, now) else {
        return Ok(None);
    };
    let slot_text = slot.format("%Y-%m-%dT%H:%M:%S").to_string();
    let store = app.open_store()?;
    if store
        .last_job_run(NIGHTLY_RECLASSIFY)?
        .is_some_and(|last| last >= slot_text)
    {
        return Ok(None);
    }
    // Under a policy the last run did not use, every stored class may be stale.
    let fingerprint = crate::app::policy_fingerprint(&app.policy);
    let last_fingerprint = store
        .last_job_summary(NIGHTLY_RECLASSIFY)?
        .and_then(|s| s["policy_fingerprint"].as_str().map(str::to_owned));
    let everything = last_fingerprint.as_deref() != Some(fingerprint.as_str());
    let started = app.clock.stamp();
    let report = app.nightly_pass(slot.date(), everything)?;
    store.record_job_run(
        NIGHTLY_RECLASSIFY,
        &slot_text,
        &started,
        &app.clock.stamp(),
        &serde_json::to_value(&report).unwrap_or_default(),
    )?;
    tracing::info!(job = NIGHTLY_RECLASSIFY, slot = %slot_text, everything, examined = report.examined, changed = report.changed, lapsed = report.overrides_lapsed, "job ran");
    Ok(Some(report))
}

/// Runs the nightly job forever: catches up at once, then sleeps until each next slot.
pub async fn run_scheduler(app: Arc<App>, schedule: Schedule) {
    loop {
        let work_app = app.clone();
        let work_schedule = schedule.clone();
        match tokio::task::spawn_blocking(move || run_nightly_if_due(&work_app, &work_schedule))
            .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(job = NIGHTLY_RECLASSIFY, error = %e, "job failed; retried at the next slot")
            }
            Err(e) => tracing::error!(job = NIGHTLY_RECLASSIFY, error = %e, "job panicked"),
        }
        let Some(next) = schedule.upcoming(Local).next() else {
            return;
        };
        let wait = (next - Local::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait + std::time::Duration::from_millis(50)).await;
    }
}
