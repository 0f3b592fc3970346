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

/// A hash map with a fast hasher: the keys are ids and short codes from our own files.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema};
use mobility_model::margins::Categorised;
use mobility_stats::calibration::{self, Design, Residuals};
use mobility_stats::replicate::spread_estimate;
use mobility_stats::{
    Estimate, Strata, StratumSums, from_wz, ratio_estimate, ratio_of, ratio_wz, t_quantile,
    total_estimate,
};
use rayon::prelude::*;

use crate::{Error, Result};

/// Person-level breakdowns, columns of `person_frame`.
pub const PERSON_BREAKDOWNS: [&str; 5] =
    ["home_zone", "age_band", "gender", "employment", "day_type"];
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
    /// The weighted median of `y` over the query's rows (one per trip), each weighted by its
    /// person's weight; SE always from replicates (the bootstrap, or the survey's weights).
    Median,
}

impl Estimator {
    /// From the header word.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "mean" => Self::Mean,
            "share" => Self::Share,
            "ratio" => Self::Ratio,
            "total" => Self::Total,
            "median" => Self::Median,
            _ => return None,
        })
    }
}

/// Replicate weights a survey ships, one vector per replicate over the frame's persons, and
/// the scale c of V = c · Σ_r (θ_r − θ̂)².
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicateWeights {
    /// Replicate r's weight of each person (the frame's order).
    pub weights: Vec<Vec<f64>>,
    /// c.
    pub scale: f64,
    /// How c was given (`jk1`, `6/7`, ...), for the output.
    pub scheme: String,
}

/// The variance method.
#[derive(Debug, Clone, PartialEq)]
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
    /// The survey's replicate weights.
    Replicates(std::sync::Arc<ReplicateWeights>),
}

/// The replicates of a replicate method: how many, the scale c of c·Σ(θ_r − θ̂)², the name
/// the output gives the method, and each replicate's weights.
struct Replicates<'a> {
    /// Replicates that could not be calibrated to the margins.
    failed: std::sync::atomic::AtomicU64,
    /// Replicate weights drawn (or taken from the survey's): once per replicate in a pass.
    drawn: std::sync::atomic::AtomicU64,
    count: u64,
    scale: f64,
    method: String,
    variance: &'a Variance,
    frame: &'a Frame,
}

impl Variance {
    /// The replicates of this method; `None` for linearisation.
    fn replicates<'a>(&'a self, frame: &'a Frame) -> Option<Replicates<'a>> {
        let (count, scale, method) = match self {
            Variance::Linearisation => return None,
            Variance::Bootstrap { replicates, seed } => (
                u64::from(*replicates),
                1.0 / f64::from(*replicates),
                format!("bootstrap (Rao-Wu, B={replicates}, seed={seed})"),
            ),
            Variance::Replicates(r) => (
                r.weights.len() as u64,
                r.scale,
                format!("replicate weights (R={}, c={})", r.weights.len(), r.scheme),
            ),
        };
        let method = match &frame.calibration {
            Some(c) => format!(
                "{method}, each replicate calibrated to the margins of {}",
                c.variables.join(", ")
            ),
            None => method,
        };
        Some(Replicates {
            failed: std::sync::atomic::AtomicU64::new(0),
            drawn: std::sync::atomic::AtomicU64::new(0),
            count,
            scale,
            method,
            variance: self,
            frame,
        })
    }
}

impl Replicates<'_> {
    /// The weights of replicate `b`, in the frame's person order. With calibrated weights,
    /// each replicate is calibrated to the same margins (linear calibration: one step), so a
    /// calibrated margin does not vary across replicates. A replicate that cannot be (a
    /// category it leaves without anyone: a small home zone missed by a Rao–Wu draw) is left
    /// out of a bootstrap (`None`) and kept uncalibrated among a survey's replicate weights,
    /// whose scale needs them all; either way [`Replicates::failed`] counts it.
    fn weights(&self, b: u64) -> Option<Vec<f64>> {
        let w = self.raw_weights(b);
        let Some(c) = &self.frame.calibration else {
            return Some(w);
        };
        let calibrated = calibration::calibrate(
            &w,
            &c.design,
            &c.totals,
            &calibration::Options {
                method: calibration::Method::Linear,
                ..calibration::Options::default()
            },
        );
        match calibrated {
            Ok(c) => Some(c.weights),
            Err(_) => {
                self.failed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                match self.variance {
                    Variance::Bootstrap { .. } => None,
                    _ => Some(w),
                }
            }
        }
    }

    /// The variance scale over the `used` replicates, and the method's name with what was
    /// left out or kept uncalibrated.
    fn used(&self, used: usize) -> (f64, String) {
        let failed = self.failed.load(std::sync::atomic::Ordering::Relaxed);
        if failed == 0 {
            return (self.scale, self.method.clone());
        }
        match self.variance {
            Variance::Bootstrap { .. } => (
                1.0 / used.max(1) as f64,
                format!(
                    "{}; {failed} of {} replicates left out (a calibration category empty in them)",
                    self.method, self.count
                ),
            ),
            _ => (
                self.scale,
                format!(
                    "{}; {failed} of {} replicates kept uncalibrated (a calibration category empty in them)",
                    self.method, self.count
                ),
            ),
        }
    }

    /// Per indicator and reported cell, Σ_b (θ_b − θ̂)² over the replicates used (θ_b
    /// finite), and how many replicates were used.
    ///
    /// Each replicate's weights are drawn (and recalibrated) once, and every indicator's θ_b
    /// is taken under them. The replicates go in blocks ([`Block`]): one pass over an
    /// indicator's contributions serves every replicate of a block, where a pass per
    /// replicate read them all again each time (at a million persons, gigabytes of
    /// contributions read B times were most of the time). Blocks run in parallel, and their
    /// θ_b are added in replicate order: the sums are those of one replicate after the other,
    /// whatever the threads. Memory: a block's weights, at most [`Block::MAX_BYTES`], per
    /// worker, and its θ_b; not every replicate's.
    fn spread(&self, jobs: &[&Pending]) -> (Vec<Vec<f64>>, usize) {
        // From −0.0, as `Iterator::sum` of f64 starts: a cell without a finite θ_b keeps the
        // SE it had when each indicator summed its own replicates.
        let mut sq: Vec<Vec<f64>> = jobs.iter().map(|j| vec![-0.0; j.estimates.len()]).collect();
        let mut used = 0;
        let threads = rayon::current_num_threads().max(1);
        let most = (Block::MAX_BYTES / (8 * self.frame.persons().max(1))).clamp(1, 16);
        // Rounds of one block a worker, the blocks as even as the rounds allow.
        let rounds = (self.count as usize).div_ceil(threads * most).max(1);
        let k = (self.count as usize).div_ceil(rounds * threads).max(1) as u64;
        let starts: Vec<u64> = (0..self.count).step_by(k as usize).collect();
        for round in starts.chunks(threads) {
            let blocks: Vec<(usize, Vec<Vec<f64>>)> = round
                .par_iter()
                .map(|&from| {
                    let block = Block::new(self, from..(from + k).min(self.count));
                    let thetas = jobs.iter().map(|j| j.theta.at(&block)).collect();
                    (block.k, thetas)
                })
                .collect();
            for (k, thetas) in blocks {
                used += k;
                for ((sq, thetas), job) in sq.iter_mut().zip(&thetas).zip(jobs) {
                    for (c, (s, e)) in sq.iter_mut().zip(&job.estimates).enumerate() {
                        for &t in &thetas[c * k..(c + 1) * k] {
                            if t.is_finite() {
                                *s += (t - e.estimate).powi(2);
                            }
                        }
                    }
                }
            }
        }
        (sq, used)
    }

    /// The replicate's weights before recalibration.
    fn raw_weights(&self, b: u64) -> Vec<f64> {
        self.drawn
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.variance {
            Variance::Bootstrap { seed, .. } => {
                let a = self.frame.strata.rao_wu(*seed, b);
                a.iter()
                    .zip(&self.frame.weight)
                    .map(|(a, w)| a * w)
                    .collect()
            }
            Variance::Replicates(r) => r.weights[b as usize].clone(),
            Variance::Linearisation => unreachable!("linearisation has no replicates"),
        }
    }
}

/// Replicates evaluated together: the weights of the block's k replicates (those not left
/// out) side by side, person by person, `aw[p * k + j]` replicate j's weight of person p, so
/// that one pass over an indicator's contributions serves all k; and what the indicators
/// share under them: Σ a w over each of the frame's person-level domains (`mean`'s
/// denominators), summed once.
struct Block<'a> {
    frame: &'a Frame,
    k: usize,
    aw: Vec<f64>,
    domain_weights: std::sync::OnceLock<Vec<f64>>,
}

impl<'a> Block<'a> {
    /// The most bytes of weights a block holds (16 replicates at a million persons).
    const MAX_BYTES: usize = 128 << 20;

    /// The replicates `bs`, each drawn and written into its column, one at a time.
    fn new(reps: &Replicates<'a>, bs: std::ops::Range<u64>) -> Self {
        let n = reps.frame.persons();
        let width = (bs.end - bs.start) as usize;
        let mut aw = vec![0.0; n * width];
        let mut k = 0;
        for b in bs {
            if let Some(w) = reps.weights(b) {
                for (p, w) in w.into_iter().enumerate() {
                    aw[p * width + k] = w;
                }
                k += 1;
            }
        }
        // Replicates left out: the columns closed up.
        if k < width {
            for p in 0..n {
                for j in 0..k {
                    aw[p * k + j] = aw[p * width + j];
                }
            }
            aw.truncate(n * k);
        }
        Self {
            frame: reps.frame,
            k,
            aw,
            domain_weights: std::sync::OnceLock::new(),
        }
    }

    /// Σ a w per person-level domain and replicate (`[d * k + j]`), domains numbered as
    /// [`Frame::domains_of`] numbers them.
    fn domain_weights(&self) -> &[f64] {
        self.domain_weights.get_or_init(|| {
            let (frame, k) = (self.frame, self.k);
            let domains = 1 + frame.values.iter().map(Vec::len).sum::<usize>();
            let mut sums = vec![0.0; domains * k];
            let mut pd = Vec::new();
            for p in 0..frame.persons() {
                frame.domains_of(p, &mut pd);
                let row = &self.aw[p * k..(p + 1) * k];
                for &d in &pd {
                    for (s, v) in sums[d as usize * k..].iter_mut().zip(row) {
                        *s += v;
                    }
                }
            }
            sums
        })
    }

    /// The weighted median of `values` (value, person; sorted by value) under each of the k
    /// replicates, as [`weighted_median`] gives it, in two passes for all k: the totals, then
    /// the cumulative weights until each replicate's reaches half its total.
    fn medians(&self, values: &[(f64, u32)]) -> Vec<f64> {
        let k = self.k;
        let total = self.sums(values.iter().map(|v| (v.1, 1.0)));
        let mut out = vec![f64::NAN; k];
        // Replicates still looking: those with weight.
        let mut open: Vec<usize> = (0..k)
            .filter(|&j| !values.is_empty() && !total[j].is_nan() && total[j] > 0.0)
            .collect();
        let mut acc = vec![0.0; k];
        for v in values {
            if open.is_empty() {
                break;
            }
            let row = &self.aw[v.1 as usize * k..(v.1 as usize + 1) * k];
            open.retain(|&j| {
                acc[j] += row[j];
                let reached = acc[j] >= 0.5 * total[j];
                if reached {
                    out[j] = v.0;
                }
                !reached
            });
        }
        for j in open {
            out[j] = values.last().map_or(f64::NAN, |v| v.0);
        }
        out
    }

    /// Σ a w v over `terms` (person, v) for each of the k replicates, in the terms' order.
    fn sums(&self, terms: impl Iterator<Item = (u32, f64)>) -> Vec<f64> {
        let k = self.k;
        let mut out = vec![-0.0; k];
        for (p, v) in terms {
            let row = &self.aw[p as usize * k..(p as usize + 1) * k];
            for (o, a) in out.iter_mut().zip(row) {
                *o += a * v;
            }
        }
        out
    }
}

/// What θ_b of an indicator's reported cells needs under replicate weights, owned, so that
/// the indicator can wait for the pass over the replicates it shares with the others.
enum Theta {
    /// `mean`, `share`, `ratio` and `total`: per reported cell its persons' (person, y, x),
    /// and the index of its denominator: a person-level domain of the frame (`mean`), or an
    /// entry of `shares` (`share`: per domain, its persons' (person, x)).
    Cells {
        estimator: Estimator,
        contrib: Vec<Vec<(u32, f64, f64)>>,
        denominator: Vec<u32>,
        shares: Vec<Vec<(u32, f64)>>,
    },
    /// `median`: per reported cell its observations (value, person), sorted by value.
    Medians(Vec<Vec<(f64, u32)>>),
}

impl Theta {
    /// From an indicator's sums: the contributions of the reported cells, taken out.
    fn cells(
        mut sums: Sums,
        report: &[(usize, usize)],
        nk: usize,
        estimator: Estimator,
        dom_row: &dyn Fn(usize) -> usize,
    ) -> Self {
        let mut taken: HashMap<usize, u32> = HashMap::default();
        let mut shares = Vec::new();
        let mut denominator = Vec::with_capacity(report.len());
        let mut contrib = Vec::with_capacity(report.len());
        for &(d, k) in report {
            let row = dom_row(d);
            denominator.push(match estimator {
                Estimator::Share => *taken.entry(row).or_insert_with(|| {
                    let mut c = std::mem::take(&mut sums.dom_contrib[row]);
                    c.shrink_to_fit();
                    shares.push(c);
                    shares.len() as u32 - 1
                }),
                _ => row as u32,
            });
            let mut c = std::mem::take(&mut sums.cell_contrib[d * nk + k]);
            c.shrink_to_fit();
            contrib.push(c);
        }
        Self::Cells {
            estimator,
            contrib,
            denominator,
            shares,
        }
    }

    /// θ_b of each reported cell under each replicate of `block`, `[cell * k + j]`.
    fn at(&self, block: &Block<'_>) -> Vec<f64> {
        let k = block.k;
        match self {
            Self::Medians(cells) => {
                let mut out = Vec::with_capacity(cells.len() * k);
                for c in cells {
                    out.extend(block.medians(c));
                }
                out
            }
            Self::Cells {
                estimator,
                contrib,
                denominator,
                shares,
            } => {
                let shares: Vec<Vec<f64>> = shares
                    .iter()
                    .map(|c| block.sums(c.iter().copied()))
                    .collect();
                let mut out = Vec::with_capacity(contrib.len() * k);
                for (c, &den) in contrib.iter().zip(denominator) {
                    let y = block.sums(c.iter().map(|&(p, y, _)| (p, y)));
                    let den = den as usize;
                    match estimator {
                        Estimator::Total => out.extend(y),
                        Estimator::Ratio => {
                            let x = block.sums(c.iter().map(|&(p, _, x)| (p, x)));
                            out.extend(y.iter().zip(&x).map(|(y, x)| y / x));
                        }
                        Estimator::Share => {
                            out.extend(y.iter().zip(&shares[den]).map(|(y, x)| y / x));
                        }
                        _ => {
                            let x = &block.domain_weights()[den * k..(den + 1) * k];
                            out.extend(y.iter().zip(x).map(|(y, x)| y / x));
                        }
                    }
                }
                out
            }
        }
    }

    /// The bytes it holds.
    fn bytes(&self) -> usize {
        fn of<T>(v: &[Vec<T>]) -> usize {
            v.iter()
                .map(|c| c.capacity() * std::mem::size_of::<T>() + std::mem::size_of::<Vec<T>>())
                .sum()
        }
        match self {
            Self::Cells {
                contrib,
                denominator,
                shares,
                ..
            } => of(contrib) + of(shares) + 4 * denominator.len(),
            Self::Medians(cells) => of(cells),
        }
    }
}

/// An indicator estimated but for its replicates ([`Intake::finish_pending`]): its point
/// estimates, what its replicates need, and the parts of its table. [`replicate_all`]
/// finishes it, with the others that share its replicates.
pub struct Pending {
    frame: Arc<Frame>,
    spec: Spec,
    keys: Vec<String>,
    domains: Vec<Domain>,
    key_list: Vec<Vec<Option<String>>>,
    report: Vec<(usize, usize)>,
    /// Point estimates, n and n_eff; the SE, CI and CV are the replicates' to give.
    estimates: Vec<Estimate>,
    theta: Theta,
}

impl Pending {
    /// The indicator's id.
    pub fn id(&self) -> &str {
        &self.spec.id
    }

    /// The bytes it holds until it is finished.
    pub fn bytes(&self) -> usize {
        let strings = |v: &mut dyn Iterator<Item = &String>| -> usize {
            v.map(|s| s.capacity() + std::mem::size_of::<String>())
                .sum()
        };
        let keys: usize = self
            .key_list
            .iter()
            .map(|k| strings(&mut k.iter().flatten()) + std::mem::size_of_val(k.as_slice()))
            .sum();
        let domains = strings(
            &mut self
                .domains
                .iter()
                .flat_map(|d| std::iter::once(&d.breakdown).chain(&d.value)),
        );
        self.theta.bytes()
            + keys
            + domains
            + self.estimates.capacity() * std::mem::size_of::<Estimate>()
            + self.report.capacity() * std::mem::size_of::<(usize, usize)>()
    }
}

/// An estimation's result: the table, or an indicator whose SEs wait for the replicates.
pub enum Finished {
    Table(RecordBatch),
    Pending(Box<Pending>),
}

/// One pass over the replicates of a variance method, shared by indicators.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplicatePass {
    /// The method, as the tables name it.
    pub method: String,
    /// Replicate weights drawn (or recalibrated), each once for all the indicators.
    pub replicates_drawn: u64,
    /// The indicators evaluated under them.
    pub indicators: Vec<String>,
    pub seconds: f64,
}

