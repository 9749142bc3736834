//! One test per reading kind (issue 21): a question whose fact the record holds is
//! never answered "The record can't answer that." — existence (a class the record holds
//! under an ingredient, asked by class or brand, and a class it does not hold), count,
//! latest value, trend over the last visits and over a window, cohort outcome and
//! treatment option — and a question no tool answers still is.
//!
//! The chat-model double is adversarial: it chooses "none" for every tool choice and
//! every glossary term, and its lead says the record does not show the answer. So what
//! answers here is the reading (`tools::reading`) routing to the tool that states the
//! fact, and RDT's own sentences of the result; nothing depends on a model's luck.
//! Retrieval runs on keyword vectors; questions are worded unlike any tool example.

mod cohort_install;

use std::sync::Arc;

use assistant::{AskContext, Assistant, CannotAnswer, Grounding, Outcome, ToolRetriever, CANNOT_ANSWER};
use assistant_eval::testing::{day, pid, store_at, KeywordEmbedder, ScriptedModel, Step, TestChart};
use audit_log::{AuditLog, EntryBody, Principal, Role};
use chrono::NaiveDate;
use tools::reading::Asks;
use tools::{ToolContext, ToolName};

use cohort_install::cohort_install;

/// The assistant over `tools` with a model that declines everything
/// (`ScriptedModel::declining`).
fn assistant_over(tools: ToolContext, log: AuditLog) -> Assistant {
    let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
    Assistant::new(Arc::new(ScriptedModel::declining()), tools, log, retriever)
}

fn doctor(patient: &str) -> AskContext {
    AskContext { principal: Principal::new("dr-r", Role::Clinician), patient: Some(pid(patient)), session: "s-r".into() }
}

/// p-9: methotrexate since 2020, tocilizumab since 2022-03-01 (a biologic, no TNF
/// inhibitor); CRP 2.0, 20.0, 15.0, 10.0 (falling over the last three); DAS28 5.2,
/// 4.8, 3.4, 2.9, 2.3 (falling over the last six months).
async fn record() -> (tempfile::TempDir, Assistant) {
    let (dir, store, log) = record_store().await;
    (dir, assistant_over(ToolContext::new(store), log))
}

/// [`record`]'s store and an audit log, for a test that brings its own model.
async fn record_store() -> (tempfile::TempDir, journey::JourneyStore, AuditLog) {
    let dir = tempfile::tempdir().unwrap();
    let chart = TestChart::new("p-9", "female", NaiveDate::from_ymd_opt(1968, 2, 3).unwrap())
        .course("6851", "methotrexate", day(2020, 1, 6), None)
        .course("612865", "tocilizumab", day(2022, 3, 1), None)
        .crp(day(2022, 6, 1), 2.0)
        .crp(day(2023, 1, 10), 20.0)
        .crp(day(2023, 3, 10), 15.0)
        .crp(day(2023, 5, 2), 10.0)
        .das28(day(2022, 1, 10), 5.2)
        .das28(day(2022, 7, 11), 4.8)
        .das28(day(2022, 12, 12), 3.4)
        .das28(day(2023, 3, 10), 2.9)
        .das28(day(2023, 5, 2), 2.3);
    let store = store_at(&dir.path().join("journey.sqlite"), vec![chart]).await.unwrap();
    let log = AuditLog::open(&format!("sqlite://{}", dir.path().join("audit.sqlite").display())).await.unwrap();
    (dir, store, log)
}

/// Asks `question` about p-9 and checks it was answered by `tool` with a text holding
/// `states`.
async fn check(assistant: &Assistant, question: &str, tool: ToolName, states: &str) -> assistant::Answer {
    let answer = assistant.ask(question, &doctor("p-9"), None).await.unwrap();
    assert_eq!(answer.outcome, Outcome::Answered, "{question}: {}", answer.text);
    assert!(!answer.text.starts_with(CANNOT_ANSWER), "{question}: {}", answer.text);
    assert_eq!(answer.tools.first().map(|c| c.tool), Some(tool), "{question}: {:?}", answer.reading);
    assert!(answer.text.contains(states), "{question}: {}", answer.text);
    answer
}

