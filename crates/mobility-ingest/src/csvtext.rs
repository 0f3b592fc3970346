//! Header-addressed CSV over decoded text, with 1-based line numbers for rejects.

use crate::{Error, Result};

/// A CSV text with its header.
pub struct CsvText {
    /// The header names (trimmed).
    pub header: Vec<String>,
    reader: csv::Reader<std::io::Cursor<Vec<u8>>>,
    file: String,
}

/// One record with its line.
pub struct Row {
    /// 1-based line where the record starts.
    pub line: u64,
    /// The fields.
    pub fields: csv::StringRecord,
}

impl CsvText {
    /// Opens `text` with `delimiter` (`None` sniffs `;`, `,` or tab from the header line).
    pub fn new(file: &str, text: &str, delimiter: Option<u8>) -> Result<Self> {
        let first = text.lines().next().unwrap_or("");
        if first.trim().is_empty() {
            return Err(Error::format(file, 1, "empty file; expected a header line"));
        }
        let delimiter = delimiter.unwrap_or_else(|| {
            [b';', b'\t', b',']
                .into_iter()
                .max_by_key(|d| first.bytes().filter(|b| b == d).count())
                .expect("three candidates")
        });
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(true)
            .from_reader(std::io::Cursor::new(text.as_bytes().to_vec()));
        let header = reader
            .headers()
            .map_err(|e| Error::format(file, 1, format!("unreadable header: {e}")))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        Ok(Self { header, reader, file: file.to_string() })
    }

    /// The position of a column, or a format error that lists the header.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.find(name).ok_or_else(|| {
            Error::format(
                &self.file,
                1,
                format!("missing column '{name}'; the header has: {}", self.header.join(", ")),
            )
        })
    }

    /// The position of a column, if present.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The records; a record that is not valid CSV (e.g. an unclosed quote) is an error.
    pub fn rows(&mut self) -> impl Iterator<Item = Result<Row>> + '_ {
        let file = self.file.clone();
        self.reader.records().map(move |r| {
            r.map(|fields| Row { line: fields.position().map_or(0, |p| p.line()), fields })
                .map_err(|e| {
                    let line = e.position().map(|p| p.line());
                    Error::format(&file, line, format!("not valid CSV: {e}"))
                })
        })
    }
}
