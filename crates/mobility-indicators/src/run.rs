//! The batch run: every indicator of the catalog into `<out>/indicators/<id>.parquet` and
//! `.csv`, and `<out>/manifest.json` with inputs and their checksums, row counts, parameters,
//! version and time per indicator. Everything is written into a staging folder first and put
//! in place at the end, so a failed run leaves the previous outputs as they were.

use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use mobility_model::Table;

use futures::StreamExt;

use crate::batches::{collect, collect_if, within_timeout};
use crate::catalog::{Indicator, Kind};
pub use crate::manifest::{IndicatorReport, InputFile, Manifest};
use crate::manifest::{checksums, factor_checksums};
use crate::survey::{self, Frame, Rules, Spec, Variance};
use crate::{Error, Result, io, targets, traffic};

/// Factor tables given for one run instead of the data directory's (`mobility run --factors`).
/// The caller reads the files (the CLI parses them as `mobility ingest factors` does); the run
/// lists the files' checksums in its manifest.
#[derive(Debug, Clone)]
pub struct GivenFactors {
    /// The file or folder they were read from.
    pub path: PathBuf,
    /// Each table with its rows.
    pub tables: Vec<(Table, Vec<RecordBatch>)>,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The data directory.
    pub data: PathBuf,
    /// The output directory.
    pub out: PathBuf,
    /// CI level and suppression rule.
    pub rules: Rules,
    /// Bootstrap replicates for the indicators that use the bootstrap.
    pub bootstrap: u32,
    /// Every survey indicator's SE from the Rao–Wu bootstrap (`--variance bootstrap`), not
    /// only those whose header asks for it.
    pub bootstrap_all: bool,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// Scenario parameters, `name → value`.
    pub scenarios: std::collections::BTreeMap<String, f64>,
    /// The targets (TOML); `None`: Bærum's built-in ones.
    pub targets: Option<String>,
    /// The reference year of the rolling traffic index; `None`: the first year with ten
    /// months at some point.
    pub reference_year: Option<i64>,
    /// The method of the traffic indices.
    pub index_method: crate::traffic::IndexMethod,
    /// Public holidays: Norway's and the kommune's own (`holidays` of mobility.toml).
    pub calendar: mobility_stats::calendar::Calendar,
    /// Bytes the run's queries and estimation may hold (`--memory-limit`); `None`: no limit.
    pub memory_limit: Option<usize>,
    /// The language of `report.html`.
    pub lang: mobility_report::Lang,
    /// The CSV flavour of the indicator files.
    pub csv: CsvDialect,
    /// Told (step, steps, what) as the run goes (for progress bars).
    pub progress: Option<Progress>,
    /// With replicate weights in the data: c of c·Σ(θ_r − θ̂)², `jk1` ((R − 1)/R),
    /// `bootstrap` (1/R), or a number or fraction such as `6/7`.
    pub replicate_scale: String,
    /// Factor tables to use instead of the data directory's emission_factors, fleet_mix and
    /// occupancy (`--factors`, read by the caller).
    pub factors: Option<GivenFactors>,
    /// The zone kind of the origin–destination indicators; `None`: the trips' own zone ids.
    pub od_zone_kind: Option<String>,
    /// The periods of `od_trips_by_period`, as `name=from-to,…` in local hours
    /// ([`parse_od_periods`]); `None`: morning peak 6–9, afternoon peak 15–18.
    pub od_periods: Option<String>,
    /// A Ballista scheduler (`df://HOST:PORT`) to run the queries on; the estimation stays in
    /// this process. `None`: everything here.
    pub cluster: Option<String>,
    /// Seconds a query may go without a result before the run fails (0: no limit);
    /// `mobility.query_timeout`.
    pub query_timeout: u64,
}

/// Parses `name=from-to,…` (hours 0–24, `to` after `from`, periods not overlapping), e.g.
/// `morning_peak=6-9,afternoon_peak=15-18`.
pub fn parse_od_periods(text: &str) -> std::result::Result<Vec<(String, u32, u32)>, String> {
    let mut out: Vec<(String, u32, u32)> = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad =
            || format!("'{part}': expected name=FROM-TO in whole hours, e.g. morning_peak=6-9");
        let (name, range) = part.split_once('=').ok_or_else(bad)?;
        let (a, b) = range.split_once('-').ok_or_else(bad)?;
        let (a, b): (u32, u32) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        let name = name.trim();
        if name.is_empty() || name == "other" || b > 24 || a >= b {
            return Err(format!(
                "'{part}': expected a name other than 'other' and hours FROM < TO within 0-24"
            ));
        }
        if let Some(o) = out.iter().find(|o| a < o.2 && o.1 < b) {
            return Err(format!("'{part}' overlaps '{}={}-{}'", o.0, o.1, o.2));
        }
        out.push((name.to_string(), a, b));
    }
    if out.is_empty() {
        return Err("no period given".into());
    }
    Ok(out)
}

/// A progress callback: (step, steps, what).
pub type ProgressFn = dyn Fn(usize, usize, &str) + Send + Sync;

/// A progress hook.
#[derive(Clone)]
pub struct Progress(pub std::sync::Arc<ProgressFn>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress")
    }
}

/// How the indicator CSV files are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvDialect {
    /// UTF-8, `,`, decimal point, a header line.
    #[default]
    Utf8,
    /// For Norwegian Excel: a UTF-8 byte-order mark, `;` between fields, decimal comma.
    ExcelNb,
}

impl RunOptions {
    /// Defaults for `data` → `out`.
    pub fn new(data: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        Self {
            data: data.into(),
            out: out.into(),
            rules: Rules::default(),
            bootstrap: 200,
            bootstrap_all: false,
            seed: 2018,
            scenarios: Default::default(),
            targets: None,
            reference_year: None,
            index_method: crate::traffic::IndexMethod::Classic,
            calendar: mobility_stats::calendar::Calendar::default(),
            memory_limit: None,
            lang: mobility_report::Lang::Nb,
            csv: CsvDialect::Utf8,
            progress: None,
            replicate_scale: "jk1".into(),
            factors: None,
            od_zone_kind: None,
            od_periods: None,
            cluster: None,
            query_timeout: 0,
        }
    }
}

/// Writes a batch as Parquet and as CSV with a header (UTF-8, or `excel-nb`).
pub fn write_outputs(dir: &Path, id: &str, batch: &RecordBatch, dialect: CsvDialect) -> Result<()> {
    // The two files at once: an origin–destination table's take a few tenths of a second each.
    let (parquet, csv) = rayon::join(
        || write_parquet(dir, id, batch),
        || write_csv(dir, id, batch, dialect),
    );
    parquet.and(csv)
}

/// `<dir>/<id>.parquet`.
fn write_parquet(dir: &Path, id: &str, batch: &RecordBatch) -> Result<()> {
    let pq = dir.join(format!("{id}.parquet"));
    let file = std::fs::File::create(&pq).map_err(io(&pq))?;
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
    w.write(batch)?;
    w.close()?;
    Ok(())
}

/// `<dir>/<id>.csv` in `dialect`.
fn write_csv(dir: &Path, id: &str, batch: &RecordBatch, dialect: CsvDialect) -> Result<()> {
    let csv = dir.join(format!("{id}.csv"));
    if dialect == CsvDialect::ExcelNb {
        std::fs::write(&csv, excel_nb(batch)?).map_err(io(&csv))?;
        return Ok(());
    }
    let file = std::fs::File::create(&csv).map_err(io(&csv))?;
    let mut w = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(file);
    w.write(batch)?;
    Ok(())
}

