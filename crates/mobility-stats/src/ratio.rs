//! The ratio estimator of a travel survey with its Taylor-linearised variance.
//!
//! For a domain d (e.g. persons aged 18-29) and a ratio R = Σ wᵢyᵢ / Σ wᵢxᵢ over the persons
//! of d (y: trips of a mode, x: all trips), the linearised variable is
//! zᵢ = (yᵢ − R xᵢ) / X for i in d and 0 outside d, with X = Σ wᵢxᵢ. With persons as PSUs
//! sampled with replacement within strata h (n_h persons each):
//!
//!   V(R) = Σ_h n_h/(n_h − 1) · Σ_{i∈h} (wᵢzᵢ − z̄_h)²,  z̄_h = (1/n_h) Σ_{i∈h} wᵢzᵢ
//!
//! (../shared/DOMAIN.md §2.1; Wolter, *Introduction to Variance Estimation*, ch. 6; R
//! `survey::svyratio`). Persons outside the domain count in n_h with zᵢ = 0, which is the
//! standard domain estimator, not a conditional one. Everything needed is a sum over persons,
//! so it comes from [`StratumSums`] without the person rows:
//! Σ wz = (Σwy − R Σwx)/X and Σ (wz)² = (Σw²y² − 2R Σw²xy + R² Σw²x²)/X².
//! A stratum with a single person has no variance estimate and contributes 0 (as R's
//! `options(survey.lonely.psu = "certainty")`); such strata are counted in [`Estimate`].

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Sums over the persons of one stratum that fall in the domain.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StratumSums {
    /// Persons of the stratum in the whole sample (domain or not).
    pub n_h: u64,
    /// Persons of the stratum in the domain.
    pub n_d: u64,
    /// Σ w.
    pub sw: f64,
    /// Σ w².
    pub sw2: f64,
    /// Σ w y.
    pub sw_y: f64,
    /// Σ w x.
    pub sw_x: f64,
    /// Σ w² y².
    pub sw2_yy: f64,
    /// Σ w² x y.
    pub sw2_xy: f64,
    /// Σ w² x².
    pub sw2_xx: f64,
}

impl std::ops::AddAssign<&StratumSums> for StratumSums {
    /// Adds the sums of more persons of the same stratum and domain.
    fn add_assign(&mut self, b: &StratumSums) {
        self.n_h += b.n_h;
        self.n_d += b.n_d;
        self.sw += b.sw;
        self.sw2 += b.sw2;
        self.sw_y += b.sw_y;
        self.sw_x += b.sw_x;
        self.sw2_yy += b.sw2_yy;
        self.sw2_xy += b.sw2_xy;
        self.sw2_xx += b.sw2_xx;
    }
}

/// A person's numerator terms, w y and w² y²: all a total's cells keep
/// ([`StratumSums::add_y`] adds them).
#[inline]
pub fn y_terms(w: f64, y: f64) -> [f64; 2] {
    [w * y, w * w * y * y]
}

/// A person's terms, added one person at a time: what the linearised variance of
/// [`ratio_estimate`] needs from each person of weight `w` in a stratum and domain.
///
/// ```
/// use mobility_stats::ratio::StratumSums;
/// // Two persons of one stratum: trips y over days x, weights 2 and 1.
/// let mut s = StratumSums::default();
/// for (w, y, x) in [(2.0, 3.0, 1.0), (1.0, 0.0, 1.0)] {
///     s.add_y(w, y);
///     s.add_x(w, x);
///     s.add_cross(w, x, y);
/// }
/// assert_eq!((s.n_d, s.sw, s.sw2), (2, 3.0, 5.0));
/// assert_eq!((s.sw_y, s.sw_x), (6.0, 3.0)); // R = 6 / 3 = 2 trips a day
/// assert_eq!((s.sw2_yy, s.sw2_xx, s.sw2_xy), (36.0, 5.0, 12.0));
/// ```
impl StratumSums {
    /// The numerator's terms of a person with contribution `y`: Σ w y and Σ w² y²
    /// ([`y_terms`]).
    #[inline]
    pub fn add_y(&mut self, w: f64, y: f64) {
        let [wy, w2yy] = y_terms(w, y);
        self.sw_y += wy;
        self.sw2_yy += w2yy;
    }

