//! The traffic-index indicators: `traffic_index_yearly` (area index between consecutive
//! years, chained from the first), `traffic_index_rolling` (12-, 24- and 36-month rolling MDT
//! index against a reference year) and `nullvekst` (does the latest rolling index's CI lie
//! above zero, contain it or lie below). Methods: ../shared/DOMAIN.md §2.4, docs/traffic.md.
//!
//! Every row is computed by mobility from the counting points of the data directory, for all
//! of them (`subset` = `all points`) and for the points of each municipality; `official` is
//! false throughout: Statens vegvesen's published byindeks uses its own selection of points.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;
use mobility_model::Table;
use mobility_stats::traffic::{AreaSums, chain, nullvekst, reference_mean, window_mean};

use crate::Result;
use crate::batches::{collect, f64s, i64s, need, utf8};

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "mai", "jun", "jul", "aug", "sep", "okt", "nov", "des",
];

/// The points of each subset: every point, and the points in each municipality when zones
/// of kind `kommune` and the points' coordinates are there.
fn subsets_sql(present: &[Table], counted: Counted) -> String {
    let filter = |col: &str| match counted {
        // Vehicle indices leave bicycle points out explicitly (an id of another form stays).
        Counted::Vehicles => format!("trp_kind({col}) IS DISTINCT FROM 'bicycle'"),
        Counted::Bicycles => format!("trp_kind({col}) = 'bicycle'"),
    };
    let mut sql = format!(
        "SELECT DISTINCT trp_id, 'all points' AS subset FROM traffic_hourly WHERE {}",
        filter("trp_id")
    );
    if present.contains(&Table::TrafficPoints) && present.contains(&Table::Zones) {
        sql.push_str(&format!(
            " UNION ALL SELECT p.trp_id, 'kommune ' || z.zone_id || COALESCE(' ' || z.name, '') \
             FROM traffic_points p JOIN zones z ON z.zone_id = zone_of(p.lon, p.lat, 'kommune') WHERE {}",
            filter("p.trp_id")
        ));
    }
    sql
}

/// What the points of an index count (`trp_kind(trp_id)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Motor vehicles: the light vehicles (< 5.6 m) of vehicle points.
    Vehicles,
    /// Bicycles: every bicycle a bicycle point counts.
    Bicycles,
}

/// Column `i` of one of our own queries, as text, BIGINT or DOUBLE.
fn text(b: &RecordBatch, i: usize) -> Result<StringArray> {
    need(
        utf8(b, b.schema().field(i).name()),
        "traffic index",
        b.schema().field(i).name(),
    )
}

fn int(b: &RecordBatch, i: usize) -> Result<Int64Array> {
    need(
        i64s(b, b.schema().field(i).name()),
        "traffic index",
        b.schema().field(i).name(),
    )
}

fn float(b: &RecordBatch, i: usize) -> Result<Float64Array> {
    need(
        f64s(b, b.schema().field(i).name()),
        "traffic index",
        b.schema().field(i).name(),
    )
}

