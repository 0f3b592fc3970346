//! report.html in a real browser: headless Chromium renders the report of the shipped sample,
//! and the test checks there is no console error, that every chart and map is there, that
//! each draws as many data marks (`class="mark"`: bars, segments, points of lines, zones with
//! a value, counting points; not gridlines, whiskers, legends or clip rectangles) as it has
//! data rows, that nothing is fetched from the network, and writes a screenshot.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ok;

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(name).output()
            && out.status.success()
        {
            return Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    assert!(
        !std::env::var("CI").is_ok_and(|v| v == "true"),
        "CI must have chromium (.ci/run installs it)"
    );
    eprintln!("SKIP: no chromium on this machine");
    None
}

fn headless(browser: &PathBuf, args: &[&str]) -> (String, String) {
    let home = tempfile::tempdir().unwrap();
    let out = Command::new(browser)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
        ])
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", home.path().display()))
        .args(args)
        .output()
        .expect("chromium runs");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `(breakdown_value, key, estimate)` of the cells of `breakdown` in an indicator's CSV that
/// have an estimate; `key` names the key column (empty without one).
fn estimates(
    out: &Path,
    id: &str,
    breakdown: &str,
    key: Option<&str>,
) -> Vec<(String, String, f64)> {
    let path = out.join(format!("indicators/{id}.csv"));
    let mut r = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h = r.headers().unwrap().clone();
    let col = |n: &str| {
        h.iter()
            .position(|c| c == n)
            .unwrap_or_else(|| panic!("no column {n} in {}", path.display()))
    };
    let (bd, bv, est) = (col("breakdown"), col("breakdown_value"), col("estimate"));
    let k = key.map(col);
    r.records()
        .map(|rec| rec.unwrap())
        .filter(|rec| &rec[bd] == breakdown)
        .filter_map(|rec| {
            let e = rec[est].parse::<f64>().ok()?;
            let key = k.map_or(String::new(), |k| rec[k].to_string());
            Some((rec[bv].to_string(), key, e))
        })
        .collect()
}

