//! Input text -> mapped resources, in parallel, with each result tied to its place.
//!
//! Two layouts exist: a JSON document (a Bundle, as Synthea and FHIR servers write
//! them, or a single resource) and Bulk Data NDJSON (one resource per line). Both end
//! in [`parse_resource`], which reads `resourceType` and `id` first and runs a full
//! mapper only for types RDT imports, so a Claim-heavy export costs little.

use std::ops::Range;
use std::path::Path;

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::datatypes::ResourceHead;
use super::error::{ImportError, Location, Problem};
use super::map::{map_resource, MapContext, Mapped, References, SkipReason};
use super::resource_types::is_r4_resource_type;
use crate::event::{is_fhir_id, FHIR_ID_RULE, SourceName};

/// How a file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// One resource per line (`.ndjson`, `.jsonl`).
    Ndjson,
    /// One JSON document: a Bundle or a single resource.
    Document,
}

impl Layout {
    pub fn of(path: &Path) -> Layout {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
        if ext == "ndjson" || ext == "jsonl" {
            Layout::Ndjson
        } else {
            Layout::Document
        }
    }
}

/// One resource, mapped, with where it was.
#[derive(Debug)]
pub struct Parsed {
    pub location: Location,
    pub resource_type: String,
    pub resource_id: String,
    pub mapped: Mapped,
}

/// Where a place in the file is, for errors: the caller knows the file.
fn error_at(location: Location, problem: Problem) -> ImportError {
    ImportError { file: Default::default(), location, resource_type: None, resource_id: None, field: None, problem }
}

/// The 1-based line numbers and byte ranges of an NDJSON text's non-blank lines.
pub fn ndjson_lines(text: &str) -> Vec<(usize, Range<usize>)> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, line) in text.split('\n').enumerate() {
        let end = start + line.len();
        if !line.trim().is_empty() {
            lines.push((i + 1, start..end));
        }
        start = end + 1;
    }
    lines
}

/// Parses a block of NDJSON lines in parallel, in order.
pub fn parse_ndjson_block(
    text: &str,
    lines: &[(usize, Range<usize>)],
    file: &str,
    source: &SourceName,
) -> Vec<Result<Parsed, ImportError>> {
    let references = References::default();
    let ctx = MapContext { file, source, references: &references };
    lines
        .par_iter()
        .map(|(line, range)| parse_resource(&text[range.clone()], Location::Line(*line), None, &ctx))
        .collect()
}

/// A JSON document read in one pass: its type, and for a Bundle its entries, each
/// kept as raw text to be parsed in parallel.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a> {
    resource_type: Option<String>,
    #[serde(borrow, default)]
    entry: Vec<BundleEntry<'a>>,
}

#[derive(Deserialize)]
struct BundleEntry<'a> {
    #[serde(rename = "fullUrl")]
    full_url: Option<String>,
    #[serde(borrow)]
    resource: Option<&'a RawValue>,
}

/// Parses a JSON document: every entry of a Bundle (in parallel), or one resource.
/// A document that is not JSON, not an object or not FHIR is one error for the file.
pub fn parse_document(text: &str, file: &str, source: &SourceName) -> Vec<Result<Parsed, ImportError>> {
    let document: Document = match serde_json::from_str(text) {
        Ok(d) => d,
        Err(e) => return vec![Err(document_error(e))],
    };
    if document.resource_type.as_deref() != Some("Bundle") {
        let references = References::default();
        let ctx = MapContext { file, source, references: &references };
        return vec![parse_resource(text, Location::File, None, &ctx)];
    }
    // First pass: type and id of every entry, so `urn:uuid:` references resolve.
    let heads: Vec<Option<Result<ResourceHead, serde_json::Error>>> =
        document.entry.par_iter().map(|e| e.resource.map(|r| bundle_entry_head(r.get()))).collect();
    let mut references = References::default();
    for (entry, head) in document.entry.iter().zip(&heads) {
        if let (Some(url), Some(Ok(ResourceHead { resource_type: Some(t), id, .. }))) = (&entry.full_url, head) {
            let id = id.clone().or_else(|| id_from_full_url(url));
            if let Some(id) = id {
                references.insert_full_url(url.clone(), t.clone(), id);
            }
        }
    }
    let ctx = MapContext { file, source, references: &references };
    document
        .entry
        .into_par_iter()
        .zip(heads)
        .enumerate()
        .filter_map(|(i, (entry, head))| {
            // An entry without a resource (a DELETE in a transaction) has nothing to import.
            let resource = entry.resource?;
            let head = head.expect("an entry with a resource has a head result");
            let fallback_id = entry.full_url.as_deref().and_then(id_from_full_url);
            Some(map_with_head(resource.get(), head, Location::Entry(i), fallback_id.as_deref(), &ctx))
        })
        .collect()
}

