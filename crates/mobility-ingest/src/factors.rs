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
use mobility_model::{Mode, Table};

use crate::csvtext::CsvText;
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
    let mut year = Int16Builder::new();
    let mut mode = StringBuilder::new();
    let mut fuel = StringBuilder::new();
    let mut nums: Vec<Float64Builder> = vec![Float64Builder::new(), Float64Builder::new()];
    let mut source = StringBuilder::new();
    let mut lines = Vec::new();
    let mut rejects = Rejects::new(&file.name);
    let mut read = 0;
    let mut shares: BTreeMap<(i16, String), (f64, Vec<u64>)> = BTreeMap::new();
    'rows: for row in csv.rows() {
        let row = row?;
        read += 1;
        let get = |i: usize| row.fields.get(cols[i]).unwrap_or("").trim().to_string();
        let name = |i: usize| schema.field(i).name().as_str();
        let y = match int(&get(0)) {
            Ok(Some(y)) if (1900..=2100).contains(&y) => y as i16,
            _ => {
                rejects.push(row.line, "year", &get(0), "expected a year such as 2019");
                continue;
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
            continue;
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
                continue;
            }
        }
        let n_nums = if table == Table::EmissionFactors {
            2
        } else {
            1
        };
        let mut vals = [None, None];
        for k in 0..n_nums {
            let i = first_num + k;
            match decimal(&get(i)) {
                Ok(Some(v)) if v < 0.0 => {
                    rejects.push(row.line, name(i), &get(i), "expected a value of 0 or more");
                    continue 'rows;
                }
                Ok(v) => vals[k] = v,
                Err(e) => {
                    rejects.push(row.line, name(i), &get(i), e);
                    continue 'rows;
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
                continue;
            }
            Table::FleetMix | Table::Occupancy if vals[0].is_none() => {
                rejects.push(row.line, name(first_num), "", "expected a value");
                continue;
            }
            Table::FleetMix if vals[0].is_some_and(|v| v > 1.0) => {
                rejects.push(
                    row.line,
                    "share_of_vkm",
                    &get(first_num),
                    "expected a share from 0 to 1",
                );
                continue;
            }
            _ => {}
        }
        let src = get(cols.len() - 1);
        if src.is_empty() {
            rejects.push(row.line, "source", "", "expected the source of the figure");
            continue;
        }
        if table == Table::FleetMix {
            let e = shares.entry((y, m.clone())).or_default();
            e.0 += vals[0].unwrap_or(0.0);
            e.1.push(row.line);
        }
        year.append_value(y);
        mode.append_value(&m);
        if let Some(fv) = fuel_v {
            fuel.append_value(fv);
        }
        for (b, v) in nums.iter_mut().zip(vals).take(n_nums) {
            b.append_option(v);
        }
        source.append_value(src);
        lines.push(row.line);
    }
    let mut cols: Vec<ArrayRef> = vec![Arc::new(year.finish()), Arc::new(mode.finish())];
    if table != Table::Occupancy {
        cols.push(Arc::new(fuel.finish()));
    }
    let n_nums = if table == Table::EmissionFactors {
        2
    } else {
        1
    };
    cols.extend(
        nums.iter_mut()
            .take(n_nums)
            .map(|b| Arc::new(b.finish()) as ArrayRef),
    );
    cols.push(Arc::new(source.finish()));
    let mut batch = RecordBatch::try_new(schema, cols)?;
    // A fleet mix whose shares do not add up to 1 for a year and mode is refused whole.
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
    Ok(Parsed {
        table,
        batch,
        lines,
        rows_read: read,
        rejects,
    })
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
