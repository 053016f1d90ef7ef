//! A recorded visit (SPEC §5): the twelve items of the routine checklist, each pass, fail
//! or not applicable with a note; findings; rectification on the spot or by a notice with a
//! deadline; a warning issued or lifted. Checked here, before anything is written.

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

use super::entity::{Outcome, Severity};

/// The routine checklist (市场巡查主要内容), in the order of SPEC §5.
pub const CHECKLIST: [&str; 12] = [
    "qualification",
    "licence_display",
    "annual_report_and_scope",
    "consumer_interests_and_competition",
    "product_quality_and_food_safety",
    "trademarks_and_pyramid_selling",
    "advertising",
    "contracts",
    "complaints_on_site",
    "exit_and_deregistration",
    "register_changes",
    "other",
];

/// One checklist item's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemResult {
    Pass,
    Fail,
    NotApplicable,
}

/// One checklist item as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecklistItem {
    pub item: String,
    pub result: ItemResult,
    #[serde(default)]
    pub note: String,
}

/// A violation found on the visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub severity: Severity,
    pub note: String,
    /// Referred to the enforcement team as a case (立案).
    #[serde(default)]
    pub case: bool,
}

/// How a problem is put right.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Rectification {
    /// Fixed on the spot.
    OnTheSpot,
    /// A rectification notice (整改通知书): a follow-up visit is due on the deadline.
    Notice { deadline: NaiveDate },
}

/// A warning written on the visit, or lifted because the problem is solved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Warning {
    Issued,
    Lifted,
}

/// The checked content of a visit, as the officer submits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Visit {
    pub entity_id: String,
    /// Every officer present (at least the policy's minimum, all certified).
    pub officers: Vec<String>,
    /// Local date and time of the visit.
    pub visited_at: NaiveDateTime,
    pub checklist: Vec<ChecklistItem>,
    #[serde(default)]
    pub findings: Vec<Finding>,
    #[serde(default)]
    pub rectification: Option<Rectification>,
    #[serde(default)]
    pub warning: Option<Warning>,
    /// Photos uploaded before (by their SHA-256) with the name the officer gave them.
    #[serde(default)]
    pub photos: Vec<PhotoRef>,
    /// Extra items of a special campaign's checklist: item → result.
    #[serde(default)]
    pub extra_items: Vec<ChecklistItem>,
}

/// A photo of a visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhotoRef {
    pub sha256: String,
    pub name: String,
}

/// Checks a visit as submitted by `caller` (an officer id) at `now`; returns the outcome
/// the visit records. Names the field of the first problem.
pub fn check_visit(
    visit: &Visit,
    caller: &str,
    now: NaiveDateTime,
    min_officers: usize,
) -> Result<Outcome, String> {
    let mut officers = visit.officers.clone();
    officers.sort();
    officers.dedup();
    if officers.len() != visit.officers.len() {
        return Err("officers: an officer is named twice".into());
    }
    if officers.len() < min_officers {
        return Err(format!(
            "officers: a visit needs at least {min_officers} officers (got {})",
            officers.len()
        ));
    }
    if !visit.officers.iter().any(|o| o == caller) {
        return Err(format!(
            "officers: the officer recording the visit ({caller}) must be one of them"
        ));
    }
    if visit.visited_at > now {
        return Err(format!("visited_at: {} is in the future", visit.visited_at));
    }
    for (i, name) in CHECKLIST.iter().enumerate() {
        let n = visit.checklist.iter().filter(|c| c.item == *name).count();
        if n != 1 {
            return Err(format!(
                "checklist: item {} '{name}' must appear exactly once (found {n})",
                i + 1
            ));
        }
    }
    if let Some(other) = visit
        .checklist
        .iter()
        .find(|c| !CHECKLIST.contains(&c.item.as_str()))
    {
        return Err(format!(
            "checklist: '{}' is not an item (the items are: {})",
            other.item,
            CHECKLIST.join(", ")
        ));
    }
    if let Some(Rectification::Notice { deadline }) = &visit.rectification
        && *deadline <= visit.visited_at.date()
    {
        return Err(format!(
            "rectification.deadline: {deadline} must be after the visit"
        ));
    }
    for (i, p) in visit.photos.iter().enumerate() {
        if !is_sha256(&p.sha256) {
            return Err(format!("photos[{i}].sha256: not a SHA-256 in hex"));
        }
        check_photo_name(&p.name).map_err(|e| format!("photos[{i}].name: {e}"))?;
    }
    let failed = visit
        .checklist
        .iter()
        .chain(&visit.extra_items)
        .any(|c| c.result == ItemResult::Fail);
    if failed && visit.findings.is_empty() && visit.rectification.is_none() {
        return Err("findings: a failed checklist item needs a finding or a rectification".into());
    }
    Ok(if visit.findings.iter().any(|f| f.case) {
        Outcome::Case
    } else if matches!(visit.rectification, Some(Rectification::Notice { .. })) {
        Outcome::Rectification
    } else if !visit.findings.is_empty() || failed {
        Outcome::Findings
    } else {
        Outcome::Ok
    })
}

