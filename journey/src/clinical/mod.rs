//! Clinical definitions shared by every crate: one place for what DESIGN.md's
//! outcomes and measures mean, so the virtual cohort's ground truth (`synth`), the
//! tools and the cohort analytics agree by construction. A threshold on a clinical
//! quantity is a constant here; every other crate names it or calls the function.
//!
//! - [`activity`]: the disease-activity scales (DAS28, CDAI, SDAI) with their own
//!   categories, response and flare; a journey's series on one scale.
//! - [`das28`]: the DAS28 variants and formulas, activity categories, EULAR response,
//!   flare (DESIGN.md thresholds).
//! - [`labs`]: lab tests by LOINC code, reading a value in its unit ([`LabTest::read`],
//!   named [`crp_mg_l`] and [`esr_mm_h`]; a journey's series by [`lab_values`]),
//!   reference ranges and flags.
//! - [`outcomes`]: the outcomes over a dated DAS28 series and DMARD starts (baseline,
//!   reading near a day, response at 6 months, flare within, switch within).
//! - [`drugs`]: the drugs of rheumatology practice by RxNorm code, with their class.
//! - [`record`]: reading a journey's DAS28 assessments ([`das28_score`] per event) and
//!   medication courses (and why one stopped, [`StopCause`]).
//! - [`options`]: the treatment options at a decision ([`TreatmentOption`]), which one
//!   a started drug counts as, and an option's outcomes from its start.

pub mod activity;
pub mod das28;
pub mod drugs;
pub mod labs;
pub mod options;
pub mod outcomes;
pub mod record;

#[cfg(test)]
pub(crate) mod testutil;

pub use das28::{eular_response, is_flare, ActivityCategory, Das28Variant, EularResponse};
pub use drugs::{Drug, DrugClass, Target};
pub use labs::{crp_mg_l, crp_raised, esr_mm_h, lab_values, seropositive, Flag, LabTest, LabValue, ReferenceRange, Sex, Worse};
pub use activity::{activity_series, score_readings, Scale, ScoreReading};
pub use outcomes::{ActivityPoint, TimeToEvent, Window};
pub use options::{option_outcomes, option_taken, OptionOutcome, OptionOutcomes, TreatmentOption};
pub use record::{courses, das28_readings, das28_score, response_so_far, Course, Das28Reading, StopCause};
