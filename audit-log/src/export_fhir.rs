//! The trail as FHIR R4: one `AuditEvent` per entry, plus a `Provenance` for entries
//! that produced something from versioned inputs (answers, tool calls with a
//! cohort, model registry changes).
//!
//! Each AuditEvent carries the entry's canonical bytes and leaf hash as entity
//! details, so a receiver can recompute the leaf hash and check an inclusion proof
//! (`rdt audit show SEQ`) against a signed tree head without trusting this export.
//! Codes from HL7 code systems where one fits; RDT's own concepts use `urn:rdt:*`
//! systems so no one mistakes them for a registered terminology.

use std::io::Write;

use serde_json::{json, Value};

use crate::entry::{AuditEntry, CohortRecord, EntryBody, EntryKind, NewEntry, Principal};
use crate::error::AuditError;
use crate::store::{AuditLog, StoredEntry};

const AUDIT_EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const ENTITY_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
const PARTICIPANT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/provenance-participant-type";
const KIND_SYSTEM: &str = "urn:rdt:audit-entry-kind";
const USER_SYSTEM: &str = "urn:rdt:user";
const ROLE_SYSTEM: &str = "urn:rdt:role";
const LOG_SYSTEM: &str = "urn:rdt:audit-log";
const SHA256_SYSTEM: &str = "urn:rdt:sha256";
const PSEUDONYM_SYSTEM: &str = "urn:rdt:patient-pseudonym";

/// How to write an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One `Bundle` of type `collection`.
    Json,
    /// One resource per line (FHIR Bulk Data).
    Ndjson,
}

/// The FHIR resources of one stored entry.
pub fn resources_for(stored: &StoredEntry) -> Result<Vec<Value>, AuditError> {
    let entry = stored.parse()?;
    let leaf = stored.computed_leaf_hash();
    let mut out = vec![audit_event(&entry, &stored.text, &leaf.to_hex())];
    if let Some(p) = provenance(&entry) {
        out.push(p);
    }
    Ok(out)
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error("writing the export: {0}")]
    Write(#[from] std::io::Error),
}

/// Writes entries `from..to` (`to` clamped to the log's size, default all) of `log` to
/// `sink` in `format`, then records the export as an `audit_export` access entry by
/// `by`: data leaving the system is itself a step of the trail. Returns how many
/// entries were exported.
pub async fn export(
    log: &AuditLog,
    by: Principal,
    format: ExportFormat,
    from: u64,
    to: Option<u64>,
    sink: &mut dyn Write,
) -> Result<u64, ExportError> {
    let size = log.size().await?;
    let to = to.unwrap_or(size).min(size);
    let mut bundle_entries = Vec::new();
    let mut count = 0u64;
    let mut next = from;
    while next < to {
        let page = log.range(next, to.min(next + 10_000)).await?;
        next = to.min(next + 10_000);
        for stored in page {
            for resource in resources_for(&stored)? {
                match format {
                    ExportFormat::Ndjson => {
                        serde_json::to_writer(&mut *sink, &resource).map_err(std::io::Error::from)?;
                        writeln!(sink)?;
                    }
                    ExportFormat::Json => bundle_entries.push(resource),
                }
            }
            count += 1;
        }
    }
    if format == ExportFormat::Json {
        serde_json::to_writer_pretty(&mut *sink, &bundle(bundle_entries)).map_err(std::io::Error::from)?;
        writeln!(sink)?;
    }
    sink.flush()?;
    let detail = format!("{count} entries (#{from}..#{to}) as {format:?}");
    log.append(NewEntry::new(by, EntryBody::Access { action: "audit_export".into(), detail: Some(detail) })).await?;
    Ok(count)
}

/// A `collection` Bundle around resources.
pub fn bundle(resources: Vec<Value>) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "entry": resources.into_iter().map(|r| json!({ "resource": r })).collect::<Vec<_>>(),
    })
}

