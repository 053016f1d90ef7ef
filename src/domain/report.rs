//! Coverage reports (SPEC §7): for a period and a breakdown (grid, officer, area, class,
//! industry, business), what was required, what was done and how well. Pure arithmetic over
//! facts the store hands in.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

/// A reporting period: 旬, month, quarter, half-year or year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl std::str::FromStr for Period {
    type Err = String;

    /// `2027` (year), `2027-H1`, `2027-Q3`, `2027-03` (month), `2027-03-D2` (the second 旬:
    /// 11th–20th).
    fn from_str(text: &str) -> Result<Self, String> {
        let bad =
            || format!("'{text}' is not a period (2027, 2027-H1, 2027-Q1, 2027-03 or 2027-03-D1)");
        let parts: Vec<&str> = text.trim().split('-').collect();
        let year: i32 = parts
            .first()
            .filter(|y| y.len() == 4)
            .and_then(|y| y.parse().ok())
            .ok_or_else(bad)?;
        let ymd = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d).ok_or_else(bad);
        let month_end = |m: u32| -> Result<NaiveDate, String> {
            let first = ymd(m, 1)?;
            Ok(first
                .checked_add_months(chrono::Months::new(1))
                .and_then(|d| d.pred_opt())
                .unwrap_or(first))
        };
        let (from, to) = match parts.as_slice() {
            [_] => (ymd(1, 1)?, ymd(12, 31)?),
            [_, h] if h.eq_ignore_ascii_case("H1") => (ymd(1, 1)?, ymd(6, 30)?),
            [_, h] if h.eq_ignore_ascii_case("H2") => (ymd(7, 1)?, ymd(12, 31)?),
            [_, q] if q.len() == 2 && q.to_ascii_uppercase().starts_with('Q') => {
                let n: u32 = q[1..]
                    .parse()
                    .ok()
                    .filter(|n| (1..=4).contains(n))
                    .ok_or_else(bad)?;
                (ymd(3 * n - 2, 1)?, month_end(3 * n)?)
            }
            [_, m] if m.len() == 2 => {
                let m: u32 = m.parse().map_err(|_| bad())?;
                (ymd(m, 1)?, month_end(m)?)
            }
            [_, m, d]
                if m.len() == 2 && d.len() == 2 && d.to_ascii_uppercase().starts_with('D') =>
            {
                let m: u32 = m.parse().map_err(|_| bad())?;
                match &d[1..] {
                    "1" => (ymd(m, 1)?, ymd(m, 10)?),
                    "2" => (ymd(m, 11)?, ymd(m, 20)?),
                    "3" => (ymd(m, 21)?, month_end(m)?),
                    _ => return Err(bad()),
                }
            }
            _ => return Err(bad()),
        };
        Ok(Period { from, to })
    }
}

impl Period {
    /// Months in the period (for hours: `hours_per_month` × months).
    pub fn months(&self) -> f64 {
        ((self.to - self.from).num_days() + 1) as f64 / 30.44
    }

    /// The period's label as it was written (the canonical form).
    pub fn label(&self) -> String {
        format!("{}..{}", self.from, self.to)
    }
}

/// What a report is broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Breakdown {
    Grid,
    Officer,
    Area,
    Class,
    Industry,
    Business,
}

impl Breakdown {
    pub const ALL: [Breakdown; 6] = [
        Breakdown::Grid,
        Breakdown::Officer,
        Breakdown::Area,
        Breakdown::Class,
        Breakdown::Industry,
        Breakdown::Business,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Breakdown::Grid => "grid",
            Breakdown::Officer => "officer",
            Breakdown::Area => "area",
            Breakdown::Class => "class",
            Breakdown::Industry => "industry",
            Breakdown::Business => "business",
        }
    }
}

impl std::str::FromStr for Breakdown {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Breakdown::ALL
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| {
                format!("'{s}' is not a breakdown (grid, officer, area, class, industry, business)")
            })
    }
}

/// Where a business stands: the keys of every breakdown. The keys other than the
/// business's own are shared by many businesses: a report over a million holds each once.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Placement {
    pub entity_id: String,
    pub grid: Arc<str>,
    /// The grid's A-post officer.
    pub officer: Arc<str>,
    pub area: Arc<str>,
    pub class: Arc<str>,
    pub industry: Arc<str>,
}

impl Placement {
    pub fn key(&self, by: Breakdown) -> &str {
        match by {
            Breakdown::Grid => &self.grid,
            Breakdown::Officer => &self.officer,
            Breakdown::Area => &self.area,
            Breakdown::Class => &self.class,
            Breakdown::Industry => &self.industry,
            Breakdown::Business => &self.entity_id,
        }
    }
}

/// A task whose deadline falls in the period (cancelled ones are not required).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFact {
    /// Index into the placements.
    pub business: usize,
    /// routine, special, targeted or follow_up.
    pub kind: String,
    pub due_by: NaiveDate,
    /// The day of the visit that closed it, if one did.
    pub done_on: Option<NaiveDate>,
    /// Minutes the visit takes (policy, by the business's class).
    pub minutes: u32,
}

