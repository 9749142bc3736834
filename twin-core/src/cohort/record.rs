//! One patient's record, read once for the many index dates the cohort looks at it
//! from: DAS28 readings, medication courses, CRP/ESR, birth, sex, first diagnosis.

use chrono::{DateTime, NaiveDate, Utc};

use journey::clinical::{courses, das28_readings, Course, Das28Point, Das28Reading};
use journey::event::{Event, Modality};

/// LOINC, and the codes of the two inflammation markers the snapshot reads.
pub const LOINC: &str = "http://loinc.org";
pub const LOINC_CRP: &str = "1988-5";
pub const LOINC_ESR: &str = "4537-7";
/// The importer's birth event (MEDS convention) and the FHIR gender system.
const MEDS_BIRTH: &str = "MEDS_BIRTH";
const GENDER_SYSTEM: &str = "http://hl7.org/fhir/administrative-gender";

/// A time-stamped numeric value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timed {
    pub time: DateTime<Utc>,
    pub value: f64,
}

/// What the cohort reads of a journey.
#[derive(Debug, Clone)]
pub struct ClinicalRecord {
    pub das28: Vec<Das28Reading>,
    pub das28_points: Vec<Das28Point>,
    pub courses: Vec<Course>,
    pub crp: Vec<Timed>,
    pub esr: Vec<Timed>,
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
        let das28_points = das28.iter().map(Das28Reading::point).collect();
        let lab = |code: &str| {
            let mut values: Vec<Timed> = events
                .iter()
                .filter(|e| e.code.system == LOINC && e.code.code == code)
                .filter_map(|e| {
                    e.value.as_ref().filter(|q| q.value.is_finite()).map(|q| Timed { time: e.time, value: q.value })
                })
                .collect();
            values.sort_by_key(|v| v.time);
            values
        };
        let demographic = events.iter().filter(|e| e.modality == Modality::Demographic);
        let birth = demographic.clone().find(|e| e.code.code == MEDS_BIRTH).map(|e| e.time.date_naive());
        let female =
            demographic.clone().find(|e| e.code.system == GENDER_SYSTEM).and_then(|e| match e.code.code.as_str() {
                "female" => Some(1.0),
                "male" => Some(0.0),
                _ => None,
            });
        ClinicalRecord {
            das28,
            das28_points,
            courses: courses(events),
            crp: lab(LOINC_CRP),
            esr: lab(LOINC_ESR),
            birth,
            female,
            first_diagnosis: events.iter().filter(|e| e.modality == Modality::Diagnosis).map(|e| e.time).min(),
            last_date: events.iter().map(|e| e.time).max().map(|t| t.date_naive()),
        }
    }

    /// Whether the patient was in care by `date`: a DAS28 or a DMARD course on or
    /// before it. Snapshots before that (a journey's first events are its birth and
    /// demographics) have no clinical state to compare.
    pub fn in_care_by(&self, date: NaiveDate) -> bool {
        self.das28_points.first().is_some_and(|p| p.date <= date)
            || self.courses.iter().any(|c| c.is_dmard() && c.start.date_naive() <= date)
    }
}
