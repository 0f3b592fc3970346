//! The survey indicators: checked against samplics (an independent implementation of the
//! Taylor-linearised ratio estimator, tests/survey/independent.py), and on a hand-checked
//! fixture.

use std::collections::HashMap;
use std::process::Command;

use crate::{ok, root};

/// Every row of an indicator CSV, by (breakdown, breakdown_value, key) → (estimate, se, n).
fn read(
    path: &std::path::Path,
    key: Option<&str>,
) -> HashMap<(String, String, String), (f64, f64, i64)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| {
        h.iter()
            .position(|c| c == n)
            .unwrap_or_else(|| panic!("{n} in {path:?}"))
    };
    let (bd, bv, est, se, n) = (
        col("breakdown"),
        col("breakdown_value"),
        col("estimate"),
        col("se"),
        col("n"),
    );
    let k = key.map(col);
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let num = |i: usize| rec[i].parse::<f64>().unwrap_or(f64::NAN);
            (
                (
                    rec[bd].to_string(),
                    rec[bv].to_string(),
                    k.map_or(String::new(), |k| rec[k].to_string()),
                ),
                (num(est), num(se), rec[n].parse().unwrap()),
            )
        })
        .collect()
}

/// Whether python3 with samplics, pandas and pyarrow is here; in CI they must be (.ci/run
/// installs them).
fn python_with_samplics() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import samplics, pandas, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !std::env::var("CI").is_ok_and(|v| v == "true"),
            "CI must have python3 with samplics, pandas and pyarrow (.ci/run installs them)"
        );
        eprintln!("SKIP: python3 with samplics, pandas and pyarrow is not installed");
    }
    found
}

