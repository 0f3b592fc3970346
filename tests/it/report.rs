//! report.html in a real browser: headless Chromium renders the report of the shipped sample,
//! and the test checks there is no console error, that every chart and map is there with
//! marks in it, that nothing is fetched from the network, and writes a screenshot.

use std::path::PathBuf;
use std::process::Command;

use crate::{ok, root};

fn chromium() -> Option<PathBuf> {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(name).output()
            && out.status.success()
        {
            return Some(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    assert!(
        std::env::var("CI").is_err(),
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

#[test]
fn the_report_renders_in_chromium_with_every_chart() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    ok(&[
        "run",
        "--data",
        root().join("data/sample").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--scenario",
        "shift-short-car-trips=0.3",
        "-q",
    ]);
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
    assert_eq!(charts, 10, "every chart and map of the report");
    assert_eq!(attr("data-empty"), "", "charts without marks");
    assert!(
        !dom.contains("class=\"none\""),
        "a chart without data on the shipped sample"
    );
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
    ok(&[
        "run",
        "--data",
        root().join("data/sample").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--lang",
        "en",
        "-q",
    ]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<html lang=\"en\">") && html.contains("Mode share of trips"),
        "English"
    );
    ok(&[
        "run",
        "--data",
        root().join("data/sample").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
    ]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("<html lang=\"nb\">") && html.contains("Transportmiddelfordeling"),
        "bokmål by default"
    );
}
