//! Emission factors, fleet mix and occupancy from CSV files whose headers are the column names
//! of `emission_factors`, `fleet_mix` and `occupancy`; the file name says which table.
//!
//! Factors live in data, not code: the default set is `data/factors/*.csv`, every row with its
//! source. In these tables `mode` is a code of the mode list, `car` (the passenger car as a
//! vehicle, which car drivers and passengers share) or `heavy` (road vehicles of 5.6 m and
//! more, for the road links' vehicle-km), and `fuel` is one of [`FUELS`].

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Builder, Int16Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{Schema, SchemaRef};
use mobility_model::{Mode, Table};

use crate::csvtext::{CsvText, Row};
use crate::parse::{decimal, int};
use crate::rejects::Rejects;
use crate::source::TextFile;
use crate::{Error, Result};

/// Fuel codes: `all` is a fleet average over fuels.
pub const FUELS: &[&str] = &[
    "petrol",
    "diesel",
    "bev",
    "phev",
    "hev",
    "hydrogen",
    "biogas",
    "biodiesel",
    "electric",
    "all",
];

/// Which factor table a file feeds, by its name (`emission_factors*.csv`, ...).
pub fn table_of(file: &str) -> Option<Table> {
    let base = file
        .rsplit(['/', '\\', '!'])
        .next()
        .unwrap_or(file)
        .to_ascii_lowercase();
    [Table::EmissionFactors, Table::FleetMix, Table::Occupancy]
        .into_iter()
        .find(|t| base.starts_with(t.name()))
}

/// One parsed factor file.
pub struct Parsed {
    /// The table the file feeds.
    pub table: Table,
    /// Its rows.
    pub batch: RecordBatch,
    /// The input line of each row.
    pub lines: Vec<u64>,
    /// Data rows read.
    pub rows_read: u64,
    /// Rows refused.
    pub rejects: Rejects,
}

/// One row, checked.
struct Checked {
    year: i16,
    mode: String,
    /// `None` in `occupancy`, which has no fuel.
    fuel: Option<String>,
    /// The figures: both for emission factors, the first only in the other tables.
    vals: [Option<f64>; 2],
    source: String,
}

/// How many figures a table's rows have: `g_co2e_per_vkm` and `g_co2e_per_pkm`, or one.
fn n_nums(table: Table) -> usize {
    if table == Table::EmissionFactors {
        2
    } else {
        1
    }
}

/// The column builders of the three tables and the input line of each row.
struct Builders {
    year: Int16Builder,
    mode: StringBuilder,
    fuel: StringBuilder,
    nums: Vec<Float64Builder>,
    source: StringBuilder,
    lines: Vec<u64>,
}

impl Builders {
    /// Empty builders.
    fn new() -> Self {
        Self {
            year: Int16Builder::new(),
            mode: StringBuilder::new(),
            fuel: StringBuilder::new(),
            nums: vec![Float64Builder::new(), Float64Builder::new()],
            source: StringBuilder::new(),
            lines: Vec::new(),
        }
    }

    /// Appends one checked row of a table with `n_nums` figures, read from `line`.
    fn append(&mut self, r: Checked, n_nums: usize, line: u64) {
        self.year.append_value(r.year);
        self.mode.append_value(&r.mode);
        if let Some(fv) = r.fuel {
            self.fuel.append_value(fv);
        }
        for (b, v) in self.nums.iter_mut().zip(r.vals).take(n_nums) {
            b.append_option(v);
        }
        self.source.append_value(r.source);
        self.lines.push(line);
    }

