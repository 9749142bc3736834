//! One file per subcommand: its clap arguments and a `run`-style function that calls
//! into a library crate and prints.

pub mod import;
pub mod journey;
pub mod synth;