/// A visit recorded in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitFact {
    pub business: usize,
    pub date: NaiveDate,
    /// Entered the same day (`None` for imported records, which are not counted).
    pub same_day: Option<bool>,
    /// Findings, a rectification notice or a case.
    pub finding: bool,
    /// A rectification notice was issued.
    pub notice: bool,
}

/// One line of a coverage report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoverageRow {
    pub key: String,
    pub businesses: usize,
    pub required: usize,
    pub done: usize,
    pub done_on_time: usize,
    /// `done_on_time ÷ required` (1 when nothing was required).
    pub on_time_rate: f64,
    /// Required, still open and past their deadline on the report day.
    pub overdue_now: usize,
    /// Businesses with no inspection on record at all.
    pub never_inspected: usize,
    /// Businesses with something required whose every requirement was done.
    pub covered: usize,
    /// `covered ÷` businesses with something required (1 when none had).
    pub coverage: f64,
    pub visits: usize,
    /// Share of visits entered the day they were made (of those entered in the app).
    pub same_day_rate: f64,
    pub findings: usize,
    pub notices_issued: usize,
    /// Follow-ups of notices due in the period, and those done by their deadline.
    pub follow_ups: usize,
    pub follow_ups_on_time: usize,
    /// Targeted visits (complaints and leads) due in the period, and those done in time.
    pub targeted: usize,
    pub targeted_on_time: usize,
    /// Hours the required visits need.
    pub hours_needed: f64,
    /// Patrol hours the officers have in the period (by officer: theirs; by grid: the
    /// A-post officer's; by area: the grids' A-post officers'); `None` where it has no
    /// meaning (class, industry, business).
    pub hours_available: Option<f64>,
}

