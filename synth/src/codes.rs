//! The vocabulary the virtual hospital writes: one table of measurements (code,
//! unit, category) and the ICD-10-CM diagnoses it uses.
//!
//! Standard codes (LOINC, ICD-10-CM, UCUM) where one exists and could be checked;
//! RDT's local system `urn:rdt:code` where none does (DAS28 and its joint counts,
//! SLEDAI-2K, mRSS, Sharp/van der Heijde, power Doppler, the interferon panel), so
//! a consumer can tell a standard code from ours by its system alone.

pub const LOINC: &str = "http://loinc.org";
pub const LOCAL: &str = "urn:rdt:code";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const ICD10CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
pub const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
pub const FHIR_OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
pub const RDT_OBSERVATION_CATEGORY: &str = "urn:rdt:observation-category";

use serde::{Deserialize, Serialize};

/// Where an observation belongs; the importer reads the category, not the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// FHIR `laboratory`.
    Laboratory,
    /// RDT `disease-activity`: DAS28 and its clinical parts, SLEDAI-2K, mRSS.
    DiseaseActivity,
    /// FHIR `imaging` and RDT `imaging`: radiographic and ultrasound scores.
    Imaging,
    /// RDT `omics`: the interferon panel.
    Omics,
    /// FHIR `exam`: pulmonary function, which is neither lab nor imaging.
    Exam,
}

impl Category {
    /// The (system, code) pairs written into `Observation.category`, one CodeableConcept each.
    pub fn codings(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Category::Laboratory => &[(FHIR_OBSERVATION_CATEGORY, "laboratory")],
            Category::DiseaseActivity => &[(RDT_OBSERVATION_CATEGORY, "disease-activity")],
            Category::Imaging => &[(FHIR_OBSERVATION_CATEGORY, "imaging"), (RDT_OBSERVATION_CATEGORY, "imaging")],
            Category::Omics => &[(RDT_OBSERVATION_CATEGORY, "omics")],
            Category::Exam => &[(FHIR_OBSERVATION_CATEGORY, "exam")],
        }
    }
}

/// How one measurement is coded and reported.
#[derive(Debug, Clone, Copy)]
pub struct MeasureDef {
    pub system: &'static str,
    pub code: &'static str,
    pub display: &'static str,
    /// Human unit and its UCUM code.
    pub unit: &'static str,
    pub ucum: &'static str,
    pub category: Category,
    /// Decimals the value is reported with.
    pub decimals: u8,
}

/// Every measurement the virtual hospital records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Measure {
    Das28Esr,
    Das28Crp,
    TenderJoints28,
    SwollenJoints28,
    PatientGlobal,
    Esr,
    Crp,
    Hemoglobin,
    Alt,
    Creatinine,
    RheumatoidFactor,
    AntiCcp,
    AntinuclearAbTiter,
    AntiDsDna,
    ComplementC3,
    ComplementC4,
    Sledai2k,
    AntiScl70,
    AntiCentromere,
    Mrss,
    FvcPercentPredicted,
    DlcoPercentPredicted,
    SharpVanDerHeijde,
    PowerDoppler,
    InterferonScore,
    GeneIfi27,
    GeneIfi44l,
    GeneIsg15,
    GeneRsad2,
    GeneSiglec1,
}

impl Measure {
    /// The genes of the interferon panel, in the order they are reported.
    pub const INTERFERON_GENES: [Measure; 5] =
        [Measure::GeneIfi27, Measure::GeneIfi44l, Measure::GeneIsg15, Measure::GeneRsad2, Measure::GeneSiglec1];

