//! The tool-calling loop, designed for a small model.
//!
//! One question goes:
//! 1. role: an asker whose role may call no assistant tool (auditor, governance,
//!    admin) is refused before anything else runs;
//! 2. retrieval: the tools the role may call and the session can serve are ranked
//!    by similarity to the question and their vocabulary (`retrieval.rs`); the top
//!    few are offered, the glossary only to a question that does not point at the
//!    open patient's record (`record_reference.rs`); a glossary candidate is first
//!    asked as a definition (which term, or none);
//! 3. tool choice: retrieval's first candidate when it leads the next by
//!    [`DECISIVE_MARGIN`], else the model's, constrained to
//!    `{"tool": <one of the offered names or "none">}`;
//! 4. the tool's arguments, constrained to its schema with the patient removed: the
//!    patient is the session's, written in by RDT whatever the model says, and what
//!    the question names (a lab test) overrides the model's choice;
//! 5. the call, through `tools::call_json` with the session's scope (one patient at
//!    most), so a tool reads nothing outside it even when the model is fooled;
//! 6. at most `max_tool_calls` calls (a failed call is shown to the model once);
//! 7. the answer in free text from the (compacted) results, streamed to the sink;
//! 8. grounding: every number must trace to a result or the question; else one
//!    retry with a stricter instruction; else RDT's own fact template.
//!
//! Every step is appended to the audit log: the question, each tool call (bounded
//! result and digest), refusals, and the answer with the engine, the model sha256
//! and the prompt set version. The conversation grows by appending only, so an
//! engine's prefix cache keeps the system prompt and the earlier steps.

use std::sync::Arc;
use std::time::Instant;

use audit_log::{AuditError, AuditLog, Digest, EntryBody, ModelVersions, NewEntry, Role, Seq};
use prompts::{PromptError, PromptName, PromptRegistry};
use serde_json::{json, Map, Value};
use tools::glossary::{Glossary, Term};
use tools::Tool as _;
use tools::{call_json, refusal_entry, specs_for, tool_call_entry, Scope, ToolContext, ToolError, ToolName, ToolSpec};

use crate::answer::{
    Answer, AskContext, CalledTool, CannotAnswer, ChosenBy, Grounding, ModelCall, ModelStep, Outcome, PromptVersion,
    Timings,
};
use crate::chat::{ChatError, ChatModel, ChatRequest, Completion, Constraint, Message, Speaker, TokenSink};
use crate::facts::{
    cites_facts, contradicting_categories, fact_template, facts_address, finds_nothing, lead_sentence,
    misstates_current_drugs, prompt_facts, says_not_in_results,
};
use crate::grounding::{check, Sources};
use crate::record_reference::refers_to_record;
use crate::retrieval::{Ranked, RetrievalError, ToolRetriever};

/// The lead in similarity (MiniLM plus vocabulary) by which retrieval's first tool
/// is taken without asking the model. A 1.5B model picks the summary for "What is the
/// latest haemoglobin?" when the lab tool leads by 0.23 (docs/benchmarks/assistant.md);
/// questions outside the product lead by less than 0.15 on the question set.
pub const DECISIVE_MARGIN: f32 = 0.2;

/// Below this similarity (MiniLM plus vocabulary) no tool is near the question: it is
/// outside the product ("Write a poem", "What is the capital of France?" score under
/// 0.25; the least similar answerable question of the set, 0.39) and the record
/// cannot answer, without asking the model.
pub const RELEVANCE_FLOOR: f32 = 0.3;

/// What the record says when it cannot answer: one sentence, the same every time.
pub const CANNOT_ANSWER: &str = "The record can't answer that.";

