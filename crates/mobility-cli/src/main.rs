//! The `mobility` binary: command-line parsing, progress and exit codes; the work is done by the
//! library crates (ingest, synth, indicators).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use mobility_ingest::store::DataDir;

mod cluster;
mod config;
mod factors;
mod sql;
use mobility_ingest::{Options, Summary};

#[derive(Parser)]
#[command(
    name = "mobility",
    version,
    about = "Travel-survey and traffic-count indicators for municipal climate and mobility planning",
    long_about = "Travel-survey and traffic-count indicators for municipal climate and mobility planning.\n\n\
        Typical use: `mobility ingest …` real files into a data directory of Parquet tables, or \
        `mobility synth` a synthetic one; then `mobility run` computes the indicators with their \
        uncertainty into an output directory."
)]
struct Cli {
    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read files as they are downloaded into a data directory of (Geo)Parquet tables.
    ///
    /// Rows that fail validation are kept with file, line, column, value and reason in
    /// <data-dir>/_rejects/; outputs are put in place only when the whole ingest succeeded;
    /// re-ingesting the same input replaces its rows instead of adding them again.
    #[command(subcommand)]
    Ingest(Ingest),
    /// Generate a synthetic Bærum (survey, zones, counting points, trafikkdata.no exports) and
    /// ingest it into a data directory.
    Synth(SynthArgs),
    /// Compute every indicator of a data directory into <out>/indicators/ and <out>/manifest.json.
    Run(RunArgs),
    /// Render <out>/report.html again from a run's outputs alone (indicators/, geo/zones.parquet,
    /// manifest.json): no data directory, no queries; in another language with --lang.
    Report(ReportArgs),
    /// SQL over a data directory: every table registered, the project's functions, files by
    /// path ('x.parquet', 'y.csv'); an interactive shell without -c or -f.
    Sql(SqlArgs),
    /// List the project's SQL functions with signature, units, description and an example.
    Functions,
    /// Verify a data directory (after copying it around): each table's schema against the data
    /// model, unique keys, households ↔ persons ↔ trips, zone ids that exist, GeoParquet
    /// metadata and valid geometry. Exit code 1 if anything is wrong.
    Check {
        /// The data directory.
        #[arg(long, value_name = "DATA_DIR")]
        data: PathBuf,
    },
    /// Calibrate the person weights to population margins (raking or linear calibration).
    ///
    /// The calibrated weight replaces persons.weight; the weight before is kept in
    /// persons.base_weight, and calibrating again starts from it. The margins are kept in
    /// calibration_margins, so `run` gives SEs from the calibration residuals. The report is
    /// printed and written to <data-dir>/_calibration.txt.
    Weight(WeightArgs),
    /// Print the resolved settings of `run` and `sql` and where each came from
    /// (defaults < mobility.toml < MOBILITY_* environment < flags).
    Config(RunArgs),
    /// Start a Ballista scheduler that knows the project's functions and plans (docs/cluster.md);
    /// `run` and `sql` use it with --cluster df://HOST:PORT. Stops at SIGINT/SIGTERM.
    Scheduler(cluster::SchedulerArgs),
    /// Start a Ballista executor for a `mobility scheduler`; it reads the data directory by the
    /// path the client gives. Stops at SIGINT/SIGTERM, finishing its tasks.
    Executor(cluster::ExecutorArgs),
}

#[derive(Args)]
struct WeightArgs {
    /// The data directory whose persons are calibrated.
    #[arg(long, value_name = "DATA_DIR")]
    data: PathBuf,
    /// CSV of population totals: variable,category,total (variables: age_band, age, gender,
    /// employment, has_license, stratum, size, cars, home_zone_id).
    #[arg(long, value_name = "FILE")]
    margins: PathBuf,
    /// raking (iterative proportional fitting's solution) or linear (GREG).
    #[arg(long, value_enum, default_value = "raking")]
    method: CalibrationMethod,
    /// Bounds on the adjustment weight / base_weight, e.g. 0.3,3.
    #[arg(long, value_name = "LOW,HIGH", value_parser = parse_bounds)]
    bounds: Option<(f64, f64)>,
    /// Iterations at most.
    #[arg(long, value_name = "N", default_value_t = 50)]
    max_iter: u32,
    /// Converged when every margin is met to this share of its total.
    #[arg(long, value_name = "T", default_value_t = 1e-10)]
    tolerance: f64,
    #[command(flatten)]
    lock: LockArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CalibrationMethod {
    Raking,
    Linear,
}

fn parse_bounds(s: &str) -> Result<(f64, f64), String> {
    let bad = || format!("`{s}` is not LOW,HIGH with 0 <= LOW < 1 < HIGH (e.g. 0.3,3)");
    let (lo, hi) = s.split_once(',').ok_or_else(bad)?;
    let (lo, hi): (f64, f64) = (
        lo.trim().parse().map_err(|_| bad())?,
        hi.trim().parse().map_err(|_| bad())?,
    );
    if !(0.0..1.0).contains(&lo) || hi <= 1.0 || !hi.is_finite() {
        return Err(bad());
    }
    Ok((lo, hi))
}

#[derive(Args)]
struct SqlArgs {
    /// The data directory [default: data/sample, or `data` of mobility.toml / MOBILITY_DATA].
    #[arg(long)]
    data: Option<PathBuf>,
    /// Memory the queries may hold (2GiB, 512MiB, 75%); beyond it sorts, aggregates and joins
    /// spill to the temporary directory [default: memory_limit of mobility.toml, else 75%].
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    /// Settings file [default: $MOBILITY_CONFIG, else ./mobility.toml if present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Run the queries on a Ballista cluster: its scheduler, df://HOST:PORT (`mobility
    /// scheduler`) [default: cluster of mobility.toml / MOBILITY_CLUSTER, else none].
    #[arg(long, value_name = "df://HOST:PORT")]
    cluster: Option<String>,
    /// Run these statements (separated by ';') and exit.
    #[arg(
        short = 'c',
        long = "command",
        value_name = "SQL",
        conflicts_with = "file"
    )]
    command: Option<String>,
    /// Run the statements of this file and exit.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Result format.
    #[arg(long, value_enum, default_value = "table")]
    format: sql::Format,
    /// Write results to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args, Clone)]
