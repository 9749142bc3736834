//! The twin of one install: where its checkpoints live (`<data-dir>/models`), the
//! active one ([`load_active`]), and training a new one on the store's cohort and
//! registering it ([`train_and_register`], what `rdt train` and `rdt demo` run).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use audit_log::{AuditError, ModelRegistry, Principal};
use journey::store::{JourneyStore, StoreError};
use serde_json::json;

use super::model::{self, SavedTwin, TwinError, TwinModel};
use super::pipeline::{planned_steps, train_twin, Stage, TrainOptions};
use crate::encode::note::{note_vectors, NoteError, NoteVectors, SentenceCounts, SentenceWeights};
use crate::index::build::load_journeys_with;
use crate::progress::Progress;
use crate::train::pretrain::ReconstructionAccuracy;

/// Where an install keeps its twin checkpoints.
pub fn models_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("models")
}

/// The active twin of the install at `data_dir`, verified against `registry`.
pub async fn load_active(data_dir: &Path, registry: &ModelRegistry) -> Result<TwinModel, TwinError> {
    let dir = model::active_dir(registry, &models_dir(data_dir)).await?.ok_or(TwinError::NoActiveTwin)?;
    TwinModel::load(&dir, registry).await
}

/// What a training run is asked for.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    pub options: TrainOptions,
    /// Train on the first N patients only.
    pub max_patients: Option<usize>,
    /// Embed notes with MiniLM and use them as a modality.
    pub notes: bool,
    /// Who pins and activates the twin (a governance principal).
    pub by: Principal,
    /// Train on the journeys as they stood at the end of a day (the temporal split).
    pub until: Option<Until>,
}

/// Where a training run stops reading journeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    Date(chrono::NaiveDate),
    /// The temporal split's cut date (`eval::split::temporal_cut`) of this cohort.
    TemporalCut,
}

impl std::str::FromStr for Until {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "temporal-cut" => Ok(Until::TemporalCut),
            date => date
                .parse()
                .map(Until::Date)
                .map_err(|_| format!("`{date}`: expected YYYY-MM-DD or temporal-cut")),
        }
    }
}

/// Seconds spent per part of a run.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct TrainSeconds {
    pub read: f64,
    pub note_vectors: f64,
    pub train: f64,
}

/// A twin trained, saved (with `loss.csv` and `loss.svg` beside it), pinned and active.
#[derive(Debug, Clone)]
pub struct TrainReport {
    pub saved: SavedTwin,
    pub patients: usize,
    /// Codes in the twin's vocabulary.
    pub vocabulary: usize,
    pub reconstruction: ReconstructionAccuracy,
    pub seconds: TrainSeconds,
    /// The notes' sentences, when notes were used: how many, how many distinct, how
    /// many embedded now (the rest from the cache).
    pub note_sentences: Option<SentenceCounts>,
    /// Rows the prognosis part's trees were fitted on; `None` when the twin has no
    /// prognosis part (left out, or too few train-part outcomes to fit one).
    pub prognosis_rows: Option<usize>,
    /// Their complexity budget, beside the rows.
    pub prognosis_budget: Option<crate::cohort::boosting::Budget>,
    /// The clinical strata the twin matches on ([`super::strata`]); empty without.
    pub strata: Vec<&'static str>,
}