    pub const fn def(self) -> MeasureDef {
        use Category::*;
        const fn m(
            system: &'static str,
            code: &'static str,
            display: &'static str,
            unit: &'static str,
            ucum: &'static str,
            category: Category,
            decimals: u8,
        ) -> MeasureDef {
            MeasureDef { system, code, display, unit, ucum, category, decimals }
        }
        match self {
            Measure::Das28Esr => m(LOCAL, "das28-esr", "DAS28-ESR score", "{score}", "{score}", DiseaseActivity, 2),
            Measure::Das28Crp => m(LOCAL, "das28-crp", "DAS28-CRP score", "{score}", "{score}", DiseaseActivity, 2),
            Measure::TenderJoints28 => m(LOCAL, "tjc28", "Tender joint count (28 joints)", "{joints}", "{joints}", DiseaseActivity, 0),
            Measure::SwollenJoints28 => m(LOCAL, "sjc28", "Swollen joint count (28 joints)", "{joints}", "{joints}", DiseaseActivity, 0),
            Measure::PatientGlobal => m(LOCAL, "patient-global-vas", "Patient global assessment of disease activity (VAS 0-100 mm)", "mm", "mm", DiseaseActivity, 0),
            Measure::Esr => m(LOINC, "4537-7", "Erythrocyte sedimentation rate by Westergren method", "mm/h", "mm/h", Laboratory, 0),
            Measure::Crp => m(LOINC, "1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "mg/L", "mg/L", Laboratory, 1),
            Measure::Hemoglobin => m(LOINC, "718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", "g/dL", Laboratory, 1),
            Measure::Alt => m(LOINC, "1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "U/L", Laboratory, 0),
            Measure::Creatinine => m(LOINC, "2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", Laboratory, 2),
            Measure::RheumatoidFactor => m(LOINC, "11572-5", "Rheumatoid factor [Units/volume] in Serum or Plasma", "[IU]/mL", "[IU]/mL", Laboratory, 0),
            Measure::AntiCcp => m(LOINC, "32218-0", "Cyclic citrullinated peptide Ab [Units/volume] in Serum by Immunoassay", "U/mL", "[arb'U]/mL", Laboratory, 0),
            Measure::AntinuclearAbTiter => m(LOINC, "5048-4", "Nuclear Ab [Titer] in Serum by Immunofluorescence", "{titer}", "{titer}", Laboratory, 0),
            Measure::AntiDsDna => m(LOINC, "5130-0", "DNA double strand Ab [Units/volume] in Serum", "[IU]/mL", "[IU]/mL", Laboratory, 0),
            Measure::ComplementC3 => m(LOINC, "4485-9", "Complement C3 [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", Laboratory, 0),
            Measure::ComplementC4 => m(LOINC, "4498-2", "Complement C4 [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", Laboratory, 0),
            Measure::Sledai2k => m(LOCAL, "sledai-2k", "SLEDAI-2K score", "{score}", "{score}", DiseaseActivity, 0),
            Measure::AntiScl70 => m(LOCAL, "anti-scl70", "Anti-Scl-70 (topoisomerase I) Ab [Units/volume] in Serum", "U/mL", "[arb'U]/mL", Laboratory, 0),
            Measure::AntiCentromere => m(LOCAL, "anti-centromere", "Anti-centromere B Ab [Units/volume] in Serum", "U/mL", "[arb'U]/mL", Laboratory, 0),
            Measure::Mrss => m(LOCAL, "mrss", "Modified Rodnan skin score", "{score}", "{score}", DiseaseActivity, 0),
            Measure::FvcPercentPredicted => m(LOCAL, "fvc-percent-predicted", "Forced vital capacity, percent of predicted", "%", "%", Exam, 0),
            Measure::DlcoPercentPredicted => m(LOCAL, "dlco-percent-predicted", "Diffusing capacity for carbon monoxide, percent of predicted", "%", "%", Exam, 0),
            Measure::SharpVanDerHeijde => m(LOCAL, "svdh-total", "Sharp/van der Heijde total score, hands and feet radiographs", "{score}", "{score}", Imaging, 0),
            Measure::PowerDoppler => m(LOCAL, "us-pd-global", "Ultrasound power Doppler global synovitis score (12 joints, 0-3 each)", "{score}", "{score}", Imaging, 0),
            Measure::InterferonScore => m(LOCAL, "ifn-signature-score", "Type I interferon signature score (mean log2 fold change of 5 genes)", "{score}", "{score}", Omics, 2),
            Measure::GeneIfi27 => m(LOCAL, "ifn-gene-ifi27", "IFI27 expression, log2 fold change vs healthy reference", "{log2FC}", "{log2FC}", Omics, 2),
            Measure::GeneIfi44l => m(LOCAL, "ifn-gene-ifi44l", "IFI44L expression, log2 fold change vs healthy reference", "{log2FC}", "{log2FC}", Omics, 2),
            Measure::GeneIsg15 => m(LOCAL, "ifn-gene-isg15", "ISG15 expression, log2 fold change vs healthy reference", "{log2FC}", "{log2FC}", Omics, 2),
            Measure::GeneRsad2 => m(LOCAL, "ifn-gene-rsad2", "RSAD2 expression, log2 fold change vs healthy reference", "{log2FC}", "{log2FC}", Omics, 2),
            Measure::GeneSiglec1 => m(LOCAL, "ifn-gene-siglec1", "SIGLEC1 expression, log2 fold change vs healthy reference", "{log2FC}", "{log2FC}", Omics, 2),
        }
    }

    /// Rounds a value the way the measurement is reported.
    pub fn round(self, value: f64) -> f64 {
        let scale = 10f64.powi(self.def().decimals as i32);
        (value * scale).round() / scale
    }
}

/// How the virtual hospital codes its measurements: as RDT does, as a hospital
/// with standard codes does, or as one with its own local code system does. The same
/// patients, values and times in each: only codes, units and categories differ, so
/// everything RDT computes must come out the same (the terminology's test).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coding {
    /// RDT's own codes (`urn:rdt:code`) where no standard one exists, LOINC for labs,
    /// RDT's and FHIR's categories: what the importer reads without any map.
    #[default]
    Rdt,
    /// LOINC wherever the concept table has a code (the joint counts too), RDT's codes
    /// elsewhere, CRP in mg/dL, categories as in `rdt`.
    Standard,
    /// The hospital's own `urn:oid` code system for everything RDT codes itself (DAS28,
    /// joint counts, globals, scores, imaging, omics), LOINC for labs, no category on
    /// any Observation; [`local_concept_map`] maps the local codes.
    Local,
}

/// The virtual hospital's own code system in `local` coding (an OID under the
/// documentation arc 2.999, which ISO/IEC 9834 reserves for examples).
pub const LOCAL_OID: &str = "urn:oid:2.999.1.1";

/// How one measurement is written in a coding.
#[derive(Debug, Clone, PartialEq)]
pub struct Written {
    pub system: &'static str,
    pub code: String,
    pub display: &'static str,
    pub unit: &'static str,
    pub ucum: &'static str,
    /// The recorded value is the chart's value times this, rounded to `decimals`.
    pub factor: f64,
    pub decimals: u8,
    pub categories: &'static [(&'static str, &'static str)],
}

impl Measure {
    /// The local code of a measure RDT codes itself (`local` coding).
    fn local_code(self) -> String {
        format!("VH-{}", self.def().code.to_uppercase())
    }

