//! Survey indicators from person-level contributions.
//!
//! A survey indicator's query (`queries/<id>.sql`) says what each person contributes, one row
//! per person and cell; this module adds the design (weights, strata, the person-level
//! domains of the `person_frame` view) and estimates every cell with its uncertainty.
//!
//! **The query's columns:**
//! - `person_id`, and `y`, the person's contribution to the numerator.
//! - `x`, the denominator, only for `estimator: ratio`.
//! - `purpose` and `distance_band` if present: trip-level domains (a person's trips for work
//!   form the person's part of the `purpose = work` domain).
//! - Any other column is a key of the indicator (e.g. `mode`).
//!
//! Several rows of one person and cell are summed before anything is squared. A person
//! without rows contributes y = x = 0 and still counts in the variance of its stratum.
//!
//! **Estimators** (R = Σ wᵢyᵢ / Σ wᵢxᵢ over persons, ../shared/DOMAIN.md §2.1):
//! - `mean`: xᵢ = 1 for every person of the domain (trips per person per day).
//! - `share`: xᵢ = the person's y summed over all keys of the domain (mode shares).
//! - `ratio`: xᵢ from the query (car occupancy: all car km over driver km).
//! - `total`: Ŷ = Σ wᵢyᵢ (annual tonnes for the population the weights sum to).
//!
//! Person-level domains (`home_zone`, `age_band`, `gender`, `employment`, `day_type`) are
//! estimated as domains of the whole sample: a person outside the domain has zᵢ = 0 and
//! still counts in n_h (the standard domain estimator, not a conditional one).
//!
//! **Variance:** Taylor linearisation within strata ([`mobility_stats::ratio_estimate`]); or
//! the Rao–Wu bootstrap ([`mobility_stats::Strata::rao_wu`]) when the indicator asks for it
//! (`variance: bootstrap`), with B replicates and a seed from the run's options.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use mobility_stats::{
    Estimate, Strata, StratumSums, ratio_estimate, replicate_variance, t_quantile,
    total_estimate,
};
use rayon::prelude::*;

use crate::{Error, Result};

/// Person-level breakdowns, columns of `person_frame`.
pub const PERSON_BREAKDOWNS: [&str; 5] = ["home_zone", "age_band", "gender", "employment", "day_type"];
/// Trip-level breakdowns, taken from the query's columns of these names.
pub const TRIP_BREAKDOWNS: [&str; 2] = ["purpose", "distance_band"];

const NONE: u32 = u32::MAX;

/// How a cell's ratio is formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Estimator {
    /// x = 1 for every person of the domain.
    Mean,
    /// x = the person's y over all keys of the domain.
    Share,
    /// x from the query.
    Ratio,
    /// Σ w y.
    Total,
}

impl Estimator {
    /// From the header word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "mean" => Self::Mean,
            "share" => Self::Share,
            "ratio" => Self::Ratio,
            "total" => Self::Total,
            _ => return None,
        })
    }
}

/// The variance method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variance {
    /// Taylor linearisation.
    Linearisation,
    /// Rao–Wu bootstrap with `replicates` replicates from `seed`.
    Bootstrap {
        /// B.
        replicates: u32,
        /// The seed of replicate streams.
        seed: u64,
    },
}

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

/// The persons of the survey: design and person-level domains.
pub struct Frame {
    index: HashMap<i64, u32>,
    weight: Vec<f64>,
    stratum: Vec<u32>,
    n_h: Vec<u64>,
    strata: Strata,
    /// Per person-level breakdown: each person's value id, or NONE.
    value_of: Vec<Vec<u32>>,
    /// Per person-level breakdown: the value names, sorted.
    values: Vec<Vec<String>>,
}

