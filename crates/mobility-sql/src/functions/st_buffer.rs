//! `ST_Buffer(geom, metres)`: the area within a distance of a geometry in lon/lat, built in a
//! local metric frame (geo's `Buffer`, round joins and caps) and returned in lon/lat.

use arrow::array::{Array, ArrayRef, BinaryBuilder};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{Documentation, ScalarUDF};
use geo::Buffer;
use mobility_geo::local::LocalFrame;

use crate::udf::{Arg, GEO, arc, decode, geom, num, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(GEO, "The area within a distance in metres of a lon/lat geometry, as a (Multi)Polygon in lon/lat; built in a local metric frame with round joins.", "ST_Buffer(geom, metres)")
        .with_argument("geom", "a geometry (WKB, EPSG:4326)")
        .with_argument("metres", "the distance, 0 or more")
        .with_sql_example("SELECT count(*) FROM households h, pt_stops s WHERE ST_Contains(ST_Buffer(s.geometry, 500), ST_Point(h.home_lon, h.home_lat));")
        .build();
    simple(
        "st_buffer",
        vec![vec![Arg::Geom, Arg::Num]],
        DataType::Binary,
        doc,
        kernel,
    )
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    let (g, d) = (geom(&a[0])?, num(&a[1])?);
    let mut b = BinaryBuilder::with_capacity(g.len(), g.len() * 1024);
    for i in 0..g.len() {
        if g.is_null(i) || d.is_null(i) {
            b.append_null();
            continue;
        }
        let dist = d.value(i);
        if !(dist >= 0.0) {
            return exec_err!("st_buffer: distance {dist} m; expected 0 or more");
        }
        let geom = decode("st_buffer", 1, g.value(i))?;
        let Some(frame) = LocalFrame::around(&geom) else {
            b.append_null();
            continue;
        };
        let buffered = frame.to_xy(&geom).buffer(dist);
        let out = frame.to_lon_lat(&geo::Geometry::MultiPolygon(buffered));
        match mobility_geo::wkb::to_wkb(&out) {
            Ok(w) => b.append_value(w),
            Err(e) => return exec_err!("st_buffer: {e}"),
        }
    }
    Ok(arc(b.finish()))
}
