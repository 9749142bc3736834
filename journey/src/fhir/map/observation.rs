//! Observation -> one event for its value and one per component.
//!
//! A blood pressure is a parent without a value and two components (systolic,
//! diastolic): it yields the two component events only. Values keep their unit;
//! coded and string values become the event's text.

use serde::Deserialize;

use super::{first_time, parse, patient_of, status_skip, MapContext, Mapped, SkipReason, Stamp};
use crate::event::{Phase, Quantity as EventQuantity};
use crate::fhir::classify::observation_modality;
use crate::fhir::datatypes::{CodeableConcept, Period, Quantity, Reference};
use crate::fhir::error::FieldError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Observation {
    status: Option<String>,
    #[serde(default)]
    category: Vec<CodeableConcept>,
    code: Option<CodeableConcept>,
    subject: Option<Reference>,
    effective_date_time: Option<String>,
    effective_period: Option<Period>,
    effective_instant: Option<String>,
    issued: Option<String>,
    value_quantity: Option<Quantity>,
    value_codeable_concept: Option<CodeableConcept>,
    value_string: Option<String>,
    value_boolean: Option<bool>,
    value_integer: Option<i64>,
    value_date_time: Option<String>,
    #[serde(default)]
    component: Vec<Component>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Component {
    code: Option<CodeableConcept>,
    value_quantity: Option<Quantity>,
    value_codeable_concept: Option<CodeableConcept>,
    value_string: Option<String>,
    value_boolean: Option<bool>,
    value_integer: Option<i64>,
    value_date_time: Option<String>,
}

/// The value[x] choices RDT reads, as (numeric value, text).
fn value_of(
    quantity: Option<&Quantity>,
    concept: Option<&CodeableConcept>,
    string: Option<&String>,
    boolean: Option<bool>,
    integer: Option<i64>,
    date_time: Option<&String>,
) -> (Option<EventQuantity>, Option<String>) {
    if let Some(q) = quantity.and_then(Quantity::to_event_quantity) {
        return (Some(q), None);
    }
    if let Some(i) = integer {
        return (Some(EventQuantity { value: i as f64, unit: None }), None);
    }
    let text = concept
        .and_then(CodeableConcept::label)
        .or_else(|| string.cloned())
        .or_else(|| boolean.map(|b| b.to_string()))
        .or_else(|| date_time.cloned());
    (None, text)
}

pub(super) fn map(json: &str, stamp: &Stamp, ctx: &MapContext) -> Result<Mapped, FieldError> {
    let o: Observation = parse(json)?;
    let code = o.code.as_ref().ok_or_else(|| FieldError::missing("code"))?;
    let code = code.to_code().ok_or_else(|| FieldError::invalid("code", "neither a coding with a code nor text"))?;
    let patient = patient_of(o.subject.as_ref(), "subject", ctx)?;
    if let Some(skip) = status_skip(o.status.as_deref()) {
        return Ok(Mapped::skip(skip));
    }
    let Some(time) = first_time(&[
        ("effectiveDateTime", o.effective_date_time.as_deref()),
        ("effectivePeriod.start", o.effective_period.as_ref().and_then(|p| p.start.as_deref())),
        ("effectiveInstant", o.effective_instant.as_deref()),
        ("issued", o.issued.as_deref()),
    ])?
    else {
        return Ok(Mapped::skip(SkipReason::NoTime));
    };
    let modality = observation_modality(&o.category);

    let mut events = Vec::with_capacity(1 + o.component.len());
    let (value, text) = value_of(
        o.value_quantity.as_ref(),
        o.value_codeable_concept.as_ref(),
        o.value_string.as_ref(),
        o.value_boolean,
        o.value_integer,
        o.value_date_time.as_ref(),
    );
    // The parent of components is a panel heading; alone it is the measurement.
    if value.is_some() || text.is_some() || o.component.is_empty() {
        let mut e = stamp.event(&patient, "value", time, code, modality, Phase::Point);
        e.value = value;
        e.text = text;
        events.push(e);
    }
    for (i, c) in o.component.iter().enumerate() {
        let field = format!("component[{i}].code");
        let code = c.code.as_ref().ok_or_else(|| FieldError::missing(&field))?;
        let code = code.to_code().ok_or_else(|| FieldError::invalid(&field, "neither a coding with a code nor text"))?;
        let (value, text) = value_of(
            c.value_quantity.as_ref(),
            c.value_codeable_concept.as_ref(),
            c.value_string.as_ref(),
            c.value_boolean,
            c.value_integer,
            c.value_date_time.as_ref(),
        );
        let mut e = stamp.event(&patient, &format!("component[{i}]"), time, code, modality, Phase::Point);
        e.value = value;
        e.text = text;
        events.push(e);
    }
    Ok(Mapped::events(events))
}

#[cfg(test)]
mod tests {
    use crate::event::Modality;
    use crate::fhir::map::testutil::map_json;

    #[test]
    fn quantity_keeps_value_unit_and_lab_modality() {
        let m = map_json(
            r#"{"resourceType":"Observation","id":"o1","status":"final",
                "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],
                "code":{"coding":[{"system":"http://loinc.org","code":"1988-5","display":"CRP"}]},
                "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2020-02-03T08:00:00Z",
                "valueQuantity":{"value":12.5,"unit":"mg/L"}}"#,
        )
        .unwrap();
        let e = &m.events[0];
        assert_eq!(e.modality, Modality::Lab);
        assert_eq!(e.value.as_ref().unwrap().value, 12.5);
        assert_eq!(e.value.as_ref().unwrap().unit.as_deref(), Some("mg/L"));
        assert_eq!(e.source.part, "value");
    }

    #[test]
    fn blood_pressure_yields_its_components() {
        let m = map_json(
            r#"{"resourceType":"Observation","id":"bp","status":"final",
                "code":{"coding":[{"system":"http://loinc.org","code":"55284-4"}]},
                "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2020-02-03",
                "component":[
                  {"code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"valueQuantity":{"value":120,"unit":"mmHg"}},
                  {"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":80,"unit":"mmHg"}}]}"#,
        )
        .unwrap();
        let parts: Vec<(&str, f64)> =
            m.events.iter().map(|e| (e.code.code.as_str(), e.value.as_ref().unwrap().value)).collect();
        assert_eq!(parts, [("8480-6", 120.0), ("8462-4", 80.0)]);
    }

    #[test]
    fn coded_and_string_values_become_text() {
        let m = map_json(
            r#"{"resourceType":"Observation","id":"o2","code":{"text":"Smoking status"},
                "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2020",
                "valueCodeableConcept":{"coding":[{"system":"http://snomed.info/sct","code":"8517006","display":"Ex-smoker"}]}}"#,
        )
        .unwrap();
        assert_eq!(m.events[0].text.as_deref(), Some("Ex-smoker"));
        assert_eq!(m.events[0].code.system, "urn:rdt:text");
    }

    #[test]
    fn a_string_where_a_number_belongs_names_the_field() {
        let e = map_json(
            r#"{"resourceType":"Observation","id":"o3","code":{"text":"CRP"},"subject":{"reference":"Patient/p1"},
                "effectiveDateTime":"2020","valueQuantity":{"value":"high"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("valueQuantity.value"));
    }
}
