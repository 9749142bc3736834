//! [`StateModel`]: the fitted chain (counts, bootstrap counts, settings), its forecast
//! and its file.
//!
//! The file is the model's JSON; its **version is the SHA-256 of the file's bytes**, so
//! an audit entry that cites the version names exactly the counts a forecast came from.
//! Counts, not probabilities, are stored: they are exact (no float formatting in the
//! hash), and a reader sees the data each probability rests on.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use audit_log::{ArtifactKind, Digest, GovernanceError, ModelRegistry, Principal};

use crate::artifact::{pin_active, read_active, write_whole, ArtifactFileError};
use serde::{Deserialize, Serialize};

use crate::encode::init::SplitMix64;
use journey::event::PatientId;
use crate::state::activity::DiseaseState;
use crate::state::forecast::{self, Forecast, HORIZONS_DAYS};
use crate::state::series::PatientSteps;
use crate::state::transition::{TransitionCounts, TransitionMatrix};
use crate::state::treatment::Treatment;

/// The file format this version writes and reads.
pub const FORMAT: &str = "rdt-state-model/1";

/// How a model is estimated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StateModelConfig {
    /// The chain's step (series.rs: readings aligned to bins of this many days). 90
    /// days is the usual visit interval of treat-to-target care, so most adjacent bins
    /// hold a reading; 270 and 360 days are whole steps.
    pub step_days: i64,
    /// Symmetric Dirichlet prior per matrix row (1 = add-one smoothing).
    pub alpha: f64,
    /// Bootstrap resamples of patients for the intervals.
    pub resamples: usize,
    pub seed: u64,
}

impl Default for StateModelConfig {
    fn default() -> Self {
        StateModelConfig { step_days: 90, alpha: 1.0, resamples: 200, seed: 42 }
    }
}

/// A Markov model of DAS28 states, one transition matrix per [`Treatment`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateModel {
    pub format: String,
    pub config: StateModelConfig,
    /// Patients with at least one transition.
    pub patients: usize,
    pub counts: TransitionCounts,
    /// The counts of each bootstrap resample (patients drawn with replacement).
    pub bootstrap: Vec<TransitionCounts>,
}

/// Reading or writing a model file failed, or the journeys to fit it on.
#[derive(Debug, thiserror::Error)]
pub enum StateModelError {
    #[error(transparent)]
    Store(#[from] journey::store::StoreError),
    #[error("reading or writing the state model {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the state model {path} is not valid JSON of this format: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("the state model {path} has format `{found}`; this version reads `{FORMAT}`")]
    Format { path: PathBuf, found: String },
    /// The file is not the registry's active state model (tampered with, replaced, or
    /// never registered): refused, with what to do.
    #[error("{source}; refit and register it with `rdt forecast --refit`")]
    Governance {
        #[source]
        source: GovernanceError,
    },
}

impl From<ArtifactFileError> for StateModelError {
    fn from(e: ArtifactFileError) -> Self {
        match e {
            ArtifactFileError::Io { path, source } => StateModelError::Io { path, source },
            ArtifactFileError::Governance(source) => StateModelError::Governance { source },
        }
    }
}

/// Why a state model is pinned and activated when fitted (in the audit trail).
pub const REGISTER_REASON: &str = "state model fitted from the journey store";

impl StateModel {
    /// Estimates the model from every patient's steps.
    pub fn fit(data: &[PatientSteps], config: StateModelConfig) -> Self {
        let per_patient: Vec<TransitionCounts> =
            data.iter().filter(|p| !p.steps.is_empty()).map(|p| TransitionCounts::of_steps(&p.steps)).collect();
        let mut counts = TransitionCounts::default();
        for c in &per_patient {
            counts.add_counts(c, 1);
        }
        let mut rng = SplitMix64::new(config.seed);
        let n = per_patient.len();
        let bootstrap = (0..if n == 0 { 0 } else { config.resamples })
            .map(|_| {
                // Multiplicities first: one pass over the patients per resample.
                let mut times = vec![0u32; n];
                for _ in 0..n {
                    times[rng.below(n)] += 1;
                }
                let mut c = TransitionCounts::default();
                for (patient, t) in per_patient.iter().zip(&times).filter(|(_, t)| **t > 0) {
                    c.add_counts(patient, *t);
                }
                c
            })
            .collect();
        StateModel { format: FORMAT.to_owned(), config, patients: n, counts, bootstrap }
    }

