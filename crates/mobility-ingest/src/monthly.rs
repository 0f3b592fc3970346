//! A monthly-partitioned table (`traffic_hourly`) as an ingest builds it, in bounded memory.
//!
//! Each input's rows, split by UTC month, are kept in memory until they pass a third of the
//! memory budget (the inputs being parsed and the merges need the rest);
//! then every buffered piece is spilled to an Arrow IPC file in a folder beside the data
//! (removed when the ingest ends, however it ends). At the end each month is merged once: the
//! stored part first, then the inputs in their order, a later input's row replacing an earlier
//! one of the same key, sorted by key. Memory is then about four times a month's rows for each
//! month merged at once (as many as the budget allows, up to one per thread), not the whole
//! ingest's.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{AsArray, RecordBatch, UInt32Array};
use arrow::compute::{concat_batches, interleave_record_batch, take_record_batch};
use arrow::datatypes::TimestampMicrosecondType;
use mobility_model::Table;
use rayon::prelude::*;

use crate::packed;
use crate::store::{self, DataDir, Staging};
use crate::{Error, Result};

/// Rows of one month from one input: in memory, or spilled.
enum Piece {
    Memory(RecordBatch),
    Spilled(PathBuf),
}

/// The folder of spilled pieces, removed on drop.
struct SpillDir(PathBuf);

impl Drop for SpillDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The months an ingest has touched, with their new rows.
pub struct Months {
    table: Table,
    root: PathBuf,
    /// Bytes of rows held in memory before they are spilled (`None`: never spill).
    budget: Option<u64>,
    held: u64,
    pieces: BTreeMap<String, Vec<(Piece, u64)>>,
    spill: Option<SpillDir>,
    spilled: u64,
    /// Spill files written, for their names.
    files: u64,
}

impl Months {
    /// An empty set of months of `table` in data directory `dir`.
    pub fn new(table: Table, dir: &DataDir, budget: Option<u64>) -> Self {
        Self {
            table,
            root: dir.root().to_path_buf(),
            budget,
            held: 0,
            pieces: BTreeMap::new(),
            spill: None,
            spilled: 0,
            files: 0,
        }
    }

    /// Whether no rows were added.
    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Bytes spilled to disk so far.
    pub fn spilled_bytes(&self) -> u64 {
        self.spilled
    }

