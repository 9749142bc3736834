//! Lab tests, reference ranges and flags: defined once in `journey::clinical::labs`
//! (the cohort analytics read CRP and ESR with the same functions), re-exported here
//! under the tools' path.

pub use journey::clinical::labs::{round, Flag, LabTest, ReferenceRange, Sex, ALT_ULN, LOINC};
