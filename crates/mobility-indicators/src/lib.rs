//! The indicator catalog and the batch run, over the session of `mobility-sql` (tables,
//! views, functions).
//!
//! - [`catalog`]: the indicators, each a `queries/<id>.sql` with a header of `-- key: value`
//!   lines (title, estimator, unit, needs). Survey indicators return what each person
//!   contributes; [`survey`] adds the design and estimates every cell with SE, CI, n, n_eff
//!   and the suppression flag. Queries without an estimator are written as they come.
//! - [`traffic`]: the traffic index (yearly, chained, rolling) and `nullvekst` from the
//!   counting points.
//! - `report.html` is rendered by `mobility-report` from the run's tables; the run writes what
//!   the report draws beyond the indicators ([`catalog::TABLES`]: traffic profiles, counting
//!   points, emission factors) and the zones (`geo/zones.*`).
//! - [`geo_out`]: zone- and point-level indicators as GeoParquet and GeoJSON.
//! - [`targets`]: each target of the municipality beside its measured value.
//! - [`run`]: runs the catalog into `<out>/indicators/<id>.parquet` and `.csv` and writes
//!   `<out>/manifest.json`; outputs are staged and put in place only when all succeeded.
//!
//! To add an indicator: write `queries/<id>.sql` with its header and list it in
//! [`catalog::BUILT_IN`].

mod batches;
pub mod catalog;
pub mod geo_out;
pub mod manifest;
pub mod matrix;
pub mod run;
pub mod survey;
pub mod targets;
pub mod traffic;

/// Errors of the batch run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A query failed to plan or execute.
    #[error("{context}: {source}")]
    DataFusion {
        /// Which query or table.
        context: String,
        /// The cause.
        source: datafusion::error::DataFusionError,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A query's output is not what its kind needs.
    #[error("indicator {id}: {message}")]
    Shape {
        /// The indicator.
        id: String,
        /// What is wrong.
        message: String,
    },
    /// The targets file is not valid.
    #[error("targets: {0}")]
    Targets(String),
    /// Writing Parquet failed.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Rendering report.html failed.
    #[error(transparent)]
    Report(#[from] mobility_report::Error),
    /// Building or writing a batch failed.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io(path: impl Into<std::path::PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}

/// What a blocking task of `id` gave; a panic in it goes on as a panic, and a task that did
/// not finish (`what` did not) is an error.
pub(crate) async fn joined<T>(
    task: tokio::task::JoinHandle<Result<T>>,
    id: &str,
    what: &str,
) -> Result<T> {
    match task.await {
        Ok(done) => done,
        Err(j) if j.is_panic() => std::panic::resume_unwind(j.into_panic()),
        Err(j) => Err(Error::Shape {
            id: id.to_string(),
            message: format!("{what} did not finish: {j}"),
        }),
    }
}
