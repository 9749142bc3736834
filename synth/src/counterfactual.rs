//! Counterfactual truth: what each rheumatoid arthritis patient's course *would* have
//! been under each treatment option at one decision visit.
//!
//! An estimator of treatment effects from observational data (the in silico cohort's
//! treatment options, DESIGN.md) can only be validated against outcomes no record
//! holds: those of the roads not taken. The virtual hospital can produce them, because
//! a patient's simulation is deterministic ([`crate::simulate_patient`]): it re-runs the
//! same patient (same seed, same random streams) with only the clinic's decision at the
//! decision visit replaced by the option, and reads the outcomes off the resulting
//! chart with the same functions the ground truth uses ([`crate::outcomes`]).
//!
//! - **Decision visit**: the first visit with a recorded DAS28 at or after the first
//!   methotrexate start + [`DECISION_AFTER_DAYS`] (the 3-month treat-to-target review),
//!   while that methotrexate course is still running. A patient without one has no
//!   counterfactual line.
//! - **Options** ([`OPTIONS`], keys of `journey::clinical`'s [`TreatmentOption`], which
//!   the estimators use too): `continue` (the clinic changes nothing at that visit) or
//!   one drug started there beside methotrexate ([`option_drug`]), its response class
//!   drawn as any start draws it. The option replaces the clinic's whole decision at
//!   that visit; after it the clinic applies its usual treat-to-target rules in every
//!   run (it may escalate later).
//! - **Coupling**: the decision visit forks the course's random stream, in the observed
//!   run as in every counterfactual one, so what follows the visit draws from the same
//!   numbers whatever was decided (and however many draws the decision itself took).
//!   `continue` therefore reproduces the observed course exactly when the clinic changed
//!   nothing at that visit, and options differ by their treatment, not by reshuffled
//!   noise. The options' own draws (the response class in particular) start from the same
//!   state in every run: common random numbers across options.
//! - **Follow-up**: counterfactual runs last until at least [`FOLLOW_UP_DAYS`] after the
//!   decision visit, past the data cut or a loss to follow-up if need be (lengthening a
//!   run only adds days after the observed ones), and skip the progress notes (which draw
//!   from the separate wording stream only, so the course is the same without them).
//!
//! - **Outcomes** ([`CounterfactualOutcomes`]): response, flare and adverse-event stop by
//!   `journey::clinical::option_outcomes` on the counterfactual chart read as the
//!   importer reads the export (the estimators' own definition, on the same
//!   `response_at` and `flare_within` as the ground truth); the latent DAS28; and the
//!   true response probability.
//!
//! The lines go to `counterfactuals.ldjson` ([`crate::writer::COUNTERFACTUALS_FILE`]),
//! never into the FHIR export, and read back as [`CounterfactualTruth`].

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use journey::clinical::drugs::{DRUGS, RXNORM};
use journey::clinical::{option_outcomes, Course};
use serde::{Deserialize, Serialize};

/// The treatment options, with their keys: `journey::clinical`'s, so the truth and the
/// estimates scored against it name an option, and classify a started drug, alike.
pub use journey::clinical::TreatmentOption;

use crate::chart::{Chart, When};
use crate::medications::Drug;
use crate::outcomes::EularResponse;
use crate::params::Params;
use crate::patient::{simulate, Scenario, Simulated};
use crate::subtype::{RaProfile, ResponseClass, Subtype};
use crate::truth::{das28_series, LATENT_DAYS};

/// Days after the first methotrexate start from which a visit is the decision visit
/// (the 3-month treat-to-target review).
pub const DECISION_AFTER_DAYS: i32 = 84;
/// Counterfactual runs last at least this many days after the decision visit, so every
/// outcome below (the latest is the latent DAS28 at day 360) can be read.
pub const FOLLOW_UP_DAYS: i32 = 400;

/// The options simulated at the decision visit, in the file's order. Methotrexate is
/// not among them: it runs at every decision visit.
pub const OPTIONS: [TreatmentOption; 7] = [
    TreatmentOption::Continue,
    TreatmentOption::CsdmardCombination,
    TreatmentOption::TnfInhibitor,
    TreatmentOption::Il6Inhibitor,
    TreatmentOption::JakInhibitor,
    TreatmentOption::Rituximab,
    TreatmentOption::Abatacept,
];

