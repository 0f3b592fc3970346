//! The real files of `../shared/data/real` ingest as the issue says.

use crate::{ok, shared_data, strings, table};

#[test]
fn trafikkdata_export_every_line_accounted_for() {
    let Some(real) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let file = real.join("trafikkdata-baerum-hour-2024-05.csv");
    let lines = std::fs::read(&file)
        .unwrap()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    let out = ok(&["ingest", "traffic", file.to_str().unwrap(), "--out", data]);
    // file | table | encoding | read | written | rejected
    let row = out
        .lines()
        .find(|l| l.contains("trafikkdata-baerum"))
        .expect("a summary row");
    let f: Vec<&str> = row.split_whitespace().collect();
    let n = f.len();
    let (read, written, rejected): (usize, usize, usize) = (
        f[n - 3].parse().unwrap(),
        f[n - 2].parse().unwrap(),
        f[n - 1].parse().unwrap(),
    );
    assert_eq!(f[n - 4], "ISO-8859-1", "{row}");
    assert_eq!(read, lines - 1, "{out}");
    assert_eq!(written + rejected, lines - 1, "{out}");
    let hourly = table(dir.path(), "traffic_hourly");
    assert_eq!(hourly.num_rows(), written);
    let points = table(dir.path(), "traffic_points");
    assert_eq!(points.num_rows(), 16);
    // Missing volumes stay NULL, never 0: the export has 1,382 lines with '-'.
    let nulls = arrow::array::Array::null_count(hourly.column_by_name("volume").unwrap());
    assert_eq!(nulls, 1382);

    // A rerun of the same input replaces its rows instead of adding them.
    ok(&["ingest", "traffic", file.to_str().unwrap(), "--out", data]);
    assert_eq!(table(dir.path(), "traffic_hourly").num_rows(), written);
    assert_eq!(table(dir.path(), "traffic_points").num_rows(), 16);
}

#[test]
fn municipalities_and_registration_points_with_zone_ids() {
    let Some(real) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let geojson = real.join("kommuner-2024-s.geojson");
    ok(&[
        "ingest",
        "zones",
        geojson.to_str().unwrap(),
        "--id-field",
        "kommunenummer",
        "--name-field",
        "kommunenavn",
        "--kind",
        "kommune",
        "--repair",
        "--out",
        data,
    ]);
    let zones = table(dir.path(), "zones");
    // 28 of the simplified boundaries are invalid (tests/it/reliability.rs checks which, against
    // GEOS); --repair keeps them, repaired.
    assert_eq!(zones.num_rows(), 357);
    assert!(strings(&zones, "name").contains(&Some("Bærum".into())));

    let export = real.join("trafikkdata-baerum-hour-2024-05.csv");
    let json = real.join("trafikkdata-registration-points.json");
    let out = ok(&[
        "ingest",
        "traffic",
        export.to_str().unwrap(),
        json.to_str().unwrap(),
        "--out",
        data,
    ]);
    assert!(
        out.contains("trafikkdata-registration-points.json"),
        "{out}"
    );
    let points = table(dir.path(), "traffic_points");
    let ids = strings(&points, "trp_id");
    let zone = strings(&points, "zone_id");
    let lon = points.column_by_name("lon").unwrap();
    let rejected = count_without_coordinates(&out);
    // Every JSON point with coordinates is there; points of the export missing from the JSON
    // are there too, without coordinates.
    assert!(
        points.num_rows() >= 8762 - rejected,
        "{}",
        points.num_rows()
    );
    assert!(arrow::array::Array::null_count(lon) <= 16 + rejected);
    // Every point of the Bærum export has coordinates from the JSON and lies in 3201 Bærum.
    let hourly_ids: std::collections::BTreeSet<String> =
        strings(&table(dir.path(), "traffic_hourly"), "trp_id")
            .into_iter()
            .flatten()
            .collect();
    assert_eq!(hourly_ids.len(), 16);
    let mut in_baerum = 0;
    for (i, id) in ids.iter().enumerate() {
        if hourly_ids.contains(id.as_deref().unwrap()) {
            assert_eq!(zone[i].as_deref(), Some("3201"), "{id:?}");
            in_baerum += 1;
        }
    }
    assert_eq!(in_baerum, 16);
    // Most points of Norway get a municipality; those on bridges, in sea tunnels and on the
    // coast fall outside the simplified polygons (251 of 8,762 when this was written).
    let located = zone.iter().filter(|z| z.is_some()).count();
    assert!(located as f64 > 0.95 * 8762.0, "{located}");
}

fn count_without_coordinates(summary: &str) -> usize {
    summary
        .lines()
        .find(|l| l.contains("registration-points.json"))
        .map(|l| l.split_whitespace().last().unwrap().parse().unwrap())
        .unwrap_or(0)
}

#[test]
fn gtfs_stops() {
    let Some(real) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let zip = real.join("gtfs-airport-buses.zip");
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("stops.txt").unwrap(), &mut text).unwrap();
    let records = csv::Reader::from_reader(text.as_bytes()).records().count();
    let out = ok(&[
        "ingest",
        "gtfs",
        zip.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let stops = table(dir.path(), "pt_stops");
    let rejected: usize = out
        .lines()
        .find(|l| l.contains("stops.txt"))
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(stops.num_rows() + rejected, records, "{out}");
    assert!(stops.num_rows() > 0);
    // GeoParquet 1.1 metadata is on the file.
    let part = crate::table_dir(dir.path(), "pt_stops").join("data.parquet");
    let reader =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(part).unwrap())
            .unwrap();
    let kv = parquet::file::reader::FileReader::metadata(&reader)
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap();
    let geo = kv
        .iter()
        .find(|k| k.key == "geo")
        .and_then(|k| k.value.clone())
        .unwrap();
    let geo: serde_json::Value = serde_json::from_str(&geo).unwrap();
    assert_eq!(geo["version"], "1.1.0");
    assert_eq!(geo["columns"]["geometry"]["encoding"], "WKB");
    assert_eq!(geo["columns"]["geometry"]["geometry_types"][0], "Point");
}
