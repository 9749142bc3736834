//! DAS28: its two variants and their formulas, activity categories, EULAR response
//! and flare, as DESIGN.md defines them. Every threshold on a DAS28 is a constant here.
//! Differences are rounded to two decimals first, as DAS28 is recorded, so that
//! 4.80 -> 3.60 is exactly 1.20 (not 1.2000000000000002).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// DAS28 below which a patient is in remission.
pub const REMISSION: f64 = 2.6;
/// DAS28 at or below which activity is low (the treat-to-target goal).
pub const LOW: f64 = 3.2;
/// DAS28 above which activity is high.
pub const HIGH: f64 = 5.1;

/// EULAR response: an improvement above this is a major one (good response when the
/// DAS28 reached is at most [`LOW`], else moderate).
pub const MAJOR_IMPROVEMENT: f64 = 1.2;
/// EULAR response: an improvement of at least this (up to [`MAJOR_IMPROVEMENT`]) is a
/// moderate response when the DAS28 reached is at most [`HIGH`]; less is none.
pub const MINOR_IMPROVEMENT: f64 = 0.6;
/// Flare: a rise above this between consecutive readings, whatever the level.
pub const FLARE_RISE: f64 = 1.2;
/// Flare: a rise above this to a DAS28 above [`LOW`].
pub const FLARE_RISE_ABOVE_TARGET: f64 = 0.6;
/// A higher DAS28 is more active disease: a falling score is better.
pub const WORSE: crate::clinical::labs::Worse = crate::clinical::labs::Worse::Higher;

/// Which marker a DAS28 was computed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Das28Variant {
    Esr,
    Crp,
}

impl Das28Variant {
    pub const ALL: [Das28Variant; 2] = [Das28Variant::Esr, Das28Variant::Crp];

    /// The score's concept in the terminology (how it is recorded is the terminology's
    /// business, never this type's).
    pub fn concept(self) -> crate::terminology::Concept {
        match self {
            Das28Variant::Esr => crate::terminology::Concept::Das28Esr,
            Das28Variant::Crp => crate::terminology::Concept::Das28Crp,
        }
    }

    /// The score from its parts: TJC28 and SJC28 (joints), the variant's marker (ESR in
    /// mm/h or CRP in mg/L) and the patient global (0-100 mm), unrounded.
    pub fn score(self, tjc28: f64, sjc28: f64, marker: f64, patient_global: f64) -> f64 {
        match self {
            Das28Variant::Esr => das28_esr(tjc28, sjc28, marker, patient_global),
            Das28Variant::Crp => das28_crp(tjc28, sjc28, marker, patient_global),
        }
    }
}

/// DAS28-ESR = 0.56*sqrt(TJC28) + 0.28*sqrt(SJC28) + 0.70*ln(ESR) + 0.014*PtGlobal.
pub fn das28_esr(tjc28: f64, sjc28: f64, esr_mm_h: f64, patient_global: f64) -> f64 {
    0.56 * tjc28.sqrt() + 0.28 * sjc28.sqrt() + 0.70 * esr_mm_h.ln() + 0.014 * patient_global
}

/// DAS28-CRP = 0.56*sqrt(TJC28) + 0.28*sqrt(SJC28) + 0.36*ln(CRP mg/L + 1) + 0.014*PtGlobal + 0.96.
pub fn das28_crp(tjc28: f64, sjc28: f64, crp_mg_l: f64, patient_global: f64) -> f64 {
    0.56 * tjc28.sqrt() + 0.28 * sjc28.sqrt() + 0.36 * (crp_mg_l + 1.0).ln() + 0.014 * patient_global + 0.96
}

/// Disease activity by DAS28: remission < 2.6, low <= 3.2, moderate <= 5.1, high > 5.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActivityCategory {
    Remission,
    Low,
    Moderate,
    High,
}

impl ActivityCategory {
    pub fn of(das28: f64) -> Self {
        if das28 < REMISSION {
            ActivityCategory::Remission
        } else if das28 <= LOW {
            ActivityCategory::Low
        } else if das28 <= HIGH {
            ActivityCategory::Moderate
        } else {
            ActivityCategory::High
        }
    }
}

/// EULAR response category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
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

