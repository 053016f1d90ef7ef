//! Tasks in the store: the routine visits a saved plan gives officers, and the open tasks an
//! officer has around a day.

use chrono::NaiveDate;
use rusqlite::params;
use serde::Serialize;

use super::{Db, Result};

/// A task to write.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub entity_id: String,
    pub grid_code: String,
    pub officer_id: String,
    pub partner_id: String,
    pub kind: String,
    pub period_start: NaiveDate,
    pub due_on: NaiveDate,
    pub due_by: NaiveDate,
}

/// An open task as a due list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TaskRow {
    pub id: i64,
    pub entity_id: String,
    pub name: String,
    pub address: String,
    pub location: Option<(f64, f64)>,
    pub class: Option<String>,
    pub kind: String,
    pub officer_id: Option<String>,
    pub partner_id: Option<String>,
    /// First day of the task's window (the period of a routine visit).
    pub period_start: Option<NaiveDate>,
    pub due_on: NaiveDate,
    pub due_by: NaiveDate,
    pub status: String,
    pub grid: Option<String>,
    pub escalated_to: Option<String>,
}

/// The columns [`task_from_row`] reads, over `tasks t JOIN businesses b LEFT JOIN grids g`.
const TASK_COLUMNS: &str = "t.id, t.entity_id, b.name, b.address, b.lon, b.lat, b.class, t.kind, t.officer_id, t.partner_id, t.due_on, t.due_by, t.status, g.code, t.escalated_to, t.period_start";

fn task_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TaskRow> {
    let lon: Option<f64> = r.get(4)?;
    let lat: Option<f64> = r.get(5)?;
    Ok(TaskRow {
        id: r.get(0)?,
        entity_id: r.get(1)?,
        name: r.get(2)?,
        address: r.get(3)?,
        location: lon.zip(lat),
        class: r.get(6)?,
        kind: r.get(7)?,
        officer_id: r.get(8)?,
        partner_id: r.get(9)?,
        due_on: date(r.get(10)?)?,
        due_by: date(r.get(11)?)?,
        status: r.get(12)?,
        grid: r.get(13)?,
        escalated_to: r.get(14)?,
        period_start: r.get::<_, Option<String>>(15)?.map(date).transpose()?,
    })
}

fn date(text: String) -> rusqlite::Result<NaiveDate> {
    NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

impl Db<'_> {
    /// Replaces the open routine tasks of a region due between `from` and `to` with `tasks`,
    /// linked to the grids of plan `version`. Returns how many were written.
    pub fn replace_routine_tasks(
        &self,
        region_code: &str,
        version: i64,
        from: NaiveDate,
        to: NaiveDate,
        tasks: &[NewTask],
        at: &str,
    ) -> Result<usize> {
        self.exec(
            "DELETE FROM tasks WHERE kind = 'routine' AND status = 'open' AND due_on BETWEEN ?2 AND ?3
               AND entity_id IN (SELECT id FROM businesses WHERE region_code = ?1)",
            params![region_code, from.to_string(), to.to_string()],
        )?;
        self.insert_tasks(region_code, version, tasks, at)
    }

    /// An officer's open tasks (as lead or partner) due from `from` to `to`, and every open
    /// task of theirs already past its deadline on `from`.
    pub fn open_tasks_for_officer(
        &self,
        officer_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<TaskRow>> {
        let rows = self.conn.prepare_cached(&format!(
                "SELECT {TASK_COLUMNS}
                 FROM tasks t JOIN businesses b ON b.id = t.entity_id LEFT JOIN grids g ON g.id = t.grid_id
                 WHERE t.id IN (
                     SELECT id FROM tasks WHERE officer_id = ?1 AND status = 'open' AND due_on BETWEEN ?2 AND ?3
                     UNION SELECT id FROM tasks WHERE officer_id = ?1 AND status = 'open' AND due_by < ?2
                     UNION SELECT id FROM tasks WHERE partner_id = ?1 AND status = 'open' AND due_on BETWEEN ?2 AND ?3
                     UNION SELECT id FROM tasks WHERE partner_id = ?1 AND status = 'open' AND due_by < ?2)
                 ORDER BY t.due_on, t.id"
            ))?
            .query_map(
                params![officer_id, from.to_string(), to.to_string()],
                task_from_row,
            )?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Every task of a business, any status, by due day.
    pub fn tasks_for_entity(&self, entity_id: &str) -> Result<Vec<TaskRow>> {
        Ok(self.conn.prepare_cached(&format!(
                "SELECT {TASK_COLUMNS}
                 FROM tasks t JOIN businesses b ON b.id = t.entity_id LEFT JOIN grids g ON g.id = t.grid_id
                 WHERE t.entity_id = ?1 ORDER BY t.due_on, t.id"
            ))?
            .query_map([entity_id], task_from_row)?
            .collect::<rusqlite::Result<_>>()?)
    }
}
