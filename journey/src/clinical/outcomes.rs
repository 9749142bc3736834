//! The clinical outcomes of DESIGN.md over a dated DAS28 series and DMARD starts:
//! EULAR response at 6 months, flare within 6 months, DAS28 near a day after the
//! index date, treatment switch within 12 months.
//!
//! Pure functions on dates and numbers. The virtual cohort's ground truth (`synth`)
//! and the cohort analytics ([`crate::cohort`]) both call these, so the two agree by
//! construction and a disagreement is a bug in one of the inputs.
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

use super::activity::Scale;
use super::das28::EularResponse;

/// One recorded disease-activity score on a day, with its scale (a series holds one
/// scale: [`super::activity::activity_series`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ActivityPoint {
    pub date: NaiveDate,
    pub score: f64,
    pub scale: Scale,
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
/// The flare window ("within 6 months"), in days.
pub const FLARE_WINDOW_DAYS: i64 = 182;
/// The switch window ("within 12 months"), in days.
pub const SWITCH_WINDOW_DAYS: i64 = 365;
/// Tolerance around a DAS28 time point (150, 270, 360 days): the same as at 6 months.
pub const POINT_TOLERANCE_DAYS: i64 = 45;

/// The baseline reading: the latest in the 30 days up to and including `index`.
pub fn baseline_reading(series: &[ActivityPoint], index: NaiveDate) -> Option<ActivityPoint> {
    series
        .iter()
        .filter(|r| r.date <= index && (index - r.date).num_days() <= BASELINE_LOOKBACK_DAYS)
        .max_by_key(|r| r.date)
        .copied()
}

/// The reading nearest `index + window.day` within the tolerance (the earlier on a tie).
pub fn reading_near(series: &[ActivityPoint], index: NaiveDate, window: Window) -> Option<ActivityPoint> {
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
    series: &[ActivityPoint],
    index: NaiveDate,
    window: Window,
    failed_on: Option<NaiveDate>,
) -> Option<EularResponse> {
    let baseline = baseline_reading(series, index)?;
    let reading = reading_near(series, index, window);
    let failed_before = |date: NaiveDate| failed_on.is_some_and(|f| f <= date);
    match reading {
        Some(r) if failed_before(r.date) => Some(EularResponse::NoResponse),
        Some(r) if r.scale == baseline.scale => Some(baseline.scale.response(baseline.score, r.score)),
        Some(_) => None,
        None => {
            let closes = index + chrono::Days::new((window.day + window.tolerance) as u64);
            failed_before(closes).then_some(EularResponse::NoResponse)
        }
    }
}

/// Days after a therapy's start before a response to it is judged: methotrexate and
/// the other csDMARDs take about four weeks to act, so a score before then says
/// nothing of the drug.
pub const RESPONSE_ONSET_DAYS: i64 = 28;

/// The response to a therapy started on `start`, as far as the record reads on
/// `at`: the baseline ([`baseline_reading`]) against the latest score from
/// [`RESPONSE_ONSET_DAYS`] after the start up to `at`, on the baseline's scale
/// ([`Scale::response`]: EULAR for DAS28). What a clinician reads at a
/// treat-to-target visit ("has she responded to methotrexate so far?"), unlike
/// [`response_at`], the outcome at 6 months. `None` without a baseline or a later
/// score on its scale.
pub fn response_since(series: &[ActivityPoint], start: NaiveDate, at: NaiveDate) -> Option<EularResponse> {
    let baseline = baseline_reading(series, start)?;
    let judged_from = start + chrono::Days::new(RESPONSE_ONSET_DAYS as u64);
    let latest = series
        .iter()
        .filter(|r| r.date >= judged_from && r.date <= at && r.scale == baseline.scale)
        .max_by_key(|r| r.date)?;
    Some(baseline.scale.response(baseline.score, latest.score))
}

/// Whether a flare is recorded in `(reference, reference + days]`.
///
/// `Some(false)` only when the record covers the window: a reading on or after
/// `reference + days - 45`. The reading before a window's first one may precede it.
pub fn flare_within(series: &[ActivityPoint], reference: NaiveDate, days: i64) -> Option<bool> {
    let end = reference + chrono::Days::new(days as u64);
    let mut sorted: Vec<&ActivityPoint> = series.iter().collect();
    sorted.sort_by_key(|r| r.date);
    let flared =
        sorted.windows(2).any(|w| {
            w[1].date > reference
                && w[1].date <= end
                && w[0].scale == w[1].scale
                && w[1].scale.is_flare(w[0].score, w[1].score)
        });
    if flared {
        return Some(true);
    }
    let covered = sorted.iter().any(|r| r.date >= end - chrono::Days::new(45));
    covered.then_some(false)
}