    /// How this measure is written in `coding`.
    pub fn written(self, coding: Coding) -> Written {
        let def = self.def();
        let mut w = Written {
            system: def.system,
            code: def.code.to_owned(),
            display: def.display,
            unit: def.unit,
            ucum: def.ucum,
            factor: 1.0,
            decimals: def.decimals,
            categories: def.category.codings(),
        };
        match coding {
            Coding::Rdt => {}
            Coding::Standard => {
                if def.system == LOCAL {
                    if let Some((system, code)) = self.concept().and_then(|c| c.def().standard.first().copied()) {
                        w.system = system;
                        w.code = code.to_owned();
                    }
                }
                if self == Measure::Crp {
                    (w.unit, w.ucum, w.factor, w.decimals) = ("mg/dL", "mg/dL", 0.1, def.decimals + 1);
                }
            }
            Coding::Local => {
                if def.system == LOCAL {
                    w.system = LOCAL_OID;
                    w.code = self.local_code();
                }
                w.categories = &[];
            }
        }
        w
    }

    /// The value recorded for a chart value in `coding`.
    pub fn written_value(self, coding: Coding, value: f64) -> f64 {
        let w = self.written(coding);
        if w.factor == 1.0 {
            return value;
        }
        let scale = 10f64.powi(w.decimals as i32);
        (value * w.factor * scale).round() / scale
    }

