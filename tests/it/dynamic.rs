//! Classification as the living state of the store: events re-classify at once with a
//! history row, the nightly job catches up and is idempotent, overrides lapse by themselves.

use gridpatrol::app::Event;
use gridpatrol::domain::entity::{
    AnnualReport, Complaint, EntityId, Inspection, InspectionKind, Licence, Outcome, ReportResult,
    Severity, Violation,
};
use gridpatrol::domain::policy::RiskClass;
use gridpatrol::jobs::{parse_schedule, run_nightly_if_due};
use gridpatrol::spatial::crs::Crs;
use gridpatrol::store::Store;

use crate::support::{TestApp, TinyRegion, code, date};

fn id(n: u32) -> EntityId {
    EntityId::parse(&code(n)).unwrap()
}

fn setup(today: &str) -> (TestApp, TinyRegion) {
    let t = TestApp::new(today);
    let region = TinyRegion::new();
    t.app
        .import_region(region.path(), Crs::Wgs84, "test")
        .unwrap();
    (t, region)
}

#[test]
fn import_classifies_and_writes_the_first_history_rows() {
    let (t, _r) = setup("2026-06-15");
    let noodle = t.app.entity(&id(1)).unwrap();
    assert_eq!(noodle.effective_class, Some(RiskClass::A));
    assert_eq!(noodle.view.history.len(), 1);
    assert_eq!(noodle.view.history[0].cause, "import");
    assert_eq!(
        t.app.entity(&id(2)).unwrap().effective_class,
        Some(RiskClass::B)
    );
    assert_eq!(
        t.app.entity(&id(4)).unwrap().effective_class,
        Some(RiskClass::D),
        "unlicensed"
    );
}

#[test]
fn each_kind_of_event_reclassifies_in_the_same_transaction() {
    let (t, _r) = setup("2026-06-15");
    let violation = |d: &str| {
        Event::Violation(Violation {
            date: date(d),
            severity: Severity::Minor,
            suspended: false,
            revoked: false,
            note: "expired milk".into(),
        })
    };

    // Food with a violation: C at once.
    let after = t
        .app
        .record_event(&id(1), &violation("2026-06-14"), "officer O2")
        .unwrap();
    assert_eq!(after.effective_class, Some(RiskClass::C));
    let last = after.view.history.last().unwrap();
    assert_eq!(
        (last.from_class.as_deref(), last.to_class.as_str()),
        (Some("A"), "C")
    );
    assert_eq!(last.cause, "violation recorded (minor on 2026-06-14)");
    assert_eq!(last.as_of, "2026-06-15");

    // Two more: repeat offender, D.
    t.app
        .record_event(&id(1), &violation("2026-06-01"), "officer O2")
        .unwrap();
    let d = t
        .app
        .record_event(&id(1), &violation("2026-05-01"), "officer O2")
        .unwrap();
    assert_eq!(d.effective_class, Some(RiskClass::D));
    assert_eq!(d.view.history.len(), 3, "A, C, D");

    // A failed annual report makes the clean pharmacy B.
    let b = t
        .app
        .record_event(
            &id(3),
            &Event::AnnualReport(AnnualReport {
                year: 2024,
                result: ReportResult::Fail,
            }),
            "clerk",
        )
        .unwrap();
    assert_eq!(b.effective_class, Some(RiskClass::B));

    // Licence revoked: D; licensed again: back to B.
    assert_eq!(
        t.app
            .record_event(
                &id(3),
                &Event::Licence {
                    licence: Licence::Revoked
                },
                "clerk"
            )
            .unwrap()
            .effective_class,
        Some(RiskClass::D)
    );
    assert_eq!(
        t.app
            .record_event(
                &id(3),
                &Event::Licence {
                    licence: Licence::Licensed
                },
                "clerk"
            )
            .unwrap()
            .effective_class,
        Some(RiskClass::B)
    );

    // Refusal recorded at an inspection: D.
    let refused = Event::Inspection(Inspection {
        date: date("2026-06-15"),
        officer_id: "O2".into(),
        kind: InspectionKind::Routine,
        outcome: Outcome::Refused,
    });
    assert_eq!(
        t.app
            .record_event(&id(2), &refused, "officer O2")
            .unwrap()
            .effective_class,
        Some(RiskClass::D)
    );

    // Complaints: three substantiated make D; an unsubstantiated one changes nothing.
    let complaint = |d: &str, s: bool| {
        Event::Complaint(Complaint {
            date: date(d),
            channel: "12315".into(),
            substantiated: s,
        })
    };
    let before = t.app.entity(&id(4)).unwrap().view.history.len();
    t.app
        .record_event(&id(4), &complaint("2026-06-01", false), "hotline")
        .unwrap();
    assert_eq!(
        t.app.entity(&id(4)).unwrap().view.history.len(),
        before,
        "no class change, no history row"
    );

    // Every event is in the audit log.
    let dump = Store::open(&t.app.db_path).unwrap().dump().unwrap();
    assert_eq!(
        dump.iter()
            .filter(|r| r.starts_with("audit_log:") && r.contains("\"record\""))
            .count(),
        8
    );
}

