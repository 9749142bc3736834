//! The clinical outcomes of docs/DESIGN.md, computed from a recorded DAS28 series and
//! treatment starts: EULAR response at 6 months, flare within 6 months, DAS28 at a
//! day after the index date, treatment switch within 12 months.
//!
//! The ground truth uses these functions on each virtual patient's *recorded* data;
//! the cohort analytics can call the same ones on any journey, so the two agree by
//! construction and a disagreement is a bug in one of the inputs. Pure functions on
//! dates and numbers: no dependency on the generator's types.
//!
//! Conventions, where DESIGN.md leaves room:
//! - *baseline* is the latest DAS28 in the 30 days up to and including the index date;
//! - *"at 6 months"* is the reading nearest day 182 within +/-45 days (earlier on a tie);
//! - a patient whose index therapy failed (stopped, or another DMARD added or switched
//!   to) before that reading counts as a non-responder (non-responder imputation, as
//!   trials count them);
//! - a *flare* is a rise between consecutive recorded readings, the later one inside
//!   the window;
//! - an outcome is `None` when the record cannot tell (no baseline, no reading in the
//!   window, follow-up too short): absent, never guessed.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// DAS28 at or below which a patient is at target (low disease activity).
pub const TARGET: f64 = 3.2;
/// DAS28 below which a patient is in remission.
pub const REMISSION: f64 = 2.6;
/// DAS28 above which activity is high.
pub const HIGH: f64 = 5.1;

/// One recorded DAS28.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Das28Reading {
    pub date: NaiveDate,
    pub score: f64,
}

/// EULAR response criteria, by DAS28 improvement and the level reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EularResponse {
    Good,
    Moderate,
    #[serde(rename = "none")]
    NoResponse,
}

impl EularResponse {
    /// Good or moderate: what "responded" means in a response rate.
    pub fn responded(self) -> bool {
        self != EularResponse::NoResponse
    }
}

/// A follow-up time point with its tolerance, in days after the index date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub day: i64,
    pub tolerance: i64,
}

/// "At 6 months": day 182, +/-45 days.
pub const SIX_MONTHS: Window = Window { day: 182, tolerance: 45 };
/// Days a baseline reading may precede the index date.
pub const BASELINE_LOOKBACK_DAYS: i64 = 30;

/// EULAR response from a baseline and a follow-up DAS28.
///
/// Good: improvement > 1.2 and DAS28 <= 3.2. Moderate: improvement > 1.2 with DAS28 >
/// 3.2, or improvement 0.6-1.2 with DAS28 <= 5.1. Otherwise none.
pub fn eular_response(baseline: f64, follow_up: f64) -> EularResponse {
    let improvement = round2(baseline - follow_up);
    if improvement > 1.2 {
        if follow_up <= TARGET {
            EularResponse::Good
        } else {
            EularResponse::Moderate
        }
    } else if improvement >= 0.6 && follow_up <= HIGH {
        EularResponse::Moderate
    } else {
        EularResponse::NoResponse
    }
}

/// A flare between two consecutive readings: a rise > 1.2, or > 0.6 when the new
/// DAS28 is > 3.2.
pub fn is_flare(previous: f64, current: f64) -> bool {
    let rise = round2(current - previous);
    rise > 1.2 || (rise > 0.6 && current > TARGET)
}

/// The baseline reading: the latest in the 30 days up to and including `index`.
pub fn baseline_reading(series: &[Das28Reading], index: NaiveDate) -> Option<Das28Reading> {
    series
        .iter()
        .filter(|r| r.date <= index && (index - r.date).num_days() <= BASELINE_LOOKBACK_DAYS)
        .max_by_key(|r| r.date)
        .copied()
}

/// The reading nearest `index + window.day` within the tolerance (the earlier on a tie).
pub fn reading_near(series: &[Das28Reading], index: NaiveDate, window: Window) -> Option<Das28Reading> {
    series
        .iter()
        .filter(|r| ((r.date - index).num_days() - window.day).abs() <= window.tolerance)
        .min_by_key(|r| (((r.date - index).num_days() - window.day).abs(), r.date))
        .copied()
}

/// EULAR response to a therapy started on `index`, at `window`.
///
/// `failed_on` is the first date the therapy was stopped or another DMARD was started
/// after it; if that comes before the follow-up reading (or, without a reading, before
/// the window closes), the patient is a non-responder. `None` when there is no baseline,
/// or neither a reading nor an earlier failure.
pub fn response_at(
    series: &[Das28Reading],
    index: NaiveDate,
    window: Window,
    failed_on: Option<NaiveDate>,
) -> Option<EularResponse> {
    let baseline = baseline_reading(series, index)?;
    let reading = reading_near(series, index, window);
    let failed_before = |date: NaiveDate| failed_on.is_some_and(|f| f <= date);
    match reading {
        Some(r) if failed_before(r.date) => Some(EularResponse::NoResponse),
        Some(r) => Some(eular_response(baseline.score, r.score)),
        None => {
            let closes = index + chrono::Days::new((window.day + window.tolerance) as u64);
            failed_before(closes).then_some(EularResponse::NoResponse)
        }
    }
}

