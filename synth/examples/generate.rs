//! Generates a cohort into a directory and prints the summary with the time taken.
//!
//! `cargo run --release -p synth --example generate -- <patients> <seed> <out-dir>`
//! (the `rdt synth` command does the same through the RDT binary).

use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let patients = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10_000);
    let seed = args.next().map(|a| a.parse()).transpose()?.unwrap_or(42);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "synth-out".into()));
    let params = synth::Params { patients, seed, ..synth::Params::default() };
    let started = Instant::now();
    let summary = synth::generate(&params, &out)?;
    let elapsed = started.elapsed();
    println!("{}", serde_json::to_string_pretty(&summary)?);
    println!("{} patients, {} resources in {:.2} s", summary.patients, summary.resources.resources(), elapsed.as_secs_f64());
    Ok(())
}
