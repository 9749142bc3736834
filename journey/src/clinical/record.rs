//! Reading a journey's clinical facts: DAS28 assessments (with their parts) and
//! medication courses. DAS28 and its parts are read by concept ([`Event::concept`]:
//! RDT's own code, a standard code, or the install's ConceptMap), in the concept's
//! unit ([`Event::canonical_value`]), never by code system; drugs by RxNorm. One
//! event's DAS28 score is read by [`das28_score`] (its parts by [`das28_item`]); lab
//! values by [`super::labs`].

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::das28::Das28Variant;
use super::das28::EularResponse;
use super::drugs::{self, Drug};
use super::outcomes::ActivityPoint;
use crate::event::{Code, Event, Modality, Phase};

/// RDT's own concept system (re-exported from the terminology, where it lives).
pub use crate::terminology::RDT_CODE;
use crate::terminology::Concept;

/// What one event records of a DAS28 assessment: the score with its variant, or a part.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Das28Item {
    Score(f64, Das28Variant),
    Tjc28(f64),
    Sjc28(f64),
    PatientGlobalVas(f64),
}

/// The DAS28 item an event records, by its concept, with a finite value in the
/// concept's unit; `None` for any other event.
pub fn das28_item(event: &Event) -> Option<Das28Item> {
    let concept = event.concept()?;
    let value = event.canonical_value()?;
    if let Some(variant) = Das28Variant::ALL.into_iter().find(|v| v.concept() == concept) {
        return Some(Das28Item::Score(value, variant));
    }
    match concept {
        Concept::TenderJoints28 => Some(Das28Item::Tjc28(value)),
        Concept::SwollenJoints28 => Some(Das28Item::Sjc28(value)),
        Concept::PatientGlobal => Some(Das28Item::PatientGlobalVas(value)),
        _ => None,
    }
}

/// The DAS28 score an event records, with its variant (`das28-esr` or `das28-crp`).
pub fn das28_score(event: &Event) -> Option<(f64, Das28Variant)> {
    match das28_item(event)? {
        Das28Item::Score(score, variant) => Some((score, variant)),
        _ => None,
    }
}

/// One assessment: the score and the parts recorded at the same time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Das28Reading {
    pub time: DateTime<Utc>,
    pub score: f64,
    pub variant: Das28Variant,
    pub tjc28: Option<f64>,
    pub sjc28: Option<f64>,
    pub patient_global_vas: Option<f64>,
}

impl Das28Reading {
    /// The reading as a dated score, what the outcome definitions read.
    pub fn point(&self) -> ActivityPoint {
        ActivityPoint { date: self.time.date_naive(), score: self.score, scale: super::activity::Scale::Das28 }
    }
}

/// The DAS28 readings of a journey in time order (scores with their parts from the
/// same assessment time).
pub fn das28_readings(events: &[Event]) -> Vec<Das28Reading> {
    #[derive(Default)]
    struct Parts {
        score: Option<(f64, Das28Variant)>,
        tjc: Option<f64>,
        sjc: Option<f64>,
        global: Option<f64>,
    }
    let mut by_time: BTreeMap<DateTime<Utc>, Parts> = BTreeMap::new();
    for e in events {
        let Some(item) = das28_item(e) else { continue };
        let parts = by_time.entry(e.time).or_default();
        match item {
            Das28Item::Score(score, variant) => parts.score = Some((score, variant)),
            Das28Item::Tjc28(value) => parts.tjc = Some(value),
            Das28Item::Sjc28(value) => parts.sjc = Some(value),
            Das28Item::PatientGlobalVas(value) => parts.global = Some(value),
        }
    }
    by_time
        .into_iter()
        .filter_map(|(time, p)| {
            let (score, variant) = p.score?;
            Some(Das28Reading { time, score, variant, tjc28: p.tjc, sjc28: p.sjc, patient_global_vas: p.global })
        })
        .collect()
}

/// One course of a drug: from its start event to its stop event (same FHIR resource).
#[derive(Debug, Clone, PartialEq)]
pub struct Course {
    pub code: Code,
    pub drug: Option<&'static Drug>,
    pub start: DateTime<Utc>,
    pub stop: Option<DateTime<Utc>>,
    pub dosage: Option<String>,
    pub stop_reason: Option<String>,
}

impl Course {
    /// The table's name, else the recorded display, else the code.
    pub fn name(&self) -> String {
        match (self.drug, &self.code.display) {
            (Some(d), _) => d.name.to_owned(),
            (None, Some(display)) => display.clone(),
            (None, None) => format!("{} {}", self.code.system, self.code.code),
        }
    }