/// CSV for Norwegian Excel: BOM, `;`, decimal comma, fields with `;`, `"` or a line break
/// quoted, CRLF line ends.
pub fn excel_nb(batch: &RecordBatch) -> Result<String> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::DataType;
    let quote = |s: &str| {
        if s.contains([';', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::from("\u{feff}");
    let names: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| quote(f.name()))
        .collect();
    out.push_str(&names.join(";"));
    out.push_str("\r\n");
    let cols: Vec<(bool, arrow::array::ArrayRef)> = batch
        .columns()
        .iter()
        .map(|c| {
            let float = matches!(c.data_type(), DataType::Float64 | DataType::Float32);
            arrow::compute::cast(c, &DataType::Utf8).map(|a| (float, a))
        })
        .collect::<std::result::Result<_, _>>()?;
    for i in 0..batch.num_rows() {
        let fields: Vec<String> = cols
            .iter()
            .map(|(float, c)| {
                let c = c.as_string::<i32>();
                if c.is_null(i) {
                    String::new()
                } else if *float {
                    c.value(i).replace('.', ",")
                } else {
                    quote(c.value(i))
                }
            })
            .collect();
        out.push_str(&fields.join(";"));
        out.push_str("\r\n");
    }
    Ok(out)
}

/// Gives the frame the margins its weights were calibrated to (`calibration_margins`, from
/// `mobility weight`), for SEs from the calibration residuals. For the manifest: the variables,
/// and whether they were applied (not when the weights no longer meet the margins).
async fn calibrate_frame(ctx: &SessionContext, frame: &mut Frame) -> Result<serde_json::Value> {
    let rows = collect(
        ctx,
        "calibration_margins",
        // The totals the weights met when `mobility weight` wrote them (its --tolerance away
        // from the margins at most): the check against re-ingested persons and the targets
        // of the replicates' recalibration.
        "SELECT variable, category, calibrated_total AS total FROM calibration_margins",
    )
    .await?;
    let mut margins = Vec::new();
    for b in &rows {
        use crate::batches::{f64s, need, utf8};
        let v = need(utf8(b, "variable"), "text", "calibration_margins.variable")?;
        let c = need(utf8(b, "category"), "text", "calibration_margins.category")?;
        let t = need(f64s(b, "total"), "number", "calibration_margins.total")?;
        for i in 0..b.num_rows() {
            margins.push(mobility_model::margins::Margin {
                variable: v.value(i).to_string(),
                category: c.value(i).to_string(),
                total: t.value(i),
                line: margins.len() + 2,
            });
        }
    }
    let persons = collect(ctx, "persons", "SELECT * FROM persons").await?;
    let households = collect(ctx, "households", "SELECT * FROM households").await?;
    let outcome =
        mobility_model::margins::categorise("calibration_margins", &margins, &persons, &households)
            .map_err(|e| e.to_string())
            .and_then(|c| frame.calibrate(&c).map(|()| c.variables));
    Ok(match outcome {
        Ok(variables) => {
            serde_json::json!({"variables": variables, "margins": margins.len(), "applied": true})
        }
        Err(why) => serde_json::json!({"margins": margins.len(), "applied": false, "why": why}),
    })
}

/// The survey's replicate weights in the frame's person order, and the scale.
async fn replicate_weights(
    ctx: &SessionContext,
    frame: &Frame,
    scale: &str,
) -> Result<crate::survey::ReplicateWeights> {
    use arrow::array::AsArray;
    use arrow::datatypes::{DataType, Float64Type, Int64Type};
    let batches = collect(
        ctx,
        "replicate_weights",
        "SELECT person_id, replicate, weight FROM replicate_weights",
    )
    .await?;
    let shape = |message: String| Error::Shape {
        id: "replicate_weights".into(),
        message,
    };
    let mut weights: Vec<Vec<f64>> = Vec::new();
    let mut seen: Vec<Vec<bool>> = Vec::new();
    for b in &batches {
        let p = arrow::compute::cast(b.column(0), &DataType::Int64)?;
        let r = arrow::compute::cast(b.column(1), &DataType::Int64)?;
        let w = arrow::compute::cast(b.column(2), &DataType::Float64)?;
        let (p, r, w) = (
            p.as_primitive::<Int64Type>(),
            r.as_primitive::<Int64Type>(),
            w.as_primitive::<Float64Type>(),
        );
        for i in 0..b.num_rows() {
            let pos = frame.position(p.value(i)).ok_or_else(|| {
                shape(format!(
                    "person_id {} has replicate weights but is not in persons",
                    p.value(i)
                ))
            })?;
            let k = r.value(i) as usize - 1;
            while weights.len() <= k {
                weights.push(vec![0.0; frame.persons()]);
                seen.push(vec![false; frame.persons()]);
            }
            weights[k][pos] = w.value(i);
            seen[k][pos] = true;
        }
    }
    if let Some((k, p)) = seen
        .iter()
        .enumerate()
        .find_map(|(k, s)| s.iter().position(|x| !x).map(|p| (k, p)))
    {
        return Err(shape(format!(
            "replicate {} has no weight for person_id {}: every person needs every replicate",
            k + 1,
            frame.person_id(p)
        )));
    }
    let n = weights.len() as f64;
    let c = match scale.trim() {
        "jk1" => (n - 1.0) / n,
        "bootstrap" => 1.0 / n,
        s => match s.split_once('/') {
            Some((a, b)) => a
                .trim()
                .parse::<f64>()
                .ok()
                .zip(b.trim().parse::<f64>().ok())
                .map(|(a, b)| a / b),
            None => s.parse::<f64>().ok(),
        }
        .filter(|c| c.is_finite() && *c > 0.0)
        .ok_or_else(|| {
            shape(format!(
                "replicate scale '{s}': expected jk1, bootstrap, a number or a fraction such as 6/7"
            ))
        })?,
    };
    Ok(crate::survey::ReplicateWeights {
        weights,
        scale: c,
        scheme: scale.trim().to_string(),
    })
}

/// Runs the built-in catalog.
pub async fn run(opts: &RunOptions) -> Result<Manifest> {
    run_catalog(opts, &crate::catalog::built_in()).await
}

/// Runs the given indicators.
pub async fn run_catalog(opts: &RunOptions, catalog: &[Indicator]) -> Result<Manifest> {
    let started = Instant::now();
    let given = match &opts.factors {
        Some(f) => f.tables.clone(),
        None => Vec::new(),
    };
    let mobility_sql::Session {
        ctx,
        tables: present,
        snapshot,
        lease: _lease,
    } = mobility_sql::open_with(
        &opts.data,
        given,
        mobility_sql::SessionOptions {
            calendar: opts.calendar.clone(),
            memory_limit: opts.memory_limit,
            temp_dir: None,
            cluster: opts.cluster.clone(),
        },
    )
    .await
    .map_err(|source| Error::DataFusion {
        context: format!("opening {}", opts.data.display()),
        source,
    })?;
    if opts.query_timeout > 0 {
        collect(
            &ctx,
            "query timeout",
            &format!("SET mobility.query_timeout = {}", opts.query_timeout),
        )
        .await?;
    }
    let factor_inputs = match &opts.factors {
        Some(f) => factor_checksums(&f.path)?,
        None => Vec::new(),
    };
    let staging = opts.out.join(format!(".staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let ind_dir = staging.join("indicators");
    std::fs::create_dir_all(&ind_dir).map_err(io(&ind_dir))?;
    // The files of the commit the session reads, hashed beside the run (the reader's lease
    // keeps them until it ends: no later commit replaces them); local files on a thread of
    // their own. Hashed first, they held up every query: a tenth of a second at a million
    // persons.
    let mut hashing = Some({
        let (data, snapshot, present) = (opts.data.clone(), snapshot.clone(), present.clone());
        tokio::spawn(async move { checksums(&data, &snapshot, &present).await })
    });
    let inputs = async {
        let task = hashing.take().expect("the inputs are awaited once");
        let mut inputs = crate::joined(task, "manifest", "hashing the input files").await?;
        inputs.extend(factor_inputs);
        Ok(inputs)
    };
    let result = run_into(&ctx, &present, inputs, opts, catalog, &ind_dir, started).await;
    if let Some(task) = hashing {
        // The run failed before its manifest: the hashing ends while the lease is held.
        let _ = task.await;
    }
    let (manifest, outputs) = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
    let mpath = staging.join("manifest.json");
    std::fs::write(&mpath, text).map_err(io(&mpath))?;
    let facts = mobility_report::RunFacts {
        version: manifest.version.clone(),
        data: manifest.data.clone(),
        table_rows: manifest.table_rows.clone(),
        seconds_total: manifest.seconds_total,
        lang: Some(opts.lang),
    };
    let html = match mobility_report::render(&outputs, &facts, opts.lang) {
        Ok(h) => h,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e.into());
        }
    };
    let rpath = staging.join("report.html");
    std::fs::write(&rpath, html).map_err(io(&rpath))?;
    let geo_dir = staging.join("geo");
    if let Err(e) = crate::geo_out::write(&ctx, &outputs, &geo_dir).await {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(e);
    }
    // Put the new outputs in place: the old folder aside, the new one in, the old one gone.
    let target = opts.out.join("indicators");
    let old = opts.out.join(format!(".old-{}", std::process::id()));
    if target.exists() {
        std::fs::rename(&target, &old).map_err(io(&target))?;
    }
    std::fs::rename(&ind_dir, &target).map_err(io(&target))?;
    let mtarget = opts.out.join("manifest.json");
    std::fs::rename(&mpath, &mtarget).map_err(io(&mtarget))?;
    let rtarget = opts.out.join("report.html");
    std::fs::rename(&rpath, &rtarget).map_err(io(&rtarget))?;
    let gtarget = opts.out.join("geo");
    let _ = std::fs::remove_dir_all(&gtarget);
    if geo_dir.exists() {
        std::fs::rename(&geo_dir, &gtarget).map_err(io(&gtarget))?;
    }
    let _ = std::fs::remove_dir_all(&old);
    let _ = std::fs::remove_dir_all(&staging);
    Ok(manifest)
}

/// Points the origin–destination indicators at the zones of one kind: the view `trip_zones`
/// replaced by `queries/views/trip_zones_of_kind.sql`, which reads the kind from a one-row
/// table `od_zone_kind` (the caller makes `od_trip_ends` again over it).
async fn od_zones_of_kind(ctx: &SessionContext, present: &[Table], kind: &str) -> Result<()> {
    let bad = |message: String| Error::Shape {
        id: "od_zone_kind".into(),
        message,
    };
    if !present.contains(&Table::Zones) {
        return Err(bad(format!(
            "od_zone_kind = {kind} (--od-zone-kind or mobility.toml): the data directory has no zones"
        )));
    }
    let kinds = collect(
        ctx,
        "zone kinds",
        "SELECT DISTINCT kind FROM zones ORDER BY kind",
    )
    .await?;
    let known: Vec<String> = kinds
        .iter()
        .filter_map(|b| crate::batches::utf8(b, "kind"))
        .flat_map(|c| c.iter().flatten().map(str::to_string).collect::<Vec<_>>())
        .collect();
    if !known.iter().any(|k| k == kind) {
        return Err(bad(format!(
            "od_zone_kind = {kind} (--od-zone-kind or mobility.toml): zones has no zone of that kind; it has: {}",
            known.join(", ")
        )));
    }
    mobility_sql::register_values(
        ctx,
        "od_zone_kind",
        vec![vec![datafusion::prelude::lit(kind)]],
        &["kind"],
    )
    .map_err(|source| Error::DataFusion {
        context: "od_zone_kind".into(),
        source,
    })?;
    collect(ctx, "trip_zones of a kind", TRIP_ZONES_OF_KIND).await?;
    Ok(())
}

/// The origin–destination settings of a run: the zone kind (`trip_zones`) and the periods
/// (`od_periods`), and the view `od_trip_ends` made again over them. Nothing without trips.
async fn od_setup(ctx: &SessionContext, present: &[Table], opts: &RunOptions) -> Result<()> {
    if !present.contains(&Table::Trips) {
        return Ok(());
    }
    if let Some(kind) = &opts.od_zone_kind {
        od_zones_of_kind(ctx, present, kind).await?;
    }
    if let Some(text) = &opts.od_periods {
        let periods = parse_od_periods(text).map_err(|message| Error::Shape {
            id: "od_periods".into(),
            message,
        })?;
        let refs: Vec<(&str, u32, u32)> =
            periods.iter().map(|p| (p.0.as_str(), p.1, p.2)).collect();
        mobility_sql::register_od_periods(ctx, &refs).map_err(|source| Error::DataFusion {
            context: "od_periods".into(),
            source,
        })?;
    }
    if opts.od_zone_kind.is_some() || opts.od_periods.is_some() {
        // A view keeps the plans of what it reads as they were when it was made.
        collect(ctx, "od_trip_ends", OD_TRIP_ENDS).await?;
    }
    Ok(())
}

/// The views over `trips` that `run` makes again (a view keeps the plans of what it reads as
/// they were when it was made).
const TRIP_ZONES: &str = include_str!("../../../queries/views/trip_zones.sql");
const TRIP_ZONES_OF_KIND: &str = include_str!("../../../queries/views/trip_zones_of_kind.sql");
const OD_TRIP_ENDS: &str = include_str!("../../../queries/views/od_trip_ends.sql");
/// The views over `trips` the indicators may read, made again over the trips held in memory.
const TRIP_VIEWS: [(&str, &str); 2] = [("trip_zones", TRIP_ZONES), ("od_trip_ends", OD_TRIP_ENDS)];

/// The columns of `trips` that `indicators` read: each query planned and optimised, the
/// columns its scans of `trips` project, and every column of a view over trips that a query
/// names (the view is made again over them). `None`, every column, where a query does not
/// plan or a scan projects none, and with `od_zone_kind` (its view reads the coordinates).
async fn trips_columns(
    ctx: &SessionContext,
    present: &[Table],
    opts: &RunOptions,
    indicators: &[&Indicator],
) -> Option<std::collections::BTreeSet<String>> {
    use datafusion::common::tree_node::TreeNodeRecursion;
    use datafusion::logical_expr::LogicalPlan;
    if opts.od_zone_kind.is_some() {
        return None;
    }
    let mut sqls: Vec<String> = indicators
        .iter()
        .filter(|i| {
            i.needs
                .iter()
                .all(|n| present.iter().any(|t| t.name() == n.as_str()))
        })
        .map(|i| i.sql.clone())
        .collect();
    for (view, _) in TRIP_VIEWS {
        let named = |sql: &String| {
            sql.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .any(|w| w.eq_ignore_ascii_case(view))
        };
        if sqls.iter().any(named) {
            sqls.push(format!("SELECT * FROM {view}"));
        }
    }
    let mut columns = std::collections::BTreeSet::new();
    for sql in &sqls {
        let df = ctx.sql(sql).await.ok()?;
        let plan = ctx.state().optimize(df.logical_plan()).ok()?;
        let mut every = false;
        plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node
                && scan.table_name.table() == Table::Trips.name()
            {
                let schema = scan.source.schema();
                match &scan.projection {
                    Some(p) if !p.is_empty() => {
                        columns.extend(p.iter().map(|&i| schema.field(i).name().clone()));
                    }
                    _ => every = true,
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .ok()?;
        if every {
            return None;
        }
    }
    Some(columns)
}

/// The trips decoded once and held in memory for the indicators' queries, where the memory
/// pool has room: at most a quarter of its limit, reserved until [`HeldTrips::put_back`]. Twenty-two survey indicators read the trips, and each decoded the same Parquet
/// again. Only the columns the indicators read ([`trips_columns`]). Not on a cluster, whose
/// executors read the files themselves. The views over `trips` are made again: a view keeps
/// the plans of what it reads as they were when it was made.
async fn hold_trips(
    ctx: &SessionContext,
    present: &[Table],
    opts: &RunOptions,
    indicators: &[&Indicator],
    rows: u64,
) -> Result<Option<HeldTrips>> {
    use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit};
    if !present.contains(&Table::Trips) || opts.cluster.is_some() {
        return Ok(None);
    }
    let pool = &ctx.runtime_env().memory_pool;
    let room = match pool.memory_limit() {
        MemoryLimit::Finite(limit) => limit / 4,
        _ => usize::MAX,
    };
    let failed = |source| Error::DataFusion {
        context: "trips held in memory".into(),
        source,
    };
    let mut df = ctx.table("trips").await.map_err(failed)?;
    if let Some(columns) = trips_columns(ctx, present, opts, indicators).await {
        if columns.is_empty() {
            return Ok(None);
        }
        let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
        df = df.select_columns(&columns).map_err(failed)?;
    }
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    // A string's view is 16 bytes, its text beyond 12 bytes more: 24 a value, to decide
    // before decoding; the batches' own size is what is reserved.
    let width: usize = schema
        .fields()
        .iter()
        .map(|f| f.data_type().primitive_width().unwrap_or(24))
        .sum();
    if (rows as usize).saturating_mul(width) > room {
        return Ok(None);
    }
    let partitions = within_timeout(ctx, "trips held in memory", df.collect_partitioned())
        .await?
        .map_err(failed)?;
    let size: usize = partitions
        .iter()
        .flatten()
        .map(|b| b.get_array_memory_size())
        .sum();
    let reservation = MemoryConsumer::new("trips held in memory").register(pool);
    if size > room || reservation.try_grow(size).is_err() {
        return Ok(None);
    }
    let table = datafusion::datasource::MemTable::try_new(schema, partitions).map_err(failed)?;
    let parquet = ctx
        .table_provider(Table::Trips.name())
        .await
        .map_err(failed)?;
    ctx.deregister_table(Table::Trips.name()).map_err(failed)?;
    ctx.register_table(Table::Trips.name(), std::sync::Arc::new(table))
        .map_err(failed)?;
    // A view whose columns are not all held (no indicator names it) stays over the Parquet
    // files, as it was made.
    for (view, sql) in TRIP_VIEWS {
        let _ = collect(ctx, view, sql).await;
    }
    Ok(Some(HeldTrips {
        reservation,
        parquet,
    }))
}

/// The trips held in memory for the indicators' queries, and the table they stand in for.
struct HeldTrips {
    reservation: datafusion::execution::memory_pool::MemoryReservation,
    parquet: std::sync::Arc<dyn datafusion::catalog::TableProvider>,
}

impl HeldTrips {
    /// Puts the Parquet table and its views back once the indicators are done, and lets the
    /// memory go: what runs after them (the targets' own SQL, which may read any column, and
    /// the traffic index where it was not computed beside them) sees the whole table and has
    /// the room.
    async fn put_back(self, ctx: &SessionContext, opts: &RunOptions) -> Result<()> {
        let failed = |source| Error::DataFusion {
            context: "trips put back".into(),
            source,
        };
        ctx.deregister_table(Table::Trips.name()).map_err(failed)?;
        ctx.register_table(Table::Trips.name(), self.parquet)
            .map_err(failed)?;
        let trip_zones = if opts.od_zone_kind.is_some() {
            TRIP_ZONES_OF_KIND
        } else {
            TRIP_ZONES
        };
        collect(ctx, "trip_zones", trip_zones).await?;
        collect(ctx, "od_trip_ends", OD_TRIP_ENDS).await?;
        Ok(())
    }
}

async fn run_into(
    ctx: &SessionContext,
    present: &[Table],
    inputs: impl std::future::Future<Output = Result<Vec<InputFile>>>,
    opts: &RunOptions,
    catalog: &[Indicator],
    dir: &Path,
    started: Instant,
) -> Result<(Manifest, std::collections::HashMap<String, RecordBatch>)> {
    let table_rows = table_rows(ctx, present).await?;
    // The indicators, then the tables the report draws from (queries/tables/).
    let tables = crate::catalog::tables();
    let catalog: Vec<&Indicator> = catalog.iter().chain(&tables).collect();
    let trips_rows = table_rows.get(Table::Trips.name()).copied().unwrap_or(0);
    // The trips decoded while the person frame is read: neither reads the other's tables.
    let (held, design) = futures::try_join!(
        hold_trips(ctx, present, opts, &catalog, trips_rows),
        Design::read(ctx, present, opts)
    )?;
    od_setup(ctx, present, opts).await?;
    let mut results = Results::new(ctx, dir, opts.csv);
    let steps = catalog.len() + 2;
    let tell = |step: usize, what: &str| {
        if let Some(p) = &opts.progress {
            (p.0)(step, steps, what);
        }
    };
    let beside = held.is_some() && traffic_fits(ctx, &table_rows);
    let traffic = async {
        if beside {
            traffic_tables(ctx, present, opts, dir).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let survey = survey_indicators(
        ctx,
        present,
        opts,
        &design,
        &catalog,
        dir,
        &mut results,
        &tell,
    );
    // The first failure of either stops the other.
    let traffic = match futures::try_join!(survey, traffic) {
        Ok(((), traffic)) => traffic,
        // No estimation writes into the staging folder after the run has failed; an earlier
        // indicator's error is the one a run one indicator at a time would have given (an
        // indicator waiting for its replicates fails only at their pass, after later queries).
        Err(e) => return Err(results.abandon().await.unwrap_or(e)),
    };
    results.release_spare();
    let held_bytes = held.as_ref().map(|h| h.reservation.size());
    if let Some(held) = held {
        held.put_back(ctx, opts).await?;
    }
    let Results {
        mut reports,
        mut outputs,
        passes,
        ..
    } = results;
    let (mut traffic_reports, traffic_outputs) = match traffic {
        Some(done) => done,
        None if present.contains(&Table::TrafficHourly) => {
            tell(catalog.len(), "traffic index");
            traffic_tables(ctx, present, opts, dir).await?
        }
        None => Default::default(),
    };
    // The traffic index's reports after the catalog's, wherever it was computed.
    reports.append(&mut traffic_reports);
    outputs.extend(traffic_outputs);
    // The origin–destination matrices in the wide layout, beside their long tables.
    crate::matrix::write(&outputs, dir)?;
    tell(catalog.len() + 1, "targets");
    let t3 = Instant::now();
    let text = opts
        .targets
        .clone()
        .unwrap_or_else(|| targets::BAERUM.to_string());
    let table = targets::evaluate(ctx, &targets::parse(&text)?, &outputs).await?;
    write_outputs(dir, "targets", &table, opts.csv)?;
    reports.push(IndicatorReport {
        id: "targets".into(),
        title: "Targets beside the measured values".into(),
        rows: Some(table.num_rows()),
        skipped: None,
        seconds: t3.elapsed().as_secs_f64(),
        query_seconds: 0.0,
        estimate_seconds: t3.elapsed().as_secs_f64(),
        write_seconds: 0.0,
    });
    outputs.insert("targets".to_string(), table);
    // The zones, for the maps of the report and `geo/zones.*`.
    let zones = collect_if(
        ctx,
        &["zones"],
        "zones",
        "SELECT zone_id, name, geometry FROM zones",
    )
    .await?;
    if let Some(zones) = crate::geo_out::zones_layer(&zones)? {
        outputs.insert("zones".to_string(), zones);
    }
    let manifest = Manifest {
        version: env!("CARGO_PKG_VERSION").to_string(),
        data: opts.data.display().to_string(),
        inputs: inputs.await?,
        table_rows,
        parameters: parameters(opts, &design, held_bytes, &passes),
        indicators: reports,
        seconds_total: started.elapsed().as_secs_f64(),
    };
    Ok((manifest, outputs))
}

/// Whether the traffic index, where there is one, fits beside the survey indicators. It
/// reads none of their tables, and takes the cores their queries and estimations leave idle
/// (a tenth of the time), where the pool has room for both: the trips held in memory (at
/// most a quarter of the pool; the caller asks that they are) and the traffic's hourly rows
/// (`table_rows` has them only where the table is present), at 256 bytes each (the index
/// joins them hour by hour, a year against the next), within another quarter; the
/// estimations' rows share the rest. Otherwise (a tight `--memory-limit`, a cluster) it runs
/// after them.
fn traffic_fits(
    ctx: &SessionContext,
    table_rows: &std::collections::BTreeMap<String, u64>,
) -> bool {
    use datafusion::execution::memory_pool::MemoryLimit;
    let Some(&hourly) = table_rows.get(Table::TrafficHourly.name()) else {
        return false;
    };
    match ctx.runtime_env().memory_pool.memory_limit() {
        MemoryLimit::Finite(limit) => (hourly as usize).saturating_mul(256) <= limit / 4,
        _ => true,
    }
}

/// The survey indicators and the report's tables in the catalog's order: each query, its
/// estimation beside the next queries ([`Results`]), then the pass over shared replicates.
#[allow(clippy::too_many_arguments)]
async fn survey_indicators(
    ctx: &SessionContext,
    present: &[Table],
    opts: &RunOptions,
    design: &Design,
    catalog: &[&Indicator],
    dir: &Path,
    results: &mut Results,
    tell: &dyn Fn(usize, &str),
) -> Result<()> {
    for (step, &ind) in catalog.iter().enumerate() {
        tell(step, &ind.id);
        let started = indicator(ctx, present, opts, design, ind, results).await?;
        match started {
            // The reports stay in the catalog's order: a skipped indicator's and a table's
            // wait for the estimations before them, which the queries after go on beside.
            Started::Skipped(why) => {
                results.ready(IndicatorReport::skipped(ind, why), None);
            }
            Started::Done(out, query_seconds, t0) => {
                let t1 = Instant::now();
                write_outputs(dir, &ind.id, &out, opts.csv)?;
                let steps = (query_seconds, 0.0, t1.elapsed().as_secs_f64());
                let report = IndicatorReport::done(&ind.id, &ind.title, t0, steps, &out);
                results.ready(report, Some(out));
            }
            Started::Intake(intake) => {
                results.estimate(ind, intake).await?;
            }
        }
        // What the query and the estimation freed goes back to the system, not kept by
        // the allocator's arenas for the next indicator.
        mobility_sql::release_free_memory();
    }
    results.settle_all().await?;
    results.replicate().await
}

/// The rows of each table present.
async fn table_rows(
    ctx: &SessionContext,
    present: &[Table],
) -> Result<std::collections::BTreeMap<String, u64>> {
    let mut rows = std::collections::BTreeMap::new();
    for t in present {
        let b = collect(ctx, t.name(), &format!("SELECT count(*) FROM {}", t.name())).await?;
        let n = b
            .first()
            .map(|b| {
                arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b.column(0))
                    .value(0)
            })
            .unwrap_or(0);
        rows.insert(t.name().to_string(), n as u64);
    }
    Ok(rows)
}

/// The survey's design, read once for every survey indicator: the person frame (weights,
/// strata, person-level breakdowns), the margins its weights were calibrated to, and the
/// survey's own replicate weights.
struct Design {
    frame: Option<std::sync::Arc<Frame>>,
    /// For the manifest: the calibration's variables and whether it was applied.
    calibration: Option<serde_json::Value>,
    replicates: Option<std::sync::Arc<survey::ReplicateWeights>>,
    seconds: f64,
}

impl Design {
    async fn read(ctx: &SessionContext, present: &[Table], opts: &RunOptions) -> Result<Self> {
        let t = Instant::now();
        let mut frame = if present.contains(&Table::Persons) && present.contains(&Table::Households)
        {
            Some(Frame::from_batches(
                &collect(
                    ctx,
                    "person_frame",
                    "SELECT person_id, stratum, w, home_zone, age_band, gender, employment, day_type FROM person_frame",
                )
                .await?,
            )?)
        } else {
            None
        };
        let calibration = match &mut frame {
            Some(frame) if present.contains(&Table::CalibrationMargins) => {
                Some(calibrate_frame(ctx, frame).await?)
            }
            _ => None,
        };
        let replicates = match (&frame, present.contains(&Table::ReplicateWeights)) {
            (Some(frame), true) => Some(std::sync::Arc::new(
                replicate_weights(ctx, frame, &opts.replicate_scale).await?,
            )),
            _ => None,
        };
        Ok(Self {
            frame: frame.map(std::sync::Arc::new),
            calibration,
            replicates,
            seconds: t.elapsed().as_secs_f64(),
        })
    }

    /// How an indicator's SEs are computed: the survey's replicate weights when it has them
    /// (for every indicator), else the bootstrap where the indicator or the run asks, else
    /// linearisation.
    fn variance(&self, opts: &RunOptions, bootstrap: bool) -> Variance {
        match &self.replicates {
            Some(r) => Variance::Replicates(r.clone()),
            None if bootstrap || opts.bootstrap_all => Variance::Bootstrap {
                replicates: opts.bootstrap,
                seed: opts.seed,
            },
            None => Variance::Linearisation,
        }
    }
}

/// The run's settings for the manifest; `trips_held` the bytes of the trips held in memory
/// (`None`: each query read them from Parquet), `passes` the passes over replicates.
fn parameters(
    opts: &RunOptions,
    design: &Design,
    trips_held: Option<usize>,
    passes: &[survey::ReplicatePass],
) -> serde_json::Value {
    serde_json::json!({
        "ci_level": opts.rules.level,
        "suppress_below_n": opts.rules.min_n,
        "suppress_above_cv": opts.rules.max_cv,
        "bootstrap_replicates": opts.bootstrap,
        "variance": if opts.bootstrap_all { "bootstrap" } else { "default" },
        "bootstrap_seed": opts.seed,
        "scenarios": opts.scenarios,
        "traffic_reference_year": opts.reference_year,
        "traffic_index_method": opts.index_method.name(),
        "lang": opts.lang.code(),
        "factors": opts.factors.as_ref().map(|f| f.path.display().to_string()),
        "replicate_weights": design.replicates.as_ref().map(|r| serde_json::json!({"replicates": r.weights.len(), "scale": r.scale, "scheme": r.scheme})),
        "calibration": design.calibration,
        "person_frame_seconds": design.seconds,
        "trips_in_memory_bytes": trips_held,
        "replicate_passes": passes,
    })
}

/// What became of an indicator's query: skipped (with why), a finished table (with its
/// query's seconds and start), or a survey indicator's rows taken in, to be estimated.
enum Started {
    Skipped(String),
    Done(RecordBatch, f64, Instant),
    Intake(Box<Intaken>),
}

/// A survey indicator's rows taken in, with the memory reserved for its estimation.
struct Intaken {
    intake: survey::Intake,
    reservation: datafusion::execution::memory_pool::MemoryReservation,
    started: Instant,
    query_seconds: f64,
}

/// The estimations' own rayon workers: one pool per estimation in flight
/// ([`Results::IN_FLIGHT`]) and one for the pass over shared replicates, each as many
/// workers as the global pool. The next query's kernels (`zone_of`, the intake's coding) use
/// the global pool: sharing it, they queued behind the estimation's parallel loops and the
/// query waited (its time went from 5.6 to 8.6 s in all on 1 M persons). Two estimations
/// sharing one pool waited for each other: a worker waiting in one estimation's `join` steals
/// the other's work and finishes it first, so a short estimation (a table of 1,704 rows, its
/// files written in 0.01 s) took as long as the median beside it (1.9 s), and held the slot
/// the next query waited for.
fn estimation_pool(slot: usize) -> &'static rayon::ThreadPool {
    static POOLS: std::sync::OnceLock<Vec<rayon::ThreadPool>> = std::sync::OnceLock::new();
    let pools = POOLS.get_or_init(|| {
        (0..=Results::IN_FLIGHT)
            .map(|p| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(rayon::current_num_threads())
                    .thread_name(move |i| format!("estimation-{p}-{i}"))
                    .build()
                    .expect("a thread pool of the machine's size")
            })
            .collect()
    });
    &pools[slot]
}

/// Keeps `buffer` for the next estimation where it is at most an eighth of the pool's limit
/// and the pool has room for it (so under a tight `--memory-limit` nothing is kept), and no
/// other estimation has already left one.
fn keep_spare(
    spare: &Spare,
    pool: &std::sync::Arc<dyn datafusion::execution::memory_pool::MemoryPool>,
    buffer: survey::RowBuffer,
) {
    use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit};
    let bytes = buffer.bytes();
    let room = match pool.memory_limit() {
        MemoryLimit::Finite(limit) => limit / 8,
        _ => usize::MAX,
    };
    let mut slot = spare.lock().expect("not poisoned");
    if bytes == 0 || bytes > room || slot.is_some() {
        return;
    }
    let reservation = MemoryConsumer::new("rows kept for the next estimation").register(pool);
    if reservation.try_grow(bytes).is_ok() {
        *slot = Some((buffer, reservation));
    }
}

