//! `ST_IsValid(geom)` and `ST_IsValidReason(geom)`: OGC validity, as PostGIS names them.
//! `ST_IsValidReason` gives `Valid Geometry` for a valid geometry, else what is wrong and,
//! for a self-intersection, where (`mobility_geo::valid`).

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};
use mobility_geo::valid::invalidity;

use crate::udf::{Arg, GEO, geom_to_bool, geom_to_utf8, simple};

pub fn is_valid() -> ScalarUDF {
    let doc = Documentation::builder(
        GEO,
        "Whether a geometry is valid by the OGC rules: rings closed and simple (no \
         self-intersection), holes inside their shell, polygons of a multipolygon not overlapping.",
        "ST_IsValid(geom)",
    )
    .with_argument("geom", "a geometry (WKB)")
    .with_sql_example(
        "SELECT ST_IsValid(ST_GeomFromText('POLYGON((0 0, 2 2, 2 0, 0 2, 0 0))')); -- false",
    )
    .build();
    simple(
        "st_isvalid",
        vec![vec![Arg::Geom]],
        DataType::Boolean,
        doc,
        |a| geom_to_bool("st_isvalid", &a[0], |g| invalidity(g).is_none()),
    )
}

pub fn is_valid_reason() -> ScalarUDF {
    let doc = Documentation::builder(
        GEO,
        "Why a geometry is not valid, with the location of a self-intersection; 'Valid Geometry' \
         when it is valid.",
        "ST_IsValidReason(geom)",
    )
    .with_argument("geom", "a geometry (WKB)")
    .with_sql_example(
        "SELECT ST_IsValidReason(ST_GeomFromText('POLYGON((0 0, 2 2, 2 0, 0 2, 0 0))'));\n\
         -- self-intersection at (1 1) in the shell of polygon 1",
    )
    .build();
    simple(
        "st_isvalidreason",
        vec![vec![Arg::Geom]],
        DataType::Utf8,
        doc,
        kernel_reason,
    )
}

fn kernel_reason(a: &[ArrayRef]) -> Result<ArrayRef> {
    geom_to_utf8("st_isvalidreason", &a[0], |g| match invalidity(g) {
        None => "Valid Geometry".to_string(),
        Some(why) => why.reason,
    })
}
