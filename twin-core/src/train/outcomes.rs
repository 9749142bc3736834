//! Outcome supervision for the fusion: the twin also learns what happened after a cut.
//!
//! Self-supervised views alone make a twin that reflects what is recorded, not what
//! it means for the patient's course (docs/benchmarks/cohort.md: a latest-visit
//! regression beat its neighbourhood). So fusion training also fits, on each time
//! crop cut at a decision point, a linear head per outcome of DESIGN.md from the twin
//! to what followed the cut: methotrexate and TNF-inhibitor response, flare, switch
//! (binary cross-entropy), DAS28 at days 150, 270 and 360 (squared error on a
//! standardised scale). An outcome the record cannot tell is masked, never a zero.
//! The heads shape the twin; the neighbours then share outcomes because their twins
//! were pulled together by them.

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Linear, VarBuilder, VarMap};

use crate::cohort::{Outcome, PatientOutcomes};

/// The outcomes the heads predict, in this order.
pub const HEAD_OUTCOMES: [Outcome; 7] = Outcome::ALL;
/// DAS28 targets are `(value - CENTRE) / SCALE`, so their squared error weighs about
/// as much as a cross-entropy.
const DAS28_CENTRE: f64 = 4.0;
const DAS28_SCALE: f64 = 1.5;

/// What followed one crop's cut: a target and a known flag per [`HEAD_OUTCOMES`].
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeTargets {
    values: [f32; 7],
    known: [f32; 7],
}

impl OutcomeTargets {
    /// The targets of `outcomes`; `None` when the record tells none of them.
    pub fn of(outcomes: &PatientOutcomes) -> Option<Self> {
        let mut values = [0f32; 7];
        let mut known = [0f32; 7];
        for (i, outcome) in HEAD_OUTCOMES.iter().enumerate() {
            if let Some(v) = outcomes.get(*outcome) {
                values[i] = if outcome.is_rate() { v as f32 } else { ((v - DAS28_CENTRE) / DAS28_SCALE) as f32 };
                known[i] = 1.0;
            }
        }
        known.iter().any(|k| *k > 0.0).then_some(OutcomeTargets { values, known })
    }

    /// Whether two crops' courses went the same way: at least two yes/no outcomes are
    /// known for both (one alone, mostly "no flare", would pair half the cohort), and
    /// every yes/no outcome known for both agrees. DAS28 values are left out: a value
    /// is never "the same" as another, and the yes/no outcomes are read from them.
    pub fn same_course(&self, other: &OutcomeTargets) -> bool {
        let mut shared = 0;
        for (i, outcome) in HEAD_OUTCOMES.iter().enumerate() {
            if !outcome.is_rate() || self.known[i] == 0.0 || other.known[i] == 0.0 {
                continue;
            }
            if self.values[i] != other.values[i] {
                return false;
            }
            shared += 1;
        }
        shared >= 2
    }
}

/// One linear head per outcome on the twin vector.
pub struct OutcomeHeads {
    linear: Linear,
}

impl OutcomeHeads {
    /// Fresh heads in `varmap` (trained with the fusion, not saved with the twin).
    pub fn fresh(twin_size: usize, varmap: &VarMap) -> candle_core::Result<Self> {
        let vb = VarBuilder::from_varmap(varmap, DType::F32, &Device::Cpu);
        Ok(OutcomeHeads { linear: candle_nn::linear(twin_size, HEAD_OUTCOMES.len(), vb.pp("outcome_heads"))? })
    }

    /// The masked multi-task loss of `twin` (batch, twin_size) against each row's
    /// targets; `None` when no row has a known outcome.
    pub fn loss(&self, twin: &Tensor, targets: &[Option<&OutcomeTargets>]) -> candle_core::Result<Option<Tensor>> {
        let b = targets.len();
        let n = HEAD_OUTCOMES.len();
        let mut y = vec![0f32; b * n];
        let mut rate_mask = vec![0f32; b * n];
        let mut value_mask = vec![0f32; b * n];
        for (row, t) in targets.iter().enumerate() {
            let Some(t) = t else { continue };
            for (i, outcome) in HEAD_OUTCOMES.iter().enumerate() {
                y[row * n + i] = t.values[i];
                let mask = if outcome.is_rate() { &mut rate_mask } else { &mut value_mask };
                mask[row * n + i] = t.known[i];
            }
        }
        let known = rate_mask.iter().chain(&value_mask).filter(|m| **m > 0.0).count();
        if known == 0 {
            return Ok(None);
        }
        let device = twin.device();
        let y = Tensor::from_vec(y, (b, n), device)?;
        let rate_mask = Tensor::from_vec(rate_mask, (b, n), device)?;
        let value_mask = Tensor::from_vec(value_mask, (b, n), device)?;
        let out = self.linear.forward(twin)?;
        // Binary cross-entropy with logits, stable: max(x, 0) - x*y + ln(1 + e^-|x|).
        let bce = ((out.relu()? - (&out * &y)?)? + (out.abs()?.neg()?.exp()? + 1.0)?.log()?)?;
        let squared = (&out - &y)?.sqr()?;
        let total = ((bce * rate_mask)?.sum_all()? + (squared * value_mask)?.sum_all()?)?;
        Ok(Some((total / known as f64)?))
    }

