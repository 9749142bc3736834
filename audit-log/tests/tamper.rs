//! Tampering with the stored log, the way someone with database access could, is
//! detected by `verify`, which names the entry. Runs on SQLite and PostgreSQL.
//!
//! Each case builds a fresh log of 20 entries with signed heads at sizes 10 and 20,
//! removes the append-only triggers (as a file owner or superuser can), tampers with
//! plain SQL, and checks the first bad entry `verify` reports. Everything is
//! deterministic: fixed key, fixed entry contents, no timing.

mod common;

use audit_log::{
    entry_text, leaf_hash, AuditEntry, AuditLog, CohortRecord, Digest, EntryBody, HeadSigner, ModelVersions,
    Neighbour, NewEntry, Principal, ProblemKind, Role, Seq, SigningPolicy, StoredEntry, ToolCall, TrustedKeys, TurnLink,
};
use common::{backends, signer, Backend, Raw, TestDb};
use serde_json::json;

const N: u64 = 20;

/// The i-th entry of the fixture log: a question, a tool call with a cohort, or an answer.
fn fixture_entry(i: u64) -> NewEntry {
    let who = Principal::new(format!("dr.{}", i % 3), Role::Clinician);
    let body = match i % 3 {
        0 => EntryBody::Question { question: format!("How did DAS28 of patient p{i} evolve?"), reading: None, follows: None },
        1 => EntryBody::ToolCall {
            tool: ToolCall::bounded("similar_patients", json!({"patient": format!("p{i}"), "k": 2}), json!({"n": 2}), 4096),
            cohort: Some(CohortRecord {
                neighbours: vec![
                    Neighbour::new(format!("n{i}a"), 0.125),
                    Neighbour::new(format!("n{i}b"), 0.5),
                ],
                index_version: "index-v1".into(),
                encoder_version: Digest::of(b"encoder"),
            }),
        },
        _ => EntryBody::Answer {
            answer: format!("DAS28 of p{i} fell from 5.1 to 3.0."),
            model: ModelVersions { model_sha256: Digest::of(b"gguf"), prompt_version: Digest::of(b"prompt"), engine: None },
            cohort: None,
        },
    };
    NewEntry::new(who, body).session(format!("s{}", i / 3)).patients([format!("p{i}")])
}

async fn build(db: &TestDb) -> (AuditLog, Vec<StoredEntry>) {
    let log = db.log().await;
    for i in 0..N {
        log.append(fixture_entry(i)).await.unwrap();
        if i + 1 == 10 || i + 1 == N {
            log.sign_head().await.unwrap();
        }
    }
    let entries = log.page(-1, 1_000).await.unwrap();
    assert_eq!(entries.len() as u64, N);
    (log, entries)
}

fn trusted() -> TrustedKeys {
    signer().trusted()
}

/// What an attacker does.
#[derive(Debug, Clone, Copy)]
enum Tamper {
    /// Changes the text of an entry, leaving its stored leaf hash.
    Edit(u64),
    /// Changes the text and stores the matching leaf hash.
    EditAndRehash(u64),
    /// Deletes a row, leaving a gap.
    Delete(u64),
    /// Deletes a row and moves every later row down one place.
    DeleteAndRenumber(u64),
    /// Moves rows up one place and inserts a well-formed entry (right seq, right
    /// prev link, right leaf hash) in the gap.
    InsertCrafted(u64),
    /// Swaps two rows' positions.
    Swap(u64, u64),
    /// Deletes every row from this one on.
    TruncateFrom(u64),
    /// Rewrites every entry from this one on, recomputing every hash and link:
    /// only the signed heads can tell.
    RewriteSuffix(u64),
}

