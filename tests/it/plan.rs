//! The patrol plan: every routine visit a business owes over a year becomes one task dated
//! inside its window, for a certified pair of officers, and the days are even.

use std::collections::HashMap;

use chrono::NaiveDate;
use gridpatrol::app::plan::{PlanRequest, class_timeline, plan_region};
use gridpatrol::domain::schedule::obligations;
use gridpatrol::import::read_region;
use gridpatrol::spatial::crs::Crs;

use crate::support::{TinyRegion, date};

/// Two grids over the range, two partitioning starts, seed 1.
fn two_grids(from: NaiveDate, to: NaiveDate) -> PlanRequest {
    PlanRequest {
        grids: Some(2),
        starts: Some(2),
        ..PlanRequest::new(from, to)
    }
}

#[test]
fn a_year_of_tasks_meets_every_obligation_once_inside_its_window() {
    let region = TinyRegion::generated(200, 4, "2026-12-31", Some(10));
    let policy = gridpatrol::domain::policy::Policy::default();
    let (from, to) = (date("2027-01-01"), date("2027-12-31"));
    let plan = plan_region(region.path(), &two_grids(from, to), &policy).unwrap();

    let files = read_region(region.path(), Crs::Wgs84, &policy).unwrap();
    let officers: HashMap<&str, &gridpatrol::domain::entity::Officer> =
        files.officers.iter().map(|o| (o.id.as_str(), o)).collect();
    let mut tasks_of: HashMap<&str, Vec<&gridpatrol::app::plan::PlannedTask>> = HashMap::new();
    for t in &plan.tasks {
        tasks_of.entry(&*t.entity_id).or_default().push(t);
        assert!(
            t.date >= from && t.date <= to && t.date <= t.due_by,
            "{t:?}"
        );
        assert_ne!(t.officer_id, t.partner_id, "a visit needs two officers");
        assert!(officers[&*t.officer_id].certified && officers[&*t.partner_id].certified);
    }
    let mut checked = 0;
    for (b, r) in files.businesses.iter().zip(&files.records) {
        if b.location.is_none() {
            continue;
        }
        let visits: Vec<NaiveDate> = r.inspections.iter().map(|i| i.date).collect();
        let owed: Vec<_> = obligations(
            &class_timeline(b, r, from, to, &policy),
            &visits,
            from,
            to,
            &policy,
        )
        .into_iter()
        .filter(|o| o.satisfied_by.is_none())
        .collect();
        let tasks = tasks_of.get(b.id.as_str()).cloned().unwrap_or_default();
        assert_eq!(tasks.len(), owed.len(), "{}: one task per obligation", b.id);
        for o in &owed {
            assert!(
                tasks
                    .iter()
                    .any(|t| o.window.contains(t.date) && t.due_by == o.window.end.min(to)),
                "{}: no task in {:?}",
                b.id,
                o.window
            );
        }
        // A year holds at least the A frequency (two half-years).
        assert!(owed.len() >= 2);
        checked += 1;
    }
    assert!(checked > 190);
    // Even days: nobody's busiest day is more than twice their mean plus one.
    for (officer, &(_, max, mean)) in &plan.daily_load {
        assert!(
            (max as f64) <= 2.0 * mean + 1.0,
            "{officer}: busiest {max}, mean {mean}"
        );
    }
}

#[test]
fn the_plan_command_prints_the_csv_columns() {
    let region = TinyRegion::generated(50, 2, "2026-12-31", Some(6));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gridpatrol"))
        .args([
            "plan",
            "--region",
            region.path().to_str().unwrap(),
            "--from",
            "2027-01-01",
            "--to",
            "2027-03-31",
            "--grids",
            "2",
            "--starts",
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("date,entity_id,grid,officer_id,partner_id,kind,due_by"),
        "the named columns come first"
    );
    assert!(
        text.lines().count() > 50,
        "a quarter of 50 businesses owes at least one visit each"
    );
    // Each visit's window: from `period_start` (where a visit starts to count) to `due_by`,
    // the due date inside it; spread due dates mostly fall after the window's first day.
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|c| *c == name).unwrap();
    let (day, start, by) = (column("date"), column("period_start"), column("due_by"));
    let mut later = 0;
    for line in text.lines().skip(1) {
        let row: Vec<&str> = line.split(',').collect();
        assert!(row[start] <= row[day] && row[day] <= row[by], "{line}");
        later += usize::from(row[start] < row[day]);
    }
    assert!(later > 0, "every due date on its window's first day");
    assert!(String::from_utf8_lossy(&out.stderr).contains("busiest day"));
}

