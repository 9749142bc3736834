//! The tool-calling loop, designed for a small model: [`Assistant::ask`] takes one
//! question through named stages over one `Turn`, each a method testable alone.
//!
//! 1. read (`Turn::read`): the model's version checked, the question recorded with
//!    its reading (in a conversation, a follow-up's reading resolved against the turn
//!    before, and the link to that turn: `conversation.rs`);
//! 2. route (`Turn::route`): an asker whose role may call no assistant tool
//!    (auditor, governance, admin) is refused; the tools the role may call and the
//!    session can serve are ranked by similarity to the question and their vocabulary
//!    (`retrieval.rs`); the top few are the candidates, the glossary only for a
//!    question that does not point at the open patient's record
//!    (`record_reference.rs`). Nothing near the question ends it here;
//! 3. choose (`Turn::define`, `Turn::choose`): a glossary candidate is first taken as
//!    a definition when the question names its term, else asked as one (which term,
//!    or none); then retrieval's first candidate when it leads the next by
//!    [`DECISIVE_MARGIN`], else the model's, constrained to
//!    `{"tool": <one of the offered names or "none">}`;
//! 4. arguments (`Turn::arguments`): the model fills only the required fields the
//!    question does not name, under the tool's schema with the patient removed: the
//!    patient is the session's, written in by RDT whatever the model says;
//! 5. call (`Turn::call`): through `tools::invoke` with the session's principal and
//!    scope (one patient at most), so a tool reads nothing outside it even when the
//!    model is fooled, and the call leaves its `tool_call` or `refusal` entry; at most
//!    `max_tool_calls` calls (a failed call is shown to the model once);
//! 6. settle (`Turn::settle`): no call, a result with nothing to state, or a
//!    definition ends in RDT's own words, without a lead;
//! 7. write the lead (`Turn::write_lead`): the model's one sentence answering the
//!    question from the tools' sentences ([`tools::Facts`]), streamed to the sink;
//!    over the treatment options (observational) with the `answer_observational`
//!    prompt, which asks for similar patients' words and no prediction; when a
//!    called tool answers the question's reading, with `answer_covered`, which says
//!    the facts hold the answer and offers no "does not show" way out; a yes/no or
//!    either/or question about a category, or one whose figures are all withheld for
//!    too few comparable patients, with `answer_verdict`, which gives the answer RDT
//!    read from the facts to word;
//! 8. check the lead (`LeadCheck`): every number traced to a result or the question,
//!    nothing the facts contradict, and over the treatment options the caveat in the
//!    lead's own words; else one retry naming the untraced numbers; else RDT's
//!    sentences alone (which end with the options' caveat);
//! 9. record (`Turn::record`, `Turn::refuse`): the answer (with the engine, the
//!    model sha256 and the prompt set version) or the refusal entry, and the [`Answer`].
//!
//! The audit log holds every step: the question, each tool call (bounded result and
//! digest), refusals, and the answer. The conversation grows by appending only, so an
//! engine's prefix cache keeps the system prompt and the earlier steps.

use std::sync::Arc;
use std::time::Instant;

use audit_log::{AuditError, AuditLog, Digest, EntryBody, ModelVersions, NewEntry, Role, Seq, TurnLink};
use journey::PatientId;
use prompts::{PromptError, PromptName, PromptRegistry};
use serde_json::{json, Map, Value};
use tools::glossary::{Glossary, Term};
use tools::reading::{Asks, Reading};
use tools::{
    specs_for, CategoryVerdict, Caller, Facts, InvokeError, Invoked, Scope, Tool as _, ToolContext, ToolError, ToolName, ToolSpec,
};

use crate::answer::{
    Answer, AskContext, CalledTool, CannotAnswer, ChosenBy, Grounding, ModelCall, ModelStep, Outcome, PromptVersion,
    Timings,
};
use crate::chat::{ChatError, ChatModel, ChatRequest, Constraint, Message, Speaker, TokenSink};
use crate::conversation::Posed;
use crate::facts::{
    carries_observational_caveat, cites_facts, contradicting_categories, contradicts_verdict, facts_address, lead_sentence,
    misstates_current_drugs, prompt_facts, says_not_in_results, says_too_few, OPTION_COMPARISON_WORDS,
};
use crate::grounding::{check, Sources};
use crate::retrieval::{Ranked, RetrievalError, ToolRetriever};

