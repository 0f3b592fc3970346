//! Weighted quantiles of observations grouped in persons, with Woodruff's confidence interval
//! and standard error (Woodruff, "Confidence intervals for medians and other position
//! measures", *JASA* 66 (1971) 411–414; the default of R's `survey::svyquantile`, Lumley,
//! *Complex Surveys*, 2010, §2.4.1).
//!
//! The observations (trips, each with its person's weight wᵢ) estimate the distribution
//! function F̂(t) = Σᵢ wᵢ cᵢ(t) / Σᵢ wᵢ nᵢ, a ratio over persons (cᵢ(t): person i's
//! observations ≤ t, nᵢ: all of them), and the p-quantile q̂ is the smallest value with
//! F̂ ≥ p. Woodruff: the linearised SE s of F̂ at q̂ (persons as PSUs, with replacement within
//! strata, [`crate::ratio_estimate`]) gives the interval (p − t·s, p + t·s) for F, turned into
//! one for q by F̂⁻¹: CI = [F̂⁻¹(p − t·s), F̂⁻¹(p + t·s)], and SE = (upper − lower)/(2t), as
//! `svyquantile` reports it.

use crate::ratio::{StratumSums, ratio_estimate, t_quantile};

/// A quantile with Woodruff's CI and SE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantile {
    /// q̂.
    pub estimate: f64,
    /// (upper − lower) / (2t).
    pub se: f64,
    /// F̂⁻¹(p − t·s).
    pub ci_lower: f64,
    /// F̂⁻¹(p + t·s).
    pub ci_upper: f64,
    /// The SE of F̂ at q̂.
    pub se_cdf: f64,
}

/// The smallest value whose cumulative weight reaches `p` of the total (`values` sorted by
/// value, each with its weight); the first value for p ≤ 0, the last for p ≥ 1; NaN without
/// weight.
pub fn weighted_quantile(values: &[(f64, f64)], p: f64) -> f64 {
    weighted_quantile_by(values, |v| v.0, |v| v.1, p)
}

/// [`weighted_quantile`] over any observations, their value and weight given by functions.
pub fn weighted_quantile_by<T>(
    values: &[T],
    value: impl Fn(&T) -> f64,
    weight: impl Fn(&T) -> f64,
    p: f64,
) -> f64 {
    let total: f64 = values.iter().map(&weight).sum();
    if values.is_empty() || total.is_nan() || total <= 0.0 {
        return f64::NAN;
    }
    let mut acc = 0.0;
    for v in values {
        acc += weight(v);
        if acc >= p * total {
            return value(v);
        }
    }
    values.last().map_or(f64::NAN, value)
}

