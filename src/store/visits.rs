//! Visits in full and what they set going: the inspection row with its checklist, findings
//! and photos; the tasks a visit satisfies; follow-up and targeted tasks; campaigns and
//! their tasks; the roster; the audit log read back.

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Db, Result, StoreError};
use crate::domain::entity::Officer;

/// A visit to write, already checked.
#[derive(Debug, Clone)]
pub struct NewVisit<'a> {
    pub entity_id: &'a str,
    pub date: NaiveDate,
    pub visited_at: &'a str,
    pub officer_id: &'a str,
    pub partner_id: Option<&'a str>,
    pub kind: &'a str,
    pub outcome: &'a str,
    pub same_day: bool,
    pub checklist: &'a str,
    pub findings: &'a str,
    pub rectification: Option<&'a str>,
    pub warning: Option<&'a str>,
    pub recorded_by: &'a str,
}

/// One audit entry.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: serde_json::Value,
}

/// The open tasks a visit satisfies, and whose due lists show the business (the officers
/// and partners of all its open tasks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Satisfied {
    /// Task id and kind.
    pub tasks: Vec<(i64, String)>,
    pub officers: Vec<String>,
}

/// A stored campaign.
/// A business with the keys it is reported by (see [`Db::each_placed_business`]).
#[derive(Debug, Clone)]
pub struct PlacedBusiness {
    pub id: String,
    pub industry: String,
    pub class: Option<String>,
    /// The grid's code in the plan in force, and its area's.
    pub grid: Option<String>,
    pub area: Option<String>,
    /// Any inspection on record (`None` unless asked for: it costs a probe a business).
    pub inspected: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CampaignRow {
    pub id: i64,
    pub region_code: String,
    pub name: String,
    pub from: String,
    pub to: String,
    pub filter: serde_json::Value,
    pub checklist: serde_json::Value,
    pub created_by: String,
    pub tasks: usize,
}

/// A business's open tasks for [`Db::tasks_satisfied_by`], in the index's order (by due
/// date); ties are put in id order after, which in SQL would sort the rows in a temporary
/// b-tree on every visit.
pub(crate) const OPEN_TASKS_OF_BUSINESS: &str =
    "SELECT id, kind, coalesce(period_start, due_on), due_by, officer_id, partner_id
     FROM tasks INDEXED BY tasks_entity_open
     WHERE entity_id = ?1 AND status = 'open' ORDER BY due_by";

impl Db<'_> {
    /// Writes a visit's inspection row; returns its id.
    pub fn insert_visit(&self, v: &NewVisit<'_>, at: &str) -> Result<i64> {
        self.exec(
            "INSERT INTO inspections (entity_id, date, officer_id, kind, outcome, source, recorded_by, recorded_at,
                                      partner_id, visited_at, same_day, checklist, findings, rectification, warning)
             VALUES (?1, ?2, ?3, ?4, ?5, 'app', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                v.entity_id,
                v.date.to_string(),
                v.officer_id,
                v.kind,
                v.outcome,
                v.recorded_by,
                at,
                v.partner_id,
                v.visited_at,
                v.same_day,
                v.checklist,
                v.findings,
                v.rectification,
                v.warning
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// A stored inspection as JSON (the full record of a visit).
    pub fn visit(&self, id: i64) -> Result<serde_json::Value> {
        let row = self.row(
                "SELECT entity_id, date, officer_id, partner_id, kind, outcome, visited_at, same_day,
                        checklist, findings, rectification, warning, recorded_by, recorded_at
                 FROM inspections WHERE id = ?1",
                [id],
                |r| {
                    let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
                        let text: Option<String> = r.get(i)?;
                        Ok(text
                            .and_then(|t| serde_json::from_str(&t).ok())
                            .unwrap_or(serde_json::Value::Null))
                    };
                    Ok(serde_json::json!({
                        "id": id,
                        "entity_id": r.get::<_, String>(0)?,
                        "date": r.get::<_, String>(1)?,
                        "officer_id": r.get::<_, String>(2)?,
                        "partner_id": r.get::<_, Option<String>>(3)?,
                        "kind": r.get::<_, String>(4)?,
                        "outcome": r.get::<_, String>(5)?,
                        "visited_at": r.get::<_, Option<String>>(6)?,
                        "same_day": r.get::<_, Option<bool>>(7)?,
                        "checklist": json(8)?,
                        "findings": json(9)?,
                        "rectification": json(10)?,
                        "warning": r.get::<_, Option<String>>(11)?,
                        "recorded_by": r.get::<_, Option<String>>(12)?,
                        "recorded_at": r.get::<_, Option<String>>(13)?,
                    }))
                },
            )
            .optional()?;
        let mut row = row.ok_or_else(|| StoreError::NotFound(format!("inspection {id}")))?;
        let photos: Vec<serde_json::Value> = self.conn.prepare_cached("SELECT sha256, name FROM inspection_photos WHERE inspection_id = ?1 ORDER BY name")?
            .query_map([id], |r| {
                Ok(serde_json::json!({ "sha256": r.get::<_, String>(0)?, "name": r.get::<_, String>(1)? }))
            })?
            .collect::<rusqlite::Result<_>>()?;
        row["photos"] = serde_json::Value::Array(photos);
        Ok(row)
    }

    /// Records an uploaded photo's metadata (the file is already on disk under its hash).
    pub fn insert_photo(
        &self,
        sha256: &str,
        content_type: &str,
        bytes: usize,
        at: &str,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO photos (sha256, content_type, bytes, stored_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (sha256) DO NOTHING",
            params![sha256, content_type, bytes as i64, at],
        )?;
        Ok(())
    }

    pub fn link_photo(&self, inspection_id: i64, sha256: &str, name: &str) -> Result<()> {
        let known: bool = self.row(
            "SELECT EXISTS (SELECT 1 FROM photos WHERE sha256 = ?1)",
            [sha256],
            |r| r.get(0),
        )?;
        if !known {
            return Err(StoreError::NotFound(format!("photo {sha256}")));
        }
        self.exec(
            "INSERT INTO inspection_photos (inspection_id, sha256, name) VALUES (?1, ?2, ?3)",
            params![inspection_id, sha256, name],
        )?;
        Ok(())
    }

    /// The open tasks of the business that a visit on `date` satisfies, as (id, kind): every
    /// special, targeted or follow-up task already under way (the visit covers them all: one
    /// visit, every obligation it covers); the routine task whose window holds the day (a
    /// visit in a period counts for it, as the nightly re-plan counts it); and the oldest
    /// overdue routine task, made up late (a missed window is owed until a visit pays it,
    /// one visit for one missed window, and reports count it done late). A routine window
    /// not yet begun is not satisfied.
    pub fn tasks_satisfied_by(&self, entity_id: &str, date: NaiveDate) -> Result<Satisfied> {
        let d = date.to_string();
        let mut officers: Vec<String> = Vec::new();
        let mut open: Vec<(i64, String, String, String)> = Vec::new();
        let mut stmt = self.conn.prepare_cached(OPEN_TASKS_OF_BUSINESS)?;
        let mut rows = stmt.query([entity_id])?;
        while let Some(r) = rows.next()? {
            open.push((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?));
            officers.extend(r.get::<_, Option<String>>(4)?);
            officers.extend(r.get::<_, Option<String>>(5)?);
        }
        open.sort_by(|a, b| (&a.3, a.0).cmp(&(&b.3, b.0)));
        officers.sort_unstable();
        officers.dedup();
        let routine = || open.iter().filter(|t| t.1 == "routine");
        let current = routine().find(|(_, _, start, by)| *start <= d && d <= *by);
        // Open tasks come in due_by order: the first one past is the oldest missed.
        let missed = routine().find(|t| t.3 < d);
        let mut tasks: Vec<(i64, String)> = open
            .iter()
            .filter(|(_, kind, start, _)| kind != "routine" && *start <= d)
            .chain(current)
            .chain(missed)
            .map(|t| (t.0, t.1.clone()))
            .collect();
        tasks.sort_unstable();
        Ok(Satisfied { tasks, officers })
    }

    /// Marks open tasks done by an inspection.
    pub fn mark_done(&self, ids: &[i64], inspection_id: i64) -> Result<()> {
        let mut close = self.conn.prepare_cached(
            "UPDATE tasks SET status = 'done', inspection_id = ?2 WHERE id = ?1 AND status = 'open'",
        )?;
        for id in ids {
            close.execute(params![id, inspection_id])?;
        }
        Ok(())
    }

    /// A task outside the routine plan (follow-up, targeted, special) for a business, in
    /// its grid of the plan in force, for the grid's A-post officer and B-post partner
    /// unless `officer` is given. Returns the task id.
    #[allow(clippy::too_many_arguments)]
    pub fn insert_extra_task(
        &self,
        entity_id: &str,
        kind: &str,
        window: (NaiveDate, NaiveDate),
        officer: Option<(&str, Option<&str>)>,
        link: ExtraLink,
        at: &str,
    ) -> Result<i64> {
        // The business's grid in the plan in force and that grid's post holders.
        let placed: Option<(i64, Option<String>, Option<String>)> = self.row(
                "SELECT g.id,
                        (SELECT officer_id FROM posts WHERE grid_id = g.id AND post = 'A' AND until IS NULL),
                        (SELECT officer_id FROM posts WHERE grid_id = g.id AND post = 'B' AND until IS NULL ORDER BY id LIMIT 1)
                 FROM businesses b
                 JOIN grid_units gu ON gu.region_code = b.region_code AND gu.unit_code = b.unit_code
                 JOIN grids g ON g.id = gu.grid_id
                 JOIN grid_plans gp ON gp.region_code = g.region_code AND gp.version = g.plan_version
                 WHERE b.id = ?1 AND gp.status != 'retired'
                 ORDER BY gp.status = 'approved' DESC, gp.version DESC LIMIT 1",
                [entity_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (grid, lead, partner) = match placed {
            Some((g, a, b)) => (Some(g), a, b),
            None => (None, None, None),
        };
        let (officer, partner) = match officer {
            Some((o, p)) => (Some(o.to_owned()), p.map(str::to_owned)),
            None => (lead, partner),
        };
        let (campaign, draw, complaint, follows) = match link {
            ExtraLink::None => (None, None, None, None),
            ExtraLink::Campaign(id) => (Some(id), None, None, None),
            ExtraLink::Draw(id) => (None, Some(id), None, None),
            ExtraLink::Complaint(id) => (None, None, Some(id), None),
            ExtraLink::FollowUp(id) => (None, None, None, Some(id)),
        };
        self.exec(
            "INSERT INTO tasks (entity_id, grid_id, officer_id, partner_id, kind, period_start, due_on, due_by, status, created_at,
                                campaign_id, draw_id, complaint_id, follows_inspection)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open', ?9, ?10, ?11, ?12, ?13)",
            params![
                entity_id,
                grid,
                officer,
                partner,
                kind,
                window.0.to_string(),
                window.0.to_string(),
                window.1.to_string(),
                at,
                campaign,
                draw,
                complaint,
                follows
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Cancels the open routine tasks of a business dated inside a window (merged into a
    /// special or targeted visit there). Returns how many.
    pub fn merge_routine_into(
        &self,
        entity_id: &str,
        window: (NaiveDate, NaiveDate),
        into_task: i64,
    ) -> Result<usize> {
        let n = self.exec(
            "UPDATE tasks SET status = 'cancelled', follows_inspection = NULL
             WHERE entity_id = ?1 AND kind = 'routine' AND status = 'open' AND due_on BETWEEN ?2 AND ?3
               AND EXISTS (SELECT 1 FROM tasks WHERE id = ?4)",
            params![
                entity_id,
                window.0.to_string(),
                window.1.to_string(),
                into_task
            ],
        )?;
        Ok(n)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn insert_draw(
        &self,
        region_code: &str,
        seed: u64,
        on: NaiveDate,
        due_by: NaiveDate,
        lines: usize,
        by: &str,
        at: &str,
    ) -> Result<i64> {
        self.exec(
            "INSERT INTO draws (region_code, seed, on_date, due_by, lines, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                region_code,
                seed as i64,
                on.to_string(),
                due_by.to_string(),
                lines as i64,
                by,
                at
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Entities of the inspections a photo belongs to.
    pub fn photo_entities(&self, sha256: &str) -> Result<Vec<String>> {
        Ok(self.conn.prepare_cached(
                "SELECT DISTINCT i.entity_id FROM inspection_photos p JOIN inspections i ON i.id = p.inspection_id
                 WHERE p.sha256 = ?1",
            )?
            .query_map([sha256], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// A photo's content type, if stored.
    pub fn photo_type(&self, sha256: &str) -> Result<Option<String>> {
        Ok(self
            .row(
                "SELECT content_type FROM photos WHERE sha256 = ?1",
                [sha256],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The last complaint id of a business (just inserted).
    pub fn last_complaint_id(&self, entity_id: &str) -> Result<i64> {
        Ok(self.row(
            "SELECT max(id) FROM complaints WHERE entity_id = ?1",
            [entity_id],
            |r| r.get(0),
        )?)
    }

    pub fn insert_campaign(
        &self,
        region_code: &str,
        campaign: &crate::domain::campaign::Campaign,
        by: &str,
        at: &str,
    ) -> Result<i64> {
        self.exec(
            "INSERT INTO campaigns (region_code, name, from_date, to_date, filter, checklist, created_by, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                region_code,
                campaign.name,
                campaign.from.to_string(),
                campaign.to.to_string(),
                serde_json::to_string(&campaign.filter)
                    .map_err(|e| StoreError::Json(format!("campaign filter as JSON: {e}")))?,
                serde_json::to_string(&campaign.checklist)
                    .map_err(|e| StoreError::Json(format!("campaign checklist as JSON: {e}")))?,
                by,
                at
            ],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn campaigns(&self) -> Result<Vec<CampaignRow>> {
        Ok(self.conn.prepare_cached(
                "SELECT c.id, c.region_code, c.name, c.from_date, c.to_date, c.filter, c.checklist, c.created_by,
                        (SELECT count(*) FROM tasks t WHERE t.campaign_id = c.id)
                 FROM campaigns c ORDER BY c.id",
            )?
            .query_map([], |r| {
                let json = |i: usize| -> rusqlite::Result<serde_json::Value> {
                    stored_json(i, &r.get::<_, String>(i)?)
                };
                Ok(CampaignRow {
                    id: r.get(0)?,
                    region_code: r.get(1)?,
                    name: r.get(2)?,
                    from: r.get(3)?,
                    to: r.get(4)?,
                    filter: json(5)?,
                    checklist: json(6)?,
                    created_by: r.get(7)?,
                    tasks: r.get::<_, i64>(8)? as usize,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Businesses of a region with their stored class, grid and area codes in the plan in
    /// force: (id, industry, class, grid, area).
    #[allow(clippy::type_complexity)]
    pub fn placed_businesses(
        &self,
        region_code: &str,
    ) -> Result<
        Vec<(
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
        )>,
    > {
        let mut out = Vec::new();
        self.each_placed_business(region_code, false, |b| {
            out.push((b.id, b.industry, b.class, b.grid, b.area));
            Ok(())
        })?;
        Ok(out)
    }

    /// [`Db::placed_businesses`] one at a time, in id order, without holding them all;
    /// with `inspected`, whether each has any inspection on record.
    pub fn each_placed_business(
        &self,
        region_code: &str,
        inspected: bool,
        mut each: impl FnMut(PlacedBusiness) -> Result<()>,
    ) -> Result<()> {
        let Some(version) = self.plan_in_force(region_code)? else {
            return Ok(());
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT b.id, b.industry, b.class, g.code,
                    (SELECT a.code FROM area_grids ag JOIN areas a ON a.id = ag.area_id WHERE ag.grid_id = g.id LIMIT 1),
                    CASE WHEN ?3 THEN EXISTS (SELECT 1 FROM inspections i WHERE i.entity_id = b.id) END
             FROM businesses b
             LEFT JOIN grid_units gu ON gu.region_code = b.region_code AND gu.unit_code = b.unit_code
               AND gu.grid_id IN (SELECT id FROM grids WHERE region_code = ?1 AND plan_version = ?2)
             LEFT JOIN grids g ON g.id = gu.grid_id
             WHERE b.region_code = ?1 ORDER BY b.id",
        )?;
        let mut rows = stmt.query(params![region_code, version, inspected])?;
        while let Some(r) = rows.next()? {
            each(PlacedBusiness {
                id: r.get(0)?,
                industry: r.get(1)?,
                class: r.get(2)?,
                grid: r.get(3)?,
                area: r.get(4)?,
                inspected: r.get(5)?,
            })?;
        }
        Ok(())
    }

    /// The roster of a region (all officers when `region_code` is `None`).
    pub fn officers(&self, region_code: Option<&str>) -> Result<Vec<Officer>> {
        Ok(self.conn.prepare_cached(
                "SELECT id, name, role, years_of_service, hours_per_month, certified, skills FROM officers
                 WHERE ?1 IS NULL OR region_code = ?1 ORDER BY id",
            )?
            .query_map([region_code], officer_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Officers by id (those that exist), for checking who may inspect.
    pub fn officers_by_ids(&self, ids: &[String]) -> Result<Vec<Officer>> {
        let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, name, role, years_of_service, hours_per_month, certified, skills FROM officers WHERE id = ?1",
        )?;
        let mut out = Vec::new();
        for id in wanted {
            let found = stmt.query_row([id], officer_from_row).optional()?;
            out.extend(found);
        }
        Ok(out)
    }

    /// Adds or updates an officer on a region's roster.
    pub fn upsert_officer(&self, region_code: &str, o: &Officer) -> Result<()> {
        self.exec(
            "INSERT INTO officers (id, region_code, name, role, years_of_service, hours_per_month, certified, skills)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET region_code = excluded.region_code, name = excluded.name,
               role = excluded.role, years_of_service = excluded.years_of_service,
               hours_per_month = excluded.hours_per_month, certified = excluded.certified, skills = excluded.skills",
            params![
                o.id,
                region_code,
                o.name,
                o.role.as_str(),
                o.years_of_service,
                o.hours_per_month,
                o.certified,
                o.skills.join(";")
            ],
        )?;
        Ok(())
    }

    /// The audit log, newest first, from before id `before` (paging), at most `limit`.
    pub fn audit_log(&self, before: Option<i64>, limit: usize) -> Result<Vec<AuditRow>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT id, at, actor, action, subject, detail FROM audit_log
                 WHERE ?1 IS NULL OR id < ?1 ORDER BY id DESC LIMIT ?2",
            )?
            .query_map(params![before, limit as i64], |r| {
                Ok(AuditRow {
                    id: r.get(0)?,
                    at: r.get(1)?,
                    actor: r.get(2)?,
                    action: r.get(3)?,
                    subject: r.get(4)?,
                    detail: stored_json(5, &r.get::<_, String>(5)?)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?)
    }
}

/// An [`Officer`] from `id, name, role, years_of_service, hours_per_month, certified, skills`.
fn officer_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Officer> {
    let role: String = r.get(2)?;
    let skills: String = r.get(6)?;
    Ok(Officer {
        id: r.get(0)?,
        name: r.get(1)?,
        role: role.parse().unwrap_or(crate::domain::entity::Role::Helper),
        years_of_service: r.get(3)?,
        hours_per_month: r.get(4)?,
        certified: r.get(5)?,
        skills: skills
            .split(';')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// What an extra task comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtraLink {
    None,
    Campaign(i64),
    Draw(i64),
    Complaint(i64),
    FollowUp(i64),
}

/// A column of stored JSON read back; text that is not JSON is a conversion error naming the
/// column, not a silent null.
fn stored_json(column: usize, text: &str) -> rusqlite::Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
    })
}
