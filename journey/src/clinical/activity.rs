//! Disease-activity scales: DAS28 (ESR or CRP), CDAI and SDAI, each with its own
//! categories, response and flare, so a clinic that records CDAI or SDAI instead of
//! DAS28 gets the same outcomes, stated for its scale.
//!
//! - **DAS28**: DESIGN.md's thresholds and EULAR response ([`super::das28`]).
//! - **CDAI** (0-76) = TJC28 + SJC28 + patient global (0-10) + evaluator global
//!   (0-10): remission <= 2.8, low <= 10, moderate <= 22, high > 22 (Aletaha & Smolen,
//!   Clin Exp Rheumatol 2005).
//! - **SDAI** (0-86) = CDAI + CRP in mg/dL: remission <= 3.3, low <= 11, moderate <= 26,
//!   high > 26 (Smolen et al., Rheumatology 2003).
//! - **Response** on CDAI and SDAI: the relative improvement criteria of Aletaha et al.
//!   (Arthritis Rheum 2005): at least 70% better (CDAI70/SDAI70) is a good response,
//!   at least 50% (CDAI50/SDAI50) a moderate one, less is none. "Responded" is good or
//!   moderate, as for EULAR.
//! - **Flare** on CDAI and SDAI: DESIGN.md's DAS28 rule with the CDAI's minimal
//!   clinically important differences in place of 0.6 and 1.2 (Curtis et al.,
//!   Arthritis Care Res 2015: 6 from moderate, 12 from high activity): a rise above 12,
//!   or above 6 to a score above low activity (CDAI > 10, SDAI > 11). This is RDT's
//!   convention, stated here; no consensus flare definition exists for these indices.
//!
//! A patient's series is read on one scale ([`activity_series`]): DAS28 when any is
//! recorded, else CDAI, else SDAI; scores of different scales are never compared.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::das28::{self, round2, ActivityCategory, EularResponse};
use super::outcomes::ActivityPoint;
use crate::event::Event;
use crate::terminology::Concept;

/// CDAI at or below which a patient is in remission.
pub const CDAI_REMISSION: f64 = 2.8;
/// CDAI at or below which activity is low.
pub const CDAI_LOW: f64 = 10.0;
/// CDAI at or below which activity is moderate (high above).
pub const CDAI_MODERATE: f64 = 22.0;
/// SDAI at or below which a patient is in remission.
pub const SDAI_REMISSION: f64 = 3.3;
/// SDAI at or below which activity is low.
pub const SDAI_LOW: f64 = 11.0;
/// SDAI at or below which activity is moderate (high above).
pub const SDAI_MODERATE: f64 = 26.0;
/// CDAI/SDAI response: relative improvement for a good response (CDAI70/SDAI70).
pub const INDEX_GOOD_IMPROVEMENT: f64 = 0.70;
/// CDAI/SDAI response: relative improvement for a moderate response (CDAI50/SDAI50).
pub const INDEX_MODERATE_IMPROVEMENT: f64 = 0.50;
/// CDAI/SDAI flare: a rise above this, whatever the level (the MCID from high activity).
pub const INDEX_FLARE_RISE: f64 = 12.0;
/// CDAI/SDAI flare: a rise above this to a score above low activity (the MCID from
/// moderate activity).
pub const INDEX_FLARE_RISE_ABOVE_LOW: f64 = 6.0;

/// The scale a disease-activity score is on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    #[default]
    Das28,
    Cdai,
    Sdai,
}

impl Scale {
    /// Preference when a record holds several: DAS28 first (DESIGN.md's measure).
    pub const ALL: [Scale; 3] = [Scale::Das28, Scale::Cdai, Scale::Sdai];

