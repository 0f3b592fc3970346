//! `ST_GeomFromText(wkt)`: a geometry from Well-Known Text.

use std::str::FromStr;

use arrow::array::{Array, ArrayRef, BinaryBuilder};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{Documentation, ScalarUDF};

use crate::udf::{Arg, GEO, arc, simple, text};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(GEO, "A geometry (WKB) from Well-Known Text: POINT, LINESTRING, POLYGON and their MULTI forms, 2D. Invalid text is an error.", "ST_GeomFromText(wkt)")
        .with_argument("wkt", "VARCHAR")
        .with_sql_example("SELECT ST_Area(ST_GeomFromText('POLYGON((10 59, 11 59, 11 60, 10 60, 10 59))'));")
        .build();
    simple(
        "st_geomfromtext",
        vec![vec![Arg::Text]],
        DataType::Binary,
        doc,
        kernel,
    )
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    let t = text(&a[0])?;
    let mut b = BinaryBuilder::with_capacity(t.len(), t.len() * 32);
    for i in 0..t.len() {
        if t.is_null(i) {
            b.append_null();
            continue;
        }
        let s = t.value(i);
        let parsed = wkt::Wkt::<f64>::from_str(s)
            .map_err(|e| e.to_string())
            .and_then(|w| geo::Geometry::try_from(w).map_err(|e| e.to_string()));
        match parsed.and_then(|g| mobility_geo::wkb::to_wkb(&g).map_err(|e| e.to_string())) {
            Ok(w) => b.append_value(w),
            Err(e) => {
                let shown: String = s.chars().take(60).collect();
                return exec_err!("st_geomfromtext: '{shown}' is not valid WKT: {e}");
            }
        }
    }
    Ok(arc(b.finish()))
}
