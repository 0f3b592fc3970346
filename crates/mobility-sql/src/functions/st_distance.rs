//! `ST_Distance(a, b)`: metres between two lon/lat geometries. Two points: the geodesic
//! distance (WGS84, Karney). Other geometries: 0 if they intersect, else the planar distance in
//! a local metric frame around the pair (within 0.1 % of geodesic over tens of km).

use arrow::array::{Array, ArrayRef, Float64Array};
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};
use geo::{Distance, Euclidean, Geodesic, Geometry, Intersects};
use mobility_geo::local::LocalFrame;

use crate::udf::{Arg, GEO, arc, decode, geom, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(GEO, "Distance in metres between two geometries in lon/lat (EPSG:4326): geodesic between two points; for other geometries 0 when they intersect, else measured in a local metric frame (within 0.1 % over tens of km).", "ST_Distance(a, b)")
        .with_argument("a", "a geometry (WKB, EPSG:4326)")
        .with_argument("b", "a geometry (WKB, EPSG:4326)")
        .with_sql_example("SELECT ST_Distance(ST_Point(10.7522, 59.9139), ST_Point(10.5279, 59.8897)); -- metres")
        .build();
    simple(
        "st_distance",
        vec![vec![Arg::Geom, Arg::Geom]],
        DataType::Float64,
        doc,
        kernel,
    )
}

/// Metres between two lon/lat geometries.
pub fn metres(a: &Geometry<f64>, b: &Geometry<f64>) -> f64 {
    if let (Geometry::Point(p), Geometry::Point(q)) = (a, b) {
        return Geodesic.distance(*p, *q);
    }
    if a.intersects(b) {
        return 0.0;
    }
    let both = Geometry::GeometryCollection(geo::GeometryCollection(vec![a.clone(), b.clone()]));
    let Some(f) = LocalFrame::around(&both) else {
        return f64::NAN;
    };
    Euclidean.distance(&f.to_xy(a), &f.to_xy(b))
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    let (x, y) = (geom(&a[0])?, geom(&a[1])?);
    let mut out = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        if x.is_null(i) || y.is_null(i) {
            out.push(None);
            continue;
        }
        let (g, h) = (
            decode("st_distance", 1, x.value(i))?,
            decode("st_distance", 2, y.value(i))?,
        );
        out.push(Some(metres(&g, &h)));
    }
    Ok(arc(Float64Array::from(out)))
}