#[test]
fn the_report_renders_in_chromium_with_every_chart() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    crate::run_sample(&out, &["--scenario", "shift-short-car-trips=0.3"]);
    let report = out.join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    // Self-contained: nothing loaded from elsewhere.
    for needle in ["src=\"http", "href=\"http", "<link", "@import", "<img"] {
        assert!(!html.contains(needle), "report.html refers to {needle}");
    }
    let url = format!("file://{}", report.display());
    let (dom, log) = headless(&browser, &["--dump-dom", &url]);
    for bad in ["Uncaught", "CONSOLE(", "ERR_"] {
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(bad) && !l.contains("dbus"))
            .collect();
        assert!(
            lines.is_empty(),
            "browser log has {bad}:\n{}",
            lines.join("\n")
        );
    }
    let attr = |name: &str| -> String {
        let k = format!("{name}=\"");
        let i = dom
            .find(&k)
            .unwrap_or_else(|| panic!("no {name} on <body>: the check script did not run\n{log}"));
        dom[i + k.len()..].split('"').next().unwrap().to_string()
    };
    let charts: usize = attr("data-charts").parse().unwrap();
    assert_eq!(charts, 11, "every chart and map of the report");
    assert_eq!(attr("data-empty"), "", "charts without data marks");
    assert!(
        !dom.contains("class=\"none\""),
        "a chart without data on the shipped sample"
    );
    // Each chart's data marks as the browser counted them, against the number of data values
    // the report handed to the chart (figure[data-rows]) ...
    let marks: HashMap<String, usize> = attr("data-marks")
        .split(',')
        .map(|kv| {
            let (id, n) = kv
                .split_once('=')
                .unwrap_or_else(|| panic!("data-marks has {kv:?}"));
            (id.to_string(), n.parse::<usize>().unwrap())
        })
        .collect();
    assert_eq!(marks.len(), 11, "{marks:?}");
    assert_eq!(
        attr("data-wrong"),
        "",
        "charts whose data marks differ from their data rows ({marks:?})"
    );
    // ... and, where the outputs say how many there must be, against the indicator files:
    // a bar per mode with a share or emissions above 0, two bars (today, with the scenario)
    // per scenario measure, a zone per home zone with an estimate.
    let positive = |id: &str| {
        estimates(&out, id, "all", Some("mode"))
            .iter()
            .filter(|c| c.2 > 0.0)
            .count()
    };
    let scenario = estimates(
        &out,
        "scenario_shift_short_car_trips",
        "all",
        Some("measure"),
    );
    let has = |m: &str| scenario.iter().any(|c| c.1 == m);
    let scenario_bars = 2 * [
        ("vehicle_km_per_day_baseline", "vehicle_km_per_day_change"),
        ("co2e_kg_per_year_baseline", "co2e_kg_per_year_change"),
    ]
    .iter()
    .filter(|&&(base, change)| has(base) && has(change))
    .count();
    let home_zones = estimates(&out, "sustainable_share", "home_zone", None)
        .iter()
        .filter(|c| !c.0.is_empty())
        .count();
    // The flow map draws a line per flow between two different municipalities (the 25
    // largest); the flow table a row per cell within, out of and into the municipality with
    // the most trips within it.
    let od: Vec<(String, String, f64)> = {
        let path = out.join("indicators/od_trips_municipality.csv");
        let mut r = csv::Reader::from_path(&path).unwrap();
        let h = r.headers().unwrap().clone();
        let c = |n: &str| h.iter().position(|x| x == n).unwrap();
        let (bd, o, d, e) = (
            c("breakdown"),
            c("origin_zone_id"),
            c("dest_zone_id"),
            c("estimate"),
        );
        r.records()
            .map(|x| x.unwrap())
            .filter(|x| &x[bd] == "all")
            .map(|x| (x[o].to_string(), x[d].to_string(), x[e].parse().unwrap()))
            .collect()
    };
    let flows = od
        .iter()
        .filter(|c| c.0 != c.1 && c.0 != "outside" && c.1 != "outside")
        .count()
        .min(25);
    let home = &od
        .iter()
        .filter(|c| c.0 == c.1 && c.0 != "outside")
        .max_by(|a, b| a.2.total_cmp(&b.2))
        .expect("trips within a municipality")
        .0;
    let table = &html[html
        .find("data-table=\"od_flows\"")
        .expect("the flow table")..];
    let table = &table[..table.find("</table>").unwrap()];
    assert_eq!(
        table.matches("<tr").count() - 1,
        od.iter().filter(|c| &c.0 == home || &c.1 == home).count(),
        "{table}"
    );
    for (id, want) in [
        ("od_flows", flows),
        ("mode_share_trips", positive("mode_share_trips")),
        ("mode_share_km", positive("mode_share_km")),
        ("co2e_by_mode", positive("co2e_by_mode")),
        ("scenario", scenario_bars),
        ("map_zones", home_zones),
    ] {
        assert!(want > 0, "{id}: no data rows in the outputs");
        assert_eq!(
            marks.get(id),
            Some(&want),
            "{id}: data marks in the browser vs data rows in the outputs"
        );
    }
    // The screenshot, for people to look at.
    let png = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-sample.png");
    let _ = std::fs::remove_file(&png);
    headless(
        &browser,
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1100,7000",
            "--hide-scrollbars",
            &url,
        ],
    );
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(
        bytes.len() > 20_000 && bytes.starts_with(b"\x89PNG"),
        "{} bytes",
        bytes.len()
    );
    eprintln!("screenshot: {}", png.display());
}

#[test]
fn the_report_speaks_english_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    crate::run_sample(&out, &["--lang", "en"]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<html lang=\"en\">") && html.contains("Mode share of trips"),
        "English"
    );
    crate::run_sample(&out, &[]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<html lang=\"nb\">") && html.contains("Transportmiddelfordeling"),
        "bokmål by default"
    );
}