#[test]
fn a_saved_plan_gives_each_officer_an_ordered_due_list_a_route_and_a_calendar() {
    let t = crate::support::TestApp::new("2027-01-20");
    let region = TinyRegion::generated(120, 8, "2026-12-31", Some(8));
    t.app
        .import_region(region.path(), Crs::Wgs84, "test")
        .unwrap();
    let (plan, version, written) = t
        .app
        .save_patrol_plan(
            region.path(),
            &two_grids(date("2027-01-01"), date("2027-03-31")),
            "chief",
        )
        .unwrap();
    assert_eq!(version, 1);
    assert_eq!(written, plan.tasks.len());
    let officer = plan.tasks[0].officer_id.to_string();

    // A week from 2027-01-20: tasks due before then are overdue (none was done) and come first.
    let list = t
        .app
        .due_list(
            &crate::support::test_caller(),
            &officer,
            date("2027-01-20"),
            7,
            None,
        )
        .unwrap();
    assert!(!list.tasks.is_empty());
    let overdue: Vec<bool> = list
        .tasks
        .iter()
        .map(|x| x.due_by < date("2027-01-20"))
        .collect();
    assert!(
        overdue.windows(2).all(|w| w[0] >= w[1]),
        "overdue tasks first"
    );
    let upcoming: Vec<_> = list
        .tasks
        .iter()
        .filter(|x| x.due_by >= date("2027-01-20"))
        .collect();
    assert!(
        upcoming.windows(2).all(|w| w[0].due_on <= w[1].due_on),
        "then by due date"
    );
    assert!(
        list.tasks
            .iter()
            .all(|x| x.officer_id.as_deref() == Some(officer.as_str())
                || x.partner_id.as_deref() == Some(officer.as_str()))
    );

    // As a route from a start point: the same tasks, and a length.
    let routed = t
        .app
        .due_list(
            &crate::support::test_caller(),
            &officer,
            date("2027-01-20"),
            7,
            Some((114.01, 30.005)),
        )
        .unwrap();
    let mut a: Vec<i64> = list.tasks.iter().map(|x| x.id).collect();
    let mut b: Vec<i64> = routed.tasks.iter().map(|x| x.id).collect();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
    assert!(routed.route_m.unwrap() > 0.0);

    let ics = t.app.due_list_ics(&list);
    assert!(ics.starts_with("BEGIN:VCALENDAR"));
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), list.tasks.len());
    assert!(ics.contains(&format!("UID:task-{}@gridpatrol", list.tasks[0].id)));
}

#[test]
fn areas_posts_and_staffing_and_a_shortfall_is_reported_per_grid() {
    let region = TinyRegion::generated(150, 5, "2026-12-31", Some(10));
    let policy = gridpatrol::domain::policy::Policy::default();
    let (from, to) = (date("2027-01-01"), date("2027-12-31"));
    let plan = plan_region(region.path(), &two_grids(from, to), &policy).unwrap();
    assert!(plan.structure.chief.is_some());
    assert!(
        plan.structure
            .areas
            .iter()
            .all(|a| a.deputy.is_some() && a.leader.is_some())
    );
    let needed: f64 = plan
        .tasks
        .iter()
        .map(|t| f64::from(policy.minutes_per_visit(t.class)) / 60.0)
        .sum();
    assert!((plan.staffing.station_needed_hours - needed).abs() < 1e-6);

    // The same register with officers of one patrol hour a month: every grid is short, and
    // the shortfall is said, grid by grid, not dropped.
    let roster = region.read("officers.csv");
    let mut lines = roster.lines();
    let mut thin = format!("{}\n", lines.next().unwrap());
    for line in lines {
        let mut fields: Vec<&str> = line.split(',').collect();
        fields[4] = "1";
        thin.push_str(&fields.join(","));
        thin.push('\n');
    }
    region.write("officers.csv", &thin);
    let short = plan_region(region.path(), &two_grids(from, to), &policy).unwrap();
    assert_eq!(
        short.tasks.len(),
        plan.tasks.len(),
        "no visit is silently dropped"
    );
    assert!(
        short.hours.values().all(|(need, have)| need > have),
        "{:?}",
        short.hours
    );
    assert!(short.staffing.officers_needed > short.staffing.officers_on_roster);
}

