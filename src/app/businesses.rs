//! Use cases on the register: re-classification (bulk and nightly), recording events that
//! re-classify at once, overrides, and the view of one business.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

use super::{App, AppError};
use crate::domain::entity::{AnnualReport, Complaint, EntityId, Inspection, Licence, Violation};
use crate::domain::policy::{Policy, RiskClass};
use crate::domain::risk::{Classification, Reason, classify};
use crate::store::{BusinessFilter, Db, EntityView, InspectionRows, OverrideRow, StoredClass};

/// The reasons as stored and served: each rule with its text and evidence.
pub fn reasons_json(reasons: &[Reason]) -> Result<String, serde_json::Error> {
    let mut items = Vec::with_capacity(reasons.len());
    for r in reasons {
        let mut evidence = serde_json::to_value(r)?;
        if let Some(map) = evidence.as_object_mut() {
            map.remove("rule");
        }
        items.push(
            serde_json::json!({ "rule": r.rule(), "text": r.to_string(), "evidence": evidence }),
        );
    }
    Ok(serde_json::Value::Array(items).to_string())
}

fn stored(c: &Classification) -> crate::store::Result<StoredClass> {
    Ok(StoredClass {
        class: c.class,
        reasons: reasons_json(&c.reasons)
            .map_err(|e| crate::store::StoreError::Json(format!("reasons as JSON: {e}")))?,
        changes_on: c.changes_on,
        review_on: c.review_on,
    })
}

/// The version of the classification rules' code, part of the policy's fingerprint: raised
/// when the code classes or dates differently for the same records and policy, so that the
/// first nightly run after an upgrade re-classifies everything too. (2: review dates also
/// fall on the days a report owed with no row falls due or leaves the window.)
const RULES_VERSION: u32 = 2;

/// A fingerprint of the policy: stored with each nightly run, so that the first run under a
/// changed policy re-classifies every business instead of only those due for review.
pub fn policy_fingerprint(policy: &Policy) -> String {
    // FNV-1a over the rules' version and the canonical JSON of the validated policy.
    let text = format!(
        "{RULES_VERSION}{}",
        serde_json::to_string(policy).unwrap_or_default()
    );
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// What a re-classification did.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct ReclassifyReport {
    pub as_of: Option<NaiveDate>,
    pub examined: usize,
    /// Businesses whose class changed (each has a new class-history row).
    pub changed: usize,
    /// Computed classes of the examined businesses.
    pub classes: BTreeMap<String, usize>,
    pub overrides_lapsed: usize,
    /// Whether every business was re-classified (not only those due for review).
    pub everything: bool,
    pub policy_fingerprint: String,
    pub seconds: f64,
}

