//! Events for the definitions' unit tests.

use chrono::{TimeZone, Utc};

use crate::event::{Code, Event, Modality, PatientId, Phase, Quantity, Source};

/// A point event of `system|code` with an optional value and unit, on 2020-01-01.
pub fn event(system: &str, code: &str, value: Option<f64>, unit: Option<&str>) -> Event {
    Event {
        patient: PatientId::new("p1").expect("a non-empty id"),
        time: Utc.with_ymd_and_hms(2020, 1, 1, 0, 0, 0).unwrap(),
        code: Code { system: system.into(), code: code.into(), display: None },
        value: value.map(|value| Quantity { value, unit: unit.map(str::to_owned) }),
        text: None,
        modality: Modality::Lab,
        phase: Phase::Point,
        source: Source {
            name: Default::default(),
            file: "test".into(),
            resource_type: "Observation".into(),
            resource_id: code.into(),
            part: String::new(),
        },
        concept: None,
    }
}