    /// The denominator's terms of a person with contribution `x`: Σ w x and Σ w² x²; a
    /// person with x ≠ 0 is in the domain (n_d, Σ w, Σ w²).
    #[inline]
    pub fn add_x(&mut self, w: f64, x: f64) {
        if x != 0.0 {
            self.n_d += 1;
            self.sw += w;
            self.sw2 += w * w;
        }
        self.sw_x += w * x;
        self.sw2_xx += w * w * x * x;
    }

    /// The cross term Σ w² x y of a person with contributions `x` and `y` (x = 1 for a mean,
    /// the person's total of the domain for a share).
    #[inline]
    pub fn add_cross(&mut self, w: f64, x: f64, y: f64) {
        self.sw2_xy += w * w * x * y;
    }
}

/// An estimate with its uncertainty.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Estimate {
    /// R̂.
    pub estimate: f64,
    /// Linearised standard error.
    pub se: f64,
    /// Lower end of the CI.
    pub ci_lower: f64,
    /// Upper end of the CI.
    pub ci_upper: f64,
    /// Persons in the domain.
    pub n: u64,
    /// Kish's effective sample size of the domain, (Σw)²/Σw².
    pub n_eff: f64,
    /// Coefficient of variation, se / |estimate| (NaN for an estimate of 0).
    pub cv: f64,
    /// Strata with one person, which add no variance.
    pub lonely_strata: u32,
}

/// The two-sided (1 − α) quantile of Student's t with `df` degrees of freedom (normal for
/// df = ∞ or above 10⁶).
///
/// An indicator asks for the same quantile for every one of its cells (one `df` per run), and
/// inverting the incomplete beta function each time was 3 % of a run: each thread keeps the
/// last answer.
pub fn t_quantile(level: f64, df: f64) -> f64 {
    thread_local! {
        static LAST: std::cell::Cell<(u64, u64, f64)> = const { std::cell::Cell::new((0, 0, f64::NAN)) };
    }
    let key = (level.to_bits(), df.to_bits());
    let (l, d, t) = LAST.get();
    if (l, d) == key && !t.is_nan() {
        return t;
    }
    let p = 0.5 + level / 2.0;
    let t = if !df.is_finite() || df > 1e6 {
        Normal::standard().inverse_cdf(p)
    } else {
        StudentsT::new(0.0, 1.0, df.max(1.0))
            .map(|t| t.inverse_cdf(p))
            .unwrap_or(f64::NAN)
    };
    LAST.set((key.0, key.1, t));
    t
}

/// The ratio estimate over strata, its linearised SE and a `level` CI with `df` degrees of
/// freedom (persons − strata for the whole sample).
///
/// Worked by hand: three persons of weight 1 in one stratum with y = 1, 0, 2 trips by bike of
/// x = 1, 1, 1 trips: R = 3/3 = 1, X = 3, z = (y − R x)/X = 0, −1/3, 1/3, and
/// V = 3/2 · Σ (z − z̄)² = 3/2 · 2/9 = 1/3.
///
/// ```
/// use mobility_stats::{StratumSums, ratio_estimate};
/// let s = StratumSums {
///     n_h: 3, n_d: 3, sw: 3.0, sw2: 3.0,
///     sw_y: 3.0, sw_x: 3.0, sw2_yy: 5.0, sw2_xy: 3.0, sw2_xx: 3.0,
/// };
/// let e = ratio_estimate(&[s], 0.95, 2.0);
/// assert_eq!(e.estimate, 1.0);
/// assert!((e.se - (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
/// assert_eq!(e.n, 3);
/// ```
pub fn ratio_estimate(strata: &[StratumSums], level: f64, df: f64) -> Estimate {
    let (r, x) = ratio_of(strata);
    let wz: Vec<(f64, f64)> = strata.iter().map(|s| ratio_wz(s, r, x)).collect();
    from_wz(strata, r, level, df, &wz)
}

/// R = Σwy / Σwx over the strata, and X = Σwx.
pub fn ratio_of(strata: &[StratumSums]) -> (f64, f64) {
    let y: f64 = strata.iter().map(|s| s.sw_y).sum();
    let x: f64 = strata.iter().map(|s| s.sw_x).sum();
    (if x != 0.0 { y / x } else { f64::NAN }, x)
}

/// Σ wz and Σ (wz)² of a stratum for the ratio's z = (y − R x)/X.
pub fn ratio_wz(s: &StratumSums, r: f64, x: f64) -> (f64, f64) {
    (
        (s.sw_y - r * s.sw_x) / x,
        (s.sw2_yy - 2.0 * r * s.sw2_xy + r * r * s.sw2_xx) / (x * x),
    )
}