/// Existence: a biologic the record holds as tocilizumab, asked by group and by brand;
/// a class it does not hold is said absent with what is current, not refused. The
/// question's audit entry records its reading.
#[tokio::test]
async fn existence_of_a_drug_class_is_stated_not_refused() {
    let (_dir, a) = record().await;
    let answer = check(
        &a,
        "Was she ever put on any biological agent?",
        ToolName::MedicationHistory,
        "Ever started a biologic: yes, tocilizumab from 2022-03-01",
    )
    .await;
    let entry = a.log().entry(answer.audit[0]).await.unwrap().unwrap().parse().unwrap();
    let EntryBody::Question { reading: Some(reading), .. } = &entry.body else { panic!("{:?}", entry.body) };
    assert_eq!((reading["asks"].as_str(), reading["concept"]["group"].as_str()), (Some("existence"), Some("biologic")));

    check(&a, "Has Actemra been given to her at some point?", ToolName::MedicationHistory, "Ever started tocilizumab: yes")
        .await;
    check(
        &a,
        "Did she receive an anti-TNF at any stage?",
        ToolName::MedicationHistory,
        "Ever started a TNF inhibitor: no, never on record; current: methotrexate, tocilizumab.",
    )
    .await;
}

/// Count: how many values or readings the record holds is stated, not the summary.
#[tokio::test]
async fn counts_are_stated() {
    let (_dir, a) = record().await;
    check(&a, "How many CRP results does her file contain?", ToolName::LabTrend, "The record holds 4 CRP values").await;
    check(&a, "Number of DAS28 scores documented for her?", ToolName::DiseaseActivityHistory, "the record holds 5 DAS28 readings")
        .await;
}

/// Latest: the newest value with its date.
#[tokio::test]
async fn the_latest_value_is_stated() {
    let (_dir, a) = record().await;
    check(&a, "Her newest C-reactive protein?", ToolName::LabTrend, "Latest CRP of p-9: 10.0 mg/L on 2023-05-02").await;
}

/// Trend over the last visits: "the last few" is the last three values, not a year;
/// over a window: the days named.
#[tokio::test]
async fn trends_over_visits_and_over_a_window() {
    let (_dir, a) = record().await;
    let answer = check(
        &a,
        "Across her last few appointments, where has the CRP been heading?",
        ToolName::LabTrend,
        "Trend over the last 3 values (2023-01-10 to 2023-05-02): falling",
    )
    .await;
    assert_eq!(answer.tools[0].arguments["last_n"], 3);
    let answer = check(
        &a,
        "How did her DAS28 move during the past 6 months?",
        ToolName::DiseaseActivityHistory,
        "Trend over the last 180 days: falling",
    )
    .await;
    assert_eq!(answer.tools[0].arguments["window_days"], 180);
}

/// A question no tool answers is still refused, in the one sentence.
#[tokio::test]
async fn an_unanswerable_question_is_still_refused() {
    let (_dir, a) = record().await;
    let answer = a.ask("What is her blood group?", &doctor("p-9"), None).await.unwrap();
    assert!(matches!(answer.outcome, Outcome::CannotAnswer(CannotAnswer::NoToolApplies)), "{:?}", answer.outcome);
    assert!(answer.text.starts_with(CANNOT_ANSWER), "{}", answer.text);
    assert!(answer.tools.is_empty());
}

/// Cohort outcome and treatment option, worded with none of the cohort tools' required
/// words ("people with a profile like hers"; "which therapy should come next"): the
/// cohort tool and the options tool answer, over a small in silico cohort.
#[tokio::test]
async fn cohort_outcomes_and_treatment_options_are_answered() {
    let install = cohort_install(60, 11).await;
    let a = assistant_over(install.tools.clone(), install.log.clone());
    let ctx = AskContext {
        principal: Principal::new("dr-r", Role::Clinician),
        patient: Some(install.patient.clone()),
        session: "s-cohort".into(),
    };
    for (question, tool) in [
        ("How did people with a profile like hers fare afterwards?", ToolName::SimilarPatients),
        ("Which therapy should come next for her?", ToolName::CompareTreatments),
    ] {
        let answer = a.ask(question, &ctx, None).await.unwrap();
        assert_eq!(answer.outcome, Outcome::Answered, "{question}: {}", answer.text);
        assert_eq!(answer.tools.first().map(|c| c.tool), Some(tool), "{question}: {:?}", answer.reading);
        assert!(!answer.text.starts_with(CANNOT_ANSWER), "{question}: {}", answer.text);
    }
}

