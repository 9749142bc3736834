//! The loop with a scripted chat-model double: tool choice among the retrieved
//! candidates, arguments with the patient taken from the session (never from the
//! model), refusals, the grounding retry and template fallback, the step bound, the
//! role check, and the audit trail each step leaves.

use std::sync::Arc;

use assistant_eval::testing::{day, pid, store_at, KeywordEmbedder, ScriptedModel, Step, TestChart};
use assistant::session::DECISIVE_MARGIN;
use assistant::grounding::{check, Sources};
use assistant::{
    AskContext, Assistant, AssistantConfig, CannotAnswer, ChosenBy, Grounding, Outcome, ToolRetriever, CANNOT_ANSWER,
};
use audit_log::{AuditLog, EntryBody, EntryKind, Principal, Role};
use chrono::NaiveDate;
use serde_json::json;
use tools::{ToolContext, ToolName};

struct Setup {
    _dir: tempfile::TempDir,
    log: AuditLog,
    tools: ToolContext,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let birth = NaiveDate::from_ymd_opt(1960, 5, 1).unwrap();
    let p1 = TestChart::new("p-1", "female", birth)
        .crp(day(2023, 1, 10), 3.2)
        .crp(day(2023, 3, 10), 8.1)
        .crp(day(2023, 5, 2), 12.4)
        .das28(day(2023, 5, 2), 4.1);
    let p2 = TestChart::new("p-2", "male", birth).crp(day(2023, 5, 2), 987.6);
    let store = store_at(&dir.path().join("journey.sqlite"), vec![p1, p2]).await.unwrap();
    let log = AuditLog::open(&format!("sqlite://{}", dir.path().join("audit.sqlite").display())).await.unwrap();
    Setup { _dir: dir, log, tools: ToolContext::new(store) }
}

/// The loop with the model choosing every tool (these tests script its choices).
fn assistant(s: &Setup, model: Arc<ScriptedModel>) -> Assistant {
    let config = AssistantConfig { decisive_margin: None, ..AssistantConfig::default() };
    deciding_assistant(s, model).with_config(config)
}

/// The loop as shipped: retrieval's clear first tool is taken without the model.
fn deciding_assistant(s: &Setup, model: Arc<ScriptedModel>) -> Assistant {
    let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
    Assistant::new(model, s.tools.clone(), s.log.clone(), retriever)
}

fn doctor(patient: Option<&str>) -> AskContext {
    AskContext { principal: Principal::new("dr-a", Role::Clinician), patient: patient.map(pid), session: "s-1".into() }
}

