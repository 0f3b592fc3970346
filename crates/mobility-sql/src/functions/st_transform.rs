//! `ST_Transform(geom, from_srid, to_srid)`: between EPSG:4326 and EPSG:25833 (UTM 33N).

use arrow::array::{Array, ArrayRef, BinaryBuilder};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{Documentation, ScalarUDF};
use geo::MapCoords;
use mobility_geo::Crs;

use crate::udf::{Arg, GEO, arc, decode, geom, num, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(GEO, "A geometry transformed between coordinate reference systems: EPSG:4326 (lon/lat) and EPSG:25833 (ETRS89 / UTM 33N, metres), Krüger series to 6th order (sub-millimetre).", "ST_Transform(geom, from_srid, to_srid)")
        .with_argument("geom", "a geometry (WKB)")
        .with_argument("from_srid", "4326 or 25833")
        .with_argument("to_srid", "4326 or 25833")
        .with_sql_example("SELECT ST_AsText(ST_Transform(ST_Point(10.5279, 59.8897), 4326, 25833));")
        .build();
    simple(
        "st_transform",
        vec![vec![Arg::Geom, Arg::Num, Arg::Num]],
        DataType::Binary,
        doc,
        kernel,
    )
}

fn crs(v: f64) -> Result<Crs> {
    match v as i64 {
        4326 if v.fract() == 0.0 => Ok(Crs::Epsg4326),
        25833 if v.fract() == 0.0 => Ok(Crs::Epsg25833),
        _ => exec_err!("st_transform: SRID {v} is not supported; expected 4326 or 25833"),
    }
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    let (g, from, to) = (geom(&a[0])?, num(&a[1])?, num(&a[2])?);
    let mut b = BinaryBuilder::with_capacity(g.len(), g.value_data().len());
    for i in 0..g.len() {
        if g.is_null(i) || from.is_null(i) || to.is_null(i) {
            b.append_null();
            continue;
        }
        let (f, t) = (crs(from.value(i))?, crs(to.value(i))?);
        let geom = decode("st_transform", 1, g.value(i))?;
        let out = geom.map_coords(|c| {
            let (lon, lat) = f.to_lon_lat(c.x, c.y);
            let (x, y) = t.from_lon_lat(lon, lat);
            geo::Coord { x, y }
        });
        match mobility_geo::wkb::to_wkb(&out) {
            Ok(w) => b.append_value(w),
            Err(e) => return exec_err!("st_transform: {e}"),
        }
    }
    Ok(arc(b.finish()))
}
