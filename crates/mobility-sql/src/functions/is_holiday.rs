//! `is_holiday(date)`: whether a date is a Norwegian public holiday (`mobility_stats::calendar`).

use arrow::array::{ArrayRef, BooleanArray};
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};

use std::sync::Arc;

use mobility_stats::calendar::Calendar;

use crate::udf::{Arg, DOMAIN, Kernel, arc, date_values, with_kernel};

pub fn udf(calendar: Arc<Calendar>) -> ScalarUDF {
    let doc = Documentation::builder(
        DOMAIN,
        "Whether a date is a Norwegian public holiday: 1 January, Maundy Thursday, Good Friday, Easter Sunday and Monday, 1 May, 17 May, Ascension Day, Whit Sunday and Monday, 25 and 26 December; and the days of mobility.toml's holidays (the kommune's own).",
        "is_holiday(date)",
    )
    .with_argument("date", "a date (a timestamp is cast)")
    .with_sql_example("SELECT is_holiday(DATE '2024-05-17'); -- true")
    .build();
    let kernel = move |a: &[ArrayRef]| -> Result<ArrayRef> {
        Ok(arc(BooleanArray::from(date_values(&a[0], |d| {
            calendar.is_holiday(d)
        })?)))
    };
    with_kernel(
        "is_holiday",
        vec![vec![Arg::Date]],
        DataType::Boolean,
        doc,
        Kernel::Shared(Arc::new(kernel)),
    )
}