struct Common {
    /// The data directory to write (created if missing).
    #[arg(long, value_name = "DATA_DIR")]
    out: PathBuf,
    /// Fail, writing nothing, if any row is rejected.
    #[arg(long)]
    strict: bool,
    /// Fill zone ids from zones of this kind only (default: the smallest zone holding the point).
    #[arg(long, value_name = "KIND")]
    zone_kind: Option<String>,
    /// Memory the ingest may hold for the rows it buffers (2GiB, 512MiB, 75%); past a third of it
    /// rows spill to a folder beside the data [default: memory_limit of mobility.toml, else 75%].
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    #[command(flatten)]
    lock: LockArgs,
}

/// One writer at a time per data directory: what to do while another holds it.
#[derive(Args, Clone)]
struct LockArgs {
    /// Wait for another ingest into the same data directory to finish (the default).
    #[arg(long, overrides_with = "no_wait")]
    wait: bool,
    /// Fail at once, saying who holds the lock, if another ingest is writing the directory.
    #[arg(long, overrides_with = "wait")]
    no_wait: bool,
    /// Give up waiting for the lock after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    wait_timeout: u64,
}

impl LockArgs {
    fn options(&self, quiet: bool) -> mobility_ingest::store::LockOptions {
        let holder = std::env::args().collect::<Vec<_>>().join(" ");
        mobility_ingest::store::LockOptions {
            wait: (self.wait || !self.no_wait)
                .then(|| std::time::Duration::from_secs(self.wait_timeout)),
            on_wait: (!quiet).then(|| {
                std::sync::Arc::new(|msg: &str| eprintln!("{msg}"))
                    as mobility_ingest::store::WaitHook
            }),
            holder: format!("`{holder}`"),
        }
    }
}

