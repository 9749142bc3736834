//! Journeys built by hand for the cohort's unit tests.

use chrono::{DateTime, Duration, TimeZone, Utc};

use journey::clinical::drugs::RXNORM;
use journey::clinical::record::RDT_CODE;
use journey::event::{Code, Event, Modality, PatientId, Phase, Quantity, Source};

/// The time of day `day` of a hand-built journey (day 0 is 2020-01-01, midnight UTC).
pub fn at_day(day: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap() + Duration::days(day)
}

/// Day 0 is 2020-01-01.
fn event(day: i64, code: Code, value: Option<f64>, modality: Modality, phase: Phase, resource: String) -> Event {
    Event {
        patient: PatientId::new("p").expect("non-empty"),
        time: at_day(day),
        code,
        value: value.map(|value| Quantity { value, unit: None }),
        text: None,
        modality,
        phase,
        source: Source { resource_type: "T".into(), resource_id: resource, ..Default::default() },
        concept: None,
    }
}

/// A DAS28-ESR on `day`.
pub fn das28(day: i64, score: f64) -> Vec<Event> {
    let code = Code { system: RDT_CODE.into(), code: "das28-esr".into(), display: None };
    vec![event(day, code, Some(score), Modality::DiseaseActivity, Phase::Point, format!("das28-{day}"))]
}

/// A CDAI (LOINC 75847-4, a hospital's standard code) on `day`.
pub fn cdai(day: i64, score: f64) -> Vec<Event> {
    let code = Code { system: "http://loinc.org".into(), code: "75847-4".into(), display: None };
    vec![event(day, code, Some(score), Modality::Observation, Phase::Point, format!("cdai-{day}"))]
}

/// A laboratory result on `day` coded the way hospitals code it: a LOINC code and a
/// UCUM unit.
pub fn lab(day: i64, loinc: &str, value: f64, unit: &str) -> Vec<Event> {
    let code = Code { system: "http://loinc.org".into(), code: loinc.into(), display: None };
    let mut e = event(day, code, Some(value), Modality::Observation, Phase::Point, format!("{loinc}-{day}"));
    e.value = Some(Quantity { value, unit: Some(unit.into()) });
    vec![e]
}

/// A course of an RxNorm drug from `start` to `stop`.
pub fn drug(start: i64, stop: Option<i64>, rxnorm: &str) -> Vec<Event> {
    let code = Code { system: RXNORM.into(), code: rxnorm.into(), display: None };
    let id = format!("{rxnorm}-{start}");
    let mut out = vec![event(start, code.clone(), None, Modality::Medication, Phase::Start, id.clone())];
    if let Some(stop) = stop {
        out.push(event(stop, code, None, Modality::Medication, Phase::Stop, id));
    }
    out
}

/// Events in time order.
pub struct Journey {
    pub events: Vec<Event>,
}

impl Journey {
    pub fn new(parts: Vec<Vec<Event>>) -> Self {
        let mut events: Vec<Event> = parts.into_iter().flatten().collect();
        events.sort_by_key(|e| e.time);
        Journey { events }
    }
}
