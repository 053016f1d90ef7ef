//! Schema migrations: a const list, applied in order, tracked by `PRAGMA user_version`.

/// One step of the schema. Versions run 1, 2, 3… with no gap; a released step is never edited.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
    /// Run after `sql`, in the same transaction: a change SQL alone cannot express.
    pub then: Option<fn(&rusqlite::Connection) -> rusqlite::Result<()>>,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema",
        sql: r#"
CREATE TABLE regions (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    geometry    TEXT NOT NULL,             -- GeoJSON MultiPolygon, WGS84
    area_m2     REAL NOT NULL,
    source_crs  TEXT NOT NULL,
    properties  TEXT NOT NULL DEFAULT '{}',
    imported_at TEXT NOT NULL
) STRICT;

CREATE TABLE units (
    region_code TEXT NOT NULL REFERENCES regions(code) ON DELETE CASCADE,
    code        TEXT NOT NULL,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    parent      TEXT,
    dedicated   INTEGER NOT NULL DEFAULT 0 CHECK (dedicated IN (0, 1)),
    geometry    TEXT NOT NULL,
    area_m2     REAL NOT NULL,
    properties  TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (region_code, code)
) STRICT;

CREATE TABLE officers (
    id               TEXT PRIMARY KEY,
    region_code      TEXT REFERENCES regions(code) ON DELETE SET NULL,
    name             TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('chief', 'deputy', 'officer', 'helper')),
    years_of_service INTEGER NOT NULL CHECK (years_of_service >= 0),
    hours_per_month  REAL NOT NULL CHECK (hours_per_month >= 0),
    certified        INTEGER NOT NULL CHECK (certified IN (0, 1)),
    skills           TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE grid_plans (
    region_code TEXT NOT NULL REFERENCES regions(code) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'retired')),
    created_at  TEXT NOT NULL,
    approved_at TEXT,
    approved_by TEXT,
    metrics     TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (region_code, version)
) STRICT;

CREATE TABLE grids (
    id           INTEGER PRIMARY KEY,
    region_code  TEXT NOT NULL,
    plan_version INTEGER NOT NULL,
    code         TEXT NOT NULL,
    name         TEXT NOT NULL,
    geometry     TEXT,
    workload     REAL NOT NULL DEFAULT 0,
    UNIQUE (region_code, plan_version, code),
    FOREIGN KEY (region_code, plan_version) REFERENCES grid_plans(region_code, version) ON DELETE CASCADE
) STRICT;

CREATE TABLE grid_units (
    grid_id     INTEGER NOT NULL REFERENCES grids(id) ON DELETE CASCADE,
    region_code TEXT NOT NULL,
    unit_code   TEXT NOT NULL,
    PRIMARY KEY (grid_id, unit_code),
    FOREIGN KEY (region_code, unit_code) REFERENCES units(region_code, code)
) STRICT;

CREATE TABLE areas (
    id                INTEGER PRIMARY KEY,
    region_code       TEXT NOT NULL REFERENCES regions(code) ON DELETE CASCADE,
    code              TEXT NOT NULL,
    name              TEXT NOT NULL,
    deputy_officer_id TEXT REFERENCES officers(id),
    UNIQUE (region_code, code)
) STRICT;

CREATE TABLE area_grids (
    area_id INTEGER NOT NULL REFERENCES areas(id) ON DELETE CASCADE,
    grid_id INTEGER NOT NULL REFERENCES grids(id) ON DELETE CASCADE,
    PRIMARY KEY (area_id, grid_id)
) STRICT;

CREATE TABLE posts (
    id         INTEGER PRIMARY KEY,
    grid_id    INTEGER NOT NULL REFERENCES grids(id) ON DELETE CASCADE,
    officer_id TEXT NOT NULL REFERENCES officers(id),
    post       TEXT NOT NULL CHECK (post IN ('A', 'B')),
    since      TEXT NOT NULL,
    until      TEXT
) STRICT;
CREATE UNIQUE INDEX posts_one_a_post ON posts(grid_id) WHERE post = 'A' AND until IS NULL;