async fn apply(t: Tamper, raw: &Raw, entries: &[StoredEntry]) {
    let text = |s: u64| entries[s as usize].text.clone();
    match t {
        Tamper::Edit(s) => raw.set_entry(s, &text(s).replace("dr.", "dr.x"), None).await,
        Tamper::EditAndRehash(s) => {
            let t = text(s).replace("dr.", "dr.x");
            raw.set_entry(s, &t, Some(leaf_hash(t.as_bytes()))).await
        }
        Tamper::Delete(s) => raw.exec(&format!("DELETE FROM audit_entries WHERE seq = {s}")).await.unwrap(),
        Tamper::DeleteAndRenumber(s) => {
            raw.exec(&format!("DELETE FROM audit_entries WHERE seq = {s}")).await.unwrap();
            for from in s + 1..N {
                raw.move_row(from, from - 1).await;
            }
        }
        Tamper::InsertCrafted(s) => {
            for from in (s..N).rev() {
                raw.move_row(from, from + 1).await;
            }
            let prev = leaf_hash(text(s - 1).as_bytes());
            let forged = AuditEntry::place(
                NewEntry::new(Principal::new("mallory", Role::Clinician), EntryBody::Question { question: "forged".into(), reading: None, follows: None }),
                Seq(s),
                Some(prev),
                chrono::Utc::now(),
            );
            let t = entry_text(&forged);
            raw.insert_entry(s, "question", &t, leaf_hash(t.as_bytes())).await;
        }
        Tamper::Swap(a, b) => {
            raw.move_row(a, 1_000_000).await;
            raw.move_row(b, a).await;
            raw.move_row(1_000_000, b).await;
        }
        Tamper::TruncateFrom(s) => raw.exec(&format!("DELETE FROM audit_entries WHERE seq >= {s}")).await.unwrap(),
        Tamper::RewriteSuffix(s) => {
            let mut prev = (s > 0).then(|| leaf_hash(text(s - 1).as_bytes()));
            for seq in s..N {
                let mut entry: AuditEntry = serde_json::from_str(&text(seq)).unwrap();
                entry.principal.user = "mallory".into();
                entry.prev = prev;
                let t = entry_text(&entry);
                let leaf = leaf_hash(t.as_bytes());
                raw.set_entry(seq, &t, Some(leaf)).await;
                prev = Some(leaf);
            }
        }
    }
}

/// Tampers a fresh log and returns verify's report.
async fn tampered(backend: Backend, t: Tamper) -> audit_log::VerifyReport {
    let db = TestDb::new(backend).await;
    let (log, entries) = build(&db).await;
    let before = log.verify(&trusted()).await.unwrap();
    assert!(before.is_ok(), "{backend:?}: the untouched log must verify: {:?}", before.problems);
    let raw = db.raw().await;
    raw.disable_guards().await;
    apply(t, &raw, &entries).await;
    raw.close().await;
    let report = log.verify(&trusted()).await.unwrap();
    log.close().await;
    db.drop_db().await;
    report
}

async fn expect_named(t: Tamper, seq: u64, kinds: &[ProblemKind]) {
    for backend in backends() {
        let report = tampered(backend, t).await;
        assert!(!report.is_ok(), "{backend:?} {t:?}: not detected");
        assert_eq!(report.first_bad_entry(), Some(Seq(seq)), "{backend:?} {t:?}: {:#?}", report.problems);
        let first = report.first_problem().unwrap();
        assert!(kinds.contains(&first.kind), "{backend:?} {t:?}: first problem {first:?}");
        assert!(first.message.contains(&format!("#{seq}")), "{backend:?} {t:?}: message must name #{seq}: {first:?}");
    }
}

#[tokio::test]
async fn an_edited_entry_is_named() {
    expect_named(Tamper::Edit(7), 7, &[ProblemKind::Changed]).await;
}

#[tokio::test]
async fn an_edited_entry_with_a_recomputed_leaf_hash_is_named() {
    expect_named(Tamper::EditAndRehash(7), 7, &[ProblemKind::ChainBroken]).await;
    // The last entry has no successor to link to it: the signed head names the range.
    for backend in backends() {
        let report = tampered(backend, Tamper::EditAndRehash(N - 1)).await;
        assert!(report.problems.iter().any(|p| p.kind == ProblemKind::HeadRootMismatch && p.head_size == Some(N)));
        assert!(report.problems.iter().any(|p| p.message.contains(&format!("#10..#{}", N - 1))), "{:#?}", report.problems);
    }
}

