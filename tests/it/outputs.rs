//! Outputs for other tools: GeoParquet and GeoJSON read back by pyarrow and shapely, and the
//! CSV dialect for Norwegian Excel.

use std::process::Command;

use crate::python_with;

const CHECK: &str = r#"
import json, sys
import pyarrow.parquet as pq
import pyarrow.csv as pcsv
import shapely
from shapely.geometry import shape

out = sys.argv[1]
checked = 0
for name, key in [("sustainable_share_home_zone", "zone_id"), ("traffic_points_adt", "trp_id")]:
    f = pq.ParquetFile(f"{out}/geo/{name}.parquet")
    meta = json.loads(f.metadata.metadata[b"geo"])
    assert meta["version"] == "1.1.0" and meta["primary_column"] == "geometry", meta
    col = meta["columns"]["geometry"]
    assert col["encoding"] == "WKB", col
    t = f.read().to_pydict()
    geoms = shapely.from_wkb(t["geometry"])
    kinds = sorted({g.geom_type for g in geoms})
    assert kinds == sorted(col["geometry_types"]), (kinds, col)
    x0, y0, x1, y1 = col["bbox"]
    for g in geoms:
        assert g.is_valid and not g.is_empty
        a, b, c, d = g.bounds
        assert x0 <= a and b >= y0 and c <= x1 and d <= y1
    gj = json.load(open(f"{out}/geo/{name}.geojson"))
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == len(geoms)
    for feat, g, i in zip(gj["features"], geoms, range(len(geoms))):
        assert shape(feat["geometry"]).equals(g), name
        assert feat["properties"][key] == t[key][i]
        for k, v in feat["properties"].items():
            w = t[k][i]
            assert (v == w) or (isinstance(v, float) and abs(v - w) < 1e-12), (k, v, w)
    checked += len(geoms)
# The zone layer carries the same estimates as the indicator table.
ind = pcsv.read_csv(f"{out}/indicators/sustainable_share.csv").to_pydict()
want = {v: e for b, v, e in zip(ind["breakdown"], ind["breakdown_value"], ind["estimate"]) if b == "home_zone"}
got = pq.read_table(f"{out}/geo/sustainable_share_home_zone.parquet").to_pydict()
assert {str(z): e for z, e in zip(got["zone_id"], got["estimate"])} == {str(k): v for k, v in want.items()}
print("ok", checked)
"#;

#[test]
fn geoparquet_and_geojson_round_trip_through_pyarrow_and_shapely() {
    if !python_with("pyarrow, shapely") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    crate::run_sample(&out, &[]);
    let py = Command::new("python3")
        .args(["-c", CHECK])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&py.stdout);
    assert!(
        py.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let n: usize = stdout.trim().trim_start_matches("ok ").parse().unwrap();
    // 48 home zones of the sample and 4 counting points × 3 years.
    assert_eq!(n, 48 + 12, "{stdout}");
}

#[test]
fn excel_nb_csv_has_a_bom_semicolons_and_decimal_commas() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    crate::run_sample(
        &out,
        &[
            "--csv-dialect",
            "excel-nb",
            "--only",
            "trips_per_person_day",
        ],
    );
    let text = std::fs::read_to_string(out.join("indicators/trips_per_person_day.csv")).unwrap();
    assert!(text.starts_with('\u{feff}'), "BOM");
    let mut lines = text.trim_start_matches('\u{feff}').split("\r\n");
    assert!(lines.next().unwrap().starts_with(
        "breakdown;breakdown_value;estimate;se;ci_lower;ci_upper;n;n_eff;cv;suppressed;unit"
    ));
    let all: Vec<&str> = lines.next().unwrap().split(';').collect();
    assert_eq!(all[0], "all");
    assert_eq!(all[1], "");
    // The same estimate as the Parquet file, with a decimal comma.
    let est: f64 = all[2].replace(',', ".").parse().unwrap();
    assert!(all[2].contains(','), "{}", all[2]);
    assert!((est - 3.1098837747738544).abs() < 1e-12, "{est}");
    assert_eq!(all[6], "2555");
}