fn f(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// One index row before it becomes a table.
struct IndexRow {
    subset: String,
    cols: Vec<(&'static str, Option<String>)>,
    index: Option<mobility_stats::traffic::AreaIndex>,
    extra: Vec<(&'static str, Option<f64>)>,
}

fn table(rows: &[IndexRow]) -> Result<RecordBatch> {
    let mut fields = vec![
        Field::new("subset", DataType::Utf8, false),
        Field::new("official", DataType::Boolean, false),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.subset.as_str()),
        )),
        Arc::new(BooleanArray::from(vec![false; rows.len()])),
    ];
    if let Some(first) = rows.first() {
        for (k, (name, _)) in first.cols.iter().enumerate() {
            fields.push(Field::new(*name, DataType::Utf8, true));
            cols.push(Arc::new(StringArray::from_iter(
                rows.iter().map(|r| r.cols[k].1.clone()),
            )));
        }
    }
    let idx = |g: fn(&mobility_stats::traffic::AreaIndex) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|r| r.index.as_ref().and_then(|a| f(g(a)))),
        ))
    };
    for (name, a) in [
        ("index_p", idx(|a| a.index_p)),
        ("n_eff", idx(|a| a.n_eff)),
        ("sd_p", idx(|a| a.sd_p)),
        ("se_p", idx(|a| a.se_p)),
        ("ci_lower", idx(|a| a.ci_lower)),
        ("ci_upper", idx(|a| a.ci_upper)),
    ] {
        fields.push(Field::new(name, DataType::Float64, true));
        cols.push(a);
    }
    fields.push(Field::new("n_trp", DataType::Int64, false));
    cols.push(Arc::new(Int64Array::from_iter_values(
        rows.iter()
            .map(|r| r.index.map_or(0, |a| i64::from(a.n_trp))),
    )));
    if let Some(first) = rows.first() {
        for (k, (name, _)) in first.extra.iter().enumerate() {
            fields.push(Field::new(*name, DataType::Float64, true));
            cols.push(Arc::new(Float64Array::from_iter(
                rows.iter().map(|r| r.extra[k].1),
            )));
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

/// How the traffic indices are computed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum IndexMethod {
    /// The rolling index from the MDT of all days (`traffic_mdt`), the yearly one from the
    /// hour-matched point indices (`traffic_point_index`).
    #[default]
    Classic,
    /// Both from Statens vegvesen's calendar-adjusted MDT (`traffic_mdt_calendar`, light
    /// vehicles, rounded to 10 as published): the yearly index over the months both years
    /// have.
    Calendar,
}

impl IndexMethod {
    /// From `classic` or `calendar`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "classic" => Some(Self::Classic),
            "calendar" => Some(Self::Calendar),
            _ => None,
        }
    }

    /// The name, as parsed.
    pub fn name(self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Calendar => "calendar",
        }
    }
}

/// `traffic_index_yearly`: per subset and pair of consecutive years, the area index of the
/// points' light-vehicle point indices (`traffic_point_index`), and the index chained from the
/// first base year with the product variance (CI ± 1.96 SE, as Statens vegvesen's chained
/// figures). `period` is `jan-<last month>`: short of December, a year-to-date index.
pub async fn index_yearly(
    ctx: &SessionContext,
    present: &[Table],
    method: IndexMethod,
) -> Result<RecordBatch> {
    // One row per point: two points with equal volumes are two points.
    let sql = match method {
        IndexMethod::Classic => format!(
            "SELECT s.subset, i.base_year, i.calc_year, max(i.last_month) AS last_month, \
             i.base_volume, i.calc_volume \
             FROM traffic_point_index i JOIN ({}) s ON s.trp_id = i.trp_id \
             GROUP BY s.subset, i.trp_id, 2, 3, 5, 6",
            subsets_sql(present, Counted::Vehicles)
        ),
        // The months both years have a calendar-adjusted MDT, summed.
        IndexMethod::Calendar => format!(
            "SELECT s.subset, b.year AS base_year, c.year AS calc_year, max(b.month) AS last_month, \
             sum(b.mdt_lt_5_6m_rounded) AS base_volume, sum(c.mdt_lt_5_6m_rounded) AS calc_volume \
             FROM traffic_mdt_calendar b \
             JOIN traffic_mdt_calendar c ON c.trp_id = b.trp_id AND c.year = b.year + 1 AND c.month = b.month \
             JOIN ({}) s ON s.trp_id = b.trp_id \
             WHERE b.period = 'month' AND c.period = 'month' \
             AND b.mdt_lt_5_6m_rounded IS NOT NULL AND c.mdt_lt_5_6m_rounded IS NOT NULL \
             GROUP BY s.subset, b.trp_id, b.year, c.year",
            subsets_sql(present, Counted::Vehicles)
        ),
    };
    let batches = collect(ctx, "traffic_index_yearly", &sql).await?;
    // (subset, base, calc) → sums and the last month.
    let mut groups: BTreeMap<(String, i64, i64), (AreaSums, i64)> = BTreeMap::new();
    for b in &batches {
        let (s, by, cy, lm, bv, cv) = (
            text(b, 0)?,
            int(b, 1)?,
            int(b, 2)?,
            int(b, 3)?,
            float(b, 4)?,
            float(b, 5)?,
        );
        for i in 0..b.num_rows() {
            let e = groups
                .entry((s.value(i).to_string(), by.value(i), cy.value(i)))
                .or_default();
            e.0.add(bv.value(i), cv.value(i));
            e.1 = e.1.max(lm.value(i));
        }
    }
    let mut rows = Vec::new();
    // subset → (chained from, the calc year reached, index, SE). A chain links only
    // consecutive years: after a missing pair of years it starts again.
    let mut chained: BTreeMap<String, (i64, i64, f64, f64)> = BTreeMap::new();
    for ((subset, base, calc), (sums, last)) in groups {
        let a = sums.finish();
        let link = a.map(|a| (a.index_p, a.se_p));
        let prev = chained.get(&subset).copied().filter(|p| p.1 == base);
        let (from, ci, cse) = match (prev, link) {
            (Some((from, _, i, se)), Some(l)) => {
                let (ci, cse) = chain((i, se), l);
                (from, ci, cse)
            }
            (None, Some(l)) => (base, l.0, l.1),
            (_, None) => (base, f64::NAN, f64::NAN),
        };
        if link.is_some() {
            chained.insert(subset.clone(), (from, calc, ci, cse));
        } else {
            // No index for this pair of years: the chain breaks here.
            chained.remove(&subset);
        }
        let month = MONTHS[(last.clamp(1, 12) - 1) as usize];
        rows.push(IndexRow {
            subset,
            cols: vec![
                ("base_year", Some(base.to_string())),
                ("calc_year", Some(calc.to_string())),
                ("period", Some(format!("jan-{month}"))),
                ("chained_from", Some(from.to_string())),
                ("method", Some(method.name().to_string())),
            ],
            index: a,
            extra: vec![
                ("chained_index_p", f(ci)),
                ("chained_se_p", f(cse)),
                ("chained_ci_lower", f(ci - 1.96 * cse)),
                ("chained_ci_upper", f(ci + 1.96 * cse)),
            ],
        });
    }
    table(&rows)
}

