//! The patrol schedule (SPEC §5): calendar periods, the routine visits a class requires in
//! each, which visits satisfy them, due dates spread so an officer's days are even, and the
//! order of an officer's due list.
//!
//! Rules, as decided here: a class's frequency is `visits` per calendar `period`; several
//! visits split the period into that many equal windows (D's two monthly visits fall in the
//! two half-months). When the class changes, the new class's windows count from the window
//! that contains the change (visits already made in that window count); a window that had
//! started under the old class is still owed, so no obligation vanishes by a change; but a
//! window that contains another owed window is satisfied by that one's visit and is not asked
//! for twice.

use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;

use super::policy::{Frequency, PeriodKind, Policy, RiskClass};

/// Inclusive date range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Window {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl Window {
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.start <= d && d <= self.end
    }

    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

fn month_end(y: i32, m: u32) -> NaiveDate {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    ymd(ny, nm, 1).pred_opt().unwrap_or(NaiveDate::MIN)
}

/// The calendar period of `kind` that contains `date`.
pub fn period_of(kind: PeriodKind, date: NaiveDate) -> Window {
    let (y, m) = (date.year(), date.month());
    match kind {
        PeriodKind::HalfYear => {
            let first = if m <= 6 { 1 } else { 7 };
            Window {
                start: ymd(y, first, 1),
                end: month_end(y, first + 5),
            }
        }
        PeriodKind::Quarter => {
            let first = (m - 1) / 3 * 3 + 1;
            Window {
                start: ymd(y, first, 1),
                end: month_end(y, first + 2),
            }
        }
        PeriodKind::Month => Window {
            start: ymd(y, m, 1),
            end: month_end(y, m),
        },
        PeriodKind::HalfMonth => {
            if date.day() <= 15 {
                Window {
                    start: ymd(y, m, 1),
                    end: ymd(y, m, 15),
                }
            } else {
                Window {
                    start: ymd(y, m, 16),
                    end: month_end(y, m),
                }
            }
        }
    }
}

/// The windows of the visits a frequency requires in one period: the period split into
/// `visits` consecutive parts (a month with two visits: the 1st–15th and the 16th–end).
pub fn visit_windows(frequency: Frequency, period: Window) -> Vec<Window> {
    let v = i64::from(frequency.visits.max(1));
    let days = period.days();
    (0..v)
        .map(|i| {
            let from = period.start + chrono::Duration::days(days * i / v);
            let to = period.start + chrono::Duration::days(days * (i + 1) / v - 1);
            Window {
                start: from,
                end: to.max(from),
            }
        })
        .collect()
}

/// One routine visit a business owes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Obligation {
    pub window: Window,
    pub class: RiskClass,
    /// The visit that satisfies it, if one was made.
    pub satisfied_by: Option<NaiveDate>,
}

/// The routine visits owed between `from` and `to` (inclusive) under a class timeline
/// (`(first day, class)`, ascending), matched with the visits made: each visit satisfies at
/// most one obligation, the earliest-ending window it falls in.
pub fn obligations(
    timeline: &[(NaiveDate, RiskClass)],
    visits: &[NaiveDate],
    from: NaiveDate,
    to: NaiveDate,
    policy: &Policy,
) -> Vec<Obligation> {
    let mut owed: Vec<(Window, RiskClass)> = Vec::new();
    for (i, &(start, class)) in timeline.iter().enumerate() {
        let end = timeline
            .get(i + 1)
            .map_or(to, |&(next, _)| next.pred_opt().unwrap_or(next))
            .min(to);
        let start = start.max(from);
        if start > end {
            continue;
        }
        let frequency = policy.frequency(class);
        let mut day = start;
        while day <= end {
            let period = period_of(frequency.period, day);
            for w in visit_windows(frequency, period) {
                // From the window holding the change on; windows that began under the class.
                if w.end >= start && w.start <= end && w.start <= to && w.end >= from {
                    owed.push((w, class));
                }
            }
            day = period
                .end
                .checked_add_days(Days::new(1))
                .unwrap_or(NaiveDate::MAX);
        }
    }
    owed.sort_by_key(|(w, c)| (w.end, w.start, std::cmp::Reverse(*c)));
    owed.dedup_by_key(|(w, _)| *w);
    // A window that contains another owed window is satisfied by that window's visit: keep
    // only the innermost, so a class change never asks for two visits where one will do.
    let all: Vec<Window> = owed.iter().map(|(w, _)| *w).collect();
    owed.retain(|(w, _)| {
        !all.iter()
            .any(|o| o != w && w.start <= o.start && o.end <= w.end)
    });
    let mut used = vec![false; visits.len()];
    let mut sorted: Vec<(usize, NaiveDate)> = visits.iter().copied().enumerate().collect();
    sorted.sort_by_key(|&(_, d)| d);
    owed.into_iter()
        .map(|(window, class)| {
            let satisfied_by = sorted
                .iter()
                .find(|&&(i, d)| !used[i] && window.contains(d))
                .map(|&(i, d)| {
                    used[i] = true;
                    d
                });
            Obligation {
                window,
                class,
                satisfied_by,
            }
        })
        .collect()
}

