//! Immunization -> one event when the vaccine was given.

use serde::Deserialize;

use super::{first_time, parse, patient_of, status_skip, MapContext, Mapped, SkipReason, Stamp};
use crate::event::{Modality, Phase};
use crate::fhir::datatypes::{CodeableConcept, Reference};
use crate::fhir::error::FieldError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Immunization {
    status: Option<String>,
    patient: Option<Reference>,
    vaccine_code: Option<CodeableConcept>,
    occurrence_date_time: Option<String>,
    recorded: Option<String>,
}

pub(super) fn map(json: &str, stamp: &Stamp, ctx: &MapContext) -> Result<Mapped, FieldError> {
    let i: Immunization = parse(json)?;
    let patient = patient_of(i.patient.as_ref(), "patient", ctx)?;
    if let Some(skip) = status_skip(i.status.as_deref()) {
        return Ok(Mapped::skip(skip));
    }
    let code = i.vaccine_code.as_ref().ok_or_else(|| FieldError::missing("vaccineCode"))?;
    let Some(code) = code.to_code() else {
        return Ok(Mapped::skip(SkipReason::NoCode));
    };
    let Some(time) = first_time(&[
        ("occurrenceDateTime", i.occurrence_date_time.as_deref()),
        ("recorded", i.recorded.as_deref()),
    ])?
    else {
        return Ok(Mapped::skip(SkipReason::NoTime));
    };
    Ok(Mapped::events(vec![stamp.event(&patient, "given", time, code, Modality::Immunization, Phase::Point)]))
}
