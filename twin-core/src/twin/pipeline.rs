//! Training a twin end to end on a cohort: feature spec, masked-event pretraining,
//! event vectors per time crop, fusion training. `rdt train` calls [`train_twin`]
//! and saves the result ([`super::model::save`]).

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::features::{FeatureSpec, PatientInputs};
use super::prognosis_part::PrognosisReading;
use crate::cohort::boosting::Budget;
use super::model::{encode_events, TwinManifest};
use crate::encode::event_encoder::{self, EventEncoder};
use crate::encode::fusion::{self, Fusion};
use crate::encode::init::SplitMix64;
use crate::encode::vocab::{EventToken, VocabConfig};
use journey::event::Event;
use crate::cohort::query::end_of_day;
use crate::cohort::ClinicalRecord;
use crate::train::fusion::{train_fusion, Crop, FusionStepLoss, FusionTrainConfig, PatientViews};
use crate::train::outcomes::OutcomeTargets;
use crate::train::pretrain::{pretrain, reconstruction_accuracy, PretrainConfig, ReconstructionAccuracy, StepLoss};

/// Everything that shapes a training run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainOptions {
    pub vocab: VocabConfig,
    pub max_events: usize,
    pub hidden_size: usize,
    /// Whether the latest values are a fused token (`FeatureSpec::latest_values`).
    pub latest_values: bool,
    pub pretrain: PretrainConfig,
    pub fusion: FusionTrainConfig,
    /// Time crops per patient for the contrastive views: the whole journey and
    /// `crops - 1` cuts at decision points ([`decision_points`]) drawn at random.
    pub crops: usize,
    /// Share of patients held out of pretraining to measure reconstruction.
    pub held_out: f64,
    /// Whether the twin carries the clinical-history block beside the fused vector
    /// ([`super::history_block`]); options written before it existed did not.
    #[serde(default)]
    pub history_block: bool,
    /// Whether the twin carries the prognosis part after the block, and how it reads
    /// its trees ([`super::prognosis_part`]). The expected course by default: beside
    /// the strata, with the cohort's rates pooled, it raised subtype agreement among
    /// new patients (70.8% -> 73.3%), the neighbour cohort's ranking and calibration
    /// (slopes 0.93 / 1.01 for methotrexate failure) and the head's ranking at 10,000
    /// patients (docs/benchmarks/predictive.md, "The neighbour cohort's rates pooled");
    /// the reasons measured no better on subtypes for a part 5x wider.
    #[serde(default)]
    pub prognosis_part: Option<PrognosisReading>,
    /// The prognosis part's trees' complexity budget: the baselines' by default
    /// (`rdt train --prognosis-budget`; docs/benchmarks/predictive.md, fourteenth
    /// session, measures 1.0 beside it).
    #[serde(default)]
    pub prognosis_budget: Budget,
    /// The clinical strata the twin carries last ([`super::strata`]), so neighbours
    /// are found inside the patient's strata first; empty: none. Serostatus by
    /// default ([`super::strata::Strata::clinical`]); the response so far is read on
    /// request (`rdt train --stratum`): beside the serostatus it raised subtype
    /// agreement among new patients by 0.7 points, short of the point written down
    /// before measuring (docs/benchmarks/predictive.md, thirteenth session).
    #[serde(default)]
    pub strata: Vec<super::strata::Stratum>,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            vocab: VocabConfig::default(),
            max_events: 128,
            hidden_size: 64,
            latest_values: true,
            pretrain: PretrainConfig::default(),
            fusion: FusionTrainConfig::default(),
            crops: 3,
            held_out: 0.1,
            history_block: true,
            prognosis_part: Some(PrognosisReading::Expected),
            prognosis_budget: Budget::BASELINE,
            strata: super::strata::Strata::clinical().strata,
        }
    }
}

impl TrainOptions {
    /// A model small enough to train on a handful of patients in a second (tests).
    pub fn tiny() -> Self {
        TrainOptions {
            vocab: VocabConfig { min_count: 1, n_bins: 10 },
            max_events: 32,
            hidden_size: 16,
            latest_values: true,
            pretrain: PretrainConfig { epochs: 2, batch_size: 8, ..Default::default() },
            fusion: FusionTrainConfig { epochs: 2, batch_size: 8, ..Default::default() },
            crops: 2,
            held_out: 0.25,
            history_block: true,
            prognosis_part: Some(PrognosisReading::Expected),
            prognosis_budget: Budget::BASELINE,
            strata: super::strata::Strata::clinical().strata,
        }
    }
}