CREATE TABLE businesses (
    id               TEXT PRIMARY KEY,
    region_code      TEXT NOT NULL REFERENCES regions(code),
    name             TEXT NOT NULL,
    industry         TEXT NOT NULL,
    licence          TEXT NOT NULL CHECK (licence IN ('licensed', 'unlicensed', 'suspended', 'revoked', 'deregistered')),
    lon              REAL,
    lat              REAL,
    address          TEXT NOT NULL DEFAULT '',
    registered_on    TEXT,
    unit_code        TEXT,               -- NULL: unlocated, reported
    class            TEXT CHECK (class IN ('A', 'B', 'C', 'D')),
    class_reasons    TEXT,               -- JSON array of reasons
    class_changes_on TEXT,               -- first day time alone changes the class
    class_review_on  TEXT,               -- first day time alone changes class or reasons
    classified_as_of TEXT,
    FOREIGN KEY (region_code, unit_code) REFERENCES units(region_code, code)
) STRICT;
CREATE INDEX businesses_unit ON businesses(region_code, unit_code);
CREATE INDEX businesses_review_on ON businesses(class_review_on);

CREATE TABLE violations (
    id          INTEGER PRIMARY KEY,
    entity_id   TEXT NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    date        TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('minor', 'general', 'serious')),
    suspended   INTEGER NOT NULL CHECK (suspended IN (0, 1)),
    revoked     INTEGER NOT NULL CHECK (revoked IN (0, 1)),
    note        TEXT NOT NULL DEFAULT '',
    source      TEXT NOT NULL CHECK (source IN ('import', 'app')),
    import_seq  INTEGER,                  -- position among the entity's rows in the file; NULL from the app
    recorded_by TEXT,
    recorded_at TEXT
) STRICT;
CREATE INDEX violations_entity ON violations(entity_id);
CREATE UNIQUE INDEX violations_import_seq ON violations(entity_id, import_seq);

CREATE TABLE complaints (
    id            INTEGER PRIMARY KEY,
    entity_id     TEXT NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    date          TEXT NOT NULL,
    channel       TEXT NOT NULL DEFAULT '',
    substantiated INTEGER NOT NULL CHECK (substantiated IN (0, 1)),
    source        TEXT NOT NULL CHECK (source IN ('import', 'app')),
    import_seq    INTEGER,
    recorded_by   TEXT,
    recorded_at   TEXT
) STRICT;
CREATE INDEX complaints_entity ON complaints(entity_id);
CREATE UNIQUE INDEX complaints_import_seq ON complaints(entity_id, import_seq);

CREATE TABLE annual_reports (
    entity_id   TEXT NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    year        INTEGER NOT NULL,
    result      TEXT NOT NULL CHECK (result IN ('pass', 'fail', 'missing')),
    source      TEXT NOT NULL CHECK (source IN ('import', 'app')),
    import_seq  INTEGER,                  -- position among the entity's rows in the file; NULL from the app
    recorded_by TEXT,
    recorded_at TEXT,
    PRIMARY KEY (entity_id, year)
) STRICT;

CREATE TABLE inspections (
    id          INTEGER PRIMARY KEY,
    entity_id   TEXT NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    date        TEXT NOT NULL,
    officer_id  TEXT NOT NULL DEFAULT '',
    kind        TEXT NOT NULL CHECK (kind IN ('routine', 'special', 'targeted', 'follow_up')),
    outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'findings', 'rectification', 'case', 'refused', 'closed')),
    source      TEXT NOT NULL CHECK (source IN ('import', 'app')),
    import_seq  INTEGER,                  -- position among the entity's rows in the file; NULL from the app
    recorded_by TEXT,
    recorded_at TEXT
) STRICT;
CREATE INDEX inspections_entity ON inspections(entity_id);
CREATE UNIQUE INDEX inspections_import_seq ON inspections(entity_id, import_seq);

CREATE TABLE tasks (
    id           INTEGER PRIMARY KEY,
    entity_id    TEXT NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    grid_id      INTEGER REFERENCES grids(id) ON DELETE SET NULL,
    officer_id   TEXT REFERENCES officers(id),
    partner_id   TEXT REFERENCES officers(id),
    kind         TEXT NOT NULL CHECK (kind IN ('routine', 'special', 'targeted', 'follow_up')),
    period_start TEXT,
    due_on       TEXT NOT NULL,
    due_by       TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done', 'cancelled')),
    inspection_id INTEGER REFERENCES inspections(id),
    created_at   TEXT NOT NULL
) STRICT;
CREATE INDEX tasks_officer_due ON tasks(officer_id, due_on);

