//! A local metric frame around a point: equirectangular with the WGS84 radii of curvature at
//! the frame's latitude. Distances in it are within 0.1 % of geodesic ones over a few tens of
//! km, which is the scale of buffers and nearest-feature distances in a municipality.

use geo::{Geometry, MapCoords};

const A: f64 = 6_378_137.0;
const F: f64 = 1.0 / 298.257_223_563;

/// A local frame centred at (lon0, lat0).
#[derive(Debug, Clone, Copy)]
pub struct LocalFrame {
    lon0: f64,
    lat0: f64,
    /// Metres per degree of longitude and latitude at lat0.
    mx: f64,
    my: f64,
}

impl LocalFrame {
    /// The frame centred at (lon0, lat0).
    pub fn new(lon0: f64, lat0: f64) -> Self {
        let e2 = F * (2.0 - F);
        let phi = lat0.to_radians();
        let w = (1.0 - e2 * phi.sin().powi(2)).sqrt();
        let n = A / w;
        let m = A * (1.0 - e2) / (w * w * w);
        let rad = std::f64::consts::PI / 180.0;
        Self {
            lon0,
            lat0,
            mx: n * phi.cos() * rad,
            my: m * rad,
        }
    }

    /// The frame centred on a geometry's bounding box (or a point).
    pub fn around(g: &Geometry<f64>) -> Option<Self> {
        let r = geo::BoundingRect::bounding_rect(g)?;
        Some(Self::new(
            (r.min().x + r.max().x) / 2.0,
            (r.min().y + r.max().y) / 2.0,
        ))
    }

    /// Lon/lat to metres in the frame.
    pub fn to_xy(&self, g: &Geometry<f64>) -> Geometry<f64> {
        g.map_coords(|c| geo::Coord {
            x: (c.x - self.lon0) * self.mx,
            y: (c.y - self.lat0) * self.my,
        })
    }

    /// Metres in the frame to lon/lat.
    pub fn to_lon_lat(&self, g: &Geometry<f64>) -> Geometry<f64> {
        g.map_coords(|c| geo::Coord {
            x: self.lon0 + c.x / self.mx,
            y: self.lat0 + c.y / self.my,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Distance, Euclidean, Geodesic, Point};

    #[test]
    fn close_to_geodesic_over_ten_km() {
        let (a, b) = (Point::new(10.50, 59.88), Point::new(10.62, 59.95));
        let f = LocalFrame::new(10.56, 59.915);
        let (pa, pb) = (f.to_xy(&a.into()), f.to_xy(&b.into()));
        let (Geometry::Point(pa), Geometry::Point(pb)) = (pa, pb) else {
            unreachable!()
        };
        let local = Euclidean.distance(pa, pb);
        let exact = Geodesic.distance(a, b);
        assert!((local - exact).abs() / exact < 1e-3, "{local} vs {exact}");
        let back = f.to_lon_lat(&f.to_xy(&a.into()));
        assert_eq!(back, Geometry::Point(a));
    }
}
