//! Systemic sclerosis in the virtual clinic: skin (mRSS), lungs (FVC and DLCO,
//! percent predicted), the antibodies that separate diffuse from limited disease,
//! Raynaud's and reflux.
//!
//! Diffuse skin thickens over the first year and then softens; limited skin barely
//! moves. Lung function declines in those with interstitial lung disease, more slowly
//! on mycophenolate, and a steep fall brings rituximab. Coarse, like the lupus model.

use crate::chart::{Chart, Note, VisitKind, When};
use crate::codes::{icd10, Measure};
use crate::course::LatentCourse;
use crate::labs;
use crate::medications::{Change, Drug, StopReason};
use crate::notes::{self, NoteFacts, SscFacts};
use crate::omics;
use crate::patient::{DiseaseRun, Setup};
use crate::ra::clinic_minute;
use crate::sample::{chance, days, lognormal, normal, normal_in, pick, PatientRng};
use crate::subtype::Subtype;

pub(crate) fn simulate(setup: &Setup, chart: &mut Chart, rng: &mut PatientRng, text: &mut PatientRng) -> DiseaseRun {
    let diffuse = setup.subtype == Subtype::SscDiffuse;
    let baseline_mrss = if diffuse { normal_in(rng, 20.0, 6.0, 8.0, 45.0) } else { normal_in(rng, 6.0, 3.0, 0.0, 14.0) };
    let mut skin = LatentCourse::new(baseline_mrss, if diffuse { 1.5 } else { 0.7 }, 60.0, 0.0, 51.0);
    if diffuse {
        skin.set_target(baseline_mrss + 4.0, 120.0);
    }
    let scl70 = chance(rng, if diffuse { 0.6 } else { 0.1 });
    let aca = !scl70 && chance(rng, if diffuse { 0.05 } else { 0.6 });
    let ild = chance(rng, if scl70 { 0.6 } else if diffuse { 0.3 } else { 0.12 });
    let mut fvc = if ild { normal_in(rng, 86.0, 12.0, 45.0, 120.0) } else { normal_in(rng, 98.0, 10.0, 65.0, 130.0) };
    let mut dlco = if ild { normal_in(rng, 62.0, 12.0, 25.0, 100.0) } else { normal_in(rng, 80.0, 12.0, 40.0, 120.0) };
    let fvc_baseline = fvc;
    let decline_per_year = if ild { normal(rng, 3.5, 1.5).max(0.5) } else { normal(rng, 0.3, 0.5) };
    let raynaud = chance(rng, 0.9);
    let ifn_high = chance(rng, 0.3);
    let alt_baseline = lognormal(rng, 20.0, 0.25);

    let symptoms_before = days(rng, 90, 1500);
    chart.diagnose(if diffuse { icd10::SSC_PROGRESSIVE } else { icd10::SSC_CREST }, -symptoms_before, When::new(0, 0));
    if raynaud && chance(rng, 0.7) {
        chart.diagnose(icd10::RAYNAUD, -symptoms_before - days(rng, 30, 1500), When::new(0, 0));
    }

    let mut latent = Vec::with_capacity(setup.horizon as usize + 1);
    let mut next_visit = 0;
    let mut next_pft = 0;
    let mut kind = VisitKind::NewPatient;
    for day in 0..=setup.horizon {
        if day > 0 {
            skin.step(rng, day);
            // Lung function drifts daily; treatment slows it.
            let slowed = if chart.on(Drug::MycophenolateMofetil, day) || chart.on(Drug::Rituximab, day) { 0.5 } else { 1.0 };
            fvc -= decline_per_year * slowed / 365.25;
            dlco -= 1.2 * decline_per_year * slowed / 365.25;
        }
        if diffuse && day == 365 {
            // After the first year diffuse skin softens.
            skin.set_target(baseline_mrss * 0.6, 300.0);
        }
        let mrss_now = skin.value(day);
        if day == next_visit {
            let when = When::new(day, clinic_minute(rng));
            let v = chart.add_visit(when, kind);
            let mrss = (day == 0 || chance(rng, 0.85))
                .then(|| chart.measure(v, Measure::Mrss, (mrss_now + normal(rng, 0.0, 1.5)).round().clamp(0.0, 51.0)));
            if day == 0 {
                chart.measure(v, Measure::AntinuclearAbTiter, *pick(rng, &[160.0, 320.0, 640.0, 1280.0]));
                chart.measure(v, Measure::AntiScl70, labs::titre(rng, scl70, 7.0, 80.0, 300.0));
                chart.measure(v, Measure::AntiCentromere, labs::titre(rng, aca, 10.0, 120.0, 400.0));
            }
            let (mut fvc_rec, mut dlco_rec) = (None, None);
            if day + 30 >= next_pft {
                fvc_rec = Some(chart.measure(v, Measure::FvcPercentPredicted, fvc + normal(rng, 0.0, 2.5)));
                dlco_rec = Some(chart.measure(v, Measure::DlcoPercentPredicted, dlco + normal(rng, 0.0, 3.0)));
                next_pft = day + 365;
            }
            let (mut hb, mut alt, mut creatinine) = (None, None, None);
            if day == 0 || chance(rng, 0.8) {
                hb = Some(chart.measure(v, Measure::Hemoglobin, labs::hemoglobin(rng, chart.demographics.sex, 2.0)));
                let on_mtx = chart.on(Drug::Methotrexate, day);
                alt = Some(chart.measure(v, Measure::Alt, labs::alt(rng, alt_baseline, on_mtx, false)));
                let age = setup.age0 + day as f64 / 365.25;
                creatinine = Some(chart.measure(v, Measure::Creatinine, labs::creatinine(rng, chart.demographics.sex, age, 0.0)));
            }
            let crp = chance(rng, 0.6).then(|| chart.measure(v, Measure::Crp, lognormal(rng, 4.0, 0.7).clamp(0.2, 120.0)));
            if setup.omics && day == 0 {
                omics::record_panel(rng, chart, v, ifn_high, 0.0);
            }

            let mut changes = Vec::new();
            if day == 0 {
                if raynaud && chance(rng, 0.7) {
                    start(rng, chart, &mut changes, Drug::Nifedipine, when);
                }
                if diffuse || ild {
                    if chance(rng, if diffuse { 0.7 } else { 0.5 }) {
                        start(rng, chart, &mut changes, Drug::MycophenolateMofetil, when);
                        skin.set_target(skin.level() - 3.0, 120.0);
                    } else if diffuse && chance(rng, 0.5) {
                        start(rng, chart, &mut changes, Drug::Methotrexate, when);
                        start(rng, chart, &mut changes, Drug::FolicAcid, when);
                    }
                }
                if diffuse && chance(rng, 0.2) {
                    start(rng, chart, &mut changes, Drug::Prednisone, when);
                }
            }
            if ild {
                chart.diagnose(icd10::SSC_LUNG, day, when);
            }
            let fell = fvc_rec.is_some_and(|f| f < fvc_baseline - 10.0);
            if fell && !chart.tried(Drug::Rituximab) && chance(rng, 0.5) {
                start(rng, chart, &mut changes, Drug::Rituximab, when);
                if let Some(c) = chart.active_course(Drug::Rituximab, day) {
                    chart.stop(c, When::new(day + 15, 0), StopReason::Completed);
                }
            }

            let gap = days(rng, 84, 182);
            if setup.notes {
                let facts = NoteFacts {
                    disease: setup.subtype.disease(),
                    kind,
                    sex: chart.demographics.sex,
                    age: (setup.age0 + day as f64 / 365.25) as u32,
                    day,
                    das28: None,
                    esr: None,
                    crp,
                    previous_crp: None,
                    hb,
                    alt,
                    creatinine,
                    flaring: false,
                    stiffness_minutes: 0,
                    extra_articular: Vec::new(),
                    medications: chart.active_drugs(day),
                    changes,
                    seropositive: scl70 || aca,
                    imaging: None,
                    lupus: None,
                    ssc: Some(SscFacts { mrss, fvc: fvc_rec, dlco: dlco_rec, features: features(text, diffuse, ild, raynaud), diffuse }),
                    next_visit_weeks: (gap as f64 / 7.0).round() as i32,
                };
                let (author, body) = notes::write(text, setup.author, &facts);
                chart.notes.push(Note { when, visit: v, author, text: body });
            }
            next_visit = chart.clinic_day(day + gap);
            kind = VisitKind::FollowUp;
        }
        latent.push(mrss_now as f32);
    }
    DiseaseRun { latent, ifn_high: setup.omics.then_some(ifn_high), ..DiseaseRun::default() }
}

