//! The question set: each question, the patient open when it is asked, the asker's
//! role and what a right answer must contain, stated as kinds of fact ([`Expect`]),
//! not as values (the judge reads the values from the store at run time, so the set
//! holds for any virtual cohort). Two sets ship ([`SetName`]): the tuning set
//! (`questions/virtual-cohort.json`), which changes are chosen on, and the frozen
//! held-out set (`questions/held-out.json`, docs/benchmarks/assistant-heldout-protocol.md),
//! which is never used to choose one. A second tuning set (`questions/readings.json`)
//! asks every reading the held-out set covers in wording of its own, so changes to those
//! readings are chosen on questions the held-out set does not hold. A third tuning set
//! (`questions/wording.json`) asks the same readings as clinicians type them: shorthand,
//! abbreviations, brand names, negations, two-sided and imperative questions, date
//! phrases.

use audit_log::Role;
use serde::{Deserialize, Serialize};
use tools::ToolName;

use crate::EvalError;

/// The tuning set: what changes to the assistant are chosen on.
pub const VIRTUAL_COHORT_SET: &str = include_str!("../questions/virtual-cohort.json");
/// The held-out set, frozen before anything scored it: never used to choose a change.
pub const HELD_OUT_SET: &str = include_str!("../questions/held-out.json");
/// The second tuning set: every reading issue 21 names (existence, counts, trends over
/// visits and windows, comparisons, treatment options), written after the held-out set
/// was frozen and without reading it; tuned on like the first.
pub const READINGS_SET: &str = include_str!("../questions/readings.json");
/// The third tuning set: the readings of the second in the wording clinicians type
/// (shorthand and fragments, abbreviations, 6/12 for months, brand names, British and
/// American spellings, negations, two-sided and imperative questions, "since <month
/// year>"), written without reading the held-out set; tuned on like the others. Its
/// "since <month year>" questions are dated for the default tuning cohort (seed 11, 40
/// patients): their `window_days`/`days_before` run from that date to the measure's
/// latest value there.
pub const WORDING_SET: &str = include_str!("../questions/wording.json");

/// Which shipped set a run asks, with the cohort it is asked over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SetName {
    Tuning,
    /// The second tuning set, over every reading.
    Readings,
    /// The third tuning set: every reading in clinicians' own wording.
    Wording,
    HeldOut,
}

impl SetName {
    pub fn questions(self) -> Result<QuestionSet, EvalError> {
        Ok(serde_json::from_str(match self {
            SetName::Tuning => VIRTUAL_COHORT_SET,
            SetName::Readings => READINGS_SET,
            SetName::Wording => WORDING_SET,
            SetName::HeldOut => HELD_OUT_SET,
        })?)
    }

    /// The held-out set's cohort is part of its protocol (seed 43, 60 patients, a seed
    /// no tuning ever used); the tuning set's is the caller's choice (`None`).
    pub fn frozen_cohort(self) -> Option<(u64, usize)> {
        match self {
            SetName::Tuning | SetName::Readings | SetName::Wording => None,
            SetName::HeldOut => Some((HELD_OUT_SEED, HELD_OUT_PATIENTS)),
        }
    }

    /// The report's file stem under `<data-dir>/reports/`: each set's run kept apart.
    pub fn report_stem(self) -> &'static str {
        match self {
            SetName::Tuning => "assistant-eval",
            SetName::Readings => "assistant-eval-readings",
            SetName::Wording => "assistant-eval-wording",
            SetName::HeldOut => "assistant-eval-held-out",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SetName::Tuning => "tuning",
            SetName::Readings => "readings",
            SetName::Wording => "wording",
            SetName::HeldOut => "held-out",
        }
    }
}

impl std::str::FromStr for SetName {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "tuning" => Ok(SetName::Tuning),
            "readings" => Ok(SetName::Readings),
            "wording" => Ok(SetName::Wording),
            "held-out" => Ok(SetName::HeldOut),
            other => Err(format!("unknown question set `{other}` (tuning, readings, wording, held-out)")),
        }
    }
}

