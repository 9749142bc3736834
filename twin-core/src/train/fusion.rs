//! Training the fusion model: contrastive views plus cross-modal masked reconstruction.
//!
//! The event encoder is frozen here (pretrained before): each patient's event vector
//! is computed once per time crop ([`PatientViews`]), so a fusion epoch over 10,000
//! patients is a few thousand small matrix products.
//!
//! Per batch, two views of each patient: each view takes one of the patient's crops
//! (its event vector and its latest values, both read from the same cropped tokens)
//! and drops every present modality but the events with probability `drop_prob`. NT-Xent (SimCLR) pulls a patient's two twins together
//! and pushes the batch's other patients away. In the first view, each present
//! non-event modality is replaced by `[MASK]` with probability `mask_prob`, and the
//! model must reconstruct its token from the others (mean squared error against
//! the token computed from the real input, held fixed). With `outcome_weight > 0`,
//! each view whose crop was cut at a decision point also fits the outcome heads
//! ([`super::outcomes`]) on what followed its cut: the twin becomes outcome-aware.
//! With `course_pair_weight > 0`, views whose courses went the same way are pulled
//! together as well ([`super::course_pairs`]).
//!
//! Every crop carries its own modalities as of its cut (notes, imaging, omics and
//! latest values read up to the cut), so no view sees what came after it.

use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarMap};
use serde::{Deserialize, Serialize};

use crate::encode::fusion::{Config, FusedModality, Fusion, FusionBatch};
use crate::encode::init::SplitMix64;
use crate::encode::note::NOTE_DIM;
use super::course_pairs::course_pair_loss;
use super::outcomes::{OutcomeHeads, OutcomeTargets};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FusionTrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub temperature: f64,
    pub drop_prob: f64,
    pub mask_prob: f64,
    pub seed: u64,
    /// Weight of the outcome heads' loss beside the contrastive one (0: none, the
    /// twin is self-supervised only). Chosen on the tuning part of the split.
    #[serde(default)]
    pub outcome_weight: f64,
    /// Weight of the course-pair loss ([`super::course_pairs`]): views whose known
    /// outcomes agree are pulled together (0: none). Chosen on the tuning part.
    #[serde(default)]
    pub course_pair_weight: f64,
}

impl Default for FusionTrainConfig {
    fn default() -> Self {
        FusionTrainConfig {
            epochs: 10,
            batch_size: 128,
            learning_rate: 1e-3,
            temperature: 0.1,
            drop_prob: 0.3,
            mask_prob: 0.25,
            seed: 42,
            // Chosen on the tuning part (docs/benchmarks/predictive.md): 1.0 beat 0.0
            // on four of six outcomes there.
            outcome_weight: 1.0,
            // Chosen on the tuning part (docs/benchmarks/predictive.md, "Course
            // pairs"): 3 against 0 raised subtype agreement 57.9% -> 61.0% and the
            // neighbour cohort on five of six outcomes; 10 gave no more.
            course_pair_weight: 3.0,
        }
    }
}

/// One time crop of a patient: the journey up to a cut, every modality as of it.
#[derive(Debug, Clone, Default)]
pub struct Crop {
    pub events: Vec<f32>,
    /// `None` where the crop has no value.
    pub latest: Option<Vec<f32>>,
    pub notes: Option<Vec<f32>>,
    pub imaging: Option<Vec<f32>>,
    pub omics: Option<Vec<f32>>,
    /// What followed the cut, for a crop cut at a decision point with a known future.
    pub targets: Option<OutcomeTargets>,
}

/// A patient as fusion training sees it: several time crops, the first the whole
/// journey (what the twin embeds).
#[derive(Debug, Clone)]
pub struct PatientViews {
    pub crops: Vec<Crop>,
}

/// One view of one patient: which crop, which modalities are present or masked.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub events: &'a [f32],
    pub notes: Option<&'a [f32]>,
    pub imaging: Option<&'a [f32]>,
    pub omics: Option<&'a [f32]>,
    pub latest: Option<&'a [f32]>,
    pub masked: [bool; FusedModality::COUNT],
    pub targets: Option<&'a OutcomeTargets>,
}

