//! The command line: help, synth and run end to end.

use crate::{fails, mobility, ok, strings, table};

#[test]
fn help_lists_every_command_and_option() {
    let top = ok(&["--help"]);
    for c in ["ingest", "synth", "run"] {
        assert!(top.contains(c), "{top}");
    }
    let ingest = ok(&["ingest", "--help"]);
    for k in ["traffic", "zones", "survey", "gtfs", "factors"] {
        assert!(ingest.contains(k), "{ingest}");
    }
    let zones = ok(&["ingest", "zones", "--help"]);
    for o in [
        "--id-field",
        "--name-field",
        "--kind",
        "--crs",
        "--strict",
        "--out",
    ] {
        assert!(zones.contains(o), "{zones}");
    }
    assert!(ok(&["synth", "--help"]).contains("--persons"));
    assert!(ok(&["run", "--help"]).contains("[default: data/sample]"));
    let usage = mobility(&["ingest", "traffic"]);
    assert_eq!(usage.status.code(), Some(2), "a usage error exits 2");
}

#[test]
fn synth_then_run_writes_indicators_and_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("out");
    let said = ok(&[
        "synth",
        "--persons",
        "3000",
        "--seed",
        "5",
        "--traffic-points",
        "2",
        "--traffic-years",
        "2023-2024",
        "--out",
        data.to_str().unwrap(),
    ]);
    assert!(
        !said.contains("warning"),
        "synthetic data must ingest without rejects: {said}"
    );
    assert_eq!(table(&data, "persons").num_rows(), 3000);
    assert_eq!(table(&data, "zones").num_rows(), 51);
    assert_eq!(table(&data, "traffic_points").num_rows(), 2);
    // Every home and almost every trip end lies in a zone.
    let hh = table(&data, "households");
    assert!(strings(&hh, "home_zone_id").iter().all(Option::is_some));

    let ran = ok(&[
        "run",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ran.contains("trips_per_person_day"), "{ran}");
    let manifest = crate::manifest(&out);
    assert_eq!(manifest["table_rows"]["persons"], 3000);
    assert!(
        manifest["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["sha256"].as_str().unwrap().len() == 64)
    );
    let csv = std::fs::read_to_string(out.join("indicators/trips_per_person_day.csv")).unwrap();
    assert!(
        csv.starts_with(
            "breakdown,breakdown_value,estimate,se,ci_lower,ci_upper,n,n_eff,cv,suppressed,unit"
        ),
        "{csv}"
    );
    assert!(out.join("indicators/mode_share_trips.parquet").exists());

    // A second run replaces the outputs whole; no staging folders stay behind.
    ok(&[
        "run",
        "--data",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let mut left: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["geo", "indicators", "manifest.json", "report.html"]);
}

#[test]
fn run_without_data_says_how_to_make_some() {
    let err = fails(&["run", "--data", "/nonexistent/data", "--out", "/tmp/x"]);
    assert!(
        err.contains("does not exist (make one with `mobility synth` or `mobility ingest`)"),
        "{err}"
    );
}

#[test]
fn synth_is_deterministic_per_seed() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for d in [&a, &b] {
        ok(&[
            "synth",
            "--persons",
            "1500",
            "--seed",
            "9",
            "--traffic-points",
            "1",
            "--traffic-years",
            "2024-2024",
            "--out",
            d.path().to_str().unwrap(),
        ]);
    }
    for (t, part) in [
        ("persons", "data.parquet"),
        ("trips", "data.parquet"),
        ("traffic_hourly", "2024-03.parquet"),
    ] {
        assert_eq!(
            std::fs::read(crate::table_dir(a.path(), t).join(part)).unwrap(),
            std::fs::read(crate::table_dir(b.path(), t).join(part)).unwrap(),
            "{t}/{part}"
        );
    }
}

/// The shipped sample is exactly what `mobility synth` makes with the documented arguments, so
/// it can never drift from the generator unnoticed.
#[test]
fn shipped_sample_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    ok(&[
        "synth",
        "--persons",
        "2555",
        "--seed",
        "2018",
        "--traffic-points",
        "4",
        "--traffic-years",
        "2022-2024",
        "--out",
        dir.path().to_str().unwrap(),
        "-q",
    ]);
    let sample = crate::root().join("data/sample");
    let pointer = |d: &std::path::Path| std::fs::read_to_string(d.join("_current")).unwrap();
    assert_eq!(
        pointer(&sample),
        pointer(dir.path()),
        "the committed generations differ"
    );
    let mut compared = 0;
    for t in mobility_model::Table::ALL {
        let Ok(entries) = std::fs::read_dir(crate::table_dir(&sample, t.name())) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let fresh = crate::table_dir(dir.path(), t.name()).join(p.file_name().unwrap());
            assert!(
                std::fs::read(&p).unwrap() == std::fs::read(&fresh).unwrap_or_default(),
                "{} differs from a fresh synth: regenerate it with `cargo run -- synth --persons 2555 --seed 2018 --traffic-points 4 --traffic-years 2022-2024 --out data/sample`",
                p.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= 10, "{compared}");
}

#[test]
fn config_resolves_defaults_file_environment_and_flags_in_that_order() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mobility.toml");
    std::fs::write(&file, "min_n = 30\nmax_cv = 0.25\nlang = \"en\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mobility"))
        .args(["config", "--config", file.to_str().unwrap(), "--lang", "nb"])
        .env("MOBILITY_MAX_CV", "0.2")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let line = |k: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{k} ")))
            .unwrap_or_else(|| panic!("{k}: {text}"))
            .to_string()
    };
    assert!(
        line("min_n").contains("= 30") && line("min_n").ends_with("from mobility.toml"),
        "{text}"
    );
    assert!(
        line("max_cv").contains("= 0.2 ") && line("max_cv").ends_with("from environment"),
        "{text}"
    );
    assert!(
        line("lang").contains("\"nb\"") && line("lang").ends_with("from flag"),
        "{text}"
    );
    assert!(
        line("bootstrap").contains("= 200") && line("bootstrap").ends_with("from default"),
        "{text}"
    );
    // A bad value names the setting, the value and where it came from.
    std::fs::write(&file, "max_cv = 3\n").unwrap();
    let err = fails(&["config", "--config", file.to_str().unwrap()]);
    assert!(
        err.contains("max_cv = 3 (from mobility.toml) must lie between 0 and 1"),
        "{err}"
    );
}
