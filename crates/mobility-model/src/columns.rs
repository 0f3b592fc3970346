//! Reading a batch's columns by name, whatever type the query gave them: what the run, the
//! traffic indices, the targets and the report read from query results and output tables.

use arrow::array::{AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};

/// Column `name` as text (any type cast), if the batch has it.
pub fn utf8(b: &RecordBatch, name: &str) -> Option<StringArray> {
    let c = arrow::compute::cast(b.column_by_name(name)?, &DataType::Utf8).ok()?;
    Some(c.as_string::<i32>().clone())
}

/// Column `name` as DOUBLE, if the batch has it.
pub fn f64s(b: &RecordBatch, name: &str) -> Option<Float64Array> {
    let c = arrow::compute::cast(b.column_by_name(name)?, &DataType::Float64).ok()?;
    Some(c.as_primitive::<Float64Type>().clone())
}

/// Column `name` as BIGINT, if the batch has it.
pub fn i64s(b: &RecordBatch, name: &str) -> Option<Int64Array> {
    let c = arrow::compute::cast(b.column_by_name(name)?, &DataType::Int64).ok()?;
    Some(c.as_primitive::<Int64Type>().clone())
}

/// `YYYY-MM` of an ISO date (`2024-05-01`); `None` for anything else.
///
/// ```
/// use mobility_model::columns::year_month;
/// assert_eq!(year_month("2024-05-01"), Some("2024-05"));
/// assert_eq!(year_month("1.5.2024"), None);
/// ```
pub fn year_month(date: &str) -> Option<&str> {
    let ym = date.get(..7)?;
    let b = ym.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (digits(0..4) && b[4] == b'-' && digits(5..7)).then_some(ym)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_come_from_iso_dates_only() {
        assert_eq!(year_month("2024-05-01"), Some("2024-05"));
        assert_eq!(year_month("2024-05"), Some("2024-05"));
        for bad in [
            "",
            "2024",
            "2024/05/01",
            "mai 2024",
            "2024-5-01",
            "ø2024-05",
        ] {
            assert_eq!(year_month(bad), None, "{bad}");
        }
    }
}
