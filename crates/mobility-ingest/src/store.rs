//! The data directory: one folder per table of files in (Geo)Parquet, committed atomically.
//!
//! Layout (see [`mobility_model::layout`]): `<data-dir>/<table>/g<commit>/<part>.parquet`, one
//! pointer `<data-dir>/_current` naming each table's committed generation, and
//! `<data-dir>/_rejects/<kind>-<file>.csv`. One writer at a time holds `<data-dir>/_lock`
//! ([`DataDir::lock`]). A write goes into fresh generation folders ([`Staging`]), the parts it
//! does not change hard-linked from the committed generation, and becomes visible only when
//! [`Staging::commit`] replaces the pointer by one rename: every table of the commit at once, or
//! none. Rows are merged by the table's key ([`Table::key`]): re-ingesting the same input replaces
//! its rows instead of adding them again.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, BinaryArray, BooleanArray, RecordBatch, UInt32Array};
use arrow::compute::{
    SortColumn, concat_batches, filter_record_batch, lexsort_to_indices, take_record_batch,
};
use arrow::row::{OwnedRow, RowConverter, SortField};
use mobility_model::Table;
use mobility_model::layout::{self, Snapshot};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use crate::packed;
use crate::rejects::{Reject, to_csv};
use crate::{Error, Result};

/// A data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The data directory at `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What is committed now (one read of the pointer).
    pub fn snapshot(&self) -> Result<Snapshot> {
        Snapshot::read(&self.root).map_err(Error::Pointer)
    }

    /// The folder of a table's committed files.
    pub fn table_dir(&self, table: Table) -> Result<PathBuf> {
        Ok(self.snapshot()?.table_dir(&self.root, table))
    }

    /// The committed Parquet files of a table, sorted.
    pub fn parts(&self, table: Table) -> Result<Vec<PathBuf>> {
        let dir = self.table_dir(table)?;
        layout::parquet_files(&dir).map_err(|e| Error::io(&dir, e))
    }

    /// Reads every row of a table (empty when the table does not exist yet).
    pub fn read_table(&self, table: Table) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        for p in self.parts(table)? {
            out.extend(conform(table, read_parquet(&p)?)?);
        }
        Ok(out)
    }

    /// Reads one part of a table, if it exists.
    pub fn read_part(&self, table: Table, part: &str) -> Result<Vec<RecordBatch>> {
        let p = self.table_dir(table)?.join(format!("{part}.parquet"));
        if p.exists() {
            conform(table, read_parquet(&p)?)
        } else {
            Ok(Vec::new())
        }
    }

    /// Merges `new` into part `part` of a table as this run has it so far: `acc` when an
    /// earlier input of the run touched the part, else the stored part. Later inputs win.
    pub fn merge_into_part(
        &self,
        table: Table,
        part: &str,
        acc: Option<RecordBatch>,
        new: &RecordBatch,
    ) -> Result<RecordBatch> {
        let base = match acc {
            Some(b) => vec![b],
            None => self.read_part(table, part)?,
        };
        merge(table, &base, new)
    }

    /// Bytes of a stored part's rows uncompressed, from its Parquet footer (0 when the part
    /// does not exist).
    pub fn part_bytes(&self, table: Table, part: &str) -> Result<u64> {
        let p = self.table_dir(table)?.join(format!("{part}.parquet"));
        if !p.exists() {
            return Ok(0);
        }
        let file = File::open(&p).map_err(|e| Error::io(&p, e))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| Error::Parquet {
                path: p.clone(),
                source,
            })?;
        Ok(builder
            .metadata()
            .row_groups()
            .iter()
            .map(|rg| rg.total_byte_size().max(0) as u64)
            .sum())
    }

    /// Rows of a table, from the Parquet footers only.
    pub fn row_count(&self, table: Table) -> Result<u64> {
        let mut n = 0;
        for p in self.parts(table)? {
            let file = File::open(&p).map_err(|e| Error::io(&p, e))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|source| {
                Error::Parquet {
                    path: p.clone(),
                    source,
                }
            })?;
            n += builder.metadata().file_metadata().num_rows() as u64;
        }
        Ok(n)
    }

    /// Takes the directory's writer lock (an OS lock on `<data-dir>/_lock`, released when the
    /// returned guard drops or the process dies), waiting for another writer as `opts` says.
    pub fn lock(&self, opts: &LockOptions) -> Result<WriteLock> {
        std::fs::create_dir_all(&self.root).map_err(|e| Error::io(&self.root, e))?;
        let path = self.root.join(layout::LOCK);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let start = Instant::now();
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = std::fs::read_to_string(&path)
                        .ok()
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "another process".to_string());
                    let Some(wait) = opts.wait else {
                        return Err(Error::Locked { path, holder });
                    };
                    if start.elapsed() >= wait {
                        return Err(Error::LockTimeout {
                            path,
                            holder,
                            waited: wait,
                        });
                    }
                    if !told {
                        told = true;
                        if let Some(f) = &opts.on_wait {
                            f(&format!(
                                "{} is being written by {holder}; waiting up to {} s for it",
                                self.root.display(),
                                wait.as_secs()
                            ));
                        }
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
            }
        }
        // Who holds it, for the message of the next writer. The lock, not this text, is what
        // excludes; a crash leaves stale text that the next holder overwrites.
        let holder = format!(
            "{} (pid {}, since {})",
            opts.holder,
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ")
        );
        file.set_len(0)
            .and_then(|()| file.write_all(holder.as_bytes()))
            .map_err(|e| Error::io(&path, e))?;
        Ok(WriteLock {
            _file: file,
            root: self.root.clone(),
        })
    }
}

