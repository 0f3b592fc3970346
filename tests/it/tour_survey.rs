//! A tour-based survey in ActivitySim's survey-table layout (tests/fixtures/activitysim):
//! a constant weight, decimal-hour departures without travel dates, a tours file that is
//! recognised and left unread, and many-to-one code lists with one code deliberately left out.
//! Every expected number is computed here from the fixture's CSV files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type};

use crate::{ok, root, strings, table};

/// The mode code the mapping leaves out: its one trip is rejected and noted.
const UNMAPPED: &str = "SCHOOLBUS";

fn fixture() -> PathBuf {
    root().join("tests/fixtures/activitysim")
}

/// The rows of a fixture CSV, each by column name.
fn rows(name: &str) -> Vec<HashMap<String, String>> {
    let path = fixture().join(name);
    let mut r = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let header = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            header
                .iter()
                .zip(rec.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect::<HashMap<String, String>>()
        })
        .collect()
}

/// The values of a numeric column as f64.
fn floats(b: &RecordBatch, col: &str) -> Vec<Option<f64>> {
    let c = arrow::compute::cast(b.column_by_name(col).expect("column"), &DataType::Float64)
        .expect("cast");
    let a = c.as_primitive::<Float64Type>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect()
}

/// The values of an integer or timestamp column as i64 (timestamps: microseconds).
fn ints(b: &RecordBatch, col: &str) -> Vec<Option<i64>> {
    let c = arrow::compute::cast(b.column_by_name(col).expect("column"), &DataType::Int64)
        .expect("cast");
    let a = c.as_primitive::<Int64Type>();
    (0..a.len())
        .map(|i| a.is_valid(i).then(|| a.value(i)))
        .collect()
}

/// Decimal hours of the travel day as microseconds after its midnight.
fn hours_to_micros(h: &str) -> i64 {
    let h: f64 = h.parse().unwrap_or_else(|_| panic!("decimal hours: {h}"));
    (h * 3600.0).round() as i64 * 1_000_000
}