/// The numbers a report writes (chart labels, tooltips, tables, axis ticks, category labels
/// such as `2.5-5 km`): in bokmål with a decimal comma, in English with a point. Free text from
/// the data (a factor's source) is left as it is: a text node counts when it has at most one
/// word beside its numbers (a unit).
#[test]
fn the_report_writes_its_numbers_with_the_languages_decimal_mark() {
    // `html` without its `<tag …>…</tag>` elements.
    fn without(html: &str, tag: &str) -> String {
        let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
        let mut kept = String::new();
        let mut rest = html;
        while let Some(i) = rest.find(&open) {
            kept.push_str(&rest[..i]);
            rest = rest[i..]
                .find(&close)
                .map_or("", |j| &rest[i + j + close.len()..]);
        }
        kept.push_str(rest);
        kept
    }
    let numbers = |html: &str, mark: char| -> Vec<String> {
        // Scripts and styles are not shown.
        let shown = without(&without(html, "script"), "style");
        let mut nodes = Vec::new();
        let mut inside = false;
        let mut node = String::new();
        for c in shown.chars() {
            match c {
                '<' => {
                    inside = true;
                    nodes.push(std::mem::take(&mut node));
                }
                '>' => inside = false,
                c if !inside => node.push(c),
                _ => {}
            }
        }
        nodes
            .into_iter()
            .map(|n| n.trim().to_string())
            .filter(|n| {
                let b: Vec<char> = n.chars().collect();
                let marked = b
                    .windows(3)
                    .any(|w| w[0].is_ascii_digit() && w[1] == mark && w[2].is_ascii_digit());
                let words = n
                    .split(|c: char| !c.is_alphabetic())
                    .filter(|w| w.chars().count() >= 2)
                    .count();
                marked && words <= 1
            })
            .collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut shown = 0;
    for (lang, wrong, right) in [("nb", '.', ','), ("en", ',', '.')] {
        let out = dir.path().join(lang);
        crate::run_sample(
            &out,
            &["--lang", lang, "--scenario", "shift-short-car-trips=0.3"],
        );
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        let bad = numbers(&html, wrong);
        assert!(
            bad.is_empty(),
            "{lang}: numbers written with '{wrong}': {bad:?}"
        );
        shown += numbers(&html, right).len();
    }
    assert!(shown > 50, "the reports show decimals: {shown}");
}

/// A number as the report writes it (thin spaces between thousands, a decimal comma in
/// bokmål, a minus sign), read back.
fn shown_number(s: &str) -> Option<f64> {
    let t: String = s
        .trim()
        .trim_end_matches('%')
        .trim()
        .chars()
        .filter(|c| !matches!(c, '\u{2009}' | '\u{a0}' | ' '))
        .map(|c| match c {
            ',' => '.',
            '−' => '-',
            c => c,
        })
        .collect();
    t.parse().ok()
}

/// The text of each cell of the `<table …data-table="name"…>` of `html`, row by row (the
/// header row left out).
fn table_cells(html: &str, name: &str) -> Vec<Vec<String>> {
    let start = html
        .find(&format!("data-table=\"{name}\""))
        .unwrap_or_else(|| panic!("no table {name}"));
    let table = &html[start..];
    let table = &table[..table.find("</table>").unwrap()];
    table
        .split("<tr")
        .skip(2)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|c| {
                    let c = &c[c.find('>').unwrap() + 1..];
                    c[..c.find("</td>").unwrap()].to_string()
                })
                .collect()
        })
        .collect()
}

