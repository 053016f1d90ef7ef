//! The classification rules of SPEC §4, pinned case by case through one `check` helper,
//! with the reasons in a snapshot, and the rules' invariants as properties.

use chrono::{Days, NaiveDate};
use gridpatrol::domain::entity::{
    AnnualReport, Business, Complaint, EntityId, Inspection, InspectionKind, Licence, Outcome,
    Records, ReportResult, Severity, Violation,
};
use gridpatrol::domain::policy::{Policy, RiskClass};
use gridpatrol::domain::risk::{class_only, classify, reasons_text};
use proptest::prelude::*;

use crate::support::date;

const AS_OF: &str = "2026-06-15";

fn ago(days: u64) -> NaiveDate {
    date(AS_OF).checked_sub_days(Days::new(days)).unwrap()
}

fn business(industry: &str, licence: Licence, registered_on: Option<&str>) -> Business {
    Business {
        id: EntityId::parse("T1").unwrap(),
        name: "test".into(),
        industry: industry.into(),
        licence,
        location: None,
        address: String::new(),
        registered_on: registered_on.map(date),
    }
}

fn violation(days_ago: u64, severity: Severity, suspended: bool, revoked: bool) -> Violation {
    Violation {
        date: ago(days_ago),
        severity,
        suspended,
        revoked,
        note: String::new(),
    }
}

fn complaint(days_ago: u64, substantiated: bool) -> Complaint {
    Complaint {
        date: ago(days_ago),
        channel: "12315".into(),
        substantiated,
    }
}

fn report(year: i32, result: ReportResult) -> AnnualReport {
    AnnualReport { year, result }
}

/// A retail business registered long ago, licensed, with the given records.
fn retail(records: Records) -> (Business, Records) {
    (
        business("retail", Licence::Licensed, Some("2010-01-01")),
        records,
    )
}

fn with_violations(v: Vec<Violation>) -> Records {
    Records {
        violations: v,
        ..Default::default()
    }
}

/// Classifies one case, checks its class, and returns the line the snapshot pins.
fn check(name: &str, (b, r): (Business, Records), expected: RiskClass) -> String {
    let policy = Policy::default();
    let c = classify(&b, &r, date(AS_OF), &policy);
    assert_eq!(c.class, expected, "{name}: {}", reasons_text(&c.reasons));
    assert_eq!(
        class_only(&b, &r, date(AS_OF), &policy),
        c.class,
        "{name}: the fast path agrees"
    );
    let changes = c.changes_on.map_or("never".to_owned(), |d| d.to_string());
    format!(
        "{name:<44} {} | changes {changes} | {}",
        c.class,
        reasons_text(&c.reasons)
    )
}

