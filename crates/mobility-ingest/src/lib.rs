//! Readers for the formats mobility data really comes in, writing the data model's tables as
//! (Geo)Parquet into a data directory.
//!
//! Each `ingest_*` function reads its inputs, validates every row (bad rows become rejects with
//! file, line, column, value and reason), fills zone ids by point-in-polygon against the data
//! directory's `zones`, merges with what the directory holds by the table's key, and puts the
//! result in place atomically ([`store::Staging`]). It returns a [`Summary`] with rows read,
//! written and rejected per file.
//!
//! To add a format: a module that parses one input into a batch of a [`mobility_model::Table`]
//! plus [`rejects::Rejects`], and an `ingest_*` function here that stages and commits it.

pub mod check;
pub mod csvtext;
pub mod error;
pub mod factors;
pub mod gtfs;
pub mod json;
pub mod links;
pub mod monthly;
mod packed;
pub mod parse;
pub mod points;
pub mod rejects;
pub mod replicates;
pub mod source;
pub mod store;
pub mod survey;
pub mod traffic;
pub mod weight;
pub mod zones;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, AsArray, BinaryBuilder, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::Float64Type;
use mobility_geo::{Zone, ZoneIndex};
use mobility_model::Table;
use rayon::prelude::*;

pub use error::{Error, Result};
use rejects::{Reject, Rejects};
use source::TextFile;
use store::{DataDir, Staging};

/// Told about each input file as soon as it has been read: its report.
pub type Progress = std::sync::Arc<dyn Fn(&FileReport) + Send + Sync>;

/// Options common to every ingest.
#[derive(Clone, Default)]
pub struct Options {
    /// Any reject fails the run, and nothing is written.
    pub strict: bool,
    /// Fill zone ids from zones of this kind only (default: the smallest zone holding the point).
    pub zone_kind: Option<String>,
    /// Called after each input file (for progress bars).
    pub progress: Option<Progress>,
    /// How to take the data directory's writer lock.
    pub lock: store::LockOptions,
    /// Bytes the ingest may hold in memory for the rows it buffers (`None`: no limit); past a
    /// third of it, rows spill to disk, and a table part that cannot be merged within it is an error.
    pub memory_limit: Option<u64>,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("strict", &self.strict)
            .field("zone_kind", &self.zone_kind)
            .field("progress", &self.progress.is_some())
            .field("lock", &self.lock)
            .field("memory_limit", &self.memory_limit)
            .finish()
    }
}

impl Summary {
    /// Adds a file's report and tells the progress hook.
    fn push(&mut self, opts: &Options, report: FileReport) {
        if let Some(p) = &opts.progress {
            p(&report);
        }
        self.files.push(report);
    }
}

/// What happened to one input file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileReport {
    /// The file (archive members as `archive.zip!member`).
    pub file: String,
    /// The table it fed.
    pub table: Table,
    /// The detected text encoding.
    pub encoding: &'static str,
    /// Data rows (or JSON features/points) read.
    pub rows_read: u64,
    /// Rows written to the table.
    pub rows_written: u64,
    /// Rows rejected, kept in `_rejects/`.
    pub rows_rejected: u64,
}

impl FileReport {
    fn new(f: &TextFile, table: Table, read: u64, written: u64, rejected: u64) -> Self {
        Self {
            file: f.name.clone(),
            table,
            encoding: f.encoding.name(),
            rows_read: read,
            rows_written: written,
            rows_rejected: rejected,
        }
    }
}

/// The result of an ingest.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// One line per input file.
    pub files: Vec<FileReport>,
    /// Rows each touched table holds after the ingest.
    pub tables: BTreeMap<String, u64>,
    /// Things the user should know (e.g. zones missing, so no zone ids were filled).
    pub notes: Vec<String>,
}

