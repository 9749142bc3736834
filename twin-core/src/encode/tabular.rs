//! The tabular encoder: a two-layer perceptron from a panel of scores to one token.
//!
//! Imaging (Sharp/van der Heijde, power Doppler) and omics (interferon signature and
//! its genes) arrive as a few numbers per patient, not as sequences; an MLP
//! (linear, GELU, linear) maps the panel's features (standardised latest value and a
//! "measured" flag per code, `crate::twin::features::Panel`) to the fusion width.

use candle_core::{Result, Tensor};
use candle_nn::{Linear, Module, VarBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub input_size: usize,
    pub intermediate_size: usize,
    pub output_size: usize,
}

#[derive(Debug, Clone)]
pub struct TabularEncoder {
    intermediate: Linear,
    output: Linear,
}

impl TabularEncoder {
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        Ok(TabularEncoder {
            intermediate: candle_nn::linear(config.input_size, config.intermediate_size, vb.pp("intermediate"))?,
            output: candle_nn::linear(config.intermediate_size, config.output_size, vb.pp("output"))?,
        })
    }

    /// (batch, input_size) -> (batch, output_size).
    pub fn forward(&self, features: &Tensor) -> Result<Tensor> {
        let hidden = self.intermediate.forward(features)?.gelu_erf()?;
        self.output.forward(&hidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn shape_and_golden_value() {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let cfg = Config { input_size: 2, intermediate_size: 2, output_size: 1 };
        let mlp = TabularEncoder::load(vb, &cfg).unwrap();
        // Fixed weights: intermediate = identity, output = sum; GELU(1) = 0.841345, GELU(-1) = -0.158655.
        let set = |name: &str, data: &[f32], shape: &[usize]| {
            let vars = varmap.data().lock().unwrap();
            vars[name].set(&Tensor::from_slice(data, shape, &Device::Cpu).unwrap()).unwrap();
        };
        set("intermediate.weight", &[1.0, 0.0, 0.0, 1.0], &[2, 2]);
        set("intermediate.bias", &[0.0, 0.0], &[2]);
        set("output.weight", &[1.0, 1.0], &[1, 2]);
        set("output.bias", &[0.0], &[1]);
        let x = Tensor::new(&[[1f32, -1.0], [0.0, 0.0], [2.0, 2.0]], &Device::Cpu).unwrap();
        let y = mlp.forward(&x).unwrap();
        assert_eq!(y.dims(), &[3, 1]);
        let y = y.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert!((y[0] - 0.682690).abs() < 1e-5, "{}", y[0]);
        assert_eq!(y[1], 0.0);
        assert!((y[2] - 2.0 * 1.9545).abs() < 1e-4, "{}", y[2]);
    }
}
