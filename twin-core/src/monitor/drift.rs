//! Drift: are the patients arriving now like the population the twin was built on?
//!
//! `rdt embed` writes a [`DriftReference`] beside the index it rebuilds: for each
//! latest-visit feature the clinician would read (the snapshot baseline's,
//! [`FEATURE_NAMES`]: DAS28 and its parts, CRP, ESR, age, sex, disease duration, the
//! drugs running) the reference population's decile cuts and the share of patients in
//! each bin, and the same for the cosine distance from a patient's live twin to the
//! nearest other patient's. [`check`] reads the patients the store holds now and the
//! reference does not (arrived since, by import, upload or FHIR post), bins the same
//! features and the distance from each one's live twin to the nearest *reference*
//! patient, and scores each with the population stability index
//! (PSI = sum over bins of (new - reference) x ln(new / reference)). A PSI above
//! [`PSI_NOTICE`] on any of them, with at least [`MIN_NEW_PATIENTS`] new patients, is a
//! governance notice: the twin, its heads and its cohorts were fitted on patients
//! unlike these.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use audit_log::Digest;
use chrono::{DateTime, Utc};
use journey::event::Event;
use journey::store::{JourneyStore, StoreError};
use journey::PatientId;
use serde::{Deserialize, Serialize};

use crate::cohort::features::{snapshot_features, FEATURE_NAMES};
use crate::cohort::record::ClinicalRecord;
use crate::index::build::{embed_journeys, SnapshotPlan};
use crate::index::{IndexError, IndexPoint, NeighbourIndex, NeighbourQuery, SnapshotKind};
use crate::twin::{TwinError, TwinModel};

/// PSI above which a feature has shifted enough to tell governance (the usual
/// convention: below 0.1 stable, 0.1 to 0.25 worth watching, above 0.25 shifted).
pub const PSI_NOTICE: f64 = 0.25;
/// PSI above which a feature is worth watching.
pub const PSI_WATCH: f64 = 0.10;
/// Fewer new patients than this are too few to call a shift.
pub const MIN_NEW_PATIENTS: usize = 50;
/// Reference patients whose nearest-neighbour distance is measured (evenly spread):
/// enough for deciles, bounded so a rebuild of 100,000 patients does not pay 100,000
/// searches.
const NEAREST_SAMPLE: usize = 2_000;
/// Shares below this are read as this (an empty bin would make the PSI infinite).
const MIN_SHARE: f64 = 1e-4;
/// The name the nearest-neighbour distance goes by in reports.
pub const NEAREST: &str = "distance_to_nearest_twin";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriftError {
    #[error(
        "no drift reference at {0}: `rdt embed` writes one when it rebuilds the index"
    )]
    NoReference(PathBuf),
    #[error("the drift reference {path} was built for twin {reference}, the active twin is {active}: run `rdt embed`")]
    OtherTwin { path: PathBuf, reference: Digest, active: Digest },
    #[error("drift reference {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(transparent)]
    Twin(#[from] TwinError),
    #[error("cannot record the drift notice in the audit log: {0}")]
    Audit(String),
}

/// One quantity's reference distribution: cut points (distinct deciles) and the share
/// of reference values in each of the `cuts.len() + 1` bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bins {
    pub name: String,
    pub cuts: Vec<f64>,
    pub shares: Vec<f64>,
}

impl Bins {
    /// Deciles of `values` (distinct cut points: a yes/no feature gets two bins).
    pub fn fit(name: &str, values: &[f64]) -> Bins {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let mut cuts: Vec<f64> = Vec::new();
        if !sorted.is_empty() {
            for q in 1..10 {
                let cut = sorted[(sorted.len() - 1) * q / 10];
                if cuts.last() != Some(&cut) {
                    cuts.push(cut);
                }
            }
        }
        let mut bins = Bins { name: name.to_owned(), cuts, shares: Vec::new() };
        bins.shares = bins.shares_of(&sorted);
        bins
    }

