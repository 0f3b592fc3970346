//! Errors of ingest. A user error names the file, the line where known, the value and what was
//! expected; rows that are merely bad do not become errors but rejects (see [`crate::rejects`]).

use std::path::PathBuf;

/// What can stop an ingest.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The data directory's pointer cannot be read (its message names the file).
    #[error("{0}")]
    Pointer(std::io::Error),
    /// A file is not in the format the reader expects (wrong delimiter, missing column, ...).
    #[error("{file}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Format {
        /// The file (for archive members `archive.zip!member.csv`).
        file: String,
        /// The 1-based line, where known.
        line: Option<u64>,
        /// What is wrong and what was expected.
        message: String,
    },
    /// A mapping file is invalid.
    #[error("mapping {file}: {message}")]
    Mapping {
        /// The mapping's name or path.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// `--strict` was given and rows were rejected.
    #[error("{count} row(s) rejected and --strict is set; nothing was written (first: {first})")]
    Strict {
        /// Rows rejected.
        count: usize,
        /// The first reject, as text.
        first: String,
    },
    /// The data directory holds a table that cannot be read back.
    #[error("{path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
    /// Building a batch failed (a broken invariant of a reader).
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// Another writer holds the data directory's lock and this one was told not to wait.
    #[error(
        "{} is locked by another writer: {holder}; nothing was written (run again when it is done, or leave out --no-wait to wait)",
        path.display()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as its holder wrote it.
        holder: String,
    },
    /// Another writer held the data directory's lock for longer than this one would wait.
    #[error(
        "{} stayed locked by another writer for {} s: {holder}; nothing was written (a longer --wait-timeout waits longer)",
        path.display(),
        waited.as_secs()
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// Who holds it, as its holder wrote it.
        holder: String,
        /// How long this writer waited.
        waited: std::time::Duration,
    },
    /// A geometry could not be encoded or decoded.
    #[error("{context}: {source}")]
    Geo {
        /// Where.
        context: String,
        /// The cause.
        source: mobility_geo::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A format error at a line of a file.
    pub fn format(file: &str, line: impl Into<Option<u64>>, message: impl Into<String>) -> Self {
        Error::Format {
            file: file.to_string(),
            line: line.into(),
            message: message.into(),
        }
    }

    /// An I/O error on a path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