    /// The RDT concept this measure is (every measure is one).
    pub fn concept(self) -> Option<journey::terminology::Concept> {
        let def = self.def();
        let code = journey::Code { system: def.system.into(), code: def.code.into(), display: None };
        journey::terminology::Concept::of_code(&code)
    }

    pub const ALL: [Measure; 30] = [
        Measure::Das28Esr,
        Measure::Das28Crp,
        Measure::TenderJoints28,
        Measure::SwollenJoints28,
        Measure::PatientGlobal,
        Measure::Esr,
        Measure::Crp,
        Measure::Hemoglobin,
        Measure::Alt,
        Measure::Creatinine,
        Measure::RheumatoidFactor,
        Measure::AntiCcp,
        Measure::AntinuclearAbTiter,
        Measure::AntiDsDna,
        Measure::ComplementC3,
        Measure::ComplementC4,
        Measure::Sledai2k,
        Measure::AntiScl70,
        Measure::AntiCentromere,
        Measure::Mrss,
        Measure::FvcPercentPredicted,
        Measure::DlcoPercentPredicted,
        Measure::SharpVanDerHeijde,
        Measure::PowerDoppler,
        Measure::InterferonScore,
        Measure::GeneIfi27,
        Measure::GeneIfi44l,
        Measure::GeneIsg15,
        Measure::GeneRsad2,
        Measure::GeneSiglec1,
    ];
}

/// The FHIR ConceptMap of the `local` coding: each local code to its RDT concept.
pub fn local_concept_map() -> serde_json::Value {
    let entries: Vec<journey::terminology::MapEntry> = Measure::ALL
        .into_iter()
        .filter(|m| m.def().system == LOCAL)
        .filter_map(|m| {
            Some(journey::terminology::MapEntry {
                system: LOCAL_OID.to_owned(),
                code: m.local_code(),
                display: Some(m.def().display.to_owned()),
                concept: m.concept()?,
            })
        })
        .collect();
    journey::terminology::ConceptMapping::to_fhir(
        "urn:oid:2.999.1.1/conceptmap/rdt",
        "VirtualHospitalToRdt",
        &entries,
    )
}

/// An ICD-10-CM diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Icd10 {
    pub code: &'static str,
    pub display: &'static str,
}

const fn icd(code: &'static str, display: &'static str) -> Icd10 {
    Icd10 { code, display }
}

/// The diagnoses the virtual hospital codes.
pub mod icd10 {
    use super::{icd, Icd10};

