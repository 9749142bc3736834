//! The journey plot as server-rendered SVG: DAS28 over time (with the activity bands),
//! CRP and ESR, medication courses as bars and notes and imaging as markers, all on
//! one time axis. Plain strings, no plotting crate: the picture is a few hundred
//! elements and must stay identical in the browser and in print.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, TimeZone, Utc};

use ::journey::clinical::Scale;

use crate::error::html_escape;

/// A value at a time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub time: DateTime<Utc>,
    pub value: f64,
}

/// A medication course: a bar from start to stop (or to the end of the axis).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub start: DateTime<Utc>,
    pub stop: Option<DateTime<Utc>>,
}

/// A dated event shown as a marker with a tooltip.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub time: DateTime<Utc>,
    pub label: String,
}

/// Everything drawn on a journey plot.
#[derive(Debug, Clone, Default)]
pub struct JourneyPlot {
    /// The disease-activity series and its scale (DAS28 when recorded, else CDAI or
    /// SDAI: `journey::clinical::activity`).
    pub scale: Scale,
    pub das28: Vec<Point>,
    pub crp: Vec<Point>,
    pub esr: Vec<Point>,
    pub medications: Vec<Bar>,
    pub notes: Vec<Marker>,
    pub imaging: Vec<Marker>,
}

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 150.0;
const RIGHT: f64 = 20.0;
const DAS_H: f64 = 170.0;
const LAB_H: f64 = 120.0;
const ROW_H: f64 = 18.0;
const GAP: f64 = 34.0;

/// Maps times to x.
struct TimeAxis {
    start: i64,
    end: i64,
}

impl TimeAxis {
    fn x(&self, t: DateTime<Utc>) -> f64 {
        let span = (self.end - self.start).max(1) as f64;
        LEFT + (t.timestamp() - self.start) as f64 / span * (WIDTH - LEFT - RIGHT)
    }
}

