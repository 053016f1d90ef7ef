//! The store: migrations as a validated list, connection settings on a real file.

use gridpatrol::store::{MIGRATIONS, Store, StoreError};

#[test]
fn migrations_are_numbered_from_one_without_gaps_and_named() {
    assert!(!MIGRATIONS.is_empty());
    for (i, m) in MIGRATIONS.iter().enumerate() {
        assert_eq!(
            m.version as usize,
            i + 1,
            "migration {} is out of sequence",
            m.name
        );
        assert!(!m.name.trim().is_empty());
        assert!(!m.sql.trim().is_empty());
    }
}

#[test]
fn a_fresh_file_is_migrated_to_the_last_version_and_reopening_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        MIGRATIONS.last().unwrap().version
    );
    let tables = store.tables().unwrap();
    for table in [
        "regions",
        "units",
        "grids",
        "grid_plans",
        "grid_units",
        "areas",
        "area_grids",
        "businesses",
        "violations",
        "complaints",
        "annual_reports",
        "inspections",
        "officers",
        "posts",
        "tasks",
        "class_history",
        "class_overrides",
        "audit_log",
        "job_runs",
    ] {
        assert!(
            tables.iter().any(|t| t == table),
            "table {table} is missing from {tables:?}"
        );
    }
    drop(store);
    let again = Store::open(&path).unwrap();
    assert_eq!(again.tables().unwrap(), tables);
}

#[test]
fn every_connection_uses_wal_foreign_keys_and_a_busy_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("g.db")).unwrap();
    assert_eq!(store.pragma("journal_mode").unwrap(), "wal");
    assert_eq!(store.pragma("foreign_keys").unwrap(), "1");
    assert_eq!(store.pragma("busy_timeout").unwrap(), "5000");
    assert_eq!(
        store.pragma("synchronous").unwrap(),
        "2",
        "FULL: an acknowledged write survives a crash"
    );
}

#[test]
fn a_database_from_a_newer_gridpatrol_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
    }
    match Store::open(&path) {
        Err(StoreError::TooNew { found: 999, .. }) => {}
        other => panic!("expected TooNew, got {other:?}"),
    }
}

#[test]
fn a_failed_write_rolls_back_everything_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("g.db")).unwrap();
    let result: Result<(), StoreError> = store.write(|db| {
        db.audit(
            "2026-01-01T00:00:00Z",
            "test",
            "first",
            "x",
            &serde_json::json!({}),
        )?;
        Err(StoreError::Conflict("stop".into()))
    });
    assert!(result.is_err());
    assert!(
        store
            .dump()
            .unwrap()
            .iter()
            .all(|row| !row.starts_with("audit_log"))
    );
}

#[test]
fn stored_json_that_does_not_parse_is_an_error_not_a_null() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("g.db")).unwrap();
    store
        .write(|db| {
            db.audit_text("2026-01-01T00:00:00Z", "test", "good", "x", r#"{"a":1}"#)?;
            db.audit_text("2026-01-01T00:00:01Z", "test", "bad", "y", "{not json")
        })
        .unwrap();
    // Reading the bad entry names the column it could not read, instead of showing null.
    let err = store.read().audit_log(None, 10).unwrap_err().to_string();
    assert!(err.contains("at index: 5"), "{err}");
    let good = store.read().audit_log(Some(2), 10).unwrap();
    assert_eq!(good.len(), 1);
    assert_eq!(good[0].detail, serde_json::json!({ "a": 1 }));
}
