//! Statens vegvesen's traffic statistics: averages of daily traffic with their coverage, and
//! the traffic index (point, area, chained, rolling), as ../shared/DOMAIN.md §2.3–2.4 give
//! them from the published method and SVV's own code (`snohan/byindeks`).

use crate::t_quantile;

/// A day counts towards an average when its coverage is at least this (percent).
pub const DAY_COVERAGE_MIN: f64 = 95.0;

/// An average of daily traffic over a period (MDT for a month, ÅDT for a year).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyAverage {
    /// Mean of the daily totals of the included days.
    pub mean: f64,
    /// Days included (coverage ≥ 95 %).
    pub n_days: u32,
    /// Days in the period.
    pub days_in_period: u32,
    /// Mean coverage of the included days × included days / days in the period (percent).
    pub coverage_pct: f64,
    /// Sample SD of the included daily totals.
    pub sd: f64,
    /// SD/√n · √((N − n)/(N − 1)), SVV's `correctedStandardError`.
    pub se: f64,
    /// 95 % CI with t at n − 1.
    pub ci_lower: f64,
    /// Upper end.
    pub ci_upper: f64,
}

/// Sums over the days that count (coverage ≥ 95 %), mergeable: n, Σv, Σv², Σcoverage.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DailySums {
    /// Days included.
    pub n: u64,
    /// Σ daily totals.
    pub sum: f64,
    /// Σ daily totals².
    pub sum2: f64,
    /// Σ coverage percent.
    pub coverage: f64,
}

impl DailySums {
    /// Adds a day (its total and coverage percent); a day below 95 % coverage is left out.
    pub fn add(&mut self, volume: f64, coverage_pct: f64) {
        if coverage_pct >= DAY_COVERAGE_MIN && volume.is_finite() {
            self.n += 1;
            self.sum += volume;
            self.sum2 += volume * volume;
            self.coverage += coverage_pct;
        }
    }

    /// Adds another set of sums.
    pub fn merge(&mut self, o: &DailySums) {
        self.n += o.n;
        self.sum += o.sum;
        self.sum2 += o.sum2;
        self.coverage += o.coverage;
    }

    /// The average over a period of `days_in_period` days; `None` without a day.
    pub fn finish(&self, days_in_period: u32) -> Option<DailyAverage> {
        if self.n == 0 {
            return None;
        }
        let nf = self.n as f64;
        let big_n = f64::from(days_in_period).max(nf);
        let mean = self.sum / nf;
        let sd = if self.n > 1 {
            ((self.sum2 - self.sum * self.sum / nf) / (nf - 1.0))
                .max(0.0)
                .sqrt()
        } else {
            f64::NAN
        };
        let fpc = if big_n > 1.0 {
            ((big_n - nf) / (big_n - 1.0)).max(0.0).sqrt()
        } else {
            0.0
        };
        let se = sd / nf.sqrt() * fpc;
        let t = t_quantile(0.95, nf - 1.0);
        Some(DailyAverage {
            mean,
            n_days: self.n as u32,
            days_in_period,
            coverage_pct: self.coverage / f64::from(days_in_period.max(1)),
            sd,
            se,
            ci_lower: mean - t * se,
            ci_upper: mean + t * se,
        })
    }
}

/// The average of `days` (daily total, coverage percent) over a period of `days_in_period`
/// days; `None` when no day reaches 95 % coverage. The coverage of the average is the mean
/// coverage of the included days × included days / days in the period.
pub fn daily_average(days: &[(f64, f64)], days_in_period: u32) -> Option<DailyAverage> {
    let mut s = DailySums::default();
    for &(v, c) in days {
        s.add(v, c);
    }
    s.finish(days_in_period)
}

/// A point index in percent: 100 · (calc / base − 1).
pub fn point_index(base: f64, calc: f64) -> f64 {
    100.0 * (calc / base - 1.0)
}

