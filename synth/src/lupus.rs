//! Systemic lupus erythematosus in the virtual clinic: SLEDAI-2K activity, anti-dsDNA
//! and complement that move with it, nephritis in one subtype, flares treated with
//! steroids and escalated immunosuppression.
//!
//! A smaller share of the cohort, modelled coarsely: enough for a twin to see that a
//! lupus journey looks nothing like an arthritis one, not a lupus study.

use crate::chart::{Chart, Note, VisitKind, When};
use crate::codes::{icd10, Measure};
use crate::course::LatentCourse;
use crate::labs;
use crate::medications::{Change, Drug, StopReason};
use crate::notes::{self, LupusFacts, NoteFacts};
use crate::omics;
use crate::patient::{DiseaseRun, Setup};
use crate::ra::clinic_minute;
use crate::sample::{chance, days, exponential_days, lognormal, normal, normal_in, pick, uniform, PatientRng};
use crate::subtype::Subtype;

/// A SLEDAI-2K rise that counts as a flare for the clinic's decisions.
const SLEDAI_FLARE_RISE: f64 = 4.0;

pub(crate) fn simulate(setup: &Setup, chart: &mut Chart, rng: &mut PatientRng, text: &mut PatientRng) -> DiseaseRun {
    let renal = setup.subtype == Subtype::LupusRenal;
    let baseline = if renal { normal_in(rng, 12.0, 4.0, 4.0, 30.0) } else { normal_in(rng, 8.0, 3.0, 4.0, 24.0) };
    let mut course = LatentCourse::new(baseline, 1.0, 30.0, 0.0, 40.0);
    let dsdna_positive = chance(rng, if renal { 0.85 } else { 0.6 });
    let ifn_high = chance(rng, if renal { 0.75 } else { 0.7 });
    let flares_per_year = if renal { 0.5 } else { 0.35 };
    let symptoms_before = days(rng, 60, 900);
    if renal {
        chart.diagnose(icd10::LUPUS_NEPHRITIS, -symptoms_before / 3, When::new(0, 0));
        if chance(rng, 0.5) {
            chart.diagnose(icd10::SLE_ORGAN_INVOLVEMENT, -symptoms_before, When::new(0, 0));
        }
    } else {
        let code = if chance(rng, 0.6) { icd10::SLE_UNSPECIFIED } else { icd10::SLE_ORGAN_INVOLVEMENT };
        chart.diagnose(code, -symptoms_before, When::new(0, 0));
    }
    let omics_due: Vec<i32> = if setup.omics { vec![0] } else { Vec::new() };
    let alt_baseline = lognormal(rng, 19.0, 0.25);

    let mut latent = Vec::with_capacity(setup.horizon as usize + 1);
    let mut flare_onsets = Vec::new();
    let mut next_visit = 0;
    let mut kind = VisitKind::NewPatient;
    let mut next_flare = exponential_days(rng, flares_per_year);
    let mut steroid_until: Option<i32> = None;
    let mut previous_sledai: Option<f64> = None;
    let mut flares_seen = 0;
    for day in 0..=setup.horizon {
        if day > 0 {
            course.step(rng, day);
        }
        if day == next_flare {
            course.add_flare(day, normal_in(rng, 6.0, 2.0, 3.0, 14.0), uniform(rng, 30.0, 60.0));
            flare_onsets.push(day);
            next_flare = day.saturating_add(exponential_days(rng, flares_per_year));
            if chance(rng, 0.6) {
                let call = chart.clinic_day(day + days(rng, 3, 14));
                if call + 10 < next_visit && call <= setup.horizon {
                    next_visit = call;
                    kind = VisitKind::Unscheduled;
                }
            }
        }
        if steroid_until == Some(day) {
            course.set_steroid(0.0);
            steroid_until = None;
        }
        let s = course.value(day);
        if day == next_visit {
            let when = When::new(day, clinic_minute(rng));
            let v = chart.add_visit(when, kind);
            let sledai_recorded = day == 0 || chance(rng, 0.9);
            let sledai = (s + normal(rng, 0.0, 1.2)).max(0.0).round();
            if sledai_recorded {
                chart.measure(v, Measure::Sledai2k, sledai);
            }
            if day == 0 {
                let titre = *pick(rng, &[160.0, 320.0, 640.0, 1280.0]);
                chart.measure(v, Measure::AntinuclearAbTiter, titre);
            }
            let anti_dsdna = (day == 0 || chance(rng, 0.6)).then(|| {
                let value = if dsdna_positive { lognormal(rng, 20.0 + 12.0 * s, 0.4) } else { lognormal(rng, 5.0, 0.5) };
                chart.measure(v, Measure::AntiDsDna, value.min(800.0))
            });
            let complement = (day == 0 || chance(rng, 0.7)).then(|| {
                let c3 = chart.measure(v, Measure::ComplementC3, normal_in(rng, 118.0 - 4.0 * s, 14.0, 25.0, 200.0));
                let c4 = chart.measure(v, Measure::ComplementC4, normal_in(rng, 24.0 - 1.0 * s, 4.0, 2.0, 60.0));
                (c3, c4)
            });
            let (mut hb, mut alt, mut creatinine) = (None, None, None);
            if day == 0 || chance(rng, 0.9) {
                let crp_like = s.max(0.0);
                hb = Some(chart.measure(v, Measure::Hemoglobin, labs::hemoglobin(rng, chart.demographics.sex, crp_like)));
                alt = Some(chart.measure(v, Measure::Alt, labs::alt(rng, alt_baseline, false, false)));
                let renal_activity = if renal { (s - 4.0).max(0.0) / 4.0 } else { 0.0 };
                let age = setup.age0 + day as f64 / 365.25;
                creatinine = Some(chart.measure(v, Measure::Creatinine, labs::creatinine(rng, chart.demographics.sex, age, renal_activity)));
            }
            let esr = chance(rng, 0.5).then(|| chart.measure(v, Measure::Esr, lognormal(rng, 12.0 + 2.0 * s, 0.3).clamp(2.0, 130.0)));
            let crp = chance(rng, 0.4).then(|| chart.measure(v, Measure::Crp, lognormal(rng, 3.0, 0.6).clamp(0.2, 80.0)));
            if omics_due.contains(&day) {
                omics::record_panel(rng, chart, v, ifn_high, 0.05 * (s - 6.0));
            }

            // Decisions.
            let mut changes = Vec::new();
            let flare = previous_sledai.is_some_and(|p| sledai_recorded && sledai - p >= SLEDAI_FLARE_RISE)
                || kind == VisitKind::Unscheduled;
            if day == 0 {
                if chance(rng, 0.95) {
                    start(rng, chart, &mut changes, Drug::Hydroxychloroquine, when);
                }
                if chance(rng, if renal { 0.9 } else { 0.6 }) {
                    let length = if renal { days(rng, 180, 540) } else { days(rng, 60, 180) };
                    steroid(rng, chart, &mut changes, &mut course, &mut steroid_until, when, length, if renal { 5.0 } else { 3.0 });
                }
                if renal {
                    let drug = if chance(rng, 0.8) { Drug::MycophenolateMofetil } else { Drug::Azathioprine };
                    start(rng, chart, &mut changes, drug, when);
                    course.set_target(normal_in(rng, 4.0, 1.5, 0.0, 10.0), drug.onset_days());
                } else {
                    if chance(rng, 0.15) {
                        start(rng, chart, &mut changes, Drug::Azathioprine, when);
                    }
                    course.set_target(normal_in(rng, 3.0, 1.5, 0.0, 8.0), 60.0);
                }
            } else if flare {
                flares_seen += 1;
                if steroid_until.is_none() && chance(rng, 0.8) {
                    let length = days(rng, 42, 120);
                    steroid(rng, chart, &mut changes, &mut course, &mut steroid_until, when, length, 4.0);
                }
                if chart.on(Drug::Azathioprine, day) && (renal || flares_seen >= 2) {
                    stop(chart, &mut changes, Drug::Azathioprine, when, StopReason::Inefficacy);
                    start(rng, chart, &mut changes, Drug::MycophenolateMofetil, when);
                } else if !chart.on(Drug::MycophenolateMofetil, day) && !chart.on(Drug::Azathioprine, day) && flares_seen >= 2 {
                    start(rng, chart, &mut changes, Drug::Azathioprine, when);
                } else if renal && day > 365 && !chart.tried(Drug::Rituximab) && chance(rng, 0.3) {
                    start(rng, chart, &mut changes, Drug::Rituximab, when);
                    if let Some(c) = chart.active_course(Drug::Rituximab, day) {
                        chart.stop(c, When::new(day + 15, 0), StopReason::Completed);
                    }
                }
            }

            let gap = if flare { days(rng, 28, 56) } else { days(rng, 56, 120) };
            if setup.notes {
                let facts = NoteFacts {
                    disease: setup.subtype.disease(),
                    kind,
                    sex: chart.demographics.sex,
                    age: (setup.age0 + day as f64 / 365.25) as u32,
                    day,
                    das28: None,
                    esr,
                    crp,
                    previous_crp: None,
                    hb,
                    alt,
                    creatinine,
                    flaring: flare || course.flaring(day),
                    stiffness_minutes: 0,
                    extra_articular: Vec::new(),
                    medications: chart.active_drugs(day),
                    changes,
                    seropositive: dsdna_positive,
                    imaging: None,
                    lupus: Some(LupusFacts {
                        sledai,
                        anti_dsdna,
                        c3: complement.map(|c| c.0),
                        c4: complement.map(|c| c.1),
                        features: features(text, s, renal),
                        renal,
                    }),
                    ssc: None,
                    next_visit_weeks: (gap as f64 / 7.0).round() as i32,
                };
                let (author, body) = notes::write(text, setup.author, &facts);
                chart.notes.push(Note { when, visit: v, author, text: body });
            }
            if sledai_recorded {
                previous_sledai = Some(sledai);
            }
            next_visit = chart.clinic_day(day + gap);
            kind = VisitKind::FollowUp;
        }
        latent.push(s as f32);
    }
    DiseaseRun { latent, flare_onsets, ifn_high: setup.omics.then_some(ifn_high), ..DiseaseRun::default() }
}