/// Told what a writer waits for (the holder of the lock).
pub type WaitHook = Arc<dyn Fn(&str) + Send + Sync>;

/// How a writer takes a data directory's lock.
#[derive(Clone)]
pub struct LockOptions {
    /// How long to wait while another writer holds it; `None` fails at once.
    pub wait: Option<Duration>,
    /// Told once, when another writer holds the lock and this one starts waiting.
    pub on_wait: Option<WaitHook>,
    /// Who this writer is, shown to the writers that wait for it (e.g. the command line).
    pub holder: String,
}

impl Default for LockOptions {
    fn default() -> Self {
        Self {
            wait: Some(Duration::from_secs(600)),
            on_wait: None,
            holder: "mobility".to_string(),
        }
    }
}

impl std::fmt::Debug for LockOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockOptions")
            .field("wait", &self.wait)
            .field("holder", &self.holder)
            .finish()
    }
}

/// The writer lock of a data directory, held while this lives.
#[derive(Debug)]
pub struct WriteLock {
    _file: File,
    /// The data directory it locks.
    root: PathBuf,
}

fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|source| Error::Parquet {
            path: path.into(),
            source,
        })?;
    reader
        .map(|b| b.map_err(Error::from))
        .collect::<Result<Vec<_>>>()
}

/// Batches of a file written before columns were added to its table (`Table::added_later`)
/// with those columns NULL, so they merge with batches of the current schema.
fn conform(table: Table, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    let added = table.added_later();
    batches
        .into_iter()
        .map(|b| {
            let schema = b.schema();
            if added.iter().all(|c| schema.field_with_name(c).is_ok()) {
                return Ok(b);
            }
            let model = table.schema();
            let mut fields = schema.fields().to_vec();
            let mut cols = b.columns().to_vec();
            for c in added.iter().filter(|c| schema.field_with_name(c).is_err()) {
                let f = model
                    .field_with_name(c)
                    .expect("added columns are in the model");
                fields.push(std::sync::Arc::new(f.clone()));
                cols.push(arrow::array::new_null_array(f.data_type(), b.num_rows()));
            }
            Ok(RecordBatch::try_new(
                std::sync::Arc::new(arrow::datatypes::Schema::new(fields)),
                cols,
            )?)
        })
        .collect()
}

