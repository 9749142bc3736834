//! The FHIR R4 data types the mappers read, as serde structs.
//!
//! Only the elements RDT uses are declared; serde skips the rest, which keeps parsing
//! fast on exports full of extensions. Field names are FHIR's (camelCase).

use serde::Deserialize;

use crate::event::{Code, Quantity as EventQuantity};

/// A FHIR `Coding`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Coding {
    pub system: Option<String>,
    pub code: Option<String>,
    pub display: Option<String>,
}

/// A FHIR `CodeableConcept`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CodeableConcept {
    #[serde(default)]
    pub coding: Vec<Coding>,
    pub text: Option<String>,
}

/// The system given to a concept that has only free text and no coding.
pub const TEXT_ONLY_SYSTEM: &str = "urn:rdt:text";

impl CodeableConcept {
    /// The concept as one event code: the first coding that has a code, kept exactly as
    /// written (any system, including a hospital's local `urn:oid:`). A concept with
    /// text only becomes a code in [`TEXT_ONLY_SYSTEM`] so the text is not lost.
    pub fn to_code(&self) -> Option<Code> {
        if let Some(c) = self.coding.iter().find(|c| c.code.as_deref().is_some_and(|s| !s.trim().is_empty())) {
            return Some(Code {
                system: c.system.clone().unwrap_or_default(),
                code: c.code.clone().unwrap_or_default(),
                display: c.display.clone().or_else(|| self.text.clone()),
            });
        }
        let text = self.text.as_deref().map(str::trim).filter(|t| !t.is_empty())?;
        Some(Code { system: TEXT_ONLY_SYSTEM.to_owned(), code: text.to_owned(), display: Some(text.to_owned()) })
    }

    /// A human-readable label: the text, else the first display, else the first code.
    pub fn label(&self) -> Option<String> {
        self.text
            .clone()
            .or_else(|| self.coding.iter().find_map(|c| c.display.clone()))
            .or_else(|| self.coding.iter().find_map(|c| c.code.clone()))
    }

    /// Whether any coding has this system and code.
    pub fn has(&self, system: &str, code: &str) -> bool {
        self.coding.iter().any(|c| c.system.as_deref() == Some(system) && c.code.as_deref() == Some(code))
    }
}

/// A FHIR `Reference`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reference {
    pub reference: Option<String>,
    pub display: Option<String>,
}

/// A FHIR `Quantity`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Quantity {
    pub value: Option<f64>,
    pub unit: Option<String>,
    pub code: Option<String>,
}

impl Quantity {
    /// The value with its unit (the human unit, else the UCUM code).
    pub fn to_event_quantity(&self) -> Option<EventQuantity> {
        Some(EventQuantity { value: self.value?, unit: self.unit.clone().or_else(|| self.code.clone()) })
    }
}

/// A FHIR `Period`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Period {
    pub start: Option<String>,
    pub end: Option<String>,
}

/// A FHIR `Attachment`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub content_type: Option<String>,
    /// Base64 of the content.
    pub data: Option<String>,
    pub title: Option<String>,
}

impl Attachment {
    /// Plain text is the only content RDT reads as a note (PDFs and images are not).
    pub fn is_plain_text(&self) -> bool {
        self.content_type
            .as_deref()
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("text/plain"))
    }
}

/// A FHIR `HumanName`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HumanName {
    #[serde(rename = "use")]
    pub use_: Option<String>,
    pub text: Option<String>,
    pub family: Option<String>,
    #[serde(default)]
    pub given: Vec<String>,
}

impl HumanName {
    pub fn full(&self) -> Option<String> {
        if let Some(t) = self.text.as_deref().filter(|t| !t.trim().is_empty()) {
            return Some(t.trim().to_owned());
        }
        let mut parts: Vec<&str> = self.given.iter().map(String::as_str).collect();
        parts.extend(self.family.as_deref());
        let name = parts.join(" ");
        (!name.trim().is_empty()).then_some(name)
    }
}

/// The `resourceType` and `id` of any resource: read first to pick the mapper.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceHead {
    pub resource_type: Option<String>,
    pub id: Option<String>,
}