/// A lab question naming no test: the double picks lab_trend and names another
/// patient in its arguments; the call still reads the session's patient, the lead
/// streams and is grounded, RDT's sentences follow it, and the audit log holds
/// question, tool call and answer for p-1 only.
#[tokio::test]
async fn the_patient_comes_from_the_session_not_the_model() {
    let s = setup().await;
    let model = Arc::new(ScriptedModel::new(|step, _| match step {
        // Not a definition: the usual choice follows.
        Step::Definition { .. } => json!({"term": "none"}).to_string(),
        Step::ChooseTool { offered } => {
            assert!(offered.len() <= 4 && offered.contains(&"lab_trend".into()) && offered.last().unwrap() == "none");
            json!({"tool": "lab_trend"}).to_string()
        }
        Step::Arguments { schema } => {
            assert!(schema["properties"].get("patient").is_none(), "{schema}");
            assert_eq!(schema["properties"]["test"]["type"], "string");
            json!({"patient": "p-2", "test": "crp"}).to_string()
        }
        Step::Answer { .. } => "The latest CRP is 12.4 mg/L on 2023-05-02, flagged high and rising.".into(),
    }));
    let a = assistant(&s, model.clone());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let answer = a.ask("What is the latest lab value?", &doctor(Some("p-1")), Some(tx)).await.unwrap();

    assert_eq!(answer.outcome, Outcome::Answered);
    assert_eq!(answer.grounding, Grounding::Grounded);
    let lead = "The latest CRP is 12.4 mg/L on 2023-05-02, flagged high and rising.";
    assert!(answer.text.starts_with(&format!("{lead}\n\nLatest CRP of p-1: 12.4 mg/L")), "{}", answer.text);
    assert_eq!(answer.tools.len(), 1);
    let call = &answer.tools[0];
    assert_eq!(call.tool, ToolName::LabTrend);
    assert_eq!(call.model_arguments["patient"], "p-2");
    assert_eq!(call.arguments, json!({"patient": "p-1", "test": "crp"}));
    assert_eq!(call.result["value"]["latest"]["value"], 12.4);
    let mut streamed = String::new();
    while let Ok(piece) = rx.try_recv() {
        streamed.push_str(&piece);
    }
    assert_eq!(streamed, answer.text);
    assert_eq!(answer.candidates[0].tool, ToolName::LabTrend);

    let kinds: Vec<EntryKind> = entries(&s.log, &answer.audit).await.iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, vec![EntryKind::Question, EntryKind::ToolCall, EntryKind::Answer]);
    for e in entries(&s.log, &answer.audit).await {
        assert_eq!(e.patients, vec!["p-1".to_owned()]);
        assert_eq!(e.session.as_ref().unwrap().0, "s-1");
        if let EntryBody::Answer { model: versions, answer: text, .. } = &e.body {
            assert_eq!(versions.engine.as_deref(), Some("scripted"));
            assert_eq!(versions.model_sha256.to_hex(), answer.model_sha256);
            assert_eq!(versions.prompt_version, answer.prompt_set_version);
            assert_eq!(text, &answer.text);
        }
        if let EntryBody::ToolCall { tool, .. } = &e.body {
            assert_eq!(tool.result_digest, call.result_digest);
        }
    }
    assert_eq!(*answer.audit.last().unwrap(), answer.answer_seq);
    assert_eq!(model.requests().len(), 3, "choice, arguments, answer");
}

/// A clinic that records CDAI (LOINC 75847-4) instead of DAS28: the question reaches
/// the disease-activity tool, whose result states the CDAI on its own scale, and the
/// answer is grounded in it.
#[tokio::test]
async fn a_cdai_question_is_answered_from_the_cdai_series() {
    let dir = tempfile::tempdir().unwrap();
    let birth = NaiveDate::from_ymd_opt(1960, 5, 1).unwrap();
    let p3 = TestChart::new("p-3", "female", birth)
        .lab(day(2023, 1, 10), "75847-4", 31.0, "{score}")
        .lab(day(2023, 5, 2), "75847-4", 24.5, "{score}");
    let store = store_at(&dir.path().join("journey.sqlite"), vec![p3]).await.unwrap();
    let log = AuditLog::open(&format!("sqlite://{}", dir.path().join("audit.sqlite").display())).await.unwrap();
    let s = Setup { _dir: dir, log, tools: ToolContext::new(store) };
    let model = Arc::new(ScriptedModel::new(|step, _| match step {
        Step::Definition { .. } => json!({"term": "none"}).to_string(),
        Step::ChooseTool { offered } => {
            assert!(offered.contains(&"disease_activity_history".into()), "{offered:?}");
            json!({"tool": "disease_activity_history"}).to_string()
        }
        Step::Arguments { .. } => json!({}).to_string(),
        Step::Answer { .. } => "Her latest CDAI is 24.5 on 2023-05-02, high activity.".into(),
    }));
    let answer = assistant(&s, model).ask("What is her latest CDAI?", &doctor(Some("p-3")), None).await.unwrap();
    assert_eq!(answer.outcome, Outcome::Answered, "{}", answer.text);
    assert_eq!(answer.grounding, Grounding::Grounded);
    assert_eq!(answer.tools[0].tool, ToolName::DiseaseActivityHistory);
    assert!(answer.text.contains("Latest CDAI of p-3: 24.5 on 2023-05-02 (high activity)"), "{}", answer.text);
}

async fn entries(log: &AuditLog, seqs: &[audit_log::Seq]) -> Vec<audit_log::AuditEntry> {
    let mut out = Vec::new();
    for s in seqs {
        out.push(log.entry(*s).await.unwrap().unwrap().parse().unwrap());
    }
    out
}