CREATE TABLE class_history (
    id         INTEGER PRIMARY KEY,
    entity_id  TEXT NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    at         TEXT NOT NULL,             -- when it was written (UTC, RFC 3339)
    as_of      TEXT NOT NULL,             -- the date the class holds from
    from_class TEXT CHECK (from_class IN ('A', 'B', 'C', 'D')),
    to_class   TEXT NOT NULL CHECK (to_class IN ('A', 'B', 'C', 'D')),
    reasons    TEXT NOT NULL,
    cause      TEXT NOT NULL
) STRICT;
CREATE INDEX class_history_entity ON class_history(entity_id, id);

CREATE TABLE class_overrides (
    id         INTEGER PRIMARY KEY,
    entity_id  TEXT NOT NULL REFERENCES businesses(id) ON DELETE CASCADE,
    class      TEXT NOT NULL CHECK (class IN ('A', 'B', 'C', 'D')),
    reason     TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    set_by     TEXT NOT NULL,
    set_at     TEXT NOT NULL,
    starts_on  TEXT NOT NULL,
    expires_on TEXT NOT NULL,
    lifted_at  TEXT,
    lifted_by  TEXT
) STRICT;
CREATE INDEX class_overrides_entity ON class_overrides(entity_id);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT '{}'
) STRICT;

CREATE TABLE job_runs (
    job           TEXT NOT NULL,
    scheduled_for TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    summary       TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (job, scheduled_for)
) STRICT;
"#,
        then: None,
    },
    Migration {
        version: 2,
        name: "escalation and snapshots",
        sql: r#"
ALTER TABLE tasks ADD COLUMN escalated_to TEXT REFERENCES officers(id);
ALTER TABLE tasks ADD COLUMN escalated_at TEXT;
CREATE INDEX tasks_open_due_by ON tasks(status, due_by);

-- Statistics frozen at the end of a period: a 旬 (dekad: days 1-10, 11-20, 21-end) or a month.
CREATE TABLE snapshots (
    kind         TEXT NOT NULL CHECK (kind IN ('dekad', 'month')),
    region_code  TEXT NOT NULL REFERENCES regions(code) ON DELETE CASCADE,
    period_start TEXT NOT NULL,
    period_end   TEXT NOT NULL,
    taken_at     TEXT NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (kind, region_code, period_start)
) STRICT;
"#,
        then: None,
    },
    Migration {
        version: 3,
        name: "accounts, visits in full, campaigns, draws, append-only audit",
        sql: r#"
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE CHECK (length(trim(username)) > 0),
    password_hash TEXT NOT NULL,             -- argon2id PHC string
    role          TEXT NOT NULL CHECK (role IN ('admin', 'bureau_head', 'manager', 'officer')),
    officer_id    TEXT REFERENCES officers(id),
    created_at    TEXT NOT NULL,
    disabled_at   TEXT
) STRICT;

-- A login's bearer token is kept only as its SHA-256.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
) STRICT;

-- A retried submit with the same key gets the first answer back, not a second write.
CREATE TABLE idempotency (
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL,
    response     TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
) STRICT;

ALTER TABLE inspections ADD COLUMN partner_id TEXT;
ALTER TABLE inspections ADD COLUMN visited_at TEXT;       -- local date and time of the visit
ALTER TABLE inspections ADD COLUMN same_day INTEGER CHECK (same_day IN (0, 1));
ALTER TABLE inspections ADD COLUMN checklist TEXT;        -- JSON: the 12 items, each result and note
ALTER TABLE inspections ADD COLUMN findings TEXT;         -- JSON: violations found
ALTER TABLE inspections ADD COLUMN rectification TEXT;    -- JSON: on the spot, or a notice with its deadline
ALTER TABLE inspections ADD COLUMN warning TEXT CHECK (warning IN ('issued', 'lifted'));

-- Photos are files under the data directory, named by their SHA-256.
CREATE TABLE photos (
    sha256       TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    bytes        INTEGER NOT NULL,
    stored_at    TEXT NOT NULL
) STRICT;
CREATE TABLE inspection_photos (
    inspection_id INTEGER NOT NULL REFERENCES inspections(id) ON DELETE CASCADE,
    sha256        TEXT NOT NULL REFERENCES photos(sha256),
    name          TEXT NOT NULL,
    PRIMARY KEY (inspection_id, sha256)
) STRICT;

CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    region_code TEXT NOT NULL REFERENCES regions(code) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    from_date   TEXT NOT NULL,
    to_date     TEXT NOT NULL,
    filter      TEXT NOT NULL,              -- JSON CampaignFilter
    checklist   TEXT NOT NULL DEFAULT '[]', -- JSON: extra checklist items
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE draws (
    id          INTEGER PRIMARY KEY,
    region_code TEXT NOT NULL REFERENCES regions(code) ON DELETE CASCADE,
    seed        INTEGER NOT NULL,
    on_date     TEXT NOT NULL,
    due_by      TEXT NOT NULL,
    lines       INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL
) STRICT;

