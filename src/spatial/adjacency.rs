//! The base-unit graph from polygons: units are neighbours when their boundaries share a
//! stretch of positive length (touching at a corner is not adjacency). Lengths, areas and
//! perimeters are in metres in a local projection around the region.

use geo::{BoundingRect, Coord, MultiPolygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree, RTreeObject};

use super::geometry::geodesic_area_m2;

/// Boundary points closer than this (metres) to the other unit's boundary line count as on
/// it: coordinates rounded to 7 decimals are about 1 cm apart.
const SNAP_M: f64 = 0.05;
/// Shared stretches shorter than this (metres) are a corner, not a neighbour.
const MIN_SHARED_M: f64 = 0.5;

/// An equirectangular projection around a reference latitude: metres east and north.
#[derive(Debug, Clone, Copy)]
pub struct LocalProjection {
    lon0: f64,
    lat0: f64,
    kx: f64,
    ky: f64,
}

impl LocalProjection {
    pub fn around(lon0: f64, lat0: f64) -> Self {
        let ky = 111_132.954 - 559.822 * (2.0 * lat0.to_radians()).cos();
        let kx = 111_412.84 * lat0.to_radians().cos();
        Self { lon0, lat0, kx, ky }
    }

    pub fn project(&self, c: Coord<f64>) -> (f64, f64) {
        ((c.x - self.lon0) * self.kx, (c.y - self.lat0) * self.ky)
    }
}

/// Segments of every ring of a shape, projected.
fn segments(shape: &MultiPolygon<f64>, p: &LocalProjection) -> Vec<[(f64, f64); 2]> {
    let mut out = Vec::new();
    for polygon in &shape.0 {
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            for line in ring.lines() {
                out.push([p.project(line.start), p.project(line.end)]);
            }
        }
    }
    out
}

fn length(s: &[(f64, f64); 2]) -> f64 {
    ((s[1].0 - s[0].0).powi(2) + (s[1].1 - s[0].1).powi(2)).sqrt()
}

/// Length along `a` that `b` runs on (both collinear within the snap distance).
fn overlap(a: &[(f64, f64); 2], b: &[(f64, f64); 2]) -> f64 {
    let la = length(a);
    if la == 0.0 {
        return 0.0;
    }
    let (ux, uy) = ((a[1].0 - a[0].0) / la, (a[1].1 - a[0].1) / la);
    let off = |q: (f64, f64)| ((q.0 - a[0].0) * -uy + (q.1 - a[0].1) * ux).abs();
    if off(b[0]) > SNAP_M || off(b[1]) > SNAP_M {
        return 0.0;
    }
    let t = |q: (f64, f64)| (q.0 - a[0].0) * ux + (q.1 - a[0].1) * uy;
    let (t0, t1) = (t(b[0]), t(b[1]));
    let (lo, hi) = (t0.min(t1).max(0.0), t0.max(t1).min(la));
    (hi - lo).max(0.0)
}

/// A segment's envelope (grown by the snap distance) tagged with (unit, segment).
type SegmentEnvelope = GeomWithData<Rectangle<[f64; 2]>, (usize, usize)>;

/// Adjacency with shared lengths, areas (m²) and perimeters (m) of the shapes.
pub struct Adjacency {
    pub neighbours: Vec<Vec<(usize, f64)>>,
    pub areas: Vec<f64>,
    pub perimeters: Vec<f64>,
}

impl std::fmt::Debug for Adjacency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adjacency")
            .field("units", &self.areas.len())
            .finish()
    }
}

/// Builds the graph: candidate pairs from an R-tree of envelopes, each confirmed by
/// measuring the boundary they share.
pub fn adjacency(shapes: &[MultiPolygon<f64>]) -> Adjacency {
    let (mut sx, mut sy, mut count) = (0.0f64, 0.0f64, 0.0f64);
    for s in shapes {
        if let Some(r) = s.bounding_rect() {
            sx += r.center().x;
            sy += r.center().y;
            count += 1.0;
        }
    }
    let projection = LocalProjection::around(sx / count.max(1.0), sy / count.max(1.0));
    let segs: Vec<Vec<[(f64, f64); 2]>> = shapes.iter().map(|s| segments(s, &projection)).collect();
    let perimeters: Vec<f64> = segs.iter().map(|ss| ss.iter().map(length).sum()).collect();
    let areas: Vec<f64> = shapes.iter().map(geodesic_area_m2).collect();
    // One R-tree of all segments, tagged with their unit.
    let items: Vec<SegmentEnvelope> = segs
        .iter()
        .enumerate()
        .flat_map(|(u, ss)| {
            ss.iter().enumerate().map(move |(i, s)| {
                GeomWithData::new(
                    Rectangle::from_corners(
                        [s[0].0.min(s[1].0) - SNAP_M, s[0].1.min(s[1].1) - SNAP_M],
                        [s[0].0.max(s[1].0) + SNAP_M, s[0].1.max(s[1].1) + SNAP_M],
                    ),
                    (u, i),
                )
            })
        })
        .collect();
    let tree = RTree::bulk_load(items.clone());
    let mut shared: std::collections::BTreeMap<(usize, usize), f64> =
        std::collections::BTreeMap::new();
    for item in &items {
        let (u, i) = item.data;
        let a = &segs[u][i];
        let envelope: AABB<[f64; 2]> = item.envelope();
        for other in tree.locate_in_envelope_intersecting(&envelope) {
            let (v, j) = other.data;
            if v <= u {
                continue;
            }
            let len = overlap(a, &segs[v][j]);
            if len > 0.0 {
                *shared.entry((u, v)).or_default() += len;
            }
        }
    }
    let mut neighbours = vec![Vec::new(); shapes.len()];
    for ((u, v), len) in shared {
        if len >= MIN_SHARED_M {
            neighbours[u].push((v, len));
            neighbours[v].push((u, len));
        }
    }
    Adjacency {
        neighbours,
        areas,
        perimeters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn square(x: f64, y: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![
            polygon![(x: x, y: y), (x: x + 0.01, y: y), (x: x + 0.01, y: y + 0.01), (x: x, y: y + 0.01)],
        ])
    }

    #[test]
    fn edges_are_neighbours_corners_are_not() {
        // 0 1
        // 2 3, and 4 touches 3 only at a corner.
        let shapes = vec![
            square(0.0, 0.01),
            square(0.01, 0.01),
            square(0.0, 0.0),
            square(0.01, 0.0),
            square(0.02, -0.01),
        ];
        let a = adjacency(&shapes);
        let ids = |u: usize| a.neighbours[u].iter().map(|&(v, _)| v).collect::<Vec<_>>();
        assert_eq!(ids(0), vec![1, 2]);
        assert_eq!(ids(3), vec![1, 2]);
        assert!(ids(4).is_empty(), "a corner is not a shared boundary");
        let (_, len) = a.neighbours[0][0];
        // 0.01° of latitude at the equator is 1,105.7 m; of longitude, 1,113.2 m.
        assert!((len - 1105.7).abs() < 1.0, "{len}");
        assert!(
            (a.perimeters[0] - 2.0 * (1105.7 + 1113.2)).abs() < 2.0,
            "{}",
            a.perimeters[0]
        );
    }
}