#[tokio::test]
async fn none_means_the_record_cannot_answer() {
    let s = setup().await;
    let model = Arc::new(ScriptedModel::new(|step, _| match step {
        Step::Definition { .. } => json!({"term": "none"}).to_string(),
        Step::ChooseTool { offered } => {
            assert!(!offered.contains(&"glossary".to_owned()), "the definition step said none: {offered:?}");
            json!({"tool": "none"}).to_string()
        }
        other => panic!("no further step after none: {other:?}"),
    }));
    let answer =
        assistant(&s, model.clone()).ask("What is the capital of France?", &doctor(Some("p-1")), None).await.unwrap();
    assert_eq!(answer.outcome, Outcome::CannotAnswer(CannotAnswer::NoToolApplies));
    assert_eq!(answer.text, CANNOT_ANSWER);
    assert!(answer.tools.is_empty() && answer.grounding == Grounding::NotNeeded);
    let kinds: Vec<EntryKind> = entries(&s.log, &answer.audit).await.iter().map(|e| e.kind()).collect();
    assert_eq!(kinds, vec![EntryKind::Question, EntryKind::Refusal]);
    // The reader finds nothing asked that a tool answers: the model is not asked.
    assert_eq!(model.requests().len(), 0);
}

/// An answer with a number no result holds is asked again; a second failure gives
/// RDT's template, whose numbers are the result's.
#[tokio::test]
async fn ungrounded_numbers_retry_then_fall_back_to_the_template() {
    for fixed_on_retry in [true, false] {
        let s = setup().await;
        let model = Arc::new(ScriptedModel::new(move |step, _| match step {
            // Not a definition: the usual choice follows.
            Step::Definition { .. } => json!({"term": "none"}).to_string(),
            Step::ChooseTool { .. } => json!({"tool": "lab_trend"}).to_string(),
            Step::Arguments { .. } => json!({"test": "crp"}).to_string(),
            Step::Answer { retry: false } => "The latest CRP is 99.1 mg/L.".into(),
            Step::Answer { retry: true } if fixed_on_retry => "The latest CRP is 12.4 mg/L, high and rising.".into(),
            Step::Answer { retry: true } => "The latest CRP is 99.3 mg/L.".into(),
        }));
        let answer = assistant(&s, model).ask("Latest CRP?", &doctor(Some("p-1")), None).await.unwrap();
        assert_eq!(answer.outcome, Outcome::Answered);
        assert_eq!(answer.drafts.len(), 2);
        if fixed_on_retry {
            assert_eq!(answer.grounding, Grounding::GroundedOnRetry { ungrounded: vec!["99.1".into()] });
            assert!(answer.text.starts_with("The latest CRP is 12.4 mg/L, high and rising.\n\n"), "{}", answer.text);
        } else {
            assert_eq!(answer.grounding, Grounding::Template { ungrounded: vec!["99.1".into()] });
            assert!(answer.text.contains("12.4 mg/L on 2023-05-02, flagged high"), "{}", answer.text);
        }
        let last = entries(&s.log, &answer.audit).await.pop().unwrap();
        assert!(matches!(last.body, EntryBody::Answer { answer: ref t, .. } if *t == answer.text));
    }
}

/// With follow-up calls allowed, a model that always wants another tool stops at
/// the bound.
#[tokio::test]
async fn tool_calls_are_bounded() {
    let s = setup().await;
    let model = Arc::new(ScriptedModel::new(|step, _| match step {
        // Not a definition: the usual choice follows.
        Step::Definition { .. } => json!({"term": "none"}).to_string(),
        Step::ChooseTool { .. } => json!({"tool": "lab_trend"}).to_string(),
        Step::Arguments { .. } => json!({"test": "crp"}).to_string(),
        Step::Answer { .. } => "CRP 12.4 mg/L.".into(),
    }));
    let config =
        AssistantConfig { follow_up: true, max_tool_calls: 2, decisive_margin: None, ..AssistantConfig::default() };
    let answer =
        assistant(&s, model.clone()).with_config(config).ask("CRP?", &doctor(Some("p-1")), None).await.unwrap();
    assert_eq!(answer.tools.len(), 2);
    let choices = model.requests().iter().filter(|r| matches!(Step::of(r), Step::ChooseTool { .. })).count();
    assert_eq!(choices, 2);
}

