//! Deterministic synthetic unit geometry: nested Voronoi cells (streets, then communities)
//! clipped to a real outline, with seeds relaxed by Lloyd's method so cells are compact.

use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::{BooleanOps, BoundingRect, Centroid, Coord, LineString, MultiPolygon, Polygon};
use rand::{Rng, RngExt};

/// Clips a convex polygon (counter-clockwise ring, without the closing point) to the half
/// plane of points nearer `a` than `b`.
fn clip_nearer(cell: &[Coord<f64>], a: Coord<f64>, b: Coord<f64>) -> Vec<Coord<f64>> {
    // Points p with (p − m)·(b − a) ≤ 0 are nearer a; m is the midpoint.
    let m = Coord {
        x: (a.x + b.x) / 2.0,
        y: (a.y + b.y) / 2.0,
    };
    let d = Coord {
        x: b.x - a.x,
        y: b.y - a.y,
    };
    let side = |p: Coord<f64>| (p.x - m.x) * d.x + (p.y - m.y) * d.y;
    let mut out = Vec::with_capacity(cell.len() + 1);
    for i in 0..cell.len() {
        let (p, q) = (cell[i], cell[(i + 1) % cell.len()]);
        let (sp, sq) = (side(p), side(q));
        if sp <= 0.0 {
            out.push(p);
        }
        if (sp <= 0.0) != (sq <= 0.0) {
            let t = sp / (sp - sq);
            out.push(Coord {
                x: p.x + t * (q.x - p.x),
                y: p.y + t * (q.y - p.y),
            });
        }
    }
    out
}

/// Voronoi cells of `seeds` inside `region`, one per seed, in seed order.
fn cells(region: &MultiPolygon<f64>, seeds: &[Coord<f64>]) -> Vec<MultiPolygon<f64>> {
    let Some(rect) = region.bounding_rect() else {
        return vec![MultiPolygon(vec![]); seeds.len()];
    };
    let (min, max) = (rect.min(), rect.max());
    let pad = (max.x - min.x).max(max.y - min.y);
    let frame = vec![
        Coord {
            x: min.x - pad,
            y: min.y - pad,
        },
        Coord {
            x: max.x + pad,
            y: min.y - pad,
        },
        Coord {
            x: max.x + pad,
            y: max.y + pad,
        },
        Coord {
            x: min.x - pad,
            y: max.y + pad,
        },
    ];
    seeds
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            let mut cell = frame.clone();
            for (j, &b) in seeds.iter().enumerate() {
                if i != j && cell.len() >= 3 {
                    cell = clip_nearer(&cell, a, b);
                }
            }
            if cell.len() < 3 {
                return MultiPolygon(vec![]);
            }
            let mut ring = cell.clone();
            ring.push(cell[0]);
            let convex = MultiPolygon(vec![Polygon::new(LineString::from(ring), vec![])]);
            region.intersection(&convex)
        })
        .collect()
}

/// A random point inside `region` (rejection sampling in its bounding box).
pub fn random_point_inside(region: &MultiPolygon<f64>, rng: &mut impl Rng) -> Option<Coord<f64>> {
    let rect = region.bounding_rect()?;
    for _ in 0..10_000 {
        let c = Coord {
            x: rect.min().x + rng.random::<f64>() * rect.width(),
            y: rect.min().y + rng.random::<f64>() * rect.height(),
        };
        if region.coordinate_position(&c) == CoordPos::Inside {
            return Some(c);
        }
    }
    None
}

/// Divides `region` into `n` compact cells: random seeds inside it, relaxed by Lloyd's method.
pub fn divide(region: &MultiPolygon<f64>, n: usize, rng: &mut impl Rng) -> Vec<MultiPolygon<f64>> {
    if n <= 1 {
        return vec![region.clone(); n];
    }
    let mut seeds: Vec<Coord<f64>> = (0..n)
        .filter_map(|_| random_point_inside(region, rng))
        .collect();
    for _ in 0..4 {
        let current = cells(region, &seeds);
        for (seed, cell) in seeds.iter_mut().zip(&current) {
            // A centroid outside a concave region would leave the seed without a cell.
            if let Some(c) = cell
                .centroid()
                .filter(|c| region.coordinate_position(&c.0) == CoordPos::Inside)
            {
                *seed = c.0;
            }
        }
    }
    cells(region, &seeds)
}
