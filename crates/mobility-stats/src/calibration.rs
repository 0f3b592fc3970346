//! Calibration of survey weights to known population totals, and the variance of estimates
//! made with calibrated weights.
//!
//! **Weights.** Given design weights dᵢ and auxiliary vectors aᵢ with known totals T, the
//! calibrated weights wᵢ = dᵢ·F(aᵢᵀλ) meet Σ wᵢaᵢ = T (Deville & Särndal 1992, *JASA*
//! 87:376–382). F(u) = exp(u) is raking: its solution is the fixed point of iterative
//! proportional fitting, the same weights. F(u) = 1 + u is linear calibration, whose weights are
//! the GREG estimator's. λ is found by Newton's method, as R's `survey::calibrate` (`grake`)
//! does; bounds L ≤ F ≤ U truncate g = w/d, and a truncated person drops out of the Jacobian.
//!
//! The auxiliary vectors here are indicators: a person is in one category of each calibration
//! variable (age band, gender, home zone, …). [`Design`] holds, per person, the columns of a
//! full-rank design: every category of the first variable and all but the first of each other
//! (the dropped categories are met through the first variable's total when the margins are
//! consistent).
//!
//! **Variance.** A calibrated estimator's linearised variance is that of the residuals
//! eᵢ = zᵢ − aᵢᵀβ, β = (Σ wᵢaᵢaᵢᵀ)⁻¹ Σ wᵢaᵢzᵢ, in place of zᵢ (Deville & Särndal 1992 §3;
//! Särndal, Swensson & Wretman 1992 §6.6; R `survey::calibrate` with `svytotal` and friends,
//! Lumley 2010 §7.3). A calibrated margin is in the span of aᵢ, so its residuals and SE are 0.
//! [`Residuals`] forms the residual sums per stratum from sums of zᵢ weighted by aᵢ, so the
//! person rows are not needed twice.

use std::fmt;

/// No column: the person is in the dropped first category of that variable.
pub const NONE: u32 = u32::MAX;

/// Persons' columns in an indicator design: `per_person` column numbers per person (or
/// [`NONE`]), `columns` in all.
#[derive(Debug, Clone, PartialEq)]
pub struct Design {
    /// Number of columns p.
    pub columns: usize,
    /// Column slots per person (the number of calibration variables).
    pub per_person: usize,
    /// Person i's columns: `cells[i * per_person .. (i + 1) * per_person]`.
    pub cells: Vec<u32>,
}

impl Design {
    /// The full-rank indicator design of persons in categories: `of_person[v][i]` is person
    /// i's category of variable v, `sizes[v]` the number of categories of v. Columns: every
    /// category of the first variable, all but the first of each other. Also each
    /// (variable, category)'s column, [`NONE`] for the dropped ones.
    pub fn from_categories(of_person: &[Vec<u32>], sizes: &[usize]) -> (Self, Vec<Vec<u32>>) {
        let mut columns = 0u32;
        let column_of: Vec<Vec<u32>> = sizes
            .iter()
            .enumerate()
            .map(|(v, &k)| {
                (0..k)
                    .map(|k| {
                        if v > 0 && k == 0 {
                            NONE
                        } else {
                            columns += 1;
                            columns - 1
                        }
                    })
                    .collect()
            })
            .collect();
        let n = of_person.first().map_or(0, Vec::len);
        let mut cells = Vec::with_capacity(n * sizes.len());
        for i in 0..n {
            for (v, cats) in of_person.iter().enumerate() {
                cells.push(column_of[v][cats[i] as usize]);
            }
        }
        (
            Self {
                columns: columns as usize,
                per_person: sizes.len(),
                cells,
            },
            column_of,
        )
    }

    /// Persons in the design.
    pub fn persons(&self) -> usize {
        self.cells.len().checked_div(self.per_person).unwrap_or(0)
    }