/// The first number right after `code` in `line` (as in `SCHOOLBUS (1)` or `SCHOOLBUS: 1`),
/// or else the last one right before it (`1 × SCHOOLBUS`).
fn count_beside(line: &str, code: &str) -> Option<u64> {
    let at = line.find(code)?;
    let after = &line[at + code.len()..];
    let digits: String = after
        .trim_start_matches(|c: char| !c.is_ascii_digit() && c != ',' && c != ';')
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    if !digits.is_empty() {
        return digits.parse().ok();
    }
    let before = &line[..at];
    let end = before.rfind(|c: char| c.is_ascii_digit())?;
    let start = before[..=end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    before[start..=end].parse().ok()
}

/// Every row of an indicator CSV without a key column: (breakdown, breakdown_value) →
/// (estimate, n).
fn indicator(path: &Path) -> HashMap<(String, String), (f64, i64)> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let h = r.headers().unwrap().clone();
    let col = |n: &str| {
        h.iter()
            .position(|c| c == n)
            .unwrap_or_else(|| panic!("{n} in {path:?}"))
    };
    let (bd, bv, est, n) = (
        col("breakdown"),
        col("breakdown_value"),
        col("estimate"),
        col("n"),
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                (rec[bd].to_string(), rec[bv].to_string()),
                (
                    rec[est].parse::<f64>().unwrap_or(f64::NAN),
                    rec[n].parse().unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn activitysim_survey_tables_ingest_with_constants_decimal_hours_and_code_lists() {
    let households = rows("households.csv");
    let persons = rows("persons.csv");
    let trips = rows("trips.csv");
    let kept: Vec<&HashMap<String, String>> = trips
        .iter()
        .filter(|t| t["trip_mode"] != UNMAPPED)
        .collect();
    let dropped: Vec<usize> = (0..trips.len())
        .filter(|&i| trips[i]["trip_mode"] == UNMAPPED)
        .collect();
    assert_eq!(dropped.len(), 1, "the fixture has one {UNMAPPED} trip");
    // The fixture as documented: 8 households, 15 persons (3 without trips), 40 trips.
    assert_eq!((households.len(), persons.len(), trips.len()), (8, 15, 40));

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out_dir = dir.path().join("out");
    let mapping = fixture().join("activitysim.toml");
    let out = ok(&[
        "ingest",
        "survey",
        "--mapping",
        mapping.to_str().unwrap(),
        fixture().to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
    ]);

    // Per file: rows read, written, rejected. The tours file is never read as trips.
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let counts = |name: &str| -> (u64, u64, u64) {
        let r = lines
            .iter()
            .find(|l| l.first().is_some_and(|f| f.ends_with(name)))
            .unwrap_or_else(|| panic!("{name} in {out}"));
        let n = r.len();
        (
            r[n - 3].parse().unwrap(),
            r[n - 2].parse().unwrap(),
            r[n - 1].parse().unwrap(),
        )
    };
    assert_eq!(counts("/households.csv"), (8, 8, 0), "{out}");
    assert_eq!(counts("/persons.csv"), (15, 15, 0), "{out}");
    assert_eq!(counts("/trips.csv"), (40, kept.len() as u64, 1), "{out}");
    assert!(
        !lines
            .iter()
            .any(|l| l.first().is_some_and(|f| f.ends_with("tours.csv")) && l.contains(&"trips")),
        "the tours file was read as trips:\n{out}"
    );
    // The note names the column and lists the unmapped code with its count.
    let note = out
        .lines()
        .find(|l| l.starts_with("note: ") && l.contains(UNMAPPED))
        .unwrap_or_else(|| panic!("a note on the unmapped {UNMAPPED} in:\n{out}"));
    assert!(note.contains("trip_mode"), "{note}");
    assert_eq!(count_beside(note, UNMAPPED), Some(1), "{note}");
    // The rejected row, with its line (header = line 1).
    let rejects = std::fs::read_to_string(data.join("_rejects/survey-trips.csv")).unwrap();
    assert!(
        rejects.contains(&format!(",{},trip_mode,{UNMAPPED},", dropped[0] + 2)),
        "{rejects}"
    );
    assert_eq!(
        rejects.lines().count(),
        2,
        "a header and one reject:\n{rejects}"
    );

    // Persons: every one, weight 1 from the constant, no travel date, codes mapped many to one.
    let p = table(&data, "persons");
    assert_eq!(p.num_rows(), persons.len());
    assert!(
        floats(&p, "weight").iter().all(|w| *w == Some(1.0)),
        "{:?}",
        floats(&p, "weight")
    );
    assert!(
        strings(&p, "travel_date").iter().all(Option::is_none),
        "{:?}",
        strings(&p, "travel_date")
    );
    let by_id: HashMap<i64, &HashMap<String, String>> = persons
        .iter()
        .map(|r| (r["person_id"].parse().unwrap(), r))
        .collect();
    let (pid, gender, employment) = (
        ints(&p, "person_id"),
        strings(&p, "gender"),
        strings(&p, "employment"),
    );
    for i in 0..p.num_rows() {
        let src = by_id[&pid[i].unwrap()];
        let want_g = match src["sex"].as_str() {
            "1" => "male",
            "2" => "female",
            s => panic!("sex {s}"),
        };
        let want_e = match src["pemploy"].as_str() {
            "1" | "2" => "employed",
            "3" | "4" => "not_employed",
            s => panic!("pemploy {s}"),
        };
        assert_eq!(gender[i].as_deref(), Some(want_g), "person {:?}", pid[i]);
        assert_eq!(
            employment[i].as_deref(),
            Some(want_e),
            "person {:?}",
            pid[i]
        );
    }

    // Households: zone, size and cars from the households file.
    let h = table(&data, "households");
    assert_eq!(h.num_rows(), households.len());
    let (hid, hzone, hsize, hcars) = (
        ints(&h, "household_id"),
        strings(&h, "home_zone_id"),
        ints(&h, "size"),
        ints(&h, "cars"),
    );
    for src in &households {
        let i = hid
            .iter()
            .position(|v| *v == Some(src["household_id"].parse().unwrap()))
            .unwrap_or_else(|| panic!("household {}", src["household_id"]));
        assert_eq!(hzone[i].as_deref(), Some(src["home_zone_id"].as_str()));
        assert_eq!(hsize[i], Some(src["hhsize"].parse().unwrap()));
        assert_eq!(hcars[i], Some(src["auto_ownership"].parse().unwrap()));
    }

    // Trips: the kept ones, departures at their hour of one nominal travel day (24.5 is
    // 00:30 the next day), zones from origin/destination, codes mapped many to one.
    let t = table(&data, "trips");
    assert_eq!(t.num_rows(), kept.len());
    let (tid, dep, arr) = (
        ints(&t, "trip_id"),
        ints(&t, "depart_at"),
        ints(&t, "arrive_at"),
    );
    let dep_text = strings(&t, "depart_at");
    let (mode, purpose) = (strings(&t, "mode"), strings(&t, "purpose"));
    let (oz, dz) = (strings(&t, "origin_zone_id"), strings(&t, "dest_zone_id"));
    let tour = ints(&t, "tour_id");
    let row_of = |id: &str| -> usize {
        let id: i64 = id.parse().unwrap();
        tid.iter()
            .position(|v| *v == Some(id))
            .unwrap_or_else(|| panic!("trip {id} in the trips table"))
    };
    let known = trips
        .iter()
        .find(|r| r["depart"] == "7.5")
        .expect("a trip at 7.5 in the fixture");
    let k = row_of(&known["trip_id"]);
    assert!(
        dep_text[k]
            .as_deref()
            .is_some_and(|s| s.ends_with("T07:30:00")),
        "trip {} departs at {:?}",
        known["trip_id"],
        dep_text[k]
    );
    let midnight = dep[k].unwrap() - hours_to_micros("7.5");
    assert_eq!(midnight % 86_400_000_000, 0, "{:?}", dep_text[k]);
    assert!(
        trips
            .iter()
            .any(|r| r["depart"].parse::<f64>().unwrap() >= 24.0 && r["trip_mode"] != UNMAPPED),
        "the fixture has a departure after midnight"
    );
    let mode_of = |code: &str| match code {
        "DRIVEALONEFREE" | "DRIVEALONEPAY" => "car_driver",
        "SHARED2FREE" | "SHARED3FREE" => "car_passenger",
        "WALK" => "walk",
        "BIKE" => "bike",
        "WALK_LOC" | "WALK_EXP" | "DRIVE_LOC" => "bus",
        "WALK_LRF" => "tram",
        "WALK_HVY" => "metro",
        "TAXI" | "TNC_SINGLE" => "taxi",
        c => panic!("trip_mode {c} is not in the test's list"),
    };
    let purpose_of = |code: &str| match code {
        "work" | "Work" => "work",
        "atwork" => "business",
        "univ" | "school" => "education",
        "escort" => "escort",
        "shopping" | "othmaint" => "shopping",
        "eatout" | "social" | "othdiscr" => "leisure",
        "Home" => "home",
        c => panic!("purpose {c} is not in the test's list"),
    };
    for src in &kept {
        let i = row_of(&src["trip_id"]);
        assert_eq!(
            dep[i],
            Some(midnight + hours_to_micros(&src["depart"])),
            "trip {} at {} departs {:?}",
            src["trip_id"],
            src["depart"],
            dep_text[i]
        );
        assert_eq!(arr[i], None, "trip {}", src["trip_id"]);
        assert_eq!(mode[i].as_deref(), Some(mode_of(&src["trip_mode"])));
        assert_eq!(purpose[i].as_deref(), Some(purpose_of(&src["purpose"])));
        assert_eq!(oz[i].as_deref(), Some(src["origin"].as_str()));
        assert_eq!(dz[i].as_deref(), Some(src["destination"].as_str()));
        assert_eq!(
            tour[i],
            Some(src["tour_id"].parse().unwrap()),
            "trip {}",
            src["trip_id"]
        );
    }

    // Trips per person per day: all weights 1, so trips kept over all persons (those without
    // trips count with 0); no day type, so no day_type rows.
    ok(&[
        "run",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "-q",
    ]);
    let ind = indicator(&out_dir.join("indicators/trips_per_person_day.csv"));
    let (est, n) = ind
        .get(&("all".to_string(), String::new()))
        .unwrap_or_else(|| panic!("no 'all' row in {:?}", ind.keys().collect::<Vec<_>>()));
    let want = kept.len() as f64 / persons.len() as f64;
    assert!((est - want).abs() <= 1e-12, "{est} vs {want}");
    assert_eq!(*n, persons.len() as i64);
    assert!(
        !ind.keys().any(|(b, _)| b == "day_type"),
        "day_type rows without travel dates: {:?}",
        ind.keys()
            .filter(|(b, _)| b == "day_type")
            .collect::<Vec<_>>()
    );
    // By gender: the domain's kept trips over its persons.
    for (code, g) in [("1", "male"), ("2", "female")] {
        let ids: Vec<&str> = persons
            .iter()
            .filter(|r| r["sex"] == code)
            .map(|r| r["person_id"].as_str())
            .collect();
        let trips_g = kept
            .iter()
            .filter(|t| ids.contains(&t["person_id"].as_str()))
            .count();
        let want = trips_g as f64 / ids.len() as f64;
        let (est, _) = ind
            .get(&("gender".to_string(), g.to_string()))
            .unwrap_or_else(|| panic!("no gender {g} row"));
        assert!((est - want).abs() <= 1e-12, "{g}: {est} vs {want}");
    }
}