/// Days from a reference date to an event inside a window, or to the last day the
/// record shows the patient without it (censored), capped at the window: what a
/// time-to-event estimate (Kaplan-Meier) needs, so a patient seen for 100 days of a
/// 182-day window still counts for those 100 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeToEvent {
    pub days: u32,
    /// The event happened on `days`; otherwise the patient was censored then.
    pub event: bool,
}

fn days_between(from: NaiveDate, to: NaiveDate, cap: i64) -> u32 {
    (to - from).num_days().clamp(0, cap.max(0)) as u32
}

/// [`flare_within`] as a time: the first flare in `(reference, reference + days]`,
/// else censored at the last reading after `reference` (at most `days`); `None`
/// without a reading after `reference`.
pub fn flare_time(series: &[ActivityPoint], reference: NaiveDate, days: i64) -> Option<TimeToEvent> {
    let end = reference + chrono::Days::new(days as u64);
    let mut sorted: Vec<&ActivityPoint> = series.iter().collect();
    sorted.sort_by_key(|r| r.date);
    let first = sorted.windows(2).find(|w| {
        w[1].date > reference && w[1].date <= end && w[0].scale == w[1].scale && w[1].scale.is_flare(w[0].score, w[1].score)
    });
    if let Some(w) = first {
        return Some(TimeToEvent { days: days_between(reference, w[1].date, days), event: true });
    }
    let last = sorted.iter().rev().find(|r| r.date > reference)?;
    Some(TimeToEvent { days: days_between(reference, last.date, days), event: false })
}

/// [`switch_within`] as a time: the first other DMARD start in `(index, index + days]`,
/// else censored at the end of follow-up (at most `days`); `None` when follow-up ends
/// on or before the index.
pub fn switch_time(dmard_starts: &[NaiveDate], index: NaiveDate, days: i64, follow_up_end: NaiveDate) -> Option<TimeToEvent> {
    let end = index + chrono::Days::new(days as u64);
    if let Some(first) = dmard_starts.iter().filter(|d| **d > index && **d <= end).min() {
        return Some(TimeToEvent { days: days_between(index, *first, days), event: true });
    }
    (follow_up_end > index).then(|| TimeToEvent { days: days_between(index, follow_up_end, days), event: false })
}

