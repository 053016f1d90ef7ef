//! The service's use cases: recording a visit in full (idempotent, one transaction), photos,
//! campaigns and draws. (Accounts and sessions are in `accounts`, the roster in `posts`.)

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;
use sha2::Digest;

pub use super::access::Caller;
use super::businesses::reclassify_in;
use super::{App, AppError};
use crate::domain::access::Action;
use crate::domain::campaign::Campaign;
use crate::domain::entity::{EntityId, Outcome, Violation};
use crate::domain::inspection::{Rectification, Visit, check_visit};
use crate::store::Touched;
use crate::store::{BusinessFilter, Db, ExtraLink, NewVisit, StoredResponse};

/// A visit checked as far as it can be without the database, with what it writes already
/// written as text (see [`App::record_visit`]).
/// What a visit's audit entry carries besides what it decided (members in the order of
/// their names, as the entries have always had them; the audit log is read back as JSON).
#[derive(Serialize)]
struct AuditedVisit<'a> {
    findings: &'a [crate::domain::inspection::Finding],
    officers: &'a [String],
    photos: &'a [crate::domain::inspection::PhotoRef],
    rectification: &'a Option<Rectification>,
    visited_at: &'a chrono::NaiveDateTime,
    warning: &'a Option<crate::domain::inspection::Warning>,
}

impl<'a> AuditedVisit<'a> {
    fn of(visit: &'a Visit) -> Self {
        AuditedVisit {
            findings: &visit.findings,
            officers: &visit.officers,
            photos: &visit.photos,
            rectification: &visit.rectification,
            visited_at: &visit.visited_at,
            warning: &visit.warning,
        }
    }
}

struct PreparedVisit {
    caller: Caller,
    visit: Visit,
    officer: String,
    id: EntityId,
    outcome: Outcome,
    idempotency_key: Option<String>,
    request_hash: Option<String>,
    at: String,
    today: NaiveDate,
    date: NaiveDate,
    visited_at: String,
    checklist: String,
    findings: String,
    rectification: Option<String>,
    audited_visit: String,
}

/// SHA-256 of bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&sha2::Sha256::digest(bytes))
}

/// Bytes as lower-case hexadecimal (two digits a byte). Every request hashes its token and
/// a visit its body: a `format!` per byte was nearly a tenth of a submit's time on the async
/// threads.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    text
}

/// The answer to a recorded visit: its status (201, or the first answer's for a retried
/// idempotency key), what it did, and that as the JSON text the API sends (written once,
/// for the answer, the audit entry and the idempotency record).
#[derive(Debug, Clone)]
pub struct RecordedVisit {
    pub status: u16,
    pub report: VisitReport,
    pub json: String,
}

/// What the writer answers: a retried key's stored answer comes as text only.
struct WrittenVisit {
    status: u16,
    report: Option<VisitReport>,
    json: String,
}

impl WrittenVisit {
    fn read(self) -> Result<RecordedVisit, AppError> {
        let report = match self.report {
            Some(report) => report,
            None => serde_json::from_str(&self.json)
                .map_err(|e| AppError::Io(format!("stored visit answer: {e}")))?,
        };
        Ok(RecordedVisit {
            status: self.status,
            report,
            json: self.json,
        })
    }
}

/// What recording a visit did. Its fields are in the order of their names, the order in
/// which answers and audit entries have always carried them.
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct VisitReport {
    pub class: Option<String>,
    pub closed_tasks: Vec<i64>,
    pub entity_id: String,
    pub follow_up_task: Option<i64>,
    pub inspection_id: i64,
    pub outcome: String,
    pub same_day: bool,
}

