//! The command line as other tools call it: exact output columns, errors on stderr with a
//! non-zero exit.

use std::process::Command;

use crate::support::{TinyRegion, code};

fn gridpatrol(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gridpatrol"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn classify_prints_one_csv_row_per_business_in_input_order() {
    let region = TinyRegion::new();
    let out = gridpatrol(&[
        "classify",
        "--region",
        region.path().to_str().unwrap(),
        "--as-of",
        "2026-06-15",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        vec!["entity_id", "class", "reasons"]
    );
    let rows: Vec<(String, String, String)> = reader.deserialize().map(Result::unwrap).collect();
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(ids, vec![code(1), code(2), code(3), code(4)]);
    let classes: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(classes, vec!["A", "B", "A", "D"]);
    assert_eq!(
        rows[1].2,
        "B-violation: 1 violation record(s) in the window (last 2025-09-01); note: no annual report on record for 2023 (not held against it)"
    );
    assert_eq!(rows[3].2, "D-licence: operating without a licence");
}

#[test]
fn classify_errors_go_to_stderr_with_a_failing_exit() {
    let region = TinyRegion::new();
    region.edit("entities.csv", "2018-07-01", "July 2018");
    let out = gridpatrol(&[
        "classify",
        "--region",
        region.path().to_str().unwrap(),
        "--as-of",
        "2026-06-15",
    ]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("entities.csv:3: column registered_on: 'July 2018' is not a date"),
        "{err}"
    );
}

#[test]
fn a_bad_policy_file_is_named() {
    let region = TinyRegion::new();
    let policy = region.path().join("policy.toml");
    std::fs::write(&policy, "[classification]\nwindow_days = 0\n").unwrap();
    let out = gridpatrol(&[
        "classify",
        "--region",
        region.path().to_str().unwrap(),
        "--as-of",
        "2026-06-15",
        "--policy",
        policy.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("policy key `classification.window_days`: must be positive (got 0)"),
        "{err}"
    );
}

#[test]
fn import_uses_the_db_flag_and_prints_a_summary() {
    let region = TinyRegion::new();
    let db = region.path().join("x.db");
    let out = gridpatrol(&[
        "--db",
        db.to_str().unwrap(),
        "import",
        "--region",
        region.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("imported region tiny (Tiny district)"),
        "{text}"
    );
    assert!(
        text.contains("businesses located             4 of 4"),
        "{text}"
    );
    assert!(db.exists());
}
