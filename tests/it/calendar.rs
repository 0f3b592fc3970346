//! Norway's public holidays 2020–2030 (`is_holiday`, `day_type`) against an independent list:
//! the `holidays` package for Python (`holidays.Norway`), installed by `.ci/run`.

use std::collections::BTreeSet;

use crate::{ok, python_with, root};

#[test]
fn public_holidays_2020_to_2030_equal_the_holidays_package() {
    if !python_with("holidays") {
        return;
    }
    let sample = root().join("data/sample");
    let out = ok(&[
        "sql",
        "--data",
        sample.to_str().unwrap(),
        "--format",
        "csv",
        "-c",
        "SELECT d, day_type(d) AS t FROM (SELECT CAST(x AS DATE) AS d \
         FROM generate_series(DATE '2020-01-01', DATE '2030-12-31', INTERVAL '1 day') AS g(x)) \
         WHERE is_holiday(d) ORDER BY d",
    ]);
    let ours: BTreeSet<String> = out
        .lines()
        .skip(1)
        .map(|l| {
            let (d, t) = l.split_once(',').unwrap();
            assert_eq!(t, "holiday", "{d}");
            d.to_string()
        })
        .collect();
    let theirs = crate::python(&[
        "-c",
        "import holidays\nfor d in sorted(holidays.Norway(years=range(2020, 2031))): print(d)",
    ]);
    let theirs: BTreeSet<String> = theirs.lines().map(str::to_string).collect();
    assert!(theirs.len() > 120, "{} holidays", theirs.len());
    assert_eq!(
        ours.symmetric_difference(&theirs).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "dates in one list only"
    );
}

/// The kommune's own holidays from mobility.toml (a list, or a comma-separated string in
/// MOBILITY_HOLIDAYS) count as holidays in `is_holiday`, `day_type` and `days_in`, and so in
/// the weekday figures; a value that is not a date is refused naming where it came from.
#[test]
fn the_kommunes_own_holidays_from_mobility_toml() {
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("data/sample");
    let config = dir.path().join("mobility.toml");
    let sql = "SELECT is_holiday(DATE '2024-12-24') AS h, day_type(DATE '2024-12-31') AS t, days_in(2024, 12, 'weekday') AS n";
    let run = |config: Option<&std::path::Path>| {
        let mut args = vec![
            "sql",
            "--data",
            sample.to_str().unwrap(),
            "--format",
            "csv",
            "-c",
            sql,
        ];
        if let Some(c) = config {
            args.extend(["--config", c.to_str().unwrap()]);
        }
        ok(&args)
    };
    assert_eq!(run(None), "h,t,n\nfalse,weekday,20\n");
    std::fs::write(&config, "holidays = [\"2024-12-24\", \"2024-12-31\"]\n").unwrap();
    assert_eq!(run(Some(&config)), "h,t,n\ntrue,holiday,18\n");
    std::fs::write(&config, "holidays = [\"24.12.2024\"]\n").unwrap();
    let err = crate::fails(&[
        "sql",
        "--data",
        sample.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "-c",
        sql,
    ]);
    assert!(
        err.contains("holidays (from")
            && err.contains("'24.12.2024' is not a date like 2024-12-24"),
        "{err}"
    );
}