/// Which stage a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Pretrain,
    EventVectors,
    Fusion,
}

/// A trained twin, not yet saved.
pub struct TrainedTwin {
    pub manifest: TwinManifest,
    pub encoder: EventEncoder,
    pub encoder_vars: candle_nn::VarMap,
    pub fusion: Fusion,
    pub fusion_vars: candle_nn::VarMap,
    pub pretrain_log: Vec<StepLoss>,
    pub fusion_log: Vec<FusionStepLoss>,
    pub reconstruction: ReconstructionAccuracy,
}

/// Whether a journey's outcomes may supervise the twin: its patient is in the train
/// part of the frozen split ([`crate::eval::split::Part`]).
fn supervised(events: &[Event]) -> bool {
    events.first().is_some_and(|e| crate::eval::split::Part::of(&e.patient) == crate::eval::split::Part::Train)
}

/// Where a journey's crops may be cut: the days a decision was made or could have
/// been (a DMARD started, an activity score recorded), before the record's last day,
/// so something follows each cut. Ascending, each once.
pub fn decision_points(record: &ClinicalRecord) -> Vec<chrono::NaiveDate> {
    let mut days: Vec<chrono::NaiveDate> = record
        .courses
        .iter()
        .filter(|c| c.is_dmard())
        .map(|c| c.start.date_naive())
        .chain(record.activity.iter().map(|p| p.date))
        .filter(|d| record.last_date.is_some_and(|last| *d < last))
        .collect();
    days.sort_unstable();
    days.dedup();
    days
}

/// Steps per stage, for progress bars: (pretrain steps, fusion steps).
pub fn planned_steps(options: &TrainOptions, patients: usize) -> (usize, usize) {
    let train = patients - (patients as f64 * options.held_out) as usize;
    (
        options.pretrain.epochs * train.div_ceil(options.pretrain.batch_size),
        options.fusion.epochs * patients.div_ceil(options.fusion.batch_size),
    )
}