    pub fn name(self) -> &'static str {
        match self {
            Scale::Das28 => "DAS28",
            Scale::Cdai => "CDAI",
            Scale::Sdai => "SDAI",
        }
    }

    /// The scale a score concept is on (`None` for anything but a score).
    pub fn of(concept: Concept) -> Option<Scale> {
        match concept {
            Concept::Das28Esr | Concept::Das28Crp => Some(Scale::Das28),
            Concept::Cdai => Some(Scale::Cdai),
            Concept::Sdai => Some(Scale::Sdai),
            _ => None,
        }
    }

    /// The values a score on this scale can take; a value outside is not read.
    pub fn range(self) -> (f64, f64) {
        match self {
            // DAS28's formulas give about 0.5-9.4 (CRP form from 0.96); 0-10 bounds both.
            Scale::Das28 => (0.0, 10.0),
            Scale::Cdai => (0.0, 76.0),
            Scale::Sdai => (0.0, 86.0),
        }
    }

    pub fn category(self, score: f64) -> ActivityCategory {
        let (remission, low, moderate) = match self {
            Scale::Das28 => return ActivityCategory::of(score),
            Scale::Cdai => (CDAI_REMISSION, CDAI_LOW, CDAI_MODERATE),
            Scale::Sdai => (SDAI_REMISSION, SDAI_LOW, SDAI_MODERATE),
        };
        if score <= remission {
            ActivityCategory::Remission
        } else if score <= low {
            ActivityCategory::Low
        } else if score <= moderate {
            ActivityCategory::Moderate
        } else {
            ActivityCategory::High
        }
    }

    /// The upper bounds of remission, low and moderate activity (for bands on a plot).
    pub fn bands(self) -> [f64; 3] {
        match self {
            Scale::Das28 => [das28::REMISSION, das28::LOW, das28::HIGH],
            Scale::Cdai => [CDAI_REMISSION, CDAI_LOW, CDAI_MODERATE],
            Scale::Sdai => [SDAI_REMISSION, SDAI_LOW, SDAI_MODERATE],
        }
    }

    /// The at-or-below-low-activity target ("treat to target").
    pub fn low_activity(self) -> f64 {
        match self {
            Scale::Das28 => das28::LOW,
            Scale::Cdai => CDAI_LOW,
            Scale::Sdai => SDAI_LOW,
        }
    }

    /// Response from a baseline to a follow-up score (module doc).
    pub fn response(self, baseline: f64, follow_up: f64) -> EularResponse {
        if self == Scale::Das28 {
            return das28::eular_response(baseline, follow_up);
        }
        if baseline <= 0.0 {
            return EularResponse::NoResponse;
        }
        let improvement = round2((baseline - follow_up) / baseline);
        if improvement >= INDEX_GOOD_IMPROVEMENT {
            EularResponse::Good
        } else if improvement >= INDEX_MODERATE_IMPROVEMENT {
            EularResponse::Moderate
        } else {
            EularResponse::NoResponse
        }
    }

    /// A flare between consecutive scores (module doc).
    pub fn is_flare(self, previous: f64, current: f64) -> bool {
        if self == Scale::Das28 {
            return das28::is_flare(previous, current);
        }
        let rise = round2(current - previous);
        rise > INDEX_FLARE_RISE || (rise > INDEX_FLARE_RISE_ABOVE_LOW && current > self.low_activity())
    }
}

/// One recorded disease-activity score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScoreReading {
    pub time: DateTime<Utc>,
    pub concept: Concept,
    pub scale: Scale,
    pub score: f64,
}

/// Every score (DAS28, CDAI, SDAI) of a journey, by time; a score outside its scale's
/// range is not read (a unit or entry error, never a figure).
pub fn score_readings(events: &[Event]) -> Vec<ScoreReading> {
    let mut by_time: BTreeMap<(DateTime<Utc>, Concept), ScoreReading> = BTreeMap::new();
    for e in events {
        let Some(concept) = e.concept() else { continue };
        let Some(scale) = Scale::of(concept) else { continue };
        let Some(score) = e.canonical_value() else { continue };
        let (lo, hi) = scale.range();
        if score < lo || score > hi {
            continue;
        }
        by_time.insert((e.time, concept), ScoreReading { time: e.time, concept, scale, score });
    }
    by_time.into_values().collect()
}

