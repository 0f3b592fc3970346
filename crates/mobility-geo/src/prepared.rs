//! A polygon prepared for point-in-polygon: its edges (exterior and holes, of every part of a
//! multipolygon) binned into horizontal slabs, so a test looks only at the edges of the point's
//! slab. The boundary is part of the polygon (closed), as `geo`'s `Intersects` has it.

use geo::{Coord, MultiPolygon};

/// A prepared (multi)polygon.
#[derive(Debug, Clone)]
pub struct PreparedPolygon {
    y0: f64,
    inv_h: f64,
    /// Edges (a, b) by slab; an edge is in every slab its y-range touches.
    slabs: Vec<Vec<(Coord<f64>, Coord<f64>)>>,
}

impl PreparedPolygon {
    /// Prepares `mp`; about four edges per slab on average.
    pub fn new(mp: &MultiPolygon<f64>) -> Self {
        let mut edges = Vec::new();
        for p in &mp.0 {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                edges.extend(ring.lines().map(|l| (l.start, l.end)));
            }
        }
        let (mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY);
        for (a, b) in &edges {
            y0 = y0.min(a.y).min(b.y);
            y1 = y1.max(a.y).max(b.y);
        }
        let n = (edges.len() / 4).clamp(1, 4096);
        let h = if y1 > y0 { (y1 - y0) / n as f64 } else { 1.0 };
        let mut slabs = vec![Vec::new(); n];
        let inv_h = 1.0 / h;
        let slab = |y: f64| (((y - y0) * inv_h).floor().max(0.0) as usize).min(n - 1);
        for (a, b) in edges {
            for s in slab(a.y.min(b.y))..=slab(a.y.max(b.y)) {
                slabs[s].push((a, b));
            }
        }
        Self { y0, inv_h, slabs }
    }

    /// Whether the polygon holds `c`, boundary included.
    pub fn contains_closed(&self, c: Coord<f64>) -> bool {
        self.position(c) != Position::Outside
    }

    /// Where `c` lies: in the interior, on the boundary (an edge or vertex of the exterior or
    /// of a hole), or outside. `Inside` is what OGC `ST_Contains(polygon, point)` asks for.
    pub fn position(&self, c: Coord<f64>) -> Position {
        if self.slabs.is_empty() {
            return Position::Outside;
        }
        let s = (c.y - self.y0) * self.inv_h;
        if !(s >= -1e-12 && s.is_finite()) {
            return Position::Outside;
        }
        let k = (s.floor() as usize).min(self.slabs.len() - 1);
        let mut inside = false;
        for &(a, b) in &self.slabs[k] {
            match edge_test(c, a, b) {
                Edge::On => return Position::Boundary,
                Edge::Crosses => inside = !inside,
                Edge::Misses => {}
            }
        }
        if inside {
            Position::Inside
        } else {
            Position::Outside
        }
    }
}

/// Where a point lies relative to a polygon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// In the interior.
    Inside,
    /// On an edge or a vertex.
    Boundary,
    /// Outside, or in a hole.
    Outside,
}

/// How a point relates to one edge of a ring, for the even–odd test with a ray to +x.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edge {
    /// The point lies on the edge (collinear and within its bounding box).
    On,
    /// The ray crosses the edge (half-open in y, so a vertex counts once).
    Crosses,
    /// Neither.
    Misses,
}

/// The point `c` against the edge from `a` to `b`: the one kernel of every point-in-ring test.
pub(crate) fn edge_test(c: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> Edge {
    let cross = (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
    if cross == 0.0
        && c.x >= a.x.min(b.x)
        && c.x <= a.x.max(b.x)
        && c.y >= a.y.min(b.y)
        && c.y <= a.y.max(b.y)
    {
        return Edge::On;
    }
    if (a.y > c.y) != (b.y > c.y) {
        let x = a.x + (c.y - a.y) * (b.x - a.x) / (b.y - a.y);
        if x > c.x {
            return Edge::Crosses;
        }
    }
    Edge::Misses
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, Intersects, wkt};

    #[test]
    fn agrees_with_geo_on_random_points_holes_and_edges() {
        let mp = MultiPolygon(vec![
            wkt! { POLYGON((0. 0., 10. 0., 10. 10., 5. 6., 0. 10., 0. 0.), (2. 2., 4. 2., 4. 4., 2. 4., 2. 2.)) },
            wkt! { POLYGON((20. 0., 25. 5., 20. 10., 20. 0.)) },
        ]);
        let p = PreparedPolygon::new(&mp);
        let mut state = 9u64;
        let mut u = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..20_000 {
            let c = Coord {
                x: u() * 30.0 - 2.0,
                y: u() * 14.0 - 2.0,
            };
            assert_eq!(p.contains_closed(c), mp.intersects(&c), "{c:?}");
            assert_eq!(p.position(c) == Position::Inside, mp.contains(&c), "{c:?}");
        }
        // Vertices, edges, hole boundaries: inside; the hole: outside.
        for (x, y, want) in [
            (0.0, 0.0, true),
            (5.0, 6.0, true),
            (10.0, 5.0, true),
            (3.0, 2.0, true),
            (3.0, 3.0, false),
            (22.5, 2.5, true),
            (5.0, 8.0, false),
        ] {
            let c = Coord { x, y };
            assert_eq!(p.contains_closed(c), want, "{c:?}");
            assert_eq!(mp.intersects(&c), want, "geo disagrees at {c:?}");
            let interior = want
                && !matches!(
                    (x, y),
                    (0.0, 0.0) | (5.0, 6.0) | (10.0, 5.0) | (3.0, 2.0) | (22.5, 2.5)
                );
            assert_eq!(p.position(c) == Position::Inside, interior, "{c:?}");
            assert_eq!(mp.contains(&c), interior, "geo disagrees at {c:?}");
        }
    }
}
