//! The recurrent baseline: a GRU over a patient's event tokens up to the cut, one
//! head per outcome, fitted on the population's snapshots.
//!
//! The paper names a recurrent sequence model beside the gradient-boosted trees as a
//! baseline a twin must beat: the trees see aggregated history (counts, means,
//! slopes), which cannot tell "A then B" from "B then A"; a GRU (Cho et al. 2014,
//! "Learning Phrase Representations using RNN Encoder-Decoder") reads the events in
//! order. It sees exactly what the twin's event encoder sees of a journey
//! ([`crate::encode::vocab`]: code, value decile, gap bucket), and nothing else: no
//! notes, imaging or omics.
//!
//! Model: per event the sum of a code, a value-bin and a gap-bucket embedding, a
//! single-layer GRU (candle-nn's `rnn::GRU` equations, with a padding mask) over the last
//! [`SequenceConfig::max_len`] events, and the last hidden state into one linear
//! output per outcome ([`Outcome::ALL`]). Sequences are left-padded and a padded step
//! leaves the state unchanged, so the last state is the last *event's* state whatever
//! the length. Loss: a masked multi-task loss, binary cross-entropy on the logit for
//! yes/no outcomes, squared error of the standardised value for DAS28, each outcome
//! averaged over the rows of the batch that have it and the outcomes summed; AdamW,
//! mini-batches, a fixed number of epochs. Settings are fixed
//! ([`SequenceConfig::default`]), never tuned on the test part.
//!
//! Budget: fitting 50,000 sequences of 128 tokens with the default settings (3 epochs,
//! batches of 128) took 206 s on 2 CPU cores shared with other builds (load about 4.5,
//! so about one core for this; a test build with optimised dependencies), measured on
//! 2026-12-04 by the ignored test `fit_time_on_50k_sequences`. The cost is linear in
//! rows x tokens x epochs. Predicting is one batched forward pass per 128 cases.
//!
//! Deterministic: weights come from [`seed_weights`] and the batch order from
//! [`SplitMix64`], both seeded; the same rows and config give the same model.

use candle_core::{DType, Device, Tensor, D};
use candle_nn::{AdamW, Embedding, Linear, Module, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use chrono::{DateTime, Utc};
use journey::clinical::Scale;
use journey::event::Event;
use serde::{Deserialize, Serialize};

use super::outcomes::{Outcome, PatientOutcomes};
use crate::encode::init::{seed_weights, SplitMix64};
use crate::encode::vocab::{EventToken, Vocabulary, BIN_NONE, N_GAPS, PAD};

/// The fixed settings of the recurrent baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceConfig {
    /// Width of the summed code + value-bin + gap embedding (the GRU's input).
    pub embedding_size: usize,
    /// The GRU's hidden state.
    pub hidden_size: usize,
    /// Only the last this-many events before the cut are read (the most recent
    /// history matters most, and the cost is linear in it).
    pub max_len: usize,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub seed: u64,
}

impl Default for SequenceConfig {
    /// Small enough that ~50,000 snapshot sequences of 128 events fit in a few minutes
    /// on 2 CPU cores (206 s measured, see the module doc), large enough to read order.
    fn default() -> Self {
        SequenceConfig {
            embedding_size: 32,
            hidden_size: 48,
            max_len: 128,
            epochs: 3,
            batch_size: 128,
            learning_rate: 3e-3,
            weight_decay: 0.01,
            seed: 19,
        }
    }
}