impl App {
    /// The directory photos are kept in.
    pub fn photo_dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| {
            let mut dir = self.db_path.clone().into_os_string();
            dir.push(".data");
            PathBuf::from(dir)
        })
    }

    /// Stores a photo under the data directory, named by its SHA-256; the same bytes twice
    /// are one file. Returns the hash.
    pub fn store_photo(
        &self,
        caller: &Caller,
        bytes: &[u8],
        content_type: &str,
    ) -> Result<String, AppError> {
        self.require(caller, Action::Record)?;
        let sha = sha256_hex(bytes);
        let dir = self.photo_dir().join(&sha[..2]);
        let path = dir.join(&sha);
        let io = |e: std::io::Error| AppError::Io(format!("photo {}: {e}", path.display()));
        if !path.exists() {
            std::fs::create_dir_all(&dir).map_err(io)?;
            // Written whole under a temporary name and renamed: a photo file is never partial.
            let tmp = dir.join(format!("{sha}.tmp{}", std::process::id()));
            let mut file = std::fs::File::create(&tmp).map_err(io)?;
            std::io::Write::write_all(&mut file, bytes).map_err(io)?;
            file.sync_all().map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)?;
        }
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| db.insert_photo(&sha, content_type, bytes.len(), &at))?;
        Ok(sha)
    }

    /// A stored photo's bytes and content type. An officer sees only photos of visits to
    /// businesses in their grids.
    pub fn photo(&self, caller: &Caller, sha: &str) -> Result<(Vec<u8>, String), AppError> {
        self.require(caller, Action::Read)?;
        if !crate::domain::inspection::is_sha256(sha) {
            return Err(AppError::Invalid("sha256: 64 lowercase hex digits".into()));
        }
        let store = self.open_store()?;
        let kind = store
            .read()
            .photo_type(sha)?
            .ok_or_else(|| crate::store::StoreError::NotFound(format!("photo {sha}")))?;
        if crate::domain::access::grid_scoped(caller.role) {
            let entities = store.read().photo_entities(sha)?;
            if !entities
                .iter()
                .any(|e| self.require_entity(caller, e, Action::Read).is_ok())
            {
                return Err(AppError::Forbidden(
                    "the photo is not of a business in your grids".into(),
                ));
            }
        }
        let path = self
            .photo_path(sha)
            .ok_or_else(|| AppError::Io(format!("photo {sha} is missing on disk")))?;
        let bytes = std::fs::read(&path).map_err(|e| AppError::Io(e.to_string()))?;
        Ok((bytes, kind))
    }

    /// The path of a stored photo.
    pub fn photo_path(&self, sha: &str) -> Option<PathBuf> {
        crate::domain::inspection::is_sha256(sha)
            .then(|| self.photo_dir().join(&sha[..2]).join(sha))
            .filter(|p| p.exists())
    }

    /// Records a visit: checks it, writes the inspection, its findings and photos, closes
    /// every task it satisfies, schedules the follow-up of a rectification notice,
    /// re-classifies the business, and audits it, all in one transaction, queued to the
    /// writing thread (see [`crate::store::Database`]) so no thread waits for the commit. With an
    /// idempotency key, a retried submit returns the first answer and writes nothing. The
    /// one way a visit is recorded: the JSON API and the officer page's form both call it.
    pub async fn record_visit_queued(
        self: Arc<Self>,
        caller: &Caller,
        visit: Visit,
        idempotency: Option<(&str, &[u8])>,
    ) -> Result<RecordedVisit, AppError> {
        // The writing thread only borrows the prepared visit: it is freed here, on the
        // thread that made it, and the writer takes no allocator lock for it.
        let prepared = Arc::new(self.prepare_visit(caller, visit, idempotency)?);
        let (app, lent) = (Arc::clone(&self), Arc::clone(&prepared));
        let answer = self
            .connections
            .queue(&self.db_path, move |db| app.write_visit(&db, &lent))
            .await;
        drop(prepared);
        answer?.read()
    }

    /// [`App::record_visit_queued`] on the caller's own thread, for the demo's replay: it
    /// sets the clock for each visit (`&mut self`) and runs outside any runtime, so it
    /// cannot await the writing thread. The same checks ([`App::prepare_visit`]) and the
    /// same transaction ([`App::write_visit`]), committed on this thread.
    pub fn record_visit(
        &self,
        caller: &Caller,
        visit: Visit,
        idempotency: Option<(&str, &[u8])>,
    ) -> Result<RecordedVisit, AppError> {
        let prepared = self.prepare_visit(caller, visit, idempotency)?;
        self.open_store()?
            .write_touching(|db| self.write_visit(&db, &prepared))?
            .read()
    }

    /// The checks of a visit that read nothing stored, and everything it writes as text:
    /// done before it reaches the writer, which runs one write at a time.
    fn prepare_visit(
        &self,
        caller: &Caller,
        visit: Visit,
        idempotency: Option<(&str, &[u8])>,
    ) -> Result<PreparedVisit, AppError> {
        self.require(caller, Action::Record)?;
        let officer = caller.officer_id.clone().ok_or_else(|| {
            AppError::Forbidden("only an officer on the roster records a visit".into())
        })?;
        let id = EntityId::parse(&visit.entity_id)
            .map_err(|e| AppError::Invalid(format!("entity_id: {e}")))?;
        let outcome = check_visit(
            &visit,
            &officer,
            self.clock.now_local(),
            self.policy.min_officers_per_visit as usize,
        )
        .map_err(AppError::Invalid)?;
        Ok(PreparedVisit {
            caller: caller.clone(),
            officer,
            id,
            outcome,
            idempotency_key: idempotency.map(|(key, _)| key.to_owned()),
            request_hash: idempotency.map(|(_, body)| sha256_hex(body)),
            at: self.clock.stamp(),
            today: self.clock.today(),
            date: visit.visited_at.date(),
            visited_at: visit.visited_at.format("%Y-%m-%dT%H:%M:%S").to_string(),
            checklist: json_text("checklist", &(&visit.checklist, &visit.extra_items))?,
            findings: json_text("findings", &visit.findings)?,
            rectification: visit
                .rectification
                .as_ref()
                .map(|r| json_text("rectification", r))
                .transpose()?,
            // The inspection row is never changed after this: the audit entry names it and
            // carries what the visit decided, not its twelve checklist items again.
            audited_visit: json_text("visit", &AuditedVisit::of(&visit))?,
            visit,
        })
    }

    /// Refuses a visit whose officers are not all on the roster with an enforcement
    /// certificate (facts kept in memory, or read on the writing connection).
    fn require_certified(&self, db: &Db<'_>, officers: &[String]) -> Result<(), AppError> {
        for o in officers {
            match self.officer_facts(db, o)?.certified {
                None => {
                    return Err(AppError::Invalid(format!(
                        "officers: '{o}' is not on the roster"
                    )));
                }
                Some(false) => {
                    return Err(AppError::Invalid(format!(
                        "officers: '{o}' holds no enforcement certificate"
                    )));
                }
                Some(true) => {}
            }
        }
        Ok(())
    }

    /// A prepared visit's checks against what is stored and its writes, in the writer's
    /// transaction. What it touches: the due lists of the officers of the business's open
    /// tasks (closed, or showing its new class) and of the follow-up's officers.
    fn write_visit(
        &self,
        db: &Db<'_>,
        prepared: &PreparedVisit,
    ) -> Result<(WrittenVisit, Touched), AppError> {
        let PreparedVisit {
            caller,
            visit,
            officer,
            id,
            idempotency_key,
            request_hash,
            at,
            visited_at,
            checklist,
            findings,
            rectification,
            audited_visit,
            ..
        } = prepared;
        let (outcome, today, date) = (prepared.outcome, prepared.today, prepared.date);
        // A business is never deleted (and the foreign key would refuse the visit if it
        // were); the roster check is a validation. Both read facts kept in memory, or the
        // writing connection's warm cache. The business is read once: its place for the
        // check, its stored class for confirming it below.
        let business = db
            .business_for_visit(id)?
            .ok_or_else(|| crate::store::StoreError::NotFound(format!("business '{id}'")))?;
        let stored_class = business.class_holding_on(today);
        self.require_unit_covered(db, caller, id, business.region_code, business.unit_code)?;
        self.require_certified(db, &visit.officers)?;
        let classes_current = self.classes_under_policy(db)?;
        if let Some(answer) = retried_answer(db, prepared)? {
            return Ok((answer, Touched::Nothing));
        }
        let partner = visit.officers.iter().find(|o| **o != *officer);
        // The tasks this visit satisfies, read once: the visit takes the most urgent
        // kind among them, and closes them all. The officers of the business's open
        // tasks come with them.
        let crate::store::Satisfied {
            tasks: satisfied,
            officers: mut touched,
        } = db.tasks_satisfied_by(id.as_str(), date)?;
        touched.extend(visit.officers.iter().cloned());
        let kind = most_urgent_kind(&satisfied);
        let inspection_id = db.insert_visit(
            &NewVisit {
                entity_id: id.as_str(),
                date,
                visited_at,
                officer_id: officer,
                partner_id: partner.map(String::as_str),
                kind: &kind,
                outcome: outcome.as_str(),
                same_day: date == today,
                checklist,
                findings,
                rectification: rectification.as_deref(),
                warning: visit.warning.map(|w| match w {
                    crate::domain::inspection::Warning::Issued => "issued",
                    crate::domain::inspection::Warning::Lifted => "lifted",
                }),
                recorded_by: &caller.username,
            },
            at,
        )?;
        write_findings(db, prepared)?;
        for p in &visit.photos {
            db.link_photo(inspection_id, &p.sha256, &p.name)?;
        }
        let closed: Vec<i64> = satisfied.iter().map(|(task, _)| *task).collect();
        db.mark_done(&closed, inspection_id)?;
        let follow_up = match &visit.rectification {
            Some(Rectification::Notice { deadline }) => Some(db.insert_extra_task(
                id.as_str(),
                "follow_up",
                (*deadline, *deadline),
                Some((officer, partner.map(String::as_str))),
                ExtraLink::FollowUp(inspection_id),
                at,
            )?),
            _ => None,
        };
        // A visit with no finding and no refusal adds nothing the rules read (they
        // read only refused visits), and a stored class reads the same until its
        // review date: then the stored class, under this policy, is the class the
        // visit leaves, with no records to read. Otherwise, classify again.
        let holding = match (visit.findings.is_empty(), outcome, classes_current) {
            (true, o, true) if o != Outcome::Refused => stored_class,
            _ => None,
        };
        let class = match holding {
            Some(class) => Some(class),
            None => {
                let cause = format!("inspection recorded ({date}, {outcome})");
                let classified = reclassify_in(
                    db,
                    &self.policy,
                    &BusinessFilter::One(id.clone()),
                    today,
                    &cause,
                    at,
                )?;
                classified.classes.keys().next().cloned()
            }
        };
        let report = VisitReport {
            inspection_id,
            entity_id: id.to_string(),
            outcome: outcome.as_str().to_owned(),
            same_day: date == today,
            closed_tasks: closed,
            follow_up_task: follow_up,
            class,
        };
        let body_text = json_text("visit report", &report)?;
        db.audit_text(
            at,
            &caller.username,
            "visit recorded",
            id.as_str(),
            &format!(r#"{{"after":{body_text},"visit":{audited_visit}}}"#),
        )?;
        if let (Some(key), Some(hash)) = (idempotency_key.as_deref(), request_hash) {
            db.store_response(
                caller.user_id,
                key,
                &StoredResponse {
                    request_hash: hash.clone(),
                    status: 201,
                    body: body_text.clone(),
                },
                at,
            )?;
        }
        Ok((
            WrittenVisit {
                status: 201,
                report: Some(report),
                json: body_text,
            },
            Touched::Officers(touched),
        ))
    }

    /// A stored visit in full.
    pub fn visit(&self, caller: &Caller, id: i64) -> Result<serde_json::Value, AppError> {
        self.require(caller, Action::Read)?;
        let visit = self.open_store()?.read().visit(id)?;
        let entity = visit["entity_id"].as_str().unwrap_or_default().to_owned();
        self.require_entity(caller, &entity, Action::Read)?;
        Ok(visit)
    }

    /// Every special campaign, with its task count.
    pub fn campaigns(&self, caller: &Caller) -> Result<Vec<crate::store::CampaignRow>, AppError> {
        self.require(caller, Action::Read)?;
        Ok(self.open_store()?.read().campaigns()?)
    }

    /// The append-only audit log, newest first: `limit` entries (at most 1,000) older than
    /// the entry `before`.
    pub fn audit_log(
        &self,
        caller: &Caller,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<crate::store::AuditRow>, AppError> {
        self.require(caller, Action::ReadAudit)?;
        Ok(self
            .open_store()?
            .read()
            .audit_log(before, limit.min(1000))?)
    }

    /// Creates a special campaign and a task for every matching business of the region
    /// (class, grid and area in force), with the campaign's checklist; routine tasks dated
    /// in the campaign's window are merged into its visit.
    pub fn create_campaign(
        &self,
        caller: &Caller,
        region_code: &str,
        campaign: &Campaign,
    ) -> Result<serde_json::Value, AppError> {
        self.require(caller, Action::ManageInspections)?;
        if campaign.from > campaign.to {
            return Err(AppError::Invalid(format!(
                "to: {} is before from {}",
                campaign.to, campaign.from
            )));
        }
        if campaign.name.trim().is_empty() {
            return Err(AppError::Invalid("name: must not be empty".into()));
        }
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| -> Result<serde_json::Value, AppError> {
            if !db.region_codes()?.iter().any(|r| r == region_code) {
                return Err(
                    crate::store::StoreError::NotFound(format!("region '{region_code}'")).into(),
                );
            }
            let id = db.insert_campaign(region_code, campaign, &caller.username, &at)?;
            let (mut tasks, mut merged) = (0, 0);
            for (entity, industry, class, grid, area) in db.placed_businesses(region_code)? {
                let class = class
                    .as_deref()
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(crate::domain::policy::RiskClass::A);
                let (Some(grid), area) = (grid, area.unwrap_or_default()) else {
                    continue;
                };
                if campaign.filter.matches(&industry, class, &grid, &area) {
                    let task = db.insert_extra_task(
                        &entity,
                        "special",
                        (campaign.from, campaign.to),
                        None,
                        ExtraLink::Campaign(id),
                        &at,
                    )?;
                    merged += db.merge_routine_into(&entity, (campaign.from, campaign.to), task)?;
                    tasks += 1;
                }
            }
            let summary = serde_json::json!({ "id": id, "tasks": tasks, "routine_merged": merged });
            db.audit(
                &at,
                &caller.username,
                "campaign created",
                region_code,
                &serde_json::json!({ "after": campaign, "result": &summary }),
            )?;
            Ok(summary)
        })
    }

    /// A random draw (双随机) over a region's register as stored: businesses per class share
    /// and certified inspector pairs at random from the seed, each pair a special task due
    /// within `days`. The seed is stored with the draw, so it can be replayed.
    pub fn draw_in_store(
        &self,
        caller: &Caller,
        region_code: &str,
        seed: u64,
        on: NaiveDate,
        days: u32,
    ) -> Result<serde_json::Value, AppError> {
        self.require(caller, Action::ManageInspections)?;
        let due_by = on
            .checked_add_days(chrono::Days::new(u64::from(days.max(1)) - 1))
            .unwrap_or(on);
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| -> Result<serde_json::Value, AppError> {
            if !db.region_codes()?.iter().any(|r| r == region_code) {
                return Err(crate::store::StoreError::NotFound(format!("region '{region_code}'")).into());
            }
            let businesses = db.placed_businesses(region_code)?;
            let classes: Vec<crate::domain::policy::RiskClass> = businesses
                .iter()
                .map(|b| {
                    b.2.as_deref()
                        .and_then(|c| c.parse().ok())
                        .unwrap_or(crate::domain::policy::RiskClass::A)
                })
                .collect();
            let roster = db.officers(Some(region_code))?;
            let inspectors: Vec<usize> = (0..roster.len())
                .filter(|&i| {
                    roster[i].certified
                        && matches!(
                            roster[i].role,
                            crate::domain::entity::Role::Officer | crate::domain::entity::Role::Deputy
                        )
                })
                .collect();
            if inspectors.len() < 2 {
                return Err(AppError::Invalid(format!(
                    "region '{region_code}' has {} certified inspectors; a draw needs 2",
                    inspectors.len()
                )));
            }
            let (drawn, blocked) = crate::domain::campaign::random_draw(
                &classes,
                &inspectors,
                &Default::default(),
                self.policy.random_draw,
                seed,
            );
            let id = db.insert_draw(region_code, seed, on, due_by, drawn.len(), &caller.username, &at)?;
            let mut lines = Vec::new();
            for d in &drawn {
                let entity = &businesses[d.business].0;
                let (a, b) = (&roster[d.inspectors[0]].id, &roster[d.inspectors[1]].id);
                let task = db.insert_extra_task(
                    entity,
                    "special",
                    (on, due_by),
                    Some((a, Some(b))),
                    ExtraLink::Draw(id),
                    &at,
                )?;
                db.merge_routine_into(entity, (on, due_by), task)?;
                lines.push(serde_json::json!({
                    "entity_id": entity, "class": classes[d.business], "officer_id": a, "partner_id": b, "task": task,
                }));
            }
            let summary = serde_json::json!({
                "id": id, "seed": seed, "on": on, "due_by": due_by, "lines": lines, "blocked": blocked.len(),
            });
            db.audit(
                &at,
                &caller.username,
                "random draw",
                region_code,
                &serde_json::json!({ "after": { "id": id, "seed": seed, "on": on, "lines": drawn.len() } }),
            )?;
            Ok(summary)
        })
    }
}

