//! `ST_AsText(geom)`: Well-Known Text of a geometry.

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};
use wkt::ToWkt;

use crate::udf::{Arg, GEO, arc, decode, geom, simple};

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
    let g = geom(&a[0])?;
    let mut out = Vec::with_capacity(g.len());
    for i in 0..g.len() {
        out.push(if g.is_null(i) {
            None
        } else {
            Some(decode("st_astext", 1, g.value(i))?.wkt_string())
        });
    }
    Ok(arc(StringArray::from(out)))
}