#[test]
fn estimates_and_standard_errors_equal_samplics() {
    if !python_with_samplics() {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let sample = root().join("data/sample");
    ok(&[
        "run",
        "--data",
        sample.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "-q",
    ]);
    let py = Command::new("python3")
        .arg(root().join("tests/survey/independent.py"))
        .arg(&sample)
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let mut tables = HashMap::new();
    let mut checked = 0;
    let mut left_out = Vec::new();
    for line in String::from_utf8(py.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["indicator"].as_str().unwrap().to_string();
        let key_col = (id == "mode_share_trips").then_some("mode");
        let table = tables
            .entry(id.clone())
            .or_insert_with(|| read(&out.path().join(format!("indicators/{id}.csv")), key_col));
        let bd = match v["breakdown"].as_str().unwrap() {
            "home_zone_id" => "home_zone",
            b => b,
        };
        let cell = (
            bd.to_string(),
            v["breakdown_value"].as_str().unwrap_or("").to_string(),
            v["key"].as_str().unwrap_or("").to_string(),
        );
        let (est, se, _) = table
            .get(&cell)
            .unwrap_or_else(|| panic!("{id}: no cell {cell:?}"));
        if let Some(why) = v["left_out"].as_str() {
            // Nobody in the domain has y ≠ 0, so samplics has no SE for it; the estimate is 0.
            assert_eq!(*est, 0.0, "{id} {cell:?}: {why}");
            left_out.push((id, cell));
            continue;
        }
        let (want_est, want_se) = (v["estimate"].as_f64().unwrap(), v["se"].as_f64().unwrap());
        assert!(
            (est - want_est).abs() <= 1e-9,
            "{id} {cell:?}: estimate {est} vs samplics {want_est}"
        );
        assert!(
            (se - want_se).abs() <= 1e-6,
            "{id} {cell:?}: se {se} vs samplics {want_se}"
        );
        checked += 1;
    }
    // Every cell of the script (docs/methods.md): trips and km per person per day by all,
    // gender (2), age band (5) and home zone (48 on the sample): 2·56 = 112; the shares of four
    // modes by all and age band: 4·6 = 24; car occupancy by all and gender: 3. That is 139, less
    // the one domain where nobody used the mode: car drivers aged 13-17.
    assert_eq!(checked, 138, "cells checked against samplics");
    assert_eq!(
        left_out,
        vec![(
            "mode_share_trips".to_string(),
            (
                "age_band".to_string(),
                "13-17".to_string(),
                "car_driver".to_string()
            )
        )],
        "cells samplics cannot estimate"
    );
}

/// tests/fixtures/golden: four persons in two strata (weights 2, 1 | 1, 2), seven trips,
/// worked by hand. Person 4 made no trips and still counts. Per person (trips; km; car-driver
/// km): 1: 3; 21; 20 — 2: 2; 16; 0 — 3: 2; 5; 2 — 4: 0; 0; 0. Σw = 6, Σw·trips = 10.
#[test]
fn every_indicator_on_a_hand_checked_fixture() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let (data_s, out_s) = (data.to_str().unwrap(), out.to_str().unwrap());
    ok(&[
        "ingest",
        "survey",
        root().join("tests/fixtures/golden").to_str().unwrap(),
        "--out",
        data_s,
        "--strict",
        "-q",
    ]);
    ok(&[
        "ingest",
        "factors",
        root().join("data/factors").to_str().unwrap(),
        "--out",
        data_s,
        "--strict",
        "-q",
    ]);
    ok(&[
        "run",
        "--data",
        data_s,
        "--out",
        out_s,
        "--scenario",
        "shift-short-car-trips=0.5",
        "-q",
    ]);
    let get = |id: &str, key: Option<&str>, cell: (&str, &str, &str)| -> (f64, f64, i64) {
        let t = read(&out.join(format!("indicators/{id}.csv")), key);
        *t.get(&(cell.0.to_string(), cell.1.to_string(), cell.2.to_string()))
            .unwrap_or_else(|| {
                panic!(
                    "{id}: no cell {cell:?} in {:?}",
                    t.keys().collect::<Vec<_>>()
                )
            })
    };
    let close = |id: &str, got: f64, want: f64| {
        assert!(
            (got - want).abs() < 1e-9,
            "{id}: {got} vs hand-worked {want}"
        );
    };
    let all = ("all", "", "");

    // Trips per person per day: 10/6, n = 4 persons, and the SE worked out in docs/methods.md:
    // V = 2·98/1296 + 2·242/1296 = 680/1296.
    let (e, se, n) = get("trips_per_person_day", None, all);
    close("trips_per_person_day", e, 10.0 / 6.0);
    close("trips_per_person_day se", se, 680f64.sqrt() / 36.0);
    assert_eq!(n, 4);
    // Weekend: person 3 alone (2 trips, w 1) over the whole sample's design.
    close(
        "trips weekend",
        get("trips_per_person_day", None, ("day_type", "weekend", "")).0,
        2.0,
    );
    // By purpose: work trips of persons 1 and 2: (2·1 + 1·1)/6.
    close(
        "trips work",
        get("trips_per_person_day", None, ("purpose", "work", "")).0,
        3.0 / 6.0,
    );
    close(
        "km",
        get("km_per_person_day", None, all).0,
        (2.0 * 21.0 + 16.0 + 5.0) / 6.0,
    );
    // Mode shares of trips: Σw·trips = 10; car driver 2·2 + 1 = 5, walk 2, bus/passenger/bike 1.
    for (mode, want) in [
        ("car_driver", 0.5),
        ("walk", 0.2),
        ("bus", 0.1),
        ("car_passenger", 0.1),
        ("bike", 0.1),
    ] {
        close(
            mode,
            get("mode_share_trips", Some("mode"), ("all", "", mode)).0,
            want,
        );
    }
    // Of km: Σw·km = 63; car driver 2·20 + 2 = 42.
    close(
        "mode_share_km",
        get("mode_share_km", Some("mode"), ("all", "", "car_driver")).0,
        42.0 / 63.0,
    );
    close(
        "car_vkm",
        get("car_vkm_per_person_day", None, all).0,
        42.0 / 6.0,
    );
    close(
        "car_vkm_year",
        get("car_vkm_year", None, all).0,
        365.0 * 42.0,
    );
    // Occupancy: car person-km 2·20 + 1·10 + 2 = 52 over driver km 42.
    close(
        "car_occupancy",
        get("car_occupancy", None, all).0,
        52.0 / 42.0,
    );
    // Short car trips: person 3's 2-km trip (w 1) of 2·2 + 1 = 5 weighted driver trips.
    close(
        "short 2.5",
        get(
            "short_car_trip_share",
            Some("threshold"),
            ("all", "", "< 2.5 km"),
        )
        .0,
        0.2,
    );
    close(
        "short 5",
        get(
            "short_car_trip_share",
            Some("threshold"),
            ("all", "", "< 5 km"),
        )
        .0,
        0.2,
    );
    // Walk, bus, bike: 2 + 1 + 1 of 10.
    close("sustainable", get("sustainable_share", None, all).0, 0.4);
    // Car-driver trips are (2·20 + 2)/(2·2 + 1) km long.
    close(
        "trip_length",
        get(
            "trip_length_by_mode",
            Some("mode"),
            ("all", "", "car_driver"),
        )
        .0,
        8.4,
    );
    close(
        "purpose",
        get(
            "trips_by_purpose",
            Some("trip_purpose"),
            ("all", "", "work"),
        )
        .0,
        0.3,
    );
    close(
        "hour 16",
        get("departure_profile", Some("hour"), ("all", "", "16")).0,
        0.3,
    );
    // Median car-driver trip: 2 km (w 1), 10 km (w 2), 10 km (w 2): half of 5 is reached at 10.
    let median = |mode: &str| {
        get(
            "median_trip_length_by_mode",
            Some("mode"),
            ("all", "", mode),
        )
        .0
    };
    close("median car", median("car_driver"), 10.0);
    close("median bike", median("bike"), 3.0);
    // CO₂e with the latest fleet (2021: 0.42·126 + 0.28·126 + 0.08·63 + 0.05·101 + 0.17·0 =
    // 98.29 g/vkm) and the latest bus factor (2020: 90 g/pkm); walk, bike, passenger 0.
    let g = |km_car: f64, km_bus: f64| km_car * 98.29 + km_bus * 90.0;
    let day = [
        (2.0, g(20.0, 0.0)),
        (1.0, g(0.0, 6.0)),
        (1.0, g(2.0, 0.0)),
        (2.0, 0.0),
    ];
    let sum_wg: f64 = day.iter().map(|(w, g)| w * g).sum();
    close(
        "co2e",
        get("co2e_per_person_year", None, all).0,
        365.0 * sum_wg / 1000.0 / 6.0,
    );
    close(
        "co2e bus",
        get("co2e_by_mode", Some("mode"), ("all", "", "bus")).0,
        365.0 * 540.0 / 1000.0 / 6.0,
    );
    close(
        "co2e total",
        get("co2e_total_tonnes", Some("mode"), ("all", "", "car_driver")).0,
        365.0 * (2.0 * g(20.0, 0.0) + g(2.0, 0.0)) / 1e6,
    );
    // Half of person 3's 2-km drive no longer driven: −0.5·2·1/6 vehicle-km per person-day.
    close(
        "scenario",
        get(
            "scenario_shift_short_car_trips",
            Some("measure"),
            ("all", "", "vehicle_km_per_day_change"),
        )
        .0,
        -1.0 / 6.0,
    );
    close(
        "scenario co2e",
        get(
            "scenario_shift_short_car_trips",
            Some("measure"),
            ("all", "", "co2e_kg_per_year_change"),
        )
        .0,
        -0.5 * 2.0 * 98.29 * 365.0 / 1000.0 / 6.0,
    );
    // The target table sets 0.4 beside 0.6; with four persons the CI is wide enough to hold it.
    let targets = std::fs::read_to_string(out.join("indicators/targets.csv")).unwrap();
    let row = targets
        .lines()
        .find(|l| l.starts_with("sustainable_share,"))
        .unwrap();
    assert!(
        row.contains(",2025,0.6,0.4,") && row.contains("the CI includes the target"),
        "{row}"
    );
}

