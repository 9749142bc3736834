//! The treatment options plots of the consult summary (server-rendered SVG, plain
//! strings like `plot.rs` and the twin head's reliability plot), one panel per
//! outcome, each per option two marks with their intervals and the population's
//! figure as a tick; an option with too few similar patients is named on the axis
//! with "not enough patients" and no mark.
//!
//! - [`RESPONSE`]: the EULAR response at 6 months, the similar patients who started
//!   the option and the same patients weighted for who got it side by side (a circle
//!   and a diamond).
//! - [`DAS28_270`]: the DAS28 at day 270, first the counterfactual head's figure for
//!   this patient with the range 95% of held-out patients' errors fell in (a filled
//!   point: RDT shows the head first, it ranked options best on held-out tuning data),
//!   then the weighted similar patients' mean (a diamond).
//!
//! Legible on a 390 px phone and at 1280 px: the viewBox is narrow (each option's name
//! sits above its marks, not in a left column; each legend entry on its own line) and
//! the picture scales to its box (`width="100%"`, capped in `app.css`). Accessible:
//! `<title>` and `<desc>` (every figure in words), text labels, a `<title>` per mark.
//! Figures are clamped to the panel's scale for drawing (their words keep the value),
//! and a figure that is missing or not a number gets no mark.

use std::fmt::Write as _;

use crate::error::html_escape;

/// What a panel's figures are measured in, and so its axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// A share of patients, 0-100%.
    Percent,
    /// A DAS28, 0-10 (lower is better).
    Das28,
}

impl Scale {
    fn max(self) -> f64 {
        match self {
            Scale::Percent => 100.0,
            Scale::Das28 => 10.0,
        }
    }

    /// A figure in words: "52%", "3.41".
    fn text(self, v: f64) -> String {
        match self {
            Scale::Percent => format!("{v:.0}%"),
            Scale::Das28 => format!("{v:.2}"),
        }
    }

    /// The axis ticks and their labels.
    fn ticks(self) -> Vec<(f64, String)> {
        let (step, count, unit) = match self {
            Scale::Percent => (25.0, 4, "%"),
            Scale::Das28 => (2.0, 5, ""),
        };
        (0..=count).map(|i| f64::from(i) * step).map(|t| (t, format!("{t:.0}{unit}"))).collect()
    }

    /// The horizontal position of `v`, clamped to the axis.
    fn x(self, v: f64) -> f64 {
        LEFT + v.clamp(0.0, self.max()) / self.max() * (WIDTH - LEFT - RIGHT)
    }
}

/// What an interval was measured on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Basis {
    /// A 95% interval over `n` similar patients (weighted: at `effective_n`).
    Patients { n: usize, effective_n: Option<f64> },
    /// The counterfactual head's range: 95% of `n` held-out patients' errors fell in it.
    HeldOut { n: usize },
}

/// A figure on a panel's scale with its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub value: f64,
    pub low: f64,
    pub high: f64,
    pub basis: Basis,
}

impl Interval {
    fn words(&self, scale: Scale) -> String {
        let (value, low, high) = (scale.text(self.value), scale.text(self.low), scale.text(self.high));
        match self.basis {
            Basis::Patients { n, effective_n: Some(e) } => {
                format!("{value} (95% interval {low} to {high}; {n} patients, effective sample size {e})")
            }
            Basis::Patients { n, effective_n: None } => format!("{value} (95% interval {low} to {high}; {n} patients)"),
            Basis::HeldOut { n } => format!("{value} (95% of {n} held-out patients within {low} to {high})"),
        }
    }

    /// Only a figure whose three numbers are numbers is drawn (never a NaN coordinate).
    fn drawable(&self) -> bool {
        self.value.is_finite() && self.low.is_finite() && self.high.is_finite()
    }
}

/// One option on a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionMarks {
    pub label: String,
    /// Whether enough similar patients started it for a figure.
    pub enough: bool,
    /// Similar patients who started it, among the `neighbourhood` nearest.
    pub patients: usize,
    pub neighbourhood: usize,
    pub min_n: usize,
    /// The panel's two figures, in its [`Panel::series`] order.
    pub marks: [Option<Interval>; 2],
    /// The population's figure on the panel's scale.
    pub population: Option<f64>,
}

impl OptionMarks {
    /// The figures drawn: none for an option without enough patients, none for a
    /// missing or non-numeric figure.
    fn drawn(&self, i: usize) -> Option<&Interval> {
        self.marks[i].as_ref().filter(|iv| self.enough && iv.drawable())
    }

