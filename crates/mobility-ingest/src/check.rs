//! `mobility check`: is a data directory what the data model says, after it was copied,
//! synced or edited by hand?
//!
//! Checked: the pointer and the folders it names; each table's files against its schema
//! (every model column present, of the model's type, no NULL where the model forbids one);
//! unique keys; households ← persons ← trips and persons ← replicate weights; zone ids that
//! exist in `zones`; GeoParquet metadata (version, WKB, geometry types, bounding box) and valid
//! geometry of the geo tables.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type};
use geo::BoundingRect;
use mobility_model::Table;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::Result;
use crate::store::DataDir;

/// One thing wrong with a data directory.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The table (or `_current` for the pointer).
    pub table: String,
    /// What is wrong, with an example value where there is one.
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.table, self.what)
    }
}

/// What a check found.
#[derive(Debug, Default)]
pub struct Report {
    /// Rows per table present.
    pub tables: Vec<(Table, u64)>,
    /// Everything wrong; empty when the directory is sound.
    pub problems: Vec<Problem>,
}

/// Checks the data directory at `dir`. An error only when it cannot be read at all.
pub fn check(dir: &DataDir) -> Result<Report> {
    let mut report = Report::default();
    // A reader like any other: its files are kept while it reads them.
    let _lease = mobility_model::layout::reader_lease(dir.root());
    let snapshot = match dir.snapshot() {
        Ok(s) => s,
        Err(e) => {
            report.problems.push(problem("_current", e.to_string()));
            return Ok(report);
        }
    };
    let mut loaded: Vec<(Table, RecordBatch)> = Vec::new();
    for &t in Table::ALL {
        let folder = snapshot.table_dir(dir.root(), t);
        if snapshot.generation(t).is_some() && !folder.is_dir() {
            report.problems.push(problem(
                t.name(),
                format!("_current names {} but it is missing", folder.display()),
            ));
            continue;
        }
        // Every table from the one snapshot, whatever a writer commits meanwhile.
        let parts = snapshot
            .parts(dir.root(), t)
            .map_err(|e| crate::Error::io(&folder, e))?;
        if parts.is_empty() {
            continue;
        }
        let mut batches = Vec::new();
        let mut sound = true;
        for p in &parts {
            match read_checked(t, p, &mut report.problems) {
                Some(b) => batches.extend(b),
                None => sound = false,
            }
        }
        if !sound {
            continue;
        }
        // The lenient schema of the batches (NULLs are reported above, not failed on).
        let Some(first) = batches.first() else {
            report.tables.push((t, 0));
            continue;
        };
        let batch = arrow::compute::concat_batches(&first.schema(), &batches)?;
        report.tables.push((t, batch.num_rows() as u64));
        unique_keys(t, &batch, &mut report.problems)?;
        if t.is_geo() {
            geometries(t, &batch, &mut report.problems);
        }
        loaded.push((t, batch));
    }
    references(&loaded, &mut report.problems)?;
    Ok(report)
}

fn problem(table: &str, what: impl Into<String>) -> Problem {
    Problem {
        table: table.to_string(),
        what: what.into(),
    }
}

