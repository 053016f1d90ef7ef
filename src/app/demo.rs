//! The demo's past: weeks of patrol work replayed through the real use cases, so that the
//! pages open on something to look at — visits on the due date (most of them), some missed
//! or made late, findings fixed on the spot, rectification notices with their follow-ups,
//! and the 旬 and monthly bulletins of the weeks gone by.
//!
//! Every visit goes through [`App::record_visit`] with the clock set to its day, as the
//! officer's phone would have sent it; nothing is written behind the use cases' backs.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{Days, NaiveDate};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::service::Caller;
use super::{App, AppError, Clock};
use crate::domain::access::UserRole;
use crate::domain::entity::Severity;
use crate::domain::inspection::{
    CHECKLIST, ChecklistItem, Finding, ItemResult, Rectification, Visit,
};

/// How the replayed officers behave. Demo make-believe, not rules: nothing here decides
/// what a real officer owes.
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    /// The first day replayed; the replay stops before `to`.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub seed: u64,
    /// The most an officer misses of their due visits (each officer draws their own share
    /// up to this).
    pub worst_miss_share: f64,
    /// Of the missed visits, the share made later.
    pub made_late_share: f64,
    /// Days late for those.
    pub days_late: u64,
    /// Visits with a minor problem fixed on the spot, and with a rectification notice.
    pub minor_share: f64,
    pub notice_share: f64,
    /// Days a rectification notice gives.
    pub notice_days: u64,
    /// Visits entered the next morning rather than the same day.
    pub entered_late_share: f64,
}

impl HistoryOptions {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Self {
        HistoryOptions {
            from,
            to,
            seed: 1,
            worst_miss_share: 0.35,
            made_late_share: 0.5,
            days_late: 4,
            minor_share: 0.08,
            notice_share: 0.03,
            notice_days: 10,
            entered_late_share: 0.06,
        }
    }
}

/// What the replay did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HistoryReport {
    pub visits: usize,
    pub late_visits: usize,
    pub missed: usize,
    pub findings: usize,
    pub notices: usize,
    /// Visits entered the day after they were made.
    pub entered_late: usize,
    /// Tasks nobody could take (no post holder, or no certified partner).
    pub unstaffed: usize,
    /// Visits the service refused.
    pub refused: usize,
    pub snapshots: usize,
}

/// The 12 items, all passed but for `failed`.
fn checklist(failed: Option<&str>) -> Vec<ChecklistItem> {
    CHECKLIST
        .iter()
        .map(|item| ChecklistItem {
            item: (*item).to_owned(),
            result: if failed == Some(*item) {
                ItemResult::Fail
            } else {
                ItemResult::Pass
            },
            note: String::new(),
        })
        .collect()
}

impl App {
    /// Replays the patrol work of a region from `options.from` to the day before
    /// `options.to` over the tasks planned for it, then freezes the bulletins of every
    /// 旬 and month that ended in the replay. The clock is put back afterwards.
    pub fn replay_history(
        &mut self,
        region: &str,
        options: &HistoryOptions,
    ) -> Result<HistoryReport, AppError> {
        let saved = self.clock;
        let result = self.replay(region, options);
        self.clock = saved;
        result
    }

