//! `is_holiday(date)`: whether a date is a Norwegian public holiday (`mobility_stats::calendar`).

use arrow::array::{ArrayRef, BooleanArray};
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};

use crate::udf::{Arg, DOMAIN, arc, date_values, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(
        DOMAIN,
        "Whether a date is a Norwegian public holiday: 1 January, Maundy Thursday, Good Friday, Easter Sunday and Monday, 1 May, 17 May, Ascension Day, Whit Sunday and Monday, 25 and 26 December.",
        "is_holiday(date)",
    )
    .with_argument("date", "a date (a timestamp is cast)")
    .with_sql_example("SELECT is_holiday(DATE '2024-05-17'); -- true")
    .build();
    simple(
        "is_holiday",
        vec![vec![Arg::Date]],
        DataType::Boolean,
        doc,
        kernel,
    )
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    Ok(arc(BooleanArray::from(date_values(
        &a[0],
        mobility_stats::calendar::is_holiday,
    )?)))
}