    pub fn is_dmard(&self) -> bool {
        self.drug.is_some_and(|d| d.class.is_dmard())
    }

    /// Whether the course runs on `date` (started on or before it, not yet stopped).
    pub fn ongoing_on(&self, date: NaiveDate) -> bool {
        self.start.date_naive() <= date && self.stop.is_none_or(|s| s.date_naive() > date)
    }

    /// Why the course stopped, read from its recorded reason; `None` while it runs or
    /// when no reason is recorded or the reason says none of [`StopCause`]'s.
    pub fn stop_cause(&self) -> Option<StopCause> {
        self.stop?;
        StopCause::read(self.stop_reason.as_deref()?)
    }
}

/// Why a course was stopped, as a record's `statusReason` says it (a coded concept's
/// display or free text: "Adverse reaction to drug", "stopped for side effects",
/// "inadequate response"). Read by words a clinician uses, in any case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StopCause {
    /// An adverse event, an intolerance, a toxicity.
    AdverseEvent,
    /// Not controlling the disease (primary or secondary failure).
    Inefficacy,
    /// Stopped in remission.
    Remission,
}

impl StopCause {
    const ADVERSE: [&'static str; 12] = [
        "adverse", "side effect", "side-effect", "intoleran", "not tolerated", "toxic", "allerg", "reaction",
        "transaminase", "infection", "cytopenia", "safety",
    ];
    const INEFFICACY: [&'static str; 8] = [
        "inefficacy", "ineffective", "lack of efficacy", "inadequate response", "insufficient response",
        "treatment failure", "loss of response", "no response",
    ];

    /// The cause a stop reason names; adverse events first (a reason naming both, "no
    /// response and nausea", still records the adverse event).
    pub fn read(reason: &str) -> Option<StopCause> {
        let text = reason.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
        if has(&Self::ADVERSE) {
            Some(StopCause::AdverseEvent)
        } else if has(&Self::INEFFICACY) {
            Some(StopCause::Inefficacy)
        } else if text.contains("remission") {
            Some(StopCause::Remission)
        } else {
            None
        }
    }
}

/// The medication courses of a journey, by start. A start and a stop belong together
/// when they come from the same FHIR resource (the importer writes a course's start
/// and stop as two parts of one resource); a stop without its start is ignored.
pub fn courses(events: &[Event]) -> Vec<Course> {
    let mut by_resource: BTreeMap<(&str, &str), Course> = BTreeMap::new();
    let mut stops: Vec<(&str, &str, DateTime<Utc>, Option<&str>)> = Vec::new();
    for e in events.iter().filter(|e| e.modality == Modality::Medication) {
        let key = (e.source.resource_type.as_str(), e.source.resource_id.as_str());
        match e.phase {
            Phase::Start | Phase::Point => {
                by_resource.insert(
                    key,
                    Course {
                        code: e.code.clone(),
                        drug: drugs::lookup(&e.code),
                        start: e.time,
                        stop: None,
                        dosage: e.text.clone(),
                        stop_reason: None,
                    },
                );
            }
            Phase::Stop => stops.push((key.0, key.1, e.time, e.text.as_deref())),
        }
    }
    for (rt, id, time, reason) in stops {
        if let Some(course) = by_resource.get_mut(&(rt, id)) {
            course.stop = Some(time);
            course.stop_reason = reason.map(str::to_owned);
        }
    }
    let mut list: Vec<Course> = by_resource.into_values().collect();
    list.sort_by(|a, b| a.start.cmp(&b.start).then_with(|| a.name().cmp(&b.name())));
    list
}

