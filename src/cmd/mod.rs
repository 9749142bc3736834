//! One file per subcommand: its clap arguments and a `run`-style function that calls
//! into a library crate and prints.

pub mod ask;
pub mod audit;
pub mod backup;
pub mod chat;
pub mod cohort;
pub mod db;
pub mod demo;
pub mod embed;
pub mod eval;
pub mod eval_assistant;
pub mod event;
pub mod forecast;
pub mod import;
pub mod journey;
pub mod models;
pub mod options;
pub mod serve;
pub mod setup;
pub mod synth;
pub mod terminology;
pub mod train;
pub mod tool;
pub mod user;

/// Prints a command's result: `value` as pretty JSON with `--json`, else `text` as it
/// is (it ends with its own newline).
pub fn print(json: bool, value: &impl serde::Serialize, text: impl FnOnce() -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", text());
    }
    Ok(())
}