    /// The share of `values` in each bin (`value <= cut` falls at or below that cut).
    pub fn shares_of(&self, values: &[f64]) -> Vec<f64> {
        let mut counts = vec![0usize; self.cuts.len() + 1];
        let mut n = 0usize;
        for v in values.iter().filter(|v| v.is_finite()) {
            counts[self.cuts.partition_point(|c| c < v)] += 1;
            n += 1;
        }
        counts.iter().map(|&c| if n == 0 { 0.0 } else { c as f64 / n as f64 }).collect()
    }

    /// The population stability index of `values` against the reference.
    pub fn psi(&self, values: &[f64]) -> f64 {
        self.shares_of(values)
            .iter()
            .zip(&self.shares)
            .map(|(&new, &reference)| {
                let (new, reference) = (new.max(MIN_SHARE), reference.max(MIN_SHARE));
                (new - reference) * (new / reference).ln()
            })
            .sum()
    }
}

/// The population the twin's index was built on, as drift is measured against it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriftReference {
    /// The twin whose index this describes.
    pub twin_version: Digest,
    pub built_at: DateTime<Utc>,
    /// Every patient of the population, sorted: the patients not here are new.
    pub patients: Vec<PatientId>,
    /// One per [`FEATURE_NAMES`] entry, in order, at each patient's last event.
    pub features: Vec<Bins>,
    /// Distance from a live twin to the nearest other patient's live twin.
    pub nearest: Bins,
}

impl DriftReference {
    /// Where an install keeps it.
    pub fn install_path(data_dir: &Path) -> PathBuf {
        data_dir.join("monitoring").join("drift-reference.json")
    }

    /// The reference of a rebuilt index: `journeys` (time-ordered) and their live
    /// `points`, searched for nearest neighbours in `index`.
    pub async fn build(
        model_version: Digest,
        journeys: &[(PatientId, Vec<Event>)],
        points: &[IndexPoint],
        index: &NeighbourIndex,
    ) -> Result<DriftReference, DriftError> {
        let columns = feature_columns(journeys);
        let features = FEATURE_NAMES.iter().zip(&columns).map(|(name, values)| Bins::fit(name, values)).collect();
        let live: Vec<&IndexPoint> = points.iter().filter(|p| p.kind == SnapshotKind::Live).collect();
        let step = live.len().div_ceil(NEAREST_SAMPLE).max(1);
        let mut distances = Vec::new();
        for p in live.iter().step_by(step) {
            let query = NeighbourQuery::new(p.vector.clone(), 1).kind(SnapshotKind::Live).excluding(p.patient.clone());
            if let Some(n) = index.search(&query).await?.first() {
                distances.push(n.distance as f64);
            }
        }
        let mut patients: Vec<PatientId> = journeys.iter().map(|(p, _)| p.clone()).collect();
        patients.sort();
        Ok(DriftReference {
            twin_version: model_version,
            built_at: Utc::now(),
            patients,
            features,
            nearest: Bins::fit(NEAREST, &distances),
        })
    }

    /// Writes it (to a temporary file, then renamed: never half-written).
    pub fn save(&self, path: &Path) -> Result<(), DriftError> {
        let fail = |e: &dyn std::fmt::Display| DriftError::File { path: path.to_owned(), message: e.to_string() };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
        }
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(self).map_err(|e| fail(&e))?).map_err(|e| fail(&e))?;
        std::fs::rename(&tmp, path).map_err(|e| fail(&e))
    }

    pub fn load(path: &Path) -> Result<DriftReference, DriftError> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(DriftError::NoReference(path.to_owned())),
            Err(e) => return Err(DriftError::File { path: path.to_owned(), message: e.to_string() }),
        };
        serde_json::from_slice(&bytes).map_err(|e| DriftError::File { path: path.to_owned(), message: e.to_string() })
    }
}

/// Each patient's latest-visit features at their last event, column by column.
fn feature_columns(journeys: &[(PatientId, Vec<Event>)]) -> Vec<Vec<f64>> {
    let mut columns = vec![Vec::with_capacity(journeys.len()); FEATURE_NAMES.len()];
    for (_, events) in journeys {
        let Some(last) = events.iter().map(|e| e.time).max() else { continue };
        let row = snapshot_features(&ClinicalRecord::read(events), last);
        for (column, value) in columns.iter_mut().zip(row) {
            column.push(value);
        }
    }
    columns
}

