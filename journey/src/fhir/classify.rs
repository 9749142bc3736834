//! Which modality an Observation belongs to.
//!
//! First RDT's own category system, which the virtual cohort (and any hospital that
//! wants its scores read as such) puts on DAS28 and its parts, imaging scores and omics
//! panels; then FHIR's standard observation categories; then "other observation".
//! Classifying by category rather than by a list of codes keeps local code systems
//! working: a hospital's own code for a joint count is still disease activity.

use super::datatypes::CodeableConcept;
use crate::event::Modality;

/// RDT's observation categories: `disease-activity`, `imaging`, `omics`.
pub const RDT_CATEGORY_SYSTEM: &str = "urn:rdt:observation-category";
/// FHIR's observation categories (`laboratory`, `vital-signs`, `imaging`, ...).
pub const FHIR_CATEGORY_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/observation-category";

pub fn observation_modality(categories: &[CodeableConcept]) -> Modality {
    let codings = || categories.iter().flat_map(|c| c.coding.iter());
    for c in codings().filter(|c| c.system.as_deref() == Some(RDT_CATEGORY_SYSTEM)) {
        match c.code.as_deref() {
            Some("disease-activity") => return Modality::DiseaseActivity,
            Some("imaging") => return Modality::Imaging,
            Some("omics") => return Modality::Omics,
            _ => {}
        }
    }
    // Some exports leave the system out of their category codings; accept the
    // standard codes without it.
    for c in codings().filter(|c| c.system.as_deref().is_none_or(|s| s == FHIR_CATEGORY_SYSTEM)) {
        match c.code.as_deref() {
            Some("laboratory") => return Modality::Lab,
            Some("vital-signs") => return Modality::Vital,
            Some("imaging") => return Modality::Imaging,
            _ => {}
        }
    }
    Modality::Observation
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::datatypes::Coding;

    fn category(system: Option<&str>, code: &str) -> CodeableConcept {
        CodeableConcept {
            coding: vec![Coding { system: system.map(Into::into), code: Some(code.into()), display: None }],
            text: None,
        }
    }

    #[test]
    fn rdt_categories_win_over_fhir_ones() {
        let cats = [category(Some(FHIR_CATEGORY_SYSTEM), "exam"), category(Some(RDT_CATEGORY_SYSTEM), "disease-activity")];
        assert_eq!(observation_modality(&cats), Modality::DiseaseActivity);
        let cats = [category(Some(FHIR_CATEGORY_SYSTEM), "laboratory"), category(Some(RDT_CATEGORY_SYSTEM), "omics")];
        assert_eq!(observation_modality(&cats), Modality::Omics);
    }

    #[test]
    fn fhir_categories_and_fallback() {
        assert_eq!(observation_modality(&[category(Some(FHIR_CATEGORY_SYSTEM), "laboratory")]), Modality::Lab);
        assert_eq!(observation_modality(&[category(None, "vital-signs")]), Modality::Vital);
        assert_eq!(observation_modality(&[category(Some("urn:local"), "laboratory")]), Modality::Observation);
        assert_eq!(observation_modality(&[category(Some(FHIR_CATEGORY_SYSTEM), "survey")]), Modality::Observation);
        assert_eq!(observation_modality(&[]), Modality::Observation);
    }
}
