//! The drugs the virtual clinic prescribes, their RxNorm ingredient codes, how they
//! are dosed, and why a course ends.
//!
//! Courses are written as FHIR `MedicationStatement`s (start, end when stopped, and
//! the reason in `statusReason`), because that is how a rheumatology record reads:
//! "on methotrexate since March, stopped in June for a transaminase rise".

use serde::{Deserialize, Serialize};

use crate::sample::{pick, PatientRng};

/// A drug, by ingredient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drug {
    Methotrexate,
    Hydroxychloroquine,
    Sulfasalazine,
    Leflunomide,
    Prednisone,
    Adalimumab,
    Etanercept,
    Tocilizumab,
    Rituximab,
    Tofacitinib,
    /// T-cell co-stimulation modulator (CTLA4-Ig); a later line in rheumatoid arthritis.
    Abatacept,
    MycophenolateMofetil,
    Azathioprine,
    FolicAcid,
    Nifedipine,
}

/// What kind of drug, as rheumatologists group them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrugClass {
    /// Conventional synthetic DMARD (methotrexate, HCQ, SSZ, leflunomide).
    Csdmard,
    /// TNF inhibitor.
    Tnfi,
    /// Biologic or targeted synthetic DMARD that is not a TNF inhibitor.
    OtherTargeted,
    /// Immunosuppressant used in connective tissue disease (MMF, azathioprine).
    Immunosuppressant,
    Glucocorticoid,
    /// Folic acid, vasodilators: not disease-modifying.
    Supportive,
}

impl Drug {
    pub const ALL: [Drug; 15] = [
        Drug::Methotrexate,
        Drug::Hydroxychloroquine,
        Drug::Sulfasalazine,
        Drug::Leflunomide,
        Drug::Prednisone,
        Drug::Adalimumab,
        Drug::Etanercept,
        Drug::Tocilizumab,
        Drug::Rituximab,
        Drug::Tofacitinib,
        Drug::Abatacept,
        Drug::MycophenolateMofetil,
        Drug::Azathioprine,
        Drug::FolicAcid,
        Drug::Nifedipine,
    ];

    /// The drug with this RxNorm ingredient code, if it is one the clinic prescribes;
    /// lets an analysis of imported journeys classify medication events.
    pub fn from_rxnorm(code: &str) -> Option<Drug> {
        Drug::ALL.into_iter().find(|d| d.rxnorm() == code)
    }