/// The text of the last answer prompt the model was sent.
fn last_answer_prompt(model: &ScriptedModel) -> String {
    let requests = model.requests();
    let answer = requests.iter().rev().find(|r| matches!(Step::of(r), Step::Answer { .. })).expect("a lead was asked for");
    // The prompt posing the question (a restate after a decline follows it).
    answer.messages.iter().rev().find(|m| m.content.starts_with("Question:")).unwrap().content.clone()
}

/// When a tool that answers the question's reading ran, the lead is asked for with
/// `answer_covered`: the facts hold the answer, no "does not show" way out, and the
/// lead states the fact (a flag, a trend) rather than a bare yes or no; a yes/no
/// question about a flag with `answer_verdict`, giving the answer read from the
/// facts. When the model chose the tool for a question
/// RDT could not read, the lead is asked for with `answer`, which keeps the way out.
#[tokio::test]
async fn a_lead_over_a_covering_tool_is_asked_for_without_a_way_out() {
    let (_dir, store, log) = record_store().await;
    let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();

    let declining = Arc::new(ScriptedModel::declining());
    let a = Assistant::new(declining.clone(), ToolContext::new(store.clone()), log.clone(), retriever);
    let answer = a.ask("How has her CRP moved over the last year?", &doctor("p-9"), None).await.unwrap();
    assert_eq!(answer.tools.first().map(|c| c.tool), Some(ToolName::LabTrend), "{:?}", answer.reading);
    let prompt = last_answer_prompt(&declining);
    assert!(prompt.contains("they hold the answer"), "{prompt}");
    assert!(prompt.contains("Do not answer with yes or no alone"), "{prompt}");
    assert!(!prompt.contains("does not show"), "{prompt}");

    // A yes/no question about a flag: the answer RDT read from the facts, to word.
    let answer = a.ask("Is her CRP high?", &doctor("p-9"), None).await.unwrap();
    assert_eq!(answer.tools.first().map(|c| c.tool), Some(ToolName::LabTrend), "{:?}", answer.reading);
    let prompt = last_answer_prompt(&declining);
    assert!(prompt.contains("the answer is: Yes, high."), "{prompt}");
    assert!(!prompt.contains("does not show"), "{prompt}");

    // A question RDT reads as nothing in particular; the model chooses the summary.
    let choosing = Arc::new(ScriptedModel::new(|step, _| match step {
        Step::ChooseTool { offered } if offered.iter().any(|t| t == "patient_summary") => {
            serde_json::json!({"tool": "patient_summary"}).to_string()
        }
        Step::ChooseTool { .. } => serde_json::json!({"tool": "none"}).to_string(),
        Step::Definition { .. } => serde_json::json!({"term": "none"}).to_string(),
        Step::Arguments { .. } => serde_json::json!({}).to_string(),
        Step::Answer { .. } => "She has rheumatoid arthritis.".into(),
    }));
    let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
    let a = Assistant::new(choosing.clone(), ToolContext::new(store), log, retriever);
    let answer = a.ask("Give me your thoughts on her.", &doctor("p-9"), None).await.unwrap();
    assert_eq!(answer.tools.first().map(|c| c.tool), Some(ToolName::PatientSummary), "{:?}", answer.reading);
    let prompt = last_answer_prompt(&choosing);
    assert!(prompt.contains("If these facts do not answer the question"), "{prompt}");
    assert!(!prompt.contains("they hold the answer"), "{prompt}");
}

