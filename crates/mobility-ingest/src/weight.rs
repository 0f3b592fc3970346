//! `mobility weight`: person weights calibrated to population margins.
//!
//! Reads the margins file ([`mobility_model::margins`]), puts every respondent in a category of
//! each variable, calibrates the base weights ([`mobility_stats::calibration`]) and commits in
//! one step: `persons.weight` calibrated, `persons.base_weight` the weight before (the first
//! calibration keeps the survey's own; calibrating again starts from it), and the margins in
//! `calibration_margins`, which `mobility run` reads to give SEs from calibration residuals.
//! The report is printed and written to `<data>/_calibration.txt`.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Float64Type};
use mobility_model::Table;
use mobility_model::margins::{self, Categorised};
use mobility_stats::calibration::{self, Design, Method};

use crate::store::{DataDir, LockOptions, Staging};
use crate::{Error, Result};

/// The report's file in the data directory.
pub const REPORT: &str = "_calibration.txt";

/// How `mobility weight` calibrates.
#[derive(Debug, Clone)]
pub struct WeightOptions {
    /// Raking or linear, bounds, iterations, tolerance.
    pub calibration: calibration::Options,
    /// Waiting for the data directory's writer lock.
    pub lock: LockOptions,
}

/// What calibration did, for the planner.
#[derive(Debug, Clone)]
pub struct WeightReport {
    /// The margins file.
    pub margins_file: String,
    /// The method.
    pub method: Method,
    /// Bounds on g = w/d.
    pub bounds: Option<(f64, f64)>,
    /// Respondents.
    pub persons: usize,
    /// Newton steps.
    pub iterations: u32,
    /// Per margin: (variable, category, total, Σ base weight, Σ calibrated weight).
    pub margins: Vec<(String, String, f64, f64, f64)>,
    /// max |Σw − T| / T over every margin.
    pub max_error: f64,
    /// (min, max) of the base weights.
    pub base_range: (f64, f64),
    /// (min, max) of the calibrated weights.
    pub weight_range: (f64, f64),
    /// (min, max) of g = w/d.
    pub g_range: (f64, f64),
    /// Kish's design effect of unequal weights, n Σw² / (Σw)², before and after.
    pub kish: (f64, f64),
}

impl fmt::Display for WeightReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = match self.method {
            Method::Raking => "raking",
            Method::Linear => "linear (GREG)",
        };
        writeln!(f, "calibration of persons.weight to {}", self.margins_file)?;
        writeln!(f, "  method: {method}")?;
        if let Some((lo, hi)) = self.bounds {
            writeln!(f, "  bounds on the adjustment w/base_weight: {lo} to {hi}")?;
        }
        writeln!(f, "  respondents: {}", self.persons)?;
        writeln!(f, "  iterations: {}", self.iterations)?;
        writeln!(
            f,
            "  largest margin error: {:.3e} (relative)",
            self.max_error
        )?;
        writeln!(
            f,
            "  base weights: {:.4} to {:.4}; calibrated: {:.4} to {:.4}; adjustment: {:.4} to {:.4}",
            self.base_range.0,
            self.base_range.1,
            self.weight_range.0,
            self.weight_range.1,
            self.g_range.0,
            self.g_range.1
        )?;
        writeln!(
            f,
            "  Kish design effect of the weights: {:.4} before, {:.4} after",
            self.kish.0, self.kish.1
        )?;
        writeln!(f, "  variable,category,total,base_total,calibrated_total")?;
        for (v, c, t, b, w) in &self.margins {
            writeln!(f, "  {v},{c},{t},{b:.6},{w:.6}")?;
        }
        Ok(())
    }
}

fn range(v: impl Iterator<Item = f64>) -> (f64, f64) {
    v.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    })
}

fn kish(w: &[f64]) -> f64 {
    let (s, s2) = w.iter().fold((0.0, 0.0), |(a, b), w| (a + w, b + w * w));
    w.len() as f64 * s2 / (s * s)
}