/// The drug a counterfactual run starts for `option` (`None` for `continue` and for
/// methotrexate, which already runs): sulfasalazine for a csDMARD combination, adalimumab,
/// tocilizumab, tofacitinib, rituximab, abatacept.
pub fn option_drug(option: TreatmentOption) -> Option<Drug> {
    match option {
        TreatmentOption::Continue | TreatmentOption::Methotrexate => None,
        TreatmentOption::CsdmardCombination => Some(Drug::Sulfasalazine),
        TreatmentOption::TnfInhibitor => Some(Drug::Adalimumab),
        TreatmentOption::Il6Inhibitor => Some(Drug::Tocilizumab),
        TreatmentOption::JakInhibitor => Some(Drug::Tofacitinib),
        TreatmentOption::Rituximab => Some(Drug::Rituximab),
        TreatmentOption::Abatacept => Some(Drug::Abatacept),
    }
}

/// [`option_drug`] for a patient for whom `running(drug)` says what is being taken: a
/// csDMARD combination adds a csDMARD the patient is not on (sulfasalazine, else
/// hydroxychloroquine, else leflunomide).
pub(crate) fn option_drug_for(option: TreatmentOption, running: impl Fn(Drug) -> bool) -> Option<Drug> {
    match option {
        TreatmentOption::CsdmardCombination => {
            let candidates = [Drug::Sulfasalazine, Drug::Hydroxychloroquine, Drug::Leflunomide];
            Some(candidates.into_iter().find(|d| !running(*d)).unwrap_or(Drug::Sulfasalazine))
        }
        other => option_drug(other),
    }
}

/// The option a started drug counts as, by `journey::clinical`'s drug table (what an
/// estimator reading the imported journey sees); `None` for a drug that is no option.
pub fn option_of(drug: Drug) -> Option<TreatmentOption> {
    journey_drug(drug).and_then(TreatmentOption::of_drug)
}

fn journey_drug(drug: Drug) -> Option<&'static journey::clinical::Drug> {
    DRUGS.iter().find(|d| d.rxnorm == drug.rxnorm())
}

/// What the clinic actually did at the decision visit: an option, or `other` (a change
/// no option describes). Written as the option's key or `"other"`. Lets an estimator
/// tell which patients took which road; only `continue` where the clinic changed nothing
/// at all is the factual course itself (the other options' responses are drawn anew).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum ObservedOption {
    Option(TreatmentOption),
    Other,
}

impl ObservedOption {
    /// The option, unless the clinic did something else.
    pub fn option(self) -> Option<TreatmentOption> {
        match self {
            ObservedOption::Option(o) => Some(o),
            ObservedOption::Other => None,
        }
    }
}

impl From<ObservedOption> for String {
    fn from(o: ObservedOption) -> String {
        o.option().map_or("other", TreatmentOption::key).to_owned()
    }
}

impl TryFrom<String> for ObservedOption {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s == "other" {
            Ok(ObservedOption::Other)
        } else {
            s.parse().map(ObservedOption::Option)
        }
    }
}

/// One option's outcomes, read from its counterfactual chart with the ground truth's
/// definitions, relative to the decision visit. `None` where even the counterfactual
/// record cannot tell (as in [`crate::truth::Outcomes`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterfactualOutcomes {
    /// EULAR response at 6 months (the reading nearest day 182, +/-45 days) from the
    /// DAS28 recorded at the decision visit. Non-response when the regimen fails before
    /// the reading: for a drug option, its course stopped or a DMARD of another option
    /// started after the visit; for `continue`, a running DMARD (methotrexate) stopped
    /// or any DMARD started after the visit.
    pub response_6m: Option<EularResponse>,
    /// A recorded DAS28 flare within 182 days after the decision date.
    pub flare_6m: Option<bool>,
    /// Latent DAS28 150, 270 and 360 days after the decision date (two decimals).
    pub das28_latent_150: Option<f64>,
    pub das28_latent_270: Option<f64>,
    pub das28_latent_360: Option<f64>,
    /// A DMARD course stopped for an adverse event in (decision date, + 182 days].
    pub adverse_event_stop_6m: bool,
    /// The true chance of a good or moderate response class for the option's drug in
    /// this patient's subtype (the profile's efficacy, good + moderate); for `continue`,
    /// 1 if the methotrexate regimen's drawn class is good or moderate at the visit (0
    /// once it has lost its effect), else 0. What a calibrated estimator should predict.
    pub response_probability: f64,
}

