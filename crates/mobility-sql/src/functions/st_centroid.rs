//! `ST_Centroid(geom)`: the centroid, computed in lon/lat (planar; for municipal extents the
//! difference to an ellipsoidal centroid is far below the precision of the zones).

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{Documentation, ScalarUDF};
use geo::Centroid;

use crate::udf::{Arg, GEO, geom_to_geom, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(
        GEO,
        "The centroid of a geometry as a point, computed in lon/lat.",
        "ST_Centroid(geom)",
    )
    .with_argument("geom", "a geometry (WKB)")
    .with_sql_example("SELECT zone_id, ST_AsText(ST_Centroid(geometry)) FROM zones;")
    .build();
    simple(
        "st_centroid",
        vec![vec![Arg::Geom]],
        DataType::Binary,
        doc,
        kernel,
    )
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    geom_to_geom("st_centroid", &a[0], |g| match g.centroid() {
        Some(p) => Ok(geo::Geometry::Point(p)),
        None => exec_err!("st_centroid: the geometry is empty"),
    })
}
