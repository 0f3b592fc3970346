//! `mobility weight` (issue 11) against an independent implementation
//! (tests/calibration/independent.py: samplics' raking and calibration cross-checked with numpy,
//! residual SEs by weighted least squares), on a copy of data/sample calibrated to margins of
//! age band, gender and home zone that differ from what the sample's weights give.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::AsArray;
use arrow::datatypes::{Float64Type, Int64Type};

use crate::{fails, ok, python, root, sample_copy, table};

/// The persons with what the independent script needs, as CSV.
fn export_persons(data: &Path, to: &Path) {
    ok(&[
        "sql",
        "--data",
        data.to_str().unwrap(),
        "--format",
        "csv",
        "--output",
        to.to_str().unwrap(),
        "-c",
        "SELECT p.person_id, COALESCE(p.base_weight, p.weight) AS weight, p.age, p.gender, h.home_zone_id, \
         COALESCE(p.stratum, '') AS stratum, COALESCE(t.n, 0) AS trips \
         FROM persons p JOIN households h ON h.household_id = p.household_id \
         LEFT JOIN (SELECT person_id, count(*) AS n FROM trips GROUP BY person_id) t ON t.person_id = p.person_id \
         ORDER BY p.person_id",
    ]);
}

const BANDS: [(&str, i64, i64); 5] = [
    ("13-17", 13, 17),
    ("18-29", 18, 29),
    ("30-44", 30, 44),
    ("45-66", 45, 66),
    ("67+", 67, i64::MAX),
];

/// Margins a population table might give: the sample's weighted counts per category, tilted
/// (category k of a variable by 1 + 0.15·sin(k + variable)) and scaled to one population of
/// 1.1 times the sample's.
fn margins(persons_csv: &Path) -> String {
    let mut r = csv::Reader::from_path(persons_csv).unwrap();
    let mut sums: Vec<BTreeMap<String, f64>> = vec![BTreeMap::new(); 3];
    let mut total = 0.0;
    for rec in r.records() {
        let rec = rec.unwrap();
        let w: f64 = rec[1].parse().unwrap();
        let age: i64 = rec[2].parse().unwrap();
        let band = BANDS.iter().find(|b| (b.1..=b.2).contains(&age)).unwrap().0;
        for (v, key) in [band, &rec[3], &rec[4]].into_iter().enumerate() {
            *sums[v].entry(key.to_string()).or_default() += w;
        }
        total += w;
    }
    let mut out = String::from("variable,category,total\n");
    for (v, name) in ["age_band", "gender", "home_zone_id"].iter().enumerate() {
        let tilted: Vec<(String, f64)> = sums[v]
            .iter()
            .enumerate()
            .map(|(k, (c, s))| (c.clone(), s * (1.0 + 0.15 * ((k + v) as f64).sin())))
            .collect();
        let scale = 1.1 * total / tilted.iter().map(|t| t.1).sum::<f64>();
        for (c, t) in tilted {
            out.push_str(&format!("{name},{c},{}\n", t * scale));
        }
    }
    out
}

fn column_f64(b: &arrow::array::RecordBatch, name: &str) -> Vec<f64> {
    let c = arrow::compute::cast(
        b.column_by_name(name).unwrap(),
        &arrow::datatypes::DataType::Float64,
    )
    .unwrap();
    c.as_primitive::<Float64Type>().values().to_vec()
}

fn person_ids(b: &arrow::array::RecordBatch) -> Vec<i64> {
    b.column_by_name("person_id")
        .unwrap()
        .as_primitive::<Int64Type>()
        .values()
        .to_vec()
}

/// An indicator's rows: (breakdown, value) → (estimate, se, se_method).
fn rows(out: &Path, id: &str) -> BTreeMap<(String, String), (f64, f64, String)> {
    let mut r = csv::Reader::from_path(out.join(format!("indicators/{id}.csv"))).unwrap();
    let h = r.headers().unwrap().clone();
    let at = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (b, v, e, s, m) = (
        at("breakdown"),
        at("breakdown_value"),
        at("estimate"),
        at("se"),
        at("se_method"),
    );
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (
                (rec[b].to_string(), rec[v].to_string()),
                (
                    rec[e].parse().unwrap(),
                    rec[s].parse().unwrap(),
                    rec[m].to_string(),
                ),
            )
        })
        .collect()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1e-300)
}