/// Finishes indicators estimated up to their replicates: those with the same frame and
/// variance method in one pass, which draws (and recalibrates) each replicate's weights once
/// and evaluates every indicator's cells under them ([`Replicates::spread`]). The tables in
/// the order given, and the passes made.
pub fn replicate_all(pending: Vec<Pending>) -> Result<(Vec<RecordBatch>, Vec<ReplicatePass>)> {
    let same = |a: &Pending, b: &Pending| {
        Arc::ptr_eq(&a.frame, &b.frame)
            && match (&a.spec.variance, &b.spec.variance) {
                // A survey's replicate weights: one copy per run, compared by address.
                (Variance::Replicates(x), Variance::Replicates(y)) => Arc::ptr_eq(x, y),
                (x, y) => x == y,
            }
    };
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, p) in pending.iter().enumerate() {
        match groups.iter_mut().find(|g| same(&pending[g[0]], p)) {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    let mut tables: Vec<Option<RecordBatch>> = vec![None; pending.len()];
    let mut passes = Vec::with_capacity(groups.len());
    for group in groups {
        let started = std::time::Instant::now();
        let jobs: Vec<&Pending> = group.iter().map(|&i| &pending[i]).collect();
        let (frame, variance) = (&jobs[0].frame, &jobs[0].spec.variance);
        let reps = variance
            .replicates(frame)
            .expect("only replicate methods wait for replicates");
        let (sq, used) = reps.spread(&jobs);
        let (scale, method) = reps.used(used);
        for ((&i, job), sq) in group.iter().zip(&jobs).zip(&sq) {
            let t = t_quantile(job.spec.rules.level, frame.df());
            let estimates: Vec<Estimate> = job
                .estimates
                .iter()
                .zip(sq)
                .map(|(e, &sq)| spread_estimate(*e, sq, scale, t))
                .collect();
            tables[i] = Some(output_batch(
                &job.spec,
                &job.keys,
                &job.domains,
                &job.key_list,
                &job.report,
                &estimates,
                &method,
            )?);
        }
        passes.push(ReplicatePass {
            method,
            replicates_drawn: reps.drawn.load(std::sync::atomic::Ordering::Relaxed),
            indicators: jobs.iter().map(|j| j.spec.id.clone()).collect(),
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    let tables = tables
        .into_iter()
        .map(|t| t.expect("every indicator is in a group"))
        .collect();
    Ok((tables, passes))
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
    /// Each person's id, in the frame's (stratum, person_id) order.
    ids: Vec<i64>,
    index: PersonIndex,
    weight: Vec<f64>,
    stratum: Vec<u32>,
    n_h: Vec<u64>,
    strata: Strata,
    /// Per person-level breakdown: each person's value id, or NONE.
    value_of: Vec<Vec<u32>>,
    /// Per person-level breakdown: the value names, sorted.
    values: Vec<Vec<String>>,
    /// The margins the weights were calibrated to, if any.
    calibration: Option<Calibration>,
    /// Per person-level domain (`all`, then each breakdown's values) and stratum, its persons'
    /// x terms with x = 1: the denominators of every `mean` and `total`, summed once for all
    /// of them ([`Frame::domain_persons`]).
    domain_persons: std::sync::OnceLock<Vec<StratumSums>>,
    /// The persons grouped by stratum and person-level domains ([`Frame::profiles`]).
    profiles: std::sync::OnceLock<Profiles>,
}

/// The persons grouped by their stratum and their person-level domains: the persons of a
/// profile count in the same cells of every indicator, so their terms can be summed per
/// (profile, key) and each sum added to the profile's domains once ([`Sums::spread`]), in
/// place of each person's terms added to each of its domains.
struct Profiles {
    /// Each person's profile.
    of: Vec<u32>,
    /// Per profile: its stratum and its domains (`all` first), numbered as
    /// [`Frame::domains_of`] numbers them.
    list: Vec<(u32, Vec<u32>)>,
}

/// Weights calibrated to margins: the design of the margins over the frame's persons, their
/// totals, and what the residual variance needs.
pub struct Calibration {
    design: Design,
    totals: Vec<f64>,
    residuals: Residuals,
    /// The margin variables, for the output.
    variables: Vec<String>,
}

impl Frame {
    /// From `SELECT person_id, stratum, w, home_zone, age_band, gender, employment, day_type
    /// FROM person_frame`.
    pub fn from_batches(batches: &[RecordBatch]) -> Result<Self> {
        let mut ids = Vec::new();
        let mut weight = Vec::new();
        // Column 1 is the stratum, 3.. the person-level breakdowns: interned as met.
        let mut interners: Vec<Interner> = (0..=PERSON_BREAKDOWNS.len())
            .map(|_| Interner::default())
            .collect();
        let mut coded: Vec<Vec<u32>> = vec![Vec::new(); PERSON_BREAKDOWNS.len() + 1];
        for b in batches {
            let id = arrow::compute::cast(b.column(0), &DataType::Int64)?;
            let w = arrow::compute::cast(b.column(2), &DataType::Float64)?;
            let (id, w) = (
                id.as_primitive::<Int64Type>(),
                w.as_primitive::<Float64Type>(),
            );
            ids.extend(id.values().iter().copied());
            weight.extend((0..b.num_rows()).map(|i| if w.is_valid(i) { w.value(i) } else { 0.0 }));
            for (k, (interner, out)) in interners.iter_mut().zip(coded.iter_mut()).enumerate() {
                let col = if k == 0 { 1 } else { 2 + k };
                interner.code(b.column(col), out)?;
            }
        }
        // Sorted value names, and codes renumbered to match.
        let mut sorted: Vec<(Vec<String>, Vec<u32>)> = interners
            .into_iter()
            .zip(coded)
            .map(|(i, codes)| {
                let (names, remap) = i.sorted();
                let codes = codes
                    .into_iter()
                    .map(|c| if c == NONE { NONE } else { remap[c as usize] })
                    .collect();
                (names, codes)
            })
            .collect();
        let (strata_names, stratum) = sorted.remove(0);
        // A person without a stratum is in the stratum named ''.
        let stratum: Vec<u32> = if stratum.contains(&NONE) {
            let extra = strata_names.len() as u32;
            stratum
                .into_iter()
                .map(|h| if h == NONE { extra } else { h })
                .collect()
        } else {
            stratum
        };
        // Persons by stratum, and in a stratum by person_id, whatever order the query gave
        // them in. The bootstrap draws in this order, and the query's (a join's output, its
        // partitions interleaved as their threads go) differs from run to run: the same seed
        // gave other SEs. Stratum first: a walk over the persons' rows then adds to one
        // stratum's cells at a time, a working set a tenth of the sums' with ten strata.
        let key = |i: usize| (stratum[i], ids[i]);
        let (ids, weight, stratum, sorted) = if (1..ids.len()).all(|i| key(i - 1) <= key(i)) {
            (ids, weight, stratum, sorted)
        } else {
            // Stable: of a person_id given twice in one stratum, the later row stays the one
            // found (in two strata, the one in the later stratum). Persons that come by id
            // (a table stored by person) need only be counted out by stratum.
            let order: Vec<u32> = if ids.is_sorted() {
                let mut next = vec![0usize; strata_names.len() + 2];
                for &h in &stratum {
                    next[h as usize + 1] += 1;
                }
                for h in 1..next.len() {
                    next[h] += next[h - 1];
                }
                let mut order = vec![0u32; ids.len()];
                for (i, &h) in stratum.iter().enumerate() {
                    order[next[h as usize]] = i as u32;
                    next[h as usize] += 1;
                }
                order
            } else {
                let mut order: Vec<u32> = (0..ids.len() as u32).collect();
                order.sort_by_key(|&i| key(i as usize));
                order
            };
            let permute =
                |v: &[u32]| -> Vec<u32> { order.iter().map(|&i| v[i as usize]).collect() };
            let sorted = sorted
                .into_iter()
                .map(|(names, codes)| (names, permute(&codes)))
                .collect();
            (
                order.iter().map(|&i| ids[i as usize]).collect(),
                order.iter().map(|&i| weight[i as usize]).collect(),
                permute(&stratum),
                sorted,
            )
        };
        let n_strata = stratum.iter().map(|&h| h as usize + 1).max().unwrap_or(0);
        let mut n_h = vec![0u64; n_strata];
        for &h in &stratum {
            n_h[h as usize] += 1;
        }
        let (values, value_of) = sorted.into_iter().unzip();
        let index = PersonIndex::new(&ids);
        Ok(Self {
            ids,
            index,
            weight,
            strata: Strata::new(&stratum),
            stratum,
            n_h,
            value_of,
            values,
            calibration: None,
            domain_persons: std::sync::OnceLock::new(),
            profiles: std::sync::OnceLock::new(),
        })
    }

    /// Takes the margins the weights were calibrated to (persons in any order): estimates
    /// then get their SE from the calibration residuals, and replicates are recalibrated.
    /// `Err` says why not: a person outside the frame, or weights that no longer meet the
    /// margins (persons re-ingested after `mobility weight`).
    pub fn calibrate(&mut self, c: &Categorised) -> std::result::Result<(), String> {
        let n = self.persons();
        if c.person_id.len() != n {
            return Err(format!(
                "calibration_margins cover {} persons, the frame {n}",
                c.person_id.len()
            ));
        }
        // The categories in the frame's person order.
        let mut of_person = vec![vec![0u32; n]; c.variables.len()];
        let mut weights = vec![0.0; n];
        for (i, &id) in c.person_id.iter().enumerate() {
            let Some(p) = self.position(id) else {
                return Err(format!("person {id} is not in the frame"));
            };
            for (v, cats) in c.of_person.iter().enumerate() {
                of_person[v][p] = cats[i];
            }
            weights[i] = self.weight[p];
        }
        let max_error = c.max_error(&weights);
        if !(max_error <= 1e-6) {
            return Err(format!(
                "persons.weight no longer meets calibration_margins (largest error {max_error:.2e} of a total): \
                 were persons ingested again after `mobility weight`? Run it again"
            ));
        }
        let (design, column_of) = Design::from_categories(&of_person, &c.sizes());
        let totals = c.column_totals(&column_of, design.columns);
        let Some(residuals) = Residuals::new(&self.weight, &self.stratum, self.n_h.len(), &design)
        else {
            return Err("the calibration margins' design is singular".into());
        };
        self.calibration = Some(Calibration {
            design,
            totals,
            residuals,
            variables: c.variables.clone(),
        });
        Ok(())
    }

    /// The person-level domains' persons per (domain, stratum), domains numbered as every
    /// intake numbers them: `all`, then each breakdown's values in order. Summed in the
    /// frame's person order, as each indicator summed them before.
    fn domain_persons(&self) -> &[StratumSums] {
        self.domain_persons.get_or_init(|| {
            let ns = self.n_h.len();
            let domains = 1 + self.values.iter().map(Vec::len).sum::<usize>();
            let mut sums = vec![StratumSums::default(); domains * ns];
            let mut pd = Vec::new();
            for p in 0..self.persons() {
                self.domains_of(p, &mut pd);
                let (w, h) = (self.weight[p], self.stratum[p] as usize);
                for &d in &pd {
                    sums[d as usize * ns + h].add_x(w, 1.0);
                }
            }
            sums
        })
    }

    /// The persons' profiles, found once for all indicators.
    fn profiles(&self) -> &Profiles {
        self.profiles.get_or_init(|| {
            // Stratum, then the domains, NONE after the last.
            let mut ids: HashMap<[u32; 2 + PERSON_BREAKDOWNS.len()], u32> = HashMap::default();
            let mut of = Vec::with_capacity(self.persons());
            let mut list = Vec::new();
            let mut pd = Vec::new();
            for p in 0..self.persons() {
                self.domains_of(p, &mut pd);
                let mut key = [NONE; 2 + PERSON_BREAKDOWNS.len()];
                key[0] = self.stratum[p];
                key[1..=pd.len()].copy_from_slice(&pd);
                let next = list.len() as u32;
                let id = *ids.entry(key).or_insert(next);
                if id == next {
                    list.push((self.stratum[p], pd.clone()));
                }
                of.push(id);
            }
            Profiles { of, list }
        })
    }

    /// The person-level domains person `p` is in (`all` first), numbered as in
    /// [`Frame::domain_persons`].
    fn domains_of(&self, p: usize, out: &mut Vec<u32>) {
        out.clear();
        out.push(0);
        let mut first = 1;
        for (k, values) in self.values.iter().enumerate() {
            let v = self.value_of[k][p];
            if v != NONE {
                out.push(first + v);
            }
            first += values.len() as u32;
        }
    }

    /// The position of a person in the frame.
    pub fn position(&self, person_id: i64) -> Option<usize> {
        self.index.get(person_id).map(|i| i as usize)
    }

    /// Persons in the sample.
    /// The person_id of the person at `position`.
    pub fn person_id(&self, position: usize) -> i64 {
        self.ids[position]
    }

    pub fn persons(&self) -> usize {
        self.weight.len()
    }

    /// Degrees of freedom of the CIs: persons − strata.
    pub fn df(&self) -> f64 {
        self.persons().saturating_sub(self.n_h.len()) as f64
    }
}

/// Person id → position in the frame. Surveys number their persons 1, 2, 3, …: then a table
/// indexed by `id − min` (one read per trip instead of a hash look-up in a map of a million
/// persons); ids spread wider than four slots a person fall back to a hash map. The later of
/// two rows with the same id wins in both.
enum PersonIndex {
    Dense { min: i64, pos: Vec<u32> },
    Hashed(HashMap<i64, u32>),
}

impl PersonIndex {
    fn new(ids: &[i64]) -> Self {
        let (Some(&min), Some(&max)) = (ids.iter().min(), ids.iter().max()) else {
            return Self::Dense {
                min: 0,
                pos: Vec::new(),
            };
        };
        let span = (max as i128 - min as i128 + 1) as u128;
        if span <= 4 * ids.len() as u128 + 1024 {
            let mut pos = vec![NONE; span as usize];
            for (i, &id) in ids.iter().enumerate() {
                pos[(id - min) as usize] = i as u32;
            }
            Self::Dense { min, pos }
        } else {
            Self::Hashed(
                ids.iter()
                    .enumerate()
                    .map(|(i, &id)| (id, i as u32))
                    .collect(),
            )
        }
    }

    #[inline]
    fn get(&self, id: i64) -> Option<u32> {
        match self {
            Self::Dense { min, pos } => id
                .checked_sub(*min)
                .and_then(|o| usize::try_from(o).ok())
                .and_then(|o| pos.get(o).copied())
                .filter(|&p| p != NONE),
            Self::Hashed(m) => m.get(&id).copied(),
        }
    }
}

/// Strings of a column coded as they are met (NULL → NONE), without a String per row. Values
/// of at most 12 bytes (modes, purposes, bands, zone ids) are looked up by one integer, the
/// one Arrow's string views keep them in, without hashing or comparing a string.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    short: HashMap<u128, u32>,
    names: Vec<String>,
}

/// The longest value an Arrow string view holds inline, and [`short_key`] packs.
const INLINE: usize = 12;

/// `v` as the integer of an inline string view (its length in the low 32 bits, its bytes
/// after, zeros above), when it has at most [`INLINE`] bytes.
#[inline]
fn short_key(v: &[u8]) -> Option<u128> {
    (v.len() <= INLINE).then(|| {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&(v.len() as u32).to_le_bytes());
        b[4..4 + v.len()].copy_from_slice(v);
        u128::from_le_bytes(b)
    })
}

/// An inline view's integer with the bytes past its value cleared (the format asks writers to
/// zero them; a reader does not rely on it), so that it equals [`short_key`] of the value.
#[inline]
fn inline_view_key(view: u128) -> Option<u128> {
    let len = view as u32 as usize;
    (len <= INLINE).then(|| view & (u128::MAX >> (8 * (INLINE - len))))
}

impl Interner {
    fn id(&mut self, v: &str) -> u32 {
        let key = short_key(v.as_bytes());
        if let Some(&i) = key.and_then(|k| self.short.get(&k)) {
            return i;
        }
        let i = match self.ids.get(v) {
            Some(&i) => i,
            None => {
                self.names.push(v.to_string());
                let i = self.names.len() as u32 - 1;
                self.ids.insert(v.to_string(), i);
                i
            }
        };
        if let Some(k) = key {
            self.short.insert(k, i);
        }
        i
    }

    fn code(&mut self, col: &ArrayRef, out: &mut Vec<u32>) -> Result<()> {
        match col.data_type() {
            DataType::Utf8View => self.code_views(col.as_string_view(), out),
            DataType::Utf8 => self.code_strings(col.as_string::<i32>(), out),
            DataType::LargeUtf8 => self.code_strings(col.as_string::<i64>(), out),
            _ => {
                let c = arrow::compute::cast(col, &DataType::Utf8View)?;
                self.code_views(c.as_string_view(), out)
            }
        }
        Ok(())
    }

    /// A string view column: short values by their view's integer, with the last one met
    /// remembered (a person's trips often repeat a mode or a zone).
    fn code_views(&mut self, c: &arrow::array::StringViewArray, out: &mut Vec<u32>) {
        let views = c.views();
        let mut last: Option<(u128, u32)> = None;
        out.extend((0..c.len()).map(|i| {
            if c.is_null(i) {
                return NONE;
            }
            match inline_view_key(views[i]) {
                Some(key) => self.short_id(key, &mut last, || c.value(i)),
                None => self.id(c.value(i)),
            }
        }));
    }

    /// The id of a short value by its key, the last one met (`last`) first; a value not met
    /// yet (`value` gives it) interned.
    #[inline]
    fn short_id<'v>(
        &mut self,
        key: u128,
        last: &mut Option<(u128, u32)>,
        value: impl FnOnce() -> &'v str,
    ) -> u32 {
        match *last {
            Some((k, id)) if k == key => id,
            _ => {
                let id = match self.short.get(&key) {
                    Some(&id) => id,
                    None => self.id(value()),
                };
                *last = Some((key, id));
                id
            }
        }
    }

    /// A string column: short values by the integer [`short_key`] gives, read from the
    /// values buffer as twelve bytes masked to the value's length (no copy of a variable
    /// length, which is a call to `memcpy` per row), with the last one met remembered, as
    /// [`Interner::code_views`] does for views.
    fn code_strings<O: arrow::array::OffsetSizeTrait>(
        &mut self,
        c: &arrow::array::GenericStringArray<O>,
        out: &mut Vec<u32>,
    ) {
        let (offsets, bytes) = (c.value_offsets(), c.value_data());
        let mut last: Option<(u128, u32)> = None;
        out.extend((0..c.len()).map(|i| {
            if c.is_null(i) {
                return NONE;
            }
            let (start, end) = (offsets[i].as_usize(), offsets[i + 1].as_usize());
            let len = end - start;
            if len > INLINE || start + INLINE > bytes.len() {
                return self.id(c.value(i));
            }
            // Laid out as an inline view: the length, then the bytes, masked past the value.
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&(len as u32).to_le_bytes());
            b[4..].copy_from_slice(&bytes[start..start + INLINE]);
            let key = inline_view_key(u128::from_le_bytes(b)).expect("at most INLINE bytes");
            self.short_id(key, &mut last, || c.value(i))
        }));
    }

    /// The names sorted, and each old code's new one.
    fn sorted(self) -> (Vec<String>, Vec<u32>) {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_by(|&a, &b| self.names[a as usize].cmp(&self.names[b as usize]));
        let mut remap = vec![0; order.len()];
        for (new, &old) in order.iter().enumerate() {
            remap[old as usize] = new as u32;
        }
        let mut names = self.names;
        let sorted = order
            .iter()
            .map(|&o| std::mem::take(&mut names[o as usize]))
            .collect();
        (sorted, remap)
    }
}

