//! Training the twin's models.
//!
//! - [`pretrain`]: masked-event modelling for the event encoder, and its
//!   reconstruction accuracy next to a most-frequent-code baseline.

pub mod pretrain;

pub use pretrain::{pretrain, reconstruction_accuracy, PretrainConfig, ReconstructionAccuracy, StepLoss};
