//! The policy file: every number and list the rules use, its defaults and validation.
//!
//! The shipped `policy.toml` is the single source of the defaults (it is compiled in);
//! a user's policy file is laid over it key by key, then validated into [`Policy`].

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The policy file shipped with gridpatrol; its values are the defaults.
pub const DEFAULT_POLICY_TOML: &str = include_str!("../../policy.toml");

/// Risk class (分类监管): A far, B medium, C near, D zero-distance supervision.
/// Ordered by risk: `A < B < C < D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RiskClass {
    A,
    B,
    C,
    D,
}

impl RiskClass {
    pub const ALL: [RiskClass; 4] = [RiskClass::A, RiskClass::B, RiskClass::C, RiskClass::D];

    pub fn as_str(self) -> &'static str {
        match self {
            RiskClass::A => "A",
            RiskClass::B => "B",
            RiskClass::C => "C",
            RiskClass::D => "D",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl FromStr for RiskClass {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "A" => Ok(RiskClass::A),
            "B" => Ok(RiskClass::B),
            "C" => Ok(RiskClass::C),
            "D" => Ok(RiskClass::D),
            other => Err(format!(
                "unknown risk class '{other}' (expected A, B, C or D)"
            )),
        }
    }
}

impl fmt::Display for RiskClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A calendar period of the patrol schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodKind {
    HalfYear,
    Quarter,
    Month,
    HalfMonth,
}