/// Calibrates the persons of `dir` to the margins in `margins_path`.
pub fn weight(dir: &DataDir, margins_path: &Path, opts: &WeightOptions) -> Result<WeightReport> {
    let lock = dir.lock(&opts.lock)?;
    let file = margins_path.display().to_string();
    let (margins_name, margins) = read_margins(margins_path)?;
    let persons = read_persons(dir)?;
    let all: Vec<RecordBatch> = persons
        .iter()
        .flat_map(|(_, b)| b.iter().cloned())
        .collect();
    let households = dir.read_table(Table::Households)?;
    let categorised =
        margins::categorise(&margins_name, &margins, &all, &households).map_err(margin_error)?;
    let base = base_weights(&all, &categorised, &file)?;

    let (design, column_of) = Design::from_categories(&categorised.of_person, &categorised.sizes());
    let totals = categorised.column_totals(&column_of, design.columns);
    let calibrated = calibration::calibrate(&base, &design, &totals, &opts.calibration)
        .map_err(|e| calibration_error(e, &categorised, &column_of, opts, &file))?;
    let w = calibrated.weights;
    let margin_rows = margin_rows(&categorised, &base, &w);

    let mut staging = Staging::new(dir, &lock)?;
    stage_weights(&mut staging, &persons, &w, &base)?;
    staging.table(
        Table::CalibrationMargins,
        "data",
        &margins_batch(&margin_rows)?,
    )?;
    staging.commit()?;

    let report = WeightReport {
        margins_file: margins_name,
        method: opts.calibration.method,
        bounds: opts.calibration.bounds,
        persons: w.len(),
        iterations: calibrated.iterations,
        max_error: categorised.max_error(&w),
        margins: margin_rows,
        base_range: range(base.iter().copied()),
        weight_range: range(w.iter().copied()),
        g_range: range(w.iter().zip(&base).map(|(w, d)| w / d)),
        kish: (kish(&base), kish(&w)),
    };
    // The report beside the data it describes, replaced whole.
    let target = dir.root().join(REPORT);
    let tmp = dir.root().join(format!(".{REPORT}.tmp"));
    std::fs::write(&tmp, report.to_string()).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &target).map_err(|e| Error::io(&target, e))?;
    drop(lock);
    Ok(report)
}

fn margin_error(e: margins::MarginError) -> Error {
    Error::format(&e.file, e.line.map(|l| l as u64), e.message)
}

/// The margins file (plain, `.gz` or one member of a `.zip`): its name and margins.
fn read_margins(path: &Path) -> Result<(String, Vec<margins::Margin>)> {
    let files = crate::source::read_text(path, &[".csv", ".txt"])?;
    let [text] = files.as_slice() else {
        return Err(Error::format(
            &path.display().to_string(),
            None::<u64>,
            format!(
                "holds {} margins files; expected one CSV of variable,category,total",
                files.len()
            ),
        ));
    };
    let margins = margins::parse(&text.name, &text.text).map_err(margin_error)?;
    Ok((text.name.clone(), margins))
}

/// The persons part by part (each is written back whole).
fn read_persons(dir: &DataDir) -> Result<Vec<(String, Vec<RecordBatch>)>> {
    let parts = dir.parts(Table::Persons)?;
    if parts.is_empty() {
        return Err(Error::format(
            &dir.root().display().to_string(),
            None::<u64>,
            "has no persons: ingest a survey before calibrating its weights",
        ));
    }
    parts
        .iter()
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let batches = dir.read_part(Table::Persons, &name)?;
            Ok((name, batches))
        })
        .collect()
}

/// Each person's weight before the first calibration (`base_weight`, else `weight`), all
/// positive.
fn base_weights(all: &[RecordBatch], c: &Categorised, file: &str) -> Result<Vec<f64>> {
    let mut base = Vec::with_capacity(c.person_id.len());
    for b in all {
        let column = |name: &str| {
            let col = b.column_by_name(name).expect("conformed to the model");
            arrow::compute::cast(col, &DataType::Float64)
        };
        let (w, bw) = (column("weight")?, column("base_weight")?);
        let (w, bw) = (
            w.as_primitive::<Float64Type>(),
            bw.as_primitive::<Float64Type>(),
        );
        base.extend((0..b.num_rows()).map(|i| {
            if bw.is_valid(i) {
                bw.value(i)
            } else {
                w.value(i)
            }
        }));
    }
    if let Some(i) = base.iter().position(|w| !(w.is_finite() && *w > 0.0)) {
        return Err(Error::format(
            file,
            None::<u64>,
            format!(
                "person {} has base weight {}; calibration needs positive weights",
                c.person_id[i], base[i]
            ),
        ));
    }
    Ok(base)
}

