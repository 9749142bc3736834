//! The twin: a journey at an index date -> one vector whose neighbourhood means
//! clinical similarity.
//!
//! - [`features`]: what each encoder reads of a journey (`PatientInputs`).

pub mod features;

pub use features::{FeatureSpec, Panel, PatientInputs};
