//! Reading a journey's clinical facts: DAS28 assessments (with their parts) and
//! medication courses. The codes are those the importer keeps from the record
//! (docs/virtual-cohort.md): DAS28 and its parts in the RDT local code system, drugs
//! by RxNorm.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::drugs::{self, Drug};
use super::outcomes::Das28Point;
use crate::event::{Code, Event, Modality, Phase};

/// The RDT local code system (DAS28 and its parts, scores).
pub const RDT_CODE: &str = "urn:rdt:code";

/// Which marker a DAS28 was computed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Das28Variant {
    Esr,
    Crp,
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
    pub fn point(&self) -> Das28Point {
        Das28Point { date: self.time.date_naive(), score: self.score }
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
        if e.code.system != RDT_CODE {
            continue;
        }
        let Some(value) = e.value.as_ref().map(|q| q.value).filter(|v| v.is_finite()) else { continue };
        let code = e.code.code.as_str();
        if !matches!(code, "das28-esr" | "das28-crp" | "tjc28" | "sjc28" | "patient-global-vas") {
            continue;
        }
        let parts = by_time.entry(e.time).or_default();
        match code {
            "das28-esr" => parts.score = Some((value, Das28Variant::Esr)),
            "das28-crp" => parts.score = Some((value, Das28Variant::Crp)),
            "tjc28" => parts.tjc = Some(value),
            "sjc28" => parts.sjc = Some(value),
            _ => parts.global = Some(value),
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