/// One line of `counterfactuals.ldjson`: one rheumatoid arthritis patient's decision
/// visit and the outcomes under every option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CounterfactualTruth {
    pub patient_id: String,
    pub subtype: Subtype,
    pub decision_date: NaiveDate,
    /// The visit's time, as the FHIR export writes that visit's observations
    /// (`effectiveDateTime`), so an estimator can cut the journey at it.
    pub decision_time: DateTime<Utc>,
    /// What the clinic did at the visit in the observed cohort.
    pub observed_option: ObservedOption,
    /// Every option's outcomes, keyed by the option's snake_case name.
    pub options: BTreeMap<TreatmentOption, CounterfactualOutcomes>,
}

impl CounterfactualTruth {
    /// The outcomes of `option`.
    pub fn outcomes(&self, option: TreatmentOption) -> Option<&CounterfactualOutcomes> {
        self.options.get(&option)
    }
}

/// What happened at a patient's decision visit, recorded by the clinic as it happens.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DecisionVisit {
    pub when: When,
    /// Class of the methotrexate regimen in force when the visit began (`None` once it
    /// lost its effect).
    pub mtx_class: ResponseClass,
    /// The DMARDs started at the visit, by the clinic or the intervention.
    pub started: Vec<Drug>,
    /// Whether nothing at all was started or stopped at the visit (not even prednisone).
    pub unchanged: bool,
}

impl DecisionVisit {
    /// Which option the clinic's changes at the visit amount to, as `journey::clinical`
    /// classifies a started drug (a csDMARD counts as `csdmard_combination`, added or
    /// instead, as in [`journey::clinical::option_taken`]).
    pub fn observed(&self) -> ObservedOption {
        let mut options = self.started.iter().map(|d| option_of(*d));
        match options.next() {
            None => ObservedOption::Option(TreatmentOption::Continue),
            Some(Some(first)) if options.all(|o| o == Some(first)) => ObservedOption::Option(first),
            Some(_) => ObservedOption::Other,
        }
    }
}

/// The counterfactual truth of patient `index` (`None` for a patient without a decision
/// visit, including every lupus and systemic sclerosis patient). Simulates the observed
/// patient, then once per option: what `counterfactuals.ldjson` holds for it.
pub fn counterfactual_truth(params: &Params, index: usize) -> Option<CounterfactualTruth> {
    let observed = simulate(params, index, &Scenario::OBSERVED);
    of_observed(params, index, &observed)
}

/// The counterfactual truth of an already simulated observed patient.
pub(crate) fn of_observed(params: &Params, index: usize, observed: &Simulated) -> Option<CounterfactualTruth> {
    let decision = observed.run.decision.as_ref()?;
    let subtype = observed.patient.truth.subtype;
    let profile = RaProfile::of(subtype)?;
    let chart = &observed.patient.chart;
    let when = decision.when;
    let horizon = observed.horizon.max(when.day + FOLLOW_UP_DAYS);
    let options = OPTIONS
        .into_iter()
        .map(|option| {
            let scenario = Scenario { intervention: Some(option), horizon_at_least: horizon, notes: false };
            let run = simulate(params, index, &scenario);
            let cf = run.run.decision.as_ref().expect("a counterfactual run reaches the observed decision visit");
            // The prefix is the observed one, so the visit is the same and the
            // option's drug (and nothing else) starts there.
            assert_eq!(cf.when, when, "{}: the decision visit moved in the {option} run", chart.patient_id);
            debug_assert_eq!(cf.started.len(), usize::from(option != TreatmentOption::Continue));
            (option, outcomes(&run, cf, option, &profile))
        })
        .collect();
    let time = chart.date(when.day).and_hms_opt(u32::from(when.minute / 60), u32::from(when.minute % 60), 0)?;
    Some(CounterfactualTruth {
        patient_id: chart.patient_id.clone(),
        subtype,
        decision_date: chart.date(when.day),
        decision_time: time.and_utc(),
        observed_option: decision.observed(),
        options,
    })
}

