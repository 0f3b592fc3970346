//! Replicate weights as surveys ship them: one row per person, a column with the person's id
//! and one column per replicate (NHTS: `HOUSEID`, `PERSONID` … `WTPERFIN1`…`WTPERFIN98`),
//! stored long in `replicate_weights` (person_id, replicate 1…R, weight).

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, Int16Builder, Int64Builder, RecordBatch};
use mobility_model::Table;

use crate::csvtext::CsvText;
use crate::parse::{decimal, int};
use crate::rejects::Rejects;
use crate::source::TextFile;
use crate::{Error, Result};

/// One parsed file.
pub struct Parsed {
    /// Its rows, long.
    pub batch: RecordBatch,
    /// The input line of each row.
    pub lines: Vec<u64>,
    /// Data rows (persons) read.
    pub rows_read: u64,
    /// Rows refused.
    pub rejects: Rejects,
    /// Replicates in the file.
    pub replicates: usize,
}

/// Parses a wide file: `id_column` and the replicate columns, all those whose name starts
/// with `prefix` (numbered in the order they stand).
pub fn parse(file: &TextFile, id_column: &str, prefix: &str) -> Result<Parsed> {
    let mut csv = CsvText::new(&file.name, &file.text, None)?;
    let id = csv.column(id_column)?;
    let reps: Vec<(usize, String)> = csv
        .header
        .iter()
        .enumerate()
        .filter(|(_, h)| h.starts_with(prefix) && h.as_str() != id_column)
        .map(|(i, h)| (i, h.clone()))
        .collect();
    if reps.is_empty() {
        return Err(Error::format(
            &file.name,
            1,
            format!("no replicate weight column: expected columns named {prefix}1, {prefix}2, …"),
        ));
    }
    if reps.len() > i16::MAX as usize {
        return Err(Error::format(&file.name, 1, "more than 32767 replicates"));
    }
    let (mut pid, mut rep, mut w) = (
        Int64Builder::new(),
        Int16Builder::new(),
        Float64Builder::new(),
    );
    let mut lines = Vec::new();
    let mut rejects = Rejects::new(&file.name);
    let mut read = 0;
    'rows: for row in csv.rows() {
        let row = row?;
        read += 1;
        let get = |i: usize| row.fields.get(i).unwrap_or("").trim();
        let person = match int(get(id)) {
            Ok(Some(v)) => v,
            _ => {
                rejects.push(
                    row.line,
                    id_column,
                    get(id),
                    "expected a whole-number person id",
                );
                continue;
            }
        };
        let mut values = Vec::with_capacity(reps.len());
        for (i, name) in &reps {
            match decimal(get(*i)) {
                Ok(Some(v)) if v >= 0.0 => values.push(v),
                Ok(Some(_)) => {
                    rejects.push(row.line, name, get(*i), "expected a weight of 0 or more");
                    continue 'rows;
                }
                Ok(None) => {
                    rejects.push(row.line, name, get(*i), "a replicate weight is missing");
                    continue 'rows;
                }
                Err(e) => {
                    rejects.push(row.line, name, get(*i), e);
                    continue 'rows;
                }
            }
        }
        for (r, v) in values.into_iter().enumerate() {
            pid.append_value(person);
            rep.append_value(r as i16 + 1);
            w.append_value(v);
            lines.push(row.line);
        }
    }
    let cols: Vec<ArrayRef> = vec![
        Arc::new(pid.finish()),
        Arc::new(rep.finish()),
        Arc::new(w.finish()),
    ];
    Ok(Parsed {
        batch: RecordBatch::try_new(Table::ReplicateWeights.schema(), cols)?,
        lines,
        rows_read: read,
        rejects,
        replicates: reps.len(),
    })
}
