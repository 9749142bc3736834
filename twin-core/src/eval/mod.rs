//! Evaluating twins: does a patient's neighbourhood share what it should?
//!
//! - [`neighbour_agreement`]: over patients with a known label (the virtual cohort's
//!   hidden subtype), the mean share of each patient's k nearest neighbours (cosine,
//!   the patient itself excluded) that share its label.
//! - Baselines on the same patients and index dates: [`bag_of_codes`] (counts of
//!   each code, L2-normalised) and [`latest_visit`] (the values of the last day with
//!   values, as per-code deciles, with measured flags).
//! - [`state`]: the disease-state model's forecasts on held-out patients against the
//!   empirical rate and persistence.
//! - [`cohort`]: the in silico cohort's estimates on held-out patients against their
//!   actual outcomes, beside the snapshot baseline and the population figure.
//! - [`heads`]: predictive heads on the twin against the latest-visit snapshot.
//! - [`options`]: the treatment options comparison against the virtual cohort's
//!   counterfactual truth (`rdt eval options`).
//! - [`twin`]: the whole twin evaluation (`rdt eval`) as one [`EvalReport`].

pub mod cohort;
pub mod heads;
pub mod options;
pub mod split;
pub mod state;
pub mod twin;

use std::path::{Path, PathBuf};