/// The held-out set's cohort (docs/benchmarks/assistant-heldout-protocol.md).
pub const HELD_OUT_SEED: u64 = 43;
pub const HELD_OUT_PATIENTS: usize = 60;

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
    /// How many values of the test the record has.
    LabCount { test: String },
    /// Whether any course in the record is of one of these: a drug class
    /// (`tools::drugs::DrugClass`'s snake_case name), `biologic` (TNF inhibitors and other
    /// biologics) or a drug name: yes naming one, or no.
    EverStarted { any_of: Vec<String> },
    /// The trend direction over the last `n` values of `of` (`das28` or a lab test), by
    /// the tools' trend statistic and the measure's stable threshold.
    TrendLast { of: String, n: usize },
    /// The trend direction over the `window_days` before the latest value of `of`, as
    /// the measure's tool gives it with that window.
    TrendOver { of: String, window_days: u32 },
    /// The latest value of `of` against the previous one, or against the value nearest
    /// `days_before` days before the latest: both values, or the direction.
    Change {
        of: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        days_before: Option<u32>,
    },
    /// The treatment options (`compare_treatments`): a figure of the named option (or
    /// of any option with enough comparable patients when none is named), or "not
    /// enough comparable patients" when there is none to give.
    TreatmentOptions {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        option: Option<String>,
    },
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
            Expect::LatestLab { .. } | Expect::LabFlag { .. } | Expect::LabTrend { .. } | Expect::LabCount { .. } => {
                ToolName::LabTrend
            }
            Expect::TrendLast { of, .. } | Expect::TrendOver { of, .. } | Expect::Change { of, .. } => {
                if of == DAS28 {
                    ToolName::DiseaseActivityHistory
                } else {
                    ToolName::LabTrend
                }
            }
            Expect::LatestDas28
            | Expect::Das28Category
            | Expect::Das28Trend
            | Expect::Das28Readings
            | Expect::FlareCount => ToolName::DiseaseActivityHistory,
            Expect::CurrentDrugs | Expect::DmardsTried | Expect::EverStarted { .. } => ToolName::MedicationHistory,
            Expect::Age | Expect::Sex => ToolName::PatientSummary,
            Expect::Definition { .. } => ToolName::Glossary,
            Expect::CohortRate { .. } => ToolName::SimilarPatients,
            Expect::TreatmentOptions { .. } => ToolName::CompareTreatments,
            _ => return None,
        })
    }

    pub(crate) fn is_refusal(&self) -> bool {
        matches!(self, Expect::CannotAnswer | Expect::OutsideRole)
    }

    /// Judged on the outcome (refused, or what was read), not on any sentence: the
    /// lead alone is judged as the whole answer is.
    pub(crate) fn is_judged_on_outcome(&self) -> bool {
        matches!(self, Expect::CannotAnswer | Expect::OutsideRole | Expect::NoOtherPatient)
    }

    /// What the question asks of the record (issue 21's readings), to report and
    /// check coverage per reading.
    pub fn reading(&self) -> Reading {
        match self {
            Expect::LatestLab { .. }
            | Expect::LabFlag { .. }
            | Expect::LatestDas28
            | Expect::Das28Category
            | Expect::CurrentDrugs
            | Expect::Age
            | Expect::Sex => Reading::Value,
            Expect::EverStarted { .. } => Reading::Existence,
            Expect::LabCount { .. } | Expect::Das28Readings | Expect::FlareCount | Expect::DmardsTried => {
                Reading::Count
            }
            Expect::TrendLast { .. } => Reading::TrendOverVisits,
            Expect::TrendOver { .. } | Expect::LabTrend { .. } | Expect::Das28Trend => Reading::TrendOverWindow,
            Expect::Change { .. } => Reading::Comparison,
            Expect::CohortRate { .. } => Reading::CohortOutcome,
            Expect::TreatmentOptions { .. } => Reading::TreatmentOption,
            Expect::Definition { .. } => Reading::Definition,
            Expect::CannotAnswer => Reading::NotHeld,
            Expect::OutsideRole | Expect::NoOtherPatient => Reading::RoleOrScope,
            Expect::Pending { .. } => Reading::Pending,
        }
    }
}

/// The measure name `of` takes for DAS28 (anything else names a lab test).
pub const DAS28: &str = "das28";

/// What a question asks of the record: the readings issue 21 names, and the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reading {
    Value,
    Existence,
    Count,
    TrendOverVisits,
    TrendOverWindow,
    Comparison,
    CohortOutcome,
    TreatmentOption,
    /// Data the record does not hold, or a question outside the product.
    NotHeld,
    RoleOrScope,
    Definition,
    Pending,
}

