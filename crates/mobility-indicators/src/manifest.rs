//! `manifest.json`: what a run read (each input file with its size and SHA-256), what it wrote
//! and how long each indicator took. The run fills it; the report reads it.

use std::path::{Path, PathBuf};

use mobility_model::Table;
use mobility_model::layout::Snapshot;
use serde::Serialize;

use crate::{Error, Result, io};

/// What happened to one indicator.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorReport {
    pub id: String,
    pub title: String,
    /// Rows written, or `None` when skipped.
    pub rows: Option<usize>,
    /// Why it was skipped.
    pub skipped: Option<String>,
    /// Wall time in all, and of its steps: the query, the estimation, writing. A survey
    /// indicator's estimation runs beside the next indicators' queries, so the indicators'
    /// times overlap and include waits for the cores (and, in all, until its table was taken
    /// in order); the run's own time is `seconds_total`. An indicator whose SE comes from
    /// replicates counts its own steps only: the pass over the replicates it shares with the
    /// others is in `parameters.replicate_passes`.
    pub seconds: f64,
    pub query_seconds: f64,
    pub estimate_seconds: f64,
    pub write_seconds: f64,
}

impl IndicatorReport {
    /// An indicator's report: its table's rows, the seconds since it `started` and those of
    /// its steps (query, estimation, writing).
    pub fn done(
        id: &str,
        title: &str,
        started: std::time::Instant,
        (query_seconds, estimate_seconds, write_seconds): (f64, f64, f64),
        out: &arrow::record_batch::RecordBatch,
    ) -> Self {
        Self {
            id: id.to_string(),
            title: title.to_string(),
            rows: Some(out.num_rows()),
            skipped: None,
            seconds: started.elapsed().as_secs_f64(),
            query_seconds,
            estimate_seconds,
            write_seconds,
        }
    }

    /// An indicator skipped, with the reason.
    pub fn skipped(ind: &crate::catalog::Indicator, why: String) -> Self {
        Self {
            id: ind.id.clone(),
            title: ind.title.clone(),
            rows: None,
            skipped: Some(why),
            seconds: 0.0,
            query_seconds: 0.0,
            estimate_seconds: 0.0,
            write_seconds: 0.0,
        }
    }
}

/// An input file with its checksum.
#[derive(Debug, Clone, Serialize)]
pub struct InputFile {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub version: String,
    pub data: String,
    pub inputs: Vec<InputFile>,
    pub table_rows: std::collections::BTreeMap<String, u64>,
    pub parameters: serde_json::Value,
    pub indicators: Vec<IndicatorReport>,
    pub seconds_total: f64,
}

/// A file with its size and SHA-256, shown as `shown`.
pub(crate) fn input_file(path: &Path, shown: String) -> Result<InputFile> {
    use sha2::Digest;
    let bytes = std::fs::read(path).map_err(io(path))?;
    Ok(InputFile {
        path: shown,
        bytes: bytes.len() as u64,
        sha256: sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    })
}

/// The files with extension `ext` in `dir`, sorted.
fn files_in(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    files.sort();
    Ok(files)
}

/// The data files of the commit the run reads, local or on S3.
pub(crate) async fn checksums(
    data: &Path,
    snapshot: &Snapshot,
    tables: &[Table],
) -> Result<Vec<InputFile>> {
    let remote = mobility_sql::remote::Remote::of(data).map_err(|source| Error::DataFusion {
        context: data.display().to_string(),
        source,
    })?;
    if let Some(r) = remote {
        return r
            .checksums(snapshot, tables)
            .await
            .map(|files| {
                files
                    .into_iter()
                    .map(|(path, bytes, sha256)| InputFile {
                        path,
                        bytes,
                        sha256,
                    })
                    .collect()
            })
            .map_err(|source| Error::DataFusion {
                context: data.display().to_string(),
                source,
            });
    }
    // Reading and hashing the files blocks: on a thread of its own, not a query's worker.
    let (data, snapshot, tables) = (data.to_path_buf(), snapshot.clone(), tables.to_vec());
    let hashed = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for t in tables {
            let dir = snapshot.table_dir(&data, t);
            if !dir.is_dir() {
                // A table given from elsewhere (--factors), whose files are listed apart.
                continue;
            }
            for f in files_in(&dir, "parquet")? {
                let shown = f.strip_prefix(&data).unwrap_or(&f).display().to_string();
                out.push(input_file(&f, shown)?);
            }
        }
        Ok(out)
    });
    crate::joined(hashed, "manifest", "hashing the input files").await
}

/// The factor files of `--factors` with their checksums.
pub(crate) fn factor_checksums(path: &Path) -> Result<Vec<InputFile>> {
    let files = if path.is_dir() {
        files_in(path, "csv")?
    } else {
        vec![path.to_path_buf()]
    };
    files
        .iter()
        .map(|f| input_file(f, f.display().to_string()))
        .collect()
}
