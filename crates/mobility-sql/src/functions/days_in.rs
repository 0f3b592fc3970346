//! `days_in(year, month, day_type)`: the days of a month (or of a year, month NULL) that are of
//! a day type, the N of an average's coverage and finite-population correction.

use arrow::array::{Array, ArrayRef, Int64Array};
use arrow::datatypes::DataType;
use chrono::NaiveDate;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{Documentation, ScalarUDF};

use std::sync::Arc;

use mobility_stats::calendar::Calendar;

use crate::udf::{Arg, DOMAIN, Kernel, arc, num, text, with_kernel};

pub fn udf(calendar: Arc<Calendar>) -> ScalarUDF {
    let doc = Documentation::builder(DOMAIN, "The number of days of a month (or of a whole year when month is NULL) of a day type, as day_type(date) gives it: 'all', 'weekday' (Monday to Friday except public holidays: trafikkdata.no's working days), 'weekend' (Saturday and Sunday except public holidays), 'holiday' (Norway's public holidays), or 'weekend_holiday' (weekend and holidays together).", "days_in(year, month, day_type)")
        .with_argument("year", "e.g. 2024")
        .with_argument("month", "1-12, or NULL for the whole year")
        .with_argument("day_type", "'all', 'weekday', 'weekend', 'holiday' or 'weekend_holiday'")
        .with_sql_example("SELECT days_in(2024, 5, 'weekday'), days_in(2024, 5, 'holiday'), days_in(2024, NULL, 'weekday');")
        .build();
    with_kernel(
        "days_in",
        vec![vec![Arg::Num, Arg::Num, Arg::Text]],
        DataType::Int64,
        doc,
        Kernel::Shared(Arc::new(move |a: &[ArrayRef]| kernel(a, &calendar))),
    )
}

