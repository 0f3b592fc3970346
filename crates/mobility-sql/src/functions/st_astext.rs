//! `ST_AsText(geom)`: Well-Known Text of a geometry.

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};
use wkt::ToWkt;

use crate::udf::{Arg, GEO, geom_to_utf8, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(GEO, "Well-Known Text of a geometry.", "ST_AsText(geom)")
        .with_argument("geom", "a geometry (WKB)")
        .with_sql_example("SELECT ST_AsText(ST_Point(10.5, 59.9)); -- POINT(10.5 59.9)")
        .build();
    simple(
        "st_astext",
        vec![vec![Arg::Geom]],
        DataType::Utf8,
        doc,
        kernel,
    )
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    geom_to_utf8("st_astext", &a[0], |g| g.wkt_string())
}