    fn drawn_population(&self) -> Option<f64> {
        self.population.filter(|p| self.enough && p.is_finite())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Circle,
    Diamond,
}

/// One kind of mark on a panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Series {
    /// In the legend, the `<desc>` and each mark's `<title>`.
    name: &'static str,
    /// The mark's CSS class.
    class: &'static str,
    colour: &'static str,
    shape: Shape,
    /// Where the mark would be, when its figure is missing.
    missing: &'static str,
}

/// One plot: its outcome's scale, words and two kinds of mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panel {
    /// The id prefix of its `<title>` and `<desc>` (unique on the page).
    id: &'static str,
    title: &'static str,
    axis: &'static str,
    scale: Scale,
    series: [Series; 2],
}

const WIDTH: f64 = 380.0;
const LEFT: f64 = 10.0;
const RIGHT: f64 = 14.0;
/// The legend: one line per series and one for the population.
const LEGEND_LINE: f64 = 20.0;
/// An option's name (line 1) and its patients, or why it has no mark (line 2).
const HEAD: f64 = 40.0;
/// The two marks below them.
const MARKS: f64 = 30.0;
const GAP: f64 = 10.0;
const SIMILAR: &str = "#1f5fa8";
const WEIGHTED: &str = "#b85400";
const COUNTERFACTUAL: &str = "#6a3d9a";
const POPULATION: &str = "#2b2b2b";
const MUTED: &str = "#5b6675";

const WEIGHTED_SERIES: Series = Series {
    name: "weighted for who got it",
    class: "weighted",
    colour: WEIGHTED,
    shape: Shape::Diamond,
    missing: "weighted: too few with data",
};

/// The EULAR response at 6 months: similar patients as they were, then weighted.
pub const RESPONSE: Panel = Panel {
    id: "options-plot",
    title: "EULAR response at 6 months per treatment option: similar patients, weighted for who got it, and the \
            population",
    axis: "EULAR response at 6 months, % (95% interval)",
    scale: Scale::Percent,
    series: [
        Series {
            name: "similar patients",
            class: "similar",
            colour: SIMILAR,
            shape: Shape::Circle,
            missing: "similar patients: too few with data",
        },
        WEIGHTED_SERIES,
    ],
};

/// The DAS28 at day 270: the counterfactual head for this patient first, then the
/// similar patients weighted for who got it.
pub const DAS28_270: Panel = Panel {
    id: "options-das28-plot",
    title: "DAS28 at day 270 per treatment option (lower is better, 0-10 scale): the counterfactual head for this \
            patient, similar patients weighted for who got it, and the population",
    axis: "DAS28 at day 270 (lower is better, 0-10 scale)",
    scale: Scale::Das28,
    series: [
        Series {
            name: "counterfactual head for this patient",
            class: "head",
            colour: COUNTERFACTUAL,
            shape: Shape::Circle,
            missing: "counterfactual head: no figure",
        },
        WEIGHTED_SERIES,
    ],
};

fn row_height(o: &OptionMarks) -> f64 {
    HEAD + if o.enough { MARKS } else { 0.0 } + GAP
}

/// The `panel` of `options` (in their order).
pub fn options_svg(panel: &Panel, options: &[OptionMarks]) -> String {
    let scale = panel.scale;
    let legend_bottom = 3.0 * LEGEND_LINE + 4.0;
    let top = legend_bottom + 32.0;
    let bottom = top + options.iter().map(row_height).sum::<f64>();
    let height = bottom + 48.0;
    let mut s = String::new();
    let desc: Vec<String> = options.iter().map(|o| describe(panel, o)).collect();
    let id = panel.id;
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"options-svg\" viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" \
         role=\"img\" aria-labelledby=\"{id}-title {id}-desc\" font-family=\"DejaVu Sans, sans-serif\" \
         font-size=\"13\"><title id=\"{id}-title\">{}</title><desc id=\"{id}-desc\">{}</desc>",
        html_escape(panel.title),
        html_escape(&desc.join(" "))
    );

    // Legend, one line each: the two series, then the population's tick.
    s.push_str("<g class=\"legend\">");
    for (i, series) in panel.series.iter().enumerate() {
        let cy = 13.0 + LEGEND_LINE * i as f64;
        let _ = write!(
            s,
            "{}<text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            shape(series, LEFT + 5.0, cy),
            LEFT + 14.0,
            cy + 4.0,
            series.name
        );
    }
    let ty = 13.0 + 2.0 * LEGEND_LINE;
    let _ = write!(
        s,
        "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"{POPULATION}\" stroke-width=\"2\"/>\
         <text x=\"{3:.1}\" y=\"{4:.1}\">population (all who started it)</text></g>",
        LEFT + 5.0,
        ty - 7.0,
        ty + 7.0,
        LEFT + 14.0,
        ty + 4.0
    );

    // Grid and ticks, above the rows and below them.
    let ticks = scale.ticks();
    for (i, (tick, text)) in ticks.iter().enumerate() {
        let tx = scale.x(*tick);
        let anchor = match i {
            0 => "start",
            i if i + 1 == ticks.len() => "end",
            _ => "middle",
        };
        let _ = write!(
            s,
            "<line x1=\"{tx:.1}\" y1=\"{:.1}\" x2=\"{tx:.1}\" y2=\"{bottom:.1}\" stroke=\"#000\" stroke-opacity=\"0.1\"/>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"{MUTED}\">{text}</text>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"{MUTED}\">{text}</text>",
            top - 8.0,
            top - 12.0,
            bottom + 16.0
        );
    }
    let _ = write!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{bottom:.1}\" x2=\"{:.1}\" y2=\"{bottom:.1}\" stroke=\"{MUTED}\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        WIDTH - RIGHT,
        WIDTH / 2.0,
        bottom + 38.0,
        panel.axis
    );

    let mut y0 = top;
    for o in options {
        option_row(&mut s, panel, o, y0);
        y0 += row_height(o);
    }
    s.push_str("</svg>");
    s
}

