//! Polygon checks and measures: ring closure, coordinate ranges, validity, overlaps
//! between units and areas in square metres.

use geo::algorithm::Validation;
use geo::orient::{Direction, Orient};
use geo::{Area, BooleanOps, BoundingRect, Coord, GeodesicArea, LineString, MultiPolygon, Polygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, RTreeObject};

/// What is wrong with a polygon, in words fit for an error message.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GeometryProblem {
    #[error(
        "ring {ring} of polygon {polygon} is not closed (first point {first:?}, last {last:?})"
    )]
    UnclosedRing {
        polygon: usize,
        ring: usize,
        first: (f64, f64),
        last: (f64, f64),
    },
    #[error(
        "ring {ring} of polygon {polygon} has {points} points; a ring needs at least 4 (3 distinct and the closing one)"
    )]
    TooFewPoints {
        polygon: usize,
        ring: usize,
        points: usize,
    },
    #[error("coordinate ({lon}, {lat}) is out of range (longitude −180..180, latitude −90..90)")]
    OutOfRange { lon: f64, lat: f64 },
    #[error("a position needs 2 or 3 numbers, found {0}")]
    BadPosition(usize),
    #[error("invalid polygon: {0}")]
    Invalid(String),
    #[error("the polygon has no area")]
    Empty,
}

/// Builds a polygon from GeoJSON rings, checking closure, length and ranges. Positions
/// are (lon, lat) already converted to WGS84 by `convert`.
pub fn polygon_from_rings(
    polygon_index: usize,
    rings: &[Vec<Vec<f64>>],
    convert: &dyn Fn(f64, f64) -> (f64, f64),
) -> Result<Polygon<f64>, GeometryProblem> {
    let mut built: Vec<LineString<f64>> = Vec::with_capacity(rings.len());
    if rings.is_empty() {
        return Err(GeometryProblem::Empty);
    }
    for (ring_index, ring) in rings.iter().enumerate() {
        let mut coords = Vec::with_capacity(ring.len());
        for position in ring {
            if position.len() < 2 || position.len() > 3 {
                return Err(GeometryProblem::BadPosition(position.len()));
            }
            let (lon, lat) = (position[0], position[1]);
            if !(lon.is_finite()
                && lat.is_finite()
                && (-180.0..=180.0).contains(&lon)
                && (-90.0..=90.0).contains(&lat))
            {
                return Err(GeometryProblem::OutOfRange { lon, lat });
            }
            coords.push((lon, lat));
        }
        if coords.len() < 4 {
            return Err(GeometryProblem::TooFewPoints {
                polygon: polygon_index,
                ring: ring_index,
                points: coords.len(),
            });
        }
        let (first, last) = (coords[0], coords[coords.len() - 1]);
        if first != last {
            return Err(GeometryProblem::UnclosedRing {
                polygon: polygon_index,
                ring: ring_index,
                first,
                last,
            });
        }
        built.push(LineString::from(
            coords
                .into_iter()
                .map(|(x, y)| convert(x, y))
                .map(|(x, y)| Coord { x, y })
                .collect::<Vec<_>>(),
        ));
    }
    let exterior = built.remove(0);
    Ok(Polygon::new(exterior, built))
}

/// Checks OGC validity (no self-intersection, holes inside, rings not crossing), and that
/// the shape has an area.
pub fn check_valid(shape: &MultiPolygon<f64>) -> Result<(), GeometryProblem> {
    if let Err(e) = shape.check_validation() {
        return Err(GeometryProblem::Invalid(e.to_string()));
    }
    if geodesic_area_m2(shape) <= 0.0 {
        return Err(GeometryProblem::Empty);
    }
    Ok(())
}

/// Area on the WGS84 ellipsoid in square metres. Rings are oriented first: a clockwise
/// exterior would otherwise be measured as the rest of the globe.
pub fn geodesic_area_m2(shape: &MultiPolygon<f64>) -> f64 {
    shape.orient(Direction::Default).geodesic_area_unsigned()
}

/// Two units that overlap, with the overlap's area.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlap {
    pub first: usize,
    pub second: usize,
    pub area_m2: f64,
}

