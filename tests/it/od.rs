//! The origin–destination indicators (issue 11) against an independent computation
//! (tests/od/independent.py, the csv module only) on tests/fixtures/od.
//!
//! The fixture: 50 persons in four strata (inner 14, outer 13, north 12, rest 11) with unequal
//! weights, 11 of them without trips; 109 trips between the zones 0301, 3024, 3201 and 3203
//! given in the files (no zones are ingested), 30 trips with an end without a zone id
//! (`outside`), one of them outside → outside. Eight modes and purposes, one trip without a
//! purpose, one without a distance, one without a departure time (period `other`), departures
//! on the period boundaries (05:59, 06:00, 08:59, 08:59:59, 09:00, 15:00, 17:59, 18:00) and
//! distances on the band boundaries (1, 2.5, 5, 10, 25, 50 km). Five zone pairs are used by one
//! person only; 18 by persons of two to four strata. Persons without an age, a gender, an
//! employment or a travel date are in no domain of that breakdown; homes with and without a
//! zone.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::{ok, root};

/// The indicators, their keys, and the cells (someone of the domain has a trip in the cell) the
/// independent computation finds on the fixture.
const INDICATORS: [(&str, &[&str], usize); 5] = [
    ("od_trips", &["origin_zone_id", "dest_zone_id"], 421),
    (
        "od_trips_by_mode",
        &["mode", "origin_zone_id", "dest_zone_id"],
        721,
    ),
    (
        "od_trips_by_period",
        &["period", "origin_zone_id", "dest_zone_id"],
        590,
    ),
    ("trips_produced", &["zone_id"], 153),
    ("trips_attracted", &["zone_id"], 153),
];

/// The columns of every survey indicator after its keys.
const VALUE_COLUMNS: [&str; 10] = [
    "estimate",
    "se",
    "ci_lower",
    "ci_upper",
    "n",
    "n_eff",
    "cv",
    "suppressed",
    "unit",
    "se_method",
];

/// A cell: breakdown, breakdown_value, then the keys' values.
type Cell = Vec<String>;
/// The cells of an indicator file: (estimate, se, n).
type Cells = BTreeMap<Cell, (f64, f64, i64)>;

/// The header of a CSV file, and its rows by cell → (estimate, se, n).
fn read(path: &Path, keys: &[&str]) -> (Vec<String>, Cells) {
    let mut r = csv::Reader::from_path(path)
        .unwrap_or_else(|e| panic!("{} does not read: {e}", path.display()));
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let col = |n: &str| -> usize {
        header
            .iter()
            .position(|c| c == n)
            .unwrap_or_else(|| panic!("no column {n} in {}: {header:?}", path.display()))
    };
    let cell_cols: Vec<usize> = ["breakdown", "breakdown_value"]
        .iter()
        .chain(keys.iter())
        .map(|&n| col(n))
        .collect();
    let (est, se, n) = (col("estimate"), col("se"), col("n"));
    let mut cells = BTreeMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let cell: Cell = cell_cols.iter().map(|&i| rec[i].to_string()).collect();
        let num = |i: usize| -> f64 {
            rec[i].parse().unwrap_or_else(|e| {
                panic!(
                    "{}: {:?} in {cell:?} is not a number: {e}",
                    path.display(),
                    &rec[i]
                )
            })
        };
        let values = (
            num(est),
            num(se),
            rec[n]
                .parse::<i64>()
                .unwrap_or_else(|e| panic!("{}: n {:?}: {e}", path.display(), &rec[n])),
        );
        let again = cells.insert(cell.clone(), values);
        assert!(again.is_none(), "{}: cell {cell:?} twice", path.display());
    }
    (header, cells)
}

/// The position of column `n` in a CSV reader's header.
fn column(r: &mut csv::Reader<std::fs::File>, n: &str) -> usize {
    r.headers()
        .unwrap()
        .iter()
        .position(|c| c == n)
        .unwrap_or_else(|| panic!("no column {n}"))
}

