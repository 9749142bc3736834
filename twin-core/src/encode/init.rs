//! Seeded weight initialisation and the small random generator training uses.
//!
//! candle's CPU device cannot be seeded, so fresh `VarMap` weights differ run to run.
//! [`seed_weights`] overwrites them from a seeded generator, walking the variables in
//! name order, so the same seed and shapes give the same model bit for bit.

use candle_core::{Result, Tensor};
use candle_nn::VarMap;

/// SplitMix64 (Steele et al. 2014): tiny, fast, statistically good enough for
/// initialisation, masking and shuffling, and stable across platforms.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_f64() * n as f64) as usize % n.max(1)
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.next_f64().max(f64::MIN_POSITIVE);
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// Re-initialises every variable of `varmap` from `seed`: norms keep 1 and 0,
/// embeddings get N(0, 0.02²) (BERT's initialiser range), linear weights
/// U(±1/√fan_in) as candle's `linear` does, biases 0.
pub fn seed_weights(varmap: &VarMap, seed: u64) -> Result<()> {
    let mut rng = SplitMix64::new(seed);
    let vars = varmap.data().lock().expect("the VarMap lock is never held across a panic");
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort();
    for name in names {
        let var = &vars[name];
        if name.contains("norm") {
            continue;
        }
        let shape = var.shape().clone();
        let n = shape.elem_count();
        let values: Vec<f32> = if name.ends_with("bias") {
            vec![0.0; n]
        } else if name.contains("embeddings") {
            (0..n).map(|_| (rng.normal() * 0.02) as f32).collect()
        } else {
            let fan_in = *shape.dims().last().unwrap_or(&1) as f64;
            let bound = 1.0 / fan_in.sqrt();
            (0..n).map(|_| ((rng.next_f64() * 2.0 - 1.0) * bound) as f32).collect()
        };
        var.set(&Tensor::from_vec(values, shape, var.device())?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        let xs: Vec<u64> = (0..5).map(|_| a.next_u64()).collect();
        assert_eq!(xs, (0..5).map(|_| b.next_u64()).collect::<Vec<_>>());
        // Reference value of SplitMix64 seeded with 0 (first output).
        assert_eq!(SplitMix64::new(0).next_u64(), 0xE220_A839_7B1D_CDAF);
        let mut v: Vec<usize> = (0..10).collect();
        SplitMix64::new(1).shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    }
}
