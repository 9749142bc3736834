//! RDT twin core: what RDT builds on a patient's journey (the `journey` crate).
//!
//! - [`encode`]: encoders from a journey's modalities to vectors (notes: MiniLM).
//! - [`train`]: pretraining and fitting the twin's models.
//! - [`twin`]: from a journey at an index date to the twin's inputs and vector.
//! - [`index`]: the neighbour index (in-process or Qdrant) and twin synchronisation.
//! - [`cohort`]: the in silico cohort: neighbours' outcomes with intervals, beside the
//!   population's and the latest-visit snapshot baseline.
//! - [`state`]: the disease-state model (a Markov chain over DAS28 states per
//!   treatment) and its forecasts with bootstrap intervals.
//! - [`heads`]: predictive heads on the twin (methotrexate failure, flare) beside
//!   the latest-visit snapshot baseline; AUROC and calibration.
//! - [`eval`]: neighbour agreement of twins and of the baselines; cohort, state and
//!   head evaluations.
//! - [`models`]: packaged model weights: the cache, sha256 checks, registry pins.
//! - [`progress`]: how long jobs report how far they are (the caller draws bars).
//!
//! Everything here reads journeys from the store (`journey::JourneyStore`) and writes
//! only derived state (checkpoints, the index, reports); none of it writes events,
//! except `index::sync::add_event`, which goes through the store like any import.

pub mod alerts;
pub mod artifact;
pub mod cohort;
pub mod encode;
pub mod eval;
pub mod heads;
pub mod index;
pub mod models;
pub mod monitor;
pub mod options;
pub mod progress;
pub mod state;
pub mod train;
pub mod twin;
