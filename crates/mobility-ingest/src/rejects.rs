//! Rejected rows: every row a reader refuses is kept with the file, line, column, value and the
//! reason, in `<data-dir>/_rejects/<kind>-<file>.csv`, so nothing is lost silently.

use std::fmt;

/// A row a reader refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Reject {
    /// The input file (for archive members `archive.zip!member.csv`).
    pub file: String,
    /// The 1-based line of the row in the file (the header is line 1).
    pub line: u64,
    /// The column that made the row fail.
    pub column: String,
    /// The value met there.
    pub value: String,
    /// What was expected.
    pub reason: String,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, line {}, column '{}': value '{}': {}",
            self.file, self.line, self.column, self.value, self.reason
        )
    }
}

/// The rejects as CSV text with a header (UTF-8).
pub fn to_csv(rejects: &[Reject]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["file", "line", "column", "value", "reason"])
        .expect("writing to memory cannot fail");
    for r in rejects {
        w.write_record([&r.file, &r.line.to_string(), &r.column, &r.value, &r.reason])
            .expect("writing to memory cannot fail");
    }
    String::from_utf8(w.into_inner().expect("memory writer")).expect("csv of UTF-8 is UTF-8")
}

/// Collects the rejects of one input file while it is parsed.
#[derive(Debug, Default)]
pub struct Rejects {
    file: String,
    /// The rejects so far.
    pub rows: Vec<Reject>,
    /// Rows kept but changed (e.g. a repaired geometry): listed beside the rejects, so the
    /// change is on record, and counted as written.
    pub notes: Vec<Reject>,
}

impl Rejects {
    /// Rejects of `file`.
    pub fn new(file: &str) -> Self {
        Self {
            file: file.to_string(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Records a row kept with a change, and the change.
    pub fn note(&mut self, line: u64, column: &str, value: &str, change: impl Into<String>) {
        self.notes.push(Reject {
            file: self.file.clone(),
            line,
            column: column.to_string(),
            value: value.to_string(),
            reason: change.into(),
        });
    }

    /// Records a refused row.
    pub fn push(&mut self, line: u64, column: &str, value: &str, reason: impl Into<String>) {
        self.rows.push(Reject {
            file: self.file.clone(),
            line,
            column: column.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        });
    }
}