/// EULAR response from a baseline and a follow-up DAS28. Good: improvement > 1.2 and
/// DAS28 <= 3.2. Moderate: improvement > 1.2 with DAS28 > 3.2, or 0.6-1.2 with DAS28
/// <= 5.1. Otherwise none.
pub fn eular_response(baseline: f64, follow_up: f64) -> EularResponse {
    let improvement = round2(baseline - follow_up);
    if improvement > MAJOR_IMPROVEMENT {
        if follow_up <= LOW {
            EularResponse::Good
        } else {
            EularResponse::Moderate
        }
    } else if improvement >= MINOR_IMPROVEMENT && follow_up <= HIGH {
        EularResponse::Moderate
    } else {
        EularResponse::NoResponse
    }
}

/// A flare between consecutive readings: a rise > 1.2, or > 0.6 when the new DAS28
/// is > 3.2.
pub fn is_flare(previous: f64, current: f64) -> bool {
    let rise = round2(current - previous);
    rise > FLARE_RISE || (rise > FLARE_RISE_ABOVE_TARGET && current > LOW)
}

/// Rounded to the recorded precision (two decimals).
pub fn round2(x: f64) -> f64 {
    super::labs::round(x, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_at_their_boundaries() {
        for (score, expect) in [
            (2.59, ActivityCategory::Remission),
            (2.6, ActivityCategory::Low),
            (3.2, ActivityCategory::Low),
            (3.21, ActivityCategory::Moderate),
            (5.1, ActivityCategory::Moderate),
            (5.11, ActivityCategory::High),
        ] {
            assert_eq!(ActivityCategory::of(score), expect, "{score}");
        }
    }

    #[test]
    fn eular_response_at_its_boundaries() {
        for (base, follow, expect) in [
            (5.0, 3.2, EularResponse::Good),
            (5.5, 3.0, EularResponse::Good),
            (5.0, 3.79, EularResponse::Moderate),
            (6.5, 4.0, EularResponse::Moderate),
            (4.8, 3.6, EularResponse::Moderate), // improvement exactly 1.2: not > 1.2
            (5.1, 3.9, EularResponse::Moderate), // the same, from 5.1
            (5.0, 4.2, EularResponse::Moderate),
            (5.7, 5.1, EularResponse::Moderate),   // 0.6 to 5.1
            (5.8, 5.2, EularResponse::NoResponse), // 0.6 but still high
            (6.5, 5.6, EularResponse::NoResponse), // 0.9 better but still high
            (4.0, 3.5, EularResponse::NoResponse),
            (3.0, 3.5, EularResponse::NoResponse),
        ] {
            assert_eq!(eular_response(base, follow), expect, "{base} -> {follow}");
        }
        assert!(EularResponse::Moderate.responded() && !EularResponse::NoResponse.responded());
    }

    #[test]
    fn flares_at_their_boundaries() {
        assert!(is_flare(2.0, 3.21)); // > 1.2
        assert!(is_flare(2.0, 3.3));
        assert!(!is_flare(2.0, 3.2)); // exactly 1.2, to 3.2
        assert!(is_flare(3.0, 3.61)); // > 0.6 to above 3.2
        assert!(is_flare(3.0, 3.7));
        assert!(!is_flare(2.0, 2.7)); // > 0.6 but at target
        assert!(!is_flare(4.0, 4.6)); // exactly 0.6
        assert!(!is_flare(4.0, 3.0));
    }

    #[test]
    fn formulas_match_published_examples() {
        // TJC 4, SJC 2, ESR 20, global 40: 1.12 + 0.396 + 2.097 + 0.56 = 4.17.
        assert_eq!(round2(das28_esr(4.0, 2.0, 20.0, 40.0)), 4.17);
        // Same joints, CRP 10 mg/L: 1.12 + 0.396 + 0.863 + 0.56 + 0.96 = 3.90.
        assert_eq!(round2(das28_crp(4.0, 2.0, 10.0, 40.0)), 3.90);
        // No activity at all still scores above zero with the CRP form.
        assert_eq!(round2(das28_crp(0.0, 0.0, 0.0, 0.0)), 0.96);
        assert_eq!(Das28Variant::Esr.score(4.0, 2.0, 20.0, 40.0), das28_esr(4.0, 2.0, 20.0, 40.0));
        assert_eq!(Das28Variant::Crp.score(4.0, 2.0, 10.0, 40.0), das28_crp(4.0, 2.0, 10.0, 40.0));
    }
}