/// A cohort answer's lead is written from the outcome asked: asked about flares, the
/// lead prompt holds the flare figure and not the other outcomes'; the answer still
/// states every outcome (RDT's sentences).
#[tokio::test]
async fn a_cohort_lead_is_written_from_the_outcome_asked() {
    let install = cohort_install(60, 11).await;
    let model = Arc::new(ScriptedModel::declining());
    let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
    let a = Assistant::new(model.clone(), install.tools.clone(), install.log.clone(), retriever);
    let ctx = AskContext {
        principal: Principal::new("dr-r", Role::Clinician),
        patient: Some(install.patient.clone()),
        session: "s-outcome".into(),
    };
    let answer = a.ask("How often do comparable patients flare within 6 months?", &ctx, None).await.unwrap();
    assert_eq!(answer.tools.first().map(|c| c.tool), Some(ToolName::SimilarPatients), "{:?}", answer.reading);
    let prompt = last_answer_prompt(&model);
    assert!(prompt.contains("flare within 6 months"), "{prompt}");
    assert!(!prompt.contains("MTX response"), "{prompt}");
    assert!(answer.text.contains("MTX response"), "{}", answer.text);
}

/// A lead that declines over facts a covering tool stated is asked for once more,
/// told the facts answer it; the second lead, kept, leads the answer (grounded on
/// retry). A comparison is answered from the typed change: both values and the
/// direction, in RDT's sentence.
#[tokio::test]
async fn a_declining_lead_over_covered_facts_is_asked_once_more() {
    let (_dir, store, log) = record_store().await;
    let model = Arc::new(ScriptedModel::new(|step, request| match step {
        Step::Definition { .. } => serde_json::json!({"term": "none"}).to_string(),
        Step::ChooseTool { .. } => serde_json::json!({"tool": "lab_trend"}).to_string(),
        Step::Arguments { .. } => serde_json::json!({"test": "crp"}).to_string(),
        Step::Answer { .. } if request.messages.last().is_some_and(|m| m.content.starts_with("Question:")) => {
            "The record does not show this.".into()
        }
        Step::Answer { .. } => "Her CRP is lower, 10.0 mg/L on 2023-05-02 against 15.0 mg/L before.".into(),
    }));
    let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
    let a = Assistant::new(model.clone(), ToolContext::new(store), log, retriever);
    let answer = a.ask("Is her CRP lower than the previous result?", &doctor("p-9"), None).await.unwrap();
    assert_eq!(answer.reading.asks, Asks::Comparison);
    assert_eq!(answer.outcome, Outcome::Answered, "{}", answer.text);
    assert!(matches!(answer.grounding, Grounding::GroundedOnRetry { .. }), "{:?}", answer.grounding);
    assert_eq!(answer.drafts.len(), 2);
    assert!(answer.text.starts_with("Her CRP is lower"), "{}", answer.text);
    let change = "Against the value before it (15.0 mg/L on 2023-03-10), the latest (10.0 mg/L on 2023-05-02) is lower (better), by 5.0 mg/L.";
    assert!(answer.text.contains(change), "{}", answer.text);
}

/// A lead that words the verdict as given ("No, rising, not falling.") is kept: the
/// answer read from the facts, in the model's sentence.
#[tokio::test]
async fn a_lead_wording_the_verdict_is_kept() {
    let (_dir, store, log) = record_store().await;
    for (question, lead) in [
        ("Over the last year has her CRP dropped?", "No, her CRP has been rising over the last 365 days."),
        ("Over the last year has her CRP dropped?", "No, rising, not falling."),
        ("Has her DAS28 been improving over the past year?", "Yes, falling."),
    ] {
        let model = Arc::new(ScriptedModel::new(move |step, _| match step {
            Step::Definition { .. } => serde_json::json!({"term": "none"}).to_string(),
            Step::ChooseTool { offered } => serde_json::json!({"tool": offered[0]}).to_string(),
            Step::Arguments { .. } => "{}".into(),
            Step::Answer { .. } => lead.into(),
        }));
        let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
        let a = Assistant::new(model.clone(), ToolContext::new(store.clone()), log.clone(), retriever);
        let answer = a.ask(question, &doctor("p-9"), None).await.unwrap();
        assert!(matches!(answer.grounding, Grounding::Grounded), "{question}: {lead}: {:?} {}", answer.grounding, answer.text);
    }
}
