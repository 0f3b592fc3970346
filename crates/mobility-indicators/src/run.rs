//! The batch run: every indicator of the catalog into `<out>/indicators/<id>.parquet` and
//! `.csv`, and `<out>/manifest.json` with inputs and their checksums, row counts, parameters,
//! version and time per indicator. Everything is written into a staging folder first and put
//! in place at the end, so a failed run leaves the previous outputs as they were.

use std::path::{Path, PathBuf};
use std::time::Instant;

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use mobility_model::Table;
use serde::Serialize;

use crate::catalog::{Indicator, Kind};
use crate::ratio::{self, Rules};
use crate::{Error, Result, io};

/// What to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The data directory.
    pub data: PathBuf,
    /// The output directory.
    pub out: PathBuf,
    /// CI level and suppression rule.
    pub rules: Rules,
}

/// What happened to one indicator.
#[derive(Debug, Clone, Serialize)]
pub struct IndicatorReport {
    pub id: String,
    pub title: String,
    /// Rows written, or `None` when skipped.
    pub rows: Option<usize>,
    /// Why it was skipped.
    pub skipped: Option<String>,
    pub seconds: f64,
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

async fn collect(ctx: &SessionContext, context: &str, sql: &str) -> Result<Vec<RecordBatch>> {
    let df = ctx.sql(sql).await.map_err(|source| Error::DataFusion {
        context: context.to_string(),
        source,
    })?;
    df.collect().await.map_err(|source| Error::DataFusion {
        context: context.to_string(),
        source,
    })
}

fn checksums(data: &Path, tables: &[Table]) -> Result<Vec<InputFile>> {
    use sha2::Digest;
    let mut out = Vec::new();
    for t in tables {
        let dir = data.join(t.name());
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(io(&dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).map_err(io(&f))?;
            let sha = sha2::Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            out.push(InputFile {
                path: f.strip_prefix(data).unwrap_or(&f).display().to_string(),
                bytes: bytes.len() as u64,
                sha256: sha,
            });
        }
    }
    Ok(out)
}

/// Writes a batch as Parquet and UTF-8 CSV with a header.
pub fn write_outputs(dir: &Path, id: &str, batch: &RecordBatch) -> Result<()> {
    let pq = dir.join(format!("{id}.parquet"));
    let file = std::fs::File::create(&pq).map_err(io(&pq))?;
    let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
    w.write(batch)?;
    w.close()?;
    let csv = dir.join(format!("{id}.csv"));
    let file = std::fs::File::create(&csv).map_err(io(&csv))?;
    let mut w = arrow::csv::WriterBuilder::new()
        .with_header(true)
        .build(file);
    w.write(batch)?;
    Ok(())
}

/// Runs the built-in catalog.
pub async fn run(opts: &RunOptions) -> Result<Manifest> {
    run_catalog(opts, &crate::catalog::built_in()).await
}

/// Runs the given indicators.
pub async fn run_catalog(opts: &RunOptions, catalog: &[Indicator]) -> Result<Manifest> {
    let started = Instant::now();
    let mobility_sql::Session {
        ctx,
        tables: present,
    } = mobility_sql::open(&opts.data)
        .await
        .map_err(|source| Error::DataFusion {
            context: format!("opening {}", opts.data.display()),
            source,
        })?;
    let staging = opts.out.join(format!(".staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let ind_dir = staging.join("indicators");
    std::fs::create_dir_all(&ind_dir).map_err(io(&ind_dir))?;
    let result = run_into(&ctx, &present, opts, catalog, &ind_dir, started).await;
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
    let mpath = staging.join("manifest.json");
    std::fs::write(&mpath, text).map_err(io(&mpath))?;
    // Put the new outputs in place: the old folder aside, the new one in, the old one gone.
    let target = opts.out.join("indicators");
    let old = opts.out.join(format!(".old-{}", std::process::id()));
    if target.exists() {
        std::fs::rename(&target, &old).map_err(io(&target))?;
    }
    std::fs::rename(&ind_dir, &target).map_err(io(&target))?;
    let mtarget = opts.out.join("manifest.json");
    std::fs::rename(&mpath, &mtarget).map_err(io(&mtarget))?;
    let _ = std::fs::remove_dir_all(&old);
    let _ = std::fs::remove_dir_all(&staging);
    Ok(manifest)
}

async fn run_into(
    ctx: &SessionContext,
    present: &[Table],
    opts: &RunOptions,
    catalog: &[Indicator],
    dir: &Path,
    started: Instant,
) -> Result<Manifest> {
    let mut table_rows = std::collections::BTreeMap::new();
    for t in present {
        let b = collect(ctx, t.name(), &format!("SELECT count(*) FROM {}", t.name())).await?;
        let n = b
            .first()
            .map(|b| {
                arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(b.column(0))
                    .value(0)
            })
            .unwrap_or(0);
        table_rows.insert(t.name().to_string(), n as u64);
    }
    let n_h = if present.contains(&Table::Persons) {
        ratio::strata(
            &collect(
                ctx,
                "strata",
                "SELECT COALESCE(stratum, '') AS stratum, count(*) AS n FROM persons GROUP BY 1",
            )
            .await?,
        )?
    } else {
        Default::default()
    };
    let mut reports = Vec::new();
    for ind in catalog {
        let t0 = Instant::now();
        let missing: Vec<&String> = ind
            .needs
            .iter()
            .filter(|n| !present.iter().any(|t| t.name() == n.as_str()))
            .collect();
        if !missing.is_empty() {
            reports.push(IndicatorReport {
                id: ind.id.clone(),
                title: ind.title.clone(),
                rows: None,
                skipped: Some(format!(
                    "needs table(s) {} which the data directory does not have",
                    missing
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                seconds: 0.0,
            });
            continue;
        }
        let batches = collect(ctx, &format!("indicator {}", ind.id), &ind.sql).await?;
        let out = match ind.kind {
            Kind::Ratio => ratio::finish(&ind.id, &ind.unit, &batches, &n_h, opts.rules)?,
            Kind::Table => {
                let schema = batches
                    .first()
                    .map(|b| b.schema())
                    .ok_or_else(|| Error::Shape {
                        id: ind.id.clone(),
                        message: "no rows".into(),
                    })?;
                arrow::compute::concat_batches(&schema, &batches)?
            }
        };
        write_outputs(dir, &ind.id, &out)?;
        reports.push(IndicatorReport {
            id: ind.id.clone(),
            title: ind.title.clone(),
            rows: Some(out.num_rows()),
            skipped: None,
            seconds: t0.elapsed().as_secs_f64(),
        });
    }
    Ok(Manifest {
        version: env!("CARGO_PKG_VERSION").to_string(),
        data: opts.data.display().to_string(),
        inputs: checksums(&opts.data, present)?,
        table_rows,
        parameters: serde_json::json!({
            "ci_level": opts.rules.level,
            "suppress_below_n": opts.rules.min_n,
            "suppress_above_cv": opts.rules.max_cv,
        }),
        indicators: reports,
        seconds_total: started.elapsed().as_secs_f64(),
    })
}
