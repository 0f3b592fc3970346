//! `geodesic_km(lon1, lat1, lon2, lat2)`: distance on the WGS84 ellipsoid after Karney (2013),
//! as geo's `Geodesic` (GeographicLib).

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};
use geo::{Distance, Geodesic};

use crate::udf::{Arg, GEO, point_pairs, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(GEO, "Geodesic distance in km between two lon/lat points on the WGS84 ellipsoid (Karney 2013, GeographicLib).", "geodesic_km(lon1, lat1, lon2, lat2)")
        .with_argument("lon1, lat1", "first point, degrees")
        .with_argument("lon2, lat2", "second point, degrees")
        .with_sql_example("SELECT geodesic_km(10.7522, 59.9139, 10.5279, 59.8897); -- Oslo to Sandvika")
        .build();
    simple(
        "geodesic_km",
        vec![vec![Arg::Num; 4]],
        DataType::Float64,
        doc,
        kernel,
    )
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    point_pairs(a, |p, q| Geodesic.distance(p, q) / 1000.0)
}