/// One option's name, its patients (or why it has no mark) and its marks, from `y0` down.
fn option_row(s: &mut String, panel: &Panel, o: &OptionMarks, y0: f64) {
    let scale = panel.scale;
    let label = html_escape(&o.label);
    let sub = if o.enough {
        format!("{} similar patients started it (of the {} nearest)", o.patients, o.neighbourhood)
    } else {
        format!("not enough patients ({} of {}; {} nearest)", o.patients, o.min_n, o.neighbourhood)
    };
    let _ = write!(
        s,
        "<g class=\"option{}\"><text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"15\" font-weight=\"600\">{label}</text>\
         <text x=\"{LEFT}\" y=\"{:.1}\" fill=\"{MUTED}\"{}>{sub}</text>",
        if o.enough { "" } else { " not-enough" },
        y0 + 15.0,
        y0 + 33.0,
        if o.enough { "" } else { " font-style=\"italic\"" },
    );
    if !o.enough {
        s.push_str("</g>");
        return;
    }
    let rows = [y0 + HEAD + 4.0, y0 + HEAD + 20.0];
    if let Some(p) = o.drawn_population() {
        let px = scale.x(p);
        let _ = write!(
            s,
            "<line class=\"population\" x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"{POPULATION}\" \
             stroke-width=\"2.5\"><title>{label}: population {}</title></line>",
            rows[0] - 9.0,
            rows[1] + 9.0,
            scale.text(p)
        );
    }
    for ((series, cy), i) in panel.series.iter().zip(rows).zip(0..) {
        let Some(iv) = o.drawn(i) else {
            let _ = write!(
                s,
                "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"12\" fill=\"{MUTED}\">{}</text>",
                cy + 4.0,
                series.missing
            );
            continue;
        };
        let (lx, hx, colour) = (scale.x(iv.low), scale.x(iv.high), series.colour);
        let _ = write!(
            s,
            "<g class=\"{}\"><title>{label}: {} {}</title>\
             <line x1=\"{lx:.1}\" y1=\"{cy:.1}\" x2=\"{hx:.1}\" y2=\"{cy:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/>\
             <line x1=\"{lx:.1}\" y1=\"{:.1}\" x2=\"{lx:.1}\" y2=\"{:.1}\" stroke=\"{colour}\"/>\
             <line x1=\"{hx:.1}\" y1=\"{:.1}\" x2=\"{hx:.1}\" y2=\"{:.1}\" stroke=\"{colour}\"/>{}</g>",
            series.class,
            series.name,
            html_escape(&iv.words(scale)),
            cy - 4.0,
            cy + 4.0,
            cy - 4.0,
            cy + 4.0,
            shape(series, scale.x(iv.value), cy),
        );
    }
    s.push_str("</g>");
}

/// A series' point at (`cx`, `cy`): a filled circle or diamond.
fn shape(series: &Series, cx: f64, cy: f64) -> String {
    let colour = series.colour;
    match series.shape {
        Shape::Circle => format!("<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"5\" fill=\"{colour}\"/>"),
        Shape::Diamond => format!("<path d=\"M{cx:.1} {:.1} l6 6 l-6 6 l-6 -6 z\" fill=\"{colour}\"/>", cy - 6.0),
    }
}