/// The dimensions of an indicator's accumulators.
struct Shape {
    nd: usize,
    nk: usize,
    ns: usize,
    estimator: Estimator,
    bootstrap: bool,
    /// Above this many (cell, stratum) slots the sums are a hash map ([`CellSums`]).
    dense_max: usize,
    /// The number of profiles where the person-level domains' terms are summed per
    /// (profile, key) ([`Profiles`]); `None` where each person's are added to each of its
    /// domains.
    profiles: Option<usize>,
    /// Whether cells that would be hash maps are summed key by key ([`keyed_sums`]): for an
    /// indicator that reports observed cells only.
    keyed: bool,
}

/// Sums over persons: per (domain, key, stratum) the y terms (and for `ratio` the x terms);
/// per (domain, stratum) the x terms of `share` (`mean` and `total` take them from the frame);
/// and for the bootstrap the person-level contributions: per cell (person, y, x), per domain
/// (person, x).
struct Sums {
    cells: CellSums,
    dom: Vec<StratumSums>,
    cell_contrib: Vec<Vec<(u32, f64, f64)>>,
    dom_contrib: Vec<Vec<(u32, f64)>>,
    /// Per (profile, key), where [`Shape::profiles`] has a count: the terms of the person-level
    /// domains' cells, `None` where no person of the profile met the key.
    by_profile: Vec<Option<StratumSums>>,
    /// Per profile, a share's x terms of its person-level domains.
    profile_x: Vec<StratumSums>,
}

/// The per (cell, stratum) sums: an array when the indicator has few cells, a hash map per
/// stratum of the cells met when an array would be large (origin–destination cells by mode or
/// period: most of the zone pairs × domains × strata are empty, and an array per chunk of rows
/// would cost gigabytes to allocate and merge). The frame's persons come stratum by stratum,
/// so a walk over them fills one stratum's map at a time, which stays in the cache where one
/// map of every stratum did not.
enum CellSums {
    /// Slot `cell * ns + h`.
    Dense {
        sums: Vec<StratumSums>,
        ns: usize,
    },
    Sparse(Vec<HashMap<usize, StratumSums>>),
    /// A total's cells need only Σ w y and Σ w² y² (its x terms come from the frame): 16
    /// bytes a slot in place of 72, for the origin–destination totals' hundreds of thousands.
    SparseY(Vec<HashMap<usize, [f64; 2]>>),
    /// The slots met, listed key by key ([`keyed_sums`]): key `k`'s slots are
    /// `start[k]..start[k + 1]`, each its (domain, stratum), sorted; their sums in `full`, or
    /// for a total's y terms only in `y`.
    Keyed {
        nk: usize,
        start: Vec<usize>,
        at: Vec<(u32, u32)>,
        full: Vec<StratumSums>,
        y: Vec<[f64; 2]>,
    },
}

/// A total's y terms as the sums of a cell.
fn y_only(&[sw_y, sw2_yy]: &[f64; 2]) -> StratumSums {
    StratumSums {
        sw_y,
        sw2_yy,
        ..StratumSums::default()
    }
}

impl CellSums {
    /// Above this many (cell, stratum) slots, a hash map.
    const DENSE_MAX: usize = 1 << 20;

    /// `cells` × `ns` slots; hash maps above `dense_max`, of the y terms only when `y_only`.
    fn new(cells: usize, ns: usize, dense_max: usize, y_only: bool) -> Self {
        if cells * ns <= dense_max {
            Self::Dense {
                sums: vec![StratumSums::default(); cells * ns],
                ns,
            }
        } else if y_only {
            Self::SparseY((0..ns).map(|_| HashMap::default()).collect())
        } else {
            Self::Sparse((0..ns).map(|_| HashMap::default()).collect())
        }
    }

    fn get(&self, cell: usize, h: usize) -> StratumSums {
        match self {
            Self::Dense { sums, ns } => sums[cell * ns + h],
            Self::Sparse(m) => m[h].get(&cell).copied().unwrap_or_default(),
            Self::SparseY(m) => m[h].get(&cell).map_or_else(StratumSums::default, y_only),
            Self::Keyed { .. } => unreachable!("keyed sums are read by get_strata"),
        }
    }

    /// The cell's sums in each stratum, written into `out` (one per stratum): for keyed sums
    /// one search of the key's slots in place of one per stratum.
    fn get_strata(&self, cell: usize, out: &mut [StratumSums]) {
        match self {
            Self::Keyed {
                nk,
                start,
                at,
                full,
                y,
            } => {
                out.fill(StratumSums::default());
                let (d, k) = ((cell / nk) as u32, cell % nk);
                let first = start[k] + at[start[k]..start[k + 1]].partition_point(|a| a.0 < d);
                for (i, &(_, h)) in at[first..start[k + 1]]
                    .iter()
                    .enumerate()
                    .take_while(|(_, a)| a.0 == d)
                {
                    let i = first + i;
                    out[h as usize] = if full.is_empty() {
                        y_only(&y[i])
                    } else {
                        full[i]
                    };
                }
            }
            _ => {
                for (h, o) in out.iter_mut().enumerate() {
                    *o = self.get(cell, h);
                }
            }
        }
    }

    fn get_mut(&mut self, cell: usize, h: usize) -> &mut StratumSums {
        match self {
            Self::Dense { sums, ns } => &mut sums[cell * *ns + h],
            Self::Sparse(m) => m[h].entry(cell).or_default(),
            Self::SparseY(_) => unreachable!("a total's cells take add_y"),
            Self::Keyed { .. } => unreachable!("keyed sums are made whole by keyed_sums"),
        }
    }

    /// A person's y terms in (cell, stratum) ([`StratumSums::add_y`]).
    #[inline]
    fn add_y(&mut self, cell: usize, h: usize, w: f64, y: f64) {
        match self {
            Self::SparseY(m) => {
                let e = m[h].entry(cell).or_insert([0.0; 2]);
                let [wy, w2yy] = mobility_stats::ratio::y_terms(w, y);
                e[0] += wy;
                e[1] += w2yy;
            }
            _ => self.get_mut(cell, h).add_y(w, y),
        }
    }

    /// Sums of more persons in (cell, stratum).
    fn add(&mut self, cell: usize, h: usize, sums: &StratumSums) {
        match self {
            Self::SparseY(m) => {
                let e = m[h].entry(cell).or_insert([0.0; 2]);
                e[0] += sums.sw_y;
                e[1] += sums.sw2_yy;
            }
            _ => *self.get_mut(cell, h) += sums,
        }
    }

    fn merge(&mut self, o: CellSums) {
        /// The smaller map added into the larger (the workers' runs of persons cover
        /// different strata, so one of the two is mostly empty).
        fn merge_maps<V>(
            a: &mut HashMap<usize, V>,
            mut b: HashMap<usize, V>,
            add: impl Fn(&mut V, V),
        ) where
            V: Default,
        {
            if a.len() < b.len() {
                std::mem::swap(a, &mut b);
            }
            for (i, v) in b {
                add(a.entry(i).or_default(), v);
            }
        }
        match (self, o) {
            (Self::Dense { sums: a, .. }, Self::Dense { sums: b, .. }) => {
                for (a, b) in a.iter_mut().zip(&b) {
                    *a += b;
                }
            }
            (Self::Sparse(a), Self::Sparse(b)) => {
                for (a, b) in a.iter_mut().zip(b) {
                    merge_maps(a, b, |a, b| *a += &b);
                }
            }
            (Self::SparseY(a), Self::SparseY(b)) => {
                for (a, b) in a.iter_mut().zip(b) {
                    merge_maps(a, b, |a, [y, yy]| {
                        a[0] += y;
                        a[1] += yy;
                    });
                }
            }
            _ => unreachable!("one shape per indicator"),
        }
    }

    /// The cells with a slot in some stratum, each once; `None` for an array, where every
    /// cell is. Sorted, but for keyed sums, whose cells come key by key, in the order of
    /// their slots: the look-ups that follow then read the slots in order.
    fn occupied(&self) -> Option<Vec<usize>> {
        let mut c: Vec<usize> = match self {
            Self::Dense { .. } => return None,
            Self::Sparse(m) => m.iter().flat_map(|m| m.keys().copied()).collect(),
            Self::SparseY(m) => m.iter().flat_map(|m| m.keys().copied()).collect(),
            Self::Keyed { nk, start, at, .. } => {
                let mut c: Vec<usize> = start
                    .windows(2)
                    .enumerate()
                    .flat_map(|(k, w)| {
                        at[w[0]..w[1]]
                            .iter()
                            .map(move |&(d, _)| d as usize * nk + k)
                    })
                    .collect();
                // A key's slots are sorted by domain: a cell's strata are together.
                c.dedup();
                return Some(c);
            }
        };
        c.sort_unstable();
        c.dedup();
        Some(c)
    }
}

impl Sums {
    fn new(s: &Shape) -> Self {
        Self {
            cells: CellSums::new(
                s.nd * s.nk,
                s.ns,
                s.dense_max,
                s.estimator == Estimator::Total,
            ),
            dom: vec![StratumSums::default(); s.nd * s.ns],
            cell_contrib: if s.bootstrap {
                vec![Vec::new(); s.nd * s.nk]
            } else {
                Vec::new()
            },
            dom_contrib: if s.bootstrap {
                vec![Vec::new(); s.nd]
            } else {
                Vec::new()
            },
            by_profile: vec![None; s.profiles.map_or(0, |n| n * s.nk)],
            profile_x: match s.profiles {
                Some(n) if s.estimator == Estimator::Share => vec![StratumSums::default(); n],
                _ => Vec::new(),
            },
        }
    }

    fn merge(&mut self, o: Sums) {
        self.cells.merge(o.cells);
        for (a, b) in self.dom.iter_mut().zip(&o.dom) {
            *a += b;
        }
        for (a, b) in self.cell_contrib.iter_mut().zip(o.cell_contrib) {
            a.extend(b);
        }
        for (a, b) in self.dom_contrib.iter_mut().zip(o.dom_contrib) {
            a.extend(b);
        }
        for (a, b) in self.by_profile.iter_mut().zip(o.by_profile) {
            match (a, b) {
                (Some(a), Some(b)) => *a += &b,
                (a, b) => *a = a.or(b),
            }
        }
        for (a, b) in self.profile_x.iter_mut().zip(&o.profile_x) {
            *a += b;
        }
    }

    /// Adds each (profile, key) sum to the cells of the profile's domains, and a share's
    /// x terms to those domains.
    fn spread(&mut self, s: &Shape, profiles: &Profiles) {
        let (nk, ns) = (s.nk, s.ns);
        for (prof, (h, domains)) in profiles.list.iter().enumerate() {
            let h = *h as usize;
            for (k, sums) in self.by_profile[prof * nk..(prof + 1) * nk]
                .iter()
                .enumerate()
            {
                if let Some(sums) = sums {
                    for &d in domains {
                        self.cells.add(d as usize * nk + k, h, sums);
                    }
                }
            }
            if let Some(x) = self.profile_x.get(prof) {
                for &d in domains {
                    self.dom[d as usize * ns + h] += x;
                }
            }
        }
        self.by_profile = Vec::new();
        self.profile_x = Vec::new();
    }

    /// Adds the persons of `rows` (sorted by person, whole persons only). Where the shape
    /// sums per profile ([`Sums::walk_profiles`]) the person-level cells wait in
    /// `by_profile` for [`Sums::spread`], and the domains are the frame's
    /// ([`Frame::profiles`]), not `domains_of`'s (the same today: its only caller passes
    /// [`Frame::domains_of`]).
    fn walk(
        &mut self,
        s: &Shape,
        frame: &Frame,
        rows: &[Row],
        domains_of: &(dyn Fn(usize, &mut Vec<u32>) + Sync),
    ) {
        if s.profiles.is_some() {
            return self.walk_profiles(s, frame, rows);
        }
        let (nk, ns) = (s.nk, s.ns);
        let mut pd = Vec::new();
        let mut local: Vec<(u32, u32, f64, f64)> = Vec::new();
        let mut totals: Vec<(u32, f64)> = Vec::new();
        for person_rows in rows.chunk_by(|a, b| a.person == b.person) {
            let p = person_rows[0].person as usize;
            domains_of(p, &mut pd);
            person_cells(person_rows, &pd, &mut local);
            let (w, h) = (frame.weight[p], frame.stratum[p] as usize);
            if s.estimator == Estimator::Share {
                domain_totals(&local, &mut totals);
                for &(d, xd) in &totals {
                    self.dom[d as usize * ns + h].add_x(w, xd);
                    if s.bootstrap {
                        self.dom_contrib[d as usize].push((p as u32, xd));
                    }
                }
            }
            for &(d, k, y, x) in &local {
                let cell = d as usize * nk + k as usize;
                if s.estimator == Estimator::Total {
                    // A total's cells hold only y terms.
                    self.cells.add_y(cell, h, w, y);
                } else {
                    let a = self.cells.get_mut(cell, h);
                    a.add_y(w, y);
                    match s.estimator {
                        Estimator::Ratio => {
                            a.add_x(w, x);
                            a.add_cross(w, x, y);
                        }
                        Estimator::Share => {
                            let xd = totals.iter().find(|t| t.0 == d).map_or(0.0, |t| t.1);
                            a.add_cross(w, xd, y);
                        }
                        Estimator::Mean => a.add_cross(w, 1.0, y),
                        // Medians take their own path (`medians`).
                        Estimator::Total | Estimator::Median => {}
                    }
                }
                if s.bootstrap {
                    self.cell_contrib[cell].push((p as u32, y, x));
                }
            }
        }
    }

    /// [`Sums::walk`] with the person-level domains' terms summed per (profile, key): one
    /// sum per key of a person where each of its domains (six) took one; the trip-level
    /// domains' cells as there. Not for replicate methods, which keep each person's
    /// contribution per cell.
    fn walk_profiles(&mut self, s: &Shape, frame: &Frame, rows: &[Row]) {
        let (nk, ns) = (s.nk, s.ns);
        let profiles = frame.profiles();
        let mut local: Vec<(u32, u32, f64, f64)> = Vec::new();
        let mut totals: Vec<(u32, f64)> = Vec::new();
        for person_rows in rows.chunk_by(|a, b| a.person == b.person) {
            let p = person_rows[0].person as usize;
            let prof = profiles.of[p] as usize;
            let (w, h) = (frame.weight[p], frame.stratum[p] as usize);
            // The keys' sums (domain 0 stands for every person-level domain), then the
            // trip-level domains' cells.
            person_cells(person_rows, &[0], &mut local);
            let keys = local.iter().take_while(|e| e.0 == 0).count();
            let (person_level, trip_level) = local.split_at(keys);
            // A share's x: the person's total over the keys of the domain.
            let total: f64 = person_level.iter().map(|e| e.2).sum();
            if s.estimator == Estimator::Share {
                self.profile_x[prof].add_x(w, total);
                domain_totals(trip_level, &mut totals);
                for &(d, xd) in &totals {
                    self.dom[d as usize * ns + h].add_x(w, xd);
                }
            }
            for &(_, k, y, x) in person_level {
                let a = self.by_profile[prof * nk + k as usize].get_or_insert_default();
                person_terms(a, s.estimator, w, y, x, total);
            }
            for &(d, k, y, x) in trip_level {
                let cell = d as usize * nk + k as usize;
                if s.estimator == Estimator::Total {
                    self.cells.add_y(cell, h, w, y);
                } else {
                    let xd = totals.iter().find(|t| t.0 == d).map_or(0.0, |t| t.1);
                    person_terms(self.cells.get_mut(cell, h), s.estimator, w, y, x, xd);
                }
            }
        }
    }
}

