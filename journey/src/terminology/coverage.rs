//! Coverage: what the terminology found in the store, and what it could not read.
//!
//! Per concept, the patients and values found (and values in a unit that does not
//! convert); the most frequent Observation codes with a value that map to no concept,
//! with counts and an example display; and, for each group of concepts the cohorts
//! need, a plain sentence when no patient has it, saying what it blocks and how to fix
//! it. Computed after every import, by `rdt terminology coverage` and `rdt doctor`.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::concept::Concept;
use super::{units, Terminology};

/// How many unmapped codes a report lists.
pub const TOP_UNMAPPED: usize = 20;

/// One concept's counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConceptCount {
    pub concept: Concept,
    pub display: &'static str,
    pub patients: usize,
    /// Values read in the concept's unit.
    pub values: usize,
    /// Values kept but not read: their unit does not convert.
    pub unconvertible: usize,
}

/// A code with values that maps to no concept.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnmappedCode {
    pub system: String,
    pub code: String,
    pub example_display: Option<String>,
    pub values: usize,
    pub patients: usize,
}

impl UnmappedCode {
    /// The code for a terminal: `system|code  N values, M patients  e.g. "display"`.
    pub fn line(&self) -> String {
        format!(
            "{}|{}  {} values, {} patients{}",
            self.system,
            self.code,
            self.values,
            self.patients,
            self.example_display.as_deref().map(|d| format!("  e.g. \"{d}\"")).unwrap_or_default()
        )
    }
}

/// A group of concepts a part of RDT needs, and whether any patient has one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requirement {
    pub name: &'static str,
    /// Whether its absence blocks a figure RDT shows (a failed `rdt doctor` check) or
    /// only a detail of one (a warning).
    pub blocking: bool,
    pub concepts: Vec<Concept>,
    pub blocks: &'static str,
    pub patients: usize,
    /// The plain sentence when no patient has any of the concepts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The coverage of a store (or of one import's patients).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    pub patients: usize,
    pub concepts: Vec<ConceptCount>,
    pub unmapped: Vec<UnmappedCode>,
    pub requirements: Vec<Requirement>,
}

/// What the cohorts, tools and twin need, and what each group blocks when absent.
const REQUIREMENTS: [(&str, &[Concept], &str, bool); 3] = [
    (
        "DAS28, CDAI or SDAI",
        &[Concept::Das28Esr, Concept::Das28Crp, Concept::Cdai, Concept::Sdai],
        "response, flare and disease-activity figures in cohorts, forecasts, the disease-activity tool and the twin's outcome heads",
        true,
    ),
    ("CRP or ESR", &[Concept::Crp, Concept::Esr], "inflammation trends, the CRP cohort trait and lab flags", true),
    (
        "joint counts (28)",
        &[Concept::TenderJoints28, Concept::SwollenJoints28],
        "the parts of each disease-activity reading",
        false,
    ),
];

/// Values of one code in one unit for one patient: what the store groups its
/// Observation values into (`JourneyStore::coverage`), so coverage never loads a
/// journey.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeRow {
    pub patient: String,
    pub code: crate::event::Code,
    pub unit: Option<String>,
    pub values: usize,
}

impl Coverage {
    /// Counts over `rows` (Observation values grouped by patient, code and unit) read
    /// through `terminology`; `patients` is the number of patients in the store.
    pub fn of(terminology: &Terminology, patients: usize, rows: impl IntoIterator<Item = CodeRow>) -> Self {
        #[derive(Default)]
        struct PerConcept {
            patients: HashSet<String>,
            values: usize,
            unconvertible: usize,
        }
        #[derive(Default)]
        struct PerCode {
            display: Option<String>,
            patients: HashSet<String>,
            values: usize,
        }
        let mut per: BTreeMap<Concept, PerConcept> = BTreeMap::new();
        let mut unmapped: HashMap<(String, String), PerCode> = HashMap::new();
        for row in rows {
            match terminology.concept_of(&row.code) {
                Some(c) => {
                    let slot = per.entry(c).or_default();
                    slot.patients.insert(row.patient);
                    match units::to_canonical(c, 1.0, row.unit.as_deref()) {
                        Ok(_) => slot.values += row.values,
                        Err(_) => slot.unconvertible += row.values,
                    }
                }
                None => {
                    let slot = unmapped.entry((row.code.system, row.code.code)).or_default();
                    slot.values += row.values;
                    slot.patients.insert(row.patient);
                    if slot.display.is_none() {
                        slot.display = row.code.display;
                    }
                }
            }
        }
        let concepts: Vec<ConceptCount> = per
            .iter()
            .map(|(c, p)| ConceptCount {
                concept: *c,
                display: c.display(),
                patients: p.patients.len(),
                values: p.values,
                unconvertible: p.unconvertible,
            })
            .collect();
        let mut unmapped: Vec<UnmappedCode> = unmapped
            .into_iter()
            .map(|((system, code), p)| UnmappedCode {
                system,
                code,
                example_display: p.display,
                values: p.values,
                patients: p.patients.len(),
            })
            .collect();
        unmapped.sort_by(|a, b| b.values.cmp(&a.values).then_with(|| (&a.system, &a.code).cmp(&(&b.system, &b.code))));
        unmapped.truncate(TOP_UNMAPPED);
        let requirements = REQUIREMENTS
            .iter()
            .map(|(name, needed, blocks, blocking)| {
                let mut with: HashSet<&str> = HashSet::new();
                for c in needed.iter() {
                    if let Some(p) = per.get(c) {
                        with.extend(p.patients.iter().map(String::as_str));
                    }
                }
                let found = with.len();
                let problem = (found == 0 && patients > 0).then(|| {
                    format!(
                        "{name} is found for 0 of {patients} patients: without it RDT has no {blocks}. \
                         Map your code with `rdt terminology import CONCEPTMAP.json`."
                    )
                });
                Requirement { name, blocking: *blocking, concepts: needed.to_vec(), blocks, patients: found, problem }
            })
            .collect();
        Coverage { patients, concepts, unmapped, requirements }
    }

