//! Risk classification A/B/C/D (SPEC §4): a pure function of a business, its records,
//! the as-of date and the policy, with the reasons that decided it and the date on which
//! time alone would change it.

use std::fmt;

use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;

use super::entity::{Business, Licence, Outcome, Records, ReportResult};
use super::policy::{ClassificationPolicy, Policy, RiskClass};

/// The class of a business with its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    pub class: RiskClass,
    /// The rules that fired for `class` (every one of them, in rule order), with the records
    /// that fired them; for A, why nothing fired.
    pub reasons: Vec<Reason>,
    /// The first day after `as_of` on which the class changes with no new record,
    /// because a record leaves its window or an annual report falls due.
    pub changes_on: Option<NaiveDate>,
    /// The first day after `as_of` on which a record enters or leaves a window, so that the
    /// reasons (and perhaps the class) read differently: when a stored classification must
    /// be recomputed. Never later than `changes_on`.
    pub review_on: Option<NaiveDate>,
}

/// One rule that fired, with its evidence. `Display` gives the text shown to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Reason {
    /// D: unlicensed, or the licence is suspended, revoked or deregistered.
    Licence { licence: Licence },
    /// D: a serious violation in the window that led to suspension or revocation.
    SeriousViolation {
        date: NaiveDate,
        suspended: bool,
        revoked: bool,
    },
    /// D: concentrated substantiated complaints.
    Complaints {
        count: u32,
        window_days: i64,
        first: NaiveDate,
        last: NaiveDate,
    },
    /// D: an officer recorded refusal to cooperate (不服管理).
    Refusal { date: NaiveDate },
    /// D: repeat offender.
    RepeatOffender {
        count: u32,
        window_days: i64,
        last: NaiveDate,
    },
    /// C: key industry with a violation in the window.
    KeyIndustryViolation {
        industry: String,
        count: u32,
        last: NaiveDate,
    },
    /// B: a violation in the window.
    Violation { count: u32, last: NaiveDate },
    /// B: an annual report due in the window has not passed.
    AnnualReport {
        year: i32,
        result: ReportResult,
        due: NaiveDate,
    },
    /// A: nothing in the window.
    Clean { window_days: i64 },
    /// A note: reports due in the window with no row; not held against the business.
    NoReportOnRecord { years: Vec<i32> },
}

impl Reason {
    /// A short stable name of the rule.
    pub fn rule(&self) -> &'static str {
        match self {
            Reason::Licence { .. } => "D-licence",
            Reason::SeriousViolation { .. } => "D-serious",
            Reason::Complaints { .. } => "D-complaints",
            Reason::Refusal { .. } => "D-refusal",
            Reason::RepeatOffender { .. } => "D-repeat",
            Reason::KeyIndustryViolation { .. } => "C-key-industry",
            Reason::Violation { .. } => "B-violation",
            Reason::AnnualReport { .. } => "B-annual-report",
            Reason::Clean { .. } => "A-clean",
            Reason::NoReportOnRecord { .. } => "note",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.rule())?;
        match self {
            Reason::Licence {
                licence: Licence::Unlicensed,
            } => write!(f, "operating without a licence"),
            Reason::Licence {
                licence: Licence::Suspended,
            } => write!(f, "licence suspended (ordered to stop business)"),
            Reason::Licence { licence } => {
                write!(f, "licence {licence}, still on the register (unlicensed)")
            }
            Reason::SeriousViolation {
                date,
                suspended,
                revoked,
            } => {
                let led_to = match (suspended, revoked) {
                    (true, true) => "suspension and revocation",
                    (false, true) => "revocation",
                    _ => "suspension",
                };
                write!(f, "serious violation on {date} led to {led_to}")
            }
            Reason::Complaints {
                count,
                window_days,
                first,
                last,
            } => {
                write!(
                    f,
                    "{count} substantiated complaints in {window_days} days ({first} to {last})"
                )
            }
            Reason::Refusal { date } => {
                write!(f, "refused to cooperate with an inspection on {date}")
            }
            Reason::RepeatOffender {
                count,
                window_days,
                last,
            } => {
                write!(
                    f,
                    "{count} violation records in {window_days} days (last {last})"
                )
            }
            Reason::KeyIndustryViolation {
                industry,
                count,
                last,
            } => {
                write!(
                    f,
                    "key industry '{industry}' with {count} violation record(s) (last {last})"
                )
            }
            Reason::Violation { count, last } => {
                write!(f, "{count} violation record(s) in the window (last {last})")
            }
            Reason::AnnualReport { year, result, due } => {
                let what = if *result == ReportResult::Missing {
                    "not filed"
                } else {
                    "failed"
                };
                write!(f, "annual report {year} (due {due}) {what}")
            }
            Reason::Clean { window_days } => {
                write!(
                    f,
                    "no violation in {window_days} days and no annual report due in them failed or missing"
                )
            }
            Reason::NoReportOnRecord { years } => {
                let years: Vec<String> = years.iter().map(i32::to_string).collect();
                write!(
                    f,
                    "no annual report on record for {} (not held against it)",
                    years.join(", ")
                )
            }
        }
    }
}