#[tokio::test]
async fn a_deleted_entry_is_named() {
    expect_named(Tamper::Delete(7), 7, &[ProblemKind::Missing]).await;
    expect_named(Tamper::Delete(0), 0, &[ProblemKind::Missing]).await;
}

#[tokio::test]
async fn a_deleted_entry_with_renumbered_successors_is_named() {
    expect_named(Tamper::DeleteAndRenumber(7), 7, &[ProblemKind::Moved]).await;
}

#[tokio::test]
async fn an_inserted_entry_is_named() {
    expect_named(Tamper::InsertCrafted(7), 7, &[ProblemKind::Inserted, ProblemKind::ChainBroken]).await;
}

#[tokio::test]
async fn reordered_entries_are_named() {
    expect_named(Tamper::Swap(7, 12), 7, &[ProblemKind::Moved]).await;
}

#[tokio::test]
async fn a_truncated_tail_is_named_by_the_signed_head() {
    expect_named(Tamper::TruncateFrom(15), 15, &[ProblemKind::HeadBeyondLog]).await;
}

/// Rewriting a whole suffix consistently defeats the per-entry checks; the signed
/// heads over it still fail and bound where the change is.
#[tokio::test]
async fn a_consistently_rewritten_suffix_fails_the_signed_heads() {
    for backend in backends() {
        let report = tampered(backend, Tamper::RewriteSuffix(12)).await;
        assert!(!report.is_ok());
        let kinds: Vec<ProblemKind> = report.problems.iter().map(|p| p.kind).collect();
        assert!(kinds.contains(&ProblemKind::HeadRootMismatch), "{backend:?}: {kinds:?}");
        assert!(kinds.contains(&ProblemKind::HeadsInconsistent), "{backend:?}: {kinds:?}");
        let mismatch = report.problems.iter().find(|p| p.kind == ProblemKind::HeadRootMismatch).unwrap();
        assert_eq!(mismatch.head_size, Some(N));
        assert!(mismatch.message.contains("#10..#19"), "{mismatch:?}");
    }
}

/// Every position of an edit, a deletion and an insertion is named (SQLite: fast
/// enough to try them all).
#[tokio::test]
async fn every_position_is_named_on_sqlite() {
    for s in 0..N {
        for (t, kinds) in [
            (Tamper::Edit(s), &[ProblemKind::Changed][..]),
            (Tamper::Delete(s), &[ProblemKind::Missing, ProblemKind::HeadBeyondLog][..]),
        ] {
            let report = tampered(Backend::Sqlite, t).await;
            assert_eq!(report.first_bad_entry(), Some(Seq(s)), "{t:?}: {:#?}", report.problems);
            assert!(kinds.contains(&report.first_problem().unwrap().kind), "{t:?}");
        }
        if s > 0 {
            let report = tampered(Backend::Sqlite, Tamper::InsertCrafted(s)).await;
            assert_eq!(report.first_bad_entry(), Some(Seq(s)), "insert at {s}: {:#?}", report.problems);
        }
    }
}

/// A head signed by another key is reported even though its signature is valid,
/// and a head whose signature was altered is reported too.
#[tokio::test]
async fn forged_and_altered_heads_are_reported() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let (log, _) = build(&db).await;
        let mallory = AuditLog::open(&db.url)
            .await
            .unwrap()
            .with_signer(HeadSigner::from_seed([9; 32]))
            .with_policy(SigningPolicy::on_demand());
        mallory.sign_head().await.unwrap();
        let report = log.verify(&trusted()).await.unwrap();
        assert_eq!(report.problem_count, 1, "{backend:?}: {:#?}", report.problems);
        assert_eq!(report.problems[0].kind, ProblemKind::HeadUntrusted);

        let raw = db.raw().await;
        raw.disable_guards().await;
        let sig = "00".repeat(64);
        raw.exec(&format!("UPDATE audit_tree_heads SET signature = '{sig}' WHERE id = 1")).await.unwrap();
        raw.close().await;
        let report = log.verify(&trusted()).await.unwrap();
        assert!(report.problems.iter().any(|p| p.kind == ProblemKind::HeadSignature && p.head_size == Some(10)));
        log.close().await;
        mallory.close().await;
        db.drop_db().await;
    }
}