#[test]
fn the_rules_case_by_case() {
    use RiskClass::*;
    use Severity::*;
    let lines = vec![
        check("clean retail", retail(Records::default()), A),
        check(
            "minor violation 729 days old",
            retail(with_violations(vec![violation(729, Minor, false, false)])),
            B,
        ),
        check(
            "minor violation 730 days old",
            retail(with_violations(vec![violation(730, Minor, false, false)])),
            A,
        ),
        check(
            "minor violation 731 days old",
            retail(with_violations(vec![violation(731, Minor, false, false)])),
            A,
        ),
        check(
            "violation today",
            retail(with_violations(vec![violation(0, General, false, false)])),
            B,
        ),
        check(
            "key industry, no record",
            (
                business("food", Licence::Licensed, Some("2010-01-01")),
                Records::default(),
            ),
            A,
        ),
        check(
            "key industry with a violation",
            (
                business("food", Licence::Licensed, Some("2010-01-01")),
                with_violations(vec![violation(100, Minor, false, false)]),
            ),
            C,
        ),
        check(
            "key industry, violation left the window",
            (
                business("drugs", Licence::Licensed, Some("2010-01-01")),
                with_violations(vec![violation(800, General, false, false)]),
            ),
            A,
        ),
        check(
            "two violations",
            retail(with_violations(vec![
                violation(10, Minor, false, false),
                violation(20, Minor, false, false),
            ])),
            B,
        ),
        check(
            "three violations: repeat offender",
            retail(with_violations(vec![
                violation(10, Minor, false, false),
                violation(20, Minor, false, false),
                violation(700, General, false, false),
            ])),
            D,
        ),
        check(
            "serious violation with suspension",
            retail(with_violations(vec![violation(50, Serious, true, false)])),
            D,
        ),
        check(
            "serious violation with revocation",
            retail(with_violations(vec![violation(50, Serious, false, true)])),
            D,
        ),
        check(
            "serious violation, no sanction",
            retail(with_violations(vec![violation(50, Serious, false, false)])),
            B,
        ),
        check(
            "serious, no sanction, key industry",
            (
                business("flammable", Licence::Licensed, None),
                with_violations(vec![violation(50, Serious, false, false)]),
            ),
            C,
        ),
        check(
            "serious with suspension, out of window",
            retail(with_violations(vec![violation(730, Serious, true, true)])),
            A,
        ),
        check(
            "third substantiated complaint 364 days old",
            retail(Records {
                complaints: vec![
                    complaint(10, true),
                    complaint(20, true),
                    complaint(364, true),
                ],
                ..Default::default()
            }),
            D,
        ),
        check(
            "third substantiated complaint 365 days old",
            retail(Records {
                complaints: vec![
                    complaint(10, true),
                    complaint(20, true),
                    complaint(365, true),
                ],
                ..Default::default()
            }),
            A,
        ),
        check(
            "third substantiated complaint 366 days old",
            retail(Records {
                complaints: vec![
                    complaint(10, true),
                    complaint(20, true),
                    complaint(366, true),
                ],
                ..Default::default()
            }),
            A,
        ),
        check(
            "five unsubstantiated complaints",
            retail(Records {
                complaints: (1..=5).map(|d| complaint(d * 10, false)).collect(),
                ..Default::default()
            }),
            A,
        ),
        check(
            "refused to cooperate",
            retail(Records {
                inspections: vec![Inspection {
                    date: ago(30),
                    officer_id: "O1".into(),
                    kind: InspectionKind::Routine,
                    outcome: Outcome::Refused,
                }],
                ..Default::default()
            }),
            D,
        ),
        check(
            "unlicensed",
            (
                business("retail", Licence::Unlicensed, None),
                Records::default(),
            ),
            D,
        ),
        check(
            "suspended licence",
            (
                business("retail", Licence::Suspended, None),
                Records::default(),
            ),
            D,
        ),
        check(
            "revoked licence",
            (
                business("retail", Licence::Revoked, None),
                Records::default(),
            ),
            D,
        ),
        check(
            "deregistered licence",
            (
                business("retail", Licence::Deregistered, None),
                Records::default(),
            ),
            D,
        ),
        check(
            "unlicensed and three complaints: every D rule",
            (
                business("retail", Licence::Unlicensed, None),
                Records {
                    complaints: (1..=3).map(|d| complaint(d, true)).collect(),
                    ..Default::default()
                },
            ),
            D,
        ),
        check(
            "annual report 2024 failed",
            retail(Records {
                annual_reports: vec![
                    report(2023, ReportResult::Pass),
                    report(2024, ReportResult::Fail),
                ],
                ..Default::default()
            }),
            B,
        ),
        check(
            "annual report 2024 missing",
            retail(Records {
                annual_reports: vec![
                    report(2023, ReportResult::Pass),
                    report(2024, ReportResult::Missing),
                ],
                ..Default::default()
            }),
            B,
        ),
        check(
            "annual report 2024 absent",
            retail(Records {
                annual_reports: vec![report(2023, ReportResult::Pass)],
                ..Default::default()
            }),
            A,
        ),
        check(
            "report 2022 failed, due 2023-06-30: outside",
            retail(Records {
                annual_reports: vec![report(2022, ReportResult::Fail)],
                ..Default::default()
            }),
            A,
        ),
        check(
            "report 2025 missing, not due until 2026-06-30",
            retail(Records {
                annual_reports: vec![
                    report(2024, ReportResult::Pass),
                    report(2025, ReportResult::Missing),
                ],
                ..Default::default()
            }),
            A,
        ),
        check(
            "too new to owe the 2024 report",
            (
                business("retail", Licence::Licensed, Some("2025-02-01")),
                Records {
                    annual_reports: vec![report(2024, ReportResult::Missing)],
                    ..Default::default()
                },
            ),
            A,
        ),
        check(
            "violation and failed report",
            retail(Records {
                violations: vec![violation(5, Minor, false, false)],
                annual_reports: vec![report(2024, ReportResult::Fail)],
                ..Default::default()
            }),
            B,
        ),
    ];
    insta::assert_snapshot!("rules", lines.join("\n"));
}

