//! `mobility sql` and `mobility functions`: exact output on the shipped sample.

use crate::{fails, ok, root};

fn sample() -> String {
    root().join("data/sample").display().to_string()
}

#[test]
fn command_runs_several_statements_as_tables() {
    let out = ok(&[
        "sql",
        "--data",
        &sample(),
        "-c",
        "SELECT count(*) AS persons FROM persons; SELECT zone_of(10.52, 59.89) AS zone, distance_band(3) AS band",
    ]);
    assert_eq!(
        out,
        "+---------+\n| persons |\n+---------+\n| 2555    |\n+---------+\n1 row\n\
         +----------+----------+\n| zone     | band     |\n+----------+----------+\n| 32010205 | 2.5-5 km |\n+----------+----------+\n1 row\n"
    );
}

#[test]
fn csv_json_and_parquet_outputs() {
    let q = "SELECT mode, count(*) AS trips FROM trips WHERE mode IN ('bike', 'metro') GROUP BY mode ORDER BY mode";
    let csv = ok(&["sql", "--data", &sample(), "--format", "csv", "-c", q]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "mode,trips");
    assert!(
        lines[1].starts_with("bike,") && lines[2].starts_with("metro,"),
        "{csv}"
    );
    let json = ok(&["sql", "--data", &sample(), "--format", "json", "-c", q]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v[0]["mode"], "bike");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.parquet");
    ok(&[
        "sql",
        "--data",
        &sample(),
        "--format",
        "parquet",
        "--output",
        out.to_str().unwrap(),
        "-c",
        q,
    ]);
    // The file is queryable by path.
    let back = ok(&[
        "sql",
        "--data",
        &sample(),
        "--format",
        "csv",
        "-c",
        &format!("SELECT count(*) AS n FROM '{}'", out.display()),
    ]);
    assert_eq!(back, "n\n2\n");
}

#[test]
fn script_files_and_external_tables() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("targets.csv");
    std::fs::write(
        &csv,
        "indicator,target\nsustainable_share,0.6\nbike_share,0.07\n",
    )
    .unwrap();
    let script = dir.path().join("q.sql");
    std::fs::write(
        &script,
        format!("CREATE EXTERNAL TABLE targets STORED AS CSV LOCATION '{}' OPTIONS ('format.has_header' 'true');\nSELECT indicator FROM targets WHERE target > 0.5;\n", csv.display()),
    )
    .unwrap();
    let out = ok(&[
        "sql",
        "--data",
        &sample(),
        "--format",
        "csv",
        "-f",
        script.to_str().unwrap(),
    ]);
    assert!(out.ends_with("indicator\nsustainable_share\n"), "{out}");
}

#[test]
fn errors_are_one_line_with_the_position() {
    let err = fails(&["sql", "--data", &sample(), "-c", "SELEC 1"]);
    assert_eq!(
        err,
        "error: SQL error: ParserError(\"Expected: an SQL statement, found: SELEC at Line: 1, Column: 1\")\n"
    );
    let err = fails(&[
        "sql",
        "--data",
        &sample(),
        "-c",
        "SELECT ST_Buffer(ST_Point(10.5, 59.9), -5)",
    ]);
    assert!(
        err.starts_with("error: ") && err.contains("st_buffer: distance -5 m; expected 0 or more"),
        "{err}"
    );
}

