//! `synth`: RDT's virtual hospital. It generates rheumatology patients, writes them as
//! a FHIR R4 Bulk Data export (NDJSON, one file per resource type) and keeps what the
//! export hides (each patient's subtype and true outcomes) in `ground_truth.ldjson`.
//!
//! It depends on no other RDT crate: its output goes through the same importer as any
//! hospital's. docs/virtual-cohort.md says what is modelled and what is not.
//!
//! Stages, each in its own file:
//! - [`params`]: what a run is asked for (patients, seed, shares);
//! - [`subtype`]: the hidden subtypes and their clinical behaviour;
//! - [`course`]: the latent disease course, day by day;
//! - [`ra`], [`lupus`], [`sclerosis`]: each disease's clinic (visits, decisions);
//! - [`das28`], [`labs`], [`imaging`], [`omics`], [`notes`], [`medications`]: how each
//!   kind of data is measured or written;
//! - [`chart`]: what the clinic recorded, before FHIR;
//! - [`fhir`]: chart -> FHIR resources; [`writer`]: resources -> NDJSON files;
//! - [`outcomes`]: the clinical outcome definitions (reusable by the cohort analytics);
//! - [`truth`]: the ground truth per patient;
//! - [`counterfactual`]: each rheumatoid arthritis patient's outcomes under every
//!   treatment option at the 3-month methotrexate review (`counterfactuals.ldjson`).
//!
//! ```no_run
//! let params = synth::Params { patients: 100, seed: 7, ..synth::Params::default() };
//! let summary = synth::generate(&params, std::path::Path::new("/tmp/cohort"))?;
//! assert_eq!(summary.patients, 100);
//! # Ok::<(), synth::SynthError>(())
//! ```

pub mod chart;
pub mod codes;
pub mod counterfactual;
pub mod course;
pub mod das28;
mod error;
pub mod fhir;
pub mod imaging;
pub mod labs;
mod lupus;
pub mod medications;
pub mod notes;
pub mod omics;
pub mod outcomes;
pub mod params;
mod patient;
mod ra;
pub mod sample;
mod sclerosis;
pub mod subtype;
pub mod truth;
pub mod writer;

pub use counterfactual::{counterfactual_truth, CounterfactualOutcomes, CounterfactualTruth, ObservedOption, TreatmentOption};
pub use error::SynthError;
pub use params::Params;
pub use patient::{patient_id, simulate_patient, VirtualPatient};
pub use subtype::{Disease, Subtype};
pub use truth::GroundTruth;
pub use writer::{generate, generate_with, Extras, Summary};

/// Generates the `rdt demo` cohort ([`Params::demo`]) into `out_dir`.
pub fn generate_demo(out_dir: &std::path::Path) -> Result<Summary, SynthError> {
    generate(&Params::demo(), out_dir)
}
