//! `ST_GeomFromWKB(wkb)`: a geometry from WKB or EWKB of either byte order, checked and
//! re-encoded as 2-D WKB (Z, M and the SRID dropped).

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};

use crate::udf::{Arg, GEO, geom_to_geom, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(GEO, "A geometry from Well-Known Binary or PostGIS EWKB (either byte order; XY, Z, M or ZM; GeometryCollection included), checked and stored as little-endian 2-D WKB: Z, M and an EWKB SRID are dropped (ST_AsText of the input keeps them). Invalid WKB is an error.", "ST_GeomFromWKB(wkb)")
        .with_argument("wkb", "BINARY")
        .with_sql_example("SELECT ST_AsText(ST_GeomFromWKB(geometry)) FROM zones LIMIT 1;")
        .build();
    simple(
        "st_geomfromwkb",
        vec![vec![Arg::Geom]],
        DataType::Binary,
        doc,
        kernel,
    )
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    geom_to_geom("st_geomfromwkb", &a[0], Ok)
}
