//! The fusion model: one patient twin from the modality tokens.
//!
//! Each modality present at the index date becomes one token of the fusion width:
//! the event encoder's journey vector (projected), the mean of recent note vectors
//! (an MLP), the imaging panel and the omics panel (MLPs, [`super::tabular`]), and
//! the latest values: per code, its latest value decile and its change since the
//! one before (an MLP over `crate::twin::features::FeatureSpec::latest_values`).
//! The latest values are read from the same event tokens as the journey vector, but
//! the journey vector is a Transformer summary trained to fill in masked events, in
//! which "where is each lab now" is blurred; a snapshot of the latest values on its
//! own already places a patient's subtype well (the latest-visit baseline), so the
//! twin gets that snapshot as a token of its own. A
//! learned `[TWIN]` token in front and a type embedding per modality go with them
//! through a small Transformer ([`super::transformer`]). An absent modality is a
//! masked key: its token is computed from whatever its input holds (zeros by
//! convention) but no attention weight reaches it, so it changes nothing
//! (tested below). The `[TWIN]` output, projected and L2-normalised, is the twin.
//!
//! Trained (`crate::train::fusion`) with a contrastive objective (two views of the
//! same patient, different time crops and dropped modalities, SimCLR's NT-Xent, Chen
//! et al. 2020) and cross-modal masked reconstruction (a present modality's token
//! replaced by `[MASK]` is predicted from the others).

use candle_core::{DType, Device, Result, Tensor, D};
use candle_nn::{Embedding, Linear, Module, VarBuilder};
use serde::{Deserialize, Serialize};

use super::tabular::{self, TabularEncoder};
use super::transformer::{key_bias, BlockConfig, EncoderBlock, LayerNorm};
use crate::encode::note::NOTE_DIM;

/// The modalities fused, in token order after `[TWIN]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FusedModality {
    Events,
    Notes,
    Imaging,
    Omics,
    /// Per code, the latest value decile and its change: read from the event tokens.
    LatestValues,
}

impl FusedModality {
    pub const ALL: [FusedModality; 5] = [
        FusedModality::Events,
        FusedModality::Notes,
        FusedModality::Imaging,
        FusedModality::Omics,
        FusedModality::LatestValues,
    ];
    pub const COUNT: usize = 5;

    pub fn as_str(self) -> &'static str {
        match self {
            FusedModality::Events => "events",
            FusedModality::Notes => "notes",
            FusedModality::Imaging => "imaging",
            FusedModality::Omics => "omics",
            FusedModality::LatestValues => "latest_values",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Width of the event encoder's journey vector.
    pub event_size: usize,
    pub imaging_size: usize,
    pub omics_size: usize,
    /// Width of the latest-values features (`FeatureSpec::latest_width`).
    pub latest_size: usize,
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub intermediate_size: usize,
    /// Width of the twin vector.
    pub twin_size: usize,
}

impl Config {
    fn block(&self) -> BlockConfig {
        BlockConfig {
            hidden_size: self.hidden_size,
            num_attention_heads: self.num_attention_heads,
            intermediate_size: self.intermediate_size,
        }
    }