/// The scale a journey's activity is read on: DAS28 when recorded, else CDAI, else SDAI.
pub fn primary_scale(readings: &[ScoreReading]) -> Option<Scale> {
    Scale::ALL.into_iter().find(|s| readings.iter().any(|r| r.scale == *s))
}

/// A journey's scores on its primary scale (DAS28, else CDAI, else SDAI), by time;
/// `None` without any score. The one choice of scale: outcomes and the plot read it.
pub fn primary_scores(events: &[Event]) -> Option<(Scale, Vec<ScoreReading>)> {
    let mut readings = score_readings(events);
    let scale = primary_scale(&readings)?;
    readings.retain(|r| r.scale == scale);
    Some((scale, readings))
}

/// A journey's activity series on its primary scale, as dated points the outcome
/// definitions read.
pub fn activity_series(events: &[Event]) -> Vec<ActivityPoint> {
    let Some((scale, readings)) = primary_scores(events) else { return Vec::new() };
    readings.iter().map(|r| ActivityPoint { date: r.time.date_naive(), score: r.score, scale }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clinical::testutil::event;
    use crate::terminology::{LOINC, RDT_CODE};

    #[test]
    fn categories_at_their_boundaries() {
        for (scale, score, expect) in [
            (Scale::Cdai, 2.8, ActivityCategory::Remission),
            (Scale::Cdai, 2.9, ActivityCategory::Low),
            (Scale::Cdai, 10.0, ActivityCategory::Low),
            (Scale::Cdai, 22.0, ActivityCategory::Moderate),
            (Scale::Cdai, 22.1, ActivityCategory::High),
            (Scale::Sdai, 3.3, ActivityCategory::Remission),
            (Scale::Sdai, 11.0, ActivityCategory::Low),
            (Scale::Sdai, 26.0, ActivityCategory::Moderate),
            (Scale::Sdai, 26.5, ActivityCategory::High),
            (Scale::Das28, 2.6, ActivityCategory::Low),
        ] {
            assert_eq!(scale.category(score), expect, "{scale:?} {score}");
        }
    }

    #[test]
    fn response_and_flare_on_cdai_and_sdai() {
        assert_eq!(Scale::Cdai.response(30.0, 9.0), EularResponse::Good); // 70%
        assert_eq!(Scale::Cdai.response(30.0, 15.0), EularResponse::Moderate); // 50%
        assert_eq!(Scale::Cdai.response(30.0, 15.3), EularResponse::NoResponse); // 49%
        assert_eq!(Scale::Sdai.response(0.0, 0.0), EularResponse::NoResponse);
        assert_eq!(Scale::Das28.response(5.0, 3.2), EularResponse::Good);
        assert!(Scale::Cdai.is_flare(3.0, 15.1)); // > 12
        assert!(Scale::Cdai.is_flare(3.0, 15.0)); // exactly 12, but > 6 to above low
        assert!(Scale::Cdai.is_flare(6.0, 12.5)); // > 6 to above 10
        assert!(!Scale::Cdai.is_flare(3.0, 9.5)); // > 6 but low
        assert!(!Scale::Sdai.is_flare(5.0, 10.9)); // > 6 but SDAI low
        assert!(Scale::Sdai.is_flare(5.0, 11.1));
    }

    #[test]
    fn series_use_one_scale_and_drop_impossible_scores() {
        let mut events = vec![
            event(LOINC, "75847-4", Some(24.0), None),
            event(LOINC, "75845-8", Some(26.0), None),
            event(LOINC, "75847-4", Some(99.0), None),
        ];
        events[1].time += chrono::Duration::days(1);
        events[2].time += chrono::Duration::days(2);
        let series = activity_series(&events);
        assert_eq!(series.iter().map(|p| (p.scale, p.score)).collect::<Vec<_>>(), [(Scale::Cdai, 24.0)]);
        events.push(event(RDT_CODE, "das28-crp", Some(4.2), None));
        let series = activity_series(&events);
        assert_eq!(series.iter().map(|p| (p.scale, p.score)).collect::<Vec<_>>(), [(Scale::Das28, 4.2)]);
    }
}
