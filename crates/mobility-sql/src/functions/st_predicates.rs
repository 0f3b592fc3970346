//! `ST_Contains`, `ST_Within`, `ST_Intersects` on two geometries (OGC semantics, planar in
//! lon/lat): `ST_Contains(a, b)` is true when no point of b is outside a and some point of b
//! is in a's interior, so a point on a polygon's edge is *not* contained but does intersect.
//! A geometry argument that is the same for every row (a literal) is decoded once.

use arrow::array::{Array, ArrayRef, BooleanArray};
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::ColumnarValue;
use datafusion::logical_expr::{Documentation, ScalarUDF};
use geo::{Contains, Geometry, Intersects};

use crate::udf::{Arg, GEO, Kernel, arc, decode, geom, with_kernel};

fn doc(name: &str, what: &str, example: &str) -> Documentation {
    Documentation::builder(GEO, what.to_string(), format!("{name}(a, b)"))
        .with_argument("a", "a geometry (WKB)")
        .with_argument("b", "a geometry (WKB)")
        .with_sql_example(example.to_string())
        .build()
}

pub fn contains() -> ScalarUDF {
    with_kernel(
        "st_contains",
        vec![vec![Arg::Geom, Arg::Geom]],
        DataType::Boolean,
        doc(
            "ST_Contains",
            "True when geometry a contains b: no point of b lies outside a, and at least one lies in a's interior. A point on a polygon's boundary is not contained (use ST_Intersects to include it).",
            "SELECT z.zone_id, count(*) FROM trips t JOIN zones z ON ST_Contains(z.geometry, ST_Point(t.origin_lon, t.origin_lat)) GROUP BY 1;",
        ),
        Kernel::Values(|a, n| predicate("st_contains", a, n, |x, y| x.contains(y))),
    )
}

pub fn within() -> ScalarUDF {
    with_kernel(
        "st_within",
        vec![vec![Arg::Geom, Arg::Geom]],
        DataType::Boolean,
        doc(
            "ST_Within",
            "True when geometry a lies within b: ST_Within(a, b) = ST_Contains(b, a).",
            "SELECT ST_Within(ST_Point(10.5, 59.9), geometry) FROM zones;",
        ),
        Kernel::Values(|a, n| predicate("st_within", a, n, |x, y| y.contains(x))),
    )
}

pub fn intersects() -> ScalarUDF {
    with_kernel(
        "st_intersects",
        vec![vec![Arg::Geom, Arg::Geom]],
        DataType::Boolean,
        doc(
            "ST_Intersects",
            "True when geometries a and b share at least one point, boundaries included.",
            "SELECT count(*) FROM pt_stops s, zones z WHERE ST_Intersects(z.geometry, s.geometry);",
        ),
        Kernel::Values(|a, n| predicate("st_intersects", a, n, |x, y| x.intersects(y))),
    )
}

/// The geometries of a column: a scalar is decoded once, and a run of equal values in an array
/// (a polygon repeated against a batch of points, as a nested-loop join produces) too.
enum Decoded {
    Same(Option<Geometry<f64>>),
    Rows {
        geoms: Vec<Geometry<f64>>,
        row: Vec<Option<u32>>,
    },
}

impl Decoded {
    fn get(&self, i: usize) -> Option<&Geometry<f64>> {
        match self {
            Decoded::Same(g) => g.as_ref(),
            Decoded::Rows { geoms, row } => row[i].map(|k| &geoms[k as usize]),
        }
    }
}

fn decode_column(name: &str, arg: usize, v: &ColumnarValue) -> Result<Decoded> {
    match v {
        ColumnarValue::Scalar(s) => {
            let a = s.to_array_of_size(1)?;
            let g = geom(&a)?;
            Ok(Decoded::Same(if g.is_null(0) {
                None
            } else {
                Some(decode(name, arg, g.value(0))?)
            }))
        }
        ColumnarValue::Array(a) => {
            let g = geom(a)?;
            let mut geoms = Vec::new();
            let mut row = Vec::with_capacity(g.len());
            let mut last: Option<&[u8]> = None;
            for i in 0..g.len() {
                if g.is_null(i) {
                    row.push(None);
                    continue;
                }
                let bytes = g.value(i);
                if last != Some(bytes) {
                    geoms.push(decode(name, arg, bytes)?);
                    last = Some(bytes);
                }
                row.push(Some(geoms.len() as u32 - 1));
            }
            Ok(Decoded::Rows { geoms, row })
        }
    }
}

fn predicate(
    name: &str,
    a: &[ColumnarValue],
    n: usize,
    f: fn(&Geometry<f64>, &Geometry<f64>) -> bool,
) -> Result<ArrayRef> {
    let (x, y) = (
        decode_column(name, 1, &a[0])?,
        decode_column(name, 2, &a[1])?,
    );
    let out: BooleanArray = (0..n)
        .map(|i| match (x.get(i), y.get(i)) {
            (Some(p), Some(q)) => Some(f(p, q)),
            _ => None,
        })
        .collect();
    Ok(arc(out))
}