#[derive(Subcommand)]
enum Ingest {
    /// trafikkdata.no hourly exports (.csv, .csv.gz, .zip; ISO-8859-1 or UTF-8) into
    /// traffic_hourly, and registration points from the trafikkdata GraphQL JSON (.json) into
    /// traffic_points.
    Traffic {
        /// Export files, registration-point JSON files, or folders of them.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// GeoJSON Polygon/MultiPolygon features into zones (GeoParquet), in EPSG:4326 or EPSG:25833.
    Zones {
        /// GeoJSON files (or folders of them).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The feature property holding the zone id.
        #[arg(long, default_value = "id")]
        id_field: String,
        /// The feature property holding the zone name.
        #[arg(long)]
        name_field: Option<String>,
        /// The kind of these zones: kommune, grunnkrets, custom, ...
        #[arg(long, default_value = "custom")]
        kind: String,
        /// CRS of the coordinates; default: the file's crs member, else EPSG:4326.
        #[arg(long, value_enum, ignore_case = true)]
        crs: Option<CrsArg>,
        /// Store an invalid polygon (a self-intersecting "bow-tie", a stray hole) as its
        /// even–odd repair instead of rejecting it; each repair is listed in the rejects file.
        #[arg(long)]
        repair: bool,
        #[command(flatten)]
        common: Common,
    },
    /// Household, person and trip CSV files described by a mapping into households, persons, trips.
    Survey {
        /// A built-in mapping (canonical, rvu) or a mapping file (TOML).
        #[arg(long, default_value = "canonical")]
        mapping: String,
        /// The survey's files, or a folder holding them.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Stops of GTFS feeds (zip files or stops.txt) into pt_stops (GeoParquet).
    Gtfs {
        /// GTFS zips or stops.txt files.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Emission factors, fleet mix and occupancy CSV files (emission_factors*.csv,
    /// fleet_mix*.csv, occupancy*.csv; the defaults are in data/factors/).
    Factors {
        /// Factor files or folders of them.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Replicate weights of the survey's persons, one row per person (e.g. NHTS PERSONID,
    /// WTPERFIN1..WTPERFIN98); `run` then takes every survey SE from them (--replicate-scale).
    ReplicateWeights {
        /// CSV files or folders of them.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The column with the person id.
        #[arg(long, default_value = "person_id")]
        id_column: String,
        /// The replicate columns: those whose name starts with this.
        #[arg(long, default_value = "repwt")]
        prefix: String,
        #[command(flatten)]
        common: Common,
    },
    /// Statens vegvesen's traffic links with their ÅDT (trafikkdata.no "trafikklenker": CSV with
    /// the API's field names such as bestDataSourceAadt_trafficVolumeValue, or the API's JSON)
    /// into road_links, for road vehicle-km (road_vkm) and their CO₂e (road_co2e).
    Links {
        /// CSV or JSON files (.gz, .zip), or folders of them.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args)]
struct SynthArgs {
    /// Survey respondents to generate.
    #[arg(long, default_value_t = 10_000)]
    persons: usize,
    /// Seed: the same seed gives the same data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The data directory to write.
    #[arg(long, value_name = "DATA_DIR")]
    out: PathBuf,
    /// Counting points: Bærum's 8, then points around Norway's municipalities, each place with
    /// its own traffic level and profile (up to 10,000; exports are written 8 points a file).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(0..=10_000))]
    traffic_points: u16,
    /// Years of hourly counts, as FIRST-LAST.
    #[arg(long, default_value = "2022-2024")]
    traffic_years: String,
    /// Keep the generated raw files (CSV, GeoJSON, trafikkdata exports) in <DATA_DIR>/raw.
    #[arg(long)]
    keep_raw: bool,
    /// Write the raw files to <DATA_DIR>/raw and ingest nothing (for benchmarks of ingest).
    #[arg(long)]
    raw_only: bool,
}

#[derive(Args, Clone)]
struct RunArgs {
    /// The data directory [default: data/sample].
    #[arg(long)]
    data: Option<PathBuf>,
    /// The output directory [default: out].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Confidence level of the intervals [default: 0.95].
    #[arg(long)]
    ci_level: Option<f64>,
    /// Suppress cells with fewer persons than this [default: 50].
    #[arg(long)]
    min_n: Option<u64>,
    /// Suppress cells with a coefficient of variation above this [default: 0.3].
    #[arg(long)]
    max_cv: Option<f64>,
    /// Bootstrap replicates (Rao-Wu) for the indicators without a closed-form SE [default: 200].
    #[arg(long)]
    bootstrap: Option<u32>,
    /// Seed of the bootstrap [default: 2018].
    #[arg(long)]
    seed: Option<u64>,
    /// A scenario, <name>=<share>, e.g. shift-short-car-trips=0.3; repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    scenario: Vec<String>,
    /// Reference year of the rolling traffic index (default: the first year in which a
    /// counting point has ten months).
    #[arg(long, value_name = "YEAR")]
    reference_year: Option<i64>,
    /// Memory DataFusion's operators and the estimation may hold: 2GiB, 512MiB, 2G, or a
    /// share of the machine's memory such as 75% (the default); beyond it sorts, aggregates
    /// and joins spill to the temporary directory, and what cannot spill fails naming it.
    #[arg(long, value_name = "SIZE")]
    memory_limit: Option<String>,
    /// SEs of the survey indicators: default (linearisation, Woodruff for the median) or
    /// bootstrap (every one by the Rao-Wu bootstrap with --bootstrap replicates).
    #[arg(long, value_name = "METHOD")]
    variance: Option<String>,
    /// Method of the traffic indices: classic (MDT of all days; the yearly index from the
    /// point indices) or calendar (Statens vegvesen's calendar-adjusted MDT,
    /// traffic_mdt_calendar) [default: classic].
    #[arg(long, value_name = "METHOD")]
    index_method: Option<String>,
    /// Zone kind of the origin–destination indicators (kommune, grunnkrets, any kind in
    /// zones): trip ends are looked up among those zones (default: the trips' own zone ids).
    #[arg(long, value_name = "KIND")]
    od_zone_kind: Option<String>,
    /// Periods of the day of od_trips_by_period, name=FROM-TO in local hours
    /// [default: morning_peak=6-9,afternoon_peak=15-18]; other hours are `other`.
    #[arg(long, value_name = "NAME=FROM-TO,...")]
    od_periods: Option<String>,
    /// CSV flavour of the indicator files: utf8, or excel-nb (BOM, ';', decimal comma) [default: utf8].
    #[arg(long, value_enum)]
    csv_dialect: Option<CsvDialectArg>,
    /// Language of report.html: nb (Norwegian bokmål) or en [default: nb].
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
    /// Only these indicators (comma-separated ids); the targets table, the traffic index
    /// tables, the report's tables (traffic profiles, counting points, emission factors) and
    /// geo/zones are always written.
    #[arg(long, value_name = "IDS")]
    only: Option<String>,
    /// A targets file (TOML) instead of Bærum's built-in targets.
    #[arg(long, value_name = "FILE")]
    targets: Option<PathBuf>,
    /// Factor CSV files, or a folder of them, instead of the data directory's emission
    /// factors, fleet mix and occupancy (e.g. data/factors).
    #[arg(long, value_name = "PATH")]
    factors: Option<PathBuf>,
    /// With replicate weights: the scale c of V = c·Σ(θ_r − θ)²: jk1 ((R−1)/R), bootstrap
    /// (1/R), or a number or fraction such as 6/7 (NHTS 2017) [default: jk1].
    #[arg(long, value_name = "SCALE")]
    replicate_scale: Option<String>,
    /// Settings file [default: $MOBILITY_CONFIG, else ./mobility.toml if present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Run the queries on a Ballista cluster: its scheduler, df://HOST:PORT (`mobility
    /// scheduler`); the estimation stays here [default: cluster of mobility.toml /
    /// MOBILITY_CLUSTER, else none].
    #[arg(long, value_name = "df://HOST:PORT")]
    cluster: Option<String>,
    /// Seconds a query may go without a result before the run fails, leaving the output
    /// folder as it was (0: no limit) [default: 0]. On a cluster a job can stall after an
    /// executor is lost (docs/cluster.md).
    #[arg(long, value_name = "SECONDS")]
    query_timeout: Option<u64>,
}

impl RunArgs {
    /// The settings with this command line's flags on top.
    fn settings(&self) -> anyhow::Result<config::Settings> {
        config::Settings::resolve(
            self.config.as_deref(),
            &[
                ("data", self.data.as_ref().map(|p| p.display().to_string())),
                ("out", self.out.as_ref().map(|p| p.display().to_string())),
                (
                    "targets",
                    self.targets.as_ref().map(|p| p.display().to_string()),
                ),
                (
                    "factors",
                    self.factors.as_ref().map(|p| p.display().to_string()),
                ),
                ("ci_level", self.ci_level.map(|v| v.to_string())),
                ("min_n", self.min_n.map(|v| v.to_string())),
                ("max_cv", self.max_cv.map(|v| v.to_string())),
                ("bootstrap", self.bootstrap.map(|v| v.to_string())),
                ("seed", self.seed.map(|v| v.to_string())),
                ("reference_year", self.reference_year.map(|v| v.to_string())),
                ("index_method", self.index_method.clone()),
                ("variance", self.variance.clone()),
                ("memory_limit", self.memory_limit.clone()),
                ("od_zone_kind", self.od_zone_kind.clone()),
                ("od_periods", self.od_periods.clone()),
                ("lang", self.lang.map(value_name)),
                ("csv_dialect", self.csv_dialect.map(value_name)),
                ("replicate_scale", self.replicate_scale.clone()),
                ("cluster", self.cluster.clone()),
                ("query_timeout", self.query_timeout.map(|v| v.to_string())),
            ],
        )
    }
}

/// `mobility report`.
#[derive(Args)]
struct ReportArgs {
    /// The output directory of a run.
    #[arg(long, value_name = "OUT_DIR")]
    out: PathBuf,
    /// Language of report.html: nb (Norwegian bokmål) or en [default: the run's, else nb].
    #[arg(long, value_enum)]
    lang: Option<LangArg>,
}

/// `--lang`: the language of report.html.
#[derive(Clone, Copy, clap::ValueEnum)]
enum LangArg {
    /// Norwegian bokmål (the default).
    Nb,
    /// English.
    En,
}

/// `--csv-dialect`: the CSV flavour of the indicator files.
#[derive(Clone, Copy, clap::ValueEnum)]
enum CsvDialectArg {
    /// UTF-8, `,` between fields, decimal point (the default).
    Utf8,
    /// For Norwegian Excel: a byte-order mark, `;` between fields, decimal comma.
    ExcelNb,
}

/// `--crs`: the coordinates' reference system of a zones file.
#[derive(Clone, Copy, clap::ValueEnum)]
enum CrsArg {
    /// Longitude and latitude in degrees (WGS 84, as GeoJSON).
    #[value(name = "EPSG:4326", alias = "4326")]
    Epsg4326,
    /// UTM zone 33N in metres (EUREF89), as Norwegian map data.
    #[value(name = "EPSG:25833", alias = "25833")]
    Epsg25833,
}

/// The name a value of an enum flag is written with (`excel-nb`, `EPSG:25833`), for the
/// settings that also come from mobility.toml and MOBILITY_*.
fn value_name(v: impl clap::ValueEnum) -> String {
    v.to_possible_value()
        .expect("no value is skipped")
        .get_name()
        .to_string()
}

/// `mobility check`: the data directory's tables and what is wrong with them; an error (exit 1)
/// when anything is.
fn check(data: &std::path::Path) -> anyhow::Result<()> {
    if !data.is_dir() {
        anyhow::bail!("data directory {} does not exist", data.display());
    }
    let report = mobility_ingest::check::check(&DataDir::new(data))?;
    let mut out = std::io::stdout().lock();
    for (t, rows) in &report.tables {
        writeln!(out, "{:<18} {rows:>12} rows", t.name())?;
    }
    if report.problems.is_empty() {
        writeln!(out, "{}: no problems found", data.display())?;
    } else {
        for p in &report.problems {
            writeln!(out, "problem: {p}")?;
        }
        anyhow::bail!(
            "{}: {} problem(s) found",
            data.display(),
            report.problems.len()
        );
    }
    Ok(())
}

/// The memory limit the run or shell was given, for the message when it is reached.
static MEMORY_LIMIT: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `memory_limit` in bytes, remembered with its text and source for the message when a query
/// reaches it.
fn memory_limit(settings: &config::Settings) -> u64 {
    let limit = &settings.memory_limit;
    let bytes = limit.value;
    let shown = if bytes >= 1 << 30 {
        format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    };
    let _ = MEMORY_LIMIT.set(format!(
        "memory_limit = {} ({shown}, from {})",
        limit.text().unwrap_or_default(),
        limit.source()
    ));
    bytes
}

/// A runtime for the async work of a command.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("starting the async runtime")
}

/// Fails unless `data` is a folder or a bucket's address (`s3://…`).
fn require_data_dir(data: &Path) -> anyhow::Result<()> {
    if !data.is_dir() && !data.to_string_lossy().starts_with("s3://") {
        anyhow::bail!(
            "data directory {} does not exist (make one with `mobility synth` or `mobility ingest`)",
            data.display()
        );
    }
    Ok(())
}

fn weight(a: &WeightArgs, quiet: bool) -> anyhow::Result<()> {
    use mobility_stats::calibration as cal;
    let opts = mobility_ingest::weight::WeightOptions {
        calibration: cal::Options {
            method: match a.method {
                CalibrationMethod::Raking => cal::Method::Raking,
                CalibrationMethod::Linear => cal::Method::Linear,
            },
            bounds: a.bounds,
            max_iter: a.max_iter,
            tolerance: a.tolerance,
        },
        lock: a.lock.options(quiet),
    };
    let dir = mobility_ingest::store::DataDir::new(&a.data);
    let report = mobility_ingest::weight::weight(&dir, &a.margins, &opts)?;
    if !quiet {
        print!("{report}");
        println!(
            "  written to {}",
            a.data.join(mobility_ingest::weight::REPORT).display()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if err.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            if format!("{err:#}").contains("Resources exhausted")
                && let Some(limit) = MEMORY_LIMIT.get()
            {
                eprintln!(
                    "the query needed more memory than {limit}: raise it (--memory-limit, memory_limit in mobility.toml or MOBILITY_MEMORY_LIMIT); sorts, aggregates and joins that can spill already did"
                );
            }
            ExitCode::FAILURE
        }
    }
}

/// The options of an `ingest` subcommand from its flags and the `memory_limit` setting.
fn options(c: &Common, quiet: bool) -> anyhow::Result<Options> {
    let settings = config::Settings::resolve(None, &[("memory_limit", c.memory_limit.clone())])?;
    Ok(Options {
        strict: c.strict,
        zone_kind: c.zone_kind.clone(),
        progress: file_progress(quiet),
        lock: c.lock.options(quiet),
        memory_limit: Some(memory_limit(&settings)),
    })
}

/// A spinner that counts files and rows as an ingest goes, on a terminal and unless quiet.
fn file_progress(quiet: bool) -> Option<mobility_ingest::Progress> {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed} {pos} files, {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    let rows = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    Some(std::sync::Arc::new(
        move |f: &mobility_ingest::FileReport| {
            let n = rows.fetch_add(f.rows_read, std::sync::atomic::Ordering::Relaxed) + f.rows_read;
            bar.inc(1);
            let rate = n as f64 / start.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{n} rows ({rate:.0} rows/s), last {}", f.file));
        },
    ))
}

/// A bar over the indicators of a run, on a terminal and unless quiet.
fn run_progress(quiet: bool) -> Option<mobility_indicators::run::Progress> {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(mobility_indicators::run::Progress(std::sync::Arc::new(
        move |step, steps, what: &str| {
            bar.set_length(steps as u64);
            bar.set_position(step as u64);
            bar.set_message(what.to_string());
            if step + 1 == steps {
                bar.finish_and_clear();
            }
        },
    )))
}

/// Runs the command line's subcommand.
fn run(cli: Cli) -> anyhow::Result<()> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Ingest(command) => cmd_ingest(command, quiet)?,
        Command::Synth(a) => synth(a, quiet)?,
        Command::Functions => sql::print_functions(false)?,
        Command::Check { data } => check(&data)?,
        Command::Weight(a) => weight(&a, quiet)?,
        Command::Config(a) => {
            print!("{}", a.settings()?.describe());
        }
        Command::Scheduler(a) => {
            cluster::init_logging();
            runtime()?.block_on(cluster::scheduler(a))?;
        }
        Command::Executor(a) => {
            cluster::init_logging();
            runtime()?.block_on(cluster::executor(a))?;
        }
        Command::Sql(a) => cmd_sql(a)?,
        Command::Run(a) => cmd_run(a, quiet)?,
        Command::Report(a) => cmd_report(&a, quiet)?,
    }
    Ok(())
}

/// `mobility report`: report.html of an output folder, rendered from its tables and manifest,
/// written beside them in one rename.
fn cmd_report(a: &ReportArgs, quiet: bool) -> anyhow::Result<()> {
    let (tables, facts) = mobility_report::read(&a.out)?;
    // The run's language unless asked for another.
    let lang = match a.lang {
        Some(LangArg::En) => mobility_report::Lang::En,
        Some(LangArg::Nb) => mobility_report::Lang::Nb,
        None => facts.lang.unwrap_or_default(),
    };
    let html = mobility_report::render(&tables, &facts, lang)?;
    let target = a.out.join("report.html");
    let staged = a.out.join(format!(".report-{}.html", std::process::id()));
    std::fs::write(&staged, html).with_context(|| format!("writing {}", staged.display()))?;
    std::fs::rename(&staged, &target).with_context(|| format!("writing {}", target.display()))?;
    if !quiet {
        println!("wrote {}", target.display());
    }
    Ok(())
}

/// `mobility ingest …`: the files into the data directory (into a local copy of a data
/// directory in a bucket, uploaded when the ingest succeeded), then the summary unless quiet.
fn cmd_ingest(command: Ingest, quiet: bool) -> anyhow::Result<()> {
    let t0 = Instant::now();
    // A data directory in a bucket is ingested in a local copy, then uploaded.
    let remote = mobility_sql::remote::Remote::of(&command.common().out)
        .map_err(|e| anyhow::anyhow!("{}", e.strip_backtrace()))?;
    let copy = match &remote {
        Some(r) => Some(remote_copy(r)?),
        None => None,
    };
    let dir = match &copy {
        Some((tmp, _)) => tmp.path().to_path_buf(),
        None => command.common().out.clone(),
    };
    let summary = ingest(command, &DataDir::new(&dir), quiet)?;
    if let (Some(r), Some((_, rt))) = (&remote, &copy) {
        let n = rt
            .block_on(r.upload(&dir))
            .map_err(|e| anyhow::anyhow!("{}", e.strip_backtrace()))?;
        if !quiet {
            eprintln!("uploaded {n} files to {} (committed: _current last)", r.url);
        }
    }
    if !quiet {
        print_summary(&summary, t0.elapsed().as_secs_f64())?;
    }
    Ok(())
}

/// One `ingest` subcommand's files into `dir`.
fn ingest(command: Ingest, dir: &DataDir, quiet: bool) -> anyhow::Result<Summary> {
    Ok(match command {
        Ingest::Traffic { inputs, common } => {
            mobility_ingest::ingest_traffic(dir, &inputs, &options(&common, quiet)?)?
        }
        Ingest::Zones {
            inputs,
            id_field,
            name_field,
            kind,
            crs,
            repair,
            common,
        } => {
            let crs = crs.map(|c| value_name(c).parse()).transpose()?;
            let z = mobility_ingest::zones::ZoneOptions {
                id_field,
                name_field,
                kind,
                crs,
                repair,
            };
            mobility_ingest::ingest_zones(dir, &inputs, &z, &options(&common, quiet)?)?
        }
        Ingest::Survey {
            mapping,
            inputs,
            common,
        } => {
            let m = mobility_ingest::survey::Mapping::load(&mapping)?;
            mobility_ingest::ingest_survey(dir, &m, &inputs, &options(&common, quiet)?)?
        }
        Ingest::Gtfs { inputs, common } => {
            mobility_ingest::ingest_gtfs(dir, &inputs, &options(&common, quiet)?)?
        }
        Ingest::Factors { inputs, common } => {
            mobility_ingest::ingest_factors(dir, &inputs, &options(&common, quiet)?)?
        }
        Ingest::Links { inputs, common } => {
            mobility_ingest::ingest_links(dir, &inputs, &options(&common, quiet)?)?
        }
        Ingest::ReplicateWeights {
            inputs,
            id_column,
            prefix,
            common,
        } => mobility_ingest::ingest_replicate_weights(
            dir,
            &inputs,
            &id_column,
            &prefix,
            &options(&common, quiet)?,
        )?,
    })
}

/// `mobility sql`: the statements of -c or -f, or an interactive shell, over the data
/// directory.
fn cmd_sql(a: SqlArgs) -> anyhow::Result<()> {
    let settings = config::Settings::resolve(
        a.config.as_deref(),
        &[
            ("data", a.data.as_ref().map(|p| p.display().to_string())),
            ("memory_limit", a.memory_limit.clone()),
            ("cluster", a.cluster.clone()),
        ],
    )?;
    let session_options = mobility_sql::SessionOptions {
        calendar: settings.holidays.value.clone(),
        memory_limit: Some(memory_limit(&settings) as usize),
        temp_dir: None,
        cluster: settings.cluster.value.clone(),
    };
    let data = &settings.data.value;
    require_data_dir(data)?;
    let rt = runtime()?;
    rt.block_on(async {
        let session = mobility_sql::open_with(data, Vec::new(), session_options)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.strip_backtrace()))?;
        let ctx = session.ctx.enable_url_table();
        let out = sql::Output {
            format: a.format,
            file: a.output.clone(),
        };
        match (&a.command, &a.file) {
            (Some(c), _) => sql::run_script(&ctx, c, &out).await,
            (None, Some(f)) => {
                let text = std::fs::read_to_string(f).with_context(|| f.display().to_string())?;
                sql::run_script(&ctx, &text, &out).await
            }
            (None, None) => sql::shell(&ctx, &out).await,
        }
    })?;
    Ok(())
}

/// `mobility run`: the indicators of the data directory (all, or those of --only) into the
/// output directory, then a line per indicator unless quiet.
fn cmd_run(a: RunArgs, quiet: bool) -> anyhow::Result<()> {
    let st = a.settings()?;
    let opts = run_options(&a, &st, quiet)?;
    require_data_dir(&opts.data)?;
    let rt = runtime()?;
    let catalog = indicators(a.only.as_deref())?;
    let manifest = rt
        .block_on(mobility_indicators::run::run_catalog(&opts, &catalog))
        .map_err(|e| match &opts.cluster {
            Some(url) => anyhow::Error::new(e).context(format!(
                "the run on the Ballista cluster {url} failed and left {} as it was (a lost executor whose work could not be redone shows in the scheduler's log)",
                opts.out.display()
            )),
            None => anyhow::Error::new(e),
        })?;
    if !quiet {
        print_run(&manifest, &opts.out)?;
    }
    Ok(())
}

/// The options of `run`: its settings, the factor files and the targets read, the scenarios.
fn run_options(
    a: &RunArgs,
    st: &config::Settings,
    quiet: bool,
) -> anyhow::Result<mobility_indicators::run::RunOptions> {
    let mut opts = mobility_indicators::run::RunOptions::new(&st.data.value, &st.out.value);
    opts.rules = mobility_indicators::survey::Rules {
        level: st.ci_level.value,
        min_n: st.min_n.value,
        max_cv: st.max_cv.value,
    };
    opts.bootstrap = st.bootstrap.value;
    opts.seed = st.seed.value;
    opts.reference_year = st.reference_year.value;
    opts.calendar = st.holidays.value.clone();
    opts.memory_limit = Some(memory_limit(st) as usize);
    opts.bootstrap_all = st.variance.value == config::Variance::Bootstrap;
    opts.index_method = st.index_method.value;
    opts.od_zone_kind = st.od_zone_kind.value.clone();
    opts.od_periods = Some(st.od_periods.value.clone());
    opts.lang = st.lang.value;
    opts.progress = run_progress(quiet);
    opts.replicate_scale = st.replicate_scale.value.clone();
    opts.factors = st
        .factors
        .value
        .as_deref()
        .map(factors::given)
        .transpose()?;
    opts.cluster = st.cluster.value.clone();
    opts.query_timeout = st.query_timeout.value;
    opts.csv = st.csv_dialect.value;
    opts.scenarios = scenarios(&a.scenario)?;
    if let Some(t) = &st.targets.value {
        opts.targets = Some(
            std::fs::read_to_string(t)
                .with_context(|| format!("reading the targets file {}", t.display()))?,
        );
    }
    Ok(opts)
}

/// The scenarios of `run`'s `--scenario NAME=SHARE` flags: name → share between 0 and 1.
fn scenarios(flags: &[String]) -> anyhow::Result<std::collections::BTreeMap<String, f64>> {
    let mut scenarios = std::collections::BTreeMap::new();
    for s in flags {
        let (name, value) = s.split_once('=').with_context(|| {
            format!("--scenario {s}: expected <name>=<value>, e.g. shift-short-car-trips=0.3")
        })?;
        let value: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|v: &f64| (0.0..=1.0).contains(v))
            .with_context(|| {
                format!("--scenario {s}: the value '{value}' is not a share between 0 and 1")
            })?;
        scenarios.insert(name.trim().to_string(), value);
    }
    Ok(scenarios)
}