ALTER TABLE tasks ADD COLUMN campaign_id INTEGER REFERENCES campaigns(id);
ALTER TABLE tasks ADD COLUMN draw_id INTEGER REFERENCES draws(id);
ALTER TABLE tasks ADD COLUMN complaint_id INTEGER REFERENCES complaints(id);
ALTER TABLE tasks ADD COLUMN follows_inspection INTEGER REFERENCES inspections(id);
CREATE INDEX tasks_entity ON tasks(entity_id, status);

ALTER TABLE grid_plans ADD COLUMN published_at TEXT;

-- The audit log is append-only.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"#,
        then: None,
    },
    Migration {
        version: 4,
        name: "due lists by partner",
        sql: r#"
CREATE INDEX tasks_partner_due ON tasks(partner_id, due_on);
"#,
        then: None,
    },
    Migration {
        version: 5,
        name: "grids of a unit",
        sql: r#"
CREATE INDEX grid_units_unit ON grid_units(region_code, unit_code);
"#,
        then: None,
    },
    Migration {
        version: 6,
        name: "open tasks by officer, partner, day and deadline",
        sql: r#"
-- A due list reads an officer's open tasks due in a range or already late: four narrow
-- range scans over open tasks only, instead of every task the officer ever had.
DROP INDEX tasks_officer_due;
DROP INDEX tasks_partner_due;
CREATE INDEX tasks_open_officer_on ON tasks(officer_id, due_on) WHERE status = 'open';
CREATE INDEX tasks_open_officer_by ON tasks(officer_id, due_by) WHERE status = 'open';
CREATE INDEX tasks_open_partner_on ON tasks(partner_id, due_on) WHERE status = 'open';
CREATE INDEX tasks_open_partner_by ON tasks(partner_id, due_by) WHERE status = 'open';
"#,
        then: None,
    },
    Migration {
        version: 7,
        name: "one-vote vetoes",
        sql: r#"
-- A major incident flagged by a bureau head: the subject's assessment for the year is
-- unqualified whatever its score (一票否决).
CREATE TABLE vetoes (
    id          INTEGER PRIMARY KEY,
    region_code TEXT NOT NULL REFERENCES regions(code) ON DELETE CASCADE,
    subject     TEXT NOT NULL,               -- a grid code or an officer id
    year        INTEGER NOT NULL,
    reason      TEXT NOT NULL CHECK (length(trim(reason)) > 0),
    set_by      TEXT NOT NULL,
    set_at      TEXT NOT NULL
) STRICT;
CREATE INDEX vetoes_subject ON vetoes(region_code, year, subject);
"#,
        then: None,
    },
    Migration {
        version: 8,
        name: "covering indexes for recording a visit",
        sql: r#"
-- Recording a visit re-reads the business's inspections to classify it, and its open tasks
-- to close them. Both read from an index alone, not from rows spread over the table.
CREATE INDEX inspections_entity_history ON inspections(entity_id, date, officer_id, kind, outcome);
DROP INDEX inspections_entity;
CREATE INDEX tasks_entity_open ON tasks(entity_id, due_by, kind, period_start, due_on)
    WHERE status = 'open';
"#,
        then: None,
    },
    Migration {
        version: 9,
        name: "the officers of a business's open tasks in its index",
        sql: r#"
-- Recording a visit also names the officers whose due lists it changes (those of the
-- business's open tasks): read from the same index.
DROP INDEX tasks_entity_open;
CREATE INDEX tasks_entity_open ON tasks(entity_id, due_by, kind, period_start, due_on, officer_id, partner_id)
    WHERE status = 'open';
"#,
        then: None,
    },
    Migration {
        version: 10,
        name: "lighter indexes and checks for recording a visit",
        sql: r#"
-- A visit recorded in the app has no position in an import file: only imported rows need
-- the key that makes a re-import upsert them, so an app visit no longer writes an entry
-- (a page of its own) to that index.
DROP INDEX inspections_import_seq;
CREATE UNIQUE INDEX inspections_import_seq ON inspections(entity_id, import_seq)
    WHERE import_seq IS NOT NULL;
-- Classification reads only a business's refused visits: those, by business and date.
CREATE INDEX inspections_refused ON inspections(entity_id, date) WHERE outcome = 'refused';
"#,
        then: Some(checks_without_in_lists),
    },
    Migration {
        version: 11,
        name: "the nightly pass finds the businesses it re-classifies by index",
        sql: r#"
-- The nightly pass takes the businesses never classified or whose review date has come.
-- The review date has its index; with one for the few never classified as well, SQLite
-- reads both indexes (an OR of two) instead of every business, for the pass and for each
-- of its reads of those businesses' records.
CREATE INDEX businesses_unclassified ON businesses(id) WHERE class IS NULL;
"#,
        then: None,
    },
];