/// A follow-up question links the question before it in its conversation (place and
/// leaf hash). The link is optional: the fixture's entries carry none and verify beside
/// one that does; and it is under the chain like every byte of an entry, so pointing
/// it at another turn afterwards is named.
#[tokio::test]
async fn a_follow_up_link_is_under_the_chain() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let (log, entries) = build(&db).await;
        // Entry 18 is the fixture's last question.
        let link = TurnLink { seq: Seq(18), entry: leaf_hash(entries[18].text.as_bytes()), read_against: Some(Seq(18)) };
        let body = EntryBody::Question { question: "and the ESR?".into(), reading: None, follows: Some(link.clone()) };
        let who = Principal::new("dr.0", Role::Clinician);
        let seq = log.append(NewEntry::new(who, body).session("s6").patients(["p18"])).await.unwrap();
        log.sign_head().await.unwrap();
        assert!(log.verify(&trusted()).await.unwrap().is_ok(), "{backend:?}: old and linked entries verify together");
        let stored = log.entry(seq).await.unwrap().unwrap();
        let EntryBody::Question { follows, .. } = stored.parse().unwrap().body else { panic!("a question") };
        assert_eq!(follows, Some(link));
        let linked = log.entry(Seq(18)).await.unwrap().unwrap();
        assert_eq!(linked.computed_leaf_hash(), follows.unwrap().entry, "the link names the stored bytes");

        let raw = db.raw().await;
        raw.disable_guards().await;
        raw.set_entry(seq.0, &stored.text.replace("\"seq\":18", "\"seq\":15"), None).await;
        raw.close().await;
        let report = log.verify(&trusted()).await.unwrap();
        assert_eq!(report.first_bad_entry(), Some(seq), "{backend:?}: {:#?}", report.problems);
        assert_eq!(report.first_problem().unwrap().kind, ProblemKind::Changed);
        log.close().await;
        db.drop_db().await;
    }
}

/// The database itself refuses UPDATE and DELETE on the log's tables, and an
/// insert anywhere but at the end.
#[tokio::test]
async fn the_database_refuses_changes_to_the_log() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let (log, _) = build(&db).await;
        let raw = db.raw().await;
        for sql in [
            "UPDATE audit_entries SET entry = 'x' WHERE seq = 3",
            "DELETE FROM audit_entries WHERE seq = 3",
            "DELETE FROM audit_entries",
            "UPDATE audit_tree_heads SET size = 0",
            "DELETE FROM audit_tree_heads",
            "INSERT INTO audit_entries (seq, kind, entry, leaf_hash) SELECT 25, kind, entry, leaf_hash FROM audit_entries WHERE seq = 0",
        ] {
            let err = raw.exec(sql).await.expect_err(sql).to_string();
            assert!(err.contains("append-only"), "{backend:?} `{sql}`: {err}");
        }
        if backend == Backend::Postgres {
            let err = raw.exec("TRUNCATE audit_entries").await.expect_err("truncate").to_string();
            assert!(err.contains("append-only"), "{err}");
        }
        raw.close().await;
        assert!(log.verify(&trusted()).await.unwrap().is_ok());
        log.close().await;
        db.drop_db().await;
    }
}