#[test]
fn campaigns_and_complaints_take_routine_visits_into_one_visit() {
    use gridpatrol::app::plan::plan_region_with_graph;
    use gridpatrol::domain::campaign::{Campaign, CampaignFilter};
    let region = TinyRegion::generated(160, 6, "2027-02-01", Some(10));
    let policy = gridpatrol::domain::policy::Policy::default();
    let (from, to) = (date("2027-01-01"), date("2027-06-30"));
    let campaign = Campaign {
        name: "spring food safety".into(),
        from: date("2027-03-01"),
        to: date("2027-03-31"),
        filter: CampaignFilter {
            industries: vec!["food".into()],
            ..Default::default()
        },
        checklist: vec!["cold chain records".into()],
    };
    let request = PlanRequest {
        campaigns: vec![campaign.clone()],
        ..two_grids(from, to)
    };
    let (plan, _) = plan_region_with_graph(region.path(), &request, &policy).unwrap();
    let files = read_region(region.path(), Crs::Wgs84, &policy).unwrap();
    let industry: HashMap<String, &str> = files
        .businesses
        .iter()
        .map(|b| (b.id.to_string(), b.industry.as_str()))
        .collect();
    let mut by_business: HashMap<&str, Vec<&gridpatrol::app::plan::PlannedTask>> = HashMap::new();
    for t in &plan.tasks {
        by_business.entry(&*t.entity_id).or_default().push(t);
    }
    let mut food = 0;
    for (id, tasks) in &by_business {
        let specials: Vec<_> = tasks.iter().filter(|t| t.kind == "special").collect();
        if industry[*id] == "food" {
            food += 1;
            assert_eq!(specials.len(), 1, "{id}: one campaign visit");
            assert!(specials[0].date >= campaign.from && specials[0].date <= campaign.to);
            // The campaign visit takes a routine visit due in its window: what is left there is
            // only D's second half-month visit, which one visit cannot satisfy.
            let left = tasks
                .iter()
                .filter(|t| {
                    t.kind == "routine" && !(t.due_by < campaign.from || t.date > campaign.to)
                })
                .count();
            let allowed =
                usize::from(specials[0].class == gridpatrol::domain::policy::RiskClass::D);
            assert!(
                left <= allowed,
                "{id}: {left} routine visits left beside the campaign visit: {tasks:?}"
            );
            assert!(
                tasks.iter().all(|t| !t.partner_id.is_empty()),
                "every visit has two officers"
            );
        } else {
            assert!(specials.is_empty());
        }
    }
    assert!(
        food > 20 && plan.merged * 10 >= food * 9,
        "{food} food businesses, {} merged (one whose window was already met needs none)",
        plan.merged
    );
    // Complaints in the range with no inspection after them become targeted visits within 7 days.
    let targeted: Vec<_> = plan.tasks.iter().filter(|t| t.kind == "targeted").collect();
    assert!(!targeted.is_empty());
    assert!(targeted.iter().all(|t| (t.due_by - t.date).num_days() <= 7));
}

