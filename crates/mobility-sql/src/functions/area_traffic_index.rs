//! `area_traffic_index(base_volume, calc_volume)`: Statens vegvesen's area index over the
//! points of a group, as an aggregate: base-volume-weighted, with n_eff, SD, SE and a 95 % CI
//! (../shared/DOMAIN.md §2.4; `mobility_stats::traffic`). The state is five sums, so partial
//! aggregates merge exactly and the function runs on any number of partitions or executors.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Float64Type, UInt64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility,
};
use mobility_stats::traffic::AreaSums;

use crate::udf::{DOMAIN, finite, state_fields, struct_of};

fn fields() -> Fields {
    Fields::from(vec![
        Field::new("index_p", DataType::Float64, true),
        Field::new("n_trp", DataType::UInt64, false),
        Field::new("n_eff", DataType::Float64, true),
        Field::new("sd_p", DataType::Float64, true),
        Field::new("se_p", DataType::Float64, true),
        Field::new("ci_lower", DataType::Float64, true),
        Field::new("ci_upper", DataType::Float64, true),
    ])
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct AreaTrafficIndex {
    signature: Signature,
    doc: Documentation,
}

/// The aggregate.
pub fn udaf() -> AggregateUDF {
    let doc = Documentation::builder(
        DOMAIN,
        "Statens vegvesen's area traffic index over the points of a group: index_p = 100·(Σ calc / Σ base − 1) in percent, weights w = base/Σ base, n_eff = 1/Σw², sd_p = 100·√(Σ w (calc/base − R)² / (1 − 1/n_eff)), se_p = sd_p/√n_eff, 95 % CI with t at n_trp − 1. Points without a positive base are left out.",
        "area_traffic_index(base_volume, calc_volume)",
    )
    .with_argument("base_volume", "a point's traffic in the base period (e.g. mean MDT of the reference year)")
    .with_argument("calc_volume", "the same point's traffic in the period compared")
    .with_sql_example("SELECT window, (area_traffic_index(mdt_ref, mdt_window)).index_p FROM point_windows GROUP BY window;")
    .build();
    AggregateUDF::new_from_impl(AreaTrafficIndex {
        signature: Signature::uniform(2, vec![DataType::Float64], Volatility::Immutable),
        doc,
    })
}

impl AggregateUDFImpl for AreaTrafficIndex {
    fn name(&self) -> &str {
        "area_traffic_index"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(fields()))
    }
    fn accumulator(&self, _: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(Acc(AreaSums::default())))
    }
    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(state_fields(
            args.name,
            &[
                ("n", DataType::UInt64),
                ("sb", DataType::Float64),
                ("sc", DataType::Float64),
                ("sbb", DataType::Float64),
                ("sccb", DataType::Float64),
            ],
        ))
    }
    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.doc)
    }
}

#[derive(Debug)]
struct Acc(AreaSums);

impl Accumulator for Acc {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (b, c) = (
            values[0].as_primitive::<Float64Type>(),
            values[1].as_primitive::<Float64Type>(),
        );
        for i in 0..b.len() {
            if b.is_valid(i) && c.is_valid(i) {
                self.0.add(b.value(i), c.value(i));
            }
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        if states.len() != 5 {
            return exec_err!(
                "area_traffic_index: expected 5 state columns, got {}",
                states.len()
            );
        }
        let n = states[0].as_primitive::<UInt64Type>();
        let f = |k: usize| states[k].as_primitive::<Float64Type>();
        let (sb, sc, sbb, sccb) = (f(1), f(2), f(3), f(4));
        for i in 0..n.len() {
            if n.is_valid(i) {
                self.0.merge(&AreaSums {
                    n: n.value(i),
                    sb: sb.value(i),
                    sc: sc.value(i),
                    sbb: sbb.value(i),
                    sccb: sccb.value(i),
                });
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let s = self.0;
        Ok(vec![
            ScalarValue::UInt64(Some(s.n)),
            ScalarValue::Float64(Some(s.sb)),
            ScalarValue::Float64(Some(s.sc)),
            ScalarValue::Float64(Some(s.sbb)),
            ScalarValue::Float64(Some(s.sccb)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let a = self.0.finish();
        let f = finite;
        let values = [
            f(a.map(|a| a.index_p)),
            ScalarValue::UInt64(Some(self.0.n)),
            f(a.map(|a| a.n_eff)),
            f(a.map(|a| a.sd_p)),
            f(a.map(|a| a.se_p)),
            f(a.map(|a| a.ci_lower)),
            f(a.map(|a| a.ci_upper)),
        ];
        struct_of(fields(), &values)
    }

    fn size(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}
