//! `distance_band(km)`: the trip-length band the indicators use.

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{Documentation, ScalarUDF};

use crate::udf::{Arg, DOMAIN, arc, num, simple};

/// The bands, in the data model since the report names them too.
use mobility_model::codes::DISTANCE_BANDS as BANDS;

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(DOMAIN, "The distance band of a trip length: 0-1, 1-2.5, 2.5-5, 5-10, 10-25, 25-50, 50+ km (lower bound included). 2.5 and 5 km are the short-car-trip thresholds.", "distance_band(km)")
        .with_argument("km", "a distance in km, 0 or more")
        .with_sql_example("SELECT distance_band(distance_km), count(*) FROM trips GROUP BY 1;")
        .build();
    simple(
        "distance_band",
        vec![vec![Arg::Num]],
        DataType::Utf8,
        doc,
        kernel,
    )
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    let km = num(&a[0])?;
    let mut out = Vec::with_capacity(km.len());
    for i in 0..km.len() {
        if km.is_null(i) || km.value(i).is_nan() {
            out.push(None);
            continue;
        }
        let v = km.value(i);
        if v < 0.0 {
            return exec_err!("distance_band: distance {v} km is negative; expected 0 or more");
        }
        out.push(BANDS.iter().find(|(hi, _)| v < *hi).map(|(_, l)| *l));
    }
    Ok(arc(StringArray::from(out)))
}