/// Joins reasons the way the command line and exports print them.
pub fn reasons_text(reasons: &[Reason]) -> String {
    let mut text = String::new();
    for (i, r) in reasons.iter().enumerate() {
        if i > 0 {
            text.push_str("; ");
        }
        use fmt::Write;
        let _ = write!(text, "{r}");
    }
    text
}

/// Is `date` inside the window of `days` that ends on `as_of`: `as_of − days < date ≤ as_of`.
fn in_window(date: NaiveDate, as_of: NaiveDate, days: i64) -> bool {
    date <= as_of && (as_of - date).num_days() < days
}

fn add_days(date: NaiveDate, days: i64) -> NaiveDate {
    date.checked_add_days(Days::new(days.max(0) as u64))
        .unwrap_or(NaiveDate::MAX)
}

/// The due date of the annual report for `year`, by policy.
pub fn annual_report_due(year: i32, policy: &ClassificationPolicy) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        year.checked_add(1)?,
        policy.annual_report_due_month,
        policy.annual_report_due_day,
    )
}

/// Whether a business owes the report for `year`: one registered after that year is too new.
fn owes_report(business: &Business, year: i32) -> bool {
    business.registered_on.is_none_or(|d| d.year() <= year)
}

/// Classifies a business as of a date. Pure: the same inputs give the same answer.
pub fn classify(
    business: &Business,
    records: &Records,
    as_of: NaiveDate,
    policy: &Policy,
) -> Classification {
    let p = &policy.classification;
    let (class, reasons) = evaluate::<true>(business, records, as_of, p);
    let candidates = window_events(business, records, as_of, p);
    let review_on = candidates.first().copied();
    let changes_on = candidates
        .into_iter()
        .find(|&day| evaluate::<false>(business, records, day, p).0 != class);
    Classification {
        class,
        reasons,
        changes_on,
        review_on,
    }
}

/// The class alone, without reasons or the change date: the fast path for bulk work.
pub fn class_only(
    business: &Business,
    records: &Records,
    as_of: NaiveDate,
    policy: &Policy,
) -> RiskClass {
    evaluate::<false>(business, records, as_of, &policy.classification).0
}

/// Dates after `as_of` on which some record enters or leaves a window, ascending.
fn window_events(
    business: &Business,
    records: &Records,
    as_of: NaiveDate,
    p: &ClassificationPolicy,
) -> Vec<NaiveDate> {
    let mut candidates: Vec<NaiveDate> = Vec::new();
    let mut push_window = |date: NaiveDate, days: i64| {
        if date > as_of {
            candidates.push(date);
        } else if in_window(date, as_of, days) {
            candidates.push(add_days(date, days));
        }
    };
    for v in &records.violations {
        push_window(v.date, p.window_days);
    }
    for c in records.complaints.iter().filter(|c| c.substantiated) {
        push_window(c.date, p.complaint_window_days);
    }
    for i in records
        .inspections
        .iter()
        .filter(|i| i.outcome == Outcome::Refused)
    {
        push_window(i.date, p.window_days);
    }
    for r in &records.annual_reports {
        if r.result != ReportResult::Pass
            && owes_report(business, r.year)
            && let Some(due) = annual_report_due(r.year, p)
        {
            push_window(due, p.window_days);
        }
    }
    // Years owed with no report on record: the note naming them reads differently when
    // one falls due or leaves the window.
    let first_year = as_of.year() - 1 - (p.window_days / 365 + 1) as i32;
    for year in first_year..=as_of.year() {
        if owes_report(business, year)
            && !records.annual_reports.iter().any(|r| r.year == year)
            && let Some(due) = annual_report_due(year, p)
        {
            push_window(due, p.window_days);
        }
    }
    candidates.sort_unstable();
    candidates.dedup();
    candidates
}

