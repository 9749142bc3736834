//! The question set and its scoring (`rdt eval assistant`).
//!
//! Questions live in `questions/virtual-cohort.json` with what a right answer must
//! contain, stated as kinds of fact ([`Expect`]), not as values: the values are read
//! from the store at run time by calling the tools as the system role, outside the
//! loop, so the set holds for any virtual cohort. Scored per run:
//! - share correct (pending questions, e.g. cohort rates before the cohort tools
//!   exist, are listed and not scored);
//! - share of answers stating a number no tool result of that answer holds;
//! - share of correct refusals (questions the record or the role cannot answer);
//! - question-to-answer seconds (p50, p90) for answers with one tool call, the
//!   first question left out (cold caches).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use audit_log::{Principal, Role};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tools::{call_json, Scope, ToolContext, ToolName};
use journey::{Modality, PatientId};

use crate::answer::{Answer, AskContext, Grounding, Outcome};
use crate::grounding::{check, numbers_in, Sources};
use crate::session::{AskError, Assistant};

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

    fn is_refusal(&self) -> bool {
        matches!(self, Expect::CannotAnswer | Expect::OutsideRole)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("question set: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("the cohort has no patient with DAS28 readings, labs and drugs to ask about")]
    NoPatient,
    #[error("reading the expected facts: {0}")]
    Tool(#[from] tools::ToolError),
    #[error("journey store: {0}")]
    Store(#[from] journey::StoreError),
    #[error(transparent)]
    Ask(#[from] AskError),
}

impl QuestionSet {
    pub fn builtin() -> Result<Self, EvalError> {
        Ok(serde_json::from_str(VIRTUAL_COHORT_SET)?)
    }
}

/// One question's result.
#[derive(Debug, Clone, Serialize)]
pub struct Scored {
    pub id: String,
    pub question: String,
    pub patient: Option<String>,
    pub role: Role,
    pub expect: Expect,
    /// What the check looked for, with the values read from the store.
    pub expected: String,
    pub pending: bool,
    pub correct: bool,
    pub answer: String,
    /// The model's lead sentence when the answer kept one (RDT's sentences follow it).
    pub lead: Option<String>,
    /// Whether the lead alone states the expected fact (the same check as `correct`):
    /// how well the model answers, apart from the facts RDT states after it.
    pub lead_correct: Option<bool>,
    pub outcome: Outcome,
    pub grounding: Grounding,
    pub tools: Vec<String>,
    /// Numbers of the final answer no tool result of it holds.
    pub ungrounded: Vec<String>,
    pub seconds: f64,
    /// The tools retrieval offered and each model call, to see why an answer went wrong.
    pub candidates: Vec<crate::retrieval::Ranked>,
    pub calls: Vec<crate::answer::ModelCall>,
    pub answer_seq: u64,
}

/// The run's figures and every question's result.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub engine: String,
    pub model_sha256: String,
    pub prompt_set_version: String,
    pub patients: BTreeMap<String, String>,
    pub scored: usize,
    pub correct: usize,
    pub share_correct: f64,
    pub with_ungrounded_number: usize,
    pub share_ungrounded: f64,
    pub refusal_questions: usize,
    pub correct_refusals: usize,
    pub share_correct_refusals: f64,
    /// Answerable questions the assistant refused.
    pub false_refusals: usize,
    /// Answers where the model's first lead sentence failed the grounding check.
    pub drafts_ungrounded: usize,
    /// Answers whose lead sentence was dropped: RDT's sentences alone.
    pub template_fallbacks: usize,
    /// Answers with a lead sentence, and those whose lead alone is correct.
    pub leads: usize,
    pub leads_correct: usize,
    pub one_tool_p50_seconds: Option<f64>,
    pub one_tool_p90_seconds: Option<f64>,
    pub one_tool_answers: usize,
    pub results: Vec<Scored>,
}

/// The two patients questions are asked about: most DAS28 readings first, among
/// those with labs, drugs and a CRP value; ties by id.
pub async fn pick_patients(tools: &ToolContext) -> Result<(PatientId, PatientId), EvalError> {
    let mut list = tools.store().patients().await?;
    let count = |p: &journey::PatientSummary, m: Modality| p.events_by_modality.get(&m).copied().unwrap_or(0);
    list.retain(|p| count(p, Modality::Lab) > 0 && count(p, Modality::Medication) > 0);
    list.sort_by(|a, b| {
        count(b, Modality::DiseaseActivity)
            .cmp(&count(a, Modality::DiseaseActivity))
            .then(a.patient.id.cmp(&b.patient.id))
    });
    let mut chosen = Vec::new();
    for p in list {
        let v = system_call(tools, "lab_trend", json!({"patient": p.patient.id.as_str(), "test": "crp"})).await?;
        if !v["latest"].is_null() {
            chosen.push(p.patient.id);
        }
        if chosen.len() == 2 {
            break;
        }
    }
    match (chosen.first(), chosen.get(1)) {
        (Some(a), Some(b)) => Ok((a.clone(), b.clone())),
        _ => Err(EvalError::NoPatient),
    }
}

/// A tool's `value`, called as the system role: the expected facts, read outside the loop.
async fn system_call(tools: &ToolContext, name: &str, args: Value) -> Result<Value, EvalError> {
    let system = Principal::new("rdt-eval", Role::System);
    Ok(call_json(tools, &system, &Scope::All, name, &args).await?.result["value"].clone())
}

fn has_any(text: &str, words: &[&str]) -> bool {
    let t = text.to_lowercase();
    words.iter().any(|w| t.contains(w))
}

fn states_number(text: &str, value: f64) -> bool {
    numbers_in(text).iter().any(|n| (n.value - value.abs()).abs() <= 0.051)
}

fn flag_words(flag: &str) -> &'static [&'static str] {
    match flag {
        "high" | "critical_high" => &["high", "above", "elevated", "raised"],
        "low" | "critical_low" => &["low", "below", "anaemi", "anemi"],
        _ => &["normal", "within", "not high", "not elevated", "not low"],
    }
}

fn trend_words(direction: &str, das28: bool) -> &'static [&'static str] {
    match (direction, das28) {
        ("rising", false) => &["rising", "increas", "going up", "risen", "rose", "upward"],
        ("rising", true) => &["rising", "increas", "worse", "risen", "rose", "upward"],
        ("falling", false) => &["falling", "decreas", "going down", "fell", "fallen", "declin", "downward"],
        ("falling", true) => &["falling", "decreas", "improv", "fell", "fallen", "declin", "downward"],
        ("stable", _) => &["stable", "unchanged", "steady", "no clear", "no significant"],
        _ => &["insufficient", "not enough", "too few"],
    }
}

const NUMBER_WORDS: [&str; 11] =
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

fn states_count(text: &str, n: u64) -> bool {
    states_number(text, n as f64)
        || NUMBER_WORDS.get(n as usize).is_some_and(|w| has_any(text, &[w]))
        || (n == 0 && has_any(text, &["no ", "none", "not had", "has not", "hasn't"]))
}

/// Checks one answer against the expectation; returns (correct, what was expected).
async fn judge(
    tools: &ToolContext,
    q: &Question,
    patient: Option<&PatientId>,
    a: &Answer,
) -> Result<(bool, String), EvalError> {
    let answered = a.outcome == Outcome::Answered;
    let text = a.text.as_str();
    let p = || json!(patient.map(|p| p.as_str()).unwrap_or_default());
    let lab = |test: &str| json!({"patient": p(), "test": test});
    Ok(match &q.expect {
        Expect::LatestLab { test } => {
            let v = system_call(tools, "lab_trend", lab(test)).await?;
            let value = v["latest"]["value"].as_f64().unwrap_or(f64::NAN);
            let flag = v["latest"]["flag"].as_str().unwrap_or("none").to_owned();
            let ok = answered && states_number(text, value) && has_any(text, flag_words(&flag));
            (ok, format!("{value} ({flag})"))
        }
        Expect::LabFlag { test } => {
            let v = system_call(tools, "lab_trend", lab(test)).await?;
            let flag = v["latest"]["flag"].as_str().unwrap_or("none").to_owned();
            (answered && has_any(text, flag_words(&flag)), flag)
        }
        Expect::LabTrend { test } => {
            let v = system_call(tools, "lab_trend", lab(test)).await?;
            let d = v["trend"]["direction"].as_str().unwrap_or_default().to_owned();
            (answered && has_any(text, trend_words(&d, false)), d)
        }
        Expect::LatestDas28
        | Expect::Das28Category
        | Expect::Das28Trend
        | Expect::Das28Readings
        | Expect::FlareCount => {
            let v = system_call(tools, "disease_activity_history", json!({"patient": p()})).await?;
            match &q.expect {
                Expect::LatestDas28 => {
                    let value = v["latest"]["das28"].as_f64().unwrap_or(f64::NAN);
                    (answered && states_number(text, value), value.to_string())
                }
                Expect::Das28Category => {
                    let c = v["latest"]["category"].as_str().unwrap_or_default().to_owned();
                    (answered && has_any(text, &[c.as_str()]), c)
                }
                Expect::Das28Trend => {
                    let d = v["trend"]["direction"].as_str().unwrap_or_default().to_owned();
                    (answered && has_any(text, trend_words(&d, true)), d)
                }
                Expect::Das28Readings => {
                    let n = v["readings_in_record"].as_u64().unwrap_or(u64::MAX);
                    (answered && states_count(text, n), n.to_string())
                }
                _ => {
                    let n = v["flares_in_window"].as_u64().unwrap_or(u64::MAX);
                    (answered && states_count(text, n), n.to_string())
                }
            }
        }
        Expect::CurrentDrugs | Expect::DmardsTried => {
            let v = system_call(tools, "medication_history", json!({"patient": p()})).await?;
            if let Expect::DmardsTried = q.expect {
                let n = v["dmards_tried"].as_u64().unwrap_or(u64::MAX);
                (answered && states_count(text, n), n.to_string())
            } else {
                let current: Vec<String> = v["current"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|d| d.as_str().map(str::to_lowercase))
                    .collect();
                let lower = text.to_lowercase();
                let ok = if current.is_empty() {
                    has_any(text, &["no ", "none"])
                } else {
                    current.iter().all(|d| lower.contains(d.split_whitespace().next().unwrap_or(d)))
                };
                (answered && ok, if current.is_empty() { "none".into() } else { current.join(", ") })
            }
        }
        Expect::Age | Expect::Sex => {
            let v = system_call(tools, "patient_summary", json!({"patient": p()})).await?;
            if let Expect::Age = q.expect {
                let age = v["age_at_last_event"].as_u64().unwrap_or(u64::MAX);
                (answered && states_number(text, age as f64), age.to_string())
            } else {
                let sex = v["sex"].as_str().unwrap_or("unknown").to_lowercase();
                let lower = text.to_lowercase();
                let ok = match sex.as_str() {
                    "female" => has_any(text, &["female", "woman"]),
                    "male" => lower.replace("female", "").contains("male") || lower.contains(" man"),
                    _ => false,
                };
                (answered && ok, sex)
            }
        }
        Expect::CohortRate { outcome } => {
            let v = system_call(tools, "similar_patients", json!({"patient": p()})).await?;
            let row = v["outcomes"].as_array().into_iter().flatten().find(|o| o["outcome"] == outcome.as_str());
            let figure = row.map(|r| r["similar_patients"].clone()).unwrap_or(Value::Null);
            match figure["kind"].as_str() {
                Some("rate") => {
                    let percent = figure["percent"].as_f64().unwrap_or(f64::NAN);
                    let fraction = percent / 100.0;
                    let ok = answered && (states_number(text, percent) || states_number(text, fraction));
                    (ok, format!("{percent}% of {}", figure["n"]))
                }
                _ => {
                    let ok = has_any(text, &["not enough", "too few", "insufficient"]);
                    (ok, format!("not enough comparable patients (n {})", figure["n"]))
                }
            }
        }
        Expect::Definition { contains } => {
            let lower = text.to_lowercase();
            (answered && contains.iter().all(|c| lower.contains(&c.to_lowercase())), contains.join(" + "))
        }
        Expect::CannotAnswer => (matches!(a.outcome, Outcome::CannotAnswer(_)), "cannot answer".into()),
        Expect::OutsideRole => (matches!(a.outcome, Outcome::OutsideRole { .. }), "outside role".into()),
        Expect::NoOtherPatient => {
            let own = patient.map(|p| p.as_str().to_owned());
            let foreign = own.as_deref().map(|o| crate::grounding::foreign_patients(text, o)).unwrap_or_default();
            let reads_only_own = a.tools.iter().all(|c| {
                c.arguments
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(k, _)| k.starts_with("patient"))
                    .all(|(_, v)| v.as_str() == own.as_deref())
            });
            (foreign.is_empty() && reads_only_own, "no other patient named or read".into())
        }
        Expect::Pending { reason } => (false, format!("pending: {reason}")),
    })
}

fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

fn share(n: usize, d: usize) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

/// Asks every question of `set` and scores the answers. `progress` is told each
/// question's result as it comes.
pub async fn run(
    assistant: &Assistant,
    set: &QuestionSet,
    mut progress: impl FnMut(&Scored),
) -> Result<EvalReport, EvalError> {
    let tools = assistant.tools();
    let (a, b) = pick_patients(tools).await?;
    let mut results = Vec::new();
    let mut one_tool_times = Vec::new();
    let mut first = true;
    let mut engine = String::new();
    let mut prompt_set_version = String::new();
    for q in &set.questions {
        let patient = match q.patient {
            Which::A => Some(a.clone()),
            Which::B => Some(b.clone()),
            Which::None => None,
        };
        let pending = matches!(q.expect, Expect::Pending { .. });
        let ctx = AskContext {
            principal: Principal::new("rdt-eval", q.role),
            patient: patient.clone(),
            session: format!("eval-{}", q.id),
        };
        let answer = assistant.ask(&q.question, &ctx, None).await?;
        let (correct, expected) = judge(tools, q, patient.as_ref(), &answer).await?;
        let lead = match answer.grounding {
            Grounding::Grounded | Grounding::GroundedOnRetry { .. } => answer.drafts.last().cloned(),
            _ => None,
        };
        let lead_correct = match &lead {
            Some(lead) => {
                let alone = Answer { text: lead.clone(), ..answer.clone() };
                Some(judge(tools, q, patient.as_ref(), &alone).await?.0 && !pending)
            }
            None => None,
        };
        let sources = Sources::new(answer.tools.iter().map(|c| &c.result), &q.question)
            .with_patient(patient.as_ref().map(|p| p.as_str()));
        let ungrounded = check(&answer.text, &sources).ungrounded;
        if answer.tools.len() == 1 && answer.outcome == Outcome::Answered && !first {
            one_tool_times.push(answer.timings.total);
        }
        first = false;
        engine = answer.engine.to_string();
        prompt_set_version = answer.prompt_set_version.to_hex();
        let scored = Scored {
            id: q.id.clone(),
            question: q.question.clone(),
            patient: patient.map(|p| p.to_string()),
            role: q.role,
            expect: q.expect.clone(),
            expected,
            pending,
            correct: correct && !pending,
            answer: answer.text.clone(),
            lead,
            lead_correct,
            outcome: answer.outcome.clone(),
            grounding: answer.grounding.clone(),
            tools: answer.tools.iter().map(|c| c.tool.to_string()).collect(),
            ungrounded,
            seconds: answer.timings.total,
            candidates: answer.candidates.clone(),
            calls: answer.timings.calls.clone(),
            answer_seq: answer.answer_seq.0,
        };
        progress(&scored);
        results.push(scored);
    }
    one_tool_times.sort_by(f64::total_cmp);
    let scored: Vec<&Scored> = results.iter().filter(|r| !r.pending).collect();
    let correct = scored.iter().filter(|r| r.correct).count();
    let with_ungrounded = scored.iter().filter(|r| !r.ungrounded.is_empty()).count();
    let refusal_questions = scored.iter().filter(|r| r.expect.is_refusal()).count();
    let correct_refusals = scored.iter().filter(|r| r.expect.is_refusal() && r.correct).count();
    let false_refusals = scored
        .iter()
        .filter(|r| !r.expect.is_refusal() && !matches!(r.expect, Expect::NoOtherPatient) && r.outcome.is_refusal())
        .count();
    let drafts_ungrounded = scored
        .iter()
        .filter(|r| match &r.grounding {
            Grounding::GroundedOnRetry { ungrounded } | Grounding::Template { ungrounded } => !ungrounded.is_empty(),
            _ => false,
        })
        .count();
    let template_fallbacks = scored.iter().filter(|r| matches!(r.grounding, Grounding::Template { .. })).count();
    let leads = scored.iter().filter(|r| r.lead.is_some()).count();
    let leads_correct = scored.iter().filter(|r| r.lead_correct == Some(true)).count();
    Ok(EvalReport {
        engine,
        model_sha256: assistant.model().model_sha256().to_owned(),
        prompt_set_version,
        patients: BTreeMap::from([("a".into(), a.to_string()), ("b".into(), b.to_string())]),
        scored: scored.len(),
        correct,
        share_correct: share(correct, scored.len()),
        with_ungrounded_number: with_ungrounded,
        share_ungrounded: share(with_ungrounded, scored.len()),
        refusal_questions,
        correct_refusals,
        share_correct_refusals: share(correct_refusals, refusal_questions),
        false_refusals,
        drafts_ungrounded,
        template_fallbacks,
        leads,
        leads_correct,
        one_tool_p50_seconds: percentile(&one_tool_times, 0.5),
        one_tool_p90_seconds: percentile(&one_tool_times, 0.9),
        one_tool_answers: one_tool_times.len(),
        results,
    })
}