/// Reads the data directory's zones into an index (`None` when there are no zones yet).
pub fn zone_index(dir: &DataDir, kind: Option<&str>) -> Result<Option<ZoneIndex>> {
    let batches = dir.read_table(Table::Zones)?;
    let mut zones = Vec::new();
    for b in &batches {
        let id = arrow::compute::cast(
            b.column_by_name("zone_id").expect("zones schema"),
            &arrow::datatypes::DataType::Utf8,
        )?;
        let kind_col = arrow::compute::cast(
            b.column_by_name("kind").expect("zones schema"),
            &arrow::datatypes::DataType::Utf8,
        )?;
        let geom = b
            .column_by_name("geometry")
            .expect("zones schema")
            .as_binary::<i32>();
        for i in 0..b.num_rows() {
            let (zid, zkind) = (
                id.as_string::<i32>().value(i),
                kind_col.as_string::<i32>().value(i),
            );
            let zone = Zone::from_wkb(zid, zkind, geom.value(i)).map_err(|source| Error::Geo {
                context: format!("zone {zid}"),
                source,
            })?;
            zones.extend(zone);
        }
    }
    if zones.is_empty() {
        return Ok(None);
    }
    Ok(Some(ZoneIndex::new(zones, kind)))
}

/// Fails a strict run, or stages the rejects of each input.
fn finish_rejects(
    staging: &mut Staging<'_>,
    kind: &str,
    all: &[Rejects],
    opts: &Options,
) -> Result<()> {
    let count: usize = all.iter().map(|r| r.rows.len()).sum();
    if opts.strict && count > 0 {
        let first = all
            .iter()
            .flat_map(|r| r.rows.first())
            .next()
            .map(Reject::to_string)
            .unwrap_or_default();
        return Err(Error::Strict { count, first });
    }
    for r in all {
        let file = r.rows.first().or(r.notes.first()).map(|x| x.file.clone());
        if let Some(file) = file {
            let rows: Vec<Reject> = r.rows.iter().chain(&r.notes).cloned().collect();
            staging.rejects(kind, &file, &rows)?;
        }
    }
    Ok(())
}

/// Reads one input (a file, or the fitting members of an archive), noting in the summary the
/// archive members passed over.
fn read_input(
    summary: &mut Summary,
    path: &std::path::Path,
    members: &[&str],
) -> Result<Vec<TextFile>> {
    let inputs = source::read_inputs(path, members)?;
    for (member, why) in inputs.skipped {
        summary.notes.push(format!("skipped {member}: {why}"));
    }
    Ok(inputs.files)
}

fn no_zones_note(s: &mut Summary, what: &str) {
    s.notes.push(format!("no zones in the data directory: {what} have no zone ids (ingest zones first, then this again)"));
}

/// One input of a traffic ingest, read and parsed.
enum TrafficInput {
    /// Registration points from the GraphQL JSON.
    Points(FileReport, Vec<points::Point>, Rejects),
    /// Hourly rows, unique by key within the file.
    Hourly(FileReport, RecordBatch, traffic::Parsed),
    /// A JSON member of an archive that is not the registration points.
    Skipped(String),
}

/// Reads and parses the files of one input path (an archive may hold several).
fn read_traffic(path: &std::path::Path) -> Result<(Vec<TrafficInput>, Vec<String>)> {
    let inputs = source::read_inputs(path, &[".csv", ".json"])?;
    let notes = inputs
        .skipped
        .into_iter()
        .map(|(member, why)| format!("skipped {member}: {why}"))
        .collect();
    let mut out = Vec::new();
    for f in inputs.files {
        let lower = f.name.to_ascii_lowercase();
        if lower
            .strip_suffix(".gz")
            .unwrap_or(&lower)
            .ends_with(".json")
        {
            match points::parse(&f) {
                Ok((pts, read, rej)) => {
                    let report = FileReport::new(
                        &f,
                        Table::TrafficPoints,
                        read,
                        pts.len() as u64,
                        rej.rows.len() as u64,
                    );
                    out.push(TrafficInput::Points(report, pts, rej));
                }
                // A JSON member of an archive that is not the registration points (a metadata
                // file beside the export) is passed over, saying so; a JSON file given by name
                // must be them.
                Err(Error::Format { message, .. }) if f.name.contains('!') => {
                    out.push(TrafficInput::Skipped(format!(
                        "skipped {}: not a trafficRegistrationPoints answer ({message})",
                        f.name
                    )));
                }
                Err(e) => return Err(e),
            }
            continue;
        }
        let mut p = traffic::parse(&f)?;
        let (batch, dups) = store::dedup(Table::TrafficHourly, &p.batch, &p.lines, &f.name)?;
        p.rejects.rows.extend(dups);
        p.batch = RecordBatch::new_empty(p.batch.schema());
        p.lines = Vec::new();
        let report = FileReport::new(
            &f,
            Table::TrafficHourly,
            p.rows_read,
            batch.num_rows() as u64,
            p.rejects.rows.len() as u64,
        );
        source::recycle(f.text);
        out.push(TrafficInput::Hourly(report, batch, p));
    }
    Ok((out, notes))
}

