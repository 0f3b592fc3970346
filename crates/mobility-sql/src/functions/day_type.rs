//! `day_type(date)`: `holiday`, `weekend` or `weekday` (`mobility_stats::calendar`).

use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};

use std::sync::Arc;

use mobility_stats::calendar::Calendar;

use crate::udf::{Arg, DOMAIN, Kernel, arc, date_values, with_kernel};

pub fn udf(calendar: Arc<Calendar>) -> ScalarUDF {
    let doc = Documentation::builder(
        DOMAIN,
        "The day type of a date: 'holiday' (a Norwegian public holiday, or a day of mobility.toml's holidays, whatever the weekday), 'weekend' (Saturday, Sunday) or 'weekday'.",
        "day_type(date)",
    )
    .with_argument("date", "a date (a timestamp is cast)")
    .with_sql_example("SELECT day_type(DATE '2024-05-09'); -- holiday (Ascension Day)")
    .build();
    let kernel = move |a: &[ArrayRef]| -> Result<ArrayRef> {
        Ok(arc(StringArray::from(date_values(&a[0], |d| {
            calendar.day_type(d)
        })?)))
    };
    with_kernel(
        "day_type",
        vec![vec![Arg::Date]],
        DataType::Utf8,
        doc,
        Kernel::Shared(Arc::new(kernel)),
    )
}
