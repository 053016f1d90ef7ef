//! Ordering an officer's stops as a walking or driving route from a start point. Up to
//! [`EXACT_STOPS`] stops the shortest open path is found exactly (Held–Karp dynamic
//! programming); beyond that, nearest neighbour then 2-opt and Or-opt until no exchange
//! shortens it. Distances are great-circle metres between WGS84 points (a street network is
//! not modelled).

/// Up to this many stops the route is exact (2^12 × 12² steps, well under a millisecond).
pub const EXACT_STOPS: usize = 12;

/// Haversine distance in metres.
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    const R: f64 = 6_371_008.8;
    let (lat1, lat2) = (a.1.to_radians(), b.1.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.0 - a.0).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().asin()
}

/// Length of the open path start → stops in `order`.
pub fn path_length(start: (f64, f64), stops: &[(f64, f64)], order: &[usize]) -> f64 {
    let mut here = start;
    let mut total = 0.0;
    for &i in order {
        total += distance_m(here, stops[i]);
        here = stops[i];
    }
    total
}

/// A short open route from `start` through every stop; returns the visiting order and its
/// length in metres.
pub fn route(start: (f64, f64), stops: &[(f64, f64)]) -> (Vec<usize>, f64) {
    if stops.len() <= EXACT_STOPS {
        let order = exact_route(start, stops);
        let length = path_length(start, stops, &order);
        return (order, length);
    }
    heuristic_route(start, stops)
}

/// The shortest open path from `start` through every stop, by Held–Karp.
fn exact_route(start: (f64, f64), stops: &[(f64, f64)]) -> Vec<usize> {
    let n = stops.len();
    if n == 0 {
        return Vec::new();
    }
    let full = 1usize << n;
    let mut best = vec![f64::INFINITY; full * n];
    let mut came_from = vec![usize::MAX; full * n];
    for i in 0..n {
        best[(1 << i) * n + i] = distance_m(start, stops[i]);
    }
    for set in 1..full {
        for last in 0..n {
            let here = best[set * n + last];
            if set & (1 << last) == 0 || here.is_infinite() {
                continue;
            }
            for next in 0..n {
                if set & (1 << next) != 0 {
                    continue;
                }
                let grown = set | (1 << next);
                let v = here + distance_m(stops[last], stops[next]);
                if v < best[grown * n + next] {
                    best[grown * n + next] = v;
                    came_from[grown * n + next] = last;
                }
            }
        }
    }
    let mut last = (0..n)
        .min_by(|&a, &b| best[(full - 1) * n + a].total_cmp(&best[(full - 1) * n + b]))
        .unwrap_or(0);
    let mut set = full - 1;
    let mut order = Vec::with_capacity(n);
    while last != usize::MAX {
        order.push(last);
        let previous = came_from[set * n + last];
        set &= !(1 << last);
        last = previous;
    }
    order.reverse();
    order
}

/// Nearest neighbour, then 2-opt and Or-opt to a local optimum.
pub fn heuristic_route(start: (f64, f64), stops: &[(f64, f64)]) -> (Vec<usize>, f64) {
    let n = stops.len();
    let mut order = Vec::with_capacity(n);
    let mut left: Vec<usize> = (0..n).collect();
    let mut here = start;
    while !left.is_empty() {
        let (k, _) = left
            .iter()
            .enumerate()
            .map(|(k, &i)| (k, distance_m(here, stops[i])))
            .fold(
                (0, f64::INFINITY),
                |best, x| if x.1 < best.1 { x } else { best },
            );
        let i = left.swap_remove(k);
        order.push(i);
        here = stops[i];
    }
    // Node 0 of the path is the fixed start; positions 1..=n are the stops.
    let point = |order: &[usize], p: usize| if p == 0 { start } else { stops[order[p - 1]] };
    let mut improved = true;
    while improved {
        improved = false;
        // 2-opt: reverse order[i..=j] when it shortens the path (the end is open).
        for i in 0..n {
            for j in i + 1..n {
                let a = point(&order, i);
                let b = point(&order, i + 1);
                let c = point(&order, j + 1);
                let before = distance_m(a, b)
                    + if j + 1 < n {
                        distance_m(c, point(&order, j + 2))
                    } else {
                        0.0
                    };
                let after = distance_m(a, c)
                    + if j + 1 < n {
                        distance_m(b, point(&order, j + 2))
                    } else {
                        0.0
                    };
                if after + 1e-9 < before {
                    order[i..=j].reverse();
                    improved = true;
                }
            }
        }
        // Or-opt: move one stop elsewhere when that shortens the path.
        for from in 0..n {
            let current = path_length(start, stops, &order);
            let stop = order.remove(from);
            let mut best = (from, f64::INFINITY);
            for to in 0..=order.len() {
                order.insert(to, stop);
                let len = path_length(start, stops, &order);
                order.remove(to);
                if len < best.1 {
                    best = (to, len);
                }
            }
            order.insert(best.0, stop);
            if best.1 + 1e-9 < current {
                improved = true;
            }
        }
    }
    let length = path_length(start, stops, &order);
    (order, length)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// The optimum by trying every order (an independent check of the exact route).
    fn brute_force(start: (f64, f64), stops: &[(f64, f64)]) -> f64 {
        fn permute(
            k: usize,
            order: &mut Vec<usize>,
            start: (f64, f64),
            stops: &[(f64, f64)],
            best: &mut f64,
        ) {
            if k == order.len() {
                *best = best.min(path_length(start, stops, order));
                return;
            }
            for i in k..order.len() {
                order.swap(k, i);
                permute(k + 1, order, start, stops, best);
                order.swap(k, i);
            }
        }
        let mut best = f64::INFINITY;
        permute(0, &mut (0..stops.len()).collect(), start, stops, &mut best);
        best
    }

    fn random_stops(rng: &mut impl rand::Rng, n: usize) -> Vec<(f64, f64)> {
        (0..n)
            .map(|_| {
                (
                    114.28 + rng.random::<f64>() * 0.05,
                    30.58 + rng.random::<f64>() * 0.05,
                )
            })
            .collect()
    }

    #[test]
    fn short_routes_are_optimal_against_brute_force() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..25 {
            let n = 1 + case % 8;
            let stops = random_stops(&mut rng, n);
            let start = (114.30, 30.60);
            let (order, length) = route(start, &stops);
            let mut seen = order.clone();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "every stop exactly once");
            let optimum = brute_force(start, &stops);
            assert!(
                length <= optimum * 1.05 + 1e-6,
                "case {case}: {length} vs optimum {optimum}"
            );
        }
    }

    #[test]
    fn long_routes_visit_every_stop_and_improve_on_nearest_neighbour_alone() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let stops = random_stops(&mut rng, 40);
        let start = (114.30, 30.60);
        let (order, length) = route(start, &stops);
        let mut seen = order.clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..40).collect::<Vec<_>>());
        // The exact route on the first 12 stops bounds the heuristic on them.
        let (_, heuristic) = heuristic_route(start, &stops[..12]);
        let (_, exact) = route(start, &stops[..12]);
        assert!(exact <= heuristic + 1e-6);
        assert!(length.is_finite() && length > 0.0);
    }

    #[test]
    fn distance_of_one_degree_of_latitude() {
        assert!((distance_m((114.0, 30.0), (114.0, 31.0)) - 111_195.0).abs() < 50.0);
    }
}
