//! Permissions held by the application layer itself, without HTTP: every use case of the
//! work half (tasks, visits, photos, campaigns, draws, audit, reports, scheduled jobs)
//! called directly as each role, the same allowed/forbidden matrix as the routes'
//! (`http::every_route_for_every_role`), on a real SQLite file.

use gridpatrol::app::AppError;
use gridpatrol::app::access::Caller;
use gridpatrol::domain::campaign::Campaign;
use gridpatrol::domain::inspection::Visit;
use gridpatrol::domain::report::{Breakdown, Period};

use crate::http::Service;
use crate::support::date;

/// The roles in the order of the matrix: admin, bureau head, manager, officer.
const ROLES: [&str; 4] = ["admin", "head", "manager", "officer"];

/// Whether an answer was a refusal of the caller (any other error means the check let the
/// caller through and the use case went on to validate or look up).
fn allowed<T>(answer: Result<T, AppError>) -> bool {
    !matches!(answer, Err(AppError::Forbidden(_)))
}

/// A use case as each role: allowed or not, in the order of [`ROLES`].
fn matrix(s: &Service, call: impl Fn(&Caller) -> bool) -> [bool; 4] {
    ROLES.map(|role| {
        let caller = s.t.app.caller(&s.tokens[role]).unwrap();
        call(&caller)
    })
}

/// A use case's name, its expected matrix, and the call (whether it was allowed).
type Row<'a> = (&'a str, [bool; 4], Box<dyn Fn(&Caller) -> bool + 'a>);

const ALL: [bool; 4] = [true, true, true, true];
const NOT_OFFICERS: [bool; 4] = [true, true, true, false];
const WRITERS: [bool; 4] = [true, true, false, true];
const HEADS: [bool; 4] = [true, true, false, false];

