//! Estimators of mobility, free of Arrow and DataFusion so they can be checked against
//! published and independent figures directly.
//!
//! - [`ratio`]: the survey ratio estimator R = Σ wᵢyᵢ / Σ wᵢxᵢ over persons, with its
//!   Taylor-linearised standard error within strata, from per-stratum sufficient statistics
//!   (which SQL can compute with one GROUP BY), Kish's effective sample size, and t-based CIs.
//!
//! - [`calibration`]: weights calibrated to population margins (raking, linear), and the
//!   residual variance of estimates made with them.
//!
//! - [`quantile`]: weighted quantiles with Woodruff's CI and SE.
//!
//! - [`replicate`]: the Rao–Wu bootstrap and replicate-weight variances, for quantities
//!   without a closed form and for surveys that ship replicate weights.
//!
//! - [`traffic`]: Statens vegvesen's daily averages (MDT, ÅDT) with coverage and the
//!   finite-population SE, and the traffic index: point, area, chained, rolling windows.
//!
//! To add an estimator: a file of its own with a test against an independent reference.

pub mod calendar;
pub mod calibration;
pub mod quantile;
pub mod ratio;
pub mod replicate;
pub mod traffic;

pub use ratio::{
    Estimate, StratumSums, from_wz, ratio_estimate, ratio_of, ratio_wz, t_quantile, total_estimate,
};
pub use replicate::{Strata, replicate_variance};
