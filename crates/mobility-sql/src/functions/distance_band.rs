//! `distance_band(km)`: the trip-length band the indicators use.

use arrow::array::NullBufferBuilder;
use arrow::array::{Array, ArrayRef, StringArray};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
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

/// The band of each length, its text written straight into the array's buffers (the
/// indicators' queries call it for every trip, a dozen times a run: an `Option<&str>` per
/// row collected through a builder took 3 % of a run's CPU).
fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    let km = num(&a[0])?;
    let n = km.len();
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0i32);
    let mut text = Vec::with_capacity(n * 8);
    let mut valid = NullBufferBuilder::new(n);
    for (i, &v) in km.values().iter().enumerate() {
        match band(km.is_valid(i).then_some(v))? {
            Some(label) => {
                text.extend_from_slice(label.as_bytes());
                valid.append_non_null();
            }
            None => valid.append_null(),
        }
        let Ok(end) = i32::try_from(text.len()) else {
            return exec_err!("distance_band: more than 2 GiB of text in one batch");
        };
        offsets.push(end);
    }
    let array = StringArray::try_new(
        OffsetBuffer::new(ScalarBuffer::from(offsets)),
        Buffer::from_vec(text),
        valid.finish(),
    )?;
    Ok(arc(array))
}

/// The band of one length: NULL for NULL or NaN, an error for a negative length.
fn band(km: Option<f64>) -> Result<Option<&'static str>> {
    match km {
        Some(v) if v < 0.0 => {
            exec_err!("distance_band: distance {v} km is negative; expected 0 or more")
        }
        Some(v) if !v.is_nan() => Ok(BANDS.iter().find(|(hi, _)| v < *hi).map(|(_, l)| *l)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Float64Array;

    /// The array built from its buffers equals one collected row by row from `band`.
    #[test]
    fn the_kernel_equals_a_band_per_row() {
        let mut values: Vec<Option<f64>> = vec![
            None,
            Some(f64::NAN),
            Some(f64::INFINITY),
            Some(0.0),
            Some(1.0),
            Some(2.5),
            Some(4.999),
        ];
        // A spread of lengths, 0 to 80 km.
        values.extend((0..2_000).map(|i| Some((i as f64 * 0.618_034).fract() * 80.0)));
        let km: ArrayRef = std::sync::Arc::new(Float64Array::from(values.clone()));
        let got = kernel(&[km]).unwrap();
        let want: StringArray = values.iter().map(|v| band(*v).unwrap()).collect();
        assert_eq!(got.as_ref(), &want as &dyn Array);
        // NULL, NaN and an infinite length (no band below it) have no band.
        assert_eq!(want.null_count(), 3);
        let km: ArrayRef = std::sync::Arc::new(Float64Array::from(vec![1.0, -0.5]));
        assert!(kernel(&[km]).is_err());
    }
}
