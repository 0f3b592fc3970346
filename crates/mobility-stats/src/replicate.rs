//! Replicate variance: the Rao–Wu rescaling bootstrap, and replicate weights a survey ships.
//!
//! - **Rao–Wu** (Rao, Wu & Yue 1992; ../shared/DOMAIN.md §2.1): in each stratum h of n_h
//!   persons draw n_h − 1 persons with replacement; person i's weight becomes
//!   wᵢ · n_h/(n_h − 1) · rᵢ with rᵢ the times drawn. A stratum of one person keeps its
//!   weight (it adds no variance, as in the linearisation). V = (1/B) Σ_b (θ_b − θ̂)².
//! - **Replicate weights** (JK1, BRR, ...): V = c · Σ_r (θ_r − θ̂)² with the scheme's c, e.g.
//!   JK1 (R − 1)/R, NHTS 2017 6/7 with R = 98, bootstrap 1/R.
//!
//! Replicate b's multipliers come from their own ChaCha8 stream (seed, b), so a replicate is
//! the same whatever the number of threads or the order they run in.

use crate::ratio::Estimate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The persons of each stratum, for drawing.
#[derive(Debug, Clone)]
pub struct Strata {
    members: Vec<Vec<u32>>,
    persons: usize,
}

impl Strata {
    /// From each person's stratum (0-based, dense).
    pub fn new(stratum_of: &[u32]) -> Self {
        let n = stratum_of
            .iter()
            .map(|&h| h as usize + 1)
            .max()
            .unwrap_or(0);
        let mut members = vec![Vec::new(); n];
        for (i, &h) in stratum_of.iter().enumerate() {
            members[h as usize].push(i as u32);
        }
        Self {
            members,
            persons: stratum_of.len(),
        }
    }

    /// Rao–Wu multipliers n_h/(n_h − 1) · rᵢ of replicate `b` (1 in single-person strata).
    pub fn rao_wu(&self, seed: u64, b: u64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(b);
        let mut a = vec![0.0; self.persons];
        for m in &self.members {
            let n = m.len();
            if n < 2 {
                for &i in m {
                    a[i as usize] = 1.0;
                }
                continue;
            }
            let scale = n as f64 / (n - 1) as f64;
            for _ in 0..n - 1 {
                a[m[rng.random_range(0..n)] as usize] += scale;
            }
        }
        a
    }
}

/// c · Σ_r (θ_r − θ̂)²; replicates that are not finite (an empty domain in a replicate) are
/// left out.
pub fn replicate_variance(theta: f64, replicates: &[f64], c: f64) -> f64 {
    c * replicates
        .iter()
        .filter(|t| t.is_finite())
        .map(|t| (t - theta).powi(2))
        .sum::<f64>()
}

/// `e` with its SE from the spread of its replicates (√ of [`replicate_variance`] with scale
/// `c`), the CI θ̂ ± t·SE and the CV; n and n_eff stay.
///
/// ```
/// use mobility_stats::ratio::Estimate;
/// use mobility_stats::replicate::replicate_estimate;
/// let e = Estimate { estimate: 2.0, n: 10, n_eff: 8.0, ..Estimate::default() };
/// // c · Σ(θ_r − θ̂)² = 0.5 · (1 + 1) = 1.
/// let r = replicate_estimate(e, &[1.0, 3.0], 0.5, 2.0);
/// assert_eq!((r.se, r.ci_lower, r.ci_upper, r.cv, r.n), (1.0, 0.0, 4.0, 0.5, 10));
/// ```
pub fn replicate_estimate(e: Estimate, replicates: &[f64], c: f64, t: f64) -> Estimate {
    let sum_sq = replicates
        .iter()
        .filter(|t| t.is_finite())
        .map(|t| (t - e.estimate).powi(2))
        .sum::<f64>();
    spread_estimate(e, sum_sq, c, t)
}

/// [`replicate_estimate`] from Σ_r (θ_r − θ̂)² already summed (over the replicates as they
/// were evaluated, without keeping them): SE = √(c · `sum_sq`).
pub fn spread_estimate(e: Estimate, sum_sq: f64, c: f64, t: f64) -> Estimate {
    let se = (c * sum_sq).sqrt();
    Estimate {
        se,
        ci_lower: e.estimate - t * se,
        ci_upper: e.estimate + t * se,
        cv: se / e.estimate.abs(),
        ..e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rao_wu_draws_n_minus_one_per_stratum_and_is_reproducible() {
        let s = Strata::new(&[0, 0, 0, 1, 1, 1, 1, 2]);
        let a = s.rao_wu(42, 3);
        // Stratum 0: 2 draws × 3/2; stratum 1: 3 draws × 4/3; stratum 2 alone: 1.
        assert!((a[..3].iter().sum::<f64>() - 3.0).abs() < 1e-12);
        assert!((a[3..7].iter().sum::<f64>() - 4.0).abs() < 1e-12);
        assert_eq!(a[7], 1.0);
        assert_eq!(a, s.rao_wu(42, 3));
        assert_ne!(a, s.rao_wu(42, 4));
    }

    #[test]
    fn bootstrap_of_a_mean_matches_its_textbook_variance() {
        // One stratum of 40 values: the Rao–Wu variance of the mean approaches s²/n.
        let y: Vec<f64> = (0..40).map(|i| ((i * 37) % 11) as f64).collect();
        let n = y.len() as f64;
        let mean = y.iter().sum::<f64>() / n;
        let s2 = y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let s = Strata::new(&vec![0; y.len()]);
        let b = 4000;
        let reps: Vec<f64> = (0..b)
            .map(|r| {
                let a = s.rao_wu(7, r);
                a.iter().zip(&y).map(|(a, y)| a * y).sum::<f64>() / a.iter().sum::<f64>()
            })
            .collect();
        let v = replicate_variance(mean, &reps, 1.0 / b as f64);
        let want = s2 / n;
        // Monte-Carlo error of a variance from 4000 replicates: about 2.2 %.
        assert!((v / want - 1.0).abs() < 0.08, "{v} vs {want}");
    }
}
