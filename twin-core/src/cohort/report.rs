//! The in silico cohort report: over a patient's k nearest historical snapshots, each
//! outcome's n, estimate and 95% interval, beside the population's figure and the
//! snapshot baseline (DESIGN.md "In silico cohort").
//!
//! Neighbours appear by distance and pseudonym only; their real ids travel in
//! [`CohortAudit`], which is never serialised with the report, so only the audit
//! entry can hold them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::outcomes::Outcome;
use super::population::{estimate_over, Population};
use super::pooling::{Moment, NeighbourhoodPrior, Pooled};
use super::pseudonym::{Pseudonym, PseudonymKey};
use super::stats::{Estimate, Interval};
use crate::heads::HeadFigure;
use journey::event::PatientId;

/// Below this many neighbours with data an outcome says "not enough comparable
/// patients" instead of a figure.
pub const DEFAULT_MIN_N: usize = 10;

/// One neighbour as a search returns it: which snapshot, and how far.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighbourRef {
    pub patient: PatientId,
    /// The snapshot's index time: the neighbour's outcomes are read after it.
    pub index_time: DateTime<Utc>,
    pub distance: f32,
}

/// A neighbour as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeighbourRow {
    pub pseudonym: Pseudonym,
    pub distance: f32,
}

/// One outcome over the cohort and its baselines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRow {
    pub outcome: Outcome,
    pub label: String,
    /// Over the neighbours with data: what the look-alike patients did.
    pub neighbours: Estimate,
    /// The neighbours' rate read as this patient's chance: their count pooled with
    /// the usual rate of this twin's neighbourhoods ([`super::pooling`]). `None` for
    /// DAS28 values, below the minimum n, or without a fitted prior.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooled: Option<Pooled>,
    /// Why the count is not read as this patient's chance although a prior was
    /// fitted for the outcome: the pooled figure was not calibrated where the prior
    /// was measured ([`super::pooling::OutcomePrior::withheld`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooled_withheld: Option<String>,
    /// Over every historical snapshot with data.
    pub population: Estimate,
    /// The snapshot regression's prediction for this patient (probability or DAS28).
    pub snapshot_baseline: Option<f64>,
    /// The twin head's figure for this patient with the interval its calibration
    /// gives ([`crate::heads::TwinHead::figure`]); `None` without an active head or
    /// when it was measured on too few patients with this outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twin_head: Option<HeadFigure>,
    /// Why the twin head gives no figure here, when it is loaded and gives none
    /// (`TwinHead::withheld`, or no held-out patient given a similar figure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twin_head_withheld: Option<String>,
}

impl OutcomeRow {
    /// The neighbours' figure for this patient and its 95% interval: the pooled rate
    /// when there is one, else the neighbours' own rate or mean. `None` below the
    /// minimum n.
    pub fn neighbour_figure(&self) -> Option<(f64, Interval)> {
        let (value, ci) = (self.neighbours.value()?, self.neighbours.interval()?);
        Some(self.pooled.map_or((value, ci), |p| (p.value, p.ci)))
    }

    /// A plain sentence when the twin head and the neighbours disagree: each figure
    /// outside the other's 95% interval. `None` when they agree or one is missing.
    pub fn disagreement(&self) -> Option<String> {
        let head = self.twin_head.as_ref()?;
        let (value, ci) = self.neighbour_figure()?;
        let head_ci = head.interval?;
        let apart = !(ci.low..=ci.high).contains(&head.value) && !(head_ci.low..=head_ci.high).contains(&value);
        if !apart {
            return None;
        }
        let show = |v: f64| if self.outcome.is_rate() { format!("{:.0}%", 100.0 * v) } else { format!("{v:.2}") };
        let pooled = if self.pooled.is_some() { "pooled for this patient: " } else { "" };
        Some(format!(
            "For {}, the twin head ({}) and the similar patients ({pooled}{}, n = {}) disagree: each lies outside the other's \
             95% interval. The neighbours are few and describe patients like this one; the head is fitted on every \
             training snapshot. Read both with their intervals.",
            self.label,
            show(head.value),
            show(value),
            self.neighbours.n()
        ))
    }
}

/// What the audit entry records of a cohort query; never part of the report's JSON.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CohortAudit {
    pub neighbour_ids: Vec<PatientId>,
    pub neighbour_index_times: Vec<DateTime<Utc>>,
    pub distances: Vec<f32>,
}

