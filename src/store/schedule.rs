//! What the scheduled jobs read and write: areas and their deputies, the open tasks a
//! re-plan keeps, moves or cancels, escalation of overdue tasks, and period snapshots.

use std::collections::HashMap;

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Db, Result, StoreError};

/// An area of a plan as stored: code, deputy, and its grids' codes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaRow {
    pub code: String,
    pub name: String,
    pub deputy: Option<String>,
    pub grids: Vec<String>,
}

/// An open task a re-plan looks at.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenTask {
    pub id: i64,
    pub entity_id: String,
    pub kind: String,
    pub grid_code: Option<String>,
    pub officer_id: Option<String>,
    pub partner_id: Option<String>,
    pub due_on: NaiveDate,
    pub due_by: NaiveDate,
    /// The first day a visit counts for it (tasks of old databases have none).
    pub period_start: Option<NaiveDate>,
}

/// A region's open tasks (deadline on or after a day) read in business id order, one
/// business's at a time: the re-plan walks them beside the businesses without holding every
/// open task of the region in memory.
pub struct OpenTaskCursor<'s> {
    rows: rusqlite::Rows<'s>,
    next: Option<OpenTask>,
}

impl<'s> OpenTaskCursor<'s> {
    pub fn new(
        stmt: &'s mut rusqlite::Statement<'_>,
        region_code: &str,
        from: NaiveDate,
    ) -> Result<Self> {
        let rows = stmt.query(params![region_code, from.to_string()])?;
        let mut cursor = OpenTaskCursor { rows, next: None };
        cursor.next = cursor.read()?;
        Ok(cursor)
    }

    fn read(&mut self) -> Result<Option<OpenTask>> {
        let Some(r) = self.rows.next()? else {
            return Ok(None);
        };
        Ok(Some(OpenTask {
            id: r.get(0)?,
            entity_id: r.get(1)?,
            kind: r.get(2)?,
            grid_code: r.get(3)?,
            officer_id: r.get(4)?,
            partner_id: r.get(5)?,
            due_on: date(&r.get::<_, String>(6)?)?,
            due_by: date(&r.get::<_, String>(7)?)?,
            period_start: r
                .get::<_, Option<String>>(8)?
                .map(|d| date(&d))
                .transpose()?,
        }))
    }

    /// Puts the open tasks of `entity_id` into `out` (emptied first). Ids must come in
    /// ascending order: tasks of businesses before `entity_id` are passed over.
    pub fn take(&mut self, entity_id: &str, out: &mut Vec<OpenTask>) -> Result<()> {
        out.clear();
        loop {
            let Some(task) = self.next.take() else {
                return Ok(());
            };
            match task.entity_id.as_str().cmp(entity_id) {
                std::cmp::Ordering::Greater => {
                    self.next = Some(task);
                    return Ok(());
                }
                std::cmp::Ordering::Equal => out.push(task),
                std::cmp::Ordering::Less => {}
            }
            self.next = self.read()?;
        }
    }
}

/// An overdue task handed to a deputy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Escalation {
    pub task_id: i64,
    pub entity_id: String,
    pub grid: Option<String>,
    pub officer_id: Option<String>,
    pub due_by: NaiveDate,
    pub escalated_to: Option<String>,
}

/// An [`Escalation`] from `id, entity_id, grid code, officer_id, due_by, escalated_to`.
fn escalation(r: &rusqlite::Row<'_>) -> Result<Escalation> {
    Ok(Escalation {
        task_id: r.get(0)?,
        entity_id: r.get(1)?,
        grid: r.get(2)?,
        officer_id: r.get(3)?,
        due_by: date(&r.get::<_, String>(4)?)?,
        escalated_to: r.get(5)?,
    })
}

fn date(text: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| StoreError::Corrupt(format!("bad date '{text}'")))
}