/// Σ over persons of weight × their trips, straight from the fixture's CSV files.
fn weighted_trips(fixture: &Path) -> f64 {
    let mut persons = csv::Reader::from_path(fixture.join("persons.csv")).unwrap();
    let (id, w) = (
        column(&mut persons, "person_id"),
        column(&mut persons, "weight"),
    );
    let weight: HashMap<String, f64> = persons
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[id].to_string(), r[w].parse::<f64>().unwrap())
        })
        .collect();
    let mut trips = csv::Reader::from_path(fixture.join("trips.csv")).unwrap();
    let pid = column(&mut trips, "person_id");
    let mut per_person: HashMap<String, u32> = HashMap::new();
    for r in trips.records() {
        *per_person.entry(r.unwrap()[pid].to_string()).or_default() += 1;
    }
    per_person
        .iter()
        .map(|(p, &n)| {
            let w = weight
                .get(p)
                .unwrap_or_else(|| panic!("trip of person {p}, who is not in persons.csv"));
            w * f64::from(n)
        })
        .sum()
}

/// |a − b| within `rel` of the larger magnitude, or within `abs`.
fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= abs.max(rel * a.abs().max(b.abs()))
}

#[test]
fn od_indicators_equal_an_independent_computation() {
    if !crate::python_with("csv") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let independent = dir.path().join("independent");
    let fixture = root().join("tests/fixtures/od");
    ok(&[
        "ingest",
        "survey",
        "--mapping",
        "canonical",
        fixture.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
        "--strict",
        "-q",
    ]);
    let only = INDICATORS.iter().map(|i| i.0).collect::<Vec<_>>().join(",");
    ok(&[
        "run",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--only",
        only.as_str(),
        "-q",
    ]);
    let stdout = crate::python(&[
        root().join("tests/od/independent.py").as_os_str(),
        fixture.as_os_str(),
        independent.as_os_str(),
    ]);
    let total_trips: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("total_trips "))
        .unwrap_or_else(|| panic!("no total_trips line in the script's output:\n{stdout}"))
        .trim()
        .parse()
        .unwrap();
    let script_cells: HashMap<&str, usize> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("cells "))
        .map(|l| {
            let (id, n) = l.split_once(' ').expect("cells <id> <count>");
            (id, n.trim().parse::<usize>().unwrap())
        })
        .collect();
    // Σ w·trips from the CSV files here, beside the script's.
    let direct = weighted_trips(&fixture);
    assert!(
        close(total_trips, direct, 1e-12, 0.0),
        "Σ w·trips: the script says {total_trips}, the CSV files {direct}"
    );

    for (id, keys, want_cells) in INDICATORS {
        let (header, got) = read(&out.join(format!("indicators/{id}.csv")), keys);
        let mut want_header = vec!["breakdown", "breakdown_value"];
        want_header.extend(keys);
        want_header.extend(VALUE_COLUMNS);
        assert_eq!(
            header, want_header,
            "{id}: the columns of mobility's output"
        );
        let (_, want) = read(&independent.join(format!("{id}.csv")), keys);

        // The same cells both ways.
        let only_mobility: Vec<&Cell> = got.keys().filter(|c| !want.contains_key(*c)).collect();
        let only_script: Vec<&Cell> = want.keys().filter(|c| !got.contains_key(*c)).collect();
        assert!(
            only_mobility.is_empty() && only_script.is_empty(),
            "{id}: cells only in mobility's output: {only_mobility:?}; \
             only in the independent computation: {only_script:?}"
        );
        for (cell, &(e, se, n)) in &want {
            let (got_e, got_se, got_n) = got[cell];
            assert!(
                close(got_e, e, 1e-9, 0.0),
                "{id} {cell:?}: estimate {got_e}, independently {e}"
            );
            assert!(
                close(got_se, se, 1e-6, 1e-9),
                "{id} {cell:?}: se {got_se}, independently {se}"
            );
            assert_eq!(got_n, n, "{id} {cell:?}: n");
        }
        assert_eq!(
            script_cells.get(id),
            Some(&want.len()),
            "{id}: the script's count of cells and its file"
        );
        assert_eq!(want.len(), want_cells, "{id}: cells compared");

        // Every trip is in exactly one cell of the matrix, of the origins and of the
        // destinations (`outside` where a zone is missing): the `all` cells add up to all trips.
        if matches!(id, "od_trips" | "trips_produced" | "trips_attracted") {
            let sum: f64 = got
                .iter()
                .filter(|(c, _)| c[0] == "all")
                .map(|(_, v)| v.0)
                .sum();
            assert!(
                close(sum, total_trips, 1e-9, 0.0),
                "{id}: the `all` cells add up to {sum}, the script's Σ w·trips is {total_trips}"
            );
            assert!(
                close(sum, direct, 1e-9, 0.0),
                "{id}: the `all` cells add up to {sum}, Σ w·trips from the CSV files is {direct}"
            );
        }
    }
}