/// A value as JSON, for an audit entry or a stored body; a value that cannot be written as
/// JSON is an error, never an empty entry.
pub(super) fn json_value<T: Serialize + ?Sized>(
    what: &str,
    value: &T,
) -> Result<serde_json::Value, AppError> {
    serde_json::to_value(value).map_err(|e| AppError::Io(format!("{what} as JSON: {e}")))
}

/// [`json_value`] as text.
pub(super) fn json_text<T: Serialize + ?Sized>(what: &str, value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(|e| AppError::Io(format!("{what} as JSON: {e}")))
}

/// The targeted visit a complaint asks for: from its day (or today) to the deadline.
pub(super) fn targeted_window(date: NaiveDate, deadline_days: u32) -> (NaiveDate, NaiveDate) {
    let due = date
        .checked_add_days(chrono::Days::new(u64::from(deadline_days)))
        .unwrap_or(date);
    (date, due)
}

/// The first answer to a retried idempotency key, if this caller sent it before; a key sent
/// before with another request is refused.
fn retried_answer(db: &Db<'_>, prepared: &PreparedVisit) -> Result<Option<WrittenVisit>, AppError> {
    let (Some(key), Some(hash)) = (prepared.idempotency_key.as_deref(), &prepared.request_hash)
    else {
        return Ok(None);
    };
    let Some(stored) = db.stored_response(prepared.caller.user_id, key)? else {
        return Ok(None);
    };
    if &stored.request_hash != hash {
        return Err(AppError::Conflict(format!(
            "Idempotency-Key '{key}' was used for a different request"
        )));
    }
    Ok(Some(WrittenVisit {
        status: stored.status,
        report: None,
        json: stored.body,
    }))
}