    /// Person i's columns (without [`NONE`]).
    pub fn of(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.cells[i * self.per_person..(i + 1) * self.per_person]
            .iter()
            .filter(|&&c| c != NONE)
            .map(|&c| c as usize)
    }

    /// Σ wᵢaᵢ.
    pub fn totals(&self, w: &[f64]) -> Vec<f64> {
        let mut t = vec![0.0; self.columns];
        for (i, &wi) in w.iter().enumerate() {
            for c in self.of(i) {
                t[c] += wi;
            }
        }
        t
    }
}

/// The calibration function F.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// F(u) = exp(u): raking ratio (iterative proportional fitting's solution).
    Raking,
    /// F(u) = 1 + u: linear calibration (GREG).
    Linear,
}

impl Method {
    /// F(u) and F′(u).
    fn f(self, u: f64) -> (f64, f64) {
        match self {
            Method::Raking => {
                let e = u.exp();
                (e, e)
            }
            Method::Linear => (1.0 + u, 1.0),
        }
    }
}

/// How to calibrate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// F.
    pub method: Method,
    /// Bounds (L, U) on g = w/d, if any.
    pub bounds: Option<(f64, f64)>,
    /// Newton steps at most.
    pub max_iter: u32,
    /// Converged when every |Σ wa − T| / T is below this.
    pub tolerance: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            method: Method::Raking,
            bounds: None,
            max_iter: 50,
            tolerance: 1e-10,
        }
    }
}

/// Calibrated weights and how they were reached.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibrated {
    /// wᵢ.
    pub weights: Vec<f64>,
    /// Newton steps taken.
    pub iterations: u32,
    /// max_j |Σ wa_j − T_j| / T_j at the end.
    pub max_error: f64,
}