/// Calibrates a copy of the sample with `method` and returns (data dir, margins file, the
/// independent result).
fn calibrated(dir: &Path, method: &str) -> (PathBuf, PathBuf, serde_json::Value) {
    let data = dir.join("data");
    sample_copy(&data);
    let before = dir.join("persons.csv");
    export_persons(&data, &before);
    let margins_file = dir.join("margins.csv");
    std::fs::write(&margins_file, margins(&before)).unwrap();
    let report = ok(&[
        "weight",
        "--data",
        data.to_str().unwrap(),
        "--margins",
        margins_file.to_str().unwrap(),
        "--method",
        method,
    ]);
    assert!(report.contains("largest margin error"), "{report}");
    assert!(report.contains("Kish design effect"), "{report}");
    let written = std::fs::read_to_string(data.join("_calibration.txt")).unwrap();
    assert!(report.starts_with(&written), "{written}\n---\n{report}");
    let result = dir.join("independent.json");
    python(&[
        root()
            .join("tests/calibration/independent.py")
            .to_str()
            .unwrap(),
        "--persons",
        before.to_str().unwrap(),
        "--margins",
        margins_file.to_str().unwrap(),
        "--method",
        method,
        "--out",
        result.to_str().unwrap(),
    ]);
    let value = serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
    (data, margins_file, value)
}

#[test]
fn raking_and_linear_calibration_match_an_independent_implementation() {
    if !crate::python_with("samplics, numpy, pandas") {
        return;
    }
    for method in ["raking", "linear"] {
        let dir = tempfile::tempdir().unwrap();
        let original = table(&root().join("data/sample"), "persons");
        let (data, _, want) = calibrated(dir.path(), method);

        // Weights to 1e-6; the weight before kept in base_weight.
        let persons = table(&data, "persons");
        let ids = person_ids(&persons);
        let (w, base) = (
            column_f64(&persons, "weight"),
            column_f64(&persons, "base_weight"),
        );
        let orig: BTreeMap<i64, f64> = person_ids(&original)
            .into_iter()
            .zip(column_f64(&original, "weight"))
            .collect();
        let mut moved = 0;
        for ((id, w), b) in ids.iter().zip(&w).zip(&base) {
            let expect = want["weights"][id.to_string()].as_f64().unwrap();
            assert!(
                close(*w, expect, 1e-6),
                "{method}: person {id}: {w} vs {expect}"
            );
            assert_eq!(*b, orig[id], "{method}: person {id}'s base weight");
            moved += usize::from(!close(*w, *b, 1e-3));
        }
        assert!(
            moved > ids.len() / 2,
            "{method}: calibration moved {moved} weights"
        );

        // Every margin met to 1e-8, as the table records it and as the weights add up.
        let m = table(&data, "calibration_margins");
        let (t, got) = (column_f64(&m, "total"), column_f64(&m, "calibrated_total"));
        assert_eq!(t.len(), 5 + 2 + 48);
        for (t, g) in t.iter().zip(&got) {
            assert!(close(*t, *g, 1e-8), "{method}: margin {t} met as {g}");
        }

        // SEs: calibrated margins 0; a mean that is not calibrated as the independent
        // residual SE.
        let out = dir.path().join("out");
        ok(&[
            "run",
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--only",
            "population,trips_per_person_day",
            "-q",
        ]);
        // 0 to rounding: a variance formed from sums carries a rounding error of about ε·V
        // (ε = 2.2e-16, V the plain variance), so the SE of a margin is 0 within √ε ≈ 1.5e-8
        // of the plain SE, which is below the estimate for every one of these totals.
        let pop = rows(&out, "population");
        let mut checked = 0;
        let mut worst: f64 = 0.0;
        for ((b, v), (e, se, how)) in &pop {
            assert!(how.contains("calibration"), "{how}");
            if ["all", "gender", "age_band", "home_zone"].contains(&b.as_str()) {
                assert!(
                    se.abs() <= 1e-7 * e,
                    "{method}: population {b}={v}: SE {se} of {e}"
                );
                worst = worst.max(se / e);
                checked += 1;
            }
        }
        eprintln!("{method}: largest SE of a calibrated margin: {worst:.2e} of its estimate");
        assert_eq!(checked, 1 + 2 + 5 + 48, "{pop:?}");
        for p in want["population"].as_array().unwrap() {
            let key = (
                p["breakdown"].as_str().unwrap().to_string(),
                p["value"].as_str().unwrap().to_string(),
            );
            let (e, _, _) = &pop[&key];
            assert!(close(*e, p["estimate"].as_f64().unwrap(), 1e-8), "{key:?}");
        }
        let trips = rows(&out, "trips_per_person_day");
        let (e, se, _) = &trips[&("all".to_string(), String::new())];
        let t = &want["trips_per_person"];
        assert!(
            close(*e, t["estimate"].as_f64().unwrap(), 1e-9),
            "{e} vs {t}"
        );
        assert!(
            close(*se, t["se"].as_f64().unwrap(), 1e-6),
            "{method}: SE {se} vs {t}"
        );
        assert!(
            !close(*se, t["se_plain"].as_f64().unwrap(), 1e-3),
            "the residual SE should differ from the plain one: {se} vs {t}"
        );
    }
}

