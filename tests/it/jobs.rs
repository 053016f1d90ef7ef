//! The scheduled jobs, driven by an injected clock: the nightly re-plan, overdue escalation
//! to the area deputy, 旬 and monthly snapshots; idempotent, and caught up after downtime.

use chrono::NaiveDate;
use gridpatrol::app::App;
use gridpatrol::domain::entity::{
    Complaint, EntityId, Inspection, InspectionKind, Outcome, Severity, Violation,
};
use gridpatrol::jobs::{Job, JobSchedules, parse_schedule, run_due_jobs, run_if_due};
use gridpatrol::store::Store;

use crate::support::{TestApp, TinyRegion, date};

/// A generated region imported, planned over 2027 in two grids, the plan
/// approved and posts assigned, as a bureau would have it on 2027-01-01.
fn planned() -> (TestApp, TinyRegion, String) {
    let t = TestApp::new("2027-01-01");
    let region = TinyRegion::generated(120, 21, "2026-12-31", Some(8));
    let (code, _) = region.plan_and_staff(&t.app, 2, "2027-01-01", "2027-12-31");
    (t, region, code)
}

fn dump(app: &App) -> Vec<String> {
    Store::open(&app.db_path).unwrap().dump().unwrap()
}

fn open_routine(app: &App, entity: &str) -> Vec<gridpatrol::store::TaskRow> {
    app.tasks_for_entity(&crate::support::test_caller(), entity)
        .unwrap()
        .into_iter()
        .filter(|t| t.status == "open" && t.kind == "routine")
        .collect()
}