    /// Adds an input's rows (unique by key within the input), after every earlier input's.
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        for (month, part) in split_by_month(batch)? {
            let bytes = part.get_array_memory_size() as u64;
            self.held += bytes;
            self.pieces
                .entry(month)
                .or_default()
                .push((Piece::Memory(part), bytes));
        }
        if self.budget.is_some_and(|b| self.held > b / 3) {
            self.spill_all()?;
        }
        Ok(())
    }

    /// Writes every piece held in memory to the spill folder.
    fn spill_all(&mut self) -> Result<()> {
        let folder = match &self.spill {
            Some(d) => d.0.clone(),
            None => {
                let d = self.root.join(format!(
                    ".spill-{}-{}",
                    self.table.name(),
                    std::process::id()
                ));
                std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
                self.spill = Some(SpillDir(d.clone()));
                d
            }
        };
        for (month, list) in &mut self.pieces {
            for (piece, _) in list.iter_mut() {
                if let Piece::Memory(batch) = piece {
                    self.files += 1;
                    let path = folder.join(format!("{month}-{:08}.arrow", self.files));
                    write_ipc(&path, batch)?;
                    self.spilled += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                    *piece = Piece::Spilled(path);
                }
            }
        }
        self.held = 0;
        Ok(())
    }

    /// Merges each month with its stored part and stages it. Returns the months written.
    pub fn finish(mut self, dir: &DataDir, staging: &mut Staging<'_>) -> Result<usize> {
        if self.pieces.is_empty() {
            return Ok(0);
        }
        let table = self.table;
        // A month's size: its new rows and the stored month they are merged with.
        let mut sizes = Vec::with_capacity(self.pieces.len());
        for (m, l) in &self.pieces {
            let new: u64 = l.iter().map(|(_, b)| b).sum();
            sizes.push((m.clone(), new + dir.part_bytes(table, m)?));
        }
        let (biggest, largest) = sizes
            .into_iter()
            .max_by_key(|(_, b)| *b)
            .unwrap_or_default();
        // Merging a month holds its pieces, the sort keys and the sorted copy (with keys that
        // do not pack, also the pieces' concatenation): at most about MERGE times its rows
        // (measured before keys were packed: 1,000 points, 370 MB a month).
        const MERGE: u64 = 4;
        let width = match self.budget {
            Some(b) if largest.saturating_mul(MERGE) > b => {
                return Err(Error::format(
                    table.name(),
                    None,
                    format!(
                        "month {biggest} of {} holds about {:.1} MiB of rows (new and stored), \
                         and merging it needs about {MERGE} times that, more than the memory limit of {} \
                         MiB allows; raise --memory-limit or ingest fewer points at a time",
                        table.name(),
                        largest as f64 / f64::from(1 << 20),
                        b >> 20
                    ),
                ));
            }
            Some(b) => {
                // What is still in memory goes to disk first unless it fits beside the merges.
                let width = (b / largest.saturating_mul(MERGE).max(1)) as usize;
                let width = width.clamp(1, rayon::current_num_threads().max(1));
                if self.held + largest * MERGE * width as u64 > b {
                    self.spill_all()?;
                }
                width
            }
            None => rayon::current_num_threads().max(1),
        };
        let folder = staging.generation(table)?;
        let mut months = std::mem::take(&mut self.pieces).into_iter();
        let mut written = 0;
        loop {
            // Owned, so that a month's pieces are freed once it is written.
            let chunk: Vec<(String, Vec<(Piece, u64)>)> = months.by_ref().take(width).collect();
            if chunk.is_empty() {
                break;
            }
            written += chunk.len();
            chunk
                .into_par_iter()
                .map(|(month, list)| {
                    let mut batches = dir.read_part(table, &month)?;
                    for (piece, _) in list {
                        match piece {
                            Piece::Memory(b) => batches.push(b),
                            Piece::Spilled(p) => batches.extend(read_ipc(&p)?),
                        }
                    }
                    let merged = merge_later_wins(table, &batches)?;
                    drop(batches);
                    store::write_part(&folder, table, &month, &merged)
                })
                .collect::<Result<Vec<()>>>()?;
            mobility_model::memory::release_free_memory();
        }
        Ok(written)
    }
}

/// The rows of `batches` (in input order, each unique by key) with, for each key, the row of
/// the last batch that has it, sorted by key. The keys are packed into integers where they fit
/// ([`packed`]) and sorted with their batch and row, so that a key's rows are adjacent in input
/// order and the last of each run is kept; the kept rows are gathered from the batches in one
/// copy. Other keys go through [`merge_by_rows`].
pub fn merge_later_wins(table: Table, batches: &[RecordBatch]) -> Result<RecordBatch> {
    let schema = table.schema();
    let aligned = batches
        .iter()
        .map(|b| store::align(b, &schema))
        .collect::<Result<Vec<_>>>()?;
    if aligned.is_empty() {
        return Ok(RecordBatch::new_empty(schema));
    }
    let refs: Vec<&RecordBatch> = aligned.iter().collect();
    let Some(keys) = packed::keys(table, &refs) else {
        return merge_by_rows(table, &aligned);
    };
    // (key, batch << 32 | row): sorting the pairs orders equal keys by input position, as a
    // stable sort by key would.
    let mut order: Vec<(u128, u64)> = Vec::with_capacity(keys.iter().map(Vec::len).sum());
    for (b, keys) in keys.iter().enumerate() {
        let b = (b as u64) << 32;
        order.extend(keys.iter().enumerate().map(|(r, &k)| (k, b | r as u64)));
    }
    drop(keys);
    order.par_sort_unstable();
    let mut keep: Vec<(usize, usize)> = Vec::with_capacity(order.len());
    for (w, &(key, at)) in order.iter().enumerate() {
        if order.get(w + 1).is_none_or(|next| next.0 != key) {
            keep.push(((at >> 32) as usize, (at & u64::from(u32::MAX)) as usize));
        }
    }
    drop(order);
    Ok(interleave_record_batch(&refs, &keep)?)
}