/// Rules top-down as SPEC §4 orders them; the first class with a rule that fires wins.
/// With `REASONS` every rule of that class is explained; without, it stops at the first.
fn evaluate<const REASONS: bool>(
    business: &Business,
    records: &Records,
    as_of: NaiveDate,
    p: &ClassificationPolicy,
) -> (RiskClass, Vec<Reason>) {
    let mut reasons = Vec::new();
    macro_rules! fired {
        ($reason:expr) => {{
            if !REASONS {
                return (RiskClass::D, reasons);
            }
            reasons.push($reason);
        }};
    }

    // Class D.
    if business.licence != Licence::Licensed {
        fired!(Reason::Licence {
            licence: business.licence
        });
    }
    let mut violations_in_window = 0u32;
    let mut last_violation: Option<NaiveDate> = None;
    for v in records
        .violations
        .iter()
        .filter(|v| in_window(v.date, as_of, p.window_days))
    {
        violations_in_window += 1;
        last_violation = last_violation.max(Some(v.date));
    }
    if REASONS || violations_in_window > 0 {
        for v in &records.violations {
            if v.severity == super::entity::Severity::Serious
                && (v.suspended || v.revoked)
                && in_window(v.date, as_of, p.window_days)
            {
                fired!(Reason::SeriousViolation {
                    date: v.date,
                    suspended: v.suspended,
                    revoked: v.revoked
                });
            }
        }
    }
    let mut complaints = 0u32;
    let mut first_complaint = NaiveDate::MAX;
    let mut last_complaint = NaiveDate::MIN;
    for c in &records.complaints {
        if c.substantiated && in_window(c.date, as_of, p.complaint_window_days) {
            complaints += 1;
            first_complaint = first_complaint.min(c.date);
            last_complaint = last_complaint.max(c.date);
        }
    }
    if complaints >= p.complaint_threshold {
        fired!(Reason::Complaints {
            count: complaints,
            window_days: p.complaint_window_days,
            first: first_complaint,
            last: last_complaint,
        });
    }
    for i in &records.inspections {
        if i.outcome == Outcome::Refused && in_window(i.date, as_of, p.window_days) {
            fired!(Reason::Refusal { date: i.date });
        }
    }
    if let Some(last) = last_violation
        && violations_in_window >= p.repeat_offender_violations
    {
        fired!(Reason::RepeatOffender {
            count: violations_in_window,
            window_days: p.window_days,
            last
        });
    }
    if !reasons.is_empty() {
        return (RiskClass::D, reasons);
    }

    // Class C.
    if let Some(last) = last_violation
        && p.is_key_industry(&business.industry)
    {
        if REASONS {
            reasons.push(Reason::KeyIndustryViolation {
                industry: business.industry.clone(),
                count: violations_in_window,
                last,
            });
        }
        return (RiskClass::C, reasons);
    }

    // Class B, and the notes on reports A and B share.
    let mut unrecorded_years = Vec::new();
    if let Some(last) = last_violation {
        if !REASONS {
            return (RiskClass::B, reasons);
        }
        reasons.push(Reason::Violation {
            count: violations_in_window,
            last,
        });
    }
    for r in &records.annual_reports {
        if r.result == ReportResult::Pass || !owes_report(business, r.year) {
            continue;
        }
        let Some(due) = annual_report_due(r.year, p) else {
            continue;
        };
        if in_window(due, as_of, p.window_days) {
            if !REASONS {
                return (RiskClass::B, reasons);
            }
            reasons.push(Reason::AnnualReport {
                year: r.year,
                result: r.result,
                due,
            });
        }
    }
    if REASONS {
        // Years whose report fell due in the window, that the business owed, with no row.
        let first_year = as_of.year() - 1 - (p.window_days / 365 + 1) as i32;
        for year in first_year..as_of.year() {
            let Some(due) = annual_report_due(year, p) else {
                continue;
            };
            if in_window(due, as_of, p.window_days)
                && owes_report(business, year)
                && !records.annual_reports.iter().any(|r| r.year == year)
            {
                unrecorded_years.push(year);
            }
        }
    }
    let class = if reasons.is_empty() {
        reasons.push(Reason::Clean {
            window_days: p.window_days,
        });
        RiskClass::A
    } else {
        RiskClass::B
    };
    if !unrecorded_years.is_empty() {
        reasons.push(Reason::NoReportOnRecord {
            years: unrecorded_years,
        });
    }
    (class, reasons)
}