fn rate(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

/// Adds up a coverage report: one row per key of `by` (sorted), plus a total row keyed
/// `"total"`. `inspected` tells, per business, whether any inspection is on record.
pub fn coverage(
    places: &[Placement],
    inspected: &[bool],
    tasks: &[TaskFact],
    visits: &[VisitFact],
    by: Breakdown,
    today: NaiveDate,
) -> Vec<CoverageRow> {
    #[derive(Default)]
    struct Acc {
        businesses: usize,
        never: usize,
        required: usize,
        done: usize,
        on_time: usize,
        overdue: usize,
        visits: usize,
        app_visits: usize,
        same_day: usize,
        findings: usize,
        notices: usize,
        follow_ups: usize,
        follow_ups_on_time: usize,
        targeted: usize,
        targeted_on_time: usize,
        minutes: u64,
        owed: usize,
        covered: usize,
    }
    // Per business: (required, done).
    let mut per_business = vec![(0usize, 0usize); places.len()];
    let mut groups: BTreeMap<&str, Acc> = BTreeMap::new();
    let mut total = Acc::default();
    let mut each = |b: usize, f: &mut dyn FnMut(&mut Acc)| {
        f(groups.entry(places[b].key(by)).or_default());
        f(&mut total);
    };
    for b in 0..places.len() {
        let never = !inspected.get(b).copied().unwrap_or(false);
        each(b, &mut |a| {
            a.businesses += 1;
            a.never += usize::from(never);
        });
    }
    for t in tasks {
        let on_time = t.done_on.is_some_and(|d| d <= t.due_by);
        let overdue = t.done_on.is_none() && t.due_by < today;
        per_business[t.business].0 += 1;
        per_business[t.business].1 += usize::from(t.done_on.is_some());
        each(t.business, &mut |a| {
            a.required += 1;
            a.done += usize::from(t.done_on.is_some());
            a.on_time += usize::from(on_time);
            a.overdue += usize::from(overdue);
            a.minutes += u64::from(t.minutes);
            if t.kind == "follow_up" {
                a.follow_ups += 1;
                a.follow_ups_on_time += usize::from(on_time);
            }
            if t.kind == "targeted" {
                a.targeted += 1;
                a.targeted_on_time += usize::from(on_time);
            }
        });
    }
    for (b, &(required, done)) in per_business.iter().enumerate() {
        if required > 0 {
            each(b, &mut |a| {
                a.owed += 1;
                a.covered += usize::from(done == required);
            });
        }
    }
    for v in visits {
        each(v.business, &mut |a| {
            a.visits += 1;
            if let Some(same) = v.same_day {
                a.app_visits += 1;
                a.same_day += usize::from(same);
            }
            a.findings += usize::from(v.finding);
            a.notices += usize::from(v.notice);
        });
    }
    let row = |key: String, a: &Acc| CoverageRow {
        key,
        businesses: a.businesses,
        required: a.required,
        done: a.done,
        done_on_time: a.on_time,
        on_time_rate: rate(a.on_time, a.required),
        overdue_now: a.overdue,
        never_inspected: a.never,
        covered: a.covered,
        coverage: rate(a.covered, a.owed),
        visits: a.visits,
        same_day_rate: rate(a.same_day, a.app_visits),
        findings: a.findings,
        notices_issued: a.notices,
        follow_ups: a.follow_ups,
        follow_ups_on_time: a.follow_ups_on_time,
        targeted: a.targeted,
        targeted_on_time: a.targeted_on_time,
        hours_needed: a.minutes as f64 / 60.0,
        hours_available: None,
    };
    let mut rows: Vec<CoverageRow> = groups
        .iter()
        .map(|(k, a)| row((*k).to_owned(), a))
        .collect();
    rows.push(row("total".into(), &total));
    rows
}

/// The quarter a day is in, as a period.
pub fn quarter_of(day: NaiveDate) -> Period {
    let q = (day.month() - 1) / 3 + 1;
    format!("{}-Q{q}", day.year())
        .parse()
        .unwrap_or(Period { from: day, to: day })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn periods_parse_and_name_the_mistake() {
        let p = |s: &str| {
            s.parse::<Period>()
                .map(|p| (p.from.to_string(), p.to.to_string()))
        };
        assert_eq!(p("2027"), Ok(("2027-01-01".into(), "2027-12-31".into())));
        assert_eq!(p("2027-H2"), Ok(("2027-07-01".into(), "2027-12-31".into())));
        assert_eq!(p("2027-Q1"), Ok(("2027-01-01".into(), "2027-03-31".into())));
        assert_eq!(p("2028-02"), Ok(("2028-02-01".into(), "2028-02-29".into())));
        assert_eq!(
            p("2027-02-D3"),
            Ok(("2027-02-21".into(), "2027-02-28".into()))
        );
        assert_eq!(
            p("2027-05-D2"),
            Ok(("2027-05-11".into(), "2027-05-20".into()))
        );
        for bad in ["2027-Q5", "27-Q1", "2027-13", "2027-03-D4", "spring"] {
            assert!(p(bad).unwrap_err().contains("is not a period"), "{bad}");
        }
        assert_eq!(quarter_of(d("2027-08-15")), "2027-Q3".parse().unwrap());
    }

    /// A worked example: two grids, three businesses, five tasks, three visits.
    #[test]
    fn coverage_adds_up_a_worked_example() {
        let place = |id: &str, grid: &str, class: &str| Placement {
            entity_id: id.into(),
            grid: grid.into(),
            officer: format!("O-{grid}").into(),
            area: "A1".into(),
            class: class.into(),
            industry: "food".into(),
        };
        let places = vec![
            place("b1", "G1", "D"),
            place("b2", "G1", "A"),
            place("b3", "G2", "C"),
        ];
        let inspected = vec![true, false, true];
        let task = |business, kind: &str, due: &str, done: Option<&str>, minutes| TaskFact {
            business,
            kind: kind.into(),
            due_by: d(due),
            done_on: done.map(d),
            minutes,
        };
        let tasks = vec![
            task(0, "routine", "2027-01-15", Some("2027-01-10"), 60),
            task(0, "routine", "2027-01-31", Some("2027-02-02"), 60), // late
            task(0, "targeted", "2027-01-20", Some("2027-01-18"), 60),
            task(1, "routine", "2027-01-31", None, 30), // overdue on the report day
            task(2, "follow_up", "2027-02-10", None, 50), // not yet due
        ];
        let visits = vec![
            VisitFact {
                business: 0,
                date: d("2027-01-18"),
                same_day: Some(true),
                finding: true,
                notice: true,
            },
            VisitFact {
                business: 0,
                date: d("2027-02-02"),
                same_day: Some(false),
                finding: false,
                notice: false,
            },
            VisitFact {
                business: 2,
                date: d("2027-01-05"),
                same_day: None,
                finding: false,
                notice: false,
            },
        ];
        let rows = coverage(
            &places,
            &inspected,
            &tasks,
            &visits,
            Breakdown::Grid,
            d("2027-02-05"),
        );
        let g1 = &rows[0];
        assert_eq!(
            (
                g1.key.as_str(),
                g1.businesses,
                g1.required,
                g1.done,
                g1.done_on_time
            ),
            ("G1", 2, 4, 3, 2)
        );
        assert_eq!(g1.on_time_rate, 0.5);
        assert_eq!(g1.overdue_now, 1);
        assert_eq!(g1.never_inspected, 1);
        // b1 met all three of its tasks; b2 missed its only one: 1 of 2 covered.
        assert_eq!((g1.covered, g1.coverage), (1, 0.5));
        assert_eq!(
            (g1.visits, g1.same_day_rate, g1.findings, g1.notices_issued),
            (2, 0.5, 1, 1)
        );
        assert_eq!((g1.targeted, g1.targeted_on_time), (1, 1));
        assert_eq!(g1.hours_needed, 3.5);
        let g2 = &rows[1];
        assert_eq!(
            (g2.required, g2.overdue_now, g2.follow_ups, g2.coverage),
            (1, 0, 1, 0.0)
        );
        assert_eq!(g2.same_day_rate, 1.0, "imported visits are not counted");
        let total = rows.last().unwrap();
        assert_eq!(
            (
                total.key.as_str(),
                total.businesses,
                total.required,
                total.done
            ),
            ("total", 3, 5, 3)
        );
        assert!((total.coverage - 1.0 / 3.0).abs() < 1e-12);
    }
}
