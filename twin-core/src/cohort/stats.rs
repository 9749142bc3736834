//! Estimates with 95% intervals: Wilson for rates, Student t for means, and the
//! "not enough comparable patients" refusal below a minimum n.

use journey::clinical::TimeToEvent;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The normal quantile of a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A two-sided 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// Wilson score interval of `successes` out of `n` (`n > 0`). Unlike the Wald interval
/// it stays inside [0, 1] and is not degenerate at 0 or n successes.
pub fn wilson(successes: usize, n: usize) -> Interval {
    assert!(n > 0 && successes <= n, "wilson: {successes} of {n}");
    wilson_share(successes as f64 / n as f64, n as f64)
}

/// Wilson score interval of a share `p` at a sample size `n` that need not be whole
/// (a weighted share at its effective sample size).
fn wilson_share(p: f64, n: f64) -> Interval {
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    // At 0 or n events the bound equals the rate exactly; rounding can leave it a
    // hair across (2.8e-17 above a rate of 0), an interval that excludes its estimate.
    Interval { low: (centre - half).clamp(0.0, p), high: (centre + half).clamp(p, 1.0) }
}

/// Mean and Student t interval of `values` (at least two).
pub fn mean_t(values: &[f64]) -> (f64, Interval) {
    let n = values.len();
    assert!(n >= 2, "a t interval needs two values, got {n}");
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    // Degrees of freedom n - 1 >= 1 is a valid t distribution.
    let t = StudentsT::new(0.0, 1.0, (n - 1) as f64).expect("valid t").inverse_cdf(0.975);
    let half = t * (var / n as f64).sqrt();
    (mean, Interval { low: mean - half, high: mean + half })
}

/// An outcome's figure over a group of patients, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Estimate {
    /// A share of patients (`events` of `n`), with its Wilson interval.
    Rate { n: usize, events: usize, rate: f64, ci: Interval },
    /// A mean value over `n` patients, with its t interval.
    Mean { n: usize, mean: f64, ci: Interval },
    /// The share with the event by the window's end, by Kaplan-Meier over `n`
    /// patients followed for any part of it (`events` observed, `censored` seen for
    /// less than the window without it), with the log-log (Greenwood) interval.
    KaplanMeier { n: usize, events: usize, censored: usize, rate: f64, ci: Interval },
    /// A weighted rate (`is_rate`) or mean over `n` patients (inverse-propensity
    /// weights: what the group would have had had everyone in it been treated alike),
    /// with the Wilson or t interval of the weights' effective sample size
    /// (Kish: (sum w)^2 / sum w^2), which is never more than `n`.
    Weighted { n: usize, effective_n: f64, is_rate: bool, value: f64, ci: Interval },
    /// Fewer than `min_n` patients with data: no figure is given, by design.
    NotEnoughComparablePatients { n: usize, min_n: usize },
}

impl Estimate {
    /// A rate over 0/1 outcomes, or the refusal below `min_n` (at least 1).
    pub fn rate(values: &[bool], min_n: usize) -> Self {
        let n = values.len();
        if n < min_n.max(1) {
            return Estimate::NotEnoughComparablePatients { n, min_n };
        }
        let events = values.iter().filter(|v| **v).count();
        Estimate::Rate { n, events, rate: events as f64 / n as f64, ci: wilson(events, n) }
    }

    /// A mean, or the refusal below `min_n` (at least 2, a t interval needs it).
    pub fn mean(values: &[f64], min_n: usize) -> Self {
        let n = values.len();
        if n < min_n.max(2) {
            return Estimate::NotEnoughComparablePatients { n, min_n };
        }
        let (mean, ci) = mean_t(values);
        Estimate::Mean { n, mean, ci }
    }

    /// A mean of a measure bounded to `range` (a DAS28 is 0-10): the t interval is cut
    /// to the range, since no mean of such values can fall outside it (three
    /// neighbours at 0.5, 0.6 and 9.0 once gave a lower bound below zero).
    pub fn mean_within(values: &[f64], min_n: usize, range: (f64, f64)) -> Self {
        match Estimate::mean(values, min_n) {
            Estimate::Mean { n, mean, ci } => Estimate::Mean {
                n,
                mean,
                ci: Interval { low: ci.low.clamp(range.0, range.1), high: ci.high.clamp(range.0, range.1) },
            },
            other => other,
        }
    }

