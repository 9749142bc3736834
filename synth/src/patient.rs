//! One virtual patient from start to finish: who they are, how long they are followed,
//! which disease course runs, their comorbidities, and the ground truth.

use chrono::{Datelike, Days, NaiveDate, Weekday};

use crate::chart::{Chart, Demographics, Sex, When};
use crate::codes::{icd10, Icd10};
use crate::counterfactual::{DecisionVisit, TreatmentOption};
use crate::das28::Das28Variant;
use crate::notes::{ExtraArticular, AUTHOR_COUNT};
use crate::params::Params;
use crate::sample::{chance, days, lognormal, normal_in, patient_rng, pick, PatientRng, Stream};
use crate::subtype::{Disease, Subtype};
use crate::truth::{self, GroundTruth};
use crate::{lupus, ra, sclerosis};

/// What a disease simulation needs to know about its patient.
pub(crate) struct Setup<'a> {
    pub params: &'a Params,
    pub subtype: Subtype,
    /// Age in years at the first visit.
    pub age0: f64,
    /// Last simulated day (follow-up length).
    pub horizon: i32,
    pub notes: bool,
    pub imaging: bool,
    pub omics: bool,
    /// The patient's usual rheumatologist (an index into the notes' authors).
    pub author: usize,
    /// The option that replaces the clinic's decision at the decision visit, in a
    /// counterfactual run ([`crate::counterfactual`]); `None` in the observed run.
    pub intervention: Option<TreatmentOption>,
}

/// How a run departs from the observed one. The departures never change a draw
/// before the decision visit, so a counterfactual shares the observed prefix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Scenario {
    /// Replaces the clinic's decision at the decision visit.
    pub intervention: Option<TreatmentOption>,
    /// Follow-up runs until at least this day (only days after the observed ones are added).
    pub horizon_at_least: i32,
    /// Whether notes are written for a patient who has them (they draw from the
    /// wording stream only, so the course is the same without them).
    pub notes: bool,
}

impl Scenario {
    /// The cohort as exported.
    pub const OBSERVED: Scenario = Scenario { intervention: None, horizon_at_least: 0, notes: true };
}

/// A simulated patient with what the export and the ground truth leave out.
#[derive(Debug, Clone)]
pub(crate) struct Simulated {
    pub patient: VirtualPatient,
    pub run: DiseaseRun,
    /// The last simulated day.
    pub horizon: i32,
}

/// What a disease simulation hands back besides the chart.
#[derive(Debug, Clone, Default)]
pub(crate) struct DiseaseRun {
    /// Latent activity per day, on the disease's own scale (DAS28, SLEDAI-2K, mRSS).
    pub latent: Vec<f32>,
    pub flare_onsets: Vec<i32>,
    pub das28_variant: Option<Das28Variant>,
    pub hepatotoxicity_day: Option<i32>,
    pub extra_articular: Vec<ExtraArticular>,
    /// Whether the interferon signature is high, for patients with an omics panel.
    pub ifn_high: Option<bool>,
    /// The rheumatoid arthritis decision visit, if the patient reached one.
    pub decision: Option<DecisionVisit>,
}

/// A simulated patient: the chart the hospital exports and the truth it hides.
#[derive(Debug, Clone)]
pub struct VirtualPatient {
    pub chart: Chart,
    pub truth: GroundTruth,
}

/// The FHIR id of patient `index` in a cohort generated with `seed`.
pub fn patient_id(seed: u64, index: usize) -> String {
    format!("syn{seed}-{index:06}")
}

/// Simulates patient `index` of a cohort; the same `(params, index)` always gives the
/// same patient, whatever else is generated.
pub fn simulate_patient(params: &Params, index: usize) -> VirtualPatient {
    simulate(params, index, &Scenario::OBSERVED).patient
}

/// Simulates patient `index` under `scenario`.
pub(crate) fn simulate(params: &Params, index: usize, scenario: &Scenario) -> Simulated {
    let mut rng = patient_rng(params.seed, index, Stream::Course);
    let mut text = patient_rng(params.seed, index, Stream::Text);
    let subtype = Subtype::draw(&mut rng, params);
    let disease = subtype.disease();
    let (female, age_mean, age_sd, age_min) = match disease {
        Disease::RheumatoidArthritis => (0.74, 55.0, 13.0, 18.0),
        Disease::Lupus => (0.90, 36.0, 11.0, 16.0),
        Disease::SystemicSclerosis => (0.85, 50.0, 12.0, 18.0),
    };
    let sex = if chance(&mut rng, female) { Sex::Female } else { Sex::Male };
    let age0 = normal_in(&mut rng, age_mean, age_sd, age_min, 88.0);
    let span = (params.first_visit_to - params.first_visit_from).num_days() as i32;
    let first_visit = weekday_on_or_after(params.first_visit_from + Days::new(days(&mut rng, 0, span) as u64));
    let birth_date = first_visit - Days::new((age0 * 365.25) as u64);
    let demographics = demographics(&mut rng, sex, birth_date);

    let available = (params.data_cut - first_visit).num_days() as i32;
    let planned = lognormal(&mut rng, 1500.0, 0.45).clamp(400.0, 3650.0) as i32;
    let lost = chance(&mut rng, params.lost_to_follow_up);
    let observed_horizon = if lost { days(&mut rng, 90, 330) } else { planned }.min(available);
    let horizon = observed_horizon.max(scenario.horizon_at_least);
    let omics_share = match disease {
        Disease::RheumatoidArthritis => params.shares.omics_ra,
        Disease::Lupus => params.shares.omics_lupus,
        Disease::SystemicSclerosis => params.shares.omics_ssc,
    };
    let setup = Setup {
        params,
        subtype,
        age0,
        horizon,
        // Drawn in every scenario, so the draws after it stay the same.
        notes: chance(&mut rng, params.shares.notes) && scenario.notes,
        imaging: disease == Disease::RheumatoidArthritis && chance(&mut rng, params.shares.imaging_ra),
        omics: chance(&mut rng, omics_share),
        author: days(&mut rng, 0, AUTHOR_COUNT as i32 - 1) as usize,
        intervention: scenario.intervention,
    };

    let mut chart = Chart::new(patient_id(params.seed, index), demographics, first_visit);
    let run = match disease {
        Disease::RheumatoidArthritis => ra::simulate(&setup, &mut chart, &mut rng, &mut text),
        Disease::Lupus => lupus::simulate(&setup, &mut chart, &mut rng, &mut text),
        Disease::SystemicSclerosis => sclerosis::simulate(&setup, &mut chart, &mut rng, &mut text),
    };
    comorbidities(&mut rng, &mut chart, disease, sex, age0, horizon);
    chart.reopen_courses_ending_after(horizon);
    let truth = truth::ground_truth(&chart, &setup, &run, lost);
    Simulated { patient: VirtualPatient { chart, truth }, run, horizon }
}