impl Frame {
    /// From `SELECT person_id, stratum, w, home_zone, age_band, gender, employment, day_type
    /// FROM person_frame`.
    pub fn from_batches(batches: &[RecordBatch]) -> Result<Self> {
        let mut ids = Vec::new();
        let mut strata_names: Vec<String> = Vec::new();
        let mut weight = Vec::new();
        let mut raw: Vec<Vec<Option<String>>> = vec![Vec::new(); PERSON_BREAKDOWNS.len()];
        for b in batches {
            let id = arrow::compute::cast(b.column(0), &DataType::Int64)?;
            let st = arrow::compute::cast(b.column(1), &DataType::Utf8)?;
            let w = arrow::compute::cast(b.column(2), &DataType::Float64)?;
            let (id, st, w) = (
                id.as_primitive::<Int64Type>(),
                st.as_string::<i32>(),
                w.as_primitive::<Float64Type>(),
            );
            for i in 0..b.num_rows() {
                ids.push(id.value(i));
                strata_names.push(st.value(i).to_string());
                weight.push(if w.is_valid(i) { w.value(i) } else { 0.0 });
            }
            for (k, col) in raw.iter_mut().enumerate() {
                let c = arrow::compute::cast(b.column(3 + k), &DataType::Utf8)?;
                let c = c.as_string::<i32>();
                col.extend((0..b.num_rows()).map(|i| c.is_valid(i).then(|| c.value(i).to_string())));
            }
        }
        let mut names: Vec<String> = strata_names.clone();
        names.sort();
        names.dedup();
        let stratum: Vec<u32> = strata_names
            .iter()
            .map(|s| names.binary_search(s).expect("present") as u32)
            .collect();
        let mut n_h = vec![0u64; names.len()];
        for &h in &stratum {
            n_h[h as usize] += 1;
        }
        let mut values = Vec::new();
        let mut value_of = Vec::new();
        for col in raw {
            let mut v: Vec<String> = col.iter().flatten().cloned().collect();
            v.sort();
            v.dedup();
            value_of.push(
                col.iter()
                    .map(|x| x.as_ref().map_or(NONE, |x| v.binary_search(x).expect("present") as u32))
                    .collect(),
            );
            values.push(v);
        }
        let index = ids.iter().enumerate().map(|(i, &id)| (id, i as u32)).collect();
        Ok(Self {
            index,
            weight,
            strata: Strata::new(&stratum),
            stratum,
            n_h,
            value_of,
            values,
        })
    }

    /// Persons in the sample.
    pub fn persons(&self) -> usize {
        self.weight.len()
    }

    /// Degrees of freedom of the CIs: persons − strata.
    pub fn df(&self) -> f64 {
        self.persons().saturating_sub(self.n_h.len()) as f64
    }
}

/// A domain: a breakdown and its value (`all` has none).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Domain {
    order: usize,
    breakdown: String,
    value: Option<String>,
}

/// The breakdowns in output order.
fn order(breakdown: &str) -> usize {
    std::iter::once("all")
        .chain(PERSON_BREAKDOWNS)
        .chain(TRIP_BREAKDOWNS)
        .position(|b| b == breakdown)
        .unwrap_or(usize::MAX)
}

/// One row of the query, interned.
#[derive(Clone, Copy)]
struct Row {
    person: u32,
    key: u32,
    trip_domain: [u32; TRIP_BREAKDOWNS.len()],
    y: f64,
    x: f64,
}

/// What an indicator's estimation needs besides its rows.
#[derive(Debug, Clone, Copy)]
pub struct Spec<'a> {
    /// The indicator id, for messages.
    pub id: &'a str,
    /// The unit of `estimate`.
    pub unit: &'a str,
    /// How cells are formed.
    pub estimator: Estimator,
    /// The variance method.
    pub variance: Variance,
    /// CI level and suppression.
    pub rules: Rules,
}

