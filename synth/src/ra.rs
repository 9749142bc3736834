//! Rheumatoid arthritis in the virtual clinic: the latent course, the visits, and the
//! treat-to-target decisions a rheumatologist makes at each visit.
//!
//! The clinic acts only on what it measures (recorded DAS28, ALT), never on the
//! hidden subtype, so treatment switches arise from the course the way they do in a
//! real clinic: methotrexate first; at 3 months without a 0.6 improvement, or at
//! 6 months not at target, escalate (to a TNF inhibitor, then to another mode of
//! action); flares get a steroid burst; an ALT above 3x the upper limit stops
//! methotrexate. About 15% of due escalations are deferred, as in practice.
//!
//! The 3-month review of methotrexate is the *decision visit* of
//! [`crate::counterfactual`]: a counterfactual run replaces the clinic's decision there
//! by a treatment option, and every run forks the course's random stream there.

use rand::{Rng, SeedableRng};

use crate::chart::{Chart, VisitKind, When};
use crate::codes::{icd10, Measure};
use crate::counterfactual::{option_drug_for, DecisionVisit, TreatmentOption, DECISION_AFTER_DAYS};
use crate::course::LatentCourse;
use crate::das28::{draw_parts, Das28Variant};
use crate::imaging::Imaging;
use crate::labs::{self, InflammationProfile, ALT_CRITICAL, CCP_CUTOFF, RF_CUTOFF};
use crate::medications::{Change, Drug, DrugClass, StopReason};
use crate::notes::{self, ExtraArticular, NoteFacts};
use crate::omics;
use crate::outcomes::{is_flare, HIGH, MAJOR_IMPROVEMENT, MINOR_IMPROVEMENT, TARGET};
use crate::patient::{DiseaseRun, Setup};
use crate::sample::{chance, days, exponential_days, lognormal, normal, normal_in, uniform, weighted, PatientRng};
use crate::subtype::{Efficacy, RaProfile, ResponseClass, Subtype};

/// The regimen in force: what the next assessment is measured against.
#[derive(Debug, Clone, Copy)]
struct Regimen {
    start_day: i32,
    das_at_start: f64,
    class: ResponseClass,
}

struct Clinic<'a> {
    setup: &'a Setup<'a>,
    profile: RaProfile,
    chart: &'a mut Chart,
    rng: &'a mut PatientRng,
    text: &'a mut PatientRng,
    course: LatentCourse,
    variant: Das28Variant,
    inflammation: InflammationProfile,
    swollen_ratio: f64,
    alt_baseline: f64,
    rf_positive: bool,
    ccp_positive: bool,
    /// Extra log-CRP of smouldering disease.
    climb: f64,
    regimen: Regimen,
    /// Consecutive recorded DAS28 above target.
    above_target: u32,
    /// The running steroid course and the day it ends.
    steroid_until: Option<i32>,
    /// Day from which methotrexate injures this patient's liver, if it will.
    hepatotoxic_from: Option<i32>,
    hepatotoxicity_day: Option<i32>,
    /// Day the regimen loses its effect (secondary failure), if it will.
    loses_effect_on: Option<i32>,
    previous_das: Option<f64>,
    previous_crp: Option<f64>,
    extra_articular: Vec<(ExtraArticular, i32)>,
    imaging: Option<Imaging>,
    ifn_high: bool,
    omics_due: Vec<i32>,
    /// The decision visit, once reached.
    decision: Option<DecisionVisit>,
}