/// The answer a lead words when every figure a question asks for is withheld for too
/// few comparable patients ([`tools::Facts::withholds_asked`]).
const WITHHELD_ANSWER: &str = "not enough comparable patients among the similar patients for a figure (the whole population's is given beside it, as the population's)";

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
    #[error("journey store: {0}")]
    Store(#[from] journey::StoreError),
    #[error("audit entry {0} of the conversation is not in the audit log")]
    MissingEntry(Seq),
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

/// An [`Assistant`] without its model ([`Assistant::base`]).
#[derive(Clone)]
pub struct AssistantBase {
    tools: ToolContext,
    log: AuditLog,
    retriever: ToolRetriever,
    prompts: PromptRegistry,
    config: AssistantConfig,
}

impl AssistantBase {
    /// The base of an assistant with the default prompts and settings.
    pub fn new(tools: ToolContext, log: AuditLog, retriever: ToolRetriever) -> Self {
        AssistantBase { tools, log, retriever, prompts: PromptRegistry::builtin(), config: AssistantConfig::default() }
    }

    /// The assistant on `model`.
    pub fn with_model(&self, model: Arc<dyn ChatModel>) -> Assistant {
        let base = self.clone();
        Assistant {
            model,
            tools: base.tools,
            log: base.log,
            retriever: base.retriever,
            prompts: base.prompts,
            config: base.config,
        }
    }
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

/// The first `n` of `ranked` (most similar first), with every tool of `answering`
/// among them: a tool answering the question's reading takes the place of the least
/// similar one that does not, so a fact the record states is always offered.
fn with_answering(ranked: &[Ranked], answering: &[ToolName], n: usize) -> Vec<Ranked> {
    let mut top: Vec<Ranked> = ranked.iter().take(n).copied().collect();
    for r in ranked.iter().filter(|r| answering.contains(&r.tool)) {
        if top.iter().any(|t| t.tool == r.tool) {
            continue;
        }
        if top.len() >= n {
            match top.iter().rposition(|t| !answering.contains(&t.tool)) {
                Some(last) => {
                    top.remove(last);
                }
                None => break,
            }
        }
        top.push(*r);
    }
    top.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then(a.tool.cmp(&b.tool)));
    top
}

/// The tool-choice constraint: `{"tool": <one of names or "none">}`.
pub fn choice_schema(names: &[ToolName]) -> Value {
    let mut options: Vec<Value> = names.iter().map(|n| Value::String(n.as_str().into())).collect();
    options.push(Value::String("none".into()));
    json!({"type": "object", "properties": {"tool": {"type": "string", "enum": options}}, "required": ["tool"],
           "additionalProperties": false})
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

/// The string `key` of a constrained reply (`{"tool": ..}`, `{"term": ..}`); empty
/// when the reply is not such an object.
fn reply_field(reply: &str, key: &str) -> String {
    serde_json::from_str::<Value>(reply)
        .ok()
        .and_then(|v| v.get(key).and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

impl Assistant {
    pub fn new(model: Arc<dyn ChatModel>, tools: ToolContext, log: AuditLog, retriever: ToolRetriever) -> Self {
        AssistantBase::new(tools, log, retriever).with_model(model)
    }

    /// Everything of this assistant but its model (tools, audit log, retrieval,
    /// prompts, settings): what a governed assistant builds the assistant of each
    /// newly active model from, without keeping the old model alive.
    pub fn base(&self) -> AssistantBase {
        AssistantBase {
            tools: self.tools.clone(),
            log: self.log.clone(),
            retriever: self.retriever.clone(),
            prompts: self.prompts.clone(),
            config: self.config.clone(),
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

    fn render(&self, name: PromptName, values: &[(&str, &str)]) -> Result<String, PromptError> {
        Ok(self.prompts.get(name).render(values)?.text)
    }

    /// Answers `question` for `ctx`, streaming the model's first lead sentence to
    /// `sink`, then RDT's sentences when the lead is kept ([`Answer::text`] is final:
    /// a rejected lead is replaced by it).
    ///
    /// A question recorded in the trail always gets a closing entry: when a stage fails
    /// after it (the model, a prompt, the trail itself), a refusal entry says why no
    /// answer was given before the error is returned.
    pub async fn ask(&self, question: &str, ctx: &AskContext, sink: TokenSink) -> Result<Answer, AskError> {
        self.ask_posed(question, &Posed::alone(question), ctx, sink).await
    }

    /// [`Assistant::ask`] of a question `posed` in a conversation
    /// ([`crate::conversation::Conversation::ask`]): its reading (a follow-up's
    /// resolved one), the words retrieval and the model see, and the link to the turn
    /// before, recorded in the question's entry.
    pub(crate) async fn ask_posed(
        &self,
        question: &str,
        posed: &Posed,
        ctx: &AskContext,
        sink: TokenSink,
    ) -> Result<Answer, AskError> {
        let turn = Turn::read(self, question, posed, ctx).await?;
        match self.settle_turn(turn, sink).await {
            Ok(answer) => Ok(answer),
            Err(e) => {
                let reason = format!("no answer could be given: {e}");
                let entry = NewEntry::new(ctx.principal.clone(), EntryBody::Refusal { reason })
                    .session(ctx.session.clone())
                    .patients(ctx.patient.iter().map(|p| p.as_str().to_owned()));
                // A trail that cannot close the question is the graver failure.
                self.log.append(entry).await?;
                Err(e)
            }
        }
    }

    /// Stages 2 to 8 of a read question.
    async fn settle_turn<'a>(&'a self, mut turn: Turn<'a>, sink: TokenSink) -> Result<Answer, AskError> {
        if let Some(refusal) = turn.about_another_patient().await? {
            return turn.refuse(refusal).await;
        }
        if let Some(refusal) = turn.route()? {
            return turn.refuse(refusal).await;
        }
        turn.gather().await?;
        match turn.settle() {
            Some(Settled::Refusal(refusal)) => turn.refuse(refusal).await,
            Some(Settled::Vetted(text)) => {
                if let Some(sink) = &sink {
                    let _ = sink.send(text.clone());
                }
                turn.record(text, Grounding::Vetted, Vec::new()).await
            }
            None => turn.answer(sink).await,
        }
    }
}

/// A question ended in RDT's own words, without a lead: a refusal entry holds `text`.
#[derive(Debug, Clone, PartialEq)]
struct Refusal {
    outcome: Outcome,
    text: String,
}

/// How a question ends without a lead ([`Turn::settle`]).
#[derive(Debug, Clone, PartialEq)]
enum Settled {
    Refusal(Refusal),
    /// A definition: the glossary's vetted text as written.
    Vetted(String),
}

/// How one call of the loop ended ([`Turn::call`]).
enum Call {
    Done,
    /// Role or scope did not allow it; the `refusal` entry is recorded.
    Refused(ToolError),
    /// Bad arguments, a store fault: shown to the model once.
    Failed(ToolError),
}

/// One question on its way through the stages: what each stage leaves for the next.
struct Turn<'a> {
    assistant: &'a Assistant,
    /// The question as asked (recorded, checked for another patient's name).
    question: &'a str,
    /// What retrieval, the model's prompts and the lead's check see: the question, and
    /// for a follow-up what it was read as ([`Posed::text`]).
    posed: &'a str,
    /// The question, read once (`tools::reading`), or a follow-up's reading resolved
    /// against the turn before: routing, the arguments and the audit entry of the
    /// question all use this one reading.
    reading: Reading,
    /// The conversation's turn before (the question entry's link) and what a follow-up
    /// was read as.
    follows: Option<TurnLink>,
    read_as: Option<String>,
    /// The usable tools that answer the reading, most similar first (route): when
    /// any does, the record can state the fact asked and no refusal is given.
    covering: Vec<ToolName>,
    ctx: &'a AskContext,
    model_digest: Digest,
    started: Instant,
    /// Every audit entry of the question, in order.
    audit: Vec<Seq>,
    timings: Timings,
    /// The tools the asker's role may call that the session can serve (route).
    usable: Vec<ToolSpec>,
    /// Retrieval's candidates, most similar first (route).
    candidates: Vec<Ranked>,
    /// The choice conversation, system prompt first (choose, arguments, call).
    messages: Vec<Message>,
    /// The calls that ran, in order (call).
    called: Vec<CalledTool>,
    /// Why steps failed, the latest last (choose, arguments, call).
    failures: Vec<String>,
    /// The refusal that ended the calls (call).
    refused: Option<String>,
}

impl<'a> Turn<'a> {
    /// Stage 1: the model's version checked and the question recorded.
    async fn read(
        assistant: &'a Assistant,
        question: &'a str,
        posed: &'a Posed,
        ctx: &'a AskContext,
    ) -> Result<Turn<'a>, AskError> {
        let started = Instant::now();
        let model_sha256 = assistant.model.model_sha256();
        let model_digest: Digest = model_sha256.parse().map_err(|_| AskError::ModelVersion(model_sha256.to_owned()))?;
        let system = assistant.prompts.get(PromptName::System).text;
        let reading = posed.reading.clone();
        let recorded = serde_json::to_value(&reading).ok();
        let mut turn = Turn {
            assistant,
            question,
            posed: &posed.text,
            reading,
            follows: posed.follows.clone(),
            read_as: posed.read_as.clone(),
            covering: Vec::new(),
            ctx,
            model_digest,
            started,
            audit: Vec::new(),
            timings: Timings::default(),
            usable: Vec::new(),
            candidates: Vec::new(),
            messages: vec![Message::new(Speaker::System, system)],
            called: Vec::new(),
            failures: Vec::new(),
            refused: None,
        };
        let follows = turn.follows.clone();
        turn.append(EntryBody::Question { question: question.to_owned(), reading: recorded, follows }).await?;
        Ok(turn)
    }

    /// An entry of this question (asker, session, the session's patient), appended.
    async fn append(&mut self, body: EntryBody) -> Result<Seq, AuditError> {
        let ctx = self.ctx;
        let entry = NewEntry::new(ctx.principal.clone(), body)
            .session(ctx.session.clone())
            .patients(ctx.patient.iter().map(|p| p.as_str().to_owned()));
        let seq = self.assistant.log.append(entry).await?;
        self.audit.push(seq);
        Ok(seq)
    }

    /// "The record can't answer that.", and for a question no tool applies to with no
    /// patient open, how to open one.
    fn cannot_answer(&self, why: &CannotAnswer) -> String {
        let mut text = CANNOT_ANSWER.to_owned();
        if self.ctx.patient.is_none() && *why == CannotAnswer::NoToolApplies {
            text.push_str(" No patient is open: open a patient (or pass --patient) to ask about a record.");
        }
        text
    }

    /// Before routing: a question that names a patient other than the open one is
    /// answered by saying so, never from the open patient's record.
    async fn about_another_patient(&self) -> Result<Option<Refusal>, AskError> {
        let store = self.assistant.tools.store();
        let open = self.ctx.patient.as_ref();
        let Some(named) = crate::patient_reference::other_patient_named(store, self.question, open).await? else {
            return Ok(None);
        };
        let text = crate::patient_reference::named_other_patient_text(&named, open);
        let why = CannotAnswer::AnotherPatient { named: named.as_str().to_owned() };
        Ok(Some(Refusal { outcome: Outcome::CannotAnswer(why), text }))
    }

    /// Stage 2: the tools the asker may call and the session can serve, ranked by
    /// retrieval; the top few are the candidates. `Some` ends the question before any
    /// model call: an asker outside the clinical roles, nothing near the question, or a
    /// question about a record with no patient open.
    fn route(&mut self) -> Result<Option<Refusal>, AskError> {
        let role = self.ctx.principal.role;
        let offered = specs_for(role);
        if offered.is_empty() {
            let text =
                format!("The {role} role cannot ask the assistant about patients' records; it answers clinicians.");
            return Ok(Some(Refusal { outcome: Outcome::OutsideRole { role }, text }));
        }
        // One needing a patient only with a patient open; none needing two (the
        // session's scope is one patient).
        let patient_open = self.ctx.patient.is_some();
        self.usable = offered
            .into_iter()
            .filter(|s| {
                let (one, two) = patient_fields(s);
                !two && (!one || patient_open)
            })
            .collect();
        let allowed: Vec<ToolName> = self.usable.iter().map(|s| s.name).collect();
        // The tools that state the fact the reading asks for: offered whatever the
        // question's wording, their required vocabulary notwithstanding.
        let covering: Vec<ToolName> =
            self.usable.iter().filter(|s| (s.answers)(&self.reading)).map(|s| s.name).collect();
        let t = Instant::now();
        let ranked = self.assistant.retriever.rank_answering(self.posed, &allowed, &covering)?;
        self.timings.retrieval = t.elapsed().as_secs_f64();
        // Nothing near the question and no tool answering its reading, or a question
        // about a record with no patient open: the record cannot answer, and the model
        // is not asked.
        let no_patient_record_question = !patient_open && self.reading.about_record;
        let nothing_near = ranked.first().is_none_or(|r| r.similarity < RELEVANCE_FLOOR) && covering.is_empty();
        // Nothing the reader knows is asked (no concept, and no kind of fact a tool
        // answers: "What is her blood type?", "Will it rain tomorrow?"): no tool
        // covers it, so the record cannot answer, whatever a tool's wording resembles.
        let nothing_read = covering.is_empty()
            && self.reading.concept.is_none()
            && match self.reading.asks {
                Asks::Forecast => true,
                // A question after one datum ("What is her blood type?", "Did he have a
                // colonoscopy?"); an open one ("Anything to keep in mind?") is the model's.
                Asks::Unknown => self.reading.asks_for_one_datum(),
                _ => false,
            };
        if nothing_near || nothing_read || no_patient_record_question {
            self.candidates = ranked.into_iter().take(3).collect();
            let why = CannotAnswer::NoToolApplies;
            let text = self.cannot_answer(&why);
            return Ok(Some(Refusal { outcome: Outcome::CannotAnswer(why), text }));
        }
        // A question about the open patient's record is never a definition: the
        // glossary is not offered, the next tool is.
        let about_record = patient_open && self.reading.about_record;
        let ranked: Vec<Ranked> =
            ranked.into_iter().filter(|r| !(about_record && r.tool == ToolName::Glossary)).collect();
        self.candidates = with_answering(&ranked, &covering, self.assistant.config.candidates);
        self.covering = self.candidates.iter().map(|r| r.tool).filter(|t| covering.contains(t)).collect();
        Ok(None)
    }

    /// Stages 3 to 5, repeated: the definition step when the glossary is a candidate,
    /// then choice, arguments and call, at most `max_tool_calls` times.
    async fn gather(&mut self) -> Result<(), AskError> {
        // Offered in a fixed order, so the same candidates give the same prompt bytes.
        let mut names: Vec<ToolName> = self.candidates.iter().map(|r| r.tool).collect();
        names.sort();
        if names.contains(&ToolName::Glossary) {
            self.define().await?;
            names.retain(|n| *n != ToolName::Glossary);
        }
        let choice_prompt = self.choice_prompt(&names)?;
        let steps = if self.called.is_empty() && !names.is_empty() { self.assistant.config.max_tool_calls } else { 0 };
        let mut decided = self.decisive(&names);
        for _ in 0..steps {
            let Some((spec, chosen_by)) = self.choose(&names, &choice_prompt, decided.take()).await? else {
                break;
            };
            let Some((arguments, model_arguments)) = self.arguments(&spec).await? else {
                continue;
            };
            match self.call(spec.name, chosen_by, arguments, model_arguments).await? {
                Call::Done => {
                    if !self.assistant.config.follow_up {
                        break;
                    }
                    if let Some(last) = self.called.last() {
                        let facts = prompt_facts([(last.tool, &last.result)]);
                        self.messages.push(Message::new(Speaker::Tool, facts));
                    }
                }
                Call::Refused(error) => {
                    self.refused = Some(error.to_string());
                    break;
                }
                Call::Failed(error) => {
                    self.failures.push(error.to_string());
                    self.messages.push(Message::new(Speaker::Tool, format!("error: {error}")));
                }
            }
        }
        Ok(())
    }

    /// Stage 3a. Maybe a knowledge question: the glossary is a candidate and the
    /// question does not point at the record. A definition question that names its
    /// term ("What DAS28 counts as remission?") is decided by the question; otherwise
    /// the model is asked one narrow question first (is this a definition, and of
    /// which term?), so a tool named after the term (disease_activity_history for
    /// "What is DAS28?") cannot win, and with no patient open the glossary is not
    /// refused as "no patient". "none" goes on to the usual choice without the
    /// glossary.
    async fn define(&mut self) -> Result<(), AskError> {
        // The term a question names is in its own words, never in what a follow-up was read as.
        let named = Glossary::arguments_named_in(self.question).get("term").and_then(Value::as_str).map(str::to_owned);
        let (term, chosen_by) = match named {
            Some(term) => (term, ChosenBy::Question),
            None => {
                let terms = glossary_terms();
                let prompt =
                    self.assistant.render(PromptName::Definition, &[("terms", &terms), ("question", self.posed)])?;
                self.messages.push(Message::new(Speaker::User, prompt));
                let request = self.request(Constraint::JsonSchema(term_schema()), 16);
                let reply = self.complete(ModelStep::Definition, request, None).await?;
                self.messages.push(Message::new(Speaker::Assistant, reply.clone()));
                (reply_field(&reply, "term"), ChosenBy::Model)
            }
        };
        if Term::ALL.iter().any(|t| t.name() == term) {
            let arguments = json!({"term": term});
            match self.call(ToolName::Glossary, chosen_by, arguments.clone(), arguments).await? {
                Call::Done => {}
                Call::Refused(error) | Call::Failed(error) => self.failures.push(error.to_string()),
            }
        }
        Ok(())
    }

    /// The tool-choice prompt over `names`, each with its description.
    fn choice_prompt(&self, names: &[ToolName]) -> Result<String, PromptError> {
        let tool_lines: Vec<String> = names
            .iter()
            .filter_map(|n| self.usable.iter().find(|s| s.name == *n))
            .map(|s| format!("- {}: {}", s.name.as_str(), s.description))
            .collect();
        let patient = self.ctx.patient.as_ref().map_or("none (no patient is open)".to_owned(), |p| p.to_string());
        self.assistant.render(
            PromptName::ToolChoice,
            &[("tools", &tool_lines.join("\n")), ("patient", &patient), ("question", self.posed)],
        )
    }

    /// Retrieval's first remaining candidate, when it leads the next by the configured
    /// margin and answers the question's reading (or no candidate does): then the
    /// model is not asked which tool.
    fn decisive(&self, names: &[ToolName]) -> Option<(ToolName, ChosenBy)> {
        let remaining: Vec<&Ranked> = self.candidates.iter().filter(|r| names.contains(&r.tool)).collect();
        let answers = |tool: ToolName| self.covering.is_empty() || self.covering.contains(&tool);
        match (remaining.as_slice(), self.assistant.config.decisive_margin) {
            ([first, second, ..], Some(margin)) if first.similarity - second.similarity >= margin && answers(first.tool) => {
                Some((first.tool, ChosenBy::Retrieval { margin: first.similarity - second.similarity }))
            }
            _ => None,
        }
    }

    /// Stage 3b: which tool. The reading's or retrieval's when it `decided` (the
    /// conversation then holds no choice step, and the arguments prompt carries the
    /// question itself), else the model's among `names`. A "none" (or a name not
    /// offered) while a candidate answers the reading takes that candidate: the record
    /// states the fact asked, so it is not refused. Otherwise `None` ends the calls.
    async fn choose(
        &mut self,
        names: &[ToolName],
        prompt: &str,
        decided: Option<(ToolName, ChosenBy)>,
    ) -> Result<Option<(ToolSpec, ChosenBy)>, AskError> {
        let (chosen, chosen_by) = match decided {
            Some((tool, by)) => (tool.as_str().to_owned(), by),
            None => {
                self.messages.push(Message::new(Speaker::User, prompt.to_owned()));
                let request = self.request(Constraint::JsonSchema(choice_schema(names)), 16);
                let reply = self.complete(ModelStep::ToolChoice, request, None).await?;
                self.messages.push(Message::new(Speaker::Assistant, reply.clone()));
                (reply_field(&reply, "tool"), ChosenBy::Model)
            }
        };
        let spec = self.usable.iter().find(|s| s.name.as_str() == chosen && names.contains(&s.name)).cloned();
        if spec.is_none() && chosen != "none" {
            self.failures.push(format!("the model chose `{chosen}`, which was not offered"));
        }
        // A tool answers the reading and the choice was none, or a tool that does not
        // answer it ("how many CRP values?" to the summary): the answering tool runs.
        let answering = self.covering.iter().find(|t| names.contains(t));
        if let Some(tool) = answering.filter(|_| spec.as_ref().is_none_or(|s| !self.covering.contains(&s.name))) {
            let spec = self.usable.iter().find(|s| s.name == *tool).cloned();
            return Ok(spec.map(|spec| (spec, ChosenBy::Reading)));
        }
        Ok(spec.map(|spec| (spec, chosen_by)))
    }

    /// Stage 4: the arguments the call runs with, and the model's own. What the
    /// question names (the lab test of "What is the latest haemoglobin?") overrides
    /// the model; the patient is the session's: whatever the model wrote is replaced.
    /// Both versions are audited. `None` when the model's were not a JSON object (a
    /// failure, shown to the model).
    async fn arguments(&mut self, spec: &ToolSpec) -> Result<Option<(Value, Value)>, AskError> {
        let named = (spec.arguments_read)(&self.reading);
        let model_arguments = match argument_schema(spec, &named) {
            None => json!({}),
            Some(schema) => {
                let prompt = self.assistant.render(
                    PromptName::Arguments,
                    &[("question", self.posed), ("tool", spec.name.as_str()), ("schema", &schema.to_string())],
                )?;
                self.messages.push(Message::new(Speaker::User, prompt));
                let request = self.request(Constraint::JsonSchema(schema), self.assistant.config.arguments_max_tokens);
                let text = self.complete(ModelStep::Arguments, request, None).await?;
                self.messages.push(Message::new(Speaker::Assistant, text.clone()));
                match serde_json::from_str::<Value>(&text) {
                    Ok(v @ Value::Object(_)) => v,
                    _ => {
                        self.failures.push(format!("arguments for `{}` were not a JSON object: {text}", spec.name));
                        self.messages.push(Message::new(Speaker::Tool, format!("error: not a JSON object: {text}")));
                        return Ok(None);
                    }
                }
            }
        };
        let mut arguments = model_arguments.clone();
        if let Value::Object(map) = &mut arguments {
            map.extend(named);
            if patient_fields(spec).0 {
                map.remove("patient");
                if let Some(p) = &self.ctx.patient {
                    map.insert("patient".into(), Value::String(p.to_string()));
                }
            }
        }
        Ok(Some((arguments, model_arguments)))
    }

    /// Stage 5: runs `tool` through `tools::invoke`, the one audited door, with the
    /// session's principal and scope; the call and its `tool_call` entry (or, refused,
    /// its `refusal` entry) are one act. A call that ran joins `called`.
    async fn call(
        &mut self,
        tool: ToolName,
        chosen_by: ChosenBy,
        arguments: Value,
        model_arguments: Value,
    ) -> Result<Call, AskError> {
        let ctx = self.ctx;
        let scope = Scope::patients(ctx.patient.iter().cloned());
        let caller = Caller { principal: &ctx.principal, scope: &scope, session: Some(&ctx.session) };
        let t = Instant::now();
        let outcome =
            tools::invoke(&self.assistant.tools, &self.assistant.log, caller, tool.as_str(), &arguments).await;
        self.timings.tools += t.elapsed().as_secs_f64();
        match outcome {
            Ok(Invoked { result, audit_seq, result_digest }) => {
                self.audit.push(audit_seq);
                self.called.push(CalledTool {
                    tool: result.tool,
                    chosen_by,
                    arguments: result.arguments,
                    model_arguments,
                    result: result.result,
                    facts: result.facts,
                    result_digest,
                    audit_seq,
                });
                Ok(Call::Done)
            }
            Err(InvokeError::Tool { error, refusal: Some(seq) }) => {
                self.audit.push(seq);
                Ok(Call::Refused(error))
            }
            Err(InvokeError::Tool { error, refusal: None }) => Ok(Call::Failed(error)),
            Err(InvokeError::Audit(e)) => Err(e.into()),
        }
    }

    /// Stage 6: how the question ends without a lead, if it does. No call ran (the
    /// model chose none, or every call failed or was refused); every result has
    /// nothing to state (RDT says what it did not find); or every result is a
    /// definition, stated as the glossary's vetted text: a small model's paraphrase of
    /// a clinical threshold is a risk with nothing to gain.
    fn settle(&self) -> Option<Settled> {
        let Some(first) = self.called.first() else {
            let why = match (&self.refused, self.failures.last()) {
                (Some(reason), _) => CannotAnswer::Refused { reason: reason.clone() },
                (None, Some(error)) => CannotAnswer::ToolFailed { error: error.clone() },
                (None, None) => CannotAnswer::NoToolApplies,
            };
            let text = self.cannot_answer(&why);
            return Some(Settled::Refusal(Refusal { outcome: Outcome::CannotAnswer(why), text }));
        };
        if self.called.iter().all(|c| c.facts.nothing_found) {
            let text = format!("{CANNOT_ANSWER} {}", self.facts_text());
            let outcome = Outcome::CannotAnswer(CannotAnswer::NothingFound { tool: first.tool });
            return Some(Settled::Refusal(Refusal { outcome, text }));
        }
        if self.called.iter().all(|c| c.tool == ToolName::Glossary) {
            return Some(Settled::Vetted(self.facts_text()));
        }
        None
    }

    /// RDT's sentences of every result, in call order.
    fn facts_text(&self) -> String {
        self.called.iter().map(|c| c.facts.text.as_str()).collect::<Vec<_>>().join(" ")
    }

    /// Stages 7 and 8: the model's one sentence answering the question from RDT's
    /// sentences of the results, checked, then those sentences. The model's turn is a
    /// conversation of its own after the system prompt (whose prefix the engine
    /// keeps), so its prompt is the question and the sentences only: the results'
    /// JSON cost 5-15 s of prompt evaluation here (docs/benchmarks/engines.md).
    async fn answer(mut self, sink: TokenSink) -> Result<Answer, AskError> {
        let reading = self.reading.clone();
        let mut lead_check = LeadCheck::of(self.posed, &reading, &self.called, &self.usable, self.ctx.patient.as_ref());
        lead_check.covered = self.called.iter().any(|c| self.covering.contains(&c.tool));
        let facts = lead_check.facts.clone();
        // Observational figures (the treatment options) get the prompt that asks for
        // their caveat in the lead's own words; the check holds the lead to it. When a
        // called tool answers the question's reading, the facts hold the answer: the
        // prompt says so and offers no "does not show" way out. A yes/no or either/or
        // question about a category gets the answer RDT read from the facts
        // (`tools::CategoryVerdict`) to word; so does a question whose every figure
        // asked is withheld for too few comparable patients (a 1.5B model gave the
        // population's figure as the similar patients').
        let verdict = lead_check
            .verdicts
            .first()
            .map(CategoryVerdict::answer)
            .or_else(|| lead_check.withheld.then(|| WITHHELD_ANSWER.to_owned()));
        let template = if lead_check.observational {
            PromptName::AnswerObservational
        } else if verdict.is_some() {
            PromptName::AnswerVerdict
        } else if lead_check.covered {
            PromptName::AnswerCovered
        } else {
            PromptName::Answer
        };
        // The lead is written from the sentences the question asks about (a cohort's
        // asked outcome, not all seven); the answer shows them all after it.
        let lead_facts = self.called.iter().map(|c| c.facts.for_lead(&self.reading)).collect::<Vec<_>>().join(" ");
        let mut values = vec![("question", self.posed), ("summary", lead_facts.as_str())];
        if let (PromptName::AnswerVerdict, Some(verdict)) = (template, verdict.as_deref()) {
            values.push(("verdict", verdict));
        }
        let prompt = self.assistant.render(template, &values)?;
        let mut messages = vec![self.messages[0].clone(), Message::new(Speaker::User, prompt)];
        // The first lead streams to `sink` as it is written; the facts follow it there
        // once it is kept (a replaced lead is replaced by the final text).
        let first = self.write_lead(&messages, sink.clone()).await?;
        let mut drafts = vec![first.clone()];
        let (lead, grounding) = match lead_check.judge(&first) {
            Verdict::CannotAnswer => {
                let outcome = Outcome::CannotAnswer(CannotAnswer::NothingFound { tool: self.called[0].tool });
                return self.refuse(Refusal { outcome, text: CANNOT_ANSWER.to_owned() }).await;
            }
            Verdict::Keep => (first, Grounding::Grounded),
            Verdict::Drop { ungrounded } => (first, Grounding::Template { ungrounded }),
            // One more lead, told which numbers the facts do not hold or, after a
            // decline over facts that answer the question, that they do; kept only if
            // the check keeps it, else RDT's sentences alone.
            again @ (Verdict::Retry { .. } | Verdict::Restate) => {
                let (prompt, ungrounded) = match again {
                    Verdict::Retry { ungrounded } => {
                        (self.assistant.render(PromptName::AnswerRetry, &[("numbers", &ungrounded.join(", "))])?, ungrounded)
                    }
                    _ => (self.assistant.render(PromptName::AnswerRestate, &[])?, Vec::new()),
                };
                messages.push(Message::new(Speaker::Assistant, first));
                messages.push(Message::new(Speaker::User, prompt));
                let second = self.write_lead(&messages, None).await?;
                drafts.push(second.clone());
                if lead_check.judge(&second) == Verdict::Keep {
                    (second, Grounding::GroundedOnRetry { ungrounded })
                } else {
                    (second, Grounding::Template { ungrounded })
                }
            }
        };
        let text = match grounding {
            Grounding::Grounded | Grounding::GroundedOnRetry { .. } => format!("{lead}\n\n{facts}"),
            _ => facts,
        };
        if let (Some(sink), Grounding::Grounded) = (&sink, &grounding) {
            let _ = sink.send(text[lead.len()..].to_owned());
        }
        self.record(text, grounding, drafts).await
    }

    /// Stage 7: one lead from the model, as shown: its first whole sentence.
    async fn write_lead(&mut self, messages: &[Message], sink: TokenSink) -> Result<String, AskError> {
        let max_tokens = self.assistant.config.answer_max_tokens;
        let request = ChatRequest { messages: messages.to_vec(), constraint: Constraint::Free, max_tokens };
        let draft = self.complete(ModelStep::Answer, request, sink).await?;
        Ok(lead_sentence(&draft))
    }

    /// The choice conversation so far, under `constraint`.
    fn request(&self, constraint: Constraint, max_tokens: usize) -> ChatRequest {
        ChatRequest { messages: self.messages.clone(), constraint, max_tokens }
    }

    /// One model call, its tokens and seconds added to the timings.
    async fn complete(&mut self, step: ModelStep, request: ChatRequest, sink: TokenSink) -> Result<String, ChatError> {
        let c = self.assistant.model.complete(&request, sink).await?;
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
        Ok(c.text)
    }

    /// Stage 9: the answer's audit entry, with the engine, model and prompt set
    /// versions, and the [`Answer`].
    async fn record(mut self, text: String, grounding: Grounding, drafts: Vec<String>) -> Result<Answer, AskError> {
        let assistant = self.assistant;
        let model = ModelVersions {
            model_sha256: self.model_digest,
            prompt_version: assistant.prompts.version(),
            engine: Some(assistant.model.engine().as_str().to_owned()),
        };
        let seq = self.append(EntryBody::Answer { answer: text.clone(), model, cohort: None }).await?;
        Ok(self.finish(text, Outcome::Answered, grounding, drafts, seq))
    }

    /// Stage 9 for a question ended without a model answer: a refusal entry holds the
    /// text.
    async fn refuse(mut self, refusal: Refusal) -> Result<Answer, AskError> {
        let Refusal { outcome, text } = refusal;
        let reason = match &outcome {
            Outcome::OutsideRole { role } => format!("outside role: {role}"),
            Outcome::CannotAnswer(why) => format!(
                "cannot answer ({}): {text}",
                serde_json::to_value(why).map(|v| v["why"].to_string()).unwrap_or_default()
            ),
            Outcome::Answered => text.clone(),
        };
        let seq = self.append(EntryBody::Refusal { reason }).await?;
        Ok(self.finish(text, outcome, Grounding::NotNeeded, Vec::new(), seq))
    }

    fn finish(
        mut self,
        text: String,
        outcome: Outcome,
        grounding: Grounding,
        drafts: Vec<String>,
        answer_seq: Seq,
    ) -> Answer {
        let assistant = self.assistant;
        self.timings.total = self.started.elapsed().as_secs_f64();
        Answer {
            question: self.question.to_owned(),
            reading: self.reading,
            follows: self.follows,
            read_as: self.read_as,
            text,
            outcome,
            grounding,
            drafts,
            candidates: self.candidates,
            tools: self.called,
            engine: assistant.model.engine(),
            model_sha256: assistant.model.model_sha256().to_owned(),
            prompts: assistant
                .prompts
                .iter()
                .map(|p| PromptVersion { name: p.name.as_str(), version: p.version })
                .collect(),
            prompt_set_version: assistant.prompts.version(),
            encoder_version: Some(assistant.retriever.encoder_version()),
            audit: self.audit,
            answer_seq,
            timings: self.timings,
        }
    }
}

/// Stage 8: what a lead is checked against. RDT's sentences of the results, their
/// numbers (and the question's), their drugs, and whether the question uses a called
/// tool's own words ("C-reactive protein" for the CRP trend: then the facts address
/// it whatever words they use).
#[derive(Debug, Clone)]
struct LeadCheck<'a> {
    question: &'a str,
    /// The question as read once for the whole answer (a follow-up's, merged).
    reading: &'a Reading,
    /// RDT's sentences of every result, joined.
    facts: String,
    sources: Sources,
    results: Vec<Facts>,
    in_tool_words: bool,
    /// A called tool answers the question's reading: the facts state what was asked,
    /// so a lead saying they do not is dropped, never believed.
    covered: bool,
    /// What the results answer to a yes/no or either/or question about a category,
    /// read once per answer (the lead's prompt gives the first; every lead judged is
    /// held to them).
    verdicts: Vec<CategoryVerdict>,
    /// Every figure the question asks for is withheld for too few comparable patients
    /// in some result ([`Facts::withholds_asked`]), or stated in one.
    withheld: bool,
    stated: bool,
    /// The results are observational comparisons of treatments (`compare_treatments`):
    /// the lead must say they are figures of similar patients and predict nothing for
    /// this one ([`carries_observational_caveat`]).
    observational: bool,
}

/// The check's verdict on one lead.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    /// The lead says the facts do not answer, and nothing says they do: the record
    /// cannot answer.
    CannotAnswer,
    /// Every number traced, the facts cited and not contradicted: shown before them.
    Keep,
    /// Numbers no result holds: worth one retry naming them.
    Retry { ungrounded: Vec<String> },
    /// Nothing a retry about numbers would mend: RDT's sentences alone.
    Drop { ungrounded: Vec<String> },
    /// A decline over facts a tool answering the reading stated: worth one retry
    /// saying they answer it.
    Restate,
}

impl<'a> LeadCheck<'a> {
    fn of(
        question: &'a str,
        reading: &'a Reading,
        called: &[CalledTool],
        usable: &[ToolSpec],
        patient: Option<&PatientId>,
    ) -> Self {
        LeadCheck {
            question,
            reading,
            facts: called.iter().map(|c| c.facts.text.as_str()).collect::<Vec<_>>().join(" "),
            sources: Sources::new(called.iter().map(|c| &c.result), question).with_patient(patient.map(|p| p.as_str())),
            results: called.iter().map(|c| c.facts.clone()).collect(),
            in_tool_words: called
                .iter()
                .any(|c| usable.iter().any(|s| s.name == c.tool && s.vocabulary.matches(question))),
            observational: called.iter().any(|c| c.tool == ToolName::CompareTreatments),
            verdicts: called.iter().filter_map(|c| c.facts.verdict(reading)).collect(),
            withheld: called.iter().any(|c| c.facts.withholds_asked(reading)),
            stated: called.iter().any(|c| c.facts.states_asked(reading)),
            covered: false,
        }
    }

    /// The model says the facts do not answer the question, or its sentence cites
    /// nothing of them. A lead naming a drug of the group the question asked about
    /// cites the facts' sentence on that group ("No, she never received
    /// prednisolone." over "Ever started a glucocorticoid: no").
    fn declines(&self, lead: &str) -> bool {
        let members = self.reading.drug_group().map(|g| g.members().join(" ")).unwrap_or_default();
        says_not_in_results(lead) || !cites_facts(lead, &format!("{} {members}", self.facts))
    }

    /// Kept when it cites the facts, states no flag, trend or category they do not
    /// ("raised" beside "flagged normal"), answers a yes/no question as their verdict
    /// does, says there are too few comparable patients where (and only where) every
    /// figure asked is withheld for that, and names the current drugs as they are;
    /// over observational results, when it also carries their caveat (similar
    /// patients, no prediction), and its comparison words ("did better", "moderate or
    /// good response") are not read as the record's trends or categories.
    fn keeps(&self, lead: &str) -> bool {
        let categories = contradicting_categories(lead, &self.facts, self.reading.worse_when())
            .into_iter()
            .filter(|c| !(self.observational && OPTION_COMPARISON_WORDS.contains(c)))
            .count();
        let against_verdict = self.verdicts.iter().any(|v| contradicts_verdict(lead, v));
        !lead.is_empty()
            && !self.declines(lead)
            && categories == 0
            && !against_verdict
            && (!self.withheld || says_too_few(lead))
            && !(self.stated && says_too_few(lead))
            && !misstates_current_drugs(lead, self.reading, &self.results)
            && (!self.observational || carries_observational_caveat(lead))
    }

    /// A decline is believed when the facts share no telling word with the question
    /// and the question uses none of the tool's vocabulary (a blood type against a
    /// summary). Otherwise the facts do answer it (a 1.5B model says "does not show"
    /// of "Flares: 2" for "How many flares did he have?"): RDT's sentences alone.
    fn judge(&self, lead: &str) -> Verdict {
        if self.declines(lead) && !self.covered && !self.in_tool_words && !facts_address(self.question, &self.facts) {
            return Verdict::CannotAnswer;
        }
        if self.covered && says_not_in_results(lead) {
            return Verdict::Restate;
        }
        let ungrounded = check(lead, &self.sources).ungrounded;
        if ungrounded.is_empty() && self.keeps(lead) {
            Verdict::Keep
        } else if ungrounded.is_empty() || self.declines(lead) {
            Verdict::Drop { ungrounded }
        } else {
            Verdict::Retry { ungrounded }
        }
    }
}

/// Whether `role` may use the assistant at all (some tool is offered to it).
pub fn role_may_ask(role: Role) -> bool {
    !specs_for(role).is_empty()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use audit_log::{EntryKind, Principal};
    use chrono::NaiveDate;
    use tools::DrugFacts;

    use super::*;
    use crate::retrieval::ToolRetriever;
    use crate::testing::{day, pid, store_at, KeywordEmbedder, ScriptedModel, TestChart};

    /// An assistant over p-1 (CRP 12.4 mg/L on 2023-05-02) whose model answers
    /// nothing: the stages tested here ask it nothing (checked by its requests).
    async fn assistant_at(dir: &Path) -> (Assistant, Arc<ScriptedModel>) {
        let birth = NaiveDate::from_ymd_opt(1960, 5, 1).unwrap();
        let chart = TestChart::new("p-1", "female", birth).crp(day(2023, 5, 2), 12.4);
        let store = store_at(&dir.join("journey.sqlite"), vec![chart]).await.unwrap();
        let log = AuditLog::open(&format!("sqlite://{}", dir.join("audit.sqlite").display())).await.unwrap();
        let model = Arc::new(ScriptedModel::new(|_, _| String::new()));
        let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
        (Assistant::new(model.clone(), ToolContext::new(store), log, retriever), model)
    }

    fn asker(role: Role, patient: Option<&str>) -> AskContext {
        AskContext { principal: Principal::new("dr-a", role), patient: patient.map(pid), session: "s-1".into() }
    }

    /// Routing alone: a record question with a patient open gets the lab tool first,
    /// no glossary (it points at the record) and no two-patient tool; with no patient
    /// open it ends, saying how to open one; an auditor is refused before retrieval.
    /// No model is asked.
    #[tokio::test]
    async fn routing_offers_what_the_session_can_serve() {
        let dir = tempfile::tempdir().unwrap();
        let (assistant, model) = assistant_at(dir.path()).await;
        let question = "What is the latest CRP of the patient?";
        let posed = Posed::alone(question);

        let ctx = asker(Role::Clinician, Some("p-1"));
        let mut turn = Turn::read(&assistant, question, &posed, &ctx).await.unwrap();
        assert_eq!(turn.route().unwrap(), None);
        assert_eq!(turn.candidates[0].tool, ToolName::LabTrend);
        assert!(turn.candidates.len() <= AssistantConfig::default().candidates);
        assert!(turn.candidates.iter().all(|r| r.tool != ToolName::Glossary), "{:?}", turn.candidates);
        assert!(turn.usable.iter().all(|s| s.name != ToolName::ComparePatients));

        let ctx = asker(Role::Clinician, None);
        let mut turn = Turn::read(&assistant, question, &posed, &ctx).await.unwrap();
        let refusal = turn.route().unwrap().expect("a record question with no patient open ends");
        assert_eq!(refusal.outcome, Outcome::CannotAnswer(CannotAnswer::NoToolApplies));
        assert!(refusal.text.starts_with(CANNOT_ANSWER) && refusal.text.contains("No patient is open"));
        assert!(turn.usable.iter().all(|s| !patient_fields(s).0), "only tools needing no patient");

        let ctx = asker(Role::Auditor, Some("p-1"));
        let mut turn = Turn::read(&assistant, question, &posed, &ctx).await.unwrap();
        let refusal = turn.route().unwrap().expect("an auditor is refused");
        assert_eq!(refusal.outcome, Outcome::OutsideRole { role: Role::Auditor });
        assert!(turn.candidates.is_empty() && turn.usable.is_empty());
        assert!(model.requests().is_empty(), "routing asks no model");
    }

    /// The call stage alone: a call in scope joins `called` with the tool's sentences
    /// and leaves its `tool_call` entry; a call naming another patient is refused and
    /// leaves a `refusal` entry; bad arguments leave none. Then `settle`: the refusal
    /// ends the question, in RDT's words.
    #[tokio::test]
    async fn calls_go_through_the_audited_door() {
        let dir = tempfile::tempdir().unwrap();
        let (assistant, _model) = assistant_at(dir.path()).await;
        let ctx = asker(Role::Clinician, Some("p-1"));
        let posed = Posed::alone("What is the latest CRP?");
        let mut turn = Turn::read(&assistant, "What is the latest CRP?", &posed, &ctx).await.unwrap();

        let arguments = json!({"patient": "p-1", "test": "crp"});
        let call = turn.call(ToolName::LabTrend, ChosenBy::Model, arguments.clone(), json!({})).await.unwrap();
        assert!(matches!(call, Call::Done));
        let called = &turn.called[0];
        assert_eq!(called.arguments, arguments);
        assert!(called.facts.text.starts_with("Latest CRP of p-1: 12.4 mg/L on 2023-05-02"), "{}", called.facts.text);
        assert_eq!(turn.audit.last(), Some(&called.audit_seq));
        assert_eq!(turn.settle(), None, "a result with facts goes on to the lead");

        let mut refused = Turn::read(&assistant, "What is the latest CRP?", &posed, &ctx).await.unwrap();
        let other = json!({"patient": "p-2", "test": "crp"});
        let call = refused.call(ToolName::LabTrend, ChosenBy::Model, other, json!({})).await.unwrap();
        let Call::Refused(error) = call else { panic!("another patient is out of scope") };
        let bad = refused.call(ToolName::LabTrend, ChosenBy::Model, json!({"patient": 7}), json!({})).await.unwrap();
        assert!(matches!(bad, Call::Failed(_)));
        let mut kinds = Vec::new();
        for seq in &refused.audit {
            kinds.push(assistant.log.entry(*seq).await.unwrap().unwrap().parse().unwrap().kind());
        }
        assert_eq!(kinds, vec![EntryKind::Question, EntryKind::Refusal], "bad arguments are not recorded");
        assert!(refused.called.is_empty());
        refused.refused = Some(error.to_string());
        let Some(Settled::Refusal(refusal)) = refused.settle() else { panic!("no call ran") };
        assert_eq!(refusal.text, CANNOT_ANSWER);
        assert!(matches!(refusal.outcome, Outcome::CannotAnswer(CannotAnswer::Refused { .. })), "{refusal:?}");
    }

    /// The lead check alone, over one CRP result: a traced lead is kept; an untraced
    /// number earns a retry; a lead contradicting the flag or denying a current drug
    /// is dropped; a decline is believed only when the facts do not address the
    /// question and it uses none of the tool's words.
    #[test]
    fn a_lead_is_kept_retried_dropped_or_believed() {
        let result = json!({"value": {"patient": "p-1", "latest": {"value": 12.4, "date": "2023-05-02"}}});
        let drugs = DrugFacts { current: vec!["methotrexate".into()], ..DrugFacts::default() };
        // The reading lives as long as the test (leaked): one per question.
        let lead_check = |question| LeadCheck {
            question,
            reading: Box::leak(Box::new(Reading::of(question))),
            facts: "Latest CRP of p-1: 12.4 mg/L on 2023-05-02, flagged high. Trend over the last 365 days: rising \
                    (3 values)."
                .into(),
            sources: Sources::new([&result], question).with_patient(Some("p-1")),
            results: vec![Facts::stated(String::new()).with_drugs(drugs.clone())],
            in_tool_words: false,
            covered: false,
            observational: false,
            verdicts: Vec::new(),
            withheld: false,
            stated: false,
        };
        let crp = lead_check("What is the latest CRP?");
        assert_eq!(crp.judge("The latest CRP is 12.4 mg/L, flagged high."), Verdict::Keep);
        assert_eq!(crp.judge("The latest CRP is 13.9 mg/L."), Verdict::Retry { ungrounded: vec!["13.9".into()] });
        assert_eq!(crp.judge("The latest CRP, 12.4 mg/L, is normal."), Verdict::Drop { ungrounded: Vec::new() });
        let denied = "The CRP is 12.4 mg/L and the patient is not on methotrexate.";
        assert_eq!(crp.judge(denied), Verdict::Drop { ungrounded: Vec::new() });
        let declined = "The record does not show the CRP.";
        assert_eq!(crp.judge(declined), Verdict::Drop { ungrounded: Vec::new() }, "the facts address it");
        let blood = lead_check("What is the patient's blood type?");
        let not_there = "The blood type is not mentioned in the record.";
        assert_eq!(blood.judge(not_there), Verdict::CannotAnswer);
        let in_words = LeadCheck { in_tool_words: true, ..blood };
        assert_eq!(in_words.judge(not_there), Verdict::Drop { ungrounded: Vec::new() });
    }

    /// Over the treatment options (observational), a lead is kept only when it speaks
    /// of similar patients and predicts nothing for this one; comparing options ("did
    /// better", "moderate or good response") is not a trend or category of the record.
    #[test]
    fn an_options_lead_must_carry_the_caveat() {
        let result = json!({"value": {"patient": "p-1", "options": [{"label": "TNF inhibitor", "percent": 55,
            "outcome": "response at 6 months"}]}});
        let question = "What if we switch her to a TNF inhibitor?";
        let reading = Reading::of(question);
        let lead_check = LeadCheck {
            question,
            reading: &reading,
            facts: "Treatment options of p-1 at 2023-05-02 (current: methotrexate). TNF inhibitor: 30 similar \
                    patients started it (among the 200 nearest); response at 6 months 55% (16 of 30; 95% CI 37% to \
                    72%). Observational: these patients were not randomised to their treatments."
                .into(),
            sources: Sources::new([&result], question).with_patient(Some("p-1")),
            results: vec![Facts::stated(String::new())],
            in_tool_words: true,
            covered: false,
            observational: true,
            verdicts: Vec::new(),
            withheld: false,
            stated: false,
        };
        let kept = "Among similar patients who started a TNF inhibitor, 55% had a moderate or good response and did better.";
        assert_eq!(lead_check.judge(kept), Verdict::Keep);
        let no_hedge = "A TNF inhibitor gives a 55% response at 6 months.";
        assert_eq!(lead_check.judge(no_hedge), Verdict::Drop { ungrounded: Vec::new() });
        let predicts = "Among similar patients, she would respond to a TNF inhibitor.";
        assert_eq!(lead_check.judge(predicts), Verdict::Drop { ungrounded: Vec::new() });
        let not_observational = LeadCheck { observational: false, ..lead_check };
        assert_eq!(not_observational.judge(no_hedge), Verdict::Keep, "other tools' leads are not held to it");
    }
}
