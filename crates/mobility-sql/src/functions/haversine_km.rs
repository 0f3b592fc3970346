//! `haversine_km(lon1, lat1, lon2, lat2)`: great-circle distance on a sphere of the mean Earth
//! radius (6,371.0088 km, IUGG), as geo's `Haversine`.

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};
use geo::{Distance, Haversine};

use crate::udf::{Arg, GEO, point_pairs, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(GEO, "Great-circle distance in km between two lon/lat points (EPSG:4326) on a sphere of radius 6371.0088 km.", "haversine_km(lon1, lat1, lon2, lat2)")
        .with_argument("lon1, lat1", "first point, degrees")
        .with_argument("lon2, lat2", "second point, degrees")
        .with_sql_example("SELECT haversine_km(10.7522, 59.9139, 10.5279, 59.8897); -- Oslo to Sandvika, 12.7 km")
        .build();
    simple(
        "haversine_km",
        vec![vec![Arg::Num; 4]],
        DataType::Float64,
        doc,
        kernel,
    )
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    point_pairs(a, |p, q| Haversine.distance(p, q) / 1000.0)
}
