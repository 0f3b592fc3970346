//! The traffic-index indicators (`traffic_index_rolling`, `traffic_index_yearly`, `nullvekst`)
//! against an independent re-implementation in Python, tests/traffic/independent.py, on its
//! seeded five-year hourly fixture (2020-2024, six points, two municipalities): the month rules
//! of the rolling index (coverage, length quality, the reference year's ten months, the 9/20/31
//! values of a window and the 36-month calendar-month rule), the point index's hour and day
//! filters and DST days, the area index with n_eff, SD, SE and CI, and the chaining. Every row
//! of both sides must have its twin on the other side, with text equal and numbers within 1e-9
//! (relative, or absolute below 1).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::{ok, root};

/// Whether python3 (>= 3.9, zoneinfo with Europe/Oslo: all the script needs) is here; under
/// CI=true it must be.
fn python_with_zoneinfo() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import zoneinfo; zoneinfo.ZoneInfo('Europe/Oslo')"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "CI must have python3 (>= 3.9) with zoneinfo and the Europe/Oslo time zone"
        );
        eprintln!("SKIP: python3 (>= 3.9) with zoneinfo and Europe/Oslo is not installed");
    }
    found
}

/// Runs tests/traffic/independent.py with `args`, insisting on success; returns stdout.
fn script(args: &[&str]) -> String {
    let py = Command::new("python3")
        .arg(root().join("tests/traffic/independent.py"))
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        py.status.success(),
        "independent.py {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&py.stdout),
        String::from_utf8_lossy(&py.stderr)
    );
    String::from_utf8(py.stdout).expect("UTF-8 output")
}

type Rows = BTreeMap<Vec<String>, Vec<String>>;

/// A CSV file: its header, and its rows by the values of the `key` columns.
fn read(path: &Path, key: &[&str]) -> (Vec<String>, Rows) {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let idx: Vec<usize> = key
        .iter()
        .map(|k| {
            header
                .iter()
                .position(|h| h == k)
                .unwrap_or_else(|| panic!("{}: no column {k}", path.display()))
        })
        .collect();
    let mut rows = Rows::new();
    for rec in r.records() {
        let row: Vec<String> = rec.unwrap().iter().map(str::to_string).collect();
        let k: Vec<String> = idx.iter().map(|&i| row[i].clone()).collect();
        assert!(
            rows.insert(k.clone(), row).is_none(),
            "{}: the key {k:?} twice",
            path.display()
        );
    }
    (header, rows)
}

/// Equal text (empty = null on both sides), or numbers within 1e-9 relative (absolute below 1).
fn same(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => false,
    }
}

/// Compares mobility's `<out>/indicators/<name>.csv` with the script's `<expected>/<name>.csv`
/// both ways, adding every difference to `diffs`; returns the script's row count.
fn compare(
    name: &str,
    key: &[&str],
    out: &Path,
    expected: &Path,
    diffs: &mut Vec<String>,
) -> usize {
    let (h1, ours) = read(&out.join(format!("indicators/{name}.csv")), key);
    let (h2, theirs) = read(&expected.join(format!("{name}.csv")), key);
    let (mut s1, mut s2) = (h1.clone(), h2.clone());
    s1.sort();
    s2.sort();
    assert_eq!(
        s1, s2,
        "{name}: the columns of mobility vs the independent script"
    );
    for k in ours.keys().filter(|k| !theirs.contains_key(*k)) {
        diffs.push(format!("{name} {k:?}: only in mobility's output"));
    }
    for k in theirs.keys().filter(|k| !ours.contains_key(*k)) {
        diffs.push(format!("{name} {k:?}: missing from mobility's output"));
    }
    for (k, row) in &ours {
        let Some(other) = theirs.get(k) else { continue };
        for (i, col) in h1.iter().enumerate() {
            let j = h2.iter().position(|c| c == col).expect("same columns");
            if !same(&row[i], &other[j]) {
                diffs.push(format!(
                    "{name} {k:?} {col}: mobility {:?}, independent {:?}",
                    row[i], other[j]
                ));
            }
        }
    }
    theirs.len()
}

#[test]
fn traffic_indices_equal_an_independent_reimplementation() {
    if !python_with_zoneinfo() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fixture = dir.path().join("fixture");
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let expected = dir.path().join("expected");
    let s = |p: &Path| p.to_str().unwrap().to_string();

    script(&["fixture", &s(&fixture)]);
    ok(&[
        "ingest",
        "zones",
        &s(&fixture.join("kommuner.geojson")),
        "--id-field",
        "kommunenummer",
        "--name-field",
        "kommunenavn",
        "--kind",
        "kommune",
        "--out",
        &s(&data),
        "-q",
    ]);
    ok(&[
        "ingest",
        "traffic",
        &s(&fixture.join("traffic")),
        &s(&fixture.join("points.json")),
        "--out",
        &s(&data),
        "-q",
    ]);
    ok(&["run", "--data", &s(&data), "--out", &s(&out), "-q"]);
    let told = script(&["expected", &s(&fixture), &s(&expected)]);

    let mut diffs = Vec::new();
    let rolling = compare(
        "traffic_index_rolling",
        &["subset", "window", "last_month"],
        &out,
        &expected,
        &mut diffs,
    );
    let yearly = compare(
        "traffic_index_yearly",
        &["subset", "base_year", "calc_year"],
        &out,
        &expected,
        &mut diffs,
    );
    let null = compare("nullvekst", &["subset"], &out, &expected, &mut diffs);
    eprintln!("independent.py: {}", told.trim().replace('\n', ", "));
    // The fixture's rows: rolling 12-month windows ending Dec 2021-Dec 2024 (37), 24-month
    // Dec 2022-Dec 2024 (25) and 36-month Dec 2023-Dec 2024 (13) for all points and for
    // kommune 9001; for kommune 9002 (one point in the rolling index, down May-Nov 2022) the
    // 12-month windows ending Dec 2021-Jul 2022 and Aug 2023-Dec 2024 (25) and the 24-month
    // windows ending Jul-Dec 2024 (6); four pairs of years for each of the three subsets; one
    // nullvekst row per subset.
    assert_eq!(
        (rolling, yearly, null),
        (181, 12, 3),
        "rows of the independent script"
    );
    assert!(
        diffs.is_empty(),
        "{} differences between mobility and tests/traffic/independent.py:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