/// One commit in the making: new generations of the tables it writes, and rejects files.
/// Dropping it without [`Staging::commit`] removes what it wrote; the committed data is
/// never touched before the pointer is replaced.
#[derive(Debug)]
pub struct Staging<'a> {
    dir: &'a DataDir,
    base: Snapshot,
    commit: u64,
    /// Tables given a new generation folder in this commit.
    tables: Vec<Table>,
    rejects: Vec<(PathBuf, PathBuf)>,
    removals: Vec<PathBuf>,
}

impl<'a> Staging<'a> {
    /// Starts a commit on `dir`, whose lock the caller holds (one commit per lock at a time).
    pub fn new(dir: &'a DataDir, lock: &WriteLock) -> Result<Self> {
        assert_eq!(
            lock.root,
            dir.root(),
            "a commit needs the lock of its own data directory"
        );
        let base = dir.snapshot()?;
        // A directory's first commit writes an empty pointer before any generation folder, so
        // that a generation folder without a pointer always means a lost pointer, never an
        // interrupted first commit (see `Snapshot::read`).
        let pointer = dir.root().join(layout::POINTER);
        if !pointer.exists() {
            write_pointer(dir.root(), &base)?;
        }
        Ok(Self {
            dir,
            commit: base.commit + 1,
            base,
            tables: Vec::new(),
            rejects: Vec::new(),
            removals: Vec::new(),
        })
    }

    /// The new generation folder of `table`, made on first use with the committed parts
    /// hard-linked into it (copied where the file system has no hard links); parts are written
    /// into it by [`write_part`], from several threads if need be.
    pub(crate) fn generation(&mut self, table: Table) -> Result<PathBuf> {
        let root = self.dir.root();
        let gen_dir = root
            .join(table.name())
            .join(layout::generation_dir(self.commit));
        if self.tables.contains(&table) {
            return Ok(gen_dir);
        }
        // A folder of this number can only be left by an interrupted commit: never committed.
        if gen_dir.exists() {
            std::fs::remove_dir_all(&gen_dir).map_err(|e| Error::io(&gen_dir, e))?;
        }
        std::fs::create_dir_all(&gen_dir).map_err(|e| Error::io(&gen_dir, e))?;
        self.tables.push(table);
        let committed = self.base.table_dir(root, table);
        for part in layout::parquet_files(&committed).map_err(|e| Error::io(&committed, e))? {
            let target = gen_dir.join(part.file_name().expect("parts have names"));
            if std::fs::hard_link(&part, &target).is_err() {
                std::fs::copy(&part, &target).map_err(|e| Error::io(&target, e))?;
            }
        }
        Ok(gen_dir)
    }

    /// Writes `batch` as part `part` of the table's new generation (GeoParquet 1.1 for geo
    /// tables), replacing the part of that name.
    pub fn table(&mut self, table: Table, part: &str, batch: &RecordBatch) -> Result<()> {
        let gen_dir = self.generation(table)?;
        write_part(&gen_dir, table, part, batch)
    }

