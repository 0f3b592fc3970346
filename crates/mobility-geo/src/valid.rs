//! OGC validity of stored geometry: what is wrong and where, a repair, and the ring orientation
//! GeoParquet and GeoJSON (RFC 7946) ask for.
//!
//! A point-in-polygon answer is only defined for a valid polygon: rings closed and simple (no
//! self-intersection), holes inside their shell, rings not crossing. [`invalidity`] says what is
//! wrong and, for a self-intersection, where (the first crossing found);
//! [`repair`] rebuilds the polygon from its rings by the even–odd rule (a bow-tie becomes its
//! two triangles, a ring traced twice its area once), as PostGIS's `ST_MakeValid` does for these
//! cases; [`normalize`] orients shells counter-clockwise and holes clockwise.
//!
//! ```
//! use geo::{polygon, MultiPolygon};
//! use mobility_geo::valid::{invalidity, repair};
//! // A bow-tie: the ring crosses itself at (1, 1).
//! let bowtie = MultiPolygon(vec![polygon![(x: 0., y: 0.), (x: 2., y: 2.), (x: 2., y: 0.), (x: 0., y: 2.), (x: 0., y: 0.)]]);
//! let why = invalidity(&bowtie.clone().into()).unwrap();
//! assert_eq!(why.to_string(), "self-intersection at (1 1) in the shell of polygon 1");
//! let fixed = repair(&bowtie);
//! assert_eq!(fixed.0.len(), 2);
//! assert!(invalidity(&fixed.into()).is_none());
//! ```

use geo::line_intersection::{LineIntersection, line_intersection};
use geo::orient::{Direction, Orient};
use geo::{
    BooleanOps, BoundingRect, Coord, Geometry, Line, LineString, MultiPolygon, OpType, Polygon,
    Validation,
};

use crate::prepared::{Edge, edge_test};

/// What makes a geometry invalid, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalidity {
    /// What is wrong (as the OGC rules name it).
    pub reason: String,
    /// The location of the problem, lon/lat (or x/y), where one can be given.
    pub location: Option<Coord<f64>>,
}

impl std::fmt::Display for Invalidity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// Why `g` is not a valid OGC geometry, or `None` when it is.
///
/// Polygons are checked by one sweep over the edges of all their rings (about n log n, where
/// a pairwise check would take minutes on a municipality's 20,000-vertex boundary), then by a
/// point of each ring against the rings that could hold it.
pub fn invalidity(g: &Geometry<f64>) -> Option<Invalidity> {
    match g {
        Geometry::Polygon(p) => polygons_invalidity(std::slice::from_ref(p)),
        Geometry::MultiPolygon(mp) => polygons_invalidity(&mp.0),
        other => other
            .validation_errors()
            .into_iter()
            .next()
            .map(|e| Invalidity {
                reason: e.to_string(),
                location: None,
            }),
    }
}

/// A ring of one of the polygons: (polygon, ring; 0 the shell, k the k-th hole).
type RingId = (usize, usize);

fn role((p, r): RingId) -> String {
    if r == 0 {
        format!("the shell of polygon {}", p + 1)
    } else {
        format!("hole {r} of polygon {}", p + 1)
    }
}

fn at(reason: String, c: Coord<f64>) -> Option<Invalidity> {
    Some(Invalidity {
        reason,
        location: Some(c),
    })
}

fn polygons_invalidity(polys: &[Polygon<f64>]) -> Option<Invalidity> {
    // The rings, with repeated consecutive vertices dropped (GeoJSON files have them; they
    // are no error).
    let mut rings: Vec<(RingId, Vec<Coord<f64>>)> = Vec::new();
    for (i, p) in polys.iter().enumerate() {
        for (r, ring) in std::iter::once(p.exterior())
            .chain(p.interiors())
            .enumerate()
        {
            if let Some(c) = ring.0.iter().find(|c| !c.x.is_finite() || !c.y.is_finite()) {
                return Some(Invalidity {
                    reason: format!(
                        "non-finite coordinate ({} {}) in {}",
                        c.x,
                        c.y,
                        role((i, r))
                    ),
                    location: None,
                });
            }
            let mut pts: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
            for c in &ring.0 {
                if pts.last() != Some(c) {
                    pts.push(*c);
                }
            }
            if pts.len() < 4 || pts.first() != pts.last() {
                return Some(Invalidity {
                    reason: format!(
                        "{} is not a closed ring of at least 3 distinct points",
                        role((i, r))
                    ),
                    location: None,
                });
            }
            rings.push(((i, r), pts));
        }
    }
    if let Some(bad) = crossings(&rings) {
        return Some(bad);
    }
    containment(polys, &rings)
}

