//! Training the twin's models.
//!
//! - [`pretrain`]: masked-event modelling for the event encoder, and its
//!   reconstruction accuracy next to a most-frequent-code baseline.
//! - [`log`]: the loss log (CSV) and its plot (SVG).
//! - [`fusion`]: contrastive + cross-modal masked training of the fusion model.

pub mod fusion;
pub mod log;
pub mod pretrain;

pub use fusion::{embed_views, train_fusion, FusionStepLoss, FusionTrainConfig, PatientViews};
pub use pretrain::{pretrain, reconstruction_accuracy, PretrainConfig, ReconstructionAccuracy, StepLoss};
