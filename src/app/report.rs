//! Reports: coverage by period and breakdown (JSON, CSV, Excel with Chinese headers, a
//! sheet per breakdown), and the three clears.

use chrono::NaiveDate;

use super::access::Caller;
use super::{App, AppError};
use crate::domain::access::Action;
use crate::domain::report::{Breakdown, CoverageRow, Period, TaskFact, coverage};
use crate::store::Clears;

/// The columns of a coverage report: CSV name (an interface) and Chinese header.
pub const COLUMNS: [(&str, &str); 20] = [
    ("key", "项目"),
    ("businesses", "主体数"),
    ("required", "应巡查次数"),
    ("done", "已巡查次数"),
    ("done_on_time", "按期完成"),
    ("on_time_rate", "按期率"),
    ("overdue_now", "当前逾期"),
    ("never_inspected", "从未检查主体"),
    ("covered", "达标主体"),
    ("coverage", "覆盖率"),
    ("visits", "巡查记录"),
    ("same_day_rate", "当日录入率"),
    ("findings", "发现问题"),
    ("notices_issued", "整改通知书"),
    ("follow_ups", "复查任务"),
    ("follow_ups_on_time", "按期复查"),
    ("targeted", "重点检查"),
    ("targeted_on_time", "按期办结"),
    ("hours_needed", "所需工时"),
    ("hours_available", "可用工时"),
];

/// The Chinese name of a breakdown (sheet names and the key column).
pub fn breakdown_label(by: Breakdown) -> &'static str {
    match by {
        Breakdown::Grid => "网格",
        Breakdown::Officer => "网格责任人",
        Breakdown::Area => "片区",
        Breakdown::Class => "风险等级",
        Breakdown::Industry => "行业",
        Breakdown::Business => "市场主体",
    }
}

fn cells(r: &CoverageRow) -> [String; 20] {
    let pct = |x: f64| format!("{:.4}", x);
    [
        r.key.clone(),
        r.businesses.to_string(),
        r.required.to_string(),
        r.done.to_string(),
        r.done_on_time.to_string(),
        pct(r.on_time_rate),
        r.overdue_now.to_string(),
        r.never_inspected.to_string(),
        r.covered.to_string(),
        pct(r.coverage),
        r.visits.to_string(),
        pct(r.same_day_rate),
        r.findings.to_string(),
        r.notices_issued.to_string(),
        r.follow_ups.to_string(),
        r.follow_ups_on_time.to_string(),
        r.targeted.to_string(),
        r.targeted_on_time.to_string(),
        format!("{:.1}", r.hours_needed),
        r.hours_available
            .map_or_else(String::new, |h| format!("{h:.1}")),
    ]
}

/// The facts of a report, narrowed to a drill-down's businesses and numbered into them.
struct Facts {
    places: Vec<crate::domain::report::Placement>,
    inspected: Vec<bool>,
    tasks: Vec<TaskFact>,
    visits: Vec<crate::domain::report::VisitFact>,
}

impl App {
    /// The facts of a region over a period; `within` keeps the businesses whose key of
    /// another breakdown has a value.
    fn facts(
        &self,
        db: &crate::store::Db<'_>,
        region: &str,
        period: Period,
        within: Option<(Breakdown, &str)>,
    ) -> Result<Facts, AppError> {
        if !db.region_codes()?.iter().any(|r| r == region) {
            return Err(crate::store::StoreError::NotFound(format!("region '{region}'")).into());
        }
        let facts = db.report_facts(region, period.from, period.to)?;
        let keep: Vec<bool> = facts
            .places
            .iter()
            .map(|p| within.is_none_or(|(b, v)| p.key(b) == v))
            .collect();
        // Renumber the kept businesses so the facts point into the narrowed list.
        let mut new_index = vec![usize::MAX; facts.places.len()];
        let mut places = Vec::new();
        let mut inspected = Vec::new();
        for (i, p) in facts.places.into_iter().enumerate() {
            if keep[i] {
                new_index[i] = places.len();
                places.push(p);
                inspected.push(facts.inspected[i]);
            }
        }
        let tasks: Vec<TaskFact> = facts
            .tasks
            .into_iter()
            .filter(|t| new_index[t.business] != usize::MAX)
            .map(|t| TaskFact {
                business: new_index[t.business],
                minutes: t
                    .class
                    .as_deref()
                    .and_then(|c| c.parse().ok())
                    .map_or(0, |c| self.policy.minutes_per_visit(c)),
                kind: t.kind,
                due_by: t.due_by,
                done_on: t.done_on,
            })
            .collect();
        let visits: Vec<_> = facts
            .visits
            .into_iter()
            .filter(|v| new_index[v.business] != usize::MAX)
            .map(|mut v| {
                v.business = new_index[v.business];
                v
            })
            .collect();
        Ok(Facts {
            places,
            inspected,
            tasks,
            visits,
        })
    }
}

