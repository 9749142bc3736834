//! `rdt chat` through a pipe: questions one a line on stdin, each answered in turn; a
//! follow-up ("And the ESR?") is read against the question before (the lab tool runs
//! on the ESR, the answer says what it was read as, and its question entry links the
//! one before); the conversation ends on `exit`. (How a follow-up's answer reads on a
//! terminal is `Answer::text_report`'s unit test.)
//!
//! The answers' tools and arguments come from the question reader and the
//! conversation, not the model, so the smallest packaged model (SmolLM2-135M, which
//! does not call tools itself) is enough. Needs it and MiniLM in the model cache
//! (`rdt setup --llm smallest`; the setup run here finds them and downloads nothing).
//! Skipped, saying so, when they are absent, unless `RDT_REQUIRE_MODELS=1`.

mod common;

use std::io::Write as _;
use std::process::{Output, Stdio};

use common::{small_models_present, Rdt};
use serde_json::Value;

/// `rdt chat` with `args`, `input` written to its stdin and then closed.
fn chat(rdt: &Rdt, args: &[&str], input: &str) -> Output {
    let mut child = rdt
        .command()
        .arg("chat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rdt chat");
    child.stdin.take().expect("a piped stdin").write_all(input.as_bytes()).expect("write the questions");
    child.wait_with_output().expect("rdt chat ends")
}

#[test]
fn rdt_chat_answers_a_follow_up_read_against_the_question_before() {
    if !small_models_present() {
        return;
    }
    let rdt = Rdt::new();
    let (setup, code) = rdt.run_json(&["setup", "--llm", "smallest", "--json"]);
    assert_eq!(code, 0, "{setup}");
    let export = rdt.data_dir().join("export");
    let export = export.to_str().unwrap();
    let (synth, code) = rdt.run_json(&["synth", "--patients", "6", "--seed", "3", "--out", export, "--json"]);
    assert_eq!(code, 0, "{synth}");
    let (import, code) = rdt.run_json(&["import", export, "--json"]);
    assert_eq!(code, 0, "{import}");
    // The patient with the most lab values (CRP and ESR among them).
    let (patients, _) = rdt.run_json(&["patients", "--json"]);
    let patient = patients
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|p| p["events_by_modality"]["lab"].as_u64().unwrap_or(0))
        .and_then(|p| p["id"].as_str())
        .expect("a patient")
        .to_owned();

    // One answer a line; a blank line is skipped and the line after `exit` never asked.
    let input = "What is the latest CRP?\n\nAnd the ESR?\nexit\nWhat is the latest ALT?\n";
    let out = chat(&rdt, &["--patient", &patient, "--as", "dr-t", "--json"], input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let answers: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    assert_eq!(answers.len(), 2, "two questions before `exit`: {answers:#?}");
    let (first, second) = (&answers[0], &answers[1]);
    assert_eq!(first["tools"][0]["tool"], "lab_trend", "{first:#}");
    assert_eq!(first["tools"][0]["arguments"]["test"], "crp", "{first:#}");
    assert!(first.get("follows").is_none(), "{first:#}");
    assert_eq!(second["tools"][0]["tool"], "lab_trend", "{second:#}");
    assert_eq!(second["tools"][0]["arguments"]["test"], "esr", "the follow-up names the ESR: {second:#}");
    assert_eq!(second["tools"][0]["arguments"]["patient"], patient.as_str());
    assert_eq!(second["read_as"], "the latest ESR", "{second:#}");
    assert_eq!(second["follows"]["seq"], first["audit"][0], "the follow-up links the first question: {second:#}");
    assert_eq!(second["follows"]["read_against"], first["audit"][0], "{second:#}");
}