    /// RxNorm ingredient concept.
    pub fn rxnorm(self) -> &'static str {
        match self {
            Drug::Methotrexate => "6851",
            Drug::Hydroxychloroquine => "5521",
            Drug::Sulfasalazine => "9524",
            Drug::Leflunomide => "27169",
            Drug::Prednisone => "8640",
            Drug::Adalimumab => "327361",
            Drug::Etanercept => "214555",
            Drug::Tocilizumab => "612865",
            Drug::Rituximab => "121191",
            Drug::Tofacitinib => "1357536",
            Drug::Abatacept => "614391",
            Drug::MycophenolateMofetil => "68149",
            Drug::Azathioprine => "1256",
            Drug::FolicAcid => "4511",
            Drug::Nifedipine => "7417",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Drug::Methotrexate => "methotrexate",
            Drug::Hydroxychloroquine => "hydroxychloroquine",
            Drug::Sulfasalazine => "sulfasalazine",
            Drug::Leflunomide => "leflunomide",
            Drug::Prednisone => "prednisone",
            Drug::Adalimumab => "adalimumab",
            Drug::Etanercept => "etanercept",
            Drug::Tocilizumab => "tocilizumab",
            Drug::Rituximab => "rituximab",
            Drug::Tofacitinib => "tofacitinib",
            Drug::Abatacept => "abatacept",
            Drug::MycophenolateMofetil => "mycophenolate mofetil",
            Drug::Azathioprine => "azathioprine",
            Drug::FolicAcid => "folic acid",
            Drug::Nifedipine => "nifedipine",
        }
    }

    /// Names clinicians write in notes for the same drug.
    pub fn spoken_names(self) -> &'static [&'static str] {
        match self {
            Drug::Methotrexate => &["methotrexate", "MTX", "methotrexate", "MTX"],
            Drug::Hydroxychloroquine => &["hydroxychloroquine", "HCQ", "Plaquenil"],
            Drug::Sulfasalazine => &["sulfasalazine", "SSZ", "sulphasalazine"],
            Drug::Leflunomide => &["leflunomide", "LEF"],
            Drug::Prednisone => &["prednisone", "pred", "oral steroid"],
            Drug::Adalimumab => &["adalimumab", "adalimumab (anti-TNF)"],
            Drug::Etanercept => &["etanercept", "etanercept (anti-TNF)"],
            Drug::Tocilizumab => &["tocilizumab", "TCZ", "tocilizumab (IL-6R)"],
            Drug::Rituximab => &["rituximab", "RTX"],
            Drug::Tofacitinib => &["tofacitinib", "tofacitinib (JAK inhibitor)", "the JAK inhibitor"],
            Drug::Abatacept => &["abatacept", "abatacept (CTLA4-Ig)", "ABA"],
            Drug::MycophenolateMofetil => &["mycophenolate", "MMF"],
            Drug::Azathioprine => &["azathioprine", "AZA"],
            Drug::FolicAcid => &["folic acid"],
            Drug::Nifedipine => &["nifedipine"],
        }
    }

    pub fn class(self) -> DrugClass {
        match self {
            Drug::Methotrexate | Drug::Hydroxychloroquine | Drug::Sulfasalazine | Drug::Leflunomide => DrugClass::Csdmard,
            Drug::Adalimumab | Drug::Etanercept => DrugClass::Tnfi,
            Drug::Tocilizumab | Drug::Rituximab | Drug::Tofacitinib | Drug::Abatacept => DrugClass::OtherTargeted,
            Drug::MycophenolateMofetil | Drug::Azathioprine => DrugClass::Immunosuppressant,
            Drug::Prednisone => DrugClass::Glucocorticoid,
            Drug::FolicAcid | Drug::Nifedipine => DrugClass::Supportive,
        }
    }

    /// Whether starting it counts as a DMARD start for the switch outcome.
    pub fn is_dmard(self) -> bool {
        matches!(
            self.class(),
            DrugClass::Csdmard | DrugClass::Tnfi | DrugClass::OtherTargeted | DrugClass::Immunosuppressant
        )
    }

    /// Days for its effect to build (the time constant of the latent response).
    pub fn onset_days(self) -> f64 {
        match self {
            Drug::Methotrexate => 40.0,
            Drug::Hydroxychloroquine => 60.0,
            Drug::Sulfasalazine => 45.0,
            Drug::Leflunomide => 40.0,
            Drug::Adalimumab | Drug::Etanercept => 20.0,
            Drug::Tocilizumab => 25.0,
            Drug::Rituximab => 45.0,
            Drug::Tofacitinib => 14.0,
            // Abatacept acts more slowly than the cytokine blockers (weeks 8-16 in trials).
            Drug::Abatacept => 40.0,
            Drug::MycophenolateMofetil | Drug::Azathioprine => 60.0,
            Drug::Prednisone => 5.0,
            Drug::FolicAcid | Drug::Nifedipine => 1.0,
        }
    }

    /// A dosage text, as written on a prescription.
    pub fn dose_text(self, rng: &mut PatientRng) -> String {
        let options: &[&str] = match self {
            Drug::Methotrexate => &[
                "15 mg orally once weekly, increase to 20 mg after 4 weeks if tolerated",
                "15 mg once weekly",
                "20 mg subcutaneously once weekly",
                "10 mg orally once weekly, titrate to 20 mg",
                "25 mg subcutaneously once weekly",
            ],
            Drug::Hydroxychloroquine => &["200 mg orally twice daily", "400 mg orally once daily", "200 mg once daily"],
            Drug::Sulfasalazine => &["500 mg twice daily, increase to 1 g twice daily", "1 g orally twice daily"],
            Drug::Leflunomide => &["20 mg orally once daily", "10 mg orally once daily"],
            Drug::Prednisone => &[
                "20 mg daily, taper by 5 mg every week",
                "10 mg daily for 2 weeks, then 5 mg daily",
                "15 mg daily tapering to stop over 8 weeks",
                "7.5 mg daily",
                "5 mg daily",
            ],
            Drug::Adalimumab => &["40 mg subcutaneously every other week"],
            Drug::Etanercept => &["50 mg subcutaneously once weekly"],
            Drug::Tocilizumab => &["162 mg subcutaneously once weekly", "8 mg/kg intravenously every 4 weeks"],
            Drug::Rituximab => &["1000 mg intravenously, two doses two weeks apart", "1 g IV day 1 and day 15"],
            Drug::Tofacitinib => &["5 mg orally twice daily"],
            Drug::Abatacept => &[
                "125 mg subcutaneously once weekly",
                "750 mg intravenously at weeks 0, 2 and 4, then every 4 weeks",
                "weight-based IV infusion (500-1000 mg) at weeks 0, 2, 4, then 4-weekly",
            ],
            Drug::MycophenolateMofetil => &["1 g orally twice daily", "1.5 g orally twice daily", "500 mg twice daily, titrate to 1 g twice daily"],
            Drug::Azathioprine => &["100 mg orally once daily", "2 mg/kg daily"],
            Drug::FolicAcid => &["5 mg orally once weekly, not on the methotrexate day", "1 mg orally once daily"],
            Drug::Nifedipine => &["30 mg modified release once daily", "10 mg three times daily"],
        };
        (*pick(rng, options)).to_owned()
    }
}

