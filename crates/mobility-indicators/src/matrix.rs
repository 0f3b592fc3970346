//! Origin–destination matrices in the wide layout transport-model software reads (Visum, Emme,
//! Cube, or a spreadsheet): `<out>/indicators/od_matrix_all.csv` from `od_trips` and
//! `od_matrix_<mode>.csv` per mode from `od_trips_by_mode`, breakdown `all`. One row per origin
//! zone, one column per destination zone, both over every zone of any flow (so the matrix is
//! square, `outside` included), in zone-id order; a cell holds the estimated trips per average
//! day, 0 where no respondent travelled. The estimates' SEs and CIs are in the long tables.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use arrow::array::{Array, RecordBatch};

use crate::batches::{f64s, utf8};
use crate::{Result, io};

/// Writes the matrices into `dir`; returns the file names written.
pub fn write(outputs: &HashMap<String, RecordBatch>, dir: &Path) -> Result<Vec<String>> {
    let mut written = Vec::new();
    if let Some(b) = outputs.get("od_trips") {
        written.extend(write_groups(b, None, dir)?);
    }
    if let Some(b) = outputs.get("od_trips_by_mode") {
        written.extend(write_groups(b, Some("mode"), dir)?);
    }
    Ok(written)
}

/// One matrix per value of `group` (or one, `all`, without a group).
fn write_groups(b: &RecordBatch, group: Option<&str>, dir: &Path) -> Result<Vec<String>> {
    let (Some(bd), Some(o), Some(d), Some(est)) = (
        utf8(b, "breakdown"),
        utf8(b, "origin_zone_id"),
        utf8(b, "dest_zone_id"),
        f64s(b, "estimate"),
    ) else {
        return Ok(Vec::new());
    };
    let g = group.and_then(|c| utf8(b, c));
    // group → (origin, destination) → trips
    let mut cells: BTreeMap<String, BTreeMap<(String, String), f64>> = BTreeMap::new();
    let mut zones = BTreeSet::new();
    for i in (0..b.num_rows()).filter(|&i| bd.value(i) == "all" && est.is_valid(i)) {
        let key = g
            .as_ref()
            .map_or("all".to_string(), |g| g.value(i).to_string());
        zones.insert(o.value(i).to_string());
        zones.insert(d.value(i).to_string());
        cells.entry(key).or_default().insert(
            (o.value(i).to_string(), d.value(i).to_string()),
            est.value(i),
        );
    }
    let zones: Vec<String> = zones.into_iter().collect();
    let mut written = Vec::new();
    for (key, m) in cells {
        let safe: String = key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let name = format!("od_matrix_{safe}.csv");
        let mut text = String::new();
        let line = |text: &mut String, fields: &[String]| {
            let quoted: Vec<String> = fields.iter().map(|f| field(f)).collect();
            text.push_str(&quoted.join(","));
            text.push('\n');
        };
        let mut header = vec!["origin_zone_id".to_string()];
        header.extend(zones.iter().cloned());
        line(&mut text, &header);
        for from in &zones {
            let mut row = vec![from.clone()];
            for to in &zones {
                let v = m.get(&(from.clone(), to.clone())).copied().unwrap_or(0.0);
                row.push(format!("{v}"));
            }
            line(&mut text, &row);
        }
        let bytes = text.into_bytes();
        let path = dir.join(&name);
        std::fs::write(&path, bytes).map_err(io(&path))?;
        written.push(format!("indicators/{name}"));
    }
    Ok(written)
}

/// A CSV field, quoted where it must be.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