/// An indicator in the queue of [`Results`]: its estimation running, or its report ready and
/// waiting for those before it.
enum InFlight {
    Estimating(Estimating),
    Ready(IndicatorReport, Option<RecordBatch>),
}

/// An indicator's estimation (and writing) on a thread of its own, while the next
/// indicators' queries run: the queries stream on the async runtime's threads and the
/// estimations work on their own rayon pool, so both cores stay busy (one after the other, a
/// third of a core stood idle).
struct Estimating {
    id: String,
    /// Its pool ([`estimation_pool`]): none other in flight has it.
    slot: usize,
    title: String,
    started: Instant,
    query_seconds: f64,
    /// Bytes it holds in the memory pool.
    reserved: usize,
    /// The table (written) or the indicator waiting for its replicates, and the seconds of
    /// its estimation and of writing it.
    task: tokio::task::JoinHandle<Result<(survey::Finished, f64, f64)>>,
}

/// An indicator estimated but for its replicates, its report's place kept, its memory
/// reserved.
struct Waiting {
    pending: Box<survey::Pending>,
    /// Its report's index.
    report: usize,
    /// The bytes it holds ([`survey::Pending::bytes`], counted once).
    bytes: usize,
    /// Its bytes in the memory pool, until its pass is done.
    reservation: datafusion::execution::memory_pool::MemoryReservation,
}