    /// Estimates the model from the patients in `subset` only (e.g. a patient's
    /// neighbour cohort), to show beside the whole cohort's.
    pub fn fit_subset(data: &[PatientSteps], subset: &[PatientId], config: StateModelConfig) -> Self {
        let keep: HashSet<&PatientId> = subset.iter().collect();
        let chosen: Vec<PatientSteps> = data.iter().filter(|p| keep.contains(&p.patient)).cloned().collect();
        Self::fit(&chosen, config)
    }

    /// The smoothed point estimate under `treatment`.
    pub fn matrix(&self, treatment: Treatment) -> TransitionMatrix {
        self.counts.matrix(treatment, self.config.alpha)
    }

    /// The state distribution at each of `horizons` (days) from `from` while
    /// `treatment` continues, with 95% bootstrap intervals and the expected days in
    /// each state up to the longest horizon (forecast.rs for the method).
    pub fn forecast_at(&self, from: DiseaseState, treatment: Treatment, horizons: &[i64]) -> Forecast {
        let point = self.matrix(treatment);
        let bootstrap: Vec<TransitionMatrix> =
            self.bootstrap.iter().map(|c| c.matrix(treatment, self.config.alpha)).collect();
        let (horizons, time_in_state, over) =
            forecast::forecast(&point, &bootstrap, from, horizons, self.config.step_days);
        Forecast {
            from,
            treatment,
            step_days: self.config.step_days,
            horizons,
            time_in_state,
            time_in_state_days: over,
            transitions_from_state: self.counts.row_total(treatment, from),
            transitions_under_treatment: self.counts.total(treatment),
            patients: self.patients,
            resamples: self.bootstrap.len(),
        }
    }

    /// The chance of remission or low activity `days` after `from` while `treatment`
    /// continues, with its 95% bootstrap interval: the treat-to-target goal as one
    /// figure, for comparing treatments side by side.
    pub fn controlled_share(&self, from: DiseaseState, treatment: Treatment, days: i64) -> forecast::Estimate {
        use crate::state::activity::state_index;
        let start = crate::state::transition::point_mass(from);
        let share = |p: crate::state::transition::StateDistribution| {
            p[state_index(DiseaseState::Remission)] + p[state_index(DiseaseState::Low)]
        };
        let at = |m: &TransitionMatrix| share(forecast::distribution_at(m, start, days as f64, self.config.step_days));
        let mut samples: Vec<f64> =
            self.bootstrap.iter().map(|c| at(&c.matrix(treatment, self.config.alpha))).collect();
        forecast::Estimate::with_percentiles(at(&self.matrix(treatment)), &mut samples)
    }

    /// [`Self::forecast_at`] the design's horizons, 150, 270 and 360 days.
    pub fn forecast(&self, from: DiseaseState, treatment: Treatment) -> Forecast {
        self.forecast_at(from, treatment, &HORIZONS_DAYS)
    }

    /// The file's bytes (compact JSON; its SHA-256 is the version).
    pub fn to_bytes(&self) -> Vec<u8> {
        // A struct of integers, a float from the config and strings cannot fail to serialise.
        serde_json::to_vec(self).expect("a state model serialises")
    }

    /// The version a saved copy of this model has: SHA-256 of [`Self::to_bytes`].
    pub fn version(&self) -> Digest {
        Digest::of(&self.to_bytes())
    }

    /// Writes the model (through a temporary file, so a reader never sees half a
    /// model) and returns its version.
    pub fn save(&self, path: &Path) -> Result<Digest, StateModelError> {
        Ok(write_whole(path, &self.to_bytes())?)
    }