/// A crossing found: (ring, edge, ring, edge) for ordering, the reason, the place.
type Found = ((usize, usize, usize, usize), String, Coord<f64>);

/// The first place, in ring order, where a ring crosses or touches itself other than at the
/// joints of consecutive edges, or two rings cross or share an edge.
fn crossings(rings: &[(RingId, Vec<Coord<f64>>)]) -> Option<Invalidity> {
    // (ring index, edge index, edge), sorted by left end: each edge is tested only against the
    // edges whose x-range overlaps its own.
    let mut edges: Vec<(usize, usize, Line<f64>)> = Vec::new();
    for (k, (_, pts)) in rings.iter().enumerate() {
        edges.extend(
            pts.windows(2)
                .enumerate()
                .map(|(e, w)| (k, e, Line::new(w[0], w[1]))),
        );
    }
    let min_x = |l: &Line<f64>| l.start.x.min(l.end.x);
    let max_x = |l: &Line<f64>| l.start.x.max(l.end.x);
    let (min_y, max_y) = (
        |l: &Line<f64>| l.start.y.min(l.end.y),
        |l: &Line<f64>| l.start.y.max(l.end.y),
    );
    edges.sort_by(|a, b| min_x(&a.2).total_cmp(&min_x(&b.2)));
    let mut found: Option<Found> = None;
    for (n, &(ra, ea, la)) in edges.iter().enumerate() {
        let right = max_x(&la);
        for &(rb, eb, lb) in &edges[n + 1..] {
            if min_x(&lb) > right {
                break;
            }
            if min_y(&lb) > max_y(&la) || max_y(&lb) < min_y(&la) {
                continue;
            }
            let Some(hit) = line_intersection(la, lb) else {
                continue;
            };
            let ((r1, e1), (r2, e2)) = if (ra, ea) < (rb, eb) {
                ((ra, ea), (rb, eb))
            } else {
                ((rb, eb), (ra, ea))
            };
            let what = if r1 == r2 {
                let last = rings[r1].1.len() - 2;
                let adjacent = e2 == e1 + 1 || (e1 == 0 && e2 == last);
                match hit {
                    // Consecutive edges meet at their shared vertex; that is no crossing.
                    LineIntersection::SinglePoint { .. } if adjacent => continue,
                    LineIntersection::SinglePoint { intersection, .. } => (
                        format!(
                            "self-intersection at ({} {}) in {}",
                            intersection.x,
                            intersection.y,
                            role(rings[r1].0)
                        ),
                        intersection,
                    ),
                    // Overlapping edges: a spike folding back, or a part traced twice.
                    LineIntersection::Collinear { intersection } => (
                        format!(
                            "self-intersection at ({} {}) in {}",
                            intersection.start.x,
                            intersection.start.y,
                            role(rings[r1].0)
                        ),
                        intersection.start,
                    ),
                }
            } else {
                match hit {
                    // Rings may touch at points.
                    LineIntersection::SinglePoint {
                        is_proper: false, ..
                    } => continue,
                    LineIntersection::SinglePoint { intersection, .. } => (
                        format!(
                            "{} and {} cross at ({} {})",
                            role(rings[r1].0),
                            role(rings[r2].0),
                            intersection.x,
                            intersection.y
                        ),
                        intersection,
                    ),
                    LineIntersection::Collinear { intersection } => (
                        format!(
                            "{} and {} share an edge at ({} {})",
                            role(rings[r1].0),
                            role(rings[r2].0),
                            intersection.start.x,
                            intersection.start.y
                        ),
                        intersection.start,
                    ),
                }
            };
            let order = (r1, e1, r2, e2);
            if found.as_ref().is_none_or(|(o, _, _)| order < *o) {
                found = Some((order, what.0, what.1));
            }
        }
    }
    found.and_then(|(_, reason, c)| at(reason, c))
}

