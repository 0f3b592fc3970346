//! The data directory: one folder per table of files in (Geo)Parquet, written atomically.
//!
//! Layout: `<data-dir>/<table>/<part>.parquet`, `<data-dir>/_rejects/<kind>-<file>.csv`.
//! A write is staged into hidden temporary files beside their targets and only renamed into
//! place by [`Staging::commit`], after every input parsed and every file was written, so a failed
//! or interrupted run leaves the previous data as it was. Rows are merged by the table's key
//! ([`Table::key`]): re-ingesting the same input replaces its rows instead of adding them again.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BinaryArray, BooleanArray, RecordBatch, UInt32Array};
use arrow::compute::{
    SortColumn, concat_batches, filter_record_batch, lexsort_to_indices, take_record_batch,
};
use arrow::row::{OwnedRow, RowConverter, SortField};
use geo::BoundingRect;
use mobility_model::Table;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

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

    /// The folder of a table.
    pub fn table_dir(&self, table: Table) -> PathBuf {
        self.root.join(table.name())
    }

    /// The Parquet files of a table, sorted.
    pub fn parts(&self, table: Table) -> Result<Vec<PathBuf>> {
        let dir = self.table_dir(table);
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut parts: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect();
        parts.sort();
        Ok(parts)
    }

    /// Reads every row of a table (empty when the table does not exist yet).
    pub fn read_table(&self, table: Table) -> Result<Vec<RecordBatch>> {
        let mut out = Vec::new();
        for p in self.parts(table)? {
            out.extend(read_parquet(&p)?);
        }
        Ok(out)
    }

    /// Reads one part of a table, if it exists.
    pub fn read_part(&self, table: Table, part: &str) -> Result<Vec<RecordBatch>> {
        let p = self.table_dir(table).join(format!("{part}.parquet"));
        if p.exists() {
            read_parquet(&p)
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

/// Files written but not yet in place. Dropping it without [`Staging::commit`] removes them.
#[derive(Debug, Default)]
pub struct Staging {
    moves: Vec<(PathBuf, PathBuf)>,
    removals: Vec<PathBuf>,
}

impl Staging {
    /// Writes `batch` as `<table>/<part>.parquet` (GeoParquet 1.1 for geo tables), staged.
    pub fn table(
        &mut self,
        dir: &DataDir,
        table: Table,
        part: &str,
        batch: &RecordBatch,
    ) -> Result<()> {
        let target = dir.table_dir(table).join(format!("{part}.parquet"));
        let tmp = temp_beside(&target)?;
        write_parquet(&tmp, table, batch)?;
        self.moves.push((tmp, target));
        Ok(())
    }

    /// Writes the rejects of one input, or stages the removal of an old rejects file when there
    /// are none now.
    pub fn rejects(
        &mut self,
        dir: &DataDir,
        kind: &str,
        file: &str,
        rejects: &[Reject],
    ) -> Result<()> {
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
        let target = dir
            .root()
            .join("_rejects")
            .join(format!("{kind}-{safe}{ext}"));
        if rejects.is_empty() {
            self.removals.push(target);
            return Ok(());
        }
        let tmp = temp_beside(&target)?;
        std::fs::write(&tmp, to_csv(rejects)).map_err(|e| Error::io(&tmp, e))?;
        self.moves.push((tmp, target));
        Ok(())
    }

    /// Puts every staged file in place (each by an atomic rename). If a rename fails, the
    /// files not yet moved stay staged and are removed when `self` drops.
    pub fn commit(mut self) -> Result<()> {
        while let Some((tmp, target)) = self.moves.first().cloned() {
            std::fs::rename(&tmp, &target).map_err(|e| Error::io(&target, e))?;
            self.moves.remove(0);
        }
        for p in std::mem::take(&mut self.removals) {
            if p.exists() {
                std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
            }
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        for (tmp, _) in &self.moves {
            let _ = std::fs::remove_file(tmp);
        }
    }
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
    w.close().map_err(perr)?;
    Ok(())
}

/// GeoParquet 1.1 file metadata for the `geometry` column: WKB, lon/lat (OGC:CRS84, the
/// default when `crs` is absent), the geometry types present and the bounding box.
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
    let mut types = std::collections::BTreeSet::new();
    let (mut x0, mut y0, mut x1, mut y1) = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for wkb in col.iter().flatten() {
        let g = mobility_geo::wkb::from_wkb(wkb).map_err(|source| Error::Geo {
            context: "geometry column".into(),
            source,
        })?;
        types.insert(match &g {
            geo::Geometry::Point(_) => "Point",
            geo::Geometry::LineString(_) => "LineString",
            geo::Geometry::Polygon(_) => "Polygon",
            geo::Geometry::MultiPoint(_) => "MultiPoint",
            geo::Geometry::MultiLineString(_) => "MultiLineString",
            geo::Geometry::MultiPolygon(_) => "MultiPolygon",
            _ => "Unknown",
        });
        if let Some(r) = g.bounding_rect() {
            x0 = x0.min(r.min().x);
            y0 = y0.min(r.min().y);
            x1 = x1.max(r.max().x);
            y1 = y1.max(r.max().y);
        }
    }
    let mut column = serde_json::json!({
        "encoding": "WKB",
        "geometry_types": types.into_iter().collect::<Vec<_>>(),
    });
    if x0.is_finite() {
        column["bbox"] = serde_json::json!([x0, y0, x1, y1]);
    }
    Ok(serde_json::json!({
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": { "geometry": column },
    })
    .to_string())
}

fn key_rows(table: Table, batch: &RecordBatch) -> Result<(RowConverter, arrow::row::Rows)> {
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
    let (_, rows) = key_rows(table, batch)?;
    let mut seen: HashMap<arrow::row::Row<'_>, u64> = HashMap::with_capacity(batch.num_rows());
    let mut keep = Vec::with_capacity(batch.num_rows());
    let mut rejects = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        match seen.get(&row) {
            Some(first) => {
                keep.push(false);
                rejects.push(Reject {
                    file: file.to_string(),
                    line: lines[i],
                    column: table.key().join(", "),
                    value: key_text(table, batch, i),
                    reason: format!("duplicate key: the same row key is on line {first}"),
                });
            }
            None => {
                seen.insert(row, lines[i]);
                keep.push(true);
            }
        }
    }
    if rejects.is_empty() {
        return Ok((batch.clone(), rejects));
    }
    Ok((
        filter_record_batch(batch, &BooleanArray::from(keep))?,
        rejects,
    ))
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
fn align(batch: &RecordBatch, schema: &arrow::datatypes::SchemaRef) -> Result<RecordBatch> {
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