/// Builds before 2026-12-01 saved a planned routine task's due date as the first day a visit
/// counts for it, so a visit made in its window before that date left it open. The nightly
/// re-plan, which knows each kept task's window, sets the day the window opens (or today,
/// if it opened earlier), once, and leaves a fresh plan's tasks as they are.
#[test]
fn the_nightly_replan_sets_the_window_start_of_tasks_saved_with_their_due_date() {
    let (t, _region, code) = planned();
    let day = t.at("2027-01-02");
    let today = date("2027-01-02");
    let first = day
        .replan(&crate::support::test_caller(), &code, today)
        .unwrap();
    assert_eq!(
        first.window_starts_set, 0,
        "a fresh plan's tasks: {first:?}"
    );
    // Saved as those builds saved them: the due date as the window's start.
    let raw = rusqlite::Connection::open(&day.db_path).unwrap();
    let starts = |raw: &rusqlite::Connection| -> Vec<(i64, String, String)> {
        raw.prepare(
            "SELECT id, period_start, due_on FROM tasks
             WHERE status = 'open' AND kind = 'routine' AND due_on > ?1 ORDER BY id",
        )
        .unwrap()
        .query_map([today.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    let planned_starts = starts(&raw);
    let aged = raw
        .execute(
            "UPDATE tasks SET period_start = due_on
             WHERE status = 'open' AND kind = 'routine' AND due_on > ?1 AND period_start < due_on",
            [today.to_string()],
        )
        .unwrap();
    assert!(aged > 10, "{aged}");
    // The first of them to fall due, and its business.
    let (task, entity, due_on): (i64, String, String) = raw
        .query_row(
            "SELECT id, entity_id, due_on FROM tasks
             WHERE status = 'open' AND kind = 'routine' AND period_start = due_on AND due_on > ?1
             ORDER BY due_on, id LIMIT 1",
            [today.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let closes_today = |app: &App| -> bool {
        Store::open(&app.db_path)
            .unwrap()
            .read()
            .tasks_satisfied_by(&entity, today)
            .unwrap()
            .tasks
            .iter()
            .any(|(id, _)| *id == task)
    };
    assert!(
        !closes_today(&day),
        "a visit today, before {due_on}, left it open"
    );

    let second = day
        .replan(&crate::support::test_caller(), &code, today)
        .unwrap();
    assert!(second.window_starts_set > 0, "{second:?}");
    assert!(second.window_starts_set <= aged, "{second:?}");
    assert_eq!(
        (second.moved, second.cancelled, second.created),
        (0, 0, 0),
        "only the windows change: {second:?}"
    );
    assert!(
        closes_today(&day),
        "a visit today now closes the task due {due_on}"
    );
    // Each task the plan dated within the re-plan's horizon (and those past it in a window
    // that opens within it) counts visits from its window's first day again, or from
    // today where the window opened before; the rest are as they were.
    let horizon = second.to.expect("a plan in force").to_string();
    let mut set = 0;
    for ((id, planned, due_on), (id_now, now, _)) in planned_starts.iter().zip(starts(&raw)) {
        assert_eq!(*id, id_now);
        let restored = planned.as_str().max("2027-01-02");
        if now != *due_on || *due_on <= horizon {
            assert_eq!(now, restored, "task {id} due {due_on}");
        }
        set += usize::from(now != *due_on);
    }
    assert_eq!(second.window_starts_set, set);
    // Once.
    let third = day
        .replan(&crate::support::test_caller(), &code, today)
        .unwrap();
    assert_eq!(third.window_starts_set, 0, "{third:?}");
}

#[test]
fn the_nightly_replan_follows_posts_visits_and_classes_and_changes_nothing_twice() {
    let (t, _region, code) = planned();
    let day = t.at("2027-01-02");
    // The first night moves the tasks onto the post holders; a plan's visits are all covered.
    let first = day
        .replan(&crate::support::test_caller(), &code, date("2027-01-02"))
        .unwrap();
    assert_eq!(first.created, 0, "{first:?}");
    assert_eq!(first.cancelled, 0, "{first:?}");
    assert!(first.kept > 0);
    // Every open task, routine or not, is now with its grid's A-post officer.
    let store = Store::open(&day.db_path).unwrap();
    let a_posts = store.read().open_posts(&code, 1, "A").unwrap();
    let (mut checked, mut not_routine) = (0, 0);
    for b in day.list_businesses(None, None, 200).unwrap() {
        for task in day
            .tasks_for_entity(&crate::support::test_caller(), &b.id)
            .unwrap()
        {
            if task.status != "open" {
                continue;
            }
            let grid = task.grid.as_deref().expect("a planned task has its grid");
            assert_eq!(task.officer_id.as_ref(), a_posts.get(grid), "{task:?}");
            checked += 1;
            not_routine += usize::from(task.kind != "routine");
        }
    }
    assert!(checked > 100);
    assert_eq!(not_routine, 0, "no complaint yet");
    let before = dump(&day);
    let second = day
        .replan(&crate::support::test_caller(), &code, date("2027-01-02"))
        .unwrap();
    assert_eq!(
        (second.moved, second.cancelled, second.created),
        (0, 0, 0),
        "{second:?}"
    );
    assert_eq!(
        dump(&day),
        before,
        "a second run the same day writes nothing"
    );

    // A visit made: the task for that period is no longer owed and is cancelled.
    let listed = day.list_businesses(None, None, 200).unwrap();
    let visited = listed
        .iter()
        .find(|b| {
            open_routine(&day, &b.id)
                .iter()
                .any(|t| t.due_by <= date("2027-03-31") && t.due_by >= date("2027-01-10"))
        })
        .expect("a business with a task this quarter")
        .id
        .clone();
    let task = open_routine(&day, &visited)
        .into_iter()
        .find(|t| t.due_by >= date("2027-01-10"))
        .unwrap();
    let officer = task.officer_id.clone().unwrap();
    day.record_event(
        &EntityId::parse(&visited).unwrap(),
        &gridpatrol::app::Event::Inspection(Inspection {
            date: date("2027-01-05"),
            officer_id: officer,
            kind: InspectionKind::Routine,
            outcome: Outcome::Ok,
        }),
        "officer",
    )
    .unwrap();
    let next = t.at("2027-01-06");
    let after_visit = next
        .replan(&crate::support::test_caller(), &code, date("2027-01-06"))
        .unwrap();
    assert!(after_visit.cancelled >= 1, "{after_visit:?}");
    let status = next
        .tasks_for_entity(&crate::support::test_caller(), &visited)
        .unwrap()
        .into_iter()
        .find(|x| x.id == task.id)
        .unwrap()
        .status;
    assert_eq!(status, "cancelled");

    // A serious violation that stopped the business makes it class D: twice a month from
    // now on, planned.
    let raised = listed
        .iter()
        .find(|b| b.class.as_deref() == Some("A") && b.id != visited)
        .expect("a class A business")
        .id
        .clone();
    next.record_event(
        &EntityId::parse(&raised).unwrap(),
        &gridpatrol::app::Event::Violation(Violation {
            date: date("2027-01-06"),
            severity: Severity::Serious,
            suspended: true,
            revoked: false,
            note: "expired food".into(),
        }),
        "officer",
    )
    .unwrap();
    let after_raise = next
        .replan(&crate::support::test_caller(), &code, date("2027-01-06"))
        .unwrap();
    assert!(after_raise.created >= 2, "{after_raise:?}");
    let february: Vec<NaiveDate> = open_routine(&next, &raised)
        .iter()
        .map(|t| t.due_on)
        .filter(|d| *d >= date("2027-02-01") && *d <= date("2027-02-28"))
        .collect();
    assert_eq!(
        february.len(),
        2,
        "class D: two visits in February: {:#?}",
        next.tasks_for_entity(&crate::support::test_caller(), &raised)
            .unwrap()
    );
    assert!(
        february.iter().any(|d| *d <= date("2027-02-14"))
            && february.iter().any(|d| *d >= date("2027-02-15")),
        "in distinct half-months: {february:?}"
    );
}

#[test]
fn a_complaints_targeted_task_moves_with_the_grid_when_its_post_changes_hands() {
    let (t, _region, code) = planned();
    let day = t.at("2027-01-02");
    day.replan(&crate::support::test_caller(), &code, date("2027-01-02"))
        .unwrap();
    let business = day
        .list_businesses(None, None, 200)
        .unwrap()
        .into_iter()
        .find(|b| !open_routine(&day, &b.id).is_empty())
        .unwrap();
    day.record_event(
        &EntityId::parse(&business.id).unwrap(),
        &gridpatrol::app::Event::Complaint(Complaint {
            date: date("2027-01-02"),
            channel: "12315".into(),
            substantiated: false,
        }),
        "desk",
    )
    .unwrap();
    let targeted = |app: &App| {
        app.tasks_for_entity(&crate::support::test_caller(), &business.id)
            .unwrap()
            .into_iter()
            .find(|x| x.kind == "targeted" && x.status == "open")
            .expect("the complaint's targeted task")
    };
    let task = targeted(&day);
    let grid = task.grid.clone().unwrap();
    let holder = task.officer_id.clone().unwrap();
    // The grid's A-post goes to another officer of the roster.
    let mut store = Store::open(&day.db_path).unwrap();
    let successor = store
        .read()
        .officers(Some(&code))
        .unwrap()
        .into_iter()
        .map(|o| o.id)
        .find(|o| *o != holder)
        .unwrap();
    store
        .write(|db| db.set_post(&code, 1, &grid, "A", Some(&successor), date("2027-01-03")))
        .unwrap();
    let next = t.at("2027-01-03");
    let report = next
        .replan(&crate::support::test_caller(), &code, date("2027-01-03"))
        .unwrap();
    assert!(report.moved > 0, "{report:?}");
    let moved = targeted(&next);
    assert_eq!(moved.id, task.id, "the same task, not a new one");
    assert_eq!(moved.officer_id.as_deref(), Some(successor.as_str()));
    for routine in open_routine(&next, &business.id) {
        assert_eq!(routine.officer_id.as_deref(), Some(successor.as_str()));
    }
}

#[test]
fn overdue_tasks_go_to_the_area_deputy_once() {
    let (t, _region, code) = planned();
    t.at("2027-01-02")
        .replan(&crate::support::test_caller(), &code, date("2027-01-02"))
        .unwrap();
    let areas = t.app.areas(&crate::support::test_caller(), &code).unwrap();
    let schedule = parse_schedule("0 0 7 * * *").unwrap();
    // Nobody visited anything in January: on 2 February January's tasks are late.
    let feb = t.at("2027-02-02");
    let runs = run_if_due(&feb, Job::Escalate, &schedule).unwrap();
    assert_eq!(runs.len(), 1);
    let escalated = runs[0]["escalated"].as_u64().unwrap();
    assert!(escalated > 0);
    let mut seen = 0;
    for area in &areas {
        let deputy = area.deputy.as_deref().expect("every area has a deputy");
        for e in feb
            .escalated_to(&crate::support::test_caller(), deputy)
            .unwrap()
        {
            assert!(e.due_by < date("2027-02-02"), "{e:?}");
            assert!(
                e.grid.as_ref().is_some_and(|g| area.grids.contains(g)),
                "escalated to the deputy of the task's own area: {e:?} {area:?}"
            );
            seen += 1;
        }
    }
    assert_eq!(seen as u64, escalated);

    // The same slot does not run again; the next morning finds nothing new to escalate.
    let before = dump(&feb);
    assert!(
        run_if_due(&feb, Job::Escalate, &schedule)
            .unwrap()
            .is_empty()
    );
    assert_eq!(dump(&feb), before);
    let runs = run_if_due(&t.at("2027-02-03"), Job::Escalate, &schedule).unwrap();
    assert_eq!(runs[0]["escalated"].as_u64(), Some(0));
}

#[test]
fn snapshots_freeze_each_dekad_and_month_and_catch_up_what_was_missed() {
    let (t, _region, code) = planned();
    t.at("2027-01-02")
        .replan(&crate::support::test_caller(), &code, date("2027-01-02"))
        .unwrap();
    let dekad = parse_schedule(&JobSchedules::default().dekad_snapshot).unwrap();
    let monthly = parse_schedule(&JobSchedules::default().monthly_snapshot).unwrap();

    let day = t.at("2027-01-11");
    assert_eq!(
        run_if_due(&day, Job::DekadSnapshot, &dekad).unwrap().len(),
        1
    );
    let first = day
        .snapshot(
            &crate::support::test_caller(),
            "dekad",
            &code,
            date("2027-01-01"),
        )
        .unwrap()
        .expect("the first 旬 is frozen");
    assert_eq!(
        (first.from, first.to),
        (date("2027-01-01"), date("2027-01-10"))
    );
    let live = Store::open(&day.db_path)
        .unwrap()
        .read()
        .period_stats(&code, date("2027-01-01"), date("2027-01-10"))
        .unwrap();
    assert_eq!(first, live);
    assert_eq!(first.tasks_done, 0);
    assert_eq!(first.classes.iter().sum::<usize>(), 120);

    // Down until 5 February: both 旬 missed in January are caught up, in order, and the
    // month too; the frozen first 旬 is left as it was.
    let later = t.at("2027-02-05");
    let runs = run_if_due(&later, Job::DekadSnapshot, &dekad).unwrap();
    let periods: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| (r["from"].as_str().unwrap(), r["to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        periods,
        vec![("2027-01-11", "2027-01-20"), ("2027-01-21", "2027-01-31")]
    );
    assert_eq!(
        run_if_due(&later, Job::MonthlySnapshot, &monthly)
            .unwrap()
            .len(),
        1
    );
    let january = later
        .snapshot(
            &crate::support::test_caller(),
            "month",
            &code,
            date("2027-01-01"),
        )
        .unwrap()
        .unwrap();
    assert_eq!(january.to, date("2027-01-31"));
    // Monthly visits fall due on the 31st: in the last 旬 and in the month, none done.
    let last = later
        .snapshot(
            &crate::support::test_caller(),
            "dekad",
            &code,
            date("2027-01-21"),
        )
        .unwrap()
        .unwrap();
    assert!(last.tasks_due > 0);
    assert_eq!(
        january.tasks_due,
        first.tasks_due + last.tasks_due + {
            later
                .snapshot(
                    &crate::support::test_caller(),
                    "dekad",
                    &code,
                    date("2027-01-11"),
                )
                .unwrap()
                .unwrap()
                .tasks_due
        }
    );
    assert_eq!(january.tasks_open, january.tasks_due);
    assert_eq!(
        later
            .snapshot(
                &crate::support::test_caller(),
                "dekad",
                &code,
                date("2027-01-01")
            )
            .unwrap(),
        Some(first)
    );
}

#[test]
fn all_jobs_run_in_order_from_the_configuration_and_a_bad_expression_is_named() {
    let (t, _region, _code) = planned();
    let jobs = JobSchedules::default().parse().unwrap();
    // Started on 2027-01-11 at noon: every job has a slot behind it and runs once.
    let ran = run_due_jobs(&t.at("2027-01-11"), &jobs);
    let names: Vec<&str> = ran.iter().map(|(j, _)| j.name()).collect();
    assert_eq!(
        names,
        vec![
            "nightly-reclassify",
            "nightly-replan",
            "overdue-escalation",
            "dekad-snapshot",
            "monthly-snapshot"
        ]
    );
    assert!(run_due_jobs(&t.at("2027-01-11"), &jobs).is_empty());

    let bad = JobSchedules {
        nightly_replan: "every night".into(),
        ..JobSchedules::default()
    };
    let err = bad.parse().unwrap_err();
    assert!(
        err.starts_with("jobs.nightly_replan: cron expression 'every night'"),
        "{err}"
    );
}

/// A year lived day by day: each morning the officers make every visit due that day (or
/// overdue), each night the scheduled jobs run. At the end every business has met its
/// class's frequency in every period of the year, under the classes it actually had.
#[test]
fn a_simulated_year_meets_every_class_frequency_in_every_period() {
    use gridpatrol::app::plan::class_timeline;
    use gridpatrol::domain::schedule::obligations;
    let t = TestApp::new("2027-01-01");
    let region = TinyRegion::generated(60, 33, "2026-12-31", Some(8));
    region.plan_and_staff(&t.app, 2, "2027-01-01", "2027-12-31");
    let jobs = JobSchedules::default().parse().unwrap();
    let ids: Vec<String> = t
        .app
        .list_businesses(None, None, 1000)
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    let mut visits = 0;
    for day in date("2027-01-01").iter_days().take(365) {
        let app = t.at(&day.to_string());
        run_due_jobs(&app, &jobs);
        for id in &ids {
            let due: Vec<_> = app
                .tasks_for_entity(&crate::support::test_caller(), id)
                .unwrap()
                .into_iter()
                .filter(|x| x.status == "open" && x.due_on <= day)
                .collect();
            if let Some(task) = due.first() {
                // One visit a day to a business does whatever is due there.
                app.record_event(
                    &EntityId::parse(id).unwrap(),
                    &gridpatrol::app::Event::Inspection(Inspection {
                        date: day,
                        officer_id: task.officer_id.clone().unwrap_or_default(),
                        kind: InspectionKind::Routine,
                        outcome: Outcome::Ok,
                    }),
                    "officer",
                )
                .unwrap();
                visits += 1;
            }
        }
    }
    assert!(visits > 60, "{visits} visits");
    let policy = gridpatrol::domain::policy::Policy::default();
    let (from, to) = (date("2027-01-01"), date("2027-12-31"));
    let mut periods = 0;
    for id in &ids {
        let detail = t.app.entity(&EntityId::parse(id).unwrap()).unwrap();
        let business = detail.view.business.clone();
        let records = detail.view.records.clone();
        if detail.view.unit_code.is_none() {
            continue;
        }
        let made: Vec<NaiveDate> = records.inspections.iter().map(|i| i.date).collect();
        for o in obligations(
            &class_timeline(&business, &records, from, to, &policy),
            &made,
            from,
            to,
            &policy,
        ) {
            periods += 1;
            assert!(
                o.satisfied_by.is_some(),
                "{id}: no visit in {:?} (class {})",
                o.window,
                o.class
            );
        }
    }
    assert!(periods > 200, "{periods} periods checked");
}
