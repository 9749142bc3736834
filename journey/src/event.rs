//! The event: one time-stamped fact of a patient's journey.
//!
//! The shape follows MEDS (Medical Event Data Standard): a subject, a time, a code, an
//! optional numeric value and an optional text. RDT adds what it needs to stay
//! traceable and typed: the modality (which encoder reads the event), the phase (a
//! medication's start and stop are two events) and the source (file and FHIR resource
//! the event came from, so an auditor can go back to the input).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A patient's identifier: the FHIR `Patient.id` as the source system wrote it.
///
/// Kept as an opaque string; never parsed, never re-keyed, so an import from the
/// same hospital always lands on the same patient.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PatientId(String);

impl PatientId {
    /// Wraps an id; FHIR ids are non-empty, so an empty one is refused.
    pub fn new(id: impl Into<String>) -> Option<Self> {
        let id = id.into();
        (!id.trim().is_empty()).then_some(Self(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PatientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A code as written by the source: system URI, code, and a human display when given.
///
/// Systems are kept verbatim (`http://loinc.org`, `urn:oid:1.2.3`, a hospital's local
/// URI): translating codes is the encoders' job, never the importer's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Code {
    pub system: String,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
}

/// A numeric value with its unit as written (UCUM code or free text).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quantity {
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// Which kind of information an event carries, and so which encoder reads it.
///
/// The first eight are the modalities of the design (demographic ... omics); the rest
/// keep what a general FHIR export holds (vitals, procedures, visits, vaccines,
/// allergies, other observations) instead of dropping it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    Demographic,
    Diagnosis,
    Lab,
    DiseaseActivity,
    Medication,
    Note,
    Imaging,
    Omics,
    Vital,
    Procedure,
    Encounter,
    Immunization,
    Allergy,
    /// Observations that are neither labs, vitals nor scores: surveys, social history.
    Observation,
}

impl Modality {
    pub const ALL: [Modality; 14] = [
        Modality::Demographic,
        Modality::Diagnosis,
        Modality::Lab,
        Modality::DiseaseActivity,
        Modality::Medication,
        Modality::Note,
        Modality::Imaging,
        Modality::Omics,
        Modality::Vital,
        Modality::Procedure,
        Modality::Encounter,
        Modality::Immunization,
        Modality::Allergy,
        Modality::Observation,
    ];

    /// The stable name used in the store, in JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Demographic => "demographic",
            Modality::Diagnosis => "diagnosis",
            Modality::Lab => "lab",
            Modality::DiseaseActivity => "disease_activity",
            Modality::Medication => "medication",
            Modality::Note => "note",
            Modality::Imaging => "imaging",
            Modality::Omics => "omics",
            Modality::Vital => "vital",
            Modality::Procedure => "procedure",
            Modality::Encounter => "encounter",
            Modality::Immunization => "immunization",
            Modality::Allergy => "allergy",
            Modality::Observation => "observation",
        }
    }
}

impl fmt::Display for Modality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored modality or phase name that this version does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} `{value}` in the store")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
}

impl FromStr for Modality {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Modality::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| UnknownName {
            what: "modality",
            value: s.to_owned(),
        })
    }
}

/// Whether an event is a point in time or the start or end of something that lasts
/// (a medication, a condition, a stay).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Point,
    Start,
    Stop,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Point => "point",
            Phase::Start => "start",
            Phase::Stop => "stop",
        }
    }
}

impl FromStr for Phase {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "point" => Ok(Phase::Point),
            "start" => Ok(Phase::Start),
            "stop" => Ok(Phase::Stop),
            _ => Err(UnknownName { what: "phase", value: s.to_owned() }),
        }
    }
}

/// Where an event came from: the file, and the FHIR resource inside it.
///
/// `(resource_type, resource_id, part)` identifies an event across imports: one
/// resource can yield several events (an Observation's components, a medication's
/// start and stop), and `part` tells them apart. Re-importing a resource therefore
/// replaces its events instead of duplicating them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub file: String,
    pub resource_type: String,
    pub resource_id: String,
    pub part: String,
}

/// One fact of a journey.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub patient: PatientId,
    /// When it happened, in UTC. A date without a time is taken as midnight UTC.
    pub time: DateTime<Utc>,
    pub code: Code,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Quantity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub modality: Modality,
    pub phase: Phase,
    pub source: Source,
    /// The concept the code is read as, set when the store reads the journey
    /// ([`crate::terminology::Terminology::apply`]); never stored. Read it through
    /// [`Event::concept`], which also knows the table's own codes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concept: Option<crate::terminology::Concept>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modality_names_round_trip() {
        for m in Modality::ALL {
            assert_eq!(m.as_str().parse::<Modality>().unwrap(), m);
            // serde and the store use the same spelling
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{}\"", m.as_str()));
        }
        assert!("dna".parse::<Modality>().is_err());
    }

    #[test]
    fn empty_patient_id_is_refused() {
        assert!(PatientId::new("  ").is_none());
        assert_eq!(PatientId::new("p-1").unwrap().as_str(), "p-1");
    }
}