/// Stacks views into a batch; an absent modality's row is zeros and its `present`
/// flag 0 (the model masks it; the zeros never reach an output).
pub fn batch_of(views: &[View<'_>], config: &Config, with_masks: bool) -> candle_core::Result<FusionBatch> {
    let device = Device::Cpu;
    let b = views.len();
    let event_size = views.first().map_or(0, |v| v.events.len());
    let mut present = Vec::with_capacity(b * FusedModality::COUNT);
    let mut masked = Vec::with_capacity(b * FusedModality::COUNT);
    for v in views {
        present.extend([
            1.0f32,
            flag(v.notes.is_some()),
            flag(v.imaging.is_some()),
            flag(v.omics.is_some()),
            flag(v.latest.is_some()),
        ]);
        masked.extend(v.masked.map(flag));
    }
    Ok(FusionBatch {
        events: rows(views, |v| Some(v.events), event_size)?,
        notes: rows(views, |v| v.notes, NOTE_DIM)?,
        imaging: rows(views, |v| v.imaging, config.imaging_size)?,
        omics: rows(views, |v| v.omics, config.omics_size)?,
        latest: rows(views, |v| v.latest, config.latest_size)?,
        present: Tensor::from_vec(present, (b, FusedModality::COUNT), &device)?,
        masked: if with_masks { Some(Tensor::from_vec(masked, (b, FusedModality::COUNT), &device)?) } else { None },
    })
}

/// One row per view: the view's input, or zeros when it is absent.
fn rows<'a>(
    views: &[View<'a>],
    get: impl Fn(&View<'a>) -> Option<&'a [f32]>,
    width: usize,
) -> candle_core::Result<Tensor> {
    let mut data = vec![0f32; views.len() * width];
    for (i, v) in views.iter().enumerate() {
        if let Some(x) = get(v) {
            data[i * width..(i + 1) * width].copy_from_slice(x);
        }
    }
    Tensor::from_vec(data, (views.len(), width), &Device::Cpu)
}

fn keep_unless(x: Option<&Vec<f32>>, m: FusedModality, leave_out: Option<FusedModality>) -> Option<&[f32]> {
    x.map(Vec::as_slice).filter(|_| leave_out != Some(m))
}

fn flag(b: bool) -> f32 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// Draws a view: a crop, modality dropout and (when `mask_prob > 0`) masking.
fn draw<'a>(p: &'a PatientViews, config: &FusionTrainConfig, mask_prob: f64, rng: &mut SplitMix64) -> View<'a> {
    let crop = &p.crops[rng.below(p.crops.len())];
    let mut keep = |x: Option<&'a Vec<f32>>| x.map(Vec::as_slice).filter(|_| rng.next_f64() >= config.drop_prob);
    let notes = keep(crop.notes.as_ref());
    let imaging = keep(crop.imaging.as_ref());
    let omics = keep(crop.omics.as_ref());
    let latest = keep(crop.latest.as_ref());
    let mut masked = [false; FusedModality::COUNT];
    let others = [notes.is_some(), imaging.is_some(), omics.is_some(), latest.is_some()];
    for (i, present) in others.into_iter().enumerate() {
        masked[i + 1] = present && rng.next_f64() < mask_prob;
    }
    View { events: &crop.events, notes, imaging, omics, latest, masked, targets: crop.targets.as_ref() }
}

/// One step's losses.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct FusionStepLoss {
    pub step: usize,
    pub epoch: usize,
    pub contrastive_loss: f32,
    pub reconstruction_loss: f32,
    /// The outcome heads' loss; NaN when not trained or no view had a known outcome.
    #[serde(default)]
    pub outcome_loss: f32,
    /// The course-pair loss; NaN when not trained or no two views shared a course.
    #[serde(default = "nan")]
    pub course_pair_loss: f32,
}

fn nan() -> f32 {
    f32::NAN
}

/// NT-Xent over two batches of unit twins: row i of `a` should match row i of `b`.
fn nt_xent(a: &Tensor, b: &Tensor, temperature: f64) -> candle_core::Result<Tensor> {
    let n = a.dim(0)?;
    let logits = (a.matmul(&b.t()?)? / temperature)?;
    let targets = Tensor::arange(0u32, n as u32, a.device())?;
    let a_to_b = candle_nn::loss::cross_entropy(&logits, &targets)?;
    let b_to_a = candle_nn::loss::cross_entropy(&logits.t()?, &targets)?;
    (a_to_b + b_to_a)? / 2.0
}