/// One option's outcomes on a run's chart (the observed run too, for `continue` where
/// the clinic changed nothing). Response, flare and adverse-event stop are
/// `journey::clinical::option_outcomes` on the chart's DAS28 series and courses, read as
/// the importer reads them from the export: the estimators' definition, applied to the
/// truth. The DAS28 values are the latent ones.
pub(crate) fn outcomes(sim: &Simulated, decision: &DecisionVisit, option: TreatmentOption, profile: &RaProfile) -> CounterfactualOutcomes {
    let chart = &sim.patient.chart;
    let day = decision.when.day;
    let read = option_outcomes(option, chart.date(day), &das28_series(chart), &courses(chart), chart.date(sim.horizon));
    let latent_at = |offset: i32| {
        sim.run.latent.get(usize::try_from(day + offset).ok()?).map(|v| (f64::from(*v) * 100.0).round() / 100.0)
    };
    let drug = decision.started.first().copied().filter(|_| option != TreatmentOption::Continue);
    let response_probability = match drug {
        Some(d) => {
            let e = crate::ra::efficacy(profile, d);
            e.good + e.moderate
        }
        None => f64::from(u8::from(matches!(decision.mtx_class, ResponseClass::Good | ResponseClass::Moderate))),
    };
    CounterfactualOutcomes {
        response_6m: read.response_6m,
        flare_6m: read.flare_6m,
        das28_latent_150: latent_at(LATENT_DAYS[0]),
        das28_latent_270: latent_at(LATENT_DAYS[1]),
        das28_latent_360: latent_at(LATENT_DAYS[2]),
        // Counterfactual follow-up (FOLLOW_UP_DAYS) always covers the 182-day window.
        adverse_event_stop_6m: read.adverse_event_stop_6m.unwrap_or(false),
        response_probability,
    }
}

