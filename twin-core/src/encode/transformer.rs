//! The Transformer encoder block shared by the event encoder and the fusion model:
//! pre-norm self-attention and a GELU feed-forward, each with an explicit residual
//! (Vaswani et al. 2017, "Attention is all you need", with the pre-LN placement of
//! Xiong et al. 2020, which trains stably without warm-up).
//!
//! Padding and absent modalities are excluded by a key mask: a masked key gets a
//! score of -1e9 before the softmax, so its attention weight is exactly 0 in f32 and
//! whatever sits at that position (zeros included) cannot reach any output.
//!
//! Layer norm is written out with differentiable ops: candle-nn's fused layer norm
//! has no backward pass, and these blocks are trained here.

use candle_core::{Result, Tensor, D};
use candle_nn::{Linear, Module, VarBuilder};
use serde::{Deserialize, Serialize};

/// Shape of one block.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BlockConfig {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
}

/// Layer norm over the last dimension, differentiable.
#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

impl LayerNorm {
    pub fn load(vb: VarBuilder, size: usize) -> Result<Self> {
        let weight = vb.get_with_hints(size, "weight", candle_nn::Init::Const(1.0))?;
        let bias = vb.get_with_hints(size, "bias", candle_nn::Init::Const(0.0))?;
        Ok(LayerNorm { weight, bias })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centred = x.broadcast_sub(&mean)?;
        let variance = centred.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centred.broadcast_div(&(variance + 1e-5)?.sqrt()?)?;
        normed.broadcast_mul(&self.weight)?.broadcast_add(&self.bias)
    }
}

/// Multi-head self-attention with a key mask.
#[derive(Debug, Clone)]
pub struct SelfAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    num_heads: usize,
}

impl SelfAttention {
    pub fn load(vb: VarBuilder, cfg: &BlockConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(SelfAttention {
            query: candle_nn::linear(h, h, vb.pp("query"))?,
            key: candle_nn::linear(h, h, vb.pp("key"))?,
            value: candle_nn::linear(h, h, vb.pp("value"))?,
            output: candle_nn::linear(h, h, vb.pp("output"))?,
            num_heads: cfg.num_attention_heads,
        })
    }

    /// `x`: (batch, seq, hidden); `key_bias`: (batch, 1, 1, seq), 0 for a key that
    /// may be attended to and -1e9 for one that may not ([`key_bias`]).
    pub fn forward(&self, x: &Tensor, key_bias: &Tensor) -> Result<Tensor> {
        let (b_sz, seq_len, hidden) = x.dims3()?;
        let head_dim = hidden / self.num_heads;
        let split = |t: Tensor| -> Result<Tensor> {
            t.reshape((b_sz, seq_len, self.num_heads, head_dim))?.transpose(1, 2)?.contiguous()
        };
        let query = split(self.query.forward(x)?)?;
        let key = split(self.key.forward(x)?)?;
        let value = split(self.value.forward(x)?)?;
        let attention_scores = (query.matmul(&key.t()?)? / (head_dim as f64).sqrt())?;
        let attention_scores = attention_scores.broadcast_add(key_bias)?;
        let attention_probs = candle_nn::ops::softmax_last_dim(&attention_scores)?;
        let context = attention_probs.matmul(&value)?;
        let context = context.transpose(1, 2)?.reshape((b_sz, seq_len, hidden))?;
        self.output.forward(&context)
    }
}

/// One pre-norm encoder block.
#[derive(Debug, Clone)]
pub struct EncoderBlock {
    attention_norm: LayerNorm,
    attention: SelfAttention,
    ffn_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
}

impl EncoderBlock {
    pub fn load(vb: VarBuilder, cfg: &BlockConfig) -> Result<Self> {
        Ok(EncoderBlock {
            attention_norm: LayerNorm::load(vb.pp("attention_norm"), cfg.hidden_size)?,
            attention: SelfAttention::load(vb.pp("attention"), cfg)?,
            ffn_norm: LayerNorm::load(vb.pp("ffn_norm"), cfg.hidden_size)?,
            intermediate: candle_nn::linear(cfg.hidden_size, cfg.intermediate_size, vb.pp("intermediate"))?,
            output: candle_nn::linear(cfg.intermediate_size, cfg.hidden_size, vb.pp("output"))?,
        })
    }

    pub fn forward(&self, x: &Tensor, key_bias: &Tensor) -> Result<Tensor> {
        let normed = self.attention_norm.forward(x)?;
        let attended = self.attention.forward(&normed, key_bias)?;
        let x = (x + attended)?;
        let normed = self.ffn_norm.forward(&x)?;
        let expanded = self.intermediate.forward(&normed)?.gelu_erf()?;
        let projected = self.output.forward(&expanded)?;
        x + projected
    }
}

/// The additive key bias for attention from a (batch, seq) mask of 1 (present) and
/// 0 (absent): shape (batch, 1, 1, seq), 0 where present, -1e9 where absent.
pub fn key_bias(mask: &Tensor) -> Result<Tensor> {
    let (b_sz, seq_len) = mask.dims2()?;
    let absent = (1.0 - mask)?;
    (absent * -1e9)?.reshape((b_sz, 1, 1, seq_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    fn block() -> (EncoderBlock, VarMap) {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let cfg = BlockConfig { hidden_size: 8, num_attention_heads: 2, intermediate_size: 16 };
        (EncoderBlock::load(vb, &cfg).unwrap(), varmap)
    }

    #[test]
    fn shape_is_kept() {
        let (block, _) = block();
        let x = Tensor::randn(0f32, 1.0, (3, 5, 8), &Device::Cpu).unwrap();
        let mask = Tensor::ones((3, 5), DType::F32, &Device::Cpu).unwrap();
        let y = block.forward(&x, &key_bias(&mask).unwrap()).unwrap();
        assert_eq!(y.dims(), &[3, 5, 8]);
    }

    /// A masked position cannot influence the others: changing what it holds leaves
    /// every unmasked output bit-for-bit the same.
    #[test]
    fn masked_keys_change_nothing() {
        let (block, _) = block();
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (1, 4, 8), &dev).unwrap();
        let mask = Tensor::new(&[[1f32, 1.0, 0.0, 1.0]], &dev).unwrap();
        let bias = key_bias(&mask).unwrap();
        let other = Tensor::randn(0f32, 10.0, (1, 1, 8), &dev).unwrap();
        let x2 = Tensor::cat(&[x.narrow(1, 0, 2).unwrap(), other, x.narrow(1, 3, 1).unwrap()], 1).unwrap();
        let y1 = block.forward(&x, &bias).unwrap().to_vec3::<f32>().unwrap();
        let y2 = block.forward(&x2, &bias).unwrap().to_vec3::<f32>().unwrap();
        for i in [0, 1, 3] {
            assert_eq!(y1[0][i], y2[0][i], "position {i}");
        }
    }
}
