//! Posts in the store: who holds each grid's A-post and B-post, since when; a change closes
//! the old post (`until`) and opens the new one, so the history stays.

use chrono::NaiveDate;
use rusqlite::{OptionalExtension, params};

use super::{Db, Result};

impl Db<'_> {
    /// The plan posts are given for: the approved one, else the newest draft.
    pub fn plan_in_force(&self, region_code: &str) -> Result<Option<i64>> {
        Ok(self
            .row(
                "SELECT version FROM grid_plans WHERE region_code = ?1 AND status != 'retired'
                 ORDER BY status = 'approved' DESC, version DESC LIMIT 1",
                [region_code],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Each grid of a plan with its unit codes.
    pub fn plan_grid_units(
        &self,
        region_code: &str,
        version: i64,
    ) -> Result<Vec<(String, Vec<String>)>> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT g.code, u.unit_code FROM grids g JOIN grid_units u ON u.grid_id = g.id
             WHERE g.region_code = ?1 AND g.plan_version = ?2 ORDER BY g.code, u.unit_code",
        )?;
        let mut rows = stmt.query(params![region_code, version])?;
        while let Some(r) = rows.next()? {
            let (grid, unit): (String, String) = (r.get(0)?, r.get(1)?);
            match out.last_mut() {
                Some((g, units)) if *g == grid => units.push(unit),
                _ => out.push((grid, vec![unit])),
            }
        }
        Ok(out)
    }

    /// Open A-posts of a plan's grids: (grid code, officer id, since).
    pub fn open_a_posts(
        &self,
        region_code: &str,
        version: i64,
    ) -> Result<Vec<(String, String, NaiveDate)>> {
        let rows = self.conn.prepare_cached(
                "SELECT g.code, p.officer_id, p.since FROM posts p JOIN grids g ON g.id = p.grid_id
                 WHERE g.region_code = ?1 AND g.plan_version = ?2 AND p.post = 'A' AND p.until IS NULL",
            )?
            .query_map(params![region_code, version], |r| {
                let since: String = r.get(2)?;
                Ok((r.get(0)?, r.get(1)?, since))
            })?
            .collect::<rusqlite::Result<Vec<(String, String, String)>>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(g, o, s)| {
                NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                    .ok()
                    .map(|d| (g, o, d))
            })
            .collect())
    }

    /// Sets a grid's post holder from `on`: closes an open post held by someone else and opens
    /// the new one; nothing changes when the holder is the same.
    pub fn set_post(
        &self,
        region_code: &str,
        version: i64,
        grid_code: &str,
        post: &str,
        officer_id: Option<&str>,
        on: NaiveDate,
    ) -> Result<bool> {
        let grid_id: i64 = self.row(
            "SELECT id FROM grids WHERE region_code = ?1 AND plan_version = ?2 AND code = ?3",
            params![region_code, version, grid_code],
            |r| r.get(0),
        )?;
        let holders: Vec<String> = self
            .conn
            .prepare_cached(
                "SELECT officer_id FROM posts WHERE grid_id = ?1 AND post = ?2 AND until IS NULL",
            )?
            .query_map(params![grid_id, post], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if officer_id.is_some_and(|o| holders.len() == 1 && holders[0] == o)
            || (officer_id.is_none() && holders.is_empty())
        {
            return Ok(false);
        }
        self.exec(
            "UPDATE posts SET until = ?3 WHERE grid_id = ?1 AND post = ?2 AND until IS NULL",
            params![grid_id, post, on.to_string()],
        )?;
        if let Some(o) = officer_id {
            self.exec(
                "INSERT INTO posts (grid_id, officer_id, post, since) VALUES (?1, ?2, ?3, ?4)",
                params![grid_id, o, post, on.to_string()],
            )?;
        }
        Ok(true)
    }
}
