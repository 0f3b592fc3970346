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