/// The clinic sees new patients on weekdays only.
fn weekday_on_or_after(date: NaiveDate) -> NaiveDate {
    match date.weekday() {
        Weekday::Sat => date + Days::new(2),
        Weekday::Sun => date + Days::new(1),
        _ => date,
    }
}

#[allow(clippy::explicit_auto_deref)] // `pick` yields `&&str`; the field wants `&str`.
fn demographics(rng: &mut PatientRng, sex: Sex, birth_date: NaiveDate) -> Demographics {
    const FEMALE: [&str; 32] = [
        "Maria", "Anna", "Fatima", "Mei", "Olga", "Grace", "Aisha", "Sofia", "Emma", "Priya", "Chloe", "Hannah",
        "Ingrid", "Yuki", "Amara", "Lucia", "Nadia", "Ruth", "Elena", "Zainab", "Claire", "Leila", "Marta", "Joan",
        "Siobhan", "Ana", "Helen", "Keiko", "Irene", "Beatriz", "Daniela", "Agnes",
    ];
    const MALE: [&str; 28] = [
        "James", "Mohammed", "Wei", "Ivan", "David", "Kwame", "Luca", "Arjun", "Thomas", "Omar", "Pedro", "Hiroshi",
        "Peter", "Samuel", "Jonas", "Ahmed", "Carlos", "Raj", "George", "Mikhail", "Daniel", "Felix", "Tunde",
        "Andre", "Paul", "Stefan", "Ali", "Kenji",
    ];
    const FAMILY: [&str; 40] = [
        "Smith", "Garcia", "Chen", "Ivanova", "Okafor", "Müller", "Rossi", "Kumar", "Nowak", "Haddad", "Silva",
        "Tanaka", "Johnson", "Mensah", "Lindberg", "Dubois", "Kowalski", "O'Brien", "Papadopoulos", "Nguyen",
        "Hernandez", "Ali", "Jansen", "Kaur", "Petrov", "Yilmaz", "Andersen", "Costa", "Murphy", "Sato", "Ahmed",
        "Novak", "Moreno", "Khan", "Fischer", "Adeyemi", "Larsen", "Rahman", "Cohen", "Walker",
    ];
    let given = match sex {
        Sex::Female => *pick(rng, &FEMALE),
        Sex::Male => *pick(rng, &MALE),
    };
    Demographics { sex, birth_date, given, family: *pick(rng, &FAMILY) }
}

/// Common comorbidities, by age and sex, most present before the first visit.
fn comorbidities(rng: &mut PatientRng, chart: &mut Chart, disease: Disease, sex: Sex, age0: f64, horizon: i32) {
    let by_age = |young: f64, middle: f64, old: f64| {
        if age0 < 40.0 {
            young
        } else if age0 < 60.0 {
            middle
        } else {
            old
        }
    };
    let female = sex == Sex::Female;
    let table: [(Icd10, f64); 10] = [
        (icd10::HYPERTENSION, by_age(0.06, 0.25, 0.45)),
        (icd10::TYPE2_DIABETES, by_age(0.03, 0.10, 0.18)),
        (icd10::HYPERLIPIDEMIA, by_age(0.04, 0.20, 0.35)),
        (icd10::OSTEOPOROSIS, if female { by_age(0.01, 0.10, 0.25) } else { by_age(0.0, 0.02, 0.06) }),
        (icd10::DEPRESSION, 0.14),
        (icd10::HYPOTHYROIDISM, if female { 0.10 } else { 0.03 }),
        (icd10::OBESITY, 0.20),
        (icd10::GERD, if disease == Disease::SystemicSclerosis { 0.6 } else { 0.12 }),
        (icd10::CORONARY_DISEASE, by_age(0.0, 0.04, 0.10)),
        (icd10::FIBROMYALGIA, if disease == Disease::RheumatoidArthritis { 0.08 } else { 0.05 }),
    ];
    for (code, p) in table {
        if chance(rng, p) {
            // Four in five are known at the first visit; the rest are diagnosed later.
            let (onset, recorded) = if chance(rng, 0.8) {
                (-days(rng, 90, 3650), When::new(0, 0))
            } else {
                let d = days(rng, 1, horizon.max(1));
                (d, When::new(d, 0))
            };
            chart.diagnose(code, onset, recorded);
        }
    }
}