/// An area index with the uncertainty Statens vegvesen publishes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaIndex {
    /// 100 · (Σ calc / Σ base − 1).
    pub index_p: f64,
    /// Points.
    pub n_trp: u32,
    /// 1 / Σ wⱼ², wⱼ = baseⱼ / Σ base.
    pub n_eff: f64,
    /// 100 · √(Σ wⱼ (rⱼ − R)² / (1 − 1/n_eff)), rⱼ = calcⱼ / baseⱼ.
    pub sd_p: f64,
    /// SD / √n_eff.
    pub se_p: f64,
    /// index_p ∓ t(0.975, n − 1) · SE.
    pub ci_lower: f64,
    /// Upper end.
    pub ci_upper: f64,
}

/// The sums an area index needs, so that points can be added one at a time and partial
/// sums merged (a SQL aggregate): n, Σb, Σc, Σb², Σc²/b over points with b > 0.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AreaSums {
    /// Points.
    pub n: u64,
    /// Σ base.
    pub sb: f64,
    /// Σ calc.
    pub sc: f64,
    /// Σ base².
    pub sbb: f64,
    /// Σ calc² / base.
    pub sccb: f64,
}

impl AreaSums {
    /// Adds a point; one without a positive base or with a missing value is left out.
    pub fn add(&mut self, base: f64, calc: f64) {
        if base > 0.0 && base.is_finite() && calc.is_finite() {
            self.n += 1;
            self.sb += base;
            self.sc += calc;
            self.sbb += base * base;
            self.sccb += calc * calc / base;
        }
    }

    /// Adds another set of sums.
    pub fn merge(&mut self, o: &AreaSums) {
        self.n += o.n;
        self.sb += o.sb;
        self.sc += o.sc;
        self.sbb += o.sbb;
        self.sccb += o.sccb;
    }

    /// The area index, `None` without points. With wⱼ = bⱼ/Σb and rⱼ = cⱼ/bⱼ,
    /// Σ wⱼ (rⱼ − R)² = (Σc²/b − 2R Σc + R² Σb)/Σb.
    pub fn finish(&self) -> Option<AreaIndex> {
        if self.n == 0 {
            return None;
        }
        let r = self.sc / self.sb;
        let n_eff = self.sb * self.sb / self.sbb;
        let spread = ((self.sccb - 2.0 * r * self.sc + r * r * self.sb) / self.sb).max(0.0);
        let sd_p = 100.0 * (spread / (1.0 - 1.0 / n_eff)).sqrt();
        let se_p = sd_p / n_eff.sqrt();
        let index_p = 100.0 * (r - 1.0);
        let t = t_quantile(0.95, self.n as f64 - 1.0);
        Some(AreaIndex {
            index_p,
            n_trp: self.n as u32,
            n_eff,
            sd_p,
            se_p,
            ci_lower: index_p - t * se_p,
            ci_upper: index_p + t * se_p,
        })
    }
}

/// The base-volume-weighted area index over points (base, calc) with positive base; `None`
/// without such a point. One point has no SD (NaN), as a sample of one.
///
/// ```
/// use mobility_stats::traffic::area_index;
/// // Σ calc / Σ base over the points: (1100 + 950) / (1000 + 1000) = +2.5 %.
/// let a = area_index(&[(1000.0, 1100.0), (1000.0, 950.0)]).unwrap();
/// assert!((a.index_p - 2.5).abs() < 1e-9);
/// assert!(area_index(&[(0.0, 10.0)]).is_none());
/// ```
pub fn area_index(points: &[(f64, f64)]) -> Option<AreaIndex> {
    let mut s = AreaSums::default();
    for &(b, c) in points {
        s.add(b, c);
    }
    s.finish()
}