/// On PostgreSQL the application connects as a role that is not the tables' owner
/// and holds only SELECT and INSERT: it can append, but UPDATE, DELETE, TRUNCATE
/// and disabling the triggers are all refused.
#[tokio::test]
async fn a_postgres_application_role_can_only_append() {
    let Some(admin) = common::postgres_admin_url() else { return };
    let db = TestDb::new(Backend::Postgres).await;
    // The owner (admin) migrates; the application role never does.
    let owner_log = db.log().await;
    owner_log.append(fixture_entry(0)).await.unwrap();
    let role = format!("rdt_audit_app_{}", std::process::id());
    let raw = db.raw().await;
    raw.exec(&format!("DROP ROLE IF EXISTS {role}")).await.ok();
    raw.exec(&format!("CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD 'app'")).await.unwrap();
    for sql in audit_log::postgres_append_only_grants(&role) {
        raw.exec(&sql).await.unwrap();
    }
    let app_url = common::with_user(&db.url, &role, "app");
    let app_log = AuditLog::open_unmigrated(&app_url).await.unwrap().with_signer(signer()).with_policy(SigningPolicy::on_demand());
    app_log.append(fixture_entry(1)).await.unwrap();
    app_log.sign_head().await.unwrap();

    let app_raw = Raw::Postgres(sqlx::PgPool::connect(&app_url).await.unwrap());
    for sql in [
        "UPDATE audit_entries SET entry = 'x' WHERE seq = 0",
        "DELETE FROM audit_entries WHERE seq = 0",
        "TRUNCATE audit_entries",
        "DELETE FROM audit_tree_heads",
        "ALTER TABLE audit_entries DISABLE TRIGGER USER",
        "DROP TRIGGER audit_entries_no_change ON audit_entries",
    ] {
        let err = app_raw.exec(sql).await.expect_err(sql).to_string();
        assert!(err.contains("permission denied") || err.contains("must be owner"), "`{sql}`: {err}");
    }
    app_raw.close().await;
    let report = app_log.verify(&trusted()).await.unwrap();
    assert!(report.is_ok() && report.size == 2, "{report:?}");
    app_log.close().await;
    owner_log.close().await;
    raw.close().await;
    db.drop_db().await;
    let admin_pool = sqlx::PgPool::connect(&admin).await.unwrap();
    sqlx::query(&format!("DROP ROLE IF EXISTS {role}")).execute(&admin_pool).await.unwrap();
    admin_pool.close().await;
}

/// The attack a database owner can make unnoticed without a witness: delete the tail
/// of the log together with the newest signed head, leaving a shorter log that is
/// consistent with the heads still stored. With the heads also written to a witness
/// file outside the database, verify fails and names the removed range.
#[tokio::test]
async fn truncating_the_tail_with_its_newest_head_fails_against_the_witness() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let witness = audit_log::HeadWitness::at(db.dir.path().join("witness").join(audit_log::WITNESS_FILE));
        let log = db.log().await.with_witness(witness.clone());
        for i in 0..N {
            log.append(fixture_entry(i)).await.unwrap();
            if i + 1 == 12 || i + 1 == N {
                log.sign_head().await.unwrap();
            }
        }
        assert_eq!(witness.heads().unwrap().len(), 2);
        assert!(log.verify(&trusted()).await.unwrap().is_ok());
        let raw = db.raw().await;
        raw.disable_guards().await;
        raw.exec("DELETE FROM audit_entries WHERE seq >= 12").await.unwrap();
        raw.exec(&format!("DELETE FROM audit_tree_heads WHERE size = {N}")).await.unwrap();
        raw.close().await;

        // Without the witness the shorter log is consistent with what the database holds.
        let blind = db.log().await;
        assert!(blind.verify(&trusted()).await.unwrap().is_ok(), "{backend:?}: the attack works without a witness");
        blind.close().await;

        let report = log.verify(&trusted()).await.unwrap();
        assert!(!report.is_ok(), "{backend:?}: truncation not detected");
        assert_eq!(report.witnessed_heads, 2);
        let problem = report.problems.iter().find(|p| p.kind == ProblemKind::HeadBeyondLog).expect("a head beyond the log");
        assert!(problem.message.contains("entries #12..#19 were removed"), "{backend:?}: {}", problem.message);
        log.close().await;
        db.drop_db().await;
    }
}

/// The timer's step signs only when entries came after the latest head.
#[tokio::test]
async fn sign_if_behind_signs_only_an_uncovered_tail() {
    for backend in backends() {
        let db = TestDb::new(backend).await;
        let log = db.log().await;
        assert!(log.sign_if_behind().await.unwrap().is_none(), "an empty log needs no head");
        log.append(fixture_entry(0)).await.unwrap();
        assert_eq!(log.sign_if_behind().await.unwrap().map(|h| h.head.size), Some(1));
        assert!(log.sign_if_behind().await.unwrap().is_none(), "already covered");
        log.close().await;
        db.drop_db().await;
    }
}
