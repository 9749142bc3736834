//! Prints a cohort's outcome rates and data shares per subtype, from the ground truth,
//! without writing files: the numbers docs/virtual-cohort.md quotes.
//!
//! `cargo run --release -p synth --example rates -- [patients] [seed]`

use std::collections::BTreeMap;

use synth::outcomes::EularResponse;
use synth::{simulate_patient, Params};

#[derive(Default)]
struct Tally {
    n: u32,
    mtx: [u32; 3],
    tnfi: [u32; 3],
    flare: [u32; 2],
    switch: [u32; 2],
    baseline: Vec<f64>,
    imaging: u32,
    omics: u32,
    notes: u32,
    hepatotox: u32,
    mtx_started: u32,
    tnfi_started: u32,
}

fn slot(r: EularResponse) -> usize {
    match r {
        EularResponse::Good => 0,
        EularResponse::Moderate => 1,
        EularResponse::NoResponse => 2,
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let patients = args.next().and_then(|a| a.parse().ok()).unwrap_or(3000);
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(42);
    let params = Params { patients, seed, ..Params::default() };
    let mut tallies: BTreeMap<&'static str, Tally> = BTreeMap::new();
    for i in 0..patients {
        let p = simulate_patient(&params, i);
        let t = tallies.entry(p.truth.subtype.as_str()).or_default();
        let o = &p.truth.outcomes;
        t.n += 1;
        if let Some(r) = o.mtx_response_6m {
            t.mtx[slot(r)] += 1;
        }
        if let Some(r) = o.tnfi_response_6m {
            t.tnfi[slot(r)] += 1;
        }
        if let Some(f) = o.flare_6m {
            t.flare[f as usize] += 1;
        }
        if let Some(s) = o.switch_12m {
            t.switch[s as usize] += 1;
        }
        let series = synth::truth::das28_series(&p.chart);
        if let Some(first) = series.first() {
            t.baseline.push(first.score);
        }
        t.imaging += p.truth.has_imaging as u32;
        t.omics += p.truth.has_omics as u32;
        t.notes += p.truth.has_notes as u32;
        t.hepatotox += p.truth.mtx_hepatotoxicity.is_some() as u32;
        t.mtx_started += p.truth.mtx_start.is_some() as u32;
        t.tnfi_started += p.truth.tnfi_start.is_some() as u32;
    }
    let pct = |a: u32, n: u32| if n == 0 { f64::NAN } else { 100.0 * a as f64 / n as f64 };
    for (name, t) in &tallies {
        let mtx_n: u32 = t.mtx.iter().sum();
        let tnfi_n: u32 = t.tnfi.iter().sum();
        let mean = t.baseline.iter().sum::<f64>() / t.baseline.len().max(1) as f64;
        println!("{name}: n={}", t.n);
        println!(
            "  MTX 6m (n={mtx_n}): good {:.1}% moderate {:.1}% none {:.1}%",
            pct(t.mtx[0], mtx_n),
            pct(t.mtx[1], mtx_n),
            pct(t.mtx[2], mtx_n)
        );
        println!(
            "  TNFi 6m (n={tnfi_n}): good {:.1}% moderate {:.1}% none {:.1}%",
            pct(t.tnfi[0], tnfi_n),
            pct(t.tnfi[1], tnfi_n),
            pct(t.tnfi[2], tnfi_n)
        );
        println!("  flare 6m: {:.1}% of {}", pct(t.flare[1], t.flare[0] + t.flare[1]), t.flare[0] + t.flare[1]);
        println!("  switch 12m: {:.1}% of {}", pct(t.switch[1], t.switch[0] + t.switch[1]), t.switch[0] + t.switch[1]);
        println!("  baseline DAS28 mean {mean:.2}");
        println!(
            "  started MTX {:.1}%, TNFi {:.1}%, MTX hepatotoxicity {:.1}%",
            pct(t.mtx_started, t.n),
            pct(t.tnfi_started, t.n),
            pct(t.hepatotox, t.n)
        );
        println!("  imaging {:.1}% omics {:.1}% notes {:.1}%", pct(t.imaging, t.n), pct(t.omics, t.n), pct(t.notes, t.n));
    }
}