#[test]
fn a_random_draw_replays_from_its_seed_and_respects_conflicts() {
    let region = TinyRegion::generated(400, 9, "2027-01-01", Some(8));
    let files = read_region(
        region.path(),
        Crs::Wgs84,
        &gridpatrol::domain::policy::Policy::default(),
    )
    .unwrap();
    // Officer O00003 has a conflict with every business.
    let mut conflicts = String::from("officer_id,entity_id\n");
    for b in &files.businesses {
        conflicts.push_str(&format!("O00003,{}\n", b.id));
    }
    region.write("conflicts.csv", &conflicts);
    let draw = |seed: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gridpatrol"))
            .args([
                "draw",
                "--region",
                region.path().to_str().unwrap(),
                "--on",
                "2027-01-10",
                "--seed",
                seed,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = draw("77");
    assert_eq!(draw("77"), first, "the same seed replays the same draw");
    assert_ne!(draw("78"), first);
    let rows: Vec<&str> = first.lines().skip(1).collect();
    assert!(rows.len() >= 12, "at least 3 % of 400: {}", rows.len());
    assert!(
        rows.iter().all(|r| !r.contains("O00003")),
        "never an inspector with a conflict"
    );
    assert!(rows.iter().all(|r| r.ends_with(",2027-01-10,77")));

    region.write("conflicts.csv", "officer_id,entity_id\nO99999,x\n");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gridpatrol"))
        .args([
            "draw",
            "--region",
            region.path().to_str().unwrap(),
            "--seed",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "conflicts.csv:2: column officer_id: officer 'O99999' is not in officers.csv"
        )
    );
}

#[test]
fn assign_keeps_posts_rotates_at_the_limit_and_says_why() {
    let t = crate::support::TestApp::new("2027-01-01");
    let region = TinyRegion::generated(120, 3, "2026-12-31", Some(12));
    t.app
        .import_region(region.path(), Crs::Wgs84, "test")
        .unwrap();
    let rg =
        gridpatrol::app::region_graph(region.path(), Crs::Wgs84, &t.app.policy, date("2027-01-01"))
            .unwrap();
    let plan = gridpatrol::domain::partition::partition(
        &rg.graph,
        &gridpatrol::domain::partition::PartitionOptions {
            grids: 2,
            tolerance: 0.9,
            seed: 1,
            starts: Some(1),
        },
    )
    .unwrap();
    let grids = gridpatrol::app::grid_summaries(&rg, &plan.assignment, 2);
    t.app
        .save_plan(
            &rg.region.jurisdiction.code,
            &grids,
            &serde_json::json!({}),
            "chief",
        )
        .unwrap();

    let first = t
        .app
        .assign_posts(region.path(), date("2027-01-01"), "chief")
        .unwrap();
    assert_eq!(first.changes.len(), 2);
    assert!(
        first
            .changes
            .iter()
            .all(|c| c.1.is_none() && c.2.is_some() && c.3 == "new post")
    );

    // The next day nothing has changed: every post is kept.
    let again = t
        .app
        .assign_posts(region.path(), date("2027-01-02"), "chief")
        .unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);

    // Three years on, the rotation limit moves every A-post, to someone else.
    let later = t
        .app
        .assign_posts(region.path(), date("2030-01-01"), "chief")
        .unwrap();
    assert_eq!(later.changes.len(), 2, "{:?}", later.changes);
    for (_, from, to, why) in &later.changes {
        assert_ne!(from, to);
        assert_eq!(why, "held since 2027-01-01: rotation limit of 3 years");
    }

    // An officer who loses the certificate loses the post; the other grid keeps its holder.
    let holder = later.changes[0].2.clone().unwrap();
    let roster = region.read("officers.csv");
    let edited: String = roster
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{holder},")) {
                l.replace(",true,", ",false,")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    region.write("officers.csv", &(edited + "\n"));
    let after = t
        .app
        .assign_posts(region.path(), date("2030-02-01"), "chief")
        .unwrap();
    assert_eq!(after.changes.len(), 1, "{:?}", after.changes);
    assert_eq!(after.changes[0].1.as_deref(), Some(holder.as_str()));
    assert!(
        after.changes[0]
            .3
            .contains("not a certified patrol officer")
    );
}

#[test]
fn a_kept_grid_plan_is_planned_over_as_it_is() {
    let region = TinyRegion::generated(150, 12, "2026-12-31", Some(10));
    let policy = gridpatrol::domain::policy::Policy::default();
    let (from, to) = (date("2027-01-01"), date("2027-06-30"));
    let files = read_region(region.path(), Crs::Wgs84, &policy).unwrap();
    // The bureau's own grids, by unit: the first half of the units "east", the rest "west".
    let mut csv = String::from("unit,grid\n");
    let half = files.units.len() / 2;
    for (i, u) in files.units.iter().enumerate() {
        csv.push_str(&format!(
            "{},{}\n",
            u.code,
            if i < half { "east" } else { "west" }
        ));
    }
    region.write("grids.csv", &csv);
    let request = PlanRequest {
        grid_plan: Some(region.path().join("grids.csv")),
        ..PlanRequest::new(from, to)
    };
    let plan = plan_region(region.path(), &request, &policy).unwrap();
    assert_eq!(plan.grid_codes, vec!["east".to_owned(), "west".to_owned()]);
    let unit_index: HashMap<&str, usize> = files
        .units
        .iter()
        .enumerate()
        .map(|(i, u)| (u.code.as_str(), i))
        .collect();
    let graph = gridpatrol::app::region_graph(region.path(), Crs::Wgs84, &policy, from).unwrap();
    for (i, u) in graph.graph.codes.iter().enumerate() {
        let expected = usize::from(unit_index[u.as_str()] >= half);
        assert_eq!(plan.assignment[i], expected, "unit {u}");
    }
    assert!(!plan.tasks.is_empty());
    for t in &plan.tasks {
        let unit = graph.unit_of[t.business_index].expect("a task's business is located");
        let label = if unit_index[graph.graph.codes[unit].as_str()] < half {
            "east"
        } else {
            "west"
        };
        assert_eq!(&*t.grid, label, "{t:?}");
    }

    // A plan naming a unit the region does not have is refused, naming the unit.
    region.write("grids.csv", "unit,grid\nNOPE,east\n");
    let err = plan_region(region.path(), &request, &policy).unwrap_err();
    assert!(format!("{err:#}").contains("NOPE"), "{err:#}");
}
