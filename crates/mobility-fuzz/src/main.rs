//! `mobility-fuzz TARGET SECONDS [SEED]`: mutation-fuzz one reader (or `all`, each for
//! SECONDS) on the corpus in `fuzz/corpus/TARGET/`, writing findings to `fuzz/crashes/TARGET/`.
//! See `docs/reliability.md`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use mobility_fuzz::{Target, files, fuzz};

#[global_allocator]
static GLOBAL: mobility_fuzz::Guard = mobility_fuzz::Guard;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(which), Some(secs)) = (args.get(1), args.get(2).and_then(|s| s.parse::<u64>().ok()))
    else {
        eprintln!("usage: mobility-fuzz TARGET|all SECONDS [SEED]");
        return ExitCode::from(2);
    };
    let seed = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let targets: Vec<Target> = if which == "all" {
        Target::ALL.to_vec()
    } else {
        match Target::from_name(which) {
            Some(t) => vec![t],
            None => {
                eprintln!("unknown target {which}");
                return ExitCode::from(2);
            }
        }
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    // Panics are findings, caught and counted; keep their messages off the terminal.
    std::panic::set_hook(Box::new(|_| {}));
    let mut found = 0;
    for t in targets {
        let corpus: Vec<Vec<u8>> = files(&root.join("corpus").join(t.name()))
            .iter()
            .filter_map(|p| std::fs::read(p).ok())
            .collect();
        let stats = fuzz(
            t,
            &corpus,
            Duration::from_secs(secs),
            seed,
            &root.join("crashes").join(t.name()),
        );
        println!(
            "{:<8} {:>5} s {:>10} inputs {:>8.0}/s  corpus {:>3}  findings {}",
            t.name(),
            secs,
            stats.execs,
            stats.execs as f64 / secs.max(1) as f64,
            corpus.len(),
            stats.findings.len()
        );
        for (p, f) in stats.findings.iter().take(10) {
            println!("  {}: {f:?}", p.display());
        }
        found += stats.findings.len();
    }
    if found > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
