//! Clinical plausibility of the virtual cohort: outcome rates per subtype inside the
//! ranges docs/virtual-cohort.md states, modality shares as parameterised, subtypes
//! hidden at baseline but visible in the course, and the physiology that ties
//! measurements together. 3,000 patients with a fixed seed, simulated in memory once.

use std::collections::HashMap;
use std::sync::OnceLock;

use synth::codes::Measure;
use synth::outcomes::EularResponse;
use synth::{simulate_patient, Disease, Params, Subtype, VirtualPatient};

const PATIENTS: usize = 3_000;

fn params() -> Params {
    Params { patients: PATIENTS, seed: 2024, ..Params::default() }
}

fn cohort() -> &'static [VirtualPatient] {
    static COHORT: OnceLock<Vec<VirtualPatient>> = OnceLock::new();
    COHORT.get_or_init(|| {
        let params = params();
        (0..PATIENTS).map(|i| simulate_patient(&params, i)).collect()
    })
}

fn of(subtype: Subtype) -> impl Iterator<Item = &'static VirtualPatient> {
    cohort().iter().filter(move |p| p.truth.subtype == subtype)
}

/// Share of `Some(true)` among the evaluable (`Some`) values, and how many were evaluable.
fn rate(values: impl Iterator<Item = Option<bool>>) -> (f64, usize) {
    let known: Vec<bool> = values.flatten().collect();
    let yes = known.iter().filter(|b| **b).count();
    (yes as f64 / known.len().max(1) as f64, known.len())
}

/// Asserts a rate lies in `[lo, hi]` with at least `min_n` evaluable patients.
fn check(what: &str, (rate, n): (f64, usize), lo: f64, hi: f64, min_n: usize) {
    eprintln!("{what}: {:.1}% of {n}", rate * 100.0);
    assert!(n >= min_n, "{what}: only {n} evaluable");
    assert!((lo..=hi).contains(&rate), "{what}: {:.1}% of {n}, expected {:.0}-{:.0}%", rate * 100.0, lo * 100.0, hi * 100.0);
}

#[test]
fn mtx_response_rates_per_subtype_are_in_the_stated_ranges() {
    let responded = |s: Subtype| rate(of(s).map(|p| p.truth.outcomes.mtx_response_6m.map(EularResponse::responded)));
    let good = |s: Subtype| rate(of(s).map(|p| p.truth.outcomes.mtx_response_6m.map(|r| r == EularResponse::Good)));
    check("responder: MTX good or moderate", responded(Subtype::RaMtxResponder), 0.75, 0.95, 500);
    check("responder: MTX good", good(Subtype::RaMtxResponder), 0.60, 0.85, 500);
    check("refractory: MTX good or moderate", responded(Subtype::RaRefractory), 0.0, 0.20, 400);
    check("seronegative mild: MTX good or moderate", responded(Subtype::RaSeronegativeMild), 0.55, 0.90, 100);
    // A cohort-wide figure in the range of real-world methotrexate cohorts.
    let all = rate(cohort().iter().map(|p| p.truth.outcomes.mtx_response_6m.map(EularResponse::responded)));
    check("all RA: MTX good or moderate", all, 0.45, 0.70, 1000);
}

#[test]
fn tnfi_response_rates_are_in_the_stated_ranges() {
    let responded = |s: Subtype| rate(of(s).map(|p| p.truth.outcomes.tnfi_response_6m.map(EularResponse::responded)));
    check("refractory: TNFi good or moderate", responded(Subtype::RaRefractory), 0.35, 0.70, 300);
}

#[test]
fn flare_rates_per_subtype_are_in_the_stated_ranges() {
    let flare = |s: Subtype| rate(of(s).map(|p| p.truth.outcomes.flare_6m));
    check("responder: flare within 6 months", flare(Subtype::RaMtxResponder), 0.02, 0.15, 500);
    check("refractory: flare within 6 months", flare(Subtype::RaRefractory), 0.25, 0.55, 400);
    check("seronegative mild: flare within 6 months", flare(Subtype::RaSeronegativeMild), 0.02, 0.20, 300);
}

#[test]
fn switch_rates_per_subtype_are_in_the_stated_ranges() {
    let switch = |s: Subtype| rate(of(s).map(|p| p.truth.outcomes.switch_12m));
    check("responder: switch within 12 months", switch(Subtype::RaMtxResponder), 0.05, 0.30, 500);
    check("refractory: switch within 12 months", switch(Subtype::RaRefractory), 0.85, 1.0, 400);
    check("seronegative mild: switch within 12 months", switch(Subtype::RaSeronegativeMild), 0.05, 0.35, 300);
}