fn event_id(entry: &AuditEntry) -> String {
    format!("rdt-audit-{}", entry.seq.0)
}

fn event_type(kind: EntryKind) -> Value {
    match kind {
        EntryKind::Import | EntryKind::TerminologyImported => {
            json!({"system": DICOM, "code": "110107", "display": "Import"})
        }
        EntryKind::Access => json!({"system": DICOM, "code": "110110", "display": "Patient Record"}),
        EntryKind::ModelPinned
        | EntryKind::ModelActivated
        | EntryKind::ModelRolledBack
        | EntryKind::ModelRetired
        | EntryKind::ModelLoaded => {
            json!({"system": DICOM, "code": "110131", "display": "Software Configuration"})
        }
        EntryKind::Question | EntryKind::ToolCall | EntryKind::Answer | EntryKind::Refusal => {
            json!({"system": AUDIT_EVENT_TYPE, "code": "rest", "display": "RESTful Operation"})
        }
        EntryKind::DriftNotice => json!({"system": DICOM, "code": "110100", "display": "Application Activity"}),
    }
}

/// FHIR `AuditEvent.action`: C create, R read, U update, E execute.
fn action(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Import | EntryKind::TerminologyImported | EntryKind::ModelPinned => "C",
        EntryKind::Access => "R",
        EntryKind::ModelActivated | EntryKind::ModelRolledBack | EntryKind::ModelRetired | EntryKind::ModelLoaded => "U",
        EntryKind::Question | EntryKind::ToolCall | EntryKind::Answer | EntryKind::Refusal | EntryKind::DriftNotice => {
            "E"
        }
    }
}

fn who(entry: &AuditEntry) -> Value {
    json!({"identifier": {"system": USER_SYSTEM, "value": entry.principal.user}, "display": entry.principal.user})
}

fn detail(kind: &str, value: impl Into<String>) -> Value {
    json!({"type": kind, "valueString": value.into()})
}

fn audit_event(entry: &AuditEntry, text: &str, leaf_hex: &str) -> Value {
    let kind = entry.kind();
    let mut entities: Vec<Value> = entry
        .patients
        .iter()
        .map(|p| {
            json!({
                "what": {"reference": format!("Patient/{p}")},
                "type": {"system": ENTITY_TYPE, "code": "1", "display": "Person"},
            })
        })
        .collect();
    let mut details = vec![detail("seq", entry.seq.0.to_string()), detail("leaf_hash", leaf_hex), detail("entry", text)];
    if let Some(session) = &entry.session {
        details.push(detail("session", session.0.clone()));
    }
    match &entry.body {
        EntryBody::Question { question, .. } => details.push(detail("question", question.clone())),
        EntryBody::ToolCall { tool, .. } => {
            details.push(detail("tool", tool.name.clone()));
            details.push(detail("result_digest", tool.result_digest.to_hex()));
        }
        EntryBody::Answer { answer, model, .. } => {
            details.push(detail("answer", answer.clone()));
            details.push(detail("model_sha256", model.model_sha256.to_hex()));
            details.push(detail("prompt_version", model.prompt_version.to_hex()));
            if let Some(engine) = &model.engine {
                details.push(detail("engine", engine.clone()));
            }
        }
        EntryBody::Refusal { reason } => details.push(detail("reason", reason.clone())),
        EntryBody::Access { action, .. } => details.push(detail("action", action.clone())),
        EntryBody::Import { import } => {
            details.push(detail("files", import.files.len().to_string()));
            details.push(detail("events", import.events.to_string()));
        }
        EntryBody::TerminologyImported { map } => {
            details.push(detail("concept_map", map.url.clone()));
            details.push(detail("sha256", map.sha256.clone()));
            details.push(detail("entries", map.entries.to_string()));
        }
        EntryBody::ModelPinned { change }
        | EntryBody::ModelActivated { change }
        | EntryBody::ModelRolledBack { change }
        | EntryBody::ModelRetired { change } => {
            details.push(detail("artifact_kind", change.artifact.kind.as_str()));
            details.push(detail("artifact_sha256", change.artifact.sha256.to_hex()));
            details.push(detail("reason", change.reason.clone()));
        }
        EntryBody::ModelLoaded { load } => {
            details.push(detail("artifact_kind", load.artifact.kind.as_str()));
            details.push(detail("artifact_sha256", load.artifact.sha256.to_hex()));
            if let Some(previous) = load.previous {
                details.push(detail("previous_sha256", previous.to_hex()));
            }
            details.push(detail("reason", load.reason.clone()));
        }
        EntryBody::DriftNotice { drift } => {
            details.push(detail("twin_sha256", drift.twin_version.to_hex()));
            details.push(detail("new_patients", drift.new_patients.to_string()));
            details.push(detail("notice", drift.notice.clone()));
        }
    }
    entities.push(json!({
        "what": {"identifier": {"system": LOG_SYSTEM, "value": entry.seq.0.to_string()}},
        "name": format!("audit entry #{}", entry.seq.0),
        "detail": details,
    }));
    json!({
        "resourceType": "AuditEvent",
        "id": event_id(entry),
        "type": event_type(kind),
        "subtype": [{"system": KIND_SYSTEM, "code": kind.as_str()}],
        "action": action(kind),
        "recorded": crate::entry::time_format::format(&entry.time),
        // 0 = success; refusals are successful audit records of a refusal.
        "outcome": "0",
        "agent": [{
            "who": who(entry),
            "role": [{"coding": [{"system": ROLE_SYSTEM, "code": entry.principal.role.as_str()}]}],
            "requestor": true,
        }],
        "source": {"observer": {"display": "rdt"}},
        "entity": entities,
    })
}

