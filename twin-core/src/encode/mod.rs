//! Encoders: each modality of a journey becomes vectors the fusion model reads.
//!
//! - [`note`]: clinical note text -> one 384-d vector (all-MiniLM-L6-v2), cached by
//!   the note's sha256.

pub mod note;

pub use note::{NoteEncoder, NoteError, NoteVectorCache};