/// Estimates every cell of an indicator from its query's rows.
pub fn estimate(frame: &Frame, spec: Spec, batches: &[RecordBatch]) -> Result<RecordBatch> {
    let shape = |message: String| Error::Shape {
        id: spec.id.to_string(),
        message,
    };
    let schema = match batches.first() {
        Some(b) => b.schema(),
        None => return Err(shape("the query returned no batches".into())),
    };
    for need in ["person_id", "y"]
        .into_iter()
        .chain((spec.estimator == Estimator::Ratio).then_some("x"))
    {
        if schema.field_with_name(need).is_err() {
            return Err(shape(format!(
                "a survey indicator's query must return column {need} (see docs/methods.md)"
            )));
        }
    }
    let trip_cols: Vec<(usize, &str)> = TRIP_BREAKDOWNS
        .iter()
        .enumerate()
        .filter(|(_, t)| schema.field_with_name(t).is_ok())
        .map(|(i, t)| (i, *t))
        .collect();
    let keys: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .filter(|n| !["person_id", "y", "x"].contains(&n.as_str()) && !TRIP_BREAKDOWNS.contains(&n.as_str()))
        .collect();

    // Domains: `all`, the person-level values, then trip-level values as met.
    let mut domains: Vec<Domain> = vec![Domain {
        order: 0,
        breakdown: "all".into(),
        value: None,
    }];
    let mut person_domain: Vec<Vec<u32>> = Vec::new();
    for (k, b) in PERSON_BREAKDOWNS.iter().enumerate() {
        person_domain.push(
            frame.values[k]
                .iter()
                .map(|v| {
                    domains.push(Domain {
                        order: order(b),
                        breakdown: b.to_string(),
                        value: Some(v.clone()),
                    });
                    domains.len() as u32 - 1
                })
                .collect(),
        );
    }
    let mut trip_domain_ids: Vec<HashMap<String, u32>> = vec![HashMap::new(); TRIP_BREAKDOWNS.len()];
    let mut key_ids: HashMap<Vec<Option<String>>, u32> = HashMap::new();
    let mut key_list: Vec<Vec<Option<String>>> = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    for b in batches {
        let pid = arrow::compute::cast(b.column_by_name("person_id").expect("checked"), &DataType::Int64)?;
        let pid = pid.as_primitive::<Int64Type>();
        let num = |n: &str| -> Result<Option<Float64Array>> {
            Ok(match b.column_by_name(n) {
                Some(c) => Some(arrow::compute::cast(c, &DataType::Float64)?.as_primitive::<Float64Type>().clone()),
                None => None,
            })
        };
        let (y, x) = (num("y")?.expect("checked"), num("x")?);
        let text = |n: &str| -> Result<StringArray> {
            let c = arrow::compute::cast(b.column_by_name(n).expect("named"), &DataType::Utf8)?;
            Ok(c.as_string::<i32>().clone())
        };
        let kcols: Vec<StringArray> = keys.iter().map(|k| text(k)).collect::<Result<_>>()?;
        let tcols: Vec<(usize, StringArray)> = trip_cols
            .iter()
            .map(|(i, t)| Ok((*i, text(t)?)))
            .collect::<Result<_>>()?;
        for i in 0..b.num_rows() {
            let Some(&person) = frame.index.get(&pid.value(i)) else {
                return Err(shape(format!(
                    "person_id {} is not in persons",
                    pid.value(i)
                )));
            };
            let key: Vec<Option<String>> = kcols
                .iter()
                .map(|k| k.is_valid(i).then(|| k.value(i).to_string()))
                .collect();
            let key = match key_ids.get(&key) {
                Some(&k) => k,
                None => {
                    key_list.push(key.clone());
                    key_ids.insert(key, key_list.len() as u32 - 1);
                    key_list.len() as u32 - 1
                }
            };
            let mut trip_domain = [NONE; TRIP_BREAKDOWNS.len()];
            for (t, col) in &tcols {
                if col.is_valid(i) {
                    let v = col.value(i);
                    trip_domain[*t] = match trip_domain_ids[*t].get(v) {
                        Some(&d) => d,
                        None => {
                            domains.push(Domain {
                                order: order(TRIP_BREAKDOWNS[*t]),
                                breakdown: TRIP_BREAKDOWNS[*t].to_string(),
                                value: Some(v.to_string()),
                            });
                            let d = domains.len() as u32 - 1;
                            trip_domain_ids[*t].insert(v.to_string(), d);
                            d
                        }
                    };
                }
            }
            let val = |a: &Float64Array| if a.is_valid(i) { a.value(i) } else { 0.0 };
            rows.push(Row {
                person,
                key,
                trip_domain,
                y: val(&y),
                x: x.as_ref().map_or(0.0, val),
            });
        }
    }
    if key_list.is_empty() {
        key_list.push(vec![None; keys.len()]);
    }
    rows.par_sort_unstable_by_key(|r| r.person);

    let (nd, nk, ns) = (domains.len(), key_list.len(), frame.n_h.len());
    let bootstrap = matches!(spec.variance, Variance::Bootstrap { .. });
    // Per (domain, key, stratum): the y terms, and for `ratio` the x terms too.
    let mut cells = vec![StratumSums::default(); nd * nk * ns];
    // Per (domain, stratum): the x terms of `mean`, `share` and `total`.
    let mut dom = vec![StratumSums::default(); nd * ns];
    // Person-level contributions, kept for the bootstrap: per cell (person, y, x), and per
    // domain (person, x) for `share`.
    let mut cell_contrib: Vec<Vec<(u32, f64, f64)>> = if bootstrap { vec![Vec::new(); nd * nk] } else { Vec::new() };
    let mut dom_contrib: Vec<Vec<(u32, f64)>> = if bootstrap { vec![Vec::new(); nd] } else { Vec::new() };

    let domains_of = |p: usize, out: &mut Vec<u32>| {
        out.clear();
        out.push(0);
        for (k, ids) in person_domain.iter().enumerate() {
            let v = frame.value_of[k][p];
            if v != NONE {
                out.push(ids[v as usize]);
            }
        }
    };
    let mut pd = Vec::new();
    if matches!(spec.estimator, Estimator::Mean | Estimator::Total) {
        for p in 0..frame.persons() {
            domains_of(p, &mut pd);
            let (w, h) = (frame.weight[p], frame.stratum[p] as usize);
            for &d in &pd {
                let s = &mut dom[d as usize * ns + h];
                s.n_d += 1;
                s.sw += w;
                s.sw2 += w * w;
                s.sw_x += w;
                s.sw2_xx += w * w;
            }
        }
    }
    let mut local: Vec<(u32, u32, f64, f64)> = Vec::new();
    let mut totals: Vec<(u32, f64)> = Vec::new();
    for person_rows in rows.chunk_by(|a, b| a.person == b.person) {
        let p = person_rows[0].person as usize;
        domains_of(p, &mut pd);
        local.clear();
        let mut add = |d: u32, k: u32, y: f64, x: f64| {
            match local.iter_mut().find(|e| e.0 == d && e.1 == k) {
                Some(e) => {
                    e.2 += y;
                    e.3 += x;
                }
                None => local.push((d, k, y, x)),
            }
        };
        for r in person_rows {
            for &d in &pd {
                add(d, r.key, r.y, r.x);
            }
            for &d in &r.trip_domain {
                if d != NONE {
                    add(d, r.key, r.y, r.x);
                }
            }
        }
        let (w, h) = (frame.weight[p], frame.stratum[p] as usize);
        totals.clear();
        if spec.estimator == Estimator::Share {
            for &(d, _, y, _) in &local {
                match totals.iter_mut().find(|t| t.0 == d) {
                    Some(t) => t.1 += y,
                    None => totals.push((d, y)),
                }
            }
            for &(d, xd) in &totals {
                let s = &mut dom[d as usize * ns + h];
                if xd != 0.0 {
                    s.n_d += 1;
                    s.sw += w;
                    s.sw2 += w * w;
                }
                s.sw_x += w * xd;
                s.sw2_xx += w * w * xd * xd;
                if bootstrap {
                    dom_contrib[d as usize].push((p as u32, xd));
                }
            }
        }
        for &(d, k, y, x) in &local {
            let cell = d as usize * nk + k as usize;
            let s = &mut cells[cell * ns + h];
            s.sw_y += w * y;
            s.sw2_yy += w * w * y * y;
            match spec.estimator {
                Estimator::Ratio => {
                    s.sw_x += w * x;
                    s.sw2_xx += w * w * x * x;
                    s.sw2_xy += w * w * x * y;
                    if x != 0.0 {
                        s.n_d += 1;
                        s.sw += w;
                        s.sw2 += w * w;
                    }
                }
                Estimator::Share => {
                    let xd = totals.iter().find(|t| t.0 == d).map_or(0.0, |t| t.1);
                    s.sw2_xy += w * w * xd * y;
                }
                Estimator::Mean => s.sw2_xy += w * w * y,
                Estimator::Total => {}
            }
            if bootstrap {
                cell_contrib[cell].push((p as u32, y, x));
            }
        }
    }

    // Which cells to report: every key in every domain that has persons, except for `ratio`,
    // whose cells exist only where x does.
    let trip_domain = |d: usize| domains[d].order > PERSON_BREAKDOWNS.len();
    let dom_row = |d: usize| -> usize {
        // `mean` and `total` over a trip-level domain: every person is in it.
        if trip_domain(d) && matches!(spec.estimator, Estimator::Mean | Estimator::Total) { 0 } else { d }
    };
    let mut report: Vec<(usize, usize)> = Vec::new();
    for d in 0..nd {
        for k in 0..nk {
            let cell = d * nk + k;
            let has = match spec.estimator {
                Estimator::Ratio => (0..ns).any(|h| cells[cell * ns + h].sw_x != 0.0),
                _ => (0..ns).any(|h| dom[dom_row(d) * ns + h].n_d > 0),
            };
            if has {
                report.push((d, k));
            }
        }
    }
    let df = frame.df();
    let estimates: Vec<Estimate> = report
        .par_iter()
        .map(|&(d, k)| {
            let cell = d * nk + k;
            let strata: Vec<StratumSums> = (0..ns)
                .map(|h| {
                    let c = cells[cell * ns + h];
                    let x = if spec.estimator == Estimator::Ratio { c } else { dom[dom_row(d) * ns + h] };
                    StratumSums {
                        n_h: frame.n_h[h],
                        n_d: x.n_d,
                        sw: x.sw,
                        sw2: x.sw2,
                        sw_y: c.sw_y,
                        sw_x: x.sw_x,
                        sw2_yy: c.sw2_yy,
                        sw2_xy: c.sw2_xy,
                        sw2_xx: x.sw2_xx,
                    }
                })
                .collect();
            match spec.estimator {
                Estimator::Total => total_estimate(&strata, spec.rules.level, df),
                _ => ratio_estimate(&strata, spec.rules.level, df),
            }
        })
        .collect();

    let (estimates, method) = match spec.variance {
        Variance::Linearisation => (estimates, "linearisation".to_string()),
        Variance::Bootstrap { replicates, seed } => {
            // θ_b for every reported cell, replicate by replicate.
            let thetas: Vec<Vec<f64>> = (0..u64::from(replicates))
                .into_par_iter()
                .map(|b| {
                    let a = frame.strata.rao_wu(seed, b);
                    let aw: Vec<f64> = a.iter().zip(&frame.weight).map(|(a, w)| a * w).collect();
                    // Denominators of `mean`: Σ a w over each domain's persons.
                    let mut dsum = vec![0.0; nd];
                    if spec.estimator == Estimator::Mean {
                        let mut pd = Vec::new();
                        for (p, &v) in aw.iter().enumerate() {
                            domains_of(p, &mut pd);
                            for &d in &pd {
                                dsum[d as usize] += v;
                            }
                        }
                    }
                    if spec.estimator == Estimator::Share {
                        for (d, c) in dom_contrib.iter().enumerate() {
                            dsum[d] = c.iter().map(|&(p, x)| aw[p as usize] * x).sum();
                        }
                    }
                    report
                        .iter()
                        .map(|&(d, k)| {
                            let c = &cell_contrib[d * nk + k];
                            let y: f64 = c.iter().map(|&(p, y, _)| aw[p as usize] * y).sum();
                            match spec.estimator {
                                Estimator::Total => y,
                                Estimator::Ratio => y / c.iter().map(|&(p, _, x)| aw[p as usize] * x).sum::<f64>(),
                                _ => y / dsum[dom_row(d)],
                            }
                        })
                        .collect()
                })
                .collect();
            let t = t_quantile(spec.rules.level, df);
            let out = estimates
                .iter()
                .enumerate()
                .map(|(j, e)| {
                    let reps: Vec<f64> = thetas.iter().map(|r| r[j]).collect();
                    let se = replicate_variance(e.estimate, &reps, 1.0 / f64::from(replicates)).sqrt();
                    Estimate {
                        se,
                        ci_lower: e.estimate - t * se,
                        ci_upper: e.estimate + t * se,
                        cv: se / e.estimate.abs(),
                        ..*e
                    }
                })
                .collect();
            (out, format!("bootstrap (Rao-Wu, B={replicates}, seed={seed})"))
        }
    };

    // Rows in breakdown order, then value, then key.
    let mut ordered: BTreeMap<(&Domain, &Vec<Option<String>>), &Estimate> = BTreeMap::new();
    for (&(d, k), e) in report.iter().zip(&estimates) {
        ordered.insert((&domains[d], &key_list[k]), e);
    }
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
        ("se_method", DataType::Utf8, false),
    ] {
        fields.push(Field::new(n, t, null));
    }
    let rows = ordered.len();
    let finite = |x: f64| x.is_finite().then_some(x);
    let mut kv: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(rows); keys.len()];
    for (_, k) in ordered.keys() {
        for (col, v) in kv.iter_mut().zip(k.iter()) {
            col.push(v.clone());
        }
    }
    let es: Vec<&Estimate> = ordered.values().copied().collect();
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(ordered.keys().map(|(d, _)| d.breakdown.as_str()))),
        Arc::new(StringArray::from_iter(ordered.keys().map(|(d, _)| d.value.as_deref()))),
    ];
    cols.extend(kv.into_iter().map(|c| Arc::new(StringArray::from(c)) as ArrayRef));
    cols.extend([
        Arc::new(Float64Array::from_iter(es.iter().map(|e| finite(e.estimate)))) as ArrayRef,
        Arc::new(Float64Array::from_iter(es.iter().map(|e| finite(e.estimate).and(finite(e.se))))),
        Arc::new(Float64Array::from_iter(es.iter().map(|e| finite(e.ci_lower)))),
        Arc::new(Float64Array::from_iter(es.iter().map(|e| finite(e.ci_upper)))),
        Arc::new(Int64Array::from_iter_values(es.iter().map(|e| e.n as i64))),
        Arc::new(Float64Array::from_iter_values(es.iter().map(|e| e.n_eff))),
        Arc::new(Float64Array::from_iter(es.iter().map(|e| finite(e.cv)))),
        Arc::new(BooleanArray::from_iter(es.iter().map(|e| {
            Some(e.n < spec.rules.min_n || !(e.cv <= spec.rules.max_cv))
        }))),
        Arc::new(StringArray::from(vec![spec.unit; rows])),
        Arc::new(StringArray::from(vec![method.as_str(); rows])),
    ]);
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}
