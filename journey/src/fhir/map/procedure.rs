//! Procedure -> one event when it was performed.

use serde::Deserialize;

use super::{first_time, parse, patient_of, status_skip, MapContext, Mapped, SkipReason, Stamp};
use crate::event::{Modality, Phase};
use crate::fhir::datatypes::{CodeableConcept, Period, Reference};
use crate::fhir::error::FieldError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Procedure {
    status: Option<String>,
    subject: Option<Reference>,
    code: Option<CodeableConcept>,
    performed_date_time: Option<String>,
    performed_period: Option<Period>,
}

pub(super) fn map(json: &str, stamp: &Stamp, ctx: &MapContext) -> Result<Mapped, FieldError> {
    let p: Procedure = parse(json)?;
    let patient = patient_of(p.subject.as_ref(), "subject", ctx)?;
    if let Some(skip) = status_skip(p.status.as_deref()) {
        return Ok(Mapped::skip(skip));
    }
    let Some(code) = p.code.as_ref().and_then(CodeableConcept::to_code) else {
        return Ok(Mapped::skip(SkipReason::NoCode));
    };
    let Some(time) = first_time(&[
        ("performedDateTime", p.performed_date_time.as_deref()),
        ("performedPeriod.start", p.performed_period.as_ref().and_then(|p| p.start.as_deref())),
    ])?
    else {
        return Ok(Mapped::skip(SkipReason::NoTime));
    };
    Ok(Mapped::events(vec![stamp.event(&patient, "performed", time, code, Modality::Procedure, Phase::Point)]))
}
