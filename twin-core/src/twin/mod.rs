//! The twin: a journey at an index date -> one vector whose neighbourhood means
//! clinical similarity.
//!
//! - [`features`]: what each encoder reads of a journey (`PatientInputs`).
//! - [`history_block`]: the aggregated clinical history, on the training cohort's
//!   scale, appended to the fused vector.
//! - [`prognosis_part`]: each outcome as boosted trees fitted with the twin read it
//!   off the aggregated history, appended after the block.
//! - [`strata`]: clinical strata a rheumatologist matches on first (serostatus, the
//!   response so far to the running DMARD), appended last, each a part of its own.
//! - [`pipeline`]: training a twin end to end on a cohort.
//! - [`model`]: the checkpoint on disk (three files, pinned), loading, embedding.
//! - [`install`]: an install's twin: the active one, training and registering one.

pub mod features;
pub mod history_block;
pub mod install;
pub mod model;
pub mod pipeline;
pub mod prognosis_part;
pub mod strata;

pub use features::{FeatureSpec, Panel, PatientInputs};
pub use install::{load_active, models_dir, train_and_register, TrainError, TrainReport, TrainRequest, Until};
pub use model::{TwinError, TwinManifest, TwinModel};
pub use pipeline::{train_twin, Stage, TrainOptions, TrainedTwin};