/// Where `c` lies against a closed ring: inside, outside, or on it.
fn side(c: Coord<f64>, ring: &[Coord<f64>]) -> Option<bool> {
    let mut inside = false;
    for w in ring.windows(2) {
        match edge_test(c, w[0], w[1]) {
            Edge::On => return None,
            Edge::Crosses => inside = !inside,
            Edge::Misses => {}
        }
    }
    Some(inside)
}

/// A vertex of `ring` not on `other`, and whether it lies inside `other` (`None` when every
/// vertex is on it).
fn inside(ring: &[Coord<f64>], other: &[Coord<f64>]) -> Option<(Coord<f64>, bool)> {
    ring.iter().find_map(|&c| side(c, other).map(|s| (c, s)))
}

/// With no rings crossing, each ring lies wholly inside or outside another: holes must lie in
/// their shell and outside the other holes, and no polygon may lie in another.
fn containment(polys: &[Polygon<f64>], rings: &[(RingId, Vec<Coord<f64>>)]) -> Option<Invalidity> {
    let ring = |id: RingId| &rings.iter().find(|(r, _)| *r == id).expect("every ring").1;
    for (i, p) in polys.iter().enumerate() {
        let shell = ring((i, 0));
        for h in 1..=p.interiors().len() {
            let hole = ring((i, h));
            // Every vertex, not one: a hole may touch its shell and still poke out beyond it.
            if let Some(c) = hole.iter().find(|&&c| side(c, shell) == Some(false)) {
                return at(
                    format!(
                        "{} lies outside its shell at ({} {})",
                        role((i, h)),
                        c.x,
                        c.y
                    ),
                    *c,
                );
            }
            for h2 in 1..h {
                if let Some((c, true)) = inside(hole, ring((i, h2))) {
                    return at(
                        format!(
                            "{} lies inside {} at ({} {})",
                            role((i, h)),
                            role((i, h2)),
                            c.x,
                            c.y
                        ),
                        c,
                    );
                }
                if let Some((c, true)) = inside(ring((i, h2)), hole) {
                    return at(
                        format!(
                            "{} lies inside {} at ({} {})",
                            role((i, h2)),
                            role((i, h)),
                            c.x,
                            c.y
                        ),
                        c,
                    );
                }
            }
        }
    }
    let boxes: Vec<_> = polys.iter().map(|p| p.exterior().bounding_rect()).collect();
    for i in 0..polys.len() {
        for j in 0..polys.len() {
            let (Some(a), Some(b)) = (boxes[i], boxes[j]) else {
                continue;
            };
            let overlap = a.min().x <= b.max().x
                && b.min().x <= a.max().x
                && a.min().y <= b.max().y
                && b.min().y <= a.max().y;
            if i == j || !overlap {
                continue;
            }
            // Polygon i inside polygon j: its shell inside j's shell and in none of j's holes.
            let Some((c, true)) = inside(ring((i, 0)), ring((j, 0))) else {
                continue;
            };
            // ... unless it lies in one of j's holes (an island in a lake), tested with a vertex
            // of i off that hole's boundary (an island may touch the shore).
            let in_hole = (1..=polys[j].interiors().len())
                .any(|h| matches!(inside(ring((i, 0)), ring((j, h))), Some((_, true))));
            if !in_hole {
                return at(
                    format!(
                        "polygons {} and {} overlap at ({} {})",
                        i.min(j) + 1,
                        i.max(j) + 1,
                        c.x,
                        c.y
                    ),
                    c,
                );
            }
        }
    }
    None
}

/// The first point where a closed ring crosses or touches itself other than at the joints of
/// consecutive edges (a bow-tie's crossing, a spike's fold, a repeated vertex of a loop).
pub fn self_intersection(ring: &LineString<f64>) -> Option<Coord<f64>> {
    let p = Polygon::new(ring.clone(), vec![]);
    match polygons_invalidity(std::slice::from_ref(&p)) {
        Some(Invalidity {
            location: Some(c), ..
        }) => Some(c),
        _ => None,
    }
}

