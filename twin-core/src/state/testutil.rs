//! Hand-built events for the state model's tests.

use chrono::{DateTime, Duration, TimeZone, Utc};

use journey::clinical::drugs::RXNORM;
use journey::clinical::record::RDT_CODE;
use journey::event::{Code, Event, Modality, PatientId, Phase, Quantity, Source};

/// Day `n` after 2020-01-01 (negative: before it).
pub fn day(n: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 1, 1, 10, 0, 0).unwrap() + Duration::days(n)
}

/// A DAS28-ESR reading on day `n`.
pub fn das28(n: i64, score: f64) -> Event {
    Event {
        patient: PatientId::new("p1").unwrap(),
        time: day(n),
        code: Code { system: RDT_CODE.into(), code: "das28-esr".into(), display: None },
        value: Some(Quantity { value: score, unit: Some("{score}".into()) }),
        text: None,
        modality: Modality::DiseaseActivity,
        phase: Phase::Point,
        source: Source {
            name: Default::default(),
            file: "t".into(),
            resource_type: "Observation".into(),
            resource_id: format!("o{n}"),
            part: "".into(),
        },
        concept: None,
    }
}

/// A medication start or stop of the course `resource` (RxNorm `rxnorm`).
pub fn med(resource: &str, rxnorm: &str, time: DateTime<Utc>, phase: Phase) -> Event {
    Event {
        patient: PatientId::new("p1").unwrap(),
        time,
        code: Code { system: RXNORM.into(), code: rxnorm.into(), display: None },
        value: None,
        text: None,
        modality: Modality::Medication,
        phase,
        source: Source {
            name: Default::default(),
            file: "t".into(),
            resource_type: "MedicationStatement".into(),
            resource_id: resource.into(),
            part: phase.as_str().into(),
        },
        concept: None,
    }
}
