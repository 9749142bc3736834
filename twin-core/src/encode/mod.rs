//! Encoders: each modality of a journey becomes vectors the fusion model reads.
//!
//! - [`vocab`]: events -> tokens (code, value decile, time gap).
//! - [`transformer`]: the encoder block shared by the event encoder and fusion.
//! - [`event_encoder`]: a Transformer over event tokens, pretrained by masked-event
//!   modelling.
//! - [`init`]: seeded initialisation and the random generator of training.
//! - [`sentences`]: clinical note text -> sentences (abbreviations, decimals, bullets).
//! - [`note`]: clinical note text -> one 384-d vector, the normalised mean of its
//!   sentences' all-MiniLM-L6-v2 vectors, each cached by its sha256.
//! - [`tabular`]: an MLP from an imaging or omics panel (or a note vector) to a token.
//! - [`fusion`]: a Transformer over the modality tokens, absent ones masked: the twin.

pub mod event_encoder;
pub mod fusion;
pub mod init;
pub mod note;
pub mod sentences;
pub mod tabular;
pub mod transformer;
pub mod vocab;

pub use event_encoder::{EventBatch, EventEncoder};
pub use note::{note_vectors, NoteEncoder, NoteError, NoteVectorCache, NoteVectorSource, NoteVectors, TextEmbedder};
pub use vocab::{EventToken, VocabConfig, Vocabulary};
