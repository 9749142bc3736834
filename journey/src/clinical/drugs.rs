//! The drugs of rheumatology practice by RxNorm ingredient code, with their class.
//!
//! A small vetted table (the drugs the virtual cohort and most RA records use, with
//! the other TNF, IL-6, JAK inhibitors and biologics a hospital's RA record carries); a
//! drug outside it keeps its recorded display and has no class.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::event::Code;

pub const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
/// Methotrexate's RxNorm ingredient code.
pub const METHOTREXATE: &str = "6851";

/// What kind of drug, as rheumatologists group them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DrugClass {
    /// Conventional synthetic DMARD.
    Csdmard,
    /// TNF inhibitor (biologic DMARD).
    TnfInhibitor,
    /// Other biologic DMARD (IL-6 receptor, anti-CD20).
    OtherBiologic,
    /// Targeted synthetic DMARD (JAK inhibitor).
    JakInhibitor,
    /// Immunosuppressant used in connective tissue disease.
    Immunosuppressant,
    Glucocorticoid,
    /// Not disease-modifying (folic acid, vasodilators).
    Supportive,
}

impl DrugClass {
    pub const ALL: [DrugClass; 7] = [
        DrugClass::Csdmard,
        DrugClass::TnfInhibitor,
        DrugClass::OtherBiologic,
        DrugClass::JakInhibitor,
        DrugClass::Immunosuppressant,
        DrugClass::Glucocorticoid,
        DrugClass::Supportive,
    ];

    /// Disease-modifying: counts as a line of therapy, a switch, a response.
    pub fn is_dmard(self) -> bool {
        !matches!(self, DrugClass::Glucocorticoid | DrugClass::Supportive)
    }
}

/// What a drug acts on: finer than [`DrugClass`], because the treatment options a
/// rheumatologist weighs after a TNF inhibitor are told apart by target (an IL-6
/// receptor blocker, B-cell depletion, T-cell co-stimulation blockade), not by class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Conventional synthetic DMARDs and immunosuppressants: no single target.
    Conventional,
    Tnf,
    Il6Receptor,
    /// B-cell depletion (anti-CD20).
    Cd20,
    /// T-cell co-stimulation (CD80/CD86) blockade.
    Costimulation,
    Il1,
    Jak,
    /// Not disease-modifying (glucocorticoids, supportive drugs).
    None,
}

/// One drug of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drug {
    pub rxnorm: &'static str,
    pub name: &'static str,
    pub class: DrugClass,
    pub target: Target,
}

impl Drug {
    pub fn is_methotrexate(&self) -> bool {
        self.rxnorm == METHOTREXATE
    }
}

pub const DRUGS: &[Drug] = &[
    Drug { rxnorm: METHOTREXATE, name: "methotrexate", class: DrugClass::Csdmard, target: Target::Conventional },
    Drug { rxnorm: "5521", name: "hydroxychloroquine", class: DrugClass::Csdmard, target: Target::Conventional },
    Drug { rxnorm: "9524", name: "sulfasalazine", class: DrugClass::Csdmard, target: Target::Conventional },
    Drug { rxnorm: "27169", name: "leflunomide", class: DrugClass::Csdmard, target: Target::Conventional },
    Drug { rxnorm: "8640", name: "prednisone", class: DrugClass::Glucocorticoid, target: Target::None },
    Drug { rxnorm: "8638", name: "prednisolone", class: DrugClass::Glucocorticoid, target: Target::None },
    Drug { rxnorm: "327361", name: "adalimumab", class: DrugClass::TnfInhibitor, target: Target::Tnf },
    Drug { rxnorm: "214555", name: "etanercept", class: DrugClass::TnfInhibitor, target: Target::Tnf },
    Drug { rxnorm: "191831", name: "infliximab", class: DrugClass::TnfInhibitor, target: Target::Tnf },
    Drug { rxnorm: "709271", name: "certolizumab pegol", class: DrugClass::TnfInhibitor, target: Target::Tnf },
    Drug { rxnorm: "819300", name: "golimumab", class: DrugClass::TnfInhibitor, target: Target::Tnf },
    Drug { rxnorm: "612865", name: "tocilizumab", class: DrugClass::OtherBiologic, target: Target::Il6Receptor },
    Drug { rxnorm: "1923319", name: "sarilumab", class: DrugClass::OtherBiologic, target: Target::Il6Receptor },
    Drug { rxnorm: "121191", name: "rituximab", class: DrugClass::OtherBiologic, target: Target::Cd20 },
    Drug { rxnorm: "614391", name: "abatacept", class: DrugClass::OtherBiologic, target: Target::Costimulation },
    Drug { rxnorm: "72435", name: "anakinra", class: DrugClass::OtherBiologic, target: Target::Il1 },
    Drug { rxnorm: "1357536", name: "tofacitinib", class: DrugClass::JakInhibitor, target: Target::Jak },
    Drug { rxnorm: "2047232", name: "baricitinib", class: DrugClass::JakInhibitor, target: Target::Jak },
    Drug { rxnorm: "2196092", name: "upadacitinib", class: DrugClass::JakInhibitor, target: Target::Jak },
    Drug { rxnorm: "68149", name: "mycophenolate mofetil", class: DrugClass::Immunosuppressant, target: Target::Conventional },
    Drug { rxnorm: "1256", name: "azathioprine", class: DrugClass::Immunosuppressant, target: Target::Conventional },
    Drug { rxnorm: "4511", name: "folic acid", class: DrugClass::Supportive, target: Target::None },
    Drug { rxnorm: "7417", name: "nifedipine", class: DrugClass::Supportive, target: Target::None },
];

