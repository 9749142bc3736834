//! Governance governs the running model, on real weights: two real GGUF versions
//! (SmolLM2-135M and the default Qwen2.5-Coder-1.5B) are pinned; whichever the model
//! registry makes active answers the next question of the same running
//! [`GovernedAssistant`], built as `rdt serve` builds it (`build_governed`, the
//! registry's active LLM found in the model cache, hashed through the open file and
//! loaded from it on the default engine). The answer's audit entry records the
//! version that answered; it follows activation and rollback.
//!
//! The question is a latest-lab one on a patient with labs: retrieval chooses the tool
//! and the question names its argument, so whichever model runs, it writes the lead
//! sentence and the answer is recorded (grounded or as RDT's sentences).
//!
//! Needs `rdt setup --llm default,smallest` (MiniLM and both GGUFs in the model
//! cache). Skipped, saying so, when they are absent, unless `RDT_REQUIRE_MODELS=1`.

use assistant::gguf::{self as llm, GgufCache as _, PackagedGguf, QWEN_CODER_1_5B, SMOLLM2_135M};
use assistant::install::{build_governed, ModelChoice, ModelPick};
use assistant::{AskContext, GovernedAssistant, ModelPolicy};
use audit_log::{ArtifactKind, AuditLog, Digest, EntryBody, EntryKind, ModelRegistry, Principal, Role};
use journey::fhir::{Importer, NoProgress};
use journey::{Database, JourneyStore, Modality, PatientId};
use tools::ToolContext;
use twin_core::models::{cache, ModelCache, MINILM};

/// The versions the answer's entry records for one question.
async fn ask(assistant: &GovernedAssistant, log: &AuditLog, patient: &PatientId) -> Digest {
    let running = assistant.for_question().await.unwrap();
    let ctx = AskContext {
        principal: Principal::new("dr-test", Role::Clinician),
        patient: Some(patient.clone()),
        session: "governed-real".into(),
    };
    let answer = running.ask("What is the latest CRP?", &ctx, None).await.unwrap();
    eprintln!("{} answered in {:.1} s: {}", &answer.model_sha256[..12], answer.timings.total, answer.text);
    assert!(!answer.timings.calls.is_empty(), "the model wrote part of the answer");
    let entry = log.entry(answer.answer_seq).await.unwrap().unwrap().parse().unwrap();
    match entry.body {
        EntryBody::Answer { model, .. } => {
            assert_eq!(model.model_sha256.to_hex(), answer.model_sha256);
            model.model_sha256
        }
        other => panic!("expected an answer entry, got {other:?}"),
    }
}

fn sha(model: &PackagedGguf) -> Digest {
    model.sha256.parse().unwrap()
}

#[tokio::test]
async fn the_answer_follows_the_active_real_model() {
    let models = ModelCache::from_env().unwrap();
    let (minilm, smol, qwen) =
        match (models.check(&MINILM), models.check_gguf(&SMOLLM2_135M), models.check_gguf(&QWEN_CODER_1_5B)) {
            (Ok(m), Ok(s), Ok(q)) => (m, s, q),
            (m, s, q) => {
                let why = [m.err().map(|e| e.to_string()), s.err().map(|e| e.to_string()), q.err().map(|e| e.to_string())];
                assert!(std::env::var("RDT_REQUIRE_MODELS").as_deref() != Ok("1"), "models missing: {why:?}");
                eprintln!("skipping: models not in the cache ({why:?}); run `rdt setup --llm default,smallest`");
                return;
            }
        };
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    synth::generate(&synth::Params { patients: 12, seed: 5, ..Default::default() }, &export).unwrap();
    let store = JourneyStore::open(&Database::Sqlite(dir.path().join("journey.sqlite"))).await.unwrap();
    Importer::new(store.clone()).await.unwrap().import_paths(&[export], &NoProgress).await.unwrap();
    let patient = store
        .patients()
        .await
        .unwrap()
        .into_iter()
        .max_by_key(|p| p.events_by_modality.get(&Modality::Lab).copied().unwrap_or(0))
        .unwrap()
        .patient
        .id;
    let log = AuditLog::open(&format!("sqlite://{}", dir.path().join("audit.sqlite").display())).await.unwrap();
    let registry = ModelRegistry::new(log.clone());
    let gov = Principal::new("grace", Role::Governance);
    cache::pin_model(&registry, &gov, &MINILM, &minilm, "test").await.unwrap();
    llm::pin_gguf(&registry, &gov, &QWEN_CODER_1_5B, &qwen, "test").await.unwrap();
    llm::pin_gguf(&registry, &gov, &SMOLLM2_135M, &smol, "test").await.unwrap();
    registry.activate(&gov, ArtifactKind::Llm, &sha(&SMOLLM2_135M), "first").await.unwrap();

    let choice = ModelChoice { engine: None, pick: ModelPick::Active };
    let assistant = build_governed(dir.path(), ToolContext::new(store), log.clone(), &choice).await.unwrap();
    assert_eq!(assistant.policy(), ModelPolicy::FollowActive);
    assert_eq!(ask(&assistant, &log, &patient).await, sha(&SMOLLM2_135M));

    registry.activate(&gov, ArtifactKind::Llm, &sha(&QWEN_CODER_1_5B), "upgrade").await.unwrap();
    assert_eq!(ask(&assistant, &log, &patient).await, sha(&QWEN_CODER_1_5B), "the activated version answers next");

    registry.rollback(&gov, ArtifactKind::Llm, "back to the small one").await.unwrap();
    assert_eq!(ask(&assistant, &log, &patient).await, sha(&SMOLLM2_135M), "the rolled-back-to version answers next");

    // Two switches, each in the trail with the version before and after.
    let switches: Vec<_> = log
        .entries_of_kinds(&[EntryKind::ModelLoaded])
        .await
        .unwrap()
        .iter()
        .map(|e| match e.parse().unwrap().body {
            EntryBody::ModelLoaded { load } => (load.previous, load.artifact.sha256),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        switches,
        vec![
            (Some(sha(&SMOLLM2_135M)), sha(&QWEN_CODER_1_5B)),
            (Some(sha(&QWEN_CODER_1_5B)), sha(&SMOLLM2_135M))
        ]
    );
    log.close().await;
}
