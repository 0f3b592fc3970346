//! `daily_average(volume, coverage_pct, days_in_period)`: Statens vegvesen's average of daily
//! traffic (MDT over a month, ÅDT over a year) as an aggregate over a group of days: the mean
//! of the daily totals of days with coverage ≥ 95 %, its coverage (mean coverage of those days
//! × their number / days in the period), SD, the SE with the finite-population correction
//! √((N − n)/(N − 1)) and a 95 % CI (../shared/DOMAIN.md §2.3; `mobility_stats::traffic`).

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use mobility_stats::traffic::DailySums;

use crate::udf::{DOMAIN, finite, state_fields, struct_of};

fn fields() -> Fields {
    Fields::from(vec![
        Field::new("mean", DataType::Float64, true),
        Field::new("n_days", DataType::UInt64, false),
        Field::new("days_in_period", DataType::UInt64, false),
        Field::new("coverage_pct", DataType::Float64, true),
        Field::new("sd", DataType::Float64, true),
        Field::new("se", DataType::Float64, true),
        Field::new("ci_lower", DataType::Float64, true),
        Field::new("ci_upper", DataType::Float64, true),
    ])
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DailyAverage {
    signature: Signature,
    doc: Documentation,
}

/// The aggregate.
pub fn udaf() -> AggregateUDF {
    let doc = Documentation::builder(
        DOMAIN,
        "Statens vegvesen's average daily traffic over a group of days (MDT for a month, ÅDT for a year): the mean of the daily totals of days with coverage ≥ 95 %, coverage_pct = mean coverage of those days × n_days / days_in_period, sd, se = sd/√n · √((N − n)/(N − 1)) and a 95 % CI with t at n_days − 1.",
        "daily_average(volume, coverage_pct, days_in_period)",
    )
    .with_argument("volume", "a day's total")
    .with_argument("coverage_pct", "the day's coverage, percent")
    .with_argument("days_in_period", "days of the period the average stands for (e.g. 29 for February 2024)")
    .with_sql_example("SELECT trp_id, (daily_average(volume, coverage_pct, 31)).mean AS mdt FROM traffic_daily WHERE date >= DATE '2024-05-01' AND date < DATE '2024-06-01' GROUP BY trp_id;")
    .build();
    AggregateUDF::new_from_impl(DailyAverage {
        signature: Signature::uniform(3, vec![DataType::Float64], Volatility::Immutable),
        doc,
    })
}

impl AggregateUDFImpl for DailyAverage {
    fn name(&self) -> &str {
        "daily_average"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(fields()))
    }
    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Acc {
            sums: DailySums::default(),
            days: 0,
        }))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(state_fields(
            args.name,
            &[
                ("n", DataType::UInt64),
                ("sum", DataType::Float64),
                ("sum2", DataType::Float64),
                ("coverage", DataType::Float64),
                ("days", DataType::UInt64),
            ],
        ))
    }
    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

#[derive(Debug)]
struct Acc {
    sums: DailySums,
    /// Days in the period: the largest given (it is the same for every row of a group).
    days: u64,
}

impl Accumulator for Acc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let f = |k: usize| values[k].as_primitive::<Float64Type>();
        let (v, c, d) = (f(0), f(1), f(2));
        for i in 0..v.len() {
            if d.is_valid(i) {
                self.days = self.days.max(d.value(i).max(0.0) as u64);
            }
            if v.is_valid(i) && c.is_valid(i) {
                self.sums.add(v.value(i), c.value(i));
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        if states.len() != 5 {
            return exec_err!(
                "daily_average: expected 5 state columns, got {}",
                states.len()
            );
        }
        let (n, days) = (
            states[0].as_primitive::<UInt64Type>(),
            states[4].as_primitive::<UInt64Type>(),
        );
        let f = |k: usize| states[k].as_primitive::<Float64Type>();
        let (sum, sum2, cov) = (f(1), f(2), f(3));
        for i in 0..n.len() {
            if n.is_valid(i) {
                self.sums.merge(&DailySums {
                    n: n.value(i),
                    sum: sum.value(i),
                    sum2: sum2.value(i),
                    coverage: cov.value(i),
                });
                self.days = self.days.max(days.value(i));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let s = self.sums;
        Ok(vec![
            ScalarValue::UInt64(Some(s.n)),
            ScalarValue::Float64(Some(s.sum)),
            ScalarValue::Float64(Some(s.sum2)),
            ScalarValue::Float64(Some(s.coverage)),
            ScalarValue::UInt64(Some(self.days)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let days = u32::try_from(self.days).unwrap_or(u32::MAX);
        let a = self.sums.finish(days);
        let f = finite;
        let values = [
            f(a.map(|a| a.mean)),
            ScalarValue::UInt64(Some(self.sums.n)),
            ScalarValue::UInt64(Some(self.days)),
            f(Some(a.map_or(0.0, |a| a.coverage_pct))),
            f(a.map(|a| a.sd)),
            f(a.map(|a| a.se)),
            f(a.map(|a| a.ci_lower)),
            f(a.map(|a| a.ci_upper)),
        ];
        struct_of(fields(), &values)
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}