/// Simulates one rheumatoid arthritis patient from the first visit to the end of follow-up.
pub(crate) fn simulate(setup: &Setup, chart: &mut Chart, rng: &mut PatientRng, text: &mut PatientRng) -> DiseaseRun {
    // Only RA subtypes reach this module.
    let profile = RaProfile::of(setup.subtype).expect("an RA subtype");
    let sex = chart.demographics.sex;
    let baseline = normal_in(rng, profile.baseline_das28.0, profile.baseline_das28.1, 3.0, 8.2);
    let variant = if chance(rng, setup.params.shares.das28_crp) { Das28Variant::Crp } else { Das28Variant::Esr };
    let inflammation = InflammationProfile::draw(rng, sex, setup.age0);
    let rf_positive = chance(rng, profile.rf_positive);
    let ccp_positive = chance(rng, profile.ccp_positive);
    let extra_articular = draw_extra_articular(rng, &profile, setup.subtype);
    let imaging = setup.imaging.then(|| Imaging::draw(rng, ccp_positive || rf_positive));
    let ifn_high = chance(rng, profile.ifn_high);
    let omics_due = if setup.omics { omics_schedule(rng) } else { Vec::new() };
    let mut clinic = Clinic {
        setup,
        profile,
        course: LatentCourse::new(baseline, 0.22, 30.0, 0.8, 8.6),
        variant,
        inflammation,
        swollen_ratio: uniform(rng, 0.45, 0.95),
        alt_baseline: lognormal(rng, 21.0, 0.25),
        rf_positive,
        ccp_positive,
        climb: 0.0,
        regimen: Regimen { start_day: 0, das_at_start: baseline, class: ResponseClass::None },
        above_target: 0,
        steroid_until: None,
        hepatotoxic_from: None,
        hepatotoxicity_day: None,
        loses_effect_on: None,
        previous_das: None,
        previous_crp: None,
        extra_articular,
        imaging,
        ifn_high,
        omics_due,
        decision: None,
        chart,
        rng,
        text,
    };
    clinic.code_diagnosis();
    clinic.run()
}