/// Whether a flare is recorded in `(reference, reference + days]`.
///
/// `Some(false)` only when the record covers the window: a reading on or after
/// `reference + days - 45`. The reading before a window's first one may precede it.
pub fn flare_within(series: &[Das28Reading], reference: NaiveDate, days: i64) -> Option<bool> {
    let end = reference + chrono::Days::new(days as u64);
    let mut sorted: Vec<&Das28Reading> = series.iter().collect();
    sorted.sort_by_key(|r| r.date);
    let flared = sorted
        .windows(2)
        .any(|w| w[1].date > reference && w[1].date <= end && is_flare(w[0].score, w[1].score));
    if flared {
        return Some(true);
    }
    let covered = sorted.iter().any(|r| r.date >= end - chrono::Days::new(45));
    covered.then_some(false)
}

/// Whether another DMARD was started in `(index, index + days]`.
///
/// `dmard_starts` are the start dates of every DMARD course; those on the index date
/// are the index regimen itself. `Some(false)` only when follow-up reaches the end of
/// the window.
pub fn switch_within(dmard_starts: &[NaiveDate], index: NaiveDate, days: i64, follow_up_end: NaiveDate) -> Option<bool> {
    let end = index + chrono::Days::new(days as u64);
    if dmard_starts.iter().any(|d| *d > index && *d <= end) {
        Some(true)
    } else {
        (follow_up_end >= end).then_some(false)
    }
}

/// Rounded to the recorded precision, so that 5.10 - 3.90 counts as 1.2, not 1.2000000000000002.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn series(points: &[(&str, f64)]) -> Vec<Das28Reading> {
        points.iter().map(|(date, score)| Das28Reading { date: d(date), score: *score }).collect()
    }

    #[test]
    fn eular_response_table() {
        let check = |baseline: f64, now: f64, expect: EularResponse| {
            assert_eq!(eular_response(baseline, now), expect, "{baseline} -> {now}");
        };
        check(5.5, 3.0, EularResponse::Good);
        check(5.5, 3.2, EularResponse::Good);
        check(6.5, 4.0, EularResponse::Moderate);
        check(5.0, 4.2, EularResponse::Moderate);
        check(6.5, 5.6, EularResponse::NoResponse); // 0.9 better but still high
        check(5.1, 3.9, EularResponse::Moderate); // exactly 1.2 is not > 1.2
        check(4.0, 3.5, EularResponse::NoResponse);
        check(4.0, 4.5, EularResponse::NoResponse);
    }

    #[test]
    fn flare_thresholds() {
        assert!(is_flare(2.0, 3.3));
        assert!(!is_flare(2.0, 3.2)); // exactly 1.2 and not above target
        assert!(is_flare(3.0, 3.7));
        assert!(!is_flare(2.0, 2.7));
        assert!(!is_flare(4.0, 4.6));
    }

    #[test]
    fn response_uses_baseline_window_and_non_responder_imputation() {
        let s = series(&[("2020-01-01", 5.8), ("2020-03-20", 4.5), ("2020-07-05", 3.0)]);
        let index = d("2020-01-01");
        assert_eq!(response_at(&s, index, SIX_MONTHS, None), Some(EularResponse::Good));
        assert_eq!(response_at(&s, index, SIX_MONTHS, Some(d("2020-04-01"))), Some(EularResponse::NoResponse));
        // No baseline within 30 days before the index.
        assert_eq!(response_at(&s, d("2020-03-01"), SIX_MONTHS, None), None);
        // No reading in the window and no failure: not evaluable.
        let sparse = series(&[("2020-01-01", 5.8), ("2020-11-01", 3.0)]);
        assert_eq!(response_at(&sparse, index, SIX_MONTHS, None), None);
        assert_eq!(response_at(&sparse, index, SIX_MONTHS, Some(d("2020-05-01"))), Some(EularResponse::NoResponse));
    }

    #[test]
    fn flare_within_needs_coverage() {
        let s = series(&[("2020-01-01", 5.0), ("2020-03-01", 3.0), ("2020-05-01", 3.8), ("2020-07-01", 3.0)]);
        assert_eq!(flare_within(&s, d("2020-01-01"), 182), Some(true));
        let calm = series(&[("2020-01-01", 5.0), ("2020-03-01", 3.0), ("2020-06-15", 2.9)]);
        assert_eq!(flare_within(&calm, d("2020-01-01"), 182), Some(false));
        let short = series(&[("2020-01-01", 5.0), ("2020-03-01", 3.0)]);
        assert_eq!(flare_within(&short, d("2020-01-01"), 182), None);
    }

    #[test]
    fn switch_within_counts_later_starts_only() {
        let index = d("2020-01-01");
        let end = d("2022-01-01");
        assert_eq!(switch_within(&[index], index, 365, end), Some(false));
        assert_eq!(switch_within(&[index, d("2020-05-01")], index, 365, end), Some(true));
        assert_eq!(switch_within(&[index, d("2021-05-01")], index, 365, end), Some(false));
        assert_eq!(switch_within(&[index], index, 365, d("2020-06-01")), None);
    }
}
