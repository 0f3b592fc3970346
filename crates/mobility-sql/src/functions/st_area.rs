//! `ST_Area(geom)`: geodesic area in m² on the WGS84 ellipsoid (Karney 2013, via geo's
//! `GeodesicArea`), unsigned, holes subtracted; 0 for points and lines.

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};
use geo::GeodesicArea;

use crate::udf::{Arg, GEO, geom_to_f64, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(GEO, "Geodesic area in square metres (WGS84 ellipsoid, Karney 2013) of a polygon in lon/lat, holes subtracted; 0 for points and lines.", "ST_Area(geom)")
        .with_argument("geom", "a geometry (WKB, EPSG:4326)")
        .with_sql_example("SELECT name, ST_Area(geometry) / 1e6 AS km2 FROM zones WHERE kind = 'kommune';")
        .build();
    simple(
        "st_area",
        vec![vec![Arg::Geom]],
        DataType::Float64,
        doc,
        kernel,
    )
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    geom_to_f64("st_area", &a[0], |g| g.geodesic_area_unsigned())
}