pub fn train_fusion(
    fusion: &Fusion,
    varmap: &VarMap,
    patients: &[PatientViews],
    config: &FusionTrainConfig,
    mut on_step: impl FnMut(FusionStepLoss),
) -> candle_core::Result<Vec<FusionStepLoss>> {
    let params = ParamsAdamW { lr: config.learning_rate, weight_decay: 0.01, ..Default::default() };
    // The heads train with the fusion and are dropped after: the twin keeps their mark.
    let head_vars = VarMap::new();
    let heads = if config.outcome_weight > 0.0 {
        let heads = OutcomeHeads::fresh(fusion.config().twin_size, &head_vars)?;
        // Seeded like every other weight: the same cohort trains the same twin.
        crate::encode::init::seed_weights(&head_vars, config.seed ^ 0x4ead)?;
        Some(heads)
    } else {
        None
    };
    let mut vars = varmap.all_vars();
    vars.extend(head_vars.all_vars());
    let mut optimizer = AdamW::new(vars, params)?;
    let mut rng = SplitMix64::new(config.seed);
    let mut order: Vec<usize> = (0..patients.len()).collect();
    let mut log = Vec::new();
    let mut step = 0;
    for epoch in 0..config.epochs {
        rng.shuffle(&mut order);
        for chunk in order.chunks(config.batch_size) {
            // NT-Xent needs negatives: a batch of one has none.
            if chunk.len() < 2 {
                continue;
            }
            let first: Vec<View<'_>> =
                chunk.iter().map(|&i| draw(&patients[i], config, config.mask_prob, &mut rng)).collect();
            let second: Vec<View<'_>> = chunk.iter().map(|&i| draw(&patients[i], config, 0.0, &mut rng)).collect();
            let batch_a = batch_of(&first, fusion.config(), true)?;
            let batch_b = batch_of(&second, fusion.config(), false)?;
            let out_a = fusion.forward(&batch_a)?;
            let out_b = fusion.forward(&batch_b)?;
            let contrastive = nt_xent(&out_a.twin, &out_b.twin, config.temperature)?;
            let masked = batch_a.masked.as_ref().expect("the first view is built with masks");
            let n_masked = masked.sum_all()?.to_scalar::<f32>()?;
            let reconstruction = if n_masked > 0.0 {
                let target = out_a.tokens_in.detach();
                let squared = (&out_a.reconstructed - &target)?.sqr()?.mean(2)?;
                Some(((squared * masked)?.sum_all()? / n_masked as f64)?)
            } else {
                None
            };
            let mut total = match &reconstruction {
                Some(r) => (&contrastive + r)?,
                None => contrastive.clone(),
            };
            // What followed each view's cut: the outcome heads and the course pairs read it.
            let targets_a: Vec<Option<&OutcomeTargets>> = first.iter().map(|v| v.targets).collect();
            let targets_b: Vec<Option<&OutcomeTargets>> = second.iter().map(|v| v.targets).collect();
            let mut outcome = None;
            if let Some(heads) = &heads {
                let losses = [heads.loss(&out_a.twin, &targets_a)?, heads.loss(&out_b.twin, &targets_b)?];
                let known: Vec<&Tensor> = losses.iter().flatten().collect();
                if !known.is_empty() {
                    let mean = (Tensor::stack(&known, 0)?.sum_all()? / known.len() as f64)?;
                    total = (total + (&mean * config.outcome_weight)?)?;
                    outcome = Some(mean);
                }
            }
            let mut course = None;
            if config.course_pair_weight > 0.0 {
                if let Some(loss) =
                    course_pair_loss(&out_a.twin, &out_b.twin, &targets_a, &targets_b, config.temperature)?
                {
                    total = (total + (&loss * config.course_pair_weight)?)?;
                    course = Some(loss);
                }
            }
            optimizer.backward_step(&total)?;
            let row = FusionStepLoss {
                step,
                epoch,
                contrastive_loss: contrastive.to_scalar::<f32>()?,
                reconstruction_loss: reconstruction.map(|r| r.to_scalar::<f32>()).transpose()?.unwrap_or(f32::NAN),
                outcome_loss: outcome.map(|r| r.to_scalar::<f32>()).transpose()?.unwrap_or(f32::NAN),
                course_pair_loss: course.map(|r| r.to_scalar::<f32>()).transpose()?.unwrap_or(f32::NAN),
            };
            on_step(row);
            log.push(row);
            step += 1;
        }
    }
    Ok(log)
}

