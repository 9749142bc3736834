//! How a long job (reading journeys, embedding notes, training, indexing) tells its
//! caller how far it is. The library only counts steps; drawing a bar is the caller's
//! business (`rdt` draws indicatif bars on a terminal, tests pass [`NoProgress`]).

/// A job made of named stages, each of a known (or, at 0, not yet known) length.
pub trait Progress: Sync {
    /// A stage of `len` steps begins; the previous stage, if any, is over.
    fn stage(&self, name: &'static str, len: u64);
    /// The stage's length is known now (a stage begun at 0).
    fn set_len(&self, _len: u64) {}
    /// `n` more steps of the current stage are done.
    fn advance(&self, n: u64);
    /// The current stage is over.
    fn done(&self);
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: &'static str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn done(&self) {}
}