/// A valid multipolygon covering what the rings of `mp` enclose by the even–odd rule.
pub fn repair(mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    let empty = MultiPolygon::<f64>(Vec::new());
    normalize(&mp.boolean_op_with_fill_rule(
        &empty,
        OpType::Union,
        geo::algorithm::bool_ops::FillRule::EvenOdd,
    ))
}

/// Shells counter-clockwise, holes clockwise (GeoJSON's RFC 7946 and GeoParquet's rule).
pub fn normalize(mp: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    mp.orient(Direction::Default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Winding, polygon};

    fn mp(p: Polygon<f64>) -> Geometry<f64> {
        Geometry::MultiPolygon(MultiPolygon(vec![p]))
    }

    #[test]
    fn a_square_is_valid_and_a_bowtie_is_not() {
        let square = polygon![(x: 0., y: 0.), (x: 1., y: 0.), (x: 1., y: 1.), (x: 0., y: 1.), (x: 0., y: 0.)];
        assert_eq!(invalidity(&mp(square)), None);
        let bowtie = polygon![(x: 10., y: 59.), (x: 11., y: 60.), (x: 11., y: 59.), (x: 10., y: 60.), (x: 10., y: 59.)];
        let why = invalidity(&mp(bowtie)).unwrap();
        assert_eq!(why.location, Some(Coord { x: 10.5, y: 59.5 }));
        assert_eq!(
            why.reason,
            "self-intersection at (10.5 59.5) in the shell of polygon 1"
        );
    }

    #[test]
    fn spikes_loops_and_stray_holes_are_named() {
        // A spike: the shell runs out to (3 0) and back along the same line.
        let spike = polygon![(x: 0., y: 0.), (x: 3., y: 0.), (x: 1., y: 0.), (x: 1., y: 1.), (x: 0., y: 1.), (x: 0., y: 0.)];
        let why = invalidity(&mp(spike)).unwrap();
        assert!(why.reason.starts_with("self-intersection at"), "{why}");
        // A hole outside its shell.
        let stray = Polygon::new(
            LineString::from(vec![(0., 0.), (1., 0.), (1., 1.), (0., 1.), (0., 0.)]),
            vec![LineString::from(vec![
                (5., 5.),
                (6., 5.),
                (6., 6.),
                (5., 5.),
            ])],
        );
        let why = invalidity(&mp(stray)).unwrap();
        assert_eq!(
            why.reason,
            "hole 1 of polygon 1 lies outside its shell at (5 5)"
        );
        // Repeated vertices are allowed.
        let repeated = polygon![(x: 0., y: 0.), (x: 1., y: 0.), (x: 1., y: 0.), (x: 1., y: 1.), (x: 0., y: 1.), (x: 0., y: 0.)];
        assert_eq!(invalidity(&mp(repeated)), None);
        // Two polygons of one multipolygon overlapping.
        let a = polygon![(x: 0., y: 0.), (x: 2., y: 0.), (x: 2., y: 2.), (x: 0., y: 2.), (x: 0., y: 0.)];
        let b = polygon![(x: 1., y: 1.), (x: 3., y: 1.), (x: 3., y: 3.), (x: 1., y: 3.), (x: 1., y: 1.)];
        let why = invalidity(&Geometry::MultiPolygon(MultiPolygon(vec![a, b]))).unwrap();
        assert_eq!(
            why.reason,
            "the shell of polygon 1 and the shell of polygon 2 cross at (2 1)"
        );
        // One polygon wholly inside another.
        let outer = polygon![(x: 0., y: 0.), (x: 10., y: 0.), (x: 10., y: 10.), (x: 0., y: 10.), (x: 0., y: 0.)];
        let inner = polygon![(x: 1., y: 1.), (x: 2., y: 1.), (x: 2., y: 2.), (x: 1., y: 1.)];
        let why = invalidity(&Geometry::MultiPolygon(MultiPolygon(vec![
            outer.clone(),
            inner.clone(),
        ])))
        .unwrap();
        assert_eq!(why.reason, "polygons 1 and 2 overlap at (1 1)");
        // ... unless it sits in a hole of the other (an island in a lake).
        let lake = Polygon::new(
            outer.exterior().clone(),
            vec![LineString::from(vec![
                (0.5, 0.5),
                (5., 0.5),
                (5., 5.),
                (0.5, 5.),
                (0.5, 0.5),
            ])],
        );
        assert_eq!(
            invalidity(&Geometry::MultiPolygon(MultiPolygon(vec![lake, inner]))),
            None
        );
        // An island touching its lake's shore is no overlap.
        let lake = Polygon::new(
            outer.exterior().clone(),
            vec![LineString::from(vec![
                (0.5, 0.5),
                (5., 0.5),
                (5., 5.),
                (0.5, 5.),
                (0.5, 0.5),
            ])],
        );
        let touching = polygon![(x: 0.5, y: 1.), (x: 2., y: 1.), (x: 2., y: 2.), (x: 0.5, y: 1.)];
        assert_eq!(
            invalidity(&Geometry::MultiPolygon(MultiPolygon(vec![lake, touching]))),
            None
        );
        // A hole touching its shell at a point and poking out beyond it.
        let square = LineString::from(vec![(0., 0.), (4., 0.), (4., 4.), (0., 4.), (0., 0.)]);
        let poke = Polygon::new(
            square,
            vec![LineString::from(vec![
                (1., 1.),
                (4., 2.),
                (5., 2.),
                (4., 3.),
                (1., 1.),
            ])],
        );
        let why = invalidity(&mp(poke)).unwrap();
        assert!(why.reason.contains("hole 1 of polygon 1"), "{why}");
        // Two polygons sharing an edge.
        let left = polygon![(x: 0., y: 0.), (x: 1., y: 0.), (x: 1., y: 1.), (x: 0., y: 1.), (x: 0., y: 0.)];
        let right = polygon![(x: 1., y: 0.), (x: 2., y: 0.), (x: 2., y: 1.), (x: 1., y: 1.), (x: 1., y: 0.)];
        let why = invalidity(&Geometry::MultiPolygon(MultiPolygon(vec![
            left.clone(),
            right,
        ])))
        .unwrap();
        assert!(why.reason.contains("share an edge"), "{why}");
        // Touching at one point is allowed.
        let corner = polygon![(x: 1., y: 1.), (x: 2., y: 1.), (x: 2., y: 2.), (x: 1., y: 2.), (x: 1., y: 1.)];
        assert_eq!(
            invalidity(&Geometry::MultiPolygon(MultiPolygon(vec![left, corner]))),
            None
        );
    }

    #[test]
    fn repair_keeps_both_lobes_of_a_bowtie_and_orients_rings() {
        let bowtie = MultiPolygon(vec![
            polygon![(x: 0., y: 0.), (x: 2., y: 2.), (x: 2., y: 0.), (x: 0., y: 2.), (x: 0., y: 0.)],
        ]);
        let fixed = repair(&bowtie);
        assert_eq!(fixed.0.len(), 2);
        assert!((fixed.unsigned_area() - 2.0).abs() < 1e-12);
        assert_eq!(invalidity(&Geometry::MultiPolygon(fixed.clone())), None);
        for p in &fixed.0 {
            assert!(p.exterior().is_ccw());
        }
        // A shell given clockwise is turned round by normalize.
        let cw = MultiPolygon(vec![
            polygon![(x: 0., y: 0.), (x: 0., y: 1.), (x: 1., y: 1.), (x: 1., y: 0.), (x: 0., y: 0.)],
        ]);
        assert!(!cw.0[0].exterior().is_ccw());
        assert!(normalize(&cw).0[0].exterior().is_ccw());
    }

    #[test]
    fn a_long_valid_ring_is_checked_quickly_and_passes() {
        // A circle of 20,000 vertices: the sweep keeps this far from n².
        let n = 20_000;
        let mut pts: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let a = i as f64 / n as f64 * std::f64::consts::TAU;
                (a.cos(), a.sin())
            })
            .collect();
        pts.push(pts[0]);
        let p = Polygon::new(LineString::from(pts), vec![]);
        assert_eq!(invalidity(&mp(p.clone())), None);
        // And with a hole, which is checked against the shell.
        let hole: Vec<(f64, f64)> = vec![(0.1, 0.1), (0.2, 0.1), (0.2, 0.2), (0.1, 0.1)];
        let with_hole = Polygon::new(p.exterior().clone(), vec![LineString::from(hole)]);
        assert_eq!(invalidity(&mp(with_hole)), None);
    }
}