/// Why the recurrent baseline could not be fitted.
#[derive(Debug, thiserror::Error)]
pub enum SequenceError {
    #[error("no training rows")]
    Empty,
    #[error("a training row has a token outside the vocabulary ({0:?})")]
    Malformed(EventToken),
    #[error("a setting is zero: {0}")]
    Config(&'static str),
    #[error("the GRU: {0}")]
    Candle(#[from] candle_core::Error),
}

/// How one outcome's output is read back: a probability, or a value in its scale.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Head {
    /// Too few training rows (none, or one class): no prediction.
    Unfitted,
    Rate,
    /// A standardised value: `mean + sd * output`.
    Value { mean: f64, sd: f64 },
}

/// A single-layer GRU with PyTorch's gate order (reset, update, new) and weight names
/// (`weight_ih_l0`, ...): the equations of candle-nn 0.9's `rnn::GRU::step`
/// (`candle-nn/src/rnn.rs` of huggingface/candle), plus a mask, so that a padded step
/// leaves the state as it was.
///
/// Steps come in as separate tensors, not as slices of one (seq, batch, ·) tensor: the
/// gradient of a slice is a zero tensor of the whole, so slicing at each of 128 steps
/// costs time quadratic in the length (it made fitting several times slower).
struct GruLayer {
    /// (3 hidden, input)
    w_ih: Tensor,
    /// (3 hidden, hidden)
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    hidden_size: usize,
}

impl GruLayer {
    fn load(vb: VarBuilder, input_size: usize, hidden_size: usize) -> candle_core::Result<Self> {
        let h3 = 3 * hidden_size;
        let uniform = candle_nn::init::DEFAULT_KAIMING_UNIFORM;
        let zero = candle_nn::Init::Const(0.0);
        Ok(GruLayer {
            w_ih: vb.get_with_hints((h3, input_size), "weight_ih_l0", uniform)?,
            w_hh: vb.get_with_hints((h3, hidden_size), "weight_hh_l0", uniform)?,
            b_ih: vb.get_with_hints(h3, "bias_ih_l0", zero)?,
            b_hh: vb.get_with_hints(h3, "bias_hh_l0", zero)?,
            hidden_size,
        })
    }

    /// The last state, (batch, hidden), after the steps `inputs` (each (batch, input))
    /// from a zero state; where a step's `present` (batch, 1) is 0 the state is kept.
    fn forward(&self, inputs: &[Tensor], present: &[Tensor]) -> candle_core::Result<Tensor> {
        let h = self.hidden_size;
        let Some(first) = inputs.first() else {
            return Err(candle_core::Error::Msg("a GRU needs at least one step".into()));
        };
        let b_sz = first.dim(0)?;
        let w_ih = self.w_ih.t()?.contiguous()?;
        let w_hh = self.w_hh.t()?.contiguous()?;
        let mut state = Tensor::zeros((b_sz, h), DType::F32, first.device())?;
        for (input, present) in inputs.iter().zip(present) {
            let from_input = input.matmul(&w_ih)?.broadcast_add(&self.b_ih)?;
            let from_state = state.matmul(&w_hh)?.broadcast_add(&self.b_hh)?;
            let gates =
                candle_nn::ops::sigmoid(&(from_input.narrow(1, 0, 2 * h)? + from_state.narrow(1, 0, 2 * h)?)?)?;
            let reset = gates.narrow(1, 0, h)?;
            let update = gates.narrow(1, h, h)?;
            let candidate = (from_input.narrow(1, 2 * h, h)? + (reset * from_state.narrow(1, 2 * h, h)?)?)?.tanh()?;
            // h' = (1 - z) n + z h = h + (1 - z)(n - h); padding (0) keeps h.
            let step = update.affine(-1.0, 1.0)?.broadcast_mul(present)?;
            state = (&state + (step * (candidate - &state)?)?)?;
        }
        Ok(state)
    }
}

/// The network: embeddings, the GRU and the outputs (one per outcome).
struct Network {
    code_embeddings: Embedding,
    bin_embeddings: Embedding,
    gap_embeddings: Embedding,
    gru: GruLayer,
    /// (hidden) -> (outcomes): one linear head per outcome, as one matrix.
    heads: Linear,
}

impl Network {
    fn load(vb: VarBuilder, vocab_size: usize, n_bins: usize, config: &SequenceConfig) -> candle_core::Result<Self> {
        let e = config.embedding_size;
        let h = config.hidden_size;
        Ok(Network {
            code_embeddings: candle_nn::embedding(vocab_size, e, vb.pp("code_embeddings"))?,
            bin_embeddings: candle_nn::embedding(n_bins, e, vb.pp("bin_embeddings"))?,
            gap_embeddings: candle_nn::embedding(N_GAPS, e, vb.pp("gap_embeddings"))?,
            gru: GruLayer::load(vb.pp("gru"), e, h)?,
            heads: candle_nn::linear(h, Outcome::ALL.len(), vb.pp("heads"))?,
        })
    }

