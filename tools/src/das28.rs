//! DAS28: activity categories, EULAR response and flare, as DESIGN.md defines them.
//! One definition, in `journey::clinical::das28` (the virtual cohort's ground truth
//! and the cohort analytics use the same); re-exported here under the tools' path.

pub use journey::clinical::das28::{
    eular_response, is_flare, round2, ActivityCategory, EularResponse, FLARE_RISE, FLARE_RISE_ABOVE_TARGET, HIGH, LOW,
    MAJOR_IMPROVEMENT, MINOR_IMPROVEMENT, REMISSION,
};