/// A calibration that failed, said in the margins' terms.
fn calibration_error(
    e: calibration::Error,
    c: &Categorised,
    column_of: &[Vec<u32>],
    opts: &WeightOptions,
    file: &str,
) -> Error {
    let what = match &e {
        calibration::Error::NoConvergence {
            iterations,
            max_error,
            column,
        } => {
            let (v, m) = column_name(c, column_of, *column);
            let hint = if opts.calibration.bounds.is_some() {
                "widen --bounds"
            } else {
                "check the margins against the sample"
            };
            format!(
                "no convergence in {iterations} iterations (--max-iter): the margin {v} = {m} is still off by {max_error:.3e} of its total; {hint} or raise --max-iter"
            )
        }
        calibration::Error::EmptyColumn(_) | calibration::Error::Singular { .. } => e.to_string(),
    };
    Error::format(file, None::<u64>, what)
}

/// Per margin, including the dropped first categories: (variable, category, total, Σ base
/// weight, Σ calibrated weight).
fn margin_rows(c: &Categorised, base: &[f64], w: &[f64]) -> Vec<(String, String, f64, f64, f64)> {
    let mut rows = Vec::new();
    for (group, cats) in c.margins.iter().zip(&c.of_person) {
        let mut before = vec![0.0; group.len()];
        let mut after = vec![0.0; group.len()];
        for (i, &k) in cats.iter().enumerate() {
            before[k as usize] += base[i];
            after[k as usize] += w[i];
        }
        for (k, m) in group.iter().enumerate() {
            rows.push((
                m.variable.clone(),
                m.category.clone(),
                m.total,
                before[k],
                after[k],
            ));
        }
    }
    rows
}

/// Each persons part with its calibrated `weight` and its `base_weight`, as one batch so the
/// part is replaced whole.
fn stage_weights(
    staging: &mut Staging<'_>,
    persons: &[(String, Vec<RecordBatch>)],
    w: &[f64],
    base: &[f64],
) -> Result<()> {
    let mut offset = 0;
    for (part, batches) in persons.iter().filter(|(_, b)| !b.is_empty()) {
        let b = arrow::compute::concat_batches(&batches[0].schema(), batches)?;
        let n = b.num_rows();
        let schema = b.schema();
        let mut cols: Vec<ArrayRef> = b.columns().to_vec();
        let (wi, bi) = (
            schema.index_of("weight").expect("model schema"),
            schema.index_of("base_weight").expect("conformed"),
        );
        cols[wi] = Arc::new(Float64Array::from(w[offset..offset + n].to_vec()));
        cols[bi] = Arc::new(Float64Array::from(base[offset..offset + n].to_vec()));
        offset += n;
        let batch = RecordBatch::try_new(Table::Persons.schema(), cols)?;
        staging.table(Table::Persons, part, &batch)?;
    }
    Ok(())
}

/// The `calibration_margins` table.
fn margins_batch(m: &[(String, String, f64, f64, f64)]) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(
        Table::CalibrationMargins.schema(),
        vec![
            Arc::new(StringArray::from_iter_values(
                m.iter().map(|r| r.0.as_str()),
            )) as ArrayRef,
            Arc::new(StringArray::from_iter_values(
                m.iter().map(|r| r.1.as_str()),
            )),
            Arc::new(Float64Array::from_iter_values(m.iter().map(|r| r.2))),
            Arc::new(Float64Array::from_iter_values(m.iter().map(|r| r.3))),
            Arc::new(Float64Array::from_iter_values(m.iter().map(|r| r.4))),
        ],
    )?)
}

/// The (variable, category) of a design column.
fn column_name(c: &Categorised, column_of: &[Vec<u32>], column: usize) -> (String, String) {
    for (v, cols) in column_of.iter().enumerate() {
        if let Some(k) = cols.iter().position(|&x| x as usize == column) {
            return (c.variables[v].clone(), c.margins[v][k].category.clone());
        }
    }
    (String::new(), String::new())
}
