//! Encounter -> one event when the visit began, coded by its type (else its class).

use serde::Deserialize;

use super::{first_time, parse, patient_of, status_skip, MapContext, Mapped, SkipReason, Stamp};
use crate::event::{Modality, Phase};
use crate::fhir::datatypes::{CodeableConcept, Coding, Period, Reference};
use crate::fhir::error::FieldError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Encounter {
    status: Option<String>,
    subject: Option<Reference>,
    class: Option<Coding>,
    #[serde(default, rename = "type")]
    type_: Vec<CodeableConcept>,
    period: Option<Period>,
    #[serde(default)]
    reason_code: Vec<CodeableConcept>,
}

pub(super) fn map(json: &str, stamp: &Stamp, ctx: &MapContext) -> Result<Mapped, FieldError> {
    let e: Encounter = parse(json)?;
    let patient = patient_of(e.subject.as_ref(), "subject", ctx)?;
    if let Some(skip) = status_skip(e.status.as_deref()) {
        return Ok(Mapped::skip(skip));
    }
    let class = e.class.clone().map(|c| CodeableConcept { coding: vec![c], text: None });
    let Some(code) = e.type_.iter().chain(class.iter()).find_map(CodeableConcept::to_code) else {
        return Ok(Mapped::skip(SkipReason::NoCode));
    };
    let Some(time) = first_time(&[("period.start", e.period.as_ref().and_then(|p| p.start.as_deref()))])? else {
        return Ok(Mapped::skip(SkipReason::NoTime));
    };
    let mut event = stamp.event(&patient, "start", time, code, Modality::Encounter, Phase::Point);
    event.text = e.reason_code.iter().find_map(CodeableConcept::label);
    Ok(Mapped::events(vec![event]))
}
