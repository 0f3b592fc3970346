//! `ST_Length(geom)`: geodesic length in metres of line strings (WGS84); 0 for points and
//! polygons, as in PostGIS (use `ST_Length` of a boundary for a perimeter).

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};
use geo::{Geodesic, Geometry, Length};

use crate::udf::{Arg, GEO, geom_to_f64, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(GEO, "Geodesic length in metres (WGS84) of a LineString or MultiLineString in lon/lat; 0 for points and polygons.", "ST_Length(geom)")
        .with_argument("geom", "a geometry (WKB, EPSG:4326)")
        .with_sql_example("SELECT ST_Length(ST_GeomFromText('LINESTRING(10.5 59.9, 10.6 59.9)'));")
        .build();
    simple(
        "st_length",
        vec![vec![Arg::Geom]],
        DataType::Float64,
        doc,
        kernel,
    )
}

fn length(g: &Geometry<f64>) -> f64 {
    match g {
        Geometry::LineString(l) => Geodesic.length(l),
        Geometry::MultiLineString(m) => m.0.iter().map(|l| Geodesic.length(l)).sum(),
        Geometry::Line(l) => Geodesic.length(l),
        Geometry::GeometryCollection(c) => c.0.iter().map(length).sum(),
        _ => 0.0,
    }
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    geom_to_f64("st_length", &a[0], length)
}