fn start(rng: &mut PatientRng, chart: &mut Chart, changes: &mut Vec<Change>, drug: Drug, when: When) {
    let dose = drug.dose_text(rng);
    chart.start(drug, when, dose);
    changes.push(Change::Started(drug));
}

fn stop(chart: &mut Chart, changes: &mut Vec<Change>, drug: Drug, when: When, reason: StopReason) {
    if let Some(c) = chart.active_course(drug, when.day) {
        chart.stop(c, when, reason.clone());
        changes.push(Change::Stopped(drug, reason));
    }
}

#[allow(clippy::too_many_arguments)]
fn steroid(
    rng: &mut PatientRng,
    chart: &mut Chart,
    changes: &mut Vec<Change>,
    course: &mut LatentCourse,
    steroid_until: &mut Option<i32>,
    when: When,
    length: i32,
    effect: f64,
) {
    start(rng, chart, changes, Drug::Prednisone, when);
    if let Some(c) = chart.active_course(Drug::Prednisone, when.day) {
        chart.stop(c, When::new(when.day + length, 0), StopReason::Completed);
    }
    course.set_steroid(-effect);
    *steroid_until = Some(when.day + length);
}

/// What a lupus patient reports or shows, more with higher activity.
fn features(rng: &mut PatientRng, sledai: f64, renal: bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    let p = (sledai / 16.0).clamp(0.05, 0.9);
    let pool: &[&str] = &[
        "malar rash over the cheeks",
        "painless mouth ulcers",
        "diffuse hair thinning",
        "inflammatory arthralgia of the hands",
        "pleuritic chest pain last month",
        "profound fatigue",
        "photosensitive rash on the forearms",
    ];
    for item in pool {
        if chance(rng, p / 2.5) {
            out.push(*item);
        }
    }
    if renal && chance(rng, p) {
        out.push(*pick(rng, &["ankle swelling", "frothy urine", "pedal oedema"]));
    }
    out
}