/// Re-classifies the businesses the filter selects, inside the caller's transaction.
pub(super) fn reclassify_in(
    db: &Db<'_>,
    policy: &Policy,
    filter: &BusinessFilter,
    as_of: NaiveDate,
    cause: &str,
    at: &str,
) -> Result<ReclassifyReport, AppError> {
    let started = Instant::now();
    let mut report = ReclassifyReport {
        as_of: Some(as_of),
        ..Default::default()
    };
    // Collect first: the stream holds read cursors on the tables the updates write.
    let mut updates: Vec<(String, Option<StoredClass>, StoredClass)> = Vec::new();
    db.for_each_business_with(filter, InspectionRows::Refusals, |row| {
        let c = classify(&row.business, &row.records, as_of, policy);
        report.examined += 1;
        *report
            .classes
            .entry(c.class.as_str().to_owned())
            .or_default() += 1;
        let new = stored(&c)?;
        if row.stored.as_ref() != Some(&new) {
            updates.push((row.business.id.as_str().to_owned(), row.stored, new));
        }
        Ok(())
    })?;
    for (id, previous, new) in &updates {
        if db.store_classification(id, previous.as_ref(), new, as_of, cause, at)? {
            report.changed += 1;
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// An event on a business's record; each re-classifies it at once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Violation(Violation),
    Complaint(Complaint),
    AnnualReport(AnnualReport),
    Licence { licence: Licence },
    Inspection(Inspection),
}

impl Event {
    fn cause(&self) -> String {
        match self {
            Event::Violation(v) => format!("violation recorded ({} on {})", v.severity, v.date),
            Event::Complaint(c) => format!("complaint recorded ({})", c.date),
            Event::AnnualReport(r) => format!("annual report {} recorded ({})", r.year, r.result),
            Event::Licence { licence } => format!("licence changed to {licence}"),
            Event::Inspection(i) => format!("inspection recorded ({}, {})", i.date, i.outcome),
        }
    }
}

/// One business as the API shows it: the computed class, the override beside it, and the
/// class in force.
#[derive(Debug, Clone, Serialize)]
pub struct EntityDetail {
    #[serde(flatten)]
    pub view: EntityView,
    pub effective_class: Option<RiskClass>,
    /// The classification recomputed now (the stored one is refreshed nightly).
    pub live: Classification,
}

impl App {
    /// Re-classifies the selected businesses as of a date (by default today).
    pub fn reclassify(
        &self,
        filter: &BusinessFilter,
        as_of: Option<NaiveDate>,
        cause: &str,
    ) -> Result<ReclassifyReport, AppError> {
        let as_of = as_of.unwrap_or_else(|| self.clock.today());
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| reclassify_in(&db, &self.policy, filter, as_of, cause, &at))
    }

    /// The nightly pass: lapses expired overrides (audited) and re-classifies every business
    /// whose stored classification is due for review by the passage of time. Running it
    /// twice for the same date changes nothing the second time.
    pub fn nightly_reclassify(&self, as_of: NaiveDate) -> Result<ReclassifyReport, AppError> {
        self.nightly_pass(as_of, false)
    }

    /// Whether the classifications stored on the businesses were computed under this app's
    /// policy: the last nightly re-classification ran under it. (A changed policy has the
    /// next nightly pass re-classify everything; until then a stored class may be stale.)
    pub fn classes_under_policy(&self, db: &crate::store::Db<'_>) -> Result<bool, AppError> {
        // Read before the job runs: a write after this makes what is kept stale.
        let global = self.connections.generation(&self.db_path, "").global;
        if let Some(known) = self.views.classes_under_policy(global) {
            return Ok(known);
        }
        let last = db
            .last_job_summary(crate::store::job_names::NIGHTLY_RECLASSIFY)?
            .and_then(|s| s["policy_fingerprint"].as_str().map(str::to_owned));
        let known = last.as_deref() == Some(policy_fingerprint(&self.policy).as_str());
        self.views.keep_classes_under_policy(global, known);
        Ok(known)
    }

    /// The nightly pass; `everything` re-classifies every business (after a policy change).
    pub fn nightly_pass(
        &self,
        as_of: NaiveDate,
        everything: bool,
    ) -> Result<ReclassifyReport, AppError> {
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| {
            let lapsed = db.lapse_overrides(as_of, &at)?;
            for o in &lapsed {
                db.audit(
                    &at,
                    "system",
                    "override lapsed",
                    &o.entity_id,
                    &super::service::json_value("lapsed override", o)?,
                )?;
            }
            let filter = if everything {
                BusinessFilter::All
            } else {
                BusinessFilter::ReviewDue(as_of)
            };
            let mut report = reclassify_in(&db, &self.policy, &filter, as_of, "nightly", &at)?;
            report.overrides_lapsed = lapsed.len();
            report.everything = everything;
            report.policy_fingerprint = policy_fingerprint(&self.policy);
            Ok(report)
        })
    }

    /// Records an event and re-classifies the business in the same transaction.
    pub fn record_event(
        &self,
        id: &EntityId,
        event: &Event,
        actor: &str,
    ) -> Result<EntityDetail, AppError> {
        if actor.trim().is_empty() {
            return Err(AppError::Invalid(
                "actor: who records this must be named".into(),
            ));
        }
        let today = self.clock.today();
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| -> Result<(), AppError> {
            match event {
                Event::Violation(v) => db.insert_violation(id, v, actor, &at)?,
                Event::Complaint(c) => {
                    db.insert_complaint(id, c, actor, &at)?;
                    // A lead asks for a targeted visit within the policy's deadline; routine
                    // visits dated inside it are merged into that visit.
                    let window = super::service::targeted_window(
                        c.date.max(today),
                        self.policy.targeted_deadline_days,
                    );
                    let complaint = db.last_complaint_id(id.as_str())?;
                    let task = db.insert_extra_task(
                        id.as_str(),
                        "targeted",
                        window,
                        None,
                        crate::store::ExtraLink::Complaint(complaint),
                        &at,
                    )?;
                    db.merge_routine_into(id.as_str(), window, task)?;
                }
                Event::AnnualReport(r) => db.upsert_annual_report(id, r, actor, &at)?,
                Event::Licence { licence } => {
                    db.set_licence(id, *licence)?;
                }
                Event::Inspection(i) => {
                    db.insert_inspection(id, i, actor, &at)?;
                }
            }
            db.audit(
                &at,
                actor,
                "record",
                id.as_str(),
                &super::service::json_value("recorded event", event)?,
            )?;
            reclassify_in(
                &db,
                &self.policy,
                &BusinessFilter::One(id.clone()),
                today,
                &event.cause(),
                &at,
            )?;
            Ok(())
        })?;
        self.entity(id)
    }

    /// Sets a class override with a written reason and an expiry; audited.
    pub fn set_override(
        &self,
        id: &EntityId,
        class: RiskClass,
        reason: &str,
        expires_on: NaiveDate,
        actor: &str,
    ) -> Result<OverrideRow, AppError> {
        let today = self.clock.today();
        if reason.trim().is_empty() {
            return Err(AppError::Invalid(
                "reason: an override needs a written reason".into(),
            ));
        }
        if actor.trim().is_empty() {
            return Err(AppError::Invalid(
                "actor: who sets the override must be named".into(),
            ));
        }
        if expires_on < today {
            return Err(AppError::Invalid(format!(
                "expires_on: {expires_on} is in the past (today is {today})"
            )));
        }
        let max = today
            .checked_add_days(Days::new(u64::from(self.policy.override_max_days)))
            .unwrap_or(NaiveDate::MAX);
        if expires_on > max {
            return Err(AppError::Invalid(format!(
                "expires_on: an override may run at most {} days (until {max})",
                self.policy.override_max_days
            )));
        }
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| -> Result<OverrideRow, AppError> {
            db.insert_override(id, class, reason.trim(), actor, &at, today, expires_on)?;
            let row = db
                .active_override(id, today)?
                .ok_or_else(|| AppError::Invalid("override did not take".into()))?;
            db.audit(
                &at,
                actor,
                "override set",
                id.as_str(),
                &super::service::json_value("override", &row)?,
            )?;
            Ok(row)
        })
    }

    /// Lifts the override of a business before it expires; audited.
    pub fn lift_override(
        &self,
        id: &EntityId,
        actor: &str,
    ) -> Result<Option<OverrideRow>, AppError> {
        let at = self.clock.stamp();
        let mut store = self.open_store()?;
        store.write(|db| -> Result<_, AppError> {
            let lifted = db.lift_override(id, actor, &at)?;
            if let Some(row) = &lifted {
                db.audit(
                    &at,
                    actor,
                    "override lifted",
                    id.as_str(),
                    &super::service::json_value("lifted override", row)?,
                )?;
            }
            Ok(lifted)
        })
    }

    /// One business with its computed class, the override beside it and the class in force.
    pub fn entity(&self, id: &EntityId) -> Result<EntityDetail, AppError> {
        let today = self.clock.today();
        let store = self.open_store()?;
        let view = store.read().entity_view(id, today)?;
        let live = classify(&view.business, &view.records, today, &self.policy);
        let effective_class = match &view.active_override {
            Some(o) => Some(o.class.parse().map_err(AppError::Invalid)?),
            None => view.computed.as_ref().map(|c| c.class),
        };
        Ok(EntityDetail {
            view,
            effective_class,
            live,
        })
    }
}

