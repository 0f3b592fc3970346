//! The indicator catalog and the batch run, over the session of `mobility-sql` (tables,
//! views, functions).
//!
//! - [`catalog`]: the indicators, each a `queries/<id>.sql` with a header of `-- key: value`
//!   lines (title, kind, unit, needs). `kind: ratio` queries return per-stratum sums that
//!   [`ratio`] turns into estimates with standard errors; `kind: table` queries are written
//!   as they come.
//! - [`run`]: runs the catalog into `<out>/indicators/<id>.parquet` and `.csv` and writes
//!   `<out>/manifest.json`; outputs are staged and put in place only when all succeeded.
//!
//! To add an indicator: write `queries/<id>.sql` with its header and list it in
//! [`catalog::BUILT_IN`].

pub mod catalog;
pub mod ratio;
pub mod run;

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
    /// Writing Parquet failed.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
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
