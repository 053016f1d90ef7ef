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

#[test]
fn demo_builds_a_fresh_database_from_the_bundled_region() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    std::fs::write(&db, b"not a database: demo must replace it").unwrap();
    let out = gridpatrol(&["--db", db.to_str().unwrap(), "demo", "--no-serve"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("imported region 420102 (江岸区)"), "{text}");
    assert!(text.contains("units                        141"), "{text}");
    assert!(text.contains("UNLOCATED businesses: 7"), "{text}");

    // The whole pipeline ran: an approved plan with every grid staffed, a year of tasks,
    // and an account per role whose printed password signs in.
    let mut app = gridpatrol::app::App::new(
        db.clone(),
        gridpatrol::domain::policy::Policy::default(),
        gridpatrol::app::Clock::System,
    );
    app.token_hours = 1;
    let cli = crate::support::test_caller();
    let plans = app.plans(&cli, "420102").unwrap();
    assert!(plans.iter().any(|p| p.status == "approved"), "{plans:?}");
    let clears = app
        .clears(&crate::support::test_caller(), "420102")
        .unwrap();
    assert!(clears.grids_without_a_post.is_empty(), "{clears:?}");
    assert!(clears.units_without_grid.is_empty());
    let officer = text
        .lines()
        .find(|l| l.trim_start().starts_with("officer "))
        .expect("the officer account is printed");
    let password = officer.split_whitespace().last().unwrap();
    let login = app.login("officer", password).unwrap();
    let list = app
        .due_list(
            &crate::support::test_caller(),
            login.user.officer_id.as_deref().unwrap(),
            app.clock.today(),
            30,
            None,
        )
        .unwrap();
    assert!(!list.tasks.is_empty(), "the demo officer has work");

    // Two months of patrol work replayed through the real use cases: last month has its
    // bulletin, and its figures show work done, some missed, some entered late.
    let today = app.clock.today();
    let (this_month, _) = gridpatrol::app::schedule::month_of(today);
    let (from, to) = gridpatrol::app::schedule::month_of(this_month.pred_opt().unwrap());
    let (start, end, bulletin) = app
        .latest_bulletin(&crate::support::test_caller(), "month", "420102")
        .unwrap()
        .expect("last month's bulletin");
    assert_eq!((start, end), (from, to));
    assert!(
        bulletin["rankings"]["grids"]["top"]
            .as_array()
            .unwrap()
            .len()
            == 2
    );
    let rows = app
        .coverage_report(
            &crate::support::test_caller(),
            "420102",
            gridpatrol::domain::report::Period { from, to },
            gridpatrol::domain::report::Breakdown::Grid,
            None,
        )
        .unwrap();
    let total = rows.last().unwrap();
    assert!(total.done > 0 && total.done < total.required, "{total:?}");
    assert!(
        total.same_day_rate > 0.8 && total.same_day_rate < 1.0,
        "{total:?}"
    );
    assert!(total.findings > 0 && total.notices_issued > 0, "{total:?}");
}

#[test]
fn the_generator_is_seeded_and_its_output_imports() {
    let region = TinyRegion::new();
    let path = region.path().to_str().unwrap();
    let run = |seed: &str| {
        let out = gridpatrol(&[
            "generate",
            "--region",
            path,
            "--businesses",
            "300",
            "--seed",
            seed,
            "--as-of",
            "2026-06-01",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        [
            "entities.csv",
            "violations.csv",
            "complaints.csv",
            "annual_reports.csv",
            "inspections.csv",
            "officers.csv",
        ]
        .map(|f| region.read(f))
    };
    let first = run("5");
    assert_eq!(run("5"), first, "same seed, same files");
    assert_ne!(run("6")[0], first[0], "another seed, another register");
    run("5");
    let db = region.path().join("g.db");
    let out = gridpatrol(&["--db", db.to_str().unwrap(), "import", "--region", path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("entities.csv                 300 rows"),
        "{text}"
    );
}

#[test]
fn partition_prints_its_measures_last_and_a_redraw_of_its_own_plan_moves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let grids = dir.path().join("grids.geojson");
    let region = concat!(env!("CARGO_MANIFEST_DIR"), "/regions/jiangan");
    let args = [
        "partition",
        "--region",
        region,
        "--grids",
        "6",
        "--tolerance",
        "0.05",
        "--starts",
        "2",
        "--as-of",
        "2026-11-01",
    ];
    let out = gridpatrol(&[&args[..], &["--out", grids.to_str().unwrap()]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let mut keys: Vec<&str> = last
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "connected",
            "cut_edges",
            "grids",
            "max_over",
            "max_under",
            "pp_mean",
            "pp_min",
            "seconds"
        ]
    );
    assert_eq!(
        (last["grids"].as_u64(), last["connected"].as_u64()),
        (Some(6), Some(6))
    );
    assert!(
        last["max_over"].as_f64().unwrap() <= 0.05 && last["max_under"].as_f64().unwrap() <= 0.05,
        "{last}"
    );

    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&grids).unwrap()).unwrap();
    let features = written["features"].as_array().unwrap();
    assert_eq!(features.len(), 6);
    let units: usize = features
        .iter()
        .map(|f| f["properties"]["units"].as_array().unwrap().len())
        .sum();
    assert_eq!(units, 141, "every unit in exactly one grid");
    let businesses: u64 = features
        .iter()
        .map(|f| f["properties"]["businesses"].as_u64().unwrap())
        .sum();
    assert_eq!(businesses, 11_993, "every located business counted once");

    let again = gridpatrol(&[&args[..], &["--from", grids.to_str().unwrap()]].concat());
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let text = String::from_utf8(again.stdout).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(
        (
            last["moved_units"].as_u64(),
            last["moved_businesses"].as_u64()
        ),
        (Some(0), Some(0)),
        "{text}"
    );
}

