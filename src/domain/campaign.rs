//! Special campaigns (专项检查), targeted inspections (重点检查) and random draws (双随机),
//! and the merging of routine visits into them so that no business is visited twice where
//! one visit would do (避免重复和交叉检查).

use std::collections::HashSet;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::policy::RiskClass;
use super::schedule::Window;

/// Which businesses a campaign covers; an empty list does not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignFilter {
    #[serde(default)]
    pub industries: Vec<String>,
    #[serde(default)]
    pub classes: Vec<RiskClass>,
    #[serde(default)]
    pub grids: Vec<String>,
    #[serde(default)]
    pub areas: Vec<String>,
}

impl CampaignFilter {
    pub fn matches(&self, industry: &str, class: RiskClass, grid: &str, area: &str) -> bool {
        (self.industries.is_empty() || self.industries.iter().any(|i| i == industry))
            && (self.classes.is_empty() || self.classes.contains(&class))
            && (self.grids.is_empty() || self.grids.iter().any(|g| g == grid))
            && (self.areas.is_empty() || self.areas.iter().any(|a| a == area))
    }
}

/// A special inspection ordered by the government or a higher bureau.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub name: String,
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
    #[serde(flatten)]
    pub filter: CampaignFilter,
    /// Checklist items the campaign adds to the routine twelve.
    #[serde(default)]
    pub checklist: Vec<String>,
}

/// Merges routine windows into other visits to the same business: a routine window that
/// overlaps another visit's window is covered by it, and that visit's window narrows to the
/// overlap (one date then satisfies both). Each routine window is covered at most once and
/// each other visit covers at most one routine window per period it overlaps. Returns, per
/// routine window, the index of the visit that covers it, and the narrowed windows.
pub fn merge(routine: &[Window], others: &[Window]) -> (Vec<Option<usize>>, Vec<Window>) {
    let mut narrowed: Vec<Window> = others.to_vec();
    let mut covered = vec![None; routine.len()];
    let mut used = vec![false; others.len()];
    for (r, w) in routine.iter().enumerate() {
        for (o, other) in narrowed.iter_mut().enumerate() {
            if used[o] {
                continue;
            }
            let start = w.start.max(other.start);
            let end = w.end.min(other.end);
            if start <= end {
                *other = Window { start, end };
                covered[r] = Some(o);
                used[o] = true;
                break;
            }
        }
    }
    (covered, narrowed)
}

/// One business drawn for a random inspection, with its two inspectors.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drawn {
    pub business: usize,
    pub inspectors: [usize; 2],
}

/// Draws businesses per class share and an inspector pair for each at random, never an
/// inspector with a recorded conflict with the business. Replayable: the same inputs and
/// seed give the same draw. A business for which no pair is free of conflicts is left out
/// and returned in the second list.
pub fn random_draw(
    classes: &[RiskClass],
    inspectors: &[usize],
    conflicts: &HashSet<(usize, usize)>,
    shares: [f64; 4],
    seed: u64,
) -> (Vec<Drawn>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut drawn = Vec::new();
    let mut blocked = Vec::new();
    for class in RiskClass::ALL {
        let mut pool: Vec<usize> = (0..classes.len())
            .filter(|&b| classes[b] == class)
            .collect();
        if pool.is_empty() {
            continue;
        }
        let share = shares[class.index()];
        let n = ((share * pool.len() as f64).round() as usize)
            .max(usize::from(share > 0.0))
            .min(pool.len());
        // Partial Fisher–Yates: the first n of a uniform shuffle.
        for i in 0..n {
            let j = rng.random_range(i..pool.len());
            pool.swap(i, j);
        }
        for &b in &pool[..n] {
            let mut free: Vec<usize> = inspectors
                .iter()
                .copied()
                .filter(|&o| !conflicts.contains(&(o, b)))
                .collect();
            if free.len() < 2 {
                blocked.push(b);
                continue;
            }
            let first = rng.random_range(0..free.len());
            let a = free.swap_remove(first);
            let second = rng.random_range(0..free.len());
            drawn.push(Drawn {
                business: b,
                inspectors: [a, free[second]],
            });
        }
    }
    drawn.sort_by_key(|d| d.business);
    (drawn, blocked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_routine_window_overlapping_a_campaign_is_one_visit() {
        let routine = [
            Window {
                start: d("2027-01-01"),
                end: d("2027-03-31"),
            },
            Window {
                start: d("2027-04-01"),
                end: d("2027-06-30"),
            },
        ];
        let campaign = [Window {
            start: d("2027-03-15"),
            end: d("2027-04-15"),
        }];
        let (covered, narrowed) = merge(&routine, &campaign);
        assert_eq!(
            covered,
            vec![Some(0), None],
            "one visit covers one routine window"
        );
        assert_eq!(
            narrowed[0],
            Window {
                start: d("2027-03-15"),
                end: d("2027-03-31")
            }
        );
        let (covered, _) = merge(
            &routine,
            &[Window {
                start: d("2027-07-01"),
                end: d("2027-07-31"),
            }],
        );
        assert_eq!(covered, vec![None, None]);
    }

    #[test]
    fn a_draw_follows_the_shares_avoids_conflicts_and_replays() {
        let classes: Vec<RiskClass> = (0..1000).map(|i| RiskClass::ALL[i % 4]).collect();
        let inspectors = vec![100, 101, 102, 103];
        let conflicts: HashSet<(usize, usize)> = (0..1000)
            .map(|b| (100, b))
            .chain((0..1000).step_by(2).map(|b| (101, b)))
            .collect();
        let shares = [0.03, 0.05, 0.10, 0.20];
        let (drawn, blocked) = random_draw(&classes, &inspectors, &conflicts, shares, 42);
        assert!(blocked.is_empty());
        for (class, share) in RiskClass::ALL.iter().zip(shares) {
            let n = drawn
                .iter()
                .filter(|x| classes[x.business] == *class)
                .count();
            assert_eq!(n, (share * 250.0_f64).round() as usize, "{class}");
        }
        for x in &drawn {
            assert_ne!(x.inspectors[0], x.inspectors[1]);
            assert!(
                x.inspectors
                    .iter()
                    .all(|&o| !conflicts.contains(&(o, x.business))),
                "{x:?}"
            );
        }
        assert_eq!(
            random_draw(&classes, &inspectors, &conflicts, shares, 42).0,
            drawn,
            "replayable"
        );
        assert_ne!(
            random_draw(&classes, &inspectors, &conflicts, shares, 43).0,
            drawn
        );
    }
}
