//! The runner: every question of a [`QuestionSet`] asked through `Assistant::ask`,
//! judged (`judge.rs`), and the run's figures ([`EvalReport`]). Scored per run:
//! - share correct (pending questions, e.g. cohort rates before the cohort tools
//!   exist, are listed and not scored), and share correct judging the model's lead
//!   sentence alone, overall and per reading (issue 21: RDT's own sentences make a
//!   lookup pass by construction, so the whole answer's share alone flatters the model);
//! - share of answers stating a number no tool result of that answer holds;
//! - share of correct refusals (questions the record or the role cannot answer);
//! - question-to-answer seconds (p50, p90) for answers with one tool call, the
//!   first question left out (cold caches).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use assistant::grounding::{check, Sources};
use assistant::{AskContext, Assistant, Grounding, ModelCall, Outcome, Ranked};
use audit_log::{Principal, Role};
use serde::Serialize;
use serde_json::json;
use tools::ToolContext;
use journey::{Modality, PatientId};

use crate::judge::{judge, judge_lead_alone, kept_lead, system_call};
use crate::questions::{Expect, QuestionSet, Reading, SetName, Which};
use crate::EvalError;

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
    /// Every lead the model wrote, kept or dropped (a retry is a second draft): the
    /// model's own words, to see why a lead was dropped.
    pub drafts: Vec<String>,
    /// Whether the lead alone states the expected fact (the same check as `correct`):
    /// how well the model answers, apart from the facts RDT states after it. False for
    /// a fact question without a kept lead; as `correct` for one judged on its outcome
    /// (a refusal, the patients read), which has no model sentence (`judge_lead_alone`).
    pub lead_correct: bool,
    pub reading: Reading,
    pub outcome: Outcome,
    pub grounding: Grounding,
    pub tools: Vec<String>,
    /// Numbers of the final answer no tool result of it holds.
    pub ungrounded: Vec<String>,
    pub seconds: f64,
    /// The tools retrieval offered and each model call, to see why an answer went wrong.
    pub candidates: Vec<Ranked>,
    pub calls: Vec<ModelCall>,
    pub answer_seq: u64,
}

/// The run's figures and every question's result.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub set: SetName,
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
    /// Scored questions right on the model's lead sentence alone (`Scored::lead_correct`),
    /// and their share of all scored questions.
    pub lead_alone_correct: usize,
    pub share_lead_alone_correct: f64,
    /// Per reading: questions scored, right as a whole, right on the lead alone.
    pub by_reading: Vec<ReadingScore>,
    pub one_tool_p50_seconds: Option<f64>,
    pub one_tool_p90_seconds: Option<f64>,
    pub one_tool_answers: usize,
    pub results: Vec<Scored>,
}

/// One reading's figures in a run.
#[derive(Debug, Clone, Serialize)]
pub struct ReadingScore {
    pub reading: Reading,
    pub scored: usize,
    pub correct: usize,
    pub lead_alone_correct: usize,
}

fn by_reading(scored: &[&Scored]) -> Vec<ReadingScore> {
    let mut rows: BTreeMap<Reading, ReadingScore> = BTreeMap::new();
    for r in scored {
        let row = rows.entry(r.reading).or_insert(ReadingScore {
            reading: r.reading,
            scored: 0,
            correct: 0,
            lead_alone_correct: 0,
        });
        row.scored += 1;
        row.correct += usize::from(r.correct);
        row.lead_alone_correct += usize::from(r.lead_correct);
    }
    rows.into_values().collect()
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

/// One question's result as the run reaches it: the question's place in the set and
/// its result. Displays as one line of a progress log.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub done: usize,
    pub total: usize,
    pub scored: &'a Scored,
}

impl fmt::Display for Progress<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.scored;
        let mark = if s.pending {
            "pending"
        } else if s.correct {
            "ok"
        } else {
            "FAIL"
        };
        let (done, total) = (self.done, self.total);
        write!(f, "[{done:>2}/{total}] {mark:<7} {:>5.1} s  {}: {}", s.seconds, s.id, s.answer.replace('\n', " "))
    }
}