/// The indicators' reports and tables in the catalog's order, with up to
/// [`Results::IN_FLIGHT`] estimations in flight, oldest first, and the indicators that wait
/// for one pass over the replicates they share.
struct Results {
    reports: Vec<IndicatorReport>,
    outputs: std::collections::HashMap<String, RecordBatch>,
    estimating: std::collections::VecDeque<InFlight>,
    /// Indicators of a replicate method, estimated but for their SEs.
    waiting: Vec<Waiting>,
    /// The passes over replicates made, for the manifest.
    passes: Vec<survey::ReplicatePass>,
    pool: std::sync::Arc<dyn datafusion::execution::memory_pool::MemoryPool>,
    dir: PathBuf,
    csv: CsvDialect,
    /// A finished estimation's row buffer, with its memory reserved, for the next estimation
    /// to group its rows into ([`survey::Intake::finish_pending`]).
    spare: Spare,
}

/// A row buffer kept between estimations, its bytes reserved in the memory pool.
type Spare = std::sync::Arc<
    std::sync::Mutex<
        Option<(
            survey::RowBuffer,
            datafusion::execution::memory_pool::MemoryReservation,
        )>,
    >,
>;

impl Results {
    /// Estimations at once beside the query: more than one, so that a long one (the median,
    /// an origin–destination matrix) does not hold up the short queries after it.
    const IN_FLIGHT: usize = 3;