#[test]
fn user_add_makes_an_account_that_signs_in_and_refuses_a_duplicate() {
    use std::io::Write;
    let t = crate::support::TestApp::new("2026-06-15");
    let region = TinyRegion::new();
    t.app
        .import_region(region.path(), gridpatrol::spatial::crs::Crs::Wgs84, "test")
        .unwrap();
    let db = t.app.db_path.to_str().unwrap().to_owned();
    let add = |username: &str, stdin: &str, extra: &[&str]| {
        let mut args = vec!["--db", db.as_str(), "user", "add", "--username", username];
        args.extend_from_slice(extra);
        let mut child = Command::new(env!("CARGO_BIN_EXE_gridpatrol"))
            .args(&args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = add(
        "li",
        "a long enough password\n",
        &["--role", "officer", "--officer", "O2", "--password-stdin"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let login = t.app.login("li", "a long enough password").unwrap();
    assert_eq!(login.user.officer_id.as_deref(), Some("O2"));
    assert!(t.app.login("li", "a wrong password").is_err());

    // A random password is printed once when none is given.
    let out = add("chen", "", &["--role", "manager"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let password = text.rsplit(' ').next().unwrap().trim();
    assert_eq!(t.app.login("chen", password).unwrap().user.role, "manager");

    for (args, needle) in [
        (vec!["--role", "manager"], "already exists"),
        (vec!["--role", "overlord"], "not a role"),
    ] {
        let out = add("chen", "", &args);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = add("wu", "", &["--role", "officer"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("officer_id"));
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    use std::io::BufRead;
    let t = crate::support::TestApp::new("2026-06-15");
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridpatrol"))
        .args([
            "--db",
            t.app.db_path.to_str().unwrap(),
            "serve",
            "--bind",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines
            .next()
            .unwrap()
            .unwrap()
            .contains("serving on http://127.0.0.1:")
    );
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap();
    assert!(code.success(), "exit after SIGTERM: {code:?}");
}

#[test]
fn report_writes_csv_and_an_excel_workbook_and_clears_lists_what_is_missing() {
    let t = crate::support::TestApp::new("2027-01-20");
    let region = TinyRegion::generated(60, 9, "2026-12-31", Some(6));
    region.plan_and_staff(&t.app, 2, "2027-01-01", "2027-12-31");
    let db = t.app.db_path.to_str().unwrap().to_owned();
    let out = gridpatrol(&["--db", &db, "report", "--period", "2027-Q1", "--by", "grid"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("key,businesses,required,done,")
    );
    let keys: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(keys, vec!["G01", "G02", "total"]);
    let xlsx = t._dir.path().join("q1.xlsx");
    let out = gridpatrol(&[
        "--db",
        &db,
        "report",
        "--period",
        "2027-Q1",
        "--by",
        "grid",
        "--format",
        "xlsx",
        "--out",
        xlsx.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::read(&xlsx).unwrap().starts_with(b"PK\x03\x04"));
    let out = gridpatrol(&["--db", &db, "report", "--period", "2027-Q9"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a period"));

    let out = gridpatrol(&["--db", &db, "clears"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["units_without_grid"], serde_json::json!([]));
    let missing = report["unlocated_businesses"].as_array().unwrap().len()
        + report["grids_without_b_post"].as_array().unwrap().len();
    assert_eq!(out.status.success(), missing == 0);
}