/// The golden fixture with JK1 (drop-one) replicate weights, as a survey would ship them:
/// replicate r leaves person r out and scales the others by 4/3. Trips per person per day,
/// by hand: θ̂ = 10/6; θ_r = 4/4, 8/5, 8/5, 10/4; Σ(θ_r − θ̂)² = 4/9 + 2/225 + 25/36 =
/// 1033/900; JK1 c = 3/4 gives V = 1033/1200; NHTS 2017's c = 6/7 gives 6/7 · 1033/900.
#[test]
fn replicate_weights_give_the_jackknife_variance_worked_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let (data_s, out_s) = (data.to_str().unwrap(), out.to_str().unwrap());
    ok(&[
        "ingest",
        "survey",
        root().join("tests/fixtures/golden").to_str().unwrap(),
        "--out",
        data_s,
        "--strict",
        "-q",
    ]);
    let msg = ok(&[
        "ingest",
        "replicate-weights",
        root()
            .join("tests/fixtures/golden-replicates")
            .to_str()
            .unwrap(),
        "--out",
        data_s,
        "--strict",
    ]);
    assert!(msg.contains("replicate_weights"), "{msg}");
    for (scale, want) in [
        ("jk1", 1033.0f64 / 1200.0),
        ("6/7", 6.0 / 7.0 * 1033.0 / 900.0),
    ] {
        ok(&[
            "run",
            "--data",
            data_s,
            "--out",
            out_s,
            "--only",
            "trips_per_person_day",
            "--replicate-scale",
            scale,
            "-q",
        ]);
        let (e, se, _) = read(&out.join("indicators/trips_per_person_day.csv"), None)
            [&("all".to_string(), String::new(), String::new())];
        assert!((e - 10.0 / 6.0).abs() < 1e-12);
        assert!(
            (se - want.sqrt()).abs() < 1e-9,
            "{scale}: {se} vs {}",
            want.sqrt()
        );
        let csv = std::fs::read_to_string(out.join("indicators/trips_per_person_day.csv")).unwrap();
        assert!(
            csv.contains(&format!("replicate weights (R=4, c={scale})")),
            "{csv}"
        );
    }
    // A person without every replicate is refused with the reason.
    std::fs::write(
        dir.path().join("bad.csv"),
        "person_id,repwt1,repwt2\n1,2.0,\n",
    )
    .unwrap();
    let err = crate::fails(&[
        "ingest",
        "replicate-weights",
        dir.path().join("bad.csv").to_str().unwrap(),
        "--out",
        data_s,
        "--strict",
    ]);
    assert!(err.contains("repwt2") && err.contains("missing"), "{err}");
}

