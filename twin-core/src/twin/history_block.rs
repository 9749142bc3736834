//! The twin's clinical-history block: the record's aggregated history
//! ([`crate::cohort::history`]: per activity measure and acute-phase lab its last value,
//! extremes, change and slope; the treatment history; each concept's latest value) on
//! the training cohort's scale, appended to the fused vector.
//!
//! Why: the fusion compresses what a rheumatologist compares first (where DAS28 and
//! CRP stand and how they moved since the current drug started, serology, what was
//! tried) into a 64-wide vector trained to tell patients apart, and the neighbours it
//! gives share the hidden subtype less often than a plain standardised history does
//! (docs/benchmarks/predictive.md, "The clinical-history block"). Kept beside the
//! learned part, each scaled to unit length, the neighbourhood weighs the record's
//! readings and the learned journey equally, and a clinician can read what made two
//! patients near.
//!
//! The scale is each column's quantiles, fitted once on the training journeys at their
//! decision points and their ends and saved in the twin's [`super::FeatureSpec`]: a
//! value becomes its position among the training values (centred, unit variance), so
//! a CRP of 200 weighs no more than the highest decile and a count that grows with the
//! length of a record does not swamp the rest; a twin's vectors never depend on who
//! else is in the index.
//! Columns are kept by name, so a scale written before a column existed reads that
//! column as unknown (0) rather than shifting the others.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use journey::event::Event;

use crate::cohort::history::{history_feature_names, history_features};
use crate::cohort::ClinicalRecord;

/// One column of the scale: its name in [`history_feature_names`] and its quantiles
/// over the fitted snapshots (ascending; empty when the column was never known).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryColumn {
    pub name: String,
    pub quantiles: Vec<f64>,
}

/// Quantiles kept per column: every 1%.
const QUANTILES: usize = 101;

/// Snapshots the scale is fitted on at most (every n-th beyond it, in order).
const MAX_FITTED: usize = 50_000;

impl HistoryColumn {
    /// A value's place among the column's fitted values: its mid-rank in 0..1, centred
    /// and scaled to unit variance (a uniform's sd is 1/sqrt(12)); 0 when unknown.
    fn place(&self, x: f64) -> f32 {
        if !x.is_finite() || self.quantiles.is_empty() {
            return 0.0;
        }
        let below = self.quantiles.partition_point(|q| *q < x);
        let up_to = self.quantiles.partition_point(|q| *q <= x);
        let rank = (below + up_to) as f64 / (2.0 * self.quantiles.len() as f64);
        ((rank - 0.5) * 12f64.sqrt()) as f32
    }
}

/// The training cohort's scale of the aggregated history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryScale {
    pub columns: Vec<HistoryColumn>,
}

impl HistoryScale {
    /// Fits the scale on `journeys` (time-ordered), each read at every day in
    /// `points(record)` and at its last event (at most [`MAX_FITTED`] snapshots, every
    /// n-th beyond). `None` without journeys.
    pub fn fit(
        journeys: &[&[Event]],
        points: &dyn Fn(&ClinicalRecord) -> Vec<DateTime<Utc>>,
    ) -> Option<HistoryScale> {
        let names = history_feature_names();
        let records: Vec<(&[Event], ClinicalRecord, Vec<DateTime<Utc>>)> = journeys
            .iter()
            .filter_map(|events| {
                let last = events.last()?.time;
                let record = ClinicalRecord::read(events);
                let at = points(&record).into_iter().chain([last]).collect();
                Some((*events, record, at))
            })
            .collect();
        let snapshots: usize = records.iter().map(|(_, _, at)| at.len()).sum();
        if snapshots == 0 {
            return None;
        }
        let stride = snapshots.div_ceil(MAX_FITTED);
        let mut values: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
        let mut n = 0usize;
        for (events, record, at) in &records {
            for t in at {
                n += 1;
                if n % stride != 0 {
                    continue;
                }
                for (c, x) in history_features(record, events, *t).into_iter().enumerate() {
                    if x.is_finite() {
                        values[c].push(x);
                    }
                }
            }
        }
        let columns = names
            .iter()
            .cloned()
            .zip(values)
            .map(|(name, mut v)| {
                v.sort_by(f64::total_cmp);
                let quantiles = if v.is_empty() {
                    Vec::new()
                } else {
                    (0..QUANTILES).map(|i| v[(i * (v.len() - 1) + (QUANTILES - 1) / 2) / (QUANTILES - 1)]).collect()
                };
                HistoryColumn { name, quantiles }
            })
            .collect();
        Some(HistoryScale { columns })
    }

