//! DocumentReference and DiagnosticReport -> a note, from their text/plain content.
//!
//! The note's text is data for the encoders and for a clinician to read, never an
//! instruction to anything: it is stored verbatim and nothing in RDT executes it.

use base64::Engine as _;
use serde::Deserialize;

use super::{first_time, parse, patient_of, status_skip, MapContext, Mapped, SkipReason, Stamp};
use crate::event::{Code, Modality, Phase};
use crate::fhir::datatypes::{Attachment, CodeableConcept, Period, Reference};
use crate::fhir::error::FieldError;

/// LOINC's generic "Note", for documents that say nothing about their type.
const GENERIC_NOTE: (&str, &str, &str) = ("http://loinc.org", "34109-9", "Note");

#[derive(Deserialize)]
struct Content {
    attachment: Option<Attachment>,
}

#[derive(Deserialize)]
struct DocumentContext {
    period: Option<Period>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocumentReference {
    status: Option<String>,
    subject: Option<Reference>,
    #[serde(rename = "type")]
    type_: Option<CodeableConcept>,
    date: Option<String>,
    context: Option<DocumentContext>,
    #[serde(default)]
    content: Vec<Content>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DiagnosticReport {
    status: Option<String>,
    subject: Option<Reference>,
    code: Option<CodeableConcept>,
    effective_date_time: Option<String>,
    effective_period: Option<Period>,
    issued: Option<String>,
    conclusion: Option<String>,
    #[serde(default)]
    presented_form: Vec<Attachment>,
}

/// The text of the first text/plain attachment that has data, decoded.
fn plain_text<'a>(
    attachments: impl Iterator<Item = (String, &'a Attachment)>,
) -> Result<Option<String>, FieldError> {
    for (field, a) in attachments {
        let Some(data) = a.data.as_deref().filter(|_| a.is_plain_text()) else { continue };
        let field = format!("{field}.data");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| FieldError::invalid(&field, format!("not base64: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|_| FieldError::invalid(&field, "text/plain content is not UTF-8"))?;
        return Ok(Some(text));
    }
    Ok(None)
}

fn note_code(concept: Option<&CodeableConcept>) -> Code {
    concept.and_then(CodeableConcept::to_code).unwrap_or_else(|| Code {
        system: GENERIC_NOTE.0.into(),
        code: GENERIC_NOTE.1.into(),
        display: Some(GENERIC_NOTE.2.into()),
    })
}

pub(super) fn map_document_reference(json: &str, stamp: &Stamp, ctx: &MapContext) -> Result<Mapped, FieldError> {
    let d: DocumentReference = parse(json)?;
    let patient = patient_of(d.subject.as_ref(), "subject", ctx)?;
    if let Some(skip) = status_skip(d.status.as_deref()) {
        return Ok(Mapped::skip(skip));
    }
    let attachments = d
        .content
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.attachment.as_ref().map(|a| (format!("content[{i}].attachment"), a)));
    let Some(text) = plain_text(attachments)? else {
        return Ok(Mapped::skip(SkipReason::NoText));
    };
    let Some(time) = first_time(&[
        ("date", d.date.as_deref()),
        ("context.period.start", d.context.as_ref().and_then(|c| c.period.as_ref()).and_then(|p| p.start.as_deref())),
    ])?
    else {
        return Ok(Mapped::skip(SkipReason::NoTime));
    };
    let mut event = stamp.event(&patient, "text", time, note_code(d.type_.as_ref()), Modality::Note, Phase::Point);
    event.text = Some(text);
    Ok(Mapped::events(vec![event]))
}

pub(super) fn map_diagnostic_report(json: &str, stamp: &Stamp, ctx: &MapContext) -> Result<Mapped, FieldError> {
    let r: DiagnosticReport = parse(json)?;
    let patient = patient_of(r.subject.as_ref(), "subject", ctx)?;
    if let Some(skip) = status_skip(r.status.as_deref()) {
        return Ok(Mapped::skip(skip));
    }
    let forms = r.presented_form.iter().enumerate().map(|(i, a)| (format!("presentedForm[{i}]"), a));
    let text = match plain_text(forms)? {
        Some(text) => text,
        None => match r.conclusion.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            Some(conclusion) => conclusion.to_owned(),
            None => return Ok(Mapped::skip(SkipReason::NoText)),
        },
    };
    let Some(time) = first_time(&[
        ("effectiveDateTime", r.effective_date_time.as_deref()),
        ("effectivePeriod.start", r.effective_period.as_ref().and_then(|p| p.start.as_deref())),
        ("issued", r.issued.as_deref()),
    ])?
    else {
        return Ok(Mapped::skip(SkipReason::NoTime));
    };
    let mut event = stamp.event(&patient, "text", time, note_code(r.code.as_ref()), Modality::Note, Phase::Point);
    event.text = Some(text);
    Ok(Mapped::events(vec![event]))
}

#[cfg(test)]
mod tests {
    use crate::event::Modality;
    use crate::fhir::map::testutil::map_json;
    use crate::fhir::map::SkipReason;

    #[test]
    fn document_reference_text_is_decoded() {
        // "Knees swollen; CRP up." in base64
        let m = map_json(
            r#"{"resourceType":"DocumentReference","id":"d1","status":"current","subject":{"reference":"Patient/p1"},
                "date":"2021-04-01T09:00:00Z",
                "content":[{"attachment":{"contentType":"application/pdf","data":"JVBERi0="}},
                           {"attachment":{"contentType":"text/plain; charset=utf-8","data":"S25lZXMgc3dvbGxlbjsgQ1JQIHVwLg=="}}]}"#,
        )
        .unwrap();
        assert_eq!(m.events[0].modality, Modality::Note);
        assert_eq!(m.events[0].text.as_deref(), Some("Knees swollen; CRP up."));
        assert_eq!(m.events[0].code.code, "34109-9");
    }

    #[test]
    fn bad_base64_names_the_attachment() {
        let e = map_json(
            r#"{"resourceType":"DocumentReference","id":"d2","subject":{"reference":"Patient/p1"},"date":"2021",
                "content":[{"attachment":{"contentType":"text/plain","data":"@@not base64@@"}}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("content[0].attachment.data"));
    }

    #[test]
    fn lab_panel_report_without_text_is_skipped() {
        let m = map_json(
            r#"{"resourceType":"DiagnosticReport","id":"r1","status":"final","subject":{"reference":"Patient/p1"},
                "code":{"text":"CBC"},"effectiveDateTime":"2020","result":[{"reference":"Observation/o1"}]}"#,
        )
        .unwrap();
        assert_eq!(m.skipped, Some(SkipReason::NoText));
    }
}
