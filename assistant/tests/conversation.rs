//! Follow-up questions (issue 21) through `Conversation::ask`: a follow-up naming a
//! concept ("And the ESR?"), a window ("Over the last 3 visits?") or a drug group
//! ("What about a TNF inhibitor?", after a drug question and after a treatment-option
//! question over an in silico cohort) is answered as the turn before with that part
//! replaced; a turn about another patient carries nothing over; the history is
//! bounded; and each question's audit entry links the one before.
//!
//! The chat-model double declines everything ("none" for tools and terms, a lead
//! saying the record does not show it), so what answers is the resolved reading and
//! RDT's own sentences of the tool that states it: nothing rests on a model's luck.
//! Retrieval runs on keyword vectors.

mod cohort_install;

use std::sync::Arc;

use assistant::{AskContext, Assistant, Conversation, Outcome, ToolRetriever};
use assistant_eval::testing::{day, pid, store_at, KeywordEmbedder, ScriptedModel, TestChart};
use audit_log::{AuditLog, EntryBody, Principal, Role, Seq, StoredEntry};
use chrono::NaiveDate;
use tools::reading::{Asks, DrugGroup, Reading, Window};
use tools::drugs::DrugClass;
use tools::{LabTest, ToolContext, ToolName};

/// The assistant over `tools` with a model that declines everything, which records
/// what it was asked.
fn assistant_over(tools: ToolContext, log: AuditLog) -> (Assistant, Arc<ScriptedModel>) {
    let model = Arc::new(ScriptedModel::declining());
    let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
    (Assistant::new(model.clone(), tools, log, retriever), model)
}

fn doctor(patient: &str) -> AskContext {
    AskContext { principal: Principal::new("dr-c", Role::Clinician), patient: Some(pid(patient)), session: "s-c".into() }
}

/// p-1: methotrexate since 2020 and tocilizumab since 2022-03-01; CRP 2.0, 20.0,
/// 15.0, 10.0 and ESR 12, 40, 31, 22 on the same four days. p-2: CRP 3.0 and ESR 8.
async fn record() -> (tempfile::TempDir, Assistant, Arc<ScriptedModel>) {
    let dir = tempfile::tempdir().unwrap();
    let mut p1 = TestChart::new("p-1", "female", NaiveDate::from_ymd_opt(1968, 2, 3).unwrap())
        .course("6851", "methotrexate", day(2020, 1, 6), None)
        .course("612865", "tocilizumab", day(2022, 3, 1), None);
    let days = [day(2022, 6, 1), day(2023, 1, 10), day(2023, 3, 10), day(2023, 5, 2)];
    for (d, (crp, esr)) in days.into_iter().zip([(2.0, 12.0), (20.0, 40.0), (15.0, 31.0), (10.0, 22.0)]) {
        p1 = p1.crp(d, crp).lab(d, "4537-7", esr, "mm/h");
    }
    let p2 = TestChart::new("p-2", "male", NaiveDate::from_ymd_opt(1971, 9, 9).unwrap())
        .crp(day(2023, 4, 4), 3.0)
        .lab(day(2023, 4, 4), "4537-7", 8.0, "mm/h");
    let store = store_at(&dir.path().join("journey.sqlite"), vec![p1, p2]).await.unwrap();
    let log = AuditLog::open(&format!("sqlite://{}", dir.path().join("audit.sqlite").display())).await.unwrap();
    let (assistant, model) = assistant_over(ToolContext::new(store), log);
    (dir, assistant, model)
}

/// Asks `question` as the conversation's next turn about `patient`; it must be
/// answered by `tool` with a text holding `states`.
async fn turn(
    c: &mut Conversation,
    a: &Assistant,
    patient: &str,
    question: &str,
    tool: ToolName,
    states: &str,
) -> assistant::Answer {
    let answer = c.ask(a, question, &doctor(patient), None).await.unwrap();
    assert_eq!(answer.outcome, Outcome::Answered, "{question}: {}", answer.text);
    assert_eq!(answer.tools.first().map(|t| t.tool), Some(tool), "{question}: {:?}", answer.reading);
    assert!(answer.text.contains(states), "{question}: {}", answer.text);
    answer
}