    /// The sentences of the requirements no patient meets.
    pub fn problems(&self) -> impl Iterator<Item = &str> {
        self.requirements.iter().filter_map(|r| r.problem.as_deref())
    }

    /// The sentences of the blocking requirements no patient meets.
    pub fn blocking_problems(&self) -> impl Iterator<Item = &str> {
        self.requirements.iter().filter(|r| r.blocking).filter_map(|r| r.problem.as_deref())
    }

    /// The report as text for a terminal.
    pub fn render(&self) -> String {
        let mut out = format!("terminology coverage over {} patients\n", self.patients);
        out.push_str("  concept                          patients    values  unconvertible\n");
        for c in &self.concepts {
            out.push_str(&format!(
                "  {:<32} {:>8} {:>9} {:>14}\n",
                format!("{} ({})", c.display, c.concept),
                c.patients,
                c.values,
                c.unconvertible
            ));
        }
        if self.unmapped.is_empty() {
            out.push_str("every Observation code with a value maps to a concept or is not one RDT reads\n");
        } else {
            out.push_str("most frequent Observation codes with values that map to no concept:\n");
            for u in &self.unmapped {
                out.push_str(&format!("  {}\n", u.line()));
            }
        }
        for p in self.problems() {
            out.push_str(&format!("problem: {p}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Code;
    use crate::terminology::LOINC;

    fn row(patient: &str, system: &str, code: &str, display: Option<&str>, unit: Option<&str>, values: usize) -> CodeRow {
        CodeRow {
            patient: patient.into(),
            code: Code { system: system.into(), code: code.into(), display: display.map(Into::into) },
            unit: unit.map(Into::into),
            values,
        }
    }

    #[test]
    fn counts_concepts_unmapped_codes_and_problems() {
        let rows = vec![
            row("p1", LOINC, "1988-5", None, Some("mg/dL"), 3),
            row("p2", LOINC, "1988-5", None, Some("nmol/L"), 1),
            row("p1", "urn:oid:1.2", "D28", Some("DAS 28"), None, 2),
            row("p2", "urn:oid:1.2", "D28", None, None, 2),
        ];
        let c = Coverage::of(&Terminology::standard(), 3, rows.clone());
        assert_eq!(c.patients, 3);
        let crp = c.concepts.iter().find(|x| x.concept == Concept::Crp).unwrap();
        assert_eq!((crp.patients, crp.values, crp.unconvertible), (2, 3, 1));
        assert_eq!(c.unmapped.len(), 1);
        assert_eq!((c.unmapped[0].values, c.unmapped[0].patients), (4, 2));
        assert_eq!(c.unmapped[0].example_display.as_deref(), Some("DAS 28"));
        let problems: Vec<&str> = c.problems().collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(c.blocking_problems().count(), 1, "missing joint counts alone block no figure");
        assert!(problems[0].starts_with("DAS28, CDAI or SDAI is found for 0 of 3 patients"), "{}", problems[0]);
        assert!(c.render().contains("urn:oid:1.2|D28  4 values, 2 patients"), "{}", c.render());

        let map = [crate::terminology::MapEntry {
            system: "urn:oid:1.2".into(),
            code: "D28".into(),
            display: None,
            concept: Concept::Das28Esr,
        }];
        let c = Coverage::of(&Terminology::with_entries(&map), 3, rows);
        assert!(c.unmapped.is_empty());
        assert_eq!(c.requirements[0].patients, 2);
        assert_eq!(c.problems().count(), 1, "joint counts are still missing");
        assert_eq!(c.blocking_problems().count(), 0);
    }
}
