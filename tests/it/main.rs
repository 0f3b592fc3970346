//! Integration tests of the `mobility` binary, one test binary of modules.

mod architecture;
mod bad_inputs;
mod calendar;
mod calibration;
mod cli;
mod cluster;
mod ingest_fixtures;
mod od;
mod outputs;
mod real_data;
mod reliability;
mod report;
mod road;
mod s3;
mod sql;
mod survey;
mod tour_survey;
mod traffic;
mod traffic_independent;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// `../shared/data/real` beside the checkout, or `None` (tests that need it then skip, saying
/// so); under `CI=true` its absence fails the test instead.
pub fn shared_data() -> Option<PathBuf> {
    let p = root().join("../shared/data/real");
    if p.is_dir() {
        return Some(p);
    }
    assert!(
        !std::env::var("CI").is_ok_and(|v| v == "true"),
        "{} is absent, and CI (CI=true) must have the shared test data beside the clone",
        p.display()
    );
    eprintln!(
        "SKIP: {} is absent (a fresh clone without the shared test data)",
        p.display()
    );
    None
}

/// Whether `python3` can import `modules`; under `CI=true` their absence fails the test.
pub fn python_with(modules: &str) -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "CI must have python3 with {modules} (.ci/run installs them)"
        );
        eprintln!("SKIP: python3 with {modules} is not installed");
    }
    found
}

/// Runs `python3` with `args` (a script path, or `-c` and its text, then its arguments),
/// insists on success (showing its stderr) and returns its stdout.
pub fn python<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> String {
    let out = std::process::Command::new("python3")
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python3 failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs `mobility` with `args`.
pub fn mobility(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mobility"))
        .args(args)
        .output()
        .expect("mobility runs")
}

/// Runs `mobility` and insists on success, returning stdout.
pub fn ok(args: &[&str]) -> String {
    let out = mobility(args);
    assert!(
        out.status.success(),
        "mobility {args:?} failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Runs `mobility` and insists on failure, returning stderr.
pub fn fails(args: &[&str]) -> String {
    let out = mobility(args);
    assert!(
        !out.status.success(),
        "mobility {args:?} should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).expect("UTF-8 output")
}

/// A copy of data/sample at `to`, files only (its generations and pointer as they are).
pub fn sample_copy(to: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let p = e.unwrap().path();
            let t = to.join(p.file_name().unwrap());
            if p.is_dir() {
                copy(&p, &t);
            } else {
                std::fs::copy(&p, &t).unwrap();
            }
        }
    }
    copy(&root().join("data/sample"), to);
}

/// A run's `manifest.json`.
pub fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("manifest.json")).expect("the run wrote it"))
        .expect("JSON")
}

/// Every row of a table in a data directory.
pub fn table(dir: &Path, name: &str) -> arrow::array::RecordBatch {
    let t: mobility_model::Table = name.parse().expect("a table name");
    let batches = mobility_ingest::store::DataDir::new(dir)
        .read_table(t)
        .expect("table reads");
    arrow::compute::concat_batches(&t.schema(), &batches).expect("one schema")
}

/// The committed folder of a table in a data directory (as `_current` names it).
pub fn table_dir(dir: &Path, name: &str) -> PathBuf {
    let t: mobility_model::Table = name.parse().expect("a table name");
    mobility_model::layout::Snapshot::read(dir)
        .expect("the pointer reads")
        .table_dir(dir, t)
}

/// The values of a string column.
pub fn strings(b: &arrow::array::RecordBatch, col: &str) -> Vec<Option<String>> {
    let c = arrow::compute::cast(
        b.column_by_name(col).expect("column"),
        &arrow::datatypes::DataType::Utf8,
    )
    .expect("cast");
    let s = arrow::array::AsArray::as_string::<i32>(&c);
    (0..arrow::array::Array::len(s))
        .map(|i| arrow::array::Array::is_valid(s, i).then(|| s.value(i).to_string()))
        .collect()
}

/// The text of HTML as a browser shows it: the entities the report's template writes for
/// `& < > " '` (named or numeric) read back as the characters.
pub fn html_text(html: &str) -> String {
    [
        ("&#34;", "\""),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&#x27;", "'"),
        ("&#60;", "<"),
        ("&lt;", "<"),
        ("&#62;", ">"),
        ("&gt;", ">"),
        ("&#38;", "&"),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(html.to_string(), |s, (entity, c)| s.replace(entity, c))
}

/// `mobility run` over the shipped sample into `out`, quietly, with `extra` flags; its stdout.
pub fn run_sample(out: &Path, extra: &[&str]) -> String {
    let data = root().join("data/sample");
    let mut args = vec![
        "run",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args.push("-q");
    ok(&args)
}
