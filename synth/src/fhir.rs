//! FHIR R4 resources built from a chart, one NDJSON line each.
//!
//! Typed structs rather than `json!` maps: the shape of every resource is checked by
//! the compiler, field order is fixed (so output is byte-stable), and serialising is
//! several times faster, which is most of the 10,000-patient budget.
//!
//! What each resource carries is what RDT's importer reads (docs/virtual-cohort.md,
//! "FHIR shape"): ids unique per resource, `Patient/<id>` subjects, observations with
//! `effectiveDateTime`, a coded `code`, a UCUM `valueQuantity` and a category; notes
//! as base64 `text/plain` attachments; medication courses as `MedicationStatement`s.

use base64::Engine as _;
use chrono::NaiveDate;
use serde::Serialize;

use crate::chart::{Chart, VisitKind, When};
use crate::codes::{ICD10CM, LOCAL, LOINC, RXNORM, UCUM};
use crate::error::SynthError;

/// The system of RDT's synthetic-data tag on every Patient.
pub const SYNTHETIC_TAG_SYSTEM: &str = "urn:rdt:synth";

/// One patient's resources, serialised: one string per output file, lines ending in '\n'.
#[derive(Debug, Default, Clone)]
pub struct PatientLines {
    pub patient: String,
    pub condition: String,
    pub encounter: String,
    pub observation: String,
    pub medication_statement: String,
    pub document_reference: String,
    pub counts: ResourceCounts,
}

/// How many resources (and importer-relevant parts) one patient or cohort has.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ResourceCounts {
    pub patient: u64,
    pub condition: u64,
    pub encounter: u64,
    pub observation: u64,
    pub medication_statement: u64,
    pub document_reference: u64,
    /// Medication courses with an end date (each gives a stop event on import).
    pub medication_stopped: u64,
}

impl ResourceCounts {
    pub fn add(&mut self, o: &ResourceCounts) {
        self.patient += o.patient;
        self.condition += o.condition;
        self.encounter += o.encounter;
        self.observation += o.observation;
        self.medication_statement += o.medication_statement;
        self.document_reference += o.document_reference;
        self.medication_stopped += o.medication_stopped;
    }

    /// The count per FHIR resource type, in the order the summaries print them.
    pub fn by_type(&self) -> [(&'static str, u64); 6] {
        [
            ("Patient", self.patient),
            ("Condition", self.condition),
            ("Encounter", self.encounter),
            ("Observation", self.observation),
            ("MedicationStatement", self.medication_statement),
            ("DocumentReference", self.document_reference),
        ]
    }

    pub fn resources(&self) -> u64 {
        self.by_type().iter().map(|(_, n)| n).sum()
    }
}

#[derive(Serialize)]
struct Coding<'a> {
    system: &'a str,
    code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'a str>,
}