/// How far one quantity moved, by [`PSI_WATCH`] and [`PSI_NOTICE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShiftState {
    Stable,
    Watch,
    Shifted,
}

impl ShiftState {
    pub fn of(psi: f64) -> ShiftState {
        if psi > PSI_NOTICE {
            ShiftState::Shifted
        } else if psi > PSI_WATCH {
            ShiftState::Watch
        } else {
            ShiftState::Stable
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ShiftState::Stable => "stable",
            ShiftState::Watch => "watch",
            ShiftState::Shifted => "shifted",
        }
    }
}

/// How far one quantity moved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shift {
    pub name: String,
    pub psi: f64,
    pub state: ShiftState,
}

impl Shift {
    fn of(bins: &Bins, values: &[f64]) -> Shift {
        let psi = bins.psi(values);
        Shift { name: bins.name.clone(), psi, state: ShiftState::of(psi) }
    }

    /// "name (PSI 0.31)", as the notice and the trail name a shifted quantity.
    fn named(&self) -> String {
        format!("{} (PSI {:.2})", self.name, self.psi)
    }
}

/// What [`check`] found.
#[derive(Debug, Clone, Serialize)]
pub struct DriftReport {
    pub twin_version: Digest,
    pub reference_built_at: DateTime<Utc>,
    pub reference_patients: usize,
    pub new_patients: usize,
    /// One per feature, then the nearest-twin distance last.
    pub shifts: Vec<Shift>,
    /// Why governance should look, when it should: the shifted quantities and the
    /// numbers.
    pub notice: Option<String>,
}

impl DriftReport {
    /// A markdown table for the report file and the terminal.
    pub fn markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "# Drift: {} new patients against the {} the twin's index was built on ({})\n\n",
            self.new_patients,
            self.reference_patients,
            self.reference_built_at.format("%Y-%m-%d %H:%M UTC")
        );
        let _ = writeln!(out, "| quantity | PSI | state |\n|---|---|---|");
        for s in &self.shifts {
            let _ = writeln!(out, "| {} | {:.3} | {} |", s.name, s.psi, s.state.as_str());
        }
        let _ = writeln!(
            out,
            "\nPSI below {PSI_WATCH} is stable, {PSI_WATCH} to {PSI_NOTICE} worth watching, above {PSI_NOTICE} shifted; \
             at least {MIN_NEW_PATIENTS} new patients are needed to call a shift."
        );
        match &self.notice {
            Some(n) => _ = writeln!(out, "\n**Governance notice:** {n}"),
            None if self.new_patients < MIN_NEW_PATIENTS => {
                _ = writeln!(out, "\nToo few new patients to judge ({} of {MIN_NEW_PATIENTS}).", self.new_patients)
            }
            None => _ = writeln!(out, "\nNo notice: the new patients are like the reference population."),
        }
        out
    }
}

/// Scores the patients the store holds and `reference` does not against it, with the
/// active twin `model` and the install's `index` (for the distance to the nearest
/// reference patient).
pub async fn check(
    store: &JourneyStore,
    model: &TwinModel,
    index: &NeighbourIndex,
    reference: &DriftReference,
    reference_path: &Path,
) -> Result<DriftReport, DriftError> {
    if reference.twin_version != model.version {
        return Err(DriftError::OtherTwin {
            path: reference_path.to_owned(),
            reference: reference.twin_version,
            active: model.version,
        });
    }
    let known: BTreeSet<&PatientId> = reference.patients.iter().collect();
    let mut journeys = Vec::new();
    for summary in store.patients().await? {
        let id = summary.patient.id;
        if known.contains(&id) {
            continue;
        }
        if let Some(journey) = store.journey(&id).await? {
            let mut events = journey.events;
            events.sort_by_key(|e| e.time);
            journeys.push((id, events));
        }
    }
    let columns = feature_columns(&journeys);
    let mut shifts: Vec<Shift> =
        reference.features.iter().zip(&columns).map(|(bins, values)| Shift::of(bins, values)).collect();

    // The new patients' live twins, each to the nearest reference patient's.
    let plan = SnapshotPlan::default();
    let points = embed_journeys(model, &journeys, &plan, &|_| None, || {})?;
    let mut distances = Vec::new();
    for p in points.iter().filter(|p| p.kind == SnapshotKind::Live) {
        let query = NeighbourQuery::new(p.vector.clone(), 20).kind(SnapshotKind::Live).excluding(p.patient.clone());
        if let Some(n) = index.search(&query).await?.into_iter().find(|n| known.contains(&n.patient)) {
            distances.push(n.distance as f64);
        }
    }
    shifts.push(Shift::of(&reference.nearest, &distances));

    let shifted: Vec<String> = shifts.iter().filter(|s| s.state == ShiftState::Shifted).map(Shift::named).collect();
    let notice = (journeys.len() >= MIN_NEW_PATIENTS && !shifted.is_empty()).then(|| {
        format!(
            "{} new patients differ from the {} the twin's index was built on: {}. Its cohorts and heads were \
             fitted on patients unlike these; review before relying on them (retrain or recalibrate).",
            journeys.len(),
            reference.patients.len(),
            shifted.join(", ")
        )
    });
    Ok(DriftReport {
        twin_version: model.version,
        reference_built_at: reference.built_at,
        reference_patients: reference.patients.len(),
        new_patients: journeys.len(),
        shifts,
        notice,
    })
}

