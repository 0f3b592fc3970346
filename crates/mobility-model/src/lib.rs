//! The SQL-facing data model of mobility.
//!
//! Planners type these table and column names, so they are part of the product: every table of
//! `docs/data-model.md` has its Arrow schema here, and every code list (modes, purposes, scopes)
//! its canonical lower-case spelling. Readers (`mobility-ingest`) build batches against these
//! schemas; the SQL session (`mobility-indicators`) registers files written with them.
//!
//! To add a column: add it to the schema function in [`tables`], document it with its unit in
//! `docs/data-model.md`, and let the reader that fills it set it (or leave it NULL).

pub mod codes;
pub mod columns;
pub mod geoparquet;
pub mod layout;
pub mod margins;
pub mod memory;
pub mod tables;

pub use codes::{Mode, Purpose, Scope};
pub use tables::Table;

/// Errors of the data model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value is not in a code list.
    #[error("'{value}' is not a valid {list}; expected one of: {expected}")]
    NotInCodeList {
        /// Which list (mode, purpose, ...).
        list: &'static str,
        /// The value met.
        value: String,
        /// The accepted values, comma-separated.
        expected: String,
    },
    /// A table name that the model does not know.
    #[error("unknown table '{0}'")]
    UnknownTable(String),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