/// Two consecutive indices (percent, SE in percentage points) chained: R = R₁R₂ and
/// Var(R₁R₂) = R₁²Var(R₂) + R₂²Var(R₁) + Var(R₁)Var(R₂) for independent links.
/// Returns (index_p, se_p).
///
/// ```
/// use mobility_stats::traffic::{chain, point_index};
/// // +10 % then +10 %: +21 %. With SEs of 1 and 2 points: √(1.1² · 0.02² + 1.1² · 0.01² +
/// // 0.01² · 0.02²) = 0.0245975 (2.46 points).
/// let (index, se) = chain((10.0, 1.0), (10.0, 2.0));
/// assert!((index - 21.0).abs() < 1e-9);
/// assert!((se - 2.45975).abs() < 1e-5);
/// assert!((point_index(1000.0, 1030.0) - 3.0).abs() < 1e-12);
/// ```
pub fn chain(first: (f64, f64), second: (f64, f64)) -> (f64, f64) {
    let (r1, r2) = (1.0 + first.0 / 100.0, 1.0 + second.0 / 100.0);
    let (v1, v2) = ((first.1 / 100.0).powi(2), (second.1 / 100.0).powi(2));
    let r = r1 * r2;
    let var = r1 * r1 * v2 + r2 * r2 * v1 + v1 * v2;
    (100.0 * (r - 1.0), 100.0 * var.sqrt())
}