/// A visit's findings, each a violation on the business's record dated the visit's day.
fn write_findings(db: &Db<'_>, prepared: &PreparedVisit) -> Result<(), AppError> {
    for f in &prepared.visit.findings {
        db.insert_violation(
            &prepared.id,
            &Violation {
                date: prepared.date,
                severity: f.severity,
                suspended: false,
                revoked: false,
                note: f.note.clone(),
            },
            &prepared.caller.username,
            &prepared.at,
        )?;
    }
    Ok(())
}

/// The kind a visit takes from the tasks it satisfies: the most urgent among them
/// (targeted, then follow-up, then special), else routine.
fn most_urgent_kind(satisfied: &[(i64, String)]) -> String {
    satisfied
        .iter()
        .map(|(_, k)| k.as_str())
        .min_by_key(|k| match *k {
            "targeted" => 0,
            "follow_up" => 1,
            "special" => 2,
            _ => 3,
        })
        .unwrap_or("routine")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::{AuditedVisit, VisitReport, hex, sha256_hex};
    use crate::domain::inspection::Visit;
    use crate::store::BusinessForVisit;
    use chrono::NaiveDate;

    /// A stored class holds before its review date, not on it or after, nor when none is
    /// stored: the visit then classifies the business again.
    #[test]
    fn a_stored_class_holds_until_the_day_of_its_review() {
        let business = |class: Option<&str>, review: Option<&str>| BusinessForVisit {
            region_code: "420115".into(),
            unit_code: Some("420115001".into()),
            class: class.map(str::to_owned),
            class_review_on: review.map(str::to_owned),
        };
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let holding = |class, review| business(class, review).class_holding_on(day);
        assert_eq!(holding(Some("B"), None), Some("B".to_owned()));
        assert_eq!(holding(Some("B"), Some("2026-12-02")), Some("B".to_owned()));
        assert_eq!(holding(Some("B"), Some("2027-01-01")), Some("B".to_owned()));
        assert_eq!(holding(Some("B"), Some("2026-12-01")), None);
        assert_eq!(holding(Some("B"), Some("2026-11-30")), None);
        assert_eq!(holding(None, None), None);
    }

    /// The answer to a visit is written once as text (for the caller, the audit entry and
    /// the idempotency record): it reads as it did when built through a JSON value, its
    /// members in the order of their names, and so does the audit entry's visit.
    #[test]
    fn a_visit_is_answered_and_audited_as_json_values_write_it() {
        let report = VisitReport {
            class: Some("C".into()),
            closed_tasks: vec![3, 7],
            entity_id: "91420115000910360R".into(),
            follow_up_task: Some(9),
            inspection_id: 42,
            outcome: "rectification".into(),
            same_day: true,
        };
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            serde_json::to_value(&report).unwrap().to_string()
        );
        let visit: Visit = serde_json::from_value(serde_json::json!({
            "entity_id": "91420115000910360R",
            "officers": ["O1", "O2"],
            "visited_at": "2026-12-01T09:30:00",
            "checklist": [],
            "findings": [{ "severity": "general", "note": "no ledger", "case": true }],
            "rectification": { "kind": "notice", "deadline": "2026-12-15" },
            "warning": "issued",
            "photos": [{ "sha256": "ab", "name": "front.jpg" }],
        }))
        .unwrap();
        let audited = serde_json::to_string(&AuditedVisit::of(&visit)).unwrap();
        let as_value = serde_json::json!({
            "visited_at": visit.visited_at,
            "officers": &visit.officers,
            "findings": &visit.findings,
            "rectification": &visit.rectification,
            "warning": &visit.warning,
            "photos": &visit.photos,
        });
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&audited).unwrap(),
            as_value
        );
        // Top-level members in name order, in the text itself (no nested member shares
        // their names).
        let places: Vec<Option<usize>> = [
            "findings",
            "officers",
            "photos",
            "rectification",
            "visited_at",
            "warning",
        ]
        .iter()
        .map(|m| audited.find(&format!("\"{m}\":")))
        .collect();
        assert!(places.iter().all(Option::is_some), "{audited}");
        assert!(places.windows(2).all(|w| w[0] < w[1]), "{audited}");
    }

    /// Stored token and request hashes are compared as text: the encoding must not change.
    #[test]
    fn hashes_read_as_lower_case_hex() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
