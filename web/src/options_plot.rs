//! The treatment options plot of the consult summary (server-rendered SVG, plain
//! strings like `plot.rs` and the twin head's reliability plot): per option, the EULAR
//! response at 6 months as a point with its 95% interval, the similar patients who
//! started it and the same patients weighted for who got it side by side (a circle and
//! a diamond), the population's figure as a tick; an option with too few similar
//! patients is named on the axis with "not enough patients" and no mark.
//!
//! Legible on a 390 px phone and at 1280 px: the viewBox is narrow (each option's name
//! sits above its marks, not in a left column) and the picture scales to its box
//! (`width="100%"`, capped in `app.css`). Accessible: `<title>` and `<desc>` (every
//! figure in words), text labels, a `<title>` per mark.

use std::fmt::Write as _;

use crate::error::html_escape;

/// A percentage with its 95% interval over `n` patients (weighted: `effective_n`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub percent: f64,
    pub low: f64,
    pub high: f64,
    pub n: usize,
    pub effective_n: Option<f64>,
}

impl Interval {
    fn words(&self) -> String {
        let n = match self.effective_n {
            Some(e) => format!("{} patients, effective {e}", self.n),
            None => format!("{} patients", self.n),
        };
        format!("{:.0}% (95% interval {:.0}% to {:.0}%; {n})", self.percent, self.low, self.high)
    }
}

/// One option on the plot.
#[derive(Debug, Clone, PartialEq)]
pub struct OptionMarks {
    pub label: String,
    /// Whether enough similar patients started it for a figure.
    pub enough: bool,
    /// Similar patients who started it, among the `neighbourhood` nearest.
    pub patients: usize,
    pub neighbourhood: usize,
    pub min_n: usize,
    pub similar: Option<Interval>,
    pub weighted: Option<Interval>,
    /// The population's share, in percent.
    pub population: Option<f64>,
}

const WIDTH: f64 = 380.0;
const LEFT: f64 = 10.0;
const RIGHT: f64 = 14.0;
/// An option's name (line 1) and its patients, or why it has no mark (line 2).
const HEAD: f64 = 40.0;
/// The two marks below them.
const MARKS: f64 = 30.0;
const GAP: f64 = 10.0;
const SIMILAR: &str = "#1f5fa8";
const WEIGHTED: &str = "#b85400";
const POPULATION: &str = "#2b2b2b";
const MUTED: &str = "#5b6675";

fn x(percent: f64) -> f64 {
    LEFT + percent.clamp(0.0, 100.0) / 100.0 * (WIDTH - LEFT - RIGHT)
}

fn row_height(o: &OptionMarks) -> f64 {
    HEAD + if o.enough { MARKS } else { 0.0 } + GAP
}

/// The plot of `options` (in their order).
pub fn options_svg(options: &[OptionMarks]) -> String {
    let top = 76.0;
    let bottom = top + options.iter().map(row_height).sum::<f64>();
    let height = bottom + 48.0;
    let mut s = String::new();
    let desc: Vec<String> = options.iter().map(describe).collect();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"options-svg\" viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" \
         role=\"img\" aria-labelledby=\"options-plot-title options-plot-desc\" font-family=\"DejaVu Sans, sans-serif\" \
         font-size=\"13\">\
         <title id=\"options-plot-title\">EULAR response at 6 months per treatment option: similar patients, weighted \
         for who got it, and the population</title><desc id=\"options-plot-desc\">{}</desc>",
        html_escape(&desc.join(" "))
    );

    // Legend, two lines: circle and diamond, then the population's tick.
    let _ = write!(
        s,
        "<g class=\"legend\">{}<text x=\"{:.1}\" y=\"17\">similar patients</text>{}\
         <text x=\"{:.1}\" y=\"17\">weighted for who got it</text>\
         <line x1=\"{:.1}\" y1=\"27\" x2=\"{:.1}\" y2=\"41\" stroke=\"{POPULATION}\" stroke-width=\"2\"/>\
         <text x=\"{:.1}\" y=\"38\">population (all who started it)</text></g>",
        circle(LEFT + 5.0, 13.0, SIMILAR),
        LEFT + 14.0,
        diamond(148.0, 13.0, WEIGHTED),
        157.0,
        LEFT + 5.0,
        LEFT + 5.0,
        LEFT + 14.0
    );

    // Grid and percent ticks, above the rows and below them.
    for tick in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let tx = x(tick);
        let anchor = match tick as u32 {
            0 => "start",
            100 => "end",
            _ => "middle",
        };
        let _ = write!(
            s,
            "<line x1=\"{tx:.1}\" y1=\"{:.1}\" x2=\"{tx:.1}\" y2=\"{bottom:.1}\" stroke=\"#000\" stroke-opacity=\"0.1\"/>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"{MUTED}\">{tick:.0}%</text>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" fill=\"{MUTED}\">{tick:.0}%</text>",
            top - 8.0,
            top - 12.0,
            bottom + 16.0
        );
    }
    let _ = write!(
        s,
        "<line x1=\"{LEFT}\" y1=\"{bottom:.1}\" x2=\"{:.1}\" y2=\"{bottom:.1}\" stroke=\"{MUTED}\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">EULAR response at 6 months, % (95% interval)</text>",
        WIDTH - RIGHT,
        WIDTH / 2.0,
        bottom + 38.0
    );

    let mut y0 = top;
    for o in options {
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
            y0 += row_height(o);
            continue;
        }
        let (cy1, cy2) = (y0 + HEAD + 4.0, y0 + HEAD + 20.0);
        if let Some(p) = o.population {
            let px = x(p);
            let _ = write!(
                s,
                "<line class=\"population\" x1=\"{px:.1}\" y1=\"{:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"{POPULATION}\" \
                 stroke-width=\"2.5\"><title>{label}: population {p:.0}%</title></line>",
                cy1 - 9.0,
                cy2 + 9.0
            );
        }
        let mark = |s: &mut String, iv: &Interval, cy: f64, colour: &str, shape: String, who: &str| {
            let _ = write!(
                s,
                "<g class=\"{who}\"><title>{label}: {} {}</title>\
                 <line x1=\"{:.1}\" y1=\"{cy:.1}\" x2=\"{:.1}\" y2=\"{cy:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/>\
                 <line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\"/>\
                 <line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{colour}\"/>{shape}</g>",
                if who == "similar" { "similar patients" } else { "weighted for who got it" },
                iv.words(),
                x(iv.low),
                x(iv.high),
                x(iv.low),
                cy - 4.0,
                x(iv.low),
                cy + 4.0,
                x(iv.high),
                cy - 4.0,
                x(iv.high),
                cy + 4.0,
            );
        };
        match &o.similar {
            Some(iv) => mark(&mut s, iv, cy1, SIMILAR, circle(x(iv.percent), cy1, SIMILAR), "similar"),
            None => no_figure(&mut s, cy1, "similar patients: too few with data"),
        }
        match &o.weighted {
            Some(iv) => mark(&mut s, iv, cy2, WEIGHTED, diamond(x(iv.percent), cy2, WEIGHTED), "weighted"),
            None => no_figure(&mut s, cy2, "weighted: too few with data"),
        }
        s.push_str("</g>");
        y0 += row_height(o);
    }
    s.push_str("</svg>");
    s
}