/// The knobs of the loop.
#[derive(Debug, Clone)]
pub struct AssistantConfig {
    /// Tools offered to the model after retrieval.
    pub candidates: usize,
    /// Tool calls per question, at most.
    pub max_tool_calls: usize,
    /// Whether the model may call another tool after a successful call (costs a
    /// choice over the grown context); a failed call always gets one more try.
    pub follow_up: bool,
    /// Tokens of the model's lead sentence, at most (one sentence: a median of 9 on the
    /// question set; the cap only stops a runaway).
    pub answer_max_tokens: usize,
    /// Tokens of a tool's arguments, at most.
    pub arguments_max_tokens: usize,
    /// Retrieval's first candidate is taken without asking the model when it leads
    /// the next by this much ([`DECISIVE_MARGIN`]); `None`: the model always chooses.
    pub decisive_margin: Option<f32>,
}

impl Default for AssistantConfig {
    fn default() -> Self {
        AssistantConfig {
            candidates: 3,
            max_tool_calls: 2,
            follow_up: false,
            answer_max_tokens: 64,
            arguments_max_tokens: 48,
            decisive_margin: Some(DECISIVE_MARGIN),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error("audit log: {0}")]
    Audit(#[from] AuditError),
    #[error("tool retrieval: {0}")]
    Retrieval(#[from] RetrievalError),
    #[error(transparent)]
    Prompt(#[from] PromptError),
    #[error("the model's sha256 `{0}` is not a sha256 (64 hex digits)")]
    ModelVersion(String),
}

/// The assistant: a model, the tools, the audit log, and the retrieval index.
pub struct Assistant {
    model: Arc<dyn ChatModel>,
    tools: ToolContext,
    log: AuditLog,
    retriever: ToolRetriever,
    prompts: PromptRegistry,
    config: AssistantConfig,
}

/// Whether `spec`'s input names a patient, and whether it needs a second one.
fn patient_fields(spec: &ToolSpec) -> (bool, bool) {
    let props = spec.input_schema.get("properties");
    let has = |k: &str| props.and_then(|p| p.get(k)).is_some();
    (has("patient"), has("patient_a") || has("patient_b"))
}

/// The schema the model fills: the tool's required input without the patient and
/// without what the question already names (`named`, from `Tool::arguments_named_in`),
/// nullable types made plain and descriptions dropped. Optional fields (index dates,
/// look-back windows, cohort sizes) are never asked: the tool's default holds unless
/// the question names one; a small model fills an index date with characters a date
/// cannot have, windows too short for the readings asked about, and a cohort size the
/// question never gave. `None` when nothing is left for the model to fill: then the
/// model is not asked at all.
pub fn argument_schema(spec: &ToolSpec, named: &Map<String, Value>) -> Option<Value> {
    let obj = spec.input_schema.as_object()?;
    let required: Vec<&str> = obj
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|k| *k != "patient" && !named.contains_key(*k))
        .collect();
    let props: Map<String, Value> = obj
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.iter().filter(|(k, _)| required.contains(&k.as_str())).map(|(k, v)| (k.clone(), plain(v))).collect())
        .unwrap_or_default();
    if props.is_empty() {
        return None;
    }
    Some(json!({"type": "object", "properties": props, "required": required, "additionalProperties": false}))
}

fn plain(v: &Value) -> Value {
    let mut out = Map::new();
    if let Some(map) = v.as_object() {
        for (k, val) in map {
            match k.as_str() {
                "description" | "format" | "title" | "default" | "$schema" => {}
                "type" => {
                    let t = match val {
                        Value::Array(types) => {
                            types.iter().find(|t| t.as_str() != Some("null")).cloned().unwrap_or(Value::Null)
                        }
                        other => other.clone(),
                    };
                    out.insert(k.clone(), t);
                }
                "enum" => {
                    let values: Vec<Value> =
                        val.as_array().into_iter().flatten().filter(|x| !x.is_null()).cloned().collect();
                    out.insert(k.clone(), Value::Array(values));
                }
                _ => {
                    out.insert(k.clone(), val.clone());
                }
            }
        }
    }
    Value::Object(out)
}

/// The tool-choice constraint: `{"tool": <one of names or "none">}`.
pub fn choice_schema(names: &[ToolName]) -> Value {
    let mut options: Vec<Value> = names.iter().map(|n| Value::String(n.as_str().into())).collect();
    options.push(Value::String("none".into()));
    json!({"type": "object", "properties": {"tool": {"type": "string", "enum": options}}, "required": ["tool"],
           "additionalProperties": false})
}

/// Why a tool call of the loop did not complete.
enum CallError {
    /// The tool refused or failed: shown to the model or refused.
    Tool(ToolError),
    /// The audit log failed: the question fails.
    Ask(AskError),
}

/// The glossary's terms, one line each (`- name: title`), for the definition prompt.
fn glossary_terms() -> String {
    Term::ALL.iter().map(|t| format!("- {}: {}", t.name(), t.title())).collect::<Vec<_>>().join("\n")
}

/// The definition step's constraint: `{"term": <a glossary term> | "none"}`.
pub fn term_schema() -> Value {
    let mut options: Vec<Value> = Term::ALL.iter().map(|t| Value::String(t.name().into())).collect();
    options.push(Value::String("none".into()));
    json!({"type": "object", "properties": {"term": {"type": "string", "enum": options}}, "required": ["term"],
           "additionalProperties": false})
}

/// Running totals of one question.
struct Run {
    started: Instant,
    audit: Vec<Seq>,
    timings: Timings,
}

impl Run {
    fn add(&mut self, step: ModelStep, c: &Completion) {
        self.timings.model += c.prompt_seconds + c.generate_seconds;
        self.timings.prompt_tokens += c.prompt_tokens;
        self.timings.generated_tokens += c.generated_tokens;
        self.timings.calls.push(ModelCall {
            step,
            prompt_tokens: c.prompt_tokens,
            prompt_seconds: c.prompt_seconds,
            generated_tokens: c.generated_tokens,
            generate_seconds: c.generate_seconds,
        });
    }
}

impl Assistant {
    pub fn new(model: Arc<dyn ChatModel>, tools: ToolContext, log: AuditLog, retriever: ToolRetriever) -> Self {
        Assistant {
            model,
            tools,
            log,
            retriever,
            prompts: PromptRegistry::builtin(),
            config: AssistantConfig::default(),
        }
    }

    pub fn with_config(mut self, config: AssistantConfig) -> Self {
        self.config = config;
        self
    }

    pub fn model(&self) -> &Arc<dyn ChatModel> {
        &self.model
    }

    pub fn log(&self) -> &AuditLog {
        &self.log
    }

    pub fn tools(&self) -> &ToolContext {
        &self.tools
    }

    fn entry(&self, ctx: &AskContext, body: EntryBody) -> NewEntry {
        NewEntry::new(ctx.principal.clone(), body)
            .session(ctx.session.clone())
            .patients(ctx.patient.iter().map(|p| p.as_str().to_owned()))
    }

    fn render(&self, name: PromptName, values: &[(&str, &str)]) -> Result<String, PromptError> {
        Ok(self.prompts.get(name).render(values)?.text)
    }

    async fn complete(
        &self,
        run: &mut Run,
        step: ModelStep,
        messages: &[Message],
        constraint: Constraint,
        max_tokens: usize,
        sink: TokenSink,
    ) -> Result<String, ChatError> {
        let request = ChatRequest { messages: messages.to_vec(), constraint, max_tokens };
        let c = self.model.complete(&request, sink).await?;
        run.add(step, &c);
        Ok(c.text)
    }

    /// Answers `question` for `ctx`, streaming the model's first lead sentence to
    /// `sink`, then RDT's sentences when the lead is kept ([`Answer::text`] is final:
    /// a rejected lead is replaced by it).
    pub async fn ask(&self, question: &str, ctx: &AskContext, sink: TokenSink) -> Result<Answer, AskError> {
        let mut run = Run { started: Instant::now(), audit: Vec::new(), timings: Timings::default() };
        let model_sha256 = self.model.model_sha256().to_owned();
        let model_digest: Digest = model_sha256.parse().map_err(|_| AskError::ModelVersion(model_sha256.clone()))?;
        run.audit.push(self.log.append(self.entry(ctx, EntryBody::Question { question: question.to_owned() })).await?);

        let role = ctx.principal.role;
        let offered = specs_for(role);
        if offered.is_empty() {
            let text =
                format!("The {role} role cannot ask the assistant about patients' records; it answers clinicians.");
            return self.refuse(run, question, ctx, Outcome::OutsideRole { role }, text, Vec::new(), Vec::new()).await;
        }
        // Tools this session can serve: one needing a patient only with a patient open;
        // none needing two (the session's scope is one patient).
        let usable: Vec<&ToolSpec> = offered
            .iter()
            .filter(|s| {
                let (one, two) = patient_fields(s);
                !two && (!one || ctx.patient.is_some())
            })
            .collect();
        let allowed: Vec<ToolName> = usable.iter().map(|s| s.name).collect();
        let t = Instant::now();
        let ranked = self.retriever.rank(question, &allowed)?;
        run.timings.retrieval = t.elapsed().as_secs_f64();
        // Nothing near the question, or a question about a record with no patient
        // open: the record cannot answer, and the model is not asked.
        let no_patient_record_question = ctx.patient.is_none() && refers_to_record(question);
        if ranked.first().is_none_or(|r| r.similarity < RELEVANCE_FLOOR) || no_patient_record_question {
            let mut text = CANNOT_ANSWER.to_owned();
            if ctx.patient.is_none() {
                text.push_str(" No patient is open: open a patient (or pass --patient) to ask about a record.");
            }
            let outcome = Outcome::CannotAnswer(CannotAnswer::NoToolApplies);
            return self.refuse(run, question, ctx, outcome, text, ranked.into_iter().take(3).collect(), Vec::new()).await;
        }
        // A question about the open patient's record is never a definition: the
        // glossary is not offered, the next tool is.
        let about_record = ctx.patient.is_some() && refers_to_record(question);
        let candidates: Vec<Ranked> = ranked
            .into_iter()
            .filter(|r| !(about_record && r.tool == ToolName::Glossary))
            .take(self.config.candidates)
            .collect();
        // Offered in a fixed order, so the same candidates give the same prompt bytes.
        let mut names: Vec<ToolName> = candidates.iter().map(|r| r.tool).collect();
        names.sort();

        let scope = Scope::patients(ctx.patient.iter().cloned());
        let mut called: Vec<CalledTool> = Vec::new();
        let mut failures: Vec<String> = Vec::new();
        let mut refused: Option<String> = None;
        let mut messages = vec![Message::new(Speaker::System, self.prompts.get(PromptName::System).text)];

        // Maybe a knowledge question: the glossary is a candidate and the question does
        // not point at the record. The model is asked one narrow question first (is
        // this a definition, and of which term?), so a tool named after the term
        // (disease_activity_history for "What is DAS28?") cannot win, and with no
        // patient open the glossary is not refused as "no patient". "none" goes on to
        // the usual choice without the glossary.
        if candidates.iter().any(|r| r.tool == ToolName::Glossary) {
            // A definition question that names its term ("What DAS28 counts as
            // remission?") is decided by the question; the model is asked only when
            // the question leaves the term open.
            let named = Glossary::arguments_named_in(question).get("term").and_then(Value::as_str).map(str::to_owned);
            let (term, chosen_by) = match named {
                Some(term) => (term, ChosenBy::Question),
                None => {
                    let prompt = self
                        .render(PromptName::Definition, &[("terms", &glossary_terms()), ("question", question)])?;
                    messages.push(Message::new(Speaker::User, prompt));
                    let constraint = Constraint::JsonSchema(term_schema());
                    let reply =
                        self.complete(&mut run, ModelStep::Definition, &messages, constraint, 16, None).await?;
                    messages.push(Message::new(Speaker::Assistant, reply.clone()));
                    let term = serde_json::from_str::<Value>(&reply)
                        .ok()
                        .and_then(|v| v.get("term").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or_default();
                    (term, ChosenBy::Model)
                }
            };
            if Term::ALL.iter().any(|t| t.name() == term) {
                let arguments = json!({"term": term});
                let glossary = (ToolName::Glossary, chosen_by);
                self.call_tool(&mut run, ctx, &scope, glossary, arguments.clone(), arguments, &mut called)
                    .await
                    .map(|_| ())
                    .or_else(|e| match e {
                        CallError::Ask(e) => Err(e),
                        CallError::Tool(e) => {
                            failures.push(e.to_string());
                            Ok(())
                        }
                    })?;
            }
            names.retain(|n| *n != ToolName::Glossary);
        }

        let tool_lines: Vec<String> = names
            .iter()
            .filter_map(|n| usable.iter().find(|s| s.name == *n))
            .map(|s| format!("- {}: {}", s.name.as_str(), s.description))
            .collect();
        let patient_text = ctx.patient.as_ref().map_or("none (no patient is open)".to_owned(), |p| p.to_string());
        let choice_prompt = self.render(
            PromptName::ToolChoice,
            &[("tools", &tool_lines.join("\n")), ("patient", &patient_text), ("question", question)],
        )?;
        let steps = if called.is_empty() && !names.is_empty() { self.config.max_tool_calls } else { 0 };
        // Retrieval decides when its first remaining candidate leads clearly; the model
        // chooses otherwise, and always after a failed call.
        let remaining: Vec<&Ranked> = candidates.iter().filter(|r| names.contains(&r.tool)).collect();
        let mut decisive = match (remaining.as_slice(), self.config.decisive_margin) {
            ([first, second, ..], Some(margin)) if first.similarity - second.similarity >= margin => {
                Some((first.tool, first.similarity - second.similarity))
            }
            _ => None,
        };
        for _ in 0..steps {
            let (choice, chosen_by) = match decisive.take() {
                // Retrieval chose: the conversation holds no choice step, and the
                // arguments prompt carries the question itself.
                Some((tool, margin)) => (json!({"tool": tool.as_str()}).to_string(), ChosenBy::Retrieval { margin }),
                None => {
                    messages.push(Message::new(Speaker::User, choice_prompt.clone()));
                    let schema = Constraint::JsonSchema(choice_schema(&names));
                    let choice = self.complete(&mut run, ModelStep::ToolChoice, &messages, schema, 16, None).await?;
                    messages.push(Message::new(Speaker::Assistant, choice.clone()));
                    (choice, ChosenBy::Model)
                }
            };
            let chosen = serde_json::from_str::<Value>(&choice)
                .ok()
                .and_then(|v| v.get("tool").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            let Some(spec) = usable.iter().find(|s| s.name.as_str() == chosen && names.contains(&s.name)) else {
                if chosen != "none" {
                    failures.push(format!("the model chose `{chosen}`, which was not offered"));
                }
                break;
            };
            let named = (spec.arguments_named_in)(question);
            let model_arguments = match argument_schema(spec, &named) {
                None => json!({}),
                Some(schema) => {
                    let prompt = self.render(
                        PromptName::Arguments,
                        &[("question", question), ("tool", spec.name.as_str()), ("schema", &schema.to_string())],
                    )?;
                    messages.push(Message::new(Speaker::User, prompt));
                    let constraint = Constraint::JsonSchema(schema);
                    let max_tokens = self.config.arguments_max_tokens;
                    let text =
                        self.complete(&mut run, ModelStep::Arguments, &messages, constraint, max_tokens, None).await?;
                    messages.push(Message::new(Speaker::Assistant, text.clone()));
                    match serde_json::from_str::<Value>(&text) {
                        Ok(v @ Value::Object(_)) => v,
                        _ => {
                            failures.push(format!("arguments for `{}` were not a JSON object: {text}", spec.name));
                            messages.push(Message::new(Speaker::Tool, format!("error: not a JSON object: {text}")));
                            continue;
                        }
                    }
                }
            };
            // What the question names (the lab test of "What is the latest
            // haemoglobin?") overrides the model; the patient is the session's:
            // whatever the model wrote is replaced. Both versions are audited.
            let mut arguments = model_arguments.clone();
            if let Value::Object(map) = &mut arguments {
                map.extend(named);
                if patient_fields(spec).0 {
                    map.remove("patient");
                    if let Some(p) = &ctx.patient {
                        map.insert("patient".into(), Value::String(p.to_string()));
                    }
                }
            }
            let tool = (spec.name, chosen_by);
            match self.call_tool(&mut run, ctx, &scope, tool, arguments, model_arguments, &mut called).await {
                Ok(()) => {
                    if !self.config.follow_up {
                        break;
                    }
                    let last = called.last().expect("just pushed");
                    messages.push(Message::new(Speaker::Tool, prompt_facts([(last.tool, &last.result)])));
                }
                Err(CallError::Ask(e)) => return Err(e),
                Err(CallError::Tool(error)) => {
                    if let Some(entry) = refusal_entry(&ctx.principal, Some(&ctx.session), spec.name.as_str(), &error) {
                        run.audit.push(self.log.append(entry).await?);
                        refused = Some(error.to_string());
                        break;
                    }
                    failures.push(error.to_string());
                    messages.push(Message::new(Speaker::Tool, format!("error: {error}")));
                }
            }
        }

        if called.is_empty() {
            let (reason, mut text) = match (refused, failures.last()) {
                (Some(reason), _) => (CannotAnswer::Refused { reason }, CANNOT_ANSWER.to_owned()),
                (None, Some(error)) => (CannotAnswer::ToolFailed { error: error.clone() }, CANNOT_ANSWER.to_owned()),
                (None, None) => (CannotAnswer::NoToolApplies, CANNOT_ANSWER.to_owned()),
            };
            if ctx.patient.is_none() && reason == CannotAnswer::NoToolApplies {
                text.push_str(" No patient is open: open a patient (or pass --patient) to ask about a record.");
            }
            return self.refuse(run, question, ctx, Outcome::CannotAnswer(reason), text, candidates, called).await;
        }
        if called.iter().all(|c| finds_nothing(c.tool, &c.result)) {
            let tool = called[0].tool;
            let found: Vec<String> = called.iter().map(|c| fact_template(c.tool, &c.result)).collect();
            let text = format!("{CANNOT_ANSWER} {}", found.join(" "));
            let outcome = Outcome::CannotAnswer(CannotAnswer::NothingFound { tool });
            return self.refuse(run, question, ctx, outcome, text, candidates, called).await;
        }

        // A definition is the glossary's vetted text as written: a small model's
        // paraphrase of a clinical threshold is a risk with nothing to gain.
        if called.iter().all(|c| c.tool == ToolName::Glossary) {
            let text = called.iter().map(|c| fact_template(c.tool, &c.result)).collect::<Vec<_>>().join(" ");
            if let Some(sink) = &sink {
                let _ = sink.send(text.clone());
            }
            let answer_seq = self.record_answer(&mut run, ctx, &text, model_digest).await?;
            return Ok(self.finish(
                run,
                question,
                text,
                Outcome::Answered,
                Grounding::Vetted,
                Vec::new(),
                candidates,
                called,
                answer_seq,
            ));
        }

        // The answer: the model's one sentence answering the question, from RDT's
        // sentences of the results, then those sentences. The model's turn is a
        // conversation of its own after the system prompt (whose prefix the engine
        // keeps), so its prompt is the question and the sentences only: the results'
        // JSON cost 5-15 s of prompt evaluation here (docs/benchmarks/engines.md).
        let facts: Vec<String> = called.iter().map(|c| fact_template(c.tool, &c.result)).collect();
        let facts = facts.join(" ");
        let prompt = self.render(PromptName::Answer, &[("question", question), ("summary", &facts)])?;
        let mut lead_messages = vec![messages[0].clone(), Message::new(Speaker::User, prompt)];
        let sources = Sources::new(called.iter().map(|c| &c.result), question)
            .with_patient(ctx.patient.as_ref().map(|p| p.as_str()));
        let max_tokens = self.config.answer_max_tokens;
        let mut drafts = Vec::new();
        // The first lead streams to `sink` as it is written; the facts follow it there
        // once it is kept (a replaced lead is replaced by the final text).
        let streamed = sink.clone();
        let first =
            self.complete(&mut run, ModelStep::Answer, &lead_messages, Constraint::Free, max_tokens, streamed).await?;
        let first = lead_sentence(&first);
        let first_check = check(&first, &sources);
        drafts.push(first.clone());
        // The model says the facts do not answer the question, or its sentence cites
        // nothing of them. Believed when the facts share no telling word with the
        // question and the question uses none of the tool's vocabulary (a blood type
        // against a summary): the record cannot answer.
        // Otherwise the facts do answer it (a 1.5B model says "does not show" of
        // "Flares: 2" for "How many flares did he have?"): RDT's sentences alone.
        let declines = |lead: &str| says_not_in_results(lead) || !cites_facts(lead, &facts);
        // The question uses a called tool's own words ("C-reactive protein" for the CRP
        // trend): the facts address it whatever words they use.
        let in_tool_words = called
            .iter()
            .any(|c| usable.iter().any(|s| s.name == c.tool && s.vocabulary.matches(question)));
        if declines(&first) && !in_tool_words && !facts_address(question, &facts) {
            let tool = called[0].tool;
            let outcome = Outcome::CannotAnswer(CannotAnswer::NothingFound { tool });
            return self.refuse(run, question, ctx, outcome, CANNOT_ANSWER.to_owned(), candidates, called).await;
        }
        // A lead is kept when every number traces to a result, it cites the facts, it
        // states no flag, trend or category they do not ("raised" beside "flagged
        // normal"), and it names the current drugs as they are.
        let keeps = |lead: &str| {
            !lead.is_empty()
                && !declines(lead)
                && contradicting_categories(lead, &facts).is_empty()
                && !misstates_current_drugs(lead, question, called.iter().map(|c| (c.tool, &c.result)))
        };
        let (lead, grounding) = if first_check.is_grounded() && keeps(&first) {
            (first, Grounding::Grounded)
        } else if first_check.is_grounded() || declines(&first) {
            // Nothing a retry about numbers would mend.
            (first, Grounding::Template { ungrounded: first_check.ungrounded })
        } else {
            lead_messages.push(Message::new(Speaker::Assistant, first));
            let numbers = first_check.ungrounded.join(", ");
            let retry = self.render(PromptName::AnswerRetry, &[("numbers", &numbers)])?;
            lead_messages.push(Message::new(Speaker::User, retry));
            let second =
                self.complete(&mut run, ModelStep::Answer, &lead_messages, Constraint::Free, max_tokens, None).await?;
            let second = lead_sentence(&second);
            drafts.push(second.clone());
            if check(&second, &sources).is_grounded() && keeps(&second) {
                (second, Grounding::GroundedOnRetry { ungrounded: first_check.ungrounded })
            } else {
                (second, Grounding::Template { ungrounded: first_check.ungrounded })
            }
        };
        let text = match grounding {
            Grounding::Grounded | Grounding::GroundedOnRetry { .. } => format!("{lead}\n\n{facts}"),
            _ => facts,
        };
        if let (Some(sink), Grounding::Grounded) = (&sink, &grounding) {
            let _ = sink.send(text[lead.len()..].to_owned());
        }

        let answer_seq = self.record_answer(&mut run, ctx, &text, model_digest).await?;
        Ok(self.finish(run, question, text, Outcome::Answered, grounding, drafts, candidates, called, answer_seq))
    }

    /// The answer's audit entry, with the engine, model and prompt set versions.
    async fn record_answer(&self, run: &mut Run, ctx: &AskContext, text: &str, model: Digest) -> Result<Seq, AskError> {
        let model = ModelVersions {
            model_sha256: model,
            prompt_version: self.prompts.version(),
            engine: Some(self.model.engine().as_str().to_owned()),
        };
        let entry = self.entry(ctx, EntryBody::Answer { answer: text.to_owned(), model, cohort: None });
        let seq = self.log.append(entry).await?;
        run.audit.push(seq);
        Ok(seq)
    }

    /// Runs one tool with the session's principal and scope, audits the call, and
    /// adds it to `called`. A tool error is returned for the caller to show or refuse.
    #[allow(clippy::too_many_arguments)]
    async fn call_tool(
        &self,
        run: &mut Run,
        ctx: &AskContext,
        scope: &Scope,
        (tool, chosen_by): (ToolName, ChosenBy),
        arguments: Value,
        model_arguments: Value,
        called: &mut Vec<CalledTool>,
    ) -> Result<(), CallError> {
        let t = Instant::now();
        let outcome = call_json(&self.tools, &ctx.principal, scope, tool.as_str(), &arguments).await;
        run.timings.tools += t.elapsed().as_secs_f64();
        let result = outcome.map_err(CallError::Tool)?;
        let entry = tool_call_entry(&ctx.principal, Some(&ctx.session), &result);
        let seq = self.log.append(entry).await.map_err(|e| CallError::Ask(e.into()))?;
        run.audit.push(seq);
        let record = tools::tool_call_record(
            result.tool.as_str(),
            result.arguments.clone(),
            result.result.clone(),
            result.max_bytes,
        );
        called.push(CalledTool {
            tool: result.tool,
            chosen_by,
            arguments: result.arguments,
            model_arguments,
            result: result.result,
            result_digest: record.result_digest,
            audit_seq: seq,
        });
        Ok(())
    }

    /// Ends a question without a model answer: a refusal entry holds the text.
    #[allow(clippy::too_many_arguments)]
    async fn refuse(
        &self,
        mut run: Run,
        question: &str,
        ctx: &AskContext,
        outcome: Outcome,
        text: String,
        candidates: Vec<Ranked>,
        called: Vec<CalledTool>,
    ) -> Result<Answer, AskError> {
        let reason = match &outcome {
            Outcome::OutsideRole { role } => format!("outside role: {role}"),
            Outcome::CannotAnswer(why) => format!(
                "cannot answer ({}): {text}",
                serde_json::to_value(why).map(|v| v["why"].to_string()).unwrap_or_default()
            ),
            Outcome::Answered => text.clone(),
        };
        let seq = self.log.append(self.entry(ctx, EntryBody::Refusal { reason })).await?;
        run.audit.push(seq);
        Ok(self.finish(run, question, text, outcome, Grounding::NotNeeded, Vec::new(), candidates, called, seq))
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        mut run: Run,
        question: &str,
        text: String,
        outcome: Outcome,
        grounding: Grounding,
        drafts: Vec<String>,
        candidates: Vec<Ranked>,
        tools: Vec<CalledTool>,
        answer_seq: Seq,
    ) -> Answer {
        run.timings.total = run.started.elapsed().as_secs_f64();
        Answer {
            question: question.to_owned(),
            text,
            outcome,
            grounding,
            drafts,
            candidates,
            tools,
            engine: self.model.engine(),
            model_sha256: self.model.model_sha256().to_owned(),
            prompts: self.prompts.iter().map(|p| PromptVersion { name: p.name.as_str(), version: p.version }).collect(),
            prompt_set_version: self.prompts.version(),
            encoder_version: Some(self.retriever.encoder_version()),
            audit: run.audit,
            answer_seq,
            timings: run.timings,
        }
    }
}

/// Whether `role` may use the assistant at all (some tool is offered to it).
pub fn role_may_ask(role: Role) -> bool {
    !specs_for(role).is_empty()
}