/// The report is rendered from the run's outputs alone: `mobility report` over the output
/// folder writes the page the run wrote, byte for byte. And the numbers it prints are the
/// indicator tables' own: each flow of the flow table is its `od_trips_municipality` estimate
/// and CI rounded as shown, each target's measured value its `targets` row.
#[test]
fn the_report_renders_from_the_outputs_alone_with_the_tables_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    crate::run_sample(&out, &["--scenario", "shift-short-car-trips=0.3"]);
    let from_run = std::fs::read_to_string(out.join("report.html")).unwrap();
    std::fs::remove_file(out.join("report.html")).unwrap();
    ok(&["report", "--out", out.to_str().unwrap()]);
    let again = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        from_run == again,
        "mobility report wrote another page than the run"
    );
    // In another language on request, and back in the run's own (the manifest's) without.
    ok(&[
        "report",
        "--out",
        out.to_str().unwrap(),
        "--lang",
        "en",
        "-q",
    ]);
    let en = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(en.contains("<html lang=\"en\">") && en.contains("Mode share of trips"));
    ok(&["report", "--out", out.to_str().unwrap(), "-q"]);
    let nb = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(nb == from_run, "without --lang, the run's language (nb)");

    // The flow table: every row's estimate and CI bounds, to the unit shown.
    let od: Vec<[f64; 3]> = {
        let path = out.join("indicators/od_trips_municipality.csv");
        let mut r = csv::Reader::from_path(&path).unwrap();
        let h = r.headers().unwrap().clone();
        let c = |n: &str| h.iter().position(|x| x == n).unwrap();
        let (bd, e, lo, hi) = (c("breakdown"), c("estimate"), c("ci_lower"), c("ci_upper"));
        r.records()
            .map(|x| x.unwrap())
            .filter(|x| &x[bd] == "all" && !x[e].is_empty())
            .map(|x| {
                [
                    x[e].parse().unwrap(),
                    x[lo].parse().unwrap(),
                    x[hi].parse().unwrap(),
                ]
            })
            .collect()
    };
    let flows = table_cells(&from_run, "od_flows");
    assert!(flows.len() > 3, "{flows:?}");
    for row in &flows {
        let est = shown_number(&row[1]).unwrap_or_else(|| panic!("{row:?}"));
        let (lo, hi) = row[2].split_once(" – ").unwrap();
        let shown = [est, shown_number(lo).unwrap(), shown_number(hi).unwrap()];
        assert!(
            od.iter()
                .any(|c| (0..3).all(|k| (c[k] - shown[k]).abs() <= 0.5 + 1e-9)),
            "flow {row:?} is no cell of od_trips_municipality"
        );
    }
    // The targets: the measured value of each, in % for shares, to one decimal.
    let measured: Vec<(f64, String)> = {
        let path = out.join("indicators/targets.csv");
        let mut r = csv::Reader::from_path(&path).unwrap();
        let h = r.headers().unwrap().clone();
        let c = |n: &str| h.iter().position(|x| x == n).unwrap();
        let (m, u) = (c("measured"), c("unit"));
        r.records()
            .map(|x| x.unwrap())
            .filter_map(|x| Some((x[m].parse().ok()?, x[u].to_string())))
            .collect()
    };
    let start = from_run
        .find("class=\"targets\"")
        .expect("the targets table");
    let targets = &from_run[start..];
    let targets = &targets[..targets.find("</table>").unwrap()];
    let rows: Vec<&str> = targets.split("<tr").skip(2).collect();
    let shown: Vec<f64> = rows
        .iter()
        .filter_map(|r| {
            let cell = r.split("<td").nth(4)?;
            let cell = &cell[cell.find('>')? + 1..cell.find("</td>")?];
            shown_number(cell.split('\u{a0}').next()?)
        })
        .collect();
    assert_eq!(shown.len(), measured.len(), "a measured value per target");
    for ((value, unit), shown) in measured.iter().zip(&shown) {
        let scale = if unit == "share" { 100.0 } else { 1.0 };
        assert!(
            (value * scale - shown).abs() <= 0.05 + 1e-9,
            "measured {value} ({unit}) shown as {shown}"
        );
    }
}
