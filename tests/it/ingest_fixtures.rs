//! Survey mappings, bad input and the guarantees of ingest, on the fixtures in tests/fixtures.

use crate::{fails, ok, root, strings, table};

fn fixture(name: &str) -> String {
    root()
        .join("tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn synth_zones(data: &str) {
    // The synthetic zones cover the fixtures' coordinates and grunnkrets codes.
    let raw = tempfile::tempdir().unwrap();
    let g = mobility_synth::write_raw(
        &mobility_synth::Config {
            persons: 10,
            seed: 1,
            traffic_points: 0,
            traffic_years: vec![],
        },
        raw.path(),
    )
    .unwrap();
    for (path, kind) in &g.zones {
        ok(&[
            "ingest",
            "zones",
            path.to_str().unwrap(),
            "--id-field",
            "zone_id",
            "--name-field",
            "name",
            "--kind",
            kind,
            "--out",
            data,
        ]);
    }
}

#[test]
fn rvu_mapping_reads_codes_text_ids_and_times_of_day() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = ok(&[
        "ingest",
        "survey",
        "--mapping",
        "rvu",
        &fixture("rvu"),
        "--out",
        data,
    ]);
    // RVU gives zone ids (grunnkrets) and no coordinates: zones in the data directory would
    // change nothing, so no note asks for them.
    assert!(!out.contains("note: no zones"), "{out}");
    let persons = table(dir.path(), "persons");
    assert_eq!(persons.num_rows(), 3, "{out}");
    assert_eq!(
        strings(&persons, "gender"),
        [
            Some("male".into()),
            Some("female".into()),
            Some("female".into())
        ]
    );
    let trips = table(dir.path(), "trips");
    assert_eq!(
        strings(&trips, "mode"),
        [
            Some("car_driver".into()),
            Some("car_driver".into()),
            Some("bus".into()),
            Some("walk".into())
        ]
    );
    assert_eq!(
        strings(&trips, "depart_at")[0].as_deref(),
        Some("2018-09-12T07:45:00")
    );
    assert_eq!(
        strings(&trips, "dest_zone_id")[0].as_deref(),
        Some("03010101")
    );
    let households = table(dir.path(), "households");
    assert_eq!(households.num_rows(), 3);
    assert_eq!(
        strings(&households, "cars"),
        [Some("1".into()), Some("0".into()), Some("2".into())]
    );

    let rejects =
        std::fs::read_to_string(dir.path().join("_rejects/survey-RVU_2018_reisefil.csv")).unwrap();
    assert!(rejects.contains(",7,HTRM,99,\"expected a mode code of mapping 'rvu': 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13\""), "{rejects}");
    assert!(
        rejects.contains(
            ",6,uuid,g7h8,no person with this id in the persons file (or it was rejected)"
        ),
        "{rejects}"
    );
    let prejects =
        std::fs::read_to_string(dir.path().join("_rejects/survey-RVU_2018_personfil.csv")).unwrap();
    assert!(
        prejects.contains(",5,utvalgsvekt_kombinert_Q1_Q3,,expected a weight"),
        "{prejects}"
    );
}

#[test]
fn canonical_bad_rows_are_kept_with_their_reason_and_consistency_holds() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    synth_zones(data);
    let out = ok(&["ingest", "survey", &fixture("canonical"), "--out", data]);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let counts = |name: &str| -> (u64, u64, u64) {
        let r = lines
            .iter()
            .find(|l| l[0].ends_with(name))
            .unwrap_or_else(|| panic!("{name} in {out}"));
        let n = r.len();
        (
            r[n - 3].parse().unwrap(),
            r[n - 2].parse().unwrap(),
            r[n - 1].parse().unwrap(),
        )
    };
    assert_eq!(counts("households.csv"), (3, 2, 1));
    assert_eq!(counts("persons.csv"), (5, 3, 2));
    assert_eq!(counts("trips.csv"), (7, 3, 4));
    let rejects = std::fs::read_to_string(dir.path().join("_rejects/survey-trips.csv")).unwrap();
    assert!(
        rejects.contains(
            ",5,mode,car,\"'car' is not a valid mode; expected one of: walk, bike, car_driver"
        ),
        "{rejects}"
    );
    assert!(
        rejects.contains(
            ",7,depart_at,2023-03-01 17:00,expected a date and time in the format %Y-%m-%d %H:%M:%S"
        ),
        "{rejects}"
    );
    assert!(
        rejects.contains(",8,distance_km,-1,expected a number of 0 or more"),
        "{rejects}"
    );
    let hrejects =
        std::fs::read_to_string(dir.path().join("_rejects/survey-households.csv")).unwrap();
    assert!(
        hrejects.contains(",4,size,abc,expected a whole number"),
        "{hrejects}"
    );

    // Zones are filled by point-in-polygon: homes and trip ends in the synthetic grunnkretser
    // (cells of 0.0375° x 0.02667° from 10.36 E, 59.86 N, id 3201<row><col>: 10.52 E 59.89 N is
    // row 2, column 5), the trip to 10.75 E lands in Oslo's kommune zone.
    let hh = table(dir.path(), "households");
    assert_eq!(
        strings(&hh, "home_zone_id"),
        [Some("32010205".into()), Some("32010307".into())]
    );
    let trips = table(dir.path(), "trips");
    assert_eq!(strings(&trips, "dest_zone_id")[0].as_deref(), Some("0301"));
}

#[test]
fn strict_fails_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let err = fails(&[
        "ingest",
        "survey",
        &fixture("canonical"),
        "--out",
        data,
        "--strict",
    ]);
    assert!(
        err.contains("row(s) rejected and --strict is set; nothing was written"),
        "{err}"
    );
    assert!(!dir.path().join("persons").exists());
}

