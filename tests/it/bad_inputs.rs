//! The bad-input corpus of `tests/fixtures/bad/`: each case of `cases.toml` ingested into a
//! fresh data directory, with the error or the rejects it must give (docs/reliability.md).

use std::path::Path;

use crate::{mobility, root};

/// One expected reject: the line exactly, column and reason as substrings.
struct Expected {
    line: u64,
    column: String,
    reason: String,
}

fn strs(v: Option<&toml::Value>) -> Vec<String> {
    v.and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .map(|x| x.as_str().expect("args are strings").to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn ingest(kind: &str, path: &Path, args: &[String], data: &Path) -> std::process::Output {
    let mut all = vec!["ingest".to_string(), kind.to_string()];
    if kind == "survey" && !args.iter().any(|a| a == "--mapping") {
        all.extend(["--mapping".to_string(), "canonical".to_string()]);
    }
    all.push(path.display().to_string());
    all.extend(args.iter().cloned());
    all.extend(["--out".to_string(), data.display().to_string()]);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    mobility(&refs)
}

/// The rows of every rejects file of a data directory: (line, column, reason).
fn rejects_of(data: &Path) -> Vec<(u64, String, String)> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(data.join("_rejects")) else {
        return out;
    };
    for e in rd {
        let mut r = csv::Reader::from_path(e.unwrap().path()).unwrap();
        for rec in r.records() {
            let rec = rec.unwrap();
            out.push((
                rec[1].parse().unwrap(),
                rec[2].to_string(),
                rec[4].to_string(),
            ));
        }
    }
    out.sort();
    out
}

/// Rows written as the summary prints them (the second-to-last number of each file row).
fn written_of(stdout: &str) -> u64 {
    stdout
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let n = f.len();
            (n >= 6 && f[n - 3..].iter().all(|x| x.parse::<u64>().is_ok()))
                .then(|| f[n - 2].parse::<u64>().unwrap())
        })
        .sum()
}

#[test]
fn every_bad_input_gives_its_error_or_its_rejects() {
    let dir = root().join("tests/fixtures/bad");
    let text = std::fs::read_to_string(dir.join("cases.toml")).unwrap();
    let manifest: toml::Table = text.parse().expect("cases.toml parses");
    let cases = manifest["case"].as_array().expect("[[case]] tables");
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let doc = std::fs::read_to_string(root().join("docs/reliability.md")).unwrap();
    let mut failures = Vec::new();
    let mut names = std::collections::HashSet::new();
    for c in cases {
        let name = c["name"].as_str().unwrap();
        assert!(names.insert(name.to_string()), "case {name} twice");
        assert!(
            doc.contains(&format!("| `{name}` |")),
            "{name} is not in docs/reliability.md: python3 tests/fixtures/bad/table.py"
        );
        assert!(
            c.get("what").and_then(|w| w.as_str()).is_some(),
            "{name}: no `what`"
        );
        let kind = c["kind"].as_str().unwrap();
        let path = dir.join(c["path"].as_str().unwrap());
        assert!(path.exists(), "{name}: {} is missing", path.display());
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        for s in c
            .get("setup")
            .and_then(|s| s.as_array())
            .into_iter()
            .flatten()
        {
            let out = ingest(
                s["kind"].as_str().unwrap(),
                &dir.join(s["path"].as_str().unwrap()),
                &strs(s.get("args")),
                &data,
            );
            assert!(out.status.success(), "{name}: setup failed");
        }
        let out = ingest(kind, &path, &strs(c.get("args")), &data);
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        if let Some(err) = c.get("error").and_then(|e| e.as_str()) {
            if out.status.success() || !stderr.contains(err) {
                failures.push(format!(
                    "{name}: expected failure with '{err}'; exit {:?}, stderr: {stderr}",
                    out.status.code()
                ));
            }
            continue;
        }
        if !out.status.success() {
            failures.push(format!("{name}: failed: {stderr}"));
            continue;
        }
        let expected: Vec<Expected> = c
            .get("rejects")
            .and_then(|r| r.as_array())
            .unwrap_or_else(|| panic!("{name}: neither `error` nor `rejects`"))
            .iter()
            .map(|r| Expected {
                line: r["line"].as_integer().unwrap() as u64,
                column: r
                    .get("column")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .into(),
                reason: r
                    .get("reason")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .into(),
            })
            .collect();
        let got = rejects_of(&data);
        let matches = got.len() == expected.len()
            && expected.iter().all(|e| {
                got.iter().any(|(l, col, why)| {
                    *l == e.line && col.contains(&e.column) && why.contains(&e.reason)
                })
            });
        if !matches {
            failures.push(format!(
                "{name}: rejects {got:?}, expected {:?}",
                expected
                    .iter()
                    .map(|e| (e.line, &e.column, &e.reason))
                    .collect::<Vec<_>>()
            ));
        }
        if let Some(w) = c.get("written").and_then(|w| w.as_integer())
            && written_of(&stdout) != w as u64
        {
            failures.push(format!(
                "{name}: {} rows written, expected {w}:\n{stdout}",
                written_of(&stdout)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("{} bad-input cases as expected", cases.len());
}