impl App {
    /// A region's coverage over a period, by a breakdown; `within` narrows to the
    /// businesses whose key of another breakdown has a value (drill-down: a grid's officers,
    /// an officer's businesses).
    pub fn coverage_report(
        &self,
        caller: &Caller,
        region: &str,
        period: Period,
        by: Breakdown,
        within: Option<(Breakdown, &str)>,
    ) -> Result<Vec<CoverageRow>, AppError> {
        self.require(caller, Action::ReadReports)?;
        let store = self.open_store()?;
        let db = store.read();
        let facts = self.facts(&db, region, period, within)?;
        self.coverage_of(&db, region, period, &facts, by)
    }

    /// A coverage report from facts already read, with the officers' hours.
    fn coverage_of(
        &self,
        db: &crate::store::Db<'_>,
        region: &str,
        period: Period,
        facts: &Facts,
        by: Breakdown,
    ) -> Result<Vec<CoverageRow>, AppError> {
        let Facts {
            places,
            inspected,
            tasks,
            visits,
        } = facts;
        let mut rows = coverage(places, inspected, tasks, visits, by, self.clock.today());
        // Staffing: hours the officers have against hours the visits need.
        if matches!(by, Breakdown::Officer | Breakdown::Grid | Breakdown::Area) {
            let hours: std::collections::HashMap<String, f64> = db
                .officers(Some(region))?
                .into_iter()
                .map(|o| (o.id, o.hours_per_month * period.months()))
                .collect();
            // Each key's officers: the A-post officers of its grids.
            let mut officers_of: std::collections::HashMap<&str, std::collections::BTreeSet<&str>> =
                Default::default();
            for p in places {
                if !p.officer.is_empty() {
                    officers_of.entry(p.key(by)).or_default().insert(&p.officer);
                }
            }
            let all: std::collections::BTreeSet<&str> = places
                .iter()
                .map(|p| &*p.officer)
                .filter(|o| !o.is_empty())
                .collect();
            for row in &mut rows {
                let officers = if row.key == "total" {
                    Some(&all)
                } else {
                    officers_of.get(row.key.as_str())
                };
                row.hours_available =
                    officers.map(|set| set.iter().filter_map(|o| hours.get(*o)).sum());
            }
        }
        Ok(rows)
    }

    /// A coverage report as CSV (the column names of [`COLUMNS`]).
    pub fn coverage_csv(rows: &[CoverageRow]) -> String {
        let mut out = csv::Writer::from_writer(Vec::new());
        let _ = out.write_record(COLUMNS.iter().map(|(name, _)| *name));
        for r in rows {
            let _ = out.write_record(cells(r));
        }
        String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
    }

    /// A coverage report as an Excel workbook: one sheet per breakdown (the requested one
    /// first), Chinese headers.
    pub fn coverage_xlsx(
        &self,
        caller: &Caller,
        region: &str,
        period: Period,
        first: Breakdown,
        within: Option<(Breakdown, &str)>,
    ) -> Result<Vec<u8>, AppError> {
        use rust_xlsxwriter::{Format, Workbook};
        self.require(caller, Action::ReadReports)?;
        let mut book = Workbook::new();
        let bold = Format::new().set_bold();
        let order =
            std::iter::once(first).chain(Breakdown::ALL.into_iter().filter(|b| *b != first));
        for by in order {
            let rows = self.coverage_report(caller, region, period, by, within)?;
            let sheet = book.add_worksheet();
            let xl = |e: rust_xlsxwriter::XlsxError| AppError::Io(format!("excel: {e}"));
            sheet.set_name(breakdown_label(by)).map_err(xl)?;
            for (c, (_, header)) in COLUMNS.iter().enumerate() {
                let header = if c == 0 { breakdown_label(by) } else { header };
                sheet
                    .write_string_with_format(0, c as u16, header, &bold)
                    .map_err(xl)?;
            }
            for (r, row) in rows.iter().enumerate() {
                for (c, value) in cells(row).iter().enumerate() {
                    let (r, c) = (r as u32 + 1, c as u16);
                    match value.parse::<f64>() {
                        Ok(n) if c > 0 => sheet.write_number(r, c, n).map_err(xl)?,
                        _ => sheet.write_string(r, c, value).map_err(xl)?,
                    };
                }
            }
        }
        book.save_to_buffer()
            .map_err(|e| AppError::Io(format!("excel: {e}")))
    }