/// Twins of patients (whole-journey crop), with the modalities in `leave_out` absent.
pub fn embed_views(
    fusion: &Fusion,
    patients: &[PatientViews],
    leave_out: Option<FusedModality>,
) -> candle_core::Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(patients.len());
    for chunk in patients.chunks(256) {
        let views: Vec<View<'_>> = chunk
            .iter()
            .map(|p| {
                let whole = &p.crops[0];
                View {
                    events: &whole.events,
                    notes: keep_unless(whole.notes.as_ref(), FusedModality::Notes, leave_out),
                    imaging: keep_unless(whole.imaging.as_ref(), FusedModality::Imaging, leave_out),
                    omics: keep_unless(whole.omics.as_ref(), FusedModality::Omics, leave_out),
                    latest: keep_unless(whole.latest.as_ref(), FusedModality::LatestValues, leave_out),
                    masked: [false; FusedModality::COUNT],
                    targets: None,
                }
            })
            .collect();
        let mut batch = batch_of(&views, fusion.config(), false)?;
        if leave_out == Some(FusedModality::Events) {
            // Events absent: a patient with nothing else keeps only the [TWIN] token.
            let mut present = batch.present.to_vec2::<f32>()?;
            for row in &mut present {
                row[0] = 0.0;
            }
            batch.present = Tensor::new(present, &Device::Cpu)?;
        }
        let twins = fusion.forward(&batch)?.twin.to_dtype(DType::F32)?.to_vec2::<f32>()?;
        out.extend(twins);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::fusion::{fresh, Config};

    /// Two groups of patients whose event vectors differ only in noise around two
    /// centres, and whose imaging tells the groups apart too. After a few seconds of
    /// training, a patient's nearest other patient is in its group almost always,
    /// and both losses fell.
    #[test]
    fn fusion_training_separates_groups() {
        let mut rng = SplitMix64::new(5);
        let patients: Vec<PatientViews> = (0..128)
            .map(|i| {
                let group = (i % 2) as f32;
                let mut noisy = |centre: f32, n: usize| -> Vec<f32> {
                    (0..n).map(|_| centre + 0.5 * rng.normal() as f32).collect()
                };
                let imaging = (i % 3 != 0).then(|| vec![group * 2.0 - 1.0, 1.0]);
                let crop = |events: Vec<f32>| Crop { events, imaging: imaging.clone(), ..Default::default() };
                PatientViews { crops: vec![crop(noisy(group * 2.0 - 1.0, 8)), crop(noisy(group * 2.0 - 1.0, 8))] }
            })
            .collect();
        let config = Config {
            event_size: 8,
            imaging_size: 2,
            omics_size: 2,
            latest_size: 2,
            hidden_size: 16,
            num_attention_heads: 2,
            num_hidden_layers: 1,
            intermediate_size: 32,
            twin_size: 8,
        };
        let (fusion, varmap) = fresh(&config, 1).unwrap();
        let cfg = FusionTrainConfig { epochs: 15, batch_size: 32, learning_rate: 3e-3, ..Default::default() };
        let log = train_fusion(&fusion, &varmap, &patients, &cfg, |_| {}).unwrap();
        assert_eq!(log.len(), 15 * 4);
        let first = log[0].contrastive_loss;
        let last = log[log.len() - 1].contrastive_loss;
        assert!(last < first, "contrastive loss {first} -> {last}");
        let twins = embed_views(&fusion, &patients, None).unwrap();
        let mut same = 0;
        for (i, a) in twins.iter().enumerate() {
            let nearest = (0..twins.len())
                .filter(|&j| j != i)
                .max_by(|&x, &y| dot(a, &twins[x]).total_cmp(&dot(a, &twins[y])))
                .unwrap();
            same += usize::from(nearest % 2 == i % 2);
        }
        assert!(same > 115, "{same}/128 nearest neighbours in the same group");
    }

    /// A view's latest values are those of the same crop as its event vector: both
    /// are read from the same cropped tokens.
    #[test]
    fn a_view_takes_one_crop_for_events_and_latest_values() {
        let patient = PatientViews {
            crops: (0..5)
                .map(|c| Crop { events: vec![c as f32], latest: Some(vec![c as f32, 1.0]), ..Default::default() })
                .collect(),
        };
        let config = FusionTrainConfig { drop_prob: 0.0, ..Default::default() };
        let mut rng = SplitMix64::new(11);
        let mut crops_seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let view = draw(&patient, &config, 0.0, &mut rng);
            let latest = view.latest.expect("kept: drop_prob is 0");
            assert_eq!(latest[0], view.events[0]);
            crops_seen.insert(view.events[0] as usize);
        }
        assert_eq!(crops_seen.len(), 5, "every crop is drawn");
    }

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }
}
