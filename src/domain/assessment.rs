//! Assessment (考核, SPEC §7): indicators scored by the efficacy coefficient method
//! (功效系数法), combined with the policy's weights, quarters combined with the year-end
//! result, graded, with a one-vote veto (一票否决); and the rankings a bulletin names.

use serde::{Deserialize, Serialize};

use super::policy::Assessment;
use super::report::CoverageRow;

/// `60 + 40 × (x − bad) / (good − bad)`, clamped to [0, 100]. Works whichever way round
/// good and bad are (a smaller-is-better indicator has good < bad).
pub fn efficacy(x: f64, good: f64, bad: f64) -> f64 {
    if good == bad || !x.is_finite() {
        return 0.0;
    }
    (60.0 + 40.0 * (x - bad) / (good - bad)).clamp(0.0, 100.0)
}

/// The value of a named indicator in a coverage row.
pub fn indicator(row: &CoverageRow, name: &str) -> Option<f64> {
    let rate = |part: usize, whole: usize| {
        if whole == 0 {
            1.0
        } else {
            part as f64 / whole as f64
        }
    };
    match name {
        "coverage" => Some(row.coverage),
        "on_time_rate" => Some(row.on_time_rate),
        "same_day_rate" => Some(row.same_day_rate),
        "targeted_on_time_rate" => Some(rate(row.targeted_on_time, row.targeted)),
        _ => None,
    }
}

/// A coverage row's score: each indicator by the efficacy method, averaged with weights.
pub fn score(row: &CoverageRow, policy: &Assessment) -> f64 {
    policy
        .indicators
        .iter()
        .map(|(name, good, bad, weight)| {
            weight * indicator(row, name).map_or(0.0, |x| efficacy(x, *good, *bad))
        })
        .sum()
}

/// The year's score: the mean of the quarters' scores at the quarterly weight and the
/// year-end score at its weight. Quarters with no score yet are left out of the mean.
pub fn year_score(quarters: &[f64], year_end: f64, policy: &Assessment) -> f64 {
    let mean = if quarters.is_empty() {
        year_end
    } else {
        quarters.iter().sum::<f64>() / quarters.len() as f64
    };
    policy.quarterly_weight * mean + policy.year_end_weight * year_end
}

/// A grade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// 优秀
    Excellent,
    /// 合格
    Qualified,
    /// 不合格
    Unqualified,
}

/// The grade of a score; a veto makes it unqualified whatever the score.
pub fn grade(score: f64, vetoed: bool, policy: &Assessment) -> Grade {
    if vetoed || score < policy.qualified {
        Grade::Unqualified
    } else if score >= policy.excellent {
        Grade::Excellent
    } else {
        Grade::Qualified
    }
}

/// One place in a ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    pub rank: usize,
    pub key: String,
    pub score: f64,
}

/// A bulletin's ranking: everyone by score (ties by key), and the top two and bottom two
/// named.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    pub ranked: Vec<Ranked>,
    pub top: Vec<String>,
    pub bottom: Vec<String>,
}