/// [`merge_later_wins`] by Arrow's row format, for any key: one stable sort of the row indices
/// by the key's bytes.
pub fn merge_by_rows(table: Table, aligned: &[RecordBatch]) -> Result<RecordBatch> {
    let all = concat_batches(&table.schema(), aligned)?;
    let (_, rows) = store::key_rows(table, &all)?;
    let mut idx: Vec<u32> = (0..all.num_rows() as u32).collect();
    idx.par_sort_by(|&a, &b| rows.row(a as usize).cmp(&rows.row(b as usize)));
    let mut keep: Vec<u32> = Vec::with_capacity(idx.len());
    for w in 0..idx.len() {
        let last_of_run =
            w + 1 == idx.len() || rows.row(idx[w] as usize) != rows.row(idx[w + 1] as usize);
        if last_of_run {
            keep.push(idx[w]);
        }
    }
    Ok(take_record_batch(&all, &UInt32Array::from(keep))?)
}

/// Splits rows by the UTC month (`YYYY-MM`) of `hour_start`, the unit of the table's files.
pub fn split_by_month(batch: &RecordBatch) -> Result<Vec<(String, RecordBatch)>> {
    let hours = batch
        .column_by_name("hour_start")
        .expect("schema")
        .as_primitive::<TimestampMicrosecondType>();
    let mut groups: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
    let mut last: Option<(i64, i64)> = None;
    for (i, v) in hours.values().iter().enumerate() {
        let day = v.div_euclid(86_400_000_000);
        // Rows come in hours: the month of the day before is usually this one's.
        let month = match last {
            Some((d, m)) if d == day => m,
            _ => {
                let (y, m, _) = civil_from_days(day);
                y * 12 + (m - 1)
            }
        };
        last = Some((day, month));
        groups.entry(month).or_default().push(i as u32);
    }
    if groups.len() == 1 {
        let (m, _) = groups.pop_first().expect("one group");
        return Ok(vec![(month_name(m), batch.clone())]);
    }
    groups
        .into_iter()
        .map(|(m, idx)| {
            Ok((
                month_name(m),
                take_record_batch(batch, &UInt32Array::from(idx))?,
            ))
        })
        .collect()
}

fn month_name(m: i64) -> String {
    format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1)
}

/// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn write_ipc(path: &Path, batch: &RecordBatch) -> Result<()> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut w =
        arrow_ipc::writer::FileWriter::try_new(std::io::BufWriter::new(file), &batch.schema())?;
    w.write(batch)?;
    w.finish()?;
    Ok(())
}

