//! What a question comes with ([`AskContext`]) and what it gets back ([`Answer`]).

use audit_log::{Digest, Principal, Role, Seq, TurnLink};
use serde::Serialize;
use serde_json::Value;
use tools::{Facts, ToolName};
use journey::PatientId;

use crate::chat::EngineKind;
use crate::retrieval::Ranked;

/// Who asks, about which patient, in which session. The patient comes from the
/// session (the open patient page, `--patient`), never from the model: it is the
/// whole of the scope the tools get.
#[derive(Debug, Clone)]
pub struct AskContext {
    pub principal: Principal,
    pub patient: Option<PatientId>,
    pub session: String,
}

/// Why the record cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum CannotAnswer {
    /// The model chose no tool: the question is outside the product or no tool fits.
    NoToolApplies,
    /// The tool ran and found nothing (no value of the test, no reading, no course).
    NothingFound { tool: ToolName },
    /// Every tool call failed (bad arguments the model could not fix, a store error).
    ToolFailed { error: String },
    /// A tool refused (scope): the question reached beyond the session's patient.
    Refused { reason: String },
    /// The question names a patient other than the open one (`patient_reference.rs`):
    /// answering from the open record would answer about the wrong person.
    AnotherPatient { named: String },
}

/// How the question ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    Answered,
    CannotAnswer(CannotAnswer),
    /// The asker's role may not use the assistant's tools (e.g. an auditor).
    OutsideRole {
        role: Role,
    },
}

impl Outcome {
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Outcome::Answered)
    }
}

/// Whose words the final text is, and whether its numbers were checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "grounding")]
pub enum Grounding {
    /// The model's first lead sentence, then RDT's sentences: every number of the lead
    /// traced to a tool result, and it agrees with the facts (`session.rs`).
    Grounded,
    /// The model's second lead sentence, after the first stated `ungrounded`.
    GroundedOnRetry { ungrounded: Vec<String> },
    /// RDT's sentences alone: the lead was dropped, because it stated untraceable
    /// numbers after a retry, contradicted the facts, cited nothing of them, misstated
    /// the drugs, or declined facts that address the question (`ungrounded`: the first
    /// lead's untraceable numbers, if any).
    Template { ungrounded: Vec<String> },
    /// No model answer was asked for (a refusal or nothing found): RDT's wording.
    NotNeeded,
    /// A glossary definition, stated as RDT's vetted text (no model wording).
    Vetted,
}

/// One tool call of the answer, as run and audited.
#[derive(Debug, Clone, Serialize)]
pub struct CalledTool {
    pub tool: ToolName,
    /// Who chose the tool: the model, or retrieval when its first tool led clearly.
    pub chosen_by: ChosenBy,
    /// The arguments the tool ran with (the patient filled from the session).
    pub arguments: Value,
    /// The model's own arguments, before the session filled the patient.
    pub model_arguments: Value,
    /// The bounded result (`{"value", "truncated", "omitted"}`), as the audit keeps it.
    pub result: Value,
    /// RDT's sentences of the result, stated by the tool ([`tools::Tool::facts`]).
    #[serde(skip)]
    pub facts: Facts,
    pub result_digest: Digest,
    pub audit_seq: Seq,
}

/// Who chose a tool call.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "by")]
pub enum ChosenBy {
    /// The model, constrained to the offered tools (or a glossary term).
    Model,
    /// Retrieval: its first tool led the next by at least `margin` in similarity, so
    /// the model was not asked (`session::DECISIVE_MARGIN`).
    Retrieval { margin: f32 },
    /// The question itself: a definition question naming a glossary term
    /// (`Tool::arguments_named_in`), so neither retrieval's margin nor the model decided.
    Question,
    /// The question's reading (`tools::reading`): the only offered tool answering it,
    /// or the one answering it when the model chose none; a fact the record states is
    /// never refused.
    Reading,
}

/// The prompt templates an answer used, by name and version.
#[derive(Debug, Clone, Serialize)]
pub struct PromptVersion {
    pub name: &'static str,
    pub version: Digest,
}

impl Answer {
    /// The answer for a terminal (`rdt ask`, `rdt chat`): its text, what a follow-up
    /// was read as, each tool call with its arguments and audit entry, then engine,
    /// model, prompts, grounding, time and the answer's audit entry.
    pub fn text_report(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!("{}\n", self.text);
        if let (Some(read_as), Some(link)) = (&self.read_as, &self.follows) {
            let against = link.read_against.unwrap_or(link.seq);
            let _ = writeln!(out, "  read as a follow-up of question {against}: {read_as}");
        }
        for call in &self.tools {
            let _ = writeln!(out, "  tool: {} {} (audit {})", call.tool, call.arguments, call.audit_seq);
        }
        let grounding = serde_json::to_value(&self.grounding).unwrap_or_default();
        let _ = writeln!(
            out,
            "  engine {} · model {} · prompts {} · grounding {} · {:.1} s\n  audit entry: {}",
            self.engine,
            &self.model_sha256[..12.min(self.model_sha256.len())],
            self.prompt_set_version.short(),
            grounding["grounding"].as_str().unwrap_or_default(),
            self.timings.total,
            self.answer_seq
        );
        out
    }
}