    /// Each row's predictions: probabilities for rates, DAS28 values for the rest.
    pub fn predict(&self, twin: &Tensor) -> candle_core::Result<Vec<[f64; 7]>> {
        let out = self.linear.forward(twin)?.to_dtype(DType::F64)?.to_vec2::<f64>()?;
        Ok(out
            .into_iter()
            .map(|row| {
                let mut p = [0f64; 7];
                for (i, outcome) in HEAD_OUTCOMES.iter().enumerate() {
                    p[i] = if outcome.is_rate() {
                        1.0 / (1.0 + (-row[i]).exp())
                    } else {
                        row[i] * DAS28_SCALE + DAS28_CENTRE
                    };
                }
                p
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::{AdamW, Optimizer, ParamsAdamW};
    use journey::clinical::EularResponse;

    #[test]
    fn targets_mask_what_the_record_cannot_tell() {
        assert!(OutcomeTargets::of(&PatientOutcomes::default()).is_none());
        let t = OutcomeTargets::of(&PatientOutcomes { flare_6m: Some(true), das28_day_150: Some(5.5), ..Default::default() })
            .unwrap();
        let flare = HEAD_OUTCOMES.iter().position(|o| *o == Outcome::Flare6m).unwrap();
        let das = HEAD_OUTCOMES.iter().position(|o| *o == Outcome::Das28Day150).unwrap();
        assert_eq!((t.values[flare], t.known[flare]), (1.0, 1.0));
        assert_eq!((t.values[das], t.known[das]), (1.0, 1.0), "(5.5 - 4) / 1.5");
        assert_eq!(t.known.iter().sum::<f32>(), 2.0);
    }

    #[test]
    fn a_course_is_shared_on_two_agreeing_outcomes_at_least() {
        let t = |r: Option<bool>, s: Option<bool>, f: Option<bool>| {
            let mtx_response_6m = r.map(|yes| if yes { EularResponse::Good } else { EularResponse::NoResponse });
            OutcomeTargets::of(&PatientOutcomes { mtx_response_6m, switch_12m: s, flare_6m: f, ..Default::default() })
                .unwrap()
        };
        assert!(t(Some(true), Some(false), None).same_course(&t(Some(true), Some(false), Some(true))));
        assert!(!t(Some(true), Some(false), Some(false)).same_course(&t(Some(true), Some(false), Some(true))));
        assert!(!t(Some(true), None, None).same_course(&t(Some(true), Some(false), None)), "one shared outcome");
    }

    /// The heads learn a flare that a twin coordinate carries, and ignore the masked
    /// outcomes (their loss stays zero whatever the output).
    #[test]
    fn heads_learn_known_outcomes_only() {
        let varmap = VarMap::new();
        let heads = OutcomeHeads::fresh(2, &varmap).unwrap();
        let mut opt = AdamW::new(varmap.all_vars(), ParamsAdamW { lr: 0.05, ..Default::default() }).unwrap();
        let twin = Tensor::new(&[[1f32, 0.0], [-1.0, 0.0], [1.0, 0.0], [-1.0, 0.0]], &Device::Cpu).unwrap();
        let flare = |yes: bool| OutcomeTargets::of(&PatientOutcomes { flare_6m: Some(yes), ..Default::default() }).unwrap();
        let targets = [flare(true), flare(false), flare(true), flare(false)];
        let refs: Vec<Option<&OutcomeTargets>> = targets.iter().map(Some).collect();
        let first = heads.loss(&twin, &refs).unwrap().unwrap().to_scalar::<f32>().unwrap();
        for _ in 0..200 {
            let loss = heads.loss(&twin, &refs).unwrap().unwrap();
            opt.backward_step(&loss).unwrap();
        }
        let last = heads.loss(&twin, &refs).unwrap().unwrap().to_scalar::<f32>().unwrap();
        assert!(last < first / 4.0, "{first} -> {last}");
        let p = heads.predict(&twin).unwrap();
        let f = HEAD_OUTCOMES.iter().position(|o| *o == Outcome::Flare6m).unwrap();
        assert!(p[0][f] > 0.9 && p[1][f] < 0.1, "{p:?}");
        assert!(heads.loss(&twin, &[None, None, None, None]).unwrap().is_none());
    }
}
