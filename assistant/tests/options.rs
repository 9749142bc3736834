//! Treatment-option questions through the loop with a scripted chat-model double, over
//! a small install with an in silico cohort (tiny twin, index): "What if we switch her
//! to a TNF inhibitor?" and "On which option did patients like him do best?" reach
//! `compare_treatments`; the answer is the model's lead, which speaks of similar
//! patients, then RDT's sentences of the options, which end with the observational
//! caveat; every number of the answer is one the tool returned. A lead that predicts
//! for this patient, or forgets that the figures are of similar patients, is dropped
//! and RDT's sentences (with the caveat) are the answer.

mod cohort_install;

use std::sync::{Arc, Mutex};

use assistant::grounding::{check, Sources};
use assistant::{AskContext, Assistant, AssistantConfig, Grounding, Outcome, ToolRetriever};
use assistant_eval::testing::{KeywordEmbedder, ScriptedModel, Step};
use audit_log::{EntryBody, EntryKind, Principal, Role};
use serde_json::{json, Value};
use tools::{call_json, Scope, ToolName};

use cohort_install::{cohort_install, CohortInstall};

/// The loop with the model choosing the tool among retrieval's candidates (keyword
/// vectors here; the real MiniLM's choice is tested in `retrieval.rs`).
fn assistant(install: &CohortInstall, model: Arc<ScriptedModel>) -> Assistant {
    let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
    Assistant::new(model, install.tools.clone(), install.log.clone(), retriever)
        .with_config(AssistantConfig { decisive_margin: None, ..AssistantConfig::default() })
}

fn doctor(install: &CohortInstall) -> AskContext {
    AskContext {
        principal: Principal::new("dr-options", Role::Clinician),
        patient: Some(install.patient.clone()),
        session: "s-options".into(),
    }
}

/// The options as the system reads them (no audit entry): what a right lead may say.
async fn options_of(install: &CohortInstall) -> Value {
    let system = Principal::new("harness", Role::System);
    let args = json!({"patient": install.patient.as_str()});
    call_json(&install.tools, &system, &Scope::All, "compare_treatments", &args).await.unwrap().result["value"].clone()
}

/// A lead a careful model writes for `option`, from the result's own figures.
fn lead_for(options: &Value, option: &str) -> String {
    let o = options["options"].as_array().unwrap().iter().find(|o| o["option"] == option).unwrap();
    let label = o["label"].as_str().unwrap();
    let response = o["outcomes"].as_array().unwrap().iter().find(|r| r["outcome"] == "response_6m").unwrap();
    match response["similar_patients"]["percent"].as_u64() {
        Some(p) if o["enough_patients"] == true => {
            format!("Among similar patients who started a {label}, {p}% responded at 6 months.")
        }
        _ => format!("Among similar patients, too few started a {label} for a figure."),
    }
}

/// Which tools the choice step offered, per question.
type Offered = Arc<Mutex<Vec<Vec<String>>>>;

fn scripted(lead: String, offered: Offered) -> Arc<ScriptedModel> {
    Arc::new(ScriptedModel::new(move |step, _| match step {
        Step::Definition { .. } => json!({"term": "none"}).to_string(),
        Step::ChooseTool { offered: names } => {
            offered.lock().unwrap().push(names.clone());
            json!({"tool": "compare_treatments"}).to_string()
        }
        Step::Arguments { schema } => panic!("compare_treatments needs no argument from the model: {schema}"),
        Step::Answer { .. } => lead.clone(),
    }))
}