    /// The cumulative incidence by `horizon` days (1 - the Kaplan-Meier survival) over
    /// `times`, or the refusal below `min_n` (at least 1). Events after the horizon
    /// count as censored at it.
    pub fn kaplan_meier(times: &[TimeToEvent], horizon: u32, min_n: usize) -> Self {
        let n = times.len();
        if n < min_n.max(1) {
            return Estimate::NotEnoughComparablePatients { n, min_n };
        }
        let mut sorted: Vec<(u32, bool)> =
            times.iter().map(|t| (t.days.min(horizon), t.event && t.days <= horizon)).collect();
        // Events before censorings on the same day (the usual convention).
        sorted.sort_by_key(|(d, e)| (*d, !*e));
        let (mut survival, mut greenwood) = (1.0f64, 0.0f64);
        let mut i = 0;
        while i < sorted.len() {
            let day = sorted[i].0;
            let at_risk = (sorted.len() - i) as f64;
            let mut j = i;
            while j < sorted.len() && sorted[j].0 == day {
                j += 1;
            }
            let deaths = sorted[i..j].iter().filter(|(_, e)| *e).count() as f64;
            if deaths > 0.0 {
                survival *= 1.0 - deaths / at_risk;
                if at_risk > deaths {
                    greenwood += deaths / (at_risk * (at_risk - deaths));
                }
            }
            i = j;
        }
        let events = sorted.iter().filter(|(_, e)| *e).count();
        let censored = sorted.iter().filter(|(d, e)| !*e && *d < horizon).count();
        let rate = (1.0 - survival).clamp(0.0, 1.0);
        let ci = if survival > 0.0 && survival < 1.0 && greenwood > 0.0 {
            // log(-log S) scale: S^exp(+-1.96 se) stays inside (0, 1).
            let se = greenwood.sqrt() / survival.ln().abs();
            let (s_low, s_high) = (survival.powf((1.96 * se).exp()), survival.powf((-1.96 * se).exp()));
            Interval { low: (1.0 - s_high).clamp(0.0, rate), high: (1.0 - s_low).clamp(rate, 1.0) }
        } else {
            // No event (or every patient had one): the binomial interval of what was seen.
            wilson(events, n)
        };
        Estimate::KaplanMeier { n, events, censored, rate, ci }
    }

    /// The weighted rate of `values` (outcome, weight) or the refusal below `min_n`
    /// patients (at least 1). Weights must be positive and finite.
    pub fn weighted_rate(values: &[(bool, f64)], min_n: usize) -> Self {
        let n = values.len();
        if n < min_n.max(1) {
            return Estimate::NotEnoughComparablePatients { n, min_n };
        }
        let (total, effective_n) = weight_totals(values.iter().map(|(_, w)| *w));
        // + 0.0: an empty float sum is -0.0, which prints as "-0%".
        let rate = values.iter().filter(|(y, _)| *y).map(|(_, w)| w).sum::<f64>() / total + 0.0;
        // Wilson at the effective size, with the weighted rate as its share.
        let ci = wilson_share(rate, effective_n);
        Estimate::Weighted { n, effective_n, is_rate: true, value: rate, ci }
    }

    /// The weighted mean of `values` (value, weight) of a measure bounded to `range`,
    /// or the refusal below `min_n` (at least 2).
    pub fn weighted_mean_within(values: &[(f64, f64)], min_n: usize, range: (f64, f64)) -> Self {
        let n = values.len();
        if n < min_n.max(2) {
            return Estimate::NotEnoughComparablePatients { n, min_n };
        }
        let (total, effective_n) = weight_totals(values.iter().map(|(_, w)| *w));
        let mean = values.iter().map(|(v, w)| v * w).sum::<f64>() / total;
        let var = values.iter().map(|(v, w)| w * (v - mean).powi(2)).sum::<f64>() / total;
        // Bessel's correction at the effective size; at least one degree of freedom.
        let dof = (effective_n - 1.0).max(1.0);
        let t = StudentsT::new(0.0, 1.0, dof).expect("valid t").inverse_cdf(0.975);
        let half = t * (var / dof).sqrt();
        let ci = Interval { low: (mean - half).clamp(range.0, range.1), high: (mean + half).clamp(range.0, range.1) };
        Estimate::Weighted { n, effective_n, is_rate: false, value: mean, ci }
    }

    /// Patients with data.
    pub fn n(&self) -> usize {
        match self {
            Estimate::Rate { n, .. }
            | Estimate::Mean { n, .. }
            | Estimate::KaplanMeier { n, .. }
            | Estimate::Weighted { n, .. }
            | Estimate::NotEnoughComparablePatients { n, .. } => *n,
        }
    }

