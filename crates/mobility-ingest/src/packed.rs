//! A table's key packed into one `u128` per row that orders as the key does.
//!
//! The duplicate check and the months' merge compare keys millions of times. Arrow's row
//! format does that generically (variable-length bytes, a `memcmp` per comparison); most keys
//! here are a few short texts with few distinct values, an integer and a timestamp, which fit
//! in 128 bits once each column is replaced by its rank:
//! - a text column by the rank of its value among the distinct values of all the batches
//!   (byte order, as Arrow's row format and `lexsort` order texts);
//! - an integer, date or timestamp column by its distance from the smallest value;
//! - null by 0, below every value (nulls first, Arrow's default).
//!
//! Each column takes as many bits as its ranks need, the first key column the highest bits, so
//! comparing two packed keys compares the keys column by column. Where a key has another type or
//! needs more than 128 bits, [`keys`] answers `None` and callers compare Arrow rows instead.

use std::collections::HashMap;

use arrow::array::{Array, AsArray, GenericStringArray, OffsetSizeTrait, RecordBatch};
use arrow::datatypes::{DataType, Int64Type};
use mobility_model::Table;

/// Each batch's packed keys (`keys(t, b)?[i][r]` for row `r` of `b[i]`), comparable across the
/// batches; `None` where the key does not fit (see the module documentation).
pub(crate) fn keys(table: Table, batches: &[&RecordBatch]) -> Option<Vec<Vec<u128>>> {
    if batches.is_empty() {
        return Some(Vec::new());
    }
    let mut out: Vec<Vec<u128>> = batches.iter().map(|b| vec![0; b.num_rows()]).collect();
    let mut used = 0u32;
    for name in table.key() {
        let cols = batches
            .iter()
            .map(|b| b.column_by_name(name).map(|c| c.as_ref()))
            .collect::<Option<Vec<&dyn Array>>>()?;
        let data_type = cols.first().map_or(&DataType::Null, |c| c.data_type());
        if cols.iter().any(|c| c.data_type() != data_type) {
            return None;
        }
        used += match data_type {
            DataType::Utf8 => pack_texts(&texts::<i32>(&cols), &mut out)?,
            DataType::LargeUtf8 => pack_texts(&texts::<i64>(&cols), &mut out)?,
            // Unsigned 64-bit values above i64::MAX would not survive the cast to i64.
            DataType::UInt64 => return None,
            t if t.is_integer() || t.is_temporal() => pack_integers(&cols, &mut out)?,
            _ => return None,
        };
        if used > 128 {
            return None;
        }
    }
    Some(out)
}

/// Bits that hold every code up to `largest`.
fn bits_for(largest: u128) -> u32 {
    128 - largest.leading_zeros()
}

/// Shifts each key left by `bits` and puts `code(batch, row)` in the freed bits.
fn append(out: &mut [Vec<u128>], bits: u32, mut code: impl FnMut(usize, usize) -> u128) {
    for (b, keys) in out.iter_mut().enumerate() {
        for (r, k) in keys.iter_mut().enumerate() {
            // A shift of 128 bits or more is undefined for `<<`; `checked_shl` makes it 0. (No
            // column needs more than 65 bits, and `keys` refuses more than 128 in all.)
            *k = k.checked_shl(bits).unwrap_or(0) | code(b, r);
        }
    }
}

fn texts<'a, O: OffsetSizeTrait>(cols: &[&'a dyn Array]) -> Vec<&'a GenericStringArray<O>> {
    cols.iter().map(|c| c.as_string::<O>()).collect()
}

/// Texts by rank: 0 for null, 1 for the smallest value. Returns the bits used.
fn pack_texts<O: OffsetSizeTrait>(
    cols: &[&GenericStringArray<O>],
    out: &mut [Vec<u128>],
) -> Option<u32> {
    // Rows come in runs of one value (a counting point's hours): the previous row's answer is
    // checked before the map.
    let mut ranks: HashMap<&[u8], u32, foldhash::fast::RandomState> = HashMap::default();
    for col in cols {
        let mut last: Option<&[u8]> = None;
        for v in col.iter().flatten() {
            let v = v.as_bytes();
            if last != Some(v) {
                ranks.entry(v).or_insert(0);
                last = Some(v);
            }
        }
    }
    let mut distinct: Vec<&[u8]> = ranks.keys().copied().collect();
    distinct.sort_unstable();
    for (rank, v) in distinct.iter().enumerate() {
        ranks.insert(v, rank as u32 + 1);
    }
    let bits = bits_for(distinct.len() as u128);
    let mut last: (&[u8], u128) = (&[], u128::MAX);
    append(out, bits, |b, r| {
        let col = cols[b];
        if col.is_null(r) {
            return 0;
        }
        let v = col.value(r).as_bytes();
        if last.1 == u128::MAX || last.0 != v {
            last = (v, u128::from(ranks[v]));
        }
        last.1
    });
    Some(bits)
}