#[derive(Serialize)]
struct Concept<'a> {
    coding: [Coding<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

impl<'a> Concept<'a> {
    fn new(system: &'a str, code: &'a str, display: Option<&'a str>) -> Self {
        Concept { coding: [Coding { system, code, display }], text: None }
    }
}

#[derive(Serialize)]
struct Reference {
    reference: String,
}

#[derive(Serialize)]
struct TextConcept<'a> {
    text: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PatientResource<'a> {
    resource_type: &'static str,
    id: &'a str,
    meta: Meta<'a>,
    identifier: [Identifier<'a>; 1],
    name: [HumanName<'a>; 1],
    gender: &'static str,
    birth_date: NaiveDate,
}

#[derive(Serialize)]
struct Meta<'a> {
    tag: [Coding<'a>; 1],
}

#[derive(Serialize)]
struct Identifier<'a> {
    system: &'static str,
    value: &'a str,
}

#[derive(Serialize)]
struct HumanName<'a> {
    #[serde(rename = "use")]
    use_: &'static str,
    family: &'a str,
    given: [&'a str; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConditionResource<'a> {
    resource_type: &'static str,
    id: String,
    clinical_status: Concept<'a>,
    verification_status: Concept<'a>,
    category: [Concept<'a>; 1],
    code: Concept<'a>,
    subject: &'a Reference,
    onset_date_time: String,
    recorded_date: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EncounterResource<'a> {
    resource_type: &'static str,
    id: String,
    status: &'static str,
    class: Coding<'a>,
    #[serde(rename = "type")]
    type_: [Concept<'a>; 1],
    subject: &'a Reference,
    period: Period,
}

#[derive(Serialize)]
struct Period {
    start: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    end: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObservationResource<'a> {
    resource_type: &'static str,
    id: String,
    status: &'static str,
    category: Vec<Concept<'a>>,
    code: Concept<'a>,
    subject: &'a Reference,
    #[serde(skip_serializing_if = "Option::is_none")]
    encounter: Option<Reference>,
    effective_date_time: &'a str,
    value_quantity: Quantity<'a>,
}

#[derive(Serialize)]
struct Quantity<'a> {
    value: f64,
    unit: &'a str,
    system: &'static str,
    code: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MedicationStatementResource<'a> {
    resource_type: &'static str,
    id: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_reason: Option<[TextConcept<'a>; 1]>,
    category: Concept<'a>,
    medication_codeable_concept: Concept<'a>,
    subject: &'a Reference,
    effective_period: Period,
    date_asserted: String,
    dosage: [TextConcept<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DocumentReferenceResource<'a> {
    resource_type: &'static str,
    id: String,
    status: &'static str,
    #[serde(rename = "type")]
    type_: Concept<'a>,
    subject: &'a Reference,
    date: String,
    author: [Display<'a>; 1],
    content: [Content; 1],
    context: DocumentContext,
}

#[derive(Serialize)]
struct Display<'a> {
    display: &'a str,
}

#[derive(Serialize)]
struct Content {
    attachment: Attachment,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Attachment {
    content_type: &'static str,
    data: String,
}

#[derive(Serialize)]
struct DocumentContext {
    encounter: [Reference; 1],
}

/// `YYYY-MM-DDTHH:MM:00Z` for a chart moment.
fn instant(chart: &Chart, when: When) -> String {
    format!("{}T{:02}:{:02}:00Z", chart.date(when.day), when.minute / 60, when.minute % 60)
}

fn push_line<T: Serialize>(out: &mut String, resource_type: &'static str, value: &T) -> Result<(), SynthError> {
    // Writing into a Vec never fails for I/O reasons; only a serialiser bug could.
    let mut buf = std::mem::take(out).into_bytes();
    serde_json::to_writer(&mut buf, value).map_err(|source| SynthError::Serialize { resource_type, source })?;
    buf.push(b'\n');
    // serde_json writes valid UTF-8 and the buffer started as a String.
    *out = String::from_utf8(buf).expect("serde_json writes UTF-8");
    Ok(())
}

/// All resources of one chart, serialised.
pub fn patient_lines(chart: &Chart, coding: crate::codes::Coding) -> Result<PatientLines, SynthError> {
    let mut lines = PatientLines::default();
    let pid = chart.patient_id.as_str();
    let subject = Reference { reference: format!("Patient/{pid}") };
    let d = &chart.demographics;

    push_line(
        &mut lines.patient,
        "Patient",
        &PatientResource {
            resource_type: "Patient",
            id: pid,
            meta: Meta { tag: [Coding { system: SYNTHETIC_TAG_SYSTEM, code: "synthetic", display: Some("Virtual patient (RDT synth)") }] },
            identifier: [Identifier { system: "urn:rdt:synth:mrn", value: pid }],
            name: [HumanName { use_: "official", family: d.family, given: [d.given] }],
            gender: d.sex.fhir(),
            birth_date: d.birth_date,
        },
    )?;
    lines.counts.patient = 1;

    for (i, dx) in chart.diagnoses.iter().enumerate() {
        push_line(
            &mut lines.condition,
            "Condition",
            &ConditionResource {
                resource_type: "Condition",
                id: format!("{pid}-cond-{i}"),
                clinical_status: Concept::new("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", None),
                verification_status: Concept::new(
                    "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "confirmed",
                    None,
                ),
                category: [Concept::new(
                    "http://terminology.hl7.org/CodeSystem/condition-category",
                    "problem-list-item",
                    Some("Problem List Item"),
                )],
                code: Concept::new(ICD10CM, dx.code.code, Some(dx.code.display)),
                subject: &subject,
                onset_date_time: format!("{}T00:00:00Z", chart.date(dx.onset_day)),
                recorded_date: instant(chart, dx.recorded),
            },
        )?;
    }
    lines.counts.condition = chart.diagnoses.len() as u64;

    let encounter_id = |v: usize| format!("{pid}-enc-{v}");
    for (v, visit) in chart.visits.iter().enumerate() {
        let (code, display) = match visit.kind {
            VisitKind::NewPatient => ("rheum-new-patient", "Rheumatology new patient visit"),
            VisitKind::FollowUp => ("rheum-follow-up", "Rheumatology follow-up visit"),
            VisitKind::Unscheduled => ("rheum-unscheduled", "Rheumatology unscheduled visit"),
        };
        let end = When::new(visit.when.day, visit.when.minute + if visit.kind == VisitKind::NewPatient { 45 } else { 20 });
        push_line(
            &mut lines.encounter,
            "Encounter",
            &EncounterResource {
                resource_type: "Encounter",
                id: encounter_id(v),
                status: "finished",
                class: Coding { system: "http://terminology.hl7.org/CodeSystem/v3-ActCode", code: "AMB", display: Some("ambulatory") },
                type_: [Concept::new(LOCAL, code, Some(display))],
                subject: &subject,
                period: Period { start: instant(chart, visit.when), end: Some(instant(chart, end)) },
            },
        )?;
    }
    lines.counts.encounter = chart.visits.len() as u64;

    // Visits share their timestamp across many observations: format each once.
    let mut stamp_cache: Option<(When, String)> = None;
    for (i, m) in chart.measurements.iter().enumerate() {
        let def = m.measure.written(coding);
        let stamp = match &stamp_cache {
            Some((w, s)) if *w == m.when => s.clone(),
            _ => {
                let s = instant(chart, m.when);
                stamp_cache = Some((m.when, s.clone()));
                s
            }
        };
        push_line(
            &mut lines.observation,
            "Observation",
            &ObservationResource {
                resource_type: "Observation",
                id: format!("{pid}-obs-{i}"),
                status: "final",
                category: def.categories.iter().map(|(system, code)| Concept::new(system, code, None)).collect(),
                code: Concept::new(def.system, &def.code, Some(def.display)),
                subject: &subject,
                encounter: m.visit.map(|v| Reference { reference: format!("Encounter/{}", encounter_id(v)) }),
                effective_date_time: &stamp,
                value_quantity: Quantity {
                    value: m.measure.written_value(coding, m.value),
                    unit: def.unit,
                    system: UCUM,
                    code: def.ucum,
                },
            },
        )?;
    }
    lines.counts.observation = chart.measurements.len() as u64;

    for (i, c) in chart.medications.iter().enumerate() {
        let reason = c.stop_reason.as_ref().map(|r| r.text());
        let status = match (&c.end, &c.stop_reason) {
            (Some(_), Some(r)) => r.status(),
            _ => "active",
        };
        push_line(
            &mut lines.medication_statement,
            "MedicationStatement",
            &MedicationStatementResource {
                resource_type: "MedicationStatement",
                id: format!("{pid}-med-{i}"),
                status,
                status_reason: reason.as_deref().map(|text| [TextConcept { text }]),
                category: Concept::new(
                    "http://terminology.hl7.org/CodeSystem/medication-statement-category",
                    "outpatient",
                    Some("Outpatient"),
                ),
                medication_codeable_concept: Concept::new(RXNORM, c.drug.rxnorm(), Some(c.drug.name())),
                subject: &subject,
                effective_period: Period {
                    start: instant(chart, c.start),
                    end: c.end.map(|e| instant(chart, e)),
                },
                date_asserted: instant(chart, c.start),
                dosage: [TextConcept { text: &c.dose }],
            },
        )?;
        if c.end.is_some() {
            lines.counts.medication_stopped += 1;
        }
    }
    lines.counts.medication_statement = chart.medications.len() as u64;

    for (i, note) in chart.notes.iter().enumerate() {
        push_line(
            &mut lines.document_reference,
            "DocumentReference",
            &DocumentReferenceResource {
                resource_type: "DocumentReference",
                id: format!("{pid}-note-{i}"),
                status: "current",
                type_: Concept::new(LOINC, "11506-3", Some("Progress note")),
                subject: &subject,
                date: instant(chart, note.when),
                author: [Display { display: note.author }],
                content: [Content {
                    attachment: Attachment {
                        content_type: "text/plain",
                        data: base64::engine::general_purpose::STANDARD.encode(note.text.as_bytes()),
                    },
                }],
                context: DocumentContext { encounter: [Reference { reference: format!("Encounter/{}", encounter_id(note.visit)) }] },
            },
        )?;
    }
    lines.counts.document_reference = chart.notes.len() as u64;
    Ok(lines)
}