    /// The rate or mean, when one is given.
    pub fn value(&self) -> Option<f64> {
        match self {
            Estimate::Rate { rate, .. } | Estimate::KaplanMeier { rate, .. } => Some(*rate),
            Estimate::Mean { mean, .. } => Some(*mean),
            Estimate::Weighted { value, .. } => Some(*value),
            Estimate::NotEnoughComparablePatients { .. } => None,
        }
    }

    /// The figure with its interval and n for a terminal table: "62% (51-72%) n 34",
    /// "3.41 (3.10-3.72) n 28", "- (n 3 < 20)".
    pub fn short(&self) -> String {
        let rate = matches!(self, Estimate::Rate { .. } | Estimate::KaplanMeier { .. } | Estimate::Weighted { is_rate: true, .. });
        match (self.value(), self.interval()) {
            (Some(v), Some(ci)) if rate => {
                format!("{:.0}% ({:.0}-{:.0}%) n {}", 100.0 * v, 100.0 * ci.low, 100.0 * ci.high, self.n())
            }
            (Some(v), Some(ci)) => format!("{v:.2} ({:.2}-{:.2}) n {}", ci.low, ci.high, self.n()),
            _ => match self {
                Estimate::NotEnoughComparablePatients { n, min_n } => format!("- (n {n} < {min_n})"),
                _ => "-".to_owned(),
            },
        }
    }

    pub fn interval(&self) -> Option<Interval> {
        match self {
            Estimate::Rate { ci, .. }
            | Estimate::Mean { ci, .. }
            | Estimate::KaplanMeier { ci, .. }
            | Estimate::Weighted { ci, .. } => Some(*ci),
            Estimate::NotEnoughComparablePatients { .. } => None,
        }
    }
}