/// Brand names clinicians use for the table's drugs, lower case, with the ingredient's
/// RxNorm code: a question says "Actemra" or "Humira" as often as the ingredient, and a
/// record holds the ingredient (RxNorm ingredient codes), so a brand is read as its
/// ingredient. Only brands in wide use in RA care; a brand not listed is not guessed.
pub const BRANDS: &[(&str, &str)] = &[
    ("humira", "327361"),
    ("amgevita", "327361"),
    ("hyrimoz", "327361"),
    ("enbrel", "214555"),
    ("benepali", "214555"),
    ("remicade", "191831"),
    ("inflectra", "191831"),
    ("cimzia", "709271"),
    ("simponi", "819300"),
    ("actemra", "612865"),
    ("roactemra", "612865"),
    ("kevzara", "1923319"),
    ("rituxan", "121191"),
    ("mabthera", "121191"),
    ("truxima", "121191"),
    ("orencia", "614391"),
    ("kineret", "72435"),
    ("xeljanz", "1357536"),
    ("olumiant", "2047232"),
    ("rinvoq", "2196092"),
    ("plaquenil", "5521"),
    ("salazopyrin", "9524"),
    ("azulfidine", "9524"),
    ("arava", "27169"),
    ("cellcept", "68149"),
    ("imuran", "1256"),
];

/// Abbreviations and other spellings clinicians write for the table's drugs, lower
/// case, with the ingredient's RxNorm code: clinic letters and questions say "MTX",
/// "HCQ", "SSZ" or "sulphasalazine" as often as the ingredient. Only forms with one
/// reading in rheumatology; an ambiguous one ("pred": prednisone or prednisolone) is
/// left to the glucocorticoid class rather than guessed.
pub const ABBREVIATIONS: &[(&str, &str)] = &[
    ("mtx", "6851"),
    ("hcq", "5521"),
    ("ssz", "9524"),
    ("sasp", "9524"),
    ("sulphasalazine", "9524"),
    ("lef", "27169"),
    ("tcz", "612865"),
    ("rtx", "121191"),
    ("etn", "214555"),
    ("ifx", "191831"),
    ("mmf", "68149"),
    ("mycophenolate", "68149"),
    ("aza", "1256"),
    ("tofa", "1357536"),
    ("bari", "2047232"),
];

/// The table's drug a single word (any case) names: its ingredient (or the
/// ingredient's first word, "certolizumab"), a brand ([`BRANDS`]), or an
/// abbreviation or other spelling ([`ABBREVIATIONS`]). The one door from a word of a
/// question or a note to a drug of the table.
pub fn by_word(word: &str) -> Option<&'static Drug> {
    let word = word.to_lowercase();
    DRUGS
        .iter()
        .find(|d| d.name == word || d.name.split(' ').next().is_some_and(|first| first.len() > 6 && first == word))
        .or_else(|| by_brand(&word))
        .or_else(|| {
            let (_, rxnorm) = ABBREVIATIONS.iter().find(|(a, _)| *a == word)?;
            DRUGS.iter().find(|d| d.rxnorm == *rxnorm)
        })
}

/// The table's drug a brand name (any case) stands for.
pub fn by_brand(brand: &str) -> Option<&'static Drug> {
    let brand = brand.to_lowercase();
    let (_, rxnorm) = BRANDS.iter().find(|(b, _)| *b == brand)?;
    DRUGS.iter().find(|d| d.rxnorm == *rxnorm)
}

/// The table's drug for a medication code (RxNorm only).
pub fn lookup(code: &Code) -> Option<&'static Drug> {
    (code.system == RXNORM).then(|| DRUGS.iter().find(|d| d.rxnorm == code.code)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_rxnorm_only() {
        let code = |system: &str, code: &str| Code { system: system.into(), code: code.into(), display: None };
        assert_eq!(lookup(&code(RXNORM, "6851")).unwrap().name, "methotrexate");
        assert!(lookup(&code(RXNORM, "6851")).unwrap().is_methotrexate());
        assert!(lookup(&code("urn:oid:1.2.3", "6851")).is_none());
        assert!(lookup(&code(RXNORM, "999")).is_none());
        assert!(DrugClass::TnfInhibitor.is_dmard() && !DrugClass::Glucocorticoid.is_dmard());
    }

    /// Every brand names a drug of the table, and reads as it in any case.
    #[test]
    fn brands_name_the_tables_ingredients() {
        for (brand, rxnorm) in BRANDS {
            assert!(DRUGS.iter().any(|d| d.rxnorm == *rxnorm), "{brand}");
        }
        assert_eq!(by_brand("Actemra").map(|d| d.name), Some("tocilizumab"));
        assert_eq!(by_brand("HUMIRA").map(|d| d.class), Some(DrugClass::TnfInhibitor));
        assert!(by_brand("aspirin").is_none());
    }

    /// Every abbreviation names a drug of the table; a word is read as the drug its
    /// ingredient name, brand or abbreviation stands for, in any case.
    #[test]
    fn words_name_drugs_by_ingredient_brand_or_abbreviation() {
        for (word, rxnorm) in ABBREVIATIONS {
            assert!(DRUGS.iter().any(|d| d.rxnorm == *rxnorm), "{word}");
            assert!(!BRANDS.iter().any(|(b, _)| b == word), "{word} is a brand too");
        }
        let name = |w: &str| by_word(w).map(|d| d.name);
        assert_eq!(name("Sulphasalazine"), Some("sulfasalazine"));
        assert_eq!(name("MTX"), Some("methotrexate"));
        assert_eq!(name("arava"), Some("leflunomide"));
        assert_eq!(name("certolizumab"), Some("certolizumab pegol"));
        assert_eq!(name("adalimumab"), Some("adalimumab"));
        assert_eq!(name("pred"), None, "prednisone or prednisolone: not guessed");
        assert_eq!(name("folic"), None, "a short first word is not a drug");
    }
}