/// `traffic_index_rolling`: per subset, window length (12, 24, 36 months) and last month, the
/// area index of the points' mean light-vehicle MDT in the window against their mean in the
/// reference year (Statens vegvesen's rules: MDTs with length coverage ≥ 50 % and length
/// quality ≥ 98.5 %; ≥ 10 months in the reference year; ≥ 9, 20, 31 months in a window; for
/// 36 months calendar months with fewer than two values left out). The reference year is
/// `reference_year`, or the first year in which a point has ten months.
pub async fn index_rolling(
    ctx: &SessionContext,
    present: &[Table],
    reference_year: Option<i64>,
    method: IndexMethod,
    counted: Counted,
) -> Result<RecordBatch> {
    let subsets = subsets_sql(present, counted);
    let sql = match (method, counted) {
        (IndexMethod::Classic, Counted::Vehicles) => format!(
            "SELECT s.subset, m.trp_id, m.year, m.month, m.mdt_lt_5_6m FROM traffic_mdt m JOIN ({subsets}) s ON s.trp_id = m.trp_id \
             WHERE m.day_type = 'all' AND m.length_coverage_pct >= 50 AND m.length_quality_pct >= 98.5 AND m.mdt_lt_5_6m IS NOT NULL"
        ),
        // Bicycles have no length classes: the MDT of every bicycle, with coverage ≥ 50 %.
        (IndexMethod::Classic, Counted::Bicycles) => format!(
            "SELECT s.subset, m.trp_id, m.year, m.month, m.mdt FROM traffic_mdt m JOIN ({subsets}) s ON s.trp_id = m.trp_id \
             WHERE m.day_type = 'all' AND m.coverage_pct >= 50 AND m.mdt IS NOT NULL"
        ),
        // The calendar method's own day filter (coverage ≥ 99 %, length quality ≥ 97.5 %) and
        // month rule (≥ 7 working, ≥ 3 non-working days) replace the MDT filters.
        (IndexMethod::Calendar, c) => format!(
            "SELECT s.subset, m.trp_id, m.year, m.month, m.{} FROM traffic_mdt_calendar m \
             JOIN ({subsets}) s ON s.trp_id = m.trp_id \
             WHERE m.period = 'month' AND m.{} IS NOT NULL",
            if c == Counted::Vehicles {
                "mdt_lt_5_6m_rounded"
            } else {
                "mdt_rounded"
            },
            if c == Counted::Vehicles {
                "mdt_lt_5_6m_rounded"
            } else {
                "mdt_rounded"
            },
        ),
    };
    let batches = collect(ctx, "traffic_index_rolling", &sql).await?;
    // subset → point → month number (year·12 + month − 1) → MDT.
    let mut mdt: BTreeMap<String, BTreeMap<String, BTreeMap<i64, f64>>> = BTreeMap::new();
    for b in &batches {
        let (s, p, y, m, v) = (
            text(b, 0)?,
            text(b, 1)?,
            int(b, 2)?,
            int(b, 3)?,
            float(b, 4)?,
        );
        for i in 0..b.num_rows() {
            mdt.entry(s.value(i).to_string())
                .or_default()
                .entry(p.value(i).to_string())
                .or_default()
                .insert(y.value(i) * 12 + m.value(i) - 1, v.value(i));
        }
    }
    let reference = reference_year.or_else(|| {
        let mut counts: BTreeMap<(String, i64), u32> = BTreeMap::new();
        for points in mdt.values() {
            for (p, months) in points {
                for k in months.keys() {
                    *counts.entry((p.clone(), k.div_euclid(12))).or_default() += 1;
                }
            }
        }
        counts
            .iter()
            .filter(|(_, n)| **n >= 10)
            .map(|((_, y), _)| *y)
            .min()
    });
    let mut rows = Vec::new();
    let Some(reference) = reference else {
        return table(&rows);
    };
    let last = mdt
        .values()
        .flat_map(|p| p.values().flat_map(|m| m.keys().copied()))
        .max()
        .unwrap_or(0);
    for (subset, points) in &mdt {
        for window in [12i64, 24, 36] {
            // Windows start after the reference year and end by the last month with data.
            let first_end = (reference + 1) * 12 + window - 1;
            for end in first_end..=last {
                let mut sums = AreaSums::default();
                for months in points.values() {
                    let ref_values: Vec<f64> = (reference * 12..reference * 12 + 12)
                        .filter_map(|k| months.get(&k).copied())
                        .collect();
                    let Some(base) = reference_mean(&ref_values) else {
                        continue;
                    };
                    let values: Vec<(u32, f64)> = (end - window + 1..=end)
                        .filter_map(|k| months.get(&k).map(|v| ((k.rem_euclid(12) + 1) as u32, *v)))
                        .collect();
                    if let Some(calc) = window_mean(window as u32, &values) {
                        sums.add(base, calc);
                    }
                }
                let start = end - window + 1;
                let label =
                    |k: i64| format!("{} {}", MONTHS[k.rem_euclid(12) as usize], k.div_euclid(12));
                rows.push(IndexRow {
                    subset: subset.clone(),
                    cols: vec![
                        ("method", Some(method.name().to_string())),
                        ("window", Some(format!("{window}_months"))),
                        ("reference_year", Some(reference.to_string())),
                        (
                            "last_month",
                            Some(format!(
                                "{}-{:02}-01",
                                end.div_euclid(12),
                                end.rem_euclid(12) + 1
                            )),
                        ),
                        (
                            "index_period",
                            Some(format!("{reference} - ({} - {})", label(start), label(end))),
                        ),
                    ],
                    index: sums.finish(),
                    extra: vec![],
                });
            }
        }
    }
    rows.retain(|r| r.index.is_some());
    table(&rows)
}