/// Rewrites every `CHECK (column IN (a, b, c, …))` of three or more literals as
/// `CHECK (column = a OR column = b OR …)`, which means the same. SQLite evaluates an `IN`
/// list of more than two constants by building a temporary b-tree of them, anew on each
/// row a statement writes: recording a visit built three. Only the constraint text
/// changes, not what is stored, so this is SQLite's documented in-place schema edit
/// (writable schema, schema version bumped), not a rebuild of the tables.
fn checks_without_in_lists(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    let tables: Vec<(String, String)> = conn
        .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql IS NOT NULL")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let changed: Vec<(String, String)> = tables
        .into_iter()
        .filter_map(|(name, sql)| {
            let new = expand_in_checks(&sql);
            (new != sql).then_some((name, new))
        })
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    conn.execute_batch("PRAGMA writable_schema = ON")?;
    for (name, sql) in &changed {
        conn.execute(
            "UPDATE sqlite_schema SET sql = ?1 WHERE type = 'table' AND name = ?2",
            [sql, name],
        )?;
    }
    conn.pragma_update(None, "schema_version", version + 1)?;
    // Off again, and this connection reads the schema anew (as others will, seeing the
    // version moved).
    conn.execute_batch("PRAGMA writable_schema = RESET")
}

/// `sql` with each `CHECK (column IN (…))` of three or more literals written as a chain of
/// equalities; anything else is left as it is.
pub fn expand_in_checks(sql: &str) -> String {
    const CHECK: &str = "CHECK (";
    let mut out = String::with_capacity(sql.len() * 2);
    let mut rest = sql;
    while let Some(at) = rest.find(CHECK) {
        let (before, from) = rest.split_at(at + CHECK.len());
        out.push_str(before);
        rest = match in_list(from) {
            Some((column, items, spans)) if items.len() >= 3 => {
                let terms: Vec<String> = items.iter().map(|i| format!("{column} = {i}")).collect();
                out.push_str(&terms.join(" OR "));
                &from[spans..]
            }
            _ => from,
        };
    }
    out.push_str(rest);
    out
}

/// `column IN (a, b, …)` of literals at the start of `s`: the column, the literals, and
/// the bytes it spans.
fn in_list(s: &str) -> Option<(&str, Vec<&str>, usize)> {
    let column_end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))?;
    let column = &s[..column_end];
    let after = s[column_end..].strip_prefix(" IN (")?;
    let close = after.find(')')?;
    let items: Vec<&str> = after[..close].split(',').map(str::trim).collect();
    let literal = |i: &&str| {
        let quoted = i.len() >= 2
            && i.starts_with('\'')
            && i.ends_with('\'')
            && !i[1..i.len() - 1].contains('\'');
        quoted || (!i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()))
    };
    (!column.is_empty() && items.iter().all(literal)).then_some((
        column,
        items,
        column_end + " IN (".len() + close + 1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_lists_of_three_or_more_literals_become_equalities() {
        assert_eq!(
            expand_in_checks(
                "kind TEXT CHECK (kind IN ('a', 'b', 'c')), n INT CHECK (n IN (0, 1))"
            ),
            "kind TEXT CHECK (kind = 'a' OR kind = 'b' OR kind = 'c'), n INT CHECK (n IN (0, 1))"
        );
        assert_eq!(
            expand_in_checks("x CHECK (x IN (1, 2, 3)) y CHECK (length(y) > 0)"),
            "x CHECK (x = 1 OR x = 2 OR x = 3) y CHECK (length(y) > 0)"
        );
        // Not a plain list of literals: left alone.
        for sql in [
            "CHECK (x IN (SELECT a FROM t))",
            "CHECK (x IN ('a,b', 'c', 'd'))",
            "CHECK (x IN (y, 'c', 'd'))",
            "CHECK (x NOT IN ('a', 'b', 'c'))",
        ] {
            assert_eq!(expand_in_checks(sql), sql);
        }
    }
}