impl JourneyPlot {
    fn times(&self) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        self.das28
            .iter()
            .chain(&self.crp)
            .chain(&self.esr)
            .map(|p| p.time)
            .chain(self.medications.iter().flat_map(|b| std::iter::once(b.start).chain(b.stop)))
            .chain(self.notes.iter().chain(&self.imaging).map(|m| m.time))
    }

    pub fn is_empty(&self) -> bool {
        self.times().next().is_none()
    }

    /// The SVG document (scales to its container's width).
    pub fn to_svg(&self) -> String {
        let (Some(first), Some(last)) = (self.times().min(), self.times().max()) else {
            return empty_svg();
        };
        // A month of margin either side, so first and last points are not on the frame.
        let pad = 30 * 86_400;
        let axis = TimeAxis { start: first.timestamp() - pad, end: last.timestamp() + pad };
        let end_of_axis = Utc.timestamp_opt(axis.end, 0).single().unwrap_or(last);
        let med_rows = self.medications.len().max(1) as f64;
        let height = 20.0 + DAS_H + GAP + LAB_H + GAP + med_rows * ROW_H + GAP + 2.0 * ROW_H + 40.0;
        let mut s = String::new();
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
             aria-labelledby=\"plot-title\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"12\">\
             <title id=\"plot-title\">Journey: disease activity, CRP and ESR, medications, notes and imaging over time</title>"
        );

        // Panel 1: disease activity (DAS28, CDAI or SDAI) with its scale's bands.
        let top = 20.0;
        let [remission, low, moderate] = self.scale.bands();
        let floor = if self.scale == Scale::Das28 { 8.0_f64 } else { moderate * 1.5 };
        let das_max = self.das28.iter().map(|p| p.value).fold(floor, f64::max).ceil();
        let y_das = |v: f64| top + DAS_H - v / das_max * DAS_H;
        for (lo, hi, colour, name) in [
            (0.0, remission, "#e3f3e8", "remission"),
            (remission, low, "#eef6dc", "low"),
            (low, moderate, "#fdf1dc", "moderate"),
            (moderate, das_max, "#fbe3e1", "high"),
        ] {
            let _ = write!(
                s,
                "<rect x=\"{LEFT}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\"><title>{name}</title></rect>",
                y_das(hi),
                WIDTH - LEFT - RIGHT,
                y_das(lo) - y_das(hi)
            );
        }
        let name = self.scale.name();
        panel_label(&mut s, top, name);
        for v in [remission, low, moderate] {
            let _ = write!(s, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#5b6675\">{v}</text>", LEFT - 4.0, y_das(v) + 4.0);
        }
        series(&mut s, &self.das28, &axis, y_das, "#1f5fa8", name);
        if self.das28.is_empty() {
            no_data(&mut s, top + DAS_H / 2.0, "no DAS28, CDAI or SDAI readings");
        }

        // Panel 2: CRP (mg/L) and ESR (mm/h) on one scale.
        let top2 = top + DAS_H + GAP;
        let lab_max = self.crp.iter().chain(&self.esr).map(|p| p.value).fold(10.0_f64, f64::max) * 1.1;
        let y_lab = |v: f64| top2 + LAB_H - v / lab_max * LAB_H;
        let _ = write!(
            s,
            "<rect x=\"{LEFT}\" y=\"{top2}\" width=\"{:.1}\" height=\"{LAB_H}\" fill=\"#fafbfc\" stroke=\"#d9dee5\"/>",
            WIDTH - LEFT - RIGHT
        );
        panel_label(&mut s, top2, "CRP / ESR");
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\"><tspan fill=\"#b3261e\">● CRP mg/L</tspan> <tspan fill=\"#7a4fb0\">■ ESR mm/h</tspan></text>",
            8.0,
            top2 + 34.0
        );
        let _ = write!(s, "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#5b6675\">{:.0}</text>", LEFT - 4.0, top2 + 10.0, lab_max);
        series(&mut s, &self.crp, &axis, y_lab, "#b3261e", "CRP mg/L");
        series(&mut s, &self.esr, &axis, y_lab, "#7a4fb0", "ESR mm/h");
        if self.crp.is_empty() && self.esr.is_empty() {
            no_data(&mut s, top2 + LAB_H / 2.0, "no CRP or ESR values");
        }

        // Panel 3: medication courses.
        let top3 = top2 + LAB_H + GAP;
        panel_label(&mut s, top3 - 8.0, "Medications");
        for (i, bar) in self.medications.iter().enumerate() {
            let y = top3 + i as f64 * ROW_H;
            let x0 = axis.x(bar.start);
            let x1 = axis.x(bar.stop.unwrap_or(end_of_axis)).max(x0 + 3.0);
            let label = html_escape(&bar.label);
            let until = bar.stop.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "ongoing".into());
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" font-size=\"11\">{}</text>\
                 <rect class=\"med\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\" fill=\"#2f8f83\"><title>{label}: {} to {until}</title></rect>",
                LEFT - 6.0,
                y + 12.0,
                shorten(&label, 22),
                y + 3.0,
                x1 - x0,
                ROW_H - 6.0,
                bar.start.format("%Y-%m-%d"),
            );
        }
        if self.medications.is_empty() {
            no_data(&mut s, top3 + ROW_H / 2.0 + 4.0, "no medication courses");
        }

        // Row 4: notes and imaging markers.
        let top4 = top3 + med_rows * ROW_H + GAP;
        panel_label(&mut s, top4 - 8.0, "Notes / imaging");
        for m in &self.notes {
            let x = axis.x(m.time);
            let y = top4 + 4.0;
            let _ = write!(
                s,
                "<path class=\"note-marker\" d=\"M{x:.1} {y:.1} l5 9 h-10 z\" fill=\"#8a6d1d\"><title>note {}: {}</title></path>",
                m.time.format("%Y-%m-%d"),
                html_escape(&m.label)
            );
        }
        for m in &self.imaging {
            let x = axis.x(m.time);
            let y = top4 + ROW_H + 8.0;
            let _ = write!(
                s,
                "<path class=\"imaging-marker\" d=\"M{x:.1} {:.1} l5 5 l-5 5 l-5 -5 z\" fill=\"#1f5fa8\"><title>imaging {}: {}</title></path>",
                y - 5.0,
                m.time.format("%Y-%m-%d"),
                html_escape(&m.label)
            );
        }

        // The shared time axis: one tick per year (or per month on short journeys).
        let axis_y = top4 + 2.0 * ROW_H + 14.0;
        let _ = write!(s, "<line x1=\"{LEFT}\" y1=\"{axis_y:.1}\" x2=\"{:.1}\" y2=\"{axis_y:.1}\" stroke=\"#5b6675\"/>", WIDTH - RIGHT);
        for (t, label) in ticks(axis.start, axis.end) {
            let x = axis.x(t);
            let _ = write!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{axis_y:.1}\" stroke=\"#000\" stroke-opacity=\"0.07\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#5b6675\">{label}</text>",
                axis_y + 16.0
            );
        }
        s.push_str("</svg>");
        s
    }
}

fn empty_svg() -> String {
    "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" viewBox=\"0 0 1000 60\" role=\"img\" font-size=\"14\">\
     <text x=\"500\" y=\"35\" text-anchor=\"middle\" fill=\"#5b6675\">No dated readings, courses or notes to plot.</text></svg>"
        .to_owned()
}

fn panel_label(s: &mut String, y: f64, text: &str) {
    let _ = write!(s, "<text x=\"8\" y=\"{:.1}\" font-weight=\"bold\">{text}</text>", y + 14.0);
}

