//! RDT's own sentences state only numbers their tool returned: every tool, on every
//! patient of a small install with an in silico cohort, with each argument a question
//! can set (each lab test, a window, the last N, each drug group), has its facts
//! checked by the same grounding check that holds a model's lead and scores an answer.
//! Why: an answer is the model's lead followed by these sentences, and the evaluation
//! counts a number no tool returned anywhere in it; a sentence that computes a figure
//! the result does not hold would be such a number in every answer it closes.

mod cohort_install;

use assistant::grounding::{check, Sources};
use audit_log::{Principal, Role};
use serde_json::{json, Value};
use tools::{call_json, Scope, ToolContext, ToolName};

use cohort_install::cohort_install;

#[tokio::test]
async fn every_tools_sentences_state_only_numbers_its_result_holds() {
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut ran = std::collections::BTreeSet::new();
    for seed in [11, 23] {
        let install = cohort_install(40, seed).await;
        let patients = install.tools.store().patients().await.unwrap();
        assert!(patients.len() >= 30, "the install holds its cohort");
        let first = patients[0].patient.id.as_str();
        let mut shared = vec![("compare_patients", json!({"patient_a": first, "patient_b": patients[1].patient.id.as_str()}))];
        shared.extend(glossary_terms().into_iter().map(|term| ("glossary", json!({"term": term}))));
        for (tool, args) in shared {
            let (n, failed) = check_facts(&install.tools, tool, &args, first).await;
            assert_eq!(n, 1, "{tool} {args} runs");
            ran.insert(tool);
            checked += n;
            failures.extend(failed);
        }
        for p in &patients {
            for (tool, args) in calls(p.patient.id.as_str()) {
                let (n, failed) = check_facts(&install.tools, tool, &args, p.patient.id.as_str()).await;
                if n > 0 {
                    ran.insert(tool);
                }
                checked += n;
                failures.extend(failed);
            }
        }
    }
    assert!(checked >= 1000, "the tools ran: {checked} results checked");
    let every: std::collections::BTreeSet<&str> = ToolName::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(ran, every, "every tool ran at least once");
    assert!(failures.is_empty(), "{} of {checked} facts state numbers their result lacks:\n{}", failures.len(), failures.join("\n"));
}

/// Every term the glossary defines: its schema's enum, so a new term is checked too.
fn glossary_terms() -> Vec<Value> {
    let spec = tools::specs().into_iter().find(|s| s.name == ToolName::Glossary).expect("the glossary is a tool");
    let terms = spec.input_schema["properties"]["term"]["enum"].as_array().expect("the terms are an enum").clone();
    assert!(terms.len() >= 10, "the glossary's terms: {terms:?}");
    terms
}

/// Every tool a question about `id` reaches, with each argument a question can set.
fn calls(id: &str) -> Vec<(&'static str, Value)> {
    let mut calls: Vec<(&str, Value)> = vec![
        ("patient_summary", json!({"patient": id})),
        ("disease_activity_history", json!({"patient": id})),
        ("disease_activity_history", json!({"patient": id, "window_days": 365})),
        ("disease_activity_history", json!({"patient": id, "last_n": 3})),
        ("medication_history", json!({"patient": id})),
        ("medication_history", json!({"patient": id, "drug_group": "biologic"})),
        ("medication_history", json!({"patient": id, "drug": "methotrexate"})),
        ("medication_history", json!({"patient": id, "drug_group": {"class": "glucocorticoid"}})),
        ("similar_patients", json!({"patient": id})),
        ("explain_neighbourhood", json!({"patient": id})),
        ("compare_treatments", json!({"patient": id})),
        ("state_forecast", json!({"patient": id})),
        ("patient_alerts", json!({"patient": id})),
    ];
    for test in ["crp", "esr", "haemoglobin", "alt", "creatinine", "rheumatoid_factor", "anti_ccp", "c3", "c4"] {
        calls.push(("lab_trend", json!({"patient": id, "test": test})));
        calls.push(("lab_trend", json!({"patient": id, "test": test, "window_days": 180})));
        calls.push(("lab_trend", json!({"patient": id, "test": test, "last_n": 4})));
        calls.push(("lab_trend", json!({"patient": id, "test": test, "compare_to": "previous"})));
        calls.push(("lab_trend", json!({"patient": id, "test": test, "compare_to": {"days_before": 365}})));
    }
    calls.push(("disease_activity_history", json!({"patient": id, "compare_to": "previous"})));
    calls.push(("disease_activity_history", json!({"patient": id, "compare_to": {"days_before": 180}})));
    calls.push(("similar_patients", json!({"patient": id, "k": 10})));
    calls.push(("medication_history", json!({"patient": id, "drug_group": "dmard"})));
    calls.push(("medication_history", json!({"patient": id, "drug_group": {"class": "tnf_inhibitor"}})));
    calls
}

/// Runs one call as the system and checks its facts: (1, failures) when it ran, (0,
/// none) when it could not (a call's error is no sentence of facts; every tool must
/// run for some patient).
async fn check_facts(tools: &ToolContext, tool: &str, args: &Value, id: &str) -> (usize, Vec<String>) {
    let system = Principal::new("harness", Role::System);
    let Ok(result) = call_json(tools, &system, &Scope::All, tool, args).await else { return (0, Vec::new()) };
    let sources = Sources::new([&result.result], "").with_patient(Some(id));
    let grounded = check(&result.facts.text, &sources);
    let failed = (!grounded.is_grounded())
        .then(|| format!("{tool} {args}: {:?} in {}", grounded.ungrounded, result.facts.text));
    (1, failed.into_iter().collect())
}