/// A person's terms in a cell: y, and x for `ratio`, its cross term with y (x = 1 for a mean,
/// the person's total of the domain, `xd`, for a share).
#[inline]
fn person_terms(a: &mut StratumSums, estimator: Estimator, w: f64, y: f64, x: f64, xd: f64) {
    a.add_y(w, y);
    match estimator {
        Estimator::Ratio => {
            a.add_x(w, x);
            a.add_cross(w, x, y);
        }
        Estimator::Share => a.add_cross(w, xd, y),
        Estimator::Mean => a.add_cross(w, 1.0, y),
        Estimator::Total | Estimator::Median => {}
    }
}

/// A person's (domain, key, Σy, Σx) over its rows: each row counts in the person's domains
/// `pd` and in its own trip-level domains. The rows are first summed per key, which every
/// person-level domain shares; only the trip-level domains are looked up row by row.
fn person_cells(person_rows: &[Row], pd: &[u32], local: &mut Vec<(u32, u32, f64, f64)>) {
    local.clear();
    // Per key, in the order met: Σy, Σx.
    for r in person_rows {
        match local.iter_mut().find(|e| e.1 == r.key) {
            Some(e) => {
                e.2 += r.y;
                e.3 += r.x;
            }
            None => local.push((0, r.key, r.y, r.x)),
        }
    }
    let keys = local.len();
    for &d in pd {
        for j in 0..keys {
            let (_, k, y, x) = local[j];
            local.push((d, k, y, x));
        }
    }
    local.drain(..keys);
    let person_level = local.len();
    for r in person_rows {
        for &d in &r.trip_domain {
            if d == NONE {
                continue;
            }
            match local[person_level..]
                .iter_mut()
                .find(|e| e.0 == d && e.1 == r.key)
            {
                Some(e) => {
                    e.2 += r.y;
                    e.3 += r.x;
                }
                None => local.push((d, r.key, r.y, r.x)),
            }
        }
    }
}

/// The person's y summed over the keys of each domain: x of `share`.
fn domain_totals(local: &[(u32, u32, f64, f64)], totals: &mut Vec<(u32, f64)>) {
    totals.clear();
    for &(d, _, y, _) in local {
        match totals.iter_mut().find(|t| t.0 == d) {
            Some(t) => t.1 += y,
            None => totals.push((d, y)),
        }
    }
}

/// Sums of one side (y, or x) of a cell over the calibration design: Σ w a v over the p
/// columns (for β), and per person group of [`Residuals`]: Σ w² v, Σ w² v², and for y also
/// Σ w² x y.
#[derive(Default, Clone)]
struct Side {
    wa: Vec<f64>,
    groups: HashMap<u32, [f64; 3]>,
}

impl Side {
    fn new(p: usize) -> Self {
        Self {
            wa: vec![0.0; p],
            groups: HashMap::default(),
        }
    }

    fn add(&mut self, cols: &[usize], g: u32, w: f64, v: f64, xv: f64) {
        if v == 0.0 {
            return;
        }
        for &c in cols {
            self.wa[c] += w * v;
        }
        let e = self.groups.entry(g).or_default();
        e[0] += w * w * v;
        e[1] += w * w * v * v;
        e[2] += w * w * xv * v;
    }
}

/// What the residual variance of calibrated weights needs of each reported cell: its y side,
/// and its x side, per cell (`ratio`) or per domain (`mean`, `share`).
struct CalibratedTerms {
    y: Vec<Side>,
    x_cell: Vec<Side>,
    x_domain: HashMap<usize, Side>,
}

impl CalibratedTerms {
    /// One pass over the persons and their rows.
    fn new(
        frame: &Frame,
        cal: &Calibration,
        s: &Shape,
        rows: &[Row],
        domains_of: &(dyn Fn(usize, &mut Vec<u32>) + Sync),
        report: &[(usize, usize)],
        dom_row: &dyn Fn(usize) -> usize,
    ) -> Self {
        let (p, nk) = (cal.design.columns, s.nk);
        let cell_index: HashMap<usize, usize> = report
            .iter()
            .enumerate()
            .map(|(j, &(d, k))| (d * nk + k, j))
            .collect();
        let mut y = vec![Side::new(p); report.len()];
        let mut x_cell = if s.estimator == Estimator::Ratio {
            vec![Side::new(p); report.len()]
        } else {
            Vec::new()
        };
        let mut x_domain: HashMap<usize, Side> = HashMap::default();
        if matches!(s.estimator, Estimator::Mean | Estimator::Share) {
            for &(d, _) in report {
                x_domain.entry(dom_row(d)).or_insert_with(|| Side::new(p));
            }
        }
        let mut cols = Vec::new();
        let mut pd = Vec::new();
        let (mut local, mut totals) = (Vec::new(), Vec::new());
        for person_rows in rows.chunk_by(|a, b| a.person == b.person) {
            let i = person_rows[0].person as usize;
            let (w, g) = (frame.weight[i], cal.residuals.group(i));
            cols.clear();
            cols.extend(cal.design.of(i));
            domains_of(i, &mut pd);
            person_cells(person_rows, &pd, &mut local);
            domain_totals(&local, &mut totals);
            for &(d, k, yv, xv) in &local {
                if let Some(&j) = cell_index.get(&(d as usize * nk + k as usize)) {
                    // The x of Σ w² x y, as in `Sums::walk`.
                    let x = match s.estimator {
                        Estimator::Ratio => xv,
                        Estimator::Share => totals.iter().find(|t| t.0 == d).map_or(0.0, |t| t.1),
                        _ => 1.0,
                    };
                    y[j].add(&cols, g, w, yv, x);
                    if s.estimator == Estimator::Ratio {
                        x_cell[j].add(&cols, g, w, xv, 0.0);
                    }
                }
            }
            if s.estimator == Estimator::Share {
                for &(d, xd) in &totals {
                    if let Some(side) = x_domain.get_mut(&(d as usize)) {
                        side.add(&cols, g, w, xd, 0.0);
                    }
                }
            }
        }
        // `mean`: x = 1 for every person of the domain, rows or not.
        if s.estimator == Estimator::Mean {
            for i in 0..frame.persons() {
                let (w, g) = (frame.weight[i], cal.residuals.group(i));
                cols.clear();
                cols.extend(cal.design.of(i));
                domains_of(i, &mut pd);
                for &d in &pd {
                    if let Some(side) = x_domain.get_mut(&(d as usize)) {
                        side.add(&cols, g, w, 1.0, 0.0);
                    }
                }
            }
        }
        Self {
            y,
            x_cell,
            x_domain,
        }
    }

    /// The cell's estimate with its SE from the calibration residuals of its z.
    #[allow(clippy::too_many_arguments)]
    fn estimate(
        &self,
        cal: &Calibration,
        estimator: Estimator,
        j: usize,
        x_row: usize,
        strata: &[StratumSums],
        level: f64,
        df: f64,
    ) -> Estimate {
        let ys = &self.y[j];
        let xs = match estimator {
            Estimator::Ratio => Some(&self.x_cell[j]),
            Estimator::Mean | Estimator::Share => self.x_domain.get(&x_row),
            _ => None,
        };
        // z = (y − R x)/X; for a total, z = y.
        let (estimate, r, x) = match estimator {
            Estimator::Total => (strata.iter().map(|s| s.sw_y).sum(), 0.0, 1.0),
            _ => {
                let (r, x) = ratio_of(strata);
                (r, r, x)
            }
        };
        let waz: Vec<f64> = (0..cal.design.columns)
            .map(|c| (ys.wa[c] - r * xs.map_or(0.0, |v| v.wa[c])) / x)
            .collect();
        let wz: Vec<f64> = strata
            .iter()
            .map(|s| match estimator {
                Estimator::Total => s.sw_y,
                _ => ratio_wz(s, r, x).0,
            })
            .collect();
        let mut touched: Vec<(u32, f64, f64)> = Vec::new();
        let none = [0.0; 3];
        let mut group = |g: u32| {
            let yg = ys.groups.get(&g).unwrap_or(&none);
            let xg = xs.and_then(|v| v.groups.get(&g)).unwrap_or(&none);
            let b = (yg[0] - r * xg[0]) / x;
            let a = (yg[1] - 2.0 * r * yg[2] + r * r * xg[1]) / (x * x);
            touched.push((g, b, a));
        };
        for &g in ys.groups.keys() {
            group(g);
        }
        if let Some(xs) = xs {
            for &g in xs.groups.keys().filter(|g| !ys.groups.contains_key(g)) {
                group(g);
            }
        }
        let sums = cal.residuals.adjust(&waz, &wz, &touched);
        from_wz(strata, estimate, level, df, &sums)
    }
}

/// The weighted median of `values` (sorted by value) with weights `w`: the smallest value at
/// which the cumulative weight reaches half the total. NaN without weight.
fn weighted_median(values: &[(f64, u32)], w: &[f64]) -> f64 {
    mobility_stats::quantile::weighted_quantile_by(values, |v| v.0, |v| w[v.1 as usize], 0.5)
}

/// The persons of a cell: how many, Σw and Σw² (for Kish's effective number).
#[derive(Clone, Copy, Default)]
struct CellPersons {
    n: u64,
    sw: f64,
    sw2: f64,
}

impl CellPersons {
    fn n_and_n_eff(&self) -> (u64, f64) {
        let n_eff = if self.sw2 > 0.0 {
            self.sw * self.sw / self.sw2
        } else {
            0.0
        };
        (self.n, n_eff)
    }
}

/// The observations of a median indicator, ready to be dealt out to the cells (domain × key):
/// each row counts in its person's domains and its own trip-level domains, rows without a
/// finite value in none. The rows (sorted by person) are sorted once by value then person,
/// and [`MedianObservations::deal`] hands out each breakdown's cells, each cell sorted by
/// value, a few breakdowns at a time, each from a buffer of its own: not every cell at once
/// (the `all` domain alone holds every trip, and eight copies of the trips cost more in
/// fresh pages than in sorting).
struct MedianObservations {
    /// (value, person), sorted by value then person.
    order: Vec<(f64, u32)>,
    /// Per breakdown, per observation of `order`: its cell in that breakdown, or NONE.
    cell_in: Vec<Vec<u32>>,
    /// The breakdown of each cell.
    group_of_cell: Vec<usize>,
    /// Observations per cell.
    counts: Vec<usize>,
    /// The persons of each cell.
    persons: Vec<CellPersons>,
}

impl MedianObservations {
    /// `group[d]`: the breakdown of domain d. A person's domains are its profile's
    /// ([`Frame::profiles`], found once for all indicators). Each step runs in parallel: the
    /// cells' counts over a few runs of persons (their size set by the rows alone and their
    /// sums added in their order, so the figures depend neither on the workers nor on the
    /// machine), the sort, and the observations' cells over runs of the sorted values.
    fn new(frame: &Frame, rows: &[Row], nk: usize, group: &[usize]) -> Self {
        let cells = group.len() * nk;
        let groups = group.iter().max().map_or(0, |g| g + 1);
        let profiles = frame.profiles();
        let domains = |p: usize| profiles.list[profiles.of[p] as usize].1.as_slice();
        // At most eight runs, whatever the machine: the sums are added in the same order on
        // every machine, and eight copies of the cells' counts are alive at most.
        let runs = person_runs(rows, rows.len().div_ceil(8).max(65_536));
        let counted: Vec<(Vec<usize>, Vec<CellPersons>)> = runs
            .par_windows(2)
            .map(|w| {
                let mut counts = vec![0usize; cells];
                let mut persons = vec![CellPersons::default(); cells];
                let mut touched = Vec::new();
                for person_rows in rows[w[0]..w[1]].chunk_by(|a, b| a.person == b.person) {
                    let p = person_rows[0].person as usize;
                    touched.clear();
                    for r in person_rows.iter().filter(|r| r.y.is_finite()) {
                        for &d in domains(p)
                            .iter()
                            .chain(&r.trip_domain)
                            .filter(|&&d| d != NONE)
                        {
                            let c = d as usize * nk + r.key as usize;
                            counts[c] += 1;
                            touched.push(c);
                        }
                    }
                    touched.sort_unstable();
                    touched.dedup();
                    let w = frame.weight[p];
                    for &c in &touched {
                        let s = &mut persons[c];
                        s.n += 1;
                        s.sw += w;
                        s.sw2 += w * w;
                    }
                }
                (counts, persons)
            })
            .collect();
        let mut counts = vec![0usize; cells];
        let mut persons = vec![CellPersons::default(); cells];
        for (c, ps) in counted {
            for (a, b) in counts.iter_mut().zip(c) {
                *a += b;
            }
            for (a, b) in persons.iter_mut().zip(ps) {
                a.n += b.n;
                a.sw += b.sw;
                a.sw2 += b.sw2;
            }
        }
        // (value, person, key, trip-level domains): what the cells need of a row, sorted.
        let mut sorted: Vec<(f64, u32, u32, [u32; TRIP_BREAKDOWNS.len()])> = rows
            .par_iter()
            .filter(|r| r.y.is_finite())
            .map(|r| (r.y, r.person, r.key, r.trip_domain))
            .collect();
        sorted.par_sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        // Each run of the sorted values looks up its persons' domains (they come at random)
        // and writes its part of every breakdown's column.
        let mut cell_in = vec![vec![NONE; sorted.len()]; groups];
        let chunk = sorted
            .len()
            .div_ceil(4 * rayon::current_num_threads())
            .max(1);
        let mut parts: Vec<Vec<&mut [u32]>> = (0..sorted.len().div_ceil(chunk))
            .map(|_| Vec::with_capacity(groups))
            .collect();
        for column in cell_in.iter_mut() {
            for (part, c) in parts.iter_mut().zip(column.chunks_mut(chunk)) {
                part.push(c);
            }
        }
        parts
            .into_par_iter()
            .zip(sorted.par_chunks(chunk))
            .for_each(|(mut columns, values)| {
                for (j, &(_, person, key, trip_domain)) in values.iter().enumerate() {
                    for &d in domains(person as usize)
                        .iter()
                        .chain(&trip_domain)
                        .filter(|&&d| d != NONE)
                    {
                        columns[group[d as usize]][j] = (d as usize * nk + key as usize) as u32;
                    }
                }
            });
        let order = sorted
            .par_iter()
            .map(|&(y, person, ..)| (y, person))
            .collect();
        Self {
            order,
            cell_in,
            group_of_cell: (0..cells).map(|c| group[c / nk]).collect(),
            counts,
            persons,
        }
    }

    /// Each breakdown's cells' observations (value, person), sorted by value, handed to `f`
    /// as (cell, slice) pairs; the breakdowns in parallel, their results in their order.
    fn deal<T: Send>(&self, f: impl Fn(&[(usize, &[(f64, u32)])]) -> T + Sync) -> Vec<T> {
        // A few breakdowns at a time, each with a buffer of its own: a worker waiting in one
        // breakdown's cells may take up another's, so a bound on the breakdowns in flight is
        // the bound on the buffers (at most four, within the 16 bytes a row for each of
        // eight domains the intake reserves for a median).
        let groups: Vec<(usize, &Vec<u32>)> = self.cell_in.iter().enumerate().collect();
        let mut dealt = Vec::with_capacity(groups.len());
        for batch in groups.chunks(rayon::current_num_threads().clamp(1, 4)) {
            let done: Vec<Option<T>> = batch
                .par_iter()
                .map(|&(g, cell_in)| self.deal_one(g, cell_in, &f))
                .collect();
            dealt.extend(done.into_iter().flatten());
        }
        dealt
    }

    /// Breakdown `g`'s cells dealt (`cell_in`: its column), handed to `f`; `None` where it has
    /// no cell.
    fn deal_one<T>(
        &self,
        g: usize,
        cell_in: &[u32],
        f: &impl Fn(&[(usize, &[(f64, u32)])]) -> T,
    ) -> Option<T> {
        let mut at = 0;
        let mut cells = Vec::new();
        let mut next = vec![0usize; self.counts.len()];
        for (c, &n) in self.counts.iter().enumerate() {
            if n > 0 && self.group_of_cell[c] == g {
                next[c] = at;
                cells.push((c, at));
                at += n;
            }
        }
        if cells.is_empty() {
            return None;
        }
        let mut buffer = vec![(0.0, 0); at];
        for (&o, &c) in self.order.iter().zip(cell_in) {
            if c != NONE {
                buffer[next[c as usize]] = o;
                next[c as usize] += 1;
            }
        }
        let slices: Vec<(usize, &[(f64, u32)])> = cells
            .iter()
            .map(|&(c, from)| (c, &buffer[from..from + self.counts[c]]))
            .collect();
        Some(f(&slices))
    }
}