impl Clinic<'_> {
    fn run(mut self) -> DiseaseRun {
        let horizon = self.setup.horizon;
        let mut latent = Vec::with_capacity(horizon as usize + 1);
        let mut flare_onsets = Vec::new();
        let mut next_visit = 0;
        let mut kind = VisitKind::NewPatient;
        let mut next_flare = exponential_days(self.rng, self.profile.flares_per_year);
        for day in 0..=horizon {
            if day > 0 {
                self.course.step(self.rng, day);
                self.smoulder();
            }
            if day == next_flare {
                let amplitude = normal_in(self.rng, 1.7, 0.45, 0.8, 3.0);
                let decay = uniform(self.rng, 14.0, 35.0);
                self.course.add_flare(day, amplitude, decay);
                flare_onsets.push(day);
                next_flare = day.saturating_add(exponential_days(self.rng, self.profile.flares_per_year));
                // Most patients call in; some wait for their booked visit.
                if chance(self.rng, 0.6) {
                    let call = self.chart.clinic_day(day + days(self.rng, 2, 12));
                    if call + 10 < next_visit && call <= horizon {
                        next_visit = call;
                        kind = VisitKind::Unscheduled;
                    }
                }
            }
            if self.steroid_until == Some(day) {
                self.course.set_steroid(0.0);
                self.steroid_until = None;
            }
            if self.loses_effect_on == Some(day) {
                let worse = self.course.level() + normal_in(self.rng, 1.5, 0.4, 0.8, 2.5);
                self.course.set_target(worse, 60.0);
                self.regimen.class = ResponseClass::None;
                self.loses_effect_on = None;
            }
            let value = self.course.value(day);
            if day == next_visit {
                let gap = self.visit(day, kind, value);
                next_visit = self.chart.clinic_day(day + gap);
                kind = VisitKind::FollowUp;
            }
            if let Some(imaging) = self.imaging.as_mut() {
                imaging.progress(value);
            }
            latent.push(value as f32);
        }
        DiseaseRun {
            latent,
            flare_onsets,
            das28_variant: Some(self.variant),
            hepatotoxicity_day: self.hepatotoxicity_day,
            extra_articular: self.extra_articular.iter().map(|(f, _)| *f).collect(),
            ifn_high: self.setup.omics.then_some(self.ifn_high),
            decision: self.decision,
        }
    }

    /// CRP climbs while a regimen fails and settles once one works.
    fn smoulder(&mut self) {
        if self.regimen.class == ResponseClass::None {
            self.climb = (self.climb + self.profile.crp_climb_per_year / 365.0).min(2.0);
        } else {
            self.climb *= 1.0 - 1.0 / 60.0;
        }
    }

    fn code_diagnosis(&mut self) {
        let seropositive = self.rf_positive || self.ccp_positive;
        let code = if self.rf_positive {
            [icd10::RA_RF_MULTIPLE_SITES, icd10::RA_RF_UNSPECIFIED, icd10::RA_UNSPECIFIED][weighted(self.rng, &[0.5, 0.2, 0.3])]
        } else if seropositive {
            // Anti-CCP positive, RF negative: coded as RA without RF or unspecified.
            [icd10::RA_WITHOUT_RF_MULTIPLE_SITES, icd10::RA_UNSPECIFIED][weighted(self.rng, &[0.3, 0.7])]
        } else {
            [icd10::RA_WITHOUT_RF_MULTIPLE_SITES, icd10::RA_UNSPECIFIED][weighted(self.rng, &[0.4, 0.6])]
        };
        let symptoms_before = days(self.rng, 45, 540);
        self.chart.diagnose(code, -symptoms_before, When::new(0, 0));
    }

    /// One visit: measure, decide, write the note. Returns days to the next visit.
    fn visit(&mut self, day: i32, kind: VisitKind, latent: f64) -> i32 {
        let when = When::new(day, clinic_minute(self.rng));
        let v = self.chart.add_visit(when, kind);
        let markers = labs::markers(self.rng, latent, &self.inflammation, self.climb);
        let assess = day == 0 || kind == VisitKind::Unscheduled || chance(self.rng, 0.93);
        let mut das = None;
        let mut parts = None;
        let (mut esr, mut crp) = (None, None);
        if assess {
            let p = draw_parts(self.rng, latent, self.variant, &markers, self.swollen_ratio);
            self.chart.measure(v, Measure::TenderJoints28, p.tjc28 as f64);
            self.chart.measure(v, Measure::SwollenJoints28, p.sjc28 as f64);
            self.chart.measure(v, Measure::PatientGlobal, p.patient_global as f64);
            let score = p.score();
            match self.variant {
                Das28Variant::Esr => {
                    esr = Some(self.chart.measure(v, Measure::Esr, p.marker));
                    self.chart.measure(v, Measure::Das28Esr, score);
                }
                Das28Variant::Crp => {
                    crp = Some(self.chart.measure(v, Measure::Crp, p.marker));
                    self.chart.measure(v, Measure::Das28Crp, score);
                }
            }
            das = Some(score);
            parts = Some(p);
        }
        // The other marker is often, not always, requested; without an assessment the
        // variant's marker may still be drawn.
        let (esr_p, crp_p) = match (self.variant, assess) {
            (Das28Variant::Esr, true) => (0.0, 0.55),
            (Das28Variant::Esr, false) => (0.8, 0.55),
            (Das28Variant::Crp, true) => (0.4, 0.0),
            (Das28Variant::Crp, false) => (0.4, 0.8),
        };
        if chance(self.rng, esr_p) {
            esr = Some(self.chart.measure(v, Measure::Esr, markers.esr));
        }
        if chance(self.rng, crp_p) {
            crp = Some(self.chart.measure(v, Measure::Crp, markers.crp));
        }
        if day == 0 {
            self.serology(v);
        }
        let on_mtx = self.chart.on(Drug::Methotrexate, day);
        let monitored = on_mtx || [Drug::Leflunomide, Drug::Tocilizumab, Drug::Tofacitinib, Drug::Sulfasalazine]
            .iter()
            .any(|d| self.chart.on(*d, day));
        let mut alt = None;
        let (mut hb, mut creatinine) = (None, None);
        if day == 0 || chance(self.rng, if monitored { 0.95 } else { 0.7 }) {
            hb = Some(self.chart.measure(v, Measure::Hemoglobin, labs::hemoglobin(self.rng, self.chart.demographics.sex, markers.crp)));
            let injured = on_mtx && self.hepatotoxic_from.is_some_and(|d| day >= d);
            alt = Some(self.chart.measure(v, Measure::Alt, labs::alt(self.rng, self.alt_baseline, on_mtx, injured)));
            let age = self.setup.age0 + day as f64 / 365.25;
            creatinine = Some(self.chart.measure(v, Measure::Creatinine, labs::creatinine(self.rng, self.chart.demographics.sex, age, 0.0)));
        }
        let mut imaging_facts = None;
        if let Some(imaging) = self.imaging.as_mut() {
            imaging_facts = imaging.visit(self.rng, self.chart, v, day, latent, kind);
        }
        if self.omics_due.first().is_some_and(|d| day >= *d) {
            self.omics_due.remove(0);
            omics::record_panel(self.rng, self.chart, v, self.ifn_high, (latent - 3.0) * 0.15);
        }

        let flare = match (self.previous_das, das) {
            (Some(before), Some(now)) => is_flare(before, now),
            _ => false,
        };
        let alt_high = on_mtx && alt.is_some_and(|a| a > ALT_CRITICAL);
        let changes = match das {
            Some(das) if self.is_decision_visit(day) => self.decision_visit(when, das, flare, alt_high, alt),
            _ => self.decide(when, das, flare, alt_high, alt),
        };
        let changed = changes.iter().any(|c| matches!(c, Change::Started(d) if d.is_dmard()));

        let mentioned: Vec<ExtraArticular> = self
            .extra_articular
            .iter()
            .filter(|(_, onset)| *onset <= day)
            .map(|(f, _)| *f)
            .collect();
        self.code_extra_articular(day, when);

        let gap = if changed {
            days(self.rng, 35, 70)
        } else if das.is_none_or(|d| d > TARGET) {
            days(self.rng, 56, 98)
        } else {
            days(self.rng, 84, 182)
        } + if chance(self.rng, 0.08) { days(self.rng, 14, 60) } else { 0 };

        if self.setup.notes {
            let facts = NoteFacts {
                disease: self.setup.subtype.disease(),
                kind,
                sex: self.chart.demographics.sex,
                age: (self.setup.age0 + day as f64 / 365.25) as u32,
                day,
                das28: parts.map(|p| (p, p.score())),
                esr,
                crp,
                previous_crp: self.previous_crp,
                hb,
                alt,
                creatinine,
                flaring: flare || self.course.flaring(day),
                stiffness_minutes: stiffness_minutes(self.text, latent),
                extra_articular: mentioned,
                medications: self.chart.active_drugs(day),
                changes,
                seropositive: self.rf_positive || self.ccp_positive,
                imaging: imaging_facts,
                lupus: None,
                ssc: None,
                next_visit_weeks: (gap as f64 / 7.0).round() as i32,
            };
            let (author, text) = notes::write(self.text, self.setup.author, &facts);
            self.chart.notes.push(crate::chart::Note { when, visit: v, author, text });
        }

        if das.is_some() {
            self.previous_das = das;
        }
        if crp.is_some() {
            self.previous_crp = crp;
        }
        gap
    }

    fn serology(&mut self, v: usize) {
        let rf = labs::titre(self.rng, self.rf_positive, RF_CUTOFF, 80.0, 600.0);
        self.chart.measure(v, Measure::RheumatoidFactor, rf);
        // A few clinics skip anti-CCP when RF is clearly positive.
        if !(self.rf_positive && chance(self.rng, 0.1)) {
            let ccp = labs::titre(self.rng, self.ccp_positive, CCP_CUTOFF, 160.0, 500.0);
            self.chart.measure(v, Measure::AntiCcp, ccp);
        }
    }

    /// Whether a visit with a recorded DAS28 on `day` is the decision visit: the first
    /// at or after the first methotrexate start + 84 days, while that course runs.
    fn is_decision_visit(&self, day: i32) -> bool {
        self.decision.is_none()
            && self.chart.medications.iter().find(|c| c.drug == Drug::Methotrexate).is_some_and(|c| {
                day >= c.start.day + DECISION_AFTER_DAYS && c.end.is_none_or(|e| e.day > day)
            })
    }

    /// The decision visit: the clinic decides, or a counterfactual's option replaces
    /// its decision. Either way the course's stream is forked around the decision, so
    /// the draws after it are the same whatever was decided and however many draws
    /// deciding took.
    fn decision_visit(&mut self, when: When, das: f64, flare: bool, alt_high: bool, alt: Option<f64>) -> Vec<Change> {
        let after: u64 = self.rng.random();
        let mtx_class = self.regimen.class;
        let changes = match self.setup.intervention {
            None => self.decide(when, Some(das), flare, alt_high, alt),
            Some(option) => self.intervene(when, das, option),
        };
        *self.rng = PatientRng::seed_from_u64(after);
        self.decision = Some(DecisionVisit {
            when,
            mtx_class,
            started: changes
                .iter()
                .filter_map(|c| match c {
                    Change::Started(d) if d.is_dmard() => Some(*d),
                    _ => None,
                })
                .collect(),
            unchanged: changes.is_empty(),
        });
        changes
    }

    /// A counterfactual's option in place of the clinic's decision: the option's drug
    /// starts beside what is running (methotrexate continues); `continue` changes
    /// nothing. The clinic still notes the reading, as it would have.
    fn intervene(&mut self, when: When, das: f64, option: TreatmentOption) -> Vec<Change> {
        self.note_reading(das);
        let mut changes = Vec::new();
        if let Some(drug) = option_drug_for(option, |d| self.chart.on(d, when.day)) {
            self.begin(drug, when, Some(das), &mut changes);
        }
        changes
    }

    /// What the clinic remembers of a DAS28 whatever it decides: how many visits in a
    /// row it has been above target.
    fn note_reading(&mut self, das: f64) {
        self.above_target = if das > TARGET { self.above_target + 1 } else { 0 };
    }

    /// The treat-to-target decisions at a visit.
    fn decide(&mut self, when: When, das: Option<f64>, flare: bool, alt_high: bool, alt: Option<f64>) -> Vec<Change> {
        let day = when.day;
        let mut changes = Vec::new();
        if day == 0 {
            self.start_first_line(when, das.unwrap_or(self.course.level()), &mut changes);
            return changes;
        }
        if alt_high {
            let what = format!(
                "ALT {:.0} U/L, more than 3x the upper limit of normal, on methotrexate",
                alt.unwrap_or(ALT_CRITICAL)
            );
            self.hepatotoxicity_day = Some(day);
            self.stop(Drug::Methotrexate, when, StopReason::AdverseEvent { what }, &mut changes);
            self.stop(Drug::FolicAcid, when, StopReason::NoLongerIndicated, &mut changes);
            if chance(self.rng, 0.5) {
                self.chart.diagnose(icd10::TRANSAMINASE_ELEVATION, day, when);
            }
            // Without methotrexate the disease returns towards where it was.
            let untreated = self.regimen.das_at_start.max(self.course.level() + 1.0);
            self.course.set_target(untreated, 60.0);
            let active = das.is_none_or(|d| d > TARGET);
            if active || self.chart.active_drugs(day).iter().any(|d| d.class() == DrugClass::Tnfi) {
                self.escalate(when, das, &mut changes);
            } else {
                let replacement = if !self.chart.tried(Drug::Leflunomide) && chance(self.rng, 0.4) {
                    Drug::Leflunomide
                } else {
                    Drug::Sulfasalazine
                };
                if !self.chart.on(replacement, day) {
                    self.begin(replacement, when, das, &mut changes);
                }
            }
            return changes;
        }
        let Some(das) = das else { return changes };
        let on_regimen = day - self.regimen.start_day;
        self.note_reading(das);
        let improvement = self.regimen.das_at_start - das;
        // Primary failure: no 0.6 improvement by 3 months, or not at target with a
        // EULAR-moderate-or-less improvement by 5 months.
        let primary = das > TARGET
            && (84..210).contains(&on_regimen)
            && (improvement < MINOR_IMPROVEMENT
                || (on_regimen >= 150 && (improvement <= MAJOR_IMPROVEMENT || das > HIGH)));
        // Secondary failure: above target at two visits in a row once established. A
        // flare on its own gets steroids first, not a new drug.
        let secondary = on_regimen >= 210 && self.above_target >= 2 && !flare;
        if flare && self.steroid_until.is_none() && chance(self.rng, 0.7) {
            self.steroid_burst(when, &mut changes);
        }
        if (primary || secondary) && chance(self.rng, 0.85) {
            self.escalate(when, Some(das), &mut changes);
        }
        changes
    }

    fn start_first_line(&mut self, when: When, das: f64, changes: &mut Vec<Change>) {
        if chance(self.rng, self.profile.starts_on_mtx) {
            self.begin(Drug::Methotrexate, when, Some(das), changes);
            let hcq = if self.rf_positive || self.ccp_positive { 0.15 } else { 0.4 };
            if chance(self.rng, hcq) {
                self.prescribe(Drug::Hydroxychloroquine, when, changes);
            }
        } else {
            let drug = if chance(self.rng, 0.65) { Drug::Hydroxychloroquine } else { Drug::Sulfasalazine };
            self.begin(drug, when, Some(das), changes);
        }
        if chance(self.rng, 0.35) {
            self.steroid_burst(when, changes);
        }
    }

    /// Moves one step up the treatment ladder.
    fn escalate(&mut self, when: When, das: Option<f64>, changes: &mut Vec<Change>) {
        let day = when.day;
        let mtx_stopped_for_toxicity = self.hepatotoxicity_day.is_some();
        if !self.chart.tried(Drug::Methotrexate) && !mtx_stopped_for_toxicity {
            // Seronegative patients started on HCQ or SSZ add methotrexate first.
            self.begin(Drug::Methotrexate, when, das, changes);
            return;
        }
        let active = self.chart.active_drugs(day);
        let tnfi_tried = self.chart.tried(Drug::Adalimumab) || self.chart.tried(Drug::Etanercept);
        if !tnfi_tried {
            for d in active.iter().filter(|d| matches!(d, Drug::Hydroxychloroquine | Drug::Sulfasalazine | Drug::Leflunomide)) {
                if chance(self.rng, 0.6) {
                    self.stop(*d, when, StopReason::Inefficacy, changes);
                }
            }
            if self.chart.on(Drug::Methotrexate, day) && chance(self.rng, 0.2) {
                self.stop(Drug::Methotrexate, when, StopReason::Inefficacy, changes);
                self.stop(Drug::FolicAcid, when, StopReason::NoLongerIndicated, changes);
            }
            // Never two advanced therapies at once. Only a counterfactual run gets here
            // on one (an option started before any TNF inhibitor); no draw is taken.
            for d in active.iter().filter(|d| d.class() == DrugClass::OtherTargeted) {
                self.stop(*d, when, StopReason::Inefficacy, changes);
            }
            let tnfi = if chance(self.rng, 0.55) { Drug::Adalimumab } else { Drug::Etanercept };
            self.begin(tnfi, when, das, changes);
            return;
        }
        let seropositive = self.rf_positive || self.ccp_positive;
        let mut options = vec![Drug::Tocilizumab, Drug::Tofacitinib, Drug::Abatacept, Drug::Adalimumab, Drug::Etanercept];
        if seropositive {
            options.insert(1, Drug::Rituximab);
        }
        options.retain(|d| !self.chart.tried(*d));
        if options.is_empty() {
            return;
        }
        // Prefer a new mode of action; a second TNF inhibitor comes last.
        let weights: Vec<f64> = options.iter().map(|d| if d.class() == DrugClass::Tnfi { 0.15 } else { 1.0 }).collect();
        let next = options[weighted(self.rng, &weights)];
        for d in active.iter().filter(|d| matches!(d.class(), DrugClass::Tnfi | DrugClass::OtherTargeted)) {
            self.stop(*d, when, StopReason::Inefficacy, changes);
        }
        self.begin(next, when, das, changes);
    }

    /// Starts a disease-modifying drug and the regimen it defines.
    fn begin(&mut self, drug: Drug, when: When, das: Option<f64>, changes: &mut Vec<Change>) {
        self.prescribe(drug, when, changes);
        if drug == Drug::Methotrexate {
            self.prescribe(Drug::FolicAcid, when, changes);
            if chance(self.rng, self.setup.params.mtx_hepatotoxicity) {
                self.hepatotoxic_from = Some(when.day + days(self.rng, 30, 330));
            }
        }
        let class = efficacy(&self.profile, drug).draw(self.rng);
        let level = self.course.level();
        let target = match class {
            ResponseClass::Good => normal_in(self.rng, 2.35, 0.35, 1.6, 3.0),
            ResponseClass::Moderate => level - normal(self.rng, 1.4, 0.3),
            ResponseClass::None => level - normal(self.rng, 0.25, 0.3),
        };
        self.course.set_target(target, drug.onset_days());
        self.regimen = Regimen { start_day: when.day, das_at_start: das.unwrap_or(level), class };
        self.above_target = 0;
        let losses_per_year = if self.setup.subtype == Subtype::RaRefractory { 0.25 } else { 0.06 };
        self.loses_effect_on = (class != ResponseClass::None)
            .then(|| when.day.saturating_add(120 + exponential_days(self.rng, losses_per_year)));
    }

    fn prescribe(&mut self, drug: Drug, when: When, changes: &mut Vec<Change>) {
        let dose = drug.dose_text(self.text);
        self.chart.start(drug, when, dose);
        changes.push(Change::Started(drug));
    }

    fn stop(&mut self, drug: Drug, when: When, reason: StopReason, changes: &mut Vec<Change>) {
        if let Some(course) = self.chart.active_course(drug, when.day) {
            self.chart.stop(course, when, reason.clone());
            changes.push(Change::Stopped(drug, reason));
        }
    }

    /// A prednisone course of 4-12 weeks: bridging at the start, or for a flare.
    fn steroid_burst(&mut self, when: When, changes: &mut Vec<Change>) {
        let length = days(self.rng, 28, 84);
        self.prescribe(Drug::Prednisone, when, changes);
        if let Some(course) = self.chart.active_course(Drug::Prednisone, when.day) {
            self.chart.stop(course, When::new(when.day + length, 0), StopReason::Completed);
        }
        self.course.set_steroid(-uniform(self.rng, 0.6, 1.2));
        self.steroid_until = Some(when.day + length);
    }

    /// Codes an extra-articular feature once it has been noticed, as some clinics do.
    fn code_extra_articular(&mut self, day: i32, when: When) {
        let due: Vec<ExtraArticular> =
            self.extra_articular.iter().filter(|(_, onset)| *onset <= day && *onset > day - 120).map(|(f, _)| *f).collect();
        for feature in due {
            let (code, p) = match feature {
                ExtraArticular::Nodules => (icd10::RHEUMATOID_NODULE, 0.3),
                ExtraArticular::Sicca => (icd10::SICCA, 0.3),
                ExtraArticular::LungDisease if self.rf_positive => (icd10::RHEUMATOID_LUNG, 0.6),
                ExtraArticular::LungDisease => (icd10::PULMONARY_FIBROSIS, 0.6),
                ExtraArticular::Vasculitis if self.rf_positive => (icd10::RHEUMATOID_VASCULITIS, 0.6),
                _ => continue,
            };
            if !self.chart.diagnoses.iter().any(|d| d.code == code) && chance(self.rng, p / 3.0) {
                self.chart.diagnose(code, day, when);
            }
        }
    }
}