#[test]
fn a_failed_ingest_leaves_the_previous_data_and_a_rerun_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let good = dir.path().join("good.csv");
    let header = mobility_synth::traffic::HEADER;
    let row = "00492V443603;Oslo grense;FV160 S1D1 m191;2024-05-01T00:00+02:00;2024-05-01T01:00+02:00;2024-05-01;00:00;01:00;Totalt;110;100,0;1;1;0;0;100,00;104;6;1;2;3;0;0;0";
    std::fs::write(&good, format!("{header}\n{row}\n")).unwrap();
    ok(&["ingest", "traffic", good.to_str().unwrap(), "--out", data]);
    ok(&["ingest", "traffic", good.to_str().unwrap(), "--out", data]);
    assert_eq!(table(dir.path(), "traffic_hourly").num_rows(), 1);
    let part = || crate::table_dir(dir.path(), "traffic_hourly").join("2024-04.parquet");
    let before = std::fs::read(part()).unwrap();
    let listing = || {
        let mut names = Vec::new();
        for e in std::fs::read_dir(dir.path().join("traffic_hourly")).unwrap() {
            let p = e.unwrap().path();
            names.push(p.display().to_string());
            if p.is_dir() {
                names.extend(
                    std::fs::read_dir(&p)
                        .unwrap()
                        .map(|e| e.unwrap().path().display().to_string()),
                );
            }
        }
        names.sort();
        names
    };
    let files_before = listing();

    // A second, newer file in the same run, then a broken one: the run fails as a whole.
    let newer = dir.path().join("newer.csv");
    std::fs::write(
        &newer,
        format!("{header}\n{}\n", row.replace(";110;", ";120;")),
    )
    .unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!("{}\n{}\n", header.replace(';', ","), row.replace(';', ",")),
    )
    .unwrap();
    let err = fails(&[
        "ingest",
        "traffic",
        newer.to_str().unwrap(),
        bad.to_str().unwrap(),
        "--out",
        data,
    ]);
    assert!(
        err.contains("bad.csv, line 1: expected ';'-separated columns"),
        "{err}"
    );
    assert_eq!(std::fs::read(part()).unwrap(), before);
    // Nothing of the failed run is left: no temporary file, no new generation.
    assert_eq!(listing(), files_before);

    // The newer file alone replaces the row.
    ok(&["ingest", "traffic", newer.to_str().unwrap(), "--out", data]);
    let t = table(dir.path(), "traffic_hourly");
    assert_eq!(strings(&t, "volume"), [Some("120".into())]);
}

#[test]
fn wrong_encoding_and_truncated_gzip_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let u16 = dir.path().join("utf16.csv");
    let bytes: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(
            mobility_synth::traffic::HEADER
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes()),
        )
        .collect();
    std::fs::write(&u16, bytes).unwrap();
    let err = fails(&[
        "ingest",
        "traffic",
        u16.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(
        err.contains("utf16.csv, line 1: the file is UTF-16"),
        "{err}"
    );

    let gz = dir.path().join("cut.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(
        &mut enc,
        mobility_synth::traffic::HEADER.repeat(50).as_bytes(),
    )
    .unwrap();
    let full = enc.finish().unwrap();
    std::fs::write(&gz, &full[..full.len() / 2]).unwrap();
    let err = fails(&[
        "ingest",
        "traffic",
        gz.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(
        err.contains("cut.csv.gz: truncated or corrupt gzip data"),
        "{err}"
    );
}

#[test]
fn default_factors_ingest_without_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&[
        "ingest",
        "factors",
        root().join("data/factors").to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
        "--strict",
    ]);
    assert!(out.contains("table emission_factors:"), "{out}");
    let ef = table(dir.path(), "emission_factors");
    assert!(
        strings(&ef, "source")
            .iter()
            .all(|s| s.as_deref().is_some_and(|s| !s.is_empty()))
    );
    assert_eq!(table(dir.path(), "fleet_mix").num_rows(), 10);
    assert_eq!(table(dir.path(), "occupancy").num_rows(), 6);
}

#[test]
fn a_repeated_zone_id_is_rejected_naming_both_lines_and_the_counts_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("z.geojson");
    let feature = |id: &str| {
        format!(
            "{{\"type\": \"Feature\", \"properties\": {{\"id\": \"{id}\"}}, \"geometry\": {{\"type\": \"Polygon\", \"coordinates\": [[[10, 59], [11, 59], [11, 60], [10, 59]]]}}}}"
        )
    };
    std::fs::write(
        &f,
        format!(
            "{{\"type\": \"FeatureCollection\", \"features\": [\n{},\n{},\n{}]}}",
            feature("a"),
            feature("b"),
            feature("a")
        ),
    )
    .unwrap();
    let out = ok(&[
        "ingest",
        "zones",
        f.to_str().unwrap(),
        "--out",
        dir.path().join("d").to_str().unwrap(),
    ]);
    let row: Vec<&str> = out
        .lines()
        .find(|l| l.contains("z.geojson"))
        .unwrap()
        .split_whitespace()
        .collect();
    let n = row.len();
    assert_eq!(&row[n - 3..], ["3", "2", "1"], "{out}");
    let rejects =
        std::fs::read_to_string(dir.path().join("d/_rejects/zones-z.geojson.csv")).unwrap();
    assert!(
        rejects.contains(",4,zone_id,a,duplicate key: the same row key is on line 2"),
        "{rejects}"
    );
}