    fn new(ctx: &SessionContext, dir: &Path, csv: CsvDialect) -> Self {
        Self {
            reports: Vec::new(),
            outputs: Default::default(),
            estimating: Default::default(),
            waiting: Vec::new(),
            passes: Vec::new(),
            pool: ctx.runtime_env().memory_pool.clone(),
            dir: dir.to_path_buf(),
            csv,
            spare: Default::default(),
        }
    }

    /// An indicator's table and report, from its start and the seconds of its steps (query,
    /// estimation, writing).
    fn record(
        &mut self,
        id: &str,
        title: &str,
        started: Instant,
        steps: (f64, f64, f64),
        out: RecordBatch,
    ) {
        self.reports
            .push(IndicatorReport::done(id, title, started, steps, &out));
        self.outputs.insert(id.to_string(), out);
    }

    /// An indicator's report (and table) that needs no estimation: recorded now, or where
    /// estimations before it are in flight, after them.
    fn ready(&mut self, report: IndicatorReport, out: Option<RecordBatch>) {
        if self.estimating.is_empty() {
            self.put(report, out);
        } else {
            self.estimating.push_back(InFlight::Ready(report, out));
        }
    }

    /// Records a report (and table) in the catalog's order.
    fn put(&mut self, report: IndicatorReport, out: Option<RecordBatch>) {
        if let Some(out) = out {
            self.outputs.insert(report.id.clone(), out);
        }
        self.reports.push(report);
    }