/// Whether a string is 64 lowercase hex digits.
pub fn is_sha256(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A photo's name is a plain file name: no directories, no traversal, no control characters.
pub fn check_photo_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 200 {
        return Err("must be 1 to 200 bytes".into());
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." || name.contains("..") {
        return Err(format!("'{name}' is not a plain file name"));
    }
    if name.chars().any(char::is_control) {
        return Err("contains a control character".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visit() -> Visit {
        Visit {
            entity_id: "x".into(),
            officers: vec!["O1".into(), "O2".into()],
            visited_at: "2027-03-01T10:00:00".parse().unwrap(),
            checklist: CHECKLIST
                .iter()
                .map(|i| ChecklistItem {
                    item: (*i).into(),
                    result: ItemResult::Pass,
                    note: String::new(),
                })
                .collect(),
            findings: vec![],
            rectification: None,
            warning: None,
            photos: vec![],
            extra_items: vec![],
        }
    }

    fn now() -> NaiveDateTime {
        "2027-03-01T18:00:00".parse().unwrap()
    }

    #[test]
    fn a_clean_visit_is_ok_and_each_rule_names_its_field() {
        assert_eq!(check_visit(&visit(), "O1", now(), 2), Ok(Outcome::Ok));
        let mut v = visit();
        v.officers.pop();
        assert!(
            check_visit(&v, "O1", now(), 2)
                .unwrap_err()
                .starts_with("officers:")
        );
        assert!(
            check_visit(&visit(), "O9", now(), 2)
                .unwrap_err()
                .contains("must be one of them")
        );
        let mut v = visit();
        v.checklist.pop();
        assert!(
            check_visit(&v, "O1", now(), 2)
                .unwrap_err()
                .contains("'other'")
        );
        let mut v = visit();
        v.checklist[0].result = ItemResult::Fail;
        assert!(
            check_visit(&v, "O1", now(), 2)
                .unwrap_err()
                .starts_with("findings:")
        );
        v.rectification = Some(Rectification::Notice {
            deadline: "2027-03-15".parse().unwrap(),
        });
        assert_eq!(check_visit(&v, "O1", now(), 2), Ok(Outcome::Rectification));
        v.rectification = Some(Rectification::Notice {
            deadline: "2027-03-01".parse().unwrap(),
        });
        assert!(
            check_visit(&v, "O1", now(), 2)
                .unwrap_err()
                .starts_with("rectification.deadline")
        );
        let mut v = visit();
        v.visited_at = "2027-03-02T09:00:00".parse().unwrap();
        assert!(
            check_visit(&v, "O1", now(), 2)
                .unwrap_err()
                .contains("future")
        );
    }

    #[test]
    fn photo_names_cannot_climb_out() {
        for bad in [
            "../../etc/passwd",
            "a/b.jpg",
            "..",
            "c:\\x.jpg",
            "x\u{0}.jpg",
            "",
        ] {
            assert!(check_photo_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_photo_name("门头 1.jpg").is_ok());
    }
}