/// The head of a Bundle entry whose JSON syntax the document parse already checked.
///
/// Claims and ExplanationOfBenefits make up half the bytes of a Synthea export and
/// are never imported: when `resourceType` comes first, as exporters write it, their
/// type is read from the first few bytes instead of scanning the whole resource. Their
/// id then comes from the entry's `fullUrl`, which is all a reference to them needs.
fn bundle_entry_head(json: &str) -> Result<ResourceHead, serde_json::Error> {
    match leading_resource_type(json) {
        Some(t) if !is_imported(t) => Ok(ResourceHead { resource_type: Some(t.to_owned()), id: None }),
        _ => serde_json::from_str(json),
    }
}

/// `X` when the object starts `{"resourceType": "X"` (no escapes), else `None`.
fn leading_resource_type(json: &str) -> Option<&str> {
    let rest = json.trim_start().strip_prefix('{')?.trim_start().strip_prefix("\"resourceType\"")?;
    let rest = rest.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let end = rest.find(['"', '\\'])?;
    (rest.as_bytes()[end] == b'"').then(|| &rest[..end])
}

/// The id a `urn:uuid:` or `.../Type/id` fullUrl carries, for entries without `id`.
fn id_from_full_url(url: &str) -> Option<String> {
    let id = url.strip_prefix("urn:uuid:").or_else(|| url.rsplit('/').next())?;
    (!id.is_empty()).then(|| id.to_owned())
}

/// A document that could not be read at all: where serde_json stopped, and why.
fn document_error(e: serde_json::Error) -> ImportError {
    let location = if e.line() > 0 { Location::Text { line: e.line(), column: e.column() } } else { Location::File };
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
    let problem = if e.is_data() {
        Problem::NotFhir(format!("expected a JSON object with a resourceType ({message})"))
    } else if e.is_eof() {
        Problem::Json(format!("{message} (is the file truncated?)"))
    } else {
        Problem::Json(message)
    };
    error_at(location, problem)
}

/// Types with a mapper; any other R4 type is counted and skipped without a full parse.
fn is_imported(resource_type: &str) -> bool {
    matches!(
        resource_type,
        "Patient"
            | "Condition"
            | "Observation"
            | "Medication"
            | "MedicationRequest"
            | "MedicationStatement"
            | "Procedure"
            | "Encounter"
            | "DocumentReference"
            | "DiagnosticReport"
            | "Immunization"
            | "AllergyIntolerance"
    )
}

/// One resource's JSON -> its mapping, or an error naming type, id and field.
pub fn parse_resource(
    json: &str,
    location: Location,
    fallback_id: Option<&str>,
    ctx: &MapContext,
) -> Result<Parsed, ImportError> {
    map_with_head(json, serde_json::from_str(json), location, fallback_id, ctx)
}

