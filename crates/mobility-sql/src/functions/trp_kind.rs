//! `trp_kind(trp_id)`: whether a traffic registration point counts vehicles or bicycles, from
//! its id: Statens vegvesen's ids are digits, `V` (vehicle) or `B` (bicycle), digits
//! (`00492V443603`, `12345B613537`).

use arrow::array::{Array, ArrayRef, StringArray};
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{Documentation, ScalarUDF};

use crate::udf::{Arg, DOMAIN, arc, simple, text};

/// `vehicle`, `bicycle`, or `None` for an id of another form.
pub fn kind(id: &str) -> Option<&'static str> {
    let rest = id.trim_start_matches(|c: char| c.is_ascii_digit());
    if rest.len() == id.len() {
        return None;
    }
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if rest.strip_prefix('V').is_some_and(digits) {
        Some("vehicle")
    } else if rest.strip_prefix('B').is_some_and(digits) {
        Some("bicycle")
    } else {
        None
    }
}

pub fn udf() -> ScalarUDF {
    let doc = Documentation::builder(
        DOMAIN,
        "What a traffic registration point counts, from its id: 'vehicle' (digits, V, digits) or 'bicycle' (digits, B, digits); NULL for an id of another form.",
        "trp_kind(trp_id)",
    )
    .with_argument("trp_id", "a registration point id, e.g. '00492V443603'")
    .with_sql_example("SELECT trp_kind('00492V443603'), trp_kind('12345B613537'); -- vehicle, bicycle")
    .build();
    simple(
        "trp_kind",
        vec![vec![Arg::Text]],
        DataType::Utf8,
        doc,
        kernel,
    )
}

fn kernel(a: &[ArrayRef]) -> Result<ArrayRef> {
    let t = text(&a[0])?;
    Ok(arc(StringArray::from_iter((0..t.len()).map(|i| {
        if t.is_null(i) { None } else { kind(t.value(i)) }
    }))))
}

#[cfg(test)]
mod tests {
    use super::kind;

    #[test]
    fn kinds_from_ids() {
        assert_eq!(kind("00492V443603"), Some("vehicle"));
        assert_eq!(kind("17949B613537"), Some("bicycle"));
        for other in [
            "", "V1", "123", "123X45", "123B", "123B4x", "123Ø45", "12ØB45",
        ] {
            assert_eq!(kind(other), None, "{other}");
        }
    }
}
