//! Clinical definitions shared by every crate: one place for what DESIGN.md's
//! outcomes mean, so the virtual cohort's ground truth (`synth`), the tools and the
//! cohort analytics agree by construction.
//!
//! - [`das28`]: activity categories, EULAR response, flare (DESIGN.md thresholds).
//! - [`outcomes`]: the outcomes over a dated DAS28 series and DMARD starts (baseline,
//!   reading near a day, response at 6 months, flare within, switch within).
//! - [`drugs`]: the drugs of rheumatology practice by RxNorm code, with their class.
//! - [`record`]: reading a journey's DAS28 assessments and medication courses.

pub mod das28;
pub mod drugs;
pub mod outcomes;
pub mod record;

pub use das28::{eular_response, is_flare, ActivityCategory, EularResponse};
pub use drugs::{Drug, DrugClass};
pub use outcomes::{Das28Point, Window};
pub use record::{courses, das28_readings, Course, Das28Reading, Das28Variant};