/// Why an evaluation could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    #[error("the truth file {path}: {message}")]
    Truth { path: PathBuf, message: String },
    #[error("only {0} patients of the store have a methotrexate start in the truth file")]
    TooFewPatients(usize),
    #[error(transparent)]
    Store(#[from] journey::store::StoreError),
    #[error(transparent)]
    Notes(#[from] crate::encode::note::NoteError),
    #[error(transparent)]
    Twin(#[from] crate::twin::TwinError),
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    #[error(transparent)]
    Cohort(#[from] crate::cohort::query::CohortError),
    #[error(transparent)]
    Heads(#[from] crate::heads::HeadError),
    #[error("writing the report {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    TwinHead(#[from] crate::heads::TwinHeadError),
}

/// An evaluation's report: JSON for scripts, markdown for people.
#[derive(Debug, Clone)]
pub struct EvalReport {
    pub json: serde_json::Value,
    pub markdown: String,
    /// Figures written beside the report: (file name suffix, SVG); the markdown links
    /// them as `<stem>-<suffix>`.
    pub figures: Vec<(String, String)>,
}

impl EvalReport {
    /// The markdown as written under `stem`: its figure links name their files.
    pub fn markdown_as(&self, stem: &str) -> String {
        self.markdown.replace("{stem}", stem)
    }

    /// Writes `<data_dir>/reports/<stem>.json`, `<stem>.md` (where `{stem}` in the
    /// markdown becomes the stem) and each figure; returns the markdown's path.
    pub fn write(&self, data_dir: &Path, stem: &str) -> Result<PathBuf, EvalError> {
        let dir = data_dir.join("reports");
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| EvalError::Write { path, source }
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let json = dir.join(format!("{stem}.json"));
        // A `Value` always serialises.
        let text = serde_json::to_string_pretty(&self.json).expect("a JSON value serialises");
        std::fs::write(&json, text).map_err(io(&json))?;
        let md = dir.join(format!("{stem}.md"));
        std::fs::write(&md, self.markdown_as(stem)).map_err(io(&md))?;
        for (suffix, svg) in &self.figures {
            let path = dir.join(format!("{stem}-{suffix}"));
            std::fs::write(&path, svg).map_err(io(&path))?;
        }
        Ok(md)
    }
}

use crate::encode::vocab::{code_key, token_value, EventToken, Vocabulary, BIN_FIRST};
use journey::event::Event;
use crate::twin::features::in_event_stream;

/// Mean share of the `k` nearest neighbours with the same label. Vectors are
/// L2-normalised here, so any scale works; ties are broken by index.
pub fn neighbour_agreement(vectors: &[Vec<f32>], labels: &[String], k: usize) -> f64 {
    let all: Vec<usize> = (0..vectors.len()).collect();
    if all.len() < 2 {
        return 0.0;
    }
    let shares = neighbour_shares(vectors, labels, k, &all, &all);
    shares.iter().sum::<f64>() / shares.len() as f64
}

/// Each of `queries`' share of its `k` nearest (cosine) among `pool` (never itself)
/// that carry its label, in `queries`' order: the per-patient reading behind
/// [`neighbour_agreement`], for an agreement read with its interval, or for new
/// patients against historical ones as the product finds them. A query without a
/// neighbour in the pool gets 0.
pub fn neighbour_shares(vectors: &[Vec<f32>], labels: &[String], k: usize, queries: &[usize], pool: &[usize]) -> Vec<f64> {
    assert_eq!(vectors.len(), labels.len(), "one label per vector");
    let unit = |v: &Vec<f32>| -> Vec<f32> {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 { v.iter().map(|x| x / norm).collect() } else { v.clone() }
    };
    let unit: Vec<Vec<f32>> = vectors.iter().map(unit).collect();
    use rayon::prelude::*;
    queries
        .par_iter()
        .map(|&i| {
            let mut sims: Vec<(f32, usize)> = pool
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| (unit[i].iter().zip(&unit[j]).map(|(a, b)| a * b).sum::<f32>(), j))
                .collect();
            let k = k.min(sims.len());
            if k == 0 {
                return 0.0;
            }
            sims.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let same = sims[..k].iter().filter(|(_, j)| labels[*j] == labels[i]).count();
            same as f64 / k as f64
        })
        .collect()
}

/// The share expected by chance: sum over labels of (share of patients)².
pub fn chance_agreement(labels: &[String]) -> f64 {
    // Ordered, so the sum is the same float on every run.
    let mut counts = std::collections::BTreeMap::new();
    for l in labels {
        *counts.entry(l).or_insert(0usize) += 1;
    }
    let n = labels.len() as f64;
    counts.values().map(|c| (*c as f64 / n).powi(2)).sum()
}

/// Bag of codes: how often each vocabulary code occurs in the tokens.
pub fn bag_of_codes(vocab: &Vocabulary, tokens: &[EventToken]) -> Vec<f32> {
    let mut counts = vec![0f32; vocab.len()];
    for t in tokens {
        counts[t.code as usize] += 1.0;
    }
    counts
}

/// The latest-visit snapshot of a journey cut at the index date: for every code with
/// values, its decile on the last day that has any value (centred, in -0.5..0.5) and
/// a measured flag; 0, 0 for codes not measured that day.
pub fn latest_visit(vocab: &Vocabulary, window: &[Event]) -> Vec<f32> {
    let mut out = vec![0f32; 2 * vocab.len()];
    let valued: Vec<&Event> = window.iter().filter(|e| in_event_stream(e) && token_value(e).is_some()).collect();
    let Some(last) = valued.last() else {
        return out;
    };
    let day = last.time.date_naive();
    let n_bins = vocab.config.n_bins as f32;
    for e in valued.iter().rev().take_while(|e| e.time.date_naive() == day) {
        let id = vocab.id(&code_key(e)) as usize;
        let bin = vocab.value_bin(id as u32, token_value(e).unwrap_or(f64::NAN));
        if bin >= BIN_FIRST {
            out[2 * id] = (bin - BIN_FIRST) as f32 / (n_bins - 1.0).max(1.0) - 0.5;
            out[2 * id + 1] = 1.0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(vectors: &[[f32; 2]], labels: &[&str], k: usize, expect: f64) {
        let vectors: Vec<Vec<f32>> = vectors.iter().map(|v| v.to_vec()).collect();
        let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
        let got = neighbour_agreement(&vectors, &labels, k);
        assert!((got - expect).abs() < 1e-9, "got {got}, expected {expect}");
    }

    #[test]
    fn agreement_counts_same_label_neighbours() {
        // Two tight clusters by direction, labels matching the clusters.
        check(&[[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]], &["a", "a", "b", "b"], 1, 1.0);
        // Labels crossing the clusters.
        check(&[[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]], &["a", "b", "a", "b"], 1, 0.0);
        // k = 2: one of two neighbours shares the label.
        check(&[[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]], &["a", "a", "b", "b"], 2, 0.5);
        let labels: Vec<String> = ["a", "a", "b", "b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(chance_agreement(&labels), 0.5);
    }

    /// New patients read against a pool: each query's neighbours come from the pool
    /// only, never itself; a query with an empty pool gets 0.
    #[test]
    fn shares_read_queries_against_a_pool() {
        let vectors: Vec<Vec<f32>> = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]].iter().map(|v| v.to_vec()).collect();
        let labels: Vec<String> = ["a", "b", "b", "a"].iter().map(|s| s.to_string()).collect();
        // Query 0 ("a") among 1 and 2 (both "b"): none share; query 3 ("a") nearest 2 ("b").
        assert_eq!(neighbour_shares(&vectors, &labels, 1, &[0, 3], &[1, 2]), vec![0.0, 0.0]);
        // With 3 in the pool, query 0's two nearest are 1 ("b") and 3 ("a").
        assert_eq!(neighbour_shares(&vectors, &labels, 2, &[0], &[1, 2, 3]), vec![0.5]);
        assert_eq!(neighbour_shares(&vectors, &labels, 2, &[0], &[0]), vec![0.0]);
        // Every patient against every other: the mean is neighbour_agreement.
        let all = [0, 1, 2, 3];
        let shares = neighbour_shares(&vectors, &labels, 1, &all, &all);
        assert_eq!(shares.iter().sum::<f64>() / 4.0, neighbour_agreement(&vectors, &labels, 1));
    }
}