impl Reading {
    /// The readings issue 21 asks the held-out set to cover.
    pub const ASKED: [Reading; 10] = [
        Reading::Value,
        Reading::Existence,
        Reading::Count,
        Reading::TrendOverVisits,
        Reading::TrendOverWindow,
        Reading::Comparison,
        Reading::CohortOutcome,
        Reading::TreatmentOption,
        Reading::NotHeld,
        Reading::RoleOrScope,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reading::Value => "value",
            Reading::Existence => "existence",
            Reading::Count => "count",
            Reading::TrendOverVisits => "trend over the last N visits",
            Reading::TrendOverWindow => "trend over a window",
            Reading::Comparison => "comparison",
            Reading::CohortOutcome => "cohort outcome",
            Reading::TreatmentOption => "treatment option",
            Reading::NotHeld => "not held",
            Reading::RoleOrScope => "role or scope",
            Reading::Definition => "definition",
            Reading::Pending => "pending",
        }
    }
}

impl QuestionSet {
    /// The tuning set.
    pub fn builtin() -> Result<Self, EvalError> {
        SetName::Tuning.questions()
    }

    /// The frozen held-out set.
    pub fn held_out() -> Result<Self, EvalError> {
        SetName::HeldOut.questions()
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
        let sets = [SetName::Tuning, SetName::Wording];
        for q in sets.into_iter().flat_map(|set| set.questions().unwrap().questions) {
            let asked = norm(&q.question);
            if let Some((_, tool)) = examples.iter().find(|(e, _)| *e == asked) {
                panic!("question `{}` is an example of tool {tool}: reword the example", q.question);
            }
        }
    }

    /// The words of a question, lowercase, punctuation dropped ("DAS-28" stays one word).
    fn words(text: &str) -> Vec<String> {
        text.split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
            .map(|w| w.trim_matches(['-', '\'']).to_lowercase())
            .filter(|w| !w.is_empty())
            .collect()
    }

    /// Every run of `n` consecutive words of `text`.
    fn runs(text: &str, n: usize) -> Vec<String> {
        words(text).windows(n).map(|w| w.join(" ")).collect()
    }

    /// The held-out set shares no template with what retrieval embeds (the tools'
    /// examples) or with the set changes are tuned on: no held-out question equals or
    /// contains a tool example or a tuning question, and no run of 4 words of either
    /// appears in one (a shared run is a shared template, and a score on it says how
    /// the assistant does on wording it was fitted to).
    #[test]
    fn the_held_out_set_shares_no_wording_with_the_tools_or_the_tuning_set() {
        let examples: Vec<String> = tools::specs().iter().flat_map(|s| s.examples.iter().map(|e| e.to_string())).collect();
        let tuning: Vec<String> = [SetName::Tuning, SetName::Readings, SetName::Wording]
            .into_iter()
            .flat_map(|set| set.questions().unwrap().questions)
            .map(|q| q.question)
            .collect();
        assert!(examples.len() > 20 && tuning.len() > 40, "the wording compared against is all there");
        let padded = |text: &str| format!(" {} ", words(text).join(" "));
        let mut shared = Vec::new();
        for q in QuestionSet::held_out().unwrap().questions {
            let asked = padded(&q.question);
            let asked_runs = runs(&q.question, 4);
            for (source, text) in examples.iter().map(|e| ("tool example", e)).chain(tuning.iter().map(|t| ("tuning", t))) {
                if asked.contains(&padded(text)) {
                    shared.push(format!("{}: contains the {source} `{text}`", q.id));
                }
                for run in runs(text, 4).into_iter().filter(|r| asked_runs.contains(r)) {
                    shared.push(format!("{}: `{run}` from the {source} `{text}`", q.id));
                }
            }
        }
        assert!(shared.is_empty(), "{shared:#?}");
    }

    #[test]
    fn runs_are_read_over_words_not_characters() {
        assert_eq!(runs("Is the DAS-28, now, lower?", 4), ["is the das-28 now", "the das-28 now lower"]);
        assert!(runs("Last ESR?", 4).is_empty());
    }