/// The report of one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortReport {
    pub index_date: NaiveDate,
    pub k: usize,
    pub min_n: usize,
    pub neighbours: Vec<NeighbourRow>,
    pub outcomes: Vec<OutcomeRow>,
    /// Why no twin head figure stands beside the neighbours, when none does (no head
    /// fitted for this twin, or its file refused by the registry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub twin_head_unavailable: Option<String>,
    /// Why the neighbours' rates are not pooled for the patient, when they are not
    /// (no prior measured for this twin: `rdt embed` measures it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooling_unavailable: Option<String>,
    /// The real ids, for the audit entry only.
    #[serde(skip)]
    pub audit: CohortAudit,
}

impl CohortReport {
    /// Builds the report of a query patient at `index_date` with latest-visit
    /// `features`, over `neighbours` (nearest first).
    pub fn build(
        index_date: NaiveDate,
        features: &[f64],
        neighbours: &[NeighbourRef],
        population: &Population,
        key: &PseudonymKey,
        min_n: usize,
    ) -> Self {
        let outcomes_of: Vec<_> = neighbours.iter().map(|n| population.outcomes_of(&n.patient, n.index_time)).collect();
        let outcomes = Outcome::ALL
            .into_iter()
            .map(|outcome| {
                OutcomeRow {
                    outcome,
                    label: outcome.label().to_owned(),
                    neighbours: estimate_over(outcome, outcomes_of.iter().flatten(), min_n),
                    pooled: None,
                    pooled_withheld: None,
                    population: population.figure(outcome),
                    snapshot_baseline: population.snapshot_prediction(outcome, features),
                    twin_head: None,
                    twin_head_withheld: None,
                }
            })
            .collect();
        CohortReport {
            index_date,
            k: neighbours.len(),
            min_n,
            neighbours: neighbours
                .iter()
                .map(|n| NeighbourRow { pseudonym: key.pseudonym(&n.patient), distance: n.distance })
                .collect(),
            outcomes,
            twin_head_unavailable: None,
            pooling_unavailable: None,
            audit: CohortAudit {
                neighbour_ids: neighbours.iter().map(|n| n.patient.clone()).collect(),
                neighbour_index_times: neighbours.iter().map(|n| n.index_time).collect(),
                distances: neighbours.iter().map(|n| n.distance).collect(),
            },
        }
    }

    pub fn outcome(&self, outcome: Outcome) -> Option<&OutcomeRow> {
        self.outcomes.iter().find(|r| r.outcome == outcome)
    }

    /// Pools every yes/no outcome's neighbour figure with `prior` (this twin's
    /// neighbourhoods' usual rate and its weight, read for the question's `moment`):
    /// the figure read for this patient.
    pub fn pool_with(&mut self, prior: &NeighbourhoodPrior, moment: Moment) {
        for row in &mut self.outcomes {
            // Below the minimum n there is no figure to read, pooled or not.
            row.pooled = row.neighbours.value().and_then(|rate| prior.pool(row.outcome, rate, row.neighbours.n(), moment));
            row.pooled_withheld = row.neighbours.value().and_then(|_| prior.withheld(row.outcome, moment));
        }
    }

