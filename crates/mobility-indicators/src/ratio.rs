//! Turns the per-stratum sums of a `kind: ratio` query into an indicator table: one row per
//! domain and key with estimate, SE, CI, n, n_eff, cv and the suppression flag.
//!
//! Input columns: `breakdown`, `breakdown_value`, any key columns (e.g. `mode`), `stratum`,
//! and the sums `n_d, sw, sw2, sw_y, sw_x, sw2_yy, sw2_xy, sw2_xx` ([`StratumSums`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use mobility_stats::{StratumSums, ratio_estimate};

use crate::{Error, Result};

const SUMS: &[&str] = &[
    "n_d", "sw", "sw2", "sw_y", "sw_x", "sw2_yy", "sw2_xy", "sw2_xx",
];

/// Suppression rule and CI level.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// CI level (0.95).
    pub level: f64,
    /// Cells with fewer persons are suppressed.
    pub min_n: u64,
    /// Cells with a larger coefficient of variation are suppressed.
    pub max_cv: f64,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            level: 0.95,
            min_n: 50,
            max_cv: 0.3,
        }
    }
}

/// The order breakdowns are listed in.
const ORDER: &[&str] = &[
    "all",
    "home_zone",
    "age_band",
    "gender",
    "employment",
    "purpose",
    "distance_band",
    "day_type",
];

/// Computes the indicator table. `n_h` holds the persons of each stratum in the whole sample.
pub fn finish(
    id: &str,
    unit: &str,
    batches: &[RecordBatch],
    n_h: &HashMap<String, u64>,
    rules: Rules,
) -> Result<RecordBatch> {
    let shape = |message: String| Error::Shape {
        id: id.to_string(),
        message,
    };
    let Some(first) = batches.first() else {
        return Err(shape("the query returned no rows".into()));
    };
    let schema = first.schema();
    let keys: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| {
            !SUMS.contains(&n.as_str())
                && !["breakdown", "breakdown_value", "stratum"].contains(&n.as_str())
        })
        .collect();
    for need in ["breakdown", "breakdown_value", "stratum"]
        .iter()
        .chain(SUMS)
    {
        if schema.field_with_name(need).is_err() {
            return Err(shape(format!("a ratio query must return column {need}")));
        }
    }
    // (breakdown, value, keys) -> per-stratum sums
    let mut cells: BTreeMap<
        (usize, String, Option<String>, Vec<Option<String>>),
        Vec<StratumSums>,
    > = BTreeMap::new();
    for b in batches {
        let text = |n: &str| -> Result<StringArray> {
            let c = arrow::compute::cast(b.column_by_name(n).expect("checked"), &DataType::Utf8)?;
            Ok(c.as_string::<i32>().clone())
        };
        let num = |n: &str| -> Result<Float64Array> {
            let c =
                arrow::compute::cast(b.column_by_name(n).expect("checked"), &DataType::Float64)?;
            Ok(c.as_primitive::<Float64Type>().clone())
        };
        let (bd, bv, st) = (
            text("breakdown")?,
            text("breakdown_value")?,
            text("stratum")?,
        );
        let ks: Vec<StringArray> = keys.iter().map(|k| text(k)).collect::<Result<_>>()?;
        let s: Vec<Float64Array> = SUMS.iter().map(|n| num(n)).collect::<Result<_>>()?;
        for i in 0..b.num_rows() {
            let breakdown = bd.value(i).to_string();
            let order = ORDER
                .iter()
                .position(|o| *o == breakdown)
                .unwrap_or(ORDER.len());
            let value = bv.is_valid(i).then(|| bv.value(i).to_string());
            let kv = ks
                .iter()
                .map(|k| k.is_valid(i).then(|| k.value(i).to_string()))
                .collect();
            let stratum = st.value(i);
            let v = |k: usize| if s[k].is_valid(i) { s[k].value(i) } else { 0.0 };
            let sums = StratumSums {
                n_h: n_h.get(stratum).copied().unwrap_or(0),
                n_d: v(0) as u64,
                sw: v(1),
                sw2: v(2),
                sw_y: v(3),
                sw_x: v(4),
                sw2_yy: v(5),
                sw2_xy: v(6),
                sw2_xx: v(7),
            };
            cells
                .entry((order, breakdown, value, kv))
                .or_default()
                .push(sums);
        }
    }
    let persons: u64 = n_h.values().sum();
    let df = persons.saturating_sub(n_h.len() as u64) as f64;
    let mut fields = vec![
        Field::new("breakdown", DataType::Utf8, false),
        Field::new("breakdown_value", DataType::Utf8, true),
    ];
    fields.extend(keys.iter().map(|k| Field::new(k, DataType::Utf8, true)));
    for (n, t, null) in [
        ("estimate", DataType::Float64, true),
        ("se", DataType::Float64, true),
        ("ci_lower", DataType::Float64, true),
        ("ci_upper", DataType::Float64, true),
        ("n", DataType::Int64, false),
        ("n_eff", DataType::Float64, false),
        ("cv", DataType::Float64, true),
        ("suppressed", DataType::Boolean, false),
        ("unit", DataType::Utf8, false),
    ] {
        fields.push(Field::new(n, t, null));
    }
    let mut bd = Vec::new();
    let mut bv = Vec::new();
    let mut kv: Vec<Vec<Option<String>>> = vec![Vec::new(); keys.len()];
    let (mut est, mut se, mut lo, mut hi, mut n, mut neff, mut cv, mut sup) = (
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    for ((_, b, v, k), strata) in cells {
        let e = ratio_estimate(&strata, rules.level, df);
        let finite = |x: f64| x.is_finite().then_some(x);
        bd.push(b);
        bv.push(v);
        for (col, val) in kv.iter_mut().zip(k) {
            col.push(val);
        }
        est.push(finite(e.estimate));
        se.push(finite(e.estimate).map(|_| e.se));
        lo.push(finite(e.ci_lower));
        hi.push(finite(e.ci_upper));
        n.push(e.n as i64);
        neff.push(e.n_eff);
        cv.push(finite(e.cv));
        sup.push(e.n < rules.min_n || !(e.cv <= rules.max_cv));
    }
    let rows = bd.len();
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(bd)),
        Arc::new(StringArray::from(bv)),
    ];
    cols.extend(
        kv.into_iter()
            .map(|c| Arc::new(StringArray::from(c)) as ArrayRef),
    );
    cols.extend([
        Arc::new(Float64Array::from(est)) as ArrayRef,
        Arc::new(Float64Array::from(se)),
        Arc::new(Float64Array::from(lo)),
        Arc::new(Float64Array::from(hi)),
        Arc::new(Int64Array::from(n)),
        Arc::new(Float64Array::from(neff)),
        Arc::new(Float64Array::from(cv)),
        Arc::new(BooleanArray::from(sup)),
        Arc::new(StringArray::from(vec![unit; rows])),
    ]);
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

/// Persons per stratum, from a `stratum, n` batch.
pub fn strata(batches: &[RecordBatch]) -> Result<HashMap<String, u64>> {
    let mut out = HashMap::new();
    for b in batches {
        let s = arrow::compute::cast(b.column(0), &DataType::Utf8)?;
        let n = arrow::compute::cast(b.column(1), &DataType::Int64)?;
        let (s, n) = (s.as_string::<i32>(), n.as_primitive::<Int64Type>());
        for i in 0..b.num_rows() {
            out.insert(s.value(i).to_string(), n.value(i) as u64);
        }
    }
    Ok(out)
}