impl TrainReport {
    /// The run as JSON (`rdt train --json`): version, checkpoint, cohort, accuracy, time.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "version": self.saved.version.to_hex(),
            "dir": self.saved.dir.display().to_string(),
            "patients": self.patients,
            "vocabulary": self.vocabulary,
            "reconstruction": self.reconstruction,
            "seconds": self.seconds,
            "note_sentences": self.note_sentences,
            "prognosis_rows": self.prognosis_rows,
            "prognosis_budget": self.prognosis_budget,
            "strata": self.strata,
        })
    }

    /// The run for a terminal: the twin, its accuracy against the baseline, and who
    /// pinned and activated it (`by`).
    pub fn text(&self, by: &Principal) -> String {
        let (r, s, saved) = (&self.reconstruction, &self.seconds, &self.saved);
        let sentences = self.note_sentences.map_or(String::new(), |c| {
            format!(
                "  notes: {} read, {} sentences, {} distinct, {} embedded now (the rest cached)\n",
                c.notes, c.sentences, c.distinct, c.embedded
            )
        });
        let prognosis = match (self.prognosis_rows, self.prognosis_budget) {
            (Some(rows), Some(budget)) => format!("boosted trees (budget {budget}) on {rows} train-part decision points"),
            (Some(rows), None) => format!("boosted trees on {rows} train-part decision points"),
            (None, _) => "none".to_owned(),
        };
        let strata = if self.strata.is_empty() { "none".to_owned() } else { self.strata.join(", ") };
        let text = format!(
            "twin {} trained on {} patients in {:.0} s (+{:.0} s reading, {:.0} s note vectors)\n  \
             vocabulary: {} codes; checkpoint: {}\n  \
             masked-event reconstruction (held out): {:.1}% vs most frequent code {:.1}% ({} masked events)\n  \
             prognosis part: {prognosis}; strata: {strata}\n  \
             loss log: loss.csv, loss.svg; pinned and activated by {by}\n",
            saved.version, self.patients, s.train, s.read, s.note_vectors, self.vocabulary, saved.dir.display(),
            100.0 * r.model, 100.0 * r.most_frequent_code, r.masked_events
        );
        text + &sentences
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainError {
    #[error("the store holds {0} patient(s); training needs at least 2")]
    TooFewPatients(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Notes(#[from] NoteError),
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
    #[error(transparent)]
    Twin(#[from] TwinError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("no patient has a methotrexate start: the temporal split has no cut date")]
    NoTemporalCut,
}

/// Trains a twin on the store's cohort (masked-event pretraining, then fusion), saves
/// the checkpoint under [`models_dir`] with its loss log, pins its three files and
/// activates it as `request.by` (training a model is a governance act: the trail says
/// who), and signs a tree head over those entries.
pub async fn train_and_register(
    store: &JourneyStore,
    data_dir: &Path,
    registry: &ModelRegistry,
    request: &TrainRequest,
    progress: &dyn Progress,
) -> Result<TrainReport, TrainError> {
    let started = Instant::now();
    let mut cohort = load_journeys_with(store, request.max_patients, progress).await?;
    let until = match request.until {
        Some(Until::Date(d)) => Some(d),
        Some(Until::TemporalCut) => Some(
            crate::eval::split::temporal_cut(cohort.iter().map(|(_, e)| e.as_slice()), crate::eval::split::CASE_DAYS_AFTER_MTX)
                .ok_or(TrainError::NoTemporalCut)?,
        ),
        None => None,
    };
    if let Some(cut) = until {
        cohort = cohort
            .into_iter()
            .map(|(p, e)| (p, crate::eval::split::journey_until(&e, cut)))
            .filter(|(_, e)| !e.is_empty())
            .collect();
    }
    if cohort.len() < 2 {
        return Err(TrainError::TooFewPatients(cohort.len()));
    }
    let read = started.elapsed().as_secs_f64();
    let notes_started = Instant::now();
    let notes = if request.notes {
        // Every note: each training crop reads the notes as of its own cut. The spec is
        // not built yet; which notes it reads does not depend on it.
        let texts: Vec<&str> = cohort.iter().flat_map(|(_, e)| super::features::notes_through(e, None)).collect();
        let weights = SentenceWeights::fit(&texts);
        note_vectors(data_dir, registry, texts, progress).await?.weighted_by(Some(weights))
    } else {
        NoteVectors::new()
    };
    let note_seconds = notes_started.elapsed().as_secs_f64();

    let options = &request.options;
    let (pretrain_steps, fusion_steps) = planned_steps(options, cohort.len());
    let journeys: Vec<&[journey::Event]> = cohort.iter().map(|(_, e)| e.as_slice()).collect();
    let note_vector = |text: &str| notes.vector(text);
    let train_started = Instant::now();
    let mut stage_times = HashMap::new();
    progress.stage("pretraining", pretrain_steps as u64);
    let trained = train_twin(&journeys, options, &note_vector, |stage, _| match stage {
        Stage::Pretrain | Stage::Fusion => progress.advance(1),
        Stage::EventVectors => {
            progress.done();
            stage_times.insert("pretrain_and_event_vectors_secs", train_started.elapsed().as_secs_f64());
            progress.stage("fusion", fusion_steps as u64);
        }
    })?;
    progress.done();
    let seconds = TrainSeconds { read, note_vectors: note_seconds, train: train_started.elapsed().as_secs_f64() };

    let mut manifest = trained.manifest.clone();
    // The weights the training read the notes with, so every later reading agrees.
    manifest.spec.note_weights = notes.weights().cloned();
    manifest.training["notes"] = json!(request.notes);
    manifest.training["note_sentences"] = json!(request.notes.then_some(notes.counts));
    manifest.training["until"] = json!(until.map(|d| d.to_string()));
    manifest.training["seconds"] = json!({
        "read": seconds.read, "note_vectors": seconds.note_vectors, "train": seconds.train, "stages": stage_times,
    });
    let saved = model::save(&models_dir(data_dir), manifest, &trained.encoder_vars, &trained.fusion_vars)?;
    let csv = crate::train::log::loss_csv(&trained.pretrain_log, &trained.fusion_log);
    let svg = crate::train::log::loss_svg(&trained.pretrain_log, &trained.fusion_log);
    for (name, text) in [("loss.csv", csv), ("loss.svg", svg)] {
        let path = saved.dir.join(name);
        std::fs::write(&path, text).map_err(|source| TrainError::Io { path, source })?;
    }
    let reason = format!("trained by rdt train on {} patients", cohort.len());
    model::register(registry, &request.by, &saved, &reason).await?;
    registry.log().sign_head().await?;
    Ok(TrainReport {
        saved,
        patients: cohort.len(),
        vocabulary: trained.manifest.spec.vocab.len(),
        reconstruction: trained.reconstruction,
        seconds,
        note_sentences: request.notes.then_some(notes.counts),
        prognosis_rows: trained.manifest.spec.prognosis.as_ref().map(|p| p.rows()),
        prognosis_budget: trained.manifest.spec.prognosis.as_ref().map(|p| p.budget()),
        strata: trained.manifest.spec.strata.as_ref().map_or_else(Vec::new, |s| s.names()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit_log::{Digest, Role};

    #[test]
    fn the_report_shows_accuracy_beside_the_baseline_and_who_pinned() {
        let report = TrainReport {
            saved: SavedTwin { dir: PathBuf::from("/d/models/abc"), version: Digest::of(b"twin"), files: Vec::new() },
            patients: 40,
            vocabulary: 120,
            reconstruction: ReconstructionAccuracy { masked_events: 300, model: 0.5, most_frequent_code: 0.125 },
            seconds: TrainSeconds { read: 1.0, note_vectors: 0.0, train: 12.4 },
            note_sentences: None,
            prognosis_rows: Some(900),
            prognosis_budget: Some(crate::cohort::boosting::Budget::BASELINE),
            strata: vec!["serostatus"],
        };
        let text = report.text(&Principal::new("ana", Role::Governance));
        assert!(text.contains("\n  prognosis part: boosted trees (budget 0.5) on 900 train-part decision points; strata: serostatus\n"));
        assert!(text.starts_with(&format!("twin {} trained on 40 patients in 12 s (+1 s reading, 0 s note vectors)\n", Digest::of(b"twin"))));
        assert!(text.contains("\n  vocabulary: 120 codes; checkpoint: /d/models/abc\n"));
        assert!(text.contains("(held out): 50.0% vs most frequent code 12.5% (300 masked events)\n"));
        assert!(text.ends_with("  loss log: loss.csv, loss.svg; pinned and activated by ana (governance)\n"));
        let json = report.json();
        assert_eq!(json["version"], Digest::of(b"twin").to_hex());
        assert_eq!(json["reconstruction"]["masked_events"], 300);
        assert_eq!(json["seconds"]["train"], 12.4);
        assert_eq!(json["strata"], serde_json::json!(["serostatus"]));
        assert_eq!(json["prognosis_budget"], 0.5);
    }
}