    /// The report of `patient` as a readable table (`rdt cohort`): per outcome n,
    /// estimate, 95% interval, population and snapshot baseline; then the neighbours
    /// by pseudonym and distance.
    pub fn table(&self, patient: &str) -> String {
        use std::fmt::Write as _;
        let mut t = String::new();
        let _ = writeln!(
            t,
            "In silico cohort of {patient} at {}: {} nearest historical patients\n",
            self.index_date, self.k
        );
        let figure = |e: &Estimate| match e {
            Estimate::Rate { rate, .. } => format!("{:.0}%", 100.0 * rate),
            Estimate::KaplanMeier { rate, .. } => format!("{:.0}% (Kaplan-Meier)", 100.0 * rate),
            Estimate::Mean { mean, .. } => format!("{mean:.2}"),
            Estimate::Weighted { value, is_rate: true, .. } => format!("{:.0}% (weighted)", 100.0 * value),
            Estimate::Weighted { value, .. } => format!("{value:.2} (weighted)"),
            Estimate::NotEnoughComparablePatients { .. } => "not enough comparable patients".to_owned(),
        };
        let interval = |e: &Estimate| match e {
            Estimate::Rate { ci, .. } | Estimate::KaplanMeier { ci, .. } | Estimate::Weighted { ci, is_rate: true, .. } => {
                format!("{:.0}-{:.0}%", 100.0 * ci.low, 100.0 * ci.high)
            }
            Estimate::Mean { ci, .. } | Estimate::Weighted { ci, .. } => format!("{:.2}-{:.2}", ci.low, ci.high),
            Estimate::NotEnoughComparablePatients { .. } => "-".to_owned(),
        };
        let _ = writeln!(
            t,
            "{:<48} {:>4}  {:<30} {:<12} {:<20} {:<28} {:<12} snapshot baseline",
            "outcome", "n", "estimate", "95% CI", "pooled (95% CI)", "twin head (held out, 95% CI)", "population"
        );
        for row in &self.outcomes {
            let baseline = row.snapshot_baseline.map_or("-".to_owned(), |v| {
                if row.outcome.is_rate() {
                    format!("{:.0}%", 100.0 * v)
                } else {
                    format!("{v:.2}")
                }
            });
            let head = row.twin_head.as_ref().map_or("-".to_owned(), |h| match (row.outcome.is_rate(), h.interval) {
                (true, Some(ci)) => format!(
                    "{:.0}% (seen {:.0}%, {:.0}-{:.0}%)",
                    100.0 * h.value,
                    100.0 * h.observed.unwrap_or(h.value),
                    100.0 * ci.low,
                    100.0 * ci.high
                ),
                (false, Some(ci)) => format!("{:.2} ({:.2}-{:.2})", h.value, ci.low, ci.high),
                (true, None) => format!("{:.0}%", 100.0 * h.value),
                (false, None) => format!("{:.2}", h.value),
            });
            let pooled = row.pooled.map_or("-".to_owned(), |p| {
                format!("{:.0}% ({:.0}-{:.0}%)", 100.0 * p.value, 100.0 * p.ci.low, 100.0 * p.ci.high)
            });
            let _ = writeln!(
                t,
                "{:<48} {:>4}  {:<30} {:<12} {:<20} {:<28} {:<12} {}",
                row.label,
                row.neighbours.n(),
                figure(&row.neighbours),
                interval(&row.neighbours),
                pooled,
                head,
                figure(&row.population),
                baseline
            );
        }
        if let Some(why) = &self.pooling_unavailable {
            let _ = writeln!(t, "\nno pooled figures: {why}");
        }
        if let Some(why) = &self.twin_head_unavailable {
            let _ = writeln!(t, "\nno twin head figures: {why}");
        }
        for row in &self.outcomes {
            if let Some(why) = &row.twin_head_withheld {
                let _ = writeln!(t, "\nno twin head figure for {}: {why}", row.label);
            }
            if let Some(why) = &row.pooled_withheld {
                let _ = writeln!(t, "\nno pooled figure for {}: {why}", row.label);
            }
        }
        for line in self.outcomes.iter().filter_map(OutcomeRow::disagreement) {
            let _ = writeln!(t, "\n{line}");
        }
        if let Some(p) = self.outcomes.iter().find_map(|r| r.pooled) {
            let _ = writeln!(
                t,
                "\npooled: the neighbours' count read as this patient's chance, drawn toward the usual rate of this \
                 twin's neighbourhoods by a weight measured on them (e.g. {:.1} patients at {:.0}%).",
                p.prior_weight,
                100.0 * p.prior_rate
            );
        }
        if self.outcomes.iter().any(|r| r.twin_head.is_some()) {
            let _ = writeln!(
                t,
                "\ntwin head: its figure, then what happened to the held-out patients it gave a similar figure \
                 (share, 95% CI); for DAS28 the held-out 95% residual range."
            );
        }
        let _ = writeln!(t, "\nneighbours (pseudonym, cosine distance):");
        for n in &self.neighbours {
            let _ = writeln!(t, "  {}  {:.4}", n.pseudonym.as_str(), n.distance);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use journey::clinical::drugs::METHOTREXATE;
    use crate::cohort::features::snapshot_features;
    use crate::cohort::testutil::{das28, drug, Journey};
    use chrono::{Duration, TimeZone};

    /// Twelve patients on methotrexate from day 0; the even ones respond (5.8 -> 3.0),
    /// the odd ones do not (5.8 -> 5.6). One snapshot each at day 30.
    fn population() -> (Vec<(PatientId, Vec<journey::event::Event>)>, Population) {
        let journeys: Vec<(PatientId, Vec<journey::event::Event>)> = (0..12)
            .map(|i| {
                let id = PatientId::new(format!("patient-{i:03}")).unwrap();
                let end = if i % 2 == 0 { 3.0 } else { 5.6 };
                let mut events =
                    Journey::new(vec![das28(0, 5.8), das28(182, end), das28(400, end), drug(0, None, METHOTREXATE)])
                        .events;
                for e in &mut events {
                    e.patient = id.clone();
                }
                (id, events)
            })
            .collect();
        let day30 = |events: &[journey::event::Event]| vec![events[0].time + Duration::days(30)];
        let population = Population::build(journeys.iter().map(|(p, e)| (p, e.as_slice())), &day30);
        (journeys, population)
    }

    fn neighbours(journeys: &[(PatientId, Vec<journey::event::Event>)], n: usize) -> Vec<NeighbourRef> {
        journeys
            .iter()
            .take(n)
            .enumerate()
            .map(|(i, (p, e))| NeighbourRef {
                patient: p.clone(),
                index_time: e[0].time + Duration::days(30),
                distance: 0.01 * i as f32,
            })
            .collect()
    }

    /// The first patient's report on day 30 with its `n` nearest neighbours, min n 10.
    fn report_with(n: usize) -> CohortReport {
        let (journeys, population) = population();
        let key = PseudonymKey::from_bytes([9; 32]);
        let at = Utc.with_ymd_and_hms(2020, 1, 31, 0, 0, 0).unwrap();
        let features = snapshot_features(population.record(&journeys[0].0).unwrap(), at);
        CohortReport::build(at.date_naive(), &features, &neighbours(&journeys, n), &population, &key, 10)
    }

    #[test]
    fn report_counts_neighbours_with_data_and_refuses_below_min_n() {
        let report = report_with(10);
        let mtx = report.outcome(Outcome::MtxResponse6m).unwrap();
        assert!(matches!(mtx.neighbours, Estimate::Rate { n: 10, events: 5, .. }), "{:?}", mtx.neighbours);
        assert!(matches!(mtx.population, Estimate::Rate { n: 12, events: 6, .. }));
        // Twelve snapshots are too few for a baseline figure (a regression on few
        // patients extrapolates): none is shown.
        assert_eq!(mtx.snapshot_baseline, None);
        // No TNF inhibitor anywhere: no data, no figure.
        let tnfi = report.outcome(Outcome::TnfiResponse6m).unwrap();
        assert_eq!(tnfi.neighbours, Estimate::NotEnoughComparablePatients { n: 0, min_n: 10 });
        // Nine neighbours: below the minimum, whatever their outcomes.
        let few = report_with(9);
        assert!(matches!(
            few.outcome(Outcome::MtxResponse6m).unwrap().neighbours,
            Estimate::NotEnoughComparablePatients { n: 9, min_n: 10 }
        ));
    }

    /// The terminal table names each outcome whose head figure is withheld, and why.
    #[test]
    fn the_table_says_why_a_head_figure_is_withheld() {
        let mut report = report_with(10);
        let why = "not calibrated on held-out patients: calibration slope 1.31, outside 0.8-1.2";
        for row in report.outcomes.iter_mut().filter(|r| r.outcome == Outcome::Flare6m) {
            row.twin_head_withheld = Some(why.to_owned());
        }
        let table = report.table("patient-000");
        assert!(table.contains(&format!("no twin head figure for flare within 6 months: {why}")), "{table}");
        assert_eq!(table.matches("no twin head figure for").count(), 1, "{table}");
    }

    /// The head and the neighbours disagree only when each lies outside the other's
    /// interval; the sentence names both figures and the neighbours' n.
    #[test]
    fn a_plain_line_when_the_head_and_the_neighbours_disagree() {
        use crate::cohort::stats::Interval;
        let mut row = OutcomeRow {
            outcome: Outcome::MtxResponse6m,
            label: "MTX response at 6 months".into(),
            neighbours: Estimate::rate(&[true; 18].iter().copied().chain([false; 2]).collect::<Vec<_>>(), 10),
            pooled: None,
            pooled_withheld: None,
            population: Estimate::rate(&[true, false], 1),
            snapshot_baseline: None,
            twin_head: Some(HeadFigure {
                value: 0.30,
                interval: Some(Interval { low: 0.22, high: 0.38 }),
                observed: Some(0.29),
                n: 140,
            }),
            twin_head_withheld: None,
        };
        let line = row.disagreement().expect("90% of 20 against 30%");
        assert!(line.contains("30%") && line.contains("90%") && line.contains("n = 20"), "{line}");
        row.twin_head.as_mut().unwrap().value = 0.80;
        row.twin_head.as_mut().unwrap().interval = Some(Interval { low: 0.70, high: 0.88 });
        assert_eq!(row.disagreement(), None, "80% sits inside the neighbours' interval");
        row.twin_head = None;
        assert_eq!(row.disagreement(), None);
    }

    /// Pooling reads each yes/no figure for this patient with the prior's weight,
    /// leaves the neighbours' own count as it was, and gives nothing for a value or
    /// below the minimum n; the table and the disagreement read the pooled figure.
    #[test]
    fn pooling_reads_the_count_for_this_patient_and_keeps_the_count() {
        use crate::cohort::pooling::{NeighbourhoodPrior, OutcomePrior};
        let prior = NeighbourhoodPrior {
            twin_version: audit_log::Digest::of(b"twin").to_hex(),
            k: 10,
            outcomes: vec![OutcomePrior {
                outcome: Outcome::MtxResponse6m,
                rate: 0.2,
                weight: 10.0,
                neighbourhoods: 100,
                mean_n: 10.0,
                calibration_slope: Some(0.95),
                calibration_n: 90,
            }],
            at_decisions: vec![],
        };
        let mut report = report_with(10);
        let before = report.outcome(Outcome::MtxResponse6m).unwrap().neighbours.clone();
        report.pool_with(&prior, Moment::Other);
        let mtx = report.outcome(Outcome::MtxResponse6m).unwrap();
        assert_eq!(mtx.neighbours, before, "the count stays");
        let pooled = mtx.pooled.expect("pooled");
        // 5 of 10 with 10 patients' worth at 20%: (5 + 2) / 20.
        assert!((pooled.value - 0.35).abs() < 1e-12, "{pooled:?}");
        assert_eq!(mtx.neighbour_figure().map(|(v, _)| v), Some(pooled.value));
        assert!(report.outcome(Outcome::Das28Day150).unwrap().pooled.is_none(), "a value is not pooled");
        assert!(report.outcome(Outcome::TnfiResponse6m).unwrap().pooled.is_none(), "no data, no figure");
        assert!(report.table("patient-000").contains("35% (") , "{}", report.table("patient-000"));
        // The disagreement line reads the pooled figure, and says so.
        let row = report.outcomes.iter_mut().find(|r| r.outcome == Outcome::MtxResponse6m).unwrap();
        row.twin_head = Some(HeadFigure { value: 0.9, interval: Some(Interval { low: 0.85, high: 0.95 }), observed: Some(0.9), n: 100 });
        let line = row.disagreement().expect("35% against 90%");
        assert!(line.contains("pooled for this patient: 35%, n = 10"), "{line}");
        // Without a prior the table says why no rate is read for the patient.
        let mut bare = report_with(10);
        bare.pooling_unavailable = Some("no neighbourhood prior at models/neighbourhood-prior.json: run `rdt embed`".into());
        assert!(bare.table("patient-000").contains("no pooled figures: no neighbourhood prior"), "{}", bare.table("patient-000"));
        let mut few = report_with(9);
        few.pool_with(&prior, Moment::Other);
        assert!(few.outcome(Outcome::MtxResponse6m).unwrap().pooled.is_none(), "below the minimum n");
        // A prior whose pooled figure was not calibrated where it was measured: the
        // count stays, no pooled figure, and the row says why.
        let mut uncalibrated = prior.clone();
        uncalibrated.outcomes[0].calibration_slope = Some(1.6);
        let mut report = report_with(10);
        report.pool_with(&uncalibrated, Moment::Other);
        let mtx = report.outcome(Outcome::MtxResponse6m).unwrap();
        assert!(mtx.pooled.is_none() && mtx.neighbours == before);
        let why = mtx.pooled_withheld.as_deref().expect("a reason");
        assert!(why.contains("slope 1.60"), "{why}");
        assert!(report.table("patient-000").contains("no pooled figure for MTX"), "{}", report.table("patient-000"));
    }

    #[test]
    fn report_json_never_names_a_neighbour() {
        let (journeys, population) = population();
        let key = PseudonymKey::from_bytes([9; 32]);
        let at = Utc.with_ymd_and_hms(2020, 1, 31, 0, 0, 0).unwrap();
        let report =
            CohortReport::build(at.date_naive(), &[0.0; 25], &neighbours(&journeys, 12), &population, &key, 10);
        let json = serde_json::to_string(&report).unwrap();
        for (id, _) in &journeys {
            assert!(!json.contains(id.as_str()), "{id} in the report");
        }
        assert!(!json.contains("patient-"));
        assert_eq!(report.audit.neighbour_ids.len(), 12, "the audit keeps the real ids");
        assert_eq!(report.neighbours[3].pseudonym, key.pseudonym(&journeys[3].0));
    }
}