/// Seconds per stage of one question.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    pub retrieval: f64,
    pub model: f64,
    pub tools: f64,
    pub total: f64,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    /// Each model call in order: where the question's time went (the engines
    /// benchmark and `rdt ask --verbose` print it).
    pub calls: Vec<ModelCall>,
}

/// Which step of the loop asked the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelStep {
    /// Which glossary term, if any, the question asks about.
    Definition,
    /// Which tool, when retrieval did not decide.
    ToolChoice,
    /// A tool's arguments under its schema.
    Arguments,
    /// The answer's lead sentence.
    Answer,
}

/// One model call: its prompt (all tokens, cached prefix included) and generation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelCall {
    pub step: ModelStep,
    pub prompt_tokens: usize,
    pub prompt_seconds: f64,
    pub generated_tokens: usize,
    pub generate_seconds: f64,
}

impl std::fmt::Display for ModelCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}: prompt {} tokens {:.2} s, generated {} tokens {:.2} s",
            self.step, self.prompt_tokens, self.prompt_seconds, self.generated_tokens, self.generate_seconds
        )
    }
}

/// The answer to one question, with everything needed to trust or audit it.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub question: String,
    /// How RDT read the question (`tools::reading`; a follow-up's reading resolved
    /// against an earlier turn of its conversation), as its audit entry records it.
    pub reading: tools::reading::Reading,
    /// The conversation's turn before, as the question's entry links it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follows: Option<TurnLink>,
    /// What a follow-up was read as ("the latest ESR"), when it was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_as: Option<String>,
    /// The final text: the model's lead sentence and RDT's sentences, RDT's sentences
    /// alone, a vetted definition, or a refusal.
    pub text: String,
    pub outcome: Outcome,
    pub grounding: Grounding,
    /// The model's lead sentences in order (the first streamed), including rejected ones.
    pub drafts: Vec<String>,
    /// The tools offered to the model after retrieval, most similar first.
    pub candidates: Vec<Ranked>,
    pub tools: Vec<CalledTool>,
    pub engine: EngineKind,
    pub model_sha256: String,
    /// Every template shipped, with its version; `prompt_set_version` covers them all
    /// and is what the audit entry records.
    pub prompts: Vec<PromptVersion>,
    pub prompt_set_version: Digest,
    pub encoder_version: Option<Digest>,
    /// Every audit entry of this question, in order.
    pub audit: Vec<Seq>,
    /// The entry holding the answer (or the refusal).
    pub answer_seq: Seq,
    pub timings: Timings,
}

#[cfg(test)]
mod text_report_tests {
    use super::*;

    #[test]
    fn the_report_names_each_tool_call_and_the_answer_entry() {
        let answer = Answer {
            reading: tools::reading::Reading::of("q"),
            follows: None,
            read_as: None,
            question: "DAS28?".into(),
            text: "DAS28 was 3.1.".into(),
            outcome: Outcome::Answered,
            grounding: Grounding::Grounded,
            drafts: Vec::new(),
            candidates: Vec::new(),
            tools: vec![CalledTool {
                tool: ToolName::DiseaseActivityHistory,
                chosen_by: ChosenBy::Model,
                arguments: serde_json::json!({"patient": "p1"}),
                model_arguments: serde_json::json!({}),
                result: serde_json::json!({}),
                result_digest: Digest::of(b"r"),
                audit_seq: Seq(3),
                facts: tools::Facts::default(),
            }],
            engine: EngineKind::LlamaCpp,
            model_sha256: "0123456789abcdef".into(),
            prompts: Vec::new(),
            prompt_set_version: Digest::of(b"prompts"),
            encoder_version: None,
            audit: vec![Seq(2), Seq(3), Seq(4)],
            answer_seq: Seq(4),
            timings: Timings { total: 2.0, ..Timings::default() },
        };
        let text = answer.text_report();
        let tool = ToolName::DiseaseActivityHistory;
        assert!(text.starts_with(&format!("DAS28 was 3.1.\n  tool: {tool} {{\"patient\":\"p1\"}} (audit #3)\n")));
        let versions = format!("  engine {} · model 0123456789ab · prompts {} · grounding grounded · 2.0 s\n", EngineKind::LlamaCpp, Digest::of(b"prompts").short());
        assert!(text.ends_with(&format!("{versions}  audit entry: #4\n")));

        // A follow-up says which question it was read against, and as what.
        let link = TurnLink { seq: Seq(1), entry: Digest::of(b"q"), read_against: Some(Seq(0)) };
        let follow_up = Answer { follows: Some(link), read_as: Some("the latest ESR".into()), ..answer };
        let text = follow_up.text_report();
        let lines = "DAS28 was 3.1.\n  read as a follow-up of question #0: the latest ESR\n  tool: ";
        assert!(text.starts_with(lines), "{text}");
    }
}