    /// At least `n` questions, each with an id of its own (a report lists them by id).
    fn has_unique_ids_and_at_least(set: &QuestionSet, n: usize) {
        assert!(set.questions.len() >= n, "{}", set.questions.len());
        let mut ids: Vec<&str> = set.questions.iter().map(|q| q.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), set.questions.len(), "ids are unique");
    }

    /// The held-out set as its protocol states it: at least 100 questions, unique ids,
    /// every reading issue 21 names, each but the outcome-only ones with at least 10,
    /// both patients asked about, a role other than the clinician's, and expectations
    /// only of kinds the judge reads from the store (nothing pending).
    #[test]
    fn the_held_out_set_parses_and_covers_every_reading() {
        let set = QuestionSet::held_out().unwrap();
        has_unique_ids_and_at_least(&set, 100);
        let count = |r: Reading| set.questions.iter().filter(|q| q.expect.reading() == r).count();
        for reading in Reading::ASKED {
            let least = if reading == Reading::RoleOrScope { 2 } else { 10 };
            assert!(count(reading) >= least, "{}: {}", reading.as_str(), count(reading));
        }
        assert!(set.questions.iter().all(|q| Reading::ASKED.contains(&q.expect.reading())), "only the readings asked");
        assert!(set.questions.iter().any(|q| q.patient == Which::A) && set.questions.iter().any(|q| q.patient == Which::B));
        assert!(set.questions.iter().any(|q| q.role != Role::Clinician && matches!(q.expect, Expect::OutsideRole)));
        let seeds_in_use = [1, 3, 5, 7, 11, 19, 29, 31, 42, 99, 100, 2024];
        assert_eq!(SetName::HeldOut.frozen_cohort(), Some((HELD_OUT_SEED, HELD_OUT_PATIENTS)));
        assert!(!seeds_in_use.contains(&HELD_OUT_SEED), "the held-out cohort's seed is one no tuning used");
    }

    #[test]
    fn set_names_parse_and_name_their_reports_apart() {
        assert_eq!("held-out".parse::<SetName>(), Ok(SetName::HeldOut));
        assert_eq!("tuning".parse::<SetName>(), Ok(SetName::Tuning));
        assert!("heldout".parse::<SetName>().is_err());
        assert_ne!(SetName::Tuning.report_stem(), SetName::HeldOut.report_stem());
        assert_eq!(SetName::Tuning.frozen_cohort(), None);
        let stems: Vec<&str> =
            [SetName::Tuning, SetName::Readings, SetName::Wording, SetName::HeldOut].map(SetName::report_stem).to_vec();
        assert!(stems.iter().enumerate().all(|(i, s)| !stems[..i].contains(s)), "{stems:?}");
    }

    /// Every reading the held-out set scores is asked at least `least` times.
    fn asks_every_reading_at_least(set: &QuestionSet, least: usize) {
        for reading in Reading::ASKED {
            let n = set.questions.iter().filter(|q| q.expect.reading() == reading).count();
            assert!(n >= least, "{}: {n}", reading.as_str());
        }
    }

    /// The second tuning set asks every reading the held-out set asks, each at least
    /// four times, about both patients, and is kept out of the tools' examples.
    #[test]
    fn the_readings_set_parses_and_covers_every_reading() {
        let set = SetName::Readings.questions().unwrap();
        has_unique_ids_and_at_least(&set, 60);
        asks_every_reading_at_least(&set, 4);
        assert!(set.questions.iter().any(|q| q.patient == Which::A) && set.questions.iter().any(|q| q.patient == Which::B));
        let ids = |set: SetName| set.questions().unwrap().questions.into_iter().map(|q| q.id).collect::<Vec<_>>();
        let tuning = ids(SetName::Tuning);
        assert!(ids(SetName::Readings).iter().all(|id| !tuning.contains(id)), "ids apart from the first set's");
        assert_eq!(SetName::Readings.frozen_cohort(), None);
        assert_eq!("readings".parse::<SetName>(), Ok(SetName::Readings));
    }

    #[test]
    fn the_builtin_set_parses_and_covers_every_kind_of_fact() {
        let set = QuestionSet::builtin().unwrap();
        has_unique_ids_and_at_least(&set, 40);
        let has = |f: fn(&Expect) -> bool| set.questions.iter().any(|q| f(&q.expect));
        assert!(has(|e| matches!(e, Expect::LatestLab { .. })));
        assert!(has(|e| matches!(e, Expect::LabTrend { .. })));
        assert!(has(|e| matches!(e, Expect::Das28Readings)));
        assert!(has(|e| matches!(e, Expect::Definition { .. })));
        assert!(has(|e| matches!(e, Expect::CannotAnswer)));
        assert!(has(|e| matches!(e, Expect::CohortRate { .. })));
        assert!(set.questions.iter().any(|q| matches!(q.expect, Expect::OutsideRole) && q.role != Role::Clinician));
    }

    /// The third tuning set asks every reading the held-out set asks, each at least six
    /// times, about both patients, in wording of its own: no question shares a run of 4
    /// words with the tools' examples or the other tuning sets (the held-out set is
    /// checked against it by the test above), its ids are its own, and every expectation
    /// names a measure, drug, outcome or option the judge can read.
    #[test]
    fn the_wording_set_parses_covers_every_reading_and_shares_no_wording() {
        let set = SetName::Wording.questions().unwrap();
        has_unique_ids_and_at_least(&set, 75);
        asks_every_reading_at_least(&set, 6);
        assert!(set.questions.iter().all(|q| Reading::ASKED.contains(&q.expect.reading())), "only the readings asked");
        for which in [Which::A, Which::B] {
            assert!(set.questions.iter().any(|q| q.patient == which), "{which:?}");
        }
        assert!(set.questions.iter().any(|q| q.role != Role::Clinician && matches!(q.expect, Expect::OutsideRole)));
        let others: Vec<Question> = [SetName::Tuning, SetName::Readings, SetName::HeldOut]
            .into_iter()
            .flat_map(|set| set.questions().unwrap().questions)
            .collect();
        assert!(set.questions.iter().all(|q| others.iter().all(|o| o.id != q.id)), "ids apart from the other sets'");
        assert_eq!(SetName::Wording.frozen_cohort(), None);
        assert_eq!("wording".parse::<SetName>(), Ok(SetName::Wording));
        assert_eq!(SetName::Wording.as_str(), "wording");

        let examples = tools::specs().into_iter().flat_map(|s| s.examples.iter().map(|e| e.to_string()));
        let tuning = [SetName::Tuning, SetName::Readings]
            .into_iter()
            .flat_map(|set| set.questions().unwrap().questions)
            .map(|q| q.question);
        let compared: Vec<String> = examples.chain(tuning).collect();
        let padded = |text: &str| format!(" {} ", words(text).join(" "));
        let mut shared = Vec::new();
        for q in &set.questions {
            let (asked, asked_runs) = (padded(&q.question), runs(&q.question, 4));
            for text in &compared {
                if asked.contains(&padded(text)) || padded(text).contains(&asked) {
                    shared.push(format!("{}: contains or is contained in `{text}`", q.id));
                }
                for run in runs(text, 4).into_iter().filter(|r| asked_runs.contains(r)) {
                    shared.push(format!("{}: `{run}` from `{text}`", q.id));
                }
            }
        }
        assert!(shared.is_empty(), "{shared:#?}");

        let lab = |test: &str| serde_json::from_value::<tools::LabTest>(serde_json::json!(test)).is_ok();
        let measure = |of: &str| of == DAS28 || lab(of);
        let outcome =
            |o: &str| serde_json::from_value::<twin_core::cohort::outcomes::Outcome>(serde_json::json!(o)).is_ok();
        let option = |o: &str| journey::clinical::TreatmentOption::ALL.iter().any(|t| t.key() == o);
        let class = |c: &str| {
            tools::drugs::DrugClass::ALL.iter().any(|k| serde_json::to_value(k).unwrap() == serde_json::json!(c))
        };
        let group = |g: &str| g == "biologic" || class(g) || tools::drugs::DRUGS.iter().any(|d| d.name == g);
        for q in &set.questions {
            let known = match &q.expect {
                Expect::LatestLab { test }
                | Expect::LabFlag { test }
                | Expect::LabTrend { test }
                | Expect::LabCount { test } => lab(test),
                Expect::TrendLast { of, n } => measure(of) && *n >= 3,
                Expect::TrendOver { of, window_days } => measure(of) && (1..=3650).contains(window_days),
                Expect::Change { of, .. } => measure(of),
                Expect::CohortRate { outcome: o } => outcome(o),
                Expect::TreatmentOptions { option: o } => o.as_deref().is_none_or(option),
                Expect::EverStarted { any_of } => !any_of.is_empty() && any_of.iter().all(|g| group(g)),
                Expect::Pending { .. } | Expect::Definition { .. } => false,
                _ => true,
            };
            assert!(known, "{}: {:?}", q.id, q.expect);
        }
    }
}