/// A chart's medication courses as `journey::clinical` reads them from the export:
/// RxNorm code, the table's drug, start and stop instants, the stop reason's text.
pub(crate) fn courses(chart: &Chart) -> Vec<Course> {
    let instant = |when: When| {
        let t = chart.date(when.day).and_hms_opt(u32::from(when.minute / 60), u32::from(when.minute % 60), 0);
        t.expect("minutes of a day").and_utc()
    };
    chart
        .medications
        .iter()
        .map(|c| Course {
            code: journey::Code { system: RXNORM.to_owned(), code: c.drug.rxnorm().to_owned(), display: Some(c.drug.name().to_owned()) },
            drug: journey_drug(c.drug),
            start: instant(c.start),
            stop: c.end.map(instant),
            dosage: None,
            stop_reason: c.stop_reason.as_ref().map(|r| r.text()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use rayon::prelude::*;

    use super::*;
    use crate::chart::MedicationCourse;
    use crate::medications::StopReason;
    use crate::subtype::Disease;

    /// What two runs of one patient must share for their courses to be the same: every
    /// measurement, every course (without the dose wording, from the wording stream)
    /// and the latent activity.
    type Course = (Vec<(i32, u16, String, f64)>, Vec<(Drug, When, Option<When>, Option<StopReason>)>, Vec<f32>);

    fn course_of(s: &Simulated) -> Course {
        let chart = &s.patient.chart;
        let measurements =
            chart.measurements.iter().map(|m| (m.when.day, m.when.minute, format!("{:?}", m.measure), m.value)).collect();
        let courses = chart
            .medications
            .iter()
            .map(|c: &MedicationCourse| (c.drug, c.start, c.end, c.stop_reason.clone()))
            .collect();
        (measurements, courses, s.run.latent.clone())
    }

    #[test]
    fn continue_reproduces_the_observed_course_when_the_clinic_changed_nothing() {
        let params = Params { patients: 400, seed: 11, ..Params::default() };
        let mut compared = 0;
        let mut full_follow_up = 0;
        for index in 0..params.patients {
            let observed = simulate(&params, index, &Scenario::OBSERVED);
            let Some(decision) = observed.run.decision.clone() else { continue };
            if !decision.unchanged {
                continue;
            }
            let profile = RaProfile::of(observed.patient.truth.subtype).unwrap();
            let horizon = observed.horizon.max(decision.when.day + FOLLOW_UP_DAYS);
            let continued = simulate(
                &params,
                index,
                &Scenario { intervention: Some(TreatmentOption::Continue), horizon_at_least: horizon, notes: false },
            );
            // The observed run followed as long, without notes: the same course, day by day.
            let extended = simulate(&params, index, &Scenario { horizon_at_least: horizon, notes: false, ..Scenario::OBSERVED });
            assert_eq!(course_of(&continued), course_of(&extended), "patient {index}");
            let cf_decision = continued.run.decision.as_ref().unwrap();
            assert_eq!(cf_decision, &decision);
            let outcomes_continued = outcomes(&continued, cf_decision, TreatmentOption::Continue, &profile);
            let outcomes_extended = outcomes(&extended, &decision, TreatmentOption::Continue, &profile);
            assert_eq!(outcomes_continued, outcomes_extended, "patient {index}");
            // Where the exported record itself reaches a year after the visit, its
            // outcomes (notes and all) are the continue counterfactual's.
            if observed.horizon >= horizon {
                let outcomes_observed = outcomes(&observed, &decision, TreatmentOption::Continue, &profile);
                assert_eq!(outcomes_continued, outcomes_observed, "patient {index}");
                full_follow_up += 1;
            }
            compared += 1;
        }
        eprintln!("{compared} patients without a change at the decision visit, {full_follow_up} followed for 400 days");
        assert!(compared >= 100 && full_follow_up >= 50, "{compared} compared, {full_follow_up} with full follow-up");
    }

    #[test]
    fn an_option_starts_its_drug_at_the_decision_visit_beside_methotrexate() {
        let params = Params { patients: 60, seed: 5, ..Params::default() };
        let mut seen = 0;
        for index in 0..params.patients {
            let observed = simulate(&params, index, &Scenario::OBSERVED);
            let Some(decision) = observed.run.decision.as_ref() else { continue };
            let day = decision.when.day;
            for option in OPTIONS.into_iter().skip(1) {
                let scenario = Scenario { intervention: Some(option), horizon_at_least: day + FOLLOW_UP_DAYS, notes: false };
                let run = simulate(&params, index, &scenario);
                let chart = &run.patient.chart;
                let started: Vec<Drug> =
                    chart.medications.iter().filter(|c| c.start.day == day && c.drug.is_dmard()).map(|c| c.drug).collect();
                assert_eq!(started.len(), 1, "{option:?}: {started:?}");
                assert_eq!(option_of(started[0]), Some(option));
                assert!(chart.on(Drug::Methotrexate, day), "methotrexate continues under {option:?}");
                assert!(run.run.latent.len() > (day + 360) as usize);
                // Before the visit, the course is the observed one.
                let before = |s: &Simulated| -> Vec<(i32, f64)> {
                    s.patient.chart.measurements.iter().filter(|m| m.when.day < day).map(|m| (m.when.day, m.value)).collect()
                };
                assert_eq!(before(&run), before(&observed));
                assert_eq!(run.run.latent[..day as usize], observed.run.latent[..day as usize]);
            }
            seen += 1;
        }
        assert!(seen >= 20, "only {seen} patients with a decision visit");
    }

    #[test]
    fn each_option_drug_counts_as_its_option_in_journeys_table() {
        for option in OPTIONS.into_iter().skip(1) {
            assert_eq!(option_drug(option).and_then(option_of), Some(option), "{option}");
        }
        assert_eq!(option_drug(TreatmentOption::Continue), None);
        // The csDMARD a combination falls back to is still that option.
        let on_ssz = |d: Drug| d == Drug::Sulfasalazine;
        assert_eq!(option_drug_for(TreatmentOption::CsdmardCombination, on_ssz), Some(Drug::Hydroxychloroquine));
        let on_both = |d: Drug| matches!(d, Drug::Sulfasalazine | Drug::Hydroxychloroquine);
        assert_eq!(option_drug_for(TreatmentOption::CsdmardCombination, on_both), Some(Drug::Leflunomide));
        for d in [Drug::Hydroxychloroquine, Drug::Leflunomide] {
            assert_eq!(option_of(d), Some(TreatmentOption::CsdmardCombination));
        }
        assert_eq!(option_of(Drug::Etanercept), Some(TreatmentOption::TnfInhibitor));
        assert_eq!(option_of(Drug::Prednisone), None);
    }

    #[test]
    fn the_observed_option_is_written_as_its_key_or_other() {
        let o = ObservedOption::Option(TreatmentOption::JakInhibitor);
        assert_eq!(serde_json::to_string(&o).unwrap(), "\"jak_inhibitor\"");
        assert_eq!(serde_json::to_string(&ObservedOption::Other).unwrap(), "\"other\"");
        for o in OPTIONS.map(ObservedOption::Option).into_iter().chain([ObservedOption::Other]) {
            assert_eq!(serde_json::from_str::<ObservedOption>(&serde_json::to_string(&o).unwrap()).unwrap(), o);
        }
        assert!(serde_json::from_str::<ObservedOption>("\"tnfi\"").is_err());
        let visit = |started: Vec<Drug>| DecisionVisit { when: When::new(90, 600), mtx_class: ResponseClass::Good, unchanged: started.is_empty(), started };
        assert_eq!(visit(vec![]).observed(), ObservedOption::Option(TreatmentOption::Continue));
        assert_eq!(visit(vec![Drug::Etanercept]).observed(), ObservedOption::Option(TreatmentOption::TnfInhibitor));
        assert_eq!(visit(vec![Drug::Leflunomide]).observed(), ObservedOption::Option(TreatmentOption::CsdmardCombination));
        assert_eq!(visit(vec![Drug::Adalimumab, Drug::Tocilizumab]).observed(), ObservedOption::Other);
        assert_eq!(visit(vec![Drug::Azathioprine]).observed(), ObservedOption::Other);
    }

    #[test]
    fn counterfactual_outcomes_follow_the_subtypes() {
        let params = Params { patients: 1_000, seed: 3, ..Params::default() };
        let truths: Vec<CounterfactualTruth> =
            (0..params.patients).into_par_iter().filter_map(|i| counterfactual_truth(&params, i)).collect();
        let ra = (0..params.patients).filter(|i| crate::simulate_patient(&params, *i).truth.disease == Disease::RheumatoidArthritis).count();
        eprintln!("{} of {ra} RA patients have a decision visit", truths.len());
        assert!(truths.len() * 10 >= ra * 7, "{} of {ra} RA patients have a decision visit", truths.len());

        let rate = |subtype: Subtype, option: TreatmentOption| {
            let known: Vec<bool> = truths
                .iter()
                .filter(|t| t.subtype == subtype)
                .filter_map(|t| t.outcomes(option).unwrap().response_6m.map(EularResponse::responded))
                .collect();
            (known.iter().filter(|r| **r).count() as f64 / known.len().max(1) as f64, known.len())
        };
        for subtype in [Subtype::RaMtxResponder, Subtype::RaRefractory, Subtype::RaSeronegativeMild] {
            for option in OPTIONS {
                let (r, n) = rate(subtype, option);
                eprintln!("{:<22} {:<20} responded {:5.1}% of {n}", subtype.as_str(), option.key(), r * 100.0);
            }
        }
        let (refractory_continue, n_refractory) = rate(Subtype::RaRefractory, TreatmentOption::Continue);
        let (responder_continue, n_responder) = rate(Subtype::RaMtxResponder, TreatmentOption::Continue);
        let (refractory_tnfi, _) = rate(Subtype::RaRefractory, TreatmentOption::TnfInhibitor);
        assert!(n_refractory >= 150 && n_responder >= 200, "{n_refractory} refractory, {n_responder} responders");
        assert!(refractory_continue < 0.5 * responder_continue, "continue: refractory {refractory_continue:.2}, responders {responder_continue:.2}");
        assert!(refractory_tnfi > refractory_continue + 0.2, "refractory: TNF inhibitor {refractory_tnfi:.2}, continue {refractory_continue:.2}");

        // The response probabilities are the profiles' (good + moderate), and the
        // methotrexate classes drawn for `continue` follow the profile too.
        for t in &truths {
            let profile = RaProfile::of(t.subtype).unwrap();
            for (option, o) in &t.options {
                match option_drug(*option) {
                    Some(drug) => {
                        let e = crate::ra::efficacy(&profile, drug);
                        assert_eq!(o.response_probability, e.good + e.moderate, "{} {option:?}", t.patient_id);
                    }
                    None => assert!(o.response_probability == 0.0 || o.response_probability == 1.0),
                }
            }
        }
        for subtype in [Subtype::RaMtxResponder, Subtype::RaRefractory] {
            let of: Vec<f64> = truths
                .iter()
                .filter(|t| t.subtype == subtype)
                .map(|t| t.outcomes(TreatmentOption::Continue).unwrap().response_probability)
                .collect();
            let share = of.iter().sum::<f64>() / of.len() as f64;
            let e = RaProfile::of(subtype).unwrap().mtx;
            eprintln!("{}: methotrexate good or moderate class {share:.3} (profile {:.2})", subtype.as_str(), e.good + e.moderate);
            assert!((share - (e.good + e.moderate)).abs() < 0.06, "{}: {share:.3}", subtype.as_str());
        }
    }
}