/// Why calibration failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A column without any person with a positive weight.
    EmptyColumn(usize),
    /// The system has no solution direction (collinear columns, or every person truncated).
    Singular {
        /// Steps taken before.
        iterations: u32,
    },
    /// The margins were not met within the steps allowed.
    NoConvergence {
        /// Steps taken.
        iterations: u32,
        /// The largest relative margin error left.
        max_error: f64,
        /// Its column.
        column: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::EmptyColumn(c) => write!(f, "column {c} has no respondent"),
            Error::Singular { iterations } => write!(
                f,
                "the calibration equations became singular after {iterations} iterations \
                 (with bounds: every respondent of a category is at a bound; widen them)"
            ),
            Error::NoConvergence {
                iterations,
                max_error,
                column,
            } => write!(
                f,
                "no convergence in {iterations} iterations: margin error {max_error:.3e} left in column {column}"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Weights wᵢ = dᵢ F(aᵢᵀλ) with Σ wᵢaᵢ = `totals`, by Newton's method from λ = 0.
pub fn calibrate(
    d: &[f64],
    design: &Design,
    totals: &[f64],
    opts: &Options,
) -> Result<Calibrated, Error> {
    let p = design.columns;
    assert_eq!(totals.len(), p, "one total per column");
    assert_eq!(d.len(), design.persons(), "one weight per person");
    let base = design.totals(d);
    if let Some(c) = (0..p).find(|&c| base[c] <= 0.0) {
        return Err(Error::EmptyColumn(c));
    }
    let mut lambda = vec![0.0; p];
    let mut w = d.to_vec();
    let mut iterations = 0;
    loop {
        // w and the Jacobian Σ d F′ a aᵀ at λ.
        let mut jac = vec![0.0; p * p];
        let mut cols = Vec::with_capacity(design.per_person);
        for (i, &di) in d.iter().enumerate() {
            cols.clear();
            cols.extend(design.of(i));
            let u: f64 = cols.iter().map(|&c| lambda[c]).sum();
            let (mut g, mut dg) = opts.method.f(u);
            if let Some((lo, hi)) = opts.bounds
                && !(lo..=hi).contains(&g)
            {
                g = g.clamp(lo, hi);
                dg = 0.0;
            }
            w[i] = di * g;
            let h = di * dg;
            if h != 0.0 {
                for &a in &cols {
                    for &b in &cols {
                        jac[a * p + b] += h;
                    }
                }
            }
        }
        let got = design.totals(&w);
        let residual: Vec<f64> = totals.iter().zip(&got).map(|(t, g)| t - g).collect();
        let (column, max_error) = residual
            .iter()
            .zip(totals)
            .map(|(r, t)| (r / t).abs())
            .enumerate()
            .fold(
                (0, 0.0),
                |acc, (c, e)| if e > acc.1 || e.is_nan() { (c, e) } else { acc },
            );
        if max_error < opts.tolerance {
            return Ok(Calibrated {
                weights: w,
                iterations,
                max_error,
            });
        }
        if iterations >= opts.max_iter {
            return Err(Error::NoConvergence {
                iterations,
                max_error,
                column,
            });
        }
        let step = solve(jac, residual, p).ok_or(Error::Singular { iterations })?;
        for (l, s) in lambda.iter_mut().zip(step) {
            *l += s;
        }
        iterations += 1;
    }
}

/// Solves A x = b (A dense p×p, row-major) by Gaussian elimination with partial pivoting;
/// `None` when a pivot is negligible against A's largest entry.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>, p: usize) -> Option<Vec<f64>> {
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if scale == 0.0 {
        return None;
    }
    for k in 0..p {
        let pivot = (k..p).max_by(|&i, &j| a[i * p + k].abs().total_cmp(&a[j * p + k].abs()))?;
        if a[pivot * p + k].abs() <= scale * 1e-13 {
            return None;
        }
        if pivot != k {
            for c in 0..p {
                a.swap(k * p + c, pivot * p + c);
            }
            b.swap(k, pivot);
        }
        for i in k + 1..p {
            let f = a[i * p + k] / a[k * p + k];
            if f == 0.0 {
                continue;
            }
            for c in k..p {
                a[i * p + c] -= f * a[k * p + c];
            }
            b[i] -= f * b[k];
        }
    }
    let mut x = vec![0.0; p];
    for k in (0..p).rev() {
        let s: f64 = (k + 1..p).map(|c| a[k * p + c] * x[c]).sum();
        x[k] = (b[k] - s) / a[k * p + k];
    }
    Some(x)
}

/// The inverse of a dense symmetric p×p matrix, column by column.
fn inverse(a: &[f64], p: usize) -> Option<Vec<f64>> {
    let mut inv = vec![0.0; p * p];
    for c in 0..p {
        let mut e = vec![0.0; p];
        e[c] = 1.0;
        let x = solve(a.to_vec(), e, p)?;
        for r in 0..p {
            inv[r * p + c] = x[r];
        }
    }
    Some(inv)
}

/// What the residual variance of a calibrated estimator needs from the frame: M⁻¹ =
/// (Σ wᵢaᵢaᵢᵀ)⁻¹, S_h = Σ_h wᵢaᵢ per stratum, and the persons' groups: persons of one stratum
/// with the same columns share aᵢᵀβ, so Σ_h (wᵢeᵢ)² is summed group by group,
///   Σ_{g∈h} [Σ_g w²z² − 2c_g Σ_g w²z + c_g² Σ_g w²],  c_g = a_gᵀβ,
/// which keeps the cancellation inside a group (a few persons) rather than across a stratum:
/// a calibrated margin's SE comes out at rounding level of its own persons' weights.
#[derive(Debug, Clone)]
pub struct Residuals {
    p: usize,
    m_inv: Vec<f64>,
    s: Vec<Vec<f64>>,
    /// Each person's group.
    person_group: Vec<u32>,
    /// Per group: its stratum, its columns, Σ w².
    group_stratum: Vec<u32>,
    group_cols: Vec<Vec<u32>>,
    group_w2: Vec<f64>,
}

impl Residuals {
    /// From the calibrated weights `w`, each person's stratum (0..`strata`) and the design.
    /// `None` when M is singular.
    pub fn new(w: &[f64], stratum: &[u32], strata: usize, design: &Design) -> Option<Self> {
        let p = design.columns;
        let mut m = vec![0.0; p * p];
        let mut s = vec![vec![0.0; p]; strata];
        let mut groups: std::collections::HashMap<(u32, Vec<u32>), u32> =
            std::collections::HashMap::new();
        let (mut person_group, mut group_stratum, mut group_cols, mut group_w2) = (
            Vec::with_capacity(w.len()),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for (i, &wi) in w.iter().enumerate() {
            let h = stratum[i];
            let mut cols: Vec<u32> = design.of(i).map(|c| c as u32).collect();
            cols.sort_unstable();
            for &a in &cols {
                s[h as usize][a as usize] += wi;
                for &b in &cols {
                    m[a as usize * p + b as usize] += wi;
                }
            }
            let next = group_stratum.len() as u32;
            let g = *groups.entry((h, cols.clone())).or_insert_with(|| {
                group_stratum.push(h);
                group_cols.push(cols);
                group_w2.push(0.0);
                next
            });
            group_w2[g as usize] += wi * wi;
            person_group.push(g);
        }
        Some(Self {
            p,
            m_inv: inverse(&m, p)?,
            s,
            person_group,
            group_stratum,
            group_cols,
            group_w2,
        })
    }

    /// Columns p.
    pub fn columns(&self) -> usize {
        self.p
    }

    /// Person i's group.
    pub fn group(&self, i: usize) -> u32 {
        self.person_group[i]
    }

    /// Per stratum (Σ_h wᵢeᵢ, Σ_h (wᵢeᵢ)²) of the residuals eᵢ = zᵢ − aᵢᵀβ, from
    /// `waz` = Σ wᵢaᵢzᵢ over all persons, `wz[h]` = Σ_h wᵢzᵢ, and for every group where some
    /// zᵢ ≠ 0: (group, Σ_g wᵢ²zᵢ, Σ_g wᵢ²zᵢ²). Σ_h we = Σ_h wz − S_hᵀβ.
    pub fn adjust(&self, waz: &[f64], wz: &[f64], touched: &[(u32, f64, f64)]) -> Vec<(f64, f64)> {
        let p = self.p;
        let beta: Vec<f64> = (0..p)
            .map(|r| (0..p).map(|c| self.m_inv[r * p + c] * waz[c]).sum())
            .collect();
        let c = |g: usize| -> f64 { self.group_cols[g].iter().map(|&k| beta[k as usize]).sum() };
        let mut sq = vec![0.0; wz.len()];
        for g in 0..self.group_w2.len() {
            let cg = c(g);
            sq[self.group_stratum[g] as usize] += cg * cg * self.group_w2[g];
        }
        for &(g, b, a) in touched {
            let g = g as usize;
            sq[self.group_stratum[g] as usize] += a - 2.0 * c(g) * b;
        }
        wz.iter()
            .zip(sq)
            .enumerate()
            .map(|(h, (&wz, sq))| {
                let sb: f64 = self.s[h].iter().zip(&beta).map(|(s, b)| s * b).sum();
                (wz - sb, sq.max(0.0))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two variables (A: 2 categories, B: 2 categories) over 6 persons; the full-rank design
    /// has A1, A2, B2.
    fn design() -> (Design, Vec<f64>) {
        // (A, B) of each person.
        let people = [(0, 0), (0, 1), (1, 0), (1, 1), (0, 0), (1, 1)];
        let cells = people
            .iter()
            .flat_map(|&(a, b)| [a as u32, if b == 1 { 2 } else { NONE }])
            .collect();
        let d = vec![10.0, 12.0, 8.0, 9.0, 11.0, 10.0];
        (
            Design {
                columns: 3,
                per_person: 2,
                cells,
            },
            d,
        )
    }

    #[test]
    fn one_variable_is_post_stratification() {
        // A single variable: every method gives w = d · T_c / Σ_c d (hand-worked).
        let design = Design {
            columns: 2,
            per_person: 1,
            cells: vec![0, 0, 1, 1, 1],
        };
        let d = [1.0, 3.0, 2.0, 2.0, 4.0];
        for method in [Method::Raking, Method::Linear] {
            let c = calibrate(
                &d,
                &design,
                &[8.0, 16.0],
                &Options {
                    method,
                    ..Options::default()
                },
            )
            .unwrap();
            let want = [2.0, 6.0, 4.0, 4.0, 8.0];
            for (w, v) in c.weights.iter().zip(want) {
                assert!((w - v).abs() < 1e-9, "{method:?}: {w} vs {v}");
            }
        }
    }

    #[test]
    fn raking_equals_iterative_proportional_fitting() {
        let (design, d) = design();
        // Margins: A = (40, 30), B = (35, 35); B1 is dropped, met through the total 70.
        let totals = [40.0, 30.0, 35.0];
        let c = calibrate(&d, &design, &totals, &Options::default()).unwrap();
        // IPF written out: alternate scaling A's and B's categories.
        let people = [(0, 0), (0, 1), (1, 0), (1, 1), (0, 0), (1, 1)];
        let mut w = d.clone();
        for _ in 0..200 {
            for (var, t) in [(0usize, [40.0, 30.0]), (1, [35.0, 35.0])] {
                for cat in 0..2 {
                    let of = |p: &(usize, usize)| if var == 0 { p.0 } else { p.1 };
                    let s: f64 = people
                        .iter()
                        .zip(&w)
                        .filter(|(p, _)| of(p) == cat)
                        .map(|(_, w)| w)
                        .sum();
                    for (p, w) in people.iter().zip(w.iter_mut()) {
                        if of(p) == cat {
                            *w *= t[cat] / s;
                        }
                    }
                }
            }
        }
        for (a, b) in c.weights.iter().zip(&w) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        assert!(c.max_error < 1e-10);
    }

    #[test]
    fn bounds_hold_and_margins_are_met() {
        let (design, d) = design();
        // Unbounded, g reaches about 1.3 in the B1 persons of A1.
        let totals = [36.0, 30.0, 30.0];
        let free = calibrate(
            &d,
            &design,
            &totals,
            &Options {
                method: Method::Linear,
                ..Options::default()
            },
        )
        .unwrap();
        let g_max = free
            .weights
            .iter()
            .zip(&d)
            .map(|(w, d)| w / d)
            .fold(0.0, f64::max);
        assert!(g_max > 1.3, "{g_max}");
        let opts = Options {
            method: Method::Linear,
            bounds: Some((0.85, 1.3)),
            ..Options::default()
        };
        let c = calibrate(&d, &design, &totals, &opts).unwrap();
        for (w, d) in c.weights.iter().zip(&d) {
            let g = w / d;
            assert!((0.85 - 1e-12..=1.3 + 1e-12).contains(&g), "g = {g}");
        }
        let got = design.totals(&c.weights);
        for (g, t) in got.iter().zip(totals) {
            assert!((g - t).abs() < 1e-8);
        }
        // Bounds that cannot be met fail clearly.
        let tight = Options {
            bounds: Some((0.99, 1.01)),
            ..opts
        };
        assert!(matches!(
            calibrate(&d, &design, &totals, &tight),
            Err(Error::NoConvergence { .. } | Error::Singular { .. })
        ));
    }

    #[test]
    fn an_empty_column_is_named() {
        let design = Design {
            columns: 2,
            per_person: 1,
            cells: vec![0, 0],
        };
        assert_eq!(
            calibrate(&[1.0, 1.0], &design, &[1.0, 1.0], &Options::default()),
            Err(Error::EmptyColumn(1))
        );
    }

    /// The inputs of [`Residuals::adjust`] for a person-level z, summed as a caller would.
    fn inputs(
        r: &Residuals,
        design: &Design,
        w: &[f64],
        stratum: &[u32],
        z: &[f64],
    ) -> (Vec<f64>, Vec<f64>, Vec<(u32, f64, f64)>) {
        let mut waz = vec![0.0; design.columns];
        let mut wz = vec![0.0; 2];
        let mut touched: Vec<(u32, f64, f64)> = Vec::new();
        for i in 0..w.len() {
            for c in design.of(i) {
                waz[c] += w[i] * z[i];
            }
            wz[stratum[i] as usize] += w[i] * z[i];
            let g = r.group(i);
            let t = match touched.iter_mut().find(|t| t.0 == g) {
                Some(t) => t,
                None => {
                    touched.push((g, 0.0, 0.0));
                    touched.last_mut().unwrap()
                }
            };
            t.1 += w[i] * w[i] * z[i];
            t.2 += w[i] * w[i] * z[i] * z[i];
        }
        (waz, wz, touched)
    }

    #[test]
    fn a_calibrated_margin_has_no_residual() {
        // z = 1 for persons in A1 or in B1 (a dropped category): margins, so every residual
        // is 0.
        let (design, d) = design();
        let w = calibrate(&d, &design, &[40.0, 30.0, 35.0], &Options::default())
            .unwrap()
            .weights;
        let stratum = [0u32, 0, 0, 1, 1, 1];
        let r = Residuals::new(&w, &stratum, 2, &design).unwrap();
        for margin in [Some(0), None] {
            let z: Vec<f64> = (0..6)
                .map(|i| {
                    let cols: Vec<usize> = design.of(i).collect();
                    let inside = match margin {
                        Some(c) => cols.contains(&c),
                        None => !cols.contains(&2),
                    };
                    if inside { 1.0 } else { 0.0 }
                })
                .collect();
            let (waz, wz, touched) = inputs(&r, &design, &w, &stratum, &z);
            for (we, we2) in r.adjust(&waz, &wz, &touched) {
                assert!(we.abs() < 1e-12 && we2.abs() < 1e-12, "{we} {we2}");
            }
        }
    }

    #[test]
    fn residual_sums_equal_the_residuals_summed() {
        // An arbitrary z: the sums from `adjust` equal those of e = z − aᵀβ computed directly
        // (β by the normal equations solved here again).
        let (design, d) = design();
        let w = d.clone();
        let stratum = [0u32, 1, 0, 1, 0, 1];
        let z = [1.5, -0.5, 2.0, 0.0, 3.0, 1.0];
        let r = Residuals::new(&w, &stratum, 2, &design).unwrap();
        let (mut m, mut rhs) = (vec![0.0; 9], vec![0.0; 3]);
        for i in 0..6 {
            let cols: Vec<usize> = design.of(i).collect();
            for &a in &cols {
                rhs[a] += w[i] * z[i];
                for &b in &cols {
                    m[a * 3 + b] += w[i];
                }
            }
        }
        let (waz, wz, touched) = inputs(&r, &design, &w, &stratum, &z);
        let beta = solve(m, rhs, 3).unwrap();
        let mut want = vec![(0.0, 0.0); 2];
        for i in 0..6 {
            let e = z[i] - design.of(i).map(|c| beta[c]).sum::<f64>();
            want[stratum[i] as usize].0 += w[i] * e;
            want[stratum[i] as usize].1 += (w[i] * e).powi(2);
        }
        for (got, want) in r.adjust(&waz, &wz, &touched).iter().zip(&want) {
            assert!(
                (got.0 - want.0).abs() < 1e-9 && (got.1 - want.1).abs() < 1e-9,
                "{got:?} {want:?}"
            );
        }
    }
}