/// Integers, dates and timestamps by their distance from the smallest, plus one (0 for null).
/// Returns the bits used.
fn pack_integers(cols: &[&dyn Array], out: &mut [Vec<u128>]) -> Option<u32> {
    let cast = cols
        .iter()
        .map(|c| arrow::compute::cast(*c, &DataType::Int64).ok())
        .collect::<Option<Vec<_>>>()?;
    let values: Vec<_> = cast.iter().map(|c| c.as_primitive::<Int64Type>()).collect();
    let min = values
        .iter()
        .filter_map(|c| arrow::compute::min(*c))
        .min()
        .unwrap_or(0);
    let max = values
        .iter()
        .filter_map(|c| arrow::compute::max(*c))
        .max()
        .unwrap_or(0);
    // Codes run to max − min + 1, which fits in 65 bits at most.
    let bits = bits_for((i128::from(max) - i128::from(min) + 1) as u128);
    append(out, bits, |b, r| {
        let c = values[b];
        if c.is_null(r) {
            0
        } else {
            (i128::from(c.value(r)) - i128::from(min) + 1) as u128
        }
    });
    Some(bits)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int16Array, StringArray, TimestampMicrosecondArray};
    use arrow::row::{RowConverter, SortField};
    use rand::{Rng, SeedableRng};

    use super::*;

    /// Random traffic rows over few points, hours, scopes, lanes and directions, with nulls.
    fn batch(rng: &mut rand_chacha::ChaCha8Rng, n: usize) -> RecordBatch {
        let pick = |rng: &mut rand_chacha::ChaCha8Rng, xs: &[&'static str]| {
            xs[rng.random_range(0..xs.len())]
        };
        let points = ["10000V443600", "1000V4", "", "ø-ünicode", "10000V443601"];
        let scopes = ["lane", "direction", "total"];
        let dirs = ["OSLO", "DRAMMEN", "Ø"];
        let mut trp = Vec::new();
        let mut hour = Vec::new();
        let mut scope = Vec::new();
        let mut lane = Vec::new();
        let mut dir = Vec::new();
        for _ in 0..n {
            trp.push(pick(rng, &points));
            // Around both sides of zero, and far apart.
            hour.push(
                rng.random_range(-3i64..3) * 3_600_000_000 + rng.random_range(0..2) * i64::MAX / 4,
            );
            scope.push(pick(rng, &scopes));
            lane.push(rng.random_bool(0.8).then(|| rng.random_range(-2i16..3)));
            dir.push(rng.random_bool(0.7).then(|| pick(rng, &dirs)));
        }
        RecordBatch::try_new(
            Table::TrafficHourly.schema(),
            Table::TrafficHourly
                .schema()
                .fields()
                .iter()
                .map(|f| -> ArrayRef {
                    match f.name().as_str() {
                        "trp_id" => Arc::new(StringArray::from(trp.clone())),
                        "hour_start" => Arc::new(
                            TimestampMicrosecondArray::from(hour.clone()).with_timezone("UTC"),
                        ),
                        "scope" => Arc::new(StringArray::from(scope.clone())),
                        "lane" => Arc::new(Int16Array::from(lane.clone())),
                        "direction" => Arc::new(StringArray::from(dir.clone())),
                        _ => arrow::array::new_null_array(f.data_type(), n),
                    }
                })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn packed_keys_order_as_arrow_rows_across_batches() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..50 {
            let batches: Vec<RecordBatch> = (0..3)
                .map(|_| {
                    let n = rng.random_range(0..60);
                    batch(&mut rng, n)
                })
                .collect();
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            let packed = keys(Table::TrafficHourly, &refs).expect("the traffic key fits");
            let conv = RowConverter::new(
                Table::TrafficHourly
                    .key()
                    .iter()
                    .map(|k| {
                        SortField::new(batches[0].column_by_name(k).unwrap().data_type().clone())
                    })
                    .collect(),
            )
            .unwrap();
            let rows: Vec<_> = batches
                .iter()
                .map(|b| {
                    let cols: Vec<ArrayRef> = Table::TrafficHourly
                        .key()
                        .iter()
                        .map(|k| b.column_by_name(k).unwrap().clone())
                        .collect();
                    conv.convert_columns(&cols).unwrap()
                })
                .collect();
            let all: Vec<(usize, usize)> = (0..3)
                .flat_map(|b| (0..batches[b].num_rows()).map(move |r| (b, r)))
                .collect();
            for &(a, i) in &all {
                for &(b, j) in &all {
                    assert_eq!(
                        packed[a][i].cmp(&packed[b][j]),
                        rows[a].row(i).cmp(&rows[b].row(j)),
                        "case {case}: ({a}, {i}) against ({b}, {j})"
                    );
                }
            }
        }
    }

    #[test]
    fn a_key_of_another_type_or_types_that_differ_between_batches_is_none() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let b = batch(&mut rng, 10);
        let with_lane = |lane: ArrayRef| {
            let mut cols = b.columns().to_vec();
            let i = b.schema().index_of("lane").unwrap();
            cols[i] = lane;
            let fields: Vec<_> = b
                .schema()
                .fields()
                .iter()
                .zip(&cols)
                .map(|(f, c)| arrow::datatypes::Field::new(f.name(), c.data_type().clone(), true))
                .collect();
            RecordBatch::try_new(Arc::new(arrow::datatypes::Schema::new(fields)), cols).unwrap()
        };
        let floats = with_lane(Arc::new(arrow::array::Float64Array::from(vec![1.0; 10])));
        let wide = with_lane(Arc::new(arrow::array::UInt64Array::from(vec![
            u64::MAX;
            10
        ])));
        let int32 = with_lane(Arc::new(arrow::array::Int32Array::from(vec![1; 10])));
        assert!(keys(Table::TrafficHourly, &[&b]).is_some());
        assert!(keys(Table::TrafficHourly, &[&floats]).is_none());
        assert!(keys(Table::TrafficHourly, &[&wide]).is_none());
        assert!(keys(Table::TrafficHourly, &[&b, &int32]).is_none());
        assert!(keys(Table::TrafficHourly, &[&int32, &int32]).is_some());
        assert_eq!(keys(Table::TrafficHourly, &[]), Some(vec![]));
    }

    #[test]
    fn the_packed_merge_equals_the_merge_by_rows() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for case in 0..40 {
            let batches: Vec<RecordBatch> = (0..rng.random_range(1..5))
                .map(|_| {
                    let n = rng.random_range(0..200);
                    batch(&mut rng, n)
                })
                .collect();
            let packed = crate::monthly::merge_later_wins(Table::TrafficHourly, &batches).unwrap();
            let rows = crate::monthly::merge_by_rows(Table::TrafficHourly, &batches).unwrap();
            assert_eq!(packed, rows, "case {case}");
        }
    }

    #[test]
    fn dedup_keeps_each_keys_first_row_and_names_its_line() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut duplicates = 0;
        for case in 0..40 {
            let n = rng.random_range(0..300);
            let b = batch(&mut rng, n);
            let lines: Vec<u64> = (0..b.num_rows() as u64).map(|i| 2 + 3 * i).collect();
            let (kept, rejects) =
                crate::store::dedup(Table::TrafficHourly, &b, &lines, "f").unwrap();
            // By hand: each key as its columns' values, nulls apart from every text.
            let key = |r: usize| -> Vec<Option<String>> {
                Table::TrafficHourly
                    .key()
                    .iter()
                    .map(|k| {
                        let c = b.column_by_name(k).unwrap();
                        (!c.is_null(r)).then(|| match c.data_type() {
                            DataType::Timestamp(..) => c
                                .as_primitive::<arrow::datatypes::TimestampMicrosecondType>()
                                .value(r)
                                .to_string(),
                            _ => arrow::util::display::array_value_to_string(c, r).unwrap(),
                        })
                    })
                    .collect()
            };
            let mut first: HashMap<Vec<Option<String>>, u64> = HashMap::new();
            let mut want_kept = Vec::new();
            let mut want_rejects = Vec::new();
            for r in 0..b.num_rows() {
                match first.get(&key(r)) {
                    Some(line) => want_rejects.push((lines[r], *line)),
                    None => {
                        first.insert(key(r), lines[r]);
                        want_kept.push(r as u32);
                    }
                }
            }
            let want =
                arrow::compute::take_record_batch(&b, &arrow::array::UInt32Array::from(want_kept))
                    .unwrap();
            assert_eq!(kept, want, "case {case}");
            let got: Vec<(u64, u64)> = rejects
                .iter()
                .map(|r| {
                    let first = r.reason.rsplit(' ').next().unwrap().parse().unwrap();
                    (r.line, first)
                })
                .collect();
            assert_eq!(got, want_rejects, "case {case}");
            duplicates += got.len();
        }
        assert!(duplicates > 20, "the cases hold duplicates: {duplicates}");
    }
}