fn no_data(s: &mut String, y: f64, text: &str) {
    let _ = write!(s, "<text x=\"{:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" fill=\"#5b6675\">{text}</text>", (LEFT + WIDTH) / 2.0);
}

fn series(s: &mut String, points: &[Point], axis: &TimeAxis, y: impl Fn(f64) -> f64, colour: &str, name: &str) {
    if points.len() > 1 {
        let path: Vec<String> = points.iter().map(|p| format!("{:.1},{:.1}", axis.x(p.time), y(p.value))).collect();
        let _ = write!(s, "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>", path.join(" "));
    }
    for p in points {
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"{colour}\"><title>{name} {} on {}</title></circle>",
            axis.x(p.time),
            y(p.value),
            (p.value * 100.0).round() / 100.0,
            p.time.format("%Y-%m-%d")
        );
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    }
}

/// Year ticks, or quarter ticks when the axis spans under two years.
fn ticks(start: i64, end: i64) -> Vec<(DateTime<Utc>, String)> {
    let (Some(a), Some(b)) = (Utc.timestamp_opt(start, 0).single(), Utc.timestamp_opt(end, 0).single()) else {
        return Vec::new();
    };
    let short = (end - start) < 2 * 365 * 86_400;
    let mut out = Vec::new();
    let (mut y, mut m) = (a.year(), if short { a.month0() / 3 * 3 + 1 } else { 1 });
    loop {
        let Some(t) = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single() else { break };
        if t > b {
            break;
        }
        if t >= a {
            out.push((t, if short { t.format("%Y-%m").to_string() } else { y.to_string() }));
        }
        if short {
            m += 3;
            if m > 12 {
                m -= 12;
                y += 1;
            }
        } else {
            y += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[test]
    fn points_are_placed_in_time_order_left_to_right() {
        let axis = TimeAxis { start: t(2020, 1, 1).timestamp(), end: t(2022, 1, 1).timestamp() };
        let (a, b, c) = (axis.x(t(2020, 1, 1)), axis.x(t(2021, 1, 1)), axis.x(t(2022, 1, 1)));
        assert_eq!(a, LEFT);
        assert!(a < b && b < c);
        assert!((c - (WIDTH - RIGHT)).abs() < 1e-9);
    }

    #[test]
    fn every_series_course_and_marker_is_drawn_and_text_is_escaped() {
        let plot = JourneyPlot {
            scale: Scale::Das28,
            das28: vec![Point { time: t(2020, 1, 1), value: 5.5 }, Point { time: t(2020, 7, 1), value: 3.0 }],
            crp: vec![Point { time: t(2020, 1, 1), value: 12.0 }],
            esr: vec![Point { time: t(2020, 2, 1), value: 30.0 }],
            medications: vec![Bar { label: "<b>MTX</b>".into(), start: t(2020, 1, 15), stop: None }],
            notes: vec![Marker { time: t(2020, 3, 1), label: "note & more".into() }],
            imaging: vec![Marker { time: t(2020, 4, 1), label: "Sharp score 12".into() }],
        };
        let svg = plot.to_svg();
        assert_eq!(svg.matches("<circle").count(), 4);
        assert_eq!(svg.matches("class=\"med\"").count(), 1);
        assert_eq!(svg.matches("class=\"note-marker\"").count(), 1);
        assert_eq!(svg.matches("class=\"imaging-marker\"").count(), 1);
        assert!(svg.contains("&lt;b&gt;MTX&lt;/b&gt;") && !svg.contains("<b>"));
        assert!(svg.contains("note &amp; more"));
        assert!(svg.contains(">2020-01<") || svg.contains(">2020<"));
    }

    #[test]
    fn an_empty_journey_says_so() {
        let plot = JourneyPlot::default();
        assert!(plot.is_empty());
        assert!(plot.to_svg().contains("No dated readings"));
        let only_das = JourneyPlot { das28: vec![Point { time: t(2021, 5, 1), value: 2.0 }], ..Default::default() };
        let svg = only_das.to_svg();
        assert!(svg.contains("no CRP or ESR values") && svg.contains("no medication courses"));
    }

    /// A clinic that records CDAI gets its series on the CDAI scale, with CDAI's bands.
    #[test]
    fn a_cdai_series_is_drawn_on_its_own_scale() {
        let plot = JourneyPlot {
            scale: Scale::Cdai,
            das28: vec![Point { time: t(2021, 5, 1), value: 24.0 }, Point { time: t(2021, 9, 1), value: 8.0 }],
            ..Default::default()
        };
        let svg = plot.to_svg();
        assert!(svg.contains(">CDAI<"), "the panel names its scale");
        for bound in [">2.8<", ">10<", ">22<"] {
            assert!(svg.contains(bound), "band bound {bound}");
        }
        assert!(!svg.contains(">DAS28<"));
    }
}