/// The cells of a median indicator: each row is one observation (a trip) of its person, in
/// the person's domains and its own trip-level domains; the estimate is the weighted median.
/// With linearisation, Woodruff's CI and SE ([`mobility_stats::quantile::woodruff`]); with a
/// replicate method, the SE from the replicates (c · Σ (m_r − m̂)²) and the CI m̂ ± t·SE.
fn medians(
    frame: &Frame,
    spec: &Spec,
    rows: &[Row],
    nd: usize,
    nk: usize,
    group: &[usize],
    df: f64,
) -> (Vec<(usize, usize)>, Estimated) {
    let obs = MedianObservations::new(frame, rows, nk, group);
    let report: Vec<(usize, usize)> = (0..nd * nk)
        .filter(|&c| obs.counts[c] > 0)
        .map(|c| (c / nk, c % nk))
        .collect();
    let cell_estimate = |c: usize, e: f64, se: f64, lo: f64, hi: f64| {
        let (n, n_eff) = obs.persons[c].n_and_n_eff();
        Estimate {
            estimate: e,
            se,
            ci_lower: lo,
            ci_upper: hi,
            n,
            n_eff,
            cv: se / e.abs(),
            lonely_strata: 0,
        }
    };
    // Without replicates, Woodruff's interval: the linearised SE of the distribution function
    // at the median, turned into an interval for the median.
    if spec.variance == Variance::Linearisation {
        let mut by_cell: Vec<Option<Estimate>> = vec![None; nd * nk];
        let dealt = obs.deal(|cells| {
            cells
                .par_iter()
                .map(|&(c, values)| {
                    let q = mobility_stats::quantile::woodruff(
                        values,
                        &|i| frame.weight[i as usize],
                        &|i| frame.stratum[i as usize] as usize,
                        &frame.n_h,
                        0.5,
                        spec.rules.level,
                        df,
                    );
                    (
                        c,
                        cell_estimate(c, q.estimate, q.se, q.ci_lower, q.ci_upper),
                    )
                })
                .collect::<Vec<_>>()
        });
        for (c, e) in dealt.into_iter().flatten() {
            by_cell[c] = Some(e);
        }
        let estimates = report
            .iter()
            .map(|&(d, k)| by_cell[d * nk + k].expect("every reported cell is dealt"))
            .collect();
        let method = "Woodruff (linearised distribution function at the median)";
        return (report, Estimated::Done(estimates, method.to_string()));
    }
    // The replicates need every cell at once.
    let mut cells: Vec<Vec<(f64, u32)>> = vec![Vec::new(); nd * nk];
    let dealt = obs.deal(|dealt| {
        dealt
            .iter()
            .map(|&(c, values)| (c, values.to_vec()))
            .collect::<Vec<_>>()
    });
    for (c, values) in dealt.into_iter().flatten() {
        cells[c] = values;
    }
    let cells: Vec<Vec<(f64, u32)>> = report
        .iter()
        .map(|&(d, k)| std::mem::take(&mut cells[d * nk + k]))
        .collect();
    let medians: Vec<Estimate> = report
        .iter()
        .zip(&cells)
        .map(|(&(d, k), values)| {
            let m = weighted_median(values, &frame.weight);
            cell_estimate(d * nk + k, m, f64::NAN, f64::NAN, f64::NAN)
        })
        .collect();
    (
        report,
        Estimated::Replicates(medians, Theta::Medians(cells)),
    )
}

/// An indicator's estimates: done, or waiting for the replicates.
enum Estimated {
    /// With their SEs, and the method's name.
    Done(Vec<Estimate>, String),
    /// Point estimates, n and n_eff, and what the replicates' θ_b need.
    Replicates(Vec<Estimate>, Theta),
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

/// Rows an estimation grouped by person, given back for the next one to group its rows into
/// ([`Intake::finish_pending`]).
pub struct RowBuffer(Vec<Row>);

impl RowBuffer {
    /// The bytes it holds.
    pub fn bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<Row>()
    }
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
#[derive(Debug, Clone)]
pub struct Spec {
    /// The indicator id, for messages.
    pub id: String,
    /// The unit of `estimate`.
    pub unit: String,
    /// How cells are formed.
    pub estimator: Estimator,
    /// The variance method.
    pub variance: Variance,
    /// CI level and suppression.
    pub rules: Rules,
    /// Report only cells with a contribution in their domain (sparse keys: zone pairs).
    pub observed_only: bool,
}

/// Estimates every cell of an indicator from its query's rows.
pub fn estimate(frame: Arc<Frame>, spec: Spec, batches: &[RecordBatch]) -> Result<RecordBatch> {
    estimate_with(frame, spec, batches, Limits::default())
}

/// Where the sums change form: above `dense_max` (cell, stratum) slots a hash map
/// ([`CellSums`]); up to `profile_max` (profile, key) slots the person-level domains' terms
/// summed per profile ([`Profiles`]), by default up to a sixteenth as many as persons (each
/// worker's sums hold every slot, and a person saves only the sums of its other five
/// domains). The tests compare the forms.
#[derive(Clone, Copy)]
struct Limits {
    dense_max: usize,
    /// `None`: a sixteenth of the frame's persons.
    profile_max: Option<usize>,
    /// Sparse cells summed key by key where the estimator allows ([`keyed_sums`]), not in
    /// hash maps.
    keyed: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            dense_max: CellSums::DENSE_MAX,
            profile_max: None,
            keyed: true,
        }
    }
}

/// [`estimate`] with the sums in the forms `limits` choose.
fn estimate_with(
    frame: Arc<Frame>,
    spec: Spec,
    batches: &[RecordBatch],
    limits: Limits,
) -> Result<RecordBatch> {
    let Some(first) = batches.first() else {
        return Err(Error::Shape {
            id: spec.id.to_string(),
            message: "the query returned no batches".into(),
        });
    };
    let mut intake = Intake::new(frame, spec, &first.schema())?;
    for b in batches {
        intake.push(b)?;
    }
    intake.finish_with(limits, Vec::new())?.0.table()
}