#[test]
fn calibrating_again_starts_from_the_base_weight() {
    if !crate::python_with("samplics, numpy, pandas") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (data, margins_file, _) = calibrated(dir.path(), "raking");
    let first = column_f64(&table(&data, "persons"), "weight");
    // The same margins again: the same weights, not a calibration of calibrated weights.
    ok(&[
        "weight",
        "--data",
        data.to_str().unwrap(),
        "--margins",
        margins_file.to_str().unwrap(),
        "-q",
    ]);
    let persons = table(&data, "persons");
    for (a, b) in first.iter().zip(column_f64(&persons, "weight")) {
        assert!(close(*a, b, 1e-12), "{a} vs {b}");
    }
    let original = table(&root().join("data/sample"), "persons");
    assert_eq!(
        column_f64(&persons, "base_weight"),
        column_f64(&original, "weight")
    );
    ok(&["check", "--data", data.to_str().unwrap()]);

    // The bootstrap calibrates each replicate to the margins too: the calibrated margins keep
    // an SE of 0 (replicates that leave a small zone empty are left out, and said so).
    let out = dir.path().join("boot");
    ok(&[
        "run",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--only",
        "population",
        "--variance",
        "bootstrap",
        "--bootstrap",
        "60",
        "-q",
    ]);
    let pop = rows(&out, "population");
    for ((b, v), (e, se, how)) in &pop {
        assert!(
            how.contains("each replicate calibrated to the margins"),
            "{how}"
        );
        if ["all", "gender", "age_band", "home_zone"].contains(&b.as_str()) {
            assert!(
                se.abs() <= 1e-7 * e,
                "bootstrap: population {b}={v}: SE {se} of {e}"
            );
        }
    }

    // A looser --tolerance still counts as calibrated: runs check the weights against the
    // totals `mobility weight` reached, not against the margins.
    ok(&[
        "weight",
        "--data",
        data.to_str().unwrap(),
        "--margins",
        margins_file.to_str().unwrap(),
        "--tolerance",
        "0.05",
        "--max-iter",
        "1",
        "-q",
    ]);
    let out = dir.path().join("loose");
    ok(&[
        "run",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--only",
        "population",
        "-q",
    ]);
    let pop = rows(&out, "population");
    assert!(
        pop.values().all(|(_, _, how)| how.contains("calibration")),
        "{pop:?}"
    );
}

#[test]
fn bad_margins_fail_clearly_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    sample_copy(&data);
    let weights = || column_f64(&table(&data, "persons"), "weight");
    let before = weights();
    let m = dir.path().join("m.csv");
    let d = data.to_str().unwrap();
    let cases: [(&str, &[&str], &str); 6] = [
        (
            "variable,category,total\ngender,female,500\ngender,male,500\ngender,other,10\n",
            &[],
            "line 4: no respondent has gender = other",
        ),
        (
            "variable,category,total\ngender,female,500\ngender,male,500\nage_band,13-66,700\nage_band,67+,301\n",
            &[],
            "the margins of gender add up to 1000, those of age_band to 1001",
        ),
        (
            "variable,category,total\nage_band,13-17,100\nage_band,18-66,700\n",
            &[],
            "which no category of age_band takes",
        ),
        (
            "variable,category,total\nage_band,13-30,100\nage_band,30-66,700\nage_band,67+,5\n",
            &[],
            "line 3: age band 30-66 overlaps 13-30",
        ),
        (
            "variable,category,total\ngender,female,900\ngender,male,100\nage_band,13-44,100\nage_band,45+,900\n",
            &["--max-iter", "2"],
            "no convergence in 2 iterations",
        ),
        (
            "variable,category,total\nregion,0301,5\n",
            &[],
            "line 2: column variable: `region` is not a margin variable",
        ),
    ];
    for (text, extra, expect) in cases {
        std::fs::write(&m, text).unwrap();
        let mut args = vec!["weight", "--data", d, "--margins", m.to_str().unwrap()];
        args.extend(extra);
        let err = fails(&args);
        assert!(
            err.contains(expect),
            "{text}\nexpected `{expect}` in:\n{err}"
        );
        assert!(err.contains("m.csv"), "{err}");
        assert_eq!(weights(), before, "a failed calibration changed weights");
    }
    assert!(!data.join("_calibration.txt").exists());
}