/// [`parse_resource`] for a resource whose head was already read.
fn map_with_head(
    json: &str,
    head: Result<ResourceHead, serde_json::Error>,
    location: Location,
    fallback_id: Option<&str>,
    ctx: &MapContext,
) -> Result<Parsed, ImportError> {
    let head = head.map_err(|e| {
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
        let problem = match (e.is_data(), e.is_eof()) {
            (true, _) => Problem::NotFhir(format!("expected a JSON object with a resourceType ({message})")),
            (false, true) => Problem::Json(format!("{message} (is the line truncated?)")),
            (false, false) => Problem::Json(message),
        };
        error_at(location, problem)
    })?;
    let Some(resource_type) = head.resource_type.filter(|t| !t.is_empty()) else {
        return Err(ImportError {
            resource_id: head.id,
            field: Some("resourceType".into()),
            ..error_at(location, Problem::NotFhir("no resourceType".into()))
        });
    };
    if !is_r4_resource_type(&resource_type) {
        return Err(ImportError {
            resource_id: head.id,
            field: Some("resourceType".into()),
            ..error_at(location, Problem::UnknownResourceType(resource_type))
        });
    }
    let Some(id) = head.id.filter(|id| !id.trim().is_empty()).or_else(|| fallback_id.map(str::to_owned)) else {
        if !is_imported(&resource_type) {
            // Nothing of it is stored, so nothing needs to recognise it on re-import.
            return Ok(Parsed {
                location,
                resource_type,
                resource_id: String::new(),
                mapped: Mapped { skipped: Some(SkipReason::TypeNotImported), ..Default::default() },
            });
        }
        return Err(ImportError {
            resource_type: Some(resource_type),
            field: Some("id".into()),
            ..error_at(location, Problem::Invalid("missing: needed to recognise the resource on re-import".into()))
        });
    };
    if !is_imported(&resource_type) {
        return Ok(Parsed {
            location,
            resource_type,
            resource_id: id,
            mapped: Mapped { skipped: Some(SkipReason::TypeNotImported), ..Default::default() },
        });
    }
    // The id becomes a key in the store and a path segment in the pages' links.
    if !is_fhir_id(&id) {
        return Err(ImportError {
            resource_type: Some(resource_type),
            resource_id: Some(id.clone()),
            field: Some("id".into()),
            ..error_at(
                location,
                Problem::Invalid(format!("`{id}` is not a FHIR id ({FHIR_ID_RULE})")),
            )
        });
    }
    match map_resource(&resource_type, &id, json, ctx) {
        Ok(mapped) => Ok(Parsed { location, resource_type, resource_id: id, mapped }),
        Err(e) => Err(ImportError {
            file: Default::default(),
            location,
            resource_type: Some(resource_type),
            resource_id: Some(id),
            field: e.field,
            problem: e.problem,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_lines_are_numbered_from_one_and_skip_blanks() {
        let text = "{\"a\":1}\n\n  \n{\"b\":2}\n";
        let lines = ndjson_lines(text);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].0, 1);
        assert_eq!(lines[1].0, 4);
        assert_eq!(&text[lines[1].1.clone()], "{\"b\":2}");
    }

    #[test]
    fn bundle_references_by_full_url_resolve() {
        let bundle = r#"{"resourceType":"Bundle","type":"transaction","entry":[
            {"fullUrl":"urn:uuid:p-1","resource":{"resourceType":"Patient","id":"p-1","gender":"male"}},
            {"fullUrl":"urn:uuid:o-1","resource":{"resourceType":"Observation","code":{"text":"ESR"},
              "subject":{"reference":"urn:uuid:p-1"},"effectiveDateTime":"2020","valueQuantity":{"value":30}}},
            {"fullUrl":"urn:uuid:c-1","resource":{"resourceType":"Claim","id":"c-1"}},
            {"request":{"method":"DELETE","url":"Patient/old"}}]}"#;
        let results = parse_document(bundle, "b.json", &SourceName::default());
        assert_eq!(results.len(), 3);
        let obs = results[1].as_ref().unwrap();
        // the id came from the fullUrl, the patient from the other entry's fullUrl
        assert_eq!(obs.resource_id, "o-1");
        assert_eq!(obs.mapped.events[0].patient.as_str(), "p-1");
        assert_eq!(results[2].as_ref().unwrap().mapped.skipped, Some(SkipReason::TypeNotImported));
    }

    #[test]
    fn leading_resource_type_is_read_without_parsing() {
        assert_eq!(leading_resource_type("{\n  \"resourceType\" : \"Claim\", \"id\": 1}"), Some("Claim"));
        assert_eq!(leading_resource_type(r#"{"id":"x","resourceType":"Claim"}"#), None);
        assert_eq!(leading_resource_type(r#"{"resourceType":"Cl\u0061im"}"#), None);
        assert_eq!(leading_resource_type(r#"{"resourceType":"#), None);
    }

    #[test]
    fn documents_that_are_not_fhir_say_so() {
        let check = |text: &str, expect: &str| {
            let err = parse_document(text, "x.json", &SourceName::default()).pop().unwrap().unwrap_err();
            assert!(err.to_string().contains(expect), "{text}: {err}");
        };
        check(r#"{"name":"not fhir"}"#, "not a FHIR resource: no resourceType");
        check(r#"[1,2,3]"#, "not a FHIR resource");
        check(r#"{"resourceType":"Patinet","id":"x"}"#, "`Patinet` is not a FHIR R4 resource type");
        check("{\"resourceType\":\"Bundle\",\"entry\":[{\"resource\":", "truncated");
    }

    #[test]
    fn ids_outside_the_fhir_syntax_are_refused_naming_where() {
        let source = SourceName::default();
        let text = concat!(
            "{\"resourceType\":\"Patient\",\"id\":\"p1\"}\n",
            "{\"resourceType\":\"Patient\",\"id\":\"p 1\\\"><b>\"}\n",
            "{\"resourceType\":\"Observation\",\"id\":\"o1\",\"code\":{\"text\":\"ESR\"},",
            "\"subject\":{\"reference\":\"Patient/a_b\"},\"effectiveDateTime\":\"2020\"}\n",
            "{\"resourceType\":\"Claim\",\"id\":\"not imported, not checked\"}\n",
        );
        let results = parse_ndjson_block(text, &ndjson_lines(text), "x.ndjson", &source);
        assert!(results[0].is_ok());
        let err = results[1].as_ref().unwrap_err().to_string();
        assert!(err.starts_with(":2: Patient/p 1\"><b>: field `id`: `p 1"), "{err}");
        assert!(err.contains("is not a FHIR id"), "{err}");
        let err = results[2].as_ref().unwrap_err().to_string();
        assert!(err.starts_with(":3: Observation/o1: field `subject`: reference `Patient/a_b` cannot be resolved"), "{err}");
        assert!(err.contains("`a_b` is not a FHIR id"), "{err}");
        assert!(results[3].is_ok());
    }
}
