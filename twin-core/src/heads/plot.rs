//! The reliability plot of a head (SVG): for each band of predicted probability, the
//! share that had the outcome, with its 95% Wilson interval, against the diagonal a
//! calibrated head follows. The same drawing goes into the evaluation report and the
//! consult page's method section.

use std::fmt::Write as _;

use super::metrics::ReliabilityBin;
use crate::cohort::stats::wilson;

/// Escapes text for an SVG text node.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A square reliability plot of `bins` titled `title`; `n` (the patients behind the
/// bins) and the calibration `slope` are written under it when given.
pub fn reliability_svg(title: &str, bins: &[ReliabilityBin], slope: Option<f64>) -> String {
    let (size, pad, top) = (220.0f64, 36.0f64, 22.0f64);
    let x = |p: f64| pad + p.clamp(0.0, 1.0) * size;
    let y = |p: f64| top + (1.0 - p.clamp(0.0, 1.0)) * size;
    let n: usize = bins.iter().map(|b| b.n).sum();
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"reliability plot: {t}\">\n",
        w = size + pad + 12.0,
        h = size + top + 50.0,
        t = escape(title)
    );
    let _ = writeln!(svg, "<text x=\"{pad}\" y=\"14\">{}</text>", escape(title));
    let _ = writeln!(
        svg,
        "<rect x=\"{pad}\" y=\"{top}\" width=\"{size}\" height=\"{size}\" fill=\"none\" stroke=\"#999\"/>"
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#bbb\" stroke-dasharray=\"4 3\"/>",
        x(0.0),
        y(0.0),
        x(1.0),
        y(1.0)
    );
    for tick in [0.0, 0.5, 1.0] {
        let _ = writeln!(svg, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{tick}</text>", x(tick), y(0.0) + 13.0);
        let _ = writeln!(svg, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{tick}</text>", pad - 4.0, y(tick) + 4.0);
    }
    for b in bins {
        let events = (b.observed_rate * b.n as f64).round() as usize;
        let ci = wilson(events, b.n);
        let (cx, cy) = (x(b.mean_predicted), y(b.observed_rate));
        let _ = writeln!(
            svg,
            "<line x1=\"{cx:.1}\" y1=\"{:.1}\" x2=\"{cx:.1}\" y2=\"{:.1}\" stroke=\"#1f77b4\"/>",
            y(ci.low),
            y(ci.high)
        );
        let r = 2.0 + (b.n as f64).sqrt().min(30.0) / 5.0;
        let _ = writeln!(
            svg,
            "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"{r:.1}\" fill=\"#1f77b4\"><title>predicted {:.2}, observed {:.2} ({events} of {})</title></circle>",
            b.mean_predicted, b.observed_rate, b.n
        );
    }
    let slope = slope.map_or(String::new(), |s| format!(", calibration slope {s:.2}"));
    let _ = writeln!(
        svg,
        "<text x=\"{pad}\" y=\"{:.1}\">predicted (x) against observed (y); n = {n}{slope}</text>",
        y(0.0) + 30.0
    );
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_point_and_one_interval_per_bin() {
        let bins = [
            ReliabilityBin { low: 0.1, high: 0.2, n: 40, mean_predicted: 0.15, observed_rate: 0.2 },
            ReliabilityBin { low: 0.6, high: 0.7, n: 10, mean_predicted: 0.65, observed_rate: 0.6 },
        ];
        let svg = reliability_svg("flare <6 months>", &bins, Some(0.93));
        assert_eq!(svg.matches("<circle").count(), 2);
        // Two interval lines, the diagonal: three lines.
        assert_eq!(svg.matches("<line").count(), 3);
        assert!(svg.contains("n = 50, calibration slope 0.93"));
        assert!(svg.contains("flare &lt;6 months&gt;") && !svg.contains("<6 months>"));
    }
}