impl PeriodKind {
    /// How many of these periods a year has.
    pub fn per_year(self) -> u32 {
        match self {
            PeriodKind::HalfYear => 2,
            PeriodKind::Quarter => 4,
            PeriodKind::Month => 12,
            PeriodKind::HalfMonth => 24,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Frequency {
    pub period: PeriodKind,
    pub visits: u32,
}

impl Frequency {
    pub fn visits_per_year(self) -> u32 {
        self.visits * self.period.per_year()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationPolicy {
    pub window_days: i64,
    pub complaint_window_days: i64,
    pub complaint_threshold: u32,
    pub repeat_offender_violations: u32,
    pub annual_report_due_month: u32,
    pub annual_report_due_day: u32,
    pub industries: Vec<String>,
    pub key_industries: Vec<String>,
}

impl ClassificationPolicy {
    pub fn is_key_industry(&self, industry: &str) -> bool {
        self.key_industries.iter().any(|k| k == industry)
    }

    pub fn is_known_industry(&self, industry: &str) -> bool {
        self.industries.iter().any(|k| k == industry)
    }
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Policy {
    pub classification: ClassificationPolicy,
    /// Indexed by [`RiskClass::index`].
    pub frequency: [Frequency; 4],
    pub minutes_per_visit: [u32; 4],
    pub travel_minutes_per_km2_year: f64,
    pub min_officers_per_visit: u32,
    pub targeted_deadline_days: u32,
    /// Days past its deadline before an open task is escalated to the area deputy.
    pub escalate_after_days: u32,
    /// How far ahead the nightly re-plan owes and dates visits.
    pub plan_horizon_days: u32,
    pub override_max_days: u32,
    /// Share of each class a random draw (双随机) picks, by [`RiskClass::index`].
    pub random_draw: [f64; 4],
    pub experienced_years: u32,
    pub rotation_years: u32,
    pub area_tolerance: f64,
    pub assessment: Assessment,
}

/// How indicators become scores and scores become grades (SPEC §7).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub quarterly_weight: f64,
    pub year_end_weight: f64,
    pub excellent: f64,
    pub qualified: f64,
    /// (indicator, good value, bad value, weight), in a fixed order.
    pub indicators: Vec<(String, f64, f64, f64)>,
}

impl Policy {
    pub fn frequency(&self, class: RiskClass) -> Frequency {
        self.frequency[class.index()]
    }

    pub fn minutes_per_visit(&self, class: RiskClass) -> u32 {
        self.minutes_per_visit[class.index()]
    }

    /// Parses a policy file laid over the shipped defaults.
    pub fn from_toml_str(text: &str) -> Result<Self, PolicyError> {
        let mut merged: toml::Table = DEFAULT_POLICY_TOML
            .parse()
            .map_err(|e: toml::de::Error| PolicyError::Syntax(format!("shipped policy: {e}")))?;
        let user: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| PolicyError::Syntax(e.to_string()))?;
        merge_tables(&mut merged, user, "")?;
        let raw: RawPolicy = merged
            .try_into()
            .map_err(|e: toml::de::Error| PolicyError::Syntax(e.to_string()))?;
        raw.validate()
    }
}

impl Default for Policy {
    fn default() -> Self {
        // The shipped file is compiled in and checked by a unit test, so this cannot fail.
        #[allow(clippy::expect_used)]
        Policy::from_toml_str("").expect("the shipped policy.toml is valid")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy file: {0}")]
    Syntax(String),
    #[error("policy key `{key}`: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// Lays `user` over `base`; a key the base does not have is unknown and rejected.
fn merge_tables(
    base: &mut toml::Table,
    user: toml::Table,
    prefix: &str,
) -> Result<(), PolicyError> {
    for (key, value) in user {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (base.get_mut(&key), value) {
            (None, _) => return Err(invalid(&path, "unknown key")),
            (Some(toml::Value::Table(b)), toml::Value::Table(u)) => merge_tables(b, u, &path)?,
            (Some(toml::Value::Table(_)), _) => return Err(invalid(&path, "must be a table")),
            (Some(slot), v) => *slot = v,
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    classification: RawClassification,
    frequency: RawPerClass<RawFrequency>,
    minutes_per_visit: RawPerClass<i64>,
    workload: RawWorkload,
    inspection: RawInspection,
    overrides: RawOverrides,
    assignment: RawAssignment,
    random_draw: RawPerClass<f64>,
    assessment: RawAssessment,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssessment {
    quarterly_weight: f64,
    year_end_weight: f64,
    excellent: f64,
    qualified: f64,
    coverage: RawIndicator,
    on_time_rate: RawIndicator,
    targeted_on_time_rate: RawIndicator,
    same_day_rate: RawIndicator,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIndicator {
    good: f64,
    bad: f64,
    weight: f64,
}

impl RawAssessment {
    fn validate(self) -> Result<Assessment, PolicyError> {
        let finite = |key: &str, v: f64| {
            if v.is_finite() {
                Ok(v)
            } else {
                Err(invalid(&format!("assessment.{key}"), "must be a number"))
            }
        };
        let share = |key: &str, v: f64| {
            if v.is_finite() && (0.0..=1.0).contains(&v) {
                Ok(v)
            } else {
                Err(invalid(
                    &format!("assessment.{key}"),
                    format!("must be between 0 and 1 (got {v})"),
                ))
            }
        };
        let (q, y) = (
            share("quarterly_weight", self.quarterly_weight)?,
            share("year_end_weight", self.year_end_weight)?,
        );
        if (q + y - 1.0).abs() > 1e-9 {
            return Err(invalid(
                "assessment.year_end_weight",
                format!(
                    "quarterly_weight + year_end_weight must be 1 (got {})",
                    q + y
                ),
            ));
        }
        let (excellent, qualified) = (
            finite("excellent", self.excellent)?,
            finite("qualified", self.qualified)?,
        );
        if !(0.0..=100.0).contains(&qualified) || !(qualified..=100.0).contains(&excellent) {
            return Err(invalid(
                "assessment.excellent",
                format!("need 0 ≤ qualified ({qualified}) ≤ excellent ({excellent}) ≤ 100"),
            ));
        }
        let mut indicators = Vec::new();
        for (name, i) in [
            ("coverage", self.coverage),
            ("on_time_rate", self.on_time_rate),
            ("targeted_on_time_rate", self.targeted_on_time_rate),
            ("same_day_rate", self.same_day_rate),
        ] {
            let good = finite(&format!("{name}.good"), i.good)?;
            let bad = finite(&format!("{name}.bad"), i.bad)?;
            if good == bad {
                return Err(invalid(
                    &format!("assessment.{name}.bad"),
                    "must differ from good",
                ));
            }
            let weight = share(&format!("{name}.weight"), i.weight)?;
            indicators.push((name.to_owned(), good, bad, weight));
        }
        let total: f64 = indicators.iter().map(|i| i.3).sum();
        if (total - 1.0).abs() > 1e-9 {
            return Err(invalid(
                "assessment.coverage.weight",
                format!("the indicator weights must add up to 1 (got {total})"),
            ));
        }
        Ok(Assessment {
            quarterly_weight: q,
            year_end_weight: y,
            excellent,
            qualified,
            indicators,
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssignment {
    experienced_years: i64,
    rotation_years: i64,
    area_tolerance: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClassification {
    window_days: i64,
    complaint_window_days: i64,
    complaint_threshold: i64,
    repeat_offender_violations: i64,
    annual_report_due_month: i64,
    annual_report_due_day: i64,
    industries: Vec<String>,
    key_industries: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(non_snake_case)]
struct RawPerClass<T> {
    A: T,
    B: T,
    C: T,
    D: T,
}

impl<T> RawPerClass<T> {
    fn into_array(self) -> [(RiskClass, T); 4] {
        [
            (RiskClass::A, self.A),
            (RiskClass::B, self.B),
            (RiskClass::C, self.C),
            (RiskClass::D, self.D),
        ]
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFrequency {
    period: String,
    visits: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkload {
    travel_minutes_per_km2_year: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInspection {
    min_officers_per_visit: i64,
    targeted_deadline_days: i64,
    escalate_after_days: i64,
    plan_horizon_days: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOverrides {
    max_days: i64,
}

fn positive(key: &str, value: i64, max: i64) -> Result<i64, PolicyError> {
    if value <= 0 {
        return Err(invalid(key, format!("must be positive (got {value})")));
    }
    if value > max {
        return Err(invalid(key, format!("must be at most {max} (got {value})")));
    }
    Ok(value)
}

fn positive_u32(key: &str, value: i64, max: i64) -> Result<u32, PolicyError> {
    positive(key, value, max).map(|v| v as u32)
}

impl RawPolicy {
    /// The policy, each section checked in turn; the first value out of range is the error.
    fn validate(self) -> Result<Policy, PolicyError> {
        let classification = self.classification.validate()?;
        let frequency = validate_frequency(self.frequency)?;
        let mut minutes_per_visit = [0u32; 4];
        for (class, minutes) in self.minutes_per_visit.into_array() {
            minutes_per_visit[class.index()] =
                positive_u32(&format!("minutes_per_visit.{class}"), minutes, 24 * 60)?;
        }
        let travel = self.workload.travel_minutes_per_km2_year;
        if !(travel.is_finite() && travel >= 0.0) {
            return Err(invalid(
                "workload.travel_minutes_per_km2_year",
                format!("must be zero or positive (got {travel})"),
            ));
        }
        let (
            min_officers_per_visit,
            targeted_deadline_days,
            escalate_after_days,
            plan_horizon_days,
        ) = self.inspection.validate()?;
        let override_max_days = positive_u32("overrides.max_days", self.overrides.max_days, 3_650)?;
        let random_draw = validate_random_draw(self.random_draw)?;
        let (experienced_years, rotation_years, area_tolerance) = self.assignment.validate()?;
        Ok(Policy {
            classification,
            frequency,
            minutes_per_visit,
            travel_minutes_per_km2_year: travel,
            min_officers_per_visit,
            targeted_deadline_days,
            escalate_after_days,
            plan_horizon_days,
            override_max_days,
            random_draw,
            experienced_years,
            rotation_years,
            area_tolerance,
            assessment: self.assessment.validate()?,
        })
    }
}

impl RawClassification {
    /// Windows and thresholds in range, an annual-report due day that every year has, and
    /// clean, distinct industries of which the key industries are some.
    fn validate(self) -> Result<ClassificationPolicy, PolicyError> {
        let c = self;
        let window_days = positive("classification.window_days", c.window_days, 36_500)?;
        let complaint_window_days = positive(
            "classification.complaint_window_days",
            c.complaint_window_days,
            36_500,
        )?;
        let complaint_threshold = positive_u32(
            "classification.complaint_threshold",
            c.complaint_threshold,
            1_000,
        )?;
        let repeat_offender_violations = positive_u32(
            "classification.repeat_offender_violations",
            c.repeat_offender_violations,
            1_000,
        )?;
        let month = positive_u32(
            "classification.annual_report_due_month",
            c.annual_report_due_month,
            12,
        )?;
        let day = positive_u32(
            "classification.annual_report_due_day",
            c.annual_report_due_day,
            31,
        )?;
        // Every year must have the due date: 29 February is refused.
        if chrono::NaiveDate::from_ymd_opt(2023, month, day).is_none() {
            return Err(invalid(
                "classification.annual_report_due_day",
                format!("{month:02}-{day:02} is not a date in every year"),
            ));
        }
        check_industries(&c.industries, &c.key_industries)?;
        Ok(ClassificationPolicy {
            window_days,
            complaint_window_days,
            complaint_threshold,
            repeat_offender_violations,
            annual_report_due_month: month,
            annual_report_due_day: day,
            industries: c.industries,
            key_industries: c.key_industries,
        })
    }
}

/// At least one industry, each a clean word listed once; at least one key industry, each
/// one of the industries.
fn check_industries(industries: &[String], key_industries: &[String]) -> Result<(), PolicyError> {
    if industries.is_empty() {
        return Err(invalid(
            "classification.industries",
            "must list at least one industry",
        ));
    }
    let mut seen = BTreeSet::new();
    for industry in industries {
        if industry.trim().is_empty() || industry.trim() != industry {
            return Err(invalid(
                "classification.industries",
                format!("'{industry}' is not a clean word"),
            ));
        }
        if !seen.insert(industry.as_str()) {
            return Err(invalid(
                "classification.industries",
                format!("'{industry}' is listed twice"),
            ));
        }
    }
    if key_industries.is_empty() {
        return Err(invalid(
            "classification.key_industries",
            "must list at least one key industry",
        ));
    }
    for key in key_industries {
        if !seen.contains(key.as_str()) {
            return Err(invalid(
                "classification.key_industries",
                format!("'{key}' is not in classification.industries"),
            ));
        }
    }
    Ok(())
}

/// Each class's period and visits, a riskier class never patrolled less often than a safer one.
fn validate_frequency(raw: RawPerClass<RawFrequency>) -> Result<[Frequency; 4], PolicyError> {
    let mut frequency = [Frequency {
        period: PeriodKind::Month,
        visits: 1,
    }; 4];
    for (class, raw) in raw.into_array() {
        let key = format!("frequency.{class}");
        let period = match raw.period.as_str() {
            "half_year" => PeriodKind::HalfYear,
            "quarter" => PeriodKind::Quarter,
            "month" => PeriodKind::Month,
            "half_month" => PeriodKind::HalfMonth,
            other => {
                return Err(invalid(
                    &format!("{key}.period"),
                    format!(
                        "unknown period '{other}' (expected half_year, quarter, month or half_month)"
                    ),
                ));
            }
        };
        let visits = positive_u32(&format!("{key}.visits"), raw.visits, 31)?;
        frequency[class.index()] = Frequency { period, visits };
    }
    // A riskier class is never patrolled less often than a safer one.
    for pair in RiskClass::ALL.windows(2) {
        let (lower, higher) = (frequency[pair[0].index()], frequency[pair[1].index()]);
        if higher.visits_per_year() < lower.visits_per_year() {
            return Err(invalid(
                &format!("frequency.{}", pair[1]),
                format!(
                    "class {} would be visited {} times a year, less than class {} ({})",
                    pair[1],
                    higher.visits_per_year(),
                    pair[0],
                    lower.visits_per_year()
                ),
            ));
        }
    }
    Ok(frequency)
}

impl RawInspection {
    /// Officers a visit needs, the targeted-visit deadline, the days before an overdue task
    /// is escalated (0 to 365) and the plan horizon, in that order.
    fn validate(self) -> Result<(u32, u32, u32, u32), PolicyError> {
        let min_officers_per_visit = positive_u32(
            "inspection.min_officers_per_visit",
            self.min_officers_per_visit,
            10,
        )?;
        let targeted_deadline_days = positive_u32(
            "inspection.targeted_deadline_days",
            self.targeted_deadline_days,
            365,
        )?;
        let days = self.escalate_after_days;
        if !(0..=365).contains(&days) {
            return Err(invalid(
                "inspection.escalate_after_days",
                format!("must be between 0 and 365 (got {days})"),
            ));
        }
        let plan_horizon_days = positive_u32(
            "inspection.plan_horizon_days",
            self.plan_horizon_days,
            3_660,
        )?;
        Ok((
            min_officers_per_visit,
            targeted_deadline_days,
            days as u32,
            plan_horizon_days,
        ))
    }
}

/// Each class's share of the random draw, between 0 and 1.
fn validate_random_draw(raw: RawPerClass<f64>) -> Result<[f64; 4], PolicyError> {
    let mut shares = [0.0; 4];
    for (class, share) in raw.into_array() {
        if !(share.is_finite() && (0.0..=1.0).contains(&share)) {
            return Err(invalid(
                &format!("random_draw.{class}"),
                format!("must be a share between 0 and 1 (got {share})"),
            ));
        }
        shares[class.index()] = share;
    }
    Ok(shares)
}

impl RawAssignment {
    /// The years that make an officer experienced, the rotation limit, and the balance
    /// allowed between areas (strictly between 0 and 1), in that order.
    fn validate(self) -> Result<(u32, u32, f64), PolicyError> {
        let experienced_years =
            positive_u32("assignment.experienced_years", self.experienced_years, 60)?;
        let rotation_years = positive_u32("assignment.rotation_years", self.rotation_years, 60)?;
        let t = self.area_tolerance;
        if !(t.is_finite() && t > 0.0 && t < 1.0) {
            return Err(invalid(
                "assignment.area_tolerance",
                format!("must be between 0 and 1 (got {t})"),
            ));
        }
        Ok((experienced_years, rotation_years, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(text: &str) -> String {
        Policy::from_toml_str(text).unwrap_err().to_string()
    }

    #[test]
    fn shipped_policy_holds_the_spec_defaults() {
        let p = Policy::default();
        assert_eq!(p.classification.window_days, 730);
        assert_eq!(p.classification.complaint_threshold, 3);
        assert_eq!(
            p.frequency(RiskClass::D),
            Frequency {
                period: PeriodKind::Month,
                visits: 2
            }
        );
        assert_eq!(p.frequency(RiskClass::A).visits_per_year(), 2);
        assert_eq!(p.min_officers_per_visit, 2);
        assert!(p.classification.is_key_industry("food"));
        assert!(!p.classification.is_key_industry("retail"));
    }

    #[test]
    fn a_partial_file_keeps_the_other_defaults() {
        let p = Policy::from_toml_str("[classification]\nwindow_days = 365\n").unwrap();
        assert_eq!(p.classification.window_days, 365);
        assert_eq!(p.classification.complaint_window_days, 365);
        assert_eq!(p.minutes_per_visit(RiskClass::D), 60);
    }

    #[test]
    fn wrong_values_name_their_key() {
        assert_eq!(
            rejected("[classification]\nwindow_days = -5\n"),
            "policy key `classification.window_days`: must be positive (got -5)"
        );
        assert_eq!(
            rejected("[classification]\nkey_industries = []\n"),
            "policy key `classification.key_industries`: must list at least one key industry"
        );
        assert_eq!(
            rejected("[frequency.E]\nvisits = 1\n"),
            "policy key `frequency.E`: unknown key"
        );
        assert_eq!(
            rejected("[frequency.C]\nperiod = \"fortnight\"\n"),
            "policy key `frequency.C.period`: unknown period 'fortnight' (expected half_year, quarter, month or half_month)"
        );
        assert!(
            rejected("[classification]\nkey_industries = [\"shoes\"]\n")
                .contains("not in classification.industries")
        );
        assert!(
            rejected("[classification]\nannual_report_due_month = 2\nannual_report_due_day = 29\n")
                .contains("not a date")
        );
        assert!(rejected("[frequency.D]\nperiod = \"half_year\"\n").contains("less than class C"));
        assert!(rejected("window_days = ").starts_with("policy file:"));
    }
}