    /// Writes the rejects of one input, or stages the removal of an old rejects file when there
    /// are none now.
    pub fn rejects(&mut self, kind: &str, file: &str, rejects: &[Reject]) -> Result<()> {
        let safe: String = Path::new(file.rsplit('!').next().unwrap_or(file))
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.to_string())
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '.' || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let ext = if safe.to_ascii_lowercase().ends_with(".csv") {
            ""
        } else {
            ".csv"
        };
        let target = self
            .dir
            .root()
            .join("_rejects")
            .join(format!("{kind}-{safe}{ext}"));
        if rejects.is_empty() {
            self.removals.push(target);
            return Ok(());
        }
        let tmp = temp_beside(&target)?;
        std::fs::write(&tmp, to_csv(rejects)).map_err(|e| Error::io(&tmp, e))?;
        self.rejects.push((tmp, target));
        Ok(())
    }

    /// Makes the new generations the committed ones by replacing the pointer (one rename),
    /// then puts the rejects files in place and removes what no reader needs (see
    /// `collect_garbage`: superseded generations only while no reader is open).
    pub fn commit(mut self) -> Result<()> {
        let root = self.dir.root().to_path_buf();
        let mut next = self.base.clone();
        next.commit = self.commit;
        for t in &self.tables {
            next.set_generation(*t, self.commit);
            // The new folders' entries durable before the pointer names them.
            let table_dir = root.join(t.name());
            for d in [
                table_dir.join(layout::generation_dir(self.commit)),
                table_dir,
            ] {
                File::open(&d)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| Error::io(&d, e))?;
            }
        }
        write_pointer(&root, &next)?;
        // The pointer is in place: from here on, this commit stands.
        // Committed: nothing for Drop to remove.
        self.tables.clear();
        let mut late = None;
        for (tmp, target) in std::mem::take(&mut self.rejects) {
            if let Err(e) = std::fs::rename(&tmp, &target) {
                let _ = std::fs::remove_file(&tmp);
                late.get_or_insert((target, e));
            }
        }
        for p in std::mem::take(&mut self.removals) {
            if let Err(e) = std::fs::remove_file(&p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                late.get_or_insert((p, e));
            }
        }
        collect_garbage(&root, &next);
        match late {
            None => Ok(()),
            Some((path, e)) => Err(Error::io(
                path,
                std::io::Error::new(
                    e.kind(),
                    format!(
                        "the data was committed, but this rejects file could not be updated: {e}"
                    ),
                ),
            )),
        }
    }
}

impl Drop for Staging<'_> {
    fn drop(&mut self) {
        for t in &self.tables {
            let table_dir = self.dir.root().join(t.name());
            let _ = std::fs::remove_dir_all(table_dir.join(layout::generation_dir(self.commit)));
            // The table's folder too, if this commit made it (removing a full folder fails).
            let _ = std::fs::remove_dir(&table_dir);
        }
        for (tmp, _) in &self.rejects {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// Removes what no reader needs, best effort (what stays is removed by a later commit and is
/// never read meanwhile): temporary files of interrupted writers, generation folders of
/// commits that never happened (numbered above `now`), and, only while no reader holds the
/// readers' lease (`_readers`, shared-locked by every open session), the generations `now`
/// no longer names and the files of the layout before generations of tables that have one.
fn collect_garbage(root: &Path, now: &Snapshot) {
    let lease = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(root.join(layout::READERS));
    // Held until the end of this function: a reader opening meanwhile waits, then reads `now`.
    let no_readers = lease.as_ref().is_ok_and(|f| f.try_lock().is_ok());
    for &t in Table::ALL {
        let current = now.generation(t);
        let Ok(entries) = std::fs::read_dir(root.join(t.name())) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let superseded = match layout::parse_generation_dir(&name) {
                Some(g) if Some(g) == current => continue,
                Some(g) if g > now.commit => {
                    let _ = std::fs::remove_dir_all(&p);
                    continue;
                }
                Some(_) => true,
                None if name.ends_with(".tmp") => {
                    let _ = std::fs::remove_file(&p);
                    continue;
                }
                None => current.is_some() && p.is_file() && name.ends_with(".parquet"),
            };
            if superseded && no_readers {
                let _ = if p.is_dir() {
                    std::fs::remove_dir_all(&p)
                } else {
                    std::fs::remove_file(&p)
                };
            }
        }
    }
    for dir in [root.to_path_buf(), root.join("_rejects")] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') && name.ends_with(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
    drop(lease);
}

/// Replaces `<root>/_current` by `snapshot` with one rename, the text fsynced first and the
/// folder after.
fn write_pointer(root: &Path, snapshot: &Snapshot) -> Result<()> {
    let pointer = root.join(layout::POINTER);
    let tmp = temp_beside(&pointer)?;
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(snapshot.to_text().as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    if let Err(e) = std::fs::rename(&tmp, &pointer) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(&pointer, e));
    }
    let _ = File::open(root).and_then(|d| d.sync_all());
    Ok(())
}