impl App {
    /// Businesses of a class (the class in force: an override wins), riskiest first.
    pub fn list_businesses(
        &self,
        region: Option<&str>,
        class: Option<RiskClass>,
        limit: usize,
    ) -> Result<Vec<crate::store::BusinessLine>, AppError> {
        Ok(self
            .open_store()?
            .read()
            .list_businesses(region, class, self.clock.today(), limit)?)
    }
}

impl App {
    /// Per region: units, businesses, unlocated ones, classes.
    pub fn summary(
        &self,
        caller: &super::access::Caller,
    ) -> Result<crate::store::Summary, AppError> {
        self.require(caller, crate::domain::access::Action::Read)?;
        Ok(self.open_store()?.read().summary(self.clock.today())?)
    }

    /// Businesses matching a search, riskiest first; an officer's search is held to the
    /// grids where they hold a post, whatever the search asks.
    pub fn search_businesses(
        &self,
        caller: &super::access::Caller,
        mut search: crate::store::BusinessSearch,
    ) -> Result<Vec<crate::store::BusinessLine>, AppError> {
        self.require(caller, crate::domain::access::Action::Read)?;
        search.officer_scope = crate::domain::access::grid_scoped(caller.role)
            .then(|| caller.officer_id.clone().unwrap_or_default());
        Ok(self
            .open_store()?
            .read()
            .search_businesses(&search, self.clock.today())?)
    }

    /// One business as [`App::entity`] shows it, for a caller who may read it.
    pub fn business(
        &self,
        caller: &super::access::Caller,
        id: &EntityId,
    ) -> Result<EntityDetail, AppError> {
        self.require_entity(caller, id.as_str(), crate::domain::access::Action::Read)?;
        self.entity(id)
    }
}