/// Gives each task (its window, clipped to the plan) a due date so that the officer's daily
/// load is as even as the windows allow: tasks in order of deadline each take the least
/// loaded day of their window (the earliest of equals). Returns the due dates in task order.
pub fn spread_due_dates(windows: &[Window], plan: Window) -> Vec<NaiveDate> {
    spread_due_dates_onto(windows, plan, &[])
}

/// [`spread_due_dates`] onto days that already carry tasks: `initial[d]` tasks on the
/// plan's day `d` (missing days carry none).
pub fn spread_due_dates_onto(windows: &[Window], plan: Window, initial: &[u32]) -> Vec<NaiveDate> {
    let days = usize::try_from((plan.end - plan.start).num_days().max(0) + 1).unwrap_or(1);
    let offset = |d: NaiveDate| {
        usize::try_from((d - plan.start).num_days().max(0))
            .unwrap_or(0)
            .min(days - 1)
    };
    let mut load = DayLoad::new(days, initial);
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_unstable_by_key(|&i| (windows[i].end, windows[i].start, i));
    let mut due = vec![plan.start; windows.len()];
    for i in order {
        let w = windows[i];
        let (start, end) = (w.start.max(plan.start), w.end.min(plan.end));
        // A window wholly outside the plan is due on its nearest day inside it.
        let (first, last) = if start > end {
            (offset(end), offset(end))
        } else {
            (offset(start), offset(end))
        };
        let best = load.least_loaded(first, last);
        load.add(best);
        due[i] = plan
            .start
            .checked_add_days(chrono::Days::new(best as u64))
            .unwrap_or(plan.end);
    }
    due
}

/// Tasks per day of a plan, with the least loaded day of any range (the earliest of equals)
/// in logarithmic time: a segment tree of (load, day) minima.
struct DayLoad {
    size: usize,
    tree: Vec<(u32, usize)>,
}

impl DayLoad {
    fn new(days: usize, initial: &[u32]) -> Self {
        let size = days.next_power_of_two();
        let mut tree = vec![(u32::MAX, usize::MAX); 2 * size];
        for d in 0..days {
            tree[size + d] = (initial.get(d).copied().unwrap_or(0), d);
        }
        for n in (1..size).rev() {
            tree[n] = tree[2 * n].min(tree[2 * n + 1]);
        }
        DayLoad { size, tree }
    }

    fn add(&mut self, day: usize) {
        let mut n = self.size + day;
        self.tree[n].0 += 1;
        while n > 1 {
            n /= 2;
            self.tree[n] = self.tree[2 * n].min(self.tree[2 * n + 1]);
        }
    }

