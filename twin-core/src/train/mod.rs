//! Training the twin's models.
//!
//! - [`pretrain`]: masked-event modelling for the event encoder, and its
//!   reconstruction accuracy next to a most-frequent-code baseline.
//! - [`log`]: the loss log (CSV) and its plot (SVG).
//! - [`fusion`]: contrastive + cross-modal masked training of the fusion model.
//! - [`outcomes`]: the outcome heads that make the fused twin outcome-aware.
//! - [`course_pairs`]: supervised-contrastive pairs of views whose courses agree.

pub mod course_pairs;
pub mod fusion;
pub mod log;
pub mod outcomes;
pub mod pretrain;

pub use fusion::{embed_views, train_fusion, Crop, FusionStepLoss, FusionTrainConfig, PatientViews};
pub use outcomes::{OutcomeHeads, OutcomeTargets};
pub use pretrain::{pretrain, reconstruction_accuracy, PretrainConfig, ReconstructionAccuracy, StepLoss};
