//! Model governance against a real database (SQLite and PostgreSQL): an unpinned
//! artifact is refused with a clear error, and a rollback restores the previous
//! active version and is visible in the trail with who and why.

mod common;

use audit_log::{
    ArtifactKind, ArtifactStatus, Digest, EntryBody, EntryKind, GovernanceError, ModelRegistry, Principal, Role,
};
use common::{backends, signer, TestDb};

#[tokio::test]
async fn unpinned_artifacts_are_refused_and_rollback_is_in_the_trail() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let log = db.log().await;
        let registry = ModelRegistry::new(log.clone());
        let gov = Principal::new("grace", Role::Governance);
        let v1 = db.dir.path().join("model-v1.gguf");
        let v2 = db.dir.path().join("model-v2.gguf");
        std::fs::write(&v1, b"GGUF weights v1").unwrap();
        std::fs::write(&v2, b"GGUF weights v2").unwrap();

        // Not pinned: refused, and the message says what to do.
        let err = registry.verify_file(ArtifactKind::Llm, &v1).await.unwrap_err();
        assert!(matches!(err, GovernanceError::NotPinned { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("not pinned") && msg.contains("model-v1.gguf") && msg.contains("rdt models pin"), "{msg}");
        let err = registry.require_pinned(ArtifactKind::Llm, &Digest::of(b"GGUF weights v1")).await.unwrap_err();
        assert!(matches!(err, GovernanceError::NotPinned { .. }));

        // Only governance, and only with a reason.
        let clinician = Principal::new("dr.a", Role::Clinician);
        assert!(matches!(
            registry.pin_file(&clinician, ArtifactKind::Llm, &v1, None, "because").await,
            Err(GovernanceError::RoleNotAllowed { .. })
        ));
        assert!(matches!(
            registry.pin_file(&gov, ArtifactKind::Llm, &v1, None, "").await,
            Err(GovernanceError::ReasonRequired)
        ));

        let (a1, _) = registry.pin_file(&gov, ArtifactKind::Llm, &v1, None, "validated v1").await.unwrap();
        let (a2, _) = registry.pin_file(&gov, ArtifactKind::Llm, &v2, None, "validated v2").await.unwrap();
        assert_eq!(registry.verify_file(ArtifactKind::Llm, &v1).await.unwrap().sha256, a1.sha256);
        // Pinned as an LLM is not pinned as an encoder.
        assert!(registry.verify_file(ArtifactKind::Encoder, &v1).await.is_err());

        registry.activate(&gov, ArtifactKind::Llm, &a1.sha256, "go live").await.unwrap();
        registry.activate(&gov, ArtifactKind::Llm, &a2.sha256, "upgrade").await.unwrap();
        let state = registry.state().await.unwrap();
        assert_eq!(state.active(ArtifactKind::Llm).unwrap().sha256, a2.sha256);

        let (restored, seq) = registry.rollback(&gov, ArtifactKind::Llm, "v2 hallucinates dosages").await.unwrap();
        assert_eq!(restored.sha256, a1.sha256);
        let state = registry.state().await.unwrap();
        assert_eq!(state.active(ArtifactKind::Llm).unwrap().sha256, a1.sha256);
        assert_eq!(state.get(ArtifactKind::Llm, &a2.sha256).unwrap().status, ArtifactStatus::Pinned);
        assert!(matches!(
            registry.rollback(&gov, ArtifactKind::Llm, "again").await,
            Err(GovernanceError::NothingToRollBack { .. })
        ));

        // The trail: every change, with who and why, the rollback naming both versions.
        let trail = log.entries_of_kinds(&[EntryKind::ModelPinned, EntryKind::ModelActivated, EntryKind::ModelRolledBack]).await.unwrap();
        assert_eq!(trail.len(), 5);
        let rollback = log.entry(seq).await.unwrap().unwrap().parse().unwrap();
        assert_eq!(rollback.principal, gov);
        match rollback.body {
            EntryBody::ModelRolledBack { change } => {
                assert_eq!(change.artifact.sha256, a1.sha256);
                assert_eq!(change.previous_active, Some(a2.sha256));
                assert_eq!(change.reason, "v2 hallucinates dosages");
            }
            other => panic!("expected a rollback entry, got {other:?}"),
        }

        // Retired artifacts no longer load.
        registry.retire(&gov, ArtifactKind::Llm, &a2.sha256, "withdrawn").await.unwrap();
        assert!(matches!(registry.verify_file(ArtifactKind::Llm, &v2).await, Err(GovernanceError::Retired { .. })));
        // Retiring the active one leaves none active: nothing takes its place unrecorded.
        let seq = registry.retire(&gov, ArtifactKind::Llm, &a1.sha256, "withdrawn too").await.unwrap();
        let state = registry.state().await.unwrap();
        assert!(state.active(ArtifactKind::Llm).is_none());
        assert_eq!(state.last_change(ArtifactKind::Llm), Some(seq));
        match log.entry(seq).await.unwrap().unwrap().parse().unwrap().body {
            EntryBody::ModelRetired { change } => assert_eq!(change.previous_active, Some(a1.sha256)),
            other => panic!("expected a retirement, got {other:?}"),
        }
        assert!(matches!(
            registry.require_active(ArtifactKind::Llm, &a1.sha256, "v1").await,
            Err(GovernanceError::Retired { .. })
        ));

        log.sign_head().await.unwrap();
        assert!(log.verify(&signer().trusted()).await.unwrap().is_ok());
        log.close().await;
        db.drop_db().await;
    }
}
