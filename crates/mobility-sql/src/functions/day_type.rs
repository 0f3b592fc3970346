//! `day_type(date)`: `holiday`, `weekend` or `weekday` (`mobility_stats::calendar`).

use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};

use crate::udf::{Arg, DOMAIN, arc, date_values, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(
        DOMAIN,
        "The day type of a date: 'holiday' (a Norwegian public holiday, whatever the weekday), 'weekend' (Saturday, Sunday) or 'weekday'.",
        "day_type(date)",
    )
    .with_argument("date", "a date (a timestamp is cast)")
    .with_sql_example("SELECT day_type(DATE '2024-05-09'); -- holiday (Ascension Day)")
    .build();
    simple(
        "day_type",
        vec![vec![Arg::Date]],
        DataType::Utf8,
        doc,
        kernel,
    )
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    Ok(arc(StringArray::from(date_values(
        &a[0],
        mobility_stats::calendar::day_type,
    )?)))
}