/// The CO₂e indicators are linear in the person's km by mode with the factors fixed, so their
/// SE is linearised; `--variance bootstrap` gives the Rao–Wu bootstrap, and with B = 1000 it
/// agrees with the linearised SE within Monte-Carlo error: the relative error of an SE from
/// 1000 replicates is about 1/√(2B) = 2.2 %; the test allows 10 % (4.5 of those), on every
/// cell of all three CO₂e indicators overall and by gender with a non-zero estimate.
#[test]
fn linearised_co2e_se_matches_the_bootstrap_within_monte_carlo_error() {
    let dir = tempfile::tempdir().unwrap();
    let ids = "co2e_per_person_year,co2e_by_mode,co2e_total_tonnes";
    let run = |out: &std::path::Path, extra: &[&str]| {
        let mut args = vec!["--only", ids];
        args.extend(extra);
        crate::run_sample(out, &args);
    };
    let (lin, boot) = (dir.path().join("lin"), dir.path().join("boot"));
    run(&lin, &[]);
    run(&boot, &["--variance", "bootstrap", "--bootstrap", "1000"]);
    let mut compared = 0;
    let mut worst: f64 = 0.0;
    for (id, key) in [
        ("co2e_per_person_year", None),
        ("co2e_by_mode", Some("mode")),
        ("co2e_total_tonnes", Some("mode")),
    ] {
        let a = read(&lin.join(format!("indicators/{id}.csv")), key);
        let b = read(&boot.join(format!("indicators/{id}.csv")), key);
        for (cell, (e, se, _)) in &a {
            if !(cell.0 == "all" || cell.0 == "gender") || *e == 0.0 {
                continue;
            }
            let (e2, se2, _) = b[cell];
            assert!(
                (e - e2).abs() < 1e-9 * e.abs(),
                "{id} {cell:?}: the same estimate"
            );
            let r = se2 / se - 1.0;
            assert!(
                r.abs() < 0.10,
                "{id} {cell:?}: bootstrap SE {se2} vs linearised {se}"
            );
            worst = worst.max(r.abs());
            compared += 1;
        }
    }
    eprintln!(
        "{compared} cells; largest relative difference {:.1} %",
        100.0 * worst
    );
    assert!(compared >= 20, "{compared}");
    let method = |dir: &std::path::Path| {
        std::fs::read_to_string(dir.join("indicators/co2e_total_tonnes.csv")).unwrap()
    };
    assert!(method(&lin).contains(",linearisation\n"));
    assert!(method(&boot).contains("bootstrap (Rao-Wu, B=1000, seed=2018)"));
    // One pass over the replicates for the three indicators: each replicate's multipliers
    // drawn once, not once per indicator; none with the linearisation.
    let passes =
        |dir: &std::path::Path| crate::manifest(dir)["parameters"]["replicate_passes"].clone();
    assert_eq!(passes(&lin), serde_json::json!([]));
    let boot_passes = passes(&boot);
    assert_eq!(boot_passes.as_array().unwrap().len(), 1, "{boot_passes}");
    assert_eq!(boot_passes[0]["replicates_drawn"], 1000, "{boot_passes}");
    assert_eq!(
        boot_passes[0]["indicators"],
        serde_json::json!(ids.split(',').collect::<Vec<_>>()),
        "{boot_passes}"
    );
}