/// Reads one file, checking its columns and (for geo tables) its GeoParquet metadata; the
/// batches cast onto the model schema, or `None` when the file cannot be used.
fn read_checked(t: Table, path: &Path, problems: &mut Vec<Problem>) -> Option<Vec<RecordBatch>> {
    let shown = path.display();
    let builder = match File::open(path)
        .map_err(|e| e.to_string())
        .and_then(|f| ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| e.to_string()))
    {
        Ok(b) => b,
        Err(e) => {
            problems.push(problem(
                t.name(),
                format!("{shown}: not readable Parquet: {e}"),
            ));
            return None;
        }
    };
    if t.is_geo() {
        geo_metadata(t, path, builder.metadata().file_metadata(), problems);
    }
    let file_schema = builder.schema().clone();
    let model = t.schema();
    let mut ok = true;
    for f in model.fields() {
        match file_schema.field_with_name(f.name()) {
            Err(_) if t.added_later().contains(&f.name().as_str()) => {}
            Err(_) => {
                problems.push(problem(
                    t.name(),
                    format!("{shown}: column {} is missing", f.name()),
                ));
                ok = false;
            }
            Ok(got) if !same_type(got.data_type(), f.data_type()) => {
                problems.push(problem(
                    t.name(),
                    format!(
                        "{shown}: column {} is {}; the data model says {}",
                        f.name(),
                        got.data_type(),
                        f.data_type()
                    ),
                ));
                ok = false;
            }
            Ok(_) => {}
        }
    }
    for f in file_schema.fields() {
        if model.field_with_name(f.name()).is_err() {
            problems.push(problem(
                t.name(),
                format!("{shown}: column {} is not in the data model", f.name()),
            ));
        }
    }
    if !ok {
        return None;
    }
    let reader = match builder.build() {
        Ok(r) => r,
        Err(e) => {
            problems.push(problem(t.name(), format!("{shown}: {e}")));
            return None;
        }
    };
    let mut out = Vec::new();
    for b in reader {
        let b = match b {
            Ok(b) => b,
            Err(e) => {
                problems.push(problem(t.name(), format!("{shown}: {e}")));
                return None;
            }
        };
        let mut cols: Vec<ArrayRef> = Vec::new();
        for f in model.fields() {
            let Some(c) = b.column_by_name(f.name()) else {
                // A column added to the model later: NULL in this older file.
                cols.push(arrow::array::new_null_array(f.data_type(), b.num_rows()));
                continue;
            };
            if !f.is_nullable() && c.null_count() > 0 {
                problems.push(problem(
                    t.name(),
                    format!(
                        "{shown}: column {} has {} NULL value(s); the data model allows none",
                        f.name(),
                        c.null_count()
                    ),
                ));
            }
            cols.push(match arrow::compute::cast(c, f.data_type()) {
                Ok(c) => c,
                Err(e) => {
                    problems.push(problem(t.name(), format!("{shown}: {}: {e}", f.name())));
                    return None;
                }
            });
        }
        // Built unchecked for nullability, which is reported above rather than failed on.
        let lenient = std::sync::Arc::new(arrow::datatypes::Schema::new(
            model
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        ));
        match RecordBatch::try_new(lenient, cols) {
            Ok(b) => out.push(b),
            Err(e) => {
                problems.push(problem(t.name(), format!("{shown}: {e}")));
                return None;
            }
        }
    }
    Some(out)
}

/// String types read back from Parquet come as any of Arrow's three string layouts; binary
/// likewise.
fn same_type(got: &DataType, want: &DataType) -> bool {
    use DataType::*;
    let family = |d: &DataType| match d {
        Utf8 | LargeUtf8 | Utf8View => Utf8,
        Binary | LargeBinary | BinaryView => Binary,
        Dictionary(_, v) => v.as_ref().clone(),
        other => other.clone(),
    };
    family(got) == family(want)
}

fn geo_metadata(
    t: Table,
    path: &Path,
    meta: &parquet::file::metadata::FileMetaData,
    problems: &mut Vec<Problem>,
) {
    let shown = path.display();
    let geo = meta
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == "geo"))
        .and_then(|k| k.value.clone());
    let Some(geo) = geo else {
        problems.push(problem(
            t.name(),
            format!("{shown}: no GeoParquet 'geo' metadata"),
        ));
        return;
    };
    let v: serde_json::Value = match serde_json::from_str(&geo) {
        Ok(v) => v,
        Err(e) => {
            problems.push(problem(
                t.name(),
                format!("{shown}: 'geo' metadata is not JSON: {e}"),
            ));
            return;
        }
    };
    let col = &v["columns"]["geometry"];
    let checks = [
        (
            v["primary_column"] == "geometry",
            "primary_column is not 'geometry'",
        ),
        (
            v["version"].as_str().is_some_and(|s| s.starts_with("1.")),
            "version is not 1.x",
        ),
        (col["encoding"] == "WKB", "geometry encoding is not WKB"),
        (
            col["geometry_types"].is_array(),
            "geometry_types is missing",
        ),
    ];
    for (ok, what) in checks {
        if !ok {
            problems.push(problem(
                t.name(),
                format!("{shown}: 'geo' metadata: {what}"),
            ));
        }
    }
}

fn unique_keys(t: Table, batch: &RecordBatch, problems: &mut Vec<Problem>) -> Result<()> {
    let cols: Vec<ArrayRef> = t
        .key()
        .iter()
        .map(|k| batch.column_by_name(k).cloned().expect("model schema"))
        .collect();
    let conv = arrow::row::RowConverter::new(
        cols.iter()
            .map(|c| arrow::row::SortField::new(c.data_type().clone()))
            .collect(),
    )?;
    let rows = conv.convert_columns(&cols)?;
    let mut seen = HashSet::with_capacity(batch.num_rows());
    let mut dups = 0u64;
    let mut first = None;
    for (i, r) in rows.iter().enumerate() {
        if !seen.insert(r) {
            dups += 1;
            first.get_or_insert(i);
        }
    }
    if let Some(i) = first {
        let key: Vec<String> = cols
            .iter()
            .map(|c| arrow::util::display::array_value_to_string(c, i).unwrap_or_default())
            .collect();
        problems.push(problem(
            t.name(),
            format!(
                "{dups} row(s) repeat a key ({}); first: {}",
                t.key().join(", "),
                key.join(", ")
            ),
        ));
    }
    Ok(())
}