#[test]
fn an_event_for_an_unknown_business_changes_nothing() {
    let (t, _r) = setup("2026-06-15");
    let before = Store::open(&t.app.db_path).unwrap().dump().unwrap();
    let e = Event::Licence {
        licence: Licence::Revoked,
    };
    let err = t
        .app
        .record_event(&EntityId::parse("nobody").unwrap(), &e, "clerk")
        .unwrap_err();
    assert_eq!(err.to_string(), "business 'nobody' not found");
    assert_eq!(Store::open(&t.app.db_path).unwrap().dump().unwrap(), before);
}

#[test]
fn the_nightly_job_reclassifies_by_time_catches_up_once_and_is_idempotent() {
    // The shoe shop's only violation (2025-09-01) leaves the window on 2027-09-01.
    let (t, _r) = setup("2027-08-30");
    assert_eq!(
        t.app.entity(&id(2)).unwrap().effective_class,
        Some(RiskClass::B)
    );
    let schedule = parse_schedule("0 0 2 * * *").unwrap();

    // The server was down for three nights; at start-up on 2027-09-03 one run catches up.
    let later = t.at("2027-09-03");
    let report = run_nightly_if_due(&later, &schedule)
        .unwrap()
        .expect("a missed run is caught up");
    assert_eq!(report.as_of, Some(date("2027-09-03")));
    assert!(report.changed >= 1);
    let shoe = later.entity(&id(2)).unwrap();
    assert_eq!(shoe.effective_class, Some(RiskClass::A));
    let last = shoe.view.history.last().unwrap();
    assert_eq!(
        (
            last.from_class.as_deref(),
            last.to_class.as_str(),
            last.cause.as_str()
        ),
        (Some("B"), "A", "nightly")
    );

    // The same slot again: nothing to do, nothing written.
    let before = Store::open(&t.app.db_path).unwrap().dump().unwrap();
    assert!(run_nightly_if_due(&later, &schedule).unwrap().is_none());
    assert_eq!(Store::open(&t.app.db_path).unwrap().dump().unwrap(), before);
    // Even forced, the nightly pass changes no class a second time.
    assert_eq!(
        later
            .nightly_reclassify(date("2027-09-03"))
            .unwrap()
            .changed,
        0
    );
}

#[test]
fn overrides_need_a_reason_show_beside_the_computed_class_and_lapse() {
    let (t, _r) = setup("2026-06-15");
    let err = t
        .app
        .set_override(&id(1), RiskClass::D, "  ", date("2026-07-01"), "chief Wang")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "reason: an override needs a written reason"
    );
    let err = t
        .app
        .set_override(
            &id(1),
            RiskClass::D,
            "food poisoning report",
            date("2028-07-01"),
            "chief Wang",
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("expires_on: an override may run at most 365 days"),
        "{err}"
    );

    t.app
        .set_override(
            &id(1),
            RiskClass::D,
            "food poisoning report under investigation",
            date("2026-07-01"),
            "chief Wang",
        )
        .unwrap();
    let shown = t.app.entity(&id(1)).unwrap();
    assert_eq!(shown.effective_class, Some(RiskClass::D));
    assert_eq!(
        shown.view.computed.as_ref().unwrap().class,
        RiskClass::A,
        "the computed class is shown beside it"
    );
    assert_eq!(
        shown.view.active_override.as_ref().unwrap().set_by,
        "chief Wang"
    );

    // After the expiry it no longer holds, and the nightly job records the lapse.
    let later = t.at("2026-07-02");
    assert_eq!(
        later.entity(&id(1)).unwrap().effective_class,
        Some(RiskClass::A)
    );
    let report = later.nightly_reclassify(date("2026-07-02")).unwrap();
    assert_eq!(report.overrides_lapsed, 1);
    let dump = Store::open(&t.app.db_path).unwrap().dump().unwrap();
    assert!(
        dump.iter()
            .any(|r| r.starts_with("audit_log:") && r.contains("override set"))
    );
    assert!(
        dump.iter()
            .any(|r| r.starts_with("audit_log:") && r.contains("override lapsed"))
    );
    assert_eq!(
        later
            .nightly_reclassify(date("2026-07-02"))
            .unwrap()
            .overrides_lapsed,
        0
    );

    // Lifting early is audited too.
    later
        .set_override(
            &id(2),
            RiskClass::C,
            "market campaign",
            date("2026-08-01"),
            "chief Wang",
        )
        .unwrap();
    assert!(later.lift_override(&id(2), "chief Wang").unwrap().is_some());
    assert_eq!(
        later.entity(&id(2)).unwrap().effective_class,
        Some(RiskClass::B)
    );
}

