//! Import errors that say exactly where: file, line or bundle entry, resource, field.
//!
//! A user fixing an export needs to open the file at the right place; "invalid JSON"
//! alone is useless on a 2 GB NDJSON file. So every error carries a [`Location`], the
//! resource's type and id when they could be read, and the field path.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Where in a file a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "at")]
pub enum Location {
    /// 1-based line of an NDJSON file.
    Line(usize),
    /// 0-based index into a Bundle's `entry` array (`entry[12]`).
    Entry(usize),
    /// 1-based line and column of a JSON document that could not be parsed at all.
    Text { line: usize, column: usize },
    /// The file as a whole (unreadable, empty, not JSON text).
    File,
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum Problem {
    #[error("cannot read the file: {0}")]
    Io(String),
    #[error("invalid JSON: {0}")]
    Json(String),
    #[error("not a FHIR resource: {0}")]
    NotFhir(String),
    #[error("`{0}` is not a FHIR R4 resource type")]
    UnknownResourceType(String),
    #[error("missing")]
    Missing,
    #[error("{0}")]
    Invalid(String),
    #[error("reference `{0}` cannot be resolved: {1}")]
    Unresolved(String, String),
    /// A Patient whose id a patient of another source holds: writing it would
    /// overwrite someone else's record, so it is refused (with its file's resources
    /// about it), and the stored patient is left as it was.
    #[error("Patient/{patient} is held by source `{held_by}`; source `{importing}` may not overwrite it")]
    PatientHeldByAnotherSource { patient: String, held_by: String, importing: String },
    /// A resource about a patient of another source: ids are read within their source.
    #[error("references Patient/{patient}, which source `{held_by}` holds, not source `{importing}`")]
    PatientOfAnotherSource { patient: String, held_by: String, importing: String },
    /// A resource about a patient that neither the store nor the import holds: no
    /// patient is made up from a reference.
    #[error("references Patient/{patient}, which no import of source `{importing}` holds")]
    UnknownPatient { patient: String, importing: String },
}

/// One bad resource (or a file that is not FHIR at all).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportError {
    pub file: PathBuf,
    pub location: Location,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub problem: Problem,
}

impl std::error::Error for ImportError {}

impl fmt::Display for ImportError {
    /// `file:37: Observation/obs-1: field `valueQuantity.value`: invalid type ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        match self.location {
            Location::Line(line) => write!(f, ":{line}")?,
            Location::Entry(i) => write!(f, ": entry[{i}]")?,
            Location::Text { line, column } => write!(f, ":{line}:{column}")?,
            Location::File => {}
        }
        match (&self.resource_type, &self.resource_id) {
            (Some(t), Some(id)) => write!(f, ": {t}/{id}")?,
            (Some(t), None) => write!(f, ": {t} (no id)")?,
            (None, Some(id)) => write!(f, ": resource {id}")?,
            (None, None) => {}
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// A problem found inside one resource, before the importer adds the file and place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Option<String>,
    pub problem: Problem,
}

impl FieldError {
    pub fn missing(field: &str) -> Self {
        FieldError { field: Some(field.to_owned()), problem: Problem::Missing }
    }

    pub fn invalid(field: &str, why: impl Into<String>) -> Self {
        FieldError { field: Some(field.to_owned()), problem: Problem::Invalid(why.into()) }
    }

    /// A serde error with the path to the field that failed.
    pub fn from_serde(e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // serde_json appends " at line 1 column 345" - meaningless inside one resource.
        let message = inner.to_string();
        let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
        let field = (path != "." && !path.is_empty()).then_some(path);
        let problem = if inner.is_syntax() || inner.is_eof() { Problem::Json(message) } else { Problem::Invalid(message) };
        FieldError { field, problem }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_file_line_resource_and_field() {
        let e = ImportError {
            file: "Observation.ndjson".into(),
            location: Location::Line(37),
            resource_type: Some("Observation".into()),
            resource_id: Some("obs-1".into()),
            field: Some("subject".into()),
            problem: Problem::Missing,
        };
        assert_eq!(e.to_string(), "Observation.ndjson:37: Observation/obs-1: field `subject`: missing");
        let e = ImportError { location: Location::Entry(4), field: None, ..e };
        assert_eq!(e.to_string(), "Observation.ndjson: entry[4]: Observation/obs-1: missing");
    }
}