/// The total Ŷ = Σ wᵢyᵢ over the domain with its linearised SE (zᵢ = yᵢ), e.g. annual tonnes
/// of CO₂e for the population the weights sum to. `n` and `n_eff` as in [`ratio_estimate`].
pub fn total_estimate(strata: &[StratumSums], level: f64, df: f64) -> Estimate {
    let y: f64 = strata.iter().map(|s| s.sw_y).sum();
    let wz: Vec<(f64, f64)> = strata.iter().map(|s| (s.sw_y, s.sw2_yy)).collect();
    from_wz(strata, y, level, df, &wz)
}

/// An estimate with the with-replacement variance Σ_h n_h/(n_h − 1) Σ_{i∈h} (wᵢzᵢ − z̄_h)²,
/// from each stratum's Σ wz and Σ (wz)² (`wz`, one pair per stratum: those of z itself, or of
/// the calibration residuals of z, [`crate::calibration::Residuals`]).
pub fn from_wz(
    strata: &[StratumSums],
    estimate: f64,
    level: f64,
    df: f64,
    wz: &[(f64, f64)],
) -> Estimate {
    let n: u64 = strata.iter().map(|s| s.n_d).sum();
    let sw: f64 = strata.iter().map(|s| s.sw).sum();
    let sw2: f64 = strata.iter().map(|s| s.sw2).sum();
    let mut var = 0.0;
    let mut lonely = 0;
    for (s, &(sum_wz, sum_wz2)) in strata.iter().zip(wz) {
        if s.n_h < 2 {
            lonely += 1;
            continue;
        }
        let nh = s.n_h as f64;
        // Σ (wz − z̄)² = Σ (wz)² − (Σ wz)²/n_h. The sums were added in one pass, so the
        // difference carries rounding of up to about n_h·ε·Σ (wz)²: below that it cannot be
        // told from 0 (a stratum whose wz are all equal, a population count with equal
        // weights) and is taken as 0. For a total, whichever order the persons were added
        // in; a ratio's Σ (wz)² is itself a difference of sums, whose rounding can be larger.
        let squares = sum_wz2 - sum_wz * sum_wz / nh;
        if squares > nh * f64::EPSILON * sum_wz2 {
            var += nh / (nh - 1.0) * squares;
        }
    }
    let se = var.sqrt();
    let t = t_quantile(level, df);
    Estimate {
        estimate,
        se,
        ci_lower: estimate - t * se,
        ci_upper: estimate + t * se,
        n,
        n_eff: if sw2 > 0.0 { sw * sw / sw2 } else { 0.0 },
        cv: se / estimate.abs(),
        lonely_strata: lonely,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Persons: (stratum, weight, y, x, in domain).
    type P = (usize, f64, f64, f64, bool);

    fn sums(persons: &[P], strata: usize) -> Vec<StratumSums> {
        let mut out = vec![StratumSums::default(); strata];
        for &(h, w, y, x, d) in persons {
            out[h].n_h += 1;
            if d {
                let s = &mut out[h];
                s.n_d += 1;
                s.sw += w;
                s.sw2 += w * w;
                s.sw_y += w * y;
                s.sw_x += w * x;
                s.sw2_yy += w * w * y * y;
                s.sw2_xy += w * w * x * y;
                s.sw2_xx += w * w * x * x;
            }
        }
        out
    }

    /// The variance written out person by person, as the textbook formula reads.
    fn direct(persons: &[P], strata: usize) -> (f64, f64) {
        let y: f64 = persons.iter().filter(|p| p.4).map(|p| p.1 * p.2).sum();
        let x: f64 = persons.iter().filter(|p| p.4).map(|p| p.1 * p.3).sum();
        let r = y / x;
        let mut v = 0.0;
        for h in 0..strata {
            let wz: Vec<f64> = persons
                .iter()
                .filter(|p| p.0 == h)
                .map(|p| if p.4 { p.1 * (p.2 - r * p.3) / x } else { 0.0 })
                .collect();
            let n = wz.len() as f64;
            let mean = wz.iter().sum::<f64>() / n;
            v += n / (n - 1.0) * wz.iter().map(|z| (z - mean).powi(2)).sum::<f64>();
        }
        (r, v.sqrt())
    }

    #[test]
    fn sufficient_statistics_equal_the_person_level_formula() {
        let mut state = 7u64;
        let mut u = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let persons: Vec<P> = (0..400)
            .map(|i| {
                (
                    i % 3,
                    0.5 + 3.0 * u(),
                    (u() * 5.0).floor(),
                    (u() * 8.0).floor() + 1.0,
                    u() < 0.6,
                )
            })
            .collect();
        let e = ratio_estimate(&sums(&persons, 3), 0.95, 397.0);
        let (r, se) = direct(&persons, 3);
        assert!((e.estimate - r).abs() < 1e-12);
        assert!((e.se - se).abs() < 1e-12 * se.max(1.0), "{} vs {se}", e.se);
        assert_eq!(e.n, persons.iter().filter(|p| p.4).count() as u64);
    }

    /// A small case worked by hand: one stratum, persons (w, y, x) = (1, 2, 1), (1, 4, 1),
    /// (2, 0, 1), all in the domain. X = 4, Y = 6, R = 1.5; wz = (2−1.5)/4, (4−1.5)/4,
    /// 2(0−1.5)/4 = 0.125, 0.625, −0.75, mean 0; V = 3/2 · (0.015625 + 0.390625 + 0.5625)
    /// = 1.453125.
    #[test]
    fn hand_worked_example() {
        let persons = [
            (0, 1.0, 2.0, 1.0, true),
            (0, 1.0, 4.0, 1.0, true),
            (0, 2.0, 0.0, 1.0, true),
        ];
        let e = ratio_estimate(&sums(&persons, 1), 0.95, 2.0);
        assert_eq!(e.estimate, 1.5);
        assert!((e.se - 1.453125f64.sqrt()).abs() < 1e-15);
        // t(0.975, 2) = 4.302652729911275 (published tables: 4.303).
        assert!((e.ci_upper - (1.5 + 4.302652729911275 * 1.453125f64.sqrt())).abs() < 1e-9);
        assert!((e.n_eff - 16.0 / 6.0).abs() < 1e-15);
    }

    /// One stratum, y = 2, 4, 0 with weights 1, 1, 2: Ŷ = 6; wy = 2, 4, 0, mean 2;
    /// V = 3/2 · (0 + 4 + 4) = 12.
    #[test]
    fn total_worked_by_hand() {
        let persons = [
            (0, 1.0, 2.0, 1.0, true),
            (0, 1.0, 4.0, 1.0, true),
            (0, 2.0, 0.0, 1.0, true),
        ];
        let e = total_estimate(&sums(&persons, 1), 0.95, 2.0);
        assert_eq!(e.estimate, 6.0);
        assert!((e.se - 12f64.sqrt()).abs() < 1e-12);
    }

    /// A count with equal weights in its stratum has no variance. Summed in one pass its
    /// Σ (wz)² − (Σ wz)²/n is rounding, and which rounding depends on the order the persons
    /// came in; it is taken as 0 in every order. One weight 10 % off the others is still seen,
    /// at the two-pass formula's value within the one-pass formula's rounding.
    #[test]
    fn rounding_is_no_variance_and_a_small_spread_is() {
        let equal: Vec<P> = (0..1000).map(|_| (0, 11.3, 1.0, 1.0, true)).collect();
        let s = sums(&equal, 1)[0];
        // Above 0 (4.0e-9): without the floor it would be a variance.
        let rounding = s.sw2_yy - s.sw_y * s.sw_y / s.n_h as f64;
        assert!(
            rounding > 0.0,
            "the test needs rounding above 0: {rounding:e}"
        );
        assert_eq!(total_estimate(&[s], 0.95, 1e3).se, 0.0);
        let mut spread = equal.clone();
        spread[7].1 *= 1.1;
        let e = total_estimate(&sums(&spread, 1), 0.95, 1e3);
        let n = spread.len() as f64;
        let mean = spread.iter().map(|p| p.1).sum::<f64>() / n;
        let two_pass = n / (n - 1.0) * spread.iter().map(|p| (p.1 - mean).powi(2)).sum::<f64>();
        assert!(e.se > 0.0);
        assert!(
            (e.se - two_pass.sqrt()).abs() < 1e-3 * two_pass.sqrt(),
            "{} vs {}",
            e.se,
            two_pass.sqrt()
        );
    }

    #[test]
    fn t_quantiles_match_tables() {
        assert!((t_quantile(0.95, 10.0) - 2.228138851986).abs() < 1e-9);
        assert!((t_quantile(0.95, f64::INFINITY) - 1.959963984540).abs() < 1e-6);
    }
}
