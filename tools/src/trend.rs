//! Trends: a least-squares slope per 30 days over a window, with its 95% interval and
//! a direction read against a stated threshold, so a model never judges "rising" from
//! a list of numbers itself.

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use crate::reference::round;

/// The direction of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    Rising,
    Falling,
    Stable,
    /// Fewer than [`MIN_POINTS`] values, or all on one day.
    InsufficientData,
}

/// The fewest values a trend is computed from.
pub const MIN_POINTS: usize = 3;

/// A dated value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
pub struct DatedValue {
    pub date: NaiveDate,
    pub value: f64,
}

/// A trend over a series, as facts.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct TrendFacts {
    pub direction: Trend,
    /// Least-squares slope, unit per 30 days (3 decimals); absent with insufficient data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slope_per_30_days: Option<f64>,
    /// 95% interval of the slope (t distribution, n - 2 degrees of freedom).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slope_interval_95: Option<[f64; 2]>,
    /// Slopes smaller than this in size count as stable.
    pub stable_threshold_per_30_days: f64,
    /// Values the trend is computed from.
    pub n: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<DatedValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<DatedValue>,
}

/// The trend of `points` (time order not required). Direction: rising when the slope
/// exceeds `stable_threshold` per 30 days, falling below its negative, else stable.
pub fn trend(points: &[(DateTime<Utc>, f64)], stable_threshold: f64) -> TrendFacts {
    let mut sorted: Vec<(DateTime<Utc>, f64)> = points.to_vec();
    sorted.sort_by_key(|p| p.0);
    let dated = |p: &(DateTime<Utc>, f64)| DatedValue { date: p.0.date_naive(), value: p.1 };
    let mut facts = TrendFacts {
        direction: Trend::InsufficientData,
        slope_per_30_days: None,
        slope_interval_95: None,
        stable_threshold_per_30_days: stable_threshold,
        n: sorted.len(),
        first: sorted.first().map(dated),
        last: sorted.last().map(dated),
    };
    let Some(fit) = least_squares(&sorted) else { return facts };
    let slope = fit.slope_per_day * 30.0;
    facts.slope_per_30_days = Some(round(slope, 3));
    facts.slope_interval_95 = fit.slope_se_per_day.map(|se| {
        [round(slope - t975(sorted.len() - 2) * se * 30.0, 3), round(slope + t975(sorted.len() - 2) * se * 30.0, 3)]
    });
    facts.direction = if slope > stable_threshold {
        Trend::Rising
    } else if slope < -stable_threshold {
        Trend::Falling
    } else {
        Trend::Stable
    };
    facts
}

struct Fit {
    slope_per_day: f64,
    slope_se_per_day: Option<f64>,
}

fn least_squares(points: &[(DateTime<Utc>, f64)]) -> Option<Fit> {
    if points.len() < MIN_POINTS {
        return None;
    }
    let t0 = points[0].0;
    let xs: Vec<f64> = points.iter().map(|p| (p.0 - t0).num_seconds() as f64 / 86_400.0).collect();
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    if sxx <= f64::EPSILON {
        return None;
    }
    let sxy: f64 = xs.iter().zip(points).map(|(x, p)| (x - mx) * (p.1 - my)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let sse: f64 = xs.iter().zip(points).map(|(x, p)| (p.1 - intercept - slope * x).powi(2)).sum();
    let se = (sse / (n - 2.0) / sxx).sqrt();
    Some(Fit { slope_per_day: slope, slope_se_per_day: se.is_finite().then_some(se) })
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom; beyond 30, the
/// value at the lower end of each band (slightly wide, never narrow).
fn t975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        31..=40 => 2.042,
        41..=60 => 2.021,
        61..=120 => 2.000,
        _ => 1.980,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn day(d: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 1, 1, 9, 0, 0).unwrap() + chrono::Duration::days(d)
    }

    #[test]
    fn an_exact_line_gives_its_slope_and_a_zero_width_interval() {
        // 1 unit per 10 days = 3 per 30 days.
        let pts: Vec<_> = (0..5).map(|i| (day(i * 10), 2.0 + i as f64)).collect();
        let t = trend(&pts, 1.0);
        assert_eq!(t.direction, Trend::Rising);
        assert_eq!(t.slope_per_30_days, Some(3.0));
        assert_eq!(t.slope_interval_95, Some([3.0, 3.0]));
        assert_eq!(t.n, 5);
        assert_eq!(t.first.unwrap().value, 2.0);
        assert_eq!(t.last.unwrap().value, 6.0);
    }

    #[test]
    fn direction_follows_the_threshold() {
        let falling: Vec<_> = (0..4).map(|i| (day(i * 30), 10.0 - 2.0 * i as f64)).collect();
        assert_eq!(trend(&falling, 1.0).direction, Trend::Falling);
        assert_eq!(trend(&falling, 2.5).direction, Trend::Stable);
        let noisy = [(day(0), 5.0), (day(30), 7.0), (day(60), 4.0), (day(90), 6.0)];
        let t = trend(&noisy, 1.0);
        assert_eq!(t.direction, Trend::Stable);
        let [lo, hi] = t.slope_interval_95.unwrap();
        assert!(lo < 0.0 && hi > 0.0, "{lo} {hi}");
    }

    #[test]
    fn too_few_points_or_one_day_is_insufficient() {
        assert_eq!(trend(&[(day(0), 1.0), (day(9), 2.0)], 1.0).direction, Trend::InsufficientData);
        let same_day = [(day(3), 1.0), (day(3), 2.0), (day(3), 3.0)];
        let t = trend(&same_day, 1.0);
        assert_eq!(t.direction, Trend::InsufficientData);
        assert!(t.slope_per_30_days.is_none());
        assert_eq!(trend(&[], 1.0).n, 0);
    }
}