#[test]
fn changes_on_is_the_day_the_last_record_leaves_or_a_report_falls_due() {
    let policy = Policy::default();
    let as_of = date(AS_OF);
    // Reports filed (passed) for every year: only the violations move the reasons.
    let (b, r) = retail(Records {
        annual_reports: (2022..=2026)
            .map(|y| report(y, ReportResult::Pass))
            .collect(),
        ..with_violations(vec![
            violation(100, Severity::Minor, false, false),
            violation(300, Severity::Minor, false, false),
        ])
    });
    let c = classify(&b, &r, as_of, &policy);
    assert_eq!(c.class, RiskClass::B);
    assert_eq!(
        c.changes_on,
        Some(ago(100).checked_add_days(Days::new(730)).unwrap()),
        "B until the newest violation leaves"
    );
    assert_eq!(
        c.review_on,
        Some(ago(300).checked_add_days(Days::new(730)).unwrap()),
        "reasons change when the older one leaves"
    );
    assert_eq!(
        class_only(&b, &r, c.changes_on.unwrap(), &policy),
        RiskClass::A
    );
    assert_eq!(
        class_only(&b, &r, c.changes_on.unwrap().pred_opt().unwrap(), &policy),
        RiskClass::B
    );

    // A missing 2025 report falls due on 2026-06-30: B from that day on.
    let (b, r) = retail(Records {
        annual_reports: vec![report(2025, ReportResult::Missing)],
        ..Default::default()
    });
    assert_eq!(
        classify(&b, &r, as_of, &policy).changes_on,
        Some(date("2026-06-30"))
    );

    // Three complaints: D until the oldest of them is 365 days old.
    let (b, r) = retail(Records {
        complaints: vec![
            complaint(10, true),
            complaint(20, true),
            complaint(30, true),
        ],
        ..Default::default()
    });
    assert_eq!(
        classify(&b, &r, as_of, &policy).changes_on,
        Some(ago(30).checked_add_days(Days::new(365)).unwrap())
    );

    // With no report on record the class never changes, but the note naming the years
    // without one does when the 2025 report falls due: that is its review date.
    let (b, r) = retail(Records::default());
    let c = classify(&b, &r, as_of, &policy);
    assert_eq!(c.changes_on, None);
    assert_eq!(c.review_on, Some(date("2026-06-30")));
}

#[test]
fn policy_numbers_drive_the_rules() {
    let policy = Policy::from_toml_str(
        "[classification]\nrepeat_offender_violations = 2\nwindow_days = 365\n",
    )
    .unwrap();
    let (b, r) = retail(with_violations(vec![
        violation(10, Severity::Minor, false, false),
        violation(20, Severity::Minor, false, false),
    ]));
    assert_eq!(classify(&b, &r, date(AS_OF), &policy).class, RiskClass::D);
    let (b, r) = retail(with_violations(vec![violation(
        400,
        Severity::Minor,
        false,
        false,
    )]));
    assert_eq!(classify(&b, &r, date(AS_OF), &policy).class, RiskClass::A);
}

// ---- properties ----

fn arb_records(max_age: u64) -> impl Strategy<Value = Records> {
    let violation =
        (0..max_age, 0..3u8, any::<bool>(), any::<bool>()).prop_map(|(d, s, su, re)| Violation {
            date: ago(d),
            severity: [Severity::Minor, Severity::General, Severity::Serious][s as usize],
            suspended: su,
            revoked: re,
            note: String::new(),
        });
    let complaint = (0..max_age, any::<bool>()).prop_map(|(d, s)| complaint(d, s));
    // Reports whose due date (30 June of the next year) is on or before AS_OF.
    let report = (2019..2025i32, 0..3u8).prop_map(|(y, r)| {
        report(
            y,
            [
                ReportResult::Pass,
                ReportResult::Fail,
                ReportResult::Missing,
            ][r as usize],
        )
    });
    let inspection = (0..max_age, any::<bool>()).prop_map(|(d, refused)| Inspection {
        date: ago(d),
        officer_id: "O1".into(),
        kind: InspectionKind::Routine,
        outcome: if refused {
            Outcome::Refused
        } else {
            Outcome::Ok
        },
    });
    (
        proptest::collection::vec(violation, 0..4),
        proptest::collection::vec(complaint, 0..5),
        proptest::collection::btree_map(2019..2025i32, report, 0..4),
        proptest::collection::vec(inspection, 0..2),
    )
        .prop_map(|(violations, complaints, reports, inspections)| Records {
            violations,
            complaints,
            annual_reports: reports
                .into_iter()
                .map(|(y, r)| AnnualReport { year: y, ..r })
                .collect(),
            inspections,
        })
}

fn arb_business() -> impl Strategy<Value = Business> {
    let industries = ["food", "retail", "drugs", "services"];
    (0..4usize, 0..10u8, proptest::option::of(2015..2026i32)).prop_map(move |(i, l, year)| {
        let licence = if l < 8 {
            Licence::Licensed
        } else {
            [Licence::Unlicensed, Licence::Suspended][(l - 8) as usize]
        };
        let registered = year.map(|y| format!("{y}-03-01"));
        business(industries[i], licence, registered.as_deref())
    })
}