/// A reference year's mean MDT: the mean of its monthly MDTs, when there are at least 10.
pub fn reference_mean(mdts: &[f64]) -> Option<f64> {
    let v: Vec<f64> = mdts.iter().copied().filter(|m| m.is_finite()).collect();
    (v.len() >= 10).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The mean MDT of a rolling window of `months` (12, 24 or 36) months, from the window's
/// (calendar month 1–12, MDT) values: each calendar month's MDTs averaged, then the months;
/// for 36 months calendar months with fewer than two values are left out, and then the values
/// left must number ≥ 31; the 12- and 24-month windows need
/// ≥ 9 and 20 values. `None` when the requirement fails.
pub fn window_mean(months: u32, values: &[(u32, f64)]) -> Option<f64> {
    let need = match months {
        12 => 9,
        24 => 20,
        36 => 31,
        _ => return None,
    };
    let mut by_month = [(0.0, 0u32); 12];
    for &(m, v) in values.iter().filter(|v| v.1.is_finite()) {
        let k = (m.clamp(1, 12) - 1) as usize;
        by_month[k].0 += v;
        by_month[k].1 += 1;
    }
    // For 36 months, calendar months with fewer than two values are left out first, and the
    // values left are counted against the minimum (SVV's calculate_rolling_indices_by_mdt).
    let min_values = if months == 36 { 2 } else { 1 };
    let kept: Vec<(f64, u32)> = by_month
        .into_iter()
        .filter(|(_, n)| *n >= min_values)
        .collect();
    if kept.iter().map(|(_, n)| *n as usize).sum::<usize>() < need {
        return None;
    }
    let means: Vec<f64> = kept.iter().map(|(s, n)| s / f64::from(*n)).collect();
    (!means.is_empty()).then(|| means.iter().sum::<f64>() / means.len() as f64)
}

/// Where a CI lies relative to zero, for the zero-growth target.
pub fn nullvekst(ci_lower: f64, ci_upper: f64) -> &'static str {
    if ci_lower > 0.0 {
        "growth: the CI lies above zero"
    } else if ci_upper < 0.0 {
        "decline: the CI lies below zero"
    } else {
        "no significant change: the CI contains zero"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Statens vegvesen's example: 14 days at 96 % coverage in a 28-day February → 48 %.
    #[test]
    fn coverage_of_an_average_follows_the_documented_example() {
        let days: Vec<(f64, f64)> = (0..28)
            .map(|d| {
                if d < 14 {
                    (1000.0 + d as f64, 96.0)
                } else {
                    (500.0, 50.0)
                }
            })
            .collect();
        let a = daily_average(&days, 28).unwrap();
        assert_eq!(a.n_days, 14);
        assert!((a.coverage_pct - 48.0).abs() < 1e-12);
        assert!((a.mean - 1006.5).abs() < 1e-12);
    }

    /// Hand-worked: days 100, 110, 120, 130 of a 10-day period: mean 115, sd = √(500/3),
    /// se = sd/2 · √(6/9).
    #[test]
    fn mdt_standard_error_has_the_finite_population_correction() {
        let a = daily_average(
            &[
                (100.0, 100.0),
                (110.0, 99.0),
                (120.0, 95.0),
                (130.0, 97.0),
                (999.0, 94.9),
            ],
            10,
        )
        .unwrap();
        assert_eq!(a.n_days, 4);
        assert_eq!(a.mean, 115.0);
        let sd = (500.0f64 / 3.0).sqrt();
        assert!((a.sd - sd).abs() < 1e-9);
        assert!((a.se - sd / 2.0 * (6.0f64 / 9.0).sqrt()).abs() < 1e-9);
        assert!((a.coverage_pct - (100.0 + 99.0 + 95.0 + 97.0) / 4.0 * 0.4).abs() < 1e-12);
        // Every day counted: no sampling error left.
        let full = daily_average(&[(1.0, 100.0), (3.0, 100.0)], 2).unwrap();
        assert_eq!(full.se, 0.0);
    }

    /// Hand-worked: points (base, calc) = (100, 110), (300, 300): R = 410/400, index 2.5 %;
    /// w = 1/4, 3/4; n_eff = 1/(1/16 + 9/16) = 1.6; r = 1.1, 1.0;
    /// Σ w (r − R)² = 0.25·0.075² + 0.75·0.025² = 0.001875; SD = 100·√(0.001875/(1 − 1/1.6)).
    #[test]
    fn area_index_worked_by_hand() {
        let a = area_index(&[(100.0, 110.0), (300.0, 300.0)]).unwrap();
        assert!((a.index_p - 2.5).abs() < 1e-12);
        assert!((a.n_eff - 1.6).abs() < 1e-12);
        let sd = 100.0 * (0.001875f64 / 0.375).sqrt();
        assert!((a.sd_p - sd).abs() < 1e-12);
        assert!((a.se_p - sd / 1.6f64.sqrt()).abs() < 1e-12);
        // t(0.975, 1) = 12.706204736174707.
        assert!((a.ci_upper - (2.5 + 12.706204736174707 * sd / 1.6f64.sqrt())).abs() < 1e-9);
        assert_eq!(point_index(100.0, 110.0), 10.000000000000009);
    }

    /// Hand-worked: +10 % (SE 1) then −10 % (SE 2): R = 0.99, index −1 %;
    /// Var = 1.1²·0.02² + 0.9²·0.01² + 0.01²·0.02² = 0.00048400 + 0.000081 + 0.00000004.
    #[test]
    fn chained_index_uses_the_product_variance() {
        let (i, se) = chain((10.0, 1.0), (-10.0, 2.0));
        assert!((i + 1.0).abs() < 1e-12);
        assert!((se - 100.0 * 0.00056504f64.sqrt()).abs() < 1e-12);
    }

    /// A 36-month window: January has one value and is left out; the others are averaged
    /// within the month, then over the months.
    #[test]
    fn rolling_windows_apply_the_month_rules() {
        let mut v: Vec<(u32, f64)> = Vec::new();
        for year in 0..3 {
            for m in 2..=12u32 {
                v.push((m, 100.0 * f64::from(m) + f64::from(year)));
            }
        }
        v.push((1, 5000.0));
        let mean = window_mean(36, &v).unwrap();
        let want = (2..=12).map(|m| 100.0 * f64::from(m) + 1.0).sum::<f64>() / 11.0;
        assert!((mean - want).abs() < 1e-9);
        // 31 values, but January's single one is left out first: 30 < 31, no index (SVV drops
        // thin months before counting; counting first would accept this window).
        let mut thin: Vec<(u32, f64)> = (0..3)
            .flat_map(|y| (2..=11u32).map(move |m| (m, f64::from(m + y))))
            .collect();
        thin.push((1, 1.0));
        assert_eq!(thin.len(), 31);
        assert_eq!(window_mean(36, &thin), None);
        assert_eq!(window_mean(12, &v[..8]), None, "8 values < 9");
        assert!(window_mean(12, &v[..9]).is_some());
        assert_eq!(reference_mean(&[1.0; 9]), None);
        assert_eq!(reference_mean(&[2.0; 10]), Some(2.0));
    }
}