/// Ingests trafikkdata.no hourly exports (`.csv`, `.csv.gz`, `.zip`) and registration points
/// from the GraphQL JSON (`.json`) into `traffic_hourly` and `traffic_points`.
///
/// Inputs are read and parsed in parallel, as many at a time as there are threads, and their
/// rows go by month into [`monthly::Months`], which spills to disk past a third of
/// `opts.memory_limit`; each month is merged once at the end. A later input's row replaces an
/// earlier one of the same key; within one input, a repeated key is a reject.
pub fn ingest_traffic(dir: &DataDir, inputs: &[PathBuf], opts: &Options) -> Result<Summary> {
    let lock = dir.lock(&opts.lock)?;
    let mut summary = Summary::default();
    let mut all_rejects = Vec::new();
    let mut months = monthly::Months::new(Table::TrafficHourly, dir, opts.memory_limit);
    let mut seen = BTreeMap::new();
    let mut located = Vec::new();
    let paths = source::expand(inputs)?;
    // Files read at once: one per thread, fewer when a third of the limit would not hold them
    // (a file in memory is its text and its rows: about 20 times a gzip export's size, twice
    // a plain file's).
    let per_file = paths
        .iter()
        .map(|p| {
            let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            let gz = p
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gz") || e.eq_ignore_ascii_case("zip"));
            size.saturating_mul(if gz { 20 } else { 2 })
        })
        .max()
        .unwrap_or(0)
        .max(1);
    let threads = rayon::current_num_threads().max(1);
    let width = match opts.memory_limit {
        Some(b) => ((b / 3 / per_file) as usize).clamp(1, threads),
        None => threads,
    };
    for chunk in paths.chunks(width) {
        let read: Vec<Result<(Vec<TrafficInput>, Vec<String>)>> =
            chunk.par_iter().map(|p| read_traffic(p)).collect();
        for r in read {
            let (files, notes) = r?;
            summary.notes.extend(notes);
            for input in files {
                match input {
                    TrafficInput::Points(report, pts, rej) => {
                        summary.push(opts, report);
                        located.extend(pts);
                        all_rejects.push(rej);
                    }
                    TrafficInput::Hourly(report, batch, p) => {
                        summary.push(opts, report);
                        months.push(&batch)?;
                        seen.extend(p.points);
                        all_rejects.push(p.rejects);
                    }
                    TrafficInput::Skipped(note) => summary.notes.push(note),
                }
            }
        }
    }
    source::release_spares();
    if months.spilled_bytes() > 0 {
        summary.notes.push(format!(
            "{} MiB of rows spilled to disk to stay within the memory limit",
            months.spilled_bytes() >> 20
        ));
    }
    let mut staging = Staging::new(dir, &lock)?;
    finish_rejects(&mut staging, "traffic", &all_rejects, opts)?;
    let touched = !months.is_empty();
    months.finish(dir, &mut staging)?;
    if !seen.is_empty() || !located.is_empty() {
        let index = zone_index(dir, opts.zone_kind.as_deref())?;
        if index.is_none() {
            no_zones_note(&mut summary, "registration points");
        }
        let batch = merge_points(dir, &seen, &located, index.as_ref())?;
        summary
            .tables
            .insert(Table::TrafficPoints.name().into(), batch.num_rows() as u64);
        staging.table(Table::TrafficPoints, "data", &batch)?;
    }
    staging.commit()?;
    if touched {
        let total = dir.row_count(Table::TrafficHourly)?;
        summary
            .tables
            .insert(Table::TrafficHourly.name().into(), total);
    }
    Ok(summary)
}

#[derive(Debug, Clone, Default)]
struct PointRow {
    name: Option<String>,
    road_reference: Option<String>,
    road_category: Option<String>,
    lon: Option<f64>,
    lat: Option<f64>,
}