/// The days of `year` (and `month`) of `day_type`, by `calendar`.
pub fn days_in(calendar: &Calendar, year: i32, month: Option<u32>, day_type: &str) -> Option<i64> {
    let (first, last) = match month {
        Some(m) => {
            let first = NaiveDate::from_ymd_opt(year, m, 1)?;
            let next = if m == 12 {
                NaiveDate::from_ymd_opt(year + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(year, m + 1, 1)?
            };
            (first, next)
        }
        None => (
            NaiveDate::from_ymd_opt(year, 1, 1)?,
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?,
        ),
    };
    Some(
        first
            .iter_days()
            .take_while(|d| *d < last)
            .filter(|d| match day_type {
                "all" => true,
                "weekend_holiday" => calendar.day_type(*d) != "weekday",
                t => calendar.day_type(*d) == t,
            })
            .count() as i64,
    )
}

/// The day types `days_in` knows.
const DAY_TYPES: [&str; 5] = ["all", "weekday", "weekend", "holiday", "weekend_holiday"];

fn kernel(a: &[ArrayRef], calendar: &Calendar) -> Result<ArrayRef> {
    let (y, m, t) = (num(&a[0])?, num(&a[1])?, text(&a[2])?);
    let mut out = Vec::with_capacity(y.len());
    // A batch holds few (year, month, day type)s, each counted once: the traffic views pass
    // `days_in` for every daily row, and counting a year's days for each of them was most of
    // the time of `traffic_adt`.
    let mut counted: std::collections::HashMap<(i32, Option<u32>, usize), Option<i64>> =
        std::collections::HashMap::new();
    for i in 0..y.len() {
        if y.is_null(i) || t.is_null(i) {
            out.push(None);
            continue;
        }
        let kind = t.value(i);
        let Some(k) = DAY_TYPES.iter().position(|d| *d == kind) else {
            return exec_err!(
                "days_in: day_type '{kind}' is not one of 'all', 'weekday', 'weekend', 'holiday', 'weekend_holiday'"
            );
        };
        let month = (!m.is_null(i)).then(|| m.value(i));
        if let Some(mv) = month.filter(|v| !(1.0..=12.0).contains(v) || v.fract() != 0.0) {
            return exec_err!("days_in: month {mv} is not 1-12 (or NULL for the year)");
        }
        let (year, month) = (y.value(i) as i32, month.map(|v| v as u32));
        out.push(
            *counted
                .entry((year, month, k))
                .or_insert_with(|| days_in(calendar, year, month, kind)),
        );
    }
    Ok(arc(Int64Array::from(out)))
}

#[cfg(test)]
mod tests {
    use super::Calendar;

    fn days_in(y: i32, m: Option<u32>, t: &str) -> Option<i64> {
        super::days_in(&Calendar::default(), y, m, t)
    }

    #[test]
    fn extra_holidays_of_the_kommune() {
        // Christmas Eve 2024 is a Tuesday: with it as the kommune's holiday, December has one
        // weekday less and one holiday more.
        let d = chrono::NaiveDate::from_ymd_opt(2024, 12, 24).unwrap();
        let c = Calendar::with_extra([d]);
        assert_eq!(super::days_in(&c, 2024, Some(12), "weekday"), Some(19));
        assert_eq!(days_in(2024, Some(12), "weekday"), Some(20));
        assert_eq!(super::days_in(&c, 2024, Some(12), "holiday"), Some(3));
    }

    /// With the counts kept per (year, month, day type), every row of a batch whose periods
    /// repeat still gets its own count, NULLs stay NULL, and a bad day type is still an error.
    #[test]
    fn kernel_gives_every_row_its_own_count_with_repeated_periods() {
        use arrow::array::{Array, AsArray, Float64Array, StringArray};
        use arrow::datatypes::Int64Type;
        use std::sync::Arc;
        let rows = [
            (Some(2024.0), Some(5.0), Some("weekday")),
            (Some(2024.0), None, Some("all")),
            (Some(2024.0), Some(5.0), Some("weekday")),
            (Some(2023.0), Some(2.0), Some("all")),
            (Some(2024.0), Some(5.0), Some("holiday")),
            (None, Some(5.0), Some("weekday")),
            (Some(2024.0), None, Some("all")),
            (Some(2024.0), Some(5.0), None),
        ];
        let y = Float64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>());
        let m = Float64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>());
        let t = StringArray::from(rows.iter().map(|r| r.2).collect::<Vec<_>>());
        let got = super::kernel(
            &[Arc::new(y), Arc::new(m), Arc::new(t)],
            &Calendar::default(),
        )
        .unwrap();
        let got = got.as_primitive::<Int64Type>();
        let want = [
            Some(19),
            Some(366),
            Some(19),
            Some(28),
            Some(5),
            None,
            Some(366),
            None,
        ];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(got.is_valid(i).then(|| got.value(i)), *w, "row {i}");
        }
        let bad = StringArray::from(vec!["weekday", "workday"]);
        let y = Float64Array::from(vec![2024.0, 2024.0]);
        let m = Float64Array::from(vec![5.0, 5.0]);
        let e = super::kernel(
            &[Arc::new(y), Arc::new(m), Arc::new(bad)],
            &Calendar::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("'workday'"), "{e}");
    }

    #[test]
    fn calendar() {
        assert_eq!(days_in(2024, Some(2), "all"), Some(29));
        assert_eq!(days_in(2023, Some(2), "all"), Some(28));
        // May 2024: Wednesday the 1st; 23 Monday–Fridays, of which 1, 9, 17 and 20 May are
        // holidays; 8 Saturday–Sundays, 19 May (Whit Sunday) a holiday.
        assert_eq!(days_in(2024, Some(5), "weekday"), Some(19));
        assert_eq!(days_in(2024, Some(5), "holiday"), Some(5));
        assert_eq!(days_in(2024, Some(5), "weekend"), Some(7));
        assert_eq!(days_in(2024, Some(5), "weekend_holiday"), Some(12));
        assert_eq!(days_in(2024, None, "all"), Some(366));
        assert_eq!(days_in(2024, Some(12), "all"), Some(31));
    }
}