    /// (batch, outcomes) outputs: logits for rates, standardised values otherwise.
    fn forward(&self, batch: &SequenceBatch) -> candle_core::Result<Tensor> {
        let inputs = batch
            .steps
            .iter()
            .map(|step| {
                let codes = self.code_embeddings.forward(&step.codes)?;
                let bins = self.bin_embeddings.forward(&step.bins)?;
                let gaps = self.gap_embeddings.forward(&step.gaps)?;
                (codes + bins)? + gaps
            })
            .collect::<candle_core::Result<Vec<Tensor>>>()?;
        let present: Vec<Tensor> = batch.steps.iter().map(|step| step.present.clone()).collect();
        let last = self.gru.forward(&inputs, &present)?;
        self.heads.forward(&last)
    }
}

/// One time step of a batch: each row's token at that step.
struct Step {
    /// (batch) u32 ids.
    codes: Tensor,
    bins: Tensor,
    gaps: Tensor,
    /// (batch, 1) f32: 1 at an event, 0 at padding.
    present: Tensor,
}

/// Token sequences as one tensor set per step, left-padded so every row ends at its
/// last event.
struct SequenceBatch {
    steps: Vec<Step>,
}

impl SequenceBatch {
    fn new(sequences: &[&[EventToken]], device: &Device) -> candle_core::Result<Self> {
        // At least one step, so an empty sequence still reads the zero state.
        let seq_len = sequences.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let b_sz = sequences.len();
        let steps = (0..seq_len)
            .map(|t| {
                let mut codes = vec![PAD; b_sz];
                let mut bins = vec![BIN_NONE; b_sz];
                let mut gaps = vec![0u32; b_sz];
                let mut present = vec![0f32; b_sz];
                for (row, tokens) in sequences.iter().enumerate() {
                    // Left padding: row's token i sits at step seq_len - len + i.
                    let Some(i) = (t + tokens.len()).checked_sub(seq_len) else { continue };
                    let token = tokens[i];
                    codes[row] = token.code;
                    bins[row] = token.value_bin;
                    gaps[row] = token.gap;
                    present[row] = 1.0;
                }
                Ok(Step {
                    codes: Tensor::from_vec(codes, b_sz, device)?,
                    bins: Tensor::from_vec(bins, b_sz, device)?,
                    gaps: Tensor::from_vec(gaps, b_sz, device)?,
                    present: Tensor::from_vec(present, (b_sz, 1), device)?,
                })
            })
            .collect::<candle_core::Result<Vec<Step>>>()?;
        Ok(SequenceBatch { steps })
    }
}

/// The fitted recurrent baseline: its vocabulary (built from the training rows'
/// journeys), network and per-outcome read-out.
pub struct RecurrentBaseline {
    vocab: Vocabulary,
    config: SequenceConfig,
    network: Network,
    heads: [Head; Outcome::ALL.len()],
    device: Device,
    /// The fitted weights, by name: what a saved model holds.
    weights: VarMap,
}

/// One named weight as saved: its shape and values (row-major).
#[derive(Serialize, Deserialize)]
struct SavedWeight {
    shape: Vec<usize>,
    values: Vec<f32>,
}

/// A fitted recurrent model as a file holds it (the twin head keeps one): everything
/// needed to predict again, nothing of its training rows.
#[derive(Serialize, Deserialize)]
struct SavedRecurrent {
    vocab: Vocabulary,
    config: SequenceConfig,
    heads: [Head; Outcome::ALL.len()],
    weights: std::collections::BTreeMap<String, SavedWeight>,
}

impl Serialize for RecurrentBaseline {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let data = self.weights.data().lock().map_err(|_| S::Error::custom("the weights' lock is poisoned"))?;
        let mut weights = std::collections::BTreeMap::new();
        for (name, var) in data.iter() {
            let tensor = var.as_tensor();
            let values = tensor.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(S::Error::custom)?;
            weights.insert(name.clone(), SavedWeight { shape: tensor.dims().to_vec(), values });
        }
        SavedRecurrent { vocab: self.vocab.clone(), config: self.config.clone(), heads: self.heads, weights }
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RecurrentBaseline {
    /// Reads a saved model back; a weight of the wrong shape or a missing one is an
    /// error naming it, never a model that predicts from garbage.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let saved = SavedRecurrent::deserialize(deserializer)?;
        let device = Device::Cpu;
        let varmap = VarMap::new();
        {
            let mut data = varmap.data().lock().map_err(|_| D::Error::custom("the weights' lock is poisoned"))?;
            for (name, w) in saved.weights {
                let tensor = Tensor::from_vec(w.values, w.shape.as_slice(), &device)
                    .map_err(|e| D::Error::custom(format!("weight {name}: {e}")))?;
                let var = candle_core::Var::from_tensor(&tensor).map_err(|e| D::Error::custom(format!("weight {name}: {e}")))?;
                data.insert(name, var);
            }
        }
        let saved_count = varmap.all_vars().len();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let network = Network::load(vb, saved.vocab.len(), saved.vocab.n_value_bins(), &saved.config)
            .map_err(|e| D::Error::custom(format!("the recurrent model's weights: {e}")))?;
        // A weight the file lacks would have been created from its initialiser: refuse.
        if varmap.all_vars().len() != saved_count {
            return Err(D::Error::custom("the recurrent model's file lacks some of its weights"));
        }
        Ok(RecurrentBaseline { vocab: saved.vocab, config: saved.config, network, heads: saved.heads, device, weights: varmap })
    }
}

impl RecurrentBaseline {
    /// Fits the network on `rows`, each a token sequence at its cut (from `vocab`) and
    /// the outcomes after it. Only the last `max_len` tokens of a row are read. An
    /// outcome with no rows, or one class only, is not fitted (`predict` gives `None`).
    pub fn fit<'a>(
        vocab: &Vocabulary,
        rows: impl IntoIterator<Item = (&'a [EventToken], &'a PatientOutcomes)>,
        config: &SequenceConfig,
    ) -> Result<Self, SequenceError> {
        for (value, name) in [
            (config.embedding_size, "embedding_size"),
            (config.hidden_size, "hidden_size"),
            (config.max_len, "max_len"),
            (config.batch_size, "batch_size"),
        ] {
            if value == 0 {
                return Err(SequenceError::Config(name));
            }
        }
        let rows: Vec<(&[EventToken], &PatientOutcomes)> = rows
            .into_iter()
            .map(|(tokens, outcomes)| (&tokens[tokens.len().saturating_sub(config.max_len)..], outcomes))
            .collect();
        if rows.is_empty() {
            return Err(SequenceError::Empty);
        }
        let (vocab_size, n_bins) = (vocab.len(), vocab.n_value_bins());
        if let Some(bad) = rows.iter().flat_map(|(t, _)| t.iter()).find(|t| !in_vocabulary(t, vocab_size, n_bins)) {
            return Err(SequenceError::Malformed(*bad));
        }
        let heads = read_outs(rows.iter().map(|(_, o)| *o));
        let (targets, known) = target_table(&rows, &heads);

        let device = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let network = Network::load(vb, vocab_size, n_bins, config)?;
        seed_weights(&varmap, config.seed)?;
        let params = ParamsAdamW { lr: config.learning_rate, weight_decay: config.weight_decay, ..Default::default() };
        let mut optimizer = AdamW::new(varmap.all_vars(), params)?;
        let is_rate: Vec<f32> = Outcome::ALL.iter().map(|o| if o.is_rate() { 1.0 } else { 0.0 }).collect();
        let is_rate = Tensor::from_vec(is_rate, (1, Outcome::ALL.len()), &device)?;

        // Batches of similar lengths waste little on padding; their order is shuffled
        // each epoch.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_key(|&i| rows[i].0.len());
        let batches: Vec<&[usize]> = order.chunks(config.batch_size).collect();
        let mut rng = SplitMix64::new(config.seed);
        let mut batch_order: Vec<usize> = (0..batches.len()).collect();
        let width = Outcome::ALL.len();
        for _ in 0..config.epochs {
            rng.shuffle(&mut batch_order);
            for &b in &batch_order {
                let members = batches[b];
                let sequences: Vec<&[EventToken]> = members.iter().map(|&i| rows[i].0).collect();
                let batch = SequenceBatch::new(&sequences, &device)?;
                let pick = |table: &[f32]| -> Vec<f32> {
                    members.iter().flat_map(|&i| table[i * width..(i + 1) * width].iter().copied()).collect()
                };
                let shape = (members.len(), width);
                let y = Tensor::from_vec(pick(&targets), shape, &device)?;
                let m = Tensor::from_vec(pick(&known), shape, &device)?;
                let output = network.forward(&batch)?;
                let loss = masked_loss(&output, &y, &m, &is_rate)?;
                optimizer.backward_step(&loss)?;
            }
        }
        Ok(RecurrentBaseline { vocab: vocab.clone(), config: config.clone(), network, heads, device, weights: varmap })
    }