fn start(rng: &mut PatientRng, chart: &mut Chart, changes: &mut Vec<Change>, drug: Drug, when: When) {
    let dose = drug.dose_text(rng);
    chart.start(drug, when, dose);
    changes.push(Change::Started(drug));
}

fn features(rng: &mut PatientRng, diffuse: bool, ild: bool, raynaud: bool) -> Vec<&'static str> {
    let mut out = Vec::new();
    if raynaud && chance(rng, 0.7) {
        out.push(*pick(rng, &["Raynaud's attacks most days in the cold", "white then blue fingers in winter", "Raynaud's, managing with gloves"]));
    }
    if diffuse && chance(rng, 0.25) {
        out.push(*pick(rng, &["a healing digital ulcer on the right index finger", "digital pitting scars", "a new fingertip ulcer"]));
    }
    if ild && chance(rng, 0.5) {
        out.push(*pick(rng, &["breathless climbing one flight of stairs", "dry cough", "velcro crackles at both bases"]));
    }
    if chance(rng, 0.4) {
        out.push(*pick(rng, &["heartburn despite a PPI", "dysphagia to solids", "reflux at night"]));
    }
    if !diffuse && chance(rng, 0.2) {
        out.push(*pick(rng, &["telangiectasia on the face and palms", "calcinosis at the fingertips"]));
    }
    out
}