#[test]
fn modality_shares_match_the_parameters() {
    let p = params();
    let share = |disease: Disease, has: fn(&VirtualPatient) -> bool| {
        let group: Vec<&VirtualPatient> = cohort().iter().filter(|v| v.truth.disease == disease).collect();
        group.iter().filter(|v| has(v)).count() as f64 / group.len() as f64
    };
    let close = |what: &str, got: f64, want: f64, tolerance: f64| {
        eprintln!("{what}: {got:.3} (parameter {want})");
        assert!((got - want).abs() <= tolerance, "{what}: {got:.3}, parameter {want}");
    };
    let ra = Disease::RheumatoidArthritis;
    close("RA with imaging", share(ra, |v| v.truth.has_imaging), p.shares.imaging_ra, 0.04);
    close("RA with omics", share(ra, |v| v.truth.has_omics), p.shares.omics_ra, 0.03);
    close("lupus with omics", share(Disease::Lupus, |v| v.truth.has_omics), p.shares.omics_lupus, 0.08);
    close("SSc with imaging", share(Disease::SystemicSclerosis, |v| v.truth.has_imaging), 0.0, 0.0);
    let notes = cohort().iter().filter(|v| v.truth.has_notes).count() as f64 / PATIENTS as f64;
    close("patients with notes", notes, p.shares.notes, 0.02);
    let crp = cohort()
        .iter()
        .filter_map(|v| v.truth.das28_variant)
        .map(|v| (v == synth::das28::Das28Variant::Crp) as u8 as f64)
        .collect::<Vec<_>>();
    close("clinics scoring DAS28-CRP", crp.iter().sum::<f64>() / crp.len() as f64, p.shares.das28_crp, 0.04);
    let mix = cohort().iter().filter(|v| v.truth.disease == ra).count() as f64 / PATIENTS as f64;
    close("rheumatoid arthritis share", mix, p.disease_mix.rheumatoid_arthritis, 0.03);
    // An absent modality is absent: no imaging observation in patients without imaging.
    for v in cohort().iter().filter(|v| !v.truth.has_imaging) {
        assert!(v.chart.series(Measure::SharpVanDerHeijde).next().is_none());
    }
}

/// Accuracy of the best rule that sees only `feature` (Bayes on the empirical table).
fn best_rule_accuracy<K: std::hash::Hash + Eq>(pairs: impl Iterator<Item = (K, bool)>) -> f64 {
    let mut table: HashMap<K, (usize, usize)> = HashMap::new();
    let mut n = 0;
    for (k, refractory) in pairs {
        let cell = table.entry(k).or_default();
        if refractory {
            cell.1 += 1
        } else {
            cell.0 += 1
        }
        n += 1;
    }
    table.values().map(|(a, b)| *a.max(b)).sum::<usize>() as f64 / n as f64
}

#[test]
fn subtypes_are_hidden_at_baseline_and_revealed_by_the_course() {
    let pair: Vec<&VirtualPatient> =
        cohort().iter().filter(|p| matches!(p.truth.subtype, Subtype::RaMtxResponder | Subtype::RaRefractory)).collect();
    let is_refractory = |p: &VirtualPatient| p.truth.subtype == Subtype::RaRefractory;
    let majority = {
        let r = pair.iter().filter(|p| is_refractory(p)).count() as f64 / pair.len() as f64;
        r.max(1.0 - r)
    };
    let baseline = |p: &VirtualPatient| {
        let code = p.chart.diagnoses[0].code.code;
        let das = synth::truth::das28_series(&p.chart)[0].score;
        (code, (das * 2.0).round() as i64)
    };
    let at_baseline = best_rule_accuracy(pair.iter().map(|p| (baseline(p), is_refractory(p))));
    eprintln!("responder vs refractory: majority {majority:.3}, codes + baseline DAS28 {at_baseline:.3}");
    assert!(
        at_baseline < majority + 0.10,
        "codes and baseline DAS28 separate the subtypes too well: {at_baseline:.3} vs majority {majority:.3}"
    );
    let later = best_rule_accuracy(pair.iter().map(|p| (p.truth.outcomes.switch_12m, is_refractory(p))));
    eprintln!("responder vs refractory: switch within 12 months {later:.3}");
    assert!(later > 0.80, "the course should reveal the subtype: switch alone gives {later:.3}");
}