fn sha_identifier(label: &str, hex: String) -> Value {
    json!({"identifier": {"system": SHA256_SYSTEM, "value": hex}, "display": label})
}

fn cohort_entities(cohort: &CohortRecord, out: &mut Vec<Value>) {
    out.push(json!({"role": "source", "what": sha_identifier("encoder", cohort.encoder_version.to_hex())}));
    out.push(json!({
        "role": "source",
        "what": {"identifier": {"system": "urn:rdt:index-version", "value": cohort.index_version}, "display": "neighbour index"},
    }));
    for n in &cohort.neighbours {
        out.push(json!({
            "role": "source",
            "what": {"identifier": {"system": PSEUDONYM_SYSTEM, "value": n.id}, "display": "neighbour"},
            "extension": [{"url": "urn:rdt:fhir:neighbour-distance", "valueDecimal": n.distance}],
        }));
    }
}

fn provenance(entry: &AuditEntry) -> Option<Value> {
    let mut entities = Vec::new();
    let mut agents = vec![json!({
        "type": {"coding": [{"system": PARTICIPANT_TYPE, "code": "enterer"}]},
        "who": who(entry),
    })];
    match &entry.body {
        EntryBody::Answer { model, cohort, .. } => {
            agents.push(json!({
                "type": {"coding": [{"system": PARTICIPANT_TYPE, "code": "assembler"}]},
                "who": sha_identifier("LLM", model.model_sha256.to_hex()),
            }));
            entities.push(json!({"role": "source", "what": sha_identifier("prompt", model.prompt_version.to_hex())}));
            if let Some(c) = cohort {
                cohort_entities(c, &mut entities);
            }
        }
        EntryBody::ToolCall { tool, cohort: Some(c) } => {
            entities.push(json!({"role": "derivation", "what": sha_identifier(&tool.name, tool.result_digest.to_hex())}));
            cohort_entities(c, &mut entities);
        }
        EntryBody::ModelPinned { change }
        | EntryBody::ModelActivated { change }
        | EntryBody::ModelRolledBack { change }
        | EntryBody::ModelRetired { change } => {
            entities.push(json!({
                "role": "source",
                "what": sha_identifier(&format!("{} {}", change.artifact.kind, change.artifact.name), change.artifact.sha256.to_hex()),
            }));
            if let Some(prev) = change.previous_active {
                entities.push(json!({"role": "revision", "what": sha_identifier("previously active", prev.to_hex())}));
            }
        }
        EntryBody::ModelLoaded { load } => {
            entities.push(json!({
                "role": "source",
                "what": sha_identifier(&format!("{} {}", load.artifact.kind, load.artifact.name), load.artifact.sha256.to_hex()),
            }));
            if let Some(prev) = load.previous {
                entities.push(json!({"role": "revision", "what": sha_identifier("previously running", prev.to_hex())}));
            }
        }
        _ => return None,
    }
    Some(json!({
        "resourceType": "Provenance",
        "id": format!("{}-provenance", event_id(entry)),
        "target": [{"reference": format!("AuditEvent/{}", event_id(entry))}],
        "recorded": crate::entry::time_format::format(&entry.time),
        "agent": agents,
        "entity": entities,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::entry_text;
    use crate::digest::Digest;
    use crate::entry::{ModelVersions, Neighbour, NewEntry, Principal, Role, Seq};
    use crate::merkle::leaf_hash;

    fn stored(body: EntryBody) -> StoredEntry {
        let entry = AuditEntry::place(
            NewEntry::new(Principal::new("dr.a", Role::Clinician), body).patients(["p1"]).session("s"),
            Seq(5),
            None,
            chrono::Utc::now(),
        );
        let text = entry_text(&entry);
        StoredEntry { seq: Seq(5), kind: entry.kind().as_str().into(), leaf_hash: leaf_hash(text.as_bytes()).0.to_vec(), text }
    }

    /// An answer exports as an AuditEvent naming the patient and carrying the
    /// entry bytes whose leaf hash it states, plus a Provenance pointing at it.
    #[test]
    fn answer_exports_audit_event_and_provenance() {
        let s = stored(EntryBody::Answer {
            answer: "DAS28 improved".into(),
            model: ModelVersions { model_sha256: Digest::of(b"gguf"), prompt_version: Digest::of(b"prompt"), engine: None },
            cohort: Some(CohortRecord {
                neighbours: vec![Neighbour::new("n1", 0.25)],
                index_version: "idx1".into(),
                encoder_version: Digest::of(b"enc"),
            }),
        });
        let res = resources_for(&s).unwrap();
        assert_eq!(res.len(), 2);
        let (ev, prov) = (&res[0], &res[1]);
        assert_eq!(ev["resourceType"], "AuditEvent");
        assert_eq!(ev["entity"][0]["what"]["reference"], "Patient/p1");
        let details = ev["entity"][1]["detail"].as_array().unwrap();
        let get = |k: &str| details.iter().find(|d| d["type"] == k).unwrap()["valueString"].as_str().unwrap().to_owned();
        assert_eq!(leaf_hash(get("entry").as_bytes()).to_hex(), get("leaf_hash"));
        assert_eq!(prov["target"][0]["reference"], format!("AuditEvent/{}", ev["id"].as_str().unwrap()));
        let ids: Vec<&str> = prov["entity"].as_array().unwrap().iter().filter_map(|e| e["what"]["identifier"]["value"].as_str()).collect();
        assert!(ids.contains(&"n1"));
        assert!(ids.contains(&Digest::of(b"prompt").to_hex().as_str()));
    }

    #[test]
    fn a_question_has_no_provenance_and_bundles_wrap_resources() {
        let res = resources_for(&stored(EntryBody::Question { question: "q?".into(), reading: None, follows: None })).unwrap();
        assert_eq!(res.len(), 1);
        let b = bundle(res);
        assert_eq!(b["entry"][0]["resource"]["action"], "E");
    }
}
