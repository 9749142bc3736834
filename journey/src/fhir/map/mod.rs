//! FHIR resource -> events: one mapper per resource type, one file each.
//!
//! A mapper reads the elements it needs (serde, unknown elements skipped), checks what
//! a journey cannot do without (a patient, a code, a time) and returns events. Valid
//! FHIR that RDT cannot place on a timeline (no date, entered in error) is skipped
//! with a reason and counted; malformed FHIR is a [`FieldError`] that fails the file.

mod allergy;
mod condition;
mod document;
mod encounter;
mod immunization;
mod medication;
mod observation;
mod patient;
mod procedure;

pub use medication::UNRESOLVED_MEDICATION_SYSTEM;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::datatypes::Reference;
use super::error::{FieldError, Problem};
use super::time::parse_fhir_time;
use crate::event::{is_fhir_id, FHIR_ID_RULE, Code, Event, Modality, PatientId, Phase, Source, SourceName};
use crate::store::{MedicationConcept, PatientRecord};

/// Why a resource produced no events. Counted per resource type in the import report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// A FHIR R4 resource type RDT does not import (Claim, Organization, ...).
    TypeNotImported,
    /// `status` is `entered-in-error`: the source retracted it.
    EnteredInError,
    /// `status` says it did not happen (`not-done`, `cancelled`).
    NotDone,
    /// No date or time anywhere on it, so it cannot be placed in a journey.
    NoTime,
    /// No code and no text saying what it is.
    NoCode,
    /// A document or report without a text/plain attachment (PDF, image, URL only);
    /// a lab report's results arrive as Observations of their own.
    NoText,
}

impl SkipReason {
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::TypeNotImported => "resource type not imported",
            SkipReason::EnteredInError => "entered in error",
            SkipReason::NotDone => "did not happen (not-done/cancelled)",
            SkipReason::NoTime => "no date or time",
            SkipReason::NoCode => "no code",
            SkipReason::NoText => "no text/plain content",
        }
    }
}

/// What one resource becomes.
#[derive(Debug, Default)]
pub struct Mapped {
    pub patient: Option<PatientRecord>,
    pub medication: Option<MedicationConcept>,
    pub events: Vec<Event>,
    /// Set when the events' medication code comes from a Medication resource that may
    /// sit elsewhere in the file or run: the importer fills the code in later.
    pub pending_medication: Option<String>,
    pub skipped: Option<SkipReason>,
}

impl Mapped {
    fn skip(reason: SkipReason) -> Self {
        Mapped { skipped: Some(reason), ..Default::default() }
    }

    fn events(events: Vec<Event>) -> Self {
        Mapped { events, ..Default::default() }
    }
}

/// Resolves references: a Bundle's `fullUrl`s (Synthea writes `urn:uuid:` ones) first,
/// then the relative `Type/id` form of Bulk Data.
#[derive(Debug, Default)]
pub struct References {
    by_full_url: HashMap<String, (String, String)>,
}

impl References {
    pub fn insert_full_url(&mut self, full_url: String, resource_type: String, id: String) {
        self.by_full_url.insert(full_url, (resource_type, id));
    }

    /// `(type, id)` of a reference, or why it cannot be read. The id must be a FHIR
    /// id ([`is_fhir_id`]): it becomes a key in the store.
    pub fn resolve(&self, reference: &str) -> Result<(String, String), String> {
        let (t, id) = self.resolve_unchecked(reference)?;
        if !is_fhir_id(&id) {
            return Err(format!("`{id}` is not a FHIR id ({FHIR_ID_RULE})"));
        }
        Ok((t, id))
    }

    fn resolve_unchecked(&self, reference: &str) -> Result<(String, String), String> {
        if let Some((t, id)) = self.by_full_url.get(reference) {
            return Ok((t.clone(), id.clone()));
        }
        if reference.starts_with("urn:") {
            return Err("no entry of this Bundle has that fullUrl".into());
        }
        // `Patient/123`, `Patient/123/_history/2`, or an absolute `https://x/fhir/Patient/123`.
        let path = reference.split("/_history/").next().unwrap_or(reference);
        let mut parts = path.rsplit('/');
        match (parts.next(), parts.next()) {
            (Some(id), Some(t)) if !id.is_empty() && t.chars().next().is_some_and(|c| c.is_ascii_uppercase()) => {
                Ok((t.to_owned(), id.to_owned()))
            }
            _ => Err("expected `Type/id`".into()),
        }
    }
}

/// What every mapper needs besides the resource itself.
pub struct MapContext<'a> {
    /// The input file, as recorded in each event's source.
    pub file: &'a str,
    /// The import source, whose ids these are.
    pub source: &'a SourceName,
    pub references: &'a References,
}

/// Identifies the resource being mapped and stamps its events.
pub(crate) struct Stamp<'a> {
    pub source: &'a SourceName,
    pub file: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
}