fn temp_beside(target: &Path) -> Result<PathBuf> {
    let parent = target.parent().expect("targets live in a folder");
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = target
        .file_name()
        .expect("targets have a name")
        .to_string_lossy();
    Ok(parent.join(format!(".{name}.{}.tmp", std::process::id())))
}

/// Writes `batch` as part `part` into `gen_dir`, a generation folder of a commit being staged
/// (`Staging::generation`), replacing the part of that name.
pub fn write_part(gen_dir: &Path, table: Table, part: &str, batch: &RecordBatch) -> Result<()> {
    let target = gen_dir.join(format!("{part}.parquet"));
    // Written beside and renamed over: `target` may be a hard link to a committed file,
    // which must not be written through.
    let tmp = gen_dir.join(format!(".{part}.parquet.tmp"));
    write_parquet(&tmp, table, batch)?;
    std::fs::rename(&tmp, &target).map_err(|e| Error::io(&target, e))?;
    Ok(())
}

fn write_parquet(path: &Path, table: Table, batch: &RecordBatch) -> Result<()> {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("3 is a valid level"),
        ))
        .set_max_row_group_row_count(Some(1 << 20));
    if table.is_geo() {
        props = props.set_key_value_metadata(Some(vec![KeyValue::new(
            "geo".to_string(),
            geo_metadata(batch)?,
        )]));
    }
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let perr = |source| Error::Parquet {
        path: path.into(),
        source,
    };
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props.build())).map_err(perr)?;
    w.write(batch).map_err(perr)?;
    // Durable before the pointer names it: a power cut must not leave a committed table
    // pointing at data still in the page cache.
    let file = w.into_inner().map_err(perr)?;
    file.sync_all().map_err(|e| Error::io(path, e))?;
    Ok(())
}

/// GeoParquet 1.1 file metadata for the `geometry` column
/// ([`mobility_model::geoparquet::file_metadata`]).
pub fn geo_metadata(batch: &RecordBatch) -> Result<String> {
    let col = batch
        .column_by_name("geometry")
        .and_then(|c| c.as_any().downcast_ref::<BinaryArray>())
        .ok_or_else(|| {
            Error::format(
                "geometry",
                None,
                "geo table without a binary geometry column",
            )
        })?;
    let extent =
        mobility_geo::wkb::Extent::of(col.iter().flatten()).map_err(|source| Error::Geo {
            context: "geometry column".into(),
            source,
        })?;
    Ok(mobility_model::geoparquet::file_metadata(
        extent.types,
        extent.bbox,
    ))
}

pub(crate) fn key_rows(
    table: Table,
    batch: &RecordBatch,
) -> Result<(RowConverter, arrow::row::Rows)> {
    let cols: Vec<ArrayRef> = table
        .key()
        .iter()
        .map(|k| {
            batch
                .column_by_name(k)
                .cloned()
                .ok_or_else(|| Error::format(table.name(), None, format!("key column {k} missing")))
        })
        .collect::<Result<_>>()?;
    let conv = RowConverter::new(
        cols.iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect(),
    )?;
    let rows = conv.convert_columns(&cols)?;
    Ok((conv, rows))
}