    /// The estimations running.
    fn running(&self) -> impl Iterator<Item = &Estimating> {
        self.estimating.iter().filter_map(|e| match e {
            InFlight::Estimating(e) => Some(e),
            InFlight::Ready(..) => None,
        })
    }

    /// Starts `intaken`'s estimation and writing on a blocking thread, once fewer than
    /// [`Self::IN_FLIGHT`] are running. Estimations run beside the next queries only while
    /// the memory they hold is at most a quarter of the pool's limit; beyond it (under a tight
    /// `--memory-limit`) they are waited for here, as the queries need the room.
    async fn estimate(&mut self, ind: &Indicator, intaken: Box<Intaken>) -> Result<()> {
        let Intaken {
            intake,
            reservation,
            started,
            query_seconds,
        } = *intaken;
        while self.running().count() >= Self::IN_FLIGHT {
            self.settle().await?;
        }
        let slot = (0..Self::IN_FLIGHT)
            .find(|s| self.running().all(|e| e.slot != *s))
            .expect("fewer than IN_FLIGHT estimations in flight");
        let reserved = reservation.size();
        let (id, dir, csv) = (ind.id.clone(), self.dir.clone(), self.csv);
        let (spare, pool) = (self.spare.clone(), self.pool.clone());
        let task = tokio::task::spawn_blocking(move || {
            estimation_pool(slot).install(|| {
                let t1 = Instant::now();
                // The intake's reservation covers the copy its rows are grouped into: the
                // spare's own is let go.
                let buffer = spare.lock().expect("not poisoned").take().map(|(b, _)| b);
                let (out, buffer) = intake.finish_pending(buffer)?;
                // The estimation's memory stays reserved until it is done.
                drop(reservation);
                keep_spare(&spare, &pool, buffer);
                let (estimate_seconds, t2) = (t1.elapsed().as_secs_f64(), Instant::now());
                if let survey::Finished::Table(out) = &out {
                    write_outputs(&dir, &id, out, csv)?;
                }
                Ok((out, estimate_seconds, t2.elapsed().as_secs_f64()))
            })
        });
        self.estimating.push_back(InFlight::Estimating(Estimating {
            id: ind.id.clone(),
            slot,
            title: ind.title.clone(),
            started,
            query_seconds,
            reserved,
            task,
        }));
        let room = match self.pool.memory_limit() {
            datafusion::execution::memory_pool::MemoryLimit::Finite(limit) => limit / 4,
            _ => usize::MAX,
        };
        while self.running().map(|e| e.reserved).sum::<usize>() > room {
            self.settle().await?;
        }
        Ok(())
    }

    /// Lets the spare row buffer go, its memory back to the pool; `false` if there was none.
    fn release_spare(&self) -> bool {
        self.spare.lock().expect("not poisoned").take().is_some()
    }

