//! RDT twin core: the patient journey and everything built on it.
//!
//! - [`clinical`]: DESIGN.md's clinical definitions (DAS28, EULAR response, flare,
//!   switch), drugs by class, reading DAS28 and courses out of a journey.
//! - [`cohort`]: the in silico cohort: neighbours' outcomes with intervals, beside the
//!   population's and the latest-visit snapshot baseline.
//! - [`event`]: the journey's unit, a MEDS-compatible time-stamped event.
//! - [`fhir`]: FHIR R4 import (Bundles, Bulk NDJSON) into events.
//! - [`store`]: the journey store (SQLite by default, PostgreSQL when configured).
//! - [`heads`]: predictive heads on the twin (methotrexate failure, flare) beside
//!   the latest-visit snapshot baseline; AUROC and calibration.
//! - [`models`]: packaged model weights: the cache, sha256 checks, registry pins.
//! - [`progress`]: how long jobs report how far they are (the caller draws bars).
//! - [`encode`]: encoders from a journey's modalities to vectors (notes: MiniLM).
//! - [`train`]: pretraining and fitting the twin's models.
//! - [`eval`]: neighbour agreement of twins and of the baselines.
//! - [`state`]: the disease-state model (a Markov chain over DAS28 states per
//!   treatment) and its forecasts with bootstrap intervals.
//! - [`twin`]: from a journey at an index date to the twin's inputs and vector.
//!
//! Later stages (tokenizer, encoders, fusion, neighbour index, cohort analytics)
//! read journeys from the store; none of them writes to it.

pub mod clinical;
pub mod cohort;
pub mod encode;
pub mod eval;
pub mod event;
pub mod fhir;
pub mod heads;
pub mod index;
pub mod models;
pub mod progress;
pub mod state;
pub mod store;
pub mod train;
pub mod twin;

pub use event::{Code, Event, Modality, PatientId, Phase, Quantity, Source};
pub use store::{Database, Journey, JourneyStore, PatientRecord, PatientSummary, StoreCounts, StoreError};