/// An auditor may not ask clinical questions: refused before retrieval or the model.
#[tokio::test]
async fn roles_without_clinical_tools_are_refused() {
    let s = setup().await;
    let model = Arc::new(ScriptedModel::new(|_, _| panic!("the model is not asked")));
    for role in [Role::Auditor, Role::Governance, Role::Admin] {
        let ctx = AskContext { principal: Principal::new("x", role), patient: Some(pid("p-1")), session: "s".into() };
        let answer = assistant(&s, model.clone()).ask("What is the latest CRP?", &ctx, None).await.unwrap();
        assert_eq!(answer.outcome, Outcome::OutsideRole { role });
        assert!(answer.tools.is_empty());
        let kinds: Vec<EntryKind> = entries(&s.log, &answer.audit).await.iter().map(|e| e.kind()).collect();
        assert_eq!(kinds, vec![EntryKind::Question, EntryKind::Refusal]);
    }
}

/// Without an open patient only the glossary can serve: the definition step picks the
/// term, and the answer is the glossary's vetted text as written (no model wording),
/// with no patient in the audit trail.
#[tokio::test]
async fn without_a_patient_a_definition_is_the_vetted_text() {
    let s = setup().await;
    let model = Arc::new(ScriptedModel::new(|step, _| match step {
        Step::Definition { terms } => {
            assert!(terms.contains(&"das28".to_owned()) && terms.contains(&"disease_activity_categories".to_owned()));
            json!({"term": "disease_activity_categories"}).to_string()
        }
        other => panic!("a definition needs no other step: {other:?}"),
    }));
    let answer = assistant(&s, model.clone()).ask("What DAS28 is remission?", &doctor(None), None).await.unwrap();
    assert_eq!((answer.outcome.clone(), answer.grounding.clone()), (Outcome::Answered, Grounding::Vetted));
    assert_eq!(answer.tools[0].tool, ToolName::Glossary);
    assert_eq!(answer.tools[0].arguments, json!({"term": "disease_activity_categories"}));
    let definition = answer.tools[0].result["value"]["definition"].as_str().unwrap();
    assert!(answer.text.contains(definition) && answer.text.contains("2.6"), "{}", answer.text);
    assert_eq!(model.requests().len(), 1);
    let question = entries(&s.log, &answer.audit).await.remove(0);
    assert!(question.patients.is_empty());
}

/// With a patient open, a definition question that names its term ("counts as" and
/// "remission") is decided by the question: the glossary's vetted text, no model step
/// at all, so no thread count, batch size or machine load can tip it elsewhere
/// (issue 23: the default model chose the patient summary on another machine).
#[tokio::test]
async fn a_definition_question_naming_its_term_is_decided_by_the_question() {
    let s = setup().await;
    let model = Arc::new(ScriptedModel::new(|step, _| panic!("the question decides, the model is not asked: {step:?}")));
    let question = "What DAS28 counts as remission?";
    let answer = assistant(&s, model.clone()).ask(question, &doctor(Some("p-1")), None).await.unwrap();
    assert_eq!((answer.outcome.clone(), answer.grounding.clone()), (Outcome::Answered, Grounding::Vetted));
    assert_eq!(answer.tools.iter().map(|c| (c.tool, c.chosen_by)).collect::<Vec<_>>(), vec![(ToolName::Glossary, ChosenBy::Question)]);
    assert_eq!(answer.tools[0].arguments, json!({"term": "disease_activity_categories"}));
    assert!(answer.text.contains("2.6"), "{}", answer.text);
    assert!(model.requests().is_empty());
}

/// With a patient open, a knowledge question that leaves its term open still goes to
/// the glossary first; when the definition step says "none" the usual choice follows
/// without the glossary.
#[tokio::test]
async fn a_definition_step_that_says_none_goes_on_to_the_record() {
    let s = setup().await;
    let model = Arc::new(ScriptedModel::new(|step, _| match step {
        Step::Definition { .. } => json!({"term": "none"}).to_string(),
        Step::ChooseTool { offered } => {
            assert!(!offered.contains(&"glossary".to_owned()), "{offered:?}");
            json!({"tool": "disease_activity_history"}).to_string()
        }
        Step::Arguments { .. } => json!({}).to_string(),
        Step::Answer { .. } => "The latest DAS28 is 4.1 (moderate).".into(),
    }));
    let question = "What DAS28 is remission?";
    let answer = assistant(&s, model.clone()).ask(question, &doctor(Some("p-1")), None).await.unwrap();
    assert!(answer.candidates.iter().any(|r| r.tool == ToolName::Glossary), "the premise: the glossary is a candidate");
    assert_eq!(answer.outcome, Outcome::Answered);
    assert_eq!(answer.tools.iter().map(|c| c.tool).collect::<Vec<_>>(), vec![ToolName::DiseaseActivityHistory]);
    assert!(matches!(Step::of(&model.requests()[0]), Step::Definition { .. }), "the definition step came first");
}