/// "And the ESR?" after the latest CRP: the latest ESR, from the lab tool with the
/// test the follow-up names; the model is shown what the follow-up was read as.
#[tokio::test]
async fn a_follow_up_naming_a_concept_replaces_it() {
    let (_dir, a, model) = record().await;
    let mut c = Conversation::new();
    turn(&mut c, &a, "p-1", "What is the latest CRP?", ToolName::LabTrend, "Latest CRP of p-1: 10.0 mg/L").await;
    let answer = turn(&mut c, &a, "p-1", "And the ESR?", ToolName::LabTrend, "Latest ESR of p-1: 22").await;
    assert_eq!((answer.reading.asks, answer.reading.lab_test()), (Asks::Value, Some(LabTest::Esr)));
    assert_eq!(answer.tools[0].arguments["test"], "esr");
    assert_eq!(answer.read_as.as_deref(), Some("the latest ESR"));
    let prompts: Vec<String> =
        model.requests().iter().filter_map(|r| r.messages.last().map(|m| m.content.clone())).collect();
    assert!(
        prompts.iter().any(|p| p.contains("Question: And the ESR? (read with the question before as: the latest ESR)")),
        "{prompts:#?}"
    );
}

/// "Over the last 3 visits?" after the latest CRP: the CRP's trend over its last
/// three values, not a year and not another measure.
#[tokio::test]
async fn a_follow_up_naming_a_window_replaces_it() {
    let (_dir, a, _model) = record().await;
    let mut c = Conversation::new();
    turn(&mut c, &a, "p-1", "What is the latest CRP?", ToolName::LabTrend, "Latest CRP of p-1").await;
    let answer =
        turn(&mut c, &a, "p-1", "Over the last 3 visits?", ToolName::LabTrend, "Trend over the last 3 values").await;
    assert_eq!(answer.reading.window, Some(Window::LastVisits(3)));
    let arguments = &answer.tools[0].arguments;
    assert_eq!((arguments["test"].as_str(), arguments["last_n"].as_u64()), (Some("crp"), Some(3)));
    assert!(answer.text.contains("falling"), "15.0 to 10.0 over the last three: {}", answer.text);
}

/// "What about a TNF inhibitor?" after "Was she ever on a biologic?": the same
/// existence question of the group the follow-up names, stated from the record (a
/// biologic she had, tocilizumab, is no TNF inhibitor).
#[tokio::test]
async fn a_follow_up_naming_a_drug_group_replaces_it() {
    let (_dir, a, _model) = record().await;
    let mut c = Conversation::new();
    let states = "Ever started a biologic: yes, tocilizumab";
    turn(&mut c, &a, "p-1", "Was she ever on a biologic?", ToolName::MedicationHistory, states).await;
    let states = "Ever started a TNF inhibitor: no, never on record; current: methotrexate, tocilizumab.";
    let answer = turn(&mut c, &a, "p-1", "What about a TNF inhibitor?", ToolName::MedicationHistory, states).await;
    let tnf = DrugGroup::Class(DrugClass::TnfInhibitor);
    assert_eq!((answer.reading.asks, answer.reading.drug_group()), (Asks::Existence, Some(&tnf)));
}

/// Over an in silico cohort: "What about on a TNF inhibitor?" after a treatment
/// option question is that question with the drug group changed, answered from the
/// treatment options (the one tool that answers it), not refused.
#[tokio::test]
async fn a_follow_up_changes_the_drug_group_of_a_treatment_option_question() {
    let install = cohort_install::cohort_install(60, 11).await;
    let (a, model) = assistant_over(install.tools.clone(), install.log.clone());
    let ctx = AskContext {
        principal: Principal::new("dr-c", Role::Clinician),
        patient: Some(install.patient.clone()),
        session: "s-cohort".into(),
    };
    let mut c = Conversation::new();
    let first = c.ask(&a, "Should we switch her to a JAK inhibitor?", &ctx, None).await.unwrap();
    assert_eq!(first.reading.asks, Asks::TreatmentOption);
    let answer = c.ask(&a, "What about on a TNF inhibitor?", &ctx, None).await.unwrap();
    let tnf = DrugGroup::Class(DrugClass::TnfInhibitor);
    assert_eq!((answer.reading.asks, answer.reading.drug_group()), (Asks::TreatmentOption, Some(&tnf)));
    assert_eq!(answer.outcome, Outcome::Answered, "{}", answer.text);
    assert_eq!(answer.tools.first().map(|t| t.tool), Some(ToolName::CompareTreatments), "{}", answer.text);
    assert!(answer.text.contains("TNF inhibitor"), "{}", answer.text);
    let read_as = "the treatment options, similar patients on a TNF inhibitor";
    assert_eq!(answer.read_as.as_deref(), Some(read_as));
    let last = model
        .requests()
        .last()
        .and_then(|r| r.messages.iter().rev().find(|m| m.content.starts_with("Question:")).map(|m| m.content.clone()))
        .unwrap_or_default();
    assert!(last.contains(read_as), "the lead is asked for what the follow-up was read as: {last}");
}

