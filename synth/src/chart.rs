//! The chart: what the virtual clinic recorded about one patient, before it is
//! written as FHIR. Stage names: latent course -> chart -> FHIR resources.
//!
//! Times are days after the first rheumatology visit (day 0) plus a clock time, so
//! the simulation counts days and only the writer turns them into calendar dates.

use chrono::{Datelike, Days, NaiveDate, Weekday};

use crate::codes::{Icd10, Measure};
use crate::medications::{Drug, StopReason};

/// A moment in the chart: days after the first visit, and minutes after midnight (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct When {
    pub day: i32,
    pub minute: u16,
}

impl When {
    pub fn new(day: i32, minute: u16) -> Self {
        When { day, minute }
    }
}

/// Sex as FHIR's administrative gender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Female,
    Male,
}

impl Sex {
    pub fn fhir(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Demographics {
    pub sex: Sex,
    pub birth_date: NaiveDate,
    pub given: &'static str,
    pub family: &'static str,
}

/// A visit to the rheumatology clinic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitKind {
    NewPatient,
    FollowUp,
    /// Booked at short notice because of a flare.
    Unscheduled,
}

#[derive(Debug, Clone)]
pub struct Visit {
    pub when: When,
    pub kind: VisitKind,
}

/// One recorded value.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub when: When,
    /// Index into [`Chart::visits`]; `None` for results that arrived outside a visit.
    pub visit: Option<usize>,
    pub measure: Measure,
    pub value: f64,
}

/// One course of a drug.
#[derive(Debug, Clone)]
pub struct MedicationCourse {
    pub drug: Drug,
    pub start: When,
    pub end: Option<When>,
    pub stop_reason: Option<StopReason>,
    pub dose: String,
}

/// A diagnosis as coded.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    pub code: Icd10,
    /// Onset as the clinic wrote it (may precede day 0: symptoms began earlier).
    pub onset_day: i32,
    /// When it was entered into the record.
    pub recorded: When,
}

/// A free-text progress note.
#[derive(Debug, Clone)]
pub struct Note {
    pub when: When,
    pub visit: usize,
    pub author: &'static str,
    pub text: String,
}

/// The whole record of one patient.
#[derive(Debug, Clone)]
pub struct Chart {
    pub patient_id: String,
    pub demographics: Demographics,
    /// The calendar date of day 0.
    pub first_visit: NaiveDate,
    pub diagnoses: Vec<Diagnosis>,
    pub visits: Vec<Visit>,
    pub measurements: Vec<Measurement>,
    pub medications: Vec<MedicationCourse>,
    pub notes: Vec<Note>,
}

impl Chart {
    pub fn new(patient_id: String, demographics: Demographics, first_visit: NaiveDate) -> Self {
        Chart {
            patient_id,
            demographics,
            first_visit,
            diagnoses: Vec::new(),
            visits: Vec::new(),
            measurements: Vec::new(),
            medications: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// The calendar date of a chart day.
    pub fn date(&self, day: i32) -> NaiveDate {
        if day >= 0 {
            self.first_visit + Days::new(day as u64)
        } else {
            self.first_visit - Days::new(day.unsigned_abs() as u64)
        }
    }

    /// `day`, or the Monday after it when it falls on a weekend: the clinic is shut.
    pub fn clinic_day(&self, day: i32) -> i32 {
        match self.date(day).weekday() {
            Weekday::Sat => day + 2,
            Weekday::Sun => day + 1,
            _ => day,
        }
    }

    pub fn add_visit(&mut self, when: When, kind: VisitKind) -> usize {
        self.visits.push(Visit { when, kind });
        self.visits.len() - 1
    }

    /// Records a value at a visit, rounded as the measurement is reported.
    pub fn measure(&mut self, visit: usize, measure: Measure, value: f64) -> f64 {
        let when = self.visits[visit].when;
        self.measure_at(when, Some(visit), measure, value)
    }

    pub fn measure_at(&mut self, when: When, visit: Option<usize>, measure: Measure, value: f64) -> f64 {
        let value = measure.round(value);
        self.measurements.push(Measurement { when, visit, measure, value });
        value
    }

    pub fn diagnose(&mut self, code: Icd10, onset_day: i32, recorded: When) {
        if self.diagnoses.iter().any(|d| d.code == code) {
            return;
        }
        self.diagnoses.push(Diagnosis { code, onset_day, recorded });
    }

    /// Starts a course; returns its index for [`Chart::stop`].
    pub fn start(&mut self, drug: Drug, start: When, dose: String) -> usize {
        self.medications.push(MedicationCourse { drug, start, end: None, stop_reason: None, dose });
        self.medications.len() - 1
    }

    pub fn stop(&mut self, course: usize, end: When, reason: StopReason) {
        let c = &mut self.medications[course];
        debug_assert!(c.end.is_none(), "a course is stopped once");
        c.end = Some(end);
        c.stop_reason = Some(reason);
    }

    /// Courses planned to end after `last_day` (a steroid taper that runs past the
    /// export) are still running as far as the record knows.
    pub fn reopen_courses_ending_after(&mut self, last_day: i32) {
        for c in &mut self.medications {
            if c.end.is_some_and(|e| e.day > last_day) {
                c.end = None;
                c.stop_reason = None;
            }
        }
    }

    /// Whether `drug` is being taken at the end of `day`.
    pub fn on(&self, drug: Drug, day: i32) -> bool {
        self.active_course(drug, day).is_some()
    }

    pub fn active_course(&self, drug: Drug, day: i32) -> Option<usize> {
        self.medications
            .iter()
            .rposition(|c| c.drug == drug && c.start.day <= day && c.end.is_none_or(|e| e.day > day))
    }

    /// Whether `drug` was ever started.
    pub fn tried(&self, drug: Drug) -> bool {
        self.medications.iter().any(|c| c.drug == drug)
    }

    /// The drugs being taken at the end of `day`, in start order.
    pub fn active_drugs(&self, day: i32) -> Vec<Drug> {
        let mut drugs: Vec<Drug> = self
            .medications
            .iter()
            .filter(|c| c.start.day <= day && c.end.is_none_or(|e| e.day > day))
            .map(|c| c.drug)
            .collect();
        drugs.dedup();
        drugs
    }

    /// Recorded values of one measure, in time order.
    pub fn series(&self, measure: Measure) -> impl Iterator<Item = &Measurement> {
        self.measurements.iter().filter(move |m| m.measure == measure)
    }
}