fn circle(cx: f64, cy: f64, colour: &str) -> String {
    format!("<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"5\" fill=\"{colour}\"/>")
}

fn diamond(cx: f64, cy: f64, colour: &str) -> String {
    format!("<path d=\"M{cx:.1} {:.1} l6 6 l-6 6 l-6 -6 z\" fill=\"{colour}\"/>", cy - 6.0)
}

fn no_figure(s: &mut String, y: f64, text: &str) {
    let _ = write!(s, "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"12\" fill=\"{MUTED}\">{text}</text>", y + 4.0);
}

/// One option's figures in words, for the `<desc>`.
fn describe(o: &OptionMarks) -> String {
    if !o.enough {
        return format!("{}: not enough patients ({} of {}).", o.label, o.patients, o.min_n);
    }
    let part = |who: &str, iv: &Option<Interval>| match iv {
        Some(iv) => format!("{who} {}", iv.words()),
        None => format!("{who}: no figure"),
    };
    let population = o.population.map_or("population: no figure".to_owned(), |p| format!("population {p:.0}%"));
    format!(
        "{}: {}; {}; {population}.",
        o.label,
        part("similar patients", &o.similar),
        part("weighted for who got it", &o.weighted)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enough(label: &str, similar: f64, weighted: f64) -> OptionMarks {
        OptionMarks {
            label: label.into(),
            enough: true,
            patients: 30,
            neighbourhood: 200,
            min_n: 20,
            similar: Some(Interval { percent: similar, low: similar - 15.0, high: similar + 15.0, n: 30, effective_n: None }),
            weighted: Some(Interval {
                percent: weighted,
                low: weighted - 20.0,
                high: weighted + 20.0,
                n: 30,
                effective_n: Some(21.4),
            }),
            population: Some(41.0),
        }
    }

    #[test]
    fn two_marks_per_option_with_enough_patients_and_none_without() {
        let few = OptionMarks {
            label: "rituximab".into(),
            enough: false,
            patients: 7,
            neighbourhood: 1600,
            min_n: 20,
            similar: None,
            weighted: None,
            population: None,
        };
        let svg = options_svg(&[enough("TNF inhibitor", 52.0, 48.0), few, enough("a <b> & c", 30.0, 35.0)]);
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
        assert!(svg.contains("weighted for who got it 48% (95% interval 28% to 68%; 30 patients, effective 21.4)"));
        assert!(svg.contains("a &lt;b&gt; &amp; c") && !svg.contains("<b>"));
        assert!(svg.contains("viewBox=\"0 0 380 ") && svg.contains("width=\"100%\""));
    }

    #[test]
    fn marks_sit_at_their_percent_and_stay_inside_the_axis() {
        assert_eq!(x(0.0), LEFT);
        assert_eq!(x(100.0), WIDTH - RIGHT);
        assert_eq!(x(140.0), WIDTH - RIGHT);
        let svg = options_svg(&[enough("methotrexate", 50.0, 50.0)]);
        assert!(svg.contains(&format!("cx=\"{:.1}\"", x(50.0))));
    }

    #[test]
    fn a_figure_missing_on_one_side_says_so() {
        let mut o = enough("JAK inhibitor", 40.0, 40.0);
        o.weighted = None;
        let svg = options_svg(&[o]);
        assert!(svg.contains("weighted: too few with data"));
        assert_eq!(svg.matches("<circle").count(), 2);
    }
}
