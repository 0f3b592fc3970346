//! Header-addressed CSV over decoded text, with 1-based line numbers for rejects.

use crate::{Error, Result};

/// A CSV text with its header.
pub struct CsvText {
    /// The header names (trimmed).
    pub header: Vec<String>,
    reader: csv::Reader<std::io::Cursor<std::sync::Arc<[u8]>>>,
    bytes: std::sync::Arc<[u8]>,
    file: String,
    delimiter: char,
    /// Byte offsets of line starts: the csv crate's own line count skips blank lines.
    starts: Vec<u64>,
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
        let bytes: std::sync::Arc<[u8]> = text.as_bytes().into();
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(true)
            .from_reader(std::io::Cursor::new(bytes.clone()));
        let header = reader
            .headers()
            .map_err(|e| Error::format(file, 1, format!("unreadable header: {e}")))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        let starts = std::iter::once(0)
            .chain(
                text.bytes()
                    .enumerate()
                    .filter(|(_, b)| *b == b'\n')
                    .map(|(i, _)| i as u64 + 1),
            )
            .collect();
        Ok(Self {
            header,
            reader,
            bytes,
            file: file.to_string(),
            delimiter: char::from(delimiter),
            starts,
        })
    }

    /// The position of a column, or a format error that lists the header.
    pub fn column(&self, name: &str) -> Result<usize> {
        self.find(name).ok_or_else(|| {
            let hint = match self.header.as_slice() {
                [only] if only.contains([';', ',', '\t']) => {
                    " (one column only: is the delimiter right?)"
                }
                _ => "",
            };
            Error::format(
                &self.file,
                1,
                format!(
                    "missing column '{name}'; the header has: {}{hint}",
                    self.header.join(", ")
                ),
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
        let (starts, bytes) = (&self.starts, &self.bytes);
        // A record's position is where the reader began, before any blank lines it skipped.
        let line = move |byte: u64| {
            let first = bytes[byte as usize..]
                .iter()
                .position(|b| *b != b'\n' && *b != b'\r')
                .unwrap_or(0);
            starts.partition_point(|s| *s <= byte + first as u64) as u64
        };
        let (width, delim) = (self.header.len(), self.delimiter);
        self.reader.records().map(move |r| {
            let fields = r.map_err(|e| {
                let at = e.position().map(|p| line(p.byte()));
                Error::format(&file, at, format!("not valid CSV: {e}"))
            })?;
            let at = fields.position().map_or(0, |p| line(p.byte()));
            // A quoted field may hold a line break. But a record that runs over several lines
            // and then has the wrong number of fields, or whose field holds a line that looks
            // like a record of its own, is an unclosed quote swallowing the lines after it: an
            // error, not rows silently merged.
            let spans = fields
                .iter()
                .map(|f| f.trim_end_matches(['\n', '\r']).matches('\n').count())
                .sum::<usize>();
            let swallowed = width > 1
                && fields.iter().any(|f| {
                    f.split('\n')
                        .skip(1)
                        .any(|l| l.matches(delim).count() + 1 >= width)
                });
            if spans > 0 && (fields.len() != width || swallowed) {
                return Err(Error::format(
                    &file,
                    at,
                    format!(
                        "not valid CSV: a quoted field opened on this line runs over the next {spans} line(s) \
                         ({} fields, the header has {width}); is a closing quote missing?",
                        fields.len()
                    ),
                ));
            }
            Ok(Row { line: at, fields })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_delimiter_and_numbers_lines() {
        let mut c = CsvText::new("f.csv", "a;b\n1;2\n\n3;4\n", None).unwrap();
        assert_eq!(c.column("b").unwrap(), 1);
        let lines: Vec<u64> = c.rows().map(|r| r.unwrap().line).collect();
        assert_eq!(lines, [2, 4]);
    }

    #[test]
    fn a_wrong_fixed_delimiter_is_named() {
        let c = CsvText::new("f.csv", "a;b\n1;2\n", Some(b',')).unwrap();
        let err = c.column("b").unwrap_err().to_string();
        assert_eq!(
            err,
            "f.csv, line 1: missing column 'b'; the header has: a;b (one column only: is the delimiter right?)"
        );
    }

    #[test]
    fn a_quoted_field_over_two_lines_keeps_the_line_where_the_record_starts() {
        let mut c = CsvText::new("f.csv", "a,b\n\"x\ny\",2\n3,4\n", None).unwrap();
        let rows: Vec<Row> = c.rows().map(|r| r.unwrap()).collect();
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 4]);
        assert_eq!(&rows[0].fields[0], "x\ny");
    }

    #[test]
    fn an_unclosed_quote_is_an_error_at_its_line() {
        let mut c =
            CsvText::new("f.csv", "a,b,c\n1,2,3\n4,\"x,6\n7,8,9\n10,11,12\n", None).unwrap();
        let rows: Vec<Result<Row>> = c.rows().collect();
        assert_eq!(rows[0].as_ref().unwrap().line, 2);
        let err = rows[1].as_ref().err().unwrap().to_string();
        assert!(
            err.starts_with("f.csv, line 3: not valid CSV: a quoted field opened on this line runs over the next 2 line(s) (2 fields, the header has 3)"),
            "{err}"
        );
        // A quote closed on a later line, leaving the right number of fields: the lines it
        // swallowed are records of their own.
        let mut c = CsvText::new("f.csv", "a,b,c\n1,2,\"x\n4,5,6\n7,8,\"y\"\n", None).unwrap();
        let err = c.rows().next().unwrap().err().unwrap().to_string();
        assert!(
            err.starts_with("f.csv, line 2: not valid CSV: a quoted field"),
            "{err}"
        );
        // A genuine line break in a quoted text is no error.
        let mut c = CsvText::new("f.csv", "a,b,c\n1,2,\"two\nlines\"\n", None).unwrap();
        assert_eq!(&c.rows().next().unwrap().unwrap().fields[2], "two\nlines");
    }
}