/// The built-in indicators, or those `--only` names (comma-separated ids).
fn indicators(only: Option<&str>) -> anyhow::Result<Vec<mobility_indicators::catalog::Indicator>> {
    let mut catalog = mobility_indicators::catalog::built_in();
    if let Some(only) = only {
        let ids: Vec<&str> = only.split(',').map(str::trim).collect();
        if let Some(bad) = ids.iter().find(|id| !catalog.iter().any(|i| i.id == **id)) {
            anyhow::bail!(
                "--only: no indicator '{bad}'; the indicators are {}",
                catalog
                    .iter()
                    .map(|i| i.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        catalog.retain(|i| ids.contains(&i.id.as_str()));
    }
    Ok(catalog)
}

/// What a run did: each indicator's rows and seconds, or why it was skipped, and where it wrote.
fn print_run(manifest: &mobility_indicators::run::Manifest, out_dir: &Path) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for i in &manifest.indicators {
        match (&i.rows, &i.skipped) {
            (Some(rows), _) => {
                writeln!(out, "{:<28} {:>7} rows  {:>7.2} s", i.id, rows, i.seconds)?
            }
            (None, Some(why)) => writeln!(out, "{:<28} skipped: {why}", i.id)?,
            _ => {}
        }
    }
    writeln!(
        out,
        "wrote {0}/indicators/, {0}/report.html and {0}/manifest.json in {1:.2} s",
        out_dir.display(),
        manifest.seconds_total
    )?;
    Ok(())
}

/// A local copy of a data directory in a bucket, to ingest into: the folder (removed when
/// dropped) and the runtime that copied it, for the upload.
fn remote_copy(
    r: &mobility_sql::remote::Remote,
) -> anyhow::Result<(tempfile::TempDir, tokio::runtime::Runtime)> {
    let tmp = tempfile::Builder::new()
        .prefix("mobility-s3-")
        .tempdir()
        .context("creating a local copy of the data directory")?;
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(r.download(tmp.path()))
        .map_err(|e| anyhow::anyhow!("copying {}: {}", r.url, e.strip_backtrace()))?;
    Ok((tmp, rt))
}

impl Ingest {
    fn common(&self) -> &Common {
        match self {
            Ingest::Traffic { common, .. }
            | Ingest::Zones { common, .. }
            | Ingest::Survey { common, .. }
            | Ingest::Gtfs { common, .. }
            | Ingest::Factors { common, .. }
            | Ingest::Links { common, .. }
            | Ingest::ReplicateWeights { common, .. } => common,
        }
    }
}

fn print_summary(s: &Summary, seconds: f64) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<60} {:<16} {:<11} {:>9} {:>9} {:>9}",
        "file", "table", "encoding", "read", "written", "rejected"
    )?;
    for f in &s.files {
        let name = if f.file.chars().count() > 60 {
            format!(
                "…{}",
                f.file
                    .chars()
                    .rev()
                    .take(59)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<String>()
            )
        } else {
            f.file.clone()
        };
        writeln!(
            out,
            "{:<60} {:<16} {:<11} {:>9} {:>9} {:>9}",
            name,
            f.table.name(),
            f.encoding,
            f.rows_read,
            f.rows_written,
            f.rows_rejected
        )?;
    }
    for (t, n) in &s.tables {
        writeln!(out, "table {t}: {n} rows")?;
    }
    let rejected: u64 = s.files.iter().map(|f| f.rows_rejected).sum();
    if rejected > 0 {
        writeln!(
            out,
            "{rejected} rejected row(s): see _rejects/ in the data directory"
        )?;
    }
    for n in &s.notes {
        writeln!(out, "note: {n}")?;
    }
    writeln!(out, "done in {seconds:.2} s")?;
    Ok(())
}

