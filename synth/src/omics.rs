//! The omics panel: a type I interferon signature from whole-blood expression of five
//! interferon-stimulated genes (IFI27, IFI44L, ISG15, RSAD2, SIGLEC1), reported as
//! log2 fold change against a healthy reference, and its score (their mean).
//!
//! An interferon-high patient has all five genes up together (the signature is one
//! programme, so genes share a patient-level shift); activity nudges it further.
//! High signatures are common in lupus, in a minority of rheumatoid arthritis (more in
//! refractory disease) and in some systemic sclerosis.

use crate::chart::Chart;
use crate::codes::Measure;
use crate::sample::{normal, PatientRng};

/// Records the panel and its score at `visit`; returns the score.
pub fn record_panel(rng: &mut PatientRng, chart: &mut Chart, visit: usize, high: bool, activity_shift: f64) -> f64 {
    let (centre, spread) = if high { (2.4, 0.55) } else { (0.25, 0.3) };
    let patient_shift = normal(rng, 0.0, spread) + activity_shift;
    let mut sum = 0.0;
    for gene in Measure::INTERFERON_GENES {
        let value = chart.measure(visit, gene, centre + patient_shift + normal(rng, 0.0, 0.35));
        sum += value;
    }
    let score = sum / Measure::INTERFERON_GENES.len() as f64;
    chart.measure(visit, Measure::InterferonScore, score)
}