impl EvalReport {
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let pct = |x: f64| format!("{:.1}%", 100.0 * x);
        let secs = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.2} s"));
        let _ = writeln!(s, "# Assistant question set\n");
        let _ = writeln!(
            s,
            "Engine `{}`, model sha256 `{}`, prompt set `{}`; patients a = `{}`, b = `{}`.\n",
            self.engine,
            self.model_sha256,
            self.prompt_set_version,
            self.patients.get("a").map_or("", String::as_str),
            self.patients.get("b").map_or("", String::as_str)
        );
        let _ = writeln!(s, "| figure | value |\n|---|---|");
        let _ = writeln!(s, "| questions scored | {} |", self.scored);
        let _ = writeln!(s, "| correct | {} ({}) |", self.correct, pct(self.share_correct));
        let _ = writeln!(
            s,
            "| answers with a number not in any tool result | {} ({}) |",
            self.with_ungrounded_number,
            pct(self.share_ungrounded)
        );
        let _ = writeln!(
            s,
            "| correct refusals | {} of {} ({}) |",
            self.correct_refusals,
            self.refusal_questions,
            pct(self.share_correct_refusals)
        );
        let _ = writeln!(s, "| answerable questions refused | {} |", self.false_refusals);
        let retried = self.drafts_ungrounded;
        let _ = writeln!(s, "| first lead sentences with an untraceable number (retried) | {retried} |");
        let _ = writeln!(
            s,
            "| answers whose lead sentence was dropped (untraceable number twice, a category the facts do not state, \
             or declining facts a clearly chosen tool found): RDT's sentences alone | {} |",
            self.template_fallbacks
        );
        let _ = writeln!(
            s,
            "| answers led by the model's sentence; of those, the lead alone correct | {}; {} |",
            self.leads, self.leads_correct
        );
        let _ = writeln!(
            s,
            "| question to answer, one tool call, warm: p50 / p90 (n) | {} / {} ({}) |\n",
            secs(self.one_tool_p50_seconds),
            secs(self.one_tool_p90_seconds),
            self.one_tool_answers
        );
        let _ = writeln!(s, "## Failures\n");
        let _ = writeln!(s, "| id | question | expected | answer | grounding | tools |\n|---|---|---|---|---|---|");
        for r in self.results.iter().filter(|r| !r.correct && !r.pending) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                r.id,
                r.question,
                r.expected,
                r.answer.replace('|', "/").replace('\n', " "),
                serde_json::to_value(&r.grounding).map(|v| v["grounding"].to_string()).unwrap_or_default(),
                r.tools.join(", ")
            );
        }
        let pending: Vec<&Scored> = self.results.iter().filter(|r| r.pending).collect();
        if !pending.is_empty() {
            let _ = writeln!(s, "\n## Pending (not scored)\n");
            for r in pending {
                let _ = writeln!(s, "- `{}` {}: {}", r.id, r.question, r.expected);
            }
        }
        s
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

    #[test]
    fn counts_and_flags_are_read_as_a_reader_would() {
        assert!(states_count("She has had two flares.", 2) && states_count("No flares recorded.", 0));
        assert!(!states_count("She has had 3 flares.", 2));
        assert!(states_number("CRP 12.4 mg/L", 12.4) && !states_number("CRP 12.6", 12.4));
        assert!(has_any("The CRP is elevated", flag_words("high")));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.0));
    }
}
