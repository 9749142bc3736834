//! Drawing from distributions, and the per-patient random streams.
//!
//! Every patient gets its own ChaCha8 streams keyed by (seed, patient index), so a
//! patient's record does not depend on how many patients are generated, in which
//! order, or on how many threads: the property that makes `--seed` reproducible
//! under rayon. A patient has two streams, one for the clinical course and one for
//! wording, so rephrasing a note never changes anyone's disease.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, StandardNormal};

/// The random source all draws take.
pub type PatientRng = ChaCha8Rng;

/// Which of a patient's streams.
#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Course = 0,
    Text = 1,
}

/// The stream `which` of patient `index` under `seed`.
pub fn patient_rng(seed: u64, index: usize, which: Stream) -> PatientRng {
    // splitmix64 of the seed and the stream kind gives well-separated keys; the patient
    // index is ChaCha's own stream number, which is what it is for.
    let mut rng = ChaCha8Rng::seed_from_u64(splitmix64(seed ^ splitmix64(which as u64 + 1)));
    rng.set_stream(index as u64);
    rng
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A normal draw; `sd` of zero gives the mean.
pub fn normal(rng: &mut PatientRng, mean: f64, sd: f64) -> f64 {
    let z: f64 = StandardNormal.sample(rng);
    mean + sd * z
}

/// A normal draw clamped into `[lo, hi]`: clinical quantities have hard bounds.
pub fn normal_in(rng: &mut PatientRng, mean: f64, sd: f64, lo: f64, hi: f64) -> f64 {
    normal(rng, mean, sd).clamp(lo, hi)
}

/// A log-normal draw with the given median and log-scale spread.
pub fn lognormal(rng: &mut PatientRng, median: f64, sigma: f64) -> f64 {
    (median.ln() + sigma * normal(rng, 0.0, 1.0)).exp()
}

/// True with probability `p`.
pub fn chance(rng: &mut PatientRng, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// Uniform in `[lo, hi)`.
pub fn uniform(rng: &mut PatientRng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

/// A uniform whole number of days in `[lo, hi]`.
pub fn days(rng: &mut PatientRng, lo: i32, hi: i32) -> i32 {
    rng.random_range(lo..=hi)
}

/// Waiting time of a Poisson process with `rate_per_year`, in days (`i32::MAX` if zero).
pub fn exponential_days(rng: &mut PatientRng, rate_per_year: f64) -> i32 {
    if rate_per_year <= 0.0 {
        return i32::MAX;
    }
    // The rate is positive and finite, so the distribution exists.
    let exp = Exp::new(rate_per_year / 365.25).expect("a positive rate");
    let d: f64 = exp.sample(rng);
    d.min(1.0e6).ceil() as i32
}

/// A Poisson count with mean `lambda` (small means only: inversion by multiplication).
pub fn poisson(rng: &mut PatientRng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    let limit = (-lambda.min(60.0)).exp();
    let mut k = 0;
    let mut p = rng.random::<f64>();
    while p > limit {
        k += 1;
        p *= rng.random::<f64>();
    }
    k
}

/// One item of `items`, uniformly.
pub fn pick<'a, T>(rng: &mut PatientRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// The index of one weight, with probability proportional to it (weights not all zero).
pub fn weighted(rng: &mut PatientRng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

/// A standard normal draw (the latent course's daily noise).
pub fn gaussian(rng: &mut PatientRng) -> f64 {
    StandardNormal.sample(rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_on_seed_index_and_kind_only() {
        let a: u64 = patient_rng(7, 3, Stream::Course).random();
        let b: u64 = patient_rng(7, 3, Stream::Course).random();
        let c: u64 = patient_rng(7, 4, Stream::Course).random();
        let d: u64 = patient_rng(7, 3, Stream::Text).random();
        let e: u64 = patient_rng(8, 3, Stream::Course).random();
        assert_eq!(a, b);
        assert!(a != c && a != d && a != e);
    }

    #[test]
    fn weighted_never_picks_a_zero_weight() {
        let mut rng = patient_rng(1, 0, Stream::Course);
        for _ in 0..1000 {
            assert_ne!(weighted(&mut rng, &[0.5, 0.0, 0.5]), 1);
        }
    }

    #[test]
    fn poisson_mean_is_close_to_lambda() {
        let mut rng = patient_rng(1, 0, Stream::Course);
        let n = 20_000;
        let mean = (0..n).map(|_| poisson(&mut rng, 3.0) as f64).sum::<f64>() / n as f64;
        assert!((mean - 3.0).abs() < 0.1, "mean {mean}");
    }
}
