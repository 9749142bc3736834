//! RDT's concepts: the one table of every measure the clinical layer reads, with its
//! id in RDT's own concept system (`urn:rdt:code`), its standard codes where they
//! exist, its canonical UCUM unit and its modality.
//!
//! A hospital's code reaches a concept in one of three ways: it *is* the concept's
//! `urn:rdt:code` code (RDT's system is the documented target of every mapping), it is
//! one of the concept's standard codes (LOINC), or an install-level ConceptMap maps it
//! ([`super::Terminology`]). The clinical layer reads concepts only, never a code
//! system, so all three read the same.
//!
//! Standard codes are listed only where one exists and is in common use (LOINC):
//! CDAI total 75847-4, SDAI total 75845-8, tender joints (28) 88981-6, swollen joints
//! (28) 88980-8, and the laboratory codes. DAS28, the global assessments, SLEDAI-2K,
//! mRSS, the imaging scores and the interferon panel have none in common use: they are
//! reached by RDT's own code or a mapping, never by an invented code.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::event::{Code, Modality};

/// RDT's own concept system: the target of every ConceptMap an install imports.
pub const RDT_CODE: &str = "urn:rdt:code";
/// LOINC, the standard system of the laboratory and score codes below.
pub const LOINC: &str = "http://loinc.org";

/// A measure RDT reads, whatever code system the record wrote it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
pub enum Concept {
    Das28Esr,
    Das28Crp,
    Cdai,
    Sdai,
    TenderJoints28,
    SwollenJoints28,
    PatientGlobal,
    EvaluatorGlobal,
    Crp,
    Esr,
    Haemoglobin,
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

/// One row of the concept table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConceptDef {
    /// The concept's code in [`RDT_CODE`].
    pub id: &'static str,
    pub display: &'static str,
    /// Standard `(system, code)` pairs recorded as this concept, the preferred first.
    pub standard: &'static [(&'static str, &'static str)],
    /// The UCUM unit every value is read in ([`super::units`]).
    pub unit: &'static str,
    /// Which encoder reads it when the record gives no category.
    pub modality: Modality,
}

const fn def(
    id: &'static str,
    display: &'static str,
    standard: &'static [(&'static str, &'static str)],
    unit: &'static str,
    modality: Modality,
) -> ConceptDef {
    ConceptDef { id, display, standard, unit, modality }
}

impl Concept {
    pub const ALL: [Concept; 33] = [
        Concept::Das28Esr,
        Concept::Das28Crp,
        Concept::Cdai,
        Concept::Sdai,
        Concept::TenderJoints28,
        Concept::SwollenJoints28,
        Concept::PatientGlobal,
        Concept::EvaluatorGlobal,
        Concept::Crp,
        Concept::Esr,
        Concept::Haemoglobin,
        Concept::Alt,
        Concept::Creatinine,
        Concept::RheumatoidFactor,
        Concept::AntiCcp,
        Concept::AntinuclearAbTiter,
        Concept::AntiDsDna,
        Concept::ComplementC3,
        Concept::ComplementC4,
        Concept::Sledai2k,
        Concept::AntiScl70,
        Concept::AntiCentromere,
        Concept::Mrss,
        Concept::FvcPercentPredicted,
        Concept::DlcoPercentPredicted,
        Concept::SharpVanDerHeijde,
        Concept::PowerDoppler,
        Concept::InterferonScore,
        Concept::GeneIfi27,
        Concept::GeneIfi44l,
        Concept::GeneIsg15,
        Concept::GeneRsad2,
        Concept::GeneSiglec1,
    ];

