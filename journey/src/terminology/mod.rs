//! Terminology: which of RDT's concepts a recorded code is, and its value in the
//! concept's unit — read when a journey is read, never when it is written.
//!
//! - [`concept`]: the concept table (ids in `urn:rdt:code`, standard codes, canonical
//!   UCUM units, modalities).
//! - [`units`]: a value in its concept's canonical unit, or why not.
//! - [`concept_map`]: an install's mappings, read from FHIR R4 ConceptMap files.
//! - [`coverage`]: per concept, patients and values found; the codes that map to
//!   nothing; what a missing concept blocks.
//!
//! The store keeps codes as written. [`Terminology::apply`] runs on every journey the
//! store reads ([`crate::store::JourneyStore::journey`]) and sets each event's
//! [`Event::concept`] and, for an Observation without a category, its modality: so a
//! map imported after the data takes effect on all history without re-import, and
//! the twin, cohorts, tools and forecasts, which all read journeys from the store, see
//! concepts. Clinical code reads [`Event::concept`] and [`Event::canonical_value`] only.

pub mod concept;
pub mod concept_map;
pub mod coverage;
pub mod units;

use std::collections::HashMap;

pub use concept::{Concept, UnknownConcept, LOINC, RDT_CODE};
pub use concept_map::{ConceptMapError, ConceptMapping, MapEntry};
pub use coverage::Coverage;
pub use units::UnitError;

use crate::event::{Code, Event, Modality};

/// The concepts of one install: the table's own codes plus its imported mappings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Terminology {
    /// system -> code -> concept, from the install's ConceptMaps.
    mapped: HashMap<String, HashMap<String, Concept>>,
    entries: usize,
}

impl Terminology {
    /// The table's own codes only (RDT's and the standard ones): an install without maps.
    pub fn standard() -> Self {
        Terminology::default()
    }

    /// The table's codes plus `entries` (later entries win over earlier ones for the
    /// same source code, as the store keeps the latest import).
    pub fn with_entries<'a>(entries: impl IntoIterator<Item = &'a MapEntry>) -> Self {
        let mut t = Terminology::default();
        for e in entries {
            t.mapped.entry(e.system.clone()).or_default().insert(e.code.clone(), e.concept);
        }
        t.entries = t.mapped.values().map(HashMap::len).sum();
        t
    }

    /// Number of install mappings.
    pub fn mapped_codes(&self) -> usize {
        self.entries
    }

    /// The concept a code is read as: the table's own codes first (a map cannot
    /// re-define LOINC's CRP), then the install's mappings.
    pub fn concept_of(&self, code: &Code) -> Option<Concept> {
        Concept::of_code(code).or_else(|| self.mapped.get(&code.system)?.get(&code.code).copied())
    }

    /// Sets each event's concept and, where the record gave an Observation no category
    /// (modality `observation`), the concept's modality.
    pub fn apply(&self, events: &mut [Event]) {
        for e in events {
            e.concept = self.concept_of(&e.code);
            if let Some(c) = e.concept {
                if e.modality == Modality::Observation {
                    e.modality = c.modality();
                }
            }
        }
    }
}

impl Event {
    /// The concept this event records: as the store's terminology resolved it when the
    /// journey was read, else by the table's own codes (an event built in memory).
    pub fn concept(&self) -> Option<Concept> {
        self.concept.or_else(|| Concept::of_code(&self.code))
    }

    /// The event's value in its concept's canonical unit: `None` without a concept or
    /// a finite value, or in a unit that does not convert ([`Event::unit_problem`]).
    /// The one reading of a measured value every clinical function and feature uses.
    pub fn canonical_value(&self) -> Option<f64> {
        let concept = self.concept()?;
        let q = self.value.as_ref().filter(|q| q.value.is_finite())?;
        units::to_canonical(concept, q.value, q.unit.as_deref()).ok().filter(|v| v.is_finite())
    }

    /// Why the event's value cannot be read in its concept's unit, if it cannot.
    pub fn unit_problem(&self) -> Option<UnitError> {
        let concept = self.concept()?;
        let q = self.value.as_ref().filter(|q| q.value.is_finite())?;
        units::to_canonical(concept, q.value, q.unit.as_deref()).err()
    }
}

/// Why a ConceptMap was not imported.
#[derive(Debug, thiserror::Error)]
pub enum TerminologyImportError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error(transparent)]
    Invalid(#[from] ConceptMapError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the ConceptMap was imported but its audit entry could not be written: {0}")]
    Audit(audit_log::AuditError),
}

/// Reads, validates and stores the ConceptMap in `path` and records it in the audit
/// trail (who, which map, its sha256): the one door for `rdt terminology import` and
/// the admin page's upload. A map that fails validation changes nothing.
pub async fn import_recorded(
    store: &crate::store::JourneyStore,
    log: &audit_log::AuditLog,
    path: &std::path::Path,
    bytes: Option<&[u8]>,
    by: audit_log::Principal,
) -> Result<(crate::store::ConceptMapRecord, audit_log::Seq), TerminologyImportError> {
    let file = path.display().to_string();
    let read;
    let bytes = match bytes {
        Some(b) => b,
        None => {
            read = std::fs::read(path).map_err(|source| TerminologyImportError::Read { path: file.clone(), source })?;
            &read
        }
    };
    let mapping = ConceptMapping::parse(&file, bytes)?;
    let record = store.import_concept_map(&file, &mapping, &by.user).await?;
    let entry = audit_log::NewEntry::new(
        by,
        audit_log::EntryBody::TerminologyImported {
            map: audit_log::TerminologyRecord {
                url: record.url.clone(),
                version: record.version.clone(),
                file: record.file.clone(),
                sha256: record.sha256.clone(),
                entries: record.entries,
            },
        },
    );
    let seq = log.append(entry).await.map_err(TerminologyImportError::Audit)?;
    Ok((record, seq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clinical::testutil::event;

    #[test]
    fn mappings_apply_at_read_and_set_missing_modalities() {
        let map = [MapEntry { system: "urn:oid:1.2".into(), code: "D".into(), display: None, concept: Concept::Das28Esr }];
        let t = Terminology::with_entries(&map);
        let mut events = vec![event("urn:oid:1.2", "D", Some(4.1), None), event("urn:oid:1.2", "X", Some(1.0), None)];
        events[0].modality = Modality::Observation;
        events[1].modality = Modality::Observation;
        assert_eq!(events[0].concept(), None, "unmapped before the terminology is applied");
        t.apply(&mut events);
        assert_eq!(events[0].concept(), Some(Concept::Das28Esr));
        assert_eq!(events[0].modality, Modality::DiseaseActivity);
        assert_eq!((events[1].concept(), events[1].modality), (None, Modality::Observation));
        assert_eq!(t.mapped_codes(), 1);
    }

    #[test]
    fn canonical_values_convert_or_report() {
        let crp = event(LOINC, "1988-5", Some(1.2), Some("mg/dL"));
        assert!((crp.canonical_value().unwrap() - 12.0).abs() < 1e-9);
        let odd = event(LOINC, "1988-5", Some(1.2), Some("nmol/L"));
        assert_eq!(odd.canonical_value(), None);
        assert!(odd.unit_problem().is_some());
        assert_eq!(event("urn:x", "y", Some(1.0), None).canonical_value(), None);
    }
}