/// The sum of the weights and their Kish effective sample size ((sum w)^2 / sum w^2).
pub fn weight_totals(weights: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let total: f64 = weights.clone().sum();
    let squares: f64 = weights.map(|w| w * w).sum();
    assert!(total > 0.0 && total.is_finite(), "weights must be positive and finite, sum {total}");
    (total, total * total / squares)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal weights give the plain estimate; unequal ones shrink the effective n and
    /// widen the interval.
    #[test]
    fn weighted_estimates_reduce_to_the_plain_ones_with_equal_weights() {
        let ys = [true, true, false, true, false, false, true, true, false, true];
        let plain = Estimate::rate(&ys, 5);
        let equal: Vec<(bool, f64)> = ys.iter().map(|y| (*y, 2.5)).collect();
        match (Estimate::weighted_rate(&equal, 5), plain) {
            (Estimate::Weighted { effective_n, value, ci, .. }, Estimate::Rate { rate, ci: plain_ci, .. }) => {
                assert!((effective_n - 10.0).abs() < 1e-9 && (value - rate).abs() < 1e-12);
                assert!((ci.low - plain_ci.low).abs() < 1e-9 && (ci.high - plain_ci.high).abs() < 1e-9);
            }
            other => panic!("{other:?}"),
        }
        let skewed: Vec<(bool, f64)> = ys.iter().enumerate().map(|(i, y)| (*y, if i == 0 { 10.0 } else { 1.0 })).collect();
        match Estimate::weighted_rate(&skewed, 5) {
            Estimate::Weighted { effective_n, value, ci, .. } => {
                assert!(effective_n < 10.0 && value > 0.6, "{effective_n} {value}");
                assert!((0.0..=1.0).contains(&ci.low) && ci.low <= value && value <= ci.high && ci.high <= 1.0);
            }
            other => panic!("{other:?}"),
        }
        let values = [(0.5, 1.0), (9.5, 1.0), (0.6, 3.0)];
        match Estimate::weighted_mean_within(&values, 2, (0.0, 10.0)) {
            Estimate::Weighted { value, ci, is_rate: false, .. } => {
                assert!((value - (0.5 + 9.5 + 1.8) / 5.0).abs() < 1e-12);
                assert!(ci.low >= 0.0 && ci.high <= 10.0 && ci.low <= value && value <= ci.high);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(Estimate::weighted_rate(&equal[..3], 5), Estimate::NotEnoughComparablePatients { n: 3, min_n: 5 });
    }

    /// A worked example: 10 patients, events on days 10, 20 (two), 40; censored on
    /// days 15 and 30; four followed past the 50-day horizon. S = 9/10 * 6/8 * 4/5
    /// (the day-40 step: 5 at risk) = 0.54; the censored count for what they were seen.
    #[test]
    fn kaplan_meier_counts_the_censored_for_the_time_seen() {
        let t = |days, event| TimeToEvent { days, event };
        let times = [t(10, true), t(15, false), t(20, true), t(20, true), t(30, false), t(40, true), t(60, false), t(70, false), t(80, true), t(90, false)];
        let Estimate::KaplanMeier { n, events, censored, rate, ci } = Estimate::kaplan_meier(&times, 50, 5) else {
            panic!("a Kaplan-Meier figure");
        };
        assert_eq!((n, events, censored), (10, 4, 2), "the day-80 event is after the horizon");
        assert!(close(rate, 1.0 - 0.9 * 0.75 * 0.8, 1e-12), "{rate}");
        assert!(0.0 <= ci.low && ci.low < rate && rate < ci.high && ci.high <= 1.0, "{ci:?}");
        // A naive share over the six with a known yes/no at day 50 would be 4/8 or 4/6; the
        // estimate is neither, and it refuses below the minimum n.
        assert_eq!(Estimate::kaplan_meier(&times[..3], 50, 5), Estimate::NotEnoughComparablePatients { n: 3, min_n: 5 });
        let none = Estimate::kaplan_meier(&[t(60, false), t(182, false), t(30, false)], 182, 1);
        assert!(matches!(none, Estimate::KaplanMeier { rate, ci, .. } if rate == 0.0 && ci.low == 0.0 && ci.high > 0.0));
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() < tol
    }

    /// Reference values: Newcombe (1998), Statistics in Medicine 17:857, table I
    /// (Wilson score method without continuity correction).
    #[test]
    fn wilson_matches_published_values() {
        for (r, n, low, high) in
            [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)]
        {
            let ci = wilson(r, n);
            assert!(close(ci.low, low, 5e-4) && close(ci.high, high, 5e-4), "{r}/{n}: {ci:?}");
        }
        // Every n: the interval holds its rate, inside 0-1 (0 of 6 once gave 2.8e-17).
        for n in 1..200 {
            for r in [0, n / 3, n] {
                let ci = wilson(r, n);
                let p = r as f64 / n as f64;
                assert!(0.0 <= ci.low && ci.low <= p && p <= ci.high && ci.high <= 1.0, "{r}/{n}: {ci:?}");
            }
        }
        let all = wilson(10, 10);
        assert!(close(all.high, 1.0, 1e-12));
        assert!(close(all.low, 0.7225, 5e-4));
    }

    #[test]
    fn t_interval_matches_the_quantile() {
        // n = 2, values 1 and 3: mean 2, sd sqrt(2), t(0.975, 1) = 12.7062.
        let (mean, ci) = mean_t(&[1.0, 3.0]);
        assert_eq!(mean, 2.0);
        assert!(close(ci.high - mean, 12.7062 * 1.0, 1e-3), "{ci:?}");
        // n = 10, t(0.975, 9) = 2.2622.
        let values: Vec<f64> = (0..10).map(f64::from).collect();
        let (mean, ci) = mean_t(&values);
        let se = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 9.0 / 10.0).sqrt();
        assert!(close(ci.high - mean, 2.2622 * se, 1e-3));
    }

    #[test]
    fn below_min_n_there_is_no_figure() {
        let few = vec![true; 9];
        assert_eq!(Estimate::rate(&few, 10), Estimate::NotEnoughComparablePatients { n: 9, min_n: 10 });
        assert_eq!(Estimate::rate(&few, 10).value(), None);
        let ten = vec![true; 10];
        assert!(matches!(Estimate::rate(&ten, 10), Estimate::Rate { n: 10, events: 10, .. }));
        assert!(matches!(Estimate::mean(&[3.0; 9], 10), Estimate::NotEnoughComparablePatients { n: 9, .. }));
        assert!(matches!(Estimate::mean(&[3.0; 10], 10), Estimate::Mean { n: 10, .. }));
        // Whatever min_n, an empty group gives no figure.
        assert!(matches!(Estimate::rate(&[], 0), Estimate::NotEnoughComparablePatients { n: 0, .. }));
        let json = serde_json::to_value(Estimate::rate(&few, 10)).unwrap();
        assert_eq!(json["kind"], "not_enough_comparable_patients");
    }
}