    /// The block of a journey (`record` read from `events`, time-ordered) as of `at`:
    /// each column's place among the fitted values, unknown values (and columns the
    /// scale lacks) at 0, the middle. One entry per column of the scale.
    pub fn block(&self, record: &ClinicalRecord, events: &[Event], at: DateTime<Utc>) -> Vec<f32> {
        let names = history_feature_names();
        let raw = history_features(record, events, at);
        self.columns
            .iter()
            .enumerate()
            .map(|(c, column)| {
                // A scale of this build has every column in place; an older one is
                // matched by name.
                let at_place = names.get(c).filter(|n| **n == column.name).map(|_| c);
                let i = at_place.or_else(|| names.iter().position(|n| *n == column.name));
                column.place(i.map_or(f64::NAN, |i| raw[i]))
            })
            .collect()
    }

    /// Width of the block.
    pub fn width(&self) -> usize {
        self.columns.len()
    }
}

/// The twin of its parts (the fused vector, the history block, then the prognosis part
/// when the twin has one), each scaled to unit length, in order. A zero part stays zero.
pub fn join(parts: &[&[f32]]) -> Vec<f32> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        let norm = part.iter().map(|x| x * x).sum::<f32>().sqrt();
        out.extend(part.iter().map(|x| if norm > 0.0 { x / norm } else { 0.0 }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::testutil::{at_day as cut, das28, drug, Journey};

    /// A value is placed among the fitted snapshots' values; a value the record lacks
    /// sits in the middle (0), not at a reading of 0.
    #[test]
    fn block_places_values_among_the_fitted_and_missing_is_the_middle() {
        let a = Journey::new(vec![das28(0, 6.0), drug(10, None, "6851"), das28(100, 4.0)]);
        let b = Journey::new(vec![das28(0, 5.0), das28(100, 5.0)]);
        let journeys = [a.events.as_slice(), b.events.as_slice()];
        // Fitted at day 0 of each journey and at each end: DAS28 6, 4, 5, 5.
        let first_day = |r: &ClinicalRecord| r.das28.first().map(|d| d.time).into_iter().collect();
        let scale = HistoryScale::fit(&journeys, &first_day).expect("a scale");
        assert_eq!(scale.width(), history_feature_names().len());
        let column = |name: &str| scale.columns.iter().position(|c| c.name == name).unwrap();
        let last = column("das28_last");
        assert_eq!(scale.columns[last].quantiles.len(), QUANTILES);
        assert_eq!((scale.columns[last].quantiles[0], scale.columns[last].quantiles[QUANTILES - 1]), (4.0, 6.0));
        let record = ClinicalRecord::read(&a.events);
        let block = scale.block(&record, &a.events, cut(200));
        assert_eq!(block.len(), scale.width());
        assert!(block[last] < -1.0, "4 is the lowest fitted value: {}", block[last]);
        let early = scale.block(&record, &a.events, cut(50));
        assert!(early[last] > 1.0, "6 is the highest: {}", early[last]);
        let middle = scale.block(&ClinicalRecord::read(&b.events), &b.events, cut(200));
        assert!(middle[last].abs() < 0.5, "5 is in the middle: {}", middle[last]);
        assert_eq!(block[column("crp_last")], 0.0, "no CRP: the middle, not a reading of 0");
        assert!(block.iter().all(|x| x.abs() <= 3f32.sqrt() + 1e-6), "a place is within the uniform's range");
    }

    /// A scale written before a column existed reads that column as unknown; the
    /// columns it has keep their meaning.
    #[test]
    fn columns_are_matched_by_name() {
        let a = Journey::new(vec![das28(0, 6.0), das28(100, 4.0)]);
        let scale = HistoryScale {
            columns: vec![
                HistoryColumn { name: "no_such_column".into(), quantiles: vec![0.0, 1.0] },
                HistoryColumn { name: "das28_last".into(), quantiles: vec![1.0, 2.0, 3.0, 5.0] },
            ],
        };
        let block = scale.block(&ClinicalRecord::read(&a.events), &a.events, cut(200));
        // DAS28 4 lies above three of the four quantiles: mid-rank 3/4.
        assert_eq!(block, vec![0.0, ((0.75 - 0.5) * 12f64.sqrt()) as f32]);
    }

    /// Each part of a joined twin has unit length, whatever the scales of its inputs.
    #[test]
    fn join_scales_each_part_to_unit_length() {
        let twin = join(&[&[3.0, 4.0], &[0.0, 10.0, 0.0]]);
        assert_eq!(twin, vec![0.6, 0.8, 0.0, 1.0, 0.0]);
        assert_eq!(join(&[&[1.0], &[0.0, 0.0]]), vec![1.0, 0.0, 0.0], "a zero block stays zero");
        assert_eq!(join(&[&[1.0], &[2.0], &[0.0, -5.0]]), vec![1.0, 1.0, 0.0, -1.0], "a third part, its own unit");
    }
}