fn read_ipc(path: &Path) -> Result<Vec<RecordBatch>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let r = arrow_ipc::reader::FileReader::try_new(std::io::BufReader::new(file), None)?;
    Ok(r.collect::<std::result::Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Options, ingest_traffic};
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;

    /// Two exports of 2023: points 0 and 1, then points 1 (every volume + 1) and 2.
    fn exports(dir: &Path) -> Vec<PathBuf> {
        let pts = mobility_synth::traffic::points(3, 1);
        let header = format!("{}\n", mobility_synth::traffic::HEADER);
        let a = header.clone()
            + &mobility_synth::traffic::export(&pts[0], 2023, 2023, 1)
            + &mobility_synth::traffic::export(&pts[1], 2023, 2023, 1);
        // Point 1 again with each volume one higher: the later file's rows must win.
        let bumped: String = mobility_synth::traffic::export(&pts[1], 2023, 2023, 1)
            .lines()
            .map(|l| {
                let mut f: Vec<String> = l.split(';').map(str::to_string).collect();
                if let Ok(v) = f[9].parse::<i64>() {
                    f[9] = (v + 1).to_string();
                }
                f.join(";") + "\n"
            })
            .collect();
        let b = header + &bumped + &mobility_synth::traffic::export(&pts[2], 2023, 2023, 1);
        let (pa, pb) = (dir.join("a.csv"), dir.join("b.csv"));
        std::fs::write(&pa, a).unwrap();
        std::fs::write(&pb, b).unwrap();
        vec![pa, pb]
    }

    fn table(dir: &DataDir) -> RecordBatch {
        let t = Table::TrafficHourly;
        concat_batches(&t.schema(), &dir.read_table(t).unwrap()).unwrap()
    }

    #[test]
    fn spilling_gives_the_same_table_and_later_files_win() {
        let tmp = tempfile::tempdir().unwrap();
        let files = exports(tmp.path());
        let free = DataDir::new(tmp.path().join("free"));
        ingest_traffic(&free, &files, &Options::default()).unwrap();
        // A limit that spills after each file but lets one month merge.
        let tight = DataDir::new(tmp.path().join("tight"));
        let opts = Options {
            memory_limit: Some(12 << 20),
            ..Options::default()
        };
        let s = ingest_traffic(&tight, &files, &opts).unwrap();
        assert!(
            s.notes.iter().any(|n| n.contains("spilled")),
            "{:?}",
            s.notes
        );
        let (a, b) = (table(&free), table(&tight));
        assert_eq!(a, b);
        assert_eq!(a.num_rows(), 3 * 8760 * 5);
        assert!(
            std::fs::read_dir(tight.root()).unwrap().all(|e| !e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".spill")),
            "the spill folder is removed"
        );
        // Point 1's volumes are the second file's: one more than the first file's.
        let p1 = mobility_synth::traffic::points(3, 1)[1].trp_id.clone();
        let only_a = DataDir::new(tmp.path().join("only_a"));
        ingest_traffic(&only_a, &files[..1], &Options::default()).unwrap();
        let sum = |t: &RecordBatch| -> i64 {
            let id = t.column_by_name("trp_id").unwrap().as_string::<i32>();
            let v = t
                .column_by_name("volume")
                .unwrap()
                .as_primitive::<Int64Type>();
            (0..t.num_rows())
                .filter(|&i| id.value(i) == p1 && v.is_valid(i))
                .map(|i| v.value(i))
                .sum()
        };
        let valid = {
            let id = a.column_by_name("trp_id").unwrap().as_string::<i32>();
            let v = a
                .column_by_name("volume")
                .unwrap()
                .as_primitive::<Int64Type>();
            (0..a.num_rows())
                .filter(|&i| id.value(i) == p1 && v.is_valid(i))
                .count() as i64
        };
        assert_eq!(sum(&a), sum(&table(&only_a)) + valid);
    }

    #[test]
    fn a_month_beyond_the_limit_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let files = exports(tmp.path());
        let dir = DataDir::new(tmp.path().join("d"));
        let opts = Options {
            memory_limit: Some(1 << 20),
            ..Options::default()
        };
        let e = ingest_traffic(&dir, &files, &opts).unwrap_err().to_string();
        assert!(
            e.contains("memory limit of 1 MiB") && e.contains("month"),
            "{e}"
        );
        assert!(
            dir.read_table(Table::TrafficHourly).unwrap().is_empty(),
            "nothing written"
        );
    }

    #[test]
    fn civil_dates_agree_with_chrono() {
        for day in (-800_000..800_000).step_by(997) {
            let d = chrono::DateTime::from_timestamp(day * 86_400, 0).unwrap();
            use chrono::Datelike;
            let want = (
                i64::from(d.year()),
                i64::from(d.month()),
                i64::from(d.day()),
            );
            assert_eq!(civil_from_days(day), want, "day {day}");
        }
        assert_eq!(month_name(2024 * 12 + 4), "2024-05");
    }
}
