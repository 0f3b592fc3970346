//! Macro benchmark: parse trafikkdata.no hourly exports (decode, split, validate, build Arrow)
//! and write them as a data directory. Runs on the real Bærum export when ../shared/data is
//! present (skipping it, saying so, where it is absent; failing under CI=true), and always on
//! a synthetic export of 8 points x 1 year. Prints one JSON line per
//! workload: rows, bytes, seconds, rows/s, MB/s (median of 5 runs).
//!
//! `cargo bench -p mobility-ingest --bench ingest_traffic`

use std::path::{Path, PathBuf};
use std::time::Instant;

use mobility_ingest::store::DataDir;
use mobility_ingest::{Options, ingest_traffic};

fn measure(name: &str, file: &Path) {
    let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..5 {
        let out = tempfile::tempdir().expect("temp dir");
        let t0 = Instant::now();
        let s = ingest_traffic(
            &DataDir::new(out.path()),
            &[file.to_path_buf()],
            &Options::default(),
        )
        .expect("ingest");
        times.push(t0.elapsed().as_secs_f64());
        rows = s.files.iter().map(|f| f.rows_read).sum::<u64>();
    }
    times.sort_by(f64::total_cmp);
    let t = times[times.len() / 2];
    println!(
        "{{\"workload\": \"{name}\", \"rows\": {rows}, \"bytes\": {bytes}, \"seconds\": {t:.4}, \"rows_per_s\": {:.0}, \"mb_per_s\": {:.1}}}",
        rows as f64 / t,
        bytes as f64 / t / 1e6
    );
}

fn main() {
    let real = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/real/trafikkdata-baerum-hour-2024-05.csv");
    if real.exists() {
        measure(
            "trafikkdata-baerum-hour-2024-05.csv (real, 11 MB, ISO-8859-1)",
            &real,
        );
    } else if std::env::var("CI").is_ok_and(|v| v == "true") {
        eprintln!(
            "ingest_traffic: {} is absent, and CI must have ../shared/data",
            real.display()
        );
        std::process::exit(1);
    } else {
        eprintln!("SKIP real export: {} is absent", real.display());
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let points = mobility_synth::traffic::points(8, 1);
    let mut text = String::from(mobility_synth::traffic::HEADER);
    text.push('\n');
    for (_, _, t) in mobility_synth::traffic::exports(&points, &[2024], 1) {
        text.push_str(&t);
    }
    let file: PathBuf = dir.path().join("synthetic-2024.csv");
    std::fs::write(&file, text).expect("write");
    measure("synthetic export, 8 points x 2024 (UTF-8)", &file);
}
