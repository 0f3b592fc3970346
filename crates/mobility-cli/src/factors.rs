//! `--factors`: factor files read for one run, parsed as `mobility ingest factors` parses them.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use mobility_indicators::run::GivenFactors;

/// The factor tables in `path` (a file or a folder, zipped or not); a rejected row is an error
/// naming its file, line, column, value and reason, since the run would otherwise use fewer
/// factors than the files hold.
pub fn given(path: &Path) -> anyhow::Result<GivenFactors> {
    let context = || format!("--factors {}", path.display());
    let mut tables: BTreeMap<&'static str, (_, Vec<_>)> = BTreeMap::new();
    for p in mobility_ingest::source::expand(&[path.to_path_buf()]).with_context(context)? {
        for f in mobility_ingest::source::read_text(&p, &[".csv"]).with_context(context)? {
            let parsed = mobility_ingest::factors::parse(&f).with_context(context)?;
            if let Some(r) = parsed.rejects.rows.first() {
                anyhow::bail!(
                    "factors: {} line {}, column {}: '{}': {}",
                    r.file,
                    r.line,
                    r.column,
                    r.value,
                    r.reason
                );
            }
            tables
                .entry(parsed.table.name())
                .or_insert((parsed.table, Vec::new()))
                .1
                .push(parsed.batch);
        }
    }
    if tables.is_empty() {
        anyhow::bail!(
            "factors: {}: no emission_factors*.csv, fleet_mix*.csv or occupancy*.csv",
            path.display()
        );
    }
    Ok(GivenFactors {
        path: path.to_path_buf(),
        tables: tables.into_values().collect(),
    })
}
