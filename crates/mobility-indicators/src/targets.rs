//! The `targets` table: each target of the municipality beside its measured value, the CI
//! where the value is an estimate, the gap, and whether the target is met.
//!
//! Targets are data (`data/targets/baerum.toml` is built in). Each names where its measured
//! value comes from: a cell of an indicator (`indicator` + `key`, breakdown `all`) or a query
//! giving one number (`sql`, for figures that are data rather than survey estimates). A target
//! without either, or whose indicator did not run, is listed with the reason in `status`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Float64Type, Schema};
use datafusion::prelude::SessionContext;
use serde::Deserialize;

use crate::batches::{f64s, utf8, year_month};
use crate::{Error, Result};
use mobility_report::Decimal;

/// Bærum's targets.
pub const BAERUM: &str = include_str!("../../../data/targets/baerum.toml");

/// One target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub id: String,
    pub title: String,
    /// The title in Norwegian (bokmål), for the report.
    pub title_nb: Option<String>,
    pub value: f64,
    pub year: i64,
    /// `at_least` or `at_most`.
    pub direction: String,
    pub indicator: Option<String>,
    #[serde(default)]
    pub key: BTreeMap<String, String>,
    pub sql: Option<String>,
    /// A rolling index table (e.g. `bike_traffic_index_rolling`) whose latest, longest window
    /// over all points is set beside the measured value as a count-based trend.
    pub trend: Option<String>,
    pub source: String,
    pub note: Option<String>,
    /// The note in Norwegian (bokmål), for the report.
    pub note_nb: Option<String>,
    /// How value and measured value read: `share` (a fraction, shown in percent), `percent`
    /// (already in percent, as the traffic index), or a unit written after the number (`t`).
    /// Absent: a share where |value| ≤ 1, else a plain number.
    pub unit: Option<String>,
}

impl Target {
    /// [`Target::unit`] with its default.
    pub fn unit(&self) -> &str {
        match &self.unit {
            Some(u) => u,
            None if self.value.abs() <= 1.0 => "share",
            None => "",
        }
    }
}

/// Whether a target is met, as a code a program can match (`status_code`); `status` and
/// `status_nb` say it in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The whole CI (or the value, without one) is on the target's side.
    Met,
    /// The whole CI is on the wrong side.
    NotMet,
    /// The CI includes the target.
    Uncertain,
    /// No measured value.
    NotMeasured,
}

impl Status {
    /// Whether `t` is met by its measured value `m`: met when the whole CI (or the value,
    /// without one) is on the target's side, not met when all of it is on the other.
    fn of(t: &Target, m: &Measured) -> Self {
        let Ok((v, ci)) = m else {
            return Status::NotMeasured;
        };
        let (lo, hi) = ci.unwrap_or((*v, *v));
        let (good_all, bad_all) = if t.direction == "at_least" {
            (lo >= t.value, hi < t.value)
        } else {
            (hi <= t.value, lo > t.value)
        };
        match (good_all, bad_all) {
            (true, _) => Status::Met,
            (_, true) => Status::NotMet,
            _ => Status::Uncertain,
        }
    }

    /// The `status` column: in words, with why a value is missing.
    fn english(self, m: &Measured) -> String {
        match (self, m) {
            (_, Err(why)) => format!("not measured: {why}"),
            (Status::Met, _) => "met".to_string(),
            (Status::NotMet, _) => "not met".to_string(),
            _ => "the CI includes the target".to_string(),
        }
    }

    /// The `status_nb` column, for the report.
    fn bokmal(self, t: &Target) -> String {
        match self {
            Status::NotMeasured => format!(
                "ikke målt: {}",
                t.note_nb
                    .clone()
                    .unwrap_or_else(|| "ingen verdi i denne kjøringen".into())
            ),
            Status::Met => "nådd".into(),
            Status::NotMet => "ikke nådd".into(),
            Status::Uncertain => "usikkert: KI omfatter målet".into(),
        }
    }