#[test]
fn the_shell_reads_statements_over_lines_and_backslash_commands() {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mobility"))
        .args(["sql", "--data", &sample()])
        .env("HOME", tempfile::tempdir().unwrap().path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"\\d\nSELECT count(*)\n  AS zones FROM zones;\n\\d zones\n\\q\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The whole session, compared with the snapshot in tests/fixtures/shell-session.txt.
    let expected =
        std::fs::read_to_string(root().join("tests/fixtures/shell-session.txt")).unwrap();
    assert_eq!(text, expected);
}

#[test]
fn functions_lists_every_function_with_an_example() {
    let out = ok(&["functions"]);
    for f in [
        "haversine_km(",
        "geodesic_km(",
        "ST_Point(",
        "ST_GeomFromWKB(",
        "ST_GeomFromText(",
        "ST_AsText(",
        "ST_Contains(",
        "ST_Intersects(",
        "ST_Within(",
        "ST_Distance(",
        "ST_Length(",
        "ST_Area(",
        "ST_IsValid(",
        "ST_IsValidReason(",
        "ST_Centroid(",
        "ST_Buffer(",
        "ST_Transform(",
        "zone_of(",
        "nearest_stop_m(",
        "distance_band(",
        "area_traffic_index(",
        "daily_average(",
        "days_in(",
        "is_holiday(",
        "day_type(",
        "calendar_day_class(",
        "working_day_weight(",
        "trp_kind(",
    ] {
        assert!(out.contains(f), "{f} missing from:\n{out}");
    }
    assert_eq!(out.matches("    example: ").count(), 28, "{out}");
}

/// `--memory-limit`: a sort larger than the limit spills to disk and gives the same rows; a
/// run whose queries cannot fit fails with DataFusion's message naming the operator and ours
/// naming the limit and where it came from (not an OOM kill); a limit the run fits in changes
/// no figure.
#[test]
fn a_memory_limit_spills_or_fails_naming_itself() {
    let d = sample();
    let q = "SELECT v, v % 7 AS k FROM (SELECT value AS v FROM generate_series(1, 2000000)) ORDER BY k, v DESC";
    let free = ok(&["sql", "--data", &d, "--format", "csv", "-c", q]);
    let limited = ok(&[
        "sql",
        "--data",
        &d,
        "--memory-limit",
        "24MiB",
        "--format",
        "csv",
        "-c",
        q,
    ]);
    assert!(free == limited, "the spilled sort differs");
    let plan = ok(&[
        "sql",
        "--data",
        &d,
        "--memory-limit",
        "24MiB",
        "-c",
        &format!("EXPLAIN ANALYZE {q}"),
    ]);
    let spills: u64 = plan
        .split("spill_count=")
        .skip(1)
        .map(|s| {
            s.split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert!(spills > 0, "no spill under 24 MiB:\n{plan}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    let out_cmd = crate::mobility(&[
        "run",
        "--data",
        &d,
        "--out",
        o,
        "--memory-limit",
        "64KiB",
        "--only",
        "trips_per_person_day",
        "-q",
    ]);
    assert_eq!(
        out_cmd.status.code(),
        Some(1),
        "an error exit, not a signal"
    );
    let err = String::from_utf8_lossy(&out_cmd.stderr);
    assert!(
        err.contains("Resources exhausted") || err.contains("Failed to allocate"),
        "{err}"
    );
    assert!(
        err.contains("the query needed more memory than memory_limit = 64KiB (0.1 MiB, from flag)"),
        "{err}"
    );

    let read = |dir: &std::path::Path, id: &str| {
        std::fs::read_to_string(dir.join(format!("indicators/{id}.csv"))).unwrap()
    };
    let ids = "trips_per_person_day,mode_share_trips,od_trips,median_trip_length_by_mode";
    let free_out = dir.path().join("free");
    ok(&[
        "run",
        "--data",
        &d,
        "--out",
        free_out.to_str().unwrap(),
        "--only",
        ids,
        "-q",
    ]);
    ok(&[
        "run",
        "--data",
        &d,
        "--out",
        o,
        "--only",
        ids,
        "--memory-limit",
        "256MiB",
        "-q",
    ]);
    for id in ids.split(',') {
        assert!(
            read(&free_out, id) == read(&out, id),
            "{id} differs under the limit"
        );
    }
    let config = ok(&["config", "--memory-limit", "2GiB"]);
    assert!(
        config.contains("memory_limit    = \"2GiB\"")
            && config.contains("(= 2.00 GiB here); from flag"),
        "{config}"
    );
}

/// The calls of `zone_of` the physical plan evaluates on rows: `zone_of(lon@0, …)`, whose first
/// argument is a column by index, not a column named after an earlier call
/// (`zone_of(traffic_points.lon,…)@0`); the Parquet scan's pruning predicate is not evaluated
/// per row.
fn zone_of_evaluations(explain: &str) -> usize {
    explain
        .lines()
        .skip_while(|l| !l.contains("physical_plan"))
        .filter(|l| !l.contains("DataSourceExec"))
        .flat_map(|l| l.split("zone_of(").skip(1))
        .filter(|rest| {
            rest.split([',', ')'])
                .next()
                .is_some_and(|a| a.contains('@'))
        })
        .count()
}

/// `mobility sql -c statements` on the sample, as CSV.
fn csv_sql(statements: &str) -> String {
    ok(&[
        "sql",
        "--data",
        &sample(),
        "--format",
        "csv",
        "-c",
        statements,
    ])
}

#[test]
fn a_lookup_filtered_and_selected_is_evaluated_once() {
    let forms = [
        "SELECT zone_of(origin_lon, origin_lat) AS z, count(*) AS n FROM trips \
         WHERE zone_of(origin_lon, origin_lat) IS NOT NULL GROUP BY 1 ORDER BY 1",
        "SELECT z, count(*) AS n FROM (SELECT zone_of(origin_lon, origin_lat) AS z FROM trips) t \
         WHERE z IS NOT NULL GROUP BY z ORDER BY z",
        "SELECT zone_of(origin_lon, origin_lat, 'grunnkrets') AS z, trip_id FROM trips \
         WHERE zone_of(origin_lon, origin_lat, 'grunnkrets') <> '32010101' ORDER BY trip_id",
    ];
    let off = "SET mobility.lookup_once = false;";
    for q in forms {
        let plan = csv_sql(&format!("EXPLAIN {q}"));
        let before = csv_sql(&format!("{off} EXPLAIN {q}"));
        assert_eq!(
            zone_of_evaluations(&before),
            2,
            "DataFusion's own plan:\n{before}"
        );
        assert_eq!(zone_of_evaluations(&plan), 1, "{plan}");
        let once = csv_sql(q);
        let twice = csv_sql(&format!("{off} {q}"));
        assert_eq!(once, twice, "{q}");
        assert!(once.lines().count() > 30, "{once}");
    }
    // A call in a later conjunct runs only on the rows the earlier ones kept: left in place.
    let guarded = "SELECT zone_of(origin_lon, origin_lat) AS z FROM trips \
                   WHERE trip_id < 100 AND zone_of(origin_lon, origin_lat) IS NOT NULL";
    let plan = csv_sql(&format!("EXPLAIN {guarded}"));
    assert_eq!(zone_of_evaluations(&plan), 2, "{plan}");
    // A LIMIT is kept, whichever operator it was pushed into.
    let limited = csv_sql(
        "SELECT zone_of(origin_lon, origin_lat) AS z FROM trips \
         WHERE zone_of(origin_lon, origin_lat) IS NOT NULL LIMIT 5",
    );
    assert_eq!(limited.lines().count(), 6, "{limited}");
}