    /// The three clears of a region.
    pub fn clears(&self, caller: &Caller, region: &str) -> Result<Clears, AppError> {
        self.require(caller, Action::ReadReports)?;
        let store = self.open_store()?;
        if !store.read().region_codes()?.iter().any(|r| r == region) {
            return Err(crate::store::StoreError::NotFound(format!("region '{region}'")).into());
        }
        Ok(store.read().clears(region)?)
    }
}

/// Today's period of a kind, for defaults.
pub fn current_quarter(today: NaiveDate) -> Period {
    crate::domain::report::quarter_of(today)
}

/// One subject's assessment for a year.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AssessmentLine {
    pub subject: String,
    /// Scores of the quarters that have ended (Q1…Q4 in order; `None` not yet ended).
    pub quarters: [Option<f64>; 4],
    pub year_end: f64,
    pub score: f64,
    pub grade: crate::domain::assessment::Grade,
    pub veto: Vec<String>,
}

impl App {
    /// The year's assessment of a region's grids or officers: each quarter that has ended
    /// and the year to date scored by the efficacy method, combined with the policy's
    /// weights, graded, vetoes applied.
    pub fn assessment(
        &self,
        caller: &Caller,
        region: &str,
        year: i32,
        by: Breakdown,
    ) -> Result<Vec<AssessmentLine>, AppError> {
        use crate::domain::assessment::{grade, score, year_score};
        self.require(caller, Action::ReadReports)?;
        if !matches!(by, Breakdown::Grid | Breakdown::Officer | Breakdown::Area) {
            return Err(AppError::Invalid(
                "by: grids, officers or areas are assessed".into(),
            ));
        }
        let policy = &self.policy.assessment;
        let today = self.clock.today();
        let year_period: Period = year.to_string().parse().map_err(AppError::Invalid)?;
        let mut quarters: Vec<Option<Vec<CoverageRow>>> = Vec::new();
        for q in 1..=4 {
            let period: Period = format!("{year}-Q{q}").parse().map_err(AppError::Invalid)?;
            quarters.push(if period.to < today {
                Some(self.coverage_report(caller, region, period, by, None)?)
            } else {
                None
            });
        }
        let year_rows = self.coverage_report(caller, region, year_period, by, None)?;
        let vetoes = self.open_store()?.read().vetoes(region, year)?;
        Ok(year_rows
            .iter()
            .filter(|r| r.key != "total" && !r.key.is_empty())
            .map(|r| {
                let q: [Option<f64>; 4] = std::array::from_fn(|i| {
                    quarters[i].as_ref().and_then(|rows| {
                        rows.iter()
                            .find(|x| x.key == r.key && x.required > 0)
                            .map(|x| score(x, policy))
                    })
                });
                let year_end = score(r, policy);
                let done: Vec<f64> = q.iter().flatten().copied().collect();
                let total = year_score(&done, year_end, policy);
                let veto = vetoes.get(&r.key).cloned().unwrap_or_default();
                AssessmentLine {
                    subject: r.key.clone(),
                    quarters: q,
                    year_end,
                    score: total,
                    grade: grade(total, !veto.is_empty(), policy),
                    veto,
                }
            })
            .collect())
    }

