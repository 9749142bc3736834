//! One patient's record, read once for the many index dates the cohort looks at it
//! from: DAS28 readings, medication courses, CRP/ESR, birth, sex, first diagnosis.
//! Each datum is read by its one function in `journey::clinical` (CRP in mg/L and ESR
//! in mm/h by `labs::lab_values`, DAS28 with its parts), as the tools read them.

use chrono::{DateTime, NaiveDate, Utc};

use journey::clinical::labs::{lab_values, LabValue};
use journey::clinical::{activity_series, courses, das28_readings, ActivityPoint, Course, Das28Reading, LabTest, Sex};
use journey::event::{Event, Modality};

/// The importer's birth event (MEDS convention) and the FHIR gender system.
const MEDS_BIRTH: &str = "MEDS_BIRTH";
const GENDER_SYSTEM: &str = "http://hl7.org/fhir/administrative-gender";

/// What the cohort reads of a journey.
#[derive(Debug, Clone)]
pub struct ClinicalRecord {
    pub das28: Vec<Das28Reading>,
    /// The activity series on the record's own scale (DAS28, else CDAI, else SDAI):
    /// what response and flare are read on.
    pub activity: Vec<ActivityPoint>,
    pub courses: Vec<Course>,
    /// CRP in mg/L, in time order.
    pub crp: Vec<LabValue>,
    /// ESR in mm/h, in time order.
    pub esr: Vec<LabValue>,
    pub birth: Option<NaiveDate>,
    /// 1.0 female, 0.0 male, `None` otherwise or unknown.
    pub female: Option<f64>,
    pub first_diagnosis: Option<DateTime<Utc>>,
    /// The date of the last event: where the record's follow-up ends.
    pub last_date: Option<NaiveDate>,
}

impl ClinicalRecord {
    /// Reads a journey's events (any order).
    pub fn read(events: &[Event]) -> Self {
        let das28 = das28_readings(events);
        let demographic = events.iter().filter(|e| e.modality == Modality::Demographic);
        let birth = demographic.clone().find(|e| e.code.code == MEDS_BIRTH).map(|e| e.time.date_naive());
        let female = demographic
            .clone()
            .find(|e| e.code.system == GENDER_SYSTEM)
            .and_then(|e| Sex::from_gender(Some(e.code.code.as_str())))
            .map(|sex| if sex == Sex::Female { 1.0 } else { 0.0 });
        ClinicalRecord {
            das28,
            activity: activity_series(events),
            courses: courses(events),
            crp: lab_values(events, LabTest::Crp).0,
            esr: lab_values(events, LabTest::Esr).0,
            birth,
            female,
            first_diagnosis: events.iter().filter(|e| e.modality == Modality::Diagnosis).map(|e| e.time).min(),
            last_date: events.iter().map(|e| e.time).max().map(|t| t.date_naive()),
        }
    }

    /// The latest CRP (mg/L) recorded at or before `at`.
    pub fn crp_at(&self, at: DateTime<Utc>) -> Option<f64> {
        latest(&self.crp, at)
    }

    /// The latest ESR (mm/h) recorded at or before `at`.
    pub fn esr_at(&self, at: DateTime<Utc>) -> Option<f64> {
        latest(&self.esr, at)
    }

    /// How many distinct DMARDs were started at or before `at`.
    pub fn dmards_tried(&self, at: DateTime<Utc>) -> usize {
        let mut tried: Vec<&str> =
            self.courses.iter().filter(|c| c.is_dmard() && c.start <= at).filter_map(|c| c.drug.map(|d| d.name)).collect();
        tried.sort_unstable();
        tried.dedup();
        tried.len()
    }

    /// When the methotrexate course running at `at` started (the earliest, when
    /// several overlap); `None` off methotrexate.
    pub fn methotrexate_since(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.courses
            .iter()
            .filter(|c| c.start <= at && c.ongoing_on(at.date_naive()) && c.drug.is_some_and(|d| d.is_methotrexate()))
            .map(|c| c.start)
            .min()
    }

    /// Whether the patient was in care by `date`: an activity score or a DMARD course on or
    /// before it. Snapshots before that (a journey's first events are its birth and
    /// demographics) have no clinical state to compare.
    pub fn in_care_by(&self, date: NaiveDate) -> bool {
        self.activity.first().is_some_and(|p| p.date <= date)
            || self.courses.iter().any(|c| c.is_dmard() && c.start.date_naive() <= date)
    }
}

/// The last value of a time-ordered series at or before `at`.
fn latest(series: &[LabValue], at: DateTime<Utc>) -> Option<f64> {
    series.iter().rev().find(|v| v.time <= at).map(|v| v.value)
}
