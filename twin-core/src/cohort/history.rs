//! Aggregated history: what a gradient-boosted baseline sees of a journey at a cut.
//!
//! The snapshot baseline ([`super::features`]) reads the latest visit; this reads the
//! whole record up to the cut, summarised the way tabular models of electronic health
//! records usually are: per activity measure and acute-phase lab its last value, mean,
//! extremes, count, the change at the last reading and its slope over the last year;
//! the treatment history (what runs, how long the current methotrexate course has
//! run, how many DMARDs were tried, which classes ever); and per RDT concept (labs,
//! imaging, omics, serology, through the terminology) the latest canonical value and
//! how often it was measured. A value the record lacks is NaN: the boosted trees
//! learn where missing goes, so "not measured" is never read as zero.

use chrono::{DateTime, Utc};

use journey::clinical::drugs::DrugClass;
use journey::event::Event;
use journey::terminology::Concept;

use super::record::ClinicalRecord;

/// Per series: last, mean, min, max, count, change at the last reading, slope per
/// year over the readings of the last 365 days.
const SERIES_STATS: [&str; 7] = ["last", "mean", "min", "max", "count", "last_change", "slope_per_year"];
const SERIES: [&str; 6] = ["das28", "tjc28", "sjc28", "patient_global", "crp", "esr"];
const CLASSES: [(DrugClass, &str); 6] = [
    (DrugClass::Csdmard, "csdmard"),
    (DrugClass::TnfInhibitor, "tnf_inhibitor"),
    (DrugClass::OtherBiologic, "other_biologic"),
    (DrugClass::JakInhibitor, "jak_inhibitor"),
    (DrugClass::Immunosuppressant, "immunosuppressant"),
    (DrugClass::Glucocorticoid, "glucocorticoid"),
];

/// How many columns [`history_features`] gives: per series its statistics, four of
/// the patient and the record, methotrexate (on, days), per class (on, ever), DMARDs
/// tried, per concept (latest, count).
pub const HISTORY_WIDTH: usize = SERIES.len() * SERIES_STATS.len() + 4 + 2 + 2 * CLASSES.len() + 1 + 2 * Concept::ALL.len();

/// The names of [`history_features`]' columns, in order (built once).
pub fn history_feature_names() -> &'static [String] {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES.get_or_init(build_names)
}

fn build_names() -> Vec<String> {
    let mut names = Vec::new();
    for series in SERIES {
        for stat in SERIES_STATS {
            names.push(format!("{series}_{stat}"));
        }
    }
    for name in ["age_years", "female", "disease_years", "record_years"] {
        names.push(name.to_owned());
    }
    names.push("on_methotrexate".into());
    names.push("methotrexate_days".into());
    for (_, class) in CLASSES {
        names.push(format!("on_{class}"));
        names.push(format!("ever_{class}"));
    }
    names.push("dmards_tried".into());
    for concept in Concept::ALL {
        names.push(format!("{}_latest", concept.id()));
        names.push(format!("{}_count", concept.id()));
    }
    names
}

/// Summary statistics of a dated series, as of `at` (NaN where undefined).
fn series_stats(points: &[(DateTime<Utc>, f64)], at: DateTime<Utc>) -> [f64; 7] {
    let seen: Vec<(DateTime<Utc>, f64)> = points.iter().copied().filter(|(t, _)| *t <= at).collect();
    let Some(&(_, last)) = seen.last() else { return [f64::NAN, f64::NAN, f64::NAN, f64::NAN, 0.0, f64::NAN, f64::NAN] };
    let n = seen.len() as f64;
    let mean = seen.iter().map(|(_, v)| v).sum::<f64>() / n;
    let min = seen.iter().map(|(_, v)| *v).fold(f64::INFINITY, f64::min);
    let max = seen.iter().map(|(_, v)| *v).fold(f64::NEG_INFINITY, f64::max);
    let change = if seen.len() >= 2 { last - seen[seen.len() - 2].1 } else { f64::NAN };
    // Least-squares slope over the last year's readings, per year.
    let recent: Vec<(f64, f64)> = seen
        .iter()
        .filter(|(t, _)| (at - *t).num_days() <= 365)
        .map(|(t, v)| ((*t - at).num_days() as f64 / 365.25, *v))
        .collect();
    [last, mean, min, max, n, change, slope(&recent).unwrap_or(f64::NAN)]
}

/// The least-squares slope of `(x, y)` points; `None` for fewer than two distinct x.
pub(crate) fn slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|(x, _)| x).sum::<f64>() / n;
    let my = points.iter().map(|(_, y)| y).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    let sxy: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// The aggregated history of a journey (`record` read from `events`) as of `at`, in
