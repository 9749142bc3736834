//! Watching the twin in use: whether the patients arriving now are like those it was
//! built on ([`drift`]).

pub mod drift;
