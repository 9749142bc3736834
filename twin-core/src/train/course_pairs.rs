//! Supervised-contrastive pairs from what followed each view's cut: two patients
//! whose courses went the same way are pulled together in the twin space.
//!
//! The outcome heads ([`super::outcomes`]) put a patient's future in a linear
//! subspace of the twin; cosine neighbours are set by the whole vector, so that
//! subspace can be outweighed by everything else the contrastive views keep apart
//! (NT-Xent pushes *every* other patient away, same course or not). This loss
//! (SupCon, Khosla et al. 2020, "Supervised Contrastive Learning") shapes the
//! geometry itself: in a batch of two views per patient, an anchor's positives are its
//! own other view and every other view whose known yes/no outcomes all agree with its
//! own ([`OutcomeTargets::same_course`]); the loss is the mean over positives of
//! `-log softmax` of the cosine similarities over all other views.
//!
//! Only the record's own outcomes (`journey::clinical` definitions through
//! [`crate::cohort::PatientOutcomes`]) are read, never a hidden label: a hospital's
//! record has them too.

use candle_core::{Device, Tensor, D};

use super::outcomes::OutcomeTargets;

/// The course-pair loss of one batch of twins: `a` and `b` are the two views (rows of
/// unit vectors, row i of each the same patient), `ta` and `tb` what followed each
/// view's cut. `None` when no anchor has a positive besides its own other view, so
/// the loss would add nothing NT-Xent does not.
pub fn course_pair_loss(
    a: &Tensor,
    b: &Tensor,
    ta: &[Option<&OutcomeTargets>],
    tb: &[Option<&OutcomeTargets>],
    temperature: f64,
) -> candle_core::Result<Option<Tensor>> {
    let n = ta.len();
    let targets: Vec<Option<&OutcomeTargets>> = ta.iter().chain(tb).copied().collect();
    let m = 2 * n;
    let mut positives = vec![0f32; m * m];
    let mut anchors = vec![0f32; m];
    let mut extra = 0usize;
    for i in 0..m {
        let twin_view = (i + n) % m;
        positives[i * m + twin_view] = 1.0;
        let Some(ti) = targets[i] else { continue };
        for j in 0..m {
            if j == i || j == twin_view {
                continue;
            }
            if targets[j].is_some_and(|tj| ti.same_course(tj)) {
                positives[i * m + j] = 1.0;
                extra += 1;
            }
        }
        anchors[i] = 1.0;
    }
    if extra == 0 {
        return Ok(None);
    }
    let device = Device::Cpu;
    let z = Tensor::cat(&[a, b], 0)?;
    let similarities = (z.matmul(&z.t()?)? / temperature)?;
    // An anchor is never compared with itself: its own similarity leaves the softmax.
    let self_mask = Tensor::eye(m, candle_core::DType::F32, &device)?;
    let logits = (similarities - (self_mask * 1e9)?)?;
    let log_prob = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
    let positives = Tensor::from_vec(positives, (m, m), &device)?;
    let per_anchor = ((log_prob * &positives)?.sum(D::Minus1)? / positives.sum(D::Minus1)?)?.neg()?;
    // `extra > 0`, so at least one anchor has a course.
    let anchors_with_course = anchors.iter().sum::<f32>();
    let anchors = Tensor::from_vec(anchors, m, &device)?;
    Ok(Some(((per_anchor * anchors)?.sum_all()? / anchors_with_course as f64)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::PatientOutcomes;
    use journey::clinical::EularResponse;
    use candle_core::Var;
    use candle_nn::{AdamW, Optimizer, ParamsAdamW};

    fn course(response: bool, switch: bool) -> OutcomeTargets {
        OutcomeTargets::of(&PatientOutcomes {
            mtx_response_6m: Some(if response { EularResponse::Good } else { EularResponse::NoResponse }),
            switch_12m: Some(switch),
            ..Default::default()
        })
        .unwrap()
    }

    fn unit_rows(x: &Tensor) -> Tensor {
        x.broadcast_div(&x.sqr().unwrap().sum_keepdim(D::Minus1).unwrap().sqrt().unwrap()).unwrap()
    }

    /// Without a second patient of the same course the loss says nothing.
    #[test]
    fn no_shared_course_no_loss() {
        let a = unit_rows(&Tensor::new(&[[1f32, 0.0], [0.0, 1.0]], &Device::Cpu).unwrap());
        let (x, y) = (course(true, false), course(false, true));
        let loss = course_pair_loss(&a, &a, &[Some(&x), Some(&y)], &[Some(&x), Some(&y)], 0.1).unwrap();
        assert!(loss.is_none());
        let loss = course_pair_loss(&a, &a, &[Some(&x), None], &[None, None], 0.1).unwrap();
        assert!(loss.is_none());
    }

    /// Four patients in two courses, free 2-d points: minimising the loss brings the
    /// two of one course closer than any two of different courses.
    #[test]
    fn patients_of_one_course_come_together() {
        let start = Tensor::new(&[[1f32, 0.1], [0.1, 1.0], [-1.0, 0.2], [0.2, -1.0]], &Device::Cpu).unwrap();
        let points = Var::from_tensor(&start).unwrap();
        let (good, bad) = (course(true, false), course(false, true));
        let t = [Some(&good), Some(&bad), Some(&good), Some(&bad)];
        let mut opt = AdamW::new(vec![points.clone()], ParamsAdamW { lr: 0.05, ..Default::default() }).unwrap();
        let cos = |z: &Vec<Vec<f32>>, i: usize, j: usize| z[i][0] * z[j][0] + z[i][1] * z[j][1];
        let before = unit_rows(&points).to_vec2::<f32>().unwrap();
        assert!(cos(&before, 0, 2) < cos(&before, 0, 1), "they start apart");
        for _ in 0..300 {
            let z = unit_rows(&points);
            let loss = course_pair_loss(&z, &z, &t, &t, 0.5).unwrap().unwrap();
            opt.backward_step(&loss).unwrap();
        }
        let after = unit_rows(&points).to_vec2::<f32>().unwrap();
        for (i, j) in [(0, 2), (1, 3)] {
            for k in 0..4 {
                if k % 2 != i % 2 {
                    assert!(cos(&after, i, j) > cos(&after, i, k), "{after:?}");
                }
            }
        }
    }
}