/// An indicator's query rows as they stream in, each batch interned (person, key, trip
/// domains, y, x: 32 bytes a row) and then dropped, so the query's result is never held whole.
pub struct Intake {
    frame: Arc<Frame>,
    spec: Spec,
    keys: Vec<String>,
    trip_cols: Vec<(usize, &'static str)>,
    domains: Vec<Domain>,
    key_interners: Vec<Interner>,
    trip_interners: Vec<Interner>,
    composite: HashMap<Vec<u32>, u32>,
    /// The composite keys of two to four columns, their codes packed into one integer: no
    /// allocation and no comparison of slices per row (origin × destination × mode).
    packed: HashMap<u128, u32>,
    key_codes: Vec<Vec<u32>>,
    /// The rows, one run per batch: each run allocated at its batch's size, never grown and
    /// copied as one vector of every row would be (fresh pages the kernel zeroes, for each
    /// indicator).
    rows: Vec<Vec<Row>>,
    /// Whether a row's one key column was NULL.
    null_key: bool,
    codes: Vec<Vec<u32>>,
    tcodes: Vec<Vec<u32>>,
}

/// The number of row `i`'s key: its one column's code, or the number of its combination of
/// codes, numbered in the order met (two to four columns packed into one integer, more as a
/// list).
fn key_number(
    codes: &[Vec<u32>],
    i: usize,
    packed: &mut HashMap<u128, u32>,
    composite: &mut HashMap<Vec<u32>, u32>,
    key_codes: &mut Vec<Vec<u32>>,
    composite_key: &mut Vec<u32>,
) -> u32 {
    match codes.len() {
        0 => 0,
        1 => codes[0][i],
        2..=4 => {
            let key = codes
                .iter()
                .fold(0u128, |key, c| (key << 32) | u128::from(c[i]));
            match packed.get(&key) {
                Some(&k) => k,
                None => {
                    let next = key_codes.len() as u32;
                    packed.insert(key, next);
                    key_codes.push(codes.iter().map(|c| c[i]).collect());
                    next
                }
            }
        }
        _ => {
            composite_key.clear();
            composite_key.extend(codes.iter().map(|c| c[i]));
            match composite.get(composite_key.as_slice()) {
                Some(&k) => k,
                None => {
                    let next = key_codes.len() as u32;
                    composite.insert(composite_key.clone(), next);
                    key_codes.push(composite_key.clone());
                    next
                }
            }
        }
    }
}

impl Intake {
    /// Checks the query's columns (`schema`) and sets up the domains.
    pub fn new(frame: Arc<Frame>, spec: Spec, schema: &arrow::datatypes::Schema) -> Result<Self> {
        let shape = |message: String| Error::Shape {
            id: spec.id.to_string(),
            message,
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
            .filter(|n| {
                !["person_id", "y", "x"].contains(&n.as_str())
                    && !TRIP_BREAKDOWNS.contains(&n.as_str())
            })
            .collect();

        // Domains: `all`, the person-level values, then trip-level values as met.
        let mut domains: Vec<Domain> = vec![Domain {
            order: 0,
            breakdown: "all".into(),
            value: None,
        }];
        // Numbered as the frame numbers them ([`Frame::domains_of`]).
        for (k, b) in PERSON_BREAKDOWNS.iter().enumerate() {
            domains.extend(frame.values[k].iter().map(|v| Domain {
                order: order(b),
                breakdown: b.to_string(),
                value: Some(v.clone()),
            }));
        }
        // Keys and trip-level values are coded per column as they are met.
        let key_interners: Vec<Interner> = keys.iter().map(|_| Interner::default()).collect();
        let trip_interners: Vec<Interner> = TRIP_BREAKDOWNS
            .iter()
            .map(|_| Interner::default())
            .collect();
        let composite: HashMap<Vec<u32>, u32> = HashMap::default();
        let packed: HashMap<u128, u32> = HashMap::default();
        let key_codes: Vec<Vec<u32>> = Vec::new();
        let rows: Vec<Vec<Row>> = Vec::new();
        let codes: Vec<Vec<u32>> = vec![Vec::new(); keys.len()];
        let tcodes: Vec<Vec<u32>> = vec![Vec::new(); TRIP_BREAKDOWNS.len()];
        Ok(Self {
            frame,
            spec,
            keys,
            trip_cols,
            domains,
            key_interners,
            trip_interners,
            composite,
            packed,
            key_codes,
            rows,
            null_key: false,
            codes,
            tcodes,
        })
    }

    /// Rows interned so far.
    pub fn rows(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }

    /// Interns the rows of one batch.
    pub fn push(&mut self, b: &RecordBatch) -> Result<()> {
        let Self {
            frame,
            spec,
            keys,
            trip_cols,
            key_interners,
            trip_interners,
            composite,
            packed,
            key_codes,
            rows,
            null_key,
            codes,
            tcodes,
            ..
        } = self;
        let shape = |message: String| Error::Shape {
            id: spec.id.to_string(),
            message,
        };
        let n = b.num_rows();
        let pid = arrow::compute::cast(
            b.column_by_name("person_id").expect("checked"),
            &DataType::Int64,
        )?;
        let pid = pid.as_primitive::<Int64Type>();
        let num = |n: &str| -> Result<Option<Float64Array>> {
            Ok(match b.column_by_name(n) {
                Some(c) => Some(
                    arrow::compute::cast(c, &DataType::Float64)?
                        .as_primitive::<Float64Type>()
                        .clone(),
                ),
                None => None,
            })
        };
        let (y, x) = (num("y")?.expect("checked"), num("x")?);
        // Each column has its own interner: the columns are coded in parallel (this runs on
        // the thread that takes the query's batches, while the workers have cores to spare).
        let mut jobs: Vec<(&mut Interner, &mut Vec<u32>, &ArrayRef)> = Vec::new();
        for ((interner, out), name) in key_interners
            .iter_mut()
            .zip(codes.iter_mut())
            .zip(keys.iter())
        {
            jobs.push((interner, out, b.column_by_name(name).expect("named")));
        }
        for (t, (interner, out)) in trip_interners.iter_mut().zip(tcodes.iter_mut()).enumerate() {
            if let Some((_, name)) = trip_cols.iter().find(|(c, _)| *c == t) {
                jobs.push((interner, out, b.column_by_name(name).expect("named")));
            }
        }
        // The first column's error in column order, whichever worker met it first.
        let coded: Vec<Result<()>> = jobs
            .into_par_iter()
            .map(|(interner, out, col)| {
                out.clear();
                interner.code(col, out)
            })
            .collect();
        coded.into_iter().collect::<Result<()>>()?;
        let mut composite_key = Vec::with_capacity(keys.len());
        // A person's trips come together: the last look-up is usually the next one's.
        let mut last: Option<(i64, u32)> = None;
        let mut run = Vec::with_capacity(n);
        for i in 0..n {
            let id = pid.value(i);
            let person = match last {
                Some((l, p)) if l == id => p,
                _ => {
                    let Some(p) = frame.index.get(id) else {
                        return Err(shape(format!("person_id {id} is not in persons")));
                    };
                    last = Some((id, p));
                    p
                }
            };
            let key = key_number(codes, i, packed, composite, key_codes, &mut composite_key);
            *null_key |= key == NONE;
            let mut trip_domain = [NONE; TRIP_BREAKDOWNS.len()];
            for (t, _) in trip_cols.iter() {
                trip_domain[*t] = tcodes[*t][i];
            }
            let val = |a: &Float64Array| if a.is_valid(i) { a.value(i) } else { 0.0 };
            run.push(Row {
                person,
                key,
                trip_domain,
                y: val(&y),
                x: x.as_ref().map_or(0.0, val),
            });
        }
        if !run.is_empty() {
            rows.push(run);
        }
        Ok(())
    }

    /// Estimates every cell from the rows pushed.
    pub fn finish(self) -> Result<RecordBatch> {
        let (finished, _) = self.finish_with(Limits::default(), Vec::new())?;
        finished.table()
    }

    /// Estimates every cell from the rows pushed, but leaves the SEs of a replicate method
    /// to [`replicate_all`], so that indicators share their replicates. The rows are grouped
    /// by person into `spare` (a buffer an earlier estimation gave back, whose pages are
    /// already mapped: a fresh one of 100 MB at a million persons is 25,000 page faults, for
    /// each indicator), and the buffer is given back.
    pub fn finish_pending(self, spare: Option<RowBuffer>) -> Result<(Finished, RowBuffer)> {
        let spare = spare.map(|b| b.0).unwrap_or_default();
        self.finish_with(Limits::default(), spare)
            .map(|(f, mut rows)| {
                rows.clear();
                (f, RowBuffer(rows))
            })
    }

    fn finish_with(self, limits: Limits, spare: Vec<Row>) -> Result<(Finished, Vec<Row>)> {
        let Self {
            frame: frame_arc,
            spec,
            keys,
            mut domains,
            key_interners,
            trip_interners,
            key_codes,
            rows,
            null_key,
            ..
        } = self;
        let frame: &Frame = &frame_arc;
        let (key_list, null_key) = key_list(keys.len(), &key_interners, &key_codes, null_key);
        let first_trip_domain = add_trip_domains(&mut domains, &trip_interners);
        let recode = Recode {
            null_key,
            first_trip_domain,
        };
        let rows = by_person(rows, frame.persons(), spare, &recode);
        // Replicate methods need the person-level contributions.
        let bootstrap = !matches!(spec.variance, Variance::Linearisation);
        let nk = key_list.len();
        let profiles = (!bootstrap && spec.estimator != Estimator::Median)
            .then(|| frame.profiles().list.len())
            .filter(|&n| {
                n.saturating_mul(nk) <= limits.profile_max.unwrap_or(frame.persons() / 16)
            });
        let shape = Shape {
            nd: domains.len(),
            nk,
            ns: frame.n_h.len(),
            estimator: spec.estimator,
            bootstrap,
            dense_max: limits.dense_max,
            profiles,
            // The intake's reservation counts the keyed copy of the rows for these only.
            keyed: limits.keyed && spec.observed_only,
        };
        let domains_of = |p: usize, out: &mut Vec<u32>| frame.domains_of(p, out);
        let (report, estimated) = if spec.estimator == Estimator::Median {
            // Each domain's breakdown: the medians are dealt out by breakdown.
            let group: Vec<usize> = domains.iter().map(|d| d.order).collect();
            medians(frame, &spec, &rows, shape.nd, shape.nk, &group, frame.df())
        } else {
            // `mean` and `total` over a trip-level domain: every person is in it, so its
            // denominator is the `all` domain's.
            let dom_row = |d: usize| -> usize {
                let trip_domain = domains[d].order > PERSON_BREAKDOWNS.len();
                if trip_domain && matches!(spec.estimator, Estimator::Mean | Estimator::Total) {
                    0
                } else {
                    d
                }
            };
            let sums = accumulate(frame, &shape, &rows, &domains_of);
            let cells = Cells {
                frame,
                spec: &spec,
                shape: &shape,
                sums: &sums,
                dom_row: &dom_row,
            };
            let report = cells.reported();
            let estimated = match cells.estimates(&rows, &domains_of, &report) {
                (estimates, Some(method)) => Estimated::Done(estimates, method),
                (estimates, None) => {
                    let theta = Theta::cells(sums, &report, shape.nk, spec.estimator, &dom_row);
                    Estimated::Replicates(estimates, theta)
                }
            };
            (report, estimated)
        };
        let finished = match estimated {
            Estimated::Done(estimates, method) => Finished::Table(output_batch(
                &spec, &keys, &domains, &key_list, &report, &estimates, &method,
            )?),
            Estimated::Replicates(estimates, theta) => Finished::Pending(Box::new(Pending {
                frame: frame_arc.clone(),
                spec,
                keys,
                domains,
                key_list,
                report,
                estimates,
                theta,
            })),
        };
        Ok((finished, rows))
    }
}

impl Finished {
    /// The table, its replicates evaluated now if it waits for them.
    pub fn table(self) -> Result<RecordBatch> {
        match self {
            Self::Table(t) => Ok(t),
            Self::Pending(p) => {
                let (mut tables, _) = replicate_all(vec![*p])?;
                Ok(tables.pop().expect("one table per indicator"))
            }
        }
    }
}

/// What the rows' codes become once every batch is in: a NULL key (one key column) the code
/// after the names, a trip-level value's code its domain's number.
struct Recode {
    null_key: Option<u32>,
    /// Per trip-level breakdown, the number of its first domain.
    first_trip_domain: [u32; TRIP_BREAKDOWNS.len()],
}

impl Recode {
    fn apply(&self, mut r: Row) -> Row {
        if let Some(null) = self.null_key
            && r.key == NONE
        {
            r.key = null;
        }
        for (d, first) in r.trip_domain.iter_mut().zip(self.first_trip_domain) {
            if *d != NONE {
                *d += first;
            }
        }
        r
    }
}

/// The rows of the runs grouped by person in person order, each recoded by `recode` as it
/// is copied. A person's rows keep the order they came in within a run. Runs that are each
/// sorted and do not overlap (a query's partitions each deliver their share of the trips
/// stored by person, in batches that interleave) are put in order of their first person and
/// joined; otherwise a few descents are left to a merge sort, and many to a counting sort,
/// two passes over the rows where a comparison sort would pay n log n. The rows go into
/// `buffer` (emptied first).
fn by_person(
    mut runs: Vec<Vec<Row>>,
    persons: usize,
    buffer: Vec<Row>,
    recode: &Recode,
) -> Vec<Row> {
    let within: usize = runs
        .iter()
        .map(|r| r.windows(2).filter(|w| w[0].person > w[1].person).count())
        .sum();
    if within == 0 {
        // By first person, then by last: of two runs that start with the same person, the one
        // that ends sooner goes first (two partitions' rows have no order between them); runs
        // with the same first and last person keep their order (the sort is stable).
        runs.sort_by_key(|r| match (r.first(), r.last()) {
            (Some(a), Some(b)) => Some((a.person, b.person)),
            _ => None,
        });
    }
    let between = runs
        .windows(2)
        .filter(|w| match (w[0].last(), w[1].first()) {
            (Some(a), Some(b)) => a.person > b.person,
            _ => false,
        })
        .count();
    let descents = within + between;
    if runs.len() == 1 && descents == 0 {
        let mut rows = runs.pop().expect("one run");
        for r in rows.iter_mut() {
            *r = recode.apply(*r);
        }
        return rows;
    }
    let n = runs.iter().map(Vec::len).sum();
    // The buffer at the rows' size: the intake's reservation counts n rows of it.
    let mut out = buffer;
    out.clear();
    out.shrink_to(n);
    out.reserve(n);
    if descents < 64 {
        for run in runs {
            out.extend(run.into_iter().map(|r| recode.apply(r)));
        }
        if descents > 0 {
            out.sort_by_key(|r| r.person);
        }
        return out;
    }
    let first = *runs
        .iter()
        .flatten()
        .next()
        .expect("descents are between rows");
    // Where each person's rows start.
    let mut next = vec![0usize; persons + 1];
    for r in runs.iter().flatten() {
        next[r.person as usize + 1] += 1;
    }
    for p in 1..next.len() {
        next[p] += next[p - 1];
    }
    out.resize(n, first);
    for run in runs {
        for r in run {
            let at = &mut next[r.person as usize];
            out[*at] = recode.apply(r);
            *at += 1;
        }
    }
    out
}

/// The key list, one entry per key code; NONE (a NULL key) stays NULL. With one key column a
/// NULL key (`null_key`: some row has one) gets the code after the names, returned for the
/// rows' [`Recode`].
fn key_list(
    keys: usize,
    key_interners: &[Interner],
    key_codes: &[Vec<u32>],
    null_key: bool,
) -> (Vec<Vec<Option<String>>>, Option<u32>) {
    let key_name =
        |k: usize, c: u32| (c != NONE).then(|| key_interners[k].names[c as usize].clone());
    match keys {
        0 => (vec![vec![]], None),
        1 => {
            let mut l: Vec<Vec<Option<String>>> = (0..key_interners[0].names.len() as u32)
                .map(|c| vec![key_name(0, c)])
                .collect();
            let null = l.len() as u32;
            if null_key {
                l.push(vec![None]);
                (l, Some(null))
            } else {
                (l, None)
            }
        }
        _ => (
            key_codes
                .iter()
                .map(|cs| {
                    cs.iter()
                        .enumerate()
                        .map(|(k, &c)| key_name(k, c))
                        .collect()
                })
                .collect(),
            None,
        ),
    }
}

/// Appends the trip-level domains after the person-level ones, and returns the number of
/// each breakdown's first: a row's trip code plus it is its domain ([`Recode`]).
fn add_trip_domains(
    domains: &mut Vec<Domain>,
    trip_interners: &[Interner],
) -> [u32; TRIP_BREAKDOWNS.len()] {
    let mut firsts = [0; TRIP_BREAKDOWNS.len()];
    for (t, name) in TRIP_BREAKDOWNS.iter().enumerate() {
        firsts[t] = domains.len() as u32;
        for v in &trip_interners[t].names {
            domains.push(Domain {
                order: order(name),
                breakdown: name.to_string(),
                value: Some(v.clone()),
            });
        }
    }
    firsts
}

/// The domains a person is in (`all` first), written into the buffer.
type DomainsOf<'a> = dyn Fn(usize, &mut Vec<u32>) + Sync + 'a;

/// The persons' rows (sorted by person) summed per (cell, stratum) and per (domain, stratum):
/// key by key where [`keyed_sums`] applies, else by walks over runs of persons ([`walked`]).
/// `mean` and `total` then take their domains' sums from the frame's persons.
fn accumulate(frame: &Frame, shape: &Shape, rows: &[Row], domains_of: &DomainsOf<'_>) -> Sums {
    let mut acc = match keyed_sums(frame, shape, rows) {
        Some(cells) => Sums {
            cells,
            dom: vec![StratumSums::default(); shape.nd * shape.ns],
            cell_contrib: Vec::new(),
            dom_contrib: Vec::new(),
            by_profile: Vec::new(),
            profile_x: Vec::new(),
        },
        None => walked(frame, shape, rows, domains_of),
    };
    if matches!(shape.estimator, Estimator::Mean | Estimator::Total) {
        // Every person of the domain counts once in a mean's or total's denominator: the
        // frame's sums, the person-level domains coming first in every indicator's.
        for (a, b) in acc.dom.iter_mut().zip(frame.domain_persons()) {
            *a += b;
        }
    }
    acc
}

/// The sums of [`accumulate`] by walks in parallel over chunks of rows that end at a person,
/// each worker walking a run of chunks into one accumulator, the few accumulators merged at
/// the end.
fn walked(frame: &Frame, shape: &Shape, rows: &[Row], domains_of: &DomainsOf<'_>) -> Sums {
    let bounds = person_runs(rows, 65_536);
    // One accumulator per worker's run (a fresh one per chunk kept many copies of an
    // origin–destination indicator's sums alive: 1.4 GB at 3.3 M persons).
    let runs = (bounds.len() / (2 * rayon::current_num_threads()).max(1)).max(1);
    let mut acc = bounds
        .par_windows(2)
        .with_min_len(runs)
        .fold(
            || Sums::new(shape),
            |mut acc, w| {
                acc.walk(shape, frame, &rows[w[0]..w[1]], domains_of);
                acc
            },
        )
        .reduce_with(|mut a, b| {
            a.merge(b);
            a
        })
        .unwrap_or_else(|| Sums::new(shape));
    if shape.profiles.is_some() {
        acc.spread(shape, frame.profiles());
    }
    acc
}

/// The cells of an indicator whose (cell, stratum) slots would be hash maps (origin–destination
/// pairs by mode or period: millions of slots, most empty), summed key by key: the rows
/// (sorted by person) counted out by key, each key's rows still in person order; each key's
/// persons summed into an array of (domain, stratum) slots that stays in the cache, and the
/// slots met listed in key order ([`CellSums::Keyed`]), in parallel over runs of keys. In
/// place of a look-up in maps of millions of slots for each person, key and domain, and
/// another for each reported cell and stratum. Each slot adds its persons in person order,
/// as the walk does: the same sums. `None` where the shape does not call for it: sums that
/// fit an array, a share (its x terms need all of a person's keys at once), replicate
/// methods (the persons' contributions) and profile sums.
fn keyed_sums(frame: &Frame, s: &Shape, rows: &[Row]) -> Option<CellSums> {
    let (nd, nk, ns) = (s.nd, s.nk, s.ns);
    if !s.keyed
        || s.bootstrap
        || s.profiles.is_some()
        || !matches!(
            s.estimator,
            Estimator::Total | Estimator::Mean | Estimator::Ratio
        )
        || nd * nk * ns <= s.dense_max
        || rows.iter().any(|r| r.key as usize >= nk)
    {
        return None;
    }
    let profiles = frame.profiles();
    let (start, by_key) = rows_by_key(frame, rows, nk);
    // Runs of keys of about equal rows.
    let tasks = 8 * rayon::current_num_threads();
    let per = rows.len().div_ceil(tasks).max(1);
    let mut bounds: Vec<usize> = (0..tasks)
        .map(|j| start.partition_point(|&at| at < j * per).min(nk))
        .chain([nk])
        .collect();
    bounds.dedup();
    let y_terms_only = s.estimator == Estimator::Total;
    type Run = (Vec<usize>, Vec<(u32, u32)>, Vec<StratumSums>, Vec<[f64; 2]>);
    let runs: Vec<Run> = bounds
        .par_windows(2)
        .map(|w| {
            let mut slot = vec![StratumSums::default(); nd * ns];
            let mut met = vec![u32::MAX; nd * ns];
            let mut touched: Vec<usize> = Vec::new();
            let (mut counts, mut at) = (Vec::new(), Vec::new());
            let (mut full, mut y_terms) = (Vec::new(), Vec::new());
            let mut trip: Vec<(u32, f64, f64)> = Vec::new();
            for k in w[0]..w[1] {
                let of_key = &by_key[start[k]..start[k + 1]];
                for person in of_key.chunk_by(|a, b| a.person == b.person) {
                    let (h, domains) = &profiles.list[person[0].profile as usize];
                    let (wt, h) = (person[0].w, *h as usize);
                    let (y, x) = key_person(person, &mut trip);
                    let person_level = domains.iter().map(|&d| (d, y, x));
                    for (d, y, x) in person_level.chain(trip.iter().copied()) {
                        let t = d as usize * ns + h;
                        if met[t] != k as u32 {
                            met[t] = k as u32;
                            touched.push(t);
                        }
                        person_terms(&mut slot[t], s.estimator, wt, y, x, 1.0);
                    }
                }
                touched.sort_unstable();
                counts.push(touched.len());
                for &t in &touched {
                    at.push(((t / ns) as u32, (t % ns) as u32));
                    let sums = std::mem::take(&mut slot[t]);
                    if y_terms_only {
                        y_terms.push([sums.sw_y, sums.sw2_yy]);
                    } else {
                        full.push(sums);
                    }
                }
                touched.clear();
            }
            (counts, at, full, y_terms)
        })
        .collect();
    drop(by_key);
    let slots: usize = runs.iter().map(|r| r.1.len()).sum();
    let mut start = Vec::with_capacity(nk + 1);
    start.push(0);
    let mut at = Vec::with_capacity(slots);
    let (mut full, mut y) = if y_terms_only {
        (Vec::new(), Vec::with_capacity(slots))
    } else {
        (Vec::with_capacity(slots), Vec::new())
    };
    for (counts, a, f, yt) in runs {
        for c in counts {
            start.push(start.last().expect("non-empty") + c);
        }
        at.extend(a);
        full.extend(f);
        y.extend(yt);
    }
    Some(CellSums::Keyed {
        nk,
        start,
        at,
        full,
        y,
    })
}

/// Where each key's rows start (`nk + 1` offsets), and the rows copied out by key (a stable
/// counting sort: each key's rows stay in person order) with their person's weight and
/// profile, read here in person order: read key by key, persons come in no order, and a
/// look-up of each in the frame's columns missed the cache.
fn rows_by_key(frame: &Frame, rows: &[Row], nk: usize) -> (Vec<usize>, Vec<KeyedRow>) {
    let profiles = frame.profiles();
    let mut start = vec![0usize; nk + 1];
    for r in rows {
        start[r.key as usize + 1] += 1;
    }
    for k in 1..=nk {
        start[k] += start[k - 1];
    }
    let mut by_key = vec![KeyedRow::default(); rows.len()];
    let mut next = start.clone();
    for r in rows {
        let at = &mut next[r.key as usize];
        let p = r.person as usize;
        by_key[*at] = KeyedRow {
            person: r.person,
            profile: profiles.of[p],
            trip_domain: r.trip_domain,
            w: frame.weight[p],
            y: r.y,
            x: r.x,
        };
        *at += 1;
    }
    (start, by_key)
}

/// A person's y and x over its rows of one key (its person-level domains' terms), and into
/// `trip` those of each trip-level domain of its rows, summed in the rows' order as
/// [`person_cells`] sums them.
fn key_person(person: &[KeyedRow], trip: &mut Vec<(u32, f64, f64)>) -> (f64, f64) {
    let (mut y, mut x) = (0.0, 0.0);
    trip.clear();
    for r in person {
        y += r.y;
        x += r.x;
        for &d in r.trip_domain.iter().filter(|&&d| d != NONE) {
            match trip.iter_mut().find(|t| t.0 == d) {
                Some(t) => {
                    t.1 += r.y;
                    t.2 += r.x;
                }
                None => trip.push((d, r.y, r.x)),
            }
        }
    }
    (y, x)
}

/// A row as [`keyed_sums`] reads it: its person's weight and profile beside it.
#[derive(Clone, Copy, Default)]
struct KeyedRow {
    person: u32,
    profile: u32,
    trip_domain: [u32; TRIP_BREAKDOWNS.len()],
    w: f64,
    y: f64,
    x: f64,
}

/// Where runs of about `chunk` rows (sorted by person) start and end, each ending with a
/// person's last row: `[0, …, rows.len()]`.
fn person_runs(rows: &[Row], chunk: usize) -> Vec<usize> {
    let chunk = chunk.max(1);
    let mut bounds = vec![0];
    while *bounds.last().expect("non-empty") < rows.len() {
        let mut end = (bounds.last().expect("non-empty") + chunk).min(rows.len());
        while end < rows.len() && rows[end].person == rows[end - 1].person {
            end += 1;
        }
        bounds.push(end);
    }
    bounds
}

/// The summed cells of an indicator (every estimator but the median), estimated.
struct Cells<'a> {
    frame: &'a Frame,
    spec: &'a Spec,
    shape: &'a Shape,
    sums: &'a Sums,
    /// The domain whose persons are a cell's denominator.
    dom_row: &'a (dyn Fn(usize) -> usize + Sync),
}

impl Cells<'_> {
    /// Which (domain, key) cells to report: every key in every domain that has persons, except
    /// for `ratio`, whose cells exist only where x does, and indicators reporting observed
    /// cells only. Where the sums are sparse only the cells met are looked at.
    fn reported(&self) -> Vec<(usize, usize)> {
        let (nd, nk, ns) = (self.shape.nd, self.shape.nk, self.shape.ns);
        let (spec, cells, dom) = (self.spec, &self.sums.cells, &self.sums.dom);
        let candidates: Vec<usize> = match cells.occupied() {
            Some(met) if spec.estimator == Estimator::Ratio || spec.observed_only => met,
            _ => (0..nd * nk).collect(),
        };
        let mut strata = vec![StratumSums::default(); ns];
        candidates
            .into_iter()
            .filter(|&cell| {
                let d = cell / nk;
                match spec.estimator {
                    Estimator::Ratio => {
                        cells.get_strata(cell, &mut strata);
                        strata.iter().any(|c| c.sw_x != 0.0)
                    }
                    _ if spec.observed_only => {
                        cells.get_strata(cell, &mut strata);
                        strata.iter().any(|c| c.sw_y != 0.0)
                    }
                    _ => (0..ns).any(|h| dom[(self.dom_row)(d) * ns + h].n_d > 0),
                }
            })
            .map(|cell| (cell / nk, cell % nk))
            .collect()
    }