fn merge_points(
    dir: &DataDir,
    seen: &BTreeMap<String, traffic::PointSeen>,
    located: &[points::Point],
    index: Option<&ZoneIndex>,
) -> Result<RecordBatch> {
    let mut rows: BTreeMap<String, PointRow> = BTreeMap::new();
    for b in dir.read_table(Table::TrafficPoints)? {
        let s = |n: &str| {
            arrow::compute::cast(
                b.column_by_name(n).expect("schema"),
                &arrow::datatypes::DataType::Utf8,
            )
        };
        let (id, name, road, cat) = (
            s("trp_id")?,
            s("name")?,
            s("road_reference")?,
            s("road_category")?,
        );
        let (id, name, road, cat) = (
            id.as_string::<i32>(),
            name.as_string::<i32>(),
            road.as_string::<i32>(),
            cat.as_string::<i32>(),
        );
        let lon = b
            .column_by_name("lon")
            .expect("schema")
            .as_primitive::<Float64Type>();
        let lat = b
            .column_by_name("lat")
            .expect("schema")
            .as_primitive::<Float64Type>();
        let opt = |a: &StringArray, i: usize| a.is_valid(i).then(|| a.value(i).to_string());
        for i in 0..b.num_rows() {
            rows.insert(
                id.value(i).to_string(),
                PointRow {
                    name: opt(name, i),
                    road_reference: opt(road, i),
                    road_category: opt(cat, i),
                    lon: lon.is_valid(i).then(|| lon.value(i)),
                    lat: lat.is_valid(i).then(|| lat.value(i)),
                },
            );
        }
    }
    for (id, p) in seen {
        let r = rows.entry(id.clone()).or_default();
        if !p.name.is_empty() {
            r.name = Some(p.name.clone());
        }
        if !p.road_reference.is_empty() {
            r.road_reference = Some(p.road_reference.clone());
            r.road_category = traffic::road_category(&p.road_reference);
        }
    }
    for p in located {
        let r = rows.entry(p.trp_id.clone()).or_default();
        r.lon = Some(p.lon);
        r.lat = Some(p.lat);
        if r.name.is_none() {
            r.name = p.name.clone();
        }
        if let Some(rr) = &p.road_reference {
            r.road_category = traffic::road_category(rr);
            r.road_reference = Some(rr.clone());
        }
    }
    let coords: Vec<(f64, f64)> = rows
        .values()
        .map(|r| (r.lon.unwrap_or(f64::NAN), r.lat.unwrap_or(f64::NAN)))
        .collect();
    let zones: Vec<Option<String>> = match index {
        Some(ix) => ix
            .locate_all(&coords)
            .into_iter()
            .map(|z| z.map(|z| ix.zone(z).id.clone()))
            .collect(),
        None => vec![None; coords.len()],
    };
    let mut geom = BinaryBuilder::new();
    for r in rows.values() {
        match (r.lon, r.lat) {
            (Some(x), Some(y)) => geom.append_value(mobility_geo::wkb::point_wkb(x, y)),
            _ => geom.append_null(),
        }
    }
    let col = |f: fn(&PointRow) -> Option<String>| {
        Arc::new(StringArray::from(rows.values().map(f).collect::<Vec<_>>()))
    };
    Ok(RecordBatch::try_new(
        Table::TrafficPoints.schema(),
        vec![
            Arc::new(StringArray::from(
                rows.keys().map(String::as_str).collect::<Vec<_>>(),
            )),
            col(|r| r.name.clone()),
            col(|r| r.road_reference.clone()),
            col(|r| r.road_category.clone()),
            Arc::new(Float64Array::from(
                rows.values().map(|r| r.lon).collect::<Vec<_>>(),
            )),
            Arc::new(Float64Array::from(
                rows.values().map(|r| r.lat).collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(zones)),
            Arc::new(geom.finish()),
        ],
    )?)
}

/// Ingests GeoJSON zones.
pub fn ingest_zones(
    dir: &DataDir,
    inputs: &[PathBuf],
    zopts: &zones::ZoneOptions,
    opts: &Options,
) -> Result<Summary> {
    let lock = dir.lock(&opts.lock)?;
    let mut summary = Summary::default();
    let mut all_rejects = Vec::new();
    let mut merged: Option<RecordBatch> = None;
    for path in source::expand(inputs)? {
        for f in read_input(&mut summary, &path, &[".geojson", ".json"])? {
            let mut p = zones::parse(&f, zopts)?;
            let mut geoms = BinaryBuilder::new();
            for z in &p.zones {
                let wkb =
                    mobility_geo::wkb::to_wkb(&geo::Geometry::MultiPolygon(z.geometry.clone()))
                        .map_err(|source| Error::Geo {
                            context: format!("zone {}", z.id),
                            source,
                        })?;
                geoms.append_value(wkb);
            }
            let batch = RecordBatch::try_new(
                Table::Zones.schema(),
                vec![
                    Arc::new(StringArray::from_iter_values(
                        p.zones.iter().map(|z| z.id.as_str()),
                    )),
                    Arc::new(StringArray::from(p.names)),
                    Arc::new(StringArray::from_iter_values(
                        p.zones.iter().map(|z| z.kind.as_str()),
                    )),
                    Arc::new(geoms.finish()),
                ],
            )?;
            // Two features with the same id in a file: the first stays, the second is a reject;
            // across files the later file wins, as on a rerun.
            let (batch, dups) = store::dedup(Table::Zones, &batch, &p.lines, &f.name)?;
            p.rejects.rows.extend(dups);
            summary.push(
                opts,
                FileReport::new(
                    &f,
                    Table::Zones,
                    p.read,
                    batch.num_rows() as u64,
                    p.rejects.rows.len() as u64,
                ),
            );
            merged = Some(dir.merge_into_part(Table::Zones, "data", merged.take(), &batch)?);
            all_rejects.push(p.rejects);
        }
    }
    let mut staging = Staging::new(dir, &lock)?;
    finish_rejects(&mut staging, "zones", &all_rejects, opts)?;
    if let Some(merged) = &merged {
        staging.table(Table::Zones, "data", merged)?;
        summary
            .tables
            .insert(Table::Zones.name().into(), merged.num_rows() as u64);
    }
    staging.commit()?;
    Ok(summary)
}

/// Ingests a survey through a mapping into `households`, `persons` and `trips`. A survey is one
/// unit: its three tables are replaced whole, so a rerun after correcting a file leaves no
/// stale rows.
pub fn ingest_survey(
    dir: &DataDir,
    mapping: &survey::Mapping,
    inputs: &[PathBuf],
    opts: &Options,
) -> Result<Summary> {
    let lock = dir.lock(&opts.lock)?;
    let mut s = survey::read(mapping, inputs)?;
    let mut summary = Summary {
        files: std::mem::take(&mut s.reports),
        ..Default::default()
    };
    if s.needs_zones() {
        match zone_index(dir, opts.zone_kind.as_deref())? {
            Some(ix) => s.fill_zones(&ix),
            None => no_zones_note(
                &mut summary,
                "homes and trip ends with coordinates but no zone id",
            ),
        }
    }
    let rejects = std::mem::take(&mut s.rejects);
    summary.notes.extend(unmapped_codes(&rejects));
    let mut staging = Staging::new(dir, &lock)?;
    finish_rejects(&mut staging, "survey", &rejects, opts)?;
    for (table, batch, _) in s.batches()? {
        let sorted = store::sort_by_key(table, &batch)?;
        summary
            .tables
            .insert(table.name().into(), sorted.num_rows() as u64);
        // The survey tables are single-part: staging `data` replaces the whole table.
        staging.table(table, "data", &sorted)?;
    }
    staging.commit()?;
    Ok(summary)
}

/// The source codes that the mapping does not map, per coded column, with how many rows each
/// cost: one note per column, from the rejects that name them.
fn unmapped_codes(rejects: &[Rejects]) -> Vec<String> {
    // (list, source column) → code → rows
    let mut found: BTreeMap<(String, String), BTreeMap<String, u64>> = BTreeMap::new();
    for r in rejects.iter().flat_map(|r| &r.rows) {
        let Some(list) = r
            .reason
            .strip_prefix("expected a ")
            .and_then(|x| x.split_once(" code of mapping "))
            .map(|(list, _)| list.to_string())
        else {
            continue;
        };
        *found
            .entry((list, r.column.clone()))
            .or_default()
            .entry(r.value.clone())
            .or_default() += 1;
    }
    found
        .into_iter()
        .map(|((list, column), codes)| {
            let shown: Vec<String> = codes
                .iter()
                .map(|(code, n)| format!("{code} ({n} row{})", if *n == 1 { "" } else { "s" }))
                .collect();
            format!(
                "source codes of column {column} not in the mapping's [codes.{list}]: {}; their rows are rejected (add them to the mapping to keep them)",
                shown.join(", ")
            )
        })
        .collect()
}

/// Ingests the stops of GTFS feeds (zips, or `stops.txt` itself).
pub fn ingest_gtfs(dir: &DataDir, inputs: &[PathBuf], opts: &Options) -> Result<Summary> {
    let lock = dir.lock(&opts.lock)?;
    let mut summary = Summary::default();
    let mut all_rejects = Vec::new();
    let mut merged: Option<RecordBatch> = None;
    for path in source::expand(inputs)? {
        for f in read_input(&mut summary, &path, &["stops.txt"])? {
            let (stops, lines, read, mut rejects) = gtfs::parse(&f)?;
            let mut geom = BinaryBuilder::new();
            for s in &stops {
                geom.append_value(mobility_geo::wkb::point_wkb(s.lon, s.lat));
            }
            let batch = RecordBatch::try_new(
                Table::PtStops.schema(),
                vec![
                    Arc::new(StringArray::from_iter_values(
                        stops.iter().map(|s| s.stop_id.as_str()),
                    )),
                    Arc::new(StringArray::from(
                        stops.iter().map(|s| s.name.as_deref()).collect::<Vec<_>>(),
                    )),
                    Arc::new(Float64Array::from_iter_values(stops.iter().map(|s| s.lon))),
                    Arc::new(Float64Array::from_iter_values(stops.iter().map(|s| s.lat))),
                    Arc::new(geom.finish()),
                ],
            )?;
            let (batch, dups) = store::dedup(Table::PtStops, &batch, &lines, &f.name)?;
            rejects.rows.extend(dups);
            summary.push(
                opts,
                FileReport::new(
                    &f,
                    Table::PtStops,
                    read,
                    batch.num_rows() as u64,
                    rejects.rows.len() as u64,
                ),
            );
            merged = Some(dir.merge_into_part(Table::PtStops, "data", merged.take(), &batch)?);
            all_rejects.push(rejects);
        }
    }
    let mut staging = Staging::new(dir, &lock)?;
    finish_rejects(&mut staging, "gtfs", &all_rejects, opts)?;
    if let Some(merged) = &merged {
        staging.table(Table::PtStops, "data", merged)?;
        summary
            .tables
            .insert(Table::PtStops.name().into(), merged.num_rows() as u64);
    }
    staging.commit()?;
    Ok(summary)
}

/// Ingests emission factors, fleet mix and occupancy CSV files (or a folder of them).
/// Traffic links with their ÅDT (CSV with the trafikkdata API's field names, or its JSON)
/// into `road_links`, merged by (link_id, year): ingesting a year again replaces its links.
pub fn ingest_links(dir: &DataDir, inputs: &[PathBuf], opts: &Options) -> Result<Summary> {
    let lock = dir.lock(&opts.lock)?;
    let mut summary = Summary::default();
    let mut all_rejects = Vec::new();
    let mut acc: Option<RecordBatch> = None;
    for path in source::expand(inputs)? {
        for f in read_input(&mut summary, &path, &[".csv", ".json"])? {
            let mut p = links::parse(&f)?;
            let (batch, dups) = store::dedup(Table::RoadLinks, &p.batch, &p.lines, &f.name)?;
            p.rejects.rows.extend(dups);
            summary.push(
                opts,
                FileReport::new(
                    &f,
                    Table::RoadLinks,
                    p.rows_read,
                    batch.num_rows() as u64,
                    p.rejects.rows.len() as u64,
                ),
            );
            acc = Some(match acc {
                None => batch,
                Some(a) => store::merge(Table::RoadLinks, &[a], &batch)?,
            });
            all_rejects.push(p.rejects);
        }
    }
    let mut staging = Staging::new(dir, &lock)?;
    finish_rejects(&mut staging, "links", &all_rejects, opts)?;
    if let Some(batch) = acc {
        let existing = dir.read_table(Table::RoadLinks)?;
        let merged = store::merge(Table::RoadLinks, &existing, &batch)?;
        staging.table(Table::RoadLinks, "data", &merged)?;
        summary
            .tables
            .insert("road_links".into(), merged.num_rows() as u64);
    }
    staging.commit()?;
    Ok(summary)
}

/// Replicate weights (wide CSV: `id_column` and `<prefix>1…<prefix>R`) into
/// `replicate_weights`, replacing the table whole (they belong to one survey's persons).
pub fn ingest_replicate_weights(
    dir: &DataDir,
    inputs: &[PathBuf],
    id_column: &str,
    prefix: &str,
    opts: &Options,
) -> Result<Summary> {
    let lock = dir.lock(&opts.lock)?;
    let mut summary = Summary::default();
    let mut all_rejects = Vec::new();
    let mut acc: Option<RecordBatch> = None;
    let mut replicates = None;
    for path in source::expand(inputs)? {
        for f in read_input(&mut summary, &path, &[".csv"])? {
            let mut p = replicates::parse(&f, id_column, prefix)?;
            if let Some(r) = replicates.filter(|r| *r != p.replicates) {
                return Err(Error::format(
                    &f.name,
                    1,
                    format!(
                        "{} replicate columns, but an earlier file had {r}",
                        p.replicates
                    ),
                ));
            }
            replicates = Some(p.replicates);
            let (batch, mut dups) =
                store::dedup(Table::ReplicateWeights, &p.batch, &p.lines, &f.name)?;
            // A repeated person repeats every replicate: one reject per repeated line.
            dups.dedup_by_key(|r| r.line);
            p.rejects.rows.extend(dups);
            summary.push(
                opts,
                FileReport::new(
                    &f,
                    Table::ReplicateWeights,
                    p.rows_read,
                    batch.num_rows() as u64 / p.replicates.max(1) as u64,
                    p.rejects.rows.len() as u64,
                ),
            );
            acc = Some(match acc {
                None => batch,
                Some(a) => store::merge(Table::ReplicateWeights, &[a], &batch)?,
            });
            all_rejects.push(p.rejects);
        }
    }
    let mut staging = Staging::new(dir, &lock)?;
    finish_rejects(&mut staging, "replicate_weights", &all_rejects, opts)?;
    if let Some(batch) = acc {
        staging.table(Table::ReplicateWeights, "data", &batch)?;
        summary
            .tables
            .insert("replicate_weights".into(), batch.num_rows() as u64);
    }
    staging.commit()?;
    Ok(summary)
}

pub fn ingest_factors(dir: &DataDir, inputs: &[PathBuf], opts: &Options) -> Result<Summary> {
    let lock = dir.lock(&opts.lock)?;
    let mut summary = Summary::default();
    let mut all_rejects = Vec::new();
    let mut merged: BTreeMap<&'static str, (Table, RecordBatch)> = BTreeMap::new();
    for path in source::expand(inputs)? {
        for f in read_input(&mut summary, &path, &[".csv"])? {
            let mut p = factors::parse(&f)?;
            let (batch, dups) = store::dedup(p.table, &p.batch, &p.lines, &f.name)?;
            p.rejects.rows.extend(dups);
            summary.push(
                opts,
                FileReport::new(
                    &f,
                    p.table,
                    p.rows_read,
                    batch.num_rows() as u64,
                    p.rejects.rows.len() as u64,
                ),
            );
            let acc = merged.remove(p.table.name()).map(|(_, b)| b);
            let table_rows = dir.merge_into_part(p.table, "data", acc, &batch)?;
            merged.insert(p.table.name(), (p.table, table_rows));
            all_rejects.push(p.rejects);
        }
    }
    let mut staging = Staging::new(dir, &lock)?;
    finish_rejects(&mut staging, "factors", &all_rejects, opts)?;
    for (name, (table, batch)) in &merged {
        staging.table(*table, "data", batch)?;
        summary
            .tables
            .insert((*name).into(), batch.num_rows() as u64);
    }
    staging.commit()?;
    Ok(summary)
}