/// Keeps the first row of each key in `batch`; later rows with a key already seen become
/// rejects naming the line of the first. `lines[i]` is the input line of row `i`.
pub fn dedup(
    table: Table,
    batch: &RecordBatch,
    lines: &[u64],
    file: &str,
) -> Result<(RecordBatch, Vec<Reject>)> {
    let keep_first = |first: Vec<Option<u64>>| {
        let mut keep = Vec::with_capacity(batch.num_rows());
        let mut rejects = Vec::new();
        for (i, first) in first.into_iter().enumerate() {
            keep.push(first.is_none());
            if let Some(first) = first {
                rejects.push(Reject {
                    file: file.to_string(),
                    line: lines[i],
                    column: table.key().join(", "),
                    value: key_text(table, batch, i),
                    reason: format!("duplicate key: the same row key is on line {first}"),
                });
            }
        }
        (keep, rejects)
    };
    let (keep, rejects) = match packed::keys(table, &[batch]) {
        Some(mut keys) => keep_first(first_lines(&keys.pop().expect("one batch"), lines)),
        None => {
            let (_, rows) = key_rows(table, batch)?;
            keep_first(first_lines(&rows.iter().collect::<Vec<_>>(), lines))
        }
    };
    if rejects.is_empty() {
        return Ok((batch.clone(), rejects));
    }
    Ok((
        filter_record_batch(batch, &BooleanArray::from(keep))?,
        rejects,
    ))
}

/// For each key, `None` where it is seen first, else the line it was first seen on.
fn first_lines<K: std::hash::Hash + Eq + Copy>(keys: &[K], lines: &[u64]) -> Vec<Option<u64>> {
    assert_eq!(keys.len(), lines.len(), "a line for every row");
    let mut seen: HashMap<K, u64, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(keys.len(), Default::default());
    keys.iter()
        .zip(lines)
        // One hash a row: the entry is found or made in one probe.
        .map(|(k, line)| match seen.entry(*k) {
            std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(*line);
                None
            }
        })
        .collect()
}

fn key_text(table: Table, batch: &RecordBatch, i: usize) -> String {
    table
        .key()
        .iter()
        .map(|k| {
            batch
                .column_by_name(k)
                .and_then(|c| arrow::util::display::array_value_to_string(c, i).ok())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `existing` less the rows whose key is in `new`, plus `new`, sorted by key.
pub fn merge(table: Table, existing: &[RecordBatch], new: &RecordBatch) -> Result<RecordBatch> {
    let schema = table.schema();
    let mut parts = Vec::with_capacity(existing.len() + 1);
    if !existing.is_empty() {
        let (conv, new_rows) = key_rows(table, new)?;
        let keys: std::collections::HashSet<OwnedRow> =
            new_rows.iter().map(|r| r.owned()).collect();
        for b in existing {
            let b = align(b, &schema)?;
            let cols: Vec<ArrayRef> = table
                .key()
                .iter()
                .map(|k| b.column_by_name(k).cloned().expect("aligned"))
                .collect();
            let rows = conv.convert_columns(&cols)?;
            let keep: BooleanArray = rows
                .iter()
                .map(|r| Some(!keys.contains(&r.owned())))
                .collect();
            parts.push(filter_record_batch(&b, &keep)?);
        }
    }
    parts.push(new.clone());
    let all = concat_batches(&schema, &parts)?;
    sort_by_key(table, &all)
}

/// Sorts a batch by the table's key, for stable, diffable files.
pub fn sort_by_key(table: Table, batch: &RecordBatch) -> Result<RecordBatch> {
    let cols: Vec<SortColumn> = table
        .key()
        .iter()
        .map(|k| SortColumn {
            values: batch.column_by_name(k).cloned().expect("key column"),
            options: None,
        })
        .collect();
    let idx: UInt32Array = lexsort_to_indices(&cols, None)?;
    Ok(take_record_batch(batch, &idx)?)
}

/// Casts a batch read back from Parquet onto the model schema (e.g. view strings, metadata).
pub(crate) fn align(
    batch: &RecordBatch,
    schema: &arrow::datatypes::SchemaRef,
) -> Result<RecordBatch> {
    let cols = schema
        .fields()
        .iter()
        .map(|f| {
            let c = batch
                .column_by_name(f.name())
                .ok_or_else(|| Error::format(f.name(), None, "column missing in stored table"))?;
            Ok(if c.data_type() == f.data_type() {
                c.clone()
            } else {
                arrow::compute::cast(c, f.data_type())?
            })
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), cols)?)
}
