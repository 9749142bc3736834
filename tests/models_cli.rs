//! The `rdt` commands answer with the model registry's active LLM: `rdt setup`
//! activates the first LLM it sets up when none ever was (audited); `rdt ask` answers
//! with the active version and says which; once a governance user retires it, `rdt
//! ask` refuses, saying the active model was retired, and `--model` naming the
//! retired version is refused too; running setup again leaves it retired.
//!
//! Needs MiniLM and SmolLM2-135M in the model cache (`rdt setup --llm smallest`; the
//! setup run here finds them and downloads nothing). Skipped, saying so, when they
//! are absent, unless `RDT_REQUIRE_MODELS=1`.

mod common;

use common::{small_models_present, Rdt, SMOL_SHA256};

#[test]
fn rdt_ask_answers_with_the_active_llm_and_refuses_a_retired_one() {
    if !small_models_present() {
        return;
    }
    let rdt = Rdt::new();
    let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).into_owned();

    let (setup, code) = rdt.run_json(&["setup", "--llm", "smallest", "--json"]);
    assert_eq!(code, 0, "{setup}");
    assert_eq!(setup["activated_llm"], SMOL_SHA256, "{setup}");
    let (listed, _) = rdt.run_json(&["models", "list", "--kind", "llm", "--json"]);
    assert_eq!(listed[0]["status"], "active", "{listed}");
    // Set up again: already active, nothing activated twice.
    let (again, _) = rdt.run_json(&["setup", "--llm", "smallest", "--json"]);
    assert!(again.get("activated_llm").is_none(), "{again}");

    let asked = rdt.run(&["ask", "What does DAS28 mean?", "--as", "dr-t"]);
    assert!(
        stderr(&asked).contains(&format!("answering with the active llm {SMOL_SHA256}")),
        "{}",
        stderr(&asked)
    );

    let retired = rdt.run(&["models", "retire", SMOL_SHA256, "--kind", "llm", "--as", "grace", "--reason", "withdrawn"]);
    assert_eq!(retired.status.code(), Some(0), "{}", stderr(&retired));
    let refused = rdt.run(&["ask", "What does DAS28 mean?", "--as", "dr-t"]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(stderr(&refused).contains("the active model was retired"), "{}", stderr(&refused));
    let explicit = rdt.run(&["ask", "What does DAS28 mean?", "--as", "dr-t", "--model", "smallest"]);
    assert_ne!(explicit.status.code(), Some(0));
    assert!(stderr(&explicit).contains("was retired"), "{}", stderr(&explicit));

    // Setup again does not undo a retirement: the file stays retired, nothing is activated.
    let (again, code) = rdt.run_json(&["setup", "--llm", "smallest", "--json"]);
    assert_eq!(code, 0, "{again}");
    assert!(again.get("activated_llm").is_none() && again["newly_pinned"] == 0, "{again}");
    let (listed, _) = rdt.run_json(&["models", "list", "--kind", "llm", "--json"]);
    assert_eq!(listed[0]["status"], "retired", "{listed}");
    let still = rdt.run(&["ask", "What does DAS28 mean?", "--as", "dr-t"]);
    assert!(stderr(&still).contains("the active model was retired"), "{}", stderr(&still));
}
