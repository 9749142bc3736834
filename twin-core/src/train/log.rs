//! The loss log of a training run: a CSV of every step and an SVG plot of both
//! stages' losses (smoothed over 20 steps), written beside the checkpoint.

use std::fmt::Write as _;

use super::fusion::FusionStepLoss;
use super::pretrain::StepLoss;

/// `stage,step,epoch,loss_name,value` rows.
pub fn loss_csv(pretrain: &[StepLoss], fusion: &[FusionStepLoss]) -> String {
    let mut out = String::from("stage,step,epoch,loss,value\n");
    for r in pretrain {
        let _ = writeln!(out, "pretrain,{},{},masked_code,{}", r.step, r.epoch, r.code_loss);
        if r.value_loss.is_finite() {
            let _ = writeln!(out, "pretrain,{},{},masked_value,{}", r.step, r.epoch, r.value_loss);
        }
    }
    for r in fusion {
        let _ = writeln!(out, "fusion,{},{},contrastive,{}", r.step, r.epoch, r.contrastive_loss);
        if r.outcome_loss.is_finite() {
            let _ = writeln!(out, "fusion,{},{},outcome,{}", r.step, r.epoch, r.outcome_loss);
        }
        if r.course_pair_loss.is_finite() {
            let _ = writeln!(out, "fusion,{},{},course_pairs,{}", r.step, r.epoch, r.course_pair_loss);
        }
        if r.reconstruction_loss.is_finite() {
            let _ = writeln!(out, "fusion,{},{},reconstruction,{}", r.step, r.epoch, r.reconstruction_loss);
        }
    }
    out
}

/// Two panels side by side (pretraining, fusion), one polyline per loss.
pub fn loss_svg(pretrain: &[StepLoss], fusion: &[FusionStepLoss]) -> String {
    // (panel title, [(series name, colour, values)])
    type Series<'a> = (&'a str, &'a str, Vec<f32>);
    let panels: [(&str, Vec<Series>); 2] = [
        (
            "masked-event pretraining",
            vec![
                ("masked code", "#1f77b4", pretrain.iter().map(|r| r.code_loss).collect()),
                ("masked value decile", "#ff7f0e", pretrain.iter().map(|r| r.value_loss).collect()),
            ],
        ),
        (
            "fusion",
            vec![
                ("contrastive (NT-Xent)", "#2ca02c", fusion.iter().map(|r| r.contrastive_loss).collect()),
                ("cross-modal reconstruction", "#d62728", fusion.iter().map(|r| r.reconstruction_loss).collect()),
                ("outcome heads", "#9467bd", fusion.iter().map(|r| r.outcome_loss).collect()),
                ("course pairs", "#8c564b", fusion.iter().map(|r| r.course_pair_loss).collect()),
            ],
        ),
    ];
    let (w, h, pad) = (420.0f32, 260.0f32, 40.0f32);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n",
        2.0 * w,
        h + 40.0
    );
    for (p, (title, series)) in panels.iter().enumerate() {
        let x0 = p as f32 * w;
        let smoothed: Vec<Vec<f32>> = series.iter().map(|(_, _, v)| smooth(v, 20)).collect();
        let max = smoothed.iter().flatten().copied().filter(|v| v.is_finite()).fold(0.0f32, f32::max).max(1e-6);
        let _ = writeln!(svg, "<text x=\"{}\" y=\"16\">{title} (loss per step, 0 to {max:.2})</text>", x0 + pad);
        let _ = writeln!(
            svg,
            "<rect x=\"{}\" y=\"24\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>",
            x0 + pad,
            w - 2.0 * pad,
            h - pad
        );
        for (s, ((name, colour, _), values)) in series.iter().zip(&smoothed).enumerate() {
            let n = values.len().max(2) as f32 - 1.0;
            let points: Vec<String> = values
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite())
                .map(|(i, v)| {
                    let x = x0 + pad + i as f32 / n * (w - 2.0 * pad);
                    let y = 24.0 + (h - pad) * (1.0 - v / max);
                    format!("{x:.1},{y:.1}")
                })
                .collect();
            let _ = writeln!(svg, "<polyline fill=\"none\" stroke=\"{colour}\" points=\"{}\"/>", points.join(" "));
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{name}</text>",
                x0 + pad,
                h + 2.0 + 12.0 * s as f32
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

/// Trailing mean over `window` finite values.
fn smooth(values: &[f32], window: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(values.len());
    let mut recent: std::collections::VecDeque<f32> = Default::default();
    for v in values {
        if v.is_finite() {
            recent.push_back(*v);
            if recent.len() > window {
                recent.pop_front();
            }
        }
        out.push(if recent.is_empty() { f32::NAN } else { recent.iter().sum::<f32>() / recent.len() as f32 });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_svg_hold_every_series() {
        let pretrain = [StepLoss { step: 0, epoch: 0, code_loss: 2.0, value_loss: f32::NAN }];
        let fusion = [FusionStepLoss { step: 0, epoch: 0, contrastive_loss: 1.0, reconstruction_loss: 0.5, outcome_loss: 0.7, course_pair_loss: 0.9 }];
        let csv = loss_csv(&pretrain, &fusion);
        assert_eq!(csv.lines().count(), 6, "{csv}");
        assert!(csv.contains("fusion,0,0,reconstruction,0.5") && csv.contains("fusion,0,0,outcome,0.7"));
        assert!(csv.contains("fusion,0,0,course_pairs,0.9"));
        let svg = loss_svg(&pretrain, &fusion);
        assert_eq!(svg.matches("<polyline").count(), 6);
        assert_eq!(smooth(&[1.0, 3.0, f32::NAN, 5.0], 2), vec![1.0, 2.0, 2.0, 4.0]);
    }
}
