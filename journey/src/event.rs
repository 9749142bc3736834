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

/// The name of an import source (`rdt import --source NAME`): the system a file came
/// from, such as one hospital's FHIR server.
///
/// FHIR ids are unique only within the server that assigned them, so RDT reads every
/// id as belonging to its source: `Observation/o1` of source `a` and of source `b` are
/// two resources, and a reference from source `b` reaches only source `b`'s patients.
/// A name is 1 to 32 of `a-z`, `0-9`, `-`, `_`, `.`, starting with a letter or digit:
/// short enough for a terminal, lowercase so `A` and `a` can never be two sources.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SourceName(std::sync::Arc<str>);

impl SourceName {
    /// The source of imports that name none, and of every event stored before sources
    /// existed (migration 0003 gives them this name).
    pub const DEFAULT: &'static str = "default";

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for SourceName {
    fn default() -> Self {
        SourceName(Self::DEFAULT.into())
    }
}

impl fmt::Display for SourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a text is not a [`SourceName`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a source name: use 1 to 32 of a-z, 0-9, '-', '_', '.', starting with a letter or digit")]
pub struct InvalidSourceName(pub String);

impl FromStr for SourceName {
    type Err = InvalidSourceName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
        let first_ok = s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if first_ok && s.len() <= 32 && s.chars().all(allowed) {
            Ok(SourceName(s.into()))
        } else {
            Err(InvalidSourceName(s.to_owned()))
        }
    }
}

impl TryFrom<String> for SourceName {
    type Error = InvalidSourceName;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<SourceName> for String {
    fn from(s: SourceName) -> String {
        s.0.to_string()
    }
}

/// What [`is_fhir_id`] accepts, for the errors that refuse an id.
pub const FHIR_ID_RULE: &str = "a FHIR id is 1 to 64 of A-Z, a-z, 0-9, '-', '.', and not '.' or '..'";

/// Whether `id` is a FHIR R4 id: 1 to 64 of `A-Z a-z 0-9 - .` (R4 `id` datatype),
/// and not `.` or `..`.
///
/// Ids are checked on import because they become keys in the store and path segments
/// in the pages' links: an id outside this syntax is malformed FHIR, refused naming
/// where it was, never stored. R4's pattern admits `.` and `..`, but no URL can carry
/// them as a path segment (browsers read them as steps, even percent-encoded), so
/// RDT refuses these two as well.
pub fn is_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && id != "."
        && id != ".."
}

/// Where an event came from: the import source, the file, and the FHIR resource
/// inside it.
///
/// `(name, resource_type, resource_id, part)` identifies an event across imports: one
/// resource can yield several events (an Observation's components, a medication's
/// start and stop), and `part` tells them apart. Re-importing a resource from the same
/// source therefore replaces its events instead of duplicating them, while another
/// source's resource with the same type and id is another resource.
///
/// `Source::default()` is no resource at all (the default source, empty file and ids):
/// for events made in code, such as test fixtures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The import source ([`SourceName`]); events serialised before sources existed
    /// read as the default source, as the store's migration does.
    #[serde(default)]
    pub name: SourceName,
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
    fn source_names_are_short_lowercase_words() {
        for ok in ["default", "a", "hospital-a", "lab_2.export", "9"] {
            assert_eq!(ok.parse::<SourceName>().unwrap().as_str(), ok);
        }
        for bad in ["", "A", "Hospital", "-a", ".a", "a b", "a/b", "é", &"x".repeat(33)] {
            assert_eq!(bad.parse::<SourceName>(), Err(InvalidSourceName(bad.to_owned())), "{bad:?}");
        }
        // serde reads through the same check
        assert!(serde_json::from_str::<SourceName>("\"Bad\"").is_err());
        assert_eq!(serde_json::to_string(&SourceName::default()).unwrap(), "\"default\"");
    }

    #[test]
    fn fhir_ids_follow_the_r4_syntax() {
        for ok in ["p1", "A-b.9", "6b1e4c5e-0b8a-4a4e-9a3c-0d4f7c1f2a11", &"x".repeat(64)] {
            assert!(is_fhir_id(ok), "{ok:?}");
        }
        assert!(is_fhir_id("..."));
        for bad in ["", ".", "..", "p 1", "p/1", "p_1", "\"><script>", "é", &"x".repeat(65)] {
            assert!(!is_fhir_id(bad), "{bad:?}");
        }
    }

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
