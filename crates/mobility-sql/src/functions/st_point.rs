//! `ST_Point(lon, lat)`: a point geometry as WKB.

use arrow::array::{Array, ArrayRef, BinaryBuilder};
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};

use crate::udf::{Arg, GEO, arc, num, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(GEO, "A point geometry (WKB) from longitude and latitude in degrees (EPSG:4326), or x and y in another CRS.", "ST_Point(lon, lat)")
        .with_argument("lon", "longitude or x")
        .with_argument("lat", "latitude or y")
        .with_sql_example("SELECT ST_AsText(ST_Point(10.5279, 59.8897)); -- POINT(10.5279 59.8897)")
        .build();
    simple(
        "st_point",
        vec![vec![Arg::Num, Arg::Num]],
        DataType::Binary,
        doc,
        kernel,
    )
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    let (x, y) = (num(&a[0])?, num(&a[1])?);
    let mut b = BinaryBuilder::with_capacity(x.len(), x.len() * 21);
    for i in 0..x.len() {
        if x.is_null(i) || y.is_null(i) {
            b.append_null();
        } else {
            b.append_value(mobility_geo::wkb::point_wkb(x.value(i), y.value(i)));
        }
    }
    Ok(arc(b.finish()))
}