/// A clear lead in retrieval chooses the tool without asking the model; the call
/// says so; the question names the test, so the model is asked for the lead only.
#[tokio::test]
async fn a_clear_retrieval_lead_chooses_without_the_model() {
    let s = setup().await;
    let model = Arc::new(ScriptedModel::new(|step, _| match step {
        Step::Definition { .. } => json!({"term": "none"}).to_string(),
        Step::ChooseTool { .. } => panic!("retrieval decides a clear lead"),
        Step::Arguments { .. } => panic!("the question names the test: nothing is left for the model"),
        Step::Answer { .. } => "The latest CRP is 12.4 mg/L.".into(),
    }));
    let a = deciding_assistant(&s, model.clone());
    let answer = a.ask("What is the latest CRP?", &doctor(Some("p-1")), None).await;
    let answer = answer.unwrap();
    let lead = answer.candidates[0].similarity - answer.candidates[1].similarity;
    assert!(lead >= DECISIVE_MARGIN, "the premise: a clear lead ({:?})", answer.candidates);
    assert_eq!(answer.tools[0].tool, ToolName::LabTrend);
    assert!(matches!(answer.tools[0].chosen_by, ChosenBy::Retrieval { margin } if margin >= DECISIVE_MARGIN));
    assert_eq!(answer.outcome, Outcome::Answered);
    assert_eq!(answer.tools[0].arguments, json!({"patient": "p-1", "test": "crp"}));
    let steps: Vec<Step> = model.requests().iter().map(Step::of).collect();
    assert_eq!(steps, vec![Step::Answer { retry: false }]);
    // The lead's conversation is the system prompt and the answer prompt only.
    assert_eq!(model.requests()[0].messages.len(), 2);
}

/// The lab test the question names is the one read, and the model is not asked for
/// it (it wrote `esr` for "C-reactive protein" and `alt` for haemoglobin); the audit
/// keeps that the model filled nothing.
#[tokio::test]
async fn the_test_the_question_names_is_read_without_asking_the_model() {
    let s = setup().await;
    let model = Arc::new(ScriptedModel::new(|step, _| match step {
        Step::Definition { .. } => json!({"term": "none"}).to_string(),
        Step::ChooseTool { .. } => json!({"tool": "lab_trend"}).to_string(),
        Step::Arguments { .. } => panic!("the question names the test"),
        Step::Answer { .. } => "The latest CRP is 12.4 mg/L.".into(),
    }));
    let answer = assistant(&s, model).ask("Is the C-reactive protein high?", &doctor(Some("p-1")), None).await.unwrap();
    let call = &answer.tools[0];
    assert_eq!(call.model_arguments, json!({}));
    assert_eq!(call.arguments, json!({"patient": "p-1", "test": "crp"}));
    assert_eq!(call.result["value"]["latest"]["value"], 12.4);
}

/// A question pointing at the open patient's record ("Is the ALT rising?") is never
/// taken as a definition: the glossary is not offered and no definition step runs.
#[tokio::test]
async fn a_question_about_the_record_is_not_a_definition() {
    let s = setup().await;
    let model = Arc::new(ScriptedModel::new(|step, _| match step {
        Step::Definition { .. } => panic!("a record question gets no definition step"),
        Step::ChooseTool { offered } => {
            assert!(!offered.contains(&"glossary".to_owned()), "{offered:?}");
            json!({"tool": "disease_activity_history"}).to_string()
        }
        Step::Arguments { .. } => json!({}).to_string(),
        Step::Answer { .. } => "The latest DAS28 is 4.1 (moderate).".into(),
    }));
    let answer = assistant(&s, model.clone()).ask("Is the DAS28 in remission now?", &doctor(Some("p-1")), None).await;
    let answer = answer.unwrap();
    assert!(answer.candidates.iter().all(|r| r.tool != ToolName::Glossary), "{:?}", answer.candidates);
    assert_eq!(answer.tools.iter().map(|c| c.tool).collect::<Vec<_>>(), vec![ToolName::DiseaseActivityHistory]);
}