    /// Flags a major incident against a grid or officer for a year (bureau heads): their
    /// assessment is unqualified whatever the score. Audited.
    pub fn set_veto(
        &self,
        caller: &Caller,
        region: &str,
        subject: &str,
        year: i32,
        reason: &str,
    ) -> Result<i64, AppError> {
        self.require(caller, Action::ManageInspections)?;
        if reason.trim().is_empty() {
            return Err(AppError::Invalid(
                "reason: a veto needs a written reason".into(),
            ));
        }
        if subject.trim().is_empty() {
            return Err(AppError::Invalid(
                "subject: a grid code or officer id".into(),
            ));
        }
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| -> Result<i64, AppError> {
            if !db.region_codes()?.iter().any(|r| r == region) {
                return Err(crate::store::StoreError::NotFound(format!("region '{region}'")).into());
            }
            let id = db.insert_veto(region, subject, year, reason, &caller.username, &at)?;
            db.audit(
                &at,
                &caller.username,
                "veto set",
                subject,
                &serde_json::json!({ "after": { "region": region, "year": year, "reason": reason } }),
            )?;
            Ok(id)
        })
    }

    /// Rankings of grids and officers over a period, as a bulletin names them.
    pub fn rankings(
        &self,
        caller: &Caller,
        region: &str,
        period: Period,
    ) -> Result<serde_json::Value, AppError> {
        self.require(caller, Action::ReadReports)?;
        let store = self.open_store()?;
        self.rankings_in(&store.read(), region, period)
    }

    /// [`App::rankings`] read through `db` (a snapshot reads them in its own transaction).
    pub(super) fn rankings_in(
        &self,
        db: &crate::store::Db<'_>,
        region: &str,
        period: Period,
    ) -> Result<serde_json::Value, AppError> {
        use crate::domain::assessment::rank;
        // One read of the facts for both rankings.
        let facts = self.facts(db, region, period, None)?;
        let grids = rank(
            &self.coverage_of(db, region, period, &facts, Breakdown::Grid)?,
            &self.policy.assessment,
        );
        let officers = rank(
            &self.coverage_of(db, region, period, &facts, Breakdown::Officer)?,
            &self.policy.assessment,
        );
        Ok(serde_json::json!({ "grids": grids, "officers": officers }))
    }
}

/// One month of a coverage trend: the region's total row over the month.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrendPoint {
    /// `2027-03`.
    pub month: String,
    pub required: usize,
    pub done: usize,
    pub coverage: f64,
    pub on_time_rate: f64,
}

impl App {
    /// Coverage month by month over the `months` months ending with today's, from one
    /// read of the facts.
    pub fn coverage_trend(
        &self,
        caller: &Caller,
        region: &str,
        months: u32,
    ) -> Result<Vec<TrendPoint>, AppError> {
        self.require(caller, Action::ReadReports)?;
        let (this_month, _) = super::schedule::month_of(self.clock.today());
        let firsts: Vec<NaiveDate> = (0..months)
            .rev()
            .filter_map(|back| this_month.checked_sub_months(chrono::Months::new(back)))
            .collect();
        let (Some(&first), Some(&last)) = (firsts.first(), firsts.last()) else {
            return Ok(Vec::new());
        };
        let span = Period {
            from: first,
            to: super::schedule::month_of(last).1,
        };
        let store = self.open_store()?;
        let facts = self.facts(&store.read(), region, span, None)?;
        Ok(firsts
            .into_iter()
            .filter_map(|first| {
                let (from, to) = super::schedule::month_of(first);
                let tasks: Vec<TaskFact> = facts
                    .tasks
                    .iter()
                    .filter(|t| from <= t.due_by && t.due_by <= to)
                    .cloned()
                    .collect();
                let visits: Vec<_> = facts
                    .visits
                    .iter()
                    .filter(|v| from <= v.date && v.date <= to)
                    .cloned()
                    .collect();
                let rows = coverage(
                    &facts.places,
                    &facts.inspected,
                    &tasks,
                    &visits,
                    Breakdown::Class,
                    self.clock.today(),
                );
                let total = rows.into_iter().find(|r| r.key == "total")?;
                Some(TrendPoint {
                    month: first.format("%Y-%m").to_string(),
                    required: total.required,
                    done: total.done,
                    coverage: total.coverage,
                    on_time_rate: total.on_time_rate,
                })
            })
            .collect())
    }

    /// The newest frozen snapshot of a kind (`dekad` or `month`) for a region: its first
    /// and last day and its body (figures and rankings).
    pub fn latest_bulletin(
        &self,
        caller: &Caller,
        kind: &str,
        region: &str,
    ) -> Result<Option<(NaiveDate, NaiveDate, serde_json::Value)>, AppError> {
        self.require(caller, Action::ReadReports)?;
        Ok(self.open_store()?.read().latest_snapshot(kind, region)?)
    }
}
