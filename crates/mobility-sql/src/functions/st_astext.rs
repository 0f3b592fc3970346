//! `ST_AsText(geom)`: Well-Known Text of a geometry, Z and M kept.
//!
//! The text is written from the WKB itself (mobility-geo's `wkb::to_wkt`), not from the 2-D
//! geo geometry the other functions see, so `POINT Z(1 2 3)` stays three-dimensional.

use arrow::array::{Array, ArrayRef, StringBuilder};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{Documentation, ScalarUDF};

use crate::udf::{Arg, GEO, arc, geom, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(
        GEO,
        "Well-Known Text of a geometry. WKB or PostGIS EWKB with Z and/or M prints them \
         (`POINT Z(1 2 3)`, `POINT M(1 2 4)`, `POINT ZM(1 2 3 4)`); an EWKB SRID is not printed.",
        "ST_AsText(geom)",
    )
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
    let mut out = StringBuilder::with_capacity(g.len(), g.value_data().len());
    for i in 0..g.len() {
        if g.is_null(i) {
            out.append_null();
            continue;
        }
        match mobility_geo::wkb::to_wkt(g.value(i)) {
            Ok(text) => out.append_value(text),
            Err(e) => return exec_err!("st_astext: argument 1 is not a valid geometry: {e}"),
        }
    }
    Ok(arc(out.finish()))
}