/// A test the record does not hold: the record cannot answer, without asking the
/// model to write anything.
#[tokio::test]
async fn nothing_found_is_said_plainly() {
    let s = setup().await;
    let model = Arc::new(ScriptedModel::new(|step, _| match step {
        // Not a definition: the usual choice follows.
        Step::Definition { .. } => json!({"term": "none"}).to_string(),
        Step::ChooseTool { .. } => json!({"tool": "lab_trend"}).to_string(),
        Step::Arguments { .. } => json!({"test": "alt"}).to_string(),
        Step::Answer { .. } => panic!("no answer is generated when nothing was found"),
    }));
    let answer = assistant(&s, model).ask("What is the latest ALT?", &doctor(Some("p-1")), None).await.unwrap();
    assert_eq!(answer.outcome, Outcome::CannotAnswer(CannotAnswer::NothingFound { tool: ToolName::LabTrend }));
    assert!(answer.text.starts_with(CANNOT_ANSWER) && answer.text.contains("no"), "{}", answer.text);
}

/// Arguments the tool rejects are shown to the model once; a fix runs.
#[tokio::test]
async fn bad_arguments_get_one_more_try() {
    let s = setup().await;
    let tries = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = tries.clone();
    let model = Arc::new(ScriptedModel::new(move |step, _| match step {
        // Not a definition: the usual choice follows.
        Step::Definition { .. } => json!({"term": "none"}).to_string(),
        Step::ChooseTool { .. } => json!({"tool": "lab_trend"}).to_string(),
        Step::Arguments { .. } => {
            if counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                json!({"test": "cholesterol"}).to_string()
            } else {
                json!({"test": "crp"}).to_string()
            }
        }
        Step::Answer { .. } => "CRP 12.4 mg/L.".into(),
    }));
    // The question names no test, so the fix must come from the model.
    let answer = assistant(&s, model).ask("Latest lab value?", &doctor(Some("p-1")), None).await.unwrap();
    assert_eq!(answer.outcome, Outcome::Answered);
    assert_eq!(tries.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// A lead saying the record does not show what the facts speak to (the question's
/// "CRP" is in them) is dropped and the facts are the answer, whoever chose the tool;
/// when the facts share no telling word with the question (a blood type against a
/// CRP trend), the record cannot answer.
#[tokio::test]
async fn a_refusal_despite_found_facts_gives_the_facts() {
    let s = setup().await;
    let script = || {
        Arc::new(ScriptedModel::new(|step, _| match step {
            // Not a definition: the usual choice follows.
            Step::Definition { .. } => json!({"term": "none"}).to_string(),
            Step::ChooseTool { .. } => json!({"tool": "lab_trend"}).to_string(),
            Step::Arguments { .. } => json!({"test": "crp"}).to_string(),
            Step::Answer { .. } => "The record does not show this.".into(),
        }))
    };
    let question = "What is the latest CRP?";
    let answer = deciding_assistant(&s, script()).ask(question, &doctor(Some("p-1")), None).await.unwrap();
    assert!(matches!(answer.tools[0].chosen_by, ChosenBy::Retrieval { .. }), "the premise: a clear lead");
    assert_eq!(answer.outcome, Outcome::Answered);
    assert!(matches!(answer.grounding, Grounding::Template { .. }));
    assert!(answer.text.contains("12.4 mg/L"), "{}", answer.text);
    let answer = assistant(&s, script()).ask(question, &doctor(Some("p-1")), None).await.unwrap();
    assert_eq!((answer.tools[0].chosen_by, answer.outcome), (ChosenBy::Model, Outcome::Answered));
    // The tool's own words in the question count as the facts speaking to it.
    let question = "Is her C-reactive protein up?";
    let answer = assistant(&s, script()).ask(question, &doctor(Some("p-1")), None).await.unwrap();
    assert_eq!(answer.outcome, Outcome::Answered, "{}", answer.text);

    // A datum the reader knows no concept of is refused before any tool or model.
    let answer = assistant(&s, script()).ask("What is her blood type?", &doctor(Some("p-1")), None).await.unwrap();
    assert!(answer.tools.is_empty(), "{:?}", answer.tools);
    assert_eq!(answer.outcome, Outcome::CannotAnswer(CannotAnswer::NoToolApplies));
    assert_eq!(answer.text, CANNOT_ANSWER);
}

/// A lead stating a flag the facts do not ("raised" beside "flagged high" is fine;
/// "normal" is not) or citing nothing of them is dropped: RDT's sentences alone.
#[tokio::test]
async fn a_lead_contradicting_the_facts_is_dropped() {
    let s = setup().await;
    for (lead, kept) in [
        ("Yes, the CRP is raised at 12.4 mg/L.", true),
        ("No, the CRP is normal.", false),
        ("The CRP is not raised.", false),
        ("The patient feels well.", false),
    ] {
        let model = Arc::new(ScriptedModel::new(move |step, _| match step {
            Step::Answer { .. } => lead.to_owned(),
            Step::Definition { .. } => json!({"term": "none"}).to_string(),
            other => panic!("retrieval and the question decide the rest: {other:?}"),
        }));
        let answer =
            deciding_assistant(&s, model).ask("Is the CRP raised?", &doctor(Some("p-1")), None).await.unwrap();
        assert_eq!(answer.outcome, Outcome::Answered, "{lead}");
        assert_eq!(answer.text.starts_with(lead), kept, "{lead}: {}", answer.text);
        assert!(answer.text.contains("12.4 mg/L on 2023-05-02, flagged high"), "{}", answer.text);
    }
}

/// A record question with no patient open: the record cannot answer, and the model
/// is never asked (the relevance floor is tested with real MiniLM in `retrieval.rs`).
#[tokio::test]
async fn record_questions_without_a_patient_are_refused_before_the_model() {
    let s = setup().await;
    let model = Arc::new(ScriptedModel::new(|step, _| panic!("the model is not asked: {step:?}")));
    let a = deciding_assistant(&s, model.clone());
    let no_patient = a.ask("What is the latest CRP?", &doctor(None), None).await.unwrap();
    assert_eq!(no_patient.outcome, Outcome::CannotAnswer(CannotAnswer::NoToolApplies));
    assert!(no_patient.text.contains("No patient is open"), "{}", no_patient.text);
    assert!(model.requests().is_empty());
}

/// The model fills only required fields the question does not name: never an
/// optional index date, look-back window or cohort size (the tool's default holds,
/// or what the question names), and nothing at all when the question names the test.
#[test]
fn only_required_unnamed_fields_are_asked_of_the_model() {
    let specs = tools::specs();
    let none = serde_json::Map::new();
    let similar = specs.iter().find(|s| s.name == ToolName::SimilarPatients).unwrap();
    let properties = &similar.input_schema["properties"];
    assert!(properties.get("at").is_some() && properties.get("k").is_some(), "the premise: optional date and size");
    assert_eq!(assistant::session::argument_schema(similar, &none), None);
    assert_eq!((similar.arguments_named_in)("How did the 30 most similar patients do?")["k"], 30);
    assert!((similar.arguments_named_in)("How did similar patients do?").is_empty(), "the default size holds");
    let lab = specs.iter().find(|s| s.name == ToolName::LabTrend).unwrap();
    let schema = assistant::session::argument_schema(lab, &none).unwrap();
    assert_eq!(schema["required"], json!(["test"]));
    assert!(schema["properties"].get("window_days").is_none(), "windows come from the question: {schema}");
    assert_eq!((lab.arguments_named_in)("CRP over the last two years?")["window_days"], 730);
    let named = (lab.arguments_named_in)("What is the latest haemoglobin?");
    assert_eq!(assistant::session::argument_schema(lab, &named), None, "{named:?}");
}

/// A model that fails every request, as an engine does when a prompt no longer fits.
struct FailingModel(String);

#[async_trait::async_trait]
impl assistant::ChatModel for FailingModel {
    fn engine(&self) -> assistant::EngineKind {
        assistant::EngineKind::Scripted
    }
    fn model_sha256(&self) -> &str {
        &self.0
    }
    async fn complete(
        &self,
        _request: &assistant::ChatRequest,
        _sink: assistant::TokenSink,
    ) -> Result<assistant::Completion, assistant::ChatError> {
        Err(assistant::ChatError::ContextFull { tokens: 5000, context: 4096 })
    }
}

/// When no answer can be given after the question is recorded, the trail still closes
/// it: a refusal entry says why, and the error reaches the caller.
#[tokio::test]
async fn a_failed_answer_leaves_a_closing_entry() {
    let s = setup().await;
    let model = Arc::new(FailingModel(audit_log::Digest::of(b"failing").to_hex()));
    let config = AssistantConfig { decisive_margin: None, ..AssistantConfig::default() };
    let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
    let a = Assistant::new(model, s.tools.clone(), s.log.clone(), retriever).with_config(config);
    let err = a.ask("What is the latest CRP?", &doctor(Some("p-1")), None).await.unwrap_err();
    assert!(err.to_string().contains("more than the context"), "{err}");
    let size = s.log.size().await.unwrap();
    let all: Vec<audit_log::AuditEntry> =
        s.log.range(0, size).await.unwrap().iter().map(|e| e.parse().unwrap()).collect();
    assert!(matches!(all.first().unwrap().body, EntryBody::Question { .. }));
    match &all.last().unwrap().body {
        EntryBody::Refusal { reason } => assert!(reason.starts_with("no answer could be given"), "{reason}"),
        other => panic!("the question is left open: {other:?}"),
    }
}

/// A question that names another patient (one the store holds, or any id written
/// after "patient") is answered by saying so, never with the open patient's values;
/// the model is not asked, the refusal is audited, and naming the open patient
/// itself is an ordinary question.
#[tokio::test]
async fn a_question_about_another_patient_says_so() {
    let s = setup().await;
    let model = Arc::new(ScriptedModel::new(|step, _| panic!("the model is not asked: {step:?}")));
    let a = deciding_assistant(&s, model.clone());
    for (question, named) in [
        ("What is the latest CRP of p-2?", "p-2"),
        ("Is the CRP of patient p-99 raised?", "p-99"),
    ] {
        let answer = a.ask(question, &doctor(Some("p-1")), None).await.unwrap();
        assert_eq!(answer.outcome, Outcome::CannotAnswer(CannotAnswer::AnotherPatient { named: named.into() }));
        assert!(answer.text.contains(&format!("names patient {named}")) && answer.text.contains("about patient p-1"), "{}", answer.text);
        assert!(!answer.text.contains("987.6") && !answer.text.contains("12.4"), "no value is given: {}", answer.text);
        // Scored as the evaluation scores it: no tool ran, and the ids it names are
        // names, not numbers no tool returned.
        let sources = Sources::new(answer.tools.iter().map(|c| &c.result), question).with_patient(Some("p-1"));
        assert!(check(&answer.text, &sources).is_grounded(), "{:?}", check(&answer.text, &sources).ungrounded);
    }
    let none_open = a.ask("What is the latest CRP of p-2?", &doctor(None), None).await.unwrap();
    assert!(none_open.text.contains("--patient p-2"), "{}", none_open.text);
    assert!(model.requests().is_empty());
    let refusals = s.log.entries_of_kinds(&[audit_log::EntryKind::Refusal]).await.unwrap();
    assert_eq!(refusals.len(), 3);
    assert!(refusals[0].text.contains("another_patient"), "{}", refusals[0].text);

    // The open patient named by id, or a number that is no patient: asked as usual.
    let model = Arc::new(ScriptedModel::new(|step, _| match step {
        Step::Answer { .. } => "The latest CRP is 12.4 mg/L.".to_owned(),
        Step::Definition { .. } => json!({"term": "none"}).to_string(),
        other => panic!("retrieval and the question decide the rest: {other:?}"),
    }));
    let answer = deciding_assistant(&s, model).ask("Is the CRP of p-1 above 10?", &doctor(Some("p-1")), None).await.unwrap();
    assert_eq!(answer.outcome, Outcome::Answered, "{}", answer.text);
}