/// [`check`] on an install: the active twin (verified against `registry`), the index
/// at `config` and the reference `rdt embed` wrote; a notice is appended to the audit
/// trail as `by` (a `drift_notice` entry, for governance).
pub async fn check_install(
    store: &JourneyStore,
    data_dir: &Path,
    registry: &audit_log::ModelRegistry,
    config: &crate::index::IndexConfig,
    by: audit_log::Principal,
) -> Result<(DriftReport, Option<audit_log::Seq>), DriftError> {
    let model = crate::twin::load_active(data_dir, registry).await?;
    let path = DriftReference::install_path(data_dir);
    let reference = DriftReference::load(&path)?;
    let index = NeighbourIndex::open(config).await?;
    let report = check(store, &model, &index, &reference, &path).await?;
    let Some(notice) = &report.notice else { return Ok((report, None)) };
    let drift = audit_log::DriftNoticeRecord {
        twin_version: report.twin_version,
        new_patients: report.new_patients as u64,
        reference_patients: report.reference_patients as u64,
        shifted: report.shifts.iter().filter(|s| s.state == ShiftState::Shifted).map(Shift::named).collect(),
        notice: notice.clone(),
    };
    let entry = audit_log::NewEntry::new(by, audit_log::EntryBody::DriftNotice { drift });
    let seq = registry.log().append(entry).await.map_err(|e| DriftError::Audit(e.to_string()))?;
    Ok((report, Some(seq)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deciles of a uniform sample cut it in ten; the same sample scores PSI 0, a
    /// shifted one far above the notice line, a yes/no feature gets two bins.
    #[test]
    fn bins_and_psi() {
        let values: Vec<f64> = (0..1000).map(|i| i as f64).collect();
        let bins = Bins::fit("x", &values);
        assert_eq!(bins.cuts.len(), 9);
        assert!(bins.shares.iter().all(|s| (s - 0.1).abs() < 0.002), "{:?}", bins.shares);
        assert!(bins.psi(&values).abs() < 1e-9);
        let half: Vec<f64> = (0..500).map(|i| i as f64 * 2.0).collect();
        assert!(bins.psi(&half) < PSI_WATCH, "an even subsample is stable: {}", bins.psi(&half));
        let shifted: Vec<f64> = values.iter().map(|v| v + 500.0).collect();
        assert!(bins.psi(&shifted) > PSI_NOTICE * 4.0, "{}", bins.psi(&shifted));

        let flags: Vec<f64> = (0..100).map(|i| if i < 30 { 1.0 } else { 0.0 }).collect();
        let yes_no = Bins::fit("flag", &flags);
        assert_eq!(yes_no.cuts, [0.0, 1.0]);
        assert_eq!(yes_no.shares, [0.7, 0.3, 0.0]);
        assert_eq!(yes_no.shares_of(&[0.0, 1.0]), [0.5, 0.5, 0.0]);
        assert!(yes_no.psi(&flags).abs() < 1e-9);
    }
}