    /// The concept's row of the table.
    pub const fn def(self) -> ConceptDef {
        use Modality::{DiseaseActivity, Imaging, Lab, Observation, Omics};
        match self {
            Concept::Das28Esr => def("das28-esr", "DAS28-ESR", &[], "{score}", DiseaseActivity),
            Concept::Das28Crp => def("das28-crp", "DAS28-CRP", &[], "{score}", DiseaseActivity),
            Concept::Cdai => def("cdai", "CDAI", &[(LOINC, "75847-4")], "{score}", DiseaseActivity),
            Concept::Sdai => def("sdai", "SDAI", &[(LOINC, "75845-8")], "{score}", DiseaseActivity),
            Concept::TenderJoints28 => {
                def("tjc28", "Tender joint count (28)", &[(LOINC, "88981-6")], "{joints}", DiseaseActivity)
            }
            Concept::SwollenJoints28 => {
                def("sjc28", "Swollen joint count (28)", &[(LOINC, "88980-8")], "{joints}", DiseaseActivity)
            }
            Concept::PatientGlobal => {
                def("patient-global-vas", "Patient global assessment (VAS)", &[], "mm", DiseaseActivity)
            }
            Concept::EvaluatorGlobal => {
                def("evaluator-global-vas", "Evaluator global assessment (VAS)", &[], "mm", DiseaseActivity)
            }
            Concept::Crp => def("crp", "CRP", &[(LOINC, "1988-5")], "mg/L", Lab),
            Concept::Esr => def("esr", "ESR", &[(LOINC, "4537-7"), (LOINC, "30341-2")], "mm/h", Lab),
            Concept::Haemoglobin => def("haemoglobin", "Haemoglobin", &[(LOINC, "718-7")], "g/dL", Lab),
            Concept::Alt => def("alt", "ALT", &[(LOINC, "1742-6")], "U/L", Lab),
            Concept::Creatinine => {
                def("creatinine", "Creatinine", &[(LOINC, "2160-0"), (LOINC, "14682-9")], "mg/dL", Lab)
            }
            Concept::RheumatoidFactor => def("rf", "Rheumatoid factor", &[(LOINC, "11572-5")], "[IU]/mL", Lab),
            Concept::AntiCcp => def("anti-ccp", "Anti-CCP", &[(LOINC, "32218-0")], "[arb'U]/mL", Lab),
            Concept::AntinuclearAbTiter => def("ana-titer", "ANA titer", &[(LOINC, "5048-4")], "{titer}", Lab),
            Concept::AntiDsDna => def("anti-dsdna", "Anti-dsDNA", &[(LOINC, "5130-0")], "[IU]/mL", Lab),
            Concept::ComplementC3 => def("c3", "Complement C3", &[(LOINC, "4485-9")], "mg/dL", Lab),
            Concept::ComplementC4 => def("c4", "Complement C4", &[(LOINC, "4498-2")], "mg/dL", Lab),
            Concept::Sledai2k => def("sledai-2k", "SLEDAI-2K", &[], "{score}", DiseaseActivity),
            Concept::AntiScl70 => def("anti-scl70", "Anti-Scl-70", &[], "[arb'U]/mL", Lab),
            Concept::AntiCentromere => def("anti-centromere", "Anti-centromere B", &[], "[arb'U]/mL", Lab),
            Concept::Mrss => def("mrss", "Modified Rodnan skin score", &[], "{score}", DiseaseActivity),
            Concept::FvcPercentPredicted => def("fvc-percent-predicted", "FVC % predicted", &[], "%", Observation),
            Concept::DlcoPercentPredicted => {
                def("dlco-percent-predicted", "DLCO % predicted", &[], "%", Observation)
            }
            Concept::SharpVanDerHeijde => def("svdh-total", "Sharp/van der Heijde total", &[], "{score}", Imaging),
            Concept::PowerDoppler => def("us-pd-global", "Ultrasound power Doppler score", &[], "{score}", Imaging),
            Concept::InterferonScore => {
                def("ifn-signature-score", "Type I interferon signature", &[], "{score}", Omics)
            }
            Concept::GeneIfi27 => def("ifn-gene-ifi27", "IFI27 expression", &[], "{log2FC}", Omics),
            Concept::GeneIfi44l => def("ifn-gene-ifi44l", "IFI44L expression", &[], "{log2FC}", Omics),
            Concept::GeneIsg15 => def("ifn-gene-isg15", "ISG15 expression", &[], "{log2FC}", Omics),
            Concept::GeneRsad2 => def("ifn-gene-rsad2", "RSAD2 expression", &[], "{log2FC}", Omics),
            Concept::GeneSiglec1 => def("ifn-gene-siglec1", "SIGLEC1 expression", &[], "{log2FC}", Omics),
        }
    }

    /// The concept's code in RDT's system.
    pub const fn id(self) -> &'static str {
        self.def().id
    }

    pub const fn display(self) -> &'static str {
        self.def().display
    }

    /// The canonical UCUM unit.
    pub const fn unit(self) -> &'static str {
        self.def().unit
    }

    pub const fn modality(self) -> Modality {
        self.def().modality
    }

    /// The concept a code names by itself: RDT's own code, or a standard code of the
    /// table. Install mappings are [`super::Terminology`]'s.
    ///
    /// Runs for every event the clinical layer reads, so it is one hash lookup per
    /// system and code, not a scan of the table.
    pub fn of_code(code: &Code) -> Option<Concept> {
        static BY_CODE: OnceLock<HashMap<&'static str, HashMap<&'static str, Concept>>> = OnceLock::new();
        let index = BY_CODE.get_or_init(|| {
            let mut index: HashMap<&'static str, HashMap<&'static str, Concept>> = HashMap::new();
            for c in Concept::ALL {
                index.entry(RDT_CODE).or_default().insert(c.id(), c);
                for (system, code) in c.def().standard {
                    index.entry(system).or_default().insert(code, c);
                }
            }
            index
        });
        index.get(code.system.as_str())?.get(code.code.as_str()).copied()
    }

    /// Whether DESIGN.md's cohorts need it: a disease-activity score or a part of one.
    pub fn is_activity_score(self) -> bool {
        matches!(self, Concept::Das28Esr | Concept::Das28Crp | Concept::Cdai | Concept::Sdai)
    }
}

impl fmt::Display for Concept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A concept id that is not in the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not one of RDT's concepts (see `rdt terminology concepts`)")]
pub struct UnknownConcept(pub String);

impl FromStr for Concept {
    type Err = UnknownConcept;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Concept::ALL.into_iter().find(|c| c.id() == s).ok_or_else(|| UnknownConcept(s.to_owned()))
    }
}

impl Serialize for Concept {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Concept {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        id.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut ids: Vec<&str> = Concept::ALL.iter().map(|c| c.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), Concept::ALL.len());
        for c in Concept::ALL {
            assert_eq!(c.id().parse::<Concept>().unwrap(), c);
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.id()));
        }
        assert!("das28".parse::<Concept>().is_err());
    }

    #[test]
    fn standard_codes_are_unique_and_name_their_concept() {
        let mut seen = std::collections::HashSet::new();
        for c in Concept::ALL {
            for (system, code) in c.def().standard {
                assert!(seen.insert((*system, *code)), "{system}|{code} twice");
                let code = Code { system: (*system).into(), code: (*code).into(), display: None };
                assert_eq!(Concept::of_code(&code), Some(c));
            }
        }
        let rdt = Code { system: RDT_CODE.into(), code: "cdai".into(), display: None };
        assert_eq!(Concept::of_code(&rdt), Some(Concept::Cdai));
        let local = Code { system: "urn:oid:1.2.3".into(), code: "cdai".into(), display: None };
        assert_eq!(Concept::of_code(&local), None, "a local code needs a mapping");
    }
}