    /// Where an install keeps its fitted model: `<data_dir>/models/state-model.json`
    /// (`rdt forecast` fits it there on first use; the tools and pages read it).
    pub fn install_path(data_dir: &Path) -> PathBuf {
        data_dir.join("models").join("state-model.json")
    }

    /// Fits the model on every journey of `store` and saves it at the install's path
    /// under `data_dir` (what `rdt forecast` does on first use or with `--refit`);
    /// returns it with its version.
    /// The fitted file is pinned and activated in `registry` (kind `state_model`) as
    /// `by`, so [`Self::load_active`] reads it and nothing else.
    pub async fn fit_install(
        store: &journey::store::JourneyStore,
        data_dir: &Path,
        registry: &ModelRegistry,
        by: &Principal,
        progress: &dyn crate::progress::Progress,
    ) -> Result<(Self, Digest), StateModelError> {
        let config = StateModelConfig::default();
        let journeys = crate::index::build::load_journeys_with(store, None, progress).await?;
        let data: Vec<PatientSteps> = journeys
            .iter()
            .map(|(id, events)| crate::state::series::patient_steps(id.clone(), events, config.step_days))
            .collect();
        let model = StateModel::fit(&data, config);
        let version = model.save(&Self::install_path(data_dir))?;
        model.register(registry, by, REGISTER_REASON).await?;
        Ok((model, version))
    }

    /// Pins this model's bytes (unless pinned already) and makes them the active
    /// state model, each step an audit entry by `by` with `reason`.
    pub async fn register(&self, registry: &ModelRegistry, by: &Principal, reason: &str) -> Result<Digest, StateModelError> {
        pin_active(registry, by, ArtifactKind::StateModel, "state-model.json", &self.to_bytes(), reason)
            .await
            .map_err(|source| StateModelError::Governance { source })
    }

    /// Reads the model at `path` once, hashes those bytes and parses the same bytes,
    /// refusing them unless their SHA-256 is the registry's active state model: a file
    /// edited or swapped after it was fitted never reaches a forecast.
    pub async fn load_active(path: &Path, registry: &ModelRegistry) -> Result<(Self, Digest), StateModelError> {
        let (bytes, _) = read_active(path, registry, ArtifactKind::StateModel, "the state model").await?;
        Self::from_bytes(path, &bytes)
    }

    /// Reads a model and its version (SHA-256 of the bytes read), with no registry
    /// check: for files outside an install (tests, evaluation). An install's model is
    /// read with [`Self::load_active`].
    pub fn load(path: &Path) -> Result<(Self, Digest), StateModelError> {
        let bytes = std::fs::read(path).map_err(|source| StateModelError::Io { path: path.to_owned(), source })?;
        Self::from_bytes(path, &bytes)
    }

