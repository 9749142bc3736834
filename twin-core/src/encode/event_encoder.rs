//! The event encoder: a small Transformer over a journey's event tokens.
//!
//! Each position's input is the sum of a code embedding, a value-bin embedding, a
//! gap embedding (time since the previous event, [`super::vocab`]), a position
//! embedding and, for a note event, a projection of its MiniLM vector (a note enters
//! the stream as one token). A `[CLS]` position in front summarises the journey: its
//! output is the events' vector in the twin.
//!
//! Pretrained by masked-event modelling on the local cohort (BERT's masked language
//! modelling, Devlin et al. 2019, applied to events as in BEHRT, Li et al. 2020):
//! some events have their code and value bin replaced by `[MASK]`, and two heads
//! predict the code ([`EventEncoder::code_logits`]) and the value decile
//! ([`EventEncoder::bin_logits`]) from the context. Training: `crate::train::pretrain`.

use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{Embedding, Linear, Module, VarBuilder};
use serde::{Deserialize, Serialize};

use super::transformer::{key_bias, BlockConfig, EncoderBlock, LayerNorm};
use super::vocab::{EventToken, Vocabulary, BIN_NONE, CLS, N_GAPS, PAD};
use crate::encode::note::NOTE_DIM;

/// Shape of the event encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub n_value_bins: usize,
    /// Longest journey read, in events (the most recent ones are kept).
    pub max_events: usize,
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub intermediate_size: usize,
}

impl Config {
    /// The default shape for a vocabulary: small enough that 10,000 patients
    /// pretrain in minutes on 2 CPU cores.
    pub fn for_vocab(vocab: &Vocabulary) -> Self {
        Config {
            vocab_size: vocab.len(),
            n_value_bins: vocab.n_value_bins(),
            max_events: 128,
            hidden_size: 64,
            num_attention_heads: 4,
            num_hidden_layers: 2,
            intermediate_size: 128,
        }
    }

    fn block(&self) -> BlockConfig {
        BlockConfig {
            hidden_size: self.hidden_size,
            num_attention_heads: self.num_attention_heads,
            intermediate_size: self.intermediate_size,
        }
    }
}

/// Per journey, its note vectors by event position (0 = the first event).
pub type NoteVectorsByPosition = [Vec<(usize, Vec<f32>)>];

/// A batch of journeys as tensors, `[CLS]` in front, right-padded.
pub struct EventBatch {
    /// (batch, seq) u32 code ids.
    pub codes: Tensor,
    /// (batch, seq) u32 value-bin ids.
    pub bins: Tensor,
    /// (batch, seq) u32 gap buckets.
    pub gaps: Tensor,
    /// (batch, seq) f32: 1 for `[CLS]` and events, 0 for padding.
    pub mask: Tensor,
    /// (batch, seq, NOTE_DIM) note vectors at note positions, 0 elsewhere; `None`
    /// when no journey in the batch has a note vector.
    pub notes: Option<Tensor>,
}

impl EventBatch {
    /// Builds a batch from token sequences (each at most `max_events` long) and, per
    /// sequence, the note vectors by position.
    pub fn new(sequences: &[&[EventToken]], notes: Option<&NoteVectorsByPosition>, device: &Device) -> Result<Self> {
        let seq_len = 1 + sequences.iter().map(|s| s.len()).max().unwrap_or(0);
        let b_sz = sequences.len();
        let mut codes = vec![PAD; b_sz * seq_len];
        let mut bins = vec![BIN_NONE; b_sz * seq_len];
        let mut gaps = vec![0u32; b_sz * seq_len];
        let mut mask = vec![0f32; b_sz * seq_len];
        for (row, tokens) in sequences.iter().enumerate() {
            let base = row * seq_len;
            codes[base] = CLS;
            mask[base] = 1.0;
            for (i, t) in tokens.iter().enumerate() {
                codes[base + 1 + i] = t.code;
                bins[base + 1 + i] = t.value_bin;
                gaps[base + 1 + i] = t.gap;
                mask[base + 1 + i] = 1.0;
            }
        }
        let notes = match notes {
            Some(per_row) if per_row.iter().any(|r| !r.is_empty()) => {
                let mut data = vec![0f32; b_sz * seq_len * NOTE_DIM];
                for (row, vectors) in per_row.iter().enumerate() {
                    for (position, vector) in vectors {
                        let at = (row * seq_len + 1 + position) * NOTE_DIM;
                        data[at..at + NOTE_DIM].copy_from_slice(vector);
                    }
                }
                Some(Tensor::from_vec(data, (b_sz, seq_len, NOTE_DIM), device)?)
            }
            _ => None,
        };
        let shape = (b_sz, seq_len);
        Ok(EventBatch {
            codes: Tensor::from_vec(codes, shape, device)?,
            bins: Tensor::from_vec(bins, shape, device)?,
            gaps: Tensor::from_vec(gaps, shape, device)?,
            mask: Tensor::from_vec(mask, shape, device)?,
            notes,
        })
    }
}