    /// The tokens this model reads of a journey at a cut: the last `max_len` events up
    /// to and including `until`, in its vocabulary.
    pub fn tokenize(&self, events: &[Event], until: DateTime<Utc>) -> Vec<EventToken> {
        self.vocab.tokenize(events, Some(until), self.config.max_len)
    }

    /// One outcome's prediction from a token sequence: a probability in [0, 1] for a
    /// yes/no outcome, a DAS28 in the scale's range otherwise; `None` when the outcome
    /// was not fitted or a token is outside the vocabulary.
    pub fn predict(&self, outcome: Outcome, tokens: &[EventToken]) -> Option<f64> {
        let o = Outcome::ALL.iter().position(|x| *x == outcome)?;
        self.predict_many(&[tokens]).into_iter().next()?[o]
    }

    /// Every outcome's prediction (in [`Outcome::ALL`] order) for each sequence, a
    /// batch at a time; a malformed sequence gets `None` throughout.
    pub fn predict_many(&self, sequences: &[&[EventToken]]) -> Vec<Vec<Option<f64>>> {
        let (vocab_size, n_bins) = (self.vocab.len(), self.vocab.n_value_bins());
        let mut out = vec![vec![None; Outcome::ALL.len()]; sequences.len()];
        let valid: Vec<usize> =
            (0..sequences.len()).filter(|&i| sequences[i].iter().all(|t| in_vocabulary(t, vocab_size, n_bins))).collect();
        for chunk in valid.chunks(self.config.batch_size.max(1)) {
            let batch: Vec<&[EventToken]> = chunk
                .iter()
                .map(|&i| &sequences[i][sequences[i].len().saturating_sub(self.config.max_len)..])
                .collect();
            let Ok(outputs) = self.outputs(&batch) else { continue };
            for (&i, row) in chunk.iter().zip(outputs) {
                out[i] = row.iter().zip(&self.heads).map(|(v, head)| read_out(*head, f64::from(*v))).collect();
            }
        }
        out
    }

