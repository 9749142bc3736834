//! Condition -> a diagnosis that starts at onset and, when abated, stops.

use serde::Deserialize;

use super::{first_time, parse, patient_of, status_skip, MapContext, Mapped, SkipReason, Stamp};
use crate::event::{Modality, Phase};
use crate::fhir::datatypes::{CodeableConcept, Period, Reference};
use crate::fhir::error::FieldError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Condition {
    subject: Option<Reference>,
    code: Option<CodeableConcept>,
    verification_status: Option<CodeableConcept>,
    onset_date_time: Option<String>,
    onset_period: Option<Period>,
    recorded_date: Option<String>,
    abatement_date_time: Option<String>,
    abatement_period: Option<Period>,
}

pub(super) fn map(json: &str, stamp: &Stamp, ctx: &MapContext) -> Result<Mapped, FieldError> {
    let c: Condition = parse(json)?;
    let patient = patient_of(c.subject.as_ref(), "subject", ctx)?;
    let verification = c.verification_status.as_ref().and_then(|v| v.coding.first()).and_then(|c| c.code.as_deref());
    if let Some(skip) = status_skip(verification) {
        return Ok(Mapped::skip(skip));
    }
    let Some(code) = c.code.as_ref().and_then(CodeableConcept::to_code) else {
        return Ok(Mapped::skip(SkipReason::NoCode));
    };
    let onset = first_time(&[
        ("onsetDateTime", c.onset_date_time.as_deref()),
        ("onsetPeriod.start", c.onset_period.as_ref().and_then(|p| p.start.as_deref())),
        ("recordedDate", c.recorded_date.as_deref()),
    ])?;
    let abatement = first_time(&[
        ("abatementDateTime", c.abatement_date_time.as_deref()),
        ("abatementPeriod.end", c.abatement_period.as_ref().and_then(|p| p.end.as_deref())),
    ])?;
    let mut events = Vec::new();
    if let Some(t) = onset {
        events.push(stamp.event(&patient, "onset", t, code.clone(), Modality::Diagnosis, Phase::Start));
    }
    if let Some(t) = abatement {
        events.push(stamp.event(&patient, "abatement", t, code, Modality::Diagnosis, Phase::Stop));
    }
    if events.is_empty() {
        return Ok(Mapped::skip(SkipReason::NoTime));
    }
    Ok(Mapped::events(events))
}

#[cfg(test)]
mod tests {
    use crate::event::Phase;
    use crate::fhir::map::testutil::map_json;
    use crate::fhir::map::SkipReason;

    #[test]
    fn onset_and_abatement_become_start_and_stop() {
        let m = map_json(
            r#"{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},
                "code":{"coding":[{"system":"urn:oid:1.2.250.1.213.2.5","code":"RA-LOCAL-7","display":"PR séropositive"}]},
                "onsetDateTime":"2019-05-01","abatementDateTime":"2021-01-01"}"#,
        )
        .unwrap();
        assert_eq!(m.events.len(), 2);
        assert_eq!(m.events[0].code.system, "urn:oid:1.2.250.1.213.2.5");
        assert_eq!(m.events[0].phase, Phase::Start);
        assert_eq!(m.events[1].phase, Phase::Stop);
    }

    #[test]
    fn missing_subject_is_an_error_and_refuted_is_skipped() {
        let e = map_json(r#"{"resourceType":"Condition","id":"c1","code":{"text":"RA"},"onsetDateTime":"2019"}"#)
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("subject"));
        let m = map_json(
            r#"{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"code":{"text":"RA"},
                "verificationStatus":{"coding":[{"code":"entered-in-error"}]},"onsetDateTime":"2019"}"#,
        )
        .unwrap();
        assert_eq!(m.skipped, Some(SkipReason::EnteredInError));
    }
}