/// [`history_feature_names`] order.
pub fn history_features(record: &ClinicalRecord, events: &[Event], at: DateTime<Utc>) -> Vec<f64> {
    let mut out = Vec::with_capacity(HISTORY_WIDTH);
    let das: Vec<&journey::clinical::Das28Reading> = record.das28.iter().collect();
    let pick = |f: &dyn Fn(&journey::clinical::Das28Reading) -> Option<f64>| -> Vec<(DateTime<Utc>, f64)> {
        das.iter().filter_map(|r| f(r).map(|v| (r.time, v))).collect()
    };
    let lab = |series: &[journey::clinical::labs::LabValue]| -> Vec<(DateTime<Utc>, f64)> {
        series.iter().map(|v| (v.time, v.value)).collect()
    };
    for series in [
        pick(&|r| Some(r.score)),
        pick(&|r| r.tjc28),
        pick(&|r| r.sjc28),
        pick(&|r| r.patient_global_vas),
        lab(&record.crp),
        lab(&record.esr),
    ] {
        out.extend(series_stats(&series, at));
    }
    let date = at.date_naive();
    let years = |from: chrono::NaiveDate| (date - from).num_days() as f64 / 365.25;
    out.push(record.birth.map_or(f64::NAN, years));
    out.push(record.female.unwrap_or(f64::NAN));
    out.push(record.first_diagnosis.filter(|d| *d <= at).map_or(f64::NAN, |d| years(d.date_naive())));
    let first_event = events.iter().filter(|e| e.modality != journey::event::Modality::Demographic).map(|e| e.time).min();
    out.push(first_event.filter(|t| *t <= at).map_or(f64::NAN, |t| years(t.date_naive())));

    let started: Vec<&journey::clinical::Course> = record.courses.iter().filter(|c| c.start <= at).collect();
    let mtx_start = record.methotrexate_since(at);
    out.push(if mtx_start.is_some() { 1.0 } else { 0.0 });
    out.push(mtx_start.map_or(f64::NAN, |s| (at - s).num_days() as f64));
    for (class, _) in CLASSES {
        let of_class = |c: &&&journey::clinical::Course| c.drug.is_some_and(|d| d.class == class);
        out.push(if started.iter().filter(of_class).any(|c| c.ongoing_on(date)) { 1.0 } else { 0.0 });
        out.push(if started.iter().any(|c| of_class(&c)) { 1.0 } else { 0.0 });
    }
    out.push(record.dmards_tried(at) as f64);

    let mut latest = [f64::NAN; Concept::ALL.len()];
    let mut latest_time: [Option<DateTime<Utc>>; Concept::ALL.len()] = [None; Concept::ALL.len()];
    let mut counts = [0.0; Concept::ALL.len()];
    for e in events.iter().filter(|e| e.time <= at) {
        let Some(concept) = e.concept() else { continue };
        let Some(i) = Concept::ALL.iter().position(|c| *c == concept) else { continue };
        let Some(value) = e.canonical_value() else { continue };
        counts[i] += 1.0;
        if latest_time[i].is_none_or(|t| e.time >= t) {
            latest_time[i] = Some(e.time);
            latest[i] = value;
        }
    }
    for i in 0..Concept::ALL.len() {
        out.push(latest[i]);
        out.push(counts[i]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cohort::testutil::{das28, drug, Journey};
    use chrono::TimeZone;

    #[test]
    fn history_is_as_of_the_cut_and_missing_is_nan() {
        let j = Journey::new(vec![das28(0, 5.0), das28(90, 4.0), das28(180, 3.0), drug(10, None, "6851"), das28(400, 6.0)]);
        let record = ClinicalRecord::read(&j.events);
        let at = Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(200);
        let names = history_feature_names();
        assert_eq!(names.len(), HISTORY_WIDTH);
        let x = history_features(&record, &j.events, at);
        assert_eq!(x.len(), names.len());
        let get = |name: &str| x[names.iter().position(|n| n == name).unwrap()];
        assert_eq!(get("das28_last"), 3.0, "the reading after the cut is not seen");
        assert_eq!(get("das28_count"), 3.0);
        assert_eq!(get("das28_mean"), 4.0);
        assert_eq!(get("das28_last_change"), -1.0);
        assert!((get("das28_slope_per_year") - (-1.0 / 90.0 * 365.25)).abs() < 1e-6);
        assert_eq!(get("on_methotrexate"), 1.0);
        assert_eq!(get("methotrexate_days"), 190.0);
        assert!(get("crp_last").is_nan() && get("crp_count") == 0.0, "no CRP is missing, not zero");
    }
}