/// The event encoder with its two pretraining heads.
pub struct EventEncoder {
    code_embeddings: Embedding,
    bin_embeddings: Embedding,
    gap_embeddings: Embedding,
    position_embeddings: Embedding,
    /// No bias: a position without a note (all zeros) gets nothing from it.
    note_projection: Linear,
    layers: Vec<EncoderBlock>,
    final_norm: LayerNorm,
    code_head: Linear,
    bin_head: Linear,
    config: Config,
}

impl EventEncoder {
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        let h = config.hidden_size;
        let layers = (0..config.num_hidden_layers)
            .map(|i| EncoderBlock::load(vb.pp(format!("layers.{i}")), &config.block()))
            .collect::<Result<Vec<_>>>()?;
        Ok(EventEncoder {
            code_embeddings: candle_nn::embedding(config.vocab_size, h, vb.pp("code_embeddings"))?,
            bin_embeddings: candle_nn::embedding(config.n_value_bins, h, vb.pp("bin_embeddings"))?,
            gap_embeddings: candle_nn::embedding(N_GAPS, h, vb.pp("gap_embeddings"))?,
            position_embeddings: candle_nn::embedding(config.max_events + 1, h, vb.pp("position_embeddings"))?,
            note_projection: candle_nn::linear_no_bias(NOTE_DIM, h, vb.pp("note_projection"))?,
            layers,
            final_norm: LayerNorm::load(vb.pp("final_norm"), h)?,
            code_head: candle_nn::linear(h, config.vocab_size, vb.pp("code_head"))?,
            bin_head: candle_nn::linear(h, config.n_value_bins, vb.pp("bin_head"))?,
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Hidden states, (batch, seq, hidden); position 0 is `[CLS]`.
    pub fn forward(&self, batch: &EventBatch) -> Result<Tensor> {
        let (b_sz, seq_len) = batch.codes.dims2()?;
        let positions = Tensor::arange(0u32, seq_len as u32, batch.codes.device())?.unsqueeze(0)?;
        let code_embeds = self.code_embeddings.forward(&batch.codes)?;
        let bin_embeds = self.bin_embeddings.forward(&batch.bins)?;
        let gap_embeds = self.gap_embeddings.forward(&batch.gaps)?;
        let position_embeds = self.position_embeddings.forward(&positions)?;
        let mut x = ((code_embeds + bin_embeds)? + gap_embeds)?.broadcast_add(&position_embeds)?;
        if let Some(notes) = &batch.notes {
            let note_embeds = self.note_projection.forward(notes)?;
            x = (x + note_embeds)?;
        }
        let bias = key_bias(&batch.mask)?;
        for layer in &self.layers {
            x = layer.forward(&x, &bias)?;
        }
        let hidden = self.final_norm.forward(&x)?;
        debug_assert_eq!(hidden.dims3()?, (b_sz, seq_len, self.config.hidden_size));
        Ok(hidden)
    }

    /// The journey vectors: the `[CLS]` output, (batch, hidden).
    pub fn summarise(&self, hidden: &Tensor) -> Result<Tensor> {
        hidden.narrow(1, 0, 1)?.squeeze(1)
    }

    /// Code logits for hidden states of any leading shape.
    pub fn code_logits(&self, hidden: &Tensor) -> Result<Tensor> {
        self.code_head.forward(hidden)
    }

    /// Value-bin logits for hidden states of any leading shape.
    pub fn bin_logits(&self, hidden: &Tensor) -> Result<Tensor> {
        self.bin_head.forward(hidden)
    }
}

/// An encoder with fresh (seeded) weights, for tests and the start of training.
pub fn fresh(config: &Config, seed: u64) -> Result<(EventEncoder, candle_nn::VarMap)> {
    let varmap = candle_nn::VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
    let encoder = EventEncoder::load(vb, config)?;
    super::init::seed_weights(&varmap, seed)?;
    Ok((encoder, varmap))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Config {
        Config {
            vocab_size: 10,
            n_value_bins: 12,
            max_events: 8,
            hidden_size: 16,
            num_attention_heads: 2,
            num_hidden_layers: 1,
            intermediate_size: 32,
        }
    }

    fn tok(code: u32) -> EventToken {
        EventToken { code, value_bin: 2, gap: 3 }
    }

    #[test]
    fn shapes() {
        let (encoder, _) = fresh(&tiny(), 1).unwrap();
        let a = [tok(4), tok(5), tok(6)];
        let b = [tok(7)];
        let batch = EventBatch::new(&[&a, &b], None, &Device::Cpu).unwrap();
        let hidden = encoder.forward(&batch).unwrap();
        assert_eq!(hidden.dims(), &[2, 4, 16]);
        assert_eq!(encoder.summarise(&hidden).unwrap().dims(), &[2, 16]);
        assert_eq!(encoder.code_logits(&hidden).unwrap().dims(), &[2, 4, 10]);
        assert_eq!(encoder.bin_logits(&hidden).unwrap().dims(), &[2, 4, 12]);
    }

    /// Padding is invisible: a journey's vector is the same alone and batched with a
    /// longer one; and a note vector does change the journey's vector.
    #[test]
    fn padding_changes_nothing_and_notes_count() {
        let (encoder, _) = fresh(&tiny(), 2).unwrap();
        let short = [tok(4)];
        let long = [tok(5), tok(6), tok(7), tok(8)];
        let dev = Device::Cpu;
        let alone = encoder.summarise(&encoder.forward(&EventBatch::new(&[&short], None, &dev).unwrap()).unwrap());
        let alone = alone.unwrap().to_vec2::<f32>().unwrap();
        let batched = encoder.forward(&EventBatch::new(&[&short, &long], None, &dev).unwrap()).unwrap();
        let batched = encoder.summarise(&batched).unwrap().to_vec2::<f32>().unwrap();
        for (a, b) in alone[0].iter().zip(&batched[0]) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        let note = vec![vec![(0usize, vec![0.05f32; NOTE_DIM])]];
        let with_note = EventBatch::new(&[&short], Some(&note), &dev).unwrap();
        let with_note = encoder.summarise(&encoder.forward(&with_note).unwrap()).unwrap().to_vec2::<f32>().unwrap();
        let moved: f32 = with_note[0].iter().zip(&alone[0]).map(|(a, b)| (a - b).abs()).sum();
        assert!(moved > 1e-3, "the note changed nothing");
    }

    /// Golden value: seeded weights (`init::seed_weights`) and a fixed journey give
    /// the same `[CLS]` vector on every machine, up to float summation order.
    #[test]
    fn golden_cls_vector() {
        let (encoder, _) = fresh(&tiny(), 7).unwrap();
        let journey = [tok(4), EventToken { code: 5, value_bin: 9, gap: 1 }, tok(6)];
        let batch = EventBatch::new(&[&journey], None, &Device::Cpu).unwrap();
        let cls = encoder.summarise(&encoder.forward(&batch).unwrap()).unwrap().to_vec2::<f32>().unwrap();
        let head: Vec<f32> = cls[0][..4].to_vec();
        // Recorded when the test was written (final layer norm output, unit scale).
        let expected = [1.1379349f32, 0.1336565, -1.6129843, 2.2957382];
        for (got, want) in head.iter().zip(expected) {
            assert!((got - want).abs() < 1e-4, "{head:?}");
        }
    }
}
