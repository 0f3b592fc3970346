//! The arrows of docs/architecture.md hold in the code: each crate depends only on the crates
//! below it, no two modules of a crate import each other, directly or through others, and no
//! function outside the tests is over 120 lines.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::root;

/// The workspace crates each library may depend on (normal dependencies), as
/// docs/architecture.md draws them. The binary (`mobility-cli`) is glue and may use any.
const ARROWS: &[(&str, &[&str])] = &[
    ("mobility-model", &[]),
    ("mobility-geo", &[]),
    ("mobility-stats", &[]),
    (
        "mobility-ingest",
        &["mobility-model", "mobility-geo", "mobility-stats"],
    ),
    (
        "mobility-sql",
        &["mobility-model", "mobility-geo", "mobility-stats"],
    ),
    ("mobility-report", &["mobility-model", "mobility-geo"]),
    (
        "mobility-indicators",
        &[
            "mobility-model",
            "mobility-geo",
            "mobility-stats",
            "mobility-sql",
            "mobility-report",
        ],
    ),
    ("mobility-synth", &["mobility-model", "mobility-geo"]),
    ("mobility-fuzz", &["mobility-ingest", "mobility-geo"]),
];

/// The `mobility-*` crates in `[dependencies]` of a crate's Cargo.toml.
fn workspace_deps(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    doc.get("dependencies")
        .and_then(|d| d.as_table())
        .map(|d| {
            d.keys()
                .filter(|k| k.starts_with("mobility-"))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn crates_depend_only_along_the_arrows() {
    let crates = root().join("crates");
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        if name == "mobility-cli" {
            continue;
        }
        let allowed = ARROWS
            .iter()
            .find(|(c, _)| *c == name)
            .unwrap_or_else(|| {
                panic!("{name} is not in ARROWS: add its arrows here and to docs/architecture.md")
            })
            .1;
        let deps = workspace_deps(&dir.join("Cargo.toml"));
        let extra: Vec<&String> = deps
            .iter()
            .filter(|d| !allowed.contains(&d.as_str()))
            .collect();
        assert!(
            extra.is_empty(),
            "{name} depends on {extra:?}, against the arrows of docs/architecture.md"
        );
        seen.insert(name);
    }
    assert!(
        seen.contains("mobility-indicators") && seen.len() >= 8,
        "{seen:?}"
    );
}

/// The top-level modules of `crate::…` paths in `text`, including grouped imports
/// (`use crate::{a, b::c}`).
fn crate_paths(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // The group's items at depth 0.
            let (mut depth, mut item) = (0, String::new());
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.insert(ident(&item));
        } else {
            out.insert(ident(rest));
        }
    }
    out.remove("");
    out
}

/// Each top-level module of `src` with the modules it names, test modules and comments left
/// out. Names re-exported by `lib.rs` (`crate::Error`) are not traced to their module.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if p.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = p.strip_prefix(src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        // Code only: the tests and comments (a doc link is not an import) left out.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap()
            .lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let refs = crate_paths(&code);
        graph
            .entry(top.clone())
            .or_default()
            .extend(refs.into_iter().filter(|r| *r != top));
    }
    let modules: BTreeSet<String> = graph.keys().cloned().collect();
    for deps in graph.values_mut() {
        deps.retain(|d| modules.contains(d));
    }
    graph
}

/// A cycle of `graph`, as the modules on it, if there is one.
fn a_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, bool>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(m.to_string(), false);
        path.push(m.to_string());
        for d in &graph[m] {
            match state.get(d) {
                Some(false) => {
                    let at = path.iter().position(|p| p == d).unwrap();
                    let mut cycle = path[at..].to_vec();
                    cycle.push(d.clone());
                    return Some(cycle);
                }
                Some(true) => {}
                None => {
                    if let Some(c) = visit(d, graph, state, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.insert(m.to_string(), true);
        None
    }
    let mut state = BTreeMap::new();
    for m in graph.keys() {
        if !state.contains_key(m) {
            if let Some(c) = visit(m, graph, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn no_two_modules_of_a_crate_import_each_other() {
    // The checker finds what it should.
    let text =
        "use crate::{Error, run::Manifest, svg::{self, esc}};\nlet x = crate::lookup_once::R;";
    assert_eq!(
        crate_paths(text).into_iter().collect::<Vec<_>>(),
        ["Error", "lookup_once", "run", "svg"]
    );
    let cyclic: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec![]),
    ]
    .into_iter()
    .map(|(m, d)| (m.to_string(), d.into_iter().map(str::to_string).collect()))
    .collect();
    assert_eq!(a_cycle(&cyclic).unwrap().len(), 4);

    let mut modules = 0;
    for entry in std::fs::read_dir(root().join("crates")).unwrap() {
        let src = entry.unwrap().path().join("src");
        let graph = module_graph(&src);
        modules += graph.len();
        if let Some(c) = a_cycle(&graph) {
            panic!(
                "{}: modules import each other: {}",
                src.display(),
                c.join(" -> ")
            );
        }
    }
    assert!(modules > 50, "{modules} modules found");
}

/// The longest a function may be, outside tests: the house style's "short functions", as
/// issue 15 set it (a function over it is split along its steps).
const MAX_FUNCTION_LINES: usize = 120;

/// The functions of a source file over `max` lines outside its test module: (name, lines),
/// a function counted from its `fn` line to the `}` at its indentation.
fn long_functions(text: &str, max: usize) -> Vec<(String, usize)> {
    let lines: Vec<&str> = text
        .lines()
        .take_while(|l| !l.starts_with("#[cfg(test)]"))
        .collect();
    let mut long = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let rest = line.trim_start();
        let indent = &line[..line.len() - rest.len()];
        let mut decl = rest;
        for prefix in [
            "pub(crate) ",
            "pub(super) ",
            "pub ",
            "const ",
            "async ",
            "unsafe ",
        ] {
            decl = decl.strip_prefix(prefix).unwrap_or(decl);
        }
        let Some(name) = decl.strip_prefix("fn ") else {
            i += 1;
            continue;
        };
        // A declaration without a body (a trait's) ends on its line.
        if rest.ends_with(';') {
            i += 1;
            continue;
        }
        let close = format!("{indent}}}");
        let end = (i..lines.len())
            .find(|&j| lines[j] == close)
            .unwrap_or(lines.len() - 1);
        let n = end - i + 1;
        if n > max {
            let name: String = name
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            long.push((name, n));
        }
        i = end + 1;
    }
    long
}

#[test]
fn no_function_is_longer_than_the_house_allows() {
    // The check finds a long function, in an impl too, and not one in the test module.
    let body = "    x += 1;\n".repeat(MAX_FUNCTION_LINES);
    let made_up = format!(
        "fn short() {{\n}}\n\nimpl A {{\n    pub(crate) fn long(&self) {{\n{body}    }}\n}}\n\n#[cfg(test)]\nmod tests {{\n    fn also_long() {{\n{body}    }}\n}}\n"
    );
    assert_eq!(
        long_functions(&made_up, MAX_FUNCTION_LINES),
        vec![("long".to_string(), MAX_FUNCTION_LINES + 2)]
    );
    let mut found = Vec::new();
    let mut stack = vec![root().join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (name, n) in long_functions(&text, MAX_FUNCTION_LINES) {
                    found.push(format!("{} {name}: {n} lines", path.display()));
                }
            }
        }
    }
    found.sort();
    assert!(
        found.is_empty(),
        "functions over {MAX_FUNCTION_LINES} lines:\n{}",
        found.join("\n")
    );
}