fn geometries(t: Table, batch: &RecordBatch, problems: &mut Vec<Problem>) {
    let g = batch.column_by_name("geometry").expect("geo schema");
    let g = g.as_binary::<i32>();
    let ids = arrow::compute::cast(batch.column(0), &DataType::Utf8).expect("ids cast to text");
    let ids = ids.as_string::<i32>();
    let mut bad = 0;
    for i in 0..g.len() {
        if g.is_null(i) {
            continue;
        }
        let why = match mobility_geo::wkb::from_wkb(g.value(i)) {
            Err(e) => Some(e.to_string()),
            Ok(geom) => mobility_geo::valid::invalidity(&geom)
                .map(|w| w.reason)
                .or_else(|| {
                    geom.bounding_rect()
                        .filter(|r| {
                            !(-180.0..=180.0).contains(&r.min().x)
                                || !(-180.0..=180.0).contains(&r.max().x)
                                || !(-90.0..=90.0).contains(&r.min().y)
                                || !(-90.0..=90.0).contains(&r.max().y)
                        })
                        .map(|_| "coordinates outside lon/lat range".to_string())
                }),
        };
        if let Some(why) = why {
            bad += 1;
            if bad <= 5 {
                problems.push(problem(
                    t.name(),
                    format!("{} {}: invalid geometry: {why}", t.key()[0], ids.value(i)),
                ));
            }
        }
    }
    if bad > 5 {
        problems.push(problem(
            t.name(),
            format!("{} more invalid geometries", bad - 5),
        ));
    }
}

/// Households ← persons ← trips, persons ← replicate weights, zones ← every zone id.
fn references(loaded: &[(Table, RecordBatch)], problems: &mut Vec<Problem>) -> Result<()> {
    let get = |t: Table| loaded.iter().find(|(x, _)| *x == t).map(|(_, b)| b);
    let ids = |b: &RecordBatch, c: &str| -> HashSet<i64> {
        b.column_by_name(c)
            .expect("model schema")
            .as_primitive::<Int64Type>()
            .iter()
            .flatten()
            .collect()
    };
    let mut refs = |child: Table, col: &str, parent: Table, pcol: &str| {
        let (Some(c), Some(p)) = (get(child), get(parent)) else {
            return;
        };
        let known = ids(p, pcol);
        let a = c.column_by_name(col).expect("model schema");
        let a = a.as_primitive::<Int64Type>();
        let missing: Vec<i64> = a.iter().flatten().filter(|v| !known.contains(v)).collect();
        if let Some(first) = missing.first() {
            problems.push(problem(
                child.name(),
                format!(
                    "{} row(s) name a {col} that {} does not have; first: {first}",
                    missing.len(),
                    parent.name()
                ),
            ));
        }
    };
    refs(
        Table::Persons,
        "household_id",
        Table::Households,
        "household_id",
    );
    refs(Table::Trips, "person_id", Table::Persons, "person_id");
    refs(
        Table::ReplicateWeights,
        "person_id",
        Table::Persons,
        "person_id",
    );
    let Some(zones) = get(Table::Zones) else {
        return Ok(());
    };
    let zcol = arrow::compute::cast(
        zones.column_by_name("zone_id").expect("schema"),
        &DataType::Utf8,
    )?;
    let known: HashSet<&str> = zcol.as_string::<i32>().iter().flatten().collect();
    for (t, col) in [
        (Table::Households, "home_zone_id"),
        (Table::Trips, "origin_zone_id"),
        (Table::Trips, "dest_zone_id"),
        (Table::TrafficPoints, "zone_id"),
    ] {
        let Some(b) = get(t) else { continue };
        let c = arrow::compute::cast(b.column_by_name(col).expect("schema"), &DataType::Utf8)?;
        let missing: Vec<&str> = c
            .as_string::<i32>()
            .iter()
            .flatten()
            .filter(|z| !known.contains(z))
            .collect();
        if let Some(first) = missing.first() {
            problems.push(problem(
                t.name(),
                format!(
                    "{} row(s) have a {col} that is not in zones; first: {first}",
                    missing.len()
                ),
            ));
        }
    }
    Ok(())
}