    /// `met`, `not_met`, `uncertain` or `not_measured`.
    pub fn code(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::NotMet => "not_met",
            Status::Uncertain => "uncertain",
            Status::NotMeasured => "not_measured",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    target: Vec<Target>,
}

/// Parses a targets file.
pub fn parse(text: &str) -> Result<Vec<Target>> {
    let f: File = toml::from_str(text).map_err(|e| Error::Targets(e.to_string()))?;
    for t in &f.target {
        if t.direction != "at_least" && t.direction != "at_most" {
            return Err(Error::Targets(format!(
                "target {}: direction is '{}', expected at_least or at_most",
                t.id, t.direction
            )));
        }
    }
    Ok(f.target)
}

/// A measured value with its CI, or why there is none.
type Measured = std::result::Result<(f64, Option<(f64, f64)>), String>;

/// The measured value of a target: estimate and CI, or the reason there is none.
fn measured(t: &Target, outputs: &HashMap<String, RecordBatch>) -> Measured {
    let Some(id) = &t.indicator else {
        return Err(t
            .note
            .clone()
            .unwrap_or_else(|| "no source of the measured value".into()));
    };
    let Some(b) = outputs.get(id) else {
        return Err(format!("indicator {id} did not run"));
    };
    let text = |n: &str| utf8(b, n);
    let num = |n: &str| f64s(b, n);
    let (Some(bd), Some(est), Some(lo), Some(hi)) = (
        text("breakdown"),
        num("estimate"),
        num("ci_lower"),
        num("ci_upper"),
    ) else {
        return Err(format!("indicator {id} has no estimate column"));
    };
    let keys: Vec<(arrow::array::StringArray, &String)> = t
        .key
        .iter()
        .map(|(k, v)| {
            text(k)
                .map(|c| (c, v))
                .ok_or(format!("indicator {id} has no column {k}"))
        })
        .collect::<std::result::Result<_, _>>()?;
    for i in 0..b.num_rows() {
        if bd.value(i) == "all"
            && keys
                .iter()
                .all(|(c, v)| c.is_valid(i) && c.value(i) == v.as_str())
            && est.is_valid(i)
        {
            let ci = (lo.is_valid(i) && hi.is_valid(i)).then(|| (lo.value(i), hi.value(i)));
            return Ok((est.value(i), ci));
        }
    }
    Err(format!("indicator {id} has no cell for {:?}", t.key))
}

/// A count-based trend beside a target: the rolling index of all points in the latest and
/// longest window, with its CI and a sentence saying what it is, in English and in bokmål.
type Trend = Option<(f64, f64, f64, String, String)>;

fn trend(t: &Target, outputs: &HashMap<String, RecordBatch>) -> Trend {
    let b = outputs.get(t.trend.as_ref()?)?;
    let (subset, window, last, reference, index, lo, hi, n) = (
        utf8(b, "subset")?,
        utf8(b, "window")?,
        utf8(b, "last_month")?,
        utf8(b, "reference_year")?,
        f64s(b, "index_p")?,
        f64s(b, "ci_lower")?,
        f64s(b, "ci_upper")?,
        f64s(b, "n_trp")?,
    );
    let months = |i: usize| -> u32 {
        window
            .value(i)
            .trim_end_matches("_months")
            .parse()
            .unwrap_or(0)
    };
    let i = (0..b.num_rows())
        .filter(|&i| subset.value(i) == "all points" && index.is_valid(i))
        .max_by(|&a, &c| (last.value(a), months(a)).cmp(&(last.value(c), months(c))))?;
    let month = year_month(last.value(i)).unwrap_or("?");
    let text = format!(
        "counting points: {:+.1} % (CI {:+.1} to {:+.1}) in the {} months to {month} against {}, {} point(s)",
        index.value(i),
        lo.value(i),
        hi.value(i),
        months(i),
        reference.value(i),
        n.value(i)
    );
    let signed = |v: f64| {
        let plus = if v >= 0.0 { "+" } else { "" };
        format!("{plus}{}", Decimal::Comma.num(v, 1))
    };
    let text_nb = format!(
        "tellepunkter: {} % (KI {} til {}) de {} månedene til {month} mot {}, {} punkt(er)",
        signed(index.value(i)),
        signed(lo.value(i)),
        signed(hi.value(i)),
        months(i),
        reference.value(i),
        n.value(i)
    );
    Some((index.value(i), lo.value(i), hi.value(i), text, text_nb))
}

/// The one number a target's `sql` gives, or why there is none.
async fn measured_by_sql(ctx: &SessionContext, sql: &str) -> Measured {
    let batches = match ctx.sql(sql).await {
        Ok(df) => df.collect().await,
        Err(e) => Err(e),
    }
    .map_err(|e| format!("query failed: {e}"))?;
    batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .and_then(|b| arrow::compute::cast(b.column(0), &DataType::Float64).ok())
        .and_then(|c| {
            let c = c.as_primitive::<Float64Type>();
            c.is_valid(0).then(|| (c.value(0), None))
        })
        .ok_or_else(|| "the query gave no value".to_string())
}

/// The targets table.
pub async fn evaluate(
    ctx: &SessionContext,
    targets: &[Target],
    outputs: &HashMap<String, RecordBatch>,
) -> Result<RecordBatch> {
    let mut rows = Vec::new();
    for t in targets {
        let m = match &t.sql {
            Some(sql) => measured_by_sql(ctx, sql).await,
            None => measured(t, outputs),
        };
        rows.push((t, m));
    }
    // Each target's status, once; the three status columns say it three ways.
    let statuses: Vec<Status> = rows.iter().map(|(t, m)| Status::of(t, m)).collect();
    let ok = |m: &Measured| m.as_ref().ok().copied();
    let schema = Schema::new(vec![
        Field::new("target", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("title_nb", DataType::Utf8, true),
        Field::new("year", DataType::Int64, false),
        Field::new("target_value", DataType::Float64, false),
        Field::new("measured", DataType::Float64, true),
        Field::new("ci_lower", DataType::Float64, true),
        Field::new("ci_upper", DataType::Float64, true),
        Field::new("gap", DataType::Float64, true),
        Field::new("status", DataType::Utf8, false),
        Field::new("status_nb", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("trend_index_p", DataType::Float64, true),
        Field::new("trend_ci_lower", DataType::Float64, true),
        Field::new("trend_ci_upper", DataType::Float64, true),
        Field::new("trend", DataType::Utf8, true),
        Field::new("status_code", DataType::Utf8, false),
        Field::new("unit", DataType::Utf8, false),
        Field::new("trend_nb", DataType::Utf8, true),
    ]);
    let trends: Vec<Trend> = rows.iter().map(|(t, _)| trend(t, outputs)).collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|(t, _)| t.id.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|(t, _)| t.title.as_str()),
        )),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|(t, _)| t.title_nb.as_deref()),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|(t, _)| t.year),
        )),
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|(t, _)| t.value),
        )),
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|(_, m)| ok(m).map(|m| m.0)),
        )),
        Arc::new(Float64Array::from_iter(
            rows.iter()
                .map(|(_, m)| ok(m).and_then(|m| m.1).map(|c| c.0)),
        )),
        Arc::new(Float64Array::from_iter(
            rows.iter()
                .map(|(_, m)| ok(m).and_then(|m| m.1).map(|c| c.1)),
        )),
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|(t, m)| ok(m).map(|m| m.0 - t.value)),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().zip(&statuses).map(|((_, m), s)| s.english(m)),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().zip(&statuses).map(|((t, _), s)| s.bokmal(t)),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|(t, _)| t.source.as_str()),
        )),
        Arc::new(Float64Array::from_iter(
            trends.iter().map(|t| t.as_ref().map(|t| t.0)),
        )),
        Arc::new(Float64Array::from_iter(
            trends.iter().map(|t| t.as_ref().map(|t| t.1)),
        )),
        Arc::new(Float64Array::from_iter(
            trends.iter().map(|t| t.as_ref().map(|t| t.2)),
        )),
        Arc::new(StringArray::from_iter(
            trends.iter().map(|t| t.as_ref().map(|t| t.3.as_str())),
        )),
        Arc::new(StringArray::from_iter_values(
            statuses.iter().map(|s| s.code()),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|(t, _)| t.unit()),
        )),
        Arc::new(StringArray::from_iter(
            trends.iter().map(|t| t.as_ref().map(|t| t.4.as_str())),
        )),
    ];
    Ok(RecordBatch::try_new(Arc::new(schema), cols)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_targets_parse() {
        let t = parse(BAERUM).unwrap();
        assert!(
            t.iter()
                .any(|t| t.id == "sustainable_share" && t.value == 0.60)
        );
        assert!(
            t.iter()
                .any(|t| t.id == "bike_share"
                    && t.key.get("mode").map(String::as_str) == Some("bike"))
        );
        let err =
            parse("[[target]]\nid='x'\ntitle='x'\nvalue=1\nyear=2030\ndirection='up'\nsource='s'")
                .unwrap_err();
        assert!(err.to_string().contains("direction is 'up'"), "{err}");
    }

    #[test]
    fn units_default_to_a_share_up_to_one_and_the_traffic_index_is_in_percent() {
        let t = parse(BAERUM).unwrap();
        let unit = |id: &str| t.iter().find(|t| t.id == id).unwrap().unit().to_string();
        assert_eq!(unit("sustainable_share"), "share");
        assert_eq!(unit("direct_emissions_vs_2009"), "share");
        assert_eq!(unit("zero_growth_car_traffic"), "percent");
        let own = parse(
            "[[target]]\nid='t'\ntitle='t'\nvalue=120000\nyear=2030\ndirection='at_most'\nsource='s'\n\
             [[target]]\nid='u'\ntitle='u'\nvalue=50\nyear=2030\ndirection='at_most'\nsource='s'\nunit='t CO2e'",
        )
        .unwrap();
        assert_eq!(own[0].unit(), "");
        assert_eq!(own[1].unit(), "t CO2e");
    }
}
