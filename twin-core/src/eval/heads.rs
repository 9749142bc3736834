//! The predictive heads' section of `rdt eval`: for each outcome, a logistic head on
//! the twin at the index date, on the snapshot features, and on both, trained on
//! train part of the frozen split and scored on its tuning part (the cohort
//! evaluation's split, [`crate::eval::split`]); the test part is never scored here.
//!
//! Stages: journeys -> [`HeadSnapshot`]s (index date, outcomes, snapshot features) ->
//! the caller embeds each patient's twin at `cut` -> [`evaluate_heads`] -> markdown.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::cohort::features::snapshot_features;
use crate::cohort::regression::DEFAULT_L2;
use crate::cohort::ClinicalRecord;
use crate::eval::split::Part;
use journey::event::PatientId;
use crate::heads::{evaluate, label, HeadError, HeadEvaluation, HeadOutcome, Labelled, Split};

/// A patient at their index date.
#[derive(Debug, Clone)]
pub struct HeadSnapshot {
    pub patient: String,
    pub cut: DateTime<Utc>,
    pub labelled: Labelled,
    pub snapshot: Vec<f64>,
    /// The part of the frozen split the patient is in.
    pub part: Part,
}

/// The snapshots of every patient given methotrexate (`(id, events in time order)`).
pub fn snapshots(cohort: &[(PatientId, Vec<journey::event::Event>)]) -> Vec<HeadSnapshot> {
    cohort
        .iter()
        .filter_map(|(id, events)| {
            let record = ClinicalRecord::read(events);
            let labelled = label(&record)?;
            Some(HeadSnapshot {
                patient: id.to_string(),
                cut: labelled.cut,
                snapshot: snapshot_features(&record, labelled.cut),
                labelled,
                part: Part::of(id),
            })
        })
        .collect()
}

/// Each outcome's heads: twin, snapshot, twin + snapshot. `twins[i]` is the twin of
/// `snapshots[i]` at its cut. Patients whose outcome the record cannot tell are left out.
pub fn evaluate_heads(snapshots: &[HeadSnapshot], twins: &[Vec<f32>]) -> Result<Vec<HeadEvaluation>, HeadError> {
    assert_eq!(snapshots.len(), twins.len(), "one twin per snapshot");
    HeadOutcome::ALL
        .iter()
        .map(|&outcome| {
            let (mut twin, mut snap, mut both) = (Split::default(), Split::default(), Split::default());
            for (s, t) in snapshots.iter().zip(twins) {
                let Some(y) = s.labelled.outcome(outcome) else { continue };
                if s.part == Part::Test {
                    continue;
                }
                let held_out = s.part == Part::Tuning;
                let t: Vec<f64> = t.iter().map(|v| f64::from(*v)).collect();
                let mut joint = t.clone();
                joint.extend(&s.snapshot);
                twin.push(held_out, t, y);
                snap.push(held_out, s.snapshot.clone(), y);
                both.push(held_out, joint, y);
            }
            evaluate(outcome, &[("twin", &twin), ("snapshot", &snap), ("twin + snapshot", &both)])
        })
        .collect()
}

/// The report section.
pub fn markdown(evaluations: &[HeadEvaluation]) -> String {
    let mut md = String::new();
    let f3 = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("{x:.3}"));
    let _ = writeln!(md, "## Predictive heads (tuning part)\n");
    let _ = writeln!(
        md,
        "Logistic regression (ridge {DEFAULT_L2} x n on standardised features) at the first methotrexate start; \
         trained on the train part of the frozen split, scored on its tuning part. Calibration: logit P(y) = \
         intercept + slope * logit(p) (ideal 0 and 1).\n"
    );
    for e in evaluations {
        let n = e.heads.first().map_or(0, |h| h.held_out.n);
        let pos = e.heads.first().map_or(0, |h| h.held_out.positives);
        let _ = writeln!(
            md,
            "### {}\n\nTraining: {} patients ({} with the outcome); held out: {n} ({pos}).\n",
            e.outcome.title(),
            e.train_n,
            e.train_positives
        );
        let _ = writeln!(md, "| head | AUROC (95% CI) | Brier | Brier, base rate | calibration intercept | slope |");
        let _ = writeln!(md, "|---|---|---|---|---|---|");
        for h in &e.heads {
            let s = &h.held_out;
            let ci = s.auroc_95.map_or(String::new(), |(a, b)| format!(" ({a:.3}-{b:.3})"));
            let _ = writeln!(
                md,
                "| {} ({} features) | {}{ci} | {:.4} | {:.4} | {} | {} |",
                h.representation,
                h.features,
                f3(s.auroc),
                s.brier,
                s.brier_base_rate,
                f3(s.calibration_intercept),
                f3(s.calibration_slope)
            );
        }
        let _ = writeln!(md, "\nReliability of the twin head (predicted vs observed, per decile bin):\n");
        let _ = writeln!(md, "| bin | n | mean predicted | observed |\n|---|---|---|---|");
        if let Some(h) = e.heads.first() {
            for b in &h.held_out.reliability {
                let _ = writeln!(
                    md,
                    "| {:.1}-{:.1} | {} | {:.3} | {:.3} |",
                    b.low, b.high, b.n, b.mean_predicted, b.observed_rate
                );
            }
        }
        let _ = writeln!(md);
    }
    md
}