    /// The batch of `table` (`fuel` only where it has one) and the input line of each row.
    fn finish(mut self, table: Table, schema: SchemaRef) -> Result<(RecordBatch, Vec<u64>)> {
        let mut cols: Vec<ArrayRef> =
            vec![Arc::new(self.year.finish()), Arc::new(self.mode.finish())];
        if table != Table::Occupancy {
            cols.push(Arc::new(self.fuel.finish()));
        }
        let n_nums = n_nums(table);
        cols.extend(
            self.nums
                .iter_mut()
                .take(n_nums)
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
        cols.push(Arc::new(self.source.finish()));
        let batch = RecordBatch::try_new(schema, cols)?;
        Ok((batch, self.lines))
    }
}

/// Parses one factor file.
pub fn parse(file: &TextFile) -> Result<Parsed> {
    let table = table_of(&file.name).ok_or_else(|| {
        Error::format(
            &file.name,
            None,
            "expected a file named emission_factors*.csv, fleet_mix*.csv or occupancy*.csv",
        )
    })?;
    let mut csv = CsvText::new(&file.name, &file.text, None)?;
    let schema = table.schema();
    let cols: Vec<usize> = schema
        .fields()
        .iter()
        .map(|f| csv.column(f.name()))
        .collect::<Result<_>>()?;
    let mut out = Builders::new();
    let mut rejects = Rejects::new(&file.name);
    let mut read = 0;
    let mut shares: BTreeMap<(i16, String), (f64, Vec<u64>)> = BTreeMap::new();
    for row in csv.rows() {
        let row = row?;
        read += 1;
        let Some(r) = check_row(table, &schema, &cols, &row, &mut rejects) else {
            continue;
        };
        if table == Table::FleetMix {
            let e = shares.entry((r.year, r.mode.clone())).or_default();
            e.0 += r.vals[0].unwrap_or(0.0);
            e.1.push(row.line);
        }
        out.append(r, n_nums(table), row.line);
    }
    let (batch, mut lines) = out.finish(table, schema)?;
    let batch = refuse_unbalanced(&shares, batch, &mut lines, &mut rejects)?;
    Ok(Parsed {
        table,
        batch,
        lines,
        rows_read: read,
        rejects,
    })
}

/// Reads one row of `table` (its fields at `cols`) into typed values, or pushes the reject
/// of the first bad field and gives `None`.
fn check_row(
    table: Table,
    schema: &Schema,
    cols: &[usize],
    row: &Row,
    rejects: &mut Rejects,
) -> Option<Checked> {
    let get = |i: usize| row.fields.get(cols[i]).unwrap_or("").trim().to_string();
    let y = match int(&get(0)) {
        Ok(Some(y)) if (1900..=2100).contains(&y) => y as i16,
        _ => {
            rejects.push(row.line, "year", &get(0), "expected a year such as 2019");
            return None;
        }
    };
    let m = get(1);
    if m != "car" && m != "heavy" && m.parse::<Mode>().is_err() {
        rejects.push(
            row.line,
            "mode",
            &m,
            "expected 'car', 'heavy' or a mode of the mode list (walk, bike, car_driver, bus, ...)",
        );
        return None;
    }
    let (fuel_v, first_num) = if table == Table::Occupancy {
        (None, 2)
    } else {
        (Some(get(2)), 3)
    };
    if let Some(fv) = &fuel_v {
        if !FUELS.contains(&fv.as_str()) {
            rejects.push(
                row.line,
                "fuel",
                fv,
                format!("expected one of {}", FUELS.join(", ")),
            );
            return None;
        }
    }
    let vals = figures(table, first_num, schema, cols, row, rejects)?;
    let src = get(cols.len() - 1);
    if src.is_empty() {
        rejects.push(row.line, "source", "", "expected the source of the figure");
        return None;
    }
    Some(Checked {
        year: y,
        mode: m,
        fuel: fuel_v,
        vals,
        source: src,
    })
}

/// The figures of a row, from column `first_num` on, checked against the rules of `table`,
/// or the reject of the first broken rule and `None`.
fn figures(
    table: Table,
    first_num: usize,
    schema: &Schema,
    cols: &[usize],
    row: &Row,
    rejects: &mut Rejects,
) -> Option<[Option<f64>; 2]> {
    let get = |i: usize| row.fields.get(cols[i]).unwrap_or("").trim().to_string();
    let name = move |i: usize| schema.field(i).name().as_str();
    let mut vals = [None, None];
    for k in 0..n_nums(table) {
        let i = first_num + k;
        match decimal(&get(i)) {
            Ok(Some(v)) if v < 0.0 => {
                rejects.push(row.line, name(i), &get(i), "expected a value of 0 or more");
                return None;
            }
            Ok(v) => vals[k] = v,
            Err(e) => {
                rejects.push(row.line, name(i), &get(i), e);
                return None;
            }
        }
    }
    match table {
        Table::EmissionFactors if vals[0].is_some() == vals[1].is_some() => {
            rejects.push(
                row.line,
                "g_co2e_per_vkm",
                &format!("{:?} / {:?}", vals[0], vals[1]),
                "expected exactly one of g_co2e_per_vkm and g_co2e_per_pkm",
            );
            return None;
        }
        Table::FleetMix | Table::Occupancy if vals[0].is_none() => {
            rejects.push(row.line, name(first_num), "", "expected a value");
            return None;
        }
        Table::FleetMix if vals[0].is_some_and(|v| v > 1.0) => {
            rejects.push(
                row.line,
                "share_of_vkm",
                &get(first_num),
                "expected a share from 0 to 1",
            );
            return None;
        }
        _ => {}
    }
    Some(vals)
}

/// A fleet mix whose shares do not add up to 1 for a year and mode is refused whole: each of
/// its rows gets a reject and leaves `batch` and `lines`.
fn refuse_unbalanced(
    shares: &BTreeMap<(i16, String), (f64, Vec<u64>)>,
    mut batch: RecordBatch,
    lines: &mut Vec<u64>,
    rejects: &mut Rejects,
) -> Result<RecordBatch> {
    let bad: Vec<u64> = shares
        .iter()
        .filter(|(_, (sum, _))| (sum - 1.0).abs() > 1e-3)
        .flat_map(|((y, m), (sum, ls))| {
            for l in ls {
                rejects.push(
                    *l,
                    "share_of_vkm",
                    &format!("{sum:.4}"),
                    format!("shares of {m} in {y} add up to {sum:.4}; expected 1"),
                );
            }
            ls.clone()
        })
        .collect();
    if !bad.is_empty() {
        let keep: arrow::array::BooleanArray =
            lines.iter().map(|l| Some(!bad.contains(l))).collect();
        batch = arrow::compute::filter_record_batch(&batch, &keep)?;
        lines.retain(|l| !bad.contains(l));
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::decode;

    #[test]
    fn reads_factors_and_checks_them() {
        let text = "year,mode,fuel,g_co2e_per_vkm,g_co2e_per_pkm,source\n2019,car,all,,66,SSB\n2019,bus,diesel,,59,SSB\n2019,car,coal,1,,x\n2019,car,bev,0,0,x\n2019,car,petrol,150,,\n";
        let p = parse(&decode("emission_factors.csv", text.as_bytes()).unwrap()).unwrap();
        assert_eq!(p.table, Table::EmissionFactors);
        assert_eq!(
            (p.rows_read, p.batch.num_rows(), p.rejects.rows.len()),
            (5, 2, 3)
        );
        assert_eq!(p.rejects.rows[0].column, "fuel");
        assert!(p.rejects.rows[1].reason.contains("exactly one"));
        assert_eq!(p.rejects.rows[2].column, "source");
    }

    #[test]
    fn fleet_mix_must_add_up() {
        let text = "year,mode,fuel,share_of_vkm,source\n2019,car,petrol,0.5,a\n2019,car,diesel,0.4,a\n2020,car,all,1,a\n";
        let p = parse(&decode("fleet_mix.csv", text.as_bytes()).unwrap()).unwrap();
        assert_eq!(p.batch.num_rows(), 1);
        assert_eq!(p.rejects.rows.len(), 2);
        assert!(p.rejects.rows[0].reason.contains("add up to 0.9000"));
    }
}