/// Trains a twin on time-ordered journeys (each at its last event). `note_vector`
/// gives a note text's vector when notes are used; `progress(stage, step)` is called
/// after each step.
pub fn train_twin(
    journeys: &[&[Event]],
    options: &TrainOptions,
    note_vector: &dyn Fn(&str) -> Option<Vec<f32>>,
    mut progress: impl FnMut(Stage, usize),
) -> candle_core::Result<TrainedTwin> {
    let mut spec = FeatureSpec::build(options.vocab.clone(), journeys, options.max_events);
    spec.latest_values = options.latest_values;
    let inputs: Vec<PatientInputs> = journeys.iter().map(|events| spec.inputs(events, None, note_vector)).collect();

    // Pretraining on all but a seeded held-out share, which measures reconstruction.
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    SplitMix64::new(options.pretrain.seed ^ 0x5eed).shuffle(&mut order);
    let n_held = (inputs.len() as f64 * options.held_out) as usize;
    let held_out: Vec<Vec<EventToken>> = order[..n_held].iter().map(|&i| inputs[i].tokens.clone()).collect();
    let training: Vec<Vec<EventToken>> = order[n_held..].iter().map(|&i| inputs[i].tokens.clone()).collect();
    let held_out_notes: Vec<_> = order[..n_held].iter().map(|&i| inputs[i].note_tokens.clone()).collect();
    let training_notes: Vec<_> = order[n_held..].iter().map(|&i| inputs[i].note_tokens.clone()).collect();

    let mut encoder_config = event_encoder::Config::for_vocab(&spec.vocab);
    encoder_config.max_events = options.max_events;
    encoder_config.hidden_size = options.hidden_size;
    encoder_config.intermediate_size = 2 * options.hidden_size;
    let (encoder, encoder_vars) = event_encoder::fresh(&encoder_config, options.pretrain.seed)?;
    let pretrain_log =
        pretrain(&encoder, &encoder_vars, &training, Some(&training_notes), &options.pretrain, |s| {
            progress(Stage::Pretrain, s.step)
        })?;
    let reconstruction = reconstruction_accuracy(
        &encoder,
        &training,
        &held_out,
        Some(&held_out_notes),
        options.pretrain.mask_prob,
        options.pretrain.seed + 1,
    )?;

    // Crops: the whole journey, then cuts at decision points drawn at random; each
    // reads every modality as of its cut and carries what followed it.
    let mut rng = SplitMix64::new(options.fusion.seed ^ 0xc0de);
    let mut crops: Vec<(PatientInputs, Option<OutcomeTargets>)> = Vec::with_capacity(inputs.len() * options.crops);
    for (events, input) in journeys.iter().zip(&inputs) {
        let record = ClinicalRecord::read(events);
        let mut points = decision_points(&record);
        crops.push((input.clone(), None));
        for _ in 1..options.crops {
            if points.is_empty() {
                crops.push((input.clone(), None));
                continue;
            }
            let cut = points.swap_remove(rng.below(points.len()));
            // Only the train part's outcomes supervise: tuning and test patients are
            // scored on what the twin must predict, never taught it.
            let targets = supervised(events).then(|| OutcomeTargets::of(&record.outcomes_at(cut))).flatten();
            crops.push((spec.inputs(events, Some(end_of_day(cut)), note_vector), targets));
        }
    }
    let tokens: Vec<Vec<EventToken>> = crops.iter().map(|(c, _)| c.tokens.clone()).collect();
    let notes: Vec<Vec<(usize, Vec<f32>)>> = crops.iter().map(|(c, _)| c.note_tokens.clone()).collect();
    let vectors = encode_events(&encoder, &tokens, Some(&notes))?;
    progress(Stage::EventVectors, vectors.len());
    let mut vectors = vectors.into_iter();
    let mut crops = crops.into_iter();
    let views: Vec<PatientViews> = (0..inputs.len())
        .map(|_| PatientViews {
            crops: (0..options.crops)
                .map(|_| {
                    let (input, targets) = crops.next().expect("one crop per patient and cut");
                    Crop {
                        events: vectors.next().expect("one vector per crop"),
                        latest: spec.latest(&input),
                        notes: input.notes,
                        imaging: input.imaging,
                        omics: input.omics,
                        targets,
                    }
                })
                .collect(),
        })
        .collect();

    let fusion_config = fusion::Config {
        event_size: encoder_config.hidden_size,
        imaging_size: spec.imaging.width(),
        omics_size: spec.omics.width(),
        latest_size: spec.latest_width(),
        hidden_size: options.hidden_size,
        num_attention_heads: 4.min(options.hidden_size / 4).max(1),
        num_hidden_layers: 2,
        intermediate_size: 2 * options.hidden_size,
        twin_size: options.hidden_size,
    };
    let (fusion, fusion_vars) = fusion::fresh(&fusion_config, options.fusion.seed)?;
    let fusion_log = train_fusion(&fusion, &fusion_vars, &views, &options.fusion, |s| progress(Stage::Fusion, s.step))?;

    // The clinical-history block is appended to the fused vector, never trained on:
    // its scale joins the spec last, so no training input computes a block. Scaled
    // where twins are read: at decision points and at the journey's end.
    if options.history_block {
        let points = |record: &ClinicalRecord| decision_points(record).into_iter().map(end_of_day).collect();
        spec.history = super::history_block::HistoryScale::fit(journeys, &points);
    }
    // The prognosis part likewise: fitted after the fusion on the train part's
    // journeys at their decision points, never a training input.
    if let Some(reading) = options.prognosis_part {
        let points = |record: &ClinicalRecord| decision_points(record).into_iter().map(end_of_day).collect();
        spec.prognosis = super::prognosis_part::PrognosisPart::fit(journeys, &points, reading, options.prognosis_budget);
    }
    // The strata are read, not fitted: only which ones the twin reads is saved.
    if !options.strata.is_empty() {
        spec.strata = Some(super::strata::Strata { strata: options.strata.clone() });
    }

    let manifest = TwinManifest {
        created: Utc::now(),
        spec,
        event_encoder: encoder_config,
        fusion: fusion_config,
        event_encoder_sha256: String::new(),
        fusion_sha256: String::new(),
        training: serde_json::json!({
            "patients": journeys.len(),
            "options": options,
            "reconstruction": reconstruction,
        }),
    };
    Ok(TrainedTwin { manifest, encoder, encoder_vars, fusion, fusion_vars, pretrain_log, fusion_log, reconstruction })
}