    /// Waits for every estimation in flight.
    async fn settle_all(&mut self) -> Result<()> {
        while !self.estimating.is_empty() {
            self.settle().await?;
        }
        Ok(())
    }

    /// Takes the oldest item of the queue, if any: waits for its estimation and records its
    /// table, or records the report that was ready.
    async fn settle(&mut self) -> Result<()> {
        let Some(front) = self.estimating.pop_front() else {
            return Ok(());
        };
        let e = match front {
            InFlight::Ready(report, out) => {
                self.put(report, out);
                return Ok(());
            }
            InFlight::Estimating(e) => e,
        };
        let (out, estimate_seconds, write_seconds) =
            crate::joined(e.task, &e.id, "its estimation").await?;
        let steps = (e.query_seconds, estimate_seconds, write_seconds);
        match out {
            survey::Finished::Table(out) => self.record(&e.id, &e.title, e.started, steps, out),
            survey::Finished::Pending(pending) => {
                self.wait(&e.id, &e.title, steps, pending).await?
            }
        }
        Ok(())
    }

    /// Keeps an indicator of a replicate method for the pass over the replicates it shares
    /// with the others, its report's place kept. The indicators waiting hold at most an
    /// eighth of a finite memory pool, reserved: beyond it, or where the pool has no room,
    /// those waiting have their pass first. (A pass's time is in reading the contributions,
    /// once per block of replicates, not in drawing the weights: at 1 M persons a quarter of
    /// the default pool took 7.4 GB for 5 % less time than 4.3 GB in four passes.)
    async fn wait(
        &mut self,
        id: &str,
        title: &str,
        (query_seconds, estimate_seconds, _): (f64, f64, f64),
        pending: Box<survey::Pending>,
    ) -> Result<()> {
        use datafusion::execution::memory_pool::{MemoryConsumer, MemoryLimit};
        let bytes = pending.bytes();
        let room = match self.pool.memory_limit() {
            MemoryLimit::Finite(limit) => limit / 8,
            _ => usize::MAX,
        };
        let held: usize = self.waiting.iter().map(|w| w.bytes).sum();
        if held.saturating_add(bytes) > room {
            self.replicate().await?;
        }
        let reservation =
            MemoryConsumer::new(format!("{id}, waiting for its replicates")).register(&self.pool);
        if reservation.try_grow(bytes).is_err() {
            self.replicate().await?;
            // Alone it may still not fit: it has its pass now, its memory unreserved as the
            // estimation's was until now.
            reservation.try_grow(bytes).ok();
        }
        self.reports.push(IndicatorReport {
            id: id.to_string(),
            title: title.to_string(),
            rows: None,
            skipped: None,
            seconds: 0.0,
            query_seconds,
            estimate_seconds,
            write_seconds: 0.0,
        });
        self.waiting.push(Waiting {
            pending,
            report: self.reports.len() - 1,
            bytes,
            reservation,
        });
        Ok(())
    }

    /// The pass over the replicates of the indicators waiting: each replicate's weights drawn
    /// once for all of them ([`survey::replicate_all`]); their tables written and recorded.
    async fn replicate(&mut self) -> Result<()> {
        if self.waiting.is_empty() {
            return Ok(());
        }
        let waiting = std::mem::take(&mut self.waiting);
        let ids: Vec<String> = waiting.iter().map(|w| w.pending.id().to_string()).collect();
        let names = ids.join(", ");
        let (dir, csv) = (self.dir.clone(), self.csv);
        let mut held = Vec::with_capacity(waiting.len());
        let mut pending = Vec::with_capacity(waiting.len());
        for w in waiting {
            pending.push(*w.pending);
            held.push((w.report, w.reservation));
        }
        let task = tokio::task::spawn_blocking(move || {
            // Its own pool: estimations may still be in flight (a pass made to free memory).
            estimation_pool(Self::IN_FLIGHT).install(|| {
                let (tables, passes) = survey::replicate_all(pending)?;
                let mut written = Vec::with_capacity(tables.len());
                for (id, table) in ids.iter().zip(tables) {
                    let t = Instant::now();
                    write_outputs(&dir, id, &table, csv)?;
                    written.push((table, t.elapsed().as_secs_f64()));
                }
                Ok::<_, Error>((written, passes))
            })
        });
        let (written, passes) = crate::joined(task, &names, "the pass over its replicates").await?;
        for ((report, _reservation), (table, write_seconds)) in held.into_iter().zip(written) {
            let r = &mut self.reports[report];
            r.rows = Some(table.num_rows());
            // Its own steps: not the time it waited, nor the shared pass (in the manifest's
            // `replicate_passes`).
            r.seconds = r.query_seconds + r.estimate_seconds + write_seconds;
            r.write_seconds = write_seconds;
            self.outputs.insert(r.id.clone(), table);
        }
        self.passes.extend(passes);
        Ok(())
    }

    /// Waits for the estimations in flight (the run has failed) and gives the first one's
    /// error, if one failed; a panic goes on as a panic.
    async fn abandon(&mut self) -> Option<Error> {
        let mut first = None;
        let running = self.estimating.drain(..).filter_map(|e| match e {
            InFlight::Estimating(e) => Some(e),
            InFlight::Ready(..) => None,
        });
        for e in running.collect::<Vec<_>>() {
            match e.task.await {
                Ok(Ok(_)) => {}
                Ok(Err(err)) => {
                    first.get_or_insert(err);
                }
                Err(j) if j.is_panic() => std::panic::resume_unwind(j.into_panic()),
                Err(_) => {}
            }
        }
        first
    }
}

/// An indicator's query run: a table collected, or a survey indicator's rows taken in for its
/// estimation.
async fn indicator(
    ctx: &SessionContext,
    present: &[Table],
    opts: &RunOptions,
    design: &Design,
    ind: &Indicator,
    results: &mut Results,
) -> Result<Started> {
    let t0 = Instant::now();
    let missing: Vec<&str> = ind
        .needs
        .iter()
        .filter(|n| !present.iter().any(|t| t.name() == n.as_str()))
        .map(|s| s.as_str())
        .collect();
    if !missing.is_empty() {
        return Ok(Started::Skipped(format!(
            "needs table(s) {} which the data directory does not have",
            missing.join(", ")
        )));
    }
    // A scenario's value goes into its SQL as a named parameter ($name).
    let params: Vec<(String, datafusion::scalar::ScalarValue)> = match &ind.scenario {
        None => Vec::new(),
        Some(name) => match opts.scenarios.get(name) {
            Some(v) => vec![(
                crate::catalog::scenario_placeholder(name),
                datafusion::scalar::ScalarValue::Float64(Some(*v)),
            )],
            None => {
                return Ok(Started::Skipped(format!(
                    "a scenario: run with --scenario {name}=<value>"
                )));
            }
        },
    };
    let what = format!("indicator {}", ind.id);
    match ind.kind {
        Kind::Survey {
            estimator,
            bootstrap,
            observed_only,
        } => {
            let Some(frame) = &design.frame else {
                return Ok(Started::Skipped("needs persons and households".into()));
            };
            let spec = Spec {
                id: ind.id.clone(),
                unit: ind.unit.clone(),
                estimator,
                variance: design.variance(opts, bootstrap),
                rules: opts.rules,
                observed_only,
            };
            let planned = plan(ctx, &what, &ind.sql, params).await?;
            let Some((intake, reservation)) =
                survey_intake(ctx, &what, planned, frame, spec, results).await?
            else {
                // Nothing to count (a survey without trip distances has no km to share out):
                // the indicator is skipped, saying so, not the run failed.
                return Ok(Started::Skipped(
                    "its query found no rows to estimate from (e.g. no trip distances in the survey)".into(),
                ));
            };
            Ok(Started::Intake(Box::new(Intaken {
                intake,
                reservation,
                started: t0,
                query_seconds: t0.elapsed().as_secs_f64(),
            })))
        }
        Kind::Table => {
            // A kept row buffer's memory is the table query's to use.
            results.release_spare();
            let planned = plan(ctx, &what, &ind.sql, params).await?;
            let batches = within_timeout(ctx, &what, planned.collect())
                .await?
                .map_err(|source| Error::DataFusion {
                    context: what.clone(),
                    source,
                })?;
            let query_seconds = t0.elapsed().as_secs_f64();
            // A finished table with nothing in it (road_co2e without a `heavy` factor, say)
            // is skipped with a note, as a survey indicator without rows is.
            let Some(schema) = batches
                .iter()
                .find(|b| b.num_rows() > 0)
                .map(|b| b.schema())
            else {
                return Ok(Started::Skipped(
                    "its query returned no rows (for road_co2e: a `heavy` row in emission_factors is needed, data/factors has one)".into(),
                ));
            };
            let out = arrow::compute::concat_batches(&schema, &batches)?;
            Ok(Started::Done(out, query_seconds, t0))
        }
    }
}