/// One option's figures in words, for the `<desc>`: exactly those drawn.
fn describe(panel: &Panel, o: &OptionMarks) -> String {
    if !o.enough {
        return format!("{}: not enough patients ({} of {}).", o.label, o.patients, o.min_n);
    }
    let scale = panel.scale;
    let parts: Vec<String> = panel
        .series
        .iter()
        .enumerate()
        .map(|(i, series)| match o.drawn(i) {
            Some(iv) => format!("{} {}", series.name, iv.words(scale)),
            None => format!("{}: no figure", series.name),
        })
        .collect();
    let population =
        o.drawn_population().map_or("population: no figure".to_owned(), |p| format!("population {}", scale.text(p)));
    format!("{}: {}; {population}.", o.label, parts.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(value: f64, half: f64, basis: Basis) -> Option<Interval> {
        Some(Interval { value, low: value - half, high: value + half, basis })
    }

    fn enough(label: &str, similar: f64, weighted: f64) -> OptionMarks {
        OptionMarks {
            label: label.into(),
            enough: true,
            patients: 30,
            neighbourhood: 200,
            min_n: 20,
            marks: [
                interval(similar, 15.0, Basis::Patients { n: 30, effective_n: None }),
                interval(weighted, 20.0, Basis::Patients { n: 30, effective_n: Some(21.4) }),
            ],
            population: Some(41.0),
        }
    }

    fn few(label: &str) -> OptionMarks {
        OptionMarks {
            label: label.into(),
            enough: false,
            patients: 7,
            neighbourhood: 1600,
            min_n: 20,
            marks: [None, None],
            population: None,
        }
    }

    /// A DAS28 option: the head's figure (a range from `held_out` patients) and the
    /// weighted mean, each optional.
    fn das28(label: &str, head: Option<(f64, f64)>, weighted: Option<f64>, population: f64) -> OptionMarks {
        OptionMarks {
            marks: [
                head.and_then(|(v, half)| interval(v, half, Basis::HeldOut { n: 412 })),
                weighted.and_then(|v| interval(v, 0.3, Basis::Patients { n: 28, effective_n: Some(20.0) })),
            ],
            population: Some(population),
            ..enough(label, 0.0, 0.0)
        }
    }

    /// Every horizontal coordinate of a mark (`cx`, `x1`, `x2`, a diamond's `M`) in `svg`.
    fn mark_xs(svg: &str) -> Vec<f64> {
        ["cx=\"", "x1=\"", "x2=\"", "d=\"M"]
            .iter()
            .flat_map(|key| {
                svg.match_indices(key).map(move |(i, _)| {
                    let rest = &svg[i + key.len()..];
                    let end = rest.find(|c: char| c != '.' && c != '-' && !c.is_ascii_digit()).unwrap_or(rest.len());
                    rest[..end].parse::<f64>().unwrap_or(f64::NAN)
                })
            })
            .collect()
    }

    #[test]
    fn two_marks_per_option_with_enough_patients_and_none_without() {
        let svg = options_svg(&RESPONSE, &[enough("TNF inhibitor", 52.0, 48.0), few("rituximab"), enough("a <b> & c", 30.0, 35.0)]);
        // Two options with marks: a circle each (plus the legend's), a diamond each
        // (plus the legend's), a population tick each.
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("<path").count(), 3);
        assert_eq!(svg.matches("class=\"population\"").count(), 2);
        assert_eq!(svg.matches("class=\"similar\"").count(), 2);
        assert!(svg.contains("not enough patients (7 of 20; 1600 nearest)"));
        assert!(svg.contains("30 similar patients started it (of the 200 nearest)"));
        assert!(svg.contains("<title id=\"options-plot-title\">") && svg.contains("<desc id=\"options-plot-desc\">"));
        assert!(svg.contains("rituximab: not enough patients (7 of 20)."), "the desc names it");
        assert!(svg.contains("TNF inhibitor: similar patients 52% (95% interval 37% to 67%; 30 patients)"));
        assert!(svg.contains("weighted for who got it 48% (95% interval 28% to 68%; 30 patients, effective sample size 21.4)"));
        assert!(svg.contains("a &lt;b&gt; &amp; c") && !svg.contains("<b>"));
        assert!(svg.contains("viewBox=\"0 0 380 ") && svg.contains("width=\"100%\""));
    }

    #[test]
    fn marks_sit_at_their_percent_and_stay_inside_the_axis() {
        assert_eq!(Scale::Percent.x(0.0), LEFT);
        assert_eq!(Scale::Percent.x(100.0), WIDTH - RIGHT);
        assert_eq!(Scale::Percent.x(140.0), WIDTH - RIGHT);
        assert_eq!(Scale::Das28.x(10.0), Scale::Percent.x(100.0));
        assert_eq!(Scale::Das28.x(5.0), Scale::Percent.x(50.0));
        let svg = options_svg(&RESPONSE, &[enough("methotrexate", 50.0, 50.0)]);
        assert!(svg.contains(&format!("cx=\"{:.1}\"", Scale::Percent.x(50.0))));
    }

    #[test]
    fn a_figure_missing_on_one_side_says_so() {
        let mut o = enough("JAK inhibitor", 40.0, 40.0);
        o.marks[1] = None;
        let svg = options_svg(&RESPONSE, &[o]);
        assert!(svg.contains("weighted: too few with data"));
        assert_eq!(svg.matches("<circle").count(), 2);
    }

    /// The DAS28 panel: a head mark per head figure, none for a missing one (the panel
    /// says so) nor for an option without enough patients (even if it carried one);
    /// its `<desc>` gives each figure in words, the head's range with its held-out n.
    #[test]
    fn the_das28_panel_marks_each_head_figure_and_describes_it() {
        let mut without = few("rituximab");
        without.marks = [interval(2.5, 1.0, Basis::HeldOut { n: 412 }), None];
        let options = [
            das28("TNF inhibitor", Some((3.1, 1.4)), Some(3.35), 3.6),
            das28("JAK inhibitor", None, Some(3.8), 3.6),
            without,
            das28("methotrexate", Some((4.2, 1.5)), None, 3.6),
        ];
        let svg = options_svg(&DAS28_270, &options);
        assert_eq!(svg.matches("class=\"head\"").count(), 2, "TNF and methotrexate: {svg}");
        assert_eq!(svg.matches("class=\"weighted\"").count(), 2, "TNF and JAK");
        assert_eq!(svg.matches("class=\"population\"").count(), 3);
        assert_eq!(svg.matches("counterfactual head: no figure").count(), 1, "JAK's missing head");
        assert!(svg.contains("<title id=\"options-das28-plot-title\">DAS28 at day 270"));
        assert!(svg.contains("DAS28 at day 270 (lower is better, 0-10 scale)</text>"));
        let desc = &svg[svg.find("<desc").unwrap()..svg.find("</desc>").unwrap()];
        assert!(desc.contains(
            "TNF inhibitor: counterfactual head for this patient 3.10 (95% of 412 held-out patients within 1.70 to 4.50); \
             weighted for who got it 3.35 (95% interval 3.05 to 3.65; 28 patients, effective sample size 20); population 3.60."
        ), "{desc}");
        assert!(desc.contains("JAK inhibitor: counterfactual head for this patient: no figure; weighted for who got it 3.80"));
        assert!(desc.contains("rituximab: not enough patients (7 of 20).") && !desc.contains("2.50"), "{desc}");
        assert!(desc.contains("methotrexate: counterfactual head for this patient 4.20 (95% of 412 held-out patients within 2.70 to 5.70)"));
        assert!(desc.contains("weighted for who got it: no figure; population 3.60."));
        assert!(svg.contains("<title>TNF inhibitor: counterfactual head for this patient 3.10"), "a title per mark");
        assert!(svg.contains(&format!("cx=\"{:.1}\"", Scale::Das28.x(3.1))));
    }

    /// Figures beyond the scale (a DAS28 of 14 or below 0, a rate of 250%) are drawn at
    /// its ends, never outside; NaN figures get no mark at all.
    #[test]
    fn no_mark_is_drawn_outside_the_scale_nor_for_a_non_number() {
        let (lo, hi) = (Scale::Das28.x(0.0), Scale::Das28.x(10.0));
        let inside = |svg: &str| mark_xs(svg).iter().all(|x| (lo..=hi).contains(x));
        let das = options_svg(
            &DAS28_270,
            &[das28("TNF inhibitor", Some((14.0, 3.0)), Some(-2.0), 11.0), das28("JAK inhibitor", Some((f64::NAN, 1.0)), Some(f64::INFINITY), f64::NAN)],
        );
        assert!(inside(&das), "{das}");
        assert!(!das.contains("NaN") && !das.contains("=\"inf"), "{das}");
        assert_eq!(das.matches("class=\"head\"").count(), 1, "only TNF's head is a number");
        assert_eq!(das.matches("class=\"population\"").count(), 1);
        let response = options_svg(&RESPONSE, &[enough("abatacept", 250.0, -40.0)]);
        assert!(inside(&response), "{response}");
        assert_eq!(response.matches("<circle").count(), 2);
    }
}