/// `mobility synth`: a synthetic Bærum written in the real file formats and ingested into the
/// data directory (or only written, with --raw-only).
fn synth(a: SynthArgs, quiet: bool) -> anyhow::Result<()> {
    let cfg = synth_config(&a)?;
    let raw = if a.keep_raw || a.raw_only {
        a.out.join("raw")
    } else {
        a.out.join(format!(".synth-raw-{}", std::process::id()))
    };
    let t0 = Instant::now();
    let g = generate(&cfg, &raw, quiet)?;
    let t_gen = t0.elapsed().as_secs_f64();
    if a.raw_only {
        if !quiet {
            println!(
                "generated {} persons, {} trips, {} hourly traffic rows in {:.2} s into {}",
                g.persons,
                g.trips,
                g.traffic_rows,
                t_gen,
                raw.display()
            );
        }
        return Ok(());
    }
    let opts = Options {
        progress: file_progress(quiet),
        // The settings' limit (75 % of memory unless set): past a third of it, traffic rows spill.
        memory_limit: Some(memory_limit(&config::Settings::resolve(None, &[])?)),
        ..Options::default()
    };
    let result = ingest_synthetic(&DataDir::new(&a.out), &g, &opts);
    if !a.keep_raw {
        let _ = std::fs::remove_dir_all(&raw);
    }
    let summaries = result?;
    if !quiet {
        print_synth(&g, &summaries, t_gen, &a.out, t0)?;
    }
    Ok(())
}

