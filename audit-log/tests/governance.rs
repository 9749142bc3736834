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

/// The registry's weight checks reuse a verified-digest record only for the very
/// file that was hashed: after one byte is edited in place and the mtime set back,
/// ctime has moved, so the file is hashed in full again and refused as unpinned.
#[cfg(unix)]
#[tokio::test]
async fn a_recorded_digest_is_reused_until_the_file_changes_then_the_edit_is_refused() {
    use std::io::{Seek as _, SeekFrom, Write as _};
    use std::os::unix::fs::MetadataExt as _;

    use audit_log::{DigestRecords, DigestSource};

    for backend in backends() {
        let db = TestDb::new(backend).await;
        let records = DigestRecords::at(db.dir.path().join("records")).with_settle(std::time::Duration::ZERO);
        let registry = ModelRegistry::new(db.log().await.with_digest_records(records));
        let gov = Principal::new("grace", Role::Governance);
        let path = db.dir.path().join("model.gguf");
        std::fs::write(&path, b"GGUF pinned weights").unwrap();
        let (pinned, _) = registry.pin_file(&gov, ArtifactKind::Llm, &path, None, "validated").await.unwrap();

        let (first, _) = registry.open_pinned(ArtifactKind::Llm, &path).await.unwrap();
        assert_eq!((first.sha256, first.source), (pinned.sha256, DigestSource::Hashed));
        let (again, _) = registry.open_pinned(ArtifactKind::Llm, &path).await.unwrap();
        assert_eq!((again.sha256, again.source), (pinned.sha256, DigestSource::Recorded));
        let (read, _) = registry.read_pinned(ArtifactKind::Llm, &path).await.unwrap();
        assert_eq!((read.bytes.as_slice(), read.hashed.source), (&b"GGUF pinned weights"[..], DigestSource::Recorded));

        // The kernel stamps ctime from a coarse clock: wait, on the file system's own
        // clock, for the tick after the recorded one, so the edit cannot share it (the
        // product's guard for that race is the settle time, zero here).
        let ctime = |p: &std::path::Path| std::fs::metadata(p).unwrap().ctime_nsec() as i128
            + std::fs::metadata(p).unwrap().ctime() as i128 * 1_000_000_000;
        let recorded_ctime = ctime(&path);
        let probe = db.dir.path().join("probe");
        loop {
            std::fs::write(&probe, b"tick").unwrap();
            if ctime(&probe) > recorded_ctime {
                break;
            }
        }
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.seek(SeekFrom::Start(0)).unwrap();
        file.write_all(b"g").unwrap();
        file.set_modified(mtime).unwrap();
        drop(file);
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);

        let err = registry.verify_file(ArtifactKind::Llm, &path).await.unwrap_err();
        match err {
            GovernanceError::NotPinned { sha256, .. } => assert_eq!(sha256, Digest::of(b"gGUF pinned weights")),
            other => panic!("expected a refusal of the edited file, got {other}"),
        }
        assert!(registry.read_pinned(ArtifactKind::Llm, &path).await.is_err());
    }
}