/// Asks every question of `set` (the shipped set `name`, or a part of it) and scores
/// the answers. `progress` is told each question's result as it comes.
pub async fn run(
    assistant: &Assistant,
    name: SetName,
    set: &QuestionSet,
    mut progress: impl FnMut(Progress<'_>),
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
        let lead_correct = judge_lead_alone(tools, q, patient.as_ref(), &answer, correct).await? && !pending;
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
            lead: kept_lead(&answer).map(str::to_owned),
            drafts: answer.drafts.clone(),
            lead_correct,
            reading: q.expect.reading(),
            outcome: answer.outcome.clone(),
            grounding: answer.grounding.clone(),
            tools: answer.tools.iter().map(|c| c.tool.to_string()).collect(),
            ungrounded,
            seconds: answer.timings.total,
            candidates: answer.candidates.clone(),
            calls: answer.timings.calls.clone(),
            answer_seq: answer.answer_seq.0,
        };
        progress(Progress { done: results.len() + 1, total: set.questions.len(), scored: &scored });
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
    let leads_correct = scored.iter().filter(|r| r.lead.is_some() && r.lead_correct).count();
    let lead_alone_correct = scored.iter().filter(|r| r.lead_correct).count();
    Ok(EvalReport {
        set: name,
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
        lead_alone_correct,
        share_lead_alone_correct: share(lead_alone_correct, scored.len()),
        by_reading: by_reading(&scored),
        one_tool_p50_seconds: percentile(&one_tool_times, 0.5),
        one_tool_p90_seconds: percentile(&one_tool_times, 0.9),
        one_tool_answers: one_tool_times.len(),
        results,
    })
}

impl EvalReport {
    /// Writes the report as `<stem>.md` and `<stem>.json` into `dir` (made if missing),
    /// the stem the set's own (`assistant-eval`, `assistant-eval-held-out`), so the two
    /// sets' runs are kept apart; returns the Markdown file's path.
    pub fn write(&self, dir: &Path) -> Result<PathBuf, EvalError> {
        let at = |path: &Path| {
            let path = path.to_owned();
            move |source| EvalError::Write { path, source }
        };
        std::fs::create_dir_all(dir).map_err(at(dir))?;
        let stem = self.set.report_stem();
        let markdown = dir.join(format!("{stem}.md"));
        std::fs::write(&markdown, self.markdown()).map_err(at(&markdown))?;
        let json = dir.join(format!("{stem}.json"));
        let text = serde_json::to_string_pretty(self).map_err(|e| at(&json)(e.into()))?;
        std::fs::write(&json, text).map_err(at(&json))?;
        Ok(markdown)
    }

    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let pct = |x: f64| format!("{:.1}%", 100.0 * x);
        let secs = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.2} s"));
        let title = match self.set {
            SetName::Tuning => "the tuning set",
            SetName::Readings => "the second tuning set, every reading (questions/readings.json)",
            SetName::Wording => "the third tuning set, every reading as clinicians type it (questions/wording.json)",
            SetName::HeldOut => "the held-out set (docs/benchmarks/assistant-heldout-protocol.md)",
        };
        let _ = writeln!(s, "# Assistant question set: {title}\n");
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
        let _ = writeln!(s, "| correct, whole answer | {} ({}) |", self.correct, pct(self.share_correct));
        let _ = writeln!(
            s,
            "| correct, the model's lead sentence alone | {} ({}) |",
            self.lead_alone_correct,
            pct(self.share_lead_alone_correct)
        );
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
        let _ = writeln!(s, "## Per reading\n");
        let _ = writeln!(s, "| reading | scored | correct, whole | correct, lead alone |\n|---|---|---|---|");
        for r in &self.by_reading {
            let _ = writeln!(
                s,
                "| {} | {} | {} ({}) | {} ({}) |",
                r.reading.as_str(),
                r.scored,
                r.correct,
                pct(share(r.correct, r.scored)),
                r.lead_alone_correct,
                pct(share(r.lead_alone_correct, r.scored))
            );
        }
        let cell = |text: &str| text.replace('|', "/").replace('\n', " ");
        let _ = writeln!(s, "\n## Failures (whole answer)\n");
        let _ = writeln!(s, "| id | question | expected | answer | grounding | tools |\n|---|---|---|---|---|---|");
        for r in self.results.iter().filter(|r| !r.correct && !r.pending) {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} |",
                r.id,
                r.question,
                r.expected,
                cell(&r.answer),
                serde_json::to_value(&r.grounding).map(|v| v["grounding"].to_string()).unwrap_or_default(),
                r.tools.join(", ")
            );
        }
        let _ = writeln!(s, "\n## Right as a whole, wrong on the lead alone\n");
        let _ = writeln!(s, "| id | question | expected | lead | answer |\n|---|---|---|---|---|");
        for r in self.results.iter().filter(|r| r.correct && !r.lead_correct) {
            let lead = match (&r.lead, r.drafts.last()) {
                (Some(lead), _) => cell(lead),
                (None, Some(draft)) => format!("(dropped: \"{}\"; RDT's sentences alone)", cell(draft)),
                (None, None) => "(none written: RDT's sentences alone)".into(),
            };
            let _ = writeln!(s, "| {} | {} | {} | {lead} | {} |", r.id, r.question, r.expected, cell(&r.answer));
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