/// Why a course ended: written into `MedicationStatement.statusReason` and the ground truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum StopReason {
    /// Did not control the disease (primary or secondary failure).
    Inefficacy,
    /// Stopped for an adverse event; the text says which.
    AdverseEvent { what: String },
    /// A planned course (a steroid taper, a rituximab cycle) that ran out.
    Completed,
    /// Stopped while in sustained remission.
    Remission,
    /// An adjunct that went with a drug that was stopped (folic acid with methotrexate).
    NoLongerIndicated,
}

/// A treatment change made at a visit, for the note's plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Started(Drug),
    Stopped(Drug, StopReason),
}

impl StopReason {
    /// The text a clinician would write.
    pub fn text(&self) -> String {
        match self {
            StopReason::Inefficacy => "Stopped: inadequate response (treatment failure)".to_owned(),
            StopReason::AdverseEvent { what } => format!("Stopped for adverse event: {what}"),
            StopReason::Completed => "Course completed".to_owned(),
            StopReason::Remission => "Stopped in sustained remission".to_owned(),
            StopReason::NoLongerIndicated => "Stopped: no longer indicated".to_owned(),
        }
    }

    /// The `MedicationStatement.status` that goes with it.
    pub fn status(&self) -> &'static str {
        match self {
            StopReason::Completed => "completed",
            _ => "stopped",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rxnorm_codes_are_unique_and_round_trip() {
        let mut codes: Vec<_> = Drug::ALL.iter().map(|d| d.rxnorm()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), Drug::ALL.len());
        for d in Drug::ALL {
            assert_eq!(Drug::from_rxnorm(d.rxnorm()), Some(d));
        }
        assert_eq!(Drug::from_rxnorm("0"), None);
    }

    #[test]
    fn journeys_drug_table_classifies_every_drug_alike() {
        use journey::clinical::DrugClass as J;
        for d in Drug::ALL {
            let entry = journey::clinical::drugs::DRUGS.iter().find(|j| j.rxnorm == d.rxnorm());
            let entry = entry.unwrap_or_else(|| panic!("{d:?} ({}) is not in journey's drug table", d.rxnorm()));
            assert_eq!(entry.name, d.name());
            assert_eq!(entry.class.is_dmard(), d.is_dmard(), "{d:?}");
            let same = match d.class() {
                DrugClass::Csdmard => entry.class == J::Csdmard,
                DrugClass::Tnfi => entry.class == J::TnfInhibitor,
                DrugClass::OtherTargeted => matches!(entry.class, J::OtherBiologic | J::JakInhibitor),
                DrugClass::Immunosuppressant => entry.class == J::Immunosuppressant,
                DrugClass::Glucocorticoid => entry.class == J::Glucocorticoid,
                DrugClass::Supportive => entry.class == J::Supportive,
            };
            assert!(same, "{d:?}: synth {:?}, journey {:?}", d.class(), entry.class);
        }
    }

    #[test]
    fn steroids_and_folic_acid_are_not_dmards() {
        assert!(!Drug::Prednisone.is_dmard());
        assert!(!Drug::FolicAcid.is_dmard());
        assert!(Drug::Methotrexate.is_dmard() && Drug::Tofacitinib.is_dmard());
    }
}