/// `sql` planned with its named parameters filled in.
async fn plan(
    ctx: &SessionContext,
    what: &str,
    sql: &str,
    params: Vec<(String, datafusion::scalar::ScalarValue)>,
) -> Result<datafusion::dataframe::DataFrame> {
    let planned = async {
        let df = ctx.sql(sql).await?;
        if params.is_empty() {
            Ok(df)
        } else {
            df.with_param_values(params)
        }
    };
    within_timeout(ctx, what, planned)
        .await?
        .map_err(|source| Error::DataFusion {
            context: what.to_string(),
            source,
        })
}

/// A survey indicator's query streamed into the estimation's intake, each batch dropped once
/// interned (the result is never held whole), with the memory reserved for the estimation;
/// `None` when it has no rows.
async fn survey_intake(
    ctx: &SessionContext,
    what: &str,
    df: datafusion::dataframe::DataFrame,
    frame: &std::sync::Arc<Frame>,
    spec: Spec,
    results: &mut Results,
) -> Result<
    Option<(
        survey::Intake,
        datafusion::execution::memory_pool::MemoryReservation,
    )>,
> {
    // The estimation's own memory, from the same pool as the queries', grown with each batch:
    // each row of the query interned (person, key, trip domains, y, x: 32 bytes), then a
    // second copy while they are grouped by person, the first dropped before the cell sums
    // take its room: 64 bytes a row; a median also keeps (value, person) per row
    // in each of its domains, and replicate methods each person's contribution per cell: 16
    // and 24 bytes for each of up to eight domains. A total, mean or ratio by linearisation
    // that reports observed cells only (origin–destination pairs) may sum them key by key
    // (`survey::keyed_sums`), from a copy of its rows by key with their persons' weights: 40
    // bytes a row more.
    let domains = 1 + survey::PERSON_BREAKDOWNS.len() + survey::TRIP_BREAKDOWNS.len();
    let per_row =
        64 + if spec.estimator == survey::Estimator::Median {
            16 * domains
        } else {
            0
        } + if matches!(spec.variance, Variance::Linearisation) {
            0
        } else {
            24 * domains
        } + if spec.observed_only
            && matches!(spec.variance, Variance::Linearisation)
            && matches!(
                spec.estimator,
                survey::Estimator::Total | survey::Estimator::Mean | survey::Estimator::Ratio
            ) {
            40
        } else {
            0
        };
    let reservation = datafusion::execution::memory_pool::MemoryConsumer::new(format!(
        "survey estimation of {}",
        spec.id
    ))
    .register(&ctx.runtime_env().memory_pool);
    let failed = |source| Error::DataFusion {
        context: what.to_string(),
        source,
    };
    let mut stream = df.execute_stream().await.map_err(failed)?;
    let mut spec = Some(spec);
    let mut intake: Option<survey::Intake> = None;
    let timeout = crate::batches::query_timeout(ctx);
    loop {
        let next = match timeout {
            None => stream.next().await,
            Some(limit) => tokio::time::timeout(limit, stream.next())
                .await
                .map_err(|_| crate::batches::timed_out(what, limit))?,
        };
        let Some(b) = next else { break };
        let b = b.map_err(failed)?;
        let grow = b.num_rows() * per_row;
        // A kept row buffer, estimations still in flight and indicators waiting for their
        // replicates may hold the memory: the buffer let go, then the estimations waited
        // for, oldest first, then the replicates' pass made.
        while let Err(e) = reservation.try_grow(grow) {
            if results.release_spare() {
                continue;
            }
            if !results.estimating.is_empty() {
                results.settle().await?;
            } else if !results.waiting.is_empty() {
                results.replicate().await?;
            } else {
                return Err(failed(e));
            }
        }
        let i = match (&mut intake, spec.take()) {
            (Some(i), _) => i,
            (None, Some(sp)) => intake.insert(survey::Intake::new(frame.clone(), sp, &b.schema())?),
            (None, None) => unreachable!("the spec goes to the first batch"),
        };
        i.push(&b)?;
    }
    Ok(intake.filter(|i| i.rows() > 0).map(|i| (i, reservation)))
}

/// The traffic indices (yearly and chained, rolling, the bicycle points' rolling, nullvekst)
/// computed and written, with their reports and tables.
async fn traffic_tables(
    ctx: &SessionContext,
    present: &[Table],
    opts: &RunOptions,
    dir: &Path,
) -> Result<(
    Vec<IndicatorReport>,
    std::collections::HashMap<String, RecordBatch>,
)> {
    let (mut reports, mut outputs) = (Vec::new(), std::collections::HashMap::new());
    let t = Instant::now();
    let yearly = traffic::index_yearly(ctx, present, opts.index_method).await?;
    let rolling = |counted| {
        traffic::index_rolling(
            ctx,
            present,
            opts.reference_year,
            opts.index_method,
            counted,
        )
    };
    let vehicles = rolling(traffic::Counted::Vehicles).await?;
    let bike = rolling(traffic::Counted::Bicycles).await?;
    let null = traffic::nullvekst_table(&vehicles)?;
    let query_seconds = t.elapsed().as_secs_f64();
    for (id, title, table) in [
        (
            "traffic_index_yearly",
            "Traffic index between consecutive years, and chained (unofficial)",
            yearly,
        ),
        (
            "traffic_index_rolling",
            "Rolling 12/24/36-month traffic index against the reference year (unofficial)",
            vehicles,
        ),
        (
            "nullvekst",
            "Zero growth in car traffic: the latest rolling index and its CI (unofficial)",
            null,
        ),
        (
            "bike_traffic_index_rolling",
            "Rolling 12/24/36-month index of the bicycle counting points (unofficial)",
            bike,
        ),
    ] {
        let t2 = Instant::now();
        write_outputs(dir, id, &table, opts.csv)?;
        // The queries' time is the first table's.
        let queried = if id == "traffic_index_yearly" {
            query_seconds
        } else {
            0.0
        };
        reports.push(IndicatorReport {
            id: id.into(),
            title: title.into(),
            rows: Some(table.num_rows()),
            skipped: None,
            seconds: t2.elapsed().as_secs_f64() + queried,
            query_seconds: queried,
            estimate_seconds: 0.0,
            write_seconds: t2.elapsed().as_secs_f64(),
        });
        outputs.insert(id.to_string(), table);
    }
    Ok((reports, outputs))
}

#[cfg(test)]
mod tests {
    use super::parse_od_periods;

    #[test]
    fn od_periods_parse_and_refuse_overlaps() {
        assert_eq!(
            parse_od_periods("morning_peak=6-9, afternoon_peak=15-18").unwrap(),
            [
                ("morning_peak".to_string(), 6, 9),
                ("afternoon_peak".to_string(), 15, 18)
            ]
        );
        assert_eq!(
            parse_od_periods("am=6-10,x=9-11").unwrap_err(),
            "'x=9-11' overlaps 'am=6-10'"
        );
        for bad in ["am=9-6", "am=6-25", "other=1-2", "am=6", "=6-9", ""] {
            assert!(parse_od_periods(bad).is_err(), "{bad}");
        }
    }
}