/// Whether another DMARD was started in `(index, index + days]`.
///
/// `dmard_starts` are the start dates of every DMARD course; those on the index date
/// are the index regimen itself. `Some(false)` only when follow-up reaches the end of
/// the window.
pub fn switch_within(
    dmard_starts: &[NaiveDate],
    index: NaiveDate,
    days: i64,
    follow_up_end: NaiveDate,
) -> Option<bool> {
    let end = index + chrono::Days::new(days as u64);
    if dmard_starts.iter().any(|d| *d > index && *d <= end) {
        Some(true)
    } else {
        (follow_up_end >= end).then_some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn series(points: &[(&str, f64)]) -> Vec<ActivityPoint> {
        points.iter().map(|(date, score)| ActivityPoint { date: d(date), score: *score, scale: Scale::Das28 }).collect()
    }

    /// The response so far reads the baseline against the latest score judged (from
    /// four weeks after the start up to the day asked), on the baseline's scale.
    #[test]
    fn response_since_reads_the_latest_judged_score() {
        let s = series(&[("2020-01-01", 5.5), ("2020-01-20", 3.0), ("2020-02-15", 4.7), ("2020-04-01", 3.1)]);
        let start = d("2020-01-05");
        // Day 15 is too early to judge; day 41 is 0.8 better at 4.7: moderate.
        assert_eq!(response_since(&s, start, d("2020-01-25")), None, "nothing judged yet");
        assert_eq!(response_since(&s, start, d("2020-03-01")), Some(EularResponse::Moderate));
        // Day 87: 2.4 better and at 3.1 (<= 3.2): good.
        assert_eq!(response_since(&s, start, d("2020-04-01")), Some(EularResponse::Good));
        // A baseline more than 30 days before the start is none.
        assert_eq!(response_since(&s, d("2020-03-20"), d("2020-05-01")), None);
        // A later score on another scale is not compared with a DAS28 baseline.
        let mut mixed = series(&[("2020-01-01", 5.5)]);
        mixed.push(ActivityPoint { date: d("2020-03-01"), score: 4.0, scale: Scale::Cdai });
        assert_eq!(response_since(&mixed, start, d("2020-04-01")), None);
    }

    #[test]
    fn times_to_flare_and_switch_count_the_days_seen() {
        let s = series(&[("2020-01-01", 3.0), ("2020-02-20", 3.1), ("2020-03-01", 4.0), ("2020-04-01", 3.0)]);
        let index = d("2020-01-01");
        // 3.1 -> 4.0 on day 60 is the flare.
        assert_eq!(flare_time(&s, index, 182), Some(TimeToEvent { days: 60, event: true }));
        assert_eq!(flare_within(&s, index, 182), Some(true));
        // From day 61 no flare follows; the last reading is day 91: censored there.
        let later = d("2020-03-02");
        assert_eq!(flare_time(&s, later, 182), Some(TimeToEvent { days: 30, event: false }));
        assert_eq!(flare_within(&s, later, 182), None, "too short for a yes/no");
        assert_eq!(flare_time(&s, d("2020-05-01"), 182), None);
        let starts = [d("2020-01-01"), d("2020-07-01")];
        assert_eq!(switch_time(&starts, index, 365, d("2021-06-01")), Some(TimeToEvent { days: 182, event: true }));
        assert_eq!(switch_time(&starts, d("2020-08-01"), 365, d("2020-12-01")), Some(TimeToEvent { days: 122, event: false }));
        assert_eq!(switch_time(&starts, d("2020-08-01"), 365, d("2022-01-01")), Some(TimeToEvent { days: 365, event: false }));
        assert_eq!(switch_time(&starts, d("2020-08-01"), 365, d("2020-08-01")), None);
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
    fn baseline_and_window_edges() {
        let index = d("2020-01-31");
        // Exactly 30 days before is a baseline; 31 days is not.
        assert!(baseline_reading(&series(&[("2020-01-01", 5.0)]), index).is_some());
        assert!(baseline_reading(&series(&[("2019-12-31", 5.0)]), index).is_none());
        // A reading on the index day itself is the baseline; one the day after is not.
        assert!(baseline_reading(&series(&[("2020-02-01", 5.0)]), index).is_none());
        let start = d("2020-01-01");
        // Day 182 +/- 45: days 137 and 227 are in, 136 and 228 out.
        let at = |day: u64| series(&[(&(start + chrono::Days::new(day)).to_string(), 3.0)]);
        assert!(reading_near(&at(137), start, SIX_MONTHS).is_some());
        assert!(reading_near(&at(227), start, SIX_MONTHS).is_some());
        assert!(reading_near(&at(136), start, SIX_MONTHS).is_none());
        assert!(reading_near(&at(228), start, SIX_MONTHS).is_none());
        // On a tie the earlier reading wins.
        let tie = series(&[("2020-06-21", 3.0), ("2020-06-11", 4.0)]);
        assert_eq!(reading_near(&tie, start, Window { day: 167, tolerance: 45 }).unwrap().score, 4.0);
    }

    #[test]
    fn flare_within_needs_coverage() {
        let s = series(&[("2020-01-01", 5.0), ("2020-03-01", 3.0), ("2020-05-01", 3.8), ("2020-07-01", 3.0)]);
        assert_eq!(flare_within(&s, d("2020-01-01"), 182), Some(true));
        let calm = series(&[("2020-01-01", 5.0), ("2020-03-01", 3.0), ("2020-06-15", 2.9)]);
        assert_eq!(flare_within(&calm, d("2020-01-01"), 182), Some(false));
        let short = series(&[("2020-01-01", 5.0), ("2020-03-01", 3.0)]);
        assert_eq!(flare_within(&short, d("2020-01-01"), 182), None);
        // A rise on the reference day itself is not inside the window.
        let before = series(&[("2019-12-01", 2.0), ("2020-01-01", 4.0), ("2020-06-15", 4.0)]);
        assert_eq!(flare_within(&before, d("2020-01-01"), 182), Some(false));
    }

    #[test]
    fn switch_within_counts_later_starts_only() {
        let index = d("2020-01-01");
        let end = d("2022-01-01");
        assert_eq!(switch_within(&[index], index, 365, end), Some(false));
        assert_eq!(switch_within(&[index, d("2020-05-01")], index, 365, end), Some(true));
        assert_eq!(switch_within(&[index, d("2020-12-31")], index, 365, end), Some(true)); // day 365
        assert_eq!(switch_within(&[index, d("2021-01-01")], index, 365, end), Some(false)); // day 366
        assert_eq!(switch_within(&[index], index, 365, d("2020-06-01")), None);
    }
}