impl Db<'_> {
    /// Replaces a region's areas with those of plan `version`'s assignment run.
    pub fn replace_areas(&self, region_code: &str, version: i64, areas: &[AreaRow]) -> Result<()> {
        self.exec("DELETE FROM areas WHERE region_code = ?1", [region_code])?;
        let mut area = self.conn.prepare_cached(
            "INSERT INTO areas (region_code, code, name, deputy_officer_id) VALUES (?1, ?2, ?3, ?4)",
        )?;
        let mut member = self.conn.prepare_cached(
            "INSERT INTO area_grids (area_id, grid_id)
             SELECT ?1, id FROM grids WHERE region_code = ?2 AND plan_version = ?3 AND code = ?4",
        )?;
        for a in areas {
            area.execute(params![region_code, a.code, a.name, a.deputy])?;
            let id = self.conn.last_insert_rowid();
            for g in &a.grids {
                member.execute(params![id, region_code, version, g])?;
            }
        }
        Ok(())
    }

    /// A region's areas with their deputies and grids.
    pub fn areas(&self, region_code: &str) -> Result<Vec<AreaRow>> {
        let mut out: Vec<AreaRow> = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT a.code, a.name, a.deputy_officer_id, g.code FROM areas a
             LEFT JOIN area_grids ag ON ag.area_id = a.id LEFT JOIN grids g ON g.id = ag.grid_id
             WHERE a.region_code = ?1 ORDER BY a.code, g.code",
        )?;
        let mut rows = stmt.query([region_code])?;
        while let Some(r) = rows.next()? {
            let code: String = r.get(0)?;
            let grid: Option<String> = r.get(3)?;
            if out.last().is_none_or(|a| a.code != code) {
                out.push(AreaRow {
                    code,
                    name: r.get(1)?,
                    deputy: r.get(2)?,
                    grids: Vec::new(),
                });
            }
            if let (Some(a), Some(g)) = (out.last_mut(), grid) {
                a.grids.push(g);
            }
        }
        Ok(out)
    }

    /// Open posts of a plan's grids, `post` 'A' or 'B': grid code → officer id.
    pub fn open_posts(
        &self,
        region_code: &str,
        version: i64,
        post: &str,
    ) -> Result<HashMap<String, String>> {
        Ok(self.conn.prepare_cached(
                "SELECT g.code, p.officer_id FROM posts p JOIN grids g ON g.id = p.grid_id
                 WHERE g.region_code = ?1 AND g.plan_version = ?2 AND p.post = ?3 AND p.until IS NULL",
            )?
            .query_map(params![region_code, version, post], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Open tasks of a region's businesses whose deadline is on or after `from`.
    pub fn live_open_tasks(&self, region_code: &str, from: NaiveDate) -> Result<Vec<OpenTask>> {
        let mut stmt = self.live_open_tasks_statement()?;
        let mut cursor = OpenTaskCursor::new(&mut stmt, region_code, from)?;
        let mut out = Vec::new();
        while let Some(task) = cursor.next.take() {
            out.push(task);
            cursor.next = cursor.read()?;
        }
        Ok(out)
    }

    /// The statement an [`OpenTaskCursor`] runs: kept by the caller while it reads.
    pub fn live_open_tasks_statement(&self) -> Result<rusqlite::CachedStatement<'_>> {
        Ok(self.conn.prepare_cached(
            "SELECT t.id, t.entity_id, t.kind, g.code, t.officer_id, t.partner_id, t.due_on, t.due_by,
                    t.period_start
             FROM tasks t JOIN businesses b ON b.id = t.entity_id LEFT JOIN grids g ON g.id = t.grid_id
             WHERE t.status = 'open' AND t.due_by >= ?2 AND b.region_code = ?1
             ORDER BY t.entity_id, t.due_on, t.id",
        )?)
    }

    /// Sets the first day a visit counts for open tasks: (task, day).
    pub fn set_period_starts(&self, starts: &[(i64, NaiveDate)]) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE tasks SET period_start = ?2 WHERE id = ?1 AND status = 'open'",
        )?;
        let mut n = 0;
        for (id, day) in starts {
            n += stmt.execute(params![id, day.to_string()])?;
        }
        Ok(n)
    }

    /// Cancels open tasks (a re-plan found them no longer owed).
    pub fn cancel_tasks(&self, ids: &[i64]) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached(
            "UPDATE tasks SET status = 'cancelled' WHERE id = ?1 AND status = 'open'",
        )?;
        let mut n = 0;
        for id in ids {
            n += stmt.execute([id])?;
        }
        Ok(n)
    }

    /// Moves an open task to the grid's current post holders.
    pub fn move_task(
        &self,
        id: i64,
        region_code: &str,
        version: i64,
        grid_code: &str,
        officer_id: &str,
        partner_id: Option<&str>,
    ) -> Result<()> {
        self.exec(
            "UPDATE tasks SET officer_id = ?2, partner_id = ?3,
               grid_id = (SELECT id FROM grids WHERE region_code = ?4 AND plan_version = ?5 AND code = ?6)
             WHERE id = ?1 AND status = 'open'",
            params![id, officer_id, partner_id, region_code, version, grid_code],
        )?;
        Ok(())
    }

    /// Inserts tasks for plan `version`'s grids. Returns how many were written.
    pub fn insert_tasks(
        &self,
        region_code: &str,
        version: i64,
        tasks: &[super::NewTask],
        at: &str,
    ) -> Result<usize> {
        let grids: HashMap<String, i64> = self
            .conn
            .prepare_cached(
                "SELECT code, id FROM grids WHERE region_code = ?1 AND plan_version = ?2",
            )?
            .query_map(params![region_code, version], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO tasks (entity_id, grid_id, officer_id, partner_id, kind, period_start, due_on, due_by, status, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open', ?9)",
        )?;
        for t in tasks {
            insert.execute(params![
                t.entity_id,
                grids.get(&t.grid_code),
                // No officer or partner is NULL, not an empty id (the columns reference officers).
                Some(t.officer_id.as_str()).filter(|p| !p.is_empty()),
                Some(t.partner_id.as_str()).filter(|p| !p.is_empty()),
                t.kind,
                t.period_start.to_string(),
                t.due_on.to_string(),
                t.due_by.to_string(),
                at
            ])?;
        }
        Ok(tasks.len())
    }

    /// Open tasks per officer (as lead) and due day between two dates.
    pub fn officer_day_loads(
        &self,
        region_code: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<HashMap<(String, NaiveDate), u32>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.officer_id, t.due_on, count(*) FROM tasks t JOIN businesses b ON b.id = t.entity_id
             WHERE t.status = 'open' AND t.officer_id IS NOT NULL AND t.due_on BETWEEN ?2 AND ?3
               AND b.region_code = ?1
             GROUP BY t.officer_id, t.due_on",
        )?;
        let mut rows = stmt.query(params![region_code, from.to_string(), to.to_string()])?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next()? {
            let officer: String = r.get(0)?;
            let day = date(&r.get::<_, String>(1)?)?;
            out.insert((officer, day), r.get(2)?);
        }
        Ok(out)
    }

    /// Hands every open task whose deadline was before `cutoff` and that was not yet
    /// escalated to the deputy of its grid's area (or the station chief when the grid has no
    /// area deputy). Returns what it escalated; a second run the same day escalates nothing.
    pub fn escalate_overdue(&self, cutoff: NaiveDate, at: &str) -> Result<Vec<Escalation>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.id, t.entity_id, g.code, t.officer_id, t.due_by,
                    coalesce(
                      (SELECT a.deputy_officer_id FROM area_grids ag JOIN areas a ON a.id = ag.area_id
                        WHERE ag.grid_id = t.grid_id AND a.deputy_officer_id IS NOT NULL LIMIT 1),
                      (SELECT o.id FROM officers o JOIN businesses b ON b.id = t.entity_id
                        WHERE o.role = 'chief' AND o.region_code = b.region_code ORDER BY o.id LIMIT 1))
             FROM tasks t LEFT JOIN grids g ON g.id = t.grid_id
             WHERE t.status = 'open' AND t.escalated_at IS NULL AND t.due_by < ?1
             ORDER BY t.due_by, t.id",
        )?;
        let mut rows = stmt.query([cutoff.to_string()])?;
        let mut found = Vec::new();
        while let Some(r) = rows.next()? {
            found.push(escalation(r)?);
        }
        drop(rows);
        let mut mark = self.conn.prepare_cached(
            "UPDATE tasks SET escalated_to = ?2, escalated_at = ?3 WHERE id = ?1 AND escalated_at IS NULL",
        )?;
        for e in &found {
            mark.execute(params![e.task_id, e.escalated_to, at])?;
        }
        Ok(found)
    }

    /// Open tasks escalated to an officer (a deputy's list of what is late in their area).
    pub fn escalated_to(&self, officer_id: &str) -> Result<Vec<Escalation>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT t.id, t.entity_id, g.code, t.officer_id, t.due_by, t.escalated_to
             FROM tasks t LEFT JOIN grids g ON g.id = t.grid_id
             WHERE t.status = 'open' AND t.escalated_to = ?1 ORDER BY t.due_by, t.id",
        )?;
        let mut rows = stmt.query([officer_id])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(escalation(r)?);
        }
        Ok(out)
    }

    /// Stores a snapshot unless one exists for the same kind, region and period (a snapshot
    /// is frozen once taken). Returns whether it was written.
    pub fn save_snapshot(
        &self,
        kind: &str,
        region_code: &str,
        period: (NaiveDate, NaiveDate),
        at: &str,
        body: &serde_json::Value,
    ) -> Result<bool> {
        let n = self.exec(
            "INSERT INTO snapshots (kind, region_code, period_start, period_end, taken_at, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            params![
                kind,
                region_code,
                period.0.to_string(),
                period.1.to_string(),
                at,
                body.to_string()
            ],
        )?;
        Ok(n == 1)
    }

    /// A stored snapshot's body.
    pub fn snapshot(
        &self,
        kind: &str,
        region_code: &str,
        period_start: NaiveDate,
    ) -> Result<Option<serde_json::Value>> {
        let text: Option<String> = self.row(
                "SELECT body FROM snapshots WHERE kind = ?1 AND region_code = ?2 AND period_start = ?3",
                params![kind, region_code, period_start.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    /// The newest snapshot of a kind for a region: first day, last day, body.
    pub fn latest_snapshot(
        &self,
        kind: &str,
        region_code: &str,
    ) -> Result<Option<(NaiveDate, NaiveDate, serde_json::Value)>> {
        let row: Option<(String, String, String)> = self.row(
                "SELECT period_start, period_end, body FROM snapshots WHERE kind = ?1 AND region_code = ?2 ORDER BY period_start DESC LIMIT 1",
                params![kind, region_code],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((start, end, body)) = row else {
            return Ok(None);
        };
        let day = |s: &str| {
            s.parse::<NaiveDate>()
                .map_err(|e| StoreError::Corrupt(format!("snapshot period '{s}': {e}")))
        };
        let body = serde_json::from_str(&body).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Some((day(&start)?, day(&end)?, body)))
    }

    /// The codes of every imported region.
    pub fn region_codes(&self) -> Result<Vec<String>> {
        Ok(self
            .conn
            .prepare_cached("SELECT code FROM regions ORDER BY code")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Records a job's run for a schedule slot (after its work committed: a crash between
    /// the two reruns the slot, which the jobs' idempotence makes harmless).
    pub fn record_job_run(
        &self,
        job: &str,
        scheduled_for: &str,
        started_at: &str,
        finished_at: &str,
        summary: &serde_json::Value,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO job_runs (job, scheduled_for, started_at, finished_at, summary) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (job, scheduled_for) DO UPDATE SET started_at = excluded.started_at,
               finished_at = excluded.finished_at, summary = excluded.summary",
            params![job, scheduled_for, started_at, finished_at, summary.to_string()],
        )?;
        Ok(())
    }
}

/// What happened in a region over a period: the figures a 旬 or monthly snapshot freezes.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct PeriodStats {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Businesses of class A, B, C, D (and unclassified) at the end of the period.
    pub classes: [usize; 5],
    /// Tasks whose deadline fell in the period, and of those how many were done, done by
    /// the deadline, and still open.
    pub tasks_due: usize,
    pub tasks_done: usize,
    pub tasks_done_on_time: usize,
    pub tasks_open: usize,
    pub inspections: usize,
    pub complaints: usize,
    pub violations: usize,
    pub class_changes: usize,
    pub escalated: usize,
    pub grids: Vec<GridStats>,
}

/// [`PeriodStats`] tasks for one grid.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct GridStats {
    pub grid: String,
    pub tasks_due: usize,
    pub tasks_done: usize,
    pub tasks_done_on_time: usize,
    pub tasks_open: usize,
}

impl Db<'_> {
    /// The figures of a region over `[from, to]`.
    pub fn period_stats(
        &self,
        region_code: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<PeriodStats> {
        let (f, t) = (from.to_string(), to.to_string());
        let count = |sql: &str| -> Result<usize> {
            let n: i64 = self.row(sql, params![region_code, f, t], |r| r.get(0))?;
            Ok(usize::try_from(n).unwrap_or(0))
        };
        let mut classes = [0usize; 5];
        let mut stmt = self.conn.prepare_cached(
            "SELECT class, count(*) FROM businesses WHERE region_code = ?1 GROUP BY class",
        )?;
        let mut rows = stmt.query([region_code])?;
        while let Some(r) = rows.next()? {
            let class: Option<String> = r.get(0)?;
            let n: i64 = r.get(1)?;
            let slot = match class.as_deref() {
                Some("A") => 0,
                Some("B") => 1,
                Some("C") => 2,
                Some("D") => 3,
                _ => 4,
            };
            classes[slot] += usize::try_from(n).unwrap_or(0);
        }
        drop(rows);
        let mut grids: Vec<GridStats> = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT coalesce(g.code, ''), count(*),
                    sum(t.status = 'done'),
                    sum(t.status = 'done' AND i.date <= t.due_by),
                    sum(t.status = 'open')
             FROM tasks t JOIN businesses b ON b.id = t.entity_id
             LEFT JOIN grids g ON g.id = t.grid_id LEFT JOIN inspections i ON i.id = t.inspection_id
             WHERE b.region_code = ?1 AND t.due_by BETWEEN ?2 AND ?3 AND t.status != 'cancelled'
             GROUP BY 1 ORDER BY 1",
        )?;
        let mut rows = stmt.query(params![region_code, f, t])?;
        while let Some(r) = rows.next()? {
            let n = |i: usize| -> rusqlite::Result<usize> {
                Ok(usize::try_from(r.get::<_, Option<i64>>(i)?.unwrap_or(0)).unwrap_or(0))
            };
            grids.push(GridStats {
                grid: r.get(0)?,
                tasks_due: n(1)?,
                tasks_done: n(2)?,
                tasks_done_on_time: n(3)?,
                tasks_open: n(4)?,
            });
        }
        drop(rows);
        let sum = |f: fn(&GridStats) -> usize| grids.iter().map(f).sum::<usize>();
        Ok(PeriodStats {
            from,
            to,
            classes,
            tasks_due: sum(|g| g.tasks_due),
            tasks_done: sum(|g| g.tasks_done),
            tasks_done_on_time: sum(|g| g.tasks_done_on_time),
            tasks_open: sum(|g| g.tasks_open),
            inspections: count(
                "SELECT count(*) FROM inspections i JOIN businesses b ON b.id = i.entity_id
                 WHERE b.region_code = ?1 AND i.date BETWEEN ?2 AND ?3",
            )?,
            complaints: count(
                "SELECT count(*) FROM complaints c JOIN businesses b ON b.id = c.entity_id
                 WHERE b.region_code = ?1 AND c.date BETWEEN ?2 AND ?3",
            )?,
            violations: count(
                "SELECT count(*) FROM violations v JOIN businesses b ON b.id = v.entity_id
                 WHERE b.region_code = ?1 AND v.date BETWEEN ?2 AND ?3",
            )?,
            class_changes: count(
                "SELECT count(*) FROM class_history h JOIN businesses b ON b.id = h.entity_id
                 WHERE b.region_code = ?1 AND h.as_of BETWEEN ?2 AND ?3
                   AND h.from_class IS NOT NULL AND h.from_class != h.to_class",
            )?,
            escalated: count(
                "SELECT count(*) FROM tasks t JOIN businesses b ON b.id = t.entity_id
                 WHERE b.region_code = ?1 AND substr(t.escalated_at, 1, 10) BETWEEN ?2 AND ?3",
            )?,
            grids,
        })
    }
}

impl Db<'_> {
    /// Class overrides in force on `day` for a region's businesses: entity → (class, last day).
    pub fn active_overrides(
        &self,
        region_code: &str,
        day: NaiveDate,
    ) -> Result<HashMap<String, (String, NaiveDate)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.entity_id, o.class, o.expires_on FROM class_overrides o
             JOIN businesses b ON b.id = o.entity_id
             WHERE b.region_code = ?1 AND o.lifted_at IS NULL AND o.starts_on <= ?2 AND o.expires_on >= ?2
             ORDER BY o.id",
        )?;
        let mut rows = stmt.query(params![region_code, day.to_string()])?;
        let mut out = HashMap::new();
        while let Some(r) = rows.next()? {
            let expires = date(&r.get::<_, String>(2)?)?;
            out.insert(r.get(0)?, (r.get(1)?, expires));
        }
        Ok(out)
    }
}