#[tokio::test]
async fn option_questions_are_answered_from_compare_treatments_with_the_caveat() {
    let install = cohort_install(60, 11).await;
    let options = options_of(&install).await;
    let caveat = options["caveat"].as_str().unwrap().to_owned();
    let best = options["best_weighted_response"].as_str().unwrap_or("tnf_inhibitor").to_owned();

    for (question, option) in [
        ("What if we switch her to a TNF inhibitor?", "tnf_inhibitor".to_owned()),
        ("On which option did patients like him do best?", best),
    ] {
        let offered: Offered = Arc::default();
        let lead = lead_for(&options, &option);
        let model = scripted(lead.clone(), offered.clone());
        let answer = assistant(&install, model.clone()).ask(question, &doctor(&install), None).await.unwrap();
        eprintln!("{question}\n{}\n", answer.text);

        // Retrieval offered compare_treatments and the model's choice ran it, once.
        let offered = offered.lock().unwrap().clone();
        assert_eq!(offered.len(), 1, "{question}: one choice");
        assert!(offered[0].contains(&"compare_treatments".to_owned()), "{question}: {offered:?}");
        assert_eq!(answer.tools.iter().map(|c| c.tool).collect::<Vec<_>>(), vec![ToolName::CompareTreatments]);
        let call = &answer.tools[0];
        assert_eq!(call.arguments, json!({"patient": install.patient.as_str()}));
        assert_eq!(call.result["value"]["options"].as_array().unwrap().len(), 8);

        // The model wrote the lead under the observational prompt; it is kept, and
        // RDT's sentences of every option follow it, ending with the caveat.
        assert_eq!(answer.outcome, Outcome::Answered, "{question}: {}", answer.text);
        assert_eq!(answer.grounding, Grounding::Grounded, "{question}: {}", answer.text);
        let requests = model.requests();
        let prompt = &requests.last().unwrap().messages.last().unwrap().content;
        assert!(prompt.contains("beginning with \"Among similar patients\""), "{prompt}");
        assert!(answer.text.starts_with(&format!("{lead}\n\n")), "{}", answer.text);
        assert!(answer.text.contains(&call.facts.text), "RDT's sentences follow the lead");
        assert!(call.facts.text.starts_with("Treatment options of"), "{}", call.facts.text);
        assert!(answer.text.trim_end().ends_with(&caveat), "the caveat closes the answer: {}", answer.text);
        for o in options["options"].as_array().unwrap() {
            assert!(answer.text.contains(o["label"].as_str().unwrap()), "{o}");
        }

        // No number the tool did not return (or the question hold).
        let sources = Sources::new(answer.tools.iter().map(|c| &c.result), question)
            .with_patient(Some(install.patient.as_str()));
        let grounded = check(&answer.text, &sources);
        assert!(grounded.is_grounded(), "{question}: {:?} in {}", grounded.ungrounded, answer.text);

        // The trail: question, the tool call (with the cohort's real ids), the answer.
        let mut kinds = Vec::new();
        for seq in &answer.audit {
            let entry = install.log.entry(*seq).await.unwrap().unwrap().parse().unwrap();
            if let EntryBody::ToolCall { tool, cohort } = &entry.body {
                assert_eq!(tool.name, "compare_treatments");
                assert!(cohort.is_some(), "the options' neighbours are in the entry");
            }
            kinds.push(entry.kind());
        }
        assert_eq!(kinds, vec![EntryKind::Question, EntryKind::ToolCall, EntryKind::Answer]);
    }
}

/// A lead that predicts for this patient, or states the figures without saying they
/// are similar patients', is dropped: the answer is RDT's sentences alone, which carry
/// the caveat. A lead that compares options ("did better") in similar patients' words
/// is kept.
#[tokio::test]
async fn an_options_lead_without_the_caveat_is_dropped() {
    let install = cohort_install(60, 11).await;
    let options = options_of(&install).await;
    let caveat = options["caveat"].as_str().unwrap().to_owned();
    let question = "What if we switch her to a TNF inhibitor?";
    // A comparison is kept only where the option has enough comparable patients for
    // one; where it has too few, the lead must say so.
    let tnf = options["options"].as_array().unwrap().iter().find(|o| o["option"] == "tnf_inhibitor").unwrap();
    let enough = tnf["enough_patients"].as_bool().unwrap();
    let did_better = "Among similar patients, a TNF inhibitor did better than continuing, as far as these figures show.";
    let too_few = "Among similar patients, there are not enough comparable patients for a TNF inhibitor.";
    for (lead, kept) in [
        ("She will respond to a TNF inhibitor.".to_owned(), false),
        ("A TNF inhibitor is the best option for her.".to_owned(), false),
        ("Among similar patients she would do better on a TNF inhibitor.".to_owned(), false),
        (did_better.to_owned(), enough),
        (too_few.to_owned(), !enough),
    ] {
        let model = scripted(lead.clone(), Arc::default());
        let answer = assistant(&install, model).ask(question, &doctor(&install), None).await.unwrap();
        assert_eq!(answer.outcome, Outcome::Answered, "{lead}");
        assert_eq!(answer.text.starts_with(&lead), kept, "{lead}: {}", answer.text);
        if !kept {
            assert!(matches!(answer.grounding, Grounding::Template { .. }), "{lead}: {:?}", answer.grounding);
        }
        assert!(answer.text.contains(&caveat), "{lead}: the caveat is in every options answer");
    }
}