#[test]
fn refractory_crp_climbs_and_notes_mention_extra_articular_disease() {
    // Peak CRP in months 2-7 relative to the first CRP: climbs while methotrexate fails.
    let crp_rise = |s: Subtype| {
        let mut ratios: Vec<f64> = of(s)
            .filter_map(|p| {
                let crp: Vec<(i32, f64)> = p.chart.series(Measure::Crp).map(|m| (m.when.day, m.value)).collect();
                let first = crp.first().filter(|(d, _)| *d == 0)?.1;
                let peak = crp.iter().filter(|(d, _)| (60..=210).contains(d)).map(|(_, v)| *v).fold(f64::NAN, f64::max);
                peak.is_finite().then_some(peak / first.max(0.5))
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        ratios[ratios.len() / 2]
    };
    let (refractory, responder) = (crp_rise(Subtype::RaRefractory), crp_rise(Subtype::RaMtxResponder));
    eprintln!("median CRP peak/baseline: refractory {refractory:.2}, responder {responder:.2}");
    assert!(refractory > 2.0 * responder, "median CRP peak/baseline: refractory {refractory:.2}, responder {responder:.2}");

    const POSITIVE: [&str; 12] = [
        "subcutaneous nodules", "rheumatoid nodules at", "nodule over", "gritty dry eyes", "sicca symptoms,",
        "dry cough", "bibasal crackles", "early reticulation", "episcleritis", "nail-fold infarcts", "weight loss",
        "low-grade fevers",
    ];
    let mentions = |s: Subtype| {
        let with_notes: Vec<&VirtualPatient> = of(s).filter(|p| !p.chart.notes.is_empty()).collect();
        let hits = with_notes
            .iter()
            .filter(|p| p.chart.notes.iter().any(|n| POSITIVE.iter().any(|k| n.text.contains(k))))
            .count();
        hits as f64 / with_notes.len() as f64
    };
    let (refractory, responder) = (mentions(Subtype::RaRefractory), mentions(Subtype::RaMtxResponder));
    eprintln!("notes with extra-articular findings: refractory {refractory:.2}, responder {responder:.2}");
    assert!(refractory > 0.5 && responder < 0.2, "notes with extra-articular findings: refractory {refractory:.2}, responder {responder:.2}");
}

#[test]
fn radiographic_damage_progresses_faster_in_refractory_disease() {
    let progression = |s: Subtype| {
        let per_year: Vec<f64> = of(s)
            .filter_map(|p| {
                let reads: Vec<(i32, f64)> = p.chart.series(Measure::SharpVanDerHeijde).map(|m| (m.when.day, m.value)).collect();
                let (first, last) = (reads.first()?, reads.last()?);
                (last.0 - first.0 >= 300).then(|| (last.1 - first.1) / ((last.0 - first.0) as f64 / 365.25))
            })
            .collect();
        per_year.iter().sum::<f64>() / per_year.len() as f64
    };
    let (refractory, responder) = (progression(Subtype::RaRefractory), progression(Subtype::RaMtxResponder));
    eprintln!("SvdH units/year: refractory {refractory:.2}, responder {responder:.2}");
    assert!(refractory > 2.0 * responder.max(0.1), "SvdH units/year: refractory {refractory:.2}, responder {responder:.2}");
    assert!((0.5..8.0).contains(&refractory), "refractory progression {refractory:.2}/year");
}

#[test]
fn lupus_complement_falls_as_sledai_rises() {
    let mut pairs = Vec::new();
    for p in cohort().iter().filter(|p| p.truth.disease == Disease::Lupus) {
        let at = |m: Measure| -> HashMap<Option<usize>, f64> { p.chart.series(m).map(|x| (x.visit, x.value)).collect() };
        let (sledai, c3) = (at(Measure::Sledai2k), at(Measure::ComplementC3));
        pairs.extend(sledai.iter().filter_map(|(v, s)| c3.get(v).map(|c| (*s, *c))));
    }
    let n = pairs.len() as f64;
    let (mx, my) = (pairs.iter().map(|p| p.0).sum::<f64>() / n, pairs.iter().map(|p| p.1).sum::<f64>() / n);
    let cov = pairs.iter().map(|(x, y)| (x - mx) * (y - my)).sum::<f64>();
    let (vx, vy) = (pairs.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>(), pairs.iter().map(|p| (p.1 - my).powi(2)).sum::<f64>());
    let r = cov / (vx * vy).sqrt();
    eprintln!("correlation of SLEDAI-2K and C3: {r:.2} over {n} visits");
    assert!(n > 500.0 && r < -0.3, "correlation of SLEDAI-2K and C3: {r:.2} over {n} visits");
}

#[test]
fn visits_are_irregular_on_weekdays_and_labs_stay_in_physiological_ranges() {
    let mut gaps = Vec::new();
    for p in cohort() {
        gaps.extend(p.chart.visits.windows(2).map(|w| w[1].when.day - w[0].when.day));
        for v in &p.chart.visits {
            let weekday = chrono::Datelike::weekday(&p.chart.date(v.when.day));
            assert!(!matches!(weekday, chrono::Weekday::Sat | chrono::Weekday::Sun), "a weekend visit in {}", p.chart.patient_id);
        }
        for m in &p.chart.measurements {
            let ok = match m.measure {
                Measure::Hemoglobin => (6.0..=18.5).contains(&m.value),
                Measure::Alt => (5.0..=400.0).contains(&m.value),
                Measure::Creatinine => (0.3..=6.5).contains(&m.value),
                Measure::Esr => (1.0..=140.0).contains(&m.value),
                Measure::Crp => (0.0..=300.0).contains(&m.value),
                Measure::PatientGlobal => (0.0..=100.0).contains(&m.value),
                _ => true,
            };
            assert!(ok, "{:?} = {} in {}", m.measure, m.value, p.chart.patient_id);
        }
    }
    gaps.sort();
    let distinct = {
        let mut g = gaps.clone();
        g.dedup();
        g.len()
    };
    assert!(gaps[0] >= 2 && distinct > 100, "visit gaps: min {} distinct {distinct}", gaps[0]);
}
