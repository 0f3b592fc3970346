//! `calendar_day_class(date)` and `working_day_weight(month)`: the day classes and month
//! weights of Statens vegvesen's calendar-adjusted MDT (`mobility_stats::calendar`).

use arrow::array::{Array, ArrayRef, Float64Array, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{Documentation, ScalarUDF};
use mobility_stats::calendar::{WORKING_DAY_WEIGHTS, svv_day_class};

use crate::udf::{Arg, DOMAIN, arc, date_values, num, simple};

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(
        DOMAIN,
        "The class of a day in Statens vegvesen's calendar-adjusted MDT: 'easter' (the Friday before Palm Sunday to Easter Monday), 'whitsun' (the Friday before Whit Sunday to Whit Monday), 'non_working' (Saturday, Sunday, 1 January, 1 May, 17 May, Ascension Day, 24-26 and 31 December) or 'working'.",
        "calendar_day_class(date)",
    )
    .with_argument("date", "a date (a timestamp is cast)")
    .with_sql_example("SELECT calendar_day_class(DATE '2024-05-17'); -- whitsun")
    .build();
    simple(
        "calendar_day_class",
        vec![vec![Arg::Date]],
        DataType::Utf8,
        doc,
        |a| Ok(arc(StringArray::from(date_values(&a[0], svv_day_class)?))),
    )
}

pub fn weight() -> ScalarUDF {
    let doc = Documentation::builder(
        DOMAIN,
        "Statens vegvesen's weight of the working days in a month's calendar-adjusted MDT: the long-run share of working days in the month (Easter and Whitsun days taken out), e.g. 0.6516 for May.",
        "working_day_weight(month)",
    )
    .with_argument("month", "1-12")
    .with_sql_example("SELECT working_day_weight(5); -- 0.6516")
    .build();
    simple(
        "working_day_weight",
        vec![vec![Arg::Num]],
        DataType::Float64,
        doc,
        weight_kernel,
    )
}

fn weight_kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    let m = num(&a[0])?;
    let mut out = Vec::with_capacity(m.len());
    for i in 0..m.len() {
        if m.is_null(i) {
            out.push(None);
            continue;
        }
        let v = m.value(i);
        if !(1.0..=12.0).contains(&v) || v.fract() != 0.0 {
            return exec_err!("working_day_weight: month {v} is not 1-12");
        }
        out.push(Some(WORKING_DAY_WEIGHTS[v as usize - 1]));
    }
    Ok(arc(Float64Array::from(out)))
}