/// The open patient changes: "And the ESR?" about p-2 after a CRP question about p-1
/// carries nothing over (its own reading, no link, no CRP), and every tool it runs
/// reads p-2 only.
#[tokio::test]
async fn a_follow_up_after_the_patient_changed_carries_nothing() {
    let (_dir, a, _model) = record().await;
    let mut c = Conversation::new();
    turn(&mut c, &a, "p-1", "What is the latest CRP?", ToolName::LabTrend, "Latest CRP of p-1").await;
    let answer = c.ask(&a, "And the ESR?", &doctor("p-2"), None).await.unwrap();
    assert_eq!(answer.reading, Reading::of("And the ESR?"), "read alone");
    assert_eq!((answer.follows.clone(), answer.read_as.clone()), (None, None));
    let on_p2 = |t: &assistant::CalledTool| t.arguments["patient"] == "p-2" && t.arguments["test"] != "crp";
    assert!(answer.tools.iter().all(on_p2), "{:?}", answer.tools);
    let entry = a.log().entry(answer.audit[0]).await.unwrap().unwrap().parse().unwrap();
    assert_eq!(entry.patients, vec!["p-2".to_owned()]);
    assert!(matches!(entry.body, EntryBody::Question { follows: None, .. }), "{:?}", entry.body);
    assert_eq!((c.len(), c.patient()), (1, Some(&pid("p-2"))), "a new conversation");
}

/// The history is bounded: with room for two turns, two questions that read as
/// nothing push the CRP question out, and "And the ESR?" no longer reads against it;
/// with room for three, it does.
#[tokio::test]
async fn the_history_is_bounded() {
    let (_dir, a, _model) = record().await;
    for (limit, resolved) in [(2, false), (3, true)] {
        let mut c = Conversation::with_limit(limit);
        for question in ["What is the latest CRP?", "Write me a limerick.", "Write me a limerick."] {
            c.ask(&a, question, &doctor("p-1"), None).await.unwrap();
        }
        assert_eq!(c.len(), limit);
        let answer = c.ask(&a, "And the ESR?", &doctor("p-1"), None).await.unwrap();
        assert_eq!(c.len(), limit, "the oldest turn left");
        let link = answer.follows.clone().expect("linked to the turn before");
        assert_eq!(link.read_against.is_some(), resolved, "limit {limit}: {link:?}");
        assert_eq!(answer.reading.lab_test() == Some(LabTest::Esr) && answer.reading.asks == Asks::Value, resolved);
    }
}

/// The stored audit entry at `seq`.
async fn stored(a: &Assistant, seq: Seq) -> StoredEntry {
    a.log().entry(seq).await.unwrap().unwrap()
}

/// Each question's audit entry links the conversation's question before it: its
/// place and the leaf hash of its stored bytes, and the turn a follow-up was read
/// against; the first question links nothing, and the follow-up's recorded reading
/// is the resolved one.
#[tokio::test]
async fn each_question_entry_links_the_one_before() {
    let (_dir, a, _model) = record().await;
    let mut c = Conversation::new();
    let first = turn(&mut c, &a, "p-1", "What is the latest CRP?", ToolName::LabTrend, "Latest CRP").await;
    let second = turn(&mut c, &a, "p-1", "And the ESR?", ToolName::LabTrend, "Latest ESR").await;
    let third = c.ask(&a, "Write me a limerick.", &doctor("p-1"), None).await.unwrap();
    let first_stored = stored(&a, first.audit[0]).await;
    assert!(matches!(first_stored.parse().unwrap().body, EntryBody::Question { follows: None, .. }));
    let second_entry = stored(&a, second.audit[0]).await.parse().unwrap();
    let EntryBody::Question { follows: Some(link), reading: Some(reading), .. } = second_entry.body else {
        panic!("the follow-up's entry links the first question");
    };
    let first_hash = first_stored.computed_leaf_hash();
    assert_eq!((link.seq, link.entry, link.read_against), (first.audit[0], first_hash, Some(first.audit[0])));
    assert_eq!((reading["asks"].as_str(), reading["concept"]["test"].as_str()), (Some("value"), Some("esr")));
    assert_eq!(second.follows, Some(link));

    let second_stored = stored(&a, second.audit[0]).await;
    let EntryBody::Question { follows: Some(link), .. } = stored(&a, third.audit[0]).await.parse().unwrap().body else {
        panic!("a question that is no follow-up still links the one before");
    };
    assert_eq!((link.seq, link.entry, link.read_against), (second.audit[0], second_stored.computed_leaf_hash(), None));
}