#[test]
fn the_first_nightly_run_under_a_changed_policy_reclassifies_everything() {
    let (t, _r) = setup("2026-06-15");
    let schedule = parse_schedule("0 0 2 * * *").unwrap();
    let first = run_nightly_if_due(&t.at("2026-06-16"), &schedule)
        .unwrap()
        .unwrap();
    assert!(
        first.everything,
        "no earlier run: the policy is new to the job"
    );
    let second = run_nightly_if_due(&t.at("2026-06-17"), &schedule)
        .unwrap()
        .unwrap();
    assert!(!second.everything);
    assert_eq!(
        second.examined, 0,
        "nothing is due for review on 2026-06-17"
    );

    // A stricter policy: two violations make a repeat offender, a one-year window.
    let mut stricter = t.at("2026-06-18");
    stricter.policy =
        gridpatrol::domain::policy::Policy::from_toml_str("[classification]\nwindow_days = 365\n")
            .unwrap();
    let third = run_nightly_if_due(&stricter, &schedule).unwrap().unwrap();
    assert!(third.everything);
    assert_eq!(third.examined, 4);
    // The shoe shop's violation of 2025-09-01 is within 365 days: still B. Nothing else moved.
    assert_eq!(
        stricter.entity(&id(2)).unwrap().effective_class,
        Some(RiskClass::B)
    );
}

/// The nightly pass takes exactly the businesses never classified and those whose review
/// date has come (each found through its own index), and no other.
#[test]
fn the_nightly_pass_takes_the_unclassified_and_the_due_and_no_other() {
    let (t, _r) = setup("2026-06-15");
    let raw = rusqlite::Connection::open(&t.app.db_path).unwrap();
    // Of the region's four businesses: one left unclassified (as a row written by hand, or
    // by an older build), one not due for review until much later, two due on 2026-06-30.
    let ids: Vec<String> = raw
        .prepare("SELECT id FROM businesses ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(ids.len(), 4);
    raw.execute(
        "UPDATE businesses SET class = NULL, class_reasons = NULL, class_changes_on = NULL,
                class_review_on = NULL WHERE id = ?1",
        [&ids[0]],
    )
    .unwrap();
    raw.execute(
        "UPDATE businesses SET class_review_on = '2099-01-01' WHERE id = ?1",
        [&ids[1]],
    )
    .unwrap();
    raw.execute(
        "UPDATE businesses SET class_review_on = '2026-06-30' WHERE id IN (?1, ?2)",
        [&ids[2], &ids[3]],
    )
    .unwrap();
    let later = t.at("2026-06-30");
    let report = later.nightly_reclassify(date("2026-06-30")).unwrap();
    assert_eq!(report.examined, 3, "{report:?}");
    let stored = |id: &str| -> (Option<String>, Option<String>) {
        raw.query_row(
            "SELECT class, class_review_on FROM businesses WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    assert!(
        stored(&ids[0]).0.is_some(),
        "the unclassified one is classified"
    );
    assert_eq!(
        stored(&ids[1]).1.as_deref(),
        Some("2099-01-01"),
        "the one not due is not touched"
    );
}