/// The median's SE and CI by Woodruff's method against tests/survey/woodruff.py (numpy and
/// scipy, not the project's code) on the shipped sample: median trip length by mode, overall.
#[test]
fn median_by_woodruff_equals_an_independent_computation() {
    if !crate::python_with("numpy, scipy") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("data/sample");
    let d = sample.to_str().unwrap();
    let export = |name: &str, sql: &str| {
        let path = dir.path().join(name);
        ok(&[
            "sql",
            "--data",
            d,
            "--format",
            "csv",
            "--output",
            path.to_str().unwrap(),
            "-c",
            sql,
        ]);
        path
    };
    let persons = export(
        "persons.csv",
        "SELECT person_id, weight, COALESCE(stratum, '') AS stratum FROM persons",
    );
    let trips = export(
        "trips.csv",
        "SELECT person_id, mode, distance_km FROM trips WHERE mode IS NOT NULL AND distance_km IS NOT NULL",
    );
    let expected = dir.path().join("expected.csv");
    crate::python(&[
        root().join("tests/survey/woodruff.py").to_str().unwrap(),
        persons.to_str().unwrap(),
        trips.to_str().unwrap(),
        expected.to_str().unwrap(),
    ]);
    let out = dir.path().join("out");
    ok(&[
        "run",
        "--data",
        d,
        "--out",
        out.to_str().unwrap(),
        "--only",
        "median_trip_length_by_mode",
        "-q",
    ]);
    let mut ours: HashMap<String, csv::StringRecord> = HashMap::new();
    let mut r =
        csv::Reader::from_path(out.join("indicators/median_trip_length_by_mode.csv")).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        if &rec[0] == "all" {
            ours.insert(rec[2].to_string(), rec);
        }
    }
    let mut r = csv::Reader::from_path(&expected).unwrap();
    let mut compared = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        let o = &ours[&rec[0]];
        let f = |s: &str| s.parse::<f64>().unwrap();
        assert_eq!(f(&o[3]), f(&rec[1]), "{}: median", &rec[0]);
        assert_eq!(
            (f(&o[5]), f(&o[6])),
            (f(&rec[3]), f(&rec[4])),
            "{}: CI",
            &rec[0]
        );
        assert!(
            (f(&o[4]) - f(&rec[2])).abs() <= 1e-9 * f(&rec[2]).max(1.0),
            "{}: SE",
            &rec[0]
        );
        assert!(o[12].starts_with("Woodruff"), "{:?}", o);
        compared += 1;
    }
    assert_eq!(compared, ours.len());
    assert!(compared >= 8, "{compared}");
}

