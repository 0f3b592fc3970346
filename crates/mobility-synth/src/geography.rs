//! A Bærum-like geography: grunnkrets-like zones on a grid over Bærum's extent, denser along
//! the fjord (Sandvika, Stabekk, Bekkestua, Fornebu) than in the forest to the north, and the
//! neighbouring municipalities as `kommune` zones so that trips leaving Bærum land somewhere.

use geo::{Coord, MultiPolygon, Rect};
use mobility_geo::Zone;
use rand::Rng;

/// Bærum's extent used here (lon/lat).
pub const LON: (f64, f64) = (10.36, 10.66);
/// Bærum's extent used here (lon/lat).
pub const LAT: (f64, f64) = (59.86, 60.02);
const COLS: usize = 8;
const ROWS: usize = 6;

/// Centres of population: (lon, lat, pull).
const CENTRES: &[(f64, f64, f64)] = &[
    (10.523, 59.889, 1.0),  // Sandvika
    (10.590, 59.918, 0.9),  // Bekkestua
    (10.622, 59.897, 0.7),  // Fornebu
    (10.615, 59.908, 0.8),  // Stabekk
    (10.440, 59.937, 0.5),  // Kolsås
    (10.455, 59.985, 0.25), // Lommedalen
];

/// The synthetic zones and how many people live in each.
pub struct Geography {
    /// Grunnkrets-like zones of Bærum (kind `grunnkrets`), then kommune zones.
    pub zones: Vec<Zone>,
    /// Names by zone, in the order of `zones`.
    pub names: Vec<String>,
    /// Relative population of each grunnkrets (0 for kommune zones).
    pub density: Vec<f64>,
    /// Cumulative density for sampling homes.
    cumulative: Vec<f64>,
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> MultiPolygon<f64> {
    MultiPolygon(vec![
        Rect::new(Coord { x: x0, y: y0 }, Coord { x: x1, y: y1 }).to_polygon(),
    ])
}

impl Geography {
    /// Builds the geography (the same every time).
    pub fn new() -> Self {
        let (dx, dy) = ((LON.1 - LON.0) / COLS as f64, (LAT.1 - LAT.0) / ROWS as f64);
        let mut zones = Vec::new();
        let mut names = Vec::new();
        let mut density = Vec::new();
        for r in 0..ROWS {
            for c in 0..COLS {
                let (x0, y0) = (LON.0 + c as f64 * dx, LAT.0 + r as f64 * dy);
                let (cx, cy) = (x0 + dx / 2.0, y0 + dy / 2.0);
                let d: f64 = CENTRES
                    .iter()
                    .map(|(lx, ly, pull)| {
                        let km = ((cx - lx) * 55.6).hypot((cy - ly) * 111.2);
                        pull * (-km / 1.8).exp()
                    })
                    .sum();
                let id = format!("3201{:02}{:02}", r + 1, c + 1);
                zones.push(Zone {
                    id,
                    kind: "grunnkrets".into(),
                    geometry: rect(x0, y0, x0 + dx, y0 + dy),
                });
                names.push(format!("Bærum sone {}-{}", r + 1, c + 1));
                density.push(d + 0.02);
            }
        }
        for (id, name, g) in [
            ("3201", "Bærum", rect(LON.0, LAT.0, LON.1, LAT.1)),
            ("0301", "Oslo", rect(LON.1, 59.80, 10.95, 60.05)),
            ("3203", "Asker", rect(10.20, 59.75, LON.0, 59.95)),
        ] {
            zones.push(Zone {
                id: id.into(),
                kind: "kommune".into(),
                geometry: g,
            });
            names.push(name.into());
            density.push(0.0);
        }
        let mut acc = 0.0;
        let cumulative = density
            .iter()
            .map(|d| {
                acc += d;
                acc
            })
            .collect();
        Self {
            zones,
            names,
            density,
            cumulative,
        }
    }

    /// A zone drawn by population and a point uniformly inside it.
    pub fn home(&self, rng: &mut impl Rng) -> (usize, f64, f64) {
        let total = *self.cumulative.last().expect("zones exist");
        let u = rng.random::<f64>() * total;
        let z = self
            .cumulative
            .partition_point(|c| *c < u)
            .min(self.zones.len() - 1);
        let (x, y) = self.point_in(z, rng);
        (z, x, y)
    }

    /// A point uniformly inside zone `z` (all zones are rectangles).
    pub fn point_in(&self, z: usize, rng: &mut impl Rng) -> (f64, f64) {
        let r = geo::BoundingRect::bounding_rect(&self.zones[z].geometry).expect("non-empty zone");
        (
            r.min().x + rng.random::<f64>() * r.width(),
            r.min().y + rng.random::<f64>() * r.height(),
        )
    }
}

impl Default for Geography {
    fn default() -> Self {
        Self::new()
    }
}

/// The GeoJSON FeatureCollection of the zones of one kind, as `mobility ingest zones` reads it.
pub fn zones_geojson(g: &Geography, kind: &str) -> String {
    let features: Vec<serde_json::Value> = g
        .zones
        .iter()
        .zip(&g.names)
        .filter(|(z, _)| z.kind == kind)
        .map(|(z, name)| {
            let rings: Vec<Vec<Vec<Vec<f64>>>> = z
                .geometry
                .0
                .iter()
                .map(|p| {
                    vec![
                        p.exterior()
                            .0
                            .iter()
                            .map(|c| vec![(c.x * 1e6).round() / 1e6, (c.y * 1e6).round() / 1e6])
                            .collect(),
                    ]
                })
                .collect();
            serde_json::json!({
                "type": "Feature",
                "properties": {"zone_id": z.id, "name": name, "kind": z.kind},
                "geometry": {"type": "MultiPolygon", "coordinates": rings},
            })
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features}).to_string()
}