/// The chances of each response class for `drug` in a subtype: methotrexate, another
/// csDMARD, a TNF inhibitor, or a later line (IL-6, JAK, CD20, abatacept).
pub(crate) fn efficacy(profile: &RaProfile, drug: Drug) -> Efficacy {
    match drug.class() {
        DrugClass::Tnfi => profile.tnfi,
        DrugClass::OtherTargeted => profile.later_line,
        _ if drug == Drug::Methotrexate => profile.mtx,
        _ => profile.other_csdmard,
    }
}

fn draw_extra_articular(rng: &mut PatientRng, profile: &RaProfile, subtype: Subtype) -> Vec<(ExtraArticular, i32)> {
    if !chance(rng, profile.extra_articular) {
        return Vec::new();
    }
    let all = ExtraArticular::ALL;
    let weights = [0.30, 0.22, 0.15, 0.10, 0.06, 0.17];
    let count = if chance(rng, 0.35) { 2 } else { 1 };
    let latest = if subtype == Subtype::RaRefractory { 300 } else { 720 };
    let mut features: Vec<(ExtraArticular, i32)> = Vec::new();
    for _ in 0..count {
        let f = all[weighted(rng, &weights)];
        if features.iter().all(|(g, _)| *g != f) {
            features.push((f, days(rng, 30, latest)));
        }
    }
    features
}

fn omics_schedule(rng: &mut PatientRng) -> Vec<i32> {
    if chance(rng, 0.5) {
        vec![0, days(rng, 300, 420)]
    } else {
        vec![0]
    }
}

/// A clinic appointment between 08:00 and 16:30, in 15-minute slots.
pub(crate) fn clinic_minute(rng: &mut PatientRng) -> u16 {
    480 + 15 * days(rng, 0, 34) as u16
}

/// Morning stiffness in minutes, as a patient reports it.
fn stiffness_minutes(rng: &mut PatientRng, latent: f64) -> u32 {
    let m = normal(rng, 30.0 * (latent - 2.4), 15.0).max(0.0);
    (((m / 5.0).round() * 5.0) as u32).min(240)
}