/// The p-quantile of observations `(value, person)` sorted by value, with Woodruff's CI at
/// `level` and `df` degrees of freedom. `weight(i)` and `stratum(i)` give person i's weight
/// and stratum; `n_h[h]` the persons of stratum h in the whole sample (persons without an
/// observation count there with zero).
pub fn woodruff(
    values: &[(f64, u32)],
    weight: &dyn Fn(u32) -> f64,
    stratum: &dyn Fn(u32) -> usize,
    n_h: &[u64],
    p: f64,
    level: f64,
    df: f64,
) -> Quantile {
    // The cumulative weights, summed in the order `weighted_quantile_by` sums them: each of the
    // three quantiles below is then a search instead of a pass that looks up every weight.
    let mut cumulative = Vec::with_capacity(values.len());
    let mut acc = 0.0;
    let mut monotone = true;
    for &(_, i) in values {
        let w = weight(i);
        monotone &= w >= 0.0;
        acc += w;
        cumulative.push(acc);
    }
    let quantile = |p: f64| {
        let total = acc;
        if values.is_empty() || total.is_nan() || total <= 0.0 {
            return f64::NAN;
        }
        let at = if monotone {
            cumulative.partition_point(|&c| c < p * total)
        } else {
            cumulative
                .iter()
                .position(|&c| c >= p * total)
                .unwrap_or(values.len())
        };
        values.get(at).or(values.last()).map_or(f64::NAN, |v| v.0)
    };
    let q = quantile(p);
    // Per person, in the order of their ids: observations ≤ q̂ and all of them. Counted in an
    // array over the ids when the values are many for their span (the cells of a whole
    // survey), else by sorting the values by person.
    let mut persons: Vec<(u32, f64, f64)> = Vec::new();
    let span = values.iter().map(|v| v.1 as usize + 1).max().unwrap_or(0);
    if values.len() >= span / 8 {
        let mut counts = vec![(0u32, 0u32); span];
        for &(v, i) in values {
            let c = &mut counts[i as usize];
            c.0 += u32::from(v <= q);
            c.1 += 1;
        }
        persons.extend(
            counts
                .iter()
                .enumerate()
                .filter(|(_, c)| c.1 > 0)
                .map(|(i, c)| (i as u32, f64::from(c.0), f64::from(c.1))),
        );
    } else {
        let mut order: Vec<(u32, bool)> = values.iter().map(|&(v, i)| (i, v <= q)).collect();
        order.sort_unstable_by_key(|o| o.0);
        for chunk in order.chunk_by(|a, b| a.0 == b.0) {
            let c = chunk.iter().filter(|o| o.1).count() as f64;
            persons.push((chunk[0].0, c, chunk.len() as f64));
        }
    }
    let mut strata = vec![StratumSums::default(); n_h.len()];
    for (h, s) in strata.iter_mut().enumerate() {
        s.n_h = n_h[h];
    }
    for &(i, c, n) in &persons {
        let (w, s) = (weight(i), &mut strata[stratum(i)]);
        s.n_d += 1;
        s.sw += w;
        s.sw2 += w * w;
        s.sw_y += w * c;
        s.sw_x += w * n;
        s.sw2_yy += w * w * c * c;
        s.sw2_xy += w * w * c * n;
        s.sw2_xx += w * w * n * n;
    }
    let f = ratio_estimate(&strata, level, df);
    let t = t_quantile(level, df);
    let (lo, hi) = (quantile(p - t * f.se), quantile(p + t * f.se));
    Quantile {
        estimate: q,
        se: (hi - lo) / (2.0 * t),
        ci_lower: lo,
        ci_upper: hi,
        se_cdf: f.se,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Worked by hand: four persons in one stratum, weights 1, 1, 2, 1 (total 5 per trip
    /// weight: person 0 has trips 1 and 4, person 1 trip 2, person 2 trip 3, person 3 trip 5).
    /// Trip weights: 1 (v1), 1 (v2), 2 (v3), 1 (v4), 1 (v5); total 6; the median is the
    /// smallest v with cumulative ≥ 3: v3 = 3 (1 + 1 + 2 = 4).
    /// F̂(3) = 4/6: persons (c, n) = (1, 2), (1, 1), (1, 1), (0, 1) with w 1, 1, 2, 1; X = 6.
    /// z = (c − F n)/X: −1/18, 1/18, 1/18, −2/18; w z: −1/18, 1/18, 2/18, −2/18, sum 0;
    /// Σ (wz)² = (1 + 1 + 4 + 4)/18² = 10/324; V = 4/3 · 10/324 = 10/243, s = √(10/243).
    /// With t at df = 3 (t = 3.182446), p ± t s = 0.5 ± 0.645585: F̂⁻¹ gives 1 and 5.
    #[test]
    fn woodruff_worked_by_hand() {
        let values = [(1.0, 0), (2.0, 1), (3.0, 2), (4.0, 0), (5.0, 3)];
        let w = [1.0, 1.0, 2.0, 1.0];
        let q = woodruff(&values, &|i| w[i as usize], &|_| 0, &[4], 0.5, 0.95, 3.0);
        assert_eq!(q.estimate, 3.0);
        assert!((q.se_cdf - (10f64 / 243.0).sqrt()).abs() < 1e-12, "{q:?}");
        assert_eq!((q.ci_lower, q.ci_upper), (1.0, 5.0));
        let t = t_quantile(0.95, 3.0);
        assert!((q.se - 4.0 / (2.0 * t)).abs() < 1e-12);
    }

    /// The two ways of counting each person's observations (an array over the ids, sorting by
    /// person) give the same interval: the same values with the ids spread thin and packed.
    #[test]
    fn woodruff_counts_persons_alike_packed_and_spread() {
        let mut state = 11u64;
        let mut next = |m: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % m
        };
        let packed: Vec<(f64, u32)> = (0..400)
            .map(|_| (next(50) as f64, next(60) as u32))
            .collect();
        let spread: Vec<(f64, u32)> = packed.iter().map(|&(v, i)| (v, i * 1000)).collect();
        let w = |i: u32| 1.0 + f64::from(i % 7);
        let (wp, ws) = (|i: u32| w(i), |i: u32| w(i / 1000));
        let (hp, hs) = (|i: u32| (i % 3) as usize, |i: u32| (i / 1000 % 3) as usize);
        let a = woodruff(&packed, &wp, &hp, &[20, 20, 20], 0.5, 0.95, 57.0);
        let b = woodruff(&spread, &ws, &hs, &[20, 20, 20], 0.5, 0.95, 57.0);
        assert!(a.se_cdf > 0.0, "{a:?}");
        assert_eq!(a, b);
    }

    /// The quantiles Woodruff's interval is read from are those of [`weighted_quantile`]
    /// over the same observations, at every p the interval can reach.
    #[test]
    fn woodruff_reads_the_weighted_quantiles() {
        let values: Vec<(f64, u32)> = (0..200)
            .map(|k| ((k / 3) as f64, (k * 7 % 50) as u32))
            .collect();
        let w = |i: u32| {
            if i % 10 == 0 {
                0.0
            } else {
                1.0 + f64::from(i % 4)
            }
        };
        let q = woodruff(&values, &w, &|_| 0, &[50], 0.5, 0.95, 49.0);
        let pairs: Vec<(f64, f64)> = values.iter().map(|&(v, i)| (v, w(i))).collect();
        let t = t_quantile(0.95, 49.0);
        assert_eq!(q.estimate, weighted_quantile(&pairs, 0.5));
        assert_eq!(q.ci_lower, weighted_quantile(&pairs, 0.5 - t * q.se_cdf));
        assert_eq!(q.ci_upper, weighted_quantile(&pairs, 0.5 + t * q.se_cdf));
        for p in [-0.1, 0.0, 0.001, 0.25, 0.999, 1.0, 1.2] {
            let one = woodruff(&values, &w, &|_| 0, &[50], p, 0.95, 49.0);
            assert_eq!(one.estimate, weighted_quantile(&pairs, p), "{p}");
        }
        let none = woodruff(&[], &w, &|_| 0, &[50], 0.5, 0.95, 49.0);
        assert!(none.estimate.is_nan());
    }

    #[test]
    fn quantile_rule() {
        let v = [(1.0, 1.0), (2.0, 1.0), (3.0, 2.0)];
        assert_eq!(weighted_quantile(&v, 0.5), 3.0 - 1.0); // cumulative 1, 2 ≥ 2
        assert_eq!(weighted_quantile(&v, 0.51), 3.0);
        assert_eq!(weighted_quantile(&v, -0.2), 1.0);
        assert_eq!(weighted_quantile(&v, 1.4), 3.0);
        assert!(weighted_quantile(&[], 0.5).is_nan());
    }
}