impl Stamp<'_> {
    pub fn event(
        &self,
        patient: &PatientId,
        part: &str,
        time: DateTime<Utc>,
        code: Code,
        modality: Modality,
        phase: Phase,
    ) -> Event {
        Event {
            patient: patient.clone(),
            time,
            code,
            value: None,
            text: None,
            modality,
            phase,
            source: Source {
                name: self.source.clone(),
                file: self.file.to_owned(),
                resource_type: self.resource_type.to_owned(),
                resource_id: self.resource_id.to_owned(),
                part: part.to_owned(),
            },
            concept: None,
        }
    }
}

/// Maps one resource whose `resourceType` and `id` are already known.
pub fn map_resource(resource_type: &str, id: &str, json: &str, ctx: &MapContext) -> Result<Mapped, FieldError> {
    let stamp = Stamp { source: ctx.source, file: ctx.file, resource_type, resource_id: id };
    match resource_type {
        "Patient" => patient::map(json, &stamp),
        "Condition" => condition::map(json, &stamp, ctx),
        "Observation" => observation::map(json, &stamp, ctx),
        "Medication" => medication::map_medication(json, &stamp),
        "MedicationRequest" => medication::map_request(json, &stamp, ctx),
        "MedicationStatement" => medication::map_statement(json, &stamp, ctx),
        "Procedure" => procedure::map(json, &stamp, ctx),
        "Encounter" => encounter::map(json, &stamp, ctx),
        "DocumentReference" => document::map_document_reference(json, &stamp, ctx),
        "DiagnosticReport" => document::map_diagnostic_report(json, &stamp, ctx),
        "Immunization" => immunization::map(json, &stamp, ctx),
        "AllergyIntolerance" => allergy::map(json, &stamp, ctx),
        _ => Ok(Mapped::skip(SkipReason::TypeNotImported)),
    }
}

/// Deserialises a resource, naming the field that failed.
fn parse<'de, T: Deserialize<'de>>(json: &'de str) -> Result<T, FieldError> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(FieldError::from_serde)
}

/// The patient a resource is about. Required: an event without a patient belongs to
/// no journey, so a missing or non-Patient subject is an error, not a skip.
fn patient_of(reference: Option<&Reference>, field: &str, ctx: &MapContext) -> Result<PatientId, FieldError> {
    let reference = reference
        .and_then(|r| r.reference.as_deref())
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| FieldError::missing(field))?;
    let (resource_type, id) = ctx.references.resolve(reference).map_err(|why| FieldError {
        field: Some(field.to_owned()),
        problem: Problem::Unresolved(reference.to_owned(), why),
    })?;
    if resource_type != "Patient" {
        return Err(FieldError::invalid(field, format!("refers to a {resource_type}, not a Patient")));
    }
    PatientId::new(id).ok_or_else(|| FieldError::invalid(field, "empty patient id"))
}

/// The first time among `candidates` (field name, value) that is present, parsed.
/// An unparseable value is an error naming its field; none present is `None`.
fn first_time(candidates: &[(&str, Option<&str>)]) -> Result<Option<DateTime<Utc>>, FieldError> {
    for (field, value) in candidates {
        if let Some(v) = value {
            return parse_fhir_time(v).map(Some).map_err(|why| FieldError::invalid(field, why));
        }
    }
    Ok(None)
}

/// `status` values that mean "this did not happen or was retracted".
fn status_skip(status: Option<&str>) -> Option<SkipReason> {
    match status? {
        "entered-in-error" => Some(SkipReason::EnteredInError),
        "not-done" | "cancelled" => Some(SkipReason::NotDone),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// Maps one resource given as JSON, as the importer would inside a Bulk export.
    pub fn map_json(json: &str) -> Result<Mapped, FieldError> {
        let head: crate::fhir::datatypes::ResourceHead = serde_json::from_str(json).unwrap();
        let refs = References::default();
        let source = SourceName::default();
        let ctx = MapContext { file: "test.ndjson", source: &source, references: &refs };
        map_resource(head.resource_type.as_deref().unwrap(), head.id.as_deref().unwrap(), json, &ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_relative_absolute_and_bundle_references() {
        let mut refs = References::default();
        refs.insert_full_url("urn:uuid:abc".into(), "Patient".into(), "abc".into());
        let ok = |r: &str| refs.resolve(r).unwrap();
        assert_eq!(ok("urn:uuid:abc"), ("Patient".into(), "abc".into()));
        assert_eq!(ok("Patient/p1"), ("Patient".into(), "p1".into()));
        assert_eq!(ok("Patient/p1/_history/3"), ("Patient".into(), "p1".into()));
        assert_eq!(ok("https://fhir.example.org/r4/Patient/p1"), ("Patient".into(), "p1".into()));
        assert!(refs.resolve("urn:uuid:missing").is_err());
        assert!(refs.resolve("p1").is_err());
        let err = refs.resolve("Patient/p_1").unwrap_err();
        assert!(err.contains("`p_1` is not a FHIR id"), "{err}");
        assert!(refs.resolve("Patient/%22%3E").is_err());
    }
}