/// `--factors` (or `factors` in mobility.toml) takes the factor tables from files for the run:
/// the golden fixture without ingested factors gets the hand-worked CO₂e from data/factors,
/// and a bad factor row stops the run naming file, line, column and value.
#[test]
fn factors_from_files_replace_the_data_directorys() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let (data_s, out_s) = (data.to_str().unwrap(), out.to_str().unwrap());
    ok(&[
        "ingest",
        "survey",
        root().join("tests/fixtures/golden").to_str().unwrap(),
        "--out",
        data_s,
        "--strict",
        "-q",
    ]);
    let skipped = ok(&[
        "run",
        "--data",
        data_s,
        "--out",
        out_s,
        "--only",
        "co2e_per_person_year",
    ]);
    assert!(
        skipped.contains("co2e_per_person_year") && skipped.contains("skipped"),
        "{skipped}"
    );
    ok(&[
        "run",
        "--data",
        data_s,
        "--out",
        out_s,
        "--only",
        "co2e_per_person_year",
        "--factors",
        root().join("data/factors").to_str().unwrap(),
        "-q",
    ]);
    let (e, _, _) = read(&out.join("indicators/co2e_per_person_year.csv"), None)
        [&("all".to_string(), String::new(), String::new())];
    let g = |km_car: f64, km_bus: f64| km_car * 98.29 + km_bus * 90.0;
    let want = 365.0 * (2.0 * g(20.0, 0.0) + g(0.0, 6.0) + g(2.0, 0.0)) / 1000.0 / 6.0;
    assert!((e - want).abs() < 1e-9, "{e} vs {want}");
    let bad = dir.path().join("factors");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("occupancy.csv"),
        "year,mode,persons_per_vehicle,source\n2019,car,-1,x\n",
    )
    .unwrap();
    let err = crate::fails(&[
        "run",
        "--data",
        data_s,
        "--out",
        out_s,
        "--factors",
        bad.to_str().unwrap(),
    ]);
    assert!(
        err.contains("occupancy.csv line 2, column persons_per_vehicle: '-1'"),
        "{err}"
    );
}

/// The run holds in memory only the trip columns its indicators read: one indicator over
/// person, purpose and distance holds fewer bytes than the whole catalog, whose
/// origin–destination indicators read the zones and coordinates, and gives the same table
/// as in the whole run.
#[test]
fn the_trips_held_in_memory_are_the_columns_the_queries_read() {
    let dir = tempfile::tempdir().unwrap();
    let (all, one) = (dir.path().join("all"), dir.path().join("one"));
    crate::run_sample(&all, &[]);
    crate::run_sample(&one, &["--only", "trips_per_person_day"]);
    let held = |d: &std::path::Path| {
        crate::manifest(d)["parameters"]["trips_in_memory_bytes"]
            .as_u64()
            .unwrap()
    };
    let (a, o) = (held(&all), held(&one));
    assert!(o > 0 && 2 * o < a, "one indicator {o} bytes, all {a}");
    let csv = |d: &std::path::Path| {
        std::fs::read_to_string(d.join("indicators/trips_per_person_day.csv")).unwrap()
    };
    assert_eq!(csv(&one), csv(&all));
}

/// What runs after the indicators sees the whole trips table again: a target's own SQL that
/// reads a trip column no indicator of the run reads still gets its value.
#[test]
fn a_targets_sql_reads_trip_columns_the_indicators_did_not() {
    let dir = tempfile::tempdir().unwrap();
    let targets = dir.path().join("targets.toml");
    std::fs::write(
        &targets,
        r#"[[target]]
id = "morning_trips"
title = "Trips leaving before nine"
title_nb = "Turer før ni"
value = 1
year = 2030
direction = "at_least"
sql = "SELECT CAST(count(*) AS DOUBLE) FROM trips WHERE date_part('hour', depart_at) < 9"
source = "a test"
"#,
    )
    .unwrap();
    let out = dir.path().join("out");
    crate::run_sample(
        &out,
        &[
            "--only",
            "trips_per_person_day",
            "--targets",
            targets.to_str().unwrap(),
        ],
    );
    let table = std::fs::read_to_string(out.join("indicators/targets.csv")).unwrap();
    let expected = crate::ok(&[
        "sql",
        "-q",
        "--data",
        crate::root().join("data/sample").to_str().unwrap(),
        "-c",
        "SELECT count(*) FROM trips WHERE date_part('hour', depart_at) < 9",
    ]);
    // The count, the first number of the printed table.
    let n = expected
        .split(|c: char| !c.is_ascii_digit())
        .find(|t| !t.is_empty())
        .unwrap();
    assert!(n.len() >= 3, "{expected}");
    assert!(
        table.contains(&format!(",{n}.0,")),
        "{n} not measured in\n{table}"
    );
}
