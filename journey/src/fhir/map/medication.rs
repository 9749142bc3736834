//! MedicationRequest and MedicationStatement -> a medication's start (and stop, when
//! the source says when it ended); Medication -> a concept other resources point to.
//!
//! The drug is either written inline (`medicationCodeableConcept`), in a contained
//! Medication (`#id`), or in a Medication resource elsewhere in the Bundle, in another
//! NDJSON file or in an earlier import. The last three are resolved by the importer
//! once it has seen the whole file ([`Mapped::pending_medication`]).

use serde::Deserialize;

use super::{first_time, parse, patient_of, status_skip, MapContext, Mapped, SkipReason, Stamp};
use crate::event::{Code, Modality, Phase};
use crate::fhir::datatypes::{CodeableConcept, Period, Reference};
use crate::fhir::error::{FieldError, Problem};
use crate::store::MedicationConcept;

/// The code pending events carry until the importer resolves the Medication.
pub const UNRESOLVED_MEDICATION_SYSTEM: &str = "urn:rdt:unresolved-medication";

#[derive(Deserialize)]
struct Medication {
    code: Option<CodeableConcept>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Contained {
    resource_type: Option<String>,
    id: Option<String>,
    code: Option<CodeableConcept>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DispenseRequest {
    validity_period: Option<Period>,
}

#[derive(Deserialize)]
struct Dosage {
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MedicationRequest {
    status: Option<String>,
    subject: Option<Reference>,
    medication_codeable_concept: Option<CodeableConcept>,
    medication_reference: Option<Reference>,
    #[serde(default)]
    contained: Vec<Contained>,
    authored_on: Option<String>,
    dispense_request: Option<DispenseRequest>,
    status_reason: Option<CodeableConcept>,
    #[serde(default)]
    dosage_instruction: Vec<Dosage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MedicationStatement {
    status: Option<String>,
    subject: Option<Reference>,
    medication_codeable_concept: Option<CodeableConcept>,
    medication_reference: Option<Reference>,
    #[serde(default)]
    contained: Vec<Contained>,
    effective_date_time: Option<String>,
    effective_period: Option<Period>,
    date_asserted: Option<String>,
    #[serde(default)]
    status_reason: Vec<CodeableConcept>,
    #[serde(default)]
    dosage: Vec<Dosage>,
}

pub(super) fn map_medication(json: &str, stamp: &Stamp) -> Result<Mapped, FieldError> {
    let m: Medication = parse(json)?;
    let Some(code) = m.code.as_ref().and_then(CodeableConcept::to_code) else {
        return Ok(Mapped::skip(SkipReason::NoCode));
    };
    Ok(Mapped { medication: Some(MedicationConcept {
        source: stamp.source.clone(),
        resource_id: stamp.resource_id.to_owned(),
        code,
    }), ..Mapped::default() })
}

/// The drug: inline, contained, or (pending) a Medication resource id.
enum Drug {
    Known(Code),
    Pending(String),
}

fn drug(
    concept: Option<&CodeableConcept>,
    reference: Option<&Reference>,
    contained: &[Contained],
    ctx: &MapContext,
) -> Result<Drug, FieldError> {
    if let Some(code) = concept.and_then(CodeableConcept::to_code) {
        return Ok(Drug::Known(code));
    }
    let Some(reference) = reference.and_then(|r| r.reference.as_deref()) else {
        return Err(FieldError::missing("medication[x]"));
    };
    let field = "medicationReference";
    if let Some(local) = reference.strip_prefix('#') {
        let found = contained
            .iter()
            .find(|c| c.id.as_deref() == Some(local) && c.resource_type.as_deref() == Some("Medication"))
            .ok_or_else(|| FieldError {
                field: Some(field.into()),
                problem: Problem::Unresolved(reference.into(), "no contained Medication has that id".into()),
            })?;
        let code = found.code.as_ref().and_then(CodeableConcept::to_code);
        return code.map(Drug::Known).ok_or_else(|| FieldError::missing("contained.code"));
    }
    let (resource_type, id) = ctx.references.resolve(reference).map_err(|why| FieldError {
        field: Some(field.into()),
        problem: Problem::Unresolved(reference.into(), why),
    })?;
    if resource_type != "Medication" {
        return Err(FieldError::invalid(field, format!("refers to a {resource_type}, not a Medication")));
    }
    Ok(Drug::Pending(id))
}

/// Start and optional stop events for one course of a drug.
fn course(
    stamp: &Stamp,
    patient: &crate::event::PatientId,
    drug: Drug,
    start: chrono::DateTime<chrono::Utc>,
    stop: Option<chrono::DateTime<chrono::Utc>>,
    start_text: Option<String>,
    stop_text: Option<String>,
) -> Mapped {
    let (code, pending) = match drug {
        Drug::Known(code) => (code, None),
        Drug::Pending(id) => {
            (Code { system: UNRESOLVED_MEDICATION_SYSTEM.into(), code: id.clone(), display: None }, Some(id))
        }
    };
    let mut events = Vec::with_capacity(2);
    let mut e = stamp.event(patient, "start", start, code.clone(), Modality::Medication, Phase::Start);
    e.text = start_text;
    events.push(e);
    if let Some(stop) = stop {
        let mut e = stamp.event(patient, "stop", stop, code, Modality::Medication, Phase::Stop);
        e.text = stop_text;
        events.push(e);
    }
    Mapped { pending_medication: pending, ..Mapped::events(events) }
}

pub(super) fn map_request(json: &str, stamp: &Stamp, ctx: &MapContext) -> Result<Mapped, FieldError> {
    let r: MedicationRequest = parse(json)?;
    let patient = patient_of(r.subject.as_ref(), "subject", ctx)?;
    let drug = drug(r.medication_codeable_concept.as_ref(), r.medication_reference.as_ref(), &r.contained, ctx)?;
    if let Some(skip) = status_skip(r.status.as_deref()) {
        return Ok(Mapped::skip(skip));
    }
    let validity = r.dispense_request.as_ref().and_then(|d| d.validity_period.as_ref());
    let Some(start) = first_time(&[
        ("authoredOn", r.authored_on.as_deref()),
        ("dispenseRequest.validityPeriod.start", validity.and_then(|p| p.start.as_deref())),
    ])?
    else {
        return Ok(Mapped::skip(SkipReason::NoTime));
    };
    let stop = first_time(&[("dispenseRequest.validityPeriod.end", validity.and_then(|p| p.end.as_deref()))])?;
    let dosage = r.dosage_instruction.iter().find_map(|d| d.text.clone());
    let reason = r.status_reason.as_ref().and_then(CodeableConcept::label);
    Ok(course(stamp, &patient, drug, start, stop, dosage, reason))
}

pub(super) fn map_statement(json: &str, stamp: &Stamp, ctx: &MapContext) -> Result<Mapped, FieldError> {
    let s: MedicationStatement = parse(json)?;
    let patient = patient_of(s.subject.as_ref(), "subject", ctx)?;
    let drug = drug(s.medication_codeable_concept.as_ref(), s.medication_reference.as_ref(), &s.contained, ctx)?;
    if s.status.as_deref() == Some("not-taken") {
        return Ok(Mapped::skip(SkipReason::NotDone));
    }
    if let Some(skip) = status_skip(s.status.as_deref()) {
        return Ok(Mapped::skip(skip));
    }
    let Some(start) = first_time(&[
        ("effectiveDateTime", s.effective_date_time.as_deref()),
        ("effectivePeriod.start", s.effective_period.as_ref().and_then(|p| p.start.as_deref())),
        ("dateAsserted", s.date_asserted.as_deref()),
    ])?
    else {
        return Ok(Mapped::skip(SkipReason::NoTime));
    };
    let stop = first_time(&[("effectivePeriod.end", s.effective_period.as_ref().and_then(|p| p.end.as_deref()))])?;
    let dosage = s.dosage.iter().find_map(|d| d.text.clone());
    let reason = s.status_reason.iter().find_map(CodeableConcept::label);
    Ok(course(stamp, &patient, drug, start, stop, dosage, reason))
}

#[cfg(test)]
mod tests {
    use crate::event::Phase;
    use crate::fhir::map::testutil::map_json;

    #[test]
    fn statement_with_period_and_reason_gives_start_and_stop() {
        let m = map_json(
            r#"{"resourceType":"MedicationStatement","id":"ms1","status":"stopped","subject":{"reference":"Patient/p1"},
                "medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"105585","display":"methotrexate 2.5 MG"}]},
                "effectivePeriod":{"start":"2020-01-01","end":"2020-06-01"},
                "statusReason":[{"text":"ALT above 3x upper limit"}]}"#,
        )
        .unwrap();
        assert_eq!(m.events.len(), 2);
        assert_eq!(m.events[1].phase, Phase::Stop);
        assert_eq!(m.events[1].text.as_deref(), Some("ALT above 3x upper limit"));
        assert!(m.pending_medication.is_none());
    }

    #[test]
    fn contained_and_external_medications() {
        let m = map_json(
            r##"{"resourceType":"MedicationRequest","id":"mr1","status":"active","subject":{"reference":"Patient/p1"},
                "contained":[{"resourceType":"Medication","id":"m","code":{"coding":[{"system":"urn:oid:2.16.840.1.113883.6.88","code":"327361"}]}}],
                "medicationReference":{"reference":"#m"},"authoredOn":"2021-03-01"}"##,
        )
        .unwrap();
        assert_eq!(m.events[0].code.code, "327361");
        let m = map_json(
            r#"{"resourceType":"MedicationRequest","id":"mr2","status":"active","subject":{"reference":"Patient/p1"},
                "medicationReference":{"reference":"Medication/adalimumab"},"authoredOn":"2021-03-01"}"#,
        )
        .unwrap();
        assert_eq!(m.pending_medication.as_deref(), Some("adalimumab"));
    }

    #[test]
    fn no_drug_at_all_is_an_error() {
        let e = map_json(
            r#"{"resourceType":"MedicationRequest","id":"mr3","subject":{"reference":"Patient/p1"},"authoredOn":"2021"}"#,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("medication[x]"));
    }
}