    pub const RA_RF_MULTIPLE_SITES: Icd10 =
        icd("M05.79", "Rheumatoid arthritis with rheumatoid factor of multiple sites without organ or systems involvement");
    pub const RA_RF_UNSPECIFIED: Icd10 = icd("M05.9", "Rheumatoid arthritis with rheumatoid factor, unspecified");
    pub const RA_WITHOUT_RF_MULTIPLE_SITES: Icd10 = icd("M06.09", "Rheumatoid arthritis without rheumatoid factor, multiple sites");
    pub const RA_UNSPECIFIED: Icd10 = icd("M06.9", "Rheumatoid arthritis, unspecified");
    pub const RHEUMATOID_NODULE: Icd10 = icd("M06.30", "Rheumatoid nodule, unspecified site");
    pub const RHEUMATOID_LUNG: Icd10 = icd("M05.10", "Rheumatoid lung disease with rheumatoid factor of unspecified site");
    pub const RHEUMATOID_VASCULITIS: Icd10 = icd("M05.20", "Rheumatoid vasculitis with rheumatoid factor of unspecified site");
    pub const SICCA: Icd10 = icd("M35.00", "Sicca syndrome, unspecified");
    pub const PULMONARY_FIBROSIS: Icd10 = icd("J84.10", "Pulmonary fibrosis, unspecified");
    pub const SLE_UNSPECIFIED: Icd10 = icd("M32.9", "Systemic lupus erythematosus, unspecified");
    pub const SLE_ORGAN_INVOLVEMENT: Icd10 = icd("M32.10", "Systemic lupus erythematosus, organ or system involvement unspecified");
    pub const LUPUS_NEPHRITIS: Icd10 = icd("M32.14", "Glomerular disease in systemic lupus erythematosus");
    pub const SSC_PROGRESSIVE: Icd10 = icd("M34.0", "Progressive systemic sclerosis");
    pub const SSC_CREST: Icd10 = icd("M34.1", "CR(E)ST syndrome");
    pub const SSC_LUNG: Icd10 = icd("M34.81", "Systemic sclerosis with lung involvement");
    pub const RAYNAUD: Icd10 = icd("I73.00", "Raynaud's syndrome without gangrene");
    pub const TRANSAMINASE_ELEVATION: Icd10 = icd("R74.01", "Elevation of levels of liver transaminase levels");
    pub const HYPERTENSION: Icd10 = icd("I10", "Essential (primary) hypertension");
    pub const TYPE2_DIABETES: Icd10 = icd("E11.9", "Type 2 diabetes mellitus without complications");
    pub const HYPERLIPIDEMIA: Icd10 = icd("E78.5", "Hyperlipidemia, unspecified");
    pub const OSTEOPOROSIS: Icd10 = icd("M81.0", "Age-related osteoporosis without current pathological fracture");
    pub const DEPRESSION: Icd10 = icd("F32.9", "Major depressive disorder, single episode, unspecified");
    pub const HYPOTHYROIDISM: Icd10 = icd("E03.9", "Hypothyroidism, unspecified");
    pub const OBESITY: Icd10 = icd("E66.9", "Obesity, unspecified");
    pub const GERD: Icd10 = icd("K21.9", "Gastro-esophageal reflux disease without esophagitis");
    pub const CORONARY_DISEASE: Icd10 =
        icd("I25.10", "Atherosclerotic heart disease of native coronary artery without angina pectoris");
    pub const FIBROMYALGIA: Icd10 = icd("M79.7", "Fibromyalgia");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_codes_are_local_and_standard_ones_are_loinc() {
        for m in [Measure::Das28Esr, Measure::TenderJoints28, Measure::SharpVanDerHeijde, Measure::InterferonScore] {
            assert_eq!(m.def().system, LOCAL);
        }
        for m in [Measure::Esr, Measure::Crp, Measure::Hemoglobin, Measure::Alt, Measure::Creatinine] {
            assert_eq!(m.def().system, LOINC);
            assert_eq!(m.def().category, Category::Laboratory);
        }
    }

    #[test]
    fn every_measure_is_a_concept_and_local_codes_are_all_mapped() {
        for m in Measure::ALL {
            assert!(m.concept().is_some(), "{m:?}");
        }
        let map = journey::terminology::ConceptMapping::parse("map.json", local_concept_map().to_string().as_bytes())
            .unwrap();
        let local = Measure::ALL.iter().filter(|m| m.def().system == LOCAL).count();
        assert_eq!(map.entries.len(), local);
        let t = journey::terminology::Terminology::with_entries(&map.entries);
        for m in Measure::ALL {
            for coding in [Coding::Rdt, Coding::Standard, Coding::Local] {
                let w = m.written(coding);
                let code = journey::Code { system: w.system.into(), code: w.code.clone(), display: None };
                assert_eq!(t.concept_of(&code), m.concept(), "{m:?} in {coding:?}");
            }
        }
        assert_eq!(Measure::Crp.written_value(Coding::Standard, 12.3), 1.23);
        assert_eq!(Measure::TenderJoints28.written(Coding::Standard).code, "88981-6");
        assert!(Measure::Crp.written(Coding::Local).categories.is_empty());
    }

    #[test]
    fn rounding_follows_reported_decimals() {
        assert_eq!(Measure::Das28Esr.round(5.126), 5.13);
        assert_eq!(Measure::Esr.round(33.6), 34.0);
        assert_eq!(Measure::Crp.round(12.34), 12.3);
    }
}
