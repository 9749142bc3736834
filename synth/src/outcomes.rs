//! The clinical outcomes of DESIGN.md (EULAR response at 6 months, flare within 6
//! months, switch within 12 months) and the DAS28 thresholds: one definition, in
//! `journey::clinical`, re-exported under synth's paths.
//!
//! The ground truth uses these functions on each virtual patient's *recorded* data;
//! the cohort analytics call the same ones on the imported journeys, so the two agree
//! by construction and a disagreement is a bug in one of the inputs.

pub use journey::clinical::das28::{
    eular_response, is_flare, EularResponse, HIGH, LOW as TARGET, MAJOR_IMPROVEMENT, MINOR_IMPROVEMENT, REMISSION,
};
pub use journey::clinical::outcomes::{
    baseline_reading, flare_within, reading_near, response_at, switch_within, ActivityPoint as Das28Reading, Window,
    BASELINE_LOOKBACK_DAYS, FLARE_WINDOW_DAYS, SIX_MONTHS, SWITCH_WINDOW_DAYS,
};
