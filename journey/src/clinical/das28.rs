//! DAS28: activity categories, EULAR response and flare, as DESIGN.md defines them.
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
    if improvement > 1.2 {
        if follow_up <= LOW {
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

/// A flare between consecutive readings: a rise > 1.2, or > 0.6 when the new DAS28
/// is > 3.2.
pub fn is_flare(previous: f64, current: f64) -> bool {
    let rise = round2(current - previous);
    rise > 1.2 || (rise > 0.6 && current > LOW)
}

/// Rounded to the recorded precision (two decimals).
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
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
}