    /// The least loaded day in `first..=last`, the earliest of equals.
    fn least_loaded(&self, first: usize, last: usize) -> usize {
        let (mut lo, mut hi) = (first + self.size, last + self.size + 1);
        let mut best = (u32::MAX, usize::MAX);
        while lo < hi {
            if lo % 2 == 1 {
                best = best.min(self.tree[lo]);
                lo += 1;
            }
            if hi % 2 == 1 {
                hi -= 1;
                best = best.min(self.tree[hi]);
            }
            lo /= 2;
            hi /= 2;
        }
        best.1
    }
}

/// What kind of task an entry of a due list is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum TaskKind {
    Targeted,
    Special,
    FollowUp,
    Routine,
}

/// An entry of an officer's due list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DueItem<'a> {
    pub entity_id: &'a str,
    pub kind: TaskKind,
    pub due_on: NaiveDate,
    pub due_by: NaiveDate,
    pub class: RiskClass,
}

/// Orders a due list as SPEC §5 says: overdue first, then targeted, then by due date, then
/// by class D, C, B, A (then by id, so the order is total).
pub fn order_due_list(items: &mut [DueItem<'_>], today: NaiveDate) {
    items.sort_by(|a, b| due_list_cmp(a, b, today));
}

/// The due-list order of two entries (see [`order_due_list`]).
pub fn due_list_cmp(a: &DueItem<'_>, b: &DueItem<'_>, today: NaiveDate) -> std::cmp::Ordering {
    let overdue = |x: &DueItem<'_>| x.due_by < today;
    overdue(b)
        .cmp(&overdue(a))
        .then((b.kind == TaskKind::Targeted).cmp(&(a.kind == TaskKind::Targeted)))
        .then(a.due_on.cmp(&b.due_on))
        .then(b.class.cmp(&a.class))
        .then(a.entity_id.cmp(b.entity_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn periods_and_windows() {
        assert_eq!(
            period_of(PeriodKind::HalfYear, d("2026-08-03")),
            Window {
                start: d("2026-07-01"),
                end: d("2026-12-31")
            }
        );
        assert_eq!(
            period_of(PeriodKind::Quarter, d("2026-02-28")),
            Window {
                start: d("2026-01-01"),
                end: d("2026-03-31")
            }
        );
        let month = period_of(PeriodKind::Month, d("2028-02-10"));
        assert_eq!(month.end, d("2028-02-29"));
        let halves = visit_windows(
            Frequency {
                period: PeriodKind::Month,
                visits: 2,
            },
            period_of(PeriodKind::Month, d("2026-03-09")),
        );
        assert_eq!(
            halves,
            vec![
                Window {
                    start: d("2026-03-01"),
                    end: d("2026-03-15")
                },
                Window {
                    start: d("2026-03-16"),
                    end: d("2026-03-31")
                }
            ]
        );
    }

    #[test]
    fn a_year_of_each_class_owes_its_frequency() {
        let policy = Policy::default();
        for (class, expected) in [
            (RiskClass::A, 2),
            (RiskClass::B, 4),
            (RiskClass::C, 12),
            (RiskClass::D, 24),
        ] {
            let owed = obligations(
                &[(d("2026-01-01"), class)],
                &[],
                d("2026-01-01"),
                d("2026-12-31"),
                &policy,
            );
            assert_eq!(owed.len(), expected, "{class}");
        }
    }

    #[test]
    fn a_class_change_counts_from_the_current_window_with_visits_made() {
        let policy = Policy::default();
        // A until 2026-05-20, then D. A visit on 2026-05-18 counts for D's 16–31 May window.
        let timeline = [
            (d("2026-01-01"), RiskClass::A),
            (d("2026-05-20"), RiskClass::D),
        ];
        let owed = obligations(
            &timeline,
            &[d("2026-02-01"), d("2026-05-18")],
            d("2026-01-01"),
            d("2026-06-30"),
            &policy,
        );
        let d_windows: Vec<&Obligation> = owed.iter().filter(|o| o.class == RiskClass::D).collect();
        assert_eq!(d_windows.first().unwrap().window.start, d("2026-05-16"));
        assert_eq!(
            d_windows.first().unwrap().satisfied_by,
            Some(d("2026-05-18"))
        );
        assert_eq!(d_windows.len(), 3, "16–31 May, 1–15 June, 16–30 June");
        // A's half-year holds D's windows: their visits satisfy it, so it is not asked twice.
        assert!(owed.iter().all(|o| o.class == RiskClass::D), "{owed:?}");

        // B from 2026-02-10 on: B's quarters replace A's half-year.
        let owed = obligations(
            &[
                (d("2026-01-01"), RiskClass::A),
                (d("2026-02-10"), RiskClass::B),
            ],
            &[],
            d("2026-01-01"),
            d("2026-06-30"),
            &policy,
        );
        let windows: Vec<(NaiveDate, NaiveDate)> = owed
            .iter()
            .map(|o| (o.window.start, o.window.end))
            .collect();
        assert_eq!(
            windows,
            vec![
                (d("2026-01-01"), d("2026-03-31")),
                (d("2026-04-01"), d("2026-06-30"))
            ]
        );
    }

    #[test]
    fn due_dates_spread_evenly() {
        let month = Window {
            start: d("2026-03-01"),
            end: d("2026-03-31"),
        };
        let due = spread_due_dates(&vec![month; 62], month);
        let mut per_day = std::collections::HashMap::new();
        for day in &due {
            *per_day.entry(*day).or_insert(0) += 1;
        }
        assert_eq!(per_day.len(), 31);
        assert!(per_day.values().all(|&n| n == 2), "{per_day:?}");
    }

    proptest::proptest! {
        /// The segment tree picks exactly the day a scan of the window would: the least
        /// loaded, the earliest of equals; windows outside the plan go to its nearest end.
        #[test]
        fn the_day_tree_agrees_with_a_scan(
            spans in proptest::collection::vec((-20i64..80, 0i64..40), 1..120),
        ) {
            let plan = Window { start: d("2026-03-01"), end: d("2026-04-30") };
            let windows: Vec<Window> = spans
                .iter()
                .map(|&(s, len)| {
                    let start = plan.start + chrono::Duration::days(s);
                    Window { start, end: start + chrono::Duration::days(len) }
                })
                .collect();
            let mut order: Vec<usize> = (0..windows.len()).collect();
            order.sort_by_key(|&i| (windows[i].end, windows[i].start, i));
            let mut load = std::collections::HashMap::new();
            let mut expected = vec![plan.start; windows.len()];
            for i in order {
                let (s, e) = (windows[i].start.max(plan.start), windows[i].end.min(plan.end));
                let (s, e) = if s > e { (e.max(plan.start), e.max(plan.start)) } else { (s, e) };
                let best = s
                    .iter_days()
                    .take_while(|day| *day <= e)
                    .min_by_key(|day| load.get(day).copied().unwrap_or(0))
                    .unwrap_or(s);
                *load.entry(best).or_insert(0) += 1;
                expected[i] = best;
            }
            proptest::prop_assert_eq!(spread_due_dates(&windows, plan), expected);
        }
    }

    #[test]
    fn due_list_order() {
        let item = |id: &'static str, kind, due: &str, by: &str, class| DueItem {
            entity_id: id,
            kind,
            due_on: d(due),
            due_by: d(by),
            class,
        };
        let mut items = vec![
            item(
                "a",
                TaskKind::Routine,
                "2026-03-10",
                "2026-03-15",
                RiskClass::A,
            ),
            item(
                "b",
                TaskKind::Routine,
                "2026-03-10",
                "2026-03-15",
                RiskClass::D,
            ),
            item(
                "c",
                TaskKind::Targeted,
                "2026-03-12",
                "2026-03-17",
                RiskClass::B,
            ),
            item(
                "d",
                TaskKind::Routine,
                "2026-03-01",
                "2026-03-05",
                RiskClass::A,
            ),
        ];
        order_due_list(&mut items, d("2026-03-10"));
        let ids: Vec<&str> = items.iter().map(|i| i.entity_id).collect();
        assert_eq!(
            ids,
            vec!["d", "c", "b", "a"],
            "overdue, targeted, then due date and class D first"
        );
    }
}