/// `nullvekst`: for each subset, the latest rolling index of the longest window there is,
/// with where its CI lies. `breakdown` is `all` for all points and `kommune` for a
/// municipality's points, and `estimate`/`ci_lower`/`ci_upper` repeat the index so the targets
/// The columns of `nullvekst`.
fn nullvekst_schema() -> Schema {
    Schema::new(vec![
        Field::new("breakdown", DataType::Utf8, false),
        Field::new("breakdown_value", DataType::Utf8, true),
        Field::new("subset", DataType::Utf8, false),
        Field::new("official", DataType::Boolean, false),
        Field::new("window", DataType::Utf8, false),
        Field::new("last_month", DataType::Utf8, false),
        Field::new("index_period", DataType::Utf8, false),
        Field::new("estimate", DataType::Float64, true),
        Field::new("se", DataType::Float64, true),
        Field::new("ci_lower", DataType::Float64, true),
        Field::new("ci_upper", DataType::Float64, true),
        Field::new("n_trp", DataType::Int64, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("unit", DataType::Utf8, false),
    ])
}

/// table can read it.
pub fn nullvekst_table(rolling: &RecordBatch) -> Result<RecordBatch> {
    // No rolling index (no vehicle points, or none with enough months): no rows, same columns.
    if rolling.num_rows() == 0 {
        return Ok(RecordBatch::new_empty(Arc::new(nullvekst_schema())));
    }
    let col = |n: &str| -> Result<StringArray> {
        let i = rolling.schema().index_of(n)?;
        text(rolling, i)
    };
    let num = |n: &str| -> Result<Float64Array> {
        let i = rolling.schema().index_of(n)?;
        float(rolling, i)
    };
    let (subset, window, last, period) = (
        col("subset")?,
        col("window")?,
        col("last_month")?,
        col("index_period")?,
    );
    let (ip, lo, hi, se) = (
        num("index_p")?,
        num("ci_lower")?,
        num("ci_upper")?,
        num("se_p")?,
    );
    let n = int(rolling, rolling.schema().index_of("n_trp")?)?;
    // subset → (window months, last month, row)
    let mut best: BTreeMap<String, (u32, String, usize)> = BTreeMap::new();
    for i in 0..rolling.num_rows() {
        let w: u32 = window
            .value(i)
            .trim_end_matches("_months")
            .parse()
            .unwrap_or(0);
        let cand = (w, last.value(i).to_string(), i);
        let e = best
            .entry(subset.value(i).to_string())
            .or_insert(cand.clone());
        if (cand.0, &cand.1) > (e.0, &e.1) {
            *e = cand;
        }
    }
    let rows: Vec<usize> = best.values().map(|b| b.2).collect();
    let s = |a: &StringArray| -> ArrayRef {
        Arc::new(StringArray::from_iter(
            rows.iter().map(|&i| Some(a.value(i))),
        ))
    };
    let x = |a: &Float64Array| -> ArrayRef {
        Arc::new(Float64Array::from_iter(
            rows.iter().map(|&i| a.is_valid(i).then(|| a.value(i))),
        ))
    };
    let schema = nullvekst_schema();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|&i| {
            if subset.value(i) == "all points" {
                "all"
            } else {
                "kommune"
            }
        }))),
        Arc::new(StringArray::from_iter(rows.iter().map(|&i| {
            (subset.value(i) != "all points")
                .then(|| subset.value(i).trim_start_matches("kommune ").to_string())
        }))),
        s(&subset),
        Arc::new(BooleanArray::from(vec![false; rows.len()])),
        s(&window),
        s(&last),
        s(&period),
        x(&ip),
        x(&se),
        x(&lo),
        x(&hi),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|&i| n.value(i)),
        )),
        Arc::new(StringArray::from_iter_values(rows.iter().map(|&i| {
            if lo.is_valid(i) && hi.is_valid(i) {
                nullvekst(lo.value(i), hi.value(i))
            } else {
                "no CI: fewer than two points"
            }
        }))),
        Arc::new(StringArray::from(vec!["percent"; rows.len()])),
    ];
    Ok(RecordBatch::try_new(Arc::new(schema), cols)?)
}