/// The wide matrices and the desire lines of a run on the shipped sample at the municipality
/// level: each matrix cell is its long table's estimate (0 where absent), the mode matrices add
/// up to the all-modes one, and every desire line, read back by shapely, runs from the origin
/// zone's centroid to the destination's (GEOS's centroid of the stored zones) with the flow's
/// estimate.
#[test]
fn od_matrices_and_desire_lines_match_the_long_tables() {
    if !crate::python_with("shapely, pyarrow") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let sample = root().join("data/sample");
    ok(&[
        "run",
        "--data",
        sample.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--only",
        "od_trips,od_trips_by_mode",
        "--od-zone-kind",
        "kommune",
        "-q",
    ]);
    let matrix = |name: &str| -> BTreeMap<(String, String), f64> {
        let mut r =
            csv::Reader::from_path(out.join(format!("indicators/od_matrix_{name}.csv"))).unwrap();
        let dests: Vec<String> = r
            .headers()
            .unwrap()
            .iter()
            .skip(1)
            .map(String::from)
            .collect();
        let mut m = BTreeMap::new();
        for rec in r.records() {
            let rec = rec.unwrap();
            for (j, d) in dests.iter().enumerate() {
                m.insert((rec[0].to_string(), d.clone()), rec[j + 1].parse().unwrap());
            }
        }
        m
    };
    let all = matrix("all");
    let (_, long) = read(
        &out.join("indicators/od_trips.csv"),
        &["origin_zone_id", "dest_zone_id"],
    );
    let mut in_long = 0;
    for ((o, d), v) in &all {
        let want = long
            .iter()
            .find(|(c, _)| c[0] == "all" && c[2] == *o && c[3] == *d)
            .map_or(0.0, |(_, e)| e.0);
        in_long += usize::from(want != 0.0);
        assert!(close(*v, want, 1e-12, 1e-9), "{o}→{d}: {v} vs {want}");
    }
    assert!(in_long >= 10, "{in_long} flows");
    let modes: Vec<String> = std::fs::read_dir(out.join("indicators"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| {
            Some(
                n.strip_prefix("od_matrix_")?
                    .strip_suffix(".csv")?
                    .to_string(),
            )
        })
        .filter(|m| m != "all")
        .collect();
    assert!(modes.len() >= 5, "{modes:?}");
    let mut sum: BTreeMap<(String, String), f64> = BTreeMap::new();
    for m in &modes {
        for (k, v) in matrix(m) {
            *sum.entry(k).or_default() += v;
        }
    }
    for (k, v) in &all {
        assert!(
            close(sum[k], *v, 1e-9, 1e-9),
            "{k:?}: modes add up to {} not {v}",
            sum[k]
        );
    }
    let zones = crate::table_dir(&sample, "zones").join("data.parquet");
    let script = r#"
import sys, json
import pyarrow.parquet as pq, pyarrow.csv as pc
import shapely
z = pq.read_table(sys.argv[1]).to_pydict()
centre = {i: shapely.from_wkb(g).centroid for i, g, k in zip(z["zone_id"], z["geometry"], z["kind"]) if k == "kommune"}
lines = pq.read_table(sys.argv[2]).to_pydict()
long = pc.read_csv(sys.argv[3], convert_options=pc.ConvertOptions(column_types={"origin_zone_id": "string", "dest_zone_id": "string", "breakdown_value": "string"})).to_pydict()
want = {(o, d): e for b, o, d, e in zip(long["breakdown"], long["origin_zone_id"], long["dest_zone_id"], long["estimate"]) if b == "all" and o != d and o in centre and d in centre}
got = {}
for o, d, e, g in zip(lines["origin_zone_id"], lines["dest_zone_id"], lines["estimate"], lines["geometry"]):
    line = shapely.from_wkb(g)
    assert line.geom_type == "LineString", line.geom_type
    (x0, y0), (x1, y1) = line.coords
    assert abs(x0 - centre[o].x) < 1e-9 and abs(y0 - centre[o].y) < 1e-9, (o, line, centre[o])
    assert abs(x1 - centre[d].x) < 1e-9 and abs(y1 - centre[d].y) < 1e-9, (d, line, centre[d])
    got[(o, d)] = e
assert got == want, (got, want)
gj = json.load(open(sys.argv[2].replace(".parquet", ".geojson")))
assert len(gj["features"]) == len(got)
print(len(got))
"#;
    let lines = out.join("geo/od_trips_desire_lines.parquet");
    let long = out.join("indicators/od_trips.csv");
    let said = crate::python(&[
        std::ffi::OsStr::new("-c"),
        script.as_ref(),
        zones.as_os_str(),
        lines.as_os_str(),
        long.as_os_str(),
    ]);
    let n: usize = said.trim().parse().unwrap();
    assert!(n >= 3, "{n} desire lines");
}

/// Accessibility to public transport: the weighted share of residents whose home lies within
/// 300, 500 and 1,000 m of a stop equals Σ w·[d ≤ X] / Σ w over the persons with home
/// coordinates, the distances taken from `nearest_stop_m` (checked against GeographicLib in
/// tests/sql/geo_functions.slt) and the sums done here.
#[test]
fn pt_access_is_the_weighted_share_within_each_distance() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ok(&[
        "synth",
        "--persons",
        "400",
        "--seed",
        "5",
        "--traffic-points",
        "0",
        "--out",
        data.to_str().unwrap(),
        "-q",
    ]);
    let stops = dir.path().join("stops.txt");
    std::fs::write(
        &stops,
        "stop_id,stop_name,stop_lat,stop_lon\nS1,Sandvika,59.890,10.520\nS2,Lysaker,59.913,10.636\nS3,Stabekk,59.909,10.612\nS4,Bekkestua,59.918,10.588\n",
    )
    .unwrap();
    ok(&[
        "ingest",
        "gtfs",
        stops.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
        "-q",
    ]);
    let rows = ok(&[
        "sql",
        "--data",
        data.to_str().unwrap(),
        "--format",
        "csv",
        "-c",
        "SELECT p.weight, nearest_stop_m(h.home_lon, h.home_lat) AS d FROM persons p \
         JOIN households h ON h.household_id = p.household_id WHERE h.home_lon IS NOT NULL",
    ]);
    let wd: Vec<(f64, f64)> = rows
        .lines()
        .skip(1)
        .map(|l| {
            let (w, d) = l.split_once(',').unwrap();
            (w.parse().unwrap(), d.parse().unwrap())
        })
        .collect();
    assert!(wd.len() > 300, "{} persons with a home", wd.len());
    let out = dir.path().join("out");
    ok(&[
        "run",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--only",
        "pt_access",
        "-q",
    ]);
    let (_, cells) = read(&out.join("indicators/pt_access.csv"), &["within_m"]);
    let total: f64 = wd.iter().map(|(w, _)| w).sum();
    let mut last = 0.0;
    for within in [300.0, 500.0, 1000.0] {
        let want = wd
            .iter()
            .filter(|(_, d)| *d <= within)
            .map(|(w, _)| w)
            .sum::<f64>()
            / total;
        let key = vec!["all".to_string(), String::new(), format!("{within}")];
        let (est, se, _) = cells
            .get(&key)
            .or_else(|| {
                cells.get(&vec![
                    "all".into(),
                    String::new(),
                    format!("{}", within as i64),
                ])
            })
            .unwrap_or_else(|| {
                panic!(
                    "no cell {within} in {:?}",
                    cells.keys().take(5).collect::<Vec<_>>()
                )
            });
        assert!(
            close(*est, want, 1e-12, 1e-12),
            "{within} m: {est} vs {want}"
        );
        assert!(
            *se > 0.0 || want == 0.0 || want == 1.0,
            "{within} m: se {se}"
        );
        assert!(*est >= last, "shares grow with the distance");
        last = *est;
    }
    assert!(last > 0.0, "some home within 1,000 m of a stop");
    assert!(cells.keys().any(|k| k[0] == "home_zone"), "per home zone");
}
