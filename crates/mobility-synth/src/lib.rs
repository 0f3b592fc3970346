//! A deterministic synthetic Bærum: zones, a travel survey, counting points and their hourly
//! counts, written in the formats real data comes in (canonical survey CSV, GeoJSON,
//! trafikkdata.no exports and GraphQL JSON), so that `mobility synth` exercises the same ingest
//! path as real files.
//!
//! Calibration targets and their sources are in `docs/synthetic-data.md`. The same seed gives
//! the same bytes whatever the number of threads: work is cut into chunks with seeds of their
//! own ([`survey::CHUNK`]).

pub mod geography;
pub mod survey;
pub mod traffic;

use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

/// The default emission factors, fleet mix and occupancy shipped in `data/factors/`.
pub const DEFAULT_FACTORS: &[(&str, &str)] = &[
    (
        "emission_factors.csv",
        include_str!("../../../data/factors/emission_factors.csv"),
    ),
    (
        "fleet_mix.csv",
        include_str!("../../../data/factors/fleet_mix.csv"),
    ),
    (
        "occupancy.csv",
        include_str!("../../../data/factors/occupancy.csv"),
    ),
];

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    /// Survey respondents.
    pub persons: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// Counting points (Bærum's 8 first, then around Norway; at most `traffic::MAX_POINTS`).
    pub traffic_points: usize,
    /// Years of hourly counts.
    pub traffic_years: Vec<i32>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            persons: 10_000,
            seed: 1,
            traffic_points: 8,
            traffic_years: vec![2022, 2023, 2024],
        }
    }
}

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What was generated, and where.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    pub persons: usize,
    pub trips: usize,
    pub traffic_rows: usize,
    /// Zone files: (path, kind).
    pub zones: Vec<(PathBuf, String)>,
    /// The survey folder (canonical mapping).
    pub survey: PathBuf,
    /// Traffic exports and the registration-points JSON.
    pub traffic: Vec<PathBuf>,
    /// The factors folder.
    pub factors: PathBuf,
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    std::fs::write(path, bytes).map_err(io)
}

/// Points per export file, as a download from trafikkdata.no holds a selection of points.
pub const POINTS_PER_EXPORT: usize = 8;

/// Writes the hourly exports of `points` for `years` into `folder`: per year, one file per
/// [`POINTS_PER_EXPORT`] points (`trafikkdata-2024.csv.gz`, or `trafikkdata-2024-0001.csv.gz`
/// and on when a year needs several), ISO-8859-1 and gzipped, as downloaded. Files are made in
/// parallel and each is written before the next is begun, so memory does not grow with the
/// number of points. Returns the files in order and the data rows written.
pub fn write_exports(
    points: &[traffic::CountPoint],
    years: &[i32],
    seed: u64,
    folder: &Path,
) -> Result<(Vec<PathBuf>, usize)> {
    let chunks: Vec<&[traffic::CountPoint]> = points.chunks(POINTS_PER_EXPORT).collect();
    let first = *years.first().unwrap_or(&2022);
    let jobs: Vec<(i32, usize)> = years
        .iter()
        .flat_map(|y| (0..chunks.len()).map(move |k| (*y, k)))
        .collect();
    let written: Vec<(PathBuf, usize)> = jobs
        .into_par_iter()
        .map(|(year, k)| {
            let name = if chunks.len() == 1 {
                format!("trafikkdata-{year}.csv.gz")
            } else {
                format!("trafikkdata-{year}-{:04}.csv.gz", k + 1)
            };
            let path = folder.join(name);
            let mut text = String::from(traffic::HEADER);
            text.push('\n');
            let mut rows = 0;
            for p in chunks[k] {
                let t = traffic::export(p, year, first, seed);
                rows += t.bytes().filter(|b| *b == b'\n').count();
                text.push_str(&t);
            }
            let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
            let io = |source| Error::Io {
                path: path.clone(),
                source,
            };
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&latin1).map_err(io)?;
            write(&path, &gz.finish().map_err(io)?)?;
            Ok((path, rows))
        })
        .collect::<Result<_>>()?;
    let rows = written.iter().map(|(_, r)| r).sum();
    Ok((written.into_iter().map(|(p, _)| p).collect(), rows))
}

/// Writes the raw files under `raw`.
pub fn write_raw(cfg: &Config, raw: &Path) -> Result<Generated> {
    let geo = geography::Geography::new();
    let mut g = Generated::default();
    for kind in ["grunnkrets", "kommune"] {
        let p = raw.join("zones").join(format!("{kind}.geojson"));
        write(&p, geography::zones_geojson(&geo, kind).as_bytes())?;
        g.zones.push((p, kind.to_string()));
    }

    let (hh, ps, ts, n_trips) = survey::generate(cfg.persons, cfg.seed, &geo);
    g.survey = raw.join("survey");
    write(&g.survey.join("households.csv"), hh.as_bytes())?;
    write(&g.survey.join("persons.csv"), ps.as_bytes())?;
    write(&g.survey.join("trips.csv"), ts.as_bytes())?;
    g.persons = cfg.persons;
    g.trips = n_trips;

    let points = traffic::points(cfg.traffic_points, cfg.seed);
    let json = raw.join("traffic").join("registration-points.json");
    write(&json, traffic::points_json(&points).as_bytes())?;
    g.traffic.push(json);
    let (files, rows) = write_exports(&points, &cfg.traffic_years, cfg.seed, &raw.join("traffic"))?;
    g.traffic.extend(files);
    g.traffic_rows = rows;
    g.factors = raw.join("factors");
    for (name, text) in DEFAULT_FACTORS {
        write(&g.factors.join(name), text.as_bytes())?;
    }
    Ok(g)
}