/// The generator's configuration from the flags of `synth`.
fn synth_config(a: &SynthArgs) -> anyhow::Result<mobility_synth::Config> {
    let (first, last) = a
        .traffic_years
        .split_once('-')
        .and_then(|(f, l)| Some((f.trim().parse::<i32>().ok()?, l.trim().parse::<i32>().ok()?)))
        .filter(|(f, l)| f <= l && *f >= 2000 && *l <= 2100)
        .with_context(|| {
            format!(
                "--traffic-years '{}': expected FIRST-LAST such as 2022-2024",
                a.traffic_years
            )
        })?;
    Ok(mobility_synth::Config {
        persons: a.persons,
        seed: a.seed,
        traffic_points: a.traffic_points as usize,
        traffic_years: (first..=last).collect(),
    })
}

/// The raw files of `cfg` written into `raw`, with a spinner on a terminal unless quiet.
fn generate(
    cfg: &mobility_synth::Config,
    raw: &Path,
    quiet: bool,
) -> anyhow::Result<mobility_synth::Generated> {
    let spinner = {
        use std::io::IsTerminal;
        (!quiet && std::io::stderr().is_terminal()).then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_message(format!(
                "generating {} persons and {} counting points in the real file formats",
                cfg.persons, cfg.traffic_points
            ));
            b.enable_steady_tick(std::time::Duration::from_millis(120));
            b
        })
    };
    let g = mobility_synth::write_raw(cfg, raw)?;
    if let Some(b) = spinner {
        b.finish_and_clear();
    }
    Ok(g)
}