/// Ranks the rows of a coverage report (the total row and rows with nothing required are
/// left out: there is nothing to rank them on).
pub fn rank(rows: &[CoverageRow], policy: &Assessment) -> Ranking {
    let mut scored: Vec<(String, f64)> = rows
        .iter()
        .filter(|r| r.key != "total" && !r.key.is_empty() && r.required > 0)
        .map(|r| (r.key.clone(), score(r, policy)))
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let ranked: Vec<Ranked> = scored
        .iter()
        .enumerate()
        .map(|(i, (key, score))| Ranked {
            rank: i + 1,
            key: key.clone(),
            score: *score,
        })
        .collect();
    let n = ranked.len();
    let top: Vec<String> = ranked.iter().take(2).map(|r| r.key.clone()).collect();
    let bottom: Vec<String> = ranked
        .iter()
        .skip(n.saturating_sub(2).max(top.len().min(n)))
        .map(|r| r.key.clone())
        .collect();
    Ranking {
        ranked,
        top,
        bottom,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::Policy;

    fn row(
        key: &str,
        coverage: f64,
        on_time: f64,
        same_day: f64,
        targeted: (usize, usize),
    ) -> CoverageRow {
        CoverageRow {
            key: key.into(),
            businesses: 10,
            required: 10,
            done: 10,
            done_on_time: 10,
            on_time_rate: on_time,
            overdue_now: 0,
            never_inspected: 0,
            covered: 10,
            coverage,
            visits: 10,
            same_day_rate: same_day,
            findings: 0,
            notices_issued: 0,
            follow_ups: 0,
            follow_ups_on_time: 0,
            targeted: targeted.1,
            targeted_on_time: targeted.0,
            hours_needed: 0.0,
            hours_available: None,
        }
    }

    #[test]
    fn the_efficacy_method_on_worked_values() {
        assert_eq!(efficacy(1.0, 1.0, 0.6), 100.0);
        assert_eq!(efficacy(0.6, 1.0, 0.6), 60.0);
        assert_eq!(efficacy(0.8, 1.0, 0.6), 80.0);
        assert_eq!(efficacy(0.0, 1.0, 0.6), 0.0, "clamped at 0");
        assert_eq!(efficacy(1.2, 1.0, 0.6), 100.0, "clamped at 100");
        // Smaller is better: 2 complaints where 0 is good and 10 bad.
        assert_eq!(efficacy(2.0, 0.0, 10.0), 92.0);
    }

    /// The shipped weights on one worked example:
    /// coverage 0.9 → 90, on time 0.75 → 80, targeted 3/4 = 0.75 → 80, same day 1.0 → 100;
    /// 0.35 × 90 + 0.25 × 80 + 0.30 × 80 + 0.10 × 100 = 31.5 + 20 + 24 + 10 = 85.5.
    #[test]
    fn weighted_scores_years_and_grades_on_a_worked_example() {
        let policy = Policy::default().assessment;
        let r = row("G01", 0.9, 0.75, 1.0, (3, 4));
        assert!((score(&r, &policy) - 85.5).abs() < 1e-9);
        // Quarters 80, 90, 70, 100 (mean 85) and year-end 95: 0.4 × 85 + 0.6 × 95 = 91.
        assert!((year_score(&[80.0, 90.0, 70.0, 100.0], 95.0, &policy) - 91.0).abs() < 1e-9);
        assert_eq!(grade(91.0, false, &policy), Grade::Excellent);
        assert_eq!(grade(85.5, false, &policy), Grade::Qualified);
        assert_eq!(grade(59.9, false, &policy), Grade::Unqualified);
        assert_eq!(
            grade(99.0, true, &policy),
            Grade::Unqualified,
            "one-vote veto"
        );
    }

    #[test]
    fn rankings_name_the_top_two_and_bottom_two() {
        let policy = Policy::default().assessment;
        let rows = vec![
            row("G01", 0.70, 0.6, 1.0, (0, 0)),
            row("G02", 1.00, 1.0, 1.0, (0, 0)),
            row("G03", 0.90, 0.9, 1.0, (0, 0)),
            row("G04", 0.60, 0.5, 0.5, (0, 0)),
            row("G05", 0.95, 0.9, 1.0, (0, 0)),
            row("total", 0.8, 0.8, 0.9, (0, 0)),
        ];
        let r = rank(&rows, &policy);
        let order: Vec<&str> = r.ranked.iter().map(|x| x.key.as_str()).collect();
        assert_eq!(order, vec!["G02", "G05", "G03", "G01", "G04"]);
        assert_eq!(r.top, vec!["G02", "G05"]);
        assert_eq!(r.bottom, vec!["G01", "G04"]);
        // Three ranked: the bottom two never repeat the top two.
        let r = rank(&rows[..3], &policy);
        assert_eq!((r.top.len(), r.bottom), (2, vec!["G01".to_owned()]));
    }
}
