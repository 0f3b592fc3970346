//! The traffic-index indicators: `traffic_index_yearly` (area index between consecutive
//! years, chained from the first), `traffic_index_rolling` (12-, 24- and 36-month rolling MDT
//! index against a reference year) and `nullvekst` (does the latest rolling index's CI lie
//! above zero, contain it or lie below). Methods: ../shared/DOMAIN.md §2.4, docs/traffic.md.
//!
//! Every row is computed by mobility from the counting points of the data directory, for all
//! of them (`subset` = `all points`) and for the points of each municipality; `official` is
//! false throughout: Statens vegvesen's published byindeks uses its own selection of points.
//!
//! The queries are the files of `queries/traffic/`, SQL on their own with a header: a view of
//! the subsets (`traffic_index_subsets`, with or without the municipalities), then one query
//! per index, method and kind of point; this module picks the files and computes the indices
//! from their rows. A new variant is a new file, listed in [`QUERIES`].

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;
use mobility_model::Table;
use mobility_stats::traffic::{AreaIndex, AreaSums, chain, nullvekst, reference_mean, window_mean};

use crate::Result;
use crate::batches::{collect, f64s, i64s, need, utf8};

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "mai", "jun", "jul", "aug", "sep", "okt", "nov", "des",
];

/// The view `traffic_index_subsets` of every point, `all points`.
const SUBSETS: &str = include_str!("../../../queries/traffic/subsets.sql");
/// The view `traffic_index_subsets` of every point and of each municipality's points.
const SUBSETS_KOMMUNE: &str = include_str!("../../../queries/traffic/subsets_kommune.sql");
/// Each vehicle point's volumes of the classic yearly index.
const YEARLY_CLASSIC: &str = include_str!("../../../queries/traffic/yearly_classic.sql");
/// Each vehicle point's volumes of the calendar-adjusted yearly index.
const YEARLY_CALENDAR: &str = include_str!("../../../queries/traffic/yearly_calendar.sql");
/// Each vehicle point's monthly MDT of the classic rolling index.
const ROLLING_CLASSIC_VEHICLES: &str =
    include_str!("../../../queries/traffic/rolling_classic_vehicles.sql");
/// Each bicycle point's monthly MDT of the classic rolling index.
const ROLLING_CLASSIC_BICYCLES: &str =
    include_str!("../../../queries/traffic/rolling_classic_bicycles.sql");
/// Each vehicle point's monthly MDT of the calendar-adjusted rolling index.
const ROLLING_CALENDAR_VEHICLES: &str =
    include_str!("../../../queries/traffic/rolling_calendar_vehicles.sql");
/// Each bicycle point's monthly MDT of the calendar-adjusted rolling index.
const ROLLING_CALENDAR_BICYCLES: &str =
    include_str!("../../../queries/traffic/rolling_calendar_bicycles.sql");

/// The queries of the traffic indices: (name, SQL of `queries/traffic/<name>.sql`).
pub const QUERIES: &[(&str, &str)] = &[
    ("subsets", SUBSETS),
    ("subsets_kommune", SUBSETS_KOMMUNE),
    ("yearly_classic", YEARLY_CLASSIC),
    ("yearly_calendar", YEARLY_CALENDAR),
    ("rolling_classic_vehicles", ROLLING_CLASSIC_VEHICLES),
    ("rolling_classic_bicycles", ROLLING_CLASSIC_BICYCLES),
    ("rolling_calendar_vehicles", ROLLING_CALENDAR_VEHICLES),
    ("rolling_calendar_bicycles", ROLLING_CALENDAR_BICYCLES),
];

