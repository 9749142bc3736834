//! `rdt tools list` and `rdt tool NAME`: the typed tools from the command line, with the
//! session scope given by `--patient`, refusals as exit code 1, and every call (and
//! refusal) in an audit log that verifies. A 20-patient virtual cohort, fixed seed.

mod common;

use common::Rdt;

#[test]
fn tools_list_shows_every_tool_with_its_schemas() {
    let rdt = Rdt::new();
    let (list, code) = rdt.run_json(&["tools", "list", "--json"]);
    assert_eq!(code, 0, "{list}");
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "patient_summary",
            "lab_trend",
            "disease_activity_history",
            "medication_history",
            "compare_patients",
            "glossary",
            "state_forecast",
            "similar_patients",
            "explain_neighbourhood",
            "compare_treatments",
            "patient_alerts"
        ]
    );
    for t in list.as_array().unwrap() {
        assert_eq!(t["input_schema"]["type"], "object", "{t}");
        assert!(t["output_schema"].is_object() && t["examples"].as_array().is_some_and(|e| !e.is_empty()), "{t}");
    }
}

#[test]
fn a_tool_runs_in_scope_refuses_outside_it_and_is_audited() {
    let rdt = Rdt::new();
    let export = tempfile::tempdir().unwrap();
    let dir = export.path().to_str().unwrap();
    assert!(rdt.run(&["synth", "--patients", "20", "--seed", "7", "--out", dir]).status.success());
    assert!(rdt.run(&["import", dir]).status.success());
    let (patients, _) = rdt.run_json(&["patients", "--json"]);
    let ids: Vec<&str> = patients.as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();

    let (out, code) =
        rdt.run_json(&["tool", "lab_trend", "--patient", ids[0], "--as", "dr-a", "--json", r#"{"test":"crp"}"#]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out["value"]["patient"], ids[0]);
    assert!(out["value"]["trend"]["direction"].is_string());

    // Asking for a patient outside the session's scope is refused, whatever the arguments.
    let args = format!(r#"{{"patient":"{}"}}"#, ids[1]);
    let out = rdt.run(&["tool", "patient_summary", "--patient", ids[0], "--as", "dr-a", "--json", &args]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside this session's scope"));
    // An auditor has no clinical tools.
    let out = rdt.run(&["tool", "patient_summary", "--patient", ids[0], "--role", "auditor"]);
    assert_eq!(out.status.code(), Some(1));

    // The call and both refusals are in the audit trail, which verifies.
    let (report, code) = rdt.run_json(&["audit", "verify", "--json"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    // the import's entry, the call and the two refusals
    assert_eq!(report["report"]["size"], 4, "{report}");
    let export = rdt.run(&["audit", "export"]);
    let text = String::from_utf8_lossy(&export.stdout);
    assert!(text.contains("lab_trend"), "the tool call is exported");
}