proptest! {
    #[test]
    fn adding_a_violation_never_lowers_the_class(b in arb_business(), r in arb_records(900), extra in (0..900u64, 0..3u8)) {
        let policy = Policy::default();
        let before = class_only(&b, &r, date(AS_OF), &policy);
        let mut more = r.clone();
        more.violations.push(Violation { date: ago(extra.0), severity: [Severity::Minor, Severity::General, Severity::Serious][extra.1 as usize], suspended: false, revoked: false, note: String::new() });
        prop_assert!(class_only(&b, &more, date(AS_OF), &policy) >= before);
    }

    #[test]
    fn adding_a_substantiated_complaint_never_lowers_the_class(b in arb_business(), r in arb_records(900), days in 0..900u64) {
        let policy = Policy::default();
        let before = class_only(&b, &r, date(AS_OF), &policy);
        let mut more = r.clone();
        more.complaints.push(complaint(days, true));
        prop_assert!(class_only(&b, &more, date(AS_OF), &policy) >= before);
    }

    /// With every record dated on or before as_of and every report already due, the passage
    /// of time only takes records out of their windows.
    #[test]
    fn time_passing_without_new_records_never_raises_the_class(b in arb_business(), r in arb_records(900), later in 1..1000u64) {
        let policy = Policy::default();
        let now = classify(&b, &r, date(AS_OF), &policy);
        let then = class_only(&b, &r, date(AS_OF).checked_add_days(Days::new(later)).unwrap(), &policy);
        prop_assert!(then <= now.class);
        // And the class holds until changes_on.
        if let Some(day) = now.changes_on {
            prop_assert_eq!(class_only(&b, &r, day.pred_opt().unwrap(), &policy), now.class);
            prop_assert_ne!(class_only(&b, &r, day, &policy), now.class);
        } else {
            prop_assert_eq!(then, now.class);
        }
    }

    /// Re-classifying reads only refused visits from the store (`InspectionRows::Refusals`):
    /// the class, reasons and dates must not depend on any other visit.
    #[test]
    fn visits_other_than_refusals_change_nothing(b in arb_business(), r in arb_records(900), visits in proptest::collection::vec((0..900u64, 0..6usize), 0..6)) {
        let policy = Policy::default();
        let outcomes = [Outcome::Ok, Outcome::Findings, Outcome::Rectification, Outcome::Case, Outcome::Closed, Outcome::Ok];
        let mut more = r.clone();
        for (days, o) in visits {
            more.inspections.push(Inspection { date: ago(days), officer_id: "O3".into(), kind: InspectionKind::Targeted, outcome: outcomes[o] });
        }
        let refusals_only = Records {
            inspections: more.inspections.iter().filter(|i| i.outcome == Outcome::Refused).cloned().collect(),
            ..more.clone()
        };
        let all = classify(&b, &more, date(AS_OF), &policy);
        let refused = classify(&b, &refusals_only, date(AS_OF), &policy);
        prop_assert_eq!(all.class, refused.class);
        prop_assert_eq!(all.reasons, refused.reasons);
        prop_assert_eq!(all.changes_on, refused.changes_on);
        prop_assert_eq!(all.review_on, refused.review_on);
    }

    /// A stored classification is taken as current until its review date (the nightly pass
    /// re-classifies only businesses due for review, and a visit that adds nothing the
    /// rules read confirms the stored class): every day before it, the class and the
    /// reasons read the same.
    #[test]
    fn a_classification_holds_until_its_review_date(b in arb_business(), r in arb_records(900), step in 1..400u64) {
        let policy = Policy::default();
        let now = classify(&b, &r, date(AS_OF), &policy);
        let later = date(AS_OF).checked_add_days(Days::new(step)).unwrap();
        if now.review_on.is_none_or(|review| later < review) {
            let then = classify(&b, &r, later, &policy);
            prop_assert_eq!(then.class, now.class);
            prop_assert_eq!(then.reasons, now.reasons);
            prop_assert_eq!(then.review_on, now.review_on);
            prop_assert_eq!(then.changes_on, now.changes_on);
        }
    }

    #[test]
    fn records_outside_their_windows_change_nothing(b in arb_business(), r in arb_records(700), old in proptest::collection::vec((731..3000u64, any::<bool>()), 1..5)) {
        let policy = Policy::default();
        let before = classify(&b, &r, date(AS_OF), &policy);
        let mut more = r.clone();
        for (days, sanction) in old {
            more.violations.push(violation(days, Severity::Serious, sanction, sanction));
            more.complaints.push(complaint(days.min(366 + days % 300), true));
            more.inspections.push(Inspection { date: ago(days), officer_id: "O2".into(), kind: InspectionKind::Routine, outcome: Outcome::Refused });
        }
        let after = classify(&b, &more, date(AS_OF), &policy);
        prop_assert_eq!(after.class, before.class);
        prop_assert_eq!(after.reasons, before.reasons);
    }
}