/// Creates (or replaces) the view `traffic_index_subsets` (trp_id, subset) that the index
/// queries join: every point, and the points in each municipality when zones of kind
/// `kommune` and the points' coordinates are there. An error names `what`.
async fn create_subsets(ctx: &SessionContext, present: &[Table], what: &str) -> Result<()> {
    let sql = if present.contains(&Table::TrafficPoints) && present.contains(&Table::Zones) {
        SUBSETS_KOMMUNE
    } else {
        SUBSETS
    };
    collect(ctx, what, sql).await?;
    Ok(())
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
    index: Option<AreaIndex>,
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
    let idx = |g: fn(&AreaIndex) -> f64| -> ArrayRef {
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
    let groups = yearly_sums(ctx, present, method).await?;
    table(&chained_rows(groups, method))
}

/// (subset, base year, calc year) → the area sums of the points' volumes, and the last month.
type YearPairs = BTreeMap<(String, i64, i64), (AreaSums, i64)>;

/// The points' volumes of each subset and pair of consecutive years, summed: from
/// `queries/traffic/yearly_classic.sql` or, by the calendar-adjusted MDT, `yearly_calendar.sql`.
async fn yearly_sums(
    ctx: &SessionContext,
    present: &[Table],
    method: IndexMethod,
) -> Result<YearPairs> {
    create_subsets(ctx, present, "traffic_index_yearly").await?;
    let sql = match method {
        IndexMethod::Classic => YEARLY_CLASSIC,
        IndexMethod::Calendar => YEARLY_CALENDAR,
    };
    let batches = collect(ctx, "traffic_index_yearly", sql).await?;
    let mut groups: YearPairs = BTreeMap::new();
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
    Ok(groups)
}

/// The rows of `traffic_index_yearly`: each pair of years' area index, and the index chained
/// along the consecutive pairs of its subset.
fn chained_rows(groups: YearPairs, method: IndexMethod) -> Vec<IndexRow> {
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
    rows
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
    let mdt = monthly_mdt(ctx, present, method, counted).await?;
    let Some(reference) = reference_year.or_else(|| first_full_year(&mdt)) else {
        return table(&[]);
    };
    let last = mdt
        .values()
        .flat_map(|p| p.values().flat_map(|m| m.keys().copied()))
        .max()
        .unwrap_or(0);
    let mut rows = Vec::new();
    for (subset, points) in &mdt {
        for window in [12i64, 24, 36] {
            // Windows start after the reference year and end by the last month with data.
            let first_end = (reference + 1) * 12 + window - 1;
            for end in first_end..=last {
                let sums = window_sums(points, reference, window, end);
                rows.push(rolling_row(
                    subset,
                    method,
                    reference,
                    window,
                    end,
                    sums.finish(),
                ));
            }
        }
    }
    rows.retain(|r| r.index.is_some());
    table(&rows)
}

/// Point → month number (year·12 + month − 1) → MDT.
type PointMonths = BTreeMap<String, BTreeMap<i64, f64>>;

/// The MDTs the rolling index reads, subset → point → month, from the file of
/// `queries/traffic/` for the method and the points' kind.
async fn monthly_mdt(
    ctx: &SessionContext,
    present: &[Table],
    method: IndexMethod,
    counted: Counted,
) -> Result<BTreeMap<String, PointMonths>> {
    create_subsets(ctx, present, "traffic_index_rolling").await?;
    let sql = match (method, counted) {
        (IndexMethod::Classic, Counted::Vehicles) => ROLLING_CLASSIC_VEHICLES,
        (IndexMethod::Classic, Counted::Bicycles) => ROLLING_CLASSIC_BICYCLES,
        (IndexMethod::Calendar, Counted::Vehicles) => ROLLING_CALENDAR_VEHICLES,
        (IndexMethod::Calendar, Counted::Bicycles) => ROLLING_CALENDAR_BICYCLES,
    };
    let batches = collect(ctx, "traffic_index_rolling", sql).await?;
    let mut mdt: BTreeMap<String, PointMonths> = BTreeMap::new();
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
    Ok(mdt)
}

/// The default reference year: the first year in which a point has ten months of MDT (each
/// month once, however many subsets hold the point: SVV's ten-month rule is per point).
fn first_full_year(mdt: &BTreeMap<String, PointMonths>) -> Option<i64> {
    // A point is in several subsets (all points, its kommune): each of its months counts once.
    let months: std::collections::BTreeSet<(&str, i64)> = mdt
        .values()
        .flat_map(|points| {
            points
                .iter()
                .flat_map(|(p, months)| months.keys().map(move |k| (p.as_str(), *k)))
        })
        .collect();
    let mut counts: BTreeMap<(&str, i64), u32> = BTreeMap::new();
    for (p, k) in months {
        *counts.entry((p, k.div_euclid(12))).or_default() += 1;
    }
    counts
        .iter()
        .filter(|(_, n)| **n >= 10)
        .map(|((_, y), _)| *y)
        .min()
}

/// The area sums of one window of `window` months ending at month number `end`: each point's
/// mean MDT in the reference year against its mean in the window, over the points that have
/// enough months for both (`reference_mean`, `window_mean`).
fn window_sums(points: &PointMonths, reference: i64, window: i64, end: i64) -> AreaSums {
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
    sums
}

/// The row of `traffic_index_rolling` of one subset and the window of `window` months ending
/// at month number `end`, with its labels.
fn rolling_row(
    subset: &str,
    method: IndexMethod,
    reference: i64,
    window: i64,
    end: i64,
    index: Option<AreaIndex>,
) -> IndexRow {
    let start = end - window + 1;
    let label = |k: i64| format!("{} {}", MONTHS[k.rem_euclid(12) as usize], k.div_euclid(12));
    IndexRow {
        subset: subset.to_string(),
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
        index,
        extra: vec![],
    }
}

/// Per subset, in subset order, the row of the rolling index of the longest window with the
/// latest last month (of the first `n` rows of the rolling table's columns).
fn latest_longest(
    n: usize,
    subset: &StringArray,
    window: &StringArray,
    last: &StringArray,
) -> Vec<usize> {
    // subset → (window months, last month, row)
    let mut best: BTreeMap<String, (u32, String, usize)> = BTreeMap::new();
    for i in 0..n {
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
    best.values().map(|b| b.2).collect()
}

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

/// `nullvekst`: for each subset, the latest rolling index of the longest window there is,
/// with where its CI lies. `breakdown` is `all` for all points and `kommune` for a
/// municipality's points, and `estimate`/`ci_lower`/`ci_upper` repeat the index so the targets
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
    let rows = latest_longest(rolling.num_rows(), &subset, &window, &last);
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

#[cfg(test)]
mod first_full_year_tests {
    use super::*;

    /// A point of two subsets (all points and its kommune) with 5 months of 2019 and all of
    /// 2020: 2019 is not a full year however many subsets hold the point.
    #[test]
    fn a_point_in_two_subsets_counts_its_months_once() {
        let months: BTreeMap<i64, f64> = (2019 * 12 + 7..2021 * 12).map(|k| (k, 100.0)).collect();
        let points: PointMonths = BTreeMap::from([("p1".to_string(), months)]);
        let mdt = BTreeMap::from([
            ("all points".to_string(), points.clone()),
            ("kommune 3201 Bærum".to_string(), points),
        ]);
        assert_eq!(first_full_year(&mdt), Some(2020));
    }
}
