//! The cells of an indicator table as the report reads them.

use arrow::array::{Array, AsArray};
use mobility_model::columns::{f64s, utf8};

use crate::Tables;

/// One cell of an indicator table.
pub(crate) struct Cell {
    /// `breakdown_value`.
    pub value: Option<String>,
    /// The key column asked for (`mode`, `measure`), when asked.
    pub key: Option<String>,
    pub est: f64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub suppressed: bool,
}

/// The cells of `breakdown` of indicator `id` with an estimate, keyed by `key` (a column)
/// when given; none when the run has no such table.
pub(crate) fn cells(tables: &Tables, id: &str, breakdown: &str, key: Option<&str>) -> Vec<Cell> {
    let Some(b) = tables.get(id) else {
        return vec![];
    };
    let (Some(bd), Some(bv), Some(est)) = (
        utf8(b, "breakdown"),
        utf8(b, "breakdown_value"),
        f64s(b, "estimate"),
    ) else {
        return vec![];
    };
    let (lo, hi) = (f64s(b, "ci_lower"), f64s(b, "ci_upper"));
    let k = key.and_then(|k| utf8(b, k));
    let sup = b
        .column_by_name("suppressed")
        .map(|c| c.as_boolean().clone());
    (0..b.num_rows())
        .filter(|&i| bd.value(i) == breakdown && est.is_valid(i))
        .map(|i| Cell {
            value: bv.is_valid(i).then(|| bv.value(i).to_string()),
            key: k
                .as_ref()
                .and_then(|k| k.is_valid(i).then(|| k.value(i).to_string())),
            est: est.value(i),
            lo: lo.as_ref().and_then(|a| a.is_valid(i).then(|| a.value(i))),
            hi: hi.as_ref().and_then(|a| a.is_valid(i).then(|| a.value(i))),
            suppressed: sup.as_ref().is_some_and(|s| s.value(i)),
        })
        .collect()
}
