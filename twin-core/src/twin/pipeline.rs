//! Training a twin end to end on a cohort: feature spec, masked-event pretraining,
//! event vectors per time crop, fusion training. `rdt train` calls [`train_twin`]
//! and saves the result ([`super::model::save`]).

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::features::{FeatureSpec, PatientInputs};
use super::model::{encode_events, TwinManifest};
use crate::encode::event_encoder::{self, EventEncoder};
use crate::encode::fusion::{self, Fusion};
use crate::encode::init::SplitMix64;
use crate::encode::vocab::{EventToken, VocabConfig};
use journey::event::Event;
use crate::train::fusion::{train_fusion, FusionStepLoss, FusionTrainConfig, PatientViews};
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
    /// Time crops per patient for the contrastive views (the whole journey and
    /// `crops - 1` random earlier cuts).
    pub crops: usize,
    /// The shortest share of a journey's events a random crop keeps (crops keep
    /// `crop_shortest..0.9` of them).
    pub crop_shortest: f64,
    /// Share of patients held out of pretraining to measure reconstruction.
    pub held_out: f64,
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
            crop_shortest: 0.3,
            held_out: 0.1,
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
            crop_shortest: 0.3,
            held_out: 0.25,
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

    // Event vectors per crop: the whole journey, then random cuts keeping
    // `crop_shortest`-90% of its events.
    let mut rng = SplitMix64::new(options.fusion.seed ^ 0xc0de);
    let mut cropped: Vec<Vec<EventToken>> = Vec::with_capacity(inputs.len() * options.crops);
    let mut cropped_notes: Vec<Vec<(usize, Vec<f32>)>> = Vec::with_capacity(inputs.len() * options.crops);
    for input in &inputs {
        cropped.push(input.tokens.clone());
        cropped_notes.push(input.note_tokens.clone());
        for _ in 1..options.crops {
            let share = options.crop_shortest + (0.9 - options.crop_shortest).max(0.0) * rng.next_f64();
            let keep = (share * input.tokens.len() as f64).ceil() as usize;
            let keep = keep.clamp(1.min(input.tokens.len()), input.tokens.len());
            cropped.push(input.tokens[..keep].to_vec());
            cropped_notes.push(input.note_tokens.iter().filter(|(p, _)| *p < keep).cloned().collect());
        }
    }
    let vectors = encode_events(&encoder, &cropped, Some(&cropped_notes))?;
    progress(Stage::EventVectors, vectors.len());
    let views: Vec<PatientViews> = inputs
        .iter()
        .enumerate()
        .map(|(i, input)| PatientViews {
            event_crops: vectors[i * options.crops..(i + 1) * options.crops].to_vec(),
            latest_crops: cropped[i * options.crops..(i + 1) * options.crops]
                .iter()
                .map(|tokens| spec.latest_values(tokens))
                .collect(),
            notes: input.notes.clone(),
            imaging: input.imaging.clone(),
            omics: input.omics.clone(),
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