    fn from_bytes(path: &Path, bytes: &[u8]) -> Result<(Self, Digest), StateModelError> {
        let model: StateModel = serde_json::from_slice(bytes)
            .map_err(|source| StateModelError::Parse { path: path.to_owned(), source })?;
        if model.format != FORMAT {
            return Err(StateModelError::Format { path: path.to_owned(), found: model.format });
        }
        Ok((model, Digest::of(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::activity::state_index;
    use crate::state::activity::DiseaseState::*;
    use crate::state::series::Step;

    /// 60 patients under methotrexate: two thirds improve high -> moderate -> low, a
    /// third stay high. Deterministic, so the bootstrap varies only by its seed.
    fn cohort() -> Vec<PatientSteps> {
        (0..60)
            .map(|i| {
                let t = Treatment::Csdmard;
                let steps = if i % 3 == 0 {
                    vec![Step { treatment: t, from: High, to: High }, Step { treatment: t, from: High, to: High }]
                } else {
                    vec![
                        Step { treatment: t, from: High, to: Moderate },
                        Step { treatment: t, from: Moderate, to: Low },
                    ]
                };
                PatientSteps { patient: PatientId::new(format!("p{i}")).unwrap(), steps }
            })
            .collect()
    }

    #[test]
    fn forecast_rows_sum_to_one_and_intervals_contain_the_point() {
        let model = StateModel::fit(&cohort(), StateModelConfig { resamples: 50, ..Default::default() });
        assert_eq!(model.patients, 60);
        assert_eq!(model.counts.row_total(Treatment::Csdmard, High), 80);
        let f = model.forecast(High, Treatment::Csdmard);
        assert_eq!(f.horizons.iter().map(|h| h.days).collect::<Vec<_>>(), vec![150, 270, 360]);
        for h in &f.horizons {
            let total: f64 = h.states.iter().map(|s| s.probability.value).sum();
            assert!((total - 1.0).abs() < 1e-9, "{total}");
            for s in &h.states {
                let e = s.probability;
                assert!(e.low <= e.value && e.value <= e.high, "{e:?}");
                assert!((0.0..=1.0).contains(&e.low) && e.high <= 1.0);
            }
        }
        let days: f64 = f.time_in_state.iter().map(|t| t.days.value).sum();
        assert!((days - 360.0).abs() < 1e-6);
        // The bootstrap varies: some interval has width.
        assert!(f.horizons[0].states.iter().any(|s| s.probability.high > s.probability.low));
    }

    #[test]
    fn subset_and_file_round_trip() {
        let data = cohort();
        let ids: Vec<PatientId> = data.iter().step_by(3).map(|p| p.patient.clone()).collect();
        let sub = StateModel::fit_subset(&data, &ids, StateModelConfig { resamples: 5, ..Default::default() });
        // Only the patients who stay high were chosen.
        assert_eq!(sub.patients, 20);
        assert_eq!(sub.counts.0[Treatment::Csdmard.index()][state_index(High)][state_index(High)], 40);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state-model.json");
        let version = sub.save(&path).unwrap();
        let (back, read_version) = StateModel::load(&path).unwrap();
        assert_eq!(back, sub);
        assert_eq!(version, read_version);
        assert_eq!(version, Digest::of(&std::fs::read(&path).unwrap()));
        std::fs::write(&path, br#"{"format":"other"}"#).unwrap();
        assert!(StateModel::load(&path).is_err());
    }

    /// The install's state model loads only as the registry's active version, hashed
    /// from the bytes it parses: a file edited after it was registered (one count
    /// changed), or one never registered, is refused with an error naming the file,
    /// its sha256 and the command that refits it.
    #[tokio::test]
    async fn a_tampered_or_unregistered_state_model_is_refused() {
        use audit_log::{AuditLog, Role};
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("audit.sqlite").display());
        let registry = ModelRegistry::new(AuditLog::open(&url).await.unwrap());
        let by = Principal::new("gov", Role::Governance);
        let path = StateModel::install_path(dir.path());
        let model = StateModel::fit(&cohort(), StateModelConfig { resamples: 3, ..Default::default() });
        let version = model.save(&path).unwrap();

        let err = StateModel::load_active(&path, &registry).await.unwrap_err();
        assert!(matches!(err, StateModelError::Governance { source: GovernanceError::NotPinned { .. } }), "{err}");

        assert_eq!(model.register(&registry, &by, "test").await.unwrap(), version);
        let (loaded, loaded_version) = StateModel::load_active(&path, &registry).await.unwrap();
        assert_eq!((loaded, loaded_version), (model.clone(), version));
        // Registering again changes nothing.
        assert_eq!(model.register(&registry, &by, "test").await.unwrap(), version);

        let tampered = String::from_utf8(std::fs::read(&path).unwrap()).unwrap().replacen("40", "41", 1);
        assert_ne!(tampered.as_bytes(), std::fs::read(&path).unwrap().as_slice(), "the edit changed the file");
        std::fs::write(&path, tampered.as_bytes()).unwrap();
        let err = StateModel::load_active(&path, &registry).await.unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, StateModelError::Governance { source: GovernanceError::NotPinned { .. } }), "{msg}");
        assert!(msg.contains(&Digest::of(tampered.as_bytes()).to_hex()) && msg.contains("state-model.json"), "{msg}");
        assert!(msg.contains("rdt forecast --refit"), "{msg}");
        // The unchecked reader still parses it: only the registry tells it apart.
        assert!(StateModel::load(&path).is_ok());
    }
}