/// Pairs of shapes whose interiors overlap by more than `relative_tolerance` of the
/// smaller one's area (shared edges and the snapping noise of boolean operations are not
/// overlaps). Candidates come from an R-tree of envelopes; each is confirmed exactly.
pub fn overlaps(shapes: &[MultiPolygon<f64>], relative_tolerance: f64) -> Vec<Overlap> {
    let envelopes: Vec<GeomWithData<Rectangle<[f64; 2]>, usize>> = shapes
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let r = s.bounding_rect()?;
            Some(GeomWithData::new(
                Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                i,
            ))
        })
        .collect();
    let tree = RTree::bulk_load(envelopes.clone());
    // The test is on planar areas in degrees² (the ratio is what matters, and planar area is
    // robust on the slivers boolean operations leave); the report converts to m².
    let planar: Vec<f64> = shapes.iter().map(|s| s.unsigned_area()).collect();
    let mut found = Vec::new();
    for envelope in &envelopes {
        let i = envelope.data;
        for other in tree.locate_in_envelope_intersecting(&envelope.envelope()) {
            let j = other.data;
            if j <= i {
                continue;
            }
            let common = shapes[i].intersection(&shapes[j]).unsigned_area();
            let (smaller, k) = if planar[i] <= planar[j] {
                (planar[i], i)
            } else {
                (planar[j], j)
            };
            if common > relative_tolerance * smaller {
                let area_m2 = geodesic_area_m2(&shapes[k]) * common / smaller;
                found.push(Overlap {
                    first: i,
                    second: j,
                    area_m2,
                });
            }
        }
    }
    found.sort_by_key(|o| (o.first, o.second));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn square(x: f64, y: f64, size: f64) -> MultiPolygon<f64> {
        MultiPolygon(vec![
            polygon![(x: x, y: y), (x: x + size, y: y), (x: x + size, y: y + size), (x: x, y: y + size)],
        ])
    }

    #[test]
    fn neighbours_sharing_an_edge_do_not_overlap() {
        let shapes = vec![
            square(114.0, 30.0, 0.01),
            square(114.01, 30.0, 0.01),
            square(114.015, 30.005, 0.01),
        ];
        let found = overlaps(&shapes, 1e-6);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].first, found[0].second), (1, 2));
        assert!(found[0].area_m2 > 1000.0);
    }

    #[test]
    fn rings_must_close_and_stay_in_range() {
        let id = |x: f64, y: f64| (x, y);
        let open = vec![vec![
            vec![0.0, 0.0],
            vec![1.0, 0.0],
            vec![1.0, 1.0],
            vec![0.0, 1.0],
        ]];
        assert!(matches!(
            polygon_from_rings(0, &open, &id),
            Err(GeometryProblem::UnclosedRing { .. })
        ));
        let far = vec![vec![
            vec![0.0, 0.0],
            vec![190.0, 0.0],
            vec![1.0, 1.0],
            vec![0.0, 0.0],
        ]];
        assert!(matches!(
            polygon_from_rings(0, &far, &id),
            Err(GeometryProblem::OutOfRange { .. })
        ));
    }

    #[test]
    fn a_clockwise_ring_has_its_own_area_not_the_globe_s() {
        let ccw = square(114.0, 30.0, 0.01);
        let cw = MultiPolygon(vec![
            polygon![(x: 114.0, y: 30.0), (x: 114.0, y: 30.01), (x: 114.01, y: 30.01), (x: 114.01, y: 30.0)],
        ]);
        let (a, b) = (geodesic_area_m2(&ccw), geodesic_area_m2(&cw));
        assert!(
            (a - b).abs() < 1e-6 * a && a > 1.0e6 && a < 1.2e6,
            "{a} {b}"
        );
    }

    #[test]
    fn a_bow_tie_is_invalid() {
        let bow = MultiPolygon(vec![
            polygon![(x: 0., y: 0.), (x: 1., y: 1.), (x: 1., y: 0.), (x: 0., y: 1.)],
        ]);
        assert!(
            matches!(check_valid(&bow), Err(GeometryProblem::Invalid(m)) if m.contains("self-intersection"))
        );
    }
}
