//! AllergyIntolerance -> one event when it was found (onset, else recorded).

use serde::Deserialize;

use super::{first_time, parse, patient_of, status_skip, MapContext, Mapped, SkipReason, Stamp};
use crate::event::{Modality, Phase};
use crate::fhir::datatypes::{CodeableConcept, Reference};
use crate::fhir::error::FieldError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AllergyIntolerance {
    patient: Option<Reference>,
    verification_status: Option<CodeableConcept>,
    code: Option<CodeableConcept>,
    criticality: Option<String>,
    onset_date_time: Option<String>,
    recorded_date: Option<String>,
}

pub(super) fn map(json: &str, stamp: &Stamp, ctx: &MapContext) -> Result<Mapped, FieldError> {
    let a: AllergyIntolerance = parse(json)?;
    let patient = patient_of(a.patient.as_ref(), "patient", ctx)?;
    let verification = a.verification_status.as_ref().and_then(|v| v.coding.first()).and_then(|c| c.code.as_deref());
    if let Some(skip) = status_skip(verification) {
        return Ok(Mapped::skip(skip));
    }
    let Some(code) = a.code.as_ref().and_then(CodeableConcept::to_code) else {
        return Ok(Mapped::skip(SkipReason::NoCode));
    };
    let Some(time) = first_time(&[
        ("onsetDateTime", a.onset_date_time.as_deref()),
        ("recordedDate", a.recorded_date.as_deref()),
    ])?
    else {
        return Ok(Mapped::skip(SkipReason::NoTime));
    };
    let mut event = stamp.event(&patient, "recorded", time, code, Modality::Allergy, Phase::Point);
    event.text = a.criticality.map(|c| format!("criticality: {c}"));
    Ok(Mapped::events(vec![event]))
}