/// The generated raw files ingested into `dir` as `mobility ingest` would: the zones, the
/// survey (canonical mapping), the traffic exports and the factors.
fn ingest_synthetic(
    dir: &DataDir,
    g: &mobility_synth::Generated,
    opts: &Options,
) -> anyhow::Result<Vec<Summary>> {
    let mut s = Vec::new();
    for (path, kind) in &g.zones {
        let z = mobility_ingest::zones::ZoneOptions {
            id_field: "zone_id".into(),
            name_field: Some("name".into()),
            kind: kind.clone(),
            crs: None,
            repair: false,
        };
        s.push(mobility_ingest::ingest_zones(
            dir,
            std::slice::from_ref(path),
            &z,
            opts,
        )?);
    }
    let m = mobility_ingest::survey::Mapping::load("canonical")?;
    s.push(mobility_ingest::ingest_survey(
        dir,
        &m,
        std::slice::from_ref(&g.survey),
        opts,
    )?);
    if !g.traffic.is_empty() {
        s.push(mobility_ingest::ingest_traffic(dir, &g.traffic, opts)?);
    }
    s.push(mobility_ingest::ingest_factors(
        dir,
        std::slice::from_ref(&g.factors),
        opts,
    )?);
    Ok(s)
}

/// What `synth` generated and ingested: the counts, any rejected rows, the tables' rows, and
/// the time since `t0`.
fn print_synth(
    g: &mobility_synth::Generated,
    summaries: &[Summary],
    t_gen: f64,
    out_dir: &Path,
    t0: Instant,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "generated {} persons, {} trips, {} hourly traffic rows in {:.2} s",
        g.persons, g.trips, g.traffic_rows, t_gen
    )?;
    for s in summaries {
        for f in &s.files {
            if f.rows_rejected > 0 {
                writeln!(
                    out,
                    "warning: {} rejected {} of {} rows",
                    f.file, f.rows_rejected, f.rows_read
                )?;
            }
        }
    }
    let mut tables = std::collections::BTreeMap::new();
    for s in summaries {
        tables.extend(s.tables.clone());
    }
    for (t, n) in tables {
        writeln!(out, "table {t}: {n} rows")?;
    }
    writeln!(
        out,
        "wrote {} in {:.2} s",
        out_dir.display(),
        t0.elapsed().as_secs_f64()
    )?;
    Ok(())
}
