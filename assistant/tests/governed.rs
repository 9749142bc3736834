//! `GovernedAssistant` on test doubles keyed by version (the real weights are in
//! `governed_models.rs`, the web chat in `web/tests/routes.rs`): an explicit model
//! keeps answering whatever governance activates, until it is retired; questions
//! arriving together after an activation load the new version once; a question
//! already running keeps the model it started with.

use std::sync::Arc;

use assistant::{AssistantBase, ChatModel, GovernedAssistant, ModelPolicy, NotServing, ToolRetriever};
use assistant_eval::testing::{store_at, KeywordEmbedder, ScriptedModel, VersionedLoader};
use audit_log::{ArtifactKind, ArtifactRef, AuditLog, Digest, ModelRegistry, Principal, Role};
use tools::ToolContext;

struct Setup {
    _dir: tempfile::TempDir,
    registry: ModelRegistry,
    base: AssistantBase,
    models: Vec<Arc<ScriptedModel>>,
    gov: Principal,
}

/// Versions a and b pinned, a active.
async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = store_at(&dir.path().join("journey.sqlite"), Vec::new()).await.unwrap();
    let log = AuditLog::open(&format!("sqlite://{}", dir.path().join("audit.sqlite").display())).await.unwrap();
    let registry = ModelRegistry::new(log.clone());
    let gov = Principal::new("grace", Role::Governance);
    let mut models = Vec::new();
    for name in ["a", "b"] {
        let version = Digest::of(name.as_bytes());
        let artifact = ArtifactRef { kind: ArtifactKind::Llm, sha256: version, name: name.into(), size_bytes: None };
        registry.pin(&gov, artifact, "test").await.unwrap();
        models.push(Arc::new(ScriptedModel::new(|_, _| String::new()).with_sha256(&version)));
    }
    registry.activate(&gov, ArtifactKind::Llm, &Digest::of(b"a"), "first").await.unwrap();
    let retriever = ToolRetriever::new(Arc::new(KeywordEmbedder::default()), &tools::specs()).unwrap();
    let base = AssistantBase::new(ToolContext::new(store), log, retriever);
    Setup { _dir: dir, registry, base, models, gov }
}

fn loader(s: &Setup) -> Arc<VersionedLoader> {
    Arc::new(VersionedLoader::new(s.models.iter().map(|m| m.clone() as Arc<dyn ChatModel>).collect()))
}

fn version_of(assistant: &assistant::Assistant) -> String {
    assistant.model().model_sha256().to_owned()
}

#[tokio::test]
async fn an_explicit_model_keeps_answering_until_it_is_retired() {
    let s = setup().await;
    let loader = loader(&s);
    let b = Digest::of(b"b");
    let governed =
        GovernedAssistant::new(s.base.with_model(s.models[1].clone()), s.registry.clone(), loader.clone(), ModelPolicy::Explicit);
    // a is active, but the operator chose b.
    assert_eq!(version_of(&governed.for_question().await.unwrap()), b.to_hex());
    s.registry.retire(&s.gov, ArtifactKind::Llm, &b, "withdrawn").await.unwrap();
    match governed.for_question().await {
        Err(NotServing::Retired { sha256, .. }) => assert_eq!(sha256, b),
        Err(other) => panic!("expected a retirement refusal, got {other}"),
        Ok(_) => panic!("a retired explicit model answered"),
    }
    assert!(loader.loads().is_empty(), "an explicit choice never switches");
}

#[tokio::test]
async fn questions_after_an_activation_load_it_once_and_running_ones_keep_their_model() {
    let s = setup().await;
    let loader = loader(&s);
    let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
    let governed =
        GovernedAssistant::new(s.base.with_model(s.models[0].clone()), s.registry.clone(), loader.clone(), ModelPolicy::FollowActive);
    let started_on_a = governed.for_question().await.unwrap();
    s.registry.activate(&s.gov, ArtifactKind::Llm, &b, "upgrade").await.unwrap();
    let (one, two) = tokio::join!(governed.for_question(), governed.for_question());
    assert_eq!(version_of(&one.unwrap()), b.to_hex());
    assert_eq!(version_of(&two.unwrap()), b.to_hex());
    assert_eq!(loader.loads(), vec![b.to_hex()], "loaded once");
    assert_eq!(version_of(&started_on_a), a.to_hex(), "a question already running keeps its model");
    let switches = s.registry.log().entries_of_kinds(&[audit_log::EntryKind::ModelLoaded]).await.unwrap();
    assert_eq!(switches.len(), 1);
}
