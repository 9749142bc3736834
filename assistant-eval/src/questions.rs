//! The question set: each question, the patient open when it is asked, the asker's
//! role and what a right answer must contain, stated as kinds of fact ([`Expect`]),
//! not as values (the judge reads the values from the store at run time, so the set
//! holds for any virtual cohort). The set shipped with RDT is
//! `questions/virtual-cohort.json`.

use audit_log::Role;
use serde::{Deserialize, Serialize};
use tools::ToolName;

use crate::EvalError;

/// The question set shipped with RDT.
pub const VIRTUAL_COHORT_SET: &str = include_str!("../questions/virtual-cohort.json");

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct QuestionSet {
    pub questions: Vec<Question>,
}

/// Which patient is open when the question is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Which {
    /// The cohort's richest record (most DAS28 readings, with CRP and drugs).
    A,
    /// The next richest.
    B,
    /// No patient open.
    None,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Question {
    pub id: String,
    pub question: String,
    pub patient: Which,
    #[serde(default = "clinician")]
    pub role: Role,
    pub expect: Expect,
}

fn clinician() -> Role {
    Role::Clinician
}

/// What a right answer holds. Values come from the store at run time.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Expect {
    /// The test's latest value and its flag.
    LatestLab { test: String },
    /// The latest value's flag (high, low, normal).
    LabFlag { test: String },
    /// The test's trend direction over the default window.
    LabTrend { test: String },
    /// The latest DAS28 value.
    LatestDas28,
    /// The latest DAS28 category.
    Das28Category,
    /// The DAS28 trend (falling = improving).
    Das28Trend,
    /// How many DAS28 readings the record has.
    Das28Readings,
    /// How many flares the record has.
    FlareCount,
    /// Every drug current at the last record, or that there is none.
    CurrentDrugs,
    /// How many DMARDs were tried.
    DmardsTried,
    /// Age at the last event.
    Age,
    /// Sex.
    Sex,
    /// An outcome over the similar patients (`similar_patients`): its percent, or
    /// that there are not enough comparable patients when the tool gives none.
    CohortRate { outcome: String },
    /// A definition containing these strings (case-insensitive).
    Definition { contains: Vec<String> },
    /// The record cannot answer (data not held, or outside the product).
    CannotAnswer,
    /// The asker's role may not ask.
    OutsideRole,
    /// Whatever the answer, it names and reads no patient but the open one.
    NoOtherPatient,
    /// Not scored yet, with the reason (e.g. the cohort tools do not exist yet).
    Pending { reason: String },
}

impl Expect {
    /// The tool whose result holds the expected fact, for a question that needs one.
    pub fn tool(&self) -> Option<ToolName> {
        Some(match self {
            Expect::LatestLab { .. } | Expect::LabFlag { .. } | Expect::LabTrend { .. } => ToolName::LabTrend,
            Expect::LatestDas28
            | Expect::Das28Category
            | Expect::Das28Trend
            | Expect::Das28Readings
            | Expect::FlareCount => ToolName::DiseaseActivityHistory,
            Expect::CurrentDrugs | Expect::DmardsTried => ToolName::MedicationHistory,
            Expect::Age | Expect::Sex => ToolName::PatientSummary,
            Expect::Definition { .. } => ToolName::Glossary,
            Expect::CohortRate { .. } => ToolName::SimilarPatients,
            _ => return None,
        })
    }

    pub(crate) fn is_refusal(&self) -> bool {
        matches!(self, Expect::CannotAnswer | Expect::OutsideRole)
    }
}

impl QuestionSet {
    pub fn builtin() -> Result<Self, EvalError> {
        Ok(serde_json::from_str(VIRTUAL_COHORT_SET)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The set is held out from what retrieval embeds: a question copied into a tool's
    /// examples would be found by its own text (similarity 1.0) and the score would
    /// say nothing about questions as clinicians word them.
    #[test]
    fn no_question_is_a_tool_example() {
        let norm = |s: &str| s.trim().trim_end_matches(['?', '.']).to_lowercase();
        let examples: Vec<(String, &str)> = tools::specs()
            .iter()
            .flat_map(|s| s.examples.iter().map(move |e| (norm(e), s.name.as_str())))
            .collect();
        for q in QuestionSet::builtin().unwrap().questions {
            let asked = norm(&q.question);
            if let Some((_, tool)) = examples.iter().find(|(e, _)| *e == asked) {
                panic!("question `{}` is an example of tool {tool}: reword the example", q.question);
            }
        }
    }

    #[test]
    fn the_builtin_set_parses_and_covers_every_kind_of_fact() {
        let set = QuestionSet::builtin().unwrap();
        assert!(set.questions.len() >= 40, "{}", set.questions.len());
        let mut ids: Vec<&str> = set.questions.iter().map(|q| q.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), set.questions.len(), "ids are unique");
        let has = |f: fn(&Expect) -> bool| set.questions.iter().any(|q| f(&q.expect));
        assert!(has(|e| matches!(e, Expect::LatestLab { .. })));
        assert!(has(|e| matches!(e, Expect::LabTrend { .. })));
        assert!(has(|e| matches!(e, Expect::Das28Readings)));
        assert!(has(|e| matches!(e, Expect::Definition { .. })));
        assert!(has(|e| matches!(e, Expect::CannotAnswer)));
        assert!(has(|e| matches!(e, Expect::CohortRate { .. })));
        assert!(set.questions.iter().any(|q| matches!(q.expect, Expect::OutsideRole) && q.role != Role::Clinician));
    }
}