    fn replay(&mut self, region: &str, o: &HistoryOptions) -> Result<HistoryReport, AppError> {
        let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
        let (tasks, certified) = {
            let store = self.open_store()?;
            let db = store.read();
            let certified: Vec<String> = db
                .officers(Some(region))?
                .into_iter()
                .filter(|x| x.certified)
                .map(|x| x.id)
                .collect();
            (db.live_open_tasks(region, o.from)?, certified)
        };
        let miss_share: HashMap<&str, f64> = certified
            .iter()
            .map(|id| {
                let u: f64 = rng.random();
                (id.as_str(), o.worst_miss_share * u * u)
            })
            .collect();
        // Day → the visits planned for it (entity, officer, partner).
        let mut by_day: BTreeMap<NaiveDate, Vec<(String, String, Option<String>)>> =
            BTreeMap::new();
        for t in tasks.iter().filter(|t| t.due_on < o.to) {
            by_day.entry(t.due_on).or_default().push((
                t.entity_id.clone(),
                t.officer_id.clone().unwrap_or_default(),
                t.partner_id.clone(),
            ));
        }
        let mut report = HistoryReport::default();
        let mut day = o.from;
        let same_day =
            |day: NaiveDate| Clock::Fixed(day.and_hms_opt(17, 30, 0).unwrap_or_default());
        let next_morning = |day: NaiveDate| {
            Clock::Fixed(
                day.succ_opt()
                    .and_then(|d| d.and_hms_opt(9, 0, 0))
                    .unwrap_or_default(),
            )
        };
        while day < o.to {
            let mut seen = HashSet::new();
            for (entity, officer, partner) in by_day.remove(&day).unwrap_or_default() {
                if !seen.insert(entity.clone()) {
                    continue; // one visit a day does whatever is due there
                }
                let Some(miss) = miss_share.get(officer.as_str()) else {
                    report.unstaffed += 1;
                    continue;
                };
                if rng.random::<f64>() < *miss {
                    report.missed += 1;
                    let later = day.checked_add_days(Days::new(o.days_late));
                    if let Some(later) = later.filter(|l| *l < o.to)
                        && rng.random::<f64>() < o.made_late_share
                    {
                        by_day
                            .entry(later)
                            .or_default()
                            .push((entity, officer, partner));
                        report.late_visits += 1;
                    }
                    continue;
                }
                let partner = partner
                    .filter(|p| certified.contains(p) && *p != officer)
                    .or_else(|| {
                        let i = certified.iter().position(|c| *c == officer)?;
                        Some(certified[(i + 1) % certified.len()].clone())
                    })
                    .filter(|p| *p != officer);
                let Some(partner) = partner else {
                    report.unstaffed += 1;
                    continue;
                };
                let roll: f64 = rng.random();
                let hour = rng.random_range(9..16);
                let mut visit = Visit {
                    entity_id: entity,
                    officers: vec![officer.clone(), partner],
                    visited_at: day.and_hms_opt(hour, 0, 0).unwrap_or_default(),
                    checklist: checklist(None),
                    findings: Vec::new(),
                    rectification: None,
                    warning: None,
                    photos: Vec::new(),
                    extra_items: Vec::new(),
                };
                if roll < o.notice_share {
                    visit.checklist = checklist(Some("product_quality_and_food_safety"));
                    visit.findings.push(Finding {
                        severity: Severity::General,
                        note: "进货查验记录不全".into(),
                        case: false,
                    });
                    visit.rectification = day
                        .checked_add_days(Days::new(o.notice_days))
                        .map(|deadline| Rectification::Notice { deadline });
                    report.notices += 1;
                    report.findings += 1;
                } else if roll < o.notice_share + o.minor_share {
                    visit.checklist = checklist(Some("licence_display"));
                    visit.findings.push(Finding {
                        severity: Severity::Minor,
                        note: "未亮照经营，已当场整改".into(),
                        case: false,
                    });
                    visit.rectification = Some(Rectification::OnTheSpot);
                    report.findings += 1;
                }
                self.clock = if rng.random::<f64>() < o.entered_late_share {
                    report.entered_late += 1;
                    next_morning(day)
                } else {
                    same_day(day)
                };
                let caller = Caller {
                    user_id: 0,
                    username: officer.clone(),
                    role: UserRole::Officer,
                    officer_id: Some(officer),
                };
                match self.record_visit(&caller, visit, None) {
                    Ok(_) => report.visits += 1,
                    // A visit the service refuses (a region whose posts leave a task with
                    // someone no longer on its grid) is counted, not fatal to the demo.
                    Err(AppError::Forbidden(_) | AppError::Invalid(_)) => report.refused += 1,
                    Err(e) => return Err(e),
                }
            }
            day = day.succ_opt().unwrap_or(o.to);
        }
        // The bulletins of every 旬 and month that ended in the replay.
        let mut day = o.from;
        while day < o.to {
            for (kind, period) in [
                ("dekad", super::schedule::dekad_of(day)),
                ("month", super::schedule::month_of(day)),
            ] {
                if period.1 == day && period.0 >= o.from {
                    self.clock = Clock::fixed_on(day.succ_opt().unwrap_or(day));
                    report.snapshots += self
                        .take_snapshots(&Caller::command_line("demo"), kind, period)?
                        .len();
                }
            }
            day = day.succ_opt().unwrap_or(o.to);
        }
        Ok(report)
    }
}