    fn tabular(&self, input_size: usize) -> tabular::Config {
        tabular::Config { input_size, intermediate_size: self.hidden_size, output_size: self.hidden_size }
    }
}

/// The fusion inputs of a batch of patients.
pub struct FusionBatch {
    /// (batch, event_size)
    pub events: Tensor,
    /// (batch, NOTE_DIM)
    pub notes: Tensor,
    /// (batch, imaging_size)
    pub imaging: Tensor,
    /// (batch, omics_size)
    pub omics: Tensor,
    /// (batch, latest_size)
    pub latest: Tensor,
    /// (batch, 5) f32: 1 where the modality is present, in [`FusedModality::ALL`] order.
    pub present: Tensor,
    /// (batch, 5) f32: 1 where a present modality's token is replaced by `[MASK]`
    /// (reconstruction training); `None` otherwise.
    pub masked: Option<Tensor>,
}

/// What the fusion model returns.
pub struct FusionOutput {
    /// (batch, twin_size), unit length.
    pub twin: Tensor,
    /// The modality tokens before fusion, (batch, 5, hidden): reconstruction targets.
    pub tokens_in: Tensor,
    /// The reconstruction head's prediction per modality position, (batch, 5, hidden).
    pub reconstructed: Tensor,
}

pub struct Fusion {
    event_projection: Linear,
    note_encoder: TabularEncoder,
    imaging_encoder: TabularEncoder,
    omics_encoder: TabularEncoder,
    latest_encoder: TabularEncoder,
    /// Row 0 is the `[TWIN]` token, rows 1..=5 the modality types.
    type_embeddings: Embedding,
    mask_embedding: Embedding,
    layers: Vec<EncoderBlock>,
    final_norm: LayerNorm,
    twin_head: Linear,
    reconstruction_head: Linear,
    config: Config,
}

impl Fusion {
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let h = config.hidden_size;
        let layers = (0..config.num_hidden_layers)
            .map(|i| EncoderBlock::load(vb.pp(format!("layers.{i}")), &config.block()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Fusion {
            event_projection: candle_nn::linear(config.event_size, h, vb.pp("event_projection"))?,
            note_encoder: TabularEncoder::load(vb.pp("note_encoder"), &config.tabular(NOTE_DIM))?,
            imaging_encoder: TabularEncoder::load(vb.pp("imaging_encoder"), &config.tabular(config.imaging_size))?,
            omics_encoder: TabularEncoder::load(vb.pp("omics_encoder"), &config.tabular(config.omics_size))?,
            latest_encoder: TabularEncoder::load(vb.pp("latest_encoder"), &config.tabular(config.latest_size))?,
            type_embeddings: candle_nn::embedding(FusedModality::COUNT + 1, h, vb.pp("type_embeddings"))?,
            mask_embedding: candle_nn::embedding(1, h, vb.pp("mask_embeddings"))?,
            layers,
            final_norm: LayerNorm::load(vb.pp("final_norm"), h)?,
            twin_head: candle_nn::linear(h, config.twin_size, vb.pp("twin_head"))?,
            reconstruction_head: candle_nn::linear(h, h, vb.pp("reconstruction_head"))?,
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn forward(&self, batch: &FusionBatch) -> Result<FusionOutput> {
        let (b_sz, _) = batch.events.dims2()?;
        let h = self.config.hidden_size;
        let device = batch.events.device();
        let event_token = self.event_projection.forward(&batch.events)?;
        let note_token = self.note_encoder.forward(&batch.notes)?;
        let imaging_token = self.imaging_encoder.forward(&batch.imaging)?;
        let omics_token = self.omics_encoder.forward(&batch.omics)?;
        let latest_token = self.latest_encoder.forward(&batch.latest)?;
        let tokens_in = Tensor::stack(&[&event_token, &note_token, &imaging_token, &omics_token, &latest_token], 1)?;

        let mut tokens = tokens_in.clone();
        if let Some(masked) = &batch.masked {
            let mask_token = self.mask_embedding.embeddings().reshape((1, 1, h))?;
            let masked = masked.unsqueeze(2)?;
            let kept = tokens.broadcast_mul(&(1.0 - &masked)?)?;
            tokens = kept.broadcast_add(&masked.broadcast_mul(&mask_token)?)?;
        }
        let type_ids = Tensor::arange(0u32, (FusedModality::COUNT + 1) as u32, device)?;
        let type_embeds = self.type_embeddings.forward(&type_ids)?.unsqueeze(0)?;
        let twin_token = type_embeds.narrow(1, 0, 1)?.broadcast_as((b_sz, 1, h))?;
        let x = Tensor::cat(&[&twin_token, &tokens], 1)?;
        let mut x = x.broadcast_add(&type_embeds)?;

        let twin_present = Tensor::ones((b_sz, 1), DType::F32, device)?;
        let key_mask = Tensor::cat(&[&twin_present, &batch.present], 1)?;
        let bias = key_bias(&key_mask)?;
        for layer in &self.layers {
            x = layer.forward(&x, &bias)?;
        }
        let hidden = self.final_norm.forward(&x)?;
        let twin_hidden = hidden.narrow(1, 0, 1)?.squeeze(1)?;
        let twin = self.twin_head.forward(&twin_hidden)?;
        let norms = twin.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?;
        let twin = twin.broadcast_div(&norms)?;
        let modality_hidden = hidden.narrow(1, 1, FusedModality::COUNT)?;
        let reconstructed = self.reconstruction_head.forward(&modality_hidden)?;
        Ok(FusionOutput { twin, tokens_in, reconstructed })
    }
}

/// A fusion model with seeded fresh weights.
pub fn fresh(config: &Config, seed: u64) -> Result<(Fusion, candle_nn::VarMap)> {
    let varmap = candle_nn::VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let fusion = Fusion::load(vb, config)?;
    super::init::seed_weights(&varmap, seed)?;
    Ok((fusion, varmap))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Config {
        Config {
            event_size: 6,
            imaging_size: 4,
            omics_size: 3,
            latest_size: 3,
            hidden_size: 8,
            num_attention_heads: 2,
            num_hidden_layers: 2,
            intermediate_size: 16,
            twin_size: 5,
        }
    }

    fn batch(imaging: Tensor, omics: Tensor, notes: Tensor, present: &[[f32; 5]]) -> FusionBatch {
        let dev = Device::Cpu;
        let b = present.len();
        FusionBatch {
            events: Tensor::randn(0f32, 1.0, (b, 6), &dev).unwrap(),
            notes,
            imaging,
            latest: Tensor::ones((b, 3), DType::F32, &dev).unwrap(),
            omics,
            present: Tensor::from_vec(present.concat(), (b, 5), &dev).unwrap(),
            masked: None,
        }
    }

    #[test]
    fn shapes_and_unit_twins() {
        let (fusion, _) = fresh(&tiny(), 1).unwrap();
        let dev = Device::Cpu;
        let b = batch(
            Tensor::zeros((2, 4), DType::F32, &dev).unwrap(),
            Tensor::zeros((2, 3), DType::F32, &dev).unwrap(),
            Tensor::zeros((2, NOTE_DIM), DType::F32, &dev).unwrap(),
            &[[1.0, 1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0, 0.0]],
        );
        let out = fusion.forward(&b).unwrap();
        assert_eq!(out.twin.dims(), &[2, 5]);
        assert_eq!(out.tokens_in.dims(), &[2, 5, 8]);
        assert_eq!(out.reconstructed.dims(), &[2, 5, 8]);
        for row in out.twin.to_vec2::<f32>().unwrap() {
            let norm: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5);
        }
    }

    /// A patient with events only (no notes, imaging or omics) gets a twin, and it is
    /// the same bit for bit whether the absent inputs hold zeros or anything else:
    /// absence is masking, not zero-filling. With the modality marked present, the
    /// same inputs do move the twin.
    #[test]
    fn absent_modalities_change_nothing() {
        let (fusion, _) = fresh(&tiny(), 2).unwrap();
        let dev = Device::Cpu;
        let events_only = [[1.0f32, 0.0, 0.0, 0.0, 0.0]];
        let zeros = batch(
            Tensor::zeros((1, 4), DType::F32, &dev).unwrap(),
            Tensor::zeros((1, 3), DType::F32, &dev).unwrap(),
            Tensor::zeros((1, NOTE_DIM), DType::F32, &dev).unwrap(),
            &events_only,
        );
        let mut noise = batch(
            Tensor::randn(0f32, 5.0, (1, 4), &dev).unwrap(),
            Tensor::randn(0f32, 5.0, (1, 3), &dev).unwrap(),
            Tensor::randn(0f32, 5.0, (1, NOTE_DIM), &dev).unwrap(),
            &events_only,
        );
        noise.events = zeros.events.clone();
        noise.latest = Tensor::randn(0f32, 5.0, (1, 3), &dev).unwrap();
        let a = fusion.forward(&zeros).unwrap().twin.to_vec2::<f32>().unwrap();
        let b = fusion.forward(&noise).unwrap().twin.to_vec2::<f32>().unwrap();
        assert_eq!(a, b);
        assert!(a[0].iter().all(|x| x.is_finite()));

        noise.present = Tensor::new(&[[1.0f32, 1.0, 1.0, 1.0, 1.0]], &dev).unwrap();
        let c = fusion.forward(&noise).unwrap().twin.to_vec2::<f32>().unwrap();
        assert_ne!(a, c);
    }

    /// Golden value: seeded weights and fixed inputs give the same twin everywhere,
    /// up to float summation order.
    #[test]
    fn golden_twin() {
        let (fusion, _) = fresh(&tiny(), 9).unwrap();
        let dev = Device::Cpu;
        let ramp = |n: usize| Tensor::arange(0u32, n as u32, &dev).unwrap().to_dtype(DType::F32).unwrap() / n as f64;
        let batch = FusionBatch {
            events: ramp(6).unwrap().unsqueeze(0).unwrap(),
            notes: Tensor::zeros((1, NOTE_DIM), DType::F32, &dev).unwrap(),
            imaging: ramp(4).unwrap().unsqueeze(0).unwrap(),
            omics: Tensor::zeros((1, 3), DType::F32, &dev).unwrap(),
            latest: Tensor::zeros((1, 3), DType::F32, &dev).unwrap(),
            present: Tensor::new(&[[1f32, 0.0, 1.0, 0.0, 0.0]], &dev).unwrap(),
            masked: None,
        };
        let twin = fusion.forward(&batch).unwrap().twin.to_vec2::<f32>().unwrap();
        // Recorded when the latest-values token was added (2026-11-24); a unit vector.
        let expected = [0.19805822f32, -0.04997597, 0.41220087, 0.6483802, -0.60660446];
        for (got, want) in twin[0].iter().zip(expected) {
            assert!((got - want).abs() < 1e-4, "{:?}", twin[0]);
        }
    }
}
