//! Point location: which base unit holds a business.
//!
//! Rule for boundaries: a point strictly inside a unit belongs to it. A point on the
//! boundary of several units (a shared edge or corner) belongs to the one that comes first
//! in the order the locator was built with (the import builds it in ascending unit code),
//! so the answer never depends on R-tree iteration order. A point outside every unit is
//! `None`: the caller reports it, it is never snapped.

use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::{BoundingRect, Coord, MultiPolygon};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

type Envelope = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// A static R-tree over unit envelopes; candidates are confirmed by an exact test.
pub struct UnitLocator {
    tree: RTree<Envelope>,
    polygons: Vec<MultiPolygon<f64>>,
}

impl std::fmt::Debug for UnitLocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnitLocator")
            .field("units", &self.polygons.len())
            .finish()
    }
}

impl UnitLocator {
    /// Bulk-loads the index. The position of a polygon in `polygons` is its index in
    /// answers and its rank for boundary ties.
    pub fn new(polygons: Vec<MultiPolygon<f64>>) -> Self {
        let envelopes = polygons
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let r = p.bounding_rect()?;
                Some(GeomWithData::new(
                    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    i,
                ))
            })
            .collect();
        Self {
            tree: RTree::bulk_load(envelopes),
            polygons,
        }
    }

    pub fn len(&self) -> usize {
        self.polygons.len()
    }

    pub fn is_empty(&self) -> bool {
        self.polygons.is_empty()
    }

    /// The unit holding the point, by the boundary rule in the module docs.
    ///
    /// ```
    /// use geo::{polygon, MultiPolygon};
    /// use gridpatrol::spatial::locate::UnitLocator;
    /// let left = polygon![(x: 0., y: 0.), (x: 1., y: 0.), (x: 1., y: 1.), (x: 0., y: 1.)];
    /// let right = polygon![(x: 1., y: 0.), (x: 2., y: 0.), (x: 2., y: 1.), (x: 1., y: 1.)];
    /// let locator = UnitLocator::new(vec![MultiPolygon(vec![left]), MultiPolygon(vec![right])]);
    /// assert_eq!(locator.locate(1.5, 0.5), Some(1));
    /// assert_eq!(locator.locate(1.0, 0.5), Some(0)); // on the shared edge: the first unit
    /// assert_eq!(locator.locate(3.0, 0.5), None);
    /// ```
    pub fn locate(&self, lon: f64, lat: f64) -> Option<usize> {
        let point = AABB::from_point([lon, lat]);
        let coord = Coord { x: lon, y: lat };
        let mut on_boundary: Option<usize> = None;
        for candidate in self.tree.locate_in_envelope_intersecting(&point) {
            let i = candidate.data;
            match self.polygons[i].coordinate_position(&coord) {
                CoordPos::Inside => return Some(i),
                CoordPos::OnBoundary => on_boundary = Some(on_boundary.map_or(i, |b| b.min(i))),
                CoordPos::Outside => {}
            }
        }
        on_boundary
    }
}

impl UnitLocator {
    /// Locates many points, split over the machine's cores. `None` points stay `None`.
    pub fn locate_all(&self, points: &[Option<(f64, f64)>]) -> Vec<Option<usize>> {
        crate::par::map_chunks(points, 10_000, |_, part| {
            part.iter()
                .map(|p| p.and_then(|(x, y)| self.locate(x, y)))
                .collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect()
    }
}