    fn outputs(&self, sequences: &[&[EventToken]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let batch = SequenceBatch::new(sequences, &self.device)?;
        self.network.forward(&batch)?.to_vec2::<f32>()
    }
}

/// Whether a token's ids are ones the network has embeddings for.
fn in_vocabulary(token: &EventToken, vocab_size: usize, n_bins: usize) -> bool {
    (token.code as usize) < vocab_size && (token.value_bin as usize) < n_bins && (token.gap as usize) < N_GAPS
}

/// Per outcome how its output is read: rates need both classes, values their mean
/// and spread (a spread of 0 standardises by 1).
fn read_outs<'a>(outcomes: impl Iterator<Item = &'a PatientOutcomes> + Clone) -> [Head; Outcome::ALL.len()] {
    Outcome::ALL.map(|outcome| {
        let values: Vec<f64> = outcomes.clone().filter_map(|o| o.get(outcome)).filter(|v| v.is_finite()).collect();
        if values.is_empty() {
            return Head::Unfitted;
        }
        if outcome.is_rate() {
            let positives = values.iter().filter(|v| **v > 0.5).count();
            return if positives == 0 || positives == values.len() { Head::Unfitted } else { Head::Rate };
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
        Head::Value { mean, sd: if sd > 1e-9 { sd } else { 1.0 } }
    })
}

/// One output read back: a probability, or a value clamped to DAS28's range (a figure
/// outside the measure's range is never shown).
fn read_out(head: Head, output: f64) -> Option<f64> {
    if !output.is_finite() {
        return None;
    }
    match head {
        Head::Unfitted => None,
        Head::Rate => Some((1.0 / (1.0 + (-output).exp())).clamp(0.0, 1.0)),
        Head::Value { mean, sd } => {
            let (low, high) = Scale::Das28.range();
            Some((mean + sd * output).clamp(low, high))
        }
    }
}

/// Row-major (rows, outcomes) targets (1/0 for rates, standardised values) and the
/// mask of those that are known and fitted.
fn target_table(rows: &[(&[EventToken], &PatientOutcomes)], heads: &[Head]) -> (Vec<f32>, Vec<f32>) {
    let mut targets = Vec::with_capacity(rows.len() * heads.len());
    let mut known = Vec::with_capacity(rows.len() * heads.len());
    for (_, outcomes) in rows {
        for (outcome, head) in Outcome::ALL.iter().zip(heads) {
            let target = match (*head, outcomes.get(*outcome).filter(|v| v.is_finite())) {
                (Head::Rate, Some(v)) => Some(if v > 0.5 { 1.0 } else { 0.0 }),
                (Head::Value { mean, sd }, Some(v)) => Some((v - mean) / sd),
                _ => None,
            };
            targets.push(target.unwrap_or(0.0) as f32);
            known.push(if target.is_some() { 1.0 } else { 0.0 });
        }
    }
    (targets, known)
}

/// The masked multi-task loss over (batch, outcomes): binary cross-entropy on logits
/// for rates, squared error otherwise; each outcome averaged over the rows that have
/// it, then summed over outcomes.
fn masked_loss(output: &Tensor, y: &Tensor, known: &Tensor, is_rate: &Tensor) -> candle_core::Result<Tensor> {
    // log(1 + e^x) - y x, in its stable form max(x, 0) - y x + log(1 + e^-|x|).
    let softplus = (output.relu()? + output.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?)?;
    let cross_entropy = (softplus - (output * y)?)?;
    let squared_error = (output - y)?.sqr()?;
    let is_value = is_rate.affine(-1.0, 1.0)?;
    let per_item = (cross_entropy.broadcast_mul(is_rate)? + squared_error.broadcast_mul(&is_value)?)?;
    let summed = (per_item * known)?.sum(0)?;
    let counts = known.sum(0)?.maximum(1.0)?;
    (summed / counts)?.sum(D::Minus1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::vocab::{VocabConfig, BIN_FIRST};
    use crate::eval::cohort::auroc;

    /// A vocabulary with codes 4.. (`n` of them) and no value edges.
    fn vocab(n: usize) -> Vocabulary {
        use chrono::TimeZone;
        use journey::event::{Code, Modality, PatientId, Phase, Source};
        let events: Vec<Event> = (0..n)
            .map(|i| Event {
                patient: PatientId::new("p").unwrap(),
                time: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
                code: Code { system: "urn:test".into(), code: format!("c{i}"), display: None },
                value: None,
                text: None,
                modality: Modality::Lab,
                phase: Phase::Point,
                source: Source::default(),
                concept: None,
            })
            .collect();
        Vocabulary::build(VocabConfig { min_count: 1, n_bins: 10 }, [events.as_slice()])
    }

    /// Sequences of noise codes with one code A (id 4) and one code B (id 5) at random
    /// places: a flare when A comes before B. Both orders hold the same codes, so a
    /// bag of codes scores 0.5; the DAS28 is 3 or 5 by the same order (with a value
    /// out of range in a few rows, to see the clamp).
    fn ordered_rows(rng: &mut SplitMix64, n: usize) -> Vec<(Vec<EventToken>, PatientOutcomes)> {
        (0..n)
            .map(|_| {
                let len = 6 + rng.below(10);
                let mut tokens: Vec<EventToken> = (0..len)
                    .map(|_| EventToken { code: 6 + rng.below(10) as u32, value_bin: BIN_FIRST, gap: 3 })
                    .collect();
                let (a, b) = (rng.below(len), rng.below(len));
                let (first, second) = if a <= b { (a, b + 1) } else { (b, a + 1) };
                let a_first = rng.next_f64() < 0.5;
                tokens.insert(first, EventToken { code: if a_first { 4 } else { 5 }, value_bin: BIN_NONE, gap: 2 });
                tokens.insert(second, EventToken { code: if a_first { 5 } else { 4 }, value_bin: BIN_NONE, gap: 2 });
                let outcomes = PatientOutcomes {
                    flare_6m: Some(a_first),
                    das28_day_150: Some(if a_first { 5.0 } else { 3.0 } + rng.normal() * 0.3),
                    ..Default::default()
                };
                (tokens, outcomes)
            })
            .collect()
    }

    fn small() -> SequenceConfig {
        SequenceConfig { embedding_size: 16, hidden_size: 16, epochs: 12, batch_size: 32, learning_rate: 1e-2, ..Default::default() }
    }

    /// The GRU reads order: on held-out sequences whose flare depends only on whether
    /// A precedes B, its AUROC is high; probabilities and DAS28 values are in range.
    /// Seeded data and weights: the same numbers every run.
    #[test]
    fn the_gru_reads_the_order_of_events() {
        let vocab = vocab(12);
        let mut rng = SplitMix64::new(5);
        let rows = ordered_rows(&mut rng, 700);
        let (train, test) = rows.split_at(500);
        let model = RecurrentBaseline::fit(&vocab, train.iter().map(|(t, o)| (t.as_slice(), o)), &small()).unwrap();
        let sequences: Vec<&[EventToken]> = test.iter().map(|(t, _)| t.as_slice()).collect();
        let predicted = model.predict_many(&sequences);
        let flare = Outcome::ALL.iter().position(|o| *o == Outcome::Flare6m).unwrap();
        let das28 = Outcome::ALL.iter().position(|o| *o == Outcome::Das28Day150).unwrap();
        let scores: Vec<f64> = predicted.iter().map(|p| p[flare].unwrap()).collect();
        let labels: Vec<bool> = test.iter().map(|(_, o)| o.flare_6m == Some(true)).collect();
        let auc = auroc(&scores, &labels).unwrap();
        assert!(auc > 0.85, "held-out AUROC {auc}");
        assert!(scores.iter().all(|p| (0.0..=1.0).contains(p)));
        let values: Vec<f64> = predicted.iter().map(|p| p[das28].unwrap()).collect();
        assert!(values.iter().all(|v| (0.0..=10.0).contains(v)));
        let mae = values.iter().zip(test).map(|(v, (_, o))| (v - o.das28_day_150.unwrap()).abs()).sum::<f64>()
            / values.len() as f64;
        assert!(mae < 0.8, "DAS28 MAE {mae} (1.0 when the order is not read)");
        assert_eq!(model.predict(Outcome::Flare6m, sequences[0]), Some(scores[0]));
    }

    /// Outcomes without rows or with one class predict nothing; tokens outside the
    /// vocabulary predict nothing (no panic); fitting on them, or on nothing, is an
    /// error; an empty history reads the learned prior, in range.
    #[test]
    fn malformed_input_and_unfitted_outcomes_give_none() {
        let vocab = vocab(12);
        let mut rng = SplitMix64::new(6);
        let mut rows = ordered_rows(&mut rng, 60);
        for (_, o) in &mut rows {
            o.switch_12m = Some(true);
        }
        let config = SequenceConfig { epochs: 1, ..small() };
        let model = RecurrentBaseline::fit(&vocab, rows.iter().map(|(t, o)| (t.as_slice(), o)), &config).unwrap();
        let good = rows[0].0.as_slice();
        assert!(model.predict(Outcome::Flare6m, good).is_some());
        assert_eq!(model.predict(Outcome::Switch12m, good), None, "one class");
        assert_eq!(model.predict(Outcome::TnfiResponse6m, good), None, "no rows");
        for bad in [
            EventToken { code: 99, value_bin: BIN_NONE, gap: 1 },
            EventToken { code: 4, value_bin: 99, gap: 1 },
            EventToken { code: 4, value_bin: BIN_NONE, gap: 99 },
        ] {
            assert_eq!(model.predict(Outcome::Flare6m, &[bad]), None);
            let bad_rows = [(vec![bad], PatientOutcomes::default())];
            let fitted = RecurrentBaseline::fit(&vocab, bad_rows.iter().map(|(t, o)| (t.as_slice(), o)), &config);
            assert!(matches!(fitted, Err(SequenceError::Malformed(_))));
        }
        let empty = model.predict(Outcome::Flare6m, &[]).unwrap();
        assert!((0.0..=1.0).contains(&empty));
        let none: [(Vec<EventToken>, PatientOutcomes); 0] = [];
        assert!(matches!(
            RecurrentBaseline::fit(&vocab, none.iter().map(|(t, o)| (t.as_slice(), o)), &config),
            Err(SequenceError::Empty)
        ));
    }

    /// The same rows and seed give the same model, prediction for prediction.
    #[test]
    fn fitting_is_deterministic_given_the_seed() {
        let vocab = vocab(12);
        let rows = ordered_rows(&mut SplitMix64::new(7), 80);
        let config = SequenceConfig { epochs: 1, ..small() };
        let fit = || RecurrentBaseline::fit(&vocab, rows.iter().map(|(t, o)| (t.as_slice(), o)), &config).unwrap();
        let sequences: Vec<&[EventToken]> = rows.iter().map(|(t, _)| t.as_slice()).collect();
        assert_eq!(fit().predict_many(&sequences), fit().predict_many(&sequences));
    }

    /// A saved model predicts exactly as the fitted one; a file missing a weight is
    /// refused rather than filled from the initialiser.
    #[test]
    fn a_saved_model_reads_back_prediction_for_prediction() {
        let vocab = vocab(12);
        let rows = ordered_rows(&mut SplitMix64::new(7), 80);
        let config = SequenceConfig { epochs: 1, ..small() };
        let fitted = RecurrentBaseline::fit(&vocab, rows.iter().map(|(t, o)| (t.as_slice(), o)), &config).unwrap();
        let json = serde_json::to_string(&fitted).unwrap();
        let loaded: RecurrentBaseline = serde_json::from_str(&json).unwrap();
        let sequences: Vec<&[EventToken]> = rows.iter().map(|(t, _)| t.as_slice()).collect();
        assert_eq!(loaded.predict_many(&sequences), fitted.predict_many(&sequences));

        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["weights"].as_object_mut().unwrap().remove("heads.weight");
        let err = serde_json::from_value::<RecurrentBaseline>(value).err().expect("refused");
        assert!(err.to_string().contains("lacks"), "{err}");
    }

    /// The masked layer is candle-nn's GRU: on the same weights (the same names in one
    /// `VarMap`), its last state equals `GRU::step` run step by step, and padded steps
    /// in front change nothing. Seeded weights and inputs.
    #[test]
    fn the_gru_layer_matches_candle_nn() {
        use candle_nn::rnn::{gru, GRUConfig, RNN};
        let (seq_len, b_sz, e, h) = (5, 3, 4, 6);
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let ours = GruLayer::load(vb.pp("gru"), e, h).unwrap();
        seed_weights(&varmap, 3).unwrap();
        let reference = gru(e, h, GRUConfig::default(), vb.pp("gru")).unwrap();
        let mut rng = SplitMix64::new(4);
        let values: Vec<f32> = (0..seq_len * b_sz * e).map(|_| rng.normal() as f32).collect();
        let inputs: Vec<Tensor> = Tensor::from_vec(values, (seq_len, b_sz, e), &device)
            .unwrap()
            .chunk(seq_len, 0)
            .unwrap()
            .into_iter()
            .map(|x| x.squeeze(0).unwrap())
            .collect();
        let present = vec![Tensor::ones((b_sz, 1), DType::F32, &device).unwrap(); seq_len];
        let last = ours.forward(&inputs, &present).unwrap();
        assert_eq!(last.dims(), &[b_sz, h]);
        let mut state = reference.zero_state(b_sz).unwrap();
        for input in &inputs {
            state = reference.step(input, &state).unwrap();
        }
        let gap = (last.clone() - state.h()).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(gap < 1e-5, "{gap}");

        let mut padded = vec![Tensor::ones((b_sz, e), DType::F32, &device).unwrap(); 2];
        padded.extend(inputs);
        let mut mask = vec![Tensor::zeros((b_sz, 1), DType::F32, &device).unwrap(); 2];
        mask.extend(present);
        let shifted = ours.forward(&padded, &mask).unwrap();
        let gap = (shifted - last).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(gap < 1e-6, "{gap}");
    }

    /// The fit budget of the module doc: 50,000 random sequences of `max_len` tokens
    /// with the default settings. Ignored (minutes, not a unit test); run with
    /// `cargo test --workspace --locked --lib -- --ignored fit_time_on_50k_sequences --nocapture`.
    #[test]
    #[ignore]
    fn fit_time_on_50k_sequences() {
        let vocab = vocab(200);
        let config = SequenceConfig::default();
        let mut rng = SplitMix64::new(8);
        let rows: Vec<(Vec<EventToken>, PatientOutcomes)> = (0..50_000)
            .map(|_| {
                let tokens = (0..config.max_len)
                    .map(|_| EventToken {
                        code: 4 + rng.below(200) as u32,
                        value_bin: rng.below(vocab.n_value_bins()) as u32,
                        gap: 1 + rng.below(N_GAPS - 1) as u32,
                    })
                    .collect();
                let outcomes = PatientOutcomes {
                    flare_6m: Some(rng.next_f64() < 0.3),
                    das28_day_150: Some(2.0 + 4.0 * rng.next_f64()),
                    switch_12m: (rng.next_f64() < 0.5).then(|| rng.next_f64() < 0.2),
                    ..Default::default()
                };
                (tokens, outcomes)
            })
            .collect();
        let started = std::time::Instant::now();
        let model = RecurrentBaseline::fit(&vocab, rows.iter().map(|(t, o)| (t.as_slice(), o)), &config).unwrap();
        eprintln!("fitted 50,000 x {} tokens in {:.1} s", config.max_len, started.elapsed().as_secs_f64());
        let p = model.predict(Outcome::Flare6m, &rows[0].0).unwrap();
        assert!((0.0..=1.0).contains(&p));
    }
}