    /// The per-stratum sums of cell (d, k): y from the cell, x from the cell (`ratio`) or its
    /// denominator domain.
    fn strata(&self, d: usize, k: usize) -> Vec<StratumSums> {
        let (nk, ns) = (self.shape.nk, self.shape.ns);
        let mut cells = vec![StratumSums::default(); ns];
        self.sums.cells.get_strata(d * nk + k, &mut cells);
        cells
            .into_iter()
            .enumerate()
            .map(|(h, c)| {
                let x = if self.spec.estimator == Estimator::Ratio {
                    c
                } else {
                    self.sums.dom[(self.dom_row)(d) * ns + h]
                };
                StratumSums {
                    n_h: self.frame.n_h[h],
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
            .collect()
    }

    /// Each reported cell's estimate with its SE by linearisation (from the calibration
    /// residuals when the weights were calibrated), and the method's name; `None` where the
    /// spec asks for replicates, whose spread gives the SEs in place of these.
    fn estimates(
        &self,
        rows: &[Row],
        domains_of: &DomainsOf<'_>,
        report: &[(usize, usize)],
    ) -> (Vec<Estimate>, Option<String>) {
        let (frame, spec) = (self.frame, self.spec);
        let df = frame.df();
        let calibrated = match (&frame.calibration, &spec.variance) {
            (Some(cal), Variance::Linearisation) => Some((
                cal,
                CalibratedTerms::new(
                    frame,
                    cal,
                    self.shape,
                    rows,
                    domains_of,
                    report,
                    self.dom_row,
                ),
            )),
            _ => None,
        };
        let estimates: Vec<Estimate> = report
            .par_iter()
            .enumerate()
            .map(|(j, &(d, k))| {
                let strata = self.strata(d, k);
                match (&calibrated, spec.estimator) {
                    (Some((cal, terms)), e) => {
                        terms.estimate(cal, e, j, (self.dom_row)(d), &strata, spec.rules.level, df)
                    }
                    (None, Estimator::Total) => total_estimate(&strata, spec.rules.level, df),
                    (None, _) => ratio_estimate(&strata, spec.rules.level, df),
                }
            })
            .collect();
        if spec.variance != Variance::Linearisation {
            return (estimates, None);
        }
        let method = match &calibrated {
            Some((cal, _)) => format!(
                "linearisation, residuals of the calibration to {}",
                cal.variables.join(", ")
            ),
            None => "linearisation".to_string(),
        };
        (estimates, Some(method))
    }
}

/// The reported cells (indices into `report`) in the table's order: by domain (breakdown
/// order, breakdown, value), then key. Domains and keys are ranked once, equal ones alike, and
/// the cells sorted by their two ranks; of cells equal in both the last is kept. (A map keyed
/// by the strings compared them at every step: half a second for the 410,753 cells of
/// `od_trips_by_mode`.)
fn table_order(
    domains: &[Domain],
    key_list: &[Vec<Option<String>>],
    report: &[(usize, usize)],
) -> Vec<usize> {
    fn ranks<T: Ord>(v: &[T]) -> Vec<u32> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_unstable_by(|&a, &b| v[a].cmp(&v[b]));
        let mut rank = vec![0u32; v.len()];
        let mut r = 0;
        for (i, w) in idx.iter().enumerate() {
            if i > 0 && v[*w] != v[idx[i - 1]] {
                r += 1;
            }
            rank[*w] = r;
        }
        rank
    }
    let (dr, kr) = (ranks(domains), ranks(key_list));
    let rank = |j: usize| (dr[report[j].0], kr[report[j].1]);
    let mut order: Vec<usize> = (0..report.len()).collect();
    order.sort_by_key(|&j| rank(j));
    let mut kept: Vec<usize> = Vec::with_capacity(order.len());
    for j in order {
        match kept.last_mut() {
            Some(last) if rank(*last) == rank(j) => *last = j,
            _ => kept.push(j),
        }
    }
    kept
}

/// The indicator's table: rows in breakdown order, then value, then key.
fn output_batch(
    spec: &Spec,
    keys: &[String],
    domains: &[Domain],
    key_list: &[Vec<Option<String>>],
    report: &[(usize, usize)],
    estimates: &[Estimate],
    method: &str,
) -> Result<RecordBatch> {
    let ordered = table_order(domains, key_list, report);
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
    let domain = |j: &usize| &domains[report[*j].0];
    let es: Vec<&Estimate> = ordered.iter().map(|&j| &estimates[j]).collect();
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            ordered.iter().map(|j| domain(j).breakdown.as_str()),
        )),
        Arc::new(StringArray::from_iter(
            ordered.iter().map(|j| domain(j).value.as_deref()),
        )),
    ];
    cols.extend((0..keys.len()).map(|c| {
        Arc::new(StringArray::from_iter(
            ordered.iter().map(|&j| key_list[report[j].1][c].as_deref()),
        )) as ArrayRef
    }));
    cols.extend([
        Arc::new(Float64Array::from_iter(
            es.iter().map(|e| finite(e.estimate)),
        )) as ArrayRef,
        Arc::new(Float64Array::from_iter(
            es.iter().map(|e| finite(e.estimate).and(finite(e.se))),
        )),
        Arc::new(Float64Array::from_iter(
            es.iter().map(|e| finite(e.ci_lower)),
        )),
        Arc::new(Float64Array::from_iter(
            es.iter().map(|e| finite(e.ci_upper)),
        )),
        Arc::new(Int64Array::from_iter_values(es.iter().map(|e| e.n as i64))),
        Arc::new(Float64Array::from_iter_values(es.iter().map(|e| e.n_eff))),
        Arc::new(Float64Array::from_iter(es.iter().map(|e| finite(e.cv)))),
        Arc::new(BooleanArray::from_iter(es.iter().map(|e| {
            Some(e.n < spec.rules.min_n || e.cv.is_nan() || e.cv > spec.rules.max_cv)
        }))),
        Arc::new(StringArray::from(vec![spec.unit.as_str(); rows])),
        Arc::new(StringArray::from(vec![method; rows])),
    ]);
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `person_cells` sums per key first; a row-by-row sum into every (domain, key) it counts
    /// in (the plain definition) gives the same cells with the same sums, bit for bit.
    #[test]
    fn person_cells_equal_the_row_by_row_sums() {
        fn plain(rows: &[Row], pd: &[u32]) -> Vec<(u32, u32, f64, f64)> {
            let mut local: Vec<(u32, u32, f64, f64)> = Vec::new();
            let mut add = |d: u32, k: u32, y: f64, x: f64| match local
                .iter_mut()
                .find(|e| e.0 == d && e.1 == k)
            {
                Some(e) => {
                    e.2 += y;
                    e.3 += x;
                }
                None => local.push((d, k, y, x)),
            };
            for r in rows {
                for &d in pd
                    .iter()
                    .chain(r.trip_domain.iter().filter(|&&d| d != NONE))
                {
                    add(d, r.key, r.y, r.x);
                }
            }
            local.sort_by_key(|e| (e.0, e.1));
            local
        }
        let mut state = 7u64;
        let mut next = |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        let mut local = Vec::new();
        for case in 0..500 {
            let pd: Vec<u32> = (0..next(4) as u32).map(|i| i * 3 + (case % 2)).collect();
            let rows: Vec<Row> = (0..1 + next(6))
                .map(|_| Row {
                    person: 0,
                    key: next(3) as u32,
                    trip_domain: [
                        if next(3) == 0 {
                            NONE
                        } else {
                            20 + next(2) as u32
                        },
                        if next(3) == 0 {
                            NONE
                        } else {
                            30 + next(3) as u32
                        },
                    ],
                    y: next(1000) as f64 / 7.0,
                    x: next(1000) as f64 / 3.0,
                })
                .collect();
            person_cells(&rows, &pd, &mut local);
            let mut got = local.clone();
            got.sort_by_key(|e| (e.0, e.1));
            let want = plain(&rows, &pd);
            assert_eq!(got.len(), want.len(), "case {case}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!((g.0, g.1), (w.0, w.1), "case {case}");
                assert_eq!(g.2.to_bits(), w.2.to_bits(), "case {case}");
                assert_eq!(g.3.to_bits(), w.3.to_bits(), "case {case}");
            }
        }
    }

    /// Ids numbered densely are looked up in a table, ids spread wide in a hash map: both find
    /// every person and nobody else, the later of two equal ids winning.
    #[test]
    fn person_index_dense_and_hashed_agree() {
        for ids in [
            vec![5i64, 6, 7, 9, 6],
            vec![-3, 1 << 40, 17, 17, i64::MIN, i64::MAX],
        ] {
            let index = PersonIndex::new(&ids);
            for probe in [
                -4,
                -3,
                0,
                5,
                6,
                7,
                8,
                9,
                10,
                17,
                1 << 40,
                i64::MIN,
                i64::MAX,
            ] {
                let want = ids.iter().rposition(|&i| i == probe).map(|p| p as u32);
                assert_eq!(index.get(probe), want, "{ids:?} {probe}");
            }
        }
        assert!(matches!(
            PersonIndex::new(&[5, 6, 7, 9, 6]),
            PersonIndex::Dense { .. }
        ));
        assert!(matches!(
            PersonIndex::new(&[0, 1 << 40]),
            PersonIndex::Hashed(_)
        ));
        assert_eq!(PersonIndex::new(&[]).get(0), None);
    }

    /// Short and long values, as Utf8, Utf8View and dictionary columns, get one code each.
    #[test]
    fn interner_codes_short_and_long_values_alike_across_types() {
        let values = vec![
            Some("car_driver"),
            None,
            Some("a value longer than sixteen bytes"),
            Some(""),
            Some("car_driver"),
            Some("a value longer than sixteen bytes"),
            Some("fifteen bytes.."),
            Some("sixteen bytes..."),
            Some("twelve bytes"),
            Some("thirteen byte"),
            Some("twelve bytes"),
        ];
        let utf8: ArrayRef = Arc::new(StringArray::from(values.clone()));
        let view: ArrayRef = Arc::new(arrow::array::StringViewArray::from(values.clone()));
        let dict: ArrayRef = Arc::new(
            values
                .iter()
                .copied()
                .collect::<arrow::array::DictionaryArray<arrow::datatypes::Int32Type>>(),
        );
        let mut i = Interner::default();
        let mut codes = Vec::new();
        for col in [&utf8, &view, &dict] {
            let mut out = Vec::new();
            i.code(col, &mut out).unwrap();
            codes.push(out);
        }
        assert_eq!(codes[0], vec![0, NONE, 1, 2, 0, 1, 3, 4, 5, 6, 5]);
        assert_eq!(codes[1], codes[0]);
        assert_eq!(codes[2], codes[0]);
        assert_eq!(i.names.len(), 7);
        // Views first: the same codes, the strings then found by the views' keys.
        let mut j = Interner::default();
        for col in [&view, &utf8, &dict] {
            let mut out = Vec::new();
            j.code(col, &mut out).unwrap();
            assert_eq!(out, codes[0]);
        }
        assert_eq!(j.names, i.names);
    }

    /// A string column's values (nulls, empty, up to 20 bytes, repeated and not, next to one
    /// another in the values buffer, the array sliced) get the codes a map of the values in
    /// the order met gives.
    #[test]
    fn interner_codes_string_columns_as_a_map_of_the_values() {
        let mut state = 7u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let values: Vec<Option<String>> = (0..3000)
            .map(|_| {
                (next() % 10 != 0).then(|| {
                    let len = next() % 21;
                    (0..len)
                        .map(|_| (b'a' + (next() % 3) as u8) as char)
                        .collect()
                })
            })
            .collect();
        let utf8 = StringArray::from(values.clone());
        for (from, to) in [
            (0, values.len()),
            (13, values.len() - 29),
            (2990, values.len()),
        ] {
            let col: ArrayRef = Arc::new(utf8.slice(from, to - from));
            let mut i = Interner::default();
            let mut out = Vec::new();
            i.code(&col, &mut out).unwrap();
            let mut seen: HashMap<&str, u32> = HashMap::default();
            let want: Vec<u32> = values[from..to]
                .iter()
                .map(|v| match v {
                    None => NONE,
                    Some(v) => {
                        let n = seen.len() as u32;
                        *seen.entry(v.as_str()).or_insert(n)
                    }
                })
                .collect();
            assert_eq!(out, want, "slice {from}..{to}");
            assert_eq!(i.names.len(), seen.len());
        }
    }

    /// No recoding: the rows as they came.
    const KEEP: Recode = Recode {
        null_key: None,
        first_trip_domain: [0; TRIP_BREAKDOWNS.len()],
    };

    /// Grouping by person gives what a stable sort by person gives, on interleaved sorted runs
    /// as the query's partitions deliver them (joined, merged or counted), and leaves sorted
    /// rows as they are.
    #[test]
    fn rows_by_person_equal_a_stable_sort() {
        let row = |person: u32, key: u32| Row {
            person,
            key,
            trip_domain: [NONE; TRIP_BREAKDOWNS.len()],
            y: f64::from(key),
            x: 0.0,
        };
        // Two partitions' runs of persons 0..200 and 200..400, in chunks of 3, interleaved (over
        // 64 descents: the counting sort's path); a person's rows numbered by key in order.
        let part = |from: u32| -> Vec<Row> {
            (from..from + 200)
                .flat_map(|p| (0..p % 4).map(move |k| row(p, k)))
                .collect()
        };
        let (a, b) = (part(200), part(0));
        let mut rows = Vec::new();
        for (ca, cb) in a.chunks(3).zip(b.chunks(3)) {
            rows.extend_from_slice(ca);
            rows.extend_from_slice(cb);
        }
        let descents = rows
            .windows(2)
            .filter(|w| w[0].person > w[1].person)
            .count();
        assert!(descents >= 64, "{descents}");
        let mut expected = rows.clone();
        expected.sort_by_key(|r| r.person);
        // As one batch, and as batches of 7 rows (runs that split persons).
        let batches = |v: &[Row], size: usize| v.chunks(size).map(<[Row]>::to_vec).collect();
        let got = by_person(vec![rows.clone()], 400, Vec::new(), &KEEP);
        let pairs = |v: &[Row]| v.iter().map(|r| (r.person, r.key)).collect::<Vec<_>>();
        assert_eq!(pairs(&got), pairs(&expected));
        assert_eq!(
            pairs(&by_person(batches(&rows, 7), 400, Vec::new(), &KEEP)),
            pairs(&expected)
        );
        assert_eq!(
            pairs(&by_person(vec![got.clone()], 400, Vec::new(), &KEEP)),
            pairs(&got)
        );
        // Sorted rows in batches are joined as they are.
        assert_eq!(
            pairs(&by_person(batches(&got, 5), 400, Vec::new(), &KEEP)),
            pairs(&got)
        );
        // Two sorted runs, persons 200.. before 0.. (the merge sort's path), in one batch and
        // in two.
        let in_order: Vec<Row> = b.iter().chain(&a).copied().collect();
        let two_runs: Vec<Row> = a.iter().chain(&b).copied().collect();
        assert_eq!(
            pairs(&by_person(vec![two_runs], 400, Vec::new(), &KEEP)),
            pairs(&in_order)
        );
        assert_eq!(
            pairs(&by_person(
                vec![a.clone(), b.clone()],
                400,
                Vec::new(),
                &KEEP
            )),
            pairs(&in_order)
        );
        assert!(by_person(Vec::new(), 3, Vec::new(), &KEEP).is_empty());
        // Each partition's chunks as runs, interleaved: sorted runs that do not overlap, put
        // in order and joined. A person split over two runs keeps its rows' order.
        let interleaved: Vec<Vec<Row>> = a
            .chunks(3)
            .zip(b.chunks(3))
            .flat_map(|(ca, cb)| [ca.to_vec(), cb.to_vec()])
            .collect();
        assert!(interleaved.len() > 64);
        assert_eq!(
            pairs(&by_person(interleaved.clone(), 400, Vec::new(), &KEEP)),
            pairs(&expected)
        );
        // Runs that start with the same person: the run that ends sooner first, whichever
        // came first (two partitions' rows have no order between them to keep).
        let (p, q) = (vec![row(5, 0)], vec![row(5, 1), row(6, 0)]);
        assert_eq!(
            pairs(&by_person(
                vec![q.clone(), p.clone()],
                400,
                Vec::new(),
                &KEEP
            )),
            [(5, 0), (5, 1), (6, 0)]
        );
        assert_eq!(
            pairs(&by_person(vec![p, q], 400, Vec::new(), &KEEP)),
            [(5, 0), (5, 1), (6, 0)]
        );
        // Into a buffer given back by an earlier estimation, its old rows dropped.
        let used = vec![row(7, 7); 5000];
        assert_eq!(
            pairs(&by_person(batches(&rows, 7), 400, used.clone(), &KEEP)),
            pairs(&expected)
        );
        assert_eq!(
            pairs(&by_person(vec![a.clone(), b.clone()], 400, used, &KEEP)),
            pairs(&in_order)
        );
    }

    /// Every path of [`by_person`] recodes each row once: a NULL key to the NULL code, a trip
    /// code to its domain (NONE stays NONE).
    #[test]
    fn rows_by_person_are_recoded_once_on_every_path() {
        let recode = Recode {
            null_key: Some(9),
            first_trip_domain: [100; TRIP_BREAKDOWNS.len()],
        };
        let row = |person: u32, i: u32| {
            let mut trip_domain = [NONE; TRIP_BREAKDOWNS.len()];
            trip_domain[0] = i % 3;
            Row {
                person,
                key: if i.is_multiple_of(2) { NONE } else { i % 5 },
                trip_domain,
                y: f64::from(i),
                x: 0.0,
            }
        };
        let rows: Vec<Row> = (0..300).map(|i| row(i / 2, i)).collect();
        let reversed: Vec<Row> = rows.iter().rev().copied().collect();
        let expect = |r: &Row| {
            let i = r.y as u32;
            let key = if i.is_multiple_of(2) { 9 } else { i % 5 };
            (key, 100 + i % 3, r.trip_domain[1])
        };
        let paths: Vec<(&str, Vec<Vec<Row>>)> = vec![
            ("one sorted run", vec![rows.clone()]),
            (
                "sorted runs joined",
                vec![rows[150..].to_vec(), rows[..150].to_vec()],
            ),
            (
                "a few descents merged",
                vec![
                    rows.iter()
                        .rev()
                        .take(3)
                        .rev()
                        .copied()
                        .chain(rows[..297].iter().copied())
                        .collect(),
                ],
            ),
            ("many descents counted", vec![reversed]),
        ];
        for (path, runs) in paths {
            let got = by_person(runs, 150, vec![row(1, 1); 10], &recode);
            assert_eq!(got.len(), 300, "{path}");
            assert!(got.windows(2).all(|w| w[0].person <= w[1].person), "{path}");
            for r in &got {
                assert_eq!(
                    (r.key, r.trip_domain[0], r.trip_domain[1]),
                    expect(r),
                    "{path}"
                );
            }
        }
    }

    /// The table's order is the order of a map keyed by (domain, key), equal domains and keys
    /// (by value, at other indices) counted as one and the last cell of a pair kept.
    #[test]
    fn table_order_equals_a_map_of_domain_and_key() {
        let dom = |order: usize, b: &str, v: Option<&str>| Domain {
            order,
            breakdown: b.into(),
            value: v.map(str::to_string),
        };
        let domains = vec![
            dom(3, "gender", Some("male")),
            dom(0, "all", None),
            dom(3, "gender", Some("female")),
            dom(1, "home_zone", Some("z2")),
            dom(3, "gender", Some("male")),
        ];
        let key = |k: &[Option<&str>]| k.iter().map(|v| v.map(str::to_string)).collect();
        let key_list: Vec<Vec<Option<String>>> = vec![
            key(&[Some("z1"), Some("z2")]),
            key(&[None, Some("z1")]),
            key(&[Some("z1"), None]),
            key(&[Some("z1"), Some("z2")]),
            key(&[Some("a"), Some("z9")]),
        ];
        let report: Vec<(usize, usize)> = (0..40).map(|i| ((i * 7) % 5, (i * 3) % 5)).collect();
        let mut map = std::collections::BTreeMap::new();
        for (j, &(d, k)) in report.iter().enumerate() {
            map.insert((&domains[d], &key_list[k]), j);
        }
        let want: Vec<usize> = map.into_values().collect();
        assert!(want.len() < report.len());
        assert_eq!(table_order(&domains, &key_list, &report), want);
    }

    /// An inline view whose bytes past the value are not zero (the format asks for zeros, a
    /// writer may not give them) is still the value's code.
    #[test]
    fn interner_ignores_the_bytes_past_an_inline_value() {
        let clean = arrow::array::StringViewArray::from(vec!["bike", "walk"]);
        let dirty: Vec<u128> = clean.views().iter().map(|v| v | (0xAB << 120)).collect();
        // SAFETY: the views are inline (4 bytes each) and valid UTF-8; only their unused
        // padding bytes changed, which no reader of the value looks at.
        let dirty =
            unsafe { arrow::array::StringViewArray::new_unchecked(dirty.into(), vec![], None) };
        assert_eq!(dirty.value(0), "bike");
        let mut i = Interner::default();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        i.code(&(Arc::new(clean) as ArrayRef), &mut a).unwrap();
        i.code(&(Arc::new(dirty) as ArrayRef), &mut b).unwrap();
        assert_eq!(a, vec![0, 1]);
        assert_eq!(b, a);
        assert_eq!(i.names.len(), 2);
    }

    /// Twelve persons in two strata (`person_frame`'s columns) and 30 trips between four
    /// zones, with y and x.
    fn persons_and_trips() -> (RecordBatch, RecordBatch) {
        let n = 12;
        let s = |f: &dyn Fn(usize) -> Option<String>| -> ArrayRef {
            Arc::new(StringArray::from((0..n).map(f).collect::<Vec<_>>()))
        };
        let frame_batch = RecordBatch::try_from_iter(vec![
            (
                "person_id",
                Arc::new(Int64Array::from_iter_values(0..n as i64)) as ArrayRef,
            ),
            ("stratum", s(&|i| Some(format!("h{}", i % 2)))),
            (
                "w",
                Arc::new(Float64Array::from_iter_values(
                    (0..n).map(|i| 1.0 + i as f64 / 3.0),
                )),
            ),
            ("home_zone", s(&|i| Some(format!("z{}", i % 3)))),
            (
                "age_band",
                s(&|i| (i % 4 != 0).then(|| "18-29".to_string())),
            ),
            (
                "gender",
                s(&|i| Some(if i % 2 == 0 { "female" } else { "male" }.into())),
            ),
            ("employment", s(&|_| None)),
            ("day_type", s(&|_| Some("weekday".into()))),
        ])
        .unwrap();
        let trips = 30;
        let t = |f: &dyn Fn(usize) -> String| -> ArrayRef {
            Arc::new(StringArray::from((0..trips).map(f).collect::<Vec<_>>()))
        };
        let rows = RecordBatch::try_from_iter(vec![
            (
                "person_id",
                Arc::new(Int64Array::from_iter_values(
                    (0..trips).map(|i| (i * 7 % n) as i64),
                )) as ArrayRef,
            ),
            ("origin_zone_id", t(&|i| format!("z{}", i % 4))),
            ("dest_zone_id", t(&|i| format!("z{}", (i / 4) % 4))),
            (
                "purpose",
                t(&|i| {
                    if i % 3 == 0 {
                        "work".into()
                    } else {
                        "leisure".into()
                    }
                }),
            ),
            (
                "y",
                Arc::new(Float64Array::from_iter_values(
                    (0..trips).map(|i| 1.0 + (i % 5) as f64),
                )),
            ),
            (
                "x",
                Arc::new(Float64Array::from_iter_values(
                    (0..trips).map(|i| 2.0 + (i % 3) as f64),
                )),
            ),
        ])
        .unwrap();
        (frame_batch, rows)
    }

    /// A NULL key (one key column) is a cell of its own with the figures a named key gets in
    /// its place, for a mean and a median by linearisation and a total by the bootstrap: the
    /// rows' NULL keys are recoded on the way to the estimation, whichever path they take.
    #[test]
    fn a_null_key_gets_the_figures_a_named_key_gets() {
        use arrow::array::AsArray;
        let (frame_batch, rows) = persons_and_trips();
        let frame = Arc::new(Frame::from_batches(&[frame_batch]).unwrap());
        let n = rows.num_rows();
        let with_key = |null: Option<&str>| -> RecordBatch {
            let mode: ArrayRef = Arc::new(StringArray::from(
                (0..n)
                    .map(|i| {
                        if i % 4 == 1 {
                            null.map(String::from)
                        } else {
                            Some(format!("m{}", i % 3))
                        }
                    })
                    .collect::<Vec<_>>(),
            ));
            let column = |c: &str| rows.column_by_name(c).unwrap().clone();
            RecordBatch::try_from_iter(vec![
                ("person_id", column("person_id")),
                ("mode", mode),
                ("purpose", column("purpose")),
                ("y", column("y")),
            ])
            .unwrap()
        };
        type Cells =
            std::collections::BTreeMap<(String, Option<String>, Option<String>), (f64, f64)>;
        let cells = |t: &RecordBatch| -> Cells {
            let text = |c: &str| {
                arrow::compute::cast(t.column_by_name(c).unwrap(), &DataType::Utf8).unwrap()
            };
            let (b, v, m) = (text("breakdown"), text("breakdown_value"), text("mode"));
            let (b, v, m) = (
                b.as_string::<i32>(),
                v.as_string::<i32>(),
                m.as_string::<i32>(),
            );
            let f = |c: &str| {
                t.column_by_name(c)
                    .unwrap()
                    .as_primitive::<Float64Type>()
                    .clone()
            };
            let (e, se) = (f("estimate"), f("se"));
            let opt = |a: &arrow::array::StringArray, i: usize| {
                a.is_valid(i).then(|| a.value(i).to_string())
            };
            (0..t.num_rows())
                .map(|i| {
                    let mode = opt(m, i).filter(|m| m != "named");
                    (
                        (b.value(i).to_string(), opt(v, i), mode),
                        (e.value(i), se.value(i)),
                    )
                })
                .collect()
        };
        for (estimator, variance) in [
            (Estimator::Mean, Variance::Linearisation),
            (Estimator::Median, Variance::Linearisation),
            (
                Estimator::Total,
                Variance::Bootstrap {
                    replicates: 20,
                    seed: 3,
                },
            ),
        ] {
            let spec = Spec {
                id: "test".into(),
                unit: "u".into(),
                estimator,
                variance,
                rules: Rules::default(),
                observed_only: false,
            };
            let null = estimate(frame.clone(), spec.clone(), &[with_key(None)]).unwrap();
            let named = estimate(frame.clone(), spec, &[with_key(Some("named"))]).unwrap();
            let (null, named) = (cells(&null), cells(&named));
            let null_cells = null.keys().filter(|k| k.2.is_none()).count();
            assert!(null_cells > 5, "{estimator:?}: {null_cells} NULL-key cells");
            assert_eq!(null.len(), named.len(), "{estimator:?}");
            for (k, (e, se)) in &named {
                let (e0, se0) = null[k];
                let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
                assert!(
                    same(*e, e0) && same(*se, se0),
                    "{estimator:?} {k:?}: {e0} {se0} against {e} {se}"
                );
            }
        }
    }

    /// The frame is in person_id order whatever order the persons come in, so a seeded
    /// bootstrap gives the same SEs. The frame's query is a join whose partitions interleave
    /// as their threads go; before, the same seed gave SEs up to 130 % apart run to run.
    #[test]
    fn the_bootstrap_does_not_depend_on_the_order_persons_come_in() {
        let (frame_batch, rows) = persons_and_trips();
        let reversed = |b: RecordBatch| {
            let idx = arrow::array::UInt32Array::from_iter_values((0..b.num_rows() as u32).rev());
            arrow::compute::take_record_batch(&b, &idx).unwrap()
        };
        let (low, high) = (frame_batch.slice(0, 5), frame_batch.slice(5, 7));
        let shuffled = [reversed(high), reversed(low)];
        let frames = [
            Arc::new(Frame::from_batches(&[frame_batch]).unwrap()),
            Arc::new(Frame::from_batches(&shuffled).unwrap()),
        ];
        let tables: Vec<RecordBatch> = frames
            .iter()
            .map(|frame| {
                let spec = Spec {
                    id: "test".into(),
                    unit: "u".into(),
                    estimator: Estimator::Mean,
                    variance: Variance::Bootstrap {
                        replicates: 40,
                        seed: 7,
                    },
                    rules: Rules::default(),
                    observed_only: false,
                };
                estimate(frame.clone(), spec, std::slice::from_ref(&rows)).unwrap()
            })
            .collect();
        assert_eq!(frames[0].weight, frames[1].weight);
        assert!(tables[0].num_rows() > 10);
        assert_eq!(tables[0], tables[1]);
    }

    /// Indicators finished in one pass over shared replicates get the tables each gets alone,
    /// to the last bit, with each replicate's weights drawn once for all of them; indicators
    /// of another seed get a pass of their own.
    #[test]
    fn indicators_sharing_replicates_get_the_tables_each_gets_alone() {
        let (frame_batch, rows) = persons_and_trips();
        let frame = Arc::new(Frame::from_batches(&[frame_batch]).unwrap());
        let spec = |estimator, seed| Spec {
            id: format!("{estimator:?}-{seed}"),
            unit: "u".into(),
            estimator,
            variance: Variance::Bootstrap {
                replicates: 25,
                seed,
            },
            rules: Rules::default(),
            observed_only: false,
        };
        let specs: Vec<Spec> = [
            Estimator::Total,
            Estimator::Mean,
            Estimator::Share,
            Estimator::Ratio,
            Estimator::Median,
        ]
        .into_iter()
        .map(|e| spec(e, 7))
        .chain([spec(Estimator::Mean, 8)])
        .collect();
        let pending: Vec<Pending> = specs
            .iter()
            .map(|spec| {
                let mut intake = Intake::new(frame.clone(), spec.clone(), &rows.schema()).unwrap();
                intake.push(&rows).unwrap();
                match intake.finish_pending(None).unwrap().0 {
                    Finished::Pending(p) => *p,
                    Finished::Table(_) => panic!("{}: a replicate method waits", spec.id),
                }
            })
            .collect();
        let (tables, passes) = replicate_all(pending).unwrap();
        for (spec, shared) in specs.iter().zip(&tables) {
            let alone = estimate(frame.clone(), spec.clone(), std::slice::from_ref(&rows)).unwrap();
            assert!(alone.num_rows() > 5, "{}", spec.id);
            assert_eq!(shared, &alone, "{}", spec.id);
        }
        let drawn: Vec<(u64, usize)> = passes
            .iter()
            .map(|p| (p.replicates_drawn, p.indicators.len()))
            .collect();
        assert_eq!(drawn, [(25, 5), (25, 1)]);
        // The total's SEs worked from the multipliers directly: θ_b = Σ aᵢ wᵢ yᵢ per key,
        // SE² = (1/B) Σ_b (θ_b − θ̂)².
        let multipliers: Vec<Vec<f64>> = (0..25).map(|b| frame.strata.rao_wu(7, b)).collect();
        let text =
            |b: &RecordBatch, c: &str| b.column_by_name(c).unwrap().as_string::<i32>().clone();
        let (origin, dest) = (text(&rows, "origin_zone_id"), text(&rows, "dest_zone_id"));
        let ids = rows
            .column_by_name("person_id")
            .unwrap()
            .as_primitive::<Int64Type>()
            .clone();
        let y = rows
            .column_by_name("y")
            .unwrap()
            .as_primitive::<Float64Type>()
            .clone();
        let theta = |a: Option<&[f64]>, o: &str, d: &str| -> f64 {
            (0..rows.num_rows())
                .filter(|&i| origin.value(i) == o && dest.value(i) == d)
                .map(|i| {
                    let p = frame.position(ids.value(i)).unwrap();
                    a.map_or(1.0, |a| a[p]) * frame.weight[p] * y.value(i)
                })
                .sum()
        };
        let total = &tables[0];
        let (breakdown, o, d) = (
            text(total, "breakdown"),
            text(total, "origin_zone_id"),
            text(total, "dest_zone_id"),
        );
        let se = total
            .column_by_name("se")
            .unwrap()
            .as_primitive::<Float64Type>()
            .clone();
        let mut compared = 0;
        for r in (0..total.num_rows()).filter(|&r| breakdown.value(r) == "all") {
            let hat = theta(None, o.value(r), d.value(r));
            let v = multipliers
                .iter()
                .map(|a| (theta(Some(a), o.value(r), d.value(r)) - hat).powi(2))
                .sum::<f64>()
                / 25.0;
            let want = v.sqrt();
            assert!(
                (se.value(r) - want).abs() <= 1e-9 * want,
                "{r}: {} vs {want}",
                se.value(r)
            );
            compared += u32::from(want > 0.0);
        }
        assert!(compared >= 5, "{compared}");
    }

    /// A test indicator's spec with its SEs by linearisation.
    fn linearised(estimator: Estimator, observed_only: bool) -> Spec {
        Spec {
            id: "test".into(),
            unit: "u".into(),
            estimator,
            variance: Variance::Linearisation,
            rules: Rules::default(),
            observed_only,
        }
    }

    /// The person-level domains summed per profile give the figures each person added to
    /// each of its domains gives, to rounding (the sums are added in another order), for
    /// every estimator, with the cells as an array and as hash maps.
    #[test]
    fn sums_per_profile_equal_sums_per_domain() {
        let (frame_batch, rows) = persons_and_trips();
        let frame = Arc::new(Frame::from_batches(&[frame_batch]).unwrap());
        for estimator in [
            Estimator::Total,
            Estimator::Mean,
            Estimator::Share,
            Estimator::Ratio,
        ] {
            for (observed_only, dense_max) in [(false, usize::MAX), (true, usize::MAX), (false, 0)]
            {
                let spec = linearised(estimator, observed_only);
                let run = |profile_max| {
                    let limits = Limits {
                        dense_max,
                        profile_max: Some(profile_max),
                        keyed: false,
                    };
                    estimate_with(frame.clone(), spec.clone(), &[rows.clone()], limits).unwrap()
                };
                let (by_domain, by_profile) = (run(0), run(usize::MAX));
                let what = format!("{estimator:?} observed_only={observed_only} {dense_max}");
                assert!(by_domain.num_rows() > 10, "{what}");
                assert_eq!(by_domain.schema(), by_profile.schema(), "{what}");
                for (c, field) in by_domain.schema().fields().iter().enumerate() {
                    let (a, b) = (by_domain.column(c), by_profile.column(c));
                    if field.data_type() != &DataType::Float64 {
                        assert_eq!(a, b, "{what}: {}", field.name());
                        continue;
                    }
                    let (a, b) = (
                        a.as_primitive::<Float64Type>(),
                        b.as_primitive::<Float64Type>(),
                    );
                    for i in 0..a.len() {
                        assert_eq!(
                            a.is_null(i),
                            b.is_null(i),
                            "{what}: {} row {i}",
                            field.name()
                        );
                        let (x, y) = (a.value(i), b.value(i));
                        let close = (x.is_nan() && y.is_nan())
                            || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-300);
                        assert!(close, "{what}: {} row {i}: {x} against {y}", field.name());
                    }
                }
            }
        }
    }

    /// Twelve persons in two strata with trips between four zones: every estimator gives the
    /// same table with the sums in an array, in hash maps and key by key.
    #[test]
    fn sparse_and_dense_sums_agree() {
        let (frame_batch, rows) = persons_and_trips();
        let frame = Arc::new(Frame::from_batches(&[frame_batch]).unwrap());
        // The trips again with another y, every other one with another purpose: every person
        // has two rows of each of its keys, in the same trip-level domain or in two.
        let again = {
            let mut cols = rows.columns().to_vec();
            let (purpose, y) = (
                rows.schema().index_of("purpose").unwrap(),
                rows.schema().index_of("y").unwrap(),
            );
            let old = cols[purpose].as_string::<i32>().clone();
            cols[purpose] = Arc::new(StringArray::from_iter_values(
                (0..rows.num_rows()).map(|i| if i % 2 == 0 { "school" } else { old.value(i) }),
            ));
            cols[y] = Arc::new(Float64Array::from_iter_values(
                (0..rows.num_rows()).map(|i| 0.5 + i as f64),
            ));
            RecordBatch::try_new(rows.schema(), cols).unwrap()
        };
        let batches = [rows.clone(), again];
        for estimator in [
            Estimator::Total,
            Estimator::Mean,
            Estimator::Share,
            Estimator::Ratio,
        ] {
            for observed_only in [false, true] {
                let spec = linearised(estimator, observed_only);
                let run = |dense_max, keyed| {
                    let limits = Limits {
                        dense_max,
                        profile_max: Some(0),
                        keyed,
                    };
                    estimate_with(frame.clone(), spec.clone(), &batches, limits).unwrap()
                };
                let dense = run(usize::MAX, true);
                assert!(dense.num_rows() > 10, "{estimator:?}");
                for keyed in [false, true] {
                    assert_eq!(
                        dense,
                        run(0, keyed),
                        "{estimator:?} observed_only={observed_only} keyed={keyed}"
                    );
                }
            }
        }
    }
}