#[test]
fn every_work_use_case_for_every_role() {
    let s = Service::new();
    let app = &s.t.app;
    let (r, own, other, o, o2) = (&s.region, &s.own, &s.other, &s.officer, &s.second);
    let today = date("2027-01-20");
    let q1: Period = "2027-Q1".parse().unwrap();
    let month = (date("2026-12-01"), date("2026-12-31"));
    let rows: Vec<Row<'_>> = vec![
        // GET /api/officers/{id}/due, .ics (the list), /escalations
        (
            "due_list own",
            ALL,
            Box::new(|c| allowed(app.due_list(c, o, today, 7, None))),
        ),
        (
            "due_list another's",
            NOT_OFFICERS,
            Box::new(|c| allowed(app.due_list(c, o2, today, 7, None))),
        ),
        (
            "due_json another's",
            NOT_OFFICERS,
            Box::new(|c| allowed(app.due_json(c, o2, today, 1, None))),
        ),
        (
            "kept_due_json another's",
            NOT_OFFICERS,
            Box::new(|c| allowed(app.kept_due_json(c, o2, today, 1, None))),
        ),
        (
            "escalated_to own",
            ALL,
            Box::new(|c| allowed(app.escalated_to(c, o))),
        ),
        (
            "escalated_to another's",
            NOT_OFFICERS,
            Box::new(|c| allowed(app.escalated_to(c, o2))),
        ),
        // GET /api/businesses/{id}/tasks, /api/regions/{code}/areas
        (
            "tasks_for_entity own",
            ALL,
            Box::new(|c| allowed(app.tasks_for_entity(c, own))),
        ),
        (
            "tasks_for_entity outside",
            NOT_OFFICERS,
            Box::new(|c| allowed(app.tasks_for_entity(c, other))),
        ),
        ("areas", ALL, Box::new(|c| allowed(app.areas(c, r)))),
        // GET /api/inspections/{id}, photos
        ("visit", ALL, Box::new(|c| allowed(app.visit(c, 999_999)))),
        (
            "store_photo",
            WRITERS,
            Box::new(|c| allowed(app.store_photo(c, b"\xFF\xD8\xFFphoto", "image/jpeg"))),
        ),
        (
            "photo",
            ALL,
            Box::new(|c| allowed(app.photo(c, &"0".repeat(64)))),
        ),
        // Campaigns and draws
        ("campaigns", ALL, Box::new(|c| allowed(app.campaigns(c)))),
        (
            "create_campaign",
            HEADS,
            Box::new(|c| {
                let empty: Campaign = serde_json::from_value(serde_json::json!({
                    "name": " ", "from": "2027-02-01", "to": "2027-02-28",
                }))
                .unwrap();
                allowed(app.create_campaign(c, r, &empty))
            }),
        ),
        (
            "draw_in_store",
            HEADS,
            Box::new(|c| allowed(app.draw_in_store(c, "nowhere", 7, today, 30))),
        ),
        // The audit log
        (
            "audit_log",
            HEADS,
            Box::new(|c| allowed(app.audit_log(c, None, 10))),
        ),
        // Reports
        (
            "coverage_report",
            NOT_OFFICERS,
            Box::new(|c| allowed(app.coverage_report(c, r, q1, Breakdown::Grid, None))),
        ),
        (
            "coverage_xlsx",
            NOT_OFFICERS,
            Box::new(|c| allowed(app.coverage_xlsx(c, "nowhere", q1, Breakdown::Grid, None))),
        ),
        (
            "clears",
            NOT_OFFICERS,
            Box::new(|c| allowed(app.clears(c, r))),
        ),
        (
            "assessment",
            NOT_OFFICERS,
            Box::new(|c| allowed(app.assessment(c, "nowhere", 2027, Breakdown::Grid))),
        ),
        (
            "set_veto",
            HEADS,
            Box::new(|c| allowed(app.set_veto(c, r, "G01", 2027, " "))),
        ),
        (
            "bulletin",
            NOT_OFFICERS,
            Box::new(|c| allowed(app.bulletin(c, "month", r, month.0))),
        ),
        (
            "latest_bulletin",
            NOT_OFFICERS,
            Box::new(|c| allowed(app.latest_bulletin(c, "month", r))),
        ),
        (
            "coverage_trend",
            NOT_OFFICERS,
            Box::new(|c| allowed(app.coverage_trend(c, r, 3))),
        ),
        (
            "rankings",
            NOT_OFFICERS,
            Box::new(|c| allowed(app.rankings(c, "nowhere", q1))),
        ),
        (
            "snapshot",
            NOT_OFFICERS,
            Box::new(|c| allowed(app.snapshot(c, "month", r, month.0))),
        ),
        // The scheduled jobs' work (no route: the scheduler's and the command line's
        // callers are admins): bureau heads may run it, readers and officers may not.
        (
            "replan",
            HEADS,
            Box::new(|c| allowed(app.replan(c, "nowhere", today))),
        ),
        (
            "escalate_overdue",
            HEADS,
            Box::new(|c| allowed(app.escalate_overdue(c, date("2026-01-01")))),
        ),
        (
            "take_snapshots",
            HEADS,
            Box::new(|c| allowed(app.take_snapshots(c, "month", month))),
        ),
    ];
    for (name, expected, call) in &rows {
        assert_eq!(matrix(&s, call), *expected, "{name} as {ROLES:?}");
    }
    // The command line and the scheduler may do all of it.
    for caller in [Caller::command_line("test"), Caller::scheduler()] {
        for (name, _, call) in &rows {
            assert!(call(&caller), "{name} as {}", caller.username);
        }
    }
}

/// Recording a visit (POST /api/inspections, the officer's form): managers may not; an
/// officer may, within their grids only; admins and bureau heads are on no roster, so the
/// use case refuses them too (the route answers them 422 only because its bad body is
/// refused before the use case runs).
#[tokio::test]
async fn recording_a_visit_for_every_role() {
    let s = Service::new();
    let app = s.t.arc();
    let visit = |entity: &str| -> Visit {
        serde_json::from_value(s.visit(entity, "2027-01-20T09:30:00")).unwrap()
    };
    let mut seen = Vec::new();
    for role in ROLES {
        let caller = app.caller(&s.tokens[role]).unwrap();
        let answer = std::sync::Arc::clone(&app)
            .record_visit_queued(&caller, visit(&s.other), None)
            .await;
        seen.push(allowed(answer));
    }
    assert_eq!(seen, [false, false, false, false], "a business outside");
    let officer = app.caller(&s.tokens["officer"]).unwrap();
    let recorded = std::sync::Arc::clone(&app)
        .record_visit_queued(&officer, visit(&s.own), None)
        .await
        .unwrap();
    assert_eq!(recorded.status, 201);
    assert_eq!(recorded.report.entity_id, s.own);
    let manager = app.caller(&s.tokens["manager"]).unwrap();
    assert!(!allowed(app.record_visit(&manager, visit(&s.own), None)));
    assert!(!allowed(app.visit(
        &app.caller(&s.tokens["officer2"]).unwrap(),
        recorded.report.inspection_id
    )));
    assert!(allowed(app.visit(&officer, recorded.report.inspection_id)));
}