/// The response to the patient's current DMARD as far as the record reads at `at`
/// ([`super::outcomes::response_since`] on the journey's activity series): the
/// latest-started DMARD course still running then. `None` when no DMARD runs, or its
/// response cannot be read yet (no baseline, or no score four weeks or more after the
/// start). Reads DMARDs by the drug tables and scores by their concepts, so any code
/// system the terminology maps reads alike.
pub fn response_so_far(events: &[Event], at: DateTime<Utc>) -> Option<EularResponse> {
    let day = at.date_naive();
    let current = courses(events).into_iter().filter(|c| c.is_dmard() && c.ongoing_on(day)).max_by_key(|c| c.start)?;
    let series: Vec<_> = super::activity::activity_series(events).into_iter().filter(|p| p.date <= day).collect();
    super::outcomes::response_since(&series, current.start.date_naive(), day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clinical::testutil::event;

    /// A DAS28 score is read with its variant from RDT's codes only, with a finite value.
    #[test]
    fn das28_scores_are_read_with_their_variant() {
        let score = |system: &str, code: &str, value: Option<f64>| das28_score(&event(system, code, value, None));
        assert_eq!(score(RDT_CODE, "das28-esr", Some(4.17)), Some((4.17, Das28Variant::Esr)));
        assert_eq!(score(RDT_CODE, "das28-crp", Some(3.9)), Some((3.9, Das28Variant::Crp)));
        assert_eq!(score(RDT_CODE, "das28-crp", Some(f64::NAN)), None);
        assert_eq!(score(RDT_CODE, "das28-esr", None), None);
        assert_eq!(score(RDT_CODE, "tjc28", Some(4.0)), None, "a part, not a score");
        assert_eq!(score("urn:oid:1.2.3", "das28-esr", Some(4.17)), None, "a local code needs a mapping");
        let mut mapped = event("urn:oid:1.2.3", "D28", Some(4.17), None);
        mapped.concept = Some(Concept::Das28Esr);
        assert_eq!(das28_score(&mapped), Some((4.17, Das28Variant::Esr)), "read once the terminology maps it");
        assert_eq!(das28_item(&event(RDT_CODE, "tjc28", Some(4.0), None)), Some(Das28Item::Tjc28(4.0)));
    }

    /// Parts recorded at the score's time join it; a time with parts only is no reading.
    #[test]
    fn readings_join_their_parts() {
        let mut parts_only = event(RDT_CODE, "sjc28", Some(1.0), None);
        parts_only.time += chrono::Duration::days(1);
        let events = vec![
            event(RDT_CODE, "das28-crp", Some(3.9), None),
            event(RDT_CODE, "tjc28", Some(4.0), None),
            event(RDT_CODE, "patient-global-vas", Some(40.0), Some("mm")),
            parts_only,
        ];
        let readings = das28_readings(&events);
        assert_eq!(readings.len(), 1);
        let r = readings[0];
        assert_eq!((r.score, r.variant), (3.9, Das28Variant::Crp));
        assert_eq!((r.tjc28, r.sjc28, r.patient_global_vas), (Some(4.0), None, Some(40.0)));
    }

    /// The response so far is read to the DMARD running on the day asked, with the
    /// drug by RxNorm and the scores by their concept (here a hospital's local code the
    /// install's ConceptMap maps), never by RDT's own codes.
    #[test]
    fn response_so_far_reads_the_running_dmard() {
        let day = |d: i64| chrono::TimeZone::with_ymd_and_hms(&Utc, 2020, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(d);
        let score = |d: i64, value: f64| {
            let mut e = event("urn:oid:2.16.840.1.113883.3.1", "D28E", Some(value), None);
            e.concept = Some(Concept::Das28Esr);
            e.time = day(d);
            e.source.resource_id = format!("das-{d}");
            e
        };
        let mut start = event(drugs::RXNORM, drugs::METHOTREXATE, None, None);
        (start.modality, start.phase, start.time) = (Modality::Medication, Phase::Start, day(0));
        let mut stop = start.clone();
        (stop.phase, stop.time) = (Phase::Stop, day(120));
        let events = vec![score(-3, 5.6), start, score(20, 5.0), score(60, 3.0), stop];
        assert_eq!(response_so_far(&events, day(30)), None, "day 20 is too early to judge");
        assert_eq!(response_so_far(&events, day(90)), Some(EularResponse::Good), "5.6 -> 3.0 by day 60");
        assert_eq!(response_so_far(&events, day(150)), None, "methotrexate stopped on day 120");
        assert_eq!(response_so_far(&events[..1], day(90)), None, "no DMARD");
    }

    /// Stop reasons as hospitals write them, coded display or free text.
    #[test]
    fn a_stop_reason_names_its_cause() {
        for (reason, cause) in [
            ("Adverse reaction to drug", Some(StopCause::AdverseEvent)),
            ("Stopped for adverse event: ALT 250 U/L", Some(StopCause::AdverseEvent)),
            ("d/c due to side effects (nausea)", Some(StopCause::AdverseEvent)),
            ("GI intolerance", Some(StopCause::AdverseEvent)),
            ("Hepatotoxicity", Some(StopCause::AdverseEvent)),
            ("Stopped: inadequate response (treatment failure)", Some(StopCause::Inefficacy)),
            ("Lack of efficacy", Some(StopCause::Inefficacy)),
            ("Stopped in sustained remission", Some(StopCause::Remission)),
            ("Course completed", None),
            ("patient preference", None),
        ] {
            assert_eq!(StopCause::read(reason), cause, "{reason}");
        }
    }
}
