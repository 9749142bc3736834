//! Test helpers: small hand-built journeys written into a temporary SQLite store.

use std::collections::BTreeSet;

use audit_log::{Principal, Role};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use journey::{Code, Database, Event, JourneyStore, Modality, PatientId, PatientRecord, Phase, Quantity, Source};

use crate::context::ToolContext;
use crate::reference::LOINC;
use crate::scope::Scope;

pub fn pid(s: &str) -> PatientId {
    PatientId::new(s).unwrap()
}

pub fn day(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 9, 0, 0).unwrap()
}

pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn clinician() -> Principal {
    Principal::new("dr-test", Role::Clinician)
}

pub fn scope(ids: &[&str]) -> Scope {
    Scope::Patients(ids.iter().map(|s| pid(s)).collect::<BTreeSet<_>>())
}

/// Builds one patient's events; each event gets its own FHIR resource id unless it
/// is a medication course (start and stop share one).
pub struct Chart {
    pub patient: PatientRecord,
    pub events: Vec<Event>,
    next: usize,
}

impl Chart {
    pub fn new(id: &str, sex: &str, birth: NaiveDate) -> Self {
        let patient = PatientRecord {
            id: pid(id),
            source: Default::default(),
            name: Some(format!("Test {id}")),
            birth_date: Some(birth),
            sex: Some(sex.to_owned()),
            deceased_at: None,
            source_file: None,
        };
        Chart { patient, events: Vec::new(), next: 0 }
    }

    fn source(&mut self, resource_type: &str, part: &str) -> Source {
        self.next += 1;
        Source {
            name: Default::default(),
            file: "test.ndjson".into(),
            resource_type: resource_type.into(),
            resource_id: format!("{}-{}", self.patient.id, self.next),
            part: part.into(),
        }
    }

    fn event(&mut self, time: DateTime<Utc>, code: Code, modality: Modality, rt: &str) -> &mut Event {
        let source = self.source(rt, "");
        self.events.push(Event {
            patient: self.patient.id.clone(),
            time,
            code,
            value: None,
            text: None,
            modality,
            phase: Phase::Point,
            source,
            concept: None,
        });
        self.events.last_mut().unwrap()
    }

    pub fn lab(mut self, time: DateTime<Utc>, loinc: &str, value: f64, unit: &str) -> Self {
        let code = Code { system: LOINC.into(), code: loinc.into(), display: None };
        let e = self.event(time, code, Modality::Lab, "Observation");
        e.value = Some(Quantity { value, unit: Some(unit.into()) });
        self
    }

    fn score(mut self, time: DateTime<Utc>, code: &str, value: f64) -> Self {
        // The VAS is in mm, as the concept table reads it; counts and scores have no unit.
        let unit = (code == "patient-global-vas").then(|| "mm".to_owned());
        let code = Code { system: crate::record::RDT_CODE.into(), code: code.into(), display: None };
        let e = self.event(time, code, Modality::DiseaseActivity, "Observation");
        e.value = Some(Quantity { value, unit });
        self
    }

    /// A DAS28-ESR assessment with its parts.
    pub fn das28(self, time: DateTime<Utc>, score: f64, tjc: f64, sjc: f64, global: f64) -> Self {
        self.score(time, "das28-esr", score).score(time, "tjc28", tjc).score(time, "sjc28", sjc).score(
            time,
            "patient-global-vas",
            global,
        )
    }

    pub fn course(
        mut self,
        rxnorm: &str,
        display: &str,
        start: DateTime<Utc>,
        stop: Option<(DateTime<Utc>, &str)>,
    ) -> Self {
        let code = Code { system: crate::drugs::RXNORM.into(), code: rxnorm.into(), display: Some(display.into()) };
        let source = self.source("MedicationStatement", "start");
        let patient = self.patient.id.clone();
        let base = Event {
            patient,
            time: start,
            code,
            value: None,
            text: Some("15 mg weekly".into()),
            modality: Modality::Medication,
            phase: Phase::Start,
            source,
            concept: None,
        };
        if let Some((time, reason)) = stop {
            let mut s = base.clone();
            s.time = time;
            s.phase = Phase::Stop;
            s.text = Some(reason.into());
            s.source.part = "stop".into();
            self.events.push(s);
        }
        self.events.push(base);
        self
    }

    pub fn diagnosis(mut self, time: DateTime<Utc>, icd: &str, display: &str) -> Self {
        let code = Code {
            system: "http://hl7.org/fhir/sid/icd-10-cm".into(),
            code: icd.into(),
            display: Some(display.into()),
        };
        self.event(time, code, Modality::Diagnosis, "Condition");
        self
    }

    /// The birth record a FHIR import starts every journey with (MEDS's reserved code).
    pub fn birth_record(mut self) -> Self {
        let born = self.patient.birth_date.expect("a chart has a birth date").and_hms_opt(0, 0, 0).unwrap().and_utc();
        let code = Code { system: "MEDS".into(), code: "MEDS_BIRTH".into(), display: None };
        self.event(born, code, Modality::Demographic, "Patient");
        self
    }

    pub fn note(mut self, time: DateTime<Utc>, text: &str) -> Self {
        let code = Code { system: LOINC.into(), code: "11506-3".into(), display: Some("Progress note".into()) };
        let e = self.event(time, code, Modality::Note, "DocumentReference");
        e.text = Some(text.into());
        self
    }
}

/// A temporary store holding `charts`; keep the directory alive while it is used.
pub async fn store_with(charts: Vec<Chart>) -> (tempfile::TempDir, ToolContext) {
    let dir = tempfile::tempdir().unwrap();
    let store = JourneyStore::open(&Database::Sqlite(dir.path().join("journey.sqlite"))).await.unwrap();
    let mut batch = store.begin().await.unwrap();
    {
        let mut file = batch.file().await.unwrap();
        let patients: Vec<PatientRecord> = charts.iter().map(|c| c.patient.clone()).collect();
        file.upsert_patients(&patients).await.unwrap();
        let events: Vec<Event> = charts.into_iter().flat_map(|c| c.events).collect();
        file.replace_events(&events).await.unwrap();
        file.commit().await.unwrap();
    }
    batch.commit().await.unwrap();
    (dir, ToolContext::new(store))
}
